/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the condition grammar (docs/rules.md §14) in
 * rules_compile.c.  Valid conditions are checked by truth table: searches
 * a, b, c hold when the event has x, y, z; sel_a / sel_b mirror a / b;
 * _c mirrors c.  Invalid ones must fail with the exact line:col.
 */
#include "rules_int.h"
#include "tap.h"

#include <stdlib.h>

static const char searches[] =
    "  a: {x: 1}\n"
    "  b: {y: 1}\n"
    "  c: {z: 1}\n"
    "  sel_a: {x: 1}\n"
    "  sel_b: {y: 1}\n"
    "  _c: {z: 1}\n";

struct row {
    const char *cond;    /* YAML text after "condition: " */
    const char *truth;   /* 8 results for xyz = 000, 001, 010, ..., 111 */
};

static const struct row rows[] = {
    { "a", "00001111" },
    { "not a", "11110000" },
    { "a and b", "00000011" },
    { "a or b", "00111111" },
    { "a or b and not c", "00101111" },   /* and binds tighter than or */
    { "(a or b) and not c", "00101010" },
    { "not a and b", "00110000" },        /* not binds tighter than and */
    { "not (a and b)", "11111100" },
    { "a and b or c", "01010111" },
    { "a or b or c", "01111111" },
    { "a and b and c", "00000001" },
    { "A AND b", NULL },                  /* identifiers are case-sensitive */
    { "a AND B", NULL },
    { "a AnD b Or NoT c", "10101011" },
    { "((a))", "00001111" },
    { "1 of sel_*", "00111111" },
    { "any of sel_*", "00111111" },
    { "all of sel_*", "00000011" },
    { "ALL OF sel_*", "00000011" },
    { "1 of them", "01111111" },          /* a, b, c, sel_a, sel_b; not _c */
    { "all of them", "00000001" },        /* c is in them */
    { "all of them and _c", "00000001" },
    { "1 of _*", "01010101" },
    { "1 of *_b", "00110011" },
    { "a and not 1 of sel_*", "00000000" },
    { "not all of sel_* and c", "01010100" },
    { "[a, b]", "00111111" },
    { "['a and b', 'not a']", "11110011" },
    { "'not\n  a'", "11110000" },         /* a folded scalar spans lines */
};

struct err_row {
    const char *cond;
    const char *err;
};

static const struct err_row errs[] = {
    { "nope", "t.yml:10:14: error: rule r: condition: unknown search identifier 'nope'" },
    { "a and", "t.yml:10:19: error: rule r: condition: unexpected end of condition" },
    { "a b", "t.yml:10:16: error: rule r: condition: unexpected 'b'" },
    { "(a or b", "t.yml:10:21: error: rule r: condition: expected ')'" },
    { "a or b)", "t.yml:10:20: error: rule r: condition: unexpected ')'" },
    { "and a", "t.yml:10:14: error: rule r: condition: unexpected 'and'" },
    { "1 of nomatch_*",
      "t.yml:10:19: error: rule r: condition: pattern 'nomatch_*' matches no search "
      "identifier" },
    { "sel_*", "t.yml:10:14: error: rule r: condition: pattern 'sel_*' needs '1 of' or "
               "'all of' in front" },
    { "1 of", "t.yml:10:18: error: rule r: condition: expected a pattern or 'them' after 'of'" },
    { "a | count() > 5",
      "t.yml:10:16: error: rule r: condition: aggregations ('| count() ...') are not "
      "supported" },
    { "'a and  x'", "t.yml:10:22: error: rule r: condition: unknown search identifier 'x'" },
    { "\"\"", "t.yml:10:15: error: rule r: condition: unexpected end of condition" },
    { "[]", "t.yml:10:14: error: rule r: 'condition' is an empty list" },
    { "[a, b c]", "t.yml:10:20: error: rule r: condition: unexpected 'c'" },
    { "{a: b}", "t.yml:10:14: error: rule r: a condition must be a string" },
    { "null", "t.yml:10:14: error: rule r: a condition must be a string" },
};

static struct kta_ruleset *load_cond(const char *cond, char *err, size_t errsize)
{
    char *yaml = xasprintf("id: r\ntitle: t\ndetection:\n%s  condition: %s\n", searches, cond);
    struct kta_ruleset *rs;

    rs = kta_rules_load_string("t.yml", yaml, strlen(yaml), NULL, NULL, err, errsize);
    free(yaml);
    return rs;
}

static void test_truth(void)
{
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    size_t i;
    int bits;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char err[1024], got[9] = "";
        struct kta_ruleset *rs = load_cond(rows[i].cond, err, sizeof(err));

        if (!rows[i].truth) {
            CHECK(rs == NULL);
            kta_ruleset_decref(rs);
            continue;
        }
        if (!rs) {
            fprintf(stderr, "condition %s: %s\n", rows[i].cond, err);
            CHECK(rs != NULL);
            continue;
        }
        for (bits = 0; bits < 8; bits++) {
            json_t *ev = json_object();

            if (bits & 4)
                json_object_set_new(ev, "x", json_integer(1));
            if (bits & 2)
                json_object_set_new(ev, "y", json_integer(1));
            if (bits & 1)
                json_object_set_new(ev, "z", json_integer(1));
            got[bits] = kta_eval(rs, ctx, ev, NULL, NULL) ? '1' : '0';
            json_decref(ev);
        }
        got[8] = '\0';
        if (strcmp(got, rows[i].truth) != 0)
            fprintf(stderr, "condition: %s\n", rows[i].cond);
        CHECK_STR(got, rows[i].truth);
        kta_ruleset_decref(rs);
    }
    kta_eval_ctx_free(ctx);
}

static void test_errors(void)
{
    size_t i;

    for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        char err[1024];
        struct kta_ruleset *rs = load_cond(errs[i].cond, err, sizeof(err));

        CHECK(rs == NULL);
        CHECK_STR(err, errs[i].err);
        kta_ruleset_decref(rs);
    }
}

static void test_special(void)
{
    char err[1024];
    struct kta_ruleset *rs;
    static const char only_hidden[] =
        "id: r\ntitle: t\ndetection:\n  _a: {x: 1}\n  condition: 1 of them\n";
    static const char named_all[] =
        "id: r\ntitle: t\ndetection:\n  all: {x: 1}\n  them2: {y: 1}\n"
        "  condition: all and them2\n";
    static const char no_cond_one[] = "id: r\ntitle: t\ndetection:\n  _a: {x: 1}\n";
    static const char no_searches[] = "id: r\ntitle: t\ndetection:\n  condition: a\n";

    rs = kta_rules_load_string("t.yml", only_hidden, strlen(only_hidden), NULL, NULL, err,
                               sizeof(err));
    CHECK(rs == NULL);
    CHECK_STR(err, "t.yml:5:19: error: rule r: condition: 'them' matches no search "
                   "identifier (all start with '_')");
    /* "all" not followed by "of" is an identifier */
    rs = kta_rules_load_string("t.yml", named_all, strlen(named_all), NULL, NULL, err,
                               sizeof(err));
    CHECK(rs != NULL);
    kta_ruleset_decref(rs);
    rs = kta_rules_load_string("t.yml", no_cond_one, strlen(no_cond_one), NULL, NULL, err,
                               sizeof(err));
    CHECK(rs != NULL);
    kta_ruleset_decref(rs);
    rs = kta_rules_load_string("t.yml", no_searches, strlen(no_searches), NULL, NULL, err,
                               sizeof(err));
    CHECK(rs == NULL);
    CHECK_STR(err, "t.yml:4:3: error: rule r: 'detection' has no search identifier");
}

int main(void)
{
    test_truth();
    test_errors();
    test_special();
    return tap_done();
}
