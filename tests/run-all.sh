#!/usr/bin/env bash
# `make test`: every suite, in order of cost — unit, CLI, install (a
# DESTDIR install and the .deb), rule-data and integration tests on the
# normal build; Trino over the hits (tests/query); all but install again
# under ASan+UBSan; unit and threaded integration tests under TSan; the
# reduced fault suite (both delivery modes); a short run of each fuzzer; a
# smoke run of the benchmark.  Prints each suite's "N passed, N failed" and
# a grand total last.
set -u
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run() {
    echo "== $*"
    "$MAKE" --no-print-directory "$@" 2>&1 | tee -a "$log"
    [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
}
run test-unit
run test-cli
run test-install
run test-rules
run test-integration
run test-query
run test-sanitize
run test-tsan
run test-faults-quick
run fuzz-smoke
run bench-smoke
pass=0 fail=0
while read -r p f; do pass=$((pass + p)); fail=$((fail + f)); done < <(
    grep -E '^(unit|cli|install|rules|integration|query|faults|fuzz|bench|bench-e2e): [0-9]+ passed, [0-9]+ failed' "$log" |
    sed -E 's/^[a-z0-9-]+: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/')
[[ $status -ne 0 && $fail -eq 0 ]] && fail=1
echo
echo "total: $pass passed, $fail failed"
exit $status
