/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for event decoding: every malformed class of docs/rules.md §18. */
#include "kta/event.h"
#include "kta/util.h"
#include "tap.h"

#include <stdlib.h>

static enum kta_event_error decode(const char *s, size_t len, size_t max)
{
    enum kta_event_error err;
    char detail[256];
    json_t *ev = kta_event_decode(s, len, max, &err, detail, sizeof(detail));

    if (ev)
        CHECK(json_is_object(ev));
    else
        CHECK(detail[0] != '\0');
    json_decref(ev);
    return err;
}

#define D(s) decode((s), sizeof(s) - 1, 0)

static char *nested(int depth)
{
    struct kta_buf b = { 0 };

    kta_buf_appends(&b, "{\"a\":");
    for (int i = 1; i < depth; i++)
        kta_buf_appends(&b, "[");
    kta_buf_appends(&b, "1");
    for (int i = 1; i < depth; i++)
        kta_buf_appends(&b, "]");
    kta_buf_appends(&b, "}");
    return b.data;
}

/* "path type reach esc text" for every value of the view, one per line. */
static char *view_dump(const char *json, int *ok, int *chk)
{
    static const char *const types[] = { "str", "int", "true", "false", "null", "obj", "array" };
    static const char *const reach[] = { "nested", "flat", "none" };
    struct kta_event_view vw = { 0 };
    struct kta_buf b = { 0 };

    *chk = (int)kta_event_scan(json, strlen(json), &vw);
    *ok = vw.ok;
    for (size_t i = 0; i < vw.n; i++) {
        const struct kta_event_val *v = &vw.v[i];

        kta_buf_printf(&b, "%.*s %s %s%s %.*s\n", (int)v->path_len, vw.paths.data + v->path_off,
                       types[v->type], reach[v->reach], v->esc ? " esc" : "", (int)v->len,
                       json + v->off);
    }
    kta_buf_append(&b, "", 1);
    kta_event_view_free(&vw);
    return b.data;
}

static void test_view(void)
{
    int ok, chk;
    char *d;

    d = view_dump("{\"a\":\"x\",\"b.c\":1,\"d\":{\"e\":[1,{\"f\":null}],\"g.h\":\"y\"},"
                  "\"i\":[],\"j\":{\"k\":[true,false]},\"l.m\":{\"n\":\"z\"},\"p\":\"c:\\\\w\"}",
                  &ok, &chk);
    CHECK_INT(chk, KTA_EVENT_PLAIN);
    CHECK_INT(ok, 1);
    CHECK_STR(d, "a str nested x\n"
                 "b.c int flat 1\n"
                 "d obj nested \n"
                 "d.e array nested \n"
                 "d.e int nested 1\n"
                 "d.e obj nested \n"
                 "d.e.f null nested null\n"
                 "d.g.h str none y\n"       /* a dotted key below the top: no lookup reaches it */
                 "i array nested \n"
                 "j obj nested \n"
                 "j.k array nested \n"
                 "j.k true nested true\n"
                 "j.k false nested false\n"
                 "l.m obj flat \n"          /* a flat key's value is a candidate... */
                 "l.m.n str none z\n"       /* ...but nothing below it is */
                 "p str nested esc c:\\\\w\n");
    free(d);
    /* Keys with escapes, and -0, make the view unusable (the check still
     * vouches for the record). */
    free(view_dump("{\"a\\\\b\":1}", &ok, &chk));
    CHECK_INT(chk, KTA_EVENT_PLAIN);
    CHECK_INT(ok, 0);
    free(view_dump("{\"a\":-0}", &ok, &chk));
    CHECK_INT(chk, KTA_EVENT_PLAIN);
    CHECK_INT(ok, 0);
    free(view_dump("{\"a\":-10}", &ok, &chk));
    CHECK_INT(ok, 1);
    d = view_dump("{\"p\":\"Microsoft\xc2\xae\"}", &ok, &chk);
    CHECK_INT(chk, KTA_EVENT_PLAIN_UTF8);
    CHECK_STR(d, "p str nested Microsoft\xc2\xae\n");
    free(d);
    free(view_dump("[1]", &ok, &chk));
    CHECK_INT(chk, KTA_EVENT_UNSURE);
}

int main(void)
{
    char *s;

    test_view();

    CHECK_INT(D("{\"host\":\"endpoint01\",\"severity\":\"high\"}"), KTA_EVENT_OK);
    CHECK_INT(D("  {\"a\": \"[[[{\"}  "), KTA_EVENT_OK);          /* brackets in strings */
    CHECK_INT(D("{\"a\": \"\\\"[[\"}"), KTA_EVENT_OK);            /* escaped quote */
    CHECK_INT(decode(NULL, 0, 0), KTA_EVENT_EMPTY);
    CHECK_INT(D(""), KTA_EVENT_EMPTY);
    CHECK_INT(D("{\"host\": "), KTA_EVENT_INVALID_JSON);          /* truncated */
    CHECK_INT(D("not json"), KTA_EVENT_INVALID_JSON);
    CHECK_INT(D("{\"a\":\"\xff\xfe\"}"), KTA_EVENT_INVALID_JSON); /* invalid UTF-8 */
    CHECK_INT(D("{\"a\":\"\\uD800\"}"), KTA_EVENT_INVALID_JSON);  /* lone surrogate */
    CHECK_INT(D("{\"a\":\"\\u0000\"}"), KTA_EVENT_INVALID_JSON);
    CHECK_INT(D("{\"a\":1,\"a\":2}"), KTA_EVENT_INVALID_JSON);    /* duplicate key */
    CHECK_INT(decode("{\"a\":1}\0", 8, 0), KTA_EVENT_INVALID_JSON); /* NUL byte */
    CHECK_INT(D("[1,2]"), KTA_EVENT_NOT_OBJECT);
    CHECK_INT(D("42"), KTA_EVENT_NOT_OBJECT);
    CHECK_INT(D("null"), KTA_EVENT_NOT_OBJECT);
    CHECK_INT(decode("{\"a\":1}", 7, 6), KTA_EVENT_TOO_LARGE);
    CHECK_INT(decode("{\"a\":1}", 7, 7), KTA_EVENT_OK);

    s = nested(64);
    CHECK_INT(decode(s, strlen(s), 0), KTA_EVENT_OK);
    free(s);
    s = nested(65);
    CHECK_INT(decode(s, strlen(s), 0), KTA_EVENT_TOO_DEEP);
    free(s);
    s = nested(100000);
    CHECK_INT(decode(s, strlen(s), 0), KTA_EVENT_TOO_DEEP);
    free(s);
    CHECK_STR(kta_event_error_name(KTA_EVENT_TOO_DEEP), "too_deep");
    return tap_done();
}
