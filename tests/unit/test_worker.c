/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the worker's pure helpers: which worker a partition goes to. */
#include "kta/pipeline.h"
#include "tap.h"

#include <stdio.h>

static void worker_choice(void)
{
    char topic[32];
    int seen[4] = { 0 }, distinct = 0;

    /* Partition 0 of many input topics must not all land on one worker. */
    for (int t = 0; t < 16; t++) {
        snprintf(topic, sizeof(topic), "events-%d", t);
        seen[kta_worker_for(topic, 0, 4)]++;
    }
    for (int w = 0; w < 4; w++)
        distinct += seen[w] > 0;
    CHECK(distinct >= 3);
    CHECK(kta_worker_for("threat-events", 0, 2) != kta_worker_for("auth-events", 0, 2) ||
          kta_worker_for("threat-events", 0, 3) != kta_worker_for("auth-events", 0, 3));

    /* Stable, in range, and one topic's partitions still spread over
     * every worker (consecutive partitions, consecutive workers). */
    for (int n = 1; n <= 8; n++) {
        int hit[8] = { 0 }, all = 1;
        for (int32_t p = 0; p < 64; p++) {
            int w = kta_worker_for("threat-events", p, n);
            CHECK(w >= 0 && w < n);
            CHECK_INT(w, kta_worker_for("threat-events", p, n));
            if (w >= 0 && w < n)
                hit[w]++;
        }
        for (int w = 0; w < n; w++)
            all &= hit[w] == 64 / n || hit[w] == 64 / n + 1;
        CHECK(all);
    }
    CHECK_INT(kta_worker_for("x", 2147483647, 7) >= 0, 1);
    CHECK_INT(kta_worker_for("", 5, 1), 0);
}

int main(void)
{
    worker_choice();
    return tap_done();
}
