/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for correlate.c: event times, keying, group bounds, bad
 * inputs and the correlation hit JSON. */
#include "kta/correlate.h"
#include "kta/hit.h"
#include "kta/rules.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static const char rules[] =
    "title: base\nid: base\ndetection:\n  sel: {event: x}\n"
    "---\n"
    "title: Two\nid: two\nlevel: high\ntags: [t1]\ncorrelation:\n  type: event_count\n"
    "  rules: [base]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2}\n";

struct got {
    int            hits;
    struct kta_buf last;
};

static void on_hit(void *opaque, const struct kta_corr_hit *h)
{
    struct got *g = opaque;

    g->hits++;
    kta_buf_reset(&g->last);
    kta_hit_encode_correlation(&g->last, h, "T", NULL);
}

/* Keys one event of user u at time t (ms) from line `line` and applies it. */
static void feed(struct kta_corr *cs, const struct kta_ruleset *rs, const char *u, int64_t t,
                 long line, struct got *g)
{
    json_t *ev = json_pack("{s:s,s:s}", "event", "x", "user", u);
    struct kta_hit_source src = { .file = "f", .line = line, .timestamp = -1 };
    struct kta_buf in = { 0 };

    CHECK_INT(kta_corr_key(rs, 0, ev, t, &src, &in), 1);
    CHECK(in.len > 0 && in.data[in.len - 1] == '\n');
    CHECK_INT(kta_corr_apply(cs, in.data, in.len, on_hit, g), 0);
    kta_buf_free(&in);
    json_decref(ev);
}

int main(void)
{
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("t.yml", rules, sizeof(rules) - 1, NULL, &st,
                                                   err, sizeof(err));
    struct kta_corr_opts o = { .max_groups = 2, .max_events = 3 };
    struct kta_corr_stats cst;
    struct kta_corr *cs;
    struct got g = { 0 };
    json_t *ev;

    CHECK(rs != NULL);
    CHECK_INT(kta_ruleset_count(rs), 1);
    CHECK_INT(kta_ruleset_ncorr(rs), 1);
    CHECK_INT(st.correlations, 1);
    CHECK_INT(kta_ruleset_rule_generates(rs, 0), 0);

    /* Event times. */
    ev = json_loads("{\"@timestamp\":\"2026-11-27T07:25:10.123Z\",\"n\":1795764310,"
                    "\"m\":1795764310123,\"o\":\"2026-11-27T08:25:10.123+01:00\",\"bad\":\"x\"}",
                    0, NULL);
    CHECK_INT(kta_corr_event_time(ev, NULL, -1), 1795764310123LL);
    {
        const char *n[] = { "n", NULL }, *m[] = { "m", NULL }, *o2[] = { "o", NULL };
        const char *bad[] = { "bad", "nosuch", NULL };

        CHECK_INT(kta_corr_event_time(ev, n, -1), 1795764310000LL);
        CHECK_INT(kta_corr_event_time(ev, m, -1), 1795764310123LL);
        CHECK_INT(kta_corr_event_time(ev, o2, -1), 1795764310123LL);
        CHECK_INT(kta_corr_event_time(ev, bad, 42), 42);
        CHECK_INT(kta_corr_event_time(ev, bad, -1), -1);
    }
    json_decref(ev);

    /* A hit at the second event of a group, with its JSON. */
    cs = kta_corr_new(rs, &o);
    feed(cs, rs, "bob", 0, 1, &g);
    feed(cs, rs, "bob", 60000, 2, &g);     /* exactly timespan later: inside */
    CHECK_INT(g.hits, 1);
    CHECK_STR(g.last.data,
              "{\"rule\":{\"id\":\"two\",\"title\":\"Two\",\"level\":\"high\",\"tags\":[\"t1\"]},"
              "\"correlation\":{\"type\":\"event_count\",\"group\":{\"user\":\"bob\"},\"count\":2,"
              "\"first\":\"1970-01-01T00:00:00.000Z\",\"last\":\"1970-01-01T00:01:00.000Z\","
              "\"sources\":[{\"file\":\"f\",\"line\":1},{\"file\":\"f\",\"line\":2}],"
              "\"sources_total\":2},\"source\":{\"file\":\"f\",\"line\":2},\"detected_at\":\"T\"}");
    {
        struct kta_buf line = { 0 };
        struct kta_corr_hit h = { 0 };
        json_t *grp = json_pack("{s:s}", "user", "bob");

        h.c = kta_ruleset_corr(rs, 0);
        h.group = grp;
        h.count = 2;
        kta_hit_correlation_line(&line, &h);
        CHECK_STR(line.data, "[CORRELATION] Rule: two | Severity: high | Group: user=bob | "
                             "Count: 2\n");
        kta_buf_free(&line);
        json_decref(grp);
    }

    /* The group bound: a third group evicts the idlest. */
    feed(cs, rs, "amy", 70000, 3, &g);
    feed(cs, rs, "cat", 80000, 4, &g);
    kta_corr_get_stats(cs, &cst);
    CHECK_INT(cst.groups, 2);
    CHECK_INT(cst.evicted, 1);
    CHECK_INT(cst.hits, 1);

    /* Inputs that do not decode are refused and counted, never applied. */
    CHECK_INT(kta_corr_apply(cs, "{", 1, on_hit, &g), -1);
    CHECK_INT(kta_corr_apply(cs, "{\"c\":\"two\",\"ci\":5,\"k\":0,\"g\":[1],\"t\":0,\"s\":{}}", 46,
                             on_hit, &g), -1);
    CHECK_INT(kta_corr_apply(cs, "{\"c\":\"other\",\"ci\":0,\"k\":0,\"g\":[1],\"t\":0,\"s\":{}}",
                             48, on_hit, &g), -1);
    kta_corr_get_stats(cs, &cst);
    CHECK_INT(cst.bad, 3);
    kta_corr_flush(cs, on_hit, &g);
    CHECK_INT(g.hits, 1);
    kta_corr_free(cs);

    /* The per-group event bound drops the oldest events. */
    {
        static const char r2[] =
            "title: base\nid: base\ndetection:\n  sel: {event: x}\n---\n"
            "title: Few\nid: few\ncorrelation:\n  type: event_count\n  rules: [base]\n"
            "  group-by: [user]\n  timespan: 1h\n  condition: {lt: 100}\n";
        struct kta_ruleset *rs2 = kta_rules_load_string("t2.yml", r2, sizeof(r2) - 1, NULL, &st,
                                                        err, sizeof(err));

        CHECK(rs2 != NULL);
        cs = kta_corr_new(rs2, &o);
        for (int i = 0; i < 5; i++)
            feed(cs, rs2, "bob", i * 1000, i + 1, &g);
        kta_corr_get_stats(cs, &cst);
        CHECK_INT(cst.dropped, 2);
        CHECK_INT(g.hits, 1);
        kta_corr_flush(cs, on_hit, &g);    /* lt decided at the end */
        CHECK_INT(g.hits, 2);
        CHECK(strstr(g.last.data, "\"count\":3,") != NULL);
        CHECK(strstr(g.last.data, "\"sources_total\":3}") != NULL);
        kta_corr_free(cs);
        kta_ruleset_decref(rs2);
    }
    kta_buf_free(&g.last);
    kta_ruleset_decref(rs);
    return tap_done();
}
