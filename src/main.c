/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main: argv -> subcommand table (src/cli.c), nothing else.  Each
 * subcommand lives in its own src/cmd_*.c.
 */
#include "kta/cli.h"
#include "kta/util.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const struct kta_cmd *cmd;
    struct kta_suggest sg;

    if (argc < 2) {
        kta_cli_usage_all(stderr);
        return KTA_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
        strcmp(argv[1], "version") == 0) {
        printf("kta %s\n", KTA_VERSION);
        return KTA_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        kta_cli_usage_all(stdout);
        return KTA_EXIT_OK;
    }
    cmd = kta_cli_find(argv[1]);
    if (cmd)
        return cmd->fn(argc - 1, argv + 1);
    kta_suggest_init(&sg, argv[1]);
    for (const struct kta_cmd *c = kta_cmds; c->name; c++)
        kta_suggest_add(&sg, c->name);
    if (sg.best)
        kta_log(KTA_LOG_ERROR, "unknown command '%s' (did you mean '%s'?)", argv[1], sg.best);
    else
        kta_log(KTA_LOG_ERROR, "unknown command '%s' (see `kta help`)", argv[1]);
    return KTA_EXIT_USAGE;
}
