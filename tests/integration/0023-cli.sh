# The one CLI against a real broker: kta produce checks the brokers and
# the topic before sending (fast, one clear line, exit 1) and honours
# startup_timeout_ms and -c; kta run's exit codes (2 for configuration,
# 1 for what the brokers say) and config --check with a broker's settings.
. "$KTA_ROOT/tests/integration/lib.sh"

topic "$T-events"; topic "$T-hits"; topic "$T-dlq"
rules=$KTA_ROOT/rules/seed.yaml

# produce to an existing topic: every record acknowledged
"$KTA" produce -b "$B" -t "$T-events" "$KTA_ROOT/tests/data/seed-events.jsonl" 2>err ||
    fail "produce to $T-events: $(cat err)"
wait_count "$T-events" 4 30
ok "produce sends to an existing topic"

# produce to a missing topic: refused before sending, quickly
start=$SECONDS rc=0
timeout 30 "$KTA" produce -b "$B" -t "$T-nope" "$KTA_ROOT/tests/data/seed-events.jsonl" 2>err || rc=$?
expect_eq "produce to a missing topic: exit" 1 "$rc"
grep -qF "kta: error: produce: topic '$T-nope': no such topic" err || fail "message: $(cat err)"
ok "produce to a missing topic: clear message"
((SECONDS - start < 8)) || fail "produce to a missing topic took $((SECONDS - start)) s"
ok "produce to a missing topic fails fast"
[[ $(wc -l <err) -eq 1 ]] || fail "one line expected, got: $(cat err)"
ok "produce to a missing topic: one line"

# -c: the kafka: properties of a kta.yaml (relative paths aside)
printf 'kafka:\n  bootstrap.servers: %s\n' "$B" >kta.yaml
"$KTA" produce -c kta.yaml -t "$T-events" "$KTA_ROOT/tests/data/seed-events.jsonl" 2>err ||
    fail "produce -c: $(cat err)"
wait_count "$T-events" 8 30
ok "produce -c takes the brokers from kta.yaml"
KTA_CONFIG=kta.yaml "$KTA" produce -t "$T-events" "$KTA_ROOT/tests/data/seed-events.jsonl" 2>err ||
    fail "produce with KTA_CONFIG: $(cat err)"
wait_count "$T-events" 12 30
ok "produce reads the default configuration (KTA_CONFIG)"

# run: configuration errors exit 2 at once, broker-side ones 1
args=(-t "$T-events" -X output.topic="$T-hits" -X dead_letter.topic="$T-dlq" -G "$T-g")
rc=0; timeout 30 "$KTA" run -b "$B" "${args[@]}" -r "$rules" -X acks=banana 2>err || rc=$?
expect_eq "run with a bad librdkafka property: exit" 2 "$rc"
rc=0; timeout 30 "$KTA" run -b "$B" "${args[@]}" -r "$rules" -X bootstrap.server=x 2>err || rc=$?
expect_eq "run with a misspelt property: exit" 2 "$rc"
grep -qF "(did you mean 'bootstrap.servers'?)" err || fail "no suggestion: $(cat err)"
ok "run: did you mean bootstrap.servers"
rc=0; timeout 30 "$KTA" run -b "$B" -t "$T-missing" -X output.topic="$T-hits" \
    -X dead_letter.topic="$T-dlq" -r "$rules" 2>err || rc=$?
expect_eq "run with a missing input topic: exit" 1 "$rc"
rc=0; "$KTA" config --check -b "$B" "${args[@]}" -r "$rules" 2>err || rc=$?
expect_eq "config --check of a working configuration: exit" 0 "$rc"
