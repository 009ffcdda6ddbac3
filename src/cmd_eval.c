/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_eval: `kta eval` — the worker path without Kafka: JSON lines from
 * files or stdin -> event -> eval -> one hit JSON per line on stdout.
 * Rule writers use it to try rules; tests/rules/ uses it as the oracle.
 */
#include "kta/cmd.h"
#include "kta/event.h"
#include "kta/hit.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_MAX_LINE (16u << 20)

struct eval_state {
    struct kta_buf out;
    const char    *file;
    long           line;
    const char    *raw;
    size_t         raw_len;
    char           detected_at[40];
};

static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct eval_state *st = opaque;
    struct kta_hit_source src = { .file = st->file, .line = st->line, .timestamp = -1 };

    kta_buf_reset(&st->out);
    kta_hit_encode(&st->out, r, st->raw, st->raw_len, &src, st->detected_at);
    kta_buf_append(&st->out, "\n", 1);
    fwrite(st->out.data, 1, st->out.len, stdout);
}

static void diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    (void)opaque;
    (void)kind;
    fprintf(stderr, "%s\n", msg);
}

/* Returns the number of malformed lines, or -1 when the file is unreadable. */
static long eval_file(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, FILE *fp,
                      struct eval_state *st)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long bad = 0;

    st->line = 0;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        enum kta_event_error err;
        char detail[256];
        json_t *ev;

        st->line++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (strspn(line, " \t") == (size_t)n)
            continue;                /* blank lines count but are skipped */
        ev = kta_event_decode(line, (size_t)n, EVAL_MAX_LINE, &err, detail, sizeof(detail));
        if (!ev) {
            fprintf(stderr, "%s:%ld: malformed event (%s): %s\n", st->file, st->line,
                    kta_event_error_name(err), detail);
            bad++;
            continue;
        }
        st->raw = line;
        st->raw_len = (size_t)n;
        kta_iso8601_now(st->detected_at, sizeof(st->detected_at));
        kta_eval(rs, ctx, ev, on_hit, st);
        json_decref(ev);
    }
    free(line);
    if (ferror(fp)) {
        fprintf(stderr, "kta: %s: read error\n", st->file);
        return -1;
    }
    return bad;
}

int kta_cmd_eval(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "rules",        required_argument, NULL, 'r' },
        { "fieldmap",     required_argument, NULL, 'm' },
        { "placeholders", required_argument, NULL, 'p' },
        { "skip-invalid", no_argument,       NULL, 's' },
        { NULL, 0, NULL, 0 },
    };
    struct kta_rules_opts ropts = { .diag = diag };
    struct eval_state st = { 0 };
    struct kta_ruleset *rs = NULL;
    struct kta_eval_ctx *ctx = NULL;
    const char *rules = NULL;
    char errstr[1024];
    int opt, rc = 1;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "r:m:p:", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'r': rules = optarg; break;
        case 'm': ropts.fieldmap = optarg; break;
        case 'p': ropts.placeholders = optarg; break;
        case 's': ropts.skip_invalid = 1; break;
        default:
            fprintf(stderr, "see `kta help eval`\n");
            return 2;
        }
    }
    if (!rules) {
        fprintf(stderr, "kta: eval: -r RULES is required (see `kta help eval`)\n");
        return 2;
    }
    rs = kta_rules_load(rules, &ropts, NULL, errstr, sizeof(errstr));
    if (!rs) {
        fprintf(stderr, "kta: cannot load rules: %s\n", errstr);
        return 1;
    }
    ctx = kta_eval_ctx_new();
    rc = 0;
    if (optind == argc) {
        st.file = "-";
        if (eval_file(rs, ctx, stdin, &st) < 0)
            rc = 1;
    }
    for (int i = optind; i < argc; i++) {
        FILE *fp = strcmp(argv[i], "-") == 0 ? stdin : fopen(argv[i], "r");
        if (!fp) {
            fprintf(stderr, "kta: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }
        st.file = argv[i];
        if (eval_file(rs, ctx, fp, &st) < 0)
            rc = 1;
        if (fp != stdin)
            fclose(fp);
    }
    fflush(stdout);
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        if (kta_rule_errors(r))
            fprintf(stderr, "kta: rule %s: %llu event(s) hit the regex match limit and were not "
                    "matched by this rule\n", kta_rule_id(r),
                    (unsigned long long)kta_rule_errors(r));
    }
    kta_buf_free(&st.out);
    kta_eval_ctx_free(ctx);
    kta_ruleset_decref(rs);
    return rc;
}
