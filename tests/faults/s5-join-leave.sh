# 5. A second kta joins the group and leaves again during a stream, cleanly
# (SIGTERM) and by kill -9, 3 cycles each (1 each in the quick run).  The
# first kta runs throughout; no hit may be missing.
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=10000 CYCLES=1; else N=60000 CYCLES=3; fi
make_topics
produce_bg producer "$N" 15 $((N / (CYCLES * 25 + 10)))
start_kta a a "${RULE_ARGS[@]}"
wait_log a 'assigned' 60
for how in TERM KILL; do
    for c in $(seq 1 "$CYCLES"); do
        start_kta b$how$c b "${RULE_ARGS[@]}"
        wait_log b$how$c 'assigned' 60
        sleep 3
        stop_kta b$how$c $how 30
        note "b joined and left by SIG$how (exit $RC after $STOP_SECS s)"
        [[ $how == KILL || $RC == 0 ]] || fail "second kta: SIGTERM exit $RC"
        [[ $how == KILL ]] && sleep 8   # its session times out (6 s)
        sleep 2
        alive a || { tail -20 a.err; fail "first kta exited"; }
    done
done
wait_pid_file producer 300
wait_lag0 "$GROUP" 180 a
stop_kta a TERM 30
[[ $RC == 0 ]] || fail "first kta exited $RC"
figures "cycles=${CYCLES}xTERM+${CYCLES}xKILL events=$N rebalances_seen_by_a=$(grep -c 'assigned' a.err)"
check_hits "join-leave" || fail "hits wrong across joins and leaves"
