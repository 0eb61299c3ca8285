// SPDX-License-Identifier: MIT
/*
 * Older schema versions against real files: a file of version 1, 2, 3 or
 * 5 read as it is and upgraded by a read-write open (the missed quality,
 * the pruned table, description versions, readings' CHECK without an IN
 * list), the chain still verifying across the upgrade.
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

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
    char sql[TEST_ROW_MAX];

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
                     " ALTER TABLE runs DROP COLUMN stop_edge_seq;"
                     " ALTER TABLE runs DROP COLUMN start_edge_seq;"
                     " ALTER TABLE runs DROP COLUMN exact;"
                     " ALTER TABLE runs DROP COLUMN last_seq;"
                     " ALTER TABLE runs DROP COLUMN first_seq;"
                     " PRAGMA user_version = 3",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    raw_readings_sql(path, version < 3 ? "DROP INDEX readings_missed" : "",
                     version < 3 ? READINGS_V2 : TEST_READINGS_V5);
    snprintf(sql, sizeof(sql), "%s PRAGMA user_version = %d",
             version == 1 ? "DROP TABLE pruned;" : "", version);
    raw_exec(path, sql);
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
        assert_int_equal(raw_int(path, "PRAGMA user_version"),
                         STORE_SCHEMA_VERSION);
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
    assert_int_equal(raw_int(path, "PRAGMA user_version"),
                     STORE_SCHEMA_VERSION);
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

/* The unit of the first row of sensor id 1 read back, into arg. */
static int unit_of_1(const struct reading_row *r, void *arg)
{
    if (r->sensor_db_id != 1)
        return 0;
    snprintf(arg, TEST_ROW_MAX, "%s", r->unit);
    return 1;
}

/* The unit s shows for sensor id 1's first reading read back. */
static void expect_unit_of_1(struct store *s, const char *want)
{
    char unit[TEST_ROW_MAX] = "";

    assert_true(store_readings_after(s, 0, 100, unit_of_1, unit) > 0);
    assert_string_equal(unit, want);
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
    /* read as it is, a row of it is updated in place: a reading read
     * back shows the description as it is now */
    expect_unit_of_1(reader, "m3/h");
    raw_exec(path, "UPDATE sensors SET unit = 'l/s' WHERE id = 1");
    expect_unit_of_1(reader, "l/s");
    raw_exec(path, "UPDATE sensors SET unit = 'm3/h' WHERE id = 1");
    expect_unit_of_1(reader, "m3/h");

    s = open_rw("v3.db", path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"),
                     STORE_SCHEMA_VERSION);
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

/* Whether SQLite's program for inserting a reading into path builds a
 * temporary b-tree (OP_OpenEphemeral). */
static bool insert_builds_btree(const char *path)
{
    sqlite3 *db = raw_open(path);
    sqlite3_stmt *st = NULL;
    bool found = false;

    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "EXPLAIN INSERT INTO readings (sensor_id, ts_us,"
                           " value, quality, error, raw)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &st, NULL),
        SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        found |= strcmp((const char *)sqlite3_column_text(st, 1),
                        "OpenEphemeral") == 0;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/*
 * Version 5 to 6: readings' CHECK, an IN list for which SQLite builds a
 * temporary b-tree at every reading inserted, becomes the same five
 * names as comparisons. After the daemon's open the insert builds none,
 * the definition is a new file's, a quality outside the five is still
 * refused, and the chain still verifies, with readings added after.
 */
static void test_upgrade_v6(void **state)
{
    char path[TEST_PATH_MAX], fresh[TEST_PATH_MAX], row[TEST_ROW_MAX],
        want[TEST_ROW_MAX];
    static const char def[] =
        "SELECT sql FROM sqlite_master WHERE name = 'readings'";
    struct fixture f;
    struct store *s = open_synced("v5.db", path, &f);
    struct reading r = mk_reading(f.sensors[SENSOR_FT].db_id, 1000000,
                                  QUALITY_GOOD, 2.5, "", 0, NULL);
    sqlite3 *db;

    (void)state;
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    store_close(s);
    store_close(open_rw("v6_fresh.db", fresh));
    assert_false(insert_builds_btree(fresh));
    raw_readings_sql(path, "", TEST_READINGS_V5);
    raw_exec(path, "PRAGMA user_version = 5");
    assert_true(insert_builds_btree(path));

    s = open_rw("v5.db", path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"), 6);
    raw_row(path, "PRAGMA integrity_check", row);
    assert_string_equal(row, "ok");
    raw_row(path, def, row);
    raw_row(fresh, def, want);
    assert_string_equal(row, want);
    assert_false(insert_builds_btree(path));
    db = raw_open(path);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO readings (sensor_id, ts_us,"
                                  " quality) VALUES (1, 2, 'bogus')",
                                  NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    assert_non_null(strstr(sqlite3_errmsg(db), "CHECK constraint failed"));
    sqlite3_close(db);
    r = mk_reading(f.sensors[SENSOR_FT].db_id, 2000000, QUALITY_MISSED, 0,
                   "bus busy", 0, NULL);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 2);
    expect_verify_ok(path, 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_v1),
        cmocka_unit_test(test_missed_batch),
        cmocka_unit_test(test_schema_upgrade),
        cmocka_unit_test(test_upgrade_v3),
        cmocka_unit_test(test_upgrade_v6),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
