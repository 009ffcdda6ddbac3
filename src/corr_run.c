/* SPDX-License-Identifier: Apache-2.0 */
/*
 * corr_run: correlation rules in `kta run` (docs/operations.md,
 * Correlation state).  The engine is correlate.c's; this file moves its
 * inputs and state through Kafka so that every group has one owner
 * however the input is partitioned, and its state outlives the process:
 *
 *   worker (any)  base-rule match -> kta_corr_key -> one record per input
 *                 to correlation.topic, on the partition its correlation
 *                 and group values hash to (kta_corr_run_send_inputs);
 *   consumer      subscribes to correlation.topic in the same group, so
 *                 each of its partitions is read by one worker of one
 *                 instance (kta_worker_for), like an input partition;
 *   worker (its)  a record of partition p -> p's struct kta_corr (restored
 *                 from correlation.changelog_topic partition p first, when
 *                 p is new to this worker since the last assignment or
 *                 aborted transaction) -> correlation hits to the output,
 *                 and for the correlations that refer to that one, its
 *                 hits as their inputs back to correlation.topic, on their
 *                 own groups' partitions (kta_corr_key_hit); changed
 *                 groups to the changelog on partition p
 *                 (kta_corr_run_apply).
 *
 * Suppression (`suppress` on a rule) takes the same road: the worker that
 * matched sends the encoded hit as an input (kta_corr_run_send_suppressed)
 * and the owner of its `by` values produces it through that owner's
 * worker (kta_worker_send_hit) or holds it back, its count in the state.
 *
 * Every record sent holds the slot of the record that caused it, so its
 * offset is committed only once they are acknowledged (at-least-once) or
 * goes into the same transaction (exactly-once).  At-least-once may read
 * correlation inputs again after a crash; their offsets, kept per group
 * in the state, make them count once (kta_corr_apply_seq).  Input events
 * read again are keyed again and count again, as their hits repeat.
 *
 * Start-up (kta_corr_run_setup, main thread) creates the internal topics
 * when missing and says so.  A worker's struct kta_corr_owner is its own:
 * no locks.  Never evaluates rules or decides commits.
 */
#include "kta/correlate.h"
#include "kta/hit.h"
#include "kta/pipeline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kta_corr_run {
    char *topic, *changelog;
    int   partitions;
    int   upper;                      /* some correlation has an lt/lte condition */
    int   topic_no, changelog_no;     /* the producer's numbers */
    struct kta_corr_opts opts;
    const char *const *time_fields;   /* NULL: the defaults */
};

/* One partition of correlation.topic as this worker holds it. */
struct owned {
    int32_t          partition;
    unsigned         epoch;           /* pl->corr_epoch it was restored in */
    struct kta_corr *cs;
    struct kta_corr_stats seen;       /* cs's counters as last published */
};

struct kta_corr_owner {
    struct kta_pipeline *pl;
    struct kta_worker   *w;           /* its worker: produces suppressed rules' hits */
    struct kta_ruleset  *rs;          /* the ruleset its states were built for */
    const struct kta_ruleset *cur;    /* the worker's, during kta_corr_run_apply */
    struct owned        *parts;
    size_t               nparts;
    struct kta_stats    *wstats;      /* the worker's counters */
    struct kta_buf       inputs, chain, key, hit, line;
    int32_t              partition;   /* of the record being applied */
    struct kta_slot     *slot;
    const struct kta_buf *tail;
    int                  failed;
};

/* ---- start-up ------------------------------------------------------------ */

static const rd_kafka_metadata_topic_t *md_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0 &&
            md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            return &md->topics[i];
    return NULL;
}

/* Creates the missing ones of the two topics with n partitions. */
static int create_topics(rd_kafka_t *rk, struct kta_corr_run *cr, int need_topic,
                         int need_changelog, int n, int replication, int timeout_ms,
                         char *errstr, size_t errstr_size)
{
    rd_kafka_NewTopic_t *nt[2];
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_event_t *ev;
    size_t cnt = 0;
    char err[512];
    int rc = 0;

    if (need_topic)
        nt[cnt++] = rd_kafka_NewTopic_new(cr->topic, n, replication, err, sizeof(err));
    if (need_changelog) {
        nt[cnt] = rd_kafka_NewTopic_new(cr->changelog, n, replication, err, sizeof(err));
        if (nt[cnt])
            rd_kafka_NewTopic_set_config(nt[cnt], "cleanup.policy", "compact");
        cnt++;
    }
    for (size_t i = 0; i < cnt; i++)
        if (!nt[i]) {
            rc = kta_err(errstr, errstr_size, "correlation: cannot describe a new topic: %s", err);
            goto out;
        }
    rd_kafka_CreateTopics(rk, nt, cnt, NULL, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev) {
        rc = kta_err(errstr, errstr_size, "correlation: creating the internal topics timed out");
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        rc = kta_err(errstr, errstr_size, "correlation: cannot create the internal topics: %s",
                     rd_kafka_event_error_string(ev));
    } else {
        size_t nres;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
        for (size_t i = 0; i < nres && rc == 0; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                if (!e)
                    kta_log(KTA_LOG_INFO, "correlation: created internal topic '%s' (%d "
                            "partitions%s)", rd_kafka_topic_result_name(res[i]), n,
                            strcmp(rd_kafka_topic_result_name(res[i]), cr->changelog) == 0
                            ? ", compacted" : "");
                continue;
            }
            rc = kta_err(errstr, errstr_size, "correlation: cannot create topic '%s': %s (create "
                         "it, or set correlation.topic / correlation.changelog_topic)",
                         rd_kafka_topic_result_name(res[i]), rd_kafka_topic_result_error_string(res[i]));
        }
    }
    rd_kafka_event_destroy(ev);
out:
    for (size_t i = 0; i < cnt; i++)
        if (nt[i])
            rd_kafka_NewTopic_destroy(nt[i]);
    rd_kafka_queue_destroy(q);
    return rc;
}

/* 1 when a and b have the same correlations (a reload may change base
 * rules, not the correlations whose state is running). */
static int same_correlations(const struct kta_ruleset *a, const struct kta_ruleset *b)
{
    if (kta_ruleset_ncorr(a) != kta_ruleset_ncorr(b))
        return 0;
    for (size_t i = 0; i < kta_ruleset_ncorr(a); i++) {
        const struct kta_corrdef *x = kta_ruleset_corr(a, i), *y = kta_ruleset_corr(b, i);
        if (strcmp(x->id, y->id) != 0 || x->type != y->type || x->timespan_ms != y->timespan_ms ||
            x->nrefs != y->nrefs || x->ngroup != y->ngroup || x->nops != y->nops ||
            (x->field == NULL) != (y->field == NULL) || (x->field && strcmp(x->field, y->field)))
            return 0;
        for (size_t k = 0; k < x->nops; k++)
            if (x->ops[k] != y->ops[k] || x->vals[k] != y->vals[k])
                return 0;
        for (size_t g = 0; g < x->ngroup; g++)
            if (strcmp(x->group[g], y->group[g]) != 0)
                return 0;
    }
    return 1;
}

int kta_corr_run_check_reload(struct kta_pipeline *pl, const struct kta_ruleset *rs, char *errstr,
                              size_t errstr_size)
{
    unsigned version;

    if (!pl->corr)
        return kta_ruleset_ncorr(rs) ? kta_err(errstr, errstr_size, "the rules now have "
                                               "correlation rules or suppressions; restart kta "
                                               "to apply them")
                                     : 0;
    struct kta_ruleset *cur = kta_pipeline_ruleset(pl, &version);
    int same = same_correlations(cur, rs);

    kta_ruleset_decref(cur);
    if (same)
        return 0;
    return kta_err(errstr, errstr_size, "the correlation rules or suppressions changed; restart "
                   "kta to apply them (their state is kept in the changelog topic)");
}

int kta_corr_run_setup(struct kta_pipeline *pl, char *errstr, size_t errstr_size)
{
    const struct kta_config *cfg = pl->cfg;
    const struct kta_ruleset *rs = pl->rs;
    rd_kafka_t *rk = kta_producer_handle(pl->producer);
    const rd_kafka_metadata_t *md = NULL;
    const rd_kafka_metadata_topic_t *t, *cl;
    struct kta_corr_run *cr;
    int64_t deadline = 0;
    int n = 0, rc = -1;

    if (!kta_ruleset_ncorr(rs))
        return 0;
    {
        const char *iso = kta_config_kafka(cfg, "isolation.level");
        if (cfg->exactly_once && iso && strcmp(iso, "read_uncommitted") == 0)
            return kta_err(errstr, errstr_size, "isolation.level=read_uncommitted: in exactly-once "
                           "mode correlation inputs of aborted transactions would count; leave it "
                           "read_committed");
    }
    {
        const char *reset = kta_config_kafka(cfg, "auto.offset.reset");
        if (reset && strcmp(reset, "earliest") != 0 && strcmp(reset, "smallest") != 0 &&
            strcmp(reset, "beginning") != 0)
            return kta_err(errstr, errstr_size, "auto.offset.reset=%s would skip correlation "
                           "inputs (correlation.topic is read from its beginning); leave it "
                           "earliest and use input.start_offset to start the input elsewhere",
                           reset);
    }
    cr = xcalloc(1, sizeof(*cr));
    if (cfg->corr_topic) {
        cr->topic = xstrdup(cfg->corr_topic);
    } else {
        const char *group = kta_config_kafka(cfg, "group.id");
        size_t len = strlen(group) + sizeof("-kta-correlation");
        cr->topic = xmalloc(len);
        snprintf(cr->topic, len, "%s-kta-correlation", group);
    }
    if (cfg->corr_changelog) {
        cr->changelog = xstrdup(cfg->corr_changelog);
    } else {
        size_t len = strlen(cr->topic) + sizeof("-changelog");
        cr->changelog = xmalloc(len);
        snprintf(cr->changelog, len, "%s-changelog", cr->topic);
    }
    if (!kta_topic_name_ok(cr->topic) || !kta_topic_name_ok(cr->changelog)) {
        kta_err(errstr, errstr_size, "correlation: '%s' / '%s' are not topic names (set "
                "correlation.topic)", cr->topic, cr->changelog);
        goto out;
    }
    /* Created topics take a moment to show in the metadata (with their
     * partitions' leaders): ask again until they do. */
    for (int created = 0;;) {
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, cfg->startup_timeout_ms);
        if (err) {
            kta_err(errstr, errstr_size, "correlation: cannot read the topics: %s",
                    rd_kafka_err2str(err));
            goto out;
        }
        t = md_topic(md, cr->topic);
        cl = md_topic(md, cr->changelog);
        if (t && cl && t->partition_cnt > 0 && cl->partition_cnt > 0)
            break;
        if (created) {
            if (kta_now_ms() > deadline) {
                kta_err(errstr, errstr_size, "correlation: topic '%s' does not show within "
                        "startup_timeout_ms after it was created", t ? cr->changelog : cr->topic);
                goto out;
            }
            rd_kafka_metadata_destroy(md);
            md = NULL;
            struct timespec ts = { 0, 100 * 1000000L };
            nanosleep(&ts, NULL);
            continue;
        }
        n = cfg->corr_partitions;
        if (t)
            n = t->partition_cnt;
        else if (cl)
            n = cl->partition_cnt;
        if (n == 0)
            for (size_t i = 0; i < cfg->ntopics; i++) {
                const rd_kafka_metadata_topic_t *in = md_topic(md, cfg->topics[i]);
                if (in && in->partition_cnt > n)
                    n = in->partition_cnt;
            }
        if (n <= 0)
            n = 1;
        if (create_topics(rk, cr, !t, !cl, n, cfg->corr_replication, cfg->startup_timeout_ms,
                          errstr, errstr_size) < 0)
            goto out;
        created = 1;
        deadline = kta_now_ms() + cfg->startup_timeout_ms;
        rd_kafka_metadata_destroy(md);
        md = NULL;
    }
    if (t->partition_cnt != cl->partition_cnt || t->partition_cnt <= 0) {
        kta_err(errstr, errstr_size, "correlation: '%s' has %d partitions and '%s' %d; they must "
                "have the same number", cr->topic, t->partition_cnt, cr->changelog,
                cl->partition_cnt);
        goto out;
    }
    cr->partitions = t->partition_cnt;
    cr->topic_no = kta_producer_topic(pl->producer, cr->topic);
    cr->changelog_no = kta_producer_topic(pl->producer, cr->changelog);
    if (cr->topic_no < 0 || cr->changelog_no < 0) {
        kta_err(errstr, errstr_size, "correlation: more than %d output topics", KTA_MAX_TOPICS);
        goto out;
    }
    cr->opts.max_groups = (size_t)cfg->corr_max_groups;
    cr->opts.max_events = (size_t)cfg->corr_max_events;
    cr->opts.max_sources = (size_t)cfg->corr_max_sources;
    cr->opts.grace_ms = cfg->corr_grace_ms;
    cr->opts.remote_chains = 1;
    for (size_t i = 0; i < kta_ruleset_ncorr(rs); i++)
        cr->upper |= kta_ruleset_corr(rs, i)->upper;
    cr->time_fields = cfg->ncorr_time_fields ? (const char *const *)cfg->corr_time_fields : NULL;
    {
        size_t nc = kta_ruleset_ncorr_rules(rs), ns = kta_ruleset_ncorr(rs) - nc;
        char sup[64] = "";

        if (ns)
            snprintf(sup, sizeof(sup), " and %zu rule%s with suppress", ns, ns == 1 ? "" : "s");
        kta_log(KTA_LOG_INFO, "correlation: %zu correlation rule%s%s; inputs through '%s', "
                "state in '%s' (%d partitions)", nc, nc == 1 ? "" : "s", sup, cr->topic,
                cr->changelog, cr->partitions);
    }
    pl->corr = cr;
    cr = NULL;
    rc = 0;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    if (cr) {
        free(cr->topic);
        free(cr->changelog);
        free(cr);
    }
    return rc;
}

const char *kta_corr_run_topic(const struct kta_pipeline *pl)
{
    return pl->corr ? pl->corr->topic : NULL;
}

void kta_corr_run_free(struct kta_pipeline *pl)
{
    if (!pl->corr)
        return;
    free(pl->corr->topic);
    free(pl->corr->changelog);
    free(pl->corr);
    pl->corr = NULL;
}

/* ---- keying: any worker ---------------------------------------------------- */

struct kta_corr_owner *kta_corr_owner_new(struct kta_pipeline *pl, struct kta_worker *w,
                                          struct kta_stats *stats)
{
    struct kta_corr_owner *o;

    if (!pl->corr)
        return NULL;
    o = xcalloc(1, sizeof(*o));
    o->pl = pl;
    o->w = w;
    o->wstats = stats;
    return o;
}

#define ADD(field, delta) \
    atomic_fetch_add_explicit(&o->wstats->field, (delta), memory_order_relaxed)

/* Adds what s's counters moved since they were last published to the
 * worker's, and sets the groups gauge over every partition held. */
static void publish(struct kta_corr_owner *o, struct owned *s)
{
    struct kta_corr_stats now;
    uint64_t groups = 0;

    kta_corr_get_stats(s->cs, &now);
    ADD(corr_inputs, now.events - s->seen.events);
    ADD(corr_late, now.late - s->seen.late);
    ADD(corr_evicted, now.evicted - s->seen.evicted);
    ADD(corr_dropped, now.dropped - s->seen.dropped);
    ADD(corr_replayed, now.replayed - s->seen.replayed);
    ADD(corr_bad, now.bad - s->seen.bad);
    ADD(suppressed, now.suppressed - s->seen.suppressed);
    s->seen = now;
    for (size_t i = 0; i < o->nparts; i++)
        groups += o->parts[i].seen.groups;
    atomic_store_explicit(&o->wstats->corr_groups, groups, memory_order_relaxed);
}

static void drop_states(struct kta_corr_owner *o)
{
    for (size_t i = 0; i < o->nparts; i++)
        kta_corr_free(o->parts[i].cs);
    free(o->parts);
    o->parts = NULL;
    o->nparts = 0;
}

void kta_corr_owner_free(struct kta_corr_owner *o)
{
    if (!o)
        return;
    drop_states(o);
    kta_ruleset_decref(o->rs);
    kta_buf_free(&o->inputs);
    kta_buf_free(&o->chain);
    kta_buf_free(&o->key);
    kta_buf_free(&o->hit);
    kta_buf_free(&o->line);
    free(o);
}

/* The record key of an input: its correlation id and group values, the
 * group's identity (the same text in every instance). */
static int input_key(struct kta_buf *key, const char *line, size_t len)
{
    json_t *in = json_loadb(line, len, 0, NULL);
    const char *c = json_string_value(json_object_get(in, "c"));
    char *g;

    kta_buf_reset(key);
    if (!c || !json_object_get(in, "g")) {
        json_decref(in);
        return -1;
    }
    g = json_dumps(json_object_get(in, "g"), JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    kta_buf_appends(key, c);
    kta_buf_append(key, "\n", 1);
    kta_buf_appends(key, g);
    free(g);
    json_decref(in);
    return 0;
}

/* Sends each input line of lines to correlation.topic, on the partition
 * its group hashes to, holding slot.  Returns 0, or -1 when the producer
 * refused one. */
static int send_lines(struct kta_corr_owner *o, const struct kta_buf *lines, struct kta_slot *slot)
{
    struct kta_corr_run *cr = o->pl->corr;
    const char *p, *end, *nl;

    for (p = lines->data, end = p + lines->len; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (input_key(&o->key, p, (size_t)(nl - p)) < 0)
            abort();   /* kta_corr_key wrote it */
        int32_t part = (int32_t)(kta_fnv1a(KTA_FNV_SEED, o->key.data, o->key.len) %
                                 (uint64_t)cr->partitions);
        if (kta_producer_send_to(o->pl->producer, cr->topic_no, part, o->key.data, o->key.len, p,
                                 (size_t)(nl - p), NULL, slot) < 0)
            return -1;
    }
    return 0;
}

int kta_corr_run_send_inputs(struct kta_corr_owner *o, const struct kta_ruleset *rs, size_t rule,
                             const json_t *ev, const struct kta_hit_source *src,
                             struct kta_slot *slot)
{
    struct kta_corr_run *cr = o->pl->corr;
    int64_t t = kta_corr_event_time(ev, cr->time_fields, src->timestamp);

    kta_buf_reset(&o->inputs);
    if (!kta_corr_key(rs, rule, ev, t, src, &o->inputs))
        return 0;
    return send_lines(o, &o->inputs, slot);
}

int kta_corr_run_send_suppressed(struct kta_corr_owner *o, const struct kta_ruleset *rs,
                                 size_t rule, const json_t *ev, const struct kta_hit_source *src,
                                 const struct kta_buf *hit, const char *key, size_t keylen,
                                 struct kta_slot *slot)
{
    struct kta_corr_run *cr = o->pl->corr;
    int64_t t = kta_corr_event_time(ev, cr->time_fields, src->timestamp);

    kta_buf_reset(&o->inputs);
    if (!kta_corr_key_suppress(rs, rule, ev, t, src, hit->data, hit->len, key, keylen,
                               &o->inputs))
        return 0;
    return send_lines(o, &o->inputs, slot);
}

/* ---- owning: the worker of the partition ----------------------------------- */

/* Reads partition p of the changelog from its start to its end (the last
 * stable offset in exactly-once mode) into cs.  Returns 0, or -1 (logged)
 * when it could not be read within startup_timeout_ms. */
static int restore(struct kta_corr_owner *o, int32_t p, struct kta_corr *cs)
{
    const struct kta_config *cfg = o->pl->cfg;
    struct kta_corr_run *cr = o->pl->corr;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_t *rk;
    char err[512], errstr[512];
    int64_t end = kta_now_ms() + cfg->startup_timeout_ms;
    long n = 0, bad = 0;
    int rc = -1;

    if (kta_kafka_conf_apply(conf, cfg, 0, errstr, sizeof(errstr)) < 0 ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "isolation.level", cfg->exactly_once ? "read_committed"
                          : "read_uncommitted", err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "client.id", "kta-restore", err, sizeof(err)) ||
        /* The worker waits for this read: no fetch may sit at the end of
         * the partition waiting for more (the default waits 500 ms). */
        rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof(err))) {
        kta_log(KTA_LOG_ERROR, "correlation: restore consumer: %s", errstr[0] ? errstr : err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        kta_log(KTA_LOG_ERROR, "correlation: restore consumer: %s", err);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* The partition's leader first: assigned before it is known, the
     * start offset is asked for only when librdkafka's retry timer fires,
     * half a second later, for every partition restored. */
    {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, cr->changelog, NULL);
        const rd_kafka_metadata_t *md = NULL;

        if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, cfg->startup_timeout_ms) ==
                       RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        if (rkt)
            rd_kafka_topic_destroy(rkt);
    }
    list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, cr->changelog, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    while (kta_now_ms() < end && !kta_pipeline_giving_up(o->pl)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            rc = 0;
            break;
        }
        if (m->err) {
            if (kta_kafka_permanent(m->err)) {
                kta_log(KTA_LOG_ERROR, "correlation: reading '%s' [%d]: %s", cr->changelog,
                        (int)p, rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                break;
            }
        } else if (kta_corr_restore(cs, m->key, m->key_len, m->payload, m->len) < 0) {
            bad++;
        } else {
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc == 0)
        kta_log(KTA_LOG_INFO, "correlation: state of partition %d restored from '%s' (%ld "
                "records%s)", (int)p, cr->changelog, n, bad ? ", some skipped: see the "
                "correlation metrics" : "");
    else
        kta_log(KTA_LOG_ERROR, "correlation: could not read '%s' [%d] to its end within "
                "startup_timeout_ms (%d ms)", cr->changelog, (int)p, cfg->startup_timeout_ms);
    return rc;
}

/* p's state, restored when p is new to this worker in this epoch. */
static struct owned *state_of(struct kta_corr_owner *o, const struct kta_ruleset *rs, int32_t p)
{
    unsigned epoch = atomic_load_explicit(&o->pl->corr_epoch, memory_order_acquire);
    struct owned *s = NULL;

    if (o->nparts && o->parts[0].epoch != epoch)
        drop_states(o);   /* a rebalance or an abort since: the changelog is the truth */
    if (!o->rs) {
        kta_ruleset_incref((struct kta_ruleset *)rs);
        o->rs = (struct kta_ruleset *)rs;
    }
    for (size_t i = 0; i < o->nparts; i++)
        if (o->parts[i].partition == p)
            return &o->parts[i];
    o->parts = xrealloc(o->parts, (o->nparts + 1) * sizeof(*o->parts));
    s = &o->parts[o->nparts];
    s->partition = p;
    s->epoch = epoch;
    s->cs = kta_corr_new(o->rs, &o->pl->corr->opts);
    memset(&s->seen, 0, sizeof(s->seen));
    if (restore(o, p, s->cs) < 0) {
        kta_corr_free(s->cs);
        return NULL;
    }
    o->nparts++;
    ADD(corr_restores, 1);
    publish(o, s);
    return s;
}

static void on_hit(void *opaque, const struct kta_corr_hit *h)
{
    struct kta_corr_owner *o = opaque;
    struct kta_pipeline *pl = o->pl;
    const char *name = kta_map_get(&pl->cfg->topic_by_level, h->c->level);
    int topic = name ? kta_producer_topic_known(pl->producer, name) : KTA_TOPIC_HITS;
    char now[40];
    rd_kafka_headers_t *hdrs;
    char *key;

    if (o->failed)
        return;
    if (h->c->type == KTA_CORR_SUPPRESS) {
        /* A suppressed rule's hit let through: the rule as the worker's
         * ruleset has it (a reload keeps the suppressions, not the rule
         * numbers), produced like any hit of it. */
        const struct kta_corrdef *c = kta_ruleset_corr(o->cur, h->c->index);
        const struct kta_rule *r = c ? kta_ruleset_rule(o->cur, c->refs[0].index) : NULL;

        kta_buf_reset(&o->hit);
        kta_hit_encode_suppressed(&o->hit, h->hit, h->hitlen, h->count);
        if (!r || kta_worker_send_hit(o->w, r, o->hit.data, o->hit.len, h->hkey, h->hklen, NULL,
                                      o->slot) < 0)
            o->failed = 1;
        return;
    }
    kta_iso8601_now(now, sizeof(now));
    kta_buf_reset(&o->hit);
    kta_hit_encode_correlation(&o->hit, h, now, o->tail);
    key = json_dumps(h->group, JSON_COMPACT | JSON_ENSURE_ASCII);
    hdrs = rd_kafka_headers_new(3);
    rd_kafka_header_add(hdrs, "kta.rule.id", -1, h->c->id, -1);
    rd_kafka_header_add(hdrs, "kta.rule.level", -1, h->c->level, -1);
    rd_kafka_header_add(hdrs, "kta.correlation.type", -1, kta_hit_corr_type_name(h->c), -1);
    if (kta_producer_send(pl->producer, topic < 0 ? KTA_TOPIC_HITS : topic, key,
                          key ? strlen(key) : 0, o->hit.data, o->hit.len, hdrs, o->slot) < 0)
        o->failed = 1;
    else
        ADD(corr_hits, 1);
    free(key);
    /* Correlations of this correlation: its hit is their input, owned
     * wherever their group hashes to. */
    kta_buf_reset(&o->chain);
    if (!o->failed && kta_corr_key_hit(o->rs, h, &o->chain) && send_lines(o, &o->chain, o->slot) < 0)
        o->failed = 1;
    if (!o->failed && pl->cfg->print != KTA_PRINT_NONE) {
        kta_buf_reset(&o->line);
        kta_hit_correlation_line(&o->line, h);
        kta_worker_console_line(&o->line);
    }
}

static void on_change(void *opaque, const char *key, size_t klen, const char *value, size_t vlen)
{
    struct kta_corr_owner *o = opaque;
    struct kta_corr_run *cr = o->pl->corr;

    if (o->failed)
        return;
    if (kta_producer_send_to(o->pl->producer, cr->changelog_no, o->partition, key, klen, value,
                             vlen, NULL, o->slot) < 0)
        o->failed = 1;
}

int kta_corr_run_apply(struct kta_corr_owner *o, const struct kta_ruleset *rs,
                       const rd_kafka_message_t *rkm, struct kta_slot *slot,
                       const struct kta_buf *tail)
{
    struct owned *s = state_of(o, rs, rkm->partition);

    if (!s) {
        /* Without its state nothing of this partition may be committed. */
        kta_pipeline_stop(o->pl, 1);
        return -1;
    }
    o->partition = rkm->partition;
    o->cur = rs;
    o->slot = slot;
    o->tail = tail;
    o->failed = 0;
    if (kta_corr_apply_seq(s->cs, rkm->payload, rkm->len, rkm->offset, on_hit, o) < 0)
        kta_log(KTA_LOG_WARN, "correlation: a record of '%s' [%d] at offset %lld is not a "
                "correlation input; skipped", o->pl->corr->topic, (int)rkm->partition,
                (long long)rkm->offset);
    /* lt/lte windows that event time has passed are decided now (their
     * hits hold this record's slot, as the others do). */
    if (o->pl->corr->upper)
        kta_corr_close_passed(s->cs, on_hit, o);
    kta_corr_changes(s->cs, on_change, o);
    publish(o, s);
    return o->failed ? -1 : 0;
}
