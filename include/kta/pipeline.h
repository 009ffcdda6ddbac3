/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pipeline: `kta run` — consumer thread -> rings -> workers -> producer.
 *
 *   consumer.c  the consumer thread: Kafka -> one SPSC ring per worker,
 *               pause/resume, rebalances, lag
 *   commit.c    what is safe to commit: partitions, offset trackers,
 *               commits, the transaction cycle (kta/commit.h)
 *   worker.c    worker threads: ring -> event -> eval -> hits / dead letters
 *   producer.c  hits and dead letters -> Kafka; delivery reports finish
 *               the records' offset slots; the transactional calls
 *   pipeline.c  wiring: start-up checks, threads, signals, shutdown
 *   kafka.c     librdkafka glue shared with kta produce (kta/kafka.h)
 *   corr_run.c  correlation rules: inputs through correlation.topic to the
 *               one worker owning their group, state in its changelog
 *
 * struct kta_pipeline is the shared state those files see; nothing else
 * includes this header.
 */
#ifndef KTA_PIPELINE_H
#define KTA_PIPELINE_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <jansson.h>

#include "kta/config.h"
#include "kta/kafka.h"
#include "kta/event.h"
#include "kta/metrics.h"
#include "kta/offsets.h"
#include "kta/ring.h"
#include "kta/rules.h"
#include "kta/util.h"

struct kta_producer;
struct kta_consumer;
struct kta_worker;
struct kta_corr_run;
struct kta_corr_owner;
struct kta_hit_source;

/* Dead-letter reasons, indexed by enum kta_event_error (0 unused). */
#define KTA_DL_REASONS (KTA_EVENT_NOT_OBJECT + 1)

/* Counters.  Workers keep their own (no cache line shared between
 * workers on the hot path); the pipeline adds them up.  Each field has
 * one writer (relaxed atomics): a worker, or for the pipeline's own copy
 * the thread named. */
struct kta_stats {
    atomic_uint_fast64_t events;       /* records a worker started on */
    atomic_uint_fast64_t hits;         /* hit records produced */
    atomic_uint_fast64_t malformed;    /* records sent to the dead-letter topic */
    atomic_uint_fast64_t retries;      /* deliveries retried after an error (producer) */
    atomic_uint_fast64_t consumed;     /* records taken from Kafka (consumer thread) */
    atomic_uint_fast64_t processed;    /* records a worker finished */
    atomic_uint_fast64_t failures;     /* deliveries that failed for good (producer) */
    atomic_uint_fast64_t dead_letters[KTA_DL_REASONS];
    atomic_uint_fast64_t busy_us;      /* time spent on batches */
    /* Taken by the consumer to finished by a worker, in microseconds. */
    atomic_uint_fast64_t latency[KTA_LATENCY_BUCKETS + 1];
    atomic_uint_fast64_t latency_sum_us;
    /* Correlations (corr_run.c), summed over the partitions a worker owns. */
    atomic_uint_fast64_t corr_inputs;      /* correlation inputs applied */
    atomic_uint_fast64_t corr_hits;        /* correlation hits produced */
    atomic_uint_fast64_t corr_late;        /* inputs left out as late */
    atomic_uint_fast64_t corr_evicted;     /* groups evicted at correlation.max_groups */
    atomic_uint_fast64_t corr_dropped;     /* events dropped at correlation.max_events */
    atomic_uint_fast64_t corr_replayed;    /* inputs seen before (replays), not counted again */
    atomic_uint_fast64_t corr_bad;         /* inputs or changelog records that did not decode */
    atomic_uint_fast64_t corr_restores;    /* partitions whose state was read back */
    atomic_uint_fast64_t corr_groups;      /* groups held now (a gauge) */
    atomic_uint_fast64_t suppressed;       /* hits of rules with `suppress` held back */
};

struct kta_pipeline {
    const struct kta_config *cfg;
    struct kta_ruleset      *rs;            /* current ruleset; swapped under rs_lock */
    atomic_uint              rs_version;    /* bumped on every swap (the ruleset's
                                               * own version is its content digest) */
    pthread_mutex_t          rs_lock;
    atomic_int               reload;        /* SIGHUP: reload the rules now */
    struct kta_producer     *producer;
    struct kta_consumer     *consumer;
    struct kta_worker      **workers;       /* nworkers of them (worker.c) */
    int                      nworkers;
    atomic_int               stop;          /* stop intake: signal or fatal error */
    atomic_int_fast64_t      stop_ms;       /* kta_now_ms() of the first stop, 0 before */
    atomic_int               workers_stop;  /* workers exit once their ring is empty */
    atomic_int               fatal;         /* a non-recoverable error happened */
    struct kta_stats         stats;
    struct kta_metrics      *metrics;       /* hits by rule, lag snapshot, HTTP server */
    atomic_int               assigned;      /* partitions assigned (consumer thread) */
    atomic_int               running;       /* the consumer loop runs */
    atomic_uint_fast64_t     reloads;       /* rule reloads that took effect */
    atomic_uint_fast64_t     reload_failures;
    atomic_size_t            rules_loaded;  /* in the current ruleset */
    atomic_size_t            rules_enabled;
    struct kta_corr_run     *corr;          /* NULL: no correlation rules (corr_run.c) */
    atomic_uint              corr_epoch;    /* bumped on every assignment and every
                                             * aborted transaction: correlation state
                                             * held before it is read back again */
};

/* Runs `kta run` until SIGINT/SIGTERM or a fatal error.  Takes nothing;
 * returns the exit status: 0 drained and committed cleanly, 1 a runtime
 * failure, 2 rules that do not load or librdkafka settings it rejects. */
int kta_pipeline_run(const struct kta_config *cfg);

/* Loads and compiles cfg's rules (rules.*) as kta run does, each error
 * and warning logged; refuses a ruleset with no enabled rule unless
 * rules.allow_empty.  Returns a ruleset, or NULL with errstr set. */
struct kta_ruleset *kta_pipeline_load_rules(const struct kta_config *cfg,
                                            struct kta_rules_stats *rst,
                                            char *errstr, size_t errstr_size);

/* Asks the pipeline to stop (any thread, async-signal-safe). */
void kta_pipeline_stop(struct kta_pipeline *pl, int fatal);

/* Whether the work in flight is given up: after a fatal error, or once
 * shutdown_timeout_ms has passed since the stop.  A sender that gives up
 * leaves its record's slot held (unfinished), so no offset passes it.
 * Any thread; no lock. */
int kta_pipeline_giving_up(struct kta_pipeline *pl);

/* What is left of the stop's shutdown_timeout_ms, in ms (0 once it is
 * up; all of it before a stop).  Every wait of the shutdown (the drain,
 * leaving the group, the last abort) takes at most this, so a stop ends
 * within shutdown_timeout_ms whatever the broker does.  Any thread. */
int kta_pipeline_time_left(struct kta_pipeline *pl);

/* Returns the current ruleset with a new reference, and its version.
 * Any thread; takes rs_lock briefly, so call it only when rs_version
 * changed. */
struct kta_ruleset *kta_pipeline_ruleset(struct kta_pipeline *pl, unsigned *version);

/* ---- worker.c ---- */

/* The worker (0 .. nworkers-1) that evaluates every record of partition
 * `partition` of `topic`: the same for the partition's whole life, so its
 * hits keep their order.  Every place that picks a record's worker (the
 * ring, the overflow queue) calls this.  Thread: any. */
int  kta_worker_for(const char *topic, int32_t partition, int nworkers);
/* Writes one console line to stdout whole and at once (flushed: alerts
 * must not wait in a buffer), never interleaved with another worker's.
 * Thread: any worker. */
void kta_worker_console_line(const struct kta_buf *line);
/* Produces the hit of rule r of the worker's ruleset (hit, len bytes;
 * key NULL: no record key) to its route, holding slot, counts it and
 * prints its alert line (ev the event, or NULL: taken from the hit).
 * The worker's own matches and the hits its suppression state lets
 * through (corr_run.c) both come here.  Returns 0, or -1 when the
 * producer refused it.  Thread: worker w. */
int  kta_worker_send_hit(struct kta_worker *w, const struct kta_rule *r, const char *hit,
                         size_t len, const char *key, size_t keylen, const json_t *ev,
                         struct kta_slot *slot);
/* Starts worker `index` of pl: its ring, its evaluation context, its
 * thread.  Returns the worker, or NULL (nothing left behind) when the
 * thread cannot start.  Thread: main. */
struct kta_worker *kta_worker_new(struct kta_pipeline *pl, int index);
/* After pl->workers_stop: wakes the worker and waits for its thread to
 * end (its counters are final then).  Thread: main. */
void kta_worker_join(struct kta_worker *w);
/* Joins the worker if that was not done, and frees it.
 * kta_worker_free(NULL) does nothing.  Thread: main. */
void kta_worker_free(struct kta_worker *w);
/* The worker's ring: the consumer thread pushes, the worker pops.  The
 * same for the worker's life, so callers may keep it.  Thread: any. */
struct kta_ring *kta_worker_ring(const struct kta_worker *w);
/* The worker's counters (each written by the worker only; read them
 * with relaxed atomic loads).  Thread: any. */
const struct kta_stats *kta_worker_stats(const struct kta_worker *w);

/* Before rs is published (start-up, reload): gives the producer a topic
 * for every place a hit of rs may be routed to (output.topic_by_level,
 * each rule's output_topic), so that workers adopting rs find them.
 * Returns 0, or -1 with errstr when the producer's table is full.
 * Checking that those topics exist is the consumer's (kta_consumer_check
 * at start-up, kta_consumer_check_rule_topics on reload). */
int  kta_worker_routes(struct kta_pipeline *pl, const struct kta_ruleset *rs,
                       char *errstr, size_t errstr_size);

/* ---- producer.c ---- */

struct kta_producer *kta_producer_new(struct kta_pipeline *pl, char *errstr, size_t errstr_size);
/* Starts the thread that serves the producer's delivery reports (right
 * after kta_producer_new; replace_handle restarts it).  Returns 0, or -1
 * with errstr (when not NULL) naming the thread that could not start. */
int kta_producer_poll_start(struct kta_producer *p, char *errstr, size_t errstr_size);

/* The producer's topics by number: output.topic and dead_letter.topic
 * always, routed topics as kta_producer_topic adds them (at most
 * KTA_MAX_TOPICS in all, for the life of the process). */
#define KTA_MAX_TOPICS 256
enum { KTA_TOPIC_HITS = 0, KTA_TOPIC_DLQ = 1 };

/* The number of topic NAME, added (with its handle) when new.  Returns
 * -1 when the table is full.  Any thread; takes a lock, so call it when a
 * ruleset is prepared or adopted, never per record. */
int kta_producer_topic(struct kta_producer *p, const char *name);
/* The number of NAME if the producer has it, else -1; adds nothing. */
int kta_producer_topic_known(struct kta_producer *p, const char *name);
const char *kta_producer_topic_name(const struct kta_producer *p, int topic);

/* Sends one record to topic number `topic` (KTA_TOPIC_HITS, KTA_TOPIC_DLQ
 * or one from kta_producer_topic) and holds `slot` (may be NULL) until the
 * broker has acknowledged it.  Takes hdrs (may be NULL).  Waits while
 * librdkafka's queue is full, but not past kta_pipeline_giving_up (a stop
 * whose shutdown_timeout_ms is up).  Returns 0, or -1 when the record was
 * not queued: given up at a stop, or refused (the pipeline is then stopped
 * as fatal); either way the slot stays held, so the record's offset is not
 * committed.  In exactly-once mode a record the open transaction refuses
 * releases the slot instead (the transaction is aborted and rewound).
 * Thread: any worker; no lock. */
int kta_producer_send(struct kta_producer *p, int topic,
                      const void *key, size_t key_len,
                      const void *value, size_t value_len,
                      rd_kafka_headers_t *hdrs, struct kta_slot *slot);

/* kta_producer_send to one partition (RD_KAFKA_PARTITION_UA: the
 * partitioner's choice, as kta_producer_send).  A record produced again
 * after a failed delivery stays on its partition. */
int kta_producer_send_to(struct kta_producer *p, int topic, int32_t partition,
                         const void *key, size_t key_len,
                         const void *value, size_t value_len,
                         rd_kafka_headers_t *hdrs, struct kta_slot *slot);

/* Waits up to timeout_ms for every queued record to be acknowledged.
 * Returns how many are still outstanding. */
int kta_producer_flush(struct kta_producer *p, int timeout_ms);
rd_kafka_t *kta_producer_handle(struct kta_producer *p);

/* 1 while the producer is known to reach a broker: set by a metadata
 * answer or a delivery, cleared when librdkafka says all brokers are
 * down.  Any thread. */
int kta_producer_connected(struct kta_producer *p);
/* Asks a broker for the output topic's metadata (up to timeout_ms) and
 * sets the connected flag from the answer.  Any thread but the poller. */
void kta_producer_probe(struct kta_producer *p, int timeout_ms);

/* After the start-up checks: in exactly-once mode, initialises the
 * transactional producer (fencing older instances with the same
 * transactional.id) and opens the first transaction. */
int kta_producer_start(struct kta_producer *p, char *errstr, size_t errstr_size);

/* processing.guarantee: exactly_once.  Hits, dead letters and the input
 * offsets go out in one Kafka transaction per commit interval. */
int kta_producer_transactional(const struct kta_producer *p);

/* Exactly-once, the transactional calls commit.c decides between (it
 * owns the transaction's states; the producer owns the handle).  Consumer
 * thread, with the workers idle.  Each returns librdkafka's error (NULL
 * on success; the caller destroys it).  kta_producer_txn_begin also
 * forgets the previous transaction's failed-record flag. */
int kta_producer_txn_failed(struct kta_producer *p);    /* a record of the open one failed */
rd_kafka_error_t *kta_producer_txn_send_offsets(struct kta_producer *p,
                                                const rd_kafka_topic_partition_list_t *offsets,
                                                const rd_kafka_consumer_group_metadata_t *cgmd,
                                                int timeout_ms);
rd_kafka_error_t *kta_producer_txn_commit(struct kta_producer *p, int timeout_ms);
rd_kafka_error_t *kta_producer_txn_abort(struct kta_producer *p, int timeout_ms);
rd_kafka_error_t *kta_producer_txn_begin(struct kta_producer *p);
/* Fenced or fatal: replaces the librdkafka handle (same transactional.id,
 * which fences any zombie once kta_producer_txn_init has run; then
 * kta_producer_txn_begin).  Returns 0, or -1 with errstr when no handle
 * can be made.  kta_producer_txn_init may time out: calling it again
 * resumes it. */
int kta_producer_txn_replace(struct kta_producer *p, char *errstr, size_t errstr_size);
rd_kafka_error_t *kta_producer_txn_init(struct kta_producer *p, int timeout_ms);
void kta_producer_free(struct kta_producer *p);

/* ---- corr_run.c ---- */

/* Start-up, after the brokers answered, when pl->rs has correlation
 * rules: creates correlation.topic and its changelog if missing (saying
 * so), checks their partitions and sets pl->corr.  Returns 0 (also when
 * there is nothing to do), or -1 with errstr.  Thread: main. */
int kta_corr_run_setup(struct kta_pipeline *pl, char *errstr, size_t errstr_size);
void kta_corr_run_free(struct kta_pipeline *pl);
/* correlation.topic, or NULL without correlations.  Thread: any. */
const char *kta_corr_run_topic(const struct kta_pipeline *pl);
/* A reload may change base rules but not the running correlations (nor
 * bring the first ones): -1 with errstr when rs's differ.  Thread: the
 * reloader. */
int kta_corr_run_check_reload(struct kta_pipeline *pl, const struct kta_ruleset *rs,
                              char *errstr, size_t errstr_size);
/* A worker's correlation state (NULL when pl has no correlations); its
 * counters go to stats (the worker's).  Thread: that worker, for every
 * function below. */
struct kta_corr_owner *kta_corr_owner_new(struct kta_pipeline *pl, struct kta_worker *w,
                                          struct kta_stats *stats);
void kta_corr_owner_free(struct kta_corr_owner *o);
/* Base rule `rule` of rs matched ev: sends its correlation inputs to
 * correlation.topic, each holding slot.  Returns 0, or -1 when the
 * producer refused one (as kta_producer_send). */
int kta_corr_run_send_inputs(struct kta_corr_owner *o, const struct kta_ruleset *rs, size_t rule,
                             const json_t *ev, const struct kta_hit_source *src,
                             struct kta_slot *slot);
/* Rule `rule` of rs has `suppress` and matched ev: its encoded hit (and
 * record key, or NULL) goes to the owner of its `by` values through
 * correlation.topic, holding slot, and is produced there unless held
 * back (kta_worker_send_hit).  Returns as kta_corr_run_send_inputs. */
int kta_corr_run_send_suppressed(struct kta_corr_owner *o, const struct kta_ruleset *rs,
                                 size_t rule, const json_t *ev, const struct kta_hit_source *src,
                                 const struct kta_buf *hit, const char *key, size_t keylen,
                                 struct kta_slot *slot);
/* A record of correlation.topic: applied to its partition's state (read
 * back from the changelog first when needed); correlation hits and the
 * changed groups are sent holding slot.  Returns 0, or -1 when something
 * was not sent (the pipeline is then stopping). */
int kta_corr_run_apply(struct kta_corr_owner *o, const struct kta_ruleset *rs,
                       const rd_kafka_message_t *rkm, struct kta_slot *slot,
                       const struct kta_buf *tail);

/* ---- consumer.c ---- */
struct kta_consumer *kta_consumer_new(struct kta_pipeline *pl, char *errstr, size_t errstr_size);
/* Start-up checks: brokers reachable, every topic exists (input, output,
 * dead-letter and every routed one: output.topic_by_level and the
 * current ruleset's output_topic keys). */
int kta_consumer_check(struct kta_consumer *c, char *errstr, size_t errstr_size);
/* After an aborted transaction: -1 with errstr when a topic kta needs is
 * gone or unusable, from one metadata request of up to timeout_ms; 0 when
 * all are there or the brokers did not answer (that is no reason to
 * stop: the next abort asks again).  Consumer thread. */
int kta_consumer_check_topics(struct kta_consumer *c, int timeout_ms, char *errstr,
                              size_t errstr_size);
/* On reload: every output_topic of rs that p has no handle for yet exists
 * (one metadata request; none when there is no new topic).  Returns 0, or
 * -1 with errstr naming the rule and the topic.  Thread: any. */
int kta_consumer_check_rule_topics(struct kta_consumer *c, const struct kta_ruleset *rs,
                                   struct kta_producer *p, char *errstr, size_t errstr_size);
/* What kta_consumer_new refuses in cfg without building anything: the
 * cooperative assignors.  Returns 0, or -1 with errstr set. */
int kta_consumer_conf_check(const struct kta_config *cfg, char *errstr, size_t errstr_size);
/* The consumer thread's loop (runs on the calling thread) until stop;
 * then drains and commits.  Returns 0 when everything in flight was
 * finished and committed. */
int kta_consumer_run(struct kta_consumer *c);
void kta_consumer_free(struct kta_consumer *c);

#endif
