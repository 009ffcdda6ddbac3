/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline: wires `kta run` together — loads the rules, starts the
 * producer, the workers and the consumer, checks the brokers and topics,
 * runs the consumer loop on the calling thread, and on SIGINT/SIGTERM
 * shuts down in pipeline order so that nothing in flight is lost.
 * It also owns rule reloads: on SIGHUP, or when the rule files change, a
 * reloader thread loads and compiles the new ruleset off the hot path and
 * swaps it in; workers move to it between batches (idle ones at once).
 * A ruleset that fails to load is rejected and the old one keeps running.
 * After every load, and again once the replaced ruleset is gone, it trims
 * the heap: the compile frees far more than it keeps.
 */
#include "kta/pipeline.h"
#include "kta/cli.h"

#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
    if (!the_pipeline)
        return;
    if (sig == SIGHUP)
        atomic_store(&the_pipeline->reload, 1);
    else
        kta_pipeline_stop(the_pipeline, 0);
}

struct kta_ruleset *kta_pipeline_ruleset(struct kta_pipeline *pl, unsigned *version)
{
    struct kta_ruleset *rs;

    pthread_mutex_lock(&pl->rs_lock);
    rs = pl->rs;
    kta_ruleset_incref(rs);
    *version = atomic_load(&pl->rs_version);
    pthread_mutex_unlock(&pl->rs_lock);
    return rs;
}

/* ---- rule reloads ----------------------------------------------------- */

struct reloader {
    struct kta_pipeline *pl;
    pthread_t            thread;
    uint64_t             fingerprint;
    int64_t              trim_at;       /* trim the heap again then (0: no) */
};

/* A worker drops the old ruleset before its next batch, or within 100 ms
 * when idle, so it is freed (by the last of them) well within this time
 * after a reload; its pages then go back to the system at this trim. */
#define TRIM_DELAY_MS 2000

/* Loads and compiles the configured rules.  A ruleset with no enabled
 * rule is refused unless rules.allow_empty: kta would commit offsets
 * while detecting nothing.  Returns NULL with errstr set. */
struct kta_ruleset *kta_pipeline_load_rules(const struct kta_config *cfg,
                                            struct kta_rules_stats *rst,
                                            char *errstr, size_t errstr_size)
{
    struct kta_rules_opts ropts;
    struct kta_ruleset *rs;

    kta_cli_rules_opts(cfg, &ropts);
    rs = kta_rules_load_paths((const char *const *)cfg->rules_paths, cfg->nrules_paths, &ropts,
                              rst, errstr, errstr_size);
    if (!rs && rst->errors)
        /* each error was logged on its own line already */
        kta_err(errstr, errstr_size, "rules not loaded: %zu error%s", rst->errors,
                rst->errors == 1 ? "" : "s");
    if (rs && rst->enabled == 0 && !cfg->rules_allow_empty) {
        kta_err(errstr, errstr_size, "%s%s: no enabled rule (%zu rule%s loaded); kta would detect "
                "nothing (set rules.allow_empty: true to run anyway)", cfg->rules_paths[0],
                cfg->nrules_paths > 1 ? " (and the other rules paths)" : "", rst->rules,
                rst->rules == 1 ? "" : "s");
        kta_ruleset_decref(rs);
        rs = NULL;
    }
    return rs;
}

static void reload(struct reloader *rl, const char *why)
{
    struct kta_pipeline *pl = rl->pl;
    const struct kta_config *cfg = pl->cfg;
    struct kta_rules_stats rst = { 0 };
    struct kta_ruleset *rs, *old;
    char errstr[1024], oldver[16];

    /* Taken before loading: an edit during the load is seen next time. */
    rl->fingerprint = kta_rules_fingerprint((const char *const *)cfg->rules_paths,
                                            cfg->nrules_paths, cfg->fieldmap, cfg->placeholders);
    rs = kta_pipeline_load_rules(cfg, &rst, errstr, sizeof(errstr));
    kta_heap_trim();   /* the compile's garbage, kept or rejected */
    pthread_mutex_lock(&pl->rs_lock);
    snprintf(oldver, sizeof(oldver), "%s", kta_ruleset_version(pl->rs));
    pthread_mutex_unlock(&pl->rs_lock);
    if (!rs) {
        atomic_fetch_add(&pl->reload_failures, 1);
        kta_log(KTA_LOG_ERROR, "rules reload (%s) rejected, version %s keeps running: %s", why,
                oldver, errstr);
        return;
    }
    pthread_mutex_lock(&pl->rs_lock);
    old = pl->rs;
    pl->rs = rs;
    atomic_fetch_add(&pl->rs_version, 1);
    pthread_mutex_unlock(&pl->rs_lock);
    atomic_fetch_add(&pl->reloads, 1);
    kta_ruleset_decref(old);   /* workers still on it hold their own references */
    rl->trim_at = kta_now_ms() + TRIM_DELAY_MS;
    kta_log(KTA_LOG_INFO, "rules version %s active (%s; was %s): %zu rules (%zu enabled) from %s%s",
            kta_ruleset_version(rs), why, oldver, rst.rules, rst.enabled, cfg->rules_paths[0],
            cfg->nrules_paths > 1 ? " and more" : "");
}

static uint64_t worker_sum(const struct kta_pipeline *pl, size_t field)
{
    uint64_t n = 0;

    for (int i = 0; i < pl->nworkers; i++)
        n += atomic_load_explicit((atomic_uint_fast64_t *)((char *)&pl->workers[i].stats + field),
                                  memory_order_relaxed);
    return n;
}

/* One line of counters, for operators and benchmarks. */
static void log_stats(struct kta_pipeline *pl, uint64_t *last_events, int64_t *last_ms)
{
    uint64_t events = worker_sum(pl, offsetof(struct kta_stats, events));
    int64_t now = kta_now_ms();
    double secs = (double)(now - *last_ms) / 1000.0;
    char version[16];

    pthread_mutex_lock(&pl->rs_lock);
    snprintf(version, sizeof(version), "%s", kta_ruleset_version(pl->rs));
    pthread_mutex_unlock(&pl->rs_lock);

    kta_log(KTA_LOG_INFO, "stats: %llu events (%.0f/s), %llu hits, %llu malformed, %llu delivery "
            "retries, rules version %s", (unsigned long long)events,
            secs > 0 ? (double)(events - *last_events) / secs : 0.0,
            (unsigned long long)worker_sum(pl, offsetof(struct kta_stats, hits)),
            (unsigned long long)worker_sum(pl, offsetof(struct kta_stats, malformed)),
            (unsigned long long)atomic_load(&pl->stats.retries), version);
    *last_events = events;
    *last_ms = now;
}

/* The housekeeping thread: rule reloads and the periodic stats line. */
static void *reloader_main(void *arg)
{
    struct reloader *rl = arg;
    struct kta_pipeline *pl = rl->pl;
    int interval = pl->cfg->watch_interval_ms;
    int64_t next_check = kta_now_ms() + interval;
    int64_t last_stats = kta_now_ms();
    uint64_t last_events = 0;

    pthread_setname_np(pthread_self(), "kta-reload");

    while (!atomic_load(&pl->stop)) {
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        if (pl->cfg->stats_interval_ms > 0 && kta_now_ms() - last_stats >= pl->cfg->stats_interval_ms)
            log_stats(pl, &last_events, &last_stats);
        if (atomic_exchange(&pl->reload, 0)) {
            reload(rl, "SIGHUP");
        } else if (interval > 0 && kta_now_ms() >= next_check) {
            if (kta_rules_fingerprint((const char *const *)pl->cfg->rules_paths,
                                      pl->cfg->nrules_paths, pl->cfg->fieldmap,
                                      pl->cfg->placeholders) != rl->fingerprint)
                reload(rl, "rule files changed");
            next_check = kta_now_ms() + interval;
        }
        if (rl->trim_at && kta_now_ms() >= rl->trim_at) {
            kta_heap_trim();
            rl->trim_at = 0;
        }
    }
    return NULL;
}

/* Rules whose regexes hit PCRE2's limits did not match those events; an
 * operator needs to know which rules are that expensive. */
static void log_rule_errors(const struct kta_ruleset *rs)
{
    for (size_t i = 0; rs && i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        uint64_t n = kta_rule_errors(r);
        if (n)
            kta_log(KTA_LOG_WARN, "rule %s: %llu event%s hit the regex match limit and were "
                    "not matched by this rule", kta_rule_id(r), (unsigned long long)n,
                    n == 1 ? "" : "s");
    }
}

static int ncpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int kta_pipeline_run(const struct kta_config *cfg)
{
    struct kta_pipeline pl;
    struct reloader rl;
    struct kta_rules_stats rst = { 0 };
    struct sigaction sa;
    char errstr[1024];
    int rc = 1, started = 0, reloading = 0;

    memset(&pl, 0, sizeof(pl));
    memset(&rl, 0, sizeof(rl));
    pl.cfg = cfg;
    pthread_mutex_init(&pl.rs_lock, NULL);
    atomic_init(&pl.rs_version, 1);
    rl.pl = &pl;
    rl.fingerprint = kta_rules_fingerprint((const char *const *)cfg->rules_paths,
                                           cfg->nrules_paths, cfg->fieldmap, cfg->placeholders);
    pl.rs = kta_pipeline_load_rules(cfg, &rst, errstr, sizeof(errstr));
    if (!pl.rs) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        pthread_mutex_destroy(&pl.rs_lock);
        return KTA_EXIT_USAGE;   /* configuration, not a runtime failure */
    }
    /* The compile's garbage goes back now, before the threads that
     * could not reuse it (each has its own malloc arena) start. */
    kta_heap_trim();

    the_pipeline = &pl;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* librdkafka refusing its settings is a configuration error (2); the
     * brokers or topics failing the checks a runtime one (1). */
    if (!kta_producer_new(&pl, errstr, sizeof(errstr)) ||
        !kta_consumer_new(&pl, errstr, sizeof(errstr))) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        rc = KTA_EXIT_USAGE;
        goto out;
    }
    if (kta_consumer_check(pl.consumer, errstr, sizeof(errstr)) < 0 ||
        kta_producer_start(pl.producer, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        goto out;
    }
    atomic_store(&kta_kafka_started, 1);
    kta_log(KTA_LOG_INFO, "rules version %s active: %zu rules (%zu enabled) from %s%s",
            kta_ruleset_version(pl.rs), rst.rules, rst.enabled, cfg->rules_paths[0],
            cfg->nrules_paths > 1 ? " and more" : "");

    pl.nworkers = cfg->workers > 0 ? cfg->workers : ncpus();
    /* struct kta_worker is cache-line aligned; calloc does not promise that. */
    if (posix_memalign((void **)&pl.workers, 64, (size_t)pl.nworkers * sizeof(*pl.workers)) != 0)
        abort();
    memset(pl.workers, 0, (size_t)pl.nworkers * sizeof(*pl.workers));
    for (int i = 0; i < pl.nworkers; i++) {
        if (kta_worker_start(&pl.workers[i], &pl, i) < 0) {
            kta_log(KTA_LOG_ERROR, "cannot start worker thread %d", i);
            pl.nworkers = i;
            kta_pipeline_stop(&pl, 1);
            break;
        }
    }
    started = 1;
    if (pthread_create(&rl.thread, NULL, reloader_main, &rl) == 0)
        reloading = 1;
    if (!atomic_load(&pl.stop)) {
        kta_log(KTA_LOG_INFO, "consuming %s%s from %s as group '%s' with %d worker%s, %s; hits to "
                "'%s', malformed records to '%s'", cfg->topics[0], cfg->ntopics > 1 ? " (and more)" : "",
                kta_config_kafka(cfg, "bootstrap.servers"), kta_config_kafka(cfg, "group.id"),
                pl.nworkers, pl.nworkers == 1 ? "" : "s",
                cfg->exactly_once ? "exactly once" : "at least once", cfg->output_topic, cfg->dlq_topic);
        rc = kta_consumer_run(pl.consumer);
    }
    if (atomic_load(&pl.fatal))
        rc = 1;

out:
    kta_pipeline_stop(&pl, 0);
    if (reloading)
        pthread_join(rl.thread, NULL);
    atomic_store(&pl.workers_stop, 1);
    for (int i = 0; i < pl.nworkers; i++) {
        kta_worker_join(&pl.workers[i]);
        atomic_fetch_add(&pl.stats.events, atomic_load(&pl.workers[i].stats.events));
        atomic_fetch_add(&pl.stats.hits, atomic_load(&pl.workers[i].stats.hits));
        atomic_fetch_add(&pl.stats.malformed, atomic_load(&pl.workers[i].stats.malformed));
    }
    free(pl.workers);
    if (pl.producer && kta_producer_flush(pl.producer, 1000) > 0)
        rc = 1;
    fflush(stdout);
    if (started)
        kta_log(KTA_LOG_INFO, "processed %llu events: %llu hits, %llu malformed, %llu "
                "delivery retries; rules version %s", (unsigned long long)atomic_load(&pl.stats.events),
                (unsigned long long)atomic_load(&pl.stats.hits),
                (unsigned long long)atomic_load(&pl.stats.malformed),
                (unsigned long long)atomic_load(&pl.stats.retries), kta_ruleset_version(pl.rs));
    if (started)
        log_rule_errors(pl.rs);
    /* The producer goes first: its delivery reports may still point into
     * the consumer's offset trackers. */
    kta_producer_free(pl.producer);
    kta_consumer_free(pl.consumer);
    kta_ruleset_decref(pl.rs);
    pthread_mutex_destroy(&pl.rs_lock);
    the_pipeline = NULL;
    return rc;
}
