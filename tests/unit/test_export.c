// SPDX-License-Identifier: MIT
/*
 * The pure pieces of `tbdaq export` and the run commands: shortest
 * round-trip doubles, integers and time stamps (common/fmt), CSV quoting
 * (common/csv), JSON strings and numbers (common/jsonw), the ISO 8601
 * parser the export's --from/--to use (common/util), and the name and
 * free-text checks of `tbdaq run start` (common/text).
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/csv.h"
#include "common/fmt.h"
#include "common/jsonw.h"
#include "common/text.h"
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
    char buf[FMT_DOUBLE_LEN], *end;
    (void)state;

    fmt_double(INFINITY, buf);
    assert_string_equal(buf, "inf");
    fmt_double(-INFINITY, buf);
    assert_string_equal(buf, "-inf");
    end = jsonw_double(buf, NAN);
    *end = '\0';
    assert_string_equal(buf, "null");
    end = jsonw_double(buf, -INFINITY);
    *end = '\0';
    assert_string_equal(buf, "null");
    end = jsonw_double(buf, 0.1);
    *end = '\0';
    assert_string_equal(buf, "0.1");
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

static void check_time(int64_t us)
{
    char got[TIME_ISO_LEN], want[TIME_ISO_LEN];
    size_t n = fmt_time_iso(us, got);

    time_format_iso(us, want);
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
    /* outside 1970..9999 it defers to time_format_iso */
    check_time(-1);
    check_time(-86400 * US_PER_S * 365);
    check_time(INT64_C(253402300800000000));
    for (int i = 0; i < TEST_RANDOM_VALUES; i++)
        check_time((int64_t)(rnd() % INT64_C(253402300800000000)));
}

static void test_time_parse(void **state)
{
    static const struct {
        const char *in;
        int ok;
        const char *utc; /* what it means, if ok */
    } cases[] = {
        {"2026-11-25T09:00:00Z", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T18:00:00+09:00", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T03:30:00-05:30", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T03:30:00.25-0530", 1, "2026-11-25T09:00:00.250000Z"},
        {"2026-01-01T05:00:00+09:00", 1, "2025-12-31T20:00:00.000000Z"},
        {"2026-11-25T09:00:00.123456789Z", 1, "2026-11-25T09:00:00.123456Z"},
        {"2026-11-25", 1, "2026-11-25T00:00:00.000000Z"},
        {"2024-02-29T00:00:00Z", 1, "2024-02-29T00:00:00.000000Z"},
        {"2026-11-25T09:00:00", 0, NULL},  /* no zone: ambiguous */
        {"2026-11-25T09:00Z", 0, NULL},    /* no seconds */
        {"2026-13-01T00:00:00Z", 0, NULL}, /* month */
        {"2026-02-29T00:00:00Z", 0, NULL}, /* not a leap year */
        {"2026-11-25T24:00:00Z", 0, NULL}, /* hour */
        {"2026-11-25T09:00:00+24:00", 0, NULL},
        {"2026-11-25T09:00:00Zjunk", 0, NULL},
        {"2026-11-25T09:00:00.Z", 0, NULL}, /* empty fraction */
        {"26-11-25", 0, NULL},
        {"yesterday", 0, NULL},
        {"", 0, NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t us = 0;
        int rc = time_parse_iso(cases[i].in, &us);

        if (!cases[i].ok) {
            if (rc != -1)
                fail_msg("'%s' was accepted", cases[i].in);
            continue;
        }
        char got[TIME_ISO_LEN];

        if (rc != 0)
            fail_msg("'%s' was refused", cases[i].in);
        fmt_time_iso(us, got);
        if (strcmp(got, cases[i].utc) != 0)
            fail_msg("'%s': got %s, want %s", cases[i].in, got, cases[i].utc);
    }
}

static void test_csv(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"FT-101", "FT-101"},
        {"m3/h", "m3/h"},
        {" spaced ", " spaced "},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"line\nbreak", "\"line\nbreak\""},
        {"cr\r", "\"cr\r\""},
        {"Connection timed out", "Connection timed out"},
        {"µS/cm", "µS/cm"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        char *buf = xmalloc(CSV_FIELD_MAX(n) + 1), *end;

        end = csv_field(buf, cases[i].in, n);
        assert_true((size_t)(end - buf) <= CSV_FIELD_MAX(n));
        *end = '\0';
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(csv_needs_quotes(cases[i].in, n),
                         strcmp(cases[i].in, cases[i].want) != 0);
        free(buf);
    }
    /* the worst case fills the bound exactly */
    {
        char buf[CSV_FIELD_MAX(3)], *end = csv_field(buf, "\"\"\"", 3);

        assert_int_equal(end - buf, CSV_FIELD_MAX(3));
    }
}

static void test_json_string(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "\"\""},
        {"FT-101", "\"FT-101\""},
        {"a\"b", "\"a\\\"b\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"tab\there", "\"tab\\there\""},
        {"nl\ncr\r", "\"nl\\ncr\\r\""},
        {"\b\f", "\"\\b\\f\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"µS/cm °C", "\"µS/cm °C\""},
        {"/", "\"/\""},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        char *buf = xmalloc(JSONW_STRING_MAX(n) + 1), *end;

        end = jsonw_string(buf, cases[i].in, n);
        assert_true((size_t)(end - buf) <= JSONW_STRING_MAX(n));
        *end = '\0';
        assert_string_equal(buf, cases[i].want);
        free(buf);
    }
    {
        char buf[JSONW_STRING_MAX(2)], *end = jsonw_string(buf, "\x01\x02", 2);

        assert_int_equal(end - buf, JSONW_STRING_MAX(2));
        end = jsonw_string_or_null(buf, NULL);
        *end = '\0';
        assert_string_equal(buf, "null");
    }
}

static void test_names(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"R-001", true},
        {"run_2026.11.25", true},
        {"a", true},
        {"0123456789012345678901234567890123456789012345678901234567890123",
         true}, /* 64 */
        {"01234567890123456789012345678901234567890123456789012345678901234",
         false}, /* 65 */
        {"", false},
        {"a b", false},
        {"a/b", false},
        {"a+b", false},
        {"run#1", false},
        {"caf\xc3\xa9", false},
        {"a\nb", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (text_is_name(cases[i].in, 64) != cases[i].ok)
            fail_msg("'%s': want %s", cases[i].in,
                     cases[i].ok ? "accepted" : "refused");
}

static void test_clean_text(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"", true},
        {"J. Kim", true},
        {"김지수", true},
        {"pH probe \"B\", 25 °C; flow 3 m³/h", true},
        {"emoji \xf0\x9f\x92\xa7", true},
        {"tab\there", false},
        {"new\nline", false},
        {"del\x7f", false},
        {"c1 \xc2\x85", false},   /* U+0085 NEL */
        {"bad \xff", false},      /* never in UTF-8 */
        {"cut \xe2\x82", false},  /* truncated sequence */
        {"over \xc0\xaf", false}, /* overlong '/' */
        {"over \xe0\x80\xaf", false},
        {"surrogate \xed\xa0\x80", false},
        {"big \xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"lone \x80", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (text_is_clean(cases[i].in, 128) != cases[i].ok)
            fail_msg("case %zu: want %s", i,
                     cases[i].ok ? "accepted" : "refused");
    /* the limit counts bytes */
    assert_true(text_is_clean("abcd", 4));
    assert_false(text_is_clean("abcde", 4));
    assert_false(text_is_clean("\xc3\xa9\xc3\xa9\xc3\xa9", 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_table),
        cmocka_unit_test(test_double_random),
        cmocka_unit_test(test_double_nonfinite),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_clean_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
