/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for event decoding: every malformed class of RULES-SPEC 5. */
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

int main(void)
{
    char *s;

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
