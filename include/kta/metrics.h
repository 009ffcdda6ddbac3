/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: the Prometheus endpoint of `kta run` (libmicrohttpd) and the
 * registry behind it.
 *
 * The registry keeps what must outlive a ruleset or a rebalance: hits by
 * rule id and level (counters never go backwards across reloads) and the
 * consumer's last lag snapshot.  Everything else (per-worker counters,
 * rule reloads, readiness) stays with its owner, the pipeline, which
 * writes it into each scrape through the source callbacks with the
 * exposition helpers below.  This module owns the text format (Prometheus
 * text exposition 0.0.4): HELP/TYPE lines, label escaping, histograms.
 *
 * Hot path: a worker bumps the counter kta_metrics_hit_counter gave it
 * (relaxed atomic add); it never takes a lock or allocates here.
 *
 * Functions borrow their arguments; kta_metrics_free(NULL) does nothing.
 */
#ifndef KTA_METRICS_H
#define KTA_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "kta/util.h"

struct kta_metrics;

/* The processing-latency histogram's upper bounds, in microseconds (the
 * last bucket, +Inf, is implicit).  Workers count into
 * KTA_LATENCY_BUCKETS + 1 buckets with kta_latency_bucket. */
#define KTA_LATENCY_BUCKETS 14
extern const int64_t kta_latency_bounds_us[KTA_LATENCY_BUCKETS];

static inline size_t kta_latency_bucket(int64_t us)
{
    size_t i = 0;

    while (i < KTA_LATENCY_BUCKETS && us > kta_latency_bounds_us[i])
        i++;
    return i;
}

/* What the owner of the metrics adds to every scrape and answers to the
 * probes.  Thread: the HTTP server's thread calls them. */
struct kta_metrics_source {
    void *opaque;
    /* Appends the owner's metric families to out. */
    void (*collect)(void *opaque, struct kta_buf *out);
    /* NULL when ready (/readyz 200), else a one-line reason (503). */
    const char *(*ready)(void *opaque);
    /* NULL while the process runs its loop (/healthz 200), else why not. */
    const char *(*live)(void *opaque);
};

/* One partition of the consumer's lag snapshot. */
struct kta_metrics_lag {
    const char *topic;
    int32_t     partition;
    int64_t     lag;       /* high watermark minus committed offset */
};

struct kta_metrics *kta_metrics_new(void);
/* Stops the HTTP server, waiting for a scrape in progress; the registry
 * stays.  Does nothing when none runs. */
void kta_metrics_stop(struct kta_metrics *m);
/* Stops the HTTP server (if any) and frees the registry: no worker may
 * hold one of its counters any more. */
void kta_metrics_free(struct kta_metrics *m);

/*
 * Parses a metrics.listen value: "9464" or ":9464" (127.0.0.1), "host:port",
 * "0.0.0.0:9464", "[::]:9464"; "off", "false", "" or NULL mean no server.
 * Returns 1 with host and port filled in, 0 for off, or -1 with errstr.
 */
int kta_metrics_parse_listen(const char *text, char *host, size_t host_size,
                             char *port, size_t port_size, char *errstr, size_t errstr_size);

/* The same check for the option table (config.c): 0 or -1 with errstr. */
int kta_metrics_check_listen(const char *text, char *errstr, size_t errstr_size);

/*
 * Binds listen (see kta_metrics_parse_listen) and serves GET /metrics,
 * /healthz and /readyz from a thread of libmicrohttpd.  src is copied.
 * bound receives the address actually bound ("127.0.0.1:9464"; useful
 * with port 0).  Returns 0, or -1 with errstr (port in use, bad host).
 */
int kta_metrics_serve(struct kta_metrics *m, const char *listen,
                      const struct kta_metrics_source *src,
                      char *bound, size_t bound_size, char *errstr, size_t errstr_size);

/*
 * The hit counter of rule id `rule` at `level`, created at 0 when new.
 * The pointer stays valid until kta_metrics_free.  Any thread; takes the
 * registry lock (call it when adopting a ruleset, not per hit).
 */
atomic_uint_fast64_t *kta_metrics_hit_counter(struct kta_metrics *m, const char *rule,
                                              const char *level);

/* Replaces the lag snapshot with v[0..n) (copied).  Thread: consumer. */
void kta_metrics_set_lag(struct kta_metrics *m, const struct kta_metrics_lag *v, size_t n);

/* Sum and maximum of the snapshot's lags; where gets "topic[partition]"
 * of the maximum.  Returns the number of partitions in the snapshot. */
size_t kta_metrics_lag_summary(struct kta_metrics *m, int64_t *total, int64_t *max,
                               char *where, size_t where_size);

/* librdkafka's statistics (statistics.interval.ms set): the last JSON of
 * each client is kept (copied), turned into a few kta_kafka_* families at
 * each scrape and served whole at GET /stats/librdkafka.  Thread: the
 * client's stats callback (the thread polling it). */
enum kta_kafka_client { KTA_KAFKA_CONSUMER, KTA_KAFKA_PRODUCER, KTA_KAFKA_CLIENTS };
void kta_metrics_set_kafka_stats(struct kta_metrics *m, enum kta_kafka_client client,
                                 const char *json, size_t len);

/* The whole exposition: the source's families, then hits, lag and the
 * librdkafka statistics. */
void kta_metrics_render(struct kta_metrics *m, const struct kta_metrics_source *src,
                        struct kta_buf *out);

/* ---- exposition format helpers ---- */

/* "# HELP name help" and "# TYPE name type" (help escaped). */
void kta_metrics_family(struct kta_buf *out, const char *name, const char *type,
                        const char *help);

/* One sample line: name{k="v",...} value.  The labels are NULL-terminated
 * key, value pairs; values are escaped (\\, \", \n). */
void kta_metrics_sample(struct kta_buf *out, const char *name, double value, ...)
    __attribute__((sentinel));

/* A histogram: counts[0..nbounds] are per-bucket (not cumulative) counts,
 * the last one above every bound; bounds are upper bounds; sum in the
 * metric's unit.  Writes _bucket (cumulative, le="+Inf" last), _sum and
 * _count, after the family lines. */
void kta_metrics_histogram(struct kta_buf *out, const char *name, const char *help,
                           const double *bounds, size_t nbounds, const uint64_t *counts,
                           double sum);

/* A sample value as Prometheus text: integers exactly, NaN, +Inf, -Inf. */
void kta_metrics_value(struct kta_buf *out, double v);

/* Appends s escaped as a label value (backslash, double quote, newline). */
void kta_metrics_escape_label(struct kta_buf *out, const char *s);

#endif
