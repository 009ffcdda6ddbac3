/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen: deterministic synthetic endpoint telemetry — process, network,
 * login and file events as JSON objects of about 200 bytes — for
 * `kta produce --generate` and `kta bench`.  A configurable share of
 * events carries a known-malicious pattern that the default rules detect.
 * The same seed always gives the same events.
 */
#ifndef KTA_GEN_H
#define KTA_GEN_H

#include <stdint.h>

#include "kta/util.h"

struct kta_gen {
    uint64_t state;
    double   malicious;   /* share of malicious events, 0..1 */
    uint64_t n;           /* events generated so far */
};

void kta_gen_init(struct kta_gen *g, uint64_t seed, double malicious);

/* Appends one event (a JSON object, no newline) to out.  Returns 1 when
 * the event was generated as malicious. */
int kta_gen_event(struct kta_gen *g, struct kta_buf *out);

#endif
