# processing.guarantee: exactly_once.  kta is killed with SIGKILL three
# times while it works through a stream, then runs to the end; a
# read_committed reader of matched_hits must see every expected hit exactly
# once (oracle: kta eval over the same events), and the committed offsets
# reach the end.  At-least-once would show duplicates here.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"
N=60000
"$KTA" produce -b "$B" -t "$in" --generate "$N" --seed 9 --malicious 0.05 2>/dev/null
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits" -X dead_letter.topic="$dlq"
      --print none -X processing.guarantee=exactly_once -X commit_interval_ms=200 -X transactional.id="$T-kta")

kill_runs 3 'assigned 3 partitions' "${args[@]}"
start_kta final "${args[@]}"
wait_committed "$group" "$in" "$N" 120
stop_kta final
expect_eq "final exit" 0 "$RC"

consume "$in" >events.jsonl
"$KTA" eval -r "$KTA_ROOT/rules" events.jsonl >expected.jsonl
kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=read_committed >got.jsonl
kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=read_uncommitted >all.jsonl
python3 - <<'PY'
import json, collections
def keys(path):   # the hits of single events (correlation hits: tests/integration/0028)
    return collections.Counter((h["rule"]["id"], h["event"]["ts"]) for h in map(json.loads, open(path))
                               if "event" in h)
want, got, raw = keys("expected.jsonl"), keys("got.jsonl"), keys("all.jsonl")
assert sum(want.values()) > 1000, "too few expected hits for a meaningful test"
missing = want - got
dups = sum(v - 1 for v in got.values() if v > 1)
extra = got - want
print(f"expected {sum(want.values())} hits; read_committed saw {sum(got.values())}: "
      f"{sum(missing.values())} missing, {dups} duplicates, {sum(extra.values())} unexpected; "
      f"{sum(raw.values()) - sum(got.values())} records of aborted transactions left out")
assert not missing and not dups and not extra
PY
