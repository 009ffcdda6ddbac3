/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record: raw record -> eval -> encoded hits, for the workers of `kta run`
 * and for `kta eval`.  A thin layer over kta_eval_raw (eval.c) and
 * kta_hit_encode (hit.c); it never produces, prints or parses anything
 * itself, and allocates only inside jansson and the caller's buffer.
 */
#include "kta/record.h"

#include <string.h>

struct call {
    struct kta_record *rec;
    kta_record_hit_fn *fn;
    void              *opaque;
};

/* Thread: the caller's. */
static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct call *c = opaque;
    struct kta_record *rec = c->rec;

    if (rec->stopped)
        return;
    /* One time for every hit of a record: they were detected together. */
    if (!rec->detected_at[0])
        kta_iso8601_now(rec->detected_at, sizeof(rec->detected_at));
    kta_buf_reset(rec->hit);
    kta_hit_encode(rec->hit, r, rec->data, rec->len, rec->src, rec->detected_at, rec->tail);
    if (c->fn(c->opaque, rec, r) != 0)
        rec->stopped = 1;
}

long kta_record_eval(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, size_t max_bytes,
                     int reference, struct kta_record *rec, kta_record_hit_fn *fn, void *opaque)
{
    struct call c = { .rec = rec, .fn = fn, .opaque = opaque };

    rec->ev = NULL;
    rec->err = KTA_EVENT_OK;
    rec->detail[0] = '\0';
    rec->detected_at[0] = '\0';
    rec->stopped = 0;
    if (!reference)
        return kta_eval_raw(rs, ctx, rec->data, rec->len, max_bytes, on_hit, &c, &rec->ev,
                            &rec->err, rec->detail, sizeof(rec->detail));
    rec->ev = kta_event_decode(rec->data, rec->len, max_bytes, &rec->err, rec->detail,
                               sizeof(rec->detail));
    if (!rec->ev)
        return -1;
    return (long)kta_eval(rs, ctx, rec->ev, on_hit, &c);
}

void kta_record_done(struct kta_record *rec)
{
    json_decref(rec->ev);
    rec->ev = NULL;
}
