/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util: allocation that never fails, stderr logging, byte buffers, clocks,
 * giving freed heap back to the system.
 * Knows nothing about Kafka, JSON or rules.
 */
#include "kta/util.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum kta_log_level kta_log_threshold = KTA_LOG_INFO;

static void oom(size_t n)
{
    fprintf(stderr, "kta: error: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
    if (!p)
        oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        oom(0);
    va_end(ap);
    return s;
}

int kta_err(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}

uint64_t kta_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

enum kta_log_format kta_log_format = KTA_LOG_TEXT;
int kta_log_timestamps;

/* Bounded appends into a log line: each piece goes in whole or, once the
 * line is full, not at all (so an escape or a UTF-8 sequence is never
 * cut); the rest of an over-long message is dropped. */
struct line {
    char  *p;
    size_t len, cap;
    int    full;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->full || n > l->cap - l->len) {
        l->full = 1;
        return;
    }
    memcpy(l->p + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned min;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] < 0xe0)
        len = 2, min = 0x80, cp = s[0] & 0x1f;
    else if (s[0] >= 0xe0 && s[0] < 0xf0)
        len = 3, min = 0x800, cp = s[0] & 0x0f;
    else if (s[0] >= 0xf0 && s[0] < 0xf5)
        len = 4, min = 0x10000, cp = s[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        return 0;
    return len;
}

/* s as the body of a JSON string: quotes, backslashes and control bytes
 * escaped, bytes that are not UTF-8 replaced by U+FFFD, so every line is
 * valid JSON whatever a message quotes. */
static void put_json(struct line *l, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);

    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t k;
        switch (s[i]) {
        case '"':  puts_(l, "\\\""); i++; continue;
        case '\\': puts_(l, "\\\\"); i++; continue;
        case '\n': puts_(l, "\\n"); i++; continue;
        case '\t': puts_(l, "\\t"); i++; continue;
        case '\r': puts_(l, "\\r"); i++; continue;
        default: break;
        }
        if (s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
            puts_(l, esc);
            i++;
        } else if ((k = utf8_len(s + i, n - i)) > 0) {
            put(l, (const char *)s + i, k);
            i += k;
        } else {
            puts_(l, "\\ufffd");
            i++;
        }
    }
}

void kta_log(enum kta_log_level lvl, const char *fmt, ...)
{
    static const char *names[] = { "error", "warning", "info", "debug" };
    char msg[2048], ts[32], buf[8192];
    struct line l = { buf, 0, sizeof(buf) - 3, 0 };   /* room for "}\n */
    va_list ap;

    if (lvl > kta_log_threshold)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kta_iso8601_now(ts, sizeof(ts));
    if (kta_log_format == KTA_LOG_JSON) {
        char thread[16] = "";
        pthread_getname_np(pthread_self(), thread, sizeof(thread));
        puts_(&l, "{\"ts\":\"");
        puts_(&l, ts);
        puts_(&l, "\",\"level\":\"");
        puts_(&l, names[lvl]);
        puts_(&l, "\",\"thread\":\"");
        put_json(&l, thread);
        puts_(&l, "\",\"msg\":\"");
        put_json(&l, msg);
        memcpy(buf + l.len, "\"}", 2);
        l.len += 2;
    } else {
        if (kta_log_timestamps) {
            puts_(&l, ts);
            puts_(&l, " ");
        }
        puts_(&l, "kta: ");
        puts_(&l, names[lvl]);
        puts_(&l, ": ");
        puts_(&l, msg);
    }
    buf[l.len++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    flockfile(stderr);
    fwrite(buf, 1, l.len, stderr);
    funlockfile(stderr);
}

void kta_buf_reserve(struct kta_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;

    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void kta_buf_append(struct kta_buf *b, const void *p, size_t n)
{
    kta_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void kta_buf_appends(struct kta_buf *b, const char *s)
{
    kta_buf_append(b, s, strlen(s));
}

void kta_buf_printf(struct kta_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    kta_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void kta_buf_reset(struct kta_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int kta_buf_shrink(struct kta_buf *b, size_t keep)
{
    if (b->cap <= keep)
        return 0;
    kta_buf_free(b);
    return 1;
}

void kta_buf_free(struct kta_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* KTA_TEST_THREAD_FAIL (see util.h): 1 when this start of thread `name`,
 * its nth, is to fail. */
static int thread_fail(const char *name, int nth)
{
    const char *env = getenv("KTA_TEST_THREAD_FAIL");
    size_t n = strlen(name);

    for (const char *p = env; p && *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        size_t len = strcspn(p, ",:");
        long long want;
        char num[16];
        size_t nlen;

        if (len != n || strncmp(p, name, n) != 0)
            continue;
        if (p[len] != ':')
            return 1;
        nlen = strcspn(p + len + 1, ",");
        if (nlen >= sizeof(num))
            continue;
        memcpy(num, p + len + 1, nlen);
        num[nlen] = '\0';
        if (kta_parse_int(num, 1, 1000000, &want) == 0 && want == nth)
            return 1;
    }
    return 0;
}

int kta_thread_create(pthread_t *thread, void *(*fn)(void *), void *arg, const char *name)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static struct { const char *name; int n; } starts[8];
    int nth = 0;

    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        if (!starts[i].name)
            starts[i].name = name;
        if (strcmp(starts[i].name, name) == 0) {
            nth = ++starts[i].n;
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    if (thread_fail(name, nth))
        return EAGAIN;
    return pthread_create(thread, NULL, fn, arg);
}

/* KTA_TEST_TXN_ABORT_EVERY (see util.h).  Thread: consumer (the only
 * caller), so the counter needs no lock. */
int kta_test_txn_abort(void)
{
    static long long every = -1, n;

    if (every < 0) {
        const char *env = getenv("KTA_TEST_TXN_ABORT_EVERY");
        if (!env || kta_parse_int(env, 1, 1000000, &every) < 0)
            every = 0;
    }
    return every > 0 && ++n % every == 0;
}

void kta_heap_trim(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

int64_t kta_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t kta_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kta_iso8601_now(char *out, size_t out_size)
{
    struct timespec ts;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_size, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

int kta_parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int kta_topic_name_ok(const char *s)
{
    size_t n = 0;

    if (!s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; s[n]; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
              (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
            return 0;
    return n >= 1 && n <= 249;
}

char *kta_read_file(const char *path, size_t max, size_t *len,
                    char *errstr, size_t errstr_size)
{
    FILE *fp = NULL;
    struct stat st;
    char *data = NULL;
    size_t n;

    fp = fopen(path, "rb");
    if (!fp) {
        kta_err(errstr, errstr_size, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(fileno(fp), &st) < 0) {
        kta_err(errstr, errstr_size, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        kta_err(errstr, errstr_size, "%s: is a directory", path);
        goto fail;
    }
    if ((size_t)st.st_size > max) {
        kta_err(errstr, errstr_size, "%s: file is larger than %zu bytes", path, max);
        goto fail;
    }
    data = xmalloc((size_t)st.st_size + 1);
    n = fread(data, 1, (size_t)st.st_size, fp);
    if (ferror(fp)) {
        kta_err(errstr, errstr_size, "%s: read error", path);
        goto fail;
    }
    data[n] = '\0';
    if (len)
        *len = n;
    fclose(fp);
    return data;
fail:
    if (fp)
        fclose(fp);
    free(data);
    return NULL;
}

/* ---- "did you mean" ------------------------------------------------------ */

size_t kta_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d;
    size_t *rows, *prev2, *prev, *cur;

    if (la > 256 || lb > 256)   /* names, not texts */
        return la > lb ? la : lb;
    rows = prev2 = xcalloc(3 * (lb + 1), sizeof(size_t));
    prev = prev2 + lb + 1;
    cur = prev + lb + 1;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t v = prev[j] + 1;                       /* deletion */

            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;                       /* insertion */
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;                   /* substitution */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < v)
                v = prev2[j - 2] + 1;                     /* transposition */
            cur[j] = v;
        }
        {
            size_t *t = prev2;
            prev2 = prev;
            prev = cur;
            cur = t;
        }
    }
    d = prev[lb];
    free(rows);
    return d;
}

int kta_similar(const char *typed, const char *known)
{
    size_t n = strlen(typed), limit = n >= 5 ? 2 : 1;
    size_t d;

    if (n == 0 || strcmp(typed, known) == 0)
        return 0;
    d = kta_edit_distance(typed, known);
    return d <= limit && d < n;
}

void kta_suggest_init(struct kta_suggest *s, const char *typed)
{
    s->typed = typed;
    s->best = NULL;
    s->dist = (size_t)-1;
}

void kta_suggest_add(struct kta_suggest *s, const char *known)
{
    size_t d;

    if (!kta_similar(s->typed, known))
        return;
    d = kta_edit_distance(s->typed, known);
    if (d < s->dist) {
        s->dist = d;
        s->best = known;
    }
}
