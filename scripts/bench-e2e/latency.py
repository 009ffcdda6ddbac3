"""latency.py - helper of scripts/bench-e2e.sh (standard library only).

Reads kcat lines "HIT_TIMESTAMP<TAB>HIT_JSON" (kcat -f '%T\\t%s\\n') on stdin
and prints key=value lines: the count and percentiles of
HIT_TIMESTAMP - HIT_JSON.source.timestamp in milliseconds.
Percentiles are nearest-rank.
"""
import json
import math
import sys

lat = []
bad = 0
for line in sys.stdin:
    line = line.rstrip("\n")
    if not line:
        continue
    try:
        ts, payload = line.split("\t", 1)
        lat.append(int(ts) - int(json.loads(payload)["source"]["timestamp"]))
    except (ValueError, KeyError, TypeError):
        bad += 1
lat.sort()


def pct(p):
    return lat[max(0, math.ceil(p / 100.0 * len(lat)) - 1)]


print(f"lat_hits={len(lat)}")
print(f"lat_unparsed={bad}")
if lat:
    for name, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p999", 99.9)):
        print(f"lat_{name}={pct(p)}")
    print(f"lat_min={lat[0]}")
    print(f"lat_max={lat[-1]}")
    print(f"lat_mean={sum(lat) / len(lat):.2f}")
