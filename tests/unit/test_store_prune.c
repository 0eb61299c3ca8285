// SPDX-License-Identifier: MIT
/*
 * Retention against real files: what is pruned and kept, its cursor and
 * its limit per call, verify across pruning and against forged pruned
 * rows, damaged batches kept. (Its rate: tests/bench/store_rate.c.)
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

static void make_prune_db(const char *name, char *path)
{
    make_prune_db_as(name, path, false);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_prune_limit),
        cmocka_unit_test(test_prune_tampered),
        cmocka_unit_test(test_prune_keeps_damaged),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
