/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config: kta.yaml (libyaml) and -X overrides -> struct kta_config.
 *
 * Everything about an option — name, type, default, limits, the sentence
 * that documents it — lives in one row of `options` below.  The parser,
 * the `-X` overrides, `kta config` and docs/configuration.md all read that
 * table.  This module never talks to Kafka: the `kafka:` map is only
 * collected here and handed to librdkafka by consumer.c and producer.c.
 */
#include "kta/config.h"
#include "kta/metrics.h"
#include "kta/util.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* OPT_PATH_OR_NULL and OPT_PATHLIST hold file or directory names: as
 * OPT_STR_OR_NULL and OPT_STRLIST, except that relative names written in
 * a kta.yaml are taken relative to that file's directory (names given on
 * the command line stay relative to the working directory). */
enum opt_type { OPT_STR, OPT_STR_OR_NULL, OPT_STRLIST, OPT_INT, OPT_ENUM, OPT_MAP, OPT_PATH_OR_NULL,
                OPT_PATHLIST };

/* OPT_MAP: checks one entry.  Returns 0, or -1 with err set and *on_key 1
 * when the key is at fault (0: the value). */
typedef int map_check_fn(const char *key, const char *value, int *on_key, char *err,
                         size_t err_size);

struct option {
    const char   *name;
    enum opt_type type;
    size_t        offset;       /* into struct kta_config; for OPT_STRLIST a
                                 * char ** (NULL-terminated) directly followed by
                                 * its size_t count */
    size_t        size;         /* sizeof the field: an OPT_INT is an int or a
                                 * long long by this, never by its name */
    const char   *def;          /* default, as text */
    long long     min, max;     /* OPT_INT */
    const char   *choices;      /* OPT_ENUM: "a|b|c", index = stored value */
    const char   *doc;
};

static int is_path(const struct option *opt)
{
    return opt->type == OPT_PATH_OR_NULL || opt->type == OPT_PATHLIST;
}

static int is_list(const struct option *opt)
{
    return opt->type == OPT_STRLIST || opt->type == OPT_PATHLIST;
}

#define OFF(f) offsetof(struct kta_config, f)
/* A row's offset and size, taken from the field itself. */
#define FIELD(f) OFF(f), sizeof(((struct kta_config *)0)->f)

/* The keys hit.c writes at the top level of every hit. */
const char *const kta_hit_reserved_keys[] = { "rule", "event", "source", "detected_at", "kta",
                                              "correlation", NULL };

static const char *const levels[] = { "informational", "low", "medium", "high", "critical", NULL };

/* Strict UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF): a hit is JSON, and -X takes any bytes. */
static int utf8_ok(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s, n, cp;
        if (c < 0x80) { s++; continue; }
        if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
        else return 0;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        s += n + 1;
    }
    return 1;
}

/* output.fields: a name SQL and JSON paths take unquoted, not one of the
 * hit's own keys; any UTF-8 text as the value. */
static int check_field(const char *key, const char *value, int *on_key, char *err, size_t err_size)
{
    size_t n = strlen(key);

    *on_key = 1;
    if (n == 0 || n > 64 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789_") != n || (key[0] >= '0' && key[0] <= '9'))
        return kta_err(err, err_size, "output.fields: '%s' is not a field name (1 to 64 letters, "
                       "digits and '_', not starting with a digit)", key);
    for (size_t i = 0; kta_hit_reserved_keys[i]; i++)
        if (strcmp(key, kta_hit_reserved_keys[i]) == 0)
            return kta_err(err, err_size, "output.fields: '%s' is a key of the hit itself "
                           "(rule, event, source, detected_at, kta and correlation are taken)", key);
    *on_key = 0;
    if (!value)
        return kta_err(err, err_size, "output.fields.%s: expected a string value", key);
    if (!utf8_ok((const unsigned char *)value))
        return kta_err(err, err_size, "output.fields.%s: the value is not valid UTF-8", key);
    return 0;
}

/* output.topic_by_level: a rule level -> a legal topic name. */
static int check_route(const char *key, const char *value, int *on_key, char *err, size_t err_size)
{
    size_t i;

    *on_key = 1;
    for (i = 0; levels[i] && strcmp(key, levels[i]) != 0; i++)
        ;
    if (!levels[i])
        return kta_err(err, err_size, "output.topic_by_level: '%s' is not a level (informational, "
                       "low, medium, high, critical)", key);
    *on_key = 0;
    if (!value || !kta_topic_name_ok(value))
        return kta_err(err, err_size, "output.topic_by_level.%s: '%s' is not a topic name (1 to "
                       "249 of a-z A-Z 0-9 . _ -)", key, value ? value : "");
    return 0;
}

/* Each list's count follows it (see OPT_STRLIST). */
_Static_assert(offsetof(struct kta_config, ntopics) ==
               offsetof(struct kta_config, topics) + sizeof(char **), "topics, ntopics");
_Static_assert(offsetof(struct kta_config, ncorr_time_fields) ==
               offsetof(struct kta_config, corr_time_fields) + sizeof(char **),
               "corr_time_fields, ncorr_time_fields");
_Static_assert(offsetof(struct kta_config, nrules_paths) ==
               offsetof(struct kta_config, rules_paths) + sizeof(char **), "rules_paths, nrules_paths");

static const struct option options[] = {
    { "input.topics", OPT_STRLIST, FIELD(topics), "threat-events", 0, 0, NULL,
      "Topics to consume events from (a list, or one name). `-t` on the command line." },
    { "input.max_bytes", OPT_INT, FIELD(max_bytes), "1048576", 1, 1LL << 30, NULL,
      "Largest record value accepted as an event; larger records go to the dead-letter topic." },
    { "input.buffer_bytes", OPT_INT, FIELD(buffer_bytes), "4194304", 1024, 1LL << 34, NULL,
      "Records (approximate bytes) kta keeps waiting for busy workers before it stops taking more from librdkafka; with `queued.max.messages.kbytes` the main bound on its memory. Smaller values save memory at the cost of drain speed (see docs/benchmarks-e2e.md)." },
    { "input.stall_pause_ms", OPT_INT, FIELD(stall_pause_ms), "5000", 1, 3600000, NULL,
      "When workers stay behind (input.buffer_bytes full) this long, kta pauses its partitions until they catch up; shorter lags only slow its polling." },
    { "input.start_offset", OPT_STR_OR_NULL, FIELD(start_offset), NULL, 0, 0, NULL,
      "Where to start reading a partition the group has no committed offset for (kcat's `-o`): `beginning`, `end`, an offset `N`, `-N` (N records before the end) or `@MS` (the first record with a timestamp at or after MS milliseconds since the epoch). Unset or `stored`: `auto.offset.reset` decides. See docs/operations.md, Replaying." },
    { "input.reset_offsets", OPT_ENUM, FIELD(reset_offsets), "false", 0, 0, "false|true",
      "`true`: apply input.start_offset also to partitions the group has committed offsets for, at the first assignment of each partition in this process (later rebalances resume from the commits). Going back re-reads records and re-emits their hits." },
    { "input.exit_at_end", OPT_ENUM, FIELD(exit_at_end), "false", 0, 0, "false|true",
      "`true`: once every assigned partition is caught up (kta has read up to the end it saw, including partitions with no records and partitions assigned later), kta finishes the records in flight, commits and exits 0 — a one-shot run over what the topics hold." },
    { "output.topic", OPT_STR, FIELD(output_topic), "matched_hits", 0, 0, NULL,
      "Topic that receives one JSON record per hit." },
    { "output.topic_by_level", OPT_MAP, FIELD(topic_by_level), NULL, 0, 0, NULL,
      "Topics by rule level (`informational`, `low`, `medium`, `high`, `critical`), e.g. `critical: pager`: a hit of a level listed here goes to that topic instead of output.topic, unless its rule names an `output_topic`. Each hit is written once, to one topic (see docs/operations.md, Routing hits). `-X output.topic_by_level.LEVEL=TOPIC` on the command line." },
    { "output.fields", OPT_MAP, FIELD(fields), NULL, 0, 0, NULL,
      "Static fields added to the top level of every hit as JSON strings, e.g. `environment: prod` (names: letters, digits and `_`; not `rule`, `event`, `source`, `detected_at` or `kta`). `-X output.fields.NAME=VALUE` on the command line." },
    { "output.key_field", OPT_STR, FIELD(key_field), "host", 0, 0, NULL,
      "Event field whose value becomes the hit's message key (no key when the field is missing)." },
    { "dead_letter.topic", OPT_STR, FIELD(dlq_topic), "threat-events.dlq", 0, 0, NULL,
      "Topic that receives malformed records unchanged, with headers naming the reason and the source." },
    { "rules.path", OPT_PATHLIST, FIELD(rules_paths), "rules", 0, 0, NULL,
      "Rule files or directories (read recursively), loaded into one ruleset: a list, or one name. Relative names in a kta.yaml are taken from its directory. `-r` on the command line (repeat for several)." },
    { "rules.fieldmap", OPT_PATH_OR_NULL, FIELD(fieldmap), NULL, 0, 0, NULL,
      "Field map YAML file that renames rule fields to event paths. `-m` on the command line." },
    { "rules.placeholders", OPT_PATH_OR_NULL, FIELD(placeholders), NULL, 0, 0, NULL,
      "Placeholders YAML file: the values that `%name%` stands for in rule values with the `expand` modifier (a mapping from name to a value or a list of values). `-p` on the command line." },
    { "rules.on_error", OPT_ENUM, FIELD(rules_skip_invalid), "fail", 0, 0, "fail|skip",
      "`fail`: any invalid rule stops kta from starting. `skip`: invalid rules are reported and left out." },
    { "rules.allow_empty", OPT_ENUM, FIELD(rules_allow_empty), "false", 0, 0, "false|true",
      "`false`: kta refuses to start with no enabled rule, and rejects a reload that would leave none (it would commit offsets while detecting nothing). `true` allows it." },
    { "rules.strict", OPT_ENUM, FIELD(strict), "false", 0, 0, "false|true",
      "`true`: every warning about a rule file, field map or placeholders file is an error (at start and on reload). `--strict` on the command line." },
    { "rules.watch_interval_ms", OPT_INT, FIELD(watch_interval_ms), "2000", 0, 3600000, NULL,
      "How often kta checks the rule files (and field map and placeholders) for changes and reloads them without a restart; 0 turns watching off (SIGHUP still reloads)." },
    { "workers", OPT_INT, FIELD(workers), "0", 0, 256, NULL,
      "Worker threads evaluating rules; 0 means one per CPU. `-w` on the command line." },
    { "ring_size", OPT_INT, FIELD(ring_size), "4096", 2, 1 << 24, NULL,
      "Records queued per worker (a ring); more wait in the worker's backlog, see input.buffer_bytes." },
    { "inflight_per_partition", OPT_INT, FIELD(inflight_per_partition), "65536", 2, 1 << 24, NULL,
      "Records per partition that may be unfinished (not yet acknowledged); past that they wait in the backlog." },
    { "console.print", OPT_ENUM, FIELD(print), "alerts", 0, 0, "none|alerts|all",
      "Console lines on stdout: `alerts` prints one `[ALERT]` line per hit, `all` adds a `[DEBUG]` line per event without hits, `none` prints nothing. `--print` on the command line." },
    { "processing.guarantee", OPT_ENUM, FIELD(exactly_once), "at_least_once", 0, 0, "at_least_once|exactly_once",
      "`at_least_once`: offsets are committed after every hit of the record is acknowledged; a crash may repeat hits. `exactly_once`: hits, dead letters and input offsets are committed in one Kafka transaction per commit interval; readers with `isolation.level=read_committed` see every hit once." },
    { "commit_interval_ms", OPT_INT, FIELD(commit_interval_ms), "1000", 10, 3600000, NULL,
      "How often finished input offsets are committed to the consumer group at the latest (at_least_once; see commit_min_interval_ms), and how long each transaction runs (exactly_once)." },
    { "commit_min_interval_ms", OPT_INT, FIELD(commit_min_interval_ms), "100", 0, 3600000, NULL,
      "At-least-once: finished input offsets are committed as soon as they move, once the previous commit was answered and at least this long after it, so a crash re-reads (and repeats the hits of) about this much work instead of commit_interval_ms. Bounds the commit rate to 1000/commit_min_interval_ms per second; a value of commit_interval_ms or more turns early commits off. Not used in exactly_once mode (a transaction per commit_interval_ms)." },
    { "stats_interval_ms", OPT_INT, FIELD(stats_interval_ms), "60000", 0, 86400000, NULL,
      "How often kta logs a line of counters (events and hits with their rates, malformed records, retries, consumer lag in total and its largest partition, rules version); 0 turns it off." },
    { "metrics.listen", OPT_STR_OR_NULL, FIELD(metrics_listen), NULL, 0, 0, NULL,
      "Where to serve Prometheus metrics (`/metrics`) and the `/healthz` and `/readyz` probes over HTTP: `9464` or `:9464` listens on 127.0.0.1 only, `0.0.0.0:9464` or `[::]:9464` on every interface, `HOST:PORT` on that address; null or `off`: no server (the default). A port in use stops kta at start-up. See docs/operations.md, Monitoring." },
    { "log.format", OPT_ENUM, FIELD(log_json), "text", 0, 0, "text|json",
      "Log lines on stderr: `text` is `2026-12-02T01:02:03.456Z kta: info: message` (UTC); `json` is one JSON object per line with `ts`, `level`, `thread` and `msg`." },
    { "correlation.topic", OPT_STR_OR_NULL, FIELD(corr_topic), NULL, 0, 0, NULL,
      "Internal topic through which the matches of correlation rules' base rules travel to the one worker that owns their group (keyed by correlation and group); created at start when the rules have correlations. Unset: `GROUP-kta-correlation`, GROUP the consumer group (`group.id`). See docs/operations.md, Correlation state." },
    { "correlation.changelog_topic", OPT_STR_OR_NULL, FIELD(corr_changelog), NULL, 0, 0, NULL,
      "Internal compacted topic holding each correlation group's state, read back when a partition of correlation.topic is assigned (after a restart, a rebalance or a crash). Unset: correlation.topic's name with `-changelog`." },
    { "correlation.partitions", OPT_INT, FIELD(corr_partitions), "0", 0, 100000, NULL,
      "Partitions of the internal topics when kta creates them; 0: as many as the input topic with the most. Existing topics are used as they are (both must have the same count)." },
    { "correlation.replication_factor", OPT_INT, FIELD(corr_replication), "-1", -1, 32767, NULL,
      "Replication factor of the internal topics when kta creates them; -1: the broker's `default.replication.factor`." },
    { "correlation.time_field", OPT_STRLIST, FIELD(corr_time_fields), NULL, 0, 0, NULL,
      "Event fields holding an event's time for correlation windows (RFC 3339 or epoch seconds or milliseconds), the first present wins (a list, or one name); else the record's Kafka timestamp. Unset: `@timestamp`, `timestamp`, `EventTime`, `TimeCreated`." },
    { "correlation.grace_ms", OPT_INT, FIELD(corr_grace_ms), "5000", 0, 86400000, NULL,
      "How much older than the newest event seen from the same input partition an event may be and still count in correlation windows; older ones are counted as late and left out. Records of one partition are rarely in exact time order (several producers, retries): 0 counts every step back as late." },
    { "correlation.max_groups", OPT_INT, FIELD(corr_max_groups), "100000", 1, 100000000, NULL,
      "Correlation groups held per partition of correlation.topic; at the bound the idlest group is evicted (counted)." },
    { "correlation.max_events", OPT_INT, FIELD(corr_max_events), "10000", 1, 100000000, NULL,
      "Events kept per correlation group; at the bound the oldest is dropped (counted)." },
    { "correlation.max_sources", OPT_INT, FIELD(corr_max_sources), "10", 0, 10000, NULL,
      "Sources (topic, partition, offset) listed in a correlation hit; the hit also gives their total." },
    { "shutdown_timeout_ms", OPT_INT, FIELD(shutdown_timeout_ms), "10000", 0, 3600000, NULL,
      "On SIGINT/SIGTERM, how long to wait for records in flight to be acknowledged before exiting." },
    { "startup_timeout_ms", OPT_INT, FIELD(startup_timeout_ms), "10000", 100, 3600000, NULL,
      "How long to wait for the brokers to answer at start-up before giving up." },
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

/* How each OPT_MAP option checks its entries (beside the table, so its
 * rows keep one shape). */
static const struct {
    size_t        offset;
    map_check_fn *check;
} map_checks[] = {
    { OFF(fields), check_field },
    { OFF(topic_by_level), check_route },
};

static map_check_fn *map_check(const struct option *opt)
{
    for (size_t i = 0; i < sizeof(map_checks) / sizeof(map_checks[0]); i++)
        if (map_checks[i].offset == opt->offset)
            return map_checks[i].check;
    abort();   /* an OPT_MAP row without a check is a bug in the table */
}

/* librdkafka defaults kta relies on; the user may override any of them. */
static const char *kafka_defaults[][2] = {
    { "bootstrap.servers", "localhost:9092" },
    { "group.id", "kta" },
    { "auto.offset.reset", "earliest" },
    { "partition.assignment.strategy", "range,roundrobin" },
    /* A resume waits for the fetch in flight: keep that wait short. */
    { "fetch.wait.max.ms", "100" },
    /* librdkafka prefetches up to 64 MiB by default; kta drains its queue
     * into its own bounded buffer (input.buffer_bytes) and wakes the
     * fetcher when it has drained a full queue (consumer.c), so 4 MiB is
     * enough, with fetch responses well below that. */
    { "queued.max.messages.kbytes", "4096" },
    { "fetch.max.bytes", "1048576" },
    { "max.partition.fetch.bytes", "262144" },
};

static const struct option *find_option(const char *name)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].name, name) == 0)
            return &options[i];
    return NULL;
}

/* "output.fields.env" -> the output.fields option, *key = "env". */
static const struct option *find_map_option(const char *name, const char **key)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        size_t n = strlen(options[i].name);
        if (options[i].type == OPT_MAP && strncmp(options[i].name, name, n) == 0 &&
            name[n] == '.') {
            *key = name + n + 1;
            return &options[i];
        }
    }
    return NULL;
}

const char *kta_map_get(const struct kta_map *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].key, key) == 0)
            return m->items[i].value;
    return NULL;
}

static void map_free(struct kta_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
        free(m->items[i].origin);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

/* Sets one entry of a mapping option, replacing an earlier value of the
 * same key.  Returns 0, or -1 with errstr and *on_key as the check's. */
static int set_map_entry(struct kta_config *cfg, const struct option *opt, const char *key,
                         const char *value, const char *origin, int *on_key,
                         char *errstr, size_t errstr_size)
{
    struct kta_map *m = (struct kta_map *)((char *)cfg + opt->offset);
    size_t i;

    if (map_check(opt)(key, value, on_key, errstr, errstr_size) < 0)
        return -1;
    for (i = 0; i < m->n && strcmp(m->items[i].key, key) != 0; i++)
        ;
    if (i == m->n) {
        m->items = xrealloc(m->items, (m->n + 1) * sizeof(*m->items));
        m->items[i].key = xstrdup(key);
        m->n++;
    } else {
        free(m->items[i].value);
        free(m->items[i].origin);
    }
    m->items[i].value = xstrdup(value);
    m->items[i].origin = xstrdup(origin);
    return 0;
}

static void free_strlist(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

/* Values the type alone would allow but the option does not.  Returns 0
 * or -1 with errstr. */
static int check_value(const struct option *opt, const char *value, char *errstr,
                       size_t errstr_size)
{
    if (opt->offset == OFF(metrics_listen))
        return kta_metrics_check_listen(value, errstr, errstr_size);
    return 0;
}

/* Applies one scalar value.  For OPT_STRLIST, `append` adds to the list
 * instead of replacing it. */
static int set_value(struct kta_config *cfg, const struct option *opt,
                     const char *value, int append, char *errstr, size_t errstr_size)
{
    char *base = (char *)cfg;
    long long v;

    switch (opt->type) {
    case OPT_STR:
        if (!value || !*value)
            return kta_err(errstr, errstr_size, "%s must not be empty", opt->name);
        /* fall through */
    case OPT_STR_OR_NULL:
    case OPT_PATH_OR_NULL: {
        char **p = (char **)(base + opt->offset);
        /* kcat's `stored`: the group's committed offset, which is what
         * unset means. */
        if (opt->offset == OFF(start_offset) && value && strcmp(value, "stored") == 0)
            value = NULL;
        if (opt->offset == OFF(start_offset) && value && *value) {
            enum kta_start kind;
            long long n;
            if (kta_config_start_offset(value, &kind, &n, errstr, errstr_size) < 0)
                return -1;
        }
        if (check_value(opt, value, errstr, errstr_size) < 0)
            return -1;
        free(*p);
        *p = (value && *value) ? xstrdup(value) : NULL;
        return 0;
    }
    case OPT_STRLIST:
    case OPT_PATHLIST: {
        char ***list = (char ***)(base + opt->offset);
        size_t *n = (size_t *)(base + opt->offset + sizeof(char **));

        if (!value || !*value)
            return kta_err(errstr, errstr_size, "%s: empty name", opt->name);
        if (!append) {
            free_strlist(*list, *n);
            *list = NULL;
            *n = 0;
        }
        /* NULL-terminated as well as counted: some users take it as a
         * NULL-terminated list (kta_corr_event_time). */
        *list = xrealloc(*list, (*n + 2) * sizeof(char *));
        (*list)[(*n)++] = xstrdup(value);
        (*list)[*n] = NULL;
        return 0;
    }
    case OPT_INT:
        if (kta_parse_int(value, opt->min, opt->max, &v) < 0)
            return kta_err(errstr, errstr_size, "%s: '%s' is not a whole number from %lld to %lld",
                           opt->name, value ? value : "", opt->min, opt->max);
        if (opt->size == sizeof(long long))
            *(long long *)(base + opt->offset) = v;
        else
            *(int *)(base + opt->offset) = (int)v;   /* int_fits() checked the limits */
        return 0;
    case OPT_MAP:
        return kta_err(errstr, errstr_size, "%s is a mapping: set one entry with %s.NAME=VALUE, "
                       "or write it as a YAML mapping", opt->name, opt->name);
    case OPT_ENUM: {
        const char *c = opt->choices;
        int idx = 0;
        size_t vlen = value ? strlen(value) : 0;
        while (*c) {
            size_t n = strcspn(c, "|");
            if (n == vlen && strncmp(c, value, n) == 0) {
                *(int *)(base + opt->offset) = idx;
                return 0;
            }
            c += n + (c[n] == '|');
            idx++;
        }
        return kta_err(errstr, errstr_size, "%s: '%s' is not one of %s",
                       opt->name, value ? value : "", opt->choices);
    }
    }
    return -1;
}

/* 1 when an OPT_INT row's field can hold every value its limits allow. */
static int int_fits(const struct option *opt)
{
    if (opt->size == sizeof(long long))
        return 1;
    return opt->size == sizeof(int) && opt->min >= INT_MIN && opt->max <= INT_MAX;
}

struct kta_config *kta_config_new(void)
{
    struct kta_config *cfg = xcalloc(1, sizeof(*cfg));
    char errstr[256];

    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].type == OPT_INT && !int_fits(&options[i]))
            abort();   /* limits wider than the field: a bug in the table */
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].def || options[i].type == OPT_STR_OR_NULL ||   /* maps start empty */
            options[i].type == OPT_PATH_OR_NULL)
            if (set_value(cfg, &options[i], options[i].def, 0, errstr, sizeof(errstr)) < 0)
                abort();   /* a bad default is a bug in the table */
    for (size_t i = 0; i < sizeof(kafka_defaults) / sizeof(kafka_defaults[0]); i++)
        kta_config_set_kafka(cfg, kafka_defaults[i][0], kafka_defaults[i][1], "default");
    return cfg;
}

void kta_config_free(struct kta_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->path);
    free_strlist(cfg->topics, cfg->ntopics);
    free(cfg->output_topic);
    free(cfg->key_field);
    map_free(&cfg->fields);
    map_free(&cfg->topic_by_level);
    free(cfg->dlq_topic);
    free_strlist(cfg->rules_paths, cfg->nrules_paths);
    free_strlist(cfg->corr_time_fields, cfg->ncorr_time_fields);
    free(cfg->corr_topic);
    free(cfg->corr_changelog);
    free(cfg->fieldmap);
    free(cfg->placeholders);
    free(cfg->start_offset);
    free(cfg->metrics_listen);
    for (size_t i = 0; i < cfg->nkafka; i++) {
        free(cfg->kafka[i].key);
        free(cfg->kafka[i].value);
        free(cfg->kafka[i].origin);
    }
    free(cfg->kafka);
    free(cfg);
}

void kta_config_set_kafka(struct kta_config *cfg, const char *key,
                          const char *value, const char *origin)
{
    for (size_t i = 0; i < cfg->nkafka; i++) {
        if (strcmp(cfg->kafka[i].key, key) == 0) {
            free(cfg->kafka[i].value);
            free(cfg->kafka[i].origin);
            cfg->kafka[i].value = xstrdup(value);
            cfg->kafka[i].origin = xstrdup(origin);
            return;
        }
    }
    cfg->kafka = xrealloc(cfg->kafka, (cfg->nkafka + 1) * sizeof(*cfg->kafka));
    cfg->kafka[cfg->nkafka].key = xstrdup(key);
    cfg->kafka[cfg->nkafka].value = xstrdup(value);
    cfg->kafka[cfg->nkafka].origin = xstrdup(origin);
    cfg->nkafka++;
}

const char *kta_config_kafka(const struct kta_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->nkafka; i++)
        if (strcmp(cfg->kafka[i].key, key) == 0)
            return cfg->kafka[i].value;
    return NULL;
}

int kta_config_set(struct kta_config *cfg, const char *key, const char *value,
                   const char *origin, char *errstr, size_t errstr_size)
{
    const struct option *opt = find_option(key);
    const char *mkey;
    int on_key;

    if (opt)
        return set_value(cfg, opt, value, 0, errstr, errstr_size);
    opt = find_map_option(key, &mkey);
    if (opt)
        return set_map_entry(cfg, opt, mkey, value, origin, &on_key, errstr, errstr_size);
    if (!*key)
        return kta_err(errstr, errstr_size, "%s: empty property name", origin);
    kta_config_set_kafka(cfg, key, value, origin);
    return 0;
}

int kta_config_start_offset(const char *text, enum kta_start *kind, long long *value,
                            char *errstr, size_t errstr_size)
{
    *value = 0;
    if (strcmp(text, "beginning") == 0)
        *kind = KTA_START_BEGINNING;
    else if (strcmp(text, "end") == 0)
        *kind = KTA_START_END;
    else if (text[0] == '@' && text[1] >= '0' && text[1] <= '9' &&
             kta_parse_int(text + 1, 0, INT64_MAX, value) == 0)
        *kind = KTA_START_TIME;
    else if (text[0] == '-' && text[1] >= '1' && text[1] <= '9' &&
             kta_parse_int(text + 1, 1, INT64_MAX / 2, value) == 0)
        *kind = KTA_START_TAIL;
    else if (text[0] >= '0' && text[0] <= '9' && kta_parse_int(text, 0, INT64_MAX, value) == 0)
        *kind = KTA_START_OFFSET;
    else
        return kta_err(errstr, errstr_size, "input.start_offset: '%s' is not beginning, end, an "
                       "offset N, -N (N before the end) or @MS (a timestamp in milliseconds)", text);
    return 0;
}

int kta_config_append(struct kta_config *cfg, const char *key, const char *value,
                      char *errstr, size_t errstr_size)
{
    const struct option *opt = find_option(key);

    if (!opt || !is_list(opt))
        return kta_err(errstr, errstr_size, "%s: not a list option", key);
    return set_value(cfg, opt, value, 1, errstr, errstr_size);
}

int kta_config_is_option(const char *name)
{
    const char *key;

    return find_option(name) != NULL || find_map_option(name, &key) != NULL;
}

int kta_config_suggest(const char *name, char *out, size_t out_size)
{
    struct kta_suggest sg;
    char sect[NOPTIONS][64];

    kta_suggest_init(&sg, name);
    for (size_t i = 0; i < NOPTIONS; i++) {
        size_t n = strcspn(options[i].name, ".");

        kta_suggest_add(&sg, options[i].name);
        /* A misspelt section ("outptu:") is closest to "output". */
        sect[i][0] = '\0';
        if (options[i].name[n] == '.' && n < sizeof(sect[i]) && !strchr(name, '.')) {
            memcpy(sect[i], options[i].name, n);
            sect[i][n] = '\0';
            kta_suggest_add(&sg, sect[i]);
        }
    }
    kta_suggest_add(&sg, "kafka");
    if (!sg.best)
        return 0;
    snprintf(out, out_size, "%s", sg.best);
    return 1;
}

int kta_config_is_secret(const char *key)
{
    return strstr(key, "password") || strstr(key, "secret") ||
           strstr(key, "sasl.jaas") || strstr(key, "ssl.key.pem") ||
           strstr(key, "oauthbearer.config");
}

/* ---- kta.yaml ----------------------------------------------------------- */

struct yctx {
    const char   *path;
    yaml_document_t *doc;
    char         *errstr;
    size_t        errstr_size;
    char          resolved[4096];   /* a path option's value, see resolve() */
};

/* A relative file name written in the config file, taken from the file's
 * directory: "rules" in /etc/kta/kta.yaml is /etc/kta/rules, and
 * "rules" in conf/kta.yaml (read from the working directory) is
 * conf/rules.  Absolute names and the file's own directory "." stay as
 * they are.  Returns value or y->resolved. */
static const char *resolve(struct yctx *y, const char *value)
{
    const char *slash = strrchr(y->path, '/');

    if (!value || !*value || value[0] == '/' || !slash)
        return value;
    snprintf(y->resolved, sizeof(y->resolved), "%.*s/%s", (int)(slash - y->path), y->path, value);
    return y->resolved;
}

/* librdkafka properties that name files (TLS, Kerberos), resolved as kta's
 * own path options are; "probe" is a word, not a file. */
static int kafka_is_path(const char *key, const char *value)
{
    size_t n = strlen(key);

    if (strcmp(value, "probe") == 0)
        return 0;
    return (n > 9 && strcmp(key + n - 9, ".location") == 0) ||
           strcmp(key, "sasl.kerberos.keytab") == 0;
}

static int yerr(struct yctx *y, const yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int yerr(struct yctx *y, const yaml_node_t *node, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kta_err(y->errstr, y->errstr_size, "%s:%zu:%zu: %s", y->path,
                   node->start_mark.line + 1, node->start_mark.column + 1, msg);
}

static const char *scalar(const yaml_node_t *node)
{
    return (const char *)node->data.scalar.value;
}

static int is_null_scalar(const yaml_node_t *node)
{
    const char *s = scalar(node);

    return node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
            strcmp(s, "NULL") == 0);
}

static int load_kafka_map(struct kta_config *cfg, struct yctx *y, yaml_node_t *map)
{
    if (map->type != YAML_MAPPING_NODE)
        return yerr(y, map, "kafka: expected a mapping of librdkafka properties");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
        char origin[512];

        if (k->type != YAML_SCALAR_NODE)
            return yerr(y, k, "kafka: property names must be plain strings");
        if (v->type != YAML_SCALAR_NODE)
            return yerr(y, v, "kafka.%s: value must be a scalar", scalar(k));
        snprintf(origin, sizeof(origin), "%s:%zu:%zu", y->path, v->start_mark.line + 1,
                 v->start_mark.column + 1);
        kta_config_set_kafka(cfg, scalar(k), kafka_is_path(scalar(k), scalar(v)) ?
                             resolve(y, scalar(v)) : scalar(v), origin);
    }
    return 0;
}

static int origin_of(char *out, size_t out_size, const struct yctx *y, const yaml_node_t *node)
{
    return snprintf(out, out_size, "%s:%zu:%zu", y->path, node->start_mark.line + 1,
                    node->start_mark.column + 1);
}

/* One entry of a mapping option from the file; errors point at the key or
 * the value, whichever is wrong. */
static int load_map_entry(struct kta_config *cfg, struct yctx *y, const struct option *opt,
                          yaml_node_t *k, const char *key, yaml_node_t *v)
{
    char origin[512], err[512];
    int on_key = 0;

    if (v->type != YAML_SCALAR_NODE || is_null_scalar(v))
        return yerr(y, v, "%s.%s: expected a string value", opt->name, key);
    origin_of(origin, sizeof(origin), y, v);
    if (set_map_entry(cfg, opt, key, scalar(v), origin, &on_key, err, sizeof(err)) < 0)
        return yerr(y, on_key ? k : v, "%s", err);
    return 0;
}

static int load_map_option(struct kta_config *cfg, struct yctx *y, const struct option *opt,
                           yaml_node_t *map)
{
    if (map->type == YAML_SCALAR_NODE && is_null_scalar(map))
        return 0;     /* `fields:` with nothing under it */
    if (map->type != YAML_MAPPING_NODE)
        return yerr(y, map, "%s: expected a mapping (NAME: VALUE lines under it)", opt->name);
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, p->value);

        if (k->type != YAML_SCALAR_NODE)
            return yerr(y, k, "%s: keys must be plain strings", opt->name);
        if (load_map_entry(cfg, y, opt, k, scalar(k), v) < 0)
            return -1;
    }
    return 0;
}

static int load_map(struct kta_config *cfg, struct yctx *y, yaml_node_t *map, const char *prefix)
{
    if (map->type != YAML_MAPPING_NODE)
        return yerr(y, map, "expected a mapping of options");
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(y->doc, p->value);
        const struct option *opt;
        char name[256], err[512];

        if (k->type != YAML_SCALAR_NODE)
            return yerr(y, k, "option names must be plain strings");
        snprintf(name, sizeof(name), "%s%s", prefix, scalar(k));
        if (strcmp(name, "kafka") == 0) {
            if (load_kafka_map(cfg, y, v) < 0)
                return -1;
            continue;
        }
        opt = find_option(name);
        if (opt && opt->type == OPT_MAP) {
            if (load_map_option(cfg, y, opt, v) < 0)
                return -1;
            continue;
        }
        if (!opt) {
            const char *mkey;
            const struct option *mopt = find_map_option(name, &mkey);
            if (mopt) {      /* output.fields.env: prod */
                if (load_map_entry(cfg, y, mopt, k, mkey, v) < 0)
                    return -1;
                continue;
            }
        }
        if (!opt) {
            size_t n = strlen(name);
            int is_section = 0;
            for (size_t i = 0; i < NOPTIONS; i++)
                if (strncmp(options[i].name, name, n) == 0 && options[i].name[n] == '.')
                    is_section = 1;
            if (is_section && v->type == YAML_MAPPING_NODE) {
                char sub[260];
                snprintf(sub, sizeof(sub), "%s.", name);
                if (load_map(cfg, y, v, sub) < 0)
                    return -1;
                continue;
            }
            {
                char best[128];
                if (kta_config_suggest(name, best, sizeof(best)))
                    return yerr(y, k, "unknown option '%s' (did you mean '%s'?)", name, best);
            }
            return yerr(y, k, "unknown option '%s' (see `kta help config`)", name);
        }
        if (is_list(opt) && v->type == YAML_SEQUENCE_NODE) {
            if (v->data.sequence.items.start == v->data.sequence.items.top)
                return yerr(y, v, "%s: the list is empty", name);
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
                yaml_node_t *e = yaml_document_get_node(y->doc, *it);
                if (e->type != YAML_SCALAR_NODE)
                    return yerr(y, e, "%s: list items must be strings", name);
                if (set_value(cfg, opt, is_path(opt) ? resolve(y, scalar(e)) : scalar(e),
                              it != v->data.sequence.items.start, err, sizeof(err)) < 0)
                    return yerr(y, e, "%s", err);
            }
            continue;
        }
        if (v->type != YAML_SCALAR_NODE)
            return yerr(y, v, "%s: expected a single value", name);
        if (set_value(cfg, opt, is_null_scalar(v) ? NULL :
                      is_path(opt) ? resolve(y, scalar(v)) : scalar(v),
                      0, err, sizeof(err)) < 0)
            return yerr(y, v, "%s", err);
    }
    return 0;
}

int kta_config_load(struct kta_config *cfg, const char *path,
                    char *errstr, size_t errstr_size)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct yctx y = { path, &doc, errstr, errstr_size, "" };
    yaml_node_t *root;
    char *data;
    size_t len;
    int rc = -1, have_doc = 0;

    data = kta_read_file(path, 1 << 20, &len, errstr, errstr_size);
    if (!data)
        return -1;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    if (!yaml_parser_load(&parser, &doc)) {
        kta_err(errstr, errstr_size, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "invalid YAML");
        goto out;
    }
    have_doc = 1;
    root = yaml_document_get_root_node(&doc);
    if (!root) {             /* an empty file is an empty configuration */
        rc = 0;
        goto out;
    }
    if (root->type == YAML_SCALAR_NODE && is_null_scalar(root)) {
        rc = 0;
        goto out;
    }
    if (load_map(cfg, &y, root, "") < 0)
        goto out;
    free(cfg->path);
    cfg->path = xstrdup(path);
    rc = 0;
out:
    if (have_doc)
        yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(data);
    return rc;
}

/* ---- output ------------------------------------------------------------- */

static void value_text(const struct kta_config *cfg, const struct option *opt,
                       char *out, size_t out_size)
{
    const char *base = (const char *)cfg;

    switch (opt->type) {
    case OPT_STR:
    case OPT_STR_OR_NULL:
    case OPT_PATH_OR_NULL: {
        const char *s = *(char *const *)(base + opt->offset);
        snprintf(out, out_size, "%s", s ? s : "null");
        break;
    }
    case OPT_STRLIST:
    case OPT_PATHLIST: {
        char *const *list = *(char **const *)(base + opt->offset);
        size_t count = *(const size_t *)(base + opt->offset + sizeof(char **)), n = 0;
        n = (size_t)snprintf(out, out_size, "[");
        for (size_t i = 0; i < count && n < out_size; i++)
            n += (size_t)snprintf(out + n, out_size - n, "%s%s", i ? ", " : "", list[i]);
        if (n < out_size)
            snprintf(out + n, out_size - n, "]");
        break;
    }
    case OPT_INT:
        if (opt->size == sizeof(long long))
            snprintf(out, out_size, "%lld", *(const long long *)(base + opt->offset));
        else
            snprintf(out, out_size, "%d", *(const int *)(base + opt->offset));
        break;
    case OPT_MAP: {
        const struct kta_map *m = (const struct kta_map *)(base + opt->offset);
        snprintf(out, out_size, "%s", m->n ? "(a mapping)" : "{}");
        break;
    }
    case OPT_ENUM: {
        int idx = *(const int *)(base + opt->offset);
        const char *c = opt->choices;
        for (int i = 0; i < idx; i++)
            c += strcspn(c, "|") + 1;
        snprintf(out, out_size, "%.*s", (int)strcspn(c, "|"), c);
        break;
    }
    }
}

/* s as a double-quoted YAML scalar (JSON escapes, which YAML reads). */
static void dump_quoted(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

/* A mapping option as a block mapping, each entry with where it was set. */
static void dump_map(FILE *fp, const struct option *opt, const struct kta_map *m)
{
    if (!m->n) {
        fprintf(fp, "%s: {}\n", opt->name);
        return;
    }
    fprintf(fp, "%s:\n", opt->name);
    for (size_t i = 0; i < m->n; i++) {
        fprintf(fp, "  %s: ", m->items[i].key);
        dump_quoted(fp, m->items[i].value);
        fprintf(fp, "   # %s\n", m->items[i].origin);
    }
}

void kta_config_dump(const struct kta_config *cfg, FILE *fp)
{
    char buf[1024];

    fprintf(fp, "# effective configuration%s%s\n", cfg->path ? " from " : "",
            cfg->path ? cfg->path : "");
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].type == OPT_MAP) {
            dump_map(fp, &options[i], (const struct kta_map *)((const char *)cfg + options[i].offset));
            continue;
        }
        value_text(cfg, &options[i], buf, sizeof(buf));
        fprintf(fp, "%s: %s\n", options[i].name, buf);
    }
    fprintf(fp, "kafka:\n");
    for (size_t i = 0; i < cfg->nkafka; i++)
        fprintf(fp, "  %s: %s   # %s\n", cfg->kafka[i].key,
                kta_config_is_secret(cfg->kafka[i].key) ? "\"***\"" : cfg->kafka[i].value,
                cfg->kafka[i].origin);
}

void kta_config_markdown(FILE *fp)
{
    struct kta_config *cfg = kta_config_new();
    char buf[1024];

    fputs("# kta.yaml reference\n\n"
          "<!-- Generated by `make docs` (kta config --markdown) from the option table in\n"
          "     src/config.c. Do not edit by hand. -->\n\n"
          "`kta run -c kta.yaml` reads a YAML mapping. Options may be written nested\n"
          "(`output: {topic: x}`) or with dotted names (`output.topic: x`). Any option\n"
          "can also be set on the command line with `-X name=value`. An unknown option\n"
          "is an error that names the file, line and column (and the option meant, when\n"
          "one is close).\n\n"
          "Without `-c`, `kta run`, `config`, `eval`, `check` and `produce` read the file\n"
          "that `$KTA_CONFIG` names, or else `/etc/kta/kta.yaml` when it exists; `-c none`\n"
          "(or `KTA_CONFIG=none`) reads none. Relative file names in a kta.yaml\n"
          "(`rules.path`, `rules.fieldmap`, `rules.placeholders` and librdkafka\n"
          "`*.location` properties) are taken from the directory of that file; names on\n"
          "the command line from the working directory. `kta config` prints the result\n"
          "and `kta config --check` validates it without connecting to Kafka.\n\n"
          "| option | default | meaning |\n|---|---|---|\n", fp);
    for (size_t i = 0; i < NOPTIONS; i++) {
        value_text(cfg, &options[i], buf, sizeof(buf));
        fprintf(fp, "| `%s` | `%s` | %s", options[i].name, buf, options[i].doc);
        if (options[i].type == OPT_ENUM) {
            /* A bare '|' would end the Markdown table cell. */
            fputs(" One of:", fp);
            for (const char *c = options[i].choices; *c; c += strcspn(c, "|") + (c[strcspn(c, "|")] == '|'))
                fprintf(fp, "%s `%.*s`", c == options[i].choices ? "" : ",", (int)strcspn(c, "|"), c);
            fputs(".", fp);
        }
        fputs(" |\n", fp);
    }
    fputs("\n## `kafka:` — librdkafka properties\n\n"
          "The `kafka:` mapping is passed verbatim to librdkafka, for the consumer and\n"
          "the producer alike (see librdkafka's CONFIGURATION.md). `-X key=value` on the\n"
          "command line sets one property, as in kcat; `-b` sets `bootstrap.servers`\n"
          "and `-G` sets `group.id`. kta starts from these defaults:\n\n"
          "| property | kta default |\n|---|---|\n", fp);
    for (size_t i = 0; i < sizeof(kafka_defaults) / sizeof(kafka_defaults[0]); i++)
        fprintf(fp, "| `%s` | `%s` |\n", kafka_defaults[i][0], kafka_defaults[i][1]);
    fputs("\nkta always sets `enable.auto.commit=false` on the consumer (it commits only\n"
          "offsets whose hits the broker has acknowledged) and `enable.idempotence=true`\n"
          "on the producer. Unless set, the producer also gets `linger.ms=1` (a hit\n"
          "waits at most 1 ms for a batch; librdkafka's default is 5) and\n"
          "`message.max.bytes=16777216` (a dead letter is the input record unchanged,\n"
          "so the dead-letter topic's own limit should decide), and in exactly-once\n"
          "mode `transaction.timeout.ms=10000`, which must be at most a third of\n"
          "`max.poll.interval.ms` (librdkafka may block a transactional call that long,\n"
          "twice between two polls).\n"
          "Only the eager assignors `range` and `roundrobin` are\n"
          "supported. Properties whose names contain `password`, `secret` or\n"
          "`sasl.jaas` are never printed.\n", fp);
    kta_config_free(cfg);
}

/* roff escapes for man(7) text: a leading dot or quote, and backslashes. */
static void roff(FILE *fp, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", fp);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", fp);
        else if (*s == '`')
            continue;
        else
            fputc(*s, fp);
    }
}

void kta_config_man(FILE *fp)
{
    struct kta_config *cfg = kta_config_new();
    char buf[1024];

    fputs(".\\\" Generated by `make docs` (kta config --man) from src/config.c.\n"
          ".TH KTA.YAML 5 \"\" \"kta " KTA_VERSION "\" \"File Formats\"\n"
          ".SH NAME\nkta.yaml \\- configuration file of kta run\n"
          ".SH DESCRIPTION\n"
          "\\fBkta run -c kta.yaml\\fR reads a YAML mapping. Options may be nested\n"
          "(\\fBoutput: {topic: x}\\fR) or dotted (\\fBoutput.topic: x\\fR), and any option can be\n"
          "set on the command line with \\fB-X\\fR \\fIname\\fR=\\fIvalue\\fR.\n"
          "An unknown option is an error naming the file, line and column.\n"
          ".PP\n"
          "Without \\fB-c\\fR, kta reads the file \\fBKTA_CONFIG\\fR names, or else\n"
          ".I /etc/kta/kta.yaml\n"
          "when it exists; \\fB-c none\\fR reads none.\n"
          "Relative file names in the file (rules.path, rules.fieldmap, rules.placeholders,\n"
          "librdkafka *.location properties) are taken from its directory.\n"
          "\\fBkta config --check\\fR validates a configuration without connecting to Kafka.\n"
          ".SH OPTIONS\n", fp);
    for (size_t i = 0; i < NOPTIONS; i++) {
        value_text(cfg, &options[i], buf, sizeof(buf));
        fprintf(fp, ".TP\n.B %s\n(default \\fB", options[i].name);
        roff(fp, buf);
        fputs("\\fR) ", fp);
        roff(fp, options[i].doc);
        if (options[i].type == OPT_ENUM) {
            fputs(" One of: ", fp);
            roff(fp, options[i].choices);
            fputs(".", fp);
        }
        fputc('\n', fp);
    }
    fputs(".TP\n.B kafka\nA mapping of librdkafka properties, passed verbatim to the consumer and\n"
          "the producer. kta's defaults:", fp);
    for (size_t i = 0; i < sizeof(kafka_defaults) / sizeof(kafka_defaults[0]); i++)
        fprintf(fp, "%s \\fB%s=%s\\fR", i ? "," : "", kafka_defaults[i][0], kafka_defaults[i][1]);
    fputs(".\nProperties whose names contain password, secret or sasl.jaas are never printed.\n"
          ".SH EXAMPLE\n.nf\ninput:\n  topics: [threat-events]\noutput:\n  topic: matched_hits\n"
          "rules:\n  path: /etc/kta/rules\n  on_error: fail\nkafka:\n  bootstrap.servers: broker1:9092\n"
          "  group.id: kta\n.fi\n.SH SEE ALSO\n.BR kta (1),\n.BR kta-rules (7)\n", fp);
    kta_config_free(cfg);
}
