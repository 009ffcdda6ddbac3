/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit: what is safe to commit, and committing it (see the header for
 * what this module owns and why start offsets are here).
 *
 * A partition's committable position is its tracker's smallest unfinished
 * offset (offsets.c): a record is tracked when consumer.c hands it to a
 * worker and finished when the worker and every delivery report of its
 * hits have released its slot.  Only this file changes `committed`.
 *
 * ---- States and transitions ------------------------------------------------
 *
 * A partition (both modes):
 *
 *   UNASSIGNED -> ASSIGNED      [kta_commit_assign]  new tracker, committed = -1,
 *                                start = -1 (set by kta_commit_start_offsets)
 *   ASSIGNED -> ASSIGNED        [mark_committed]  committed = the position sent
 *   ASSIGNED -> UNASSIGNED      [drop_parts, from kta_commit_assign (the next
 *                                assignment), kta_commit_revoke, kta_commit_free]
 *                                tracker freed if idle, else RETIRED
 *   RETIRED -> freed            [kta_commit_free]  (reports may still release
 *                                its slots until the producer is gone)
 *
 * The at-least-once commit cycle (consumer thread):
 *
 *   IDLE -> IDLE                [kta_commit_tick]  nothing moved, interval not due
 *   IDLE -> COMMITTED           [commit, from kta_commit_tick (caught up and
 *                                nothing in flight, or commit_interval_ms) or
 *                                kta_commit_drain (sync)]  moved_positions ->
 *                                rd_kafka_commit; once it is queued (async) or
 *                                answered (sync) without error: mark_committed
 *   IDLE -> IDLE                [commit]  rd_kafka_commit refused: logged,
 *                                positions not marked (retried next time)
 *   COMMITTED -> IDLE           [kta_commit_done]  the broker's answer: errors
 *                                are logged only
 *
 * The exactly-once transaction cycle (consumer thread; producer.c makes
 * the librdkafka calls):
 *
 *   OPEN -> FINISHING           [kta_commit_tick, kta_commit_drain]  every tracked
 *                                record finished (wait_idle; intake waits)
 *   FINISHING -> OPEN           [txn_end]  send offsets, commit, begin: OK;
 *                                txn_commit: mark_committed
 *   FINISHING -> FINISHING      [txn_end]  a retriable error: send/commit again
 *                                (at most 3 tries)
 *   FINISHING -> ABORTING       [txn_end]  a record of the transaction failed
 *                                (kta_producer_txn_failed), an abortable or
 *                                non-retriable error, or 3 retriable ones
 *   FINISHING -> RESTARTING     [txn_end]  a fatal error (fenced)
 *   ABORTING -> REWINDING       [txn_end]  abort and begin: OK
 *   ABORTING -> RESTARTING      [txn_end]  abort or begin failed
 *   RESTARTING -> REWINDING     [txn_end]  kta_producer_txn_restart: OK
 *   RESTARTING -> STOPPED       [txn_end -> KTA_TXN_FATAL]  restart failed
 *   ABORTING -> STOPPED         [txn_end -> KTA_TXN_FATAL]  a permanent error
 *                                (aborted first)
 *   REWINDING -> OPEN           [rewind_to_committed]  new trackers (old ones
 *                                RETIRED), seek to committed (or to start)
 *   REWINDING -> STOPPED        [rewind_to_committed]  committed offsets
 *                                unreadable or the seek failed
 *   OPEN -> STOPPED             [txn_commit]  after an abort, a topic is gone
 *                                (kta_consumer_check)
 *
 * STOPPED means kta_pipeline_stop(pl, 1): nothing more is committed.
 */
#include "kta/commit.h"
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A partition this process has been assigned while input.start_offset is
 * set, and where it started it (start offsets, below). */
struct start_pos {
    char    *topic;
    int32_t  partition;
    int64_t  offset;     /* the offset kta chose, when pending */
    int64_t  group;      /* the group's committed offset then (< 0: none) */
    int      pending;    /* kta chose offset and has not committed since */
};

struct kta_commit {
    struct kta_pipeline    *pl;
    rd_kafka_t             *rk;         /* the consumer's handle */
    struct kta_commit_part *parts;      /* currently assigned */
    size_t                  nparts;
    size_t                  last_part;  /* index of the last part find_part found */
    struct kta_offsets    **retired;    /* trackers of revoked partitions that
                                           still had work in flight */
    size_t                  nretired;
    int64_t                 last_commit;
    int                     drained;    /* last drain finished everything */
    struct start_pos       *starts;     /* every partition seen (input.start_offset) */
    size_t                  nstarts;
};

enum kta_txn_result {
    KTA_TXN_OK,        /* committed; a new transaction is open */
    KTA_TXN_ABORTED,   /* rolled back; the caller must rewind to the committed offsets */
    KTA_TXN_FATAL,     /* no transaction could be started again: stop */
};

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

struct kta_commit *kta_commit_new(struct kta_pipeline *pl, rd_kafka_t *rk)
{
    struct kta_commit *cm = xcalloc(1, sizeof(*cm));

    cm->pl = pl;
    cm->rk = rk;
    cm->last_commit = kta_now_ms();
    return cm;
}

static struct kta_commit_part *find_part(struct kta_commit *cm, const char *topic,
                                         int32_t partition)
{
    /* Records come in runs of one partition: try the last one first. */
    if (cm->last_part < cm->nparts && cm->parts[cm->last_part].partition == partition &&
        strcmp(cm->parts[cm->last_part].topic, topic) == 0)
        return &cm->parts[cm->last_part];
    for (size_t i = 0; i < cm->nparts; i++)
        if (cm->parts[i].partition == partition && strcmp(cm->parts[i].topic, topic) == 0)
            return &cm->parts[cm->last_part = i];
    return NULL;
}

struct kta_commit_part *kta_commit_find(struct kta_commit *cm, const char *topic,
                                        int32_t partition)
{
    return find_part(cm, topic, partition);
}

const struct kta_commit_part *kta_commit_parts(const struct kta_commit *cm, size_t *n)
{
    *n = cm->nparts;
    return cm->parts;
}

void kta_commit_note_read(struct kta_commit *cm, const char *topic, int32_t partition,
                          int64_t offset, int at_end)
{
    struct kta_commit_part *p = find_part(cm, topic, partition);

    if (!p)
        return;
    p->at_end = at_end;
    if (p->seen < 0)
        p->seen = offset;
}

int kta_commit_at_end(const struct kta_commit *cm)
{
    if (!cm->nparts)
        return 0;
    for (size_t i = 0; i < cm->nparts; i++)
        if (!cm->parts[i].at_end)
            return 0;
    return 1;
}

/* ---- commits ------------------------------------------------------------ */

/* The partition's position (smallest unfinished offset) if it moved since
 * the last commit, else -1. */
static int64_t moved_position(struct kta_commit_part *p)
{
    int64_t pos = kta_offsets_advance(p->offsets);

    return pos >= 0 && pos != p->committed ? pos : -1;
}

/* The positions (smallest unfinished offsets) that moved since the last
 * commit.  The caller destroys the list; mark_committed records them. */
static rd_kafka_topic_partition_list_t *moved_positions(struct kta_commit *cm)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)cm->nparts + 1);

    for (size_t i = 0; i < cm->nparts; i++) {
        struct kta_commit_part *p = &cm->parts[i];
        int64_t pos = moved_position(p);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = pos;
    }
    return list;
}

/* Whether any position moved since the last commit. */
static int moved(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++)
        if (moved_position(&cm->parts[i]) >= 0)
            return 1;
    return 0;
}

static void mark_committed(struct kta_commit *cm, const rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        struct kta_commit_part *p = find_part(cm, list->elems[i].topic, list->elems[i].partition);
        if (p)
            p->committed = list->elems[i].offset;
    }
}

/* Runs a transactional API call's error through kta's policy: logs it and
 * returns it (NULL on success) for the caller to classify. */
static rd_kafka_error_t *txn_log(rd_kafka_error_t *error, const char *what)
{
    if (error)
        kta_log(KTA_LOG_WARN, "transaction: %s failed: %s%s", what, rd_kafka_error_string(error),
                rd_kafka_error_is_fatal(error) ? " (fatal)" :
                rd_kafka_error_txn_requires_abort(error) ? " (abortable)" :
                rd_kafka_error_is_retriable(error) ? " (retriable)" : "");
    return error;
}

/* With every record of the transaction finished: adds the input offsets
 * to the open transaction, commits it and opens the next.  Abortable
 * errors abort; fatal ones (fencing) restart the producer.  (This was
 * kta_producer_txn_commit; the producer keeps the librdkafka calls.) */
static enum kta_txn_result txn_end(struct kta_producer *p,
                                   const rd_kafka_topic_partition_list_t *offsets,
                                   const rd_kafka_consumer_group_metadata_t *cgmd, int timeout_ms)
{
    rd_kafka_error_t *error = NULL;
    char errstr[512];
    int permanent;

    if (kta_producer_txn_failed(p)) {
        /* librdkafka holds the transaction's own error: asking it to take
         * the offsets fails at once with that reason (and if it did not,
         * the abort below still throws them away). */
        if (offsets && offsets->cnt > 0)
            error = kta_producer_txn_send_offsets(p, offsets, cgmd, timeout_ms);
        if (!error)
            error = rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "a record of this transaction was not delivered");
        goto abort;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        if (offsets && offsets->cnt > 0 && !error)
            error = txn_log(kta_producer_txn_send_offsets(p, offsets, cgmd, timeout_ms),
                            "sending offsets");
        if (!error)
            error = txn_log(kta_producer_txn_commit(p, timeout_ms), "commit");
        if (!error) {
            error = txn_log(kta_producer_txn_begin(p), "begin");
            if (!error)
                return KTA_TXN_OK;
        }
        if (rd_kafka_error_is_fatal(error) || rd_kafka_error_txn_requires_abort(error) ||
            !rd_kafka_error_is_retriable(error))
            break;
        /* Retriable (e.g. a timeout): calling commit again is allowed and
         * resumes where the previous call stopped. */
        rd_kafka_error_destroy(error);
        error = NULL;
    }
    if (error && rd_kafka_error_is_fatal(error))
        goto restart;
abort:
    /* A reason no retry can fix (a topic kta may not write to, say) fails
     * every later transaction of the same records: abort and stop. */
    permanent = kta_kafka_txn_permanent(rd_kafka_error_code(error));
    if (permanent)
        kta_log(KTA_LOG_ERROR, "transaction failed: %s; stopping without committing",
                rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
    error = txn_log(kta_producer_txn_abort(p, timeout_ms), "abort");
    if (!error)
        error = txn_log(kta_producer_txn_begin(p), "begin");
    if (!error)
        return permanent ? KTA_TXN_FATAL : KTA_TXN_ABORTED;
restart:
    /* Fenced or otherwise fatal: a new producer with the same id fences
     * any zombie and starts clean.  Workers are idle while this runs. */
    rd_kafka_error_destroy(error);
    kta_log(KTA_LOG_WARN, "transaction: restarting the producer");
    if (kta_producer_txn_restart(p, timeout_ms, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "transaction: %s", errstr);
        return KTA_TXN_FATAL;
    }
    return KTA_TXN_ABORTED;
}

static void rewind_to_committed(struct kta_commit *cm);

/* Exactly-once: commits the open transaction with the input positions.
 * Every tracked record must be finished.  On abort, rewinds; returns 1
 * then, else 0. */
static int txn_commit(struct kta_commit *cm)
{
    rd_kafka_topic_partition_list_t *list = moved_positions(cm);
    rd_kafka_consumer_group_metadata_t *cgmd = rd_kafka_consumer_group_metadata(cm->rk);
    enum kta_txn_result res;
    int rewound = 0;

    res = txn_end(cm->pl->producer, list, cgmd, cm->pl->cfg->shutdown_timeout_ms);
    if (res == KTA_TXN_OK) {
        mark_committed(cm, list);
    } else {
        char why[512];
        /* Forget the aborted records' positions before anything else: a
         * later transaction (even an empty one at shutdown) must never
         * commit offsets whose outputs were rolled back. */
        rewind_to_committed(cm);
        rewound = 1;
        /* A topic that went away fails every transaction: say which and
         * stop, rather than abort and rewind forever. */
        if (res == KTA_TXN_FATAL) {
            kta_pipeline_stop(cm->pl, 1);
        } else if (kta_consumer_check(cm->pl->consumer, why, sizeof(why)) < 0) {
            kta_log(KTA_LOG_ERROR, "%s; stopping without committing", why);
            kta_pipeline_stop(cm->pl, 1);
        }
    }
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(list);
    return rewound;
}

/* Commits each partition's smallest unfinished offset that moved since the
 * last commit.  sync: wait for the broker's answer.  In exactly-once mode
 * the offsets go into the transaction instead, which needs every tracked
 * record finished: callers there come through wait_idle first.  Returns 1
 * when an aborted transaction rewound the input, else 0. */
static int commit(struct kta_commit *cm, int sync)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;

    cm->last_commit = kta_now_ms();
    if (cm->pl->cfg->exactly_once)
        return txn_commit(cm);
    list = moved_positions(cm);
    if (list->cnt > 0) {
        err = rd_kafka_commit(cm->rk, list, !sync);
        if (err)
            kta_log(KTA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
        else
            mark_committed(cm, list);
    }
    rd_kafka_topic_partition_list_destroy(list);
    return 0;
}

void kta_commit_done(struct kta_commit *cm, rd_kafka_resp_err_t err,
                     const rd_kafka_topic_partition_list_t *offsets)
{
    (void)cm;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        kta_log(KTA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
    for (int i = 0; offsets && i < offsets->cnt; i++)
        if (offsets->elems[i].err)
            kta_log(KTA_LOG_WARN, "offset commit for %s [%d] failed: %s", offsets->elems[i].topic,
                    (int)offsets->elems[i].partition, rd_kafka_err2str(offsets->elems[i].err));
}

/* ---- draining ------------------------------------------------------------- */

size_t kta_commit_inflight(struct kta_commit *cm)
{
    size_t n = 0;

    for (size_t i = 0; i < cm->nparts; i++) {
        kta_offsets_advance(cm->parts[i].offsets);
        n += kta_offsets_inflight(cm->parts[i].offsets);
    }
    return n;
}

/* Wakes workers that sleep while records wait for them. */
static void kick_workers(struct kta_commit *cm)
{
    for (int i = 0; i < cm->pl->nworkers; i++)
        kta_ring_kick(kta_worker_ring(cm->pl->workers[i]));
}

/* Waits until every tracked record is finished (processed and its
 * records acknowledged) or timeout_ms passes.  Returns how many are not. */
static size_t wait_idle(struct kta_commit *cm, int timeout_ms)
{
    int64_t end = kta_now_ms() + timeout_ms;
    size_t left;

    kick_workers(cm);
    while ((left = kta_commit_inflight(cm)) > 0 && kta_now_ms() < end &&
           !atomic_load(&cm->pl->fatal))
        sleep_ms(1);
    return kta_commit_inflight(cm);
}

int kta_commit_tick(struct kta_commit *cm, int64_t now, int idle)
{
    struct kta_pipeline *pl = cm->pl;

    /* Caught up (nothing arrived for a while, nothing waiting): commit
     * now rather than at the next interval, so lag reads 0 and
     * read_committed readers see the last hits without waiting for the
     * interval.  At most once per idle period. */
    if (idle && kta_commit_inflight(cm) == 0 && moved(cm))
        return commit(cm, 0);
    if (now - cm->last_commit >= pl->cfg->commit_interval_ms) {
        /* A transaction ends only with all its records finished: stop
         * handing out records meanwhile (they wait in librdkafka). */
        if (!pl->cfg->exactly_once ||
            wait_idle(cm, pl->cfg->shutdown_timeout_ms) == 0)
            return commit(cm, 0);
    }
    return 0;
}

size_t kta_commit_drain(struct kta_commit *cm, int timeout_ms, int closing)
{
    size_t left;

    left = wait_idle(cm, timeout_ms);
    /* The smallest unfinished offset is safe to commit even after a
     * fatal error: a failed record holds its slot, so the position never
     * passes it.  (A transaction needs everything finished, though.) */
    if (left == 0 || !cm->pl->cfg->exactly_once)
        commit(cm, 1);
    if (left && !closing)
        kta_log(KTA_LOG_WARN, "%zu record%s still unfinished; not committed, will be read again",
                left, left == 1 ? "" : "s");
    cm->drained = (left == 0);
    return left;
}

/* ---- the partition table -------------------------------------------------- */

static void retire(struct kta_commit *cm, struct kta_offsets *o)
{
    cm->retired = xrealloc(cm->retired, (cm->nretired + 1) * sizeof(*cm->retired));
    cm->retired[cm->nretired++] = o;
}

static void drop_parts(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++) {
        struct kta_commit_part *p = &cm->parts[i];
        if (kta_offsets_inflight(p->offsets) == 0)
            kta_offsets_free(p->offsets);
        else
            retire(cm, p->offsets);   /* workers or reports may still touch its slots */
        free(p->topic);
    }
    free(cm->parts);
    cm->parts = NULL;
    cm->nparts = 0;
}

/* After an aborted transaction: every record since the last commit must be
 * read again, so seek each partition back to its committed offset.  The
 * caller drops the records it took but did not track (kta_commit_tick's
 * result). */
static void rewind_to_committed(struct kta_commit *cm)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)cm->nparts + 1);
    const char *reset = kta_config_kafka(cm->pl->cfg, "auto.offset.reset");
    int64_t fallback = reset && (strcmp(reset, "latest") == 0 || strcmp(reset, "largest") == 0 ||
                                 strcmp(reset, "end") == 0) ? RD_KAFKA_OFFSET_END
                                                             : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t err;

    for (size_t i = 0; i < cm->nparts; i++) {
        struct kta_commit_part *p = &cm->parts[i];
        rd_kafka_topic_partition_list_add(list, p->topic, p->partition);
        /* Aborted records' reports may still arrive: keep old slots alive. */
        retire(cm, p->offsets);
        p->at_end = 0;   /* its records come again */
        p->offsets = kta_offsets_new((size_t)cm->pl->cfg->inflight_per_partition);
    }
    err = rd_kafka_committed(cm->rk, list, cm->pl->cfg->shutdown_timeout_ms);
    if (err) {
        kta_log(KTA_LOG_ERROR, "cannot read committed offsets to rewind: %s", rd_kafka_err2str(err));
        kta_pipeline_stop(cm->pl, 1);
        goto out;
    }
    for (int i = 0; i < list->cnt; i++) {
        struct kta_commit_part *p = find_part(cm, list->elems[i].topic, list->elems[i].partition);
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
    error = rd_kafka_seek_partitions(cm->rk, list, cm->pl->cfg->shutdown_timeout_ms);
    if (error) {
        kta_log(KTA_LOG_ERROR, "cannot rewind after an aborted transaction: %s",
                rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        kta_pipeline_stop(cm->pl, 1);
        goto out;
    }
    kta_log(KTA_LOG_INFO, "transaction aborted; re-reading %d partition%s from the committed offsets",
            list->cnt, list->cnt == 1 ? "" : "s");
out:
    rd_kafka_topic_partition_list_destroy(list);
}

/* ---- start offsets (input.start_offset, input.reset_offsets) -------------
 *
 * At each assignment, before rd_kafka_assign, kta_commit_start_offsets
 * picks where each partition starts:
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

static struct start_pos *find_start(struct kta_commit *cm, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < cm->nstarts; i++)
        if (cm->starts[i].partition == partition && strcmp(cm->starts[i].topic, topic) == 0)
            return &cm->starts[i];
    return NULL;
}

/* Before the current partitions are dropped: a start is no longer
 * pending once this process has committed its partition. */
static void note_commits(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++) {
        struct start_pos *sp = find_start(cm, cm->parts[i].topic, cm->parts[i].partition);
        if (sp && cm->parts[i].committed >= 0)
            sp->pending = 0;
    }
}

/* The absolute offset input.start_offset means for one partition, from
 * its low and high watermarks (and the timestamp index for @MS). */
static rd_kafka_resp_err_t resolve_start(struct kta_commit *cm, const char *topic,
                                         int32_t partition, enum kta_start kind, long long value,
                                         int64_t *out)
{
    int timeout = cm->pl->cfg->startup_timeout_ms;
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    int64_t lo, hi;

    err = rd_kafka_query_watermark_offsets(cm->rk, topic, partition, &lo, &hi, timeout);
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
        err = rd_kafka_offsets_for_times(cm->rk, list, timeout);
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
 * would skip or repeat records.  (This was apply_start_offsets.) */
void kta_commit_start_offsets(struct kta_commit *cm, rd_kafka_topic_partition_list_t *partitions)
{
    const struct kta_config *cfg = cm->pl->cfg;
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
    err = rd_kafka_committed(cm->rk, group, cfg->startup_timeout_ms);
    if (err) {
        kta_log(KTA_LOG_ERROR, "input.start_offset: cannot read the group's committed offsets: %s",
                rd_kafka_err2str(err));
        kta_pipeline_stop(cm->pl, 1);
        goto out;
    }
    for (int i = 0; i < partitions->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &partitions->elems[i];
        int64_t committed = group->elems[i].err ? RD_KAFKA_OFFSET_INVALID : group->elems[i].offset;
        struct start_pos *sp = find_start(cm, tp->topic, tp->partition);
        struct kta_commit_part *p = find_part(cm, tp->topic, tp->partition);
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
        cm->starts = xrealloc(cm->starts, (cm->nstarts + 1) * sizeof(*cm->starts));
        sp = &cm->starts[cm->nstarts++];
        sp->topic = xstrdup(tp->topic);
        sp->partition = tp->partition;
        sp->group = committed;
        sp->offset = -1;
        sp->pending = 0;
        if (committed >= 0 && !cfg->reset_offsets)
            continue;
        err = resolve_start(cm, tp->topic, tp->partition, kind, value, &off);
        if (err) {
            kta_log(KTA_LOG_ERROR, "input.start_offset=%s: cannot look up %s [%d]: %s",
                    cfg->start_offset, tp->topic, (int)tp->partition, rd_kafka_err2str(err));
            kta_pipeline_stop(cm->pl, 1);
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

void kta_commit_assign(struct kta_commit *cm, const rd_kafka_topic_partition_list_t *partitions)
{
    note_commits(cm);
    drop_parts(cm);
    cm->parts = xcalloc((size_t)partitions->cnt + 1, sizeof(*cm->parts));
    for (int i = 0; i < partitions->cnt; i++) {
        struct kta_commit_part *p = &cm->parts[cm->nparts++];
        p->topic = xstrdup(partitions->elems[i].topic);
        p->partition = partitions->elems[i].partition;
        p->offsets = kta_offsets_new((size_t)cm->pl->cfg->inflight_per_partition);
        p->committed = -1;
        p->start = -1;
        p->seen = -1;
    }
}

void kta_commit_revoke(struct kta_commit *cm)
{
    note_commits(cm);
    drop_parts(cm);
}

void kta_commit_free(struct kta_commit *cm)
{
    if (!cm)
        return;
    drop_parts(cm);
    for (size_t i = 0; i < cm->nretired; i++)
        kta_offsets_free(cm->retired[i]);
    free(cm->retired);
    for (size_t i = 0; i < cm->nstarts; i++)
        free(cm->starts[i].topic);
    free(cm->starts);
    free(cm);
}
