# Authorisation: the SCRAM user may not write to the dead-letter topic (a
# DENY ACL; the runner's broker has an authorizer, see kafka-local.sh).
# When a malformed record arrives kta must stop by itself, say why in a
# line naming the topic, and not commit past the record; once the ACL is
# gone, a restarted kta delivers the dead letter (exactly once in
# exactly-once mode) and the good records behind it.  Both delivery modes.
. "$KTA_ROOT/tests/integration/lib.sh"

eval "$("$KAFKA" env)"
[[ -n ${KTA_KAFKA_SASL_BOOTSTRAP:-} ]] ||
    fail "the broker has no security listeners (the runner starts it with KTA_KAFKA_SECURITY=1)"
SUSER=$(sed -n 's/^KTA_KAFKA_SASL_USERNAME=//p' "$KTA_KAFKA_CREDENTIALS")
PW=$(sed -n 's/^KTA_KAFKA_SASL_PASSWORD=//p' "$KTA_KAFKA_CREDENTIALS")
sasl=(-b "$KTA_KAFKA_SASL_BOOTSTRAP" -X security.protocol=SASL_SSL -X "ssl.ca.location=$KTA_KAFKA_CA"
      -X sasl.mechanisms=SCRAM-SHA-256 -X "sasl.username=$SUSER" -X "sasl.password=$PW")
acl() { # acl --add|--remove TOPIC: deny the SCRAM user writes (describe stays allowed)
    "$KAFKA" tool kafka-acls --bootstrap-server "$B" "$1" --force --deny-principal "User:$SUSER" \
        --operation Write --topic "$2" >/dev/null
    "$KAFKA" tool kafka-acls --bootstrap-server "$B" "$1" --force --allow-principal "User:$SUSER" \
        --operation Describe --topic "$2" >/dev/null
}
sum_committed() {
    local po sum=0
    for po in $(committed "$1" "$2"); do [[ ${po#*:} =~ ^[0-9]+$ ]] && sum=$((sum + ${po#*:})); done
    echo "$sum"
}

# A topic the user may not even describe: kta refuses to start and says
# so, rather than calling the topic missing (a listing of all topics
# leaves such topics out).
topic "$T-hidden"; topic "$T-h-in"
"$KAFKA" tool kafka-acls --bootstrap-server "$B" --add --force --deny-principal "User:$SUSER" \
    --operation All --topic "$T-hidden" >/dev/null
RC=0
"$KTA" run "${sasl[@]}" -t "$T-h-in" -G "$T-h" -r "$KTA_ROOT/rules/seed.yaml" -X output.topic="$T-hidden" \
    >hidden.out 2>hidden.err || RC=$?
expect_eq "hidden output topic: exit" 1 "$RC"
grep -q "output topic '$T-hidden': .*[Aa]uthoriz.*ACLs)$" hidden.err ||
    fail "hidden output topic: $(cat hidden.err)"
ok "hidden output topic: $(grep -v librdkafka hidden.err | tail -1)"

for mode in alo eos; do
    in=$T-$mode-events hits=$T-$mode-hits dlq=$T-$mode-dlq group=$T-$mode-kta
    topic "$in"; topic "$hits"; topic "$dlq"
    acl --add "$dlq"
    "$KTA" produce -b "$B" -t "$in" --generate 50 --seed 3 --malicious 0.2 2>/dev/null
    printf '%s\n' '{"host":"acl", "threat": ' | kcat -b "$B" -P -t "$in"     # offset 50
    "$KTA" produce -b "$B" -t "$in" --generate 50 --seed 4 --malicious 0.2 2>/dev/null
    args=("${sasl[@]}" -t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits"
          -X dead_letter.topic="$dlq" --print none)
    iso=read_uncommitted
    if [[ $mode == eos ]]; then
        args+=(-X processing.guarantee=exactly_once)
        iso=read_committed
    fi
    # start_kta adds a PLAINTEXT -b; these runs go over SASL_SSL only.
    "$KTA" run "${args[@]}" >"$mode-1.out" 2>"$mode-1.err" &
    echo $! >"$mode-1.pid"
    end=$((SECONDS + 60))
    while kill -0 "$(cat "$mode-1.pid")" 2>/dev/null; do
        ((SECONDS < end)) || { tail -5 "$mode-1.err" >&2; fail "$mode: kta kept running with an undeliverable dead letter"; }
        sleep 0.5
    done
    stop_kta "$mode-1"
    expect_eq "$mode: kta stopped by itself with exit" 1 "$RC"
    # kta's own line says why it stops; in exactly-once mode the topic is
    # named by librdkafka's line about the transaction (AddPartitionsToTxn
    # is where the broker refuses), which kta logs as an error too.
    grep -v librdkafka "$mode-1.err" | grep -E "error: .*[Aa]uthoriz.*stopping without committing" >/dev/null ||
        fail "$mode: kta does not say it stops for the authorisation failure: $(grep -v librdkafka "$mode-1.err" | tail -3)"
    grep -E "error: .*$dlq.*[Aa]uthoriz" "$mode-1.err" >/dev/null ||
        fail "$mode: no error line names '$dlq' and the authorisation failure"
    ok "$mode: $(grep -v librdkafka "$mode-1.err" | grep -E "error: .*[Aa]uthoriz" | head -1)"
    c=$(sum_committed "$group" "$in")
    ((c <= 50)) || fail "$mode: committed $c, past the dead letter at offset 50"
    ok "$mode: committed $c, not past offset 50"
    ! grep -qF -- "$PW" "$mode-1.err" "$mode-1.out" || fail "$mode: the password is in kta's output"

    acl --remove "$dlq"
    "$KTA" run "${args[@]}" >"$mode-2.out" 2>"$mode-2.err" &
    echo $! >"$mode-2.pid"
    end=$((SECONDS + 60))
    until [[ $(sum_committed "$group" "$in") == 101 ]]; do
        kill -0 "$(cat "$mode-2.pid")" 2>/dev/null || { cat "$mode-2.err" >&2; fail "$mode: restarted kta exited"; }
        ((SECONDS < end)) || fail "$mode: committed $(sum_committed "$group" "$in") of 101 after the ACL was removed"
        sleep 0.5
    done
    stop_kta "$mode-2"
    expect_eq "$mode: restart exit" 0 "$RC"
    n=$(kcat -b "$B" -C -t "$dlq" -e -o beginning -q -X isolation.level=$iso -f '%h\n' | grep -c 'kta.source.offset=50' || true)
    if [[ $mode == eos ]]; then
        expect_eq "$mode: dead letters for offset 50" 1 "$n"
    else
        ((n >= 1)) || fail "$mode: no dead letter for offset 50"
        ok "$mode: $n dead letter(s) for offset 50"
    fi
    consume "$in" | sed '51d' >events.jsonl
    want=$("$KTA" eval -r "$KTA_ROOT/rules" events.jsonl | wc -l)
    # distinct (rule, source offset): at-least-once may repeat a hit
    got=$(kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=$iso |
        python3 -c 'import sys, json
print(len({(h["rule"]["id"], h["source"]["partition"], h["source"]["offset"]) for h in map(json.loads, sys.stdin)}))')
    expect_eq "$mode: distinct hits" "$want" "$got"
done
