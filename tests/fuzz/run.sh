#!/usr/bin/env bash
# Runs each libFuzzer harness named on the command line for SECONDS, from
# a scratch copy of its seed corpus (tests/fuzz/corpus/NAME, where NAME is
# the harness minus "fuzz_"), so the committed seeds stay small.  Crash,
# leak and timeout inputs land in $FUZZ_BUILD/artifacts/.
# Prints "fuzz: N passed, N failed (E executions in S s)".
#   usage: tests/fuzz/run.sh SECONDS fuzz_event fuzz_rules ...
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${FUZZ_BUILD:-$root/build/fuzz}
secs=${1:?usage: run.sh SECONDS FUZZER...}; shift
pass=0 fail=0 execs=0 start=$(date +%s)
mkdir -p "$build/artifacts"
for f in "$@"; do
    name=${f#fuzz_}
    work=$build/corpus/$name
    mkdir -p "$work"
    cp -n "$here/corpus/$name"/* "$work"/ 2>/dev/null
    case $name in
        event) maxlen=16384 ;;
        *)     maxlen=8192 ;;
    esac
    log=$build/$f.log
    (cd "$root" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$build/$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=$maxlen -print_final_stats=1 -artifact_prefix="$build/artifacts/$f-" \
        -dict="$here/$name.dict" "$work" "$here/corpus/$name") >"$log" 2>&1
    rc=$?
    n=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
    execs=$((execs + ${n:-0}))
    if [[ $rc -eq 0 ]]; then
        echo "ok   $f (${n:-0} executions)"
        pass=$((pass + 1))
    else
        echo "FAIL $f (exit $rc, ${n:-0} executions); log: $log"
        grep -E 'ERROR|SUMMARY|abort|Test unit written' "$log" | head -n 20 | sed 's/^/    | /'
        fail=$((fail + 1))
    fi
done
echo "fuzz: $pass passed, $fail failed ($execs executions in $(($(date +%s) - start)) s)"
[[ $fail -eq 0 ]]
