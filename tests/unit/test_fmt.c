// SPDX-License-Identifier: MIT
/*
 * Number and time formatting (common/fmt), as fast as the export needs
 * and still exact: shortest round-trip doubles checked against printf's
 * %.15g/%.16g/%.17g loop (a table, then random bit patterns and the
 * values sensors give), integers, and ISO 8601 time stamps checked
 * against gmtime_r() and snprintf().
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/fmt.h"
#include "common/util.h"

/* Random values checked against the reference loop per family. */
#define TEST_RANDOM_VALUES 200000

/* What fmt_double() must match: the first of %.15g, %.16g, %.17g that
 * strtod() reads back to the same bits. */
static void reference_double(double v, char *buf, size_t len)
{
    for (int digits = 15; digits <= 17; digits++) {
        double back;

        snprintf(buf, len, "%.*g", digits, v);
        back = strtod(buf, NULL);
        if (memcmp(&back, &v, sizeof(v)) == 0)
            return;
    }
}

static void check_double(double v)
{
    char got[FMT_DOUBLE_LEN], want[64];
    size_t n = fmt_double(v, got);
    double back = strtod(got, NULL);

    reference_double(v, want, sizeof(want));
    if (strcmp(got, want) != 0 || n != strlen(got) ||
        memcmp(&back, &v, sizeof(v)) != 0)
        fail_msg("%a: got '%s' (len %zu), want '%s'", v, got, n, want);
}

static void test_double_table(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {0.1, "0.1"},
        {-0.1, "-0.1"},
        {1.0 / 3.0, "0.3333333333333333"},
        {0.1 + 0.2, "0.30000000000000004"},
        {21.37, "21.37"},
        {2137 * 0.01, "21.37"},
        {1234.5, "1234.5"},
        {-12345, "-12345"},
        {1e-300, "1e-300"},
        {5e-324, "4.94065645841247e-324"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {-DBL_MAX, "-1.7976931348623157e+308"},
        {1e15, "1e+15"},
        {999999999999999.0, "999999999999999"},
        {123456789012345.6, "123456789012345.6"},
        {1e-4, "0.0001"},
        {1.5e-5, "1.5e-05"},
        {9007199254740993.0, "9007199254740992"},
        {20.83721923828125, "20.83721923828125"},
        {100, "100"},
        {1e22, "1e+22"},
        {1e23, "1e+23"},
        /* exact ties at the 17th digit go to the even digit, as printf */
        {12345678901234.4375, "12345678901234.438"},
        {98765432109876.5625, "98765432109876.56"},
        {0.00048828125, "0.00048828125"},
        {4503599627370495.5, "4503599627370495.5"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[FMT_DOUBLE_LEN];

        fmt_double(cases[i].v, got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%a: got '%s', want '%s'", cases[i].v, got, cases[i].want);
        check_double(cases[i].v);
    }
}

/* A deterministic generator, so that a failure can be reproduced. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void test_double_random(void **state)
{
    (void)state;
    for (int i = 0; i < TEST_RANDOM_VALUES; i++) {
        uint64_t bits = rnd();
        double v;
        float f;
        uint32_t fb = (uint32_t)rnd();

        /* every bit pattern: all exponents, subnormals included */
        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v))
            check_double(v);
        /* what sensors give: float32 values, scaled int16 readings, short
         * decimals, integers, values near powers of ten */
        memcpy(&f, &fb, sizeof(f));
        if (isfinite(f))
            check_double((double)f);
        check_double((int16_t)bits * 0.01);
        check_double((int32_t)bits * 0.001 + 0.5);
        check_double((double)(int64_t)(bits >> 14) / 1000.0);
        check_double((double)(int64_t)(bits >> 11));
        check_double(pow(10, (int)(bits % 40) - 20) *
                     (1 + (double)(bits >> 40) * 1e-16));
        check_double(nextafter((double)(bits % 1000000) / 1e4, 0));
    }
    for (int e = -324; e <= 308; e++) {
        double v = pow(10, e);

        check_double(v);
        check_double(nextafter(v, 0));
        check_double(nextafter(v, INFINITY));
    }
}

static void test_double_nonfinite(void **state)
{
    char buf[FMT_DOUBLE_LEN];
    (void)state;

    fmt_double(INFINITY, buf);
    assert_string_equal(buf, "inf");
    fmt_double(-INFINITY, buf);
    assert_string_equal(buf, "-inf");
}

static void test_int64(void **state)
{
    static const struct {
        int64_t v;
        const char *want;
    } cases[] = {
        {0, "0"},
        {7, "7"},
        {-7, "-7"},
        {1795568523456789, "1795568523456789"},
        {INT64_MAX, "9223372036854775807"},
        {INT64_MIN, "-9223372036854775808"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[FMT_INT64_LEN];

        assert_int_equal(fmt_int64(cases[i].v, got), strlen(cases[i].want));
        assert_string_equal(got, cases[i].want);
    }
}

/* What fmt_time_iso() must match: gmtime_r() and snprintf(), with the
 * microseconds of the second below us (also before 1970). */
static void reference_time(int64_t us, char buf[TIME_ISO_LEN])
{
    int64_t secs = us / US_PER_S - (us % US_PER_S < 0);
    time_t t = (time_t)secs;
    struct tm tm;
    char tmp[96]; /* room for any int the compiler imagines */
    size_t len;

    gmtime_r(&t, &tm);
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (long)(us - secs * US_PER_S));
    len = strlen(tmp);
    if (len >= TIME_ISO_LEN)
        len = TIME_ISO_LEN - 1;
    memcpy(buf, tmp, len);
    buf[len] = '\0';
}

static void check_time(int64_t us)
{
    char got[TIME_ISO_LEN], want[TIME_ISO_LEN];
    size_t n = fmt_time_iso(us, got);

    reference_time(us, want);
    if (strcmp(got, want) != 0 || n != strlen(want))
        fail_msg("%" PRId64 ": got '%s', want '%s'", us, got, want);
}

static void test_time_format(void **state)
{
    static const struct {
        const char *iso;
        const char *want;
    } cases[] = {
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
        {"2026-11-25T01:02:03.456789Z", "2026-11-25T01:02:03.456789Z"},
        {"2000-02-29T23:59:59.999999Z", "2000-02-29T23:59:59.999999Z"},
        {"2100-03-01T00:00:00Z", "2100-03-01T00:00:00.000000Z"},
        {"2024-12-31T12:00:00.5Z", "2024-12-31T12:00:00.500000Z"},
        {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[TIME_ISO_LEN];
        int64_t us;

        assert_int_equal(time_parse_iso(cases[i].iso, &us), 0);
        fmt_time_iso(us, got);
        assert_string_equal(got, cases[i].want);
        check_time(us);
    }
    /* outside 1970..9999 too */
    check_time(-1);
    check_time(-86400 * US_PER_S * 365);
    check_time(INT64_C(253402300800000000));
    for (int i = 0; i < TEST_RANDOM_VALUES; i++)
        check_time((int64_t)(rnd() % INT64_C(253402300800000000)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_table),
        cmocka_unit_test(test_double_random),
        cmocka_unit_test(test_double_nonfinite),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_time_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
