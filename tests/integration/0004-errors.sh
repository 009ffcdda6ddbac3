# Bad configuration, unknown keys, unreachable brokers, missing topics and
# invalid rules each give one clear line and a non-zero exit, never a hang.
. "$KTA_ROOT/tests/integration/lib.sh"

topic "$T-events"; topic "$T-hits"; topic "$T-dlq"
rules=$KTA_ROOT/rules/seed.yaml
ok_args=(-t "$T-events" -X output.topic="$T-hits" -X dead_letter.topic="$T-dlq" -r "$rules")

# run_err EXPECTED-SUBSTRING ARGS...: kta run must fail quickly with that message.
run_err() {
    local want=$1 rc=0; shift
    timeout 30 "$KTA" run "$@" >out 2>err || rc=$?
    [[ $rc -ne 0 && $rc -ne 124 ]] || fail "expected a quick failure, got exit $rc for: $*"
    grep -qF -- "$want" err || fail "expected [$want] in: $(cat err)"
    ok "$want"
}

printf 'output:\n  topic: x\n  tpoic: y\n' >bad.yaml
run_err "bad.yaml:3:3: unknown option 'output.tpoic'" -c bad.yaml -b "$B" "${ok_args[@]}"
printf 'workers: lots\n' >bad2.yaml
run_err "bad2.yaml:1:10: workers: 'lots' is not a whole number" -c bad2.yaml -b "$B"
printf 'kafka:\n  no.such.property: 1\n' >bad3.yaml
run_err "bad3.yaml:2:21: kafka property 'no.such.property'" -c bad3.yaml -b "$B" "${ok_args[@]}"
run_err "cannot reach the Kafka brokers at 127.0.0.1:1" -b 127.0.0.1:1 -X startup_timeout_ms=2000 "${ok_args[@]}"
[[ $(wc -l <err) -eq 1 ]] || fail "unreachable broker should give one line, got: $(cat err)"
ok "unreachable broker: one line"
run_err "input topic '$T-nope': " -b "$B" -t "$T-nope" -X output.topic="$T-hits" -X dead_letter.topic="$T-dlq" -r "$rules"
run_err "output topic '$T-nohits'" -b "$B" -t "$T-events" -X output.topic="$T-nohits" -X dead_letter.topic="$T-dlq" -r "$rules"
run_err "dead-letter topic '$T-nodlq'" -b "$B" -t "$T-events" -X output.topic="$T-hits" -X dead_letter.topic="$T-nodlq" -r "$rules"
printf 'id: x\ntitle: t\ndetection:\n  sel:\n    a|nosuchmod: 1\n  condition: sel\n' >badrule.yml
run_err "badrule.yml:5:" -b "$B" "${ok_args[@]}" -r badrule.yml
run_err "cooperative-sticky" -b "$B" "${ok_args[@]}" -X partition.assignment.strategy=cooperative-sticky
run_err "-X nonsense: expected key=value" -b "$B" "${ok_args[@]}" -X nonsense

# Threads that start after the broker checks: one that cannot start stops
# kta with exit 1 and its name (KTA_TEST_THREAD_FAIL, util.h), never a kta
# running without reloads and stats (reloader) or with fewer workers.
for th in kta-reload kta-worker:2; do
    rc=0
    KTA_TEST_THREAD_FAIL=$th timeout 30 "$KTA" run -b "$B" -G "$T-thr" -w 2 "${ok_args[@]}" >out 2>err || rc=$?
    [[ $rc -eq 1 ]] || fail "$th cannot start: expected exit 1, got $rc: $(cat err)"
    grep -qF "cannot start thread ${th%%:*}" err || fail "$th cannot start: not named in: $(cat err)"
    grep -qF "not starting" err || fail "$th: no 'not starting' in: $(cat err)"
    ok "thread $th cannot start: exit 1, named"
done
