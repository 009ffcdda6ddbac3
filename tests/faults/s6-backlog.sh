# 6. A backlog of millions of events (FAULTS_BACKLOG, default 2000000) with
# slow rules (the Sigma corpus in ../shared/sigma/rules when present, else
# rules/ plus regex rules that force full evaluation).  RSS is sampled
# every second and must not keep growing; there must be exactly one
# assignment (no rebalance storm); the lag must keep going down to 0.
. "$KTA_ROOT/tests/faults/lib.sh"
N=${FAULTS_BACKLOG:-2000000}
((QUICK)) && N=${FAULTS_BACKLOG:-200000}
sigma=$(cd "$KTA_ROOT/.." && pwd)/shared/sigma/rules
if [[ -d $sigma ]]; then
    rules=$sigma
else
    rules=$PWD/slow-rules
    cp -r "$KTA_ROOT/rules" "$rules"
    for i in $(seq 1 50); do
        cat >"$rules/slow-$i.yml" <<YML
id: fault-slow-$i
title: regex that never matches, evaluated on every event
level: low
detection:
  sel:
    host|re: '^(?:endpoint[0-9]+x$i|zz.*q$i)\$'
  text:
    - 'nevermatch$i'
  condition: sel or text
YML
    done
fi
"$KTA" check "$rules" >/dev/null 2>&1 || fail "rules $rules do not load"
make_topics
t0=$SECONDS
"$KTA" produce -b "$B" -t "$IN" --generate "$N" --seed 16 --malicious 0.05 2>produce.err ||
    fail "producing the backlog: $(tail -2 produce.err)"
note "backlog of $N events produced in $((SECONDS - t0)) s; rules $rules"
start_kta a a -t "$IN" -G "$GROUP" -r "$rules" -X output.topic="$HITS" -X dead_letter.topic="$DLQ"
pid=$(pid_of a)
t0=$SECONDS
: >rss.txt
: >lag.txt
limit=$((N / 2000 + 300))
last_lag_at=0
while alive a; do
    awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" >>rss.txt 2>/dev/null || true
    if ((SECONDS - last_lag_at >= 10)); then
        last_lag_at=$SECONDS
        l=$(lag "$GROUP")
        echo "$((SECONDS - t0)) $l" >>lag.txt
        [[ $l == 0 ]] && break
        ((SECONDS - t0 < limit)) || fail "lag still $l after $limit s"
    fi
    sleep 1
done
alive a || { tail -20 a.err; fail "kta exited during the backlog"; }
elapsed=$((SECONDS - t0))
stop_kta a TERM 30
[[ $RC == 0 ]] || fail "kta exited $RC"
assigned=$(grep -c 'assigned' a.err || true)
revoking=$(grep -c 'revoking' a.err || true)
hits_reported=$(sed -n 's/.*processed \([0-9]*\) events: \([0-9]*\) hits.*/\2/p' a.err)
processed=$(sed -n 's/.*processed \([0-9]*\) events.*/\1/p' a.err)
iso=read_uncommitted; [[ $MODE == eos ]] && iso=read_committed
hits_found=$(kcat -b "$B" -C -t "$HITS" -e -o beginning -q -X isolation.level=$iso -f '\n' 2>/dev/null | wc -l)
python3 - "$N" "$elapsed" "$assigned" "$revoking" "$processed" "$hits_reported" "$hits_found" <<'PY'
import sys
n, elapsed, assigned, revoking, processed, hits_rep, hits_found = sys.argv[1:]
rss = [int(x) for x in open("rss.txt") if x.strip()]
lags = [tuple(map(int, l.split())) for l in open("lag.txt") if l.strip()]
# The first 10 s are start-up (rules compile, first fetches).
steady = rss[10:] or rss
q = max(1, len(steady) // 4)
first_half, last_q = max(steady[: 2 * q]), max(steady[-q:])
growing = last_q > first_half * 1.25 and last_q - first_half > 32 * 1024
# Progress: the lag never stands still for 3 samples (~30 s) before 0.
stuck = any(lags[i][1] > 0 and lags[i][1] == lags[i + 1][1] == lags[i + 2][1]
            for i in range(len(lags) - 2))
print(f"figures: backlog={n} elapsed={elapsed}s rate={int(n) // max(1, int(elapsed))}/s "
      f"rss_min={min(rss) // 1024}MB rss_max={max(rss) // 1024}MB rss_first_half_max={first_half // 1024}MB "
      f"rss_last_quarter_max={last_q // 1024}MB samples={len(rss)} assigned={assigned} revoking={revoking} "
      f"processed={processed} hits_reported={hits_rep} hits_in_topic={hits_found}")
print("lag samples (s, lag): " + " ".join(f"{t}:{l}" for t, l in lags))
errors = []
if growing: errors.append("RSS keeps growing")
if assigned != "1" or revoking != "0": errors.append("rebalance storm (more than one assignment)")
if stuck: errors.append("no progress for 30 s")
if processed != n: errors.append(f"processed {processed} of {n}")
if int(hits_found) < int(hits_rep or 0): errors.append("fewer hits in the topic than kta reported")
for e in errors: print("FAIL: " + e)
sys.exit(1 if errors else 0)
PY
