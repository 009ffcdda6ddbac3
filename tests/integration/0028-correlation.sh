# Correlation rules in kta run (issue 12), in both modes: one group's
# events spread over every input partition, first read by one kta that is
# then killed with kill -9 mid-window (every record committed), then by
# two instances together, each owning some partitions of the internal
# correlation topic.  The brute-force counts (event_count) and the
# spraying users (value_count) only reach their thresholds when the
# state from before the kill is read back from the changelog, and each
# group's events meet in one owner whatever partition they came on:
# every expected correlation hit exactly once, none from one instance's
# partial view.  kta eval over the same events is the oracle.
. "$KTA_ROOT/tests/integration/lib.sh"

mkdir -p rules
cat >rules/corr.yml <<'EOF'
title: failed login
id: t28-failed-login
detection:
  sel: {event_type: login, result: failure}
  condition: sel
---
title: Brute force against one account from one address
id: t28-brute
level: high
correlation:
  type: event_count
  rules: t28-failed-login
  group-by: [user, src_ip]
  timespan: 10m
  condition: {gte: 6}
---
title: One address trying many accounts
id: t28-spray
correlation:
  type: value_count
  rules: t28-failed-login
  group-by: [src_ip]
  field: user
  timespan: 10m
  condition: {gte: 5}
EOF

# events PHASE: 8 brute-force groups x 3 failures, and 3 (phase 1: 2)
# sprayed users from one address, each line "PARTITION<TAB>EVENT"; times
# rise in the order written, so no partition ever goes back in time.
events() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys
phase = int(sys.argv[1])
base = 1764583200 + (0 if phase == 1 else 120)          # 2025-12-01T10:00:00Z
n = 0
def emit(user, ip):
    global n
    t = base + n
    ts = "%s.000Z" % __import__("time").strftime("%Y-%m-%dT%H:%M:%S", __import__("time").gmtime(t))
    print("%d\t%s" % (n % 4, json.dumps({"@timestamp": ts, "event_type": "login", "result": "failure",
                                         "user": user, "src_ip": ip, "host": "h%d" % (n % 3)})))
    n += 1
for j in range(3):
    for g in range(8):
        emit("user%d" % g, "10.0.0.%d" % g)
for u in ([0, 1] if phase == 1 else [2, 3, 4]):
    emit("sprayed%d" % u, "203.0.113.9")
PY
}
produce_phase() {   # produce_phase TOPIC PHASE
    events "$2" >"phase$2.tsv"
    for p in 0 1 2 3; do
        awk -F'\t' -v p="$p" '$1 == p { print $2 }' "phase$2.tsv" | kcat -b "$B" -P -t "$1" -p "$p"
    done
}

run_mode() {   # run_mode alo|eos
    local mode=$1 in=$T-$1-events hits=$T-$1-hits dlq=$T-$1-dlq group=$T-$1-kta
    local args
    topic "$in" 4; topic "$hits"; topic "$dlq"
    args=(-t "$in" -G "$group" -r rules -X output.topic="$hits" -X dead_letter.topic="$dlq"
          --print none -X commit_interval_ms=300 -w 2)
    [[ $mode == eos ]] && args+=(-X processing.guarantee=exactly_once -X transactional.id="$group")

    produce_phase "$in" 1
    start_kta "$mode-a" "${args[@]}"
    wait_log "$mode-a" "created internal topic '$group-kta-correlation'" 30
    wait_committed "$group" "$in" 26 60 "$mode-a"
    # 26 failures, each an input of both correlations, all applied.
    wait_committed "$group" "$group-kta-correlation" 52 60 "$mode-a"
    stop_kta "$mode-a" KILL
    ((RC == 137)) || fail "$mode: kill -9 gave $RC"
    ok "$mode: first instance killed with every window open"

    start_kta "$mode-b" "${args[@]}"
    start_kta "$mode-c" "${args[@]}"
    wait_log "$mode-b" "assigned" 60
    wait_log "$mode-c" "assigned" 60
    produce_phase "$in" 2
    wait_committed "$group" "$in" 53 60 "$mode-b"
    wait_committed "$group" "$group-kta-correlation" 106 60 "$mode-b"
    sleep 1
    stop_kta "$mode-b"
    expect_eq "$mode: second instance exit" 0 "$RC"
    stop_kta "$mode-c"
    expect_eq "$mode: third instance exit" 0 "$RC"
    grep -q "restored from '$group-kta-correlation-changelog'" "$mode-b.err" ||
        fail "$mode: instance b restored no state"
    grep -q "restored from '$group-kta-correlation-changelog'" "$mode-c.err" ||
        fail "$mode: instance c restored no state"
    ok "$mode: both instances own correlation partitions and read their state back"

    cut -f2 phase1.tsv phase2.tsv >"$mode-events.jsonl"
    "$KTA" eval -r rules "$mode-events.jsonl" >"$mode-expected.jsonl"
    kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=read_committed \
        >"$mode-got.jsonl"
    /usr/bin/python3 - "$mode" <<'PY'
import collections, json, sys
mode = sys.argv[1]
def keys(path):
    out = collections.Counter()
    for h in map(json.loads, open(path)):
        c = h.get("correlation")
        assert c, "a hit that is not a correlation hit: %r" % h
        out[(h["rule"]["id"], json.dumps(c["group"], sort_keys=True), c["count"])] += 1
    return out
want, got = keys(mode + "-expected.jsonl"), keys(mode + "-got.jsonl")
print("%s: expected %d correlation hits, got %d" % (mode, sum(want.values()), sum(got.values())))
assert sum(want.values()) == 9, want
for k in sorted(set(want) | set(got)):
    if want[k] != got[k]:
        print("  %s: expected %d, got %d" % (k, want[k], got[k]))
assert want == got
PY
    ok "$mode: every correlation hit once, counted across the kill and the instances"
}

run_mode alo
run_mode eos
