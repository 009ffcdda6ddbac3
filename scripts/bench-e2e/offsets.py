"""offsets.py - helper of scripts/bench-e2e.sh (needs confluent-kafka).

  offsets.py end BOOTSTRAP TOPIC
      print the sum of the topic's high watermarks
  offsets.py wait BOOTSTRAP TOPIC GROUP TARGET [TIMEOUT_S] [INTERVAL_S] [LOG]
      poll GROUP's committed offsets on TOPIC every INTERVAL_S (default 0.05)
      until their sum reaches TARGET; print the wall-clock time (epoch seconds,
      float) of the first poll that saw it. Exit 1 on timeout (prints the
      last sum on stderr). LOG, when given, receives "EPOCH SUM" per change.
      With WATCH_PID set in the environment, exit 1 as soon as that process
      has exited (is gone or a zombie).
"""
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def partitions(c, topic):
    md = c.list_topics(topic, timeout=10)
    t = md.topics[topic]
    if t.error is not None:
        raise SystemExit(f"offsets.py: {topic}: {t.error}")
    return sorted(t.partitions)


def end_sum(c, topic):
    return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
               for p in partitions(c, topic))


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def main():
    mode, bootstrap, topic = sys.argv[1:4]
    if mode == "end":
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-e2e-offsets"})
        print(end_sum(c, topic))
        c.close()
        return 0
    group, target = sys.argv[4], int(sys.argv[5])
    timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 600.0
    interval = float(sys.argv[7]) if len(sys.argv) > 7 else 0.05
    log = open(sys.argv[8], "w", buffering=1) if len(sys.argv) > 8 else None
    # Only committed() is used: this consumer never subscribes, so it does
    # not join GROUP; it just reads the group's committed offsets.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    tps = [TopicPartition(topic, p) for p in partitions(c, topic)]
    deadline = time.time() + timeout
    total = last = -1
    err = None
    while True:
        try:
            got = c.committed(tps, timeout=5)
            total = sum(max(tp.offset, 0) for tp in got)
        except Exception as e:  # coordinator not ready yet, etc.: retried
            err = e
        now = time.time()
        if log is not None and total != last:
            log.write(f"{now:.3f} {total}\n")
            last = total
        if total >= target:
            print(f"{now:.3f}")
            break
        watch = os.environ.get("WATCH_PID")
        if watch and not alive(watch):
            print(f"offsets.py: process {watch} exited; committed {total} of {target}",
                  file=sys.stderr)
            c.close()
            return 1
        if now > deadline:
            print(f"offsets.py: timeout: committed {total} of {target} (last error: {err})",
                  file=sys.stderr)
            c.close()
            return 1
        time.sleep(interval)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
