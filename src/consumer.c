/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer: the consumer thread — Kafka (librdkafka high-level consumer in
 * a consumer group) -> one SPSC ring per worker.  Intake only: the poll
 * loop, dispatch, the overflow queues, pause/resume, the fetch wake-up,
 * the rebalance callback and lag publishing.
 *
 * What is safe to commit is commit.c's: the partition table, the offset
 * trackers, commits and transactions.  This file asks it to track each
 * record it hands to a worker (kta_commit_track), to commit once per turn
 * of the loop (kta_commit_tick), and to drain and commit on a rebalance
 * (kta_commit_drain); it never changes a committed position.  Records of
 * one partition always go to the same worker, so hits keep partition
 * order.  When a ring or a tracker is full the record waits in its
 * worker's overflow queue; when those hold input.buffer_bytes the loop
 * stops taking records (librdkafka's prefetch queue then fills to its own
 * bounds and stops fetching) until they are down to 90%, polling only
 * every BLOCKED_POLL_MS so the group never sees this member as stuck.  A
 * stall longer than input.stall_pause_ms pauses every partition.  Nothing
 * is ever dropped: a record either reaches a worker or stays uncommitted
 * for the next owner.
 *
 * Rebalances use the eager protocol: on revoke, everything in flight is
 * finished and committed before the partitions are given up.  On assign,
 * input.start_offset may choose where partitions start (replays;
 * commit.c decides).  Thread: consumer, for every function here.
 */
#include "kta/commit.h"
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A worker's records that did not fit its ring, oldest first: one queue
 * per worker, so a busy worker never holds back an idle one. */
struct backlog {
    rd_kafka_message_t **v;
    size_t               head, len, cap;   /* cap: 0 or a power of two */
};

struct kta_consumer {
    struct kta_pipeline *pl;
    rd_kafka_t          *rk;
    struct kta_commit   *cm;         /* the partitions, their trackers, commits */
    struct kta_ring    **rings;      /* each worker's (kta_worker_ring) */
    struct backlog      *overflow;   /* per worker: records waiting for room */
    size_t               noverflow;  /* records in all of them */
    size_t               overflow_bytes; /* and their approximate memory */
    int                  paused;
    int                  closing;    /* shutdown drained already */
    int                  abandoned;  /* the close gave up: leave the handle to exit */
    unsigned             unkicked;   /* records pushed since workers were last woken */
    size_t               burst_bytes;   /* taken from librdkafka since its queue was last empty */
    size_t               burst_records;
    size_t               wake_bytes;    /* a burst this big may have filled librdkafka's queue */
    size_t               wake_records;
    long                 wakeups;
    int64_t              now_us;        /* the loop's clock, for the records' taken_us */
    int64_t              last_lag;      /* when the lag snapshot was last published */
};

/* Records handed out before sleeping workers are woken, at the latest. */
#define KICK_BATCH 64
/* Records taken between two reads of the clock while records keep coming. */
#define CLOCK_BATCH 64
/* How long a fetch wake-up may block the consumer thread. */
#define WAKE_TIMEOUT_MS 200
/* A poll that waited this long for nothing means the input is caught up. */
#define IDLE_POLL_MS 100
/* While workers are behind, the loop polls this often (for the group). */
#define BLOCKED_POLL_MS 100
/* How often the lag snapshot for metrics and the stats line is taken. */
#define LAG_INTERVAL_MS 1000
/* What a waiting record costs: its payload plus librdkafka's message. */
#define RECORD_BYTES(rkm) ((rkm)->len + (rkm)->key_len + 256)

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- fetch wake-up ---------------------------------------------------------- */

/* librdkafka 2.0 stops fetching a partition while its queue holds
 * queued.max.messages.kbytes (or queued.min.messages), and decides again
 * only when that broker's thread wakes up: on its next request or reply,
 * or after up to a second.  Draining the queue wakes nothing, so each
 * full queue cost up to a second without records; that made small
 * buffers slow and big ones the only way to speed.  A request to each
 * leader wakes its thread at once: a ListOffsets (offsets_for_times) for
 * the assigned partitions, answer ignored.  It is sent when kta takes
 * records again after its own backlog was full, and when it has just
 * drained a burst big enough that the queue may have reached its bound.
 * Newer librdkafka releases re-check on their own (fetch.queue.backoff.ms);
 * there the request is merely redundant.  Costs one round trip on this
 * thread. */
static void wake_fetchers(struct kta_consumer *c)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;

    const struct kta_commit_part *parts;
    size_t nparts;

    parts = kta_commit_parts(c->cm, &nparts);
    if (!nparts || c->paused)
        return;
    list = rd_kafka_topic_partition_list_new((int)nparts);
    for (size_t i = 0; i < nparts; i++)
        rd_kafka_topic_partition_list_add(list, parts[i].topic, parts[i].partition)->offset =
            RD_KAFKA_OFFSET_END;   /* the latest timestamp: the cheapest lookup */
    err = rd_kafka_offsets_for_times(c->rk, list, WAKE_TIMEOUT_MS);
    rd_kafka_topic_partition_list_destroy(list);
    c->wakeups++;
    if (err)
        kta_log(KTA_LOG_DEBUG, "fetch wake-up: %s", rd_kafka_err2str(err));
}

/* ---- pause / resume ------------------------------------------------------- */

static void set_paused(struct kta_consumer *c, int pause)
{
    rd_kafka_topic_partition_list_t *list = NULL;

    if (c->paused == pause)
        return;
    if (rd_kafka_assignment(c->rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list) {
        if (pause)
            rd_kafka_pause_partitions(c->rk, list);
        else
            rd_kafka_resume_partitions(c->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    c->paused = pause;
    kta_log(KTA_LOG_DEBUG, "%s all partitions (%zu records, %zu KiB waiting for a worker)",
            pause ? "pausing" : "resuming", c->noverflow, c->overflow_bytes / 1024);
}

/* The worker of rkm's partition (kta_worker_for). */
static int worker_of(const struct kta_consumer *c, const rd_kafka_message_t *rkm)
{
    return kta_worker_for(rd_kafka_topic_name(rkm->rkt), rkm->partition, c->pl->nworkers);
}

/* Hands one record to its worker.  Returns 0, or -1 when there is no room
 * (nothing changed then). */
static int dispatch(struct kta_consumer *c, rd_kafka_message_t *rkm)
{
    struct kta_pipeline *pl = c->pl;
    struct kta_ring *ring = c->rings[worker_of(c, rkm)];
    struct kta_commit_part *p = kta_commit_find(c->cm, rd_kafka_topic_name(rkm->rkt), rkm->partition);
    struct kta_ring_item it;
    struct kta_slot *slot;

    if (!p) {
        /* A record of a partition no longer ours: the new owner reads it. */
        rd_kafka_message_destroy(rkm);
        return 0;
    }
    /* An exactly-once transaction is being ended: nothing new goes into it. */
    if (!kta_commit_intake(c->cm) || kta_ring_len(ring) >= kta_ring_capacity(ring))
        return -1;
    slot = kta_commit_track(p, rkm->offset);
    if (!slot)
        return -1;
    slot->taken_us = c->now_us;
    it.tag = slot;
    it.msg = rkm;
    if (!kta_corr_run_topic(pl) || strcmp(rd_kafka_topic_name(rkm->rkt), kta_corr_run_topic(pl)))
        atomic_fetch_add_explicit(&pl->stats.consumed, 1, memory_order_relaxed);
    if (kta_ring_push_quiet(ring, &it) < 0)
        abort();    /* checked above, and this thread is the only pusher */
    c->unkicked++;
    return 0;
}

/* Wakes workers that sleep while records wait for them. */
static void kick_workers(struct kta_consumer *c)
{
    for (int i = 0; i < c->pl->nworkers; i++)
        kta_ring_kick(c->rings[i]);
    c->unkicked = 0;
}

static void overflow_add(struct kta_consumer *c, rd_kafka_message_t *rkm)
{
    struct backlog *b = &c->overflow[worker_of(c, rkm)];

    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        rd_kafka_message_t **v = xmalloc(cap * sizeof(*v));
        for (size_t i = 0; i < b->len; i++)
            v[i] = b->v[(b->head + i) & (b->cap - 1)];
        free(b->v);
        b->v = v;
        b->cap = cap;
        b->head = 0;
    }
    b->v[(b->head + b->len++) & (b->cap - 1)] = rkm;
    c->noverflow++;
    c->overflow_bytes += RECORD_BYTES(rkm);
}

static void overflow_flush(struct kta_consumer *c)
{
    size_t len;

    c->now_us = kta_now_us();   /* the loop's clock may be old here */
    for (int w = 0; w < c->pl->nworkers; w++) {
        struct backlog *b = &c->overflow[w];
        while (b->len && (len = RECORD_BYTES(b->v[b->head]), dispatch(c, b->v[b->head]) == 0)) {
            b->head = (b->head + 1) & (b->cap - 1);
            b->len--;
            c->noverflow--;
            c->overflow_bytes -= len;
        }
    }
}

/* Records still waiting were never tracked, so dropping them here only
 * means the partition's next owner (or our next assignment) reads them. */
static void overflow_discard(struct kta_consumer *c)
{
    for (int w = 0; c->overflow && w < c->pl->nworkers; w++) {
        struct backlog *b = &c->overflow[w];
        for (; b->len; b->len--, b->head = (b->head + 1) & (b->cap - 1))
            rd_kafka_message_destroy(b->v[b->head]);
    }
    c->noverflow = 0;
    c->overflow_bytes = 0;
}

/* ---- rebalances ---------------------------------------------------------- */

/* Finishes everything in flight (up to timeout_ms), then commits
 * synchronously (commit.c).  Records taken but not handed out are dropped
 * first: they were never tracked, so the next owner reads them.  Returns
 * the number of records still unfinished. */
static size_t drain(struct kta_consumer *c, int timeout_ms)
{
    overflow_discard(c);
    return kta_commit_drain(c->cm, timeout_ms, c->closing);
}

static void publish_lag(struct kta_consumer *c);

/* How many of partitions are correlation.topic's (not input). */
static int corr_partitions(const struct kta_consumer *c,
                           const rd_kafka_topic_partition_list_t *partitions)
{
    const char *topic = kta_corr_run_topic(c->pl);
    int n = 0;

    for (int i = 0; topic && i < partitions->cnt; i++)
        n += strcmp(partitions->elems[i].topic, topic) == 0;
    return n;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct kta_consumer *c = opaque;
    int ncorr;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        /* Before any record of the assignment reaches a worker. */
        atomic_fetch_add_explicit(&c->pl->corr_epoch, 1, memory_order_release);
        kta_commit_assign(c->cm, partitions);
        ncorr = corr_partitions(c, partitions);
        atomic_store(&c->pl->assigned, partitions->cnt - ncorr);
        publish_lag(c);
        if (ncorr)
            kta_log(KTA_LOG_INFO, "assigned %d partition%s (and %d of '%s')",
                    partitions->cnt - ncorr, partitions->cnt - ncorr == 1 ? "" : "s", ncorr,
                    kta_corr_run_topic(c->pl));
        else
            kta_log(KTA_LOG_INFO, "assigned %d partition%s", partitions->cnt,
                    partitions->cnt == 1 ? "" : "s");
        kta_commit_start_offsets(c->cm, partitions);
        c->paused = 0;
        rd_kafka_assign(rk, partitions);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        if (!c->closing)
            kta_log(KTA_LOG_INFO, "revoking %d partition%s: finishing records in flight",
                    partitions->cnt, partitions->cnt == 1 ? "" : "s");
        /* At shutdown the waiting was done before closing. */
        drain(c, c->closing ? 0 : c->pl->cfg->shutdown_timeout_ms);
        kta_commit_revoke(c->cm);
        atomic_store(&c->pl->assigned, 0);
        publish_lag(c);
        c->paused = 0;
        rd_kafka_assign(rk, NULL);
        break;
    default:
        kta_log(KTA_LOG_ERROR, "rebalance failed: %s", rd_kafka_err2str(err));
        drain(c, c->pl->cfg->shutdown_timeout_ms);
        kta_commit_revoke(c->cm);
        atomic_store(&c->pl->assigned, 0);
        publish_lag(c);
        rd_kafka_assign(rk, NULL);
        break;
    }
}

/* Thread: consumer (its poll serves the callback). */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct kta_consumer *c = opaque;

    (void)rk;
    kta_commit_done(c->cm, err, offsets);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kta_consumer *c = opaque;

    kta_kafka_error(c->pl, "consumer", rk, err, reason);
}

/* ---- set-up ----------------------------------------------------------------- */

/* statistics.interval.ms: librdkafka's statistics go to the metrics
 * endpoint (without a callback librdkafka would drop them).  Thread: the
 * consumer thread (its poll serves the callback). */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    struct kta_consumer *c = opaque;

    (void)rk;
    if (c->pl->metrics)
        kta_metrics_set_kafka_stats(c->pl->metrics, KTA_KAFKA_CONSUMER, json, len);
    return 0;   /* librdkafka frees json */
}

int kta_consumer_conf_check(const struct kta_config *cfg, char *errstr, size_t errstr_size)
{
    const char *strategy = kta_config_kafka(cfg, "partition.assignment.strategy");

    if (strategy && strstr(strategy, "cooperative"))
        return kta_err(errstr, errstr_size, "partition.assignment.strategy '%s': kta supports "
                       "only the eager assignors range and roundrobin (cooperative-sticky is "
                       "unreliable in librdkafka %s)", strategy, rd_kafka_version_str());
    return kta_commit_conf_check(cfg, errstr, errstr_size);
}

struct kta_consumer *kta_consumer_new(struct kta_pipeline *pl, char *errstr, size_t errstr_size)
{
    struct kta_consumer *c = xcalloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rderr[512];

    c->pl = pl;
    if (kta_kafka_conf_apply(conf, pl->cfg, 0, errstr, errstr_size) < 0)
        goto fail;
    /* kta commits by itself, only what is finished. */
    if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "client.id", "kta", rderr, sizeof(rderr)) ||
        /* The end of each partition, as an event: the start of the lag of
         * a partition with nothing to read, and what input.exit_at_end
         * waits for (which needs it whatever the user set). */
        ((pl->cfg->exit_at_end || !kta_config_kafka(pl->cfg, "enable.partition.eof")) &&
         rd_kafka_conf_set(conf, "enable.partition.eof", "true", rderr, sizeof(rderr)))) {
        kta_err(errstr, errstr_size, "consumer: %s", rderr);
        goto fail;
    }
    if (kta_consumer_conf_check(pl->cfg, errstr, errstr_size) < 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, c);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_stats_cb(conf, stats_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!c->rk) {
        kta_err(errstr, errstr_size, "consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(c->rk);
    c->cm = kta_commit_new(pl, c->rk);
    pl->consumer = c;
    return c;
fail:
    rd_kafka_conf_destroy(conf);
    free(c);
    return NULL;
}

/* Each rule's output_topic (with p: only those p has no handle for). */
static int rule_topics_unusable(struct kta_consumer *c, const rd_kafka_metadata_t *md,
                                const struct kta_ruleset *rs, struct kta_producer *p,
                                char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        const char *name = kta_rule_output_topic(r);
        char what[512];

        if (!name || (p && kta_producer_topic_known(p, name) >= 0))
            continue;
        snprintf(what, sizeof(what), "rule %s: output_topic", kta_rule_id(r));
        if (kta_kafka_topic_unusable(c->rk, md, what, name, "output_topic in the rule", errstr, errstr_size))
            return -1;
    }
    return 0;
}

int kta_consumer_check_rule_topics(struct kta_consumer *c, const struct kta_ruleset *rs,
                                   struct kta_producer *p, char *errstr, size_t errstr_size)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err;
    size_t i;
    int rc;

    for (i = 0; i < kta_ruleset_count(rs); i++) {
        const char *name = kta_rule_output_topic(kta_ruleset_rule(rs, i));
        if (name && kta_producer_topic_known(p, name) < 0)
            break;
    }
    if (i == kta_ruleset_count(rs))
        return 0;      /* no new topic: nothing to ask the brokers */
    err = rd_kafka_metadata(c->rk, 1, NULL, &md, c->pl->cfg->startup_timeout_ms);
    if (err)
        return kta_err(errstr, errstr_size, "cannot check the rules' output topics: %s",
                       rd_kafka_err2str(err));
    rc = rule_topics_unusable(c, md, rs, p, errstr, errstr_size);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* Every topic kta needs, against md: -1 with errstr when one is missing
 * or unusable. */
static int topics_unusable(struct kta_consumer *c, const rd_kafka_metadata_t *md, char *errstr,
                           size_t errstr_size)
{
    const struct kta_config *cfg = c->pl->cfg;

    for (size_t i = 0; i < cfg->ntopics; i++)
        if (kta_kafka_topic_unusable(c->rk, md, "input topic", cfg->topics[i], "input.topics / -t",
                                     errstr, errstr_size))
            return -1;
    if (kta_kafka_topic_unusable(c->rk, md, "output topic", cfg->output_topic, "output.topic",
                                 errstr, errstr_size) ||
        kta_kafka_topic_unusable(c->rk, md, "dead-letter topic", cfg->dlq_topic,
                                 "dead_letter.topic", errstr, errstr_size))
        return -1;
    /* Every topic a hit may be routed to, before a record is taken. */
    for (size_t i = 0; i < cfg->topic_by_level.n; i++) {
        char setting[128];
        snprintf(setting, sizeof(setting), "output.topic_by_level.%s", cfg->topic_by_level.items[i].key);
        if (kta_kafka_topic_unusable(c->rk, md, "routed topic", cfg->topic_by_level.items[i].value, setting,
                           errstr, errstr_size))
            return -1;
    }
    {
        unsigned version;
        struct kta_ruleset *rs = kta_pipeline_ruleset(c->pl, &version);
        int bad = rule_topics_unusable(c, md, rs, NULL, errstr, errstr_size);
        kta_ruleset_decref(rs);
        if (bad)
            return -1;
    }
    return 0;
}

int kta_consumer_check(struct kta_consumer *c, char *errstr, size_t errstr_size)
{
    const rd_kafka_metadata_t *md = NULL;
    int rc = -1;

    if (kta_kafka_metadata_wait(c->rk, c->pl->cfg, &md, errstr, errstr_size) < 0)
        goto out;
    rc = topics_unusable(c, md, errstr, errstr_size);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

int kta_consumer_check_topics(struct kta_consumer *c, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
    const rd_kafka_metadata_t *md = NULL;
    int rc;

    if (rd_kafka_metadata(c->rk, 1, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    rc = topics_unusable(c, md, errstr, errstr_size);
    rd_kafka_metadata_destroy(md);
    return rc;
}

/* ---- lag and the end of the input -------------------------------------------- */

/* Publishes each assigned partition's lag, high watermark minus committed
 * offset, to the metrics registry: on this thread, from librdkafka's
 * cached watermarks (no request), so the scrape never touches the handle.
 * Before kta's first commit of a partition its committed offset is where
 * reading started: the first record (or end) seen.  A partition with
 * neither a watermark nor a start yet is left out. */
static void publish_lag(struct kta_consumer *c)
{
    size_t nparts;
    const struct kta_commit_part *parts = kta_commit_parts(c->cm, &nparts);
    struct kta_metrics_lag *v = xcalloc(nparts + 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < nparts; i++) {
        const struct kta_commit_part *p = &parts[i];
        int64_t lo = -1, hi = -1, base = p->committed >= 0 ? p->committed : p->seen;
        if (base < 0 ||
            rd_kafka_get_watermark_offsets(c->rk, p->topic, p->partition, &lo, &hi) != 0 || hi < 0)
            continue;
        v[n].topic = p->topic;
        v[n].partition = p->partition;
        v[n].lag = hi > base ? hi - base : 0;
        n++;
    }
    kta_metrics_set_lag(c->pl->metrics, v, n);
    free(v);
    c->last_lag = kta_now_ms();
}

/* The group's committed offset of one partition; -1 when there is none
 * or the brokers do not say (blocking, at most 2 s). */
static int64_t committed_at(const struct kta_consumer *c, const char *topic, int32_t partition)
{
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    int64_t off = -1;

    rd_kafka_topic_partition_list_add(one, topic, partition);
    if (rd_kafka_committed(c->rk, one, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR && !one->elems[0].err)
        off = one->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(one);
    return off;
}

/* The correlation topic's partitions this consumer holds are read up to
 * what the brokers hold now: the inputs the workers sent for the last
 * records (acknowledged before those records finished) have come back
 * and been applied, and every record taken is finished (a correlation
 * record may send a chain's inputs).  The end-of-partition events alone
 * do not say so: they were seen before those inputs were written.  Asks the brokers
 * (blocking, at most 2 s per partition); only once the rest is caught up. */
static int corr_caught_up(const struct kta_consumer *c)
{
    const char *topic = kta_corr_run_topic(c->pl);
    rd_kafka_topic_partition_list_t *list = NULL;
    int ok = 1;

    size_t nparts;
    struct kta_commit_part *parts;

    if (!topic)
        return 1;
    /* First every record taken is finished: a correlation record still
     * with a worker may yet send inputs of a chain. */
    parts = (struct kta_commit_part *)kta_commit_parts(c->cm, &nparts);
    for (size_t i = 0; i < nparts; i++) {
        kta_offsets_advance(parts[i].offsets);
        if (kta_offsets_inflight(parts[i].offsets))
            return 0;
    }
    if (rd_kafka_assignment(c->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR || !list)
        return 1;
    if (rd_kafka_position(c->rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < list->cnt && ok; i++) {
            const rd_kafka_topic_partition_t *tp = &list->elems[i];
            int64_t lo, hi;

            if (strcmp(tp->topic, topic) != 0)
                continue;
            if (rd_kafka_query_watermark_offsets(c->rk, topic, tp->partition, &lo, &hi, 2000) !=
                RD_KAFKA_RESP_ERR_NO_ERROR)
                ok = 0;   /* ask again at the next idle poll */
            else if (hi > lo && tp->offset >= 0)
                ok = tp->offset >= hi;
            else if (hi > lo)   /* nothing read from it yet: where the group stands */
                ok = committed_at(c, topic, tp->partition) >= hi;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return ok;
}

/* input.exit_at_end: every assigned partition read to its end (the EOF
 * librdkafka reports at the high watermark, also for an empty partition)
 * with nothing read after it, and nothing left waiting for a worker. */
static int caught_up(const struct kta_consumer *c)
{
    return !c->noverflow && kta_commit_at_end(c->cm) && corr_caught_up(c);
}

/* A record or an end of partition was read. */
static void note_read(struct kta_consumer *c, const rd_kafka_message_t *rkm)
{
    kta_commit_note_read(c->cm, rd_kafka_topic_name(rkm->rkt), rkm->partition, rkm->offset,
                         rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF);
}

/* ---- the loop ---------------------------------------------------------------- */

/* Leaving the group gets at least this, even when the drain used up
 * shutdown_timeout_ms: one round trip to a coordinator that is there. */
#define CLOSE_MIN_MS 250

/* Leaves the group, but not forever (kta_kafka_close_bounded): after
 * what is left of shutdown_timeout_ms since the stop, at least
 * CLOSE_MIN_MS, the handle is left to the process exit.  The group drops
 * this member at its session timeout; nothing was committed that the
 * drain did not.  Returns 0, or -1 when it gave up.  Thread: consumer. */
static int close_bounded(struct kta_consumer *c)
{
    int left = kta_pipeline_time_left(c->pl);

    if (kta_kafka_close_bounded(c->rk, left > CLOSE_MIN_MS ? left : CLOSE_MIN_MS,
                                rebalance_cb, c) == 0)
        return 0;
    kta_log(KTA_LOG_WARN, "could not leave the group within shutdown_timeout_ms (%d ms; "
            "no coordinator); exiting without it", c->pl->cfg->shutdown_timeout_ms);
    c->abandoned = 1;
    return -1;
}

int kta_consumer_run(struct kta_consumer *c)
{
    struct kta_pipeline *pl = c->pl;
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;
    size_t resume_bytes;
    int64_t full_since = 0, last_poll = 0;
    int64_t now = kta_now_ms();
    unsigned unclocked = 0;
    int idle;
    int rc = 0;

    topics = rd_kafka_topic_partition_list_new((int)pl->cfg->ntopics + 1);
    for (size_t i = 0; i < pl->cfg->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, pl->cfg->topics[i], RD_KAFKA_PARTITION_UA);
    /* Correlation inputs: read by the group like any input (corr_run.c). */
    if (kta_corr_run_topic(pl))
        rd_kafka_topic_partition_list_add(topics, kta_corr_run_topic(pl), RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        kta_log(KTA_LOG_ERROR, "cannot subscribe: %s", rd_kafka_err2str(err));
        return 1;
    }
    c->now_us = kta_now_us();
    atomic_store(&pl->running, 1);
    resume_bytes = (size_t)pl->cfg->buffer_bytes / 10 * 9;
    {
        /* Half of librdkafka's queue bounds (its defaults when unset). */
        const char *kb = kta_config_kafka(pl->cfg, "queued.max.messages.kbytes");
        const char *n = kta_config_kafka(pl->cfg, "queued.min.messages");
        c->wake_bytes = (size_t)(kb ? atoll(kb) : 65536) * 1024 / 2;
        c->wake_records = (size_t)(n ? atoll(n) : 100000) / 2;
    }
    c->overflow = xcalloc((size_t)pl->nworkers, sizeof(*c->overflow));
    /* The hot path pushes to rings: one pointer per worker, no call. */
    c->rings = xcalloc((size_t)pl->nworkers + 1, sizeof(*c->rings));
    for (int i = 0; i < pl->nworkers; i++)
        c->rings[i] = kta_worker_ring(pl->workers[i]);

    while (!atomic_load(&pl->stop)) {
        rd_kafka_message_t *rkm;

        if (c->noverflow) {
            overflow_flush(c);
            kick_workers(c);
        }
        if (full_since && c->overflow_bytes <= resume_bytes) {
            full_since = 0;
            set_paused(c, 0);
            wake_fetchers(c);
        }
        if (full_since) {
            /* Workers are behind: leave records in librdkafka's queue,
             * which stops fetching at its own bounds, and poll only to
             * serve the group.  A pause would throw its prefetched records
             * away and cost a second of refetching (librdkafka 2.0), so
             * it is kept for real stalls. */
            if (!c->paused && kta_now_ms() - full_since > pl->cfg->stall_pause_ms)
                set_paused(c, 1);
            if (kta_now_ms() - last_poll < BLOCKED_POLL_MS) {
                sleep_ms(1);
                continue;
            }
        }
        /* Drain what librdkafka has already fetched without blocking, and
         * wake the workers once per burst (a futex wake-up per record would
         * cost more than the record); block only when there is nothing. */
        rkm = rd_kafka_consumer_poll(c->rk, 0);
        idle = 0;
        if (!rkm) {
            if (c->burst_bytes >= c->wake_bytes || c->burst_records >= c->wake_records)
                wake_fetchers(c);
            c->burst_bytes = c->burst_records = 0;
            if (c->unkicked)
                kick_workers(c);
            rkm = rd_kafka_consumer_poll(c->rk, c->noverflow ? 1 : IDLE_POLL_MS);
            idle = !rkm && !c->noverflow;
            c->now_us = kta_now_us();
            now = c->now_us / 1000;
            unclocked = 0;
        } else {
            if (c->unkicked >= KICK_BATCH)
                kick_workers(c);
            /* Within a burst the clock is read once per CLOCK_BATCH
             * records: at a million records a second, reading it per
             * record cost a tenth of this thread. */
            if (++unclocked >= CLOCK_BATCH) {
                c->now_us = kta_now_us();
                now = c->now_us / 1000;
                unclocked = 0;
            }
        }
        if (rkm) {
            c->burst_bytes += rkm->len;
            c->burst_records++;
        }
        last_poll = now;
        /* Commits when caught up (idle: nothing arrived for
         * IDLE_POLL_MS, nothing waiting) or at the interval.  After an
         * aborted transaction the input was rewound: records taken but
         * never tracked come again, so they go. */
        if (kta_commit_tick(c->cm, now, idle))
            overflow_discard(c);
        if (now - c->last_lag >= LAG_INTERVAL_MS)
            publish_lag(c);
        if (rkm && (!rkm->err || rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF))
            note_read(c, rkm);
        if (pl->cfg->exit_at_end && (idle || (rkm && rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)) &&
            caught_up(c)) {
            kta_log(KTA_LOG_INFO, "input.exit_at_end: every assigned partition is caught up");
            kta_pipeline_stop(pl, 0);
        }
        if (!rkm)
            continue;
        if (rkm->err) {
            if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                kta_log(KTA_LOG_WARN, "consumer: %s%s%s", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
                        rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
            if (rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                rkm->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                kta_log(KTA_LOG_ERROR, "input topic unusable; stopping");
                kta_pipeline_stop(pl, 1);
            }
            rd_kafka_message_destroy(rkm);
            continue;
        }
        if (c->overflow[worker_of(c, rkm)].len || dispatch(c, rkm) < 0) {
            overflow_add(c, rkm);
            /* Past input.buffer_bytes the loop stops taking records
             * (see above) until the workers are down to 90% of it. */
            if (!full_since && c->overflow_bytes >= (size_t)pl->cfg->buffer_bytes)
                full_since = kta_now_ms();
        }
    }

    kta_log(KTA_LOG_DEBUG, "fetch wake-ups: %ld", c->wakeups);
    /* Stop intake: finish what workers hold, commit, leave the group. */
    kta_log(KTA_LOG_INFO, "stopping: finishing records in flight");
    if (drain(c, kta_pipeline_time_left(pl)) > 0 || atomic_load(&pl->fatal))
        rc = 1;
    c->closing = 1;
    if (close_bounded(c) < 0)
        rc = 1;
    return rc;
}

void kta_consumer_free(struct kta_consumer *c)
{
    if (!c)
        return;
    overflow_discard(c);
    for (int w = 0; c->overflow && w < c->pl->nworkers; w++)
        free(c->overflow[w].v);
    free(c->overflow);
    free(c->rings);
    kta_commit_free(c->cm);
    /* An abandoned close would make this wait as long; the process exits. */
    if (!c->abandoned)
        rd_kafka_destroy(c->rk);
    free(c);
}
