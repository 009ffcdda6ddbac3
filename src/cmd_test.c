/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_test: `kta test` — the test cases rules carry in their `tests:` key
 * (docs/rules.md, Writing and testing rules), run through the engine kta
 * run's workers and `kta eval` use: every event goes through
 * kta_record_eval (record.c), and a correlation case's base-rule matches
 * are keyed (kta_corr_key) and applied (kta_corr_apply) as `kta eval`
 * does, into a fresh struct kta_corr per case.  It holds no matching
 * logic of its own: it only compares what the engine did with what the
 * case expects.
 *
 * Prints one line per failing case on stdout ("FILE:LINE: rule ID:
 * what"), a summary last, and with --junit writes the same results as
 * JUnit XML.  Never touches Kafka.  Main thread only.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/correlate.h"
#include "kta/record.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TEST_MAX_EVENT (16u << 20)

/* One rule file's results, for its JUnit testsuite. */
struct suite {
    const char    *file;
    size_t         tests, failures, skipped;
    double         secs;
    struct kta_buf xml;     /* its <testcase> elements */
};

struct tester {
    const struct kta_ruleset *rs;
    struct kta_eval_ctx      *ctx;
    struct kta_buf            hit, ckey, tail, why;
    const char *const        *time_fields;   /* NULL: the defaults */
    int                       verbose, junit;
    size_t                    cases, passed, failed, skipped, rules, untested, lacking;
    struct suite             *suites;
    size_t                    nsuites;
};

/* What the engine did with one case's events. */
struct outcome {
    struct tester          *t;
    size_t                  rule;       /* detection cases: the rule's index */
    const struct kta_corrdef *corr;     /* correlation cases: the correlation */
    int                     matched;
    long                    cur;        /* the event being fed; -1: at the end */
    json_t                 *hits;       /* [{"group", "count", "at"}...] of corr */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- running a case ------------------------------------------------------ */

/* Thread: main (kta_record_eval's callback). */
static int on_hit(void *opaque, struct kta_record *rec, const struct kta_rule *r)
{
    struct outcome *o = opaque;
    const struct kta_ruleset *rs = o->t->rs;
    size_t idx = kta_rule_index(r), ncorr;
    json_t *ev;

    if (!o->corr) {
        o->matched |= idx == o->rule;
        return 0;
    }
    /* As kta eval keys a base rule's match: parse, event time, inputs. */
    if (!kta_ruleset_rule_corrs(rs, idx, &ncorr))
        return 0;
    ev = json_loadb(rec->data, rec->len, 0, NULL);
    kta_corr_key(rs, idx, ev, kta_corr_event_time(ev, o->t->time_fields, rec->src->timestamp),
                 rec->src, &o->t->ckey);
    json_decref(ev);
    return 0;
}

/* Thread: main (kta_corr_apply's callback). */
static void on_corr_hit(void *opaque, const struct kta_corr_hit *h)
{
    struct outcome *o = opaque;

    if (h->c != o->corr)
        return;
    json_array_append_new(o->hits, json_pack("{s:O,s:I,s:I}", "group", (json_t *)h->group,
                                             "count", (json_int_t)h->count,
                                             "at", (json_int_t)o->cur));
}

/*
 * Feeds event i of case c through the engine.  Returns 0, or -1 with
 * t->why saying that the event is not a valid record.
 */
static int feed(struct outcome *o, const char *file, const struct kta_rule_test *c, size_t i)
{
    struct tester *t = o->t;
    struct kta_hit_source src = { .file = file, .line = c->event_lines[i], .timestamp = -1 };
    struct kta_record rec = { .data = c->events[i], .len = strlen(c->events[i]), .src = &src,
                              .hit = &t->hit, .tail = &t->tail };
    long n;

    kta_buf_reset(&t->ckey);
    n = kta_record_eval(t->rs, t->ctx, TEST_MAX_EVENT, 0, &rec, on_hit, o);
    if (n < 0)
        kta_buf_printf(&t->why, "the event at line %d is not a valid record (%s): %s",
                       c->event_lines[i], kta_event_error_name(rec.err), rec.detail);
    kta_record_done(&rec);
    return n < 0 ? -1 : 0;
}

/* Applies the correlation inputs the last event produced, in order. */
static void apply_inputs(struct kta_corr *cs, struct outcome *o)
{
    const char *p = o->t->ckey.data, *end = p + o->t->ckey.len, *nl;

    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (kta_corr_apply(cs, p, (size_t)(nl - p), on_corr_hit, o) < 0)
            kta_log(KTA_LOG_ERROR, "test: internal: a correlation input did not decode");
    }
}

/* " (at the events of lines 12, 20)": where the hits came. */
static void hit_places(struct kta_buf *why, const json_t *hits, const struct kta_rule_test *c)
{
    size_t i;
    json_t *h;

    if (!json_array_size(hits))
        return;
    kta_buf_appends(why, " (at the event");
    if (json_array_size(hits) > 1)
        kta_buf_appends(why, "s");
    kta_buf_appends(why, " of line");
    if (json_array_size(hits) > 1)
        kta_buf_appends(why, "s");
    json_array_foreach(hits, i, h) {
        json_int_t at = json_integer_value(json_object_get(h, "at"));

        if (at < 0)
            kta_buf_printf(why, "%s end of the events", i ? "," : "");
        else
            kta_buf_printf(why, "%s %d", i ? "," : "", c->event_lines[at]);
    }
    kta_buf_appends(why, ")");
}

static void json_text(struct kta_buf *b, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

    kta_buf_appends(b, s ? s : "?");
    free(s);
}

/* Compares a correlation case's hits with what it expects; t->why gets
 * the first difference.  Returns 1 when they agree. */
static int hits_agree(struct tester *t, const struct kta_rule_test *c, const json_t *got)
{
    size_t n = json_array_size(got);

    if (n != c->nhits) {
        kta_buf_printf(&t->why, "expected %zu hit%s, got %zu", c->nhits,
                       c->nhits == 1 ? "" : "s", n);
        hit_places(&t->why, got, c);
        return 0;
    }
    for (size_t i = 0; c->hits && i < n; i++) {
        const json_t *want = json_array_get(c->hits, i), *have = json_array_get(got, i);
        const json_t *wg = json_object_get(want, "group"), *wc = json_object_get(want, "count");

        if (wg && !json_equal(wg, json_object_get(have, "group"))) {
            kta_buf_printf(&t->why, "hit %zu: expected group ", i + 1);
            json_text(&t->why, wg);
            kta_buf_appends(&t->why, ", got ");
            json_text(&t->why, json_object_get(have, "group"));
            return 0;
        }
        if (wc && json_integer_value(wc) != json_integer_value(json_object_get(have, "count"))) {
            kta_buf_printf(&t->why, "hit %zu: expected count %lld, got %lld", i + 1,
                           (long long)json_integer_value(wc),
                           (long long)json_integer_value(json_object_get(have, "count")));
            return 0;
        }
    }
    return 1;
}

/* Runs one case; returns 1 when it passed, else 0 with t->why set. */
static int run_case(struct tester *t, const char *file, size_t rule,
                    const struct kta_corrdef *corr, const struct kta_rule_test *c)
{
    struct outcome o = { .t = t, .rule = rule, .corr = corr, .cur = 0 };
    struct kta_corr_opts co = { 0 };
    struct kta_corr *cs;
    int ok;

    if (!corr) {
        if (feed(&o, file, c, 0) < 0)
            return 0;
        ok = o.matched == (c->kind == KTA_TEST_MATCH);
        if (!ok)
            kta_buf_appends(&t->why, c->kind == KTA_TEST_MATCH ? "match case did not match" :
                                                                 "no_match case matched");
        return ok;
    }
    cs = kta_corr_new(t->rs, &co);
    o.hits = json_array();
    ok = 1;
    for (size_t i = 0; i < c->nevents && ok; i++) {
        o.cur = (long)i;
        if (feed(&o, file, c, i) < 0)
            ok = 0;
        else
            apply_inputs(cs, &o);
    }
    if (ok) {
        /* The end of the events closes every window, as the end of kta
         * eval's input does. */
        o.cur = -1;
        kta_corr_flush(cs, on_corr_hit, &o);
        ok = hits_agree(t, c, o.hits);
    }
    json_decref(o.hits);
    kta_corr_free(cs);
    return ok;
}

/* ---- reporting ----------------------------------------------------------- */

/* XML 1.0 attribute or text: markup escaped, control characters it cannot
 * hold replaced. */
static void xml_escape(struct kta_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;

        switch (ch) {
        case '&': kta_buf_appends(b, "&amp;"); break;
        case '<': kta_buf_appends(b, "&lt;"); break;
        case '>': kta_buf_appends(b, "&gt;"); break;
        case '"': kta_buf_appends(b, "&quot;"); break;
        case '\'': kta_buf_appends(b, "&apos;"); break;
        case '\n': kta_buf_appends(b, "&#10;"); break;
        case '\t': kta_buf_appends(b, "&#9;"); break;
        default:
            if (ch < 0x20)
                kta_buf_append(b, "?", 1);
            else
                kta_buf_append(b, s, 1);
        }
    }
}

static struct suite *suite_of(struct tester *t, const char *file)
{
    for (size_t i = 0; i < t->nsuites; i++)
        if (strcmp(t->suites[i].file, file) == 0)
            return &t->suites[i];
    t->suites = xrealloc(t->suites, (t->nsuites + 1) * sizeof(*t->suites));
    memset(&t->suites[t->nsuites], 0, sizeof(*t->suites));
    t->suites[t->nsuites].file = file;
    return &t->suites[t->nsuites++];
}

static const char *kind_name(enum kta_test_kind k)
{
    return k == KTA_TEST_MATCH ? "match" : k == KTA_TEST_NO_MATCH ? "no_match" : "events";
}

enum verdict { PASSED, FAILED, SKIPPED };

/* Records one result: its line on stdout (failures; all with -v) and its
 * JUnit testcase (a failure's text also lists the case's events, c; NULL:
 * none).  name: "ID[N] KIND". */
static void record(struct tester *t, const char *file, int line, const char *id,
                   const char *name, enum verdict v, const char *why, double secs,
                   const struct kta_rule_test *c)
{
    struct suite *s = suite_of(t, file);

    if (v == FAILED)
        printf("%s:%d: rule %s: %s\n", file, line, id, why);
    else if (t->verbose)
        printf("%s:%d: rule %s: %s%s\n", file, line, id, v == PASSED ? "ok: " : "skipped: ",
               why);
    s->tests++;
    s->secs += secs;
    if (!t->junit)
        return;
    kta_buf_appends(&s->xml, "    <testcase classname=\"");
    xml_escape(&s->xml, file);
    kta_buf_appends(&s->xml, "\" name=\"");
    xml_escape(&s->xml, name);
    kta_buf_printf(&s->xml, "\" file=\"");
    xml_escape(&s->xml, file);
    kta_buf_printf(&s->xml, "\" line=\"%d\" time=\"%.6f\"", line, secs);
    if (v == PASSED) {
        kta_buf_appends(&s->xml, "/>\n");
        return;
    }
    kta_buf_appends(&s->xml, v == FAILED ? ">\n      <failure type=\"kta.test\" message=\"" :
                                           ">\n      <skipped message=\"");
    xml_escape(&s->xml, why);
    if (v == FAILED) {
        kta_buf_appends(&s->xml, "\">");
        {
            char *text = xasprintf("%s:%d: rule %s: %s", file, line, id, why);

            xml_escape(&s->xml, text);
            free(text);
            for (size_t i = 0; c && i < c->nevents; i++) {
                text = xasprintf("\nline %d: %s", c->event_lines[i], c->events[i]);
                xml_escape(&s->xml, text);
                free(text);
            }
        }
        kta_buf_appends(&s->xml, "</failure>\n    </testcase>\n");
    } else {
        kta_buf_appends(&s->xml, "\"/>\n    </testcase>\n");
    }
}

/* Runs every case of one rule (corr NULL) or correlation rule. */
static void run_rule(struct tester *t, const char *file, int line, const char *id, size_t rule,
                     const struct kta_corrdef *corr, const struct kta_rule_test *cases,
                     size_t ncases, int enabled, int require)
{
    size_t want_a = 0, want_b = 0;   /* match / no_match, or hits / no hits */

    if (ncases)
        t->rules++;
    else
        t->untested++;
    for (size_t i = 0; i < ncases; i++) {
        const struct kta_rule_test *c = &cases[i];
        char *name = xasprintf("%s[%zu] %s", id, i + 1, kind_name(c->kind));
        double t0 = now_s();
        enum verdict v;

        if (corr ? c->nhits > 0 : c->kind == KTA_TEST_MATCH)
            want_a++;
        else
            want_b++;
        kta_buf_reset(&t->why);
        t->cases++;
        if (!enabled) {
            v = SKIPPED;
            kta_buf_appends(&t->why, "the rule is disabled (enabled: false)");
            t->skipped++;
            suite_of(t, file)->skipped++;
        } else if (run_case(t, file, rule, corr, c)) {
            v = PASSED;
            kta_buf_appends(&t->why, kind_name(c->kind));
            t->passed++;
        } else {
            v = FAILED;
            t->failed++;
            suite_of(t, file)->failures++;
        }
        record(t, file, c->line, id, name, v, t->why.data, now_s() - t0, c);
        free(name);
    }
    /* A disabled rule's cases are skipped, so they are not required. */
    if (require && enabled && (!want_a || !want_b)) {
        char *name = xasprintf("%s tests", id);

        kta_buf_reset(&t->why);
        if (corr)
            kta_buf_printf(&t->why, "no case expecting %s (--require-tests)",
                           !want_a && !want_b ? "hits, none expecting no hit" :
                           !want_a ? "hits" : "no hit");
        else
            kta_buf_printf(&t->why, "no %s case (--require-tests)",
                           !want_a && !want_b ? "match case and no no_match" :
                           !want_a ? "match" : "no_match");
        t->lacking++;
        suite_of(t, file)->failures++;
        record(t, file, line, id, name, FAILED, t->why.data, 0.0, NULL);
        free(name);
    }
}

static int write_junit(const struct tester *t, FILE *fp)
{
    size_t tests = 0, failures = 0, skipped = 0;
    double secs = 0;

    for (size_t i = 0; i < t->nsuites; i++) {
        tests += t->suites[i].tests;
        failures += t->suites[i].failures;
        skipped += t->suites[i].skipped;
        secs += t->suites[i].secs;
    }
    fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<testsuites name=\"kta test\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
            "skipped=\"%zu\" time=\"%.6f\">\n", tests, failures, skipped, secs);
    for (size_t i = 0; i < t->nsuites; i++) {
        const struct suite *s = &t->suites[i];
        struct kta_buf name = { 0 };

        xml_escape(&name, s->file);
        fprintf(fp, "  <testsuite name=\"%s\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                "skipped=\"%zu\" time=\"%.6f\">\n", name.data, s->tests, s->failures,
                s->skipped, s->secs);
        if (s->xml.len)
            fwrite(s->xml.data, 1, s->xml.len, fp);
        fputs("  </testsuite>\n", fp);
        kta_buf_free(&name);
    }
    fputs("</testsuites>\n", fp);
    return fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}

int kta_cmd_test(int argc, char **argv)
{
    struct tester t = { 0 };
    struct kta_ruleset *rs = NULL;
    struct kta_cli cli;
    const char *junit = NULL;
    FILE *jfp = NULL;
    int rc = 0, require;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    if ((rc = kta_cli_rules_operands(&cli, 0)) != 0)
        goto done;
    require = cli.given[KTA_O_REQUIRE_TESTS] > 0;
    t.verbose = cli.given[KTA_O_VERBOSE] > 0;
    if (cli.given[KTA_O_JUNIT]) {
        junit = cli.val[KTA_O_JUNIT];
        /* Opened first, so that a bad path fails before the work. */
        if (!(jfp = fopen(junit, "w"))) {
            kta_log(KTA_LOG_ERROR, "test: --junit %s: %s", junit, strerror(errno));
            rc = KTA_EXIT_FAILURE;
            goto done;
        }
        t.junit = 1;
    }
    if (!(rs = kta_cli_load_rules(&cli, NULL))) {
        rc = KTA_EXIT_USAGE;
        /* No results: leave no file that a CI job could take for them. */
        if (jfp) {
            fclose(jfp);
            jfp = NULL;
            unlink(junit);
        }
        goto done;
    }
    t.rs = rs;
    if (cli.cfg->ncorr_time_fields)   /* correlation.time_field (NULL-terminated), as kta run */
        t.time_fields = (const char **)cli.cfg->corr_time_fields;
    t.ctx = kta_eval_ctx_new();
    kta_hit_tail(&t.tail, kta_ruleset_version(rs), NULL);
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        const struct kta_rule_test *cases;
        size_t n;

        cases = kta_rule_tests(r, &n);
        run_rule(&t, kta_rule_file(r), kta_rule_line(r), kta_rule_id(r), i, NULL, cases, n,
                 kta_rule_enabled(r), require);
    }
    for (size_t i = 0; i < kta_ruleset_ncorr_rules(rs); i++) {
        const struct kta_corrdef *c = kta_ruleset_corr(rs, i);

        run_rule(&t, c->file, c->line, c->id, 0, c, c->tests, c->ntests, 1, require);
    }
    if (!cli.given[KTA_O_QUIET]) {
        printf("kta test: %zu case%s, %zu passed, %zu failed in %zu rule%s", t.cases,
               t.cases == 1 ? "" : "s", t.passed, t.failed, t.rules, t.rules == 1 ? "" : "s");
        if (t.skipped)
            printf("; %zu skipped (disabled rules)", t.skipped);
        if (t.untested)
            printf("; %zu rule%s without cases", t.untested, t.untested == 1 ? "" : "s");
        if (t.lacking)
            printf("; %zu rule%s lacking cases (--require-tests)", t.lacking,
                   t.lacking == 1 ? "" : "s");
        printf("\n");
    }
    rc = t.failed || t.lacking ? KTA_EXIT_FAILURE : KTA_EXIT_OK;
    if (jfp && write_junit(&t, jfp) < 0) {
        kta_log(KTA_LOG_ERROR, "test: --junit %s: cannot write: %s", junit, strerror(errno));
        rc = KTA_EXIT_FAILURE;
    }
    if (fflush(stdout) != 0) {
        kta_log(KTA_LOG_ERROR, "test: cannot write to stdout: %s", strerror(errno));
        rc = KTA_EXIT_FAILURE;
    }
done:
    if (jfp && fclose(jfp) != 0 && rc == KTA_EXIT_OK) {
        kta_log(KTA_LOG_ERROR, "test: --junit %s: cannot write: %s", junit, strerror(errno));
        rc = KTA_EXIT_FAILURE;
    }
    for (size_t i = 0; i < t.nsuites; i++)
        kta_buf_free(&t.suites[i].xml);
    free(t.suites);
    kta_buf_free(&t.hit);
    kta_buf_free(&t.ckey);
    kta_buf_free(&t.tail);
    kta_buf_free(&t.why);
    kta_eval_ctx_free(t.ctx);
    kta_ruleset_decref(rs);
    kta_cli_free(&cli);
    return rc;
}
