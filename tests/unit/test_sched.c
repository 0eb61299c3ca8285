// SPDX-License-Identifier: MIT
/*
 * Grid scheduling arithmetic: alignment to wall-clock multiples, deadlines
 * that never drift, and missed slots counted rather than queued: which
 * slots were missed, how many, and at what wall-clock time each one falls
 * (a missed reading is stamped with it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/sched.h"

#define MS NS_PER_MS
/* take()'s answer when no slot is due yet. */
#define NOT_DUE INT64_MIN

/* grid_take() as one value: the slot taken, or NOT_DUE. */
static int64_t take(struct grid *g, int64_t now, int64_t *missed)
{
    int64_t slot = -12345;

    if (grid_take(g, now, &slot, missed) < 0) {
        assert_int_equal(slot, -12345); /* nothing stored */
        return NOT_DUE;
    }
    return slot;
}

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
    assert_int_equal(take(&g, -1, &missed), NOT_DUE);
    for (int64_t k = 0; k < 1000; k++) {
        /* each poll starts 3 ms late: the grid does not drift */
        assert_int_equal(take(&g, k * 100 * MS + 3 * MS, &missed), k);
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
        {50 * MS, NOT_DUE, 0, 100 * MS}, /* early: nothing to do */
        {199 * MS, 1, 0, 200 * MS},      /* late, but inside slot 1 */
        {200 * MS, 2, 0, 300 * MS},      /* exactly on time */
        {750 * MS, 7, 4, 800 * MS},      /* slots 3..6 missed */
        {800 * MS, 8, 0, 900 * MS},      /* and back on the grid */
        {10 * 1000 * MS, 100, 91, 10100 * MS},
    };
    struct grid g;
    (void)state;

    grid_init(&g, 100 * MS, 0, 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int64_t missed = 0;

        assert_int_equal(take(&g, steps[i].now, &missed), steps[i].want_slot);
        if (steps[i].want_slot != NOT_DUE)
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
    assert_int_equal(take(&g, 5 * NS_PER_S + year, &missed), year / (10 * MS));
    assert_int_equal(missed, year / (10 * MS));
    assert_int_equal(grid_deadline(&g), 5 * NS_PER_S + year + 10 * MS);
}

/* grid_skip: the slots that start before a time, from the next one on,
 * each exactly once; the slot under way is left to grid_take. */
static void test_skip(void **state)
{
    static const struct {
        char op; /* 't': grid_take(now), 's': grid_skip(before) */
        int64_t at, want, want_first, want_next;
    } steps[] = {
        {'t', 0, 0, 0, 1},
        /* a request that ran to 350 ms: slots 1 and 2 passed whole (their
         * spans ended at 200 and 300), slot 3 is under way */
        {'s', 350 * MS - 100 * MS + 1, 2, 1, 3},
        {'t', 351 * MS, 3, 3, 4},
        {'s', 360 * MS - 100 * MS + 1, 0, 4, 4}, /* nothing passed */
        /* a stop asked at 560 ms: slots 4 and 5 were due before it */
        {'s', 560 * MS, 2, 4, 6},
        {'s', 560 * MS, 0, 6, 6}, /* never twice */
        /* a stop exactly at a slot's start: that slot was not due yet */
        {'s', 800 * MS, 2, 6, 8},
        /* a take after a skip reports only what the skip left */
        {'t', 1234 * MS, 12, 8, 13},
    };
    struct grid g;
    (void)state;

    grid_init(&g, 100 * MS, 0, 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int64_t got, first = -99, missed = -99;

        if (steps[i].op == 't') {
            got = take(&g, steps[i].at, &missed);
            assert_int_equal(got, steps[i].want);
            /* missed slots are got - missed .. got - 1 */
            assert_int_equal(got - missed, steps[i].want_first);
        } else {
            got = grid_skip(&g, steps[i].at, &first);
            if (got != steps[i].want || first != steps[i].want_first)
                fail_msg("step %zu: skip %lld from %lld, want %lld from %lld",
                         i, (long long)got, (long long)first,
                         (long long)steps[i].want,
                         (long long)steps[i].want_first);
        }
        assert_int_equal(g.next, steps[i].want_next);
    }
}

/* Takes and skips in any mix account for every slot exactly once, in
 * order: the grid's promise of one reading per slot. */
static void test_take_skip_partition(void **state)
{
    enum { N = 20000 };
    static unsigned char seen[N + 64];
    struct grid g;
    uint32_t x = 12345; /* xorshift: reproducible */
    int64_t now = 0, total = 0;
    (void)state;

    memset(seen, 0, sizeof(seen));
    grid_init(&g, 7 * MS, 0, 3 * MS);
    while (g.next < N) {
        int64_t first, n, k;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        now += (int64_t)(x % (30 * MS)); /* 0 to 4 slots on */
        if (x & 1) {
            k = take(&g, now, &n);
            if (k == NOT_DUE)
                continue;
            first = k - n;
            n++; /* the slot taken, too */
        } else {
            n = grid_skip(&g, now - 7 * MS + 1, &first);
        }
        for (k = first; k < first + n; k++) {
            assert_true(k >= 0 && k < N + 64);
            assert_int_equal(seen[k], 0);
            seen[k] = 1;
            total++;
        }
        assert_int_equal(first + n, g.next);
    }
    assert_int_equal(total, g.next);
}

/* A reload's new grid starts at the first slot at or after the old
 * poller's stop: those slots have negative indexes and are missed. */
static void test_backdate(void **state)
{
    static const struct {
        int64_t since, want_n, want_deadline;
    } cases[] = {
        /* t0 = 1055 ms: slots at 855 and 955 are at or after 800 */
        {800 * MS, 2, 855 * MS},
        {855 * MS, 2, 855 * MS},   /* a slot exactly at the stop: its own */
        {856 * MS, 1, 955 * MS},   /* just after: not */
        {1000 * MS, 0, 1055 * MS}, /* nothing between */
        {1055 * MS, 0, 1055 * MS},
        {2000 * MS, 0, 1055 * MS}, /* after t0: nothing */
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct grid g;
        int64_t missed = -1, slot;

        grid_init(&g, 100 * MS, 1000 * MS, 12345 * MS);
        assert_int_equal(g.t0_ns, 1055 * MS);
        assert_int_equal(grid_backdate(&g, cases[i].since), cases[i].want_n);
        assert_int_equal(grid_deadline(&g), cases[i].want_deadline);
        /* the first take reports them with the grid's own missed slots */
        slot = take(&g, 1260 * MS, &missed);
        assert_int_equal(slot, 2);
        assert_int_equal(missed, cases[i].want_n + 2);
    }
    /* a new poller that starts before its grid's t0 serves the backdated
     * slot under way (a negative one), not "nothing due" */
    {
        struct grid g;
        int64_t missed = -1;

        grid_init(&g, 100 * MS, 1000 * MS, 12345 * MS);
        assert_int_equal(grid_backdate(&g, 700 * MS), 3);
        assert_int_equal(take(&g, 1001 * MS, &missed), -1);
        assert_int_equal(missed, 2); /* slots -3 and -2 */
        assert_int_equal(grid_deadline(&g), 1055 * MS);
        assert_int_equal(take(&g, 1001 * MS, &missed), NOT_DUE);
    }
}

/* A slot's wall-clock time: the alignment's multiple of the interval, for
 * every slot, before t0 (a reload's) and a year on alike. */
static void test_slot_real(void **state)
{
    static const struct {
        int64_t interval, mono, real;
    } cases[] = {
        {100 * MS, 1000 * MS, 12345 * MS},
        {10 * MS, 5 * NS_PER_S, INT64_C(1700000000123456789)},
        {7 * MS, 0, 15 * MS},
        {1000 * MS, 77, INT64_C(1795568523456789012)},
    };
    static const int64_t ks[] = {-360000, -2, -1, 0, 1, 2, 3153600000};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct grid g;
        int64_t iv_us = cases[i].interval / 1000;

        int64_t off = cases[i].real - cases[i].mono;

        grid_init(&g, cases[i].interval, cases[i].mono, cases[i].real);
        /* slot 0 is the first multiple at or after the wall clock's now */
        assert_true(grid_slot_real_us(&g, 0, off) * 1000 >= cases[i].real);
        assert_true(grid_slot_real_us(&g, 0, off) * 1000 <
                    cases[i].real + cases[i].interval);
        for (size_t j = 0; j < sizeof(ks) / sizeof(ks[0]); j++) {
            int64_t k = ks[j], t = grid_slot_real_us(&g, k, off);

            assert_int_equal(t % iv_us, 0);
            assert_int_equal(t - grid_slot_real_us(&g, 0, off), k * iv_us);
            assert_int_equal(grid_slot_mono(&g, k),
                             g.t0_ns + k * cases[i].interval);
            /* the offset read a little later (the two clock reads are
             * not one instant): the same grid point */
            assert_int_equal(grid_slot_real_us(&g, k, off + 30000), t);
            assert_int_equal(grid_slot_real_us(&g, k, off - 30000), t);
            /* after the wall clock stepped back an hour and 2 ms: the
             * grid point the slot stands for now */
            if ((3600 * NS_PER_S) % cases[i].interval == 0)
                assert_int_equal(grid_slot_real_us(&g, k, off - 3600002 * MS),
                                 t - 3600 * INT64_C(1000000));
        }
    }
}

/* An hour-long stall at 10 ms: 360,000 slots per sensor to record, and
 * the arithmetic says so exactly. */
static void test_long_stall(void **state)
{
    struct grid g;
    int64_t first = -1, missed = -1;
    int64_t hour = INT64_C(3600) * NS_PER_S;
    (void)state;

    grid_init(&g, 10 * MS, 5 * NS_PER_S, 1700000000 * NS_PER_S);
    assert_int_equal(take(&g, 5 * NS_PER_S, &missed), 0);
    /* the request that stalled ends an hour later: every slot whose span
     * passed is skipped; the one under way is taken */
    assert_int_equal(
        grid_skip(&g, 5 * NS_PER_S + hour + 3 * MS - 10 * MS + 1, &first),
        359999);
    assert_int_equal(first, 1);
    assert_int_equal(take(&g, 5 * NS_PER_S + hour + 3 * MS, &missed), 360000);
    assert_int_equal(missed, 0);
    /* and a reload's grid an hour after its old poller's stop */
    grid_init(&g, 10 * MS, 5 * NS_PER_S + hour, 1700000000 * NS_PER_S);
    assert_int_equal(grid_backdate(&g, 5 * NS_PER_S), 360000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_align),
        cmocka_unit_test(test_take_on_time),
        cmocka_unit_test(test_take_late),
        cmocka_unit_test(test_long_run_no_overflow),
        cmocka_unit_test(test_skip),
        cmocka_unit_test(test_take_skip_partition),
        cmocka_unit_test(test_backdate),
        cmocka_unit_test(test_slot_real),
        cmocka_unit_test(test_long_stall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
