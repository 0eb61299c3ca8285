// SPDX-License-Identifier: MIT
/*
 * The report's figures (lib/report_stats): mean, sample standard
 * deviation, minimum, maximum, first, last and drift against values
 * worked by hand, the counts per quality, the undefined cases (NAN), and
 * values around 1e9 with small noise, where the textbook one-pass
 * formulas (sum of squares less n times the squared mean) lose every
 * digit and the updates here must not: checked against a two-pass
 * computation in long double.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/report_stats.h"

/* A run's start, as the report takes it for the drift's origin. */
#define T0 INT64_C(1795568523000000)
#define HOUR INT64_C(3600000000)
#define SECOND INT64_C(1000000)

static void assert_close(double got, double want, double rel)
{
    double tol = rel * fmax(fabs(want), 1e-300);

    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (relative tolerance %g)", got, want,
                 rel);
}

/* (0 h, 2), (1 h, 4), (2 h, 4), (3 h, 6): mean 4, squared deviations
 * 4+0+0+4 = 8, sd sqrt(8/3); centred times -1.5 -0.5 0.5 1.5: sum of
 * squares 5, co-moment 3+0+0+3 = 6, drift 6/5 = 1.2 per hour. */
static void test_hand_hours(void **state)
{
    static const double v[] = {2, 4, 4, 6};
    struct report_stats st;

    (void)state;
    report_stats_init(&st);
    for (int i = 0; i < 4; i++)
        report_stats_good(&st, T0 + i * HOUR, T0, v[i]);
    assert_int_equal(st.n[QUALITY_GOOD], 4);
    assert_int_equal(report_stats_readings(&st), 4);
    assert_close(report_stats_mean(&st), 4.0, 1e-15);
    assert_close(report_stats_sd(&st), sqrt(8.0 / 3.0), 1e-15);
    assert_close(report_stats_drift(&st), 1.2, 1e-14);
    assert_true(st.min == 2 && st.max == 6);
    assert_true(st.first == 2 && st.last == 6);
    assert_true(st.first_us == T0 && st.last_us == T0 + 3 * HOUR);
}

/* 10, 12, 11, 13, 14 one second apart, offered out of time order (as
 * seqs may be): mean 12, squared deviations 4+0+1+1+4 = 10, sd
 * sqrt(10/4); centred seconds -2..2: sum of squares 10, co-moment
 * 4+0+0+1+4 = 9: 0.9 per second, 3240 per hour. First 10, last 14. */
static void test_hand_seconds(void **state)
{
    static const int order[] = {2, 0, 4, 1, 3};
    static const double v[] = {10, 12, 11, 13, 14};
    struct report_stats st;

    (void)state;
    report_stats_init(&st);
    for (int k = 0; k < 5; k++) {
        int i = order[k];

        report_stats_good(&st, T0 + 7 * SECOND + i * SECOND, T0, v[i]);
    }
    assert_close(report_stats_mean(&st), 12.0, 1e-15);
    assert_close(report_stats_sd(&st), sqrt(2.5), 1e-15);
    assert_close(report_stats_drift(&st), 3240.0, 1e-12);
    assert_true(st.min == 10 && st.max == 14);
    assert_true(st.first == 10 && st.last == 14);
}

/* Other qualities are counted, and change none of the figures. */
static void test_counts(void **state)
{
    struct report_stats st;

    (void)state;
    report_stats_init(&st);
    report_stats_count(&st, QUALITY_COMM_ERROR);
    report_stats_count(&st, QUALITY_COMM_ERROR);
    report_stats_count(&st, QUALITY_MISSED);
    report_stats_count(&st, QUALITY_OUT_OF_RANGE);
    report_stats_count(&st, QUALITY_INVALID);
    assert_int_equal(report_stats_readings(&st), 5);
    assert_int_equal(st.n[QUALITY_GOOD], 0);
    assert_true(isnan(report_stats_mean(&st)));
    assert_true(isnan(report_stats_sd(&st)));
    assert_true(isnan(report_stats_drift(&st)));
    report_stats_good(&st, T0, T0, 5.0);
    assert_int_equal(report_stats_readings(&st), 6);
    assert_close(report_stats_mean(&st), 5.0, 0);
    /* one good reading: no spread, no slope */
    assert_true(isnan(report_stats_sd(&st)));
    assert_true(isnan(report_stats_drift(&st)));
    /* two at one time: a spread, still no slope */
    report_stats_good(&st, T0, T0, 7.0);
    assert_close(report_stats_sd(&st), sqrt(2.0), 1e-15);
    assert_true(isnan(report_stats_drift(&st)));
    assert_int_equal(st.n[QUALITY_COMM_ERROR], 2);
    assert_int_equal(st.n[QUALITY_MISSED], 1);
}

/* Equal values: sd exactly 0 (never the root of a negative). */
static void test_constant(void **state)
{
    struct report_stats st;

    (void)state;
    report_stats_init(&st);
    for (int i = 0; i < 1000; i++)
        report_stats_good(&st, T0 + i * SECOND, T0, 0.1);
    assert_true(report_stats_sd(&st) == 0.0);
    assert_true(report_stats_drift(&st) == 0.0);
}

/* Welford's own example with the offset of a totaliser: 1e9 + 4, 7, 13,
 * 16 have variance exactly 30; the sum of squares (4e18, where doubles
 * are 512 apart) gives nonsense. */
static void test_offset_classic(void **state)
{
    static const double d[] = {4, 7, 13, 16};
    struct report_stats st;
    double sum = 0, sumsq = 0, naive;

    (void)state;
    report_stats_init(&st);
    for (int i = 0; i < 4; i++) {
        double x = 1e9 + d[i];

        report_stats_good(&st, T0 + i * SECOND, T0, x);
        sum += x;
        sumsq += x * x;
    }
    naive = (sumsq - sum * sum / 4) / 3;
    assert_true(fabs(naive - 30.0) > 1.0); /* the case is a real one */
    assert_close(report_stats_sd(&st) * report_stats_sd(&st), 30.0, 1e-12);
    assert_close(report_stats_mean(&st), 1e9 + 10, 1e-16);
}

/* 86,400 values one second apart around 1e9, rising 0.5 per hour, with
 * noise of a few thousandths: mean, sd and drift against a two-pass
 * computation in long double, to 1e-9 relative; the one-pass sums in
 * double miss the sd by percents. */
static void test_offset_day(void **state)
{
    enum { N = 86400 };
    struct report_stats st;
    long double mean = 0, tm = 0, m2 = 0, ctt = 0, cty = 0;
    double sum = 0, sumsq = 0, naive;
    uint32_t rnd = 12345;

    (void)state;
    report_stats_init(&st);
    for (int pass = 0; pass < 3; pass++) {
        rnd = 12345;
        for (int i = 0; i < N; i++) {
            double t = (double)i / 3600.0, x;

            rnd = rnd * 1103515245u + 12345u;
            x = 1e9 + 0.5 * t + ((double)(rnd >> 16) / 65536.0 - 0.5) * 0.006;
            if (pass == 0) {
                report_stats_good(&st, T0 + i * SECOND, T0, x);
                sum += x;
                sumsq += x * x;
                mean += x;
                tm += (long double)(i * SECOND) / REPORT_US_PER_HOUR;
            } else if (pass == 1) {
                long double dt =
                    (long double)(i * SECOND) / REPORT_US_PER_HOUR - tm;

                m2 += ((long double)x - mean) * ((long double)x - mean);
                ctt += dt * dt;
                cty += dt * ((long double)x - mean);
            }
        }
        if (pass == 0) {
            mean /= N;
            tm /= N;
        }
    }
    naive = sqrt(fmax((sumsq - sum * sum / N) / (N - 1), 0));
    assert_close(report_stats_mean(&st), (double)mean, 1e-15);
    assert_close(report_stats_sd(&st), (double)sqrtl(m2 / (N - 1)), 1e-9);
    assert_close(report_stats_drift(&st), (double)(cty / ctt), 1e-9);
    assert_close(report_stats_drift(&st), 0.5, 1e-4);
    /* the case is a real one: one pass in double is off by percents */
    assert_true(fabs(naive - report_stats_sd(&st)) >
                0.01 * report_stats_sd(&st));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_hours),
        cmocka_unit_test(test_hand_seconds),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_constant),
        cmocka_unit_test(test_offset_classic),
        cmocka_unit_test(test_offset_day),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
