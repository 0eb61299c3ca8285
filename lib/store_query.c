// SPDX-License-Identifier: MIT
/*
 * Read queries: the status report (each sensor's newest reading, each
 * bus's counts), the pages of readings the publisher sends, the last seq,
 * the chain head and the head at a seq (the witness), the configurations
 * kept, the site name and the data version.
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Reports each sensor's newest reading to fn; returns 0, -1 or fn's first
 * non-zero return. */
static int store_status_sensors(struct store *s,
                                int (*fn)(const struct store_sensor_status *,
                                          void *),
                                void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_STATUS_SENSORS];
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_sensor_status ss = {
            .row.sensor = store_column_text(st, 0),
            .row.kind = store_column_text(st, 1),
            .row.unit = store_column_text(st, 2),
            .bus = store_column_text(st, 3),
            .has_reading = sqlite3_column_type(st, 4) != SQLITE_NULL,
        };

        ss.pruned =
            !ss.has_reading && sqlite3_column_type(st, 9) != SQLITE_NULL;
        if (ss.has_reading) {
            ss.row.seq = sqlite3_column_int64(st, 4);
            ss.row.ts_us = sqlite3_column_int64(st, 5);
            ss.row.has_value = sqlite3_column_type(st, 6) != SQLITE_NULL;
            ss.row.value =
                ss.row.has_value ? sqlite3_column_double(st, 6) : 0.0;
            ss.row.quality = store_column_text(st, 7);
            ss.row.error = store_column_text(st, 8);
        }
        if ((ret = fn(&ss, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensor status");
    sqlite3_reset(st);
    return ret;
}

/* Reports each bus's counts to bus_fn; returns as above. */
static int store_status_buses(struct store *s, int64_t since_us,
                              int (*bus_fn)(const struct store_bus_status *,
                                            void *),
                              void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_STATUS_BUSES];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, since_us);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_bus_status bs = {
            .bus = store_column_text(st, 0),
            .errors_recent = sqlite3_column_int64(st, 1),
            .errors_total = sqlite3_column_int64(st, 2),
            .readings_total = sqlite3_column_int64(st, 3),
            .missed_recent = sqlite3_column_int64(st, 4),
            .missed_total = sqlite3_column_int64(st, 5),
        };

        if ((ret = bus_fn(&bs, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read bus status");
    sqlite3_reset(st);
    return ret;
}

int store_status(struct store *s, int64_t since_us,
                 int (*fn)(const struct store_sensor_status *, void *),
                 int (*bus_fn)(const struct store_bus_status *, void *),
                 void *arg)
{
    int ret = 0;

    /* A read transaction (or the caller's snapshot), so that sensors and
     * counts are one state of the file even while the daemon commits
     * between the two queries. */
    if (store_read_begin(s, "cannot read status") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0) {
        store_rollback(s);
        return -1;
    }
    if (fn)
        ret = store_status_sensors(s, fn, arg);
    if (ret == 0 && bus_fn)
        ret = store_status_buses(s, since_us, bus_fn, arg);
    /* Nothing was written: ending the read cannot lose anything. */
    store_rollback(s);
    return ret;
}

void store_shown_clear(struct store *s)
{
    for (size_t i = 0; i < s->nshown; i++) {
        free(s->shown[i]);
        s->shown[i] = NULL;
    }
    free(s->shown_scratch);
    s->shown_scratch = NULL;
}

/* A copy of STMT_SENSOR_SHOWN's row, in one allocation. */
static struct store_shown *store_shown_new(sqlite3_stmt *st)
{
    const char *text[5];
    size_t len[5], total = 0;
    struct store_shown *d;
    char *p;

    for (int i = 0; i < 5; i++) {
        int col = i < 4 ? i : 5; /* tag, kind, unit, bus; type */

        text[i] = store_column_text(st, col);
        if (!text[i]) /* NOT NULL: cannot be */
            text[i] = "";
        len[i] = strlen(text[i]) + 1;
        total += len[i];
    }
    d = xmalloc(sizeof(*d) + total);
    p = d->tag;
    for (int i = 0; i < 5; i++) {
        memcpy(p, text[i], len[i]);
        p += len[i];
    }
    d->kind = d->tag + len[0];
    d->unit = d->kind + len[1];
    d->bus = d->unit + len[2];
    d->type = d->bus + len[3];
    d->unit_id = sqlite3_column_int(st, 4);
    return d;
}

/*
 * Sets *out to the description of sensor id, from the cache or the file
 * (NULL: no such sensor); valid until the store next reads one. Returns 0
 * or -1. Before schema 4 a sensors row was updated in place: the caller
 * empties the cache at every call then.
 */
static int store_shown(struct store *s, int64_t id,
                       const struct store_shown **out)
{
    sqlite3_stmt *st;
    int rc;

    if (id >= 0 && (size_t)id < s->nshown && s->shown[id]) {
        *out = s->shown[id];
        return 0;
    }
    *out = NULL;
    st = s->stmt[STMT_SENSOR_SHOWN];
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        struct store_shown *d = store_shown_new(st);

        if (id >= 0 && id < TAG_CACHE_MAX) {
            if ((size_t)id >= s->nshown) {
                size_t old = s->nshown;

                xgrow(&s->shown, &s->nshown, (size_t)id + 1, sizeof(*s->shown));
                memset(s->shown + old, 0,
                       (s->nshown - old) * sizeof(*s->shown));
            }
            s->shown[id] = d;
        } else {
            free(s->shown_scratch);
            s->shown_scratch = d;
        }
        *out = d;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensor %lld", (long long)id);
    return 0;
}

int store_readings_after(struct store *s, int64_t after_seq, size_t limit,
                         int (*fn)(const struct reading_row *, void *),
                         void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_READINGS_AFTER];
    int rc, n = 0;

    if (s->version < 4)
        store_shown_clear(s);
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    /* The page's runs and descriptions are read once its first row is:
     * while that statement is active, the connection's read transaction
     * is open, so all see the same state of the file although a daemon
     * commits between pages. */
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && store_page_runs(s, after_seq, limit) < 0) {
        sqlite3_reset(st);
        return -1;
    }
    for (; rc == SQLITE_ROW; rc = sqlite3_step(st)) {
        const struct store_shown *d;
        struct reading_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .sensor_db_id = sqlite3_column_int64(st, 1),
            .ts_us = sqlite3_column_int64(st, 2),
            .has_value = sqlite3_column_type(st, 3) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 3),
            .quality = store_column_text(st, 4),
            .error = store_column_text(st, 5),
        };

        if (store_shown(s, row.sensor_db_id, &d) < 0) {
            sqlite3_reset(st);
            return -1;
        }
        if (!d) { /* a foreign key forbids it: never skipped unsaid */
            sqlite3_reset(st);
            return store_errorf(s,
                                "reading %lld names sensor %lld, which "
                                "the file does not have",
                                (long long)row.seq,
                                (long long)row.sensor_db_id);
        }
        row.sensor = d->tag;
        row.kind = d->kind;
        row.unit = d->unit;
        row.bus = d->bus;
        row.unit_id = d->unit_id;
        row.type = d->type;
        row.run = store_page_run(s, row.seq, row.ts_us);
        n++;
        if (fn(&row, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read readings after seq %lld",
                          (long long)after_seq);
    return n;
}

int store_last_seq(struct store *s, int64_t *seq)
{
    sqlite3_stmt *st = s->stmt[STMT_LAST_SEQ];
    int rc = sqlite3_step(st);

    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read the last seq");
    return 0;
}

int64_t store_vm_steps(struct store *s)
{
    int64_t n = 0;

    for (sqlite3_stmt *st = sqlite3_next_stmt(s->db, NULL); st;
         st = sqlite3_next_stmt(s->db, st))
        n += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
    return n;
}

int64_t store_data_version(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_DATA_VERSION];
    int64_t v = -1;

    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        store_fail(s, "cannot read the data version");
    sqlite3_reset(st);
    return v;
}

int store_chain_head(struct store *s, char head[SHA256_HEX_LEN],
                     int64_t *last_seq)
{
    if (store_chain_last(s, head, last_seq) < 0)
        return -1;
    if (*last_seq == 0)
        head[0] = '\0';
    return 0;
}

int store_config_at(struct store *s, int64_t at_us, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;

    *id = 0;
    if (store_read_begin(s, "cannot read configurations") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0)
        goto done;
    if (s->version < 4) {
        ret = 1;
        goto done;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id FROM configs WHERE ts_us <= ?1"
                           " ORDER BY ts_us DESC, id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "cannot read configurations");
        goto done;
    }
    sqlite3_bind_int64(st, 1, at_us);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = 1;
    } else {
        store_fail(s, "cannot read configurations");
    }
done:
    sqlite3_finalize(st);
    store_rollback(s);
    return ret;
}

int store_config_files(struct store *s, int64_t id,
                       int (*fn)(const struct store_config_file *, void *),
                       void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    if (store_read_begin(s, "cannot read configurations") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0 ||
        sqlite3_prepare_v2(s->db,
                           "SELECT c.id, c.ts_us, f.idx, f.name, f.bytes"
                           " FROM configs AS c JOIN config_files AS f"
                           " ON f.config_id = c.id WHERE c.id = ?1"
                           " ORDER BY f.idx",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = store_fail(s, "cannot read configurations");
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *bytes = sqlite3_column_blob(st, 4);
        struct store_config_file f = {
            .config_id = sqlite3_column_int64(st, 0),
            .ts_us = sqlite3_column_int64(st, 1),
            .idx = sqlite3_column_int(st, 2),
            .name = store_column_text(st, 3),
            .bytes = bytes ? bytes : "",
            .len = (size_t)sqlite3_column_bytes(st, 4),
        };

        if (!f.name)
            f.name = "";
        sha256_hex(f.bytes, f.len, f.sha256);
        if ((ret = fn(&f, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read configurations");
done:
    sqlite3_finalize(st);
    store_rollback(s);
    return ret;
}

/* The meta key of the site. */
#define STORE_META_SITE "site"

const char *store_site(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_GET_META];
    int rc;

    free(s->site);
    s->site = NULL;
    sqlite3_bind_text(st, 1, STORE_META_SITE, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        s->site = xstrdup(store_column_text(st, 0));
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_fail(s, "cannot read the site");
    sqlite3_reset(st);
    return s->site;
}

int store_set_site(struct store *s, const char *site)
{
    sqlite3_stmt *st = s->stmt[STMT_SET_META];
    int rc;

    sqlite3_bind_text(st, 1, STORE_META_SITE, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, site, -1, SQLITE_STATIC);
    rc = store_step(s, STMT_SET_META, "cannot record the site");
    sqlite3_clear_bindings(st);
    return rc;
}

/* ---- Chain witness (issue 11) ------------------------------------------ */

int store_chain_at(struct store *s, int64_t seq, char head[SHA256_HEX_LEN],
                   int64_t *batch_last_seq)
{
    /* batches_last_seq: one index lookup. */
    static const char sql[] = "SELECT last_seq, hash FROM batches"
                              " WHERE last_seq >= ?1 ORDER BY last_seq LIMIT 1";
    sqlite3_stmt *st;
    int rc, ret = 1;

    head[0] = '\0';
    *batch_last_seq = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot read the chain at seq %lld",
                          (long long)seq);
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);

        *batch_last_seq = sqlite3_column_int64(st, 0);
        snprintf(head, SHA256_HEX_LEN, "%s", h ? h : "");
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        ret =
            store_fail(s, "cannot read the chain at seq %lld", (long long)seq);
    }
    sqlite3_finalize(st);
    return ret;
}
