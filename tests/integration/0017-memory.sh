# Memory with a large ruleset: compiling it (Hyperscan's compiler above all)
# frees far more than it keeps, and kta hands that back to the system
# before its threads start, so the resident set after start-up is well
# below the load's peak.  A reload does the same, and idle workers let go
# of the replaced ruleset without waiting for traffic, so the resident set
# comes back to where it was.  With the Sigma corpus beside the checkout
# (as `make bench` uses it), the peak of `kta run` stays under 128 MiB.
. "$KTA_ROOT/tests/integration/lib.sh"

# A sanitizer build has its own allocator and shadow memory: the numbers
# say nothing about kta's.
if [[ $KTA == */san-* ]]; then
    echo "skip: $KTA is a sanitizer build (memory figures do not apply)"
    exit 0
fi

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"

sigma=$KTA_ROOT/../shared/sigma/rules
if [[ -d $sigma ]]; then
    rules=(-r "$sigma" -m "$KTA_ROOT/rules/fieldmaps/sysmon.fieldmap" -X rules.on_error=skip)
else
    # About as many rules and literals as the corpus: what the compile
    # throws away is of the same order.
    mkdir rules
    python3 - <<'PY'
import random
rnd = random.Random(16)
word = lambda: "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rnd.randint(6, 30)))
for i in range(3000):
    vals = "".join("      - '%s'\n" % word() for _ in range(7))
    with open("rules/r%04d.yml" % i, "w") as f:
        f.write("id: gen-%d\ntitle: generated %d\nlevel: low\ndetection:\n  sel:\n"
                "    CommandLine|contains:\n%s  condition: sel\n" % (i, i, vals))
PY
    rules=(-r rules)
fi

N=20000
"$KTA" produce -b "$B" -t "$in" --generate "$N" --schema sysmon --seed 16 >/dev/null 2>&1 ||
    fail "producer failed"

start_kta kta -t "$in" -G "$group" "${rules[@]}" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" -X rules.watch_interval_ms=0 -X stats_interval_ms=300 \
    --print none -w 2
pid=$(cat kta.pid)
status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status"; }   # kB

wait_log kta 'consuming '
hwm=$(status VmHWM) rss0=$(status VmRSS)
echo "after start-up: peak $hwm kB, resident $rss0 kB"
((rss0 * 4 < hwm * 3)) || fail "resident $rss0 kB after start-up is near the load's peak $hwm kB"
ok "the compile's garbage went back to the system"

wait_log kta "stats: $N events" 120
sleep 1
rss1=$(status VmRSS) hwm=$(status VmHWM)
if [[ -d $sigma ]]; then
    echo "peak with the Sigma corpus, $N events: $hwm kB"
    ((hwm < 128 * 1024)) || fail "peak $hwm kB with the Sigma corpus, over 128 MiB"
    ok "peak under 128 MiB with the Sigma corpus"
fi
kill -HUP "$pid"
wait_log kta 'active (SIGHUP' 60
sleep 3                          # past the trim once the workers left version 1
rss2=$(status VmRSS)
echo "idle before the reload: $rss1 kB, after: $rss2 kB"
((rss2 * 4 < rss1 * 5)) || fail "resident grew from $rss1 kB to $rss2 kB across an idle reload"
ok "an idle reload frees the replaced ruleset"

stop_kta kta
expect_eq "exit" 0 "$RC"
