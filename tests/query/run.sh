#!/usr/bin/env bash
# `make test-query`: kta's hits queried with SQL through Trino, end to end.
# Starts a broker of its own (KTA_KAFKA_PORT 59092, scripts/kafka-local.sh)
# and a Trino of its own (port 59080, scripts/trino-local.sh), both with state
# dirs in one private directory; sends generated events, lets `kta run -e`
# put their hits on a hit topic, then checks that
#   - the kafka catalog's table has one row per hit record on the topic
#     (counted with kcat), with the typed columns of each hit (compared with
#     the hit JSON, decoded by python),
#   - a query by rule gives the per-rule counts of the hit JSON,
#   - CREATE TABLE lake... WITH (format = 'PARQUET') AS SELECT writes the same
#     rows as Parquet files under the lake directory, and reads them back,
#   - `down` stops Trino.
# Everything it started is stopped on exit.  When Java or Trino cannot be
# obtained (no java, no mvn, Maven Central unreachable) it prints
# "skip: ..." and counts nothing.
# Prints "query: N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
KTA=${KTA:-$root/build/kta}
export KTA_CONFIG=none              # never the machine's default kta.yaml
export KTA_KAFKA_PORT=${KTA_QUERY_KAFKA_PORT:-59092}
export TRINO_PORT=${KTA_QUERY_TRINO_PORT:-59080}
export KTA_KAFKA_SECURITY=0 KTA_KAFKA_NODES=1
B=127.0.0.1:$KTA_KAFKA_PORT
kafka=$root/scripts/kafka-local.sh
trino=$root/scripts/trino-local.sh
case $KTA_KAFKA_PORT in 9092 | 19092 | 29092 | 39092 | 49092)
    echo "query: port $KTA_KAFKA_PORT belongs to another suite"; echo "query: 0 passed, 1 failed"; exit 1 ;;
esac
[[ -x $KTA ]] || { echo "query: $KTA not built"; echo "query: 0 passed, 1 failed"; exit 1; }

top=$(mktemp -d "${TMPDIR:-/tmp}/kta-query.XXXXXX")
export KTA_KAFKA_DIR=$top/kafka TRINO_DIR=$top/trino
in=query-events hits=query-hits dlq=query-events.dlq table=kafka.default.query_hits
export TRINO_KAFKA_TOPICS=$hits
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; shift; (($# == 0)) || printf '    | %s\n' "$@"; fail=$((fail + 1)); }
# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [[ $2 == "$3" ]]; then ok "$1"; else bad "$1" "expected: ${2:0:2000}" "got:      ${3:0:2000}"; fi
}
# Failed runs keep the directory (logs of broker, Trino and kta) for a look.
stop() {
    "$trino" down --purge >/dev/null 2>&1
    "$kafka" down --purge >/dev/null 2>&1
    if ((fail == 0)); then rm -rf "$top"; else echo "query: logs kept in $top"; fi
}
trap stop EXIT
finish() {
    echo "query: $pass passed, $fail failed"
    ((fail == 0))
    exit
}
cd "$top" || exit 1

# Java and Trino first: without them there is nothing to test here.
if ! out=$("$trino" fetch 2>&1); then
    echo "skip: Trino cannot be obtained: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
    echo "query: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
echo "     $("$trino" java)"

if ! "$kafka" up >kafka-up.log 2>&1; then
    cat kafka-up.log
    bad "broker starts on $B"
    finish
fi
for t in "$in:2" "$hits:2" "$dlq:1"; do "$kafka" topic-create "${t%:*}" "${t##*:}" >/dev/null 2>&1; done

# Hits on the topic: generated events (a third malicious) through kta run,
# which exits at the end of its input.
"$KTA" produce --output gen.jsonl --generate 600 --seed 13 --malicious 0.3 2>/dev/null
# and twelve failed logins of one user from one address within a minute:
# a correlation hit (auth-brute-force), with correlation.* fields.  Their
# times lie a minute ahead: kta run takes the record timestamp (now) as the
# time of the generated events before them, and events older than those
# would be late and left out.
python3 - >>gen.jsonl <<'PY'
import json, time
t = int(time.time()) + 60
for i in range(12):
    print(json.dumps({"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t + i)),
                      "event_type": "login",
                      "result": "failure", "method": "ssh", "user": "bob",
                      "src_ip": "10.0.0.7", "host": "bastion1"}))
PY
"$KTA" produce -b "$B" -t "$in" -k host gen.jsonl >produce.log 2>&1 || { cat produce.log; bad "produce events"; finish; }
rc=0
timeout 120 "$KTA" run -b "$B" -t "$in" -G query-kta -r "$root/rules" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none -e >run.out 2>run.err || rc=$?
expect_eq "kta run -e exits 0 at the end of its input" 0 "$rc"
kcat -b "$B" -C -t "$hits" -e -o beginning -q -f '%s\n' >hits.jsonl 2>/dev/null
n=$(wc -l <hits.jsonl | tr -d ' ')
want=$("$KTA" eval -r "$root/rules" gen.jsonl 2>/dev/null | wc -l | tr -d ' ')
expect_eq "hits on $hits (kcat) are those kta eval finds" "$want" "$n"
((n > 100)) || bad "enough hits to query" "only $n"

t0=$SECONDS
if ! "$trino" up >trino-up.log 2>&1; then
    cat trino-up.log
    bad "Trino starts on port $TRINO_PORT"
    finish
fi
ok "Trino up in $((SECONDS - t0)) s"
"$trino" status >/dev/null
expect_eq "status: running" 0 "$?"

# sql SQL: the rows as tab-separated values, no header.
sql() { "$trino" sql --output-format=TSV "$1" 2>sql.err || { echo "ERROR: $(tail -n 3 sql.err)"; }; }

expect_eq "row count through the kafka connector = hits on the topic" "$n" "$(sql "SELECT count(*) FROM $table")"

# The same columns computed from the hit JSON: rule id, level, host (the
# record key too), source topic/partition/offset, detected_at.
python3 - hits.jsonl >expect-rows.tsv <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    h = json.loads(line)
    src = h["source"]
    host = (h.get("event") or {}).get("host")
    rows.append("\t".join([h["rule"]["id"], h["rule"]["level"], host or "",
                           src["topic"], str(src["partition"]), str(src["offset"]),
                           h["detected_at"].replace("T", " ").replace("Z", " UTC")]))
print("\n".join(sorted(rows)))
PY
got=$(sql "SELECT rule_id, level, coalesce(host, ''), src_topic, CAST(src_partition AS varchar),
                  CAST(src_offset AS varchar), CAST(detected_at AS varchar)
           FROM $table" | LC_ALL=C sort)
expected=$(LC_ALL=C sort expect-rows.tsv)
if [[ $got == "$expected" ]]; then
    ok "typed columns of every row match the hit JSON ($n rows)"
else
    bad "typed columns of every row match the hit JSON" "$(diff <(echo "$expected") <(echo "$got") | head -n 10)"
fi
expect_eq "record key column is the host" 0 \
    "$(sql "SELECT count(*) FROM $table WHERE host IS NOT NULL AND key <> host")"

by_rule=$(python3 - hits.jsonl <<'PY'
import collections, json, sys
c = collections.Counter(json.loads(l)["rule"]["id"] for l in open(sys.argv[1], encoding="utf-8"))
print("\n".join(f"{r}\t{k}" for r, k in sorted(c.items())))
PY
)
((${#by_rule} > 0)) || bad "per-rule counts from the hit JSON"
expect_eq "per-rule counts through the kafka connector" "$by_rule" \
    "$(sql "SELECT rule_id, count(*) FROM $table GROUP BY 1 ORDER BY 1")"

corr=$(python3 - hits.jsonl <<'PY'
import json, sys
c = [json.loads(l).get("correlation") for l in open(sys.argv[1], encoding="utf-8")]
c = [x for x in c if x]
print(f"{len(c)}\t{sum(x['count'] for x in c)}")
PY
)
[[ $corr != 0$'\t'* ]] || bad "correlation hits among the hits" "none"
expect_eq "correlation hits and their counts (type, count columns)" "$corr" \
    "$(sql "SELECT count(*), coalesce(sum(corr_count), 0) FROM $table WHERE corr_type IS NOT NULL")"

# Into the lake: Parquet, partitioned by day.
sql "CREATE SCHEMA lake.q" >/dev/null
out=$(sql "CREATE TABLE lake.q.hits WITH (format = 'PARQUET', partitioned_by = ARRAY['day']) AS
           SELECT rule_id, rule_title, level, host, CAST(detected_at AT TIME ZONE 'UTC' AS timestamp(3)) AS detected_at,
                  src_topic, src_partition, src_offset, _partition_id AS hit_partition, _partition_offset AS hit_offset,
                  CAST(json_extract(_message, '\$.rule.tags') AS ARRAY(VARCHAR)) AS tags, _message AS hit,
                  CAST(detected_at AT TIME ZONE 'UTC' AS date) AS day
           FROM $table")
# The CLI reports the rows written on stderr: "CREATE TABLE: N rows".
got=$(sed -n 's/^CREATE TABLE: \([0-9]*\) rows$/\1/p' sql.err)
expect_eq "CTAS into lake.q.hits writes every row" "$n" "${got:-$out}"
expect_eq "row count of the Parquet table" "$n" "$(sql "SELECT count(*) FROM lake.q.hits")"
expect_eq "per-rule counts from the Parquet table" "$by_rule" \
    "$(sql "SELECT rule_id, count(*) FROM lake.q.hits GROUP BY 1 ORDER BY 1")"
expect_eq "the Parquet table holds the same rows as the topic" 0 \
    "$(sql "SELECT count(*) FROM (SELECT rule_id, src_topic, src_partition, src_offset FROM $table
                                  EXCEPT SELECT rule_id, src_topic, src_partition, src_offset FROM lake.q.hits)")"
expect_eq "tags decoded from the hit JSON" 0 \
    "$(sql "SELECT count(*) FROM lake.q.hits WHERE cardinality(tags) = 0 OR tags IS NULL")"
# Parquet files start and end with the magic PAR1 (the Hive connector names
# them by query id, without an extension).
parquet=0 files=0
while IFS= read -r -d '' f; do
    files=$((files + 1))
    [[ $(head -c 4 "$f") == PAR1 && $(tail -c 4 "$f") == PAR1 ]] && parquet=$((parquet + 1))
done < <(find "$TRINO_DIR/lake/q/hits" -path '*/day=*' -type f ! -name '.*' -print0 2>/dev/null)
if ((files > 0 && parquet == files)); then
    ok "$files Parquet file(s) under $TRINO_DIR/lake/q/hits/day=*"
else
    bad "Parquet files under the lake directory" "$parquet of $files files are Parquet" \
        "$(find "$TRINO_DIR/lake" | head -n 20)"
fi

# More hits later: an INSERT appends only the hit records the lake lacks
# (by Kafka partition and offset of the hit record), as docs/query.md shows.
"$KTA" produce --output gen2.jsonl --generate 200 --seed 14 --malicious 0.3 2>/dev/null
"$KTA" produce -b "$B" -t "$in" -k host gen2.jsonl >produce2.log 2>&1 || { cat produce2.log; bad "produce more events"; }
rc=0
timeout 120 "$KTA" run -b "$B" -t "$in" -G query-kta -r "$root/rules" -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none -e >run2.out 2>run2.err || rc=$?
expect_eq "second kta run -e exits 0" 0 "$rc"
n2=$(kcat -b "$B" -C -t "$hits" -e -o beginning -q -f '%o\n' 2>/dev/null | wc -l | tr -d ' ')
((n2 > n)) || bad "more hits on $hits after the second run" "$n then $n2"
sql "INSERT INTO lake.q.hits
     SELECT rule_id, rule_title, level, host, CAST(detected_at AT TIME ZONE 'UTC' AS timestamp(3)),
            src_topic, src_partition, src_offset, _partition_id, _partition_offset,
            CAST(json_extract(_message, '\$.rule.tags') AS ARRAY(VARCHAR)), _message,
            CAST(detected_at AT TIME ZONE 'UTC' AS date)
     FROM $table k
     WHERE _partition_offset > coalesce((SELECT max(hit_offset) FROM lake.q.hits d
                                         WHERE d.hit_partition = k._partition_id), -1)" >/dev/null
expect_eq "INSERT appends the new hits only" "$((n2 - n))" "$(sed -n 's/^INSERT: \([0-9]*\) rows$/\1/p' sql.err)"
expect_eq "the Parquet table then holds every hit record once" "$n2"$'\t'"$n2" \
    "$(sql "SELECT count(*), count(DISTINCT (hit_partition, hit_offset)) FROM lake.q.hits")"

pid=$(sed -n 's/^running pid=\([0-9]*\) .*/\1/p' <<<"$("$trino" status)")
"$trino" down >/dev/null 2>&1
"$trino" status >/dev/null
expect_eq "status after down: stopped" 3 "$?"
if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then bad "Trino pid $pid gone after down"; else ok "Trino process gone after down"; fi

finish
