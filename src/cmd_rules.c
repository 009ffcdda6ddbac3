/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_rules: `kta rules list` — what a ruleset holds.  Loads the rules as
 * `kta check` does (same loader, field map and placeholders) and prints
 * one line (or, with --json, one JSON object) per rule and correlation
 * rule that passes the filters (--level, --tag, --logsource), read through
 * the ruleset's accessors (include/kta/rules.h).  It never evaluates
 * events and never talks to Kafka.  Main thread only.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/hit.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const levels[] = {
    "informational", "low", "medium", "high", "critical", NULL
};

static int level_rank(const char *level)
{
    for (int i = 0; levels[i]; i++)
        if (strcasecmp(level, levels[i]) == 0)
            return i;
    return -1;
}

/* A comma-separated option value, split (empty items refused). */
struct list {
    char  **v;
    size_t  n;
};

static int split(const char *s, struct list *l)
{
    const char *p = s;

    for (;;) {
        size_t len = strcspn(p, ",");

        if (len == 0)
            return -1;
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = xstrndup(p, len);
        if (!p[len])
            return 0;
        p += len + 1;
    }
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

struct filters {
    int         level;      /* -1: any */
    struct list tags;       /* each must be carried */
    struct list ls;         /* "key=value", each must be in the logsource */
};

/* A tag filter item: the tag itself, case ignored, or with a final '*'
 * any tag that starts with what comes before it. */
static int has_tag(const json_t *tags, const char *want)
{
    size_t n = strlen(want), i;
    int prefix = n > 0 && want[n - 1] == '*';
    json_t *t;

    json_array_foreach(tags, i, t) {
        const char *s = json_string_value(t);

        if (!s)
            continue;
        if (prefix ? strncasecmp(s, want, n - 1) == 0 : strcasecmp(s, want) == 0)
            return 1;
    }
    return 0;
}

/* logsource: "product=windows category=process_creation" (lowercased by
 * the loader), or NULL. */
static int has_logsource(const char *logsource, const char *want)
{
    size_t n = strlen(want);

    for (const char *p = logsource; p && *p; p += strcspn(p, " "), p += *p == ' ') {
        size_t len = strcspn(p, " ");

        if (len == n && strncasecmp(p, want, n) == 0)
            return 1;
    }
    return 0;
}

static int passes(const struct filters *f, const char *level, const json_t *tags,
                  const char *logsource)
{
    if (f->level >= 0 && level_rank(level) < f->level)
        return 0;
    for (size_t i = 0; i < f->tags.n; i++)
        if (!has_tag(tags, f->tags.v[i]))
            return 0;
    for (size_t i = 0; i < f->ls.n; i++)
        if (!has_logsource(logsource, f->ls.v[i]))
            return 0;
    return 1;
}

/* One line of the table, its columns as printed. */
struct row {
    char *col[7];   /* id, level, enabled, file:line, logsource, scope, tags; title apart */
    const char *title;
};

static const char *const heads[] = {
    "ID", "LEVEL", "ENABLED", "FILE:LINE", "LOGSOURCE", "SCOPE", "TAGS"
};

static char *tags_text(const json_t *tags)
{
    struct kta_buf b = { 0 };
    size_t i;
    json_t *t;

    json_array_foreach(tags, i, t) {
        if (b.len)
            kta_buf_append(&b, ",", 1);
        kta_buf_appends(&b, json_string_value(t) ? json_string_value(t) : "");
    }
    if (!b.len)
        kta_buf_appends(&b, "-");
    return b.data;
}

static const char *const scope_names[] = {
    [KTA_LS_NONE] = "none", [KTA_LS_SCOPED] = "scoped", [KTA_LS_UNMAPPED] = "unmapped",
    [KTA_LS_SKIPPED] = "skipped", [KTA_LS_NOMAP] = "nomap",
};

/* The SCOPE column of a rule: none, scoped:N, unmapped, nomap; "+Nf" when
 * N filters narrow it. */
static char *scope_text(const struct kta_rule *r)
{
    enum kta_ls_state st = kta_rule_ls_state(r);
    char *s;

    if (st == KTA_LS_SCOPED)
        s = xasprintf("scoped:%zu", kta_rule_nscope(r));
    else
        s = xstrdup(scope_names[st]);
    if (kta_rule_nfilters(r)) {
        char *t = xasprintf("%s+%zuf", s, kta_rule_nfilters(r));

        free(s);
        s = t;
    }
    return s;
}

/* "product=windows category=x" -> "product=windows,category=x"; "-". */
static char *logsource_text(const char *ls)
{
    char *s = xstrdup(ls ? ls : "-");

    for (char *p = s; *p; p++)
        if (*p == ' ')
            *p = ',';
    return s;
}

static void print_table(struct row *rows, size_t n)
{
    size_t w[7];

    for (int c = 0; c < 7; c++) {
        w[c] = strlen(heads[c]);
        for (size_t i = 0; i < n; i++)
            if (strlen(rows[i].col[c]) > w[c])
                w[c] = strlen(rows[i].col[c]);
    }
    for (int c = 0; c < 7; c++)
        printf("%-*s  ", (int)w[c], heads[c]);
    printf("TITLE\n");
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < 7; c++)
            printf("%-*s  ", (int)w[c], rows[i].col[c]);
        printf("%s\n", rows[i].title);
    }
}

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int kta_cmd_rules(int argc, char **argv)
{
    struct filters f = { .level = -1 };
    struct kta_ruleset *rs = NULL;
    struct row *rows = NULL;
    size_t nrows = 0, total = 0, listed = 0;
    struct kta_cli cli;
    int rc = 0, json;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    if (cli.nargs == 0 || strcmp(cli.args[0], "list") != 0) {
        rc = cli.nargs == 0 ? kta_cli_usage(cli.cmd, "a subcommand is needed: list") :
             kta_cli_usage(cli.cmd, "unknown subcommand '%s' (expected list)", cli.args[0]);
        goto done;
    }
    if ((rc = kta_cli_rules_operands(&cli, 1)) != 0)
        goto done;
    json = cli.given[KTA_O_JSON] > 0;
    if (cli.given[KTA_O_LEVEL] && (f.level = level_rank(cli.val[KTA_O_LEVEL])) < 0) {
        rc = kta_cli_usage(cli.cmd, "--level '%s': expected informational, low, medium, high "
                           "or critical", cli.val[KTA_O_LEVEL]);
        goto done;
    }
    if (cli.given[KTA_O_TAG] && split(cli.val[KTA_O_TAG], &f.tags) < 0) {
        rc = kta_cli_usage(cli.cmd, "--tag takes tags separated by commas");
        goto done;
    }
    if (cli.given[KTA_O_LOGSOURCE]) {
        int bad = split(cli.val[KTA_O_LOGSOURCE], &f.ls) < 0;

        for (size_t i = 0; !bad && i < f.ls.n; i++) {
            const char *eq = strchr(f.ls.v[i], '=');

            bad = !eq || eq == f.ls.v[i] || !eq[1] || strchr(f.ls.v[i], ' ');
        }
        if (bad) {
            rc = kta_cli_usage(cli.cmd, "--logsource takes KEY=VALUE pairs separated by "
                               "commas, e.g. product=windows,category=process_creation");
            goto done;
        }
    }
    if (!(rs = kta_cli_load_rules(&cli, NULL))) {
        rc = KTA_EXIT_USAGE;
        goto done;
    }
    rows = xcalloc(kta_ruleset_count(rs) + kta_ruleset_ncorr(rs) + 1, sizeof(*rows));
    for (size_t i = 0; i < kta_ruleset_count(rs); i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        size_t ntests;

        total++;
        if (!passes(&f, kta_rule_level(r), kta_rule_tags(r), kta_rule_logsource(r)))
            continue;
        listed++;
        kta_rule_tests(r, &ntests);
        if (json) {
            print_json(json_pack("{s:s,s:s,s:o,s:s,s:s,s:b,s:s,s:i,s:o,s:s,s:I,s:I,s:O,s:I,s:o}",
                                 "kind", "rule", "id", kta_rule_id(r),
                                 "name", str_or_null(kta_rule_name(r)),
                                 "title", kta_rule_title(r), "level", kta_rule_level(r),
                                 "enabled", kta_rule_enabled(r), "file", kta_rule_file(r),
                                 "line", kta_rule_line(r),
                                 "logsource", str_or_null(kta_rule_logsource(r)),
                                 "scope", scope_names[kta_rule_ls_state(r)],
                                 "scopes", (json_int_t)kta_rule_nscope(r),
                                 "filters", (json_int_t)kta_rule_nfilters(r),
                                 "tags", (json_t *)kta_rule_tags(r),
                                 "tests", (json_int_t)ntests,
                                 "output_topic", str_or_null(kta_rule_output_topic(r))));
        } else {
            struct row *w = &rows[nrows++];

            w->col[0] = xstrdup(kta_rule_id(r));
            w->col[1] = xstrdup(kta_rule_level(r));
            w->col[2] = xstrdup(kta_rule_enabled(r) ? "yes" : "no");
            w->col[3] = xasprintf("%s:%d", kta_rule_file(r), kta_rule_line(r));
            w->col[4] = logsource_text(kta_rule_logsource(r));
            w->col[5] = scope_text(r);
            w->col[6] = tags_text(kta_rule_tags(r));
            w->title = kta_rule_title(r);
        }
    }
    for (size_t i = 0; i < kta_ruleset_ncorr_rules(rs); i++) {
        const struct kta_corrdef *c = kta_ruleset_corr(rs, i);

        total++;
        if (!passes(&f, c->level, c->tags, NULL))
            continue;
        listed++;
        if (json) {
            json_t *refs = json_array();

            for (size_t k = 0; k < c->nrefs; k++)
                json_array_append_new(refs, json_string(c->refs[k].is_corr ?
                    kta_ruleset_corr(rs, c->refs[k].index)->id :
                    kta_rule_id(kta_ruleset_rule(rs, c->refs[k].index))));
            print_json(json_pack("{s:s,s:s,s:o,s:s,s:s,s:b,s:s,s:i,s:n,s:s,s:i,s:i,s:O,s:I,"
                                 "s:n,s:s,s:o}",
                                 "kind", "correlation", "id", c->id, "name", str_or_null(c->name),
                                 "title", c->title, "level", c->level, "enabled", 1,
                                 "file", c->file, "line", c->line, "logsource",
                                 "scope", "correlation", "scopes", 0, "filters", 0,
                                 "tags", c->tags, "tests", (json_int_t)c->ntests,
                                 "output_topic", "type", kta_hit_corr_type_name(c),
                                 "rules", refs));
        } else {
            struct row *w = &rows[nrows++];

            w->col[0] = xstrdup(c->id);
            w->col[1] = xstrdup(c->level);
            w->col[2] = xstrdup("yes");
            w->col[3] = xasprintf("%s:%d", c->file, c->line);
            w->col[4] = xstrdup("-");
            w->col[5] = xasprintf("correlation:%s", kta_hit_corr_type_name(c));
            w->col[6] = tags_text(c->tags);
            w->title = c->title;
        }
    }
    if (!json)
        print_table(rows, nrows);
    if (fflush(stdout) != 0) {
        kta_log(KTA_LOG_ERROR, "rules: cannot write to stdout: %s", strerror(errno));
        rc = KTA_EXIT_FAILURE;
    }
    if (!cli.given[KTA_O_QUIET])
        fprintf(stderr, "kta rules: %zu of %zu rules and correlation rules listed\n", listed,
                total);
done:
    for (size_t i = 0; i < nrows; i++)
        for (int c = 0; c < 7; c++)
            free(rows[i].col[c]);
    free(rows);
    list_free(&f.tags);
    list_free(&f.ls);
    kta_ruleset_decref(rs);
    kta_cli_free(&cli);
    return rc;
}
