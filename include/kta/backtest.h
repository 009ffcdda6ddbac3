/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backtest: one topic's records in an offset range, read directly
 * (librdkafka's simple consumer, no consumer group), for `kta eval -t TOPIC`.  See
 * src/backtest.c.  Functions borrow their arguments.  Main thread only.
 */
#ifndef KTA_BACKTEST_H
#define KTA_BACKTEST_H

#include <stddef.h>
#include <stdint.h>

#include "kta/config.h"

/* Where a backtest stops (--until): the high watermark each partition had
 * at the start, or before the first record at or after a time. */
struct kta_backtest_until {
    int       at_end;    /* "end" */
    long long ms;        /* "@MS" */
};

/* Parses --until: "end" or "@MS" (milliseconds since the epoch).
 * Returns 0, or -1 with errstr saying what is wrong. */
int kta_backtest_parse_until(const char *text, struct kta_backtest_until *u, char *errstr,
                             size_t errstr_size);

/* One record: data/len its value (data NULL for a tombstone), timestamp
 * in ms (-1 when it has none).  Return 0 to go on, -1 to stop reading. */
typedef int kta_backtest_fn(void *opaque, const char *topic, int32_t partition, int64_t offset,
                            int64_t timestamp, const void *data, size_t len);

/*
 * Reads topic from (kta_config_start_offset's kinds; kind/value) until u
 * in every partition, calling fn for each record in offset order per
 * partition (partitions interleave).  The Kafka properties are cfg's
 * (bootstrap.servers, TLS, SASL ...) without the consumer's group ones:
 * no group.id, nothing committed, nothing produced.
 * Returns 0 when every partition reached its end (or fn stopped it), or -1
 * with errstr set: brokers unreachable, no such topic, a failed lookup or
 * fetch.
 */
int kta_backtest_read(const struct kta_config *cfg, const char *topic, enum kta_start kind,
                      long long value, const struct kta_backtest_until *u, kta_backtest_fn *fn,
                      void *opaque, char *errstr, size_t errstr_size);

#endif
