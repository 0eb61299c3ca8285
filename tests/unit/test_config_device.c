// SPDX-License-Identifier: MIT
/*
 * Unit tests of the devices' part of the configuration
 * (lib/config_device.c, issue 14): a valid list with every key and its
 * defaults, and a table of broken ones, each of which must give exactly
 * one "file:line: message"; the warning about a device no sensor reads.
 * test_config.c covers the rest of the loader.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "tests/unit/test_config.h"
#include "lib/device.h"

/* Lines 1..5: a tcp bus "a" that reads 10 registers at once, an
 * rtu-over-tcp bus "g"; sensors on a unit 3 and g unit 1. The devices
 * start on line 6. */
#define HEAD                                                                   \
    "site = \"t\";\n"                                                          \
    "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\";"                   \
    " max_registers = 10; },\n"                                                \
    "  { name = \"g\"; type = \"rtu-over-tcp\"; host = \"gw\";"                \
    " port = 4001; });\n"                                                      \
    "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\"; unit_id = 3;"     \
    " type = \"int16\"; address = 0; },\n"                                     \
    "  { id = \"S2\"; kind = \"flow\"; bus = \"g\"; type = \"int16\";"         \
    " address = 0; });\n"
/* One device on line 6. */
#define DEV(s) HEAD "devices = ({ " s " });\n"
#define SER "serial = { address = 800; count = 8; };"
#define M16 "mmmmmmmmmmmmmmmm"
#define M64 M16 M16 M16 M16

static void test_good(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(
        f,
        HEAD "devices = (\n"
             "  { bus = \"a\"; unit_id = 3; model = \"pH analyser, 4\xe2\x80"
             "\x93"
             "20 mA\";\n"
             "    serial = { table = \"input\"; address = 100; count = 8; };\n"
             "    firmware = { table = \"holding\"; address = 110; count = 4;"
             " }; },\n"
             "  { bus = \"g\"; " SER " },\n"
             "  { bus = \"a\"; unit_id = 2; model = \"" M64 "\"; }\n"
             ");\n",
        &errs);
    const struct device_conf *d;

    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->ndevices, 3);
    d = &c->devices[0];
    assert_int_equal(d->bus, 0);
    assert_int_equal(d->unit_id, 3);
    assert_string_equal(d->model, "pH analyser, 4\xe2\x80\x93"
                                  "20 mA");
    assert_int_equal(d->serial.table, TABLE_INPUT);
    assert_int_equal(d->serial.address, 100);
    assert_int_equal(d->serial.count, 8);
    assert_int_equal(d->firmware.table, TABLE_HOLDING);
    assert_int_equal(d->firmware.address, 110);
    assert_int_equal(d->firmware.count, 4);
    assert_int_equal(d->line, 7);
    /* defaults: unit 1, table holding, no model, no firmware */
    d = &c->devices[1];
    assert_int_equal(d->bus, 1);
    assert_int_equal(d->unit_id, 1);
    assert_null(d->model);
    assert_int_equal(d->serial.table, TABLE_HOLDING);
    assert_int_equal(d->serial.count, 8);
    assert_int_equal(d->firmware.count, 0);
    /* a model alone; unit 2 of bus a has no sensor: a warning */
    d = &c->devices[2];
    assert_int_equal(strlen(d->model), DEVICE_MODEL_MAX);
    assert_int_equal(d->serial.count, 0);
    assert_int_equal(c->nwarnings, 1);
    {
        char want[512];

        snprintf(want, sizeof(want),
                 "%s:11: device on bus 'a' unit 2: no sensor reads that "
                 "unit, so its identity is never read",
                 f->path);
        assert_string_equal(c->warnings[0], want);
    }
    config_free(c);
    config_errors_release(&errs);
}

/* No devices, or an empty list: nothing to read, nothing to warn. */
static void test_none(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f, HEAD, &errs);

    assert_non_null(c);
    assert_int_equal(c->ndevices, 0);
    config_free(c);
    c = load_text(f, HEAD "devices = ();\n", &errs);
    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->ndevices, 0);
    assert_int_equal(c->nwarnings, 0);
    config_free(c);
    config_errors_release(&errs);
}

static const struct one_error_case bad_cases[] = {
    {"unknown bus", DEV("bus = \"b\"; " SER), 6, "unknown bus 'b'"},
    {"no bus", DEV(SER), 6, "missing 'bus' in device 1"},
    {"unit out of range", DEV("bus = \"a\"; unit_id = 248; " SER), 6,
     "'unit_id' in device on bus 'a' unit 248 must be 0..247, not 248"},
    {"unit 0 on rtu-over-tcp", DEV("bus = \"g\"; unit_id = 0; " SER), 6,
     "unit_id 0 in device on bus 'g' unit 0 is broadcast on rtu-over-tcp "
     "bus 'g' (use 1..247)"},
    {"duplicate bus and unit",
     HEAD "devices = ({ bus = \"a\"; unit_id = 3; " SER " },\n"
          "  { bus = \"g\"; " SER " },\n"
          "  { bus = \"a\"; unit_id = 3; model = \"x\"; });\n",
     8, "duplicate device on bus 'a' unit 3 (first at line 6)"},
    {"a coil",
     DEV("bus = \"g\"; serial = { table = \"coil\"; address = 1;"
         " count = 1; };"),
     6,
     "table 'coil' in serial of device on bus 'g' unit 1 must be holding or "
     "input: an identity is read from ASCII registers"},
    {"an unknown table",
     DEV("bus = \"g\"; firmware = { table = \"holdings\"; address = 1;"
         " count = 1; };"),
     6,
     "table 'holdings' in firmware of device on bus 'g' unit 1 must be "
     "holding or input: an identity is read from ASCII registers"},
    {"count 0", DEV("bus = \"g\"; serial = { address = 1; count = 0; };"), 6,
     "'count' in serial of device on bus 'g' unit 1 must be 1..16, not 0"},
    {"count 17", DEV("bus = \"g\"; serial = { address = 1; count = 17; };"), 6,
     "'count' in serial of device on bus 'g' unit 1 must be 1..16, not 17"},
    {"count beyond max_registers",
     DEV("bus = \"a\"; unit_id = 3; serial = { address = 1; count = 12; };"), 6,
     "'count' 12 in serial of device on bus 'a' unit 3 is more than bus 'a' "
     "reads at once (max_registers 10)"},
    {"no count", DEV("bus = \"g\"; serial = { address = 1; };"), 6,
     "missing 'count' in serial of device on bus 'g' unit 1"},
    {"no address", DEV("bus = \"g\"; firmware = { count = 1; };"), 6,
     "missing 'address' in firmware of device on bus 'g' unit 1"},
    {"past the last register",
     DEV("bus = \"g\"; serial = { address = 65530; count = 8; };"), 6,
     "serial of device on bus 'g' unit 1 at address 65530 with 8 registers "
     "runs past register 65535"},
    {"serial not a group", DEV("bus = \"g\"; serial = 800;"), 6,
     "'serial' in device on bus 'g' unit 1 must be a group { ... }, not an "
     "integer"},
    {"an unknown key in the registers",
     DEV("bus = \"g\"; serial = { address = 1; count = 1; size = 2; };"), 6,
     "unknown key 'size' in serial of device on bus 'g' unit 1"},
    {"an unknown key", DEV("bus = \"g\"; " SER " colour = \"red\";"), 6,
     "unknown key 'colour' in device on bus 'g' unit 1"},
    {"a misspelt key",
     DEV("bus = \"g\"; serail = { address = 1; count = 1; };"), 6,
     "unknown key 'serail' in device on bus 'g' unit 1 (did you mean "
     "'serial'?)"},
    {"model too long", DEV("bus = \"g\"; model = \"" M64 "m\";"), 6,
     "'model' in device on bus 'g' unit 1 must be 1..64 bytes, not 65"},
    {"model empty", DEV("bus = \"g\"; model = \"\";"), 6,
     "'model' in device on bus 'g' unit 1 must not be empty"},
    {"model with a quote", DEV("bus = \"g\"; model = \"6\\\" flange\";"), 6,
     "model in device on bus 'g' unit 1 must be UTF-8 without control "
     "characters, '\"' or '\\'"},
    {"model with a tab", DEV("bus = \"g\"; model = \"a\\tb\";"), 6,
     "model in device on bus 'g' unit 1 must be UTF-8 without control "
     "characters, '\"' or '\\'"},
    {"nothing to record", DEV("bus = \"g\"; unit_id = 2;"), 6,
     "device on bus 'g' unit 2 names nothing to record: give 'model', "
     "'serial' or 'firmware'"},
    /* 49 + "g" + "1" + 66 + 98 + 44 bytes */
    {"an event that would not fit",
     DEV("bus = \"g\"; model = \"" M64 "\";\n"
         "  serial = { address = 800; count = 16; };"
         " firmware = { address = 810; count = 7; };"),
     6,
     "device on bus 'g' unit 1: its device event could take 259 bytes, more "
     "than 255 (each register read may take 6): shorten 'model' or read "
     "fewer registers"},
    {"not a group", HEAD "devices = ( 5 );\n", 6,
     "device 1 must be a group { ... }, not an integer"},
    {"not a list", HEAD "devices = 5;\n", 6,
     "'devices' must be a list ( ... ), not an integer"},
};

static void test_bad(void **state)
{
    expect_one_error(*state, bad_cases,
                     sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* The largest event that fits is accepted: one register less than the
 * case above. */
static void test_fits(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c =
        load_text(f,
                  DEV("bus = \"g\"; model = \"" M64 "\";"
                      " serial = { address = 800; count = 16; };"
                      " firmware = { address = 810; count = 6; };"),
                  &errs);

    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(device_detail_max(1, 1, DEVICE_MODEL_MAX, 16, 6), 253);
    config_free(c);
    config_errors_release(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_none, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_fits, fixture_setup,
                                        fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
