#!/usr/bin/env bash
# Runs the unit-test programs given as arguments; each prints
# "NAME: N passed, N failed".  Prints the total the same way.
set -u
pass=0 fail=0 broken=0
for t in "$@"; do
    out=$("$t" 2>&1); rc=$?
    line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
    if [[ $rc -ne 0 || -z $line ]]; then
        printf '%s\n' "$out"
        [[ -z $line ]] && { echo "$t: crashed or printed no result (exit $rc)"; broken=$((broken + 1)); }
    else
        echo "$line"
    fi
    p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
    pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
done
fail=$((fail + broken))
echo "unit: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
