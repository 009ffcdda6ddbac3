/* SPDX-License-Identifier: Apache-2.0 */
/*
 * correlate: correlation rules over base-rule matches; see
 * include/kta/correlate.h for the two steps (keying in any thread, owning
 * in one).  Owns the per-group windows of one struct kta_corr.  No Kafka,
 * no YAML, no locks, no output.
 *
 * A group's state is self-contained (its correlation, its key, its events
 * with their times, rules, values and sources, its quiet-until time) so
 * that it can later be written to and restored from a changelog.
 *
 * States of one group (struct group) and their transitions:
 *
 *   (none)   -> EMPTY     [group_get: first input of a new group key]
 *   EMPTY    -> COUNTING  [apply_input: an event is kept]
 *   COUNTING -> COUNTING  [apply_input: an event is kept; a sliding window
 *                          forgets events more than timespan older than the
 *                          newest; at max_events the oldest is dropped]
 *   COUNTING -> QUIET     [apply_input -> emit: a sliding condition holds;
 *                          quiet_until = first event time + timespan.
 *                          Without event times: -> EMPTY instead]
 *   COUNTING -> EMPTY     [close_window (lt/lte): an event after the window,
 *                          or kta_corr_flush; emits when the condition holds]
 *   QUIET    -> QUIET     [apply_input: an event at or before quiet_until,
 *                          counted as quiet, not kept]
 *   QUIET    -> COUNTING  [apply_input: an event after quiet_until]
 *   any      -> (none)    [group_get: evicted at max_groups, idlest first,
 *                          never one that is emitting (pin); a tombstone]
 *   (none)   -> any       [kta_corr_restore: the state of a changelog record]
 *   any      -> (none)    [kta_corr_restore: a tombstone]
 *
 * Before any of these, kta_corr_apply_seq skips inputs whose seq is not
 * above their group's (replayed), then leaves out late inputs (older than
 * the newest time of their partition or file minus the grace).
 *
 * Changelog: every transition above except restore's puts the group on
 * the dirty list (cs->chg, at most once until the next kta_corr_changes);
 * so does a source's newest time when it grows.  A group dropped while on
 * the list turns its entry into a tombstone.  kta_corr_changes writes the
 * list out in order and empties it.
 */
#include "kta/correlate.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const kta_corr_default_time_fields[] = {
    "@timestamp", "timestamp", "EventTime", "TimeCreated", NULL
};

/* ---- event time ---------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int64_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

/* RFC 3339 ("2026-11-27T07:25:10.123Z", "+02:00" offsets, ' ' for 'T'). */
static int64_t parse_rfc3339(const char *s)
{
    int y, mo, d, h, mi, sec, ms = 0, sign, oh, om;
    size_t n = strlen(s), i = 19;

    if (n < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':' || digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
        digits(s + 8, 2, &d) || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
        digits(s + 17, 2, &sec) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    if (i < n && s[i] == '.') {
        int scale = 100;

        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    int64_t t = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 + ms;

    if (i == n)
        return t;   /* no offset: taken as UTC */
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
        return t;
    if ((s[i] != '+' && s[i] != '-') || n - i != 6 || s[i + 3] != ':' ||
        digits(s + i + 1, 2, &oh) || digits(s + i + 4, 2, &om))
        return -1;
    sign = s[i] == '+' ? 1 : -1;
    return t - sign * (int64_t)(oh * 60 + om) * 60000;
}

/* ev[name]: the flat key first, then the dotted path. */
static const json_t *field_get(const json_t *ev, const char *name)
{
    const json_t *v = json_object_get(ev, name);
    const char *p = name, *dot;

    if (v || !strchr(name, '.'))
        return v;
    v = ev;
    while (v && (dot = strchr(p, '.')) != NULL) {
        v = json_is_object(v) ? json_object_getn(v, p, (size_t)(dot - p)) : NULL;
        p = dot + 1;
    }
    return json_is_object(v) ? json_object_get(v, p) : NULL;
}

int64_t kta_corr_event_time(const json_t *ev, const char *const *fields, int64_t record_ts)
{
    if (!fields)
        fields = kta_corr_default_time_fields;
    for (size_t i = 0; ev && fields[i]; i++) {
        const json_t *v = field_get(ev, fields[i]);
        int64_t t = -1;

        if (json_is_string(v))
            t = parse_rfc3339(json_string_value(v));
        else if (json_is_number(v) && json_number_value(v) >= 0) {
            double x = json_number_value(v);

            t = x > 1e11 ? (int64_t)x : (int64_t)(x * 1000.0);
        }
        if (t >= 0)
            return t;
    }
    return record_ts >= 0 ? record_ts : -1;
}

/* ---- keying --------------------------------------------------------------- */

static json_t *source_json(const struct kta_hit_source *src)
{
    if (src->topic)
        return json_pack("{s:s,s:i,s:I}", "topic", src->topic, "partition",
                         (int)src->partition, "offset", (json_int_t)src->offset);
    return json_pack("{s:s,s:I}", "file", src->file ? src->file : "-", "line",
                     (json_int_t)src->line);
}

/* A group or counted value: scalars as they are, anything else (and a
 * missing field) null. */
static json_t *group_value(const json_t *v)
{
    if (!v || json_is_object(v) || json_is_array(v))
        return json_null();
    return json_deep_copy(v);
}

static void emit_input(const struct kta_corrdef *c, size_t k, json_t *group, json_t *value,
                       int64_t t_ms, json_t *source, int derived, json_t *extra,
                       struct kta_buf *out)
{
    json_t *in = extra ? extra : json_object();
    char *text;

    json_object_set_new(in, "c", json_string(c->id));
    if (derived)
        json_object_set_new(in, "d", json_true());
    json_object_set_new(in, "ci", json_integer((json_int_t)c->index));
    json_object_set_new(in, "k", json_integer((json_int_t)k));
    json_object_set_new(in, "g", group);
    json_object_set_new(in, "t", json_integer(t_ms));
    if (value)
        json_object_set_new(in, "v", value);
    json_object_set_new(in, "s", source);
    text = json_dumps(in, JSON_COMPACT | JSON_ENSURE_ASCII);
    kta_buf_append(out, text, strlen(text));
    kta_buf_append(out, "\n", 1);
    free(text);
    json_decref(in);
}

/* Group values of c for the events of refs[k], from lookup(name). */
static json_t *make_group(const struct kta_corrdef *c, size_t k,
                          const json_t *(*lookup)(const void *, const char *), const void *arg)
{
    json_t *g = json_array();

    for (size_t i = 0; i < c->ngroup; i++) {
        const char *f = c->field_of[i * c->nrefs + k] ? c->field_of[i * c->nrefs + k]
                                                        : c->group[i];

        json_array_append_new(g, group_value(lookup(arg, f)));
    }
    return g;
}

static const json_t *event_lookup(const void *ev, const char *f)
{
    return field_get(ev, f);
}

size_t kta_corr_key(const struct kta_ruleset *rs, size_t rule, const json_t *ev, int64_t t_ms,
                    const struct kta_hit_source *src, struct kta_buf *out)
{
    size_t n, i, k;
    const size_t *cs = kta_ruleset_rule_corrs(rs, rule, &n);

    for (i = 0; i < n; i++) {
        const struct kta_corrdef *c = kta_ruleset_corr(rs, cs[i]);

        for (k = 0; k < c->nrefs; k++) {
            if (c->refs[k].is_corr || c->refs[k].index != rule)
                continue;
            emit_input(c, k, make_group(c, k, event_lookup, ev),
                       c->field ? group_value(field_get(ev, c->field)) : NULL, t_ms,
                       source_json(src), 0, NULL, out);
            break;    /* a rule listed twice counts once */
        }
    }
    return n;
}

size_t kta_corr_key_suppress(const struct kta_ruleset *rs, size_t rule, const json_t *ev,
                             int64_t t_ms, const struct kta_hit_source *src, const char *hit,
                             size_t hitlen, const char *key, size_t keylen, struct kta_buf *out)
{
    size_t si = kta_ruleset_rule_suppress(rs, rule);
    const struct kta_corrdef *c = si == (size_t)-1 ? NULL : kta_ruleset_corr(rs, si);
    json_t *extra;

    if (!c)
        return 0;
    extra = json_object();
    json_object_set_new(extra, "h", json_stringn(hit, hitlen));
    if (key)
        json_object_set_new(extra, "hk", json_stringn(key, keylen));
    emit_input(c, 0, make_group(c, 0, event_lookup, ev), NULL, t_ms, source_json(src), 0, extra,
               out);
    return 1;
}

/* A hit of correlation inner (group values by name in group) as an event
 * of u: the ref it is (or (size_t)-1: u does not list inner), its group
 * values and counted value (new references). */
static size_t chain_input(const struct kta_corrdef *u, size_t inner, const json_t *group,
                          json_t **ug, json_t **uv)
{
    for (size_t k = 0; k < u->nrefs; k++) {
        if (!u->refs[k].is_corr || u->refs[k].index != inner)
            continue;
        *ug = json_array();
        for (size_t gi = 0; gi < u->ngroup; gi++) {
            const char *f = u->field_of[gi * u->nrefs + k] ? u->field_of[gi * u->nrefs + k]
                                                             : u->group[gi];

            json_array_append_new(*ug, group_value(json_object_get(group, f)));
        }
        *uv = u->field ? group_value(json_object_get(group, u->field)) : NULL;
        return k;
    }
    return (size_t)-1;
}

size_t kta_corr_key_hit(const struct kta_ruleset *rs, const struct kta_corr_hit *h,
                        struct kta_buf *out)
{
    size_t n, sent = 0;
    const size_t *up = kta_ruleset_corr_corrs(rs, h->c->index, &n);

    for (size_t i = 0; up && i < n; i++) {
        const struct kta_corrdef *u = kta_ruleset_corr(rs, up[i]);
        json_t *ug, *uv;
        size_t k = chain_input(u, h->c->index, h->group, &ug, &uv);

        if (k == (size_t)-1)
            continue;
        emit_input(u, k, ug, uv, h->last_ms, json_incref((json_t *)h->source), 1, NULL, out);
        sent++;
    }
    return sent;
}

/* ---- owning --------------------------------------------------------------- */

struct cevent {
    int64_t  t;
    size_t   k;          /* which of the correlation's refs */
    char    *value;      /* value_count: JSON text; else NULL */
    json_t  *source;
};

struct group {
    size_t         corr;
    char          *key;         /* the group values, JSON array text */
    json_t        *values;      /* the same, decoded */
    struct cevent *ev;          /* sorted by time */
    size_t         n, cap;
    int64_t        quiet_until; /* INT64_MIN: not quiet */
    int64_t        last_t;      /* newest time applied (eviction order) */
    size_t         hpos;        /* its place in cs->heap */
    uint64_t       seq;         /* creation order */
    int            pin;         /* emitting: not to be evicted */
    int            untimed;     /* an input without time applied: no times to report */
    int64_t        in_seq;      /* newest input seq applied here; -1: none */
    int64_t        shown;       /* suppression: time of the last hit let through;
                                 * INT64_MIN: none */
    uint64_t       held;        /* suppression: hits held back since */
    size_t         dirty;       /* 1 + its entry in cs->chg; 0: unchanged */
    struct group  *next;        /* hash chain */
    struct group  *prev_all, *next_all;   /* creation order */
};

struct srctime {
    char   *key;
    int64_t newest;
    size_t  dirty;       /* as in struct group */
};

/* One change since the last kta_corr_changes: a group (g), a source's
 * newest time (src), or a tombstone (key of a group that is gone). */
struct change {
    struct group *g;
    size_t        src;   /* 1 + index into cs->src; 0: not a source */
    char         *key;   /* tombstone */
};

struct kta_corr {
    const struct kta_ruleset *rs;
    struct kta_corr_opts      o;
    struct group            **buckets;
    size_t                    nbuckets, ngroups;
    struct group             *first, *last;
    uint64_t                  seq;
    struct srctime           *src;
    size_t                    nsrc;
    struct change            *chg;      /* the dirty list, in change order */
    size_t                    nchg, capchg;
    struct kta_corr_stats     st;
    int64_t                   upper_end; /* no open lt/lte window ends before (a lower
                                          * bound); INT64_MIN: unknown */
    struct group            **heap;     /* every group, idlest (last_t, seq) first */
    size_t                    capheap;
};

/* ---- the eviction order: a binary min-heap of the groups ------------------- */

static int idler(const struct group *a, const struct group *b)
{
    return a->last_t < b->last_t || (a->last_t == b->last_t && a->seq < b->seq);
}

static void heap_set(struct kta_corr *cs, size_t i, struct group *g)
{
    cs->heap[i] = g;
    g->hpos = i;
}

static void heap_up(struct kta_corr *cs, size_t i)
{
    struct group *g = cs->heap[i];

    for (; i > 0 && idler(g, cs->heap[(i - 1) / 2]); i = (i - 1) / 2)
        heap_set(cs, i, cs->heap[(i - 1) / 2]);
    heap_set(cs, i, g);
}

/* n: the heap's size (cs->ngroups while groups are linked). */
static void heap_down(struct kta_corr *cs, size_t i, size_t n)
{
    struct group *g = cs->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= n)
            break;
        if (c + 1 < n && idler(cs->heap[c + 1], cs->heap[c]))
            c++;
        if (!idler(cs->heap[c], g))
            break;
        heap_set(cs, i, cs->heap[c]);
        i = c;
    }
    heap_set(cs, i, g);
}

/* g's last_t grew: it moves away from the top. */
static void group_touched(struct kta_corr *cs, struct group *g, int64_t t)
{
    if (t <= g->last_t)
        return;
    g->last_t = t;
    heap_down(cs, g->hpos, cs->ngroups);
}

static uint64_t hash_key(size_t corr, const char *key)
{
    uint64_t h = 1469598103934665603ull ^ corr;

    for (; *key; key++)
        h = (h ^ (unsigned char)*key) * 1099511628211ull;
    return h;
}

struct kta_corr *kta_corr_new(const struct kta_ruleset *rs, const struct kta_corr_opts *opts)
{
    struct kta_corr *cs = xcalloc(1, sizeof(*cs));

    cs->rs = rs;
    if (opts)
        cs->o = *opts;
    if (!cs->o.max_groups)
        cs->o.max_groups = 100000;
    if (!cs->o.max_events)
        cs->o.max_events = 10000;
    if (!cs->o.max_sources)
        cs->o.max_sources = 10;
    if (cs->o.grace_ms < 0)
        cs->o.grace_ms = 0;
    cs->nbuckets = 1024;
    cs->buckets = xcalloc(cs->nbuckets, sizeof(*cs->buckets));
    cs->upper_end = INT64_MAX;   /* no window yet */
    return cs;
}

static void events_clear(struct group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->ev[i].value);
        json_decref(g->ev[i].source);
    }
    g->n = 0;
}

static void group_unlink(struct kta_corr *cs, struct group *g)
{
    struct group **pp = &cs->buckets[hash_key(g->corr, g->key) & (cs->nbuckets - 1)];

    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    if (g->prev_all)
        g->prev_all->next_all = g->next_all;
    else
        cs->first = g->next_all;
    if (g->next_all)
        g->next_all->prev_all = g->prev_all;
    else
        cs->last = g->prev_all;
    cs->ngroups--;
    if (g->hpos != cs->ngroups) {   /* the last one takes its place */
        struct group *m = cs->heap[cs->ngroups];

        heap_set(cs, g->hpos, m);
        if (m->hpos > 0 && idler(m, cs->heap[(m->hpos - 1) / 2]))
            heap_up(cs, m->hpos);
        else
            heap_down(cs, m->hpos, cs->ngroups);
    }
}

static void group_free(struct group *g)
{
    events_clear(g);
    free(g->ev);
    free(g->key);
    json_decref(g->values);
    free(g);
}

/* ---- the dirty list ------------------------------------------------------ */

static struct change *change_add(struct kta_corr *cs)
{
    if (cs->nchg == cs->capchg) {
        cs->capchg = cs->capchg ? cs->capchg * 2 : 64;
        cs->chg = xrealloc(cs->chg, cs->capchg * sizeof(*cs->chg));
    }
    memset(&cs->chg[cs->nchg], 0, sizeof(*cs->chg));
    return &cs->chg[cs->nchg++];
}

static void group_dirty(struct kta_corr *cs, struct group *g)
{
    if (!g->dirty) {
        change_add(cs)->g = g;
        g->dirty = cs->nchg;
    }
}

static void src_dirty(struct kta_corr *cs, size_t i)
{
    if (!cs->src[i].dirty) {
        change_add(cs)->src = i + 1;
        cs->src[i].dirty = cs->nchg;
    }
}

/* A group's changelog key: ["<correlation id>",<group values>], compact. */
static char *group_clkey(const struct kta_corr *cs, const struct group *g)
{
    const char *id = kta_ruleset_corr(cs->rs, g->corr)->id;
    json_t *idj = json_string(id);
    char *ids = json_dumps(idj, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    size_t n = strlen(ids) + strlen(g->key) + 4;
    char *k = xmalloc(n);

    snprintf(k, n, "[%s,%s]", ids, g->key);
    free(ids);
    json_decref(idj);
    return k;
}

/* Removes g; tomb: a tombstone goes into the dirty list. */
static void group_drop(struct kta_corr *cs, struct group *g, int tomb)
{
    struct change *ch = NULL;

    if (g->dirty) {
        ch = &cs->chg[g->dirty - 1];
        ch->g = NULL;
    } else if (tomb) {
        ch = change_add(cs);
    }
    if (ch && tomb)
        ch->key = group_clkey(cs, g);
    group_unlink(cs, g);
    group_free(g);
}

void kta_corr_free(struct kta_corr *cs)
{
    if (!cs)
        return;
    for (struct group *g = cs->first, *n; g; g = n) {
        n = g->next_all;
        group_free(g);
    }
    free(cs->buckets);
    free(cs->heap);
    for (size_t i = 0; i < cs->nsrc; i++)
        free(cs->src[i].key);
    free(cs->src);
    for (size_t i = 0; i < cs->nchg; i++)
        free(cs->chg[i].key);
    free(cs->chg);
    free(cs);
}

void kta_corr_get_stats(const struct kta_corr *cs, struct kta_corr_stats *st)
{
    *st = cs->st;
    st->groups = cs->ngroups;
}

static void rehash(struct kta_corr *cs)
{
    size_t nb = cs->nbuckets * 2;
    struct group **b = xcalloc(nb, sizeof(*b));

    for (struct group *g = cs->first; g; g = g->next_all) {
        size_t i = hash_key(g->corr, g->key) & (nb - 1);

        g->next = b[i];
        b[i] = g;
    }
    free(cs->buckets);
    cs->buckets = b;
    cs->nbuckets = nb;
}

static struct group *group_find(const struct kta_corr *cs, size_t corr, const char *key)
{
    struct group *g = cs->buckets[hash_key(corr, key) & (cs->nbuckets - 1)];

    while (g && (g->corr != corr || strcmp(g->key, key) != 0))
        g = g->next;
    return g;
}

static struct group *group_get(struct kta_corr *cs, size_t corr, const char *key,
                               const json_t *values)
{
    size_t i;
    struct group *g = group_find(cs, corr, key);

    if (g)
        return g;
    if (cs->ngroups >= cs->o.max_groups) {
        /* Evict the group that has been idle longest (oldest newest time,
         * then oldest creation): the heap's top, unless it is emitting
         * (rare: then the idlest of the others, by a scan). */
        struct group *old = cs->ngroups ? cs->heap[0] : NULL;

        if (old && old->pin) {
            old = NULL;
            for (g = cs->first; g; g = g->next_all)
                if (!g->pin && (!old || idler(g, old)))
                    old = g;
        }
        if (old) {
            group_drop(cs, old, 1);
            cs->st.evicted++;
        }
    }
    if (cs->ngroups + 1 > cs->nbuckets)
        rehash(cs);
    g = xcalloc(1, sizeof(*g));
    g->corr = corr;
    g->key = xstrdup(key);
    g->values = json_deep_copy(values);
    g->quiet_until = INT64_MIN;
    g->last_t = INT64_MIN;
    g->in_seq = -1;
    g->shown = INT64_MIN;
    g->seq = cs->seq++;
    i = hash_key(corr, key) & (cs->nbuckets - 1);
    g->next = cs->buckets[i];
    cs->buckets[i] = g;
    g->prev_all = cs->last;
    if (cs->last)
        cs->last->next_all = g;
    else
        cs->first = g;
    cs->last = g;
    if (cs->ngroups == cs->capheap) {
        cs->capheap = cs->capheap ? 2 * cs->capheap : 64;
        cs->heap = xrealloc(cs->heap, cs->capheap * sizeof(*cs->heap));
    }
    heap_set(cs, cs->ngroups, g);
    cs->ngroups++;
    heap_up(cs, g->hpos);
    return g;
}

static int cond_holds(const struct kta_corrdef *c, double x)
{
    for (size_t i = 0; i < c->nops; i++) {
        double v = c->vals[i];
        int ok;

        switch (c->ops[i]) {
        case KTA_CO_GT:  ok = x > v; break;
        case KTA_CO_GTE: ok = x >= v; break;
        case KTA_CO_LT:  ok = x < v; break;
        case KTA_CO_LTE: ok = x <= v; break;
        case KTA_CO_EQ:  ok = x == v; break;
        default:         ok = x != v; break;
        }
        if (!ok)
            return 0;
    }
    return 1;
}

/* Distinct values of events [from, g->n) into arr (may be NULL). */
static size_t distinct(const struct group *g, size_t from, json_t *arr)
{
    size_t n = 0;

    for (size_t i = from; i < g->n; i++) {
        size_t j;

        if (!g->ev[i].value)
            continue;
        for (j = from; j < i; j++)
            if (g->ev[j].value && strcmp(g->ev[j].value, g->ev[i].value) == 0)
                break;
        if (j < i)
            continue;
        n++;
        if (arr)
            json_array_append_new(arr, json_loads(g->ev[i].value, JSON_DECODE_ANY, NULL));
    }
    return n;
}

/* The sum of the numbers among the values of events [from, g->n) (JSON
 * numbers, or strings that are wholly one), and in *n how many. */
static double numbers(const struct group *g, size_t from, uint64_t *n)
{
    double sum = 0;

    *n = 0;
    for (size_t i = from; i < g->n; i++) {
        const char *s = g->ev[i].value;
        char *end;
        double x;

        if (!s)
            continue;
        if (*s == '"')
            s++;
        if (!*s || strchr(" \t\n", *s))
            continue;
        x = strtod(s, &end);
        if (end == s || !(*end == '\0' || (*end == '"' && end[1] == '\0' && *g->ev[i].value == '"'))
            || x != x || x - x != 0)
            continue;
        sum += x;
        (*n)++;
    }
    return sum;
}

/* Does the window [from, g->n) satisfy c?  *count: what the hit reports. */
static int window_holds(const struct kta_corrdef *c, const struct group *g, size_t from,
                        uint64_t *count)
{
    size_t i, k;

    switch (c->type) {
    case KTA_CORR_EVENT_COUNT:
        *count = g->n - from;
        return cond_holds(c, (double)*count);
    case KTA_CORR_VALUE_COUNT:
        *count = distinct(g, from, NULL);
        return cond_holds(c, (double)*count);
    case KTA_CORR_VALUE_SUM:
    case KTA_CORR_VALUE_AVG: {
        double sum = numbers(g, from, count);

        if (!*count)
            return 0;   /* no number: no sum, no average */
        return cond_holds(c, c->type == KTA_CORR_VALUE_SUM ? sum : sum / (double)*count);
    }
    case KTA_CORR_TEMPORAL:
        *count = g->n - from;
        for (k = 0; k < c->nrefs; k++) {
            for (i = from; i < g->n; i++)
                if (g->ev[i].k == k)
                    break;
            if (i == g->n)
                return 0;
        }
        return 1;
    default:   /* temporal_ordered: the rules' first matches in the order listed */
        *count = g->n - from;
        for (i = from, k = 0; i < g->n && k < c->nrefs; i++)
            if (g->ev[i].k == k)
                k++;
        return k == c->nrefs;
    }
}

static void apply_input(struct kta_corr *cs, size_t corr, size_t k, const json_t *group,
                        int64_t t, const json_t *value, const json_t *source, int64_t seq,
                        kta_corr_hit_fn *fn, void *opaque);

/* Emits a hit of g over events [from, g->n), then feeds it to the
 * correlations that refer to g's correlation. */
static void emit(struct kta_corr *cs, struct group *g, size_t from, uint64_t count,
                 const json_t *source, kta_corr_hit_fn *fn, void *opaque)
{
    const struct kta_corrdef *c = kta_ruleset_corr(cs->rs, g->corr);
    json_t *obj = json_object(), *sources = json_array(), *values = NULL, *src;
    struct kta_corr_hit h = { .c = c, .count = count };
    size_t i, n = 0;
    const size_t *up;

    for (i = 0; i < c->ngroup; i++)
        json_object_set(obj, c->group[i], json_array_get(g->values, i));
    if (c->type == KTA_CORR_VALUE_COUNT) {
        values = json_array();
        distinct(g, from, values);
    } else if (c->type == KTA_CORR_VALUE_SUM || c->type == KTA_CORR_VALUE_AVG) {
        uint64_t nums;
        double sum = numbers(g, from, &nums);

        h.value = c->type == KTA_CORR_VALUE_SUM || !nums ? sum : sum / (double)nums;
    }
    for (i = from; i < g->n && i - from < cs->o.max_sources; i++)
        json_array_append(sources, g->ev[i].source);
    src = json_incref((json_t *)source);
    h.group = obj;
    h.values = values;
    h.first_ms = g->untimed ? -1 : g->ev[from].t;
    h.last_ms = g->untimed ? -1 : g->ev[g->n - 1].t;
    h.sources = sources;
    h.nsources = g->n - from;
    h.source = src;
    cs->st.hits++;
    g->pin++;
    if (fn)
        fn(opaque, &h);
    /* Chained correlations: the hit is an event of theirs, at its last
     * time, with the group values by name; here, or where the caller
     * sends kta_corr_key_hit's inputs. */
    up = cs->o.remote_chains ? NULL : kta_ruleset_corr_corrs(cs->rs, g->corr, &n);
    for (i = 0; up && i < n; i++) {
        json_t *ug, *uv;
        size_t k = chain_input(kta_ruleset_corr(cs->rs, up[i]), g->corr, obj, &ug, &uv);

        if (k == (size_t)-1)
            continue;
        apply_input(cs, up[i], k, ug, h.last_ms, uv, src, -1, fn, opaque);
        json_decref(ug);
        json_decref(uv);
    }
    g->pin--;
    json_decref(src);
    json_decref(obj);
    json_decref(sources);
    json_decref(values);
}

/* Closes g's window (lt/lte conditions): a hit when it holds. */
static void close_window(struct kta_corr *cs, struct group *g, kta_corr_hit_fn *fn,
                         void *opaque)
{
    const struct kta_corrdef *c = kta_ruleset_corr(cs->rs, g->corr);
    uint64_t count;

    group_dirty(cs, g);
    if (g->n && window_holds(c, g, 0, &count))
        emit(cs, g, 0, count, g->ev[g->n - 1].source, fn, opaque);
    events_clear(g);
}

/* The index of the source time keyed key ("t:topic:partition" or
 * "f:file") in cs->src; when there is none, add ? a new one : (size_t)-1. */
static size_t src_find(struct kta_corr *cs, const char *key, int add)
{
    for (size_t i = 0; i < cs->nsrc; i++)
        if (strcmp(cs->src[i].key, key) == 0)
            return i;
    if (!add)
        return (size_t)-1;
    cs->src = xrealloc(cs->src, (cs->nsrc + 1) * sizeof(*cs->src));
    cs->src[cs->nsrc].key = xstrdup(key);
    cs->src[cs->nsrc].newest = INT64_MIN;
    cs->src[cs->nsrc].dirty = 0;
    return cs->nsrc++;
}

/* The index of source's partition or file in cs->src (added when new). */
static size_t src_index(struct kta_corr *cs, const json_t *source)
{
    char key[512];
    const char *topic = json_string_value(json_object_get(source, "topic"));

    if (topic)
        snprintf(key, sizeof(key), "t:%s:%lld", topic,
                 (long long)json_integer_value(json_object_get(source, "partition")));
    else
        snprintf(key, sizeof(key), "f:%s",
                 json_string_value(json_object_get(source, "file")) ?
                 json_string_value(json_object_get(source, "file")) : "-");
    return src_find(cs, key, 1);
}

static void apply_input(struct kta_corr *cs, size_t corr, size_t k, const json_t *group,
                        int64_t t, const json_t *value, const json_t *source, int64_t seq,
                        kta_corr_hit_fn *fn, void *opaque)
{
    const struct kta_corrdef *c = kta_ruleset_corr(cs->rs, corr);
    char *key = json_dumps(group, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    struct group *g = group_get(cs, corr, key, group);
    int timed = t >= 0;
    size_t pos, from;
    uint64_t count;

    free(key);
    group_dirty(cs, g);
    if (seq >= 0)
        g->in_seq = seq;
    cs->st.events++;
    if (!timed) {
        cs->st.notime++;
        g->untimed = 1;
        t = 0;     /* no time: one window over the whole input */
    }
    if (timed && t <= g->quiet_until) {
        cs->st.quiet++;
        return;
    }
    if (c->upper && g->n && t - g->ev[0].t > c->timespan_ms)
        close_window(cs, g, fn, opaque);
    /* One event matched by several of the correlation's rules counts once
     * (temporal types: once per rule). */
    for (pos = g->n; pos > 0 && g->ev[pos - 1].t == t; pos--) {
        const struct cevent *o = &g->ev[pos - 1];

        if ((o->k == k || (c->type != KTA_CORR_TEMPORAL &&
                           c->type != KTA_CORR_TEMPORAL_ORDERED)) &&
            json_equal(o->source, source))
            return;
    }
    if (g->n == cs->o.max_events) {
        free(g->ev[0].value);
        json_decref(g->ev[0].source);
        memmove(g->ev, g->ev + 1, (g->n - 1) * sizeof(*g->ev));
        g->n--;
        cs->st.dropped++;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 8;
        if (g->cap > cs->o.max_events)
            g->cap = cs->o.max_events;
        g->ev = xrealloc(g->ev, g->cap * sizeof(*g->ev));
    }
    /* In time order; equal times keep arrival order. */
    for (pos = g->n; pos > 0 && g->ev[pos - 1].t > t; pos--)
        ;
    memmove(g->ev + pos + 1, g->ev + pos, (g->n - pos) * sizeof(*g->ev));
    g->ev[pos].t = t;
    g->ev[pos].k = k;
    g->ev[pos].value = value && !json_is_null(value) ?
                       json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY) : NULL;
    g->ev[pos].source = json_incref((json_t *)source);
    g->n++;
    group_touched(cs, g, t);
    if (c->upper) {
        if (timed && cs->upper_end != INT64_MIN && g->ev[0].t + c->timespan_ms < cs->upper_end)
            cs->upper_end = g->ev[0].t + c->timespan_ms;
        return;     /* decided when the window closes */
    }
    /* Sliding window: the events within timespan of the newest (a pair
     * exactly timespan apart is inside). */
    {
        int64_t newest = g->ev[g->n - 1].t;

        for (from = 0; from < g->n && newest - g->ev[from].t > c->timespan_ms; from++)
            ;
        /* Events that fell out of every future window are forgotten. */
        for (size_t i = 0; i < from; i++) {
            free(g->ev[i].value);
            json_decref(g->ev[i].source);
        }
        memmove(g->ev, g->ev + from, (g->n - from) * sizeof(*g->ev));
        g->n -= from;
    }
    if (window_holds(c, g, 0, &count)) {
        int64_t start = g->ev[0].t;

        emit(cs, g, 0, count, source, fn, opaque);
        events_clear(g);
        if (timed)
            g->quiet_until = start + c->timespan_ms;
    }
}

/* A hit of a rule with `suppress` (its input in): let through, carrying
 * the number held back since the last one, unless its event time is
 * before the group's last hit let through plus `for` (older hits, come
 * late from another partition, are held too: hits are let through at
 * least `for` apart whatever order they arrive in).  A hit without time
 * is never held.  Never late: a hit is produced or counted. */
static int apply_suppress(struct kta_corr *cs, const struct kta_corrdef *c, const json_t *gv,
                          int64_t t, const json_t *in, int64_t seq, kta_corr_hit_fn *fn,
                          void *opaque)
{
    const json_t *hit = json_object_get(in, "h"), *hk = json_object_get(in, "hk");
    const json_t *source = json_object_get(in, "s");
    char *key;
    struct group *g;
    json_t *obj, *sources;

    if (!json_is_string(hit) || (hk && !json_is_string(hk))) {
        cs->st.bad++;
        return -1;
    }
    key = json_dumps(gv, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    g = group_get(cs, c->index, key, gv);
    free(key);
    group_dirty(cs, g);
    if (seq >= 0)
        g->in_seq = seq;
    cs->st.events++;
    if (t < 0) {
        cs->st.notime++;
        g->untimed = 1;
    } else {
        group_touched(cs, g, t);
        if (g->shown != INT64_MIN && t < g->shown + c->timespan_ms) {
            g->held++;
            cs->st.suppressed++;
            return 0;
        }
    }
    obj = json_object();
    for (size_t i = 0; i < c->ngroup; i++)
        json_object_set(obj, c->group[i], json_array_get(g->values, i));
    sources = json_array();
    json_array_append(sources, (json_t *)source);
    {
        struct kta_corr_hit h = {
            .c = c, .group = obj, .count = g->held, .first_ms = t, .last_ms = t,
            .sources = sources, .nsources = 1, .source = source,
            .hit = json_string_value(hit), .hitlen = json_string_length(hit),
            .hkey = hk ? json_string_value(hk) : NULL, .hklen = hk ? json_string_length(hk) : 0,
        };

        g->held = 0;
        if (t >= 0)
            g->shown = t;   /* at least shown + for: the window moves on */
        g->pin++;
        if (fn)
            fn(opaque, &h);
        g->pin--;
    }
    json_decref(obj);
    json_decref(sources);
    return 0;
}

int kta_corr_apply(struct kta_corr *cs, const char *input, size_t len,
                   kta_corr_hit_fn *fn, void *opaque)
{
    return kta_corr_apply_seq(cs, input, len, -1, fn, opaque);
}

int kta_corr_apply_seq(struct kta_corr *cs, const char *input, size_t len, int64_t seq,
                       kta_corr_hit_fn *fn, void *opaque)
{
    json_t *in = json_loadb(input, len, 0, NULL);
    const json_t *g, *s, *t, *ci, *k;
    const struct kta_corrdef *c;
    int64_t tm, *newest;
    size_t si;

    g = json_object_get(in, "g");
    s = json_object_get(in, "s");
    t = json_object_get(in, "t");
    ci = json_object_get(in, "ci");
    k = json_object_get(in, "k");
    if (!json_is_array(g) || !json_is_object(s) || !json_is_integer(t) ||
        !json_is_integer(ci) || !json_is_integer(k) ||
        !(c = kta_ruleset_corr(cs->rs, (size_t)json_integer_value(ci))) ||
        json_array_size(g) != c->ngroup || (size_t)json_integer_value(k) >= c->nrefs ||
        strcmp(json_string_value(json_object_get(in, "c")) ?
               json_string_value(json_object_get(in, "c")) : "", c->id) != 0) {
        cs->st.bad++;
        json_decref(in);
        return -1;
    }
    if (seq >= 0) {
        char *key = json_dumps(g, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
        struct group *gr = group_find(cs, c->index, key);

        free(key);
        if (gr && seq <= gr->in_seq) {
            cs->st.replayed++;
            json_decref(in);
            return 0;
        }
    }
    tm = json_integer_value(t);
    if (c->type == KTA_CORR_SUPPRESS) {
        int rc = apply_suppress(cs, c, g, tm, in, seq, fn, opaque);

        json_decref(in);
        return rc;
    }
    /* A derived input (a correlation hit, kta_corr_key_hit) was judged
     * late or not as the events that made it; its time is its window's
     * last, behind the newest of its partition by design. */
    if (tm >= 0 && !json_is_true(json_object_get(in, "d"))) {
        si = src_index(cs, s);
        newest = &cs->src[si].newest;
        if (*newest != INT64_MIN && tm < *newest - cs->o.grace_ms) {
            cs->st.events++;
            cs->st.late++;
            json_decref(in);
            return 0;
        }
        if (tm > *newest) {
            *newest = tm;
            src_dirty(cs, si);
        }
    }
    apply_input(cs, c->index, (size_t)json_integer_value(k), g, tm, json_object_get(in, "v"),
                s, seq, fn, opaque);
    json_decref(in);
    return 0;
}

int64_t kta_corr_close_passed(struct kta_corr *cs, kta_corr_hit_fn *fn, void *opaque)
{
    int64_t newest = INT64_MIN, t;

    for (size_t i = 0; i < cs->nsrc; i++)
        if (cs->src[i].newest > newest)
            newest = cs->src[i].newest;
    if (newest == INT64_MIN)
        return -1;
    t = newest - (cs->o.grace_ms > 0 ? cs->o.grace_ms : 0);
    if (cs->upper_end != INT64_MIN && t <= cs->upper_end)
        return t;   /* no window ends before t: no scan */
    cs->upper_end = INT64_MAX;
    /* As kta_corr_flush: a close may chain into groups at the end. */
    for (struct group *g = cs->first; g; g = g->next_all) {
        const struct kta_corrdef *c = kta_ruleset_corr(cs->rs, g->corr);

        if (!c->upper || !g->n || g->untimed)
            continue;
        if (t - g->ev[0].t > c->timespan_ms)
            close_window(cs, g, fn, opaque);
        else if (g->ev[0].t + c->timespan_ms < cs->upper_end)
            cs->upper_end = g->ev[0].t + c->timespan_ms;
    }
    return t;
}

void kta_corr_flush(struct kta_corr *cs, kta_corr_hit_fn *fn, void *opaque)
{
    /* Closing may chain into other groups (possibly new ones, at the end
     * of the list): walk until no group has an open upper window. */
    for (struct group *g = cs->first; g; g = g->next_all) {
        const struct kta_corrdef *c = kta_ruleset_corr(cs->rs, g->corr);

        if (c->upper && g->n)
            close_window(cs, g, fn, opaque);
    }
}

/* ---- changelog ------------------------------------------------------------ */

#define CL_VERSION 1

static json_t *time_json(int64_t t)
{
    return t == INT64_MIN ? json_null() : json_integer(t);
}

static json_t *group_state(const struct kta_corr *cs, const struct group *g)
{
    json_t *e = json_array();

    for (size_t i = 0; i < g->n; i++) {
        const struct cevent *ev = &g->ev[i];

        json_array_append_new(e, json_pack("[I,I,o,O]", (json_int_t)ev->t, (json_int_t)ev->k,
                                           ev->value ? json_loads(ev->value, JSON_DECODE_ANY,
                                                                  NULL) : json_null(),
                                           ev->source));
    }
    json_t *st = json_pack("{s:i,s:s,s:O,s:o,s:o,s:I,s:o}", "v", CL_VERSION, "c",
                           kta_ruleset_corr(cs->rs, g->corr)->id, "g", g->values,
                           "q", time_json(g->quiet_until), "l", time_json(g->last_t),
                           "n", (json_int_t)g->in_seq, "e", e);

    if (kta_ruleset_corr(cs->rs, g->corr)->type == KTA_CORR_SUPPRESS) {
        json_object_set_new(st, "p", time_json(g->shown));
        json_object_set_new(st, "h", json_integer((json_int_t)g->held));
    }
    return st;
}

static void put_json(kta_corr_change_fn *fn, void *opaque, const char *key, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII);

    fn(opaque, key, strlen(key), text, strlen(text));
    free(text);
    json_decref(v);
}

/* A source time's changelog key: {"src":"<its key>"}. */
static char *src_clkey(const char *key)
{
    json_t *k = json_pack("{s:s}", "src", key);
    char *text = json_dumps(k, JSON_COMPACT | JSON_ENSURE_ASCII);

    json_decref(k);
    return text;
}

void kta_corr_changes(struct kta_corr *cs, kta_corr_change_fn *fn, void *opaque)
{
    for (size_t i = 0; i < cs->nchg; i++) {
        struct change *ch = &cs->chg[i];
        char *key;

        if (ch->g) {
            key = group_clkey(cs, ch->g);
            put_json(fn, opaque, key, group_state(cs, ch->g));
            ch->g->dirty = 0;
        } else if (ch->src) {
            struct srctime *s = &cs->src[ch->src - 1];

            key = src_clkey(s->key);
            put_json(fn, opaque, key, json_pack("{s:i,s:I}", "v", CL_VERSION, "newest",
                                                (json_int_t)s->newest));
            s->dirty = 0;
        } else if (ch->key) {
            key = ch->key;
            ch->key = NULL;
            fn(opaque, key, strlen(key), NULL, 0);
        } else {
            continue;   /* a group created and dropped unseen */
        }
        free(key);
    }
    cs->nchg = 0;
}

/* The correlation named by id (a JSON string), or NULL. */
static const struct kta_corrdef *corr_by_id(const struct kta_corr *cs, const json_t *id)
{
    for (size_t i = 0; json_is_string(id) && i < kta_ruleset_ncorr(cs->rs); i++)
        if (strcmp(kta_ruleset_corr(cs->rs, i)->id, json_string_value(id)) == 0)
            return kta_ruleset_corr(cs->rs, i);
    return NULL;
}

static int restore_time(const json_t *v, int64_t *out)
{
    if (json_is_null(v))
        *out = INT64_MIN;
    else if (json_is_integer(v))
        *out = json_integer_value(v);
    else
        return -1;
    return 0;
}

/* Does e (a state's "e") hold valid events of c, in time order? */
static int events_ok(const struct kta_corrdef *c, const json_t *e)
{
    size_t i;
    const json_t *x;
    int64_t prev = INT64_MIN;

    if (!json_is_array(e))
        return 0;
    json_array_foreach(e, i, x) {
        const json_t *t = json_array_get(x, 0), *k = json_array_get(x, 1);

        if (json_array_size(x) != 4 || !json_is_integer(t) || json_integer_value(t) < prev ||
            !json_is_integer(k) || json_integer_value(k) < 0 ||
            (size_t)json_integer_value(k) >= c->nrefs || !json_is_object(json_array_get(x, 3)))
            return 0;
        prev = json_integer_value(t);
    }
    return 1;
}

static int restore_src(struct kta_corr *cs, const json_t *key, const json_t *state)
{
    const char *sk = json_string_value(json_object_get(key, "src"));
    const json_t *nw = json_object_get(state, "newest");
    size_t i;

    if (!sk || json_object_size(key) != 1)
        return -1;
    if (!state) {
        i = src_find(cs, sk, 0);
        if (i != (size_t)-1)
            cs->src[i].newest = INT64_MIN;
        return 0;
    }
    if (!json_is_integer(nw))
        return -1;
    i = src_find(cs, sk, 1);    /* may move cs->src */
    cs->src[i].newest = json_integer_value(nw);
    return 0;
}

static int restore_group(struct kta_corr *cs, const json_t *key, const json_t *state)
{
    const struct kta_corrdef *c = corr_by_id(cs, json_array_get(key, 0));
    const json_t *gv = json_array_get(key, 1), *e = json_object_get(state, "e"), *x;
    int64_t q, l, shown = INT64_MIN;
    struct group *g;
    char *gk;
    size_t i, from;

    if (!c || json_array_size(key) != 2 || !json_is_array(gv) ||
        json_array_size(gv) != c->ngroup)
        return -1;
    if (state && (!json_equal(json_object_get(state, "c"), json_array_get(key, 0)) ||
                  !json_equal(json_object_get(state, "g"), gv) ||
                  restore_time(json_object_get(state, "q"), &q) ||
                  restore_time(json_object_get(state, "l"), &l) ||
                  !json_is_integer(json_object_get(state, "n")) || !events_ok(c, e) ||
                  (c->type == KTA_CORR_SUPPRESS &&
                   (restore_time(json_object_get(state, "p"), &shown) ||
                    !json_is_integer(json_object_get(state, "h")) ||
                    json_integer_value(json_object_get(state, "h")) < 0))))
        return -1;
    gk = json_dumps(gv, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    g = group_find(cs, c->index, gk);
    if (g)
        group_drop(cs, g, 0);   /* a later record of the key replaces it */
    if (state) {
        g = group_get(cs, c->index, gk, gv);
        g->quiet_until = q;
        g->shown = shown;
        if (c->type == KTA_CORR_SUPPRESS)
            g->held = (uint64_t)json_integer_value(json_object_get(state, "h"));
        group_touched(cs, g, l);
        g->in_seq = json_integer_value(json_object_get(state, "n"));
        from = json_array_size(e) > cs->o.max_events ? json_array_size(e) - cs->o.max_events : 0;
        cs->st.dropped += from;
        g->cap = json_array_size(e) - from;
        g->ev = g->cap ? xcalloc(g->cap, sizeof(*g->ev)) : NULL;
        json_array_foreach(e, i, x) {
            const json_t *v = json_array_get(x, 2);
            struct cevent *ev;

            if (i < from)
                continue;
            ev = &g->ev[g->n++];
            ev->t = json_integer_value(json_array_get(x, 0));
            ev->k = (size_t)json_integer_value(json_array_get(x, 1));
            ev->value = json_is_null(v) ? NULL
                        : json_dumps(v, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
            ev->source = json_incref(json_array_get(x, 3));
        }
    }
    free(gk);
    return 0;
}

int kta_corr_restore(struct kta_corr *cs, const char *key, size_t klen, const char *value,
                     size_t vlen)
{
    json_t *k = json_loadb(key, klen, 0, NULL), *v = NULL;
    int rc = -1;

    cs->upper_end = INT64_MIN;   /* restored windows: the next close scans */
    if (value) {
        v = json_loadb(value, vlen, 0, NULL);
        if (!json_is_object(v) || json_integer_value(json_object_get(v, "v")) != CL_VERSION ||
            !json_is_integer(json_object_get(v, "v")))
            goto out;
    }
    if (json_is_object(k))
        rc = restore_src(cs, k, v);
    else if (json_is_array(k))
        rc = restore_group(cs, k, v);
out:
    if (rc)
        cs->st.bad++;
    json_decref(k);
    json_decref(v);
    return rc;
}
