/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for kta.yaml parsing and overrides. */
#include "kta/config.h"
#include "kta/util.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The value `kta config` prints for option name, into out ("" if none). */
static void dumped(const struct kta_config *cfg, const char *name, char *out, size_t out_size)
{
    char *text = NULL, *line, *next;
    size_t len = 0, n = strlen(name);
    FILE *fp = open_memstream(&text, &len);

    kta_config_dump(cfg, fp);
    fclose(fp);
    out[0] = '\0';
    for (line = text; *line; line = next) {
        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (strncmp(line, name, n) == 0 && line[n] == ':' && line[n + 1] == ' ')
            snprintf(out, out_size, "%s", line + n + 2);
    }
    free(text);
}

/* Every integer option, found from the dump (a whole number as its
 * value): its limits come from the error for a non-number, and both
 * limits must come back unchanged from kta_config_set through the dump,
 * whatever the field's width. */
static void int_options_round_trip(void)
{
    struct kta_config *cfg = kta_config_new();
    char *text = NULL, *line, *next, err[512], got[64];
    size_t len = 0, nint = 0;
    FILE *fp = open_memstream(&text, &len);

    kta_config_dump(cfg, fp);
    fclose(fp);
    for (line = text; *line; line = next) {
        char name[128], value[64], tail[2], want[64];
        long long lo, hi;

        next = line + strcspn(line, "\n");
        if (*next)
            *next++ = '\0';
        if (sscanf(line, "%127[^:]: %63[-0-9]%1s", name, value, tail) != 2)
            continue;
        if (kta_config_set(cfg, name, "x", "-X", err, sizeof(err)) != -1 ||
            sscanf(strstr(err, "from ") ? strstr(err, "from ") : "", "from %lld to %lld", &lo, &hi) != 2)
            continue;   /* a number-looking value of another type */
        nint++;
        for (int k = 0; k < 2; k++) {
            snprintf(want, sizeof(want), "%lld", k ? lo : hi);
            CHECK_INT(kta_config_set(cfg, name, want, "-X", err, sizeof(err)), 0);
            dumped(cfg, name, got, sizeof(got));
            if (strcmp(got, want) != 0)
                printf("# %s: set %s, dump says %s\n", name, want, got);
            CHECK_STR(got, want);
        }
    }
    CHECK(nint >= 10);   /* the dump's integer options were found */
    free(text);
    /* The case that made the table say each field's width. */
    CHECK_INT(kta_config_set(cfg, "input.buffer_bytes", "8589934592", "-X", err, sizeof(err)), 0);
    CHECK(cfg->buffer_bytes == 8589934592LL);
    dumped(cfg, "input.buffer_bytes", got, sizeof(got));
    CHECK_STR(got, "8589934592");
    kta_config_free(cfg);
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
    /* Lists end with NULL as well as their count: correlate.c takes
     * correlation.time_field as a NULL-terminated list (kta run read past
     * its end when none of the fields was in an event). */
    CHECK_INT(kta_config_set(cfg, "correlation.time_field", "ts", "-X", err, sizeof(err)), 0);
    CHECK_INT(cfg->ncorr_time_fields, 1);
    CHECK_STR(cfg->corr_time_fields[0], "ts");
    CHECK(cfg->corr_time_fields[1] == NULL);
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

    /* input.start_offset: kcat's -o values; unset means the group's offset */
    {
        enum kta_start kind;
        long long v;

        cfg = kta_config_new();
        CHECK(cfg->start_offset == NULL);
        CHECK_INT(cfg->reset_offsets, 0);
        CHECK_INT(kta_config_start_offset("beginning", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_BEGINNING);
        CHECK_INT(kta_config_start_offset("end", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_END);
        CHECK_INT(kta_config_start_offset("42", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_OFFSET);
        CHECK_INT(v, 42);
        CHECK_INT(kta_config_start_offset("0", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_OFFSET);
        CHECK_INT(v, 0);
        CHECK_INT(kta_config_start_offset("-10", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_TAIL);
        CHECK_INT(v, 10);
        CHECK_INT(kta_config_start_offset("@1764230400000", &kind, &v, err, sizeof(err)), 0);
        CHECK_INT(kind, KTA_START_TIME);
        CHECK_INT(v, 1764230400000LL);
        const char *bad[] = { "", "begin", "-0", "-", "@", "@x", "12x", "+5", " 5", "@-1", "--3", "stored" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            CHECK_INT(kta_config_start_offset(bad[i], &kind, &v, err, sizeof(err)), -1);
        CHECK(strstr(err, "input.start_offset: 'stored' is not beginning, end") != NULL);
        CHECK_INT(load(cfg, "input:\n  start_offset: \"@1764230400000\"\n  reset_offsets: true\n",
                       err, sizeof(err)), 0);
        CHECK_STR(cfg->start_offset, "@1764230400000");
        CHECK_INT(cfg->reset_offsets, 1);
        CHECK_INT(load(cfg, "input:\n  start_offset: -7\n", err, sizeof(err)), 0);
        CHECK_STR(cfg->start_offset, "-7");
        CHECK_INT(load(cfg, "input:\n  start_offset: latest\n", err, sizeof(err)), -1);
        CHECK(strstr(err, "kta.yaml:2:17: input.start_offset: 'latest' is not") != NULL);
        CHECK_STR(cfg->start_offset, "-7");         /* a rejected value changes nothing */
        CHECK_INT(kta_config_set(cfg, "input.start_offset", "", "-X", err, sizeof(err)), 0);
        CHECK(cfg->start_offset == NULL);           /* empty: back to the group's offset */
        CHECK_INT(kta_config_set(cfg, "input.reset_offsets", "yes", "-X", err, sizeof(err)), -1);
        kta_config_free(cfg);
    }
    /* Mapping options (OPT_MAP): nested YAML, dotted keys and -X agree. */
    cfg = kta_config_new();
    CHECK_INT(cfg->fields.n, 0);
    CHECK_INT(cfg->topic_by_level.n, 0);
    CHECK_INT(load(cfg, "output:\n  fields:\n    environment: prod\n    region: \"eu-1\"\n"
                        "  topic_by_level:\n    critical: pager\n"
                        "output.fields.cluster: c7\noutput.topic_by_level.high: hi.gh\n",
                   err, sizeof(err)), 0);
    CHECK_INT(cfg->fields.n, 3);
    CHECK_STR(cfg->fields.items[0].key, "environment");
    CHECK_STR(kta_map_get(&cfg->fields, "region"), "eu-1");
    CHECK_STR(kta_map_get(&cfg->fields, "cluster"), "c7");
    snprintf(want, sizeof(want), "%s/kta.yaml:3:18", dir);
    CHECK_STR(cfg->fields.items[0].origin, want);
    CHECK_STR(kta_map_get(&cfg->topic_by_level, "critical"), "pager");
    CHECK_STR(kta_map_get(&cfg->topic_by_level, "high"), "hi.gh");
    CHECK(kta_map_get(&cfg->topic_by_level, "low") == NULL);
    CHECK_INT(kta_config_set(cfg, "output.fields.environment", "staging", "-X", err, sizeof(err)), 0);
    CHECK_INT(kta_config_set(cfg, "output.topic_by_level.low", "quiet", "-X", err, sizeof(err)), 0);
    CHECK_INT(cfg->fields.n, 3);                      /* replaced, kept in place */
    CHECK_STR(cfg->fields.items[0].value, "staging");
    CHECK_STR(cfg->fields.items[0].origin, "-X");
    CHECK_STR(kta_map_get(&cfg->topic_by_level, "low"), "quiet");
    CHECK(kta_config_kafka(cfg, "output.fields.environment") == NULL);   /* not a kafka property */
    {
        char *text = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&text, &len);
        kta_config_dump(cfg, fp);
        fclose(fp);
        CHECK(strstr(text, "output.fields:\n  environment: \"staging\"   # -X\n") != NULL);
        CHECK(strstr(text, "  critical: \"pager\"   # ") != NULL);
        free(text);
    }
    /* -X errors */
    CHECK_INT(kta_config_set(cfg, "output.fields.rule", "x", "-X", err, sizeof(err)), -1);
    CHECK_STR(err, "output.fields: 'rule' is a key of the hit itself (rule, event, source, "
                   "detected_at, kta and correlation are taken)");
    CHECK_INT(kta_config_set(cfg, "output.fields.a.b", "x", "-X", err, sizeof(err)), -1);
    CHECK(strstr(err, "'a.b' is not a field name") != NULL);
    CHECK_INT(kta_config_set(cfg, "output.fields.bad", "\xff", "-X", err, sizeof(err)), -1);
    CHECK_STR(err, "output.fields.bad: the value is not valid UTF-8");
    CHECK_INT(kta_config_set(cfg, "output.topic_by_level.severe", "x", "-X", err, sizeof(err)), -1);
    CHECK(strstr(err, "'severe' is not a level") != NULL);
    CHECK_INT(kta_config_set(cfg, "output.topic_by_level.high", "a b", "-X", err, sizeof(err)), -1);
    CHECK(strstr(err, "output.topic_by_level.high: 'a b' is not a topic name") != NULL);
    CHECK_INT(kta_config_set(cfg, "output.fields", "x", "-X", err, sizeof(err)), -1);
    CHECK(strstr(err, "output.fields is a mapping") != NULL);
    kta_config_free(cfg);

    /* YAML errors point at the key or the value at fault. */
    cfg = kta_config_new();
    CHECK_INT(load(cfg, "output:\n  fields:\n    event: x\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:3:5: output.fields: 'event' is a key of the hit "
             "itself (rule, event, source, detected_at, kta and correlation are taken)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output:\n  topic_by_level:\n    urgent: pager\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:3:5: output.topic_by_level: 'urgent' is not a level "
             "(informational, low, medium, high, critical)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output:\n  topic_by_level:\n    critical: \"pa/ger\"\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:3:15: output.topic_by_level.critical: 'pa/ger' is not "
             "a topic name (1 to 249 of a-z A-Z 0-9 . _ -)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output.fields: prod\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:1:16: output.fields: expected a mapping (NAME: VALUE "
             "lines under it)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output:\n  fields:\n    env: [a]\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:3:10: output.fields.env: expected a string value", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output.fields.source: x\n", err, sizeof(err)), -1);
    snprintf(want, sizeof(want), "%s/kta.yaml:1:1: output.fields: 'source' is a key of the hit "
             "itself (rule, event, source, detected_at, kta and correlation are taken)", dir);
    CHECK_STR(err, want);
    CHECK_INT(load(cfg, "output:\n  fields:\n", err, sizeof(err)), 0);   /* nothing under it */
    CHECK_INT(cfg->fields.n, 0);
    kta_config_free(cfg);
    CHECK(kta_topic_name_ok("a.b_c-D9"));
    CHECK(!kta_topic_name_ok("") && !kta_topic_name_ok(".") && !kta_topic_name_ok("..") &&
          !kta_topic_name_ok("a/b") && !kta_topic_name_ok("a b"));

    int_options_round_trip();

    unlink(write_file("kta.yaml", ""));
    rmdir(dir);
    return tap_done();
}
