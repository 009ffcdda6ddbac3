# Backtest: `kta eval -t TOPIC` reads a topic range directly (no consumer
# group) and finds exactly the hits `kta eval` finds on a file of the same
# events; -o @START / --until @END bound it by record time; nothing is
# committed (no consumer group appears); a missing topic or a bad -o /
# --until is a clear error.
. "$KTA_ROOT/tests/integration/lib.sh"

one=$T-one three=$T-three
topic "$one" 1; topic "$three" 3
now_ms() { python3 -c 'import time; print(int(time.time() * 1000))'; }
groups() { "$KAFKA" tool kafka-consumer-groups --bootstrap-server "$B" --list 2>/dev/null | sort; }
groups >groups.before

# Three batches with a gap between them in record time.
cp "$KTA_ROOT/tests/data/seed-events.jsonl" b1.jsonl
python3 "$KTA_ROOT/scripts/gen-jsonl.py" events 3000 --seed 31 --malicious 0.1 --malformed 0.02 >b2.jsonl
python3 "$KTA_ROOT/scripts/gen-jsonl.py" events 500 --seed 32 --malicious 0.1 >b3.jsonl
grep -v '^[[:space:]]*$' b1.jsonl >b1c.jsonl; mv b1c.jsonl b1.jsonl
# Keyed by host: without a key librdkafka's sticky partitioner may put a
# whole batch on one partition of $three (CI saw none on partition 0).
produce() { for t in "$one" "$three"; do "$KTA" produce -b "$B" -t "$t" -k host "$1" 2>/dev/null; done; }
produce b1.jsonl; sleep 0.2; t1=$(now_ms); sleep 0.2
produce b2.jsonl; sleep 0.2; t2=$(now_ms); sleep 0.2
produce b3.jsonl
cat b1.jsonl b2.jsonl b3.jsonl >all.jsonl
N=$(grep -c . all.jsonl)

R=(-r "$KTA_ROOT/rules")
"$KTA" eval "${R[@]}" all.jsonl >file.jsonl 2>file.err
"$KTA" eval "${R[@]}" b2.jsonl >file2.jsonl 2>/dev/null
"$KTA" eval "${R[@]}" b3.jsonl >file3.jsonl 2>/dev/null
"$KTA" eval -b "$B" -t "$one" "${R[@]}" >bt.jsonl 2>bt.err || { cat bt.err >&2; fail "backtest exit status"; }
"$KTA" eval -b "$B" -t "$three" "${R[@]}" >bt3.jsonl 2>bt3.err || fail "backtest of 3 partitions exit status"
"$KTA" eval -b "$B" -t "$one" -o "@$t1" --until "@$t2" "${R[@]}" >bt2.jsonl 2>bt2.err || fail "backtest @START..@END"
"$KTA" eval -b "$B" -t "$three" -o "@$t2" --until end "${R[@]}" >bt33.jsonl 2>/dev/null || fail "backtest @START..end"
expect_eq "backtest summary counts every record" \
    "$(grep -o 'kta: eval: [0-9]* events, [0-9]* hits, [0-9]* malformed' file.err)" \
    "$(grep -o 'kta: eval: [0-9]* events, [0-9]* hits, [0-9]* malformed' bt.err)"
grep -q "kta: eval: $N events" bt.err || fail "backtest: $N events expected: $(tail -1 bt.err)"
ok "backtest read all $N records"
grep -q "^$one/0/[0-9]*: malformed event (" bt.err || fail "malformed records named topic/partition/offset"
ok "malformed records named by topic/partition/offset"

python3 - "$one" "$three" <<'PY'
import collections, json, sys
one, three = sys.argv[1], sys.argv[2]
def load(p):
    return [json.loads(l) for l in open(p, encoding="utf-8")]
# Sources differ by nature (file/line, topic/partition/offset), and so do a
# correlation's first/last: without a time field in the event, the record
# timestamp is its time (a file has none).
def key(h):
    h = dict(h); h.pop("detected_at", None); h.pop("source", None)
    if "correlation" in h:
        h["correlation"] = {k: v for k, v in h["correlation"].items() if k not in ("first", "last", "sources")}
    return json.dumps(h, sort_keys=True)
def srcs(h):
    ss = [h["source"]] if "source" in h else h["correlation"]["sources"]
    return [{k: v for k, v in s.items() if k != "timestamp"} for s in ss]
def base(hs):
    return collections.Counter(key(h) for h in hs if "correlation" not in h)
f, bt, bt3 = load("file.jsonl"), load("bt.jsonl"), load("bt3.jsonl")
assert len(f) > 100, len(f)
# One partition: the same hits in the same order, correlations included.
assert [key(h) for h in f] == [key(h) for h in bt], "backtest hits differ from kta eval's"
assert any("correlation" in h for h in bt), "no correlation hit: the range should hold some"
# Sources are topic/partition/offset (and the record's timestamp): line L
# of the file is offset L - 1.
for x, y in zip(f, bt):
    assert [{"topic": one, "partition": 0, "offset": s["line"] - 1} for s in srcs(x)] == srcs(y), (x, y)
# Three partitions: the same base hits (partitions interleave).
assert base(f) == base(bt3), "3-partition backtest base hits differ"
assert {h["source"]["partition"] for h in bt3 if "correlation" not in h} == {0, 1, 2}
# Time bounds: exactly the middle batch, exactly the last one.
assert base(load("bt2.jsonl")) == base(load("file2.jsonl")) and base(load("file2.jsonl")), "@START..@END"
assert base(load("bt33.jsonl")) == base(load("file3.jsonl")) and base(load("file3.jsonl")), "@START..end"
print("ok: backtest hits equal kta eval's (order, correlations, sources, time bounds)")
PY

# Nothing committed: no consumer group appeared.
groups >groups.after
cmp -s groups.before groups.after || { diff groups.before groups.after >&2; fail "a consumer group appeared"; }
ok "no consumer group after the backtests"

# Errors.
set +e
"$KTA" eval -b "$B" -t "$T-nosuch" "${R[@]}" >/dev/null 2>err; rc=$?
set -e
expect_eq "missing topic exit status" 1 "$rc"
grep -q "topic .$T-nosuch.: no such topic" err || { cat err >&2; fail "missing topic message"; }
ok "missing topic named"
set +e
"$KTA" eval -b "$B" -t "$one" -o "@soon" "${R[@]}" >/dev/null 2>err; rc=$?
set -e
expect_eq "bad -o exit status" 2 "$rc"
set +e
"$KTA" eval -b "$B" -t "$one" --until "tomorrow" "${R[@]}" >/dev/null 2>err; rc=$?
set -e
expect_eq "bad --until exit status" 2 "$rc"
grep -q "until takes end or @TIMESTAMP" err || fail "bad --until message: $(cat err)"
ok "bad --until explained"
set +e
"$KTA" eval -t "$one" "${R[@]}" all.jsonl >/dev/null 2>err; rc=$?
set -e
expect_eq "backtest with a FILE: usage error" 2 "$rc"
