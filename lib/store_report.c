// SPDX-License-Identifier: MIT
/*
 * The verification report's reads (lib/report.h): every description
 * version with its row id, and a run's readings in seq order, one row at
 * a time, with only what the figures need. No sort and no per-reading
 * memory: the report holds accumulators per sensor, never the readings.
 */
#include "lib/store_private.h"

#include <stdlib.h>
#include <string.h>

/* A run's readings by its seq range, edges checked by time (the scope's
 * ?1..?6, STORE_IN_SCOPE's text); a window by time along readings_ts.
 * Neither sorts: the figures do not depend on the order. */
static const char store_report_by_seq[] =
    "SELECT seq, sensor_id, ts_us, value, quality FROM readings"
    " WHERE seq BETWEEN ?1 AND ?2 AND (+ts_us >= ?3 OR seq > ?5)"
    " AND (+ts_us < ?4 OR seq <= ?6)";
static const char store_report_by_time[] =
    "SELECT seq, sensor_id, ts_us, value, quality FROM readings"
    " WHERE ts_us >= ?1 AND ts_us < ?2";

/* The quality of a stored name, or -1: by its first letter, which tells
 * SPEC's five apart, then checked whole. */
static int store_report_quality(const char *q)
{
    static const enum quality by_letter[] = {
        ['g' - 'a'] = QUALITY_GOOD,    ['o' - 'a'] = QUALITY_OUT_OF_RANGE,
        ['i' - 'a'] = QUALITY_INVALID, ['c' - 'a'] = QUALITY_COMM_ERROR,
        ['m' - 'a'] = QUALITY_MISSED,
    };
    enum quality v;

    if (!q || q[0] < 'a' || q[0] > 'o')
        return -1;
    v = by_letter[q[0] - 'a'];
    return strcmp(q, quality_name(v)) == 0 ? (int)v : -1;
}

int store_report_readings(struct store *s, const struct store_scope *scope,
                          int (*fn)(const struct store_report_row *, void *),
                          void *arg)
{
    bool by_seq = store_scope_by_seq(scope);
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    if (store_read_begin(s, "cannot read the run's readings") < 0)
        return -1;
    if (sqlite3_prepare_v2(s->db,
                           by_seq ? store_report_by_seq : store_report_by_time,
                           -1, &st, NULL) != SQLITE_OK) {
        ret = store_fail(s, "cannot read the run's readings");
        goto done;
    }
    store_bind_scope(st, scope);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *qname = store_column_text(st, 4);
        struct store_report_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .sensor_db_id = sqlite3_column_int64(st, 1),
            .ts_us = sqlite3_column_int64(st, 2),
            .has_value = sqlite3_column_type(st, 3) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 3),
        };
        int q = store_report_quality(qname);

        if (q < 0) {
            ret = store_errorf(s, "seq %lld has an unknown quality '%s'",
                               (long long)row.seq, qname ? qname : "");
            goto done;
        }
        row.quality = (enum quality)q;
        if ((ret = fn(&row, arg)) != 0)
            goto done;
    }
    if (rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read the run's readings");
done:
    sqlite3_finalize(st);
    store_rollback(s);
    return ret;
}

int store_report_sensors(struct store *s,
                         int (*fn)(int64_t db_id,
                                   const struct store_sensor_info *, void *),
                         void *arg)
{
    sqlite3_stmt *st;
    int rc, ret;

    if (store_read_begin(s, "cannot read sensors") < 0)
        return -1;
    if ((ret = store_follow_upgrade(s)) != 0)
        goto done;
    /* the export's statement: every version, by tag then version */
    st = s->stmt[STMT_SENSOR_INFOS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_sensor_info si;

        store_sensor_info_row(st, &si);
        if ((ret = fn(sqlite3_column_int64(st, 0), &si, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    sqlite3_reset(st);
done:
    store_rollback(s);
    return ret;
}
