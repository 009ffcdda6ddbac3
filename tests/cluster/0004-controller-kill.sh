# 4. Controller kill: while a steady producer feeds kta, the active KRaft
# controller is killed with kill -9, and once the two voters left have
# elected another one it is restarted CLUSTER_DOWN seconds later and
# waited for until every replica is in sync; then the new active
# controller likewise.  kafka-local.sh runs combined nodes (each broker is
# also a controller voter), so the node killed is a broker too: its
# partition leaderships and any coordinator role move with it, and the
# controller that moves them is the one being elected.  Pass: as 0001.
. "$KTA_ROOT/tests/cluster/lib.sh"
# The stream lasts until CLUSTER_TAIL seconds after the last fault, however
# long the faults took (CLUSTER_EVENTS only caps it).
N=${CLUSTER_EVENTS:-1000000} TAIL=${CLUSTER_TAIL:-10}
RATE=${CLUSTER_RATE:-500} DOWN=${CLUSTER_DOWN:-10}

# controller: the active controller's id ("" while the quorum has none or
# the tool cannot reach it).
controller() { "$KAFKA" controller 2>/dev/null || true; }

# kill_controller LABEL: kill -9 the active controller, wait until another
# voter leads the quorum, restart the killed node DOWN s after the election.
kill_controller() {
    local label=$1 old coord
    old=$(controller)
    [[ $old =~ ^[0-9]+$ ]] || fail "no active controller to kill"
    coord=$(coordinators)
    note "$label: kill -9 node $old, the active controller ($coord)"
    kill_and_wait "$old" "active controller" controller
    note "$label: node $NEW is the active controller after ${MOVED}s"
    restart_after "$label" "$old" "$KILL_T0" $((MOVED + DOWN))
    figures "$label: killed=$old controller $coord new_controller=$NEW elected=${MOVED}s back_in_sync=$((SECONDS - KILL_T0))s"
}

make_topics
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
apid=$(pid_of a)
t_start=$SECONDS
produce_bg producer "$N" 24 "$RATE"
sleep 8

kill_controller controller
alive a || { tail -20 a.err; fail "kta exited after the controller was killed"; }
sleep 3
kill_controller controller-again
alive a || { tail -20 a.err; fail "kta exited after the second controller kill"; }

alive producer || fail "the stream ended before the faults did (CLUSTER_EVENTS=$N too few)"
sleep "$TAIL"
stop_stream producer
finish_scenario controller-kill "$((SECONDS - t_start))s@${RATE}/s"
