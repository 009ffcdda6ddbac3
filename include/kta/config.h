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

/* A mapping option (output.fields, output.topic_by_level): entries in the
 * order they were first set, each with where it was set. */
struct kta_map_entry {
    char *key;
    char *value;
    char *origin;      /* "kta.yaml:4:3" or "-X" */
};

struct kta_map {
    struct kta_map_entry *items;
    size_t                n;
};

struct kta_config {
    char  *path;                 /* config file read, or NULL */
    char **topics;               /* input.topics */
    size_t ntopics;
    char  *output_topic;         /* output.topic */
    char  *key_field;            /* output.key_field */
    struct kta_map fields;       /* output.fields: name -> value, in every hit */
    struct kta_map topic_by_level;   /* output.topic_by_level: level -> topic */
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
    char  *start_offset;         /* input.start_offset, or NULL: the group's */
    int    reset_offsets;        /* input.reset_offsets */
    int    exit_at_end;          /* input.exit_at_end */
    enum kta_print print;        /* console.print */
    int    exactly_once;         /* processing.guarantee == exactly_once */
    int    commit_interval_ms;
    int    commit_min_interval_ms;
    int    shutdown_timeout_ms;
    int    stats_interval_ms;
    int    startup_timeout_ms;
    char  *metrics_listen;       /* metrics.listen, or NULL */
    int    log_json;             /* log.format == json */
    /* correlation.*: correlation rules in kta run (pipeline.c, worker.c) */
    char  *corr_topic;           /* correlation.topic, or NULL: GROUP-kta-correlation */
    char  *corr_changelog;       /* correlation.changelog_topic, or NULL: ...-changelog */
    int    corr_partitions;      /* correlation.partitions; 0: the input's */
    int    corr_replication;     /* correlation.replication_factor; -1: broker's */
    char **corr_time_fields;     /* correlation.time_field (NULL-terminated); then its count */
    size_t ncorr_time_fields;
    int    corr_grace_ms;        /* correlation.grace_ms */
    int    corr_max_groups;      /* correlation.max_groups */
    int    corr_max_events;      /* correlation.max_events */
    int    corr_max_sources;     /* correlation.max_sources */
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

/* The value of key in m, or NULL. */
const char *kta_map_get(const struct kta_map *m, const char *key);

/* Names a hit or a correlation hit uses for its own keys (docs/rules.md
 * "Hits", "Correlation hits"): output.fields
 * may not take them.  NULL-terminated. */
extern const char *const kta_hit_reserved_keys[];

/* Writes the effective configuration as YAML, secrets masked. */
void kta_config_dump(const struct kta_config *cfg, FILE *fp);

/* Writes the option reference (docs/configuration.md) as Markdown. */
void kta_config_markdown(FILE *fp);

/* Writes the same reference as a man page, kta.yaml(5). */
void kta_config_man(FILE *fp);

/* Where input.start_offset starts a partition (kcat's -o). */
enum kta_start {
    KTA_START_BEGINNING,     /* "beginning": the oldest record kept */
    KTA_START_END,           /* "end": only records produced from now on */
    KTA_START_OFFSET,        /* "N": that offset */
    KTA_START_TAIL,          /* "-N": N records before the end */
    KTA_START_TIME           /* "@MS": the first record at or after MS since the epoch */
};

/* Parses an input.start_offset value.  Returns 0 with *kind and *value
 * (the offset, count or timestamp; 0 for beginning/end) set, or -1 with
 * errstr set. */
int kta_config_start_offset(const char *text, enum kta_start *kind, long long *value,
                            char *errstr, size_t errstr_size);

/* 1 when a librdkafka property name holds a secret (never logged). */
int kta_config_is_secret(const char *key);

#ifndef KTA_SYSCONFDIR
#define KTA_SYSCONFDIR "/etc"
#endif

#endif
