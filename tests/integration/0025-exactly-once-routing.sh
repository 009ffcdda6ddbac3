# processing.guarantee: exactly_once with routed hits: one transaction
# spans output.topic, the topics of output.topic_by_level and a rule's
# output_topic.  kta is killed with SIGKILL twice mid-stream, then runs to
# the end; a read_committed reader of each topic must see every hit routed
# there exactly once (oracle: kta eval over the same events) and none
# elsewhere.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq crit=$T-critical high=$T-high own=$T-own group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"; topic "$crit"; topic "$high" 2; topic "$own"
N=40000
"$KTA" produce -b "$B" -t "$in" --generate "$N" --seed 25 --malicious 0.05 2>/dev/null
# The default rules, and one more with its own topic (its hits would
# otherwise go by level).
cp -r "$KTA_ROOT/rules" rules
cat >rules/own.yml <<EOF
id: own-topic
title: a rule with its own topic
level: high
output_topic: $own
detection: {sel: {severity: critical}, condition: sel}
EOF
args=(-t "$in" -G "$group" -r rules -X output.topic="$hits" -X dead_letter.topic="$dlq"
      -X output.topic_by_level.critical="$crit" -X output.topic_by_level.high="$high"
      --print none -X processing.guarantee=exactly_once -X commit_interval_ms=200
      -X transactional.id="$T-kta")

kill_runs 2 'assigned 3 partitions' "${args[@]}"
start_kta final "${args[@]}"
wait_committed "$group" "$in" "$N" 120
stop_kta final
expect_eq "final exit" 0 "$RC"

consume "$in" >events.jsonl
"$KTA" eval -r rules events.jsonl >expected.jsonl 2>/dev/null
for t in "$hits" "$crit" "$high" "$own"; do
    kcat -b "$B" -C -t "$t" -e -o beginning -q -X isolation.level=read_committed >"$t.jsonl"
    kcat -b "$B" -C -t "$t" -e -o beginning -q -X isolation.level=read_uncommitted >"$t.all"
done
python3 - "$hits" "$crit" "$high" "$own" <<'PY'
import collections, json, sys
hits, crit, high, own = sys.argv[1:5]
def route(h):
    if h["rule"]["id"] == "own-topic":
        return own
    return {"critical": crit, "high": high}.get(h["rule"]["level"], hits)
# Single-event hits (correlation hits: tests/integration/0028).
want = collections.Counter((route(h), h["rule"]["id"], h["event"]["ts"])
                           for h in map(json.loads, open("expected.jsonl")) if "event" in h)
got, raw = collections.Counter(), 0
for t in (hits, crit, high, own):
    got.update((t, h["rule"]["id"], h["event"]["ts"]) for h in map(json.loads, open(t + ".jsonl"))
               if "event" in h)
    raw += sum(1 for h in map(json.loads, open(t + ".all")) if "event" in h)
per = collections.Counter(t for t, _, _ in want.elements())
assert all(per[t] > 50 for t in (hits, crit, high, own)), f"too few hits per topic: {per}"
missing, extra = want - got, got - want
dups = sum(v - 1 for v in got.values() if v > 1)
print(f"expected {sum(want.values())} hits ({dict(per)}); read_committed saw {sum(got.values())}: "
      f"{sum(missing.values())} missing, {dups} duplicates, {sum(extra.values())} unexpected or "
      f"misrouted; {raw - sum(got.values())} records of aborted transactions left out")
assert not missing and not dups and not extra
PY
ok "exactly once across routed topics"
