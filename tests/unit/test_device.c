// SPDX-License-Identifier: MIT
/*
 * Unit tests of lib/device.c: ASCII registers to text (padding with NULs
 * and spaces, odd lengths, bytes that are not printable ASCII), the
 * `device` event's detail written, bounded and read back, and the log of
 * identities the daemon, the manifest and the status keep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/device.h"

/* ---- ASCII registers ---- */

struct ascii_case {
    const char *what;
    uint16_t words[DEVICE_REGS_MAX + 1];
    size_t n;
    const char *text;
};

static const struct ascii_case ascii_cases[] = {
    {"NUL-padded, as tbdaq-sim's serial",
     {0x5442, 0x5349, 0x4d2d, 0x3030, 0x3100, 0, 0, 0},
     8,
     "TBSIM-001"},
    {"space-padded, as tbdaq-sim's firmware",
     {0x312e, 0x342e, 0x3220, 0x2020},
     4,
     "1.4.2"},
    {"odd length, the last low byte NUL", {0x4142, 0x4300}, 2, "ABC"},
    {"odd length, the last low byte a space", {0x4142, 0x4320}, 2, "ABC"},
    {"spaces, then NULs", {0x4142, 0x2020, 0x0000}, 3, "AB"},
    {"NULs, then spaces", {0x4142, 0x0000, 0x2020}, 3, "AB"},
    {"leading spaces kept", {0x2020, 0x4142}, 2, "  AB"},
    {"spaces inside kept", {0x4120, 0x2042}, 2, "A  B"},
    {"NULs inside dropped", {0x4100, 0x0042, 0x0043}, 3, "ABC"},
    {"a leading NUL dropped", {0x0041, 0x4243}, 2, "ABC"},
    {"all NULs", {0, 0, 0, 0}, 4, ""},
    {"all spaces", {0x2020, 0x2020}, 2, ""},
    {"one register", {0x5a39}, 1, "Z9"},
    {"printable ASCII as it is", {0x7e21, 0x2f7b, 0x7d7c}, 3, "~!/{}|"},
    {"a byte above 0x7f", {0x8141}, 1, "%81A"},
    {"UTF-8 bytes, each its own", {0xc3a9}, 1, "%C3%A9"},
    {"a control character", {0x410a, 0x4200}, 2, "A%0AB"},
    {"DEL", {0x7f41}, 1, "%7FA"},
    {"'%', '\"' and '\\' escaped", {0x2522, 0x5c41}, 2, "%25%22%5CA"},
    {"a space before an escaped byte kept", {0x4120, 0xff20}, 2, "A %FF"},
    {"only the first DEVICE_REGS_MAX registers",
     {0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141,
      0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4141, 0x4242},
     DEVICE_REGS_MAX + 1,
     "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
};

static void test_ascii(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ascii_cases) / sizeof(ascii_cases[0]); i++) {
        const struct ascii_case *c = &ascii_cases[i];
        char out[DEVICE_TEXT_MAX + 1];
        size_t len;

        memset(out, 'x', sizeof(out));
        len = device_ascii(c->words, c->n, out);
        if (strcmp(out, c->text) != 0 || len != strlen(c->text))
            fail_msg("%s: got '%s' (%zu), want '%s'", c->what, out, len,
                     c->text);
    }
}

/* The longest text: every byte escaped, and nothing past the buffer. */
static void test_ascii_longest(void **state)
{
    uint16_t words[DEVICE_REGS_MAX];
    char out[DEVICE_TEXT_MAX + 2];

    (void)state;
    for (size_t i = 0; i < DEVICE_REGS_MAX; i++)
        words[i] = 0xfe80;
    out[DEVICE_TEXT_MAX + 1] = 'x';
    assert_int_equal(device_ascii(words, DEVICE_REGS_MAX, out),
                     DEVICE_TEXT_MAX);
    assert_int_equal(strncmp(out, "%FE%80%FE%80", 12), 0);
    assert_int_equal(out[DEVICE_TEXT_MAX], '\0');
    assert_int_equal(out[DEVICE_TEXT_MAX + 1], 'x');
}

/* ---- the detail ---- */

static void ident(struct device_ident *id, const char *bus, int unit,
                  const char *model, const char *serial, const char *firmware)
{
    memset(id, 0, sizeof(*id));
    snprintf(id->bus, sizeof(id->bus), "%s", bus);
    id->unit = unit;
    id->has_model = model != NULL;
    id->has_serial = serial != NULL;
    id->has_firmware = firmware != NULL;
    snprintf(id->model, sizeof(id->model), "%s", model ? model : "");
    snprintf(id->serial, sizeof(id->serial), "%s", serial ? serial : "");
    snprintf(id->firmware, sizeof(id->firmware), "%s",
             firmware ? firmware : "");
}

static void test_format(void **state)
{
    struct device_ident id;
    char out[EVENT_DETAIL_MAX];
    int len;

    (void)state;
    ident(&id, "rs485-1", 3, "pH analyser, 4-20 mA", "TBSIM-001", "1.4.2");
    len = device_ident_format(&id, out);
    assert_int_equal(len, (int)strlen(out));
    assert_string_equal(out, "{\"bus\":\"rs485-1\",\"unit\":3,\"model\":"
                             "\"pH analyser, 4-20 mA\",\"serial\":"
                             "\"TBSIM-001\",\"firmware\":\"1.4.2\"}");
    ident(&id, "a", 1, NULL, "%81", NULL);
    device_ident_format(&id, out);
    assert_string_equal(out, "{\"bus\":\"a\",\"unit\":1,\"model\":null,"
                             "\"serial\":\"%81\",\"firmware\":null}");
    /* a string that would need an escape is refused, not written */
    ident(&id, "a", 1, "say \"hi\"", NULL, NULL);
    assert_int_equal(device_ident_format(&id, out), -1);
    ident(&id, "a", 1, "back\\slash", NULL, NULL);
    assert_int_equal(device_ident_format(&id, out), -1);
    ident(&id, "a", 1, "tab\there", NULL, NULL);
    assert_int_equal(device_ident_format(&id, out), -1);
}

/* Fills s with n bytes of c. */
static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

/* device_detail_max() is what the longest identity of those sizes takes:
 * every register's bytes escaped. */
static void test_detail_max(void **state)
{
    static const struct {
        size_t bus;
        int unit, model, serial, firmware;
    } sizes[] = {
        {1, 1, -1, 0, 0},  {7, 3, 20, 8, 4},  {64, 247, -1, 16, 0},
        {10, 0, 64, 0, 6}, {1, 255, 1, 1, 1},
    };
    struct device_ident id;
    char out[EVENT_DETAIL_MAX];

    (void)state;
    assert_int_equal(device_detail_max(1, 1, -1, 0, 0),
                     strlen("{\"bus\":\"a\",\"unit\":1,\"model\":null,"
                            "\"serial\":null,\"firmware\":null}"));
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t max =
            device_detail_max(sizes[i].bus, sizes[i].unit, sizes[i].model,
                              sizes[i].serial, sizes[i].firmware);

        memset(&id, 0, sizeof(id));
        fill(id.bus, sizes[i].bus, 'b');
        id.unit = sizes[i].unit;
        id.has_model = sizes[i].model >= 0;
        if (id.has_model)
            fill(id.model, (size_t)sizes[i].model, 'm');
        id.has_serial = sizes[i].serial > 0;
        fill(id.serial, (size_t)sizes[i].serial * DEVICE_REG_TEXT, '0');
        id.has_firmware = sizes[i].firmware > 0;
        fill(id.firmware, (size_t)sizes[i].firmware * DEVICE_REG_TEXT, '1');
        assert_int_equal(device_ident_format(&id, out), (int)max);
    }
    /* exactly EVENT_DETAIL_MAX - 1 fits, one more does not */
    ident(&id, "a", 1, NULL, NULL, NULL);
    id.has_model = true;
    fill(id.model, EVENT_DETAIL_MAX - 1 - device_detail_max(1, 1, 0, 0, 0),
         'm');
    assert_int_equal(device_ident_format(&id, out), EVENT_DETAIL_MAX - 1);
    strcat(id.model, "m");
    assert_int_equal(device_ident_format(&id, out), -1);
}

static void test_parse(void **state)
{
    static const char *const good[] = {
        "{\"bus\":\"rs485-1\",\"unit\":3,\"model\":\"pH analyser\","
        "\"serial\":\"TBSIM-001\",\"firmware\":\"1.4.2\"}",
        "{\"bus\":\"a\",\"unit\":1,\"model\":null,\"serial\":\"%81%25\","
        "\"firmware\":null}",
        "{\"bus\":\"a\",\"unit\":247,\"model\":\"\",\"serial\":\"\","
        "\"firmware\":\"\"}",
    };
    struct device_ident id, back;
    char out[EVENT_DETAIL_MAX];

    (void)state;
    /* what format writes, parse reads back the same */
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(device_ident_parse(good[i], &id), 0);
        assert_int_equal(device_ident_format(&id, out), (int)strlen(good[i]));
        assert_string_equal(out, good[i]);
        assert_int_equal(device_ident_parse(out, &back), 0);
        assert_true(device_ident_equal(&id, &back));
    }
    assert_int_equal(device_ident_parse(good[0], &id), 0);
    assert_string_equal(id.bus, "rs485-1");
    assert_int_equal(id.unit, 3);
    assert_string_equal(id.model, "pH analyser");
    assert_string_equal(id.serial, "TBSIM-001");
    assert_string_equal(id.firmware, "1.4.2");
    assert_int_equal(device_ident_parse(good[1], &id), 0);
    assert_false(id.has_model);
    assert_true(id.has_serial);
    assert_false(id.has_firmware);
    /* members another version might add are skipped, in any order */
    assert_int_equal(
        device_ident_parse("{\"unit\":2,\"x\":7,\"bus\":\"b\",\"y\":\"z\","
                           "\"w\":null,\"serial\":\"S\"}",
                           &id),
        0);
    assert_string_equal(id.bus, "b");
    assert_int_equal(id.unit, 2);
    assert_string_equal(id.serial, "S");
    assert_false(id.has_model);
}

static void test_parse_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "tbdaqd 0.2.0",
        "{}",
        "{\"bus\":\"a\"}",
        "{\"unit\":1}",
        "{\"bus\":null,\"unit\":1}",
        "{\"bus\":\"a\",\"unit\":256}",
        "{\"bus\":\"a\",\"unit\":-1}",
        "{\"bus\":\"a\",\"unit\":x}",
        "{\"bus\":\"a\",\"unit\":1",
        "{\"bus\":\"a\",\"unit\":1} ",
        "{\"bus\":\"a\",\"unit\":1}x",
        "{\"bus\":\"a\",\"unit\":1,}",
        "{\"bus\":\"a\" ,\"unit\":1}",
        "{\"bus\":\"a\",\"unit\":1,\"serial\":\"a\\\"b\"}",
        "{\"bus\":\"a\",\"unit\":1,\"serial\":\"open}",
        "{\"bus\":\"a\",\"unit\":1,\"serial\":nul}",
        "{\"bus\":\"a\",\"unit\":1,\"serial\":5}",
        "{\"bus\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaa\",\"unit\":1}",
        "{\"bus\":\"a\",\"unit\":1,\"x\":[1]}",
    };
    struct device_ident id;

    (void)state;
    assert_int_equal(device_ident_parse(NULL, &id), -1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (device_ident_parse(bad[i], &id) != -1)
            fail_msg("'%s' was read", bad[i]);
}

/* ---- the log ---- */

static const char d1[] = "{\"bus\":\"a\",\"unit\":1,\"model\":null,"
                         "\"serial\":\"S1\",\"firmware\":null}";
static const char d1b[] = "{\"bus\":\"a\",\"unit\":1,\"model\":null,"
                          "\"serial\":\"S1-NEW\",\"firmware\":null}";
static const char d2[] = "{\"bus\":\"a\",\"unit\":2,\"model\":null,"
                         "\"serial\":\"S2\",\"firmware\":null}";
static const char db1[] = "{\"bus\":\"b\",\"unit\":1,\"model\":null,"
                          "\"serial\":\"B1\",\"firmware\":null}";

static void test_log(void **state)
{
    struct device_log all = {0}, newest = {0};
    const struct device_entry *e;

    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        struct device_log *l = pass ? &newest : &all;

        assert_int_equal(device_log_event(l, 100, "device", d1, pass), 1);
        assert_int_equal(device_log_event(l, 150, "config", d2, pass), 0);
        assert_int_equal(device_log_event(l, 160, "device", "junk", pass), 0);
        assert_int_equal(device_log_event(l, 200, "device", d2, pass), 1);
        assert_int_equal(device_log_event(l, 250, "device", db1, pass), 1);
        assert_int_equal(device_log_event(l, 300, "device", d1b, pass), 1);
    }
    assert_int_equal(all.n, 4);
    assert_int_equal(newest.n, 3);
    /* in force at a time: the newest at or before it */
    assert_null(device_log_at(&all, "a", 1, 99));
    e = device_log_at(&all, "a", 1, 100);
    assert_non_null(e);
    assert_string_equal(e->id.serial, "S1");
    assert_string_equal(e->detail, d1);
    assert_string_equal(device_log_at(&all, "a", 1, 299)->id.serial, "S1");
    assert_string_equal(device_log_at(&all, "a", 1, 300)->id.serial, "S1-NEW");
    assert_int_equal(device_log_at(&all, "a", 1, INT64_MAX)->ts_us, 300);
    assert_null(device_log_at(&all, "a", 3, INT64_MAX));
    assert_null(device_log_at(&all, "c", 1, INT64_MAX));
    assert_string_equal(device_log_at(&all, "b", 1, INT64_MAX)->id.serial,
                        "B1");
    /* the newest of each bus and unit */
    e = device_log_at(&newest, "a", 1, INT64_MAX);
    assert_string_equal(e->id.serial, "S1-NEW");
    assert_int_equal(e->ts_us, 300);
    assert_string_equal(device_log_at(&newest, "a", 2, INT64_MAX)->id.serial,
                        "S2");
    device_log_release(&all);
    device_log_release(&newest);
    assert_int_equal(all.n, 0);
    assert_null(all.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),  cmocka_unit_test(test_ascii_longest),
        cmocka_unit_test(test_format), cmocka_unit_test(test_detail_max),
        cmocka_unit_test(test_parse),  cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_log),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
