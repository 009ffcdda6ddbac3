/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_eval: `kta eval` — the worker path without Kafka: JSON lines from
 * files or stdin -> record.c (the very call `kta run`'s workers make) ->
 * one hit JSON per line on stdout.  Rule writers use it to try rules;
 * tests/rules/ uses it as the oracle, and `--reference` (decode every line,
 * evaluate every rule) is the oracle's oracle.
 *
 * Input is read in blocks of whole lines ("chunks", CHUNK_BYTES or more
 * when a line is longer).  With one thread the main thread reads,
 * evaluates and writes each chunk in turn.  With N threads it only reads:
 *
 *   main (reader) --READY--> N evaluators --DONE--> writer --FREE--> main
 *
 * over a fixed ring of chunk slots.  A slot's state says who owns it:
 * FREE the reader, READY/BUSY the evaluators, DONE the writer; all state
 * changes happen under e->lock.  The writer takes chunks strictly in input
 * order, so stdout and stderr (hits, malformed-line reports, file errors)
 * are the same bytes whatever the thread count, `detected_at` aside.
 * Buffers are per slot and per thread and are reused: a steady stream
 * allocates only inside jansson.
 *
 * With -t TOPIC (a backtest) the records come from src/backtest.c, which
 * reads a topic range without a consumer group, instead of from files, and
 * go through the same evaluation one at a time on the main thread; hits
 * name topic/partition/offset as their source.  Talks to Kafka only
 * through backtest.c; prints only here, in the command layer.
 */
#include "kta/backtest.h"
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/correlate.h"
#include "kta/event.h"
#include "kta/hit.h"
#include "kta/record.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVAL_MAX_LINE    (16u << 20)
#define CHUNK_BYTES      (256u << 10)
#define EVAL_MAX_THREADS 256
#define PROGRESS_MS      250

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

struct chunk {
    enum slot_state state;
    /* Filled by the reader: whole lines; only a file's last line may lack
     * its '\n'. */
    char           *buf;
    size_t          len, cap;
    const char     *file;      /* "-" for stdin */
    long            line0;     /* line number before the first line */
    long            line_end;  /* of the last line (set by eval_chunk) */
    struct kta_buf  note;      /* a file error to report after the chunk */
    /* Filled by an evaluator. */
    struct kta_buf  out;       /* hit lines */
    struct kta_buf  err;       /* malformed-line reports */
    uint64_t        events, hits, malformed;
    uint64_t        suppressed;   /* base-rule hits kept for correlations only */
};

/* In a chunk's out, a line that starts with CORR_MARK is a correlation
 * input (correlate.h), applied by the writer in input order; the others
 * are hits. */
#define CORR_MARK '\x1e'

struct eval;

struct thread {
    struct eval         *e;
    pthread_t            tid;
    struct kta_eval_ctx *ctx;
    struct kta_buf       hit;
    struct kta_buf       ckey;       /* correlation inputs of one hit */
    uint64_t            *rule_hits;  /* per rule index, with --stats */
};

struct rule_ref {
    const struct kta_rule *r;
    size_t                 index;
};

struct eval {
    const struct kta_ruleset *rs;
    struct kta_buf            tail;      /* ends every hit: kta and ruleset versions */
    int                       reference, stats, quiet, tty;
    size_t                    max_bytes;
    struct rule_ref          *by_addr;   /* rules sorted by address, with --stats */
    size_t                    nrules;

    /* Correlation rules: keyed by the evaluators, owned by the writer. */
    struct kta_corr          *corr;      /* NULL: the ruleset has none */
    char                    **time_fields;   /* NULL: the defaults */
    atomic_int                notime_said;
    struct kta_buf            cout;      /* the writer's rebuilt output */
    uint64_t                  corr_hits;

    struct thread            *th;
    int                       nthreads;
    struct chunk             *slots;
    size_t                    nslots;
    pthread_mutex_t           lock;
    pthread_cond_t            ready, done, freed;
    uint64_t                  fill_seq, take_seq, write_seq;  /* chunk sequence numbers */
    int                       eof;          /* the reader has no more chunks */
    pthread_t                 writer;

    /* Written by the writer only (the main thread when single-threaded),
     * read by the main thread after joining it. */
    uint64_t                  events, hits, malformed;
    atomic_int                write_failed;
    double                    t0;           /* monotonic seconds at the start */
    int64_t                   progress_ms;
    int                       progress_shown;
};

/* ---- evaluating a chunk ------------------------------------------------ */

struct line_job {
    struct thread *t;
    struct chunk  *c;
};

static int cmp_rule_ref(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct rule_ref *)a)->r;
    uintptr_t y = (uintptr_t)((const struct rule_ref *)b)->r;

    return x < y ? -1 : x > y;
}

/* Thread: an evaluator (or main). */
static int on_hit(void *opaque, struct kta_record *rec, const struct kta_rule *r)
{
    struct line_job *j = opaque;
    struct eval *e = j->t->e;
    size_t idx = kta_rule_index(r), ncorr;
    int gen = !e->corr || kta_ruleset_rule_generates(e->rs, idx);
    int sup = gen && e->corr && kta_ruleset_rule_suppress(e->rs, idx) != (size_t)-1;
    int keyed = e->corr && kta_ruleset_rule_corrs(e->rs, idx, &ncorr);
    json_t *ev = NULL;
    int64_t t = -1;

    if (sup || keyed) {
        ev = json_loadb(rec->data, rec->len, 0, NULL);
        t = kta_corr_event_time(ev, (const char *const *)e->time_fields, rec->src->timestamp);
    }
    /* The base rule's own hit first, then its correlation inputs: a
     * correlation hit completed by this event follows it.  A rule with
     * `suppress` has its hit applied by the writer, in its place. */
    if (sup) {
        kta_buf_append(&j->c->out, (char[]){ CORR_MARK }, 1);
        kta_corr_key_suppress(e->rs, idx, ev, t, rec->src, rec->hit->data, rec->hit->len, NULL,
                              0, &j->c->out);
        j->c->suppressed++;
    } else if (gen) {
        kta_buf_reserve(&j->c->out, rec->hit->len + 1);
        kta_buf_append(&j->c->out, rec->hit->data, rec->hit->len);
        kta_buf_append(&j->c->out, "\n", 1);
    } else {
        j->c->suppressed++;
    }
    /* Collected for the whole event, appended after its last hit
     * (eval_chunk), so correlation hits follow every base hit. */
    if (keyed)
        kta_corr_key(e->rs, idx, ev, t, rec->src, &j->t->ckey);
    json_decref(ev);
    if (e->stats) {
        struct rule_ref key = { .r = r }, *ref;

        ref = bsearch(&key, e->by_addr, e->nrules, sizeof(*e->by_addr), cmp_rule_ref);
        if (ref)
            j->t->rule_hits[ref->index]++;
    }
    return 0;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t')
            return 0;
    return 1;
}

/* Evaluates one record (a line, or a record of a topic) into c: its hits
 * and correlation inputs, counted.  Returns kta_record_eval's result: < 0
 * when the record is malformed (rec->err and rec->detail say why, until
 * kta_record_done).  Thread: an evaluator (or main). */
static long eval_one(struct thread *t, struct chunk *c, struct kta_record *rec,
                     struct line_job *j)
{
    const struct eval *e = t->e;
    long nhits;

    c->events++;
    kta_buf_reset(&t->ckey);
    nhits = kta_record_eval(e->rs, t->ctx, e->max_bytes, e->reference, rec, on_hit, j);
    for (const char *q = t->ckey.data, *qe = q + t->ckey.len, *nl2; q < qe; q = nl2 + 1) {
        nl2 = memchr(q, '\n', (size_t)(qe - q));
        kta_buf_append(&c->out, "\x1e", 1);
        kta_buf_append(&c->out, q, (size_t)(nl2 - q) + 1);
    }
    if (nhits < 0)
        c->malformed++;
    else
        c->hits += (uint64_t)nhits;
    return nhits;
}

/* Evaluates every line of c.  Thread: an evaluator (or main). */
static void eval_chunk(struct thread *t, struct chunk *c)
{
    const struct eval *e = t->e;
    const char *p = c->buf, *end = c->buf + c->len;
    struct kta_hit_source src = { .file = c->file, .timestamp = -1 };
    struct kta_record rec = { .src = &src, .hit = &t->hit, .tail = &e->tail };
    struct line_job j = { .t = t, .c = c };
    long line = c->line0;

    kta_buf_reset(&c->out);
    kta_buf_reset(&c->err);
    c->events = c->hits = c->malformed = c->suppressed = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);

        line++;
        while (n > 0 && p[n - 1] == '\r')
            n--;
        if (!blank(p, n)) {             /* blank lines count but are skipped */
            src.line = line;
            rec.data = p;
            rec.len = n;
            if (eval_one(t, c, &rec, &j) < 0)
                kta_buf_printf(&c->err, "%s:%ld: malformed event (%s): %s\n", c->file, line,
                               kta_event_error_name(rec.err), rec.detail);
            kta_record_done(&rec);
        }
        p = nl ? nl + 1 : end;
    }
    c->line_end = line;
    c->hits -= c->suppressed;
}

/* ---- writing, in input order ------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_erase(struct eval *e)
{
    if (e->progress_shown) {
        write_all(2, "\r\033[K", 4);
        e->progress_shown = 0;
    }
}

/* The progress line, at most every PROGRESS_MS and only on a terminal.
 * Thread: the writer (or main). */
static void progress(struct eval *e)
{
    int64_t now = kta_now_ms();
    double secs = now_s() - e->t0;
    char line[160];
    int n;

    if (!e->tty || now - e->progress_ms < PROGRESS_MS)
        return;
    e->progress_ms = now;
    n = snprintf(line, sizeof(line), "\r%llu events, %.0f events/s, %llu hits\033[K",
                 (unsigned long long)e->events, secs > 0 ? (double)e->events / secs : 0.0,
                 (unsigned long long)e->hits);
    if (n > 0 && (size_t)n < sizeof(line)) {
        write_all(2, line, (size_t)n);
        e->progress_shown = 1;
    }
}

/* Thread: the writer (or main). */
static void on_corr_hit(void *opaque, const struct kta_corr_hit *h)
{
    struct eval *e = opaque;
    char now[40];

    if (h->c->type == KTA_CORR_SUPPRESS)
        kta_hit_encode_suppressed(&e->cout, h->hit, h->hitlen, h->count);
    else {
        kta_iso8601_now(now, sizeof(now));
        kta_hit_encode_correlation(&e->cout, h, now, &e->tail);
    }
    kta_buf_append(&e->cout, "\n", 1);
    e->corr_hits++;
}

/* Applies the chunk's correlation inputs in order, leaving hits and
 * correlation hits in e->cout.  Thread: the writer (or main). */
static void apply_correlations(struct eval *e, struct chunk *c)
{
    const char *p = c->out.data, *end = p + c->out.len, *nl;

    kta_buf_reset(&e->cout);
    for (; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (*p == CORR_MARK) {
            if (kta_corr_apply(e->corr, p + 1, (size_t)(nl - p - 1), on_corr_hit, e) < 0)
                kta_log(KTA_LOG_ERROR, "eval: internal: a correlation input did not decode");
        } else {
            kta_buf_append(&e->cout, p, (size_t)(nl - p) + 1);
        }
    }
    kta_buf_reset(&c->out);
    if (e->cout.len)
        kta_buf_append(&c->out, e->cout.data, e->cout.len);
}

/* Thread: the writer (or main). */
static void write_chunk(struct eval *e, struct chunk *c)
{
    if (e->corr && c->out.len)
        apply_correlations(e, c);
    if (c->out.len && !atomic_load(&e->write_failed) &&
        write_all(1, c->out.data, c->out.len) < 0) {
        progress_erase(e);
        kta_log(KTA_LOG_ERROR, "eval: cannot write hits: %s", strerror(errno));
        atomic_store(&e->write_failed, 1);
    }
    if (c->err.len || c->note.len) {
        progress_erase(e);
        write_all(2, c->err.data, c->err.len);
        write_all(2, c->note.data, c->note.len);
    }
    e->events += c->events;
    e->hits += c->hits;
    e->malformed += c->malformed;
    c->len = 0;
    kta_buf_reset(&c->note);
    progress(e);
}

/* ---- threads ----------------------------------------------------------- */

/* Takes READY chunks in sequence order, leaves them DONE.  Thread: evaluator. */
static void *evaluator_main(void *arg)
{
    struct thread *t = arg;
    struct eval *e = t->e;

    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct chunk *c;

        while (e->take_seq == e->fill_seq && !e->eof)
            pthread_cond_wait(&e->ready, &e->lock);
        if (e->take_seq == e->fill_seq)
            break;
        c = &e->slots[e->take_seq++ % e->nslots];
        c->state = SLOT_BUSY;
        pthread_mutex_unlock(&e->lock);
        eval_chunk(t, c);
        pthread_mutex_lock(&e->lock);
        c->state = SLOT_DONE;
        pthread_cond_signal(&e->done);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Writes DONE chunks strictly in sequence order, leaves them FREE.
 * Thread: writer. */
static void *writer_main(void *arg)
{
    struct eval *e = arg;

    pthread_mutex_lock(&e->lock);
    for (;;) {
        struct chunk *c = &e->slots[e->write_seq % e->nslots];

        if (e->write_seq < e->fill_seq && c->state == SLOT_DONE) {
            pthread_mutex_unlock(&e->lock);
            write_chunk(e, c);
            pthread_mutex_lock(&e->lock);
            c->state = SLOT_FREE;
            e->write_seq++;
            pthread_cond_signal(&e->freed);
            continue;
        }
        if (e->eof && e->write_seq == e->fill_seq)
            break;
        if (e->tty) {
            /* Wake up now and then to keep the progress line moving on
             * slow input. */
            struct timespec ts;

            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += PROGRESS_MS * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&e->done, &e->lock, &ts);
            pthread_mutex_unlock(&e->lock);
            progress(e);
            pthread_mutex_lock(&e->lock);
        } else {
            pthread_cond_wait(&e->done, &e->lock);
        }
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* A free slot for the reader; the single-threaded run has just one.
 * Thread: main. */
static struct chunk *slot_get(struct eval *e)
{
    struct chunk *c;

    if (e->nthreads == 1)
        return &e->slots[0];
    pthread_mutex_lock(&e->lock);
    c = &e->slots[e->fill_seq % e->nslots];
    while (c->state != SLOT_FREE)
        pthread_cond_wait(&e->freed, &e->lock);
    pthread_mutex_unlock(&e->lock);
    return c;
}

/* Hands a filled slot on: evaluated and written now when single-threaded,
 * else queued for the evaluators.  Thread: main. */
static void slot_put(struct eval *e, struct chunk *c)
{
    if (e->nthreads == 1) {
        eval_chunk(&e->th[0], c);
        write_chunk(e, c);
        return;
    }
    pthread_mutex_lock(&e->lock);
    c->state = SLOT_READY;
    e->fill_seq++;
    pthread_cond_signal(&e->ready);
    pthread_mutex_unlock(&e->lock);
}

/* ---- reading ------------------------------------------------------------ */

struct reader {
    int            fd;
    const char    *file;
    long           line;      /* lines handed out so far */
    struct kta_buf carry;     /* a partial line left over from the last chunk */
    int            eof;
    int            error;     /* errno of a failed read (then eof is set too) */
};

static size_t count_lines(const char *p, size_t n)
{
    const char *end = p + n;
    size_t lines = 0;

    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        lines++;
        p++;
    }
    return lines;
}

/* More input now, without blocking?  Regular files always say yes. */
static int readable_now(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    return poll(&pfd, 1, 0) > 0;
}

/*
 * Fills c with the next whole lines of the file: until the buffer is full,
 * or the input has nothing more right now (so that interactive input and
 * `tail -f` get their hits at once).  Returns 1 when c holds lines, 0 when
 * the file has no more.  A read error ends the file as its end would, with
 * rd->error set; the lines read before it are still handed out.
 * Thread: main.
 */
static int fill(struct reader *rd, struct chunk *c)
{
    if (c->cap < CHUNK_BYTES || c->cap < rd->carry.len * 2) {
        c->cap = CHUNK_BYTES > rd->carry.len * 2 ? CHUNK_BYTES : rd->carry.len * 2;
        free(c->buf);
        c->buf = xmalloc(c->cap);
    }
    if (rd->carry.len)
        memcpy(c->buf, rd->carry.data, rd->carry.len);
    c->len = rd->carry.len;
    kta_buf_reset(&rd->carry);
    while (!rd->eof) {
        ssize_t n = read(rd->fd, c->buf + c->len, c->cap - c->len);
        const char *nl;

        if (n < 0) {
            if (errno == EINTR)
                continue;
            rd->error = errno;
            rd->eof = 1;
            break;
        }
        if (n == 0) {
            rd->eof = 1;
            break;
        }
        c->len += (size_t)n;
        if (c->len < c->cap && readable_now(rd->fd))
            continue;
        nl = memrchr(c->buf, '\n', c->len);
        if (!nl) {
            if (c->len == c->cap) {          /* a line longer than the buffer */
                c->cap *= 2;
                c->buf = xrealloc(c->buf, c->cap);
            }
            continue;
        }
        kta_buf_append(&rd->carry, nl + 1, (size_t)(c->buf + c->len - (nl + 1)));
        c->len = (size_t)(nl + 1 - c->buf);
        break;
    }
    c->file = rd->file;
    c->line0 = rd->line;
    return c->len > 0;
}

/* Reads one file through the slots.  Returns 0, or -1 when it could not
 * be opened or read (reported in input order through a chunk's note). */
static int eval_file(struct eval *e, const char *path)
{
    struct reader rd = { .fd = 0, .file = "-" };
    struct chunk *c;
    int got, owned = strcmp(path, "-") != 0;

    if (owned) {
        rd.file = path;
        rd.fd = open(path, O_RDONLY | O_CLOEXEC);
        if (rd.fd < 0) {
            c = slot_get(e);
            c->len = 0;
            c->file = path;
            kta_buf_printf(&c->note, "kta: error: %s: %s\n", path, strerror(errno));
            slot_put(e, c);
            return -1;
        }
    }
    do {
        c = slot_get(e);
        got = fill(&rd, c);
        if (rd.eof && rd.error)
            kta_buf_printf(&c->note, "kta: error: %s: read error: %s\n", rd.file,
                           strerror(rd.error));
        /* The next chunk's first line number: counted here when chunks are
         * evaluated in parallel; a single thread learns it from
         * eval_chunk, which saves a pass over the input. */
        if (e->nthreads > 1)
            rd.line += (long)count_lines(c->buf, c->len) +
                       (c->len > 0 && c->buf[c->len - 1] != '\n');
        if (got || c->note.len)
            slot_put(e, c);
        if (e->nthreads == 1 && got)
            rd.line = c->line_end;
    } while (!rd.eof && !atomic_load(&e->write_failed));
    if (owned)
        close(rd.fd);
    kta_buf_free(&rd.carry);
    return rd.error ? -1 : 0;
}

/* ---- reading a topic (backtest.c) -------------------------------------- */

/* One record of the topic, evaluated and written at once, as a chunk of
 * one line would be: one thread, so in the order backtest.c hands them
 * over.  Thread: main. */
static int on_topic_record(void *opaque, const char *topic, int32_t partition, int64_t offset,
                           int64_t timestamp, const void *data, size_t len)
{
    struct eval *e = opaque;
    struct chunk *c = &e->slots[0];
    struct thread *t = &e->th[0];
    struct kta_hit_source src = { .topic = topic, .partition = partition, .offset = offset,
                                  .timestamp = timestamp };
    struct kta_record rec = { .src = &src, .hit = &t->hit, .tail = &e->tail,
                              .data = data ? data : "", .len = len };
    struct line_job j = { .t = t, .c = c };

    kta_buf_reset(&c->out);
    kta_buf_reset(&c->err);
    c->events = c->hits = c->malformed = c->suppressed = 0;
    c->len = 0;
    if (eval_one(t, c, &rec, &j) < 0)
        kta_buf_printf(&c->err, "%s/%d/%lld: malformed event (%s): %s\n", topic, (int)partition,
                       (long long)offset, kta_event_error_name(rec.err), rec.detail);
    kta_record_done(&rec);
    c->hits -= c->suppressed;
    write_chunk(e, c);
    return atomic_load(&e->write_failed) ? -1 : 0;
}

/* ---- reports ------------------------------------------------------------ */

struct rule_count {
    const struct kta_rule *r;
    uint64_t               hits;
};

static int cmp_rule_count(const void *a, const void *b)
{
    const struct rule_count *x = a, *y = b;

    if (x->hits != y->hits)
        return x->hits < y->hits ? 1 : -1;
    return strcmp(kta_rule_id(x->r), kta_rule_id(y->r));
}

/* --stats: hits per rule, most first, and the engine's work per event. */
static void print_stats(const struct eval *e)
{
    struct rule_count *rc = xcalloc(e->nrules, sizeof(*rc));
    struct kta_eval_stats st;
    uint64_t rules = 0, parsed = 0;
    size_t n = 0;

    for (size_t i = 0; i < e->nrules; i++) {
        uint64_t hits = 0;

        for (int k = 0; k < e->nthreads; k++)
            hits += e->th[k].rule_hits[i];
        if (hits)
            rc[n++] = (struct rule_count){ kta_ruleset_rule(e->rs, i), hits };
    }
    qsort(rc, n, sizeof(*rc), cmp_rule_count);
    fprintf(stderr, "kta: eval: hits per rule (%zu of %zu rules hit):\n", n, e->nrules);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%10llu  %s  %s\n", (unsigned long long)rc[i].hits, kta_rule_id(rc[i].r),
                kta_rule_title(rc[i].r));
    for (int k = 0; k < e->nthreads; k++) {
        kta_eval_ctx_stats(e->th[k].ctx, &st);
        rules += st.rules;
        parsed += st.parsed;
    }
    if (e->reference)
        parsed = e->events;    /* kta_eval_raw counts parses; the reference decodes all */
    fprintf(stderr, "kta: eval: %.2f rules evaluated per event (%llu evaluations), "
            "%.1f%% of events parsed\n",
            e->events ? (double)rules / (double)e->events : 0.0, (unsigned long long)rules,
            e->events ? 100.0 * (double)parsed / (double)e->events : 0.0);
    free(rc);
}

static void print_summary(const struct eval *e)
{
    double secs = now_s() - e->t0;

    if (e->corr) {
        struct kta_corr_stats st;

        kta_corr_get_stats(e->corr, &st);
        fprintf(stderr, "kta: eval: correlations: %llu hits, %llu inputs, %llu late, "
                "%llu quiet, %llu groups evicted, %llu events dropped, %llu groups open"
                "%s%.0llu%s\n",
                (unsigned long long)st.hits, (unsigned long long)st.events,
                (unsigned long long)st.late, (unsigned long long)st.quiet,
                (unsigned long long)st.evicted, (unsigned long long)st.dropped,
                (unsigned long long)st.groups, st.suppressed ? "; " : "",
                (unsigned long long)st.suppressed, st.suppressed ? " hits suppressed" : "");
    }
    fprintf(stderr, "kta: eval: %llu events, %llu hits, %llu malformed in %.2f s "
            "(%.0f events/s)\n", (unsigned long long)e->events,
            (unsigned long long)(e->hits + e->corr_hits),
            (unsigned long long)e->malformed, secs,
            secs > 0 ? (double)e->events / secs : (double)e->events);
}

/* ---- the command ------------------------------------------------------- */

static int start_threads(struct eval *e)
{
    e->nslots = e->nthreads == 1 ? 1 : (size_t)e->nthreads * 4;
    e->slots = xcalloc(e->nslots, sizeof(*e->slots));
    e->th = xcalloc((size_t)e->nthreads, sizeof(*e->th));
    for (int i = 0; i < e->nthreads; i++) {
        e->th[i].e = e;
        e->th[i].ctx = kta_eval_ctx_new();
        if (e->stats)
            e->th[i].rule_hits = xcalloc(e->nrules ? e->nrules : 1, sizeof(uint64_t));
    }
    if (e->nthreads == 1)
        return 0;
    pthread_mutex_init(&e->lock, NULL);
    pthread_cond_init(&e->ready, NULL);
    pthread_cond_init(&e->done, NULL);
    pthread_cond_init(&e->freed, NULL);
    for (int i = 0; i < e->nthreads; i++)
        if (pthread_create(&e->th[i].tid, NULL, evaluator_main, &e->th[i]) != 0)
            goto fail;
    if (pthread_create(&e->writer, NULL, writer_main, e) != 0)
        goto fail;
    return 0;
fail:
    kta_log(KTA_LOG_ERROR, "eval: cannot start a thread");
    abort();
}

static void stop_threads(struct eval *e)
{
    if (e->nthreads == 1)
        return;
    pthread_mutex_lock(&e->lock);
    e->eof = 1;
    pthread_cond_broadcast(&e->ready);
    pthread_cond_broadcast(&e->done);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->th[i].tid, NULL);
    pthread_join(e->writer, NULL);
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->ready);
    pthread_cond_destroy(&e->done);
    pthread_cond_destroy(&e->freed);
}

static void free_all(struct eval *e)
{
    for (size_t i = 0; i < e->nslots; i++) {
        free(e->slots[i].buf);
        kta_buf_free(&e->slots[i].note);
        kta_buf_free(&e->slots[i].out);
        kta_buf_free(&e->slots[i].err);
    }
    free(e->slots);
    for (int i = 0; e->th && i < e->nthreads; i++) {
        kta_eval_ctx_free(e->th[i].ctx);
        kta_buf_free(&e->th[i].hit);
        kta_buf_free(&e->th[i].ckey);
        free(e->th[i].rule_hits);
    }
    free(e->th);
    free(e->by_addr);
    kta_corr_free(e->corr);
    kta_buf_free(&e->cout);
    for (size_t i = 0; e->time_fields && e->time_fields[i]; i++)
        free(e->time_fields[i]);
    free(e->time_fields);
}

/* "5m" etc. or "0" -> ms; -1 when malformed. */
static int64_t parse_span(const char *s)
{
    char *end;
    long long n;

    if (strcmp(s, "0") == 0)
        return 0;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || n < 0 || n > 1000000000LL || end[0] == '\0' || end[1] != '\0')
        return -1;
    switch (end[0]) {
    case 's': return n * 1000;
    case 'm': return n * 60000;
    case 'h': return n * 3600000;
    case 'd': return n * 86400000;
    default: return -1;
    }
}

/* Splits "a,b" into a NULL-terminated list; NULL for an empty item. */
static char **split_fields(const char *s)
{
    char **out = NULL;
    size_t n = 0;
    const char *p = s;

    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);

        if (len == 0) {
            for (size_t i = 0; i < n; i++)
                free(out[i]);
            free(out);
            return NULL;
        }
        out = xrealloc(out, (n + 2) * sizeof(*out));
        out[n] = xmalloc(len + 1);
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        out[++n] = NULL;
        if (!comma)
            return out;
        p = comma + 1;
    }
}

int kta_cmd_eval(int argc, char **argv)
{
    struct eval e = { .nthreads = 1, .max_bytes = EVAL_MAX_LINE };
    struct kta_ruleset *rs = NULL;
    struct kta_cli cli;
    long long nthreads = 1;
    const char *topic = NULL;
    enum kta_start from_kind = KTA_START_BEGINNING;
    long long from = 0;
    struct kta_backtest_until until = { 1, 0 };
    char errstr[1024];
    int rc = 0;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    e.reference = cli.given[KTA_O_REFERENCE] > 0;
    e.stats = cli.given[KTA_O_STATS] > 0;
    e.quiet = cli.given[KTA_O_QUIET] > 0;
    if (cli.given[KTA_O_THREADS] &&
        kta_parse_int(cli.val[KTA_O_THREADS], 0, EVAL_MAX_THREADS, &nthreads) < 0) {
        rc = kta_cli_usage(cli.cmd, "--threads takes 0 to %d", EVAL_MAX_THREADS);
        goto done;
    }
    if (nthreads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

        nthreads = ncpu < 1 ? 1 : ncpu > EVAL_MAX_THREADS ? EVAL_MAX_THREADS : ncpu;
    }
    e.nthreads = (int)nthreads;
    if (cli.given[KTA_O_TOPIC] || cli.given[KTA_O_BROKERS] || cli.given[KTA_O_UNTIL]) {
        /* A backtest: -t TOPIC instead of files. */
        if (!cli.given[KTA_O_TOPIC] || cli.cfg->ntopics != 1 || cli.nargs > 0) {
            rc = kta_cli_usage(cli.cmd, "a backtest reads one topic: -t TOPIC, and no FILE");
            goto done;
        }
        topic = cli.cfg->topics[0];
        if (kta_config_start_offset(cli.given[KTA_O_OFFSET] ? cli.val[KTA_O_OFFSET] : "beginning",
                                    &from_kind, &from, errstr, sizeof(errstr)) < 0 ||
            kta_backtest_parse_until(cli.given[KTA_O_UNTIL] ? cli.val[KTA_O_UNTIL] : "end",
                                     &until, errstr, sizeof(errstr)) < 0) {
            rc = kta_cli_usage(cli.cmd, "%s", errstr);
            goto done;
        }
        e.nthreads = 1;   /* records come one at a time; evaluating them is not the cost */
    } else if (cli.given[KTA_O_OFFSET]) {
        rc = kta_cli_usage(cli.cmd, "-o is for a backtest: give -t TOPIC");
        goto done;
    }
    if (!(rs = kta_cli_load_rules(&cli, NULL))) {
        rc = KTA_EXIT_USAGE;
        goto done;
    }
    e.rs = rs;
    /* The same versions kta run writes, so their hits compare equal. */
    kta_hit_tail(&e.tail, kta_ruleset_version(rs), &cli.cfg->fields);   /* as kta run writes it */
    e.nrules = kta_ruleset_count(rs);
    if (e.stats) {
        e.by_addr = xcalloc(e.nrules ? e.nrules : 1, sizeof(*e.by_addr));
        for (size_t i = 0; i < e.nrules; i++)
            e.by_addr[i] = (struct rule_ref){ kta_ruleset_rule(rs, i), i };
        qsort(e.by_addr, e.nrules, sizeof(*e.by_addr), cmp_rule_ref);
    }
    if (kta_ruleset_ncorr(rs)) {
        struct kta_corr_opts co = { 0 };

        if (cli.given[KTA_O_GRACE] && (co.grace_ms = parse_span(cli.val[KTA_O_GRACE])) < 0) {
            rc = kta_cli_usage(cli.cmd, "--grace takes a span such as 30s, 5m, 1h, 1d or 0");
            goto out;
        }
        if (cli.given[KTA_O_TIME_FIELD] &&
            !(e.time_fields = split_fields(cli.val[KTA_O_TIME_FIELD]))) {
            rc = kta_cli_usage(cli.cmd, "--time-field takes field names separated by commas");
            goto out;
        }
        e.corr = kta_corr_new(rs, &co);
    }
    e.tty = !e.quiet && isatty(2);
    e.t0 = now_s();
    e.progress_ms = kta_now_ms();
    start_threads(&e);
    if (topic) {
        if (kta_backtest_read(cli.cfg, topic, from_kind, from, &until, on_topic_record, &e,
                              errstr, sizeof(errstr)) < 0) {
            progress_erase(&e);
            kta_log(KTA_LOG_ERROR, "eval: %s", errstr);
            rc = KTA_EXIT_FAILURE;
        }
    } else if (cli.nargs == 0 && eval_file(&e, "-") < 0)
        rc = KTA_EXIT_FAILURE;
    for (int i = 0; i < cli.nargs && !atomic_load(&e.write_failed); i++)
        if (eval_file(&e, cli.args[i]) < 0)
            rc = KTA_EXIT_FAILURE;
    stop_threads(&e);
    if (e.corr) {
        /* End of input: every open window closes (lt/lte decided now). */
        kta_buf_reset(&e.cout);
        kta_corr_flush(e.corr, on_corr_hit, &e);
        if (e.cout.len && !atomic_load(&e.write_failed) &&
            write_all(1, e.cout.data, e.cout.len) < 0)
            atomic_store(&e.write_failed, 1);
    }
    progress_erase(&e);
    if (atomic_load(&e.write_failed))
        rc = KTA_EXIT_FAILURE;
    for (size_t i = 0; i < e.nrules; i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        if (kta_rule_errors(r))
            kta_log(KTA_LOG_WARN, "rule %s: %llu event(s) hit the regex match limit and were "
                    "not matched by this rule", kta_rule_id(r),
                    (unsigned long long)kta_rule_errors(r));
    }
    if (e.corr) {
        struct kta_corr_stats st;

        kta_corr_get_stats(e.corr, &st);
        if (st.notime)
            kta_log(KTA_LOG_WARN, "eval: %llu correlation input(s) had no event time (none of "
                    "the time fields, no record timestamp): timespans cannot be applied to "
                    "them; each group counts them in one window over the whole input",
                    (unsigned long long)st.notime);
    }
    if (e.stats)
        print_stats(&e);
    if (!e.quiet)
        print_summary(&e);
out:
    free_all(&e);
    kta_buf_free(&e.tail);
    kta_ruleset_decref(rs);
done:
    kta_cli_free(&cli);
    return rc;
}
