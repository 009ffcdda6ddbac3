# Helpers for the fault scenarios; sourced by each tests/faults/s*.sh.
# tests/faults/run.sh exports KTA, KTA_ROOT, KTA_BOOTSTRAP, KTA_KAFKA_PORT,
# KTA_KAFKA_DIR, and runs each scenario in its own scratch directory with
#   MODE   alo (at-least-once) or eos (processing.guarantee=exactly_once)
#   QUICK  1 for the reduced run inside `make test`, 0 for the full one
# Each scenario prints "figures: ..." lines; the runner collects them.
set -euo pipefail
B=$KTA_BOOTSTRAP
KAFKA=$KTA_ROOT/scripts/kafka-local.sh
HERE=$KTA_ROOT/tests/faults
MODE=${MODE:-alo}
QUICK=${QUICK:-0}
P=$KTA_SCENARIO-$MODE            # prefix of this run's topics, groups, transactional ids

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
note() { echo "-- $(date +%T) $*"; }
figures() { echo "figures: $*"; }

topic() { "$KAFKA" topic-create "$1" "${2:-1}" >/dev/null; }
topic_delete() { "$KAFKA" tool kafka-topics --bootstrap-server "$B" --delete --topic "$1" >/dev/null; }

# The options every kta of a scenario gets: short session timeout so a
# killed member leaves the group in seconds, and the delivery mode.
# kta_args INSTANCE: prints them one per line (for mapfile).
kta_args() {
    printf '%s\n' --print none -X commit_interval_ms=500 \
        -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000
    if [[ $MODE == eos ]]; then
        printf '%s\n' -X processing.guarantee=exactly_once -X transactional.id="$P-$1"
    fi
}

# start_kta NAME INSTANCE ARGS...: kta run in the background; output in
# NAME.out / NAME.err, pid in NAME.pid.  INSTANCE names the transactional id.
start_kta() {
    local name=$1 inst=$2 extra
    shift 2
    mapfile -t extra < <(kta_args "$inst")
    "$KTA" run -b "$B" "${extra[@]}" "$@" >"$name.out" 2>"$name.err" &
    echo $! >"$name.pid"
    echo "$name: kta run -b $B ${extra[*]} $*" >>commands.log
}

alive() { [[ -f $1.pid ]] && kill -0 "$(cat "$1.pid")" 2>/dev/null; }
pid_of() { cat "$1.pid"; }

# wait_log NAME PATTERN [SECONDS]: until NAME.err contains PATTERN.
wait_log() {
    local end=$((SECONDS + ${3:-60}))
    while ((SECONDS < end)); do
        grep -q -- "$2" "$1.err" 2>/dev/null && return 0
        alive "$1" || { tail -20 "$1.err" >&2; fail "$1 exited while waiting for '$2'"; }
        sleep 0.2
    done
    tail -20 "$1.err" >&2
    fail "$1: no '$2' in its log within ${3:-60} s"
}

# stop_kta NAME [SIGNAL [SECONDS]]: signal kta, wait up to SECONDS (default
# 60) for it to exit.  Sets RC (exit status; 137 after SIGKILL, 124 on
# timeout, then it is killed) and STOP_SECS (how long the exit took).
stop_kta() {
    local pid t0=$SECONDS end i
    pid=$(cat "$1.pid")
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    end=$((SECONDS + ${3:-60}))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        RC=124
    else
        RC=0
        wait "$pid" 2>/dev/null || RC=$?
    fi
    STOP_SECS=$((SECONDS - t0))
    rm -f "$1.pid"
}

# No kta or producer outlives its scenario, whatever happened.
cleanup() {
    local f
    for f in *.pid; do
        [[ -f $f ]] && { kill -KILL "$(cat "$f")" 2>/dev/null || true; }
    done
    return 0
}
trap cleanup EXIT

# produce_bg NAME N SEED RATE: kta produce --generate in the background.
produce_bg() {
    "$KTA" produce -b "$B" -t "$IN" --generate "$2" --seed "$3" --malicious 0.05 \
        ${4:+--rate "$4"} >"$1.out" 2>"$1.err" &
    echo $! >"$1.pid"
}
wait_pid_file() { # wait_pid_file NAME SECONDS: until that background job ended
    local end=$((SECONDS + $2))
    while alive "$1" && ((SECONDS < end)); do sleep 0.5; done
    alive "$1" && fail "$1 still running after $2 s"
    wait "$(cat "$1.pid")" 2>/dev/null || true
    rm -f "$1.pid"
}

# describe GROUP: kafka-consumer-groups --describe rows for the input topic:
# "partition current-offset log-end-offset lag".
describe() {
    "$KAFKA" tool kafka-consumer-groups --bootstrap-server "$B" --describe --group "$1" 2>/dev/null |
        awk -v t="$IN" '$2 == t { print $3, $4, $5, $6 }' | sort -n
}
# committed GROUP: "p:o p:o ..." (o is "-" where nothing is committed).
committed() { describe "$1" | awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }'; }
# lag GROUP: total lag, or -1 while a partition has no committed offset
# (or the broker does not answer).
lag() {
    describe "$1" | awk '{ if ($4 !~ /^[0-9]+$/) bad = 1; s += $4; n++ }
                         END { print (bad || n == 0) ? -1 : s }'
}
# wait_lag0 GROUP SECONDS [NAME]: until the group's lag is 0; fails when it
# is not within SECONDS or when kta NAME exits meanwhile.
wait_lag0() {
    local end=$((SECONDS + $2)) l=-1
    while ((SECONDS < end)); do
        l=$(lag "$1")
        [[ $l == 0 ]] && return 0
        if [[ -n ${3:-} ]] && ! alive "$3"; then
            tail -20 "$3.err" >&2
            fail "$3 exited while its lag was $l"
        fi
        sleep 1
    done
    fail "lag of $1 still $l after $2 s (committed: $(committed "$1"))"
}

# snapshot TAG: the input topic (partition, offset, value) and the output
# topic as they are now, into TAG.in / TAG.hits, and the oracle's hits
# for that input into TAG.expected.  Exactly-once reads read_committed.
snapshot() {
    local iso=read_uncommitted
    [[ $MODE == eos ]] && iso=read_committed
    kcat -b "$B" -C -t "$IN" -e -o beginning -q -f '%p\t%o\t%s\n' >"$1.in" 2>/dev/null
    kcat -b "$B" -C -t "$HITS" -e -o beginning -q -X isolation.level=$iso >"$1.hits" 2>/dev/null
    cut -f3- "$1.in" >"$1.values"
    "$KTA" eval -r "${ORACLE_RULES:-$KTA_ROOT/rules}" "$1.values" >"$1.expected" 2>/dev/null
}

# check_hits LABEL: the final oracle over the whole input and output.
# At-least-once tolerates (and reports) duplicates; exactly-once does not.
check_hits() {
    local dups=
    [[ $MODE == eos ]] && dups=--no-dups
    snapshot final
    python3 "$HERE/check.py" hits final.in final.hits final.expected --label "$1" $dups
}

# check_prefix GROUP: committed offsets (read first) never passed a record
# whose hits are not in the output (read after).
check_prefix() {
    local c end=$((SECONDS + 30))
    c=$(committed "$1")
    while [[ -z $c ]] && ((SECONDS < end)); do sleep 1; c=$(committed "$1"); done   # broker just back
    snapshot prefix
    python3 "$HERE/check.py" prefix prefix.in prefix.hits prefix.expected "$c"
}

# The scenario's topics: IN (3 partitions), HITS, DLQ; GROUP.
IN=$P-events HITS=$P-hits DLQ=$P-dlq GROUP=$P-kta
make_topics() { topic "$IN" 3; topic "$HITS" 3; topic "$DLQ" 1; }
RULE_ARGS=(-t "$IN" -G "$GROUP" -r "$KTA_ROOT/rules" -X output.topic="$HITS" -X dead_letter.topic="$DLQ")
