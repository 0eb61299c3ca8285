// SPDX-License-Identifier: MIT
/*
 * The bounded queue: FIFO order, deadlines, back-pressure instead of loss,
 * and several producers against one consumer with nothing lost or
 * reordered per producer.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/queue.h"

static struct queue_item item(int64_t producer, int64_t n)
{
    struct queue_item it = {.type = QUEUE_READING};

    it.u.reading.sensor_id = producer;
    it.u.reading.ts_us = n;
    return it;
}

static void test_fifo_and_deadline(void **state)
{
    struct queue *q = queue_new(4);
    struct queue_item in[6], out[6];
    int64_t t;
    (void)state;

    for (int i = 0; i < 6; i++)
        in[i] = item(1, i);
    /* a full queue appends what fits, then gives up at the deadline */
    t = time_mono_ns();
    assert_int_equal(queue_push(q, in, 6, t + 20 * NS_PER_MS), 4);
    assert_true(time_mono_ns() - t >= 20 * NS_PER_MS);
    assert_int_equal(queue_length(q), 4);
    assert_int_equal(queue_pop(q, out, 3, 0), 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(out[i].u.reading.ts_us, i);
    assert_int_equal(queue_push(q, in + 4, 2, 0), 2);
    assert_int_equal(queue_pop(q, out, 6, 0), 3);
    assert_int_equal(out[0].u.reading.ts_us, 3);
    assert_int_equal(out[1].u.reading.ts_us, 4);
    assert_int_equal(out[2].u.reading.ts_us, 5);
    /* empty: pop waits for its deadline and returns nothing */
    t = time_mono_ns();
    assert_int_equal(queue_pop(q, out, 6, t + 20 * NS_PER_MS), 0);
    assert_true(time_mono_ns() - t >= 20 * NS_PER_MS);
    queue_free(q);
}

static void *waker(void *arg)
{
    queue_wake(arg);
    return NULL;
}

static void test_wake(void **state)
{
    struct queue *q = queue_new(4);
    struct queue_item out[1];
    pthread_t t;
    int64_t start = time_mono_ns();
    (void)state;

    pthread_create(&t, NULL, waker, q);
    /* would wait 10 s without the wake-up */
    assert_int_equal(queue_pop(q, out, 1, start + 10 * NS_PER_S), 0);
    assert_true(time_mono_ns() - start < 5 * NS_PER_S);
    pthread_join(t, NULL);
    queue_free(q);
}

static void *closer(void *arg)
{
    queue_close(arg);
    return NULL;
}

static void test_close_releases_producer(void **state)
{
    struct queue *q = queue_new(1);
    struct queue_item in[3] = {item(1, 0), item(1, 1), item(1, 2)};
    pthread_t t;
    (void)state;

    pthread_create(&t, NULL, closer, q);
    /* no deadline: only the close can end this */
    assert_true(queue_push(q, in, 3, 0) < 3);
    pthread_join(t, NULL);
    queue_free(q);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct producer {
    struct queue *q;
    int64_t id;
};

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (int64_t n = 0; n < PER_PRODUCER; n += 10) {
        struct queue_item batch[10];

        for (int i = 0; i < 10; i++)
            batch[i] = item(p->id, n + i);
        assert_int_equal(queue_push(p->q, batch, 10, 0), 10);
    }
    return NULL;
}

static void test_many_producers(void **state)
{
    /* small on purpose, so producers hit back-pressure constantly */
    struct queue *q = queue_new(64);
    struct producer p[PRODUCERS];
    pthread_t t[PRODUCERS];
    int64_t next[PRODUCERS] = {0};
    struct queue_item out[32];
    size_t total = 0;
    (void)state;

    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (struct producer){q, i};
        pthread_create(&t[i], NULL, produce, &p[i]);
    }
    while (total < PRODUCERS * PER_PRODUCER) {
        size_t n = queue_pop(q, out, 32, time_mono_ns() + 5 * NS_PER_S);

        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            int64_t id = out[i].u.reading.sensor_id;

            /* per producer: every item, in order, exactly once */
            assert_int_equal(out[i].u.reading.ts_us, next[id]);
            next[id]++;
        }
        total += n;
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(next[i], PER_PRODUCER);
    }
    assert_int_equal(queue_length(q), 0);
    queue_free(q);
}

static bool fd_readable(struct queue *q)
{
    struct pollfd p = {.fd = queue_fd(q), .events = POLLIN};

    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_fd(void **state)
{
    struct queue *q = queue_new(4);
    struct queue_item in = item(1, 1), out[4];
    (void)state;

    assert_false(fd_readable(q));
    assert_int_equal(queue_push(q, &in, 1, 0), 1);
    assert_true(fd_readable(q));
    queue_clear_fd(q);
    assert_false(fd_readable(q));
    /* the item is still there: the fd only says "look" */
    assert_int_equal(queue_pop(q, out, 4, 1), 1);
    queue_wake(q);
    assert_true(fd_readable(q));
    queue_clear_fd(q);
    assert_false(fd_readable(q));
    queue_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_deadline),
        cmocka_unit_test(test_wake),
        cmocka_unit_test(test_close_releases_producer),
        cmocka_unit_test(test_many_producers),
        cmocka_unit_test(test_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
