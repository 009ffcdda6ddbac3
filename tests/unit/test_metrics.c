/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for metrics.c (the exposition format, label escaping,
 * histograms, the hit registry, metrics.listen, the HTTP endpoints) and
 * for kta_log's text and JSON lines (util.c). */
#include "kta/metrics.h"
#include "kta/util.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_format(void)
{
    struct kta_buf b = { 0 };

    kta_metrics_family(&b, "kta_x_total", "counter", "a \"quoted\" back\\slash\nnewline");
    CHECK_STR(b.data, "# HELP kta_x_total a \"quoted\" back\\\\slash\\nnewline\n"
                      "# TYPE kta_x_total counter\n");
    kta_buf_reset(&b);
    kta_metrics_sample(&b, "kta_x_total", 42, NULL);
    CHECK_STR(b.data, "kta_x_total 42\n");
    kta_buf_reset(&b);
    kta_metrics_sample(&b, "kta_hits_total", 3, "rule", "a\"b\\c\nd", "level", "high", NULL);
    CHECK_STR(b.data, "kta_hits_total{rule=\"a\\\"b\\\\c\\nd\",level=\"high\"} 3\n");
    kta_buf_reset(&b);
    kta_metrics_value(&b, 0.25);
    kta_buf_appends(&b, " ");
    kta_metrics_value(&b, 1.0 / 0.0);
    kta_buf_appends(&b, " ");
    kta_metrics_value(&b, 0.0 / 0.0);
    kta_buf_appends(&b, " ");
    kta_metrics_value(&b, 18446744073709551615.0);
    kta_buf_appends(&b, " ");
    kta_metrics_value(&b, 9007199254740991.0);
    CHECK_STR(b.data, "0.25 +Inf NaN 1.84467440737096e+19 9007199254740991");
    kta_buf_free(&b);
}

static void test_histogram(void)
{
    struct kta_buf b = { 0 };
    const double bounds[] = { 0.001, 0.5, 2 };
    const uint64_t counts[] = { 1, 0, 3, 2 };

    kta_metrics_histogram(&b, "kta_lat_seconds", "Latency.", bounds, 3, counts, 7.5);
    CHECK_STR(b.data, "# HELP kta_lat_seconds Latency.\n"
                      "# TYPE kta_lat_seconds histogram\n"
                      "kta_lat_seconds_bucket{le=\"0.001\"} 1\n"
                      "kta_lat_seconds_bucket{le=\"0.5\"} 1\n"
                      "kta_lat_seconds_bucket{le=\"2\"} 4\n"
                      "kta_lat_seconds_bucket{le=\"+Inf\"} 6\n"
                      "kta_lat_seconds_sum 7.5\n"
                      "kta_lat_seconds_count 6\n");
    kta_buf_free(&b);

    /* Worker-side bucket choice: bounds are inclusive upper bounds. */
    CHECK_INT(kta_latency_bucket(0), 0);
    CHECK_INT(kta_latency_bucket(500), 0);
    CHECK_INT(kta_latency_bucket(501), 1);
    CHECK_INT(kta_latency_bucket(10000000), KTA_LATENCY_BUCKETS - 1);
    CHECK_INT(kta_latency_bucket(10000001), KTA_LATENCY_BUCKETS);
    for (size_t i = 1; i < KTA_LATENCY_BUCKETS; i++)
        CHECK(kta_latency_bounds_us[i] > kta_latency_bounds_us[i - 1]);
}

static void test_registry(void)
{
    struct kta_metrics *m = kta_metrics_new();
    struct kta_buf b = { 0 };
    atomic_uint_fast64_t *a = kta_metrics_hit_counter(m, "r1", "high");
    atomic_uint_fast64_t *first[2000];
    struct kta_metrics_lag lag[2] = { { "in", 0, 5 }, { "in", 3, 7 } };
    int64_t total, max;
    char where[64];
    int same = 1;

    atomic_fetch_add(a, 2);
    CHECK(kta_metrics_hit_counter(m, "r1", "high") == a);
    CHECK(kta_metrics_hit_counter(m, "r1", "low") != a);
    /* Many rules: the table grows, counters stay where they were. */
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "rule-%d", i);
        first[i] = kta_metrics_hit_counter(m, id, "medium");
    }
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "rule-%d", i);
        same &= kta_metrics_hit_counter(m, id, "medium") == first[i];
    }
    CHECK(same);
    CHECK(kta_metrics_hit_counter(m, "r1", "high") == a);
    CHECK_INT(kta_metrics_lag_summary(m, &total, &max, where, sizeof(where)), 0);
    kta_metrics_set_lag(m, lag, 2);
    CHECK_INT(kta_metrics_lag_summary(m, &total, &max, where, sizeof(where)), 2);
    CHECK_INT(total, 12);
    CHECK_INT(max, 7);
    CHECK_STR(where, "in[3]");
    kta_metrics_render(m, NULL, &b);
    CHECK(strstr(b.data, "# TYPE kta_hits_total counter\n"
                         "kta_hits_total{rule=\"r1\",level=\"high\"} 2\n"
                         "kta_hits_total{rule=\"r1\",level=\"low\"} 0\n") != NULL);
    CHECK(strstr(b.data, "kta_consumer_lag{topic=\"in\",partition=\"3\"} 7\n") != NULL);
    kta_buf_free(&b);
    kta_metrics_free(m);
    kta_metrics_free(NULL);
}

static void test_listen(void)
{
    char host[64], port[8], err[256];

    CHECK_INT(kta_metrics_parse_listen(NULL, host, sizeof(host), port, sizeof(port), err, sizeof(err)), 0);
    CHECK_INT(kta_metrics_parse_listen("off", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 0);
    CHECK_INT(kta_metrics_parse_listen("9464", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 1);
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(port, "9464");
    CHECK_INT(kta_metrics_parse_listen(":9465", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 1);
    CHECK_STR(host, "127.0.0.1");
    CHECK_STR(port, "9465");
    CHECK_INT(kta_metrics_parse_listen("0.0.0.0:80", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 1);
    CHECK_STR(host, "0.0.0.0");
    CHECK_INT(kta_metrics_parse_listen("[::]:9464", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 1);
    CHECK_STR(host, "::");
    CHECK_INT(kta_metrics_parse_listen("metrics.example:1", host, sizeof(host), port, sizeof(port), err, sizeof(err)), 1);
    CHECK_STR(host, "metrics.example");
    CHECK_INT(kta_metrics_check_listen("70000", err, sizeof(err)), -1);
    CHECK(strstr(err, "metrics.listen: '70000'") != NULL);
    CHECK_INT(kta_metrics_check_listen("localhost", err, sizeof(err)), -1);
    CHECK_INT(kta_metrics_check_listen("::1:9464", err, sizeof(err)), -1);
    CHECK(strstr(err, "brackets") != NULL);
    CHECK_INT(kta_metrics_check_listen("[::1]9464", err, sizeof(err)), -1);
    CHECK_INT(kta_metrics_check_listen("host:", err, sizeof(err)), -1);
}

/* ---- the server ---- */

static int ready_now;

static void collect(void *opaque, struct kta_buf *out)
{
    (void)opaque;
    kta_metrics_family(out, "kta_test", "gauge", "A test gauge.");
    kta_metrics_sample(out, "kta_test", 1, NULL);
}

static const char *ready(void *opaque)
{
    (void)opaque;
    return ready_now ? NULL : "no partitions assigned";
}

/* One HTTP/1.0 exchange with 127.0.0.1:port; returns the whole answer. */
static char *http(int port, const char *request)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    struct kta_buf b = { 0 };
    char buf[4096];
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return xstrdup("");
    }
    if (write(fd, request, strlen(request)) < 0) {
        close(fd);
        return xstrdup("");
    }
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        kta_buf_append(&b, buf, (size_t)n);
    close(fd);
    kta_buf_appends(&b, "");
    return b.data;
}

static void test_server(void)
{
    struct kta_metrics *m = kta_metrics_new(), *m2 = kta_metrics_new();
    struct kta_metrics_source src = { .collect = collect, .ready = ready };
    char bound[64], err[256], listen_on[32], *r;
    int port;

    CHECK_INT(kta_metrics_serve(m, "127.0.0.1:0", &src, bound, sizeof(bound), err, sizeof(err)), 0);
    CHECK(strncmp(bound, "127.0.0.1:", 10) == 0);
    port = (int)strtol(bound + 10, NULL, 10);
    CHECK(port > 0);
    atomic_fetch_add(kta_metrics_hit_counter(m, "r\"1", "high"), 5);

    r = http(port, "GET /metrics HTTP/1.0\r\n\r\n");
    CHECK(strncmp(r, "HTTP/1.0 200", 12) == 0 || strncmp(r, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(r, "text/plain; version=0.0.4") != NULL);
    CHECK(strstr(r, "\r\n\r\n# HELP kta_test A test gauge.\n# TYPE kta_test gauge\nkta_test 1\n") != NULL);
    CHECK(strstr(r, "kta_hits_total{rule=\"r\\\"1\",level=\"high\"} 5\n") != NULL);
    free(r);
    r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK(strstr(r, " 200 ") != NULL && strstr(r, "\r\n\r\nok\n") != NULL);
    free(r);
    r = http(port, "GET /readyz HTTP/1.0\r\n\r\n");
    CHECK(strstr(r, " 503 ") != NULL && strstr(r, "\r\n\r\nno partitions assigned\n") != NULL);
    free(r);
    ready_now = 1;
    r = http(port, "GET /readyz HTTP/1.0\r\n\r\n");
    CHECK(strstr(r, " 200 ") != NULL);
    free(r);
    r = http(port, "GET /nothing HTTP/1.0\r\n\r\n");
    CHECK(strstr(r, " 404 ") != NULL);
    free(r);
    r = http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 2\r\n\r\nxx");
    CHECK(strstr(r, " 405 ") != NULL && strstr(r, "Allow: GET, HEAD") != NULL);
    free(r);

    /* The same port again: an error that says so. */
    snprintf(listen_on, sizeof(listen_on), "127.0.0.1:%d", port);
    CHECK_INT(kta_metrics_serve(m2, listen_on, &src, bound, sizeof(bound), err, sizeof(err)), -1);
    CHECK(strstr(err, "cannot listen on 127.0.0.1:") != NULL && strstr(err, "in use") != NULL);
    kta_metrics_free(m2);

    kta_metrics_stop(m);
    r = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
    CHECK_STR(r, "");
    free(r);
    kta_metrics_free(m);
}

/* ---- kta_log ---- */

static char *log_lines(enum kta_log_format fmt)
{
    FILE *tmp = tmpfile();
    int saved = dup(2);
    char *data;
    long n;

    fflush(stderr);
    dup2(fileno(tmp), 2);
    kta_log_format = fmt;
    kta_log(KTA_LOG_WARN, "quote \" back\\ tab\t nl\n ctl\x01 bad\xff utf8 \xc3\xa9");
    kta_log(KTA_LOG_INFO, "second");
    kta_log(KTA_LOG_DEBUG, "dropped: below the threshold");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    kta_log_format = KTA_LOG_TEXT;
    n = ftell(tmp);
    data = xmalloc((size_t)n + 1);
    rewind(tmp);
    data[fread(data, 1, (size_t)n, tmp)] = '\0';
    fclose(tmp);
    return data;
}

static void test_log(void)
{
    char *s, *nl;

    /* the one-shot commands: no time */
    s = log_lines(KTA_LOG_TEXT);
    CHECK(strncmp(s, "kta: warning: quote", 19) == 0);
    free(s);
    /* kta run (a service): every line starts with the time */
    kta_log_timestamps = 1;
    s = log_lines(KTA_LOG_TEXT);
    kta_log_timestamps = 0;

    /* 2026-12-02T01:02:03.456Z kta: warning: ... */
    CHECK(strlen(s) > 25 && s[4] == '-' && s[10] == 'T' && s[19] == '.' && s[23] == 'Z');
    CHECK(strncmp(s + 24, " kta: warning: quote", 20) == 0);
    nl = strstr(s, "\n ctl");   /* text keeps the message as it is */
    CHECK(nl != NULL);
    CHECK(strstr(s, "Z kta: info: second\n") != NULL);
    CHECK(strstr(s, "dropped") == NULL);
    free(s);

    s = log_lines(KTA_LOG_JSON);
    CHECK(strncmp(s, "{\"ts\":\"", 7) == 0 && s[7 + 23] == 'Z');
    CHECK(strstr(s, "\",\"level\":\"warning\",\"thread\":\"") != NULL);
    CHECK(strstr(s, "\"msg\":\"quote \\\" back\\\\ tab\\t nl\\n ctl\\u0001 bad\\ufffd utf8 \xc3\xa9\"}\n")
          != NULL);
    CHECK(strstr(s, "\"level\":\"info\"") != NULL && strstr(s, "\"msg\":\"second\"}\n") != NULL);
    /* One object per line: exactly two lines. */
    nl = strchr(s, '\n');
    CHECK(nl && strchr(nl + 1, '\n') && !strchr(strchr(nl + 1, '\n') + 1, '\n'));
    free(s);
}

int main(void)
{
    test_format();
    test_histogram();
    test_registry();
    test_listen();
    test_server();
    test_log();
    return tap_done();
}
