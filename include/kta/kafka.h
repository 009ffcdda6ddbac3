/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka: librdkafka glue shared by every command with a Kafka handle
 * (kta run's consumer, producer and commits; kta produce; kta export).  See
 * src/kafka.c.  Functions borrow their arguments; none keeps a handle.
 */
#ifndef KTA_KAFKA_H
#define KTA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stddef.h>

#include "kta/config.h"

struct kta_pipeline;

/* Applies cfg's kafka map to conf.  Returns 0, or -1 with errstr naming
 * the origin of the bad property ("kta.yaml:4:3: ..."). skip_consumer
 * leaves out kta's consumer-only defaults. */
int kta_kafka_conf_apply(rd_kafka_conf_t *conf, const struct kta_config *cfg,
                         int skip_consumer_defaults, char *errstr, size_t errstr_size);

/* librdkafka log lines go through kta_log; quiet until start-up is done
 * (so an unreachable broker gives one clear line, not a flood). */
void kta_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
extern atomic_int kta_kafka_started;

/* Error callbacks pass every error here; a TLS or SASL failure (wrong CA,
 * wrong password) is kept, so start-up can stop at once and say why.
 * kta_kafka_auth_error copies it to buf; returns 0 when there was none. */
void kta_kafka_note_error(int err, const char *reason);
int kta_kafka_auth_error(char *buf, size_t size);

/* The error callback of every librdkafka handle: fatal errors stop the
 * pipeline, authentication errors are remembered for start-up checks. */
void kta_kafka_error(struct kta_pipeline *pl, const char *who, rd_kafka_t *rk, int err,
                     const char *reason);

/* Delivery errors no retry can fix (topic missing, not authorised, record
 * too large, fatal, fenced): stop rather than loop forever or drop.
 * kta_kafka_txn_permanent: the same less fatal and fenced, which in
 * exactly-once mode a producer restart fixes.  Thread: any. */
int kta_kafka_permanent(rd_kafka_resp_err_t err);
int kta_kafka_txn_permanent(rd_kafka_resp_err_t err);

/* The start-up checks of kta run and kta produce, on any handle: waits up
 * to cfg->startup_timeout_ms for the brokers' metadata (*mdp, destroyed by
 * the caller), stopping at once on a TLS or SASL failure.  Returns 0, or
 * -1 with errstr saying why. */
int kta_kafka_metadata_wait(rd_kafka_t *rk, const struct kta_config *cfg,
                            const rd_kafka_metadata_t **mdp, char *errstr, size_t errstr_size);
/* Says in errstr why topic NAME (a WHAT, e.g. "output topic", set by
 * SETTING) cannot be used: missing, no partitions, not authorised.
 * Returns 0 when it can be used. */
int kta_kafka_topic_unusable(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *what,
                             const char *name, const char *setting, char *errstr,
                             size_t errstr_size);

/* Leaves the consumer group of rk (a consumer handle), serving the
 * close's rebalance through rebalance (the handle's own rebalance
 * callback), for at most timeout_ms.  Returns 0 when it closed; -1 when it
 * gave up (no coordinator): the caller then must not rd_kafka_destroy rk
 * (that would wait as long) and leaves it to the process exit.  Thread:
 * the one that polls rk. */
typedef void kta_kafka_rebalance_fn(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                                    rd_kafka_topic_partition_list_t *partitions, void *opaque);
int kta_kafka_close_bounded(rd_kafka_t *rk, int timeout_ms, kta_kafka_rebalance_fn *rebalance,
                            void *opaque);

/* The absolute offset a start position (input.start_offset, kcat's -o)
 * means for one partition, from its low and high watermarks (and the
 * timestamp index for KTA_START_TIME: the first record at or after it,
 * the high watermark when there is none).  An offset out of range gives
 * the nearest end.  Waits up to timeout_ms per request. */
rd_kafka_resp_err_t kta_kafka_resolve_start(rd_kafka_t *rk, int timeout_ms, const char *topic,
                                            int32_t partition, enum kta_start kind,
                                            long long value, int64_t *out);
#endif
