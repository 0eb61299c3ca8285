// SPDX-License-Identifier: MIT
/*
 * The device layout's grouping (daemon/devmsg.c): interleaved polls of two
 * devices become one message per device and poll, with watermarks that
 * never cover a reading not handed over yet; a refused message stays
 * open and goes at the next try; a poll too long for one message is cut
 * into several, each whole JSON.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/devmsg.h"
#include "daemon/payload.h"

#define SENT_MAX 64

/* What send() was given. */
struct sent {
    char bus[32];
    int unit_id;
    char *payload;
    int64_t mark;
};

struct sink {
    struct sent s[SENT_MAX];
    size_t n;
    int refuse; /* refuse this many sends from now */
};

static int sink_send(void *arg, const char *bus, int unit_id,
                     const char *payload, size_t len, int64_t mark)
{
    struct sink *k = arg;
    struct sent *s;

    if (k->refuse > 0) {
        k->refuse--;
        return -1;
    }
    assert_true(k->n < SENT_MAX);
    s = &k->s[k->n++];
    snprintf(s->bus, sizeof(s->bus), "%s", bus);
    s->unit_id = unit_id;
    s->payload = malloc(len + 1);
    memcpy(s->payload, payload, len);
    s->payload[len] = '\0';
    s->mark = mark;
    return 0;
}

static void sink_free(struct sink *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->s[i].payload);
}

/* A good reading of sensor id (tag "S<id>") on bus/unit at seq. */
static struct reading_row row(int64_t seq, const char *bus, int unit,
                              int64_t id)
{
    static char tags[8][8];
    char *tag = tags[id % 8];

    snprintf(tag, sizeof(tags[0]), "S%lld", (long long)id);
    return (struct reading_row){
        .seq = seq,
        .ts_us = 1795568523000000 + seq,
        .sensor = tag,
        .kind = "flow",
        .unit = "m3/h",
        .has_value = true,
        .value = 1.5,
        .quality = "good",
        .bus = bus,
        .unit_id = unit,
        .type = "float32",
        .sensor_db_id = id,
    };
}

/* The seqs of a message's readings, as "1,3". */
static void seqs_of(const char *payload, char *out, size_t len)
{
    const char *p = payload;
    size_t n = 0;

    out[0] = '\0';
    while ((p = strstr(p, "\"seq\":"))) {
        p += 6;
        n += (size_t)snprintf(out + n, len - n, "%s%lld", n ? "," : "",
                              strtoll(p, NULL, 10));
    }
}

static void expect(const struct sink *k, size_t i, const char *bus, int unit,
                   const char *seqs, int64_t mark)
{
    char got[256];

    assert_true(i < k->n);
    seqs_of(k->s[i].payload, got, sizeof(got));
    assert_string_equal(k->s[i].bus, bus);
    assert_int_equal(k->s[i].unit_id, unit);
    assert_string_equal(got, seqs);
    assert_int_equal(k->s[i].mark, mark);
}

static void test_interleaved(void **state)
{
    struct devmsgs *g = devmsgs_new("site-1");
    struct sink k = {0};
    struct reading_row rows[] = {
        row(1, "a", 1, 1), row(2, "b", 7, 3), row(3, "a", 1, 2),
        row(4, "a", 1, 1), /* a/1's next poll: a/1's first goes */
        row(5, "b", 7, 3), /* b/7's next poll */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_int_equal(devmsgs_add(g, &rows[i], sink_send, &k), 0);
    /* a/1 {1,3} went when seq 2 (b/7) was still open: up to 1 only. */
    assert_int_equal(k.n, 2);
    expect(&k, 0, "a", 1, "1,3", 1);
    expect(&k, 1, "b", 7, "2", 3);
    assert_int_equal(devmsgs_open(g), 2);
    assert_int_equal(devmsgs_flush(g, 5, sink_send, &k), 0);
    expect(&k, 2, "a", 1, "4", 4);
    expect(&k, 3, "b", 7, "5", 5);
    assert_int_equal(devmsgs_open(g), 0);
    assert_string_equal(
        k.s[1].payload,
        "{\"site\":\"site-1\",\"bus\":\"b\",\"unit_id\":7,\"readings\":["
        "{\"seq\":2,\"sensor\":\"S3\",\"kind\":\"flow\","
        "\"ts\":\"2026-11-25T01:02:03.000002Z\",\"ts_us\":1795568523000002,"
        "\"value\":1.5,\"unit\":\"m3/h\",\"quality\":\"good\"}]}");
    sink_free(&k);
    devmsgs_free(g);
}

static void test_refused(void **state)
{
    struct devmsgs *g = devmsgs_new("s");
    struct sink k = {0};
    struct reading_row r1 = row(1, "a", 1, 1), r2 = row(2, "a", 1, 1);

    (void)state;
    assert_int_equal(devmsgs_add(g, &r1, sink_send, &k), 0);
    k.refuse = 1;
    assert_int_equal(devmsgs_add(g, &r2, sink_send, &k), -1);
    assert_int_equal(k.n, 0);
    assert_int_equal(devmsgs_open(g), 1);
    assert_int_equal(devmsgs_add(g, &r2, sink_send, &k), 0);
    expect(&k, 0, "a", 1, "1", 1);
    k.refuse = 1;
    assert_int_equal(devmsgs_flush(g, 2, sink_send, &k), -1);
    assert_int_equal(devmsgs_flush(g, 2, sink_send, &k), 0);
    expect(&k, 1, "a", 1, "2", 2);
    /* A rewind forgets what is open. */
    assert_int_equal(devmsgs_add(g, &r1, sink_send, &k), 0);
    devmsgs_reset(g);
    assert_int_equal(devmsgs_open(g), 0);
    sink_free(&k);
    devmsgs_free(g);
}

static void test_long_poll(void **state)
{
    struct devmsgs *g = devmsgs_new("s");
    struct sink k = {0};
    int64_t n = 2 * DEVMSG_MAX / 150, prev = 0;

    (void)state;
    for (int64_t i = 1; i <= n; i++) {
        struct reading_row r = row(i, "a", 1, i);

        assert_int_equal(devmsgs_add(g, &r, sink_send, &k), 0);
    }
    assert_int_equal(devmsgs_flush(g, n, sink_send, &k), 0);
    assert_true(k.n >= 2);
    for (size_t i = 0; i < k.n; i++) {
        size_t len = strlen(k.s[i].payload);

        assert_true(len <= DEVMSG_MAX);
        assert_string_equal(k.s[i].payload + len - 2, "]}");
        assert_true(k.s[i].mark > prev);
        prev = k.s[i].mark;
    }
    assert_int_equal(prev, n);
    sink_free(&k);
    devmsgs_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_long_poll),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
