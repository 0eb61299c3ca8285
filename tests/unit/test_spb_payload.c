// SPDX-License-Identifier: MIT
/*
 * Sparkplug B encoding (daemon/spb_payload.c) against bytes worked out by
 * hand from the protobuf wire format and proto/sparkplug_b.proto, one
 * comment per field (tag = field number << 3 | wire type; wire types: 0
 * varint, 1 fixed 64 bits, 2 length-delimited), and NCMD payloads built
 * by hand decoded for Node Control/Rebirth.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/spb_payload.h"

static void expect_bytes(const struct spb_buf *b, const uint8_t *want, size_t n)
{
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        for (size_t i = 0; i < b->len; i++)
            fprintf(stderr, "%02x%s", b->data[i], i + 1 < b->len ? " " : "\n");
    }
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

/* A DDATA: one Double metric by alias, with its timestamp and a seq
 * property (UInt64). */
static void test_spb_ddata_double(void **state)
{
    static const uint8_t want[] = {
        0x08, 0xac, 0x02, /* Payload.timestamp (1, varint) = 300 */
        0x12, 0x1d,       /* Payload.metrics (2, bytes), 29 bytes: */
        0x10, 0x01,       /*   Metric.alias (2, varint) = 1 */
        0x18, 0xac, 0x02, /*   Metric.timestamp (3, varint) = 300 */
        0x20, 0x0a,       /*   Metric.datatype (4, varint) = 10 Double */
        0x4a, 0x0b,       /*   Metric.properties (9, bytes), 11 bytes: */
        0x0a, 0x03, 's',  'e',  'q', /* PropertySet.keys (1, bytes) "seq" */
        0x12, 0x04, /*     PropertySet.values (2, bytes), 4 bytes: */
        0x08, 0x08, /*       PropertyValue.type (1, varint) = 8 UInt64 */
        0x20, 0x07, /*       PropertyValue.long_value (4, varint) = 7 */
        0x69,       /*   Metric.double_value (13, fixed64) = 1.5: */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, /* 0x3ff8..., LE */
        0x18, 0x05, /* Payload.seq (3, varint) = 5 */
    };
    struct spb_metric m = {
        .has_alias = true,
        .alias = 1,
        .has_ts = true,
        .ts_ms = 300,
        .type = SPB_DOUBLE,
        .value = 1.5,
        .props = {{.key = "seq", .type = SPB_UINT64, .num = 7}},
        .nprops = 1,
    };
    struct spb_buf b = {0};

    (void)state;
    spb_encode(&b, 300, 5, &m, 1);
    expect_bytes(&b, want, sizeof(want));
    spb_buf_release(&b);
}

/* Historical, null, an Int32 property, and no seq (as NDEATH). */
static void test_spb_null_historical(void **state)
{
    static const uint8_t want[] = {
        0x08, 0xac, 0x02, /* Payload.timestamp (1, varint) = 300 */
        0x12, 0x1d,       /* Payload.metrics (2, bytes), 29 bytes: */
        0x10, 0x02,       /*   Metric.alias (2, varint) = 2 */
        0x18, 0xac, 0x02, /*   Metric.timestamp (3, varint) = 300 */
        0x20, 0x0b,       /*   Metric.datatype (4, varint) = 11 Boolean */
        0x28, 0x01,       /*   Metric.is_historical (5, varint) = true */
        0x38, 0x01,       /*   Metric.is_null (7, varint) = true */
        0x4a, 0x10,       /*   Metric.properties (9, bytes), 16 bytes: */
        0x0a, 0x07, 'Q',  'u', 'a', 'l', 'i', 't', 'y', /* keys "Quality" */
        0x12, 0x05,       /*     PropertySet.values (2, bytes), 5 bytes: */
        0x08, 0x03,       /*       PropertyValue.type (1, varint) = 3 Int32 */
        0x18, 0xc0, 0x01, /*       PropertyValue.int_value (3) = 192 */
        /* no value (is_null), no Payload.seq */
    };
    struct spb_metric m = {
        .has_alias = true,
        .alias = 2,
        .has_ts = true,
        .ts_ms = 300,
        .type = SPB_BOOLEAN,
        .is_null = true,
        .value = 1,
        .historical = true,
        .props = {{.key = "Quality", .type = SPB_INT32, .num = 192}},
        .nprops = 1,
    };
    struct spb_buf b = {0};

    (void)state;
    spb_encode(&b, 300, -1, &m, 1);
    expect_bytes(&b, want, sizeof(want));
    spb_buf_release(&b);
}

/* A named Int64 metric with a negative value: two's complement in the
 * uint64 field, ten bytes of varint; seq 0 is sent. */
static void test_spb_int64_named(void **state)
{
    static const uint8_t want[] = {
        0x08, 0x00,      /* Payload.timestamp (1, varint) = 0 */
        0x12, 0x10,      /* Payload.metrics (2, bytes), 16: */
        0x0a, 0x01, 'x', /*   Metric.name (1, bytes) "x" */
        0x20, 0x04,      /*   Metric.datatype (4) = 4 Int64 */
        0x58, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        /*   Metric.long_value (11, varint) = 2^64 - 2, i.e. -2 */
        0x18, 0x00, /* Payload.seq (3, varint) = 0 */
    };
    struct spb_metric m = {.name = "x", .type = SPB_INT64, .value = -2.0};
    struct spb_buf b = {0};

    (void)state;
    spb_encode(&b, 0, 0, &m, 1);
    expect_bytes(&b, want, sizeof(want));
    spb_buf_release(&b);
}

/* An NCMD as a host sends it: Node Control/Rebirth, Boolean, value. */
static void test_spb_rebirth(void **state)
{
    /* One field per line, the name's bytes in two rows: */
    /* clang-format off */
    uint8_t ncmd[] = {
        0x08, 0xac, 0x02, /* Payload.timestamp (1, varint) = 300 */
        0x12, 0x1a,       /* Payload.metrics (2, bytes), 26 bytes: */
        0x0a, 0x14,       /*   Metric.name (1, bytes), 20 bytes: */
        'N', 'o', 'd', 'e', ' ', 'C', 'o', 'n', 't', 'r',
        'o', 'l', '/', 'R', 'e', 'b', 'i', 'r', 't', 'h',
        0x20, 0x0b,       /*   Metric.datatype (4, varint) = 11 Boolean */
        0x70, 0x01,       /*   Metric.boolean_value (14, varint) = true */
    };
    /* clang-format on */
    static const uint8_t other[] = {
        0x12, 0x07,             /* Payload.metrics (2, bytes), 7 bytes: */
        0x0a, 0x01, 'y',        /*   Metric.name "y" */
        0x20, 0x0b, 0x70, 0x01, /*   Boolean true */
    };
    static const uint8_t truncated[] = {0x12, 0x05, 0x0a};

    (void)state;
    assert_int_equal(spb_decode_rebirth(ncmd, sizeof(ncmd)), 1);
    /* boolean_value = false */
    ncmd[sizeof(ncmd) - 1] = 0x00;
    assert_int_equal(spb_decode_rebirth(ncmd, sizeof(ncmd)), 0);
    assert_int_equal(spb_decode_rebirth(other, sizeof(other)), 0);
    assert_int_equal(spb_decode_rebirth(truncated, sizeof(truncated)), -1);
}

static void test_spb_type_of(void **state)
{
    (void)state;
    assert_int_equal(spb_type_of("bool"), SPB_BOOLEAN);
    assert_int_equal(spb_type_of("int64"), SPB_INT64);
    assert_int_equal(spb_type_of("uint64"), SPB_UINT64);
    assert_int_equal(spb_type_of("float32"), SPB_DOUBLE);
    assert_int_equal(spb_type_of("int16"), SPB_DOUBLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spb_ddata_double),
        cmocka_unit_test(test_spb_null_historical),
        cmocka_unit_test(test_spb_int64_named),
        cmocka_unit_test(test_spb_rebirth),
        cmocka_unit_test(test_spb_type_of),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
