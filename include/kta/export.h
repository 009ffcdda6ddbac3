/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export: what `kta export` (src/cmd_export.c) writes and where.  A hit
 * record read from a hit topic becomes a struct kta_export_row (export.c,
 * jansson), which a sink stores: SQLite (export_sqlite.c, the only
 * libsqlite3 user) or rotated JSON-lines / CSV files (export.c).
 *
 * A sink is transactional in the one way the exporter needs: rows added
 * since the last kta_sink_commit are durable once it returns 0 (SQLite:
 * the transaction committed, synchronous=FULL; files: written and
 * fsync'd), and only then does the exporter commit their Kafka offsets.
 * After a failed add or commit the sink is unusable: the exporter stops
 * and commits nothing more.
 *
 * Functions borrow their arguments unless they say *takes*;
 * kta_sink_close(NULL) and kta_export_row_clear on a cleared row do
 * nothing.  Main thread only (kta export has no other).
 */
#ifndef KTA_EXPORT_H
#define KTA_EXPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One hit, as columns.  Strings point into hit (or the record) and live
 * as long as the row; NULL means SQL NULL.  Integers are valid when their
 * has_ flag is set. */
struct kta_export_row {
    json_t     *hit;            /* the parsed record value (owned) */
    const char *text;           /* the record value as received */
    size_t      text_len;
    const char *detected_at;    /* required */
    const char *rule_id;        /* required */
    const char *rule_title;
    const char *level;
    char       *tags;           /* JSON array text (owned), or NULL */
    const char *host;           /* event.host, else correlation.group.host */
    char       *key;            /* the record key (owned), or NULL */
    const char *src_topic;      /* source.topic (Kafka-sourced hits) */
    int64_t     src_partition, src_offset, src_timestamp;
    int         has_src, has_src_timestamp;
    const char *ruleset;        /* kta.ruleset */
    const char *kta_version;    /* kta.version */
    const char *corr_type;      /* correlation.type; NULL for single-event hits */
    char       *corr_group;     /* correlation.group as JSON text (owned) */
    int64_t     corr_count;
    int         has_corr_count;
    const char *corr_first, *corr_last;
    const char *hit_topic;      /* where the exporter read it */
    int32_t     hit_partition;
    int64_t     hit_offset;
};

/* The columns, in table / CSV order (NULL-terminated). */
extern const char *const kta_export_columns[];

/* Parses one record value as a hit.  Returns 0 with row filled (clear it
 * with kta_export_row_clear), or -1 with why saying what is wrong ("not
 * JSON: ...", "no rule.id", ...) and row cleared.  key may be NULL. */
int kta_export_row_parse(struct kta_export_row *row, const void *value, size_t len,
                         const void *key, size_t key_len, char *why, size_t why_size);
void kta_export_row_clear(struct kta_export_row *row);

enum kta_sink_kind { KTA_SINK_SQLITE, KTA_SINK_JSONL, KTA_SINK_CSV };

struct kta_sink;

/* Opens the SQLite database FILE (created when missing; WAL mode, table
 * `hits` at schema version KTA_EXPORT_SCHEMA_VERSION).  Returns the sink,
 * or NULL with errstr naming the file and the cause (read-only, cannot
 * open, not a kta database, newer schema...). */
#define KTA_EXPORT_SCHEMA_VERSION 1
struct kta_sink *kta_sink_sqlite_open(const char *path, char *errstr, size_t errstr_size);

/* Opens a directory for JSON-lines or CSV files, hits-TIME-NNNN.EXT,
 * written as .part files and renamed when rotated (past rotate_bytes, or
 * rotate_seconds after the file was opened; 0: never) or closed.  A .part
 * file left by an earlier run is finished (renamed) first.  Returns the
 * sink, or NULL with errstr (not a directory, not writable). */
struct kta_sink *kta_sink_files_open(const char *dir, enum kta_sink_kind kind,
                                     long long rotate_bytes, long long rotate_seconds,
                                     char *errstr, size_t errstr_size);

/* Adds one row.  *added is 1 when it is new, 0 when the sink already held
 * it (SQLite: the unique keys; files always 1).  Returns 0, or -1 with
 * errstr. */
int kta_sink_add(struct kta_sink *s, const struct kta_export_row *row, int *added,
                 char *errstr, size_t errstr_size);
/* Makes every row added so far durable (see above); with nothing added,
 * only rotates files that are due.  Returns 0, or -1 with errstr (the
 * rows since the last commit are then not stored, or not known to be). */
int kta_sink_commit(struct kta_sink *s, char *errstr, size_t errstr_size);
/* Commits what is pending unless the sink failed, finishes the current
 * file, frees s.  Returns 0, or -1 with errstr. */
int kta_sink_close(struct kta_sink *s, char *errstr, size_t errstr_size);
/* "hits.db" or "DIR/" for messages. */
const char *kta_sink_name(const struct kta_sink *s);

/* The sink's operations (a sink module fills one in). */
struct kta_sink_ops {
    int  (*add)(struct kta_sink *s, const struct kta_export_row *row, int *added,
                char *errstr, size_t errstr_size);
    int  (*commit)(struct kta_sink *s, char *errstr, size_t errstr_size);
    int  (*close)(struct kta_sink *s, char *errstr, size_t errstr_size);
};
struct kta_sink {
    const struct kta_sink_ops *ops;
    char                      *name;
    int                        failed;   /* an add or commit failed: unusable */
};

#endif
