/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event: raw record bytes -> JSON object (jansson), or the reason it is
 * malformed (docs/rules.md §18).
 *
 * Malformed input is data, not a program error: the caller counts it and
 * sends it to the dead-letter topic.  Nesting is checked on the raw bytes
 * before jansson sees them, so no parser recursion ever goes deeper than
 * KTA_EVENT_MAX_DEPTH on a worker's stack.
 *
 * Functions borrow their arguments.
 */
#ifndef KTA_EVENT_H
#define KTA_EVENT_H

#include <jansson.h>
#include <stddef.h>

#include "kta/util.h"

#define KTA_EVENT_MAX_DEPTH 64   /* the top-level object counts as 1 */

/* Why a record was rejected; the short name goes into dead-letter headers. */
enum kta_event_error {
    KTA_EVENT_OK = 0,
    KTA_EVENT_EMPTY,        /* "empty": zero bytes or a null (tombstone) value */
    KTA_EVENT_TOO_LARGE,    /* "too_large": over the configured maximum */
    KTA_EVENT_TOO_DEEP,     /* "too_deep": nesting over KTA_EVENT_MAX_DEPTH */
    KTA_EVENT_INVALID_JSON, /* "invalid_json": syntax, UTF-8, escapes, duplicates */
    KTA_EVENT_NOT_OBJECT,   /* "not_object": an array or scalar */
};

/* The reason's short name ("invalid_json", ...). */
const char *kta_event_error_name(enum kta_event_error err);

/*
 * Decodes one record.  On success returns a new reference to a JSON object
 * and sets *err to KTA_EVENT_OK.  Otherwise returns NULL, sets *err, and
 * writes a human-readable detail ("line 1 column 7: invalid token") into
 * detail.  data may be NULL when len is 0.
 */
json_t *kta_event_decode(const void *data, size_t len, size_t max_bytes,
                         enum kta_event_error *err,
                         char *detail, size_t detail_size);

/*
 * A cheap, strict look at a record without parsing it.  Returns
 * KTA_EVENT_PLAIN or KTA_EVENT_PLAIN_UTF8 only when jansson (as
 * kta_event_decode calls it) would certainly accept data as a JSON object
 * within KTA_EVENT_MAX_DEPTH, and the text of every value appears in data
 * as written, up to the escapes \" \\ \b \f \n \r \t: valid UTF-8,
 * integers of at most 18 digits, no reals, no \u or \/ escapes, no
 * duplicate keys, and neither KELVIN SIGN nor LONG S (which fold to ASCII
 * letters).  PLAIN records are pure ASCII; PLAIN_UTF8 ones have other
 * characters in their strings.  Otherwise returns KTA_EVENT_UNSURE: the
 * record may still be valid and must be decoded.  Size limits are the
 * caller's business.  About 1 ns per byte.
 */
enum kta_event_check { KTA_EVENT_UNSURE = 0, KTA_EVENT_PLAIN = 1, KTA_EVENT_PLAIN_UTF8 = 2 };
enum kta_event_check kta_event_check(const void *data, size_t len);

/* A PLAIN record as a flat list of its values, for evaluating rules
 * without building a jansson tree (eval.c).  Every key's value is listed
 * under its path (keys joined with '.', arrays transparent), in document
 * order; array elements are listed under the array's path. */
enum kta_event_vtype {
    KTA_EV_STR, KTA_EV_INT, KTA_EV_TRUE, KTA_EV_FALSE, KTA_EV_NULL, KTA_EV_OBJ,
    KTA_EV_ARRAY   /* a key whose value is an array: present, no value itself */
};

/* How a field lookup (docs/rules.md §4-13) reaches a value: through dot-free
 * keys from the top (nested), through one top-level key that contains a
 * dot (flat), or not at all (below such a key, or below a dotted key
 * deeper down). */
enum kta_event_reach { KTA_EV_NESTED, KTA_EV_FLAT, KTA_EV_NONE };

struct kta_event_val {
    unsigned      path_off, path_len;   /* into view->paths */
    unsigned      off, len;             /* raw text: a string's bytes inside the
                                         * quotes (escaped), a number, a word */
    unsigned char type;                 /* enum kta_event_vtype */
    unsigned char reach;                /* enum kta_event_reach */
    unsigned char esc;                  /* string with backslash escapes */
};

struct kta_event_view {
    struct kta_event_val *v;
    size_t                n, cap;
    struct kta_buf        paths;
    int                   ok;   /* 0: keys with escapes or a -0: use jansson */
};

/*
 * kta_event_check that also fills view (when not NULL) with the values of
 * a PLAIN record; view->ok says whether the view is usable (it is not when
 * a key has an escape or a number is -0, whose text jansson changes).
 * The view's buffers are reused across calls; free with
 * kta_event_view_free.
 */
enum kta_event_check kta_event_scan(const void *data, size_t len, struct kta_event_view *view);
void kta_event_view_free(struct kta_event_view *view);

#endif
