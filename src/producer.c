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
 *
 * Room in librdkafka's queue (queue.buffering.max.messages / kbytes): a
 * worker that finds it full waits (back-pressure), and a delivery report
 * that finds it full when producing a failed record again puts the record
 * on the retry list, which the poll thread sends first as room comes
 * (workers wait while it is not empty, so it cannot starve).  Neither
 * waits past kta_pipeline_giving_up (shutdown_timeout_ms after a stop, or
 * a fatal error): the record is then left unsent with its slot held, so
 * its input offset is not committed and the next run reads it again.  A
 * stop with the broker down therefore ends in shutdown_timeout_ms.
 *
 * Topics: a small table of librdkafka topic handles, numbered; 0 is
 * output.topic, 1 dead_letter.topic, the others the routed topics
 * (output.topic_by_level, rules' output_topic) that the pipeline adds
 * before it publishes a ruleset that needs them (kta_producer_topic,
 * under topics_lock).  Entries are never removed or moved, so workers send
 * by number without a lock; a producer restart (exactly-once) renews every
 * handle in place while the workers are idle.
 *
 * Exactly-once: this file makes the transactional librdkafka calls
 * (kta_producer_txn_*, thin wrappers over its handle); which one comes
 * next, and what an error means, is decided in commit.c, the owner of
 * what is safe to commit.  It never commits or rewinds input offsets.
 */
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct kta_producer {
    struct kta_pipeline *pl;
    rd_kafka_t          *rk;
    struct out_topic {
        char             *name;
        rd_kafka_topic_t *rkt;
    }                    topics[KTA_MAX_TOPICS];
    atomic_int           ntopics;
    pthread_mutex_t      topics_lock;    /* adding a topic; renewing the handles */
    pthread_t            poller;
    int                  polling;        /* poller runs (joined by replace_handle/free) */
    atomic_int           stop;
    int64_t              last_retry_log;
    int                  transactional;  /* processing.guarantee: exactly_once */
    atomic_int           txn_failed;     /* a record of the open transaction failed */
    atomic_int           txn_logged;     /* ... and that was said */
    atomic_int           txn_stopped;    /* ... for a reason that stops kta */
    char                *txn_id;
    atomic_int           connected;      /* a broker answered; see kta_producer_connected */
    pthread_mutex_t      handle_lock;    /* kta_producer_probe vs replace_handle */
    /* Failed records to produce again that found the queue full, oldest
     * first (at-least-once only: exactly-once aborts instead). */
    struct retry        *retry_head, **retry_tail;
    atomic_size_t        nretry;         /* entries; workers wait while > 0 */
    pthread_mutex_t      retry_lock;     /* the poller vs a delivery report elsewhere */
    atomic_int           gave_up_logged;
};

/* A record to produce again: copies, since the report's message is gone
 * when the callback returns. */
struct retry {
    struct retry       *next;
    rd_kafka_topic_t   *rkt;
    int32_t             partition;   /* as first produced (UA: the partitioner's) */
    void               *payload;     /* NULL: a null value (a tombstone) */
    size_t              len;
    void               *key;
    size_t              key_len;
    rd_kafka_headers_t *hdrs;
    struct kta_slot    *slot;
};

/* statistics.interval.ms: librdkafka's statistics go to the metrics
 * endpoint (without a callback librdkafka would drop them). */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct kta_pipeline *pl = opaque;

    (void)rk;
    if (pl->metrics)
        kta_metrics_set_kafka_stats(pl->metrics, KTA_KAFKA_PRODUCER, json, len);
    return 0;   /* librdkafka frees json */
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kta_pipeline *pl = opaque;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && pl->producer)
        atomic_store(&pl->producer->connected, 0);
    kta_kafka_error(pl, "producer", rk, err, reason);
}

/* Says once that records are left unsent because the stop's time is up
 * (or a fatal error came first).  Thread: any. */
static void gave_up(struct kta_producer *p, const char *topic)
{
    if (!atomic_exchange(&p->gave_up_logged, 1) && !atomic_load(&p->pl->fatal))
        kta_log(KTA_LOG_WARN, "stopping: shutdown_timeout_ms passed with records for topic '%s' "
                "not delivered; their input offsets are not committed and will be read again",
                topic);
}

/* Appends a copy of rkm to the retry list; takes hdrs.  Thread: any
 * (delivery report). */
static void retry_add(struct kta_producer *p, const rd_kafka_message_t *rkm,
                      rd_kafka_headers_t *hdrs, struct kta_slot *slot)
{
    struct retry *r = xcalloc(1, sizeof(*r));

    r->rkt = rkm->rkt;
    r->partition = rkm->partition;
    r->len = rkm->len;
    if (rkm->payload) {
        r->payload = xmalloc(rkm->len ? rkm->len : 1);
        memcpy(r->payload, rkm->payload, rkm->len);
    }
    if (rkm->key) {
        r->key_len = rkm->key_len;
        r->key = xmalloc(rkm->key_len ? rkm->key_len : 1);
        memcpy(r->key, rkm->key, rkm->key_len);
    }
    r->hdrs = hdrs;
    r->slot = slot;
    pthread_mutex_lock(&p->retry_lock);
    *p->retry_tail = r;
    p->retry_tail = &r->next;
    atomic_fetch_add(&p->nretry, 1);
    pthread_mutex_unlock(&p->retry_lock);
}

static void retry_free(struct retry *r)
{
    if (r->hdrs)
        rd_kafka_headers_destroy(r->hdrs);
    free(r->payload);
    free(r->key);
    free(r);
}

/* Produces the retry list's records again, oldest first, while there is
 * room.  Thread: the poller.  A record that still cannot be queued when
 * the stop's time is up stays on the list with its slot held. */
static void retry_drain(struct kta_producer *p)
{
    pthread_mutex_lock(&p->retry_lock);
    while (p->retry_head && !kta_pipeline_giving_up(p->pl)) {
        struct retry *r = p->retry_head;
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(r->rkt),
                              RD_KAFKA_V_PARTITION(r->partition),
                              RD_KAFKA_V_VALUE(r->payload, r->len),
                              RD_KAFKA_V_KEY(r->key, r->key_len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_HEADERS(r->hdrs),
                              RD_KAFKA_V_OPAQUE(r->slot), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        if (!err)
            r->hdrs = NULL;   /* librdkafka's now */
        p->retry_head = r->next;
        if (!p->retry_head)
            p->retry_tail = &p->retry_head;
        atomic_fetch_sub(&p->nretry, 1);
        if (err) {
            atomic_fetch_add_explicit(&p->pl->stats.failures, 1, memory_order_relaxed);
            kta_log(KTA_LOG_ERROR, "cannot produce to topic '%s' again: %s; stopping without "
                    "committing the input record", rd_kafka_topic_name(r->rkt),
                    rd_kafka_err2str(err));
            kta_pipeline_stop(p->pl, 1);   /* the slot stays held */
        }
        retry_free(r);
    }
    pthread_mutex_unlock(&p->retry_lock);
}

/* Thread: the poller, or the thread that stopped it (replace_handle,
 * destroy_handle).  Runs within rd_kafka_poll. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct kta_pipeline *pl = opaque;
    struct kta_producer *p = pl->producer;
    struct kta_slot *slot = rkm->_private;
    rd_kafka_headers_t *hdrs = NULL;
    rd_kafka_resp_err_t err;
    int64_t now;

    if (!rkm->err) {
        if (p && !atomic_load_explicit(&p->connected, memory_order_relaxed))
            atomic_store(&p->connected, 1);
        if (slot)
            kta_slot_release(slot);
        return;
    }
    if (p && p->transactional) {
        /* The transaction cannot commit now; the consumer thread aborts it
         * and rewinds to the committed offsets, so nothing is lost and the
         * record is not produced twice.  The slot is released so that the
         * wait for the transaction's end can finish.  A reason no retry
         * can fix (record too large for the topic, not authorised) would
         * abort every later try of the same record: stop instead. */
        int permanent = kta_kafka_txn_permanent(rkm->err);
        atomic_store(&p->txn_failed, 1);
        /* Not permanent: the record goes out again in the next transaction. */
        atomic_fetch_add_explicit(permanent ? &pl->stats.failures : &pl->stats.retries, 1,
                                  memory_order_relaxed);
        if (permanent && !atomic_exchange(&p->txn_stopped, 1)) {
            kta_log(KTA_LOG_ERROR, "cannot deliver to topic '%s': %s; stopping without committing "
                    "the input record", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
            kta_pipeline_stop(pl, 1);
        } else if (!permanent && !atomic_exchange(&p->txn_logged, 1))
            kta_log(KTA_LOG_WARN, "delivery to topic '%s' failed (%s); the transaction will be "
                    "aborted and its records processed again", rd_kafka_topic_name(rkm->rkt),
                    rd_kafka_err2str(rkm->err));
        if (slot)
            kta_slot_release(slot);
        return;
    }
    if (kta_kafka_permanent(rkm->err) || !p) {
        atomic_fetch_add_explicit(&pl->stats.failures, 1, memory_order_relaxed);
        kta_log(KTA_LOG_ERROR, "cannot deliver to topic '%s': %s; stopping without committing "
                "the input record", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(rkm->err));
        kta_pipeline_stop(pl, 1);
        return;
    }
    if (kta_pipeline_giving_up(pl)) {
        /* Stopping, and the time for it is up: the slot stays held, so
         * the record's offset is not committed; the next run reads it. */
        gave_up(p, rd_kafka_topic_name(rkm->rkt));
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
    /* Behind records already waiting for room: keep their order. */
    err = atomic_load(&p->nretry) ? RD_KAFKA_RESP_ERR__QUEUE_FULL
        : rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkm->rkt),
                            /* The same partition: the correlation
                             * changelog's records must stay on theirs. */
                            RD_KAFKA_V_PARTITION(rkm->partition),
                            RD_KAFKA_V_VALUE(rkm->payload, rkm->len),
                            RD_KAFKA_V_KEY(rkm->key, rkm->key_len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        /* Workers filled the room this report freed: not an error.  The
         * poll thread sends it when there is room again. */
        retry_add(p, rkm, hdrs, slot);
    } else if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        atomic_fetch_add_explicit(&pl->stats.failures, 1, memory_order_relaxed);
        kta_log(KTA_LOG_ERROR, "cannot produce to topic '%s' again: %s; stopping without "
                "committing the input record", rd_kafka_topic_name(rkm->rkt), rd_kafka_err2str(err));
        kta_pipeline_stop(pl, 1);
    }
}

static void *poll_main(void *arg)
{
    struct kta_producer *p = arg;

    pthread_setname_np(pthread_self(), "kta-delivery");
    while (!atomic_load(&p->stop)) {
        /* Records waiting for room: look again soon, room comes with
         * every acknowledgement. */
        rd_kafka_poll(p->rk, atomic_load(&p->nretry) ? 5 : 100);
        if (atomic_load(&p->nretry))
            retry_drain(p);
    }
    return NULL;
}

/* Creates p->rk from the configuration.  Returns 0 or -1 with errstr. */
static int create_handle(struct kta_producer *p, char *errstr, size_t errstr_size)
{
    const struct kta_config *cfg = p->pl->cfg;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rderr[512];

    if (rd_kafka_conf_set(conf, "client.id", "kta", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK ||
        /* A hit waits at most 1 ms for company (librdkafka's 5 ms
         * default is half the latency budget); under load batches still
         * form behind the requests in flight. */
        (!kta_config_kafka(cfg, "linger.ms") && !kta_config_kafka(cfg, "queue.buffering.max.ms") &&
         rd_kafka_conf_set(conf, "linger.ms", "1", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) ||
        /* A dead letter is the input record unchanged, and the input
         * topic may allow records larger than librdkafka's 1 MB default:
         * let the dead-letter topic's own max.message.bytes decide, which
         * stops kta with the broker's reason rather than a local one. */
        (!kta_config_kafka(cfg, "message.max.bytes") &&
         rd_kafka_conf_set(conf, "message.max.bytes", "16777216", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) ||
        /* A killed kta's open transaction blocks read_committed readers
         * until it times out: keep that short unless the user says. */
        (p->transactional && !kta_config_kafka(cfg, "transaction.timeout.ms") &&
         rd_kafka_conf_set(conf, "transaction.timeout.ms", "10000", rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK)) {
        kta_err(errstr, errstr_size, "producer: %s", rderr);
        goto fail;
    }
    if (kta_kafka_conf_apply(conf, cfg, 1, errstr, errstr_size) < 0)
        goto fail;
    if (p->transactional &&
        rd_kafka_conf_set(conf, "transactional.id", p->txn_id, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
        kta_err(errstr, errstr_size, "producer: %s", rderr);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, p->pl);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, rderr, sizeof(rderr));
    if (!p->rk) {
        kta_err(errstr, errstr_size, "producer: %s", rderr);
        goto fail;
    }
    for (int i = 0; i < atomic_load(&p->ntopics); i++)
        p->topics[i].rkt = rd_kafka_topic_new(p->rk, p->topics[i].name, NULL);
    return 0;
fail:
    rd_kafka_conf_destroy(conf);
    return -1;
}

static void destroy_handle(struct kta_producer *p)
{
    for (int i = 0; i < atomic_load(&p->ntopics); i++) {
        rd_kafka_topic_destroy(p->topics[i].rkt);
        p->topics[i].rkt = NULL;
    }
    rd_kafka_poll(p->rk, 0);
    rd_kafka_destroy(p->rk);
    p->rk = NULL;
}

int kta_producer_poll_start(struct kta_producer *p, char *errstr, size_t errstr_size)
{
    int err = kta_thread_create(&p->poller, poll_main, p, "kta-delivery");

    if (err) {
        if (errstr)
            kta_err(errstr, errstr_size, "cannot start thread kta-delivery (the producer's "
                    "delivery reports): %s", strerror(err));
        return -1;
    }
    p->polling = 1;
    return 0;
}

/* Recreates the librdkafka handle: the poll thread is stopped meanwhile. */
static int replace_handle(struct kta_producer *p, char *errstr, size_t errstr_size)
{
    int rc;

    atomic_store(&p->stop, 1);
    if (p->polling)
        pthread_join(p->poller, NULL);
    p->polling = 0;
    atomic_store(&p->stop, 0);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(p->rk, 0);
    pthread_mutex_lock(&p->handle_lock);
    /* A reload adding a topic meanwhile waits for the new handle. */
    pthread_mutex_lock(&p->topics_lock);
    destroy_handle(p);
    rc = create_handle(p, errstr, errstr_size);
    if (rc < 0) {
        char again[512];
        /* Keep a handle for kta_producer_free; the first error is the one to report. */
        if (create_handle(p, again, sizeof(again)) < 0) {
            /* It worked with the same configuration a moment ago. */
            kta_log(KTA_LOG_ERROR, "%s", again);
            abort();
        }
    }
    pthread_mutex_unlock(&p->topics_lock);
    pthread_mutex_unlock(&p->handle_lock);
    /* Without its poller no delivery report would ever come: the caller
     * stops kta (commit.c: KTA_TXN_FATAL) rather than run on deaf. */
    if (kta_producer_poll_start(p, rc < 0 ? NULL : errstr, errstr_size) < 0)
        return -1;
    return rc;
}

/* init_transactions, then begin.  librdkafka retries retriable answers
 * itself within timeout_ms (e.g. CONCURRENT_TRANSACTIONS while the broker
 * still aborts the transaction of a previous producer with this id). */
static int txn_start(struct kta_producer *p, int timeout_ms, char *errstr, size_t errstr_size)
{
    int64_t end = kta_now_ms() + timeout_ms;
    rd_kafka_error_t *error;

    /* A broker that has just started answers NOT_COORDINATOR (retriable)
     * until its transaction log is loaded: calling again resumes, until
     * the time is up. */
    for (;;) {
        int64_t left = end - kta_now_ms();
        error = rd_kafka_init_transactions(p->rk, left > 1 ? (int)left : 1);
        if (!error || !rd_kafka_error_is_retriable(error) || rd_kafka_error_is_fatal(error) ||
            kta_now_ms() + 200 >= end)
            break;
        rd_kafka_error_destroy(error);
        {
            struct timespec ts = { 0, 200 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (!error)
        error = rd_kafka_begin_transaction(p->rk);
    if (error) {
        kta_err(errstr, errstr_size, "cannot start a transaction (transactional.id '%s'): %s (%s%s)",
                p->txn_id, rd_kafka_error_string(error), rd_kafka_error_name(error),
                rd_kafka_error_is_fatal(error) ? ", fatal" :
                rd_kafka_error_is_retriable(error) ? ", retriable" : "");
        rd_kafka_error_destroy(error);
        return -1;
    }
    atomic_store(&p->txn_failed, 0);
    atomic_store(&p->txn_logged, 0);
    return 0;
}

struct kta_producer *kta_producer_new(struct kta_pipeline *pl, char *errstr, size_t errstr_size)
{
    struct kta_producer *p = xcalloc(1, sizeof(*p));
    const struct kta_config *cfg = pl->cfg;

    p->pl = pl;
    pl->producer = p;
    pthread_mutex_init(&p->handle_lock, NULL);
    pthread_mutex_init(&p->topics_lock, NULL);
    pthread_mutex_init(&p->retry_lock, NULL);
    p->retry_tail = &p->retry_head;
    p->topics[KTA_TOPIC_HITS].name = xstrdup(cfg->output_topic);
    p->topics[KTA_TOPIC_DLQ].name = xstrdup(cfg->dlq_topic);
    atomic_init(&p->ntopics, 2);
    p->transactional = cfg->exactly_once;
    if (p->transactional) {
        const char *id = kta_config_kafka(cfg, "transactional.id");
        char host[256] = "localhost";
        gethostname(host, sizeof(host) - 1);
        /* Unique per process, as Kafka Streams does: zombies are fenced by
         * the consumer group generation (KIP-447), not by a shared id. */
        p->txn_id = id ? xstrdup(id)
                       : xasprintf("kta-%s-%s-%ld", kta_config_kafka(cfg, "group.id"), host,
                                   (long)getpid());
    }
    if (create_handle(p, errstr, errstr_size) < 0)
        goto fail;
    return p;
fail:
    pl->producer = NULL;
    pthread_mutex_destroy(&p->handle_lock);
    pthread_mutex_destroy(&p->retry_lock);
    free(p->topics[KTA_TOPIC_HITS].name);
    free(p->topics[KTA_TOPIC_DLQ].name);
    pthread_mutex_destroy(&p->topics_lock);
    free(p->txn_id);
    free(p);
    return NULL;
}

static int topic_find(struct kta_producer *p, const char *name)
{
    int n = atomic_load_explicit(&p->ntopics, memory_order_acquire);

    for (int i = 0; i < n; i++)
        if (strcmp(p->topics[i].name, name) == 0)
            return i;
    return -1;
}

int kta_producer_topic_known(struct kta_producer *p, const char *name)
{
    int id;

    pthread_mutex_lock(&p->topics_lock);
    id = topic_find(p, name);
    pthread_mutex_unlock(&p->topics_lock);
    return id;
}

int kta_producer_topic(struct kta_producer *p, const char *name)
{
    int id;

    pthread_mutex_lock(&p->topics_lock);
    id = topic_find(p, name);
    if (id < 0 && atomic_load(&p->ntopics) < KTA_MAX_TOPICS) {
        id = atomic_load(&p->ntopics);
        p->topics[id].name = xstrdup(name);
        p->topics[id].rkt = rd_kafka_topic_new(p->rk, name, NULL);
        /* Published after the entry is whole. */
        atomic_store_explicit(&p->ntopics, id + 1, memory_order_release);
    }
    pthread_mutex_unlock(&p->topics_lock);
    return id;
}

const char *kta_producer_topic_name(const struct kta_producer *p, int topic)
{
    return p->topics[topic].name;
}

int kta_producer_start(struct kta_producer *p, char *errstr, size_t errstr_size)
{
    if (!p->transactional)
        return 0;
    return txn_start(p, p->pl->cfg->startup_timeout_ms, errstr, errstr_size);
}

int kta_producer_txn_failed(struct kta_producer *p)
{
    return atomic_load(&p->txn_failed);
}

rd_kafka_error_t *kta_producer_txn_send_offsets(struct kta_producer *p,
                                                const rd_kafka_topic_partition_list_t *offsets,
                                                const rd_kafka_consumer_group_metadata_t *cgmd,
                                                int timeout_ms)
{
    return rd_kafka_send_offsets_to_transaction(p->rk, offsets, cgmd, timeout_ms);
}

rd_kafka_error_t *kta_producer_txn_commit(struct kta_producer *p, int timeout_ms)
{
    return rd_kafka_commit_transaction(p->rk, timeout_ms);
}

rd_kafka_error_t *kta_producer_txn_abort(struct kta_producer *p, int timeout_ms)
{
    return rd_kafka_abort_transaction(p->rk, timeout_ms);
}

rd_kafka_error_t *kta_producer_txn_begin(struct kta_producer *p)
{
    rd_kafka_error_t *error = rd_kafka_begin_transaction(p->rk);

    if (!error) {
        /* The flags describe the open transaction: a new one starts clean. */
        atomic_store(&p->txn_failed, 0);
        atomic_store(&p->txn_logged, 0);
    }
    return error;
}

int kta_producer_txn_replace(struct kta_producer *p, char *errstr, size_t errstr_size)
{
    return replace_handle(p, errstr, errstr_size);
}

rd_kafka_error_t *kta_producer_txn_init(struct kta_producer *p, int timeout_ms)
{
    return rd_kafka_init_transactions(p->rk, timeout_ms);
}

int kta_producer_transactional(const struct kta_producer *p)
{
    return p->transactional;
}

int kta_producer_send(struct kta_producer *p, int topic,
                      const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      rd_kafka_headers_t *hdrs, struct kta_slot *slot)
{
    return kta_producer_send_to(p, topic, RD_KAFKA_PARTITION_UA, key, key_len, value, value_len,
                                hdrs, slot);
}

int kta_producer_send_to(struct kta_producer *p, int topic, int32_t partition,
                         const void *key, size_t key_len,
                         const void *value, size_t value_len,
                         rd_kafka_headers_t *hdrs, struct kta_slot *slot)
{
    rd_kafka_resp_err_t err;

    if (slot)
        kta_slot_hold(slot);
    for (;;) {
        /* Records the poll thread is producing again go first. */
        err = atomic_load_explicit(&p->nretry, memory_order_relaxed)
            ? RD_KAFKA_RESP_ERR__QUEUE_FULL
            : rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->topics[topic].rkt),
                                RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_VALUE((void *)value, value_len),
                                RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_HEADERS(hdrs),
                                RD_KAFKA_V_OPAQUE(slot), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        if (kta_pipeline_giving_up(p->pl)) {
            /* Stopping with no room (broker down) and the time for it is
             * up: give the record up, its slot held (unfinished), so its
             * offset is not committed and the next run reads it again. */
            if (hdrs)
                rd_kafka_headers_destroy(hdrs);
            gave_up(p, p->topics[topic].name);
            return -1;
        }
        /* Back-pressure: the poll thread frees room as reports arrive;
         * meanwhile this worker's ring fills and the consumer pauses. */
        {
            struct timespec ts = { 0, 5 * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (err && p->transactional && err != RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        /* Mostly __STATE: a record of this transaction already failed and
         * librdkafka takes no more until it is aborted.  The end of the
         * transaction aborts and rewinds; this record is read again. */
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        if (slot)
            kta_slot_release(slot);
        atomic_store(&p->txn_failed, 1);
        if (!atomic_exchange(&p->txn_logged, 1))
            kta_log(KTA_LOG_WARN, "cannot produce to topic '%s' in this transaction (%s); it will "
                    "be aborted and its records processed again", p->topics[topic].name,
                    rd_kafka_err2str(err));
        return -1;
    }
    if (err) {
        if (hdrs)
            rd_kafka_headers_destroy(hdrs);
        atomic_fetch_add_explicit(&p->pl->stats.failures, 1, memory_order_relaxed);
        kta_log(KTA_LOG_ERROR, "cannot deliver to topic '%s': %s; stopping without committing "
                "the input record", p->topics[topic].name, rd_kafka_err2str(err));
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

int kta_producer_connected(struct kta_producer *p)
{
    return atomic_load(&p->connected);
}

void kta_producer_probe(struct kta_producer *p, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;

    pthread_mutex_lock(&p->handle_lock);
    if (rd_kafka_metadata(p->rk, 0, p->topics[KTA_TOPIC_HITS].rkt, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_store(&p->connected, 1);
        rd_kafka_metadata_destroy(md);
    }
    pthread_mutex_unlock(&p->handle_lock);
}

void kta_producer_free(struct kta_producer *p)
{
    if (!p)
        return;
    if (p->transactional && p->rk) {
        /* What is left open was never committed; say so to the broker
         * instead of letting it time out, within what is left of the
         * stop's shutdown_timeout_ms (the broker may be down). */
        int left = p->pl ? kta_pipeline_time_left(p->pl) : 2000;
        rd_kafka_error_t *error =
            rd_kafka_abort_transaction(p->rk, left < 100 ? 100 : left > 2000 ? 2000 : left);
        if (error)
            rd_kafka_error_destroy(error);
    }
    atomic_store(&p->stop, 1);
    if (p->polling)
        pthread_join(p->poller, NULL);
    if (p->rk)
        destroy_handle(p);
    /* Left unsent at a stop: their slots stay held, nothing commits now. */
    while (p->retry_head) {
        struct retry *r = p->retry_head;
        p->retry_head = r->next;
        retry_free(r);
    }
    pthread_mutex_destroy(&p->retry_lock);
    pthread_mutex_destroy(&p->handle_lock);
    for (int i = 0; i < atomic_load(&p->ntopics); i++)
        free(p->topics[i].name);
    pthread_mutex_destroy(&p->topics_lock);
    free(p->txn_id);
    free(p);
}
