/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring: bounded SPSC queue between the consumer thread and one worker.
 *
 * head is written only by the consumer (popper), tail only by the
 * producer (pusher); each reads the other's index with acquire ordering
 * so the item stores are visible before the index that publishes them.
 * The two indexes live on separate cache lines.  Knows no Kafka, no JSON.
 */
#include "kta/ring.h"
#include "kta/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct kta_ring {
    _Alignas(64) atomic_size_t head;     /* next item to pop */
    _Alignas(64) atomic_size_t tail;     /* next free place */
    _Alignas(64) atomic_int sleeping;    /* the popper is (about to be) waiting */
    size_t mask;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct kta_ring_item *items;
};

struct kta_ring *kta_ring_new(size_t capacity)
{
    struct kta_ring *ring = xcalloc(1, sizeof(*ring));
    size_t cap = 2;

    while (cap < capacity)
        cap <<= 1;
    ring->mask = cap - 1;
    ring->items = xcalloc(cap, sizeof(*ring->items));
    atomic_init(&ring->head, 0);
    atomic_init(&ring->tail, 0);
    atomic_init(&ring->sleeping, 0);
    pthread_mutex_init(&ring->lock, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&ring->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    return ring;
}

void kta_ring_free(struct kta_ring *ring)
{
    if (!ring)
        return;
    pthread_mutex_destroy(&ring->lock);
    pthread_cond_destroy(&ring->cond);
    free(ring->items);
    free(ring);
}

void kta_ring_wake(struct kta_ring *ring)
{
    pthread_mutex_lock(&ring->lock);
    pthread_cond_signal(&ring->cond);
    pthread_mutex_unlock(&ring->lock);
}

int kta_ring_push_quiet(struct kta_ring *ring, const struct kta_ring_item *it)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);

    if (tail - head > ring->mask)
        return -1;
    ring->items[tail & ring->mask] = *it;
    atomic_store_explicit(&ring->tail, tail + 1, memory_order_seq_cst);
    return 0;
}

void kta_ring_kick(struct kta_ring *ring)
{
    /* seq_cst store (of tail, in push) / load pair against the popper's
     * sleeping flag: either it sees our tail before sleeping, or we see
     * it asleep and wake it. */
    if (atomic_load_explicit(&ring->sleeping, memory_order_seq_cst))
        kta_ring_wake(ring);
}

int kta_ring_push(struct kta_ring *ring, const struct kta_ring_item *it)
{
    if (kta_ring_push_quiet(ring, it) < 0)
        return -1;
    kta_ring_kick(ring);
    return 0;
}

size_t kta_ring_pop(struct kta_ring *ring, struct kta_ring_item *out, size_t max)
{
    size_t head = atomic_load_explicit(&ring->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    size_t n = tail - head;

    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        out[i] = ring->items[(head + i) & ring->mask];
    if (n)
        atomic_store_explicit(&ring->head, head + n, memory_order_release);
    return n;
}

size_t kta_ring_pop_wait(struct kta_ring *ring, struct kta_ring_item *out,
                         size_t max, int timeout_ms)
{
    size_t n = kta_ring_pop(ring, out, max);
    struct timespec ts;

    if (n || timeout_ms <= 0)
        return n;
    pthread_mutex_lock(&ring->lock);
    atomic_store_explicit(&ring->sleeping, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&ring->tail, memory_order_seq_cst) ==
        atomic_load_explicit(&ring->head, memory_order_relaxed)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ring->cond, &ring->lock, &ts);
    }
    atomic_store_explicit(&ring->sleeping, 0, memory_order_relaxed);
    pthread_mutex_unlock(&ring->lock);
    return kta_ring_pop(ring, out, max);
}

size_t kta_ring_len(const struct kta_ring *ring)
{
    size_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
    size_t head = atomic_load_explicit(&ring->head, memory_order_acquire);

    return tail - head;
}

size_t kta_ring_capacity(const struct kta_ring *ring)
{
    return ring->mask + 1;
}
