/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit: the one owner of "what is safe to commit" in `kta run` — the
 * partition table, each partition's offset tracker (offsets.c is the data
 * structure, this module owns the instances), the trackers of partitions
 * given up while records were in flight, the committed positions, the
 * at-least-once commits and the exactly-once transaction cycle (commit,
 * abort, producer restart, rewind).  Its states and transitions are
 * listed at the top of src/commit.c.
 *
 * Start offsets (input.start_offset, input.reset_offsets) live here too:
 * where a partition starts is decided from whether this process has
 * committed it (a start stays "pending" until then), and rewinding after
 * an aborted transaction must go back to that start, not to the group's
 * older offset.  Both questions are about committed positions, so they
 * have the same owner.
 *
 * consumer.c keeps intake (poll loop, dispatch, overflow, pause/resume,
 * rebalance callback, lag publishing) and calls in here; producer.c keeps
 * the librdkafka transactional calls as thin wrappers over its handle.
 * Nothing else changes a committed position.
 *
 * Every function runs on the consumer thread (its loop or a librdkafka
 * callback it serves) unless it says otherwise.  Functions borrow their
 * arguments; kta_commit_new's result is freed with kta_commit_free;
 * kta_commit_free(NULL) does nothing.
 */
#ifndef KTA_COMMIT_H
#define KTA_COMMIT_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "kta/offsets.h"

struct kta_config;
struct kta_pipeline;
struct kta_commit;

/* One assigned partition.  Read-only outside commit.c: consumer.c reads
 * topic and partition (pause, fetch wake-up) and committed/seen (lag). */
struct kta_commit_part {
    char               *topic;
    int32_t             partition;
    struct kta_offsets *offsets;
    int64_t             committed;   /* last position the broker confirmed (or
                                        a transaction committed), -1 if none */
    int64_t             sent;        /* at-least-once: position of the newest
                                        commit not answered yet, -1 if none */
    int64_t             start;       /* offset input.start_offset chose at this
                                        assignment while this process has not
                                        committed the partition, else -1 */
    int64_t             seen;        /* offset of the first record or end seen, -1 if none */
    int                 at_end;      /* the last thing read was its end (EOF) */
};

/* Exactly-once: -1 with errstr when max.poll.interval.ms cannot be kept.
 * librdkafka may block one transactional call for up to
 * transaction.timeout.ms whatever its timeout says, so that must be at
 * most half of max.poll.interval.ms.  0 otherwise (and in at-least-once
 * mode).  Any thread. */
int kta_commit_conf_check(const struct kta_config *cfg, char *errstr, size_t errstr_size);

/* A commit table for pl, committing through rk (the consumer's handle). */
struct kta_commit *kta_commit_new(struct kta_pipeline *pl, rd_kafka_t *rk);
void kta_commit_free(struct kta_commit *cm);

/* The assigned partitions (*n of them); valid until the next assignment
 * or revocation. */
const struct kta_commit_part *kta_commit_parts(const struct kta_commit *cm, size_t *n);

/* The assigned partition (topic, partition), or NULL when it is not ours.
 * Hot path: tries the last one found first. */
struct kta_commit_part *kta_commit_find(struct kta_commit *cm, const char *topic,
                                        int32_t partition);

/* Hot path.  Starts tracking the record at offset of partition p: its slot
 * (pending 1), or NULL when p's tracker is full (hold the record back). */
static inline struct kta_slot *kta_commit_track(struct kta_commit_part *p, int64_t offset)
{
    return kta_offsets_track(p->offsets, offset);
}

/* A record (at_end 0) or the end of a partition (at_end 1) was read. */
void kta_commit_note_read(struct kta_commit *cm, const char *topic, int32_t partition,
                          int64_t offset, int at_end);
/* 1 when there are partitions and each was last read to its end. */
int kta_commit_at_end(const struct kta_commit *cm);

/* Rebalance, assign: replaces the partition table with partitions (the
 * old trackers freed or retired), then, before rd_kafka_assign,
 * kta_commit_start_offsets sets where each starts (input.start_offset;
 * stops the pipeline when a lookup fails). */
void kta_commit_assign(struct kta_commit *cm, const rd_kafka_topic_partition_list_t *partitions);
void kta_commit_start_offsets(struct kta_commit *cm, rd_kafka_topic_partition_list_t *partitions);
/* Rebalance, revoke (after kta_commit_drain): forgets every partition. */
void kta_commit_revoke(struct kta_commit *cm);

/* Tracked records not finished yet. */
size_t kta_commit_inflight(struct kta_commit *cm);

/* The consumer loop's commit decision, once per turn: now_ms is the
 * loop's clock, idle says nothing arrived and nothing waits.  Commits
 * when caught up; at least once, also as soon as positions moved with no
 * commit unanswered and commit_min_interval_ms since the last; and every
 * commit_interval_ms.  Most turns cost a few comparisons.  Exactly-once:
 * ends the transaction, or resumes ending it; a turn spends at most a
 * third of max.poll.interval.ms (and at most shutdown_timeout_ms) here,
 * whatever the broker does, and a retriable failure is retried on later
 * turns.  Returns 1 when an aborted transaction rewound the input: the
 * caller must then drop the records it took but did not track (they come
 * again), else 0.  Also frees retired trackers that became idle. */
int kta_commit_tick(struct kta_commit *cm, int64_t now_ms, int idle);

/* Hot path.  1 when records may be handed to workers; 0 while an
 * exactly-once transaction is being ended (or aborted, or the input
 * rewound): records then wait untracked. */
int kta_commit_intake(const struct kta_commit *cm);

/* Waits up to timeout_ms for every tracked record to finish, then commits
 * synchronously (exactly-once: ends the transaction, within the same
 * time).  Unless closing, timeout_ms is cut to what kta_commit_tick may
 * spend (a rebalance runs inside the poll).  The caller has dropped the
 * records it did not track.  closing: at shutdown, where nothing is said
 * about records left unfinished.  A transaction not ended in time is
 * aborted later, never committed without its offsets.  Returns how many
 * records are unfinished. */
size_t kta_commit_drain(struct kta_commit *cm, int timeout_ms, int closing);

/* At-least-once commit requests sent to the group coordinator, and the
 * partition positions the broker confirmed or refused. */
struct kta_commit_counts {
    uint64_t commits;
    uint64_t confirmed;
    uint64_t failed;
};
void kta_commit_counts(const struct kta_commit *cm, struct kta_commit_counts *n);

/* The broker's answer to an asynchronous or synchronous offset commit
 * (rd_kafka_conf_set_offset_commit_cb, via the consumer's callback). */
void kta_commit_done(struct kta_commit *cm, rd_kafka_resp_err_t err,
                     const rd_kafka_topic_partition_list_t *offsets);

#endif
