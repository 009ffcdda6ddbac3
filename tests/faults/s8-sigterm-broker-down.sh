# 8. SIGTERM while the broker is down and librdkafka's queue is full.
# A burst with many hits goes in, the broker is killed (kill -9) right
# after it, so hits are stuck in a producer queue kept tiny
# (queue.buffering.max.messages=20) and the workers find it full.  SIGTERM
# then must end kta within shutdown_timeout_ms plus a little: exit 1 (work
# left unfinished, docs/operations.md), and the committed offsets never
# past a hit that was not acknowledged (checked as soon as the broker is
# back).  A kta started after that delivers everything: 0 missing; eos 0
# duplicates.
# alo: message.timeout.ms=3000 and SIGTERM 7 s into the outage, so the
# failed deliveries are produced again into the full queue (the delivery
# report's QUEUE_FULL must not stop kta) and the group session (6 s) has
# timed out: SIGTERM comes during the revoke's drain.  eos: SIGTERM 2 s
# into the outage, before the transaction's records time out (a stop
# during the abort that follows is the transaction code's to bound).
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=20000; else N=40000; fi
SHUTDOWN_MS=5000
# What the exit may take past shutdown_timeout_ms, in s: every wait of
# the shutdown shares that one deadline (kta_pipeline_time_left).  alo's
# last synchronous commit can add about 1 s that librdkafka bounds, not
# kta; eos took 8 s here before the deadline was shared (now 5 s).
QARGS=(-X queue.buffering.max.messages=20 -X shutdown_timeout_ms=$SHUTDOWN_MS)
if [[ $MODE == alo ]]; then
    QARGS+=(-X message.timeout.ms=3000) DOWN=7 SLACK=4
else
    DOWN=2 SLACK=2
fi
BOUND=$((SHUTDOWN_MS / 1000 + SLACK))
make_topics
start_kta a a "${RULE_ARGS[@]}" "${QARGS[@]}"
wait_log a 'assigned' 60
sleep 2
# Many hits (30% malicious), produced while kta reads: at the kill its
# workers are behind on a queue that takes 20 records at a time.
"$KTA" produce -b "$B" -t "$IN" --generate "$N" --seed 28 --malicious 0.3 2>burst.err ||
    fail "burst not produced: $(tail -3 burst.err)"
bpid=$(cat "$KTA_KAFKA_DIR/kafka.pid")
note "kill -9 broker pid $bpid, SIGTERM to kta after $DOWN s"
kill -KILL "$bpid"
sleep "$DOWN"
alive a || { tail -20 a.err; fail "kta exited while the broker was down, before SIGTERM"; }
note "SIGTERM kta (shutdown_timeout_ms=$SHUTDOWN_MS, bound ${BOUND}s)"
stop_kta a TERM $((BOUND + 20))
rc_a=$RC secs_a=$STOP_SECS
note "exit $rc_a after $secs_a s"
# The scenario proves something only if hits were stuck at the stop.
grep -q 'still unfinished' a.err && stuck=yes || stuck=no
"$KAFKA" up >broker-up.log 2>&1 || fail "broker did not come back: $(tail -3 broker-up.log)"
check_prefix "$GROUP" && prefix=ok || prefix=VIOLATED
start_kta b a "${RULE_ARGS[@]}"
wait_lag0 "$GROUP" 240 b
stop_kta b TERM 30
rc_b=$RC
retries=$(grep -o '[0-9]* delivery retries' a.err | cut -d' ' -f1 || true)
figures "broker_down_sigterm: down_before_term=${DOWN}s exit=${secs_a}s bound=${BOUND}s rc=$rc_a stuck=$stuck prefix=$prefix retries=${retries:-none}"
check_hits "sigterm-broker-down" || fail "hits wrong after a SIGTERM with the broker down"
((rc_a != 124)) || { tail -20 a.err; fail "kta did not exit within $((BOUND + 20)) s of SIGTERM"; }
((secs_a <= BOUND)) || { tail -20 a.err; fail "kta took ${secs_a}s to exit (bound ${BOUND}s)"; }
[[ $rc_a == 1 ]] || { tail -20 a.err; fail "exit status $rc_a with work unfinished (want 1)"; }
[[ $stuck == yes ]] || fail "no record was unfinished at the stop: the scenario proved nothing"
[[ $prefix == ok ]] || fail "offsets were committed past an undelivered hit"
[[ $rc_b == 0 ]] || fail "the restarted kta exited $rc_b"
# alo: the timed-out deliveries were produced again (into a full queue).
[[ $MODE == eos || ${retries:-0} -gt 0 ]] || fail "no delivery was retried: the scenario proved nothing"
