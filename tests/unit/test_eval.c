/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for eval.c: one table row per matching rule of docs/rules.md §4-13
 * and 3.3 — a detection, an event, and whether the rule must match.  Rules
 * are loaded from strings (kta_rules_load_string), so no files are needed.
 */
#include "rules_int.h"
#include "tap.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct row {
    const char *det;     /* the body of `detection:`, indented by 2 */
    const char *event;   /* JSON object */
    int         match;
};

static const struct row rows[] = {
    /* plain string: whole-string, caseless */
    { "  s: {a: foo}\n", "{\"a\":\"foo\"}", 1 },
    { "  s: {a: foo}\n", "{\"a\":\"FOO\"}", 1 },
    { "  s: {a: foo}\n", "{\"a\":\"food\"}", 0 },
    { "  s: {a: foo}\n", "{\"b\":\"foo\"}", 0 },
    /* non-ASCII case folding */
    { "  s: {a: ärger}\n", "{\"a\":\"ÄRGER\"}", 1 },
    { "  s: {a: ÄRGER}\n", "{\"a\":\"ärger\"}", 1 },
    { "  s: {a|contains: straße}\n", "{\"a\":\"DIE STRASSE\"}", 0 },
    { "  s: {a|contains: ärg}\n", "{\"a\":\"VOLLER ÄRGER\"}", 1 },
    { "  s: {a|contains|cased: ärg}\n", "{\"a\":\"VOLLER ÄRGER\"}", 0 },
    { "  s: {a: kelvin}\n", "{\"a\":\"\xe2\x84\xaa" "ELVIN\"}", 1 },  /* KELVIN SIGN */
    /* wildcards */
    { "  s: {a: 'f*o'}\n", "{\"a\":\"fxxo\"}", 1 },
    { "  s: {a: 'f*o'}\n", "{\"a\":\"fo\"}", 1 },
    { "  s: {a: 'f*o'}\n", "{\"a\":\"f\\nx\\no\"}", 1 },
    { "  s: {a: 'f?o'}\n", "{\"a\":\"fxo\"}", 1 },
    { "  s: {a: 'f?o'}\n", "{\"a\":\"fo\"}", 0 },
    { "  s: {a: 'f?o'}\n", "{\"a\":\"fäo\"}", 1 },
    { "  s: {a: '*'}\n", "{\"a\":\"\"}", 1 },
    { "  s: {a: '*'}\n", "{\"a\":5}", 1 },
    { "  s: {a: '*'}\n", "{\"b\":\"\"}", 0 },
    { "  s: {a: ''}\n", "{\"a\":\"\"}", 1 },
    { "  s: {a: ''}\n", "{\"a\":\"x\"}", 0 },
    /* escaped wildcards */
    { "  s: {a: 'a\\*b'}\n", "{\"a\":\"a*b\"}", 1 },
    { "  s: {a: 'a\\*b'}\n", "{\"a\":\"axb\"}", 0 },
    { "  s: {a: 'a\\?b'}\n", "{\"a\":\"a?b\"}", 1 },
    { "  s: {a: 'a\\?b'}\n", "{\"a\":\"axb\"}", 0 },
    { "  s: {a: 'a\\\\b'}\n", "{\"a\":\"a\\\\b\"}", 1 },
    { "  s: {a: 'a\\\\*'}\n", "{\"a\":\"a\\\\xyz\"}", 1 },
    { "  s: {a: 'C:\\Windows\\'}\n", "{\"a\":\"c:\\\\windows\\\\\"}", 1 },
    { "  s: {a|endswith: '\\'}\n", "{\"a\":\"x\\\\\"}", 1 },
    { "  s: {a|endswith: '\\'}\n", "{\"a\":\"x*\"}", 0 },
    /* contains / startswith / endswith */
    { "  s: {a|contains: oba}\n", "{\"a\":\"FOOBAR\"}", 1 },
    { "  s: {a|contains: obx}\n", "{\"a\":\"FOOBAR\"}", 0 },
    { "  s: {a|startswith: foo}\n", "{\"a\":\"Foobar\"}", 1 },
    { "  s: {a|startswith: bar}\n", "{\"a\":\"Foobar\"}", 0 },
    { "  s: {a|endswith: bar}\n", "{\"a\":\"fooBAR\"}", 1 },
    { "  s: {a|endswith: foo}\n", "{\"a\":\"foobar\"}", 0 },
    { "  s: {a|contains: 'o*a'}\n", "{\"a\":\"foobar\"}", 1 },
    { "  s: {a|contains: 'o?a'}\n", "{\"a\":\"foobar\"}", 1 },
    { "  s: {a|contains: 'x?a'}\n", "{\"a\":\"foobar\"}", 0 },
    /* lists: OR, all: AND */
    { "  s: {a: [x, y]}\n", "{\"a\":\"y\"}", 1 },
    { "  s: {a: [x, y]}\n", "{\"a\":\"z\"}", 0 },
    { "  s: {a|contains|all: [x, y]}\n", "{\"a\":\"-y-x-\"}", 1 },
    { "  s: {a|contains|all: [x, y]}\n", "{\"a\":\"-y-\"}", 0 },
    { "  s: {a|all: [x, y]}\n", "{\"a\":[\"x\",\"y\"]}", 1 },
    { "  s: {a|all: [x, y]}\n", "{\"a\":[\"x\",\"z\"]}", 0 },
    /* cased */
    { "  s: {a|cased: Foo}\n", "{\"a\":\"Foo\"}", 1 },
    { "  s: {a|cased: Foo}\n", "{\"a\":\"foo\"}", 0 },
    { "  s: {a|contains|cased: oB}\n", "{\"a\":\"foBar\"}", 1 },
    { "  s: {a|contains|cased: oB}\n", "{\"a\":\"foobar\"}", 0 },
    { "  s: {a|cased: 'F*o'}\n", "{\"a\":\"Fxo\"}", 1 },
    { "  s: {a|cased: 'F*o'}\n", "{\"a\":\"fxo\"}", 0 },
    /* numbers and booleans */
    { "  s: {a: 4625}\n", "{\"a\":4625}", 1 },
    { "  s: {a: 4625}\n", "{\"a\":\"4625\"}", 1 },
    { "  s: {a: '4625'}\n", "{\"a\":4625}", 1 },
    { "  s: {a: 4625}\n", "{\"a\":4626}", 0 },
    { "  s: {a: 1.0}\n", "{\"a\":1}", 1 },
    { "  s: {a: 1}\n", "{\"a\":1.0}", 1 },
    { "  s: {a: 1}\n", "{\"a\":\"1.0\"}", 0 },
    { "  s: {a: '1.5'}\n", "{\"a\":1.5}", 1 },
    { "  s: {a: true}\n", "{\"a\":true}", 1 },
    { "  s: {a: true}\n", "{\"a\":\"TRUE\"}", 1 },
    { "  s: {a: 'true'}\n", "{\"a\":true}", 1 },
    { "  s: {a: false}\n", "{\"a\":true}", 0 },
    { "  s: {a|contains: 62}\n", "{\"a\":4625}", 1 },
    { "  s: {a|startswith: 46}\n", "{\"a\":4625}", 1 },
    /* null, missing, present-null */
    { "  s: {a: null}\n", "{}", 1 },
    { "  s: {a: null}\n", "{\"a\":null}", 1 },
    { "  s: {a: null}\n", "{\"a\":\"\"}", 0 },
    { "  s: {a: null}\n", "{\"a\":{}}", 0 },
    { "  s: {a: ~}\n", "{\"b\":1}", 1 },
    { "  s: {a: 'null'}\n", "{\"a\":null}", 0 },
    { "  s: {a: [null, x]}\n", "{\"a\":\"x\"}", 1 },
    { "  s: {a: [null, x]}\n", "{}", 1 },
    { "  s: {a: x}\n", "{\"a\":null}", 0 },
    /* objects never match a scalar */
    { "  s: {a: '*'}\n", "{\"a\":{\"b\":1}}", 0 },
    /* lookup: flat dotted key first, then nested, arrays fan out */
    { "  s: {a.b: x}\n", "{\"a.b\":\"x\"}", 1 },
    { "  s: {a.b: x}\n", "{\"a\":{\"b\":\"x\"}}", 1 },
    { "  s: {a.b: x}\n", "{\"a.b\":\"y\",\"a\":{\"b\":\"x\"}}", 0 },
    { "  s: {a.b: x}\n", "{\"a\":[{\"b\":\"y\"},{\"b\":\"x\"}]}", 1 },
    { "  s: {a.b: x}\n", "{\"a\":[{\"b\":\"y\"},{\"c\":\"x\"}]}", 0 },
    { "  s: {a.b: x}\n", "{\"a\":{\"b\":[\"y\",\"x\"]}}", 1 },
    { "  s: {a.b.c: x}\n", "{\"a\":[{\"b\":[{\"c\":\"q\"},{\"c\":[\"x\"]}]}]}", 1 },
    { "  s: {a.b: 1}\n", "{\"a\":[{\"b\":1}]}", 1 },
    { "  s: {a: x}\n", "{\"a\":[[\"x\"]]}", 1 },
    { "  s: {a.b: null}\n", "{\"a\":[]}", 1 },
    { "  s: {a.b: null}\n", "{\"a\":{\"b\":[]}}", 1 },
    /* exists */
    { "  s: {a|exists: true}\n", "{\"a\":null}", 1 },
    { "  s: {a|exists: true}\n", "{\"a\":\"\"}", 1 },
    { "  s: {a|exists: true}\n", "{\"b\":\"\"}", 0 },
    { "  s: {a|exists: false}\n", "{\"b\":\"\"}", 1 },
    { "  s: {a|exists: false}\n", "{\"a\":0}", 0 },
    { "  s: {a.b|exists: true}\n", "{\"a\":[{\"c\":1},{\"b\":2}]}", 1 },
    { "  s: {a.b|exists: true}\n", "{\"a\":[{\"c\":1}]}", 0 },
    /* re */
    { "  s: {a|re: 'fo+b'}\n", "{\"a\":\"xxfooobyy\"}", 1 },
    { "  s: {a|re: 'fo+b'}\n", "{\"a\":\"xxFOOByy\"}", 0 },
    { "  s: {a|re|i: 'fo+b'}\n", "{\"a\":\"xxFOOByy\"}", 1 },
    { "  s: {a|re: '^b$'}\n", "{\"a\":\"a\\nb\\nc\"}", 0 },
    { "  s: {a|re|m: '^b$'}\n", "{\"a\":\"a\\nb\\nc\"}", 1 },
    { "  s: {a|re: 'a.b'}\n", "{\"a\":\"a\\nb\"}", 0 },
    { "  s: {a|re|s: 'a.b'}\n", "{\"a\":\"a\\nb\"}", 1 },
    { "  s: {a|re: '^\\d+$'}\n", "{\"a\":12345}", 1 },
    { "  s: {a|re|all: ['x', 'y']}\n", "{\"a\":\"xy\"}", 1 },
    { "  s: {a|re|all: ['x', 'z']}\n", "{\"a\":\"xy\"}", 0 },
    /* gt gte lt lte */
    { "  s: {a|gt: 10}\n", "{\"a\":11}", 1 },
    { "  s: {a|gt: 10}\n", "{\"a\":10}", 0 },
    { "  s: {a|gte: 10}\n", "{\"a\":10}", 1 },
    { "  s: {a|lt: 10}\n", "{\"a\":9.5}", 1 },
    { "  s: {a|lt: 10}\n", "{\"a\":10}", 0 },
    { "  s: {a|lte: 10}\n", "{\"a\":\"10\"}", 1 },
    { "  s: {a|lte: 10}\n", "{\"a\":\"10x\"}", 0 },
    { "  s: {a|gt: 10}\n", "{\"a\":\" 11\"}", 0 },
    { "  s: {a|gt: 10}\n", "{\"a\":true}", 0 },
    { "  s: {a|gt: '-1.5'}\n", "{\"a\":\"-1e0\"}", 1 },
    { "  s: {a|gt: 10}\n", "{\"a\":[1,20]}", 1 },
    /* cidr */
    { "  s: {ip|cidr: 10.0.0.0/8}\n", "{\"ip\":\"10.1.2.3\"}", 1 },
    { "  s: {ip|cidr: 10.0.0.0/8}\n", "{\"ip\":\"11.1.2.3\"}", 0 },
    { "  s: {ip|cidr: 192.168.1.0/25}\n", "{\"ip\":\"192.168.1.127\"}", 1 },
    { "  s: {ip|cidr: 192.168.1.0/25}\n", "{\"ip\":\"192.168.1.128\"}", 0 },
    { "  s: {ip|cidr: 10.0.0.0/8}\n", "{\"ip\":\"::ffff:10.9.9.9\"}", 1 },
    { "  s: {ip|cidr: 10.0.0.0/8}\n", "{\"ip\":\"not an ip\"}", 0 },
    { "  s: {ip|cidr: 'fe80::/10'}\n", "{\"ip\":\"fe80::1\"}", 1 },
    { "  s: {ip|cidr: 'fe80::/10'}\n", "{\"ip\":\"FEBF::1%eth0\"}", 1 },
    { "  s: {ip|cidr: 'fe80::/10'}\n", "{\"ip\":\"fec0::1\"}", 0 },
    { "  s: {ip|cidr: 'fe80::/10'}\n", "{\"ip\":\"10.0.0.1\"}", 0 },
    { "  s: {ip|cidr: '2001:db8::/32'}\n", "{\"ip\":\"2001:db8:ffff::1\"}", 1 },
    { "  s: {ip|cidr: [10.0.0.0/8, '::1/128']}\n", "{\"ip\":\"::1\"}", 1 },
    { "  s: {ip|cidr: 0.0.0.0/0}\n", "{\"ip\":\"1.2.3.4\"}", 1 },
    /* fieldref */
    { "  s: {a|fieldref: b}\n", "{\"a\":\"X\",\"b\":\"x\"}", 1 },
    { "  s: {a|fieldref: b}\n", "{\"a\":\"x*\",\"b\":\"xy\"}", 0 },
    { "  s: {a|fieldref: b}\n", "{\"a\":\"x\"}", 0 },
    { "  s: {a|fieldref: b.c}\n", "{\"a\":5,\"b\":{\"c\":\"5\"}}", 1 },
    { "  s: {a|fieldref: b}\n", "{\"a\":\"ÄRGER\",\"b\":\"ärger\"}", 1 },
    { "  s: {a|fieldref: b}\n", "{\"a\":[\"p\",\"q\"],\"b\":[\"r\",\"Q\"]}", 1 },
    /* base64 */
    { "  s: {a|base64: 'hello'}\n", "{\"a\":\"aGVsbG8=\"}", 1 },
    { "  s: {a|base64: 'hello'}\n", "{\"a\":\"xaGVsbG8=\"}", 0 },
    { "  s: {a|base64|contains: 'hello'}\n", "{\"a\":\"xxaGVsbG8=yy\"}", 1 },
    { "  s: {a|base64|startswith: 'hi'}\n", "{\"a\":\"aGk=...\"}", 1 },
    /* base64offset: 'hello' at the three alignments */
    { "  s: {a|base64offset|contains: 'hello'}\n", "{\"a\":\"aGVsbG8=\"}", 1 },
    { "  s: {a|base64offset|contains: 'hello'}\n", "{\"a\":\"eGhlbGxv\"}", 1 },   /* xhello */
    { "  s: {a|base64offset|contains: 'hello'}\n", "{\"a\":\"eHhoZWxsbw==\"}", 1 },/* xxhello */
    { "  s: {a|base64offset|contains: 'hello'}\n", "{\"a\":\"aGVscG8=\"}", 0 },
    /* windash */
    { "  s: {a|windash|contains: ' -exec '}\n", "{\"a\":\"x /exec y\"}", 1 },
    { "  s: {a|windash|contains: ' -exec '}\n", "{\"a\":\"x \xe2\x80\x93" "exec y\"}", 1 },
    { "  s: {a|windash|contains: ' -exec '}\n", "{\"a\":\"x -exec y\"}", 1 },
    { "  s: {a|windash|contains: ' -exec '}\n", "{\"a\":\"x +exec y\"}", 0 },
    { "  s: {a|windash|contains: 'a-b'}\n", "{\"a\":\"a/b\"}", 0 },
    { "  s: {a|windash: '/s'}\n", "{\"a\":\"-S\"}", 1 },
    /* keywords: any string value at any depth, not keys, not numbers */
    { "  k: [evil]\n", "{\"a\":{\"b\":[\"x\",\"VERY EVIL\"]}}", 1 },
    { "  k: [evil]\n", "{\"evil\":\"x\"}", 0 },
    { "  k: [evil, bad]\n", "{\"a\":\"bad\"}", 1 },
    { "  k: [46]\n", "{\"a\":4625}", 0 },
    { "  k: [46]\n", "{\"a\":\"4625\"}", 1 },
    { "  k: ['e*l']\n", "{\"a\":\"xeviLx\"}", 1 },
    { "  k: ['\\*']\n", "{\"a\":\"no star\"}", 0 },
    { "  k: {'|all': [evil, bad]}\n", "{\"a\":\"evil\",\"b\":[\"bad\"]}", 1 },
    { "  k: {'|all': [evil, bad]}\n", "{\"a\":\"evil\"}", 0 },
    { "  k: {'|contains|windash': ' -x'}\n", "{\"a\":\"cmd /x\"}", 1 },
    { "  k: {'|re': '^ab+c$'}\n", "{\"q\":[\"abbbc\"]}", 1 },
    { "  k: {'|cased': 'Evil'}\n", "{\"q\":\"evil\"}", 0 },
    { "  k: {'|startswith': 'ev'}\n", "{\"q\":\"xevil\"}", 0 },
    { "  k:\n    '|all': [evil]\n    a: 1\n", "{\"a\":1,\"b\":\"EVIL\"}", 1 },
    { "  k:\n    '|all': [evil]\n    a: 1\n", "{\"a\":2,\"b\":\"EVIL\"}", 0 },
    /* search: list of mappings is OR, mapping is AND */
    { "  s:\n    - {a: 1, b: 2}\n    - {c: 3}\n", "{\"a\":1,\"b\":2}", 1 },
    { "  s:\n    - {a: 1, b: 2}\n    - {c: 3}\n", "{\"a\":1,\"b\":3}", 0 },
    { "  s:\n    - {a: 1, b: 2}\n    - {c: 3}\n", "{\"c\":3}", 1 },
    /* conditions */
    { "  a: {x: 1}\n  b: {y: 1}\n  c: {z: 1}\n  condition: a or b and not c\n",
      "{\"x\":1,\"z\":1}", 1 },
    { "  a: {x: 1}\n  b: {y: 1}\n  c: {z: 1}\n  condition: a or b and not c\n",
      "{\"y\":1,\"z\":1}", 0 },
    { "  a: {x: 1}\n  b: {y: 1}\n  c: {z: 1}\n  condition: (a or b) and not c\n",
      "{\"x\":1,\"z\":1}", 0 },
    { "  a: {x: 1}\n  b: {y: 1}\n  c: {z: 1}\n  condition: NOT a AND (b OR c)\n",
      "{\"z\":1}", 1 },
    { "  a: {x: 1}\n  b: {y: 1}\n  condition: not not a\n", "{\"x\":1}", 1 },
    { "  sel_1: {x: 1}\n  sel_2: {y: 1}\n  other: {z: 1}\n  condition: 1 of sel_*\n",
      "{\"y\":1}", 1 },
    { "  sel_1: {x: 1}\n  sel_2: {y: 1}\n  other: {z: 1}\n  condition: all of sel_*\n",
      "{\"y\":1}", 0 },
    { "  sel_1: {x: 1}\n  sel_2: {y: 1}\n  other: {z: 1}\n  condition: all of sel_*\n",
      "{\"x\":1,\"y\":1}", 1 },
    { "  sel_1: {x: 1}\n  sel_2: {y: 1}\n  other: {z: 1}\n  condition: any of sel*\n",
      "{\"x\":1}", 1 },
    { "  sel_1: {x: 1}\n  sel_2: {y: 1}\n  condition: 1 OF them\n", "{\"y\":1}", 1 },
    { "  a: {x: 1}\n  _b: {y: 1}\n  condition: all of them\n", "{\"x\":1}", 1 },
    { "  a: {x: 1}\n  _b: {y: 1}\n  condition: 1 of them\n", "{\"y\":1}", 0 },
    { "  a: {x: 1}\n  _b: {y: 1}\n  condition: all of them and not _b\n", "{\"x\":1,\"y\":1}", 0 },
    { "  a: {x: 1}\n  b: {y: 1}\n  condition: [a, b]\n", "{\"y\":1}", 1 },
    { "  a: {x: 1}\n  b: {y: 1}\n  condition: [a, b]\n", "{\"z\":1}", 0 },
    { "  a: {x: 1}\n  b: {y: 1}\n  condition:\n    - a and b\n    - not a\n", "{\"x\":1}", 0 },
    { "  only: {x: 1}\n", "{\"x\":1}", 1 },
    { "  sel: {x: 1}\n  filter_a: {y: 1}\n  filter_b: {z: 1}\n"
      "  condition: sel and not 1 of filter_*\n", "{\"x\":1,\"z\":1}", 0 },
    { "  sel: {x: 1}\n  filter_a: {y: 1}\n  filter_b: {z: 1}\n"
      "  condition: sel and not 1 of filter_*\n", "{\"x\":1}", 1 },
};

static char last_err[1024];

static struct kta_ruleset *load_det(const char *det, const char *extra)
{
    char *yaml = xasprintf("id: t\ntitle: t\n%sdetection:\n%s", extra ? extra : "", det);
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs;

    rs = kta_rules_load_string("t.yml", yaml, strlen(yaml), &opts, NULL, last_err,
                               sizeof(last_err));
    free(yaml);
    return rs;
}

static int eval_json(const struct kta_ruleset *rs, struct kta_eval_ctx *ctx, const char *js)
{
    json_error_t jerr;
    json_t *ev = json_loads(js, 0, &jerr);
    size_t n;

    if (!ev) {
        fprintf(stderr, "bad test JSON %s: %s\n", js, jerr.text);
        return -1;
    }
    n = kta_eval(rs, ctx, ev, NULL, NULL);
    json_decref(ev);
    return (int)n;
}

static void test_rows(void)
{
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct kta_ruleset *rs = load_det(rows[i].det, NULL);
        int got;

        if (!rs) {
            fprintf(stderr, "row %zu: load failed: %s\n%s", i, last_err, rows[i].det);
            CHECK(rs != NULL);
            continue;
        }
        got = eval_json(rs, ctx, rows[i].event);
        if (got != rows[i].match)
            fprintf(stderr, "row %zu: expected %d got %d\n  detection:\n%s  event: %s\n", i,
                    rows[i].match, got, rows[i].det, rows[i].event);
        CHECK_INT(got, rows[i].match);
        kta_ruleset_decref(rs);
    }
    kta_eval_ctx_free(ctx);
}

static void test_disabled(void)
{
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_ruleset *rs = load_det("  s: {a: 1}\n", "enabled: false\n");

    CHECK(rs != NULL);
    if (rs) {
        CHECK_INT(kta_ruleset_count(rs), 1);
        CHECK_INT(kta_rule_enabled(kta_ruleset_rule(rs, 0)), 0);
        CHECK_INT(eval_json(rs, ctx, "{\"a\":1}"), 0);
    }
    kta_ruleset_decref(rs);
    kta_eval_ctx_free(ctx);
}

struct collect {
    char ids[256];
};

static void on_hit(void *opaque, const struct kta_rule *r)
{
    struct collect *c = opaque;
    size_t n = strlen(c->ids);

    snprintf(c->ids + n, sizeof(c->ids) - n, "%s%s", n ? "," : "", kta_rule_id(r));
}

static void test_order_and_meta(void)
{
    static const char yaml[] =
        "rules:\n"
        "  - {id: r1, title: one, level: high, tags: [a, b],\n"
        "     detection: {s: {x: 1}}}\n"
        "  - {id: r2, title: two, detection: {s: {y: 1}}}\n"
        "  - {id: r3, title: three, severity: low, detection: {s: {x: 1}}}\n"
        "---\n"
        "id: r4\ntitle: four\ndescription: d\ndetection: {s: {x: '*'}}\n";
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_ruleset *rs;
    struct collect c = { "" };
    json_t *ev = json_pack("{s:i}", "x", 1);

    rs = kta_rules_load_string("c.yml", yaml, strlen(yaml), NULL, NULL, last_err,
                               sizeof(last_err));
    CHECK(rs != NULL);
    if (rs) {
        CHECK_INT(kta_eval(rs, ctx, ev, on_hit, &c), 3);
        CHECK_STR(c.ids, "r1,r3,r4");
        CHECK_STR(kta_rule_level(kta_ruleset_rule(rs, 0)), "high");
        CHECK_STR(kta_rule_level(kta_ruleset_rule(rs, 1)), "medium");
        CHECK_STR(kta_rule_level(kta_ruleset_rule(rs, 2)), "low");
        CHECK_STR(kta_rule_title(kta_ruleset_rule(rs, 1)), "two");
        CHECK_INT(json_array_size(kta_rule_tags(kta_ruleset_rule(rs, 0))), 2);
        CHECK_STR(json_string_value(json_array_get(kta_rule_tags(kta_ruleset_rule(rs, 0)), 1)),
                  "b");
        CHECK_STR(json_string_value(json_object_get(kta_rule_meta(kta_ruleset_rule(rs, 3)),
                                                    "description")), "d");
    }
    json_decref(ev);
    kta_ruleset_decref(rs);
    kta_eval_ctx_free(ctx);
}

static void test_regex_limit(void)
{
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    struct kta_ruleset *rs = load_det("  s: {a|re: '^(a|a)*$'}\n  t: {b: 1}\n"
                                      "  condition: s or t\n", NULL);
    char ev[200];
    size_t i;

    CHECK(rs != NULL);
    if (!rs)
        return;
    for (i = 0; i < 60; i++)
        ev[7 + i] = 'a';
    memcpy(ev, "{\"a\":\"", 6);
    ev[6] = 'a';
    memcpy(ev + 67, "b\",\"b\":1}", 10);
    /* Catastrophic backtracking: the limit stops it, the rule does not
     * match even though `t` alone would, and the error is counted. */
    CHECK_INT(eval_json(rs, ctx, ev), 0);
    CHECK_INT(kta_rule_errors(kta_ruleset_rule(rs, 0)), 1);
    CHECK_INT(eval_json(rs, ctx, "{\"a\":\"aaa\"}"), 1);
    CHECK_INT(kta_rule_errors(kta_ruleset_rule(rs, 0)), 1);
    kta_ruleset_decref(rs);
    kta_eval_ctx_free(ctx);
}

static void test_fieldmap(void)
{
    char dir[] = "/tmp/kta-test-XXXXXX";
    char *fm_path, *yaml;
    FILE *fp;
    struct kta_rules_opts opts = { 0 };
    struct kta_ruleset *rs;
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();

    CHECK(mkdtemp(dir) != NULL);
    fm_path = xasprintf("%s/fieldmap.yml", dir);
    fp = fopen(fm_path, "w");
    fputs("Image: [process.executable, process.name]\n"
          "'*': ['{}', 'Event.EventData.{}']\n", fp);
    fclose(fp);
    opts.fieldmap = fm_path;
    yaml = xstrdup("id: f\ntitle: f\ndetection:\n"
                   "  s: {Image|endswith: '\\cmd.exe', CommandLine|contains: whoami}\n");
    rs = kta_rules_load_string("f.yml", yaml, strlen(yaml), &opts, NULL, last_err,
                               sizeof(last_err));
    CHECK(rs != NULL);
    if (rs) {
        CHECK_INT(eval_json(rs, ctx, "{\"process\":{\"name\":\"C:\\\\x\\\\CMD.EXE\"},"
                                     "\"Event\":{\"EventData\":{\"CommandLine\":\"whoami /all\"}}}"),
                  1);
        CHECK_INT(eval_json(rs, ctx, "{\"process\":{\"executable\":\"C:\\\\x\\\\CMD.EXE\"},"
                                     "\"CommandLine\":\"whoami /all\"}"), 1);
        CHECK_INT(eval_json(rs, ctx, "{\"Image\":\"C:\\\\x\\\\CMD.EXE\","
                                     "\"CommandLine\":\"whoami /all\"}"), 0);
    }
    kta_ruleset_decref(rs);
    remove(fm_path);
    rmdir(dir);
    free(fm_path);
    free(yaml);
    kta_eval_ctx_free(ctx);
}

struct thr {
    const struct kta_ruleset *rs;
    size_t hits;
};

static void *thread_main(void *arg)
{
    struct thr *t = arg;
    struct kta_eval_ctx *ctx = kta_eval_ctx_new();
    json_t *ev = json_loads("{\"a\":\"xx\xc3\x84RGERyy\",\"b\":\"FOO-bar\"}", 0, NULL);
    int i;

    for (i = 0; i < 2000; i++)
        t->hits += kta_eval(t->rs, ctx, ev, NULL, NULL);
    json_decref(ev);
    kta_eval_ctx_free(ctx);
    return NULL;
}

/* Several threads on one ruleset, each with its own ctx (run under
 * -fsanitize=thread to check for races; here it checks the results). */
static void test_threads(void)
{
    struct kta_ruleset *rs = load_det("  s: {a|contains: ärger, b|re|i: '^foo-'}\n", NULL);
    pthread_t th[4];
    struct thr t[4];
    int i;

    CHECK(rs != NULL);
    if (!rs)
        return;
    for (i = 0; i < 4; i++) {
        t[i].rs = rs;
        t[i].hits = 0;
        pthread_create(&th[i], NULL, thread_main, &t[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(t[i].hits, 2000);
    }
    kta_ruleset_decref(rs);
}

int main(void)
{
    test_rows();
    test_disabled();
    test_order_and_meta();
    test_regex_limit();
    test_fieldmap();
    test_threads();
    return tap_done();
}
