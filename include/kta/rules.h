/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules: YAML rule files (RULES-SPEC v1) -> compiled, immutable ruleset;
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

struct kta_ruleset;
struct kta_rule;
struct kta_eval_ctx;

enum kta_diag_kind { KTA_DIAG_ERROR, KTA_DIAG_WARNING };

/* Receives every load error and warning, one line each, formatted
 * "FILE:LINE:COL: error: [rule ID: ]what is wrong" (or "warning:"). */
typedef void kta_diag_fn(void *opaque, enum kta_diag_kind kind, const char *msg);

struct kta_rules_opts {
    const char  *fieldmap;      /* field map YAML file (RULES-SPEC 3.4), or NULL */
    int          skip_invalid;  /* 1: drop invalid rules (each reported); 0: fail */
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

void kta_ruleset_incref(struct kta_ruleset *rs);
void kta_ruleset_decref(struct kta_ruleset *rs);

size_t kta_ruleset_count(const struct kta_ruleset *rs);
const struct kta_rule *kta_ruleset_rule(const struct kta_ruleset *rs, size_t i);

const char *kta_rule_id(const struct kta_rule *r);
const char *kta_rule_title(const struct kta_rule *r);
/* "informational", "low", "medium", "high" or "critical". */
const char *kta_rule_level(const struct kta_rule *r);
/* JSON array of strings (possibly empty); owned by the rule. */
const json_t *kta_rule_tags(const struct kta_rule *r);
int kta_rule_enabled(const struct kta_rule *r);
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

#endif
