/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bad-input corpus (tests/corpus/index, "FILE<TAB>REASON" lines):
 * every record must decode to its listed dead-letter reason ("ok" for the
 * valid controls) through kta_event_decode and through the worker path,
 * kta_eval_raw with a prefiltered ruleset, and kta_event_check must never
 * vouch for a record that is not ok.  All of it runs in a thread with a
 * 64 KiB stack, which a parser recursing once per nesting level (100,000
 * deep) would overflow.
 *
 * Numbers too large for jansson (an integer past 2^63-1, 1e400) are
 * invalid_json on purpose: accepting them would mean rounding (to a double
 * or to infinity) a value a rule may compare, and the cheap check and the
 * prefilter may then promise nothing about them.  The record goes to the
 * dead-letter topic unchanged, so nothing is lost.
 *
 * KTA_CORPUS overrides the corpus directory (default tests/corpus).
 */
#include "rules_int.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define MAX_BYTES  (1024 * 1024)        /* the default input.max_bytes */
#define STACK_SIZE (64 * 1024)

static const char rules_yaml[] =
    "id: corpus-bash\n"
    "title: bash\n"
    "detection:\n"
    "  s: {process.name: bash}\n"
    "  k: [dev/tcp]\n"
    "  condition: s or k\n";

struct job {
    const char              *name;
    const unsigned char     *data;
    size_t                   len;
    const struct kta_ruleset *rs;
    enum kta_event_error     err_decode, err_raw;
    long                     raw;
    enum kta_event_check     check;
    char                     detail[256];
};

static void *decode(void *arg)
{
    struct job *j = arg;
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    char detail[256];
    json_t *ev, *evr = NULL;

    ev = kta_event_decode(j->data, j->len, MAX_BYTES, &j->err_decode, j->detail,
                          sizeof(j->detail));
    json_decref(ev);
    j->check = kta_event_check(j->data, j->len);
    j->raw = kta_eval_raw(j->rs, ctx, j->data, j->len, MAX_BYTES, NULL, NULL, &evr,
                          &j->err_raw, detail, sizeof(detail));
    json_decref(evr);
    kta_eval_ctx_free(ctx);
    return NULL;
}

/* Runs decode() on a thread with a STACK_SIZE stack.  Returns 0 or -1. */
static int run_small_stack(struct job *j)
{
    pthread_attr_t attr;
    pthread_t th;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    rc = pthread_create(&th, &attr, decode, j);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return -1;
    pthread_join(th, NULL);
    return 0;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (!fp)
        return NULL;
    for (;;) {
        if (n == cap)
            buf = xrealloc(buf, cap = cap ? cap * 2 : 4096);
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    fclose(fp);
    *len = n;
    return buf;
}

/* large-2mib.json is not committed; build the bytes make-corpus.py would. */
static unsigned char *make_large(size_t *len)
{
    size_t n = 2 * 1024 * 1024;
    unsigned char *buf = xmalloc(n);

    memcpy(buf, "{\"pad\":\"", 8);
    memset(buf + 8, 'x', n - 10);
    memcpy(buf + n - 2, "\"}", 2);
    *len = n;
    return buf;
}

static const char *reasons[] = { "ok", "empty", "too_large", "too_deep", "invalid_json",
                                 "not_object" };

int main(void)
{
    const char *dir = getenv("KTA_CORPUS") ? getenv("KTA_CORPUS") : "tests/corpus";
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs;
    char path[4096], line[512], err[256];
    size_t nrec = 0, seen[6] = { 0 };
    FILE *idx;

    rs = kta_rules_load_string("corpus.yml", rules_yaml, sizeof(rules_yaml) - 1, &opts,
                               NULL, err, sizeof(err));
    CHECK(rs != NULL);
    snprintf(path, sizeof(path), "%s/index", dir);
    idx = fopen(path, "r");
    if (!idx) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        CHECK(idx != NULL);
        return tap_done();
    }
    while (fgets(line, sizeof(line), idx)) {
        char *tab = strchr(line, '\t'), *nl;
        struct job j = { 0 };
        unsigned char *data;
        size_t len = 0;
        int want = -1;

        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (!tab) {
            fprintf(stderr, "index: bad line: %s", line);
            CHECK(tab != NULL);
            continue;
        }
        *tab++ = '\0';
        if ((nl = strchr(tab, '\n')))
            *nl = '\0';
        for (int i = 0; i < 6; i++)
            if (strcmp(tab, reasons[i]) == 0)
                want = i;
        CHECK(want >= 0);
        if (want < 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, line);
        data = read_all(path, &len);
        if (!data && strcmp(line, "large-2mib.json") == 0)
            data = make_large(&len);
        if (!data) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            CHECK(data != NULL);
            continue;
        }
        j.name = line;
        j.data = data;
        j.len = len;
        j.rs = rs;
        CHECK(run_small_stack(&j) == 0);
        if (j.err_decode != (enum kta_event_error)want)
            fprintf(stderr, "%s: want %s, decode says %s (%s)\n", line, reasons[want],
                    kta_event_error_name(j.err_decode), j.detail);
        CHECK_INT(j.err_decode, want);
        /* The worker path gives the same reason, hits or not. */
        CHECK_INT(j.err_raw, want);
        CHECK(want == 0 ? j.raw >= 0 : j.raw == -1);
        /* PLAIN is only ever said of records that decode (size limits are
         * the caller's business, kta_event_check's comment says). */
        if (want == KTA_EVENT_TOO_LARGE)
            j.check = KTA_EVENT_UNSURE;
        if (want != 0 && j.check != KTA_EVENT_UNSURE)
            fprintf(stderr, "%s: kta_event_check said PLAIN\n", line);
        CHECK(want == 0 || j.check == KTA_EVENT_UNSURE);
        seen[want]++;
        nrec++;
        free(data);
    }
    fclose(idx);
    /* The corpus covers every reason. */
    CHECK(nrec >= 60);
    for (int i = 0; i < 6; i++)
        CHECK(seen[i] > 0);
    kta_ruleset_decref(rs);
    return tap_done();
}
