# The seed scenario end to end: the seed's four events plus one malformed
# record go through kta on a real broker.  Checks the exact console lines,
# the matched_hits values, keys and headers, the dead-letter record and its
# headers, the committed offsets, and a clean exit 0 on SIGTERM.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-threat-events hits=$T-matched_hits dlq=$T-threat-events.dlq group=$T-kta
topic "$in"; topic "$hits"; topic "$dlq"

{ cat "$KTA_ROOT/tests/data/seed-events.jsonl"; echo '{"host": "endpoint05", "threat": '; } |
    "$KTA" produce -b "$B" -t "$in" 2>/dev/null

start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules/seed.yaml" -w 2 \
    -X output.topic="$hits" -X dead_letter.topic="$dlq" --print all
wait_count "$hits" 3
wait_count "$dlq" 1
sleep 2                      # one more commit interval
stop_kta kta
expect_eq "exit status after SIGTERM" 0 "$RC"

expect_eq "console lines" \
"[ALERT] Host: endpoint01 | Threat: malware.exe | Severity: HIGH | Rule: seed-severity-high
[DEBUG] Host: endpoint02 | Threat: unknown_process | Severity: low
[ALERT] Host: endpoint03 | Threat: exploit_attempt | Severity: CRITICAL | Rule: seed-severity-critical
[ALERT] Host: endpoint04 | Threat: brute_force_attempt | Severity: CRITICAL | Rule: seed-severity-critical" \
    "$(cat kta.out)"
grep -qxF '[ERROR] Received malformed JSON: {"host": "endpoint05", "threat": ' kta.err ||
    fail "no [ERROR] line on stderr: $(cat kta.err)"
ok "malformed record reported on stderr"

# The ruleset version is the first 12 hex digits of a SHA-256 of the rule
# files' content, in load order (a single file here).
ver=$(python3 -c 'import hashlib,struct,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha256(b"r"+struct.pack(">Q",len(d))+d).hexdigest()[:12])' "$KTA_ROOT/rules/seed.yaml")
expect_eq "hit keys and rule headers" \
"endpoint01 kta.rule.id=seed-severity-high,kta.rule.level=high,kta.ruleset.version=$ver
endpoint03 kta.rule.id=seed-severity-critical,kta.rule.level=critical,kta.ruleset.version=$ver
endpoint04 kta.rule.id=seed-severity-critical,kta.rule.level=critical,kta.ruleset.version=$ver" \
    "$(consume "$hits" '%k %h\n')"

consume "$hits" >hits.jsonl
python3 - "$in" "$ver" "$("$KTA" --version)" <<'PY'
import json, sys
topic = sys.argv[1]
kta = {"version": sys.argv[3].split()[1], "ruleset": sys.argv[2]}
hits = [json.loads(l) for l in open("hits.jsonl")]
want = [("seed-severity-high", "high", "endpoint01", 0),
        ("seed-severity-critical", "critical", "endpoint03", 2),
        ("seed-severity-critical", "critical", "endpoint04", 3)]
assert len(hits) == 3, hits
for h, (rid, level, host, off) in zip(hits, want):
    assert h["rule"]["id"] == rid and h["rule"]["level"] == level, h
    assert h["rule"]["title"] and h["rule"]["tags"][0] == "seed", h
    assert h["event"]["host"] == host, h
    src = h["source"]
    assert src["topic"] == topic and src["partition"] == 0 and src["offset"] == off, src
    assert isinstance(src["timestamp"], int) and src["timestamp"] > 0, src
    assert h["detected_at"].endswith("Z") and "T" in h["detected_at"], h
    assert h["kta"] == kta, h     # kta's version and the header's ruleset version
print("ok: hit records shaped as docs/rules.md §20")
PY

expect_eq "dead-letter record unchanged" '{"host": "endpoint05", "threat": ' "$(consume "$dlq")"
hdrs=$(consume "$dlq" '%h\n')
for h in kta.error.reason=invalid_json kta.source.topic="$in" kta.source.partition=0 kta.source.offset=4; do
    [[ ",$hdrs," == *",$h,"* ]] || fail "dead-letter header $h missing in [$hdrs]"
done
ok "dead-letter headers name reason and source"

expect_eq "committed offsets" "0:5" "$(committed "$group" "$in")"
grep -q 'processed 5 events: 3 hits, 1 malformed' kta.err || fail "summary: $(cat kta.err)"
ok "summary line"
