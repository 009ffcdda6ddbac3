/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules: YAML rule files (docs/rules.md) -> compiled, immutable ruleset;
 * ruleset x event -> matching rules, in load order.
 *
 * Loading lives in src/rules_load.c (libyaml), compiling in
 * src/rules_compile.c (PCRE2), matching in src/eval.c.  A compiled ruleset
 * is immutable and reference counted: any number of worker threads may
 * evaluate it at once, each with its own struct kta_eval_ctx, and a reload
 * swaps in a new ruleset while events in flight finish on the old one.
 *
 * Functions borrow their arguments unless they say *takes*; *_new results
 * are freed with *_free; *_free(NULL) and kta_ruleset_decref(NULL) do
 * nothing.
 */
#ifndef KTA_RULES_H
#define KTA_RULES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kta/event.h"

struct kta_ruleset;
struct kta_rule;
struct kta_eval_ctx;

enum kta_diag_kind { KTA_DIAG_ERROR, KTA_DIAG_WARNING };

/* Receives every load error and warning, one line each, formatted
 * "FILE:LINE:COL: error: [rule ID: ]what is wrong" (or "warning:"). */
typedef void kta_diag_fn(void *opaque, enum kta_diag_kind kind, const char *msg);

struct kta_rules_opts {
    const char  *fieldmap;      /* field map YAML file (docs/rules.md §15), or NULL */
    const char  *placeholders;  /* values for the expand modifier's %NAME%
                                 * (a YAML mapping), or NULL */
    int          skip_invalid;  /* 1: drop invalid rules (each reported); 0: fail */
    int          strict;        /* 1: warnings are errors (--strict) */
    kta_diag_fn *diag;          /* may be NULL */
    void        *diag_opaque;
};

struct kta_rules_stats {
    size_t files;     /* rule files read */
    size_t rules;     /* rules in the returned ruleset (when the load
                       * fails: the rules that were valid) */
    size_t enabled;   /* of those, enabled */
    size_t skipped;   /* invalid rules dropped (skip_invalid) */
    size_t errors;    /* errors reported */
    size_t warnings;  /* warnings reported */
    size_t correlations;  /* correlation rules in the returned ruleset */
    /* Log sources (docs/rules.md §21), counted over the rules loaded or
     * dropped for their log source: */
    size_t ls_scoped;     /* scoped by one or more log-source entries */
    size_t ls_unmapped;   /* logsource matched no entry; loaded unscoped */
    size_t ls_skipped;    /* logsource matched no entry; not loaded */
    size_t ls_nomap;      /* carry a logsource, but no log-source map given */
    /* Filters (docs/rules.md, Filters): */
    size_t filters;       /* filter documents loaded (not counted as rules) */
    size_t filter_uses;   /* (filter, rule) pairs applied */
    size_t filtered;      /* rules narrowed by one filter or more */
};

/*
 * Loads every rule under path (a file, or a directory read recursively,
 * *.yml / *.yaml in byte-wise sorted order) and compiles it.
 * Returns a ruleset with one reference, or NULL when any error was found
 * (or, with skip_invalid, when the path itself cannot be read); errstr then
 * holds the first error and opts->diag has received all of them.
 * st may be NULL.
 */
struct kta_ruleset *kta_rules_load(const char *path,
                                   const struct kta_rules_opts *opts,
                                   struct kta_rules_stats *st,
                                   char *errstr, size_t errstr_size);

/*
 * Loads every rule under each of paths[0..npaths), in that order, into
 * one ruleset.  Same contract as kta_rules_load; npaths may be 0 (an
 * empty ruleset).
 */
struct kta_ruleset *kta_rules_load_paths(const char *const *paths, size_t npaths,
                                         const struct kta_rules_opts *opts,
                                         struct kta_rules_stats *st,
                                         char *errstr, size_t errstr_size);

/*
 * The ruleset's version: the first 12 hex digits of a SHA-256 over the
 * content of the field map, the placeholders and every rule file, in load
 * order (not their names or places), so two instances loading the same
 * content report the same version.  kta_ruleset_digest gives all 64.
 */
const char *kta_ruleset_version(const struct kta_ruleset *rs);
const char *kta_ruleset_digest(const struct kta_ruleset *rs);

/*
 * Loads rules from YAML text as if read from a file called name (tests,
 * `kta bench --generate-rules`).  Same contract as kta_rules_load.
 */
struct kta_ruleset *kta_rules_load_string(const char *name, const char *yaml,
                                          size_t len,
                                          const struct kta_rules_opts *opts,
                                          struct kta_rules_stats *st,
                                          char *errstr, size_t errstr_size);

/* Literals in the ruleset's prefilter and rules it cannot rule out for
 * any record ("always candidates"); both 0 when there is no prefilter
 * (Hyperscan unavailable, or no rule has literals). */
void kta_ruleset_prefilter_info(const struct kta_ruleset *rs, size_t *literals,
                                size_t *always);

/* A hash of the names, sizes, inodes and modification times of every rule
 * file under each path, of the field map and of the placeholders file (either
 * may be NULL): it changes when one of them is added, removed, edited or
 * replaced.  Cheap enough to call every second; never fails. */
uint64_t kta_rules_fingerprint(const char *const *paths, size_t npaths, const char *fieldmap,
                               const char *placeholders);

/* What became of a rule's logsource (docs/rules.md §21). */
enum kta_ls_state {
    KTA_LS_NONE,       /* the rule has no logsource: applies to every event */
    KTA_LS_SCOPED,     /* scoped by the log-source map */
    KTA_LS_UNMAPPED,   /* no entry matched; applied to every event (warn, match_all) */
    KTA_LS_SKIPPED,    /* no entry matched; not loaded (skip) */
    KTA_LS_NOMAP,      /* has a logsource, but no log-source map was given */
};

struct kta_logsource_info {
    const char       *id, *file;
    int               line, col;
    const char       *logsource;   /* "product=windows category=process_creation" */
    enum kta_ls_state state;
    size_t            nscope;      /* entries ANDed into its scope */
};

/* Calls fn for every rule with a logsource, loaded or skipped for it, in
 * load order (skipped ones last).  Pointers are valid during the call. */
void kta_ruleset_logsources(const struct kta_ruleset *rs,
                            void (*fn)(void *opaque, const struct kta_logsource_info *li),
                            void *opaque);

void kta_ruleset_incref(struct kta_ruleset *rs);
void kta_ruleset_decref(struct kta_ruleset *rs);

size_t kta_ruleset_count(const struct kta_ruleset *rs);
const struct kta_rule *kta_ruleset_rule(const struct kta_ruleset *rs, size_t i);

const char *kta_rule_id(const struct kta_rule *r);
const char *kta_rule_title(const struct kta_rule *r);
/* The rule's `name` (unique in its ruleset), or NULL when it has none. */
const char *kta_rule_name(const struct kta_rule *r);
/* "informational", "low", "medium", "high" or "critical". */
const char *kta_rule_level(const struct kta_rule *r);
/* JSON array of strings (possibly empty); owned by the rule. */
const json_t *kta_rule_tags(const struct kta_rule *r);
int kta_rule_enabled(const struct kta_rule *r);
/* The rule's logsource as "product=windows category=process_creation"
 * (its scalar keys as written), or NULL when it has none. */
const char *kta_rule_logsource(const struct kta_rule *r);
/* The topic its hits go to (the rule's output_topic key, a legal Kafka
 * topic name), or NULL when it names none. */
const char *kta_rule_output_topic(const struct kta_rule *r);
/* Its place in its ruleset: kta_ruleset_rule(rs, kta_rule_index(r)) == r. */
size_t kta_rule_index(const struct kta_rule *r);
/* The file it was read from and the line of its mapping (1-based). */
const char *kta_rule_file(const struct kta_rule *r);
int kta_rule_line(const struct kta_rule *r);
/* What became of its logsource, and how many log-source entries and
 * filters (docs/rules.md, Filters) narrow it. */
enum kta_ls_state kta_rule_ls_state(const struct kta_rule *r);
size_t kta_rule_nscope(const struct kta_rule *r);
size_t kta_rule_nfilters(const struct kta_rule *r);

/*
 * A rule's test cases: its `tests:` key (docs/rules.md, Writing and
 * testing rules), checked for shape when the rule loads and otherwise
 * left alone by the engine; `kta test` runs them.
 */
enum kta_test_kind {
    KTA_TEST_MATCH,      /* match: EVENT — the detection holds for EVENT */
    KTA_TEST_NO_MATCH,   /* no_match: EVENT — it does not */
    KTA_TEST_EVENTS,     /* events: [EVENT...] and hits: — a correlation's hits */
};

struct kta_rule_test {
    enum kta_test_kind kind;
    char             **events;      /* each event as compact JSON text (one for
                                     * match / no_match) */
    int               *event_lines; /* the line of each in the rule file */
    size_t             nevents;
    size_t             nhits;       /* KTA_TEST_EVENTS: the hits expected */
    json_t            *hits;        /* KTA_TEST_EVENTS given as a list: nhits
                                     * objects, each with "group" (an object)
                                     * and/or "count" (an integer) the hit must
                                     * have; NULL when given as a number */
    int                line, col;   /* the case item */
};

/* A rule's cases, in file order (NULL, *n = 0: none). */
const struct kta_rule_test *kta_rule_tests(const struct kta_rule *r, size_t *n);

/* How a sample value stands in its field. */
enum kta_sample_shape {
    KTA_SAMPLE_EXACT,      /* the whole value */
    KTA_SAMPLE_PREFIX,     /* the value starts with it */
    KTA_SAMPLE_SUFFIX,     /* the value ends with it */
    KTA_SAMPLE_CONTAINS,   /* the value holds it anywhere ("": any text) */
};

/* field is the rule's own name for it (before the field map), or NULL for
 * a keyword (any string value of the event may hold it); value is len
 * bytes, not NUL-terminated in general, valid during the call only. */
typedef void kta_sample_fn(void *opaque, const char *field, const char *value, size_t len,
                           enum kta_sample_shape shape);

/*
 * Literals that make the rule match, for generating events that trigger
 * it: for what the condition needs positively (every operand of an AND,
 * the first operand of an OR that has any, nothing under a NOT), the first
 * mapping of each search that has any, and in it one value per field
 * condition (every value of an `all` one), calls fn(field, value, shape).
 * Caseless values come lowercased.  A condition with no literal form
 * (regular expressions, comparisons, field references, null) gives none;
 * a cidr one gives the network's first address, `exists: true` any text.
 * Returns the number of calls; fn may be NULL to only count them.
 */
size_t kta_rule_samples(const struct kta_rule *r, kta_sample_fn *fn, void *opaque);
/* Every other top-level key of the rule (Sigma metadata such as
 * description, logsource, references; custom keys) as a JSON object,
 * kept but not interpreted; owned by the rule. */
const json_t *kta_rule_meta(const struct kta_rule *r);
/* Regex matches of this rule that hit PCRE2's match or heap limit
 * (the rule then did not match that event).  Any thread. */
uint64_t kta_rule_errors(const struct kta_rule *r);

/* Per-thread scratch space for kta_eval (PCRE2 match data, JIT stack). */
struct kta_eval_ctx *kta_eval_ctx_new(void);
void kta_eval_ctx_free(struct kta_eval_ctx *ctx);
/* Bytes held by ctx's buffers that grow with the record (its text, its
 * values, its strings), not those sized by the ruleset. */
size_t kta_eval_ctx_bytes(const struct kta_eval_ctx *ctx);
/* Between records: frees each such buffer larger than keep bytes
 * (KTA_BUF_KEEP), so a large record does not pin its size; smaller ones
 * stay for the next record. */
void kta_eval_ctx_trim(struct kta_eval_ctx *ctx, size_t keep);

typedef void kta_hit_fn(void *opaque, const struct kta_rule *r);

/*
 * Evaluates every enabled rule against the event (a JSON object) and calls
 * fn once per matching rule, in load order.  Returns the number of hits.
 * Never fails: a regex that hits its limit counts an error for that rule,
 * which then does not match, and evaluation goes on with the next rule.
 * Does not allocate on success paths that only use literals and regexes.
 */
size_t kta_eval(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                const json_t *ev, kta_hit_fn *fn, void *opaque);

/*
 * The worker path on one raw record: decides whether it is a JSON object
 * (docs/rules.md §18) and evaluates it exactly as kta_eval would, but parses it
 * only when the ruleset's literal prefilter finds a rule that could match,
 * and then evaluates only such rules.  Every malformed record is still
 * found: a record is skipped unparsed only when kta_event_check proves it
 * valid.
 * Returns the number of hits, or -1 when the record is malformed; *err and
 * detail then say why, exactly as kta_event_decode (same max_bytes).
 * *evp receives the parsed event, a new reference the caller frees, set
 * before fn is first called; NULL when the record needed no parse.
 * rs may be NULL (no rules: the record is only decoded).
 */
long kta_eval_raw(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx,
                  const void *data, size_t len, size_t max_bytes,
                  kta_hit_fn *fn, void *opaque, json_t **evp,
                  enum kta_event_error *err, char *detail, size_t detail_size);

/* 0: kta_eval_raw parses every record and evaluates every rule (the old
 * path; for comparisons and benchmarks).  Default 1. */
void kta_eval_ctx_prefilter(struct kta_eval_ctx *ctx, int on);

/* What kta_eval_raw did with this context so far. */
struct kta_eval_stats {
    uint64_t events;     /* records seen */
    uint64_t parsed;     /* records parsed with jansson */
    uint64_t unsure;     /* of those, records the cheap check could not vouch for */
    uint64_t malformed;  /* records that were malformed */
    uint64_t rules;      /* rule evaluations (kta_eval included) */
};
void kta_eval_ctx_stats(const struct kta_eval_ctx *ctx, struct kta_eval_stats *st);

/* ---- correlation rules (docs/rules.md "Correlation rules") ------------- */

enum kta_corr_type {
    KTA_CORR_EVENT_COUNT, KTA_CORR_VALUE_COUNT, KTA_CORR_TEMPORAL, KTA_CORR_TEMPORAL_ORDERED,
    KTA_CORR_VALUE_SUM, KTA_CORR_VALUE_AVG,   /* of `field`'s numbers in the window */
    /* Not a correlation rule: a rule's `suppress: {by, for}`, kept among
     * them so that its state (per rule and `by` values) has the same
     * owner, changelog and restore.  id "suppress:<rule id>", refs[0] the
     * rule, group the `by` fields, timespan_ms `for`; after every real
     * correlation (kta_ruleset_ncorr counts both). */
    KTA_CORR_SUPPRESS
};
enum kta_corr_op { KTA_CO_GT, KTA_CO_GTE, KTA_CO_LT, KTA_CO_LTE, KTA_CO_EQ, KTA_CO_NEQ };

/* One entry of `rules:`: a base rule or another correlation. */
struct kta_corr_ref {
    int    is_corr;     /* index is into the correlations, else the rules */
    size_t index;
};

/*
 * A loaded correlation rule.  Read-only once loaded; owned by the ruleset.
 * Correlations are kept apart from the rules, so the per-event evaluator
 * never sees them; correlate.c applies them to the base rules' matches.
 */
struct kta_corrdef {
    char                *id, *title, *name;   /* name may be NULL */
    const char          *level;               /* static string */
    json_t              *tags;                /* array of strings */
    enum kta_corr_type   type;
    struct kta_corr_ref *refs;
    size_t               nrefs;
    char               **group;               /* group-by names (after aliases) */
    size_t               ngroup;
    /* field_of[g * nrefs + k]: the field that gives group g for the events
     * of refs[k] (an alias), else group[g] itself. */
    char               **field_of;
    char                *field;               /* value_count, _sum, _avg: the field */
    int64_t              timespan_ms;
    enum kta_corr_op     ops[2];
    double               vals[2];
    size_t               nops;                /* 0: temporal without condition */
    int                  upper;               /* an lt/lte: decided when a window closes */
    int                  generate;            /* its base rules also produce hits */
    size_t               index;               /* its place among the correlations */
    char                *file;
    int                  line, col;
    struct kta_rule_test *tests;              /* its `tests:` cases */
    size_t               ntests;
};

size_t kta_ruleset_ncorr(const struct kta_ruleset *rs);
const struct kta_corrdef *kta_ruleset_corr(const struct kta_ruleset *rs, size_t i);
/* The correlations that refer to rule i directly (NULL, *n = 0: none). */
const size_t *kta_ruleset_rule_corrs(const struct kta_ruleset *rs, size_t i, size_t *n);
/* The correlations that refer to correlation i directly. */
const size_t *kta_ruleset_corr_corrs(const struct kta_ruleset *rs, size_t i, size_t *n);
/* The suppression (a KTA_CORR_SUPPRESS correlation's index) of rule i, or
 * (size_t)-1 when it has no `suppress`: its hits then go through that
 * state instead of straight out. */
size_t kta_ruleset_rule_suppress(const struct kta_ruleset *rs, size_t i);
/* The correlation rules proper, without the suppressions. */
size_t kta_ruleset_ncorr_rules(const struct kta_ruleset *rs);
/* 1 when rule i produces hits of its own: referenced by no correlation, or
 * it or one of its correlations says `generate: true`. */
int kta_ruleset_rule_generates(const struct kta_ruleset *rs, size_t i);

#endif
