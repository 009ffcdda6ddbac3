#!/usr/bin/env bash
# Integration tests against a real Kafka broker.  Starts a throwaway broker
# on KTA_TEST_PORT (default 19092; SSL and SASL_SSL listeners on PORT+2 and
# PORT+3) with its own state dir, so a running demo broker on 9092 is never
# touched, runs every tests/integration/0*.sh (or those named as arguments)
# and stops the broker again.
# Prints "integration: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export KTA=${KTA:-$root/build/kta}
export KTA_KAFKA_PORT=${KTA_TEST_PORT:-19092}
# One private directory per run holds the broker and every test's scratch
# directory, so concurrent runs (or clean-ups of other runs) never meet.
top=$(mktemp -d "${TMPDIR:-/tmp}/kta-itest.XXXXXX")
export KTA_KAFKA_DIR=${KTA_TEST_KAFKA_DIR:-$top/kafka}
# SSL on PORT+2 and SASL_SSL (SCRAM) on PORT+3 as well, for 0010-security;
# costs no measurable start-up time.  KTA_KAFKA_SECURITY=0 turns them off.
export KTA_KAFKA_SECURITY=${KTA_KAFKA_SECURITY:-1}
export KTA_BOOTSTRAP=127.0.0.1:$KTA_KAFKA_PORT
export KTA_ROOT=$root
kafka=$root/scripts/kafka-local.sh

[[ -x $KTA ]] || { echo "integration: $KTA not built"; echo "integration: 0 passed, 1 failed"; exit 1; }
fail=1
# Failed tests keep their scratch directories (and logs) for a look.
stop() { "$kafka" down --purge >/dev/null 2>&1; [[ $fail -eq 0 ]] && rm -rf "$top"; }
trap stop EXIT
if ! "$kafka" up; then
    echo "integration: 0 passed, 1 failed (broker did not start)"
    exit 1
fi

tests=()
for t in "$@"; do tests+=("$(cd "$(dirname "$t")" && pwd)/$(basename "$t")"); done
[[ ${#tests[@]} -gt 0 ]] || tests=("$here"/0*.sh)
pass=0 fail=0
for t in "${tests[@]}"; do
    name=$(basename "$t" .sh)
    start=$(date +%s)
    work=$top/$name
    mkdir -p "$work"
    if (cd "$work" && KTA_TEST_NAME=$name bash "$t") >"$work/test.log" 2>&1; then
        echo "ok   $name ($(($(date +%s) - start)) s)"
        pass=$((pass + 1))
        rm -rf "$work"
    else
        echo "FAIL $name ($(($(date +%s) - start)) s); log: $work/test.log"
        sed 's/^/    | /' "$work/test.log" | tail -n 60
        fail=$((fail + 1))
    fi
done
echo "integration: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
