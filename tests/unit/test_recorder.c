// SPDX-License-Identifier: MIT
/*
 * The recorder against a real SQLite file: commits and their deadline,
 * another connection's lock (a short one only delays a commit; a long
 * one is an outage with db_down and db_up events and the live feed), and
 * the bound on what waits during an outage.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/util.h"
#include "lib/config.h"
#include "daemon/recorder.h"
#include "lib/store.h"

#define MS NS_PER_MS
#define PATH_MAX_LEN 256

struct world {
    char dir[PATH_MAX_LEN], db[PATH_MAX_LEN + 16], conf[PATH_MAX_LEN + 16];
    struct config *c;
    struct store *s;
    struct recorder rc;
    int64_t sensor; /* sensors.id of the one sensor */
    size_t live;    /* readings handed to the live feed */
    int64_t next_ts;
};

static void on_live(void *arg, const struct reading *r)
{
    struct world *w = arg;

    (void)r;
    w->live++;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[STORE_ERR_MAX];
    FILE *f;

    if (!w)
        return -1;
    snprintf(w->dir, sizeof(w->dir), "/tmp/test_recorder.XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->db, sizeof(w->db), "%s/t.db", w->dir);
    snprintf(w->conf, sizeof(w->conf), "%s/t.conf", w->dir);
    if (!(f = fopen(w->conf, "w")))
        return -1;
    fprintf(f,
            "site = \"rec\"; database = \"%s\"; commit_interval_ms = 100;\n"
            "buffer_readings = 100;\n"
            "buses = ({ name = \"b\"; type = \"tcp\"; host = \"127.0.0.1\"; "
            "});\n"
            "sensors = ({ id = \"FT\"; kind = \"flow\"; bus = \"b\"; "
            "address = 0; type = \"int16\"; });\n",
            w->db);
    fclose(f);
    w->c = config_load_logged(w->conf);
    if (!w->c)
        return -1;
    w->s = store_open(w->db, STORE_READ_WRITE, err);
    if (!w->s || store_sync_sensors(w->s, w->c) < 0)
        return -1;
    store_set_busy_timeout(w->s, 20);
    w->sensor = w->c->sensors[0].db_id;
    w->next_ts = 1000;
    recorder_init(&w->rc, w->s, w->c, on_live, w);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[PATH_MAX_LEN + 16];

    recorder_release(&w->rc);
    store_close(w->s);
    config_free(w->c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        return -1;
    free(w);
    return 0;
}

/* A reading of the sensor, taken at taken_ns. */
static void take(struct world *w, int64_t taken_ns)
{
    struct queue_item it = {.type = QUEUE_READING, .taken_ns = taken_ns};

    it.u.reading.sensor_id = w->sensor;
    it.u.reading.ts_us = w->next_ts++;
    it.u.reading.quality = QUALITY_GOOD;
    it.u.reading.value = 1.5;
    it.u.reading.nraw = 1;
    recorder_take(&w->rc, &it);
}

/* One integer from a query on a connection of the test's own. */
static int64_t query(struct world *w, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;

    assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Another connection holding the write lock. */
static sqlite3 *lock_db(struct world *w)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void unlock_db(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/* Committed: the deadline is the reading's time plus the interval, the
 * seq and time of the newest are kept, nothing waits after. */
static void test_commit(void **state)
{
    struct world *w = *state;

    assert_true(recorder_due_at(&w->rc) == INT64_MAX);
    take(w, 5000 * MS);
    take(w, 5050 * MS);
    assert_true(recorder_due_at(&w->rc) == 5100 * MS);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(w->rc.committed, 2);
    assert_int_equal(w->rc.last_seq, 2);
    assert_int_equal(w->rc.last_ts_us, 1001);
    assert_int_equal(recorder_pending(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 2);
    assert_false(recorder_down(&w->rc));
}

/* A lock shorter than the grace period: the commit fails, is tried
 * again within RECORDER_BUSY_RETRY_MS, and is no outage. */
static void test_short_lock(void **state)
{
    struct world *w = *state;
    sqlite3 *other = lock_db(w);
    int64_t t;

    take(w, time_mono_ns());
    t = time_mono_ns();
    assert_int_equal(recorder_commit(&w->rc), -1);
    /* the busy handler's 20 ms, not SQLite's usual 5 s */
    assert_true(time_mono_ns() - t < 500 * MS);
    assert_false(recorder_down(&w->rc));
    assert_true(recorder_due_at(&w->rc) <=
                time_mono_ns() + RECORDER_BUSY_RETRY_MS * MS);
    assert_int_equal(w->live, 0);
    unlock_db(other);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind LIKE 'db_%'"), 0);
}

/* A lock past the grace period is an outage: logged, db_down, what waits
 * goes to the live feed and so does every new reading; beyond
 * buffer_readings readings are counted lost; the first commit that works
 * records db_up with the counts. */
static void test_long_lock(void **state)
{
    struct world *w = *state;
    sqlite3 *other = lock_db(w);
    int64_t until = time_mono_ns() + (RECORDER_BUSY_GRACE_MS + 100) * MS;

    take(w, time_mono_ns());
    take(w, time_mono_ns());
    while (!recorder_down(&w->rc)) {
        assert_int_equal(recorder_commit(&w->rc), -1);
        assert_true(time_mono_ns() < until + 500 * MS);
        pause_ms(RECORDER_BUSY_RETRY_MS);
    }
    assert_true(time_mono_ns() >= until - 100 * MS);
    assert_non_null(strstr(recorder_error(&w->rc), "locked"));
    assert_int_equal(w->live, 2);
    for (int i = 0; i < 150; i++)
        take(w, time_mono_ns());
    assert_int_equal(w->live, 152);
    assert_int_equal(recorder_waiting(&w->rc), 100);
    assert_int_equal(w->rc.lost, 52);
    unlock_db(other);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_false(recorder_down(&w->rc));
    /* db_down was taken when the outage began; db_up now: both go with
     * the next commit */
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 100);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_down' AND "
                 "detail LIKE '%locked%'"),
        1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_up' AND "
                 "detail LIKE '%100 readings recorded late, 52 lost%'"),
        1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lock, setup, teardown),
    };

    log_init("test_recorder", LOG_LEVEL_WARNING, LOG_PLAIN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
