# 4. The broker stays down longer than message.timeout.ms (10 s vs 20 s
# down).  Deliveries time out; the committed offsets must never pass a
# failed delivery (checked right after the broker is back, before kta is
# restarted), and after recovery every hit is there.  kta may recover by
# itself or exit non-zero; which one happened is reported.
. "$KTA_ROOT/tests/faults/lib.sh"
N=40000 DOWN=20
make_topics
produce_bg producer "$N" 14 $((N / 50))
start_kta a a "${RULE_ARGS[@]}" -X message.timeout.ms=10000
wait_log a 'assigned' 60
sleep 4
# A burst right before the kill, so that hits are in flight when the
# broker dies (otherwise nothing may time out and the scenario proves little).
"$KTA" produce -b "$B" -t "$IN" --generate 30000 --seed 24 --malicious 0.05 2>/dev/null
bpid=$(cat "$KTA_KAFKA_DIR/kafka.pid")
note "kill -9 broker pid $bpid for $DOWN s (message.timeout.ms=10000)"
kill -KILL "$bpid"
sleep "$DOWN"
"$KAFKA" up >broker-up.log 2>&1 || fail "broker did not come back: $(tail -3 broker-up.log)"
t_up=$SECONDS
check_prefix "$GROUP" && prefix=ok || prefix=VIOLATED
if alive a; then
    behaviour="recovered by itself"
else
    stop_kta a
    behaviour="exited $RC; restarted"
    note "kta exited $RC during the outage: $(grep -E 'error|fatal' a.err | grep -v librdkafka | tail -2)"
    start_kta a2 a "${RULE_ARGS[@]}" -X message.timeout.ms=10000
fi
note "broker back; kta $behaviour; prefix check $prefix"
wait_pid_file producer 300
last=a; alive a2 2>/dev/null && last=a2
wait_lag0 "$GROUP" 240 "$last"
recovery=$((SECONDS - t_up))
stop_kta "$last" TERM 30
[[ $RC == 0 ]] || fail "kta exited $RC at the end"
timeouts=$(cat a.err a2.err 2>/dev/null | grep -c 'timed out' || true)
figures "broker_down=${DOWN}s message_timeout=10s kta='$behaviour' lag0_after=${recovery}s prefix=$prefix" \
    "retries=$(cat a.err a2.err 2>/dev/null | grep -o '[0-9]* delivery retries' | cut -d' ' -f1 | tr '\n' '+')" \
    "timeout_log_lines=$timeouts"
check_hits "broker-timeout" || fail "hits wrong after deliveries timed out"
[[ $prefix == ok ]] || fail "offsets were committed past a failed delivery"
