#!/usr/bin/env bash
# Data-driven rule tests.  A case is any directory under tests/rules/cases/
# (at any depth, e.g. cases/docs/03-contains/) that holds an `expected` or
# a `check` file.  Its files:
#   rules.yml      the rules under test; or instead
#   rules.path     one line: a repo-relative rules path (e.g. `rules`, the
#                  default ruleset)
#   fieldmap       a field map (no .yml suffix, so a directory walk over
#                  cases/ does not take it for rules); or instead
#   fieldmap.path  one line: a repo-relative field map path
#   placeholders   values for the expand modifier (no .yml suffix either)
#   eval-args      extra `kta eval` options on one line (e.g. --skip-invalid)
#   events.jsonl   JSON lines
#   expected       "LINE: id id ..." for every event line that must produce
#                  hits, in rule load order; lines not listed must produce none;
#                  a hit of a rule with `suppress` is "id/N", N its "suppressed"
#   check          `kta check` expectations: the first line is "exit N", every
#                  further line a text that must occur in its output
#   test           the same for `kta test` (the rules' own tests: cases)
# Each case with `expected` runs
#   $KTA eval -r RULES [-m FIELDMAP] [-p PLACEHOLDERS] [EVAL-ARGS] events.jsonl
# and its hits are compared with expected; the same with --reference (every
# line decoded, every rule evaluated) and with --threads 2 must print the
# same hits and the same stderr (detected_at and the summary's timing
# aside), so every case also checks the engine against the plain path.
# A case with `check` runs
#   $KTA check [-m FIELDMAP] [-p PLACEHOLDERS] RULES,
# one with `test` the same with `kta test`.
# Then the default ruleset (rules/) must check clean (no error, no warning)
# and pass `kta test --require-tests` (every rule carries a match and a
# no_match case in its tests: key, every correlation a case expecting hits
# and one expecting none; the JUnit file it writes must be well-formed);
# the events of those cases must give the same hits through kta eval, its
# --reference and --threads 2, and no no_match event may hit any shipped
# rule (a near miss is a near miss for the whole ruleset);
# the examples in docs/rules.md must equal their cases under cases/docs/,
# and sysmon.fieldmap must equal the `fields` of windows.fieldmap.
# Then, when ../shared/sigma (relative to the repo root) exists,
# `kta check --skip-invalid` must load at least 99% of the public Sigma
# rules there, and `kta eval` must run them over sample events, with the
# same hits as `kta eval --reference`.
# KTA = the kta binary.
# Prints "rules: N passed, N failed" last; exits non-zero on any failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
KTA=${KTA:-$root/build/kta}
KTA=$(cd "$(dirname "$KTA")" && pwd)/$(basename "$KTA")
export KTA_CONFIG=none   # never the machine's default kta.yaml
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
    rid = hit["rule"]["id"]
    if "suppressed" in hit:   # a rule with suppress: "id/N", N hits held back before it
        rid += "/%d" % hit["suppressed"]
    got.setdefault(hit["source"]["line"], []).append(rid)
bad = 0
for num in sorted(set(want) | set(got)):
    if want.get(num, []) != got.get(num, []):
        print(f"  line {num}: expected {want.get(num, [])}, got {got.get(num, [])}")
        bad = 1
sys.exit(bad)
EOF
}

firstline() { head -n 1 "$1" | tr -d '\r'; }

# same_run NAME OUT ERR OUT2 ERR2: two kta eval runs printed the same hits
# and the same stderr, but for detected_at and the summary's timing.
norm_out() { sed -E 's/"detected_at":"[^"]*"/"detected_at":""/' "$1"; }
norm_err() { sed -E 's/ in [0-9.]+ s \([0-9]+ events\/s\)$/ in S s (R events\/s)/' "$1"; }
same_run() {
    if ! cmp -s <(norm_out "$2") <(norm_out "$4"); then
        echo "  $1: hits differ"; diff <(norm_out "$2") <(norm_out "$4") | head -n 10 | sed 's/^/  /'
        return 1
    fi
    if ! cmp -s <(norm_err "$3") <(norm_err "$5"); then
        echo "  $1: stderr differs"; diff <(norm_err "$3") <(norm_err "$5") | head -n 10 | sed 's/^/  /'
        return 1
    fi
}

while IFS= read -r dir; do
    name=${dir#"$root"/tests/rules/cases/}
    if [[ -f $dir/rules.path ]]; then rules=$root/$(firstline "$dir/rules.path"); else rules=$dir/rules.yml; fi
    fm=()
    if [[ -f $dir/fieldmap.path ]]; then fm=(-m "$root/$(firstline "$dir/fieldmap.path")")
    elif [[ -f $dir/fieldmap ]]; then fm=(-m "$dir/fieldmap"); fi
    [[ -f $dir/placeholders ]] && fm+=(-p "$dir/placeholders")
    extra=()
    [[ -f $dir/eval-args ]] && read -r -a extra <"$dir/eval-args"
    ok=1
    for cmd in check test; do
        [[ -f $dir/$cmd ]] || continue
        "$KTA" "$cmd" "${fm[@]}" "$rules" >"$work/out" 2>&1
        rc=$?
        if ! python3 - "$dir/$cmd" "$work/out" "$rc" "$cmd" <<'EOF'
import sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8")]
out = open(sys.argv[2], encoding="utf-8").read()
bad = 0
want = lines[0].split()
if want[0] != "exit" or int(want[1]) != int(sys.argv[3]):
    print(f"  kta {sys.argv[4]}: {lines[0]!r} expected, exit {sys.argv[3]}"); bad = 1
for l in lines[1:]:
    if l.strip() and not l.startswith("#") and l not in out:
        print(f"  kta {sys.argv[4]} output lacks {l!r}"); bad = 1
if bad:
    print("  output was:\n" + "".join("    " + o + "\n" for o in out.splitlines()))
sys.exit(bad)
EOF
        then ok=0; fi
    done
    if [[ -f $dir/expected ]]; then
        if ! "$KTA" eval -r "$rules" "${fm[@]}" "${extra[@]}" "$dir/events.jsonl" >"$work/hits" 2>"$work/err"; then
            echo "  kta eval exited non-zero"
            sed 's/^/  /' "$work/err"
            ok=0
        elif ! compare "$dir/expected" "$work/hits"; then
            ok=0
        fi
        for alt in --reference "--threads 2"; do
            # shellcheck disable=SC2086  # $alt is one or two words
            "$KTA" eval -r "$rules" "${fm[@]}" "${extra[@]}" $alt "$dir/events.jsonl" \
                >"$work/hits.alt" 2>"$work/err.alt"
            same_run "eval $alt vs the engine" "$work/hits" "$work/err" "$work/hits.alt" \
                "$work/err.alt" || ok=0
        done
    fi
    if [[ $ok -eq 1 ]]; then
        pass=$((pass + 1))
    else
        echo "FAIL: $name"
        fail=$((fail + 1))
    fi
done < <(find "$root/tests/rules/cases" -type f \( -name expected -o -name check -o -name test \) -printf '%h\n' |
         LC_ALL=C sort -u)

# The default ruleset loads without errors or warnings, and every rule in
# it passes its own test cases (and has them).
if "$KTA" check "$root/rules" >"$work/out" 2>&1 && grep -q ' 0 errors, 0 warnings' "$work/out"; then
    pass=$((pass + 1))
else
    echo "FAIL: default ruleset check"
    sed 's/^/  /' "$work/out"
    fail=$((fail + 1))
fi
if "$KTA" test --require-tests --junit "$work/junit.xml" "$root/rules" >"$work/out" 2>&1 &&
   grep -qE '^kta test: [1-9][0-9]* cases, [0-9]+ passed, 0 failed in [0-9]+ rules$' "$work/out" &&
   python3 - "$work/junit.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
top = ET.parse(sys.argv[1]).getroot()
assert top.tag == "testsuites" and int(top.get("failures")) == 0, top.attrib
assert sum(int(s.get("tests")) for s in top.iter("testsuite")) == int(top.get("tests")) > 0
EOF
then
    pass=$((pass + 1))
else
    echo "FAIL: kta test --require-tests rules/"
    sed 's/^/  /' "$work/out"
    fail=$((fail + 1))
fi
# The events of the shipped rules' cases as JSON lines: all of them, and
# the no_match ones apart.
python3 - "$root/rules" "$work/shipped.jsonl" "$work/near.jsonl" <<'EOF'
import json, os, sys, yaml
every, near = open(sys.argv[2], "w"), open(sys.argv[3], "w")
for dirpath, dirs, names in os.walk(sys.argv[1]):
    dirs.sort()
    for n in sorted(names):
        if not n.endswith((".yml", ".yaml")):
            continue
        for doc in yaml.safe_load_all(open(os.path.join(dirpath, n), encoding="utf-8")):
            for r in doc.get("rules", [doc]) if isinstance(doc, dict) else []:
                for case in r.get("tests") or []:
                    for ev in case.get("events", []) + [case[k] for k in ("match", "no_match") if k in case]:
                        every.write(json.dumps(ev) + "\n")
                    if "no_match" in case:
                        near.write(json.dumps(case["no_match"]) + "\n")
EOF
"$KTA" eval -r "$root/rules" "$work/shipped.jsonl" >"$work/hits" 2>"$work/err"
ok=1
for alt in --reference "--threads 2"; do
    # shellcheck disable=SC2086  # $alt is one or two words
    "$KTA" eval -r "$root/rules" $alt "$work/shipped.jsonl" >"$work/hits.alt" 2>"$work/err.alt"
    same_run "shipped cases: eval $alt vs the engine" "$work/hits" "$work/err" "$work/hits.alt" \
        "$work/err.alt" || ok=0
done
if [[ $ok -eq 1 && -s $work/hits ]]; then
    pass=$((pass + 1))
else
    echo "FAIL: the shipped rules' case events through eval, --reference and --threads 2"
    fail=$((fail + 1))
fi
"$KTA" eval -r "$root/rules" "$work/near.jsonl" >"$work/hits" 2>/dev/null
if [[ -s $work/near.jsonl && ! -s $work/hits ]]; then
    pass=$((pass + 1))
else
    echo "FAIL: a no_match event of a shipped rule hits a shipped rule"
    python3 -c 'import json, sys
for h in map(json.loads, open(sys.argv[1])):
    print("  %s: line %d of the no_match events" % (h["rule"]["id"], h["source"]["line"]))' "$work/hits"
    fail=$((fail + 1))
fi

# rules/fieldmaps/sysmon.fieldmap (version 1) and the `fields` of
# windows.fieldmap (version 2) are the same field map; they must not drift.
if python3 - "$root/rules/fieldmaps" <<'EOF'
import os, sys, yaml
d = sys.argv[1]
v1 = yaml.safe_load(open(os.path.join(d, "sysmon.fieldmap"), encoding="utf-8"))
v2 = yaml.safe_load(open(os.path.join(d, "windows.fieldmap"), encoding="utf-8"))
if v1 != v2.get("fields"):
    print("  rules/fieldmaps: sysmon.fieldmap differs from the fields of windows.fieldmap")
    sys.exit(1)
EOF
then pass=$((pass + 1)); else echo "FAIL: sysmon.fieldmap / windows.fieldmap fields"; fail=$((fail + 1)); fi

# Every example in docs/rules.md that is tagged <!-- case: docs/NAME -->
# (rules.yml), or <!-- events|expected|fieldmap|placeholders|check|test:
# docs/NAME --> is
# byte-for-byte that file of the case, and every case under cases/docs/ is
# shown in the guide.
if [[ -f $root/docs/rules.md ]]; then
    if python3 - "$root" <<'EOF'
import os, re, sys
root = sys.argv[1]
doc = open(os.path.join(root, "docs/rules.md"), encoding="utf-8").read()
files = {"case": "rules.yml", "events": "events.jsonl", "fieldmap": "fieldmap",
         "placeholders": "placeholders", "expected": "expected", "check": "check",
         "test": "test"}
bad, seen = 0, set()
for m in re.finditer(r"<!-- (case|events|fieldmap|placeholders|expected|check|test): (\S+) -->\n```[a-z]*\n(.*?)```\n", doc, re.S):
    kind, case, text = m.groups()
    seen.add(case)
    path = os.path.join(root, "tests/rules/cases", case, files[kind])
    if not os.path.exists(path):
        print(f"  docs/rules.md: {kind} {case}: {path} does not exist"); bad = 1
    elif open(path, encoding="utf-8").read() != text:
        print(f"  docs/rules.md: {kind} {case} differs from {path}"); bad = 1
tags = len(re.findall(r"<!-- (?:case|events|fieldmap|placeholders|expected|check|test): ", doc))
if tags != len(re.findall(r"<!-- (case|events|fieldmap|placeholders|expected|check|test): (\S+) -->\n```[a-z]*\n(.*?)```\n", doc, re.S)):
    print("  docs/rules.md: a tag is not directly followed by a fenced block"); bad = 1
docs = os.path.join(root, "tests/rules/cases/docs")
for d in sorted(os.listdir(docs)) if os.path.isdir(docs) else []:
    if "docs/" + d not in seen:
        print(f"  tests/rules/cases/docs/{d} is not shown in docs/rules.md"); bad = 1
sys.exit(bad)
EOF
    then pass=$((pass + 1)); else echo "FAIL: docs/rules.md examples"; fail=$((fail + 1)); fi
fi
if [[ -f $root/docs/man/kta-rules.7 ]] && command -v groff >/dev/null; then
    if groff -man -Tutf8 -ww -z "$root/docs/man/kta-rules.7" 2>"$work/err" && [[ ! -s $work/err ]]; then
        pass=$((pass + 1))
    else
        echo "FAIL: docs/man/kta-rules.7 renders with warnings"
        sed 's/^/  /' "$work/err"
        fail=$((fail + 1))
    fi
fi

sigma=$root/../shared/sigma/rules
if [[ -d $sigma ]]; then
    # Placeholders of rules using `expand` (a site's own lists in real
    # use) get a stand-in value here, so such rules count as loadable.
    python3 - "$sigma" >"$work/placeholders" <<'EOF'
import os, re, sys
names = set()
for dirpath, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith((".yml", ".yaml")):
            text = open(os.path.join(dirpath, f), encoding="utf-8", errors="replace").read()
            if "|expand" in text:
                names.update(re.findall(r"%(\w+)%", text))
for n in sorted(names):
    print(f"{n}: kta-test-{n}")
EOF
    start=$(date +%s.%N)
    "$KTA" check -q --skip-invalid -p "$work/placeholders" "$sigma" >"$work/summary" 2>"$work/err"
    end=$(date +%s.%N)
    summary=$(tail -n 1 "$work/summary")
    echo "sigma corpus: $summary ($(python3 -c "print(f'{$end - $start:.2f}')")s)"
    # How many rules fail to load, and why (the message without file and id).
    python3 - "$work/err" <<'EOF'
import collections, re, sys
why = collections.Counter(re.sub(r"^.*?: error: (rule \S+: )?", "", l.rstrip())
                          for l in open(sys.argv[1], encoding="utf-8") if ": error: " in l)
print(f"sigma corpus: {sum(why.values())} load error(s)")
for msg, n in why.most_common(10):
    print(f"  {n:5d} {msg}")
EOF
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
    # no regex limit errors on ordinary events), and the engine must find
    # exactly the hits of the plain path.
    samples=("$root/tests/data/seed-events.jsonl" "$work/shipped.jsonl")
    while IFS= read -r f; do samples+=("$f"); done < <(find "$root/tests/rules/cases" -name events.jsonl | LC_ALL=C sort)
    if "$KTA" eval --skip-invalid -r "$sigma" "${samples[@]}" >"$work/hits" 2>"$work/err"; then
        pass=$((pass + 1))
    else
        echo "FAIL: sigma corpus eval"
        head -n 20 "$work/err" | sed 's/^/  /'
        fail=$((fail + 1))
    fi
    "$KTA" eval --skip-invalid --reference -r "$sigma" "${samples[@]}" >"$work/hits.alt" 2>"$work/err.alt"
    if [[ -s $work/hits ]] && same_run "sigma corpus eval --reference" "$work/hits" "$work/err" \
            "$work/hits.alt" "$work/err.alt"; then
        pass=$((pass + 1))
    else
        echo "FAIL: sigma corpus: engine and --reference disagree (or no hits)"
        fail=$((fail + 1))
    fi
else
    echo "skipping Sigma corpus checks: $sigma not found"
fi

echo "rules: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
