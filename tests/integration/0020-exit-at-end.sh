# input.exit_at_end: kta reads every assigned partition to its end (one of
# them empty), finishes and commits, and exits 0 by itself; a second run
# finds nothing new and exits at once; a third reads only what came since.
# The runs log with log.format=json: every stderr line is one JSON object
# with ts, level and msg.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits"
      -X dead_letter.topic="$dlq" --print none -X input.exit_at_end=true -X log.format=json
      -X commit_interval_ms=600000)

# Partitions 0 and 1 get records, partition 2 stays empty.
"$KTA" produce --output gen.jsonl --generate 300 --seed 20 --malicious 0.2 2>/dev/null
head -n 200 gen.jsonl | kcat -b "$B" -P -t "$in" -p 0
tail -n 100 gen.jsonl | kcat -b "$B" -P -t "$in" -p 1
want=$("$KTA" eval -r "$KTA_ROOT/rules" gen.jsonl 2>/dev/null | wc -l | tr -d ' ')

# run NAME: kta run until it exits by itself (at most 60 s); status in $RC.
run() {
    RC=0
    timeout 60 "$KTA" run -b "$B" "${args[@]}" >"$1.out" 2>"$1.err" || RC=$?
}

run run1
expect_eq "first run exits by itself with 0" 0 "$RC"
expect_eq "hits" "$want" "$(count "$hits")"
expect_eq "committed offsets (none for the empty partition)" "0:200 1:100" "$(committed "$group" "$in")"
grep -q 'processed 300 events' run1.err || fail "run1 summary: $(tail -3 run1.err)"
grep -q 'every assigned partition is caught up' run1.err || fail "run1: no caught-up line"
ok "first run read everything, committed and exited"

run run2
expect_eq "second run exit" 0 "$RC"
grep -q 'processed 0 events' run2.err || fail "second run re-read: $(tail -3 run2.err)"
expect_eq "hits after the second run" "$want" "$(count "$hits")"
ok "second run found nothing new"

echo '{"host": "late", "severity": "critical"}' | kcat -b "$B" -P -t "$in" -p 2
run run3
expect_eq "third run exit" 0 "$RC"
grep -q 'processed 1 events' run3.err || fail "third run: $(tail -3 run3.err)"
expect_eq "committed offsets after the third run" "0:200 1:100 2:1" "$(committed "$group" "$in")"

# Without exit_at_end kta keeps running at the end of its input.
RC=0
timeout 15 "$KTA" run -b "$B" "${args[@]/input.exit_at_end=true/input.exit_at_end=false}" \
    >run4.out 2>run4.err || RC=$?
expect_eq "without exit_at_end kta runs until stopped" 124 "$RC"

python3 - run1.err run2.err run3.err <<'PY'
import json, sys
n = 0
for f in sys.argv[1:]:
    for line in open(f, encoding="utf-8"):
        o = json.loads(line)
        assert set(o) >= {"ts", "level", "msg"}, o
        assert o["level"] in ("error", "warning", "info", "debug"), o
        assert o["ts"].endswith("Z") and o["ts"][10] == "T" and len(o["ts"]) == 24, o
        n += 1
assert n > 10, n
print(f"ok: {n} log lines, each one JSON object with ts, level and msg")
PY
