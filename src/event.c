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
