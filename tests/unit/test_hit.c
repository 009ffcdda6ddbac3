/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for hit encoding, message keys and console lines. */
#include "kta/hit.h"
#include "kta/rules.h"
#include "tap.h"

#include <stdlib.h>

int main(void)
{
    static const char rules[] =
        "id: r1\ntitle: \"Quote \\\" and tab\\t\"\nlevel: critical\ntags: [attack.t1059, x]\n"
        "detection:\n  sel:\n    severity: critical\n  condition: sel\n";
    struct kta_rules_stats st;
    char err[512];
    struct kta_ruleset *rs = kta_rules_load_string("t.yml", rules, sizeof(rules) - 1, NULL, &st,
                                                   err, sizeof(err));
    const struct kta_rule *r;
    struct kta_buf b = { 0 };
    struct kta_hit_source src = { .topic = "in", .partition = 2, .offset = 42, .timestamp = 1764230400000 };
    const char *raw = "{\"severity\":\"critical\",\"n\":1.5,\"ok\":true}";
    json_t *ev = json_loads(raw, 0, NULL);
    json_t *full = json_loads("{\"host\":\"h\\u0001x\",\"threat\":\"t\",\"severity\":\"critical\"}", 0, NULL);

    CHECK(rs != NULL);
    r = kta_ruleset_rule(rs, 0);

    kta_hit_encode(&b, r, raw, strlen(raw), &src, "2026-11-27T07:25:10.123Z", NULL);
    CHECK_STR(b.data, "{\"rule\":{\"id\":\"r1\",\"title\":\"Quote \\\" and tab\\t\",\"level\":\"critical\","
                      "\"tags\":[\"attack.t1059\",\"x\"]},\"event\":{\"severity\":\"critical\",\"n\":1.5,"
                      "\"ok\":true},\"source\":{\"topic\":\"in\",\"partition\":2,\"offset\":42,"
                      "\"timestamp\":1764230400000},\"detected_at\":\"2026-11-27T07:25:10.123Z\"}");
    {
        json_t *hit = json_loads(b.data, 0, NULL);   /* the hit is valid JSON */
        CHECK(hit != NULL);
        json_decref(hit);
    }
    kta_buf_reset(&b);
    src = (struct kta_hit_source){ .file = "e.jsonl", .line = 7, .timestamp = -1 };
    kta_hit_encode(&b, r, raw, strlen(raw), &src, "T", NULL);
    CHECK(strstr(b.data, "\"source\":{\"file\":\"e.jsonl\",\"line\":7}") != NULL);

    /* The tail: kta's and the ruleset's versions, then output.fields at
     * the top level, values escaped as JSON strings. */
    {
        struct kta_config *cfg = kta_config_new();
        struct kta_buf tail = { 0 };
        char want[256];
        json_t *hit, *v;
        const char *key;

        CHECK_INT(kta_config_set(cfg, "output.fields.environment", "prod", "-X", err, sizeof(err)), 0);
        CHECK_INT(kta_config_set(cfg, "output.fields.note", "a \"b\"\\\n\x01\xc3\xa9", "-X", err,
                                 sizeof(err)), 0);
        kta_hit_tail(&tail, kta_ruleset_version(rs), &cfg->fields);
        snprintf(want, sizeof(want), ",\"kta\":{\"version\":\"%s\",\"ruleset\":\"%s\"},"
                 "\"environment\":\"prod\",\"note\":\"a \\\"b\\\"\\\\\\n\\u0001\xc3\xa9\"",
                 KTA_VERSION, kta_ruleset_version(rs));
        CHECK_STR(tail.data, want);
        CHECK_INT(strlen(kta_ruleset_version(rs)), 12);
        kta_buf_reset(&b);
        src = (struct kta_hit_source){ .topic = "in", .partition = 0, .offset = 1, .timestamp = -1 };
        kta_hit_encode(&b, r, raw, strlen(raw), &src, "T", &tail);
        CHECK(strstr(b.data, "\"detected_at\":\"T\",\"kta\":{") != NULL);
        hit = json_loads(b.data, 0, NULL);
        CHECK(hit != NULL);
        CHECK_STR(json_string_value(json_object_get(json_object_get(hit, "kta"), "version")), KTA_VERSION);
        CHECK_STR(json_string_value(json_object_get(json_object_get(hit, "kta"), "ruleset")),
                  kta_ruleset_version(rs));
        CHECK_STR(json_string_value(json_object_get(hit, "environment")), "prod");
        CHECK_STR(json_string_value(json_object_get(hit, "note")), "a \"b\"\\\n\x01\xc3\xa9");
        /* The keys config.c keeps output.fields from taking are the hit's. */
        json_object_foreach(hit, key, v) {
            int reserved = 0;
            for (size_t k = 0; kta_hit_reserved_keys[k]; k++)
                reserved |= strcmp(key, kta_hit_reserved_keys[k]) == 0;
            CHECK(reserved || kta_map_get(&cfg->fields, key) != NULL);
        }
        for (size_t k = 0; kta_hit_reserved_keys[k]; k++)   /* "correlation": correlation hits */
            CHECK(json_object_get(hit, kta_hit_reserved_keys[k]) != NULL ||
                  strcmp(kta_hit_reserved_keys[k], "correlation") == 0);
        json_decref(hit);
        /* No fields: the versions only. */
        kta_buf_reset(&tail);
        kta_hit_tail(&tail, "0123456789ab", NULL);
        snprintf(want, sizeof(want), ",\"kta\":{\"version\":\"%s\",\"ruleset\":\"0123456789ab\"}",
                 KTA_VERSION);
        CHECK_STR(tail.data, want);
        kta_buf_free(&tail);
        kta_config_free(cfg);
    }

    /* Keys: strings as they are, numbers and booleans as JSON text, and
     * nothing for a missing field (this used to crash on json_typeof(NULL)). */
    kta_buf_reset(&b);
    CHECK_INT(kta_hit_field_text(&b, ev, "severity"), 1);
    CHECK_STR(b.data, "critical");
    kta_buf_reset(&b);
    CHECK_INT(kta_hit_field_text(&b, ev, "n"), 1);
    CHECK_STR(b.data, "1.5");
    kta_buf_reset(&b);
    CHECK_INT(kta_hit_field_text(&b, ev, "ok"), 1);
    CHECK_STR(b.data, "true");
    kta_buf_reset(&b);
    CHECK_INT(kta_hit_field_text(&b, ev, "host"), 0);
    CHECK_INT(b.len, 0);

    /* Console lines: missing fields print Unknown, control bytes '?'. */
    kta_buf_reset(&b);
    kta_hit_alert_line(&b, ev, r);
    CHECK_STR(b.data, "[ALERT] Host: Unknown | Threat: Unknown | Severity: CRITICAL | Rule: r1\n");
    kta_buf_reset(&b);
    kta_hit_alert_line(&b, full, r);
    CHECK_STR(b.data, "[ALERT] Host: h?x | Threat: t | Severity: CRITICAL | Rule: r1\n");
    kta_buf_reset(&b);
    kta_hit_debug_line(&b, ev);
    CHECK_STR(b.data, "[DEBUG] Host: Unknown | Threat: Unknown | Severity: critical\n");

    kta_buf_free(&b);
    json_decref(ev);
    json_decref(full);
    kta_ruleset_decref(rs);
    return tap_done();
}
