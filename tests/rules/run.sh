#!/usr/bin/env bash
# Data-driven rule tests: each tests/rules/cases/NAME/ holds rules.yml,
# events.jsonl (JSON lines), expected ("LINE: id id ..." for every event
# line that must produce hits, in rule load order; lines not listed must
# produce none) and optionally fieldmap (a field map; no .yml suffix, so
# a directory walk over cases/ does not take it for rules).  Each case runs
#   $KTA eval -r rules.yml [-m fieldmap] events.jsonl
# and its hits are compared with expected.  Then, when ../shared/sigma
# (relative to the repo root) exists, `kta check --skip-invalid` must load
# at least 99% of the public Sigma rules there, and `kta eval` must run
# them over sample events.  KTA = the kta binary.
# Prints "rules: N passed, N failed" last; exits non-zero on any failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
KTA=${KTA:-$root/build/kta}
KTA=$(cd "$(dirname "$KTA")" && pwd)/$(basename "$KTA")
work=$(mktemp -d /tmp/kta-rules.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

compare() { # compare EXPECTED HITS-JSONL -> prints differences, exit 1 on any
    python3 - "$1" "$2" <<'EOF'
import json, sys
want = {}
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    num, _, ids = line.partition(":")
    want[int(num)] = ids.split()
got = {}
for line in open(sys.argv[2], encoding="utf-8"):
    hit = json.loads(line)
    got.setdefault(hit["source"]["line"], []).append(hit["rule"]["id"])
bad = 0
for num in sorted(set(want) | set(got)):
    if want.get(num, []) != got.get(num, []):
        print(f"  line {num}: expected {want.get(num, [])}, got {got.get(num, [])}")
        bad = 1
sys.exit(bad)
EOF
}

for dir in "$root"/tests/rules/cases/*/; do
    name=$(basename "$dir")
    args=(eval -r "$dir/rules.yml")
    [[ -f $dir/fieldmap ]] && args+=(-m "$dir/fieldmap")
    if ! "$KTA" "${args[@]}" "$dir/events.jsonl" >"$work/hits" 2>"$work/err"; then
        echo "FAIL: $name: kta eval exited non-zero"
        sed 's/^/  /' "$work/err"
        fail=$((fail + 1))
        continue
    fi
    if compare "$dir/expected" "$work/hits"; then
        pass=$((pass + 1))
    else
        echo "FAIL: $name"
        fail=$((fail + 1))
    fi
done

sigma=$root/../shared/sigma/rules
if [[ -d $sigma ]]; then
    start=$(date +%s.%N)
    "$KTA" check -q --skip-invalid "$sigma" >"$work/summary" 2>"$work/err"
    end=$(date +%s.%N)
    summary=$(tail -n 1 "$work/summary")
    echo "sigma corpus: $summary ($(python3 -c "print(f'{$end - $start:.2f}')")s)"
    # Rules may be skipped only for a reason, and every skip must be reported.
    if python3 - "$summary" "$work/err" <<'EOF'
import re, sys
m = re.match(r"rules: (\d+) loaded \((\d+) enabled\), (\d+) skipped", sys.argv[1])
if not m:
    print("  unexpected summary line"); sys.exit(1)
loaded, skipped = int(m.group(1)), int(m.group(3))
total = loaded + skipped
errors = [l for l in open(sys.argv[2], encoding="utf-8") if ": error: " in l]
for l in errors[:20]:
    print("  " + l.rstrip())
ok = total > 0 and loaded / total >= 0.99
if not ok:
    print(f"  only {loaded} of {total} Sigma rules loaded (< 99%)")
sys.exit(0 if ok else 1)
EOF
    then pass=$((pass + 1)); else echo "FAIL: sigma corpus load"; fail=$((fail + 1)); fi

    # The whole corpus against sample events: must run clean (no crash,
    # no regex limit errors on ordinary events).
    if "$KTA" eval --skip-invalid -r "$sigma" "$root/tests/data/seed-events.jsonl" \
            "$root"/tests/rules/cases/*/events.jsonl >"$work/hits" 2>"$work/err"; then
        pass=$((pass + 1))
    else
        echo "FAIL: sigma corpus eval"
        head -n 20 "$work/err" | sed 's/^/  /'
        fail=$((fail + 1))
    fi
else
    echo "skipping Sigma corpus checks: $sigma not found"
fi

echo "rules: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
