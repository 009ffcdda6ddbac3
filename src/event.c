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
    const unsigned char *p, *end;
    /* Keys of the objects being scanned, innermost last (duplicates). */
    const unsigned char *key[CHECK_MAX_KEYS];
    size_t               keylen[CHECK_MAX_KEYS];
    size_t               nkeys;
};

/* 1 for bytes that end the fast run inside a string: '"', '\\', control
 * characters and every non-ASCII byte. */
static const unsigned char str_stop[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* At the opening quote; leaves p after the closing one. */
static int scan_string(struct scan *s)
{
    const unsigned char *p = s->p + 1, *end = s->end;

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
        if (*p != '\\' || p + 1 >= end)
            return -1;     /* control or non-ASCII byte: let jansson judge */
        switch (p[1]) {
        case '"': case '\\': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        default:           /* \u and \/ spell a character differently */
            return -1;
        }
    }
    s->p = p + 1;
    return 0;
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

static int scan_value(struct scan *s, int depth);

static int scan_object(struct scan *s, int depth)
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
        size_t n;
        uint64_t bit;

        if (s->p >= s->end || *s->p != '"' || scan_string(s) < 0)
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
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':')
            return -1;
        s->p++;
        skip_ws(s);
        if (scan_value(s, depth) < 0)
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

static int scan_array(struct scan *s, int depth)
{
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == ']') {
        s->p++;
        return 0;
    }
    for (;;) {
        if (scan_value(s, depth) < 0)
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

/* depth: that of the container holding the value. */
static int scan_value(struct scan *s, int depth)
{
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '"':
        return scan_string(s);
    case '{':
        return depth >= KTA_EVENT_MAX_DEPTH ? -1 : scan_object(s, depth + 1);
    case '[':
        return depth >= KTA_EVENT_MAX_DEPTH ? -1 : scan_array(s, depth + 1);
    case 't':
        return scan_word(s, "true", 4);
    case 'f':
        return scan_word(s, "false", 5);
    case 'n':
        return scan_word(s, "null", 4);
    default:
        return scan_number(s);
    }
}

enum kta_event_check kta_event_check(const void *data, size_t len)
{
    struct scan s;

    s.p = data;
    s.end = s.p + len;
    s.nkeys = 0;
    if (!data)
        return KTA_EVENT_UNSURE;
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{' || scan_object(&s, 1) < 0)
        return KTA_EVENT_UNSURE;
    skip_ws(&s);
    return s.p == s.end ? KTA_EVENT_PLAIN : KTA_EVENT_UNSURE;
}
