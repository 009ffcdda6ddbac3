# 2. Coordinator kill: as 0001, but the broker killed with kill -9 (and
# restarted CLUSTER_DOWN seconds after the new coordinator took over) is
# the one coordinating kta's consumer group, and then, exactly-once, the one
# coordinating its transactional id (at-least-once: the group's coordinator
# again, by then another broker).  A leader move alone is invisible to kta;
# a coordinator move is what expires sessions, fails commits and aborts
# transactions.  Pass: as 0001.
. "$KTA_ROOT/tests/cluster/lib.sh"
N=${CLUSTER_EVENTS:-30000} RATE=${CLUSTER_RATE:-500} DOWN=${CLUSTER_DOWN:-10}

make_topics
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
apid=$(pid_of a)
t_start=$SECONDS
produce_bg producer "$N" 22 "$RATE"
sleep 8

kill_coordinator group group "$DOWN"
alive a || { tail -20 a.err; fail "kta exited after the group coordinator was killed"; }
sleep 3
if [[ $MODE == eos ]]; then
    kill_coordinator transactions txn "$DOWN"
else
    kill_coordinator group-again group "$DOWN"
fi
alive a || { tail -20 a.err; fail "kta exited after the second coordinator kill"; }

wait_pid_file producer $((N / RATE + 120))
t_fed=$SECONDS
wait_lag0 "$GROUP" 180 a
note "lag 0, $((SECONDS - t_fed)) s after the producer finished"
[[ $(pid_of a) == "$apid" ]] || fail "kta was restarted"
counts=$(log_counts a)
stop_kta a TERM 30
[[ $RC == 0 ]] || { tail -20 a.err; fail "kta exited $RC at the end"; }
figures "stream=${N}@${RATE}/s total=$((SECONDS - t_start))s lag0_after_feed=$((SECONDS - t_fed))s kta_restarted=no $counts"
# kta's own warnings (not librdkafka's connection noise), for the record.
{ grep -E 'warn|transaction|rewind' a.err | grep -v 'librdkafka: FAIL' || true; } | head -20 | sed 's/^/  log: /'
check_hits "coordinator-kill" || fail "hits wrong after coordinator kills"
