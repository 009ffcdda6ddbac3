/* SPDX-License-Identifier: Apache-2.0 */
/*
 * prefilter: compiled ruleset -> one multi-literal scanner over the raw
 * record bytes, so that most rules are shown not to match an event without
 * being evaluated (the only module that uses Hyperscan).  Built once per
 * ruleset by kta_ruleset_new; eval.c scans each record with it and
 * evaluates only the candidates it reports.
 *
 * For each rule it derives a set of literals at least one of which occurs
 * in the raw bytes of any event the rule matches, walking the condition:
 * OR and "1 of" take the union of their parts, AND and "all of" take the
 * part with the best literals, and anything it cannot prove (`not`, null,
 * exists: false, a float value) makes the part "always".  A regex gives
 * the literal runs every match contains (rules_compile.c).  A value it
 * cannot read literals from (cidr, gt/lt, fieldref, `*`, a literal of up
 * to three ASCII bytes) still needs its field: the field's key text in the record,
 * or, with log sources (by_view), a pseudo-literal per path number that
 * eval.c sets from the record's value list.  A rule whose whole condition
 * is "always" is a candidate for every event.  The proof relies on kta_event_check's PLAIN verdicts: the
 * text of every value appears in the record as written, with only the
 * JSON escapes \" \\ \b \f \n \r \t, so the literals are scanned in that
 * escaped form, caselessly.  ASCII caselessness is enough: a rule's
 * non-ASCII characters end a literal run unless they have no other case,
 * and no character a PLAIN record may hold folds to an ASCII one.  A value that needs a non-ASCII
 * character that folds to no ASCII one (emoji, homoglyphs) needs the
 * pseudo-literal LIT_NONASCII instead, which "occurs" exactly in
 * KTA_EVENT_PLAIN_UTF8 records.  It never parses JSON and never decides a
 * match.
 */
#include "rules_int.h"

#include <ctype.h>
#include <hs/hs.h>
#include <stdlib.h>
#include <string.h>

struct kta_prefilter {
    hs_database_t *db;          /* NULL when only pseudo-literals are needed */
    uint32_t      *path_lit;    /* path number -> its key pseudo-literal, 0: none */
    size_t         npaths;
    size_t         nwords;      /* bitmap words: one bit per rule */
    uint64_t      *always;      /* rules that are candidates for every record */
    size_t         nalways;
    size_t         nlits;
    uint32_t      *lit_off;     /* literal i -> rules lit_rules[lit_off[i]..lit_off[i+1]) */
    uint32_t      *lit_rules;
    uint64_t       serial;      /* tells scratch space which database it fits */
};

struct kta_prefilter_scratch {
    hs_scratch_t *hs;
    uint64_t      serial;       /* of the last prefilter it was grown for */
};

/* ---- literal sets ------------------------------------------------------ */

/* Literal 0 is not scanned for: it "occurs" in every record whose check
 * said KTA_EVENT_PLAIN_UTF8, for values that need a non-ASCII character. */
#define LIT_NONASCII 0

/* Shortest value literal worth scanning for. */
#define MIN_LITERAL 4

/* What one part of a rule needs: literal indices into the builder's
 * table, or always (n == 0 && always). */
struct need {
    int     always;
    size_t *lit;
    size_t  n;
    size_t  minlen;   /* shortest literal: the quality of the set */
};

struct builder {
    struct kta_buf *text;       /* escaped literals */
    size_t          n, cap;
    size_t         *hash;       /* open addressing: index + 1, 0 empty */
    size_t          hcap;
    int             by_view;    /* field keys: pseudo-literals per path number */
};

/* A pseudo-literal "the field with path number id has a value": its text
 * starts with a byte no escaped literal holds, so it is never scanned
 * for; the caller reports the present paths (kta_prefilter_scan). */
#define PATH_MARK '\x01'

static uint64_t hash_bytes(const char *s, size_t n)
{
    return kta_fnv1a(KTA_FNV_SEED, s, n);
}

/* The index of literal s (already escaped and lowercased), added once. */
static size_t lit_intern(struct builder *b, const char *s, size_t n)
{
    size_t i, slot;

    if (2 * (b->n + 1) > b->hcap) {
        size_t ocap = b->hcap, *old = b->hash;

        b->hcap = b->hcap ? b->hcap * 2 : 1024;
        b->hash = xcalloc(b->hcap, sizeof(*b->hash));
        for (i = 0; i < ocap; i++) {
            if (!old[i])
                continue;
            slot = hash_bytes(b->text[old[i] - 1].data, b->text[old[i] - 1].len) & (b->hcap - 1);
            while (b->hash[slot])
                slot = (slot + 1) & (b->hcap - 1);
            b->hash[slot] = old[i];
        }
        free(old);
    }
    slot = hash_bytes(s, n) & (b->hcap - 1);
    while (b->hash[slot]) {
        const struct kta_buf *t = &b->text[b->hash[slot] - 1];

        if (t->len == n && memcmp(t->data, s, n) == 0)
            return b->hash[slot] - 1;
        slot = (slot + 1) & (b->hcap - 1);
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->text = xrealloc(b->text, b->cap * sizeof(*b->text));
    }
    /* Exact size, not kta_buf's 256-byte start: tens of thousands of
     * literals stay allocated through the Hyperscan compile, kta's peak. */
    b->text[b->n].data = xmalloc(n + 1);
    memcpy(b->text[b->n].data, s, n);
    b->text[b->n].data[n] = '\0';
    b->text[b->n].len = n;
    b->text[b->n].cap = n + 1;
    b->hash[slot] = ++b->n;
    return b->n - 1;
}

static void need_free(struct need *nd)
{
    free(nd->lit);
    nd->lit = NULL;
    nd->n = 0;
}

static void need_always(struct need *nd)
{
    need_free(nd);
    nd->always = 1;
}

/* dst |= src (OR): the union, or always when either side is. */
static void need_union(struct need *dst, struct need *src)
{
    if (dst->always || src->always) {
        need_always(dst);
    } else {
        dst->lit = xrealloc(dst->lit, (dst->n + src->n) * sizeof(*dst->lit));
        memcpy(dst->lit + dst->n, src->lit, src->n * sizeof(*src->lit));
        dst->n += src->n;
        if (src->minlen < dst->minlen)
            dst->minlen = src->minlen;
    }
    need_free(src);
}

/* Is a better than b as the one part of an AND to require?  Longer
 * shortest literals occur less often by chance; then fewer literals. */
static int need_better(const struct need *a, const struct need *b)
{
    size_t la = a->minlen > 12 ? 12 : a->minlen, lb = b->minlen > 12 ? 12 : b->minlen;

    if (a->always != b->always)
        return !a->always;
    return la != lb ? la > lb : a->n < b->n;
}

/* dst &= src (AND): keep the better side. */
static void need_and(struct need *dst, struct need *src)
{
    if (need_better(src, dst)) {
        need_free(dst);
        *dst = *src;
    } else {
        need_free(src);
    }
}

static void need_init(struct need *nd, int always)
{
    memset(nd, 0, sizeof(*nd));
    nd->always = always;
    nd->minlen = SIZE_MAX;
}

/* The JSON spelling of text inside a PLAIN record (see the top). */
static void escape_lit(struct kta_buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        switch (c) {
        case '"':  kta_buf_append(out, "\\\"", 2); break;
        case '\\': kta_buf_append(out, "\\\\", 2); break;
        case '\b': kta_buf_append(out, "\\b", 2); break;
        case '\f': kta_buf_append(out, "\\f", 2); break;
        case '\n': kta_buf_append(out, "\\n", 2); break;
        case '\r': kta_buf_append(out, "\\r", 2); break;
        case '\t': kta_buf_append(out, "\\t", 2); break;
        default:
            if (c < 0x20) {
                /* Not in any PLAIN record: a record holding it is checked
                 * as UNSURE and evaluated in full, so any spelling will do. */
                char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                kta_buf_append(out, esc, 6);
            } else {
                kta_buf_append(out, &c, 1);
            }
        }
    }
}

static void need_matcher(struct builder *b, const struct kta_matcher *m, struct need *nd)
{
    struct kta_buf esc = { 0 };
    int i;

    /* A float rule value equals an integer event value numerically
     * ("1.0" vs 1) without sharing its text. */
    if (m->kind == KTA_M_PATTERN && m->need_never && m->nneed == 0) {
        /* Only a record with non-ASCII text can match. */
        need_init(nd, 0);
        nd->lit = xmalloc(sizeof(*nd->lit));
        nd->lit[nd->n++] = LIT_NONASCII;
        nd->minlen = 1;
        return;
    }
    /* An ASCII literal of up to three bytes ("1", "-e", ".sh") occurs in
     * many records by chance and costs the scanner more than it saves:
     * such a value needs only its field (need_fcond).  Non-ASCII ones are
     * rare in text whatever their length. */
    if ((m->kind != KTA_M_PATTERN && m->kind != KTA_M_REGEX) || m->nneed == 0 ||
        (m->kind == KTA_M_PATTERN && m->is_num && !m->is_int)) {
        need_init(nd, 1);
        return;
    }
    for (i = 0; i < m->nneed; i++) {
        if (m->needlen[i] < MIN_LITERAL && (unsigned char)m->need[i][0] < 0x80) {
            need_init(nd, 1);
            return;
        }
    }
    need_init(nd, 0);
    nd->lit = xmalloc((size_t)m->nneed * sizeof(*nd->lit));
    for (i = 0; i < m->nneed; i++) {
        kta_buf_reset(&esc);
        escape_lit(&esc, m->need[i], m->needlen[i]);
        nd->lit[nd->n++] = lit_intern(b, esc.data, esc.len);
        if (esc.len < nd->minlen)
            nd->minlen = esc.len;
    }
    kta_buf_free(&esc);
}

/* The field's own key: a condition that cannot hold on a missing field
 * needs the last segment of one of its paths as a key in the record (the
 * flat key "a.b.c" ends in it too), so its text followed by '"'.  Keys are
 * common, so such a set ranks below any value literal. */
static void need_key(struct builder *b, const struct kta_fcond *fc, struct need *nd)
{
    struct kta_buf esc = { 0 };

    need_init(nd, fc->npaths == 0);
    for (size_t i = 0; i < fc->npaths && !nd->always; i++) {
        const struct kta_fpath *p = &fc->paths[i];
        size_t last = p->nseg - 1;

        kta_buf_reset(&esc);
        if (b->by_view) {
            char mark[16];
            int n = snprintf(mark, sizeof(mark), "%c%u", PATH_MARK, (unsigned)p->id);

            kta_buf_append(&esc, mark, (size_t)n);
        } else {
            if (p->seg_len[last] == 0) {
                need_always(nd);
                break;
            }
            escape_lit(&esc, p->full + p->seg_off[last], p->seg_len[last]);
            for (size_t k = 0; k < esc.len; k++)
                esc.data[k] = (char)tolower((unsigned char)esc.data[k]);
            kta_buf_append(&esc, "\"", 1);
        }
        nd->lit = xrealloc(nd->lit, (nd->n + 1) * sizeof(*nd->lit));
        nd->lit[nd->n++] = lit_intern(b, esc.data, esc.len);
    }
    nd->minlen = 1;
    kta_buf_free(&esc);
}

static void need_fcond(struct builder *b, const struct kta_fcond *fc, struct need *nd)
{
    struct need v;
    int missing_holds;

    need_init(nd, fc->nvals == 0);
    if (nd->always)
        return;
    if (fc->special) {
        /* exists and fieldref hold or fail on the field as a whole */
        need_init(nd, 1);
        missing_holds = 0;
        for (size_t i = 0; i < fc->nvals; i++)
            missing_holds |= fc->vals[i].kind == KTA_M_EXISTS && !fc->vals[i].exists;
    } else {
        for (size_t i = 0; i < fc->nvals; i++) {
            need_matcher(b, &fc->vals[i], &v);
            if (i == 0)
                *nd = v;
            else if (fc->all)
                need_and(nd, &v);
            else
                need_union(nd, &v);
        }
        missing_holds = fc->all ? fc->nnull == fc->nvals : fc->nnull > 0;
    }
    if (!fc->keyword && !missing_holds) {
        need_key(b, fc, &v);
        need_and(nd, &v);
    }
}

static void need_search(struct builder *b, const struct kta_search *s, struct need *nd)
{
    struct need map, c;

    need_init(nd, 0);
    for (size_t i = 0; i < s->nmaps; i++) {
        need_init(&map, 1);
        for (size_t j = 0; j < s->maps[i].nconds; j++) {
            need_fcond(b, &s->maps[i].conds[j], &c);
            need_and(&map, &c);
        }
        need_union(nd, &map);
    }
    if (s->nmaps == 0)
        need_always(nd);
}

static void need_cond(struct builder *b, const struct kta_rule *r, const struct kta_cnode *c,
                      struct need *nd)
{
    struct need kid;

    switch (c->op) {
    case KTA_C_REF:
        need_search(b, &r->searches[c->ref], nd);
        return;
    case KTA_C_NOT:
        /* `not x` holds exactly when x's literals are absent. */
        need_init(nd, 1);
        return;
    case KTA_C_AND:
        need_init(nd, 1);
        for (size_t i = 0; i < c->nkids; i++) {
            need_cond(b, r, c->kids[i], &kid);
            need_and(nd, &kid);
        }
        return;
    case KTA_C_OR:
        need_init(nd, c->nkids == 0);
        for (size_t i = 0; i < c->nkids; i++) {
            need_cond(b, r, c->kids[i], &kid);
            need_union(nd, &kid);
        }
        return;
    }
    need_init(nd, 1);
}

/* ---- building ---------------------------------------------------------- */

static atomic_uint_fast64_t serials = 1;

struct kta_prefilter *kta_prefilter_new(struct kta_rule *const *rules, size_t nrules,
                                        size_t npaths, int by_view)
{
    struct kta_prefilter *pf = xcalloc(1, sizeof(*pf));
    struct builder b = { .by_view = by_view };
    struct need *needs = xcalloc(nrules ? nrules : 1, sizeof(*needs));
    const char **exprs = NULL;
    unsigned *flags = NULL, *ids = NULL;
    size_t *lens = NULL, *count = NULL, i, j, nlit_rules = 0;
    hs_compile_error_t *cerr = NULL;
    hs_error_t rc;

    pf->nwords = (nrules + 63) / 64;
    pf->always = xcalloc(pf->nwords ? pf->nwords : 1, sizeof(*pf->always));
    pf->serial = atomic_fetch_add(&serials, 1);
    lit_intern(&b, "", 0);   /* LIT_NONASCII */
    for (i = 0; i < nrules; i++) {
        if (!rules[i]->enabled || !rules[i]->cond) {
            need_init(&needs[i], 0);   /* never matches: never a candidate */
            continue;
        }
        need_cond(&b, rules[i], rules[i]->cond, &needs[i]);
        if (needs[i].always) {
            pf->always[i / 64] |= (uint64_t)1 << (i % 64);
            pf->nalways++;
        }
        nlit_rules += needs[i].n;
    }
    pf->nlits = b.n - 1;
    if (b.n <= 1)
        goto fail;
    if (hs_valid_platform() != HS_SUCCESS) {
        kta_log(KTA_LOG_WARN, "prefilter disabled: this CPU lacks what Hyperscan needs (SSSE3)");
        goto fail;
    }

    /* literal -> rules, as a CSR table; a rule that needs the same
     * literal twice is listed once. */
    count = xcalloc(b.n + 1, sizeof(*count));
    for (i = 0; i < nrules; i++)
        for (j = 0; j < needs[i].n; j++)
            count[needs[i].lit[j]]++;
    pf->lit_off = xcalloc(b.n + 1, sizeof(*pf->lit_off));
    for (i = 0; i < b.n; i++)
        pf->lit_off[i + 1] = pf->lit_off[i] + (uint32_t)count[i];
    pf->lit_rules = xcalloc(nlit_rules ? nlit_rules : 1, sizeof(*pf->lit_rules));
    memset(count, 0, (b.n + 1) * sizeof(*count));
    for (i = 0; i < nrules; i++) {
        for (j = 0; j < needs[i].n; j++) {
            size_t l = needs[i].lit[j], k;
            uint32_t *rl = pf->lit_rules + pf->lit_off[l];

            for (k = 0; k < count[l] && rl[k] != i; k++)
                ;
            if (k == count[l])
                rl[count[l]++] = (uint32_t)i;
        }
    }
    for (i = 0, j = 0; i < b.n; i++) {   /* close the gaps */
        memmove(pf->lit_rules + j, pf->lit_rules + pf->lit_off[i],
                count[i] * sizeof(*pf->lit_rules));
        pf->lit_off[i] = (uint32_t)j;
        j += count[i];
    }
    pf->lit_off[b.n] = (uint32_t)j;

    exprs = xcalloc(b.n, sizeof(*exprs));
    flags = xcalloc(b.n, sizeof(*flags));
    ids = xcalloc(b.n, sizeof(*ids));
    lens = xcalloc(b.n, sizeof(*lens));
    pf->npaths = npaths;
    pf->path_lit = xcalloc(npaths + 1, sizeof(*pf->path_lit));
    for (i = 1, j = 0; i < b.n; i++) {
        if (b.text[i].data[0] == PATH_MARK) {
            unsigned long id = strtoul(b.text[i].data + 1, NULL, 10);

            if (id < npaths)
                pf->path_lit[id] = (uint32_t)i;
            continue;
        }
        exprs[j] = b.text[i].data;
        lens[j] = b.text[i].len;
        flags[j] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[j++] = (unsigned)i;
    }
    rc = j == 0 ? HS_SUCCESS :
         hs_compile_lit_multi(exprs, flags, ids, lens, (unsigned)j, HS_MODE_BLOCK, NULL,
                              &pf->db, &cerr);
    if (rc != HS_SUCCESS) {
        kta_log(KTA_LOG_WARN, "prefilter disabled: Hyperscan: %s",
                cerr && cerr->message ? cerr->message : "compile failed");
        hs_free_compile_error(cerr);
        goto fail;
    }
    goto out;

fail:
    kta_prefilter_free(pf);
    pf = NULL;
out:
    for (i = 0; i < nrules; i++)
        need_free(&needs[i]);
    free(needs);
    for (i = 0; i < b.n; i++)
        kta_buf_free(&b.text[i]);
    free(b.text);
    free(b.hash);
    free(exprs);
    free(flags);
    free(ids);
    free(lens);
    free(count);
    return pf;
}

void kta_prefilter_free(struct kta_prefilter *pf)
{
    if (!pf)
        return;
    hs_free_database(pf->db);
    free(pf->path_lit);
    free(pf->always);
    free(pf->lit_off);
    free(pf->lit_rules);
    free(pf);
}

size_t kta_prefilter_words(const struct kta_prefilter *pf)
{
    return pf->nwords;
}

size_t kta_prefilter_always(const struct kta_prefilter *pf)
{
    return pf->nalways;
}

size_t kta_prefilter_literals(const struct kta_prefilter *pf)
{
    return pf->nlits;
}

void kta_ruleset_prefilter_info(const struct kta_ruleset *rs, size_t *literals,
                                size_t *always)
{
    *literals = rs && rs->pf ? rs->pf->nlits : 0;
    *always = rs && rs->pf ? rs->pf->nalways : 0;
}

/* ---- scanning ---------------------------------------------------------- */

struct scan_state {
    const struct kta_prefilter *pf;
    uint64_t                   *cand;
};

static int on_literal(unsigned id, unsigned long long from, unsigned long long to,
                      unsigned flags, void *opaque)
{
    struct scan_state *st = opaque;
    const struct kta_prefilter *pf = st->pf;

    (void)from;
    (void)to;
    (void)flags;
    for (uint32_t k = pf->lit_off[id]; k < pf->lit_off[id + 1]; k++)
        st->cand[pf->lit_rules[k] / 64] |= (uint64_t)1 << (pf->lit_rules[k] % 64);
    return 0;
}

void kta_prefilter_scratch_free(struct kta_prefilter_scratch *sc)
{
    if (!sc)
        return;
    hs_free_scratch(sc->hs);
    free(sc);
}

size_t kta_prefilter_scan(const struct kta_prefilter *pf, struct kta_prefilter_scratch **scp,
                          const void *data, size_t len, int nonascii,
                          const uint32_t *present, size_t npresent, uint64_t *cand)
{
    struct kta_prefilter_scratch *sc = *scp;
    struct scan_state st = { .pf = pf, .cand = cand };
    uint64_t any = 0;
    size_t i;

    memcpy(cand, pf->always, pf->nwords * sizeof(*cand));
    if (!sc)
        sc = *scp = xcalloc(1, sizeof(*sc));
    if (pf->db && sc->serial != pf->serial) {
        /* Grows the scratch space when this database needs more. */
        if (hs_alloc_scratch(pf->db, &sc->hs) != HS_SUCCESS)
            goto all;
        sc->serial = pf->serial;
    }
    if (pf->db && (len > UINT32_MAX ||
                   hs_scan(pf->db, data, (unsigned)len, 0, sc->hs, on_literal, &st) != HS_SUCCESS))
        goto all;
    if (nonascii)
        on_literal(LIT_NONASCII, 0, 0, 0, &st);
    if (!present && pf->npaths) {
        /* Which fields are present is unknown: all of them may be. */
        for (i = 0; i < pf->npaths; i++)
            if (pf->path_lit[i])
                on_literal(pf->path_lit[i], 0, 0, 0, &st);
    }
    for (i = 0; present && i < npresent; i++)
        if (present[i] < pf->npaths && pf->path_lit[present[i]])
            on_literal(pf->path_lit[present[i]], 0, 0, 0, &st);
    for (i = 0; i < pf->nwords; i++)
        any |= cand[i];
    return any != 0;
all:
    memset(cand, 0xff, pf->nwords * sizeof(*cand));
    return 1;
}
