# Back-pressure never loses records.  Part 1: tiny rings and offset
# trackers; every hit arrives and the offsets reach the end.  Part 2: a
# producer that can hold one record at a time stalls the worker for long
# enough that the consumer pauses its partitions, and resumes them later.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"
for ((i = 1; i <= 5000; i++)); do echo "{\"host\":\"h$i\",\"severity\":\"high\"}"; done |
    "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null

start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none -w 2 -X ring_size=2 -X inflight_per_partition=4 
wait_count "$hits" 5000 120
sleep 2
stop_kta kta
expect_eq "exit" 0 "$RC"
expect_eq "hits" 5000 "$(count "$hits")"
expect_eq "distinct" 5000 "$(consume "$hits" '%k\n' | sort -u | wc -l | tr -d ' ')"
total=0
for po in $(committed "$group" "$in"); do total=$((total + ${po#*:})); done
expect_eq "committed offsets sum to all records" 5000 "$total"

in2=$T-slow-events hits2=$T-slow-hits
topic "$in2"; topic "$hits2"
for ((i = 1; i <= 30; i++)); do echo "{\"host\":\"s$i\",\"severity\":\"high\"}"; done |
    "$KTA" produce -b "$B" -t "$in2" -k host 2>/dev/null
start_kta kta -v -t "$in2" -G "$group-slow" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits2" \
    -X dead_letter.topic="$dlq" --print none -w 1 -X ring_size=2 \
    -X queue.buffering.max.messages=1 -X linger.ms=200 -X input.buffer_bytes=1024 -X input.stall_pause_ms=300
wait_count "$hits2" 30 120
sleep 2
stop_kta kta
expect_eq "slow run exit" 0 "$RC"
expect_eq "slow run hits" 30 "$(consume "$hits2" '%k\n' | sort -u | wc -l | tr -d ' ')"
expect_eq "slow run committed" "0:30" "$(committed "$group-slow" "$in2")"
grep -q 'pausing all partitions' kta.err || fail "the consumer never paused: $(grep -v librdkafka kta.err | tail -5)"
grep -q 'resuming all partitions' kta.err || fail "the consumer never resumed"
ok "paused and resumed"
