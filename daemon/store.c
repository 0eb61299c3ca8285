// SPDX-License-Identifier: MIT
/*
 * The SQLite store, and the only module that calls SQLite. Every statement
 * is prepared once at open and reset after each use; a batch of readings
 * is one BEGIN IMMEDIATE transaction, so it is all there or not at all.
 * SQLite's errors become text once, here, prefixed with what was being
 * done, in the store's message buffer.
 */
#include "daemon/store.h"

#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/*
 * Schema version 1, created in one transaction when the file is new.
 * readings_comm_error is a partial index holding only the comm_error
 * rows (quality included so that it covers the counts), so the error
 * counts of `tbdaq status` cost in proportion to the errors, not to the
 * readings.
 */
static const char store_schema[] =
    "CREATE TABLE sensors (id INTEGER PRIMARY KEY,"
    " tag TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL,"
    " bus TEXT NOT NULL, unit_id INTEGER NOT NULL, reg_table TEXT NOT NULL,"
    " address INTEGER NOT NULL, type TEXT NOT NULL,"
    " byte_order TEXT NOT NULL, scale REAL NOT NULL,"
    " \"offset\" REAL NOT NULL, interval_ms INTEGER NOT NULL,"
    " range_lo REAL, range_hi REAL,"
    " cal_date TEXT, cal_due TEXT, cal_certificate TEXT);\n"
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " sensor_id INTEGER NOT NULL REFERENCES sensors(id),"
    " ts_us INTEGER NOT NULL, value REAL, quality TEXT NOT NULL"
    " CHECK (quality IN ('good','out_of_range','invalid','comm_error')),"
    " error TEXT, raw TEXT);\n"
    "CREATE INDEX readings_ts ON readings(ts_us);\n"
    "CREATE INDEX readings_sensor ON readings(sensor_id, seq);\n"
    "CREATE INDEX readings_comm_error ON readings(sensor_id, ts_us, quality)"
    " WHERE quality = 'comm_error';\n"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " started_us INTEGER NOT NULL, ended_us INTEGER, operator TEXT,"
    " note TEXT);\n"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts_us INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT);\n"
    "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);\n"
    "CREATE TRIGGER readings_immutable BEFORE UPDATE ON readings"
    " BEGIN SELECT RAISE(ABORT, 'readings are immutable'); END;\n"
    "PRAGMA user_version = 1;\n";
/* A new schema version needs a new store_schema and a migration step. */
_Static_assert(STORE_SCHEMA_VERSION == 1, "store_schema is version 1");

/* The prepared statements a store keeps, by what they do. */
enum store_stmt {
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_INSERT_READING,
    STMT_INSERT_EVENT,
    STMT_UPSERT_SENSOR,
    STMT_SENSOR_ID,
    STMT_STATUS_SENSORS,
    STMT_STATUS_BUSES,
    STMT_GET_STATE,
    STMT_SET_STATE,
    STMT_READINGS_AFTER,
    STMT_LAST_SEQ,
    STMT_COUNT
};

static const char *const store_sql[STMT_COUNT] = {
    /* IMMEDIATE: take the write lock now (waiting up to the busy
     * timeout), not halfway through the batch. */
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    /* One snapshot for all of a status report, without locking writers
     * out (WAL). */
    [STMT_BEGIN_READ] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_INSERT_READING] =
        "INSERT INTO readings (sensor_id, ts_us, value, quality, error, raw)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_INSERT_EVENT] =
        "INSERT INTO events (ts_us, kind, detail) VALUES (?1, ?2, ?3)",
    [STMT_UPSERT_SENSOR] =
        "INSERT INTO sensors (tag, kind, unit, bus, unit_id, reg_table,"
        " address, type, byte_order, scale, \"offset\", interval_ms,"
        " range_lo, range_hi, cal_date, cal_due, cal_certificate)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"
        " ?14, ?15, ?16, ?17)"
        " ON CONFLICT(tag) DO UPDATE SET kind = excluded.kind,"
        " unit = excluded.unit, bus = excluded.bus,"
        " unit_id = excluded.unit_id, reg_table = excluded.reg_table,"
        " address = excluded.address, type = excluded.type,"
        " byte_order = excluded.byte_order, scale = excluded.scale,"
        " \"offset\" = excluded.\"offset\","
        " interval_ms = excluded.interval_ms,"
        " range_lo = excluded.range_lo, range_hi = excluded.range_hi,"
        " cal_date = excluded.cal_date, cal_due = excluded.cal_due,"
        " cal_certificate = excluded.cal_certificate",
    [STMT_SENSOR_ID] = "SELECT id FROM sensors WHERE tag = ?1",
    /* The newest reading per sensor: max(seq) of one sensor is a single
     * descent of readings_sensor, whatever the size of the table. */
    [STMT_STATUS_SENSORS] =
        "SELECT s.tag, s.kind, s.unit, s.bus, r.seq, r.ts_us, r.value,"
        " r.quality, r.error FROM sensors AS s LEFT JOIN readings AS r"
        " ON r.seq = (SELECT max(seq) FROM readings"
        " WHERE sensor_id = s.id) ORDER BY s.tag",
    /* The error counts walk only the comm_error rows (partial index); the
     * reading count walks readings_sensor, the one linear part. */
    [STMT_STATUS_BUSES] =
        "SELECT b.bus,"
        " (SELECT count(*) FROM readings INDEXED BY readings_comm_error"
        "  WHERE quality = 'comm_error' AND ts_us >= ?1 AND sensor_id IN"
        "  (SELECT id FROM sensors WHERE bus = b.bus)),"
        " (SELECT count(*) FROM readings INDEXED BY readings_comm_error"
        "  WHERE quality = 'comm_error' AND sensor_id IN"
        "  (SELECT id FROM sensors WHERE bus = b.bus)),"
        " (SELECT count(*) FROM readings INDEXED BY readings_sensor"
        "  WHERE sensor_id IN (SELECT id FROM sensors WHERE bus = b.bus))"
        " FROM (SELECT DISTINCT bus FROM sensors) AS b ORDER BY b.bus",
    [STMT_GET_STATE] = "SELECT value FROM state WHERE key = ?1",
    [STMT_SET_STATE] = "INSERT INTO state (key, value) VALUES (?1, ?2)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* A page of the record in seq order: a range scan of the primary key
     * joined to the (small) sensors table. */
    [STMT_READINGS_AFTER] =
        "SELECT r.seq, s.tag, s.kind, s.unit, r.ts_us, r.value, r.quality,"
        " r.error FROM readings AS r JOIN sensors AS s ON s.id = r.sensor_id"
        " WHERE r.seq > ?1 ORDER BY r.seq LIMIT ?2",
    [STMT_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM readings",
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[STMT_COUNT];
    char err[STORE_ERR_MAX];
};

/* Sets the message to the formatted text; returns -1. */
__attribute__((format(printf, 2, 3))) static int
store_errorf(struct store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    return -1;
}

/* Sets the message to the formatted text, then ": " and SQLite's last
 * error; returns -1. */
__attribute__((format(printf, 2, 3))) static int
store_fail(struct store *s, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    n = strlen(s->err);
    snprintf(s->err + n, sizeof(s->err) - n, ": %s", sqlite3_errmsg(s->db));
    return -1;
}

/* Runs a statement that returns no rows and resets it. Returns 0, or -1
 * with SQLite's error (prefixed with what) in the message. */
static int store_run(struct store *s, enum store_stmt id, const char *what)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE) {
        store_fail(s, "%s", what);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* Ends a failed transaction, if one is open; keeps the first message. */
static void store_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_step(s->stmt[STMT_ROLLBACK]);
    sqlite3_reset(s->stmt[STMT_ROLLBACK]);
}

/* Reads one integer from a single-row query; returns 0 or -1. */
static int store_query_int(struct store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/*
 * Reads the schema version and checks that this is a tbdaq database this
 * code can use. A file with no tables at all (new, or zero bytes) is
 * accepted with *version 0 only when empty_ok.
 */
static int store_check_schema(struct store *s, bool empty_ok, int64_t *version)
{
    int64_t ntables = 0;

    if (store_query_int(s, "PRAGMA user_version", version) < 0 ||
        store_query_int(s, "SELECT count(*) FROM sqlite_master", &ntables) < 0)
        return store_fail(s, "cannot open '%s'", s->path);
    if (*version > STORE_SCHEMA_VERSION)
        return store_errorf(s,
                            "database '%s' has schema version %lld, newer "
                            "than this tbdaq (%d)",
                            s->path, (long long)*version, STORE_SCHEMA_VERSION);
    if (*version < 0 || (*version == 0 && (ntables > 0 || !empty_ok)))
        return store_errorf(s, "'%s' is not a tbdaq database", s->path);
    return 0;
}

/* Creates the schema in a new file. The check is repeated under the write
 * lock, in case another process created it since the first look. */
static int store_create_schema(struct store *s)
{
    int64_t version = 0;

    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "cannot create schema in '%s'", s->path);
    if (store_check_schema(s, true, &version) < 0)
        goto fail;
    if (version == 0 &&
        sqlite3_exec(s->db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
        store_fail(s, "cannot create schema in '%s'", s->path);
        goto fail;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_fail(s, "cannot create schema in '%s'", s->path);
        goto fail;
    }
    return 0;
fail:
    store_rollback(s);
    return -1;
}

/* The read-write connection's settings, each checked. */
static int store_setup_writer(struct store *s)
{
    sqlite3_stmt *st = NULL;
    const char *mode;
    bool wal;

    if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) !=
            SQLITE_OK)
        return store_fail(s, "cannot configure '%s'", s->path);
    /* journal_mode answers with the mode in force, which stays the old
     * one when WAL is impossible (e.g. some network file systems). */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_fail(s, "cannot set WAL mode on '%s'", s->path);
        sqlite3_finalize(st);
        return -1;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        store_errorf(s, "cannot set WAL mode on '%s': journal mode is '%s'",
                     s->path, mode ? mode : "?");
    sqlite3_finalize(st);
    return wal ? 0 : -1;
}

struct store *store_open(const char *path, enum store_mode mode,
                         char err[STORE_ERR_MAX])
{
    struct store *s = xcalloc(1, sizeof(*s));
    int flags = mode == STORE_READ_ONLY
                    ? SQLITE_OPEN_READONLY
                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int64_t version = 0;
    int rc;

    s->path = xstrdup(path);
    /* NOMUTEX: a store belongs to one thread (see store.h). */
    rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        store_errorf(s, "cannot open '%s': %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    /* Look before changing anything: a file that is not ours must not
     * even have its journal mode switched. */
    if (store_check_schema(s, mode == STORE_READ_WRITE, &version) < 0)
        goto fail;
    if (mode == STORE_READ_WRITE) {
        if (store_setup_writer(s) < 0)
            goto fail;
        if (version == 0 && store_create_schema(s) < 0)
            goto fail;
    }
    for (int i = 0; i < STMT_COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK) {
            store_fail(s, "cannot prepare statements on '%s'", path);
            goto fail;
        }
    }
    return s;
fail:
    snprintf(err, STORE_ERR_MAX, "%s", s->err);
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    free(s->path);
    free(s);
}

const char *store_errmsg(const struct store *s)
{
    return s->err;
}

/* Binds text, or NULL for a NULL pointer. The text must outlive the
 * statement's next step. */
static int store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (!text)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* Binds a double, or NULL for a non-finite one (SQLite has no NaN, and an
 * infinite range bound means "unbounded"). */
static int store_bind_finite(sqlite3_stmt *st, int i, double v)
{
    if (!isfinite(v))
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_double(st, i, v);
}

/* Upserts one sensor and reads back its id. */
static int store_sync_one(struct store *s, const struct config *c,
                          const struct sensor_conf *sc, int64_t *id)
{
    sqlite3_stmt *st = s->stmt[STMT_UPSERT_SENSOR];
    int rc = 0;

    if (sc->bus >= c->nbuses)
        return store_errorf(s, "sensor '%s' has no bus", sc->id);
    rc |= store_bind_text(st, 1, sc->id);
    rc |= store_bind_text(st, 2, kind_name(sc->kind));
    rc |= store_bind_text(st, 3, sc->unit);
    rc |= store_bind_text(st, 4, c->buses[sc->bus].name);
    rc |= sqlite3_bind_int(st, 5, sc->unit_id);
    rc |= store_bind_text(st, 6, reg_table_name(sc->table));
    rc |= sqlite3_bind_int(st, 7, sc->address);
    rc |= store_bind_text(st, 8, reg_type_name(sc->type));
    rc |= store_bind_text(st, 9, byte_order_name(sc->order));
    rc |= sqlite3_bind_double(st, 10, sc->scale);
    rc |= sqlite3_bind_double(st, 11, sc->offset);
    rc |= sqlite3_bind_int(st, 12, sc->interval_ms);
    rc |= store_bind_finite(st, 13, sc->range_lo);
    rc |= store_bind_finite(st, 14, sc->range_hi);
    rc |= store_bind_text(st, 15, sc->cal.date);
    rc |= store_bind_text(st, 16, sc->cal.due);
    rc |= store_bind_text(st, 17, sc->cal.certificate);
    if (rc != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return store_fail(s, "cannot store sensor '%s'", sc->id);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        store_fail(s, "cannot store sensor '%s'", sc->id);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return -1;

    st = s->stmt[STMT_SENSOR_ID];
    sqlite3_bind_text(st, 1, sc->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    else
        store_fail(s, "cannot read id of sensor '%s'", sc->id);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int store_sync_sensors(struct store *s, struct config *c)
{
    /* The ids are handed to the config only once the transaction has
     * committed, so that a failure changes nothing anywhere. */
    int64_t *ids = xcalloc(c->nsensors ? c->nsensors : 1, sizeof(*ids));

    if (store_run(s, STMT_BEGIN, "cannot update sensors") < 0)
        goto fail;
    for (size_t i = 0; i < c->nsensors; i++)
        if (store_sync_one(s, c, &c->sensors[i], &ids[i]) < 0)
            goto fail;
    if (store_run(s, STMT_COMMIT, "cannot update sensors") < 0)
        goto fail;
    for (size_t i = 0; i < c->nsensors; i++)
        c->sensors[i].db_id = ids[i];
    free(ids);
    return 0;
fail:
    store_rollback(s);
    free(ids);
    return -1;
}

/* Inserts one reading inside the open transaction and sets its seq. */
static int store_insert_reading(struct store *s, struct reading *r)
{
    sqlite3_stmt *st = s->stmt[STMT_INSERT_READING];
    char raw[5 * REG_MAX_WORDS];
    bool has_value =
        r->quality == QUALITY_GOOD || r->quality == QUALITY_OUT_OF_RANGE;
    int rc = 0;

    if (r->nraw > REG_MAX_WORDS)
        return store_errorf(s,
                            "cannot store reading of sensor %lld: %u raw "
                            "words, more than %d",
                            (long long)r->sensor_id, (unsigned)r->nraw,
                            REG_MAX_WORDS);
    rc |= sqlite3_bind_int64(st, 1, r->sensor_id);
    rc |= sqlite3_bind_int64(st, 2, r->ts_us);
    if (has_value)
        rc |= store_bind_finite(st, 3, r->value);
    else
        rc |= sqlite3_bind_null(st, 3);
    rc |= store_bind_text(st, 4, quality_name(r->quality));
    if (r->quality == QUALITY_COMM_ERROR)
        rc |= sqlite3_bind_text(st, 5, r->error,
                                (int)strnlen(r->error, sizeof(r->error)),
                                SQLITE_STATIC);
    else
        rc |= sqlite3_bind_null(st, 5);
    if (r->nraw > 0) {
        hex_words(r->raw, r->nraw, raw);
        rc |= sqlite3_bind_text(st, 6, raw, -1, SQLITE_TRANSIENT);
    } else {
        rc |= sqlite3_bind_null(st, 6);
    }
    if (rc != SQLITE_OK)
        return store_fail(s, "cannot store reading of sensor %lld",
                          (long long)r->sensor_id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot store reading of sensor %lld",
                   (long long)r->sensor_id);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    r->seq = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Inserts one event inside the open transaction; an empty or NULL detail
 * is stored as NULL. */
static int store_insert_event(struct store *s, int64_t ts_us, const char *kind,
                              int kind_len, const char *detail, int detail_len)
{
    sqlite3_stmt *st = s->stmt[STMT_INSERT_EVENT];
    int rc = 0;

    rc |= sqlite3_bind_int64(st, 1, ts_us);
    rc |= sqlite3_bind_text(st, 2, kind, kind_len, SQLITE_STATIC);
    if (detail && detail_len != 0 && detail[0] != '\0')
        rc |= sqlite3_bind_text(st, 3, detail, detail_len, SQLITE_STATIC);
    else
        rc |= sqlite3_bind_null(st, 3);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot store event '%.*s'",
                   kind_len < 0 ? (int)strlen(kind) : kind_len, kind);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

int store_commit_batch(struct store *s, struct reading *r, size_t nr,
                       const struct event *ev, size_t nev)
{
    if (store_run(s, STMT_BEGIN, "cannot begin batch") < 0)
        goto fail;
    for (size_t i = 0; i < nr; i++)
        if (store_insert_reading(s, &r[i]) < 0)
            goto fail;
    for (size_t i = 0; i < nev; i++)
        if (store_insert_event(
                s, ev[i].ts_us, ev[i].kind,
                (int)strnlen(ev[i].kind, sizeof(ev[i].kind)), ev[i].detail,
                (int)strnlen(ev[i].detail, sizeof(ev[i].detail))) < 0)
            goto fail;
    if (store_run(s, STMT_COMMIT, "cannot commit batch") < 0)
        goto fail;
    /* The bindings point into the caller's arrays: drop them. */
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READING]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READING]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    for (size_t i = 0; i < nr; i++)
        r[i].seq = 0;
    return -1;
}

int store_add_event(struct store *s, const char *kind, const char *detail)
{
    if (store_run(s, STMT_BEGIN, "cannot begin event") < 0)
        goto fail;
    if (store_insert_event(s, time_real_us(), kind, -1, detail, -1) < 0)
        goto fail;
    if (store_run(s, STMT_COMMIT, "cannot commit event") < 0)
        goto fail;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return -1;
}

static const char *store_column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

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
            .tag = store_column_text(st, 0),
            .kind = store_column_text(st, 1),
            .unit = store_column_text(st, 2),
            .bus = store_column_text(st, 3),
            .has_reading = sqlite3_column_type(st, 4) != SQLITE_NULL,
        };

        if (ss.has_reading) {
            ss.seq = sqlite3_column_int64(st, 4);
            ss.ts_us = sqlite3_column_int64(st, 5);
            ss.has_value = sqlite3_column_type(st, 6) != SQLITE_NULL;
            ss.value = ss.has_value ? sqlite3_column_double(st, 6) : 0.0;
            ss.quality = store_column_text(st, 7);
            ss.error = store_column_text(st, 8);
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

    /* A read transaction, so that sensors and counts are one snapshot
     * even while the daemon commits between the two queries. */
    if (store_run(s, STMT_BEGIN_READ, "cannot read status") < 0)
        return -1;
    if (fn)
        ret = store_status_sensors(s, fn, arg);
    if (ret == 0 && bus_fn)
        ret = store_status_buses(s, since_us, bus_fn, arg);
    /* Nothing was written: ending the read cannot lose anything. */
    store_rollback(s);
    return ret;
}

int store_get_state(struct store *s, const char *key, int64_t *value)
{
    sqlite3_stmt *st = s->stmt[STMT_GET_STATE];
    int rc;

    *value = 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read state '%s'", key);
    return 0;
}

int store_set_state(struct store *s, const char *key, int64_t value)
{
    sqlite3_stmt *st = s->stmt[STMT_SET_STATE];
    int rc;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = store_run(s, STMT_SET_STATE, "cannot write state");
    sqlite3_clear_bindings(st);
    return rc;
}

int store_readings_after(struct store *s, int64_t after_seq, size_t limit,
                         int (*fn)(const struct store_row *, void *), void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_READINGS_AFTER];
    int rc, n = 0;

    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .tag = store_column_text(st, 1),
            .kind = store_column_text(st, 2),
            .unit = store_column_text(st, 3),
            .ts_us = sqlite3_column_int64(st, 4),
            .has_value = sqlite3_column_type(st, 5) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 5),
            .quality = store_column_text(st, 6),
            .error = store_column_text(st, 7),
        };

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
