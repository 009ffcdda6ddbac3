#!/usr/bin/env bash
# Soak run (`make soak`, not part of CI): kta against its own one-node broker
# (scripts/kafka-local.sh on KTA_SOAK_PORT, default 59492, with a state dir
# inside the results dir) for SOAK_MINUTES at a steady SOAK_RATE, with
#   - a rule reload every SOAK_RELOAD_EVERY seconds, alternately by editing
#     a rule file (the rules.watch_interval_ms watch) and by SIGHUP,
#   - a kill -9 of kta every SOAK_KILL_EVERY seconds, restarted at once,
#   - a sample every SOAK_SAMPLE_EVERY seconds of kta's RSS, open file
#     descriptors (/proc/PID/fd) and threads (/proc/PID/task) in samples.csv.
# After the stream it waits until the group's lag is 0, stops kta with
# SIGTERM and checks the output with the fault suite's oracle.
#
# Pass when no expected hit is missing (SOAK_MODE=eos: and none is
# duplicated), every reload took effect, and within each kta lifetime,
# after SOAK_WARMUP seconds, the resources stay flat (tests/soak/flat.py):
# the median RSS of the last quarter of its samples is at most 10% + 4 MiB
# above the median of the first quarter; the medians of fds and threads are
# equal.  A lifetime with fewer than 8 samples after warm-up is not judged.
#
# Knobs (environment; defaults): SOAK_MINUTES (30), SOAK_RATE (2000
# events/s), SOAK_KILL_EVERY (300 s), SOAK_RELOAD_EVERY (60 s),
# SOAK_SAMPLE_EVERY (10 s), SOAK_WARMUP (60 s), SOAK_MODE (alo or eos),
# SOAK_DIR (results; default a new /tmp/kta-soak.XXXXXX), SOAK_KEEP=1 keeps
# the broker's data and the oracle's copies of the topics (large).  Prints "soak: PASS" or
# "soak: FAIL ..." last; the figures are in SOAK_DIR/summary.txt.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export KTA=${KTA:-$root/build/kta}
export KTA_ROOT=$root
MINUTES=${SOAK_MINUTES:-30} RATE=${SOAK_RATE:-2000}
KILL_EVERY=${SOAK_KILL_EVERY:-300} RELOAD_EVERY=${SOAK_RELOAD_EVERY:-60}
SAMPLE_EVERY=${SOAK_SAMPLE_EVERY:-10} WARMUP=${SOAK_WARMUP:-60}
export MODE=${SOAK_MODE:-alo}
[[ $MODE == alo || $MODE == eos ]] || { echo "soak: SOAK_MODE must be alo or eos"; exit 2; }
out=${SOAK_DIR:-$(mktemp -d /tmp/kta-soak.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
[[ -x $KTA ]] || { echo "soak: $KTA not built"; exit 1; }

export KTA_KAFKA_PORT=${KTA_SOAK_PORT:-59492}
case $KTA_KAFKA_PORT in 9092 | 19092 | 29092 | 39092 | 49092 | 49192 | 59092)
    echo "soak: port $KTA_KAFKA_PORT belongs to another suite"; exit 1 ;;
esac
export KTA_KAFKA_NODES=1 KTA_KAFKA_SECURITY=0
export KTA_KAFKA_DIR=$out/kafka
kafka=$root/scripts/kafka-local.sh
eval "$("$kafka" env)"
export KTA_BOOTSTRAP KTA_SCENARIO=soak
cd "$out"
echo "soak: ${MINUTES} min at ${RATE}/s, mode $MODE, kill -9 every ${KILL_EVERY}s," \
    "reload every ${RELOAD_EVERY}s; results in $out"
"$kafka" up >broker.log 2>&1 || { cat broker.log; echo "soak: FAIL (broker did not start)"; exit 1; }

# The fault suite's helpers: start_kta, produce_bg, lag, wait_lag0,
# check_hits, the topics IN/HITS/DLQ and GROUP (prefix soak-MODE).
. "$root/tests/faults/lib.sh"
set +e   # the loop below checks what it needs; one failed probe must not end a 30-minute run
finish() {
    cleanup
    # The broker's data is the stream again (GBs for a full run): only
    # SOAK_KEEP=1 keeps it, with the oracle's copies.
    if [[ ${SOAK_KEEP:-0} == 1 ]]; then "$kafka" down; else "$kafka" down --purge; fi >>broker.log 2>&1
}
trap finish EXIT

# A private copy of the rules: the reloads edit it, the oracle reads it.
cp -r "$root/rules" rules
export ORACLE_RULES=$out/rules
edit=$(find rules -name '*.yml' -o -name '*.yaml' | sort | head -1)
[[ -n $edit ]] || { echo "soak: FAIL (no rule file to edit)"; exit 1; }
ARGS=(-t "$IN" -G "$GROUP" -r "$out/rules" -X output.topic="$HITS" -X dead_letter.topic="$DLQ"
    -X rules.watch_interval_ms=2000)
make_topics

life=0 reloads_done=0
# launch: the next lifetime of kta (its log is kta-LIFE.err).
launch() {
    life=$((life + 1))
    start_kta "kta-$life" a "${ARGS[@]}"
    life_start=$SECONDS
    echo "$((SECONDS - t0)),start,$life,$(pid_of "kta-$life")" >>events.csv
}
# reloads_seen: "rules version ... active" lines in every lifetime's log,
# less the one each start logs.
reloads_seen() {
    local n=0 f c
    for f in kta-*.err; do
        c=$(grep -c 'rules version .* active (' "$f" 2>/dev/null)
        n=$((n + c))
    done
    echo "$n"
}
sample() {
    local pid=$1 rss fds thr
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null) || return 0
    [[ -n $rss ]] || return 0
    fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
    thr=$(ls "/proc/$pid/task" 2>/dev/null | wc -l)
    echo "$((SECONDS - t0)),$life,$pid,$((SECONDS - life_start)),$rss,$fds,$thr" >>samples.csv
}

echo "elapsed_s,life,pid,life_s,rss_kib,fds,threads" >samples.csv
echo "elapsed_s,what,life,detail" >events.csv
t0=$SECONDS
N=$((RATE * MINUTES * 60))
launch
wait_log "kta-$life" 'assigned' 60
produce_bg producer "$N" 31 "$RATE"
# Reloads fall half-way between kills (at 30 s, 90 s, ... by default), so a
# kill never takes a reload's request with it.
next_sample=$((SECONDS + SAMPLE_EVERY)) next_reload=$((SECONDS + RELOAD_EVERY / 2))
next_kill=$((SECONDS + KILL_EVERY)) end=$((SECONDS + MINUTES * 60)) kills=0 sighups=0 edits=0
while ((SECONDS < end)) || alive producer; do
    if ((SECONDS >= next_sample)); then
        alive "kta-$life" && sample "$(pid_of "kta-$life")"
        next_sample=$((next_sample + SAMPLE_EVERY))
    fi
    if ((SECONDS < end && SECONDS >= next_reload)); then
        reloads_done=$((reloads_done + 1))
        if ((reloads_done % 2)); then
            echo "# soak reload $reloads_done" >>"$edit"
            edits=$((edits + 1))
            echo "$((SECONDS - t0)),reload-edit,$life,$edit" >>events.csv
        else
            kill -HUP "$(pid_of "kta-$life")"
            sighups=$((sighups + 1))
            echo "$((SECONDS - t0)),reload-sighup,$life," >>events.csv
        fi
        next_reload=$((next_reload + RELOAD_EVERY))
    fi
    if ((SECONDS < end && SECONDS >= next_kill)); then
        kill -KILL "$(pid_of "kta-$life")"
        wait "$(pid_of "kta-$life")" 2>/dev/null
        rm -f "kta-$life.pid"
        kills=$((kills + 1))
        echo "$((SECONDS - t0)),kill-9,$life," >>events.csv
        launch
        next_kill=$((next_kill + KILL_EVERY))
    fi
    if ! alive "kta-$life"; then
        tail -20 "kta-$life.err"
        echo "soak: FAIL (kta lifetime $life exited by itself after $((SECONDS - life_start)) s)"
        exit 1
    fi
    sleep 1
done
wait_pid_file producer 60
t_fed=$((SECONDS - t0))
echo "$t_fed,stream-end,$life," >>events.csv
# Keep sampling while the backlog drains.
drain_end=$((SECONDS + 600)) l=-1
while ((SECONDS < drain_end)); do
    sample "$(pid_of "kta-$life")"
    l=$(lag "$GROUP")
    [[ $l == 0 ]] && break
    alive "kta-$life" || { tail -20 "kta-$life.err"; echo "soak: FAIL (kta exited while draining)"; exit 1; }
    sleep "$SAMPLE_EVERY"
done
t_lag0=$((SECONDS - t0))
stop_kta "kta-$life" TERM 60
stop_rc=$RC

fails=()
[[ $l == 0 ]] || fails+=("lag still $l 600 s after the stream")
[[ $stop_rc == 0 ]] || fails+=("kta exited $stop_rc on SIGTERM")
seen=$(reloads_seen)
((seen >= reloads_done)) || fails+=("$reloads_done reloads requested, $seen took effect")
rejected=$(cat kta-*.err | grep -c 'rules reload .* rejected')
flat=$(python3 "$here/flat.py" samples.csv --warmup "$WARMUP" --min-samples 8)
flat_rc=$?
((flat_rc == 0)) || fails+=("resources not flat")
oracle=$(check_hits soak 2>&1)
oracle_rc=$?
((oracle_rc == 0)) || fails+=("oracle: hits wrong")
[[ ${SOAK_KEEP:-0} == 1 ]] || rm -f final.in final.values final.hits final.expected

{
    echo "soak: ${MINUTES} min at ${RATE}/s (${N} events), mode $MODE, $(nproc) cores, $("$KTA" --version 2>/dev/null | head -1)"
    echo "figures: stream_end=${t_fed}s lag0=${t_lag0}s kills=$kills lifetimes=$life reloads=$reloads_done (edits=$edits sighups=$sighups) took_effect=$seen rejected=$rejected stop_rc=$stop_rc"
    echo "$flat"
    echo "$oracle"
    if ((${#fails[@]})); then
        echo "soak: FAIL ($(IFS=';'; echo "${fails[*]}"))"
    else
        echo "soak: PASS"
    fi
} | tee summary.txt
((${#fails[@]} == 0))
