// SPDX-License-Identifier: MIT
/*
 * The Sparkplug node's DDATA per device and poll (daemon/spb_group.c):
 * polls of two devices interleaved in seq order (a poll of several
 * requests, buses side by side) become one group per device and poll,
 * never a group per run of consecutive rows; the lowest seq still open
 * bounds what may be acknowledged; a group refused stays open with the
 * row that closed it not taken; a flush goes oldest first and stops at a
 * refusal; a reset forgets. And the node's owed seq (spb_flow_owed(),
 * below which its acknowledged seq may go) stays at the oldest row of a
 * group still open, and at the oldest history still owed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "daemon/spb_group.h"
#include "daemon/sparkplug_private.h"

#define GOT_MAX 16
#define ROWS_MAX 8

/* Sensors 0..2 are device 0's, 3..4 device 1's. */
static const size_t dev_of[] = {0, 0, 0, 1, 1};
#define NSENSORS (sizeof(dev_of) / sizeof(dev_of[0]))

/* What the callback was handed: the device and the rows' seqs. */
struct got {
    size_t dev;
    int64_t seq[ROWS_MAX];
    size_t n;
};

struct sink {
    struct got g[GOT_MAX];
    size_t n;
    int refuse; /* refuse this many from now */
};

static int sink_fn(void *arg, size_t dev, const struct spb_row *rows, size_t n)
{
    struct sink *k = arg;
    struct got *g;

    if (k->refuse > 0) {
        k->refuse--;
        return -1;
    }
    assert_true(k->n < GOT_MAX);
    assert_true(n >= 1 && n <= ROWS_MAX);
    g = &k->g[k->n++];
    g->dev = dev;
    g->n = n;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(dev_of[rows[i].sensor], dev);
        if (i > 0)
            assert_true(rows[i].seq > rows[i - 1].seq);
        g->seq[i] = rows[i].seq;
    }
    return 0;
}

static struct spb_row row(int64_t seq, size_t sensor)
{
    return (struct spb_row){.seq = seq,
                            .ts_us = 1795568523000000 + seq,
                            .sensor = sensor,
                            .has_value = true,
                            .value = (double)seq,
                            .quality = "good"};
}

static void add(struct spb_groups *g, int64_t seq, size_t sensor,
                struct sink *k)
{
    struct spb_row r = row(seq, sensor);

    assert_int_equal(spb_groups_add(g, &r, sink_fn, k), 0);
}

static void assert_got(const struct got *g, size_t dev, const int64_t *seq,
                       size_t n)
{
    assert_int_equal(g->dev, dev);
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(g->seq[i], seq[i]);
}

/* Two polls of each device, each poll's requests interleaved with the
 * other device's (the old rule made a DDATA of every run: eight). */
static void test_interleaved_polls(void **state)
{
    struct spb_groups g;
    struct sink k = {0};
    const int64_t a1[] = {1, 3, 5}, b1[] = {2, 4}, a2[] = {6, 8, 9},
                  b2[] = {7, 10};

    (void)state;
    spb_groups_init(&g, dev_of, NSENSORS, 2);
    add(&g, 1, 0, &k); /* A: request 1 */
    add(&g, 2, 3, &k); /* B: request 1 */
    add(&g, 3, 1, &k); /* A: request 2 */
    add(&g, 4, 4, &k); /* B: request 2 */
    add(&g, 5, 2, &k); /* A: request 3 */
    assert_int_equal(k.n, 0);
    assert_int_equal(spb_groups_oldest(&g), 1);
    add(&g, 6, 0, &k); /* A's next poll: its first goes */
    assert_int_equal(k.n, 1);
    assert_got(&k.g[0], 0, a1, 3);
    /* B's rows 2 and 4 are still open: nothing from 2 on is handed over. */
    assert_int_equal(spb_groups_oldest(&g), 2);
    add(&g, 7, 3, &k); /* B's next poll */
    assert_int_equal(k.n, 2);
    assert_got(&k.g[1], 1, b1, 2);
    assert_int_equal(spb_groups_oldest(&g), 6);
    add(&g, 8, 1, &k);
    add(&g, 9, 2, &k);
    add(&g, 10, 4, &k);
    assert_int_equal(k.n, 2);
    /* Every committed row read: both open groups, oldest first. */
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    assert_int_equal(k.n, 4);
    assert_got(&k.g[2], 0, a2, 3);
    assert_got(&k.g[3], 1, b2, 2);
    assert_int_equal(spb_groups_oldest(&g), INT64_MAX);
    /* Nothing open: a flush hands nothing over. */
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    assert_int_equal(k.n, 4);
    spb_groups_release(&g);
}

/* A partial poll (a commit ended mid-poll) flushed, then more rows: the
 * sensors handed over before the flush no longer end a group. */
static void test_flush_forgets_sensors(void **state)
{
    struct spb_groups g;
    struct sink k = {0};
    const int64_t p1[] = {1}, p2[] = {2, 3, 4}, p3[] = {5};

    (void)state;
    spb_groups_init(&g, dev_of, NSENSORS, 2);
    add(&g, 1, 0, &k);
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    add(&g, 2, 1, &k);
    add(&g, 3, 2, &k);
    add(&g, 4, 0, &k); /* sensor 0 is not in the open group */
    assert_int_equal(k.n, 1);
    add(&g, 5, 1, &k); /* sensor 1 is: the next poll */
    assert_int_equal(k.n, 2);
    assert_got(&k.g[0], 0, p1, 1);
    assert_got(&k.g[1], 0, p2, 3);
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    assert_got(&k.g[2], 0, p3, 1);
    spb_groups_release(&g);
}

/* A refused group stays open and the row that would close it is not
 * taken; offered again, both go. */
static void test_refused_stays_open(void **state)
{
    struct spb_groups g;
    struct sink k = {0};
    struct spb_row r = row(4, 0);
    const int64_t a1[] = {1, 3}, a2[] = {4};

    (void)state;
    spb_groups_init(&g, dev_of, NSENSORS, 2);
    add(&g, 1, 0, &k);
    add(&g, 2, 3, &k);
    add(&g, 3, 1, &k);
    k.refuse = 1;
    assert_int_equal(spb_groups_add(&g, &r, sink_fn, &k), -1);
    assert_int_equal(k.n, 0);
    assert_int_equal(spb_groups_oldest(&g), 1);
    assert_int_equal(spb_groups_add(&g, &r, sink_fn, &k), 0);
    assert_int_equal(k.n, 1);
    assert_got(&k.g[0], 0, a1, 2);
    assert_int_equal(spb_groups_oldest(&g), 2);
    /* A flush refused at its first group hands nothing over. */
    k.refuse = 1;
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), -1);
    assert_int_equal(k.n, 1);
    assert_int_equal(spb_groups_oldest(&g), 2);
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.g[1].dev, 1);
    assert_got(&k.g[2], 0, a2, 1);
    spb_groups_release(&g);
}

/* A reset (a new connection: the rows are owed as history) forgets the
 * open groups and their sensors. */
static void test_reset(void **state)
{
    struct spb_groups g;
    struct sink k = {0};
    const int64_t after[] = {5, 6};

    (void)state;
    spb_groups_init(&g, dev_of, NSENSORS, 2);
    add(&g, 1, 0, &k);
    add(&g, 2, 3, &k);
    spb_groups_reset(&g);
    assert_int_equal(spb_groups_oldest(&g), INT64_MAX);
    add(&g, 5, 0, &k); /* not "sensor 0 again" */
    add(&g, 6, 1, &k);
    assert_int_equal(k.n, 0);
    assert_int_equal(spb_groups_flush(&g, sink_fn, &k), 0);
    assert_int_equal(k.n, 1);
    assert_got(&k.g[0], 0, after, 2);
    spb_groups_release(&g);
}

/*
 * Rows read live but still in an open group have not gone out: the owed
 * seq stays at the oldest of them, however far the live cursor has read,
 * until the group is handed over; history owed to a device holds it too.
 * (Without the open groups the acknowledged seq would pass readings the
 * host has not been sent: lost for it if the node restarted then.)
 */
static void test_owed(void **state)
{
    struct sparkplug sp;
    struct spb_device devs[2];
    struct spb_range owed_b = {.from = 2, .to = 3};
    struct sink k = {0};

    (void)state;
    memset(&sp, 0, sizeof(sp));
    memset(devs, 0, sizeof(devs));
    sp.devs = devs;
    sp.ndevs = 2;
    spb_groups_init(&sp.live, dev_of, NSENSORS, 2);
    assert_int_equal(spb_flow_owed(&sp), 1); /* nothing read yet */

    add(&sp.live, 5, 0, &k); /* device 0's poll, device 1's */
    add(&sp.live, 6, 3, &k);
    add(&sp.live, 7, 1, &k);
    sp.live_cursor = 7;
    assert_int_equal(k.n, 0);
    assert_int_equal(spb_flow_owed(&sp), 5);
    add(&sp.live, 8, 0, &k); /* device 0's next poll: its first goes */
    sp.live_cursor = 8;
    assert_int_equal(k.n, 1);
    assert_int_equal(spb_flow_owed(&sp), 6);
    assert_int_equal(spb_groups_flush(&sp.live, sink_fn, &k), 0);
    assert_int_equal(spb_flow_owed(&sp), 9);

    /* history owed to device 1 from before */
    devs[1].ranges = &owed_b;
    devs[1].nranges = 1;
    assert_int_equal(spb_flow_owed(&sp), 2);
    devs[1].nranges = 0;
    spb_groups_release(&sp.live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved_polls),
        cmocka_unit_test(test_flush_forgets_sensors),
        cmocka_unit_test(test_refused_stays_open),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_owed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
