// SPDX-License-Identifier: MIT
/*
 * The SQLite store against real database files in a temporary directory:
 * schema and refusals at open, sensor sync, what a batch writes for each
 * quality, all-or-nothing batches, immutable readings, a reader beside a
 * writer, status, events, the audit chain (its hash recomputed here from
 * the documented canonical form) and verify after tampering, runs (also
 * from a second connection while a writer commits), export, sensor
 * infos, the site, retention (what is pruned and kept, its cursor and
 * limit, verify across pruning and against forged pruned rows, the
 * version 1 schema and its upgrade), and the commit, verify, export and
 * prune rates (printed; only a pathological prune step fails). The test
 * looks at the files with SQLite directly, and tampers with them, as an
 * auditor (or a forger) would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fmt.h"
#include "common/hash.h"
#include "common/util.h"
#include "lib/store.h"

/* Longest path or query built by the tests. */
#define TEST_PATH_MAX 512
/* Longest row rendered by raw_row(). */
#define TEST_ROW_MAX 1024
/* Readings per batch and batches in the rate measurement. */
#define BENCH_BATCH 2000
#define BENCH_BATCHES 100
/* Runs the second connection starts and stops while a writer commits. */
#define CONCURRENT_RUNS 20
/* Batches the writer thread commits while the reader watches. */
#define CONCURRENT_BATCHES 40
#define CONCURRENT_BATCH 50

/* A well-formed hash that no batch has. */
#define SHA_ONES                                                               \
    "1111111111111111111111111111111111111111111111111111111111111111"

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
        "table|sensor_last",
        "trigger|readings_immutable",
        "table|batches",
        "index|batches_last_seq",
        "table|meta",
        "index|events_ts",
        "table|pruned",
        "index|readings_missed",
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
        {"newer.db", "CREATE TABLE sensors (id); PRAGMA user_version = 5", NULL,
         "database '", "' has schema version 5, newer than this tbdaq (4)"},
        {"foreign.db", "CREATE TABLE foo (x); INSERT INTO foo VALUES (1)", NULL,
         "'",
         "' is not a tbdaq database: no tbdaq schema version (user_version "
         "0)"},
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

/* The newest version of a sensor's description. */
static void sensor_row(const char *path, const char *tag, char *row)
{
    char sql[TEST_PATH_MAX];

    snprintf(sql, sizeof(sql),
             "SELECT id, kind, unit, bus, unit_id, reg_table, address, type,"
             " byte_order, scale, \"offset\", interval_ms, range_lo,"
             " range_hi, cal_date, cal_due, cal_certificate FROM sensors"
             " WHERE tag = '%s' ORDER BY version DESC LIMIT 1",
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

    /* FT-101 changed (a new version: its old one stays, for the readings
     * taken under it), PT-201 removed, XT-401 added. */
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
    assert_true(f.sensors[SENSOR_FT].db_id > ids[SENSOR_AT]);
    assert_int_equal(f.sensors[SENSOR_AT].db_id, ids[SENSOR_AT]);
    ids[SENSOR_XT] = f.sensors[SENSOR_PT].db_id;
    for (size_t i = 0; i < 3; i++)
        assert_true(ids[SENSOR_XT] != ids[i]);
    assert_true(ids[SENSOR_XT] != f.sensors[SENSOR_FT].db_id);
    sensor_row(path, "FT-101", row);
    snprintf(want, sizeof(want),
             "%lld|flow|l/s|rs485-1|1|input|0|float32|ABCD|2.5|0.0|1000|"
             "0.0|NULL|NULL|NULL|NULL",
             (long long)f.sensors[SENSOR_FT].db_id);
    assert_string_equal(row, want);
    raw_row(path,
            "SELECT group_concat(id || ':' || version || ':' || unit, ' ')"
            " FROM (SELECT * FROM sensors WHERE tag = 'FT-101' ORDER BY"
            " version)",
            row);
    snprintf(want, sizeof(want), "%lld:1:m3/h %lld:2:l/s",
             (long long)ids[SENSOR_FT], (long long)f.sensors[SENSOR_FT].db_id);
    assert_string_equal(row, want);
    /* and once more: the newest version again */
    ids[SENSOR_PT] = f.sensors[SENSOR_FT].db_id;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[SENSOR_FT].db_id, ids[SENSOR_PT]);
    /* back to the first description: a third version, not the first */
    fixture_init(&f, 1);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_true(f.sensors[SENSOR_FT].db_id != ids[SENSOR_FT]);
    assert_int_equal(raw_int(path, "SELECT max(version) FROM sensors"
                                   " WHERE tag = 'FT-101'"),
                     3);
    ids[SENSOR_PT] = raw_int(path, "SELECT id FROM sensors"
                                   " WHERE tag = 'PT-201'");
    sensor_row(path, "XT-401", row);
    snprintf(want, sizeof(want),
             "%lld|generic|mA|rs485-1|4|input|20|uint32|CDAB|0.5|-4.0|100|"
             "NULL|NULL|NULL|NULL|NULL",
             (long long)ids[SENSOR_XT]);
    assert_string_equal(row, want);
    sensor_row(path, "PT-201", row); /* kept for its old readings */
    assert_true(strtoll(row, NULL, 10) == ids[SENSOR_PT]);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 6);

    /* A failure part-way changes nothing, in the file or the config. */
    fixture_init(&f, 2);
    f.sensors[0].unit = s_bar;
    f.sensors[1].bus = 7;
    assert_int_equal(store_sync_sensors(s, &f.c), -1);
    assert_non_null(strstr(store_errmsg(s), "PT-201"));
    assert_int_equal(f.sensors[0].db_id, 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 6);
    store_close(s);
}

/* --- batches --------------------------------------------------------- */

/* The canonical lines of the fixture's first descriptions, first used by
 * the reading at seq (README "Description versions"). */
#define DESC_FT(seq)                                                           \
    "sensor\t1\tFT-101\t1\t" seq "\tflow\tm3/h\tplant-a\t1\tinput\t0"          \
    "\tfloat32\tABCD\t1\t0\t1000\t0\t50\t2026-10-01\t2027-10-01"               \
    "\tKTL-2026-0412\n"
#define DESC_PT(seq)                                                           \
    "sensor\t2\tPT-201\t1\t" seq "\tpressure\tbar\tplant-a\t2\tholding"        \
    "\t100\tint16\tAB\t0.01\t0\t500\t-1\t1000\t\t\t\n"

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
    assert_false(seen->sensors[0].pruned); /* never read, not pruned */
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
    assert_int_equal(store_get_state(s, STORE_STATE_MQTT_ACKED, &v), 1);
    assert_int_equal(v, 0); /* absent: 1, and reads as 0 */
    assert_int_equal(store_set_state(s, STORE_STATE_MQTT_ACKED, 0), 0);
    assert_int_equal(store_get_state(s, STORE_STATE_MQTT_ACKED, &v), 0);
    assert_int_equal(v, 0); /* present and 0: not the same */
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
    char runs[16][32];
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
    snprintf(p->runs[p->n], sizeof(p->runs[0]), "%s",
             row->run ? row->run : "-");
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
    /* a second batch, so sensor_last must add to what it has */
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);
    assert_int_equal(
        raw_int(path, "SELECT count(*) FROM (SELECT sensor_id, max(seq) AS m,"
                      " count(*) AS c FROM readings GROUP BY sensor_id) AS a"
                      " JOIN sensor_last AS l ON l.sensor_id = a.sensor_id"
                      " AND l.last_seq = a.m AND l.count = a.c"),
        3);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensor_last"), 3);
    store_close(s);
}

/* --- the audit chain ------------------------------------------------- */

/* 64 zeros: the hash before the first batch. */
static const char zero_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The SHA-256 of prev followed by text, as the chain defines a batch. */
static void chain_hash(const char *prev, const char *text,
                       char out[SHA256_HEX_LEN])
{
    size_t n = strlen(prev) + strlen(text) + 1;
    char *buf = xmalloc(n);

    snprintf(buf, n, "%s%s", prev, text);
    sha256_hex(buf, strlen(buf), out);
    free(buf);
}

static void test_chain_known_batch(void **state)
{
    static const uint16_t w_25[] = {0x41c8, 0x0000}, w_inf[] = {0x7f80, 0},
                          w_neg0[] = {0x8000};
    /* The canonical form written out by hand from the README: seq, tag,
     * ts_us, value (%.17g, empty if NULL), quality, error, raw; TAB
     * between, LF after. */
    static const char lines[] =
        "1\tFT-101\t1000\t25\tgood\t\t41c8 0000\n"
        "2\tPT-201\t1001\t\tcomm_error\tConnection timed out\t\n"
        "3\tAT-301\t1002\t\tinvalid\t\t7f80 0000\n"
        "4\tFT-101\t1003\t60.100000000000001\tout_of_range\t\t\n"
        "5\tPT-201\t1004\t0\tgood\t\t8000\n"
        "6\tAT-301\t-7\t-1.5\tgood\t\t\n"
        /* Then each description version a reading of the batch is the
         * first under (README "Description versions"): "sensor", id,
         * tag, version, the seq of that reading, kind, unit, bus,
         * unit_id, table, address, type, byte order, scale, offset,
         * interval_ms, range_lo, range_hi, calibration date, due,
         * certificate. */
        "sensor\t1\tFT-101\t1\t1\tflow\tm3/h\tplant-a\t1\tinput\t0\tfloat32"
        "\tABCD\t1\t0\t1000\t0\t50\t2026-10-01\t2027-10-01\tKTL-2026-0412\n"
        "sensor\t2\tPT-201\t1\t2\tpressure\tbar\tplant-a\t2\tholding\t100"
        "\tint16\tAB\t0.01\t0\t500\t-1\t1000\t\t\t\n"
        "sensor\t3\tAT-301\t1\t3\tph\tpH\trs485-1\t3\tholding\t10\tint16"
        "\tAB\t0.01\t0\t1000\t0\t14\t\t\t\n";
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], want[SHA256_HEX_LEN];
    char head[SHA256_HEX_LEN], line_hash[SHA256_HEX_LEN];
    struct fixture f;
    struct store *s = open_synced("chain1.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id,
            at = f.sensors[SENSOR_AT].db_id, last = -1;
    struct reading r[6];
    struct event ev = mk_event(1, "start", "");

    (void)state;
    assert_int_equal(store_chain_head(s, head, &last), 0);
    assert_string_equal(head, "");
    assert_int_equal(last, 0);
    r[0] = mk_reading(ft, 1000, QUALITY_GOOD, 25.0, "", 2, w_25);
    r[1] = mk_reading(pt, 1001, QUALITY_COMM_ERROR, 3.0, "Connection timed out",
                      0, NULL);
    r[2] = mk_reading(at, 1002, QUALITY_INVALID, INFINITY, "", 2, w_inf);
    r[3] = mk_reading(ft, 1003, QUALITY_OUT_OF_RANGE, 60.1, "", 0, NULL);
    r[4] = mk_reading(pt, 1004, QUALITY_GOOD, -0.0, "", 1, w_neg0);
    r[5] = mk_reading(at, -7, QUALITY_GOOD, -1.5, "", 0, NULL);
    /* A batch of events only is not chained. */
    assert_int_equal(store_commit_batch(s, NULL, 0, &ev, 1), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM batches"), 0);
    assert_int_equal(store_commit_batch(s, r, 6, NULL, 0), 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(r[i].seq, i + 1);

    chain_hash(zero_hash, lines, want);
    raw_row(path,
            "SELECT id, first_seq, last_seq, n, prev_hash, hash FROM batches",
            row);
    {
        char expect[TEST_ROW_MAX];

        snprintf(expect, sizeof(expect), "1|1|6|6|%s|%s", zero_hash, want);
        assert_string_equal(row, expect);
    }
    assert_int_equal(store_chain_head(s, head, &last), 0);
    assert_string_equal(head, want);
    assert_int_equal(last, 6);

    /* The digests: the first 8 bytes of each line's SHA-256, the
     * descriptions' after the readings'. */
    raw_row(path, "SELECT lower(hex(digests)) FROM batches", row);
    assert_int_equal(strlen(row), 9 * 16);
    for (int i = 0, off = 0; i < 9; i++) {
        size_t len = strcspn(lines + off, "\n") + 1;

        sha256_hex(lines + off, len, line_hash);
        assert_memory_equal(row + 16 * i, line_hash, 16);
        off += (int)len;
    }
    store_close(s);
}

static void test_chain_across_batches(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], line[TEST_ROW_MAX];
    char h1[SHA256_HEX_LEN], h2[SHA256_HEX_LEN], head[SHA256_HEX_LEN];
    struct fixture f;
    struct store *s = open_synced("chain2.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, last;
    struct reading r[2];

    (void)state;
    r[0] = mk_reading(ft, 10, QUALITY_GOOD, 2.58, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    r[0] = mk_reading(ft, 20, QUALITY_GOOD, 1e-300, "", 0, NULL);
    r[1] = mk_reading(ft, 30, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);

    /* The first batch holds FT-101's description; the second, with
     * none new, hashes its readings alone, as before schema 4. */
    chain_hash(zero_hash,
               "1\tFT-101\t10\t2.5800000000000001\tgood\t\t\n"
               "sensor\t1\tFT-101\t1\t1\tflow\tm3/h\tplant-a\t1\tinput\t0"
               "\tfloat32\tABCD\t1\t0\t1000\t0\t50\t2026-10-01\t2027-10-01"
               "\tKTL-2026-0412\n",
               h1);
    snprintf(line, sizeof(line),
             "2\tFT-101\t20\t1e-300\tgood\t\t\n"
             "3\tFT-101\t30\t\tcomm_error\ttimeout\t\n");
    chain_hash(h1, line, h2);
    raw_row(path, "SELECT hash FROM batches WHERE id = 1", row);
    assert_string_equal(row, h1);
    raw_row(path, "SELECT prev_hash || ' ' || hash FROM batches WHERE id = 2",
            row);
    snprintf(line, sizeof(line), "%s %s", h1, h2);
    assert_string_equal(row, line);
    assert_int_equal(store_chain_head(s, head, &last), 0);
    assert_string_equal(head, h2);
    assert_int_equal(last, 3);

    /* A failed batch leaves no batch row behind, and the next one
     * chains on the last good one. */
    r[0] = mk_reading(9999, 40, QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), -1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM batches"), 2);
    r[0] = mk_reading(ft, 40, QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    raw_row(path, "SELECT prev_hash FROM batches WHERE id = 3", row);
    assert_string_equal(row, h2);
    store_close(s);
}

/* Readings per batch and batches of the tamper tests' database. */
#define TAMPER_BATCH 5
#define TAMPER_BATCHES 3

/* A database of TAMPER_BATCHES batches of TAMPER_BATCH readings (seq 1
 * onward, mixed sensors and qualities), closed. */
static void make_chain_db(const char *name, char *path)
{
    static const uint16_t w[] = {0x41c8, 0x0001};
    struct fixture f;
    struct store *s = open_synced(name, path, &f);
    struct reading r[TAMPER_BATCH];

    for (int b = 0, k = 0; b < TAMPER_BATCHES; b++) {
        for (int i = 0; i < TAMPER_BATCH; i++, k++)
            r[i] = mk_reading(f.sensors[k % 3].db_id, 1000 + k,
                              k % 4 == 3 ? QUALITY_COMM_ERROR : QUALITY_GOOD,
                              k * 1.25, "timeout", k % 4 == 3 ? 0 : 2, w);
        assert_int_equal(store_commit_batch(s, r, TAMPER_BATCH, NULL, 0), 0);
    }
    store_close(s);
}

static struct store *open_ro(const char *path)
{
    char err[STORE_ERR_MAX] = "";
    struct store *s = store_open(path, STORE_READ_ONLY, err);

    if (!s)
        fail_msg("store_open: %s", err);
    return s;
}

/* Verifies the whole chain of path read-only and checks that it fails with
 * what, naming batch and seq. */
static void expect_verify_fails(const char *path, const char *name,
                                const char *what, int64_t batch, int64_t seq)
{
    struct store *s = open_ro(path);
    struct store_verify_result v;

    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    if (v.ok || strcmp(v.what, what) != 0)
        fail_msg("%s: got '%s'", name, v.what);
    assert_int_equal(v.bad_batch, batch);
    assert_int_equal(v.bad_seq, seq);
    store_close(s);
}

static void test_verify_ok(void **state)
{
    char path[TEST_PATH_MAX];
    struct store_verify_result v;
    struct store *s;

    (void)state;
    make_chain_db("verify_ok.db", path);
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.batches, TAMPER_BATCHES);
    assert_int_equal(v.readings, TAMPER_BATCHES * TAMPER_BATCH);
    assert_int_equal(v.bad_batch, 0);
    assert_string_equal(v.what, "");
    store_close(s);

    /* An empty database verifies too. */
    s = open_rw("verify_empty.db", path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.batches, 0);
    store_close(s);
}

static void test_verify_tampered(void **state)
{
    static const struct {
        const char *name;
        const char *sql; /* run through a raw connection */
        const char *what;
        int64_t bad_batch, bad_seq;
    } cases[] = {
        {"t_update.db",
         "DROP TRIGGER readings_immutable;"
         " UPDATE readings SET value = 99 WHERE seq = 7",
         "seq 7 was changed", 2, 7},
        {"t_error.db",
         "DROP TRIGGER readings_immutable;"
         " UPDATE readings SET error = 'ok' WHERE seq = 4",
         "seq 4 was changed", 1, 4},
        /* A value of another type that reads as the same number. */
        {"t_type.db",
         "DROP TRIGGER readings_immutable;"
         " UPDATE readings SET value = 'x' WHERE seq = 1",
         "seq 1 was changed", 1, 1},
        {"t_sensor.db", "UPDATE sensors SET tag = 'FT-999' WHERE id = 1",
         "seq 1 was changed", 1, 1},
        {"t_delete.db", "DELETE FROM readings WHERE seq = 12",
         "seq 12 was deleted", 3, 12},
        {"t_delete_last.db", "DELETE FROM readings WHERE seq = 10",
         "seq 10 was deleted", 2, 10},
        {"t_replace.db",
         "DELETE FROM readings WHERE seq = 9; INSERT INTO readings"
         " (seq, sensor_id, ts_us, value, quality) VALUES"
         " (9, 1, 1008, 1.0, 'good')",
         "seq 9 was changed", 2, 9},
        {"t_insert.db",
         "INSERT INTO readings (sensor_id, ts_us, value, quality)"
         " VALUES (1, 5000, 1.0, 'good')",
         "seq 16 is in no batch (inserted)", 0, 16},
        {"t_hash.db", "UPDATE batches SET hash = '" SHA_ONES "' WHERE id = 2",
         "batch 2's hash was altered", 2, 0},
        {"t_prev.db",
         "UPDATE batches SET prev_hash = '" SHA_ONES "' WHERE id = 3",
         "batch 3 does not follow batch 2", 3, 0},
        {"t_first.db",
         "UPDATE batches SET prev_hash = '" SHA_ONES "' WHERE id = 1",
         "batch 1 does not start the chain", 1, 0},
        /* A whole batch and its readings gone. */
        {"t_batch.db",
         "DELETE FROM readings WHERE seq BETWEEN 6 AND 10;"
         " DELETE FROM batches WHERE id = 2",
         "batch 3 does not follow batch 1", 3, 0},
        {"t_range.db", "UPDATE batches SET last_seq = 9, n = 4 WHERE id = 2",
         "batch 2's hash was altered", 2, 0},
        {"t_n.db", "UPDATE batches SET n = 4 WHERE id = 2",
         "batch 2's seq range was altered", 2, 0},
        /* A batch row gone, its readings left. */
        {"t_orphan.db", "DELETE FROM batches WHERE id = 2",
         "seq 6 is in no batch (inserted)", 0, 6},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TEST_PATH_MAX];

        make_chain_db(cases[i].name, path);
        raw_exec(path, cases[i].sql);
        expect_verify_fails(path, cases[i].name, cases[i].what,
                            cases[i].bad_batch, cases[i].bad_seq);
    }
}

static void test_verify_range(void **state)
{
    static const struct {
        int64_t from, to;
        int64_t batches;
    } ranges[] = {
        {6, 10, 1}, {7, 8, 1},   {4, 7, 2},    {10, 11, 2},
        {1, 15, 3}, {15, 15, 1}, {16, 100, 0},
    };
    char path[TEST_PATH_MAX];
    struct store_verify_result v;
    struct store *s;

    (void)state;
    make_chain_db("range.db", path);
    s = open_ro(path);
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
        assert_int_equal(store_verify(s, ranges[i].from, ranges[i].to, &v), 0);
        assert_true(v.ok);
        assert_int_equal(v.batches, ranges[i].batches);
        assert_int_equal(v.readings, ranges[i].batches * TAMPER_BATCH);
    }
    store_close(s);

    /* A change in batch 1 is outside 6..10, but inside 1..5. */
    raw_exec(path, "DROP TRIGGER readings_immutable;"
                   " UPDATE readings SET ts_us = 1 WHERE seq = 2;"
                   " INSERT INTO readings (sensor_id, ts_us, value, quality)"
                   " VALUES (1, 5000, 1.0, 'good')");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 6, 10, &v), 0);
    assert_true(v.ok);
    assert_int_equal(store_verify(s, 3, 4, &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what, "seq 2 was changed");
    /* The inserted seq 16 is past 6..10, not past 6..16. */
    assert_int_equal(store_verify(s, 6, 16, &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what, "seq 16 is in no batch (inserted)");
    store_close(s);

    /* Batch 2 is checked against batch 1's stored hash even when the
     * range starts inside batch 2. */
    raw_exec(path,
             "UPDATE batches SET prev_hash = '" SHA_ONES "' WHERE id = 2");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 8, 9, &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what, "batch 2 does not follow batch 1");
    store_close(s);
}

/* --- runs ------------------------------------------------------------ */

#define RUNS_MAX 8

struct runs_seen {
    struct store_run runs[RUNS_MAX];
    char text[RUNS_MAX][TEST_ROW_MAX]; /* the strings, copied */
    size_t n;
};

static int seen_run(const struct store_run *run, void *arg)
{
    struct runs_seen *seen = arg;
    size_t i = seen->n++;

    assert_true(i < RUNS_MAX);
    seen->runs[i] = *run;
    snprintf(seen->text[i], TEST_ROW_MAX, "%s|%s|%s|%s|%s", run->name,
             run->operator_name ? run->operator_name : "NULL",
             run->note ? run->note : "NULL",
             run->config_sha256 ? run->config_sha256 : "NULL",
             run->chain_head ? run->chain_head : "NULL");
    return 0;
}

static void commit_at(struct store *s, int64_t sensor, const int64_t *ts,
                      size_t n)
{
    struct reading r[16];

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        r[i] = mk_reading(sensor, ts[i], QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, n, NULL, 0), 0);
}

static void test_runs(void **state)
{
    static const int64_t before[] = {500, 999}, in1[] = {1000, 1500, 2999},
                         gap[] = {3000, 3500}, in2[] = {4000, 4500};
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], head[SHA256_HEX_LEN];
    struct fixture f;
    struct store *s = open_synced("runs.db", path, &f);
    struct runs_seen *seen = xcalloc(1, sizeof(*seen));
    int64_t ft = f.sensors[SENSOR_FT].db_id, last;
    struct store_verify_result v;

    (void)state;
    assert_int_equal(store_run_open(s, seen_run, seen), 1);
    assert_int_equal(store_run_stop(s, NULL, 10, 0), -1);
    assert_string_equal(store_errmsg(s), "no run is open");
    assert_int_equal(store_run_stop(s, "R-1", 10, 0), -1);
    assert_string_equal(store_errmsg(s), "run 'R-1' is not open");

    /* No config recorded yet: no config hash. */
    assert_int_equal(store_run_start(s, "R-0", NULL, NULL, 100, 0), 0);
    assert_int_equal(store_run_stop(s, "R-0", 50, 0), 0); /* clock went back */
    assert_int_equal(store_add_event(s, "config", "c0ffee"), 0);
    assert_int_equal(store_add_event(s, "config", "abc123"), 0);
    commit_at(s, ft, before, 2);
    assert_int_equal(store_run_start(s, "R-1", "alice", "first", 1000, 0), 0);
    assert_int_equal(store_run_start(s, "R-1", NULL, NULL, 1100, 0), -1);
    assert_string_equal(store_errmsg(s), "run 'R-1' already exists");
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 1100, 0), -1);
    assert_string_equal(store_errmsg(s),
                        "run 'R-1' is still open; stop it first");
    assert_int_equal(store_run_open(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->text[0], "R-1|alice|first|abc123|NULL");
    assert_false(seen->runs[0].ended);
    commit_at(s, ft, in1, 3);
    assert_int_equal(store_run_stop(s, "R-9", 3000, 0), -1);
    assert_string_equal(store_errmsg(s),
                        "run 'R-9' is not open (the open run is 'R-1')");
    assert_int_equal(store_run_stop(s, NULL, 3000, 0), 0);
    assert_int_equal(store_run_stop(s, NULL, 3001, 0), -1);
    assert_string_equal(store_errmsg(s), "no run is open");
    commit_at(s, ft, gap, 2);
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 4000, 0), 0);
    commit_at(s, ft, in2, 2);

    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_runs(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 3);
    assert_string_equal(seen->text[0], "R-0|NULL|NULL|NULL|NULL");
    assert_int_equal(seen->runs[0].ended_us, 100);
    assert_int_equal(seen->runs[0].readings, 0);
    assert_string_equal(seen->text[1], "R-1|alice|first|abc123|NULL");
    assert_true(seen->runs[1].ended);
    assert_int_equal(seen->runs[1].started_us, 1000);
    assert_int_equal(seen->runs[1].ended_us, 3000);
    assert_int_equal(seen->runs[1].readings, 3);
    assert_string_equal(seen->text[2], "R-2|NULL|NULL|abc123|NULL");
    assert_false(seen->runs[2].ended);
    assert_int_equal(seen->runs[2].readings, 2);

    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_run_get(s, "nope", seen_run, seen), 1);
    assert_int_equal(seen->n, 0);
    assert_int_equal(store_run_get(s, "R-1", seen_run, seen), 0);
    assert_int_equal(seen->n, 1);
    assert_int_equal(seen->runs[0].readings, 3);

    raw_row(path,
            "SELECT group_concat(ts_us || ' ' || kind || ' ' || detail, ', ')"
            " FROM events WHERE kind LIKE 'run_%' ORDER BY seq",
            row);
    assert_string_equal(row, "100 run_start R-0, 50 run_stop R-0,"
                             " 1000 run_start R-1 (operator: alice),"
                             " 3000 run_stop R-1, 4000 run_start R-2");

    /* Sealing: every ended run gets the chain head, once. */
    assert_int_equal(store_run_stop(s, "R-2", 5000, 0), 0);
    assert_int_equal(store_chain_head(s, head, &last), 0);
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_run_seal(s, seen_run, seen), 3);
    assert_int_equal(seen->n, 3);
    for (size_t i = 0; i < seen->n; i++) {
        assert_non_null(seen->runs[i].chain_head);
        assert_int_equal(seen->runs[i].chain_seq, last);
        assert_non_null(strstr(seen->text[i], head));
    }
    assert_int_equal(store_run_seal(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 3);
    raw_row(path, "SELECT chain_head, chain_seq FROM runs WHERE name = 'R-1'",
            row);
    assert_non_null(strstr(row, head));

    /* Verifying a run: its readings, then its head. */
    assert_int_equal(store_verify_run(s, "nope", &v), 1);
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_true(v.ok);
    assert_int_equal(store_verify_run(s, "R-0", &v), 0);
    assert_true(v.ok);
    raw_exec(path, "UPDATE runs SET chain_head = '" SHA_ONES "'"
                   " WHERE name = 'R-1'");
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what,
                        "run 'R-1''s chain head does not match batch 4");
    raw_exec(path, "DELETE FROM readings WHERE seq = 4");
    assert_int_equal(store_verify_run(s, "R-2", &v), 0);
    assert_true(v.ok); /* seq 4 was R-1's */
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_string_equal(v.what, "seq 4 was deleted");
    free(seen);
    store_close(s);
}

static int count_run(const struct store_run *run, void *arg)
{
    assert_non_null(run->chain_head);
    (*(int *)arg)++;
    return 0;
}

struct cli_job {
    char path[TEST_PATH_MAX];
    int failed;
    char err[STORE_ERR_MAX];
};

/* The CLI's side: its own connection, starting and stopping runs. */
static void *cli_main(void *arg)
{
    struct cli_job *job = arg;
    struct store *s = store_open(job->path, STORE_UPDATE, job->err);
    char name[32];

    if (!s) {
        job->failed++;
        return NULL;
    }
    for (int i = 0; i < CONCURRENT_RUNS; i++) {
        snprintf(name, sizeof(name), "C-%d", i);
        if (store_run_start(s, name, "cli", NULL, time_real_us(), 0) < 0 ||
            store_run_stop(s, name, time_real_us(), 0) < 0) {
            snprintf(job->err, sizeof(job->err), "%s", store_errmsg(s));
            job->failed++;
            break;
        }
    }
    store_close(s);
    return NULL;
}

static void test_runs_two_connections(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct fixture f;
    struct store *w = open_synced("runs2.db", path, &f);
    struct store *cli = store_open(path, STORE_UPDATE, err);
    struct writer_job wj = {w, f.sensors[0].db_id, 0};
    struct cli_job *cj = xcalloc(1, sizeof(*cj));
    struct store_verify_result v;
    pthread_t wt, ct;
    int nruns = 0;
    int64_t v0, v1, v2;
    int64_t ts[1] = {1};

    (void)state;
    if (!cli)
        fail_msg("store_open: %s", err);
    /* The daemon notices the CLI's commits, not its own. */
    v0 = store_data_version(w);
    assert_int_equal(store_run_start(cli, "A", NULL, NULL, 10, 0), 0);
    v1 = store_data_version(w);
    assert_true(v1 != v0);
    commit_at(w, wj.sensor, ts, 1);
    v2 = store_data_version(w);
    assert_int_equal(v2, v1);
    assert_int_equal(store_run_stop(cli, "A", 20, 0), 0);
    store_close(cli);

    snprintf(cj->path, sizeof(cj->path), "%s", path);
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &wj), 0);
    assert_int_equal(pthread_create(&ct, NULL, cli_main, cj), 0);
    assert_int_equal(pthread_join(ct, NULL), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    if (cj->failed)
        fail_msg("cli: %s", cj->err);
    assert_int_equal(wj.failed, 0);
    assert_int_equal(store_run_seal(w, NULL, NULL), CONCURRENT_RUNS + 1);
    assert_int_equal(store_runs(w, count_run, &nruns), 0);
    assert_int_equal(nruns, CONCURRENT_RUNS + 1);
    assert_int_equal(store_verify(w, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, 1 + CONCURRENT_BATCHES * CONCURRENT_BATCH);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM runs"
                                   " WHERE chain_head IS NOT NULL"),
                     CONCURRENT_RUNS + 1);
    free(cj);
    store_close(w);
}

static void test_row_run(void **state)
{
    static const struct {
        int64_t ts;
        const char *run;
    } cases[] = {
        {999, "-"},  {1000, "R-1"}, {1999, "R-1"}, {2000, "-"},
        {2999, "-"}, {3000, "R-2"}, {9000, "R-2"},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("rowrun.db", path, &f);
    struct page pg;
    int64_t ts[N];

    (void)state;
    for (size_t i = 0; i < N; i++)
        ts[i] = cases[i].ts;
    assert_int_equal(store_run_start(s, "R-1", NULL, NULL, 1000, 0), 0);
    assert_int_equal(store_run_stop(s, "R-1", 2000, 0), 0);
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 3000, 0), 0);
    commit_at(s, f.sensors[0].db_id, ts, N);
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(store_readings_after(s, 0, N, page_row, &pg), N);
    for (size_t i = 0; i < N; i++)
        if (strcmp(pg.runs[i], cases[i].run) != 0)
            fail_msg("ts %lld: run '%s', want '%s'", (long long)cases[i].ts,
                     pg.runs[i], cases[i].run);
    store_close(s);
}

/* --- export ---------------------------------------------------------- */

struct export_seen {
    char text[16][TEST_ROW_MAX];
    int n;
    int stop_after; /* 0: never */
};

static int seen_export(const struct store_export_row *row, void *arg)
{
    struct export_seen *e = arg;

    assert_true(e->n < 16);
    if (row->has_value)
        snprintf(e->text[e->n], TEST_ROW_MAX, "%lld %lld %s %s %g %s %s",
                 (long long)row->seq, (long long)row->ts_us, row->sensor,
                 row->kind, row->value, row->unit, row->quality);
    else
        snprintf(e->text[e->n], TEST_ROW_MAX, "%lld %lld %s %s - %s %s %s",
                 (long long)row->seq, (long long)row->ts_us, row->sensor,
                 row->kind, row->unit, row->quality,
                 row->error ? row->error : "NULL");
    e->n++;
    return e->stop_after && e->n == e->stop_after;
}

/* What test_run_seqs reads of a run. */
struct seq_run {
    int64_t first_seq, last_seq, readings, chain_seq;
    bool sealed;
};

static int seq_run_take(const struct store_run *r, void *arg)
{
    struct seq_run *sr = arg;

    sr->first_seq = r->first_seq;
    sr->last_seq = r->last_seq;
    sr->readings = r->readings;
    sr->chain_seq = r->chain_seq;
    sr->sealed = r->chain_head != NULL;
    return 0;
}

/* Sums a sensor version's counts, for the manifest's. */
static int seq_infos_count(const struct store_sensor_info *si, void *arg)
{
    *(int64_t *)arg +=
        si->good + si->out_of_range + si->invalid + si->comm_error + si->missed;
    return 0;
}

/*
 * A run with a seq range (as the daemon starts one) holds exactly its
 * readings whatever their times: a clock step back after its stop puts
 * no later reading into it. Export, the manifest's counts, the run's count,
 * verify --run, the MQTT "run" of a row and the seal follow the seqs; a run
 * without seqs (an older database's) keeps the time rule.
 */
static void test_run_seqs(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("runseq.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, count = 0;
    struct export_seen *e = xcalloc(1, sizeof(*e));
    struct seq_run sr;
    struct store_verify_result v;
    struct page pg;
    /* seq: 1, 2 before; 3, 4, 5 in S; 6 after its stop, stamped inside
     * its times (a clock step back); 7 in T (by time); 8 after T's stop
     * but inside its times (the time rule takes it in). */
    static const int64_t ts[] = {100, 200, 1000, 1100, 1500, 1200, 3500, 3600};

    (void)state;
    commit_at(s, ft, &ts[0], 1);
    commit_at(s, ft, &ts[1], 1);
    assert_int_equal(store_run_start(s, "S", NULL, NULL, 1000, 3), 0);
    for (int i = 2; i < 5; i++)
        commit_at(s, ft, &ts[i], 1);
    assert_int_equal(store_run_stop(s, "S", 2000, 5), 0);
    commit_at(s, ft, &ts[5], 1);
    assert_int_equal(store_run_seal(s, NULL, NULL), 1);

    assert_int_equal(store_run_get(s, "S", seq_run_take, &sr), 0);
    assert_int_equal(sr.first_seq, 3);
    assert_int_equal(sr.last_seq, 5);
    assert_int_equal(sr.readings, 3);
    /* sealed with the head of the batch holding seq 5, not the newer one */
    assert_true(sr.sealed);
    assert_int_equal(sr.chain_seq, 5);

    assert_int_equal(store_export_seqs(s, 3, 5, NULL, 0, seen_export, e), 3);
    assert_string_equal(e->text[0], "3 1000 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[1], "4 1100 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[2], "5 1500 FT-101 flow 1 m3/h good");
    assert_int_equal(
        store_sensor_infos_seqs(s, 3, 5, NULL, 0, seq_infos_count, &count), 0);
    assert_int_equal(count, 3);

    assert_int_equal(store_verify_run(s, "S", &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, 3);

    /* An older run: no seqs, by time. */
    assert_int_equal(store_run_start(s, "T", NULL, NULL, 3000, 0), 0);
    commit_at(s, ft, &ts[6], 1);
    assert_int_equal(store_run_stop(s, "T", 4000, 0), 0);
    commit_at(s, ft, &ts[7], 1);
    assert_int_equal(store_run_get(s, "T", seq_run_take, &sr), 0);
    assert_int_equal(sr.first_seq, 0);
    assert_int_equal(sr.readings, 2);
    assert_int_equal(store_verify_run(s, "T", &v), 0);
    assert_int_equal(v.readings, 2);

    memset(&pg, 0, sizeof(pg));
    assert_int_equal(store_readings_after(s, 0, 8, page_row, &pg), 8);
    {
        static const char *const want[] = {"-", "-", "S", "S",
                                           "S", "-", "T", "T"};

        for (int i = 0; i < 8; i++)
            if (strcmp(pg.runs[i], want[i]) != 0)
                fail_msg("seq %d: run '%s', want '%s'", i + 1, pg.runs[i],
                         want[i]);
    }
    free(e);
    store_close(s);
}

static void test_export(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("export.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id,
            at = f.sensors[SENSOR_AT].db_id;
    struct reading r[6];
    struct export_seen *e = xcalloc(1, sizeof(*e));
    const char *only_pt[] = {"PT-201"}, *pt_at[] = {"AT-301", "PT-201"},
               *none[] = {"NO-1"};

    (void)state;
    /* Committed out of time order, and with equal times whose tags sort
     * the other way from their seqs. */
    r[0] = mk_reading(pt, 200, QUALITY_GOOD, 2.0, "", 0, NULL); /* seq 1 */
    r[1] = mk_reading(ft, 200, QUALITY_GOOD, 1.0, "", 0, NULL); /* 2 */
    r[2] = mk_reading(at, 100, QUALITY_GOOD, 7.0, "", 0, NULL); /* 3 */
    r[3] = mk_reading(ft, 200, QUALITY_OUT_OF_RANGE, 60, "", 0, NULL); /* 4 */
    r[4] = mk_reading(pt, 300, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[5] = mk_reading(ft, 99, QUALITY_GOOD, 1.0, "", 0, NULL); /* 6 */
    assert_int_equal(store_commit_batch(s, r, 6, NULL, 0), 0);

    assert_int_equal(store_export(s, 100, 300, NULL, 0, seen_export, e), 4);
    assert_string_equal(e->text[0], "3 100 AT-301 ph 7 pH good");
    assert_string_equal(e->text[1], "2 200 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[2], "4 200 FT-101 flow 60 m3/h out_of_range");
    assert_string_equal(e->text[3], "1 200 PT-201 pressure 2 bar good");

    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, 301, only_pt, 1, seen_export, e), 2);
    assert_string_equal(e->text[0], "1 200 PT-201 pressure 2 bar good");
    assert_string_equal(e->text[1],
                        "5 300 PT-201 pressure - bar comm_error timeout");
    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, INT64_MAX, pt_at, 2, seen_export, e),
                     3);
    assert_string_equal(e->text[0], "3 100 AT-301 ph 7 pH good");
    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, INT64_MAX, none, 1, seen_export, e), 0);
    assert_int_equal(store_export(s, 300, 300, NULL, 0, seen_export, e), 0);
    assert_int_equal(store_export(s, 99, 100, NULL, 0, seen_export, e), 1);
    assert_string_equal(e->text[0], "6 99 FT-101 flow 1 m3/h good");

    /* fn stops it: -1, and the store goes on working. */
    memset(e, 0, sizeof(*e));
    e->stop_after = 2;
    assert_int_equal(store_export(s, 0, INT64_MAX, NULL, 0, seen_export, e),
                     -1);
    assert_int_equal(e->n, 2);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    free(e);
    store_close(s);
}

#define INFOS_MAX 4

struct infos_seen {
    struct store_sensor_info si[INFOS_MAX];
    char text[INFOS_MAX][TEST_ROW_MAX];
    size_t n;
};

static int seen_info(const struct store_sensor_info *si, void *arg)
{
    struct infos_seen *seen = arg;
    size_t i = seen->n++;

    assert_true(i < INFOS_MAX);
    seen->si[i] = *si;
    snprintf(seen->text[i], TEST_ROW_MAX,
             "%s %s %s %s %d %s %d %s %s %g %g %d %s %s %s %lld/%lld/%lld/%lld",
             si->tag, si->kind, si->unit, si->bus, si->unit_id, si->table,
             si->address, si->type, si->byte_order, si->scale, si->offset,
             si->interval_ms, si->cal_date ? si->cal_date : "NULL",
             si->cal_due ? si->cal_due : "NULL",
             si->cal_certificate ? si->cal_certificate : "NULL",
             (long long)si->good, (long long)si->out_of_range,
             (long long)si->invalid, (long long)si->comm_error);
    return 0;
}

static void test_sensor_infos(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("infos.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id;
    struct reading r[8];
    struct infos_seen *seen = xcalloc(1, sizeof(*seen));
    const char *tags[] = {"PT-201", "AT-301"}, *bad[] = {"AT-301", "NO-1"};

    (void)state;
    r[0] = mk_reading(ft, 100, QUALITY_GOOD, 1, "", 0, NULL);
    r[1] = mk_reading(ft, 101, QUALITY_GOOD, 1, "", 0, NULL);
    r[2] = mk_reading(ft, 102, QUALITY_OUT_OF_RANGE, 99, "", 0, NULL);
    r[3] = mk_reading(ft, 103, QUALITY_INVALID, 0, "", 0, NULL);
    r[4] = mk_reading(ft, 104, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[5] = mk_reading(ft, 105, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[6] = mk_reading(ft, 200, QUALITY_GOOD, 1, "", 0, NULL); /* outside */
    r[7] = mk_reading(pt, 50, QUALITY_GOOD, 1, "", 0, NULL);  /* outside */
    assert_int_equal(store_commit_batch(s, r, 8, NULL, 0), 0);

    /* All sensors with readings in the window: FT-101 only. */
    assert_int_equal(store_sensor_infos(s, 100, 200, NULL, 0, seen_info, seen),
                     0);
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->text[0],
                        "FT-101 flow m3/h plant-a 1 input 0 float32 ABCD 1 0 "
                        "1000 2026-10-01 2027-10-01 KTL-2026-0412 2/1/1/2");
    /* Named sensors, by tag, with or without readings. */
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_sensor_infos(s, 0, 200, tags, 2, seen_info, seen),
                     0);
    assert_int_equal(seen->n, 2);
    assert_string_equal(seen->text[0],
                        "AT-301 ph pH rs485-1 3 holding 10 int16 AB 0.01 0 "
                        "1000 NULL NULL NULL 0/0/0/0");
    assert_string_equal(seen->text[1],
                        "PT-201 pressure bar plant-a 2 holding 100 int16 AB "
                        "0.01 0 500 NULL NULL NULL 1/0/0/0");
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_sensor_infos(s, 0, 200, bad, 2, seen_info, seen), 1);
    assert_string_equal(store_errmsg(s), "unknown sensor 'NO-1'");
    assert_int_equal(seen->n, 0);
    free(seen);
    store_close(s);
}

struct events_seen {
    char text[TEST_ROW_MAX];
    int n;
};

static int seen_event(int64_t ts_us, const char *kind, const char *detail,
                      void *arg)
{
    struct events_seen *e = arg;
    size_t len = strlen(e->text);

    snprintf(e->text + len, sizeof(e->text) - len, "%s%lld %s %s",
             e->n++ ? ", " : "", (long long)ts_us, kind,
             detail ? detail : "NULL");
    return 0;
}

static void test_events_window(void **state)
{
    char path[TEST_PATH_MAX];
    struct store *s = open_rw("evwin.db", path);
    struct event ev[4] = {mk_event(300, "missed", "FT-101: 2 slots"),
                          mk_event(100, "start", ""),
                          mk_event(200, "config", "abc"),
                          mk_event(200, "bus_down", "plant-a: timeout")};
    struct events_seen e = {"", 0};

    (void)state;
    assert_int_equal(store_commit_batch(s, NULL, 0, ev, 4), 0);
    assert_int_equal(store_events(s, 100, 300, seen_event, &e), 0);
    assert_string_equal(e.text, "100 start NULL, 200 config abc,"
                                " 200 bus_down plant-a: timeout");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_events(s, 201, 301, seen_event, &e), 0);
    assert_string_equal(e.text, "300 missed FT-101: 2 slots");
    store_close(s);
}

static void test_site(void **state)
{
    char path[TEST_PATH_MAX];
    struct store *s = open_rw("site.db", path);

    (void)state;
    assert_null(store_site(s));
    assert_int_equal(store_set_site(s, "daegu-demo-1"), 0);
    assert_string_equal(store_site(s), "daegu-demo-1");
    assert_int_equal(store_set_site(s, "daegu-demo-2"), 0);
    store_close(s);
    s = open_ro(path);
    assert_string_equal(store_site(s), "daegu-demo-2");
    assert_int_equal(store_set_site(s, "x"), -1); /* read-only */
    store_close(s);
}

static void test_open_update(void **state)
{
    char path[TEST_PATH_MAX], want[TEST_ROW_MAX], err[STORE_ERR_MAX] = "";
    struct store *s;
    FILE *fp;

    (void)state;
    path_of(path, "update_missing.db");
    assert_null(store_open(path, STORE_UPDATE, err));
    snprintf(want, sizeof(want), "cannot open '%s': no such database", path);
    assert_string_equal(err, want);
    assert_int_equal(access(path, F_OK), -1);

    /* An empty file is not given a schema. */
    path_of(path, "update_empty.db");
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(store_open(path, STORE_UPDATE, err));
    snprintf(want, sizeof(want), "'%s' is not a tbdaq database: it is empty",
             path);
    assert_string_equal(err, want);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"), 0);

    /* A database: read-write. */
    s = open_rw("update.db", path);
    store_close(s);
    s = store_open(path, STORE_UPDATE, err);
    assert_non_null(s);
    assert_int_equal(store_run_start(s, "U-1", NULL, NULL, 1, 0), 0);
    store_close(s);
}

/* --- the rate -------------------------------------------------------- */

static int export_nothing(const struct store_export_row *row, void *arg)
{
    (void)row, (void)arg;
    return 0;
}

static void test_commit_rate(void **state)
{
    static const uint16_t w[] = {0x41c8, 0x0000};
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("rate.db", path, &f);
    struct reading *r = xcalloc(BENCH_BATCH, sizeof(*r));
    struct totals t = {0, 0};
    struct store_verify_result v;
    int64_t t0, t1, ts = 0, rows;

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

    t0 = time_mono_ns();
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    t1 = time_mono_ns();
    assert_true(v.ok);
    assert_int_equal(v.readings, BENCH_BATCHES * BENCH_BATCH);
    print_message("verify: %.0f readings/s\n",
                  (double)v.readings * NS_PER_S / (double)(t1 - t0));
    t0 = time_mono_ns();
    rows = store_export(s, 0, INT64_MAX, NULL, 0, export_nothing, NULL);
    t1 = time_mono_ns();
    assert_int_equal(rows, BENCH_BATCHES * BENCH_BATCH);
    print_message("export: %.0f rows/s\n",
                  (double)rows * NS_PER_S / (double)(t1 - t0));
    free(r);
    store_close(s);
}

/* --- retention ------------------------------------------------------- */

/* Readings per batch of the retention scenario. */
#define PRUNE_BATCH 5
/* The cut-offs of the scenario's first and second pruning. */
#define PRUNE_CUT1 1000000
#define PRUNE_CUT2 1000000000
/* Batches and their size in the pruning rate measurement, and the
 * readings per call the daemon asks for. */
#define PRUNE_BENCH_BATCHES 1000
#define PRUNE_BENCH_BATCH 100
#define PRUNE_BENCH_MAX 2000
/* Runs recorded before the measured readings: each call checks the
 * batches against them. */
#define PRUNE_BENCH_RUNS 100
/* A bound no pruning call should come near, even under the sanitizers:
 * only there to catch a step whose work is not bounded. */
#define PRUNE_CALL_MAX_MS 500

/* One batch of PRUNE_BATCH readings at ts0, ts0 + 1, ..., cycling over the
 * first nsensors sensors of f. */
static void commit_span(struct store *s, const struct fixture *f, int64_t ts0,
                        size_t nsensors)
{
    struct reading r[PRUNE_BATCH];

    for (int i = 0; i < PRUNE_BATCH; i++)
        r[i] = mk_reading(f->sensors[(size_t)i % nsensors].db_id, ts0 + i,
                          QUALITY_GOOD, i * 0.5, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, PRUNE_BATCH, NULL, 0), 0);
}

/*
 * The retention scenario, closed; batch k holds seqs 5k-4..5k:
 *   1  ts 100      old; the only readings of XT-401
 *   2  ts 200      old, inside run R-A [200, 300)
 *   3  ts 300      old, after R-A, but its chain head (sealed here)
 *   4  ts 400      old
 *   5  ts 500      old
 *   6  ts 2000000  newer than PRUNE_CUT1
 *   7  ts 700      old again (a clock step back): after batch 6
 *   8  ts 2600000  inside run R-B, still open (started 2500000)
 */
static void make_prune_db_as(const char *name, char *path, bool old)
{
    struct fixture f;
    struct store *s = open_rw(name, path);

    fixture_init(&f, NSENSORS);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    /* descriptions as an older schema left them: under no hash */
    if (old)
        raw_exec(path, "UPDATE sensors SET chain_seq = 0");
    commit_span(s, &f, 100, NSENSORS);
    assert_int_equal(store_run_start(s, "R-A", NULL, NULL, 200, 0), 0);
    commit_span(s, &f, 200, 3);
    assert_int_equal(store_run_stop(s, "R-A", 300, 0), 0);
    commit_span(s, &f, 300, 3);
    assert_int_equal(store_run_seal(s, NULL, NULL), 1);
    commit_span(s, &f, 400, 3);
    commit_span(s, &f, 500, 3);
    commit_span(s, &f, 2000000, 3);
    commit_span(s, &f, 700, 3);
    assert_int_equal(store_run_start(s, "R-B", NULL, NULL, 2500000, 0), 0);
    commit_span(s, &f, 2600000, 3);
    store_close(s);
}

static void make_prune_db(const char *name, char *path)
{
    make_prune_db_as(name, path, false);
}

/* make_prune_db() as a schema before 4 would have made it: the batches
 * hash no description. */
static void make_old_prune_db(const char *name, char *path)
{
    make_prune_db_as(name, path, true);
}

/* Asserts that sensor_last's counts are the real ones. */
static void assert_counts_agree(const char *path)
{
    char want[TEST_ROW_MAX], got[TEST_ROW_MAX];

    raw_row(path,
            "SELECT group_concat(sensor_id || ':' || c) FROM (SELECT"
            " sensor_id, count(*) AS c FROM readings GROUP BY sensor_id"
            " ORDER BY sensor_id)",
            want);
    raw_row(path,
            "SELECT group_concat(sensor_id || ':' || count) FROM (SELECT"
            " sensor_id, count FROM sensor_last WHERE count != 0"
            " ORDER BY sensor_id)",
            got);
    assert_string_equal(got, want);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensor_last"
                                   " WHERE count < 0"),
                     0);
}

/* Runs store_prune and checks what it reports. */
static void prune_expect(struct store *s, int64_t before, size_t max,
                         int64_t batches, int64_t readings, bool more)
{
    struct store_prune_result res;

    if (store_prune(s, before, INT64_MAX, max, &res) != 0)
        fail_msg("store_prune: %s", store_errmsg(s));
    assert_int_equal(res.batches, batches);
    assert_int_equal(res.readings, readings);
    assert_int_equal(res.more, more);
    assert_int_equal(res.damaged, 0);
}

static void test_prune(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX];
    struct status_seen *seen = xcalloc(1, sizeof(*seen));
    struct store_verify_result v;
    struct store *s;
    int64_t cursor;

    (void)state;
    make_prune_db("prune.db", path);
    s = open_rw("prune.db", path);
    prune_expect(s, PRUNE_CUT1, 1000, 3, 3 * PRUNE_BATCH, false);
    raw_row(path,
            "SELECT group_concat(batch_id || ' ' || first_ts_us || '-' ||"
            " last_ts_us || ' ' || readings, ', ') FROM (SELECT * FROM"
            " pruned ORDER BY batch_id)",
            row);
    assert_string_equal(row, "1 100-104 5, 4 400-404 5, 5 500-504 5");
    raw_row(path,
            "SELECT group_concat(seq) FROM (SELECT seq FROM readings"
            " WHERE seq % 5 = 1 ORDER BY seq)",
            row);
    /* 2 (R-A), 3 (R-A's chain head), 6 (new), 7 (after 6), 8 (R-B) */
    assert_string_equal(row, "6,11,26,31,36");
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"),
                     5 * PRUNE_BATCH);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM batches"), 8);
    assert_int_equal(store_get_state(s, STORE_STATE_PRUNE, &cursor), 0);
    assert_int_equal(cursor, 5);
    assert_counts_agree(path);

    /* XT-401's only readings are gone: status shows none, not garbage. */
    assert_int_equal(store_status(s, 0, seen_sensor, seen_bus, seen), 0);
    assert_int_equal(seen->nsensors, NSENSORS);
    assert_int_equal(strncmp(seen->text[3], "XT-401|", 7), 0);
    assert_false(seen->sensors[3].has_reading);
    assert_true(seen->sensors[3].pruned);
    assert_true(seen->sensors[0].has_reading);
    assert_false(seen->sensors[0].pruned);
    assert_int_equal(seen->buses[1].readings_total,
                     raw_int(path, "SELECT count(*) FROM readings WHERE"
                                   " sensor_id IN (SELECT id FROM sensors"
                                   " WHERE bus = 'rs485-1')"));

    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    if (!v.ok)
        fail_msg("verify: %s", v.what);
    assert_int_equal(v.batches, 5);
    assert_int_equal(v.readings, 5 * PRUNE_BATCH);
    assert_int_equal(v.pruned_batches, 3);
    assert_int_equal(v.pruned_readings, 3 * PRUNE_BATCH);
    assert_int_equal(store_verify_run(s, "R-A", &v), 0);
    if (!v.ok)
        fail_msg("verify R-A: %s", v.what);
    assert_int_equal(store_verify_run(s, "R-B", &v), 0);
    assert_true(v.ok);

    /* Nothing more at the same cut-off; the cursor is kept across a
     * reopen, and a later cut-off takes 6 and 7 but not R-B's 8. */
    prune_expect(s, PRUNE_CUT1, 1000, 0, 0, false);
    store_close(s);
    s = open_rw("prune.db", path);
    assert_int_equal(store_get_state(s, STORE_STATE_PRUNE, &cursor), 0);
    assert_int_equal(cursor, 5);
    prune_expect(s, PRUNE_CUT1, 1000, 0, 0, false);
    prune_expect(s, PRUNE_CUT2, 1000, 2, 2 * PRUNE_BATCH, false);
    assert_int_equal(store_get_state(s, STORE_STATE_PRUNE, &cursor), 0);
    assert_int_equal(cursor, 8);
    raw_row(path,
            "SELECT group_concat(batch_id) FROM (SELECT batch_id FROM"
            " pruned ORDER BY batch_id)",
            row);
    assert_string_equal(row, "1,4,5,6,7");
    assert_counts_agree(path);
    store_close(s);

    /* A reader sees the same. */
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.batches, 3);
    assert_int_equal(v.pruned_batches, 5);
    assert_int_equal(v.pruned_readings, 5 * PRUNE_BATCH);
    assert_int_equal(store_verify_run(s, "R-A", &v), 0);
    assert_true(v.ok);
    /* ... and may not prune. */
    assert_int_equal(store_prune(s, PRUNE_CUT2, INT64_MAX, 1000,
                                 &(struct store_prune_result){0, 0, 0, false}),
                     -1);
    assert_non_null(strstr(store_errmsg(s), "not opened read-write"));
    store_close(s);
    free(seen);
}

static void test_prune_limit(void **state)
{
    static const struct {
        size_t max;
        int64_t batches;
        bool more;
    } steps[] = {
        /* after the first batch went (max_seq below): whole batches of
         * 10, so 25 is reached with the third */
        {25, 3, true}, {25, 3, true},  {0, 1, true},
        {10, 1, true}, {25, 1, false}, {25, 0, false},
    };
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("prune_limit.db", path, &f);
    struct reading r[10];
    struct store_verify_result v;

    (void)state;
    for (int b = 0; b < 10; b++) {
        for (int i = 0; i < 10; i++)
            r[i] = mk_reading(f.sensors[i % 3].db_id, b * 10 + i, QUALITY_GOOD,
                              i, "", 0, NULL);
        assert_int_equal(store_commit_batch(s, r, 10, NULL, 0), 0);
    }
    /* Not past max_seq (what the broker acknowledged): batch 1 (seqs
     * 1..10) may go, batch 2 (11..20) may not, even when old enough. */
    {
        struct store_prune_result res;

        assert_int_equal(store_prune(s, 1000, 19, 1000, &res), 0);
        assert_int_equal(res.batches, 1);
        assert_int_equal(res.readings, 10);
        assert_false(res.more);
        assert_int_equal(raw_int(path, "SELECT min(seq) FROM readings"), 11);
    }
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
        prune_expect(s, 1000, steps[i].max, steps[i].batches,
                     steps[i].batches * 10, steps[i].more);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 0);
    assert_counts_agree(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.pruned_batches, 10);
    assert_int_equal(v.pruned_readings, 100);
    /* seqs are never reused, even with every reading gone */
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    assert_int_equal(r[0].seq, 101);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    store_close(s);
}

static void test_prune_tampered(void **state)
{
    static const struct {
        const char *name;
        const char *sql; /* after pruning at PRUNE_CUT1 */
        const char *what;
        int64_t bad_batch, bad_seq;
    } cases[] = {
        /* a reading of a batch that was not pruned */
        {"p_delete.db", "DELETE FROM readings WHERE seq = 7",
         "seq 7 was deleted", 2, 7},
        /* a run's readings deleted, and a pruned row forged for them */
        {"p_forged.db",
         "DELETE FROM readings WHERE seq BETWEEN 6 AND 10;"
         " INSERT INTO pruned VALUES (2, 200, 204, 5, 1)",
         "readings of run 'R-A' were pruned", 2, 0},
        /* the open run covers everything from its start on */
        {"p_forged_open.db",
         "DELETE FROM readings WHERE seq BETWEEN 36 AND 40;"
         " INSERT INTO pruned VALUES (8, 2600000, 2600004, 5, 1)",
         "readings of run 'R-B' were pruned", 8, 0},
        /* a reading put back into a pruned batch */
        {"p_insert.db",
         "INSERT INTO readings (seq, sensor_id, ts_us, value, quality)"
         " VALUES (17, 1, 401, 0.5, 'good')",
         "seq 17 is in a pruned batch (inserted)", 4, 17},
        /* a pruned batch's link is still checked */
        {"p_link.db",
         "UPDATE batches SET prev_hash = '" SHA_ONES "' WHERE id = 5",
         "batch 5 does not follow batch 4", 5, 0},
        /* its stored hash is what the next batch follows */
        {"p_hash.db", "UPDATE batches SET hash = '" SHA_ONES "' WHERE id = 5",
         "batch 6 does not follow batch 5", 6, 0},
        /* a pruned batch's row deleted with its pruned row */
        {"p_gone.db",
         "DELETE FROM pruned WHERE batch_id = 4;"
         " DELETE FROM batches WHERE id = 4",
         "batch 5 does not follow batch 3", 5, 0},
        /* the pruned row removed: the batch's readings are missing */
        {"p_unpruned.db", "DELETE FROM pruned WHERE batch_id = 4",
         "seq 16 was deleted", 4, 16},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TEST_PATH_MAX];
        struct store *s;

        make_prune_db(cases[i].name, path);
        s = open_rw(cases[i].name, path);
        prune_expect(s, PRUNE_CUT1, 1000, 3, 3 * PRUNE_BATCH, false);
        store_close(s);
        raw_exec(path, cases[i].sql);
        expect_verify_fails(path, cases[i].name, cases[i].what,
                            cases[i].bad_batch, cases[i].bad_seq);
    }
}

/* A batch that does not verify is never pruned: deleting it would erase
 * what verify reports. */
static void test_prune_keeps_damaged(void **state)
{
    static const struct {
        const char *name;
        const char *sql; /* before pruning */
        const char *what;
    } cases[] = {
        {"d_change.db",
         "DROP TRIGGER readings_immutable;"
         " UPDATE readings SET value = 9 WHERE seq = 22",
         "seq 22 was changed"},
        {"d_delete.db", "DELETE FROM readings WHERE seq = 22",
         "seq 22 was deleted"},
        {"d_tag.db", "UPDATE sensors SET tag = 'FT-999' WHERE id = 1",
         "seq 1 was changed"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TEST_PATH_MAX];
        struct store_prune_result res;
        struct store_verify_result v;
        struct store *s;
        int64_t cursor;

        make_prune_db(cases[i].name, path);
        raw_exec(path, cases[i].sql);
        s = open_rw(cases[i].name, path);
        assert_int_equal(store_prune(s, PRUNE_CUT1, INT64_MAX, 1000, &res), 0);
        assert_true(res.damaged >= 1);
        assert_int_equal(res.batches + res.damaged, 3);
        /* passed over: the cursor does not stall on it */
        assert_int_equal(store_get_state(s, STORE_STATE_PRUNE, &cursor), 0);
        assert_int_equal(cursor, 5);
        assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
        if (v.ok || strcmp(v.what, cases[i].what) != 0)
            fail_msg("%s: got '%s'", cases[i].name, v.what);
        store_close(s);
    }
}

/* --- defensive opens, file modes, schema versions (issue 10) ------------ */

/* readings as versions 1 and 2 define it, word for word. */
#define READINGS_V2                                                            \
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"            \
    " sensor_id INTEGER NOT NULL REFERENCES sensors(id),"                      \
    " ts_us INTEGER NOT NULL, value REAL, quality TEXT NOT NULL"               \
    " CHECK (quality IN ('good','out_of_range','invalid','comm_error')),"      \
    " error TEXT, raw TEXT)"

/* sensors as versions 1 to 3 define it: one row per tag. */
#define SENSORS_V3                                                             \
    "CREATE TABLE sensors (id INTEGER PRIMARY KEY,"                            \
    " tag TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL,"       \
    " bus TEXT NOT NULL, unit_id INTEGER NOT NULL, reg_table TEXT NOT NULL,"   \
    " address INTEGER NOT NULL, type TEXT NOT NULL,"                           \
    " byte_order TEXT NOT NULL, scale REAL NOT NULL,"                          \
    " \"offset\" REAL NOT NULL, interval_ms INTEGER NOT NULL,"                 \
    " range_lo REAL, range_hi REAL,"                                           \
    " cal_date TEXT, cal_due TEXT, cal_certificate TEXT)"

/* The schema of version 2, as tbdaq wrote it (version 1: without
 * pruned): the files an upgrade starts from. */
static const char schema_v2[] = SENSORS_V3
    ";\n" READINGS_V2 ";\n"
    "CREATE INDEX readings_ts ON readings(ts_us);\n"
    "CREATE TABLE sensor_last (sensor_id INTEGER PRIMARY KEY"
    " REFERENCES sensors(id), last_seq INTEGER NOT NULL,"
    " count INTEGER NOT NULL);\n"
    "CREATE INDEX readings_comm_error ON readings(sensor_id, ts_us, quality)"
    " WHERE quality = 'comm_error';\n"
    "CREATE TABLE batches (id INTEGER PRIMARY KEY,"
    " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
    " n INTEGER NOT NULL, ts_us INTEGER NOT NULL, prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL, digests BLOB NOT NULL);\n"
    "CREATE INDEX batches_last_seq ON batches(last_seq);\n"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"
    " started_us INTEGER NOT NULL, ended_us INTEGER, operator TEXT,"
    " note TEXT, config_sha256 TEXT, chain_head TEXT, chain_seq INTEGER);\n"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ts_us INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT);\n"
    "CREATE INDEX events_kind ON events(kind, seq);\n"
    "CREATE INDEX events_ts ON events(ts_us);\n"
    "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);\n"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);\n"
    "CREATE TRIGGER readings_immutable BEFORE UPDATE ON readings"
    " BEGIN SELECT RAISE(ABORT, 'readings are immutable'); END;\n"
    "CREATE TABLE pruned (batch_id INTEGER PRIMARY KEY"
    " REFERENCES batches(id), first_ts_us INTEGER NOT NULL,"
    " last_ts_us INTEGER NOT NULL, readings INTEGER NOT NULL,"
    " pruned_us INTEGER NOT NULL);\n"
    "PRAGMA user_version = 2;\n";

/* Turns a file this code wrote into the version given (1, 2 or 3), as
 * the older code would have left it: its sensors one row per tag (the
 * first version of each; the file must have been made with descriptions
 * under no hash: see make_old_prune_db()). */
static void downgrade(const char *path, int version)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    char sql[TEST_ROW_MAX];
    int64_t cookie;

    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"
                                   " WHERE chain_seq IS NOT 0"),
                     0);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA legacy_alter_table = ON;"
                     " ALTER TABLE sensors RENAME TO sensors_v4;" SENSORS_V3
                     "; INSERT INTO sensors SELECT id, tag, kind, unit, bus,"
                     " unit_id, reg_table, address, type, byte_order, scale,"
                     " \"offset\", interval_ms, range_lo, range_hi, cal_date,"
                     " cal_due, cal_certificate FROM sensors_v4"
                     " WHERE version = 1; DROP TABLE sensors_v4;"
                     " DROP TABLE config_files; DROP TABLE configs;"
                     " ALTER TABLE runs DROP COLUMN last_seq;"
                     " ALTER TABLE runs DROP COLUMN first_seq;"
                     " PRAGMA user_version = 3",
                     NULL, NULL, NULL),
        SQLITE_OK);
    if (version == 3) {
        sqlite3_close(db);
        return;
    }
    cookie = raw_int(path, "PRAGMA schema_version");
    assert_int_equal(sqlite3_exec(db,
                                  "DROP INDEX readings_missed;"
                                  " PRAGMA writable_schema = ON",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE sqlite_master SET sql = ?1"
                                        " WHERE name = 'readings'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, READINGS_V2, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    snprintf(sql, sizeof(sql),
             "PRAGMA schema_version = %lld; PRAGMA writable_schema = OFF;"
             " %s PRAGMA user_version = %d",
             (long long)cookie + 2, version == 1 ? "DROP TABLE pruned;" : "",
             version);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    raw_row(path, "PRAGMA integrity_check", sql);
    assert_string_equal(sql, "ok");
}

/* The bus counts of a store, in a status_seen. */
static void bus_counts(struct store *s, struct status_seen *seen)
{
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_status(s, 0, NULL, seen_bus, seen), 0);
}

/* A missed reading (SPEC "Readings"): no value, its error kept in the
 * database and in the chain's canonical form, counted by status and in
 * the export's counts. */
static void test_missed_batch(void **state)
{
    static const uint16_t w[] = {0x41c8, 0x0000};
    static const char lines[] =
        "1\tFT-101\t1000000\t25\tgood\t\t41c8 0000\n"
        "2\tFT-101\t2000000\t\tmissed\tbus busy\t\n"
        "3\tPT-201\t2500000\t\tcomm_error\ttimeout\t\n"
        "4\tPT-201\t3000000\t\tmissed\tbus busy\t\n" DESC_FT("1") DESC_PT("3");
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], want[SHA256_HEX_LEN];
    struct fixture f;
    struct store *s = open_synced("missed.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id;
    struct status_seen *seen = xcalloc(1, sizeof(*seen));
    struct infos_seen *infos = xcalloc(1, sizeof(*infos));
    struct store_verify_result v;
    struct reading r[4];

    (void)state;
    r[0] = mk_reading(ft, 1000000, QUALITY_GOOD, 25.0, "", 2, w);
    r[1] = mk_reading(ft, 2000000, QUALITY_MISSED, 7.0, "bus busy", 0, NULL);
    r[2] = mk_reading(pt, 2500000, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[3] = mk_reading(pt, 3000000, QUALITY_MISSED, 0, "bus busy", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 4, NULL, 0), 0);
    reading_row(path, 2, row);
    assert_string_equal(row, "1|2000000|missed|NULL|bus busy|NULL");
    chain_hash(zero_hash, lines, want);
    raw_row(path, "SELECT hash FROM batches", row);
    assert_string_equal(row, want);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, 4);

    bus_counts(s, seen);
    assert_int_equal(seen->nbuses, 2);
    assert_string_equal(seen->bus[0], "plant-a");
    assert_int_equal(seen->buses[0].readings_total, 4);
    assert_int_equal(seen->buses[0].errors_total, 1);
    assert_int_equal(seen->buses[0].missed_total, 2);
    assert_int_equal(seen->buses[0].missed_recent, 2);
    assert_int_equal(seen->buses[1].missed_total, 0);
    assert_int_equal(
        store_sensor_infos(s, 0, 5000000, NULL, 0, seen_info, infos), 0);
    assert_int_equal(infos->n, 2);
    assert_int_equal(infos->si[0].good, 1); /* FT-101 */
    assert_int_equal(infos->si[0].missed, 1);
    assert_int_equal(infos->si[1].comm_error, 1); /* PT-201 */
    assert_int_equal(infos->si[1].missed, 1);
    store_close(s);

    /* A missed reading's error is under the chain. */
    raw_exec(path, "DROP TRIGGER readings_immutable;"
                   " UPDATE readings SET error = 'fine' WHERE seq = 4");
    expect_verify_fails(path, "missed error", "seq 4 was changed", 1, 4);
    free(infos);
    free(seen);
}

/* Commits two batches of good and comm_error readings (all a version 1
 * or 2 file can hold) with s, which the caller opened on such a file. */
static void commit_old(struct store *s, const char *path, struct fixture *f)
{
    struct reading r[6];

    /* as the older code recorded the sensors: one row per tag */
    fixture_init(f, 3);
    raw_exec(path,
             "INSERT INTO sensors (id, tag, kind, unit, bus, unit_id,"
             " reg_table, address, type, byte_order, scale, \"offset\","
             " interval_ms, range_lo, range_hi) VALUES"
             " (1, 'FT-101', 'flow', 'm3/h', 'plant-a', 1, 'input', 0,"
             " 'float32', 'ABCD', 1.0, 0.0, 1000, 0.0, 50.0),"
             " (2, 'PT-201', 'pressure', 'bar', 'plant-a', 2, 'holding', 100,"
             " 'int16', 'AB', 0.01, 0.0, 500, -1.0, 1000.0),"
             " (3, 'AT-301', 'ph', 'pH', 'rs485-1', 3, 'holding', 10,"
             " 'int16', 'AB', 0.01, 0.0, 1000, 0.0, 14.0)");
    for (int i = 0; i < 3; i++)
        f->sensors[i].db_id = i + 1;
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < 6; i++)
            r[i] = mk_reading(f->sensors[i % 3].db_id, 1000 * b + i,
                              i % 3 ? QUALITY_GOOD : QUALITY_COMM_ERROR, i,
                              "timeout", 0, NULL);
        assert_int_equal(store_commit_batch(s, r, 6, NULL, 0), 0);
    }
    /* The old CHECK refuses a missed reading: nothing written. */
    r[0] = mk_reading(f->sensors[0].db_id, 5000, QUALITY_MISSED, 0, "busy", 0,
                      NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), -1);
    assert_non_null(strstr(store_errmsg(s), "CHECK constraint failed"));
}

/*
 * Files of version 2 (made from the version 2 schema text) and version 1
 * are read as they are and upgraded to 3 by the daemon's open, in one
 * transaction: readings' CHECK admits 'missed' (on that same connection
 * at once, and on a reader open since before), the chain still verifies,
 * integrity_check is ok, and the upgraded file is the same as a new one.
 */
static void test_schema_upgrade(void **state)
{
    static const int versions[] = {2, 1};
    char fresh[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct store *s = open_rw("upgrade_fresh.db", fresh);

    (void)state;
    store_close(s);
    for (size_t k = 0; k < sizeof(versions) / sizeof(versions[0]); k++) {
        char path[TEST_PATH_MAX], name[64], row[TEST_ROW_MAX];
        char want[TEST_ROW_MAX];
        struct store_verify_result v;
        struct store *reader;
        struct reading r;
        struct fixture f;

        snprintf(name, sizeof(name), "upgrade_v%d.db", versions[k]);
        path_of(path, name);
        raw_exec(path, schema_v2);
        if (versions[k] == 1)
            raw_exec(path, "DROP TABLE pruned; PRAGMA user_version = 1");
        /* The CLI's run commands write such a file without upgrading. */
        s = store_open(path, STORE_UPDATE, err);
        if (!s)
            fail_msg("store_open: %s", err);
        commit_old(s, path, &f);
        store_close(s);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), versions[k]);

        reader = open_ro(path);
        assert_int_equal(store_verify(reader, 0, INT64_MAX, &v), 0);
        assert_true(v.ok);
        assert_int_equal(v.readings, 12);

        s = open_rw(name, path);
        assert_int_equal(raw_int(path, "PRAGMA user_version"), 4);
        raw_row(path, "PRAGMA integrity_check", row);
        assert_string_equal(row, "ok");
        /* the same objects, with the same definitions, as a new file */
        assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"),
                         raw_int(fresh, "SELECT count(*) FROM sqlite_master"));
        for (int i = 0;
             i < raw_int(fresh, "SELECT count(*) FROM sqlite_master"); i++) {
            char sql[TEST_PATH_MAX];

            snprintf(sql, sizeof(sql),
                     "SELECT type, name, sql FROM sqlite_master ORDER BY name"
                     " LIMIT 1 OFFSET %d",
                     i);
            raw_row(path, sql, row);
            raw_row(fresh, sql, want);
            assert_string_equal(row, want);
        }
        fixture_init(&f, 3);
        assert_int_equal(store_sync_sensors(s, &f.c), 0);
        r = mk_reading(f.sensors[0].db_id, 5000, QUALITY_MISSED, 0, "busy", 0,
                       NULL);
        assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
        assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
        assert_true(v.ok);
        assert_int_equal(v.readings, 13);
        assert_int_equal(store_verify(reader, 0, INT64_MAX, &v), 0);
        assert_true(v.ok);
        assert_int_equal(v.readings, 13);
        store_close(reader);
        store_close(s);
        /* Opened again, nothing left to do. */
        s = open_rw(name, path);
        store_close(s);
        raw_row(path, "PRAGMA integrity_check", row);
        assert_string_equal(row, "ok");
    }
}

/* A copy of a good database, changed by sql; the open's message. */
static void crafted(const char *name, const char *sql, const char *want)
{
    static const enum store_mode modes[] = {STORE_READ_ONLY, STORE_UPDATE,
                                            STORE_READ_WRITE};
    char src[TEST_PATH_MAX], path[TEST_PATH_MAX], msg[TEST_ROW_MAX];
    char err[STORE_ERR_MAX], before[TEST_ROW_MAX], after[TEST_ROW_MAX];
    char copy[TEST_ROW_MAX];

    path_of(src, "crafted_src.db");
    path_of(path, name);
    if (access(src, F_OK) < 0)
        make_chain_db("crafted_src.db", src);
    snprintf(copy, sizeof(copy), "VACUUM INTO '%s'", path);
    raw_exec(src, copy);
    if (sql)
        raw_exec(path, sql);
    snprintf(msg, sizeof(msg), "'%s' is not a tbdaq database: %s", path, want);
    raw_row(path, "SELECT group_concat(name) FROM sqlite_master", before);
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        memset(err, 0, sizeof(err));
        assert_null(store_open(path, modes[m], err));
        if (strcmp(err, msg) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", name, err, msg);
    }
    /* refused means untouched */
    raw_row(path, "SELECT group_concat(name) FROM sqlite_master", after);
    assert_string_equal(before, after);
}

/* Files that are not what tbdaq writes are refused at open, naming what
 * differs, before anything else is read or written. */
static void test_open_crafted(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX];
    struct store_verify_result v;
    struct store *s;

    (void)state;
    crafted("c_view.db",
            "ALTER TABLE readings RENAME TO r0;"
            " CREATE VIEW readings AS SELECT * FROM r0",
            "'readings' is a view, not a table");
    crafted("c_trigger.db",
            "CREATE TRIGGER spy AFTER INSERT ON events BEGIN"
            " SELECT 1; END",
            "unexpected trigger 'spy'");
    crafted("c_column.db", "ALTER TABLE readings DROP COLUMN raw",
            "table 'readings' has no column 'raw'");
    crafted("c_extra.db", "ALTER TABLE runs ADD COLUMN x TEXT",
            "table 'runs' has an unexpected column 'x'");
    crafted("c_generated.db",
            "ALTER TABLE readings ADD COLUMN g GENERATED ALWAYS AS (1)",
            "table 'readings' has a hidden or generated column 'g'");
    crafted("c_index.db",
            "DROP INDEX readings_ts;"
            " CREATE INDEX readings_ts ON readings(ts_us) WHERE seq % 2 = 0",
            "index 'readings_ts' is not defined as tbdaq defines it");
    crafted("c_noindex.db", "DROP INDEX readings_missed",
            "no index 'readings_missed'");
    crafted("c_table.db", "CREATE TABLE extra (x)", "unexpected table 'extra'");
    crafted("c_vtab.db",
            "DROP TABLE meta; CREATE VIRTUAL TABLE meta USING"
            " fts5(key, value)",
            "'meta' is a virtual table");
    crafted("c_version.db", "PRAGMA user_version = 0",
            "no tbdaq schema version (user_version 0)");
    crafted("c_v2.db", "PRAGMA user_version = 2",
            "table 'sensors' has an unexpected column 'version'");

    /* Without the immutability trigger the file is read (verify says
     * what was changed), and the daemon's open puts the trigger back. */
    path_of(path, "c_notrigger.db");
    make_chain_db("c_notrigger.db", path);
    raw_exec(path, "DROP TRIGGER readings_immutable");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    store_close(s);
    s = store_open(path, STORE_READ_WRITE, err);
    assert_non_null(s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE"
                                   " type = 'trigger'"),
                     1);
}

/* Whether a directory holds exactly the one file name. */
static bool dir_holds_only(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool only = true;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strcmp(e->d_name, name) != 0)
            only = false;
    }
    closedir(d);
    return only && n == 1;
}

/* Copies a file byte for byte, as cp(1) does. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* An auditor's copy of the database file alone (no -wal, no -shm) is
 * read, and nothing is created beside it; the live file, with its -wal,
 * is read beside the writer as before (test_reader_beside_writer). */
static void test_open_lone_copy(void **state)
{
    char path[TEST_PATH_MAX], dir[TEST_PATH_MAX], copy[TEST_PATH_MAX + 16];
    char err[STORE_ERR_MAX] = "";
    struct store_verify_result v;
    struct store *s;

    (void)state;
    make_chain_db("lone_src.db", path);
    path_of(dir, "lone.d");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(copy, sizeof(copy), "%s/copy of t.db", dir);
    copy_file(path, copy); /* a WAL-mode file, all committed */
    assert_true(dir_holds_only(dir, "copy of t.db"));
    s = store_open(copy, STORE_READ_SNAPSHOT, err);
    assert_non_null(s);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, TAMPER_BATCH * TAMPER_BATCHES);
    store_close(s);
    assert_true(dir_holds_only(dir, "copy of t.db"));
    /* The live database, -wal beside it, is read as before. */
    s = store_open(path, STORE_READ_SNAPSHOT, err);
    assert_non_null(s);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    store_close(s);
    unlink(copy);
    rmdir(dir);
}

/* The mode of a file, or -1 if it is absent. */
static int file_mode(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The database's files are 0640 or tighter whatever the umask; wider ones
 * (an older tbdaq) are narrowed by the daemon's open. */
static void test_file_modes(void **state)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char path[TEST_PATH_MAX], f[TEST_PATH_MAX + 8];
    mode_t old = umask(022);
    struct store *s;

    (void)state;
    s = open_rw("modes.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0640);
    }
    store_close(s);

    /* as the older tbdaq left them, readable by all */
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(chmod(f, 0664), 0);
    }
    s = open_ro(path); /* a reader changes nothing */
    store_close(s);
    assert_int_equal(file_mode(path), 0664);
    s = open_rw("modes.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0640);
    }
    store_close(s);

    /* a journal that is a symbolic link to another file: that file is
     * not touched (a daemon running as root must not change it) */
    {
        char target[TEST_PATH_MAX + 16];

        snprintf(target, sizeof(target), "%s.elsewhere", path);
        snprintf(f, sizeof(f), "%s-journal", path);
        assert_int_equal(close(open(target, O_WRONLY | O_CREAT, 0644)), 0);
        assert_int_equal(chmod(target, 0644), 0);
        assert_int_equal(symlink(target, f), 0);
        s = open_rw("modes.db", path);
        store_close(s);
        assert_int_equal(file_mode(target), 0644);
        unlink(f);
        unlink(target);
    }

    /* a tighter umask is kept */
    umask(077);
    s = open_rw("modes_077.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0600);
    }
    store_close(s);
    umask(old);
}

static void test_schema_v1(void **state)
{
    char path[TEST_PATH_MAX], bad[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct store_prune_result res;
    struct store_verify_result v;
    struct store *reader, *s;

    (void)state;
    /* A version 1 file: what this code wrote before the pruned table. */
    make_old_prune_db("v1.db", path);
    downgrade(path, 1);

    reader = open_ro(path);
    assert_int_equal(store_verify(reader, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.batches, 8);
    assert_int_equal(v.pruned_batches, 0);
    s = store_open(path, STORE_UPDATE, err);
    assert_non_null(s);
    assert_int_equal(store_prune(s, PRUNE_CUT1, INT64_MAX, 1000, &res), -1);
    assert_non_null(strstr(store_errmsg(s), "not opened read-write"));
    store_close(s);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 1);

    /* The writer upgrades it; the reader, open since before, sees the
     * pruned batches at its next verify. */
    s = open_rw("v1.db", path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 4);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"
                                   " WHERE name = 'pruned'"),
                     1);
    prune_expect(s, PRUNE_CUT1, 1000, 3, 3 * PRUNE_BATCH, false);
    assert_int_equal(store_verify(reader, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.pruned_batches, 3);
    store_close(reader);
    store_close(s);

    /* A version 1 file with an object of a later version is not one
     * tbdaq wrote: refused, and left as it is. */
    make_old_prune_db("v1_bad.db", bad);
    downgrade(bad, 1);
    raw_exec(bad, "CREATE TABLE pruned (x)");
    assert_null(store_open(bad, STORE_READ_WRITE, err));
    assert_non_null(strstr(err, "is not a tbdaq database: unexpected table "
                                "'pruned'"));
    assert_int_equal(raw_int(bad, "PRAGMA user_version"), 1);
}

/* --- description versions (issue 11) --------------------------------- */

/* The export's rows as "seq:sensor:unit:version", space-separated. */
static int vers_row(const struct store_export_row *r, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%s%lld:%s:%s:%lld", n ? " " : "",
             (long long)r->seq, r->sensor, r->unit, (long long)r->version);
    return 0;
}

/* The replay's rows as "seq:unit ". */
static int replay_row(const struct store_row *r, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%lld:%s ", (long long)r->seq, r->unit);
    return 0;
}

/* Verifies path read-only: ok, with that many descriptions checked and
 * uncovered. */
static void expect_verify_ok(const char *path, int64_t descriptions,
                             int64_t uncovered)
{
    struct store *s = open_ro(path);
    struct store_verify_result v;

    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    if (!v.ok)
        fail_msg("%s: %s", path, v.what);
    assert_int_equal(v.descriptions, descriptions);
    assert_int_equal(v.uncovered, uncovered);
    store_close(s);
}

/*
 * A changed description is a new version: readings taken before keep
 * the old one (export, infos, replay), status shows the newest reading
 * per tag, and each version is hashed by the batch of its first
 * reading; changing one, or moving a reading to another version, fails
 * verify, naming the sensor and version.
 */
static void test_description_versions(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX] = "", want[TEST_ROW_MAX] = "";
    struct fixture f;
    struct store *s = open_synced("versions.db", path, &f);
    int64_t ft1 = f.sensors[SENSOR_FT].db_id, ft2, pt;
    struct status_seen *seen = xcalloc(1, sizeof(*seen));
    struct infos_seen *infos = xcalloc(1, sizeof(*infos));
    struct reading r[2];

    (void)state;
    pt = f.sensors[SENSOR_PT].db_id;
    r[0] = mk_reading(ft1, 1000, QUALITY_GOOD, 1.0, "", 0, NULL);
    r[1] = mk_reading(pt, 1000, QUALITY_GOOD, 2.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);
    r[0] = mk_reading(ft1, 2000, QUALITY_GOOD, 1.5, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);

    /* unit, scale and calibration change: version 2 */
    fixture_init(&f, 3);
    f.sensors[SENSOR_FT].unit = s_ls;
    f.sensors[SENSOR_FT].scale = 2.5;
    f.sensors[SENSOR_FT].cal.due = s_cal_date;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    ft2 = f.sensors[SENSOR_FT].db_id;
    assert_true(ft2 != ft1);
    assert_int_equal(f.sensors[SENSOR_PT].db_id, pt);
    r[0] = mk_reading(ft2, 3000, QUALITY_GOOD, 7.0, "", 0, NULL);
    r[1] = mk_reading(pt, 3000, QUALITY_GOOD, 2.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);
    raw_row(path,
            "SELECT group_concat(tag || ':' || version || ':' ||"
            " coalesce(chain_seq, 'NULL'), ' ') FROM (SELECT * FROM sensors"
            " ORDER BY id)",
            row);
    /* FT-101 v1 first read at seq 1, PT-201 at 2, AT-301 never, FT-101
     * v2 at 4 */
    assert_string_equal(row, "FT-101:1:1 PT-201:1:2 AT-301:1:NULL "
                             "FT-101:2:4");

    /* each reading with the version of its time */
    row[0] = '\0';
    assert_int_equal(store_export(s, 0, 10000, NULL, 0, vers_row, row), 5);
    assert_string_equal(row, "1:FT-101:m3/h:1 2:PT-201:bar:1 3:FT-101:m3/h:1"
                             " 4:FT-101:l/s:2 5:PT-201:bar:1");
    /* a window before the change: the first version only */
    row[0] = '\0';
    assert_int_equal(store_export(s, 0, 2500, NULL, 0, vers_row, row), 3);
    assert_string_equal(row, "1:FT-101:m3/h:1 2:PT-201:bar:1 3:FT-101:m3/h:1");

    /* the manifest: one entry per version, with its span */
    assert_int_equal(store_sensor_infos(s, 0, 10000, NULL, 0, seen_info, infos),
                     0);
    assert_int_equal(infos->n, 3);
    assert_true(strstr(infos->text[0], "FT-101 flow m3/h") == infos->text[0]);
    assert_int_equal(infos->si[0].version, 1);
    assert_false(infos->si[0].newest);
    assert_true(infos->si[0].has_span);
    assert_int_equal(infos->si[0].first_ts_us, 1000);
    assert_int_equal(infos->si[0].last_ts_us, 2000);
    assert_int_equal(infos->si[0].good, 2);
    assert_int_equal(infos->si[1].version, 2);
    assert_true(infos->si[1].newest);
    assert_int_equal(infos->si[1].first_ts_us, 3000);
    assert_int_equal(infos->si[1].last_ts_us, 3000);
    assert_true(infos->si[1].scale == 2.5);
    assert_true(strstr(infos->text[1], "FT-101 flow l/s") == infos->text[1]);
    assert_true(infos->si[0].has_range_hi && infos->si[0].range_hi == 50.0);
    assert_true(strstr(infos->text[2], "PT-201 ") == infos->text[2]);
    /* a given tag: every version, counted */
    infos->n = 0;
    {
        const char *tags[] = {"FT-101"};

        assert_int_equal(
            store_sensor_infos(s, 0, 2500, tags, 1, seen_info, infos), 0);
    }
    assert_int_equal(infos->n, 2);
    assert_int_equal(infos->si[0].good, 2);
    assert_int_equal(infos->si[1].good, 0);
    assert_false(infos->si[1].has_span);

    /* status: one line per tag, its newest reading under its version */
    assert_int_equal(store_status(s, 0, seen_sensor, NULL, seen), 0);
    assert_int_equal(seen->nsensors, 3);
    assert_string_equal(seen->text[1], "FT-101|flow|l/s|plant-a|good|NULL");
    assert_int_equal(seen->sensors[1].seq, 4);

    /* the replay: seq 3 as m3/h, seq 4 as l/s */
    assert_int_equal(store_readings_after(s, 2, 2, replay_row, want), 2);
    assert_string_equal(want, "3:m3/h 4:l/s ");
    expect_verify_ok(path, 3, 0);
    store_close(s);

    /* a changed description fails, naming it */
    {
        char copy[TEST_PATH_MAX], sql[TEST_ROW_MAX];

        path_of(copy, "versions_unit.db");
        snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
        raw_exec(path, sql);
        raw_exec(copy, "UPDATE sensors SET unit = 'l/min'"
                       " WHERE tag = 'FT-101' AND version = 1");
        expect_verify_fails(copy, "unit",
                            "sensor 'FT-101' version 1's description was "
                            "changed",
                            1, 1);
        path_of(copy, "versions_cal.db");
        snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
        raw_exec(path, sql);
        raw_exec(copy, "UPDATE sensors SET cal_due = '2099-01-01'"
                       " WHERE tag = 'FT-101' AND version = 2");
        expect_verify_fails(copy, "calibration",
                            "sensor 'FT-101' version 2's description was "
                            "changed",
                            3, 4);
        /* a reading moved to the other version, its line unchanged */
        path_of(copy, "versions_move.db");
        snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
        raw_exec(path, sql);
        snprintf(sql, sizeof(sql),
                 "DROP TRIGGER readings_immutable;"
                 " UPDATE readings SET sensor_id = %lld WHERE seq = 4",
                 (long long)ft1);
        raw_exec(copy, sql);
        expect_verify_fails(copy, "moved",
                            "seq 4 (sensor 'FT-101') is recorded under its "
                            "version 1, not the version in force then",
                            3, 4);
        /* a description taken out of its batch */
        path_of(copy, "versions_out.db");
        snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
        raw_exec(path, sql);
        raw_exec(copy, "UPDATE sensors SET chain_seq = NULL, unit = 'x'"
                       " WHERE tag = 'FT-101' AND version = 2");
        expect_verify_fails(copy, "out",
                            "seq 4 (sensor 'FT-101') is recorded under its "
                            "version 2, not the version in force then",
                            3, 4);
    }
    free(infos);
    free(seen);
}

/*
 * A failure says where (SPEC Evidence): the sensor and time of the
 * reading, the value its raw words decode to under its description
 * version, and a missing trigger; verify --run counts the run's readings,
 * not those of the whole batches it checks.
 */
static void test_verify_where(void **state)
{
    static const uint16_t w[] = {0x41c8, 0x0001};
    char path[TEST_PATH_MAX];
    struct store_verify_result v;
    struct store *s;
    struct fixture f;
    struct reading r[10];
    double want;

    (void)state;
    make_chain_db("where.db", path);
    raw_exec(path, "DROP TRIGGER readings_immutable;"
                   " UPDATE readings SET value = 5.0 WHERE seq = 1");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what, "seq 1 was changed");
    assert_string_equal(v.tag, "FT-101");
    assert_true(v.has_ts);
    assert_int_equal(v.ts_us, 1000);
    assert_string_equal(v.raw, "41c8 0001");
    assert_true(v.has_decoded);
    want = decode_value(REG_FLOAT32, decode_raw(REG_FLOAT32, BO_ABCD, w), 1.0,
                        0.0);
    assert_true(v.decoded == want);
    assert_true(v.no_trigger);
    store_close(s);

    /* a deleted reading: only its seq */
    make_chain_db("where_del.db", path);
    raw_exec(path, "DELETE FROM readings WHERE seq = 7");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_string_equal(v.what, "seq 7 was deleted");
    assert_string_equal(v.tag, "");
    assert_false(v.has_ts);
    assert_false(v.no_trigger);
    store_close(s);

    /* a run of 3 readings inside a batch of 10 */
    s = open_synced("where_run.db", path, &f);
    for (int i = 0; i < 10; i++)
        r[i] = mk_reading(f.sensors[i % 3].db_id, i + 1, QUALITY_GOOD, i, "", 0,
                          NULL);
    assert_int_equal(store_run_start(s, "W", NULL, NULL, 5, 0), 0);
    assert_int_equal(store_run_stop(s, "W", 8, 0), 0);
    assert_int_equal(store_commit_batch(s, r, 10, NULL, 0), 0);
    assert_int_equal(store_verify_run(s, "W", &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.batches, 1);
    assert_int_equal(v.readings, 3);
    store_close(s);
}

/* The bytes of each file of a stored configuration, "name=bytes;". */
static int conf_file_row(const struct store_config_file *cf, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%d:%s=%.*s;", cf->idx, cf->name,
             (int)cf->len, (const char *)cf->bytes);
    return 0;
}

/*
 * Each configuration applied is stored with its files, found by time,
 * and hashed by the next batch, after the descriptions: its line, then a
 * line per file with the SHA-256 of the stored bytes; a changed file
 * fails verify, naming the configuration.
 */
static void test_config_kept(void **state)
{
    static char main_name[] = "/etc/tbdaq/tbdaq.conf", inc_name[] = "x.inc";
    static char main_bytes[] = "site = \"s\";\n@include \"x.inc\"\n",
                inc_bytes[] = "retention_days = 0;\n";
    struct config_file files[2] = {
        {main_name, main_bytes, sizeof(main_bytes) - 1, ""},
        {inc_name, inc_bytes, sizeof(inc_bytes) - 1, ""}};
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX] = "", text[4 * TEST_ROW_MAX];
    char want[SHA256_HEX_LEN], sha[2][SHA256_HEX_LEN];
    struct store_verify_result v;
    struct fixture f;
    struct store *s = open_rw("configs.db", path);
    struct reading r;
    int64_t id = -1, ts1;

    (void)state;
    fixture_init(&f, 1);
    sha256_hex(main_bytes, files[0].len, sha[0]);
    sha256_hex(inc_bytes, files[1].len, sha[1]);
    memcpy(files[0].sha256, sha[0], SHA256_HEX_LEN);
    memcpy(files[1].sha256, sha[1], SHA256_HEX_LEN);
    memcpy(f.c.sha256, sha[0], SHA256_HEX_LEN);
    f.c.files = files;
    f.c.nfiles = 2;
    assert_int_equal(store_config_at(s, INT64_MAX, &id), 1);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(store_config_at(s, INT64_MAX, &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(store_config_files(s, 1, conf_file_row, row), 0);
    assert_string_equal(row, "0:/etc/tbdaq/tbdaq.conf=site = \"s\";\n"
                             "@include \"x.inc\"\n;1:x.inc=retention_days = "
                             "0;\n;");
    ts1 = raw_int(path, "SELECT ts_us FROM configs WHERE id = 1");
    assert_int_equal(store_config_at(s, ts1 - 1, &id), 1);

    /* the next batch hashes it, after its readings and descriptions */
    r = mk_reading(f.sensors[SENSOR_FT].db_id, 10, QUALITY_GOOD, 2.0, "", 0,
                   NULL);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    snprintf(
        text, sizeof(text),
        "1\tFT-101\t10\t2\tgood\t\t\n" DESC_FT(
            "1") "config\t1\t1\t%lld\t%s\nfile\t0\t/etc/tbdaq/tbdaq.conf\t%s\n"
                 "file\t1\tx.inc\t%s\n",
        (long long)ts1, sha[0], sha[0], sha[1]);
    chain_hash(zero_hash, text, want);
    raw_row(path, "SELECT hash FROM batches", row);
    assert_string_equal(row, want);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.configs, 1);
    /* a batch after it does not hash it again */
    r = mk_reading(f.sensors[SENSOR_FT].db_id, 20, QUALITY_GOOD, 2.0, "", 0,
                   NULL);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_int_equal(raw_int(path, "SELECT length(digests) FROM batches"
                                   " WHERE id = 2"),
                     8);

    /* a reload: the second configuration, found by time */
    files[1].bytes = main_bytes;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(store_config_at(s, INT64_MAX, &id), 0);
    assert_int_equal(id, 2);
    assert_int_equal(store_config_at(s, ts1, &id), 0);
    assert_int_equal(id, 1);
    store_close(s);

    /* an included file changed */
    raw_exec(path, "UPDATE config_files SET bytes = CAST('retention_days ="
                   " 9;' AS BLOB) WHERE config_id = 1 AND idx = 1");
    {
        struct store *ro = open_ro(path);
        char when[TIME_ISO_LEN];

        assert_int_equal(store_verify(ro, 0, INT64_MAX, &v), 0);
        assert_false(v.ok);
        fmt_time_iso(ts1, when);
        snprintf(text, sizeof(text), "configuration 1 (applied %s) was changed",
                 when);
        assert_string_equal(v.what, text);
        assert_int_equal(v.bad_batch, 1);
        store_close(ro);
    }
}

/*
 * A version 3 file (one sensors row per tag, no description hashed) is
 * read as it is and upgraded in one transaction: each row becomes its
 * tag's version 1, under no hash (verify counts them as uncovered, and
 * does not see them change); the daemon's next sync records new
 * versions, hashed from then on, and old readings keep version 1.
 */
static void test_upgrade_v3(void **state)
{
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX] = "";
    struct store_verify_result v;
    struct store *s, *reader;
    struct fixture f;
    struct reading r;
    int64_t n;

    (void)state;
    make_old_prune_db("v3.db", path);
    downgrade(path, 3);
    n = raw_int(path, "SELECT count(*) FROM readings");
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 4);
    expect_verify_ok(path, 0, 4);
    reader = open_ro(path);

    s = open_rw("v3.db", path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 4);
    raw_row(path, "PRAGMA integrity_check", row);
    assert_string_equal(row, "ok");
    raw_row(path,
            "SELECT group_concat(id || ':' || tag || ':' || version || ':' ||"
            " chain_seq, ' ') FROM (SELECT * FROM sensors ORDER BY id)",
            row);
    assert_string_equal(row, "1:FT-101:1:0 2:PT-201:1:0 3:AT-301:1:0 "
                             "4:XT-401:1:0");
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), n);
    expect_verify_ok(path, 0, 4);

    /* the same config: new versions, under the chain from now on */
    fixture_init(&f, 3);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[SENSOR_FT].db_id, 5);
    r = mk_reading(f.sensors[SENSOR_FT].db_id, 3000000, QUALITY_GOOD, 1.0, "",
                   0, NULL);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    expect_verify_ok(path, 1, 4);
    /* the reader opened before the upgrade follows it */
    assert_int_equal(store_verify(reader, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.descriptions, 1);
    row[0] = '\0';
    assert_int_equal(
        store_export(reader, 2999999, 3000001, NULL, 0, vers_row, row), 1);
    snprintf(row + strlen(row), 8, "%s", "");
    assert_non_null(strstr(row, ":FT-101:m3/h:2"));
    store_close(reader);
    store_close(s);

    /* an old description is not covered: a change goes unseen, and
     * verify says how many are not covered */
    raw_exec(path, "UPDATE sensors SET unit = 'x' WHERE id = 2");
    expect_verify_ok(path, 1, 4);
    /* a new one is */
    raw_exec(path, "UPDATE sensors SET unit = 'x' WHERE id = 5");
    expect_verify_fails(path, "new",
                        "sensor 'FT-101' version 2's "
                        "description was changed",
                        raw_int(path, "SELECT max(id) FROM batches"),
                        raw_int(path, "SELECT max(seq) FROM readings"));
}

static void test_prune_rate(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("prune_rate.db", path, &f);
    struct reading *r = xcalloc(PRUNE_BENCH_BATCH, sizeof(*r));
    struct store_prune_result res;
    struct store_verify_result v;
    int64_t ts = 0, total = 0, t0, t1, worst = 0, sum = 0, calls = 0;

    (void)state;
    for (int i = 0; i < PRUNE_BENCH_RUNS; i++) {
        char name[16];

        snprintf(name, sizeof(name), "B-%d", i);
        assert_int_equal(
            store_run_start(s, name, NULL, NULL, -1000 * (i + 2), 0), 0);
        assert_int_equal(store_run_stop(s, name, -1000 * (i + 1), 0), 0);
    }
    for (int b = 0; b < PRUNE_BENCH_BATCHES; b++) {
        for (int i = 0; i < PRUNE_BENCH_BATCH; i++, ts++)
            r[i] = mk_reading(f.sensors[i % 3].db_id, ts,
                              i % 50 ? QUALITY_GOOD : QUALITY_COMM_ERROR, 25.0,
                              "timeout", 0, NULL);
        assert_int_equal(store_commit_batch(s, r, PRUNE_BENCH_BATCH, NULL, 0),
                         0);
    }
    do {
        t0 = time_mono_ns();
        assert_int_equal(store_prune(s, ts, INT64_MAX, PRUNE_BENCH_MAX, &res),
                         0);
        t1 = time_mono_ns();
        total += res.readings;
        sum += t1 - t0;
        calls++;
        if (t1 - t0 > worst)
            worst = t1 - t0;
    } while (res.more);
    assert_int_equal(total, (int64_t)PRUNE_BENCH_BATCHES * PRUNE_BENCH_BATCH);
    print_message("prune: %lld calls of up to %d readings (batches of %d,"
                  " %d runs): mean %.2f ms, worst %.2f ms\n",
                  (long long)calls, PRUNE_BENCH_MAX, PRUNE_BENCH_BATCH,
                  PRUNE_BENCH_RUNS, (double)sum / (double)calls / 1e6,
                  (double)worst / 1e6);
    assert_true(worst < (int64_t)PRUNE_CALL_MAX_MS * 1000000);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.pruned_batches, PRUNE_BENCH_BATCHES);
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
        cmocka_unit_test(test_chain_known_batch),
        cmocka_unit_test(test_chain_across_batches),
        cmocka_unit_test(test_verify_ok),
        cmocka_unit_test(test_verify_tampered),
        cmocka_unit_test(test_verify_range),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_runs_two_connections),
        cmocka_unit_test(test_row_run),
        cmocka_unit_test(test_run_seqs),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_sensor_infos),
        cmocka_unit_test(test_events_window),
        cmocka_unit_test(test_site),
        cmocka_unit_test(test_open_update),
        cmocka_unit_test(test_commit_rate),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_prune_limit),
        cmocka_unit_test(test_prune_tampered),
        cmocka_unit_test(test_prune_keeps_damaged),
        cmocka_unit_test(test_schema_v1),
        cmocka_unit_test(test_missed_batch),
        cmocka_unit_test(test_schema_upgrade),
        cmocka_unit_test(test_description_versions),
        cmocka_unit_test(test_upgrade_v3),
        cmocka_unit_test(test_config_kept),
        cmocka_unit_test(test_verify_where),
        cmocka_unit_test(test_open_crafted),
        cmocka_unit_test(test_open_lone_copy),
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_prune_rate),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
