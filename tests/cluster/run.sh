#!/usr/bin/env bash
# Cluster fault suite: kta against a three-broker KRaft cluster that this
# script starts (scripts/kafka-local.sh with KTA_KAFKA_NODES=3) on
# KTA_TEST_PORT (default 49192; nodes on PORT, PORT+4, PORT+8) with a
# throwaway state dir, and stops at the end.  Every scenario runs in both
# delivery modes (alo = at-least-once, eos = exactly-once) unless one is named.
#
#   tests/cluster/run.sh [SCENARIO[:MODE]...]
#       e.g. tests/cluster/run.sh 0001-leader-kill:eos
#
# Topics get replication factor 3 and min.insync.replicas=2.  Knobs
# (environment): CLUSTER_EVENTS, CLUSTER_RATE (stream size and events/s;
# 0003 and 0004 stream until CLUSTER_TAIL s after their last fault, with
# CLUSTER_EVENTS as a cap), CLUSTER_DOWN (how long a killed broker stays
# down), CLUSTER_KEEP=1 (keep the work dirs of passed scenarios too).
# Prints each scenario's figures and "cluster: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export KTA=${KTA:-$root/build/kta}
export KTA_ROOT=$root
export KTA_KAFKA_NODES=3
export KTA_KAFKA_PORT=${KTA_TEST_PORT:-49192}
export KTA_KAFKA_DIR=$(mktemp -d /tmp/kta-cluster-kafka.XXXXXX)
export KTA_KAFKA_SECURITY=0
# A broker restarted after kill -9 on a busy 2-core host took up to 90 s
# to register again (it replays the metadata log and catches up first).
export KTA_KAFKA_READY_TIMEOUT=${KTA_KAFKA_READY_TIMEOUT:-240}
kafka=$root/scripts/kafka-local.sh
eval "$("$kafka" env)"   # KTA_BOOTSTRAP: all three brokers
export KTA_BOOTSTRAP

case $KTA_KAFKA_PORT in 9092 | 19092 | 29092 | 39092 | 49092 | 59092)
    echo "cluster: port $KTA_KAFKA_PORT belongs to another suite"; echo "cluster: 0 passed, 1 failed"; exit 1 ;;
esac
[[ -x $KTA ]] || { echo "cluster: $KTA not built"; echo "cluster: 0 passed, 1 failed"; exit 1; }
stop() { "$kafka" down --purge >/dev/null 2>&1; }
trap stop EXIT
rmdir "$KTA_KAFKA_DIR"   # kafka-local.sh wants to create it itself
t0=$(date +%s)
if ! "$kafka" up; then
    echo "cluster: 0 passed, 1 failed (cluster did not start)"
    exit 1
fi

all=()
for t in "$here"/0*.sh; do all+=("$(basename "$t" .sh)"); done
runs=()
if (($#)); then
    for a in "$@"; do
        a=$(basename "$a" .sh)
        if [[ $a == *:* ]]; then runs+=("$a"); else runs+=("$a:alo" "$a:eos"); fi
    done
else
    for s in "${all[@]}"; do runs+=("$s:alo" "$s:eos"); done
fi

pass=0 fail=0 summary=()
for r in "${runs[@]}"; do
    s=${r%%:*} mode=${r#*:}
    t=$here/$s.sh
    [[ -f $t ]] || { echo "FAIL $r: no $t"; fail=$((fail + 1)); continue; }
    # Every node must be up between scenarios (they kill and restart nodes).
    "$kafka" status >/dev/null 2>&1 || "$kafka" up >/dev/null 2>&1
    start=$(date +%s)
    work=$(mktemp -d "/tmp/kta-cluster-$s-$mode.XXXXXX")
    echo "== $s ($mode)"
    if (cd "$work" && KTA_SCENARIO=c${s%%-*} MODE=$mode bash "$t") >"$work/test.log" 2>&1; then
        res=ok
        pass=$((pass + 1))
    else
        res=FAIL
        fail=$((fail + 1))
    fi
    secs=$(($(date +%s) - start))
    grep -E '^(figures|ok|FAIL|known|  )' "$work/test.log" | sed 's/^/    /'
    if [[ $res == FAIL ]]; then
        echo "    --- last lines of $work/test.log:"
        tail -n 25 "$work/test.log" | sed 's/^/    | /'
    fi
    echo "$res $s ($mode, $secs s); work dir $work"
    summary+=("$res $s $mode ${secs}s: $(grep '^figures:' "$work/test.log" | sed 's/^figures: //' | tr '\n' ';')")
    [[ $res == ok && ${CLUSTER_KEEP:-0} != 1 ]] && rm -rf "$work"
done
echo
printf '%s\n' "${summary[@]}"
echo "cluster: $pass passed, $fail failed ($(($(date +%s) - t0)) s)"
[[ $fail -eq 0 ]]
