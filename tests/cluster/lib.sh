# Helpers for the cluster scenarios; sourced by each tests/cluster/0*.sh.
# tests/cluster/run.sh exports KTA, KTA_ROOT, KTA_BOOTSTRAP (all three
# brokers), KTA_KAFKA_PORT, KTA_KAFKA_DIR, KTA_KAFKA_NODES=3, and runs each
# scenario in its own scratch directory with MODE (alo or eos) and
# KTA_SCENARIO.  The fault suite's helpers (start_kta, produce_bg, lag,
# wait_lag0, check_hits, the topics IN/HITS/DLQ...) are shared: with three
# nodes its topics get replication factor 3 and min.insync.replicas=2.
. "$KTA_ROOT/tests/faults/lib.sh"

# leader TOPIC PARTITION: the broker id leading it (-1 while none does).
leader() { "$KAFKA" leader "$1" "$2" 2>/dev/null || true; }

# kill_and_wait OLD WHAT CMD...: kill -9 node OLD, then wait up to 60 s
# until CMD prints a node id other than OLD (WHAT says what CMD tells, for
# the failure message).  Sets KILL_T0 (SECONDS at the kill), NEW (the id)
# and MOVED (seconds from the kill).  Not in $(...): fail must end the
# scenario.
kill_and_wait() {
    local old=$1 what=$2 end
    shift 2
    KILL_T0=$SECONDS
    "$KAFKA" node-kill "$old" >>cluster.log 2>&1 || fail "node-kill $old failed"
    end=$((SECONDS + 60))
    while :; do
        NEW=$("$@")
        [[ $NEW =~ ^[0-9]+$ && $NEW != "$old" ]] && break
        ((SECONDS < end)) || fail "$what: still node $old or none after 60 s"
        sleep 0.5
    done
    MOVED=$((SECONDS - KILL_T0))
}

# wait_isr_full TOPIC PARTITIONS SECONDS: until every partition has all
# three replicas in sync (a restarted broker caught up).
wait_isr_full() {
    local end=$((SECONDS + $3)) p isr full
    while ((SECONDS < end)); do
        full=1
        for ((p = 0; p < $2; p++)); do
            isr=$("$KAFKA" isr "$1" "$p" 2>/dev/null || true)
            [[ $(tr ',' '\n' <<<"$isr" | grep -c .) == 3 ]] || full=0
        done
        ((full)) && return 0
        sleep 1
    done
    fail "$1: in-sync replicas not back to 3 within $3 s"
}

# group_coordinator GROUP / txn_coordinator TRANSACTIONAL-ID: the broker id
# coordinating it (-1 while none does).  A coordinator is the leader of one
# partition of __consumer_offsets / __transaction_state: the id's Java
# String.hashCode, sign bit cleared, modulo the topic's 50 partitions (the
# brokers' default).  Asking kcat for that leader is quick and, unlike the
# JVM admin tools, does not stall while a broker is down.
coordinator_partition() {
    local s=$1 h=0 i c
    for ((i = 0; i < ${#s}; i++)); do
        printf -v c '%d' "'${s:i:1}"
        h=$(((h * 31 + c) & 0xffffffff))
    done
    echo $(((h & 0x7fffffff) % 50))
}
group_coordinator() { leader __consumer_offsets "$(coordinator_partition "$1")"; }
txn_coordinator() { leader __transaction_state "$(coordinator_partition "$1")"; }
# coordinator_of group|txn: kta's group coordinator, or its transaction one.
coordinator_of() {
    if [[ $1 == group ]]; then group_coordinator "$GROUP"; else txn_coordinator "$P-a"; fi
}

# restart_after LABEL BROKER T0 DOWN: keep BROKER down until DOWN seconds
# after the kill, start it again and wait until every replica of IN and
# HITS is back in sync.
restart_after() {
    local label=$1 id=$2 t0=$3 down=$4
    while ((SECONDS - t0 < down)); do sleep 0.5; done
    "$KAFKA" node-start "$id" >>cluster.log 2>&1 || fail "node-start $id failed: $(tail -3 cluster.log)"
    note "$label: broker $id restarted after $((SECONDS - t0))s"
    wait_isr_full "$IN" 3 120
    wait_isr_full "$HITS" 3 120
    note "$label: all replicas in sync again $((SECONDS - t0))s after the kill"
}

# coordinators: "group_coordinator=G txn_coordinator=T" as they are now.
coordinators() {
    local tc=-
    [[ $MODE == eos ]] && tc=$(txn_coordinator "$P-a")
    echo "group_coordinator=$(group_coordinator "$GROUP") txn_coordinator=$tc"
}

# kill_leader LABEL TOPIC PARTITION DOWN: kill -9 the broker leading the
# partition, wait for the new leader, restart the broker DOWN seconds after
# the kill and wait until it is back in sync.  Figures: which broker, whether
# it also coordinated kta's group or (exactly-once) its transactions, how
# long the partition had no leader.
kill_leader() {
    local label=$1 topic=$2 part=$3 down=$4 old coord
    old=$(leader "$topic" "$part")
    [[ $old =~ ^[0-9]+$ ]] || fail "$topic/$part has no leader to kill"
    coord=$(coordinators)
    note "$label: kill -9 broker $old, leader of $topic/$part ($coord)"
    kill_and_wait "$old" "leader of $topic/$part" leader "$topic" "$part"
    note "$label: broker $NEW leads $topic/$part after ${MOVED}s"
    restart_after "$label" "$old" "$KILL_T0" $((MOVED + down))
    figures "$label: killed=$old topic=$topic/$part $coord new_leader=$NEW failover=${MOVED}s back_in_sync=$((SECONDS - KILL_T0))s"
}

# kill_coordinator LABEL group|txn DOWN: kill -9 the broker coordinating
# kta's group (or its transactional id), wait until another broker does,
# restart it DOWN seconds after the kill, wait until it is back in sync.
kill_coordinator() {
    local label=$1 kind=$2 down=$3 old
    old=$(coordinator_of "$kind")
    [[ $old =~ ^[0-9]+$ ]] || fail "no $kind coordinator to kill"
    note "$label: kill -9 broker $old, the $kind coordinator"
    kill_and_wait "$old" "$kind coordinator" coordinator_of "$kind"
    note "$label: broker $NEW coordinates after ${MOVED}s"
    restart_after "$label" "$old" "$KILL_T0" $((MOVED + down))
    figures "$label: killed=$old ${kind}_coordinator new=$NEW moved=${MOVED}s back_in_sync=$((SECONDS - KILL_T0))s"
}

# log_counts NAME: how often kta's log shows the failure paths of interest.
log_counts() {
    local f=$1.err
    printf 'rebalances=%s failed_commits=%s aborted=%s producer_restarts=%s transaction_warnings=%s kta_errors=%s retries=%s' \
        "$(grep -c 'info: revoking' "$f" || true)" \
        "$(grep -c 'offset commit failed' "$f" || true)" \
        "$(grep -c 'transaction aborted' "$f" || true)" \
        "$(grep -c 'restarting the producer' "$f" || true)" \
        "$(grep -c 'transaction: .* failed' "$f" || true)" \
        "$(grep ' error: ' "$f" | grep -vc 'librdkafka: FAIL' || true)" \
        "$(grep -o '[0-9]* delivery retries' "$f" | tail -1 | cut -d' ' -f1)"
}

# stop_stream NAME: end the background producer NAME now, for a stream that
# should last until the faults are over however long they took (a loaded
# host restarts a broker in 10 s or in 60).  SIGTERM ends kta produce at
# once; records it had not sent are simply not part of the input, and the
# oracle reads the input back from the topic.
stop_stream() {
    alive "$1" && kill -TERM "$(pid_of "$1")" 2>/dev/null || true
    wait_pid_file "$1" 30
}

# finish_scenario NAME STREAM: the common end of a scenario whose kta "a"
# (pid apid, started at t_start) rode out the faults: wait for lag 0, check
# it was never restarted, stop it (exit 0), print the figures (STREAM
# describes the input) and kta's own warnings, and check the hits.
finish_scenario() {
    local name=$1 stream=$2 t_fed=$SECONDS counts
    wait_lag0 "$GROUP" 180 a
    note "lag 0, $((SECONDS - t_fed)) s after the producer finished"
    [[ $(pid_of a) == "$apid" ]] || fail "kta was restarted"
    counts=$(log_counts a)
    stop_kta a TERM 30
    [[ $RC == 0 ]] || { tail -20 a.err; fail "kta exited $RC at the end"; }
    figures "stream=$stream total=$((SECONDS - t_start))s lag0_after_feed=$((SECONDS - t_fed))s kta_restarted=no $counts"
    # kta's own warnings (not librdkafka's connection noise), for the record.
    { grep -E 'warn|transaction|rewind' a.err | grep -v 'librdkafka: FAIL' || true; } | head -20 | sed 's/^/  log: /'
    check_hits "$name" || fail "hits wrong after the faults ($name)"
}
