/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event: bytes -> JSON object, the only place that parses input records
 * (jansson).  Sits in the worker threads, between the ring and eval.  It
 * never sees Kafka and never decides what a malformed record means for
 * the pipeline: it only says why.
 */
#include "kta/event.h"
#include "kta/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

const char *kta_event_error_name(enum kta_event_error err)
{
    switch (err) {
    case KTA_EVENT_OK:           return "ok";
    case KTA_EVENT_EMPTY:        return "empty";
    case KTA_EVENT_TOO_LARGE:    return "too_large";
    case KTA_EVENT_TOO_DEEP:     return "too_deep";
    case KTA_EVENT_INVALID_JSON: return "invalid_json";
    case KTA_EVENT_NOT_OBJECT:   return "not_object";
    }
    return "unknown";
}

/* Deepest bracket nesting outside strings; stops counting past the limit.
 * Brackets inside strings do not count, escapes are skipped.  Syntax is
 * jansson's job: this only has to be right for input jansson accepts. */
static int nesting_depth(const unsigned char *p, size_t len)
{
    int depth = 0, max = 0, in_str = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max) {
                max = depth;
                if (max > KTA_EVENT_MAX_DEPTH)
                    return max;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

json_t *kta_event_decode(const void *data, size_t len, size_t max_bytes,
                         enum kta_event_error *err,
                         char *detail, size_t detail_size)
{
    json_error_t jerr;
    json_t *ev;

    if (!data || len == 0) {
        *err = KTA_EVENT_EMPTY;
        kta_err(detail, detail_size, "empty payload");
        return NULL;
    }
    if (max_bytes && len > max_bytes) {
        *err = KTA_EVENT_TOO_LARGE;
        kta_err(detail, detail_size, "record of %zu bytes is larger than the maximum of %zu",
                len, max_bytes);
        return NULL;
    }
    if (nesting_depth(data, len) > KTA_EVENT_MAX_DEPTH) {
        *err = KTA_EVENT_TOO_DEEP;
        kta_err(detail, detail_size, "nesting deeper than %d levels", KTA_EVENT_MAX_DEPTH);
        return NULL;
    }
    /* Duplicate keys make "the value of field X" ambiguous, and jansson
     * rejects NUL bytes, invalid UTF-8 and lone surrogate escapes itself. */
    ev = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!ev) {
        *err = KTA_EVENT_INVALID_JSON;
        kta_err(detail, detail_size, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(ev)) {
        *err = KTA_EVENT_NOT_OBJECT;
        kta_err(detail, detail_size, "top-level value is %s, not an object",
                json_is_array(ev) ? "an array" : "a scalar");
        json_decref(ev);
        return NULL;
    }
    *err = KTA_EVENT_OK;
    return ev;
}

/* ---- the cheap check ---------------------------------------------------- */

#define CHECK_MAX_KEYS 256

struct scan {
    const unsigned char *p, *end, *base;
    /* Keys of the objects being scanned, innermost last (duplicates). */
    const unsigned char *key[CHECK_MAX_KEYS];
    size_t               keylen[CHECK_MAX_KEYS];
    size_t               nkeys;
    int                  nonascii;  /* a string holds UTF-8 beyond ASCII */
    struct kta_event_view *view;    /* NULL: check only */
};

/* 1 for bytes that end the fast run inside a string: '"', '\\', control
 * characters and every non-ASCII byte. */
static const unsigned char str_stop[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* The length of the UTF-8 character at p, as jansson accepts it (no
 * overlong forms, surrogates or code points past U+10FFFF), or -1.  Also
 * -1 for KELVIN SIGN and LATIN SMALL LETTER LONG S: they match 'k' and
 * 's' caselessly, so a record holding them may match an ASCII rule
 * literal that its bytes do not contain, and the prefilter could not
 * vouch for it. */
static int utf8_char(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], cp;
    int n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (end - p < n)
        return -1;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp == 0x212a || cp == 0x17f)
        return -1;
    return n;
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* At the opening quote; leaves p after the closing one.  Returns -1 when
 * not plain, 1 when the string has escapes, else 0. */
static int scan_string(struct scan *s)
{
    const unsigned char *p = s->p + 1, *end = s->end;
    int esc = 0;

    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time: '"', '\\', and, compared as signed bytes,
         * everything below 0x20 (control characters and 0x80..0xff). */
        while (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));
            int mask = _mm_movemask_epi8(stop);

            if (mask) {
                p += __builtin_ctz((unsigned)mask);
                goto stopped;
            }
            p += 16;
        }
#endif
        while (p < end && !str_stop[*p])
            p++;
#ifdef __SSE2__
stopped:
#endif
        if (p >= end)
            return -1;
        if (*p == '"')
            break;
        if (*p >= 0x80) {
            int n = utf8_char(p, end);

            if (n < 0)
                return -1;
            p += n;
            s->nonascii = 1;
            continue;
        }
        if (*p != '\\' || p + 1 >= end)
            return -1;     /* a control byte: let jansson judge */
        switch (p[1]) {
        case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            esc = 1;
            break;
        default:           /* \u and \/ spell a character differently */
            return -1;
        }
    }
    s->p = p + 1;
    return esc;
}

static int scan_number(struct scan *s)
{
    const unsigned char *p = s->p, *digits;

    if (p < s->end && *p == '-')
        p++;
    digits = p;
    if (p < s->end && *p == '0')
        p++;
    else
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    /* No digits, a leading zero followed by more, a real, or an integer
     * that might not fit in json_int_t: not plain. */
    if (p == digits || p - digits > 18 ||
        (p < s->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E')))
        return -1;
    if (s->view && digits != s->p && *digits == '0')
        s->view->ok = 0;   /* -0 reads back as 0: its text changes */
    s->p = p;
    return 0;
}

static int scan_word(struct scan *s, const char *w, size_t n)
{
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
        return -1;
    s->p += n;
    return 0;
}

/* Where a value sits, for the view: its path and how lookups reach it. */
struct vpos {
    unsigned path_off, path_len;
    int      reach;
};

static void view_add(struct scan *s, const struct vpos *at, int type, const unsigned char *b,
                     size_t n, int esc)
{
    struct kta_event_view *vw = s->view;
    struct kta_event_val *v;

    if (vw->n == vw->cap) {
        vw->cap = vw->cap ? vw->cap * 2 : 64;
        vw->v = xrealloc(vw->v, vw->cap * sizeof(*vw->v));
    }
    v = &vw->v[vw->n++];
    v->path_off = at->path_off;
    v->path_len = at->path_len;
    v->off = (unsigned)(b - s->base);
    v->len = (unsigned)n;
    v->type = (unsigned char)type;
    v->reach = (unsigned char)at->reach;
    v->esc = (unsigned char)esc;
}

static int scan_value(struct scan *s, int depth, const struct vpos *at, int is_elem);

static int scan_object(struct scan *s, int depth, const struct vpos *at)
{
    size_t first = s->nkeys, i;
    uint64_t seen = 0;

    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const unsigned char *k = s->p + 1;
        struct vpos child = { 0, 0, KTA_EV_NONE };
        size_t n;
        uint64_t bit;
        int esc;

        if (s->p >= s->end || *s->p != '"' || (esc = scan_string(s)) < 0)
            return -1;
        n = (size_t)(s->p - 1 - k);
        /* Keys are compared as written: with only the escapes
         * scan_string allows, equal text means equal bytes.  A 64-bit
         * filter on length and last byte keeps the comparisons off the
         * common path. */
        bit = (uint64_t)1 << ((n * 7 + (n ? k[n - 1] : 0)) & 63);
        if (seen & bit) {
            for (i = first; i < s->nkeys; i++)
                if (s->keylen[i] == n && memcmp(s->key[i], k, n) == 0)
                    return -1;   /* duplicate: jansson's error message */
        }
        seen |= bit;
        if (s->nkeys == CHECK_MAX_KEYS)
            return -1;
        s->key[s->nkeys] = k;
        s->keylen[s->nkeys++] = n;
        if (s->view) {
            struct kta_buf *pb = &s->view->paths;
            int dotted = memchr(k, '.', n) != NULL;

            if (esc)
                s->view->ok = 0;
            /* The path: parent "." key, once per key in the arena. */
            kta_buf_reserve(pb, at->path_len + 1 + n);
            child.path_off = (unsigned)pb->len;
            if (depth > 1) {
                memcpy(pb->data + pb->len, pb->data + at->path_off, at->path_len);
                pb->len += at->path_len;
                pb->data[pb->len++] = '.';
            }
            memcpy(pb->data + pb->len, k, n);
            pb->len += n;
            child.path_len = (unsigned)(pb->len - child.path_off);
            if (at->reach == KTA_EV_NONE)
                child.reach = KTA_EV_NONE;
            else if (depth == 1)
                child.reach = dotted ? KTA_EV_FLAT : KTA_EV_NESTED;
            else
                child.reach = at->reach == KTA_EV_FLAT || dotted ? KTA_EV_NONE : KTA_EV_NESTED;
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        skip_ws(s);
        if (scan_value(s, depth, &child, 0) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == '}')
            break;
        if (*s->p != ',')
            return -1;
        s->p++;
        skip_ws(s);
    }
    s->p++;
    s->nkeys = first;   /* this object's keys are done with */
    return 0;
}

static int scan_array(struct scan *s, int depth, const struct vpos *at)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (scan_value(s, depth, at, 1) < 0)
            return -1;
        skip_ws(s);
        if (s->p >= s->end)
            return -1;
        if (*s->p == ']')
            break;
        if (*s->p != ',')
            return -1;
        s->p++;
        skip_ws(s);
    }
    s->p++;
    return 0;
}

/* depth: that of the container holding the value; at: where it sits
 * (meaningful only with a view); is_elem: an array element. */
static int scan_value(struct scan *s, int depth, const struct vpos *at, int is_elem)
{
    const unsigned char *b = s->p;
    int rc, type;

    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '"':
        rc = scan_string(s);
        if (rc >= 0 && s->view)
            view_add(s, at, KTA_EV_STR, b + 1, (size_t)(s->p - b - 2), rc);
        return rc < 0 ? -1 : 0;
    case '{':
        if (depth >= KTA_EVENT_MAX_DEPTH)
            return -1;
        if (s->view)
            view_add(s, at, KTA_EV_OBJ, b, 0, 0);
        return scan_object(s, depth + 1, at);
    case '[':
        if (depth >= KTA_EVENT_MAX_DEPTH)
            return -1;
        if (s->view && !is_elem)
            view_add(s, at, KTA_EV_ARRAY, b, 0, 0);
        return scan_array(s, depth + 1, at);
    case 't':
        rc = scan_word(s, "true", 4);
        type = KTA_EV_TRUE;
        break;
    case 'f':
        rc = scan_word(s, "false", 5);
        type = KTA_EV_FALSE;
        break;
    case 'n':
        rc = scan_word(s, "null", 4);
        type = KTA_EV_NULL;
        break;
    default:
        rc = scan_number(s);
        type = KTA_EV_INT;
        break;
    }
    if (rc == 0 && s->view)
        view_add(s, at, type, b, (size_t)(s->p - b), 0);
    return rc;
}

enum kta_event_check kta_event_scan(const void *data, size_t len, struct kta_event_view *view)
{
    struct vpos top = { 0, 0, KTA_EV_NESTED };
    struct scan s;

    s.p = s.base = data;
    s.end = s.p + len;
    s.nkeys = 0;
    s.nonascii = 0;
    s.view = view;
    if (view) {
        view->n = 0;
        view->ok = 1;
        kta_buf_reset(&view->paths);
    }
    if (!data)
        return KTA_EVENT_UNSURE;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{' || scan_object(&s, 1, &top) < 0)
        return KTA_EVENT_UNSURE;
    skip_ws(&s);
    if (s.p != s.end)
        return KTA_EVENT_UNSURE;
    return s.nonascii ? KTA_EVENT_PLAIN_UTF8 : KTA_EVENT_PLAIN;
}

enum kta_event_check kta_event_check(const void *data, size_t len)
{
    return kta_event_scan(data, len, NULL);
}

void kta_event_view_free(struct kta_event_view *view)
{
    if (!view)
        return;
    free(view->v);
    kta_buf_free(&view->paths);
    view->v = NULL;
    view->n = view->cap = 0;
}
