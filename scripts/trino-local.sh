#!/usr/bin/env bash
# trino-local.sh - run a single-node Trino (coordinator and worker in one
# JVM) on 127.0.0.1 from Maven Central's io.trino:trino-server tarball and
# io.trino:trino-cli executable jar, fetched once and cached.  Two catalogs:
#   kafka  the Kafka connector over kta's hit topics (default matched_hits),
#          with a table description that decodes the hit JSON into typed
#          columns: SELECT rule_id, count(*) FROM kafka.default.matched_hits GROUP BY 1
#   lake   the Hive connector with a file metastore on a local directory
#          (STATE/lake): CREATE TABLE lake.hits.daily WITH (format = 'PARQUET')
#          AS SELECT ... writes Parquet files there.
# docs/query.md describes the columns and gives example queries.
#
# Usage:
#   trino-local.sh up                 start Trino (idempotent); wait until SELECT 1 answers
#   trino-local.sh down [--purge]     stop the Trino this state dir started; --purge
#                                     deletes the state dir (and so the lake's tables)
#   trino-local.sh status             print running/stopped; exit 0 running, 3 stopped
#   trino-local.sh sql [OPTION...] [SQL...]
#                                     run SQL with the Trino CLI (no SQL: read statements
#                                     from standard input, or an interactive prompt on a
#                                     terminal); leading --options go to the CLI, e.g.
#                                     --output-format=TSV
#   trino-local.sh env                print TRINO_SERVER=... lines, for eval
#   trino-local.sh fetch              only download and unpack Trino (e.g. to warm a CI cache)
#   trino-local.sh java               print the Trino version and the java it would run on
#
# Environment:
#   TRINO_PORT          HTTP port (default 48080)
#   TRINO_DIR           state dir: configuration, catalogs, data, logs, pid file, lake
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/kta/trino-$PORT)
#   KTA_KAFKA_PORT      port of the local broker the kafka catalog reads (default 9092)
#   TRINO_KAFKA_BOOTSTRAP  the kafka catalog's brokers (default 127.0.0.1:$KTA_KAFKA_PORT)
#   TRINO_KAFKA_TOPICS  comma-separated hit topics, one table each (default matched_hits);
#                       a topic's table name is the topic in lower case with every
#                       character but a-z, 0-9 and _ turned into _
#   TRINO_VERSION       Trino release (default 476 when a Java 24 or newer is found,
#                       else 368: it runs on Java 17 and its tarball is served (those
#                       of 432-435, the last on Java 17, are not))
#   TRINO_JAVA_HOME     the JDK that runs Trino (default /usr/lib/jvm/temurin-25-jdk-amd64
#                       where it exists, else $JAVA_HOME, else java on PATH).  Only Trino
#                       uses it: Kafka (kafka-local.sh) keeps its own Java.
#   TRINO_HEAP          heap flags (default "-Xms512m -Xmx2G")
#   TRINO_READY_TIMEOUT seconds `up` waits for SELECT 1 before it stops Trino (default 240)
# Trinos with different ports and state dirs can run side by side.
# Example: scripts/trino-local.sh up && scripts/trino-local.sh sql 'SHOW TABLES FROM kafka.default'
set -euo pipefail

CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/kta
CLI_VERSION=476          # the newest CLI served; it runs on Java 17 and talks to 368 too
NEW_VERSION=476 NEW_JAVA=24
OLD_VERSION=368 OLD_JAVA=17
TEMURIN=/usr/lib/jvm/temurin-25-jdk-amd64
READY_TIMEOUT=${TRINO_READY_TIMEOUT:-240}
STOP_TIMEOUT=30
# Plugins kept from the tarball; the rest (~470 MB unpacked for 476) is deleted.
PLUGINS=(kafka hive)

PORT=${TRINO_PORT:-48080}
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
    echo "trino-local: bad TRINO_PORT '$PORT'" >&2
    exit 2
fi
KAFKA_PORT=${KTA_KAFKA_PORT:-9092}
KAFKA_BOOTSTRAP=${TRINO_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}
TOPICS=${TRINO_KAFKA_TOPICS:-matched_hits}
STATE_DIR=${TRINO_DIR:-$CACHE_ROOT/trino-$PORT}
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR
STATE_DIR=${STATE_DIR%/}
MARKER=$STATE_DIR/.kta-trino-state
ETC=$STATE_DIR/etc
CONFIG=$ETC/config.properties
LOG_DIR=$STATE_DIR/logs
DATA_DIR=$STATE_DIR/data
LAKE_DIR=$STATE_DIR/lake
TABLE_DIR=$ETC/kafka-tables
PID_FILE=$STATE_DIR/trino.pid
SERVER_URL=http://127.0.0.1:$PORT

JAVA= JAVA_MAJOR= VERSION= SERVER= CLI_JAR=

SERVICE=trino-local SERVICE_WHAT=Trino
# shellcheck source=scripts/local-service.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/local-service.sh"

# java_major JAVA: the feature release of that java (17, 25, ...).
java_major() {
    "$1" -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

# Sets JAVA, JAVA_MAJOR and VERSION: the JDK that runs Trino and the release
# it can run.
pick_java() {
    [[ -z $JAVA ]] || return 0
    local home=${TRINO_JAVA_HOME:-}
    if [[ -z $home && -x $TEMURIN/bin/java ]]; then home=$TEMURIN; fi
    if [[ -n $home ]]; then
        JAVA=$home/bin/java
    else
        JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
    fi
    command -v "$JAVA" >/dev/null 2>&1 || die "no java ($JAVA); run scripts/install-deps.sh"
    JAVA_MAJOR=$(java_major "$JAVA")
    [[ $JAVA_MAJOR =~ ^[0-9]+$ ]] || die "cannot tell the version of $JAVA"
    if [[ -n ${TRINO_VERSION:-} ]]; then
        VERSION=$TRINO_VERSION
        [[ $VERSION =~ ^[0-9]+$ ]] || die "bad TRINO_VERSION '$VERSION'"
    elif ((JAVA_MAJOR >= NEW_JAVA)); then
        VERSION=$NEW_VERSION
    elif ((JAVA_MAJOR >= OLD_JAVA)); then
        VERSION=$OLD_VERSION
    else
        die "$JAVA is Java $JAVA_MAJOR; Trino needs Java $OLD_JAVA or newer"
    fi
    SERVER=$CACHE_ROOT/trino-$VERSION/server
    CLI_JAR=$CACHE_ROOT/trino-cli-$CLI_VERSION/trino-cli-$CLI_VERSION-executable.jar
}

describe_java() {
    if ((VERSION == NEW_VERSION)); then
        echo "Trino $VERSION on Java $JAVA_MAJOR ($JAVA)"
    else
        echo "Trino $VERSION on Java $JAVA_MAJOR ($JAVA)" \
            "(Trino $NEW_VERSION needs Java $NEW_JAVA+: set TRINO_JAVA_HOME to one)"
    fi
}

# ---------------------------------------------------------------- fetch

# mvn_copy ARTIFACT DIR: download one artifact (group:artifact:version:type[:classifier])
# into DIR with its own throwaway local repository, so the ~800 MB tarball is
# not kept a second time in ~/.m2.
mvn_copy() {
    local art=$1 dir=$2
    if ! mvn -q -B -Dstyle.color=never "-Dmaven.repo.local=$dir/.m2" dependency:copy \
        "-Dartifact=$art" "-DoutputDirectory=$dir" -Dtransitive=false >"$dir/.mvn.log" 2>&1; then
        tail -n 20 "$dir/.mvn.log" >&2
        return 1
    fi
    rm -rf "$dir/.m2" "$dir/.mvn.log"
}

# Makes $SERVER (the unpacked tarball with only PLUGINS) and $CLI_JAR, once.
load_trino() {
    pick_java
    local cache=$CACHE_ROOT/trino-$VERSION clidir
    clidir=$(dirname "$CLI_JAR")
    if [[ -f $SERVER/.complete && -f $clidir/.complete ]]; then return 0; fi
    need mvn
    need flock
    mkdir -p "$cache" "$clidir"
    exec 8>"$CACHE_ROOT/.trino-fetch.lock"
    flock 8
    local t0=$SECONDS tmp
    if [[ ! -f $SERVER/.complete ]]; then
        rm -rf "$cache"/.server.*
        tmp=$(mktemp -d "$cache/.server.XXXXXX")
        log "fetching io.trino:trino-server:$VERSION (0.6-0.8 GB, once) into $cache"
        if ! mvn_copy "io.trino:trino-server:$VERSION:tar.gz" "$tmp"; then
            rm -rf "$tmp"
            rmdir "$cache" 2>/dev/null || true
            die "maven failed to fetch io.trino:trino-server:$VERSION:tar.gz"
        fi
        tar -xzf "$tmp/trino-server-$VERSION.tar.gz" -C "$tmp" ||
            { rm -rf "$tmp"; die "cannot unpack trino-server-$VERSION.tar.gz"; }
        rm -f "$tmp/trino-server-$VERSION.tar.gz"
        local s=$tmp/trino-server-$VERSION p keep
        [[ -d $s/lib && -d $s/plugin ]] || { rm -rf "$tmp"; die "trino-server-$VERSION.tar.gz lacks lib/ or plugin/"; }
        for p in "${PLUGINS[@]}"; do
            [[ -d $s/plugin/$p ]] || { rm -rf "$tmp"; die "trino-server-$VERSION has no plugin/$p"; }
        done
        # The plugins' jars are hard links among each other: deleting the
        # other plugin directories keeps every file these need.
        for p in "$s"/plugin/*; do
            keep=0
            for k in "${PLUGINS[@]}"; do [[ ${p##*/} == "$k" ]] && keep=1; done
            ((keep)) || rm -rf "$p"
        done
        echo "$VERSION ${PLUGINS[*]}" >"$s/.complete"
        rm -rf "$SERVER"
        mv "$s" "$SERVER"
        rm -rf "$tmp"
        log "Trino $VERSION unpacked in $SERVER ($(du -sh "$SERVER" | cut -f1), $((SECONDS - t0)) s)"
    fi
    if [[ ! -f $clidir/.complete ]]; then
        tmp=$(mktemp -d "$clidir/.cli.XXXXXX")
        log "fetching io.trino:trino-cli:$CLI_VERSION (once) into $clidir"
        mvn_copy "io.trino:trino-cli:$CLI_VERSION:jar:executable" "$tmp" ||
            { rm -rf "$tmp"; die "maven failed to fetch io.trino:trino-cli:$CLI_VERSION"; }
        mv -f "$tmp/trino-cli-$CLI_VERSION-executable.jar" "$CLI_JAR"
        rm -rf "$tmp"
        touch "$clidir/.complete"
    fi
    flock -u 8
    exec 8>&-
}

# ---------------------------------------------------------------- state

# Prints the pid from the pid file if that process is alive and is the
# Trino started for this state dir (guards against stale files and pid reuse).
our_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid cmd
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"-Dconfig=$CONFIG"*io.trino.server.TrinoServer* ]] || return 1
    echo "$pid"
}

show_logs() {
    local f
    for f in "$LOG_DIR/launcher.log" "$LOG_DIR/server.log"; do
        if [[ -s $f ]]; then
            echo "---- last 30 lines of $f" >&2
            tail -n 30 "$f" >&2
        fi
    done
}

# table_name TOPIC: the kafka catalog's table for that topic.
table_name() {
    local t=${1,,}
    echo "${t//[^a-z0-9_]/_}"
}

# Writes the kafka catalog's table description of TOPIC: the hit of
# docs/rules.md ("Hits", "Correlation hits") as typed columns.  Fields a
# hit lacks (event.host, correlation.*) are NULL; the whole hit stays in
# the hidden column _message for json_extract.
write_table() {
    local topic=$1 table
    table=$(table_name "$topic")
    cat >"$TABLE_DIR/$table.json" <<EOF
{
  "tableName": "$table",
  "schemaName": "default",
  "topicName": "$topic",
  "key": {
    "dataFormat": "raw",
    "fields": [
      {"name": "key", "type": "VARCHAR", "dataFormat": "BYTE", "comment": "record key: the event's output.key_field (default host)"}
    ]
  },
  "message": {
    "dataFormat": "json",
    "fields": [
      {"name": "rule_id", "mapping": "rule/id", "type": "VARCHAR"},
      {"name": "rule_title", "mapping": "rule/title", "type": "VARCHAR"},
      {"name": "level", "mapping": "rule/level", "type": "VARCHAR"},
      {"name": "host", "mapping": "event/host", "type": "VARCHAR"},
      {"name": "detected_at", "mapping": "detected_at", "type": "TIMESTAMP(3) WITH TIME ZONE", "dataFormat": "iso8601"},
      {"name": "src_topic", "mapping": "source/topic", "type": "VARCHAR"},
      {"name": "src_partition", "mapping": "source/partition", "type": "BIGINT"},
      {"name": "src_offset", "mapping": "source/offset", "type": "BIGINT"},
      {"name": "src_timestamp", "mapping": "source/timestamp", "type": "TIMESTAMP(3) WITH TIME ZONE", "dataFormat": "milliseconds-since-epoch"},
      {"name": "kta_version", "mapping": "kta/version", "type": "VARCHAR"},
      {"name": "ruleset", "mapping": "kta/ruleset", "type": "VARCHAR"},
      {"name": "corr_type", "mapping": "correlation/type", "type": "VARCHAR"},
      {"name": "corr_count", "mapping": "correlation/count", "type": "BIGINT"},
      {"name": "corr_first", "mapping": "correlation/first", "type": "TIMESTAMP(3) WITH TIME ZONE", "dataFormat": "iso8601"},
      {"name": "corr_last", "mapping": "correlation/last", "type": "TIMESTAMP(3) WITH TIME ZONE", "dataFormat": "iso8601"}
    ]
  }
}
EOF
}

# Writes etc/: server configuration, the two catalogs and the tables.
write_config() {
    mkdir -p "$ETC/catalog" "$LOG_DIR" "$DATA_DIR" "$LAKE_DIR"
    rm -rf "$TABLE_DIR"
    mkdir -p "$TABLE_DIR"
    cat >"$CONFIG" <<EOF
# Generated by scripts/trino-local.sh; rewritten on every 'up'.
# One node that is coordinator and worker, on 127.0.0.1 only.
node.environment=kta_local
node.id=kta-local-$PORT
node.bind-ip=127.0.0.1
node.internal-address=127.0.0.1
coordinator=true
node-scheduler.include-coordinator=true
http-server.http.port=$PORT
discovery.uri=$SERVER_URL
http-server.log.path=$LOG_DIR/http-request.log
plugin.dir=$SERVER/plugin
catalog.config-dir=$ETC/catalog
# A small machine: 2 cores, a 2 GB heap.
task.concurrency=2
task.max-worker-threads=4
query.max-memory=1GB
query.max-memory-per-node=512MB
EOF
    cat >"$ETC/log.properties" <<'EOF'
io.trino=INFO
org.apache.kafka=WARN
EOF
    local tables=() t
    IFS=, read -r -a t <<<"$TOPICS"
    ((${#t[@]} > 0)) || die "TRINO_KAFKA_TOPICS is empty"
    for topic in "${t[@]}"; do
        [[ -n $topic ]] || continue
        write_table "$topic"
        tables+=("default.$(table_name "$topic")")
    done
    local IFS=,
    cat >"$ETC/catalog/kafka.properties" <<EOF
connector.name=kafka
kafka.nodes=$KAFKA_BOOTSTRAP
kafka.default-schema=default
kafka.table-names=${tables[*]}
kafka.table-description-supplier=FILE
kafka.table-description-dir=$TABLE_DIR
kafka.hide-internal-columns=true
EOF
    unset IFS
    if ((VERSION >= 470)); then
        cat >"$ETC/catalog/lake.properties" <<EOF
connector.name=hive
hive.metastore=file
hive.metastore.catalog.dir=local:///
fs.native-local.enabled=true
local.location=$LAKE_DIR
EOF
    else
        # Before 470 the Hive connector reaches the local disk through its
        # Hadoop file system, with file:// locations.
        cat >"$ETC/catalog/lake.properties" <<EOF
connector.name=hive
hive.metastore=file
hive.metastore.catalog.dir=file://$LAKE_DIR
EOF
    fi
}

# Starts Trino's JVM in the background and records its pid.
start_trino() {
    ! port_open "$PORT" || die "port 127.0.0.1:$PORT is already in use (another Trino with a different TRINO_DIR? set TRINO_PORT)"
    rm -f "$PID_FILE"
    write_config
    if [[ -f $LOG_DIR/server.log ]]; then mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.log.prev"; fi
    local heap=${TRINO_HEAP:--Xms512m -Xmx2G}
    # The flags of Trino's recommended jvm.config, with a small heap and
    # code cache.  Own session (setsid): the caller's Ctrl-C does not stop it.
    # shellcheck disable=SC2086  # word splitting of the heap flags is intended
    (cd "$DATA_DIR" && exec nohup setsid "$JAVA" -server $heap -XX:+UseG1GC -XX:G1HeapRegionSize=32M \
        -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -XX:-OmitStackTraceInFastThrow \
        -XX:ReservedCodeCacheSize=256M -XX:PerMethodRecompilationCutoff=10000 \
        -XX:PerBytecodeRecompilationCutoff=10000 -Djdk.attach.allowAttachSelf=true \
        -Djdk.nio.maxCachedBufferSize=2000000 -Dfile.encoding=UTF-8 -XX:+EnableDynamicAgentLoading --enable-native-access=ALL-UNNAMED \
        "-Dconfig=$CONFIG" "-Dlog.levels-file=$ETC/log.properties" \
        "-Dlog.output-file=$LOG_DIR/server.log" -Dlog.enable-console=false \
        -cp "$SERVER/lib/*" io.trino.server.TrinoServer \
        </dev/null >"$LOG_DIR/launcher.log" 2>&1 8>&- 9>&-) &
    echo "$!" >"$PID_FILE"
}

# True once the server says it has started and SELECT 1 answers.
trino_answers() {
    local info
    info=$(curl -fsS --max-time 5 "$SERVER_URL/v1/info" 2>/dev/null) || return 1
    [[ $info == *'"starting":false'* ]] || return 1
    [[ $(run_cli --output-format=TSV --execute 'SELECT 1' 2>/dev/null) == 1 ]]
}

run_cli() {
    local tty=()
    # Without a terminal jline warns that it falls back to a dumb one.
    [[ -t 0 && -t 1 ]] || tty=(-Dorg.jline.terminal.dumb=true)
    "$JAVA" -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC --enable-native-access=ALL-UNNAMED \
        "${tty[@]}" -jar "$CLI_JAR" \
        --server "$SERVER_URL" --user "${USER:-kta}" "$@"
}

# ---------------------------------------------------------------- commands

cmd_up() {
    need curl
    need flock
    local start=$SECONDS pid
    if [[ -d $STATE_DIR && ! -f $MARKER ]] && [[ -n $(ls -A "$STATE_DIR") ]]; then
        die "$STATE_DIR exists, is not empty and was not created by this script; choose another TRINO_DIR"
    fi
    mkdir -p "$STATE_DIR"
    touch "$MARKER"
    lock_state
    load_trino
    log "$(describe_java)"
    if pid=$(our_pid); then
        if trino_answers; then
            log "already running on $SERVER_URL (pid $pid)"
            return 0
        fi
        log "Trino pid $pid is starting; waiting"
    else
        start_trino
    fi
    while :; do
        if ! pid=$(started_pid); then
            show_logs
            rm -f "$PID_FILE"
            die "Trino exited during startup"
        fi
        if trino_answers; then
            log "Trino $VERSION up on $SERVER_URL (pid $pid, $((SECONDS - start)) s, state $STATE_DIR," \
                "kafka catalog on $KAFKA_BOOTSTRAP: $TOPICS)"
            return 0
        fi
        if ((SECONDS - start >= READY_TIMEOUT)); then
            show_logs
            log "not ready after ${READY_TIMEOUT}s; stopping"
            stop_pid "$pid"
            rm -f "$PID_FILE"
            exit 1
        fi
        sleep 1
    done
}

cmd_down() {
    local purge=0 pid
    case ${1:-} in
        "") ;;
        --purge) purge=1 ;;
        *) die "usage: trino-local.sh down [--purge]" ;;
    esac
    if [[ -d $STATE_DIR && -f $MARKER ]]; then
        lock_state
        if pid=$(our_pid); then
            stop_pid "$pid"
            log "stopped Trino on $SERVER_URL (pid $pid)"
        else
            log "not running ($SERVER_URL)"
        fi
        rm -f "$PID_FILE"
    else
        log "not running ($SERVER_URL)"
    fi
    if ((purge)); then purge_state; fi
}

cmd_status() {
    local pid
    if [[ -d $STATE_DIR ]] && pid=$(our_pid); then
        if port_open "$PORT"; then
            echo "running pid=$pid server=$SERVER_URL dir=$STATE_DIR"
        else
            echo "running pid=$pid server=$SERVER_URL dir=$STATE_DIR (starting, port not open yet)"
        fi
        return 0
    fi
    echo "stopped server=$SERVER_URL dir=$STATE_DIR"
    return 3
}

cmd_sql() {
    local opts=()
    while (($# > 0)) && [[ $1 == --* ]]; do opts+=("$1"); shift; done
    load_trino
    [[ -d $STATE_DIR ]] && our_pid >/dev/null || die "Trino is not running on $SERVER_URL (state $STATE_DIR); run up first"
    if (($# > 0)); then
        run_cli "${opts[@]}" --execute "$*"
    else
        run_cli "${opts[@]}"
    fi
}

cmd_env() {
    printf 'TRINO_SERVER=%q\n' "$SERVER_URL"
    printf 'TRINO_PORT=%q\n' "$PORT"
    printf 'TRINO_DIR=%q\n' "$STATE_DIR"
    printf 'TRINO_LAKE=%q\n' "$LAKE_DIR"
    printf 'TRINO_LOG=%q\n' "$LOG_DIR/server.log"
}

main() {
    local cmd=${1:-help}
    (($# == 0)) || shift
    case $cmd in
        up) (($# == 0)) || die "usage: trino-local.sh up"; cmd_up ;;
        down) cmd_down "$@" ;;
        status) cmd_status ;;
        sql) cmd_sql "$@" ;;
        env) cmd_env ;;
        fetch) load_trino; log "$(describe_java); server in $SERVER, CLI $CLI_JAR" ;;
        java) pick_java; describe_java ;;
        help | -h | --help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
