/* SPDX-License-Identifier: Apache-2.0 */
/*
 * worker: one thread per worker, between its ring and the producer.
 * For each record: evaluate it (record.c: the same path as `kta eval`),
 * hand each encoded hit to the producer, or send a malformed record to the
 * dead-letter topic.  Then it releases its share of the record's offset
 * slot; delivery reports release the rest.
 *
 * Routing: each hit goes to one topic, its rule's output_topic, else
 * output.topic_by_level[its level], else output.topic.  A worker resolves
 * that once per rule when it adopts a ruleset (w->route, producer topic
 * numbers), so a hit costs one array lookup.
 *
 * Correlations (corr_run.c): a match of a correlation's base rule goes
 * to correlation.topic (its own hit only when the rule generates one);
 * records of correlation.topic are applied to the state this worker owns
 * for their partition.  The hit of a rule with `suppress` goes the same
 * way, to the owner of its `by` values, and is produced from there
 * (kta_worker_send_hit) unless held back.
 *
 * Buffers live in struct kta_worker and are reused, so a steady stream
 * allocates only inside jansson and librdkafka; one grown past
 * KTA_BUF_KEEP by a large record is freed at the end of its batch.
 */
#include "kta/event.h"
#include "kta/hit.h"
#include "kta/pipeline.h"
#include "kta/record.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A worker's hit counters for its current ruleset, by rule (open
 * addressing on the rule's address); built when it adopts a ruleset. */
struct kta_hit_slot {
    const struct kta_rule *r;
    atomic_uint_fast64_t  *n;          /* in the metrics registry */
};

struct kta_worker {
    _Alignas(64) struct kta_stats stats;   /* written by this worker only */
    pthread_t            thread;
    int                  joined;       /* kta_worker_join was called */
    int                  index;
    struct kta_ring     *ring;
    struct kta_pipeline *pl;
    struct kta_eval_ctx *ctx;
    struct kta_ruleset  *rs;           /* this worker's reference */
    unsigned             rs_version;    /* pipeline's swap count it was taken at */
    struct kta_buf       hit;          /* reused per hit */
    struct kta_buf       key;
    struct kta_buf       line;
    struct kta_hit_slot *hitmap;       /* hitmask + 1 slots */
    size_t               hitmask;
    /* Built when it adopts a ruleset: */
    struct kta_buf       tail;         /* ends every hit (kta_hit_tail) */
    int                 *route;        /* rule index -> producer topic number */
    struct kta_corr_owner *corr;       /* correlation state; NULL without (corr_run.c) */
};

#define BATCH 64

struct job {
    struct kta_worker        *w;
    const rd_kafka_message_t *rkm;
    struct kta_slot          *slot;
    const char               *topic;
};

static void add_header(rd_kafka_headers_t *hdrs, const char *name, const char *value)
{
    rd_kafka_header_add(hdrs, name, -1, value, -1);
}

/* rec->hit holds the encoded hit (record.c).  Returns non-zero when the
 * producer refused it: the record's remaining hits are then not sent. */

/* One console line to stdout, whole and at once: under systemd or a pipe
 * stdout is fully buffered, and alerts must not wait for 4 KiB of them.
 * The lock keeps workers' lines from interleaving.  Thread: any worker. */
void kta_worker_console_line(const struct kta_buf *line)
{
    flockfile(stdout);
    fwrite(line->data, 1, line->len, stdout);
    fflush(stdout);
    funlockfile(stdout);
}

static size_t hit_hash(const struct kta_rule *r, size_t mask)
{
    return (size_t)(((uintptr_t)r >> 4) * 0x9e3779b97f4a7c15ULL >> 17) & mask;
}

/* The registry's counter of rule r (metrics.c), found without a lock. */
static void count_hit(struct kta_worker *w, const struct kta_rule *r)
{
    for (size_t i = hit_hash(r, w->hitmask);; i = (i + 1) & w->hitmask) {
        if (w->hitmap[i].r == r) {
            atomic_fetch_add_explicit(w->hitmap[i].n, 1, memory_order_relaxed);
            return;
        }
        if (!w->hitmap[i].r)
            return;   /* not in this ruleset: cannot happen */
    }
}

/* Maps every rule of w->rs to its counter in the registry, which keeps
 * the counts of rules (by id and level) across reloads.  Between
 * batches only: allocates and takes the registry lock. */
static void build_hitmap(struct kta_worker *w)
{
    size_t n = kta_ruleset_count(w->rs), cap = 16;

    while (cap < n * 2)
        cap *= 2;
    free(w->hitmap);
    w->hitmap = xcalloc(cap, sizeof(*w->hitmap));
    w->hitmask = cap - 1;
    for (size_t k = 0; k < n; k++) {
        const struct kta_rule *r = kta_ruleset_rule(w->rs, k);
        size_t i = hit_hash(r, w->hitmask);
        while (w->hitmap[i].r)
            i = (i + 1) & w->hitmask;
        w->hitmap[i].r = r;
        w->hitmap[i].n = kta_metrics_hit_counter(w->pl->metrics, kta_rule_id(r), kta_rule_level(r));
    }
}

int kta_worker_send_hit(struct kta_worker *w, const struct kta_rule *r, const char *hit,
                        size_t len, const char *key, size_t keylen, const json_t *ev,
                        struct kta_slot *slot)
{
    struct kta_pipeline *pl = w->pl;
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(3);

    add_header(hdrs, "kta.rule.id", kta_rule_id(r));
    add_header(hdrs, "kta.rule.level", kta_rule_level(r));
    add_header(hdrs, "kta.ruleset.version", kta_ruleset_version(w->rs));
    if (kta_producer_send(pl->producer, w->route[kta_rule_index(r)], key, key ? keylen : 0, hit,
                          len, hdrs, slot) < 0)
        return -1;
    atomic_fetch_add_explicit(&w->stats.hits, 1, memory_order_relaxed);
    count_hit(w, r);
    if (pl->cfg->print != KTA_PRINT_NONE) {
        json_t *whole = ev ? NULL : json_loadb(hit, len, 0, NULL);

        kta_buf_reset(&w->line);
        kta_hit_alert_line(&w->line, ev ? ev : json_object_get(whole, "event"), r);
        kta_worker_console_line(&w->line);
        json_decref(whole);
    }
    return 0;
}

static int on_hit(void *opaque, struct kta_record *rec, const struct kta_rule *r)
{
    struct job *j = opaque;
    struct kta_worker *w = j->w;
    size_t idx = kta_rule_index(r), ncorr = 0;
    int have_key;

    /* A base rule of correlations: its match travels to the owner of its
     * group; its own hit only when it generates one. */
    if (w->corr && kta_ruleset_rule_corrs(w->rs, idx, &ncorr) && ncorr) {
        if (kta_corr_run_send_inputs(w->corr, w->rs, idx, rec->ev, rec->src, j->slot) < 0)
            return -1;
        if (!kta_ruleset_rule_generates(w->rs, idx))
            return 0;
    }
    kta_buf_reset(&w->key);
    have_key = kta_hit_field_text(&w->key, rec->ev, w->pl->cfg->key_field);
    /* A rule with `suppress`: its hit travels to the owner of its `by`
     * values, which produces it (kta_worker_send_hit) or holds it back. */
    if (w->corr && kta_ruleset_rule_suppress(w->rs, idx) != (size_t)-1)
        return kta_corr_run_send_suppressed(w->corr, w->rs, idx, rec->ev, rec->src, rec->hit,
                                            have_key ? w->key.data : NULL,
                                            have_key ? w->key.len : 0, j->slot);
    return kta_worker_send_hit(w, r, rec->hit->data, rec->hit->len, have_key ? w->key.data : NULL,
                               have_key ? w->key.len : 0, rec->ev, j->slot);
}

/* Prints the malformed payload on one line, control bytes shown as '?'. */
static void print_malformed(struct kta_worker *w, const void *payload, size_t len)
{
    static const size_t max = 1024;
    const unsigned char *p = payload;

    kta_buf_reset(&w->line);
    kta_buf_appends(&w->line, "[ERROR] Received malformed JSON: ");
    for (size_t i = 0; i < len && i < max; i++) {
        char c = (p[i] < 0x20 || p[i] == 0x7f) ? '?' : (char)p[i];
        kta_buf_append(&w->line, &c, 1);
    }
    if (len > max)
        kta_buf_printf(&w->line, "... (%zu bytes)", len);
    kta_buf_append(&w->line, "\n", 1);
    fwrite(w->line.data, 1, w->line.len, stderr);
}

static void dead_letter(struct kta_worker *w, const rd_kafka_message_t *rkm, const char *topic,
                        enum kta_event_error err, const char *detail, struct kta_slot *slot)
{
    struct kta_pipeline *pl = w->pl;
    rd_kafka_headers_t *orig = NULL, *hdrs;
    char num[32];

    /* The record goes on unchanged: same key, value and headers, plus ours. */
    if (rd_kafka_message_headers(rkm, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        hdrs = rd_kafka_headers_copy(orig);
    else
        hdrs = rd_kafka_headers_new(5);
    add_header(hdrs, "kta.error.reason", kta_event_error_name(err));
    add_header(hdrs, "kta.error.detail", detail);
    add_header(hdrs, "kta.source.topic", topic);
    snprintf(num, sizeof(num), "%d", (int)rkm->partition);
    add_header(hdrs, "kta.source.partition", num);
    snprintf(num, sizeof(num), "%lld", (long long)rkm->offset);
    add_header(hdrs, "kta.source.offset", num);
    if (kta_producer_send(pl->producer, KTA_TOPIC_DLQ, rkm->key, rkm->key_len, rkm->payload,
                          rkm->len, hdrs, slot) == 0) {
        atomic_fetch_add_explicit(&w->stats.malformed, 1, memory_order_relaxed);
        if ((int)err > 0 && (int)err < KTA_DL_REASONS)
            atomic_fetch_add_explicit(&w->stats.dead_letters[err], 1, memory_order_relaxed);
    }
    if (pl->cfg->print != KTA_PRINT_NONE)
        print_malformed(w, rkm->payload, rkm->len);
}

static void process(struct kta_worker *w, rd_kafka_message_t *rkm, struct kta_slot *slot)
{
    struct kta_pipeline *pl = w->pl;
    struct job j = { .w = w, .rkm = rkm, .slot = slot };
    struct kta_hit_source src = {
        .partition = rkm->partition, .offset = rkm->offset,
        .timestamp = rd_kafka_message_timestamp(rkm, NULL),
    };
    struct kta_record rec = { .data = rkm->payload, .len = rkm->len, .src = &src, .hit = &w->hit,
                              .tail = &w->tail };
    long nhits;

    j.topic = src.topic = rd_kafka_topic_name(rkm->rkt);
    if (w->corr && strcmp(j.topic, kta_corr_run_topic(pl)) == 0) {
        kta_corr_run_apply(w->corr, w->rs, rkm, slot, &w->tail);
        return;
    }
    atomic_fetch_add_explicit(&w->stats.events, 1, memory_order_relaxed);
    /* The path `kta eval` takes too (record.c): the record is parsed only
     * when some rule could match it or it may be malformed; rec.ev is set
     * before the first on_hit. */
    nhits = kta_record_eval(w->rs, w->ctx, (size_t)pl->cfg->max_bytes, 0, &rec, on_hit, &j);
    if (nhits < 0) {
        dead_letter(w, rkm, j.topic, rec.err, rec.detail, slot);
        kta_record_done(&rec);
        return;
    }
    if (nhits == 0 && pl->cfg->print == KTA_PRINT_ALL) {
        /* Debug output wants the fields even of a record no rule needed. */
        if (!rec.ev)
            rec.ev = kta_event_decode(rkm->payload, rkm->len, (size_t)pl->cfg->max_bytes,
                                      &rec.err, rec.detail, sizeof(rec.detail));
        kta_buf_reset(&w->line);
        kta_hit_debug_line(&w->line, rec.ev);
        kta_worker_console_line(&w->line);
    }
    kta_record_done(&rec);
}

/* The topic a hit of r goes to: its output_topic, else its level's, else
 * output.topic (NULL). */
static const char *route_name(const struct kta_config *cfg, const struct kta_rule *r)
{
    const char *name = kta_rule_output_topic(r);

    return name ? name : kta_map_get(&cfg->topic_by_level, kta_rule_level(r));
}

int kta_worker_routes(struct kta_pipeline *pl, const struct kta_ruleset *rs,
                      char *errstr, size_t errstr_size)
{
    const struct kta_config *cfg = pl->cfg;

    for (size_t i = 0; i < cfg->topic_by_level.n; i++)
        if (kta_producer_topic(pl->producer, cfg->topic_by_level.items[i].value) < 0)
            return kta_err(errstr, errstr_size, "output.topic_by_level.%s: more than %d output "
                           "topics", cfg->topic_by_level.items[i].key, KTA_MAX_TOPICS);
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        const char *name = kta_rule_output_topic(r);
        if (name && kta_producer_topic(pl->producer, name) < 0)
            return kta_err(errstr, errstr_size, "rule %s: output_topic '%s': more than %d output "
                           "topics since kta started", kta_rule_id(r), name, KTA_MAX_TOPICS);
    }
    return 0;
}

/* The topic's hash picks where its partition 0 goes, and its partitions
 * follow round the workers from there: one topic spreads as evenly as
 * `partition % workers` did, and several topics no longer pile their low
 * partitions onto the first workers. */
int kta_worker_for(const char *topic, int32_t partition, int nworkers)
{
    uint64_t n = (uint64_t)nworkers;
    uint64_t h = kta_fnv1a(KTA_FNV_SEED, topic, strlen(topic));

    return (int)((h % n + (uint64_t)partition % n) % n);
}

/* Thread: this worker (or its starter).  Allocates: once per ruleset. */
static void adopt_ruleset(struct kta_worker *w)
{
    struct kta_ruleset *old = w->rs;
    size_t n;

    w->rs = kta_pipeline_ruleset(w->pl, &w->rs_version);
    build_hitmap(w);
    kta_ruleset_decref(old);
    kta_buf_reset(&w->tail);
    kta_hit_tail(&w->tail, kta_ruleset_version(w->rs), &w->pl->cfg->fields);
    n = kta_ruleset_count(w->rs);
    free(w->route);
    w->route = xmalloc((n ? n : 1) * sizeof(*w->route));
    for (size_t i = 0; i < n; i++) {
        const char *name = route_name(w->pl->cfg, kta_ruleset_rule(w->rs, i));
        /* kta_worker_routes gave the producer every name before the
         * ruleset was published: this finds it, never adds. */
        int topic = name ? kta_producer_topic_known(w->pl->producer, name) : KTA_TOPIC_HITS;
        if (topic < 0)
            abort();
        w->route[i] = topic;
    }
}

/* Busy time, and each input record's latency from the consumer taking it
 * to the end of its batch (one clock read per batch, not per record).
 * Records of correlation.topic are not input records: their work counts
 * in busy time, their number in kta_correlation_inputs_total. */
static void account_batch(struct kta_worker *w, const struct kta_ring_item *items, size_t n,
                          int64_t start_us)
{
    const char *corr = w->corr ? kta_corr_run_topic(w->pl) : NULL;
    int64_t now = kta_now_us();
    size_t inputs = 0;

    for (size_t i = 0; i < n; i++) {
        const struct kta_slot *slot = items[i].tag;
        int64_t us = now - slot->taken_us;
        if (corr && strcmp(rd_kafka_topic_name(((rd_kafka_message_t *)items[i].msg)->rkt), corr) == 0)
            continue;
        if (us < 0)
            us = 0;
        atomic_fetch_add_explicit(&w->stats.latency[kta_latency_bucket(us)], 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&w->stats.latency_sum_us, (uint64_t)us, memory_order_relaxed);
        inputs++;
    }
    atomic_fetch_add_explicit(&w->stats.busy_us, (uint64_t)(now - start_us), memory_order_relaxed);
    atomic_fetch_add_explicit(&w->stats.processed, inputs, memory_order_relaxed);
}

/* After a batch: a record larger than KTA_BUF_KEEP grew the reused
 * buffers to its size; let that go, so a worker's memory at rest is
 * bounded whatever input.max_bytes allows.  Records under it allocate
 * nothing here. */
static void trim_buffers(struct kta_worker *w)
{
    kta_buf_shrink(&w->hit, KTA_BUF_KEEP);
    kta_buf_shrink(&w->key, KTA_BUF_KEEP);
    kta_buf_shrink(&w->line, KTA_BUF_KEEP);
    kta_eval_ctx_trim(w->ctx, KTA_BUF_KEEP);
}

static void *worker_main(void *arg)
{
    struct kta_worker *w = arg;
    struct kta_ring_item items[BATCH];
    char name[16];

    snprintf(name, sizeof(name), "kta-worker-%d", w->index);
    pthread_setname_np(pthread_self(), name);

    for (;;) {
        size_t n = kta_ring_pop_wait(w->ring, items, BATCH, 100);
        if (n == 0) {
            if (atomic_load(&w->pl->workers_stop))
                break;
            /* Idle, it lets go of a replaced ruleset too: else that one
             * (tens of MB with a large corpus) lives until traffic comes. */
            if (atomic_load_explicit(&w->pl->rs_version, memory_order_acquire) != w->rs_version)
                adopt_ruleset(w);
            continue;
        }
        /* A reload swaps the pipeline's ruleset; a worker moves to it
         * between batches, so every record is evaluated by exactly one
         * version, and the old one is freed when the last worker left. */
        if (atomic_load_explicit(&w->pl->rs_version, memory_order_acquire) != w->rs_version)
            adopt_ruleset(w);
        int64_t start_us = kta_now_us();
        for (size_t i = 0; i < n; i++)
            process(w, items[i].msg, items[i].tag);
        /* Before the slots are released: a released slot may be reused. */
        account_batch(w, items, n, start_us);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_message_destroy(items[i].msg);
            kta_slot_release(items[i].tag);
        }
        trim_buffers(w);
    }
    return NULL;
}

struct kta_worker *kta_worker_new(struct kta_pipeline *pl, int index)
{
    struct kta_worker *w;

    /* struct kta_worker is cache-line aligned; malloc does not promise that. */
    if (posix_memalign((void **)&w, 64, sizeof(*w)) != 0)
        abort();
    memset(w, 0, sizeof(*w));
    w->pl = pl;
    w->index = index;
    w->ring = kta_ring_new((size_t)pl->cfg->ring_size);
    w->ctx = kta_eval_ctx_new();
    w->corr = kta_corr_owner_new(pl, w, &w->stats);
    adopt_ruleset(w);
    if (kta_thread_create(&w->thread, worker_main, w, "kta-worker") != 0) {
        kta_corr_owner_free(w->corr);
        kta_ring_free(w->ring);
        kta_eval_ctx_free(w->ctx);
        kta_ruleset_decref(w->rs);
        free(w->hitmap);
        kta_buf_free(&w->tail);
        free(w->route);
        free(w);
        return NULL;
    }
    return w;
}

void kta_worker_join(struct kta_worker *w)
{
    if (!w || w->joined)
        return;
    kta_ring_wake(w->ring);
    pthread_join(w->thread, NULL);
    w->joined = 1;
}

void kta_worker_free(struct kta_worker *w)
{
    if (!w)
        return;
    kta_worker_join(w);
    kta_corr_owner_free(w->corr);
    kta_ring_free(w->ring);
    kta_eval_ctx_free(w->ctx);
    kta_ruleset_decref(w->rs);
    kta_buf_free(&w->hit);
    kta_buf_free(&w->key);
    kta_buf_free(&w->line);
    free(w->hitmap);
    kta_buf_free(&w->tail);
    free(w->route);
    free(w);
}

struct kta_ring *kta_worker_ring(const struct kta_worker *w)
{
    return w->ring;
}

const struct kta_stats *kta_worker_stats(const struct kta_worker *w)
{
    return &w->stats;
}
