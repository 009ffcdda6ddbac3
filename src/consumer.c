/* SPDX-License-Identifier: Apache-2.0 */
/*
 * consumer: the consumer thread — Kafka (librdkafka high-level consumer in
 * a consumer group) -> one SPSC ring per worker.
 *
 * It owns every partition's offset tracker (offsets.c): a record is
 * tracked when it is handed to a worker and the committed position is the
 * smallest unfinished offset, committed every commit_interval_ms and as
 * soon as the input is caught up.  Records of one partition always go to
 * the same worker, so hits keep partition order.  When a ring or a tracker
 * is full the record waits in its worker's overflow queue; when those hold
 * input.buffer_bytes the loop stops taking records (librdkafka's prefetch
 * queue then fills to its own bounds and stops fetching) until they are
 * down to 90%, polling only every BLOCKED_POLL_MS so the group never sees
 * this member as stuck.  A stall longer than input.stall_pause_ms pauses
 * every partition.  Nothing is ever dropped: a record either reaches a
 * worker or stays uncommitted for the next owner.
 *
 * Rebalances use the eager protocol: on revoke, everything in flight is
 * finished and committed before the partitions are given up.  On assign,
 * input.start_offset may choose where partitions start (replays).
 */
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct part {
    char               *topic;
    int32_t             partition;
    struct kta_offsets *offsets;
    int64_t             committed;   /* last position committed, -1 if none */
    int64_t             start;       /* offset input.start_offset chose at this
                                        assignment while this process has not
                                        committed the partition, else -1 */
    int64_t             seen;        /* offset of the first record or end seen, -1 if none */
    int                 at_end;      /* the last thing read was its end (EOF) */
};

/* A partition this process has been assigned while input.start_offset is
 * set, and where it started it (start offsets, below). */
struct start_pos {
    char    *topic;
    int32_t  partition;
    int64_t  offset;     /* the offset kta chose, when pending */
    int64_t  group;      /* the group's committed offset then (< 0: none) */
    int      pending;    /* kta chose offset and has not committed since */
};

/* A worker's records that did not fit its ring, oldest first: one queue
 * per worker, so a busy worker never holds back an idle one. */
struct backlog {
    rd_kafka_message_t **v;
    size_t               head, len, cap;   /* cap: 0 or a power of two */
};

struct kta_consumer {
    struct kta_pipeline *pl;
    rd_kafka_t          *rk;
    struct part         *parts;      /* currently assigned */
    size_t               nparts;
    size_t               last_part;  /* index of the last part find_part found */
    struct kta_offsets **retired;    /* trackers of revoked partitions that
                                        still had work in flight */
    size_t               nretired;
    struct backlog      *overflow;   /* per worker: records waiting for room */
    size_t               noverflow;  /* records in all of them */
    size_t               overflow_bytes; /* and their approximate memory */
    int                  paused;
    int64_t              last_commit;
    int                  drained;    /* last drain finished everything */
    int                  closing;    /* shutdown drained already */
    int                  abandoned;  /* the close gave up: leave the handle to exit */
    unsigned             unkicked;   /* records pushed since workers were last woken */
    size_t               burst_bytes;   /* taken from librdkafka since its queue was last empty */
    size_t               burst_records;
    size_t               wake_bytes;    /* a burst this big may have filled librdkafka's queue */
    size_t               wake_records;
    long                 wakeups;
    struct start_pos    *starts;     /* every partition seen (input.start_offset) */
    size_t               nstarts;
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

static struct part *find_part(struct kta_consumer *c, const char *topic, int32_t partition)
{
    /* Records come in runs of one partition: try the last one first. */
    if (c->last_part < c->nparts && c->parts[c->last_part].partition == partition &&
        strcmp(c->parts[c->last_part].topic, topic) == 0)
        return &c->parts[c->last_part];
    for (size_t i = 0; i < c->nparts; i++)
        if (c->parts[i].partition == partition && strcmp(c->parts[i].topic, topic) == 0)
            return &c->parts[c->last_part = i];
    return NULL;
}

/* ---- commits ------------------------------------------------------------ */

/* The partition's position (smallest unfinished offset) if it moved since
 * the last commit, else -1. */
static int64_t moved_position(struct part *p)
{
    int64_t pos = kta_offsets_advance(p->offsets);

    return pos >= 0 && pos != p->committed ? pos : -1;
}

/* The positions (smallest unfinished offsets) that moved since the last
 * commit.  The caller destroys the list; mark_committed records them. */
static rd_kafka_topic_partition_list_t *moved_positions(struct kta_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)c->nparts + 1);

    for (size_t i = 0; i < c->nparts; i++) {
        struct part *p = &c->parts[i];
        int64_t pos = moved_position(p);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = pos;
    }
    return list;
}

/* Whether any position moved since the last commit. */
static int moved(struct kta_consumer *c)
{
    for (size_t i = 0; i < c->nparts; i++)
        if (moved_position(&c->parts[i]) >= 0)
            return 1;
    return 0;
}

static void mark_committed(struct kta_consumer *c, const rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(c, list->elems[i].topic, list->elems[i].partition);
        if (p)
            p->committed = list->elems[i].offset;
    }
}

static void rewind_to_committed(struct kta_consumer *c);
static void publish_lag(struct kta_consumer *c);

/* Exactly-once: commits the open transaction with the input positions.
 * Every tracked record must be finished.  On abort, rewinds. */
static void txn_commit(struct kta_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = moved_positions(c);
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(c->rk);
    enum kta_txn_result res;

    res = kta_producer_txn_commit(c->pl->producer, list, cgmd, c->pl->cfg->shutdown_timeout_ms);
    if (res == KTA_TXN_OK) {
        mark_committed(c, list);
    } else {
        char why[512];
        /* Forget the aborted records' positions before anything else: a
         * later transaction (even an empty one at shutdown) must never
         * commit offsets whose outputs were rolled back. */
        rewind_to_committed(c);
        /* A topic that went away fails every transaction: say which and
         * stop, rather than abort and rewind forever. */
        if (res == KTA_TXN_FATAL) {
            kta_pipeline_stop(c->pl, 1);
        } else if (kta_consumer_check(c, why, sizeof(why)) < 0) {
            kta_log(KTA_LOG_ERROR, "%s; stopping without committing", why);
            kta_pipeline_stop(c->pl, 1);
        }
    }
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(list);
}

/* Commits each partition's smallest unfinished offset that moved since the
 * last commit.  sync: wait for the broker's answer.  In exactly-once mode
 * the offsets go into the transaction instead, which needs every tracked
 * record finished: callers there come through wait_idle first. */
static void commit(struct kta_consumer *c, int sync)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;

    c->last_commit = kta_now_ms();
    if (kta_producer_transactional(c->pl->producer)) {
        txn_commit(c);
        return;
    }
    list = moved_positions(c);
    if (list->cnt > 0) {
        err = rd_kafka_commit(c->rk, list, !sync);
        if (err)
            kta_log(KTA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
        else
            mark_committed(c, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        kta_log(KTA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++)
        if (offsets->elems[i].err)
            kta_log(KTA_LOG_WARN, "offset commit for %s [%d] failed: %s", offsets->elems[i].topic,
                    (int)offsets->elems[i].partition, rd_kafka_err2str(offsets->elems[i].err));
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

    if (!c->nparts || c->paused)
        return;
    list = rd_kafka_topic_partition_list_new((int)c->nparts);
    for (size_t i = 0; i < c->nparts; i++)
        rd_kafka_topic_partition_list_add(list, c->parts[i].topic, c->parts[i].partition)->offset =
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
    struct kta_worker *w = &pl->workers[worker_of(c, rkm)];
    struct part *p = find_part(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);
    struct kta_ring_item it;
    struct kta_slot *slot;

    if (!p) {
        /* A record of a partition no longer ours: the new owner reads it. */
        rd_kafka_message_destroy(rkm);
        return 0;
    }
    if (kta_ring_len(w->ring) >= kta_ring_capacity(w->ring))
        return -1;
    slot = kta_offsets_track(p->offsets, rkm->offset);
    if (!slot)
        return -1;
    slot->taken_us = c->now_us;
    it.tag = slot;
    it.msg = rkm;
    atomic_fetch_add_explicit(&pl->stats.consumed, 1, memory_order_relaxed);
    if (kta_ring_push_quiet(w->ring, &it) < 0)
        abort();    /* checked above, and this thread is the only pusher */
    c->unkicked++;
    return 0;
}

/* Wakes workers that sleep while records wait for them. */
static void kick_workers(struct kta_consumer *c)
{
    for (int i = 0; i < c->pl->nworkers; i++)
        kta_ring_kick(c->pl->workers[i].ring);
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

/* ---- draining and rebalances ---------------------------------------------- */

static size_t inflight(struct kta_consumer *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nparts; i++) {
        kta_offsets_advance(c->parts[i].offsets);
        n += kta_offsets_inflight(c->parts[i].offsets);
    }
    return n;
}

/* Waits until every tracked record is finished (processed and its
 * records acknowledged) or timeout_ms passes; or_stop: or a stop comes
 * (the shutdown drain then waits its own shutdown_timeout_ms, so a stop
 * during a wait for a transaction's end does not wait twice).  Returns how
 * many are not. */
static size_t wait_idle(struct kta_consumer *c, int timeout_ms, int or_stop)
{
    int64_t end = kta_now_ms() + timeout_ms;
    size_t left;

    kick_workers(c);
    while ((left = inflight(c)) > 0 && kta_now_ms() < end && !atomic_load(&c->pl->fatal) &&
           !(or_stop && atomic_load(&c->pl->stop)))
        sleep_ms(1);
    return inflight(c);
}

/* Finishes everything in flight (up to timeout_ms), then commits
 * synchronously.  Returns the number of records still unfinished. */
static size_t drain(struct kta_consumer *c, int timeout_ms)
{
    size_t left;

    overflow_discard(c);
    /* A drain that began before a stop (a revoke) gives way to it: the
     * shutdown drain then has its own shutdown_timeout_ms. */
    left = wait_idle(c, timeout_ms, !atomic_load(&c->pl->stop));
    /* The smallest unfinished offset is safe to commit even after a
     * fatal error: a failed record holds its slot, so the position never
     * passes it.  (A transaction needs everything finished, though.) */
    if (left == 0 || !kta_producer_transactional(c->pl->producer))
        commit(c, 1);
    if (left && !c->closing)
        kta_log(KTA_LOG_WARN, "%zu record%s still unfinished; not committed, will be read again",
                left, left == 1 ? "" : "s");
    c->drained = (left == 0);
    return left;
}

static void retire(struct kta_consumer *c, struct kta_offsets *o)
{
    c->retired = xrealloc(c->retired, (c->nretired + 1) * sizeof(*c->retired));
    c->retired[c->nretired++] = o;
}

static void drop_parts(struct kta_consumer *c)
{
    for (size_t i = 0; i < c->nparts; i++) {
        struct part *p = &c->parts[i];
        if (kta_offsets_inflight(p->offsets) == 0)
            kta_offsets_free(p->offsets);
        else
            retire(c, p->offsets);   /* workers or reports may still touch its slots */
        free(p->topic);
    }
    free(c->parts);
    c->parts = NULL;
    c->nparts = 0;
}

/* After an aborted transaction: every record since the last commit must be
 * read again, so seek each partition back to its committed offset. */
static void rewind_to_committed(struct kta_consumer *c)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)c->nparts + 1);
    const char *reset = kta_config_kafka(c->pl->cfg, "auto.offset.reset");
    int64_t fallback = reset && (strcmp(reset, "latest") == 0 || strcmp(reset, "largest") == 0 ||
                                 strcmp(reset, "end") == 0) ? RD_KAFKA_OFFSET_END
                                                             : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t err;

    overflow_discard(c);
    for (size_t i = 0; i < c->nparts; i++) {
        struct part *p = &c->parts[i];
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition);
        /* Aborted records' reports may still arrive: keep old slots alive. */
        retire(c, p->offsets);
        p->at_end = 0;   /* its records come again */
        p->offsets = kta_offsets_new((size_t)c->pl->cfg->inflight_per_partition);
    }
    err = rd_kafka_committed(c->rk, list, c->pl->cfg->shutdown_timeout_ms);
    if (err) {
        kta_log(KTA_LOG_ERROR, "cannot read committed offsets to rewind: %s", rd_kafka_err2str(err));
        kta_pipeline_stop(c->pl, 1);
        goto out;
    }
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(c, list->elems[i].topic, list->elems[i].partition);
        if (p && p->start >= 0 && p->committed < 0) {
            /* Started at input.start_offset and not committed since: the
             * group's offset (if any) is not where this run began. */
            list->elems[i].offset = p->start;
            continue;
        }
        if (list->elems[i].offset < 0)
            list->elems[i].offset = fallback;
        if (p)
            p->committed = list->elems[i].offset >= 0 ? list->elems[i].offset : -1;
    }
    error = rd_kafka_seek_partitions(c->rk, list, c->pl->cfg->shutdown_timeout_ms);
    if (error) {
        kta_log(KTA_LOG_ERROR, "cannot rewind after an aborted transaction: %s",
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        kta_pipeline_stop(c->pl, 1);
        goto out;
    }
    kta_log(KTA_LOG_INFO, "transaction aborted; re-reading %d partition%s from the committed offsets",
            list->cnt, list->cnt == 1 ? "" : "s");
out:
    rd_kafka_topic_partition_list_destroy(list);
}

/* ---- start offsets (input.start_offset, input.reset_offsets) -------------
 *
 * At each assignment, before rd_kafka_assign, apply_start_offsets picks
 * where each partition starts:
 *
 *   first assignment in this process, the group has no committed offset,
 *     or input.reset_offsets: input.start_offset, resolved here to an
 *     absolute offset (and remembered as pending)
 *   first assignment otherwise: the group's committed offset
 *   later assignments: where the first one started if this process has
 *     committed nothing for the partition since and neither has anyone
 *     else (the group's offset is unchanged), else the group's offset.
 *
 * So a reset happens once per process and partition, never again on a
 * rebalance, and "end" is resolved once: records produced between two
 * assignments are not skipped.  Thread: consumer (rebalance callback).
 */

static struct start_pos *find_start(struct kta_consumer *c, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < c->nstarts; i++)
        if (c->starts[i].partition == partition && strcmp(c->starts[i].topic, topic) == 0)
            return &c->starts[i];
    return NULL;
}

/* Before the current partitions are dropped: a start is no longer
 * pending once this process has committed its partition. */
static void note_commits(struct kta_consumer *c)
{
    for (size_t i = 0; i < c->nparts; i++) {
        struct start_pos *sp = find_start(c, c->parts[i].topic, c->parts[i].partition);
        if (sp && c->parts[i].committed >= 0)
            sp->pending = 0;
    }
}

/* The absolute offset input.start_offset means for one partition, from
 * its low and high watermarks (and the timestamp index for @MS). */
static rd_kafka_resp_err_t resolve_start(struct kta_consumer *c, const char *topic,
                                         int32_t partition, enum kta_start kind, long long value,
                                         int64_t *out)
{
    int timeout = c->pl->cfg->startup_timeout_ms;
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    int64_t lo, hi;

    err = rd_kafka_query_watermark_offsets(c->rk, topic, partition, &lo, &hi, timeout);
    if (err)
        return err;
    switch (kind) {
    case KTA_START_BEGINNING:
        *out = lo;
        break;
    case KTA_START_END:
        *out = hi;
        break;
    case KTA_START_OFFSET:   /* out of range: the nearest end, not auto.offset.reset */
        *out = value < lo ? lo : value > hi ? hi : value;
        break;
    case KTA_START_TAIL:
        *out = hi - lo > value ? hi - value : lo;
        break;
    case KTA_START_TIME:
        list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, topic, partition)->offset = value;
        err = rd_kafka_offsets_for_times(c->rk, list, timeout);
        if (!err)
            err = list->elems[0].err;
        /* No record that late: start at the end. */
        *out = list->elems[0].offset >= 0 ? list->elems[0].offset : hi;
        rd_kafka_topic_partition_list_destroy(list);
        break;
    }
    return err;
}

/* Sets the offset each partition of an assignment starts at (see above).
 * On a failed lookup kta stops: silently starting elsewhere than asked
 * would skip or repeat records. */
static void apply_start_offsets(struct kta_consumer *c, rd_kafka_topic_partition_list_t *partitions)
{
    const struct kta_config *cfg = c->pl->cfg;
    rd_kafka_topic_partition_list_t *group;
    rd_kafka_resp_err_t err;
    enum kta_start kind;
    long long value;
    char errstr[256];

    if (!cfg->start_offset || partitions->cnt == 0)
        return;
    if (kta_config_start_offset(cfg->start_offset, &kind, &value, errstr, sizeof(errstr)) < 0)
        abort();   /* checked when it was set */
    group = rd_kafka_topic_partition_list_copy(partitions);
    err = rd_kafka_committed(c->rk, group, cfg->startup_timeout_ms);
    if (err) {
        kta_log(KTA_LOG_ERROR, "input.start_offset: cannot read the group's committed offsets: %s",
                rd_kafka_err2str(err));
        kta_pipeline_stop(c->pl, 1);
        goto out;
    }
    for (int i = 0; i < partitions->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &partitions->elems[i];
        int64_t committed = group->elems[i].err ? RD_KAFKA_OFFSET_INVALID : group->elems[i].offset;
        struct start_pos *sp = find_start(c, tp->topic, tp->partition);
        struct part *p = find_part(c, tp->topic, tp->partition);
        int64_t off = -1;

        if (sp) {
            if (sp->pending && sp->group == committed) {
                tp->offset = sp->offset;
                if (p)
                    p->start = sp->offset;
            } else {
                sp->pending = 0;
            }
            continue;
        }
        c->starts = xrealloc(c->starts, (c->nstarts + 1) * sizeof(*c->starts));
        sp = &c->starts[c->nstarts++];
        sp->topic = xstrdup(tp->topic);
        sp->partition = tp->partition;
        sp->group = committed;
        sp->offset = -1;
        sp->pending = 0;
        if (committed >= 0 && !cfg->reset_offsets)
            continue;
        err = resolve_start(c, tp->topic, tp->partition, kind, value, &off);
        if (err) {
            kta_log(KTA_LOG_ERROR, "input.start_offset=%s: cannot look up %s [%d]: %s",
                    cfg->start_offset, tp->topic, (int)tp->partition, rd_kafka_err2str(err));
            kta_pipeline_stop(c->pl, 1);
            continue;
        }
        sp->offset = tp->offset = off;
        sp->pending = 1;
        if (p)
            p->start = off;
        if (committed >= 0 && off < committed)
            kta_log(KTA_LOG_WARN, "%s [%d]: input.start_offset=%s moves back from the group's "
                    "committed offset %lld to %lld: %lld records are read again "
                    "(re-reading re-emits hits)", tp->topic, (int)tp->partition, cfg->start_offset,
                    (long long)committed, (long long)off, (long long)(committed - off));
        else if (committed >= 0 && off > committed)
            kta_log(KTA_LOG_WARN, "%s [%d]: input.start_offset=%s skips %lld records past the "
                    "group's committed offset %lld (they get no evaluation)", tp->topic,
                    (int)tp->partition, cfg->start_offset, (long long)(off - committed),
                    (long long)committed);
        else
            kta_log(KTA_LOG_INFO, "%s [%d]: starting at offset %lld (input.start_offset=%s)",
                    tp->topic, (int)tp->partition, (long long)off, cfg->start_offset);
    }
out:
    rd_kafka_topic_partition_list_destroy(group);
}

/* ---- end of start offsets ------------------------------------------------ */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct kta_consumer *c = opaque;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        note_commits(c);
        drop_parts(c);
        c->parts = xcalloc((size_t)partitions->cnt + 1, sizeof(*c->parts));
        for (int i = 0; i < partitions->cnt; i++) {
            struct part *p = &c->parts[c->nparts++];
            p->topic = xstrdup(partitions->elems[i].topic);
            p->partition = partitions->elems[i].partition;
            p->offsets = kta_offsets_new((size_t)c->pl->cfg->inflight_per_partition);
            p->committed = -1;
            p->start = -1;
            p->seen = -1;
        }
        atomic_store(&c->pl->assigned, partitions->cnt);
        publish_lag(c);
        kta_log(KTA_LOG_INFO, "assigned %d partition%s", partitions->cnt,
                partitions->cnt == 1 ? "" : "s");
        apply_start_offsets(c, partitions);
        c->paused = 0;
        rd_kafka_assign(rk, partitions);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        if (!c->closing)
            kta_log(KTA_LOG_INFO, "revoking %d partition%s: finishing records in flight",
                    partitions->cnt, partitions->cnt == 1 ? "" : "s");
        /* At shutdown the waiting was done before closing. */
        drain(c, c->closing ? 0 : c->pl->cfg->shutdown_timeout_ms);
        note_commits(c);
        drop_parts(c);
        atomic_store(&c->pl->assigned, 0);
        publish_lag(c);
        c->paused = 0;
        rd_kafka_assign(rk, NULL);
        break;
    default:
        kta_log(KTA_LOG_ERROR, "rebalance failed: %s", rd_kafka_err2str(err));
        drain(c, c->pl->cfg->shutdown_timeout_ms);
        note_commits(c);
        drop_parts(c);
        atomic_store(&c->pl->assigned, 0);
        publish_lag(c);
        rd_kafka_assign(rk, NULL);
        break;
    }
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
    return 0;
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
    pl->consumer = c;
    return c;
fail:
    rd_kafka_conf_destroy(conf);
    free(c);
    return NULL;
}

/* 1: the topic is there; 0: it is not; -1: it cannot be used, why says why. */
static int topic_exists(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *name,
                        char *why, size_t why_size)
{
    const rd_kafka_metadata_t *one = NULL;
    rd_kafka_topic_t *rkt;

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
    if (rkt && !rd_kafka_metadata(rk, 0, rkt, &one, 5000) && one->topic_cnt == 1 &&
        one->topics[0].err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
        snprintf(why, why_size, "%s (this principal may not describe it: check its ACLs)",
                 rd_kafka_err2str(one->topics[0].err));
    if (one)
        rd_kafka_metadata_destroy(one);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return why[0] ? -1 : 0;
}

int kta_kafka_topic_unusable(rd_kafka_t *rk, const rd_kafka_metadata_t *md, const char *what,
                             const char *name, const char *setting, char *errstr,
                             size_t errstr_size)
{
    char why[256];

    switch (topic_exists(rk, md, name, why, sizeof(why))) {
    case 1:
        return 0;
    case 0:
        return kta_err(errstr, errstr_size, "%s '%s': no such topic (create it, or set %s)", what,
                       name, setting);
    default:
        return kta_err(errstr, errstr_size, "%s '%s': %s", what, name, why);
    }
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

int kta_consumer_check(struct kta_consumer *c, char *errstr, size_t errstr_size)
{
    const struct kta_config *cfg = c->pl->cfg;
    const rd_kafka_metadata_t *md = NULL;
    int rc = -1;

    if (kta_kafka_metadata_wait(c->rk, cfg, &md, errstr, errstr_size) < 0)
        goto out;
    for (size_t i = 0; i < cfg->ntopics; i++)
        if (kta_kafka_topic_unusable(c->rk, md, "input topic", cfg->topics[i], "input.topics / -t",
                                     errstr, errstr_size))
            goto out;
    if (kta_kafka_topic_unusable(c->rk, md, "output topic", cfg->output_topic, "output.topic",
                                 errstr, errstr_size) ||
        kta_kafka_topic_unusable(c->rk, md, "dead-letter topic", cfg->dlq_topic,
                                 "dead_letter.topic", errstr, errstr_size))
        goto out;
    /* Every topic a hit may be routed to, before a record is taken. */
    for (size_t i = 0; i < cfg->topic_by_level.n; i++) {
        char setting[128];
        snprintf(setting, sizeof(setting), "output.topic_by_level.%s", cfg->topic_by_level.items[i].key);
        if (kta_kafka_topic_unusable(c->rk, md, "routed topic", cfg->topic_by_level.items[i].value, setting,
                           errstr, errstr_size))
            goto out;
    }
    {
        unsigned version;
        struct kta_ruleset *rs = kta_pipeline_ruleset(c->pl, &version);
        int bad = rule_topics_unusable(c, md, rs, NULL, errstr, errstr_size);
        kta_ruleset_decref(rs);
        if (bad)
            goto out;
    }
    rc = 0;
out:
    if (md)
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
    struct kta_metrics_lag *v = xcalloc(c->nparts + 1, sizeof(*v));
    size_t n = 0;

    for (size_t i = 0; i < c->nparts; i++) {
        struct part *p = &c->parts[i];
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

/* input.exit_at_end: every assigned partition read to its end (the EOF
 * librdkafka reports at the high watermark, also for an empty partition)
 * with nothing read after it, and nothing left waiting for a worker. */
static int caught_up(const struct kta_consumer *c)
{
    if (!c->nparts || c->noverflow)
        return 0;
    for (size_t i = 0; i < c->nparts; i++)
        if (!c->parts[i].at_end)
            return 0;
    return 1;
}

/* A record or an end of partition was read. */
static void note_read(struct kta_consumer *c, const rd_kafka_message_t *rkm)
{
    struct part *p = find_part(c, rd_kafka_topic_name(rkm->rkt), rkm->partition);

    if (!p)
        return;
    p->at_end = rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
    if (p->seen < 0)
        p->seen = rkm->offset;
}

/* ---- the loop ---------------------------------------------------------------- */

/* How long leaving the group may take at shutdown, after the drain. */
#define CLOSE_TIMEOUT_MS 2000

/* Leaves the group, but not forever: librdkafka's close waits without
 * bound for a commit that is waiting for a coordinator (librdkafka issues
 * 3740 and 4519, still so in 2.x), so with the broker down a SIGTERM hung
 * here.  Returns 0 when the consumer closed; -1 when it gave up after
 * CLOSE_TIMEOUT_MS, and then the handle is left to the process exit
 * (rd_kafka_destroy would wait as long).  The group drops this member at
 * its session timeout; nothing was committed that the drain did not.
 * Thread: consumer (it runs the rebalance callback meanwhile). */
static int close_bounded(struct kta_consumer *c)
{
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, q);
    int64_t end = kta_now_ms() + CLOSE_TIMEOUT_MS;

    if (error) {
        kta_log(KTA_LOG_WARN, "consumer close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rd_kafka_queue_destroy(q);
        return 0;
    }
    while (!rd_kafka_consumer_closed(c->rk)) {
        if (kta_now_ms() >= end) {
            kta_log(KTA_LOG_WARN, "could not leave the group within %d ms (no coordinator); "
                    "exiting without it", CLOSE_TIMEOUT_MS);
            c->abandoned = 1;
            return -1;   /* q stays: the close still forwards to it */
        }
        /* Events, not callbacks: librdkafka hands the close's rebalance
         * over as an event (serving it as a callback asserts). */
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (ev) {
            if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
                rebalance_cb(c->rk, rd_kafka_event_error(ev),
                             rd_kafka_event_topic_partition_list(ev), c);
            rd_kafka_event_destroy(ev);
        }
    }
    rd_kafka_queue_destroy(q);
    return 0;
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

    topics = rd_kafka_topic_partition_list_new((int)pl->cfg->ntopics);
    for (size_t i = 0; i < pl->cfg->ntopics; i++)
        rd_kafka_topic_partition_list_add(topics, pl->cfg->topics[i], RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        kta_log(KTA_LOG_ERROR, "cannot subscribe: %s", rd_kafka_err2str(err));
        return 1;
    }
    c->last_commit = kta_now_ms();
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
        /* Caught up (nothing arrived for IDLE_POLL_MS, nothing waiting):
         * commit now rather than at the next interval, so lag reads 0 and
         * read_committed readers see the last hits without waiting for
         * the interval.  At most once per idle period. */
        if (idle && inflight(c) == 0 && moved(c))
            commit(c, 0);
        else if (now - c->last_commit >= pl->cfg->commit_interval_ms) {
            /* A transaction ends only with all its records finished: stop
             * handing out records meanwhile (they wait in librdkafka). */
            if (!kta_producer_transactional(pl->producer) ||
                wait_idle(c, pl->cfg->shutdown_timeout_ms, 1) == 0)
                commit(c, 0);
        }
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
    if (drain(c, pl->cfg->shutdown_timeout_ms) > 0 || atomic_load(&pl->fatal))
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
    drop_parts(c);
    for (size_t i = 0; i < c->nretired; i++)
        kta_offsets_free(c->retired[i]);
    free(c->retired);
    for (size_t i = 0; i < c->nstarts; i++)
        free(c->starts[i].topic);
    free(c->starts);
    /* An abandoned close would make this wait as long; the process exits. */
    if (!c->abandoned)
        rd_kafka_destroy(c->rk);
    free(c);
}
