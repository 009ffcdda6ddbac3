# Routing hits: output.topic_by_level sends critical hits to a paging
# topic, a rule's output_topic sends its hits to its own topic (ahead of
# its level), every other hit goes to output.topic; each hit is written
# exactly once (oracle: kta eval over the same events), and carries kta's
# version, the ruleset version and output.fields.  A missing routed topic
# stops kta at start-up before it consumes anything; a reload bringing a
# rule whose output_topic does not exist is rejected (the old rules keep
# running) and accepted once the topic exists.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq pager=$T-pager own=$T-own late=$T-late group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"; topic "$pager" 2; topic "$own"

cat >rules.yml <<EOF
rules:
  - id: crit
    title: critical severity
    level: critical
    detection: {sel: {severity: critical}, condition: sel}
  - id: own
    title: special threat, its own topic
    level: critical
    output_topic: $own
    detection: {sel: {threat: special}, condition: sel}
  - id: high
    title: high severity
    level: high
    detection: {sel: {severity: high}, condition: sel}
EOF
# batch N: events numbered from N*10000, a few malformed lines among them.
batch() {
    python3 - "$1" <<'PY'
import json, random, sys
b = int(sys.argv[1]); rnd = random.Random(b)
for i in range(2000):
    if i % 97 == 0:
        print('{"host": "broken", ')
        continue
    print(json.dumps({"id": b * 10000 + i, "host": f"h{i % 7}",
                      "severity": rnd.choice(["low", "medium", "high", "critical"]),
                      "threat": rnd.choice(["special", "ordinary", "ordinary"])}))
PY
}
batch 1 >b1.jsonl
batch 2 >b2.jsonl

# A routed topic that does not exist: a clear error before consuming.
"$KTA" produce -b "$B" -t "$in" b1.jsonl 2>/dev/null
rc=0
timeout 60 "$KTA" run -b "$B" -t "$in" -G "$group-missing" -r rules.yml -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" -X output.topic_by_level.high="$T-nosuch" >missing.out 2>missing.err || rc=$?
expect_eq "missing routed topic: exit 1" 1 "$rc"
grep -qF "routed topic '$T-nosuch': no such topic (create it, or set output.topic_by_level.high)" missing.err ||
    fail "missing routed topic message: $(cat missing.err)"
sed 's/output_topic: .*/output_topic: '"$T-nosuch"'/' rules.yml >missing.yml
rc=0
timeout 60 "$KTA" run -b "$B" -t "$in" -G "$group-missing" -r missing.yml -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" >missing.out 2>missing.err || rc=$?
expect_eq "missing output_topic: exit 1" 1 "$rc"
grep -qF "rule own: output_topic '$T-nosuch': no such topic" missing.err ||
    fail "missing output_topic message: $(cat missing.err)"
expect_eq "nothing committed by the refused runs" "" "$(committed "$group-missing" "$in")"
ok "missing routed topics are refused before consuming"

args=(-t "$in" -G "$group" -r rules.yml -X output.topic="$hits" -X dead_letter.topic="$dlq"
      -X output.topic_by_level.critical="$pager" -X output.fields.environment=test
      -X 'output.fields.region=eu "1"' --print none -X rules.watch_interval_ms=0)
start_kta kta "${args[@]}"
"$KTA" eval -r rules.yml b1.jsonl >expected1.jsonl 2>/dev/null

# Expected count per topic from kta eval's hits and the routing rules.
route_counts() { # route_counts EVAL-HITS... -> "hits pager own late" counts
    python3 - "$hits" "$pager" "$own" "$late" "$@" <<'PY'
import json, sys
hits, pager, own, late = sys.argv[1:5]
n = {hits: 0, pager: 0, own: 0, late: 0}
for p in sys.argv[5:]:
    for l in open(p):
        h = json.loads(l)
        rid = h["rule"]["id"]
        t = own if rid == "own" else late if rid == "late" else pager if h["rule"]["level"] == "critical" else hits
        n[t] += 1
print(n[hits], n[pager], n[own], n[late])
PY
}
read -r nh np no _ < <(route_counts expected1.jsonl)
((nh > 100 && np > 100 && no > 100)) || fail "too few hits per topic: $nh $np $no"
wait_count "$hits" "$nh"; wait_count "$pager" "$np"; wait_count "$own" "$no"

# A reload that brings a rule routed to a topic that does not exist yet is
# rejected; once the topic exists, the same reload is taken.
cat >>rules.yml <<EOF
  - id: late
    title: a rule added later, its own topic
    level: low
    output_topic: $late
    detection: {sel: {host: h3, severity: low}, condition: sel}
EOF
kill -HUP "$(cat kta.pid)"
wait_log kta "rules reload (SIGHUP) rejected, version .* keeps running: rule late: output_topic '$late': no such topic"
ok "reload with a missing output_topic rejected"
topic "$late"
kill -HUP "$(cat kta.pid)"
wait_log kta "active (SIGHUP; was "
"$KTA" produce -b "$B" -t "$in" b2.jsonl 2>/dev/null
"$KTA" eval -r rules.yml b2.jsonl >expected2.jsonl 2>/dev/null
read -r nh np no nl < <(route_counts expected1.jsonl expected2.jsonl)
((nl > 10)) || fail "too few hits of the late rule: $nl"
wait_count "$hits" "$nh"; wait_count "$pager" "$np"; wait_count "$own" "$no"; wait_count "$late" "$nl"
sleep 2                          # a commit interval, and any stray duplicate
stop_kta kta
expect_eq "exit status after SIGTERM" 0 "$RC"

for t in "$hits" "$pager" "$own" "$late"; do consume "$t" >"$t.jsonl"; done
consume "$pager" '%h\n' >pager.headers
python3 - "$hits" "$pager" "$own" "$late" "$("$KTA" --version)" <<'PY'
import collections, hashlib, json, struct, sys
hits, pager, own, late = sys.argv[1:5]
version = sys.argv[5].split()[1]
def route(h):
    rid = h["rule"]["id"]
    return own if rid == "own" else late if rid == "late" else pager if h["rule"]["level"] == "critical" else hits
want = collections.Counter()
for p in ("expected1.jsonl", "expected2.jsonl"):
    for l in open(p):
        h = json.loads(l)
        want[(route(h), h["rule"]["id"], h["event"]["id"])] += 1
got = collections.Counter()
rulesets = collections.defaultdict(set)
for t in (hits, pager, own, late):
    for l in open(t + ".jsonl"):
        h = json.loads(l)
        got[(t, h["rule"]["id"], h["event"]["id"])] += 1
        assert h["kta"]["version"] == version, h["kta"]
        assert h["environment"] == "test" and h["region"] == 'eu "1"', h
        rulesets[h["event"]["id"] // 10000].add(h["kta"]["ruleset"])
missing, extra = want - got, got - want
dups = sum(v - 1 for v in got.values() if v > 1)
print(f"expected {sum(want.values())} hits, got {sum(got.values())}: {sum(missing.values())} missing, "
      f"{sum(extra.values())} unexpected or misrouted, {dups} duplicates")
assert not missing and not extra and not dups
assert len(rulesets[1]) == 1 and len(rulesets[2]) == 1 and rulesets[1] != rulesets[2], rulesets
# The second ruleset's version is the digest of the edited file.
d = open("rules.yml", "rb").read()
assert rulesets[2] == {hashlib.sha256(b"r" + struct.pack(">Q", len(d)) + d).hexdigest()[:12]}, rulesets
print("ok: each hit once, in its routed topic, with kta's and the ruleset's versions and output.fields")
PY
grep -q "kta.rule.level=critical" pager.headers || fail "pager hits lack their headers"
ok "routed hits keep their headers"
bad=$(grep -c broken b1.jsonl b2.jsonl | awk -F: '{ s += $2 } END { print s }')
expect_eq "malformed records still go to the dead-letter topic" "$bad" "$(count "$dlq")"
total=0
for po in $(committed "$group" "$in"); do total=$((total + ${po#*:})); done
expect_eq "committed to the end" 4000 "$total"
