#!/usr/bin/env bash
# kafka-local.sh - run a real Apache Kafka broker (KRaft, combined
# broker+controller) on 127.0.0.1 from plain jars fetched once from Maven Central
# via scripts/kafka/pom.xml. No Docker, no ZooKeeper.  One node by default;
# KTA_KAFKA_NODES=N runs a cluster of N nodes (a KRaft quorum of N voters).
#
# Usage:
#   kafka-local.sh up                        start the broker(s) (idempotent), wait until every
#                                            node answers and lists all N brokers
#   kafka-local.sh down [--purge]            stop the broker(s) this state dir started; --purge deletes the state dir
#   kafka-local.sh status                    print running/stopped; exit 0 running, 3 stopped
#                                            (N>1: one line per node; exit 4 when only some run)
#   kafka-local.sh tool NAME [ARGS...]       run a Kafka CLI tool, e.g. kafka-topics --bootstrap-server ...
#   kafka-local.sh topic-create NAME [PARTS] [RF]
#                                            create a topic unless it exists; replication factor
#                                            RF (default min(3, N)), min.insync.replicas=2 when RF>=3
#   kafka-local.sh env                       print KTA_BOOTSTRAP=... lines, for eval (with the
#                                            security listeners: CA path and credentials file too)
#   kafka-local.sh fetch                     only download the jars (e.g. to warm a CI cache)
# For fault tests (I is a node id, 1..N, the same as its broker id):
#   kafka-local.sh node-kill I               kill -9 node I
#   kafka-local.sh node-stop I               SIGTERM node I and wait until it exited
#   kafka-local.sh node-start I              start node I again, wait until it answers
#   kafka-local.sh leader TOPIC PARTITION    print the id of the broker leading that partition
#                                            (-1 and exit 1 while it has none)
#   kafka-local.sh isr TOPIC PARTITION       print that partition's in-sync replicas, e.g. 1,2,3
#   kafka-local.sh controller                print the id of the active KRaft controller
#
# Environment:
#   KTA_KAFKA_PORT      broker port (default 9092); the controller uses PORT+1
#   KTA_KAFKA_NODES     number of nodes (default 1).  Node I (1..N) listens on
#                       PORT+4*(I-1) and its controller on PORT+4*(I-1)+1, so node 1
#                       keeps PORT, PORT+1 (and PORT+2, PORT+3 below): with PORT 9092,
#                       nodes 2 and 3 are on 9096/9097 and 9100/9101.  Each node is
#                       broker and controller; controller.quorum.voters lists all N.
#                       N>1 keeps each node in STATE/nodeI/ (data, logs, pid file);
#                       the internal topics get replication factor min(3, N).
#   KTA_KAFKA_DIR       state dir: data, logs, pid file
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/kta/kafka-$PORT)
#   KTA_KAFKA_READY_TIMEOUT  seconds `up` and `node-start` wait for the node(s) to
#                       answer before they give up and stop them (default 90)
#   KTA_KAFKA_HEAP      heap flags of each node (default "-Xms256m -Xmx1g";
#                       with N>1 "-Xms128m -Xmx512m")
#   KTA_KAFKA_JVM_OPTS  extra broker JVM flags (default "-XX:+UseSerialGC")
#   KTA_KAFKA_TOOL_OPTS JVM flags for `tool` (default small heap, C1 only, SerialGC)
#   KAFKA_HOME          use $KAFKA_HOME/libs/*.jar instead of the Maven-fetched jars
#   JAVA_HOME           use $JAVA_HOME/bin/java instead of `java` on PATH
#   KTA_KAFKA_SECURITY  1: also open an SSL listener on PORT+2 and a SASL_SSL listener
#                       (SCRAM-SHA-256 and SCRAM-SHA-512, user "kta") on PORT+3, for
#                       testing TLS and SASL clients. `up` makes a CA, a broker
#                       certificate for 127.0.0.1/localhost and a random password in
#                       STATE/security/ (secrets mode 600); `env` prints their paths.
#                       Broker-to-controller traffic stays PLAINTEXT. An authorizer
#                       is on: ACLs added with kafka-acls apply to user "kta";
#                       every other client is a super user. With N>1 only node 1
#                       has these listeners and the authorizer. (default 0)
# Brokers with different ports and state dirs can run side by side.
# Example: eval "$(scripts/kafka-local.sh env)"; kcat -L -b "$KTA_BOOTSTRAP"
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
POM=$SCRIPT_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka\.version>\(.*\)</kafka\.version>.*:\1:p' "$POM")
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/kta
JAR_CACHE=$CACHE_ROOT/kafka-$KAFKA_VERSION
READY_TIMEOUT=${KTA_KAFKA_READY_TIMEOUT:-90}
STOP_TIMEOUT=30

PORT=${KTA_KAFKA_PORT:-9092}
if ! [[ $PORT =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65534)); then
    echo "kafka-local: bad KTA_KAFKA_PORT '$PORT'" >&2
    exit 2
fi
NODES=${KTA_KAFKA_NODES:-1}
if ! [[ $NODES =~ ^[1-9]$ ]]; then
    echo "kafka-local: bad KTA_KAFKA_NODES '$NODES' (1 to 9)" >&2
    exit 2
fi
if ((PORT + 4 * (NODES - 1) + 1 > 65535)); then
    echo "kafka-local: KTA_KAFKA_PORT $PORT too high for $NODES nodes (PORT+4*(N-1)+1)" >&2
    exit 2
fi
CPORT=$((PORT + 1))
# Replication factor of the internal topics and the default of topic-create.
RF_DEFAULT=$((NODES < 3 ? NODES : 3))
ISR_DEFAULT=$((RF_DEFAULT >= 3 ? 2 : 1))
BOOTSTRAP=
VOTERS=
for ((k = 1; k <= NODES; k++)); do
    BOOTSTRAP+=${BOOTSTRAP:+,}127.0.0.1:$((PORT + 4 * (k - 1)))
    VOTERS+=${VOTERS:+,}$k@127.0.0.1:$((PORT + 4 * (k - 1) + 1))
done
SECURITY=${KTA_KAFKA_SECURITY:-0}
case $SECURITY in
    0 | 1) ;;
    *) echo "kafka-local: bad KTA_KAFKA_SECURITY '$SECURITY' (0 or 1)" >&2; exit 2 ;;
esac
SSL_PORT=$((PORT + 2))
SASL_PORT=$((PORT + 3))
if ((SECURITY && SASL_PORT > 65535)); then
    echo "kafka-local: KTA_KAFKA_PORT $PORT too high for the security listeners (PORT+3)" >&2
    exit 2
fi
STATE_DIR=${KTA_KAFKA_DIR:-$CACHE_ROOT/kafka-$PORT}
[[ $STATE_DIR == /* ]] || STATE_DIR=$PWD/$STATE_DIR
STATE_DIR=${STATE_DIR%/}
MARKER=$STATE_DIR/.kta-kafka-state
NODES_FILE=$STATE_DIR/.kta-kafka-nodes
CLUSTER_ID_FILE=$STATE_DIR/cluster.id

# node_select I: the per-node globals below describe node I.  A single node
# keeps everything directly in STATE_DIR (the layout before clusters);
# node I of a cluster lives in STATE_DIR/nodeI.
NODE= NODE_PORT= NODE_CPORT= NODE_DIR= PID_FILE= PROPS= LOG_DIR= DATA_DIR=
node_select() {
    NODE=$1
    NODE_PORT=$((PORT + 4 * (NODE - 1)))
    NODE_CPORT=$((NODE_PORT + 1))
    if ((NODES == 1)); then NODE_DIR=$STATE_DIR; else NODE_DIR=$STATE_DIR/node$NODE; fi
    PID_FILE=$NODE_DIR/kafka.pid
    PROPS=$NODE_DIR/server.properties
    LOG_DIR=$NODE_DIR/logs
    DATA_DIR=$NODE_DIR/data
}
node_select 1
SEC_DIR=$STATE_DIR/security
SEC_CA=$SEC_DIR/ca.pem
SEC_CREDS=$SEC_DIR/credentials.env
SEC_KEYSTORE=$SEC_DIR/broker.p12
SCRAM_USER=kta
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
LIBS=

SERVICE=kafka-local SERVICE_WHAT=broker
# shellcheck source=scripts/local-service.sh
. "$SCRIPT_DIR/local-service.sh"

# ---------------------------------------------------------------- jars

# Sets LIBS to a directory of Kafka jars, fetching them with Maven once.
load_libs() {
    if [[ -n ${KAFKA_HOME:-} ]] && compgen -G "$KAFKA_HOME/libs/*.jar" >/dev/null; then
        LIBS=$KAFKA_HOME/libs
        return
    fi
    LIBS=$JAR_CACHE/libs
    # .complete holds the pom's checksum, so editing the pom refetches.
    local sum
    sum=$(sha256sum <"$POM")
    [[ -f $LIBS/.complete && $(<"$LIBS/.complete") == "$sum" ]] && return
    [[ -n $KAFKA_VERSION ]] || die "cannot read kafka.version from $POM"
    need mvn
    mkdir -p "$JAR_CACHE"
    # Serialize concurrent first runs; download into a temp dir, then rename.
    exec 8>"$JAR_CACHE/.fetch.lock"
    flock 8
    if ! [[ -f $LIBS/.complete && $(<"$LIBS/.complete") == "$sum" ]]; then
        rm -rf "$JAR_CACHE"/.libs.*
        local tmp
        tmp=$(mktemp -d "$JAR_CACHE/.libs.XXXXXX")
        log "fetching Kafka $KAFKA_VERSION jars from Maven Central (once) into $LIBS"
        if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
            -DoutputDirectory="$tmp" -DincludeScope=runtime >"$tmp/.mvn.log" 2>&1; then
            tail -n 30 "$tmp/.mvn.log" >&2
            rm -rf "$tmp"
            die "maven failed to fetch the Kafka jars"
        fi
        local j
        for j in "kafka_2.13-$KAFKA_VERSION" "kafka-tools-$KAFKA_VERSION" kafka-clients reload4j slf4j-reload4j; do
            compgen -G "$tmp/$j*.jar" >/dev/null || { rm -rf "$tmp"; die "fetched jars lack $j"; }
        done
        rm -f "$tmp/.mvn.log"
        echo "$sum" >"$tmp/.complete"
        rm -rf "$LIBS"
        mv "$tmp" "$LIBS"
    fi
    flock -u 8
    exec 8>&-
}

# log4j config for CLI tools: WARN and above to stderr, nothing else.
tools_log4j() {
    local f=$JAR_CACHE/tools-log4j.properties
    if [[ ! -f $f ]]; then
        mkdir -p "$JAR_CACHE"
        local tmp
        tmp=$(mktemp "$f.XXXXXX")
        cat >"$tmp" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
        mv -f "$tmp" "$f"
    fi
    echo "$f"
}

# ---------------------------------------------------------------- tools

tool_class() {
    case ${1%.sh} in
        kafka-topics) echo org.apache.kafka.tools.TopicCommand ;;
        kafka-console-consumer) echo org.apache.kafka.tools.consumer.ConsoleConsumer ;;
        kafka-console-producer) echo kafka.tools.ConsoleProducer ;;
        kafka-consumer-groups) echo org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
        kafka-storage) echo kafka.tools.StorageTool ;;
        kafka-configs) echo kafka.admin.ConfigCommand ;;
        kafka-acls) echo kafka.admin.AclCommand ;;
        kafka-broker-api-versions) echo kafka.admin.BrokerApiVersionsCommand ;;
        kafka-get-offsets) echo org.apache.kafka.tools.GetOffsetShell ;;
        kafka-delete-records) echo org.apache.kafka.tools.DeleteRecordsCommand ;;
        kafka-log-dirs) echo org.apache.kafka.tools.LogDirsCommand ;;
        kafka-dump-log) echo kafka.tools.DumpLogSegments ;;
        kafka-metadata-quorum) echo org.apache.kafka.tools.MetadataQuorumCommand ;;
        kafka-features) echo org.apache.kafka.tools.FeatureCommand ;;
        kafka-transactions) echo org.apache.kafka.tools.TransactionsCommand ;;
        kafka-leader-election) echo org.apache.kafka.tools.LeaderElectionCommand ;;
        kafka-reassign-partitions) echo org.apache.kafka.tools.reassign.ReassignPartitionsCommand ;;
        kafka-producer-perf-test) echo org.apache.kafka.tools.ProducerPerformance ;;
        kafka-consumer-perf-test) echo org.apache.kafka.tools.ConsumerPerformance ;;
        *) return 1 ;;
    esac
}

TOOL_NAMES="kafka-topics kafka-console-consumer kafka-console-producer kafka-consumer-groups"
TOOL_NAMES+=" kafka-storage kafka-configs kafka-acls kafka-broker-api-versions kafka-get-offsets"
TOOL_NAMES+=" kafka-delete-records kafka-log-dirs kafka-dump-log kafka-metadata-quorum kafka-features"
TOOL_NAMES+=" kafka-transactions kafka-leader-election kafka-reassign-partitions"
TOOL_NAMES+=" kafka-producer-perf-test kafka-consumer-perf-test"

# Fills the array TOOL_CMD with the java command line for tool $1 and args.
TOOL_CMD=()
tool_cmdline() {
    local name=$1 cls
    shift
    cls=$(tool_class "$name") || die "unknown tool '$name'; known: $TOOL_NAMES"
    need "$JAVA"
    load_libs
    local l4j opts
    l4j=$(tools_log4j)
    opts=${KTA_KAFKA_TOOL_OPTS:--Xms32m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto}
    # shellcheck disable=SC2206  # word splitting of the flag string is intended
    TOOL_CMD=("$JAVA" $opts -Djava.awt.headless=true "-Dlog4j.configuration=file:$l4j"
        -cp "$LIBS/*" "$cls" "$@")
}

cmd_tool() {
    (($# >= 1)) || die "usage: kafka-local.sh tool NAME [ARGS...]; known: $TOOL_NAMES"
    tool_cmdline "$@"
    exec "${TOOL_CMD[@]}"
}

cmd_topic_create() {
    (($# >= 1 && $# <= 3)) || die "usage: kafka-local.sh topic-create NAME [PARTITIONS] [REPLICATION-FACTOR]"
    local parts=${2:-1} rf=${3:-$RF_DEFAULT} conf=()
    [[ $parts =~ ^[1-9][0-9]*$ ]] || die "bad partition count '$parts'"
    [[ $rf =~ ^[1-9]$ ]] && ((rf <= NODES)) || die "bad replication factor '$rf' (1 to $NODES)"
    # With three copies a write acknowledged by acks=all survives losing one broker.
    if ((rf >= 3)); then conf=(--config min.insync.replicas=2); fi
    tool_cmdline kafka-topics --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
        --topic "$1" --partitions "$parts" --replication-factor "$rf" "${conf[@]}"
    "${TOOL_CMD[@]}"
    ((NODES == 1)) || wait_topic_known "$1"
}

# wait_topic_known TOPIC: until every running node's metadata has the topic
# with a leader for each partition.  The controller creates it; each broker
# learns of it a moment later, and a client asking that broker first would
# be told it does not exist.
wait_topic_known() {
    local k out end=$((SECONDS + 30)) known
    need kcat
    while :; do
        known=1
        for ((k = 1; k <= NODES; k++)); do
            node_select "$k"
            our_pid >/dev/null || continue
            out=$(kcat -L -b "127.0.0.1:$NODE_PORT" -t "$1" -m 5 2>/dev/null) || { known=0; break; }
            if [[ $out != *"topic \"$1\" with "* || $out == *"leader -1"* || $out == *Err* || $out == *"0 partitions"* ]]; then
                known=0
                break
            fi
        done
        ((known)) && return 0
        ((SECONDS < end)) || die "topic $1: not known to every broker within 30 s"
        sleep 0.2
    done
}

# ---------------------------------------------------------------- security listeners

# Reads KEYSTORE_PASSWORD and SCRAM_PASSWORD from the credentials file.
load_credentials() {
    KEYSTORE_PASSWORD=$(sed -n 's/^KTA_KAFKA_KEYSTORE_PASSWORD=//p' "$SEC_CREDS")
    SCRAM_PASSWORD=$(sed -n 's/^KTA_KAFKA_SASL_PASSWORD=//p' "$SEC_CREDS")
    [[ -n $KEYSTORE_PASSWORD && -n $SCRAM_PASSWORD ]] || die "$SEC_CREDS is incomplete; delete $SEC_DIR and run up again"
}

random_secret() {
    head -c 18 /dev/urandom | base64 | tr '+/' 'xy' | tr -d '=\n'
}

# Makes, once per state dir: a CA, a broker key and certificate (SAN
# IP:127.0.0.1, DNS:localhost) signed by it in a PKCS#12 keystore, and the
# SCRAM password of user kta.  Secrets are files readable by the owner only.
make_security() {
    need openssl
    if [[ -f $SEC_CA && -f $SEC_KEYSTORE && -f $SEC_CREDS ]]; then
        load_credentials
        return
    fi
    local tmp
    rm -rf "$SEC_DIR" "$STATE_DIR"/.security.*
    tmp=$(mktemp -d "$STATE_DIR/.security.XXXXXX")
    chmod 755 "$tmp"   # ca.pem is public; the keys and passwords are mode 600
    KEYSTORE_PASSWORD=$(random_secret)
    SCRAM_PASSWORD=$(random_secret)
    (
        umask 077
        cd "$tmp"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout ca.key -out ca.pem -days 3650 -subj "/CN=kta-local-kafka test CA" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout broker.key -out broker.csr -subj "/CN=localhost"
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" \
            "basicConstraints=CA:FALSE" >broker.ext
        openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile broker.ext -out broker.pem
        openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
            -out broker.p12 -passout "pass:$KEYSTORE_PASSWORD"
        rm -f broker.csr broker.ext ca.srl
        {
            echo "# Written by scripts/kafka-local.sh for the test listeners of this broker."
            echo "KTA_KAFKA_SASL_USERNAME=$SCRAM_USER"
            echo "KTA_KAFKA_SASL_PASSWORD=$SCRAM_PASSWORD"
            echo "KTA_KAFKA_KEYSTORE_PASSWORD=$KEYSTORE_PASSWORD"
        } >credentials.env
        chmod 644 ca.pem
    ) >"$LOG_DIR/security.log" 2>&1 || { cat "$LOG_DIR/security.log" >&2; rm -rf "$tmp"; die "making the test CA and broker certificate failed"; }
    mv "$tmp" "$SEC_DIR"
    rm -f "$DATA_DIR/.kta-scram"   # a new password: ensure_scram_user sets it
    log "made a test CA ($SEC_CA) and broker certificate for the SSL/SASL_SSL listeners"
}

write_security_config() {
    cat >>"$PROPS" <<EOF
# KTA_KAFKA_SECURITY=1: SSL on $SSL_PORT, SASL_SSL with SCRAM on $SASL_PORT.
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,SSL://127.0.0.1:$SSL_PORT,SASL_SSL://127.0.0.1:$SASL_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL
ssl.keystore.type=PKCS12
ssl.keystore.location=$SEC_KEYSTORE
ssl.keystore.password=$KEYSTORE_PASSWORD
ssl.key.password=$KEYSTORE_PASSWORD
ssl.client.auth=none
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
# ACLs apply to the SCRAM user only: PLAINTEXT and SSL clients (and the
# controller) are ANONYMOUS, a super user, and a resource without ACLs is
# open to everyone, so a test opts in by adding ACLs (kafka-acls).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=true
super.users=User:ANONYMOUS
EOF
    chmod 600 "$PROPS"
}

# True when the server.properties of the last `up` opened the security listeners.
security_configured() {
    [[ -f $PROPS ]] && grep -q '^sasl.enabled.mechanisms=' "$PROPS" 2>/dev/null
}

# The SCRAM user is normally added by `kafka-storage format`; a data dir
# formatted without it (security turned on later) gets it here.
ensure_scram_user() {
    [[ -f $DATA_DIR/.kta-scram ]] && return
    local mech   # one mechanism per request: the broker refuses two for one user
    for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
        tool_cmdline kafka-configs --bootstrap-server "$BOOTSTRAP" --alter --entity-type users \
            --entity-name "$SCRAM_USER" --add-config "$mech=[password=$SCRAM_PASSWORD]"
        if ! "${TOOL_CMD[@]}" >"$LOG_DIR/scram.log" 2>&1; then
            sed "s/$SCRAM_PASSWORD/***/g" "$LOG_DIR/scram.log" >&2
            die "adding the $mech credential of user $SCRAM_USER failed"
        fi
    done
    touch "$DATA_DIR/.kta-scram"
}

# True when the SASL_SSL listener accepts the SCRAM user (kcat, TLS verified).
security_answers() {
    kcat -L -b "127.0.0.1:$SASL_PORT" -m 5 -X security.protocol=SASL_SSL \
        -X "ssl.ca.location=$SEC_CA" -X sasl.mechanisms=SCRAM-SHA-256 \
        -X "sasl.username=$SCRAM_USER" -X "sasl.password=$SCRAM_PASSWORD" >/dev/null 2>&1
}

# ---------------------------------------------------------------- broker state

# Prints the pid from the current node's pid file if that process is alive
# and is the broker started for it (guards against stale files and pid reuse).
our_pid() {
    [[ -f $PID_FILE ]] || return 1
    local pid cmd
    pid=$(<"$PID_FILE")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *kafka.Kafka*"$PROPS"* ]] || return 1
    echo "$pid"
}

# True when the current node answers a metadata request and lists itself;
# with "all" as $1 also every other node of the cluster (so each has
# registered with the active controller and is unfenced).
broker_answers() {
    local out k
    out=$(kcat -L -b "127.0.0.1:$NODE_PORT" -m 5 2>/dev/null) || return 1
    [[ $out == *"broker $NODE at 127.0.0.1:$NODE_PORT"* ]] || return 1
    [[ ${1:-} == all ]] || return 0
    for ((k = 1; k <= NODES; k++)); do
        [[ $out == *"broker $k at 127.0.0.1:$((PORT + 4 * (k - 1)))"* ]] || return 1
    done
}

show_logs() {
    local f
    for f in "$LOG_DIR/stdout.log" "$LOG_DIR/server.log"; do
        if [[ -s $f ]]; then
            echo "---- last 30 lines of $f" >&2
            tail -n 30 "$f" >&2
        fi
    done
}

# stop_cluster PID...: SIGTERM to every node at once.  A broker's clean
# shutdown needs an active controller; once fewer than a majority of the
# voters run there is none, and the nodes left would wait for one until a
# timeout: they get 5 s more, then SIGKILL (their logs recover on the next up).
stop_cluster() {
    local pid i n lost=-1
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
        n=0
        for pid in "$@"; do kill -0 "$pid" 2>/dev/null && n=$((n + 1)); done
        ((n == 0)) && return 0
        if ((n < NODES / 2 + 1 && lost < 0)); then lost=$i; fi
        ((lost >= 0 && i - lost >= 25)) && break
        sleep 0.2
    done
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null || continue
        log "broker pid $pid still waits for a controller quorum that has stopped; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    for ((i = 0; i < 25; i++)); do
        any_alive "$@" || return 0
        sleep 0.2
    done
}

# A state dir serves one cluster size: its data dirs were formatted for
# that quorum.
check_nodes_file() {
    local had=
    if [[ -f $NODES_FILE ]]; then
        had=$(<"$NODES_FILE")
    elif [[ -f $STATE_DIR/data/meta.properties ]]; then
        had=1   # made before clusters existed
    fi
    if [[ -n $had && $had != "$NODES" ]]; then
        die "$STATE_DIR holds a $had-node setup, not KTA_KAFKA_NODES=$NODES; 'down --purge' it or choose another KTA_KAFKA_DIR"
    fi
    echo "$NODES" >"$NODES_FILE"
}

# Writes the current node's server.properties and log4j.properties.
write_config() {
    mkdir -p "$NODE_DIR" "$LOG_DIR" "$DATA_DIR"
    cat >"$PROPS" <<EOF
# Generated by scripts/kafka-local.sh; rewritten on every 'up'.
process.roles=broker,controller
node.id=$NODE
controller.quorum.voters=$VOTERS
listeners=PLAINTEXT://127.0.0.1:$NODE_PORT,CONTROLLER://127.0.0.1:$NODE_CPORT
advertised.listeners=PLAINTEXT://127.0.0.1:$NODE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR
num.partitions=1
default.replication.factor=$RF_DEFAULT
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=$RF_DEFAULT
transaction.state.log.replication.factor=$RF_DEFAULT
transaction.state.log.min.isr=$ISR_DEFAULT
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
# Faster re-registration after an unclean stop (kill -9): the controller must
# first expire the old broker session (default 9 s).
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
EOF
    if ((SECURITY && NODE == 1)); then write_security_config; fi
    cat >"$NODE_DIR/log4j.properties" <<'EOF'
# Broker logging: INFO to logs/server.log (WARN for the chattiest loggers).
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
log4j.logger.org.apache.kafka.common.metrics=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.reflections=ERROR
EOF
}

random_cluster_id() {
    # 16 random bytes, base64url without padding (Kafka Uuid string form);
    # avoid a leading '-' which the option parser would take for a flag.
    local id
    while :; do
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
        [[ $id == -* ]] || break
    done
    echo "$id"
}

# Formats the current node's data dir (once) with the state dir's cluster
# id, the same for every node of a cluster.
format_storage() {
    [[ -f $DATA_DIR/meta.properties ]] && return
    [[ -s $CLUSTER_ID_FILE ]] || random_cluster_id >"$CLUSTER_ID_FILE"
    local cid scram=()
    cid=$(<"$CLUSTER_ID_FILE")
    if ((SECURITY)); then
        scram=(--add-scram "SCRAM-SHA-256=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]"
            --add-scram "SCRAM-SHA-512=[name=$SCRAM_USER,password=$SCRAM_PASSWORD]")
    fi
    tool_cmdline kafka-storage format -t "$cid" -c "$PROPS" --ignore-formatted "${scram[@]}"
    if ! "${TOOL_CMD[@]}" >"$LOG_DIR/format.log" 2>&1; then
        cat "$LOG_DIR/format.log" >&2
        die "formatting storage in $DATA_DIR failed"
    fi
    if ((SECURITY && NODE == 1)); then touch "$DATA_DIR/.kta-scram"; fi
}

# Starts the current node's JVM in the background and records its pid.
start_node() {
    local p ports=("$NODE_PORT" "$NODE_CPORT")
    if ((SECURITY && NODE == 1)); then ports+=("$SSL_PORT" "$SASL_PORT"); fi
    for p in "${ports[@]}"; do
        ! port_open "$p" || die "port 127.0.0.1:$p is already in use (another broker with a different KTA_KAFKA_DIR?)"
    done
    rm -f "$PID_FILE"
    write_config
    format_storage
    # Keep the previous run's log apart, so failure output shows only this run.
    if [[ -f $LOG_DIR/server.log ]]; then
        mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.log.prev"
    fi
    local heap jvm
    if ((NODES == 1)); then heap=${KTA_KAFKA_HEAP:--Xms256m -Xmx1g}; else heap=${KTA_KAFKA_HEAP:--Xms128m -Xmx512m}; fi
    jvm=${KTA_KAFKA_JVM_OPTS:--XX:+UseSerialGC}
    # Own session (setsid) so the caller's Ctrl-C or process-group kill does not
    # take the broker down; fds 8/9 (our locks) are not inherited.
    # shellcheck disable=SC2086  # word splitting of the flag strings is intended
    nohup setsid "$JAVA" $heap $jvm -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        "-Dkafka.logs.dir=$LOG_DIR" "-Dlog4j.configuration=file:$NODE_DIR/log4j.properties" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" \
        </dev/null >"$LOG_DIR/stdout.log" 2>&1 8>&- 9>&- &
    echo "$!" >"$PID_FILE"
}

# Stops every node of the state dir that runs (after a failed start).
stop_all_nodes() {
    local k pid pids=()
    for ((k = 1; k <= NODES; k++)); do
        node_select "$k"
        if pid=$(our_pid); then pids+=("$pid"); fi
        rm -f "$PID_FILE"
    done
    ((${#pids[@]} == 0)) || stop_cluster "${pids[@]}"
}

# wait_ready START NODE...: until each NODE answers (when they are the whole
# cluster: and lists all N brokers); stops them and exits when one exits or
# READY_TIMEOUT passes.
wait_ready() {
    local start=$1 k pid pids want= binds=()
    shift
    if ((NODES > 1 && $# == NODES)); then want=all; fi
    while :; do
        local ready=1
        pids=()
        for k in "$@"; do
            node_select "$k"
            if ! pid=$(started_pid); then
                # The ports sit in the ephemeral range (32768-60999) for
                # high KTA_KAFKA_PORTs: the nodes' own connections to each
                # other's controllers, made while they start, can hold one
                # briefly.  Start the node again, a few times.
                if grep -q 'Address already in use' "$LOG_DIR/server.log" 2>/dev/null &&
                    ((${binds[k]:-0} < 3)); then
                    binds[k]=$((${binds[k]:-0} + 1))
                    log "node $k: a port was taken by a passing connection; starting it again"
                    start_node
                    ready=0
                    continue
                fi
                show_logs
                if ((NODES == 1)); then
                    log "broker (pid $(cat "$PID_FILE" 2>/dev/null)) exited during startup"
                    rm -f "$PID_FILE"
                    exit 1
                fi
                rm -f "$PID_FILE"
                # A whole cluster starting goes down together; one node
                # started again (node-start) leaves the others alone.
                if [[ $want == all ]]; then stop_all_nodes; fi
                die "node $k exited during startup"
            fi
            pids+=("$pid")
            if ! port_open "$NODE_PORT" || ! broker_answers $want; then ready=0; fi
        done
        if ((ready)); then
            if ((SECURITY)) && [[ " $* " == *" 1 "* ]]; then
                node_select 1
                wait_security "$(our_pid)" "$start"
            fi
            if ((NODES == 1)); then
                log "broker up on $BOOTSTRAP (pid ${pids[0]}, $((SECONDS - start))s, state $STATE_DIR)"
            elif [[ $want == all ]]; then
                log "cluster of $NODES nodes up on $BOOTSTRAP (pids ${pids[*]}, $((SECONDS - start))s, state $STATE_DIR)"
            else
                log "node $* up on 127.0.0.1:$NODE_PORT (pid ${pids[*]}, $((SECONDS - start))s)"
            fi
            return 0
        fi
        if ((SECONDS - start >= READY_TIMEOUT)); then
            for k in "$@"; do node_select "$k"; show_logs; done
            log "not ready after ${READY_TIMEOUT}s; stopping"
            if ((NODES == 1)); then
                stop_pid "${pids[@]}"
                rm -f "$PID_FILE"
            elif [[ $want == all ]]; then
                stop_all_nodes
            else
                # node-start: only the nodes it started, as above.
                stop_pid "${pids[@]}"
                for k in "$@"; do node_select "$k"; rm -f "$PID_FILE"; done
            fi
            exit 1
        fi
        sleep 0.5
    done
}

# With KTA_KAFKA_SECURITY=1: until the SASL_SSL listener accepts the SCRAM
# user over verified TLS (which also proves the SSL side of the keystore).
wait_security() {
    local pid=$1 start=$2
    ensure_scram_user
    until security_answers; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS - start >= READY_TIMEOUT)); then
            show_logs
            die "the SASL_SSL listener on 127.0.0.1:$SASL_PORT did not accept user $SCRAM_USER within ${READY_TIMEOUT}s"
        fi
        sleep 0.5
    done
    log "SSL listener on 127.0.0.1:$SSL_PORT, SASL_SSL (SCRAM) on 127.0.0.1:$SASL_PORT; CA $SEC_CA, credentials $SEC_CREDS"
}

# ---------------------------------------------------------------- commands

cmd_up() {
    need "$JAVA"
    need kcat
    need flock
    local start=$SECONDS pid k started=0 all=()
    if [[ -d $STATE_DIR && ! -f $MARKER ]] && [[ -n $(ls -A "$STATE_DIR") ]]; then
        die "$STATE_DIR exists, is not empty and was not created by this script; choose another KTA_KAFKA_DIR"
    fi
    mkdir -p "$STATE_DIR"
    touch "$MARKER"
    lock_state
    check_nodes_file
    node_select 1
    mkdir -p "$LOG_DIR" "$DATA_DIR"
    if pid=$(our_pid); then
        if ((SECURITY)) && ! security_configured; then
            die "the broker on 127.0.0.1:$PORT (pid $pid) runs without the security listeners; 'down' it first"
        fi
        if ((SECURITY)); then load_credentials; fi
    fi
    for ((k = 1; k <= NODES; k++)); do
        all+=("$k")
        node_select "$k"
        our_pid >/dev/null && continue
        if ((started == 0)); then
            load_libs
            if ((SECURITY)); then
                node_select 1
                make_security
                node_select "$k"
            fi
        fi
        start_node
        started=$((started + 1))
    done
    if ((started == 0)); then
        node_select 1
        pid=$(our_pid)
        if ((NODES == 1)); then
            if port_open "$PORT" && broker_answers; then
                log "already running on $BOOTSTRAP (pid $pid)"
                if ((SECURITY)); then wait_security "$pid" "$start"; fi
                return 0
            fi
            log "broker pid $pid is starting; waiting"
        fi
    fi
    wait_ready "$start" "${all[@]}"
}

# valid_node I: dies unless I is a node id of this setup.
valid_node() {
    [[ $1 =~ ^[1-9]$ ]] && (($1 <= NODES)) || die "bad node '$1' (1 to $NODES)"
    [[ -f $MARKER ]] || die "no broker state in $STATE_DIR; run up first"
}

cmd_node_kill() {
    (($# == 1)) || die "usage: kafka-local.sh node-kill NODE"
    valid_node "$1"
    local pid i
    node_select "$1"
    pid=$(our_pid) || die "node $1 is not running"
    kill -KILL "$pid"
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    log "killed node $1 (pid $pid, 127.0.0.1:$NODE_PORT) with SIGKILL"
}

cmd_node_stop() {
    (($# == 1)) || die "usage: kafka-local.sh node-stop NODE"
    valid_node "$1"
    local pid t0=$SECONDS
    node_select "$1"
    pid=$(our_pid) || die "node $1 is not running"
    stop_pid "$pid"
    log "stopped node $1 (pid $pid, 127.0.0.1:$NODE_PORT) in $((SECONDS - t0))s"
}

cmd_node_start() {
    (($# == 1)) || die "usage: kafka-local.sh node-start NODE"
    valid_node "$1"
    need "$JAVA"
    need kcat
    need flock
    local start=$SECONDS pid
    lock_state
    check_nodes_file
    node_select "$1"
    if pid=$(our_pid); then
        log "node $1 already running (pid $pid)"
        return 0
    fi
    load_libs
    if ((SECURITY && $1 == 1)); then make_security; fi
    start_node
    wait_ready "$start" "$1"
}

# partition_meta TOPIC PARTITION: kcat's metadata line of that partition.
partition_meta() {
    (($# == 2)) && [[ $2 =~ ^[0-9]+$ ]] || die "usage: kafka-local.sh leader|isr TOPIC PARTITION"
    need kcat
    local out line
    out=$(kcat -L -b "$BOOTSTRAP" -t "$1" -m 5 2>&1) || die "no metadata for topic $1: $out"
    line=$(grep -E "^ +partition $2, " <<<"$out") || die "topic $1 has no partition $2"
    echo "$line"
}

cmd_leader() {
    local line leader
    line=$(partition_meta "$@")
    leader=$(sed -n 's/.*, leader \(-\{0,1\}[0-9]*\),.*/\1/p' <<<"$line")
    echo "${leader:--1}"
    [[ $leader =~ ^[0-9]+$ ]]
}

cmd_isr() {
    local line
    line=$(partition_meta "$@")
    sed -n 's/.*isrs: \([0-9,]*\).*/\1/p' <<<"$line"
}

cmd_controller() {
    (($# == 0)) || die "usage: kafka-local.sh controller"
    local out id
    tool_cmdline kafka-metadata-quorum --bootstrap-server "$BOOTSTRAP" describe --status
    out=$("${TOOL_CMD[@]}" 2>&1) || die "kafka-metadata-quorum failed: $(tail -n 3 <<<"$out")"
    id=$(sed -n 's/^LeaderId:[[:space:]]*\([0-9-]*\).*/\1/p' <<<"$out")
    [[ $id =~ ^[0-9]+$ ]] || die "no active controller: $out"
    echo "$id"
}

cmd_down() {
    local purge=0
    case ${1:-} in
        "") ;;
        --purge) purge=1 ;;
        *) die "usage: kafka-local.sh down [--purge]" ;;
    esac
    if [[ -d $STATE_DIR ]]; then
        if [[ -f $MARKER ]]; then
            lock_state
        fi
        local pid k pids=() ids=()
        for ((k = 1; k <= NODES; k++)); do
            node_select "$k"
            if pid=$(our_pid); then
                pids+=("$pid")
                ids+=("$k")
            fi
        done
        if ((${#pids[@]} == 0)); then
            log "not running ($BOOTSTRAP)"
        elif ((NODES > 1)); then
            stop_cluster "${pids[@]}"
            log "stopped nodes ${ids[*]} of $BOOTSTRAP (pids ${pids[*]})"
        else
            stop_pid "${pids[0]}"
            log "stopped broker on $BOOTSTRAP (pid ${pids[0]})"
        fi
        for ((k = 1; k <= NODES; k++)); do
            node_select "$k"
            rm -f "$PID_FILE"
        done
    else
        log "not running ($BOOTSTRAP)"
    fi
    if ((purge)); then purge_state; fi
}

cmd_status() {
    local pid
    if ((NODES == 1)); then
        if [[ -d $STATE_DIR ]] && pid=$(our_pid); then
            if port_open "$PORT"; then
                echo "running pid=$pid bootstrap=$BOOTSTRAP dir=$STATE_DIR"
            else
                echo "running pid=$pid bootstrap=$BOOTSTRAP dir=$STATE_DIR (starting, port not open yet)"
            fi
            return 0
        fi
        echo "stopped bootstrap=$BOOTSTRAP dir=$STATE_DIR"
        return 3
    fi
    local k up=0 state
    for ((k = 1; k <= NODES; k++)); do
        node_select "$k"
        if [[ -d $STATE_DIR ]] && pid=$(our_pid); then
            up=$((up + 1))
            state="running pid=$pid"
            port_open "$NODE_PORT" || state+=" (starting, port not open yet)"
        else
            state=stopped
        fi
        echo "node $k $state broker=127.0.0.1:$NODE_PORT controller=127.0.0.1:$NODE_CPORT dir=$NODE_DIR"
    done
    if ((up == NODES)); then
        echo "running nodes=$NODES bootstrap=$BOOTSTRAP dir=$STATE_DIR"
        return 0
    elif ((up == 0)); then
        echo "stopped nodes=$NODES bootstrap=$BOOTSTRAP dir=$STATE_DIR"
        return 3
    fi
    echo "partial $up of $NODES nodes running bootstrap=$BOOTSTRAP dir=$STATE_DIR"
    return 4
}

cmd_env() {
    node_select 1
    printf 'KTA_BOOTSTRAP=%q\n' "$BOOTSTRAP"
    printf 'KTA_KAFKA_PORT=%q\n' "$PORT"
    printf 'KTA_KAFKA_CONTROLLER_PORT=%q\n' "$CPORT"
    printf 'KTA_KAFKA_DIR=%q\n' "$STATE_DIR"
    printf 'KTA_KAFKA_LOG=%q\n' "$LOG_DIR/server.log"
    if ((NODES > 1)); then
        printf 'KTA_KAFKA_NODES=%q\n' "$NODES"
    fi
    if security_configured; then
        printf 'KTA_KAFKA_SSL_BOOTSTRAP=%q\n' "127.0.0.1:$SSL_PORT"
        printf 'KTA_KAFKA_SASL_BOOTSTRAP=%q\n' "127.0.0.1:$SASL_PORT"
        printf 'KTA_KAFKA_CA=%q\n' "$SEC_CA"
        printf 'KTA_KAFKA_CREDENTIALS=%q\n' "$SEC_CREDS"
    fi
}

main() {
    local cmd=${1:-help}
    (($# == 0)) || shift
    case $cmd in
        up) (($# == 0)) || die "usage: kafka-local.sh up"; cmd_up ;;
        down) cmd_down "$@" ;;
        status) cmd_status ;;
        tool) cmd_tool "$@" ;;
        topic-create) cmd_topic_create "$@" ;;
        env) cmd_env ;;
        node-kill) cmd_node_kill "$@" ;;
        node-stop) cmd_node_stop "$@" ;;
        node-start) cmd_node_start "$@" ;;
        leader) cmd_leader "$@" ;;
        isr) cmd_isr "$@" ;;
        controller) cmd_controller "$@" ;;
        fetch) load_libs; log "jars in $LIBS" ;;
        help | -h | --help) usage ;;
        *) usage >&2; exit 2 ;;
    esac
}

main "$@"
