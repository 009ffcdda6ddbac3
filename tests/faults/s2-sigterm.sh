# 2. SIGTERM mid-stream: kta exits 0 within 30 s, and across the stops and
# restarts no hit is missing or duplicated (in both modes: a clean stop
# commits exactly what was delivered).
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=10000 STOPS=1; else N=60000 STOPS=3; fi
make_topics
produce_bg producer "$N" 12 $((N / (STOPS * 6 + 4)))
worst=0
for i in $(seq 1 "$STOPS"); do
    start_kta run$i a "${RULE_ARGS[@]}"
    wait_log run$i 'assigned' 60
    sleep "$(python3 -c "import random; print(round(random.uniform(1.5, 4.0), 2))")"
    stop_kta run$i TERM 30
    note "stop $i: exit $RC after $STOP_SECS s"
    ((STOP_SECS > worst)) && worst=$STOP_SECS
    [[ $RC == 0 ]] || { tail -20 run$i.err; fail "SIGTERM $i: exit status $RC (124 = not within 30 s)"; }
    grep -q 'processed' run$i.err || fail "run$i: no summary line"
done
wait_pid_file producer 600
start_kta final a "${RULE_ARGS[@]}"
wait_lag0 "$GROUP" 120 final
stop_kta final TERM 30
[[ $RC == 0 ]] || fail "final run exited $RC"
figures "sigterm_stops=$STOPS slowest_exit=${worst}s events=$N"
# No kill anywhere: duplicates are a bug in both modes.
snapshot final
python3 "$HERE/check.py" hits final.in final.hits final.expected --label sigterm --no-dups ||
    fail "hits missing or duplicated after SIGTERM"
