/* SPDX-License-Identifier: Apache-2.0 */
/*
 * backtest: `kta eval -t TOPIC` reads a topic range instead of files.
 * It starts every partition of the topic itself, on one queue (librdkafka's
 * simple consumer, rd_kafka_consume_start_queue: rd_kafka_assign needs a
 * group.id, this does not) at the start offset -o asks for and stops each at the end --until names, fixed
 * before the first fetch: the high watermark then (`end`), or the first
 * offset whose timestamp is at or after @MS (rd_kafka_offsets_for_times,
 * kcat's e@MS).  cmd_eval.c evaluates each record it hands over exactly
 * as it evaluates a line of a file.
 *
 * Per partition: PENDING (start < end) -> DONE when a record at or past
 * its end arrives or it reaches the end of the log (partition EOF: a
 * transaction marker or compaction may hold the last offsets) [poll_one];
 * start >= end is DONE at once [kta_backtest_read].
 *
 * Main thread only.  It never joins or names a consumer group (no
 * group.id), never commits, never produces.
 */
#include "kta/backtest.h"
#include "kta/kafka.h"
#include "kta/util.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 200

struct part {
    int32_t partition;
    int64_t start, end;
    int     done;
    int     started;   /* rd_kafka_consume_start_queue'd */
};

int kta_backtest_parse_until(const char *text, struct kta_backtest_until *u, char *errstr,
                             size_t errstr_size)
{
    char *end;

    memset(u, 0, sizeof(*u));
    if (strcmp(text, "end") == 0) {
        u->at_end = 1;
        return 0;
    }
    if (text[0] == '@' && text[1] >= '0' && text[1] <= '9') {
        errno = 0;
        u->ms = strtoll(text + 1, &end, 10);
        if (!errno && *end == '\0')
            return 0;
    }
    return kta_err(errstr, errstr_size, "--until takes end or @TIMESTAMP (milliseconds since "
                   "the epoch), not '%s'", text);
}

static struct part *find(struct part *p, size_t n, int32_t partition)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].partition == partition)
            return &p[i];
    return NULL;
}

/* Where u ends a partition (exclusive). */
static rd_kafka_resp_err_t resolve_end(rd_kafka_t *rk, int timeout, const char *topic,
                                       int32_t partition, const struct kta_backtest_until *u,
                                       int64_t *out)
{
    return kta_kafka_resolve_start(rk, timeout, topic, partition,
                                   u->at_end ? KTA_START_END : KTA_START_TIME, u->ms, out);
}

int kta_backtest_read(const struct kta_config *cfg, const char *topic, enum kta_start kind,
                      long long value, const struct kta_backtest_until *u, kta_backtest_fn *fn,
                      void *opaque, char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *rkt = NULL;
    rd_kafka_queue_t *q = NULL;
    struct part *parts = NULL;
    size_t nparts = 0, left = 0;
    char rderr[512];
    int rc = -1, timeout = cfg->startup_timeout_ms;

    /* The producer's view of the properties leaves out every consumer
     * group setting kta run would use (group.id first of all). */
    if (kta_kafka_conf_apply(conf, cfg, 1, errstr, errstr_size) < 0)
        goto out;
    if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", rderr, sizeof(rderr))) {
        kta_err(errstr, errstr_size, "backtest: %s", rderr);
        goto out;
    }
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    conf = NULL;   /* rd_kafka_new took it, or freed it */
    if (!rk) {
        kta_err(errstr, errstr_size, "backtest: cannot create a Kafka client: %s", rderr);
        goto out;
    }
    if (kta_kafka_metadata_wait(rk, cfg, &md, errstr, errstr_size) < 0 ||
        kta_kafka_topic_unusable(rk, md, "topic", topic, "-t", errstr, errstr_size))
        goto out;
    for (int t = 0; t < md->topic_cnt; t++) {
        if (strcmp(md->topics[t].topic, topic) != 0)
            continue;
        parts = xcalloc((size_t)md->topics[t].partition_cnt + 1, sizeof(*parts));
        for (int i = 0; i < md->topics[t].partition_cnt; i++)
            parts[nparts++].partition = md->topics[t].partitions[i].id;
    }
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    q = rd_kafka_queue_new(rk);
    for (size_t i = 0; i < nparts; i++) {
        struct part *p = &parts[i];
        rd_kafka_resp_err_t err;

        /* The end first: with --until end, records produced meanwhile
         * are left out, whatever the start. */
        err = resolve_end(rk, timeout, topic, p->partition, u, &p->end);
        if (!err)
            err = kta_kafka_resolve_start(rk, timeout, topic, p->partition, kind, value,
                                          &p->start);
        if (err) {
            kta_err(errstr, errstr_size, "backtest: cannot look up the offsets of %s [%d]: %s",
                    topic, (int)p->partition, rd_kafka_err2str(err));
            goto out;
        }
        if (p->start >= p->end) {
            p->done = 1;
            continue;
        }
        if (rd_kafka_consume_start_queue(rkt, p->partition, p->start, q) < 0) {
            kta_err(errstr, errstr_size, "backtest: cannot read %s [%d]: %s", topic,
                    (int)p->partition, rd_kafka_err2str(rd_kafka_last_error()));
            goto out;
        }
        p->started = 1;
        left++;
    }
    atomic_store(&kta_kafka_started, 1);
    while (left > 0) {
        rd_kafka_message_t *rkm = rd_kafka_consume_queue(q, POLL_MS);
        struct part *p;

        if (!rkm)
            continue;
        p = rkm->rkt ? find(parts, nparts, rkm->partition) : NULL;
        if (rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (p && !p->done) {
                p->done = 1;
                left--;
            }
        } else if (rkm->err) {
            kta_err(errstr, errstr_size, "backtest: %s [%d]: %s", topic, (int)rkm->partition,
                    rd_kafka_message_errstr(rkm));
            rd_kafka_message_destroy(rkm);
            goto out;
        } else if (p && !p->done) {
            if (rkm->offset >= p->end) {
                p->done = 1;
                left--;
            } else {
                rd_kafka_timestamp_type_t tt;
                int64_t ts = rd_kafka_message_timestamp(rkm, &tt);

                if (fn(opaque, topic, rkm->partition, rkm->offset,
                       tt == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts, rkm->payload,
                       rkm->len) < 0) {
                    rd_kafka_message_destroy(rkm);
                    rc = 0;
                    goto out;
                }
                if (rkm->offset + 1 >= p->end) {
                    p->done = 1;
                    left--;
                }
            }
        }
        rd_kafka_message_destroy(rkm);
    }
    rc = 0;
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].started)
            rd_kafka_consume_stop(rkt, parts[i].partition);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rk)
        rd_kafka_destroy(rk);
    free(parts);
    return rc;
}
