# A restarted kta resumes after the committed offset: the second run emits
# hits only for events produced after the first run stopped.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" -X dead_letter.topic="$dlq" --print none)

gen() { # gen FROM TO: one critical event per number
    for ((i = $1; i <= $2; i++)); do echo "{\"host\":\"h$i\",\"severity\":\"critical\",\"n\":$i}"; done
}
gen 1 200 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
start_kta run1 "${args[@]}"
wait_count "$hits" 200
stop_kta run1
expect_eq "first run exit" 0 "$RC"

gen 201 300 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
start_kta run2 "${args[@]}"
wait_count "$hits" 300
sleep 2
stop_kta run2
expect_eq "second run exit" 0 "$RC"
expect_eq "hits after restart" 300 "$(count "$hits")"
expect_eq "no event emitted twice" 300 "$(consume "$hits" '%k\n' | sort -u | wc -l | tr -d ' ')"
grep -q 'processed 100 events' run2.err || fail "second run re-read committed events: $(cat run2.err)"
ok "second run read only the new events"
