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
 * It is also the source of the metrics (metrics.c serves them): it adds
 * up the workers' counters for each scrape, says whether kta is ready,
 * and logs the periodic stats line.
 */
#include "kta/pipeline.h"
#include "kta/cli.h"

#include <inttypes.h>
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
    int_fast64_t none = 0;

    if (fatal)
        atomic_store(&pl->fatal, 1);
    /* clock_gettime and a lock-free compare-exchange: signal-safe. */
    atomic_compare_exchange_strong(&pl->stop_ms, &none, (int_fast64_t)kta_now_ms());
    atomic_store(&pl->stop, 1);
}

int kta_pipeline_giving_up(struct kta_pipeline *pl)
{
    int_fast64_t since;

    if (atomic_load_explicit(&pl->fatal, memory_order_relaxed))
        return 1;
    if (!atomic_load_explicit(&pl->stop, memory_order_acquire))
        return 0;
    since = atomic_load_explicit(&pl->stop_ms, memory_order_relaxed);
    return kta_now_ms() - since >= pl->cfg->shutdown_timeout_ms;
}

int kta_pipeline_time_left(struct kta_pipeline *pl)
{
    int_fast64_t since;
    int64_t left;

    if (!atomic_load_explicit(&pl->stop, memory_order_acquire))
        return pl->cfg->shutdown_timeout_ms;
    since = atomic_load_explicit(&pl->stop_ms, memory_order_relaxed);
    left = since + pl->cfg->shutdown_timeout_ms - kta_now_ms();
    return left > 0 ? (int)left : 0;
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
    /* A new output_topic must exist before a hit is routed to it. */
    if (rs && (kta_corr_run_check_reload(pl, rs, errstr, sizeof(errstr)) < 0 ||
               kta_consumer_check_rule_topics(pl->consumer, rs, pl->producer, errstr,
                                              sizeof(errstr)) < 0 ||
               kta_worker_routes(pl, rs, errstr, sizeof(errstr)) < 0)) {
        kta_ruleset_decref(rs);
        rs = NULL;
    }
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
    kta_ruleset_decref(old);   /* workers still on it hold their own references */
    atomic_store(&pl->rules_loaded, rst.rules);
    atomic_store(&pl->rules_enabled, rst.enabled);
    atomic_fetch_add(&pl->reloads, 1);
    rl->trim_at = kta_now_ms() + TRIM_DELAY_MS;
    kta_log(KTA_LOG_INFO, "rules version %s active (%s; was %s): %zu rules (%zu enabled) from %s%s",
            kta_ruleset_version(rs), why, oldver, rst.rules, rst.enabled, cfg->rules_paths[0],
            cfg->nrules_paths > 1 ? " and more" : "");
}

static uint64_t worker_sum(const struct kta_pipeline *pl, size_t field)
{
    uint64_t n = 0;

    for (int i = 0; i < pl->nworkers; i++) {
        const char *ws = (const char *)kta_worker_stats(pl->workers[i]);
        n += atomic_load_explicit((const atomic_uint_fast64_t *)(ws + field), memory_order_relaxed);
    }
    return n;
}

/* A rate as text that never rounds a few events to 0: three significant
 * digits below 100/s ("0.37", "12.4"), whole numbers above. */
static void rate_text(double v, char *out, size_t out_size)
{
    if (v == 0)
        snprintf(out, out_size, "0");
    else if (v >= 100)
        snprintf(out, out_size, "%.0f", v);
    else
        snprintf(out, out_size, "%.3g", v);
}

struct stats_mark {
    uint64_t events, hits;
    int64_t  ms;
};

/* One line of counters, for operators and benchmarks. */
static void log_stats(struct kta_pipeline *pl, struct stats_mark *last)
{
    uint64_t events = worker_sum(pl, offsetof(struct kta_stats, events));
    uint64_t hits = worker_sum(pl, offsetof(struct kta_stats, hits));
    int64_t now = kta_now_ms(), lag_total, lag_max;
    double secs = (double)(now - last->ms) / 1000.0;
    char erate[32], hrate[32], where[300], lag[400], version[16];

    pthread_mutex_lock(&pl->rs_lock);
    snprintf(version, sizeof(version), "%s", kta_ruleset_version(pl->rs));
    pthread_mutex_unlock(&pl->rs_lock);
    rate_text(secs > 0 ? (double)(events - last->events) / secs : 0.0, erate, sizeof(erate));
    rate_text(secs > 0 ? (double)(hits - last->hits) / secs : 0.0, hrate, sizeof(hrate));
    if (kta_metrics_lag_summary(pl->metrics, &lag_total, &lag_max, where, sizeof(where)) > 0)
        snprintf(lag, sizeof(lag), "lag %" PRId64 " (max %" PRId64 " on %s)", lag_total, lag_max,
                 where);
    else
        snprintf(lag, sizeof(lag), "lag unknown (no partition assigned)");
    kta_log(KTA_LOG_INFO, "stats: %llu events (%s/s), %llu hits (%s/s), %llu malformed, %llu "
            "delivery retries, %s, rules version %s", (unsigned long long)events, erate,
            (unsigned long long)hits, hrate,
            (unsigned long long)worker_sum(pl, offsetof(struct kta_stats, malformed)),
            (unsigned long long)atomic_load(&pl->stats.retries), lag, version);
    last->events = events;
    last->hits = hits;
    last->ms = now;
}

/* ---- metrics ------------------------------------------------------------ */

/* Workers whose counters a scrape may read: 0 until they are started. */
static atomic_int workers_up;

static void family_value(struct kta_buf *out, const char *name, const char *type,
                         const char *help, double v)
{
    kta_metrics_family(out, name, type, help);
    kta_metrics_sample(out, name, v, NULL);
}

static const char *ready(void *opaque);

/* Thread: the metrics server's. */
static void collect(void *opaque, struct kta_buf *out)
{
    struct kta_pipeline *pl = opaque;
    int n = atomic_load(&workers_up);
    char num[32];
    double bounds[KTA_LATENCY_BUCKETS];
    uint64_t lat[KTA_LATENCY_BUCKETS + 1] = { 0 };
    uint64_t sum_us = 0;

    kta_metrics_family(out, "kta_build_info", "gauge", "kta's version (value 1).");
    kta_metrics_sample(out, "kta_build_info", 1, "version", KTA_VERSION, NULL);
    kta_metrics_family(out, "kta_ruleset_info", "gauge",
                       "The version of the ruleset in use (value 1).");
    pthread_mutex_lock(&pl->rs_lock);
    kta_metrics_sample(out, "kta_ruleset_info", 1, "version", kta_ruleset_version(pl->rs),
                       "digest", kta_ruleset_digest(pl->rs), NULL);
    pthread_mutex_unlock(&pl->rs_lock);
    family_value(out, "kta_ready", "gauge", "1 when /readyz answers 200: partitions assigned, "
                 "rules loaded, producer connected.", ready(pl) ? 0 : 1);
    family_value(out, "kta_records_consumed_total", "counter",
                 "Input records taken from Kafka and handed to a worker (a record read again "
                 "after a rebalance or an aborted transaction counts again; correlation inputs "
                 "are not counted here).",
                 (double)atomic_load_explicit(&pl->stats.consumed, memory_order_relaxed));
    family_value(out, "kta_records_processed_total", "counter",
                 "Input records the workers finished evaluating (hits and dead letters handed to "
                 "the producer; correlation inputs are kta_correlation_inputs_total).", n ? (double)worker_sum(pl, offsetof(struct kta_stats, processed)) : 0);
    kta_metrics_family(out, "kta_dead_letters_total", "counter",
                       "Malformed records sent to the dead-letter topic, by reason.");
    for (int r = 1; r < KTA_DL_REASONS; r++)
        kta_metrics_sample(out, "kta_dead_letters_total",
                           n ? (double)worker_sum(pl, offsetof(struct kta_stats, dead_letters) +
                                                      (size_t)r * sizeof(atomic_uint_fast64_t)) : 0,
                           "reason", kta_event_error_name((enum kta_event_error)r), NULL);
    family_value(out, "kta_delivery_retries_total", "counter",
                 "Hits and dead letters produced again after a delivery failed for a reason that "
                 "can pass (in exactly-once mode: transactions aborted for one).",
                 (double)atomic_load_explicit(&pl->stats.retries, memory_order_relaxed));
    family_value(out, "kta_delivery_failures_total", "counter",
                 "Deliveries that failed for good (topic missing, not authorised, record too "
                 "large); each stops kta without committing.",
                 (double)atomic_load_explicit(&pl->stats.failures, memory_order_relaxed));
    family_value(out, "kta_assigned_partitions", "gauge",
                 "Input partitions assigned to this instance.", atomic_load(&pl->assigned));
    kta_metrics_family(out, "kta_ring_items", "gauge",
                       "Records queued in each worker's ring, waiting for the worker.");
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%d", i);
        kta_metrics_sample(out, "kta_ring_items", (double)kta_ring_len(kta_worker_ring(pl->workers[i])),
                           "worker", num, NULL);
    }
    family_value(out, "kta_ring_capacity", "gauge", "Records each worker's ring holds.",
                 n ? (double)kta_ring_capacity(kta_worker_ring(pl->workers[0])) : 0);
    kta_metrics_family(out, "kta_worker_busy_seconds_total", "counter",
                       "Time each worker spent on records (rate() of it is the worker's "
                       "utilisation).");
    for (int i = 0; i < n; i++) {
        snprintf(num, sizeof(num), "%d", i);
        kta_metrics_sample(out, "kta_worker_busy_seconds_total",
                           (double)atomic_load_explicit(&kta_worker_stats(pl->workers[i])->busy_us,
                                                        memory_order_relaxed) / 1e6,
                           "worker", num, NULL);
    }
    for (size_t b = 0; b < KTA_LATENCY_BUCKETS; b++)
        bounds[b] = (double)kta_latency_bounds_us[b] / 1e6;
    for (int i = 0; i < n; i++) {
        for (size_t b = 0; b <= KTA_LATENCY_BUCKETS; b++)
            lat[b] += atomic_load_explicit(&kta_worker_stats(pl->workers[i])->latency[b], memory_order_relaxed);
        sum_us += atomic_load_explicit(&kta_worker_stats(pl->workers[i])->latency_sum_us, memory_order_relaxed);
    }
    kta_metrics_histogram(out, "kta_processing_latency_seconds",
                          "Seconds from the consumer queuing a record for its worker to the worker "
                          "finishing it (its hits handed to the producer; broker acknowledgement "
                          "not included).", bounds, KTA_LATENCY_BUCKETS, lat, (double)sum_us / 1e6);
    if (pl->corr) {
        static const struct {
            const char *name, *type, *help;
            size_t      field;
        } cm[] = {
            { "kta_correlation_inputs_total", "counter", "Correlation inputs (matches of "
              "correlations' base rules) applied to correlation state.",
              offsetof(struct kta_stats, corr_inputs) },
            { "kta_correlation_hits_total", "counter", "Correlation hits produced.",
              offsetof(struct kta_stats, corr_hits) },
            { "kta_correlation_late_total", "counter", "Correlation inputs left out as late "
              "(older than the newest of their input partition minus correlation.grace_ms).",
              offsetof(struct kta_stats, corr_late) },
            { "kta_correlation_evicted_total", "counter", "Correlation groups evicted at "
              "correlation.max_groups.", offsetof(struct kta_stats, corr_evicted) },
            { "kta_correlation_dropped_total", "counter", "Events dropped from a correlation "
              "group at correlation.max_events.", offsetof(struct kta_stats, corr_dropped) },
            { "kta_correlation_replayed_total", "counter", "Correlation inputs read again "
              "(after a crash) and not counted twice.", offsetof(struct kta_stats, corr_replayed) },
            { "kta_correlation_bad_total", "counter", "Correlation inputs or changelog records "
              "that did not decode (skipped).", offsetof(struct kta_stats, corr_bad) },
            { "kta_correlation_restores_total", "counter", "Partitions of correlation.topic "
              "whose state was read back from the changelog.",
              offsetof(struct kta_stats, corr_restores) },
            { "kta_correlation_groups", "gauge", "Correlation groups held in memory "
              "(suppression groups included).", offsetof(struct kta_stats, corr_groups) },
            { "kta_suppressed_total", "counter", "Hits of rules with `suppress` held back "
              "(the next hit let through for their group carries the count).",
              offsetof(struct kta_stats, suppressed) },
        };
        for (size_t i = 0; i < sizeof(cm) / sizeof(cm[0]); i++)
            family_value(out, cm[i].name, cm[i].type, cm[i].help,
                         n ? (double)worker_sum(pl, cm[i].field) : 0);
    }
    family_value(out, "kta_rule_reloads_total", "counter",
                 "Rule reloads that took effect (SIGHUP or changed rule files).",
                 (double)atomic_load(&pl->reloads));
    family_value(out, "kta_rule_reload_failures_total", "counter",
                 "Rule reloads rejected (the previous ruleset kept running).",
                 (double)atomic_load(&pl->reload_failures));
    family_value(out, "kta_rules_loaded", "gauge", "Rules in the ruleset in use.",
                 (double)atomic_load(&pl->rules_loaded));
    family_value(out, "kta_rules_enabled", "gauge", "Enabled rules in the ruleset in use.",
                 (double)atomic_load(&pl->rules_enabled));
}

/* /readyz: NULL when ready.  Thread: the metrics server's (or any). */
static const char *ready(void *opaque)
{
    struct kta_pipeline *pl = opaque;

    if (atomic_load(&pl->stop))
        return "stopping";
    if (!atomic_load(&pl->running))
        return "starting";
    if (atomic_load(&pl->assigned) <= 0)
        return "no partitions assigned";
    if (atomic_load(&pl->rules_enabled) == 0)
        return "no enabled rules loaded";
    if (!pl->producer || !kta_producer_connected(pl->producer))
        return "producer not connected to a broker";
    return NULL;
}

/* /healthz: NULL while the consumer loop runs. */
static const char *live(void *opaque)
{
    struct kta_pipeline *pl = opaque;

    if (atomic_load(&pl->stop))
        return "stopping";
    return atomic_load(&pl->running) ? NULL : "starting";
}

/* The housekeeping thread: rule reloads and the periodic stats line. */
static void *reloader_main(void *arg)
{
    struct reloader *rl = arg;
    struct kta_pipeline *pl = rl->pl;
    int interval = pl->cfg->watch_interval_ms;
    int64_t next_check = kta_now_ms() + interval;
    struct stats_mark last = { 0, 0, kta_now_ms() };
    int64_t next_probe = 0;

    pthread_setname_np(pthread_self(), "kta-reload");

    while (!atomic_load(&pl->stop)) {
        struct timespec ts = { 0, 100 * 1000000L };
        nanosleep(&ts, NULL);
        if (pl->cfg->stats_interval_ms > 0 && kta_now_ms() - last.ms >= pl->cfg->stats_interval_ms)
            log_stats(pl, &last);
        /* librdkafka says when all brokers went away, not when one is
         * back: ask, every 2 s while not connected (readiness). */
        if (!kta_producer_connected(pl->producer) && kta_now_ms() >= next_probe) {
            kta_producer_probe(pl->producer, 1000);
            next_probe = kta_now_ms() + 2000;
        }
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
    char errstr[1024], bound[300], port[8];
    int rc = 1, started = 0, reloading = 0;
    struct kta_metrics_source src;

    kta_log_format = cfg->log_json ? KTA_LOG_JSON : KTA_LOG_TEXT;
    kta_log_timestamps = 1;
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
    atomic_store(&pl.rules_loaded, rst.rules);
    atomic_store(&pl.rules_enabled, rst.enabled);
    pl.metrics = kta_metrics_new();
    atomic_store(&workers_up, 0);
    /* Before anything connects: a port in use stops kta at once. */
    if (kta_metrics_parse_listen(cfg->metrics_listen, bound, sizeof(bound), port, sizeof(port),
                                 errstr, sizeof(errstr)) > 0) {
        src = (struct kta_metrics_source){ .opaque = &pl, .collect = collect, .ready = ready,
                                           .live = live };
        if (kta_metrics_serve(pl.metrics, cfg->metrics_listen, &src, bound, sizeof(bound), errstr,
                              sizeof(errstr)) < 0) {
            fprintf(stderr, "kta: %s\n", errstr);
            kta_metrics_free(pl.metrics);
            kta_ruleset_decref(pl.rs);
            pthread_mutex_destroy(&pl.rs_lock);
            return 1;
        }
        kta_log(KTA_LOG_INFO, "metrics on http://%s/metrics (and /healthz, /readyz)", bound);
    }

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
    if (kta_producer_poll_start(pl.producer, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "%s; not starting", errstr);
        goto out;
    }
    if (kta_worker_routes(&pl, pl.rs, errstr, sizeof(errstr)) < 0 ||
        kta_consumer_check(pl.consumer, errstr, sizeof(errstr)) < 0 ||
        kta_corr_run_setup(&pl, errstr, sizeof(errstr)) < 0 ||
        kta_producer_start(pl.producer, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        goto out;
    }
    atomic_store(&kta_kafka_started, 1);
    kta_producer_probe(pl.producer, 2000);
    kta_log(KTA_LOG_INFO, "rules version %s active: %zu rules (%zu enabled) from %s%s",
            kta_ruleset_version(pl.rs), rst.rules, rst.enabled, cfg->rules_paths[0],
            cfg->nrules_paths > 1 ? " and more" : "");

    pl.nworkers = cfg->workers > 0 ? cfg->workers : ncpus();
    pl.workers = xcalloc((size_t)pl.nworkers, sizeof(*pl.workers));
    for (int i = 0; i < pl.nworkers; i++) {
        if (!(pl.workers[i] = kta_worker_new(&pl, i))) {
            kta_log(KTA_LOG_ERROR, "cannot start thread kta-worker-%d; not starting", i);
            pl.nworkers = i;
            kta_pipeline_stop(&pl, 1);
            break;
        }
    }
    started = 1;
    atomic_store(&workers_up, pl.nworkers);
    /* Without it there would be no reloads, stats lines or readiness
     * probes, and nothing would say so: refuse to start instead. */
    if (!atomic_load(&pl.stop)) {
        int err = kta_thread_create(&rl.thread, reloader_main, &rl, "kta-reload");
        if (err) {
            kta_log(KTA_LOG_ERROR, "cannot start thread kta-reload (rule reloads and the stats "
                    "line): %s; not starting", strerror(err));
            kta_pipeline_stop(&pl, 1);
        } else {
            reloading = 1;
        }
    }
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
    /* The metrics server reads the workers: it stops before they go. */
    kta_metrics_stop(pl.metrics);
    atomic_store(&workers_up, 0);
    for (int i = 0; i < pl.nworkers; i++) {
        const struct kta_stats *ws = kta_worker_stats(pl.workers[i]);
        kta_worker_join(pl.workers[i]);
        atomic_fetch_add(&pl.stats.events, atomic_load(&ws->events));
        atomic_fetch_add(&pl.stats.hits, atomic_load(&ws->hits));
        atomic_fetch_add(&pl.stats.malformed, atomic_load(&ws->malformed));
        kta_worker_free(pl.workers[i]);
        pl.workers[i] = NULL;
    }
    free(pl.workers);
    /* After a clean drain nothing is outstanding; after one that gave up
     * (broker down) waiting longer changes nothing that was committed. */
    if (pl.producer && kta_producer_flush(pl.producer, rc == 0 ? 1000 : 0) > 0)
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
    kta_corr_run_free(&pl);
    kta_metrics_free(pl.metrics);   /* no worker or consumer counts into it now */
    kta_ruleset_decref(pl.rs);
    pthread_mutex_destroy(&pl.rs_lock);
    the_pipeline = NULL;
    return rc;
}
