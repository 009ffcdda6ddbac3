# What an SRE gets from `make install`: the installed binary, run with the
# installed /etc/kta/kta.yaml (in a DESTDIR), against the real broker.  Its
# relative rules.path resolves to the installed rules whatever the working
# directory; the one-shot flags -o beginning and -e read the topic once
# and exit; --metrics serves readiness meanwhile; kta eval -c with the same
# file finds exactly the hits kta run produced, and kta check -c names the
# ruleset version they carry.
. "$KTA_ROOT/tests/integration/lib.sh"

if [[ $KTA != "$KTA_ROOT/build/kta" ]]; then
    ok "skipped: this test installs the normal build (make install), not $KTA"
    exit 0
fi
root=$PWD/root
make -s -C "$KTA_ROOT" install DESTDIR="$root" >install.log 2>&1 || { cat install.log; fail "make install"; }
kta=$root/usr/local/bin/kta
conf=$root/usr/local/etc/kta/kta.yaml
[[ -x $kta && -f $conf ]] || fail "installed files missing: $(find "$root" -maxdepth 4 | head)"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"
"$KTA" produce --output events.jsonl --generate 2000 --seed 26 --malicious 0.05 2>/dev/null
"$KTA" produce -b "$B" -t "$in" events.jsonl 2>/dev/null

cd /                                   # the config's rules are not in the cwd
"$kta" check -c "$conf" >"$OLDPWD/check.out" 2>"$OLDPWD/check.err" || {
    cat "$OLDPWD/check.err"; fail "kta check -c installed kta.yaml"; }
"$kta" config --check -c "$conf" -b "$B" >/dev/null 2>"$OLDPWD/config.err" ||
    fail "config --check: $(cat "$OLDPWD/config.err")"
"$kta" eval -c "$conf" "$OLDPWD/events.jsonl" >"$OLDPWD/eval.jsonl" 2>/dev/null ||
    fail "kta eval -c installed kta.yaml"
cd "$OLDPWD"
ver=$(sed -n 's/^ruleset version \([0-9a-f]*\) .*/\1/p' check.out)
[[ ${#ver} == 12 ]] || fail "kta check printed no version: $(cat check.out)"
want=$(wc -l <eval.jsonl | tr -d ' ')
((want > 50)) || fail "only $want hits from the installed rules"

set +e
(cd / && timeout 120 "$kta" run -c "$conf" -b "$B" -t "$in" -G "$group" -o beginning -e \
    --metrics 127.0.0.1:0 -X output.topic="$hits" -X dead_letter.topic="$dlq") \
    >run.out 2>run.err &
pid=$!
set -e
end=$((SECONDS + 30))
until u=$(sed -n 's|.*metrics on http://\([^/]*\)/metrics.*|\1|p' run.err | head -1); [[ -n $u ]]; do
    ((SECONDS < end)) || fail "no metrics line: $(cat run.err)"
    sleep 0.1
done
curl -s "http://$u/healthz" >/dev/null || true       # it may already have exited (-e)
wait "$pid"; rc=$?
expect_eq "installed kta run -e exits by itself" 0 "$rc"
grep -q "every assigned partition is caught up" run.err || fail "no caught-up line: $(tail -5 run.err)"
grep -q "rules version $ver active" run.err || fail "run's version is not check's $ver: $(grep 'rules version' run.err)"
expect_eq "hits of the installed kta run = kta eval -c" "$want" "$(count "$hits")"
expect_eq "versions in the hits' headers" "$ver" \
    "$(consume "$hits" '%h\n' | sed -n 's/.*kta.ruleset.version=\([0-9a-f]*\).*/\1/p' | sort -u)"
python3 - "$ver" <<'PY' <(consume "$hits")
import json, sys
ver = sys.argv[1]
for line in open(sys.argv[2]):
    h = json.loads(line)
    assert h["kta"]["ruleset"] == ver and h["kta"]["version"], h["kta"]
PY
[[ $(grep -c '^[0-9T:.-]*Z kta: ' run.err) -gt 0 ]] || fail "run's log lines carry no time"
ok "installed kta: run -c /etc/kta/kta.yaml -o beginning -e, $want hits, version $ver"
