/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the smallest-unfinished-offset tracker. */
#include "kta/offsets.h"
#include "tap.h"

int main(void)
{
    struct kta_offsets *o = kta_offsets_new(4);
    struct kta_slot *s[8];

    CHECK_INT(kta_offsets_advance(o), -1);           /* nothing tracked */
    s[0] = kta_offsets_track(o, 10);
    s[1] = kta_offsets_track(o, 11);
    s[2] = kta_offsets_track(o, 15);                 /* gaps are fine */
    CHECK_INT(kta_offsets_advance(o), 10);
    /* Out of order: 11 and 15 finish first; 10 still holds the position. */
    kta_slot_release(s[1]);
    kta_slot_release(s[2]);
    CHECK_INT(kta_offsets_advance(o), 10);
    /* 10's worker is done, but one hit is not yet acknowledged. */
    kta_slot_hold(s[0]);
    kta_slot_release(s[0]);
    CHECK_INT(kta_offsets_advance(o), 10);
    kta_slot_release(s[0]);                          /* delivery report */
    CHECK_INT(kta_offsets_advance(o), 16);
    CHECK_INT(kta_offsets_inflight(o), 0);

    /* Full tracker refuses until the oldest finishes. */
    for (int i = 0; i < 4; i++)
        s[i] = kta_offsets_track(o, 20 + i);
    CHECK(kta_offsets_track(o, 24) == NULL);
    kta_slot_release(s[1]);
    CHECK(kta_offsets_track(o, 24) == NULL);          /* 20 still unfinished */
    kta_slot_release(s[0]);
    s[4] = kta_offsets_track(o, 24);
    CHECK(s[4] != NULL);
    CHECK_INT(kta_offsets_advance(o), 22);
    CHECK_INT(kta_offsets_inflight(o), 3);
    kta_offsets_free(o);
    kta_offsets_free(NULL);
    return tap_done();
}
