/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring: a bounded single-producer / single-consumer queue of two-pointer
 * items, lock-free on the fast path.  The consumer thread pushes, one
 * worker thread pops.  It knows no Kafka and no JSON.
 *
 * An empty ring does not spin: kta_ring_pop_wait() sleeps on a condition
 * variable, and the producer signals only when the consumer said it is
 * asleep, so the lock is touched only around idle periods (two vCPUs
 * cannot afford spinning threads next to librdkafka's own).
 *
 * Functions borrow their arguments; kta_ring_free(NULL) does nothing.
 */
#ifndef KTA_RING_H
#define KTA_RING_H

#include <stddef.h>

struct kta_ring_item {
    void *msg;   /* what to process */
    void *tag;   /* where to report completion */
};

struct kta_ring;

/* Returns a ring holding at least `capacity` items (rounded up to a power
 * of two, at least 2). */
struct kta_ring *kta_ring_new(size_t capacity);
void kta_ring_free(struct kta_ring *ring);

/* Producer thread only.  Returns 0, or -1 when the ring is full (nothing
 * is pushed then). */
int kta_ring_push(struct kta_ring *ring, const struct kta_ring_item *it);

/* Producer thread only.  Like kta_ring_push, but never wakes the
 * consumer: call kta_ring_kick after a burst of pushes, so a sleeping
 * worker costs one wake-up per burst rather than one per item. */
int kta_ring_push_quiet(struct kta_ring *ring, const struct kta_ring_item *it);

/* Producer thread only.  Wakes the consumer if it is waiting. */
void kta_ring_kick(struct kta_ring *ring);

/* Consumer thread only.  Pops up to max items into out without waiting;
 * returns how many. */
size_t kta_ring_pop(struct kta_ring *ring, struct kta_ring_item *out, size_t max);

/* Consumer thread only.  Like kta_ring_pop, but when the ring is empty
 * waits up to timeout_ms for an item (or for kta_ring_wake).  */
size_t kta_ring_pop_wait(struct kta_ring *ring, struct kta_ring_item *out,
                         size_t max, int timeout_ms);

/* Wakes a waiting consumer (used at shutdown).  Any thread. */
void kta_ring_wake(struct kta_ring *ring);

/* Items currently queued (approximate when called from a third thread). */
size_t kta_ring_len(const struct kta_ring *ring);
size_t kta_ring_capacity(const struct kta_ring *ring);

#endif
