# 9. A long broker outage: the broker is killed (kill -9) mid-stream and
# stays down 120 s (FAULTS_LONG_DOWN; quick run 45 s), far past the group
# session, the transaction timeout and shutdown_timeout_ms.  kta must ride
# it out: it never exits, recovers by itself once the broker is back (lag
# back to 0), no hit is missing, and in exactly-once mode none is
# duplicated.  (Issue 11: exactly-once used to give up after ~45 s with
# "cannot read committed offsets to rewind" or "cannot rewind after an
# aborted transaction: partitions must be specified".)
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=15000 DOWN=${FAULTS_LONG_DOWN:-45}; else N=40000 DOWN=${FAULTS_LONG_DOWN:-120}; fi
make_topics
# Half the stream before the outage, so that kta is mid-stream (records in
# flight, a transaction open) when the broker dies; the other half after.
"$KTA" produce -b "$B" -t "$IN" --generate $((N / 2)) --seed 19 --malicious 0.05 >/dev/null 2>&1 ||
    fail "producer failed"
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
sleep 2
bpid=$(cat "$KTA_KAFKA_DIR/kafka.pid")
note "kill -9 broker pid $bpid for $DOWN s"
kill -KILL "$bpid"
t_down=$SECONDS
while ((SECONDS - t_down < DOWN)); do
    alive a || { tail -25 a.err; fail "kta exited $((SECONDS - t_down)) s into the outage"; }
    sleep 1
done
"$KAFKA" up >broker-up.log 2>&1 || fail "broker did not come back: $(tail -3 broker-up.log)"
t_up=$SECONDS
note "broker back after $DOWN s; kta still running"
alive a || { tail -25 a.err; fail "kta exited while the broker came back"; }
"$KTA" produce -b "$B" -t "$IN" --generate $((N / 2)) --seed 29 --malicious 0.05 >/dev/null 2>&1 ||
    fail "producer failed after the outage"
wait_lag0 "$GROUP" 300 a
recovery=$((SECONDS - t_up))
note "lag 0, $recovery s after the broker came back"
alive a || { tail -25 a.err; fail "kta exited after recovering"; }
stop_kta a TERM 30
[[ $RC == 0 ]] || fail "kta exited $RC after recovering"
aborts=$(grep -c 'transaction aborted' a.err || true)
restarts=$(grep -c 'restarting the producer' a.err || true)
figures "broker_down=${DOWN}s kta_restarted=no lag0_after=${recovery}s aborts=$aborts producer_restarts=$restarts"
check_hits "long-outage" || fail "hits wrong after a long broker outage"
