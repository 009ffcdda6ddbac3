# 3. Rolling restart: while a steady producer feeds kta, each of the three
# brokers in turn is stopped cleanly (SIGTERM: it hands its leaderships
# over and leaves), started again, and the next one is stopped only once
# every replica of kta's input and output topics is back in sync -- the
# way an operator upgrades a cluster.  Every broker is down once, so each
# of kta's partition leaders, its group coordinator and (exactly-once) its
# transaction coordinator moves at least once.  Pass: as 0001.
. "$KTA_ROOT/tests/cluster/lib.sh"
# The stream lasts until CLUSTER_TAIL seconds after the last fault, however
# long the faults took (CLUSTER_EVENTS only caps it).
N=${CLUSTER_EVENTS:-1000000} TAIL=${CLUSTER_TAIL:-10}
RATE=${CLUSTER_RATE:-500}

make_topics
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
apid=$(pid_of a)
t_start=$SECONDS
produce_bg producer "$N" 23 "$RATE"
sleep 8

steps=
for id in 1 2 3; do
    coord=$(coordinators)
    note "restart: stopping broker $id ($coord; leaders $IN/0..2: $(leader "$IN" 0),$(leader "$IN" 1),$(leader "$IN" 2))"
    t0=$SECONDS
    "$KAFKA" node-stop "$id" >>cluster.log 2>&1 || fail "node-stop $id failed: $(tail -3 cluster.log)"
    stopped=$((SECONDS - t0))
    alive a || { tail -20 a.err; fail "kta exited while broker $id was stopped"; }
    "$KAFKA" node-start "$id" >>cluster.log 2>&1 || fail "node-start $id failed: $(tail -3 cluster.log)"
    wait_isr_full "$IN" 3 120
    wait_isr_full "$HITS" 3 120
    insync=$((SECONDS - t0))
    note "restart: broker $id stopped in ${stopped}s, back in sync ${insync}s after the stop"
    alive a || { tail -20 a.err; fail "kta exited after broker $id was restarted"; }
    steps+=" broker$id=${stopped}s/${insync}s"
done
figures "rolling restart (stop/back in sync):$steps; $(coordinators) at the end"

alive producer || fail "the stream ended before the faults did (CLUSTER_EVENTS=$N too few)"
sleep "$TAIL"
stop_stream producer
finish_scenario rolling-restart "$((SECONDS - t_start))s@${RATE}/s"
