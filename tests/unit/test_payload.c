// SPDX-License-Identifier: MIT
/*
 * SPEC's MQTT payloads and topics (daemon/payload.c) against hand-written
 * JSON, table-driven: readings (with and without seq, value, error, run),
 * doubles that must read back exactly, runs, the chain witness, the
 * online status, and buffers one byte too small (refused, never cut).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/payload.h"

#define SITE "daegu-demo-1"
#define PREFIX "tbdaq"
#define STARTED_US INT64_C(1795568523456789)

struct payload_case {
    const char *name;
    struct reading_row r;
    const char *want;
};

static const struct payload_case payload_cases[] = {
    {"good with run",
     {1234, 1795568523456789, "FT-101", "flow", "m3/h", true, 12.3456, "good",
      NULL, "R-001", 0, NULL, 0, NULL, 0},
     "{\"seq\":1234,\"site\":\"daegu-demo-1\",\"sensor\":\"FT-101\","
     "\"kind\":\"flow\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":12.3456,\"unit\":\"m3/h\","
     "\"quality\":\"good\",\"run\":\"R-001\"}"},
    {"good without run",
     {1, 0, "PT-201", "pressure", "bar", true, 0.1, "good", NULL, NULL, 0, NULL,
      0, NULL, 0},
     "{\"seq\":1,\"site\":\"daegu-demo-1\",\"sensor\":\"PT-201\","
     "\"kind\":\"pressure\",\"ts\":\"1970-01-01T00:00:00.000000Z\","
     "\"ts_us\":0,\"value\":0.1,\"unit\":\"bar\",\"quality\":\"good\"}"},
    {"out of range",
     {9007199254740993, 1795568523000001, "AT-301", "ph", "pH", true, -3,
      "out_of_range", NULL, "R-002", 0, NULL, 0, NULL, 0},
     "{\"seq\":9007199254740993,\"site\":\"daegu-demo-1\",\"sensor\":"
     "\"AT-301\",\"kind\":\"ph\",\"ts\":\"2026-11-25T01:02:03.000001Z\","
     "\"ts_us\":1795568523000001,\"value\":-3,\"unit\":\"pH\","
     "\"quality\":\"out_of_range\",\"run\":\"R-002\"}"},
    {"invalid",
     {7, 1795568523456789, "TT-1", "turbidity", "NTU", false, 0, "invalid",
      NULL, NULL, 0, NULL, 0, NULL, 0},
     "{\"seq\":7,\"site\":\"daegu-demo-1\",\"sensor\":\"TT-1\","
     "\"kind\":\"turbidity\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"NTU\","
     "\"quality\":\"invalid\"}"},
    {"comm error with run",
     {8, 1795568523456789, "FT-101", "flow", "m3/h", false, 0, "comm_error",
      "Connection timed out", "R-001", 0, NULL, 0, NULL, 0},
     "{\"seq\":8,\"site\":\"daegu-demo-1\",\"sensor\":\"FT-101\","
     "\"kind\":\"flow\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"m3/h\","
     "\"quality\":\"comm_error\",\"error\":\"Connection timed out\","
     "\"run\":\"R-001\"}"},
    {"comm error without run",
     {9, 1795568523456789, "FT-101", "flow", "m3/h", false, 0, "comm_error",
      "Illegal data address", NULL, 0, NULL, 0, NULL, 0},
     "{\"seq\":9,\"site\":\"daegu-demo-1\",\"sensor\":\"FT-101\","
     "\"kind\":\"flow\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"m3/h\","
     "\"quality\":\"comm_error\",\"error\":\"Illegal data address\"}"},
    {"missed (SPEC revision 2) says why, as comm_error does",
     {12, 1795568523456789, "FT-101", "flow", "m3/h", false, 0, "missed",
      "bus busy", NULL, 0, NULL, 0, NULL, 0},
     "{\"seq\":12,\"site\":\"daegu-demo-1\",\"sensor\":\"FT-101\","
     "\"kind\":\"flow\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"m3/h\","
     "\"quality\":\"missed\",\"error\":\"bus busy\"}"},
    {"not finite is null",
     {10, 1795568523456789, "X-1", "generic", "u", true, INFINITY, "invalid",
      NULL, NULL, 0, NULL, 0, NULL, 0},
     "{\"seq\":10,\"site\":\"daegu-demo-1\",\"sensor\":\"X-1\","
     "\"kind\":\"generic\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"u\","
     "\"quality\":\"invalid\"}"},
    {"escaping",
     {11, 1795568523456789, "X-1", "generic", "u", false, 0, "comm_error",
      "say \"no\"\\\n\t\x01\x1f end", NULL, 0, NULL, 0, NULL, 0},
     "{\"seq\":11,\"site\":\"daegu-demo-1\",\"sensor\":\"X-1\","
     "\"kind\":\"generic\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":null,\"unit\":\"u\","
     "\"quality\":\"comm_error\","
     "\"error\":\"say \\\"no\\\"\\\\\\n\\t\\u0001\\u001f end\"}"},
    {"not recorded yet (live feed)",
     {0, 1795568523456789, "FT-101", "flow", "m3/h", true, 12.5, "good", NULL,
      "R-001", 0, NULL, 0, NULL, 0},
     "{\"seq\":null,\"site\":\"daegu-demo-1\",\"sensor\":\"FT-101\","
     "\"kind\":\"flow\",\"ts\":\"2026-11-25T01:02:03.456789Z\","
     "\"ts_us\":1795568523456789,\"value\":12.5,\"unit\":\"m3/h\","
     "\"quality\":\"good\",\"run\":\"R-001\",\"recorded\":false}"},
};

static void test_payload_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(payload_cases) / sizeof(payload_cases[0]);
         i++) {
        const struct payload_case *pc = &payload_cases[i];
        char buf[PAYLOAD_MAX];
        int n = payload_reading(buf, sizeof(buf), SITE, &pc->r);

        if (n < 0 || strcmp(buf, pc->want) != 0)
            fail_msg("%s:\n got  %s\n want %s", pc->name, buf, pc->want);
        assert_int_equal(n, strlen(pc->want));
    }
}

/* The "value" of a payload, as text. */
static void value_text(const char *payload, char *out, size_t len)
{
    const char *v = strstr(payload, "\"value\":");
    const char *end;

    assert_non_null(v);
    v += strlen("\"value\":");
    end = strchr(v, ',');
    assert_non_null(end);
    assert_true((size_t)(end - v) < len);
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = '\0';
}

static void test_payload_doubles(void **state)
{
    static const struct {
        double v;
        const char *exact; /* the text expected, or NULL: round-trip only */
    } cases[] = {
        {0.1, "0.1"},
        {1e-300, "1e-300"},
        {123456789.123456789, "123456789.12345679"},
        {-0.0, "-0"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {5e-324, NULL},
        {12.3456, "12.3456"},
        {1.0 / 3.0, "0.3333333333333333"},
        {100, "100"},
        {-273.15, "-273.15"},
        {NAN, "null"},
        {-INFINITY, "null"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reading_row r = {1,    0,          "S",    "generic", "u",
                                true, cases[i].v, "good", NULL,      NULL,
                                0,    NULL,       0,      NULL,      0};
        char buf[PAYLOAD_MAX];
        char text[64];
        double back;

        assert_true(payload_reading(buf, sizeof(buf), SITE, &r) > 0);
        value_text(buf, text, sizeof(text));
        if (cases[i].exact && strcmp(text, cases[i].exact) != 0)
            fail_msg("value %.17g: got %s, want %s", cases[i].v, text,
                     cases[i].exact);
        if (!isfinite(cases[i].v))
            continue;
        back = strtod(text, NULL);
        if (memcmp(&back, &cases[i].v, sizeof(back)) != 0)
            fail_msg("value %.17g written as %s reads back as %.17g",
                     cases[i].v, text, back);
    }
}

static void test_payload_run(void **state)
{
    static const struct {
        struct pub_run run;
        const char *want;
    } cases[] = {
        {{.name = NULL}, "{\"state\":\"idle\"}"},
        {{.name = "R-001", .started_us = 1795568523456789},
         "{\"name\":\"R-001\",\"started\":\"2026-11-25T01:02:03.456789Z\","
         "\"operator\":null}"},
        {{.name = "R-002",
          .started_us = 1795568523000000,
          .operator_name = "Kim \"QA\""},
         "{\"name\":\"R-002\",\"started\":\"2026-11-25T01:02:03.000000Z\","
         "\"operator\":\"Kim \\\"QA\\\"\"}"},
        {{.name = "R-003",
          .started_us = 1795568523000000,
          .operator_name = "lee",
          .sealed = true,
          .ended_us = 1795568583000000,
          .chain_head = "ab12",
          .chain_seq = 600,
          .readings = 598},
         "{\"name\":\"R-003\",\"started\":\"2026-11-25T01:02:03.000000Z\","
         "\"operator\":\"lee\",\"ended\":\"2026-11-25T01:03:03.000000Z\","
         "\"chain_head\":\"ab12\",\"chain_seq\":600,\"readings\":598}"},
    };
    char buf[512];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = payload_run(buf, sizeof(buf), &cases[i].run);

        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(buf, cases[i].want);
        /* one byte short of the NUL: refused, not truncated */
        assert_int_equal(payload_run(buf, (size_t)n, &cases[i].run), -1);
    }
}

static void test_payload_witness(void **state)
{
    static const char head[] =
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    static const char want[] =
        "{\"seq\":1234,\"head\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b"
        "0b822cd15d6c15b0f00a08\",\"ts\":\"2026-11-25T01:02:03.456789Z\"}";
    char buf[256];
    int n;

    (void)state;
    n = payload_witness(buf, sizeof(buf), 1234, head, STARTED_US);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
    /* one byte short of the NUL: refused, not truncated */
    assert_int_equal(payload_witness(buf, (size_t)n, 1234, head, STARTED_US),
                     -1);
    assert_string_equal(buf, "");
}

/*
 * Every payload of the table into a buffer of every size up to the one it
 * needs (allocated to that size, so that a byte written past it is an
 * error under the sanitizers): whole, or refused and "", never cut. The
 * writers write in place while their longest form fits, and through a
 * buffer of their own near the end.
 */
static void test_payload_too_small(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(payload_cases) / sizeof(payload_cases[0]);
         i++) {
        const struct payload_case *pc = &payload_cases[i];
        size_t need = strlen(pc->want) + 1;

        for (size_t len = 0; len <= need; len++) {
            char *buf = xmalloc(len ? len : 1);
            int n = payload_reading(buf, len, SITE, &pc->r);

            if (len < need && (n != -1 || (len > 0 && buf[0] != '\0')))
                fail_msg("%s in %zu bytes: %d, '%.*s'", pc->name, len, n,
                         (int)len, buf);
            if (len == need && (n != (int)need - 1 || strcmp(buf, pc->want)))
                fail_msg("%s in %zu bytes: %d, '%s'", pc->name, len, n, buf);
            free(buf);
        }
    }
}

static void test_payload_online(void **state)
{
    static const char want[] = "{\"state\":\"online\",\"version\":"
                               "\"1.2.3 \\\"q\\\"\",\"since\":"
                               "\"2026-11-25T01:02:03.456789Z\"}";
    char buf[PAYLOAD_MAX];
    int n;

    (void)state;
    n = payload_online(buf, sizeof(buf), "1.2.3 \"q\"", STARTED_US);
    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
    assert_int_equal(payload_online(buf, (size_t)n, "1.2.3 \"q\"", STARTED_US),
                     -1);
    assert_string_equal(buf, "");
}

static void test_payload_topic(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(
        payload_topic(buf, sizeof(buf), PREFIX, SITE, "flow", "FT-101"),
        strlen("tbdaq/daegu-demo-1/flow/FT-101"));
    assert_string_equal(buf, "tbdaq/daegu-demo-1/flow/FT-101");
    assert_int_equal(payload_topic(buf, 31, PREFIX, SITE, "flow", "FT-101"),
                     30);
    assert_int_equal(payload_topic(buf, 30, PREFIX, SITE, "flow", "FT-101"),
                     -1);
    assert_string_equal(buf, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_table),
        cmocka_unit_test(test_payload_doubles),
        cmocka_unit_test(test_payload_too_small),
        cmocka_unit_test(test_payload_run),
        cmocka_unit_test(test_payload_witness),
        cmocka_unit_test(test_payload_online),
        cmocka_unit_test(test_payload_topic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
