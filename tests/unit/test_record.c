/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for record.c, the one raw-record -> encoded-hits path of
 * `kta run`'s workers and `kta eval`: hits arrive encoded, in load order,
 * with the record's source and one detected_at; the engine and the
 * reference path agree on hits and on malformed records; a callback can
 * stop a record's remaining hits; no parse when no rule can match.
 */
#include "kta/record.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char rules[] =
    "rules:\n"
    "  - id: r-high\n    title: high\n    level: high\n"
    "    detection:\n      sel: {severity: high}\n      condition: sel\n"
    "  - id: r-mimi\n    title: mimikatz\n    level: critical\n"
    "    detection:\n      keywords: [mimikatz]\n      condition: keywords\n"
    "  - id: r-host\n    title: host\n    level: low\n"
    "    detection:\n      sel: {host|startswith: web}\n      condition: sel\n";

struct seen {
    struct kta_buf text;     /* "ID|HIT-JSON\n" per hit */
    int            calls, stop_after;
    char           detected_at[40];
    int            same_time;
};

static int collect(void *opaque, struct kta_record *rec, const struct kta_rule *r)
{
    struct seen *s = opaque;

    s->calls++;
    CHECK(rec->ev != NULL);                      /* the event is there for the key */
    if (s->calls == 1) {
        memcpy(s->detected_at, rec->detected_at, sizeof(s->detected_at));
        s->same_time = 1;
    } else if (strcmp(s->detected_at, rec->detected_at) != 0) {
        s->same_time = 0;
    }
    kta_buf_printf(&s->text, "%s|", kta_rule_id(r));
    kta_buf_append(&s->text, rec->hit->data, rec->hit->len);
    kta_buf_append(&s->text, "\n", 1);
    return s->stop_after && s->calls >= s->stop_after;
}

/* Runs one record both ways; returns the engine's result and checks that
 * the reference path says exactly the same. */
static long both(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, const char *raw,
                 struct seen *out, enum kta_event_error *err)
{
    struct kta_hit_source src = { .file = "f.jsonl", .line = 7, .timestamp = -1 };
    struct kta_buf hit = { 0 };
    struct seen ref = { 0 };
    struct kta_record rec = { .data = raw, .len = strlen(raw), .src = &src, .hit = &hit };
    long n, m;
    enum kta_event_error rerr;

    memset(out, 0, sizeof(*out));
    n = kta_record_eval(rs, ctx, 1u << 20, 0, &rec, collect, out);
    *err = rec.err;
    kta_record_done(&rec);
    CHECK(rec.ev == NULL);
    m = kta_record_eval(rs, ctx, 1u << 20, 1, &rec, collect, &ref);
    rerr = rec.err;
    kta_record_done(&rec);
    CHECK_INT(m, n);
    CHECK_INT(rerr, *err);
    CHECK_INT(ref.calls, out->calls);
    /* Same hits, byte for byte, but for detected_at. */
    for (char *p = strstr(ref.text.data ? ref.text.data : "", "\"detected_at\":\""); p;
         p = strstr(p + 1, "\"detected_at\":\""))
        memcpy(p + 15, out->detected_at, 24);
    CHECK_STR(ref.text.data ? ref.text.data : "", out->text.data ? out->text.data : "");
    kta_buf_free(&ref.text);
    kta_buf_free(&hit);
    return n;
}

static int count_hits(void *opaque, struct kta_record *rec, const struct kta_rule *r)
{
    (void)rec; (void)r;
    ++*(int *)opaque;
    return 0;
}

/* One record of about 2 MiB: many values and a long string (finding 7,
 * issue #11: worker buffers kept their peak size). */
static char *big_record(void)
{
    struct kta_buf b = { 0 };

    kta_buf_appends(&b, "{\"host\":\"web1\",\"cmd\":\"MIMIKATZ ");
    for (int i = 0; i < 100000; i++)
        kta_buf_appends(&b, "AbCdEfGhIj");
    kta_buf_appends(&b, "\"");
    for (int i = 0; i < 50000; i++)
        kta_buf_printf(&b, ",\"k%d\":\"v\"", i);
    kta_buf_appends(&b, "}");
    return b.data;
}

/* A large record's buffers are let go between batches; small ones stay. */
static void buffers_shrink(const struct kta_ruleset *rs)
{
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_hit_source src = { .file = "f.jsonl", .line = 1, .timestamp = -1 };
    struct kta_buf hit = { 0 };
    const char *small = "{\"host\":\"web1\",\"severity\":\"high\",\"cmd\":\"mimikatz\"}";
    char *big = big_record();
    struct kta_record rec = { .src = &src, .hit = &hit };
    size_t before;
    char *data;
    int hits;

    /* kta_buf_shrink: a small buffer stays as it is, a large one goes. */
    kta_buf_appends(&hit, "x");
    data = hit.data;
    CHECK_INT(kta_buf_shrink(&hit, KTA_BUF_KEEP), 0);
    CHECK(hit.data == data && hit.len == 1);
    kta_buf_reserve(&hit, 1 << 20);
    CHECK_INT(kta_buf_shrink(&hit, KTA_BUF_KEEP), 1);
    CHECK(hit.cap == 0 && hit.len == 0);
    kta_buf_appends(&hit, "again");   /* usable as a new buffer */
    CHECK_STR(hit.data, "again");

    for (int ref = 0; ref < 2; ref++) {
        rec.data = small;
        rec.len = strlen(small);
        hits = 0;
        CHECK_INT(kta_record_eval(rs, ctx, 4u << 20, ref, &rec, count_hits, &hits), 3);
        kta_record_done(&rec);
        before = kta_eval_ctx_bytes(ctx);
        kta_eval_ctx_trim(ctx, KTA_BUF_KEEP);
        CHECK(kta_eval_ctx_bytes(ctx) == before);    /* nothing freed for a small record */

        rec.data = big;
        rec.len = strlen(big);
        hits = 0;
        CHECK_INT(kta_record_eval(rs, ctx, 4u << 20, ref, &rec, count_hits, &hits), 2);
        kta_record_done(&rec);
        CHECK(hit.cap > (1u << 20));
        if (!ref)
            CHECK(kta_eval_ctx_bytes(ctx) > (1u << 20));
        kta_eval_ctx_trim(ctx, KTA_BUF_KEEP);
        kta_buf_shrink(&hit, KTA_BUF_KEEP);
        if (kta_eval_ctx_bytes(ctx) > 8 * KTA_BUF_KEEP)
            printf("# after the trim the context holds %zu bytes\n", kta_eval_ctx_bytes(ctx));
        CHECK(kta_eval_ctx_bytes(ctx) <= 8 * KTA_BUF_KEEP);
        CHECK(hit.cap <= KTA_BUF_KEEP);

        /* And the context still works. */
        rec.data = small;
        rec.len = strlen(small);
        hits = 0;
        CHECK_INT(kta_record_eval(rs, ctx, 4u << 20, ref, &rec, count_hits, &hits), 3);
        CHECK_INT(hits, 3);
        kta_record_done(&rec);
    }
    free(big);
    kta_buf_free(&hit);
    kta_eval_ctx_free(ctx);
}

int main(void)
{
    char errstr[512];
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs = kta_rules_load_string("t.yml", rules, strlen(rules), &opts, NULL,
                                                   errstr, sizeof(errstr));
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_eval_stats st;
    enum kta_event_error err;
    struct seen s;
    long n;

    CHECK(rs != NULL);
    if (!rs)
        return tap_done();

    /* Three hits, in load order, encoded with the record's source, one time. */
    n = both(rs, ctx, "{\"host\":\"web1\",\"severity\":\"high\",\"cmd\":\"mimikatz.exe\"}", &s, &err);
    CHECK_INT(n, 3);
    CHECK_INT(err, KTA_EVENT_OK);
    CHECK(s.same_time && strlen(s.detected_at) == 24 && s.detected_at[23] == 'Z');
    CHECK(strncmp(s.text.data, "r-high|{\"rule\":{\"id\":\"r-high\"", 29) == 0);
    CHECK(strstr(s.text.data, "\nr-mimi|") && strstr(s.text.data, "\nr-host|"));
    CHECK(strstr(s.text.data, "r-mimi") < strstr(s.text.data, "r-host|"));
    CHECK(strstr(s.text.data, "\"source\":{\"file\":\"f.jsonl\",\"line\":7}") != NULL);
    CHECK(strstr(s.text.data, "\"event\":{\"host\":\"web1\",\"severity\":\"high\",\"cmd\":"
                              "\"mimikatz.exe\"}") != NULL);
    kta_buf_free(&s.text);

    /* No hit. */
    n = both(rs, ctx, "{\"host\":\"db1\",\"severity\":\"low\"}", &s, &err);
    CHECK_INT(n, 0);
    CHECK_INT(s.calls, 0);
    kta_buf_free(&s.text);

    /* Malformed records: -1 and the same reason both ways. */
    n = both(rs, ctx, "{\"host\":\"web1\",", &s, &err);
    CHECK_INT(n, -1);
    CHECK_INT(err, KTA_EVENT_INVALID_JSON);
    n = both(rs, ctx, "[\"mimikatz\"]", &s, &err);
    CHECK_INT(n, -1);
    CHECK_INT(err, KTA_EVENT_NOT_OBJECT);
    n = both(rs, ctx, "", &s, &err);
    CHECK_INT(n, -1);
    CHECK_INT(err, KTA_EVENT_EMPTY);

    /* A callback that refuses a hit stops the record's later hits. */
    {
        struct kta_hit_source src = { .file = "-", .timestamp = -1 };
        struct kta_buf hit = { 0 };
        const char *raw = "{\"host\":\"web1\",\"severity\":\"high\",\"cmd\":\"mimikatz\"}";
        struct kta_record rec = { .data = raw, .len = strlen(raw), .src = &src, .hit = &hit };

        memset(&s, 0, sizeof(s));
        s.stop_after = 1;
        n = kta_record_eval(rs, ctx, 1u << 20, 0, &rec, collect, &s);
        CHECK_INT(s.calls, 1);
        CHECK(rec.stopped);
        CHECK_INT(n, 3);
        kta_record_done(&rec);
        /* The record is reusable: the stop does not carry over. */
        s.calls = 0;
        s.stop_after = 0;
        n = kta_record_eval(rs, ctx, 1u << 20, 0, &rec, collect, &s);
        CHECK_INT(s.calls, 3);
        CHECK(!rec.stopped);
        kta_record_done(&rec);
        kta_buf_free(&s.text);
        kta_buf_free(&hit);
    }

    /* The engine path does not parse a plain record no rule can match. */
    {
        struct kta_eval_ctx *fresh = kta_eval_ctx_new();
        struct kta_hit_source src = { .file = "-", .timestamp = -1 };
        struct kta_buf hit = { 0 };
        const char *raw = "{\"host\":\"db1\",\"severity\":\"low\"}";
        struct kta_record rec = { .data = raw, .len = strlen(raw), .src = &src, .hit = &hit };
        size_t literals, always;

        memset(&s, 0, sizeof(s));
        n = kta_record_eval(rs, fresh, 1u << 20, 0, &rec, collect, &s);
        kta_eval_ctx_stats(fresh, &st);
        CHECK_INT(n, 0);
        CHECK_INT(st.events, 1);
        kta_ruleset_prefilter_info(rs, &literals, &always);
        if (literals > 0) {            /* built with Hyperscan */
            CHECK_INT(st.parsed, 0);
            CHECK(rec.ev == NULL);
        }
        kta_record_done(&rec);
        kta_eval_ctx_free(fresh);
        kta_buf_free(&hit);
    }

    kta_eval_ctx_free(ctx);
    buffers_shrink(rs);
    kta_ruleset_decref(rs);
    return tap_done();
}
