// SPDX-License-Identifier: MIT
/*
 * Grid scheduling arithmetic: alignment to wall-clock multiples, deadlines
 * that never drift, and missed slots counted rather than queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/sched.h"

#define MS NS_PER_MS

static void test_align(void **state)
{
    static const struct {
        int64_t interval, mono, real, want_t0;
    } cases[] = {
        /* wall clock 12.345 s, 100 ms grid: first slot at 12.400 */
        {100 * MS, 1000 * MS, 12345 * MS, 1055 * MS},
        /* exactly on a multiple: the first slot is now */
        {100 * MS, 1000 * MS, 12300 * MS, 1000 * MS},
        /* 1 s grid, 0.999 s past a second: 1 ms to wait */
        {1000 * MS, 5 * MS, 7999 * MS, 6 * MS},
        /* 7 ms, an interval that does not divide a second */
        {7 * MS, 0, 15 * MS, 6 * MS},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct grid g;

        grid_init(&g, cases[i].interval, cases[i].mono, cases[i].real);
        assert_int_equal(g.t0_ns, cases[i].want_t0);
        assert_int_equal(grid_deadline(&g), cases[i].want_t0);
        /* the first slot's wall-clock time is a multiple of the interval */
        assert_int_equal(
            (cases[i].real + (g.t0_ns - cases[i].mono)) % cases[i].interval, 0);
    }
}

static void test_take_on_time(void **state)
{
    struct grid g;
    int64_t missed = -1;
    (void)state;

    grid_init(&g, 100 * MS, 0, 0);
    assert_int_equal(grid_take(&g, -1, &missed), -1); /* not due yet */
    for (int64_t k = 0; k < 1000; k++) {
        /* each poll starts 3 ms late: the grid does not drift */
        assert_int_equal(grid_take(&g, k * 100 * MS + 3 * MS, &missed), k);
        assert_int_equal(missed, 0);
        assert_int_equal(grid_deadline(&g), (k + 1) * 100 * MS);
    }
}

static void test_take_late(void **state)
{
    static const struct {
        int64_t now, want_slot, want_missed, want_next_deadline;
    } steps[] = {
        {0, 0, 0, 100 * MS},
        {50 * MS, -1, 0, 100 * MS}, /* early: nothing to do */
        {199 * MS, 1, 0, 200 * MS}, /* late, but inside slot 1 */
        {200 * MS, 2, 0, 300 * MS}, /* exactly on time */
        {750 * MS, 7, 4, 800 * MS}, /* slots 3..6 missed */
        {800 * MS, 8, 0, 900 * MS}, /* and back on the grid */
        {10 * 1000 * MS, 100, 91, 10100 * MS},
    };
    struct grid g;
    (void)state;

    grid_init(&g, 100 * MS, 0, 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int64_t missed = 0;

        assert_int_equal(grid_take(&g, steps[i].now, &missed),
                         steps[i].want_slot);
        if (steps[i].want_slot >= 0)
            assert_int_equal(missed, steps[i].want_missed);
        assert_int_equal(grid_deadline(&g), steps[i].want_next_deadline);
    }
}

static void test_long_run_no_overflow(void **state)
{
    struct grid g;
    int64_t missed = 0;
    /* a year of 10 ms slots */
    int64_t year = INT64_C(365) * 24 * 3600 * NS_PER_S;
    (void)state;

    grid_init(&g, 10 * MS, 5 * NS_PER_S, 1700000000 * NS_PER_S);
    assert_int_equal(grid_take(&g, 5 * NS_PER_S + year, &missed),
                     year / (10 * MS));
    assert_int_equal(missed, year / (10 * MS));
    assert_int_equal(grid_deadline(&g), 5 * NS_PER_S + year + 10 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align),
        cmocka_unit_test(test_take_on_time),
        cmocka_unit_test(test_take_late),
        cmocka_unit_test(test_long_run_no_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
