/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli: the command-line table of every subcommand, the parser that reads
 * it, and the help texts and kta(1) page generated from it.
 *
 * `opts` holds each option once: names, argument, help sentence and the
 * kta.yaml option (or librdkafka property) it sets.  `kta_cmds` lists the
 * subcommands and which of those options each takes.  A short letter or
 * long name never means two things (tests/unit/test_cli.c checks it).
 * This module parses and documents; it never runs a subcommand's work and
 * never talks to Kafka.  Called from the main thread only.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/gen.h"
#include "kta/util.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef KTA_SYSCONFDIR
#define KTA_SYSCONFDIR "/etc"
#endif

#define DEFAULT_CONFIG KTA_SYSCONFDIR "/kta/kta.yaml"

enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

struct opt {
    int         shortopt;   /* 0: long name only */
    const char *name;       /* long name, without "--"; NULL: short only */
    const char *alias;      /* another long name accepted (not documented) */
    int         arg;        /* ARG_* */
    const char *argname;
    const char *config;     /* kta.yaml option or librdkafka property it sets */
    const char *value;      /* for flags that set `config`: the value set */
    int         list;       /* repeatable: the first replaces, later ones add */
    const char *help;
};

static const struct opt opts[KTA_O_COUNT] = {
    [KTA_O_CONFIG] = { 'c', "config", NULL, ARG_REQUIRED, "FILE", NULL, NULL, 0,
        "read this kta.yaml (kta.yaml(5)); `none`: read no file, not even the default "
        "one. Options given on the command line override it" },
    [KTA_O_BROKERS] = { 'b', "brokers", "bootstrap-server", ARG_REQUIRED, "BROKERS",
        "bootstrap.servers", NULL, 0, "Kafka bootstrap servers, host:port[,...] (default "
        "localhost:9092)" },
    [KTA_O_TOPIC] = { 't', "topic", NULL, ARG_REQUIRED, "TOPIC", "input.topics", NULL, 1,
        "input topic; repeat for several (default threat-events)" },
    [KTA_O_GROUP] = { 'G', "group", NULL, ARG_REQUIRED, "GROUP", "group.id", NULL, 0,
        "consumer group id (default kta)" },
    [KTA_O_RULES] = { 'r', "rules", NULL, ARG_REQUIRED, "RULES", "rules.path", NULL, 1,
        "rule file or directory (read recursively); repeat for several, loaded into one "
        "ruleset. The first -r replaces rules.path of the configuration, later ones add to "
        "it (default rules)" },
    [KTA_O_FIELDMAP] = { 'm', "fieldmap", NULL, ARG_REQUIRED, "FIELDMAP", "rules.fieldmap",
        NULL, 0, "field map YAML file: rule field names -> event paths, log sources" },
    [KTA_O_PLACEHOLDERS] = { 'p', "placeholders", NULL, ARG_REQUIRED, "PLACEHOLDERS",
        "rules.placeholders", NULL, 0,
        "values of %NAME% in rule values with the expand modifier (a YAML mapping)" },
    [KTA_O_SKIP_INVALID] = { 0, "skip-invalid", NULL, ARG_NONE, NULL, "rules.on_error", "skip",
        0, "leave out invalid rules (each still reported) instead of failing" },
    [KTA_O_STRICT] = { 0, "strict", NULL, ARG_NONE, NULL, "rules.strict", "true", 0,
        "treat every warning about a rule file, field map or placeholders file as an error" },
    [KTA_O_WORKERS] = { 'w', "workers", NULL, ARG_REQUIRED, "N", "workers", NULL, 0,
        "worker threads (default 0: one per CPU)" },
    [KTA_O_PRINT] = { 0, "print", NULL, ARG_REQUIRED, "WHAT", "console.print", NULL, 0,
        "console lines on stdout: alerts (one [ALERT] line per hit, the default), all (also "
        "a [DEBUG] line per event without hits) or none" },
    [KTA_O_OFFSET] = { 'o', "offset", NULL, ARG_REQUIRED, "OFFSET", "input.start_offset", NULL,
        0, "where to start reading partitions that have no committed offset for the group "
        "(every partition with --reset-offsets): beginning, end, N (an absolute offset), -N "
        "(N before the end) or @TIMESTAMP (milliseconds since the epoch), as in kcat. "
        "Re-reading records emits their hits again" },
    [KTA_O_RESET_OFFSETS] = { 0, "reset-offsets", NULL, ARG_NONE, NULL, "input.reset_offsets",
        "true", 0, "apply -o to every assigned partition, ignoring the group's committed "
        "offsets (a replay)" },
    [KTA_O_EXIT_AT_END] = { 'e', "exit-at-end", NULL, ARG_NONE, NULL, "input.exit_at_end",
        "true", 0, "stop once every assigned partition is caught up, after committing "
        "(a one-shot run)" },
    [KTA_O_METRICS] = { 0, "metrics", NULL, ARG_REQUIRED, "ADDR", "metrics.listen", NULL, 0,
        "serve Prometheus metrics, /healthz and /readyz on ADDR (host:port, or a port on "
        "the loopback interface)" },
    [KTA_O_SET] = { 'X', NULL, NULL, ARG_REQUIRED, "key=value", NULL, NULL, 0,
        "set a kta option by its kta.yaml name (-X output.topic=hits) or, for commands that "
        "talk to Kafka, a librdkafka property (-X security.protocol=ssl), as in kcat" },
    [KTA_O_THREADS] = { 0, "threads", NULL, ARG_REQUIRED, "N", NULL, NULL, 0,
        "evaluate blocks of lines on N threads (default 1; 0: one per CPU)" },
    [KTA_O_REFERENCE] = { 0, "reference", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "decode every line and evaluate every rule (the plain path the engine is checked "
        "against; same hits, slower)" },
    [KTA_O_STATS] = { 0, "stats", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "also print hits per rule and rules evaluated per event" },
    [KTA_O_TIME_FIELD] = { 0, "time-field", NULL, ARG_REQUIRED, "LIST", NULL, NULL, 0,
        "correlation rules: the event-time fields, comma-separated, first present wins "
        "(default @timestamp,timestamp,EventTime,TimeCreated)" },
    [KTA_O_GRACE] = { 0, "grace", NULL, ARG_REQUIRED, "SPAN", NULL, NULL, 0,
        "correlation rules: events older than the newest time seen in their file minus "
        "SPAN (Ns, Nm, Nh, Nd or 0; default 0) are counted as late and left out" },
    [KTA_O_CHECK] = { 0, "check", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "validate everything kta run would (kta options, librdkafka properties for the "
        "consumer and the producer, the rules) without connecting to Kafka; print nothing "
        "else" },
    [KTA_O_MARKDOWN] = { 0, "markdown", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "print the reference of every kta.yaml option (docs/configuration.md)" },
    [KTA_O_MAN] = { 0, "man", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "print that reference as the kta.yaml(5) man page" },
    [KTA_O_KEY] = { 'k', "key-field", NULL, ARG_REQUIRED, "FIELD", NULL, NULL, 0,
        "use the event's FIELD as the message key" },
    [KTA_O_GENERATE] = { 0, "generate", NULL, ARG_OPTIONAL, "N", NULL, NULL, 0,
        "send N synthetic events instead of reading files; deterministic for a seed "
        "(N may also be given with -n)" },
    [KTA_O_EVENTS] = { 'n', "events", "count", ARG_REQUIRED, "N", NULL, NULL, 0,
        "the number of events to generate" },
    [KTA_O_SCHEMA] = { 0, "schema", NULL, ARG_REQUIRED, "NAME", NULL, NULL, 0,
        "generated events: kta (small endpoint events: process, network, login, file; the "
        "default), sysmon (flat Windows Sysmon and Security events: EventID, Channel, Image, "
        "CommandLine..., ~870 bytes) or linux (Sysmon for Linux process creation and auditd "
        "records: type, syscall, exe, a0...)" },
    [KTA_O_OUTPUT] = { 0, "output", NULL, ARG_REQUIRED, "FILE", NULL, NULL, 0,
        "write the generated events to FILE, one per line (- for stdout), instead of a "
        "topic" },
    [KTA_O_RATE] = { 0, "rate", NULL, ARG_REQUIRED, "R", NULL, NULL, 0,
        "at most R events per second (default: as fast as possible)" },
    [KTA_O_SEED] = { 0, "seed", NULL, ARG_REQUIRED, "S", NULL, NULL, 0,
        "generator seed (default 1)" },
    [KTA_O_MALICIOUS] = { 0, "malicious", NULL, ARG_REQUIRED, "P", NULL, NULL, 0,
        "share of malicious generated events (default 0.01): patterns the default rules "
        "detect (kta) or the Sigma rules do (sysmon, linux: encoded PowerShell, certutil "
        "downloads, reverse shells...)" },
    [KTA_O_FILE] = { 0, "file", NULL, ARG_REQUIRED, "JSONL", NULL, NULL, 0,
        "events from a file instead, one JSON object per line" },
    [KTA_O_GENERATE_RULES] = { 0, "generate-rules", NULL, ARG_REQUIRED, "N", NULL, NULL, 0,
        "instead of -r: N literal rules on random tokens" },
    [KTA_O_MATCH_RULES] = { 0, "match-rules", NULL, ARG_REQUIRED, "P", NULL, NULL, 0,
        "share of generated rules that use a token of the malicious events (default 0.01)" },
    [KTA_O_SECONDS] = { 0, "seconds", NULL, ARG_REQUIRED, "T", NULL, NULL, 0,
        "time per measurement (default 0.5)" },
    [KTA_O_MODES] = { 0, "modes", NULL, ARG_REQUIRED, "LIST", NULL, NULL, 0,
        "engine,no-prefilter,parse-only (default all)" },
    [KTA_O_LABEL] = { 0, "label", NULL, ARG_REQUIRED, "TEXT", NULL, NULL, 0,
        "name of the ruleset in the output" },
    [KTA_O_JSON] = { 0, "json", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "one JSON object on stdout" },
    [KTA_O_SQLITE] = { 0, "sqlite", NULL, ARG_REQUIRED, "FILE", NULL, NULL, 0,
        "write hits to the SQLite database FILE (created when missing; table hits, see "
        "docs/query.md): exactly once, whatever restarts" },
    [KTA_O_JSONL] = { 0, "jsonl", NULL, ARG_REQUIRED, "DIR", NULL, NULL, 0,
        "write hits as JSON lines, each record as received, to files in DIR "
        "(hits-YYYYMMDDTHHMMSSZ-NNNN.jsonl): at least once" },
    [KTA_O_CSV] = { 0, "csv", NULL, ARG_REQUIRED, "DIR", NULL, NULL, 0,
        "write hits as CSV files in DIR (hits-YYYYMMDDTHHMMSSZ-NNNN.csv; a header row, the "
        "columns of the SQLite table, the hit JSON last): at least once" },
    [KTA_O_ROTATE_BYTES] = { 0, "rotate-bytes", NULL, ARG_REQUIRED, "N", NULL, NULL, 0,
        "--jsonl, --csv: start a new file once the current one holds N bytes (default: "
        "never)" },
    [KTA_O_ROTATE_SECONDS] = { 0, "rotate-seconds", NULL, ARG_REQUIRED, "N", NULL, NULL, 0,
        "--jsonl, --csv: start a new file once the current one is N seconds old (checked "
        "after each batch; default: never)" },
    [KTA_O_JUNIT] = { 0, "junit", NULL, ARG_REQUIRED, "FILE", NULL, NULL, 0,
        "also write the results as JUnit XML to FILE (one testsuite per rule file, one "
        "testcase per case)" },
    [KTA_O_REQUIRE_TESTS] = { 0, "require-tests", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "fail every enabled rule that lacks a match and a no_match case (a correlation rule: "
        "a case expecting hits and one expecting none)" },
    [KTA_O_LEVEL] = { 0, "level", NULL, ARG_REQUIRED, "LEVEL", NULL, NULL, 0,
        "only rules of LEVEL or above (informational, low, medium, high, critical)" },
    [KTA_O_TAG] = { 0, "tag", NULL, ARG_REQUIRED, "TAGS", NULL, NULL, 0,
        "only rules carrying each of these tags (comma-separated; case ignored; a final * "
        "matches any rest, as in attack.t1110*)" },
    [KTA_O_LOGSOURCE] = { 0, "logsource", NULL, ARG_REQUIRED, "KEY=VALUE", NULL, NULL, 0,
        "only rules whose logsource has each of these values (comma-separated, e.g. "
        "product=windows,category=process_creation; case ignored)" },
    [KTA_O_VERBOSE] = { 'v', "verbose", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "more logging on stderr (debug lines)" },
    [KTA_O_UNTIL] = { 0, "until", NULL, ARG_REQUIRED, "END", NULL, NULL, 0,
        "a backtest stops each partition at END: end (the high watermark it had when the "
        "backtest started; the default) or @TIMESTAMP (before the first record at or after "
        "it, milliseconds since the epoch, as kcat's -o e@TIMESTAMP)" },
    [KTA_O_LINT] = { 0, "lint", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "also report lint warnings (what kta lint does): rules that load but match every "
        "event, searches the condition never uses, values that never match, duplicate "
        "titles, log-source scopes nothing satisfies (docs/rules.md, Lint warnings)" },
    [KTA_O_QUIET] = { 'q', "quiet", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "less on stderr: only warnings and errors" },
    [KTA_O_HELP] = { 'h', "help", NULL, ARG_NONE, NULL, NULL, NULL, 0,
        "show this help" },
};

/* ---- the subcommands ------------------------------------------------------ */

#define RULE_OPTS { KTA_O_RULES, NULL, NULL }, { KTA_O_FIELDMAP, NULL, NULL }, \
                  { KTA_O_PLACEHOLDERS, NULL, NULL }, { KTA_O_SKIP_INVALID, NULL, NULL }, \
                  { KTA_O_STRICT, NULL, NULL }
#define COMMON_OPTS { KTA_O_SET, NULL, NULL }, { KTA_O_VERBOSE, NULL, NULL }, \
                    { KTA_O_QUIET, NULL, NULL }, { KTA_O_HELP, NULL, NULL }
#define RUN_OPTS { KTA_O_CONFIG, NULL, NULL }, { KTA_O_BROKERS, NULL, NULL }, \
                 { KTA_O_TOPIC, NULL, NULL }, { KTA_O_GROUP, NULL, NULL }, RULE_OPTS, \
                 { KTA_O_WORKERS, NULL, NULL }, { KTA_O_PRINT, NULL, NULL }, \
                 { KTA_O_OFFSET, NULL, NULL }, { KTA_O_RESET_OFFSETS, NULL, NULL }, \
                 { KTA_O_EXIT_AT_END, NULL, NULL }, { KTA_O_METRICS, NULL, NULL }

static const struct kta_cmd_opt run_opts[] = {
    RUN_OPTS, COMMON_OPTS, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt config_opts[] = {
    { KTA_O_CHECK, NULL, NULL }, { KTA_O_MARKDOWN, NULL, NULL }, { KTA_O_MAN, NULL, NULL },
    RUN_OPTS, COMMON_OPTS, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt eval_opts[] = {
    { KTA_O_CONFIG, NULL, NULL }, RULE_OPTS,
    { KTA_O_BROKERS, NULL, NULL },
    { KTA_O_TOPIC, NULL, "backtest: read this topic (one) instead of files, directly: no "
      "consumer group, nothing committed, nothing produced" },
    { KTA_O_OFFSET, NULL, "backtest: where each partition starts: beginning (the default), "
      "N (an absolute offset), -N (N before the end), end or @TIMESTAMP (the first record at "
      "or after it, milliseconds since the epoch), as in kcat" },
    { KTA_O_UNTIL, NULL, NULL },
    { KTA_O_THREADS, NULL, NULL },
    { KTA_O_REFERENCE, NULL, NULL }, { KTA_O_STATS, NULL, NULL },
    { KTA_O_TIME_FIELD, NULL, NULL }, { KTA_O_GRACE, NULL, NULL }, COMMON_OPTS,
    { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt check_opts[] = {
    { KTA_O_CONFIG, NULL, NULL }, RULE_OPTS, { KTA_O_LINT, NULL, NULL }, { KTA_O_SET, NULL, NULL },
    { KTA_O_VERBOSE, NULL, NULL },
    { KTA_O_QUIET, NULL, "do not print warnings, nor the skipped and unscoped rules" },
    { KTA_O_HELP, NULL, NULL }, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt lint_opts[] = {
    { KTA_O_CONFIG, NULL, NULL }, RULE_OPTS, { KTA_O_SET, NULL, NULL },
    { KTA_O_VERBOSE, NULL, NULL },
    { KTA_O_QUIET, NULL, "do not print warnings, nor the skipped and unscoped rules" },
    { KTA_O_HELP, NULL, NULL }, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt test_opts[] = {
    { KTA_O_CONFIG, NULL, NULL }, RULE_OPTS, { KTA_O_JUNIT, NULL, NULL },
    { KTA_O_REQUIRE_TESTS, NULL, NULL }, { KTA_O_SET, NULL, NULL },
    { KTA_O_VERBOSE, NULL, "also print a line for every case that passes or is skipped" },
    { KTA_O_QUIET, NULL, "no summary line; on stderr only warnings and errors" },
    { KTA_O_HELP, NULL, NULL }, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt rules_opts[] = {
    { KTA_O_CONFIG, NULL, NULL }, RULE_OPTS,
    { KTA_O_JSON, NULL, "one JSON object per rule on stdout, one per line (see above)" },
    { KTA_O_LEVEL, NULL, NULL }, { KTA_O_TAG, NULL, NULL }, { KTA_O_LOGSOURCE, NULL, NULL },
    { KTA_O_SET, NULL, NULL }, { KTA_O_VERBOSE, NULL, NULL },
    { KTA_O_QUIET, NULL, "no count line; on stderr only warnings and errors" },
    { KTA_O_HELP, NULL, NULL }, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt produce_opts[] = {
    { KTA_O_CONFIG, NULL, "take the kafka: properties (brokers, TLS, SASL...) and "
      "startup_timeout_ms of this kta.yaml; `none`: no file" },
    { KTA_O_BROKERS, NULL, NULL }, { KTA_O_TOPIC, NULL, "the topic to send to" },
    { KTA_O_KEY, NULL, NULL }, { KTA_O_GENERATE, NULL, NULL }, { KTA_O_EVENTS, NULL, NULL },
    { KTA_O_SCHEMA, NULL, NULL }, { KTA_O_OUTPUT, NULL, NULL }, { KTA_O_RATE, NULL, NULL },
    { KTA_O_SEED, NULL, NULL }, { KTA_O_MALICIOUS, NULL, NULL },
    { KTA_O_RULES, NULL, "sysmon, linux: build every malicious event from one of these rules "
      "instead (invalid rules are skipped): an event of the rule's log source carrying the "
      "literal values its condition needs, so that it fires; the rules are taken in turn, "
      "each once before any repeats. Repeat for several" },
    { KTA_O_FIELDMAP, NULL, "load -r RULES with this field map, as kta run would (its log "
      "sources decide which rules are used)" },
    { KTA_O_PLACEHOLDERS, NULL, "load -r RULES with these placeholders" },
    COMMON_OPTS, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt bench_opts[] = {
    { KTA_O_RULES, NULL, "rule file or directory (invalid rules are skipped); repeat for "
      "several" },
    { KTA_O_FIELDMAP, NULL, NULL }, { KTA_O_PLACEHOLDERS, NULL, NULL },
    { KTA_O_STRICT, NULL, NULL },
    { KTA_O_GENERATE_RULES, NULL, NULL }, { KTA_O_MATCH_RULES, NULL, NULL },
    { KTA_O_EVENTS, NULL, "generated events (default 100000); with --modes event_count or "
      "value_count, the number of correlation groups" },
    { KTA_O_SCHEMA, NULL, "kta (default), sysmon or linux: see `kta help produce`" },
    { KTA_O_FILE, NULL, NULL }, { KTA_O_SEED, NULL, NULL },
    { KTA_O_MALICIOUS, NULL, "share of malicious generated events (default 0.01)" },
    { KTA_O_THREADS, "LIST", "worker thread counts to measure, e.g. 1,2 (default 1)" },
    { KTA_O_SECONDS, NULL, NULL },
    { KTA_O_MODES, NULL, "engine,no-prefilter,parse-only (default all); or event_count,"
      "value_count: the correlation path instead" },
    { KTA_O_LABEL, NULL, NULL }, { KTA_O_JSON, NULL, NULL }, COMMON_OPTS,
    { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt export_opts[] = {
    { KTA_O_CONFIG, NULL, "take the kafka: properties (brokers, TLS, SASL...), output.topic "
      "and startup_timeout_ms of this kta.yaml; `none`: no file" },
    { KTA_O_BROKERS, NULL, NULL },
    { KTA_O_TOPIC, NULL, "hit topic to read; repeat for several (default output.topic: "
      "matched_hits)" },
    { KTA_O_GROUP, NULL, "consumer group id (default kta-export; never kta run's)" },
    { KTA_O_OFFSET, NULL, "where to start partitions the group has no committed offset for: "
      "beginning (the default) or end; `stored` is the default too (the committed offset). "
      "Re-reading is harmless for --sqlite" },
    { KTA_O_EXIT_AT_END, NULL, "stop once every assigned partition is read to its end, "
      "after storing and committing (a one-shot export)" },
    { KTA_O_SQLITE, NULL, NULL }, { KTA_O_JSONL, NULL, NULL }, { KTA_O_CSV, NULL, NULL },
    { KTA_O_ROTATE_BYTES, NULL, NULL }, { KTA_O_ROTATE_SECONDS, NULL, NULL },
    COMMON_OPTS, { KTA_O_NONE, NULL, NULL },
};

static const struct kta_cmd_opt help_opts[] = {
    { KTA_O_HELP, NULL, NULL }, { KTA_O_NONE, NULL, NULL },
};

static int cmd_help(int argc, char **argv);

#define RULES_EXIT "2 on a usage or configuration error (options, kta.yaml, rules that " \
                   "do not load)"

const struct kta_cmd kta_cmds[] = {
    { "run", kta_cmd_run, NULL,
      "consume events from Kafka, evaluate rules, produce hits to the output topic",
      "Runs the pipeline: a consumer in group GROUP reads TOPIC, worker threads evaluate "
      "the rules, hits go to the output topic (output.topic, default matched_hits) and "
      "records that are not JSON objects go unchanged to the dead-letter topic. Offsets "
      "are committed only once every record they led to is acknowledged by the broker. "
      "Before consuming, kta checks that the brokers answer within startup_timeout_ms and "
      "that every topic exists.\n\n"
      "On the console it prints one line per hit:\n\n"
      "    [ALERT] Host: H | Threat: T | Severity: LEVEL | Rule: ID\n\n"
      "and [ERROR] Received malformed JSON: lines on stderr.\n\n"
      "SIGINT and SIGTERM stop intake, drain, commit and exit 0; SIGHUP reloads the rules "
      "(as does any change to the rule files): a ruleset that fails to load, or that "
      "would have no enabled rule, is rejected and the old one keeps running.",
      "0 after a clean stop; 1 when the brokers or topics cannot be used or records cannot "
      "be delivered; " RULES_EXIT,
      1, run_opts },
    { "eval", kta_cmd_eval, "[FILE...]",
      "evaluate rules against JSON lines from files or stdin; print hits",
      "Reads JSON events, one per line, from each FILE (or stdin) and prints one hit JSON "
      "per line on stdout, with \"source\": {\"file\": NAME, \"line\": N}, through the same "
      "engine as kta run's workers (literal prefilter on the raw line, parse only when a "
      "rule could match). It loads the rules kta run would: rules.path, rules.fieldmap and "
      "rules.placeholders of the configuration, unless -r, -m or -p say otherwise.\n\n"
      "Malformed lines (and lines over 16 MiB) are reported on stderr as FILE:LINE: "
      "malformed event (REASON): DETAIL and skipped; blank lines are skipped but counted. "
      "Hits and those reports come out in input order whatever the thread count; only "
      "detected_at differs between runs. A summary line ends stderr:\n\n"
      "    kta: eval: EVENTS events, HITS hits, MALFORMED malformed in SECS s (RATE events/s)\n\n"
      "and on a terminal a progress line shows meanwhile.\n\n"
      "A backtest, kta eval -b BROKERS -t TOPIC [-o START] [--until END], evaluates a range "
      "of a topic instead of files, the same way: it assigns every partition itself (no "
      "consumer group: no group.id, nothing committed, nothing produced), reads each from "
      "START to END as fixed when it starts, and prints the hits, with \"source\": "
      "{\"topic\": T, \"partition\": P, \"offset\": O}, and the same summary. Malformed "
      "records are reported as TOPIC/PARTITION/OFFSET: malformed event (REASON): DETAIL.",
      "0 when all input was read (malformed lines included); 1 on an unreadable file, a "
      "backtest whose brokers or topic cannot be used, or a failed write to stdout; "
      RULES_EXIT,
      0, eval_opts },
    { "check", kta_cmd_check, "[RULES...]",
      "validate rule files and print a summary",
      "Loads every rule under each RULES path and -r path (a file, or a directory read "
      "recursively for *.yml and *.yaml) into one ruleset, exactly as kta run would (same "
      "field map and placeholders; without paths, the configuration's rules.path), prints "
      "every error and warning as FILE:LINE:COL: error: ... on stderr, then on stdout the "
      "rules skipped or left unscoped for their log source, a table of rules per log "
      "source, the ruleset version (the kta.ruleset.version its hits carry: a digest of "
      "the files' content) and a summary line. A ruleset with no enabled rule is an error, "
      "as kta run refuses it (unless rules.allow_empty).",
      "0 when there is no error; 1 when errors were found; 2 on a usage or configuration "
      "error",
      0, check_opts },
    { "lint", kta_cmd_lint, "[RULES...]",
      "kta check, and warnings about rules that load but are probably wrong",
      "Does what kta check --lint does: loads the rules as kta check does, reports the "
      "same errors and warnings, and then lint warnings, one per line on stderr as "
      "FILE:LINE:COL: warning: rule ID: MESSAGE [NAME]. NAME is stable: matches-everything "
      "(the condition holds for an event with no fields), unused-search (a search the "
      "condition never uses), never-matches (a double-quoted value whose \\\\ became \\, "
      "leaving an escaped, literal \\* or \\?), cased-without-letters, duplicate-title and "
      "unsatisfiable-scope (the log-source entries that scope a rule need one field to hold "
      "two different values). Numeric modifiers on values that are not numbers are load "
      "errors already. docs/rules.md, Lint warnings, says what each one checks and misses.",
      "0 when there is no error (warnings included, unless --strict); 1 when errors were "
      "found or, with --strict, any warning; 2 on a usage or configuration error",
      0, lint_opts },
    { "test", kta_cmd_test, "[RULES...]",
      "run the test cases written in the rules' tests: keys",
      "Loads the rules as kta check does (RULES and -r paths, the same field map and "
      "placeholders; without paths, the configuration's rules.path) and runs every case of "
      "every rule's tests: key through the engine kta run and kta eval use. A detection "
      "rule's case is match: EVENT (the rule's detection, log-source scope and filters "
      "included, must hold for EVENT) or no_match: EVENT (it must not); each EVENT is "
      "evaluated on its own. A correlation rule's case is events: [EVENT...], fed in order "
      "through the whole ruleset into a fresh correlation state that is closed at the end, "
      "and hits: N (that many hits of this correlation) or hits: [{group: {FIELD: VALUE}, "
      "count: N}...] (one item per hit, in order; group and count, when given, must equal "
      "the hit's); event times as kta eval takes them (or -X correlation.time_field=...), "
      "so keep the events in time order. Cases of a disabled rule are skipped. See "
      "kta-rules(7) and docs/rules.md, Writing and testing rules.\n\n"
      "Each failing case prints one line on stdout, FILE:LINE: rule ID: what failed (LINE "
      "is the case's line), and a summary ends the output:\n\n"
      "    kta test: CASES cases, PASSED passed, FAILED failed in RULES rules\n\n"
      "followed by the number of cases skipped and of rules without cases, when there are "
      "any.",
      "0 when every case passed; 1 when a case failed (or, with --require-tests, a rule "
      "lacks cases) or the JUnit file cannot be written; " RULES_EXIT,
      0, test_opts },
    { "rules", kta_cmd_rules, "list [RULES...]",
      "list the rules and correlation rules loaded, with filters",
      "kta rules list loads the rules as kta check does and prints one line per rule and "
      "correlation rule that passes the filters, in load order (rules first, then "
      "correlations) under a header line: id, level, enabled, file:line, log source and "
      "scope (scoped:N when N log-source entries scope it, unmapped when none matched and "
      "it applies to every event, nomap without a log-source map, +Nf when N filters "
      "narrow it; a correlation rule shows its type), tags and title. Rules left out for "
      "their log source (unmapped: skip) are not loaded: kta check lists them. A count "
      "ends stderr.\n\n"
      "With --json each rule is one JSON object on its own line instead, no header: "
      "{\"kind\": \"rule\" or \"correlation\", \"id\", \"name\" (or null), \"title\", "
      "\"level\", \"enabled\", \"file\", \"line\", \"logsource\" (\"product=windows "
      "category=...\" or null), \"scope\" (none, scoped, unmapped, nomap; correlation for "
      "correlations), \"scopes\", \"filters\", \"tags\", \"tests\" (its number of cases), "
      "\"output_topic\" (or null), and for a correlation rule \"type\" and \"rules\" (the "
      "ids it refers to)}.",
      "0 after the list (also when no rule passes the filters); " RULES_EXIT,
      0, rules_opts },
    { "produce", kta_cmd_produce, "[FILE...]",
      "send JSON lines from files or stdin to a Kafka topic",
      "Sends each non-empty line of each FILE (or stdin) as one record to TOPIC and waits "
      "until the broker has acknowledged all of them. First it checks, within "
      "startup_timeout_ms (-X startup_timeout_ms=N), that the brokers answer and that TOPIC "
      "exists. With --generate it sends synthetic events instead, or with --output writes "
      "them as JSON lines to a file (no Kafka).",
      "0 when every record was acknowledged; 1 when the brokers cannot be reached, the topic "
      "does not exist, a file cannot be read or a record was not delivered; 2 on a usage or "
      "configuration error",
      1, produce_opts },
    { "config", kta_cmd_config, NULL,
      "print or check the effective configuration, or the option reference",
      "Prints the configuration kta run would use, with the same options (secrets masked, "
      "relative paths resolved), and validates it as kta run would; with --check it only "
      "validates, listing every error. With --markdown or --man it prints the reference "
      "of every kta.yaml option instead.",
      "0 when the configuration is valid; 2 when it is not (every error is listed)",
      1, config_opts },
    { "bench", kta_cmd_bench, NULL,
      "time the worker path (check, prefilter, parse, evaluate, encode) without Kafka",
      "Runs events held in memory through the worker path for a fixed time per measurement "
      "and prints events/s, ns/event per thread and the share of events that needed a full "
      "parse, for each thread count, in three modes: engine (the worker path), "
      "no-prefilter (every event parsed and every rule evaluated) and parse-only (jansson "
      "parse + free, the baseline). Also prints the memory the compiled ruleset takes (RSS "
      "and malloc'd bytes grown across the load). Give exactly one of -r and "
      "--generate-rules. With --modes event_count and/or value_count it times the correlation "
      "path instead, without rules of yours: one correlation of that type over --events "
      "groups, each input keyed and applied as kta run's owner does (changelog written after "
      "every input), and prints inputs/s, the time keying, applying and writing the "
      "changelog take, changelog bytes per input and the state's bytes per group (malloc'd "
      "and RSS).",
      "0 after the measurements; 1 when the events file cannot be read; " RULES_EXIT,
      0, bench_opts },
    { "export", kta_cmd_export, NULL,
      "copy hits from a hit topic into SQLite, or into JSON-lines or CSV files",
      "Reads a hit topic (default matched_hits) in consumer group GROUP (default kta-export) "
      "and writes each hit to one sink: --sqlite FILE (table hits, with typed columns for "
      "the rule, host, source and correlation and the whole hit JSON; see docs/query.md), "
      "--jsonl DIR or --csv DIR (files rotated by --rotate-bytes and --rotate-seconds, "
      "written as .part and renamed when complete). Records are stored in batches and "
      "their offsets are committed only after the batch is durable (the SQLite transaction "
      "committed, the file fsync'd), so a crash loses nothing. SQLite is exactly-once: "
      "a unique key on (source topic, partition, offset, rule id) and one on the hit "
      "record's own coordinates make records read again after a crash add no row. Files "
      "are at-least-once: those records are written again.\n\n"
      "A record that is not a hit (not JSON, or no rule.id or detected_at) is reported on "
      "stderr with its topic, partition and offset, counted and skipped. A sink that "
      "cannot be written (read-only or full database, SQLITE_CANTOPEN, a disk error) stops "
      "the export with an error naming the file and the cause; nothing past the last "
      "stored batch is committed. SIGINT and SIGTERM end the batch, commit and exit 0. A "
      "summary line ends stderr:\n\n"
      "    kta: export: N records, N rows written, N already stored, N not hits (skipped) -> SINK",
      "0 after a clean stop (or, with -e, at the end); 1 when the brokers or the topic "
      "cannot be used or the sink cannot be written; 2 on a usage or configuration error",
      1, export_opts },
    { "help", cmd_help, "[COMMAND]", "show help",
      "Without COMMAND, lists the subcommands; with one, prints its options (the same text "
      "as kta COMMAND --help).",
      "0; 2 when there is no such command",
      0, help_opts },
    { NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL },
};

const struct kta_cmd *kta_cli_find(const char *name)
{
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

static const struct kta_cmd_opt *cmd_opt(const struct kta_cmd *cmd, enum kta_opt id)
{
    for (const struct kta_cmd_opt *o = cmd->opts; o->id != KTA_O_NONE; o++)
        if (o->id == id)
            return o;
    return NULL;
}

static const char *opt_help(const struct kta_cmd_opt *co)
{
    return co->help ? co->help : opts[co->id].help;
}

static const char *opt_argname(const struct kta_cmd_opt *co)
{
    return co->argname ? co->argname : opts[co->id].argname;
}

/* ---- errors --------------------------------------------------------------- */

int kta_cli_usage(const struct kta_cmd *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kta_log(KTA_LOG_ERROR, "%s: %s (see `kta help %s`)", cmd->name, msg, cmd->name);
    return KTA_EXIT_USAGE;
}

int kta_cli_schema(const struct kta_cli *cli, const char **name)
{
    struct kta_gen scratch;
    const char *val = cli->val[KTA_O_SCHEMA];

    if (!cli->given[KTA_O_SCHEMA])
        return 0;
    if (kta_gen_schema(&scratch, val) < 0) {
        kta_cli_usage(cli->cmd, "--schema '%s': unknown schema (expected one of "
                      KTA_GEN_SCHEMAS ")", val);
        return -1;
    }
    *name = val;
    return 0;
}

void kta_cli_diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    const char *word = kind == KTA_DIAG_ERROR ? ": error: " : ": warning: ";
    const char *p = strstr(msg, word);

    (void)opaque;
    if (p) {   /* "FILE:L:C: error: what" -> "FILE:L:C: what" */
        int n = (int)(p - msg);

        if (n > 4 && strncmp(p - 4, ":0:0", 4) == 0)   /* the file as a whole */
            n -= 4;
        kta_log(kind == KTA_DIAG_ERROR ? KTA_LOG_ERROR : KTA_LOG_WARN, "%.*s: %s", n, msg,
                p + strlen(word));
    } else
        kta_log(kind == KTA_DIAG_ERROR ? KTA_LOG_ERROR : KTA_LOG_WARN, "%s", msg);
}

struct kta_ruleset *kta_cli_load_rules(const struct kta_cli *cli, struct kta_rules_stats *st)
{
    struct kta_rules_opts ropts;
    struct kta_rules_stats own = { 0 };
    struct kta_ruleset *rs;
    char errstr[1024];

    if (!st)
        st = &own;
    kta_cli_rules_opts(cli->cfg, &ropts);
    rs = kta_rules_load_paths((const char *const *)cli->cfg->rules_paths,
                              cli->cfg->nrules_paths, &ropts, st, errstr, sizeof(errstr));
    /* Each error has had its line; say only what it means. */
    if (!rs && st->errors)
        kta_log(KTA_LOG_ERROR, "%s: rules not loaded: %zu error%s", cli->cmd->name, st->errors,
                st->errors == 1 ? "" : "s");
    else if (!rs)
        kta_log(KTA_LOG_ERROR, "%s", errstr);
    return rs;
}

int kta_cli_rules_operands(struct kta_cli *cli, int first)
{
    char err[1024];

    for (int i = first; i < cli->nargs; i++) {
        int rc;

        if (i == first && !cli->given[KTA_O_RULES])
            rc = kta_config_set(cli->cfg, "rules.path", cli->args[i], cli->cmd->name, err,
                                sizeof(err));
        else
            rc = kta_config_append(cli->cfg, "rules.path", cli->args[i], err, sizeof(err));
        if (rc < 0)
            return kta_cli_usage(cli->cmd, "%s", err);
    }
    return 0;
}

void kta_cli_rules_opts(const struct kta_config *cfg, struct kta_rules_opts *ropts)
{
    memset(ropts, 0, sizeof(*ropts));
    ropts->fieldmap = cfg->fieldmap;
    ropts->placeholders = cfg->placeholders;
    ropts->skip_invalid = cfg->rules_skip_invalid;
    ropts->strict = cfg->strict;
    ropts->diag = kta_cli_diag;
}

/* ---- parsing -------------------------------------------------------------- */

const char *kta_cli_default_config(int *explicit_choice)
{
    const char *env = getenv("KTA_CONFIG");

    *explicit_choice = env != NULL;
    if (env)
        return *env && strcmp(env, "none") != 0 ? env : NULL;
    return access(DEFAULT_CONFIG, F_OK) == 0 ? DEFAULT_CONFIG : NULL;
}

/* getopt_long's tables for one subcommand. */
struct getopt_tables {
    char          shorts[128];
    struct option longs[2 * KTA_O_COUNT + 1];
};

static void build_tables(const struct kta_cmd *cmd, struct getopt_tables *t)
{
    size_t ns = 0, nl = 0;

    t->shorts[ns++] = ':';   /* a missing argument returns ':' */
    for (const struct kta_cmd_opt *co = cmd->opts; co->id != KTA_O_NONE; co++) {
        const struct opt *o = &opts[co->id];
        int has = o->arg == ARG_NONE ? no_argument :
                  o->arg == ARG_REQUIRED ? required_argument : optional_argument;

        if (o->shortopt) {
            t->shorts[ns++] = (char)o->shortopt;
            if (o->arg == ARG_REQUIRED)
                t->shorts[ns++] = ':';
        }
        /* getopt_long returns 256 + id for every long name. */
        if (o->name)
            t->longs[nl++] = (struct option){ o->name, has, NULL, 256 + co->id };
        if (o->alias)
            t->longs[nl++] = (struct option){ o->alias, has, NULL, 256 + co->id };
    }
    t->shorts[ns] = '\0';
    memset(&t->longs[nl], 0, sizeof(t->longs[nl]));
}

static enum kta_opt opt_of(const struct kta_cmd *cmd, int c)
{
    if (c >= 256)
        return (enum kta_opt)(c - 256);
    for (const struct kta_cmd_opt *co = cmd->opts; co->id != KTA_O_NONE; co++)
        if (opts[co->id].shortopt == c)
            return co->id;
    return KTA_O_NONE;
}

/* "(it is an option of run, config)" for an option another command takes. */
static void other_commands(const char *arg, char *out, size_t out_size)
{
    size_t n = 0;

    out[0] = '\0';
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        for (const struct kta_cmd_opt *co = c->opts; co->id != KTA_O_NONE; co++) {
            const struct opt *o = &opts[co->id];
            int match = arg[1] == '-' ? (o->name && strcmp(arg + 2, o->name) == 0) :
                                        (o->shortopt && o->shortopt == arg[1] && !arg[2]);
            if (match && n < out_size)
                n += (size_t)snprintf(out + n, out_size - n, "%s%s", n ? ", " : "", c->name);
        }
}

static int unknown_option(const struct kta_cmd *cmd, const char *arg)
{
    char name[128], others[256];
    struct kta_suggest sg;

    snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
    other_commands(name, others, sizeof(others));
    if (others[0])
        return kta_cli_usage(cmd, "unknown option '%s' (it is an option of %s)", name, others);
    if (name[0] == '-' && name[1] == '-') {
        kta_suggest_init(&sg, name + 2);
        for (const struct kta_cmd_opt *co = cmd->opts; co->id != KTA_O_NONE; co++)
            if (opts[co->id].name)
                kta_suggest_add(&sg, opts[co->id].name);
        if (sg.best)
            return kta_cli_usage(cmd, "unknown option '%s' (did you mean '--%s'?)", name, sg.best);
    }
    return kta_cli_usage(cmd, "unknown option '%s'", name);
}

/* -X key=value.  Commands that never talk to Kafka accept only kta
 * options: a librdkafka property would be ignored without a word. */
static int set_x(struct kta_cli *cli, char *arg)
{
    char *eq = strchr(arg, '=');
    char errstr[1024], best[128];
    int rc;

    if (!eq || eq == arg)
        return kta_cli_usage(cli->cmd, "-X %s: expected key=value",
                             kta_config_is_secret(arg) ? "(not shown: names a secret)" : arg);
    *eq = '\0';
    if (!cli->cmd->kafka && !kta_config_is_option(arg)) {
        rc = kta_config_suggest(arg, best, sizeof(best)) ?
             kta_cli_usage(cli->cmd, "-X %s: unknown kta option (did you mean '%s'?)", arg, best) :
             kta_cli_usage(cli->cmd, "-X %s: unknown kta option (%s does not talk to Kafka, so "
                           "librdkafka properties have no use here)", arg, cli->cmd->name);
        *eq = '=';
        return rc;
    }
    rc = kta_config_set(cli->cfg, arg, eq + 1, "-X", errstr, sizeof(errstr));
    *eq = '=';
    if (rc < 0) {
        kta_log(KTA_LOG_ERROR, "-X: %s", errstr);
        return KTA_EXIT_USAGE;
    }
    return 0;
}

static int apply(struct kta_cli *cli, enum kta_opt id, char *arg)
{
    const struct opt *o = &opts[id];
    char errstr[1024], origin[64];
    int rc;

    cli->given[id]++;
    cli->val[id] = arg;
    switch (id) {
    case KTA_O_SET:
        return set_x(cli, arg);
    case KTA_O_VERBOSE:
        kta_log_threshold = KTA_LOG_DEBUG;
        return 0;
    case KTA_O_QUIET:
        kta_log_threshold = KTA_LOG_WARN;
        return 0;
    default:
        break;
    }
    if (!o->config)
        return 0;
    if (o->shortopt)
        snprintf(origin, sizeof(origin), "-%c", o->shortopt);
    else
        snprintf(origin, sizeof(origin), "--%s", o->name);
    if (o->list && cli->given[id] > 1)
        rc = kta_config_append(cli->cfg, o->config, arg, errstr, sizeof(errstr));
    else
        rc = kta_config_set(cli->cfg, o->config, o->value ? o->value : arg, origin, errstr,
                            sizeof(errstr));
    if (rc < 0) {
        kta_log(KTA_LOG_ERROR, "%s: %s", origin, errstr);
        return KTA_EXIT_USAGE;
    }
    return 0;
}

int kta_cli_parse(struct kta_cli *cli, int argc, char **argv, int *status)
{
    struct getopt_tables t;
    const char *file = NULL;
    char errstr[1024];
    int c, explicit_choice = 0;

    memset(cli, 0, sizeof(*cli));
    cli->cmd = kta_cli_find(argv[0]);
    if (!cli->cmd)
        abort();   /* main dispatches only to known commands */
    cli->cfg = kta_config_new();
    build_tables(cli->cmd, &t);

    /* Pass 1: -h and -c, so that every other option overrides the file. */
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
        enum kta_opt id = opt_of(cli->cmd, c);
        if (id == KTA_O_HELP) {
            kta_cli_help(stdout, cli->cmd);
            *status = KTA_EXIT_OK;
            return -1;
        }
        if (id == KTA_O_CONFIG)
            file = optarg;
    }
    if (cmd_opt(cli->cmd, KTA_O_CONFIG)) {
        if (!file)
            file = kta_cli_default_config(&explicit_choice);
        if (file && strcmp(file, "none") != 0) {
            if (kta_config_load(cli->cfg, file, errstr, sizeof(errstr)) < 0) {
                kta_log(KTA_LOG_ERROR, "%s%s", errstr,
                        explicit_choice ? " (the file $KTA_CONFIG names)" : "");
                *status = KTA_EXIT_USAGE;
                return -1;
            }
            cli->config_file = file;
        }
    }

    optind = 1;
    while ((c = getopt_long(argc, argv, t.shorts, t.longs, NULL)) != -1) {
        enum kta_opt id;
        int rc;

        if (c == '?') {
            char arg[3] = { '-', (char)optopt, '\0' };
            *status = unknown_option(cli->cmd, optopt ? arg : argv[optind - 1]);
            return -1;
        }
        if (c == ':') {
            char arg[3] = { '-', (char)optopt, '\0' };
            *status = kta_cli_usage(cli->cmd, "option '%s' needs an argument",
                                    optopt ? arg : argv[optind - 1]);
            return -1;
        }
        id = opt_of(cli->cmd, c);
        if (id == KTA_O_CONFIG)
            continue;
        rc = apply(cli, id, optarg);
        if (rc) {
            *status = rc;
            return -1;
        }
    }
    cli->nargs = argc - optind;
    cli->args = argv + optind;
    if (cli->nargs > 0 && !cli->cmd->operands) {
        *status = kta_cli_usage(cli->cmd, "unexpected argument '%s'", cli->args[0]);
        return -1;
    }
    return 0;
}

void kta_cli_free(struct kta_cli *cli)
{
    kta_config_free(cli->cfg);
    cli->cfg = NULL;
}

/* ---- help ----------------------------------------------------------------- */

/* Writes text wrapped at 79 columns, every line indented by `indent`, the
 * first one continuing a line already `col` wide. */
static void wrap(FILE *fp, const char *text, size_t col, size_t indent)
{
    const char *p = text;

    while (*p) {
        size_t w = strcspn(p, " ");

        if (col > indent && col + 1 + w > 79) {
            fprintf(fp, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', fp);
            col++;
        } else if (col < indent) {
            fprintf(fp, "%*s", (int)(indent - col), "");
            col = indent;
        }
        fwrite(p, 1, w, fp);
        col += w;
        p += w;
        while (*p == ' ')
            p++;
    }
    fputc('\n', fp);
}

/* Plain paragraphs; lines that start with four spaces are kept as they are. */
static void paragraphs(FILE *fp, const char *text)
{
    const char *p = text;

    while (*p) {
        size_t n = 0;
        const char *end = strstr(p, "\n\n");
        char *para;

        n = end ? (size_t)(end - p) : strlen(p);
        para = xstrndup(p, n);
        if (strncmp(para, "    ", 4) == 0)
            fprintf(fp, "%s\n", para);
        else
            wrap(fp, para, 0, 0);
        free(para);
        p += n;
        if (*p) {
            fputc('\n', fp);
            p += 2;
        }
    }
}

static void synopsis(FILE *fp, const struct kta_cmd *cmd, size_t indent)
{
    struct kta_buf b = { 0 };

    kta_buf_printf(&b, "kta %s", cmd->name);
    for (const struct kta_cmd_opt *co = cmd->opts; co->id != KTA_O_NONE; co++) {
        const struct opt *o = &opts[co->id];
        const char *an = opt_argname(co);

        if (co->id == KTA_O_HELP || co->id == KTA_O_VERBOSE)
            continue;
        if (co->id == KTA_O_QUIET) {
            kta_buf_appends(&b, " [-q|-v]");
            continue;
        }
        if (o->shortopt)
            kta_buf_printf(&b, " [-%c%s%s]%s", o->shortopt, an ? " " : "", an ? an : "",
                           o->list || co->id == KTA_O_SET ? "..." : "");
        else
            kta_buf_printf(&b, " [--%s%s%s%s]%s", o->name,
                           o->arg == ARG_OPTIONAL ? "[=" : an ? " " : "", an ? an : "",
                           o->arg == ARG_OPTIONAL ? "]" : "", o->list ? "..." : "");
    }
    if (cmd->operands)
        kta_buf_printf(&b, " %s", cmd->operands);
    /* Break between brackets only. */
    {
        size_t col = indent;
        const char *p = b.data;

        while (*p) {
            const char *next = strstr(p + 1, " [");
            size_t w = next ? (size_t)(next - p) : strlen(p);

            if (col + w > 79 && col > indent + 4) {
                fprintf(fp, "\n%*s", (int)indent + 4, "");
                col = indent + 4;
                if (*p == ' ') {
                    p++;
                    w--;
                }
            }
            fwrite(p, 1, w, fp);
            col += w;
            p += w;
        }
        fputc('\n', fp);
    }
    kta_buf_free(&b);
}

static void option_label(struct kta_buf *b, const struct kta_cmd_opt *co)
{
    const struct opt *o = &opts[co->id];
    const char *an = opt_argname(co);

    if (o->shortopt && o->name)
        kta_buf_printf(b, "-%c, --%s", o->shortopt, o->name);
    else if (o->shortopt)
        kta_buf_printf(b, "-%c", o->shortopt);
    else
        kta_buf_printf(b, "    --%s", o->name);
    if (an)
        kta_buf_printf(b, o->arg == ARG_OPTIONAL ? "[=%s]" : " %s", an);
}

/* " (sets rules.path)" */
static void sets(struct kta_buf *b, const struct opt *o)
{
    if (!o->config)
        return;
    if (o->value)
        kta_buf_printf(b, " [%s: %s]", o->config, o->value);
    else
        kta_buf_printf(b, " [%s]", o->config);
}

void kta_cli_help(FILE *fp, const struct kta_cmd *cmd)
{
    fputs("usage: ", fp);
    synopsis(fp, cmd, 7);
    fprintf(fp, "\n%c%s.\n\n", cmd->summary[0] - 'a' + 'A', cmd->summary + 1);
    paragraphs(fp, cmd->description);
    fputs("\nOptions:\n", fp);
    for (const struct kta_cmd_opt *co = cmd->opts; co->id != KTA_O_NONE; co++) {
        struct kta_buf label = { 0 }, text = { 0 };

        kta_buf_appends(&label, "  ");
        option_label(&label, co);
        kta_buf_printf(&text, "%s", opt_help(co));
        sets(&text, &opts[co->id]);
        if (label.len + 2 > 26) {
            fprintf(fp, "%s\n", label.data);
            wrap(fp, text.data, 0, 26);
        } else {
            fprintf(fp, "%-26s", label.data);
            wrap(fp, text.data, 26, 26);
        }
        kta_buf_free(&label);
        kta_buf_free(&text);
    }
    if (cmd_opt(cmd, KTA_O_CONFIG))
        fprintf(fp, "\nWithout -c, kta reads $KTA_CONFIG, or else %s when it exists.\n",
                DEFAULT_CONFIG);
    {
        char *text = xasprintf("%s.", cmd->exit_status);
        fputs("\nExit status:", fp);
        wrap(fp, text, 12, 0);
        free(text);
    }
}

void kta_cli_usage_all(FILE *fp)
{
    fprintf(fp, "kta %s — Kafka Threat Analyzer\n\nusage: kta COMMAND [OPTIONS]\n\n", KTA_VERSION);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        fprintf(fp, "  %-9s %s\n", c->name, c->summary);
    fprintf(fp, "\n`kta help COMMAND` or `kta COMMAND --help` for a command's options; "
            "`kta --version`.\nExit status: 0 success, 1 runtime failure, 2 usage or "
            "configuration error.\n");
}

static int cmd_help(int argc, char **argv)
{
    const struct kta_cmd *cmd;
    struct kta_suggest sg;

    if (argc < 2) {
        kta_cli_usage_all(stdout);
        return KTA_EXIT_OK;
    }
    if (strcmp(argv[1], "--man") == 0) {
        kta_cli_man(stdout);
        return KTA_EXIT_OK;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        kta_cli_help(stdout, kta_cli_find("help"));
        return KTA_EXIT_OK;
    }
    cmd = kta_cli_find(argv[1]);
    if (cmd) {
        kta_cli_help(stdout, cmd);
        return KTA_EXIT_OK;
    }
    kta_suggest_init(&sg, argv[1]);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        kta_suggest_add(&sg, c->name);
    if (sg.best)
        kta_log(KTA_LOG_ERROR, "no such command '%s' (did you mean '%s'?)", argv[1], sg.best);
    else
        kta_log(KTA_LOG_ERROR, "no such command '%s' (see `kta help`)", argv[1]);
    return KTA_EXIT_USAGE;
}

/* ---- kta(1) --------------------------------------------------------------- */

/* man(7) text: backslashes, leading dots and quotes escaped, hyphens
 * made minus signs (so options can be searched and copied), `code` bold. */
static void roff(FILE *fp, const char *s, size_t n)
{
    int bold = 0;

    if (n && (*s == '.' || *s == '\''))
        fputs("\\&", fp);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\')
            fputs("\\e", fp);
        else if (s[i] == '-')
            fputs("\\-", fp);
        else if (s[i] == '`')
            fputs((bold = !bold) ? "\\fB" : "\\fR", fp);
        else
            fputc(s[i], fp);
    }
    if (bold)
        fputs("\\fR", fp);
}

static void roffs(FILE *fp, const char *s)
{
    roff(fp, s, strlen(s));
}

static void man_paragraphs(FILE *fp, const char *text)
{
    const char *p = text;

    while (*p) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);

        if (strncmp(p, "    ", 4) == 0) {
            fputs(".PP\n.EX\n", fp);
            roff(fp, p + 4, n - 4);
            fputs("\n.EE\n", fp);
        } else {
            fputs(".PP\n", fp);
            roff(fp, p, n);
            fputc('\n', fp);
        }
        p += n;
        if (*p)
            p += 2;
    }
}

static void man_label(FILE *fp, const struct opt *o, const char *argname)
{
    if (o->shortopt)
        fprintf(fp, "\\fB\\-%c\\fR", o->shortopt);
    if (o->shortopt && o->name)
        fputs(", ", fp);
    if (o->name) {
        fputs("\\fB\\-\\-", fp);
        roffs(fp, o->name);
        fputs("\\fR", fp);
    }
    if (argname) {
        fputs(o->arg == ARG_OPTIONAL ? "[=\\fI" : " \\fI", fp);
        roffs(fp, argname);
        fputs(o->arg == ARG_OPTIONAL ? "\\fR]" : "\\fR", fp);
    }
}

static const char man_tail[] =
    ".SH CONFIGURATION\n"
    "Commands that take \\fB\\-c\\fR read one kta.yaml (see \\fBkta.yaml\\fR(5)): the file "
    "\\fB\\-c\\fR names; else the file \\fBKTA_CONFIG\\fR names; else\n"
    ".I " DEFAULT_CONFIG "\n"
    "when it exists.\n"
    "\\fB\\-c none\\fR (or \\fBKTA_CONFIG=none\\fR) reads no file at all.\n"
    "Relative file names written in a kta.yaml (\\fBrules.path\\fR, \\fBrules.fieldmap\\fR, "
    "\\fBrules.placeholders\\fR, librdkafka \\fB*.location\\fR properties) are taken from "
    "the directory of that file; those given on the command line from the working "
    "directory.\n"
    "Options on the command line override the file; \\fBkta config\\fR shows the result.\n"
    ".SH FILES\n"
    ".TP\n"
    ".I " DEFAULT_CONFIG "\n"
    "The default configuration file.\n"
    ".TP\n"
    ".I rules\n"
    "The default \\fBrules.path\\fR: taken from the configuration file's directory when "
    "the file sets it, else from the working directory.\n"
    ".SH ENVIRONMENT\n"
    ".TP\n"
    ".B KTA_CONFIG\n"
    "The configuration file to read when \\fB\\-c\\fR is not given, instead of\n"
    ".IR " DEFAULT_CONFIG ";\n"
    "empty or \\fBnone\\fR: no file. A file it names must exist.\n"
    ".SH SIGNALS\n"
    ".TP\n"
    ".BR SIGINT \", \" SIGTERM\n"
    "\\fBkta run\\fR stops reading, finishes the records in flight (up to "
    "\\fBshutdown_timeout_ms\\fR), commits, leaves the group and exits 0.\n"
    ".TP\n"
    ".B SIGHUP\n"
    "\\fBkta run\\fR reloads the rules, the field map and the placeholders without a "
    "restart (so does a change to those files, every \\fBrules.watch_interval_ms\\fR). "
    "The new ruleset is loaded and compiled beside the running one and swapped in "
    "between batches; one that fails to load, or that would have no enabled rule "
    "(unless \\fBrules.allow_empty\\fR), is rejected with an error line and the old one "
    "keeps running.\n"
    ".PP\n"
    "\\fBkta export\\fR stores the batch it holds, commits its offsets and exits 0.\n"
    ".SH EXIT STATUS\n"
    "Every command uses the same three:\n"
    ".TP\n"
    ".B 0\n"
    "Success.\n"
    ".TP\n"
    ".B 1\n"
    "A runtime failure: the brokers cannot be reached or refuse kta, a topic is missing, a "
    "record cannot be delivered, an input file cannot be read or standard output cannot be "
    "written; for \\fBkta check\\fR, errors found in the rules.\n"
    ".TP\n"
    ".B 2\n"
    "A usage or configuration error: an unknown option or command, a bad value, a "
    "kta.yaml that cannot be read or is invalid, a librdkafka property librdkafka "
    "rejects, rules that do not load (or an empty ruleset) for \\fBrun\\fR, \\fBeval\\fR, "
    "\\fBbench\\fR and \\fBproduce\\fR. \\fBkta config \\-\\-check\\fR finds all of these "
    "without connecting to Kafka.\n"
    ".PP\n"
    "Every error line starts with \\fBkta: error:\\fR, followed by the place "
    "(\\fIfile\\fB:\\fIline\\fB:\\fIcol\\fB:\\fR) when there is one.\n"
    ".SH EXAMPLES\n"
    ".EX\n"
    "kta run \\-b broker1:9092 \\-t threat\\-events \\-r /etc/kta/rules \\-G kta\n"
    "kta run \\-c /etc/kta/kta.yaml \\-o beginning \\-\\-reset\\-offsets \\-e \\-G replay\n"
    "kta config \\-\\-check \\-c /etc/kta/kta.yaml\n"
    "kta eval \\-r rules/ events.jsonl | jq .rule.id\n"
    "kta eval \\-r rules/ \\-r extra.yml \\-\\-threads 0 \\-\\-stats big.jsonl > hits.jsonl\n"
    "kta check rules/\n"
    "kta produce \\-b localhost:9092 \\-t threat\\-events \\-\\-generate 100000 \\-\\-rate 10000\n"
    "kta produce \\-\\-generate \\-\\-schema sysmon \\-n 100000 \\-\\-output sysmon.jsonl\n"
    "kta produce \\-\\-generate \\-\\-schema sysmon \\-n 100000 \\-r sigma/rules \\e\n"
    "    \\-m rules/fieldmaps/windows.fieldmap \\-\\-output sysmon.jsonl\n"
    "kta export \\-b broker1:9092 \\-\\-sqlite hits.db\n"
    "kta export \\-e \\-G nightly \\-\\-csv /srv/hits \\-\\-rotate\\-bytes 100000000\n"
    "sqlite3 hits.db 'SELECT rule_id, count(*) FROM hits GROUP BY 1 ORDER BY 2 DESC'\n"
    ".EE\n"
    ".SH SEE ALSO\n"
    ".BR kta.yaml (5),\n"
    ".BR kta-rules (7),\n"
    ".BR kcat (1)\n";

void kta_cli_man(FILE *fp)
{
    fputs(".\\\" Generated by `make docs` (kta help --man) from src/cli.c. Do not edit.\n"
          ".TH KTA 1 \"\" \"kta " KTA_VERSION "\" \"User Commands\"\n"
          ".SH NAME\n"
          "kta \\- Kafka Threat Analyzer: evaluate detection rules on a Kafka stream\n"
          ".SH SYNOPSIS\n.nf\n", fp);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        struct kta_buf b = { 0 };
        FILE *mem = open_memstream(&b.data, &b.len);

        synopsis(mem, c, 0);
        fclose(mem);
        roff(fp, b.data, b.len);
        free(b.data);
    }
    fputs(".fi\n.SH DESCRIPTION\n"
          "kta consumes JSON events from Kafka, evaluates detection rules on them (see\n"
          ".BR kta-rules (7))\n"
          "and produces one JSON record per hit. Every option means the same in every\n"
          "command that accepts it; those that set a kta.yaml option say which.\n"
          ".SH COMMANDS\n", fp);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        fprintf(fp, ".SS kta %s\n", c->name);
        roffs(fp, c->summary);
        fputs(".\n", fp);
        man_paragraphs(fp, c->description);
        fputs(".PP\nOptions:", fp);
        for (const struct kta_cmd_opt *co = c->opts; co->id != KTA_O_NONE; co++) {
            const struct opt *o = &opts[co->id];
            fputs(co == c->opts ? " " : ", ", fp);
            if (o->shortopt)
                fprintf(fp, "\\fB\\-%c\\fR", o->shortopt);
            else {
                fputs("\\fB\\-\\-", fp);
                roffs(fp, o->name);
                fputs("\\fR", fp);
            }
        }
        fputs(".\nExit status: ", fp);
        roffs(fp, c->exit_status);
        fputs(".\n", fp);
    }
    fputs(".SH OPTIONS\n", fp);
    for (int id = KTA_O_NONE + 1; id < KTA_O_COUNT; id++) {
        const struct opt *o = &opts[id];
        size_t n = 0;

        fputs(".TP\n", fp);
        man_label(fp, o, o->argname);
        fputc('\n', fp);
        roffs(fp, o->help);
        fputs(".", fp);
        if (o->config) {
            fputs(o->value ? " Sets \\fB" : " Sets \\fB", fp);
            roffs(fp, o->config);
            if (o->value) {
                fputs(": ", fp);
                roffs(fp, o->value);
            }
            fputs("\\fR.", fp);
        }
        fputs(" Commands:", fp);
        for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
            const struct kta_cmd_opt *co = cmd_opt(c, (enum kta_opt)id);
            if (co)
                fprintf(fp, "%s \\fB%s\\fR", n++ ? "," : "", c->name);
        }
        fputs(".\n", fp);
        for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
            const struct kta_cmd_opt *co = cmd_opt(c, (enum kta_opt)id);
            if (co && co->help) {
                fprintf(fp, "For \\fB%s\\fR: ", c->name);
                roffs(fp, co->help);
                fputs(".\n", fp);
            }
        }
    }
    fputs(man_tail, fp);
}
