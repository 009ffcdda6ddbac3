/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: kta.yaml + command-line overrides -> struct kta_config.
 *
 * One option table (src/config.c) drives the defaults, the YAML parser,
 * `-X key=value` overrides and docs/configuration.md, so they cannot drift
 * apart.  The `kafka:` map is passed to librdkafka verbatim (consumer and
 * producer both); kta does not interpret it beyond a few defaults.
 *
 * Functions borrow their arguments unless they say *takes*;
 * kta_config_free(NULL) does nothing.
 */
#ifndef KTA_CONFIG_H
#define KTA_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum kta_print { KTA_PRINT_NONE, KTA_PRINT_ALERTS, KTA_PRINT_ALL };

/* One librdkafka property, with where it was set (for error messages). */
struct kta_kafka_prop {
    char *key;
    char *value;
    char *origin;      /* "kta.yaml:4:3", "-X", "-b" or "default" */
};

struct kta_config {
    char  *path;                 /* config file read, or NULL */
    char **topics;               /* input.topics */
    size_t ntopics;
    char  *output_topic;         /* output.topic */
    char  *key_field;            /* output.key_field */
    char  *dlq_topic;            /* dead_letter.topic */
    char **rules_paths;          /* rules.path: files or directories */
    size_t nrules_paths;
    char  *fieldmap;             /* rules.fieldmap, or NULL */
    char  *placeholders;         /* rules.placeholders, or NULL */
    int    rules_skip_invalid;   /* rules.on_error == skip */
    int    rules_allow_empty;    /* rules.allow_empty */
    int    strict;               /* rules.strict: warnings are errors */
    int    watch_interval_ms;    /* rules.watch_interval_ms */
    int    workers;              /* 0: one per CPU */
    int    ring_size;
    int    inflight_per_partition;
    long long max_bytes;         /* input.max_bytes */
    long long buffer_bytes;      /* input.buffer_bytes */
    int    stall_pause_ms;       /* input.stall_pause_ms */
    enum kta_print print;        /* console.print */
    int    exactly_once;         /* processing.guarantee == exactly_once */
    int    commit_interval_ms;
    int    shutdown_timeout_ms;
    int    stats_interval_ms;
    int    startup_timeout_ms;
    struct kta_kafka_prop *kafka;
    size_t nkafka;
};

/* Returns a config holding every default. */
struct kta_config *kta_config_new(void);
void kta_config_free(struct kta_config *cfg);

/* Reads a kta.yaml file over the current values.  Returns 0, or -1 with
 * "FILE:LINE:COL: what is wrong" in errstr. */
int kta_config_load(struct kta_config *cfg, const char *path,
                    char *errstr, size_t errstr_size);

/* Sets one option from text: a kta option name ("output.topic") or,
 * failing that, a librdkafka property.  origin says where it came from
 * ("-X").  Returns 0, or -1 with errstr set. */
int kta_config_set(struct kta_config *cfg, const char *key, const char *value,
                   const char *origin, char *errstr, size_t errstr_size);

/* Adds value to a list option ("input.topics", "rules.path") instead of
 * replacing it.  Returns 0, or -1 with errstr set. */
int kta_config_append(struct kta_config *cfg, const char *key, const char *value,
                      char *errstr, size_t errstr_size);

/* 1 when name is a kta option (not a librdkafka property). */
int kta_config_is_option(const char *name);

/* "Did you mean": the kta option or section name closest to a misspelt
 * one, into out.  Returns 1, or 0 when none is close. */
int kta_config_suggest(const char *name, char *out, size_t out_size);

/* Sets a librdkafka property (replacing an earlier value). */
void kta_config_set_kafka(struct kta_config *cfg, const char *key,
                          const char *value, const char *origin);

/* The value of a librdkafka property, or NULL. */
const char *kta_config_kafka(const struct kta_config *cfg, const char *key);

/* Writes the effective configuration as YAML, secrets masked. */
void kta_config_dump(const struct kta_config *cfg, FILE *fp);

/* Writes the option reference (docs/configuration.md) as Markdown. */
void kta_config_markdown(FILE *fp);

/* Writes the same reference as a man page, kta.yaml(5). */
void kta_config_man(FILE *fp);

/* 1 when a librdkafka property name holds a secret (never logged). */
int kta_config_is_secret(const char *key);

#endif
