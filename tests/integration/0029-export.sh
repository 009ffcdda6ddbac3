# kta export: hits from kta run's hit topic into SQLite, exactly once
# through kill -9s and restarts (one row per hit record: none missing,
# none doubled, also for hits kta run wrote twice); records that are not
# hits reported and skipped (their offsets still committed); a read-only
# database and a full one stop the export with a clear error and commit
# nothing past the last stored batch; JSON-lines and CSV files, rotated.
#
# Read-only as root: chmod does not stop root, so the file is made
# immutable (chattr +i), which does; without chattr support the check is
# skipped.  Full: KTA_TEST_SQLITE_MAX_PAGES (export_sqlite.c) caps the
# database's size, SQLite then answers SQLITE_FULL as on a full disk.
# KTA_TEST_SQLITE_COMMIT_DELAY_MS widens the gap between storing a batch
# and committing its offsets, so the kill -9s land there: with offsets
# committed before the SQLite commit, rows would go missing.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq
topic "$in" 3; topic "$hits" 3; topic "$dlq"

# Records that are not hits, first in partition 0 of the hit topic.
printf '%s\n' 'not json at all' '{"a": 1}' '[1, 2]' '{"rule": {"id": "x"}}' |
    kcat -b "$B" -P -t "$hits" -p 0

# Hits from kta run over generated events.
"$KTA" produce --output gen.jsonl --generate 8000 --seed 29 --malicious 0.5 2>/dev/null
"$KTA" produce -b "$B" -t "$in" gen.jsonl 2>/dev/null
timeout 120 "$KTA" run -b "$B" -t "$in" -G "$T-kta" -r "$KTA_ROOT/rules" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none -e >run.out 2>run.err ||
    { tail -5 run.err; fail "kta run did not finish"; }
# kta run is at least once: a hit written twice (after a crash) must
# still be one row.  Copy a few hits again, as such a restart would.
consume "$hits" >first.txt
grep '"detected_at"' first.txt | sed -n 1,5p | kcat -b "$B" -P -t "$hits" -p 1
consume "$hits" '%p:%o %s\n' >topic.txt
total=$(wc -l <topic.txt | tr -d ' ')
nhits=$(grep -c '"detected_at"' topic.txt)
((nhits > 3000)) || fail "too few hits to test with: $nhits"
ok "$nhits hits (+4 records that are not hits) on $hits"

# rows DB: "partition:offset" (in the hit topic) of every row, sorted.
rows() { sqlite3 "$1" 'SELECT hit_partition || ":" || hit_offset FROM hits' | sort; }
# keys DB: "topic:partition:offset:rule" (the source event's) of every row.
keys() { sqlite3 "$1" "SELECT src_topic || ':' || src_partition || ':' || src_offset || ':' || rule_id
                       FROM hits" | sort; }
# The hits of the topic, one per (source, rule): kta run's copies are one.
python3 - topic.txt >want.txt <<'PY'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    po, _, text = line.rstrip("\n").partition(" ")
    try:
        h = json.loads(text)
    except ValueError:
        continue
    if not isinstance(h, dict) or "detected_at" not in h:
        continue
    s = h["source"]
    k = (s["topic"], s["partition"], s["offset"], h["rule"]["id"])
    if k not in seen:
        seen.add(k)
        print(":".join(map(str, k)))
PY
sort -o want.txt want.txt
uniq_hits=$(wc -l <want.txt | tr -d ' ')
expect_eq "distinct hits" "$((nhits - 5))" "$uniq_hits"

# ---- kill -9 mid-run, then a restart: exactly one row per hit ----------
# A member killed -9 stays in the group until its session times out.
exp=(-b "$B" -t "$hits" -G "$T-export" -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000)
export KTA_TEST_SQLITE_COMMIT_DELAY_MS=300
for i in 1 2 3; do
    "$KTA" export "${exp[@]}" --sqlite hits.db >"kill$i.out" 2>"kill$i.err" &
    echo $! >"kill$i.pid"
    wait_log "kill$i" "export: assigned"
    sleep "0.$((RANDOM % 5 + 4))"
    stop_kta "kill$i" KILL
done
n=$(sqlite3 hits.db 'SELECT count(*) FROM hits' 2>/dev/null || echo 0)
((n < uniq_hits)) || fail "the kill -9s came too late to test anything ($n rows already)"
ok "killed three times, $n of $uniq_hits rows stored so far"
unset KTA_TEST_SQLITE_COMMIT_DELAY_MS
RC=0
timeout 120 "$KTA" export "${exp[@]}" --sqlite hits.db -e >final.out 2>final.err || RC=$?
expect_eq "the restart exits 0 at the end" 0 "$RC"
keys hits.db >got.txt
if ! cmp -s want.txt got.txt; then
    echo "missing: $(comm -23 want.txt got.txt | head -5 | tr '\n' ' ')" >&2
    echo "extra:   $(comm -13 want.txt got.txt | head -5 | tr '\n' ' ')" >&2
    fail "rows differ from the hit topic's hits"
fi
ok "one row per hit, none missing, none doubled"
expect_eq "no duplicate (source, rule) rows" "$uniq_hits" \
    "$(sqlite3 hits.db 'SELECT count(DISTINCT src_topic||src_partition||":"||src_offset||rule_id) FROM hits')"
expect_eq "every record committed (not hits too)" "$total" "$(committed_total "$T-export" "$hits")"
expect_eq "WAL mode" wal "$(sqlite3 hits.db 'PRAGMA journal_mode')"
expect_eq "schema version" 1 "$(sqlite3 hits.db 'PRAGMA user_version')"
ncorr=$(grep -c '"correlation":{' topic.txt || true)
expect_eq "typed columns of rule hits" "$((uniq_hits - ncorr))" "$(sqlite3 hits.db "SELECT count(*)
    FROM hits WHERE corr_type IS NULL AND src_topic = '$in' AND typeof(src_offset) = 'integer'
    AND typeof(src_timestamp) = 'integer' AND level IS NOT NULL AND json_valid(tags)
    AND ruleset GLOB '[0-9a-f]*' AND json_extract(hit, '\$.rule.id') = rule_id
    AND host = json_extract(hit, '\$.event.host') AND corr_group IS NULL AND corr_count IS NULL")"
expect_eq "typed columns of correlation hits" "$ncorr" "$(sqlite3 hits.db "SELECT count(*)
    FROM hits WHERE corr_type IS NOT NULL AND json_valid(corr_group)
    AND typeof(corr_count) = 'integer' AND corr_count = json_extract(hit, '\$.correlation.count')
    AND corr_first IS NOT NULL AND typeof(src_offset) = 'integer'")"
((ncorr > 0)) || fail "no correlation hits to check"

# ---- records that are not hits: reported, skipped ------------------------
# (by the first run that read partition 0; the kills may have been it)
cat kill*.err final.err >all.err
for why in "offset 0: not JSON" "offset 1: not a hit: no rule.id" "offset 2: not a JSON object" \
           "offset 3: not a hit: no detected_at"; do
    grep -q "$hits \[0\] $why.*; skipped$" all.err || { cat final.err >&2; fail "no report: $why"; }
done
ok "records that are not hits are reported with topic, partition and offset"
RC=0
timeout 60 "$KTA" export "${exp[@]}" --sqlite hits.db -e -o beginning -G "$T-again" \
    >again.out 2>again.err || RC=$?
expect_eq "a second group over the same database exits 0" 0 "$RC"
grep -q "export: $total records, 0 rows written, $nhits already stored, 4 not hits (skipped)" again.err ||
    fail "summary: $(tail -1 again.err)"
ok "re-reading the whole topic adds no row; the summary counts the skipped records"

# ---- a read-only database stops the export, commits nothing -------------
"$KTA" produce -b "$B" -t "$hits" <<<'{"rule": {"id": "late"}, "detected_at": "2026-12-03T00:00:00Z"}' 2>/dev/null
before=$(committed "$T-export" "$hits")
ro=
if [[ $(id -u) -eq 0 ]]; then
    chattr +i hits.db 2>/dev/null && ro=chattr
else
    chmod a-w hits.db && ro=chmod
fi
if [[ -n $ro ]]; then
    RC=0
    timeout 60 "$KTA" export "${exp[@]}" --sqlite hits.db -e >ro.out 2>ro.err || RC=$?
    [[ $ro == chattr ]] && chattr -i hits.db || chmod u+w hits.db
    expect_eq "read-only database: exit 1" 1 "$RC"
    grep -q "export: hits.db: the database is read-only" ro.err || fail "message: $(cat ro.err)"
    expect_eq "read-only database: nothing committed" "$before" "$(committed "$T-export" "$hits")"
    ok "read-only database ($ro): a clear error naming the file, no commit"
else
    echo "skipped: cannot make hits.db read-only here (chattr +i failed)"
fi

# check_committed DB GROUP: the group's committed offsets of the hit topic
# match DB's rows exactly: every row lies below a committed offset (no
# row of an uncommitted batch was kept), every hit below one is stored.
check_committed() {
    rows "$1" >"$1.rows"
    python3 - topic2.txt "$1.rows" "$(committed "$2" "$hits")" <<'PY'
import json, sys
committed = {int(p): int(o) for p, o in (x.split(":") for x in sys.argv[3].split()) if o.isdigit()}
key = {}   # partition:offset -> (source, rule) of every hit record
for line in open(sys.argv[1]):
    po, _, text = line.rstrip("\n").partition(" ")
    try:
        h = json.loads(text)
        s = h.get("source") or {}
        key[po] = (s.get("topic"), s.get("partition"), s.get("offset"), h["rule"]["id"], h["detected_at"])
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
rows = open(sys.argv[2]).read().split()
stored = {key[po] for po in rows}
below = lambda po: int(po.split(":")[1]) < committed.get(int(po.split(":")[0]), 0)
# Every stored row is in a batch whose offsets were committed (the
# failed batch was rolled back) ...
late = [po for po in rows if not below(po)]
assert not late, f"stored but never committed: {late[:5]}"
# ... and every hit below a committed offset is stored (a copy of a hit
# under its first copy's row).
lost = [po for po, k in key.items() if below(po) and k not in stored]
assert not lost, f"committed but not stored: {lost[:5]}"
PY
}

# ---- a full database: stops mid-run, nothing committed past it ----------
consume "$hits" '%p:%o %s\n' >topic2.txt   # with the one produced since
pages=$(sqlite3 hits.db 'PRAGMA page_count')
RC=0
KTA_TEST_SQLITE_MAX_PAGES=$((pages / 2)) timeout 120 "$KTA" export -b "$B" -t "$hits" -G "$T-full" \
    --sqlite full.db -e >full.out 2>full.err || RC=$?
expect_eq "full database: exit 1" 1 "$RC"
grep -q "export: full.db: cannot .*: database or disk is full (SQLITE_FULL)" full.err ||
    fail "message: $(cat full.err)"
nfull=$(sqlite3 full.db 'SELECT count(*) FROM hits')
((nfull > 0 && nfull < uniq_hits)) || fail "the database filled at $nfull rows of $uniq_hits"
check_committed full.db "$T-full"
ok "full database ($nfull rows): a clear error, committed offsets match the stored rows exactly"

# ---- SIGTERM: the batch in hand is stored and committed, exit 0 ------------
KTA_TEST_SQLITE_COMMIT_DELAY_MS=300 "$KTA" export -b "$B" -t "$hits" -G "$T-term" --sqlite term.db \
    >term.out 2>term.err &
echo $! >term.pid
wait_log term "export: assigned"
sleep 1
stop_kta term TERM
expect_eq "SIGTERM: exit 0" 0 "$RC"
grep -q "export: [0-9]* records, [0-9]* rows written" term.err || fail "no summary: $(tail -2 term.err)"
nterm=$(sqlite3 term.db 'SELECT count(*) FROM hits')
((nterm > 0 && nterm < uniq_hits)) || fail "SIGTERM came at $nterm rows of $uniq_hits"
check_committed term.db "$T-term"
ok "SIGTERM at $nterm rows: stored and committed alike"

# ---- -o end: a new group starts at the end -----------------------------
RC=0
timeout 60 "$KTA" export -b "$B" -t "$hits" -G "$T-end" -o end -e --sqlite end.db >end.out 2>end.err || RC=$?
expect_eq "-o end -e exit" 0 "$RC"
expect_eq "-o end: nothing read" 0 "$(sqlite3 end.db 'SELECT count(*) FROM hits')"
expect_eq "-o end: nothing committed" 0 "$(committed_total "$T-end" "$hits")"

# ---- JSON lines and CSV, rotated -----------------------------------------
mkdir jsonl csv
RC=0
timeout 60 "$KTA" export -b "$B" -t "$hits" -G "$T-jsonl" --jsonl jsonl --rotate-bytes 200000 -e \
    >jsonl.out 2>jsonl.err || RC=$?
expect_eq "jsonl export exit" 0 "$RC"
files=$(ls jsonl | wc -l | tr -d ' ')
((files > 1)) || fail "jsonl: not rotated ($files files)"
ls jsonl | grep -qv '^hits-[0-9]\{8\}T[0-9]\{6\}Z-[0-9]\{4\}\.jsonl$' && fail "jsonl names: $(ls jsonl)"
expect_eq "jsonl: every hit record once" "$((nhits + 1))" "$(cat jsonl/* | wc -l | tr -d ' ')"
# kill -9 while a file is open: the next run finishes its .part file
# (cutting a torn line); files are at least once, so nothing is missing.
mkdir jsonl2
"$KTA" export -b "$B" -t "$hits" -G "$T-jsonl2" -X session.timeout.ms=6000 --jsonl jsonl2 \
    >j1.out 2>j1.err &
echo $! >j1.pid
wait_log j1 "export: assigned"
sleep 1
stop_kta j1 KILL
ls jsonl2 | grep -q '\.part$' || fail "no .part file after kill -9: $(ls jsonl2)"
timeout 60 "$KTA" export -b "$B" -t "$hits" -G "$T-jsonl2" --jsonl jsonl2 -e >j2.out 2>j2.err ||
    fail "jsonl restart: $(tail -2 j2.err)"
grep -q "finished jsonl2/hits-.*, left by an earlier run" j2.err || fail "no finish line: $(cat j2.err)"
ls jsonl2 | grep -q '\.part$' && fail ".part left: $(ls jsonl2)"
python3 - jsonl2 topic.txt <<'PY'
import glob, json, sys
got = set()
for f in glob.glob(sys.argv[1] + "/*.jsonl"):
    for line in open(f):
        json.loads(line)   # no torn line
        got.add(line.rstrip("\n"))
want = {l.rstrip("\n").split(" ", 1)[1] for l in open(sys.argv[2]) if '"detected_at"' in l}
missing = want - got
assert not missing, f"{len(missing)} hits missing after kill -9 and restart"
PY
ok "jsonl: kill -9 and a restart: the .part file finished, every hit there (at least once)"

timeout 60 "$KTA" export -b "$B" -t "$hits" -G "$T-csv" --csv csv -e >csv.out 2>csv.err ||
    fail "csv export: $(tail -2 csv.err)"
python3 - csv "$((nhits + 1))" <<'PY'
import csv, glob, json, sys
rows = []
for f in sorted(glob.glob(sys.argv[1] + "/*.csv")):
    with open(f, newline="") as fp:
        r = list(csv.DictReader(fp))
        rows += r
assert len(rows) == int(sys.argv[2]), len(rows)
for r in rows:
    h = json.loads(r["hit"])
    assert r["rule_id"] == h["rule"]["id"] and r["detected_at"] == h["detected_at"], r
    assert json.loads(r["tags"] or "[]") == h["rule"].get("tags", []), r
PY
ok "csv: a header row, one row per hit record, the columns match the hit JSON"
