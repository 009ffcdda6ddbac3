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
finish_scenario coordinator-kill "${N}@${RATE}/s"
