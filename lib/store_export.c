// SPDX-License-Identifier: MIT
/*
 * The export's reads: the rows of a window (by time or by seq) in time
 * order without sorting the window, each sensor's description with its
 * per-quality counts in the window, and the window's events.
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/*
 * The export query, with one placeholder per sensor tag. CROSS JOIN keeps
 * readings the outer loop, walked along readings_ts: rows come in time
 * order as they are read, and SQLite sorts only each run of equal times
 * by tag and seq, so memory does not grow with the window.
 */
static char *store_export_sql(size_t nsensors, int64_t version, bool by_seq)
{
    /* before schema 4, every row is its tag's version 1 */
    const char *head =
        version >= 4
            ? "SELECT r.seq, r.ts_us, s.tag, s.kind, r.value, s.unit, "
              "r.quality,"
              " r.error, s.version FROM readings AS r CROSS JOIN sensors AS s"
              " ON s.id = r.sensor_id WHERE "
            : "SELECT r.seq, r.ts_us, s.tag, s.kind, r.value, s.unit, "
              "r.quality,"
              " r.error, 1 FROM readings AS r CROSS JOIN sensors AS s"
              " ON s.id = r.sensor_id WHERE ";
    /* by seq: a range of the primary key, sorted by time afterwards
     * (store_bind_scope(): ?1 to ?6; the tags from ?7 either way) */
    const char *where =
        by_seq ? "r.seq BETWEEN ?1 AND ?2 AND (+r.ts_us >= ?3 OR r.seq > ?5)"
                 " AND (+r.ts_us < ?4 OR r.seq <= ?6)"
               : "r.ts_us >= ?1 AND r.ts_us < ?2";
    static const char in[] = " AND s.tag IN (";
    static const char tail[] = " ORDER BY r.ts_us, s.tag, r.seq";
    /* ",?" and its number: at most 8 bytes per tag */
    size_t len =
        strlen(head) + strlen(where) + sizeof(in) + 8 * nsensors + sizeof(tail);
    char *sql = xmalloc(len);
    size_t n = 0;

    n += (size_t)snprintf(sql + n, len - n, "%s%s", head, where);
    if (nsensors) {
        n += (size_t)snprintf(sql + n, len - n, "%s", in);
        for (size_t i = 0; i < nsensors; i++)
            n += (size_t)snprintf(sql + n, len - n, "%s?%zu", i ? "," : "",
                                  i + 7);
        n += (size_t)snprintf(sql + n, len - n, ")");
    }
    snprintf(sql + n, len - n, "%s", tail);
    return sql;
}

int64_t store_export_scope(struct store *s, const struct store_scope *scope,
                           const char *const *sensors, size_t nsensors,
                           int (*fn)(const struct reading_row *, void *),
                           void *arg)
{
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    int64_t rows = 0;
    int rc;

    if (nsensors + 6 >
        (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        return store_errorf(s, "cannot export: %zu sensors are too many",
                            nsensors);
    /* One read transaction (or the caller's snapshot): one state of the
     * file, whatever the daemon commits while the rows stream out. */
    if (store_read_begin(s, "cannot export") < 0 || store_follow_upgrade(s) < 0)
        goto fail;
    sql = store_export_sql(nsensors, s->version, store_scope_by_seq(scope));
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "cannot export");
        goto fail;
    }
    store_bind_scope(st, scope);
    for (size_t i = 0; i < nsensors; i++)
        sqlite3_bind_text(st, (int)i + 7, sensors[i], -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct reading_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .ts_us = sqlite3_column_int64(st, 1),
            .sensor = store_column_text(st, 2),
            .kind = store_column_text(st, 3),
            .has_value = sqlite3_column_type(st, 4) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 4),
            .unit = store_column_text(st, 5),
            .quality = store_column_text(st, 6),
            .error = store_column_text(st, 7),
            .version = sqlite3_column_int64(st, 8),
        };

        if (fn(&row, arg) != 0) {
            store_errorf(s, "export stopped after %lld rows", (long long)rows);
            goto fail;
        }
        rows++;
    }
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot export");
        goto fail;
    }
    sqlite3_finalize(st);
    store_rollback(s);
    free(sql);
    return rows;
fail:
    sqlite3_finalize(st);
    store_rollback(s);
    free(sql);
    return -1;
}

int64_t store_export(struct store *s, int64_t from_us, int64_t to_us,
                     const char *const *sensors, size_t nsensors,
                     int (*fn)(const struct reading_row *, void *), void *arg)
{
    struct store_scope scope;

    store_window_scope(from_us, to_us, &scope);
    return store_export_scope(s, &scope, sensors, nsensors, fn, arg);
}

/* Per-quality counts of one sensor, found by id. */
struct store_counts {
    int64_t id;
    int64_t n[QUALITY_MISSED + 1]; /* by enum quality */
    int64_t first_ts, last_ts;     /* INT64_MAX, INT64_MIN if none */
};

static int store_counts_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct store_counts *)a)->id;
    int64_t y = ((const struct store_counts *)b)->id;

    return (x > y) - (x < y);
}

/* The quality of a stored name, or -1 if it is none of them. */
static int store_quality_of(const char *q)
{
    static const enum quality all[] = {QUALITY_GOOD, QUALITY_OUT_OF_RANGE,
                                       QUALITY_INVALID, QUALITY_COMM_ERROR,
                                       QUALITY_MISSED};

    for (size_t i = 0; q && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(q, quality_name(all[i])) == 0)
            return (int)all[i];
    return -1;
}

/*
 * Counts the readings of the window per sensor and quality, in one walk
 * of readings_ts: *counts is sorted by id (the caller frees it) and *n
 * its length. Inside the caller's read transaction.
 */
static int store_window_counts(struct store *s, const struct store_scope *scope,
                               struct store_counts **counts, size_t *n)
{
    sqlite3_stmt *ids = s->stmt[STMT_SENSOR_TAGS];
    sqlite3_stmt *st = s->stmt[store_scope_by_seq(scope) ? STMT_SEQ_QUALITY
                                                         : STMT_WINDOW_QUALITY];
    size_t cap = 0;
    int rc;

    *counts = NULL;
    *n = 0;
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        xgrow(counts, &cap, *n + 1, sizeof(**counts));
        memset(&(*counts)[*n], 0, sizeof(**counts));
        (*counts)[*n].first_ts = INT64_MAX;
        (*counts)[*n].last_ts = INT64_MIN;
        (*counts)[(*n)++].id = sqlite3_column_int64(ids, 0);
    }
    sqlite3_reset(ids);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensors");
    if (*n > 1)
        qsort(*counts, *n, sizeof(**counts), store_counts_cmp);
    store_bind_scope(st, scope);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_counts key = {sqlite3_column_int64(st, 0), {0}, 0, 0};
        struct store_counts *c =
            *n ? bsearch(&key, *counts, *n, sizeof(key), store_counts_cmp)
               : NULL;
        int q = store_quality_of(store_column_text(st, 1));
        int64_t ts = sqlite3_column_int64(st, 2);

        if (c && q >= 0) {
            c->n[q]++;
            if (ts < c->first_ts)
                c->first_ts = ts;
            if (ts > c->last_ts)
                c->last_ts = ts;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot count readings");
    return 0;
}

/* Whether tag is one of the n given. */
static bool store_tag_listed(const char *tag, const char *const *tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tag, tags[i]) == 0)
            return true;
    return false;
}

/* Returns 1 with a message if a given tag names no sensor, else 0/-1. */
static int store_tags_known(struct store *s, const char *const *tags, size_t n)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_ID];

    for (size_t i = 0; i < n; i++) {
        int rc;

        sqlite3_bind_text(st, 1, tags[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc == SQLITE_DONE) {
            store_errorf(s, "unknown sensor '%s'", tags[i]);
            return 1;
        }
        if (rc != SQLITE_ROW)
            return store_fail(s, "cannot read sensor '%s'", tags[i]);
    }
    return 0;
}

/* The sensor description of STMT_SENSOR_INFOS's current row; its id is
 * column 0. The strings are the statement's, valid until its next step. */
void store_sensor_info_row(sqlite3_stmt *st, struct store_sensor_info *si)
{
    *si = (struct store_sensor_info){
        .tag = store_column_text(st, 1),
        .kind = store_column_text(st, 2),
        .unit = store_column_text(st, 3),
        .bus = store_column_text(st, 4),
        .unit_id = sqlite3_column_int(st, 5),
        .table = store_column_text(st, 6),
        .address = sqlite3_column_int(st, 7),
        .type = store_column_text(st, 8),
        .byte_order = store_column_text(st, 9),
        .scale = sqlite3_column_double(st, 10),
        .offset = sqlite3_column_double(st, 11),
        .interval_ms = sqlite3_column_int(st, 12),
        .cal_date = store_column_text(st, 13),
        .cal_due = store_column_text(st, 14),
        .cal_certificate = store_column_text(st, 15),
        .version = sqlite3_column_int64(st, 16),
        .has_range_lo = sqlite3_column_type(st, 17) != SQLITE_NULL,
        .range_lo = sqlite3_column_double(st, 17),
        .has_range_hi = sqlite3_column_type(st, 18) != SQLITE_NULL,
        .range_hi = sqlite3_column_double(st, 18),
        .newest = sqlite3_column_int(st, 19) != 0,
        .bit = sqlite3_column_type(st, 20) == SQLITE_NULL
                   ? -1
                   : sqlite3_column_int(st, 20),
    };
    if (!si->tag)
        si->tag = "";
}

int store_sensor_infos_scope(struct store *s, const struct store_scope *scope,
                             const char *const *sensors, size_t nsensors,
                             int (*fn)(const struct store_sensor_info *,
                                       void *),
                             void *arg)
{
    sqlite3_stmt *st;
    struct store_counts *counts = NULL;
    size_t ncounts = 0;
    int rc, ret;

    if (store_read_begin(s, "cannot read sensors") < 0)
        return -1;
    if ((ret = store_follow_upgrade(s)) != 0 ||
        (ret = store_tags_known(s, sensors, nsensors)) != 0 ||
        (ret = store_window_counts(s, scope, &counts, &ncounts)) != 0)
        goto done;
    st = s->stmt[STMT_SENSOR_INFOS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_counts key = {sqlite3_column_int64(st, 0), {0}, 0, 0};
        struct store_counts *c =
            ncounts
                ? bsearch(&key, counts, ncounts, sizeof(key), store_counts_cmp)
                : NULL;
        bool any;
        struct store_sensor_info si;

        store_sensor_info_row(st, &si);
        if (c) {
            si.good = c->n[QUALITY_GOOD];
            si.out_of_range = c->n[QUALITY_OUT_OF_RANGE];
            si.invalid = c->n[QUALITY_INVALID];
            si.comm_error = c->n[QUALITY_COMM_ERROR];
            si.missed = c->n[QUALITY_MISSED];
            si.has_span = c->first_ts <= c->last_ts;
            si.first_ts_us = si.has_span ? c->first_ts : 0;
            si.last_ts_us = si.has_span ? c->last_ts : 0;
        }
        any =
            si.good + si.out_of_range + si.invalid + si.comm_error + si.missed >
            0;
        if (nsensors ? !store_tag_listed(si.tag, sensors, nsensors) : !any)
            continue;
        if ((ret = fn(&si, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    sqlite3_reset(st);
done:
    store_rollback(s);
    free(counts);
    return ret;
}

int store_sensor_infos(struct store *s, int64_t from_us, int64_t to_us,
                       const char *const *sensors, size_t nsensors,
                       int (*fn)(const struct store_sensor_info *, void *),
                       void *arg)
{
    struct store_scope scope;

    store_window_scope(from_us, to_us, &scope);
    return store_sensor_infos_scope(s, &scope, sensors, nsensors, fn, arg);
}

int store_events(struct store *s, int64_t from_us, int64_t to_us,
                 int (*fn)(int64_t ts_us, const char *kind, const char *detail,
                           void *),
                 void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_EVENTS];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = fn(sqlite3_column_int64(st, 0), store_column_text(st, 1),
                      store_column_text(st, 2), arg)) != 0)
            break;
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read events");
    sqlite3_reset(st);
    return ret;
}
