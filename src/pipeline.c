/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline: wires `kta run` together — loads the rules, starts the
 * producer, the workers and the consumer, checks the brokers and topics,
 * runs the consumer loop on the calling thread, and on SIGINT/SIGTERM
 * shuts down in pipeline order so that nothing in flight is lost.
 * It holds no logic of its own beyond that order.
 */
#include "kta/pipeline.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct kta_pipeline *the_pipeline;

void kta_pipeline_stop(struct kta_pipeline *pl, int fatal)
{
    if (fatal)
        atomic_store(&pl->fatal, 1);
    atomic_store(&pl->stop, 1);
}

static void on_signal(int sig)
{
    (void)sig;
    if (the_pipeline)
        kta_pipeline_stop(the_pipeline, 0);
}

static void rules_diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    (void)opaque;
    kta_log(kind == KTA_DIAG_ERROR ? KTA_LOG_ERROR : KTA_LOG_WARN, "%s", msg);
}

static int ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int kta_pipeline_run(const struct kta_config *cfg)
{
    struct kta_pipeline pl;
    struct kta_rules_opts ropts = { 0 };
    struct kta_rules_stats rst = { 0 };
    struct sigaction sa;
    char errstr[1024];
    int rc = 1, started = 0;

    memset(&pl, 0, sizeof(pl));
    pl.cfg = cfg;
    ropts.fieldmap = cfg->fieldmap;
    ropts.skip_invalid = cfg->rules_skip_invalid;
    ropts.diag = rules_diag;
    pl.rs = kta_rules_load(cfg->rules_path, &ropts, &rst, errstr, sizeof(errstr));
    if (!pl.rs) {
        fprintf(stderr, "kta: %s\n", errstr);
        return 1;
    }

    the_pipeline = &pl;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!kta_producer_new(&pl, errstr, sizeof(errstr)) ||
        !kta_consumer_new(&pl, errstr, sizeof(errstr)) ||
        kta_consumer_check(pl.consumer, errstr, sizeof(errstr)) < 0) {
        fprintf(stderr, "kta: %s\n", errstr);
        goto out;
    }
    atomic_store(&kta_kafka_started, 1);
    kta_log(KTA_LOG_INFO, "loaded %zu rules (%zu enabled) from %s", rst.rules, rst.enabled,
            cfg->rules_path);

    pl.nworkers = cfg->workers > 0 ? cfg->workers : ncpus();
    pl.workers = xcalloc((size_t)pl.nworkers, sizeof(*pl.workers));
    for (int i = 0; i < pl.nworkers; i++) {
        if (kta_worker_start(&pl.workers[i], &pl, i) < 0) {
            fprintf(stderr, "kta: cannot start worker thread %d\n", i);
            pl.nworkers = i;
            kta_pipeline_stop(&pl, 1);
            break;
        }
    }
    started = 1;
    if (!atomic_load(&pl.stop)) {
        kta_log(KTA_LOG_INFO, "consuming %s%s from %s as group '%s' with %d worker%s; hits to "
                "'%s', malformed records to '%s'", cfg->topics[0], cfg->ntopics > 1 ? " (and more)" : "",
                kta_config_kafka(cfg, "bootstrap.servers"), kta_config_kafka(cfg, "group.id"),
                pl.nworkers, pl.nworkers == 1 ? "" : "s", cfg->output_topic, cfg->dlq_topic);
        rc = kta_consumer_run(pl.consumer);
    }
    if (atomic_load(&pl.fatal))
        rc = 1;

out:
    atomic_store(&pl.workers_stop, 1);
    for (int i = 0; i < pl.nworkers; i++)
        kta_worker_join(&pl.workers[i]);
    free(pl.workers);
    if (pl.producer && kta_producer_flush(pl.producer, 1000) > 0)
        rc = 1;
    fflush(stdout);
    if (started)
        kta_log(KTA_LOG_INFO, "processed %llu events: %llu hits, %llu malformed, %llu "
                "delivery retries", (unsigned long long)atomic_load(&pl.stats.events),
                (unsigned long long)atomic_load(&pl.stats.hits),
                (unsigned long long)atomic_load(&pl.stats.malformed),
                (unsigned long long)atomic_load(&pl.stats.retries));
    /* The producer goes first: its delivery reports may still point into
     * the consumer's offset trackers. */
    kta_producer_free(pl.producer);
    kta_consumer_free(pl.consumer);
    kta_ruleset_decref(pl.rs);
    the_pipeline = NULL;
    return rc;
}
