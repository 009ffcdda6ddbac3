/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for rules_load.c (and the load-time checks of
 * rules_compile.c): one table row per rejected or warned-about input, with
 * the exact "FILE:LINE:COL: ..." line the checker must print; then files
 * and directories on disk (sorted walk, suffix filter, size limit,
 * skip_invalid counting).
 */
#include "rules_int.h"
#include "tap.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct diags {
    char   text[8192];
    size_t n;
};

static void on_diag(void *opaque, enum kta_diag_kind kind, const char *msg)
{
    struct diags *d = opaque;
    size_t len = strlen(d->text);

    (void)kind;
    snprintf(d->text + len, sizeof(d->text) - len, "%s\n", msg);
    d->n++;
}

struct row {
    const char *yaml;
    const char *diag;      /* expected diagnostics, one per line, in order */
    int         errors;
    int         warnings;
};

#define R(body) "id: r1\ntitle: t\n" body

static const struct row rows[] = {
    /* a valid rule: no diagnostics */
    { R("detection:\n  s: {a: 1}\n"), "", 0, 0 },
    /* tests: (kta test): shape errors name the case */
    { R("detection:\n  s: {a: 1}\ntests: {match: {a: 1}}\n"),
      "t.yml:5:8: error: rule r1: 'tests' must be a list of cases, each 'match: EVENT' or "
      "'no_match: EVENT'\n", 1, 0 },
    { R("detection:\n  s: {a: 1}\ntests:\n  - match: [1]\n  - {}\n"),
      "t.yml:6:12: error: rule r1: the event of 'match' must be a mapping (an event object, "
      "e.g. {process.name: bash})\n"
      "t.yml:7:5: error: rule r1: a test case needs 'match: EVENT' or 'no_match: EVENT'\n", 2, 0 },
    { R("detection:\n  s: {a: 1}\ntests:\n  - events: [{a: 1}]\n    hits: 1\n"),
      "t.yml:6:5: error: rule r1: 'events' belongs to the test cases of correlation rules; a "
      "case of a detection rule is 'match: EVENT' or 'no_match: EVENT'\n"
      "t.yml:7:5: error: rule r1: 'hits' belongs to the test cases of correlation rules; a "
      "case of a detection rule is 'match: EVENT' or 'no_match: EVENT'\n", 2, 0 },
    { R("detection:\n  s: {a: 1}\ntests: null\n"), "", 0, 0 },
    /* structure */
    { "- 1\n- 2\n",
      "t.yml:1:1: error: a document must be a rule (a mapping with 'detection'), a "
      "filter (a mapping with 'filter') or a collection (a mapping with 'rules')\n", 1, 0 },
    { "id: x\ntitle: y\n",
      "t.yml:1:1: error: rule x: a document must be a rule (a mapping with 'detection'), a "
      "filter (a mapping with 'filter') or a collection (a mapping with 'rules')\n", 1, 0 },
    { "title: t\ndetection: {s: {a: 1}}\n", "t.yml:1:1: error: rule has no 'id'\n", 1, 0 },
    { "id: r1\ndetection: {s: {a: 1}}\n", "t.yml:1:1: error: rule r1: rule has no 'title'\n",
      1, 0 },
    { "rules: {a: 1}\n", "t.yml:1:8: error: 'rules' must be a list of rules\n", 1, 0 },
    { "rules:\n  - id: a\n    title: a\n    detection: {s: {x: 1}}\n  - 7\n",
      "t.yml:5:5: error: a rule must be a mapping\n", 1, 0 },
    /* YAML problems */
    { R("detection:\n  s: &x {a: 1}\n  t: *x\n"),
      "t.yml:4:6: error: YAML anchors are not allowed in rule files (&x)\n"
      "t.yml:5:6: error: YAML aliases are not allowed in rule files (*x)\n", 2, 0 },
    { R("detection:\n  s: {a: [1\n"),
      "t.yml:5:1: error: YAML syntax error: did not find expected ',' or ']' while parsing "
      "a flow sequence\n", 1, 0 },
    { R("detection:\n  s: {a: 1}\n  s: {a: 2}\n"),
      "t.yml:5:3: error: duplicate key 's' (first at line 4)\n", 1, 0 },
    /* output_topic: a legal Kafka topic name, interpreted (no warning) */
    { R("output_topic: soc.pager_1-x\ndetection:\n  s: {a: 1}\n"), "", 0, 0 },
    { R("output_topic: 2024\ndetection:\n  s: {a: 1}\n"), "", 0, 0 },
    { R("output_topic: \"a/b\"\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:15: error: rule r1: 'output_topic' must be a Kafka topic name (1 to 249 of "
      "a-z A-Z 0-9 . _ -)\n", 1, 0 },
    { R("output_topic: \"\"\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:15: error: rule r1: 'output_topic' must be a Kafka topic name (1 to 249 of "
      "a-z A-Z 0-9 . _ -)\n", 1, 0 },
    { R("output_topic:\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:14: error: rule r1: 'output_topic' must be a Kafka topic name (1 to 249 of "
      "a-z A-Z 0-9 . _ -)\n", 1, 0 },
    { R("output_topic: [a]\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:15: error: rule r1: 'output_topic' must be a Kafka topic name (1 to 249 of "
      "a-z A-Z 0-9 . _ -)\n", 1, 0 },
    { R("output_topic: ..\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:15: error: rule r1: 'output_topic' must be a Kafka topic name (1 to 249 of "
      "a-z A-Z 0-9 . _ -)\n", 1, 0 },
    /* metadata */
    { R("enabeld: false\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:1: warning: rule r1: unknown key 'enabeld' (kept, not interpreted)\n", 0, 1 },
    { R("level: high\nseverity: low\ndetection:\n  s: {a: 1}\n"),
      "t.yml:4:11: error: rule r1: 'level' and 'severity' are synonyms; give only one "
      "(level at line 3)\n", 1, 0 },
    { R("level: urgent\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:8: error: rule r1: 'level' must be one of informational, low, medium, high, "
      "critical\n", 1, 0 },
    { R("enabled: 'no'\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:10: error: rule r1: 'enabled' must be true or false\n", 1, 0 },
    { R("tags: attack.t1\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:7: error: rule r1: 'tags' must be a list of strings\n", 1, 0 },
    { R("status: test\nauthor: me\nlogsource: {product: windows}\nfalsepositives: [x]\n"
        "detection:\n  s: {a: 1}\n"), "", 0, 0 },
    /* detection */
    { R("detection: [a]\n"), "t.yml:3:12: error: rule r1: 'detection' must be a mapping\n",
      1, 0 },
    { R("detection:\n  a: {x: 1}\n  b: {x: 2}\n"),
      "t.yml:4:3: error: rule r1: 'condition' may only be omitted when there is exactly one "
      "search identifier (there are 2)\n", 1, 0 },
    { R("detection:\n  s: {a: []}\n"), "t.yml:4:10: error: rule r1: empty list of values\n",
      1, 0 },
    { R("detection:\n  s: {a: {b: 1}}\n"),
      "t.yml:4:10: error: rule r1: the value of 'a' must be a scalar, null or a list of "
      "scalars\n", 1, 0 },
    { R("detection:\n  s: {a: [[1]]}\n"),
      "t.yml:4:11: error: rule r1: a value must be a scalar or null, not a nested list\n",
      1, 0 },
    { R("detection:\n  s: foo\n"),
      "t.yml:4:6: error: rule r1: search 's' must be a mapping, a list of mappings or a list "
      "of keywords\n", 1, 0 },
    { R("detection:\n  s: [{a: 1}, b]\n"),
      "t.yml:4:15: error: rule r1: search 's' mixes mappings and other items in one list\n",
      1, 0 },
    { R("detection:\n  s: {'': x}\n"), "t.yml:4:7: error: rule r1: empty field name\n", 1, 0 },
    /* modifiers */
    { R("detection:\n  s: {a|contain: x}\n"),
      "t.yml:4:9: error: rule r1: unknown modifier 'contain'\n", 1, 0 },
    /* the UTF-16 family: only on the way to base64 */
    { R("detection:\n  s:\n    a|wide|base64offset|contains: x\n"), "", 0, 0 },
    { R("detection:\n  s: {a|utf16le|base64: x, b|utf16be|base64: x, c|utf16|base64: x}\n"),
      "", 0, 0 },
    { R("detection:\n  s: {a|wide: x}\n"),
      "t.yml:4:9: error: rule r1: modifier 'wide' must be followed by 'base64' or "
      "'base64offset' (event text is UTF-8, so UTF-16 can only be matched "
      "base64-encoded)\n", 1, 0 },
    { R("detection:\n  s: {a|contains|utf16: x}\n"),
      "t.yml:4:18: error: rule r1: modifier 'utf16' must be followed by 'base64' or "
      "'base64offset' (event text is UTF-8, so UTF-16 can only be matched "
      "base64-encoded)\n", 1, 0 },
    { R("detection:\n  s: {a|base64offset|utf16le|contains: x}\n"),
      "t.yml:4:22: error: rule r1: modifier 'utf16le' must come before 'base64offset'\n",
      1, 0 },
    { R("detection:\n  s: {a|utf16|wide|base64: x}\n"),
      "t.yml:4:15: error: rule r1: modifier 'wide' cannot be combined with 'utf16'\n", 1, 0 },
    { R("detection:\n  s: {a|wide|base64: 'x*'}\n"),
      "t.yml:4:24: error: rule r1: wildcards cannot be used with modifier 'base64' (escape "
      "them as \\*)\n", 1, 0 },
    { R("detection:\n  s: {a|wide|re: x}\n"),
      "t.yml:4:14: error: rule r1: modifier 're' cannot be combined with 'wide'\n", 1, 0 },
    /* expand, without a placeholders file */
    { R("detection:\n  s: {a|expand: '%x%'}\n"),
      "t.yml:4:18: error: rule r1: placeholder '%x%' has no value; define 'x' in a "
      "placeholders file (kta.yaml rules.placeholders, or -p FILE)\n", 1, 0 },
    { R("detection:\n  s: {a|expand: [a%x%, '%y%b', 100%, '%%', 'a\\%x%']}\n"),
      "t.yml:4:19: error: rule r1: placeholder '%x%' has no value; define 'x' in a "
      "placeholders file (kta.yaml rules.placeholders, or -p FILE)\n"
      "t.yml:4:25: error: rule r1: placeholder '%y%' has no value; define 'y' in a "
      "placeholders file (kta.yaml rules.placeholders, or -p FILE)\n", 2, 0 },
    { R("detection:\n  s: {a|expand: no placeholder}\n"), "", 0, 0 },
    { R("detection:\n  s: {a|expand|re: x}\n"),
      "t.yml:4:16: error: rule r1: modifier 're' cannot be combined with 'expand'\n", 1, 0 },
    { R("detection:\n  s: {a|expand: null}\n"),
      "t.yml:4:17: error: rule r1: null cannot be used with modifier 'expand'\n", 1, 0 },
    { R("detection:\n  s: {a|re|contains: x}\n"),
      "t.yml:4:12: error: rule r1: modifier 'contains' cannot be combined with 're'\n", 1, 0 },
    { R("detection:\n  s: {a|contains|startswith: x}\n"),
      "t.yml:4:18: error: rule r1: modifier 'startswith' cannot be combined with "
      "'contains'\n", 1, 0 },
    { R("detection:\n  s: {a|i: x}\n"),
      "t.yml:4:9: error: rule r1: modifier 'i' is only valid after 're'\n", 1, 0 },
    { R("detection:\n  s: {a|all|all: x}\n"),
      "t.yml:4:13: error: rule r1: modifier 'all' given twice\n", 1, 0 },
    { R("detection:\n  s: {a|gt: ten}\n"),
      "t.yml:4:13: error: rule r1: modifier 'gt' needs a number, not 'ten'\n", 1, 0 },
    { R("detection:\n  s: {a|exists: yes}\n"),
      "t.yml:4:17: error: rule r1: modifier 'exists' needs true or false\n", 1, 0 },
    { R("detection:\n  s: {a|cidr: 10.0.0.0/33}\n"),
      "t.yml:4:15: error: rule r1: modifier 'cidr' needs a network such as 10.0.0.0/8 or "
      "fe80::/10, not '10.0.0.0/33'\n", 1, 0 },
    { R("detection:\n  s: {a|cidr: 10.0.0.1/8}\n"),
      "t.yml:4:15: error: rule r1: network '10.0.0.1/8' for modifier 'cidr' has host bits "
      "set\n", 1, 0 },
    { R("detection:\n  s: {a|contains: null}\n"),
      "t.yml:4:19: error: rule r1: null cannot be used with modifier 'contains'\n", 1, 0 },
    { R("detection:\n  s: {a|base64: 'x*'}\n"),
      "t.yml:4:19: error: rule r1: wildcards cannot be used with modifier 'base64' (escape "
      "them as \\*)\n", 1, 0 },
    { R("detection:\n  s: {'|exists': true}\n"),
      "t.yml:4:7: error: rule r1: modifier 'exists' needs a field name\n", 1, 0 },
    { R("detection:\n  s: {a|re: 'ab(c'}\n"),
      "t.yml:4:18: error: rule r1: invalid regular expression at offset 4: missing closing "
      "parenthesis\n", 1, 0 },
    { R("detection:\n  s: {a|re: x(?<n}\n"),
      "t.yml:4:18: error: rule r1: invalid regular expression at offset 5: syntax error in "
      "subpattern name (missing terminator?)\n", 1, 0 },
    /* several errors in one rule are all reported */
    { R("detection:\n  s: {a|foo: 1, b|re: '('}\n  condition: s and nope\n"),
      "t.yml:4:9: error: rule r1: unknown modifier 'foo'\n"
      "t.yml:4:25: error: rule r1: invalid regular expression at offset 1: missing closing "
      "parenthesis\n"
      "t.yml:5:20: error: rule r1: condition: unknown search identifier 'nope'\n", 3, 0 },
    /* duplicate ids */
    { "rules:\n  - {id: a, title: t, detection: {s: {x: 1}}}\n"
      "  - {id: a, title: u, detection: {s: {x: 2}}}\n",
      "t.yml:3:10: error: rule a: duplicate id (first defined at t.yml:2:10)\n", 1, 0 },
    /* names */
    { "rules:\n  - {id: a, name: n, title: t, detection: {s: {x: 1}}}\n"
      "  - {id: b, name: n, title: u, detection: {s: {x: 2}}}\n",
      "t.yml:3:19: error: rule b: duplicate name 'n' (first given at t.yml:2:19)\n", 1, 0 },
    { R("name: [x]\ndetection:\n  s: {a: 1}\n"),
      "t.yml:3:7: error: rule r1: 'name' must be a non-empty one-line string\n", 1, 0 },
    /* filters */
#define F(body) R("detection:\n  s: {a: 1}\n") "---\ntitle: f\n" body
    { F("filter:\n  rules: [r1]\n  s: {b: 1}\n  condition: not s\n"), "", 0, 0 },
    { F("filter:\n  s: {b: 1}\n"),
      "t.yml:8:3: error: filter has no 'rules' (the ids or names of the rules it narrows)\n",
      1, 0 },
    { F("filter:\n  rules: []\n  s: {b: 1}\n"),
      "t.yml:8:10: error: filter 'rules' must be a non-empty list of rule ids or names\n",
      1, 0 },
    { F("filter:\n  rules: r1\n  s: {b: 1}\n"),
      "t.yml:8:10: error: filter 'rules' must be a non-empty list of rule ids or names\n",
      1, 0 },
    { F("filter:\n  rules: [r1, {a: 1}]\n  s: {b: 1}\n"),
      "t.yml:8:15: error: a filter 'rules' entry must be a rule id or name (a non-empty "
      "one-line string)\n", 1, 0 },
    { F("filter:\n  rules: [r1]\n"),
      "t.yml:8:3: error: filter has no search identifier (next to 'rules' and "
      "'condition')\n", 1, 0 },
    { F("filter:\n  rules: [r1]\n  s: {b: 1}\n  t: {b: 2}\n"),
      "t.yml:8:3: error: 'condition' may only be omitted when there is exactly one search "
      "identifier (there are 2)\n", 1, 0 },
    { F("filter:\n  rules: [r1]\n  s: {b|nope: 1}\n"),
      "t.yml:9:9: error: unknown modifier 'nope'\n", 1, 0 },
    { F("filter:\n  rules: [nope]\n  s: {b: 1}\n"),
      "t.yml:8:11: error: filter names rule 'nope', which is not loaded (no rule has that "
      "id or name)\n", 1, 0 },
    { F("frob: 1\nfilter:\n  rules: [r1]\n  s: {b: 1}\n"),
      "t.yml:7:1: warning: unknown key 'frob' in a filter (ignored)\n", 0, 1 },
    { F("logsource: windows\nfilter:\n  rules: [r1]\n  s: {b: 1}\n"),
      "t.yml:7:12: error: filter 'logsource' must be a mapping (product, category, "
      "service)\n", 1, 0 },
    { "filter:\n  rules: [x]\n  s: {b: 1}\n",
      "t.yml:1:1: error: filter has no 'title'\n", 1, 0 },   /* dropped: not resolved */
    { R("detection:\n  s: {a: 1}\nfilter:\n  rules: [r1]\n  s: {b: 1}\n"),
      "t.yml:6:3: error: a document is a rule ('detection') or a filter ('filter'), not "
      "both\n", 1, 0 },
    { "rules:\n  - {id: a, title: t, detection: {s: {x: 1}}}\n"
      "  - {title: f, filter: {rules: [a], s: {y: 1}, condition: not s}}\n", "", 0, 0 },
#undef F
};

static void test_rows(void)
{
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct diags d = { "", 0 };
        struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
        struct kta_rules_stats st;
        struct kta_ruleset *rs;
        char err[1024];

        rs = kta_rules_load_string("t.yml", rows[i].yaml, strlen(rows[i].yaml), &opts, &st,
                                   err, sizeof(err));
        if (strcmp(d.text, rows[i].diag) != 0)
            fprintf(stderr, "row %zu:\n%s", i, rows[i].yaml);
        CHECK_STR(d.text, rows[i].diag);
        CHECK_INT(st.errors, rows[i].errors);
        CHECK_INT(st.warnings, rows[i].warnings);
        CHECK_INT(rs == NULL, rows[i].errors > 0);
        if (rows[i].errors)
            CHECK(strncmp(err, rows[i].diag, strlen(err)) == 0 && err[0]);
        kta_ruleset_decref(rs);
    }
}

static void test_deep_nesting(void)
{
    struct kta_buf b = { 0 };
    struct diags d = { "", 0 };
    struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
    struct kta_ruleset *rs;
    char err[512];
    int i;

    kta_buf_appends(&b, "id: r\ntitle: t\ndetection:\n  s: {a: ");
    for (i = 0; i < 100; i++)
        kta_buf_appends(&b, "[");
    for (i = 0; i < 100; i++)
        kta_buf_appends(&b, "]");
    kta_buf_appends(&b, "}\n");
    rs = kta_rules_load_string("deep.yml", b.data, b.len, &opts, NULL, err, sizeof(err));
    CHECK(rs == NULL);
    /* Level 1 is the rule mapping; the 65th level (62nd '[') opens at column 71. */
    CHECK_STR(err, "deep.yml:4:71: error: nesting deeper than 64 levels");
    CHECK_INT(d.n, 1);
    kta_buf_free(&b);

    /* 64 levels are fine (the structure is then rejected for other reasons) */
    kta_buf_reset(&b);
    kta_buf_appends(&b, "id: r\ntitle: t\ndetection:\n  s: {a: ");
    for (i = 0; i < 61; i++)
        kta_buf_appends(&b, "[");
    for (i = 0; i < 61; i++)
        kta_buf_appends(&b, "]");
    kta_buf_appends(&b, "}\n");
    rs = kta_rules_load_string("deep.yml", b.data, b.len, NULL, NULL, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(err, "nesting") == NULL);
    kta_buf_free(&b);
}

static void test_skip_invalid(void)
{
    static const char yaml[] =
        "rules:\n"
        "  - {id: good1, title: t, detection: {s: {x: 1}}}\n"
        "  - {id: bad1, title: t, detection: {s: {x|nope: 1}}}\n"
        "  - {id: good2, title: t, enabled: false, detection: {s: {x: 1}}}\n"
        "  - {id: good1, title: t, detection: {s: {x: 1}}}\n"
        "---\n"
        "id: bad2\ntitle: t\ndetection: {s: {x: 1}, condition: s and}\n";
    struct kta_rules_opts opts = { .skip_invalid = 1 };
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    char err[512];

    rs = kta_rules_load_string("s.yml", yaml, strlen(yaml), &opts, &st, err, sizeof(err));
    CHECK(rs != NULL);
    CHECK_INT(kta_ruleset_count(rs), 2);
    CHECK_INT(st.rules, 2);
    CHECK_INT(st.enabled, 1);
    CHECK_INT(st.skipped, 3);
    CHECK_INT(st.errors, 3);
    CHECK_INT(st.files, 1);
    CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 1)), "good2");
    CHECK_STR(err, "s.yml:3:44: error: rule bad1: unknown modifier 'nope'");
    kta_ruleset_decref(rs);

    opts.skip_invalid = 0;
    rs = kta_rules_load_string("s.yml", yaml, strlen(yaml), &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK_INT(st.skipped, 0);
    CHECK_INT(st.errors, 3);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *p = xasprintf("%s/%s", dir, name);
    FILE *fp = fopen(p, "w");

    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    free(p);
}

static void test_directory(void)
{
    char dir[] = "/tmp/kta-rules-XXXXXX";
    char *sub, *big;
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    struct diags d = { "", 0 };
    struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
    char err[1024];
    FILE *fp;
    size_t i;

    CHECK(mkdtemp(dir) != NULL);
    sub = xasprintf("%s/sub", dir);
    mkdir(sub, 0700);
    write_file(dir, "b.yml", "id: b\ntitle: b\ndetection: {s: {x: 1}}\n");
    write_file(dir, "a.yaml", "id: a\ntitle: a\ndetection: {s: {x: 1}}\n---\n"
                              "id: a2\ntitle: a2\ndetection: {s: {x: 1}}\n");
    write_file(dir, "B.yml", "id: B\ntitle: B\ndetection: {s: {x: 1}}\n");
    write_file(dir, "notes.txt", "not yaml: [\n");
    write_file(dir, "c.yml.bak", "not yaml: [\n");
    write_file(sub, "z.yml", "id: z\ntitle: z\ndetection: {s: {x: 1}}\n");
    rs = kta_rules_load(dir, &opts, &st, err, sizeof(err));
    CHECK(rs != NULL);
    CHECK_INT(st.files, 4);
    CHECK_INT(kta_ruleset_count(rs), 5);
    /* byte-wise sorted paths: B.yml < a.yaml < b.yml < sub/z.yml */
    if (kta_ruleset_count(rs) == 5) {
        CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 0)), "B");
        CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 1)), "a");
        CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 2)), "a2");
        CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 3)), "b");
        CHECK_STR(kta_rule_id(kta_ruleset_rule(rs, 4)), "z");
    }
    kta_ruleset_decref(rs);

    /* a file over 4 MiB is rejected */
    big = xasprintf("%s/big.yml", dir);
    fp = fopen(big, "w");
    if (fp) {
        fputs("id: big\ntitle: big\ndetection:\n  k:\n", fp);
        for (i = 0; i < 300000; i++)
            fputs("    - aaaaaaaaaa\n", fp);
        fclose(fp);
    }
    d.text[0] = '\0';
    rs = kta_rules_load(big, &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(d.text, "big.yml:1:1: error: rule file is larger than 4 MiB") != NULL);

    /* a missing path fails even with skip_invalid */
    opts.skip_invalid = 1;
    d.text[0] = '\0';
    rs = kta_rules_load("/nonexistent/kta-rules", &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK_STR(err, "/nonexistent/kta-rules:0:0: error: cannot read: No such file or directory");

    /* a broken field map fails the load */
    write_file(dir, "fm.map", "Image: [a, {b: 1}]\n");
    opts.fieldmap = xasprintf("%s/fm.map", dir);
    rs = kta_rules_load_string("x.yml", "id: a\ntitle: a\ndetection: {s: {x: 1}}\n", 38,
                               &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(err, "fm.map:1:12: error: field map entry 'Image': a path must be a "
                      "non-empty string") != NULL);
    free((char *)opts.fieldmap);

    remove(big);
    free(big);
    {
        char *cmd = xasprintf("rm -rf '%s'", dir);

        CHECK_INT(system(cmd), 0);
        free(cmd);
    }
    free(sub);
}

static void test_placeholders(void)
{
    char dir[] = "/tmp/kta-ph-XXXXXX";
    struct diags d = { "", 0 };
    struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
    static const char rule[] = "id: a\ntitle: a\ndetection: {s: {x|expand: 'h-%ws%-%n%'}}\n";
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    struct kta_buf big = { 0 };
    char err[1024], *ph, *rules;
    uint64_t f1, f2;
    int i;

    CHECK(mkdtemp(dir) != NULL);
    ph = xasprintf("%s/ph.map", dir);
    rules = xasprintf("%s/r.yml", dir);
    write_file(dir, "r.yml", rule);
    write_file(dir, "ph.map", "ws: [a, b, c]\nn: [1, 2]\nunused: x\n");
    opts.placeholders = ph;

    /* 3 x 2 combinations, each one value of the list */
    rs = kta_rules_load(rules, &opts, &st, err, sizeof(err));
    CHECK(rs != NULL);
    CHECK_STR(d.text, "");
    if (rs && kta_ruleset_count(rs) == 1) {
        const struct kta_fcond *fc = &kta_ruleset_rule(rs, 0)->searches[0].maps[0].conds[0];

        CHECK_INT(fc->nvals, 6);
        CHECK_STR(fc->vals[0].lit, "h-a-1");
        CHECK_STR(fc->vals[1].lit, "h-a-2");
        CHECK_STR(fc->vals[5].lit, "h-c-2");
    }
    kta_ruleset_decref(rs);

    /* the placeholders file is part of the fingerprint */
    f1 = kta_rules_fingerprint((const char *const *)&rules, 1, NULL, ph);
    CHECK(f1 != kta_rules_fingerprint((const char *const *)&rules, 1, NULL, NULL));
    CHECK(f1 == kta_rules_fingerprint((const char *const *)&rules, 1, NULL, ph));
    write_file(dir, "ph.map", "ws: [a, b, c, d]\nn: [1, 2]\n");
    f2 = kta_rules_fingerprint((const char *const *)&rules, 1, NULL, ph);
    CHECK(f1 != f2);

    /* too many combinations */
    kta_buf_appends(&big, "ws: [");
    for (i = 0; i < 100; i++)
        kta_buf_printf(&big, "%sw%d", i ? ", " : "", i);
    kta_buf_appends(&big, "]\nn: [");
    for (i = 0; i < 41; i++)
        kta_buf_printf(&big, "%s%d", i ? ", " : "", i);
    kta_buf_appends(&big, "]\n");
    write_file(dir, "ph.map", big.data);
    d.text[0] = '\0';
    rs = kta_rules_load(rules, &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(d.text, "r.yml:3:35: error: rule a: placeholder '%n%' makes the value expand "
                         "into more than 4096 values") != NULL);

    /* a broken placeholders file fails the load even with skip_invalid */
    opts.skip_invalid = 1;
    write_file(dir, "ph.map", "- just\n- a list\n");
    d.text[0] = '\0';
    rs = kta_rules_load(rules, &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(err, "ph.map:1:1: error: a placeholders file must be a single YAML mapping "
                      "from names to values") != NULL);
    /* an empty file defines nothing: the rule's placeholders have no value */
    write_file(dir, "ph.map", "# none yet\n");
    rs = kta_rules_load(rules, &opts, &st, err, sizeof(err));
    CHECK(rs != NULL && kta_ruleset_count(rs) == 0);
    CHECK(strstr(err, "r.yml:3:30: error: rule a: placeholder '%ws%' has no value") != NULL);
    kta_ruleset_decref(rs);
    remove(ph);
    rs = kta_rules_load(rules, &opts, &st, err, sizeof(err));
    CHECK(rs == NULL);
    CHECK(strstr(err, "ph.map:0:0: error: cannot read placeholders: ") != NULL);

    remove(rules);
    rmdir(dir);
    kta_buf_free(&big);
    free(ph);
    free(rules);
}

/* The version is a digest of the content, not of names or places; several
 * paths load in order; --strict makes warnings fail the load. */
static void test_version_paths_strict(void)
{
    char d1[] = "/tmp/kta-ver1-XXXXXX", d2[] = "/tmp/kta-ver2-XXXXXX";
    struct diags d = { "", 0 };
    struct kta_rules_opts opts = { .diag = on_diag, .diag_opaque = &d };
    struct kta_rules_stats st;
    struct kta_ruleset *a, *b, *c;
    char err[1024], va[16];
    const char *paths[2];

    CHECK(mkdtemp(d1) != NULL);
    CHECK(mkdtemp(d2) != NULL);
    write_file(d1, "one.yml", "id: a\ntitle: a\ndetection: {s: {x: 1}}\n");
    write_file(d2, "other-name.yml", "id: a\ntitle: a\ndetection: {s: {x: 1}}\n");
    a = kta_rules_load(d1, &opts, &st, err, sizeof(err));
    b = kta_rules_load(d2, &opts, &st, err, sizeof(err));
    CHECK(a && b);
    if (a && b) {
        CHECK_INT(strlen(kta_ruleset_version(a)), 12);
        CHECK_INT(strlen(kta_ruleset_digest(a)), 64);
        CHECK_STR(kta_ruleset_version(a), kta_ruleset_version(b));
        CHECK(strncmp(kta_ruleset_digest(a), kta_ruleset_version(a), 12) == 0);
        snprintf(va, sizeof(va), "%s", kta_ruleset_version(a));
    }
    kta_ruleset_decref(a);
    kta_ruleset_decref(b);
    /* one byte more: another version */
    write_file(d2, "other-name.yml", "id: a\ntitle: a\ndetection: {s: {x: 2}}\n");
    b = kta_rules_load(d2, &opts, &st, err, sizeof(err));
    CHECK(b && strcmp(kta_ruleset_version(b), va) != 0);
    kta_ruleset_decref(b);
    /* two paths: both loaded, in order; a duplicate id across them is an error */
    write_file(d2, "other-name.yml", "id: b\ntitle: b\ndetection: {s: {x: 2}}\n");
    paths[0] = d1;
    paths[1] = d2;
    c = kta_rules_load_paths(paths, 2, &opts, &st, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        CHECK_INT(kta_ruleset_count(c), 2);
        CHECK_STR(kta_rule_id(kta_ruleset_rule(c, 0)), "a");
        CHECK_STR(kta_rule_id(kta_ruleset_rule(c, 1)), "b");
        CHECK(strcmp(kta_ruleset_version(c), va) != 0);
    }
    kta_ruleset_decref(c);
    /* a warning (unknown key) passes, and fails with strict */
    write_file(d2, "other-name.yml", "id: b\ntitle: b\nfrobnicate: 1\ndetection: {s: {x: 2}}\n");
    d.text[0] = '\0';
    c = kta_rules_load(d2, &opts, &st, err, sizeof(err));
    CHECK(c != NULL);
    CHECK_INT(st.warnings, 1);
    kta_ruleset_decref(c);
    opts.strict = 1;
    c = kta_rules_load(d2, &opts, &st, err, sizeof(err));
    CHECK(c == NULL);
    CHECK(strstr(err, "error: rule b: unknown key 'frobnicate'") != NULL);
    CHECK(strstr(err, "(a warning; --strict)") != NULL);
    kta_ruleset_decref(c);
    {
        char *cmd = xasprintf("rm -rf '%s' '%s'", d1, d2);

        CHECK_INT(system(cmd), 0);
        free(cmd);
    }
}

/* output_topic is the rule's, not metadata; every rule knows its place. */
static void test_output_topic(void)
{
    static const char yaml[] =
        "rules:\n  - id: a\n    title: a\n    output_topic: pager\n    detection: {s: {x: 1}}\n"
        "  - id: b\n    title: b\n    detection: {s: {x: 2}}\n";
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("o.yml", yaml, strlen(yaml), NULL, NULL, err,
                                                   sizeof(err));

    CHECK(rs != NULL);
    CHECK_STR(kta_rule_output_topic(kta_ruleset_rule(rs, 0)), "pager");
    CHECK(kta_rule_output_topic(kta_ruleset_rule(rs, 1)) == NULL);
    CHECK(json_object_get(kta_rule_meta(kta_ruleset_rule(rs, 0)), "output_topic") == NULL);
    CHECK_INT(kta_rule_index(kta_ruleset_rule(rs, 0)), 0);
    CHECK_INT(kta_rule_index(kta_ruleset_rule(rs, 1)), 1);
    kta_ruleset_decref(rs);
}

/* tests: cases are kept, in order, each event as JSON text with its line;
 * they stay out of the metadata; the accessors give the rule's place. */
static void test_tests_key(void)
{
    static const char yaml[] =
        "rules:\n"
        "  - id: a\n"
        "    title: a\n"
        "    detection: {s: {x: 1}}\n"
        "    tests:\n"
        "      - match: {x: 1, y: '2', z: [true, null], w: {v: 1.5}}\n"
        "      - no_match:\n"
        "          x: 2\n"
        "---\n"
        "title: c\n"
        "id: c\n"
        "correlation: {type: event_count, rules: [a], timespan: 1m, condition: {gte: 2}}\n"
        "tests:\n"
        "  - events:\n"
        "      - {x: 1}\n"
        "      - {x: 1}\n"
        "    hits: [{count: 2}]\n"
        "  - events: [{x: 1}]\n"
        "    hits: 0\n";
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("t.yml", yaml, strlen(yaml), NULL, NULL, err,
                                                   sizeof(err));
    const struct kta_rule *r;
    const struct kta_rule_test *t;
    const struct kta_corrdef *c;
    size_t n;

    CHECK(rs != NULL);
    if (!rs)
        return;
    r = kta_ruleset_rule(rs, 0);
    t = kta_rule_tests(r, &n);
    CHECK_INT(n, 2);
    CHECK_INT(t[0].kind, KTA_TEST_MATCH);
    CHECK_INT(t[0].line, 6);
    CHECK_INT(t[0].nevents, 1);
    CHECK_STR(t[0].events[0], "{\"x\":1,\"y\":\"2\",\"z\":[true,null],\"w\":{\"v\":1.5}}");
    CHECK_INT(t[1].kind, KTA_TEST_NO_MATCH);
    CHECK_INT(t[1].line, 7);
    CHECK_INT(t[1].event_lines[0], 8);
    CHECK_STR(t[1].events[0], "{\"x\":2}");
    CHECK(json_object_get(kta_rule_meta(r), "tests") == NULL);
    CHECK_STR(kta_rule_file(r), "t.yml");
    CHECK_INT(kta_rule_line(r), 2);
    CHECK_INT(kta_rule_ls_state(r), KTA_LS_NONE);
    c = kta_ruleset_corr(rs, 0);
    CHECK_INT(c->ntests, 2);
    CHECK_INT(c->tests[0].kind, KTA_TEST_EVENTS);
    CHECK_INT(c->tests[0].nevents, 2);
    CHECK_INT(c->tests[0].event_lines[1], 16);
    CHECK_INT(c->tests[0].nhits, 1);
    CHECK_INT(json_integer_value(json_object_get(json_array_get(c->tests[0].hits, 0), "count")),
              2);
    CHECK_INT(c->tests[1].nhits, 0);
    CHECK(c->tests[1].hits == NULL);
    kta_ruleset_decref(rs);
}

/* Filters narrow the rules they name and are not rules themselves; the
 * version changes with a filter's content. */
static void test_filters(void)
{
    static const char base[] =
        "id: a\ntitle: a\nname: alpha\ndetection: {s: {x: 1}}\n---\n"
        "id: b\ntitle: b\ndetection: {s: {x: 1}}\n";
    static const char filt[] =
        "---\ntitle: f\nfilter:\n  rules: [alpha]\n  s: {y: 2}\n  condition: not s\n";
    char err[512], ver[16], *yaml = xasprintf("%s%s", base, filt);
    struct kta_rules_stats st;
    struct kta_ruleset *rs;
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    json_t *ev;

    rs = kta_rules_load_string("f.yml", base, strlen(base), NULL, &st, err, sizeof(err));
    CHECK(rs != NULL);
    snprintf(ver, sizeof(ver), "%s", rs ? kta_ruleset_version(rs) : "");
    kta_ruleset_decref(rs);
    rs = kta_rules_load_string("f.yml", yaml, strlen(yaml), NULL, &st, err, sizeof(err));
    CHECK(rs != NULL);
    if (rs) {
        CHECK(strcmp(kta_ruleset_version(rs), ver) != 0);
        CHECK_INT(kta_ruleset_count(rs), 2);
        CHECK_INT(st.rules, 2);
        CHECK_INT(st.filters, 1);
        CHECK_INT(st.filter_uses, 1);
        CHECK_INT(st.filtered, 1);
        CHECK_STR(kta_rule_name(kta_ruleset_rule(rs, 0)), "alpha");
        CHECK(kta_rule_name(kta_ruleset_rule(rs, 1)) == NULL);
        CHECK(kta_rules_find_ref(rs->rules, rs->nrules, "alpha") == rs->rules[0]);
        CHECK(kta_rules_find_ref(rs->rules, rs->nrules, "b") == rs->rules[1]);
        CHECK(kta_rules_find_ref(rs->rules, rs->nrules, "zeta") == NULL);
        ev = json_pack("{s:i, s:i}", "x", 1, "y", 2);
        CHECK_INT(kta_eval(rs, ctx, ev, NULL, NULL), 1);   /* only b */
        json_decref(ev);
        ev = json_pack("{s:i, s:i}", "x", 1, "y", 3);
        CHECK_INT(kta_eval(rs, ctx, ev, NULL, NULL), 2);
        json_decref(ev);
    }
    kta_ruleset_decref(rs);
    free(yaml);
    /* skip_invalid: a filter naming an unknown rule is dropped (counted),
     * the rules load unfiltered */
    yaml = xasprintf("%s---\ntitle: g\nfilter:\n  rules: [alpha, nope]\n  s: {y: 2}\n"
                     "  condition: not s\n", base);
    {
        struct kta_rules_opts opts = { .skip_invalid = 1 };

        rs = kta_rules_load_string("f.yml", yaml, strlen(yaml), &opts, &st, err, sizeof(err));
    }
    CHECK(rs != NULL);
    CHECK_INT(st.errors, 1);
    CHECK_INT(st.skipped, 1);
    CHECK_INT(st.filters, 0);
    CHECK_INT(st.rules, 2);
    if (rs) {
        ev = json_pack("{s:i, s:i}", "x", 1, "y", 2);
        CHECK_INT(kta_eval(rs, ctx, ev, NULL, NULL), 2);
        json_decref(ev);
    }
    kta_ruleset_decref(rs);
    kta_eval_ctx_free(ctx);
    free(yaml);
}

int main(void)
{
    test_filters();
    test_output_topic();
    test_tests_key();
    test_version_paths_strict();
    test_rows();
    test_placeholders();
    test_deep_nesting();
    test_skip_invalid();
    test_directory();
    return tap_done();
}
