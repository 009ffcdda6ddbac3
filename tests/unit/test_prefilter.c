/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the prefilter path: kta_event_check never vouches for a
 * record jansson would reject, and kta_eval_raw (check + prefilter + lazy
 * parse) gives exactly the hits and dead-letter reasons of the plain path
 * (kta_event_decode + kta_eval) — a differential test over random rules
 * and events, the tests/rules cases, rules/, and the Sigma corpus in
 * ../shared/sigma/rules when it is there (skipped otherwise) — also on
 * generated sysmon and linux events under the windows and linux log-source
 * maps and without a map, in every event layout and with mutations aimed
 * at the flat value list the production path evaluates.
 * Run from the repository root (make test-unit does).
 */
#include "rules_int.h"
#include "kta/event.h"
#include "kta/gen.h"
#include "kta/hit.h"
#include "tap.h"

/* Sanitizer builds run the big differential sets smaller: the same code
 * paths, a fraction of the events (TSan slows this test 10x). */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define KTA_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(KTA_TEST_SANITIZED)
#define KTA_TEST_SMALL 1
#else
#define KTA_TEST_SMALL 0
#endif

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rs_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rs_state ^= rs_state << 13;
    rs_state ^= rs_state >> 7;
    rs_state ^= rs_state << 17;
    return rs_state;
}

static size_t pick(size_t n)
{
    return (size_t)(rnd() % n);
}

/* ---- kta_event_check --------------------------------------------------- */

static void test_check_cases(void)
{
    static const struct { const char *json; int plain; } rows[] = {
        { "{}", 1 },
        { " {\"a\":1} \n", 1 },
        { "{\"a\":\"x\",\"b\":[1,true,false,null,{\"c\":\"d\"}],\"e\":{}}", 1 },
        { "{\"a\":\"c:\\\\win\\\"q\\n\\t\\r\\b\\f\"}", 1 },
        { "{\"a\":-0}", 1 },
        { "{\"a\":123456789012345678}", 1 },
        { "{\"a\":1234567890123456789}", 0 },   /* may not fit */
        { "{\"a\":1.5}", 0 },                   /* reals: text differs */
        { "{\"a\":1e3}", 0 },
        { "{\"a\":01}", 0 },
        { "{\"a\":-}", 0 },
        { "{\"a\":\"\\u0041\"}", 0 },
        { "{\"a\":\"\\/\"}", 0 },
        { "{\"a\":\"\xc3\xa4\"}", 2 },           /* non-ASCII UTF-8 */
        { "{\"\xc3\xa4\":\"\xf0\x9f\x98\x80\"}", 2 },/* in keys too; 4 bytes */
        { "{\"a\":\"\xe2\x84\xaa\"}", 0 },       /* KELVIN SIGN folds to k */
        { "{\"a\":\"\xc5\xbf\"}", 0 },           /* LONG S folds to s */
        { "{\"a\":\"\xc0\xaf\"}", 0 },           /* overlong */
        { "{\"a\":\"\xed\xa0\x80\"}", 0 },       /* surrogate */
        { "{\"a\":\"\xf4\x90\x80\x80\"}", 0 },   /* past U+10FFFF */
        { "{\"a\":\"\xc3\"}", 0 },               /* truncated */
        { "{\"a\":\"\xff\"}", 0 },
        { "{\"a\":\"\x01\"}", 0 },
        { "{\"a\":1,\"a\":2}", 0 },             /* duplicate key */
        { "{\"a\":{\"b\":1},\"b\":{\"b\":2}}", 1 },
        { "{\"a\":{\"b\":1,\"b\":2}}", 0 },
        { "{\"a\\\\\":1,\"a\\\\\":2}", 0 },
        { "[1]", 0 },
        { "\"x\"", 0 },
        { "{\"a\":1}x", 0 },
        { "{\"a\":1,}", 0 },
        { "{\"a\" 1}", 0 },
        { "{\"a\":tru}", 0 },
        { "{\"a\":[1,]}", 0 },
        { "", 0 },
        { "{", 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = (int)kta_event_check(rows[i].json, strlen(rows[i].json));

        if (got != rows[i].plain)
            fprintf(stderr, "check(%s) = %d\n", rows[i].json, got);
        CHECK_INT(got, rows[i].plain);
    }
}

static void test_check_depth(void)
{
    struct kta_buf b = { 0 };
    int d;

    for (d = 63; d <= 65; d++) {
        kta_buf_reset(&b);
        kta_buf_appends(&b, "{\"a\":");
        for (int k = 1; k < d; k++)
            kta_buf_appends(&b, k % 2 ? "[" : "{\"x\":");
        kta_buf_appends(&b, "1");
        for (int k = d - 1; k >= 1; k--)
            kta_buf_appends(&b, k % 2 ? "]" : "}");
        kta_buf_appends(&b, "}");
        CHECK_INT(kta_event_check(b.data, b.len) == KTA_EVENT_PLAIN, d <= KTA_EVENT_MAX_DEPTH);
    }
    kta_buf_free(&b);
}

/* Mutated records: whatever the check calls PLAIN, jansson must accept. */
static void test_check_never_lies(void)
{
    static const char alphabet[] = "{}[]\",:\\ 0123456789-.eEtrufalsn\"\"ab/u\x01\xc3\xa4";
    struct kta_gen g;
    struct kta_buf ev = { 0 }, mut = { 0 };
    size_t plain = 0, lies = 0;
    int i;

    kta_gen_init(&g, 7, 0.2);
    for (i = 0; i < 200000; i++) {
        enum kta_event_error err;
        char detail[256];
        json_t *j;
        int k, edits = 1 + (int)pick(3);

        if (i % 20 == 0) {
            kta_buf_reset(&ev);
            kta_gen_event(&g, &ev);
        }
        kta_buf_reset(&mut);
        kta_buf_append(&mut, ev.data, ev.len);
        for (k = 0; k < edits && mut.len > 1; k++) {
            size_t at = pick(mut.len);
            char c = alphabet[pick(sizeof(alphabet) - 1)];

            switch (pick(3)) {
            case 0:
                mut.data[at] = c;
                break;
            case 1:
                memmove(mut.data + at, mut.data + at + 1, mut.len - at - 1);
                mut.len--;
                break;
            default:
                kta_buf_append(&mut, "", 1);
                memmove(mut.data + at + 1, mut.data + at, mut.len - at - 1);
                mut.data[at] = c;
                break;
            }
        }
        if (kta_event_check(mut.data, mut.len) == KTA_EVENT_UNSURE)
            continue;
        plain++;
        j = kta_event_decode(mut.data, mut.len, 0, &err, detail, sizeof(detail));
        if (!j) {
            if (lies++ < 5)
                fprintf(stderr, "check vouched for %.*s (%s)\n", (int)mut.len, mut.data, detail);
        }
        json_decref(j);
    }
    CHECK(plain > 1000);
    CHECK_INT(lies, 0);
    kta_buf_free(&ev);
    kta_buf_free(&mut);
}

/* ---- the differential test --------------------------------------------- */

struct hits {
    const struct kta_rule *r[4096];
    size_t                 n;
};

static void collect(void *opaque, const struct kta_rule *r)
{
    struct hits *h = opaque;

    if (h->n < sizeof(h->r) / sizeof(h->r[0]))
        h->r[h->n++] = r;
}

struct diff {
    size_t events, hits, skipped, mismatches;
};

/* One record both ways; counts and reports any difference. */
static void differ(const struct kta_ruleset *rs, struct kta_eval_ctx *plain,
                   struct kta_eval_ctx *fast, const char *rec, size_t len, struct diff *d,
                   const char *what)
{
    static struct hits a, b;
    enum kta_event_error ea, eb;
    char da[256], db[256];
    json_t *ev, *evb = NULL;
    long nb;
    int bad;

    a.n = b.n = 0;
    ev = kta_event_decode(rec, len, 1u << 20, &ea, da, sizeof(da));
    if (ev)
        kta_eval(rs, plain, ev, collect, &a);
    nb = kta_eval_raw(rs, fast, rec, len, 1u << 20, collect, &b, &evb, &eb, db, sizeof(db));
    bad = (!ev) != (nb < 0) || ea != eb || a.n != b.n ||
          (nb >= 0 && (size_t)nb != b.n) ||
          memcmp(a.r, b.r, a.n * sizeof(a.r[0])) != 0 || (!ev && strcmp(da, db) != 0);
    d->events++;
    d->hits += a.n;
    d->skipped += ev && !evb;
    if (bad && d->mismatches++ < 5) {
        fprintf(stderr, "%s: prefilter changed the result for %.*s: %zu hits vs %zu\n", what,
                (int)len, rec, a.n, b.n);
        for (size_t i = 0; i < a.n || i < b.n; i++)
            fprintf(stderr, "  %s | %s\n", i < a.n ? kta_rule_id(a.r[i]) : "-",
                    i < b.n ? kta_rule_id(b.r[i]) : "-");
    }
    json_decref(ev);
    json_decref(evb);
}

/* Flips the case of some ASCII letters. */
static void scramble_case(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z') && pick(3) == 0)
            s[i] ^= 32;
}

/* Appends a JSON string for a value that a matcher should accept, built
 * from its literal (or a random token). */
static void value_for(struct kta_buf *out, const struct kta_matcher *m)
{
    struct kta_buf v = { 0 };

    if (m->kind == KTA_M_PATTERN && m->is_num && pick(2)) {
        kta_buf_printf(out, "%lld", m->ival);
        return;
    }
    if (m->kind == KTA_M_PATTERN && m->lit) {
        if (m->ptype == KTA_P_CONTAINS || m->ptype == KTA_P_SUFFIX)
            kta_buf_appends(&v, pick(2) ? "x " : "");
        kta_buf_append(&v, m->lit, m->litlen);
        if (m->ptype == KTA_P_CONTAINS || m->ptype == KTA_P_PREFIX)
            kta_buf_appends(&v, pick(2) ? " y" : "");
    } else if (m->nneed) {
        kta_buf_append(&v, m->need[0], m->needlen[0]);
    } else {
        kta_buf_appends(&v, pick(2) ? "10.1.2.3" : "zz");
    }
    if (v.data)
        scramble_case(v.data, v.len);
    kta_json_quote(out, v.data ? v.data : "", v.len);
    kta_buf_free(&v);
}

/* Respells a PLAIN record so that the check must give up: a \u or \/
 * escape, a real, or a non-ASCII string. */
static void respell(struct kta_buf *out, const char *rec, size_t len)
{
    const char *p;

    switch (pick(4)) {
    case 0:
        p = memchr(rec, '/', len);
        if (p) {
            kta_buf_append(out, rec, (size_t)(p - rec));
            kta_buf_appends(out, "\\/");
            kta_buf_append(out, p + 1, len - (size_t)(p - rec) - 1);
            return;
        }
        break;
    case 1:
        p = memchr(rec, 'e', len);
        if (p && p > rec && p[-1] != '\\') {
            kta_buf_append(out, rec, (size_t)(p - rec));
            kta_buf_appends(out, "\\u0045");
            kta_buf_append(out, p + 1, len - (size_t)(p - rec) - 1);
            return;
        }
        break;
    case 2:
        kta_buf_appends(out, "{\"zz_real\":1.0e0,");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    default:
        kta_buf_appends(out, "{\"zz_u\":\"\xe2\x84\xaa\xc3\xa4\",");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    }
    kta_buf_append(out, rec, len);
}

/* Events made from the rules' own literals, so that many rules fire:
 * for each rule, one event per search mapping with every field set to a
 * value its first matcher accepts. */
static void rule_events(const struct kta_ruleset *rs, size_t max, struct kta_buf *out,
                        size_t **offs, size_t *n)
{
    for (size_t i = 0; i < rs->nrules && *n < max; i++) {
        const struct kta_rule *r = rs->rules[i];

        for (size_t s = 0; s < r->nsearches; s++) {
            for (size_t mi = 0; mi < r->searches[s].nmaps && mi < 2; mi++) {
                const struct kta_fmap *fm = &r->searches[s].maps[mi];
                size_t start = out->len, nkw = 0;

                kta_buf_appends(out, "{\"host\":\"h1\"");
                for (size_t c = 0; c < fm->nconds; c++) {
                    const struct kta_fcond *fc = &fm->conds[c];
                    const struct kta_matcher *m = &fc->vals[pick(fc->nvals)];

                    if (fc->special)
                        continue;
                    if (fc->keyword)
                        kta_buf_printf(out, ",\"kw%zu\":", nkw++);
                    else {
                        kta_buf_appends(out, ",");
                        kta_json_quote(out, fc->paths[0].full, fc->paths[0].len);
                        kta_buf_appends(out, ":");
                    }
                    value_for(out, m);
                }
                kta_buf_appends(out, "}");
                *offs = xrealloc(*offs, (*n + 2) * sizeof(**offs));
                (*offs)[(*n)++] = start;
                (*offs)[*n] = out->len;
            }
        }
    }
}

static void add_file_lines(const char *path, struct kta_buf *out, size_t **offs, size_t *n)
{
    FILE *fp = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!fp)
        return;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        *offs = xrealloc(*offs, (*n + 2) * sizeof(**offs));
        (*offs)[(*n)++] = out->len;
        kta_buf_append(out, line, (size_t)len);
        (*offs)[*n] = out->len;
    }
    free(line);
    fclose(fp);
}

static struct kta_buf case_events;
static size_t *case_offs, ncase;

static void run_differential(const char *what, struct kta_ruleset *rs, size_t ngen,
                             size_t max_rule_events)
{
    struct kta_eval_ctx *plain = kta_eval_ctx_new(), *fast = kta_eval_ctx_new();
    struct kta_buf evs = { 0 }, one = { 0 }, re = { 0 };
    size_t *offs = NULL, n = 0, i;
    struct diff d = { 0 };
    struct kta_gen g;

    kta_gen_init(&g, 3, 0.05);
    for (i = 0; i < ngen; i++) {
        offs = xrealloc(offs, (n + 2) * sizeof(*offs));
        offs[n++] = evs.len;
        kta_gen_event(&g, &evs);
        offs[n] = evs.len;
    }
    rule_events(rs, max_rule_events, &evs, &offs, &n);
    for (i = 0; i < n; i++) {
        const char *rec = evs.data + offs[i];
        size_t len = offs[i + 1] - offs[i];

        differ(rs, plain, fast, rec, len, &d, what);
        if (i % 4 == 0) {
            kta_buf_reset(&re);
            respell(&re, rec, len);
            differ(rs, plain, fast, re.data, re.len, &d, what);
        }
    }
    for (i = 0; i < ncase; i++)
        differ(rs, plain, fast, case_events.data + case_offs[i], case_offs[i + 1] - case_offs[i],
               &d, what);
    printf("# %s: %zu events, %zu hits, %zu skipped unparsed, %zu mismatches\n", what,
           d.events, d.hits, d.skipped, d.mismatches);
    CHECK_INT(d.mismatches, 0);
    CHECK(d.hits > 0);
    kta_buf_free(&evs);
    kta_buf_free(&one);
    kta_buf_free(&re);
    free(offs);
    kta_eval_ctx_free(plain);
    kta_eval_ctx_free(fast);
}

/* Random rules over a small token pool that the random events share. */
static const char *const tokens[] = {
    "foo", "Bar", "c:\\windows\\", "a\"b", "x*y", "q?z", "-enc", "/c", "4625", "1000",
    "true", "ärger", "KELVIN", "straße", "tab\there", "new\nline", "sh", "\\\\srv\\", "s",
    "cmd.exe", "203.0.113.7", "Zm9vYmFy", "foobar", "-", "  ", "k",
};

static void yaml_str(struct kta_buf *y, const char *s)
{
    /* double-quoted YAML: escape \ " and control characters */
    kta_buf_appends(y, "\"");
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            kta_buf_printf(y, "\\%c", *s);
        else if (*s == '\n')
            kta_buf_appends(y, "\\n");
        else if (*s == '\t')
            kta_buf_appends(y, "\\t");
        else
            kta_buf_append(y, s, 1);
    }
    kta_buf_appends(y, "\"");
}

static void random_rules(struct kta_buf *y, size_t n, int literal_only)
{
    static const char *const fields[] = { "a", "b.c", "d", "arr" };
    static const char *const mods[] = {
        "", "|contains", "|startswith", "|endswith", "|contains|all", "|cased",
        "|contains|windash", "|base64", "|base64offset|contains", "|contains|cased",
        "|re", "|cidr", "|exists", "|gt", "|lt", "NULL", "NUM", "|re|i",
    };
    static const char *const conds[] = {
        "sel", "not sel", "sel and not sel2", "1 of sel*", "all of them", "sel or kw",
        "kw", "sel2 and (sel or kw)",
    };

    kta_buf_appends(y, "rules:\n");
    for (size_t i = 0; i < n; i++) {
        kta_buf_printf(y, "  - id: r%zu\n    title: t\n    detection:\n", i);
        for (int s = 0; s < 2; s++) {
            size_t nf = 1 + pick(2);

            kta_buf_printf(y, "      sel%s:\n", s ? "2" : "");
            for (size_t f = 0; f < nf; f++) {
                /* literal_only: the first 10 modifiers, no `not`: rules the
                 * prefilter can rule out, so that records get skipped */
                const char *mod = mods[pick(literal_only ? 10 : sizeof(mods) / sizeof(mods[0]))];

                kta_buf_printf(y, "        %s", fields[(f + (size_t)s) % 4]);
                if (strcmp(mod, "NULL") == 0) {
                    kta_buf_appends(y, ": null\n");
                } else if (strcmp(mod, "NUM") == 0) {
                    kta_buf_appends(y, pick(2) ? ": 1000\n" : ": [4625, 1.0]\n");
                } else if (strcmp(mod, "|exists") == 0) {
                    kta_buf_printf(y, "|exists: %s\n", pick(2) ? "true" : "false");
                } else if (strcmp(mod, "|gt") == 0 || strcmp(mod, "|lt") == 0) {
                    kta_buf_printf(y, "%s: 999\n", mod);
                } else if (strcmp(mod, "|cidr") == 0) {
                    kta_buf_printf(y, "%s: 203.0.113.0/24\n", mod);
                } else if (strncmp(mod, "|re", 3) == 0) {
                    kta_buf_printf(y, "%s: 'fo+|c:\\\\win'\n", mod);
                } else {
                    size_t nv = 1 + pick(2);
                    int b64 = strstr(mod, "base64") != NULL;

                    kta_buf_printf(y, "%s:\n", mod);
                    for (size_t v = 0; v < nv; v++) {
                        const char *t = tokens[pick(sizeof(tokens) / sizeof(tokens[0]))];

                        if (b64 && strpbrk(t, "*?"))
                            t = "foo";
                        kta_buf_appends(y, "          - ");
                        yaml_str(y, t);
                        kta_buf_appends(y, "\n");
                    }
                }
            }
        }
        kta_buf_appends(y, "      kw:\n");
        kta_buf_appends(y, "        - ");
        yaml_str(y, tokens[pick(sizeof(tokens) / sizeof(tokens[0]))]);
        kta_buf_printf(y, "\n      condition: %s\n",
                       literal_only ? "1 of sel* or kw" : conds[pick(sizeof(conds) / sizeof(conds[0]))]);
    }
}

static void random_event(struct kta_buf *out)
{
    static const char *const keys[] = { "a", "b", "d", "arr", "b.c", "x" };
    size_t nk = 1 + pick(5);
    int used = 0;

    kta_buf_appends(out, "{");
    for (size_t k = 0; k < nk; k++) {
        size_t ki = pick(6);
        char tok[64];

        if (used & (1 << ki))
            continue;
        if (used)
            kta_buf_appends(out, ",");
        used |= 1 << ki;
        kta_buf_printf(out, "\"%s\":", keys[ki]);
        switch (pick(8)) {
        case 0: {
            const char *t = tokens[pick(sizeof(tokens) / sizeof(tokens[0]))];

            kta_buf_appends(out, ki == 1 ? "{\"c\":" : "[");
            kta_json_quote(out, t, strlen(t));
            kta_buf_appends(out, ki == 1 ? "}" : ",1000]");
            break;
        }
        case 1:
            kta_buf_appends(out, pick(2) ? "1000" : pick(2) ? "4625" : "null");
            break;
        case 2:
            kta_buf_appends(out, "\"Zm9vYmFy\"");
            break;
        default: {
            const char *t = tokens[pick(sizeof(tokens) / sizeof(tokens[0]))];

            snprintf(tok, sizeof(tok), "%s%s%s", pick(2) ? "pre " : "", t,
                     pick(2) ? " /c post" : "");
            scramble_case(tok, strlen(tok));
            if (ki == 1) {
                kta_buf_appends(out, "{\"c\":");
                kta_json_quote(out, tok, strlen(tok));
                kta_buf_appends(out, "}");
            } else {
                kta_json_quote(out, tok, strlen(tok));
            }
        }
        }
    }
    kta_buf_appends(out, "}");
}

static void test_random(void)
{
    struct kta_rules_opts opts = { .skip_invalid = 1 };
    struct kta_buf y = { 0 }, ev = { 0 };
    char errstr[512];

    for (int round = 0; round < 6; round++) {
        struct kta_ruleset *rs;
        size_t save_n = ncase;

        kta_buf_reset(&y);
        random_rules(&y, round < 3 ? 150 : 12, round >= 3);
        rs = kta_rules_load_string("random.yml", y.data, y.len, &opts, NULL, errstr,
                                   sizeof(errstr));
        CHECK(rs != NULL);
        if (!rs) {
            fprintf(stderr, "random rules: %s\n", errstr);
            continue;
        }
        CHECK(rs->pf != NULL);
        /* 3000 random events join the case events for this round. */
        for (int i = 0; i < 3000; i++) {
            case_offs = xrealloc(case_offs, (ncase + 2) * sizeof(*case_offs));
            case_offs[ncase++] = case_events.len;
            random_event(&case_events);
            case_offs[ncase] = case_events.len;
        }
        run_differential("random rules", rs, 0, 2000);
        ncase = save_n;
        case_events.len = case_offs[ncase];
        kta_ruleset_decref(rs);
    }
    kta_buf_free(&y);
    kta_buf_free(&ev);
}

/* Calls fn for every case directory: tests/rules/cases/NAME and one level
 * below (cases/modifiers/NAME), as "NAME" or "modifiers/NAME". */
static void for_each_case(void (*fn)(const char *name))
{
    DIR *dir = opendir("tests/rules/cases"), *sub;
    struct dirent *de, *se;
    char path[1024], name[1024];

    while (dir && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        fn(de->d_name);
        snprintf(path, sizeof(path), "tests/rules/cases/%s", de->d_name);
        sub = opendir(path);
        while (sub && (se = readdir(sub)) != NULL) {
            if (se->d_name[0] == '.')
                continue;
            snprintf(name, sizeof(name), "%s/%s", de->d_name, se->d_name);
            fn(name);
        }
        if (sub)
            closedir(sub);
    }
    if (dir)
        closedir(dir);
}

static void case_differential(const char *name)
{
    struct kta_rules_opts opts = { .skip_invalid = 0 };
    struct kta_ruleset *rs;
    struct stat sb;
    char path[1024], fm[1024], ph[1024], errstr[512];
    FILE *fp;

    snprintf(path, sizeof(path), "tests/rules/cases/%s/rules.yml", name);
    snprintf(fm, sizeof(fm), "tests/rules/cases/%s/fieldmap.path", name);
    snprintf(ph, sizeof(ph), "tests/rules/cases/%s/placeholders", name);
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return;
    /* fieldmap.path: one line, a repo-relative field map */
    if ((fp = fopen(fm, "r")) != NULL) {
        if (fgets(fm, sizeof(fm), fp))
            fm[strcspn(fm, "\r\n")] = '\0';
        else
            fm[0] = '\0';
        fclose(fp);
    } else {
        snprintf(fm, sizeof(fm), "tests/rules/cases/%s/fieldmap", name);
    }
    if (fm[0] && stat(fm, &sb) == 0)
        opts.fieldmap = fm;
    if (stat(ph, &sb) == 0)
        opts.placeholders = ph;
    rs = kta_rules_load(path, &opts, NULL, errstr, sizeof(errstr));
    if (!rs)
        return;
    run_differential(name, rs, 500, 500);
    kta_ruleset_decref(rs);
}

static void test_cases(void)
{
    struct stat sb;

    if (stat("tests/rules/cases", &sb) != 0) {
        printf("# tests/rules/cases not found: skipped\n");
        return;
    }
    for_each_case(case_differential);
}

/* The events of the test cases (tests: keys) of the rules under path. */
static void add_test_events(const char *path)
{
    struct kta_rules_opts opts = { .skip_invalid = 1 };
    struct kta_ruleset *rs;
    char errstr[512];

    rs = kta_rules_load(path, &opts, NULL, errstr, sizeof(errstr));
    for (size_t i = 0; rs && i < rs->nrules + rs->ncorrs; i++) {
        const struct kta_rule_test *t;
        size_t nt;

        if (i < rs->nrules)
            t = kta_rule_tests(rs->rules[i], &nt);
        else
            t = rs->corrs[i - rs->nrules]->tests, nt = rs->corrs[i - rs->nrules]->ntests;
        for (size_t k = 0; k < nt; k++)
            for (size_t e = 0; e < t[k].nevents; e++) {
                case_offs = xrealloc(case_offs, (ncase + 2) * sizeof(*case_offs));
                case_offs[ncase++] = case_events.len;
                kta_buf_appends(&case_events, t[k].events[e]);
                case_offs[ncase] = case_events.len;
            }
    }
    kta_ruleset_decref(rs);
}

static void case_add_events(const char *name)
{
    char path[1024];
    struct stat sb;

    snprintf(path, sizeof(path), "tests/rules/cases/%s/events.jsonl", name);
    add_file_lines(path, &case_events, &case_offs, &ncase);
    snprintf(path, sizeof(path), "tests/rules/cases/%s/rules.yml", name);
    if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        add_test_events(path);
}

static void test_tree(const char *what, const char *path, size_t max_rule_events)
{
    struct kta_rules_opts opts = { .skip_invalid = 1 };
    struct kta_ruleset *rs;
    struct stat sb;
    char errstr[512];

    if (stat(path, &sb) != 0) {
        printf("# %s (%s) not found: skipped\n", what, path);
        return;
    }
    rs = kta_rules_load(path, &opts, NULL, errstr, sizeof(errstr));
    CHECK(rs != NULL);
    if (!rs)
        return;
    run_differential(what, rs, 1000, max_rule_events);
    kta_ruleset_decref(rs);
}

/* ---- the Sigma corpus on realistic events, in every layout ------------- */

/*
 * Generated sysmon and linux events, the same events respelled in the
 * shapes agents send (nested Event.System/Event.EventData, Winlogbeat,
 * flat dotted keys, both at once), and mutations aimed at the flat value
 * list that kta_eval_raw evaluates instead of a jansson tree: arrays,
 * empty arrays, nulls, objects for strings, escaped keys, numbers as
 * strings and back, -0, non-ASCII text and characters that fold to ASCII,
 * JSON escapes inside values.  Each variant goes through both paths.
 */
enum mut {
    MUT_NONE, MUT_NESTED, MUT_WINLOG, MUT_DOTTED, MUT_ALONGSIDE, MUT_FLAT_WINS,
    MUT_NESTED_WINS, MUT_ARRAYS, MUT_EMPTY, MUT_OBJECTS, MUT_NUMBERS, MUT_NONASCII,
    MUT_ESCAPES, MUT_KEYS, MUT_SPLIT, MUT_UNFLATTEN, NMUT
};

static const char *const mut_names[NMUT] = {
    "as generated", "nested", "winlog", "dotted", "alongside", "flat-wins", "nested-loses",
    "arrays", "empty/null", "objects", "numbers", "non-ascii", "escapes", "keys", "split",
    "unflattened",
};

static int system_key(const char *k)
{
    static const char *const sys[] = { "EventID", "Channel", "Computer", "EventRecordID",
                                       "Keywords", "TimeCreated", "Level", "Task",
                                       "Provider_Name" };

    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (strcmp(k, sys[i]) == 0)
            return 1;
    return 0;
}

/* The dotted path a flat sysmon key has in the nested layout. */
static void nested_path(struct kta_buf *p, const char *k)
{
    kta_buf_reset(p);
    if (strcmp(k, "Provider_Name") == 0)
        kta_buf_appends(p, "Event.System.Provider.Name");
    else
        kta_buf_printf(p, "Event.%s.%s", system_key(k) ? "System" : "EventData", k);
}

/* Sets v (stolen) at a dotted path through nested objects; a path that
 * runs into a non-object stays a flat key. */
static void set_path(json_t *o, const char *path, json_t *v)
{
    const char *dot = strchr(path, '.');
    json_t *child;
    char *seg;

    if (!dot) {
        json_object_set_new(o, path, v);
        return;
    }
    seg = xstrndup(path, (size_t)(dot - path));
    child = json_object_get(o, seg);
    if (!child) {
        child = json_object();
        json_object_set_new(o, seg, child);
    }
    if (json_is_object(child))
        set_path(child, dot + 1, v);
    else
        json_object_set_new(o, path, v);
    free(seg);
}

static json_t *nest(const json_t *flat)
{
    struct kta_buf p = { 0 };
    json_t *o = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)flat, k, v) {
        nested_path(&p, k);
        set_path(o, p.data, json_incref(v));
    }
    kta_buf_free(&p);
    return o;
}

static json_t *winlog(const json_t *flat)
{
    static const char *const ren[][2] = { { "EventID", "event_id" }, { "Channel", "channel" },
                                          { "Computer", "computer_name" },
                                          { "Provider_Name", "provider_name" } };
    json_t *o = json_object(), *w = json_object(), *d = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)flat, k, v) {
        size_t i;

        for (i = 0; i < sizeof(ren) / sizeof(ren[0]); i++)
            if (strcmp(k, ren[i][0]) == 0)
                break;
        if (i < sizeof(ren) / sizeof(ren[0]))
            json_object_set(w, ren[i][1], v);
        else
            json_object_set(system_key(k) ? w : d, k, v);
    }
    json_object_set_new(w, "event_data", d);
    json_object_set_new(o, "winlog", w);
    return o;
}

/* Adds the flat keys of src as top-level dotted keys ("Event.EventData.
 * Image") to o, each with probability pct/100. */
static void add_dotted(json_t *o, const json_t *src, unsigned pct)
{
    struct kta_buf p = { 0 };
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)src, k, v) {
        if (pick(100) >= pct)
            continue;
        nested_path(&p, k);
        json_object_set(o, p.data, v);
    }
    kta_buf_free(&p);
}

/* Sets v (stolen) under path with its segments grouped at random:
 * {"Event.EventData": {"Image": v}}, {"Event": {"EventData.Image": v}},
 * ... — a dotted key below the top, or an object below a dotted key, where
 * no lookup of the whole path may reach v. */
static void set_split(json_t *o, const char *path, json_t *v)
{
    const char *dot = strchr(path, '.');
    json_t *child;
    char *seg;

    while (dot && pick(2))
        dot = strchr(dot + 1, '.');
    if (!dot) {
        json_object_set_new(o, path, v);
        return;
    }
    seg = xstrndup(path, (size_t)(dot - path));
    child = json_object_get(o, seg);
    if (!child) {
        child = json_object();
        json_object_set_new(o, seg, child);
    }
    if (json_is_object(child))
        set_split(child, dot + 1, v);
    else
        json_object_set_new(o, path, v);
    free(seg);
}

static json_t *split(const json_t *flat)
{
    struct kta_buf p = { 0 };
    json_t *o = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)flat, k, v) {
        if (!strchr(k, '.'))
            nested_path(&p, k);
        set_split(o, strchr(k, '.') ? k : p.data, json_incref(v));
    }
    kta_buf_free(&p);
    return o;
}

/* Every top-level dotted key split into nested objects. */
static json_t *unflatten(const json_t *flat)
{
    json_t *o = json_object(), *v;
    const char *k;

    json_object_foreach((json_t *)flat, k, v)
        set_path(o, k, json_incref(v));
    return o;
}

/* Rewrites one string, appending the result to out. */
static void respell_string(struct kta_buf *out, const char *s, size_t n, enum mut m)
{
    /* Look-alikes and characters with other cases: Cyrillic а е о с р х,
     * Greek sigma in three forms, sharp s in two, micro and mu, Angstrom,
     * and the two characters that fold to ASCII letters. */
    static const char *const nonascii[] = {
        " Microsoft\xc2\xae Windows\xc2\xae", "\xf0\x9f\x98\x80", "\xf0\x9f\x94\xa5 ",
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "\xc3\x9f", "\xe1\xba\x9e",
        "\xcf\x83\xcf\x82\xce\xa3", "\xc2\xb5\xce\xbc", "\xe2\x84\xab", "\xe2\x84\xaa",
        "\xc5\xbf", "\xe2\x80\x93", "\xe2\x80\x94", "\xe6\xbc\xa2\xe5\xad\x97", "\xc3\xa4",
    };
    static const struct { char from; const char *to; } glyph[] = {
        { 'a', "\xd0\xb0" }, { 'e', "\xd0\xb5" }, { 'o', "\xd0\xbe" }, { 'c', "\xd1\x81" },
        { 'p', "\xd1\x80" }, { 'x', "\xd1\x85" }, { 'k', "\xe2\x84\xaa" }, { 'K', "\xe2\x84\xaa" },
        { 's', "\xc5\xbf" }, { 'S', "\xc5\xbf" }, { '-', "\xe2\x80\x93" },
    };
    static const char *const esc[] = { "\n", "\t", "\"", "\\", "\r", "\b", "\f", "\\\\", "\"\"" };
    size_t at = n ? pick(n + 1) : 0;

    switch (m) {
    case MUT_NONASCII:
        switch (pick(3)) {
        case 0:   /* a look-alike for every letter it has one for, or for one */
            for (size_t i = 0, all = pick(2); i < n; i++) {
                size_t g;

                for (g = 0; g < sizeof(glyph) / sizeof(glyph[0]); g++)
                    if (s[i] == glyph[g].from && (all || i >= at))
                        break;
                if (g < sizeof(glyph) / sizeof(glyph[0])) {
                    kta_buf_appends(out, glyph[g].to);
                    if (!all) {
                        kta_buf_append(out, s + i + 1, n - i - 1);
                        return;
                    }
                } else {
                    kta_buf_append(out, s + i, 1);
                }
            }
            return;
        case 1:   /* inserted at a character boundary */
            while (at < n && ((unsigned char)s[at] & 0xc0) == 0x80)
                at++;
            kta_buf_append(out, s, at);
            kta_buf_appends(out, nonascii[pick(sizeof(nonascii) / sizeof(nonascii[0]))]);
            kta_buf_append(out, s + at, n - at);
            return;
        default:
            kta_buf_append(out, s, n);
            kta_buf_appends(out, nonascii[pick(sizeof(nonascii) / sizeof(nonascii[0]))]);
            return;
        }
    case MUT_ESCAPES:
        if (pick(2)) {
            /* every space (or backslash) becomes an escaped character */
            char from = pick(2) ? ' ' : '\\';
            const char *to = esc[pick(sizeof(esc) / sizeof(esc[0]))];

            for (size_t i = 0; i < n; i++)
                if (s[i] == from)
                    kta_buf_appends(out, to);
                else
                    kta_buf_append(out, s + i, 1);
            return;
        }
        kta_buf_append(out, s, at);
        kta_buf_appends(out, esc[pick(sizeof(esc) / sizeof(esc[0]))]);
        kta_buf_append(out, s + at, n - at);
        return;
    default:
        kta_buf_append(out, s, n);
        return;
    }
}

/* Applies a value-level mutation to some of the values of o (in place,
 * at any depth): roughly one in three is changed. */
static void mutate_values(json_t *o, enum mut m)
{
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(o, tmp, k, v) {
        json_t *nv = NULL;

        if (json_is_object(v)) {
            mutate_values(v, m);
            continue;
        }
        if (pick(3) != 0)
            continue;
        switch (m) {
        case MUT_ARRAYS:
            switch (pick(5)) {
            case 0: nv = json_pack("[O]", v); break;
            case 1: nv = json_pack("[sO]", "x", v); break;
            case 2: nv = json_pack("[O,n,i]", v, 7); break;
            case 3: nv = json_pack("[[O]]", v); break;
            default: nv = json_pack("[{sO}]", k, v); break;   /* k.k: not k */
            }
            break;
        case MUT_EMPTY:
            switch (pick(5)) {
            case 0: nv = json_array(); break;
            case 1: nv = json_null(); break;
            case 2: nv = json_pack("[[]]"); break;
            case 3: nv = json_pack("[n]"); break;
            default: nv = json_object(); break;
            }
            break;
        case MUT_OBJECTS:
            switch (pick(3)) {
            case 0: nv = json_pack("{sO}", "#text", v); break;
            case 1: nv = json_pack("{sO}", k, v); break;
            default: nv = json_pack("[{sO}]", "x", v); break;
            }
            break;
        case MUT_NUMBERS:
            if (json_is_integer(v)) {
                char num[32];

                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
                nv = pick(4) ? json_string(num) : json_pack("[Os]", v, num);
            } else if (json_is_string(v)) {
                long long x;

                if (kta_parse_int(json_string_value(v), -1000000000, 1000000000, &x) == 0)
                    nv = json_integer(x);
                else if (pick(4) == 0)
                    nv = json_integer((json_int_t)pick(20));
            }
            break;
        case MUT_NONASCII:
        case MUT_ESCAPES:
            if (json_is_string(v)) {
                struct kta_buf b = { 0 };

                respell_string(&b, json_string_value(v), json_string_length(v), m);
                nv = json_stringn(b.data ? b.data : "", b.len);
                kta_buf_free(&b);
            }
            break;
        default:
            break;
        }
        if (nv)
            json_object_set_new(o, k, nv);
    }
}

/* Text-level respellings jansson would not write: a key with a \u escape
 * (UNSURE), a key with \\ or \" (a view that cannot be used), a key
 * given twice in two spellings (invalid), -0. */
static void mutate_keys(struct kta_buf *out, const char *rec, size_t len)
{
    const char *p = NULL;
    size_t i;

    switch (pick(5)) {
    case 0:   /* "Image" as "Ima\u0067e": the same key, not PLAIN */
        for (i = 1; i + 2 < len; i++)
            if (rec[i - 1] != '\\' && rec[i] == 'g' && rec[i + 1] == 'e' && rec[i + 2] == '"') {
                p = rec + i;
                break;
            }
        if (!p)
            break;
        kta_buf_append(out, rec, (size_t)(p - rec));
        kta_buf_appends(out, "\\u0067");
        kta_buf_append(out, p + 1, len - (size_t)(p - rec) - 1);
        return;
    case 1:
        kta_buf_appends(out, "{\"a\\\\b\":\"c:\\\\x\",\"q\\\"k\":1,");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    case 2:   /* a duplicate of the first key, spelled with \u */
        p = memchr(rec + 2, '"', len - 2);
        if (!p || memchr(rec + 2, '\\', (size_t)(p - rec - 2)))
            break;
        kta_buf_appends(out, "{\"\\u00");
        kta_buf_printf(out, "%02x", (unsigned char)rec[2]);
        kta_buf_append(out, rec + 3, (size_t)(p - rec - 3));
        kta_buf_appends(out, "\":0,");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    case 3:
        kta_buf_appends(out, "{\"Zero\":-0,\"Neg\":[1,-0],");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    default:  /* jansson refuses a NUL in a key: invalid either way */
        kta_buf_appends(out, "{\"Event\\u0000\":[-0, 0],");
        kta_buf_append(out, rec + 1, len - 1);
        return;
    }
    kta_buf_append(out, rec, len);
}

static void dump(struct kta_buf *out, const json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    kta_buf_appends(out, s);
    free(s);
}

/* Appends variant m of the record rec (a flat object) to out; decoy is
 * another event's object, for the layouts that hold two values. */
static void variant(struct kta_buf *out, const char *rec, size_t len, const json_t *flat,
                    const json_t *decoy, enum mut m)
{
    json_t *o = NULL;

    switch (m) {
    case MUT_NESTED:
        o = nest(flat);
        if (pick(4) == 0) {   /* EventData as an array of one object */
            json_t *e = json_object_get(o, "Event");
            json_t *d = e ? json_object_get(e, "EventData") : NULL;

            if (d)
                json_object_set_new(e, "EventData", json_pack("[O]", d));
        }
        break;
    case MUT_WINLOG:
        o = winlog(flat);
        break;
    case MUT_DOTTED:
        o = json_object();
        add_dotted(o, flat, 100);
        break;
    case MUT_ALONGSIDE:
        o = json_deep_copy(flat);
        add_dotted(o, flat, 50);
        break;
    case MUT_FLAT_WINS:       /* the decoy nested, this event flat: flat wins */
        o = nest(decoy);
        add_dotted(o, flat, 100);
        break;
    case MUT_NESTED_WINS:     /* this event nested, the decoy as some flat keys */
        o = nest(flat);
        add_dotted(o, decoy, 30);
        break;
    case MUT_ARRAYS: case MUT_EMPTY: case MUT_OBJECTS: case MUT_NUMBERS:
    case MUT_NONASCII: case MUT_ESCAPES:
        o = pick(3) ? json_deep_copy(flat) : nest(flat);
        mutate_values(o, m);
        break;
    case MUT_KEYS:
        mutate_keys(out, rec, len);
        return;
    case MUT_SPLIT:
        o = split(flat);
        break;
    case MUT_UNFLATTEN:
        o = unflatten(flat);
        break;
    default:
        kta_buf_append(out, rec, len);
        return;
    }
    dump(out, o);
    json_decref(o);
}

/* Sets a value (stolen) under a field path unless the key is there. */
static void put_new(json_t *o, const struct kta_fpath *p, json_t *v)
{
    char *k = xstrndup(p->full, p->len);

    if (!json_object_get(o, k))
        json_object_set_new(o, k, v);
    else
        json_decref(v);
    free(k);
}

/* A JSON value that matcher m accepts, as value_for writes it. */
static json_t *jvalue_for(const struct kta_matcher *m)
{
    struct kta_buf b = { 0 };
    json_t *v;

    value_for(&b, m);
    v = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
    kta_buf_free(&b);
    return v ? v : json_string("zz");
}

/* Adds the fields of one mapping: values its matchers accept, under a
 * random one of each condition's paths (so under any layout the map
 * knows). */
static void put_fmap(json_t *o, const struct kta_fmap *fm, size_t *nkw)
{
    for (size_t c = 0; c < fm->nconds; c++) {
        const struct kta_fcond *fc = &fm->conds[c];
        const struct kta_matcher *m = &fc->vals[pick(fc->nvals)];
        char kw[32];

        if (fc->keyword) {
            snprintf(kw, sizeof(kw), "kw%zu", (*nkw)++);
            json_object_set_new(o, kw, jvalue_for(m));
        } else if (!fc->special) {
            put_new(o, &fc->paths[pick(fc->npaths)], jvalue_for(m));
        } else if (m->kind == KTA_M_EXISTS && m->exists) {
            put_new(o, &fc->paths[pick(fc->npaths)], json_string("x"));
        }
    }
}

/* Like rule_events, for rules with log-source scopes: each event also
 * carries what the first search of each scope of the rule needs, so that
 * scoped rules can fire.  Keys are the mapped paths as flat dotted keys;
 * MUT_UNFLATTEN nests them. */
static void scoped_rule_events(const struct kta_ruleset *rs, size_t max, struct kta_buf *out,
                               size_t **offs, size_t *n)
{
    for (size_t i = 0; i < rs->nrules && *n < max; i++) {
        const struct kta_rule *r = rs->rules[i];

        for (size_t s = 0; s < r->nsearches; s++) {
            for (size_t mi = 0; mi < r->searches[s].nmaps && mi < 2; mi++) {
                json_t *o = json_object();
                size_t nkw = 0;

                json_object_set_new(o, "host", json_string("h1"));
                put_fmap(o, &r->searches[s].maps[mi], &nkw);
                for (size_t k = 0; k < r->nscope; k++) {
                    const struct kta_rule *w = rs->scopes[r->scope[k]];

                    if (w->nsearches && w->searches[0].nmaps)
                        put_fmap(o, &w->searches[0].maps[pick(w->searches[0].nmaps)], &nkw);
                }
                *offs = xrealloc(*offs, (*n + 2) * sizeof(**offs));
                (*offs)[(*n)++] = out->len;
                dump(out, o);
                (*offs)[*n] = out->len;
                json_decref(o);
            }
        }
    }
}

static void sigma_layouts(const char *what, const char *fieldmap, const char *schema,
                          size_t ngen, size_t max_rule_events)
{
    struct kta_rules_opts opts = { .skip_invalid = 1, .fieldmap = fieldmap };
    struct kta_eval_ctx *plain, *fast;
    struct kta_buf evs = { 0 }, var = { 0 };
    struct diff d[NMUT] = { { 0 } }, all = { 0 };
    size_t *offs = NULL, n = 0, i, ngenerated;
    int k;
    struct kta_ruleset *rs;
    struct kta_gen g;
    json_t *decoy = NULL;
    struct stat sb;
    char errstr[512];

    if (stat("../shared/sigma/rules", &sb) != 0) {
        printf("# %s: ../shared/sigma/rules not found: skipped\n", what);
        return;
    }
    rs = kta_rules_load("../shared/sigma/rules", &opts, NULL, errstr, sizeof(errstr));
    CHECK(rs != NULL);
    if (!rs) {
        fprintf(stderr, "%s: %s\n", what, errstr);
        return;
    }
    plain = kta_eval_ctx_new();
    fast = kta_eval_ctx_new();
    kta_gen_init(&g, 11, 0.1);
    CHECK_INT(kta_gen_schema(&g, schema), 0);
    for (i = 0; i < ngen; i++) {
        offs = xrealloc(offs, (n + 2) * sizeof(*offs));
        offs[n++] = evs.len;
        kta_gen_event(&g, &evs);
        offs[n] = evs.len;
    }
    ngenerated = n;
    scoped_rule_events(rs, ngen + max_rule_events, &evs, &offs, &n);
    for (i = 0; i < n; i++) {
        const char *rec = evs.data + offs[i];
        size_t len = offs[i + 1] - offs[i];
        json_t *flat = json_loadb(rec, len, 0, NULL);

        if (!flat) {
            CHECK(flat != NULL);
            continue;
        }
        if (!decoy)
            decoy = json_incref(flat);
        differ(rs, plain, fast, rec, len, &d[MUT_NONE], what);
        /* generated events: every layout and three mutations; events
         * from rule literals: their nested form and two mutations */
        for (k = 0; k < (i < ngenerated ? 9 : 3); k++) {
            enum mut m = i < ngenerated && k < 6 ? (enum mut)(MUT_NESTED + k)
                         : k == 0 && i >= ngenerated ? MUT_UNFLATTEN
                         : (enum mut)(MUT_ARRAYS + pick(MUT_UNFLATTEN - MUT_ARRAYS));

            kta_buf_reset(&var);
            variant(&var, rec, len, flat, decoy, m);
            differ(rs, plain, fast, var.data, var.len, &d[m], what);
        }
        if (pick(8) == 0) {
            json_decref(decoy);
            decoy = json_incref(flat);
        }
        json_decref(flat);
    }
    printf("# %s:", what);
    for (k = 0; k < NMUT; k++) {
        all.events += d[k].events;
        all.hits += d[k].hits;
        all.skipped += d[k].skipped;
        all.mismatches += d[k].mismatches;
    }
    printf(" %zu events, %zu hits, %zu skipped unparsed, %zu mismatches\n", all.events, all.hits,
           all.skipped, all.mismatches);
    printf("#   hits/events by variant:");
    for (k = 0; k < NMUT; k++)
        if (d[k].events)
            printf(" %s %zu/%zu%s", mut_names[k], d[k].hits, d[k].events,
                   d[k].mismatches ? " MISMATCH" : "");
    printf("\n");
    CHECK_INT(all.mismatches, 0);
    CHECK(all.hits > 0);
    json_decref(decoy);
    kta_buf_free(&evs);
    kta_buf_free(&var);
    free(offs);
    kta_eval_ctx_free(plain);
    kta_eval_ctx_free(fast);
    kta_ruleset_decref(rs);
}

int main(void)
{
    test_check_cases();
    test_check_depth();
    test_check_never_lies();

    /* Every event of every case joins every differential run. */
    for_each_case(case_add_events);
    add_file_lines("tests/data/seed-events.jsonl", &case_events, &case_offs, &ncase);
    add_test_events("rules");   /* the shipped rules' samples */

    test_random();
    test_cases();
    test_tree("rules/", "rules", 100);
#if KTA_TEST_SMALL
    test_tree("sigma corpus", "../shared/sigma/rules", 1500);
#else
    test_tree("sigma corpus", "../shared/sigma/rules", 6000);
#endif
#if KTA_TEST_SMALL
    sigma_layouts("sigma, windows map, sysmon events", "rules/fieldmaps/windows.fieldmap",
                  "sysmon", 400, 600);
    sigma_layouts("sigma, linux map, linux events", "rules/fieldmaps/linux.fieldmap", "linux",
                  300, 300);
    sigma_layouts("sigma, no map, sysmon events", NULL, "sysmon", 300, 300);
#else
    sigma_layouts("sigma, windows map, sysmon events", "rules/fieldmaps/windows.fieldmap",
                  "sysmon", 3000, 1500);
    sigma_layouts("sigma, linux map, linux events", "rules/fieldmaps/linux.fieldmap", "linux",
                  1200, 800);
    sigma_layouts("sigma, no map, sysmon events", NULL, "sysmon", 500, 500);
#endif
    kta_buf_free(&case_events);
    free(case_offs);
    return tap_done();
}
