# The Sigma corpus under the Windows log-source map: 3,000 generated Sysmon
# and Security events (5% malicious) through `kta eval` on a file and
# through `kta run` on a real broker give the same multiset of (rule id,
# event) hits, `kta eval --reference` agrees, and every hit comes from a
# rule meant for that event: a windows logsource whose map entries (the
# flat-layout alternatives of rules/fieldmaps/windows.fieldmap, evaluated
# here independently of kta) hold for it.
# Needs the public Sigma rules in ../shared/sigma beside the repository;
# without them there is nothing to compare and the test says so and passes.
. "$KTA_ROOT/tests/integration/lib.sh"

sigma=$KTA_ROOT/../shared/sigma
map=$KTA_ROOT/rules/fieldmaps/windows.fieldmap
if [[ ! -d $sigma/rules ]]; then
    echo "skip: no Sigma corpus at $sigma (nothing to compare)"
    exit 0
fi

in=$T-events hits=$T-hits dlq=$T-dlq group=$T-kta
topic "$in" 3; topic "$hits"; topic "$dlq"

"$KTA" produce --generate --schema sysmon -n 3000 --malicious 0.05 --output events.jsonl 2>/dev/null
N=$(grep -c . events.jsonl)
expect_eq "generated events" 3000 "$N"

"$KTA" eval -r "$sigma" -m "$map" --skip-invalid events.jsonl >eval.jsonl 2>eval.err ||
    fail "kta eval: $(tail -n 3 eval.err)"
"$KTA" eval --reference -r "$sigma" -m "$map" --skip-invalid events.jsonl >evalref.jsonl \
    2>/dev/null || fail "kta eval --reference failed"

"$KTA" produce -b "$B" -t "$in" events.jsonl 2>/dev/null
start_kta kta -t "$in" -G "$group" -r "$sigma" -m "$map" -w 2 -X rules.on_error=skip \
    -X output.topic="$hits" -X dead_letter.topic="$dlq" --print none
wait_committed "$group" "$in" "$N" 180
stop_kta kta
expect_eq "kta run exit status" 0 "$RC"
expect_eq "dead letters" 0 "$(count "$dlq")"

consume "$hits" >run.jsonl

SIGMA=$sigma MAP=$map python3 - <<'PY' || fail "hits differ, or a rule hit events outside its log source"
import collections, json, os, pathlib, re, yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

def hits(path):
    c = collections.Counter()
    for line in open(path, encoding="utf-8"):
        h = json.loads(line)
        c[(h["rule"]["id"], json.dumps(h["event"], sort_keys=True))] += 1
    return c

ev, ref, run = (hits(p) for p in ("eval.jsonl", "evalref.jsonl", "run.jsonl"))
total = sum(ev.values())
rules = len({r for r, _ in ev})
print(f"eval: {total} hits from {rules} rules; run: {sum(run.values())} hits")
assert total >= 100 and rules >= 10, "too few hits for a meaningful comparison"
for name, other in (("kta run", run), ("kta eval --reference", ref)):
    missing, extra = ev - other, other - ev
    for (r, e), n in list(missing.items())[:5]:
        print(f"  {name} lacks {n}x {r}: {e[:160]}")
    for (r, e), n in list(extra.items())[:5]:
        print(f"  {name} has {n}x more {r}: {e[:160]}")
    assert not missing and not extra, f"{name} differs from kta eval"
    print(f"ok: {name} gives the same (rule id, event) hits as kta eval")

# The logsource of every rule in the corpus, by id.
logsource = {}
for f in pathlib.Path(os.environ["SIGMA"], "rules").rglob("*.y*ml"):
    try:
        docs = list(yaml.load_all(f.read_text(encoding="utf-8"), Loader=Loader))
    except yaml.YAMLError:
        continue
    for d in docs:
        if isinstance(d, dict) and "id" in d:
            logsource[str(d["id"])] = d.get("logsource") or {}

entries = yaml.load(open(os.environ["MAP"], encoding="utf-8"), Loader=Loader)["logsources"]

def cond_holds(event, key, want):
    field, _, mod = key.partition("|")
    have = event.get(field)
    if mod == "exists":
        return (field in event) == bool(want)
    wants = want if isinstance(want, list) else [want]
    if have is None:
        return any(w is None for w in wants)
    for w in wants:
        if mod == "startswith" and str(have).lower().startswith(str(w).lower()):
            return True
        if mod == "" and str(have).lower() == str(w).lower():
            return True
    return False

def mapping_holds(event, m):
    if isinstance(m, list):
        return any(mapping_holds(event, x) for x in m)
    return all(cond_holds(event, k, v) for k, v in m.items())

def where_holds(event, where):
    if isinstance(where, dict) and "condition" in where:
        val = {k: mapping_holds(event, v) for k, v in where.items() if k != "condition"}
        expr = re.sub(r"[A-Za-z_][A-Za-z0-9_]*",
                      lambda t: t.group(0) if t.group(0) in ("and", "or", "not")
                      else str(val[t.group(0)]), where["condition"])
        return eval(expr)
    return mapping_holds(event, where)

checked = collections.Counter()
for (rid, e), _ in ev.items():
    event = json.loads(e)
    ls = logsource.get(rid)
    assert ls is not None, f"hit from rule {rid}, which is in no rule file"
    assert str(ls.get("product", "")).lower() == "windows", f"{rid}: logsource {ls} is not windows"
    scoped = [x for x in entries
              if all(str(ls.get(k, "")).lower() == str(v).lower() for k, v in x["match"].items())]
    assert scoped, f"{rid}: no map entry matches logsource {ls}"
    for x in scoped:
        assert where_holds(event, x["where"]), \
            f"{rid} ({ls}) hit an event outside {x['match']}: {e[:200]}"
    checked[" ".join(f"{k}={ls[k]}" for k in ("category", "service") if k in ls) or "product only"] += 1
print("ok: every hit's rule has a windows logsource whose scope holds for the event:",
      ", ".join(f"{k} {n}" for k, n in checked.most_common(8)))
PY
grep -qE "^kta: eval: $N events, $(wc -l <eval.jsonl) hits, 0 malformed in " eval.err ||
    fail "eval summary: $(tail -n 1 eval.err)"
ok "eval summary counts"
