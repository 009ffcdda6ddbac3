/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_check: `kta check` — the rule linter.  Loads every rule path given
 * exactly as `kta run` would (same loader, same field map), prints every
 * error and warning as "FILE:LINE:COL: ..." on stderr, and on stdout the
 * rules skipped or left unscoped for their log source, a table of rules
 * per log source, the filters loaded and applied, and a one-line summary last.
 * `kta lint` (and --lint) adds the warnings of src/lint.c.  It never reads
 * events (lint evaluates only the empty object) and never talks to Kafka.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/lint.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct check_state {
    int quiet;
};

/* Rules per log source (docs/rules.md §21), for the report after a load. */
struct ls_group {
    char  *logsource;
    size_t n[KTA_LS_NOMAP + 1];   /* by enum kta_ls_state */
};

struct ls_report {
    struct ls_group *g;
    size_t           ng, cap;
    size_t           n[KTA_LS_NOMAP + 1];
    int              quiet;
};

static void ls_collect(void *opaque, const struct kta_logsource_info *li)
{
    struct ls_report *rep = opaque;
    size_t i;

    for (i = 0; i < rep->ng && strcmp(rep->g[i].logsource, li->logsource) != 0; i++)
        ;
    if (i == rep->ng) {
        if (rep->ng == rep->cap) {
            rep->cap = rep->cap ? rep->cap * 2 : 32;
            rep->g = xrealloc(rep->g, rep->cap * sizeof(*rep->g));
        }
        memset(&rep->g[i], 0, sizeof(rep->g[i]));
        rep->g[i].logsource = xstrdup(li->logsource);
        rep->ng++;
    }
    rep->g[i].n[li->state]++;
    rep->n[li->state]++;
    if (rep->quiet)
        return;
    if (li->state == KTA_LS_SKIPPED)
        printf("skipped: %s:%d:%d: rule %s: logsource %s matches no entry of the log-source "
               "map (unmapped: skip)\n", li->file, li->line, li->col, li->id, li->logsource);
    else if (li->state == KTA_LS_UNMAPPED)
        printf("unscoped: %s:%d:%d: rule %s: logsource %s matches no entry; applied to every "
               "event\n", li->file, li->line, li->col, li->id, li->logsource);
}

static size_t ls_total(const struct ls_group *g)
{
    return g->n[KTA_LS_SCOPED] + g->n[KTA_LS_UNMAPPED] + g->n[KTA_LS_SKIPPED] + g->n[KTA_LS_NOMAP];
}

static int cmp_group(const void *a, const void *b)
{
    const struct ls_group *ga = a, *gb = b;
    size_t na = ls_total(ga), nb = ls_total(gb);

    if (na != nb)
        return na > nb ? -1 : 1;
    return strcmp(ga->logsource, gb->logsource);
}

/* The per-log-source table: how many rules each map entry scopes, which
 * were skipped or left unscoped. */
static void ls_print(struct ls_report *rep)
{
    size_t i;

    if (rep->ng == 0)
        return;
    if (rep->n[KTA_LS_NOMAP]) {
        printf("log sources: %zu rules carry a logsource that nothing scopes (no log-source "
               "map given: they apply to every event)\n", rep->n[KTA_LS_NOMAP]);
    } else {
        printf("log sources: %zu rules scoped, %zu unmapped and applied to every event, "
               "%zu skipped (not loaded)\n", rep->n[KTA_LS_SCOPED], rep->n[KTA_LS_UNMAPPED],
               rep->n[KTA_LS_SKIPPED]);
    }
    qsort(rep->g, rep->ng, sizeof(*rep->g), cmp_group);
    printf("  %7s %9s %8s  %s\n", "scoped", "unscoped", "skipped", "logsource");
    for (i = 0; i < rep->ng; i++) {
        const struct ls_group *g = &rep->g[i];

        printf("  %7zu %9zu %8zu  %s\n", g->n[KTA_LS_SCOPED],
               g->n[KTA_LS_UNMAPPED] + g->n[KTA_LS_NOMAP], g->n[KTA_LS_SKIPPED], g->logsource);
    }
}

static void diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    const struct check_state *cs = opaque;

    if (kind == KTA_DIAG_WARNING && cs->quiet)
        return;
    fprintf(stderr, "%s\n", msg);
}

static const char *plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static int check(int argc, char **argv, int lint)
{
    struct check_state cs = { 0 };
    struct kta_rules_opts opts;
    struct kta_rules_stats total = { 0 };
    struct ls_report rep = { 0 };
    struct kta_ruleset *rs;
    struct kta_cli cli;
    char err[1024], version[16] = "";
    int rc;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    /* RULES... operands and -r paths are the same thing. */
    if ((rc = kta_cli_rules_operands(&cli, 0)) != 0)
        goto out;
    cs.quiet = cli.given[KTA_O_QUIET] > 0;
    lint = lint || cli.given[KTA_O_LINT] > 0;
    kta_cli_rules_opts(cli.cfg, &opts);
    opts.diag = diag;
    opts.diag_opaque = &cs;
    /* One load of every path, as kta run loads them: rule ids must be
     * unique across all of them. */
    rs = kta_rules_load_paths((const char *const *)cli.cfg->rules_paths, cli.cfg->nrules_paths,
                              &opts, &total, err, sizeof(err));
    if (lint)
        kta_lint(rs, (const char *const *)cli.cfg->rules_paths, cli.cfg->nrules_paths, &opts,
                 &total);
    rep.quiet = cs.quiet;
    kta_ruleset_logsources(rs, ls_collect, &rep);
    if (rs)
        snprintf(version, sizeof(version), "%s", kta_ruleset_version(rs));
    kta_ruleset_decref(rs);
    if (*version && total.enabled == 0 && !cli.cfg->rules_allow_empty) {
        /* kta run would refuse this ruleset: say so here first. */
        fprintf(stderr, "kta: error: no enabled rule: kta run refuses to start with this "
                "ruleset (set rules.allow_empty: true to allow it)\n");
        total.errors++;
    }
    ls_print(&rep);
    if (*version)
        printf("ruleset version %s (kta.ruleset.version of the hits kta run finds with it)\n",
               version);
    if (total.filters)   /* filters are not rules: they narrow the rules they name */
        printf("filters: %zu loaded, applied %zu %s to %zu %s\n", total.filters,
               total.filter_uses, plural(total.filter_uses, "time", "times"), total.filtered,
               plural(total.filtered, "rule", "rules"));
    printf("rules: %zu loaded (%zu enabled), %zu skipped, %zu %s, %zu %s in %zu %s\n",
           total.rules, total.enabled, total.skipped, total.errors,
           plural(total.errors, "error", "errors"), total.warnings,
           plural(total.warnings, "warning", "warnings"), total.files,
           plural(total.files, "file", "files"));
    if (total.correlations)
        printf("correlations: %zu loaded\n", total.correlations);
    for (size_t g = 0; g < rep.ng; g++)
        free(rep.g[g].logsource);
    free(rep.g);
    rc = total.errors ? KTA_EXIT_FAILURE : KTA_EXIT_OK;
out:
    kta_cli_free(&cli);
    return rc;
}

int kta_cmd_check(int argc, char **argv)
{
    return check(argc, argv, 0);
}

int kta_cmd_lint(int argc, char **argv)
{
    return check(argc, argv, 1);
}
