# Helpers for integration tests; sourced by each tests/integration/0*.sh.
# The runner exports KTA (binary), KTA_BOOTSTRAP, KTA_ROOT, KTA_TEST_NAME,
# and runs each test in its own scratch directory.
set -euo pipefail
B=$KTA_BOOTSTRAP
T=${KTA_TEST_NAME%%-*}              # "0001": prefix for this test's topics and groups
KAFKA=$KTA_ROOT/scripts/kafka-local.sh
export KTA_CONFIG=${KTA_CONFIG:-none}   # never the machine's default kta.yaml

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
expect_eq() { # expect_eq WHAT EXPECTED ACTUAL
    [[ "$2" == "$3" ]] || fail "$1: expected [$2], got [$3]"
    ok "$1"
}

topic() { "$KAFKA" topic-create "$1" "${2:-1}" >/dev/null; }

# consume TOPIC [KCAT-FORMAT]: every record now in TOPIC, one line each.
consume() { kcat -b "$B" -C -t "$1" -e -o beginning -q -f "${2:-%s\n}" 2>/dev/null; }
count() { consume "$1" | wc -l | tr -d ' '; }

# wait_count TOPIC N [SECONDS]: until TOPIC holds at least N records.
wait_count() {
    local end=$((SECONDS + ${3:-60})) n=0
    while ((SECONDS < end)); do
        n=$(count "$1")
        ((n >= $2)) && return 0
        sleep 0.5
    done
    fail "$1: expected $2 records within ${3:-60} s, found $n"
}

# start_kta NAME ARGS...: kta run in the background, output in NAME.out/NAME.err.
start_kta() {
    local name=$1; shift
    "$KTA" run -b "$B" "$@" >"$name.out" 2>"$name.err" &
    echo $! >"$name.pid"
}

# wait_log NAME PATTERN [SECONDS]: until NAME.err contains PATTERN.
wait_log() {
    local end=$((SECONDS + ${3:-60}))
    while ((SECONDS < end)); do
        grep -q -- "$2" "$1.err" 2>/dev/null && return 0
        kill -0 "$(cat "$1.pid")" 2>/dev/null || { cat "$1.err" >&2; fail "$1 exited while waiting for '$2'"; }
        sleep 0.2
    done
    cat "$1.err" >&2
    fail "$1: no '$2' in its log within ${3:-60} s"
}

# stop_kta NAME [SIGNAL]: signal kta and wait; its exit status goes to $RC.
stop_kta() {
    local pid
    pid=$(cat "$1.pid")
    kill "-${2:-TERM}" "$pid" 2>/dev/null || true
    RC=0
    wait "$pid" || RC=$?
    rm -f "$1.pid"
}

# No kta outlives its test, whatever happened.
cleanup_kta() {
    local f
    for f in *.pid; do
        [[ -f $f ]] && { kill -KILL "$(cat "$f")" 2>/dev/null || true; }
    done
    return 0
}
trap cleanup_kta EXIT

# committed GROUP TOPIC: "partition:offset ..." as the group has committed them.
committed() {
    "$KAFKA" tool kafka-consumer-groups --bootstrap-server "$B" --describe --group "$1" 2>/dev/null |
        awk -v t="$2" '$2 == t { print $3 ":" $4 }' | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# committed_total GROUP TOPIC: the sum of the group's committed offsets
# over TOPIC's partitions ("-", nothing committed yet, counts 0).
committed_total() {
    local po t=0
    for po in $(committed "$1" "$2"); do
        [[ ${po#*:} =~ ^[0-9]+$ ]] && t=$((t + ${po#*:}))
    done
    echo "$t"
}

# wait_committed GROUP TOPIC N SECONDS [NAME]: until the group has committed
# N records of TOPIC; with NAME, fails as soon as that kta has exited.
wait_committed() {
    local end=$((SECONDS + $4)) total
    while :; do
        total=$(committed_total "$1" "$2")
        ((total >= $3)) && return 0
        ((SECONDS < end)) || fail "committed offsets stuck at $total of $3"
        if [[ -n ${5:-} ]] && ! kill -0 "$(cat "$5.pid")" 2>/dev/null; then
            tail -20 "$5.err" >&2
            fail "kta exited"
        fi
        sleep 1
    done
}

# stop_owners LABEL GROUP NAME...: SIGTERM each kta NAME (exit 0 expected),
# each of which must have read correlation state back from GROUP's changelog.
stop_owners() {
    local label=$1 group=$2 name
    shift 2
    for name in "$@"; do
        stop_kta "$name"
        expect_eq "$label: $name exit" 0 "$RC"
    done
    for name in "$@"; do
        grep -q "restored from '$group-kta-correlation-changelog'" "$name.err" ||
            fail "$label: $name restored no state"
    done
}

# kill_runs N PATTERN ARGS...: N times, starts kta (run1..runN) with ARGS
# and kill -9s it 0.1-0.9 s after its log shows PATTERN (an assignment).
kill_runs() {
    local n=$1 pattern=$2 i
    shift 2
    for ((i = 1; i <= n; i++)); do
        start_kta "run$i" "$@"
        wait_log "run$i" "$pattern"
        sleep "0.$((RANDOM % 9 + 1))"
        stop_kta "run$i" KILL
    done
}
