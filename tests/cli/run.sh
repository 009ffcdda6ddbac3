#!/usr/bin/env bash
# Command-line behaviour that needs no broker: kta eval / check / config /
# help / --version, exit codes and messages.  KTA = the binary to test.
# Prints "cli: N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"

# --version and help
"$KTA" --version >out; check "--version exit 0" test $? -eq 0
check "--version text" grep -qE '^kta [0-9]+\.[0-9]+\.[0-9]+$' out
"$KTA" help >out; check "help lists run" has "  run " out
"$KTA" help run >out; check "help run shows -X" has "-X key=value" out
"$KTA" run --help >out; check "run --help" has "usage: kta run" out
"$KTA" help nosuch 2>err; check "help unknown exit 2" test $? -eq 2
"$KTA" frobnicate 2>err; check "unknown command exit 2" test $? -eq 2
check "unknown command message" has "unknown command 'frobnicate'" err
"$KTA" 2>err; check "no command exit 2" test $? -eq 2

# eval: the seed events through rules/seed.yaml
{ cat "$root/tests/data/seed-events.jsonl"; echo; echo '{"host": "endpoint05", "threat": '; echo '[1,2]'; } >events.jsonl
"$KTA" eval -r "$root/rules/seed.yaml" events.jsonl >hits 2>err; rc=$?
check "eval exit 0 with malformed lines" test $rc -eq 0
check "eval: 3 hits" test "$(wc -l <hits)" -eq 3
check "eval: malformed line 6 reported" has "events.jsonl:6: malformed event (invalid_json)" err
check "eval: array line 7 reported" has "events.jsonl:7: malformed event (not_object)" err
python3 - "$KTA" <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: eval hit shape"; }
import json
hits = [json.loads(l) for l in open("hits")]
assert [h["rule"]["id"] for h in hits] == ["seed-severity-high", "seed-severity-critical", "seed-severity-critical"]
assert [h["source"] for h in hits] == [{"file": "events.jsonl", "line": n} for n in (1, 3, 4)], hits
assert hits[0]["event"] == {"host": "endpoint01", "threat": "malware.exe", "severity": "high"}
assert hits[0]["rule"]["level"] == "high" and hits[0]["rule"]["tags"] == ["seed", "severity.high"]
# kta's version and the ruleset's (a digest of the rule content) in every hit
import re, subprocess, sys
ver = subprocess.run([sys.argv[1], "--version"], capture_output=True, text=True).stdout.split()[1]
for h in hits:
    assert list(h) == ["rule", "event", "source", "detected_at", "kta"], list(h)
    assert h["kta"]["version"] == ver and re.fullmatch(r"[0-9a-f]{12}", h["kta"]["ruleset"]), h["kta"]
assert len({h["kta"]["ruleset"] for h in hits}) == 1
PY
"$KTA" eval -r "$root/rules/seed.yaml" <events.jsonl >hits2 2>/dev/null
rsver() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["kta"]["ruleset"])' "$1"; }
sed 's/title: /title: x/' "$root/rules/seed.yaml" >seed2.yaml
"$KTA" eval -r seed2.yaml events.jsonl >hits3 2>/dev/null
check "eval: other rule content, other ruleset version in the hits" test "$(rsver hits)" != "$(rsver hits3)"
cp "$root/rules/seed.yaml" seed3.yaml
"$KTA" eval -r seed3.yaml events.jsonl >hits3 2>/dev/null
check "eval: same content elsewhere, same ruleset version" test "$(rsver hits)" = "$(rsver hits3)"
check "eval from stdin" test "$(grep -c '"file":"-"' hits2)" -eq 3
"$KTA" eval -r "$root/rules/seed.yaml" nosuchfile >/dev/null 2>err; check "eval missing file exit 1" test $? -eq 1
check "eval missing file message" has "nosuchfile: No such file or directory" err
printf 'id: x\ntitle: t\ndetection:\n  sel:\n    a: 1\n  condition: nosuch\n' >bad.yml
"$KTA" eval -r bad.yml events.jsonl >/dev/null 2>err; check "eval rule error exit 2" test $? -eq 2
cat err >all.err
check "eval rule error names file:line" grep -q 'bad.yml:[0-9]*:[0-9]*:' err
"$KTA" eval events.jsonl >/dev/null 2>err; check "eval without -r loads rules.path (none here): exit 2" test $? -eq 2
check "eval without -r names the default path" has "kta: error: rules: cannot read: No such file or directory" err

# a catastrophic regex is cut off by PCRE2's limits, counted, and the
# event is still evaluated by every other rule
printf 'id: slow\ntitle: t\ndetection:\n  sel:\n    cmd|re: "(a+)+$"\n  condition: sel\n---\nid: other\ntitle: t\ndetection:\n  sel:\n    host: h1\n  condition: sel\n' >slow.yml
python3 -c "print('{\"host\":\"h1\",\"cmd\":\"' + 'a' * 20000 + 'b\"}')" >slow.jsonl
timeout 60 "$KTA" eval -r slow.yml slow.jsonl >hits 2>err; check "eval with a catastrophic regex exits 0" test $? -eq 0
check "other rule still hits" grep -q '"id":"other"' hits
check "regex limit reported per rule" has "rule slow: 1 event(s) hit the regex match limit" err

# eval: summary, --stats, -q, --threads, --reference
nodate() { sed -E 's/"detected_at":"[^"]*"/"detected_at":""/' "$1"; }
notime() { sed -E 's/ in [0-9.]+ s \([0-9]+ events\/s\)$/ in S s (R events\/s)/' "$1"; }
"$KTA" eval -r "$root/rules/seed.yaml" events.jsonl >hits 2>err
check "eval: summary line last on stderr" \
    grep -qE '^kta: eval: 6 events, 3 hits, 2 malformed in [0-9.]+ s \([0-9]+ events/s\)$' <(tail -n 1 err)
check "eval: no progress line when stderr is not a terminal" bash -c "! grep -q $'\r' err"
"$KTA" eval -q -r "$root/rules/seed.yaml" events.jsonl >hits.q 2>err.q
check "eval -q: no summary" bash -c "! grep -q 'kta: eval:' err.q"
check "eval -q: malformed lines still reported" test "$(grep -c 'malformed event' err.q)" -eq 2
"$KTA" eval --stats -r "$root/rules/seed.yaml" events.jsonl >/dev/null 2>err
check "eval --stats: header" has "kta: eval: hits per rule (2 of 2 rules hit):" err
grep -A 1 -E '^ +2  seed-severity-critical  Agent reported a critical threat$' err | tail -n 1 >stats.next
check "eval --stats: sorted by count, id and title" \
    grep -qE '^ +1  seed-severity-high  Agent reported a high-severity threat$' stats.next
check "eval --stats: rules per event" grep -qE '^kta: eval: [0-9.]+ rules evaluated per event \([0-9]+ evaluations\), [0-9.]+% of events parsed$' err
check "eval --stats: summary still last" grep -q '^kta: eval: 6 events' <(tail -n 1 err)
"$KTA" eval --stats --reference -r "$root/rules/seed.yaml" events.jsonl >/dev/null 2>err
check "eval --stats --reference: every rule on every event" \
    has "kta: eval: 1.33 rules evaluated per event (8 evaluations), 100.0% of events parsed" err
"$KTA" eval --threads -1 -r "$root/rules/seed.yaml" events.jsonl >/dev/null 2>err
check "eval --threads -1 exit 2" test $? -eq 2

# The same output, byte for byte (detected_at and timing aside), for the
# engine, --reference and any thread count; also across files, with a
# missing file in the middle (its message keeps its place on stderr),
# CRLF lines, a last line without newline and a line longer than eval's
# read block.
printf '{"host":"crlf","severity":"high"}\r\n\r\n{"severity":"critical"}' >tail.jsonl
python3 - <<'PY'
import json
with open("long.jsonl", "w") as f:
    f.write('{"severity":"low"}\n')
    f.write(json.dumps({"host": "big", "severity": "critical", "pad": "x" * 700000}) + "\n")
    f.write("[]\n" * 3 + '{"severity":"high"}\n')
PY
for t in 1 2 0; do
    for mode in "" --reference; do
        # shellcheck disable=SC2086
        "$KTA" eval --threads $t $mode -r "$root/rules/seed.yaml" events.jsonl nosuchfile tail.jsonl \
            long.jsonl - <events.jsonl >"hits.$t$mode" 2>"err.$t$mode"
        echo $? >"rc.$t$mode"
    done
done
check "eval: exit 1 with a missing file, every thread count" \
    test "$(cat rc.1 rc.2 rc.0 rc.1--reference rc.2--reference rc.0--reference | sort -u)" = 1
ok=1
for f in 2 0 1--reference 2--reference 0--reference; do
    cmp -s <(nodate hits.1) <(nodate "hits.$f") || { ok=0; echo "  hits.$f differs from hits.1"; }
    cmp -s <(notime err.1) <(notime "err.$f") || { ok=0; echo "  err.$f differs from err.1"; diff err.1 "err.$f" | head -5; }
done
check "eval: same hits and stderr for --threads 1/2/0 and --reference" test $ok -eq 1
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: eval across files: sources and order"; }
import json
hits = [json.loads(l) for l in open("hits.1")]
got = [(h["source"]["file"], h["source"]["line"], h["rule"]["id"]) for h in hits]
want = [("events.jsonl", 1, "seed-severity-high"), ("events.jsonl", 3, "seed-severity-critical"),
        ("events.jsonl", 4, "seed-severity-critical"),
        ("tail.jsonl", 1, "seed-severity-high"), ("tail.jsonl", 3, "seed-severity-critical"),
        ("long.jsonl", 2, "seed-severity-critical"), ("long.jsonl", 6, "seed-severity-high"),
        ("-", 1, "seed-severity-high"), ("-", 3, "seed-severity-critical"), ("-", 4, "seed-severity-critical")]
assert got == want, got
assert hits[3]["event"] == {"host": "crlf", "severity": "high"}, hits[3]
assert len(hits[5]["event"]["pad"]) == 700000
err = open("err.1").read().splitlines()
i = err.index("kta: error: nosuchfile: No such file or directory")
assert err[i - 1].startswith("events.jsonl:7: malformed event (not_object)"), err
assert err[i + 1].startswith("long.jsonl:3: malformed event (not_object)"), err
PY

if [[ -w /dev/full ]]; then
    for t in 1 2; do
        "$KTA" eval --threads $t -r "$root/rules/seed.yaml" events.jsonl >/dev/full 2>err
        check "eval --threads $t: a failed write to stdout exits 1" test $? -eq 1
        check "eval --threads $t: a failed write is reported" has "kta: error: eval: cannot write hits: No space left on device" err
    done
fi

# A large generated file (200,000 lines: hits, misses, malformed and blank
# lines) on 1, 2 and one-per-CPU threads, and through --reference.
python3 "$root/scripts/gen-jsonl.py" events 200000 --seed 7 --malicious 0.05 --malformed 0.01 --blank 0.01 >big.jsonl
for t in 1 2 0; do
    "$KTA" eval --threads $t -r "$root/rules" big.jsonl >"big.hits.$t" 2>"big.err.$t"
done
"$KTA" eval --reference -r "$root/rules" big.jsonl >big.hits.ref 2>big.err.ref
check "eval big file: thousands of hits" test "$(wc -l <big.hits.1)" -gt 5000
check "eval big file: thousands of malformed lines" test "$(grep -c 'malformed event' big.err.1)" -gt 1000
ok=1
for f in 2 0 ref; do
    cmp -s <(nodate big.hits.1) <(nodate "big.hits.$f") || { ok=0; echo "  big.hits.$f differs"; }
    cmp -s <(notime big.err.1) <(notime "big.err.$f") || { ok=0; echo "  big.err.$f differs"; }
done
check "eval big file: --threads 2/0 and --reference equal --threads 1" test $ok -eq 1
check "eval big file: summary counts" \
    grep -qE "^kta: eval: $(grep -cvE '^[[:space:]]*$' big.jsonl) events, $(wc -l <big.hits.1) hits, $(grep -c 'malformed event' big.err.1) malformed in" big.err.2

# Input that trickles in (a pipe, a terminal, tail -f) gets its hits as
# each line arrives, not at the end of a block; on a terminal a progress
# line is shown and erased.
for t in 1 2; do
    python3 - "$KTA" "$root/rules/seed.yaml" "$t" <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: eval --threads $t: hits as lines arrive"; }
import select, subprocess, sys
p = subprocess.Popen([sys.argv[1], "eval", "-q", "--threads", sys.argv[3], "-r", sys.argv[2]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
for n in range(3):
    p.stdin.write(b'{"severity":"high"}\n')
    p.stdin.flush()
    r, _, _ = select.select([p.stdout], [], [], 10)
    assert r, f"no hit within 10 s for line {n + 1}"
    line = p.stdout.readline()
    assert b'"line":%d' % (n + 1) in line, line
p.stdin.close()
assert p.wait(10) == 0
PY
done
if command -v script >/dev/null; then
    printf 'for i in 1 2 3; do cat "%s"; sleep 0.4; done | "%s" eval -r "%s" >/dev/null\n' \
        "$root/tests/data/seed-events.jsonl" "$KTA" "$root/rules/seed.yaml" >slow.sh
    script -qec "bash slow.sh" /dev/null >tty.out 2>&1
    check "eval on a terminal: progress line" grep -qE $'\r[0-9]+ events, [0-9]+ events/s, [0-9]+ hits' tty.out
    check "eval on a terminal: progress erased before the summary" \
        grep -qF $'\r\e[Kkta: eval: 12 events, 9 hits, 0 malformed' tty.out
fi

# check
"$KTA" check "$root/rules/seed.yaml" >out 2>err; check "check seed exit 0" test $? -eq 0
check "check summary" grep -q '2 loaded' out
"$KTA" check bad.yml >out 2>err; check "check bad exit 1" test $? -eq 1

# -p / --placeholders: the values of %NAME% for the expand modifier, on
# every command that loads rules (run shares its parser with config)
printf 'id: ex\ntitle: t\ndetection:\n  sel:\n    host|expand: "%%hosts%%"\n' >expand.yml
printf 'hosts: [endpoint01, endpoint03]\n' >ph.map
"$KTA" eval -r expand.yml -p ph.map events.jsonl >hits 2>/dev/null
check "eval -p: both hosts hit" test "$(grep -c '"id":"ex"' hits)" -eq 2
"$KTA" eval -r expand.yml --placeholders ph.map events.jsonl >hits 2>/dev/null
check "eval --placeholders" test "$(grep -c '"id":"ex"' hits)" -eq 2
"$KTA" eval -r expand.yml events.jsonl >/dev/null 2>err; check "eval without -p exit 2" test $? -eq 2
check "missing placeholder says how to define it" has "kta: error: expand.yml:5:19: rule ex: placeholder '%hosts%' has no value; define 'hosts' in a placeholders file (kta.yaml rules.placeholders, or -p FILE)" err
"$KTA" check -p ph.map expand.yml >out 2>err; check "check -p exit 0" test $? -eq 0
"$KTA" check --placeholders nosuch.map expand.yml >out 2>err; check "check bad -p exit 1" test $? -eq 1
check "check bad -p names the file" has "nosuch.map:0:0: error: cannot read placeholders" err
"$KTA" bench -r expand.yml -p ph.map --events 100 --seconds 0.01 --modes engine >out 2>err
check "bench -p exit 0" test $? -eq 0
"$KTA" config -p ph.map >out 2>/dev/null; check "run/config -p sets rules.placeholders" has "rules.placeholders: ph.map" out

# config
printf 'output:\n  topic: hits\nkafka:\n  sasl.password: hunter2\n' >kta.yaml
"$KTA" config -c kta.yaml -X workers=3 -r "$root/rules/seed.yaml" >out; check "config exit 0" test $? -eq 0
check "config shows file value" has "output.topic: hits" out
check "config shows -X" has "workers: 3" out
check "config masks secrets" bash -c "! grep -q hunter2 out"
"$KTA" config --markdown >out; check "config --markdown" has '| `output.topic` | `matched_hits` |' out
"$KTA" config --markdown | diff -u - "$root/docs/configuration.md" >diff.out
check "docs/configuration.md is generated from the option table (make docs)" test $? -eq 0
"$KTA" config --man | diff -u - "$root/docs/man/kta.yaml.5" >diff.out
check "docs/man/kta.yaml.5 is generated from the option table (make docs)" test $? -eq 0
printf 'outptu: 1\n' >bad.yaml
"$KTA" config -c bad.yaml 2>err; check "config unknown key exit 2" test $? -eq 2
check "config unknown key file:line:col" has "bad.yaml:1:1: unknown option 'outptu'" err
# mapping options: nested YAML, -X NAME.KEY=VALUE, shown with where they were set
printf 'output:\n  fields:\n    environment: prod\n  topic_by_level:\n    critical: pager\n' >map.yaml
"$KTA" config -c map.yaml -r "$root/rules" -X output.fields.region=eu-1 -X output.topic_by_level.high=soc >out
check "config map exit 0" test $? -eq 0
check "config shows output.fields from the file" has '  environment: "prod"   # map.yaml:3:18' out
check "config shows output.fields from -X" has '  region: "eu-1"   # -X' out
check "config shows output.topic_by_level" has '  critical: "pager"   # map.yaml:5:15' out
printf 'output:\n  topic_by_level:\n    urgent: pager\n' >badmap.yaml
"$KTA" config -c badmap.yaml 2>err; check "config unknown level exit 2" test $? -eq 2
check "config unknown level file:line:col" has "badmap.yaml:3:5: output.topic_by_level: 'urgent' is not a level" err
"$KTA" config -X output.fields.detected_at=x >/dev/null 2>err
check "config -X output.fields: a hit key is refused" test $? -ne 0
check "config -X output.fields: says why" has "'detected_at' is a key of the hit itself" err

# produce without a broker must fail, not hang
# before sending anything, within startup_timeout_ms, and says why
start=$(date +%s)
timeout 60 "$KTA" produce -b 127.0.0.1:1 -t x -X startup_timeout_ms=1500 <events.jsonl >/dev/null 2>err; rc=$?
check "produce to no broker fails (not hang)" test $rc -eq 1
check "produce to no broker fails within startup_timeout_ms" test $(($(date +%s) - start)) -le 5
check "produce to no broker: a clear message" \
    has "kta: error: produce: cannot reach the Kafka brokers at 127.0.0.1:1 within 1500 ms" err
"$KTA" produce --generate 3 -t x -b 127.0.0.1:1 -X startup_timeout_ms=500 2>/dev/null; check "generate needs a broker too" test $? -eq 1
"$KTA" produce -t x -X acks=banana </dev/null 2>err; check "produce: a bad librdkafka property exits 2" test $? -eq 2
check "produce: bad property named" has "kta: error: -X: kafka property 'acks'" err

# produce --generate -o: generated events to stdout or a file, no broker
"$KTA" produce --generate --schema sysmon -n 100 --seed 5 --output - >gen.jsonl 2>err
check "generate -o - exit 0" test $? -eq 0
check "generate -o -: 100 lines" test "$(wc -l <gen.jsonl)" -eq 100
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: generated sysmon events"; }
import json
evs = [json.loads(l) for l in open("gen.jsonl")]
assert all(isinstance(e, dict) and isinstance(e["EventID"], int) and "Channel" in e for e in evs)
p1 = [e for e in evs if e["EventID"] == 1]
assert p1 and all(e["Channel"] == "Microsoft-Windows-Sysmon/Operational" and "\\" in e["Image"] for e in p1)
PY
"$KTA" produce --generate 100 --schema sysmon --seed 5 --output gen2.jsonl 2>err
check "generate -o FILE, --generate N form" cmp -s gen.jsonl gen2.jsonl
check "generate -o FILE says so" has "wrote 100 events to gen2.jsonl" err
"$KTA" produce --generate --schema sysmon -n 100 --seed 6 --output - | cmp -s - gen.jsonl
check "another seed, other events" test $? -ne 0
"$KTA" produce --generate --schema linux -n 50 --malicious 1 --output - >lin.jsonl 2>/dev/null
check "generate linux, all malicious" test "$(wc -l <lin.jsonl)" -eq 50
"$KTA" produce --generate -n 3 --output - | grep -c '"host":"endpoint' >n.out
check "default schema is kta" test "$(cat n.out)" -eq 3
"$KTA" produce --generate --schema windows -n 10 --output - >out 2>err; rc=$?
check "bad schema exit 2" test $rc -eq 2
check "bad schema message" has "--schema 'windows': unknown schema (expected one of kta, sysmon, linux)" err
check "bad schema writes nothing" test ! -s out
# bench parses --schema through the same helper (cli.c).
"$KTA" bench -r "$root/rules/seed.yaml" --schema windows --events 10 --seconds 0.01 --modes engine >out 2>err; rc=$?
check "bench bad schema exit 2" test $rc -eq 2
check "bench bad schema message" has "bench: --schema 'windows': unknown schema (expected one of kta, sysmon, linux)" err
"$KTA" bench -r "$root/rules/seed.yaml" --schema linux --events 100 --seconds 0.01 --modes engine --json >out 2>err; rc=$?
check "bench --schema linux exit 0" test $rc -eq 0
check "bench --schema linux reported" has '"schema":"linux"' out
# bench --modes event_count,value_count: the correlation path; every input
# reaches the state (no hits, two changelog records per input: the group
# and its source), and it refuses to mix with the ruleset modes.
"$KTA" bench --modes event_count,value_count --events 50 --seconds 0.01 --json >out 2>err; rc=$?
check "bench correlation exit 0" test $rc -eq 0
check "bench correlation groups" has '"groups":50,' out
check "bench correlation event_count" has '{"mode":"event_count","inputs":' out
check "bench correlation value_count" has '{"mode":"value_count","inputs":' out
check "bench correlation changelog per input" has '"changes_per_input":2.000,' out
check "bench correlation no hits" test "$(grep -o '"hits":0,' out | wc -l)" -eq 2
"$KTA" bench --modes event_count,engine --events 50 --seconds 0.01 >out 2>err; rc=$?
check "bench correlation with engine exit 2" test $rc -eq 2
check "bench correlation with engine message" has "take no other mode" err
"$KTA" produce --generate --schema sysmon --output - >/dev/null 2>err; rc=$?
check "generate without a count exit 2" test $rc -eq 2
"$KTA" help produce >out; check "help produce shows --schema" has "--schema NAME" out
check "help produce shows -r" has "-r RULES" out

# produce --generate -r: the malicious share is built from the rules' own
# values, so every one of these rules (which no built-in pattern meets)
# fires in kta eval, under the same field map
cat >gen-rules.yml <<'EOF'
title: Odd tool from a temp dir
id: gen-proc
level: high
logsource: {product: windows, category: process_creation}
detection:
  sel_img:
    Image|endswith: '\zq-odd-tool.exe'
  sel_cli:
    CommandLine|contains|all: [' --zq-exfil ', ' --to ']
  filter:
    ParentImage|endswith: '\zq-allowed.exe'
  condition: all of sel_* and not filter
---
title: Odd run key
id: gen-reg
level: high
logsource: {product: windows, category: registry_set}
detection:
  selection:
    TargetObject|contains: '\CurrentVersion\Run\'
    TargetObject|endswith: '\ZqUpdater'
    Details|startswith: 'C:\ProgramData\Zq\'
  condition: selection
---
title: Odd service
id: gen-svc
level: high
logsource: {product: windows, service: system}
detection:
  selection:
    EventID: 7045
    Provider_Name: Service Control Manager
    ImagePath|contains: 'zq-svc'
  condition: selection
---
title: Odd script
id: gen-ps
level: high
logsource: {product: windows, category: ps_script}
detection:
  selection:
    ScriptBlockText|contains: 'Invoke-ZqThing'
  condition: selection
---
title: Not for this schema (nor for the Windows map)
id: gen-linux
level: high
logsource: {product: linux, category: process_creation}
detection:
  selection:
    Image|endswith: '/zq'
  condition: selection
EOF
"$KTA" produce --generate --schema sysmon -n 2000 --malicious 0.02 --seed 3 -r gen-rules.yml \
    -m "$root/rules/fieldmaps/windows.fieldmap" --output gen-rules.jsonl 2>err; rc=$?
check "generate -r exit 0" test $rc -eq 0
check "generate -r says how many rules" has "4 of 4 rules give malicious events" err
"$KTA" produce --generate --schema sysmon -n 10 -r gen-rules.yml --output /dev/null 2>err
check "generate -r keeps only rules of the schema" has "4 of 5 rules give malicious events" err
"$KTA" eval -q -r gen-rules.yml -m "$root/rules/fieldmaps/windows.fieldmap" gen-rules.jsonl >hits 2>/dev/null
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: generate -r: every rule fires"; }
import collections, json
n = collections.Counter(json.loads(l)["rule"]["id"] for l in open("hits"))
assert set(n) == {"gen-proc", "gen-reg", "gen-svc", "gen-ps"}, n
assert all(c >= 5 for c in n.values()), n      # ~40 malicious events, in turn
PY
"$KTA" produce --generate --schema sysmon -n 2000 --malicious 0.02 --seed 3 -r gen-rules.yml \
    -m "$root/rules/fieldmaps/windows.fieldmap" --output - 2>/dev/null | cmp -s - gen-rules.jsonl
check "generate -r is deterministic" test $? -eq 0
"$KTA" produce --generate -n 10 -r gen-rules.yml --output - >/dev/null 2>err; rc=$?
check "generate -r on the kta schema exit 2" test $rc -eq 2
check "generate -r on the kta schema message" has "-r needs --schema sysmon or linux" err
"$KTA" produce --generate --schema linux -n 10 -r nosuch.yml --output - >/dev/null 2>err; rc=$?
check "generate -r missing rules exit 2 (rules that do not load)" test $rc -eq 2


# ---- one CLI (issue #10): same flags, same meaning, same exit codes ------
seed=$root/rules/seed.yaml
printf 'id: other\ntitle: t\nlevel: low\ndetection:\n  sel:\n    host: endpoint02\n  condition: sel\n' >other.yml
# help CMD and CMD -h / --help: one text, for every command
for c in run eval check produce config bench help; do
    "$KTA" help $c >h1 2>&1; "$KTA" $c -h >h2 2>&1; rc=$?; "$KTA" $c --help >h3 2>&1
    check "help $c == $c -h == $c --help" cmp -s h1 h2
    check "$c --help same" cmp -s h1 h3
    check "$c -h exit 0" test $rc -eq 0
    check "help $c: exit status documented" has "Exit status:" h1
done
"$KTA" run -c x.yaml -h >h2 2>&1; check "-h after other options" has "usage: kta run" h2
# kta.1 is generated from the same table and names every option
"$KTA" help --man | diff -u - "$root/docs/man/kta.1" >diff.out
check "docs/man/kta.1 is generated from the option table (make docs)" test $? -eq 0
"$KTA" help --man >man.out
ok=1
for c in run eval check produce config bench help; do
    grep -q "^\.SS kta $c\$" man.out || { ok=0; echo "  kta.1 lacks command $c"; }
    for o in $("$KTA" help $c | grep -oE '^  (-[a-zA-Z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+$'); do
        grep -qF -- "$(printf '%s' "$o" | sed 's/-/\\-/g')" man.out || { ok=0; echo "  kta.1 lacks $o"; }
    done
done
check "kta.1 names every command and option" test $ok -eq 1
for sect in "SIGHUP" ".SH EXIT STATUS" ".SH FILES" ".SH ENVIRONMENT" ".SH EXAMPLES" "KTA_CONFIG"; do
    check "kta.1 has $sect" has "$sect" man.out
done

# -r: repeatable everywhere; the first replaces rules.path, later ones add
"$KTA" eval -r "$seed" -r other.yml events.jsonl >hits 2>err; rc=$?
check "eval -r a -r b exit 0" test $rc -eq 0
check "eval -r a -r b loads both (seed rules hit)" test "$(grep -c '"id":"seed-severity' hits)" -eq 3
check "eval -r a -r b loads both (second file hits)" test "$(grep -c '"id":"other"' hits)" -eq 1
"$KTA" check -r "$seed" >out 2>err; check "check -r exit 0" test $? -eq 0
check "check -r loads it" has "2 loaded" out
"$KTA" check -r "$seed" other.yml >out 2>err; check "check -r a b: both, one ruleset" has "3 loaded" out
"$KTA" check "$seed" -r other.yml >out 2>err; check "check a -r b" has "3 loaded" out
"$KTA" config -r a -r b >out 2>/dev/null; check "config -r a -r b: rules.path list" has "rules.path: [a, b]" out
"$KTA" bench -r "$seed" -r other.yml --events 100 --seconds 0.01 --modes engine >out 2>err
check "bench -r a -r b" has "3 rules" out
# -c for eval and check: rules.path / fieldmap / placeholders / on_error / strict from the file
mkdir -p conf/r && cp other.yml conf/r/ && cp ph.map conf/
printf 'rules:\n  path: [r, %s]\n  placeholders: ph.map\n' "$seed" >conf/kta.yaml
"$KTA" eval -c conf/kta.yaml events.jsonl >hits 2>err; rc=$?
check "eval -c exit 0" test $rc -eq 0
check "eval -c: rules from the file's rules.path (relative to the file)" test "$(grep -c '"id":"other"' hits)" -eq 1
check "eval -c: the absolute path too" test "$(grep -c '"id":"seed-severity' hits)" -eq 3
"$KTA" check -c conf/kta.yaml >out 2>err; check "check -c exit 0" test $? -eq 0
check "check -c: rules.path of the file" has "3 loaded" out
"$KTA" eval -c conf/kta.yaml -r expand.yml events.jsonl >hits 2>err
check "eval -c with -r: -r replaces, the file's placeholders (relative) stay" test "$(grep -c '"id":"ex"' hits)" -eq 2
"$KTA" config -c conf/kta.yaml >out 2>err; rc=$?
check "config shows resolved relative paths" has "rules.path: [conf/r, $seed]" out
check "config shows resolved placeholders" has "rules.placeholders: conf/ph.map" out
check "config of a valid file exit 0" test $rc -eq 0
"$KTA" config -c conf/kta.yaml -p ph.map >out 2>/dev/null
check "a relative -p stays relative to the working directory" has "rules.placeholders: ph.map" out
(cd conf && "$KTA" eval -c kta.yaml ../events.jsonl >../hits 2>/dev/null)
check "eval -c from the file's own directory" test "$(grep -c '"id":"other"' hits)" -eq 1
# default configuration: $KTA_CONFIG (tests never read the real /etc one)
KTA_CONFIG=conf/kta.yaml "$KTA" eval events.jsonl >hits 2>err
check "KTA_CONFIG chooses the default file (eval)" test "$(grep -c '"id":"other"' hits)" -eq 1
KTA_CONFIG=conf/kta.yaml "$KTA" config >out 2>/dev/null
check "KTA_CONFIG chooses the default file (config)" has "# effective configuration from conf/kta.yaml" out
KTA_CONFIG=conf/kta.yaml "$KTA" config -c none >out 2>/dev/null
check "-c none reads no file" has "rules.path: [rules]" out
KTA_CONFIG=conf/kta.yaml "$KTA" check >out 2>err; check "KTA_CONFIG (check)" has "3 loaded" out
KTA_CONFIG=nosuch.yaml "$KTA" eval events.jsonl >/dev/null 2>err; rc=$?
check "KTA_CONFIG naming a missing file exit 2" test $rc -eq 2
check "KTA_CONFIG missing file message" has "kta: error: nosuch.yaml: No such file or directory (the file \$KTA_CONFIG names)" err
KTA_CONFIG= "$KTA" config >out 2>/dev/null; check "KTA_CONFIG empty: no file" bash -c "! grep -q 'from ' out"
"$KTA" config -c nosuch.yaml >/dev/null 2>err; check "unreadable -c file exit 2" test $? -eq 2
"$KTA" eval -c nosuch.yaml events.jsonl >/dev/null 2>err; check "eval: unreadable -c file exit 2" test $? -eq 2
"$KTA" check -c nosuch.yaml >/dev/null 2>err; check "check: unreadable -c file exit 2" test $? -eq 2
"$KTA" produce -c nosuch.yaml -t x </dev/null 2>err; check "produce: unreadable -c file exit 2" test $? -eq 2
# --strict: warnings are errors (an empty rules directory is a warning)
mkdir -p empty
"$KTA" eval -r empty </dev/null >/dev/null 2>err; check "eval: a warning alone exit 0" test $? -eq 0
"$KTA" eval --strict -r empty </dev/null >/dev/null 2>err; check "eval --strict: warning -> exit 2" test $? -eq 2
"$KTA" check --strict -r empty >/dev/null 2>err; check "check --strict: warning -> errors found, exit 1" test $? -eq 1
"$KTA" config --strict >out 2>/dev/null; check "--strict sets rules.strict" has "rules.strict: true" out

# exit codes: run
"$KTA" run --nosuch 2>err; check "run: unknown option exit 2" test $? -eq 2
# Correlation rules: kta eval applies them, kta run too (past the rules
# to the brokers here), chains included; bad --grace / --time-field are
# usage errors.
cr="$root/tests/rules/cases/correlation/value-count/rules.yml"
"$KTA" run -r "$cr" -b 127.0.0.1:1 -t x -X startup_timeout_ms=200 2>err; rc=$?
check "run: takes correlation rules to the brokers" has "127.0.0.1:1" err
check "run: says nothing against them" test "$(grep -c 'not supported\|does not apply' err)" -eq 0
ch="$root/tests/rules/cases/correlation/chained/rules.yml"
"$KTA" run -r "$ch" -b 127.0.0.1:1 -t x -X startup_timeout_ms=200 2>err; rc=$?
check "run: takes correlations of correlations to the brokers" has "127.0.0.1:1" err
"$KTA" eval -r "$cr" --grace 5w </dev/null 2>err; check "eval: bad --grace exit 2" test $? -eq 2
"$KTA" eval -r "$cr" --time-field a,,b </dev/null 2>err; check "eval: bad --time-field exit 2" test $? -eq 2
"$KTA" check "$cr" >out 2>&1; check "check counts correlations" has "correlations: 1 loaded" out
nt="$root/tests/rules/cases/correlation/no-time"
"$KTA" eval -r "$nt/rules.yml" "$nt/events.jsonl" >out 2>/dev/null
check "eval: a window without event times reports no times" has '"first":null,"last":null' out
"$KTA" check "$root/rules" >out 2>&1
check "check: the default rules carry correlations" has "correlations: 3 loaded" out
"$KTA" run -w many 2>err; check "run: bad value exit 2" test $? -eq 2
check "run: bad value message" has "kta: error: -w: workers: 'many' is not a whole number" err
"$KTA" run extra 2>err; check "run: stray argument exit 2" test $? -eq 2
"$KTA" run -r bad.yml 2>err; check "run: rules that do not load exit 2" test $? -eq 2
check "run: rule error once, one prefix" has "kta: error: bad.yml:6:14: rule x: condition" err
check "run: no 'cannot load rules:' repeat" test "$(grep -c 'bad.yml:6:14' err)" -eq 1
cat err >>all.err
"$KTA" run -r empty -X startup_timeout_ms=200 2>err; check "run: an empty ruleset exit 2" test $? -eq 2
check "run: empty ruleset message" has "no enabled rule" err
"$KTA" run -r "$seed" -X acks=banana 2>err; check "run: a bad librdkafka property exits 2" test $? -eq 2
printf 'kafka:\n  acks: banana\n' >badkafka.yaml
"$KTA" run -c badkafka.yaml -r "$seed" 2>err; check "run: bad kafka: property in kta.yaml exits 2" test $? -eq 2
check "run: the property's place is named" has "kta: error: badkafka.yaml:2:9: kafka property 'acks'" err
timeout 60 "$KTA" run -r "$seed" -b 127.0.0.1:1 -X startup_timeout_ms=500 2>err; rc=$?
check "run: unreachable brokers exit 1" test $rc -eq 1
check "run: unreachable brokers message" has "kta: error: cannot reach the Kafka brokers at 127.0.0.1:1 within 500 ms" err
cat err >>all.err
# exit codes: eval, check, bench, help, produce usage
"$KTA" eval --nosuch </dev/null 2>err; check "eval: unknown option exit 2" test $? -eq 2
"$KTA" check --nosuch 2>err; check "check: unknown option exit 2" test $? -eq 2
"$KTA" check bad.yml >/dev/null 2>err; check "check: rule errors exit 1" test $? -eq 1
check "check keeps compiler-style diagnostics" has "bad.yml:6:14: error: rule x:" err
"$KTA" bench --nosuch 2>err; check "bench: unknown option exit 2" test $? -eq 2
"$KTA" bench -r bad.yml --events 10 --seconds 0.01 >/dev/null 2>err; check "bench: invalid rules are skipped, exit 0" test $? -eq 0
"$KTA" bench -r "$seed" --file nosuch.jsonl --seconds 0.01 >/dev/null 2>err; check "bench: unreadable events file exit 1" test $? -eq 1
"$KTA" bench --events 10 2>err; check "bench: neither -r nor --generate-rules exit 2" test $? -eq 2
"$KTA" help run >/dev/null; check "help CMD exit 0" test $? -eq 0
"$KTA" produce --nosuch 2>err; check "produce: unknown option exit 2" test $? -eq 2
"$KTA" produce --generate -n 3 -o - 2>err; check "produce: -o is run's --offset, not an output" test $? -eq 2
check "produce -o: says whose option it is" has "unknown option '-o' (it is an option of run, eval, config, export)" err
"$KTA" produce </dev/null 2>err; check "produce: no -t exit 2" test $? -eq 2
"$KTA" produce -t x nosuch.jsonl -b 127.0.0.1:1 -X startup_timeout_ms=200 2>err
check "produce: brokers checked before files are read: exit 1" test $? -eq 1
# eval/check/bench do not talk to Kafka: -X must be a kta option
"$KTA" eval -r "$seed" -X rules.on_error=skip events.jsonl >/dev/null 2>&1; check "eval -X kta option" test $? -eq 0
"$KTA" eval -r "$seed" -X fetch.wait.max.ms=5 </dev/null 2>err; check "eval -X librdkafka property exit 2" test $? -eq 2
check "eval -X property: why" has "does not talk to Kafka" err
cat err >>all.err
"$KTA" check -X rules.on_eror=skip "$seed" >/dev/null 2>err; check "check -X misspelt exit 2" test $? -eq 2
check "check -X misspelt: did you mean" has "-X rules.on_eror: unknown kta option (did you mean 'rules.on_error'?)" err

# config --check: everything kta run would check, without a broker
"$KTA" config --check -r "$seed" >out 2>err; rc=$?
check "config --check valid exit 0" test $rc -eq 0
check "config --check prints no configuration" test ! -s out
check "config --check says valid" has "is valid" err
"$KTA" config --check -r "$seed" -b 127.0.0.1:1 -X startup_timeout_ms=100 2>err
check "config --check connects to nothing (exit 0 with no broker)" test $? -eq 0
printf 'rules:\n  path: %s\nkafka:\n  acks: banana\n  bootstrap.server: x\n  partition.assignment.strategy: cooperative-sticky\n' "$seed" >multi.yaml
"$KTA" config --check -c multi.yaml -X output.topci=x 2>err; rc=$?
check "config --check invalid exit 2" test $rc -eq 2
check "config --check: bad value with its place" has "kta: error: multi.yaml:4:9: kafka property 'acks': Invalid value" err
check "config --check: unknown property, did you mean" has "kafka property 'bootstrap.server': No such configuration property: \"bootstrap.server\" (did you mean 'bootstrap.servers'?)" err
check "config --check: -X kta option misspelt" has "kta: error: -X: kafka property 'output.topci': No such configuration property: \"output.topci\" (did you mean the kta option 'output.topic'?)" err
check "config --check: every error listed" has "is not valid: 3 errors" err
printf 'rules:\n  path: %s\nkafka:\n  partition.assignment.strategy: cooperative-sticky\n' "$seed" >coop.yaml
"$KTA" config --check -c coop.yaml 2>err; check "config --check: cooperative assignor refused, exit 2" test $? -eq 2
check "config --check: cooperative message" has "kta supports only the eager assignors" err
"$KTA" config --check -r bad.yml -r nosuch.yml 2>err; check "config --check: rules errors exit 2" test $? -eq 2
check "config --check: every rule error" test "$(grep -c '^kta: error: \(bad.yml\|nosuch.yml\)' err)" -eq 2
cat err >>all.err
"$KTA" config --check -r empty 2>err; check "config --check: empty ruleset exit 2" test $? -eq 2
"$KTA" config --check -r empty -X rules.allow_empty=true 2>err; check "config --check: rules.allow_empty" test $? -eq 0
"$KTA" config -r bad.yml >out 2>err; rc=$?
check "plain config still prints" has "rules.path: [bad.yml]" out
check "plain config of an invalid configuration exit 2" test $rc -eq 2
check "plain config says it is invalid" has "is not valid" err
cat err >>all.err
# did you mean
"$KTA" rn 2>err; check "misspelt command exit 2" test $? -eq 2
check "misspelt command: did you mean" has "kta: error: unknown command 'rn' (did you mean 'run'?)" err
"$KTA" help chek 2>err; check "help misspelt: did you mean" has "(did you mean 'check'?)" err
"$KTA" run --exit-at-ned 2>err; check "misspelt long option exit 2" test $? -eq 2
check "misspelt long option: did you mean" has "unknown option '--exit-at-ned' (did you mean '--exit-at-end'?)" err
"$KTA" eval --skip-invlaid </dev/null 2>err; check "misspelt eval option" has "(did you mean '--skip-invalid'?)" err
printf 'output:\n  topci: x\n' >topci.yaml
"$KTA" config -c topci.yaml 2>err; check "misspelt kta.yaml key exit 2" test $? -eq 2
check "misspelt kta.yaml key: did you mean" has "kta: error: topci.yaml:2:3: unknown option 'output.topci' (did you mean 'output.topic'?)" err
cat err >>all.err
# flags for options of other parts of issue #10 set their kta.yaml names
"$KTA" config -o beginning --reset-offsets -e --metrics 9464 >out 2>err
check "-o sets input.start_offset" has "input.start_offset: beginning" out
check "--reset-offsets sets input.reset_offsets" has "input.reset_offsets: true" out
check "-e sets input.exit_at_end" has "input.exit_at_end: true" out
check "--metrics sets metrics.listen" has "metrics.listen: 9464" out
# one error prefix: no line says "error:" twice
check "no error line says error: twice" bash -c "! grep -h 'error:.*error:' all.err"
# (kta run's lines start with the time: it is a service, its log a journal)
check "every error line starts with kta: error:" bash -c "! grep -h 'error:' all.err | grep -Ev '^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z )?kta: error: '"

# ---- safety rails: empty rulesets, --strict (rules.strict) ----
mkdir -p empty-rules
printf 'id: off\ntitle: t\nenabled: false\ndetection:\n  sel:\n    a: 1\n  condition: sel\n' >empty-rules/off.yml
timeout 30 "$KTA" run -b 127.0.0.1:1 -r empty-rules 2>err >/dev/null; rc=$?
check "run refuses a ruleset with no enabled rule" test $rc -ne 0
check "empty ruleset message" has "no enabled rule (1 rule loaded)" err
timeout 30 "$KTA" run -b 127.0.0.1:1 -r empty-rules -X rules.allow_empty=true -X startup_timeout_ms=200 2>err >/dev/null
check "rules.allow_empty gets past the rules" has "cannot reach the Kafka brokers" err
printf 'id: w\ntitle: t\nfrobnicate: 1\ndetection:\n  sel:\n    a: 1\n  condition: sel\n' >warn-rules.yml
timeout 30 "$KTA" run -b 127.0.0.1:1 -r warn-rules.yml -X rules.strict=true 2>err >/dev/null; rc=$?
check "rules.strict: a warning stops run" test $rc -ne 0
check "rules.strict message" has "unknown key 'frobnicate' (kept, not interpreted) (a warning; --strict)" err

# A thread kta cannot start is a clear error at start-up (exit 1, the
# thread named), never a kta that runs without it (finding 5, issue #11).
# KTA_TEST_THREAD_FAIL is kta_thread_create's test hook (util.h).  The
# delivery thread starts before the brokers are asked: no broker needed.
KTA_TEST_THREAD_FAIL=kta-delivery timeout 30 "$KTA" run -b 127.0.0.1:1 -r "$root/rules/seed.yaml" \
    -X startup_timeout_ms=500 2>err >/dev/null; rc=$?
check "run: delivery thread cannot start: exit 1" test $rc -eq 1
check "run: delivery thread cannot start: named" \
    has "cannot start thread kta-delivery (the producer's delivery reports): Resource temporarily unavailable; not starting" err
check "run: delivery thread cannot start: before the brokers" sh -c '! grep -q "cannot reach" err'
KTA_TEST_THREAD_FAIL=kta-delivery:2,other timeout 30 "$KTA" run -b 127.0.0.1:1 -r "$root/rules/seed.yaml" \
    -X startup_timeout_ms=500 2>err >/dev/null
check "run: KTA_TEST_THREAD_FAIL=NAME:2 spares the first start" has "cannot reach the Kafka brokers" err

# Exactly-once: librdkafka may block a transactional call for
# transaction.timeout.ms, twice between two polls, so more than a third of
# max.poll.interval.ms would let a stalled broker make kta leave its group
# (finding 6, issue #11; 4000 of 8000 did in s10-broker-stall).
timeout 30 "$KTA" run -b 127.0.0.1:1 -r "$root/rules/seed.yaml" -X processing.guarantee=exactly_once \
    -X max.poll.interval.ms=8000 -X startup_timeout_ms=500 2>err >/dev/null; rc=$?
check "run: eos transaction.timeout.ms over a third of max.poll.interval.ms: exit 2" test $rc -eq 2
check "run: eos transaction.timeout.ms vs max.poll.interval.ms: named" \
    has "transaction.timeout.ms (10000) must be at most a third of max.poll.interval.ms (8000)" err
timeout 30 "$KTA" run -b 127.0.0.1:1 -r "$root/rules/seed.yaml" -X processing.guarantee=exactly_once \
    -X max.poll.interval.ms=8000 -X session.timeout.ms=6000 -X transaction.timeout.ms=4000 \
    -X startup_timeout_ms=500 2>err >/dev/null; rc=$?
check "run: eos transaction.timeout.ms at half of max.poll.interval.ms: exit 2" test $rc -eq 2
timeout 30 "$KTA" run -b 127.0.0.1:1 -r "$root/rules/seed.yaml" -X processing.guarantee=exactly_once \
    -X max.poll.interval.ms=8000 -X session.timeout.ms=6000 -X transaction.timeout.ms=2666 \
    -X startup_timeout_ms=500 2>err >/dev/null
check "run: eos transaction.timeout.ms at a third of max.poll.interval.ms: accepted" \
    has "cannot reach the Kafka brokers" err

# eval writes hits as kta run does: output.fields from -X or -c too
printf '{"host":"a","severity":"high","threat":"x"}\n' | "$KTA" eval -r "$root/rules/seed.yaml" -X output.fields.env=prod >hits 2>/dev/null
check "eval -X output.fields.env" grep -q '"env":"prod"}$' hits

# kta check names the ruleset version kta run would carry, and refuses
# what kta run refuses: no enabled rule
"$KTA" check "$root/rules/seed.yaml" >out 2>err
check "check prints the ruleset version" grep -Eq '^ruleset version [0-9a-f]{12} ' out
mkdir -p seed-copy && cp "$root/rules/seed.yaml" seed-copy/other-name.yml
"$KTA" check seed-copy >out2 2>err
check "same content, same version" test "$(grep '^ruleset version' out)" = "$(grep '^ruleset version' out2)"
"$KTA" check empty-rules >out 2>err; rc=$?
check "check: no enabled rule exit 1" test $rc -eq 1
check "check: no enabled rule message" has "no enabled rule: kta run refuses to start" err
"$KTA" check -X rules.allow_empty=true empty-rules >out 2>err
check "check: rules.allow_empty exit 0" test $? -eq 0

# kta export: argument errors, before any broker is asked
"$KTA" export -b 127.0.0.1:1 2>err; rc=$?
check "export: no sink exit 2" test $rc -eq 2
check "export: no sink message" has "export: no sink: give one of --sqlite FILE, --jsonl DIR, --csv DIR" err
mkdir -p exdir
"$KTA" export -b 127.0.0.1:1 --sqlite x.db --jsonl exdir 2>err; rc=$?
check "export: two sinks exit 2" test $rc -eq 2
check "export: two sinks message" has "one sink at a time" err
check "export: two sinks create nothing" test ! -e x.db
"$KTA" export -b 127.0.0.1:1 --csv exdir --csv exdir 2>err; rc=$?
check "export: a sink twice exit 2" test $rc -eq 2
"$KTA" export -b 127.0.0.1:1 --sqlite x.db --rotate-bytes 10 2>err; rc=$?
check "export: --rotate-bytes with --sqlite exit 2" test $rc -eq 2
check "export: --rotate-bytes with --sqlite message" has "are for --jsonl and --csv files, not --sqlite" err
"$KTA" export -b 127.0.0.1:1 --jsonl exdir --rotate-seconds 0 2>err; rc=$?
check "export: --rotate-seconds 0 exit 2" test $rc -eq 2
"$KTA" export -b 127.0.0.1:1 --jsonl exdir -o -10 2>err; rc=$?
check "export: -o -10 exit 2" test $rc -eq 2
check "export: -o message" has "-o -10: kta export takes beginning, end or stored" err
"$KTA" export -b 127.0.0.1:1 --jsonl no-such-dir 2>err; rc=$?
check "export: missing directory exit 1" test $rc -eq 1
check "export: missing directory message" has "export: no-such-dir: No such file or directory" err
touch afile
"$KTA" export -b 127.0.0.1:1 --csv afile 2>err
check "export: not a directory message" has "export: afile: not a directory" err
# An unwritable directory: chmod a-w, or as root (whom chmod does not
# stop) an immutable one (chattr +i); skipped when neither works.
mkdir -p rodir
if [[ $(id -u) -ne 0 ]]; then chmod a-w rodir && ro=chmod; else chattr +i rodir 2>/dev/null && ro=chattr || ro=; fi
if [[ -n $ro ]]; then
    "$KTA" export -b 127.0.0.1:1 --jsonl rodir 2>err; rc=$?
    check "export: unwritable directory exit 1" test $rc -eq 1
    check "export: unwritable directory message" grep -qE \
        "export: rodir: directory not writable: (Permission denied|Operation not permitted)" err
    "$KTA" export -b 127.0.0.1:1 --sqlite rodir/x.db 2>err; rc=$?
    check "export: a database in an unwritable directory exit 1" test $rc -eq 1
    check "export: a database in an unwritable directory message" \
        has "export: rodir/x.db: cannot open the database: unable to open database file (SQLITE_CANTOPEN)" err
    if [[ $ro == chmod ]]; then chmod u+w rodir; else chattr -i rodir; fi
fi
printf 'not a database, just text, long enough to be read as a header..................................\n' >bad.db
"$KTA" export -b 127.0.0.1:1 --sqlite bad.db 2>err; rc=$?
check "export: not a database exit 1" test $rc -eq 1
check "export: not a database message" has "export: bad.db: " err
check "export: not a database names SQLITE_NOTADB" has "(SQLITE_NOTADB)" err
sqlite3 other.db 'CREATE TABLE hits (x)' 2>/dev/null
if [[ -e other.db ]]; then
    "$KTA" export -b 127.0.0.1:1 --sqlite other.db 2>err
    check "export: another program's hits table" has "has a table 'hits' that kta export did not create" err
fi
timeout 30 "$KTA" export -b 127.0.0.1:1 -X startup_timeout_ms=500 --sqlite new.db 2>err; rc=$?
check "export: no broker exit 1" test $rc -eq 1
check "export: no broker message" has "cannot reach the Kafka brokers at 127.0.0.1:1" err
check "export: the database is created first (WAL)" test "$(sqlite3 new.db 'PRAGMA journal_mode' 2>/dev/null || echo wal)" = wal
"$KTA" export --help >out
check "export --help" has "usage: kta export" out
# ---- kta test: the rules' tests: cases (issue #14) ---------------------------
# A passing file: cases of a rule and of a correlation, flow and block style.
cat >t-pass.yml <<'EOF'
rules:
  - id: t-mimikatz
    title: Mimikatz on the command line
    level: high
    tags: [attack.credential_access, attack.t1003]
    detection:
      selection:
        cmdline|contains: mimikatz
      condition: selection
    tests:
      - match: {"cmdline": "C:\\tools\\mimikatz.exe privilege::debug"}
      - no_match:
          cmdline: notepad.exe
  - id: t-fail
    title: Failed login
    level: informational
    tags: [attack.t1110]
    detection:
      selection: {result: failure}
      condition: selection
    tests:
      - match: {result: failure, user: bob}
      - no_match: {result: success, user: bob}
---
title: Three failures of one user
id: t-brute
level: medium
tags: [attack.t1110.001]
correlation:
  type: event_count
  rules: [t-fail]
  group-by: [user]
  timespan: 5m
  condition: {gte: 3}
tests:
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:10Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:20Z", result: failure, user: bob}
    hits: [{group: {user: bob}, count: 3}]
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:10Z", result: failure, user: carol}
      - {"@timestamp": "2026-01-01T00:10:20Z", result: failure, user: bob}
    hits: 0
EOF
"$KTA" test t-pass.yml >out 2>err; rc=$?
check "test: passing cases exit 0" test $rc -eq 0
check "test: summary" has "kta test: 6 cases, 6 passed, 0 failed in 3 rules" out
check "test: nothing but the summary" test "$(wc -l <out)" -eq 1
"$KTA" test -v t-pass.yml >out 2>&1
check "test -v: a line per passing case" has "t-pass.yml:12: rule t-mimikatz: ok: no_match" out
"$KTA" check t-pass.yml >out 2>&1; rc=$?
check "check accepts tests: (exit 0)" test $rc -eq 0
check "check: tests is a known key" bash -c "! grep -q \"unknown key 'tests'\" out"
check "check: no warning for tests:" has " 0 errors, 0 warnings" out
printf '{"cmdline":"mimikatz"}\n' | "$KTA" eval -r t-pass.yml >hits 2>err; rc=$?
check "eval ignores tests: (exit 0, its hit)" bash -c "test $rc -eq 0 && grep -q '\"id\":\"t-mimikatz\"' hits"
timeout 30 "$KTA" run -b 127.0.0.1:1 -r t-pass.yml -X startup_timeout_ms=500 >/dev/null 2>err
check "run loads rules with tests: (gets as far as the brokers)" has "cannot reach the Kafka brokers" err

# A failing file: each kind of failure, one line each with the case's line.
cat >t-fail.yml <<'EOF'
id: t-cmd
title: cmd
detection:
  selection: {cmdline|contains: mimikatz}
  condition: selection
tests:
  - match: {cmdline: notepad.exe}
  - no_match: {cmdline: mimikatz.exe}
  - match: {cmdline: "mimikatz\0"}
  - match: {cmdline: mimikatz}
---
id: t-f
title: f
detection:
  selection: {result: failure}
  condition: selection
---
title: brute
id: t-brute2
correlation:
  type: event_count
  rules: [t-f]
  group-by: [user]
  timespan: 5m
  condition: {gte: 2}
tests:
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
    hits: 1
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:01Z", result: failure, user: bob}
    hits: [{group: {user: carol}}]
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:01Z", result: failure, user: bob}
    hits: [{count: 5}]
  - events:
      - {"@timestamp": "2026-01-01T00:00:00Z", result: failure, user: bob}
      - {"@timestamp": "2026-01-01T00:00:01Z", result: failure, user: bob}
    hits: 0
EOF
"$KTA" test --junit junit.xml t-fail.yml >out 2>err; rc=$?
check "test: failing cases exit 1" test $rc -eq 1
check "test: match failure with file:line" has "t-fail.yml:7: rule t-cmd: match case did not match" out
check "test: no_match failure with file:line" has "t-fail.yml:8: rule t-cmd: no_match case matched" out
check "test: an event that is no valid record" \
    has "t-fail.yml:9: rule t-cmd: the event at line 9 is not a valid record (invalid_json)" out
check "test: a passing case prints nothing" bash -c "! grep -q '^t-fail.yml:10:' out"
check "test: too few correlation hits" has "t-fail.yml:27: rule t-brute2: expected 1 hit, got 0" out
check "test: wrong group" \
    has 't-fail.yml:30: rule t-brute2: hit 1: expected group {"user":"carol"}, got {"user":"bob"}' out
check "test: wrong count" has "t-fail.yml:34: rule t-brute2: hit 1: expected count 5, got 2" out
check "test: hits where none expected, and where" \
    has "t-fail.yml:38: rule t-brute2: expected 0 hits, got 1 (at the event of line 40)" out
check "test: failing summary" has "kta test: 8 cases, 1 passed, 7 failed in 2 rules; 1 rule without cases" out
check "test: failures on stdout, stderr empty" test ! -s err
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: test --junit XML"; }
import xml.etree.ElementTree as ET
top = ET.parse("junit.xml").getroot()
assert top.tag == "testsuites", top.tag
assert (top.get("tests"), top.get("failures")) == ("8", "7"), top.attrib
suites = top.findall("testsuite")
assert [s.get("name") for s in suites] == ["t-fail.yml"], suites
s = suites[0]
assert (s.get("tests"), s.get("failures")) == ("8", "7"), s.attrib
cases = s.findall("testcase")
assert len(cases) == 8
assert all(c.get("classname") == "t-fail.yml" and c.get("name") for c in cases)
assert [c.get("name") for c in cases[:2]] == ["t-cmd[1] match", "t-cmd[2] no_match"], [c.get("name") for c in cases]
failed = [c for c in cases if c.find("failure") is not None]
assert len(failed) == 7
assert failed[0].find("failure").get("message") == "match case did not match"
assert failed[0].find("failure").text == 't-fail.yml:7: rule t-cmd: match case did not match\nline 7: {"cmdline":"notepad.exe"}', failed[0].find("failure").text
assert cases[3].find("failure") is None and cases[3].get("line") == "10"
assert failed[-1].find("failure").get("message") == "expected 0 hits, got 1 (at the event of line 40)"
PY
"$KTA" test --junit junit.xml t-pass.yml >/dev/null 2>&1
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: test --junit XML, all passing"; }
import xml.etree.ElementTree as ET
top = ET.parse("junit.xml").getroot()
assert (top.get("tests"), top.get("failures")) == ("6", "0"), top.attrib
assert not list(top.iter("failure"))
assert [c.get("name") for c in top.iter("testcase")][-1] == "t-brute[2] events"
PY

# JUnit: markup in ids, messages and file names is escaped; disabled
# rules' cases are skipped; --require-tests fails rules that lack cases.
mkdir -p 'x&y'
cat >'x&y/t"<q>.yml' <<'EOF'
id: 'a&b<c>"d'
title: t
detection:
  selection: {k: "<&>"}
  condition: selection
tests:
  - match: {k: "<&>"}
  - no_match: {k: "<&>"}
---
id: t-off
title: disabled
enabled: false
detection:
  selection: {k: v}
  condition: selection
tests:
  - match: {k: v}
---
id: t-untested
title: no no_match
detection:
  selection: {k: w}
  condition: selection
tests:
  - match: {k: w}
EOF
"$KTA" test --require-tests --junit junit.xml 'x&y' >out 2>err; rc=$?
check "test --require-tests: exit 1" test $rc -eq 1
check "test --require-tests: names the rule and what it lacks" \
    has 'x&y/t"<q>.yml:19: rule t-untested: no no_match case (--require-tests)' out
check "test: disabled rule's cases skipped, counted" \
    has "kta test: 4 cases, 2 passed, 1 failed in 3 rules; 1 skipped (disabled rules); 1 rule lacking cases (--require-tests)" out
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: test --junit escaping, skipped, --require-tests"; }
import xml.etree.ElementTree as ET
top = ET.parse("junit.xml").getroot()
s = top.find("testsuite")
assert s.get("name") == 'x&y/t"<q>.yml', s.get("name")
cases = s.findall("testcase")
assert cases[0].get("name") == 'a&b<c>"d[1] match' and cases[0].get("classname") == 'x&y/t"<q>.yml'
assert cases[1].find("failure").get("message") == "no_match case matched"
assert 'rule a&b<c>"d: no_match' in cases[1].find("failure").text
assert cases[2].find("skipped") is not None and s.get("skipped") == "1"
assert cases[-1].get("name") == "t-untested tests" and cases[-1].find("failure") is not None
assert (s.get("tests"), s.get("failures")) == ("5", "2"), s.attrib
PY

# Malformed tests: keys are load errors with file:line:col, for check,
# test, eval and run alike; kta test then exits 2 and writes no JUnit.
cat >t-bad.yml <<'EOF'
id: t-bad
title: bad
detection:
  selection: {k: v}
  condition: selection
tests:
  - match: {k: v}
  - match: v
  - expect: {k: v}
  - match: {k: v}
    no_match: {k: w}
  - events: [{k: v}]
    hits: 1
---
title: c
id: t-badc
correlation: {type: event_count, rules: [t-bad], timespan: 1m, condition: {gte: 1}}
tests:
  - match: {k: v}
  - events: {k: v}
    hits: 1
  - events: [{k: v}]
    hits: [{group: {k: v}, count: 0}, {when: 1}]
  - events: [{k: v}]
---
id: t-bad2
title: bad2
detection:
  selection: {k: v}
  condition: selection
tests: {match: {k: v}}
EOF
"$KTA" check t-bad.yml >out 2>err; rc=$?
check "check: malformed tests: exit 1" test $rc -eq 1
for want in \
    "t-bad.yml:8:12: error: rule t-bad: the event of 'match' must be a mapping" \
    "t-bad.yml:9:5: error: rule t-bad: unknown key 'expect' in a test case (expected 'match: EVENT' or 'no_match: EVENT')" \
    "t-bad.yml:11:5: error: rule t-bad: a test case takes one of 'match' and 'no_match'" \
    "t-bad.yml:12:5: error: rule t-bad: 'events' belongs to the test cases of correlation rules" \
    "t-bad.yml:19:5: error: rule t-badc: 'match' belongs to the test cases of detection rules" \
    "t-bad.yml:20:13: error: rule t-badc: 'events' must be a non-empty list of events" \
    "t-bad.yml:23:28: error: rule t-badc: 'count' must be a whole number, 1 or more" \
    "t-bad.yml:23:40: error: rule t-badc: unknown key 'when' in an expected hit" \
    "t-bad.yml:24:5: error: rule t-badc: a correlation's test case needs 'events: [EVENT...]' and 'hits: N'" \
    "t-bad.yml:31:8: error: rule t-bad2: 'tests' must be a list of cases"; do
    check "check: $want" has "$want" err
done
echo stale >junit.xml
"$KTA" test --junit junit.xml t-bad.yml >out 2>err; rc=$?
check "test: malformed tests: exit 2" test $rc -eq 2
check "test: malformed tests: the errors with file:line:col" has "kta: error: t-bad.yml:8:12: rule t-bad:" err
check "test: malformed tests: what it means" has "kta: error: test: rules not loaded: 11 errors" err
check "test: no JUnit file after a load error (nor a stale one)" test ! -e junit.xml
"$KTA" eval -r t-bad.yml </dev/null >/dev/null 2>&1; rc=$?
check "eval: malformed tests: exit 2" test $rc -eq 2

# Exit codes and usage: nosuch path 2, bad option 2, unwritable --junit 1
"$KTA" test nosuch.yml >/dev/null 2>err; check "test: missing rules path exit 2" test $? -eq 2
"$KTA" test --junt x t-pass.yml >/dev/null 2>err; check "test: unknown option exit 2" test $? -eq 2
check "test: unknown option suggests --junit" has "did you mean '--junit'?" err
"$KTA" test --junit /nonexistent/dir/j.xml t-pass.yml >/dev/null 2>err; rc=$?
check "test: unwritable --junit exit 1" test $rc -eq 1
check "test: unwritable --junit message" has "test: --junit /nonexistent/dir/j.xml: No such file or directory" err
"$KTA" help test >out; check "help test shows --junit" has "--junit FILE" out

# -m / -p: cases see the rules as kta run loads them (field map, log-source
# scopes, placeholders)
cat >t-map.yml <<'EOF'
id: t-img
title: image
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\mimikatz.exe'
    User|expand: '%admins%'
  condition: selection
tests:
  - match: {event_type: process, process: {executable: 'C:\x\mimikatz.exe'}, user: root}
  - no_match: {event_type: file, process: {executable: 'C:\x\mimikatz.exe'}, user: root}
EOF
printf 'fields:\n  Image: process.executable\n  User: user\nlogsources:\n  - match: {product: windows, category: process_creation}\n    where: {event_type: process}\n' >t-map.fieldmap
printf 'admins: [root, admin]\n' >t-map.ph
"$KTA" test -m t-map.fieldmap -p t-map.ph t-map.yml >out 2>&1; rc=$?
check "test -m -p: cases pass with the map and placeholders" test $rc -eq 0
"$KTA" test -p t-map.ph t-map.yml >out 2>&1; rc=$?
check "test without -m: the match case fails (no field map)" \
    bash -c "test $rc -eq 1 && grep -q 't-map.yml:10: rule t-img: match case did not match' out"

# correlation.time_field (-X or -c) gives the cases' event times, as kta run reads them
cat >t-time.yml <<'EOF'
id: t-tf
title: f
detection:
  selection: {result: failure}
  condition: selection
---
title: c
id: t-tc
correlation: {type: event_count, rules: [t-tf], timespan: 1m, condition: {gte: 2}}
tests:
  - events:
      - {when: "2026-01-01T00:00:00Z", result: failure}
      - {when: "2026-01-01T00:05:00Z", result: failure}
    hits: 0
EOF
"$KTA" test t-time.yml >out 2>&1; rc=$?
check "test: no time field, one window: the near miss hits" \
    bash -c "test $rc -eq 1 && grep -q 't-time.yml:11: rule t-tc: expected 0 hits, got 1' out"
"$KTA" test -X correlation.time_field=nosuch -X correlation.time_field=when t-time.yml >out 2>&1
check "test -X correlation.time_field: five minutes apart, no hit" test $? -eq 0

# ---- kta rules list ------------------------------------------------------
"$KTA" rules list -p t-map.ph t-pass.yml t-map.yml >out 2>err; rc=$?
check "rules list: exit 0" test $rc -eq 0
check "rules list: header" grep -qE '^ID +LEVEL +ENABLED +FILE:LINE +LOGSOURCE +SCOPE +TAGS +TITLE$' out
check "rules list: a rule line" \
    grep -qE '^t-mimikatz +high +yes +t-pass.yml:2 +- +none +attack.credential_access,attack.t1003 +Mimikatz on the command line$' out
check "rules list: a correlation line" \
    grep -qE '^t-brute +medium +yes +t-pass.yml:25 +- +correlation:event_count +attack.t1110.001 +Three failures of one user$' out
check "rules list: the log source, unscoped without a map" \
    grep -qE '^t-img +medium +yes +t-map.yml:1 +product=windows,category=process_creation +nomap +- +image$' out
check "rules list: count on stderr" has "kta rules: 4 of 4 rules and correlation rules listed" err
"$KTA" rules list -m t-map.fieldmap -p t-map.ph t-map.yml >out 2>/dev/null
check "rules list -m: scoped by one entry" grep -qE '^t-img +.* +scoped:1 +' out
"$KTA" rules list --level medium t-pass.yml >out 2>/dev/null
check "rules list --level medium: medium and above" \
    test "$(awk 'NR > 1 { print $1 }' out | tr '\n' ' ')" = "t-mimikatz t-brute "
"$KTA" rules list --level HIGH t-pass.yml >out 2>/dev/null
check "rules list --level HIGH (case ignored)" test "$(awk 'NR > 1 { print $1 }' out)" = "t-mimikatz"
"$KTA" rules list --tag attack.t1110 t-pass.yml >out 2>/dev/null
check "rules list --tag: exact" test "$(awk 'NR > 1 { print $1 }' out)" = "t-fail"
"$KTA" rules list --tag 'ATTACK.T1110*' t-pass.yml >out 2>/dev/null
check "rules list --tag PREFIX*" test "$(awk 'NR > 1 { print $1 }' out | tr '\n' ' ')" = "t-fail t-brute "
"$KTA" rules list --tag attack.t1110,attack.t1003 t-pass.yml >out 2>err
check "rules list --tag A,B: every one (none here)" test "$(wc -l <out)" -eq 1
check "rules list: none listed is no error" has "kta rules: 0 of 3 rules" err
"$KTA" rules list -p t-map.ph --logsource product=Windows t-pass.yml t-map.yml >out 2>/dev/null
check "rules list --logsource" test "$(awk 'NR > 1 { print $1 }' out)" = "t-img"
"$KTA" rules list -p t-map.ph --logsource product=windows,category=dns t-map.yml >out 2>/dev/null
check "rules list --logsource: every pair must hold" test "$(wc -l <out)" -eq 1
"$KTA" rules list -p t-map.ph --json t-pass.yml t-map.yml >out 2>/dev/null
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: rules list --json"; }
import json
rows = [json.loads(l) for l in open("out")]
assert [r["id"] for r in rows] == ["t-mimikatz", "t-fail", "t-img", "t-brute"], rows
m = rows[0]
assert m == {"kind": "rule", "id": "t-mimikatz", "name": None, "title": "Mimikatz on the command line",
             "level": "high", "enabled": True, "file": "t-pass.yml", "line": 2, "logsource": None,
             "scope": "none", "scopes": 0, "filters": 0,
             "tags": ["attack.credential_access", "attack.t1003"], "tests": 2, "output_topic": None}, m
assert rows[2]["logsource"] == "product=windows category=process_creation" and rows[2]["scope"] == "nomap"
c = rows[3]
assert c["kind"] == "correlation" and c["type"] == "event_count" and c["rules"] == ["t-fail"], c
assert c["tests"] == 2 and c["line"] == 25 and c["scope"] == "correlation"
PY
"$KTA" rules list --json --level critical t-pass.yml >out 2>/dev/null
check "rules list --json with filters: nothing" test ! -s out
"$KTA" rules >/dev/null 2>err; rc=$?
check "rules without a subcommand: exit 2" bash -c "test $rc -eq 2 && grep -q 'a subcommand is needed: list' err"
"$KTA" rules show t-pass.yml >/dev/null 2>err; rc=$?
check "rules show: unknown subcommand, exit 2" bash -c "test $rc -eq 2 && grep -q \"unknown subcommand 'show'\" err"
"$KTA" rules list --level severe t-pass.yml >/dev/null 2>err; check "rules list --level severe: exit 2" test $? -eq 2
"$KTA" rules list --logsource windows t-pass.yml >/dev/null 2>err; check "rules list --logsource without =: exit 2" test $? -eq 2
"$KTA" rules list --tag a,,b t-pass.yml >/dev/null 2>err; check "rules list --tag with an empty item: exit 2" test $? -eq 2
"$KTA" rules list t-bad.yml >/dev/null 2>err; check "rules list: rules that do not load: exit 2" test $? -eq 2
"$KTA" rules list -p t-map.ph -r t-pass.yml t-map.yml >out 2>/dev/null
check "rules list: -r and operands together" test "$(wc -l <out)" -eq 5

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
