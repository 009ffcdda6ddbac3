# Prometheus metrics, probes and log lines against the real broker:
# /readyz says 503 until partitions are assigned, then 200; after N records
# kta_records_consumed_total and _processed_total are N, the hits by rule
# equal the hits in the output topic (by their rule headers), dead letters
# are counted by reason, lag reaches 0 on every partition, the latency
# histogram counts every record; /healthz 200, unknown paths 404, POST 405;
# a port in use stops kta at start-up with exit 1; a bad metrics.listen is
# a configuration error; a second member with no partition is not ready and
# becomes ready when it gets one; every log line carries a UTC timestamp and
# a level, and the stats line has lag and a rate that does not round to 0.
. "$KTA_ROOT/tests/integration/lib.sh"
command -v curl >/dev/null || fail "curl is needed (scripts/install-deps.sh)"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 2; topic "$hits"; topic "$dlq"
args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits"
      -X dead_letter.topic="$dlq" --print none -w 2)

# url NAME: the metrics address kta NAME logged ("metrics on http://...").
url() { sed -n 's|.*metrics on http://\([^/]*\)/metrics.*|\1|p' "$1.err" | head -1; }
# status URL: the HTTP status code (000 when nothing answers).
status() { curl -s -o /dev/null -w '%{http_code}' "$@" || true; }
scrape() { curl -sf "http://$1/metrics" >"$2" || fail "scrape of $1 failed"; }
# mval FILE SERIES: the value of one series ("name" or 'name{labels}'), or "".
mval() { awk -v s="$2" '$1 == s { print $2 }' "$1"; }

# ---- a bad value and a port in use stop kta before it consumes ----
set +e
"$KTA" run -b "$B" "${args[@]}" -X metrics.listen=localhost >bad.out 2>bad.err; rc=$?
set -e
expect_eq "bad metrics.listen exit" 2 "$rc"
grep -q "metrics.listen: 'localhost'" bad.err || fail "bad metrics.listen message: $(cat bad.err)"
ok "bad metrics.listen: $(head -1 bad.err)"

python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(60)' >busy.port &
busy_pid=$!
for _ in $(seq 50); do [[ -s busy.port ]] && break; sleep 0.1; done
busy=$(cat busy.port)
set +e
timeout 30 "$KTA" run -b "$B" "${args[@]}" -X metrics.listen="127.0.0.1:$busy" >busy.out 2>busy.err; rc=$?
set -e
kill "$busy_pid" 2>/dev/null || true
expect_eq "port in use exit" 1 "$rc"
grep -q "cannot listen on 127.0.0.1:$busy: Address already in use" busy.err ||
    fail "port in use message: $(cat busy.err)"
grep -q "consuming" busy.err && fail "kta started consuming with its metrics port in use"
ok "port in use: $(grep 'cannot listen' busy.err)"

# ---- readiness flips at assignment ----
start_kta kta "${args[@]}" -X metrics.listen=127.0.0.1:0 -X stats_interval_ms=3000 \
    -X statistics.interval.ms=500
wait_log kta "metrics on http://"
u=$(url kta)
first=""
end=$((SECONDS + 30))
while ((SECONDS < end)); do
    first=$(status "http://$u/readyz")
    [[ $first != 000 ]] && break
    sleep 0.05
done
# The first answer may come after the assignment on a fast machine; it must
# then say so in the log already.  (The member without partitions below
# checks the 503 deterministically.)
if [[ $first == 200 ]]; then
    grep -q "assigned 2 partitions" kta.err || fail "/readyz 200 before any assignment"
else
    expect_eq "/readyz before assignment" 503 "$first"
fi
ok "/readyz said: $(curl -s "http://$u/readyz")"
wait_log kta "assigned 2 partitions"
end=$((SECONDS + 30))
until [[ $(status "http://$u/readyz") == 200 ]]; do
    ((SECONDS < end)) || fail "/readyz not 200 after assignment: $(curl -s "http://$u/readyz")"
    sleep 0.2
done
ok "/readyz 200 after assignment"
expect_eq "/healthz" "200 ok" "$(status "http://$u/healthz") $(curl -s "http://$u/healthz")"
expect_eq "unknown path" 404 "$(status "http://$u/nothing")"
expect_eq "POST" 405 "$(status -X POST -d x "http://$u/metrics")"

# ---- counters against the topics ----
"$KTA" produce -b "$B" -t "$in" --generate 400 --seed 19 --malicious 0.2 2>/dev/null
printf '%s\n' '{"host": "x", ' '{"a": 1' '[1, 2]' | "$KTA" produce -b "$B" -t "$in" 2>/dev/null
n=403
end=$((SECONDS + 60))
while :; do
    scrape "$u" m.txt
    # The input's partitions (the default rules' correlation topic has its own).
    lag=$(awk -v t="topic=\"$in\"" '$1 ~ /^kta_consumer_lag\{/ && index($1, t) { s += $2; n++ }
              END { print n + 0, s + 0 }' m.txt)
    [[ $(mval m.txt kta_records_processed_total) == "$n" && $lag == "2 0" ]] && break
    ((SECONDS < end)) || fail "not caught up: processed $(mval m.txt kta_records_processed_total) of $n, lag (partitions, sum) $lag"
    sleep 0.5
done
ok "lag reached 0 on both partitions"
# The exposition parses with Prometheus' own Python client (Debian's
# python3-prometheus-client, for Debian's python3).
/usr/bin/python3 - m.txt <<'PY' || fail "the Prometheus parser rejects /metrics"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
for name, kind in [("kta_records_consumed", "counter"), ("kta_hits", "counter"),
                   ("kta_consumer_lag", "gauge"), ("kta_processing_latency_seconds", "histogram"),
                   ("kta_build_info", "gauge")]:
    assert name in fams and fams[name].type == kind, (name, fams.get(name))
PY
ok "the Prometheus parser reads /metrics"
expect_eq "kta_records_consumed_total" "$n" "$(mval m.txt kta_records_consumed_total)"
expect_eq "kta_records_processed_total" "$n" "$(mval m.txt kta_records_processed_total)"
expect_eq "latency histogram count" "$n" "$(mval m.txt kta_processing_latency_seconds_count)"
expect_eq "latency +Inf bucket" "$n" "$(mval m.txt 'kta_processing_latency_seconds_bucket{le="+Inf"}')"
expect_eq "dead letters invalid_json" 2 "$(mval m.txt 'kta_dead_letters_total{reason="invalid_json"}')"
expect_eq "dead letters not_object" 1 "$(mval m.txt 'kta_dead_letters_total{reason="not_object"}')"
expect_eq "assigned partitions" 2 "$(mval m.txt kta_assigned_partitions)"
expect_eq "ready gauge" 1 "$(mval m.txt kta_ready)"
expect_eq "build info" "1" "$(mval m.txt "kta_build_info{version=\"$(cat "$KTA_ROOT/VERSION")\"}")"
expect_eq "delivery failures" 0 "$(mval m.txt kta_delivery_failures_total)"
[[ $(mval m.txt kta_rules_enabled) -gt 10 ]] || fail "kta_rules_enabled: $(mval m.txt kta_rules_enabled)"
grep -q '^kta_worker_busy_seconds_total{worker="1"} ' m.txt || fail "no busy time of worker 1"
grep -q '^kta_ring_items{worker="0"} ' m.txt || fail "no ring items of worker 0"
grep -q '^# TYPE kta_processing_latency_seconds histogram$' m.txt || fail "no histogram TYPE line"

wait_count "$hits" 1
sleep 1   # the hits' deliveries are acknowledged before lag reads 0; be generous
consume "$hits" '%h\n' | python3 -c '
import collections, sys
c = collections.Counter()
for line in sys.stdin:
    h = dict(kv.split("=", 1) for kv in line.strip().split(","))
    c[(h["kta.rule.id"], h["kta.rule.level"])] += 1
for (rid, lvl), k in sorted(c.items()):
    print(f"{rid} {lvl} {k}")' | LC_ALL=C sort >topic-hits.txt
sed -n 's/^kta_hits_total{rule="\([^"]*\)",level="\([^"]*\)"} \([1-9][0-9]*\)$/\1 \2 \3/p' m.txt |
    LC_ALL=C sort >metric-hits.txt
[[ $(wc -l <topic-hits.txt) -ge 5 ]] || fail "too few rules hit: $(cat topic-hits.txt)"
expect_eq "hits by rule and level = hits in the output topic" "$(cat topic-hits.txt)" "$(cat metric-hits.txt)"
expect_eq "kta_rule_reloads_total" 0 "$(mval m.txt kta_rule_reloads_total)"

# ---- a reload keeps the hit counters and is counted ----
kill -HUP "$(cat kta.pid)"
end=$((SECONDS + 30))
until scrape "$u" m2.txt; [[ $(mval m2.txt kta_rule_reloads_total) == 1 ]]; do
    ((SECONDS < end)) || fail "kta_rule_reloads_total after SIGHUP: $(mval m2.txt kta_rule_reloads_total)"
    sleep 0.2
done
ok "kta_rule_reloads_total counts the SIGHUP reload"
expect_eq "one kta_ruleset_info series" 1 "$(grep -c '^kta_ruleset_info{version="[0-9a-f]\{12\}",digest="[0-9a-f]\{64\}"} 1$' m2.txt)"
# the same version the hits carry in their headers
ver=$(sed -n 's/^kta_ruleset_info{version="\([0-9a-f]*\)".*/\1/p' m2.txt)
expect_eq "ruleset version in the metrics = in the hits' headers" "$ver" \
    "$(consume "$hits" '%h\n' | sed -n 's/.*kta.ruleset.version=\([0-9a-f]*\).*/\1/p' | sort -u)"
sed -n 's/^kta_hits_total{rule="\([^"]*\)",level="\([^"]*\)"} \([1-9][0-9]*\)$/\1 \2 \3/p' m2.txt |
    LC_ALL=C sort >metric-hits2.txt
expect_eq "hits by rule after a reload" "$(cat topic-hits.txt)" "$(cat metric-hits2.txt)"
expect_eq "hits series after a reload" "$(grep -c '^kta_hits_total{' m.txt)" "$(grep -c '^kta_hits_total{' m2.txt)"

# ---- librdkafka's statistics (statistics.interval.ms) are not dropped ----
curl -sf "http://$u/stats/librdkafka" >kstats.json || fail "/stats/librdkafka"
python3 - <<'PY' || fail "/stats/librdkafka: $(head -c 300 kstats.json)"
import json
d = json.load(open("kstats.json"))
assert set(d) == {"consumer", "producer"}, d.keys()
assert d["consumer"]["type"] == "consumer" and d["producer"]["type"] == "producer"
PY
ok "/stats/librdkafka holds both clients' statistics"
for c in consumer producer; do
    grep -Eq "^kta_kafka_broker_up\{client=\"$c\",broker=\"[^\"]+\"\} 1$" m2.txt ||
        fail "no kta_kafka_broker_up 1 for the $c: $(grep kta_kafka_broker_up m2.txt)"
done
ok "kta_kafka_broker_up from librdkafka's statistics"

# ---- the stats line: lag, and a small rate that is not 0 ----
sleep 3.5   # a stats line taken after lag read 0
grep "stats: $n events" kta.err | tail -1 | grep -Eq ', lag 0 \(max 0 on '"$in"'\[[01]\]\), ' ||
    fail "stats line without lag: $(grep 'stats:' kta.err | tail -1)"
echo '{"host": "one"}' | "$KTA" produce -b "$B" -t "$in" 2>/dev/null
wait_log kta "stats: $((n + 1)) events"
line=$(grep "stats: $((n + 1)) events" kta.err | head -1)
[[ $line =~ events\ \(0\.[0-9]+/s\) ]] || fail "one event in 3 s is not a rate below 1/s: $line"
ok "stats line: ${line#*stats: }"

# ---- a member without partitions is not ready; it is once it has one ----
solo=$T-solo
topic "$solo" 1
sargs=(-t "$solo" -G "$T-solo" -r "$KTA_ROOT/rules" -X output.topic="$hits"
       -X dead_letter.topic="$dlq" --print none)
start_kta a "${sargs[@]}" -X metrics.listen=127.0.0.1:0
wait_log a "assigned 1 partition"
start_kta b "${sargs[@]}" -X metrics.listen=127.0.0.1:0
wait_log b "assigned"
# The assignor picks which member keeps the partition.
idle=b busy=a
grep -q "assigned 1 partition" b.err && { idle=a busy=b; wait_log a "assigned 0 partitions"; }
ui=$(url $idle)
sleep 1
expect_eq "/readyz without partitions" "503 no partitions assigned" \
    "$(status "http://$ui/readyz") $(curl -s "http://$ui/readyz")"
expect_eq "/healthz without partitions" 200 "$(status "http://$ui/healthz")"
expect_eq "kta_assigned_partitions without partitions" 0 \
    "$(curl -s "http://$ui/metrics" | awk '$1 == "kta_assigned_partitions" { print $2 }')"
stop_kta $busy
expect_eq "$busy exit" 0 "$RC"
end=$((SECONDS + 60))
until [[ $(status "http://$ui/readyz") == 200 ]]; do
    ((SECONDS < end)) || fail "$idle not ready after assignment: $(curl -s "http://$ui/readyz")"
    sleep 0.2
done
grep -q "assigned 1 partition" $idle.err || fail "$idle ready without a partition"
ok "/readyz flips to 200 when the partition is assigned"
stop_kta $idle
expect_eq "$idle exit" 0 "$RC"

stop_kta kta
expect_eq "exit status" 0 "$RC"
expect_eq "no server after exit" 000 "$(status "http://$u/healthz")"

# ---- every log line: "2026-12-02T01:02:03.456Z kta: LEVEL: ..." ----
for f in kta a b; do
    bad=$(grep -Evc '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z kta: (error|warning|info|debug): ' "$f.err" || true)
    expect_eq "$f: log lines without timestamp and level" 0 "$bad"
done
