/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for kta.yaml parsing and overrides. */
#include "kta/config.h"
#include "kta/util.h"
#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/kta-test-config-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return path;
}

static int load(struct kta_config *cfg, const char *text, char *err, size_t n)
{
    return kta_config_load(cfg, write_file("kta.yaml", text), err, n);
}

int main(void)
{
    struct kta_config *cfg;
    char err[512], want[600];

    if (!mkdtemp(dir))
        return 1;

    cfg = kta_config_new();
    CHECK_STR(cfg->topics[0], "threat-events");
    CHECK_STR(cfg->output_topic, "matched_hits");
    CHECK_STR(cfg->dlq_topic, "threat-events.dlq");
    CHECK_STR(kta_config_kafka(cfg, "group.id"), "kta");
    CHECK_INT(cfg->workers, 0);
    CHECK_INT(cfg->print, KTA_PRINT_ALERTS);
    CHECK(cfg->fieldmap == NULL);

    CHECK_INT(load(cfg, "input:\n  topics: [a, b]\noutput.topic: hits\nworkers: 3\n"
                        "console:\n  print: all\nrules:\n  on_error: skip\n"
                        "kafka:\n  bootstrap.servers: 127.0.0.1:19092\n  group.id: g1\n",
                   err, sizeof(err)), 0);
    CHECK_INT(cfg->ntopics, 2);
    CHECK_STR(cfg->topics[1], "b");
    CHECK_STR(cfg->output_topic, "hits");
    CHECK_INT(cfg->workers, 3);
    CHECK_INT(cfg->print, KTA_PRINT_ALL);
    CHECK_INT(cfg->rules_skip_invalid, 1);
    CHECK_STR(kta_config_kafka(cfg, "bootstrap.servers"), "127.0.0.1:19092");
    CHECK_STR(kta_config_kafka(cfg, "group.id"), "g1");

    /* Overrides: kta options by name, anything else is a librdkafka property. */
    CHECK_INT(kta_config_set(cfg, "output.topic", "x", "-X", err, sizeof(err)), 0);
    CHECK_STR(cfg->output_topic, "x");
    CHECK_INT(kta_config_set(cfg, "fetch.wait.max.ms", "5", "-X", err, sizeof(err)), 0);
    CHECK_STR(kta_config_kafka(cfg, "fetch.wait.max.ms"), "5");
    CHECK_INT(kta_config_set(cfg, "workers", "many", "-X", err, sizeof(err)), -1);
    CHECK_STR(err, "workers: 'many' is not a whole number from 0 to 256");
    kta_config_free(cfg);

    /* Errors name file:line:col. */
    cfg = kta_config_new();
    CHECK_INT(load(cfg, "output:\n  topic: hits\n  tpoic: x\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:3:3: unknown option 'output.tpoic' (did you mean 'output.topic'?)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "outptu:\n  topic: hits\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:1:1: unknown option 'outptu' (did you mean 'output'?)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "zzzzzz: 1\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:1:1: unknown option 'zzzzzz' (see `kta help config`)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "workers: -1\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:1:10: workers: '-1' is not a whole number from 0 to 256", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "console:\n  print: loud\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:2:10: console.print: 'loud' is not one of none|alerts|all", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output: [\n", err, sizeof(err)), -1);
    CHECK(strstr(err, "kta.yaml:2:1: ") != NULL);
    CHECK_INT(load(cfg, "kafka: 3\n", err, sizeof(err)), -1);
    CHECK(strstr(err, "kta.yaml:1:8: kafka: expected a mapping") != NULL);
    CHECK_INT(load(cfg, "", err, sizeof(err)), 0);           /* empty file: defaults */
    CHECK_INT(kta_config_load(cfg, "/nonexistent/kta.yaml", err, sizeof(err)), -1);
    CHECK_STR(err, "/nonexistent/kta.yaml: No such file or directory");
    CHECK(kta_config_is_secret("sasl.password"));

    /* rules.path is a list: one name or a YAML list; relative names in the
     * file are taken from its directory, absolute ones and -X values kept. */
    CHECK_INT(cfg->nrules_paths, 1);
    CHECK_STR(cfg->rules_paths[0], "rules");
    CHECK_INT(load(cfg, "rules:\n  path: [a, /abs/b, c/d]\n  fieldmap: f.map\n"
                        "kafka:\n  ssl.ca.location: ca.pem\n  ssl.key.location: probe\n",
                   err, sizeof(err)), 0);
    CHECK_INT(cfg->nrules_paths, 3);
    snprintf(want, sizeof(want), "%s/a", dir);
    CHECK_STR(cfg->rules_paths[0], want);
    CHECK_STR(cfg->rules_paths[1], "/abs/b");
    snprintf(want, sizeof(want), "%s/c/d", dir);
    CHECK_STR(cfg->rules_paths[2], want);
    snprintf(want, sizeof(want), "%s/f.map", dir);
    CHECK_STR(cfg->fieldmap, want);
    snprintf(want, sizeof(want), "%s/ca.pem", dir);
    CHECK_STR(kta_config_kafka(cfg, "ssl.ca.location"), want);
    CHECK_STR(kta_config_kafka(cfg, "ssl.key.location"), "probe");
    CHECK_INT(load(cfg, "rules.path: one\n", err, sizeof(err)), 0);
    CHECK_INT(cfg->nrules_paths, 1);
    CHECK_INT(kta_config_set(cfg, "rules.path", "x", "-X", err, sizeof(err)), 0);
    CHECK_INT(kta_config_append(cfg, "rules.path", "y", err, sizeof(err)), 0);
    CHECK_INT(cfg->nrules_paths, 2);
    CHECK_STR(cfg->rules_paths[0], "x");
    CHECK_STR(cfg->rules_paths[1], "y");
    CHECK_INT(kta_config_append(cfg, "output.topic", "y", err, sizeof(err)), -1);
    CHECK_INT(load(cfg, "rules:\n  path: []\n", err, sizeof(err)), -1);
    {
        char best[64];
        CHECK_INT(kta_config_suggest("output.topci", best, sizeof(best)), 1);
        CHECK_STR(best, "output.topic");
        CHECK_INT(kta_config_suggest("fetch.wait.max.ms", best, sizeof(best)), 0);
    }
    CHECK(kta_config_is_option("rules.path"));
    CHECK(!kta_config_is_option("bootstrap.servers"));
    CHECK(!kta_config_is_secret("bootstrap.servers"));
    kta_config_free(cfg);
    kta_config_free(NULL);

    unlink(write_file("kta.yaml", ""));
    rmdir(dir);
    return tap_done();
}
