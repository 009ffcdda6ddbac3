# Shared by the tests/cli suites (run.sh, lint.sh): the binary under test
# (KTA, absolute), no default configuration file, a scratch directory as
# the working directory, and the check/has helpers that count results.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KTA=${KTA:-$root/build/kta}
KTA=$(cd "$(dirname "$KTA")" && pwd)/$(basename "$KTA")
# Never the real default configuration file: tests choose their own.
export KTA_CONFIG=none
work=$(mktemp -d "/tmp/kta-${CLI_SUITE:-cli}.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0
check() { # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
has() { grep -qF -- "$1" "$2"; }
