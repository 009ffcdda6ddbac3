/* SPDX-License-Identifier: Apache-2.0 */
/*
 * commit.c's at-least-once bookkeeping, without a broker: a consumer
 * handle that never reaches one queues every asynchronous commit, and the
 * test plays the broker's answers through kta_commit_done.
 */
#include "kta/commit.h"
#include "kta/config.h"
#include "kta/pipeline.h"

#include "tap.h"

static rd_kafka_t *offline_consumer(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    rd_kafka_t *rk;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "group.id", "test-commit", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        fprintf(stderr, "%s\n", err);
    return rk;
}

static int64_t committed(struct kta_commit *cm, int32_t partition)
{
    size_t n;
    const struct kta_commit_part *parts = kta_commit_parts(cm, &n);

    for (size_t i = 0; i < n; i++)
        if (parts[i].partition == partition)
            return parts[i].committed;
    return -2;
}

/* Tracks offsets from..to-1 of partition and finishes them. */
static void finish(struct kta_commit *cm, int32_t partition, int64_t from, int64_t to)
{
    struct kta_commit_part *p = kta_commit_find(cm, "in", partition);

    for (int64_t o = from; o < to; o++)
        kta_slot_release(kta_commit_track(p, o));
}

/* The broker's answer for one partition. */
static void answer(struct kta_commit *cm, int32_t partition, int64_t offset,
                   rd_kafka_resp_err_t err)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(list, "in", partition);

    tp->offset = offset;
    tp->err = err;
    kta_commit_done(cm, err, list);
    rd_kafka_topic_partition_list_destroy(list);
}

static uint64_t sent(struct kta_commit *cm)
{
    struct kta_commit_counts n;

    kta_commit_counts(cm, &n);
    return n.commits;
}

/* Finding 3: a position counts as committed only once the broker says so;
 * a failed commit is sent again; no second commit of the same position
 * while one is in flight. */
static void test_confirmed_only(struct kta_pipeline *pl, rd_kafka_t *rk)
{
    struct kta_commit *cm = kta_commit_new(pl, rk);
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(2);
    int64_t now = kta_now_ms();

    rd_kafka_topic_partition_list_add(assign, "in", 0);
    rd_kafka_topic_partition_list_add(assign, "in", 1);
    kta_commit_assign(cm, assign);

    finish(cm, 0, 10, 12);
    kta_commit_tick(cm, now, 1);                 /* caught up: commits 12 */
    CHECK_INT(sent(cm), 1);
    CHECK_INT(committed(cm, 0), -1);             /* queued, not confirmed */
    CHECK_INT(committed(cm, 1), -1);

    kta_commit_tick(cm, now, 1);                 /* 12 is in flight: not again */
    CHECK_INT(sent(cm), 1);

    answer(cm, 0, 12, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    CHECK_INT(committed(cm, 0), -1);
    kta_commit_tick(cm, now, 1);                 /* failed: sent again */
    CHECK_INT(sent(cm), 2);
    answer(cm, 0, 12, RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(committed(cm, 0), 12);
    kta_commit_tick(cm, now, 1);                 /* nothing moved */
    CHECK_INT(sent(cm), 2);

    /* A newer position may go while an older one is in flight; the older
     * answer arriving late does not move committed back. */
    finish(cm, 0, 12, 20);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 3);
    finish(cm, 0, 20, 25);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 4);
    answer(cm, 0, 25, RD_KAFKA_RESP_ERR_NO_ERROR);
    answer(cm, 0, 20, RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(committed(cm, 0), 25);
    /* A failed answer for an older position does not undo a newer one. */
    answer(cm, 0, 20, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 4);

    /* A whole-request error (coordinator gone) fails every partition. */
    finish(cm, 1, 0, 5);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 5);
    {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(list, "in", 1)->offset = 5;
        kta_commit_done(cm, RD_KAFKA_RESP_ERR__TRANSPORT, list);
        rd_kafka_topic_partition_list_destroy(list);
    }
    CHECK_INT(committed(cm, 1), -1);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 6);
    answer(cm, 1, 5, RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(committed(cm, 1), 5);
    /* ... also when the answer does not list the partitions. */
    finish(cm, 1, 5, 8);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 7);
    kta_commit_done(cm, RD_KAFKA_RESP_ERR__TRANSPORT, NULL);
    kta_commit_tick(cm, now, 1);
    CHECK_INT(sent(cm), 8);
    answer(cm, 1, 8, RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK_INT(committed(cm, 1), 8);

    rd_kafka_topic_partition_list_destroy(assign);
    kta_commit_free(cm);
}

/* Item 4: at-least-once commits as soon as positions move, one request in
 * flight at a time, commit_min_interval_ms apart; not at all early when
 * that is commit_interval_ms or more. */
static void test_early(struct kta_pipeline *pl, rd_kafka_t *rk, int min_ms)
{
    struct kta_commit *cm = kta_commit_new(pl, rk);
    rd_kafka_topic_partition_list_t *assign = rd_kafka_topic_partition_list_new(1);
    int early = min_ms < pl->cfg->commit_interval_ms;
    int64_t t = kta_now_ms();
    /* Off: stay within the interval, which commits anyway. */
    int step = early ? min_ms + 20 : pl->cfg->commit_interval_ms / 4;

    rd_kafka_topic_partition_list_add(assign, "in", 0);
    kta_commit_assign(cm, assign);
    finish(cm, 0, 0, 3);
    kta_commit_tick(cm, t, 0);                   /* too soon after the last one */
    CHECK_INT(sent(cm), 0);
    kta_commit_tick(cm, t + step, 0);            /* busy, not idle: still commits */
    CHECK_INT(sent(cm), early ? 1 : 0);
    finish(cm, 0, 3, 6);
    kta_commit_tick(cm, t + 2 * step, 0);        /* the first is unanswered */
    CHECK_INT(sent(cm), early ? 1 : 0);
    if (early) {
        answer(cm, 0, 3, RD_KAFKA_RESP_ERR_NO_ERROR);
        CHECK_INT(committed(cm, 0), 3);
        kta_commit_tick(cm, kta_now_ms() + min_ms + 20, 0);
        CHECK_INT(sent(cm), 2);
    }
    rd_kafka_topic_partition_list_destroy(assign);
    kta_commit_free(cm);
}

int main(void)
{
    struct kta_config *cfg = kta_config_new();
    struct kta_pipeline pl;
    rd_kafka_t *rk = offline_consumer();

    memset(&pl, 0, sizeof(pl));
    pl.cfg = cfg;
    CHECK(rk != NULL);
    if (rk) {
        char errstr[256];
        test_confirmed_only(&pl, rk);
        CHECK_INT(kta_config_set(cfg, "commit_min_interval_ms", "50", "test", errstr, sizeof(errstr)), 0);
        test_early(&pl, rk, 50);
        CHECK_INT(kta_config_set(cfg, "commit_min_interval_ms", "1000", "test", errstr, sizeof(errstr)), 0);
        test_early(&pl, rk, 1000);
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    kta_config_free(cfg);
    return tap_done();
}
