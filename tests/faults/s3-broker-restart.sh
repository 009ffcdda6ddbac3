# 3. The broker is killed (kill -9) mid-stream and restarted after ~30 s
# (10 s in the quick run).  kta must recover by itself: no restart of kta,
# its lag returns to 0, and no hit is missing.
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=15000 DOWN=${FAULTS_BROKER_DOWN:-10}; else N=60000 DOWN=${FAULTS_BROKER_DOWN:-30}; fi
make_topics
produce_bg producer "$N" 13 $((N / (DOWN + 30)))
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
sleep 5
bpid=$(cat "$KTA_KAFKA_DIR/kafka.pid")
note "kill -9 broker pid $bpid for $DOWN s"
kill -KILL "$bpid"
sleep "$DOWN"
alive a && during=running || during=exited
"$KAFKA" up >broker-up.log 2>&1 || fail "broker did not come back: $(tail -3 broker-up.log)"
t_up=$SECONDS
note "broker back; kta was $during during the outage"
alive a || { tail -20 a.err; fail "kta exited while the broker was down"; }
wait_pid_file producer 300
wait_lag0 "$GROUP" 240 a
recovery=$((SECONDS - t_up))
note "lag 0, $recovery s after the broker came back"
stop_kta a TERM 30
[[ $RC == 0 ]] || fail "kta exited $RC after recovering"
figures "broker_down=${DOWN}s kta_restarted=no lag0_after=${recovery}s retries=$(grep -o '[0-9]* delivery retries' a.err | cut -d' ' -f1)"
check_hits "broker-restart" || fail "hits wrong after a broker restart"
