/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_produce: `kta produce` — JSON lines from files or stdin -> records on
 * a Kafka topic, each acknowledged before the command exits.  The tool the
 * demo and the tests use to feed kta; not part of the pipeline.
 */
#include "kta/cmd.h"
#include "kta/config.h"
#include "kta/hit.h"
#include "kta/pipeline.h"
#include "kta/util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct produce_state {
    rd_kafka_t       *rk;
    rd_kafka_topic_t *rkt;
    const char       *key_field;
    unsigned long     sent, failed;
    struct kta_buf    key;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    struct produce_state *ps = opaque;

    (void)rk;
    if (rkm->err) {
        ps->failed++;
        fprintf(stderr, "kta: produce: delivery failed: %s\n", rd_kafka_err2str(rkm->err));
    }
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
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(ps->rk, 10);
    }
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

int kta_cmd_produce(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "brokers",          required_argument, NULL, 'b' },
        { "bootstrap-server", required_argument, NULL, 'b' },
        { "topic",            required_argument, NULL, 't' },
        { "key-field",        required_argument, NULL, 'k' },
        { NULL, 0, NULL, 0 },
    };
    struct kta_config *cfg = kta_config_new();
    struct produce_state ps = { 0 };
    rd_kafka_conf_t *conf = NULL;
    const char *topic = NULL;
    char errstr[1024];
    int opt, rc = 1;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "b:t:k:X:", long_opts, NULL)) != -1) {
        char *eq;
        switch (opt) {
        case 'b': kta_config_set_kafka(cfg, "bootstrap.servers", optarg, "-b"); break;
        case 't': topic = optarg; break;
        case 'k': ps.key_field = optarg; break;
        case 'X':
            eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "kta: -X %s: expected key=value\n", optarg);
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
    if (!topic) {
        fprintf(stderr, "kta: produce: -t TOPIC is required\n");
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
    ps.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!ps.rk) {
        fprintf(stderr, "kta: %s\n", errstr);
        goto out;
    }
    conf = NULL;
    atomic_store(&kta_kafka_started, 1);
    ps.rkt = rd_kafka_topic_new(ps.rk, topic, NULL);
    rc = 0;
    if (optind == argc && produce_file(&ps, stdin) < 0)
        rc = 1;
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
    if (rd_kafka_flush(ps.rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kta: produce: %d records not acknowledged within 30 s\n",
                rd_kafka_outq_len(ps.rk));
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
    return rc;
}
