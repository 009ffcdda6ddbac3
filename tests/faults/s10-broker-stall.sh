# 10. The broker stalls (SIGSTOP) twice for 15 s mid-stream while kta runs
# with max.poll.interval.ms=8000, shutdown_timeout_ms=30000 and
# transaction.timeout.ms=2500 (issue 11,
# findings 2 and 6).  A stalled broker makes the transactional calls time
# out: the commit must neither block the poll loop past
# max.poll.interval.ms (librdkafka would then leave the group: "maximum
# poll interval ... exceeded") nor, after a commit that timed out, send the
# offsets again ("Conflicting commit_transaction API call is already in
# progress", which restarted the producer and rewound).  Pass: kta never
# exits, no such log line, lag back to 0, 0 missing (eos: 0 duplicates).
. "$KTA_ROOT/tests/faults/lib.sh"
N=$( ((QUICK)) && echo 15000 || echo 30000) STALL=${FAULTS_STALL:-15}
make_topics
produce_bg producer "$N" 20 $((N / 60))
# librdkafka may block a transactional call for transaction.timeout.ms,
# twice between two polls: kta refuses more than a third of
# max.poll.interval.ms (exactly-once; 4000 missed the interval here).
start_kta a a "${RULE_ARGS[@]}" -X max.poll.interval.ms=8000 -X shutdown_timeout_ms=30000 \
    -X transaction.timeout.ms=2500
wait_log a 'assigned' 60
bpid=$(cat "$KTA_KAFKA_DIR/kafka.pid")
for i in 1 2; do
    sleep 8
    note "SIGSTOP broker pid $bpid for $STALL s ($i)"
    kill -STOP "$bpid"
    sleep "$STALL"
    kill -CONT "$bpid"
    alive a || { tail -25 a.err; fail "kta exited during stall $i"; }
done
wait_pid_file producer 300
wait_lag0 "$GROUP" 240 a
stop_kta a TERM 40
[[ $RC == 0 ]] || fail "kta exited $RC after recovering"
maxpoll=$(grep -c 'maximum poll interval' a.err || true)
conflict=$(grep -c 'Conflicting' a.err || true)
restarts=$(grep -c 'restarting the producer' a.err || true)
figures "stalls=2x${STALL}s max_poll_exceeded=$maxpoll conflicting_calls=$conflict producer_restarts=$restarts aborts=$(grep -c 'transaction aborted' a.err || true)"
check_hits "broker-stall" || fail "hits wrong after broker stalls"
((maxpoll == 0)) || fail "the poll loop missed max.poll.interval.ms $maxpoll times"
((conflict == 0)) || fail "$conflict conflicting transactional calls (a retry sent the offsets again)"
