/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: the one command-line table.  Every option of every subcommand —
 * short and long name, argument, help sentence, the kta.yaml option or
 * librdkafka property it sets — is one row of src/cli.c's `opts`; every
 * subcommand is one row of `kta_cmds` listing the options it takes.
 * kta_cli_parse, `kta help CMD`, `kta CMD --help` and the kta(1) man page
 * (`kta help --man`, docs/man/kta.1) are all generated from those rows, so
 * a flag means the same wherever it is accepted and is documented once.
 *
 * Only the command layer (main.c, cmd_*.c) includes this header.
 * Functions borrow their arguments unless they say *takes*.
 */
#ifndef KTA_CLI_H
#define KTA_CLI_H

#include <stdio.h>

#include "kta/config.h"
#include "kta/rules.h"

/* Exit statuses, the same for every subcommand (kta(1) EXIT STATUS). */
enum {
    KTA_EXIT_OK = 0,
    KTA_EXIT_FAILURE = 1,   /* runtime failure: brokers, I/O, deliveries; rule
                             * errors found by `kta check` */
    KTA_EXIT_USAGE = 2,     /* usage or configuration error: options, kta.yaml,
                             * librdkafka properties, rules that do not load */
};

/* Every option of every subcommand, by identity. */
enum kta_opt {
    KTA_O_NONE,
    KTA_O_CONFIG, KTA_O_BROKERS, KTA_O_TOPIC, KTA_O_GROUP, KTA_O_RULES, KTA_O_FIELDMAP,
    KTA_O_PLACEHOLDERS, KTA_O_SKIP_INVALID, KTA_O_STRICT, KTA_O_WORKERS, KTA_O_PRINT,
    KTA_O_OFFSET, KTA_O_RESET_OFFSETS, KTA_O_EXIT_AT_END, KTA_O_METRICS, KTA_O_SET,
    KTA_O_THREADS, KTA_O_REFERENCE, KTA_O_STATS, KTA_O_TIME_FIELD, KTA_O_GRACE,
    KTA_O_CHECK, KTA_O_MARKDOWN, KTA_O_MAN,
    KTA_O_KEY, KTA_O_GENERATE, KTA_O_EVENTS, KTA_O_SCHEMA, KTA_O_OUTPUT, KTA_O_RATE,
    KTA_O_SEED, KTA_O_MALICIOUS,
    KTA_O_FILE, KTA_O_GENERATE_RULES, KTA_O_MATCH_RULES, KTA_O_SECONDS, KTA_O_MODES,
    KTA_O_LABEL, KTA_O_JSON, KTA_O_LINT, KTA_O_UNTIL,
    KTA_O_SQLITE, KTA_O_JSONL, KTA_O_CSV, KTA_O_ROTATE_BYTES, KTA_O_ROTATE_SECONDS,
    KTA_O_JUNIT, KTA_O_REQUIRE_TESTS, KTA_O_LEVEL, KTA_O_TAG, KTA_O_LOGSOURCE,
    KTA_O_VERBOSE, KTA_O_QUIET, KTA_O_HELP,
    KTA_O_COUNT
};

/* One option a subcommand takes; argname / help, when set, replace the
 * option's own for this subcommand (bench's --threads takes a list). */
struct kta_cmd_opt {
    enum kta_opt id;
    const char  *argname;
    const char  *help;
};

struct kta_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *operands;      /* "[FILE...]", or NULL: none accepted */
    const char *summary;       /* one sentence, no final period */
    const char *description;   /* paragraphs of plain text ("    " starts a
                                * verbatim line); `kta help NAME`, kta(1) */
    const char *exit_status;   /* what 0, 1 and 2 mean for this command */
    int         kafka;         /* talks to Kafka: -X may name librdkafka properties */
    const struct kta_cmd_opt *opts;   /* ends with KTA_O_NONE */
};

extern const struct kta_cmd kta_cmds[];

const struct kta_cmd *kta_cli_find(const char *name);

/* The result of parsing one subcommand's arguments. */
struct kta_cli {
    const struct kta_cmd *cmd;
    struct kta_config    *cfg;               /* defaults, kta.yaml, then options */
    const char           *config_file;       /* the kta.yaml read, or NULL */
    const char           *val[KTA_O_COUNT];  /* last argument of each option */
    int                   given[KTA_O_COUNT];/* times each option was given */
    int                   nargs;             /* operands */
    char                **args;
};

/*
 * Parses argv (argv[0] is the subcommand name) against the subcommand's
 * options: reads the configuration file (-c FILE, else $KTA_CONFIG, else
 * the default file when it exists; `-c none` reads none) for subcommands
 * that take -c, then applies every option over it, in order.  Options
 * that set a kta.yaml option or librdkafka property set it in cli->cfg.
 * Returns 0, or -1 with *status set when the command should exit now:
 * 0 after -h/--help, KTA_EXIT_USAGE after printing the error.
 */
int kta_cli_parse(struct kta_cli *cli, int argc, char **argv, int *status);
void kta_cli_free(struct kta_cli *cli);

/* RULES... operands args[first..] of a command that loads rules (check,
 * test, rules list): the same as -r paths, the first replacing rules.path
 * unless -r was given, the others adding to it.  Returns 0, or
 * KTA_EXIT_USAGE after printing the error. */
int kta_cli_rules_operands(struct kta_cli *cli, int first);

/* The rule loader's options from a configuration (rules.*); diag prints
 * through kta_cli_diag. */
void kta_cli_rules_opts(const struct kta_config *cfg, struct kta_rules_opts *ropts);

/* Loads the rules of cli's configuration (rules.path, rules.fieldmap,
 * rules.placeholders, rules.on_error, rules.strict) as kta run does, each
 * error and warning printed by kta_cli_diag.  Returns the ruleset (one
 * reference), or NULL after logging "CMD: rules not loaded: N errors"
 * (or the cause, when it is not a rule error); st may be NULL. */
struct kta_ruleset *kta_cli_load_rules(const struct kta_cli *cli, struct kta_rules_stats *st);

/* A kta_diag_fn for run, eval and config --check: each rule error or
 * warning as one log line, "kta: error: FILE:LINE:COL: what" (the rule
 * loader's own "error:" word dropped, the log level says it). */
void kta_cli_diag(void *opaque, enum kta_diag_kind kind, const char *msg);

/* --schema NAME (kta produce, kta bench): when given, checks NAME against
 * the generator's schemas (gen.c) and sets *name to it; else leaves *name
 * (the caller's default).  Returns 0, or -1 after printing the usage
 * error. */
int kta_cli_schema(const struct kta_cli *cli, const char **name);

/* Usage errors: "kta: error: CMD: what (see `kta help CMD`)", exit 2. */
int kta_cli_usage(const struct kta_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* `kta help CMD` and `kta CMD --help`: the same text. */
void kta_cli_help(FILE *fp, const struct kta_cmd *cmd);
/* `kta help`: the list of subcommands. */
void kta_cli_usage_all(FILE *fp);
/* kta(1) as man(7) source (docs/man/kta.1, `make docs`). */
void kta_cli_man(FILE *fp);

/* The configuration file read when -c is not given: $KTA_CONFIG when set
 * ("" or "none": no file; explicit = 1), else the system default
 * (KTA_SYSCONFDIR/kta/kta.yaml) when it exists.  NULL: none. */
const char *kta_cli_default_config(int *explicit_choice);

#endif
