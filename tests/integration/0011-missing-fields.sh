# Events without the console's fields (host, threat) or the key field:
# kta run, with the default console output, prints "Unknown" like the seed
# did and produces hits without a key.  (kta used to crash here.)
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in"; topic "$hits"; topic "$dlq"
printf '%s\n' '{"severity":"high"}' '{"severity":"critical","host":17}' |
    "$KTA" produce -b "$B" -t "$in" 2>/dev/null
start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq"
wait_count "$hits" 2
sleep 1.5
stop_kta kta
expect_eq "exit" 0 "$RC"
expect_eq "console" "[ALERT] Host: Unknown | Threat: Unknown | Severity: HIGH | Rule: seed-severity-high
[ALERT] Host: 17 | Threat: Unknown | Severity: CRITICAL | Rule: seed-severity-critical" "$(cat kta.out)"
expect_eq "keys (none, then the number as text)" "NULL
17" "$(kcat -b "$B" -C -t "$hits" -e -o beginning -q -Z -f '%k\n')"
