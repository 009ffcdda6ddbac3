/* SPDX-License-Identifier: Apache-2.0 */
/*
 * producer: hits and dead letters -> Kafka (librdkafka), and the delivery
 * reports that finish each input record's offset slot.
 *
 * Workers call kta_producer_send; a thread of this module polls librdkafka
 * for delivery reports.  A record whose delivery failed for a reason that
 * can pass (broker down, timeout) is produced again, so its input offset
 * never moves past a lost hit; a reason that cannot pass (topic missing,
 * not authorised, record too large) stops the pipeline as fatal, leaving
 * the offset uncommitted.  Idempotence is on, so librdkafka's own retries
 * add no duplicates.
 */
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

atomic_int kta_kafka_started;

struct kta_producer {
    struct kta_pipeline *pl;
    rd_kafka_t          *rk;
    rd_kafka_topic_t    *hits;
    rd_kafka_topic_t    *dlq;
    pthread_t            poller;
    atomic_int           stop;
    int64_t              last_retry_log;
};

/* Consumer-only properties kta sets by default; the producer skips them
 * rather than have librdkafka warn about each one. */
static const char *consumer_only[] = {
    "group.id", "auto.offset.reset", "partition.assignment.strategy",
    "enable.auto.commit", "enable.auto.offset.store", "isolation.level",
    "session.timeout.ms", "max.poll.interval.ms", "group.instance.id",
    "heartbeat.interval.ms", "fetch.wait.max.ms", "fetch.min.bytes",
    "fetch.max.bytes", "queued.min.messages", "queued.max.messages.kbytes",
    "max.partition.fetch.bytes", "enable.partition.eof", "check.crcs",
    "auto.commit.interval.ms",
};

static int is_consumer_only(const char *key)
{
    for (size_t i = 0; i < sizeof(consumer_only) / sizeof(consumer_only[0]); i++)
        if (strcmp(key, consumer_only[i]) == 0)
            return 1;
    return 0;
}

int kta_kafka_conf_apply(rd_kafka_conf_t *conf, const struct kta_config *cfg,
                         int producer, char *errstr, size_t errstr_size)
{
    char rderr[512];

    for (size_t i = 0; i < cfg->nkafka; i++) {
        const struct kta_kafka_prop *kp = &cfg->kafka[i];
        if (producer && is_consumer_only(kp->key))
            continue;
        if (rd_kafka_conf_set(conf, kp->key, kp->value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK)
            /* rderr may quote the value; never echo a secret. */
            return kta_err(errstr, errstr_size, "%s: kafka property '%s': %s", kp->origin, kp->key,
                           kta_config_is_secret(kp->key) ? "invalid value" : rderr);
    }
    return 0;
}

void kta_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (!atomic_load(&kta_kafka_started)) {
        kta_log(KTA_LOG_DEBUG, "librdkafka: %s: %s", fac, buf);
        return;
    }
    kta_log(level <= 3 ? KTA_LOG_ERROR : level <= 5 ? KTA_LOG_WARN : KTA_LOG_DEBUG,
            "librdkafka: %s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kta_pipeline *pl = opaque;
    char fatal[512];

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        kta_log(KTA_LOG_ERROR, "producer: fatal error: %s", fatal);
        kta_pipeline_stop(pl, 1);
        return;
    }
    /* Other errors also arrive as log lines; only this one does not. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && atomic_load(&kta_kafka_started))
        kta_log(KTA_LOG_WARN, "producer: %s", reason);
}

/* Errors no retry can fix: stop rather than loop forever or drop. */
static int is_permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
        return 1;
    default:
        return 0;
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct kta_pipeline *pl = opaque;
    struct kta_producer *p = pl->producer;
    struct kta_slot *slot = rkm->_private;
    rd_kafka_headers_t *hdrs = NULL;
    int64_t now;

    if (!rkm->err) {
        if (slot)
            kta_slot_release(slot);
        return;
    }
    if (is_permanent(rkm->err) || !p) {
        kta_log(KTA_LOG_ERROR, "cannot deliver to topic '%s': %s; stopping without committing "
                "the input record", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
        kta_pipeline_stop(pl, 1);
        return;
    }
    atomic_fetch_add_explicit(&pl->stats.retries, 1, memory_order_relaxed);
    now = kta_now_ms();
    if (now - p->last_retry_log > 1000) {
        p->last_retry_log = now;
        kta_log(KTA_LOG_WARN, "delivery to topic '%s' failed (%s); producing it again",
                rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
    }
    /* Produce the same record again; the slot stays held meanwhile. */
    {
        rd_kafka_headers_t *old = NULL;
        if (rd_kafka_message_headers(rkm, &old) == RD_KAFKA_RESP_ERR_NO_ERROR && old)
            hdrs = rd_kafka_headers_copy(old);
    }
    if (rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkm->rkt),
                          RD_KAFKA_V_VALUE(rkm->payload, rkm->len),
                          RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_HEADERS(hdrs),
                          RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        kta_log(KTA_LOG_ERROR, "cannot produce to topic '%s' again; stopping without committing "
                "the input record", rd_kafka_topic_name(rkm->rkt));
        kta_pipeline_stop(pl, 1);
    }
}

static void *poll_main(void *arg)
{
    struct kta_producer *p = arg;

    while (!atomic_load(&p->stop))
        rd_kafka_poll(p->rk, 100);
    return NULL;
}

struct kta_producer *kta_producer_new(struct kta_pipeline *pl, char *errstr, size_t errstr_size)
{
    struct kta_producer *p = xcalloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rderr[512];

    p->pl = pl;
    pl->producer = p;
    if (rd_kafka_conf_set(conf, "client.id", "kta", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
        kta_err(errstr, errstr_size, "producer: %s", rderr);
        goto fail;
    }
    if (kta_kafka_conf_apply(conf, pl->cfg, 1, errstr, errstr_size) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, pl);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!p->rk) {
        kta_err(errstr, errstr_size, "producer: %s", rderr);
        goto fail;
    }
    conf = NULL;
    p->hits = rd_kafka_topic_new(p->rk, pl->cfg->output_topic, NULL);
    p->dlq = rd_kafka_topic_new(p->rk, pl->cfg->dlq_topic, NULL);
    pthread_create(&p->poller, NULL, poll_main, p);
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    pl->producer = NULL;
    free(p);
    return NULL;
}

int kta_producer_send(struct kta_producer *p, int dead_letter,
                      const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      rd_kafka_headers_t *hdrs, struct kta_slot *slot)
{
    rd_kafka_resp_err_t err;

    if (slot)
        kta_slot_hold(slot);
    for (;;) {
        err = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(dead_letter ? p->dlq : p->hits),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        /* Back-pressure: the poll thread frees room as reports arrive;
         * meanwhile this worker's ring fills and the consumer pauses. */
        {
            struct timespec ts = { 0, 5 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        kta_log(KTA_LOG_ERROR, "cannot produce to topic '%s': %s",
                dead_letter ? p->pl->cfg->dlq_topic : p->pl->cfg->output_topic,
                rd_kafka_err2str(err));
        kta_pipeline_stop(p->pl, 1);
        return -1;
    }
    return 0;
}

int kta_producer_flush(struct kta_producer *p, int timeout_ms)
{
    int64_t end = kta_now_ms() + timeout_ms;

    /* rd_kafka_flush would poll on this thread too; the poll thread
     * already serves delivery reports, so just wait for the queue. */
    while (rd_kafka_outq_len(p->rk) > 0 && kta_now_ms() < end) {
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
    }
    return rd_kafka_outq_len(p->rk);
}

rd_kafka_t *kta_producer_handle(struct kta_producer *p)
{
    return p->rk;
}

void kta_producer_free(struct kta_producer *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_join(p->poller, NULL);
    rd_kafka_topic_destroy(p->hits);
    rd_kafka_topic_destroy(p->dlq);
    rd_kafka_poll(p->rk, 0);
    rd_kafka_destroy(p->rk);
    free(p);
}
