#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""logsource-coverage.py - how a kta log-source map scopes a rules tree.

    scripts/logsource-coverage.py MAP RULES... [--min N] [--product P]

MAP is a kta field map file (version 2: top-level `fields`, `logsources`,
`unmapped`; a version-1 file has no log sources).  RULES are rule files or
directories (read like kta does: *.yml and *.yaml, recursively).  Prints
one line per (product, category, service) combination found in the rules:
how many rules carry it and what the map does with them:

    scoped     every logsource key of the rule is matched by some entry
    partial    entries match, but not for every key (e.g. only `product`
               matched while the rule also names a category): the rule
               runs on every event of the product
    skipped    no entry matches and `unmapped: skip` (the default): not loaded
    unscoped   no entry matches and `unmapped: warn` / `match_all`, or the
               map has no log sources: the rule runs on every event
    all events the rule has no logsource

then the totals.  This is a reading aid that mirrors the matching rule of
kta's loader (every key of an entry's `match` equals the rule's value,
ignoring case); `kta check -m MAP RULES` is the authority.  Needs PyYAML.
"""
import argparse
import collections
import os
import sys

import yaml

KEYS = ("product", "category", "service")


def rule_docs(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for dirpath, _, names in os.walk(p):
                files += [os.path.join(dirpath, n) for n in names if n.endswith((".yml", ".yaml"))]
        else:
            files.append(p)
    for f in sorted(files, key=lambda s: s.encode()):
        try:
            docs = list(yaml.safe_load_all(open(f, encoding="utf-8")))
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            print(f"{f}: skipped, not YAML: {e}", file=sys.stderr)
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            if "detection" in doc:
                yield doc
            elif isinstance(doc.get("rules"), list):
                yield from (r for r in doc["rules"] if isinstance(r, dict) and "detection" in r)


def fold(v):
    return str(v).casefold() if v is not None else None


def load_map(path):
    m = yaml.safe_load(open(path, encoding="utf-8"))
    if not isinstance(m, dict):
        sys.exit(f"{path}: a field map must be a YAML mapping")
    if not any(k in m for k in ("fields", "logsources", "unmapped")):
        return None, "skip"  # version 1: no log sources at all
    entries = []
    for i, e in enumerate(m.get("logsources") or []):
        match = e.get("match") if isinstance(e, dict) else None
        if not isinstance(match, dict) or not match:
            sys.exit(f"{path}: logsources entry {i + 1}: `match` must be a non-empty mapping")
        entries.append({fold(k): fold(v) for k, v in match.items()})
    return entries, str(m.get("unmapped", "skip"))


def status(ls, entries, unmapped):
    have = {k: ls[k] for k in KEYS if ls.get(k) is not None}
    if not have:
        return "all events", 0
    if entries is None:
        return "unscoped", 0
    hits = [e for e in entries if all(have.get(k) == v for k, v in e.items())]
    if not hits:
        return ("skipped" if unmapped == "skip" else "unscoped"), 0
    covered = set().union(*(e.keys() for e in hits))
    return ("scoped" if covered >= set(have) else "partial"), len(hits)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("map")
    ap.add_argument("rules", nargs="+")
    ap.add_argument("--min", type=int, default=1, help="hide combinations with fewer rules")
    ap.add_argument("--product", help="only this product (case-insensitive)")
    a = ap.parse_args()
    entries, unmapped = load_map(a.map)

    combos = collections.Counter()
    how = {}
    for r in rule_docs(a.rules):
        ls = r.get("logsource") if isinstance(r.get("logsource"), dict) else {}
        ls = {k: fold(ls.get(k)) for k in KEYS}
        if a.product and ls["product"] != a.product.casefold():
            continue
        key = tuple(ls[k] for k in KEYS)
        combos[key] += 1
        how[key] = status(ls, entries, unmapped)

    totals = collections.Counter()
    print(f"{'rules':>5}  {'status':<10} {'entries':>7}  product / category / service")
    for key, n in sorted(combos.items(), key=lambda kv: (-kv[1], [s or "" for s in kv[0]])):
        st, ne = how[key]
        totals[st] += n
        if n >= a.min:
            print(f"{n:>5}  {st:<10} {ne:>7}  " + " / ".join(s or "-" for s in key))
    print("total: " + ", ".join(f"{totals[s]} {s}" for s in
                                ("scoped", "partial", "skipped", "unscoped", "all events") if totals[s]))


if __name__ == "__main__":
    main()
