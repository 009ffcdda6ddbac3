/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hostile rules: regexes with catastrophic backtracking against events
 * built to trigger it must cost bounded time (PCRE2's match, depth and
 * heap limits), count an error on their rule (kta_rule_errors) and leave
 * every other rule evaluated; YAML alias bombs, rule files over 4 MiB and
 * nesting over 64 levels must be refused at load with a message that says
 * so (docs/rules.md §1).
 */
#include "rules_int.h"
#include "tap.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* Rules in load order; the first and the last are plain and match. */
static const char hostile_yaml[] =
    "rules:\n"
    "  - id: before\n"
    "    title: plain rule before\n"
    "    detection: {s: {kind: probe}}\n"
    "  - id: nested-plus\n"
    "    title: (a+)+$\n"
    "    detection: {s: {msg|re: '(a+)+$'}}\n"
    "  - id: alternation\n"
    "    title: (a|aa)+b\n"
    "    detection: {s: {msg|re: '(a|aa)+b'}}\n"
    "  - id: star-group\n"
    "    title: (.*a){20}\n"
    "    detection: {s: {msg|re: '(.*a){20}!'}}\n"
    "  - id: wildcards\n"
    "    title: many wildcards, compiled to a regex\n"
    "    detection: {s: {msg: '*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b'}}\n"
    "  - id: after\n"
    "    title: plain rule after\n"
    "    detection: {s: {msg|contains: aaaa}}\n";

#define NRULES 6

struct hits {
    const char *id[NRULES + 1];
    size_t      n;
};

static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct hits *h = opaque;

    if (h->n < NRULES)
        h->id[h->n] = kta_rule_id(r);
    h->n++;
}

static const struct kta_rule *rule(const struct kta_ruleset *rs, const char *id)
{
    for (size_t i = 0; i < kta_ruleset_count(rs); i++)
        if (strcmp(kta_rule_id(kta_ruleset_rule(rs, i)), id) == 0)
            return kta_ruleset_rule(rs, i);
    return NULL;
}

/* {"kind":"probe","msg":"aaaa...a<tail>"} with n a's.  The tail "cb!"
 * holds each pattern's required last character, so PCRE2's quick "that
 * character is not in the subject" check cannot save it from
 * backtracking, yet no pattern can match. */
static char *adversarial(size_t n, const char *tail)
{
    struct kta_buf b = { 0 };
    char *s;

    kta_buf_appends(&b, "{\"kind\":\"probe\",\"msg\":\"");
    for (size_t i = 0; i < n; i++)
        kta_buf_append(&b, "a", 1);
    kta_buf_appends(&b, tail);
    kta_buf_appends(&b, "\"}");
    s = xstrdup(b.data);
    kta_buf_free(&b);
    return s;
}

static void test_backtracking(void)
{
    struct kta_rules_opts opts = { 0 };
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    static const char *const hostile[] = { "nested-plus", "alternation", "star-group",
                                           "wildcards" };
    struct kta_ruleset *rs;
    char err[512];
    int64_t t0, elapsed;

    rs = kta_rules_load_string("hostile.yml", hostile_yaml, sizeof(hostile_yaml) - 1, &opts,
                               NULL, err, sizeof(err));
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "%s\n", err);
        kta_eval_ctx_free(ctx);
        return;
    }
    t0 = kta_now_ms();
    for (int pass = 0; pass < 2; pass++) {
        /* Both entry points: the parsed event, and the worker's raw path
         * (prefilter on), with runs long enough that an unbounded
         * backtracking match would take longer than the universe. */
        char *raw = adversarial(pass ? 20000 : 4000, "cb!");
        json_t *ev = json_loads(raw, 0, NULL);
        struct hits h = { .n = 0 };
        uint64_t before[4];
        enum kta_event_error e;
        char detail[128];
        json_t *evr = NULL;
        long n;

        for (int i = 0; i < 4; i++)
            before[i] = kta_rule_errors(rule(rs, hostile[i]));
        CHECK(ev != NULL);
        if (pass == 0) {
            CHECK_INT(kta_eval(rs, ctx, ev, on_hit, &h), 2);
        } else {
            n = kta_eval_raw(rs, ctx, raw, strlen(raw), 0, on_hit, &h, &evr, &e, detail,
                             sizeof(detail));
            CHECK_INT(n, 2);
            json_decref(evr);
        }
        /* Every rule ran: the plain ones on both sides still hit. */
        CHECK_INT(h.n, 2);
        CHECK_STR(h.n > 0 ? h.id[0] : NULL, "before");
        CHECK_STR(h.n > 1 ? h.id[1] : NULL, "after");
        /* Each hostile rule gave up with an error instead of a verdict. */
        for (int i = 0; i < 4; i++) {
            uint64_t now = kta_rule_errors(rule(rs, hostile[i]));

            if (now != before[i] + 1)
                fprintf(stderr, "pass %d: %s: errors %llu -> %llu\n", pass, hostile[i],
                        (unsigned long long)before[i], (unsigned long long)now);
            CHECK(now == before[i] + 1);
        }
        json_decref(ev);
        free(raw);
    }
    /* A rule that did not hit its limit counts no error. */
    CHECK_INT(kta_rule_errors(rule(rs, "before")), 0);
    CHECK_INT(kta_rule_errors(rule(rs, "after")), 0);
    /* A harmless event costs the hostile rules nothing. */
    {
        json_t *ev = json_loads("{\"kind\":\"probe\",\"msg\":\"aab\"}", 0, NULL);
        struct hits h = { .n = 0 };

        CHECK_INT(kta_eval(rs, ctx, ev, on_hit, &h), 2);
        CHECK_STR(h.n > 1 ? h.id[1] : NULL, "alternation");
        json_decref(ev);
    }
    elapsed = kta_now_ms() - t0;
    /* Generous: the limits make each match cost milliseconds, not years. */
    if (elapsed >= 5000)
        fprintf(stderr, "hostile events took %lld ms\n", (long long)elapsed);
    CHECK(elapsed < 5000);
    kta_ruleset_decref(rs);
    kta_eval_ctx_free(ctx);
}

struct diags {
    size_t n;
    char   first[512];
};

static void on_diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    struct diags *d = opaque;

    if (kind == KTA_DIAG_ERROR && d->n++ == 0)
        snprintf(d->first, sizeof(d->first), "%s", msg);
}

/* Loads yaml; returns 1 when the load failed and errstr holds want. */
static int refused(const char *yaml, size_t len, const char *want)
{
    struct diags d = { 0, "" };
    struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
    struct kta_ruleset *rs;
    char err[512] = "";
    int ok;

    rs = kta_rules_load_string("bomb.yml", yaml, len, &opts, NULL, err, sizeof(err));
    ok = rs == NULL && strstr(err, want) != NULL && d.n > 0;
    if (!ok)
        fprintf(stderr, "want a load error with \"%s\", got %s: %s\n", want,
                rs ? "a ruleset" : "NULL", err);
    kta_ruleset_decref(rs);
    /* With skip_invalid the file still yields nothing usable. */
    opts.skip_invalid = 1;
    rs = kta_rules_load_string("bomb.yml", yaml, len, &opts, NULL, err, sizeof(err));
    if (rs && kta_ruleset_count(rs) != 0)
        ok = 0;
    kta_ruleset_decref(rs);
    return ok;
}

static void test_alias_bombs(void)
{
    static const char laughs[] =
        "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
        "id: lol\ntitle: lol\ndetection: {s: {x: *i}}\n";
    static const char in_rule[] =
        "id: alias\ntitle: t\n"
        "detection:\n  s: &sel {a: 1}\n  t: *sel\n  condition: s and t\n";
    static const char merge[] =
        "base: &base {a: 1}\n"
        "id: m\ntitle: t\ndetection: {s: {<<: *base, b: 2}}\n";

    CHECK(refused(laughs, sizeof(laughs) - 1, "YAML a"));
    CHECK(refused(laughs, sizeof(laughs) - 1, "not allowed"));
    CHECK(refused(in_rule, sizeof(in_rule) - 1, "not allowed"));
    CHECK(refused(merge, sizeof(merge) - 1, "not allowed"));
}

static void test_oversized(void)
{
    size_t n = KTA_RULES_MAX_FILE + 1;
    char *big = xmalloc(n + 1), path[] = "/tmp/kta-hostile-XXXXXX";
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs;
    char err[512] = "";
    FILE *fp;
    int fd;

    /* A valid rule followed by a comment that pushes it over 4 MiB. */
    static const char head[] = "id: big\ntitle: t\ndetection: {s: {a: 1}}\n#";
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'x', n - (sizeof(head) - 1));
    big[n - 1] = '\n';
    big[n] = '\0';
    CHECK(refused(big, n, "larger than 4 MiB"));
    /* Exactly 4 MiB loads. */
    big[KTA_RULES_MAX_FILE - 1] = '\n';
    rs = kta_rules_load_string("big.yml", big, KTA_RULES_MAX_FILE, &opts, NULL, err,
                               sizeof(err));
    CHECK(rs != NULL);
    kta_ruleset_decref(rs);
    big[KTA_RULES_MAX_FILE - 1] = 'x';
    /* And through a file, as kta run reads them. */
    fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        char yml[64];

        fp = fdopen(fd, "w");
        fwrite(big, 1, n, fp);
        fclose(fp);
        snprintf(yml, sizeof(yml), "%s.yml", path);
        CHECK(rename(path, yml) == 0);
        rs = kta_rules_load(yml, &opts, NULL, err, sizeof(err));
        CHECK(rs == NULL);
        if (rs || !strstr(err, "4 MiB"))
            fprintf(stderr, "oversized file: %s\n", err);
        CHECK(strstr(err, "4 MiB") != NULL);
        kta_ruleset_decref(rs);
        unlink(yml);
    }
    free(big);
}

/* depth levels of nested flow sequences under detection.s.x. */
static char *deep_yaml(size_t depth, int block)
{
    struct kta_buf b = { 0 };
    char *s;

    kta_buf_appends(&b, "id: deep\ntitle: t\ndetection:\n  s:\n    x: ");
    if (block) {
        /* Block mappings, each indented one more step. */
        for (size_t i = 0; i < depth; i++) {
            kta_buf_appends(&b, "\n");
            for (size_t j = 0; j < i + 5; j++)
                kta_buf_appends(&b, " ");
            kta_buf_appends(&b, "k:");
        }
        kta_buf_appends(&b, " 1\n");
    } else {
        for (size_t i = 0; i < depth; i++)
            kta_buf_appends(&b, "[");
        for (size_t i = 0; i < depth; i++)
            kta_buf_appends(&b, "]");
        kta_buf_appends(&b, "\n");
    }
    s = xstrdup(b.data);
    kta_buf_free(&b);
    return s;
}

/* Also bounds the time: libyaml's scanner is quadratic in the flow
 * nesting depth, so the loader must stop reading soon after the limit
 * (100,000 levels took half a minute before it did). */
static void *deep_thread(void *arg)
{
    int *ok = arg;
    static const size_t depths[] = { 65, 129, 1000, 100000 };
    int64_t t0 = kta_now_ms();

    *ok = 1;
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        for (int block = 0; block < 2; block++) {
            char *y;

            if (block && depths[i] > 1000)
                continue;   /* block indentation grows quadratically */
            y = deep_yaml(depths[i], block);
            if (!refused(y, strlen(y), "nesting deeper than 64"))
                *ok = 0;
            free(y);
        }
    }
    if (kta_now_ms() - t0 > 2000) {
        fprintf(stderr, "deep rule files took %lld ms\n", (long long)(kta_now_ms() - t0));
        *ok = 0;
    }
    return NULL;
}

static void test_deep(void)
{
    pthread_attr_t attr;
    pthread_t th;
    int ok = 0;

    /* The loader must not recurse per level: run it on a small stack. */
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    CHECK(pthread_create(&th, &attr, deep_thread, &ok) == 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&attr);
    CHECK(ok);
}

int main(void)
{
    kta_log_threshold = KTA_LOG_ERROR;
    test_backtracking();
    test_alias_bombs();
    test_oversized();
    test_deep();
    return tap_done();
}
