/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_check: `kta check` — the rule linter.  Loads every rule path given
 * exactly as `kta run` would (same loader, same field map), prints every
 * error and warning as "FILE:LINE:COL: ..." on stderr, and on stdout the
 * rules skipped or left unscoped for their log source, a table of rules
 * per log source, and a one-line summary last.  It never reads events and never talks to Kafka.
 */
#include "kta/cmd.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char check_usage[] =
    "usage: kta check [-m FIELDMAP] [-p PLACEHOLDERS] [--skip-invalid] [-q] RULES...\n"
    "\n"
    "Loads every rule file under each RULES path (a file, or a directory read\n"
    "recursively for *.yml and *.yaml), prints each error and warning as\n"
    "FILE:LINE:COL on stderr, then a summary line on stdout.\n"
    "\n"
    "  -m, --fieldmap FILE  field map YAML file (docs/rules.md §15)\n"
    "  -p, --placeholders FILE\n"
    "                       values of the expand modifier's %NAME% placeholders\n"
    "      --skip-invalid   load the valid rules and count invalid ones as skipped\n"
    "  -q, --quiet          do not print warnings\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 no errors, 1 errors found, 2 usage error.\n";

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

int kta_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "fieldmap",     required_argument, NULL, 'm' },
        { "placeholders", required_argument, NULL, 'p' },
        { "skip-invalid", no_argument,       NULL, 'S' },
        { "quiet",        no_argument,       NULL, 'q' },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct check_state cs = { 0 };
    struct kta_rules_opts opts = { .diag = diag, .diag_opaque = &cs };
    struct kta_rules_stats total = { 0 };
    struct ls_report rep = { 0 };
    int c, i;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:p:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'm':
            opts.fieldmap = optarg;
            break;
        case 'p':
            opts.placeholders = optarg;
            break;
        case 'S':
            opts.skip_invalid = 1;
            break;
        case 'q':
            cs.quiet = 1;
            break;
        case 'h':
            fputs(check_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "kta check: unknown or incomplete option '%s'\n%s",
                    argv[optind - 1], check_usage);
            return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "kta check: no rules path given\n%s", check_usage);
        return 2;
    }
    for (i = optind; i < argc; i++) {
        struct kta_rules_stats st = { 0 };
        struct kta_ruleset *rs;
        char err[1024];

        /* Each path is a separate load (as each would be for kta run), so
         * ids need only be unique within one path. */
        rs = kta_rules_load(argv[i], &opts, &st, err, sizeof(err));
        rep.quiet = cs.quiet;
        kta_ruleset_logsources(rs, ls_collect, &rep);
        kta_ruleset_decref(rs);
        total.files += st.files;
        total.rules += st.rules;
        total.enabled += st.enabled;
        total.skipped += st.skipped;
        total.errors += st.errors;
        total.warnings += st.warnings;
    }
    ls_print(&rep);
    printf("rules: %zu loaded (%zu enabled), %zu skipped, %zu %s, %zu %s in %zu %s\n",
           total.rules, total.enabled, total.skipped, total.errors,
           plural(total.errors, "error", "errors"), total.warnings,
           plural(total.warnings, "warning", "warnings"), total.files,
           plural(total.files, "file", "files"));
    for (size_t g = 0; g < rep.ng; g++)
        free(rep.g[g].logsource);
    free(rep.g);
    return total.errors ? 1 : 0;
}
