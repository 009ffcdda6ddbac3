/* SPDX-License-Identifier: Apache-2.0 */
/*
 * export: hit records -> rows (jansson), the sink calls `kta export`
 * makes, and the JSON-lines / CSV file sink.  The SQLite sink is
 * export_sqlite.c.  Knows no Kafka: cmd_export.c reads the records and
 * commits their offsets once kta_sink_commit says the rows are durable.
 *
 * Files: DIR/hits-YYYYMMDDTHHMMSSZ-NNNN.{jsonl,csv}, written as NAME.part
 * and renamed to NAME when rotated or closed (so a reader of DIR never
 * sees a half-written file under the final name).  A commit fflushes and
 * fsyncs the open file (and the directory after a rename or a new file);
 * a crash after that leaves the .part file, which the next open finishes
 * (cutting a line the crash tore).
 * Records read again after a crash are written again: files are
 * at-least-once (SQLite's unique keys make it exactly-once there).
 * Main thread only.
 */
#include "kta/export.h"
#include "kta/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const kta_export_columns[] = {
    "detected_at", "rule_id", "rule_title", "level", "tags", "host", "key",
    "src_topic", "src_partition", "src_offset", "src_timestamp", "ruleset", "kta_version",
    "corr_type", "corr_group", "corr_count", "corr_first", "corr_last",
    "hit_topic", "hit_partition", "hit_offset", "hit", NULL,
};

/* ---- rows ----------------------------------------------------------------- */

static const char *str_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

void kta_export_row_clear(struct kta_export_row *row)
{
    json_decref(row->hit);
    free(row->tags);
    free(row->key);
    free(row->corr_group);
    memset(row, 0, sizeof(*row));
}

int kta_export_row_parse(struct kta_export_row *row, const void *value, size_t len,
                         const void *key, size_t key_len, char *why, size_t why_size)
{
    json_error_t jerr;
    const json_t *rule, *src, *corr, *ev, *v;

    memset(row, 0, sizeof(*row));
    if (!value || !len)
        return kta_err(why, why_size, "empty record");
    row->hit = json_loadb(value, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!row->hit) {
        kta_err(why, why_size, "not JSON: %s", jerr.text);
        goto fail;
    }
    if (!json_is_object(row->hit)) {
        kta_err(why, why_size, "not a JSON object");
        goto fail;
    }
    rule = json_object_get(row->hit, "rule");
    if (!json_is_object(rule) || !(row->rule_id = str_at(rule, "id")) || !*row->rule_id) {
        kta_err(why, why_size, "not a hit: no rule.id");
        goto fail;
    }
    if (!(row->detected_at = str_at(row->hit, "detected_at"))) {
        kta_err(why, why_size, "not a hit: no detected_at");
        goto fail;
    }
    row->text = value;
    row->text_len = len;
    row->rule_title = str_at(rule, "title");
    row->level = str_at(rule, "level");
    if (json_is_array(json_object_get(rule, "tags")))
        row->tags = json_dumps(json_object_get(rule, "tags"), JSON_COMPACT);
    if (key && key_len)
        row->key = xstrndup(key, key_len);

    src = json_object_get(row->hit, "source");
    if (json_is_object(src) && str_at(src, "topic") &&
        json_is_integer(json_object_get(src, "partition")) &&
        json_is_integer(json_object_get(src, "offset"))) {
        row->src_topic = str_at(src, "topic");
        row->src_partition = json_integer_value(json_object_get(src, "partition"));
        row->src_offset = json_integer_value(json_object_get(src, "offset"));
        row->has_src = 1;
        v = json_object_get(src, "timestamp");
        if (json_is_integer(v)) {
            row->src_timestamp = json_integer_value(v);
            row->has_src_timestamp = 1;
        }
    }
    v = json_object_get(row->hit, "kta");
    row->ruleset = str_at(v, "ruleset");
    row->kta_version = str_at(v, "version");

    ev = json_object_get(row->hit, "event");
    row->host = str_at(ev, "host");
    corr = json_object_get(row->hit, "correlation");
    if (json_is_object(corr)) {
        row->corr_type = str_at(corr, "type");
        v = json_object_get(corr, "group");
        if (v)
            row->corr_group = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!row->host)
            row->host = str_at(v, "host");
        v = json_object_get(corr, "count");
        if (json_is_integer(v)) {
            row->corr_count = json_integer_value(v);
            row->has_corr_count = 1;
        }
        row->corr_first = str_at(corr, "first");
        row->corr_last = str_at(corr, "last");
    }
    return 0;
fail:
    kta_export_row_clear(row);
    return -1;
}

/* ---- the sink calls --------------------------------------------------------- */

int kta_sink_add(struct kta_sink *s, const struct kta_export_row *row, int *added,
                 char *errstr, size_t errstr_size)
{
    if (s->failed)
        return kta_err(errstr, errstr_size, "%s: not usable after an earlier error", s->name);
    if (s->ops->add(s, row, added, errstr, errstr_size) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

int kta_sink_commit(struct kta_sink *s, char *errstr, size_t errstr_size)
{
    if (s->failed)
        return kta_err(errstr, errstr_size, "%s: not usable after an earlier error", s->name);
    if (s->ops->commit(s, errstr, errstr_size) < 0) {
        s->failed = 1;
        return -1;
    }
    return 0;
}

int kta_sink_close(struct kta_sink *s, char *errstr, size_t errstr_size)
{
    if (!s)
        return 0;
    return s->ops->close(s, errstr, errstr_size);
}

const char *kta_sink_name(const struct kta_sink *s)
{
    return s->name;
}

/* ---- JSON lines and CSV ------------------------------------------------------ */

struct files {
    struct kta_sink    base;
    char              *dir;
    enum kta_sink_kind kind;
    long long          rotate_bytes;
    long long          rotate_seconds;
    FILE              *fp;          /* the open .part file, or NULL */
    char              *final;       /* its name once finished */
    char              *part;
    long long          bytes;       /* written to it */
    int64_t            opened_ms;   /* monotonic, for rotate_seconds */
    int                dir_dirty;   /* a file was created or renamed: fsync the directory */
    int                unsynced;    /* written to since the last fsync */
    unsigned           seq;
    struct kta_buf     line;
};

static const char *ext_of(enum kta_sink_kind kind)
{
    return kind == KTA_SINK_CSV ? "csv" : "jsonl";
}

static int sync_dir(struct files *f, char *errstr, size_t errstr_size)
{
    int fd = open(f->dir, O_RDONLY | O_DIRECTORY);
    int rc = 0;

    if (fd < 0 || fsync(fd) < 0)
        rc = kta_err(errstr, errstr_size, "%s: cannot sync the directory: %s", f->dir, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (!rc)
        f->dir_dirty = 0;
    return rc;
}

/* Flushes, fsyncs and closes the open file, then renames it to its final
 * name (an empty file is removed instead). */
static int finish_file(struct files *f, char *errstr, size_t errstr_size)
{
    int rc = 0;

    if (!f->fp)
        return 0;
    if (fflush(f->fp) != 0 || fsync(fileno(f->fp)) < 0)
        rc = kta_err(errstr, errstr_size, "%s: cannot write: %s", f->part, strerror(errno));
    if (fclose(f->fp) != 0 && !rc)
        rc = kta_err(errstr, errstr_size, "%s: cannot write: %s", f->part, strerror(errno));
    f->fp = NULL;
    if (!rc && f->bytes == 0)
        unlink(f->part);
    else if (!rc && rename(f->part, f->final) < 0)
        rc = kta_err(errstr, errstr_size, "%s: cannot rename to %s: %s", f->part, f->final,
                     strerror(errno));
    else if (!rc)
        kta_log(KTA_LOG_INFO, "export: wrote %s (%lld bytes)", f->final, f->bytes);
    f->dir_dirty = 1;
    free(f->part);
    free(f->final);
    f->part = f->final = NULL;
    return rc;
}

static void csv_field(struct kta_buf *b, const char *s, size_t n)
{
    if (!s)
        return;   /* NULL: an empty field */
    if (strcspn(s, ",\"\r\n") >= n && n) {
        kta_buf_append(b, s, n);
        return;
    }
    kta_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            kta_buf_append(b, "\"", 1);
        kta_buf_append(b, &s[i], 1);
    }
    kta_buf_append(b, "\"", 1);
}

static void csv_str(struct kta_buf *b, const char *s, int comma)
{
    if (comma)
        kta_buf_append(b, ",", 1);
    csv_field(b, s, s ? strlen(s) : 0);
}

static void csv_int(struct kta_buf *b, int has, long long v)
{
    kta_buf_append(b, ",", 1);
    if (has)
        kta_buf_printf(b, "%lld", v);
}

/* The CSV line of a row: kta_export_columns, RFC 4180 quoting, CRLF. */
static void csv_row(struct kta_buf *b, const struct kta_export_row *r)
{
    csv_str(b, r->detected_at, 0);
    csv_str(b, r->rule_id, 1);
    csv_str(b, r->rule_title, 1);
    csv_str(b, r->level, 1);
    csv_str(b, r->tags, 1);
    csv_str(b, r->host, 1);
    csv_str(b, r->key, 1);
    csv_str(b, r->src_topic, 1);
    csv_int(b, r->has_src, r->src_partition);
    csv_int(b, r->has_src, r->src_offset);
    csv_int(b, r->has_src_timestamp, r->src_timestamp);
    csv_str(b, r->ruleset, 1);
    csv_str(b, r->kta_version, 1);
    csv_str(b, r->corr_type, 1);
    csv_str(b, r->corr_group, 1);
    csv_int(b, r->has_corr_count, r->corr_count);
    csv_str(b, r->corr_first, 1);
    csv_str(b, r->corr_last, 1);
    csv_str(b, r->hit_topic, 1);
    csv_int(b, 1, r->hit_partition);
    csv_int(b, 1, r->hit_offset);
    kta_buf_append(b, ",", 1);
    csv_field(b, r->text, r->text_len);
    kta_buf_appends(b, "\r\n");
}

static int open_file(struct files *f, char *errstr, size_t errstr_size)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    int fd = -1;

    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
    for (;;) {
        free(f->final);
        free(f->part);
        f->final = xasprintf("%s/hits-%s-%04u.%s", f->dir, when, f->seq++, ext_of(f->kind));
        f->part = xasprintf("%s.part", f->final);
        if (access(f->final, F_OK) == 0)
            continue;
        fd = open(f->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0 || !(f->fp = fdopen(fd, "w"))) {
        kta_err(errstr, errstr_size, "%s: cannot create: %s", f->part, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    f->bytes = 0;
    f->opened_ms = kta_now_ms();
    f->dir_dirty = 1;
    if (f->kind == KTA_SINK_CSV) {
        kta_buf_reset(&f->line);
        for (size_t i = 0; kta_export_columns[i]; i++)
            csv_str(&f->line, kta_export_columns[i], i > 0);
        kta_buf_appends(&f->line, "\r\n");
        if (fwrite(f->line.data, 1, f->line.len, f->fp) != f->line.len)
            return kta_err(errstr, errstr_size, "%s: cannot write: %s", f->part, strerror(errno));
        f->bytes += (long long)f->line.len;
    }
    return 0;
}

static int files_add(struct kta_sink *s, const struct kta_export_row *row, int *added,
                     char *errstr, size_t errstr_size)
{
    struct files *f = (struct files *)s;

    *added = 1;
    if (f->fp && f->rotate_bytes > 0 && f->bytes >= f->rotate_bytes &&
        finish_file(f, errstr, errstr_size) < 0)
        return -1;
    if (!f->fp && open_file(f, errstr, errstr_size) < 0)
        return -1;
    kta_buf_reset(&f->line);
    if (f->kind == KTA_SINK_CSV) {
        csv_row(&f->line, row);
    } else {
        kta_buf_append(&f->line, row->text, row->text_len);
        kta_buf_append(&f->line, "\n", 1);
    }
    if (fwrite(f->line.data, 1, f->line.len, f->fp) != f->line.len)
        return kta_err(errstr, errstr_size, "%s: cannot write: %s", f->part, strerror(errno));
    f->bytes += (long long)f->line.len;
    f->unsynced = 1;
    kta_buf_shrink(&f->line, KTA_BUF_KEEP);
    return 0;
}

static int files_commit(struct kta_sink *s, char *errstr, size_t errstr_size)
{
    struct files *f = (struct files *)s;

    if (f->fp && f->rotate_seconds > 0 && kta_now_ms() - f->opened_ms >= f->rotate_seconds * 1000) {
        if (finish_file(f, errstr, errstr_size) < 0)
            return -1;
    } else if (f->fp && f->unsynced && (fflush(f->fp) != 0 || fsync(fileno(f->fp)) < 0)) {
        return kta_err(errstr, errstr_size, "%s: cannot write: %s", f->part, strerror(errno));
    }
    f->unsynced = 0;
    return f->dir_dirty ? sync_dir(f, errstr, errstr_size) : 0;
}

static int files_close(struct kta_sink *s, char *errstr, size_t errstr_size)
{
    struct files *f = (struct files *)s;
    int rc = 0;

    if (!s->failed) {
        rc = finish_file(f, errstr, errstr_size);
        if (!rc && f->dir_dirty)
            rc = sync_dir(f, errstr, errstr_size);
    } else if (f->fp) {
        fclose(f->fp);   /* left as .part: the next run finishes it */
    }
    free(f->part);
    free(f->final);
    free(f->dir);
    free(s->name);
    kta_buf_free(&f->line);
    free(f);
    return rc;
}

static const struct kta_sink_ops files_ops = { files_add, files_commit, files_close };

/* Cuts a .part file after its last complete line: a crash may leave part
 * of a line the stdio buffer had begun to write.  Everything up to the
 * last commit was flushed and fsync'd whole, so only records whose
 * offsets were never committed are cut (they are read again).  CSV lines
 * end with CRLF, JSON lines with LF. */
static int cut_torn_line(const char *path, enum kta_sink_kind kind, char *errstr,
                         size_t errstr_size)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    char buf[4096];
    off_t end, keep = 0;
    int rc = 0;

    if (fd < 0)
        return kta_err(errstr, errstr_size, "%s: %s", path, strerror(errno));
    end = lseek(fd, 0, SEEK_END);
    for (off_t pos = end; pos > 0 && !keep;) {
        size_t n = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
        ssize_t got;

        pos -= (off_t)n;
        got = pread(fd, buf, n, pos);
        if (got != (ssize_t)n) {
            rc = kta_err(errstr, errstr_size, "%s: cannot read: %s", path, strerror(errno));
            break;
        }
        for (size_t i = n; i-- > 0;) {
            char before = 0;

            if (buf[i] != '\n')
                continue;
            if (i > 0)
                before = buf[i - 1];
            else if (pos > 0 && pread(fd, &before, 1, pos - 1) != 1)
                before = 0;
            if (kind != KTA_SINK_CSV || before == '\r') {
                keep = pos + (off_t)i + 1;
                break;
            }
        }
    }
    if (!rc && keep < end) {
        if (ftruncate(fd, keep) < 0 || fsync(fd) < 0)
            rc = kta_err(errstr, errstr_size, "%s: cannot truncate: %s", path, strerror(errno));
        else
            kta_log(KTA_LOG_WARN, "export: %s: cut %lld bytes of a line torn by a crash (their "
                    "records are read again)", path, (long long)(end - keep));
    }
    close(fd);
    return rc;
}

/* .part files of an earlier run that stopped without finishing them:
 * what they hold up to the last commit is durable, and some of it
 * committed, so they are finished (after cutting a torn last line). */
static int finish_leftovers(struct files *f, char *errstr, size_t errstr_size)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int rc = 0;

    if (!d)
        return kta_err(errstr, errstr_size, "%s: %s", f->dir, strerror(errno));
    while (!rc && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char *from, *to;

        if (strncmp(de->d_name, "hits-", 5) != 0 || n < 6 || strcmp(de->d_name + n - 5, ".part"))
            continue;
        from = xasprintf("%s/%s", f->dir, de->d_name);
        to = xasprintf("%s/%.*s", f->dir, (int)(n - 5), de->d_name);
        if (cut_torn_line(from, strstr(de->d_name, ".csv.part") ? KTA_SINK_CSV : KTA_SINK_JSONL,
                          errstr, errstr_size) < 0)
            rc = -1;
        else if (rename(from, to) < 0)
            rc = kta_err(errstr, errstr_size, "%s: cannot rename to %s: %s", from, to,
                         strerror(errno));
        else
            kta_log(KTA_LOG_WARN, "export: finished %s, left by an earlier run", to);
        f->dir_dirty = 1;
        free(from);
        free(to);
    }
    closedir(d);
    return rc;
}

struct kta_sink *kta_sink_files_open(const char *dir, enum kta_sink_kind kind,
                                     long long rotate_bytes, long long rotate_seconds,
                                     char *errstr, size_t errstr_size)
{
    struct files *f;
    struct stat st;

    if (stat(dir, &st) < 0) {
        kta_err(errstr, errstr_size, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(st.st_mode)) {
        kta_err(errstr, errstr_size, "%s: not a directory", dir);
        return NULL;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        kta_err(errstr, errstr_size, "%s: directory not writable: %s", dir, strerror(errno));
        return NULL;
    }
    f = xcalloc(1, sizeof(*f));
    f->base.ops = &files_ops;
    f->base.name = xasprintf("%s/", dir);
    f->dir = xstrdup(dir);
    f->kind = kind;
    f->rotate_bytes = rotate_bytes;
    f->rotate_seconds = rotate_seconds;
    if (finish_leftovers(f, errstr, errstr_size) < 0 ||
        (f->dir_dirty && sync_dir(f, errstr, errstr_size) < 0)) {
        files_close(&f->base, NULL, 0);
        return NULL;
    }
    return &f->base;
}
