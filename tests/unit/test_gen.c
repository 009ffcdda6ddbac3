/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gen: the event generator (src/gen.c) — determinism for a seed,
 * valid JSON objects, the keys each schema promises, sizes, the malicious
 * share, and samples laid over events without repeating a key; the
 * literals rules give for generating (kta_rule_samples, rules_compile.c)
 * and events built from them that really trigger those rules.
 */
#include "kta/gen.h"
#include "kta/rules.h"
#include "tap.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EVENTS 4000

struct stats {
    size_t n, bytes, bad, evil, sysmon1, sysmon1_ok, security, auditd, lsysmon, missing;
};

static int has_str(json_t *ev, const char *key)
{
    return json_is_string(json_object_get(ev, key));
}

/* Every event of the schema parses as an object with the promised keys. */
static void run(const char *schema, double malicious, uint64_t seed, struct stats *st)
{
    struct kta_gen g;
    struct kta_buf b = { 0 };

    memset(st, 0, sizeof(*st));
    kta_gen_init(&g, seed, malicious);
    CHECK_INT(kta_gen_schema(&g, schema), 0);
    for (size_t i = 0; i < EVENTS; i++) {
        json_error_t jerr;
        json_t *ev;

        kta_buf_reset(&b);
        st->evil += (size_t)kta_gen_event(&g, &b);
        st->n++;
        st->bytes += b.len;
        ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(ev)) {
            if (st->bad++ == 0)
                fprintf(stderr, "%s event %zu: %s: %s\n", schema, i, jerr.text, b.data);
            json_decref(ev);
            continue;
        }
        if (strcmp(schema, "sysmon") == 0) {
            json_t *id = json_object_get(ev, "EventID");
            const char *ch = json_string_value(json_object_get(ev, "Channel"));

            if (!json_is_integer(id) || !ch || !has_str(ev, "Provider_Name") || !has_str(ev, "Computer"))
                st->missing++;
            else if (strcmp(ch, "Security") == 0)
                st->security += json_integer_value(id) >= 4624 &&
                                (has_str(ev, "TargetUserName") || has_str(ev, "NewProcessName"));
            else if (strcmp(ch, "Microsoft-Windows-Sysmon/Operational") != 0 ||
                     !has_str(ev, "UtcTime") || !has_str(ev, "ProcessGuid") ||
                     !json_is_integer(json_object_get(ev, "ProcessId")) || !has_str(ev, "Image"))
                st->missing++;
            else if (json_integer_value(id) == 1) {
                static const char *const keys[] = { "CommandLine", "CurrentDirectory", "User", "LogonId",
                    "IntegrityLevel", "Hashes", "ParentImage", "ParentCommandLine",
                    "OriginalFileName", "Product", "Company", "Description" };
                size_t k = 0;

                st->sysmon1++;
                while (k < sizeof(keys) / sizeof(keys[0]) && has_str(ev, keys[k]))
                    k++;
                st->sysmon1_ok += k == sizeof(keys) / sizeof(keys[0]) &&
                                  strncmp(json_string_value(json_object_get(ev, "Hashes")),
                                          "SHA1=", 5) == 0 &&
                                  strstr(json_string_value(json_object_get(ev, "Image")), ":\\");
            }
        } else if (strcmp(schema, "linux") == 0) {
            if (has_str(ev, "type"))
                st->auditd += has_str(ev, "msg");
            else if (json_integer_value(json_object_get(ev, "EventID")) == 1 &&
                     strcmp(json_string_value(json_object_get(ev, "Channel")), "Linux-Sysmon/Operational") == 0 &&
                     has_str(ev, "Image") && has_str(ev, "CommandLine") && has_str(ev, "ParentImage") &&
                     has_str(ev, "User") && has_str(ev, "CurrentDirectory"))
                st->lsysmon++;
            else
                st->missing++;
        } else if (!has_str(ev, "host") || !has_str(ev, "event_type")) {
            st->missing++;
        }
        json_decref(ev);
    }
    kta_buf_free(&b);
}

/* Two generators with one seed give the same bytes; another seed does not. */
static void determinism(const char *schema)
{
    struct kta_gen a, b, c;
    struct kta_buf x = { 0 }, y = { 0 }, z = { 0 };

    kta_gen_init(&a, 42, 0.05);
    kta_gen_init(&b, 42, 0.05);
    kta_gen_init(&c, 43, 0.05);
    kta_gen_schema(&a, schema);
    kta_gen_schema(&b, schema);
    kta_gen_schema(&c, schema);
    for (int i = 0; i < 1000; i++) {
        kta_gen_event(&a, &x);
        kta_gen_event(&b, &y);
        kta_gen_event(&c, &z);
    }
    CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
    CHECK(x.len != z.len || memcmp(x.data, z.data, x.len) != 0);
    kta_buf_free(&x);
    kta_buf_free(&y);
    kta_buf_free(&z);
}


/* ---- kta_rule_samples ---------------------------------------------------- */

/* Every sample of a rule as "FIELD SHAPE VALUE" lines (field "-" for a
 * keyword; shape = ^ $ * for exact, prefix, suffix, contains). */
struct collected {
    char   text[2048];
    size_t len;
    /* and in the generator's terms, for kta_gen_rules */
    struct kta_gen_field f[16];
    char   store[2048];
    size_t nf, used;
};

static void collect(void *opaque, const char *field, const char *value, size_t len,
                    enum kta_sample_shape shape)
{
    static const char shapes[] = "=^$*";
    struct collected *c = opaque;
    int n = snprintf(c->text + c->len, sizeof(c->text) - c->len, "%s %c %.*s\n",
                     field ? field : "-", shapes[shape], (int)len, value);

    c->len += (size_t)n;
    if (c->nf < 16 && c->used + len + (field ? strlen(field) : 0) + 2 < sizeof(c->store)) {
        struct kta_gen_field *f = &c->f[c->nf++];

        f->value = memcpy(c->store + c->used, value, len);
        c->store[c->used + len] = '\0';
        c->used += len + 1;
        f->name = NULL;
        if (field) {
            f->name = strcpy(c->store + c->used, field);   /* fits: checked above */
            c->used += strlen(field) + 1;
        }
        f->shape = shape == KTA_SAMPLE_PREFIX ? KTA_GEN_PREFIX : shape == KTA_SAMPLE_SUFFIX ? KTA_GEN_SUFFIX :
                   shape == KTA_SAMPLE_CONTAINS ? KTA_GEN_CONTAINS : KTA_GEN_EXACT;
    }
}

#define RULE_HEAD(id) "---\nid: " id "\ntitle: t\nlevel: high\n" \
    "logsource: {product: windows, category: process_creation}\n"

static const char samples_yaml[] =
    RULE_HEAD("plain")
    "detection:\n"
    "  selection:\n"
    "    Image|endswith: '\\certutil.exe'\n"
    "    CommandLine|contains: ['-urlcache', 'verifyctl']\n"
    "    User: SYSTEM\n"
    "    Tool|cased: MiXeD\n"
    "  condition: selection\n"
    RULE_HEAD("and-not")
    "detection:\n"
    "  sel_img:\n"
    "    - Image|startswith: 'C:\\Temp\\'\n"
    "    - OriginalFileName: evil.exe\n"
    "  sel_cli:\n"
    "    CommandLine|contains|all: [' -a ', ' -b ']\n"
    "  filter:\n"
    "    ParentImage: x.exe\n"
    "  condition: sel_img and sel_cli and not filter\n"
    RULE_HEAD("one-of")
    "detection:\n"
    "  sel_re:\n"
    "    CommandLine|re: 'a.*b'\n"
    "  sel_wild:\n"
    "    Image: 'C:\\Users*evil?.exe'\n"
    "    CommandLine|windash|contains: '-enc'\n"
    "    DestinationIp|cidr: 10.1.0.0/16\n"
    "    Hashes|exists: true\n"
    "    Size|gt: 10\n"
    "  condition: 1 of sel_*\n"
    RULE_HEAD("keywords")
    "detection:\n"
    "  keywords: [mimikatz, sekurlsa]\n"
    "  condition: keywords\n"
    RULE_HEAD("none")
    "detection:\n"
    "  selection:\n"
    "    CommandLine|re: 'x'\n"
    "  condition: not selection\n";

static void rule_samples(void)
{
    static const char *const want[] = {
        "Image $ \\certutil.exe\nCommandLine * -urlcache\nUser = system\nTool = MiXeD\n",
        "Image ^ c:\\temp\\\nCommandLine *  -a \nCommandLine *  -b \n",
        "Image = c:\\usersevilx.exe\nCommandLine * -enc\nDestinationIp = 10.1.0.1\nHashes * \n",
        "- * mimikatz\n",
        "",
    };
    static const char fieldmap[] = "fields:\n  Image: [process.executable]\n  User: [user.name]\n";
    char err[512], path[] = "/tmp/kta-test-gen-XXXXXX";
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs;
    int fd;

    /* The rule's own field names, also under a field map that renames
     * them (the compiled paths are the map's). */
    fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, fieldmap, sizeof(fieldmap) - 1) == (ssize_t)sizeof(fieldmap) - 1);
    close(fd);
    opts.fieldmap = path;
    rs = kta_rules_load_string("t.yml", samples_yaml, strlen(samples_yaml), &opts, NULL, err, sizeof(err));
    unlink(path);
    if (!rs)
        fprintf(stderr, "%s\n", err);
    CHECK(rs != NULL);
    CHECK_INT(kta_ruleset_count(rs), 5);
    for (size_t i = 0; rs && i < kta_ruleset_count(rs); i++) {
        struct collected c = { .len = 0 };
        size_t n = kta_rule_samples(kta_ruleset_rule(rs, i), collect, &c);

        c.text[c.len] = '\0';
        CHECK_STR(c.text, want[i]);
        CHECK_INT(kta_rule_samples(kta_ruleset_rule(rs, i), NULL, NULL), n);
    }
    CHECK_STR(kta_rule_logsource(kta_ruleset_rule(rs, 0)), "product=windows category=process_creation");
    kta_ruleset_decref(rs);
}

/* ---- kta_gen_rules: events that trigger the rules ------------------------- */

static const char trigger_yaml[] =
    "---\nid: proc\ntitle: t\nlevel: high\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel_img: {Image|endswith: '\\certutil.exe'}\n"
    "  sel_cli: {CommandLine|contains|all: [' -urlcache ', ' -f ']}\n"
    "  condition: all of sel_*\n"
    "---\nid: reg\ntitle: t\nlevel: high\n"
    "logsource: {product: windows, category: registry_set}\n"
    "detection:\n"
    "  selection:\n"
    "    TargetObject|contains: '\\CurrentVersion\\Run\\'\n"
    "    TargetObject|endswith: '\\Updater'\n"
    "    Details|startswith: 'C:\\Users\\Public\\'\n"
    "  condition: selection\n"
    "---\nid: sec\ntitle: t\nlevel: high\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  selection: {EventID: 4698, TaskName|contains: 'Updater', LogonType: 3}\n"
    "  condition: selection\n"
    "---\nid: dns\ntitle: t\nlevel: high\n"
    "logsource: {product: windows, category: dns_query}\n"
    "detection:\n"
    "  selection: {QueryName|endswith: '.ngrok-free.app', \"User\": \"{u}\"}\n"
    "  condition: selection\n"
    "---\nid: ps\ntitle: t\nlevel: high\n"
    "logsource: {product: windows, category: ps_script}\n"
    "detection:\n"
    "  selection: {ScriptBlockText|contains: 'Invoke-Mimikatz'}\n"
    "  condition: selection\n";

static void count_hit(void *opaque, const struct kta_rule *r)
{
    (void)r;
    (*(size_t *)opaque)++;
}

static void trigger(void)
{
    struct kta_gen_rule rules[8];
    struct collected c[8];
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_buf b = { 0 };
    struct kta_ruleset *rs;
    struct kta_gen g;
    char err[512];
    size_t n, evil = 0, hit = 0, per_rule[8] = { 0 };
    static const int ids[] = { 1, 13, 4698, 22, 4104 };

    rs = kta_rules_load_string("t.yml", trigger_yaml, strlen(trigger_yaml), NULL, NULL, err, sizeof(err));
    if (!rs)
        fprintf(stderr, "%s\n", err);
    CHECK(rs != NULL);
    n = kta_ruleset_count(rs);
    CHECK_INT(n, 5);
    for (size_t i = 0; i < n; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        kta_rule_samples(kta_ruleset_rule(rs, i), collect, &c[i]);
        rules[i] = (struct kta_gen_rule){ kta_rule_logsource(kta_ruleset_rule(rs, i)), c[i].f, c[i].nf };
        CHECK(kta_gen_fits(KTA_GEN_SYSMON, rules[i].logsource));
    }
    kta_gen_init(&g, 11, 0.5);
    kta_gen_schema(&g, "sysmon");
    kta_gen_rules(&g, rules, n);
    for (int i = 0; i < 400; i++) {
        size_t hits = 0;
        int is_evil;
        json_t *ev;

        kta_buf_reset(&b);
        is_evil = kta_gen_event(&g, &b);
        ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        CHECK(json_is_object(ev));
        kta_eval(rs, ctx, ev, count_hit, &hits);
        if (is_evil) {
            /* the rules are taken in turn: every one before any repeats */
            size_t k;
            int id = (int)json_integer_value(json_object_get(ev, "EventID"));

            for (k = 0; k < n && id != ids[k]; k++)
                ;
            if (k < n && evil < n)
                CHECK_INT(per_rule[k], 0);
            if (k < n)
                per_rule[k]++;
            evil++;
            hit += hits == 1;
            if (hits != 1)
                fprintf(stderr, "no hit: %s\n", b.data);
        } else {
            CHECK_INT(hits, 0);
        }
        json_decref(ev);
    }
    CHECK(evil > 150 && evil < 250);
    CHECK_INT(hit, evil);
    for (size_t k = 0; k < n; k++)
        CHECK(per_rule[k] >= evil / n - 1 && per_rule[k] <= evil / n + 1);
    kta_buf_free(&b);
    kta_eval_ctx_free(ctx);
    kta_ruleset_decref(rs);

    /* which log sources each schema generates */
    CHECK(kta_gen_fits(KTA_GEN_SYSMON, "product=windows"));
    CHECK(kta_gen_fits(KTA_GEN_SYSMON, "category=image_load product=Windows"));
    CHECK(kta_gen_fits(KTA_GEN_SYSMON, "product=windows service=system"));
    CHECK(!kta_gen_fits(KTA_GEN_SYSMON, "product=windows service=nosuchservice"));
    CHECK(!kta_gen_fits(KTA_GEN_SYSMON, "product=linux category=process_creation"));
    CHECK(!kta_gen_fits(KTA_GEN_SYSMON, "category=process_creation"));
    CHECK(kta_gen_fits(KTA_GEN_LINUX, "product=linux category=process_creation"));
    CHECK(kta_gen_fits(KTA_GEN_LINUX, "product=linux service=auditd"));
    CHECK(!kta_gen_fits(KTA_GEN_LINUX, "product=linux category=nosuchcategory"));
    CHECK(!kta_gen_fits(KTA_GEN_KTA, "product=windows"));
}

static const char linux_yaml[] =
    "---\nid: lproc\ntitle: t\nlevel: high\n"
    "logsource: {product: linux, category: process_creation}\n"
    "detection:\n"
    "  selection: {Image|endswith: '/nc', CommandLine|contains: ' -e '}\n"
    "  condition: selection\n"
    "---\nid: laudit\ntitle: t\nlevel: high\n"
    "logsource: {product: linux, service: auditd}\n"
    "detection:\n"
    "  selection: {type: EXECVE, a0: chattr, a1|startswith: '-i'}\n"
    "  condition: selection\n"
    "---\nid: lsyslog\ntitle: t\nlevel: high\n"
    "logsource: {product: linux, service: sshd}\n"
    "detection:\n"
    "  keywords: ['Accepted publickey for root']\n"
    "  condition: keywords\n";

static void trigger_linux(void)
{
    struct kta_gen_rule rules[4];
    struct collected c[4];
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_buf b = { 0 };
    struct kta_ruleset *rs;
    struct kta_gen g;
    char err[512];
    size_t n, evil = 0, hit = 0;

    rs = kta_rules_load_string("t.yml", linux_yaml, strlen(linux_yaml), NULL, NULL, err, sizeof(err));
    CHECK(rs != NULL);
    n = kta_ruleset_count(rs);
    for (size_t i = 0; i < n; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        kta_rule_samples(kta_ruleset_rule(rs, i), collect, &c[i]);
        rules[i] = (struct kta_gen_rule){ kta_rule_logsource(kta_ruleset_rule(rs, i)), c[i].f, c[i].nf };
        CHECK(kta_gen_fits(KTA_GEN_LINUX, rules[i].logsource));
    }
    kta_gen_init(&g, 12, 1);
    kta_gen_schema(&g, "linux");
    kta_gen_rules(&g, rules, n);
    for (int i = 0; i < 60; i++) {
        size_t hits = 0;
        json_t *ev;

        kta_buf_reset(&b);
        evil += (size_t)kta_gen_event(&g, &b);
        ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        CHECK(json_is_object(ev));
        kta_eval(rs, ctx, ev, count_hit, &hits);
        hit += hits == 1;
        if (hits != 1)
            fprintf(stderr, "no hit: %s\n", b.data);
        json_decref(ev);
    }
    CHECK_INT(evil, 60);
    CHECK_INT(hit, 60);
    kta_buf_free(&b);
    kta_eval_ctx_free(ctx);
    kta_ruleset_decref(rs);
}

int main(void)
{
    struct stats st;
    struct kta_gen g;

    kta_gen_init(&g, 1, 0);
    CHECK_INT(kta_gen_schema(&g, "windows"), -1);
    CHECK_INT(g.schema, KTA_GEN_KTA);
    CHECK_INT(kta_gen_schema(&g, "linux"), 0);
    CHECK_INT(g.schema, KTA_GEN_LINUX);

    determinism("kta");
    determinism("sysmon");
    determinism("linux");

    /* kta: the ~200-byte events of old, unchanged: seed 1 starts so */
    {
        struct kta_buf b = { 0 };

        kta_gen_init(&g, 1, 0.01);
        kta_gen_event(&g, &b);
        CHECK(strncmp(b.data, "{\"host\":\"endpoint", 17) == 0);
        kta_buf_free(&b);
    }
    run("kta", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.bytes / st.n > 120 && st.bytes / st.n < 300);

    run("sysmon", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.sysmon1 > EVENTS / 10);
    CHECK_INT(st.sysmon1_ok, st.sysmon1);
    CHECK(st.security > EVENTS / 50);
    CHECK(st.bytes / st.n > 650 && st.bytes / st.n < 1100);
    CHECK(st.evil > 10 && st.evil < 80);     /* 1% of 4000 = 40 */

    run("sysmon", 0.25, 8, &st);
    CHECK_INT(st.bad, 0);
    CHECK(st.evil > 850 && st.evil < 1150);  /* 1000 expected */

    run("linux", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.auditd > EVENTS / 3 && st.lsysmon > EVENTS / 5);
    CHECK(st.bytes / st.n > 250 && st.bytes / st.n < 800);
    CHECK(st.evil > 10 && st.evil < 80);

    run("linux", 1, 9, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.evil, EVENTS);

    /* samples: laid over process creation events, replacing fields of the
     * same name and adding the others, never repeating a key */
    {
        static const char *const s0[] = { "CommandLine", "evil \"quoted\" C:\\x", "Extra", "1", NULL };
        static const char *const *const samples[] = { s0 };
        struct kta_buf b = { 0 };
        size_t seen = 0;

        kta_gen_init(&g, 3, 1);
        kta_gen_schema(&g, "sysmon");
        kta_gen_samples(&g, samples, 1);
        for (int i = 0; i < 200; i++) {
            json_t *ev;

            kta_buf_reset(&b);
            kta_gen_event(&g, &b);
            ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
            CHECK(json_is_object(ev));
            if (json_object_get(ev, "Extra")) {
                seen++;
                CHECK_STR(json_string_value(json_object_get(ev, "CommandLine")), "evil \"quoted\" C:\\x");
                CHECK_INT(json_integer_value(json_object_get(ev, "EventID")), 1);
            }
            json_decref(ev);
        }
        CHECK(seen > 60 && seen < 140);   /* half of the malicious events */
        kta_buf_free(&b);
    }
    rule_samples();
    trigger();
    trigger_linux();
    return tap_done();
}
