# kta eval and kta run are one engine: the same events (several thousand
# generated ones, hits and misses and malformed lines mixed, plus the
# seed's) through `kta eval -r rules` on a file and through `kta run -r
# rules` on a real broker give the same multiset of (rule id, event) hits,
# and eval's malformed lines are run's dead letters, with the same reasons.
# `kta eval --threads 2` and `--reference` must agree with both.
. "$KTA_ROOT/tests/integration/lib.sh"

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"

# No whitespace-only lines: eval skips them, run dead-letters them.
{
    cat "$KTA_ROOT/tests/data/seed-events.jsonl"
    python3 "$KTA_ROOT/scripts/gen-jsonl.py" events 6000 --seed 15 --malicious 0.08 --malformed 0.03
} >events.jsonl
N=$(grep -c . events.jsonl)

"$KTA" eval -r "$KTA_ROOT/rules" events.jsonl >eval.jsonl 2>eval.err
"$KTA" eval --threads 2 -r "$KTA_ROOT/rules" events.jsonl >eval2.jsonl 2>/dev/null
"$KTA" eval --reference -r "$KTA_ROOT/rules" events.jsonl >evalref.jsonl 2>/dev/null
grep -oE 'malformed event \([a-z_]+\)' eval.err | sed -E 's/.*\((.*)\)/\1/' | sort >eval.reasons

"$KTA" produce -b "$B" -t "$in" events.jsonl 2>/dev/null
start_kta kta -t "$in" -G "$group" -r "$KTA_ROOT/rules" -w 2 -X output.topic="$hits" \
    -X dead_letter.topic="$dlq" --print none
wait_committed "$group" "$in" "$N" 120
stop_kta kta
expect_eq "kta run exit status" 0 "$RC"

consume "$hits" >run.jsonl
consume "$dlq" '%h\n' | grep -oE 'kta\.error\.reason=[a-z_]+' | sed 's/.*=//' | sort >run.reasons

python3 - <<'PY'
import collections, json

groups = {}   # file -> the (correlation, group) pairs it has hits for
def hits(path):
    c, g = collections.Counter(), set()
    for line in open(path, encoding="utf-8"):
        h = json.loads(line)
        if "correlation" in h:
            if h["correlation"]["type"] in ("event_count", "value_count"):   # order aside
                g.add((h["rule"]["id"], json.dumps(h["correlation"]["group"], sort_keys=True)))
        else:
            c[(h["rule"]["id"], json.dumps(h["event"], sort_keys=True))] += 1
    groups[path] = g
    return c

ev, ev2, ref, run = (hits(p) for p in ("eval.jsonl", "eval2.jsonl", "evalref.jsonl", "run.jsonl"))
# Correlation hits: eval has no event times here (one window per group),
# run the records' timestamps; every group run reports, eval reports too.
assert groups["eval.jsonl"] == groups["eval2.jsonl"] == groups["evalref.jsonl"]
assert groups["run.jsonl"] <= groups["eval.jsonl"], groups["run.jsonl"] - groups["eval.jsonl"]
print(f"ok: correlation groups: eval {len(groups['eval.jsonl'])}, run {len(groups['run.jsonl'])} of them")
total = sum(ev.values())
rules = len({r for r, _ in ev})
print(f"eval: {total} hits from {rules} rules; run: {sum(run.values())} hits")
assert total > 300 and rules >= 10, "too few hits for a meaningful comparison"
for name, other in (("kta run", run), ("kta eval --threads 2", ev2), ("kta eval --reference", ref)):
    missing, extra = ev - other, other - ev
    for (r, e), n in list(missing.items())[:5]:
        print(f"  {name} lacks {n}x {r}: {e[:120]}")
    for (r, e), n in list(extra.items())[:5]:
        print(f"  {name} has {n}x more {r}: {e[:120]}")
    assert not missing and not extra, f"{name} differs from kta eval"
    print(f"ok: {name} gives the same (rule id, event) hits as kta eval")

# Both carry the same kta and ruleset versions in every hit.
blocks = {json.dumps(json.loads(l)["kta"], sort_keys=True)
          for p in ("eval.jsonl", "run.jsonl") for l in open(p, encoding="utf-8")}
assert len(blocks) == 1, blocks
print(f"ok: every hit of kta eval and kta run carries {blocks.pop()}")
PY
bad=$(wc -l <eval.reasons)
((bad > 50)) || fail "only $bad malformed lines"
expect_eq "eval's malformed lines are run's dead letters, same reasons" \
    "$(uniq -c eval.reasons)" "$(uniq -c run.reasons)"
grep -qE "^kta: eval: $N events, $(wc -l <eval.jsonl) hits, $bad malformed in " eval.err ||
    fail "eval summary: $(tail -n 1 eval.err)"
ok "eval summary counts"
