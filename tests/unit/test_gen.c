/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_gen: the event generator (src/gen.c) — determinism for a seed,
 * valid JSON objects, the keys each schema promises, sizes, the malicious
 * share, and samples laid over events without repeating a key.
 */
#include "kta/gen.h"
#include "tap.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define EVENTS 4000

struct stats {
    size_t n, bytes, bad, evil, sysmon1, sysmon1_ok, security, auditd, lsysmon, missing;
};

static int has_str(json_t *ev, const char *key)
{
    return json_is_string(json_object_get(ev, key));
}

/* Every event of the schema parses as an object with the promised keys. */
static void run(const char *schema, double malicious, uint64_t seed, struct stats *st)
{
    struct kta_gen g;
    struct kta_buf b = { 0 };

    memset(st, 0, sizeof(*st));
    kta_gen_init(&g, seed, malicious);
    CHECK_INT(kta_gen_schema(&g, schema), 0);
    for (size_t i = 0; i < EVENTS; i++) {
        json_error_t jerr;
        json_t *ev;

        kta_buf_reset(&b);
        st->evil += (size_t)kta_gen_event(&g, &b);
        st->n++;
        st->bytes += b.len;
        ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(ev)) {
            if (st->bad++ == 0)
                fprintf(stderr, "%s event %zu: %s: %s\n", schema, i, jerr.text, b.data);
            json_decref(ev);
            continue;
        }
        if (strcmp(schema, "sysmon") == 0) {
            json_t *id = json_object_get(ev, "EventID");
            const char *ch = json_string_value(json_object_get(ev, "Channel"));

            if (!json_is_integer(id) || !ch || !has_str(ev, "Provider_Name") || !has_str(ev, "Computer"))
                st->missing++;
            else if (strcmp(ch, "Security") == 0)
                st->security += json_integer_value(id) >= 4624 &&
                                (has_str(ev, "TargetUserName") || has_str(ev, "NewProcessName"));
            else if (strcmp(ch, "Microsoft-Windows-Sysmon/Operational") != 0 ||
                     !has_str(ev, "UtcTime") || !has_str(ev, "ProcessGuid") ||
                     !json_is_integer(json_object_get(ev, "ProcessId")) || !has_str(ev, "Image"))
                st->missing++;
            else if (json_integer_value(id) == 1) {
                static const char *const keys[] = { "CommandLine", "CurrentDirectory", "User", "LogonId",
                    "IntegrityLevel", "Hashes", "ParentImage", "ParentCommandLine",
                    "OriginalFileName", "Product", "Company", "Description" };
                size_t k = 0;

                st->sysmon1++;
                while (k < sizeof(keys) / sizeof(keys[0]) && has_str(ev, keys[k]))
                    k++;
                st->sysmon1_ok += k == sizeof(keys) / sizeof(keys[0]) &&
                                  strncmp(json_string_value(json_object_get(ev, "Hashes")),
                                          "SHA1=", 5) == 0 &&
                                  strstr(json_string_value(json_object_get(ev, "Image")), ":\\");
            }
        } else if (strcmp(schema, "linux") == 0) {
            if (has_str(ev, "type"))
                st->auditd += has_str(ev, "msg");
            else if (json_integer_value(json_object_get(ev, "EventID")) == 1 &&
                     strcmp(json_string_value(json_object_get(ev, "Channel")), "Linux-Sysmon/Operational") == 0 &&
                     has_str(ev, "Image") && has_str(ev, "CommandLine") && has_str(ev, "ParentImage") &&
                     has_str(ev, "User") && has_str(ev, "CurrentDirectory"))
                st->lsysmon++;
            else
                st->missing++;
        } else if (!has_str(ev, "host") || !has_str(ev, "event_type")) {
            st->missing++;
        }
        json_decref(ev);
    }
    kta_buf_free(&b);
}

/* Two generators with one seed give the same bytes; another seed does not. */
static void determinism(const char *schema)
{
    struct kta_gen a, b, c;
    struct kta_buf x = { 0 }, y = { 0 }, z = { 0 };

    kta_gen_init(&a, 42, 0.05);
    kta_gen_init(&b, 42, 0.05);
    kta_gen_init(&c, 43, 0.05);
    kta_gen_schema(&a, schema);
    kta_gen_schema(&b, schema);
    kta_gen_schema(&c, schema);
    for (int i = 0; i < 1000; i++) {
        kta_gen_event(&a, &x);
        kta_gen_event(&b, &y);
        kta_gen_event(&c, &z);
    }
    CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
    CHECK(x.len != z.len || memcmp(x.data, z.data, x.len) != 0);
    kta_buf_free(&x);
    kta_buf_free(&y);
    kta_buf_free(&z);
}

int main(void)
{
    struct stats st;
    struct kta_gen g;

    kta_gen_init(&g, 1, 0);
    CHECK_INT(kta_gen_schema(&g, "windows"), -1);
    CHECK_INT(g.schema, KTA_GEN_KTA);
    CHECK_INT(kta_gen_schema(&g, "linux"), 0);
    CHECK_INT(g.schema, KTA_GEN_LINUX);

    determinism("kta");
    determinism("sysmon");
    determinism("linux");

    /* kta: the ~200-byte events of old, unchanged: seed 1 starts so */
    {
        struct kta_buf b = { 0 };

        kta_gen_init(&g, 1, 0.01);
        kta_gen_event(&g, &b);
        CHECK(strncmp(b.data, "{\"host\":\"endpoint", 17) == 0);
        kta_buf_free(&b);
    }
    run("kta", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.bytes / st.n > 120 && st.bytes / st.n < 300);

    run("sysmon", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.sysmon1 > EVENTS / 10);
    CHECK_INT(st.sysmon1_ok, st.sysmon1);
    CHECK(st.security > EVENTS / 50);
    CHECK(st.bytes / st.n > 650 && st.bytes / st.n < 1100);
    CHECK(st.evil > 10 && st.evil < 80);     /* 1% of 4000 = 40 */

    run("sysmon", 0.25, 8, &st);
    CHECK_INT(st.bad, 0);
    CHECK(st.evil > 850 && st.evil < 1150);  /* 1000 expected */

    run("linux", 0.01, 7, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.missing, 0);
    CHECK(st.auditd > EVENTS / 3 && st.lsysmon > EVENTS / 5);
    CHECK(st.bytes / st.n > 250 && st.bytes / st.n < 800);
    CHECK(st.evil > 10 && st.evil < 80);

    run("linux", 1, 9, &st);
    CHECK_INT(st.bad, 0);
    CHECK_INT(st.evil, EVENTS);

    /* samples: laid over process creation events, replacing fields of the
     * same name and adding the others, never repeating a key */
    {
        static const char *const s0[] = { "CommandLine", "evil \"quoted\" C:\\x", "Extra", "1", NULL };
        static const char *const *const samples[] = { s0 };
        struct kta_buf b = { 0 };
        size_t seen = 0;

        kta_gen_init(&g, 3, 1);
        kta_gen_schema(&g, "sysmon");
        kta_gen_samples(&g, samples, 1);
        for (int i = 0; i < 200; i++) {
            json_t *ev;

            kta_buf_reset(&b);
            kta_gen_event(&g, &b);
            ev = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
            CHECK(json_is_object(ev));
            if (json_object_get(ev, "Extra")) {
                seen++;
                CHECK_STR(json_string_value(json_object_get(ev, "CommandLine")), "evil \"quoted\" C:\\x");
                CHECK_INT(json_integer_value(json_object_get(ev, "EventID")), 1);
            }
            json_decref(ev);
        }
        CHECK(seen > 60 && seen < 140);   /* half of the malicious events */
        kta_buf_free(&b);
    }
    return tap_done();
}
