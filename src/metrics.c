/* SPDX-License-Identifier: Apache-2.0 */
/*
 * metrics: the only libmicrohttpd user — GET /metrics (Prometheus text
 * format 0.0.4), /healthz and /readyz — and the registry of what outlives
 * a ruleset: hits by rule id and level, and the consumer's lag snapshot.
 *
 * Threads: workers only bump counters they were given (relaxed atomics);
 * kta_metrics_hit_counter (any thread, when a worker adopts a ruleset) and
 * the scrape (libmicrohttpd's thread) take the registry lock; the consumer
 * thread replaces the lag snapshot under the same lock.  This module never
 * calls into Kafka handles: the lag arrives here as a finished snapshot.
 */
#include "kta/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

const int64_t kta_latency_bounds_us[KTA_LATENCY_BUCKETS] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000,
};

struct hit_entry {
    struct hit_entry    *next;    /* insertion order, for rendering */
    struct hit_entry    *hnext;   /* hash chain */
    uint64_t             hash;
    char                *rule;
    char                *level;
    atomic_uint_fast64_t n;
};

struct kta_metrics {
    pthread_mutex_t           lock;     /* hits table and lag snapshot */
    struct hit_entry         *first, **last;
    struct hit_entry        **buckets;
    size_t                    nbuckets, nhits;
    struct kta_metrics_lag   *lag;      /* topics owned */
    size_t                    nlag;
    char                     *kstats[KTA_KAFKA_CLIENTS];   /* librdkafka's last statistics */
    struct MHD_Daemon        *daemon;
    int                       fd;
    struct kta_metrics_source src;
};

struct kta_metrics *kta_metrics_new(void)
{
    struct kta_metrics *m = xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->lock, NULL);
    m->last = &m->first;
    m->nbuckets = 256;
    m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->fd = -1;
    return m;
}

static void free_lag(struct kta_metrics *m)
{
    for (size_t i = 0; i < m->nlag; i++)
        free((char *)m->lag[i].topic);
    free(m->lag);
    m->lag = NULL;
    m->nlag = 0;
}

void kta_metrics_stop(struct kta_metrics *m)
{
    if (!m)
        return;
    if (m->daemon)
        MHD_stop_daemon(m->daemon);
    m->daemon = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}

void kta_metrics_free(struct kta_metrics *m)
{
    struct hit_entry *e, *next;

    if (m)
        for (int i = 0; i < KTA_KAFKA_CLIENTS; i++)
            free(m->kstats[i]);

    if (!m)
        return;
    kta_metrics_stop(m);
    for (e = m->first; e; e = next) {
        next = e->next;
        free(e->rule);
        free(e->level);
        free(e);
    }
    free(m->buckets);
    free_lag(m);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* ---- registry ------------------------------------------------------------ */

atomic_uint_fast64_t *kta_metrics_hit_counter(struct kta_metrics *m, const char *rule,
                                              const char *level)
{
    uint64_t h = kta_fnv1a(kta_fnv1a(KTA_FNV_SEED, rule, strlen(rule) + 1), level, strlen(level));
    struct hit_entry *e;

    pthread_mutex_lock(&m->lock);
    for (e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->rule, rule) == 0 && strcmp(e->level, level) == 0)
            goto out;
    if (m->nhits >= m->nbuckets * 2) {
        /* Entries stay where they are (workers hold pointers to their
         * counters); only the chains are rebuilt. */
        size_t nb = m->nbuckets * 4;
        struct hit_entry **b = xcalloc(nb, sizeof(*b));
        for (struct hit_entry *x = m->first; x; x = x->next) {
            x->hnext = b[x->hash & (nb - 1)];
            b[x->hash & (nb - 1)] = x;
        }
        free(m->buckets);
        m->buckets = b;
        m->nbuckets = nb;
    }
    e = xcalloc(1, sizeof(*e));
    e->hash = h;
    e->rule = xstrdup(rule);
    e->level = xstrdup(level);
    atomic_init(&e->n, 0);
    e->hnext = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    *m->last = e;
    m->last = &e->next;
    m->nhits++;
out:
    pthread_mutex_unlock(&m->lock);
    return &e->n;
}

void kta_metrics_set_lag(struct kta_metrics *m, const struct kta_metrics_lag *v, size_t n)
{
    struct kta_metrics_lag *copy = n ? xmalloc(n * sizeof(*copy)) : NULL;

    for (size_t i = 0; i < n; i++) {
        copy[i] = v[i];
        copy[i].topic = xstrdup(v[i].topic);
    }
    pthread_mutex_lock(&m->lock);
    free_lag(m);
    m->lag = copy;
    m->nlag = n;
    pthread_mutex_unlock(&m->lock);
}

size_t kta_metrics_lag_summary(struct kta_metrics *m, int64_t *total, int64_t *max,
                               char *where, size_t where_size)
{
    size_t n;

    *total = *max = 0;
    if (where_size)
        where[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->nlag; i++) {
        *total += m->lag[i].lag;
        if (m->lag[i].lag > *max || (i == 0 && where_size)) {
            *max = m->lag[i].lag;
            snprintf(where, where_size, "%s[%d]", m->lag[i].topic, (int)m->lag[i].partition);
        }
    }
    n = m->nlag;
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* ---- exposition format ----------------------------------------------------- */

void kta_metrics_value(struct kta_buf *out, double v)
{
    if (isnan(v))
        kta_buf_appends(out, "NaN");
    else if (isinf(v))
        kta_buf_appends(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)   /* 2^53: exact */
        kta_buf_printf(out, "%.0f", v);
    else
        kta_buf_printf(out, "%.15g", v);
}

void kta_metrics_escape_label(struct kta_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': kta_buf_appends(out, "\\\\"); break;
        case '"':  kta_buf_appends(out, "\\\""); break;
        case '\n': kta_buf_appends(out, "\\n"); break;
        default:   kta_buf_append(out, s, 1); break;
        }
    }
}

void kta_metrics_family(struct kta_buf *out, const char *name, const char *type,
                        const char *help)
{
    kta_buf_printf(out, "# HELP %s ", name);
    /* HELP text escapes only backslash and newline (quotes stay). */
    for (const char *s = help; *s; s++) {
        if (*s == '\\')
            kta_buf_appends(out, "\\\\");
        else if (*s == '\n')
            kta_buf_appends(out, "\\n");
        else
            kta_buf_append(out, s, 1);
    }
    kta_buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

static void sample_labels(struct kta_buf *out, const char *name, double value, va_list ap)
{
    const char *k;
    int n = 0;

    kta_buf_appends(out, name);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        kta_buf_appends(out, n++ ? ",": "{");
        kta_buf_appends(out, k);
        kta_buf_appends(out, "=\"");
        kta_metrics_escape_label(out, v ? v : "");
        kta_buf_appends(out, "\"");
    }
    if (n)
        kta_buf_appends(out, "}");
    kta_buf_appends(out, " ");
    kta_metrics_value(out, value);
    kta_buf_appends(out, "\n");
}

void kta_metrics_sample(struct kta_buf *out, const char *name, double value, ...)
{
    va_list ap;

    va_start(ap, value);
    sample_labels(out, name, value, ap);
    va_end(ap);
}

void kta_metrics_histogram(struct kta_buf *out, const char *name, const char *help,
                           const double *bounds, size_t nbounds, const uint64_t *counts,
                           double sum)
{
    char bucket[128], le[64];
    struct kta_buf tmp = { 0 };
    uint64_t cum = 0;

    kta_metrics_family(out, name, "histogram", help);
    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    for (size_t i = 0; i <= nbounds; i++) {
        cum += counts[i];
        if (i < nbounds) {
            kta_buf_reset(&tmp);
            kta_metrics_value(&tmp, bounds[i]);
            snprintf(le, sizeof(le), "%s", tmp.data);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        kta_metrics_sample(out, bucket, (double)cum, "le", le, NULL);
    }
    snprintf(bucket, sizeof(bucket), "%s_sum", name);
    kta_metrics_sample(out, bucket, sum, NULL);
    snprintf(bucket, sizeof(bucket), "%s_count", name);
    kta_metrics_sample(out, bucket, (double)cum, NULL);
    kta_buf_free(&tmp);
}

/* ---- librdkafka statistics (statistics.interval.ms) ------------------------- */

static const char *const client_names[KTA_KAFKA_CLIENTS] = { "consumer", "producer" };

void kta_metrics_set_kafka_stats(struct kta_metrics *m, enum kta_kafka_client client,
                                 const char *json, size_t len)
{
    char *copy = xstrndup(json, len);

    pthread_mutex_lock(&m->lock);
    free(m->kstats[client]);
    m->kstats[client] = copy;
    pthread_mutex_unlock(&m->lock);
}

static double num(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    return json_is_number(v) ? json_number_value(v) : 0;
}

/* A few families from librdkafka's statistics JSON, per client and broker:
 * what an operator wants on a dashboard next to kta's own (the whole JSON
 * is at /stats/librdkafka).  Slow path: parsed at each scrape. */
static void render_kafka_stats(struct kta_metrics *m, struct kta_buf *out)
{
    json_t *doc[KTA_KAFKA_CLIENTS] = { NULL };
    int any = 0;

    for (int c = 0; c < KTA_KAFKA_CLIENTS; c++) {
        if (m->kstats[c])
            doc[c] = json_loads(m->kstats[c], 0, NULL);
        any |= doc[c] != NULL;
    }
    if (!any)
        return;
    kta_metrics_family(out, "kta_kafka_queued_messages", "gauge",
                       "Messages in librdkafka's queues (producer: waiting for delivery; "
                       "consumer: fetched, not yet taken), from statistics.interval.ms.");
    for (int c = 0; c < KTA_KAFKA_CLIENTS; c++)
        if (doc[c])
            kta_metrics_sample(out, "kta_kafka_queued_messages", num(doc[c], "msg_cnt"),
                               "client", client_names[c], NULL);
    static const struct { const char *name, *type, *help, *key, *sub; double scale; } fam[] = {
        { "kta_kafka_broker_up", "gauge", "1 when librdkafka's connection to the broker is up.",
          "state", NULL, 1 },
        { "kta_kafka_broker_rtt_seconds", "gauge", "Average round-trip time of requests to the "
          "broker over the last statistics interval.", "rtt", "avg", 1e-6 },
        { "kta_kafka_broker_requests_sent_total", "counter", "Requests sent to the broker.",
          "tx", NULL, 1 },
        { "kta_kafka_broker_send_errors_total", "counter", "Errors sending requests to the "
          "broker.", "txerrs", NULL, 1 },
        { "kta_kafka_broker_receive_errors_total", "counter", "Errors receiving from the "
          "broker.", "rxerrs", NULL, 1 },
        { "kta_kafka_broker_request_timeouts_total", "counter", "Requests to the broker that "
          "timed out.", "req_timeouts", NULL, 1 },
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        kta_metrics_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (int c = 0; c < KTA_KAFKA_CLIENTS; c++) {
            const char *bname;
            json_t *b;

            json_object_foreach(json_object_get(doc[c], "brokers"), bname, b) {
                double v;
                if (num(b, "nodeid") < 0)
                    continue;   /* bootstrap and internal entries */
                if (strcmp(fam[f].key, "state") == 0)
                    v = json_is_string(json_object_get(b, "state")) &&
                        strcmp(json_string_value(json_object_get(b, "state")), "UP") == 0;
                else if (fam[f].sub)
                    v = num(json_object_get(b, fam[f].key), fam[f].sub) * fam[f].scale;
                else
                    v = num(b, fam[f].key) * fam[f].scale;
                kta_metrics_sample(out, fam[f].name, v, "client", client_names[c], "broker",
                                   bname, NULL);
            }
        }
    }
    for (int c = 0; c < KTA_KAFKA_CLIENTS; c++)
        json_decref(doc[c]);
}

/* {"consumer": {...}, "producer": {...}}: librdkafka's last statistics. */
static void render_kafka_json(struct kta_metrics *m, struct kta_buf *out)
{
    pthread_mutex_lock(&m->lock);
    kta_buf_appends(out, "{");
    for (int c = 0, n = 0; c < KTA_KAFKA_CLIENTS; c++) {
        if (!m->kstats[c])
            continue;
        kta_buf_printf(out, "%s\"%s\": %s", n++ ? ", " : "", client_names[c], m->kstats[c]);
    }
    kta_buf_appends(out, "}\n");
    pthread_mutex_unlock(&m->lock);
}

void kta_metrics_render(struct kta_metrics *m, const struct kta_metrics_source *src,
                        struct kta_buf *out)
{
    if (src && src->collect)
        src->collect(src->opaque, out);
    pthread_mutex_lock(&m->lock);
    kta_metrics_family(out, "kta_hits_total", "counter",
                       "Hits produced, by rule id and level (kept across rule reloads).");
    for (struct hit_entry *e = m->first; e; e = e->next)
        kta_metrics_sample(out, "kta_hits_total",
                           (double)atomic_load_explicit(&e->n, memory_order_relaxed),
                           "rule", e->rule, "level", e->level, NULL);
    kta_metrics_family(out, "kta_consumer_lag", "gauge",
                       "Records behind, per assigned partition: high watermark minus the "
                       "committed offset (sampled about once a second).");
    for (size_t i = 0; i < m->nlag; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)m->lag[i].partition);
        kta_metrics_sample(out, "kta_consumer_lag", (double)m->lag[i].lag,
                           "topic", m->lag[i].topic, "partition", part, NULL);
    }
    render_kafka_stats(m, out);
    pthread_mutex_unlock(&m->lock);
}

/* ---- listen address ------------------------------------------------------------ */

int kta_metrics_parse_listen(const char *text, char *host, size_t host_size,
                             char *port, size_t port_size, char *errstr, size_t errstr_size)
{
    const char *colon, *p;
    long long n;
    size_t hlen;

    if (!text || !*text || strcmp(text, "off") == 0 || strcmp(text, "false") == 0)
        return 0;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':')
            return kta_err(errstr, errstr_size, "metrics.listen: '%s': expected [ADDRESS]:PORT",
                           text);
        hlen = (size_t)(close - text - 1);
        p = text + 1;
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon && strchr(text, ':') != colon)
            return kta_err(errstr, errstr_size, "metrics.listen: '%s': write an IPv6 address "
                           "in brackets, as [::1]:9464", text);
        p = text;
        hlen = colon ? (size_t)(colon - text) : 0;
    }
    if (kta_parse_int(colon ? colon + 1 : text, 0, 65535, &n) < 0)
        return kta_err(errstr, errstr_size, "metrics.listen: '%s': expected PORT, :PORT or "
                       "HOST:PORT with a port from 0 to 65535 (or off)", text);
    if (hlen == 0) {
        p = "127.0.0.1";   /* a bare port stays on the loopback interface */
        hlen = strlen(p);
    }
    if (hlen >= host_size)
        return kta_err(errstr, errstr_size, "metrics.listen: '%s': host name too long", text);
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    snprintf(port, port_size, "%lld", n);
    return 1;
}

int kta_metrics_check_listen(const char *text, char *errstr, size_t errstr_size)
{
    char host[256], port[8];

    return kta_metrics_parse_listen(text, host, sizeof(host), port, sizeof(port), errstr,
                                    errstr_size) < 0 ? -1 : 0;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             const char *body, size_t len, int allow)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result probe(struct MHD_Connection *conn, const char *why)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "%s\n", why ? why : "ok");

    return reply(conn, why ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                 "text/plain; charset=utf-8", line, (size_t)n, 0);
}

/* Thread: libmicrohttpd's server thread. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    struct kta_metrics *m = cls;
    static const char not_found[] =
        "not found: try /metrics, /healthz, /readyz or /stats/librdkafka\n";
    static const char not_allowed[] = "method not allowed\n";

    (void)version;
    (void)upload;
    (void)con_cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_size = 0;   /* any body is not ours to read */
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                     not_allowed, sizeof(not_allowed) - 1, 1);
    }
    if (strcmp(url, "/metrics") == 0) {
        struct kta_buf out = { 0 };
        enum MHD_Result ret;
        kta_metrics_render(m, &m->src, &out);
        ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", out.data,
                    out.len, 0);
        kta_buf_free(&out);
        return ret;
    }
    if (strcmp(url, "/stats/librdkafka") == 0) {
        struct kta_buf out = { 0 };
        enum MHD_Result ret;
        render_kafka_json(m, &out);
        ret = reply(conn, MHD_HTTP_OK, "application/json", out.data, out.len, 0);
        kta_buf_free(&out);
        return ret;
    }
    if (strcmp(url, "/healthz") == 0)
        return probe(conn, m->src.live ? m->src.live(m->src.opaque) : NULL);
    if (strcmp(url, "/readyz") == 0)
        return probe(conn, m->src.ready ? m->src.ready(m->src.opaque) : NULL);
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", not_found,
                 sizeof(not_found) - 1, 0);
}

/* Binds the socket here rather than in libmicrohttpd, so that a port in
 * use or a bad address is an error that says so, and port 0 works. */
static int bind_listen(const char *host, const char *port, int *family, char *errstr,
                       size_t errstr_size)
{
    struct addrinfo hints, *res = NULL;
    int fd = -1, one = 1, err;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    err = getaddrinfo(host, port, &hints, &res);
    if (err) {
        kta_err(errstr, errstr_size, "metrics.listen: cannot resolve '%s': %s", host,
                gai_strerror(err));
        return -1;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0) {
        kta_err(errstr, errstr_size, "metrics.listen: socket: %s", strerror(errno));
        goto out;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        kta_err(errstr, errstr_size, "metrics.listen: cannot listen on %s%s%s:%s: %s",
                res->ai_family == AF_INET6 ? "[" : "", host,
                res->ai_family == AF_INET6 ? "]" : "", port, strerror(errno));
        close(fd);
        fd = -1;
        goto out;
    }
    *family = res->ai_family;
out:
    freeaddrinfo(res);
    return fd;
}

static void bound_name(int fd, char *out, size_t out_size)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char addr[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
            port = ntohs(s6->sin6_port);
            snprintf(out, out_size, "[%s]:%d", addr, port);
            return;
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
        port = ntohs(s4->sin_port);
    }
    snprintf(out, out_size, "%s:%d", addr, port);
}

int kta_metrics_serve(struct kta_metrics *m, const char *listen,
                      const struct kta_metrics_source *src,
                      char *bound, size_t bound_size, char *errstr, size_t errstr_size)
{
    char host[256], port[8];
    int family = AF_INET;
    unsigned flags;

    if (kta_metrics_parse_listen(listen, host, sizeof(host), port, sizeof(port), errstr,
                                 errstr_size) <= 0)
        return kta_err(errstr, errstr_size, "metrics.listen: '%s': no address to listen on",
                       listen ? listen : "");
    m->fd = bind_listen(host, port, &family, errstr, errstr_size);
    if (m->fd < 0)
        return -1;
    bound_name(m->fd, bound, bound_size);
    if (src)
        m->src = *src;
    flags = MHD_USE_INTERNAL_POLLING_THREAD | (family == AF_INET6 ? MHD_USE_IPv6 : 0);
    /* A scrape is small and quick: a handful of connections, and idle
     * ones are closed so that a stuck client holds nothing for long. */
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, m,
                                 MHD_OPTION_LISTEN_SOCKET, m->fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                                 MHD_OPTION_END);
    if (!m->daemon) {
        close(m->fd);
        m->fd = -1;
        return kta_err(errstr, errstr_size, "metrics.listen: cannot start the HTTP server on %s",
                       bound);
    }
    m->fd = -1;   /* the daemon closes it when it stops */
    return 0;
}
