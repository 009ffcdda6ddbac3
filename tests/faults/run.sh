#!/usr/bin/env bash
# Fault-injection suite: kta against a real broker that this script starts
# on port 49092 (KTA_FAULTS_PORT) with a throwaway state dir, and stops at
# the end.  Every scenario runs in both delivery modes (alo = at-least-once,
# eos = exactly-once) unless it says otherwise.
#
#   tests/faults/run.sh [--quick] [SCENARIO[:MODE]...]
#       e.g. tests/faults/run.sh s3-broker-restart:eos
#
# --quick is the reduced run inside `make test`.  Knobs (environment):
#   FAULTS_KILL_EVENTS / FAULTS_KILL_TRIALS   s1 stream size and kill count
#   FAULTS_BACKLOG                            s6 backlog size (default 2000000)
#   FAULTS_BROKER_DOWN                        s3 broker downtime in s
#   FAULTS_LONG_DOWN                          s9 broker downtime in s (default 120, quick 45)
#   FAULTS_STALL                              s10 length of each broker stall in s (default 15)
# Prints each scenario's figures and "faults: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
quick=0
if [[ ${1:-} == --quick ]]; then quick=1; shift; fi
export KTA=${KTA:-$root/build/kta}
export KTA_ROOT=$root
export KTA_KAFKA_PORT=${KTA_FAULTS_PORT:-49092}
export KTA_KAFKA_DIR=$(mktemp -d /tmp/kta-faults-kafka.XXXXXX)
export KTA_BOOTSTRAP=127.0.0.1:$KTA_KAFKA_PORT
export QUICK=$quick
kafka=$root/scripts/kafka-local.sh

case $KTA_KAFKA_PORT in 9092 | 19092 | 29092 | 39092 | 59092)
    echo "faults: port $KTA_KAFKA_PORT belongs to someone else"; echo "faults: 0 passed, 1 failed"; exit 1 ;;
esac
[[ -x $KTA ]] || { echo "faults: $KTA not built"; echo "faults: 0 passed, 1 failed"; exit 1; }
stop() { "$kafka" down --purge >/dev/null 2>&1; }
trap stop EXIT
rmdir "$KTA_KAFKA_DIR"   # kafka-local.sh wants to create it itself
if ! "$kafka" up; then
    echo "faults: 0 passed, 1 failed (broker did not start)"
    exit 1
fi

if ((quick)); then
    all=(s1-kill9 s2-sigterm s3-broker-restart s5-join-leave s7-dlq)
else
    all=(s1-kill9 s2-sigterm s3-broker-restart s4-broker-timeout s5-join-leave s6-backlog s7-dlq
         s8-sigterm-broker-down s9-long-outage s10-broker-stall)
fi
runs=()
if (($#)); then
    for a in "$@"; do
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
    # The broker must be up between scenarios (s3/s4 restart it themselves).
    "$kafka" status >/dev/null 2>&1 || "$kafka" up >/dev/null 2>&1
    start=$(date +%s)
    work=$(mktemp -d "/tmp/kta-faults-$s-$mode.XXXXXX")
    echo "== $s ($mode)"
    if (cd "$work" && KTA_SCENARIO=${s%%-*} MODE=$mode bash "$t") >"$work/test.log" 2>&1; then
        res=ok
        pass=$((pass + 1))
    else
        res=FAIL
        fail=$((fail + 1))
    fi
    secs=$(($(date +%s) - start))
    grep -E '^(figures|prefix|ok|FAIL|  )' "$work/test.log" | sed 's/^/    /'
    if [[ $res == FAIL ]]; then
        echo "    --- last lines of $work/test.log:"
        tail -n 25 "$work/test.log" | sed 's/^/    | /'
    fi
    echo "$res $s ($mode, $secs s); work dir $work"
    summary+=("$res $s $mode ${secs}s: $(grep '^figures:' "$work/test.log" | sed 's/^figures: //' | tr '\n' ';')")
    [[ $res == ok && ${FAULTS_KEEP:-0} != 1 ]] && rm -rf "$work"
done
echo
printf '%s\n' "${summary[@]}"
echo "faults: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
