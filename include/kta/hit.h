/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hit: a matched rule + its event -> the hit record (docs/rules.md §20), its
 * message key, and the console lines the seed analyzer printed.
 *
 * Encoding appends to a caller-owned struct kta_buf that workers reuse, so
 * the hot path allocates nothing once the buffers have grown.  The event
 * is embedded as the bytes received (already validated as a JSON object),
 * never re-serialised.  Functions borrow their arguments.
 */
#ifndef KTA_HIT_H
#define KTA_HIT_H

#include <jansson.h>
#include <stdint.h>

#include "kta/config.h"
#include "kta/rules.h"
#include "kta/util.h"

/* Where an event came from: Kafka (topic != NULL) or a file (file != NULL). */
struct kta_hit_source {
    const char *topic;
    int32_t     partition;
    int64_t     offset;
    int64_t     timestamp;   /* ms since the epoch; -1 when unknown */
    const char *file;
    long        line;
};

/* Appends what ends every hit of one ruleset: `,"kta":{"version":KTA,
 * "ruleset":VERSION}` and each of fields (output.fields, may be NULL) as
 * `,"NAME":"VALUE"`.  Built once per ruleset, so the hot path only copies
 * it; fields are assumed checked (config.c: names that take no quoting,
 * none of the hit's own keys, UTF-8 values). */
void kta_hit_tail(struct kta_buf *out, const char *ruleset_version, const struct kta_map *fields);

/* Appends the hit JSON (no trailing newline). detected_at is ISO 8601;
 * tail is kta_hit_tail's output (NULL: none, which only tests want). */
void kta_hit_encode(struct kta_buf *out, const struct kta_rule *r,
                    const void *event, size_t event_len,
                    const struct kta_hit_source *src, const char *detected_at,
                    const struct kta_buf *tail);

/* Appends the text of ev[field] (strings as they are, numbers and booleans
 * as JSON text).  Returns 1, or 0 (nothing appended) when the field is
 * missing, null, an object or an array. */
int kta_hit_field_text(struct kta_buf *out, const json_t *ev, const char *field);

/* Appends "[ALERT] Host: H | Threat: T | Severity: LEVEL | Rule: ID\n". */
void kta_hit_alert_line(struct kta_buf *out, const json_t *ev, const struct kta_rule *r);

/* Appends "[DEBUG] Host: H | Threat: T | Severity: S\n" for an event
 * without hits (severity as sent). */
void kta_hit_debug_line(struct kta_buf *out, const json_t *ev);

/* Appends s as a JSON string literal, quotes included. */
void kta_json_quote(struct kta_buf *out, const char *s, size_t len);

/* Appends a correlation hit (docs/rules.md "Correlation hits"), no trailing
 * newline: the correlation rule as "rule", the completing event's source,
 * and under "correlation" its type, group, count (and distinct values),
 * first and last event times and the events' sources. */
struct kta_corr_hit;
void kta_hit_encode_correlation(struct kta_buf *out, const struct kta_corr_hit *h,
                                const char *detected_at, const struct kta_buf *tail);
/* Appends hit (an encoded hit of a rule with `suppress`, len bytes) with
 * "suppressed": n, the hits of its group held back before it, as its last
 * member (docs/rules.md "Suppression"); no trailing newline. */
void kta_hit_encode_suppressed(struct kta_buf *out, const char *hit, size_t len, uint64_t n);
/* "event_count", "value_count", "temporal" or "temporal_ordered". */
const char *kta_hit_corr_type_name(const struct kta_corrdef *c);
/* Appends "[CORRELATION] Rule: ID | Severity: LEVEL | Group: k=v, ... | Count: N\n". */
void kta_hit_correlation_line(struct kta_buf *out, const struct kta_corr_hit *h);

#endif
