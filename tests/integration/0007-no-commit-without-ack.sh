# An input offset is committed only after every hit it produced is
# acknowledged.  Deleting the output topic under a running kta makes the
# next hit undeliverable: kta must stop with an error, and the committed
# offset must stay before that record, so a restart reads it again.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in"; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" -X dead_letter.topic="$dlq" --print none)

echo '{"host":"first","severity":"high"}' | "$KTA" produce -b "$B" -t "$in" 2>/dev/null
start_kta run1 "${args[@]}"
wait_count "$hits" 1
sleep 2                                   # the first record's offset is committed
expect_eq "first record committed" "0:1" "$(committed "$group" "$in")"

"$KAFKA" tool kafka-topics --bootstrap-server "$B" --delete --topic "$hits" >/dev/null
sleep 1
echo '{"host":"second","severity":"high"}' | "$KTA" produce -b "$B" -t "$in" 2>/dev/null
end=$((SECONDS + 60))
while kill -0 "$(cat run1.pid)" 2>/dev/null && ((SECONDS < end)); do sleep 0.5; done
stop_kta run1
expect_eq "exit status after an undeliverable hit" 1 "$RC"
grep -q "cannot deliver to topic '$hits'" run1.err || fail "no delivery error: $(grep -v librdkafka run1.err)"
ok "delivery error logged"
expect_eq "offset not moved past the undelivered hit" "0:1" "$(committed "$group" "$in")"

# With the topic back, a restart delivers the hit that was never acknowledged.
topic "$hits"
start_kta run2 "${args[@]}"
wait_count "$hits" 1
sleep 2
stop_kta run2
expect_eq "restart exit" 0 "$RC"
expect_eq "the lost hit arrives after restart" "second" "$(consume "$hits" '%s\n' | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["event"]["host"])')"
expect_eq "committed after restart" "0:2" "$(committed "$group" "$in")"
