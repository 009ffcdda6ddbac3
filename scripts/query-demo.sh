#!/usr/bin/env bash
# `make query-demo`: the seed's next step after `make demo` — its hits
# answered by SQL.  Needs the demo's broker (127.0.0.1:9092, KTA_KAFKA_PORT)
# with the hits on matched_hits.
#   1. SQLite: `kta export` (group kta-query-demo, one-shot -e) copies the
#      hits that are new since its last run into build/query-demo/hits.db, and
#      sqlite3 asks it for the top rules and the hits per host.
#   2. Trino (scripts/trino-local.sh, port 48080): the live topic queried
#      through the kafka catalog, written to a Parquet table of the lake
#      catalog (lake.hits.daily, recreated on every run) and queried there.
# Trino keeps running afterwards, like the demo's broker;
# `scripts/trino-local.sh down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export KTA_KAFKA_PORT=${KTA_KAFKA_PORT:-9092}
B=127.0.0.1:$KTA_KAFKA_PORT
topic=matched_hits
kta=${KTA:-$root/build/kta}
trino=$root/scripts/trino-local.sh
out=$root/build/query-demo
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "query-demo: $*" >&2; exit 1; }

[[ -x $kta ]] || make --no-print-directory -s
kcat -L -b "$B" -m 5 >/dev/null 2>&1 ||
    die "no broker on $B: run 'make demo' first (it starts one and puts the seed's hits on $topic)"
n=$({ kcat -b "$B" -C -t "$topic" -e -o beginning -q -f '%o\n' 2>/dev/null || true; } | wc -l | tr -d ' ')
((n > 0)) || die "topic $topic on $B holds no hits: run 'make demo' first"
echo "$topic on $B holds $n hits"
mkdir -p "$out"

step "SQLite: kta export -b $B -t $topic -G kta-query-demo --sqlite $out/hits.db -e"
if ! "$kta" help export >/dev/null 2>&1; then
    echo "(skipped: this kta has no 'export' command yet; it comes with the SQLite export of issue 13)"
elif ! command -v sqlite3 >/dev/null 2>&1; then
    "$kta" export -b "$B" -t "$topic" -G kta-query-demo --sqlite "$out/hits.db" -e
    echo "(no sqlite3 shell to query $out/hits.db: apt-get install sqlite3)"
else
    # The file is kept between runs and each run adds the hits that came
    # since.  A new file starts the group again from the beginning.
    if [[ ! -f $out/hits.db ]]; then
        scripts/kafka-local.sh tool kafka-consumer-groups --bootstrap-server "$B" \
            --delete --group kta-query-demo >/dev/null 2>&1 || true
    fi
    "$kta" export -b "$B" -t "$topic" -G kta-query-demo --sqlite "$out/hits.db" -e
    q() { echo "sqlite> $1"; sqlite3 -header -column "$out/hits.db" "$1"; echo; }
    q "SELECT rule_id, level, count(*) AS hits FROM hits GROUP BY rule_id ORDER BY hits DESC LIMIT 10;"
    q "SELECT host, count(*) AS hits, group_concat(DISTINCT rule_id) AS rules FROM hits GROUP BY host ORDER BY hits DESC LIMIT 10;"
fi

step "Trino: scripts/trino-local.sh up (port ${TRINO_PORT:-48080}; kafka catalog on $B)"
"$trino" up
sql() { echo "trino> $1"; "$trino" sql --output-format=ALIGNED "$1"; echo; }

step "Trino: the live topic through the kafka connector"
sql "SELECT rule_id, level, count(*) AS hits FROM kafka.default.matched_hits GROUP BY 1, 2 ORDER BY hits DESC"
sql "SELECT host, rule_id, detected_at, src_topic, src_partition, src_offset FROM kafka.default.matched_hits ORDER BY detected_at DESC LIMIT 5"

step "Trino: into a Parquet table of the lake (lake.hits.daily, partitioned by day)"
"$trino" sql "CREATE SCHEMA IF NOT EXISTS lake.hits"
"$trino" sql "DROP TABLE IF EXISTS lake.hits.daily"
sql "CREATE TABLE lake.hits.daily WITH (format = 'PARQUET', partitioned_by = ARRAY['day']) AS
SELECT rule_id, rule_title, level,
       coalesce(host, json_extract_scalar(_message, '\$.correlation.group.host')) AS host,
       CAST(detected_at AT TIME ZONE 'UTC' AS timestamp(3)) AS detected_at,
       src_topic, src_partition, src_offset, _partition_id AS hit_partition, _partition_offset AS hit_offset,
       CAST(json_extract(_message, '\$.rule.tags') AS array(varchar)) AS tags,
       _message AS hit,
       CAST(detected_at AT TIME ZONE 'UTC' AS date) AS day
FROM kafka.default.matched_hits"
sql "SELECT day, level, count(*) AS hits FROM lake.hits.daily GROUP BY 1, 2 ORDER BY 1, 3 DESC"
sql "SELECT tag, count(*) AS hits FROM lake.hits.daily CROSS JOIN UNNEST(tags) AS t(tag) GROUP BY tag ORDER BY hits DESC LIMIT 10"
eval "$("$trino" env)"
echo "Parquet files:"
find "$TRINO_LAKE/hits/daily" -path '*/day=*' -type f ! -name '.*' -printf '  %p (%s bytes)\n'

cat <<EOT

Done. Trino is still running on $TRINO_SERVER (state $TRINO_DIR):
  scripts/trino-local.sh sql                 # a Trino prompt: kafka.default.matched_hits, lake.hits.daily
  scripts/trino-local.sh status | down       # see it, stop it
EOT
if [[ -f $out/hits.db ]]; then echo "  sqlite3 $out/hits.db    # the SQLite copy"; fi
