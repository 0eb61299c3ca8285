/* SPDX-License-Identifier: MIT */
/*
 * What the store's unit tests (tests/unit/test_store_*.c, one binary per
 * part of the store) share: a temporary directory per binary
 * (group_setup(), group_teardown()), looking at a file with SQLite
 * directly (raw_*()), a configuration built by hand (struct fixture), and
 * the helpers more than one of them uses. The functions are static
 * inline, so that a binary that does not call one compiles it without a
 * warning. The tests run one at a time; a test that starts threads
 * hands each what it may touch.
 */
#ifndef TBDAQ_TEST_STORE_H
#define TBDAQ_TEST_STORE_H

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
/* Runs the second connection starts and stops while a writer commits. */
#define CONCURRENT_RUNS 20
/* Batches the writer thread commits while the reader watches. */
#define CONCURRENT_BATCHES 40
#define CONCURRENT_BATCH 50

/* A well-formed hash that no batch has. */
#define SHA_ONES                                                               \
    "1111111111111111111111111111111111111111111111111111111111111111"

static char test_dir[64];

static inline void path_of(char *buf, const char *name)
{
    snprintf(buf, TEST_PATH_MAX, "%s/%s", test_dir, name);
}

static inline int group_setup(void **state)
{
    (void)state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/test_store.XXXXXX");
    return mkdtemp(test_dir) ? 0 : -1;
}

static inline int group_teardown(void **state)
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

/* Looking at a file directly, as an auditor (or a forger) would. */

static inline sqlite3 *raw_open(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, STORE_BUSY_TIMEOUT_MS);
    return db;
}

/* The first row of sql, columns joined with '|', NULL as "NULL", or
 * "(none)" when there is no row. */
static inline void raw_row(const char *path, const char *sql, char *out)
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

static inline int64_t raw_int(const char *path, const char *sql)
{
    char row[TEST_ROW_MAX];

    raw_row(path, sql, row);
    return strtoll(row, NULL, 10);
}

static inline void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);

    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* readings as schema versions 3 to 5 define it (an IN list), word for
 * word. */
#define TEST_READINGS_V5                                                       \
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"            \
    " sensor_id INTEGER NOT NULL REFERENCES sensors(id),"                      \
    " ts_us INTEGER NOT NULL, value REAL, quality TEXT NOT NULL"               \
    " CHECK (quality IN ('good','out_of_range','invalid','comm_error',"        \
    "'missed')), error TEXT, raw TEXT)"

/* Gives readings in path the definition sql, as an older tbdaq wrote it
 * (a CHECK changes no row): writable_schema and a schema cookie bumped
 * past every connection's, first running pre (may be ""). */
static inline void raw_readings_sql(const char *path, const char *pre,
                                    const char *sql)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    char bump[96];
    int64_t cookie;

    assert_int_equal(sqlite3_exec(db, pre, NULL, NULL, NULL), SQLITE_OK);
    cookie = raw_int(path, "PRAGMA schema_version");
    assert_int_equal(
        sqlite3_exec(db, "PRAGMA writable_schema = ON", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE sqlite_master SET sql = ?1"
                                        " WHERE name = 'readings'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, sql, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    snprintf(bump, sizeof(bump),
             "PRAGMA schema_version = %lld; PRAGMA writable_schema = OFF",
             (long long)cookie + 1);
    assert_int_equal(sqlite3_exec(db, bump, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* A configuration built by hand. */

static char s_plant_a[] = "plant-a", s_rs485[] = "rs485-1";
static char s_ft[] = "FT-101", s_pt[] = "PT-201", s_at[] = "AT-301",
            s_xt[] = "XT-401";
static char s_m3h[] = "m3/h", s_bar[] = "bar", s_ph[] = "pH", s_ma[] = "mA";
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
static inline void fixture_init(struct fixture *f, size_t n)
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

static inline struct store *open_rw(const char *name, char *path)
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
static inline struct store *open_synced(const char *name, char *path,
                                        struct fixture *f)
{
    struct store *s = open_rw(name, path);

    fixture_init(f, 3);
    assert_int_equal(store_sync_sensors(s, &f->c), 0);
    return s;
}

static inline struct reading mk_reading(int64_t sensor_id, int64_t ts_us,
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

static inline struct event mk_event(int64_t ts_us, const char *kind,
                                    const char *detail)
{
    struct event e;

    memset(&e, 0, sizeof(e));
    e.ts_us = ts_us;
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    snprintf(e.detail, sizeof(e.detail), "%s", detail);
    return e;
}

/*
 * What more than one binary uses: rows read back, a writer thread and the
 * status callbacks (write, runs), the chain's hash and a chain to tamper
 * with (chain, open, schema), the retention scenario (prune, schema).
 */

/* The canonical lines of the fixture's first descriptions, first used by
 * the reading at seq (README "Description versions"). */
#define DESC_FT(seq)                                                           \
    "sensor\t1\tFT-101\t1\t" seq "\tflow\tm3/h\tplant-a\t1\tinput\t0"          \
    "\tfloat32\tABCD\t1\t0\t1000\t0\t50\t2026-10-01\t2027-10-01"               \
    "\tKTL-2026-0412\n"
#define DESC_PT(seq)                                                           \
    "sensor\t2\tPT-201\t1\t" seq "\tpressure\tbar\tplant-a\t2\tholding"        \
    "\t100\tint16\tAB\t0.01\t0\t500\t-1\t1000\t\t\t\n"

static inline void reading_row(const char *path, int64_t seq, char *row)
{
    char sql[TEST_PATH_MAX];

    snprintf(sql, sizeof(sql),
             "SELECT sensor_id, ts_us, quality, value, error, raw"
             " FROM readings WHERE seq = %lld",
             (long long)seq);
    raw_row(path, sql, row);
}

struct writer_job {
    struct store *s;
    int64_t sensor;
    int failed;
};

static inline void *writer_main(void *arg)
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

static inline int seen_sensor(const struct store_sensor_status *ss, void *arg)
{
    struct status_seen *seen = arg;
    size_t i = seen->nsensors++;

    assert_true(i < STATUS_MAX);
    seen->sensors[i] = *ss;
    snprintf(seen->text[i], TEST_ROW_MAX, "%s|%s|%s|%s|%s|%s", ss->row.sensor,
             ss->row.kind, ss->row.unit, ss->bus,
             ss->row.quality ? ss->row.quality : "NULL",
             ss->row.error ? ss->row.error : "NULL");
    return seen->stop_with;
}

static inline int seen_bus(const struct store_bus_status *bs, void *arg)
{
    struct status_seen *seen = arg;
    size_t i = seen->nbuses++;

    assert_true(i < STATUS_MAX);
    seen->buses[i] = *bs;
    snprintf(seen->bus[i], sizeof(seen->bus[i]), "%s", bs->bus);
    return 0;
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

static inline int page_row(const struct reading_row *row, void *arg)
{
    struct page *p = arg;

    p->seqs[p->n] = row->seq;
    snprintf(p->tags[p->n], sizeof(p->tags[0]), "%s/%s/%s", row->sensor,
             row->kind, row->unit);
    p->has_value[p->n] = row->has_value;
    snprintf(p->errors[p->n], sizeof(p->errors[0]), "%s",
             row->error ? row->error : "-");
    snprintf(p->runs[p->n], sizeof(p->runs[0]), "%s",
             row->run ? row->run : "-");
    p->n++;
    return p->stop_after && p->n == p->stop_after;
}

/* 64 zeros: the hash before the first batch. */
static const char zero_hash[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* The SHA-256 of prev followed by text, as the chain defines a batch. */
static inline void chain_hash(const char *prev, const char *text,
                              char out[SHA256_HEX_LEN])
{
    size_t n = strlen(prev) + strlen(text) + 1;
    char *buf = xmalloc(n);

    snprintf(buf, n, "%s%s", prev, text);
    sha256_hex(buf, strlen(buf), out);
    free(buf);
}

/* Readings per batch and batches of the tamper tests' database. */
#define TAMPER_BATCH 5
#define TAMPER_BATCHES 3

/* A database of TAMPER_BATCHES batches of TAMPER_BATCH readings (seq 1
 * onward, mixed sensors and qualities), closed. */
static inline void make_chain_db(const char *name, char *path)
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

static inline struct store *open_ro(const char *path)
{
    char err[STORE_ERR_MAX] = "";
    struct store *s = store_open(path, STORE_READ_ONLY, err);

    if (!s)
        fail_msg("store_open: %s", err);
    return s;
}

/* Verifies the whole chain of path read-only and checks that it fails with
 * what, naming batch and seq. */
static inline void expect_verify_fails(const char *path, const char *name,
                                       const char *what, int64_t batch,
                                       int64_t seq)
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

#define INFOS_MAX 4

struct infos_seen {
    struct store_sensor_info si[INFOS_MAX];
    char text[INFOS_MAX][TEST_ROW_MAX];
    size_t n;
};

static inline int seen_info(const struct store_sensor_info *si, void *arg)
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

/* Readings per batch of the retention scenario. */
#define PRUNE_BATCH 5
/* The cut-offs of the scenario's first and second pruning. */
#define PRUNE_CUT1 1000000
#define PRUNE_CUT2 1000000000

/* One batch of PRUNE_BATCH readings at ts0, ts0 + 1, ..., cycling over the
 * first nsensors sensors of f. */
static inline void commit_span(struct store *s, const struct fixture *f,
                               int64_t ts0, size_t nsensors)
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
static inline void make_prune_db_as(const char *name, char *path, bool old)
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

/* make_prune_db() as a schema before 4 would have made it: the batches
 * hash no description. */
static inline void make_old_prune_db(const char *name, char *path)
{
    make_prune_db_as(name, path, true);
}

/* Runs store_prune and checks what it reports. */
static inline void prune_expect(struct store *s, int64_t before, size_t max,
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

/* The export's rows as "seq:sensor:unit:version", space-separated. */
static inline int vers_row(const struct reading_row *r, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%s%lld:%s:%s:%lld", n ? " " : "",
             (long long)r->seq, r->sensor, r->unit, (long long)r->version);
    return 0;
}

/* Verifies path read-only: ok, with that many descriptions checked and
 * uncovered. */
static inline void expect_verify_ok(const char *path, int64_t descriptions,
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

#endif
