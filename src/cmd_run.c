/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_run: `kta run` — options -> struct kta_config -> pipeline.
 * Also `kta config`, which shows the configuration `kta run` would use,
 * parsed by the same code.
 */
#include "kta/cmd.h"
#include "kta/config.h"
#include "kta/pipeline.h"
#include "kta/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

enum { OPT_PRINT = 1000, OPT_MARKDOWN, OPT_MAN };

static const struct option long_opts[] = {
    { "config",    required_argument, NULL, 'c' },
    { "brokers",   required_argument, NULL, 'b' },
    { "bootstrap-server", required_argument, NULL, 'b' },
    { "topic",     required_argument, NULL, 't' },
    { "rules",     required_argument, NULL, 'r' },
    { "fieldmap",  required_argument, NULL, 'm' },
    { "placeholders", required_argument, NULL, 'p' },
    { "group",     required_argument, NULL, 'G' },
    { "workers",   required_argument, NULL, 'w' },
    { "print",     required_argument, NULL, OPT_PRINT },
    { "markdown",  no_argument,       NULL, OPT_MARKDOWN },
    { "man",       no_argument,       NULL, OPT_MAN },
    { "verbose",   no_argument,       NULL, 'v' },
    { "quiet",     no_argument,       NULL, 'q' },
    { NULL, 0, NULL, 0 },
};

/*
 * Parses the options `run` and `config` share.  The config file is read
 * first and the other options applied over it, whatever their order.
 * Returns a config, or NULL after printing the error.
 */
static struct kta_config *parse(int argc, char **argv, int *markdown)
{
    struct kta_config *cfg = kta_config_new();
    const char *file = NULL;
    int opt, topics_given = 0;
    char errstr[1024];

    /* Pass 1: only -c, so that everything else overrides the file. */
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+c:b:t:r:m:p:G:w:X:vq", long_opts, NULL)) != -1)
        if (opt == 'c')
            file = optarg;
    if (file && kta_config_load(cfg, file, errstr, sizeof(errstr)) < 0)
        goto fail;

    opterr = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+c:b:t:r:m:p:G:w:X:vq", long_opts, NULL)) != -1) {
        const char *key = NULL;
        char *eq;
        switch (opt) {
        case 'c':
            continue;
        case 'b': kta_config_set_kafka(cfg, "bootstrap.servers", optarg, "-b"); continue;
        case 'G': kta_config_set_kafka(cfg, "group.id", optarg, "-G"); continue;
        case 'r': key = "rules.path"; break;
        case 'm': key = "rules.fieldmap"; break;
        case 'p': key = "rules.placeholders"; break;
        case 'w': key = "workers"; break;
        case OPT_PRINT: key = "console.print"; break;
        case OPT_MARKDOWN: *markdown = 1; continue;
        case OPT_MAN: *markdown = 2; continue;
        case 'v': kta_log_threshold = KTA_LOG_DEBUG; continue;
        case 'q': kta_log_threshold = KTA_LOG_WARN; continue;
        case 't':
            /* The first -t replaces the default topic, later ones add. */
            if (!topics_given++) {
                if (kta_config_set(cfg, "input.topics", optarg, "-t", errstr, sizeof(errstr)) < 0)
                    goto fail;
            } else {
                cfg->topics = xrealloc(cfg->topics, (cfg->ntopics + 1) * sizeof(char *));
                cfg->topics[cfg->ntopics++] = xstrdup(optarg);
            }
            continue;
        case 'X':
            eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                snprintf(errstr, sizeof(errstr), "-X %s: expected key=value",
                         kta_config_is_secret(optarg) ? "(not shown: names a secret)" : optarg);
                goto fail;
            }
            *eq = '\0';
            if (kta_config_set(cfg, optarg, eq + 1, "-X", errstr, sizeof(errstr)) < 0) {
                *eq = '=';
                goto fail;
            }
            *eq = '=';
            continue;
        default:
            fprintf(stderr, "see `kta help %s`\n", argv[0]);
            kta_config_free(cfg);
            return NULL;
        }
        if (kta_config_set(cfg, key, optarg, argv[0], errstr, sizeof(errstr)) < 0)
            goto fail;
    }
    if (optind < argc) {
        snprintf(errstr, sizeof(errstr), "unexpected argument '%s' (see `kta help %s`)",
                 argv[optind], argv[0]);
        goto fail;
    }
    return cfg;
fail:
    fprintf(stderr, "kta: %s\n", errstr);
    kta_config_free(cfg);
    return NULL;
}

int kta_cmd_run(int argc, char **argv)
{
    int markdown = 0, rc;
    struct kta_config *cfg = parse(argc, argv, &markdown);

    if (!cfg)
        return 2;
    rc = kta_pipeline_run(cfg);
    kta_config_free(cfg);
    return rc;
}

int kta_cmd_config(int argc, char **argv)
{
    int markdown = 0;
    struct kta_config *cfg = parse(argc, argv, &markdown);

    if (!cfg)
        return 2;
    if (markdown == 2)
        kta_config_man(stdout);
    else if (markdown)
        kta_config_markdown(stdout);
    else
        kta_config_dump(cfg, stdout);
    kta_config_free(cfg);
    return 0;
}
