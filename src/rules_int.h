/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_int: the private structures the three halves of the rules engine
 * share — rules_load.c builds a YAML node tree (every node keeps its
 * line:col) and the rule's metadata, rules_compile.c turns a rule's
 * `detection` into searches, matchers and a condition tree, and eval.c
 * walks those against events.  Nothing outside the rules engine (and its
 * unit tests) includes this header.
 *
 * Ownership: a compiled struct kta_rule owns everything hanging off it;
 * the ruleset owns its rules.  The YAML tree is freed once a file has been
 * compiled; compiled structures never point into it.
 */
#ifndef KTA_RULES_INT_H
#define KTA_RULES_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include "kta/rules.h"
#include "kta/util.h"

#include <pcre2.h>
#include <stdarg.h>
#include <stdatomic.h>

/* Limits from docs/rules.md §1. */
#define KTA_RULES_MAX_FILE   (4u * 1024 * 1024)
#define KTA_RULES_MAX_DEPTH  64

/* PCRE2 limits per match, so that a pathological regex against a hostile
 * event costs bounded time and memory instead of stalling a worker. */
#define KTA_RE_MATCH_LIMIT   1000000u
#define KTA_RE_DEPTH_LIMIT   10000u
#define KTA_RE_HEAP_LIMIT    (20u * 1024)   /* KiB */

/* ---- YAML node tree (rules_load.c) ------------------------------------- */

enum kta_ynode_kind { KTA_YNODE_SCALAR, KTA_YNODE_SEQ, KTA_YNODE_MAP };

/* How a scalar resolves under the YAML 1.2 core schema.  Only plain
 * (unquoted, untagged) scalars can be anything but a string. */
enum kta_ytype { KTA_YT_STR, KTA_YT_NULL, KTA_YT_BOOL, KTA_YT_INT, KTA_YT_FLOAT };

struct kta_ynode {
    enum kta_ynode_kind kind;
    int                 line, col;   /* 1-based start of the node */
    /* scalars */
    char               *str;         /* NUL-terminated (may hold NULs) */
    size_t              len;
    enum kta_ytype      type;
    int                 plain;       /* plain style: offsets map 1:1 to columns */
    int                 quoted;      /* single or double quoted */
    int                 dquoted;     /* double quoted: YAML escapes were applied */
    long long           ival;        /* KTA_YT_INT (when it fits) */
    double              dval;        /* KTA_YT_INT, KTA_YT_FLOAT */
    int                 bval;        /* KTA_YT_BOOL */
    /* sequences: items[i]; mappings: items[2i] key, items[2i+1] value */
    struct kta_ynode  **items;
    size_t              n, cap;
};

/* Number of entries of a mapping / items of a sequence. */
#define KTA_YMAP_LEN(m) ((m)->n / 2)

void kta_ynode_free(struct kta_ynode *node);
/* Value of key in a mapping, or NULL. */
const struct kta_ynode *kta_ynode_get(const struct kta_ynode *map, const char *key);

struct kta_rules_diag;
/* Parses YAML text as the loader does (same limits, same refusals, every
 * problem reported through d as file:line:col) into its well-formed
 * documents: *docs[0..*ndocs), each freed with kta_ynode_free, the array
 * with free.  Used by src/lint.c to look at what the loader read. */
void kta_yaml_parse(struct kta_rules_diag *d, const char *file, const char *text, size_t len,
                    struct kta_ynode ***docs, size_t *ndocs);

/* ---- diagnostics ------------------------------------------------------- */

/* Collects diagnostics for one load: hands each to opts->diag, counts
 * them, and keeps the first error for errstr. */
struct kta_rules_diag {
    const struct kta_rules_opts *opts;
    struct kta_rules_stats      *st;
    char                        *errstr;
    size_t                       errstr_size;
    int                          have_first;
    struct kta_digest           *digest;   /* content of every file read, or NULL */
};

/* Reports "FILE:LINE:COL: error: rule ID: MSG" (rule_id may be NULL). */
void kta_rules_report(struct kta_rules_diag *d, enum kta_diag_kind kind,
                      const char *file, int line, int col, const char *rule_id,
                      const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* ---- field map (docs/rules.md §15) ---------------------------------------- */

struct kta_fieldmap_entry {
    char   *name;
    char  **paths;
    size_t  npaths;
};

/* ---- log sources (docs/rules.md §21) ---------------------------------------- */

enum kta_unmapped { KTA_UNMAPPED_SKIP, KTA_UNMAPPED_WARN, KTA_UNMAPPED_MATCH_ALL };

struct kta_rule;

/* One `logsources:` entry: it applies to a rule when every match key
 * equals the rule's logsource value (ASCII case-insensitive); its where
 * is compiled like a rule (no field map) and owned here until the
 * ruleset takes it. */
struct kta_lsentry {
    char           **keys, **vals;
    size_t           nkeys;
    struct kta_rule *where;       /* NULL: no condition */
    size_t           scope;       /* index into the ruleset's scopes */
    int              line, col;
};

struct kta_fieldmap {
    struct kta_fieldmap_entry *entries;
    size_t                     nentries;
    char                     **star;      /* "*" templates, "{}" = field name */
    size_t                     nstar;
    /* version 2 */
    int                        has_logsources;
    struct kta_lsentry        *ls;
    size_t                     nls;
    size_t                     nscopes;   /* entries with a where */
    enum kta_unmapped          unmapped;
};

void kta_fieldmap_free(struct kta_fieldmap *fm);

/* ---- placeholders (the expand modifier) -------------------------------- */

/* Most values one rule value may expand into (placeholders with several
 * values multiply), so a typo in a placeholders file cannot make a rule
 * compile for minutes. */
#define KTA_RULES_MAX_EXPANSIONS 4096

struct kta_placeholder {
    char   *name;
    char  **values;     /* NUL-free rule-value text, wildcards and all */
    size_t  nvalues;    /* >= 1 */
};

struct kta_placeholders {
    struct kta_placeholder *entries;
    size_t                  n;
};

void kta_placeholders_free(struct kta_placeholders *ph);

/* ---- compiled rules (rules_compile.c, eval.c) -------------------------- */

/* A field path, kept whole (for the flat-key lookup) and split on '.'. */
struct kta_fpath {
    char   *full;
    size_t  len;
    size_t  nseg;
    size_t *seg_off;
    size_t *seg_len;
    uint32_t id;       /* the ruleset's number for this path (eval.c) */
};

enum kta_mkind {
    KTA_M_NULL,       /* field missing or JSON null */
    KTA_M_PATTERN,    /* wildcard / literal string match */
    KTA_M_REGEX,      /* re modifier: unanchored search */
    KTA_M_EXISTS,
    KTA_M_CMP,
    KTA_M_CIDR,
    KTA_M_FIELDREF
};

/* Shape of a pattern that needs no regex engine (wildcards only at ends). */
enum kta_ptype {
    KTA_P_EXACT, KTA_P_PREFIX, KTA_P_SUFFIX, KTA_P_CONTAINS, KTA_P_ANY,
    KTA_P_REGEX   /* wildcards inside: only the compiled regex can tell */
};

enum kta_cmp { KTA_CMP_GT, KTA_CMP_GTE, KTA_CMP_LT, KTA_CMP_LTE };

/* One rule value, compiled. */
struct kta_matcher {
    enum kta_mkind   kind;
    /* KTA_M_PATTERN */
    enum kta_ptype   ptype;
    char            *lit;        /* literal part; ASCII-lowercased unless cased */
    size_t           litlen;
    int              lit_ascii;  /* literal is pure ASCII: fast path usable */
    int              cased;
    int              is_num;     /* plain number: numeric equality vs numbers */
    int              is_int;
    long long        ival;
    double           num;
    /* KTA_M_PATTERN (fallback/wildcards), KTA_M_REGEX */
    pcre2_code      *re;
    /* KTA_M_EXISTS */
    int              exists;
    /* KTA_M_CMP */
    enum kta_cmp     op;
    /* KTA_M_CIDR */
    int              family;     /* 4 or 6 */
    unsigned char    net[16];
    int              prefix;
    /* KTA_M_FIELDREF */
    struct kta_fpath *ref;
    size_t           nref;
    /* Prefilter (prefilter.c): the subject text of any match contains one
     * of need[0..nneed) (ASCII, lowercased; caseless is fine for cased
     * values too).  nneed == 0: nothing provable, always a candidate. */
    char            *need[3];
    size_t           needlen[3];
    int              nneed;
    /* Needs a non-ASCII character that no ASCII text matches, even
     * caselessly: never holds on a pure-ASCII record. */
    int              need_never;
    /* KTA_P_REGEX from wildcards: one text the pattern matches, with the
     * shape of its ends (kta_rule_samples); NULL otherwise. */
    char            *sample;
    enum kta_ptype   sample_shape;
};

/* One `FIELD|mods: values` entry, or a keyword search (field-less). */
struct kta_fcond {
    int                 keyword;    /* match string values anywhere */
    char               *field;      /* the rule's field name (before the
                                     * field map); NULL for keywords */
    struct kta_fpath   *paths;      /* after the field map; any may match */
    size_t              npaths;
    int                 all;        /* values ANDed instead of ORed */
    struct kta_matcher *vals;
    size_t              nvals;
    size_t              nnull;      /* values that are null */
    int                 special;    /* exists/fieldref: judged per field, not
                                     * per candidate (kept here so a missing
                                     * field never touches vals) */
};

/* A mapping of field conditions (AND). */
struct kta_fmap {
    struct kta_fcond *conds;
    size_t            nconds;
};

/* A search identifier: OR of mappings (a keyword list is one mapping with
 * one keyword condition). */
struct kta_search {
    char            *name;
    struct kta_fmap *maps;
    size_t           nmaps;
};

enum kta_cop { KTA_C_OR, KTA_C_AND, KTA_C_NOT, KTA_C_REF };

struct kta_cnode {
    enum kta_cop       op;
    size_t             ref;     /* KTA_C_REF: index into rule->searches */
    struct kta_cnode **kids;    /* OR/AND: n kids; NOT: one */
    size_t             nkids;
};

struct kta_rule {
    char              *id;
    char              *title;
    char              *name;     /* the rule's `name`, or NULL */
    int                name_line, name_col;
    const char        *level;    /* static string */
    json_t            *tags;     /* array of strings */
    json_t            *meta;     /* every other top-level key, as JSON */
    char              *output_topic;     /* the rule's output_topic, or NULL */
    size_t             index;            /* its place in the ruleset */
    int                enabled;
    char              *file;
    int                line, col;        /* the rule mapping */
    int                id_line, id_col;  /* its id value */
    size_t             seq;              /* load order (duplicate check) */
    int                dup;              /* a later duplicate, to be dropped */
    struct kta_search *searches;
    size_t             nsearches;
    struct kta_cnode  *cond;
    /* Log-source scope: the rule holds only when every scopes[i] of the
     * ruleset holds too (AND of the matching entries' where). */
    size_t            *scope;
    size_t             nscope;
    /* Of those, the last nfilters are filters (docs/rules.md, Filters):
     * compiled filter conditions kept as scopes, so that eval.c and the
     * prefilter treat them like log-source wheres (they only narrow). */
    size_t             nfilters;
    char              *logsource;        /* "product=windows category=..." or NULL */
    enum kta_ls_state  ls_state;
    /* suppress: {by, for} (docs/rules.md, Suppression); sup_for_ms 0: none */
    char             **sup_by;
    size_t             nsup_by;
    int64_t            sup_for_ms;
    struct kta_rule_test *tests;         /* its `tests:` cases (rules_load.c) */
    size_t             ntests;
    atomic_uint_fast64_t errors;
};

struct kta_prefilter;

/* What eval.c looks at for every candidate before touching the rule
 * itself, packed densely so that skipping a rule costs no cache miss. */
#define KTA_HOT_SCOPES 3
struct kta_rule_hot {
    uint16_t scope[KTA_HOT_SCOPES];   /* the first scopes, when they fit */
    uint8_t  nscope;                  /* 255: more, or a number too big: see the rule */
    uint8_t  enabled;
};

struct kta_ruleset {
    atomic_int        refs;
    struct kta_rule **rules;
    size_t            nrules;
    struct kta_rule_hot *hot;        /* per rule, load order */
    struct kta_rule **scopes;        /* compiled log-source wheres */
    size_t            nscopes;
    struct kta_logsource_info *skipped;   /* rules not loaded: unmapped skip */
    size_t            nskipped;
    size_t            max_searches;  /* sizes the per-ctx memo */
    struct kta_prefilter *pf;        /* NULL: every rule is always a candidate */
    struct kta_pathtab   *paths;     /* every field path, numbered (eval.c) */
    /* correlation rules (rules_load.c load_correlation / resolve) */
    struct kta_corrdef  **corrs;
    size_t                ncorrs;
    size_t              **rule_corrs, *nrule_corrs;   /* per rule */
    size_t              **corr_corrs, *ncorr_corrs;   /* per correlation */
    unsigned char        *rule_gen;                   /* per rule */
    size_t               *rule_sup;                   /* per rule: 1 + its suppression's
                                                       * correlation index; 0: none */
    char                  digest[65];    /* SHA-256 of the content loaded, hex */
    char                  version[13];   /* its first 12 digits: the version */
};

/* ---- prefilter (prefilter.c, Hyperscan) -------------------------------- */

/*
 * Derives, for each enabled rule, literals at least one of which occurs
 * (ASCII-caseless) in the raw bytes of every event the rule matches, as
 * long as the record passes kta_event_check's PLAIN tests; rules
 * where nothing is provable are "always candidates".  Compiles them into
 * one Hyperscan literal database.  Returns NULL (and logs why) when
 * Hyperscan cannot run here or no rule has literals: callers then evaluate
 * every rule.  Borrows rules, which must outlive the result.
 */
struct kta_prefilter *kta_prefilter_new(struct kta_rule *const *rules, size_t nrules,
                                        size_t npaths, int by_view);
void kta_prefilter_free(struct kta_prefilter *pf);

/* Words of the candidate bitmap (one bit per rule, load order). */
size_t kta_prefilter_words(const struct kta_prefilter *pf);
/* Rules that are always candidates / have literals. */
size_t kta_prefilter_always(const struct kta_prefilter *pf);
size_t kta_prefilter_literals(const struct kta_prefilter *pf);

/* Per-thread scan state; *scratch starts NULL and is grown for each
 * prefilter it is used with.  Thread: the owner of *scratch only. */
struct kta_prefilter_scratch;
void kta_prefilter_scratch_free(struct kta_prefilter_scratch *sc);

/*
 * Scans raw record bytes once and writes the candidate rules into cand
 * (kta_prefilter_words words); nonascii: the check said
 * KTA_EVENT_PLAIN_UTF8.  Returns 0 when no rule can match the
 * record, 1 otherwise.  Never fails: if the scan itself fails every rule
 * is marked.
 */
size_t kta_prefilter_scan(const struct kta_prefilter *pf, struct kta_prefilter_scratch **sc,
                          const void *data, size_t len, int nonascii,
                          const uint32_t *present, size_t npresent, uint64_t *cand);

/* ---- field paths (eval.c) ---------------------------------------------- */

/* Numbers every field path of the rules and scopes (kta_fpath.id) so that
 * a record's values can be indexed by path once per event.  Called by
 * kta_ruleset_new; never fails. */
struct kta_pathtab *kta_pathtab_new(struct kta_rule *const *rules, size_t nrules,
                                    struct kta_rule *const *scopes, size_t nscopes);
size_t kta_pathtab_count(const struct kta_pathtab *pt);
void kta_pathtab_free(struct kta_pathtab *pt);

/* Where compile errors go, what the field map and the placeholders are
 * (either may be NULL). */
struct kta_compile_env {
    struct kta_rules_diag         *diag;
    const struct kta_fieldmap     *fm;
    const struct kta_placeholders *ph;
    const char                    *file;
};

/*
 * Compiles det (the `detection` mapping) into r->searches and r->cond.
 * Every problem is reported through env->diag with r->id.
 * Returns the number of errors found (0: the rule is usable).
 */
int kta_rules_compile_detection(struct kta_rule *r, const struct kta_ynode *det,
                                const struct kta_compile_env *env);

void kta_rule_free(struct kta_rule *r);
void kta_corrdef_free(struct kta_corrdef *c);
/* Frees the n cases of a `tests:` key (rules_load.c parse_tests). */
void kta_rule_tests_free(struct kta_rule_test *t, size_t n);

/*
 * The rule that ref names among rules[0..nrules): the one whose id equals
 * ref, else the one whose name does (ids win, so a name can never hide
 * an id).  Byte-wise, case-sensitive.  Returns NULL when none does.
 * Used by filters and correlations to resolve their `rules:` lists.
 */
struct kta_rule *kta_rules_find_ref(struct kta_rule *const *rules, size_t nrules,
                                    const char *ref);

/* Takes the rules and scopes arrays (and what they hold).  Never fails. */
struct kta_ruleset *kta_ruleset_new(struct kta_rule **rules, size_t nrules,
                                    struct kta_rule **scopes, size_t nscopes);


/* Parses a string that is entirely a decimal number ("-12.5", "1e3";
 * no spaces, hex, inf or nan).  Returns 0 or -1. */
int kta_rules_parse_decimal(const char *s, size_t len, double *out);

/* Shortest text that reads back as d ("1.5", "1e+22", "2.0"), like
 * Python's repr, so numbers compare as the text people wrote. */
void kta_rules_fmt_double(double d, char *out, size_t out_size);

#endif
