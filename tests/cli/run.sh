#!/usr/bin/env bash
# Command-line behaviour that needs no broker: kta eval / check / config /
# help / --version, exit codes and messages.  KTA = the binary to test.
# Prints "cli: N passed, N failed".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
KTA=${KTA:-$root/build/kta}
KTA=$(cd "$(dirname "$KTA")" && pwd)/$(basename "$KTA")
work=$(mktemp -d /tmp/kta-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
pass=0 fail=0
check() { # check NAME CONDITION-COMMAND...
    local name=$1; shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $name"; fi
}
has() { grep -qF -- "$1" "$2"; }

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
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: eval hit shape"; }
import json
hits = [json.loads(l) for l in open("hits")]
assert [h["rule"]["id"] for h in hits] == ["seed-severity-high", "seed-severity-critical", "seed-severity-critical"]
assert [h["source"] for h in hits] == [{"file": "events.jsonl", "line": n} for n in (1, 3, 4)], hits
assert hits[0]["event"] == {"host": "endpoint01", "threat": "malware.exe", "severity": "high"}
assert hits[0]["rule"]["level"] == "high" and hits[0]["rule"]["tags"] == ["seed", "severity.high"]
PY
"$KTA" eval -r "$root/rules/seed.yaml" <events.jsonl >hits2 2>/dev/null
check "eval from stdin" test "$(grep -c '"file":"-"' hits2)" -eq 3
"$KTA" eval -r "$root/rules/seed.yaml" nosuchfile >/dev/null 2>err; check "eval missing file exit 1" test $? -eq 1
check "eval missing file message" has "nosuchfile: No such file or directory" err
printf 'id: x\ntitle: t\ndetection:\n  sel:\n    a: 1\n  condition: nosuch\n' >bad.yml
"$KTA" eval -r bad.yml events.jsonl >/dev/null 2>err; check "eval rule error exit 1" test $? -eq 1
check "eval rule error names file:line" grep -q 'bad.yml:[0-9]*:[0-9]*:' err
"$KTA" eval events.jsonl >/dev/null 2>err; check "eval without -r exit 2" test $? -eq 2

# a catastrophic regex is cut off by PCRE2's limits, counted, and the
# event is still evaluated by every other rule
printf 'id: slow\ntitle: t\ndetection:\n  sel:\n    cmd|re: "(a+)+$"\n  condition: sel\n---\nid: other\ntitle: t\ndetection:\n  sel:\n    host: h1\n  condition: sel\n' >slow.yml
python3 -c "print('{\"host\":\"h1\",\"cmd\":\"' + 'a' * 20000 + 'b\"}')" >slow.jsonl
timeout 60 "$KTA" eval -r slow.yml slow.jsonl >hits 2>err; check "eval with a catastrophic regex exits 0" test $? -eq 0
check "other rule still hits" grep -q '"id":"other"' hits
check "regex limit reported per rule" has "rule slow: 1 event(s) hit the regex match limit" err

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
"$KTA" eval -r expand.yml events.jsonl >/dev/null 2>err; check "eval without -p exit 1" test $? -eq 1
check "missing placeholder says how to define it" has "expand.yml:5:19: error: rule ex: placeholder '%hosts%' has no value; define 'hosts' in a placeholders file (kta.yaml rules.placeholders, or -p FILE)" err
"$KTA" check -p ph.map expand.yml >out 2>err; check "check -p exit 0" test $? -eq 0
"$KTA" check --placeholders nosuch.map expand.yml >out 2>err; check "check bad -p exit 1" test $? -eq 1
check "check bad -p names the file" has "nosuch.map:0:0: error: cannot read placeholders" err
"$KTA" bench -r expand.yml -p ph.map --events 100 --seconds 0.01 --modes engine >out 2>err
check "bench -p exit 0" test $? -eq 0
"$KTA" config -p ph.map >out; check "run/config -p sets rules.placeholders" has "rules.placeholders: ph.map" out

# config
printf 'output:\n  topic: hits\nkafka:\n  sasl.password: hunter2\n' >kta.yaml
"$KTA" config -c kta.yaml -X workers=3 >out; check "config exit 0" test $? -eq 0
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

# produce without a broker must fail, not hang
timeout 60 "$KTA" produce -b 127.0.0.1:1 -t x -X message.timeout.ms=1000 <events.jsonl >/dev/null 2>err; rc=$?
check "produce to no broker fails (not hang)" test $rc -eq 1
"$KTA" produce --generate 3 -t x -b 127.0.0.1:1 -X message.timeout.ms=500 2>/dev/null; check "generate needs a broker too" test $? -eq 1

# produce --generate -o: generated events to stdout or a file, no broker
"$KTA" produce --generate --schema sysmon -n 100 --seed 5 -o - >gen.jsonl 2>err
check "generate -o - exit 0" test $? -eq 0
check "generate -o -: 100 lines" test "$(wc -l <gen.jsonl)" -eq 100
python3 - <<'PY' && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL: generated sysmon events"; }
import json
evs = [json.loads(l) for l in open("gen.jsonl")]
assert all(isinstance(e, dict) and isinstance(e["EventID"], int) and "Channel" in e for e in evs)
p1 = [e for e in evs if e["EventID"] == 1]
assert p1 and all(e["Channel"] == "Microsoft-Windows-Sysmon/Operational" and "\\" in e["Image"] for e in p1)
PY
"$KTA" produce --generate 100 --schema sysmon --seed 5 -o gen2.jsonl 2>err
check "generate -o FILE, --generate N form" cmp -s gen.jsonl gen2.jsonl
check "generate -o FILE says so" has "wrote 100 events to gen2.jsonl" err
"$KTA" produce --generate --schema sysmon -n 100 --seed 6 -o - | cmp -s - gen.jsonl
check "another seed, other events" test $? -ne 0
"$KTA" produce --generate --schema linux -n 50 --malicious 1 -o - >lin.jsonl 2>/dev/null
check "generate linux, all malicious" test "$(wc -l <lin.jsonl)" -eq 50
"$KTA" produce --generate -n 3 -o - | grep -c '"host":"endpoint' >n.out
check "default schema is kta" test "$(cat n.out)" -eq 3
"$KTA" produce --generate --schema windows -n 10 -o - >out 2>err; rc=$?
check "bad schema exit 2" test $rc -eq 2
check "bad schema message" has "--schema 'windows': unknown schema (expected one of kta, sysmon, linux)" err
check "bad schema writes nothing" test ! -s out
"$KTA" produce --generate --schema sysmon -o - >/dev/null 2>err; rc=$?
check "generate without a count exit 2" test $rc -eq 2
"$KTA" help produce >out; check "help produce shows --schema" has "--schema NAME" out

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
