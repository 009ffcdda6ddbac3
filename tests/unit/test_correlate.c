/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for correlate.c: event times, keying, group bounds, bad
 * inputs, the correlation hit JSON, and the changelog (changes, restore,
 * replay by seq). */
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


/* ---- changelog ------------------------------------------------------------ */

/* Every correlation type, an lt condition and a chain, over two base rules. */
static const char clrules[] =
    "title: a\nid: a\nname: a\ndetection:\n  sel: {event: a}\n---\n"
    "title: b\nid: b\nname: b\ndetection:\n  sel: {event: b}\n---\n"
    "title: ec\nid: ec\nname: ec\ncorrelation:\n  type: event_count\n  rules: [a]\n"
    "  group-by: [user]\n  timespan: 1m\n  condition: {gte: 3}\n---\n"
    "title: vc\nid: vc\ncorrelation:\n  type: value_count\n  rules: [a, b]\n"
    "  group-by: [user]\n  field: host\n  timespan: 1m\n  condition: {gte: 2}\n---\n"
    "title: tp\nid: tp\ncorrelation:\n  type: temporal\n  rules: [a, b]\n"
    "  group-by: [user]\n  timespan: 1m\n---\n"
    "title: to\nid: to\ncorrelation:\n  type: temporal_ordered\n  rules: [a, b]\n"
    "  group-by: [user]\n  timespan: 30s\n---\n"
    "title: lt\nid: lt\ncorrelation:\n  type: event_count\n  rules: [b]\n"
    "  group-by: [user]\n  timespan: 1m\n  condition: {lt: 2}\n---\n"
    "title: chain\nid: chain\ncorrelation:\n  type: event_count\n  rules: [ec]\n"
    "  group-by: [user]\n  timespan: 10m\n  condition: {gte: 2}\n---\n"
    "title: vs\nid: vs\ncorrelation:\n  type: value_sum\n  rules: [a]\n"
    "  group-by: [user]\n  timespan: 1m\n  condition: {field: bytes, gt: 150}\n---\n"
    "title: va\nid: va\ncorrelation:\n  type: value_avg\n  rules: [b]\n"
    "  group-by: [host]\n  timespan: 1m\n  condition: {field: bytes, gte: 60}\n";

/* A changelog as compaction leaves it: key -> value, last wins. */
struct clmap {
    char  **key, **val;
    size_t  n;
};

static void on_change(void *opaque, const char *key, size_t klen, const char *value, size_t vlen)
{
    struct clmap *m = opaque;
    size_t i;

    CHECK(strlen(key) == klen && (!value || strlen(value) == vlen));
    for (i = 0; i < m->n && strcmp(m->key[i], key) != 0; i++)
        ;
    if (i < m->n) {
        free(m->val[i]);
        if (!value) {
            free(m->key[i]);
            memmove(m->key + i, m->key + i + 1, (m->n - i - 1) * sizeof(*m->key));
            memmove(m->val + i, m->val + i + 1, (m->n - i - 1) * sizeof(*m->val));
            m->n--;
            return;
        }
        m->val[i] = strdup(value);
        return;
    }
    if (!value)
        return;
    m->key = realloc(m->key, (m->n + 1) * sizeof(*m->key));
    m->val = realloc(m->val, (m->n + 1) * sizeof(*m->val));
    m->key[m->n] = strdup(key);
    m->val[m->n++] = strdup(value);
}

static void clmap_free(struct clmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->key[i]);
        free(m->val[i]);
    }
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof(*m));
}

/* Hits as their JSON lines, in order. */
static void on_hit_all(void *opaque, const struct kta_corr_hit *h)
{
    struct kta_buf *b = opaque;

    kta_hit_encode_correlation(b, h, "T", NULL);
    kta_buf_append(b, "\n", 1);
}

static int count_changes_fn_n;
static void count_change(void *opaque, const char *key, size_t klen, const char *value,
                         size_t vlen)
{
    (void)opaque; (void)key; (void)klen; (void)value; (void)vlen;
    count_changes_fn_n++;
}

/* The inputs of a pseudo-random stream: users, both rules, hosts, times
 * that mostly grow (some a little out of order, a few late). */
static size_t make_stream(const struct kta_ruleset *rs, struct kta_buf *out, size_t **offs)
{
    unsigned x = 12345;
    int64_t t = 1000000;
    size_t n = 0;

    *offs = NULL;
    for (long i = 1; i <= 150; i++) {
        char user[8], host[8];
        int rule, back;
        json_t *ev;
        struct kta_hit_source src = { .file = "f", .line = i, .timestamp = -1 };
        size_t before = out->len;

        x = x * 1103515245u + 12345u;
        rule = (x >> 8) & 1;
        snprintf(user, sizeof(user), "u%u", (x >> 12) % 3);
        snprintf(host, sizeof(host), "h%u", (x >> 16) % 3);
        back = (x >> 20) % 10;
        t += (int64_t)(((x * 1103515245u + 12345u) >> 8) % 15000);
        ev = json_pack("{s:s,s:s,s:s,s:i}", "event", rule ? "b" : "a", "user", user, "host", host,
                       "bytes", (int)((x >> 4) % 100));
        kta_corr_key(rs, (size_t)rule, ev,
                     back == 0 ? t - 30000 : back == 1 ? t - 1500 : t, &src, out);
        json_decref(ev);
        for (size_t p = before; p < out->len; p++)
            if (out->data[p] == '\n') {
                *offs = realloc(*offs, (n + 2) * sizeof(**offs));
                if (n == 0)
                    (*offs)[0] = 0;
                (*offs)[++n] = p + 1;
            }
    }
    return n;
}

static void apply_range(struct kta_corr *cs, const struct kta_buf *in, const size_t *offs,
                        size_t from, size_t to, struct kta_buf *hits, struct clmap *m)
{
    for (size_t i = from; i < to; i++) {
        CHECK_INT(kta_corr_apply_seq(cs, in->data + offs[i], offs[i + 1] - offs[i],
                                     (int64_t)i, on_hit_all, hits), 0);
        if (m && i % 5 == 0)
            kta_corr_changes(cs, on_change, m);
    }
}

static void test_changelog_roundtrip(void)
{
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("cl.yml", clrules, sizeof(clrules) - 1, NULL,
                                                   &st, err, sizeof(err));
    struct kta_corr_opts o = { .grace_ms = 5000 };
    struct kta_buf in = { 0 }, ref = { 0 };
    size_t *offs, n, cut, diffs = 0, replayed = 0;
    struct kta_corr *cs;
    struct kta_corr_stats cst;
    int types[8] = { 0 };

    CHECK(rs != NULL);
    if (!rs)
        return;
    n = make_stream(rs, &in, &offs);
    CHECK(n > 200);
    cs = kta_corr_new(rs, &o);
    apply_range(cs, &in, offs, 0, n, &ref, NULL);
    kta_corr_flush(cs, on_hit_all, &ref);
    kta_corr_get_stats(cs, &cst);
    CHECK(cst.late > 0);
    CHECK(cst.quiet > 0);
    kta_corr_free(cs);
    /* Every correlation hits, so every type is compared. */
    {
        const char *ids[8] = { "\"id\":\"ec\"", "\"id\":\"vc\"", "\"id\":\"tp\"",
                               "\"id\":\"to\"", "\"id\":\"lt\"", "\"id\":\"chain\"",
                               "\"id\":\"vs\"", "\"id\":\"va\"" };

        for (int i = 0; i < 8; i++)
            types[i] = strstr(ref.data, ids[i]) != NULL;
        for (int i = 0; i < 8; i++)
            if (!types[i]) {
                fprintf(stderr, "no hits of %s\n", ids[i]);
                CHECK(0);
            }
    }
    for (cut = 0; cut <= n; cut++) {
        struct kta_buf hits = { 0 };
        struct clmap m = { 0 };
        struct kta_corr *a = kta_corr_new(rs, &o), *b = kta_corr_new(rs, &o);
        size_t replay = cut >= 4 ? 4 : cut;

        apply_range(a, &in, offs, 0, cut, &hits, &m);
        kta_corr_changes(a, on_change, &m);
        kta_corr_free(a);
        for (size_t i = 0; i < m.n; i++)
            CHECK_INT(kta_corr_restore(b, m.key[i], strlen(m.key[i]), m.val[i],
                                       strlen(m.val[i])), 0);
        /* Restored state is in the changelog already. */
        count_changes_fn_n = 0;
        kta_corr_changes(b, count_change, NULL);
        CHECK_INT(count_changes_fn_n, 0);
        /* At-least-once: the last inputs before the cut come again. */
        apply_range(b, &in, offs, cut - replay, n, &hits, NULL);
        kta_corr_flush(b, on_hit_all, &hits);
        kta_corr_get_stats(b, &cst);
        replayed += cst.replayed;
        CHECK_INT(cst.bad, 0);
        if (hits.len != ref.len || memcmp(hits.data, ref.data, ref.len) != 0) {
            if (!diffs++)
                fprintf(stderr, "cut %zu:\n%.*s---\n%.*s", cut, (int)hits.len, hits.data,
                        (int)ref.len, ref.data);
        }
        kta_corr_free(b);
        kta_buf_free(&hits);
        clmap_free(&m);
    }
    CHECK_INT(diffs, 0);
    CHECK(replayed > n);
    free(offs);
    kta_buf_free(&in);
    kta_buf_free(&ref);
    kta_ruleset_decref(rs);
}

/* kta run's chains: with remote_chains a hit is not applied to the
 * correlations that list it; kta_corr_key_hit's inputs, applied after
 * the input that made it (as the topic delivers them), give the same hits
 * as the chain applied in place. */
struct remote {
    const struct kta_ruleset *rs;
    struct kta_buf hits, pending;
};

static void on_hit_remote(void *opaque, const struct kta_corr_hit *h)
{
    struct remote *r = opaque;

    on_hit_all(&r->hits, h);
    kta_corr_key_hit(r->rs, h, &r->pending);
}

static void test_remote_chains(void)
{
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("cl.yml", clrules, sizeof(clrules) - 1, NULL,
                                                   &st, err, sizeof(err));
    struct kta_corr_opts local = { .grace_ms = 5000 }, remote = { .grace_ms = 5000,
                                                                  .remote_chains = 1 };
    struct kta_buf in = { 0 }, ref = { 0 }, noch = { 0 };
    struct remote r = { .rs = rs };
    size_t *offs, n, derived = 0;
    struct kta_corr *cs;

    CHECK(rs != NULL);
    if (!rs)
        return;
    n = make_stream(rs, &in, &offs);
    cs = kta_corr_new(rs, &local);
    apply_range(cs, &in, offs, 0, n, &ref, NULL);
    kta_corr_free(cs);
    /* Remote chains and nobody sending their inputs: no chain hits. */
    cs = kta_corr_new(rs, &remote);
    apply_range(cs, &in, offs, 0, n, &noch, NULL);
    kta_corr_free(cs);
    CHECK(strstr(ref.data, "\"id\":\"chain\"") != NULL);
    CHECK(strstr(noch.data, "\"id\":\"chain\"") == NULL);

    cs = kta_corr_new(rs, &remote);
    for (size_t i = 0; i < n; i++) {
        CHECK_INT(kta_corr_apply_seq(cs, in.data + offs[i], offs[i + 1] - offs[i],
                                     (int64_t)(2 * i), on_hit_remote, &r), 0);
        for (size_t p = 0, nl; p < r.pending.len; p = nl + 1) {
            nl = (size_t)((const char *)memchr(r.pending.data + p, '\n', r.pending.len - p) -
                          r.pending.data);
            CHECK(strstr(r.pending.data + p, "\"d\":true") != NULL);   /* derived */
            CHECK_INT(kta_corr_apply_seq(cs, r.pending.data + p, nl - p, (int64_t)(2 * i + 1),
                                         on_hit_remote, &r), 0);
            derived++;
        }
        kta_buf_reset(&r.pending);
    }
    kta_corr_free(cs);
    CHECK(derived > 0);
    CHECK_INT(r.hits.len, ref.len);
    CHECK(r.hits.len == ref.len && memcmp(r.hits.data, ref.data, ref.len) == 0);
    free(offs);
    kta_buf_free(&in);
    kta_buf_free(&ref);
    kta_buf_free(&noch);
    kta_buf_free(&r.hits);
    kta_buf_free(&r.pending);
    kta_ruleset_decref(rs);
}

/* kta run's lt/lte windows: closed once event time (from any group) has
 * passed them by more than the grace. */
static void feed_b(struct kta_corr *cs, const struct kta_ruleset *rs, const char *u, int64_t t,
                   struct kta_buf *hits)
{
    json_t *ev = json_pack("{s:s,s:s,s:s}", "event", "b", "user", u, "host", "h");
    struct kta_hit_source src = { .file = "f", .line = 1, .timestamp = -1 };
    struct kta_buf in = { 0 };

    kta_corr_key(rs, 1, ev, t, &src, &in);
    for (size_t p = 0, nl; p < in.len; p = nl + 1) {
        nl = (size_t)((const char *)memchr(in.data + p, '\n', in.len - p) - in.data);
        CHECK_INT(kta_corr_apply(cs, in.data + p, nl - p, on_hit_all, hits), 0);
    }
    kta_buf_free(&in);
    json_decref(ev);
}

static void test_close_passed(void)
{
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("cl.yml", clrules, sizeof(clrules) - 1, NULL,
                                                   &st, err, sizeof(err));
    struct kta_corr_opts o = { .grace_ms = 5000 };
    struct kta_buf hits = { 0 };
    struct kta_corr *cs = kta_corr_new(rs, &o);

    CHECK_INT(kta_corr_close_passed(cs, on_hit_all, &hits), -1);   /* no time yet */
    feed_b(cs, rs, "alice", 0, &hits);
    feed_b(cs, rs, "bob", 60000 + 5000, &hits);    /* alice's window + grace: not passed */
    CHECK_INT(kta_corr_close_passed(cs, on_hit_all, &hits), 60000);
    CHECK(!strstr(hits.data ? hits.data : "", "\"id\":\"lt\""));
    feed_b(cs, rs, "bob", 60000 + 5001, &hits);    /* now it has */
    CHECK_INT(kta_corr_close_passed(cs, on_hit_all, &hits), 60001);
    CHECK(hits.data && strstr(hits.data, "\"id\":\"lt\",") &&
          strstr(hits.data, "\"group\":{\"user\":\"alice\"},\"count\":1"));
    /* bob's window (two events: not lt 2 anyway) stays open. */
    CHECK(!strstr(hits.data, "\"group\":{\"user\":\"bob\"},\"count\""));
    kta_corr_free(cs);
    kta_buf_free(&hits);
    kta_ruleset_decref(rs);
}

/* Tombstones, bad records, eviction, bounds on restore. */
static void test_changelog_records(const struct kta_ruleset *rs)
{
    struct kta_corr_opts o1 = { .max_groups = 1 };
    struct kta_corr *a = kta_corr_new(rs, NULL), *b;
    struct kta_corr_stats cst;
    struct clmap m = { 0 };
    struct got g = { 0 };
    const char *bobk = "[\"two\",[\"bob\"]]", *amyk = "[\"two\",[\"amy\"]]";
    size_t i;

    feed(a, rs, "bob", 0, 1, &g);
    feed(a, rs, "amy", 1000, 2, &g);
    kta_corr_changes(a, on_change, &m);
    CHECK_INT(m.n, 3);
    CHECK_STR(m.key[0], "{\"src\":\"f:f\"}");
    CHECK_STR(m.key[1], bobk);
    CHECK_STR(m.val[1], "{\"v\":1,\"c\":\"two\",\"g\":[\"bob\"],\"q\":null,\"l\":0,\"n\":-1,"
                        "\"e\":[[0,0,null,{\"file\":\"f\",\"line\":1}]]}");
    /* Nothing changed: nothing reported. */
    count_changes_fn_n = 0;
    kta_corr_changes(a, count_change, NULL);
    CHECK_INT(count_changes_fn_n, 0);
    kta_corr_free(a);

    /* A tombstone removes a group. */
    b = kta_corr_new(rs, NULL);
    for (i = 0; i < m.n; i++)
        CHECK_INT(kta_corr_restore(b, m.key[i], strlen(m.key[i]), m.val[i], strlen(m.val[i])), 0);
    kta_corr_get_stats(b, &cst);
    CHECK_INT(cst.groups, 2);
    CHECK_INT(kta_corr_restore(b, bobk, strlen(bobk), NULL, 0), 0);
    kta_corr_get_stats(b, &cst);
    CHECK_INT(cst.groups, 1);
    g.hits = 0;
    feed(b, rs, "bob", 2000, 3, &g);     /* bob starts over: no hit */
    CHECK_INT(g.hits, 0);
    feed(b, rs, "amy", 2000, 4, &g);     /* amy's restored event counts */
    CHECK_INT(g.hits, 1);

    /* Corrupt values, unknown correlations, other versions: -1, counted,
     * nothing changed. */
    CHECK_INT(kta_corr_restore(b, amyk, strlen(amyk), "{", 1), -1);
    CHECK_INT(kta_corr_restore(b, "{", 1, NULL, 0), -1);
    CHECK_INT(kta_corr_restore(b, "[\"gone\",[\"amy\"]]", 16, NULL, 0), -1);
    {
        const char *v = "{\"v\":1,\"c\":\"gone\",\"g\":[\"amy\"],\"q\":null,\"l\":0,\"n\":-1,\"e\":[]}";
        const char *v2 = "{\"v\":2,\"c\":\"two\",\"g\":[\"amy\"],\"q\":null,\"l\":0,\"n\":-1,\"e\":[]}";
        const char *v3 = "{\"v\":1,\"c\":\"two\",\"g\":[\"amy\"],\"q\":null,\"l\":0,\"n\":-1,"
                         "\"e\":[[5,0,null,{}],[4,0,null,{}]]}";
        const char *v4 = "{\"v\":1,\"c\":\"two\",\"g\":[\"amy\"],\"q\":null,\"l\":0,\"n\":-1,"
                         "\"e\":[[5,3,null,{}]]}";

        CHECK_INT(kta_corr_restore(b, "[\"gone\",[\"amy\"]]", 16, v, strlen(v)), -1);
        CHECK_INT(kta_corr_restore(b, amyk, strlen(amyk), v2, strlen(v2)), -1);
        CHECK_INT(kta_corr_restore(b, amyk, strlen(amyk), v3, strlen(v3)), -1);
        CHECK_INT(kta_corr_restore(b, amyk, strlen(amyk), v4, strlen(v4)), -1);
        CHECK_INT(kta_corr_restore(b, bobk, strlen(bobk), m.val[2], strlen(m.val[2])), -1);
    }
    kta_corr_get_stats(b, &cst);
    CHECK_INT(cst.bad, 8);
    CHECK_INT(cst.groups, 2);
    kta_corr_free(b);

    /* max_groups applies to restored groups; the evicted one is a tombstone. */
    b = kta_corr_new(rs, &o1);
    for (i = 0; i < m.n; i++)
        CHECK_INT(kta_corr_restore(b, m.key[i], strlen(m.key[i]), m.val[i], strlen(m.val[i])), 0);
    kta_corr_get_stats(b, &cst);
    CHECK_INT(cst.groups, 1);
    CHECK_INT(cst.evicted, 1);
    kta_corr_changes(b, on_change, &m);
    CHECK_INT(m.n, 2);
    CHECK_STR(m.key[1], amyk);
    /* Eviction while applying: a tombstone for the evicted group. */
    feed(b, rs, "cat", 5000, 5, &g);
    kta_corr_changes(b, on_change, &m);
    CHECK_INT(m.n, 2);
    CHECK_STR(m.key[1], "[\"two\",[\"cat\"]]");
    kta_corr_free(b);
    clmap_free(&m);

    /* Replay by seq: the same input again is skipped and counted. */
    {
        json_t *ev = json_pack("{s:s,s:s}", "event", "x", "user", "dan");
        struct kta_hit_source src = { .file = "f", .line = 9, .timestamp = -1 };
        struct kta_buf in = { 0 };

        b = kta_corr_new(rs, NULL);
        g.hits = 0;
        kta_corr_key(rs, 0, ev, 0, &src, &in);
        CHECK_INT(kta_corr_apply_seq(b, in.data, in.len, 7, on_hit, &g), 0);
        src.line = 10;
        kta_buf_reset(&in);
        kta_corr_key(rs, 0, ev, 0, &src, &in);
        CHECK_INT(kta_corr_apply_seq(b, in.data, in.len, 7, on_hit, &g), 0);
        CHECK_INT(kta_corr_apply_seq(b, in.data, in.len, 3, on_hit, &g), 0);
        kta_corr_get_stats(b, &cst);
        CHECK_INT(cst.replayed, 2);
        CHECK_INT(g.hits, 0);
        CHECK_INT(kta_corr_apply_seq(b, in.data, in.len, 8, on_hit, &g), 0);
        CHECK_INT(g.hits, 1);
        kta_corr_free(b);
        kta_buf_free(&in);
        json_decref(ev);
    }
    kta_buf_free(&g.last);
}

/* Suppression state: the held counts survive a changelog round trip at
 * every cut, and inputs read again after it (seq) are not held twice. */
static const char suprules[] =
    "title: s\nid: s\nsuppress: {by: user, for: 1m}\ndetection:\n  sel: {event: s}\n";

static void on_sup(void *opaque, const struct kta_corr_hit *h)
{
    struct kta_buf *b = opaque;

    CHECK_INT(h->c->type, KTA_CORR_SUPPRESS);
    kta_hit_encode_suppressed(b, h->hit, h->hitlen, h->count);
    kta_buf_printf(b, " key=%.*s\n", (int)h->hklen, h->hkey ? h->hkey : "");
}

static void test_suppress(void)
{
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("s.yml", suprules, sizeof(suprules) - 1, NULL,
                                                   &st, err, sizeof(err));
    struct kta_corr_opts o = { 0 };
    struct kta_buf in[60] = { { 0 } }, ref = { 0 };
    size_t n = 60, diffs = 0;
    struct kta_corr *cs;
    struct kta_corr_stats cst;

    CHECK(rs != NULL);
    if (!rs)
        return;
    CHECK_INT(kta_ruleset_ncorr(rs), 1);
    CHECK_INT(kta_ruleset_ncorr_rules(rs), 0);
    CHECK_INT(kta_ruleset_rule_suppress(rs, 0), 0);
    CHECK_INT(kta_ruleset_rule_generates(rs, 0), 1);
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_pack("{s:s,s:s}", "event", "s", "user", i % 3 ? "bob" : "amy");
        struct kta_hit_source src = { .topic = "in", .partition = 0, .offset = (int64_t)i };
        char hit[64], key[16];
        int64_t t = (int64_t)i * 7000 + (i % 5 == 4 ? -30000 : 0);   /* some out of order */

        snprintf(hit, sizeof(hit), "{\"n\":%zu}", i);
        snprintf(key, sizeof(key), "k%zu", i);
        CHECK_INT(kta_corr_key_suppress(rs, 0, ev, t, &src, hit, strlen(hit),
                                        i % 2 ? key : NULL, strlen(key), &in[i]), 1);
        json_decref(ev);
    }
    cs = kta_corr_new(rs, &o);
    for (size_t i = 0; i < n; i++)
        CHECK_INT(kta_corr_apply_seq(cs, in[i].data, in[i].len, (int64_t)i, on_sup, &ref), 0);
    kta_corr_get_stats(cs, &cst);
    CHECK(cst.suppressed > 20);
    CHECK_INT(cst.hits, 0);
    kta_corr_free(cs);
    /* Produced hits plus what they carry account for every input. */
    {
        uint64_t shown = 0, held = 0;

        for (const char *p = ref.data; p && (p = strstr(p, "\"suppressed\":")); p++) {
            shown++;
            held += strtoull(p + 13, NULL, 10);
        }
        CHECK_INT(shown + cst.suppressed, n);
        CHECK(held > 0 && held <= cst.suppressed);
    }
    CHECK(strstr(ref.data, "{\"n\":0,\"suppressed\":0} key=\n") == ref.data);
    CHECK(strstr(ref.data, " key=k1\n") != NULL);
    for (size_t cut = 0; cut <= n; cut++) {
        struct kta_buf hits = { 0 };
        struct clmap m = { 0 };
        struct kta_corr *a = kta_corr_new(rs, &o), *b = kta_corr_new(rs, &o);
        size_t replay = cut >= 3 ? 3 : cut;

        for (size_t i = 0; i < cut; i++)
            kta_corr_apply_seq(a, in[i].data, in[i].len, (int64_t)i, on_sup, &hits);
        kta_corr_changes(a, on_change, &m);
        kta_corr_free(a);
        for (size_t i = 0; i < m.n; i++)
            CHECK_INT(kta_corr_restore(b, m.key[i], strlen(m.key[i]), m.val[i],
                                       strlen(m.val[i])), 0);
        for (size_t i = cut - replay; i < n; i++)
            kta_corr_apply_seq(b, in[i].data, in[i].len, (int64_t)i, on_sup, &hits);
        if (hits.len != ref.len || memcmp(hits.data, ref.data, ref.len) != 0) {
            if (!diffs++)
                fprintf(stderr, "suppress cut %zu:\n%.*s---\n%.*s", cut, (int)hits.len,
                        hits.data, (int)ref.len, ref.data);
        }
        kta_corr_free(b);
        kta_buf_free(&hits);
        clmap_free(&m);
    }
    CHECK_INT(diffs, 0);
    /* A state without its held count does not restore. */
    {
        struct kta_corr *b = kta_corr_new(rs, &o);
        const char *k = "[\"suppress:s\",[\"bob\"]]";
        const char *v = "{\"v\":1,\"c\":\"suppress:s\",\"g\":[\"bob\"],\"q\":null,\"l\":1,"
                        "\"n\":3,\"e\":[],\"p\":1}";

        CHECK_INT(kta_corr_restore(b, k, strlen(k), v, strlen(v)), -1);
        kta_corr_free(b);
    }
    for (size_t i = 0; i < n; i++)
        kta_buf_free(&in[i]);
    kta_buf_free(&ref);
    kta_ruleset_decref(rs);
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
    test_changelog_records(rs);
    test_suppress();
    test_changelog_roundtrip();
    test_remote_chains();
    test_close_passed();
    kta_buf_free(&g.last);
    kta_ruleset_decref(rs);
    return tap_done();
}
