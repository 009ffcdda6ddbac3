#!/usr/bin/env bash
# `make demo`: the seed proof of concept, end to end, on a real local broker.
# Installs what is missing, builds kta, starts a single-node Kafka on
# 127.0.0.1:9092 (scripts/kafka-local.sh), creates the topics, sends the
# seed's four sample events plus one malformed record, runs kta on them and
# shows the console alerts, the matched_hits records and the dead-letter
# record.  The broker keeps running afterwards; `scripts/kafka-local.sh down`
# stops it.  Running the demo again sends and analyses five new records.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
kafka=$root/scripts/kafka-local.sh
export KTA_KAFKA_PORT=${KTA_KAFKA_PORT:-9092}
B=127.0.0.1:$KTA_KAFKA_PORT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Installing missing packages (scripts/install-deps.sh)"
scripts/install-deps.sh
step "Building kta"
make --no-print-directory -s
kta=$root/build/kta

step "Starting Kafka on $B (scripts/kafka-local.sh up)"
"$kafka" up
for t in threat-events matched_hits threat-events.dlq; do "$kafka" topic-create "$t" 1 >/dev/null; done
echo "topics: threat-events, matched_hits, threat-events.dlq"

count() { kcat -b "$B" -C -t "$1" -e -o beginning -q -f '%o\n' 2>/dev/null | wc -l; }
hits0=$(count matched_hits) dlq0=$(count threat-events.dlq)

step "Sending the seed's sample events and one malformed record to threat-events"
events=$(mktemp)
trap 'rm -f "$events" "$events".out "$events".err' EXIT
{ cat tests/data/seed-events.jsonl; echo '{"host": "endpoint05", "threat": '; } >"$events"
cat "$events"
"$kta" produce -b "$B" -t threat-events -k host "$events"

step "Running kta (kta run -b $B -r rules/seed.yaml -G kta-demo --print all)"
"$kta" run -b "$B" -r rules/seed.yaml -G kta-demo --print all >"$events.out" 2>"$events.err" &
pid=$!
end=$((SECONDS + 60))
while (( $(count matched_hits) < hits0 + 3 || $(count threat-events.dlq) < dlq0 + 1 )); do
    if (( SECONDS > end )) || ! kill -0 "$pid" 2>/dev/null; then
        cat "$events.out" "$events.err"; echo "demo: kta did not produce the expected records" >&2; exit 1
    fi
    sleep 0.5
done
sleep 1.5   # let kta commit its offsets, then stop it like an operator would
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
cat "$events.out"
grep -F '[ERROR]' "$events.err" || true
echo "(kta exited with status $rc after SIGTERM)"
[[ $rc -eq 0 ]] || { cat "$events.err"; exit 1; }

step "The hits on matched_hits (kcat -C -t matched_hits -o -3 -e)"
kcat -b "$B" -C -t matched_hits -o -3 -e -q -f 'key=%k headers=%h\n%s\n\n'

step "The dead-letter record on threat-events.dlq (kcat -C -t threat-events.dlq -o -1 -e)"
kcat -b "$B" -C -t threat-events.dlq -o -1 -e -q -f 'headers=%h\nvalue=%s\n'

cat <<EOT

Done. The broker is still running on $B:
  scripts/kafka-local.sh status | down      # see it, stop it
  $kta run -b $B -r rules/ --print all      # analyse with the default rules
EOT
