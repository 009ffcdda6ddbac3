/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main: argv -> subcommand table, nothing else.  Each subcommand lives in
 * its own src/cmd_*.c and parses its own options.
 */
#include "kta/cmd.h"

#include <stdio.h>
#include <string.h>

static int cmd_help(int argc, char **argv);

const struct kta_cmd kta_cmds[] = {
    { "run", kta_cmd_run,
      "run [-c kta.yaml] [-b BROKERS] [-t TOPIC] [-r RULES] [-m FIELDMAP] [-p PLACEHOLDERS] [-G GROUP] [-w N] [-X key=value]... [--print alerts|all|none]",
      "consume events from Kafka, evaluate rules, produce hits to matched_hits",
      "Runs the pipeline: a consumer in group GROUP reads TOPIC, worker threads\n"
      "evaluate the rules, hits go to the output topic and malformed records to the\n"
      "dead-letter topic. Offsets are committed only once every record they led to\n"
      "is acknowledged by the broker. SIGINT/SIGTERM stop intake, drain, commit and\n"
      "exit 0.\n\n"
      "  -c FILE         read kta.yaml (see `kta help config`)\n"
      "  -b BROKERS      bootstrap.servers (default localhost:9092)\n"
      "  -t TOPIC        input topic; repeat for several (default threat-events)\n"
      "  -r RULES        rule file or directory (default rules)\n"
      "  -m FIELDMAP     field map YAML file\n"
      "  -p PLACEHOLDERS values for %NAME% in rule values with `expand` (YAML)\n"
      "  -G GROUP        consumer group id (default kta)\n"
      "  -w N            worker threads (default: one per CPU)\n"
      "  -X key=value    a kta option (output.topic=...) or a librdkafka property\n"
      "  --print WHAT    console lines: alerts (default), all, none\n"
      "  -v, -q          more / less logging on stderr\n" },
    { "eval", kta_cmd_eval,
      "eval -r RULES [-m FIELDMAP] [-p PLACEHOLDERS] [--skip-invalid] [--threads N] [--reference] [--stats] [-q] [FILE...]",
      "evaluate rules against JSON lines from files or stdin; print hits",
      "Reads JSON events, one per line, from each FILE (or stdin) and prints one hit\n"
      "JSON per line on stdout, with \"source\": {\"file\": NAME, \"line\": N}, through\n"
      "the same engine as kta run's workers (literal prefilter on the raw line, parse\n"
      "only when a rule could match). Malformed lines (and lines over 16 MiB) are\n"
      "reported on stderr and skipped; blank lines are skipped but counted. Hits come out in input order\n"
      "whatever the thread count. A summary (events, hits, malformed, time, events/s)\n"
      "ends stderr; on a terminal a progress line shows meanwhile. Exit 0 when all\n"
      "input was read, 1 on rule errors, unreadable files or when stdout fails.\n\n"
      "  -r RULES        rule file or directory (required)\n"
      "  -m FIELDMAP     field map YAML file\n"
      "  -p PLACEHOLDERS values for %NAME% in rule values with `expand` (YAML)\n"
      "  --skip-invalid  leave out invalid rules instead of failing\n"
      "  --threads N     evaluate blocks of lines on N threads (default 1; 0: one\n"
      "                  per CPU)\n"
      "  --reference     decode every line and evaluate every rule (the plain path\n"
      "                  the engine is checked against; same hits, slower)\n"
      "  --stats         also print hits per rule and rules evaluated per event\n"
      "  -q, --quiet     no summary and no progress line\n" },
    { "check", kta_cmd_check,
      "check [-m FIELDMAP] [-p PLACEHOLDERS] [--skip-invalid] [-q] RULES...",
      "validate rule files and print a summary",
      "Loads every rule under each path, prints every error and warning with\n"
      "file:line:col, then a summary. Exit 0 when there is no error, 1 otherwise.\n" },
    { "produce", kta_cmd_produce,
      "produce [-c kta.yaml] [-b BROKERS] (-t TOPIC | -o FILE) [-k FIELD] [-X key=value]... [FILE... | --generate [N] [-n N] [--schema kta|sysmon|linux] [-r RULES [-m FIELDMAP]] [--rate R] [--seed S] [--malicious P]]",
      "send JSON lines from files or stdin to a Kafka topic",
      "Sends each non-empty line of each FILE (or stdin) as one record to TOPIC and\n"
      "waits until the broker has acknowledged all of them. Exit 1 if any failed.\n"
      "With --generate it sends synthetic events instead, or with -o writes them as\n"
      "JSON lines to a file (no Kafka).\n\n"
      "  -c FILE         take the kafka: properties (TLS, SASL...) of a kta.yaml\n"
      "  -b BROKERS      bootstrap.servers (default localhost:9092)\n"
      "  -t TOPIC        topic (required)\n"
      "  -k FIELD        use the event's FIELD as the message key\n"
      "  -X key=value    a librdkafka property\n"
      "  --generate N    send N synthetic events instead of reading files;\n"
      "                  deterministic for a seed (N may also be given with -n)\n"
      "  -n N            the number of events to generate\n"
      "  --schema NAME   kta: small endpoint events (process, network, login, file;\n"
      "                  the default); sysmon: flat Windows Sysmon and Security\n"
      "                  events (EventID, Channel, Image, CommandLine...), ~870\n"
      "                  bytes; linux: Sysmon for Linux process creation and\n"
      "                  auditd records (type, syscall, exe, a0...)\n"
      "  -o FILE         write the generated events to FILE, one per line (- for\n"
      "                  stdout) instead of a topic\n"
      "  --rate R        at most R events per second (default: as fast as possible)\n"
      "  --seed S        generator seed (default 1)\n"
      "  --malicious P   share of malicious events (default 0.01): patterns the\n"
      "                  default rules detect (kta) or the Sigma rules do (sysmon,\n"
      "                  linux: encoded PowerShell, certutil downloads, reverse\n"
      "                  shells...)\n"
      "  -r RULES        sysmon, linux: build every malicious event from one of\n"
      "                  these rules instead (file or directory; invalid rules are\n"
      "                  skipped): an event of the rule's log source carrying the\n"
      "                  literal values its condition needs, so that it fires;\n"
      "                  the rules are taken in turn, each once before any repeats\n"
      "  -m FIELDMAP     load -r RULES with this field map, as kta run would (its\n"
      "                  log sources decide which rules are loaded)\n" },
    { "config", kta_cmd_config,
      "config [-c kta.yaml] [-X key=value]... [--markdown]",
      "print the effective configuration, or the option reference",
      "Prints the configuration kta run would use (secrets masked), or with\n"
      "--markdown the reference of every kta.yaml option (docs/configuration.md).\n" },
    { "bench", kta_cmd_bench,
      "bench (-r RULES | --generate-rules N) [-m FIELDMAP] [-p PLACEHOLDERS] [--events N [--schema NAME] | --file JSONL] [--threads 1,2] [--json]",
      "time the worker path (check, prefilter, parse, evaluate, encode) without Kafka",
      "Runs events held in memory through the worker path for a fixed time per\n"
      "measurement and prints events/s, ns/event per thread and the share of events\n"
      "that needed a full parse, for each thread count, in three modes: engine (the\n"
      "worker path), no-prefilter (every event parsed and every rule evaluated) and\n"
      "parse-only (jansson parse + free, the baseline). Also prints the memory the\n"
      "compiled ruleset takes (RSS and malloc'd bytes grown across the load).\n\n"
      "  -r RULES            rule file or directory (invalid rules are skipped)\n"
      "  -m FIELDMAP         field map YAML file\n"
      "  -p PLACEHOLDERS     values for %NAME% in rule values with `expand` (YAML)\n"
      "  --generate-rules N  instead of -r: N literal rules on random tokens\n"
      "  --match-rules P     share of generated rules that use a token of the\n"
      "                      malicious events (default 0.01)\n"
      "  --events N          generated events (default 100000)\n"
      "  --schema NAME       kta (default), sysmon or linux: see `kta help produce`\n"
      "  --file JSONL        events from a file instead, one JSON object per line\n"
      "  --seed S            generator seed (default 1)\n"
      "  --malicious P       share of malicious generated events (default 0.01)\n"
      "  --threads LIST      worker thread counts, e.g. 1,2 (default 1)\n"
      "  --seconds T         time per measurement (default 0.5)\n"
      "  --modes LIST        engine,no-prefilter,parse-only (default all)\n"
      "  --label TEXT        name of the ruleset in the output\n"
      "  --json              one JSON object on stdout\n" },
    { "help", cmd_help, "help [COMMAND]", "show help", "" },
    { NULL, NULL, NULL, NULL, NULL },
};

static void usage(FILE *fp)
{
    fprintf(fp, "kta %s — Kafka Threat Analyzer\n\nusage: kta COMMAND [OPTIONS]\n\n", KTA_VERSION);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        fprintf(fp, "  %-9s %s\n", c->name, c->summary);
    fprintf(fp, "\n`kta help COMMAND` for a command's options; `kta --version`.\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        usage(stdout);
        return 0;
    }
    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            printf("usage: kta %s\n\n%s.\n\n%s", c->synopsis, c->summary, c->help);
            return 0;
        }
    }
    fprintf(stderr, "kta: no such command '%s' (see `kta help`)\n", argv[1]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
        strcmp(argv[1], "version") == 0) {
        printf("kta %s\n", KTA_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (const struct kta_cmd *c = kta_cmds; c->name; c++) {
        if (strcmp(c->name, argv[1]) == 0) {
            if (argc > 2 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                char *hargv[] = { "help", argv[1], NULL };
                return cmd_help(2, hargv);
            }
            return c->fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "kta: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
