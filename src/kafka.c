/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka: the librdkafka glue that every command with a Kafka handle shares
 * (kta run's consumer and producer, kta produce): kta.yaml's kafka map ->
 * rd_kafka_conf_t, librdkafka's log lines and error callbacks -> kta_log
 * and the pipeline's stop, the start-up metadata wait and topic checks,
 * and which delivery errors no retry can fix.
 *
 * It owns no handle: callers pass theirs.  It never sends or reads a
 * record and never commits.  The only state is the first TLS or SASL
 * failure seen (under a lock) and kta_kafka_started.
 */
#include "kta/kafka.h"
#include "kta/pipeline.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

atomic_int kta_kafka_started;

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

/* Thread: any librdkafka thread. */
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

static pthread_mutex_t auth_error_lock = PTHREAD_MUTEX_INITIALIZER;
static char auth_error[512];

/* librdkafka's reasons name the broker and the mechanism, never a
 * password (it redacts secrets even in its configuration dump). */
void kta_kafka_note_error(int err, const char *reason)
{
    if (err != RD_KAFKA_RESP_ERR__AUTHENTICATION && err != RD_KAFKA_RESP_ERR__SSL)
        return;
    pthread_mutex_lock(&auth_error_lock);
    snprintf(auth_error, sizeof(auth_error), "%s", reason);
    pthread_mutex_unlock(&auth_error_lock);
}

int kta_kafka_auth_error(char *buf, size_t size)
{
    pthread_mutex_lock(&auth_error_lock);
    snprintf(buf, size, "%s", auth_error);
    pthread_mutex_unlock(&auth_error_lock);
    return buf[0] != '\0';
}

void kta_kafka_error(struct kta_pipeline *pl, const char *who, rd_kafka_t *rk, int err,
                     const char *reason)
{
    char fatal[512];

    kta_kafka_note_error(err, reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        if (pl->cfg->exactly_once && rd_kafka_type(rk) == RD_KAFKA_PRODUCER) {
            /* The end of the transaction sees it too: it aborts, replaces
             * the producer and rewinds; only a failed restart stops kta. */
            kta_log(KTA_LOG_WARN, "%s: fatal error: %s; the producer will be replaced", who, fatal);
            return;
        }
        kta_log(KTA_LOG_ERROR, "%s: fatal error: %s", who, fatal);
        kta_pipeline_stop(pl, 1);
        return;
    }
    /* Other errors also arrive as log lines; only this one does not. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && atomic_load(&kta_kafka_started))
        kta_log(KTA_LOG_WARN, "%s: %s", who, reason);
}

/* Errors no retry can fix: stop rather than loop forever or drop. */
int kta_kafka_permanent(rd_kafka_resp_err_t err)
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

/* In exactly-once mode: a failure that aborting and retrying the
 * transaction cannot fix.  Fatal and fenced are not among them: the end of
 * the transaction replaces the producer. */
int kta_kafka_txn_permanent(rd_kafka_resp_err_t err)
{
    return kta_kafka_permanent(err) && err != RD_KAFKA_RESP_ERR__FATAL && err != RD_KAFKA_RESP_ERR__FENCED;
}

/* How long a topic missing from the metadata is asked for again. */
#define TOPIC_SETTLE_MS 3000

/* 1: the topic is there; 0: it is not; -1: it cannot be used, why says why. */
static int topic_exists(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *name,
                        char *why, size_t why_size)
{
    const rd_kafka_metadata_t *one = NULL;
    rd_kafka_topic_t *rkt;
    int found = 0;

    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, name) != 0)
            continue;
        if (md->topics[i].err) {
            snprintf(why, why_size, "%s", rd_kafka_err2str(md->topics[i].err));
            return -1;
        }
        if (md->topics[i].partition_cnt == 0) {
            snprintf(why, why_size, "the topic has no partitions");
            return -1;
        }
        return 1;
    }
    /* A listing of all topics leaves out those this principal may not
     * describe; asking for the one topic tells "missing" from "denied". */
    why[0] = '\0';
    rkt = rd_kafka_topic_new(rk, name, NULL);
    if (rkt && !rd_kafka_metadata(rk, 0, rkt, &one, 5000) && one->topic_cnt == 1) {
        if (one->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
            snprintf(why, why_size, "%s (this principal may not describe it: check its ACLs)",
                     rd_kafka_err2str(one->topics[0].err));
        else if (!one->topics[0].err && one->topics[0].partition_cnt > 0)
            found = 1;   /* there by now */
    }
    if (one)
        rd_kafka_metadata_destroy(one);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return found ? 1 : why[0] ? -1 : 0;
}

int kta_kafka_topic_unusable(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *what,
                             const char *name, const char *setting, char *errstr,
                             size_t errstr_size)
{
    char why[256];
    int rc = topic_exists(rk, md, name, why, sizeof(why));

    /* A topic created just before kta started may not be in every
     * broker's metadata yet: ask again for a little while before calling
     * it missing. */
    for (int64_t end = kta_now_ms() + TOPIC_SETTLE_MS; rc == 0 && kta_now_ms() < end;) {
        static const rd_kafka_metadata_t none = { 0 };
        struct timespec pause = { 0, 250 * 1000000L };

        nanosleep(&pause, NULL);
        rc = topic_exists(rk, &none, name, why, sizeof(why));
    }
    switch (rc) {
    case 1:
        return 0;
    case 0:
        return kta_err(errstr, errstr_size, "%s '%s': no such topic (create it, or set %s)", what,
                       name, setting);
    default:
        return kta_err(errstr, errstr_size, "%s '%s': %s", what, name, why);
    }
}

int kta_kafka_metadata_wait(rd_kafka_t *rk, const struct kta_config *cfg,
                            const rd_kafka_metadata_t **mdp, char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err;
    int64_t end = kta_now_ms() + cfg->startup_timeout_ms;
    char auth[512];

    *mdp = NULL;
    /* In slices, so that a TLS or SASL failure (seen by the producer's
     * poll thread) ends the wait at once: retrying cannot fix it. */
    for (;;) {
        int64_t left = end - kta_now_ms();
        err = rd_kafka_metadata(rk, 1, NULL, mdp, (int)(left > 500 ? 500 : left > 1 ? left : 1));
        /* A producer's error callback runs only in rd_kafka_poll (kta
         * run's producer has a thread for it; kta produce has not). */
        if (err && rd_kafka_type(rk) == RD_KAFKA_PRODUCER)
            rd_kafka_poll(rk, 0);
        if (!err || kta_now_ms() >= end || kta_kafka_auth_error(auth, sizeof(auth)))
            break;
    }
    if (err && kta_kafka_auth_error(auth, sizeof(auth)))
        return kta_err(errstr, errstr_size, "cannot connect to the Kafka brokers at %s: %s",
                       kta_config_kafka(cfg, "bootstrap.servers"), auth);
    if (err)
        return kta_err(errstr, errstr_size, "cannot reach the Kafka brokers at %s within %d ms: "
                       "%s", kta_config_kafka(cfg, "bootstrap.servers"), cfg->startup_timeout_ms,
                       rd_kafka_err2str(err));
    return 0;
}

/* librdkafka's close waits without bound for a commit that is waiting
 * for a coordinator (librdkafka issues 3740 and 4519, still so in 2.x),
 * so with the broker down a SIGTERM hung in rd_kafka_consumer_close. */
int kta_kafka_close_bounded(rd_kafka_t *rk, int timeout_ms, kta_kafka_rebalance_fn *rebalance,
                            void *opaque)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
    int64_t end = kta_now_ms() + timeout_ms;

    if (error) {
        kta_log(KTA_LOG_WARN, "consumer close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rd_kafka_queue_destroy(q);
        return 0;
    }
    while (!rd_kafka_consumer_closed(rk)) {
        rd_kafka_event_t *ev;

        if (kta_now_ms() >= end)
            return -1;   /* q stays: the close still forwards to it */
        /* Events, not callbacks: librdkafka hands the close's rebalance
         * over as an event (serving it as a callback asserts). */
        ev = rd_kafka_queue_poll(q, 100);
        if (ev) {
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                rebalance(rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev),
                          opaque);
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    return 0;
}

rd_kafka_resp_err_t kta_kafka_resolve_start(rd_kafka_t *rk, int timeout_ms, const char *topic,
                                            int32_t partition, enum kta_start kind,
                                            long long value, int64_t *out)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    int64_t lo, hi;

    err = rd_kafka_query_watermark_offsets(rk, topic, partition, &lo, &hi, timeout_ms);
    if (err)
        return err;
    switch (kind) {
    case KTA_START_BEGINNING:
        *out = lo;
        break;
    case KTA_START_END:
        *out = hi;
        break;
    case KTA_START_OFFSET:
        *out = value < lo ? lo : value > hi ? hi : value;
        break;
    case KTA_START_TAIL:
        *out = hi - lo > value ? hi - value : lo;
        break;
    case KTA_START_TIME:
        list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = value;
        err = rd_kafka_offsets_for_times(rk, list, timeout_ms);
        if (!err)
            err = list->elems[0].err;
        /* No record that late: the end. */
        *out = list->elems[0].offset >= 0 ? list->elems[0].offset : hi;
        rd_kafka_topic_partition_list_destroy(list);
        break;
    }
    return err;
}
