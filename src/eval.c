/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eval: compiled ruleset x event -> hits, in rule load order.  This is the
 * hot path of the pipeline: every worker thread evaluates every record,
 * sharing one immutable ruleset and owning one struct kta_eval_ctx with
 * the PCRE2 match data, JIT stack and scratch buffers, so matching
 * literals and regexes allocates nothing once the buffers have grown.
 *
 * An event reaches the matchers in one of two shapes, through one
 * evaluator: a jansson object (kta_eval, and records the cheap check
 * cannot vouch for), or the flat value list of a PLAIN record
 * (kta_event_scan), indexed by field path once per event, so that most
 * records are evaluated without building a JSON tree at all.  Either way
 * a field's candidate values become the same small views (struct val),
 * and everything after the lookup is shared.
 *
 * It implements the lookup and matching rules of docs/rules.md §9 and 13: flat
 * dotted key first, then the nested path with arrays fanning out; numbers
 * and booleans compared as their JSON text; keywords searched in string
 * values at any depth; log-source scopes (docs/rules.md §21) evaluated once per
 * event.  It never fails: a regex that runs into its match or memory limit
 * counts an error on its rule, which then does not match.  It parses JSON
 * only through event.c, and never YAML.
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
    const void   *v;
    unsigned      gen;
    int           ascii;
    size_t        off;
};

/* One candidate value of a field, whichever shape the event has. */
enum vt { VT_NULL, VT_STR, VT_INT, VT_REAL, VT_TRUE, VT_FALSE, VT_OBJ };

struct val {
    const void *id;     /* the json_t or view entry: key of the lowercase cache */
    const char *s;      /* strings; integers of a PLAIN record as written */
    size_t      n;
    long long   i;
    double      d;
    int         t;      /* enum vt */
};

/* Candidate values of one lookup. */
struct cset {
    struct val *v;
    size_t      n, cap;
    int         present;
};

/* Per path number, the values of the current PLAIN record: a list of view
 * indices reached through a flat top-level key, and one through nested
 * keys (docs/rules.md §4-13: the flat key wins). */
struct phead {
    unsigned gen;
    int      flat, flat_tail, nested, nested_tail;   /* -1: none */
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
    struct cset          cs[2];     /* candidates: the field, a fieldref's other */
    struct cset          strs;      /* every string value of the event (keywords) */
    unsigned             strs_gen;
    unsigned             gen;       /* event number: validates the caches */
    struct lc_ent        lc[LC_SLOTS];
    struct kta_buf       lower;
    /* a PLAIN record evaluated from its view */
    int                  raw;
    const char          *data;
    struct kta_event_view view;
    struct phead        *heads;     /* per path number */
    size_t               heads_cap;
    int                 *next;      /* per view value: next in its list */
    unsigned            *ugen;      /* per view value: unescaped this event */
    size_t              *uoff;
    size_t               vals_cap;
    uint32_t            *present;   /* path numbers with a value this event */
    size_t               npresent, present_cap;
    struct kta_buf       unesc;     /* reserved per record: never moves */
    json_t             **evp;       /* parsed on the first hit */
    size_t               len, max_bytes;
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
    free(ctx->cs[0].v);
    free(ctx->cs[1].v);
    free(ctx->strs.v);
    kta_buf_free(&ctx->lower);
    kta_event_view_free(&ctx->view);
    free(ctx->heads);
    free(ctx->next);
    free(ctx->ugen);
    free(ctx->uoff);
    free(ctx->present);
    kta_buf_free(&ctx->unesc);
    kta_prefilter_scratch_free(ctx->pfs);
    free(ctx->cand);
    free(ctx);
}

size_t kta_eval_ctx_bytes(const struct kta_eval_ctx *ctx)
{
    return ctx->lower.cap + ctx->unesc.cap + ctx->view.cap * sizeof(*ctx->view.v) +
           ctx->view.paths.cap +
           ctx->vals_cap * (sizeof(*ctx->next) + sizeof(*ctx->ugen) + sizeof(*ctx->uoff)) +
           (ctx->cs[0].cap + ctx->cs[1].cap + ctx->strs.cap) * sizeof(struct val);
}

static void cset_trim(struct cset *cs, size_t keep)
{
    if (cs->cap * sizeof(*cs->v) <= keep)
        return;
    free(cs->v);
    cs->v = NULL;
    cs->n = cs->cap = 0;
}

void kta_eval_ctx_trim(struct kta_eval_ctx *ctx, size_t keep)
{
    /* Every cache over these buffers is checked against ctx->gen, which
     * the next record moves on; the lowercase slots point into `lower`
     * and are cleared with it all the same. */
    if (kta_buf_shrink(&ctx->lower, keep))
        memset(ctx->lc, 0, sizeof(ctx->lc));
    kta_buf_shrink(&ctx->unesc, keep);
    if (ctx->view.cap * sizeof(*ctx->view.v) > keep || ctx->view.paths.cap > keep)
        kta_event_view_free(&ctx->view);
    if (ctx->vals_cap * (sizeof(*ctx->next) + sizeof(*ctx->ugen) + sizeof(*ctx->uoff)) > keep) {
        free(ctx->next);
        free(ctx->ugen);
        free(ctx->uoff);
        ctx->next = NULL;
        ctx->ugen = NULL;
        ctx->uoff = NULL;
        ctx->vals_cap = 0;
    }
    cset_trim(&ctx->cs[0], keep);
    cset_trim(&ctx->cs[1], keep);
    cset_trim(&ctx->strs, keep);
    ctx->strs_gen = 0;
}

void kta_eval_ctx_prefilter(struct kta_eval_ctx *ctx, int on)
{
    ctx->no_prefilter = !on;
}

void kta_eval_ctx_stats(const struct kta_eval_ctx *ctx, struct kta_eval_stats *st)
{
    *st = ctx->stats;
}

/* ---- field paths ------------------------------------------------------- */

struct kta_pathtab {
    uint64_t    *hash;     /* slot -> hash of the path (0: empty) */
    uint32_t    *id;       /* slot -> path number */
    const char **text;     /* path number -> text (owned by the rules) */
    size_t      *len;
    size_t       n, cap;   /* numbers given; slots (a power of two) */
};

static uint64_t path_hash(const char *s, size_t n)
{
    return kta_fnv1a(KTA_FNV_SEED, s, n) | 1;   /* never 0: that marks an empty slot */
}

/* The number of a path, or UINT32_MAX when no rule names it. */
static uint32_t pathtab_find(const struct kta_pathtab *pt, const char *s, size_t n)
{
    uint64_t h = path_hash(s, n);
    size_t slot = h & (pt->cap - 1);

    while (pt->hash[slot]) {
        uint32_t id = pt->id[slot];

        if (pt->hash[slot] == h && pt->len[id] == n && memcmp(pt->text[id], s, n) == 0)
            return id;
        slot = (slot + 1) & (pt->cap - 1);
    }
    return UINT32_MAX;
}

static void pathtab_add(struct kta_pathtab *pt, struct kta_fpath *p)
{
    uint64_t h;
    size_t slot;
    uint32_t id = pathtab_find(pt, p->full, p->len);

    if (id != UINT32_MAX) {
        p->id = id;
        return;
    }
    if (2 * (pt->n + 1) > pt->cap) {
        size_t ocap = pt->cap, i;
        uint64_t *oh = pt->hash;
        uint32_t *oid = pt->id;

        pt->cap = pt->cap ? pt->cap * 2 : 256;
        pt->hash = xcalloc(pt->cap, sizeof(*pt->hash));
        pt->id = xcalloc(pt->cap, sizeof(*pt->id));
        for (i = 0; i < ocap; i++) {
            if (!oh[i])
                continue;
            slot = oh[i] & (pt->cap - 1);
            while (pt->hash[slot])
                slot = (slot + 1) & (pt->cap - 1);
            pt->hash[slot] = oh[i];
            pt->id[slot] = oid[i];
        }
        free(oh);
        free(oid);
        pt->text = xrealloc(pt->text, pt->cap / 2 * sizeof(*pt->text));
        pt->len = xrealloc(pt->len, pt->cap / 2 * sizeof(*pt->len));
    }
    h = path_hash(p->full, p->len);
    slot = h & (pt->cap - 1);
    while (pt->hash[slot])
        slot = (slot + 1) & (pt->cap - 1);
    p->id = (uint32_t)pt->n;
    pt->hash[slot] = h;
    pt->id[slot] = p->id;
    pt->text[pt->n] = p->full;
    pt->len[pt->n] = p->len;
    pt->n++;
}

static void pathtab_rule(struct kta_pathtab *pt, struct kta_rule *r)
{
    for (size_t s = 0; s < r->nsearches; s++) {
        for (size_t m = 0; m < r->searches[s].nmaps; m++) {
            const struct kta_fmap *fm = &r->searches[s].maps[m];

            for (size_t c = 0; c < fm->nconds; c++) {
                struct kta_fcond *fc = &fm->conds[c];

                for (size_t i = 0; i < fc->npaths; i++)
                    pathtab_add(pt, &fc->paths[i]);
                for (size_t v = 0; v < fc->nvals; v++)
                    for (size_t i = 0; i < fc->vals[v].nref; i++)
                        pathtab_add(pt, &fc->vals[v].ref[i]);
            }
        }
    }
}

struct kta_pathtab *kta_pathtab_new(struct kta_rule *const *rules, size_t nrules,
                                    struct kta_rule *const *scopes, size_t nscopes)
{
    struct kta_pathtab *pt = xcalloc(1, sizeof(*pt));
    size_t i;

    pt->cap = 256;
    pt->hash = xcalloc(pt->cap, sizeof(*pt->hash));
    pt->id = xcalloc(pt->cap, sizeof(*pt->id));
    pt->text = xcalloc(pt->cap / 2, sizeof(*pt->text));
    pt->len = xcalloc(pt->cap / 2, sizeof(*pt->len));
    for (i = 0; i < nrules; i++)
        pathtab_rule(pt, rules[i]);
    for (i = 0; i < nscopes; i++)
        pathtab_rule(pt, scopes[i]);
    return pt;
}

size_t kta_pathtab_count(const struct kta_pathtab *pt)
{
    return pt->n;
}

void kta_pathtab_free(struct kta_pathtab *pt)
{
    if (!pt)
        return;
    free(pt->hash);
    free(pt->id);
    free(pt->text);
    free(pt->len);
    free(pt);
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
        if (ctx->heads)
            memset(ctx->heads, 0, ctx->heads_cap * sizeof(*ctx->heads));
        if (ctx->ugen)
            memset(ctx->ugen, 0, ctx->vals_cap * sizeof(*ctx->ugen));
        ctx->strs_gen = 0;
        ctx->gen = 1;
    }
}

/* Could s match an ASCII letter caselessly through a non-ASCII character?
 * Only KELVIN SIGN (k) and LONG S (s) fold to ASCII. */
static int folds_to_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c == 0xc5 && (unsigned char)s[i + 1] == 0xbf) ||
            (c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x84 &&
             (unsigned char)s[i + 2] == 0xaa))
            return 1;
    }
    return 0;
}

/* The ASCII-lowercased text of a string value (other bytes as they are),
 * good for matching ASCII literals caselessly; NULL when the string holds
 * a character that folds to an ASCII letter (that needs PCRE2's Unicode
 * case folding). */
static const char *lowered(struct kta_eval_ctx *ctx, const void *v, const char *s, size_t n)
{
    struct lc_ent *e = &ctx->lc[((uintptr_t)v >> 4) % LC_SLOTS];
    size_t i;
    char *out;

    if (e->v == v && e->gen == ctx->gen)
        return e->ascii ? ctx->lower.data + e->off : NULL;
    if (ctx->lower.len + n + 1 > LC_MAX) {
        /* Start over rather than grow without bound; only the pointer
         * returned last is in use, and it is not kept across calls.  Only
         * the lowercase slots depend on this arena. */
        kta_buf_reset(&ctx->lower);
        memset(ctx->lc, 0, sizeof(ctx->lc));
    }
    e->v = v;
    e->gen = ctx->gen;
    e->ascii = !folds_to_ascii(s, n);   /* pure ASCII never holds those */
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

/* The JSON text of a scalar value ("4625", "1.5", "true"), or NULL for
 * null and objects. */
static const char *value_text(struct kta_eval_ctx *ctx, int side, const struct val *v, size_t *n)
{
    char *buf = ctx->num[side];

    switch (v->t) {
    case VT_STR:
        *n = v->n;
        return v->s;
    case VT_INT:
        if (v->s) {
            *n = v->n;
            return v->s;
        }
        *n = (size_t)snprintf(buf, sizeof(ctx->num[0]), "%lld", v->i);
        return buf;
    case VT_REAL:
        kta_rules_fmt_double(v->d, buf, sizeof(ctx->num[0]));
        *n = strlen(buf);
        return buf;
    case VT_TRUE:
        *n = 4;
        return "true";
    case VT_FALSE:
        *n = 5;
        return "false";
    default:
        return NULL;
    }
}

static int match_pattern(struct kta_eval_ctx *ctx, const struct kta_matcher *m,
                         const struct val *v, const char *s, size_t n)
{
    if (m->ptype == KTA_P_ANY)
        return 1;
    if (m->ptype != KTA_P_REGEX) {
        if (m->cased)
            return lit_match(m->ptype, s, n, m->lit, m->litlen);
        if (m->lit_ascii) {
            /* Numbers and booleans are lowercase ASCII already. */
            const char *low = v->t == VT_STR ? lowered(ctx, v->id, s, n) : s;

            if (low)
                return lit_match(m->ptype, low, n, m->lit, m->litlen);
        }
    }
    return re_match(ctx, m->re, s, n);
}

static int is_number(const struct val *v)
{
    return v->t == VT_INT || v->t == VT_REAL;
}

static double number(const struct val *v)
{
    return v->t == VT_INT ? (double)v->i : v->d;
}

static int as_number(const struct val *v, double *d)
{
    if (is_number(v)) {
        *d = number(v);
        return 0;
    }
    if (v->t == VT_STR)
        return kta_rules_parse_decimal(v->s, v->n, d);
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
static int match_value(struct kta_eval_ctx *ctx, const struct kta_matcher *m, const struct val *v)
{
    const char *s;
    size_t n;
    double d;

    switch (m->kind) {
    case KTA_M_NULL:
        return v->t == VT_NULL;
    case KTA_M_PATTERN:
        if (m->is_num && is_number(v)) {
            if (m->is_int && v->t == VT_INT)
                return v->i == m->ival;
            return number(v) == m->num;
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
        return v->t == VT_STR && match_cidr(m, v->s, v->n);
    default:
        return 0;
    }
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

static int values_equal(struct kta_eval_ctx *ctx, const struct val *a, const struct val *b)
{
    const char *sa, *sb;
    size_t na, nb;

    if (a->t == VT_NULL || b->t == VT_NULL)
        return a->t == b->t;
    if (is_number(a) && is_number(b)) {
        if (a->t == VT_INT && b->t == VT_INT)
            return a->i == b->i;
        return number(a) == number(b);
    }
    sa = value_text(ctx, 0, a, &na);
    sb = value_text(ctx, 1, b, &nb);
    return sa && sb && text_equal(ctx, sa, na, sb, nb);
}

/* ---- candidate values: jansson events ---------------------------------- */

static struct val *cset_push(struct cset *cs)
{
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? cs->cap * 2 : 16;
        cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
    }
    return &cs->v[cs->n++];
}

static void jval(const json_t *j, struct val *v)
{
    v->id = j;
    v->s = NULL;
    v->n = 0;
    switch (json_typeof(j)) {
    case JSON_STRING:
        v->t = VT_STR;
        v->s = json_string_value(j);
        v->n = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->t = VT_INT;
        v->i = json_integer_value(j);
        break;
    case JSON_REAL:
        v->t = VT_REAL;
        v->d = json_real_value(j);
        break;
    case JSON_TRUE:
        v->t = VT_TRUE;
        break;
    case JSON_FALSE:
        v->t = VT_FALSE;
        break;
    case JSON_NULL:
        v->t = VT_NULL;
        break;
    default:
        v->t = VT_OBJ;
        break;
    }
}

/* An array at the end of a path contributes each of its elements. */
static void walk_end(const json_t *v, struct cset *cs)
{
    size_t i;

    if (json_is_array(v)) {
        for (i = 0; i < json_array_size(v); i++)
            walk_end(json_array_get(v, i), cs);
        return;
    }
    jval(v, cset_push(cs));
}

static void walk(const json_t *cur, const struct kta_fpath *p, size_t seg, struct cset *cs)
{
    const json_t *child;
    size_t i;

    if (json_is_array(cur)) {
        for (i = 0; i < json_array_size(cur); i++)
            walk(json_array_get(cur, i), p, seg, cs);
        return;
    }
    if (!json_is_object(cur))
        return;
    child = json_object_getn(cur, p->full + p->seg_off[seg], p->seg_len[seg]);
    if (!child)
        return;
    if (seg + 1 == p->nseg) {
        cs->present = 1;
        walk_end(child, cs);
        return;
    }
    walk(child, p, seg + 1, cs);
}

/* Every candidate value of the field (docs/rules.md §4-13 lookup): for each
 * mapped path, a flat key equal to the whole path wins, else the dotted
 * path is followed through nested objects and arrays. */
static void lookup_json(const json_t *ev, const struct kta_fpath *paths, size_t npaths,
                        struct cset *cs)
{
    for (size_t i = 0; i < npaths; i++) {
        const json_t *v = json_object_getn(ev, paths[i].full, paths[i].len);

        if (v) {
            cs->present = 1;
            walk_end(v, cs);
        } else {
            walk(ev, &paths[i], 0, cs);
        }
    }
}

/* Every string value in v (not object keys), at any depth. */
static void strings_json(const json_t *v, struct cset *cs)
{
    const char *key;
    json_t *val;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_STRING:
        jval(v, cset_push(cs));
        break;
    case JSON_ARRAY:
        for (i = 0; i < json_array_size(v); i++)
            strings_json(json_array_get(v, i), cs);
        break;
    case JSON_OBJECT:
        json_object_foreach((json_t *)v, key, val)
            strings_json(val, cs);
        break;
    default:
        break;
    }
}

/* ---- candidate values: PLAIN records ----------------------------------- */

/* The value of view entry i as a struct val; strings with escapes are
 * unescaped once per event into ctx->unesc, reserved for the whole record
 * so that earlier views never move. */
static void view_val(struct kta_eval_ctx *ctx, int i, struct val *v)
{
    const struct kta_event_val *e = &ctx->view.v[i];
    const char *s = ctx->data + e->off;

    v->id = e;
    v->s = NULL;
    v->n = 0;
    switch (e->type) {
    case KTA_EV_STR:
        v->t = VT_STR;
        if (!e->esc) {
            v->s = s;
            v->n = e->len;
            break;
        }
        if (ctx->ugen[i] != ctx->gen) {
            char *out = ctx->unesc.data + ctx->unesc.len;
            size_t k, o = 0;

            for (k = 0; k < e->len; k++) {
                char c = s[k];

                if (c == '\\') {
                    switch (s[++k]) {
                    case 'b': c = '\b'; break;
                    case 'f': c = '\f'; break;
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    default:  c = s[k]; break;   /* \" and \\ */
                    }
                }
                out[o++] = c;
            }
            out[o] = '\0';
            ctx->uoff[i] = ctx->unesc.len;
            ctx->unesc.len += o + 1;
            ctx->ugen[i] = ctx->gen;
            v->n = o;
        } else {
            v->n = strlen(ctx->unesc.data + ctx->uoff[i]);
        }
        v->s = ctx->unesc.data + ctx->uoff[i];
        break;
    case KTA_EV_INT: {
        size_t k = 0;
        int neg = s[0] == '-';
        long long x = 0;

        for (k = (size_t)neg; k < e->len; k++)
            x = x * 10 + (s[k] - '0');
        v->t = VT_INT;
        v->i = neg ? -x : x;
        v->s = s;
        v->n = e->len;
        break;
    }
    case KTA_EV_TRUE:
        v->t = VT_TRUE;
        break;
    case KTA_EV_FALSE:
        v->t = VT_FALSE;
        break;
    case KTA_EV_NULL:
        v->t = VT_NULL;
        break;
    default:
        v->t = VT_OBJ;
        break;
    }
}

static void lookup_view(struct kta_eval_ctx *ctx, const struct kta_fpath *paths, size_t npaths,
                        struct cset *cs)
{
    for (size_t i = 0; i < npaths; i++) {
        const struct phead *h;
        int k;

        if (paths[i].id >= ctx->heads_cap)
            continue;
        h = &ctx->heads[paths[i].id];
        if (h->gen != ctx->gen)
            continue;
        k = h->flat >= 0 ? h->flat : h->nested;
        if (k >= 0)
            cs->present = 1;
        for (; k >= 0; k = ctx->next[k])
            if (ctx->view.v[k].type != KTA_EV_ARRAY)
                view_val(ctx, k, cset_push(cs));
    }
}

/* The current record is a PLAIN one, evaluated from ctx->view. */
static void raw_begin(struct kta_eval_ctx *ctx, const void *data, size_t len, size_t max_bytes,
                      json_t **evp)
{
    ctx->raw = 1;
    ctx->data = data;
    ctx->len = len;
    ctx->max_bytes = max_bytes;
    ctx->evp = evp;
}

/* Indexes the view of the current PLAIN record by path number, and lists
 * the path numbers that have a value (ctx->present). */
static void view_index(struct kta_eval_ctx *ctx, const struct kta_ruleset *rs)
{
    const struct kta_pathtab *pt = rs->paths;
    size_t i;

    if (ctx->heads_cap < pt->n) {
        ctx->heads = xrealloc(ctx->heads, pt->n * sizeof(*ctx->heads));
        memset(ctx->heads + ctx->heads_cap, 0, (pt->n - ctx->heads_cap) * sizeof(*ctx->heads));
        ctx->heads_cap = pt->n;
    }
    if (ctx->vals_cap < ctx->view.n) {
        size_t old = ctx->vals_cap;

        ctx->vals_cap = ctx->view.n * 2;
        ctx->next = xrealloc(ctx->next, ctx->vals_cap * sizeof(*ctx->next));
        ctx->ugen = xrealloc(ctx->ugen, ctx->vals_cap * sizeof(*ctx->ugen));
        ctx->uoff = xrealloc(ctx->uoff, ctx->vals_cap * sizeof(*ctx->uoff));
        memset(ctx->ugen + old, 0, (ctx->vals_cap - old) * sizeof(*ctx->ugen));
    }
    kta_buf_reset(&ctx->unesc);
    kta_buf_reserve(&ctx->unesc, ctx->len + 1);
    ctx->npresent = 0;
    for (i = 0; i < ctx->view.n; i++) {
        const struct kta_event_val *e = &ctx->view.v[i];
        struct phead *h;
        uint32_t id;
        int *head, *tail;

        if (e->reach == KTA_EV_NONE || pt->n == 0)
            continue;
        id = pathtab_find(pt, ctx->view.paths.data + e->path_off, e->path_len);
        if (id == UINT32_MAX)
            continue;
        h = &ctx->heads[id];
        if (h->gen != ctx->gen) {
            h->gen = ctx->gen;
            h->flat = h->flat_tail = h->nested = h->nested_tail = -1;
            if (ctx->npresent == ctx->present_cap) {
                ctx->present_cap = ctx->present_cap ? ctx->present_cap * 2 : 64;
                ctx->present = xrealloc(ctx->present, ctx->present_cap * sizeof(*ctx->present));
            }
            ctx->present[ctx->npresent++] = id;
        }
        head = e->reach == KTA_EV_FLAT ? &h->flat : &h->nested;
        tail = e->reach == KTA_EV_FLAT ? &h->flat_tail : &h->nested_tail;
        ctx->next[i] = -1;
        if (*tail >= 0)
            ctx->next[*tail] = (int)i;
        else
            *head = (int)i;
        *tail = (int)i;
    }
}

/* ---- conditions -------------------------------------------------------- */

static struct cset *gather(struct kta_eval_ctx *ctx, const json_t *ev,
                           const struct kta_fpath *paths, size_t npaths, int slot)
{
    struct cset *cs = &ctx->cs[slot];

    cs->n = 0;
    cs->present = 0;
    if (ctx->raw)
        lookup_view(ctx, paths, npaths, cs);
    else
        lookup_json(ev, paths, npaths, cs);
    return cs;
}

static struct cset *strings(struct kta_eval_ctx *ctx, const json_t *ev)
{
    struct cset *cs = &ctx->strs;

    if (ctx->strs_gen == ctx->gen)
        return cs;
    cs->n = 0;
    if (ctx->raw) {
        for (size_t i = 0; i < ctx->view.n; i++)
            if (ctx->view.v[i].type == KTA_EV_STR)
                view_val(ctx, (int)i, cset_push(cs));
    } else {
        strings_json(ev, cs);
    }
    ctx->strs_gen = ctx->gen;
    return cs;
}

/* exists and fieldref look at the field itself, not at each candidate. */
static int eval_special(struct kta_eval_ctx *ctx, const json_t *ev, const struct kta_fcond *fc,
                        const struct kta_matcher *m)
{
    struct cset *a = gather(ctx, ev, fc->paths, fc->npaths, 0), *b;

    if (m->kind == KTA_M_EXISTS)
        return a->present == m->exists;
    if (a->n == 0)
        return 0;
    b = gather(ctx, ev, m->ref, m->nref, 1);
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].t == VT_OBJ)
            continue;
        for (size_t j = 0; j < b->n; j++)
            if (values_equal(ctx, &a->v[i], &b->v[j]))
                return 1;
    }
    return 0;
}

static int eval_fcond(struct kta_eval_ctx *ctx, const json_t *ev, const struct kta_fcond *fc)
{
    const struct cset *cs;
    size_t i, j;

    if (fc->special) {
        for (i = 0; i < fc->nvals; i++) {
            int r = !!eval_special(ctx, ev, fc, &fc->vals[i]);

            if (fc->all == !r)
                return r;
        }
        return fc->all;
    }
    /* Look the field up once, then try every value on its candidates. */
    cs = fc->keyword ? strings(ctx, ev) : gather(ctx, ev, fc->paths, fc->npaths, 0);
    if (cs->n == 0)   /* a missing field: only null values can hold */
        return fc->all ? fc->nnull == fc->nvals : fc->nnull > 0;
    for (i = 0; i < fc->nvals; i++) {
        const struct kta_matcher *m = &fc->vals[i];
        int r = 0;

        for (j = 0; j < cs->n && !r; j++)
            r = !!match_value(ctx, m, &cs->v[j]);
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
static int scope_one(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, const json_t *ev,
                     size_t scope)
{
    signed char *sm = &ctx->scope_memo[scope];

    if (*sm < 0) {
        const struct kta_rule *w = rs->scopes[scope];

        memset(ctx->memo, -1, w->nsearches);
        ctx->err = 0;
        *sm = (signed char)(eval_cond(ctx, w, ev, w->cond) && !ctx->err);
    }
    return *sm;
}

static int scope_holds(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, const json_t *ev,
                       size_t i)
{
    const struct kta_rule_hot *h = &rs->hot[i];

    if (h->nscope != 255) {
        for (size_t k = 0; k < h->nscope; k++)
            if (!scope_one(rs, ctx, ev, h->scope[k]))
                return 0;
        return 1;
    }
    for (size_t k = 0; k < rs->rules[i]->nscope; k++)
        if (!scope_one(rs, ctx, ev, rs->rules[i]->scope[k]))
            return 0;
    return 1;
}

/* Evaluates the enabled rules whose bit is set in cand (every rule when
 * cand is NULL), in load order. */
static void begin_event(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx)
{
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
    if (ctx->raw)
        view_index(ctx, rs);
}

/* begun: begin_event has run for this event already. */
static size_t eval_rules(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                         const json_t *ev, const uint64_t *cand, kta_hit_fn *fn, void *opaque,
                         int begun)
{
    size_t i, hits = 0;

    if (!begun)
        begin_event(rs, ctx);
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
        if (!rs->hot[i].enabled || (rs->hot[i].nscope && !scope_holds(rs, ctx, ev, i)))
            continue;
        r = rs->rules[i];
        ctx->stats.rules++;
        memset(ctx->memo, -1, r->nsearches);
        ctx->err = 0;
        if (eval_cond(ctx, r, ev, r->cond) && !ctx->err) {
            hits++;
            if (ctx->raw && !*ctx->evp) {
                /* A hit needs the event as an object (hit fields, console
                 * lines); a PLAIN record always decodes. */
                enum kta_event_error err;
                char detail[128];

                ctx->stats.parsed++;
                *ctx->evp = kta_event_decode(ctx->data, ctx->len, ctx->max_bytes, &err,
                                             detail, sizeof(detail));
            }
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
    return eval_rules(rs, ctx, ev, NULL, fn, opaque, 0);
}

long kta_eval_raw(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                  const void *data, size_t len, size_t max_bytes,
                  kta_hit_fn *fn, void *opaque, json_t **evp,
                  enum kta_event_error *err, char *detail, size_t detail_size)
{
    const struct kta_prefilter *pf = rs ? rs->pf : NULL;
    const uint64_t *cand = NULL;
    enum kta_event_check chk;
    int viewed;
    json_t *ev;
    size_t hits;

    *evp = NULL;
    *err = KTA_EVENT_OK;
    ctx->stats.events++;
    /* Size limits first, as kta_event_decode has them; then only a
     * record that the check calls PLAIN may skip the parse, because only
     * there do the literals prove anything and is validity certain. */
    /* With log sources nearly every record has candidates (its source's
     * rules), so the view is built in the same pass as the check; without
     * them most records have none and the bare check is cheaper. */
    viewed = rs && rs->nscopes > 0;
    if (rs && !ctx->no_prefilter && len > 0 && (!max_bytes || len <= max_bytes) &&
        (chk = kta_event_scan(data, len, viewed ? &ctx->view : NULL)) != KTA_EVENT_UNSURE) {
        int begun = 0;

        if (viewed && ctx->view.ok) {
            /* Index the values first: the prefilter learns from them which
             * fields are present. */
            raw_begin(ctx, data, len, max_bytes, evp);
            begin_event(rs, ctx);
            begun = 1;
        }
        if (pf) {
            size_t words = kta_prefilter_words(pf);

            if (ctx->cand_cap < words) {
                ctx->cand = xrealloc(ctx->cand, words * sizeof(*ctx->cand));
                ctx->cand_cap = words;
            }
            if (kta_prefilter_scan(pf, &ctx->pfs, data, len, chk == KTA_EVENT_PLAIN_UTF8,
                                   begun ? ctx->present : NULL, ctx->npresent,
                                   ctx->cand) == 0) {
                ctx->raw = 0;
                return 0;
            }
            cand = ctx->cand;
        }
        /* Candidates left: evaluate them on the record's values, without
         * a JSON tree, unless the view cannot stand for jansson's. */
        if (!viewed)
            kta_event_scan(data, len, &ctx->view);
        if (ctx->view.ok) {
            if (!begun)
                raw_begin(ctx, data, len, max_bytes, evp);
            hits = eval_rules(rs, ctx, NULL, cand, fn, opaque, begun);
            ctx->raw = 0;
            return (long)hits;
        }
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
    hits = rs ? eval_rules(rs, ctx, ev, cand, fn, opaque, 0) : 0;
    return (long)hits;
}
