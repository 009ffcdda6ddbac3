/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_produce: `kta produce` — JSON lines from files or stdin, or events
 * from gen.c, -> records on a Kafka topic, each acknowledged before the
 * command exits; or generated events -> a file or stdout (-o), no Kafka.
 * The tool the demo, the tests and the benchmarks use to feed kta; not
 * part of the pipeline.  With -r, the malicious share is built from the
 * literal values of the loaded rules (kta_rule_samples -> kta_gen_rules).
 */
#include "kta/cmd.h"
#include "kta/config.h"
#include "kta/gen.h"
#include "kta/hit.h"
#include "kta/pipeline.h"
#include "kta/rules.h"
#include "kta/util.h"

#include <errno.h>
#include <getopt.h>
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
        fprintf(stderr, "kta: produce: delivery failed: %s\n", rd_kafka_err2str(rkm->err));
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
        fprintf(stderr, "kta: produce: %s\n", rd_kafka_err2str(err));
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

/* -r: loads the rules as `kta run` would (same field map, invalid ones
 * skipped) and keeps the samples of the enabled ones whose log source the
 * schema generates.  Returns 0, or -1 (printed) when nothing is usable. */
static int load_gen_rules(const char *path, const char *fieldmap, enum kta_gen_schema schema,
                          struct gen_rules *gr)
{
    struct kta_rules_opts ropts = { .fieldmap = fieldmap, .skip_invalid = 1 };
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    char errstr[1024];
    size_t i, n;

    rs = kta_rules_load(path, &ropts, &st, errstr, sizeof(errstr));
    if (!rs) {
        fprintf(stderr, "kta: produce: %s\n", errstr);
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
        fprintf(stderr, "kta: produce: %s: no rule for this schema has literal values to "
                "generate from\n", path);
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
        fprintf(stderr, "kta: produce: %s: %s\n", path, strerror(errno));
        return 1;
    }
    if (produce_generated(&ps, fp, n, rate, g) < 0 || fflush(fp) != 0 || ferror(fp))
        rc = 1;
    if (!to_stdout && fclose(fp) != 0)
        rc = 1;
    if (rc)
        fprintf(stderr, "kta: produce: %s: %s\n", to_stdout ? "standard output" : path,
                strerror(errno));
    else if (!to_stdout)
        fprintf(stderr, "kta: wrote %lu events to %s\n", ps.sent, path);
    return rc;
}

int kta_cmd_produce(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "config",           required_argument, NULL, 'c' },
        { "brokers",          required_argument, NULL, 'b' },
        { "bootstrap-server", required_argument, NULL, 'b' },
        { "topic",            required_argument, NULL, 't' },
        { "key-field",        required_argument, NULL, 'k' },
        { "generate",         optional_argument, NULL, 'g' },
        { "count",            required_argument, NULL, 'n' },
        { "schema",           required_argument, NULL, 's' },
        { "output",           required_argument, NULL, 'o' },
        { "rate",             required_argument, NULL, 'R' },
        { "seed",             required_argument, NULL, 'S' },
        { "malicious",        required_argument, NULL, 'M' },
        { "rules",            required_argument, NULL, 'r' },
        { "fieldmap",         required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    struct kta_config *cfg = kta_config_new();
    struct produce_state ps = { 0 };
    rd_kafka_conf_t *conf = NULL;
    const char *topic = NULL, *output = NULL, *schema = "kta", *rules = NULL, *fieldmap = NULL;
    struct gen_rules gr = { 0 };
    long long generate = -1, count = -1, rate = 0, seed = 1;
    int gen_flag = 0;
    double malicious = 0.01;
    struct kta_gen g;
    char errstr[1024], *end;
    int opt, rc = 1;

    /* Pass 1: only -c (the kafka: map of a kta.yaml, e.g. TLS and SASL
     * settings), so that -b and -X override it whatever their order. */
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:b:t:k:X:n:o:r:m:", long_opts, NULL)) != -1)
        if (opt == 'c' && kta_config_load(cfg, optarg, errstr, sizeof(errstr)) < 0) {
            fprintf(stderr, "kta: %s\n", errstr);
            goto out;
        }
    opterr = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:b:t:k:X:n:o:r:m:", long_opts, NULL)) != -1) {
        char *eq;
        switch (opt) {
        case 'c': break;
        case 'b': kta_config_set_kafka(cfg, "bootstrap.servers", optarg, "-b"); break;
        case 't': topic = optarg; break;
        case 'k': ps.key_field = optarg; break;
        case 'o': output = optarg; break;
        case 'r': rules = optarg; break;
        case 'm': fieldmap = optarg; break;
        case 's':
            schema = optarg;
            if (kta_gen_schema(&g, schema) < 0) {
                fprintf(stderr, "kta: produce: --schema '%s': unknown schema (expected one of "
                        KTA_GEN_SCHEMAS ")\n", optarg);
                rc = 2;
                goto out;
            }
            break;
        case 'g':
            gen_flag = 1;
            if (!optarg)   /* else --generate=N */
                break;
            /* fall through */
        case 'n':
        case 'R':
        case 'S': {
            long long *dst = opt == 'g' ? &generate : opt == 'n' ? &count : opt == 'R' ? &rate : &seed;
            if (kta_parse_int(optarg, 0, 1LL << 62, dst) < 0) {
                fprintf(stderr, "kta: produce: %s '%s': expected a whole number\n",
                        opt == 'g' ? "--generate" : opt == 'n' ? "-n" : opt == 'R' ? "--rate" : "--seed",
                        optarg);
                rc = 2;
                goto out;
            }
            break;
        }
        case 'M':
            malicious = strtod(optarg, &end);
            if (*end || end == optarg || malicious < 0 || malicious > 1) {
                fprintf(stderr, "kta: produce: --malicious '%s': expected a share from 0 to 1\n", optarg);
                rc = 2;
                goto out;
            }
            break;
        case 'X':
            eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "kta: -X %s: expected key=value\n",
                        kta_config_is_secret(optarg) ? "(not shown: names a secret)" : optarg);
                goto out;
            }
            *eq = '\0';
            kta_config_set_kafka(cfg, optarg, eq + 1, "-X");
            *eq = '=';
            break;
        default:
            fprintf(stderr, "see `kta help produce`\n");
            rc = 2;
            goto out;
        }
    }
    /* `--generate N` as before; `--generate -n N` (or only -n) as well: N
     * is then the one operand, which getopt has moved behind the options. */
    if (gen_flag && generate < 0 && count < 0 && optind + 1 == argc &&
        kta_parse_int(argv[optind], 0, 1LL << 62, &generate) == 0)
        optind++;
    if (count >= 0) {
        if (generate >= 0 && generate != count) {
            fprintf(stderr, "kta: produce: --generate %lld and -n %lld disagree\n", generate, count);
            rc = 2;
            goto out;
        }
        generate = count;
    }
    if ((gen_flag || strcmp(schema, "kta") != 0 || output) && generate < 0) {
        fprintf(stderr, "kta: produce: generating needs a count (--generate N or -n N)\n");
        rc = 2;
        goto out;
    }
    if (generate >= 0 && optind < argc) {
        fprintf(stderr, "kta: produce: --generate takes no files\n");
        rc = 2;
        goto out;
    }
    if ((rules || fieldmap) && generate < 0) {
        fprintf(stderr, "kta: produce: -r and -m are for generated events (--generate N)\n");
        rc = 2;
        goto out;
    }
    kta_gen_init(&g, (uint64_t)seed, malicious);
    kta_gen_schema(&g, schema);
    if (fieldmap && !rules) {
        fprintf(stderr, "kta: produce: -m needs -r RULES\n");
        rc = 2;
        goto out;
    }
    if (rules) {
        if (g.schema == KTA_GEN_KTA) {
            fprintf(stderr, "kta: produce: -r needs --schema sysmon or linux\n");
            rc = 2;
            goto out;
        }
        if (load_gen_rules(rules, fieldmap, g.schema, &gr) < 0)
            goto out;
        kta_gen_rules(&g, gr.rules, gr.n);
    }
    if (output) {
        rc = generate_to_file(output, generate, rate, &g);
        goto out;
    }
    if (!topic) {
        fprintf(stderr, "kta: produce: -t TOPIC is required (or -o FILE with --generate)\n");
        rc = 2;
        goto out;
    }
    conf = rd_kafka_conf_new();
    if (kta_kafka_conf_apply(conf, cfg, 1, errstr, sizeof(errstr)) < 0 ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr))) {
        fprintf(stderr, "kta: %s\n", errstr);
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &ps);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, kta_kafka_log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    ps.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!ps.rk) {
        fprintf(stderr, "kta: %s\n", errstr);
        goto out;
    }
    conf = NULL;
    ps.rkt = rd_kafka_topic_new(ps.rk, topic, NULL);
    rc = 0;
    if (generate >= 0) {
        if (produce_generated(&ps, NULL, generate, rate, &g) < 0)
            rc = 1;
    } else if (optind == argc && produce_file(&ps, stdin) < 0) {
        rc = 1;
    }
    for (int i = optind; i < argc && rc == 0; i++) {
        FILE *fp = fopen(argv[i], "r");
        if (!fp) {
            fprintf(stderr, "kta: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
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
        fprintf(stderr, "kta: produce: cannot connect to the Kafka brokers at %s: %s\n",
                kta_config_kafka(cfg, "bootstrap.servers"), why);
        rd_kafka_purge(ps.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(ps.rk, 0);   /* the purged records' reports, silently */
        rc = 1;
        goto out;
    }
    if (rd_kafka_outq_len(ps.rk) > 0) {
        fprintf(stderr, "kta: produce: %d records not acknowledged within 30 s%s%s\n",
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
    kta_config_free(cfg);
    gen_rules_free(&gr);
    return rc;
}
