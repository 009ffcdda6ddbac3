/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util: the few helpers every module uses — allocation that never fails,
 * logging to stderr, and a growable byte buffer.
 *
 * Out of memory is fatal: the x*alloc family prints a message and aborts,
 * so callers never test for NULL.  Functions borrow their arguments unless
 * they say *takes*; kta_buf_free(NULL) does nothing.
 */
#ifndef KTA_UTIL_H
#define KTA_UTIL_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats into errstr (always NUL-terminated when errstr_size > 0).
 * Returns -1 so that callers can write `return kta_err(...)`. */
int kta_err(char *errstr, size_t errstr_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum kta_log_level { KTA_LOG_ERROR, KTA_LOG_WARN, KTA_LOG_INFO, KTA_LOG_DEBUG };

/* Current threshold; messages above it are dropped.  Default INFO. */
extern enum kta_log_level kta_log_threshold;

enum kta_log_format { KTA_LOG_TEXT, KTA_LOG_JSON };

/* log.format: TEXT (default) or JSON lines.  Set once at start-up. */
extern enum kta_log_format kta_log_format;
/* 1: text lines start with the time (kta run, a service's log); the
 * one-shot commands print "kta: LEVEL: message" alone.  JSON lines
 * always carry "ts". */
extern int kta_log_timestamps;

/* Logs one line to stderr: "2026-12-02T01:02:03.456Z kta: LEVEL: message"
 * (UTC, milliseconds; LEVEL is error, warning, info or debug), or with
 * KTA_LOG_JSON one object {"ts":..,"level":..,"thread":..,"msg":..}.
 * Thread-safe; a line is written whole. */
void kta_log(enum kta_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Growable byte buffer.  `data` is always NUL-terminated. */
struct kta_buf {
    char  *data;
    size_t len;
    size_t cap;
};

void kta_buf_reserve(struct kta_buf *b, size_t extra);
void kta_buf_append(struct kta_buf *b, const void *p, size_t n);
void kta_buf_appends(struct kta_buf *b, const char *s);
void kta_buf_printf(struct kta_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kta_buf_reset(struct kta_buf *b);
/* Buffers reused record after record keep at most this much between
 * batches: one large record must not pin its size for good. */
#define KTA_BUF_KEEP (64 * 1024)
/* Lets go of b's memory when it holds more than keep bytes (b is then
 * empty, as a new buffer); a smaller buffer is left as it is, so the
 * usual record costs no allocation.  Returns 1 when it freed. */
int kta_buf_shrink(struct kta_buf *b, size_t keep);
/* Frees the storage (not the struct). */
void kta_buf_free(struct kta_buf *b);

/* Hands the heap's free pages back to the operating system (glibc's
 * malloc_trim; nothing elsewhere).  Compiling a ruleset frees far more
 * than it keeps (Hyperscan's compiler above all); without this the
 * process stays as large as the compile's peak.  Takes every malloc
 * arena's lock in turn: call it off the hot path. */
void kta_heap_trim(void);

/* pthread_create for kta's own threads, named by the name the thread
 * gives itself ("kta-delivery", "kta-reload", "kta-worker").  Returns 0
 * or an errno value, as pthread_create.
 * Test hook: when $KTA_TEST_THREAD_FAIL holds "NAME" (fail every start
 * of that thread) or "NAME:N" (fail only its Nth start), comma-separated,
 * that start fails with EAGAIN and creates nothing; tests/cli/run.sh uses
 * it to check that a thread that cannot start is a clear error.  Thread:
 * any. */
int kta_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name);

/* Test hook: when $KTA_TEST_TXN_ABORT_EVERY holds N (1..1000000), every
 * Nth call returns 1; commit.c asks once per exactly-once transaction
 * that carries input positions, and on 1 treats the transaction as
 * failed (as if one of its records was not delivered): it is aborted and
 * the input rewound.  Returns 0 otherwise,
 * and always without the variable.  Used only by tests (0027) to drive
 * many aborts without a broker fault.  Thread: consumer. */
int kta_test_txn_abort(void);

/* FNV-1a over n bytes, continuing from h (KTA_FNV_SEED to start): the
 * one hash of kta's own tables and fingerprints.  Not for hostile keys
 * where collisions matter for more than speed. */
#define KTA_FNV_SEED 1469598103934665603ULL
uint64_t kta_fnv1a(uint64_t h, const void *p, size_t n);

/* Monotonic clock in milliseconds, and in microseconds (same clock). */
int64_t kta_now_ms(void);
int64_t kta_now_us(void);
/* Wall clock as "2026-11-27T07:25:10.123Z" into out (at least 32 bytes). */
void kta_iso8601_now(char *out, size_t out_size);

/* Parses a whole decimal integer in [min, max].  Returns 0 or -1. */
int kta_parse_int(const char *s, long long min, long long max, long long *out);

/* 1 when s is a legal Kafka topic name: 1 to 249 of [a-zA-Z0-9._-], and
 * not "." or "..". */
int kta_topic_name_ok(const char *s);

/* Reads a whole file (at most max bytes).  Returns a NUL-terminated
 * buffer the caller frees, or NULL with errstr set. */
char *kta_read_file(const char *path, size_t max, size_t *len,
                    char *errstr, size_t errstr_size);

/* "Did you mean": the Damerau-Levenshtein distance (adjacent
 * transpositions count one) between two short names. */
size_t kta_edit_distance(const char *a, const char *b);

/* 1 when `typed` is a likely misspelling of `known`: at most one edit
 * away (two for names of five characters or more), and not equal. */
int kta_similar(const char *typed, const char *known);

/* The closest similar name among candidates offered one by one:
 * kta_suggest_init, kta_suggest_add for each, then s.best (NULL: none).
 * Borrows every string. */
struct kta_suggest {
    const char *typed;
    const char *best;
    size_t      dist;
};
void kta_suggest_init(struct kta_suggest *s, const char *typed);
void kta_suggest_add(struct kta_suggest *s, const char *known);

#endif
