/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness: raw record bytes -> kta_event_decode -> kta_eval, and
 * the same bytes through kta_eval_raw (cheap check + Hyperscan prefilter),
 * which must agree with the parse-then-eval path: same verdict, same
 * dead-letter reason, same rules hit in the same order.  Also checks that
 * kta_event_check never calls PLAIN a record that decoding rejects.
 *
 * The rulesets are compiled once in LLVMFuzzerInitialize: an embedded one
 * that uses every kind of matcher; an embedded one under a version-2
 * field map with log sources (written to a temporary file, which is how
 * the loader takes a map), whose rules reach their fields nested, through
 * flat dotted keys or as written; and rules/ from the working directory
 * when it is there (make fuzz runs from the repository root).
 */
#include "rules_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char embedded[] =
    "rules:\n"
    "  - id: f-contains\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {process.command_line|contains: [/dev/tcp/, 'curl*|*sh']}\n"
    "  - id: f-exact-num\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {event.code: [4625, 1.5, true], user.name: null}\n"
    "  - id: f-re\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {msg|re: '(a+)+$'}\n"
    "      t: {msg|re|i|s: 'ab.*c[0-9]{2,}'}\n"
    "      condition: s or t\n"
    "  - id: f-cidr-cmp\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {dst.ip|cidr: [10.0.0.0/8, 'fe80::/10']}\n"
    "      b: {dst.port|gte: 1024, dst.port|lt: 65536.5}\n"
    "      condition: a and not b\n"
    "  - id: f-ref-exists\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {src.user|fieldref: dst.user}\n"
    "      b: {parent|exists: true, child|exists: false}\n"
    "      condition: 1 of them\n"
    "  - id: f-keywords\n"
    "    title: t\n"
    "    detection:\n"
    "      kw: ['mimikatz', 'ev?l*payload', 'STRASSE']\n"
    "      condition: kw\n"
    "  - id: f-mods\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {cmd|base64offset|contains: 'http://'}\n"
    "      b: {cmd|windash|contains: ' -enc '}\n"
    "      c: {'|all': [foo, bar]}\n"
    "      d: {x.y.z|startswith|cased: Ab, x.y.z|endswith: 'z\\*'}\n"
    "      e: {tags|all: [one, two]}\n"
    "      condition: any of them\n"
    "  - id: f-disabled\n"
    "    title: t\n"
    "    enabled: false\n"
    "    detection:\n"
    "      s: {a: '*'}\n";

/* Sysmon-style events in the nested (Event.System/Event.EventData) and
 * flat layouts, and auditd records; unmapped rules still load. */
static const char v2_map[] =
    "fields:\n"
    "  EventID: [Event.System.EventID, EventID]\n"
    "  Channel: [Event.System.Channel, Channel]\n"
    "  Image: [Event.EventData.Image, Image]\n"
    "  CommandLine: [Event.EventData.CommandLine, CommandLine]\n"
    "  \"*\": [\"{}\", \"Event.EventData.{}\"]\n"
    "logsources:\n"
    "  - match: {product: windows}\n"
    "    where:\n"
    "      - {Event.System.Channel|exists: true}\n"
    "      - {Channel|exists: true}\n"
    "  - match: {product: windows, category: process_creation}\n"
    "    where:\n"
    "      - {Event.System.Channel: Microsoft-Windows-Sysmon/Operational, Event.System.EventID: 1}\n"
    "      - {Channel: Microsoft-Windows-Sysmon/Operational, EventID: 1}\n"
    "  - match: {product: linux}\n"
    "    where:\n"
    "      audit: {type|exists: true, msg|startswith: 'audit('}\n"
    "      sysmon: {Channel: Linux-Sysmon/Operational}\n"
    "      condition: audit or sysmon\n"
    "unmapped: match_all\n";

static const char v2_rules[] =
    "rules:\n"
    "  - id: v2-proc\n"
    "    title: t\n"
    "    logsource: {product: windows, category: process_creation}\n"
    "    detection:\n"
    "      img: {Image|endswith: ['\\cmd.exe', '\\powershell.exe']}\n"
    "      enc: {CommandLine|windash|contains: [' -enc ', ' -e ']}\n"
    "      b64: {CommandLine|base64offset|contains: 'http://'}\n"
    "      condition: img and (enc or b64)\n"
    "  - id: v2-ref-exists\n"
    "    title: t\n"
    "    logsource: {product: windows}\n"
    "    detection:\n"
    "      ref: {ParentImage|fieldref: Image}\n"
    "      gone: {User|exists: false, Image|exists: true}\n"
    "      condition: ref or gone\n"
    "  - id: v2-null-num\n"
    "    title: t\n"
    "    logsource: {product: windows}\n"
    "    detection:\n"
    "      s: {Description: null, EventID: [1, '4688'], ProcessId|gt: 1000}\n"
    "  - id: v2-keywords\n"
    "    title: t\n"
    "    logsource: {product: windows}\n"
    "    detection:\n"
    "      kw: [mimikatz, 'Invoke-*Shell', 'stra\xc3\x9f""e', '\xf0\x9f\x94\xa5', "
    "'\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82']\n"
    "      condition: kw\n"
    "  - id: v2-nonascii-cased\n"
    "    title: t\n"
    "    logsource: {product: windows, category: process_creation}\n"
    "    detection:\n"
    "      a: {Product|contains: 'Microsoft\xc2\xae Windows\xc2\xae'}\n"
    "      b: {CommandLine|contains|cased: PowerShell}\n"
    "      c: {Company|startswith: '\xcf\x83\xce\xbc'}\n"
    "      d: {Image|contains: 'p\xd0\xb0yload'}\n"
    "      condition: 1 of them and not b\n"
    "  - id: v2-flat-path\n"
    "    title: t\n"
    "    logsource: {product: windows}\n"
    "    detection:\n"
    "      s: {Event.EventData.TargetFilename|contains: '\\startup\\'}\n"
    "  - id: v2-linux\n"
    "    title: t\n"
    "    logsource: {product: linux}\n"
    "    detection:\n"
    "      s: {type: EXECVE, a0: [nc, ncat], a1|startswith: '-e'}\n"
    "      t: {CommandLine|contains|all: [/dev/tcp/, 'bash -i']}\n"
    "      condition: s or t\n"
    "  - id: v2-unmapped\n"
    "    title: t\n"
    "    logsource: {product: zeek, service: dns}\n"
    "    detection:\n"
    "      s: {id.resp_h: 10.0.0.53, query|endswith: '.onion'}\n"
    "  - id: v2-no-logsource\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {Image|re: '(?i)\\\\temp\\\\[^\\\\]+\\.exe$'}\n"
    "      n: {EventID: 1}\n"
    "      condition: s and not n\n";

#define MAX_BYTES (1u << 20)
#define MAX_HITS 64

static struct kta_ruleset *sets[3];
static size_t nsets;
static struct kta_eval_ctx *ctx_raw, *ctx_plain;

struct hits {
    const struct kta_rule *r[MAX_HITS];
    size_t n;
};

static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct hits *h = opaque;

    if (h->n < MAX_HITS)
        h->r[h->n] = r;
    h->n++;
}

/* The version-2 rules under v2_map, which the loader reads from a file:
 * a temporary one, removed once loaded. */
static struct kta_ruleset *load_v2(char *err, size_t errsize)
{
    char path[] = "/tmp/kta-fuzz-map-XXXXXX";
    struct kta_rules_opts opts = { .fieldmap = path };
    struct kta_ruleset *rs = NULL;
    int fd = mkstemp(path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!fp) {
        snprintf(err, errsize, "cannot write a temporary field map");
        goto out;
    }
    if (fwrite(v2_map, 1, sizeof(v2_map) - 1, fp) != sizeof(v2_map) - 1 || fclose(fp) != 0) {
        fp = NULL;
        snprintf(err, errsize, "cannot write %s", path);
        goto out;
    }
    fp = NULL;
    rs = kta_rules_load_string("fuzz-v2.yml", v2_rules, sizeof(v2_rules) - 1, &opts, NULL, err,
                               errsize);
    if (rs && rs->nscopes == 0) {
        snprintf(err, errsize, "no log-source scopes");
        kta_ruleset_decref(rs);
        rs = NULL;
    }
out:
    if (fp)
        fclose(fp);
    if (fd >= 0)
        unlink(path);
    return rs;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    struct kta_rules_opts opts = { 0 };
    const char *dir = getenv("KTA_FUZZ_RULES");

    (void)argc;
    (void)argv;
    kta_log_threshold = KTA_LOG_ERROR;
    sets[nsets] = kta_rules_load_string("fuzz-embedded.yml", embedded, sizeof(embedded) - 1,
                                        &opts, NULL, err, sizeof(err));
    if (!sets[nsets]) {
        fprintf(stderr, "fuzz_event: embedded ruleset: %s\n", err);
        abort();
    }
    nsets++;
    sets[nsets] = load_v2(err, sizeof(err));
    if (!sets[nsets]) {
        fprintf(stderr, "fuzz_event: embedded version-2 ruleset: %s\n", err);
        abort();
    }
    nsets++;
    sets[nsets] = kta_rules_load(dir ? dir : "rules", &opts, NULL, err, sizeof(err));
    if (sets[nsets])
        nsets++;
    else
        fprintf(stderr, "fuzz_event: rules/ not used: %s\n", err);
    ctx_raw = kta_eval_ctx_new();
    ctx_plain = kta_eval_ctx_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum kta_event_error err, err_raw;
    char detail[256], detail_raw[256];
    enum kta_event_check chk;
    json_t *ev;

    ev = kta_event_decode(data, size, MAX_BYTES, &err, detail, sizeof(detail));
    if ((ev == NULL) != (err != KTA_EVENT_OK))
        abort();
    if (ev && !json_is_object(ev))
        abort();
    /* PLAIN is a promise that jansson accepts the record as an object. */
    chk = kta_event_check(data, size);
    if (chk != KTA_EVENT_UNSURE && size <= MAX_BYTES && !ev) {
        fprintf(stderr, "kta_event_check said PLAIN, decode said %s: %s\n",
                kta_event_error_name(err), detail);
        abort();
    }
    for (size_t s = 0; s < nsets; s++) {
        struct hits a = { .n = 0 }, b = { .n = 0 };
        json_t *evr = NULL;
        long n;

        if (ev)
            kta_eval(sets[s], ctx_plain, ev, on_hit, &a);
        n = kta_eval_raw(sets[s], ctx_raw, data, size, MAX_BYTES, on_hit, &b, &evr,
                         &err_raw, detail_raw, sizeof(detail_raw));
        if (!ev) {
            if (n != -1 || err_raw != err || evr) {
                fprintf(stderr, "eval_raw: %ld (%s), decode: %s\n", n,
                        kta_event_error_name(err_raw), kta_event_error_name(err));
                abort();
            }
            continue;
        }
        if (n < 0 || (size_t)n != b.n || a.n != b.n) {
            fprintf(stderr, "eval_raw: %ld hits (%zu called), kta_eval: %zu hits\n", n, b.n, a.n);
            abort();
        }
        for (size_t i = 0; i < a.n && i < MAX_HITS; i++)
            if (a.r[i] != b.r[i]) {
                fprintf(stderr, "hit %zu differs: %s vs %s\n", i, kta_rule_id(a.r[i]),
                        kta_rule_id(b.r[i]));
                abort();
            }
        json_decref(evr);
    }
    json_decref(ev);
    return 0;
}
