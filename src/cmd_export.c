/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_export: `kta export` — a hit topic (matched_hits) -> a sink
 * (export_sqlite.c, or export.c's JSON-lines / CSV files).  One thread:
 * a librdkafka consumer in a group of its own (default kta-export),
 * auto-commit and offset store off, read in batches.
 *
 * This file owns what `kta export` commits (kta run's commit.c owns kta
 * run's; the two share nothing but kafka.c).  Per batch:
 *
 *   READING -> READING     [take]  a record: parsed (export.c) and added
 *                          to the sink, or reported and counted when it
 *                          is not a hit; either way its partition's
 *                          `next` moves past it (dirty)
 *   READING -> FLUSHING    [flush, from the loop (BATCH_RECORDS records,
 *                          BATCH_MS since the batch began, or nothing
 *                          more to read), the revoke callback, the stop]
 *   FLUSHING -> READING    [flush]  kta_sink_commit returned 0 (the rows are
 *                          durable), then rd_kafka_commit (synchronous) of
 *                          every dirty partition's `next`; a refused commit
 *                          stays dirty and goes with the next flush
 *   FLUSHING -> FAILED     [flush]  the sink failed: nothing is committed,
 *                          the export stops (exit 1); its records are read
 *                          again by the next run
 *
 * So an offset is never committed before the rows of the records below
 * it are stored: after a crash the records since the last commit are
 * read again, and SQLite's unique keys drop the rows it already has.
 * SIGINT and SIGTERM end the batch, flush and exit 0; -e stops once every
 * assigned partition was read to its end.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/export.h"
#include "kta/kafka.h"
#include "kta/util.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* A batch ends after this many records or this long after its first. */
#define BATCH_RECORDS 1000
#define BATCH_MS 500
#define POLL_MS 100

struct part {
    char   *topic;
    int32_t partition;
    int64_t next;      /* offset after the last record taken, -1: none yet */
    int     dirty;     /* next not committed yet */
    int     at_end;    /* the last thing read was its end */
};

struct export {
    const struct kta_config *cfg;
    rd_kafka_t      *rk;
    struct kta_sink *sink;
    struct part     *parts;
    size_t           nparts;
    size_t           batch;         /* records taken since the last flush */
    int              failed;        /* the sink failed: commit nothing more */
    int              commit_failed; /* the last offset commit was refused */
    uint64_t         records, added, present, not_hits, commits;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static struct part *find_part(struct export *x, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < x->nparts; i++)
        if (x->parts[i].partition == partition && strcmp(x->parts[i].topic, topic) == 0)
            return &x->parts[i];
    return NULL;
}

static void drop_parts(struct export *x)
{
    for (size_t i = 0; i < x->nparts; i++)
        free(x->parts[i].topic);
    free(x->parts);
    x->parts = NULL;
    x->nparts = 0;
}

/* Commits every dirty partition's next offset, synchronously.  Only after
 * the sink committed their rows; never once the sink failed (FAILED is
 * final, whatever path leads here). */
static void commit_offsets(struct export *x)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;

    if (x->failed)
        return;
    list = rd_kafka_topic_partition_list_new((int)x->nparts + 1);

    for (size_t i = 0; i < x->nparts; i++)
        if (x->parts[i].dirty)
            rd_kafka_topic_partition_list_add(list, x->parts[i].topic,
                                              x->parts[i].partition)->offset = x->parts[i].next;
    if (list->cnt == 0)
        goto out;
    err = rd_kafka_commit(x->rk, list, 0);
    x->commits++;
    for (int i = 0; i < list->cnt; i++) {
        struct part *p = find_part(x, list->elems[i].topic, list->elems[i].partition);
        rd_kafka_resp_err_t perr = err ? err : list->elems[i].err;

        if (!perr && p && p->next == list->elems[i].offset)
            p->dirty = 0;
        else if (perr && !x->commit_failed)
            kta_log(KTA_LOG_WARN, "export: offset commit of %s [%d] refused: %s (the rows are "
                    "stored; retried with the next batch)", list->elems[i].topic,
                    (int)list->elems[i].partition, rd_kafka_err2str(perr));
        x->commit_failed = perr != 0;
    }
out:
    rd_kafka_topic_partition_list_destroy(list);
}

/* The end of a batch (see the states above).  Returns 0, or -1 when the
 * sink failed (logged; nothing committed). */
static int flush(struct export *x)
{
    char errstr[1024];

    if (x->failed)
        return -1;
    if (kta_sink_commit(x->sink, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "export: %s", errstr);
        kta_log(KTA_LOG_ERROR, "export: stopping; no offset committed past the last stored "
                "batch (%zu records of this one are read again next time)", x->batch);
        x->failed = 1;
        return -1;
    }
    x->batch = 0;
    commit_offsets(x);
    return 0;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct export *x = opaque;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        drop_parts(x);
        x->parts = xcalloc((size_t)partitions->cnt + 1, sizeof(*x->parts));
        for (int i = 0; i < partitions->cnt; i++) {
            struct part *p = &x->parts[x->nparts++];
            p->topic = xstrdup(partitions->elems[i].topic);
            p->partition = partitions->elems[i].partition;
            p->next = -1;
        }
        kta_log(KTA_LOG_INFO, "export: assigned %d partition%s", partitions->cnt,
                partitions->cnt == 1 ? "" : "s");
        rd_kafka_assign(rk, partitions);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
        kta_log(KTA_LOG_ERROR, "export: rebalance failed: %s", rd_kafka_err2str(err));
    /* What was taken is stored and committed before the partitions go;
     * after a failed sink nothing is. */
    flush(x);
    drop_parts(x);
    rd_kafka_assign(rk, NULL);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    char fatal[512];

    (void)opaque;
    kta_kafka_note_error(err, reason);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        kta_log(KTA_LOG_ERROR, "export: fatal error: %s", fatal);
        stop_requested = 1;
    }
}

/* One record of the hit topic. */
static int take(struct export *x, const rd_kafka_message_t *rkm)
{
    const char *topic = rd_kafka_topic_name(rkm->rkt);
    struct part *p = find_part(x, topic, rkm->partition);
    struct kta_export_row row;
    char why[512], errstr[1024];
    int added = 0;

    if (!p)
        return 0;   /* not ours any more: its new owner reads it */
    x->records++;
    x->batch++;
    p->at_end = 0;
    if (kta_export_row_parse(&row, rkm->payload, rkm->len, rkm->key, rkm->key_len, why,
                             sizeof(why)) < 0) {
        kta_log(KTA_LOG_WARN, "export: %s [%d] offset %lld: %s; skipped", topic,
                (int)rkm->partition, (long long)rkm->offset, why);
        x->not_hits++;
    } else {
        row.hit_topic = topic;
        row.hit_partition = rkm->partition;
        row.hit_offset = rkm->offset;
        if (kta_sink_add(x->sink, &row, &added, errstr, sizeof(errstr)) < 0) {
            kta_log(KTA_LOG_ERROR, "export: %s", errstr);
            kta_log(KTA_LOG_ERROR, "export: stopping; no offset committed past the last "
                    "stored batch");
            x->failed = 1;
            kta_export_row_clear(&row);
            return -1;
        }
        if (added)
            x->added++;
        else
            x->present++;
        kta_export_row_clear(&row);
    }
    p->next = rkm->offset + 1;
    p->dirty = 1;
    return 0;
}

static int all_at_end(const struct export *x)
{
    if (!x->nparts)
        return 0;
    for (size_t i = 0; i < x->nparts; i++)
        if (!x->parts[i].at_end)
            return 0;
    return 1;
}

static int check_topics(struct export *x, char *errstr, size_t errstr_size)
{
    const rd_kafka_metadata_t *md = NULL;
    int rc = kta_kafka_metadata_wait(x->rk, x->cfg, &md, errstr, errstr_size);

    for (size_t i = 0; !rc && i < x->cfg->ntopics; i++)
        rc = kta_kafka_topic_unusable(x->rk, md, "hit topic", x->cfg->topics[i], "-t", errstr,
                                      errstr_size);
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

static rd_kafka_t *consumer_new(struct export *x, const char *reset, char *errstr,
                                size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    char rderr[512];

    if (kta_kafka_conf_apply(conf, x->cfg, 0, errstr, errstr_size) < 0)
        goto fail;
    /* Offsets are committed here, by flush, and only there. */
    if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", reset, rderr, sizeof(rderr)) ||
        rd_kafka_conf_set(conf, "client.id", "kta-export", rderr, sizeof(rderr))) {
        kta_err(errstr, errstr_size, "consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, x);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, rderr, sizeof(rderr));
    if (!rk) {
        kta_err(errstr, errstr_size, "consumer: %s", rderr);
        goto fail;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* The read loop: batches until a stop, -e's end or a failed sink. */
static void run(struct export *x, int exit_at_end)
{
    int64_t batch_start = 0;

    while (!stop_requested && !x->failed) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(x->rk, x->batch ? 0 : POLL_MS);
        int idle = !rkm;

        if (rkm && rkm->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            struct part *p = find_part(x, rd_kafka_topic_name(rkm->rkt), rkm->partition);
            if (p)
                p->at_end = 1;
            idle = 1;
        } else if (rkm && rkm->err) {
            kta_log(KTA_LOG_WARN, "export: %s%s%s", rkm->rkt ? rd_kafka_topic_name(rkm->rkt) : "",
                    rkm->rkt ? ": " : "", rd_kafka_message_errstr(rkm));
            if (rkm->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                rkm->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED) {
                kta_log(KTA_LOG_ERROR, "export: hit topic unusable; stopping");
                x->failed = 1;
            }
        } else if (rkm) {
            if (!x->batch)
                batch_start = kta_now_ms();
            take(x, rkm);
        }
        if (rkm)
            rd_kafka_message_destroy(rkm);
        if (x->batch && (idle || x->batch >= BATCH_RECORDS || kta_now_ms() - batch_start >= BATCH_MS))
            flush(x);
        else if (idle && !x->batch && !x->failed)
            flush(x);   /* retries a refused commit; rotates files that are due */
        if (exit_at_end && idle && !x->batch && all_at_end(x)) {
            kta_log(KTA_LOG_INFO, "export: every assigned partition is at its end");
            break;
        }
    }
    if (!x->failed)
        flush(x);
}

int kta_cmd_export(int argc, char **argv)
{
    struct kta_cli cli;
    struct export x = { 0 };
    const char *start, *reset = "earliest";
    char errstr[1024];
    struct sigaction sa;
    int rc, nsinks;
    long long rotate_bytes = 0, rotate_seconds = 0;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    x.cfg = cli.cfg;
    nsinks = !!cli.given[KTA_O_SQLITE] + !!cli.given[KTA_O_JSONL] + !!cli.given[KTA_O_CSV];
    if (nsinks == 0) {
        rc = kta_cli_usage(cli.cmd, "no sink: give one of --sqlite FILE, --jsonl DIR, --csv DIR");
        goto out;
    }
    if (nsinks > 1 || cli.given[KTA_O_SQLITE] > 1 || cli.given[KTA_O_JSONL] > 1 ||
        cli.given[KTA_O_CSV] > 1) {
        rc = kta_cli_usage(cli.cmd, "one sink at a time: --sqlite, --jsonl and --csv exclude "
                           "each other (and each is given once)");
        goto out;
    }
    if ((cli.given[KTA_O_ROTATE_BYTES] &&
         kta_parse_int(cli.val[KTA_O_ROTATE_BYTES], 1, INT64_MAX, &rotate_bytes) < 0) ||
        (cli.given[KTA_O_ROTATE_SECONDS] &&
         kta_parse_int(cli.val[KTA_O_ROTATE_SECONDS], 1, 100LL * 365 * 86400, &rotate_seconds) < 0)) {
        rc = kta_cli_usage(cli.cmd, "--rotate-bytes and --rotate-seconds take a positive "
                           "whole number");
        goto out;
    }
    if (cli.given[KTA_O_SQLITE] && (rotate_bytes || rotate_seconds)) {
        rc = kta_cli_usage(cli.cmd, "--rotate-bytes and --rotate-seconds are for --jsonl and "
                           "--csv files, not --sqlite");
        goto out;
    }
    /* -o only from the command line: a kta.yaml's input.start_offset is
     * kta run's. */
    start = cli.given[KTA_O_OFFSET] ? cli.val[KTA_O_OFFSET] : "stored";
    if (strcmp(start, "end") == 0)
        reset = "latest";
    else if (strcmp(start, "beginning") != 0 && strcmp(start, "stored") != 0) {
        rc = kta_cli_usage(cli.cmd, "-o %s: kta export takes beginning, end or stored", start);
        goto out;
    }
    /* Defaults of its own: the topic kta run writes, a group of its own
     * (never kta run's, whatever a kta.yaml says). */
    if (!cli.given[KTA_O_TOPIC]) {
        char *topic = xstrdup(cli.cfg->output_topic);
        if (kta_config_set(cli.cfg, "input.topics", topic, "default", errstr, sizeof(errstr)) < 0)
            abort();   /* output.topic was checked as a topic name */
        free(topic);
    }
    {
        int from_user = cli.given[KTA_O_GROUP];
        for (size_t i = 0; i < cli.cfg->nkafka; i++)
            if (strcmp(cli.cfg->kafka[i].key, "group.id") == 0 &&
                strcmp(cli.cfg->kafka[i].origin, "-X") == 0)
                from_user = 1;
        if (!from_user)
            kta_config_set_kafka(cli.cfg, "group.id", "kta-export", "default");
    }
    if (kta_cmd_check_kafka(cli.cfg) > 0) {
        rc = KTA_EXIT_USAGE;
        goto out;
    }

    /* The sink first: a database that cannot be written stops the export
     * before anything is read. */
    if (cli.given[KTA_O_SQLITE])
        x.sink = kta_sink_sqlite_open(cli.val[KTA_O_SQLITE], errstr, sizeof(errstr));
    else
        x.sink = kta_sink_files_open(cli.given[KTA_O_CSV] ? cli.val[KTA_O_CSV] :
                                     cli.val[KTA_O_JSONL],
                                     cli.given[KTA_O_CSV] ? KTA_SINK_CSV : KTA_SINK_JSONL,
                                     rotate_bytes, rotate_seconds, errstr, sizeof(errstr));
    if (!x.sink) {
        kta_log(KTA_LOG_ERROR, "export: %s", errstr);
        rc = KTA_EXIT_FAILURE;
        goto out;
    }
    x.rk = consumer_new(&x, reset, errstr, sizeof(errstr));
    if (!x.rk) {
        kta_log(KTA_LOG_ERROR, "export: %s", errstr);
        rc = KTA_EXIT_USAGE;
        goto out;
    }
    if (check_topics(&x, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "export: %s", errstr);
        rc = KTA_EXIT_FAILURE;
        goto out;
    }
    atomic_store(&kta_kafka_started, 1);
    {
        rd_kafka_topic_partition_list_t *topics =
            rd_kafka_topic_partition_list_new((int)cli.cfg->ntopics);
        rd_kafka_resp_err_t err;

        for (size_t i = 0; i < cli.cfg->ntopics; i++)
            rd_kafka_topic_partition_list_add(topics, cli.cfg->topics[i], RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(x.rk, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
            kta_log(KTA_LOG_ERROR, "export: cannot subscribe: %s", rd_kafka_err2str(err));
            rc = KTA_EXIT_FAILURE;
            goto out;
        }
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    kta_log(KTA_LOG_INFO, "export: %s -> %s (group %s)", cli.cfg->topics[0],
            kta_sink_name(x.sink), kta_config_kafka(cli.cfg, "group.id"));

    run(&x, cli.given[KTA_O_EXIT_AT_END] > 0);
    /* The revoke flushes nothing new.  Bounded: with no coordinator
     * librdkafka's close would wait for ever. */
    if (kta_kafka_close_bounded(x.rk, cli.cfg->shutdown_timeout_ms, rebalance_cb, &x) < 0) {
        kta_log(KTA_LOG_WARN, "export: could not leave the group within shutdown_timeout_ms "
                "(%d ms; no coordinator); exiting without it", cli.cfg->shutdown_timeout_ms);
        x.rk = NULL;   /* left to the process exit: destroying it would wait as long */
    }
    rc = x.failed ? KTA_EXIT_FAILURE : KTA_EXIT_OK;
    if (!x.failed && x.commit_failed) {
        kta_log(KTA_LOG_ERROR, "export: the last offset commit was refused: those records "
                "are read again next time");
        rc = KTA_EXIT_FAILURE;
    }
    kta_log(rc ? KTA_LOG_ERROR : KTA_LOG_INFO, "export: %llu records, %llu rows written, "
            "%llu already stored, %llu not hits (skipped) -> %s",
            (unsigned long long)x.records, (unsigned long long)x.added,
            (unsigned long long)x.present, (unsigned long long)x.not_hits,
            kta_sink_name(x.sink));
out:
    if (x.rk)
        rd_kafka_destroy(x.rk);
    if (kta_sink_close(x.sink, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "export: %s", errstr);
        rc = KTA_EXIT_FAILURE;
    }
    drop_parts(&x);
    kta_cli_free(&cli);
    return rc;
}
