// SPDX-License-Identifier: MIT
/*
 * The SQLite store against real database files in a temporary directory:
 * schema and refusals at open, sensor sync, what a batch writes for each
 * quality, all-or-nothing batches, immutable readings, a reader beside a
 * writer, status, events, and the commit rate (printed, not asserted).
 * The test looks at the files with SQLite directly, as an auditor would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/store.h"

/* Longest path or query built by the tests. */
#define TEST_PATH_MAX 512
/* Longest row rendered by raw_row(). */
#define TEST_ROW_MAX 1024
/* Readings per batch and batches in the rate measurement. */
#define BENCH_BATCH 2000
#define BENCH_BATCHES 50
/* Batches the writer thread commits while the reader watches. */
#define CONCURRENT_BATCHES 40
#define CONCURRENT_BATCH 50

static char test_dir[64];

static void path_of(char *buf, const char *name)
{
    snprintf(buf, TEST_PATH_MAX, "%s/%s", test_dir, name);
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_store.XXXXXX");
    return mkdtemp(test_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char path[TEST_PATH_MAX];
    DIR *d = opendir(test_dir);
    struct dirent *e;

    (void)state;
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        path_of(path, e->d_name);
        unlink(path);
    }
    closedir(d);
    return rmdir(test_dir);
}

/* --- looking at the file directly ------------------------------------ */

static sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    return db;
}

/* The first row of sql, columns joined with '|', NULL as "NULL", or
 * "(none)" when there is no row. */
static void raw_row(const char *path, const char *sql, char *out)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    size_t n = 0;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) != SQLITE_ROW) {
        snprintf(out, TEST_ROW_MAX, "(none)");
    } else {
        out[0] = '\0';
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const char *t = (const char *)sqlite3_column_text(st, i);

            n += (size_t)snprintf(out + n, TEST_ROW_MAX - n, "%s%s",
                                  i ? "|" : "", t ? t : "NULL");
            assert_true(n < TEST_ROW_MAX);
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    char row[TEST_ROW_MAX];

    raw_row(path, sql, row);
    return strtoll(row, NULL, 10);
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);

    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* --- a config built by hand ------------------------------------------ */

static char s_plant_a[] = "plant-a", s_rs485[] = "rs485-1";
static char s_ft[] = "FT-101", s_pt[] = "PT-201", s_at[] = "AT-301",
            s_xt[] = "XT-401";
static char s_m3h[] = "m3/h", s_bar[] = "bar", s_ph[] = "pH", s_ma[] = "mA",
            s_ls[] = "l/s";
static char s_cal_date[] = "2026-10-01", s_cal_due[] = "2027-10-01",
            s_cal_cert[] = "KTL-2026-0412";

enum { SENSOR_FT, SENSOR_PT, SENSOR_AT, SENSOR_XT, NSENSORS };

struct fixture {
    struct config c;
    struct bus_conf buses[2];
    struct sensor_conf sensors[NSENSORS];
};

/* Two buses; FT-101 and PT-201 on plant-a, AT-301 and XT-401 on rs485-1.
 * The config holds the first n sensors. */
static void fixture_init(struct fixture *f, size_t n)
{
    static const struct sensor_conf proto[NSENSORS] = {
        [SENSOR_FT] = {.id = s_ft,
                       .kind = KIND_FLOW,
                       .bus = 0,
                       .unit_id = 1,
                       .table = TABLE_INPUT,
                       .address = 0,
                       .type = REG_FLOAT32,
                       .order = BO_ABCD,
                       .scale = 1.0,
                       .offset = 0.0,
                       .unit = s_m3h,
                       .interval_ms = 1000,
                       .range_lo = 0.0,
                       .range_hi = 50.0,
                       .cal = {s_cal_date, s_cal_due, s_cal_cert}},
        [SENSOR_PT] = {.id = s_pt,
                       .kind = KIND_PRESSURE,
                       .bus = 0,
                       .unit_id = 2,
                       .table = TABLE_HOLDING,
                       .address = 100,
                       .type = REG_INT16,
                       .order = BO_AB,
                       .scale = 0.01,
                       .offset = 0.0,
                       .unit = s_bar,
                       .interval_ms = 500,
                       .range_lo = -1.0,
                       .range_hi = 1000.0},
        [SENSOR_AT] = {.id = s_at,
                       .kind = KIND_PH,
                       .bus = 1,
                       .unit_id = 3,
                       .table = TABLE_HOLDING,
                       .address = 10,
                       .type = REG_INT16,
                       .order = BO_AB,
                       .scale = 0.01,
                       .offset = 0.0,
                       .unit = s_ph,
                       .interval_ms = 1000,
                       .range_lo = 0.0,
                       .range_hi = 14.0},
        [SENSOR_XT] = {.id = s_xt,
                       .kind = KIND_GENERIC,
                       .bus = 1,
                       .unit_id = 4,
                       .table = TABLE_INPUT,
                       .address = 20,
                       .type = REG_UINT32,
                       .order = BO_CDAB,
                       .scale = 0.5,
                       .offset = -4.0,
                       .unit = s_ma,
                       .interval_ms = 100,
                       .range_lo = -INFINITY,
                       .range_hi = INFINITY},
    };

    memset(f, 0, sizeof(*f));
    f->buses[0].name = s_plant_a;
    f->buses[1].name = s_rs485;
    memcpy(f->sensors, proto, sizeof(proto));
    f->c.buses = f->buses;
    f->c.nbuses = 2;
    f->c.sensors = f->sensors;
    f->c.nsensors = n;
}

static struct store *open_rw(const char *name, char *path)
{
    char err[STORE_ERR_MAX] = "";
    struct store *s;

    path_of(path, name);
    s = store_open(path, STORE_READ_WRITE, err);
    if (!s)
        fail_msg("store_open: %s", err);
    return s;
}

/* A store with the first three sensors synced; their ids in f. */
static struct store *open_synced(const char *name, char *path,
                                 struct fixture *f)
{
    struct store *s = open_rw(name, path);

    fixture_init(f, 3);
    assert_int_equal(store_sync_sensors(s, &f->c), 0);
    return s;
}

static struct reading mk_reading(int64_t sensor_id, int64_t ts_us,
                                 enum quality q, double value,
                                 const char *error, uint8_t nraw,
                                 const uint16_t *raw)
{
    struct reading r;

    memset(&r, 0, sizeof(r));
    r.sensor_id = sensor_id;
    r.ts_us = ts_us;
    r.quality = q;
    r.value = value;
    snprintf(r.error, sizeof(r.error), "%s", error);
    r.nraw = nraw;
    if (nraw)
        memcpy(r.raw, raw, nraw * sizeof(*raw));
    return r;
}

static struct event mk_event(int64_t ts_us, const char *kind,
                             const char *detail)
{
    struct event e;

    memset(&e, 0, sizeof(e));
    e.ts_us = ts_us;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    return e;
}

/* --- open ------------------------------------------------------------ */

static void test_open_creates_schema(void **state)
{
    static const char *const objects[] = {
        "table|sensors",
        "table|readings",
        "table|runs",
        "table|events",
        "index|readings_ts",
        "index|readings_sensor",
        "trigger|readings_immutable",
    };
    char path[TEST_PATH_MAX], sql[TEST_PATH_MAX], row[TEST_ROW_MAX];
    struct store *s;

    (void)state;
    s = open_rw("create.db", path);
    assert_int_equal(access(path, F_OK), 0);
    store_close(s);

    assert_int_equal(raw_int(path, "PRAGMA user_version"),
                     STORE_SCHEMA_VERSION);
    raw_row(path, "PRAGMA journal_mode", row);
    assert_string_equal(row, "wal");
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        const char *name = strchr(objects[i], '|') + 1;

        snprintf(sql, sizeof(sql),
                 "SELECT type, name FROM sqlite_master WHERE name = '%s'",
                 name);
        raw_row(path, sql, row);
        assert_string_equal(row, objects[i]);
    }
}

static void test_reopen(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct fixture f;
    struct store *s = open_synced("reopen.db", path, &f);
    struct reading r =
        mk_reading(f.sensors[0].db_id, 1000, QUALITY_GOOD, 1.5, "", 0, NULL);
    int64_t first_id = f.sensors[0].db_id;

    (void)state;
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    store_close(s);

    /* Again read-write: the schema is left alone, the rows are there. */
    s = store_open(path, STORE_READ_WRITE, err);
    assert_non_null(s);
    fixture_init(&f, 3);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[0].db_id, first_id);
    store_close(s);

    s = store_open(path, STORE_READ_ONLY, err);
    assert_non_null(s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 3);
}

static void test_open_refused(void **state)
{
    static const struct {
        const char *name;
        const char *setup;  /* SQL run on the file first, or NULL */
        const char *bytes;  /* else written to the file as they are */
        const char *before; /* the message: before, the path, after */
        const char *after;
    } cases[] = {
        {"newer.db", "CREATE TABLE sensors (id); PRAGMA user_version = 2", NULL,
         "database '", "' has schema version 2, newer than this tbdaq (1)"},
        {"foreign.db", "CREATE TABLE foo (x); INSERT INTO foo VALUES (1)", NULL,
         "'", "' is not a tbdaq database"},
        {"text.db", NULL,
         "this is a text file and certainly not an SQLite database\n",
         "cannot open '", "': file is not a database"},
    };
    static const enum store_mode modes[] = {STORE_READ_WRITE, STORE_READ_ONLY};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TEST_PATH_MAX], want[TEST_PATH_MAX], row[TEST_ROW_MAX];
        char err[STORE_ERR_MAX];

        path_of(path, cases[i].name);
        if (cases[i].setup) {
            raw_exec(path, cases[i].setup);
        } else {
            FILE *fp = fopen(path, "w");

            assert_non_null(fp);
            fputs(cases[i].bytes, fp);
            fclose(fp);
        }
        snprintf(want, sizeof(want), "%s%s%s", cases[i].before, path,
                 cases[i].after);
        for (size_t m = 0; m < 2; m++) {
            memset(err, 0, sizeof(err));
            assert_null(store_open(path, modes[m], err));
            assert_string_equal(err, want);
        }
        /* Refused means untouched: not even switched to WAL. */
        if (cases[i].setup) {
            raw_row(path, "PRAGMA journal_mode", row);
            assert_string_equal(row, "delete");
        }
    }
}

static void test_open_readonly_missing(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";

    (void)state;
    path_of(path, "missing.db");
    assert_null(store_open(path, STORE_READ_ONLY, err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(access(path, F_OK), -1);
}

/* --- sensors --------------------------------------------------------- */

static void sensor_row(const char *path, const char *tag, char *row)
{
    char sql[TEST_PATH_MAX];

    snprintf(sql, sizeof(sql),
             "SELECT id, kind, unit, bus, unit_id, reg_table, address, type,"
             " byte_order, scale, \"offset\", interval_ms, range_lo,"
             " range_hi, cal_date, cal_due, cal_certificate FROM sensors"
             " WHERE tag = '%s'",
             tag);
    raw_row(path, sql, row);
}

static void test_sync_sensors(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], want[TEST_ROW_MAX];
    struct fixture f;
    struct store *s = open_synced("sync.db", path, &f);
    int64_t ids[NSENSORS];

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        ids[i] = f.sensors[i].db_id;
        assert_true(ids[i] > 0);
        for (size_t j = 0; j < i; j++)
            assert_true(ids[i] != ids[j]);
    }
    sensor_row(path, "FT-101", row);
    snprintf(want, sizeof(want),
             "%lld|flow|m3/h|plant-a|1|input|0|float32|ABCD|1.0|0.0|1000|"
             "0.0|50.0|2026-10-01|2027-10-01|KTL-2026-0412",
             (long long)ids[SENSOR_FT]);
    assert_string_equal(row, want);
    sensor_row(path, "PT-201", row);
    snprintf(want, sizeof(want),
             "%lld|pressure|bar|plant-a|2|holding|100|int16|AB|0.01|0.0|500|"
             "-1.0|1000.0|NULL|NULL|NULL",
             (long long)ids[SENSOR_PT]);
    assert_string_equal(row, want);

    /* The same config again: the same ids. */
    fixture_init(&f, 3);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f.sensors[i].db_id, ids[i]);

    /* FT-101 changed, PT-201 removed, XT-401 added. */
    fixture_init(&f, NSENSORS);
    f.sensors[SENSOR_FT].unit = s_ls;
    f.sensors[SENSOR_FT].bus = 1;
    f.sensors[SENSOR_FT].scale = 2.5;
    f.sensors[SENSOR_FT].range_hi = INFINITY;
    f.sensors[SENSOR_FT].cal.date = NULL;
    f.sensors[SENSOR_FT].cal.due = NULL;
    f.sensors[SENSOR_FT].cal.certificate = NULL;
    f.sensors[SENSOR_PT] = f.sensors[SENSOR_XT];
    f.c.nsensors = 3;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[SENSOR_FT].db_id, ids[SENSOR_FT]);
    assert_int_equal(f.sensors[SENSOR_AT].db_id, ids[SENSOR_AT]);
    ids[SENSOR_XT] = f.sensors[SENSOR_PT].db_id;
    for (size_t i = 0; i < 3; i++)
        assert_true(ids[SENSOR_XT] != ids[i]);
    sensor_row(path, "FT-101", row);
    snprintf(want, sizeof(want),
             "%lld|flow|l/s|rs485-1|1|input|0|float32|ABCD|2.5|0.0|1000|"
             "0.0|NULL|NULL|NULL|NULL",
             (long long)ids[SENSOR_FT]);
    assert_string_equal(row, want);
    sensor_row(path, "XT-401", row);
    snprintf(want, sizeof(want),
             "%lld|generic|mA|rs485-1|4|input|20|uint32|CDAB|0.5|-4.0|100|"
             "NULL|NULL|NULL|NULL|NULL",
             (long long)ids[SENSOR_XT]);
    assert_string_equal(row, want);
    sensor_row(path, "PT-201", row); /* kept for its old readings */
    assert_true(strtoll(row, NULL, 10) == ids[SENSOR_PT]);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 4);

    /* A failure part-way changes nothing, in the file or the config. */
    fixture_init(&f, 2);
    f.sensors[0].unit = s_bar;
    f.sensors[1].bus = 7;
    assert_int_equal(store_sync_sensors(s, &f.c), -1);
    assert_non_null(strstr(store_errmsg(s), "PT-201"));
    assert_int_equal(f.sensors[0].db_id, 0);
    raw_row(path, "SELECT unit FROM sensors WHERE tag = 'FT-101'", row);
    assert_string_equal(row, "l/s");
    store_close(s);
}

/* --- batches --------------------------------------------------------- */

static void reading_row(const char *path, int64_t seq, char *row)
{
    char sql[TEST_PATH_MAX];

    snprintf(sql, sizeof(sql),
             "SELECT sensor_id, ts_us, quality, value, error, raw"
             " FROM readings WHERE seq = %lld",
             (long long)seq);
    raw_row(path, sql, row);
}

static void test_commit_columns(void **state)
{
    static const uint16_t w_25[] = {0x41c8, 0x0000}, w_60[] = {0x4272, 0x0000},
                          w_inf[] = {0x7f80, 0x0000}, w_258[] = {0x0102};
    static const struct {
        enum quality q;
        double value;
        const char *error;
        uint8_t nraw;
        const uint16_t *raw;
        const char *want; /* quality|value|error|raw */
    } cases[] = {
        {QUALITY_GOOD, 25.0, "", 2, w_25, "good|25.0|NULL|41c8 0000"},
        {QUALITY_OUT_OF_RANGE, 60.5, "", 2, w_60,
         "out_of_range|60.5|NULL|4272 0000"},
        {QUALITY_INVALID, INFINITY, "", 2, w_inf,
         "invalid|NULL|NULL|7f80 0000"},
        /* A value left over in the struct is not stored either. */
        {QUALITY_INVALID, 7.0, "", 2, w_inf, "invalid|NULL|NULL|7f80 0000"},
        {QUALITY_COMM_ERROR, 3.0, "Connection timed out", 0, NULL,
         "comm_error|NULL|Connection timed out|NULL"},
        /* Error text is kept only with comm_error. */
        {QUALITY_GOOD, 2.58, "stale", 1, w_258, "good|2.58|NULL|0102"},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], want[TEST_ROW_MAX];
    struct fixture f;
    struct store *s = open_synced("batch.db", path, &f);
    struct reading r[N], r2[N];
    struct event ev[2] = {mk_event(5000, "bus_down", "plant-a: timeout"),
                          mk_event(6000, "start", "")};
    int64_t sensor = f.sensors[SENSOR_FT].db_id;

    (void)state;
    for (size_t i = 0; i < N; i++)
        r[i] = mk_reading(sensor, 1000 + (int64_t)i, cases[i].q, cases[i].value,
                          cases[i].error, cases[i].nraw, cases[i].raw);
    memcpy(r2, r, sizeof(r));
    assert_int_equal(store_commit_batch(s, r, N, ev, 2), 0);
    assert_int_equal(store_commit_batch(s, r2, N, NULL, 0), 0);

    for (size_t i = 0; i < N; i++) {
        assert_true(r[i].seq > (i ? r[i - 1].seq : 0));
        assert_true(r2[i].seq > (i ? r2[i - 1].seq : r[N - 1].seq));
        reading_row(path, r[i].seq, row);
        snprintf(want, sizeof(want), "%lld|%lld|%s", (long long)sensor,
                 (long long)(1000 + i), cases[i].want);
        assert_string_equal(row, want);
    }
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 2 * N);
    raw_row(path,
            "SELECT group_concat(ts_us || ' ' || kind || ' ' ||"
            " ifnull(detail, 'NULL'), ', ') FROM events",
            row);
    assert_string_equal(row, "5000 bus_down plant-a: timeout, 6000 start NULL");
    store_close(s);
}

static void test_commit_atomic(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX];
    struct fixture f;
    struct store *s = open_synced("atomic.db", path, &f);
    int64_t sensor = f.sensors[SENSOR_PT].db_id;
    struct reading r[3];
    struct event ev = mk_event(1, "missed", "PT-201: 2 slots");
    int64_t last;
    sqlite3 *db;

    (void)state;
    r[0] = mk_reading(sensor, 1, QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    last = r[0].seq;

    /* The middle reading names no sensor: the foreign key refuses it. */
    for (int i = 0; i < 3; i++)
        r[i] = mk_reading(i == 1 ? 9999 : sensor, 10 + i, QUALITY_GOOD, 1.0, "",
                          0, NULL);
    assert_int_equal(store_commit_batch(s, r, 3, &ev, 1), -1);
    assert_non_null(strstr(store_errmsg(s), "sensor 9999"));
    assert_non_null(strstr(store_errmsg(s), "FOREIGN KEY"));
    for (int i = 0; i < 3; i++)
        assert_int_equal(r[i].seq, 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM events"), 0);

    /* A later good batch works and seq goes on increasing. */
    r[1].sensor_id = sensor;
    assert_int_equal(store_commit_batch(s, r, 3, &ev, 1), 0);
    assert_true(r[0].seq > last);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 4);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM events"), 1);

    /* Committed readings cannot be changed, even from outside tbdaq. */
    db = raw_open(path);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE readings SET value = 2.0", NULL, NULL, NULL),
        SQLITE_OK);
    assert_non_null(strstr(sqlite3_errmsg(db), "readings are immutable"));
    sqlite3_close(db);
    raw_row(path, "SELECT group_concat(value) FROM readings", row);
    assert_string_equal(row, "1.0,1.0,1.0,1.0");
    store_close(s);
}

/* --- a reader beside a writer ---------------------------------------- */

struct totals {
    int64_t readings;
    int64_t sensors;
};

static int count_sensor(const struct store_sensor_status *ss, void *arg)
{
    (void)ss;
    ((struct totals *)arg)->sensors++;
    return 0;
}

static int count_bus(const struct store_bus_status *bs, void *arg)
{
    ((struct totals *)arg)->readings += bs->readings_total;
    return 0;
}

static int64_t reader_total(struct store *reader)
{
    struct totals t = {0, 0};

    if (store_status(reader, 0, count_sensor, count_bus, &t) != 0)
        fail_msg("store_status: %s", store_errmsg(reader));
    assert_int_equal(t.sensors, 3);
    return t.readings;
}

struct writer_job {
    struct store *s;
    int64_t sensor;
    int failed;
};

static void *writer_main(void *arg)
{
    struct writer_job *job = arg;
    struct reading r[CONCURRENT_BATCH];

    for (int b = 0; b < CONCURRENT_BATCHES; b++) {
        for (int i = 0; i < CONCURRENT_BATCH; i++)
            r[i] = mk_reading(job->sensor, b * CONCURRENT_BATCH + i,
                              QUALITY_GOOD, i, "", 0, NULL);
        if (store_commit_batch(job->s, r, CONCURRENT_BATCH, NULL, 0) < 0)
            job->failed++;
    }
    return NULL;
}

static void test_reader_beside_writer(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct fixture f;
    struct store *w = open_synced("shared.db", path, &f);
    struct store *reader;
    struct reading r[10];
    struct writer_job job = {w, f.sensors[0].db_id, 0};
    pthread_t tid;
    int64_t seen = 0, now, deadline, expect;
    sqlite3 *db;

    (void)state;
    for (int i = 0; i < 10; i++)
        r[i] = mk_reading(job.sensor, i, QUALITY_GOOD, i, "", 0, NULL);
    assert_int_equal(store_commit_batch(w, r, 10, NULL, 0), 0);
    reader = store_open(path, STORE_READ_ONLY, err);
    if (!reader)
        fail_msg("store_open: %s", err);
    assert_int_equal(reader_total(reader), 10);

    /* A writer in the middle of a transaction does not block the reader,
     * which sees only what was committed. */
    db = raw_open(path);
    assert_int_equal(sqlite3_exec(db,
                                  "BEGIN IMMEDIATE; INSERT INTO readings"
                                  " (sensor_id, ts_us, quality) SELECT id,"
                                  " 1, 'invalid' FROM sensors",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(reader_total(reader), 10);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    /* The reader cannot write. */
    assert_int_equal(store_commit_batch(reader, r, 1, NULL, 0), -1);
    assert_non_null(strstr(store_errmsg(reader), "readonly"));
    assert_int_equal(store_add_event(reader, "start", NULL), -1);

    /* While the writer commits, the reader sees whole batches only, and
     * never fewer than before. */
    expect = 10 + CONCURRENT_BATCHES * CONCURRENT_BATCH;
    assert_int_equal(pthread_create(&tid, NULL, writer_main, &job), 0);
    deadline = time_mono_ns() + 30 * NS_PER_S;
    do {
        now = reader_total(reader);
        assert_true(now >= seen);
        assert_int_equal((now - 10) % CONCURRENT_BATCH, 0);
        seen = now;
    } while (seen < expect && time_mono_ns() < deadline);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(job.failed, 0);
    assert_int_equal(seen, expect);
    store_close(reader);
    store_close(w);
}

/* --- status ---------------------------------------------------------- */

#define STATUS_MAX 8

struct status_seen {
    struct store_sensor_status sensors[STATUS_MAX];
    char text[STATUS_MAX][TEST_ROW_MAX]; /* the strings, copied */
    size_t nsensors;
    struct store_bus_status buses[STATUS_MAX];
    char bus[STATUS_MAX][32];
    size_t nbuses;
    int stop_with; /* returned by the sensor callback */
};

static int seen_sensor(const struct store_sensor_status *ss, void *arg)
{
    struct status_seen *seen = arg;
    size_t i = seen->nsensors++;

    assert_true(i < STATUS_MAX);
    seen->sensors[i] = *ss;
    snprintf(seen->text[i], TEST_ROW_MAX, "%s|%s|%s|%s|%s|%s", ss->tag,
             ss->kind, ss->unit, ss->bus, ss->quality ? ss->quality : "NULL",
             ss->error ? ss->error : "NULL");
    return seen->stop_with;
}

static int seen_bus(const struct store_bus_status *bs, void *arg)
{
    struct status_seen *seen = arg;
    size_t i = seen->nbuses++;

    assert_true(i < STATUS_MAX);
    seen->buses[i] = *bs;
    snprintf(seen->bus[i], sizeof(seen->bus[i]), "%s", bs->bus);
    return 0;
}

static void test_status(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("status.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id;
    struct reading r[5];
    struct status_seen *seen = xcalloc(1, sizeof(*seen));

    (void)state;
    r[0] = mk_reading(ft, 1000, QUALITY_GOOD, 1.0, "", 0, NULL);
    r[1] = mk_reading(pt, 1500, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[2] = mk_reading(ft, 2000, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[3] = mk_reading(pt, 2500, QUALITY_COMM_ERROR, 0, "Illegal data address",
                      0, NULL);
    r[4] = mk_reading(ft, 3000, QUALITY_OUT_OF_RANGE, 60.5, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);
    assert_int_equal(store_commit_batch(s, r + 2, 3, NULL, 0), 0);

    assert_int_equal(store_status(s, 2000, seen_sensor, seen_bus, seen), 0);
    assert_int_equal(seen->nsensors, 3);
    assert_string_equal(seen->text[0], "AT-301|ph|pH|rs485-1|NULL|NULL");
    assert_false(seen->sensors[0].has_reading);
    assert_string_equal(seen->text[1],
                        "FT-101|flow|m3/h|plant-a|out_of_range|NULL");
    assert_true(seen->sensors[1].has_reading);
    assert_int_equal(seen->sensors[1].seq, r[4].seq);
    assert_int_equal(seen->sensors[1].ts_us, 3000);
    assert_true(seen->sensors[1].has_value);
    assert_true(seen->sensors[1].value == 60.5);
    assert_string_equal(
        seen->text[2],
        "PT-201|pressure|bar|plant-a|comm_error|Illegal data address");
    assert_int_equal(seen->sensors[2].seq, r[3].seq);
    assert_false(seen->sensors[2].has_value);

    assert_int_equal(seen->nbuses, 2);
    assert_string_equal(seen->bus[0], "plant-a");
    assert_int_equal(seen->buses[0].errors_recent, 2);
    assert_int_equal(seen->buses[0].errors_total, 3);
    assert_int_equal(seen->buses[0].readings_total, 5);
    assert_string_equal(seen->bus[1], "rs485-1");
    assert_int_equal(seen->buses[1].errors_recent, 0);
    assert_int_equal(seen->buses[1].errors_total, 0);
    assert_int_equal(seen->buses[1].readings_total, 0);

    /* The callback's non-zero return stops the walk and is returned; the
     * store works as before afterwards. */
    memset(seen, 0, sizeof(*seen));
    seen->stop_with = 7;
    assert_int_equal(store_status(s, 2501, seen_sensor, seen_bus, seen), 7);
    assert_int_equal(seen->nsensors, 1);
    assert_int_equal(seen->nbuses, 0);
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_status(s, 2501, seen_sensor, seen_bus, seen), 0);
    assert_int_equal(seen->buses[0].errors_recent, 0);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    free(seen);
    store_close(s);
}

static void test_add_event(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX];
    struct store *s = open_rw("events.db", path);
    int64_t before = time_real_us(), after;

    (void)state;
    assert_int_equal(store_add_event(s, "start", NULL), 0);
    assert_int_equal(store_add_event(s, "config", "9f86d081884c7d65"), 0);
    after = time_real_us();
    raw_row(path,
            "SELECT group_concat(kind || ' ' || ifnull(detail, 'NULL'), ', ')"
            " FROM events ORDER BY seq",
            row);
    assert_string_equal(row, "start NULL, config 9f86d081884c7d65");
    assert_true(raw_int(path, "SELECT min(ts_us) FROM events") >= before);
    assert_true(raw_int(path, "SELECT max(ts_us) FROM events") <= after);
    store_close(s);
}

/* --- state and reading back ------------------------------------------ */

static void test_state(void **state)
{
    char path[TEST_PATH_MAX];
    struct store *s = open_rw("state.db", path);
    int64_t v = -1;

    (void)state;
    assert_int_equal(store_get_state(s, STORE_STATE_MQTT_ACKED, &v), 0);
    assert_int_equal(v, 0); /* absent reads as 0 */
    assert_int_equal(store_set_state(s, STORE_STATE_MQTT_ACKED, 41), 0);
    assert_int_equal(store_set_state(s, STORE_STATE_MQTT_ACKED, 42), 0);
    assert_int_equal(store_get_state(s, STORE_STATE_MQTT_ACKED, &v), 0);
    assert_int_equal(v, 42);
    store_close(s);
    /* it survives a reopen */
    s = open_rw("state.db", path);
    assert_int_equal(store_get_state(s, STORE_STATE_MQTT_ACKED, &v), 0);
    assert_int_equal(v, 42);
    store_close(s);
}

struct page {
    int64_t seqs[16];
    char tags[16][40];
    bool has_value[16];
    char errors[16][32];
    int n;
    int stop_after; /* 0: never */
};

static int page_row(const struct store_row *row, void *arg)
{
    struct page *p = arg;

    p->seqs[p->n] = row->seq;
    snprintf(p->tags[p->n], sizeof(p->tags[0]), "%s/%s/%s", row->tag, row->kind,
             row->unit);
    p->has_value[p->n] = row->has_value;
    snprintf(p->errors[p->n], sizeof(p->errors[0]), "%s",
             row->error ? row->error : "-");
    p->n++;
    return p->stop_after && p->n == p->stop_after;
}

static void test_readings_after(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("after.db", path, &f);
    struct reading r[5];
    struct page pg;
    int64_t last = -1;
    (void)state;

    assert_int_equal(store_last_seq(s, &last), 0);
    assert_int_equal(last, 0);
    for (int i = 0; i < 5; i++)
        r[i] = mk_reading(f.sensors[i % 3].db_id, 1000 + i,
                          i == 3 ? QUALITY_COMM_ERROR : QUALITY_GOOD, i,
                          i == 3 ? "Connection timed out" : "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 5, NULL, 0), 0);
    assert_int_equal(store_last_seq(s, &last), 0);
    assert_int_equal(last, r[4].seq);

    /* a page from the middle, in seq order, with the sensor described */
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(store_readings_after(s, r[1].seq, 2, page_row, &pg), 2);
    assert_int_equal(pg.seqs[0], r[2].seq);
    assert_int_equal(pg.seqs[1], r[3].seq);
    assert_string_equal(pg.tags[1], "FT-101/flow/m3/h");
    assert_false(pg.has_value[1]);
    assert_string_equal(pg.errors[1], "Connection timed out");
    assert_true(pg.has_value[0]);
    assert_string_equal(pg.errors[0], "-");
    /* past the end: nothing */
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(store_readings_after(s, r[4].seq, 10, page_row, &pg), 0);
    /* fn stops early */
    memset(&pg, 0, sizeof(pg));
    pg.stop_after = 2;
    assert_int_equal(store_readings_after(s, 0, 10, page_row, &pg), 2);
    assert_int_equal(pg.seqs[1], r[1].seq);
    store_close(s);
}

/* --- the rate -------------------------------------------------------- */

static void test_commit_rate(void **state)
{
    static const uint16_t w[] = {0x41c8, 0x0000};
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("rate.db", path, &f);
    struct reading *r = xcalloc(BENCH_BATCH, sizeof(*r));
    struct totals t = {0, 0};
    int64_t t0, t1, ts = 0;

    (void)state;
    t0 = time_mono_ns();
    for (int b = 0; b < BENCH_BATCHES; b++) {
        for (int i = 0; i < BENCH_BATCH; i++, ts++)
            r[i] = mk_reading(f.sensors[i % 3].db_id, ts,
                              i % 50 ? QUALITY_GOOD : QUALITY_COMM_ERROR, 25.0,
                              "timeout", i % 50 ? 2 : 0, w);
        assert_int_equal(store_commit_batch(s, r, BENCH_BATCH, NULL, 0), 0);
    }
    t1 = time_mono_ns();
    print_message("commit: %d batches of %d readings: %.0f readings/s\n",
                  BENCH_BATCHES, BENCH_BATCH,
                  (double)BENCH_BATCHES * BENCH_BATCH * NS_PER_S /
                      (double)(t1 - t0));
    t0 = time_mono_ns();
    assert_int_equal(store_status(s, ts - 1000, count_sensor, count_bus, &t),
                     0);
    t1 = time_mono_ns();
    assert_int_equal(t.readings, BENCH_BATCHES * BENCH_BATCH);
    print_message("status over %d readings: %.2f ms\n",
                  BENCH_BATCHES * BENCH_BATCH, (double)(t1 - t0) / 1e6);
    free(r);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_schema),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_open_readonly_missing),
        cmocka_unit_test(test_sync_sensors),
        cmocka_unit_test(test_commit_columns),
        cmocka_unit_test(test_commit_atomic),
        cmocka_unit_test(test_reader_beside_writer),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_add_event),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_readings_after),
        cmocka_unit_test(test_commit_rate),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
