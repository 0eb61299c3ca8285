// SPDX-License-Identifier: MIT
/*
 * The audit chain against real files: its hash recomputed here from the
 * documented canonical form (readings, description versions,
 * configurations), verify on a good file, after tampering, over a range,
 * and where it places a failure.
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

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

/* The replay's rows as "seq:unit ". */
static int replay_row(const struct reading_row *r, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%lld:%s ", (long long)r->seq, r->unit);
    return 0;
}

/* A unit FT-101 is given to make a new version of its description. */
static char s_ls[] = "l/s";

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
    assert_int_equal(seen->sensors[1].row.seq, 4);

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

/* Counts the manifest's entries by their bit, for test_description_bit. */
static int bit_info(const struct store_sensor_info *si, void *arg)
{
    char *out = arg;

    snprintf(out + strlen(out), TEST_ROW_MAX - strlen(out), "%s:%lld:%d ",
             si->tag, (long long)si->version, si->bit);
    return 0;
}

/*
 * A bit sensor's bit is part of its description (schema 5): another bit
 * of the same register is a new version, the bit is hashed with the
 * description (changing it fails verify), the manifest names it, and
 * verify decodes a changed reading of a bit sensor to its bit. A sensor
 * without a bit keeps the canonical line it had before there were bits
 * (test_chain_known_batch's hashes).
 */
static void test_description_bit(void **state)
{
    char path[TEST_PATH_MAX], copy[TEST_PATH_MAX], sql[TEST_ROW_MAX];
    char row[TEST_ROW_MAX] = "";
    struct fixture f;
    struct store *s = open_rw("bits.db", path);
    struct store_verify_result v;
    struct reading r;
    uint16_t word = 0x0008; /* bit 3 set */
    int64_t v1, v2;

    (void)state;
    fixture_init(&f, 3);
    f.sensors[SENSOR_PT].type = REG_UINT16;
    f.sensors[SENSOR_PT].scale = 1.0;
    f.sensors[SENSOR_PT].has_bit = true;
    f.sensors[SENSOR_PT].bit = 3;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    v1 = f.sensors[SENSOR_PT].db_id;
    r = mk_reading(v1, 1000, QUALITY_GOOD, 1.0, "", 1, &word);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    /* the same bit: the same version */
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[SENSOR_PT].db_id, v1);
    /* another bit: version 2 */
    f.sensors[SENSOR_PT].bit = 4;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    v2 = f.sensors[SENSOR_PT].db_id;
    assert_true(v2 != v1);
    r = mk_reading(v2, 2000, QUALITY_GOOD, 0.0, "", 1, &word);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    raw_row(path,
            "SELECT group_concat(tag || ':' || version || ':' ||"
            " coalesce(bit, '-'), ' ') FROM (SELECT * FROM sensors"
            " ORDER BY id)",
            row);
    assert_string_equal(row, "FT-101:1:- PT-201:1:3 AT-301:1:- PT-201:2:4");
    row[0] = '\0';
    assert_int_equal(store_sensor_infos(s, 0, 10000, NULL, 0, bit_info, row),
                     0);
    assert_string_equal(row, "PT-201:1:3 PT-201:2:4 ");
    store_close(s);
    expect_verify_ok(path, 2, 0);

    /* the bit changed in the file: verify names the description */
    path_of(copy, "bits_changed.db");
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
    raw_exec(path, sql);
    raw_exec(copy, "UPDATE sensors SET bit = 5 WHERE tag = 'PT-201'"
                   " AND version = 1");
    expect_verify_fails(copy, "bit",
                        "sensor 'PT-201' version 1's description was changed",
                        1, 1);
    /* a changed reading of a bit sensor decodes to its bit */
    path_of(copy, "bits_reading.db");
    snprintf(sql, sizeof(sql), "VACUUM INTO '%s'", copy);
    raw_exec(path, sql);
    raw_exec(copy, "DROP TRIGGER readings_immutable;"
                   " UPDATE readings SET value = 0 WHERE seq = 1");
    s = open_ro(copy);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_false(v.ok);
    assert_int_equal(v.bad_seq, 1);
    assert_true(v.has_decoded);
    assert_true(v.decoded == 1.0);
    store_close(s);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_known_batch),
        cmocka_unit_test(test_chain_across_batches),
        cmocka_unit_test(test_verify_ok),
        cmocka_unit_test(test_verify_tampered),
        cmocka_unit_test(test_verify_range),
        cmocka_unit_test(test_description_versions),
        cmocka_unit_test(test_description_bit),
        cmocka_unit_test(test_config_kept),
        cmocka_unit_test(test_verify_where),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
