/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_produce: `kta produce` — JSON lines from files or stdin, or events
 * from gen.c, -> records on a Kafka topic, each acknowledged before the
 * command exits; or generated events -> a file or stdout (-o), no Kafka.
 * The tool the demo, the tests and the benchmarks use to feed kta; not
 * part of the pipeline.  With -r, the malicious share is built from the
 * literal values of the loaded rules (kta_rule_samples -> kta_gen_rules).
 */
#include "kta/cli.h"
#include "kta/cmd.h"
#include "kta/config.h"
#include "kta/gen.h"
#include "kta/hit.h"
#include "kta/kafka.h"
#include "kta/pipeline.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct produce_state {
    rd_kafka_t       *rk;
    rd_kafka_topic_t *rkt;
    const char       *key_field;
    unsigned long     sent, failed;
    struct kta_buf    key;
    atomic_int        auth_failed;   /* TLS or SASL failure: no retry helps */
    char              last_error[512];
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct produce_state *ps = opaque;

    (void)rk;
    /* librdkafka's own lines stay quiet (debug) until the brokers answer,
     * as in `kta run`: a connection failure is one line at the end. */
    atomic_store(&kta_kafka_started, 1);
    if (rkm->err) {
        ps->failed++;
        if (atomic_load(&ps->auth_failed))
            return;
        kta_log(KTA_LOG_ERROR, "produce: delivery failed: %s", rd_kafka_err2str(rkm->err));
    }
}

/* The first TLS or SASL failure stops the command (see kta_kafka_note_error);
 * the reason is printed once, at the end.  Runs on the main thread. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct produce_state *ps = opaque;

    (void)rk;
    kta_kafka_note_error(err, reason);
    snprintf(ps->last_error, sizeof(ps->last_error), "%s", reason);
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL)
        atomic_store(&ps->auth_failed, 1);
}

static int send_line(struct produce_state *ps, const char *line, size_t len)
{
    const void *key = NULL;
    size_t key_len = 0;
    rd_kafka_resp_err_t err;

    if (ps->key_field) {
        json_t *ev = json_loadb(line, len, 0, NULL);
        kta_buf_reset(&ps->key);
        if (ev && kta_hit_field_text(&ps->key, ev, ps->key_field)) {
            key = ps->key.data;
            key_len = ps->key.len;
        }
        json_decref(ev);
    }
    for (;;) {
        err = rd_kafka_producev(ps->rk, RD_KAFKA_V_RKT(ps->rkt),
                                RD_KAFKA_V_VALUE((void *)line, len), RD_KAFKA_V_KEY(key, key_len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || atomic_load(&ps->auth_failed))
            break;
        rd_kafka_poll(ps->rk, 10);
    }
    if (atomic_load(&ps->auth_failed))
        return -1;
    if (err) {
        kta_log(KTA_LOG_ERROR, "produce: %s", rd_kafka_err2str(err));
        return -1;
    }
    ps->sent++;
    rd_kafka_poll(ps->rk, 0);
    return 0;
}

static int produce_file(struct produce_state *ps, FILE *fp)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    while ((n = getline(&line, &cap, fp)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (n == 0)
            continue;
        if (send_line(ps, line, (size_t)n) < 0) {
            rc = -1;
            break;
        }
    }
    free(line);
    return rc;
}

/* Sends n generated events to the topic (ps->rk) or, with ps->rk NULL,
 * writes them as lines to fp; at `rate` per second when rate > 0. */
static int produce_generated(struct produce_state *ps, FILE *fp, long long n, long long rate,
                             struct kta_gen *g)
{
    struct kta_buf ev = { 0 };
    struct timespec t0, now;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long long i = 0; i < n; i++) {
        if (rate > 0 && i % 16 == 0) {
            /* Pace in small steps: event i is due at t0 + i / rate. */
            for (;;) {
                double due, el;
                clock_gettime(CLOCK_MONOTONIC, &now);
                el = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
                due = (double)i / (double)rate;
                if (el >= due)
                    break;
                if (ps->rk) {
                    rd_kafka_poll(ps->rk, (int)((due - el) * 1000) > 0 ? 1 : 0);
                } else {
                    struct timespec ms = { 0, 1000000 };
                    nanosleep(&ms, NULL);
                }
            }
        }
        kta_buf_reset(&ev);
        kta_gen_event(g, &ev);
        if (!ps->rk) {
            kta_buf_append(&ev, "\n", 1);
            if (fwrite(ev.data, 1, ev.len, fp) != ev.len) {
                rc = -1;
                break;
            }
            ps->sent++;
        } else if (send_line(ps, ev.data, ev.len) < 0) {
            rc = -1;
            break;
        }
    }
    kta_buf_free(&ev);
    return rc;
}

/* The rules' samples in the generator's terms; owns every string. */
struct gen_rules {
    struct kta_gen_rule *rules;
    size_t               n, cap;
    size_t               nf, fcap;   /* fields of the rule being collected */
};

static void sample_cb(void *opaque, const char *field, const char *value, size_t len,
                      enum kta_sample_shape shape)
{
    struct gen_rules *gr = opaque;
    struct kta_gen_rule *r = &gr->rules[gr->n];
    struct kta_gen_field *f;

    if (memchr(value, '\0', len))   /* cannot travel as a C string */
        return;
    if (gr->nf == gr->fcap) {
        gr->fcap = gr->fcap ? gr->fcap * 2 : 8;
        r->fields = xrealloc((void *)r->fields, gr->fcap * sizeof(*r->fields));
    }
    f = (struct kta_gen_field *)&r->fields[gr->nf++];
    f->name = field ? xstrdup(field) : NULL;
    f->value = xstrndup(value, len);
    f->shape = shape == KTA_SAMPLE_PREFIX ? KTA_GEN_PREFIX : shape == KTA_SAMPLE_SUFFIX ? KTA_GEN_SUFFIX :
               shape == KTA_SAMPLE_CONTAINS ? KTA_GEN_CONTAINS : KTA_GEN_EXACT;
    r->nfields = gr->nf;
}

static void gen_rules_free(struct gen_rules *gr)
{
    for (size_t i = 0; i < gr->n; i++) {
        for (size_t j = 0; j < gr->rules[i].nfields; j++) {
            free((char *)gr->rules[i].fields[j].name);
            free((char *)gr->rules[i].fields[j].value);
        }
        free((void *)gr->rules[i].fields);
        free((char *)gr->rules[i].logsource);
    }
    free(gr->rules);
}

/* -r: loads the rules as `kta run` would (same field map and
 * placeholders, invalid ones skipped, silently) and keeps the samples of
 * the enabled ones whose log source the schema generates.  Returns 0, or
 * -1 (printed) when nothing is usable. */
static int load_gen_rules(const struct kta_config *cfg, enum kta_gen_schema schema,
                          struct gen_rules *gr)
{
    struct kta_rules_opts ropts;
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    char errstr[1024];
    size_t i, n;

    kta_cli_rules_opts(cfg, &ropts);
    ropts.skip_invalid = 1;
    ropts.diag = NULL;
    rs = kta_rules_load_paths((const char *const *)cfg->rules_paths, cfg->nrules_paths, &ropts,
                              &st, errstr, sizeof(errstr));
    if (!rs) {
        kta_log(KTA_LOG_ERROR, "produce: %s", errstr);
        return -1;
    }
    n = kta_ruleset_count(rs);
    for (i = 0; i < n; i++) {
        const struct kta_rule *r = kta_ruleset_rule(rs, i);
        const char *ls = kta_rule_logsource(r);

        if (!kta_rule_enabled(r) || !ls || !kta_gen_fits(schema, ls))
            continue;
        if (gr->n == gr->cap) {
            gr->cap = gr->cap ? gr->cap * 2 : 64;
            gr->rules = xrealloc(gr->rules, gr->cap * sizeof(*gr->rules));
        }
        memset(&gr->rules[gr->n], 0, sizeof(gr->rules[gr->n]));
        gr->nf = gr->fcap = 0;
        kta_rule_samples(r, sample_cb, gr);
        if (!gr->rules[gr->n].nfields) {
            free((void *)gr->rules[gr->n].fields);
            continue;
        }
        gr->rules[gr->n++].logsource = xstrdup(ls);
    }
    kta_ruleset_decref(rs);
    fprintf(stderr, "kta: produce: %zu of %zu rules give malicious events (%zu invalid skipped)\n",
            gr->n, n, st.skipped);
    if (!gr->n) {
        kta_log(KTA_LOG_ERROR, "produce: %s: no rule for this schema has literal values to "
                "generate from", cfg->rules_paths[0]);
        return -1;
    }
    return 0;
}

/* -o: generated events to a file ("-": stdout) instead of Kafka.
 * Returns the exit code. */
static int generate_to_file(const char *path, long long n, long long rate, struct kta_gen *g)
{
    struct produce_state ps = { 0 };
    int to_stdout = strcmp(path, "-") == 0, rc = 0;
    FILE *fp = to_stdout ? stdout : fopen(path, "w");

    if (!fp) {
        kta_log(KTA_LOG_ERROR, "produce: %s: %s", path, strerror(errno));
        return KTA_EXIT_FAILURE;
    }
    if (produce_generated(&ps, fp, n, rate, g) < 0 || fflush(fp) != 0 || ferror(fp))
        rc = 1;
    if (!to_stdout && fclose(fp) != 0)
        rc = 1;
    if (rc)
        kta_log(KTA_LOG_ERROR, "produce: %s: %s", to_stdout ? "standard output" : path,
                strerror(errno));
    else if (!to_stdout)
        fprintf(stderr, "kta: wrote %lu events to %s\n", ps.sent, path);
    return rc;
}

/* A whole-number option: 0, or a usage error (2, printed). */
static int num(const struct kta_cli *cli, const char *text, long long *out)
{
    if (!text || kta_parse_int(text, 0, 1LL << 62, out) == 0)
        return 0;
    return kta_cli_usage(cli->cmd, "'%s': expected a whole number", text);
}

/* The start-up check of kta run, for one topic: brokers answer within
 * startup_timeout_ms, the topic exists and has partitions.  Returns 0,
 * or -1 after printing why. */
static int check_topic(struct produce_state *ps, const struct kta_config *cfg, const char *topic)
{
    const rd_kafka_metadata_t *md = NULL;
    char errstr[1024];
    int rc = -1;

    if (kta_kafka_metadata_wait(ps->rk, cfg, &md, errstr, sizeof(errstr)) < 0 ||
        kta_kafka_topic_unusable(ps->rk, md, "topic", topic, "-t", errstr, sizeof(errstr)))
        kta_log(KTA_LOG_ERROR, "produce: %s", errstr);
    else
        rc = 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

int kta_cmd_produce(int argc, char **argv)
{
    struct kta_cli cli;
    struct kta_config *cfg;
    struct produce_state ps = { 0 };
    rd_kafka_conf_t *conf = NULL;
    const char *topic = NULL, *output, *schema = "kta";
    struct gen_rules gr = { 0 };
    long long generate = -1, count = -1, rate = 0, seed = 1;
    int gen_flag, rules;
    double malicious = 0.01;
    struct kta_gen g;
    char errstr[1024], *end;
    int optind_args = 0, rc;

    if (kta_cli_parse(&cli, argc, argv, &rc) < 0) {
        kta_cli_free(&cli);
        return rc;
    }
    rc = KTA_EXIT_USAGE;
    cfg = cli.cfg;
    ps.key_field = cli.val[KTA_O_KEY];
    output = cli.val[KTA_O_OUTPUT];
    gen_flag = cli.given[KTA_O_GENERATE] > 0;
    rules = cli.given[KTA_O_RULES] > 0;
    if (cli.given[KTA_O_TOPIC] > 1) {
        kta_cli_usage(cli.cmd, "-t: one topic only");
        goto out;
    }
    if (cli.given[KTA_O_TOPIC])
        topic = cfg->topics[0];
    if (cli.given[KTA_O_SCHEMA]) {
        schema = cli.val[KTA_O_SCHEMA];
        if (kta_gen_schema(&g, schema) < 0) {
            kta_cli_usage(cli.cmd, "--schema '%s': unknown schema (expected one of "
                          KTA_GEN_SCHEMAS ")", schema);
            goto out;
        }
    }
    if (num(&cli, cli.val[KTA_O_GENERATE], &generate) ||
        num(&cli, cli.val[KTA_O_EVENTS], &count) ||
        num(&cli, cli.val[KTA_O_RATE], &rate) ||
        num(&cli, cli.val[KTA_O_SEED], &seed))
        goto out;
    if (cli.given[KTA_O_MALICIOUS]) {
        malicious = strtod(cli.val[KTA_O_MALICIOUS], &end);
        if (*end || end == cli.val[KTA_O_MALICIOUS] || malicious < 0 || malicious > 1) {
            kta_cli_usage(cli.cmd, "--malicious '%s': expected a share from 0 to 1",
                          cli.val[KTA_O_MALICIOUS]);
            goto out;
        }
    }
    /* `--generate N` as before; `--generate -n N` (or only -n) as well: N
     * is then the one operand, which getopt has moved behind the options. */
    if (gen_flag && generate < 0 && count < 0 && cli.nargs == 1 &&
        kta_parse_int(cli.args[0], 0, 1LL << 62, &generate) == 0)
        optind_args = 1;
    if (count >= 0) {
        if (generate >= 0 && generate != count) {
            kta_cli_usage(cli.cmd, "--generate %lld and -n %lld disagree", generate, count);
            goto out;
        }
        generate = count;
    }
    if ((gen_flag || strcmp(schema, "kta") != 0 || output) && generate < 0) {
        kta_cli_usage(cli.cmd, "generating needs a count (--generate N or -n N)");
        goto out;
    }
    if (generate >= 0 && cli.nargs > optind_args) {
        kta_cli_usage(cli.cmd, "--generate takes no files");
        goto out;
    }
    if ((rules || cli.given[KTA_O_FIELDMAP] || cli.given[KTA_O_PLACEHOLDERS]) && generate < 0) {
        kta_cli_usage(cli.cmd, "-r, -m and -p are for generated events (--generate N)");
        goto out;
    }
    kta_gen_init(&g, (uint64_t)seed, malicious);
    kta_gen_schema(&g, schema);
    if ((cli.given[KTA_O_FIELDMAP] || cli.given[KTA_O_PLACEHOLDERS]) && !rules) {
        kta_cli_usage(cli.cmd, "-m and -p need -r RULES");
        goto out;
    }
    if (rules) {
        if (g.schema == KTA_GEN_KTA) {
            kta_cli_usage(cli.cmd, "-r needs --schema sysmon or linux");
            goto out;
        }
        if (load_gen_rules(cfg, g.schema, &gr) < 0) {
            rc = KTA_EXIT_USAGE;
            goto out;
        }
        kta_gen_rules(&g, gr.rules, gr.n);
    }
    if (output) {
        rc = generate_to_file(output, generate, rate, &g);
        goto out;
    }
    if (!topic) {
        kta_cli_usage(cli.cmd, "-t TOPIC is required (or --output FILE with --generate)");
        goto out;
    }
    if (kta_cmd_check_kafka(cfg) > 0)
        goto out;
    conf = rd_kafka_conf_new();
    if (kta_kafka_conf_apply(conf, cfg, 1, errstr, sizeof(errstr)) < 0 ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr))) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &ps);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    ps.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!ps.rk) {
        kta_log(KTA_LOG_ERROR, "%s", errstr);
        goto out;
    }
    conf = NULL;
    rc = KTA_EXIT_FAILURE;
    if (check_topic(&ps, cfg, topic) < 0)
        goto out;
    atomic_store(&kta_kafka_started, 1);
    ps.rkt = rd_kafka_topic_new(ps.rk, topic, NULL);
    rc = KTA_EXIT_OK;
    if (generate >= 0) {
        if (produce_generated(&ps, NULL, generate, rate, &g) < 0)
            rc = KTA_EXIT_FAILURE;
    } else if (cli.nargs == 0 && produce_file(&ps, stdin) < 0) {
        rc = KTA_EXIT_FAILURE;
    }
    for (int i = 0; generate < 0 && i < cli.nargs && rc == 0; i++) {
        FILE *fp = fopen(cli.args[i], "r");
        if (!fp) {
            kta_log(KTA_LOG_ERROR, "%s: %s", cli.args[i], strerror(errno));
            rc = KTA_EXIT_FAILURE;
            break;
        }
        if (produce_file(&ps, fp) < 0)
            rc = 1;
        fclose(fp);
    }
    for (int waited = 0; rd_kafka_outq_len(ps.rk) > 0 && waited < 30000 &&
                         !atomic_load(&ps.auth_failed); waited += 100)
        rd_kafka_flush(ps.rk, 100);
    if (atomic_load(&ps.auth_failed)) {
        char why[512];
        kta_kafka_auth_error(why, sizeof(why));
        kta_log(KTA_LOG_ERROR, "produce: cannot connect to the Kafka brokers at %s: %s",
                kta_config_kafka(cfg, "bootstrap.servers"), why);
        rd_kafka_purge(ps.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(ps.rk, 0);   /* the purged records' reports, silently */
        rc = 1;
        goto out;
    }
    if (rd_kafka_outq_len(ps.rk) > 0) {
        kta_log(KTA_LOG_ERROR, "produce: %d records not acknowledged within 30 s%s%s",
                rd_kafka_outq_len(ps.rk), ps.last_error[0] ? "; last error: " : "", ps.last_error);
        ps.failed += (unsigned long)rd_kafka_outq_len(ps.rk);   /* not "produced" */
        rc = 1;
    }
    if (ps.failed)
        rc = 1;
    fprintf(stderr, "kta: produced %lu records to %s (%lu failed)\n", ps.sent - ps.failed, topic,
            ps.failed);
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (ps.rkt)
        rd_kafka_topic_destroy(ps.rkt);
    if (ps.rk)
        rd_kafka_destroy(ps.rk);
    kta_buf_free(&ps.key);
    kta_cli_free(&cli);
    gen_rules_free(&gr);
    return rc;
}
