# With tiny rings and offset trackers, kta must pause and resume its
# partitions instead of dropping records: every hit arrives, offsets reach
# the end.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"
for ((i = 1; i <= 5000; i++)); do echo "{\"host\":\"h$i\",\"severity\":\"high\"}"; done |
    "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null

start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none -w 2 -X ring_size=2 -X inflight_per_partition=4
wait_count "$hits" 5000 120
sleep 2
expect_eq "exit" 0 "$(stop_kta kta)"
expect_eq "hits" 5000 "$(count "$hits")"
expect_eq "distinct" 5000 "$(consume "$hits" '%k\n' | sort -u | wc -l | tr -d ' ')"
total=0
for po in $(committed "$group" "$in"); do total=$((total + ${po#*:})); done
expect_eq "committed offsets sum to all records" 5000 "$total"
