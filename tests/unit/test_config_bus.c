// SPDX-License-Identifier: MIT
/*
 * Unit tests of the buses' part of the configuration (lib/config_bus.c)
 * for what issue 14 added: the rtu-over-tcp type, its keys and defaults,
 * max_bits on every type, and two buses on one device server. Each broken
 * config must give exactly one "file:line: message". test_config.c covers
 * the rest of the loader.
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

#define SITE "site = \"t\";\n"
/* One sensor on bus "a", on the line after the buses. */
#define SENSOR                                                                 \
    "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\"; "                 \
    "type = \"int16\"; address = 0; });\n"
#define GW(more)                                                               \
    "buses = ({ name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\"; "        \
    "port = 4001; " more " });\n"

/* The bus of that name; fails the test if there is none. */
static const struct bus_conf *find_bus(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nbuses; i++)
        if (strcmp(c->buses[i].name, name) == 0)
            return &c->buses[i];
    fail_msg("no bus '%s'", name);
    return NULL;
}

/* Defaults of each type, and max_bits on every one. */
static void test_good(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(
        f,
        SITE "buses = (\n"
             "  { name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\";"
             " port = 4001; },\n"
             "  { name = \"b\"; type = \"rtu-over-tcp\"; host = \"gw\";"
             " port = 4002; timeout_ms = 800; delay_ms = 0; retries = 3;"
             " max_bits = 16; max_registers = 10; },\n"
             "  { name = \"t\"; type = \"tcp\"; host = \"gw\"; port = 4001;"
             " max_bits = 1; },\n"
             "  { name = \"r\"; type = \"rtu\"; device = \"/dev/x\";"
             " max_bits = 2000; }\n"
             ");\n" SENSOR,
        &errs);
    const struct bus_conf *b;

    for (size_t i = 0; i < errs.n; i++)
        print_message("  got: %s\n", errs.v[i]);
    assert_non_null(c);
    b = find_bus(c, "a");
    assert_int_equal(b->params.type, BUS_RTU_OVER_TCP);
    assert_string_equal(b->params.host, "gw");
    assert_int_equal(b->params.port, 4001);
    assert_int_equal(b->params.timeout_ms, 500);
    assert_int_equal(b->params.delay_ms, 5);
    assert_int_equal(b->params.retries, 1);
    assert_int_equal(b->params.max_registers, 125);
    assert_int_equal(b->params.max_bits, 2000);
    b = find_bus(c, "b");
    assert_int_equal(b->params.port, 4002);
    assert_int_equal(b->params.timeout_ms, 800);
    assert_int_equal(b->params.delay_ms, 0);
    assert_int_equal(b->params.retries, 3);
    assert_int_equal(b->params.max_bits, 16);
    assert_int_equal(b->params.max_registers, 10);
    b = find_bus(c, "t");
    assert_int_equal(b->params.type, BUS_TCP);
    assert_int_equal(b->params.max_bits, 1);
    b = find_bus(c, "r");
    assert_int_equal(b->params.type, BUS_RTU);
    assert_int_equal(b->params.max_bits, 2000);
    config_free(c);
    config_errors_release(&errs);
}

static const struct one_error_case bad_cases[] = {
    {"max_bits 0", SITE GW("max_bits = 0;") SENSOR, 2,
     "'max_bits' in bus 'a' must be 1..2000, not 0"},
    {"max_bits 2001 on tcp",
     SITE "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\";\n"
          "  max_bits = 2001; });\n" SENSOR,
     3, "'max_bits' in bus 'a' must be 1..2000, not 2001"},
    {"max_bits a float on rtu",
     SITE "buses = ({ name = \"a\"; type = \"rtu\"; device = \"/dev/x\";"
          " max_bits = 8.0; });\n" SENSOR,
     2, "'max_bits' in bus 'a' must be an integer, not a float"},
    {"no port",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\";\n"
          "  host = \"gw\"; });\n" SENSOR,
     2,
     "missing 'port' in bus 'a' (the device server's port for the serial "
     "line, often 4001; 502 is Modbus TCP's)"},
    {"no host",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\";"
          " port = 4001; });\n" SENSOR,
     2, "missing 'host' in bus 'a'"},
    {"port 0",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\";"
          " port = 0; });\n" SENSOR,
     2, "'port' in bus 'a' must be 1..65535, not 0"},
    {"a serial key",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\";\n"
          "  port = 4001; baud = 19200; });\n" SENSOR,
     3,
     "'baud' is for rtu buses, but bus 'a' is rtu-over-tcp (the serial line "
     "is set up on the device server)"},
    {"a device",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\";"
          " port = 4001;\n  device = \"/dev/ttyUSB0\"; });\n" SENSOR,
     3,
     "'device' is for rtu buses, but bus 'a' is rtu-over-tcp (the serial "
     "line is set up on the device server)"},
    {"host on rtu",
     SITE "buses = ({ name = \"a\"; type = \"rtu\"; device = \"/dev/x\";\n"
          "  host = \"gw\"; });\n" SENSOR,
     3, "'host' is for tcp and rtu-over-tcp buses, but bus 'a' is rtu"},
    {"two buses on one device server",
     SITE "buses = ({ name = \"a\"; type = \"rtu-over-tcp\"; host = \"gw\";"
          " port = 4001; },\n"
          "  { name = \"b\"; type = \"tcp\"; host = \"gw\"; port = 4001; },\n"
          "  { name = \"c\"; type = \"rtu-over-tcp\"; host = \"gw\";"
          " port = 4002; },\n"
          "  { name = \"d\"; type = \"rtu-over-tcp\"; host = \"gw\";"
          " port = 4001; });\n" SENSOR,
     5, "buses 'a' and 'd' both use device server 'gw' port 4001"},
    {"unknown type",
     SITE "buses = ({ name = \"a\"; type = \"rtu_tcp\"; });\n" SENSOR, 2,
     "unknown bus type 'rtu_tcp' (use tcp, rtu or rtu-over-tcp)"},
};

static void test_bad(void **state)
{
    expect_one_error(*state, bad_cases,
                     sizeof(bad_cases) / sizeof(bad_cases[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad, fixture_setup,
                                        fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
