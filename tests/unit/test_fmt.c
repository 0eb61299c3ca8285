// SPDX-License-Identifier: MIT
/*
 * Number and time formatting (common/fmt), as fast as the export needs
 * and still exact: shortest round-trip doubles checked against printf's
 * %.15g/%.16g/%.17g loop (a table, then random bit patterns and the
 * values sensors give); the audit chain's %.17g against snprintf itself,
 * byte for byte, over some ten million values (random bit patterns, exact
 * ties, float32 and int16 readings, integers, powers and their
 * neighbours, the ends of the range); integers, and ISO 8601 time stamps
 * checked against gmtime_r() and snprintf().
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
/* fmt_g17 against snprintf: random bit patterns; patterns with the
 * exponents it formats itself (fmt.c's FMT_G17_EXP_MIN .. MAX) and
 * G17_EXP_MARGIN beyond; and those at its two edges, per exponent. */
#define G17_RANDOM_BITS 2000000
#define G17_RANDOM_FAST 1000000
#define G17_RANDOM_EDGE 20000
#define G17_EXP_MIN (-36)
#define G17_EXP_MAX 142
#define G17_EXP_MARGIN 4
/* Ties: m / 2^n for n in this range, this many per n. */
#define G17_TIE_NMIN 2
#define G17_TIE_NMAX 25
#define G17_TIES_PER_N 6000
/* Every this-many-th float32 bit pattern (a prime, so that the low bits
 * vary too). */
#define G17_FLOAT_STRIDE 7919
/* Integers 0 .. this. */
#define G17_INT_MAX 100000

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

/* Values fmt_g17() was compared on, for the counts the tests print. */
static long g17_checked;

/* fmt_g17() must write snprintf's "%.17g" bytes, whatever the value. */
static void check_g17(double v)
{
    char got[FMT_DOUBLE_LEN], want[64];
    size_t n = fmt_g17(v, got);
    int len = snprintf(want, sizeof(want), "%.17g", v);

    g17_checked++;
    if (strcmp(got, want) != 0 || n != (size_t)len)
        fail_msg("%a: got '%s' (len %zu), want '%s'", v, got, n, want);
}

static void check_g17_signed(double v)
{
    check_g17(v);
    check_g17(-v);
}

/* v and its neighbours, up to steps doubles either side, both signs. */
static void check_g17_around(double v, int steps)
{
    double up = v, down = v;

    check_g17_signed(v);
    for (int i = 0; i < steps; i++) {
        up = nextafter(up, INFINITY);
        down = nextafter(down, -INFINITY);
        check_g17_signed(up);
        check_g17_signed(down);
    }
}

static void test_g17_table(void **state)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.0, "0"},
        {-0.0, "-0"},
        {0.1, "0.10000000000000001"},
        {-21.37, "-21.370000000000001"},
        {25.0, "25"},
        {1234.5, "1234.5"},
        {0.0001, "0.0001"},
        {1e-5, "1.0000000000000001e-05"},
        {1e16, "10000000000000000"},
        {1e17, "1e+17"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {5e-324, "4.9406564584124654e-324"},
        /* exact halves of the 17th digit go to the even digit */
        {1000000000000000.25, "1000000000000000.2"},
        {1000000000000000.75, "1000000000000000.8"},
        {1125899906842625.25, "1125899906842625.2"},
        {0.0000000298023223876953125, "2.9802322387695312e-08"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[FMT_DOUBLE_LEN];

        assert_int_equal(fmt_g17(cases[i].v, got), strlen(cases[i].want));
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%a: got '%s', want '%s'", cases[i].v, got, cases[i].want);
        check_g17(cases[i].v);
    }
}

/* A second generator (splitmix64), so that these tests draw the same
 * values whatever the others do before them. */
static uint64_t g17_state = 0x2545f4914f6cdd1du;
static uint64_t g17_rnd(void)
{
    uint64_t z = (g17_state += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double g17_from_bits(uint64_t bits)
{
    double v;

    memcpy(&v, &bits, sizeof(v));
    return v;
}

/* A double of binary exponent x (-1023 .. 1024: the field minus 1023)
 * with the mantissa and sign bits of r. */
static double g17_with_exp(int x, uint64_t r)
{
    return g17_from_bits((r & ~(UINT64_C(0x7ff) << 52)) | (uint64_t)(x + 1023)
                                                              << 52);
}

static void test_g17_random(void **state)
{
    long before = g17_checked;
    (void)state;

    /* every bit pattern: all exponents, subnormals, nan and inf */
    for (int i = 0; i < G17_RANDOM_BITS; i++)
        check_g17(g17_from_bits(g17_rnd()));
    /* the exponents fmt_g17 formats itself and a few either side */
    for (int i = 0; i < G17_RANDOM_FAST; i++) {
        uint64_t r = g17_rnd();
        int span = G17_EXP_MAX - G17_EXP_MIN + 1 + 2 * G17_EXP_MARGIN;

        check_g17(g17_with_exp(
            G17_EXP_MIN - G17_EXP_MARGIN + (int)(r >> 52 & 0x7ff) % span, r));
    }
    /* the last exponent in and the first out, on both sides: random
     * mantissas and the extreme ones */
    for (int side = 0; side < 2; side++) {
        int in = side ? G17_EXP_MAX : G17_EXP_MIN, out = side ? in + 1 : in - 1;

        for (int i = 0; i < G17_RANDOM_EDGE; i++) {
            check_g17(g17_with_exp(in, g17_rnd()));
            check_g17(g17_with_exp(out, g17_rnd()));
        }
        for (int x = in - 1; x <= in + 1; x++) {
            check_g17_signed(g17_with_exp(x, 0));
            check_g17_signed(g17_with_exp(x, 1));
            check_g17_signed(g17_with_exp(x, (UINT64_C(1) << 52) - 1));
        }
    }
    print_message("fmt_g17: %ld random values\n", g17_checked - before);
}

/*
 * The exact halves: m / 2^n with m odd has n decimals, the last a 5, and
 * m x 5^n as its digits, so for 10^17 <= m x 5^n < 10^18 it has 18
 * significant digits and the 17th is an exact tie. n runs 2 .. 25 (m <
 * 2^53 needs n >= 2; 5^26 > 10^18). Each one is checked, its neighbours
 * (just below and above a tie) too, and that printf's exact expansion
 * really ends in that 5; then m / 2 for odd m in [4e15, 9e15), 17 digits
 * exactly.
 */
static void test_g17_ties(void **state)
{
    long before = g17_checked, ties = 0;
    (void)state;

    for (int n = G17_TIE_NMIN; n <= G17_TIE_NMAX; n++) {
        uint64_t p5 = 1, lo, hi;

        for (int i = 0; i < n; i++)
            p5 *= 5;
        lo = (UINT64_C(100000000000000000) + p5 - 1) / p5;
        hi = (UINT64_C(1000000000000000000) + p5 - 1) / p5;
        if (hi > UINT64_C(1) << 53)
            hi = UINT64_C(1) << 53;
        for (int i = 0; i < G17_TIES_PER_N; i++) {
            uint64_t m = (lo + g17_rnd() % (hi - lo)) | 1;
            double v = ldexp((double)m, -n);
            char exact[64];

            if (m >= hi)
                continue;
            /* 18 significant digits that end in 5, and nothing after */
            snprintf(exact, sizeof(exact), "%.30e", v);
            if (exact[18] != '5' || strspn(exact + 19, "0") != 30 - 17)
                fail_msg("%a (m %" PRIu64 ", n %d) is no tie: %s", v, m, n,
                         exact);
            ties++;
            check_g17_around(v, 1);
        }
    }
    for (int i = 0; i < G17_TIES_PER_N; i++) {
        uint64_t m = (UINT64_C(4000000000000000) +
                      g17_rnd() % UINT64_C(5000000000000000)) |
                     1;

        check_g17_around((double)m / 2, 1);
        check_g17_around((double)m / 4, 1);
    }
    assert_true(ties > (G17_TIE_NMAX - G17_TIE_NMIN) * G17_TIES_PER_N / 2);
    print_message("fmt_g17: %ld values, %ld of them exact ties\n",
                  g17_checked - before, ties);
}

/* Float32 values (every G17_FLOAT_STRIDE-th bit pattern) and what a
 * scale makes of them, and every int16 reading scaled: what sensors
 * give. */
static void test_g17_sensor(void **state)
{
    static const double scales[] = {0.1, 0.01, 0.001, 1000};
    long before = g17_checked;
    (void)state;

    for (uint64_t b = 0; b <= UINT32_MAX; b += G17_FLOAT_STRIDE) {
        uint32_t fb = (uint32_t)b;
        float f;

        memcpy(&f, &fb, sizeof(f));
        check_g17((double)f);
        for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++)
            check_g17((double)f * scales[i]);
    }
    for (int r = INT16_MIN; r <= INT16_MAX; r++)
        for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++)
            check_g17(r * scales[i]);
    print_message("fmt_g17: %ld sensor values\n", g17_checked - before);
}

/* Integers, powers of ten and of two and their neighbours, the ends of
 * the double range and what is not a number; both signs. */
static void test_g17_special(void **state)
{
    long before = g17_checked;
    (void)state;

    for (int i = 0; i <= G17_INT_MAX; i++)
        check_g17_signed(i);
    for (int x = DBL_MIN_10_EXP - 17; x <= DBL_MAX_10_EXP; x++) {
        char s[16];

        snprintf(s, sizeof(s), "1e%d", x);
        check_g17_around(strtod(s, NULL), 2);
    }
    /* 2^x is the least double of exponent x and the one below it the
     * greatest of x - 1: where fmt_g17's estimate of the decimal exponent
     * from x alone would show if it were ever one off */
    for (int x = DBL_MIN_EXP - DBL_MANT_DIG; x < DBL_MAX_EXP; x++)
        check_g17_around(ldexp(1, x), 2);
    check_g17_around(1e17, 8);
    check_g17_around(9.9999999999999999e16, 8);
    check_g17_around(DBL_MAX, 2);
    check_g17_around(DBL_MIN, 2);
    check_g17_around(DBL_TRUE_MIN, 2);
    check_g17_signed(0.0);
    check_g17_signed(NAN);
    check_g17_signed(INFINITY);
    print_message("fmt_g17: %ld special values\n", g17_checked - before);
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
        cmocka_unit_test(test_g17_table),
        cmocka_unit_test(test_g17_random),
        cmocka_unit_test(test_g17_ties),
        cmocka_unit_test(test_g17_sensor),
        cmocka_unit_test(test_g17_special),
        cmocka_unit_test(test_int64),
        cmocka_unit_test(test_time_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
