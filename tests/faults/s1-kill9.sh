# 1. kill -9 of kta at random moments while a stream arrives: restart after
# each kill, finally let it finish.  Every expected hit is in the output
# (at-least-once: duplicates reported; exactly-once: none, read_committed).
# After each kill, the committed offsets must not have passed a record
# whose hits are not in the output.
. "$KTA_ROOT/tests/faults/lib.sh"
if ((QUICK)); then N=${FAULTS_KILL_EVENTS:-10000} TRIALS=${FAULTS_KILL_TRIALS:-3}
else N=${FAULTS_KILL_EVENTS:-100000} TRIALS=${FAULTS_KILL_TRIALS:-20}; fi
make_topics
# Spread the stream over the trials (each takes ~8-11 s: rejoin, work, kill).
rate=$((N / (TRIALS * 12) + 1))
produce_bg producer "$N" 11 "$rate"
note "stream of $N events at $rate/s; $TRIALS kills"
prefix_bad=0
for i in $(seq 1 "$TRIALS"); do
    start_kta run$i a "${RULE_ARGS[@]}"
    # A random moment: half the trials anywhere from start-up through
    # joining the group, the others while it works on its partitions.
    delay=$(python3 -c "import random; print(round(random.uniform(0.3, 4.0), 2))")
    if ((RANDOM % 2)); then wait_log run$i 'assigned' 60; delay="$delay after assignment"; fi
    sleep "${delay%% *}"
    alive run$i || { tail -20 run$i.err; fail "run$i exited before its kill"; }
    stop_kta run$i KILL
    note "trial $i: killed after $delay s ($(grep -c 'assigned' run$i.err || true) assignments)"
    if ((i % 5 == 0 || i == TRIALS)); then
        check_prefix "$GROUP" || prefix_bad=$((prefix_bad + 1))
    fi
done
wait_pid_file producer 600
start_kta final a "${RULE_ARGS[@]}"
t0=$SECONDS
wait_lag0 "$GROUP" 180 final
note "final run caught up in $((SECONDS - t0)) s"
stop_kta final TERM 30
[[ $RC == 0 ]] || fail "final run exited $RC"
figures "trials=$TRIALS events=$N final_catch_up=$((SECONDS - t0))s prefix_violations=$prefix_bad"
check_hits "kill9" || fail "hits wrong (see figures)"
((prefix_bad == 0)) || fail "committed offsets passed undelivered hits after $prefix_bad kill(s)"
