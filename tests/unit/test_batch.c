// SPDX-License-Identifier: MIT
/*
 * The batch: when it is due (from each item's own time, not from when it
 * was added), how a backlog is taken in steps, and what is left after a
 * partial commit. Also that the queue stamps an item with the time it was
 * offered, which is where a reading's "taken" time comes from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/batch.h"
#include "daemon/queue.h"

#define MS NS_PER_MS

static struct reading reading_n(int64_t n)
{
    struct reading r = {.sensor_id = 1, .ts_us = n};

    return r;
}

static void test_empty_is_never_due(void **state)
{
    struct batch b;
    (void)state;

    batch_init(&b, 100);
    assert_int_equal(batch_pending(&b), 0);
    assert_true(batch_due_at(&b) == INT64_MAX);
    batch_release(&b);
}

/* The deadline counts from when each item was taken: a reading taken
 * long before the main thread got to it is due at once, and the earliest
 * of several decides. */
static void test_due_from_taken_time(void **state)
{
    struct batch b;
    struct reading r = reading_n(1);
    struct event e = {.ts_us = 5};
    (void)state;

    batch_init(&b, 100);
    batch_add_reading(&b, &r, 1000 * MS);
    assert_true(batch_due_at(&b) == 1100 * MS);
    /* a later reading does not push the deadline out */
    batch_add_reading(&b, &r, 1090 * MS);
    assert_true(batch_due_at(&b) == 1100 * MS);
    /* one taken earlier (another poller, handed over later) pulls it in */
    batch_add_reading(&b, &r, 950 * MS);
    assert_true(batch_due_at(&b) == 1050 * MS);
    /* events count the same way */
    batch_add_event(&b, &e, 900 * MS);
    assert_true(batch_due_at(&b) == 1000 * MS);
    assert_int_equal(batch_pending(&b), 4);
    assert_int_equal(batch_readings(&b), 3);
    batch_release(&b);
}

/* After everything is committed the batch is empty and its next item
 * starts a new deadline; an events-only commit likewise. */
static void test_done_resets(void **state)
{
    struct batch b;
    struct reading r = reading_n(1), *next;
    struct event e = {.ts_us = 5};
    size_t n;
    (void)state;

    batch_init(&b, 50);
    batch_add_reading(&b, &r, 10 * MS);
    batch_add_event(&b, &e, 12 * MS);
    next = batch_next(&b, &n);
    assert_int_equal(n, 1);
    assert_int_equal(next[0].ts_us, 1);
    assert_int_equal(b.nevents, 1);
    batch_done(&b, n);
    assert_int_equal(batch_pending(&b), 0);
    assert_true(batch_due_at(&b) == INT64_MAX);
    batch_add_reading(&b, &r, 500 * MS);
    assert_true(batch_due_at(&b) == 550 * MS);
    batch_add_event(&b, &e, 700 * MS);
    batch_done(&b, 1);
    assert_true(batch_due_at(&b) == INT64_MAX);
    batch_release(&b);
}

/* A backlog: BATCH_MAX readings make it due at once; it is taken
 * oldest first in steps of BATCH_MAX, in order, and the rest of a partly
 * committed backlog stays due at once. */
static void test_backlog_in_steps(void **state)
{
    struct batch b;
    size_t total = 2 * BATCH_MAX + 123, seen = 0, n;
    struct reading *next;
    (void)state;

    batch_init(&b, 1000);
    for (size_t i = 0; i < BATCH_MAX - 1; i++) {
        struct reading r = reading_n((int64_t)i);

        batch_add_reading(&b, &r, 5000 * MS);
    }
    assert_true(batch_due_at(&b) == 6000 * MS);
    for (size_t i = BATCH_MAX - 1; i < total; i++) {
        struct reading r = reading_n((int64_t)i);

        batch_add_reading(&b, &r, 5000 * MS);
    }
    assert_true(batch_due_at(&b) == 0);
    while (batch_readings(&b) > 0) {
        next = batch_next(&b, &n);
        assert_true(n > 0 && n <= BATCH_MAX);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(next[i].ts_us, (int64_t)(seen + i));
        seen += n;
        batch_done(&b, n);
        if (batch_readings(&b) > 0)
            assert_true(batch_due_at(&b) <= 6000 * MS);
    }
    assert_int_equal(seen, total);
    /* the backlog's memory was given back */
    assert_null(b.readings);
    assert_true(batch_due_at(&b) == INT64_MAX);
    batch_release(&b);
}

/* A failed commit changes nothing: the same readings come again. */
static void test_failed_commit_keeps_all(void **state)
{
    struct batch b;
    size_t n1, n2;
    struct reading *a, *c;
    (void)state;

    batch_init(&b, 100);
    for (int i = 0; i < 10; i++) {
        struct reading r = reading_n(i);

        batch_add_reading(&b, &r, 100 * MS);
    }
    a = batch_next(&b, &n1);
    c = batch_next(&b, &n2);
    assert_ptr_equal(a, c);
    assert_int_equal(n1, 10);
    assert_int_equal(n2, 10);
    assert_true(batch_due_at(&b) == 200 * MS);
    batch_release(&b);
}

/* A reload's new interval applies to what comes next; what waits keeps
 * its deadline, unless something new is due sooner. */
static void test_set_interval(void **state)
{
    struct batch b;
    struct reading r = reading_n(1);
    (void)state;

    batch_init(&b, 100);
    batch_set_interval(&b, 20);
    batch_add_reading(&b, &r, 1000 * MS);
    assert_true(batch_due_at(&b) == 1020 * MS);
    batch_set_interval(&b, 500);
    assert_true(batch_due_at(&b) == 1020 * MS);
    batch_add_reading(&b, &r, 900 * MS);
    assert_true(batch_due_at(&b) == 1020 * MS);
    batch_set_interval(&b, 10);
    batch_add_reading(&b, &r, 1005 * MS);
    assert_true(batch_due_at(&b) == 1015 * MS);
    /* batch_release() keeps the interval */
    batch_release(&b);
    batch_add_reading(&b, &r, 2000 * MS);
    assert_true(batch_due_at(&b) == 2010 * MS);
    batch_release(&b);
}

/* The queue stamps an item with the moment it was offered, before any
 * wait for room, and keeps a stamp the producer set. */
static void test_queue_stamps_taken(void **state)
{
    struct queue *q = queue_new(4);
    struct queue_item in[2] = {{.type = QUEUE_READING},
                               {.type = QUEUE_READING, .taken_ns = 42}};
    struct queue_item out[2];
    int64_t t0, t1;
    (void)state;

    t0 = time_mono_ns();
    assert_int_equal(queue_push(q, in, 2, 0), 2);
    t1 = time_mono_ns();
    assert_int_equal(queue_pop(q, out, 2, 0), 2);
    assert_true(out[0].taken_ns >= t0 && out[0].taken_ns <= t1);
    assert_true(out[1].taken_ns == 42);
    queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_is_never_due),
        cmocka_unit_test(test_due_from_taken_time),
        cmocka_unit_test(test_done_resets),
        cmocka_unit_test(test_backlog_in_steps),
        cmocka_unit_test(test_failed_commit_keeps_all),
        cmocka_unit_test(test_set_interval),
        cmocka_unit_test(test_queue_stamps_taken),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
