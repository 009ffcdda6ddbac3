/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_compile: a rule's `detection` tree -> searches, matchers and a
 * condition tree that eval.c can run without ever looking at YAML again.
 * This is the only module that compiles PCRE2 patterns.
 *
 * It parses field keys and their modifiers (docs/rules.md §4-13), turns
 * wildcard values into either a plain literal test (the common
 * contains/startswith/endswith case) or an anchored PCRE2 pattern, and
 * parses the condition grammar of docs/rules.md §14 with a small
 * recursive-descent parser.  Modifiers that transform the value work on
 * its text before matching: `expand` first replaces each %NAME% with
 * every value the placeholders file gives it (one more value of the list
 * per expansion), then wide/utf16le/utf16be/utf16 re-encode the text as
 * UTF-16 bytes, which base64/base64offset turn into the base64 text that
 * is matched.  A UTF-16 modifier must be followed by a base64 one: event
 * strings are UTF-8, so raw UTF-16 could never match.  Everything it rejects is reported with the
 * file:line:col of the offending key, value or condition token.  It also
 * owns the ruleset's lifetime (reference count, accessors).  It never
 * reads files and never evaluates events.
 */
#include "rules_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- numbers ----------------------------------------------------------- */

void kta_rules_fmt_double(double d, char *out, size_t out_size)
{
    int prec;

    if (!isfinite(d)) {
        snprintf(out, out_size, "%s", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    for (prec = 1; prec <= 17; prec++) {
        snprintf(out, out_size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (!strpbrk(out, ".en")) {
        size_t n = strlen(out);

        if (n + 2 < out_size)
            memcpy(out + n, ".0", 3);
    }
}

/* ---- modifiers --------------------------------------------------------- */

enum {
    MOD_CONTAINS, MOD_STARTSWITH, MOD_ENDSWITH, MOD_ALL, MOD_CASED, MOD_RE,
    MOD_RE_I, MOD_RE_M, MOD_RE_S, MOD_EXISTS, MOD_GT, MOD_GTE, MOD_LT, MOD_LTE,
    MOD_CIDR, MOD_FIELDREF, MOD_BASE64, MOD_BASE64OFFSET, MOD_WINDASH,
    MOD_WIDE, MOD_UTF16LE, MOD_UTF16BE, MOD_UTF16, MOD_EXPAND, MOD_COUNT
};

#define B(m) (1u << (m))
#define STRING_SHAPE (B(MOD_CONTAINS) | B(MOD_STARTSWITH) | B(MOD_ENDSWITH))
#define CMP_MODS (B(MOD_GT) | B(MOD_GTE) | B(MOD_LT) | B(MOD_LTE))
#define RE_FLAGS (B(MOD_RE_I) | B(MOD_RE_M) | B(MOD_RE_S))
#define B64_MODS (B(MOD_BASE64) | B(MOD_BASE64OFFSET))
#define UTF16_MODS (B(MOD_WIDE) | B(MOD_UTF16LE) | B(MOD_UTF16BE) | B(MOD_UTF16))
/* What a plain string value may carry besides its shape. */
#define STR_XFORMS (B64_MODS | UTF16_MODS | B(MOD_WINDASH) | B(MOD_EXPAND))

/* name, and the modifiers it may be combined with.  A pair is accepted
 * only when each side allows the other. */
static const struct {
    const char *name;
    unsigned    with;
} mods[MOD_COUNT] = {
    [MOD_CONTAINS]     = { "contains", B(MOD_ALL) | B(MOD_CASED) | STR_XFORMS },
    [MOD_STARTSWITH]   = { "startswith", B(MOD_ALL) | B(MOD_CASED) | STR_XFORMS },
    [MOD_ENDSWITH]     = { "endswith", B(MOD_ALL) | B(MOD_CASED) | STR_XFORMS },
    [MOD_ALL]          = { "all", ~B(MOD_EXISTS) },
    [MOD_CASED]        = { "cased", STRING_SHAPE | B(MOD_ALL) | STR_XFORMS },
    [MOD_RE]           = { "re", B(MOD_ALL) | RE_FLAGS },
    [MOD_RE_I]         = { "i", B(MOD_ALL) | B(MOD_RE) | RE_FLAGS },
    [MOD_RE_M]         = { "m", B(MOD_ALL) | B(MOD_RE) | RE_FLAGS },
    [MOD_RE_S]         = { "s", B(MOD_ALL) | B(MOD_RE) | RE_FLAGS },
    [MOD_EXISTS]       = { "exists", 0 },
    [MOD_GT]           = { "gt", B(MOD_ALL) },
    [MOD_GTE]          = { "gte", B(MOD_ALL) },
    [MOD_LT]           = { "lt", B(MOD_ALL) },
    [MOD_LTE]          = { "lte", B(MOD_ALL) },
    [MOD_CIDR]         = { "cidr", B(MOD_ALL) },
    [MOD_FIELDREF]     = { "fieldref", B(MOD_ALL) },
    [MOD_BASE64]       = { "base64", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | UTF16_MODS |
                                     B(MOD_EXPAND) },
    [MOD_BASE64OFFSET] = { "base64offset", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) |
                                           UTF16_MODS | B(MOD_EXPAND) },
    [MOD_WINDASH]      = { "windash", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B(MOD_EXPAND) },
    /* One UTF-16 form at a time, and only on the way to base64. */
    [MOD_WIDE]         = { "wide", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B64_MODS |
                                   B(MOD_EXPAND) },
    [MOD_UTF16LE]      = { "utf16le", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B64_MODS |
                                      B(MOD_EXPAND) },
    [MOD_UTF16BE]      = { "utf16be", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B64_MODS |
                                      B(MOD_EXPAND) },
    [MOD_UTF16]        = { "utf16", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B64_MODS |
                                    B(MOD_EXPAND) },
    [MOD_EXPAND]       = { "expand", STRING_SHAPE | B(MOD_ALL) | B(MOD_CASED) | B64_MODS |
                                     UTF16_MODS | B(MOD_WINDASH) },
};

/* Column of byte offset off inside a scalar.  Exact for plain and quoted
 * one-line scalars (the common case); block scalars point at their start. */
static int subcol(const struct kta_ynode *n, size_t off)
{
    if (n->plain)
        return n->col + (int)off;
    if (n->quoted && !memchr(n->str, '\n', n->len))
        return n->col + 1 + (int)off;
    return n->col;
}

struct cc {
    const struct kta_compile_env *env;
    struct kta_rule              *r;
    int                           errors;
};

static void cc_error(struct cc *cc, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void cc_error(struct cc *cc, int line, int col, const char *fmt, ...)
{
    char what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    kta_rules_report(cc->env->diag, KTA_DIAG_ERROR, cc->env->file, line, col, cc->r->id,
                     "%s", what);
    cc->errors++;
}

/*
 * Splits key ("FIELD|mod|mod") into the field name (*field, *flen; may be
 * empty) and a modifier bit set.  Returns -1 after reporting.
 */
static int parse_mods(struct cc *cc, const struct kta_ynode *key, size_t *flen,
                      unsigned *set)
{
    const char *s = key->str, *bar = strchr(s, '|');
    size_t pos, utf16_pos = 0;
    int m, o, bad = 0;

    *set = 0;
    *flen = bar ? (size_t)(bar - s) : key->len;
    if (!bar)
        return 0;
    pos = *flen + 1;
    for (;;) {
        const char *start = s + pos, *end = strchr(start, '|');
        size_t n = end ? (size_t)(end - start) : strlen(start);

        for (m = 0; m < MOD_COUNT; m++)
            if (strlen(mods[m].name) == n && strncmp(mods[m].name, start, n) == 0)
                break;
        if (m == MOD_COUNT) {
            if (n == 0)
                cc_error(cc, key->line, subcol(key, pos), "empty modifier in '%s'", s);
            else
                cc_error(cc, key->line, subcol(key, pos), "unknown modifier '%.*s'",
                         (int)n, start);
            bad = 1;
        } else if (*set & B(m)) {
            cc_error(cc, key->line, subcol(key, pos), "modifier '%s' given twice",
                     mods[m].name);
            bad = 1;
        } else if ((m == MOD_RE_I || m == MOD_RE_M || m == MOD_RE_S) && !(*set & B(MOD_RE))) {
            cc_error(cc, key->line, subcol(key, pos),
                     "modifier '%s' is only valid after 're'", mods[m].name);
            bad = 1;
        } else if ((B(m) & UTF16_MODS) && (*set & B64_MODS)) {
            /* base64 of the text, then UTF-16 of that, is nothing a
             * JSON string holds: the order is part of the meaning. */
            cc_error(cc, key->line, subcol(key, pos), "modifier '%s' must come before '%s'",
                     mods[m].name, (*set & B(MOD_BASE64)) ? "base64" : "base64offset");
            bad = 1;
        } else {
            for (o = 0; o < MOD_COUNT; o++)
                if ((*set & B(o)) && (!(mods[m].with & B(o)) || !(mods[o].with & B(m))))
                    break;
            if (o < MOD_COUNT) {
                cc_error(cc, key->line, subcol(key, pos),
                         "modifier '%s' cannot be combined with '%s'", mods[m].name,
                         mods[o].name);
                bad = 1;
            }
            *set |= B(m);
            if (B(m) & UTF16_MODS)
                utf16_pos = pos;
        }
        if (!end)
            break;
        pos += n + 1;
    }
    if (!bad && (*set & UTF16_MODS) && !(*set & B64_MODS)) {
        /* Event strings are UTF-8 text: UTF-16 bytes (a NUL after each
         * ASCII letter) only turn up there in their base64 form. */
        for (m = 0; !(*set & B(m) & UTF16_MODS); m++)
            ;
        cc_error(cc, key->line, subcol(key, utf16_pos),
                 "modifier '%s' must be followed by 'base64' or 'base64offset' (event text is "
                 "UTF-8, so UTF-16 can only be matched base64-encoded)", mods[m].name);
        bad = 1;
    }
    if (*flen == 0 && (*set & (B(MOD_EXISTS) | CMP_MODS | B(MOD_FIELDREF)))) {
        for (m = 0; !(*set & B(m)) || !(B(m) & (B(MOD_EXISTS) | CMP_MODS | B(MOD_FIELDREF)));
             m++)
            ;
        cc_error(cc, key->line, key->col, "modifier '%s' needs a field name", mods[m].name);
        bad = 1;
    }
    return bad ? -1 : 0;
}

/* ---- field paths ------------------------------------------------------- */

static void fpath_init(struct kta_fpath *p, const char *s, size_t len)
{
    size_t i, start = 0, k = 0;

    p->full = xstrndup(s, len);
    p->len = len;
    p->nseg = 1;
    for (i = 0; i < len; i++)
        p->nseg += s[i] == '.';
    p->seg_off = xcalloc(p->nseg, sizeof(size_t));
    p->seg_len = xcalloc(p->nseg, sizeof(size_t));
    for (i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            p->seg_off[k] = start;
            p->seg_len[k] = i - start;
            k++;
            start = i + 1;
        }
    }
}

static void fpaths_free(struct kta_fpath *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(p[i].full);
        free(p[i].seg_off);
        free(p[i].seg_len);
    }
    free(p);
}

/* Applies the field map (docs/rules.md §15) to a rule field name. */
static struct kta_fpath *map_field(const struct kta_fieldmap *fm, const char *name,
                                   size_t len, size_t *n)
{
    struct kta_fpath *p;
    size_t i;

    if (fm) {
        for (i = 0; i < fm->nentries; i++) {
            if (strlen(fm->entries[i].name) == len &&
                memcmp(fm->entries[i].name, name, len) == 0) {
                p = xcalloc(fm->entries[i].npaths, sizeof(*p));
                for (*n = 0; *n < fm->entries[i].npaths; (*n)++)
                    fpath_init(&p[*n], fm->entries[i].paths[*n],
                               strlen(fm->entries[i].paths[*n]));
                return p;
            }
        }
        if (fm->nstar) {
            p = xcalloc(fm->nstar, sizeof(*p));
            for (*n = 0; *n < fm->nstar; (*n)++) {
                struct kta_buf b = { 0 };
                const char *t = fm->star[*n], *hole;

                while ((hole = strstr(t, "{}")) != NULL) {
                    kta_buf_append(&b, t, (size_t)(hole - t));
                    kta_buf_append(&b, name, len);
                    t = hole + 2;
                }
                kta_buf_appends(&b, t);
                fpath_init(&p[*n], b.data, b.len);
                kta_buf_free(&b);
            }
            return p;
        }
    }
    p = xcalloc(1, sizeof(*p));
    fpath_init(p, name, len);
    *n = 1;
    return p;
}

/* ---- values ------------------------------------------------------------ */

enum tok_kind { T_LIT, T_STAR, T_QMARK, T_DASH };

struct ptoks {
    unsigned char *kind;     /* enum tok_kind per token */
    char          *ch;       /* the byte, for T_LIT */
    size_t         n, cap;
};

static void ptok_push(struct ptoks *t, enum tok_kind k, char c)
{
    /* Runs of '*' mean the same as one; collapsing them keeps the
     * regex linear. */
    if (k == T_STAR && t->n && t->kind[t->n - 1] == T_STAR)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 32;
        t->kind = xrealloc(t->kind, t->cap);
        t->ch = xrealloc(t->ch, t->cap);
    }
    t->kind[t->n] = (unsigned char)k;
    t->ch[t->n++] = c;
}

static int word_byte(unsigned char c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

/* Splits a wildcard value into tokens.  `\*`, `\?`, `\\` are literals; a
 * backslash before anything else is itself a literal. */
static void tokenize(struct ptoks *t, const char *s, size_t len, int windash, int wild)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (wild && c == '\\' && i + 1 < len &&
            (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
            ptok_push(t, T_LIT, s[++i]);
        } else if (wild && c == '*') {
            ptok_push(t, T_STAR, 0);
        } else if (wild && c == '?') {
            ptok_push(t, T_QMARK, 0);
        } else if (windash && (c == '-' || c == '/') &&
                   (i == 0 || !word_byte((unsigned char)s[i - 1])) &&
                   i + 1 < len && word_byte((unsigned char)s[i + 1])) {
            ptok_push(t, T_DASH, 0);
        } else {
            ptok_push(t, T_LIT, (char)c);
        }
    }
}

static void regex_lit(struct kta_buf *b, unsigned char c)
{
    if (isalnum(c) || c >= 0x80)
        kta_buf_append(b, &c, 1);
    else
        kta_buf_printf(b, "\\x{%02x}", c);
}

static pcre2_code *re_compile(struct cc *cc, const struct kta_ynode *v, const char *pat,
                              size_t len, uint32_t opts, int jit, int user)
{
    pcre2_code *re;
    int rc;
    PCRE2_SIZE off;
    PCRE2_UCHAR msg[256];

    re = pcre2_compile((PCRE2_SPTR)pat, len, opts | PCRE2_UTF | PCRE2_UCP |
                       PCRE2_MATCH_INVALID_UTF, &rc, &off, NULL);
    if (!re) {
        pcre2_get_error_message(rc, msg, sizeof(msg));
        if (user)
            cc_error(cc, v->line, subcol(v, off),
                     "invalid regular expression at offset %zu: %s", (size_t)off,
                     (const char *)msg);
        else
            cc_error(cc, v->line, v->col, "cannot compile value (%s at offset %zu)",
                     (const char *)msg, (size_t)off);
        return NULL;
    }
    /* JIT is an optimisation: if it is unavailable the interpreter runs
     * the same pattern under the same limits. */
    if (jit)
        pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    return re;
}

/* Is code point cp free of case variants for sure?  Punctuation, symbols,
 * arrows, box drawing, dingbats, emoji, CJK, Hangul and scripts without
 * case; a conservative list: anything else may have another case. */
static int caseless_invariant(unsigned cp)
{
    return (cp >= 0xa0 && cp <= 0xbf && cp != 0xb5) || (cp >= 0x590 && cp <= 0x6ff) ||
           (cp >= 0x900 && cp <= 0xe7f) || (cp >= 0x2000 && cp <= 0x206f) ||
           (cp >= 0x20a0 && cp <= 0x20cf) || (cp >= 0x2190 && cp <= 0x245f) ||
           (cp >= 0x2500 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x9fff) ||
           (cp >= 0xac00 && cp <= 0xd7af) || (cp >= 0xfe00 && cp <= 0xfe0f) ||
           (cp >= 0x13000 && cp <= 0x1343f) || (cp >= 0x1f000 && cp <= 0x1faff) ||
           (cp >= 0x20000 && cp <= 0x3ffff);
}

/* The UTF-8 length of the character whose tokens start at i when it is a
 * run of literal tokens of a case-invariant character, else 0. */
static size_t invariant_char(const struct ptoks *t, size_t i, size_t hi)
{
    const unsigned char *c = (const unsigned char *)&t->ch[i];
    size_t n = c[0] >= 0xf0 ? 4 : c[0] >= 0xe0 ? 3 : c[0] >= 0xc0 ? 2 : 0;
    unsigned cp = c[0] & (0x7f >> n);

    if (n == 0 || i + n > hi)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if (t->kind[i + k] != T_LIT || ((unsigned char)t->ch[i + k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | ((unsigned char)t->ch[i + k] & 0x3f);
    }
    return caseless_invariant(cp) ? n : 0;
}

/* Records in m->need the longest run of literal tokens in [lo, hi) that
 * any subject the pattern matches contains as bytes, ASCII-caselessly: a
 * wildcard, windash or a non-ASCII character that may have another case
 * ends a run (those may match other text); an ASCII character matches
 * only itself in either case, a case-invariant one only its own bytes. */
static void set_need_run(struct kta_matcher *m, const struct ptoks *t, size_t lo, size_t hi)
{
    size_t i, start = lo, best = lo, bestlen = 0;

    for (i = lo; i <= hi; i++) {
        size_t n = 1;

        if (i < hi && t->kind[i] == T_LIT && (unsigned char)t->ch[i] >= 0x80)
            n = invariant_char(t, i, hi);
        if (i == hi || t->kind[i] != T_LIT || n == 0) {
            if (i - start > bestlen) {
                best = start;
                bestlen = i - start;
            }
            start = i + 1;
        } else {
            i += n - 1;
        }
    }
    if (bestlen == 0)
        return;
    m->need[0] = xmalloc(bestlen + 1);
    for (i = 0; i < bestlen; i++) {
        unsigned char c = (unsigned char)t->ch[best + i];

        m->need[0][i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    m->need[0][bestlen] = '\0';
    m->needlen[0] = bestlen;
    m->nneed = 1;
}

/* Does the pattern need a non-ASCII character that matches no ASCII one?
 * Caselessly, only KELVIN SIGN (k) and LONG S (s) fold to ASCII. */
static int needs_non_ascii(const struct ptoks *t, size_t lo, size_t hi, int cased)
{
    for (size_t i = lo; i < hi; i++) {
        const unsigned char *c = (const unsigned char *)&t->ch[i];

        if (t->kind[i] != T_LIT || c[0] < 0xc0)
            continue;
        if (cased)
            return 1;
        if (i + 2 < hi && c[0] == 0xe2 && t->kind[i + 1] == T_LIT &&
            (unsigned char)t->ch[i + 1] == 0x84 && t->kind[i + 2] == T_LIT &&
            (unsigned char)t->ch[i + 2] == 0xaa)
            continue;   /* U+212A KELVIN SIGN */
        if (i + 1 < hi && c[0] == 0xc5 && t->kind[i + 1] == T_LIT &&
            (unsigned char)t->ch[i + 1] == 0xbf)
            continue;   /* U+017F LATIN SMALL LETTER LONG S */
        return 1;
    }
    return 0;
}

static void set_sample(struct kta_matcher *m, const struct ptoks *t, size_t lo, size_t hi,
                       int lead, int trail, int cased);

/* Compiles the tokens into m: a literal fast path when wildcards are only
 * at the ends, and a PCRE2 pattern when the literal test is not enough. */
static int compile_tokens(struct cc *cc, const struct kta_ynode *v, struct kta_matcher *m,
                          const struct ptoks *t, int cased)
{
    size_t i, lo = 0, hi = t->n;
    int lead, trail, inner = 0;
    struct kta_buf b = { 0 };
    int rc = 0;

    m->kind = KTA_M_PATTERN;
    m->cased = cased;
    lead = t->n && t->kind[0] == T_STAR;
    trail = t->n && t->kind[t->n - 1] == T_STAR && (t->n > 1 || !lead);
    if (lead)
        lo++;
    if (trail)
        hi--;
    for (i = lo; i < hi; i++)
        inner |= t->kind[i] != T_LIT;
    set_need_run(m, t, lo, hi);
    m->need_never = needs_non_ascii(t, lo, hi, cased);
    if (!inner) {
        m->lit = xmalloc(hi - lo + 1);
        m->litlen = hi - lo;
        m->lit_ascii = 1;
        for (i = lo; i < hi; i++) {
            unsigned char c = (unsigned char)t->ch[i];

            m->lit[i - lo] = cased ? (char)c : (char)tolower(c);
            m->lit_ascii &= c < 0x80;
        }
        m->lit[m->litlen] = '\0';
        if (lead && (trail || hi == lo))
            m->ptype = hi == lo ? KTA_P_ANY : KTA_P_CONTAINS;
        else if (lead)
            m->ptype = KTA_P_SUFFIX;
        else if (trail)
            m->ptype = KTA_P_PREFIX;
        else
            m->ptype = KTA_P_EXACT;
        /* Case-sensitive literals never need the regex; caseless ASCII
         * ones need it only for non-ASCII subjects (Unicode folding, e.g.
         * KELVIN SIGN vs 'k'), so that one is not worth JIT-compiling. */
        if (cased || m->ptype == KTA_P_ANY)
            return 0;
    } else {
        m->ptype = KTA_P_REGEX;
        set_sample(m, t, lo, hi, lead, trail, cased);
    }
    if (!lead)
        kta_buf_appends(&b, "\\A");
    for (i = lo; i < hi; i++) {
        switch ((enum tok_kind)t->kind[i]) {
        case T_STAR:
            kta_buf_appends(&b, ".*");
            break;
        case T_QMARK:
            kta_buf_appends(&b, ".");
            break;
        case T_DASH:
            kta_buf_appends(&b, "[\\-/\\x{2013}\\x{2014}\\x{2015}]");
            break;
        case T_LIT:
            regex_lit(&b, (unsigned char)t->ch[i]);
            break;
        }
    }
    if (!trail)
        kta_buf_appends(&b, "\\z");
    m->re = re_compile(cc, v, b.data ? b.data : "", b.len,
                       PCRE2_DOTALL | (cased ? 0 : PCRE2_CASELESS),
                       m->ptype == KTA_P_REGEX || !m->lit_ascii, 0);
    if (!m->re)
        rc = -1;
    kta_buf_free(&b);
    return rc;
}

static void b64_encode(struct kta_buf *out, const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        char q[4] = { tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                      tab[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)], tab[s[i + 2] & 63] };
        kta_buf_append(out, q, 4);
    }
    if (n - i == 1) {
        char q[4] = { tab[s[i] >> 2], tab[(s[i] & 3) << 4], '=', '=' };
        kta_buf_append(out, q, 4);
    } else if (n - i == 2) {
        char q[4] = { tab[s[i] >> 2], tab[((s[i] & 3) << 4) | (s[i + 1] >> 4)],
                      tab[(s[i + 1] & 15) << 2], '=' };
        kta_buf_append(out, q, 4);
    }
}

/* Removes wildcard escapes for the base64 modifiers, which encode exact
 * bytes; an unescaped wildcard cannot be encoded and is an error. */
static int unescape_plain(struct cc *cc, const struct kta_ynode *v, const char *s, size_t len,
                          const char *mod, struct kta_buf *out)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' ||
                                            s[i + 1] == '\\')) {
            kta_buf_append(out, &s[++i], 1);
        } else if (s[i] == '*' || s[i] == '?') {
            cc_error(cc, v->line, subcol(v, i),
                     "wildcards cannot be used with modifier '%s' (escape them as \\%c)",
                     mod, s[i]);
            return -1;
        } else {
            kta_buf_append(out, &s[i], 1);
        }
    }
    return 0;
}

/* Next code point of UTF-8 text s[*i..n), advancing *i; -1 when the
 * bytes there are not UTF-8 (overlong forms and surrogates included). */
static long utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    static const long min[4] = { 0, 0x80, 0x800, 0x10000 };
    unsigned char c = s[*i];
    size_t k, more = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 :
                     (c & 0xf8) == 0xf0 ? 3 : 4;
    long cp;

    if (more == 4 || more >= n - *i)
        return -1;
    cp = more ? c & (0x3f >> more) : c;
    for (k = 1; k <= more; k++) {
        if ((s[*i + k] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    }
    if (cp < min[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += more + 1;
    return cp;
}

static void put_u16(struct kta_buf *out, unsigned u, int big)
{
    unsigned char b[2] = { (unsigned char)(big ? u >> 8 : u & 0xff),
                           (unsigned char)(big ? u & 0xff : u >> 8) };

    kta_buf_append(out, b, 2);
}

/* The bytes the wide / utf16le / utf16be / utf16 modifiers hand to base64:
 * the value's text as UTF-16, little endian (utf16: after the byte order
 * mark FF FE) or big endian (utf16be); characters beyond U+FFFF become
 * surrogate pairs.  Returns -1 after reporting text that is not UTF-8. */
static int to_utf16(struct cc *cc, const struct kta_ynode *v, const struct kta_buf *in,
                    unsigned set, struct kta_buf *out)
{
    const unsigned char *s = (const unsigned char *)(in->data ? in->data : "");
    int big = (set & B(MOD_UTF16BE)) != 0;
    size_t i = 0;

    if (set & B(MOD_UTF16))
        kta_buf_append(out, "\xff\xfe", 2);
    while (i < in->len) {
        long cp = utf8_next(s, in->len, &i);

        if (cp < 0) {
            cc_error(cc, v->line, v->col, "the value is not valid UTF-8 text");
            return -1;
        }
        if (cp >= 0x10000) {
            put_u16(out, 0xd800 | (unsigned)((cp - 0x10000) >> 10), big);
            put_u16(out, 0xdc00 | (unsigned)((cp - 0x10000) & 0x3ff), big);
        } else {
            put_u16(out, (unsigned)cp, big);
        }
    }
    return 0;
}

static int compile_base64offset(struct cc *cc, const struct kta_ynode *v,
                                struct kta_matcher *m, const char *raw, size_t n,
                                unsigned set)
{
    /* Sigma's three alignments: prefix 0..2 filler bytes, encode, and trim
     * the characters that depend on the unknown neighbouring bytes. */
    static const size_t start_off[3] = { 0, 2, 3 };
    static const size_t end_trim[3] = { 0, 3, 2 };
    struct kta_buf re = { 0 };
    int first = 1, rc = 0;
    size_t i, j;

    m->kind = KTA_M_PATTERN;
    m->ptype = KTA_P_REGEX;
    m->cased = (set & B(MOD_CASED)) != 0;
    if (!(set & (B(MOD_CONTAINS) | B(MOD_ENDSWITH))))
        kta_buf_appends(&re, "\\A");
    kta_buf_appends(&re, "(?:");
    for (i = 0; i < 3; i++) {
        struct kta_buf in = { 0 }, enc = { 0 };
        size_t trim = end_trim[(n + i) % 3];

        kta_buf_append(&in, "  ", i);
        kta_buf_append(&in, raw, n);
        b64_encode(&enc, (const unsigned char *)in.data, in.len);
        if (enc.len > start_off[i] + trim) {
            if (!first)
                kta_buf_appends(&re, "|");
            for (j = start_off[i]; j < enc.len - trim; j++)
                regex_lit(&re, (unsigned char)enc.data[j]);
            first = 0;
            /* Any match contains one of the variants (ASCII). */
            m->needlen[m->nneed] = enc.len - trim - start_off[i];
            m->need[m->nneed] = xmalloc(m->needlen[m->nneed] + 1);
            for (j = 0; j < m->needlen[m->nneed]; j++)
                m->need[m->nneed][j] = (char)tolower((unsigned char)enc.data[start_off[i] + j]);
            m->need[m->nneed][j] = '\0';
            m->nneed++;
        }
        kta_buf_free(&in);
        kta_buf_free(&enc);
    }
    kta_buf_appends(&re, ")");
    if (!(set & (B(MOD_CONTAINS) | B(MOD_STARTSWITH))))
        kta_buf_appends(&re, "\\z");
    m->re = re_compile(cc, v, re.data, re.len, m->cased ? 0 : PCRE2_CASELESS, 1, 0);
    if (!m->re)
        rc = -1;
    kta_buf_free(&re);
    return rc;
}

/* Parses "ADDR/LEN" (or a bare address) for the cidr modifier. */
static int parse_cidr(struct kta_matcher *m, const char *s)
{
    char addr[INET6_ADDRSTRLEN + 8];
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    long long plen;
    int maxlen, i;

    if (alen == 0 || alen >= sizeof(addr))
        return -1;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    m->family = strchr(addr, ':') ? 6 : 4;
    if (inet_pton(m->family == 6 ? AF_INET6 : AF_INET, addr, m->net) != 1)
        return -1;
    maxlen = m->family == 6 ? 128 : 32;
    if (!slash)
        plen = maxlen;
    else if (kta_parse_int(slash + 1, 0, maxlen, &plen) < 0 || !isdigit((unsigned char)slash[1]))
        return -1;
    m->prefix = (int)plen;
    /* Host bits set ("10.0.0.1/8") are rejected, as Python's ip_network
     * (and so Sigma) does: it is usually a typo for another network. */
    for (i = 0; i < maxlen; i++)
        if (i >= m->prefix && (m->net[i / 8] & (0x80 >> (i % 8))))
            return -2;
    return 0;
}

int kta_rules_parse_decimal(const char *s, size_t len, double *out)
{
    char buf[128];
    size_t i = 0;
    int digits = 0;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    if (s[i] == '+' || s[i] == '-')
        i++;
    while (i < len && isdigit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
            digits++;
        }
    }
    if (!digits)
        return -1;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= len || !isdigit((unsigned char)s[i]))
            return -1;
        while (i < len && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i != len)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

/* The text a rule scalar is compared as: strings as written, numbers and
 * booleans as their JSON text. */
static const char *value_text(const struct kta_ynode *v, char *buf, size_t size, size_t *len)
{
    switch (v->type) {
    case KTA_YT_BOOL:
        snprintf(buf, size, "%s", v->bval ? "true" : "false");
        break;
    case KTA_YT_INT:
        snprintf(buf, size, "%lld", v->ival);
        break;
    case KTA_YT_FLOAT:
        if (!isfinite(v->dval) || v->len >= size)
            return *len = v->len, v->str;
        kta_rules_fmt_double(v->dval, buf, size);
        break;
    default:
        return *len = v->len, v->str;
    }
    *len = strlen(buf);
    return buf;
}

/* ---- literals every match of a regex contains ------------------------------ */

/* Skips a bracketed class starting at p[i] == '['; returns the index after
 * its closing ']', or n when it does not close. */
static size_t skip_class(const char *p, size_t n, size_t i)
{
    i++;
    if (i < n && p[i] == '^')
        i++;
    if (i < n && p[i] == ']')
        i++;   /* a leading ']' is a member */
    while (i < n && p[i] != ']') {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = memmem(p + i + 2, n - i - 2, ":]", 2);

            if (!e)
                return n;
            i = (size_t)(e - p) + 1;
        }
        i++;
    }
    return i < n ? i + 1 : n;
}

/* Skips a group starting at p[i] == '('; returns the index after its ')'
 * or n.  *extended is set when the group sets the x option. */
static size_t skip_group(const char *p, size_t n, size_t i, int *extended)
{
    int depth = 0;

    if (i + 1 < n && p[i + 1] == '?') {
        /* (?flags) or (?flags:...): an x among the flags changes what
         * whitespace and # mean. */
        for (size_t k = i + 2; k < n && p[k] != ')' && p[k] != ':'; k++) {
            if (p[k] == '-')
                break;
            if (p[k] == 'x')
                *extended = 1;
            if (!isalpha((unsigned char)p[k]))
                break;
        }
    }
    while (i < n) {
        if (p[i] == '\\') {
            i += 2;
            continue;
        }
        if (p[i] == '[') {
            i = skip_class(p, n, i);
            continue;
        }
        if (p[i] == '(')
            depth++;
        else if (p[i] == ')' && --depth == 0)
            return i + 1;
        i++;
    }
    return n;
}

/* Is p[i] == '{' the start of a {n}, {n,} or {n,m} quantifier?  *min gets n. */
static int brace_quant(const char *p, size_t n, size_t i, size_t *end, long *min)
{
    size_t k = i + 1;
    long v = 0;

    if (k >= n || !isdigit((unsigned char)p[k]))
        return 0;
    while (k < n && isdigit((unsigned char)p[k])) {
        v = v * 10 + (p[k++] - '0');
        if (v > 1000)
            v = 1000;   /* only zero or not matters */
    }
    if (k < n && p[k] == ',') {
        k++;
        while (k < n && isdigit((unsigned char)p[k]))
            k++;
    }
    if (k >= n || p[k] != '}')
        return 0;
    *end = k + 1;
    *min = v;
    return 1;
}

/* Length of the escape at p[i] == '\\' (its arguments included). */
static size_t escape_len(const char *p, size_t n, size_t i)
{
    size_t k = i + 1;

    if (k >= n)
        return 1;
    switch (p[k]) {
    case 'x': case 'o': case 'p': case 'P': case 'N': case 'g': case 'k':
        if (k + 1 < n && (p[k + 1] == '{' || p[k + 1] == '<' || p[k + 1] == '\'')) {
            char close = p[k + 1] == '{' ? '}' : p[k + 1] == '<' ? '>' : '\'';
            const char *e = memchr(p + k + 2, close, n - k - 2);

            return e ? (size_t)(e - p) + 1 - i : n - i;
        }
        k++;
        if (p[k - 1] == 'x')
            while (k < n && k < i + 4 && isxdigit((unsigned char)p[k]))
                k++;
        else if (p[k - 1] == 'g' || p[k - 1] == 'o')
            while (k < n && (isdigit((unsigned char)p[k]) || p[k] == '-' || p[k] == '+'))
                k++;
        else if (k < n)
            k++;   /* \pL, \kX: one more character */
        return k - i;
    case 'c':
        return k + 2 <= n ? 3 : n - i;
    default:
        if (isdigit((unsigned char)p[k])) {
            while (k < n && isdigit((unsigned char)p[k]))
                k++;
            return k - i;
        }
        return 2;
    }
}

/*
 * Records in m->need, for a regex (an unanchored search), the longest
 * literal run that the text of every match contains, one per top-level
 * alternative (at most three; otherwise nothing).  Only what is certain
 * counts: groups, classes, escapes of letters and digits, '.', anchors and
 * non-ASCII bytes end a run; a quantifier that allows zero takes the
 * character before it back.  Extended mode and \Q...\E give up.
 * Lowercased: the prefilter scans caselessly, a superset for cased regexes.
 */
static void regex_need(struct kta_matcher *m, const char *p, size_t n)
{
    char *cur = xmalloc(n + 1), *best[3] = { NULL, NULL, NULL };
    size_t curlen = 0, bestlen[3] = { 0, 0, 0 }, nbranch = 0, i = 0;
    int extended = 0, last_lit = 0, ok = 1;

#define END_RUN() do { \
        if (curlen > bestlen[nbranch]) { \
            free(best[nbranch]); \
            best[nbranch] = xstrndup(cur, curlen); \
            bestlen[nbranch] = curlen; \
        } \
        curlen = 0; \
        last_lit = 0; \
    } while (0)

    while (i < n && ok) {
        unsigned char c = (unsigned char)p[i];
        size_t end = 0;
        long min = 0;

        if (c == '\\') {
            unsigned char d = i + 1 < n ? (unsigned char)p[i + 1] : 0;

            if (d == 'Q' || d == 'E') {
                ok = 0;
            } else if (d && d < 0x80 && !isalnum(d)) {
                cur[curlen++] = (char)d;   /* an escaped punctuation character */
                last_lit = 1;
                i += 2;
                continue;
            }
            END_RUN();
            i += escape_len(p, n, i);
        } else if (c == '(') {
            END_RUN();
            i = skip_group(p, n, i, &extended);
        } else if (c == '[') {
            END_RUN();
            i = skip_class(p, n, i);
        } else if (c == '|') {
            END_RUN();
            if (nbranch == 2)
                ok = 0;   /* a fourth alternative: more than m->need holds */
            else
                nbranch++;
            i++;
        } else if (c == '*' || c == '?' || c == '+' ||
                   (c == '{' && brace_quant(p, n, i, &end, &min))) {
            int zero = c == '*' || c == '?' || (c == '{' && min == 0);

            if (last_lit && zero)
                curlen--;
            END_RUN();
            i = c == '{' ? end : i + 1;
            if (i < n && (p[i] == '?' || p[i] == '+'))
                i++;   /* lazy or possessive */
        } else if (c == '.' || c == '^' || c == '$' || c >= 0x80 || c == ')') {
            END_RUN();
            i++;
        } else {
            cur[curlen++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            last_lit = 1;
            i++;
        }
    }
    END_RUN();
#undef END_RUN
    if (extended)
        ok = 0;
    for (size_t b = 0; ok && b <= nbranch; b++)
        ok = bestlen[b] > 0;
    for (size_t b = 0; b <= nbranch && b < 3; b++) {
        if (ok) {
            m->need[b] = best[b];
            m->needlen[b] = bestlen[b];
        } else {
            free(best[b]);
        }
    }
    if (ok)
        m->nneed = (int)nbranch + 1;
    free(cur);
}

static int compile_value(struct cc *cc, struct kta_matcher *m, const struct kta_ynode *v,
                         unsigned set, int keyword)
{
    char nbuf[64];
    size_t len;
    const char *text;
    int m_i;

    if (v->kind != KTA_YNODE_SCALAR) {
        cc_error(cc, v->line, v->col, "a value must be a scalar or null, not a %s",
                 v->kind == KTA_YNODE_MAP ? "mapping" : "nested list");
        return -1;
    }
    if (v->type == KTA_YT_NULL) {
        if (keyword) {
            cc_error(cc, v->line, v->col, "a keyword cannot be null");
            return -1;
        }
        if (set & ~B(MOD_ALL)) {
            for (m_i = 0; !(set & B(m_i)) || m_i == MOD_ALL; m_i++)
                ;
            cc_error(cc, v->line, v->col, "null cannot be used with modifier '%s'",
                     mods[m_i].name);
            return -1;
        }
        m->kind = KTA_M_NULL;
        return 0;
    }
    text = value_text(v, nbuf, sizeof(nbuf), &len);

    if (set & B(MOD_EXISTS)) {
        if (v->type != KTA_YT_BOOL) {
            cc_error(cc, v->line, v->col, "modifier 'exists' needs true or false");
            return -1;
        }
        m->kind = KTA_M_EXISTS;
        m->exists = v->bval;
        return 0;
    }
    if (set & CMP_MODS) {
        m->kind = KTA_M_CMP;
        m->op = (set & B(MOD_GT)) ? KTA_CMP_GT : (set & B(MOD_GTE)) ? KTA_CMP_GTE :
                (set & B(MOD_LT)) ? KTA_CMP_LT : KTA_CMP_LTE;
        if (v->type == KTA_YT_INT || v->type == KTA_YT_FLOAT) {
            m->num = v->dval;
        } else if (v->type != KTA_YT_STR || kta_rules_parse_decimal(v->str, v->len, &m->num) < 0) {
            cc_error(cc, v->line, v->col, "modifier '%s' needs a number, not '%s'",
                     mods[m->op == KTA_CMP_GT ? MOD_GT : m->op == KTA_CMP_GTE ? MOD_GTE :
                          m->op == KTA_CMP_LT ? MOD_LT : MOD_LTE].name, text);
            return -1;
        }
        if (isnan(m->num)) {
            cc_error(cc, v->line, v->col, "cannot compare with NaN");
            return -1;
        }
        return 0;
    }
    if (set & B(MOD_CIDR)) {
        int rc;

        m->kind = KTA_M_CIDR;
        rc = v->type == KTA_YT_STR ? parse_cidr(m, v->str) : -1;
        if (rc == -2)
            cc_error(cc, v->line, v->col,
                     "network '%s' for modifier 'cidr' has host bits set", text);
        else if (rc < 0)
            cc_error(cc, v->line, v->col,
                     "modifier 'cidr' needs a network such as 10.0.0.0/8 or fe80::/10, "
                     "not '%s'", text);
        return rc < 0 ? -1 : 0;
    }
    if (set & B(MOD_FIELDREF)) {
        if (v->type != KTA_YT_STR || v->len == 0 || strlen(v->str) != v->len) {
            cc_error(cc, v->line, v->col, "modifier 'fieldref' needs a field name");
            return -1;
        }
        m->kind = KTA_M_FIELDREF;
        m->ref = map_field(cc->env->fm, v->str, v->len, &m->nref);
        return 0;
    }
    if (set & B(MOD_RE)) {
        m->kind = KTA_M_REGEX;
        m->re = re_compile(cc, v, text, len,
                           ((set & B(MOD_RE_I)) ? PCRE2_CASELESS : 0) |
                           ((set & B(MOD_RE_M)) ? PCRE2_MULTILINE : 0) |
                           ((set & B(MOD_RE_S)) ? PCRE2_DOTALL : 0), 1, 1);
        if (m->re)
            regex_need(m, text, len);
        return m->re ? 0 : -1;
    }
    if (set & (B(MOD_BASE64) | B(MOD_BASE64OFFSET))) {
        const char *mod = (set & B(MOD_BASE64)) ? "base64" : "base64offset";
        struct kta_buf raw = { 0 }, wide = { 0 }, enc = { 0 };
        const struct kta_buf *bytes = &raw;
        struct ptoks t = { 0 };
        int rc = -1;

        if (unescape_plain(cc, v, text, len, mod, &raw) < 0)
            goto b64_out;
        if (set & UTF16_MODS) {
            if (to_utf16(cc, v, &raw, set, &wide) < 0)
                goto b64_out;
            bytes = &wide;
        }
        if (set & B(MOD_BASE64OFFSET)) {
            rc = compile_base64offset(cc, v, m, bytes->data ? bytes->data : "", bytes->len,
                                      set);
            goto b64_out;
        }
        b64_encode(&enc, (const unsigned char *)(bytes->data ? bytes->data : ""), bytes->len);
        if (set & (B(MOD_CONTAINS) | B(MOD_ENDSWITH)))
            ptok_push(&t, T_STAR, 0);
        tokenize(&t, enc.data ? enc.data : "", enc.len, 0, 0);
        if (set & (B(MOD_CONTAINS) | B(MOD_STARTSWITH)))
            ptok_push(&t, T_STAR, 0);
        rc = compile_tokens(cc, v, m, &t, (set & B(MOD_CASED)) != 0);
b64_out:
        kta_buf_free(&raw);
        kta_buf_free(&wide);
        kta_buf_free(&enc);
        free(t.kind);
        free(t.ch);
        return rc;
    }
    {
        struct ptoks t = { 0 };
        int rc;
        int shaped = (set & (STRING_SHAPE | B(MOD_WINDASH))) != 0;

        if (keyword && !(set & (B(MOD_STARTSWITH) | B(MOD_ENDSWITH))))
            set |= B(MOD_CONTAINS);
        if (set & (B(MOD_CONTAINS) | B(MOD_ENDSWITH)))
            ptok_push(&t, T_STAR, 0);
        tokenize(&t, text, len, (set & B(MOD_WINDASH)) != 0, 1);
        if (set & (B(MOD_CONTAINS) | B(MOD_STARTSWITH)))
            ptok_push(&t, T_STAR, 0);
        rc = compile_tokens(cc, v, m, &t, (set & B(MOD_CASED)) != 0);
        free(t.kind);
        free(t.ch);
        if (!keyword && !shaped && (v->type == KTA_YT_INT || v->type == KTA_YT_FLOAT)) {
            m->is_num = 1;
            m->num = v->dval;
            m->is_int = v->type == KTA_YT_INT;
            m->ival = v->ival;
        }
        return rc;
    }
}

/* ---- expand ------------------------------------------------------------ */

static const struct kta_placeholder *find_placeholder(const struct kta_placeholders *ph,
                                                      const char *name, size_t len)
{
    size_t i;

    for (i = 0; ph && i < ph->n; i++)
        if (strlen(ph->entries[i].name) == len && memcmp(ph->entries[i].name, name, len) == 0)
            return &ph->entries[i];
    return NULL;
}

static void texts_free(struct kta_buf *t, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        kta_buf_free(&t[i]);
    free(t);
}

/*
 * The texts a value with the expand modifier stands for.  Each %NAME%
 * (NAME: letters, digits, '_') is replaced by each value of that
 * placeholder, inserted as rule text (its wildcards count); with several
 * placeholders every combination is produced.  "\%" is a literal '%', and
 * a '%' that does not open %NAME% stays as it is.  Returns the texts
 * (*ntexts >= 1), or NULL after reporting every placeholder without a
 * value.
 */
static struct kta_buf *expand_value(struct cc *cc, const struct kta_ynode *v, size_t *ntexts)
{
    const char *s = v->str;
    struct kta_buf *cur = xcalloc(1, sizeof(*cur));
    size_t ncur = 1, i = 0, j, k, l;
    int bad = 0;

    while (i < v->len) {
        const struct kta_placeholder *p;
        struct kta_buf *next;

        if (s[i] == '\\' && i + 1 < v->len && (s[i + 1] == '\\' || s[i + 1] == '%')) {
            /* A doubled backslash stays for the wildcard parser;
             * backslash-percent is a plain '%'. */
            for (k = 0; k < ncur; k++)
                kta_buf_append(&cur[k], s[i + 1] == '%' ? s + i + 1 : s + i,
                               s[i + 1] == '%' ? 1 : 2);
            i += 2;
            continue;
        }
        for (j = i + 1; s[i] == '%' && j < v->len && word_byte((unsigned char)s[j]); j++)
            ;
        if (s[i] != '%' || j == i + 1 || j >= v->len || s[j] != '%') {
            for (k = 0; k < ncur; k++)
                kta_buf_append(&cur[k], &s[i], 1);
            i++;
            continue;
        }
        p = find_placeholder(cc->env->ph, s + i + 1, j - i - 1);
        if (!p) {
            cc_error(cc, v->line, subcol(v, i),
                     "placeholder '%.*s' has no value; define '%.*s' in a placeholders file "
                     "(kta.yaml rules.placeholders, or -p FILE)", (int)(j - i + 1), s + i,
                     (int)(j - i - 1), s + i + 1);
            bad = 1;
        } else if (!bad && ncur * p->nvalues > KTA_RULES_MAX_EXPANSIONS) {
            cc_error(cc, v->line, subcol(v, i),
                     "placeholder '%.*s' makes the value expand into more than %u values",
                     (int)(j - i + 1), s + i, KTA_RULES_MAX_EXPANSIONS);
            bad = 1;
        } else if (!bad) {
            next = xcalloc(ncur * p->nvalues, sizeof(*next));
            for (k = 0; k < ncur; k++) {
                for (l = 0; l < p->nvalues; l++) {
                    kta_buf_append(&next[k * p->nvalues + l], cur[k].data ? cur[k].data : "",
                                   cur[k].len);
                    kta_buf_appends(&next[k * p->nvalues + l], p->values[l]);
                }
            }
            texts_free(cur, ncur);
            cur = next;
            ncur *= p->nvalues;
        }
        i = j + 1;
    }
    if (bad) {
        texts_free(cur, ncur);
        return NULL;
    }
    *ntexts = ncur;
    return cur;
}

static void matcher_clear(struct kta_matcher *m)
{
    int i;

    for (i = 0; i < m->nneed; i++)
        free(m->need[i]);
    free(m->lit);
    free(m->sample);
    pcre2_code_free(m->re);
    fpaths_free(m->ref, m->nref);
}

/* ---- searches ---------------------------------------------------------- */

/* Compiles v into the next free slot of fc->vals. */
static void fcond_add(struct cc *cc, struct kta_fcond *fc, const struct kta_ynode *v,
                      unsigned set)
{
    compile_value(cc, &fc->vals[fc->nvals], v, set, fc->keyword);
    fc->nnull += fc->vals[fc->nvals].kind == KTA_M_NULL;
    fc->special |= fc->vals[fc->nvals].kind == KTA_M_EXISTS ||
                   fc->vals[fc->nvals].kind == KTA_M_FIELDREF;
    fc->nvals++;
}

/* Compiles one `key: value` entry of a search mapping (or a keyword list
 * when key is NULL). */
static int compile_fcond(struct cc *cc, struct kta_fcond *fc, const struct kta_ynode *key,
                         const struct kta_ynode *val)
{
    unsigned set = 0;
    size_t flen = 0, i, n;
    int errors0 = cc->errors;

    if (key && parse_mods(cc, key, &flen, &set) < 0)
        return -1;
    if (key && key->len == 0) {
        /* Only a key with modifiers may leave out the field (3.3). */
        cc_error(cc, key->line, key->col, "empty field name");
        return -1;
    }
    fc->keyword = !key || flen == 0;
    fc->all = (set & B(MOD_ALL)) != 0;
    if (!fc->keyword) {
        fc->paths = map_field(cc->env->fm, key->str, flen, &fc->npaths);
        fc->field = xstrndup(key->str, flen);
    }
    if (val->kind == KTA_YNODE_SEQ && val->n == 0) {
        cc_error(cc, val->line, val->col, "empty list of values");
        return -1;
    }
    if (val->kind == KTA_YNODE_MAP) {
        cc_error(cc, val->line, val->col,
                 "the value of '%s' must be a scalar, null or a list of scalars",
                 key ? key->str : "keyword");
        return -1;
    }
    n = val->kind == KTA_YNODE_SEQ ? val->n : 1;
    if ((set & B(MOD_EXISTS)) && val->kind == KTA_YNODE_SEQ) {
        cc_error(cc, val->line, val->col, "modifier 'exists' needs a single true or false");
        return -1;
    }
    fc->vals = xcalloc(n, sizeof(*fc->vals));
    for (i = 0; i < n; i++) {
        const struct kta_ynode *v = val->kind == KTA_YNODE_SEQ ? val->items[i] : val;
        struct kta_buf *texts;
        size_t ntexts, k;

        if (!(set & B(MOD_EXPAND)) || v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_STR) {
            fcond_add(cc, fc, v, set);
            continue;
        }
        /* Each expansion is one more value of the list, so `all` ANDs
         * them as it would values written out one by one. */
        texts = expand_value(cc, v, &ntexts);
        if (!texts)
            continue;
        fc->vals = xrealloc(fc->vals, (fc->nvals + ntexts + n - i - 1) * sizeof(*fc->vals));
        memset(fc->vals + fc->nvals, 0, (ntexts + n - i - 1) * sizeof(*fc->vals));
        for (k = 0; k < ntexts; k++) {
            /* Neither plain nor quoted: errors point at the value itself,
             * since columns inside an expansion mean nothing in the file. */
            struct kta_ynode one = { .kind = KTA_YNODE_SCALAR, .line = v->line, .col = v->col,
                                     .str = texts[k].data ? texts[k].data : "",
                                     .len = texts[k].len, .type = KTA_YT_STR };

            fcond_add(cc, fc, &one, set);
        }
        texts_free(texts, ntexts);
    }
    return cc->errors == errors0 ? 0 : -1;
}

static void fcond_clear(struct kta_fcond *fc)
{
    size_t i;

    for (i = 0; i < fc->nvals; i++)
        matcher_clear(&fc->vals[i]);
    free(fc->vals);
    free(fc->field);
    fpaths_free(fc->paths, fc->npaths);
}

static void compile_fmap(struct cc *cc, struct kta_fmap *fm, const struct kta_ynode *map)
{
    size_t i;

    if (map->n == 0) {
        cc_error(cc, map->line, map->col, "empty search mapping");
        return;
    }
    fm->conds = xcalloc(KTA_YMAP_LEN(map), sizeof(*fm->conds));
    for (i = 0; i + 1 < map->n; i += 2)
        compile_fcond(cc, &fm->conds[fm->nconds++], map->items[i], map->items[i + 1]);
}

static void compile_search(struct cc *cc, struct kta_search *s, const struct kta_ynode *key,
                           const struct kta_ynode *val)
{
    size_t i, nmap = 0;

    s->name = xstrdup(key->str);
    if (val->kind == KTA_YNODE_MAP) {
        s->maps = xcalloc(1, sizeof(*s->maps));
        s->nmaps = 1;
        compile_fmap(cc, &s->maps[0], val);
        return;
    }
    if (val->kind != KTA_YNODE_SEQ) {
        cc_error(cc, val->line, val->col,
                 "search '%s' must be a mapping, a list of mappings or a list of keywords",
                 key->str);
        return;
    }
    if (val->n == 0) {
        cc_error(cc, val->line, val->col, "search '%s' is an empty list", key->str);
        return;
    }
    for (i = 0; i < val->n; i++)
        nmap += val->items[i]->kind == KTA_YNODE_MAP;
    if (nmap == 0) {
        /* A keyword list: one mapping holding one field-less condition. */
        s->maps = xcalloc(1, sizeof(*s->maps));
        s->nmaps = 1;
        s->maps[0].conds = xcalloc(1, sizeof(*s->maps[0].conds));
        s->maps[0].nconds = 1;
        compile_fcond(cc, &s->maps[0].conds[0], NULL, val);
        return;
    }
    if (nmap != val->n) {
        for (i = 0; val->items[i]->kind == KTA_YNODE_MAP; i++)
            ;
        cc_error(cc, val->items[i]->line, val->items[i]->col,
                 "search '%s' mixes mappings and other items in one list", key->str);
        return;
    }
    s->maps = xcalloc(val->n, sizeof(*s->maps));
    for (i = 0; i < val->n; i++)
        compile_fmap(cc, &s->maps[s->nmaps++], val->items[i]);
}

static void search_clear(struct kta_search *s)
{
    size_t i, j;

    for (i = 0; i < s->nmaps; i++) {
        for (j = 0; j < s->maps[i].nconds; j++)
            fcond_clear(&s->maps[i].conds[j]);
        free(s->maps[i].conds);
    }
    free(s->maps);
    free(s->name);
}

/* ---- condition --------------------------------------------------------- */

struct cparse {
    struct cc              *cc;
    const struct kta_ynode *node;
    const char             *s;
    size_t                  len, pos;
    size_t                  tok, toklen;   /* current token */
    int                     failed;
};

static void cnode_free(struct kta_cnode *c)
{
    size_t i;

    if (!c)
        return;
    for (i = 0; i < c->nkids; i++)
        cnode_free(c->kids[i]);
    free(c->kids);
    free(c);
}

static struct kta_cnode *cnode_new(enum kta_cop op)
{
    struct kta_cnode *c = xcalloc(1, sizeof(*c));

    c->op = op;
    return c;
}

static void cnode_add(struct kta_cnode *c, struct kta_cnode *kid)
{
    c->kids = xrealloc(c->kids, (c->nkids + 1) * sizeof(*c->kids));
    c->kids[c->nkids++] = kid;
}

/* Moves to the next token: '(' , ')' or a run of anything else. */
static void cp_next(struct cparse *cp)
{
    while (cp->pos < cp->len && isspace((unsigned char)cp->s[cp->pos]))
        cp->pos++;
    cp->tok = cp->pos;
    if (cp->pos < cp->len && (cp->s[cp->pos] == '(' || cp->s[cp->pos] == ')')) {
        cp->pos++;
    } else {
        while (cp->pos < cp->len && !isspace((unsigned char)cp->s[cp->pos]) &&
               cp->s[cp->pos] != '(' && cp->s[cp->pos] != ')')
            cp->pos++;
    }
    cp->toklen = cp->pos - cp->tok;
}

static int cp_is(const struct cparse *cp, const char *word)
{
    return cp->toklen == strlen(word) && strncasecmp(cp->s + cp->tok, word, cp->toklen) == 0;
}

static void cp_error(struct cparse *cp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cp_error(struct cparse *cp, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    if (cp->failed)
        return;
    cp->failed = 1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    cc_error(cp->cc, cp->node->line, subcol(cp->node, cp->tok), "condition: %s", what);
}

/* Sigma's aggregations ("sel | count() > 5") are the usual reason for a
 * stray '|', so say so instead of just "unexpected". */
static void cp_unexpected(struct cparse *cp)
{
    if (memchr(cp->s + cp->tok, '|', cp->toklen))
        cp_error(cp, "aggregations ('| count() ...') are not supported");
    else
        cp_error(cp, "unexpected '%.*s'", (int)cp->toklen, cp->s + cp->tok);
}

static int glob_match(const char *pat, size_t plen, const char *s)
{
    if (plen == 0)
        return *s == '\0';
    if (*pat == '*') {
        for (;; s++) {
            if (glob_match(pat + 1, plen - 1, s))
                return 1;
            if (!*s)
                return 0;
        }
    }
    return *s == *pat && glob_match(pat + 1, plen - 1, s + 1);
}

static struct kta_cnode *cp_expr(struct cparse *cp);

static struct kta_cnode *cp_quant(struct cparse *cp, int all)
{
    struct kta_rule *r = cp->cc->r;
    struct kta_cnode *c = cnode_new(all ? KTA_C_AND : KTA_C_OR);
    const char *pat = cp->s + cp->tok;
    size_t plen = cp->toklen, i;
    int them = cp_is(cp, "them");

    if (plen == 0 || *pat == '(' || *pat == ')' || cp_is(cp, "and") || cp_is(cp, "or") ||
        cp_is(cp, "not")) {
        cp_error(cp, "expected a pattern or 'them' after 'of'");
        cnode_free(c);
        return NULL;
    }
    for (i = 0; i < r->nsearches; i++) {
        int hit = them ? r->searches[i].name[0] != '_'
                       : glob_match(pat, plen, r->searches[i].name);

        if (hit) {
            struct kta_cnode *ref = cnode_new(KTA_C_REF);

            ref->ref = i;
            cnode_add(c, ref);
        }
    }
    if (c->nkids == 0) {
        if (them)
            cp_error(cp, "'them' matches no search identifier (all start with '_')");
        else
            cp_error(cp, "pattern '%.*s' matches no search identifier", (int)plen, pat);
        cnode_free(c);
        return NULL;
    }
    cp_next(cp);
    return c;
}

static struct kta_cnode *cp_factor(struct cparse *cp)
{
    struct kta_rule *r = cp->cc->r;
    struct kta_cnode *c;
    size_t i;

    if (cp->toklen == 0) {
        cp_error(cp, "unexpected end of condition");
        return NULL;
    }
    if (cp_is(cp, "not")) {
        cp_next(cp);
        c = cnode_new(KTA_C_NOT);
        cnode_add(c, cp_factor(cp));
        if (!c->kids[0]) {
            cnode_free(c);
            return NULL;
        }
        return c;
    }
    if (cp_is(cp, "(")) {
        cp_next(cp);
        c = cp_expr(cp);
        if (!c)
            return NULL;
        if (!cp_is(cp, ")")) {
            cp_error(cp, cp->toklen ? "expected ')' before '%.*s'" : "expected ')'%.*s",
                     (int)cp->toklen, cp->s + cp->tok);
            cnode_free(c);
            return NULL;
        }
        cp_next(cp);
        return c;
    }
    if (cp_is(cp, "1") || cp_is(cp, "any") || cp_is(cp, "all")) {
        struct cparse save = *cp;
        int all = cp_is(cp, "all");

        cp_next(cp);
        if (cp_is(cp, "of")) {
            cp_next(cp);
            return cp_quant(cp, all);
        }
        *cp = save;   /* an identifier that happens to be called "all" */
    }
    if (cp_is(cp, ")") || cp_is(cp, "and") || cp_is(cp, "or") || cp_is(cp, "of") ||
        cp_is(cp, "them") || memchr(cp->s + cp->tok, '|', cp->toklen)) {
        cp_unexpected(cp);
        return NULL;
    }
    if (memchr(cp->s + cp->tok, '*', cp->toklen)) {
        cp_error(cp, "pattern '%.*s' needs '1 of' or 'all of' in front",
                 (int)cp->toklen, cp->s + cp->tok);
        return NULL;
    }
    for (i = 0; i < r->nsearches; i++)
        if (strlen(r->searches[i].name) == cp->toklen &&
            memcmp(r->searches[i].name, cp->s + cp->tok, cp->toklen) == 0)
            break;
    if (i == r->nsearches) {
        cp_error(cp, "unknown search identifier '%.*s'", (int)cp->toklen, cp->s + cp->tok);
        return NULL;
    }
    c = cnode_new(KTA_C_REF);
    c->ref = i;
    cp_next(cp);
    return c;
}

/* term := factor ("and" factor)*;  expr := term ("or" term)*.  Both build
 * flat n-ary nodes so evaluation short-circuits without deep recursion. */
static struct kta_cnode *cp_binary(struct cparse *cp, int is_or)
{
    struct kta_cnode *first = is_or ? cp_binary(cp, 0) : cp_factor(cp), *c = NULL;

    if (!first)
        return NULL;
    while (cp_is(cp, is_or ? "or" : "and")) {
        struct kta_cnode *next;

        cp_next(cp);
        next = is_or ? cp_binary(cp, 0) : cp_factor(cp);
        if (!next) {
            cnode_free(c ? c : first);
            return NULL;
        }
        if (!c) {
            c = cnode_new(is_or ? KTA_C_OR : KTA_C_AND);
            cnode_add(c, first);
        }
        cnode_add(c, next);
    }
    return c ? c : first;
}

static struct kta_cnode *cp_expr(struct cparse *cp)
{
    return cp_binary(cp, 1);
}

static struct kta_cnode *parse_condition(struct cc *cc, const struct kta_ynode *node)
{
    struct cparse cp = { .cc = cc, .node = node };
    struct kta_cnode *c;

    if (node->kind != KTA_YNODE_SCALAR || node->type == KTA_YT_NULL ||
        strlen(node->str) != node->len) {
        cc_error(cc, node->line, node->col, "a condition must be a string");
        return NULL;
    }
    cp.s = node->str;
    cp.len = node->len;
    cp_next(&cp);
    c = cp_expr(&cp);
    if (c && cp.toklen) {
        cp_unexpected(&cp);
        cnode_free(c);
        c = NULL;
    }
    return c;
}

/* ---- rules ------------------------------------------------------------- */

int kta_rules_compile_detection(struct kta_rule *r, const struct kta_ynode *det,
                                const struct kta_compile_env *env)
{
    struct cc cc = { .env = env, .r = r };
    const struct kta_ynode *cond = NULL;
    size_t i;

    if (det->kind != KTA_YNODE_MAP) {
        cc_error(&cc, det->line, det->col, "'detection' must be a mapping");
        return cc.errors;
    }
    r->searches = xcalloc(KTA_YMAP_LEN(det) + 1, sizeof(*r->searches));
    for (i = 0; i + 1 < det->n; i += 2) {
        const struct kta_ynode *k = det->items[i], *v = det->items[i + 1];

        if (strcmp(k->str, "condition") == 0) {
            cond = v;
            continue;
        }
        if (strcmp(k->str, "timeframe") == 0) {
            cc_error(&cc, k->line, k->col,
                     "'timeframe' (correlation) is not part of rule format version 1");
            continue;
        }
        compile_search(&cc, &r->searches[r->nsearches++], k, v);
    }
    if (r->nsearches == 0) {
        cc_error(&cc, det->line, det->col, "'detection' has no search identifier");
        return cc.errors;
    }
    if (!cond) {
        if (r->nsearches != 1) {
            cc_error(&cc, det->line, det->col,
                     "'condition' may only be omitted when there is exactly one search "
                     "identifier (there are %zu)", r->nsearches);
            return cc.errors;
        }
        r->cond = cnode_new(KTA_C_REF);
        return cc.errors;
    }
    if (cond->kind == KTA_YNODE_SEQ) {
        /* A condition list means any of them. */
        if (cond->n == 0) {
            cc_error(&cc, cond->line, cond->col, "'condition' is an empty list");
            return cc.errors;
        }
        r->cond = cnode_new(KTA_C_OR);
        for (i = 0; i < cond->n; i++) {
            struct kta_cnode *c = parse_condition(&cc, cond->items[i]);

            if (c)
                cnode_add(r->cond, c);
        }
    } else {
        r->cond = parse_condition(&cc, cond);
    }
    return cc.errors;
}

void kta_rule_free(struct kta_rule *r)
{
    size_t i;

    if (!r)
        return;
    for (i = 0; i < r->nsearches; i++)
        search_clear(&r->searches[i]);
    free(r->searches);
    cnode_free(r->cond);
    json_decref(r->tags);
    json_decref(r->meta);
    free(r->scope);
    free(r->logsource);
    free(r->output_topic);
    for (i = 0; i < r->nsup_by; i++)
        free(r->sup_by[i]);
    free(r->sup_by);
    kta_rule_tests_free(r->tests, r->ntests);
    free(r->id);
    free(r->title);
    free(r->name);
    free(r->file);
    free(r);
}

struct kta_ruleset *kta_ruleset_new(struct kta_rule **rules, size_t nrules,
                                    struct kta_rule **scopes, size_t nscopes)
{
    struct kta_ruleset *rs = xcalloc(1, sizeof(*rs));
    size_t i;

    atomic_init(&rs->refs, 1);
    rs->rules = rules;
    rs->nrules = nrules;
    rs->scopes = scopes;
    rs->nscopes = nscopes;
    for (i = 0; i < nrules; i++) {
        rules[i]->index = i;
        if (rules[i]->nsearches > rs->max_searches)
            rs->max_searches = rules[i]->nsearches;
    }
    for (i = 0; i < nscopes; i++)
        if (scopes[i]->nsearches > rs->max_searches)
            rs->max_searches = scopes[i]->nsearches;
    rs->hot = xcalloc(nrules + 1, sizeof(*rs->hot));
    for (i = 0; i < nrules; i++) {
        struct kta_rule_hot *h = &rs->hot[i];
        int fits = rules[i]->nscope <= KTA_HOT_SCOPES;

        for (size_t k = 0; fits && k < rules[i]->nscope; k++) {
            fits = rules[i]->scope[k] <= UINT16_MAX;
            if (fits)
                h->scope[k] = (uint16_t)rules[i]->scope[k];
        }
        h->nscope = fits ? (uint8_t)rules[i]->nscope : 255;
        h->enabled = rules[i]->enabled != 0;
    }
    /* Paths first: with log sources the prefilter learns which fields are
     * present from the record's view, by path number. */
    rs->paths = kta_pathtab_new(rules, nrules, scopes, nscopes);
    rs->pf = kta_prefilter_new(rules, nrules, kta_pathtab_count(rs->paths), nscopes > 0);
    return rs;
}

void kta_ruleset_incref(struct kta_ruleset *rs)
{
    if (rs)
        atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
}

void kta_ruleset_decref(struct kta_ruleset *rs)
{
    size_t i;

    if (!rs || atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) != 1)
        return;
    kta_prefilter_free(rs->pf);
    kta_pathtab_free(rs->paths);
    for (i = 0; i < rs->nrules; i++)
        kta_rule_free(rs->rules[i]);
    free(rs->rules);
    free(rs->hot);
    for (i = 0; i < rs->nscopes; i++)
        kta_rule_free(rs->scopes[i]);
    free(rs->scopes);
    for (i = 0; i < rs->nskipped; i++) {
        free((char *)rs->skipped[i].id);
        free((char *)rs->skipped[i].file);
        free((char *)rs->skipped[i].logsource);
    }
    free(rs->skipped);
    for (i = 0; i < rs->ncorrs; i++) {
        kta_corrdef_free(rs->corrs[i]);
        free(rs->corr_corrs[i]);
    }
    for (i = 0; rs->rule_corrs && i < rs->nrules; i++)
        free(rs->rule_corrs[i]);
    free(rs->corrs);
    free(rs->corr_corrs);
    free(rs->ncorr_corrs);
    free(rs->rule_corrs);
    free(rs->nrule_corrs);
    free(rs->rule_sup);
    free(rs->rule_gen);
    free(rs);
}

size_t kta_ruleset_ncorr(const struct kta_ruleset *rs)
{
    return rs->ncorrs;
}

size_t kta_ruleset_ncorr_rules(const struct kta_ruleset *rs)
{
    size_t n = rs->ncorrs;

    while (n && rs->corrs[n - 1]->type == KTA_CORR_SUPPRESS)
        n--;
    return n;
}

const struct kta_corrdef *kta_ruleset_corr(const struct kta_ruleset *rs, size_t i)
{
    return i < rs->ncorrs ? rs->corrs[i] : NULL;
}

const size_t *kta_ruleset_rule_corrs(const struct kta_ruleset *rs, size_t i, size_t *n)
{
    *n = rs->rule_corrs && i < rs->nrules ? rs->nrule_corrs[i] : 0;
    return *n ? rs->rule_corrs[i] : NULL;
}

const size_t *kta_ruleset_corr_corrs(const struct kta_ruleset *rs, size_t i, size_t *n)
{
    *n = i < rs->ncorrs ? rs->ncorr_corrs[i] : 0;
    return *n ? rs->corr_corrs[i] : NULL;
}

size_t kta_ruleset_rule_suppress(const struct kta_ruleset *rs, size_t i)
{
    return rs->rule_sup && i < rs->nrules && rs->rule_sup[i] ? rs->rule_sup[i] - 1 : (size_t)-1;
}

int kta_ruleset_rule_generates(const struct kta_ruleset *rs, size_t i)
{
    return !rs->rule_gen || i >= rs->nrules || rs->rule_gen[i];
}

void kta_ruleset_logsources(const struct kta_ruleset *rs,
                            void (*fn)(void *opaque, const struct kta_logsource_info *li),
                            void *opaque)
{
    size_t i;

    if (!rs)
        return;
    for (i = 0; i < rs->nrules; i++) {
        const struct kta_rule *r = rs->rules[i];
        struct kta_logsource_info li = {
            .id = r->id, .file = r->file, .line = r->line, .col = r->col,
            .logsource = r->logsource, .state = r->ls_state,
            .nscope = r->nscope - r->nfilters,
        };

        if (r->logsource)
            fn(opaque, &li);
    }
    for (i = 0; i < rs->nskipped; i++)
        fn(opaque, &rs->skipped[i]);
}

size_t kta_ruleset_count(const struct kta_ruleset *rs)
{
    return rs ? rs->nrules : 0;
}

const struct kta_rule *kta_ruleset_rule(const struct kta_ruleset *rs, size_t i)
{
    return rs && i < rs->nrules ? rs->rules[i] : NULL;
}

const char *kta_rule_id(const struct kta_rule *r)
{
    return r->id;
}

const char *kta_rule_title(const struct kta_rule *r)
{
    return r->title;
}

const char *kta_rule_name(const struct kta_rule *r)
{
    return r->name;
}

const char *kta_rule_level(const struct kta_rule *r)
{
    return r->level;
}

const json_t *kta_rule_tags(const struct kta_rule *r)
{
    return r->tags;
}

const json_t *kta_rule_meta(const struct kta_rule *r)
{
    return r->meta;
}

int kta_rule_enabled(const struct kta_rule *r)
{
    return r->enabled;
}

uint64_t kta_rule_errors(const struct kta_rule *r)
{
    return atomic_load_explicit(&((struct kta_rule *)r)->errors, memory_order_relaxed);
}

const char *kta_rule_logsource(const struct kta_rule *r)
{
    return r->logsource;
}

const char *kta_rule_output_topic(const struct kta_rule *r)
{
    return r->output_topic;
}

const char *kta_rule_file(const struct kta_rule *r)
{
    return r->file;
}

int kta_rule_line(const struct kta_rule *r)
{
    return r->line;
}

enum kta_ls_state kta_rule_ls_state(const struct kta_rule *r)
{
    return r->ls_state;
}

size_t kta_rule_nscope(const struct kta_rule *r)
{
    return r->nscope - r->nfilters;
}

size_t kta_rule_nfilters(const struct kta_rule *r)
{
    return r->nfilters;
}

const struct kta_rule_test *kta_rule_tests(const struct kta_rule *r, size_t *n)
{
    *n = r->ntests;
    return r->tests;
}

size_t kta_rule_index(const struct kta_rule *r)
{
    return r->index;
}

/* ---- samples (kta_rule_samples) ---------------------------------------- */

/* A wildcard pattern with wildcards inside ("*\\a*\\b.exe"): stars stand
 * for nothing, '?' for an 'x', a windash dash for '-'.  Caseless ones are
 * lowercased like the literals of the fast path. */
static void set_sample(struct kta_matcher *m, const struct ptoks *t, size_t lo, size_t hi,
                       int lead, int trail, int cased)
{
    size_t i, n = 0;

    m->sample = xmalloc(hi - lo + 1);
    for (i = lo; i < hi; i++) {
        switch ((enum tok_kind)t->kind[i]) {
        case T_STAR:
            break;
        case T_QMARK:
            m->sample[n++] = 'x';
            break;
        case T_DASH:
            m->sample[n++] = '-';
            break;
        case T_LIT:
            m->sample[n++] = cased ? t->ch[i] : (char)tolower((unsigned char)t->ch[i]);
            break;
        }
    }
    m->sample[n] = '\0';
    m->sample_shape = lead && trail ? KTA_P_CONTAINS : lead ? KTA_P_SUFFIX :
                      trail ? KTA_P_PREFIX : KTA_P_EXACT;
}

static enum kta_sample_shape sample_shape(enum kta_ptype p)
{
    return p == KTA_P_PREFIX ? KTA_SAMPLE_PREFIX : p == KTA_P_SUFFIX ? KTA_SAMPLE_SUFFIX :
           p == KTA_P_EXACT ? KTA_SAMPLE_EXACT : KTA_SAMPLE_CONTAINS;
}

/* One text that m holds for, into *v / *len / *shape (buf: room for an
 * address).  Returns 0 when m has none that a literal can show (regex,
 * comparisons, field references, null, exists: false). */
static int matcher_sample(const struct kta_matcher *m, char *buf, size_t size,
                          const char **v, size_t *len, enum kta_sample_shape *shape)
{
    unsigned char a[16];

    switch (m->kind) {
    case KTA_M_PATTERN:
        if (m->ptype == KTA_P_REGEX) {
            if (!m->sample)
                return 0;
            *v = m->sample;
            *len = strlen(m->sample);
            *shape = sample_shape(m->sample_shape);
            return 1;
        }
        *v = m->lit ? m->lit : "";
        *len = m->lit ? m->litlen : 0;
        *shape = sample_shape(m->ptype);
        return 1;
    case KTA_M_EXISTS:
        if (!m->exists)
            return 0;
        *v = "";
        *len = 0;
        *shape = KTA_SAMPLE_CONTAINS;   /* any text at all */
        return 1;
    case KTA_M_CIDR:
        /* The network's first host (the network itself for /32, /128). */
        memcpy(a, m->net, sizeof(a));
        if (m->prefix < (m->family == 4 ? 32 : 128))
            a[m->family == 4 ? 3 : 15] |= 1;
        if (!inet_ntop(m->family == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)size))
            return 0;
        *v = buf;
        *len = strlen(buf);
        *shape = KTA_SAMPLE_EXACT;
        return 1;
    default:
        return 0;
    }
}

/* The samples of one mapping: one value per condition, every value of an
 * `all` condition.  fn NULL: only counts. */
static size_t fmap_samples(const struct kta_fmap *fm, kta_sample_fn *fn, void *opaque)
{
    char buf[64];
    size_t i, j, n = 0;

    for (i = 0; i < fm->nconds; i++) {
        const struct kta_fcond *fc = &fm->conds[i];

        for (j = 0; j < fc->nvals; j++) {
            enum kta_sample_shape shape;
            const char *v;
            size_t len;

            if (!matcher_sample(&fc->vals[j], buf, sizeof(buf), &v, &len, &shape))
                continue;
            if (fn)
                fn(opaque, fc->keyword ? NULL : fc->field, v, len, shape);
            n++;
            if (!fc->all)
                break;
        }
    }
    return n;
}

/* A search holds when one of its mappings does: the first with samples. */
static size_t search_samples(const struct kta_search *s, kta_sample_fn *fn, void *opaque)
{
    size_t i;

    for (i = 0; i < s->nmaps; i++)
        if (fmap_samples(&s->maps[i], NULL, NULL))
            return fmap_samples(&s->maps[i], fn, opaque);
    return 0;
}

/* What the condition needs positively: every kid of an AND, the first kid
 * of an OR that gives samples, nothing under a NOT. */
static size_t cond_samples(const struct kta_rule *r, const struct kta_cnode *c,
                           kta_sample_fn *fn, void *opaque)
{
    size_t i, n = 0;

    switch (c->op) {
    case KTA_C_REF:
        return search_samples(&r->searches[c->ref], fn, opaque);
    case KTA_C_AND:
        for (i = 0; i < c->nkids; i++)
            n += cond_samples(r, c->kids[i], fn, opaque);
        return n;
    case KTA_C_OR:
        for (i = 0; i < c->nkids; i++)
            if (cond_samples(r, c->kids[i], NULL, NULL))
                return cond_samples(r, c->kids[i], fn, opaque);
        return 0;
    case KTA_C_NOT:
        return 0;
    }
    return 0;
}

size_t kta_rule_samples(const struct kta_rule *r, kta_sample_fn *fn, void *opaque)
{
    return r->cond ? cond_samples(r, r->cond, fn, opaque) : 0;
}
