/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lint: warnings about rules that load but are probably wrong, each with a
 * stable name (docs/rules.md, "Lint warnings"): matches-everything,
 * unused-search, never-matches, cased-without-letters, duplicate-title,
 * unsatisfiable-scope.  It sits after the loader: it reads a compiled
 * ruleset (rules_int.h) and the rule files' YAML trees again (for how each
 * value was written, which compiling forgets), and reports through the
 * load's diagnostics so that --strict promotes its warnings like the
 * loader's.
 *
 * It owns no state beyond one call.  Main thread only (kta check).  It never
 * changes the ruleset it is given, never reads events and never talks to
 * Kafka; the only event it evaluates is the empty object, through eval.c.
 */
#include "kta/lint.h"
#include "rules_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lint {
    const struct kta_ruleset *rs;
    struct kta_rules_diag     d;
    char                      errbuf[1024];
    struct kta_ruleset       *bare;        /* the same rules without the field map */
    unsigned char            *everything;  /* per bare rule: matched {} */
    size_t                    found;
};

static void warn(struct lint *l, const char *file, int line, int col, const char *id,
                 const char *name, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void warn(struct lint *l, const char *file, int line, int col, const char *id,
                 const char *name, const char *fmt, ...)
{
    char what[900];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    kta_rules_report(&l->d, KTA_DIAG_WARNING, file, line, col, id, "%s [%s]", what, name);
    l->found++;
}

/* ---- matches-everything: the production evaluator on {} ---------------- */

static void on_empty_hit(void *opaque, const struct kta_rule *r)
{
    struct lint *l = opaque;

    l->everything[r->index] = 1;
}

/* Loads the rules again without the field map, so that no log-source scope
 * stands between a condition and the empty event (filters still apply: they
 * are part of what the rule means), and evaluates them on {}. */
static void eval_empty(struct lint *l, const char *const *paths, size_t npaths,
                       const struct kta_rules_opts *opts)
{
    struct kta_rules_opts bo = *opts;
    struct kta_rules_stats bst = { 0 };
    struct kta_eval_ctx *ctx;
    json_t *empty;
    char err[256];

    bo.fieldmap = NULL;
    bo.diag = NULL;
    bo.strict = 0;
    bo.skip_invalid = 1;
    l->bare = kta_rules_load_paths(paths, npaths, &bo, &bst, err, sizeof(err));
    if (!l->bare)
        return;
    l->everything = xcalloc(l->bare->nrules + 1, 1);
    ctx = kta_eval_ctx_new();
    empty = json_object();
    kta_eval(l->bare, ctx, empty, on_empty_hit, l);
    json_decref(empty);
    kta_eval_ctx_free(ctx);
}

/* ---- per rule, from its YAML ------------------------------------------- */

static void mark_used(const struct kta_cnode *c, unsigned char *used, size_t n)
{
    if (!c)
        return;
    if (c->op == KTA_C_REF) {
        if (c->ref < n)
            used[c->ref] = 1;
        return;
    }
    for (size_t i = 0; i < c->nkids; i++)
        mark_used(c->kids[i], used, n);
}

/* Sigma's escapes in a value: "\\" is a backslash, "\*" and "\?" literal
 * wildcards.  1 when the value holds an escaped wildcard. */
static int escaped_wildcard(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == '*' || s[i + 1] == '?')
            return 1;
        if (s[i + 1] == '\\')
            i++;
    }
    return 0;
}

static int has_letter(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (isalpha((unsigned char)s[i]) || (unsigned char)s[i] >= 0x80)
            return 1;   /* non-ASCII: may well have a case */
    return 0;
}

struct mods {
    int re, cased;
};

static void lint_value(struct lint *l, const char *file, const char *id,
                       const struct kta_ynode *v, const struct mods *m)
{
    if (v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_STR)
        return;
    if (!m->re && v->dquoted && escaped_wildcard(v->str, v->len))
        warn(l, file, v->line, v->col, id, "never-matches",
             "value \"%s\" holds \\* or \\? (an escaped, literal wildcard) after YAML's "
             "double quotes turned each \\\\ into \\: a path such as C:\\Users\\* then only "
             "matches a literal star; write it in single quotes, 'C:\\Users\\\\*'", v->str);
    if (m->cased && !has_letter(v->str, v->len))
        warn(l, file, v->line, v->col, id, "cased-without-letters",
             "modifier 'cased' on \"%s\", a value without letters, changes nothing", v->str);
}

static void lint_values(struct lint *l, const char *file, const char *id,
                        const struct kta_ynode *v, const struct mods *m)
{
    if (v->kind == KTA_YNODE_SEQ) {
        for (size_t i = 0; i < v->n; i++)
            lint_value(l, file, id, v->items[i], m);
    } else {
        lint_value(l, file, id, v, m);
    }
}

static void lint_fmap(struct lint *l, const char *file, const char *id,
                      const struct kta_ynode *map)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const char *k = map->items[i]->str, *p;
        struct mods m = { 0 };

        for (p = strchr(k, '|'); p; p = strchr(p + 1, '|')) {
            size_t n = strcspn(p + 1, "|");

            if ((n == 2 && strncmp(p + 1, "re", 2) == 0) ||
                (n > 3 && strncmp(p + 1, "re|", 3) == 0))
                m.re = 1;
            if (n == 5 && strncmp(p + 1, "cased", 5) == 0)
                m.cased = 1;
        }
        lint_values(l, file, id, map->items[i + 1], &m);
    }
}

static void lint_search(struct lint *l, const char *file, const char *id,
                        const struct kta_ynode *v)
{
    static const struct mods none = { 0 };

    if (v->kind == KTA_YNODE_MAP) {
        lint_fmap(l, file, id, v);
    } else if (v->kind == KTA_YNODE_SEQ) {
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind == KTA_YNODE_MAP)
                lint_fmap(l, file, id, v->items[i]);
            else
                lint_value(l, file, id, v->items[i], &none);   /* a keyword */
        }
    }
}

static const struct kta_rule *find_rule(const struct kta_ruleset *rs, const char *id,
                                        const char *file)
{
    for (size_t i = 0; i < rs->nrules; i++)
        if (strcmp(rs->rules[i]->id, id) == 0 && (!file || strcmp(rs->rules[i]->file, file) == 0))
            return rs->rules[i];
    return NULL;
}

static void lint_rule(struct lint *l, const char *file, const struct kta_ynode *node)
{
    const struct kta_ynode *idn = kta_ynode_get(node, "id");
    const struct kta_ynode *det = kta_ynode_get(node, "detection");
    const struct kta_ynode *cond;
    const struct kta_rule *r, *b;
    unsigned char *used;
    size_t si = 0;

    if (!idn || idn->kind != KTA_YNODE_SCALAR || !det || det->kind != KTA_YNODE_MAP)
        return;
    r = find_rule(l->rs, idn->str, file);
    if (!r)
        return;     /* not loaded: its errors (or its skip) are reported already */
    cond = kta_ynode_get(det, "condition");
    b = l->bare ? find_rule(l->bare, r->id, NULL) : NULL;
    if (b && l->everything[b->index])
        warn(l, file, cond ? cond->line : det->line, cond ? cond->col : det->col, r->id,
             "matches-everything", "the condition holds for an event with no fields: the "
             "rule matches every event%s", r->nscope ? " of its log source" : "");
    used = xcalloc(r->nsearches + 1, 1);
    mark_used(r->cond, used, r->nsearches);
    for (size_t i = 0; i + 1 < det->n; i += 2) {
        const struct kta_ynode *k = det->items[i];

        if (strcmp(k->str, "condition") == 0 || strcmp(k->str, "timeframe") == 0)
            continue;
        if (si < r->nsearches && strcmp(r->searches[si].name, k->str) == 0 && !used[si])
            warn(l, file, k->line, k->col, r->id, "unused-search",
                 "search '%s' is not used by the condition", k->str);
        si++;
        lint_search(l, file, r->id, det->items[i + 1]);
    }
    free(used);
}

static void lint_file(struct lint *l, const char *file)
{
    /* Parse errors were reported by the load: this parse is silent. */
    struct kta_rules_opts qo = { 0 };
    struct kta_rules_stats qst = { 0 };
    char err[256];
    struct kta_rules_diag qd = { .opts = &qo, .st = &qst, .errstr = err,
                                 .errstr_size = sizeof(err) };
    struct kta_ynode **docs = NULL;
    size_t ndocs = 0, len;
    char *text = kta_read_file(file, KTA_RULES_MAX_FILE, &len, err, sizeof(err));

    if (!text)
        return;
    kta_yaml_parse(&qd, file, text, len, &docs, &ndocs);
    for (size_t i = 0; i < ndocs; i++) {
        const struct kta_ynode *doc = docs[i], *rules;

        if (doc->kind != KTA_YNODE_MAP || kta_ynode_get(doc, "correlation"))
            continue;
        if (kta_ynode_get(doc, "detection")) {
            lint_rule(l, file, doc);
        } else if ((rules = kta_ynode_get(doc, "rules")) && rules->kind == KTA_YNODE_SEQ) {
            for (size_t j = 0; j < rules->n; j++)
                if (rules->items[j]->kind == KTA_YNODE_MAP &&
                    !kta_ynode_get(rules->items[j], "correlation"))
                    lint_rule(l, file, rules->items[j]);
        }
    }
    for (size_t i = 0; i < ndocs; i++)
        kta_ynode_free(docs[i]);
    free(docs);
    free(text);
}

/* ---- across rules ------------------------------------------------------- */

static void duplicate_titles(struct lint *l)
{
    const struct kta_ruleset *rs = l->rs;

    for (size_t i = 1; i < rs->nrules; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(rs->rules[i]->title, rs->rules[j]->title) == 0) {
                const struct kta_rule *r = rs->rules[i], *o = rs->rules[j];

                warn(l, r->file, r->line, r->col, r->id, "duplicate-title",
                     "title '%s' is also the title of rule %s (%s:%d:%d)", r->title, o->id,
                     o->file, o->line, o->col);
                break;
            }
}

/* A field of a scope that must equal one of a set of literals. */
struct need {
    const struct kta_fpath   *path;
    const struct kta_matcher *vals;
    size_t                    nvals;
};

/* One way a scope can hold: the needs of an AND (what else it needs is
 * left out, which only makes it easier to satisfy). */
struct alt {
    struct need *nd;
    size_t       n;
};

/* A condition in disjunctive form: it holds when one of alts does. */
struct dnf {
    struct alt *alts;
    size_t      n;
};

/* Beyond this many alternatives the analysis gives up (says: satisfiable). */
#define MAX_ALTS 4096

static int exact_only(const struct kta_fcond *fc)
{
    if (fc->keyword || fc->special || fc->npaths != 1 || fc->nnull || fc->all || !fc->nvals)
        return 0;
    for (size_t i = 0; i < fc->nvals; i++)
        if (fc->vals[i].kind != KTA_M_PATTERN || fc->vals[i].ptype != KTA_P_EXACT)
            return 0;
    return 1;
}

static void alt_push(struct alt *a, struct need nd)
{
    a->nd = xrealloc(a->nd, (a->n + 1) * sizeof(*a->nd));
    a->nd[a->n++] = nd;
}

static void dnf_push(struct dnf *f, struct alt a)
{
    f->alts = xrealloc(f->alts, (f->n + 1) * sizeof(*f->alts));
    f->alts[f->n++] = a;
}

static void dnf_clear(struct dnf *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->alts[i].nd);
    free(f->alts);
    f->alts = NULL;
    f->n = 0;
}

/* The unconstrained form: one alternative that needs nothing. */
static void dnf_true(struct dnf *f)
{
    dnf_clear(f);
    dnf_push(f, (struct alt){ NULL, 0 });
}

/* *f = *f AND g (g is left as it was). */
static void dnf_and(struct dnf *f, const struct dnf *g)
{
    struct dnf out = { 0 };

    if (f->n * g->n > MAX_ALTS) {
        dnf_true(f);
        return;
    }
    for (size_t i = 0; i < f->n; i++)
        for (size_t j = 0; j < g->n; j++) {
            struct alt a = { NULL, 0 };

            for (size_t k = 0; k < f->alts[i].n; k++)
                alt_push(&a, f->alts[i].nd[k]);
            for (size_t k = 0; k < g->alts[j].n; k++)
                alt_push(&a, g->alts[j].nd[k]);
            dnf_push(&out, a);
        }
    dnf_clear(f);
    *f = out;
}

static void dnf_of(const struct kta_rule *sr, const struct kta_cnode *c, struct dnf *f)
{
    dnf_clear(f);
    if (c && c->op == KTA_C_REF && c->ref < sr->nsearches) {
        const struct kta_search *s = &sr->searches[c->ref];

        for (size_t m = 0; m < s->nmaps; m++) {
            struct alt a = { NULL, 0 };

            for (size_t i = 0; i < s->maps[m].nconds; i++) {
                const struct kta_fcond *fc = &s->maps[m].conds[i];

                if (exact_only(fc))
                    alt_push(&a, (struct need){ &fc->paths[0], fc->vals, fc->nvals });
            }
            dnf_push(f, a);
        }
    } else if (c && c->op == KTA_C_AND) {
        struct dnf g = { 0 };

        dnf_true(f);
        for (size_t i = 0; i < c->nkids; i++) {
            dnf_of(sr, c->kids[i], &g);
            dnf_and(f, &g);
        }
        dnf_clear(&g);
    } else if (c && c->op == KTA_C_OR) {
        struct dnf g = { 0 };

        for (size_t i = 0; i < c->nkids && f->n <= MAX_ALTS; i++) {
            dnf_of(sr, c->kids[i], &g);
            for (size_t j = 0; j < g.n; j++)
                dnf_push(f, g.alts[j]);
            free(g.alts);
            g.alts = NULL;
            g.n = 0;
        }
        if (f->n > MAX_ALTS)
            dnf_true(f);
    }
    if (f->n == 0)   /* NOT, or nothing understood: no constraint */
        dnf_true(f);
}

/* Could one value equal both?  Caselessly, and as numbers: when unsure, yes. */
static int may_equal(const struct kta_matcher *a, const struct kta_matcher *b)
{
    if (a->is_num && b->is_num && a->num == b->num)
        return 1;
    return a->litlen == b->litlen && strncasecmp(a->lit, b->lit, a->litlen) == 0 &&
           memchr(a->lit, 0, a->litlen) == NULL;
}

static int overlap(const struct need *x, const struct need *y)
{
    for (size_t i = 0; i < x->nvals; i++)
        for (size_t j = 0; j < y->nvals; j++)
            if (may_equal(&x->vals[i], &y->vals[j]))
                return 1;
    return 0;
}

/* The first two needs of a that no one value satisfies, or 0. */
static int contradiction(const struct alt *a, const struct need **x, const struct need **y)
{
    for (size_t i = 1; i < a->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(a->nd[i].path->full, a->nd[j].path->full) == 0 &&
                !overlap(&a->nd[i], &a->nd[j])) {
                *x = &a->nd[j];
                *y = &a->nd[i];
                return 1;
            }
    return 0;
}

static void unsatisfiable_scopes(struct lint *l)
{
    const struct kta_ruleset *rs = l->rs;

    for (size_t i = 0; i < rs->nrules; i++) {
        const struct kta_rule *r = rs->rules[i];
        struct dnf f = { 0 }, g = { 0 };
        const struct need *x = NULL, *y = NULL;
        size_t a;

        if (r->nscope < 2)
            continue;   /* one where is written by hand; contradictions come from ANDs */
        dnf_true(&f);
        for (size_t s = 0; s < r->nscope; s++) {
            const struct kta_rule *sr = rs->scopes[r->scope[s]];

            dnf_of(sr, sr->cond, &g);
            dnf_and(&f, &g);
        }
        for (a = 0; a < f.n; a++) {
            const struct need *px, *py;

            if (!contradiction(&f.alts[a], &px, &py))
                break;
            if (!x) {
                x = px;
                y = py;
            }
        }
        if (a == f.n && x)
            warn(l, r->file, r->line, r->col, r->id, "unsatisfiable-scope",
                 "its scope (logsource %s, %zu entries ANDed) cannot hold: e.g. it needs %s "
                 "to be '%s' and '%s' at once; no event of its log source satisfies it",
                 r->logsource ? r->logsource : "-", r->nscope, x->path->full, x->vals[0].lit,
                 y->vals[0].lit);
        dnf_clear(&f);
        dnf_clear(&g);
    }
}

size_t kta_lint(const struct kta_ruleset *rs, const char *const *paths, size_t npaths,
                const struct kta_rules_opts *opts, struct kta_rules_stats *st)
{
    struct lint l = { .rs = rs };
    size_t i, j;

    if (!rs)
        return 0;
    l.d.opts = opts;
    l.d.st = st;
    l.d.errstr = l.errbuf;
    l.d.errstr_size = sizeof(l.errbuf);
    eval_empty(&l, paths, npaths, opts);
    for (i = 0; i < rs->nrules; i++) {
        for (j = 0; j < i && strcmp(rs->rules[j]->file, rs->rules[i]->file) != 0; j++)
            ;
        if (j == i)
            lint_file(&l, rs->rules[i]->file);
    }
    duplicate_titles(&l);
    unsatisfiable_scopes(&l);
    free(l.everything);
    kta_ruleset_decref(l.bare);
    return l.found;
}
