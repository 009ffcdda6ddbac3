/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the SPSC ring: order, capacity, and a two-thread run. */
#include "kta/ring.h"
#include "tap.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#define N_ITEMS 200000

static void *popper(void *arg)
{
    struct kta_ring *ring = arg;
    struct kta_ring_item it[32];
    uintptr_t expect = 1;
    uintptr_t *bad = calloc(1, sizeof(*bad));

    while (expect <= N_ITEMS) {
        size_t n = kta_ring_pop_wait(ring, it, 32, 50);
        for (size_t i = 0; i < n; i++, expect++)
            if ((uintptr_t)it[i].msg != expect || (uintptr_t)it[i].tag != expect * 2)
                (*bad)++;
    }
    return bad;
}

int main(void)
{
    struct kta_ring *ring = kta_ring_new(5);
    struct kta_ring_item it = { 0 }, out[16];
    pthread_t th;
    void *res;

    CHECK_INT(kta_ring_capacity(ring), 8);
    for (uintptr_t i = 0; i < 8; i++) {
        it.msg = (void *)i;
        CHECK_INT(kta_ring_push(ring, &it), 0);
    }
    it.msg = (void *)99;
    CHECK_INT(kta_ring_push(ring, &it), -1);          /* full: refused */
    CHECK_INT(kta_ring_len(ring), 8);
    CHECK_INT(kta_ring_pop(ring, out, 3), 3);
    CHECK(out[0].msg == (void *)0 && out[2].msg == (void *)2);
    CHECK_INT(kta_ring_pop(ring, out, 16), 5);
    CHECK(out[4].msg == (void *)7);
    CHECK_INT(kta_ring_pop(ring, out, 16), 0);
    CHECK_INT(kta_ring_pop_wait(ring, out, 16, 20), 0); /* times out empty */
    kta_ring_free(ring);

    /* Two threads: every item arrives once, in order, despite wraps. */
    ring = kta_ring_new(64);
    pthread_create(&th, NULL, popper, ring);
    for (uintptr_t i = 1; i <= N_ITEMS; i++) {
        it.msg = (void *)i;
        it.tag = (void *)(i * 2);
        while (kta_ring_push(ring, &it) < 0)
            sched_yield();
    }
    pthread_join(th, &res);
    CHECK_INT(*(uintptr_t *)res, 0);
    free(res);
    kta_ring_free(ring);
    kta_ring_free(NULL);
    return tap_done();
}
