/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rules_load: rule files on disk -> rule trees -> (via rules_compile.c) a
 * compiled ruleset.  This is the only module that talks to libyaml.
 *
 * It walks a directory in byte-wise sorted order, reads each file with
 * libyaml's event parser into a small node tree that keeps the line:col
 * of every node (so every later complaint can point at its source), and
 * rejects what docs/rules.md §1 forbids (aliases and anchors, files over
 * 4 MiB, nesting deeper than 64).  It then checks each rule's top-level
 * keys and hands `detection` to the compiler, with the field map and the
 * placeholders (expand) file it read first; a `tests:` key is checked
 * for shape and kept on the rule for `kta test`, which alone runs it.  Filter documents compile
 * the same way and, once every file is read, become scopes of the rules
 * they name (by id or `name`).  Every problem goes to the
 * caller's diag callback; loading never stops at the first one, so
 * `kta check` can list them all.  It never evaluates events.
 */
#include "rules_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <yaml.h>

/* ---- diagnostics ------------------------------------------------------- */

void kta_rules_report(struct kta_rules_diag *d, enum kta_diag_kind kind,
                      const char *file, int line, int col, const char *rule_id,
                      const char *fmt, ...)
{
    char what[1024];
    char *msg;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* --strict: every warning fails the load like an error. */
    int promoted = kind == KTA_DIAG_WARNING && d->opts && d->opts->strict;
    if (promoted)
        kind = KTA_DIAG_ERROR;
    msg = xasprintf("%s:%d:%d: %s: %s%s%s%s%s", file, line, col,
                    kind == KTA_DIAG_ERROR ? "error" : "warning",
                    rule_id ? "rule " : "", rule_id ? rule_id : "",
                    rule_id ? ": " : "", what, promoted ? " (a warning; --strict)" : "");
    if (kind == KTA_DIAG_ERROR) {
        d->st->errors++;
        if (!d->have_first) {
            kta_err(d->errstr, d->errstr_size, "%s", msg);
            d->have_first = 1;
        }
    } else {
        d->st->warnings++;
    }
    if (d->opts && d->opts->diag)
        d->opts->diag(d->opts->diag_opaque, kind, msg);
    free(msg);
}

/* ---- content digest (the ruleset version) ------------------------------ */

struct kta_digest {
    EVP_MD_CTX *ctx;
};

static struct kta_digest *digest_new(void)
{
    struct kta_digest *dg = xcalloc(1, sizeof(*dg));

    dg->ctx = EVP_MD_CTX_new();
    if (!dg->ctx || !EVP_DigestInit_ex(dg->ctx, EVP_sha256(), NULL)) {
        fprintf(stderr, "kta: SHA-256 is unavailable in libcrypto\n");
        abort();
    }
    return dg;
}

static void digest_free(struct kta_digest *dg)
{
    if (!dg)
        return;
    EVP_MD_CTX_free(dg->ctx);
    free(dg);
}

/* Mixes one file's content into the digest: a tag saying what it is (a
 * field map, placeholders or rules) and its length first, so that no two
 * different sets of files give the same stream. */
static void digest_add(struct kta_rules_diag *d, char tag, const char *text, size_t len)
{
    unsigned char head[9];

    if (!d->digest)
        return;
    head[0] = (unsigned char)tag;
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    EVP_DigestUpdate(d->digest->ctx, head, sizeof(head));
    EVP_DigestUpdate(d->digest->ctx, text, len);
}

static void digest_finish(struct kta_digest *dg, struct kta_ruleset *rs)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    EVP_DigestFinal_ex(dg->ctx, md, &n);
    for (unsigned int i = 0; i < n && i < 32; i++) {
        rs->digest[2 * i] = hex[md[i] >> 4];
        rs->digest[2 * i + 1] = hex[md[i] & 15];
    }
    rs->digest[64] = '\0';
    memcpy(rs->version, rs->digest, 12);
    rs->version[12] = '\0';
}

const char *kta_ruleset_version(const struct kta_ruleset *rs)
{
    return rs->version;
}

const char *kta_ruleset_digest(const struct kta_ruleset *rs)
{
    return rs->digest;
}

/* ---- YAML node tree ---------------------------------------------------- */

void kta_ynode_free(struct kta_ynode *node)
{
    size_t i;

    if (!node)
        return;
    for (i = 0; i < node->n; i++)
        kta_ynode_free(node->items[i]);
    free(node->items);
    free(node->str);
    free(node);
}

const struct kta_ynode *kta_ynode_get(const struct kta_ynode *map, const char *key)
{
    size_t i;

    if (!map || map->kind != KTA_YNODE_MAP)
        return NULL;
    for (i = 0; i + 1 < map->n; i += 2)
        if (strcmp(map->items[i]->str, key) == 0)
            return map->items[i + 1];
    return NULL;
}

static int all_in(const char *s, size_t n, const char *set)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!strchr(set, s[i]))
            return 0;
    return 1;
}

/* Decimal float per the YAML 1.2 core schema:
 * [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int is_core_float(const char *s)
{
    const char *p = s;
    int digits = 0;

    if (*p == '+' || *p == '-')
        p++;
    while (*p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

/* Resolves a plain scalar's type with the YAML 1.2 core schema (not
 * YAML 1.1: `yes`/`no`/`on`/`off` stay strings, which is what people
 * mean in a keyword list). */
static void resolve_plain(struct kta_ynode *n)
{
    const char *s = n->str;
    size_t len = n->len;
    char *end;

    if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
        strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0) {
        n->type = KTA_YT_NULL;
        return;
    }
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0) {
        n->type = KTA_YT_BOOL;
        n->bval = 1;
        return;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0) {
        n->type = KTA_YT_BOOL;
        n->bval = 0;
        return;
    }
    if (strlen(s) != len)
        return;
    {
        const char *d = (s[0] == '-' || s[0] == '+') ? s + 1 : s;
        int base = 0;

        if (all_in(d, strlen(d), "0123456789"))
            base = 10;
        else if (strncmp(s, "0x", 2) == 0 && all_in(s + 2, len - 2, "0123456789abcdefABCDEF"))
            base = 16;
        else if (strncmp(s, "0o", 2) == 0 && all_in(s + 2, len - 2, "01234567"))
            base = 8;
        if (base) {
            const char *digits = base == 10 ? s : s + 2;

            errno = 0;
            n->ival = strtoll(digits, &end, base);
            n->type = KTA_YT_INT;
            if (errno == ERANGE) {
                /* Too big for an integer: keep it a number, compared as
                 * a double and written as the text given. */
                n->type = KTA_YT_FLOAT;
                n->dval = strtod(s, NULL);
            } else {
                n->dval = (double)n->ival;
            }
            return;
        }
    }
    if (is_core_float(s)) {
        n->type = KTA_YT_FLOAT;
        n->dval = strtod(s, NULL);
        return;
    }
    {
        const char *p = (s[0] == '-' || s[0] == '+') ? s + 1 : s;

        if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0) {
            n->type = KTA_YT_FLOAT;
            n->dval = s[0] == '-' ? -INFINITY : INFINITY;
        } else if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
            n->type = KTA_YT_FLOAT;
            n->dval = NAN;
        }
    }
}

struct ybuild {
    const char            *file;
    struct kta_rules_diag *d;
    struct kta_ynode      *stack[KTA_RULES_MAX_DEPTH + 1];
    int                    depth;
    size_t                 skip;     /* collections open beyond the limit */
    int                    bad;      /* current document is unusable */
    struct kta_ynode      *root;
    struct kta_ynode     **docs;
    size_t                 ndocs;
    size_t                 nbad;     /* documents dropped */
};

static struct kta_ynode *ynode_new(enum kta_ynode_kind kind, const yaml_mark_t *m)
{
    struct kta_ynode *n = xcalloc(1, sizeof(*n));

    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

static void ynode_push(struct kta_ynode *parent, struct kta_ynode *child)
{
    if (parent->n == parent->cap) {
        parent->cap = parent->cap ? parent->cap * 2 : 8;
        parent->items = xrealloc(parent->items, parent->cap * sizeof(*parent->items));
    }
    parent->items[parent->n++] = child;
}

/* Attaches a finished node to the open collection (or makes it the root). */
static void yb_attach(struct ybuild *yb, struct kta_ynode *node)
{
    struct kta_ynode *parent;

    if (yb->depth == 0) {
        kta_ynode_free(yb->root);
        yb->root = node;
        return;
    }
    parent = yb->stack[yb->depth - 1];
    if (parent->kind == KTA_YNODE_MAP && parent->n % 2 == 0 &&
        node->kind != KTA_YNODE_SCALAR) {
        kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file, node->line, node->col, NULL,
                         "a mapping key must be a scalar");
        yb->bad = 1;
        /* Keep key/value pairing intact so the rest still parses. */
        kta_ynode_free(node);
        node = xcalloc(1, sizeof(*node));
        node->kind = KTA_YNODE_SCALAR;
        node->str = xstrdup("");
    }
    ynode_push(parent, node);
}

static void check_duplicate_keys(struct ybuild *yb, const struct kta_ynode *map)
{
    size_t i, j;

    for (i = 2; i + 1 < map->n; i += 2)
        for (j = 0; j < i; j += 2)
            if (map->items[i]->len == map->items[j]->len &&
                memcmp(map->items[i]->str, map->items[j]->str, map->items[i]->len) == 0) {
                kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file, map->items[i]->line,
                                 map->items[i]->col, NULL,
                                 "duplicate key '%s' (first at line %d)",
                                 map->items[i]->str, map->items[j]->line);
                yb->bad = 1;
                break;
            }
}

static void yb_reject_anchor(struct ybuild *yb, const yaml_char_t *anchor,
                             const yaml_mark_t *m)
{
    if (!anchor)
        return;
    kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file, (int)m->line + 1, (int)m->column + 1,
                     NULL, "YAML anchors are not allowed in rule files (&%s)",
                     (const char *)anchor);
    yb->bad = 1;
}

static void yb_open(struct ybuild *yb, enum kta_ynode_kind kind, const yaml_mark_t *m)
{
    if (yb->skip || yb->depth >= KTA_RULES_MAX_DEPTH) {
        if (yb->skip == 0) {
            kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file, (int)m->line + 1,
                             (int)m->column + 1, NULL,
                             "nesting deeper than %d levels", KTA_RULES_MAX_DEPTH);
            yb->bad = 1;
        }
        yb->skip++;
        return;
    }
    yb->stack[yb->depth++] = ynode_new(kind, m);
}

static void yb_close(struct ybuild *yb)
{
    struct kta_ynode *node;

    if (yb->skip) {
        yb->skip--;
        return;
    }
    node = yb->stack[--yb->depth];
    if (node->kind == KTA_YNODE_MAP)
        check_duplicate_keys(yb, node);
    yb_attach(yb, node);
}

static void yb_scalar(struct ybuild *yb, const yaml_event_t *ev)
{
    struct kta_ynode *node;
    const char *tag = (const char *)ev->data.scalar.tag;

    if (yb->skip)
        return;
    node = ynode_new(KTA_YNODE_SCALAR, &ev->start_mark);
    node->str = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
    node->len = ev->data.scalar.length;
    node->type = KTA_YT_STR;
    node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    node->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                   ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    node->dquoted = ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (node->plain && ev->data.scalar.plain_implicit)
        resolve_plain(node);
    else if (tag && strcmp(tag, "tag:yaml.org,2002:null") == 0)
        node->type = KTA_YT_NULL;
    yb_attach(yb, node);
}

static void yb_reset_doc(struct ybuild *yb)
{
    while (yb->depth > 0)
        kta_ynode_free(yb->stack[--yb->depth]);
    kta_ynode_free(yb->root);
    yb->root = NULL;
    yb->skip = 0;
    yb->bad = 0;
}

/*
 * Parses text into documents (yb->docs).  Documents with errors are
 * reported, counted in yb->nbad and dropped.  A syntax error ends the file
 * (libyaml cannot resume); documents finished before it are kept.
 */
static void parse_yaml(struct ybuild *yb, const char *text, size_t len)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int done = 0;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *ctx = parser.context;

            kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file,
                             (int)parser.problem_mark.line + 1,
                             (int)parser.problem_mark.column + 1, NULL,
                             "YAML syntax error: %s%s%s",
                             parser.problem ? parser.problem : "unknown problem",
                             ctx ? " " : "", ctx ? ctx : "");
            /* The rest of the file is lost: count it as one dropped
             * document so skip_invalid reports it as skipped. */
            yb->nbad++;
            yb_reset_doc(yb);
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            yb_reset_doc(yb);
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (yb->bad) {
                yb->nbad++;
            } else if (yb->root) {
                yb->docs = xrealloc(yb->docs, (yb->ndocs + 1) * sizeof(*yb->docs));
                yb->docs[yb->ndocs++] = yb->root;
                yb->root = NULL;
            }
            yb_reset_doc(yb);
            break;
        case YAML_ALIAS_EVENT:
            kta_rules_report(yb->d, KTA_DIAG_ERROR, yb->file, (int)ev.start_mark.line + 1,
                             (int)ev.start_mark.column + 1, NULL,
                             "YAML aliases are not allowed in rule files (*%s)",
                             (const char *)ev.data.alias.anchor);
            yb->bad = 1;
            if (!yb->skip) {
                struct kta_ynode *node = ynode_new(KTA_YNODE_SCALAR, &ev.start_mark);

                node->str = xstrdup("");
                node->type = KTA_YT_NULL;
                yb_attach(yb, node);
            }
            break;
        case YAML_SCALAR_EVENT:
            yb_reject_anchor(yb, ev.data.scalar.anchor, &ev.start_mark);
            yb_scalar(yb, &ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            yb_reject_anchor(yb, ev.data.sequence_start.anchor, &ev.start_mark);
            yb_open(yb, KTA_YNODE_SEQ, &ev.start_mark);
            break;
        case YAML_MAPPING_START_EVENT:
            yb_reject_anchor(yb, ev.data.mapping_start.anchor, &ev.start_mark);
            yb_open(yb, KTA_YNODE_MAP, &ev.start_mark);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            yb_close(yb);
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        /* libyaml's scanner costs O(depth) per token, so 4 MiB of '['
         * would take hours: far past the limit, give up on the file as
         * after a syntax error (the nesting error is already reported). */
        if (yb->skip > KTA_RULES_MAX_DEPTH) {
            yb->nbad++;
            yb_reset_doc(yb);
            break;
        }
    }
    yaml_parser_delete(&parser);
}

static void yb_free(struct ybuild *yb)
{
    size_t i;

    yb_reset_doc(yb);
    for (i = 0; i < yb->ndocs; i++)
        kta_ynode_free(yb->docs[i]);
    free(yb->docs);
    yb->docs = NULL;
    yb->ndocs = 0;
}

void kta_yaml_parse(struct kta_rules_diag *d, const char *file, const char *text, size_t len,
                    struct kta_ynode ***docs, size_t *ndocs)
{
    struct ybuild yb = { .file = file, .d = d };

    parse_yaml(&yb, text, len);
    *docs = yb.docs;
    *ndocs = yb.ndocs;
    yb.docs = NULL;
    yb.ndocs = 0;
    yb_free(&yb);
}

/* ---- YAML -> JSON (kept metadata) -------------------------------------- */

static json_t *ynode_to_json(const struct kta_ynode *n)
{
    json_t *j;
    size_t i;

    switch (n->kind) {
    case KTA_YNODE_SEQ:
        j = json_array();
        for (i = 0; i < n->n; i++)
            json_array_append_new(j, ynode_to_json(n->items[i]));
        return j;
    case KTA_YNODE_MAP:
        j = json_object();
        for (i = 0; i + 1 < n->n; i += 2)
            json_object_setn_new(j, n->items[i]->str, n->items[i]->len,
                                 ynode_to_json(n->items[i + 1]));
        return j;
    case KTA_YNODE_SCALAR:
        break;
    }
    switch (n->type) {
    case KTA_YT_NULL:
        return json_null();
    case KTA_YT_BOOL:
        return json_boolean(n->bval);
    case KTA_YT_INT:
        return json_integer(n->ival);
    case KTA_YT_FLOAT:
        if (isfinite(n->dval))
            return json_real(n->dval);
        break;
    case KTA_YT_STR:
        break;
    }
    j = json_stringn(n->str, n->len);
    /* libyaml hands out UTF-8, but be safe rather than drop the key. */
    return j ? j : json_string("");
}

/* ---- field map --------------------------------------------------------- */

static int scalar_text(const struct kta_ynode *n);

void kta_fieldmap_free(struct kta_fieldmap *fm)
{
    size_t i, j;

    if (!fm)
        return;
    for (i = 0; i < fm->nentries; i++) {
        for (j = 0; j < fm->entries[i].npaths; j++)
            free(fm->entries[i].paths[j]);
        free(fm->entries[i].paths);
        free(fm->entries[i].name);
    }
    free(fm->entries);
    for (i = 0; i < fm->nstar; i++)
        free(fm->star[i]);
    free(fm->star);
    for (i = 0; i < fm->nls; i++) {
        for (j = 0; j < fm->ls[i].nkeys; j++) {
            free(fm->ls[i].keys[j]);
            free(fm->ls[i].vals[j]);
        }
        free(fm->ls[i].keys);
        free(fm->ls[i].vals);
        kta_rule_free(fm->ls[i].where);
    }
    free(fm->ls);
    free(fm);
}

/* Reads a path list (a string or a list of strings) into *out. */
static int fieldmap_paths(struct kta_rules_diag *d, const char *file,
                          const struct kta_ynode *key, const struct kta_ynode *v,
                          char ***out, size_t *nout)
{
    size_t i, n = v->kind == KTA_YNODE_SEQ ? v->n : 1;

    if (v->kind == KTA_YNODE_MAP || (v->kind == KTA_YNODE_SEQ && v->n == 0)) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                         "field map entry '%s' must be a path or a non-empty list of paths",
                         key->str);
        return -1;
    }
    for (i = 0; i < n; i++) {
        const struct kta_ynode *p = v->kind == KTA_YNODE_SEQ ? v->items[i] : v;

        if (p->kind != KTA_YNODE_SCALAR || p->type == KTA_YT_NULL || p->len == 0 ||
            strlen(p->str) != p->len) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, p->line, p->col, NULL,
                             "field map entry '%s': a path must be a non-empty string",
                             key->str);
            return -1;
        }
    }
    *out = xcalloc(n, sizeof(char *));
    for (i = 0; i < n; i++)
        (*out)[i] = xstrdup((v->kind == KTA_YNODE_SEQ ? v->items[i] : v)->str);
    *nout = n;
    return 0;
}

/* The v1 field map (docs/rules.md §15), or the `fields:` of a v2 one. */
static void fieldmap_fields(struct kta_rules_diag *d, const char *file,
                            const struct kta_ynode *map, struct kta_fieldmap *fm)
{
    size_t i;

    fm->entries = xcalloc(KTA_YMAP_LEN(map) + 1, sizeof(*fm->entries));
    for (i = 0; i + 1 < map->n; i += 2) {
        const struct kta_ynode *k = map->items[i], *v = map->items[i + 1];

        if (strcmp(k->str, "*") == 0) {
            if (fieldmap_paths(d, file, k, v, &fm->star, &fm->nstar) < 0)
                continue;
        } else {
            struct kta_fieldmap_entry *e = &fm->entries[fm->nentries];

            if (fieldmap_paths(d, file, k, v, &e->paths, &e->npaths) < 0)
                continue;
            e->name = xstrdup(k->str);
            fm->nentries++;
        }
    }
}

/* Compiles an entry's where: a search (mapping, list of mappings, keyword
 * list) or a mapping of named searches with a `condition`, exactly as a
 * rule's detection, but with field names taken as written. */
static struct kta_rule *where_compile(struct kta_rules_diag *d, const char *file,
                                      const struct kta_ynode *where)
{
    struct kta_compile_env env = { .diag = d, .fm = NULL, .file = file };
    struct kta_rule *w = xcalloc(1, sizeof(*w));
    size_t errors0 = d->st->errors;

    w->file = xstrdup(file);
    w->line = where->line;
    w->col = where->col;
    w->enabled = 1;
    w->level = "medium";
    atomic_init(&w->errors, 0);
    if (where->kind == KTA_YNODE_MAP && kta_ynode_get(where, "condition")) {
        kta_rules_compile_detection(w, where, &env);
    } else {
        /* One search called "where": the detection {where: WHERE}. */
        struct kta_ynode key = { .kind = KTA_YNODE_SCALAR, .line = where->line,
                                 .col = where->col, .str = (char *)"where", .len = 5 };
        struct kta_ynode *items[2] = { &key, (struct kta_ynode *)where };
        struct kta_ynode det = { .kind = KTA_YNODE_MAP, .line = where->line,
                                 .col = where->col, .items = items, .n = 2 };

        kta_rules_compile_detection(w, &det, &env);
    }
    if (d->st->errors != errors0) {
        kta_rule_free(w);
        return NULL;
    }
    return w;
}

static void logsources_load(struct kta_rules_diag *d, const char *file,
                            const struct kta_ynode *list, struct kta_fieldmap *fm)
{
    size_t i, j;

    fm->has_logsources = 1;
    if (list->kind == KTA_YNODE_SCALAR && list->type == KTA_YT_NULL)
        return;
    if (list->kind != KTA_YNODE_SEQ) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, list->line, list->col, NULL,
                         "'logsources' must be a list of entries with 'match' and 'where'");
        return;
    }
    fm->ls = xcalloc(list->n + 1, sizeof(*fm->ls));
    for (i = 0; i < list->n; i++) {
        const struct kta_ynode *e = list->items[i], *match = NULL, *where = NULL;
        struct kta_lsentry *ls;
        size_t errors0 = d->st->errors;

        if (e->kind != KTA_YNODE_MAP) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, e->line, e->col, NULL,
                             "a logsources entry must be a mapping with 'match' and 'where'");
            continue;
        }
        for (j = 0; j + 1 < e->n; j += 2) {
            const struct kta_ynode *k = e->items[j];

            if (strcmp(k->str, "match") == 0)
                match = e->items[j + 1];
            else if (strcmp(k->str, "where") == 0)
                where = e->items[j + 1];
            else
                kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, NULL,
                                 "unknown key '%s' in a logsources entry (expected 'match' "
                                 "and 'where')", k->str);
        }
        if (!match) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, e->line, e->col, NULL,
                             "logsources entry has no 'match'");
        } else if (match->kind != KTA_YNODE_MAP || match->n == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, match->line, match->col, NULL,
                             "'match' must be a non-empty mapping such as "
                             "{product: windows, category: process_creation}");
            match = NULL;
        } else {
            for (j = 0; j + 1 < match->n; j += 2) {
                const struct kta_ynode *v = match->items[j + 1];

                if (!scalar_text(v) || memchr(v->str, '\0', v->len))
                    kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                                     "'match' value for '%s' must be a non-empty string",
                                     match->items[j]->str);
            }
        }
        if (d->st->errors != errors0)
            continue;
        ls = &fm->ls[fm->nls];
        memset(ls, 0, sizeof(*ls));
        ls->line = e->line;
        ls->col = e->col;
        if (where) {
            ls->where = where_compile(d, file, where);
            if (!ls->where)
                continue;
            ls->scope = fm->nscopes++;
        }
        ls->nkeys = KTA_YMAP_LEN(match);
        ls->keys = xcalloc(ls->nkeys, sizeof(*ls->keys));
        ls->vals = xcalloc(ls->nkeys, sizeof(*ls->vals));
        for (j = 0; j < ls->nkeys; j++) {
            ls->keys[j] = xstrdup(match->items[2 * j]->str);
            ls->vals[j] = xstrdup(match->items[2 * j + 1]->str);
        }
        fm->nls++;
    }
}

static struct kta_fieldmap *fieldmap_load(struct kta_rules_diag *d, const char *file)
{
    struct ybuild yb = { .file = file, .d = d };
    struct kta_fieldmap *fm = NULL;
    const struct kta_ynode *root;
    char err[512];
    char *text;
    size_t len, i;
    size_t errors0 = d->st->errors;

    text = kta_read_file(file, KTA_RULES_MAX_FILE, &len, err, sizeof(err));
    if (!text) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, 0, 0, NULL, "cannot read field map: %s", err);
        return NULL;
    }
    digest_add(d, 'm', text, len);
    parse_yaml(&yb, text, len);
    free(text);
    if (d->st->errors != errors0)
        goto fail;
    if (yb.ndocs != 1 || yb.docs[0]->kind != KTA_YNODE_MAP) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, yb.ndocs ? yb.docs[0]->line : 1,
                         yb.ndocs ? yb.docs[0]->col : 1, NULL,
                         "a field map must be a single YAML mapping");
        goto fail;
    }
    root = yb.docs[0];
    fm = xcalloc(1, sizeof(*fm));
    if (!kta_ynode_get(root, "fields") && !kta_ynode_get(root, "logsources") &&
        !kta_ynode_get(root, "unmapped")) {
        fieldmap_fields(d, file, root, fm);   /* version 1 */
        goto done;
    }
    for (i = 0; i + 1 < root->n; i += 2) {
        const struct kta_ynode *k = root->items[i], *v = root->items[i + 1];

        if (strcmp(k->str, "fields") == 0) {
            if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_NULL)
                continue;
            if (v->kind != KTA_YNODE_MAP)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                                 "'fields' must be a mapping of field names to paths");
            else
                fieldmap_fields(d, file, v, fm);
        } else if (strcmp(k->str, "logsources") == 0) {
            logsources_load(d, file, v, fm);
        } else if (strcmp(k->str, "unmapped") == 0) {
            if (v->kind == KTA_YNODE_SCALAR && strcmp(v->str, "skip") == 0)
                fm->unmapped = KTA_UNMAPPED_SKIP;
            else if (v->kind == KTA_YNODE_SCALAR && strcmp(v->str, "warn") == 0)
                fm->unmapped = KTA_UNMAPPED_WARN;
            else if (v->kind == KTA_YNODE_SCALAR && strcmp(v->str, "match_all") == 0)
                fm->unmapped = KTA_UNMAPPED_MATCH_ALL;
            else
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                                 "'unmapped' must be skip, warn or match_all");
        } else {
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, NULL,
                             "unknown key '%s' in a version-2 field map (expected fields, "
                             "logsources, unmapped)", k->str);
        }
    }
done:
    if (d->st->errors != errors0)
        goto fail;
    yb_free(&yb);
    return fm;
fail:
    kta_fieldmap_free(fm);
    yb_free(&yb);
    return NULL;
}

/* ---- placeholders ------------------------------------------------------ */

void kta_placeholders_free(struct kta_placeholders *ph)
{
    size_t i, j;

    if (!ph)
        return;
    for (i = 0; i < ph->n; i++) {
        for (j = 0; j < ph->entries[i].nvalues; j++)
            free(ph->entries[i].values[j]);
        free(ph->entries[i].values);
        free(ph->entries[i].name);
    }
    free(ph->entries);
    free(ph);
}

/* A placeholder value: a string or a number, taken as written. */
static int placeholder_value(const struct kta_ynode *n)
{
    return n->kind == KTA_YNODE_SCALAR && n->type != KTA_YT_NULL &&
           n->type != KTA_YT_BOOL && strlen(n->str) == n->len;
}

/*
 * Reads a placeholders file for the expand modifier: one YAML mapping from
 * a name (letters, digits, '_') to a value or a non-empty list of values,
 * each a string or a number (an empty file defines none).  Returns NULL
 * after reporting every problem with its file:line:col.
 */
static struct kta_placeholders *placeholders_load(struct kta_rules_diag *d, const char *file)
{
    struct ybuild yb = { .file = file, .d = d };
    struct kta_placeholders *ph = NULL;
    const struct kta_ynode *root;
    char err[512];
    char *text;
    size_t len, i, j;
    size_t errors0 = d->st->errors;

    text = kta_read_file(file, KTA_RULES_MAX_FILE, &len, err, sizeof(err));
    if (!text) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, 0, 0, NULL, "cannot read placeholders: %s",
                         err);
        return NULL;
    }
    digest_add(d, 'p', text, len);
    parse_yaml(&yb, text, len);
    free(text);
    if (d->st->errors != errors0)
        goto fail;
    ph = xcalloc(1, sizeof(*ph));
    if (yb.ndocs == 0)
        goto out;   /* an empty file: no placeholders yet */
    if (yb.ndocs != 1 || yb.docs[0]->kind != KTA_YNODE_MAP) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, yb.docs[0]->line, yb.docs[0]->col, NULL,
                         "a placeholders file must be a single YAML mapping from names to "
                         "values");
        goto fail;
    }
    root = yb.docs[0];
    ph->entries = xcalloc(KTA_YMAP_LEN(root) + 1, sizeof(*ph->entries));
    for (i = 0; i + 1 < root->n; i += 2) {
        const struct kta_ynode *k = root->items[i], *v = root->items[i + 1];
        struct kta_placeholder *e = &ph->entries[ph->n];
        size_t n = v->kind == KTA_YNODE_SEQ ? v->n : 1, bad = 0;

        for (j = 0; j < k->len; j++)
            bad |= !(isalnum((unsigned char)k->str[j]) || k->str[j] == '_' ||
                     (unsigned char)k->str[j] >= 0x80);
        if (bad || k->len == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, NULL,
                             "placeholder name '%s' may only hold letters, digits and '_'",
                             k->str);
            continue;
        }
        if (v->kind == KTA_YNODE_MAP || (v->kind == KTA_YNODE_SEQ && v->n == 0)) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                             "placeholder '%s' must be a value or a non-empty list of values",
                             k->str);
            continue;
        }
        for (j = 0; j < n; j++) {
            const struct kta_ynode *one = v->kind == KTA_YNODE_SEQ ? v->items[j] : v;

            if (!placeholder_value(one)) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, one->line, one->col, NULL,
                                 "placeholder '%s': a value must be a string or a number",
                                 k->str);
                bad = 1;
            }
        }
        if (bad)
            continue;
        e->values = xcalloc(n, sizeof(char *));
        for (j = 0; j < n; j++)
            e->values[j] = xstrdup((v->kind == KTA_YNODE_SEQ ? v->items[j] : v)->str);
        e->nvalues = n;
        e->name = xstrdup(k->str);
        ph->n++;
    }
    if (d->st->errors != errors0)
        goto fail;
out:
    yb_free(&yb);
    return ph;
fail:
    kta_placeholders_free(ph);
    yb_free(&yb);
    return NULL;
}

/* ---- rules ------------------------------------------------------------- */

struct corr_pending;
static int parse_timespan(const struct kta_ynode *v, int64_t *ms);
static void parse_suppress(struct kta_rules_diag *d, const char *file, struct kta_rule *r,
                           const struct kta_ynode *v);
static void parse_tests(struct kta_rules_diag *d, const char *file, const char *id, int corr,
                        const struct kta_ynode *v, struct kta_rule_test **out, size_t *nout);
static int string_list(const struct kta_ynode *v, char ***out, int **lines, int **cols,
                       size_t *n);

/* A filter document (docs/rules.md, Filters), between its load and the
 * filters pass of finish(): its condition is compiled at once (with the
 * field map, as a rule's detection), the rules it names are resolved once
 * every file has been read. */
struct filter {
    char            *file;
    int              line, col;       /* the `filter` mapping */
    char           **refs;            /* `rules:`: ids or names */
    int             *ref_line, *ref_col;
    size_t           nrefs;
    json_t          *logsource;       /* a JSON object, or NULL */
    int              ls_line, ls_col;
    struct kta_rule *cond;            /* its searches and condition */
};

struct loader {
    struct kta_rules_diag     *d;
    const struct kta_rules_opts *opts;
    struct kta_fieldmap       *fm;
    struct kta_placeholders   *ph;
    struct kta_rule          **rules;
    size_t                     nrules, cap;
    size_t                     valid;     /* rules without errors */
    struct kta_logsource_info *skipped;   /* dropped by unmapped: skip */
    size_t                     nskipped, skipcap;
    char                     **skipnames;  /* their names, for filters */
    size_t                     nskipnames;
    struct filter             *filters;    /* filter documents, load order */
    size_t                     nfilters, filtercap;
    struct corr_pending       *corrs;     /* correlation rules, unresolved */
    size_t                     ncorrs;
};

/* Sigma metadata: kept, not interpreted, no warning. */
static const char *const sigma_keys[] = {
    "description", "status", "author", "date", "modified", "references",
    "falsepositives", "logsource", "fields", "related", "license",
    "regression_tests_path", "simulation", NULL
};

static const char *const levels[] = {
    "informational", "low", "medium", "high", "critical", NULL
};

static int is_sigma_key(const char *k)
{
    size_t i;

    for (i = 0; sigma_keys[i]; i++)
        if (strcmp(k, sigma_keys[i]) == 0)
            return 1;
    return 0;
}

/* A scalar usable as a one-line string (numbers are taken as written). */
static int scalar_text(const struct kta_ynode *n)
{
    return n->kind == KTA_YNODE_SCALAR && n->type != KTA_YT_NULL &&
           strlen(n->str) == n->len && n->len > 0;
}

/* A one-line string for 'key' (id, title, name): the text, or NULL after
 * an error naming it.  'what' prefixes the key in the message ("" or
 * "filter "). */
static const char *one_line(struct kta_rules_diag *d, const char *file, const char *id,
                            const char *what, const char *key, const struct kta_ynode *v)
{
    if (scalar_text(v) && !strchr(v->str, '\n'))
        return v->str;
    kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, id,
                     "%s'%s' must be a non-empty one-line string", what, key);
    return NULL;
}

/* 'level' (or its synonym 'severity'): the canonical spelling, or NULL
 * after an error. */
static const char *parse_level(struct kta_rules_diag *d, const char *file, const char *id,
                               const char *key, const struct kta_ynode *v)
{
    for (size_t j = 0; levels[j]; j++)
        if (v->kind == KTA_YNODE_SCALAR && strcasecmp(v->str, levels[j]) == 0)
            return levels[j];
    kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, id,
                     "'%s' must be one of informational, low, medium, high, critical", key);
    return NULL;
}

/* 'tags': appends each string to 'tags'; null is no tags. */
static void parse_tags(struct kta_rules_diag *d, const char *file, const char *id,
                       const struct kta_ynode *v, json_t *tags)
{
    if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_NULL)
        return;
    if (v->kind != KTA_YNODE_SEQ) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, id,
                         "'tags' must be a list of strings");
        return;
    }
    for (size_t j = 0; j < v->n; j++) {
        const struct kta_ynode *t = v->items[j];

        if (!scalar_text(t))
            kta_rules_report(d, KTA_DIAG_ERROR, file, t->line, t->col, id,
                             "a tag must be a non-empty string");
        else
            json_array_append_new(tags, json_stringn(t->str, t->len));
    }
}

static void rule_add(struct loader *ld, struct kta_rule *r)
{
    if (ld->nrules == ld->cap) {
        ld->cap = ld->cap ? ld->cap * 2 : 64;
        ld->rules = xrealloc(ld->rules, ld->cap * sizeof(*ld->rules));
    }
    ld->rules[ld->nrules++] = r;
}

/* "product=windows category=process_creation service=...": the log source
 * as reports show it, in that order whatever the rule's order, lowercased
 * as matching ignores case (other keys, such as `definition`, are
 * descriptions and left out). */
static char *logsource_text(const struct kta_ynode *lsn)
{
    static const char *const keys[] = { "product", "category", "service" };
    struct kta_buf b = { 0 };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const struct kta_ynode *v = kta_ynode_get(lsn, keys[i]);

        if (!v || !scalar_text(v))
            continue;
        if (b.len)
            kta_buf_append(&b, " ", 1);
        kta_buf_appends(&b, keys[i]);
        kta_buf_append(&b, "=", 1);
        for (size_t k = 0; k < v->len; k++) {   /* matching ignores case */
            char c = v->str[k];

            c = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            kta_buf_append(&b, &c, 1);
        }
    }
    if (!b.len)
        kta_buf_appends(&b, "(none)");
    kta_buf_append(&b, "", 1);
    return b.data;
}

/* Does every key of the entry's match equal the rule's logsource value? */
static int ls_matches(const struct kta_lsentry *e, const struct kta_ynode *lsn)
{
    size_t i;

    for (i = 0; i < e->nkeys; i++) {
        const struct kta_ynode *v = kta_ynode_get(lsn, e->keys[i]);

        if (!v || !scalar_text(v) || strcasecmp(v->str, e->vals[i]) != 0)
            return 0;
    }
    return 1;
}

/*
 * Scopes r by the log-source map (docs/rules.md §21).  Returns 0 when the rule
 * is to be loaded, -1 when unmapped: skip drops it (r is then freed and
 * listed in ld->skipped).
 */
static int apply_logsource(struct loader *ld, struct kta_rule *r, const struct kta_ynode *lsn)
{
    const struct kta_fieldmap *fm = ld->fm;
    struct kta_rules_stats *st = ld->d->st;
    size_t i, matched = 0;

    if (lsn->kind != KTA_YNODE_MAP) {
        if (!(lsn->kind == KTA_YNODE_SCALAR && lsn->type == KTA_YT_NULL))
            kta_rules_report(ld->d, KTA_DIAG_WARNING, r->file, lsn->line, lsn->col, r->id,
                             "'logsource' should be a mapping (product, category, service); "
                             "ignored");
        return 0;
    }
    r->logsource = logsource_text(lsn);
    if (!fm || !fm->has_logsources) {
        r->ls_state = KTA_LS_NOMAP;
        st->ls_nomap++;
        return 0;
    }
    for (i = 0; i < fm->nls; i++) {
        if (!ls_matches(&fm->ls[i], lsn))
            continue;
        matched++;
        if (fm->ls[i].where) {
            r->scope = xrealloc(r->scope, (r->nscope + 1) * sizeof(*r->scope));
            r->scope[r->nscope++] = fm->ls[i].scope;
        }
    }
    if (matched) {
        r->ls_state = KTA_LS_SCOPED;
        st->ls_scoped++;
        return 0;
    }
    switch (fm->unmapped) {
    case KTA_UNMAPPED_WARN:
        kta_rules_report(ld->d, KTA_DIAG_WARNING, r->file, lsn->line, lsn->col, r->id,
                         "logsource %s matches no entry of the log-source map; applied to "
                         "every event (unmapped: warn)", r->logsource);
        /* fall through */
    case KTA_UNMAPPED_MATCH_ALL:
        r->ls_state = KTA_LS_UNMAPPED;
        st->ls_unmapped++;
        return 0;
    case KTA_UNMAPPED_SKIP:
        break;
    }
    if (ld->nskipped == ld->skipcap) {
        ld->skipcap = ld->skipcap ? ld->skipcap * 2 : 64;
        ld->skipped = xrealloc(ld->skipped, ld->skipcap * sizeof(*ld->skipped));
    }
    ld->skipped[ld->nskipped++] = (struct kta_logsource_info){
        .id = xstrdup(r->id), .file = xstrdup(r->file), .line = r->line, .col = r->col,
        .logsource = xstrdup(r->logsource), .state = KTA_LS_SKIPPED,
    };
    st->ls_skipped++;
    if (r->name) {   /* a filter may still name it: not an error then */
        ld->skipnames = xrealloc(ld->skipnames, (ld->nskipnames + 1) * sizeof(*ld->skipnames));
        ld->skipnames[ld->nskipnames++] = r->name;
        r->name = NULL;
    }
    kta_rule_free(r);
    return -1;
}

static void load_rule(struct loader *ld, const char *file, const struct kta_ynode *node)
{
    struct kta_rules_diag *d = ld->d;
    struct kta_compile_env env = { .diag = d, .fm = ld->fm, .ph = ld->ph, .file = file };
    const struct kta_ynode *idn, *lvn = NULL, *sevn = NULL, *det = NULL, *lsn = NULL;
    struct kta_rule *r;
    size_t errors0 = d->st->errors;
    size_t i;

    if (node->kind != KTA_YNODE_MAP) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, NULL,
                         "a rule must be a mapping");
        goto invalid_noid;
    }
    r = xcalloc(1, sizeof(*r));
    r->file = xstrdup(file);
    r->line = node->line;
    r->col = node->col;
    r->enabled = 1;
    r->level = "medium";
    r->tags = json_array();
    r->meta = json_object();
    atomic_init(&r->errors, 0);

    idn = kta_ynode_get(node, "id");
    if (!idn) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, NULL,
                         "rule has no 'id'");
    } else if (one_line(d, file, NULL, "", "id", idn)) {
        r->id = xstrdup(idn->str);
        r->id_line = idn->line;
        r->id_col = idn->col;
    }

    for (i = 0; i + 1 < node->n; i += 2) {
        const struct kta_ynode *k = node->items[i], *v = node->items[i + 1];
        const char *key = k->str;

        if (strcmp(key, "id") == 0) {
            continue;
        } else if (strcmp(key, "title") == 0) {
            if (one_line(d, file, r->id, "", key, v))
                r->title = xstrdup(v->str);
        } else if (strcmp(key, "level") == 0 || strcmp(key, "severity") == 0) {
            const char *level = parse_level(d, file, r->id, key, v);

            if (key[0] == 'l')
                lvn = v;
            else
                sevn = v;
            if (level)
                r->level = level;
        } else if (strcmp(key, "tags") == 0) {
            parse_tags(d, file, r->id, v, r->tags);
        } else if (strcmp(key, "enabled") == 0) {
            if (v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_BOOL)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, r->id,
                                 "'enabled' must be true or false");
            else
                r->enabled = v->bval;
        } else if (strcmp(key, "output_topic") == 0) {
            if (!scalar_text(v) || !kta_topic_name_ok(v->str))
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, r->id,
                                 "'output_topic' must be a Kafka topic name (1 to 249 of "
                                 "a-z A-Z 0-9 . _ -)");
            else
                r->output_topic = xstrdup(v->str);
        } else if (strcmp(key, "detection") == 0) {
            det = v;
        } else if (strcmp(key, "name") == 0) {
            if (one_line(d, file, r->id, "", key, v)) {
                r->name = xstrdup(v->str);
                r->name_line = v->line;
                r->name_col = v->col;
            }
        } else if (strcmp(key, "suppress") == 0) {
            parse_suppress(d, file, r, v);
        } else if (strcmp(key, "tests") == 0) {
            parse_tests(d, file, r->id, 0, v, &r->tests, &r->ntests);
        } else {
            if (strcmp(key, "logsource") == 0)
                lsn = v;
            if (strcmp(key, "generate") == 0 &&
                (v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_BOOL))
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, r->id,
                                 "'generate' must be true or false");
            if (!is_sigma_key(key) && strcmp(key, "generate") != 0)
                kta_rules_report(d, KTA_DIAG_WARNING, file, k->line, k->col, r->id,
                                 "unknown key '%s' (kept, not interpreted)", key);
            json_object_setn_new(r->meta, key, k->len, ynode_to_json(v));
        }
    }
    if (lvn && sevn)
        kta_rules_report(d, KTA_DIAG_ERROR, file, sevn->line, sevn->col, r->id,
                         "'level' and 'severity' are synonyms; give only one (level at "
                         "line %d)", lvn->line);
    if (!kta_ynode_get(node, "title"))
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, r->id,
                         "rule has no 'title'");
    if (!det)
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, r->id,
                         "rule has no 'detection'");
    else
        kta_rules_compile_detection(r, det, &env);

    if (d->st->errors != errors0) {
        kta_rule_free(r);
        goto invalid_noid;
    }
    if (lsn && apply_logsource(ld, r, lsn) < 0)
        return;   /* not loaded for its log source */
    ld->valid++;
    r->seq = ld->nrules;
    rule_add(ld, r);
    return;
invalid_noid:
    if (ld->opts->skip_invalid)
        d->st->skipped++;
}

/* `suppress: {by: FIELDS, for: TIMESPAN}` of rule r (docs/rules.md,
 * Suppression): `by` a field name or a list of them (none: one group for
 * the whole rule), `for` required. */
static void parse_suppress(struct kta_rules_diag *d, const char *file, struct kta_rule *r,
                           const struct kta_ynode *v)
{
    const struct kta_ynode *by = NULL, *fr = NULL;
    char **names = NULL;
    size_t n = 0, i;
    int64_t ms = 0;

    if (v->kind != KTA_YNODE_MAP) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, r->id,
                         "'suppress' must be a mapping: {by: [fields], for: 10m}");
        return;
    }
    for (i = 0; i + 1 < v->n; i += 2) {
        const struct kta_ynode *k = v->items[i];

        if (strcmp(k->str, "by") == 0)
            by = v->items[i + 1];
        else if (strcmp(k->str, "for") == 0)
            fr = v->items[i + 1];
        else
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, r->id,
                             "unknown key '%s' in 'suppress' (it takes 'by' and 'for')", k->str);
    }
    if (!fr)
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, r->id,
                         "'suppress' needs 'for' (a timespan such as 10m)");
    else if (parse_timespan(fr, &ms) < 0)
        kta_rules_report(d, KTA_DIAG_ERROR, file, fr->line, fr->col, r->id,
                         "'for' must be a timespan: a positive number and s, m, h or d (e.g. 10m)");
    if (by && string_list(by, &names, NULL, NULL, &n) < 0) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, by->line, by->col, r->id,
                         "'by' must be a field name or a list of field names");
        return;
    }
    if (ms <= 0) {
        for (i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return;
    }
    r->sup_by = names;
    r->nsup_by = n;
    r->sup_for_ms = ms;
}

/* ---- test cases (`tests:`) ---------------------------------------------- */

void kta_rule_tests_free(struct kta_rule_test *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < t[i].nevents; j++)
            free(t[i].events[j]);
        free(t[i].events);
        free(t[i].event_lines);
        json_decref(t[i].hits);
    }
    free(t);
}

/* Adds one event (a mapping, checked by the caller) to case t as compact
 * JSON text, the bytes `kta test` evaluates. */
static void test_event(struct kta_rule_test *t, const struct kta_ynode *ev)
{
    json_t *j = ynode_to_json(ev);

    t->events = xrealloc(t->events, (t->nevents + 1) * sizeof(*t->events));
    t->event_lines = xrealloc(t->event_lines, (t->nevents + 1) * sizeof(*t->event_lines));
    t->events[t->nevents] = json_dumps(j, JSON_COMPACT);
    if (!t->events[t->nevents])
        abort();   /* out of memory: jansson's only failure on an object */
    t->event_lines[t->nevents++] = ev->line;
    json_decref(j);
}

/* A correlation case's `hits:`: a number of hits, or a list of
 * {group: {NAME: VALUE...}, count: N} (either key may be left out), one
 * per hit in the order they come.  Returns the number of errors. */
static int test_hits(struct kta_rules_diag *d, const char *file, const char *id,
                     const struct kta_ynode *v, struct kta_rule_test *t)
{
    int errors = 0;

    if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_INT && v->ival >= 0) {
        t->nhits = (size_t)v->ival;
        return 0;
    }
    if (v->kind != KTA_YNODE_SEQ) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, id,
                         "'hits' must be a number of hits (0 or more) or a list of "
                         "{group: {FIELD: VALUE}, count: N}, one per hit expected");
        return 1;
    }
    t->hits = json_array();
    for (size_t i = 0; i < v->n; i++) {
        const struct kta_ynode *h = v->items[i];
        json_t *jh = json_object();

        if (h->kind != KTA_YNODE_MAP || h->n == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, h->line, h->col, id,
                             "an expected hit must be a mapping with 'group' and/or 'count'");
            errors++;
        }
        for (size_t k = 0; h->kind == KTA_YNODE_MAP && k + 1 < h->n; k += 2) {
            const struct kta_ynode *key = h->items[k], *val = h->items[k + 1];

            if (strcmp(key->str, "group") == 0 && val->kind == KTA_YNODE_MAP) {
                json_object_set_new(jh, "group", ynode_to_json(val));
            } else if (strcmp(key->str, "count") == 0 && val->kind == KTA_YNODE_SCALAR &&
                       val->type == KTA_YT_INT && val->ival >= 1) {
                json_object_set_new(jh, "count", json_integer(val->ival));
            } else {
                kta_rules_report(d, KTA_DIAG_ERROR, file, key->line, key->col, id,
                                 strcmp(key->str, "group") == 0 ?
                                 "'group' must map the group-by fields to their values" :
                                 strcmp(key->str, "count") == 0 ?
                                 "'count' must be a whole number, 1 or more" :
                                 "unknown key '%s' in an expected hit (it takes 'group' and "
                                 "'count')", key->str);
                errors++;
            }
        }
        json_array_append_new(t->hits, jh);
    }
    t->nhits = v->n;
    return errors;
}

/*
 * `tests:` of a rule (corr 0: match / no_match cases) or of a correlation
 * rule (corr 1: events / hits cases), docs/rules.md "Writing and testing
 * rules".  The engine never looks at them; they are checked here so that
 * `kta check` names a malformed case by its place, and kept for `kta
 * test`.  Every problem is an error of the rule.
 */
static void parse_tests(struct kta_rules_diag *d, const char *file, const char *id, int corr,
                        const struct kta_ynode *v, struct kta_rule_test **out, size_t *nout)
{
    const char *expect = corr ? "'events: [EVENT...]' and 'hits: N'" :
                                "'match: EVENT' or 'no_match: EVENT'";

    if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_NULL)
        return;
    if (v->kind != KTA_YNODE_SEQ) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, id,
                         "'tests' must be a list of cases, each %s", expect);
        return;
    }
    *out = xcalloc(v->n ? v->n : 1, sizeof(**out));
    for (size_t i = 0; i < v->n; i++) {
        const struct kta_ynode *c = v->items[i], *evs = NULL, *hits = NULL;
        struct kta_rule_test *t = &(*out)[(*nout)++];
        int have = 0;

        t->line = c->line;
        t->col = c->col;
        if (c->kind != KTA_YNODE_MAP) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, c->line, c->col, id,
                             "a test case must be a mapping: %s", expect);
            continue;
        }
        for (size_t k = 0; k + 1 < c->n; k += 2) {
            const struct kta_ynode *key = c->items[k], *val = c->items[k + 1];
            int is_match = strcmp(key->str, "match") == 0;

            if (!corr && (is_match || strcmp(key->str, "no_match") == 0)) {
                if (have++) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, key->line, key->col, id,
                                     "a test case takes one of 'match' and 'no_match' (make "
                                     "two cases)");
                } else if (val->kind != KTA_YNODE_MAP) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, val->line, val->col, id,
                                     "the event of '%s' must be a mapping (an event object, "
                                     "e.g. {process.name: bash})", key->str);
                } else {
                    t->kind = is_match ? KTA_TEST_MATCH : KTA_TEST_NO_MATCH;
                    test_event(t, val);
                }
            } else if (corr && strcmp(key->str, "events") == 0) {
                evs = val;
            } else if (corr && strcmp(key->str, "hits") == 0) {
                hits = val;
            } else if (strcmp(key->str, "match") == 0 || strcmp(key->str, "no_match") == 0 ||
                       strcmp(key->str, "events") == 0 || strcmp(key->str, "hits") == 0) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, key->line, key->col, id,
                                 "'%s' belongs to the test cases of %s rules; a case of a %s "
                                 "rule is %s", key->str, corr ? "detection" : "correlation",
                                 corr ? "correlation" : "detection", expect);
                have = -1;
            } else {
                kta_rules_report(d, KTA_DIAG_ERROR, file, key->line, key->col, id,
                                 "unknown key '%s' in a test case (expected %s)", key->str,
                                 expect);
                have = -1;
            }
        }
        if (!corr) {
            if (have == 0)
                kta_rules_report(d, KTA_DIAG_ERROR, file, c->line, c->col, id,
                                 "a test case needs %s", expect);
            continue;
        }
        t->kind = KTA_TEST_EVENTS;
        if (!evs || !hits) {
            if (have == 0)
                kta_rules_report(d, KTA_DIAG_ERROR, file, c->line, c->col, id,
                                 "a correlation's test case needs %s", expect);
            continue;
        }
        if (evs->kind != KTA_YNODE_SEQ || evs->n == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, evs->line, evs->col, id,
                             "'events' must be a non-empty list of events, fed in order");
        } else {
            for (size_t e = 0; e < evs->n; e++) {
                if (evs->items[e]->kind != KTA_YNODE_MAP)
                    kta_rules_report(d, KTA_DIAG_ERROR, file, evs->items[e]->line,
                                     evs->items[e]->col, id, "an event must be a mapping "
                                     "(an event object)");
                else
                    test_event(t, evs->items[e]);
            }
        }
        test_hits(d, file, id, hits, t);
    }
}

/* ---- correlation rules --------------------------------------------------- */

void kta_corrdef_free(struct kta_corrdef *c)
{
    size_t i;

    if (!c)
        return;
    free(c->id);
    free(c->title);
    free(c->name);
    json_decref(c->tags);
    free(c->refs);
    for (i = 0; i < c->ngroup; i++)
        free(c->group[i]);
    free(c->group);
    for (i = 0; c->field_of && i < c->ngroup * c->nrefs; i++)
        free(c->field_of[i]);
    free(c->field_of);
    free(c->field);
    free(c->file);
    kta_rule_tests_free(c->tests, c->ntests);
    free(c);
}

/* What a correlation names before resolve() turns it into refs. */
struct corr_pending {
    struct kta_corrdef      *c;
    char                   **names;     /* `rules:` entries */
    int                     *nline, *ncol;
    /* aliases: alias name -> (rule name -> field) */
    const struct kta_ynode  *aliases;   /* borrowed until the file ends: copied */
    char                   **al_name, **al_rule, **al_field;
    int                     *al_line, *al_col;
    size_t                   nal;
};

static int parse_timespan(const struct kta_ynode *v, int64_t *ms)
{
    const char *s = v->str;
    char *end;
    long long n;
    int64_t unit;

    if (v->kind != KTA_YNODE_SCALAR || v->len < 2 || v->len != strlen(s) ||
        s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno || end[0] == '\0' || end[1] != '\0' || n <= 0)
        return -1;
    switch (end[0]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60000; break;
    case 'h': unit = 3600000; break;
    case 'd': unit = 86400000; break;
    default: return -1;
    }
    if (n > INT64_MAX / unit / 2)
        return -1;
    *ms = (int64_t)n * unit;
    return 0;
}

static const char *const corr_types[] = {
    "event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", NULL
};
static const char *const corr_ops[] = { "gt", "gte", "lt", "lte", "eq", "neq", NULL };

/* A list of non-empty strings, or one string. */
static int string_list(const struct kta_ynode *v, char ***out, int **lines, int **cols,
                       size_t *n)
{
    size_t i, cnt = v->kind == KTA_YNODE_SEQ ? v->n : 1;

    if (v->kind == KTA_YNODE_MAP || (v->kind == KTA_YNODE_SCALAR && !scalar_text(v)))
        return -1;
    for (i = 0; v->kind == KTA_YNODE_SEQ && i < v->n; i++)
        if (!scalar_text(v->items[i]))
            return -1;
    *out = xcalloc(cnt, sizeof(**out));
    if (lines) {
        *lines = xcalloc(cnt, sizeof(int));
        *cols = xcalloc(cnt, sizeof(int));
    }
    for (i = 0; i < cnt; i++) {
        const struct kta_ynode *it = v->kind == KTA_YNODE_SEQ ? v->items[i] : v;

        (*out)[i] = xstrdup(it->str);
        if (lines) {
            (*lines)[i] = it->line;
            (*cols)[i] = it->col;
        }
    }
    *n = cnt;
    return 0;
}

static void pending_free(struct corr_pending *p, size_t nrefs)
{
    size_t i;

    for (i = 0; p->names && i < nrefs; i++)
        free(p->names[i]);
    free(p->names);
    free(p->nline);
    free(p->ncol);
    for (i = 0; i < p->nal; i++) {
        free(p->al_name[i]);
        free(p->al_rule[i]);
        free(p->al_field[i]);
    }
    free(p->al_name);
    free(p->al_rule);
    free(p->al_field);
    free(p->al_line);
    free(p->al_col);
}

static void load_correlation(struct loader *ld, const char *file, const struct kta_ynode *node)
{
    struct kta_rules_diag *d = ld->d;
    const struct kta_ynode *cn = kta_ynode_get(node, "correlation");
    const struct kta_ynode *idn = kta_ynode_get(node, "id");
    struct kta_corrdef *c = xcalloc(1, sizeof(*c));
    struct corr_pending p = { .c = c };
    const struct kta_ynode *typen = NULL, *rulesn = NULL, *tsn = NULL, *condn = NULL;
    size_t errors0 = d->st->errors, i;
    int have_type = 0;

    c->file = xstrdup(file);
    c->line = node->line;
    c->col = node->col;
    c->level = "medium";
    c->tags = json_array();
    if (!idn)
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, NULL,
                         "correlation rule has no 'id'");
    else if (one_line(d, file, NULL, "", "id", idn))
        c->id = xstrdup(idn->str);
    for (i = 0; i + 1 < node->n; i += 2) {
        const struct kta_ynode *k = node->items[i], *v = node->items[i + 1];
        const char *key = k->str;

        if (strcmp(key, "id") == 0 || strcmp(key, "correlation") == 0) {
            continue;
        } else if (strcmp(key, "title") == 0) {
            if (one_line(d, file, c->id, "", key, v))
                c->title = xstrdup(v->str);
        } else if (strcmp(key, "name") == 0) {
            if (one_line(d, file, c->id, "", key, v))
                c->name = xstrdup(v->str);
        } else if (strcmp(key, "level") == 0 || strcmp(key, "severity") == 0) {
            const char *level = parse_level(d, file, c->id, key, v);

            if (level)
                c->level = level;
        } else if (strcmp(key, "tags") == 0) {
            parse_tags(d, file, c->id, v, c->tags);
        } else if (strcmp(key, "generate") == 0) {
            if (v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_BOOL)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'generate' must be true or false");
            else
                c->generate = v->bval;
        } else if (strcmp(key, "detection") == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, c->id,
                             "a correlation rule has no 'detection'");
        } else if (strcmp(key, "suppress") == 0) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, c->id,
                             "'suppress' applies to detection rules; a correlation group is "
                             "already quiet after its hit until its window has passed");
        } else if (strcmp(key, "tests") == 0) {
            parse_tests(d, file, c->id, 1, v, &c->tests, &c->ntests);
        } else if (!is_sigma_key(key)) {
            kta_rules_report(d, KTA_DIAG_WARNING, file, k->line, k->col, c->id,
                             "unknown key '%s' (kept, not interpreted)", key);
        }
    }
    if (!kta_ynode_get(node, "title"))
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, c->id,
                         "correlation rule has no 'title'");
    if (cn->kind != KTA_YNODE_MAP) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "'correlation' must be a mapping");
        goto out;
    }
    for (i = 0; i + 1 < cn->n; i += 2) {
        const struct kta_ynode *k = cn->items[i], *v = cn->items[i + 1];
        const char *key = k->str;

        if (strcmp(key, "type") == 0) {
            size_t j;

            typen = v;
            for (j = 0; corr_types[j]; j++)
                if (v->kind == KTA_YNODE_SCALAR && strcmp(v->str, corr_types[j]) == 0)
                    break;
            if (!corr_types[j] && v->kind == KTA_YNODE_SCALAR &&
                (strcmp(v->str, "value_percentile") == 0 || strcmp(v->str, "value_median") == 0)) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'%s' is not supported: the Sigma specification does not "
                                 "say which percentile its condition compares (use value_avg, "
                                 "or value_count with a chain)", v->str);
            } else if (!corr_types[j]) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'type' must be one of event_count, value_count, value_sum, "
                                 "value_avg, temporal, temporal_ordered");
            } else {
                c->type = (enum kta_corr_type)j;
                have_type = 1;
            }
        } else if (strcmp(key, "rules") == 0) {
            rulesn = v;
            if (string_list(v, &p.names, &p.nline, &p.ncol, &c->nrefs) < 0 || c->nrefs == 0)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'rules' must be a rule id or name, or a list of them");
        } else if (strcmp(key, "group-by") == 0) {
            if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_NULL)
                continue;
            if (string_list(v, &c->group, NULL, NULL, &c->ngroup) < 0)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'group-by' must be a list of field names");
        } else if (strcmp(key, "timespan") == 0) {
            tsn = v;
            if (parse_timespan(v, &c->timespan_ms) < 0)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'timespan' must be a positive number followed by s, m, h "
                                 "or d (e.g. 5m)");
        } else if (strcmp(key, "condition") == 0) {
            condn = v;
        } else if (strcmp(key, "field") == 0) {
            if (!scalar_text(v))
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'field' must be a field name");
            else
                c->field = xstrdup(v->str);
        } else if (strcmp(key, "generate") == 0) {
            if (v->kind != KTA_YNODE_SCALAR || v->type != KTA_YT_BOOL)
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'generate' must be true or false");
            else
                c->generate = v->bval;
        } else if (strcmp(key, "aliases") == 0) {
            size_t a, r;

            if (v->kind != KTA_YNODE_MAP) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                 "'aliases' must map alias names to {rule: field} mappings");
                continue;
            }
            for (a = 0; a + 1 < v->n; a += 2) {
                const struct kta_ynode *m = v->items[a + 1];

                if (m->kind != KTA_YNODE_MAP) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, m->line, m->col, c->id,
                                     "alias '%s' must map rule ids or names to fields",
                                     v->items[a]->str);
                    continue;
                }
                for (r = 0; r + 1 < m->n; r += 2) {
                    const struct kta_ynode *f = m->items[r + 1];

                    if (!scalar_text(f)) {
                        kta_rules_report(d, KTA_DIAG_ERROR, file, f->line, f->col, c->id,
                                         "alias '%s': the field must be a field name",
                                         v->items[a]->str);
                        continue;
                    }
                    p.al_name = xrealloc(p.al_name, (p.nal + 1) * sizeof(char *));
                    p.al_rule = xrealloc(p.al_rule, (p.nal + 1) * sizeof(char *));
                    p.al_field = xrealloc(p.al_field, (p.nal + 1) * sizeof(char *));
                    p.al_line = xrealloc(p.al_line, (p.nal + 1) * sizeof(int));
                    p.al_col = xrealloc(p.al_col, (p.nal + 1) * sizeof(int));
                    p.al_name[p.nal] = xstrdup(v->items[a]->str);
                    p.al_rule[p.nal] = xstrdup(m->items[r]->str);
                    p.al_field[p.nal] = xstrdup(f->str);
                    p.al_line[p.nal] = m->items[r]->line;
                    p.al_col[p.nal] = m->items[r]->col;
                    p.nal++;
                }
            }
        } else {
            kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, c->id,
                             "unknown key '%s' in 'correlation'", key);
        }
    }
    if (!typen)
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "'correlation' has no 'type'");
    if (!rulesn)
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "'correlation' has no 'rules'");
    if (!tsn)
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "'correlation' has no 'timespan'");
    /* Sigma puts `field` in the condition; kta took it beside it first. */
    for (i = 0; condn && condn->kind == KTA_YNODE_MAP && i + 1 < condn->n; i += 2) {
        const struct kta_ynode *k = condn->items[i], *v = condn->items[i + 1];

        if (strcmp(k->str, "field") != 0)
            continue;
        if (!scalar_text(v))
            kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                             "'field' must be a field name");
        else if (c->field && strcmp(c->field, v->str) != 0)
            kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                             "'field' is given twice, as '%s' and '%s'", c->field, v->str);
        else if (!c->field)
            c->field = xstrdup(v->str);
    }
    if (have_type && (c->type == KTA_CORR_VALUE_COUNT || c->type == KTA_CORR_VALUE_SUM ||
                      c->type == KTA_CORR_VALUE_AVG) && !c->field)
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "a %s correlation needs 'field' (in its condition)",
                         corr_types[c->type]);
    if (have_type && (c->type == KTA_CORR_EVENT_COUNT || c->type == KTA_CORR_TEMPORAL ||
                      c->type == KTA_CORR_TEMPORAL_ORDERED) && c->field)
        kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                         "'field' is only for value_count, value_sum and value_avg "
                         "correlations");
    if (have_type && (c->type == KTA_CORR_TEMPORAL || c->type == KTA_CORR_TEMPORAL_ORDERED)) {
        if (condn)
            kta_rules_report(d, KTA_DIAG_ERROR, file, condn->line, condn->col, c->id,
                             "a %s correlation takes no 'condition' (every rule must match "
                             "in the timespan)", corr_types[c->type]);
        if (rulesn && c->nrefs < 2)
            kta_rules_report(d, KTA_DIAG_ERROR, file, rulesn->line, rulesn->col, c->id,
                             "a %s correlation needs at least two rules", corr_types[c->type]);
    } else if (have_type) {
        if (!condn) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, cn->line, cn->col, c->id,
                             "'correlation' has no 'condition'");
        } else if (condn->kind != KTA_YNODE_MAP || condn->n == 0 || condn->n > 6) {
            kta_rules_report(d, KTA_DIAG_ERROR, file, condn->line, condn->col, c->id,
                             "'condition' must map one or two of gt, gte, lt, lte, eq, neq "
                             "to numbers");
        } else {
            size_t cond_errors = d->st->errors;

            for (i = 0; i + 1 < condn->n; i += 2) {
                const struct kta_ynode *k = condn->items[i], *v = condn->items[i + 1];
                size_t j;

                if (strcmp(k->str, "field") == 0)
                    continue;   /* above */
                if (c->nops == 2) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, c->id,
                                     "at most two condition keys (a range)");
                    break;
                }
                for (j = 0; corr_ops[j]; j++)
                    if (strcmp(k->str, corr_ops[j]) == 0)
                        break;
                if (!corr_ops[j]) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, k->line, k->col, c->id,
                                     "unknown condition '%s' (gt, gte, lt, lte, eq, neq)",
                                     k->str);
                    continue;
                }
                if (v->kind != KTA_YNODE_SCALAR ||
                    (v->type != KTA_YT_INT && v->type != KTA_YT_FLOAT) || v->dval < 0) {
                    kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, c->id,
                                     "condition '%s' must be a number of at least 0", k->str);
                    continue;
                }
                c->ops[c->nops] = (enum kta_corr_op)j;
                c->vals[c->nops] = v->dval;
                c->nops++;
                if (j == KTA_CO_LT || j == KTA_CO_LTE)
                    c->upper = 1;
            }
            if (c->nops == 0 && d->st->errors == cond_errors)
                kta_rules_report(d, KTA_DIAG_ERROR, file, condn->line, condn->col, c->id,
                                 "'condition' needs one or two of gt, gte, lt, lte, eq, neq");
            if (c->nops == 2) {
                int lo0 = c->ops[0] == KTA_CO_GT || c->ops[0] == KTA_CO_GTE;
                int lo1 = c->ops[1] == KTA_CO_GT || c->ops[1] == KTA_CO_GTE;
                int hi0 = c->ops[0] == KTA_CO_LT || c->ops[0] == KTA_CO_LTE;
                int hi1 = c->ops[1] == KTA_CO_LT || c->ops[1] == KTA_CO_LTE;

                if (!((lo0 && hi1) || (hi0 && lo1)))
                    kta_rules_report(d, KTA_DIAG_ERROR, file, condn->line, condn->col, c->id,
                                     "two condition keys must form a range: one of gt/gte "
                                     "and one of lt/lte");
            }
        }
    }
    for (i = 0; i < p.nal; i++) {
        size_t g;

        for (g = 0; g < c->ngroup; g++)
            if (strcmp(c->group[g], p.al_name[i]) == 0)
                break;
        if (g == c->ngroup)
            kta_rules_report(d, KTA_DIAG_WARNING, file, p.al_line[i], p.al_col[i], c->id,
                             "alias '%s' is not in 'group-by' (ignored)", p.al_name[i]);
    }
out:
    if (d->st->errors != errors0) {
        pending_free(&p, c->nrefs);
        kta_corrdef_free(c);
        if (ld->opts->skip_invalid)
            d->st->skipped++;
        return;
    }
    c->refs = xcalloc(c->nrefs, sizeof(*c->refs));
    ld->corrs = xrealloc(ld->corrs, (ld->ncorrs + 1) * sizeof(*ld->corrs));
    ld->corrs[ld->ncorrs++] = p;
}

/* The rule or correlation a reference names: ids first, then names.
 * Returns 0 and sets *ref, or -1. */
static int corr_lookup(struct loader *ld, const char *name, struct kta_corr_ref *ref)
{
    size_t i;

    for (i = 0; i < ld->nrules; i++)
        if (ld->rules[i]->id && strcmp(ld->rules[i]->id, name) == 0)
            goto rule;
    for (i = 0; i < ld->ncorrs; i++)
        if (ld->corrs[i].c->id && strcmp(ld->corrs[i].c->id, name) == 0)
            goto corr;
    for (i = 0; i < ld->nrules; i++)
        if (ld->rules[i]->name && strcmp(ld->rules[i]->name, name) == 0)
            goto rule;
    for (i = 0; i < ld->ncorrs; i++)
        if (ld->corrs[i].c->name && strcmp(ld->corrs[i].c->name, name) == 0)
            goto corr;
    return -1;
rule:
    ref->is_corr = 0;
    ref->index = i;
    return 0;
corr:
    ref->is_corr = 1;
    ref->index = i;
    return 0;
}

/* Does correlation i reach itself through its references?  state: 0 new,
 * 1 on the path, 2 done. */
static int corr_cycle(struct loader *ld, size_t i, unsigned char *state)
{
    struct kta_corrdef *c = ld->corrs[i].c;

    if (state[i] == 1)
        return 1;
    if (state[i] == 2)
        return 0;
    state[i] = 1;
    for (size_t k = 0; k < c->nrefs; k++)
        if (c->refs[k].is_corr && corr_cycle(ld, c->refs[k].index, state))
            return 1;
    state[i] = 2;
    return 0;
}

static void push_index(size_t **arr, size_t *n, size_t v)
{
    for (size_t i = 0; i < *n; i++)
        if ((*arr)[i] == v)
            return;
    *arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = v;
}

/* Turns every correlation's names into references (after the rules are
 * all loaded and their ids checked), checks for cycles and duplicate ids.
 * Correlations with errors are dropped. */
static void resolve_correlations(struct loader *ld)
{
    struct kta_rules_diag *d = ld->d;
    unsigned char *bad, *state;
    size_t i, k, out;

    if (!ld->ncorrs)
        return;
    bad = xcalloc(ld->ncorrs, 1);
    state = xcalloc(ld->ncorrs, 1);
    for (i = 0; i < ld->ncorrs; i++) {
        struct corr_pending *p = &ld->corrs[i];
        struct kta_corrdef *c = p->c;
        size_t j;

        for (j = 0; j < ld->nrules; j++)
            if (strcmp(ld->rules[j]->id, c->id) == 0) {
                kta_rules_report(d, KTA_DIAG_ERROR, c->file, c->line, c->col, c->id,
                                 "duplicate id (first defined at %s:%d:%d)",
                                 ld->rules[j]->file, ld->rules[j]->id_line,
                                 ld->rules[j]->id_col);
                bad[i] = 1;
            }
        for (j = 0; j < i; j++)
            if (strcmp(ld->corrs[j].c->id, c->id) == 0) {
                kta_rules_report(d, KTA_DIAG_ERROR, c->file, c->line, c->col, c->id,
                                 "duplicate id (first defined at %s:%d:%d)",
                                 ld->corrs[j].c->file, ld->corrs[j].c->line,
                                 ld->corrs[j].c->col);
                bad[i] = 1;
            }
        for (k = 0; k < c->nrefs; k++) {
            if (corr_lookup(ld, p->names[k], &c->refs[k]) < 0) {
                kta_rules_report(d, KTA_DIAG_ERROR, c->file, p->nline[k], p->ncol[k], c->id,
                                 "no rule or correlation has the id or name '%s'",
                                 p->names[k]);
                bad[i] = 1;
                continue;
            }
            for (j = 0; j < k; j++)
                if (c->refs[j].is_corr == c->refs[k].is_corr &&
                    c->refs[j].index == c->refs[k].index) {
                    kta_rules_report(d, KTA_DIAG_ERROR, c->file, p->nline[k], p->ncol[k],
                                     c->id, "'%s' is listed twice in 'rules'", p->names[k]);
                    bad[i] = 1;
                    break;
                }
        }
        c->field_of = xcalloc(c->ngroup * c->nrefs + 1, sizeof(char *));
        for (j = 0; j < p->nal && !bad[i]; j++) {
            struct kta_corr_ref ref;
            size_t g;

            for (g = 0; g < c->ngroup; g++)
                if (strcmp(c->group[g], p->al_name[j]) == 0)
                    break;
            if (g == c->ngroup)
                continue;
            if (corr_lookup(ld, p->al_rule[j], &ref) < 0) {
                kta_rules_report(d, KTA_DIAG_ERROR, c->file, p->al_line[j], p->al_col[j],
                                 c->id, "alias '%s': no rule or correlation has the id or "
                                 "name '%s'", p->al_name[j], p->al_rule[j]);
                bad[i] = 1;
                continue;
            }
            for (k = 0; k < c->nrefs; k++)
                if (c->refs[k].is_corr == ref.is_corr && c->refs[k].index == ref.index)
                    break;
            if (k == c->nrefs) {
                kta_rules_report(d, KTA_DIAG_ERROR, c->file, p->al_line[j], p->al_col[j],
                                 c->id, "alias '%s': '%s' is not one of the correlation's "
                                 "rules", p->al_name[j], p->al_rule[j]);
                bad[i] = 1;
                continue;
            }
            free(c->field_of[g * c->nrefs + k]);
            c->field_of[g * c->nrefs + k] = xstrdup(p->al_field[j]);
        }
    }
    for (i = 0; i < ld->ncorrs; i++) {
        memset(state, 0, ld->ncorrs);
        if (!bad[i] && corr_cycle(ld, i, state)) {
            struct kta_corrdef *c = ld->corrs[i].c;

            kta_rules_report(d, KTA_DIAG_ERROR, c->file, c->line, c->col, c->id,
                             "the correlation refers to itself through its rules (a cycle)");
            bad[i] = 1;
        }
    }
    /* A correlation that refers to a dropped one is dropped too. */
    for (int changed = 1; changed;) {
        changed = 0;
        for (i = 0; i < ld->ncorrs; i++) {
            struct kta_corrdef *c = ld->corrs[i].c;

            for (k = 0; k < c->nrefs && !bad[i]; k++)
                if (c->refs[k].is_corr && bad[c->refs[k].index]) {
                    bad[i] = 1;
                    changed = 1;
                }
        }
    }
    /* Renumber the survivors. */
    {
        size_t *newidx = xcalloc(ld->ncorrs, sizeof(size_t));

        for (i = out = 0; i < ld->ncorrs; i++)
            newidx[i] = bad[i] ? (size_t)-1 : out++;
        for (i = out = 0; i < ld->ncorrs; i++) {
            struct corr_pending *p = &ld->corrs[i];

            if (bad[i]) {
                pending_free(p, p->c->nrefs);
                kta_corrdef_free(p->c);
                if (ld->opts->skip_invalid)
                    d->st->skipped++;
                continue;
            }
            for (k = 0; k < p->c->nrefs; k++)
                if (p->c->refs[k].is_corr)
                    p->c->refs[k].index = newidx[p->c->refs[k].index];
            ld->corrs[out++] = *p;
        }
        ld->ncorrs = out;
        free(newidx);
    }
    free(bad);
    free(state);
}

/* Each rule's `suppress` as a KTA_CORR_SUPPRESS correlation after the
 * real ones (rules.h), and rs->rule_sup pointing to it. */
static void attach_suppressions(struct kta_ruleset *rs)
{
    size_t i, n = 0;

    for (i = 0; i < rs->nrules; i++)
        n += rs->rules[i]->sup_for_ms > 0;
    if (!n)
        return;
    rs->rule_sup = xcalloc(rs->nrules, sizeof(*rs->rule_sup));
    rs->corrs = xrealloc(rs->corrs, (rs->ncorrs + n + 1) * sizeof(*rs->corrs));
    rs->corr_corrs = xrealloc(rs->corr_corrs, (rs->ncorrs + n + 1) * sizeof(*rs->corr_corrs));
    rs->ncorr_corrs = xrealloc(rs->ncorr_corrs, (rs->ncorrs + n + 1) * sizeof(size_t));
    for (i = 0; i < rs->nrules; i++) {
        const struct kta_rule *r = rs->rules[i];
        struct kta_corrdef *c;
        size_t len;

        if (r->sup_for_ms <= 0)
            continue;
        c = xcalloc(1, sizeof(*c));
        len = strlen(r->id) + sizeof("suppress:");
        c->id = xmalloc(len);
        snprintf(c->id, len, "suppress:%s", r->id);
        c->title = xstrdup(r->title ? r->title : r->id);
        c->level = r->level;
        c->tags = json_deep_copy(r->tags);
        c->type = KTA_CORR_SUPPRESS;
        c->refs = xcalloc(1, sizeof(*c->refs));
        c->refs[0].index = i;
        c->nrefs = 1;
        c->ngroup = r->nsup_by;
        c->group = xcalloc(r->nsup_by + 1, sizeof(*c->group));
        for (size_t g = 0; g < r->nsup_by; g++)
            c->group[g] = xstrdup(r->sup_by[g]);
        c->field_of = xcalloc(r->nsup_by + 1, sizeof(*c->field_of));
        c->timespan_ms = r->sup_for_ms;
        c->index = rs->ncorrs;
        c->file = xstrdup(r->file);
        c->line = r->line;
        c->col = r->col;
        rs->corrs[rs->ncorrs] = c;
        rs->corr_corrs[rs->ncorrs] = NULL;
        rs->ncorr_corrs[rs->ncorrs] = 0;
        rs->rule_sup[i] = ++rs->ncorrs;
    }
}

/* Hands the correlations to the ruleset, with the reverse references. */
static void attach_correlations(struct loader *ld, struct kta_ruleset *rs)
{
    size_t i, k;

    rs->rule_corrs = xcalloc(rs->nrules + 1, sizeof(*rs->rule_corrs));
    rs->nrule_corrs = xcalloc(rs->nrules + 1, sizeof(size_t));
    rs->rule_gen = xcalloc(rs->nrules + 1, 1);
    rs->ncorrs = ld->ncorrs;
    rs->corrs = xcalloc(ld->ncorrs + 1, sizeof(*rs->corrs));
    rs->corr_corrs = xcalloc(ld->ncorrs + 1, sizeof(*rs->corr_corrs));
    rs->ncorr_corrs = xcalloc(ld->ncorrs + 1, sizeof(size_t));
    for (i = 0; i < rs->nrules; i++) {
        const json_t *g = json_object_get(rs->rules[i]->meta, "generate");

        rs->rule_gen[i] = json_is_true(g);
    }
    for (i = 0; i < ld->ncorrs; i++) {
        struct kta_corrdef *c = ld->corrs[i].c;

        pending_free(&ld->corrs[i], c->nrefs);
        c->index = i;
        rs->corrs[i] = c;
        for (k = 0; k < c->nrefs; k++) {
            if (c->refs[k].is_corr) {
                push_index(&rs->corr_corrs[c->refs[k].index],
                           &rs->ncorr_corrs[c->refs[k].index], i);
            } else {
                push_index(&rs->rule_corrs[c->refs[k].index],
                           &rs->nrule_corrs[c->refs[k].index], i);
                if (c->generate)
                    rs->rule_gen[c->refs[k].index] = 1;
            }
        }
    }
    for (i = 0; i < rs->nrules; i++)
        if (!rs->nrule_corrs[i])
            rs->rule_gen[i] = 1;
    free(ld->corrs);
    attach_suppressions(rs);
    ld->corrs = NULL;
    ld->ncorrs = 0;
}

/* ---- filters ------------------------------------------------------------ */

static void filter_clear(struct filter *f)
{
    for (size_t i = 0; i < f->nrefs; i++)
        free(f->refs[i]);
    free(f->refs);
    free(f->ref_line);
    free(f->ref_col);
    free(f->file);
    json_decref(f->logsource);
    kta_rule_free(f->cond);
    memset(f, 0, sizeof(*f));
}

static void filters_free(struct loader *ld)
{
    for (size_t i = 0; i < ld->nfilters; i++)
        filter_clear(&ld->filters[i]);
    free(ld->filters);
    ld->filters = NULL;
    ld->nfilters = ld->filtercap = 0;
    for (size_t i = 0; i < ld->nskipnames; i++)
        free(ld->skipnames[i]);
    free(ld->skipnames);
    ld->skipnames = NULL;
    ld->nskipnames = 0;
}

/* Reads `filter: {rules: [...], SEARCHES..., condition}` into f; the
 * searches and condition compile exactly as a rule's detection. */
static void filter_body(struct loader *ld, const char *file, const struct kta_ynode *fn,
                        struct filter *f)
{
    struct kta_rules_diag *d = ld->d;
    struct kta_compile_env env = { .diag = d, .fm = ld->fm, .ph = ld->ph, .file = file };
    const struct kta_ynode *rules = NULL, **items;
    struct kta_ynode det = { .kind = KTA_YNODE_MAP, .line = fn->line, .col = fn->col };
    size_t i, nsearch = 0;

    for (i = 0; i + 1 < fn->n; i += 2) {
        if (strcmp(fn->items[i]->str, "rules") == 0)
            rules = fn->items[i + 1];
        else if (strcmp(fn->items[i]->str, "condition") != 0)
            nsearch++;
    }
    if (!rules) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, fn->line, fn->col, NULL,
                         "filter has no 'rules' (the ids or names of the rules it narrows)");
    } else if (rules->kind != KTA_YNODE_SEQ || rules->n == 0) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, rules->line, rules->col, NULL,
                         "filter 'rules' must be a non-empty list of rule ids or names");
    } else {
        f->refs = xcalloc(rules->n, sizeof(*f->refs));
        f->ref_line = xcalloc(rules->n, sizeof(*f->ref_line));
        f->ref_col = xcalloc(rules->n, sizeof(*f->ref_col));
        for (i = 0; i < rules->n; i++) {
            const struct kta_ynode *t = rules->items[i];

            if (!scalar_text(t) || strchr(t->str, '\n')) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, t->line, t->col, NULL,
                                 "a filter 'rules' entry must be a rule id or name (a "
                                 "non-empty one-line string)");
                continue;
            }
            f->refs[f->nrefs] = xstrdup(t->str);
            f->ref_line[f->nrefs] = t->line;
            f->ref_col[f->nrefs] = t->col;
            f->nrefs++;
        }
    }
    if (nsearch == 0) {
        kta_rules_report(d, KTA_DIAG_ERROR, file, fn->line, fn->col, NULL,
                         "filter has no search identifier (next to 'rules' and "
                         "'condition')");
        return;
    }
    /* The detection is the filter mapping without its `rules`. */
    items = xcalloc(fn->n, sizeof(*items));
    for (i = 0; i + 1 < fn->n; i += 2) {
        if (strcmp(fn->items[i]->str, "rules") == 0)
            continue;
        items[det.n++] = fn->items[i];
        items[det.n++] = fn->items[i + 1];
    }
    det.items = (struct kta_ynode **)items;
    f->cond = xcalloc(1, sizeof(*f->cond));
    f->cond->file = xstrdup(file);
    f->cond->line = fn->line;
    f->cond->col = fn->col;
    f->cond->enabled = 1;
    f->cond->level = "medium";
    atomic_init(&f->cond->errors, 0);
    kta_rules_compile_detection(f->cond, &det, &env);
    free(items);
}

/* A filter document (or a filter in a collection): kept for the filters
 * pass of finish(), which applies it once every rule is known. */
static void load_filter(struct loader *ld, const char *file, const struct kta_ynode *node)
{
    struct kta_rules_diag *d = ld->d;
    const struct kta_ynode *fn = kta_ynode_get(node, "filter");
    struct filter f = { 0 };
    size_t errors0 = d->st->errors, i;

    f.file = xstrdup(file);
    f.line = fn->line;
    f.col = fn->col;
    for (i = 0; i + 1 < node->n; i += 2) {
        const struct kta_ynode *k = node->items[i], *v = node->items[i + 1];

        if (strcmp(k->str, "filter") == 0) {
            continue;
        } else if (strcmp(k->str, "title") == 0 || strcmp(k->str, "id") == 0 ||
                   strcmp(k->str, "name") == 0) {
            one_line(d, file, NULL, "filter ", k->str, v);
        } else if (strcmp(k->str, "logsource") == 0) {
            if (v->kind == KTA_YNODE_SCALAR && v->type == KTA_YT_NULL)
                continue;
            if (v->kind != KTA_YNODE_MAP) {
                kta_rules_report(d, KTA_DIAG_ERROR, file, v->line, v->col, NULL,
                                 "filter 'logsource' must be a mapping (product, category, "
                                 "service)");
                continue;
            }
            f.logsource = ynode_to_json(v);
            f.ls_line = v->line;
            f.ls_col = v->col;
        } else if (!is_sigma_key(k->str) && strcmp(k->str, "tags") != 0) {
            kta_rules_report(d, KTA_DIAG_WARNING, file, k->line, k->col, NULL,
                             "unknown key '%s' in a filter (ignored)", k->str);
        }
    }
    if (!kta_ynode_get(node, "title"))
        kta_rules_report(d, KTA_DIAG_ERROR, file, node->line, node->col, NULL,
                         "filter has no 'title'");
    if (fn->kind != KTA_YNODE_MAP)
        kta_rules_report(d, KTA_DIAG_ERROR, file, fn->line, fn->col, NULL,
                         "'filter' must be a mapping with 'rules', searches and 'condition'");
    else
        filter_body(ld, file, fn, &f);
    if (d->st->errors != errors0) {
        filter_clear(&f);
        if (ld->opts->skip_invalid)
            d->st->skipped++;
        return;
    }
    if (ld->nfilters == ld->filtercap) {
        ld->filtercap = ld->filtercap ? ld->filtercap * 2 : 16;
        ld->filters = xrealloc(ld->filters, ld->filtercap * sizeof(*ld->filters));
    }
    ld->filters[ld->nfilters++] = f;
}

/* A rule or a filter, at the top of a document or in a collection. */
static void load_item(struct loader *ld, const char *file, const struct kta_ynode *node)
{
    const struct kta_ynode *det, *fn;

    if (node->kind != KTA_YNODE_MAP) {
        load_rule(ld, file, node);   /* reports it */
        return;
    }
    det = kta_ynode_get(node, "detection");
    fn = kta_ynode_get(node, "filter");
    if (det && fn) {
        kta_rules_report(ld->d, KTA_DIAG_ERROR, file, fn->line, fn->col, NULL,
                         "a document is a rule ('detection') or a filter ('filter'), not "
                         "both");
        if (ld->opts->skip_invalid)
            ld->d->st->skipped++;
        return;
    }
    if (kta_ynode_get(node, "correlation"))
        load_correlation(ld, file, node);
    else if (fn)
        load_filter(ld, file, node);
    else
        load_rule(ld, file, node);
}

static void load_document(struct loader *ld, const char *file, const struct kta_ynode *doc)
{
    const struct kta_ynode *rules;
    size_t i;

    if (doc->kind == KTA_YNODE_SCALAR && doc->type == KTA_YT_NULL)
        return;     /* an empty document, e.g. after a trailing '---' */
    if (doc->kind == KTA_YNODE_MAP &&
        (kta_ynode_get(doc, "detection") || kta_ynode_get(doc, "filter") ||
         kta_ynode_get(doc, "correlation"))) {
        load_item(ld, file, doc);
        return;
    }
    rules = kta_ynode_get(doc, "rules");
    if (!rules) {
        const struct kta_ynode *idn = kta_ynode_get(doc, "id");

        kta_rules_report(ld->d, KTA_DIAG_ERROR, file, doc->line, doc->col,
                         idn && scalar_text(idn) ? idn->str : NULL,
                         "a document must be a rule (a mapping with 'detection'), a "
                         "filter (a mapping with 'filter') or a collection (a mapping "
                         "with 'rules')");
        if (ld->opts->skip_invalid)
            ld->d->st->skipped++;
        return;
    }
    for (i = 0; i + 1 < doc->n; i += 2)
        if (strcmp(doc->items[i]->str, "rules") != 0)
            kta_rules_report(ld->d, KTA_DIAG_WARNING, file, doc->items[i]->line,
                             doc->items[i]->col, NULL,
                             "unknown key '%s' in a rule collection (ignored)",
                             doc->items[i]->str);
    if (rules->kind != KTA_YNODE_SEQ) {
        kta_rules_report(ld->d, KTA_DIAG_ERROR, file, rules->line, rules->col, NULL,
                         "'rules' must be a list of rules");
        if (ld->opts->skip_invalid)
            ld->d->st->skipped++;
        return;
    }
    for (i = 0; i < rules->n; i++)
        load_item(ld, file, rules->items[i]);
}

static void load_text(struct loader *ld, const char *file, const char *text, size_t len)
{
    struct ybuild yb = { .file = file, .d = ld->d };
    size_t i;

    ld->d->st->files++;
    digest_add(ld->d, 'r', text, len);
    parse_yaml(&yb, text, len);
    for (i = 0; i < yb.ndocs; i++)
        load_document(ld, file, yb.docs[i]);
    if (ld->opts->skip_invalid)
        ld->d->st->skipped += yb.nbad;
    yb_free(&yb);
}

static void load_file(struct loader *ld, const char *file)
{
    char err[512];
    char *text;
    size_t len;
    struct stat sb;

    if (stat(file, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size > KTA_RULES_MAX_FILE) {
        ld->d->st->files++;
        kta_rules_report(ld->d, KTA_DIAG_ERROR, file, 1, 1, NULL,
                         "rule file is larger than 4 MiB (%lld bytes)", (long long)sb.st_size);
        if (ld->opts->skip_invalid)
            ld->d->st->skipped++;
        return;
    }
    text = kta_read_file(file, KTA_RULES_MAX_FILE, &len, err, sizeof(err));
    if (!text) {
        ld->d->st->files++;
        kta_rules_report(ld->d, KTA_DIAG_ERROR, file, 0, 0, NULL, "cannot read: %s", err);
        if (ld->opts->skip_invalid)
            ld->d->st->skipped++;
        return;
    }
    load_text(ld, file, text, len);
    free(text);
}

static int has_rule_suffix(const char *name)
{
    size_t n = strlen(name);

    return (n > 4 && strcmp(name + n - 4, ".yml") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects rule files under dir.  Symlinked directories are not followed
 * (a link cycle must not hang the loader); symlinked files are read. */
static int collect(struct loader *ld, const char *dir, char ***paths, size_t *n, size_t *cap)
{
    DIR *dp = opendir(dir);
    struct dirent *de;

    if (!dp) {
        kta_rules_report(ld->d, KTA_DIAG_ERROR, dir, 0, 0, NULL, "cannot open directory: %s",
                         strerror(errno));
        return -1;
    }
    while ((de = readdir(dp)) != NULL) {
        struct stat sb;
        char *p;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = xasprintf("%s/%s", dir, de->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            collect(ld, p, paths, n, cap);
            free(p);
            continue;
        }
        if (!has_rule_suffix(de->d_name) || stat(p, &sb) != 0 || S_ISDIR(sb.st_mode)) {
            free(p);
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            *paths = xrealloc(*paths, *cap * sizeof(**paths));
        }
        (*paths)[(*n)++] = p;
    }
    closedir(dp);
    return 0;
}

static int cmp_rule_id(const void *a, const void *b)
{
    const struct kta_rule *ra = *(struct kta_rule *const *)a;
    const struct kta_rule *rb = *(struct kta_rule *const *)b;
    int c = strcmp(ra->id, rb->id);

    if (c)
        return c;
    return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

/* Ids must be unique across the ruleset: the first definition (in load
 * order) wins and every later one is an error. */
static void check_duplicate_ids(struct loader *ld)
{
    struct kta_rule **sorted;
    size_t i, first, out;
    int dup = 0;

    if (ld->nrules < 2)
        return;
    sorted = xmalloc(ld->nrules * sizeof(*sorted));
    memcpy(sorted, ld->rules, ld->nrules * sizeof(*sorted));
    qsort(sorted, ld->nrules, sizeof(*sorted), cmp_rule_id);
    for (i = 1, first = 0; i < ld->nrules; i++) {
        if (strcmp(sorted[i]->id, sorted[first]->id) != 0) {
            first = i;
            continue;
        }
        kta_rules_report(ld->d, KTA_DIAG_ERROR, sorted[i]->file, sorted[i]->id_line,
                         sorted[i]->id_col, sorted[i]->id,
                         "duplicate id (first defined at %s:%d:%d)", sorted[first]->file,
                         sorted[first]->id_line, sorted[first]->id_col);
        sorted[i]->dup = 1;
        dup = 1;
    }
    free(sorted);
    if (!dup)
        return;
    for (i = out = 0; i < ld->nrules; i++) {
        if (ld->rules[i]->dup) {
            kta_rule_free(ld->rules[i]);
            ld->valid--;
            if (ld->opts->skip_invalid)
                ld->d->st->skipped++;
            continue;
        }
        ld->rules[out++] = ld->rules[i];
    }
    ld->nrules = out;
}

static int cmp_rule_name(const void *a, const void *b)
{
    const struct kta_rule *ra = *(struct kta_rule *const *)a;
    const struct kta_rule *rb = *(struct kta_rule *const *)b;
    int c = strcmp(ra->name, rb->name);

    if (c)
        return c;
    return ra->seq < rb->seq ? -1 : ra->seq > rb->seq;
}

/* Names, like ids, are unique across the ruleset; a later duplicate is an
 * error (and dropped with skip_invalid). */
static void check_duplicate_names(struct loader *ld)
{
    struct kta_rule **named = xcalloc(ld->nrules + 1, sizeof(*named));
    size_t i, n = 0, out, first;
    int dup = 0;

    for (i = 0; i < ld->nrules; i++)
        if (ld->rules[i]->name)
            named[n++] = ld->rules[i];
    if (n > 1)
        qsort(named, n, sizeof(*named), cmp_rule_name);
    for (i = 1, first = 0; i < n; i++) {
        if (strcmp(named[i]->name, named[first]->name) != 0) {
            first = i;
            continue;
        }
        kta_rules_report(ld->d, KTA_DIAG_ERROR, named[i]->file, named[i]->name_line,
                         named[i]->name_col, named[i]->id,
                         "duplicate name '%s' (first given at %s:%d:%d)", named[i]->name,
                         named[first]->file, named[first]->name_line, named[first]->name_col);
        named[i]->dup = 1;
        dup = 1;
    }
    free(named);
    if (!dup)
        return;
    for (i = out = 0; i < ld->nrules; i++) {
        if (ld->rules[i]->dup) {
            kta_rule_free(ld->rules[i]);
            ld->valid--;
            if (ld->opts->skip_invalid)
                ld->d->st->skipped++;
            continue;
        }
        ld->rules[out++] = ld->rules[i];
    }
    ld->nrules = out;
}

struct kta_rule *kta_rules_find_ref(struct kta_rule *const *rules, size_t nrules,
                                    const char *ref)
{
    size_t i;

    for (i = 0; i < nrules; i++)
        if (strcmp(rules[i]->id, ref) == 0)
            return rules[i];
    for (i = 0; i < nrules; i++)
        if (rules[i]->name && strcmp(rules[i]->name, ref) == 0)
            return rules[i];
    return NULL;
}

/* Was ref a rule left out for its log source (unmapped: skip)?  Naming one
 * is no error: the filter has nothing to narrow there. */
static int ref_skipped(const struct loader *ld, const char *ref)
{
    size_t i;

    for (i = 0; i < ld->nskipped; i++)
        if (strcmp(ld->skipped[i].id, ref) == 0)
            return 1;
    for (i = 0; i < ld->nskipnames; i++)
        if (strcmp(ld->skipnames[i], ref) == 0)
            return 1;
    return 0;
}

/* The string value of a logsource key, or NULL. */
static const char *ls_value(const json_t *ls, const char *key)
{
    return json_string_value(json_object_get(ls, key));
}

/* Does every key of the entry's match equal the logsource's value? */
static int ls_entry_matches_json(const struct kta_lsentry *e, const json_t *ls)
{
    for (size_t i = 0; i < e->nkeys; i++) {
        const char *v = ls_value(ls, e->keys[i]);

        if (!v || strcasecmp(v, e->vals[i]) != 0)
            return 0;
    }
    return 1;
}

/*
 * Does filter f, with its logsource, apply to the named rule r?  With a
 * log-source map: when one entry of the map matches both the filter's and
 * the rule's logsource.  Without one: when every product, category and
 * service the filter gives equals the rule's (ASCII case-insensitive).
 */
static int filter_applies(const struct loader *ld, const struct filter *f,
                          const struct kta_rule *r)
{
    static const char *const keys[] = { "product", "category", "service" };
    const json_t *rls = json_object_get(r->meta, "logsource");
    size_t i;

    if (!f->logsource)
        return 1;
    if (ld->fm && ld->fm->has_logsources) {
        if (!json_is_object(rls))
            return 0;
        for (i = 0; i < ld->fm->nls; i++)
            if (ls_entry_matches_json(&ld->fm->ls[i], f->logsource) &&
                ls_entry_matches_json(&ld->fm->ls[i], rls))
                return 1;
        return 0;
    }
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *fv = ls_value(f->logsource, keys[i]), *rv;

        if (!fv)
            continue;
        rv = json_is_object(rls) ? ls_value(rls, keys[i]) : NULL;
        if (!rv || strcasecmp(fv, rv) != 0)
            return 0;
    }
    return 1;
}

/*
 * The filters pass: resolves each filter's rules and ANDs its condition
 * into each rule it applies to, as one more scope (eval.c evaluates a
 * rule's scopes before its condition, the prefilter never looks at them,
 * so a filter can only narrow a rule).  Filters that apply to some rule
 * are appended to *scopes, numbered after the log-source wheres.
 */
static void apply_filters(struct loader *ld, struct kta_rule **scopes, size_t *nscopes)
{
    struct kta_rules_diag *d = ld->d;
    struct kta_rule **targets = NULL;
    size_t base = ld->fm ? ld->fm->nscopes : 0;   /* log-source scopes come first */
    size_t i, j, k;

    for (i = 0; i < ld->nfilters; i++) {
        struct filter *f = &ld->filters[i];
        size_t errors0 = d->st->errors, nt = 0;

        if (f->logsource && ld->fm && ld->fm->has_logsources) {
            for (k = 0; k < ld->fm->nls; k++)
                if (ls_entry_matches_json(&ld->fm->ls[k], f->logsource))
                    break;
            if (k == ld->fm->nls)
                kta_rules_report(d, KTA_DIAG_WARNING, f->file, f->ls_line, f->ls_col, NULL,
                                 "filter logsource matches no entry of the log-source map; "
                                 "the filter applies to no rule");
        }
        targets = xrealloc(targets, (f->nrefs + 1) * sizeof(*targets));
        for (j = 0; j < f->nrefs; j++) {
            struct kta_rule *r = kta_rules_find_ref(ld->rules, ld->nrules, f->refs[j]);

            if (!r) {
                if (!ref_skipped(ld, f->refs[j]))
                    kta_rules_report(d, KTA_DIAG_ERROR, f->file, f->ref_line[j],
                                     f->ref_col[j], NULL,
                                     "filter names rule '%s', which is not loaded (no rule "
                                     "has that id or name)", f->refs[j]);
                continue;
            }
            for (k = 0; k < nt && targets[k] != r; k++)
                ;
            if (k == nt && filter_applies(ld, f, r))
                targets[nt++] = r;   /* named twice (id and name): once */
        }
        if (d->st->errors != errors0) {
            if (ld->opts->skip_invalid)
                d->st->skipped++;
            continue;
        }
        d->st->filters++;
        if (nt == 0)
            continue;
        for (j = 0; j < nt; j++) {
            struct kta_rule *r = targets[j];

            r->scope = xrealloc(r->scope, (r->nscope + 1) * sizeof(*r->scope));
            r->scope[r->nscope++] = base + *nscopes;
            r->nfilters++;
            d->st->filter_uses++;
        }
        scopes[(*nscopes)++] = f->cond;
        f->cond = NULL;
    }
    free(targets);
    for (i = 0; i < ld->nrules; i++)
        d->st->filtered += ld->rules[i]->nfilters > 0;
}

static void skipped_free(struct loader *ld)
{
    for (size_t i = 0; i < ld->nskipped; i++) {
        free((char *)ld->skipped[i].id);
        free((char *)ld->skipped[i].file);
        free((char *)ld->skipped[i].logsource);
    }
    free(ld->skipped);
    ld->skipped = NULL;
    ld->nskipped = 0;
}

/* Shared tail of both entry points: ids, counts, and the verdict. */
static struct kta_ruleset *finish(struct loader *ld, struct kta_rules_stats *st)
{
    struct kta_ruleset *rs = NULL;
    struct kta_rule **fscopes = NULL;   /* filters that apply, as scopes */
    size_t i, nfscopes = 0;

    check_duplicate_ids(ld);
    check_duplicate_names(ld);
    if (ld->nfilters) {
        /* Resolved now (every file read), for the errors even when the
         * load fails; the scopes they become are built below. */
        fscopes = xcalloc(ld->nfilters + 1, sizeof(*fscopes));
        apply_filters(ld, fscopes, &nfscopes);
    }
    resolve_correlations(ld);
    ld->d->st->rules = ld->valid;
    ld->d->st->correlations = ld->ncorrs;
    ld->d->st->enabled = 0;
    for (i = 0; i < ld->nrules; i++)
        ld->d->st->enabled += ld->rules[i]->enabled != 0;
    if (ld->d->st->errors && !ld->opts->skip_invalid) {
        for (i = 0; i < ld->nrules; i++)
            kta_rule_free(ld->rules[i]);
        free(ld->rules);
        for (i = 0; i < nfscopes; i++)
            kta_rule_free(fscopes[i]);
        for (i = 0; i < ld->ncorrs; i++) {
            pending_free(&ld->corrs[i], ld->corrs[i].c->nrefs);
            kta_corrdef_free(ld->corrs[i].c);
        }
        free(ld->corrs);
        ld->corrs = NULL;
        ld->ncorrs = 0;
    } else {
        struct kta_rule **scopes = NULL;
        size_t nscopes = 0;

        scopes = xcalloc((ld->fm ? ld->fm->nls : 0) + nfscopes + 1, sizeof(*scopes));
        if (ld->fm) {
            for (i = 0; i < ld->fm->nls; i++) {
                if (ld->fm->ls[i].where) {
                    scopes[nscopes++] = ld->fm->ls[i].where;
                    ld->fm->ls[i].where = NULL;
                }
            }
        }
        /* Filter scopes are numbered after the log-source ones. */
        for (i = 0; i < nfscopes; i++)
            scopes[nscopes++] = fscopes[i];
        rs = kta_ruleset_new(ld->rules, ld->nrules, scopes, nscopes);
        attach_correlations(ld, rs);
        digest_finish(ld->d->digest, rs);
        rs->skipped = ld->skipped;
        rs->nskipped = ld->nskipped;
        ld->skipped = NULL;
        ld->nskipped = 0;
    }
    free(fscopes);
    filters_free(ld);
    skipped_free(ld);
    ld->rules = NULL;
    ld->nrules = 0;
    if (st)
        *st = *ld->d->st;
    kta_fieldmap_free(ld->fm);
    ld->fm = NULL;
    kta_placeholders_free(ld->ph);
    ld->ph = NULL;
    digest_free(ld->d->digest);
    ld->d->digest = NULL;
    return rs;
}

/* Sets up the loader and reads the field map and the placeholders.
 * Returns -1 when either is unusable (the load then fails even with
 * skip_invalid). */
static int start(struct loader *ld, struct kta_rules_diag *d, struct kta_rules_stats *own,
                 const struct kta_rules_opts *opts, char *errstr, size_t errstr_size)
{
    static const struct kta_rules_opts defaults;

    memset(own, 0, sizeof(*own));
    memset(d, 0, sizeof(*d));
    memset(ld, 0, sizeof(*ld));
    d->opts = opts ? opts : &defaults;
    d->st = own;
    d->errstr = errstr;
    d->errstr_size = errstr_size;
    if (errstr && errstr_size)
        errstr[0] = '\0';
    ld->d = d;
    ld->opts = d->opts;
    d->digest = digest_new();
    if (ld->opts->fieldmap) {
        ld->fm = fieldmap_load(d, ld->opts->fieldmap);
        if (!ld->fm)
            return -1;
    }
    if (ld->opts->placeholders) {
        ld->ph = placeholders_load(d, ld->opts->placeholders);
        if (!ld->ph)
            return -1;
    }
    return 0;
}

/* Loads the rule files under one path (a file or a directory).  Returns
 * -1 when the path itself cannot be read: not an invalid rule but a wrong
 * setup, so the load then fails even with skip_invalid. */
static int load_path(struct loader *ld, const char *path)
{
    struct stat sb;
    char **paths = NULL;
    size_t n = 0, cap = 0, i;

    if (stat(path, &sb) != 0) {
        kta_rules_report(ld->d, KTA_DIAG_ERROR, path, 0, 0, NULL, "cannot read: %s",
                         strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        load_file(ld, path);
        return 0;
    }
    if (collect(ld, path, &paths, &n, &cap) < 0)
        return -1;
    if (n > 1)   /* qsort(NULL, 0) is undefined */
        qsort(paths, n, sizeof(*paths), cmp_path);
    for (i = 0; i < n; i++) {
        load_file(ld, paths[i]);
        free(paths[i]);
    }
    free(paths);
    if (n == 0)
        kta_rules_report(ld->d, KTA_DIAG_WARNING, path, 0, 0, NULL,
                         "no *.yml or *.yaml files found");
    return 0;
}

/* A load that cannot go on: frees what it holds, reports its counts. */
static struct kta_ruleset *abandon(struct loader *ld, struct kta_rules_stats *st)
{
    for (size_t i = 0; i < ld->nrules; i++)
        kta_rule_free(ld->rules[i]);
    free(ld->rules);
    filters_free(ld);
    skipped_free(ld);
    kta_fieldmap_free(ld->fm);
    kta_placeholders_free(ld->ph);
    digest_free(ld->d->digest);
    if (st)
        *st = *ld->d->st;
    return NULL;
}

struct kta_ruleset *kta_rules_load_paths(const char *const *paths, size_t npaths,
                                         const struct kta_rules_opts *opts,
                                         struct kta_rules_stats *st,
                                         char *errstr, size_t errstr_size)
{
    struct kta_rules_stats own;
    struct kta_rules_diag d;
    struct loader ld;
    size_t i;

    if (start(&ld, &d, &own, opts, errstr, errstr_size) < 0)
        return abandon(&ld, st);
    for (i = 0; i < npaths; i++)
        if (load_path(&ld, paths[i]) < 0)
            return abandon(&ld, st);
    return finish(&ld, st);
}

struct kta_ruleset *kta_rules_load(const char *path, const struct kta_rules_opts *opts,
                                   struct kta_rules_stats *st,
                                   char *errstr, size_t errstr_size)
{
    return kta_rules_load_paths(&path, 1, opts, st, errstr, errstr_size);
}

struct kta_ruleset *kta_rules_load_string(const char *name, const char *yaml, size_t len,
                                          const struct kta_rules_opts *opts,
                                          struct kta_rules_stats *st,
                                          char *errstr, size_t errstr_size)
{
    struct kta_rules_stats own;
    struct kta_rules_diag d;
    struct loader ld;

    if (start(&ld, &d, &own, opts, errstr, errstr_size) < 0)
        return abandon(&ld, st);
    if (len > KTA_RULES_MAX_FILE) {
        own.files++;
        kta_rules_report(&d, KTA_DIAG_ERROR, name, 1, 1, NULL,
                         "rule file is larger than 4 MiB (%zu bytes)", len);
    } else {
        load_text(&ld, name, yaml, len);
    }
    return finish(&ld, st);
}

/* ---- change detection -------------------------------------------------- */

/* Mixes a file's name, size, inode and modification time into h; a file
 * that cannot be stat'ed mixes in only its name (so its return counts). */
static uint64_t fingerprint_file(uint64_t h, const char *file)
{
    struct stat sb;

    h = kta_fnv1a(h, file, strlen(file) + 1);
    if (stat(file, &sb) == 0) {
        h = kta_fnv1a(h, &sb.st_size, sizeof(sb.st_size));
        h = kta_fnv1a(h, &sb.st_ino, sizeof(sb.st_ino));
        h = kta_fnv1a(h, &sb.st_mtim, sizeof(sb.st_mtim));
    }
    return h;
}

uint64_t kta_rules_fingerprint(const char *const *paths, size_t npaths, const char *fieldmap,
                               const char *placeholders)
{
    struct kta_rules_stats own = { 0 };
    struct kta_rules_opts quiet = { 0 };
    struct kta_rules_diag d = { &quiet, &own, NULL, 0, 0, NULL };
    struct loader ld = { 0 };
    uint64_t h = KTA_FNV_SEED;

    ld.d = &d;
    ld.opts = &quiet;
    if (fieldmap)
        h = fingerprint_file(h, fieldmap);
    if (placeholders)
        h = fingerprint_file(h, placeholders);
    for (size_t k = 0; k < npaths; k++) {
        struct stat sb;
        char **files = NULL;
        size_t n = 0, cap = 0;

        if (stat(paths[k], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
            h = fingerprint_file(h, paths[k]);
            continue;
        }
        collect(&ld, paths[k], &files, &n, &cap);
        if (n > 1)
            qsort(files, n, sizeof(*files), cmp_path);
        for (size_t i = 0; i < n; i++) {
            h = fingerprint_file(h, files[i]);
            free(files[i]);
        }
        free(files);
    }
    return h;
}
