/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export_sqlite: the SQLite sink of `kta export` — the only libsqlite3
 * user.  Rows go into table `hits` (schema below, docs/query.md "SQLite"),
 * one transaction per batch: kta_sink_add begins it at the first row,
 * kta_sink_commit commits it (journal_mode=WAL, synchronous=FULL, so a
 * committed batch survives a crash or power cut before its offsets are
 * committed in Kafka).  Restarts never duplicate a row: INSERT OR IGNORE
 * against two unique keys,
 *
 *   (src_topic, src_partition, src_offset, rule_id): one row per rule and
 *       source event, also for correlation hits (their source is the event
 *       that completed them) and for a hit kta run wrote twice;
 *   (hit_topic, hit_partition, hit_offset): one row per hit record, which
 *       also covers hits without a Kafka source (their src_* are NULL, and
 *       SQLite's UNIQUE lets NULLs repeat).
 *
 * Any SQLite error (SQLITE_READONLY, SQLITE_FULL, SQLITE_CANTOPEN, IOERR,
 * BUSY past the timeout...) rolls the transaction back and fails the sink:
 * the exporter stops and commits no offset past the last committed
 * transaction.
 *
 * Test hook: $KTA_TEST_SQLITE_MAX_PAGES (a page count) sets PRAGMA
 * max_page_count, so that tests/integration/0029-export.sh gets
 * SQLITE_FULL ("database or disk is full") without filling a disk;
 * $KTA_TEST_SQLITE_COMMIT_DELAY_MS sleeps that long before each COMMIT,
 * so that the test's kill -9 lands between storing a batch and
 * committing its offsets (where committing offsets first would lose it).
 * Main thread only.
 */
#include "kta/export.h"
#include "kta/util.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sqlite_sink {
    struct kta_sink base;
    sqlite3        *db;
    sqlite3_stmt   *insert;
    int             in_txn;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS hits (\n"
    "  id            INTEGER PRIMARY KEY,\n"
    "  detected_at   TEXT NOT NULL,\n"
    "  rule_id       TEXT NOT NULL,\n"
    "  rule_title    TEXT,\n"
    "  level         TEXT,\n"
    "  tags          TEXT,\n"
    "  host          TEXT,\n"
    "  key           TEXT,\n"
    "  src_topic     TEXT,\n"
    "  src_partition INTEGER,\n"
    "  src_offset    INTEGER,\n"
    "  src_timestamp INTEGER,\n"
    "  ruleset       TEXT,\n"
    "  kta_version   TEXT,\n"
    "  corr_type     TEXT,\n"
    "  corr_group    TEXT,\n"
    "  corr_count    INTEGER,\n"
    "  corr_first    TEXT,\n"
    "  corr_last     TEXT,\n"
    "  hit_topic     TEXT NOT NULL,\n"
    "  hit_partition INTEGER NOT NULL,\n"
    "  hit_offset    INTEGER NOT NULL,\n"
    "  hit           TEXT NOT NULL,\n"
    "  UNIQUE (src_topic, src_partition, src_offset, rule_id),\n"
    "  UNIQUE (hit_topic, hit_partition, hit_offset)\n"
    ");\n"
    "CREATE INDEX IF NOT EXISTS hits_detected_at ON hits (detected_at);\n"
    "CREATE INDEX IF NOT EXISTS hits_rule_id ON hits (rule_id);\n"
    "CREATE INDEX IF NOT EXISTS hits_host ON hits (host);\n";

/* SQLite's name of a primary result code, for messages a search finds. */
static const char *code_name(int rc)
{
    static const struct { int rc; const char *name; } names[] = {
        { SQLITE_ERROR, "SQLITE_ERROR" }, { SQLITE_PERM, "SQLITE_PERM" },
        { SQLITE_BUSY, "SQLITE_BUSY" }, { SQLITE_LOCKED, "SQLITE_LOCKED" },
        { SQLITE_NOMEM, "SQLITE_NOMEM" }, { SQLITE_READONLY, "SQLITE_READONLY" },
        { SQLITE_IOERR, "SQLITE_IOERR" }, { SQLITE_CORRUPT, "SQLITE_CORRUPT" },
        { SQLITE_FULL, "SQLITE_FULL" }, { SQLITE_CANTOPEN, "SQLITE_CANTOPEN" },
        { SQLITE_PROTOCOL, "SQLITE_PROTOCOL" }, { SQLITE_SCHEMA, "SQLITE_SCHEMA" },
        { SQLITE_TOOBIG, "SQLITE_TOOBIG" }, { SQLITE_CONSTRAINT, "SQLITE_CONSTRAINT" },
        { SQLITE_MISMATCH, "SQLITE_MISMATCH" }, { SQLITE_AUTH, "SQLITE_AUTH" },
        { SQLITE_NOTADB, "SQLITE_NOTADB" },
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rc == (rc & 0xff))
            return names[i].name;
    return "SQLITE_?";
}

/* "FILE: what: SQLite's message (SQLITE_CODE)". */
static int db_err(struct sqlite_sink *s, const char *what, int rc, char *errstr,
                  size_t errstr_size)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

    return kta_err(errstr, errstr_size, "%s: %s: %s (%s)", s->base.name, what, msg,
                   code_name(s->db ? sqlite3_extended_errcode(s->db) : rc));
}

static int exec(struct sqlite_sink *s, const char *sql, const char *what, char *errstr,
                size_t errstr_size)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

    return rc == SQLITE_OK ? 0 : db_err(s, what, rc, errstr, errstr_size);
}

/* The first column of the first row of sql as an integer (or text into
 * buf); -1 with errstr on error. */
static int query_int(struct sqlite_sink *s, const char *sql, long long *out, char *buf,
                     size_t buf_size, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);

    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out)
            *out = sqlite3_column_int64(st, 0);
        if (buf)
            snprintf(buf, buf_size, "%s",
                     sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? 0 : db_err(s, sql, rc, errstr, errstr_size);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, int i, int has, int64_t v)
{
    if (has)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static int sqlite_add(struct kta_sink *base, const struct kta_export_row *r, int *added,
                      char *errstr, size_t errstr_size)
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;
    sqlite3_stmt *st = s->insert;
    int rc, i = 1;

    *added = 0;
    if (!s->in_txn) {
        if (exec(s, "BEGIN IMMEDIATE", "cannot begin a transaction", errstr, errstr_size) < 0)
            return -1;
        s->in_txn = 1;
    }
    bind_text(st, i++, r->detected_at);
    bind_text(st, i++, r->rule_id);
    bind_text(st, i++, r->rule_title);
    bind_text(st, i++, r->level);
    bind_text(st, i++, r->tags);
    bind_text(st, i++, r->host);
    bind_text(st, i++, r->key);
    bind_text(st, i++, r->src_topic);
    bind_int(st, i++, r->has_src, r->src_partition);
    bind_int(st, i++, r->has_src, r->src_offset);
    bind_int(st, i++, r->has_src_timestamp, r->src_timestamp);
    bind_text(st, i++, r->ruleset);
    bind_text(st, i++, r->kta_version);
    bind_text(st, i++, r->corr_type);
    bind_text(st, i++, r->corr_group);
    bind_int(st, i++, r->has_corr_count, r->corr_count);
    bind_text(st, i++, r->corr_first);
    bind_text(st, i++, r->corr_last);
    bind_text(st, i++, r->hit_topic);
    bind_int(st, i++, 1, r->hit_partition);
    bind_int(st, i++, 1, r->hit_offset);
    sqlite3_bind_text(st, i++, r->text, (int)r->text_len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        db_err(s, "cannot insert", rc, errstr, errstr_size);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_txn = 0;
        return -1;
    }
    *added = sqlite3_changes(s->db) > 0;
    return 0;
}

static int sqlite_commit(struct kta_sink *base, char *errstr, size_t errstr_size)
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;

    const char *delay = getenv("KTA_TEST_SQLITE_COMMIT_DELAY_MS");

    if (!s->in_txn)
        return 0;
    s->in_txn = 0;
    if (delay) {
        long long ms = atoll(delay);
        struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (exec(s, "COMMIT", "cannot commit", errstr, errstr_size) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int sqlite_close(struct kta_sink *base, char *errstr, size_t errstr_size)
{
    struct sqlite_sink *s = (struct sqlite_sink *)base;
    int rc = 0;

    if (s->in_txn && !base->failed)
        rc = sqlite_commit(base, errstr, errstr_size);
    else if (s->in_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(s->insert);
    sqlite3_close(s->db);
    free(base->name);
    free(s);
    return rc;
}

static const struct kta_sink_ops sqlite_ops = { sqlite_add, sqlite_commit, sqlite_close };

static int setup(struct sqlite_sink *s, char *errstr, size_t errstr_size)
{
    const char *pages = getenv("KTA_TEST_SQLITE_MAX_PAGES");
    char mode[32], sql[1024];
    struct kta_buf ins = { 0 };
    long long version = 0, tables = 0;
    int rc;

    /* A file that cannot be written (permissions, an immutable file, a
     * read-only mount) opens read-only: say so before anything else. */
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return kta_err(errstr, errstr_size, "%s: the database is read-only (it cannot be "
                       "opened for writing: check its permissions, attributes and file system)",
                       s->base.name);
    sqlite3_busy_timeout(s->db, 5000);
    if (query_int(s, "PRAGMA user_version", &version, NULL, 0, errstr, errstr_size) < 0 ||
        query_int(s, "SELECT count(*) FROM sqlite_master WHERE name = 'hits'", &tables, NULL, 0,
                  errstr, errstr_size) < 0)
        return -1;
    if (version > KTA_EXPORT_SCHEMA_VERSION)
        return kta_err(errstr, errstr_size, "%s: schema version %lld is newer than this kta's "
                       "(%d): use a newer kta or another file", s->base.name, version,
                       KTA_EXPORT_SCHEMA_VERSION);
    if (version == 0 && tables)
        return kta_err(errstr, errstr_size, "%s: has a table 'hits' that kta export did not "
                       "create (user_version 0): use another file", s->base.name);
    if (query_int(s, "PRAGMA journal_mode=WAL", NULL, mode, sizeof(mode), errstr,
                  errstr_size) < 0)
        return -1;
    if (strcmp(mode, "wal") != 0)
        return kta_err(errstr, errstr_size, "%s: cannot use WAL mode (journal_mode is %s)",
                       s->base.name, mode);
    if (exec(s, "PRAGMA synchronous=FULL", "cannot set synchronous=FULL", errstr, errstr_size) < 0)
        return -1;
    if (pages) {
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", atoll(pages));
        if (exec(s, sql, "KTA_TEST_SQLITE_MAX_PAGES", errstr, errstr_size) < 0)
            return -1;
    }
    if (version == 0) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", KTA_EXPORT_SCHEMA_VERSION);
        if (exec(s, "BEGIN", "cannot create the schema", errstr, errstr_size) < 0)
            return -1;
        if (exec(s, schema, "cannot create the schema", errstr, errstr_size) < 0 ||
            exec(s, sql, "cannot create the schema", errstr, errstr_size) < 0 ||
            exec(s, "COMMIT", "cannot create the schema", errstr, errstr_size) < 0) {
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    kta_buf_appends(&ins, "INSERT OR IGNORE INTO hits (");
    for (size_t i = 0; kta_export_columns[i]; i++)
        kta_buf_printf(&ins, "%s%s", i ? ", " : "", kta_export_columns[i]);
    kta_buf_appends(&ins, ") VALUES (");
    for (size_t i = 0; kta_export_columns[i]; i++)
        kta_buf_appends(&ins, i ? ", ?" : "?");
    kta_buf_appends(&ins, ")");
    rc = sqlite3_prepare_v2(s->db, ins.data, -1, &s->insert, NULL);
    kta_buf_free(&ins);
    if (rc != SQLITE_OK)
        return db_err(s, "cannot prepare the insert", rc, errstr, errstr_size);
    return 0;
}

struct kta_sink *kta_sink_sqlite_open(const char *path, char *errstr, size_t errstr_size)
{
    struct sqlite_sink *s = xcalloc(1, sizeof(*s));
    int rc;

    s->base.ops = &sqlite_ops;
    s->base.name = xstrdup(path);
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc != SQLITE_OK) {
        db_err(s, "cannot open the database", rc, errstr, errstr_size);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    if (setup(s, errstr, errstr_size) < 0)
        goto fail;
    return &s->base;
fail:
    s->base.failed = 1;
    sqlite_close(&s->base, NULL, 0);
    return NULL;
}
