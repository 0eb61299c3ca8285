// SPDX-License-Identifier: MIT
/*
 * Which poll of each device is open (daemon/devpoll.c), the rule the
 * device layout and the Sparkplug node share: interleaved polls of three
 * devices, as a table of rows, each closing its device's open poll when
 * its sensor is in it already; the lowest seq still open, of all and but
 * the row's device's, after every row, with polls closed at the oldest,
 * in the middle and at the newest end of the open list; a flush oldest
 * first; sensors of a closed poll no longer in it; a reset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "daemon/devpoll.h"

#define NONE DEVPOLL_NONE
#define MAX INT64_MAX

enum { A, B, C };

/* What a user of the module does with a row: hands the device's open
 * poll over (here: notes the device) if the row's sensor is in it, then
 * puts the row. Returns the device closed, or NONE. */
static size_t feed(struct devpolls *p, size_t dev, size_t sensor, int64_t seq)
{
    size_t closed = NONE;

    if (devpolls_again(p, dev, sensor)) {
        assert_true(devpolls_is_open(p, dev));
        devpolls_close(p, dev);
        closed = dev;
    }
    devpolls_put(p, dev, sensor, seq);
    assert_true(devpolls_is_open(p, dev));
    return closed;
}

/* Closes every open poll, oldest first, noting the devices in order. */
static size_t flush(struct devpolls *p, size_t *order, size_t max)
{
    size_t n = 0, d;

    while ((d = devpolls_oldest(p)) != NONE) {
        assert_true(n < max);
        order[n++] = d;
        devpolls_close(p, d);
    }
    return n;
}

/* A's sensors are 0..2, B's 3..4, C's 5. */
static void test_interleaved(void **state)
{
    static const struct {
        int64_t seq;
        size_t dev, sensor;
        size_t closes; /* the device whose poll the row ends, or NONE */
        int64_t lowest, but_own; /* after the row */
    } rows[] = {
        {1, A, 0, NONE, 1, MAX},                        /* A opens at 1 */
        {2, B, 3, NONE, 1, 1},                          /* B at 2 */
        {3, A, 1, NONE, 1, 2},   {4, C, 5, NONE, 1, 1}, /* C at 4 */
        {5, B, 4, NONE, 1, 1},   {6, A, 2, NONE, 1, 2},
        {7, A, 0, A, 2, 2},     /* A's next poll: the oldest closes; B C A */
        {8, C, 5, C, 2, 2},     /* C's, in the middle of the list: B A C */
        {9, B, 3, B, 7, 7},     /* B's, the oldest again: A C B */
        {10, A, 1, NONE, 7, 8}, /* not its next: sensor 1 is not in A7 */
        {11, C, 5, C, 7, 7},    /* C's, the newest: A B C */
    };
    const size_t want[] = {A, B, C};
    size_t order[8];
    struct devpolls p;

    (void)state;
    devpolls_init(&p);
    assert_int_equal(devpolls_oldest(&p), NONE);
    assert_true(devpolls_lowest(&p, NONE) == MAX);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t closed = feed(&p, rows[i].dev, rows[i].sensor, rows[i].seq);

        assert_int_equal(closed, rows[i].closes);
        assert_true(devpolls_lowest(&p, NONE) == rows[i].lowest);
        assert_true(devpolls_lowest(&p, rows[i].dev) == rows[i].but_own);
    }
    assert_int_equal(devpolls_oldest(&p), A);
    assert_int_equal(flush(&p, order, 8), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(order[i], want[i]);
    assert_true(devpolls_lowest(&p, NONE) == MAX);
    assert_false(devpolls_is_open(&p, A));
    devpolls_release(&p);
}

/* Closing any poll keeps the others in order; closing one not open does
 * nothing; an emptied list fills again. */
static void test_close_anywhere(void **state)
{
    struct devpolls p;

    (void)state;
    devpolls_init(&p);
    devpolls_put(&p, A, 0, 1);
    devpolls_put(&p, B, 3, 2);
    devpolls_put(&p, C, 5, 3);
    devpolls_close(&p, B); /* the middle */
    assert_int_equal(devpolls_oldest(&p), A);
    assert_true(devpolls_lowest(&p, NONE) == 1);
    assert_true(devpolls_lowest(&p, A) == 3);
    devpolls_close(&p, B);  /* not open: nothing */
    devpolls_close(&p, 40); /* never met: nothing */
    assert_int_equal(devpolls_oldest(&p), A);
    devpolls_close(&p, A); /* the oldest */
    assert_int_equal(devpolls_oldest(&p), C);
    assert_true(devpolls_lowest(&p, C) == MAX);
    devpolls_close(&p, C); /* the last */
    assert_int_equal(devpolls_oldest(&p), NONE);
    devpolls_put(&p, B, 3, 4);
    devpolls_put(&p, A, 0, 5);
    assert_int_equal(devpolls_oldest(&p), B);
    devpolls_close(&p, A); /* the newest */
    devpolls_put(&p, C, 5, 6);
    assert_int_equal(devpolls_oldest(&p), B);
    devpolls_close(&p, B);
    assert_int_equal(devpolls_oldest(&p), C);
    assert_true(devpolls_lowest(&p, NONE) == 6);
    devpolls_release(&p);
}

/* A sensor is "again" only in its device's open poll: not after that poll
 * closed, not for another device, never for NONE; devices and sensors
 * not met yet are in nothing, and are made room for when put. */
static void test_again(void **state)
{
    struct devpolls p;

    (void)state;
    devpolls_init(&p);
    assert_false(devpolls_again(&p, A, 0));
    devpolls_put(&p, A, 0, 1);
    assert_true(devpolls_again(&p, A, 0));
    assert_false(devpolls_again(&p, B, 0));
    assert_false(devpolls_again(&p, A, 1));
    devpolls_close(&p, A);
    assert_false(devpolls_again(&p, A, 0));
    devpolls_put(&p, A, NONE, 2); /* opens, at 2 */
    assert_false(devpolls_again(&p, A, NONE));
    assert_false(devpolls_again(&p, A, 0));
    assert_true(devpolls_lowest(&p, NONE) == 2);
    assert_false(devpolls_again(&p, 300, 0));
    assert_false(devpolls_again(&p, A, 5000));
    assert_false(devpolls_is_open(&p, 300));
    devpolls_put(&p, 300, 5000, 3);
    assert_true(devpolls_again(&p, 300, 5000));
    assert_false(devpolls_again(&p, A, 5000));
    assert_int_equal(devpolls_oldest(&p), A);
    assert_true(devpolls_lowest(&p, A) == 3);
    devpolls_release(&p);
}

/* A reset ends every open poll and what their sensors were in. */
static void test_reset(void **state)
{
    struct devpolls p;
    size_t order[4];

    (void)state;
    devpolls_init(&p);
    devpolls_put(&p, A, 0, 1);
    devpolls_put(&p, B, 3, 2);
    devpolls_put(&p, A, 1, 3);
    devpolls_reset(&p);
    assert_int_equal(devpolls_oldest(&p), NONE);
    assert_true(devpolls_lowest(&p, NONE) == MAX);
    assert_false(devpolls_is_open(&p, A));
    assert_false(devpolls_is_open(&p, B));
    assert_false(devpolls_again(&p, A, 0));
    /* Read again from an earlier seq: a fresh start. */
    assert_int_equal(feed(&p, B, 3, 2), NONE);
    assert_int_equal(feed(&p, A, 0, 3), NONE);
    assert_int_equal(feed(&p, A, 1, 4), NONE);
    assert_true(devpolls_lowest(&p, B) == 3);
    assert_int_equal(flush(&p, order, 4), 2);
    assert_int_equal(order[0], B);
    assert_int_equal(order[1], A);
    devpolls_reset(&p); /* nothing open: nothing */
    assert_int_equal(devpolls_oldest(&p), NONE);
    devpolls_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_close_anywhere),
        cmocka_unit_test(test_again),
        cmocka_unit_test(test_reset),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
