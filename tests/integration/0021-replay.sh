# input.start_offset / input.reset_offsets (kcat's -o): a reset replays a
# group's records once and warns that their hits are emitted again; without
# the reset a group's commits win; on a fresh group end, N, -N and @MS start
# at the right record.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events dlq=$T-dlq
topic "$in"; topic "$dlq"
for h in reset end ts tail abs; do topic "$T-hits-$h"; done

gen() { # gen FROM TO: one critical event per number, keyed h<number>
    for ((i = $1; i <= $2; i++)); do echo "{\"host\":\"h$i\",\"severity\":\"critical\",\"n\":$i}"; done
}
run_args() { # run_args GROUP HITS-TOPIC
    echo -t "$in" -G "$1" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$2" \
        -X dead_letter.topic="$dlq" --print none
}
keys() { consume "$1" '%k\n' | sort -V | tr '\n' ' ' | sed 's/ $//'; }

gen 1 10 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
sleep 1.5
ts=$(($(date +%s%N) / 1000000))   # between record 10 and record 11
sleep 1.5

# A group processes records 1-10 and commits them.
hits=$T-hits-reset
start_kta run1 $(run_args "$T-g1" "$hits")
wait_count "$hits" 10
stop_kta run1
expect_eq "first run exit" 0 "$RC"

# The same group again with a reset to the beginning: everything is read
# again, with a warning saying so.
start_kta run2 $(run_args "$T-g1" "$hits") -X input.start_offset=beginning -X input.reset_offsets=true
wait_count "$hits" 20
sleep 1
stop_kta run2
expect_eq "reset run exit" 0 "$RC"
expect_eq "reset re-emits every hit once more" 20 "$(count "$hits")"
grep -q 're-reading re-emits hits' run2.err || fail "no re-read warning: $(cat run2.err)"
grep -q 'moves back from the group.s committed offset 10 to 0: 10 records' run2.err ||
    fail "warning does not say how far: $(cat run2.err)"
ok "the reset warns that hits are emitted again"
expect_eq "the reset run committed where it stopped" "0:10" "$(committed "$T-g1" "$in")"

gen 11 13 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null

# start_offset without reset_offsets: the group's commits win.
start_kta run3 $(run_args "$T-g1" "$hits") -X input.start_offset=beginning
wait_count "$hits" 23
sleep 2
stop_kta run3
expect_eq "no reset: only the new records" 23 "$(count "$hits")"
grep -q 'processed 3 events' run3.err || fail "run3 re-read: $(cat run3.err)"
ok "start_offset leaves a group with commits alone"

# Fresh groups: end sees only records produced after the assignment.
hits=$T-hits-end
start_kta end $(run_args "$T-g-end" "$hits") -X input.start_offset=end
wait_log end "starting at offset 13 (input.start_offset=end)"
gen 14 15 | "$KTA" produce -b "$B" -t "$in" -k host 2>/dev/null
wait_count "$hits" 2
sleep 2
stop_kta end
expect_eq "end: only new records" "h14 h15" "$(keys "$hits")"

# @MS: the first record at or after the timestamp (record 11, offset 10).
hits=$T-hits-ts
start_kta ts $(run_args "$T-g-ts" "$hits") -X input.start_offset="@$ts"
wait_count "$hits" 5
sleep 2
stop_kta ts
expect_eq "@timestamp starts at the first later record" "h11 h12 h13 h14 h15" "$(keys "$hits")"

# -N: the last N records.
hits=$T-hits-tail
start_kta tail $(run_args "$T-g-tail" "$hits") -X input.start_offset=-3
wait_count "$hits" 3
sleep 2
stop_kta tail
expect_eq "-3: the last three records" "h13 h14 h15" "$(keys "$hits")"

# N: from that offset (record N+1); past the end: the end, not auto.offset.reset.
hits=$T-hits-abs
start_kta abs $(run_args "$T-g-abs" "$hits") -X input.start_offset=12
wait_count "$hits" 3
sleep 2
stop_kta abs
expect_eq "offset 12: records 13 and later" "h13 h14 h15" "$(keys "$hits")"
start_kta abs2 $(run_args "$T-g-abs2" "$hits") -X input.start_offset=1000
wait_log abs2 "starting at offset 15 (input.start_offset=1000)"
sleep 2
stop_kta abs2
expect_eq "an offset past the end starts at the end" 3 "$(count "$hits")"
