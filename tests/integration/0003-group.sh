# Two kta instances in one consumer group split the partitions and together
# emit every expected hit exactly once.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 4; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" -X dead_letter.topic="$dlq" --print none -w 1)

start_kta a "${args[@]}"
wait_log a 'assigned 4 partitions'
start_kta b "${args[@]}"
wait_log b 'assigned 2 partitions'
wait_log a 'assigned 2 partitions'

for ((i = 1; i <= 2000; i++)); do
    s=low; ((i % 4 == 0)) && s=high
    echo "{\"host\":\"h$i\",\"severity\":\"$s\"}"
done | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null

wait_count "$hits" 500
sleep 2
stop_kta a
expect_eq "a exit" 0 "$RC"
stop_kta b
expect_eq "b exit" 0 "$RC"
expect_eq "hits" 500 "$(count "$hits")"
expect_eq "distinct hits" 500 "$(consume "$hits" '%k\n' | sort -u | wc -l | tr -d ' ')"
na=$(sed -nE 's/.*processed ([0-9]+) events.*/\1/p' a.err)
nb=$(sed -nE 's/.*processed ([0-9]+) events.*/\1/p' b.err)
((na > 0 && nb > 0)) || fail "both instances should have worked: a=$na b=$nb"
expect_eq "events split between instances" 2000 "$((na + nb))"
