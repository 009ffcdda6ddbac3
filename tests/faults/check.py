#!/usr/bin/env python3
"""Fault-suite oracle: which hits the input must produce versus what is in
the output topic.

  check.py hits     INPUT HITS EXPECTED [--label L] [--no-dups]
  check.py prefix   INPUT HITS EXPECTED COMMITTED

INPUT    lines "partition<TAB>offset<TAB>value" of the input topic (kcat)
EXPECTED `kta eval` over the values of INPUT, in the same order (its hits
         carry source.line, the 1-based line of INPUT)
HITS     the output topic's records, one JSON hit per line
A hit is identified by (rule id, input partition, input offset).  Correlation
hits (of the default rules' correlations) are not identified by offset:
which event completes a window depends on the order the partitions are read
in.  They are checked by (correlation, group) for the counting types
(event_count, value_count), whose groups do not depend on that order: every
group the oracle reports must be in HITS; with --no-dups no other group may
be (at-least-once may count re-read events again and reach a threshold the
oracle does not).

`hits` prints the figures and fails when a hit is missing or unexpected
(and, with --no-dups, when one is duplicated).  `prefix` checks that the
committed offsets ("p:o p:o ...") never passed a record whose hits are not
in HITS: every expected hit of an offset below its partition's committed
position must be there.
"""
import collections
import json
import sys


def load_input(path):
    where = []
    with open(path, "rb") as f:
        for line in f:
            p, o, _ = line.split(b"\t", 2)
            where.append((int(p), int(o)))
    return where


def corr_group(h):
    c = h["correlation"]
    if c["type"] not in ("event_count", "value_count"):
        return None
    return (h["rule"]["id"], json.dumps(c["group"], sort_keys=True))


def groups(path):
    out = set()
    with open(path, "rb") as f:
        for line in f:
            try:
                h = json.loads(line)
            except ValueError:
                continue
            if isinstance(h, dict) and "correlation" in h and corr_group(h):
                out.add(corr_group(h))
    return out


def expected(path, where):
    want = collections.Counter()
    with open(path) as f:
        for line in f:
            h = json.loads(line)
            if "correlation" in h:
                continue
            p, o = where[h["source"]["line"] - 1]
            want[(h["rule"]["id"], p, o)] += 1
    return want


def found(path):
    got = collections.Counter()
    bad = 0
    with open(path, "rb") as f:
        for line in f:
            try:
                h = json.loads(line)
                if "correlation" in h:
                    continue
                got[(h["rule"]["id"], h["source"]["partition"], h["source"]["offset"])] += 1
            except (ValueError, KeyError, TypeError):
                bad += 1
    return got, bad


def cmd_hits(args):
    label, nodups = "", False
    rest = []
    it = iter(args)
    for a in it:
        if a == "--label":
            label = next(it) + " "
        elif a == "--no-dups":
            nodups = True
        else:
            rest.append(a)
    inp, hits, exp = rest
    where = load_input(inp)
    want = expected(exp, where)
    got, bad = found(hits)
    missing = want - got
    unexpected = {k: v for k, v in got.items() if k not in want}
    dups = sum(v - 1 for v in got.values() if v > 1)
    print(f"figures: {label}events={len(where)} expected={sum(want.values())} "
          f"found={sum(got.values())} distinct={len(got)} missing={sum(missing.values())} "
          f"duplicates={dups} unexpected={sum(unexpected.values()) + bad}")
    gwant, ggot = groups(exp), groups(hits)
    gmissing, gextra = gwant - ggot, ggot - gwant
    print(f"figures: {label}correlation_groups expected={len(gwant)} found={len(ggot)} "
          f"missing={len(gmissing)} extra={len(gextra)}")
    for k in sorted(missing)[:10]:
        print(f"  missing: rule {k[0]} partition {k[1]} offset {k[2]}")
    for k in sorted(unexpected)[:5]:
        print(f"  unexpected: rule {k[0]} partition {k[1]} offset {k[2]}")
    for k in sorted(gmissing)[:10]:
        print(f"  missing correlation hit: rule {k[0]} group {k[1]}")
    for k in sorted(gextra)[:5]:
        print(f"  extra correlation hit: rule {k[0]} group {k[1]}")
    if sum(want.values()) == 0:
        print("oracle: no expected hits; the test would prove nothing")
        return 1
    if missing or unexpected or bad or (nodups and dups) or gmissing or (nodups and gextra):
        return 1
    return 0


def cmd_prefix(args):
    inp, hits, exp, committed = args
    where = load_input(inp)
    want = expected(exp, where)
    got, _ = found(hits)
    pos = {}
    for po in committed.split():
        p, o = po.split(":")
        if o.lstrip("-").isdigit():
            pos[int(p)] = int(o)
    behind = [k for k in want if k[2] < pos.get(k[1], -1) and k not in got]
    covered = sum(1 for k in want if k[2] < pos.get(k[1], -1))
    print(f"prefix: committed {committed or '(none)'}: {covered} expected hits below the "
          f"committed offsets, {len(behind)} of them not in the output")
    for k in sorted(behind)[:10]:
        print(f"  committed past a missing hit: rule {k[0]} partition {k[1]} offset {k[2]}")
    return 1 if behind else 0


if __name__ == "__main__":
    cmds = {"hits": cmd_hits, "prefix": cmd_prefix}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    sys.exit(cmds[sys.argv[1]](sys.argv[2:]))
