// SPDX-License-Identifier: MIT
/*
 * What the store writes, against real files: sensor sync, the columns a
 * batch writes for each quality, all-or-nothing batches, immutable
 * readings, a reader beside a writer, status, events, state values and
 * the pages of readings read back.
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

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

/* A unit FT-101 is given to make a new version of its description. */
static char s_ls[] = "l/s";

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

/*
 * A batch longer than STORE_INSERT_ROWS goes in statements of that many
 * rows and the rest one by one: every reading gets the seq after the one
 * before it, each row holds its own reading (values, errors and raw words
 * of the rows in the middle of a statement too), and the chain verifies.
 * A reading refused inside such a statement is named by its sensor.
 */
static void test_commit_rows(void **state)
{
    static const uint16_t w[] = {0x41c8, 0x0000};
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], want[TEST_ROW_MAX];
    struct fixture f;
    struct store *s = open_synced("rows.db", path, &f);
    struct store_verify_result v;
    struct reading r[37];

    (void)state;
    for (int i = 0; i < 37; i++) {
        int64_t id = f.sensors[i % 3].db_id;

        r[i] = i % 5 == 4
                   ? mk_reading(id, 1000 + i, QUALITY_COMM_ERROR, 0, "timeout",
                                0, NULL)
                   : mk_reading(id, 1000 + i, QUALITY_GOOD, i + 0.5, "", 2, w);
    }
    assert_int_equal(store_commit_batch(s, r, 37, NULL, 0), 0);
    for (int i = 0; i < 37; i++) {
        assert_int_equal(r[i].seq, r[0].seq + i);
        reading_row(path, r[i].seq, row);
        if (i % 5 == 4)
            snprintf(want, sizeof(want), "%lld|%d|comm_error|NULL|timeout|NULL",
                     (long long)r[i].sensor_id, 1000 + i);
        else
            snprintf(want, sizeof(want), "%lld|%d|good|%.1f|NULL|41c8 0000",
                     (long long)r[i].sensor_id, 1000 + i, i + 0.5);
        assert_string_equal(row, want);
    }
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, 37);

    /* the 6th of a statement of 16 names no sensor */
    for (int i = 0; i < 37; i++)
        r[i].sensor_id = i == 5 ? 9999 : f.sensors[0].db_id;
    assert_int_equal(store_commit_batch(s, r, 37, NULL, 0), -1);
    assert_non_null(strstr(store_errmsg(s), "sensor 9999"));
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 37);
    for (int i = 0; i < 37; i++)
        assert_int_equal(r[i].seq, 0);
    store_close(s);
}

/*
 * sensor_last after batches touching more sensors than a statement takes
 * (STORE_INSERT_ROWS at once, the rest one by one): per sensor the newest
 * seq and the count, added to what earlier batches left.
 */
static void test_sensor_last_rows(void **state)
{
    enum { MANY = 40 }; /* two statements of 16 sensors, 8 one by one */
    char path[TEST_PATH_MAX], tags[MANY][8];
    struct fixture f;
    struct sensor_conf many[MANY];
    struct store *s = open_rw("last.db", path);
    struct reading r[3 * MANY];
    size_t n = 0;

    (void)state;
    fixture_init(&f, 1);
    for (int i = 0; i < MANY; i++) {
        many[i] = f.sensors[SENSOR_FT];
        snprintf(tags[i], sizeof(tags[i]), "S%02d", i);
        many[i].id = tags[i];
        many[i].address = 2 * i;
    }
    f.c.sensors = many;
    f.c.nsensors = MANY;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    /* every sensor twice, then all but the last five again */
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < MANY; i++, n++)
            r[n] = mk_reading(many[i].db_id, 1000 + (int64_t)n, QUALITY_GOOD, i,
                              "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, n, NULL, 0), 0);
    for (int i = 0; i < MANY - 5; i++)
        r[i] =
            mk_reading(many[i].db_id, 5000 + i, QUALITY_GOOD, i, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, MANY - 5, NULL, 0), 0);
    assert_int_equal(
        raw_int(path, "SELECT count(*) FROM (SELECT sensor_id, max(seq) AS m,"
                      " count(*) AS c FROM readings GROUP BY sensor_id) AS a"
                      " JOIN sensor_last AS l ON l.sensor_id = a.sensor_id"
                      " AND l.last_seq = a.m AND l.count = a.c"),
        MANY);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensor_last"), MANY);
    assert_int_equal(raw_int(path, "SELECT sum(count) FROM sensor_last"),
                     3 * MANY - 5);
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
    assert_int_equal(seen->sensors[1].row.seq, r[4].seq);
    assert_int_equal(seen->sensors[1].row.ts_us, 3000);
    assert_true(seen->sensors[1].row.has_value);
    assert_true(seen->sensors[1].row.value == 60.5);
    assert_string_equal(
        seen->text[2],
        "PT-201|pressure|bar|plant-a|comm_error|Illegal data address");
    assert_int_equal(seen->sensors[2].row.seq, r[3].seq);
    assert_false(seen->sensors[2].row.has_value);

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

/* A state value's as a second connection sees it: committed or not. */
static int64_t state_seen(const char *path, const char *key)
{
    char sql[128];

    snprintf(sql, sizeof(sql),
             "SELECT coalesce((SELECT value FROM state WHERE key = '%s'), -1)",
             key);
    return raw_int(path, sql);
}

/*
 * A staged state value is written by the next batch, inside its
 * transaction, the newest stage of a key winning; a direct write drops
 * what was staged (older); a batch that fails keeps it staged; more keys
 * than STORE_STAGED_MAX at once are written at once.
 */
static void test_state_staged(void **state)
{
    static const char *const keys[] = {"k1", "k2", "k3", "k4", "k5"};
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("staged.db", path, &f);
    struct reading r =
        mk_reading(f.sensors[0].db_id, 1000, QUALITY_GOOD, 1.0, "", 0, NULL);
    const char *k = STORE_STATE_MQTT_ACKED;

    (void)state;
    assert_int_equal(store_stage_state(s, k, 5), 0);
    assert_true(store_state_staged(s, k));
    assert_int_equal(state_seen(path, k), -1); /* not written yet */
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_false(store_state_staged(s, k));
    assert_int_equal(state_seen(path, k), 5);

    assert_int_equal(store_stage_state(s, k, 7), 0);
    assert_int_equal(store_stage_state(s, k, 8), 0);
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_int_equal(state_seen(path, k), 8);

    assert_int_equal(store_stage_state(s, k, 9), 0);
    assert_int_equal(store_set_state(s, k, 10), 0);
    assert_false(store_state_staged(s, k));
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_int_equal(state_seen(path, k), 10);

    assert_int_equal(store_stage_state(s, k, 11), 0);
    r.sensor_id = 9999; /* refused: the batch is rolled back */
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), -1);
    assert_true(store_state_staged(s, k));
    assert_int_equal(state_seen(path, k), 10);
    r.sensor_id = f.sensors[0].db_id;
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_int_equal(state_seen(path, k), 11);

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(store_stage_state(s, keys[i], (int64_t)i + 100), 0);
    assert_int_equal(state_seen(path, "k4"), -1);
    assert_int_equal(state_seen(path, "k5"), 104); /* no room: at once */
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    assert_int_equal(state_seen(path, "k1"), 100);
    assert_int_equal(state_seen(path, "k4"), 103);
    store_close(s);
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

/* Rows read back as "seq:tag:kind:unit:bus:unit_id:type:sensor id",
 * space-separated. */
static int shown_row(const struct reading_row *r, void *arg)
{
    char *out = arg;
    size_t n = strlen(out);

    snprintf(out + n, TEST_ROW_MAX - n, "%s%lld:%s:%s:%s:%s:%d:%s:%lld",
             n ? " " : "", (long long)r->seq, r->sensor, r->kind, r->unit,
             r->bus, r->unit_id, r->type, (long long)r->sensor_db_id);
    return 0;
}

/* Both stores' rows after seq 0 are want. */
static void expect_shown(struct store *a, struct store *b, int n,
                         const char *want)
{
    struct store *both[] = {a, b};
    char row[TEST_ROW_MAX];

    for (int i = 0; i < 2; i++) {
        row[0] = '\0';
        assert_int_equal(store_readings_after(both[i], 0, 10, shown_row, row),
                         n);
        assert_string_equal(row, want);
    }
}

/*
 * A reading read back shows the description it was taken under, for the
 * writer and for a reader opened beside it. The descriptions are cached
 * by sensors.id, which names one description for good: FT-101 read back,
 * then given another unit, bus and unit id (a new version, a new id),
 * keeps the old description for its older reading and shows the new one
 * for its newer. A sensor whose id lies beyond the cache's array is shown
 * right, readings of it beside readings of others.
 */
static void test_readings_after_descriptions(void **state)
{
    char path[TEST_PATH_MAX], want[TEST_ROW_MAX];
    struct fixture f;
    struct store *s = open_synced("shown.db", path, &f);
    struct store *reader = open_ro(path);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id;
    struct reading r[4];

    (void)state;
    r[0] = mk_reading(ft, 1000, QUALITY_GOOD, 1.0, "", 0, NULL);
    r[1] = mk_reading(pt, 1001, QUALITY_GOOD, 2.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 2, NULL, 0), 0);
    snprintf(want, sizeof(want),
             "1:FT-101:flow:m3/h:plant-a:1:float32:%lld"
             " 2:PT-201:pressure:bar:plant-a:2:int16:%lld",
             (long long)ft, (long long)pt);
    expect_shown(s, reader, 2, want);

    f.sensors[SENSOR_FT].unit = s_ls;
    f.sensors[SENSOR_FT].bus = 1;
    f.sensors[SENSOR_FT].unit_id = 7;
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_true(f.sensors[SENSOR_FT].db_id != ft);
    raw_exec(path, "INSERT INTO sensors (id, tag, version, kind, unit, bus,"
                   " unit_id, reg_table, address, type, byte_order, scale,"
                   " \"offset\", interval_ms) VALUES (100000, 'QT-501', 1,"
                   " 'generic', 'ppm', 'far-away', 9, 'input', 40,"
                   " 'uint16', 'AB', 1, 0, 1000)");
    r[0] = mk_reading(f.sensors[SENSOR_FT].db_id, 2000, QUALITY_GOOD, 3.0, "",
                      0, NULL);
    r[1] = mk_reading(100000, 2001, QUALITY_GOOD, 4.0, "", 0, NULL);
    r[2] = mk_reading(pt, 2002, QUALITY_GOOD, 5.0, "", 0, NULL);
    r[3] = mk_reading(100000, 2003, QUALITY_GOOD, 6.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, 4, NULL, 0), 0);
    snprintf(want, sizeof(want),
             "1:FT-101:flow:m3/h:plant-a:1:float32:%lld"
             " 2:PT-201:pressure:bar:plant-a:2:int16:%lld"
             " 3:FT-101:flow:l/s:rs485-1:7:float32:%lld"
             " 4:QT-501:generic:ppm:far-away:9:uint16:100000"
             " 5:PT-201:pressure:bar:plant-a:2:int16:%lld"
             " 6:QT-501:generic:ppm:far-away:9:uint16:100000",
             (long long)ft, (long long)pt,
             (long long)f.sensors[SENSOR_FT].db_id, (long long)pt);
    expect_shown(s, reader, 6, want);
    store_close(reader);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_sensors),
        cmocka_unit_test(test_sensor_last_rows),
        cmocka_unit_test(test_commit_columns),
        cmocka_unit_test(test_commit_rows),
        cmocka_unit_test(test_commit_atomic),
        cmocka_unit_test(test_reader_beside_writer),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_add_event),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_state_staged),
        cmocka_unit_test(test_readings_after),
        cmocka_unit_test(test_readings_after_descriptions),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
