# TLS and SASL/SCRAM to the brokers through kafka.* settings, against the
# runner's broker started with KTA_KAFKA_SECURITY=1 (SSL on PORT+2, SASL_SSL
# with SCRAM on PORT+3).  kta run, kta produce and kta config work over SSL
# and over SASL_SSL with the settings in a kta.yaml `kafka:` map and with -X;
# a wrong password or CA fails fast with one line and exit 1; the password
# appears in no output, not even librdkafka's debug lines; kta listens on no
# port.
. "$KTA_ROOT/tests/integration/lib.sh"

eval "$("$KAFKA" env)"
[[ -n ${KTA_KAFKA_SASL_BOOTSTRAP:-} ]] ||
    fail "the broker has no security listeners (the runner starts it with KTA_KAFKA_SECURITY=1)"
SSL_B=$KTA_KAFKA_SSL_BOOTSTRAP SASL_B=$KTA_KAFKA_SASL_BOOTSTRAP CA=$KTA_KAFKA_CA
SUSER=$(sed -n 's/^KTA_KAFKA_SASL_USERNAME=//p' "$KTA_KAFKA_CREDENTIALS")
PW=$(sed -n 's/^KTA_KAFKA_SASL_PASSWORD=//p' "$KTA_KAFKA_CREDENTIALS")
[[ -n $SUSER && ${#PW} -ge 16 ]] || fail "no SCRAM credentials in $KTA_KAFKA_CREDENTIALS"
expect_eq "credentials file is private" 600 "$(stat -c %a "$KTA_KAFKA_CREDENTIALS")"
WRONG=Wr0ng-$RANDOM$RANDOM-pass

in=$T-events dlq=$T-dlq rules=$KTA_ROOT/rules/seed.yaml
topic "$in"; topic "$dlq"; topic "$T-produced"
for h in ssl yaml x; do topic "$T-hits-$h"; done

ssl=(-X security.protocol=SSL -X "ssl.ca.location=$CA")
sasl512=(-X security.protocol=SASL_SSL -X "ssl.ca.location=$CA" -X sasl.mechanisms=SCRAM-SHA-512
    -X "sasl.username=$SUSER" -X "sasl.password=$PW")
umask 077
cat >kta.yaml <<EOF
input:
  topics: [$in]
dead_letter:
  topic: $dlq
rules:
  path: $rules
kafka:
  bootstrap.servers: $SASL_B
  security.protocol: SASL_SSL
  ssl.ca.location: $CA
  sasl.mechanisms: SCRAM-SHA-256
  sasl.username: $SUSER
  sasl.password: "$PW"
EOF
sed "s/^  sasl.password: .*/  sasl.password: \"$WRONG\"/" kta.yaml >wrong.yaml

# no_secret FILE...: neither the password nor the wrong one is in FILEs.
no_secret() {
    local f
    for f in "$@"; do
        ! grep -qF -e "$PW" -e "$WRONG" "$f" || fail "$f shows a password"
    done
}

# start_sec NAME ARGS...: like start_kta, without lib.sh's PLAINTEXT -b.
start_sec() {
    local name=$1; shift
    "$KTA" run "$@" >"$name.out" 2>"$name.err" &
    echo $! >"$name.pid"
}

# run_ok NAME HITS-TOPIC ARGS...: kta run processes the seed events end to end.
run_ok() {
    local name=$1 hits=$2; shift 2
    start_sec "$name" -t "$in" -G "$T-$name" -X output.topic="$hits" -X dead_letter.topic="$dlq" \
        -r "$rules" -w 2 -v "$@"
    wait_count "$hits" 3
    if [[ $name == ssl ]]; then
        # kta connects out only: no listening TCP, UDP or unix socket of its own.
        local pid
        pid=$(cat "$name.pid")
        ss -ltuxnpH >ss.txt
        ! grep -q "pid=$pid," ss.txt || fail "kta listens: $(grep "pid=$pid," ss.txt)"
        ok "kta (pid $pid) listens on no port"
    fi
    sleep 1
    stop_kta "$name"
    expect_eq "$name: exit status after SIGTERM" 0 "$RC"
    expect_eq "$name: alert lines" 3 "$(grep -c '^\[ALERT\]' "$name.out")"
    grep -q 'processed 4 events: 3 hits' "$name.err" || fail "$name summary: $(tail -3 "$name.err")"
    no_secret "$name.out" "$name.err"
    ok "$name: seed events end to end, no password in the output"
}

# ---- kta produce: over SSL (-X), SASL_SSL SCRAM-SHA-512 (-X), SASL_SSL SCRAM-SHA-256 (-c)
"$KTA" produce -b "$SSL_B" "${ssl[@]}" -t "$in" "$KTA_ROOT/tests/data/seed-events.jsonl" \
    >produce.out 2>produce.err || fail "produce over SSL: $(cat produce.err)"
"$KTA" produce -b "$SASL_B" "${sasl512[@]}" -t "$T-produced" "$KTA_ROOT/tests/data/seed-events.jsonl" \
    >>produce.out 2>>produce.err || fail "produce over SASL_SSL with -X: $(cat produce.err)"
"$KTA" produce -c kta.yaml -t "$T-produced" "$KTA_ROOT/tests/data/seed-events.jsonl" \
    >>produce.out 2>>produce.err || fail "produce over SASL_SSL with -c: $(cat produce.err)"
expect_eq "records produced over SSL" 4 "$(count "$in")"
expect_eq "records produced over SASL_SSL" 8 "$(count "$T-produced")"
no_secret produce.out produce.err

# ---- kta run
run_ok ssl "$T-hits-ssl" -b "$SSL_B" "${ssl[@]}"
run_ok yaml "$T-hits-yaml" -c kta.yaml
# -X only, SCRAM-SHA-512, with librdkafka's security, broker and conf debug lines.
run_ok x "$T-hits-x" -b "$SASL_B" "${sasl512[@]}" -X debug=security,broker,conf
grep -q 'librdkafka: .*SCRAM' x.err || fail "no librdkafka SASL debug lines in x.err"
ok "librdkafka debug lines (SASL, conf dump) do not show the password"

# ---- kta config masks the password, from kta.yaml and from -X
"$KTA" config -c kta.yaml -r "$rules" >config1.out 2>&1 || fail "kta config -c: $(cat config1.out)"
"$KTA" config "${sasl512[@]}" -r "$rules" >config2.out 2>&1 || fail "kta config -X: $(cat config2.out)"
for f in config1.out config2.out; do
    grep -qx '  sasl.password: "\*\*\*"   # .*' "$f" || fail "$f: sasl.password not masked: $(grep sasl "$f")"
    grep -q "sasl.username: $SUSER " "$f" || fail "$f: no sasl.username"
    no_secret "$f"
done
ok "kta config masks sasl.password"

# ---- wrong password / CA: one line, exit 1, fast, no password anywhere
# fail_fast NAME WANT ARGS...: kta run must fail within 8 s (start-up
# timeout 10 s) with one line containing WANT (more lines with -v).
fail_fast() {
    local name=$1 want=$2 rc=0 start=$SECONDS; shift 2
    timeout 60 "$@" >"$name.out" 2>"$name.err" || rc=$?
    [[ $rc -eq 1 ]] || fail "$name: expected exit 1, got $rc: $(cat "$name.err")"
    ((SECONDS - start <= 8)) || fail "$name: took $((SECONDS - start)) s to fail"
    grep -qF -- "$want" "$name.err" || fail "$name: no [$want] in: $(cat "$name.err")"
    no_secret "$name.out" "$name.err"
    if [[ " $* " != *" -v "* ]]; then
        expect_eq "$name: one line" 1 "$(wc -l <"$name.err")"
    fi
    ok "$name: fails with [$want]"
}
authfail="cannot connect to the Kafka brokers at $SASL_B: sasl_ssl://$SASL_B/bootstrap: SASL authentication error"
fail_fast wrong-yaml "$authfail" "$KTA" run -c wrong.yaml -G "$T-bad" -X output.topic="$T-hits-x"
fail_fast wrong-x "$authfail" "$KTA" run -b "$SASL_B" "${sasl512[@]}" -X "sasl.password=$WRONG" \
    -t "$in" -G "$T-bad" -X output.topic="$T-hits-x" -X dead_letter.topic="$dlq" -r "$rules"
fail_fast wrong-v "$authfail" "$KTA" run -c wrong.yaml -v -X debug=security,broker,conf -G "$T-bad" \
    -X output.topic="$T-hits-x"
fail_fast wrong-produce "kta: error: produce: $authfail" "$KTA" produce -c wrong.yaml -t "$in" \
    "$KTA_ROOT/tests/data/seed-events.jsonl"
fail_fast no-ca "SSL handshake failed" "$KTA" run -b "$SSL_B" -X security.protocol=SSL \
    -X ssl.ca.location=/etc/ssl/certs/ca-certificates.crt -t "$in" -G "$T-bad" \
    -X output.topic="$T-hits-ssl" -X dead_letter.topic="$dlq" -r "$rules"
expect_eq "nothing produced or consumed by the failed runs" "3 3 3 4" \
    "$(count "$T-hits-ssl") $(count "$T-hits-yaml") $(count "$T-hits-x") $(count "$in")"

# A mistyped -X (no '=') naming a secret is not echoed.
rc=0
"$KTA" run -X "sasl.password:$WRONG" >typo.out 2>typo.err || rc=$?
expect_eq "-X typo: usage exit" 2 "$rc"
no_secret typo.out typo.err
ok "-X typo on a secret property: not echoed ($(cat typo.err))"
