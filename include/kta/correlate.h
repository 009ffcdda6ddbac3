/* SPDX-License-Identifier: Apache-2.0 */
/*
 * correlate: Sigma correlation rules (docs/rules.md "Correlation rules")
 * applied to the matches of their base rules, in two steps that may run
 * in different places:
 *
 *  (a) keying, kta_corr_key: where a base rule matched (a worker, or
 *      kta eval's evaluators), turn (rule, event, time, source) into one
 *      self-contained *correlation input* per correlation that refers to
 *      the rule: a JSON line carrying the correlation, the group values
 *      after aliases, the event time, the counted value and the source.
 *      It is meant to travel (e.g. through a topic keyed by kta_corr
 *      input's "k" member) to the one owner of its group.  Pure function
 *      of its arguments; any thread.
 *  (b) owning, struct kta_corr: applies inputs to per-group sliding
 *      windows and emits correlation hits (and feeds them on to the
 *      correlations that refer to correlations).  One thread owns a
 *      struct kta_corr; it takes no locks.
 *
 * Suppression (`suppress: {by, for}` on a rule) rides on the same two
 * steps and the same state: the rule's hit is keyed by its `by` values
 * (kta_corr_key_suppress), and the owner lets it through (a
 * KTA_CORR_SUPPRESS "hit" carrying it) or holds it back and counts it.
 *
 * Never touches Kafka or YAML, never prints; callers encode hits
 * (hit.c kta_hit_encode_correlation) and report.
 */
#ifndef KTA_CORRELATE_H
#define KTA_CORRELATE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "kta/hit.h"
#include "kta/rules.h"
#include "kta/util.h"

/* Default event-time fields, first present wins. */
extern const char *const kta_corr_default_time_fields[];

struct kta_corr_opts {
    size_t  max_groups;    /* 0: 100000 */
    size_t  max_events;    /* per group; 0: 10000 */
    size_t  max_sources;   /* sources listed per hit; 0: 10 */
    int64_t grace_ms;      /* late when older than newest - grace; <0: 0 */
    int     remote_chains; /* 1: a hit is not applied to the correlations that refer to
                            * it here; the caller sends kta_corr_key_hit's inputs to
                            * their owners (kta run) */
};

/*
 * The event time in ms since the epoch: the first of fields (NULL: the
 * defaults) present in ev as an RFC 3339 string or an epoch number
 * (seconds, or milliseconds when above 1e11); else record_ts (>= 0);
 * else -1.
 */
int64_t kta_corr_event_time(const json_t *ev, const char *const *fields, int64_t record_ts);

/*
 * Keying step: appends one correlation input line ("...\n") to out for
 * every correlation that refers to rule (a ruleset index) directly.
 * Returns the number of lines appended.
 */
size_t kta_corr_key(const struct kta_ruleset *rs, size_t rule, const json_t *ev, int64_t t_ms,
                    const struct kta_hit_source *src, struct kta_buf *out);

/*
 * Keying step for a rule with `suppress` (kta_ruleset_rule_suppress):
 * appends the one input line that carries its hit (hit, the encoded hit
 * JSON; key, the hit record's key or NULL) to the owner of the rule's
 * `by` values, which lets it through or holds it back.  Returns 1, or 0
 * when the rule has no suppression.  Pure.
 */
size_t kta_corr_key_suppress(const struct kta_ruleset *rs, size_t rule, const json_t *ev,
                             int64_t t_ms, const struct kta_hit_source *src, const char *hit,
                             size_t hitlen, const char *key, size_t keylen, struct kta_buf *out);

/* A correlation hit, valid during the callback only. */
struct kta_corr_hit;
/*
 * Keying step for chains: appends one correlation input line to out for
 * every correlation that refers to h's correlation (h as one of its
 * events, at h's last time, with h's group values by name); marked
 * derived, so that lateness, already judged for the events that made h,
 * is not judged again.  Returns the number of lines appended.  Pure.
 */
size_t kta_corr_key_hit(const struct kta_ruleset *rs, const struct kta_corr_hit *h,
                        struct kta_buf *out);

struct kta_corr_hit {
    const struct kta_corrdef *c;
    const json_t             *group;     /* object: group-by name -> value */
    uint64_t                  count;     /* events, or distinct values */
    double                    value;     /* value_sum, value_avg: the sum or average */
    const json_t             *values;    /* value_count: the distinct values; else NULL */
    int64_t                   first_ms, last_ms;   /* -1: no time */
    const json_t             *sources;   /* up to max_sources sources, in time order */
    uint64_t                  nsources;  /* all of them */
    const json_t             *source;    /* the event that completed it (or closed it) */
    /* c->type KTA_CORR_SUPPRESS: not a correlation hit but the rule's own
     * hit let through (hit, hitlen: its JSON; hkey: its record key or
     * NULL), count the hits of its group held back since the last one. */
    const char               *hit, *hkey;
    size_t                    hitlen, hklen;
};
typedef void kta_corr_hit_fn(void *opaque, const struct kta_corr_hit *h);

struct kta_corr_stats {
    uint64_t groups;     /* groups held now */
    uint64_t events;     /* inputs applied */
    uint64_t late;       /* left out as late */
    uint64_t quiet;      /* left out while the group was quiet after a hit */
    uint64_t evicted;    /* groups evicted at max_groups */
    uint64_t dropped;    /* oldest events dropped at max_events */
    uint64_t hits;       /* correlation hits emitted */
    uint64_t bad;        /* inputs / changelog records that did not decode */
    uint64_t notime;     /* inputs without an event time */
    uint64_t replayed;   /* inputs skipped: seq not above their group's */
    uint64_t suppressed; /* hits of rules with `suppress` held back */
};

struct kta_corr;
/* Borrows rs, which must outlive the result. */
struct kta_corr *kta_corr_new(const struct kta_ruleset *rs, const struct kta_corr_opts *opts);
void kta_corr_free(struct kta_corr *cs);
/* Applies one input line (without or with its '\n').  Returns 0, or -1
 * when it does not decode (counted as bad). */
int kta_corr_apply(struct kta_corr *cs, const char *input, size_t len,
                   kta_corr_hit_fn *fn, void *opaque);
/*
 * kta_corr_apply with a sequence number seq >= 0 (e.g. the repartition
 * record's offset; increasing per struct kta_corr), remembered in the
 * state of the group the input lands in.  An input whose seq is <= the
 * one recorded for its group is skipped and counted as replayed, so that
 * inputs read again after a crash on top of a restored changelog do not
 * count twice.  seq -1: no check (kta_corr_apply).  Only the group the
 * input names is checked: one that was evicted (or never written to the
 * changelog) applies it again.
 */
int kta_corr_apply_seq(struct kta_corr *cs, const char *input, size_t len, int64_t seq,
                       kta_corr_hit_fn *fn, void *opaque);
/*
 * Changelog (for a compacted topic).  kta_corr_changes calls fn once for
 * each key changed since the previous call, in the order of their first
 * change, with the key's whole state as compact JSON, or value NULL,
 * vlen 0 (a tombstone) when it is gone.  Keys:
 *   ["<correlation id>",[<group values>]]   a group; value
 *       {"v":1,"c":id,"g":[values],"q":quiet until|null,"l":newest time|null,
 *        "n":newest seq|-1,"e":[[t,ref,value|null,source],...]}
 *       and for a suppression ("suppress:<rule id>") also
 *       "p":time of the last hit let through|null, "h":hits held back since
 *   {"src":"t:<topic>:<partition>" | "f:<file>"}   the newest event time
 *       seen from that source (lateness); value {"v":1,"newest":t}
 * "v" is the format version; kta_corr_restore refuses any other.
 * Tracked in a dirty list: no scan of all groups.  fn must not call back
 * into cs.
 */
typedef void kta_corr_change_fn(void *opaque, const char *key, size_t klen,
                                const char *value, size_t vlen);
void kta_corr_changes(struct kta_corr *cs, kta_corr_change_fn *fn, void *opaque);
/*
 * Applies one changelog record (value NULL: remove the key), for each
 * record of the changelog in order, before any kta_corr_apply_seq; a
 * later record of a key replaces an earlier one.  Returns 0, or -1
 * (counted as bad, nothing changed) when it does not decode, has another
 * format version or names a correlation the ruleset does not have.
 * Restored state is not reported by the next kta_corr_changes; max_groups
 * and max_events apply (a group evicted here is reported as a tombstone).
 */
int kta_corr_restore(struct kta_corr *cs, const char *key, size_t klen, const char *value,
                     size_t vlen);
/*
 * A stream has no end: closes the lt/lte windows that ended before the
 * newest event time seen from any source minus the grace, and decides
 * their conditions now.  No later input of that source can fall into them
 * (it would be late); one of a source further behind may, and then starts
 * a new window, as an event after a closed window does.  Cheap when no
 * window has ended (a bound on the earliest end is kept), O(groups) when
 * one has: call it after each input.  Returns that time, or -1 when no
 * input had a time yet.
 */
int64_t kta_corr_close_passed(struct kta_corr *cs, kta_corr_hit_fn *fn, void *opaque);
/* End of input: closes every open window (lt/lte decided now). */
void kta_corr_flush(struct kta_corr *cs, kta_corr_hit_fn *fn, void *opaque);
void kta_corr_get_stats(const struct kta_corr *cs, struct kta_corr_stats *st);

#endif
