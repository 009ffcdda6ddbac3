/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd: the subcommands main.c dispatches to, one src/cmd_*.c each.
 * Each takes argc/argv starting at the subcommand name (argv[0] is "run",
 * "eval", ...), parses its own options with getopt_long, and returns the
 * process exit status.  Only this layer prints errors and exits.
 */
#ifndef KTA_CMD_H
#define KTA_CMD_H

struct kta_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *synopsis;   /* one line: "run [-c FILE] [-b BROKERS] ..." */
    const char *summary;    /* one sentence */
    const char *help;       /* full help text for `kta help NAME` */
};

int kta_cmd_run(int argc, char **argv);
int kta_cmd_eval(int argc, char **argv);
int kta_cmd_check(int argc, char **argv);
int kta_cmd_produce(int argc, char **argv);
int kta_cmd_config(int argc, char **argv);
int kta_cmd_bench(int argc, char **argv);

extern const struct kta_cmd kta_cmds[];

#endif
