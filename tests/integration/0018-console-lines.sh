# Console lines reach a pipe or file as they happen, one whole line at a
# time: under systemd or `kta run | tee` stdout is not a terminal, and
# lines used to sit in a 4 KiB stdio buffer until exit (issue #10).  Two
# workers print concurrently; every line must arrive whole while kta is
# still running.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-threat-events hits=$T-matched_hits dlq=$T-threat-events.dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"

start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -w 2 \
    -X output.topic="$hits" -X dead_letter.topic="$dlq" --print all
wait_log kta 'consuming '
for _ in 1 2 3 4 5; do cat "$KTA_ROOT/tests/data/seed-events.jsonl"; done |
    "$KTA" produce -b "$B" -t "$in" 2>/dev/null
wait_count "$hits" 15

end=$((SECONDS + 30))
while (( $(grep -c '' kta.out) < 20 )); do
    kill -0 "$(cat kta.pid)" 2>/dev/null || fail "kta exited"
    ((SECONDS < end)) || fail "only $(grep -c '' kta.out) of 20 console lines reached the file while kta ran: $(cat kta.out)"
    sleep 0.2
done
ok "all 20 console lines written while kta runs"
bad=$(grep -cvE '^\[(ALERT|DEBUG)\] Host: endpoint0[1-4] \| Threat: [a-z_.]+ \| Severity: [A-Za-z]+( \| Rule: seed-severity-(high|critical))?$' kta.out || true)
expect_eq "lines that are not whole console lines" 0 "$bad"
expect_eq "alert lines" 15 "$(grep -c '^\[ALERT\]' kta.out)"
stop_kta kta
expect_eq "exit status after SIGTERM" 0 "$RC"
