/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness: raw record bytes -> kta_event_decode -> kta_eval, and
 * the same bytes through kta_eval_raw (cheap check + Hyperscan prefilter),
 * which must agree with the parse-then-eval path: same verdict, same
 * dead-letter reason, same rules hit in the same order.  Also checks that
 * kta_event_check never calls PLAIN a record that decoding rejects.
 *
 * The rulesets are compiled once in LLVMFuzzerInitialize: an embedded one
 * that uses every kind of matcher, and rules/ from the working directory
 * when it is there (make fuzz runs from the repository root).
 */
#include "rules_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char embedded[] =
    "rules:\n"
    "  - id: f-contains\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {process.command_line|contains: [/dev/tcp/, 'curl*|*sh']}\n"
    "  - id: f-exact-num\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {event.code: [4625, 1.5, true], user.name: null}\n"
    "  - id: f-re\n"
    "    title: t\n"
    "    detection:\n"
    "      s: {msg|re: '(a+)+$'}\n"
    "      t: {msg|re|i|s: 'ab.*c[0-9]{2,}'}\n"
    "      condition: s or t\n"
    "  - id: f-cidr-cmp\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {dst.ip|cidr: [10.0.0.0/8, 'fe80::/10']}\n"
    "      b: {dst.port|gte: 1024, dst.port|lt: 65536.5}\n"
    "      condition: a and not b\n"
    "  - id: f-ref-exists\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {src.user|fieldref: dst.user}\n"
    "      b: {parent|exists: true, child|exists: false}\n"
    "      condition: 1 of them\n"
    "  - id: f-keywords\n"
    "    title: t\n"
    "    detection:\n"
    "      kw: ['mimikatz', 'ev?l*payload', 'STRASSE']\n"
    "      condition: kw\n"
    "  - id: f-mods\n"
    "    title: t\n"
    "    detection:\n"
    "      a: {cmd|base64offset|contains: 'http://'}\n"
    "      b: {cmd|windash|contains: ' -enc '}\n"
    "      c: {'|all': [foo, bar]}\n"
    "      d: {x.y.z|startswith|cased: Ab, x.y.z|endswith: 'z\\*'}\n"
    "      e: {tags|all: [one, two]}\n"
    "      condition: any of them\n"
    "  - id: f-disabled\n"
    "    title: t\n"
    "    enabled: false\n"
    "    detection:\n"
    "      s: {a: '*'}\n";

#define MAX_BYTES (1u << 20)
#define MAX_HITS 64

static struct kta_ruleset *sets[2];
static size_t nsets;
static struct kta_eval_ctx *ctx_raw, *ctx_plain;

struct hits {
    const struct kta_rule *r[MAX_HITS];
    size_t n;
};

static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct hits *h = opaque;

    if (h->n < MAX_HITS)
        h->r[h->n] = r;
    h->n++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[512];
    struct kta_rules_opts opts = { 0 };
    const char *dir = getenv("KTA_FUZZ_RULES");

    (void)argc;
    (void)argv;
    kta_log_threshold = KTA_LOG_ERROR;
    sets[nsets] = kta_rules_load_string("fuzz-embedded.yml", embedded, sizeof(embedded) - 1,
                                        &opts, NULL, err, sizeof(err));
    if (!sets[nsets]) {
        fprintf(stderr, "fuzz_event: embedded ruleset: %s\n", err);
        abort();
    }
    nsets++;
    sets[nsets] = kta_rules_load(dir ? dir : "rules", &opts, NULL, err, sizeof(err));
    if (sets[nsets])
        nsets++;
    else
        fprintf(stderr, "fuzz_event: rules/ not used: %s\n", err);
    ctx_raw = kta_eval_ctx_new();
    ctx_plain = kta_eval_ctx_new();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum kta_event_error err, err_raw;
    char detail[256], detail_raw[256];
    enum kta_event_check chk;
    json_t *ev;

    ev = kta_event_decode(data, size, MAX_BYTES, &err, detail, sizeof(detail));
    if ((ev == NULL) != (err != KTA_EVENT_OK))
        abort();
    if (ev && !json_is_object(ev))
        abort();
    /* PLAIN is a promise that jansson accepts the record as an object. */
    chk = kta_event_check(data, size);
    if (chk != KTA_EVENT_UNSURE && size <= MAX_BYTES && !ev) {
        fprintf(stderr, "kta_event_check said PLAIN, decode said %s: %s\n",
                kta_event_error_name(err), detail);
        abort();
    }
    for (size_t s = 0; s < nsets; s++) {
        struct hits a = { .n = 0 }, b = { .n = 0 };
        json_t *evr = NULL;
        long n;

        if (ev)
            kta_eval(sets[s], ctx_plain, ev, on_hit, &a);
        n = kta_eval_raw(sets[s], ctx_raw, data, size, MAX_BYTES, on_hit, &b, &evr,
                         &err_raw, detail_raw, sizeof(detail_raw));
        if (!ev) {
            if (n != -1 || err_raw != err || evr) {
                fprintf(stderr, "eval_raw: %ld (%s), decode: %s\n", n,
                        kta_event_error_name(err_raw), kta_event_error_name(err));
                abort();
            }
            continue;
        }
        if (n < 0 || (size_t)n != b.n || a.n != b.n) {
            fprintf(stderr, "eval_raw: %ld hits (%zu called), kta_eval: %zu hits\n", n, b.n, a.n);
            abort();
        }
        for (size_t i = 0; i < a.n && i < MAX_HITS; i++)
            if (a.r[i] != b.r[i]) {
                fprintf(stderr, "hit %zu differs: %s vs %s\n", i, kta_rule_id(a.r[i]),
                        kta_rule_id(b.r[i]));
                abort();
            }
        json_decref(evr);
    }
    json_decref(ev);
    return 0;
}
