/* SPDX-License-Identifier: Apache-2.0 */
/*
 * offsets: per-partition "smallest unfinished offset", the position that is
 * safe to commit.
 *
 * Workers finish records out of order and hits are acknowledged by the
 * broker later still, so a record is finished only when its worker is done
 * with it AND every record it produced (hits, dead letters) is
 * acknowledged.  Each record gets a slot whose `pending` count starts at 1
 * (the worker's share); the worker adds one per record it produces and
 * drops its own share when done; each delivery report drops one.  At zero
 * the slot is finished.  The committable position is the offset of the
 * oldest unfinished slot, or one past the last record tracked.
 *
 * Threads: kta_offsets_track, kta_offsets_advance and kta_offsets_position
 * belong to the consumer thread; kta_slot_hold / kta_slot_release may be
 * called from any thread.  Knows no Kafka and no JSON.
 */
#ifndef KTA_OFFSETS_H
#define KTA_OFFSETS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct kta_slot {
    int64_t offset;
    int64_t taken_us;    /* when the consumer tracked it (kta_now_us); for metrics */
    atomic_int pending;
};

struct kta_offsets;

/* Returns a tracker for one partition that holds at most `capacity`
 * unfinished records (rounded up to a power of two). */
struct kta_offsets *kta_offsets_new(size_t capacity);
void kta_offsets_free(struct kta_offsets *o);

/* Consumer thread.  Starts tracking the record at `offset` (offsets must
 * increase).  Returns its slot with pending = 1, or NULL when the tracker
 * is full (the caller must then hold the record back). */
struct kta_slot *kta_offsets_track(struct kta_offsets *o, int64_t offset);

/* Any thread.  One more outstanding piece of work for the slot's record. */
static inline void kta_slot_hold(struct kta_slot *s)
{
    atomic_fetch_add_explicit(&s->pending, 1, memory_order_relaxed);
}

/* Any thread.  One piece of work done. */
static inline void kta_slot_release(struct kta_slot *s)
{
    atomic_fetch_sub_explicit(&s->pending, 1, memory_order_release);
}

/* Consumer thread.  Drops finished slots from the front.  Returns the
 * position to commit (the next offset to read), or -1 when nothing was
 * ever tracked. */
int64_t kta_offsets_advance(struct kta_offsets *o);

/* Consumer thread.  Unfinished records being tracked. */
size_t kta_offsets_inflight(const struct kta_offsets *o);

#endif
