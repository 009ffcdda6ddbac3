# input.reset_offsets replays once per process: a rebalance (a second
# member joining) after the replay resumes from the offsets committed since
# instead of replaying again, and the member that joins without the option
# starts at the group's commits.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits"
      -X dead_letter.topic="$dlq" --print none)
gen() { for ((i = $1; i <= $2; i++)); do echo "{\"host\":\"h$i\",\"severity\":\"critical\",\"n\":$i}"; done; }

gen 1 20 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
start_kta first "${args[@]}"
wait_count "$hits" 20
stop_kta first
expect_eq "first run exit" 0 "$RC"

# a: replays both partitions once.
start_kta a "${args[@]}" -X input.start_offset=beginning -X input.reset_offsets=true
wait_count "$hits" 40
sleep 2
expect_eq "the replay re-emits every hit once" 40 "$(count "$hits")"
expect_eq "one warning per partition" 2 "$(grep -c 're-reading re-emits hits' a.err)"

# b joins: the group rebalances, a keeps one partition and must not replay it.
start_kta b "${args[@]}"
wait_log b "assigned 1 partition"
wait_log a "assigned 1 partition"
sleep 3
expect_eq "no second replay after the rebalance" 40 "$(count "$hits")"
expect_eq "still one warning per partition" 2 "$(grep -c 're-reading re-emits hits' a.err)"

gen 21 24 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
wait_count "$hits" 44
sleep 2
stop_kta b
expect_eq "b exit" 0 "$RC"
stop_kta a
expect_eq "a exit" 0 "$RC"
expect_eq "new records once each" 44 "$(count "$hits")"
expect_eq "every event hit twice at most" 0 "$(consume "$hits" '%k\n' | sort | uniq -c | awk '$1 > 2' | wc -l | tr -d ' ')"
