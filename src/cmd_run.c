/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_run: `kta run` — options -> struct kta_config -> pipeline.
 * Also `kta config`, which shows and validates the configuration
 * `kta run` would use, parsed by the same code (src/cli.c), and checks
 * it as `kta run` would before starting anything: every librdkafka
 * property on a scratch rd_kafka_conf_t (never a handle, so nothing
 * connects), the assignor, the rules.
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/config.h"
#include "kta/pipeline.h"
#include "kta/util.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

/* Properties without a default value, so absent from rd_kafka_conf_dump;
 * often misspelt in a kafka: section. */
static const char *const common_props[] = {
    "bootstrap.servers", "group.id", "group.instance.id", "transactional.id",
    "sasl.username", "sasl.password", "sasl.oauthbearer.config", "sasl.kerberos.keytab",
    "ssl.ca.location", "ssl.certificate.location", "ssl.key.location", "ssl.key.password",
    "ssl.keystore.location", "ssl.keystore.password", "ssl.crl.location", "ssl.ca.pem",
    "ssl.certificate.pem", "ssl.key.pem", "debug", "client.rack", "statistics.interval.ms",
};

/* " (did you mean ...?)" for a property librdkafka does not know: a kta
 * option first (-X output.topci=x), else a librdkafka property. */
static void suggest_property(const char *key, char *out, size_t out_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    const char **dump, **tdump;
    size_t n, tn;
    struct kta_suggest sg;
    char best[128];

    out[0] = '\0';
    if (kta_config_suggest(key, best, sizeof(best))) {
        snprintf(out, out_size, " (did you mean the kta option '%s'?)", best);
        goto out;
    }
    dump = rd_kafka_conf_dump(conf, &n);
    tdump = rd_kafka_topic_conf_dump(tconf, &tn);
    kta_suggest_init(&sg, key);
    for (size_t i = 0; i < n; i += 2)
        kta_suggest_add(&sg, dump[i]);
    for (size_t i = 0; i < tn; i += 2)
        kta_suggest_add(&sg, tdump[i]);
    for (size_t i = 0; i < sizeof(common_props) / sizeof(common_props[0]); i++)
        kta_suggest_add(&sg, common_props[i]);
    if (sg.best)
        snprintf(out, out_size, " (did you mean '%s'?)", sg.best);
    rd_kafka_conf_dump_free(dump, n);
    rd_kafka_conf_dump_free(tdump, tn);
out:
    rd_kafka_conf_destroy(conf);
    rd_kafka_topic_conf_destroy(tconf);
}

int kta_cmd_check_kafka(const struct kta_config *cfg)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char rderr[512], hint[256], errstr[1024];
    int errors = 0;

    for (size_t i = 0; i < cfg->nkafka; i++) {
        const struct kta_kafka_prop *kp = &cfg->kafka[i];
        rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, kp->key, kp->value, rderr, sizeof(rderr));

        if (res == RD_KAFKA_CONF_OK)
            continue;
        hint[0] = '\0';
        if (res == RD_KAFKA_CONF_UNKNOWN)
            suggest_property(kp->key, hint, sizeof(hint));
        /* rderr may quote the value; never echo a secret. */
        kta_log(KTA_LOG_ERROR, "%s: kafka property '%s': %s%s", kp->origin, kp->key,
                kta_config_is_secret(kp->key) ? "invalid value" : rderr, hint);
        errors++;
    }
    rd_kafka_conf_destroy(conf);
    if (errors)
        return errors;
    /* The same again through the code the consumer and the producer use,
     * with kta's own settings. */
    for (int producer = 0; producer <= 1; producer++) {
        conf = rd_kafka_conf_new();
        if (kta_kafka_conf_apply(conf, cfg, producer, errstr, sizeof(errstr)) < 0) {
            kta_log(KTA_LOG_ERROR, "%s", errstr);
            errors++;
        }
        rd_kafka_conf_destroy(conf);
    }
    if (kta_consumer_conf_check(cfg, errstr, sizeof(errstr)) < 0) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        errors++;
    }
    return errors;
}

int kta_cmd_run(int argc, char **argv)
{
    struct kta_cli cli;
    int rc;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    if (kta_cmd_check_kafka(cli.cfg) > 0)
        rc = KTA_EXIT_USAGE;
    else
        rc = kta_pipeline_run(cli.cfg);
    kta_cli_free(&cli);
    return rc;
}

/* Everything kta run checks before it connects.  Returns the number of
 * errors, each logged. */
static int check_all(const struct kta_config *cfg)
{
    struct kta_rules_stats rst = { 0 };
    struct kta_ruleset *rs;
    char errstr[1024];
    int errors = kta_cmd_check_kafka(cfg);

    rs = kta_pipeline_load_rules(cfg, &rst, errstr, sizeof(errstr));
    if (!rs) {
        if (!rst.errors)   /* the rule errors were logged one by one */
            kta_log(KTA_LOG_ERROR, "%s", errstr);
        errors += rst.errors ? (int)rst.errors : 1;
    }
    kta_ruleset_decref(rs);
    return errors;
}

int kta_cmd_config(int argc, char **argv)
{
    struct kta_cli cli;
    int rc, errors;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    rc = KTA_EXIT_OK;
    if (cli.given[KTA_O_MAN]) {
        kta_config_man(stdout);
        goto out;
    }
    if (cli.given[KTA_O_MARKDOWN]) {
        kta_config_markdown(stdout);
        goto out;
    }
    if (!cli.given[KTA_O_CHECK])
        kta_config_dump(cli.cfg, stdout);
    fflush(stdout);
    errors = check_all(cli.cfg);
    if (errors) {
        kta_log(KTA_LOG_ERROR, "the configuration%s%s is not valid: %d error%s", cli.config_file ?
                " from " : "", cli.config_file ? cli.config_file : "", errors,
                errors == 1 ? "" : "s");
        rc = KTA_EXIT_USAGE;
    } else if (cli.given[KTA_O_CHECK] && !cli.given[KTA_O_QUIET]) {
        fprintf(stderr, "kta: the configuration%s%s is valid\n", cli.config_file ? " from " : "",
                cli.config_file ? cli.config_file : "");
    }
out:
    kta_cli_free(&cli);
    return rc;
}
