/* SPDX-License-Identifier: Apache-2.0 */
/*
 * record: one raw record -> its hits, each encoded as a hit record
 * (docs/rules.md §20), or the reason it is malformed.  The one path that
 * `kta run`'s workers (worker.c) and `kta eval` (cmd_eval.c) both take,
 * so the two commands cannot disagree about an event: kta_eval_raw
 * (check, prefilter, parse only when needed, evaluate), then kta_hit_encode
 * for each hit, with one detected_at per record.
 *
 * It knows no Kafka and no files: where the record came from is the
 * caller's struct kta_hit_source, and what happens to an encoded hit
 * (produce it, print it) is the caller's callback.
 *
 * Functions borrow their arguments.  Thread: any, one struct kta_record
 * and one struct kta_eval_ctx per thread.
 */
#ifndef KTA_RECORD_H
#define KTA_RECORD_H

#include <jansson.h>
#include <stddef.h>

#include "kta/event.h"
#include "kta/hit.h"
#include "kta/rules.h"
#include "kta/util.h"

struct kta_record {
    /* Set by the caller. */
    const void                  *data;       /* the record's bytes (may be NULL if len 0) */
    size_t                       len;
    const struct kta_hit_source *src;        /* goes into every hit's "source" */
    struct kta_buf              *hit;        /* the caller's buffer, reused; holds the
                                              * encoded hit while fn runs */
    const struct kta_buf        *tail;       /* ends every hit: kta_hit_tail's output
                                              * for the ruleset (NULL: none) */
    /* Set by kta_record_eval. */
    json_t                      *ev;         /* the parsed event, or NULL when no parse
                                              * was needed; freed by kta_record_done */
    enum kta_event_error         err;        /* when malformed */
    char                         detail[256];
    char                         detected_at[40];  /* taken at the first hit */
    int                          stopped;    /* fn returned non-zero */
};

/* Receives each hit, in rule load order: rec->hit holds its JSON (no
 * newline) and rec->ev the event.  Returns 0 to go on, non-zero to have
 * no further hit of this record encoded or passed on. */
typedef int kta_record_hit_fn(void *opaque, struct kta_record *rec, const struct kta_rule *r);

/*
 * Evaluates rec->data against rs and calls fn for each hit.  reference 0
 * is the production path (kta_eval_raw); 1 decodes every record with
 * kta_event_decode and evaluates every rule with kta_eval, the oracle the
 * production path is checked against (`kta eval --reference`).  Both find
 * the same hits in the same order and the same malformed records with the
 * same reason.  max_bytes as kta_event_decode's.
 * Returns the number of hits (those after a stop included), or -1 when the
 * record is malformed (rec->err and rec->detail say why).  Call
 * kta_record_done afterwards in either case.
 */
long kta_record_eval(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, size_t max_bytes,
                     int reference, struct kta_record *rec, kta_record_hit_fn *fn, void *opaque);

/* Releases the parsed event; the record may then be reused. */
void kta_record_done(struct kta_record *rec);

#endif
