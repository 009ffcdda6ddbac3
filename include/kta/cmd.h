/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd: the subcommands main.c dispatches to, one src/cmd_*.c each.
 * Each takes argc/argv starting at the subcommand name (argv[0] is "run",
 * "eval", ...), parses its options with kta_cli_parse (the one option
 * table, src/cli.c), and returns the process exit status (KTA_EXIT_*).
 * Only this layer prints errors and exits.
 */
#ifndef KTA_CMD_H
#define KTA_CMD_H

int kta_cmd_run(int argc, char **argv);
int kta_cmd_eval(int argc, char **argv);
int kta_cmd_check(int argc, char **argv);
int kta_cmd_lint(int argc, char **argv);
int kta_cmd_test(int argc, char **argv);
int kta_cmd_rules(int argc, char **argv);
int kta_cmd_produce(int argc, char **argv);
int kta_cmd_config(int argc, char **argv);
int kta_cmd_bench(int argc, char **argv);
int kta_cmd_export(int argc, char **argv);

struct kta_config;

/* cmd_run.c: sets every librdkafka property of cfg on a scratch
 * configuration, as the consumer and the producer would (no handle, no
 * connection), and refuses what kta_consumer_new would.  Logs each error,
 * with a "did you mean" for unknown names; returns how many there were. */
int kta_cmd_check_kafka(const struct kta_config *cfg);

#endif
