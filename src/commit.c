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
 *                                sent = -1,
 *                                start = -1 (set by kta_commit_start_offsets)
 *   ASSIGNED -> ASSIGNED        [kta_commit_done (at least once), mark_committed
 *                                (exactly once)]  committed moves forward
 *   ASSIGNED -> UNASSIGNED      [drop_parts, from kta_commit_assign (the next
 *                                assignment), kta_commit_revoke, kta_commit_free]
 *                                tracker freed if idle, else RETIRED
 *                                (release_tracker)
 *   ASSIGNED -> ASSIGNED        [forget_positions, after an abort]  a new
 *                                tracker; the old one freed if idle, else RETIRED
 *   RETIRED -> freed            [reap_retired, each kta_commit_tick]  once every
 *                                slot is released (nothing touches a slot at 0);
 *                                [kta_commit_free] the rest at exit
 *
 * The at-least-once commit cycle, per partition (consumer thread).
 * `committed` is what the broker confirmed; `sent` the position of the
 * newest commit not answered yet:
 *
 *   IDLE -> SENT                [commit, from kta_commit_tick (caught up and
 *                                nothing in flight; early_due: positions moved,
 *                                no partition awaiting an answer and
 *                                commit_min_interval_ms since the last commit;
 *                                or commit_interval_ms) or kta_commit_drain
 *                                (sync)]  moved_positions -> mark_sent ->
 *                                rd_kafka_commit / rd_kafka_commit_queue
 *   SENT -> IDLE                [commit]  the request could not be queued:
 *                                mark_sent(0), due again at the next tick
 *   SENT -> SENT                [commit]  a newer position (or any, sync) is
 *                                sent; the same one is never sent twice
 *   SENT -> IDLE (committed)    [kta_commit_done]  the broker confirmed it:
 *                                committed = max(committed, position)
 *   SENT -> IDLE                [kta_commit_done]  the broker refused it (per
 *                                partition or whole request): due again at
 *                                the next tick
 *   SENT -> IDLE                [commit]  after a sync commit, whatever the
 *                                callback did not confirm (due again)
 *   any -> IDLE                 [drop_parts]  sent = -1
 *
 * The exactly-once transaction cycle (consumer thread; producer.c makes
 * the librdkafka calls).  Each step is resumable: a turn of the loop
 * (kta_commit_tick) runs the cycle for at most txn_budget ms (a third of
 * max.poll.interval.ms, at most shutdown_timeout_ms) and leaves it where
 * it stopped; a retriable failure repeats the same call after a backoff
 * (100 ms doubling to 2 s), for as long as the broker needs.  Outside
 * OPEN, intake is shut (kta_commit_intake): no record is handed out.
 *
 *   OPEN -> FINISHING           [kta_commit_tick (caught up, or
 *                                commit_interval_ms), kta_commit_drain]
 *   FINISHING -> FINISHING      [txn_run]  records still unfinished (wait_idle)
 *   FINISHING -> SENDING        [txn_run]  every record finished: the
 *                                positions are taken (moved_positions)
 *   FINISHING -> ABORTING       [txn_run]  a record of the transaction failed
 *                                (kta_producer_txn_failed; its reason, learnt
 *                                from send_offsets, may be permanent: then
 *                                STOPPED after the abort), the test hook
 *                                KTA_TEST_TXN_ABORT_EVERY, or partitions were
 *                                revoked before the offsets went in (must_abort)
 *   SENDING -> COMMITTING       [txn_run]  send_offsets_to_transaction: OK
 *   SENDING -> ABORTING         [txn_run]  OK but must_abort, or an abortable /
 *                                non-retriable error
 *   COMMITTING -> OPEN          [txn_run]  commit_transaction, begin: OK;
 *                                mark_committed
 *   COMMITTING -> ABORTING      [txn_failed_call]  an abortable / non-retriable error
 *   SENDING, COMMITTING -> RESTARTING  [txn_failed_call]  a fatal error (fenced)
 *   ABORTING -> REWINDING       [txn_run]  abort_transaction, begin: OK;
 *                                forget_positions (new trackers; the old ones
 *                                freed when idle, else RETIRED)
 *   ABORTING -> RESTARTING      [txn_failed_call]  a non-retriable error
 *   RESTARTING -> REWINDING     [txn_run]  new handle (kta_producer_txn_replace)
 *                                if needed, init_transactions, begin: OK
 *   REWINDING -> OPEN           [txn_run, rewind_to_committed]  seek to the
 *                                committed offsets (or the start); nothing
 *                                assigned: nothing to rewind; assigned since
 *                                the transaction's end began: no seek (they
 *                                start at the committed offsets) and the
 *                                records taken meanwhile are kept
 *   any -> same                 [txn_retry_later]  a retriable error (timeout,
 *                                broker down): the same call after the backoff
 *   ABORTING -> STOPPED         [txn_run]  aborted for a permanent reason
 *   RESTARTING -> STOPPED       [txn_failed_call]  a new handle cannot be made,
 *                                or init fails for a reason a new one cannot fix
 *   OPEN -> STOPPED             [txn_run]  after a rewind, a topic is gone
 *                                (kta_consumer_check_topics)
 *   FINISHING -> ABORTING, SENDING -> must_abort  [kta_commit_drain]  the
 *                                partitions go (revoke) before the offsets
 *                                are in; COMMITTING is resumed (the offsets
 *                                are in, fenced by the generation already)
 *
 * STOPPED means kta_pipeline_stop(pl, 1): nothing more is committed.
 */
#include "kta/commit.h"
#include "kta/pipeline.h"

#include <limits.h>
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

enum txn_state {
    TXN_OPEN, TXN_FINISHING, TXN_SENDING, TXN_COMMITTING, TXN_ABORTING, TXN_RESTARTING,
    TXN_REWINDING,
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
    int64_t                 next_early; /* no early commit check before this */
    size_t                  unanswered; /* partitions with a commit in flight (sent >= 0) */
    int                     drained;    /* last drain finished everything */
    struct start_pos       *starts;     /* every partition seen (input.start_offset) */
    size_t                  nstarts;
    struct kta_commit_counts counts;
    /* Exactly-once: the transaction cycle (see the list at the top). */
    enum txn_state          txn;
    rd_kafka_topic_partition_list_t *txn_offsets;  /* SENDING, COMMITTING: its positions */
    int                     txn_permanent;   /* ABORTING: stop once aborted */
    int                     txn_must_abort;  /* SENDING: partitions revoked meanwhile */
    int                     txn_new_handle;  /* RESTARTING: replace the handle first */
    int                     txn_budget;      /* ms one turn of the loop may spend here */
    int                     txn_backoff;     /* ms before the next try after a retriable failure */
    int64_t                 txn_next_try;    /* not before this (kta_now_ms) */
    int64_t                 txn_logged;      /* a retriable failure of this state was last said */
    unsigned                assignments;     /* kta_commit_assign calls so far */
    unsigned                txn_assignment;  /* ... when the transaction's end began */
};

/* How often, at most, early_due looks at the partitions when none moved. */
#define EARLY_RECHECK_MS 5

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A kafka property in ms, or def when unset or not a number. */
static long long prop_ms(const struct kta_config *cfg, const char *key, long long def)
{
    const char *v = kta_config_kafka(cfg, key);
    long long ms;

    return v && kta_parse_int(v, 0, INT_MAX, &ms) == 0 ? ms : def;
}

int kta_commit_conf_check(const struct kta_config *cfg, char *errstr, size_t errstr_size)
{
    long long poll_ms = prop_ms(cfg, "max.poll.interval.ms", 300000);
    long long txn_ms = prop_ms(cfg, "transaction.timeout.ms", 10000);   /* producer.c's default */

    /* Two such calls can fall into one poll interval: one in the loop
     * and one in the drain of the revoke that the next poll brings
     * (s10-broker-stall saw 4 s + 4 s with 8 s allowed). */
    if (cfg->exactly_once && txn_ms > poll_ms / 3)
        return kta_err(errstr, errstr_size, "processing.guarantee exactly_once: "
                       "transaction.timeout.ms (%lld) must be at most a third of "
                       "max.poll.interval.ms (%lld): librdkafka may block a transactional "
                       "call that long while the broker does not answer, twice between two "
                       "polls, and the consumer must poll within max.poll.interval.ms (raise max.poll.interval.ms or "
                       "lower transaction.timeout.ms)", txn_ms, poll_ms);
    return 0;
}

/* How long one turn of the consumer loop (or a rebalance) may spend on
 * the transaction: shutdown_timeout_ms, but at most a third of
 * max.poll.interval.ms, so the loop polls in time whatever the broker
 * does (librdkafka leaves the group when it does not); a step that does
 * not finish is resumed on the next turn.  At least 100 ms. */
static int txn_budget(const struct kta_config *cfg)
{
    long long poll_ms = prop_ms(cfg, "max.poll.interval.ms", 300000);   /* librdkafka's default */
    long long b;

    b = poll_ms / 3 < cfg->shutdown_timeout_ms ? poll_ms / 3 : cfg->shutdown_timeout_ms;
    return b < 100 ? 100 : (int)b;
}

struct kta_commit *kta_commit_new(struct kta_pipeline *pl, rd_kafka_t *rk)
{
    struct kta_commit *cm = xcalloc(1, sizeof(*cm));

    cm->pl = pl;
    cm->rk = rk;
    cm->last_commit = kta_now_ms();
    cm->txn = TXN_OPEN;
    cm->txn_budget = txn_budget(pl->cfg);
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

/* The partition's position (smallest unfinished offset) if it is neither
 * confirmed nor, unless again (a synchronous commit), already on its way
 * in an unanswered commit; else -1.  Positions only grow while a
 * partition is assigned (a rewind resets committed and sent), so a
 * position past the one in flight is newer. */
static int64_t moved_position(struct kta_commit_part *p, int again)
{
    int64_t pos = kta_offsets_advance(p->offsets);

    if (pos < 0 || pos == p->committed)
        return -1;
    if (!again && p->sent >= 0 && pos <= p->sent)
        return -1;
    return pos;
}

/* The positions (smallest unfinished offsets) to commit now (see
 * moved_position).  The caller destroys the list; mark_sent or
 * mark_committed records them. */
static rd_kafka_topic_partition_list_t *moved_positions(struct kta_commit *cm, int again)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)cm->nparts + 1);

    for (size_t i = 0; i < cm->nparts; i++) {
        struct kta_commit_part *p = &cm->parts[i];
        int64_t pos = moved_position(p, again);
        if (pos >= 0)
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = pos;
    }
    return list;
}

/* Whether any position is due for a commit (moved_position). */
static int moved(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++)
        if (moved_position(&cm->parts[i], 0) >= 0)
            return 1;
    return 0;
}

/* Sets p->sent, keeping count of the partitions with a commit in flight. */
static void set_sent(struct kta_commit *cm, struct kta_commit_part *p, int64_t sent)
{
    if (p->sent < 0 && sent >= 0)
        cm->unanswered++;
    else if (p->sent >= 0 && sent < 0)
        cm->unanswered--;
    p->sent = sent;
}

/* At-least-once: the positions of list are on their way to the broker;
 * kta_commit_done confirms or forgets them.  on: 0 when the request could
 * not even be queued (forget them again: the next tick retries). */
static void mark_sent(struct kta_commit *cm, const rd_kafka_topic_partition_list_t *list, int on)
{
    for (int i = 0; i < list->cnt; i++) {
        struct kta_commit_part *p = find_part(cm, list->elems[i].topic, list->elems[i].partition);
        if (!p)
            continue;
        if (on)
            set_sent(cm, p, list->elems[i].offset);
        else if (p->sent == list->elems[i].offset)
            set_sent(cm, p, -1);
    }
}

/* Exactly-once: the transaction with these positions committed. */
static void mark_committed(struct kta_commit *cm, const rd_kafka_topic_partition_list_t *list)
{
    for (int i = 0; i < list->cnt; i++) {
        struct kta_commit_part *p = find_part(cm, list->elems[i].topic, list->elems[i].partition);
        if (p)
            p->committed = list->elems[i].offset;
    }
}

/* rd_kafka_commit_queue's callback for a synchronous commit: served
 * inside that call. */
static void sync_done(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    kta_commit_done(opaque, err, offsets);
}

/* At-least-once: commits each partition's smallest unfinished offset that
 * is due (moved_position).  A position counts as committed only once the
 * broker confirms it (kta_commit_done); until then it is not sent again
 * unless sync, and a refusal makes it due again.  sync: wait for the
 * broker's answer, and send positions already in flight too. */
static void commit(struct kta_commit *cm, int sync)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;

    cm->last_commit = kta_now_ms();
    list = moved_positions(cm, sync);
    if (list->cnt > 0) {
        cm->counts.commits++;
        mark_sent(cm, list, 1);
        if (sync)
            err = rd_kafka_commit_queue(cm->rk, list, NULL, sync_done, cm);
        else
            err = rd_kafka_commit(cm->rk, list, 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            kta_log(KTA_LOG_WARN, "offset commit failed: %s", rd_kafka_err2str(err));
            cm->counts.failed += (uint64_t)list->cnt;
        }
        /* Whatever the callback did not confirm is not committed: due again. */
        if (sync || err)
            mark_sent(cm, list, 0);
    }
    rd_kafka_topic_partition_list_destroy(list);
}

void kta_commit_done(struct kta_commit *cm, rd_kafka_resp_err_t err,
                     const rd_kafka_topic_partition_list_t *offsets)
{
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
        err = RD_KAFKA_RESP_ERR_NO_ERROR;   /* there was nothing to commit */
    if (err)
        kta_log(KTA_LOG_WARN, "offset commit failed: %s; trying again", rd_kafka_err2str(err));
    if (err && !offsets) {
        /* Which positions failed is not said: all are due again (sending
         * one twice is harmless; never again would leave lag behind). */
        for (size_t i = 0; i < cm->nparts; i++)
            if (cm->parts[i].sent >= 0) {
                cm->counts.failed++;
                set_sent(cm, &cm->parts[i], -1);
            }
        return;
    }
    for (int i = 0; offsets && i < offsets->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &offsets->elems[i];
        struct kta_commit_part *p = find_part(cm, tp->topic, tp->partition);
        rd_kafka_resp_err_t e = tp->err ? tp->err : err;

        if (tp->err)
            kta_log(KTA_LOG_WARN, "offset commit for %s [%d] failed: %s; trying again", tp->topic,
                    (int)tp->partition, rd_kafka_err2str(tp->err));
        /* Only answers to what this assignment sent count: a late answer
         * from before a rebalance says nothing about the new owner's. */
        if (!p || p->sent < 0 || tp->offset < 0 || tp->offset > p->sent)
            continue;
        if (e) {
            cm->counts.failed++;
            if (p->sent == tp->offset)
                set_sent(cm, p, -1);   /* due again at the next tick */
            continue;
        }
        cm->counts.confirmed++;
        if (tp->offset > p->committed)
            p->committed = tp->offset;
        if (p->sent == tp->offset)
            set_sent(cm, p, -1);
    }
}

void kta_commit_counts(const struct kta_commit *cm, struct kta_commit_counts *n)
{
    *n = cm->counts;
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
 * records acknowledged) or timeout_ms passes; or_stop: or a stop comes
 * (the shutdown drain then waits its own shutdown_timeout_ms, so a stop
 * during a revoke's wait does not wait twice).  Returns how many are
 * not. */
static size_t wait_idle(struct kta_commit *cm, int timeout_ms, int or_stop)
{
    int64_t end = kta_now_ms() + timeout_ms;
    size_t left;

    kick_workers(cm);
    while ((left = kta_commit_inflight(cm)) > 0 && kta_now_ms() < end &&
           !atomic_load(&cm->pl->fatal) && !(or_stop && atomic_load(&cm->pl->stop)))
        sleep_ms(1);
    return kta_commit_inflight(cm);
}

/* ---- the partition table -------------------------------------------------- */

static void retire(struct kta_commit *cm, struct kta_offsets *o)
{
    cm->retired = xrealloc(cm->retired, (cm->nretired + 1) * sizeof(*cm->retired));
    cm->retired[cm->nretired++] = o;
}

/* A tracker given up (revoke, abort): freed when idle, else retired until
 * its last slot is released (reap_retired). */
static void release_tracker(struct kta_commit *cm, struct kta_offsets *o)
{
    kta_offsets_advance(o);
    if (kta_offsets_inflight(o) == 0)
        kta_offsets_free(o);
    else
        retire(cm, o);
}

/* Frees the retired trackers whose slots are all finished: no worker and
 * no delivery report touches a slot once its pending count is 0. */
static void reap_retired(struct kta_commit *cm)
{
    size_t n = 0;

    for (size_t i = 0; i < cm->nretired; i++) {
        struct kta_offsets *o = cm->retired[i];
        kta_offsets_advance(o);
        if (kta_offsets_inflight(o) == 0)
            kta_offsets_free(o);
        else
            cm->retired[n++] = o;
    }
    cm->nretired = n;
}

static void drop_parts(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++) {
        /* Workers or reports may still touch a busy tracker's slots. */
        release_tracker(cm, cm->parts[i].offsets);
        free(cm->parts[i].topic);
    }
    free(cm->parts);
    cm->parts = NULL;
    cm->nparts = 0;
    cm->unanswered = 0;
}

/* ABORTING -> REWINDING: forget the aborted records' positions before
 * anything else, so that a later transaction (even an empty one at
 * shutdown) never commits offsets whose outputs were rolled back. */
static void forget_positions(struct kta_commit *cm)
{
    for (size_t i = 0; i < cm->nparts; i++) {
        struct kta_commit_part *p = &cm->parts[i];
        release_tracker(cm, p->offsets);
        p->at_end = 0;   /* its records come again */
        p->offsets = kta_offsets_new((size_t)cm->pl->cfg->inflight_per_partition);
    }
}

/* ---- the exactly-once transaction cycle -------------------------------------
 *
 * One step per state (see the list at the top), resumed on the loop's next
 * turn when it cannot finish in this one: a turn spends at most
 * txn_budget ms here, so the loop keeps polling within
 * max.poll.interval.ms whatever the broker does, and a retriable failure
 * repeats the same librdkafka call (which resumes it) after a backoff,
 * never a different one (librdkafka refuses that with a conflict while
 * the first is in progress).  While the state is not OPEN, intake is shut
 * (kta_commit_intake): records wait untracked in consumer.c's overflow.
 */

static const char *const txn_names[] = {
    [TXN_OPEN] = "open", [TXN_FINISHING] = "finishing", [TXN_SENDING] = "sending offsets",
    [TXN_COMMITTING] = "committing", [TXN_ABORTING] = "aborting",
    [TXN_RESTARTING] = "restarting the producer", [TXN_REWINDING] = "rewinding",
};

/* Backoff after a retriable failure: 100 ms, doubling up to TXN_BACKOFF_MAX. */
#define TXN_BACKOFF_MIN 100
#define TXN_BACKOFF_MAX 2000
/* A retriable failure that repeats is said again at most this often. */
#define TXN_LOG_EVERY_MS 10000

static void txn_to(struct kta_commit *cm, enum txn_state s)
{
    if (cm->txn != s)
        kta_log(KTA_LOG_DEBUG, "transaction: %s -> %s", txn_names[cm->txn], txn_names[s]);
    cm->txn = s;
    cm->txn_backoff = TXN_BACKOFF_MIN;
    cm->txn_next_try = 0;
    cm->txn_logged = 0;
}

static void txn_drop_offsets(struct kta_commit *cm)
{
    if (cm->txn_offsets)
        rd_kafka_topic_partition_list_destroy(cm->txn_offsets);
    cm->txn_offsets = NULL;
}

/* A retriable failure: the same step again after the backoff.  The first
 * one of a state is logged, repeats every TXN_LOG_EVERY_MS. */
static void txn_retry_later(struct kta_commit *cm, const char *what, const char *why)
{
    int64_t now = kta_now_ms();

    if (!cm->txn_logged || now - cm->txn_logged >= TXN_LOG_EVERY_MS) {
        kta_log(KTA_LOG_WARN, "transaction: %s failed: %s (retriable; trying again until it "
                "works)", what, why);
        cm->txn_logged = now;
    }
    cm->txn_next_try = now + cm->txn_backoff;
    cm->txn_backoff = cm->txn_backoff * 2 > TXN_BACKOFF_MAX ? TXN_BACKOFF_MAX : cm->txn_backoff * 2;
}

/* REWINDING -> OPEN: every record since the last commit must be read
 * again, so seek each assigned partition back to its committed offset.
 * Returns 0, or -1 when the broker did not answer in timeout_ms (retried
 * later).  Nothing assigned (revoked meanwhile) is nothing to rewind: a
 * later assignment starts at the committed offsets anyway. */
static int rewind_to_committed(struct kta_commit *cm, int timeout_ms)
{
    rd_kafka_topic_partition_list_t *list;
    const char *reset = kta_config_kafka(cm->pl->cfg, "auto.offset.reset");
    int64_t fallback = reset && (strcmp(reset, "latest") == 0 || strcmp(reset, "largest") == 0 ||
                                 strcmp(reset, "end") == 0) ? RD_KAFKA_OFFSET_END
                                                             : RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_error_t *error;
    rd_kafka_resp_err_t err;
    char why[512];
    int rc = -1;

    if (cm->nparts == 0) {
        kta_log(KTA_LOG_INFO, "transaction aborted; no partition assigned, nothing to re-read");
        return 0;
    }
    list = rd_kafka_topic_partition_list_new((int)cm->nparts);
    for (size_t i = 0; i < cm->nparts; i++)
        rd_kafka_topic_partition_list_add(list, cm->parts[i].topic, cm->parts[i].partition);
    err = rd_kafka_committed(cm->rk, list, timeout_ms);
    for (int i = 0; !err && i < list->cnt; i++)
        err = list->elems[i].err;   /* a guess (the fallback) could skip records */
    if (err) {
        txn_retry_later(cm, "reading the committed offsets to rewind", rd_kafka_err2str(err));
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
    error = rd_kafka_seek_partitions(cm->rk, list, timeout_ms);
    for (int i = 0; !error && i < list->cnt; i++)
        if (list->elems[i].err)
            error = rd_kafka_error_new(list->elems[i].err, "%s [%d]: %s", list->elems[i].topic,
                                       (int)list->elems[i].partition,
                                       rd_kafka_err2str(list->elems[i].err));
    if (error) {
        snprintf(why, sizeof(why), "%s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        txn_retry_later(cm, "seeking back to the committed offsets", why);
        goto out;
    }
    kta_log(KTA_LOG_INFO, "transaction aborted; re-reading %d partition%s from the committed offsets",
            list->cnt, list->cnt == 1 ? "" : "s");
    rc = 0;
out:
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* A transactional call failed: the transition its error calls for (see
 * the list at the top).  Takes error. */
static void txn_failed_call(struct kta_commit *cm, rd_kafka_error_t *error, const char *what)
{
    int fatal = rd_kafka_error_is_fatal(error);
    int abortable = rd_kafka_error_txn_requires_abort(error);
    /* A conflict means a call of another kind is in progress, which this
     * cycle never leaves behind; a new handle clears it for certain. */
    int conflict = rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__CONFLICT;
    int retriable = rd_kafka_error_is_retriable(error) && !fatal && !abortable && !conflict;

    if (retriable) {
        txn_retry_later(cm, what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return;
    }
    kta_log(KTA_LOG_WARN, "transaction: %s failed: %s%s", what, rd_kafka_error_string(error),
            fatal ? " (fatal)" : abortable ? " (abortable)" : "");
    switch (cm->txn) {
    case TXN_SENDING:
    case TXN_COMMITTING:
        txn_drop_offsets(cm);
        if (fatal || conflict) {
            cm->txn_new_handle = 1;
            txn_to(cm, TXN_RESTARTING);
            break;
        }
        /* A reason no retry can fix (a topic kta may not write to, say)
         * fails every later transaction of the same records: abort and
         * stop. */
        cm->txn_permanent = kta_kafka_txn_permanent(rd_kafka_error_code(error));
        txn_to(cm, TXN_ABORTING);
        break;
    case TXN_ABORTING:
        cm->txn_new_handle = 1;
        txn_to(cm, TXN_RESTARTING);
        break;
    case TXN_RESTARTING:
        if (strcmp(what, "begin") == 0 || conflict ||
            rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__FENCED ||
            rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
            rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
            /* A zombie's epoch or a handle in a bad state: a new handle
             * fences the one and clears the other. */
            cm->txn_new_handle = 1;
            cm->txn_next_try = kta_now_ms() + TXN_BACKOFF_MAX;
            break;
        }
        kta_log(KTA_LOG_ERROR, "transaction: cannot start a transaction: %s; stopping",
                rd_kafka_error_string(error));
        kta_pipeline_stop(cm->pl, 1);
        break;
    default:
        break;
    }
    rd_kafka_error_destroy(error);
}

/* ABORTING and RESTARTING end alike: once their own call (the abort, or
 * init_transactions) has succeeded (error NULL), a new transaction begins
 * and the input is to be rewound to what was committed.  Returns the
 * failure to handle, *what naming the call that failed, or NULL when the
 * cycle has moved on to REWINDING.  Takes error. */
static rd_kafka_error_t *begin_and_rewind(struct kta_commit *cm, rd_kafka_error_t *error,
                                          const char **what)
{
    if (!error) {
        error = kta_producer_txn_begin(cm->pl->producer);
        if (error)
            *what = "begin";
    }
    if (error)
        return error;
    cm->txn_must_abort = 0;
    forget_positions(cm);
    /* The workers are idle: correlation state that took in the aborted
     * records is read back from the changelog before the next one. */
    atomic_fetch_add_explicit(&cm->pl->corr_epoch, 1, memory_order_release);
    txn_to(cm, TXN_REWINDING);
    return NULL;
}

/* Runs the transaction cycle from its current state until it is OPEN
 * again, a step must wait (a retriable failure, records unfinished), or
 * deadline (kta_now_ms) passes.  Returns 1 when an abort rewound the
 * input: the caller drops the records it took but did not track. */
static int txn_run(struct kta_commit *cm, int64_t deadline)
{
    struct kta_producer *p = cm->pl->producer;
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *error;
    char errstr[512];
    int rewound = 0;

    for (;;) {
        int64_t now = kta_now_ms();
        int left = deadline - now > 1 ? (int)(deadline - now) : 1;
        const char *what = NULL;

        if (cm->txn == TXN_OPEN || atomic_load(&cm->pl->fatal) || now >= deadline ||
            now < cm->txn_next_try)
            return rewound;
        error = NULL;
        switch (cm->txn) {
        case TXN_OPEN:
            return rewound;
        case TXN_FINISHING:
            /* A stop that comes meanwhile ends the wait: the shutdown
             * drain then has its own shutdown_timeout_ms (whose own wait
             * here began after the stop, so it is not cut short). */
            if (wait_idle(cm, left, !atomic_load(&cm->pl->stop)) > 0)
                return rewound;   /* intake stays shut until they are */
            if (kta_producer_txn_failed(p)) {
                /* librdkafka holds the transaction's own error (the
                 * record's report says only "purged"): asking it to take
                 * the offsets fails at once with that reason.  One no
                 * retry can fix (a topic kta may not write to) fails every
                 * later transaction of the same records: abort and stop.
                 * The abort throws the transaction away, offsets and all. */
                cm->txn_permanent = 0;
                cm->txn_offsets = moved_positions(cm, 1);
                if (cm->txn_offsets->cnt > 0) {
                    cgmd = rd_kafka_consumer_group_metadata(cm->rk);
                    error = kta_producer_txn_send_offsets(p, cm->txn_offsets, cgmd, left);
                    rd_kafka_consumer_group_metadata_destroy(cgmd);
                    if (error) {
                        cm->txn_permanent = kta_kafka_txn_permanent(rd_kafka_error_code(error));
                        if (cm->txn_permanent)
                            kta_log(KTA_LOG_ERROR, "transaction failed: %s; stopping without "
                                    "committing", rd_kafka_error_string(error));
                        rd_kafka_error_destroy(error);
                        error = NULL;
                    }
                }
                txn_drop_offsets(cm);
                txn_to(cm, TXN_ABORTING);
                continue;
            }
            cm->txn_offsets = moved_positions(cm, 1);
            if (cm->txn_offsets->cnt > 0 && kta_test_txn_abort()) {
                kta_log(KTA_LOG_DEBUG, "transaction: aborted by KTA_TEST_TXN_ABORT_EVERY");
                txn_drop_offsets(cm);
                cm->txn_permanent = 0;
                txn_to(cm, TXN_ABORTING);
                continue;
            }
            txn_to(cm, cm->txn_must_abort ? TXN_ABORTING : TXN_SENDING);
            continue;
        case TXN_SENDING:
            if (cm->txn_offsets->cnt > 0) {
                cgmd = rd_kafka_consumer_group_metadata(cm->rk);
                error = kta_producer_txn_send_offsets(p, cm->txn_offsets, cgmd, left);
                rd_kafka_consumer_group_metadata_destroy(cgmd);
                what = "sending offsets";
            }
            if (!error) {
                /* Partitions revoked meanwhile: their records must not
                 * be committed without their offsets: abort instead. */
                if (cm->txn_must_abort) {
                    txn_drop_offsets(cm);
                    cm->txn_permanent = 0;
                }
                txn_to(cm, cm->txn_must_abort ? TXN_ABORTING : TXN_COMMITTING);
                continue;
            }
            break;
        case TXN_COMMITTING:
            /* Offsets are in: after a retriable failure only the commit
             * is called again, which resumes it. */
            error = kta_producer_txn_commit(p, left);
            what = "commit";
            if (error)
                break;
            mark_committed(cm, cm->txn_offsets);
            txn_drop_offsets(cm);
            cm->txn_must_abort = 0;
            error = kta_producer_txn_begin(p);
            if (!error) {
                txn_to(cm, TXN_OPEN);
                return rewound;
            }
            /* Committed, but no transaction is open: a new producer. */
            kta_log(KTA_LOG_WARN, "transaction: begin failed: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            cm->txn_new_handle = 1;
            txn_to(cm, TXN_RESTARTING);
            continue;
        case TXN_ABORTING:
            what = "abort";
            error = begin_and_rewind(cm, kta_producer_txn_abort(p, left), &what);
            if (error)
                break;
            if (cm->txn_permanent) {
                kta_pipeline_stop(cm->pl, 1);
                cm->txn_permanent = 0;
            }
            continue;
        case TXN_RESTARTING:
            if (cm->txn_new_handle) {
                /* Fenced or otherwise fatal: a new producer with the same
                 * id fences any zombie and starts clean. */
                kta_log(KTA_LOG_WARN, "transaction: restarting the producer");
                if (kta_producer_txn_replace(p, errstr, sizeof(errstr)) < 0) {
                    kta_log(KTA_LOG_ERROR, "transaction: %s", errstr);
                    kta_pipeline_stop(cm->pl, 1);
                    return rewound;
                }
                cm->txn_new_handle = 0;
            }
            what = "init_transactions";
            error = begin_and_rewind(cm, kta_producer_txn_init(p, left), &what);
            if (error)
                break;
            continue;
        case TXN_REWINDING:
            if (cm->assignments != cm->txn_assignment) {
                /* Assigned since intake was shut: no record of these
                 * partitions went into the aborted transaction, and they
                 * start at the committed offsets already.  A seek now
                 * would race the assignment's own start (librdkafka 2.0
                 * then delivered a record twice), and the records taken
                 * meanwhile are the right ones: keep them. */
                kta_log(KTA_LOG_INFO, "transaction aborted; the partitions assigned since "
                        "start at the committed offsets");
                txn_to(cm, TXN_OPEN);
                return rewound;
            }
            if (rewind_to_committed(cm, left) < 0)
                return rewound;
            rewound = 1;
            txn_to(cm, TXN_OPEN);
            /* A topic that went away fails every transaction: say which
             * and stop, rather than abort and rewind forever. */
            if (kta_consumer_check_topics(cm->pl->consumer, left, errstr, sizeof(errstr)) < 0) {
                kta_log(KTA_LOG_ERROR, "%s; stopping without committing", errstr);
                kta_pipeline_stop(cm->pl, 1);
            }
            return rewound;
        }
        txn_failed_call(cm, error, what);
    }
}


/* ---- the loop's commit decision, and draining ----------------------------- */

/* At-least-once, early commits: whether to commit now, before the
 * interval.  Cheap on most turns of the loop (a clock comparison); the
 * partitions are looked at once per EARLY_RECHECK_MS at most. */
static int early_due(struct kta_commit *cm, int64_t now)
{
    const struct kta_config *cfg = cm->pl->cfg;

    if (cfg->exactly_once || cfg->commit_min_interval_ms >= cfg->commit_interval_ms ||
        now < cm->next_early || now - cm->last_commit < cfg->commit_min_interval_ms ||
        cm->unanswered)
        return 0;
    if (moved(cm))
        return 1;
    cm->next_early = now + EARLY_RECHECK_MS;
    return 0;
}

int kta_commit_tick(struct kta_commit *cm, int64_t now, int idle)
{
    struct kta_pipeline *pl = cm->pl;

    if (cm->nretired)
        reap_retired(cm);
    if (!pl->cfg->exactly_once) {
        /* Caught up (nothing arrived for a while, nothing waiting):
         * commit now rather than at the next interval, so lag reads 0.
         * At most once per idle period.  Else commit as soon as a run of
         * records is finished, at most one commit in flight and
         * commit_min_interval_ms apart (early_due), so a crash re-reads
         * that much rather than a whole interval; the interval still
         * commits when an answer is slow to come. */
        if ((idle && kta_commit_inflight(cm) == 0 && moved(cm)) || early_due(cm, now) ||
            now - cm->last_commit >= pl->cfg->commit_interval_ms)
            commit(cm, 0);
        return 0;
    }
    if (cm->txn == TXN_OPEN) {
        /* The same moments in exactly-once mode (caught up: read_committed
         * readers see the last hits without waiting for the interval).
         * A transaction ends only with all its records finished: intake
         * is shut from here until it is OPEN again. */
        if (!(idle && kta_commit_inflight(cm) == 0 && moved(cm)) &&
            now - cm->last_commit < pl->cfg->commit_interval_ms)
            return 0;
        cm->last_commit = now;
        cm->txn_assignment = cm->assignments;
        txn_to(cm, TXN_FINISHING);
    }
    return txn_run(cm, kta_now_ms() + cm->txn_budget);
}

int kta_commit_intake(const struct kta_commit *cm)
{
    return cm->txn == TXN_OPEN;
}

size_t kta_commit_drain(struct kta_commit *cm, int timeout_ms, int closing)
{
    int64_t end;
    size_t left;
    int or_stop;

    /* A rebalance waits inside the poll: it too must end within
     * max.poll.interval.ms.  (At shutdown the member leaves anyway.) */
    if (!closing && timeout_ms > cm->txn_budget)
        timeout_ms = cm->txn_budget;
    end = kta_now_ms() + timeout_ms;
    if (!cm->pl->cfg->exactly_once) {
        /* A drain that began before a stop (a revoke) gives way to it:
         * the shutdown drain then has its own shutdown_timeout_ms. */
        left = wait_idle(cm, timeout_ms, !atomic_load(&cm->pl->stop));
        /* The smallest unfinished offset is safe to commit even after a
         * fatal error: a failed record holds its slot, so the position
         * never passes it. */
        commit(cm, 1);
        goto out;
    }
    if (cm->txn == TXN_OPEN && timeout_ms > 0) {
        cm->last_commit = kta_now_ms();
        cm->txn_assignment = cm->assignments;
        txn_to(cm, TXN_FINISHING);
    }
    /* As above: a revoke's drain gives way to a stop that comes meanwhile. */
    or_stop = !atomic_load(&cm->pl->stop);
    while (cm->txn != TXN_OPEN && timeout_ms > 0) {
        int64_t now;
        txn_run(cm, end);
        now = kta_now_ms();
        if (cm->txn == TXN_OPEN || now >= end || atomic_load(&cm->pl->fatal) ||
            (or_stop && atomic_load(&cm->pl->stop)))
            break;
        if (cm->txn_next_try > now)
            sleep_ms((int)((cm->txn_next_try < end ? cm->txn_next_try : end) - now));
    }
    left = kta_commit_inflight(cm);
    if (cm->txn != TXN_OPEN) {
        if (!closing)
            kta_log(KTA_LOG_WARN, "transaction not committed in time (%s); its records will be "
                    "read again", txn_names[cm->txn]);
        /* The partitions go: their records must never be committed
         * without their offsets.  Nothing is in progress in FINISHING;
         * a send in progress is finished first, then aborted.
         * COMMITTING goes on: its offsets are in already. */
        if (cm->txn == TXN_FINISHING) {
            cm->txn_permanent = 0;
            txn_to(cm, TXN_ABORTING);
        } else if (cm->txn == TXN_SENDING) {
            cm->txn_must_abort = 1;
        }
    }
out:
    if (left && !closing)
        kta_log(KTA_LOG_WARN, "%zu record%s still unfinished; not committed, will be read again",
                left, left == 1 ? "" : "s");
    cm->drained = (left == 0);
    return left;
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
        const char *corr = kta_corr_run_topic(cm->pl);
        int64_t off = -1;

        /* Correlation inputs are never skipped nor read twice on request. */
        if (corr && strcmp(tp->topic, corr) == 0)
            continue;

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
        err = kta_kafka_resolve_start(cm->rk, cfg->startup_timeout_ms, tp->topic, tp->partition,
                                      kind, value, &off);
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
    cm->assignments++;
    note_commits(cm);
    drop_parts(cm);
    cm->parts = xcalloc((size_t)partitions->cnt + 1, sizeof(*cm->parts));
    for (int i = 0; i < partitions->cnt; i++) {
        struct kta_commit_part *p = &cm->parts[cm->nparts++];
        p->topic = xstrdup(partitions->elems[i].topic);
        p->partition = partitions->elems[i].partition;
        p->offsets = kta_offsets_new((size_t)cm->pl->cfg->inflight_per_partition);
        p->committed = -1;
        p->sent = -1;
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
    if (!cm->pl->cfg->exactly_once && cm->counts.commits)
        kta_log(KTA_LOG_INFO, "offset commits: %llu requests, %llu positions confirmed, %llu "
                "refused", (unsigned long long)cm->counts.commits,
                (unsigned long long)cm->counts.confirmed, (unsigned long long)cm->counts.failed);
    drop_parts(cm);
    txn_drop_offsets(cm);
    for (size_t i = 0; i < cm->nretired; i++)
        kta_offsets_free(cm->retired[i]);
    free(cm->retired);
    for (size_t i = 0; i < cm->nstarts; i++)
        free(cm->starts[i].topic);
    free(cm->starts);
    free(cm);
}
