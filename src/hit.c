/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hit: encodes hits (docs/rules.md §20) and the console lines.  Runs on the
 * worker threads right after eval; knows no Kafka (the producer sends
 * what this module writes) and parses nothing.
 */
#include "kta/hit.h"
#include "kta/correlate.h"
#include <time.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kta_json_quote(struct kta_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    kta_buf_reserve(out, len + 2);
    kta_buf_append(out, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;

        /* Copy runs of plain bytes in one go. */
        while (run < len && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            kta_buf_append(out, s + i, run - i);
            i = run - 1;
            continue;
        }
        switch (c) {
        case '"':  kta_buf_append(out, "\\\"", 2); break;
        case '\\': kta_buf_append(out, "\\\\", 2); break;
        case '\n': kta_buf_append(out, "\\n", 2); break;
        case '\r': kta_buf_append(out, "\\r", 2); break;
        case '\t': kta_buf_append(out, "\\t", 2); break;
        default: {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            kta_buf_append(out, esc, 6);
        }
        }
    }
    kta_buf_append(out, "\"", 1);
}

static void quote(struct kta_buf *out, const char *s)
{
    kta_json_quote(out, s, strlen(s));
}

void kta_hit_tail(struct kta_buf *out, const char *ruleset_version, const struct kta_map *fields)
{
    kta_buf_appends(out, ",\"kta\":{\"version\":");
    quote(out, KTA_VERSION);
    kta_buf_appends(out, ",\"ruleset\":");
    quote(out, ruleset_version);
    kta_buf_append(out, "}", 1);
    for (size_t i = 0; fields && i < fields->n; i++) {
        kta_buf_append(out, ",", 1);
        quote(out, fields->items[i].key);
        kta_buf_append(out, ":", 1);
        quote(out, fields->items[i].value);
    }
}

/* The head every hit opens with: {"rule":{"id","title","level","tags"}
 * (the object left open for what follows). */
static void rule_head(struct kta_buf *out, const char *id, const char *title,
                      const char *level, const json_t *tags)
{
    size_t i;
    json_t *tag;

    kta_buf_appends(out, "{\"rule\":{\"id\":");
    quote(out, id);
    kta_buf_appends(out, ",\"title\":");
    quote(out, title);
    kta_buf_appends(out, ",\"level\":");
    quote(out, level);
    kta_buf_appends(out, ",\"tags\":[");
    json_array_foreach(tags, i, tag) {
        if (i)
            kta_buf_append(out, ",", 1);
        kta_json_quote(out, json_string_value(tag), json_string_length(tag));
    }
    kta_buf_appends(out, "]}");
}

void kta_hit_encode(struct kta_buf *out, const struct kta_rule *r,
                    const void *event, size_t event_len,
                    const struct kta_hit_source *src, const char *detected_at,
                    const struct kta_buf *tail)
{
    rule_head(out, kta_rule_id(r), kta_rule_title(r), kta_rule_level(r), kta_rule_tags(r));
    kta_buf_appends(out, ",\"event\":");
    kta_buf_append(out, event, event_len);
    kta_buf_appends(out, ",\"source\":");
    if (src->topic) {
        kta_buf_appends(out, "{\"topic\":");
        quote(out, src->topic);
        kta_buf_printf(out, ",\"partition\":%d,\"offset\":%lld", (int)src->partition,
                       (long long)src->offset);
        if (src->timestamp >= 0)
            kta_buf_printf(out, ",\"timestamp\":%lld", (long long)src->timestamp);
        kta_buf_append(out, "}", 1);
    } else {
        kta_buf_appends(out, "{\"file\":");
        quote(out, src->file ? src->file : "-");
        kta_buf_printf(out, ",\"line\":%ld}", src->line);
    }
    kta_buf_appends(out, ",\"detected_at\":");
    quote(out, detected_at);
    if (tail && tail->len)
        kta_buf_append(out, tail->data, tail->len);
    kta_buf_append(out, "}", 1);
}

int kta_hit_field_text(struct kta_buf *out, const json_t *ev, const char *field)
{
    const json_t *v = json_object_get(ev, field);

    if (!v)               /* json_typeof() does not take NULL */
        return 0;
    switch (json_typeof(v)) {
    case JSON_STRING:
        kta_buf_append(out, json_string_value(v), json_string_length(v));
        return 1;
    case JSON_INTEGER:
        kta_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 1;
    case JSON_REAL: {
        char num[64];
        /* The shortest text that reads back the same double, as JSON has it. */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(num, sizeof(num), "%.*g", prec, json_real_value(v));
            if (strtod(num, NULL) == json_real_value(v))
                break;
        }
        kta_buf_appends(out, num);
        return 1;
    }
    case JSON_TRUE:
        kta_buf_appends(out, "true");
        return 1;
    case JSON_FALSE:
        kta_buf_appends(out, "false");
        return 1;
    default:
        return 0;
    }
}

/* Console values are one line each: control characters would let an event
 * forge extra console lines, so they are shown as '?'. */
static void console_field(struct kta_buf *out, const json_t *ev, const char *field)
{
    size_t start = out->len;

    if (!ev || !kta_hit_field_text(out, ev, field))
        kta_buf_appends(out, "Unknown");
    for (size_t i = start; i < out->len; i++)
        if ((unsigned char)out->data[i] < 0x20 || out->data[i] == 0x7f)
            out->data[i] = '?';
}

void kta_hit_alert_line(struct kta_buf *out, const json_t *ev, const struct kta_rule *r)
{
    const char *level = kta_rule_level(r);

    kta_buf_appends(out, "[ALERT] Host: ");
    console_field(out, ev, "host");
    kta_buf_appends(out, " | Threat: ");
    console_field(out, ev, "threat");
    kta_buf_appends(out, " | Severity: ");
    for (const char *p = level; *p; p++) {
        char c = (char)toupper((unsigned char)*p);
        kta_buf_append(out, &c, 1);
    }
    kta_buf_appends(out, " | Rule: ");
    kta_buf_appends(out, kta_rule_id(r));
    kta_buf_append(out, "\n", 1);
}

void kta_hit_debug_line(struct kta_buf *out, const json_t *ev)
{
    kta_buf_appends(out, "[DEBUG] Host: ");
    console_field(out, ev, "host");
    kta_buf_appends(out, " | Threat: ");
    console_field(out, ev, "threat");
    kta_buf_appends(out, " | Severity: ");
    console_field(out, ev, "severity");
    kta_buf_append(out, "\n", 1);
}

/* ---- correlation hits ---------------------------------------------------- */

static void append_json(struct kta_buf *out, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (text) {
        kta_buf_appends(out, text);
        free(text);
    } else {
        kta_buf_appends(out, "null");
    }
}

static void append_time(struct kta_buf *out, int64_t ms)
{
    time_t secs;
    struct tm tm;
    char when[32];

    if (ms < 0) {
        kta_buf_appends(out, "null");
        return;
    }
    secs = (time_t)(ms / 1000);
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    kta_buf_printf(out, "\"%s.%03dZ\"", when, (int)(ms % 1000));
}

static const char *const corr_type_names[] = {
    "event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg",
    "suppress"
};

const char *kta_hit_corr_type_name(const struct kta_corrdef *c)
{
    return corr_type_names[c->type];
}

void kta_hit_encode_suppressed(struct kta_buf *out, const char *hit, size_t len, uint64_t n)
{
    while (len && hit[len - 1] != '}')   /* kta_hit_encode ends it with its '}' */
        len--;
    if (!len) {
        kta_buf_printf(out, "{\"suppressed\":%llu}", (unsigned long long)n);
        return;
    }
    kta_buf_append(out, hit, len - 1);
    kta_buf_printf(out, "%s\"suppressed\":%llu}", len > 2 ? "," : "", (unsigned long long)n);
}

void kta_hit_encode_correlation(struct kta_buf *out, const struct kta_corr_hit *h,
                                const char *detected_at, const struct kta_buf *tail)
{
    const struct kta_corrdef *c = h->c;

    rule_head(out, c->id, c->title, c->level, c->tags);
    kta_buf_appends(out, ",\"correlation\":{\"type\":");
    quote(out, corr_type_names[c->type]);
    kta_buf_appends(out, ",\"group\":");
    append_json(out, h->group);
    kta_buf_printf(out, ",\"count\":%llu", (unsigned long long)h->count);
    if (c->type == KTA_CORR_VALUE_SUM || c->type == KTA_CORR_VALUE_AVG)
        kta_buf_printf(out, ",\"%s\":%.15g", c->type == KTA_CORR_VALUE_SUM ? "sum" : "avg",
                       h->value);
    if (h->values) {
        kta_buf_appends(out, ",\"values\":");
        append_json(out, h->values);
    }
    kta_buf_appends(out, ",\"first\":");
    append_time(out, h->first_ms);
    kta_buf_appends(out, ",\"last\":");
    append_time(out, h->last_ms);
    kta_buf_appends(out, ",\"sources\":");
    append_json(out, h->sources);
    kta_buf_printf(out, ",\"sources_total\":%llu}", (unsigned long long)h->nsources);
    kta_buf_appends(out, ",\"source\":");
    append_json(out, h->source);
    kta_buf_appends(out, ",\"detected_at\":");
    quote(out, detected_at);
    if (tail && tail->len)
        kta_buf_append(out, tail->data, tail->len);
    kta_buf_append(out, "}", 1);
}

void kta_hit_correlation_line(struct kta_buf *out, const struct kta_corr_hit *h)
{
    const char *key;
    const json_t *v;
    int first = 1;

    kta_buf_appends(out, "[CORRELATION] Rule: ");
    kta_buf_appends(out, h->c->id);
    kta_buf_appends(out, " | Severity: ");
    kta_buf_appends(out, h->c->level);
    kta_buf_appends(out, " | Group: ");
    json_object_foreach((json_t *)h->group, key, v) {
        if (!first)
            kta_buf_appends(out, ", ");
        first = 0;
        kta_buf_appends(out, key);
        kta_buf_appends(out, "=");
        if (json_is_string(v))
            kta_buf_appends(out, json_string_value(v));
        else
            append_json(out, v);
    }
    if (first)
        kta_buf_appends(out, "-");
    if (h->c->type == KTA_CORR_VALUE_SUM || h->c->type == KTA_CORR_VALUE_AVG)
        kta_buf_printf(out, " | Count: %llu | %s: %.15g\n", (unsigned long long)h->count,
                       h->c->type == KTA_CORR_VALUE_SUM ? "Sum" : "Avg", h->value);
    else
        kta_buf_printf(out, " | Count: %llu\n", (unsigned long long)h->count);
}
