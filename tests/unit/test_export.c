/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for kta export's rows and sinks: hit records -> columns,
 * records that are not hits, SQLite's unique keys (a row stored twice is
 * one row), SQLITE_FULL through KTA_TEST_SQLITE_MAX_PAGES (rolled back,
 * the sink then unusable), CSV quoting and a torn .part file. */
#include "kta/export.h"
#include "tap.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char hit1[] =
    "{\"rule\":{\"id\":\"r1\",\"title\":\"T, \\\"q\\\"\",\"level\":\"high\",\"tags\":[\"a\",\"b\"]},"
    "\"event\":{\"host\":\"h1\",\"user\":\"bob\"},"
    "\"source\":{\"topic\":\"in\",\"partition\":2,\"offset\":42,\"timestamp\":1764230400000},"
    "\"detected_at\":\"2026-11-27T07:25:10.123Z\",\"kta\":{\"version\":\"0.1.0\",\"ruleset\":\"abc\"}}";
static const char corr1[] =
    "{\"rule\":{\"id\":\"c1\",\"title\":\"C\",\"level\":\"high\",\"tags\":[]},"
    "\"correlation\":{\"type\":\"event_count\",\"group\":{\"host\":\"h2\",\"ip\":\"10.0.0.1\"},"
    "\"count\":10,\"first\":\"2026-11-27T07:20:01.000Z\",\"last\":\"2026-11-27T07:24:58.000Z\","
    "\"sources\":[],\"sources_total\":10},"
    "\"source\":{\"topic\":\"in\",\"partition\":0,\"offset\":7},"
    "\"detected_at\":\"2026-11-27T07:25:10.123Z\",\"kta\":{\"version\":\"0.1.0\",\"ruleset\":\"abc\"}}";

static int parse(struct kta_export_row *row, const char *text, int64_t hit_offset)
{
    char why[256];
    int rc = kta_export_row_parse(row, text, strlen(text), "k", 1, why, sizeof(why));

    row->hit_topic = "matched_hits";
    row->hit_partition = 0;
    row->hit_offset = hit_offset;
    return rc;
}

static long long count_rows(const char *path, const char *where)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[256];
    long long n = -1;

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM hits WHERE %s", where);
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

static void test_rows(void)
{
    struct kta_export_row row;
    char why[256];
    static const struct { const char *text, *why; } bad[] = {
        { "not json", "not JSON" }, { "[1]", "not a JSON object" },
        { "{\"a\":1}", "not a hit: no rule.id" }, { "{\"rule\":{\"id\":\"\"}}", "not a hit: no rule.id" },
        { "{\"rule\":{\"id\":\"x\"}}", "not a hit: no detected_at" },
        { "{\"rule\":{\"id\":\"x\"},\"rule\":{\"id\":\"y\"},\"detected_at\":\"t\"}", "not JSON" },
    };

    CHECK_INT(parse(&row, hit1, 5), 0);
    CHECK_STR(row.rule_id, "r1");
    CHECK_STR(row.rule_title, "T, \"q\"");
    CHECK_STR(row.tags, "[\"a\",\"b\"]");
    CHECK_STR(row.host, "h1");
    CHECK_STR(row.key, "k");
    CHECK_STR(row.src_topic, "in");
    CHECK_INT(row.src_partition, 2);
    CHECK_INT(row.src_offset, 42);
    CHECK_INT(row.has_src_timestamp, 1);
    CHECK_INT(row.src_timestamp, 1764230400000LL);
    CHECK_STR(row.ruleset, "abc");
    CHECK(row.corr_type == NULL && row.corr_group == NULL && !row.has_corr_count);
    kta_export_row_clear(&row);

    CHECK_INT(parse(&row, corr1, 6), 0);
    CHECK_STR(row.corr_type, "event_count");
    CHECK_STR(row.corr_group, "{\"host\":\"h2\",\"ip\":\"10.0.0.1\"}");
    CHECK_INT(row.corr_count, 10);
    CHECK_STR(row.host, "h2");   /* from the group */
    CHECK_STR(row.corr_first, "2026-11-27T07:20:01.000Z");
    CHECK_INT(row.has_src_timestamp, 0);
    kta_export_row_clear(&row);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(kta_export_row_parse(&row, bad[i].text, strlen(bad[i].text), NULL, 0, why,
                                       sizeof(why)), -1);
        CHECK(strncmp(why, bad[i].why, strlen(bad[i].why)) == 0);
        CHECK(row.hit == NULL);
    }
    CHECK_INT(kta_export_row_parse(&row, "", 0, NULL, 0, why, sizeof(why)), -1);
    CHECK_STR(why, "empty record");
}

static void test_sqlite(const char *dir)
{
    char path[512], errstr[1024];
    struct kta_export_row row;
    struct kta_sink *s;
    int added = -1;

    snprintf(path, sizeof(path), "%s/t.db", dir);
    s = kta_sink_sqlite_open(path, errstr, sizeof(errstr));
    CHECK(s != NULL);
    parse(&row, hit1, 5);
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    CHECK_INT(added, 1);
    /* The same record again (read again after a crash): no row. */
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    CHECK_INT(added, 0);
    /* The same hit at another offset of the hit topic (kta run wrote it
     * twice): the (source, rule) key. */
    row.hit_offset = 99;
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    CHECK_INT(added, 0);
    kta_export_row_clear(&row);
    parse(&row, corr1, 6);
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    CHECK_INT(added, 1);
    kta_export_row_clear(&row);
    /* Not committed yet: another connection sees nothing. */
    CHECK_INT(count_rows(path, "1"), 0);
    CHECK_INT(kta_sink_commit(s, errstr, sizeof(errstr)), 0);
    CHECK_INT(count_rows(path, "1"), 2);
    CHECK_INT(count_rows(path, "corr_count = 10 AND src_timestamp IS NULL"), 1);
    CHECK_INT(kta_sink_close(s, errstr, sizeof(errstr)), 0);

    /* Reopened: the schema is there, the rows too, nothing doubled. */
    s = kta_sink_sqlite_open(path, errstr, sizeof(errstr));
    CHECK(s != NULL);
    parse(&row, hit1, 5);
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    CHECK_INT(added, 0);
    kta_export_row_clear(&row);
    CHECK_INT(kta_sink_close(s, errstr, sizeof(errstr)), 0);
    CHECK_INT(count_rows(path, "1"), 2);

    /* Full: the batch is rolled back, the sink refuses more. */
    setenv("KTA_TEST_SQLITE_MAX_PAGES", "12", 1);
    s = kta_sink_sqlite_open(path, errstr, sizeof(errstr));
    unsetenv("KTA_TEST_SQLITE_MAX_PAGES");
    CHECK(s != NULL);
    {
        int rc = 0;
        for (int64_t i = 0; i < 5000 && rc == 0; i++) {
            char text[sizeof(hit1) + 512];
            snprintf(text, sizeof(text), "%.*s,\"pad\":\"%0400d\"}", (int)sizeof(hit1) - 2, hit1, 0);
            parse(&row, text, 1000 + i);
            row.src_offset = 1000 + i;
            rc = kta_sink_add(s, &row, &added, errstr, sizeof(errstr));
            kta_export_row_clear(&row);
        }
        if (rc == 0)
            rc = kta_sink_commit(s, errstr, sizeof(errstr));
        CHECK_INT(rc, -1);
        CHECK(strstr(errstr, "t.db: ") && strstr(errstr, "(SQLITE_FULL)"));
    }
    CHECK_INT(kta_sink_commit(s, errstr, sizeof(errstr)), -1);
    CHECK(strstr(errstr, "not usable after an earlier error") != NULL);
    kta_sink_close(s, errstr, sizeof(errstr));
    CHECK_INT(count_rows(path, "1"), 2);

    /* Not a kta database. */
    snprintf(path, sizeof(path), "%s/other.db", dir);
    {
        sqlite3 *db;
        sqlite3_open(path, &db);
        sqlite3_exec(db, "CREATE TABLE hits (x)", NULL, NULL, NULL);
        sqlite3_close(db);
    }
    CHECK(kta_sink_sqlite_open(path, errstr, sizeof(errstr)) == NULL);
    CHECK(strstr(errstr, "that kta export did not create") != NULL);
}

static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = calloc(1, 1 << 16);

    if (fp) {
        size_t n = fread(buf, 1, (1 << 16) - 1, fp);
        buf[n] = '\0';
        fclose(fp);
    }
    return buf;
}

static void test_files(const char *dir)
{
    char sub[256], cmd[2048], errstr[1024], name[512];
    struct kta_export_row row;
    struct kta_sink *s;
    int added;
    FILE *ls;
    char *text;

    snprintf(sub, sizeof(sub), "%s/csv", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && printf 'a\\r\\nb\\r\\ntor' > %s/hits-x-0000.csv.part",
             sub, sub);
    CHECK_INT(system(cmd), 0);
    s = kta_sink_files_open(sub, KTA_SINK_CSV, 0, 0, errstr, sizeof(errstr));
    CHECK(s != NULL);
    snprintf(name, sizeof(name), "%s/hits-x-0000.csv", sub);
    text = slurp(name);
    CHECK_STR(text, "a\r\nb\r\n");   /* finished, torn line cut */
    free(text);
    parse(&row, hit1, 5);
    CHECK_INT(kta_sink_add(s, &row, &added, errstr, sizeof(errstr)), 0);
    kta_export_row_clear(&row);
    CHECK_INT(kta_sink_commit(s, errstr, sizeof(errstr)), 0);
    CHECK_INT(kta_sink_close(s, errstr, sizeof(errstr)), 0);
    snprintf(cmd, sizeof(cmd), "ls %s | grep -v hits-x | grep -v part", sub);
    ls = popen(cmd, "r");
    CHECK(ls && fgets(name, sizeof(name), ls));
    if (ls)
        pclose(ls);
    name[strcspn(name, "\n")] = '\0';
    CHECK(strncmp(name, "hits-", 5) == 0 && strstr(name, ".csv"));
    snprintf(cmd, sizeof(cmd), "%s/%s", sub, name);
    text = slurp(cmd);
    CHECK(strncmp(text, "detected_at,rule_id,rule_title,level,tags,host,key,src_topic,", 61) == 0);
    /* RFC 4180: commas and quotes in double quotes, quotes doubled. */
    CHECK(strstr(text, "\r\n2026-11-27T07:25:10.123Z,r1,\"T, \"\"q\"\"\",high,"
                       "\"[\"\"a\"\",\"\"b\"\"]\",h1,k,in,2,42,1764230400000,abc,0.1.0,,,,,,"
                       "matched_hits,0,5,\"{\"\"rule\"\"") != NULL);
    free(text);
    CHECK(kta_sink_files_open("/nonexistent/dir", KTA_SINK_JSONL, 0, 0, errstr, sizeof(errstr)) == NULL);
    CHECK(strstr(errstr, "No such file or directory") != NULL);
}

int main(void)
{
    char dir[] = "/tmp/kta-test-export.XXXXXX", cmd[256];

    if (!mkdtemp(dir))
        return 1;
    test_rows();
    test_sqlite(dir);
    test_files(dir);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return tap_done();
}
