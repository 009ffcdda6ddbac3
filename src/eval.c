/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval: compiled ruleset x event (a jansson object) -> hits, in rule load
 * order.  This is the hot path of the pipeline: every worker thread calls
 * kta_eval for every event, sharing one immutable ruleset and owning one
 * struct kta_eval_ctx with the PCRE2 match data, JIT stack and scratch
 * buffers, so matching literals and regexes allocates nothing.
 *
 * It implements the lookup and matching rules of RULES-SPEC 3.1/3.3: flat
 * dotted key first, then the nested path with arrays fanning out; numbers
 * and booleans compared as their JSON text; keywords searched in string
 * values at any depth.  It never fails: a regex that runs into its match
 * or memory limit counts an error on its rule, which then does not match.
 * It never parses JSON or YAML.
 */
#include "rules_int.h"
#include "kta/event.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Lowercased copies of the event's ASCII strings, cached per event: a
 * field such as CommandLine is tested by hundreds of rules, and lowering
 * it once lets every caseless literal test be a memcmp/memmem. */
#define LC_SLOTS   512
#define LC_MAX     (4u << 20)   /* arena bytes before the cache starts over */

struct lc_ent {
    const json_t *v;
    unsigned      gen;
    int           ascii;
    size_t        off;
};

struct kta_eval_ctx {
    pcre2_match_data    *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack     *jit;
    signed char         *memo;      /* per search of the current rule: -1 unknown */
    size_t               memo_cap;
    signed char         *scope_memo;/* per log-source scope of the event: -1 unknown */
    size_t               scope_cap;
    int                  err;       /* a regex hit its limit in this rule */
    char                 num[2][64];/* number -> text, two sides for fieldref */
    const json_t       **cands;     /* candidate values of the current condition */
    size_t               ncands, cands_cap;
    const json_t       **strs;      /* every string value of the event (keywords) */
    size_t               nstrs, strs_cap;
    unsigned             strs_gen;
    unsigned             gen;       /* event number: validates the caches */
    struct lc_ent        lc[LC_SLOTS];
    struct kta_buf       lower;
    /* kta_eval_raw */
    int                  no_prefilter;
    struct kta_prefilter_scratch *pfs;
    uint64_t            *cand;      /* candidate rules of the current record */
    size_t               cand_cap;
    struct kta_eval_stats stats;
};

struct kta_eval_ctx *kta_eval_ctx_new(void)
{
    struct kta_eval_ctx *ctx = xcalloc(1, sizeof(*ctx));

    ctx->md = pcre2_match_data_create(1, NULL);
    ctx->mctx = pcre2_match_context_create(NULL);
    if (!ctx->md || !ctx->mctx) {
        kta_log(KTA_LOG_ERROR, "out of memory creating PCRE2 match data");
        abort();
    }
    pcre2_set_match_limit(ctx->mctx, KTA_RE_MATCH_LIMIT);
    pcre2_set_depth_limit(ctx->mctx, KTA_RE_DEPTH_LIMIT);
    pcre2_set_heap_limit(ctx->mctx, KTA_RE_HEAP_LIMIT);
    /* Without JIT support the stack stays NULL and the interpreter runs
     * under the limits above. */
    ctx->jit = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (ctx->jit)
        pcre2_jit_stack_assign(ctx->mctx, NULL, ctx->jit);
    return ctx;
}

void kta_eval_ctx_free(struct kta_eval_ctx *ctx)
{
    if (!ctx)
        return;
    pcre2_match_data_free(ctx->md);
    pcre2_match_context_free(ctx->mctx);
    pcre2_jit_stack_free(ctx->jit);
    free(ctx->memo);
    free(ctx->scope_memo);
    free(ctx->cands);
    free(ctx->strs);
    kta_buf_free(&ctx->lower);
    kta_prefilter_scratch_free(ctx->pfs);
    free(ctx->cand);
    free(ctx);
}

void kta_eval_ctx_prefilter(struct kta_eval_ctx *ctx, int on)
{
    ctx->no_prefilter = !on;
}

void kta_eval_ctx_stats(const struct kta_eval_ctx *ctx, struct kta_eval_stats *st)
{
    *st = ctx->stats;
}

/* ---- strings ----------------------------------------------------------- */

static int is_ascii(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return 0;
    return 1;
}

/* Invalidates the per-event caches.  On wrap-around the slots are wiped
 * so that an entry from 2^32 events ago cannot look current. */
static void bump_gen(struct kta_eval_ctx *ctx)
{
    if (++ctx->gen == 0) {
        memset(ctx->lc, 0, sizeof(ctx->lc));
        ctx->strs_gen = 0;
        ctx->gen = 1;
    }
}

/* The lowercased text of an ASCII string value, or NULL when the string
 * has non-ASCII bytes (those need PCRE2's Unicode case folding). */
static const char *lowered(struct kta_eval_ctx *ctx, const json_t *v, const char *s, size_t n)
{
    struct lc_ent *e = &ctx->lc[((uintptr_t)v >> 4) % LC_SLOTS];
    size_t i;
    char *out;

    if (e->v == v && e->gen == ctx->gen)
        return e->ascii ? ctx->lower.data + e->off : NULL;
    if (ctx->lower.len + n + 1 > LC_MAX) {
        /* Start over rather than grow without bound; only the pointer
         * returned last is in use, and it is not kept across calls. */
        kta_buf_reset(&ctx->lower);
        bump_gen(ctx);
    }
    e->v = v;
    e->gen = ctx->gen;
    e->ascii = is_ascii(s, n);
    if (!e->ascii)
        return NULL;
    e->off = ctx->lower.len;
    kta_buf_reserve(&ctx->lower, n + 1);
    out = ctx->lower.data + e->off;
    for (i = 0; i < n; i++)
        out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    out[n] = '\0';
    ctx->lower.len += n + 1;
    return out;
}

/* memmem for the short needles and haystacks of rule values: glibc's
 * two-way setup costs more than a memchr scan for the first byte. */
static int find(const char *s, size_t n, const char *lit, size_t ll)
{
    const char *p = s, *end = s + n;

    if (ll > n)
        return 0;
    end -= ll - 1;
    while (p < end && (p = memchr(p, lit[0], (size_t)(end - p))) != NULL) {
        if (memcmp(p + 1, lit + 1, ll - 1) == 0)
            return 1;
        p++;
    }
    return 0;
}

/* Literal test of an already-normalised subject. */
static int lit_match(enum kta_ptype ptype, const char *s, size_t n, const char *lit, size_t ll)
{
    switch (ptype) {
    case KTA_P_EXACT:
        return n == ll && memcmp(s, lit, n) == 0;
    case KTA_P_PREFIX:
        return n >= ll && memcmp(s, lit, ll) == 0;
    case KTA_P_SUFFIX:
        return n >= ll && memcmp(s + n - ll, lit, ll) == 0;
    default:
        return ll == 0 || find(s, n, lit, ll);
    }
}

static int re_match(struct kta_eval_ctx *ctx, const pcre2_code *re, const char *s, size_t n)
{
    int rc = pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, ctx->md, ctx->mctx);

    if (rc >= 0)
        return 1;
    if (rc != PCRE2_ERROR_NOMATCH)
        ctx->err = 1;   /* match/depth/heap/JIT-stack limit: rule fails */
    return 0;
}

/* v is the event value whose text is s (for the lowercase cache). */
static int match_pattern(struct kta_eval_ctx *ctx, const struct kta_matcher *m,
                         const json_t *v, const char *s, size_t n)
{
    if (m->ptype == KTA_P_ANY)
        return 1;
    if (m->ptype != KTA_P_REGEX) {
        if (m->cased)
            return lit_match(m->ptype, s, n, m->lit, m->litlen);
        if (m->lit_ascii) {
            /* Numbers and booleans are lowercase ASCII already. */
            const char *low = json_is_string(v) ? lowered(ctx, v, s, n) : s;

            if (low)
                return lit_match(m->ptype, low, n, m->lit, m->litlen);
        }
    }
    return re_match(ctx, m->re, s, n);
}

/* The JSON text of a scalar event value ("4625", "1.5", "true"), or NULL
 * for null, objects and arrays. */
static const char *value_text(struct kta_eval_ctx *ctx, int side, const json_t *v, size_t *n)
{
    char *buf = ctx->num[side];

    switch (json_typeof(v)) {
    case JSON_STRING:
        *n = json_string_length(v);
        return json_string_value(v);
    case JSON_INTEGER:
        *n = (size_t)snprintf(buf, sizeof(ctx->num[0]), "%" JSON_INTEGER_FORMAT,
                              json_integer_value(v));
        return buf;
    case JSON_REAL:
        kta_rules_fmt_double(json_real_value(v), buf, sizeof(ctx->num[0]));
        *n = strlen(buf);
        return buf;
    case JSON_TRUE:
        *n = 4;
        return "true";
    case JSON_FALSE:
        *n = 5;
        return "false";
    default:
        return NULL;
    }
}

static int as_number(const json_t *v, double *d)
{
    if (json_is_integer(v)) {
        *d = (double)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v)) {
        *d = json_real_value(v);
        return 0;
    }
    if (json_is_string(v))
        return kta_rules_parse_decimal(json_string_value(v), json_string_length(v), d);
    return -1;
}

static int match_cidr(const struct kta_matcher *m, const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 16];
    unsigned char a[16];
    const unsigned char *addr = a;
    int fam, i;

    if (n == 0 || n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    fam = memchr(buf, ':', n) ? 6 : 4;
    if (fam == 6) {
        char *zone = strchr(buf, '%');

        if (zone)   /* fe80::1%eth0: the zone does not change the address */
            *zone = '\0';
    }
    if (inet_pton(fam == 6 ? AF_INET6 : AF_INET, buf, a) != 1)
        return 0;
    if (fam == 6 && m->family == 4) {
        /* ::ffff:10.1.2.3 is the IPv4 address 10.1.2.3 on a dual stack. */
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

        if (memcmp(a, mapped, 12) != 0)
            return 0;
        addr = a + 12;
        fam = 4;
    }
    if (fam != m->family)
        return 0;
    for (i = 0; i < m->prefix / 8; i++)
        if (addr[i] != m->net[i])
            return 0;
    if (m->prefix % 8) {
        unsigned char mask = (unsigned char)(0xff << (8 - m->prefix % 8));

        if ((addr[i] & mask) != m->net[i])
            return 0;
    }
    return 1;
}

/* Does one candidate value match one rule value (not exists/fieldref)? */
static int match_value(struct kta_eval_ctx *ctx, const struct kta_matcher *m, const json_t *v)
{
    const char *s;
    size_t n;
    double d;

    switch (m->kind) {
    case KTA_M_NULL:
        return json_is_null(v);
    case KTA_M_PATTERN:
        if (m->is_num && json_is_number(v)) {
            if (m->is_int && json_is_integer(v))
                return json_integer_value(v) == m->ival;
            return json_number_value(v) == m->num;
        }
        s = value_text(ctx, 0, v, &n);
        return s && match_pattern(ctx, m, v, s, n);
    case KTA_M_REGEX:
        s = value_text(ctx, 0, v, &n);
        return s && re_match(ctx, m->re, s, n);
    case KTA_M_CMP:
        if (as_number(v, &d) < 0)
            return 0;
        switch (m->op) {
        case KTA_CMP_GT:
            return d > m->num;
        case KTA_CMP_GTE:
            return d >= m->num;
        case KTA_CMP_LT:
            return d < m->num;
        case KTA_CMP_LTE:
            return d <= m->num;
        }
        return 0;
    case KTA_M_CIDR:
        return json_is_string(v) && match_cidr(m, json_string_value(v), json_string_length(v));
    default:
        return 0;
    }
}

/* ---- field lookup ------------------------------------------------------ */

/* Called for each candidate value; returns 1 to stop the walk. */
struct visit {
    int  (*fn)(struct visit *vi, const json_t *v);
    struct kta_eval_ctx       *ctx;
    const struct kta_matcher  *m;
    const json_t              *other;     /* fieldref: the left-hand value */
    const struct kta_fcond    *fc;
    const json_t              *ev;
    size_t                     ncand;
    int                        present;
    int                        hit;
};

static int walk_end(const json_t *v, struct visit *vi)
{
    size_t i;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            if (walk_end(json_array_get(v, i), vi))
                return 1;
        return 0;
    }
    vi->ncand++;
    return vi->fn(vi, v);
}

static int walk(const json_t *cur, const struct kta_fpath *p, size_t seg, struct visit *vi)
{
    const json_t *child;
    size_t i;

    if (json_is_array(cur)) {
        for (i = 0; i < json_array_size(cur); i++)
            if (walk(json_array_get(cur, i), p, seg, vi))
                return 1;
        return 0;
    }
    if (!json_is_object(cur))
        return 0;
    child = json_object_getn(cur, p->full + p->seg_off[seg], p->seg_len[seg]);
    if (!child)
        return 0;
    if (seg + 1 == p->nseg) {
        vi->present = 1;
        return walk_end(child, vi);
    }
    return walk(child, p, seg + 1, vi);
}

/* Visits every candidate value of the field (RULES-SPEC 3.1 lookup):
 * for each mapped path, a flat key equal to the whole path wins, else the
 * dotted path is followed through nested objects and arrays. */
static int lookup(const json_t *ev, const struct kta_fpath *paths, size_t npaths,
                  struct visit *vi)
{
    size_t i;

    for (i = 0; i < npaths; i++) {
        const json_t *v = json_object_getn(ev, paths[i].full, paths[i].len);

        if (v) {
            vi->present = 1;
            if (walk_end(v, vi))
                return 1;
        } else if (walk(ev, &paths[i], 0, vi)) {
            return 1;
        }
    }
    return 0;
}

static int visit_stop(struct visit *vi, const json_t *v)
{
    (void)v;
    (void)vi;
    return 1;
}

/* Caseless equality of two texts with Unicode folding; the rare non-ASCII
 * case compiles a literal pattern (fieldref only, so not worth a cache). */
static int text_equal(struct kta_eval_ctx *ctx, const char *a, size_t an, const char *b,
                      size_t bn)
{
    pcre2_code *re;
    int rc, errcode;
    PCRE2_SIZE off;

    if (is_ascii(a, an) && is_ascii(b, bn)) {
        size_t i;

        if (an != bn)
            return 0;
        for (i = 0; i < an; i++)
            if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
                return 0;
        return 1;
    }
    re = pcre2_compile((PCRE2_SPTR)a, an, PCRE2_LITERAL | PCRE2_CASELESS | PCRE2_UTF |
                       PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_MATCH_INVALID_UTF,
                       &errcode, &off, NULL);
    if (!re)
        return 0;
    rc = pcre2_match(re, (PCRE2_SPTR)b, bn, 0, 0, ctx->md, ctx->mctx);
    pcre2_code_free(re);
    return rc >= 0;
}

static int values_equal(struct kta_eval_ctx *ctx, const json_t *a, const json_t *b)
{
    const char *sa, *sb;
    size_t na, nb;

    if (json_is_null(a) || json_is_null(b))
        return json_is_null(a) && json_is_null(b);
    if (json_is_number(a) && json_is_number(b)) {
        if (json_is_integer(a) && json_is_integer(b))
            return json_integer_value(a) == json_integer_value(b);
        return json_number_value(a) == json_number_value(b);
    }
    sa = value_text(ctx, 0, a, &na);
    sb = value_text(ctx, 1, b, &nb);
    return sa && sb && text_equal(ctx, sa, na, sb, nb);
}

static int visit_ref_inner(struct visit *vi, const json_t *v)
{
    if (values_equal(vi->ctx, vi->other, v)) {
        vi->hit = 1;
        return 1;
    }
    return 0;
}

static int visit_ref_outer(struct visit *vi, const json_t *v)
{
    struct visit inner = { .fn = visit_ref_inner, .ctx = vi->ctx, .other = v };

    if (json_is_object(v))
        return 0;
    lookup(vi->ev, vi->m->ref, vi->m->nref, &inner);
    if (inner.hit) {
        vi->hit = 1;
        return 1;
    }
    return 0;
}

static int visit_collect(struct visit *vi, const json_t *v)
{
    struct kta_eval_ctx *ctx = vi->ctx;

    if (ctx->ncands == ctx->cands_cap) {
        ctx->cands_cap = ctx->cands_cap ? ctx->cands_cap * 2 : 16;
        ctx->cands = xrealloc(ctx->cands, ctx->cands_cap * sizeof(*ctx->cands));
    }
    ctx->cands[ctx->ncands++] = v;
    return 0;
}

/* ---- keywords ---------------------------------------------------------- */

/* Collects every string value in v (not object keys), at any depth. */
static void collect_strings(struct kta_eval_ctx *ctx, const json_t *v)
{
    const char *key;
    json_t *val;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_STRING:
        if (ctx->nstrs == ctx->strs_cap) {
            ctx->strs_cap = ctx->strs_cap ? ctx->strs_cap * 2 : 32;
            ctx->strs = xrealloc(ctx->strs, ctx->strs_cap * sizeof(*ctx->strs));
        }
        ctx->strs[ctx->nstrs++] = v;
        break;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++)
            collect_strings(ctx, json_array_get(v, i));
        break;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, val)
            collect_strings(ctx, val);
        break;
    default:
        break;
    }
}

/* ---- conditions -------------------------------------------------------- */

/* exists and fieldref look at the field itself, not at each candidate. */
static int eval_special(struct kta_eval_ctx *ctx, const json_t *ev, const struct kta_fcond *fc,
                        const struct kta_matcher *m)
{
    struct visit vi = { .ctx = ctx, .m = m, .ev = ev, .fc = fc };

    if (m->kind == KTA_M_EXISTS) {
        vi.fn = visit_stop;
        lookup(ev, fc->paths, fc->npaths, &vi);
        return vi.present == m->exists;
    }
    vi.fn = visit_ref_outer;
    lookup(ev, fc->paths, fc->npaths, &vi);
    return vi.hit;
}

static int eval_fcond(struct kta_eval_ctx *ctx, const json_t *ev, const struct kta_fcond *fc)
{
    const json_t **cand;
    size_t i, j, n;

    if (fc->special) {
        for (i = 0; i < fc->nvals; i++) {
            int r = !!eval_special(ctx, ev, fc, &fc->vals[i]);

            if (fc->all == !r)
                return r;
        }
        return fc->all;
    }
    if (fc->keyword) {
        if (ctx->strs_gen != ctx->gen) {
            ctx->nstrs = 0;
            collect_strings(ctx, ev);
            ctx->strs_gen = ctx->gen;
        }
        cand = ctx->strs;
        n = ctx->nstrs;
    } else {
        /* Look the field up once, then try every value on its candidates. */
        struct visit vi = { .fn = visit_collect, .ctx = ctx };

        ctx->ncands = 0;
        lookup(ev, fc->paths, fc->npaths, &vi);
        cand = ctx->cands;
        n = ctx->ncands;
    }
    if (n == 0)   /* a missing field: only null values can hold */
        return fc->all ? fc->nnull == fc->nvals : fc->nnull > 0;
    for (i = 0; i < fc->nvals; i++) {
        const struct kta_matcher *m = &fc->vals[i];
        int r = 0;

        for (j = 0; j < n && !r; j++)
            r = !!match_value(ctx, m, cand[j]);
        if (fc->all == !r)
            return r;
    }
    return fc->all;
}

static int eval_search(struct kta_eval_ctx *ctx, const json_t *ev, const struct kta_search *s)
{
    size_t i, j;

    for (i = 0; i < s->nmaps; i++) {
        for (j = 0; j < s->maps[i].nconds; j++)
            if (!eval_fcond(ctx, ev, &s->maps[i].conds[j]))
                break;
        if (j == s->maps[i].nconds)
            return 1;
    }
    return 0;
}

static int eval_cond(struct kta_eval_ctx *ctx, const struct kta_rule *r, const json_t *ev,
                     const struct kta_cnode *c)
{
    size_t i;

    switch (c->op) {
    case KTA_C_REF:
        if (ctx->memo[c->ref] < 0)
            ctx->memo[c->ref] = (signed char)eval_search(ctx, ev, &r->searches[c->ref]);
        return ctx->memo[c->ref];
    case KTA_C_NOT:
        return !eval_cond(ctx, r, ev, c->kids[0]);
    case KTA_C_AND:
        for (i = 0; i < c->nkids; i++)
            if (!eval_cond(ctx, r, ev, c->kids[i]))
                return 0;
        return 1;
    case KTA_C_OR:
        for (i = 0; i < c->nkids; i++)
            if (eval_cond(ctx, r, ev, c->kids[i]))
                return 1;
        return 0;
    }
    return 0;
}

/* Does the rule's log-source scope hold for ev?  Each scope is evaluated
 * at most once per event. */
static int scope_holds(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, const json_t *ev,
                       const struct kta_rule *r)
{
    for (size_t i = 0; i < r->nscope; i++) {
        signed char *sm = &ctx->scope_memo[r->scope[i]];

        if (*sm < 0) {
            const struct kta_rule *w = rs->scopes[r->scope[i]];

            memset(ctx->memo, -1, w->nsearches);
            ctx->err = 0;
            *sm = (signed char)(eval_cond(ctx, w, ev, w->cond) && !ctx->err);
        }
        if (!*sm)
            return 0;
    }
    return 1;
}

/* Evaluates the enabled rules whose bit is set in cand (every rule when
 * cand is NULL), in load order. */
static size_t eval_rules(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                         const json_t *ev, const uint64_t *cand, kta_hit_fn *fn, void *opaque)
{
    size_t i, hits = 0;

    if (ctx->memo_cap < rs->max_searches) {
        /* Grows once per ruleset size, not per event. */
        ctx->memo = xrealloc(ctx->memo, rs->max_searches);
        ctx->memo_cap = rs->max_searches;
    }
    if (ctx->scope_cap < rs->nscopes) {
        ctx->scope_memo = xrealloc(ctx->scope_memo, rs->nscopes);
        ctx->scope_cap = rs->nscopes;
    }
    if (rs->nscopes)
        memset(ctx->scope_memo, -1, rs->nscopes);
    /* A new event: the lowercase and keyword caches start over. */
    bump_gen(ctx);
    kta_buf_reset(&ctx->lower);
    for (i = 0; i < rs->nrules; i++) {
        struct kta_rule *r;

        if (cand) {
            uint64_t w = cand[i / 64] >> (i % 64);

            if (!w) {   /* no candidate in the rest of this word */
                i |= 63;
                continue;
            }
            i += (size_t)__builtin_ctzll(w);
            if (i >= rs->nrules)
                break;
        }
        r = rs->rules[i];
        if (!r->enabled || (r->nscope && !scope_holds(rs, ctx, ev, r)))
            continue;
        ctx->stats.rules++;
        memset(ctx->memo, -1, r->nsearches);
        ctx->err = 0;
        if (eval_cond(ctx, r, ev, r->cond) && !ctx->err) {
            hits++;
            if (fn)
                fn(opaque, r);
        } else if (ctx->err) {
            atomic_fetch_add_explicit(&r->errors, 1, memory_order_relaxed);
        }
    }
    return hits;
}

size_t kta_eval(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                const json_t *ev, kta_hit_fn *fn, void *opaque)
{
    if (!rs || !json_is_object(ev))
        return 0;
    return eval_rules(rs, ctx, ev, NULL, fn, opaque);
}

long kta_eval_raw(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                  const void *data, size_t len, size_t max_bytes,
                  kta_hit_fn *fn, void *opaque, json_t **evp,
                  enum kta_event_error *err, char *detail, size_t detail_size)
{
    const struct kta_prefilter *pf = rs ? rs->pf : NULL;
    const uint64_t *cand = NULL;
    json_t *ev;
    size_t hits;

    *evp = NULL;
    *err = KTA_EVENT_OK;
    ctx->stats.events++;
    /* Size limits first, as kta_event_decode has them; then only a
     * record that the check calls PLAIN may skip the parse, because only
     * there do the literals prove anything and is validity certain. */
    if (pf && !ctx->no_prefilter && len > 0 && (!max_bytes || len <= max_bytes) &&
        kta_event_check(data, len) == KTA_EVENT_PLAIN) {
        size_t words = kta_prefilter_words(pf);

        if (ctx->cand_cap < words) {
            ctx->cand = xrealloc(ctx->cand, words * sizeof(*ctx->cand));
            ctx->cand_cap = words;
        }
        if (kta_prefilter_scan(pf, &ctx->pfs, data, len, ctx->cand) == 0)
            return 0;
        cand = ctx->cand;
    } else {
        ctx->stats.unsure++;
    }
    ctx->stats.parsed++;
    ev = kta_event_decode(data, len, max_bytes, err, detail, detail_size);
    if (!ev) {
        ctx->stats.malformed++;
        return -1;
    }
    *evp = ev;
    hits = rs ? eval_rules(rs, ctx, ev, cand, fn, opaque) : 0;
    return (long)hits;
}
