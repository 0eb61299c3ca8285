// SPDX-License-Identifier: MIT
/*
 * Test the read snapshot (store_snapshot_begin(), store_snapshot_end())
 * against real files: a second connection commits between two reads
 * inside a snapshot, and the reads do not see it until the snapshot ends;
 * the store's reads that take a transaction of their own join it; a write
 * inside one fails and leaves it open.
 */
#include "tests/unit/test_store.h"

/* Commits n good readings of sensor at times ts, ts + 1, ... */
static void commit_n(struct store *s, int64_t sensor, int64_t ts, size_t n)
{
    struct reading r[8];

    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        r[i] =
            mk_reading(sensor, ts + (int64_t)i, QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, n, NULL, 0), 0);
}

/* A second connection to the file at path, read-only. */
static struct store *open_reader(const char *path)
{
    char err[STORE_ERR_MAX] = "";
    struct store *r = store_open(path, STORE_READ_ONLY, err);

    if (!r)
        fail_msg("store_open: %s", err);
    return r;
}

static int count_row(const struct reading_row *row, void *arg)
{
    (void)row;
    ++*(int64_t *)arg;
    return 0;
}

/* Its good readings, per store_sensor_infos() of the whole time line. */
static int sum_good(const struct store_sensor_info *si, void *arg)
{
    *(int64_t *)arg += si->good;
    return 0;
}

/* What the reader sees: the newest seq, the rows of every read that
 * counts them. Each must be the same number. */
static void assert_sees(struct store *s, int64_t n)
{
    struct status_seen seen = {0};
    struct store_verify_result v;
    int64_t last = -1, rows = 0, good = 0;

    assert_int_equal(store_last_seq(s, &last), 0);
    assert_int_equal(last, n);
    assert_int_equal(store_export(s, 0, INT64_MAX, NULL, 0, count_row, &rows),
                     n);
    assert_int_equal(rows, n);
    assert_int_equal(
        store_sensor_infos(s, 0, INT64_MAX, NULL, 0, sum_good, &good), 0);
    assert_int_equal(good, n);
    assert_int_equal(store_status(s, 0, NULL, seen_bus, &seen), 0);
    assert_int_equal(seen.nbuses, 2); /* plant-a, then rs485-1 */
    assert_int_equal(seen.buses[0].readings_total, n);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, n);
}

static void test_snapshot_reads(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *w = open_synced("snapshot.db", path, &f);
    struct store *r;
    int64_t ft = f.sensors[SENSOR_FT].db_id;

    (void)state;
    commit_n(w, ft, 1000, 2);
    r = open_reader(path);

    assert_int_equal(store_snapshot_begin(r), 0);
    /* committed after the begin, before the first read: not seen */
    commit_n(w, ft, 2000, 3);
    assert_sees(r, 2);
    /* and between two reads */
    commit_n(w, ft, 3000, 4);
    assert_sees(r, 2);
    assert_int_equal(store_run_open(r, NULL, NULL), 1);
    assert_int_equal(store_snapshot_end(r), 0);
    /* after the end, everything */
    assert_sees(r, 9);

    /* no snapshot open: each read sees the newest commit */
    commit_n(w, ft, 4000, 1);
    assert_sees(r, 10);
    assert_int_equal(store_snapshot_end(r), 0);

    store_close(r);
    store_close(w);
}

/* A run started by another connection inside the snapshot is not seen,
 * by any of the run functions. */
static void test_snapshot_runs(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *w = open_synced("snapshot_runs.db", path, &f);
    struct store *r;

    (void)state;
    commit_n(w, f.sensors[SENSOR_FT].db_id, 1000, 1);
    r = open_reader(path);
    assert_int_equal(store_snapshot_begin(r), 0);
    assert_int_equal(store_run_start(w, "r1", NULL, NULL, 5000, 2), 0);
    assert_int_equal(store_run_open(r, NULL, NULL), 1);
    assert_int_equal(store_run_get(r, "r1", NULL, NULL), 1);
    assert_int_equal(store_snapshot_end(r), 0);
    assert_int_equal(store_run_open(r, NULL, NULL), 0);
    assert_int_equal(store_run_get(r, "r1", NULL, NULL), 0);
    store_close(r);
    store_close(w);
}

/* One snapshot at a time; a write inside one fails, changes nothing and
 * leaves the snapshot open; after the end the store writes again. */
static void test_snapshot_write_refused(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("snapshot_write.db", path, &f);
    struct reading rd =
        mk_reading(f.sensors[SENSOR_FT].db_id, 1, QUALITY_GOOD, 1, "", 0, NULL);
    int64_t v = -1, last = -1;

    (void)state;
    assert_int_equal(store_snapshot_begin(s), 0);
    assert_int_equal(store_snapshot_begin(s), -1);
    assert_string_equal(store_errmsg(s),
                        "cannot begin a snapshot: one is already open");
    assert_int_equal(store_set_state(s, "x", 7), -1);
    assert_int_equal(store_commit_batch(s, &rd, 1, NULL, 0), -1);
    assert_int_equal(store_add_event(s, "note", "inside"), -1);
    assert_int_equal(store_run_start(s, "r", NULL, NULL, 10, 0), -1);
    /* still in the snapshot, reads work */
    assert_int_equal(store_get_state(s, "x", &v), 1);
    assert_int_equal(store_last_seq(s, &last), 0);
    assert_int_equal(last, 0);
    assert_int_equal(store_snapshot_end(s), 0);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM events"), 0);

    assert_int_equal(store_set_state(s, "x", 7), 0);
    assert_int_equal(store_commit_batch(s, &rd, 1, NULL, 0), 0);
    assert_int_equal(store_get_state(s, "x", &v), 0);
    assert_int_equal(v, 7);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_reads),
        cmocka_unit_test(test_snapshot_runs),
        cmocka_unit_test(test_snapshot_write_refused),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
