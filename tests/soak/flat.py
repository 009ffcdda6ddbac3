#!/usr/bin/env python3
"""Soak verdict: did kta's resources stay flat within each lifetime?

  flat.py SAMPLES.csv [--warmup SECONDS] [--min-samples N]

SAMPLES.csv has the columns elapsed_s,life,pid,life_s,rss_kib,fds,threads
(tests/soak/run.sh).  For each kta lifetime (one process, from its start to
its kill -9 or SIGTERM) the samples taken after the warm-up are split into
quarters; the lifetime is flat when

  median RSS of the last quarter <= 1.10 * median of the first + 4 MiB
  median fds  of the last quarter == median of the first
  median threads of the last quarter == median of the first

A slow leak shows as growth between the quarters; a one-off peak (a reload
compiling the rules, a reconnect) does not move a median.  The margin is
the allocator's: glibc keeps freed pages in its arenas, so a steady state
wanders by a few MiB.  A lifetime with fewer than N samples after warm-up
(default 8) is reported, not judged.  Exit status 1 when a judged lifetime
is not flat or none could be judged.
"""
import csv
import statistics
import sys


def main(argv):
    path, warmup, min_samples = None, 60, 8
    it = iter(argv)
    for a in it:
        if a == "--warmup":
            warmup = int(next(it))
        elif a == "--min-samples":
            min_samples = int(next(it))
        else:
            path = a
    lives = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            lives.setdefault(int(row["life"]), []).append(row)
    judged = bad = 0
    for life in sorted(lives):
        rows = lives[life]
        pid = rows[0]["pid"]
        after = [r for r in rows if int(r["life_s"]) >= warmup]
        peak = max(int(r["rss_kib"]) for r in rows)
        if len(after) < min_samples:
            print(f"flat: life {life} (pid {pid}): {len(rows)} samples, {len(after)} after "
                  f"{warmup} s warm-up: too short to judge (peak RSS {peak // 1024} MiB)")
            continue
        q = max(1, len(after) // 4)
        first, last = after[:q], after[-q:]

        def med(rs, col):
            return statistics.median(int(r[col]) for r in rs)

        rss0, rss1 = med(first, "rss_kib"), med(last, "rss_kib")
        fd0, fd1 = med(first, "fds"), med(last, "fds")
        th0, th1 = med(first, "threads"), med(last, "threads")
        ok = rss1 <= 1.10 * rss0 + 4096 and fd0 == fd1 and th0 == th1
        judged += 1
        bad += not ok
        span = int(after[-1]["life_s"]) - int(after[0]["life_s"])
        print(f"flat: life {life} (pid {pid}) {'ok' if ok else 'NOT FLAT'}: "
              f"{len(after)} samples over {span} s after warm-up; "
              f"RSS median {rss0 / 1024:.1f} -> {rss1 / 1024:.1f} MiB "
              f"(limit {(1.10 * rss0 + 4096) / 1024:.1f}, peak {peak / 1024:.1f}); "
              f"fds {fd0:g} -> {fd1:g} (range {min(int(r['fds']) for r in after)}-"
              f"{max(int(r['fds']) for r in after)}); "
              f"threads {th0:g} -> {th1:g}")
    if judged == 0:
        print("flat: no lifetime long enough to judge")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
