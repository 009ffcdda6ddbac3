/* SPDX-License-Identifier: Apache-2.0 */
/*
 * event: raw record bytes -> JSON object (jansson), or the reason it is
 * malformed (RULES-SPEC 5).
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
 * KTA_EVENT_PLAIN only when jansson (as kta_event_decode calls it) would
 * certainly accept data as a JSON object within KTA_EVENT_MAX_DEPTH, and
 * the text of every value appears in data as written, up to the escapes
 * \" \\ \b \f \n \r \t: pure ASCII, integers of at most 18 digits,
 * no reals, no \u or \/ escapes, no duplicate keys.  Otherwise returns
 * KTA_EVENT_UNSURE: the record may still be valid and must be decoded.
 * Size limits are the caller's business.  About 1 ns per byte.
 */
enum kta_event_check { KTA_EVENT_UNSURE = 0, KTA_EVENT_PLAIN = 1 };
enum kta_event_check kta_event_check(const void *data, size_t len);

#endif
