// SPDX-License-Identifier: MIT
/*
 * The parts of `tbdaq export` that work without a database: the row
 * writers (cli/export_rows.c) into a sink on a temporary file, byte for
 * byte; the tally of the rows into the manifest's counts
 * (cli/export_sensors.c); and the sink itself (cli/export_sink.c): a
 * string larger than its buffers, the SHA-256 of what it wrote, a write
 * error that it keeps. The integration cases audit_* cover the whole
 * command against a real database.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/export.h"
#include "common/hash.h"

/* Bytes a test reads back from its sink's file, at most. */
#define TEST_READ_MAX (4u << 20)

/* 2026-11-25T09:00:00Z */
#define T0 INT64_C(1795597200000000)

/* A job writing to a sink on a temporary file. */
struct fixture {
    FILE *file;
    struct sink sink;
    struct export_job job;
};

static int fixture_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->file = tmpfile();
    assert_non_null(f->file);
    sink_init(&f->sink, fileno(f->file), "test", true);
    f->job.sink = &f->sink;
    *state = f;
    return 0;
}

static int fixture_teardown(void **state)
{
    struct fixture *f = *state;

    sink_release(&f->sink);
    export_sensors_release(&f->job);
    fclose(f->file);
    free(f);
    return 0;
}

/* Drains the sink and returns what its file holds (free it). */
static char *fixture_output(struct fixture *f)
{
    char *buf = malloc(TEST_READ_MAX + 1);
    ssize_t n;

    assert_non_null(buf);
    assert_int_equal(sink_drain(&f->sink), 0);
    assert_int_equal(lseek(fileno(f->file), 0, SEEK_SET), 0);
    n = read(fileno(f->file), buf, TEST_READ_MAX);
    assert_true(n >= 0);
    buf[n] = '\0';
    return buf;
}

/* A recorded reading as the export reads it (no run, not from
 * store_readings_after(): no bus). */
#define TEST_ROW(seq_, ts_, sensor_, kind_, unit_, has_, value_, quality_,     \
                 error_, version_)                                             \
    {                                                                          \
        .seq = (seq_), .ts_us = (ts_), .sensor = (sensor_), .kind = (kind_),   \
        .unit = (unit_), .has_value = (has_), .value = (value_),               \
        .quality = (quality_), .error = (error_), .version = (version_)        \
    }

/* Rows of two sensors, in the export's order (time, tag, seq). */
static const struct reading_row test_rows[] = {
    TEST_ROW(1, T0, "FT-101", "flow", "m3/h", true, 21.37, "good", NULL, 1),
    TEST_ROW(2, T0, "TT-1", "temperature", "°C", false, 0, "comm_error",
             "not connected: Connection refused", 1),
    TEST_ROW(3, T0 + 500000, "FT-101", "flow", "m3/h", true, 1e6,
             "out_of_range", NULL, 2),
    TEST_ROW(4, T0 + 1000000, "TT-1", "temperature", "°C", false, 0, "missed",
             "bus busy, \"an earlier request\"", 1),
};
#define TEST_NROWS (sizeof(test_rows) / sizeof(test_rows[0]))

static void write_rows(struct fixture *f,
                       int (*fn)(const struct reading_row *, void *))
{
    for (size_t i = 0; i < TEST_NROWS; i++)
        assert_int_equal(fn(&test_rows[i], &f->job), 0);
}

static void test_csv_rows(void **state)
{
    struct fixture *f = *state;
    char *out;

    write_rows(f, export_write_row);
    out = fixture_output(f);
    assert_string_equal(
        out, "seq,ts,sensor,kind,value,unit,quality,error\r\n"
             "1,2026-11-25T09:00:00.000000Z,FT-101,flow,21.37,m3/h,good,\r\n"
             "2,2026-11-25T09:00:00.000000Z,TT-1,temperature,,°C,comm_error,"
             "not connected: Connection refused\r\n"
             "3,2026-11-25T09:00:00.500000Z,FT-101,flow,1000000,m3/h,"
             "out_of_range,\r\n"
             "4,2026-11-25T09:00:01.000000Z,TT-1,temperature,,°C,missed,"
             "\"bus busy, \"\"an earlier request\"\"\"\r\n");
    assert_int_equal(f->job.rows, 4);
    free(out);
}

static void test_json_rows(void **state)
{
    struct fixture *f = *state;
    char *out;

    f->job.json = true;
    write_rows(f, export_write_row);
    out = fixture_output(f);
    assert_string_equal(
        out,
        "{\"seq\":1,\"ts\":\"2026-11-25T09:00:00.000000Z\","
        "\"ts_us\":1795597200000000,\"sensor\":\"FT-101\",\"kind\":\"flow\","
        "\"value\":21.37,\"unit\":\"m3/h\",\"quality\":\"good\","
        "\"error\":null},\n"
        "{\"seq\":2,\"ts\":\"2026-11-25T09:00:00.000000Z\","
        "\"ts_us\":1795597200000000,\"sensor\":\"TT-1\","
        "\"kind\":\"temperature\",\"value\":null,\"unit\":\"°C\","
        "\"quality\":\"comm_error\","
        "\"error\":\"not connected: Connection refused\"},\n"
        "{\"seq\":3,\"ts\":\"2026-11-25T09:00:00.500000Z\","
        "\"ts_us\":1795597200500000,\"sensor\":\"FT-101\",\"kind\":\"flow\","
        "\"value\":1000000,\"unit\":\"m3/h\",\"quality\":\"out_of_range\","
        "\"error\":null},\n"
        "{\"seq\":4,\"ts\":\"2026-11-25T09:00:01.000000Z\","
        "\"ts_us\":1795597201000000,\"sensor\":\"TT-1\","
        "\"kind\":\"temperature\",\"value\":null,\"unit\":\"°C\","
        "\"quality\":\"missed\","
        "\"error\":\"bus busy, \\\"an earlier request\\\"\"}");
    free(out);
}

/* The tally: per version of a description, per quality, with the span
 * of the rows; then the manifest's counts taken from it. */
static void test_tally(void **state)
{
    struct fixture *f = *state;
    struct export_job *e = &f->job;

    write_rows(f, export_write_row);
    assert_int_equal(e->rows, 4);
    /* FT-101 v1, FT-101 v2, TT-1 v1: sorted by tag, then version */
    assert_int_equal(e->nsensors, 3);
    assert_string_equal(e->sensors[0].tag, "FT-101");
    assert_int_equal(e->sensors[0].version, 1);
    assert_int_equal(e->sensors[1].version, 2);
    assert_string_equal(e->sensors[2].tag, "TT-1");
    assert_int_equal(e->sensors[0].tally[QUALITY_GOOD], 1);
    assert_int_equal(e->sensors[1].tally[QUALITY_OUT_OF_RANGE], 1);
    assert_int_equal(e->sensors[1].tally[QUALITY_GOOD], 0);
    assert_int_equal(e->sensors[2].tally[QUALITY_COMM_ERROR], 1);
    assert_int_equal(e->sensors[2].tally[QUALITY_MISSED], 1);
    assert_int_equal(export_counted(e), 0);
    assert_false(export_tally_matches(e));

    export_take_tally(e);
    assert_int_equal(export_counted(e), 4);
    assert_int_equal(export_sensor_rows(&e->sensors[2]), 2);
    assert_int_equal(e->sensors[2].first_us, T0);
    assert_int_equal(e->sensors[2].last_us, T0 + 1000000);
    /* the same rows again match the counts they gave; one more does not
     * (the JSON export's internal-error check) */
    write_rows(f, export_write_row);
    assert_true(export_tally_matches(e));
    assert_int_equal(export_write_row(&test_rows[0], e), 0);
    assert_false(export_tally_matches(e));
}

/* The manifest lists the versions that have rows; a --sensor without any
 * is listed once, with its newest version. */
static void test_drop_unseen(void **state)
{
    struct fixture *f = *state;
    struct export_job *e = &f->job;
    static const struct reading_row row =
        TEST_ROW(1, T0, "A", "flow", "m3/h", true, 1, "good", NULL, 2);
    static const char *tags[] = {"A", "B"};

    assert_int_equal(export_write_row(&row, e), 0);
    export_take_tally(e);
    /* as if described by the database: A v1 (no rows), B v1, B v2 */
    e->tags = tags;
    e->ntags = 2;
    for (int i = 0; i < 3; i++) {
        struct reading_row r = row;

        r.sensor = i ? "B" : "A";
        r.version = i == 2 ? 2 : 1;
        export_tally(e, &r);
    }
    assert_int_equal(e->nsensors, 4);
    for (size_t i = 0; i < e->nsensors; i++) {
        memset(e->sensors[i].tally, 0, sizeof(e->sensors[i].tally));
        e->sensors[i].newest = e->sensors[i].version == 2;
    }
    export_drop_unseen(e);
    e->tags = NULL;
    e->ntags = 0;
    assert_int_equal(e->nsensors, 2);
    assert_string_equal(e->sensors[0].tag, "A");
    assert_int_equal(e->sensors[0].version, 2);
    assert_string_equal(e->sensors[1].tag, "B");
    assert_int_equal(e->sensors[1].version, 2);
    assert_int_equal(export_sensor_rows(&e->sensors[1]), 0);
}

static void test_unknown_quality(void **state)
{
    struct fixture *f = *state;
    static const struct reading_row row =
        TEST_ROW(7, T0, "A", "flow", "m3/h", true, 1, "great", NULL, 1);

    assert_int_equal(export_write_row(&row, &f->job), 1);
    assert_true(f->job.stopped);
    assert_int_equal(f->job.nsensors, 0);
}

/* A string larger than both buffers goes out whole, hashed. */
static void test_sink_large(void **state)
{
    struct fixture *f = *state;
    size_t n = 3u << 20;
    char *big = malloc(n + 1), *out, want[SHA256_HEX_LEN], got[SHA256_HEX_LEN];

    assert_non_null(big);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n] = '\0';
    sink_puts(&f->sink, "[");
    sink_jstr(&f->sink, big);
    sink_puts(&f->sink, ",");
    sink_jstr(&f->sink, NULL);
    sink_puts(&f->sink, "]");
    out = fixture_output(f);
    assert_int_equal(strlen(out), n + 9);
    assert_memory_equal(out + 2, big, n);
    assert_string_equal(out + n + 2, "\",null]");
    sha256_hex(out, strlen(out), want);
    sha256_finish_hex(f->sink.hash, got);
    f->sink.hash = NULL;
    assert_string_equal(got, want);
    free(out);
    free(big);
}

/* A failed write is kept, and what follows is discarded. */
static void test_sink_error(void **state)
{
    struct sink k;
    int fd = open("/dev/null", O_RDONLY);
    (void)state;

    assert_true(fd >= 0);
    sink_init(&k, fd, "ro", false);
    sink_puts(&k, "lost");
    assert_int_equal(sink_drain(&k), -1);
    assert_int_equal(k.err, EBADF);
    sink_puts(&k, "also lost");
    assert_int_equal(sink_drain(&k), -1);
    sink_release(&k);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_csv_rows, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_json_rows, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_tally, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_drop_unseen, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_quality, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_sink_large, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test(test_sink_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
