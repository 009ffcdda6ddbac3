# 1. Leader kill: while a steady producer feeds kta, the broker leading
# kta's input partition 0 is killed with kill -9 and restarted after
# CLUSTER_DOWN seconds, then (once every replica is in sync again) the
# broker leading output partition 0 likewise.  Replication factor 3,
# min.insync.replicas=2, so one broker down never stops acks=all writes.
# Pass: kta is never restarted and exits 0 on SIGTERM at the end, its
# committed lag returns to 0, no expected hit is missing (by rule, input
# partition and offset); at-least-once reports its duplicates, exactly-once
# (read_committed) must have none.
. "$KTA_ROOT/tests/cluster/lib.sh"
N=${CLUSTER_EVENTS:-30000} RATE=${CLUSTER_RATE:-500} DOWN=${CLUSTER_DOWN:-10}

make_topics
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
apid=$(pid_of a)
t_start=$SECONDS
produce_bg producer "$N" 21 "$RATE"
sleep 8

kill_leader input "$IN" 0 "$DOWN"
alive a || { tail -20 a.err; fail "kta exited after the input leader was killed"; }
sleep 3
kill_leader output "$HITS" 0 "$DOWN"
alive a || { tail -20 a.err; fail "kta exited after the output leader was killed"; }

wait_pid_file producer $((N / RATE + 120))
finish_scenario leader-kill "${N}@${RATE}/s"
