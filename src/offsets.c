/* SPDX-License-Identifier: Apache-2.0 */
/*
 * offsets: the at-least-once bookkeeping of one partition (see the header).
 * A ring of slots in offset order; only the consumer thread moves head and
 * tail, other threads only decrement `pending` of slots between them.
 */
#include "kta/offsets.h"
#include "kta/util.h"

#include <stdlib.h>

struct kta_offsets {
    struct kta_slot *slots;
    size_t mask;
    size_t head;          /* oldest unfinished slot */
    size_t tail;          /* next free slot */
    int64_t next;         /* one past the last tracked offset; -1 if none */
};

struct kta_offsets *kta_offsets_new(size_t capacity)
{
    struct kta_offsets *o = xcalloc(1, sizeof(*o));
    size_t cap = 2;

    while (cap < capacity)
        cap <<= 1;
    o->slots = xcalloc(cap, sizeof(*o->slots));
    o->mask = cap - 1;
    o->next = -1;
    return o;
}

void kta_offsets_free(struct kta_offsets *o)
{
    if (!o)
        return;
    free(o->slots);
    free(o);
}

struct kta_slot *kta_offsets_track(struct kta_offsets *o, int64_t offset)
{
    struct kta_slot *s;

    if (o->tail - o->head > o->mask) {
        kta_offsets_advance(o);
        if (o->tail - o->head > o->mask)
            return NULL;
    }
    s = &o->slots[o->tail & o->mask];
    s->offset = offset;
    atomic_store_explicit(&s->pending, 1, memory_order_relaxed);
    o->tail++;
    o->next = offset + 1;
    return s;
}

int64_t kta_offsets_advance(struct kta_offsets *o)
{
    while (o->head != o->tail) {
        struct kta_slot *s = &o->slots[o->head & o->mask];
        if (atomic_load_explicit(&s->pending, memory_order_acquire) != 0)
            return s->offset;
        o->head++;
    }
    return o->next;
}

size_t kta_offsets_inflight(const struct kta_offsets *o)
{
    return o->tail - o->head;
}
