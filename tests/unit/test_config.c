// SPDX-License-Identifier: MIT
/*
 * Unit tests of the config loader: a full config with every key, a minimal
 * one with every default, the shipped example configs, and a table of
 * broken configs, each with the exact "file:line: message" it must give.
 * Every config is written to a file in a fresh temporary directory, since
 * config_load() reads a path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "tests/unit/test_config.h"

/* ---- a valid config ---- */

/* Every key given, none at its default. Its lines are counted below. */
static const char full_text[] =
    "site = \"bed-1\";\n"                                                /* 1 */
    "database = \"/srv/tbdaq/bed.db\";\n"                                /* 2 */
    "log_level = \"debug\";\n"                                           /* 3 */
    "commit_interval_ms = 250;\n"                                        /* 4 */
    "retention_days = 30;\n"                                             /* 5 */
    "mqtt = { host = \"broker.example\"; port = 8883;\n"                 /* 6 */
    "  client_id = \"bed-1-daq\"; topic_prefix = \"lab/daq\";\n"         /* 7 */
    "  qos = 2; retain = true; keepalive_s = 60; layout = \"device\";\n" /* 8 */
    "  username = \"u\"; password_file = \"/etc/p\";\n"                  /* 9 */
    "  tls = { ca_file = \"/ca\"; cert_file = \"/c\";"                 /* 10 */
    " key_file = \"/k\"; }; };\n"                                      /* 10 */
    "buses = (\n"                                                      /* 11 */
    "  { name = \"net.1\"; type = \"tcp\"; host = \"10.0.0.5\";\n"     /* 12 */
    "    port = 1502; timeout_ms = 800; retries = 3;\n"                /* 13 */
    "    max_registers = 60; max_gap = 0; delay_ms = 20; },\n"         /* 14 */
    "  { name = \"ser_2\"; type = \"rtu\"; device = \"/dev/ttyS1\";\n" /* 15 */
    "    baud = 19200; parity = \"even\"; data_bits = 7;\n"            /* 16 */
    "    stop_bits = 2; timeout_ms = 1000; retries = 0;\n"             /* 17 */
    "    max_registers = 16; max_gap = 2; delay_ms = 50; }\n"          /* 18 */
    ");\n"                                                             /* 19 */
    "sensors = (\n"                                                    /* 20 */
    "  { id = \"FT-101\"; kind = \"flow\"; bus = \"net.1\";\n"         /* 21 */
    "    unit_id = 0; table = \"input\"; address = 65532;\n"           /* 22 */
    "    type = \"float64\"; byte_order = \"GHEFCDAB\";\n"             /* 23 */
    "    scale = 2; offset = -1.5; unit = \"l/min\";\n"                /* 24 */
    "    interval_ms = 250; range = [-5.0, 5.5];\n"                    /* 25 */
    "    calibration = { date = \"2024-02-29\";"                       /* 26 */
    " due = \"2025-02-28\"; certificate = \"C-1/2\"; }; },\n"          /* 26 */
    "  { id = \"X_9\"; kind = \"generic\"; bus = \"ser_2\";\n"         /* 27 */
    "    unit_id = 247; address = 7; type = \"uint16\";\n"             /* 28 */
    "    byte_order = \"BA\"; unit = \"\xc2\xb5S/cm\"; },\n"           /* 29 */
    "  { id = \"dup.read\"; kind = \"ph\"; bus = \"ser_2\";\n"         /* 30 */
    "    unit_id = 247; address = 7; type = \"uint16\";"               /* 31 */
    " range = (1, 2); }\n"                                             /* 31 */
    ");\n";                                                            /* 32 */

/* `printf '%s' "$full_text" | sha256sum`, computed outside this program. */
static const char full_sha256[] =
    "bb1ff58c781c9079b892ce8cee75aef2ecde537d9caea2477d71c962beea634d";

static void test_full(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f, full_text, &errs);
    const struct sensor_conf *s;
    const struct bus_conf *b;

    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(errs.n, 0);
    assert_string_equal(c->path, f->path);
    assert_string_equal(c->sha256, full_sha256);
    assert_string_equal(c->site, "bed-1");
    assert_string_equal(c->database, "/srv/tbdaq/bed.db");
    assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
    assert_int_equal(c->commit_interval_ms, 250);
    assert_int_equal(c->retention_days, 30);

    assert_true(c->mqtt.enabled);
    assert_string_equal(c->mqtt.host, "broker.example");
    assert_int_equal(c->mqtt.port, 8883);
    assert_string_equal(c->mqtt.client_id, "bed-1-daq");
    assert_string_equal(c->mqtt.topic_prefix, "lab/daq");
    assert_int_equal(c->mqtt.qos, 2);
    assert_true(c->mqtt.retain);
    assert_int_equal(c->mqtt.keepalive_s, 60);
    assert_int_equal(c->mqtt.layout, MQTT_LAYOUT_DEVICE);
    assert_string_equal(c->mqtt.username, "u");
    assert_string_equal(c->mqtt.password_file, "/etc/p");
    assert_string_equal(c->mqtt.ca_file, "/ca");
    assert_string_equal(c->mqtt.cert_file, "/c");
    assert_string_equal(c->mqtt.key_file, "/k");

    assert_int_equal(c->nbuses, 2);
    b = &c->buses[0];
    assert_string_equal(b->name, "net.1");
    assert_int_equal(b->line, 12);
    assert_int_equal(b->params.type, BUS_TCP);
    assert_string_equal(b->params.host, "10.0.0.5");
    assert_int_equal(b->params.port, 1502);
    assert_int_equal(b->params.timeout_ms, 800);
    assert_int_equal(b->params.retries, 3);
    assert_int_equal(b->params.max_registers, 60);
    assert_int_equal(b->max_gap, 0);
    assert_int_equal(b->params.delay_ms, 20);
    b = &c->buses[1];
    assert_string_equal(b->name, "ser_2");
    assert_int_equal(b->line, 15);
    assert_int_equal(b->params.type, BUS_RTU);
    assert_string_equal(b->params.device, "/dev/ttyS1");
    assert_int_equal(b->params.baud, 19200);
    assert_int_equal(b->params.parity, 'E');
    assert_int_equal(b->params.data_bits, 7);
    assert_int_equal(b->params.stop_bits, 2);
    assert_int_equal(b->params.timeout_ms, 1000);
    assert_int_equal(b->params.retries, 0);
    assert_int_equal(b->params.max_registers, 16);
    assert_int_equal(b->max_gap, 2);
    assert_int_equal(b->params.delay_ms, 50);
    assert_int_equal(config_find_bus(c, "net.1"), 0);
    assert_int_equal(config_find_bus(c, "ser_2"), 1);
    assert_true(config_find_bus(c, "ser_3") == SIZE_MAX);

    assert_int_equal(c->nsensors, 3);
    s = &c->sensors[0];
    assert_string_equal(s->id, "FT-101");
    assert_int_equal(s->line, 21);
    assert_int_equal(s->kind, KIND_FLOW);
    assert_int_equal(s->bus, 0);
    assert_int_equal(s->unit_id, 0);
    assert_int_equal(s->table, TABLE_INPUT);
    assert_int_equal(s->address, 65532);
    assert_int_equal(s->type, REG_FLOAT64);
    assert_int_equal(s->order, BO_GHEFCDAB);
    assert_true(s->scale == 2.0);
    assert_true(s->offset == -1.5);
    assert_string_equal(s->unit, "l/min");
    assert_int_equal(s->interval_ms, 250);
    assert_true(s->range_lo == -5.0);
    assert_true(s->range_hi == 5.5);
    assert_string_equal(s->cal.date, "2024-02-29");
    assert_string_equal(s->cal.due, "2025-02-28");
    assert_string_equal(s->cal.certificate, "C-1/2");
    assert_int_equal(s->db_id, 0);
    s = &c->sensors[1];
    assert_string_equal(s->id, "X_9");
    assert_int_equal(s->line, 27);
    assert_int_equal(s->kind, KIND_GENERIC);
    assert_int_equal(s->bus, 1);
    assert_int_equal(s->unit_id, 247);
    assert_int_equal(s->order, BO_BA);
    assert_string_equal(s->unit, "\xc2\xb5S/cm");
    assert_true(isinf(s->range_lo) && s->range_lo < 0);
    assert_true(isinf(s->range_hi) && s->range_hi > 0);
    assert_null(s->cal.date);
    assert_null(s->cal.due);
    assert_null(s->cal.certificate);
    /* The same address and type as X_9: one value read twice is fine. */
    s = &c->sensors[2];
    assert_string_equal(s->id, "dup.read");
    assert_string_equal(s->unit, "pH");
    assert_true(s->range_lo == 1.0 && s->range_hi == 2.0);

    config_free(c);
    config_errors_release(&errs);
}

/* Only what is required: everything else must take its default. */
static const char minimal_text[] =
    "site = \"m\";\n"
    "mqtt = { };\n"
    "buses = ({ name = \"t\"; type = \"tcp\"; host = \"h\"; },\n"
    "         { name = \"r\"; type = \"rtu\"; device = \"/dev/x\"; });\n"
    "sensors = ({ id = \"a\"; kind = \"pressure\"; bus = \"t\";"
    " address = 1; type = \"int32\"; },\n"
    "           { id = \"b\"; kind = \"turbidity\"; bus = \"r\";"
    " address = 1; type = \"float64\"; },\n"
    "           { id = \"c\"; kind = \"ph\"; bus = \"r\";"
    " address = 5; type = \"int16\"; });\n";

static void test_defaults(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f, minimal_text, &errs);
    const struct sensor_conf *s;
    const struct bus_params *p;

    print_errors(&errs);
    assert_non_null(c);
    assert_string_equal(c->database, CONFIG_DEFAULT_DATABASE);
    assert_int_equal(c->log_level, LOG_LEVEL_INFO);
    assert_int_equal(c->commit_interval_ms, 100);
    assert_int_equal(c->retention_days, 0);
    assert_int_equal(c->buffer_readings, CONFIG_DEFAULT_BUFFER_READINGS);

    assert_true(c->mqtt.enabled);
    assert_string_equal(c->mqtt.host, "localhost");
    assert_int_equal(c->mqtt.port, 1883);
    assert_string_equal(c->mqtt.client_id, "tbdaq-m");
    assert_string_equal(c->mqtt.topic_prefix, "tbdaq");
    assert_int_equal(c->mqtt.qos, 1);
    assert_false(c->mqtt.retain);
    assert_int_equal(c->mqtt.keepalive_s, 30);
    assert_int_equal(c->mqtt.layout, MQTT_LAYOUT_READING);
    assert_null(c->mqtt.username);
    assert_null(c->mqtt.password_file);
    assert_null(c->mqtt.ca_file);
    assert_null(c->mqtt.cert_file);
    assert_null(c->mqtt.key_file);

    p = &c->buses[0].params;
    assert_int_equal(p->port, 502);
    assert_int_equal(p->timeout_ms, 500);
    assert_int_equal(p->retries, 1);
    assert_int_equal(p->max_registers, 125);
    assert_int_equal(p->delay_ms, 0);
    assert_int_equal(c->buses[0].max_gap, 8);
    p = &c->buses[1].params;
    assert_int_equal(p->baud, 9600);
    assert_int_equal(p->parity, 'N');
    assert_int_equal(p->data_bits, 8);
    assert_int_equal(p->stop_bits, 1);
    assert_int_equal(p->timeout_ms, 300);
    assert_int_equal(p->retries, 1);
    assert_int_equal(p->max_registers, 125);
    assert_int_equal(p->delay_ms, 5);
    assert_int_equal(c->buses[1].max_gap, 8);

    s = &c->sensors[0];
    assert_int_equal(s->unit_id, 1);
    assert_int_equal(s->table, TABLE_HOLDING);
    assert_int_equal(s->order, BO_ABCD);
    assert_true(s->scale == 1.0);
    assert_true(s->offset == 0.0);
    assert_string_equal(s->unit, "bar");
    assert_int_equal(s->interval_ms, 1000);
    assert_true(s->range_lo == -1.0 && s->range_hi == 1000.0);
    s = &c->sensors[1];
    assert_int_equal(s->order, BO_ABCDEFGH);
    assert_string_equal(s->unit, "NTU");
    assert_true(s->range_lo == 0.0 && s->range_hi == 4000.0);
    s = &c->sensors[2];
    assert_int_equal(s->order, BO_AB);
    assert_string_equal(s->unit, "pH");
    assert_true(s->range_lo == 0.0 && s->range_hi == 14.0);

    config_free(c);
    config_errors_release(&errs);
}

static void test_no_mqtt(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f,
                                 "site = \"s\";\n"
                                 "buses = ({ name = \"a\"; type = \"tcp\";"
                                 " host = \"h\"; });\n"
                                 "sensors = ({ id = \"S\"; kind = \"flow\";"
                                 " bus = \"a\"; address = 0;"
                                 " type = \"int16\"; });\n",
                                 &errs);

    print_errors(&errs);
    assert_non_null(c);
    assert_false(c->mqtt.enabled);
    /* A flow meter's default range is open above. */
    assert_true(c->sensors[0].range_lo == 0.0);
    assert_true(isinf(c->sensors[0].range_hi));
    config_free(c);
}

/* The shipped examples must load; tests run from the repository root. */
static void test_examples(void **state)
{
    static const char *const paths[] = {"config/tbdaq.conf",
                                        "config/demo.conf"};

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct config_errors errs = {0};
        struct config *c = config_load(paths[i], &errs);

        print_errors(&errs);
        assert_non_null(c);
        assert_int_equal(errs.n, 0);
        config_free(c);
    }
}

static void test_demo_contents(void **state)
{
    struct config_errors errs = {0};
    struct config *c = config_load("config/demo.conf", &errs);
    size_t fast = 0;
    unsigned kinds = 0;

    (void)state;
    assert_non_null(c);
    assert_string_equal(c->site, "demo");
    assert_string_equal(c->database, "demo/tbdaq.db");
    /* the demo publishes to its own broker, away from a system one */
    assert_true(c->mqtt.enabled);
    assert_string_equal(c->mqtt.host, "127.0.0.1");
    assert_int_equal(c->mqtt.port, 18830);
    assert_int_equal(c->nbuses, 1);
    assert_string_equal(c->buses[0].name, "sim");
    assert_int_equal(c->buses[0].params.type, BUS_TCP);
    assert_string_equal(c->buses[0].params.host, "127.0.0.1");
    assert_int_equal(c->buses[0].params.port, 5020);
    /* calm: a few sensors, none faster than 1 s, every kind shown */
    assert_in_range(c->nsensors, 4, 12);
    for (size_t i = 0; i < c->nsensors; i++) {
        fast += c->sensors[i].interval_ms < 1000;
        kinds |= 1u << c->sensors[i].kind;
    }
    assert_int_equal(fast, 0);
    assert_int_equal(kinds, 1u << KIND_FLOW | 1u << KIND_PRESSURE |
                                1u << KIND_TURBIDITY | 1u << KIND_PH |
                                1u << KIND_GENERIC);
    config_free(c);
}

static void test_not_found(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    char path[256], want[512];

    snprintf(path, sizeof(path), "%s/missing.conf", f->dir);
    snprintf(want, sizeof(want), "%s: cannot read: No such file or directory",
             path);
    assert_null(config_load(path, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0], want);
    config_errors_release(&errs);
    assert_int_equal(errs.n, 0);
    assert_null(errs.v);
}

/* A directory opens but cannot be read. */
static void test_directory(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    char want[512];

    snprintf(want, sizeof(want), "%s: cannot read: Is a directory", f->dir);
    assert_null(config_load(f->dir, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0], want);
    config_errors_release(&errs);
}

/* libconfig stops at a NUL; the hash would cover unparsed bytes. */
static void test_nul_byte(void **state)
{
    const struct fixture *f = *state;
    static const char text[] = "site = \"s\";\n# \0 hidden\n";
    struct config_errors errs = {0};
    char want[512];

    write_file(f->path, text, sizeof(text) - 1);
    snprintf(want, sizeof(want), "%s:2: file holds a NUL byte", f->path);
    assert_null(config_load(f->path, &errs));
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0], want);
    config_errors_release(&errs);
}

/* The config keeps the bytes of its file and of every file it includes,
 * at any depth, each name once, as the daemon stores them (issue 11). */
static void test_include_files(void **state)
{
    static const char buses[] = "buses = ({ name = \"a\"; type = \"tcp\";"
                                " host = \"h\"; });\n@include \"deep.inc\"\n";
    static const char deep[] = "# nothing but a comment\r\n";
    static const char sensors[] = "sensors = ({ id = \"S\"; kind = \"flow\";"
                                  " bus = \"a\"; address = 0;"
                                  " type = \"int16\"; });\n";
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c;
    char path[3][256], sha[SHA256_HEX_LEN];

    snprintf(path[0], sizeof(path[0]), "%s/buses.inc", f->dir);
    snprintf(path[1], sizeof(path[1]), "%s/deep.inc", f->dir);
    snprintf(path[2], sizeof(path[2]), "%s/sensors.inc", f->dir);
    write_file(path[0], buses, strlen(buses));
    write_file(path[1], deep, strlen(deep));
    write_file(path[2], sensors, strlen(sensors));
    c = load_text(f,
                  "site = \"s\";\n@include \"buses.inc\"\n"
                  "@include \"sensors.inc\"\n",
                  &errs);
    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->nfiles, 4);
    assert_string_equal(c->files[0].name, f->path);
    assert_string_equal(c->files[0].sha256, c->sha256);
    assert_string_equal(c->files[1].name, "buses.inc");
    assert_int_equal(c->files[1].len, strlen(buses));
    assert_memory_equal(c->files[1].bytes, buses, strlen(buses));
    assert_string_equal(c->files[2].name, "deep.inc");
    assert_memory_equal(c->files[2].bytes, deep, strlen(deep));
    sha256_hex(deep, strlen(deep), sha);
    assert_string_equal(c->files[2].sha256, sha);
    assert_string_equal(c->files[3].name, "sensors.inc");
    config_free(c);
    for (int i = 0; i < 3; i++)
        unlink(path[i]);
}

/* @include is relative to the config's directory; errors name the file. */
static void test_include(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c;
    char inc[256], want[512];

    snprintf(inc, sizeof(inc), "%s/sensors.inc", f->dir);
    write_file(inc,
               "sensors = ({ id = \"S\"; kind = \"flow\"; bus = \"a\";\n"
               "  address = 0; type = \"int16\"; });\n",
               strlen("sensors = ({ id = \"S\"; kind = \"flow\"; bus = "
                      "\"a\";\n  address = 0; type = \"int16\"; });\n"));
    c = load_text(f,
                  "site = \"s\";\n"
                  "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; });\n"
                  "@include \"sensors.inc\"\n",
                  &errs);
    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->nsensors, 1);
    assert_int_equal(c->sensors[0].line, 1);
    config_free(c);

    write_file(inc,
               "sensors = ({ id = \"S\"; kind = \"flw\"; bus = \"a\";\n"
               "  address = 0; type = \"int16\"; });\n",
               strlen("sensors = ({ id = \"S\"; kind = \"flw\"; bus = "
                      "\"a\";\n  address = 0; type = \"int16\"; });\n"));
    c = load_text(f,
                  "site = \"s\";\n"
                  "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; });\n"
                  "@include \"sensors.inc\"\n",
                  &errs);
    assert_null(c);
    snprintf(want, sizeof(want),
             "%s/sensors.inc:1: unknown kind 'flw' (use flow, pressure, "
             "turbidity, ph or generic)",
             f->dir);
    if (errs.n != 1)
        print_errors(&errs);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.v[0], want);
    config_errors_release(&errs);
    unlink(inc);
}

/* ---- broken configs ---- */

/* The lines of a small valid config, to break one at a time. */
#define SITE "site = \"t\";\n"
#define BUS(more)                                                              \
    "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; " more " });\n"
#define RTU(more)                                                              \
    "buses = ({ name = \"a\"; type = \"rtu\"; device = \"/dev/x\"; " more      \
    " });\n"
#define SENSOR(more)                                                           \
    "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\"; "                 \
    "type = \"int16\"; " more " });\n"
#define ADDR0 "address = 0;"
/* A sensor without a type, for the tables of bits and the type checks. */
#define NOTYPE(more)                                                           \
    "sensors = ({ id = \"S1\"; kind = \"generic\"; unit = \"u\";"              \
    " bus = \"a\"; " more " });\n"

struct bad_case {
    const char *name;
    const char *text;
    int line; /* 0: the message has no line */
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    {"syntax error", SITE "x = ;\n" BUS("") SENSOR(ADDR0), 2, "syntax error"},
    {"duplicate setting", SITE BUS("") SENSOR(ADDR0) "site = \"u\";\n", 4,
     "duplicate setting name"},
    {"unknown top-level key", SITE "foo = 1;\n" BUS("") SENSOR(ADDR0), 2,
     "unknown key 'foo'"},
    {"unknown sensor key", SITE BUS("") SENSOR(ADDR0 " adress = 1;"), 3,
     "unknown key 'adress' in sensor 'S1'"},
    {"misspelt required key", SITE BUS("") SENSOR("adress = 0;"), 3,
     "unknown key 'adress' in sensor 'S1' (did you mean 'address'?)"},
    {"misspelt short key",
     SITE "buses = ({ name = \"a\"; typ = \"tcp\";"
          " host = \"h\"; });\n" SENSOR(ADDR0),
     2, "unknown key 'typ' in bus 'a' (did you mean 'type'?)"},
    {"misspelt key of the other transport",
     SITE RTU("prot = 502;") SENSOR(ADDR0), 2,
     "unknown key 'prot' in bus 'a' (did you mean 'port'?)"},
    {"unknown bus key", SITE BUS("hots = \"x\";") SENSOR(ADDR0), 2,
     "unknown key 'hots' in bus 'a'"},
    {"unknown mqtt key",
     SITE "mqtt = { hostname = \"x\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "unknown key 'hostname' in mqtt"},
    {"unknown tls key",
     SITE "mqtt = { tls = { ca = \"x\"; ca_file = \"y\"; }; };\n" BUS("")
         SENSOR(ADDR0),
     2, "unknown key 'ca' in mqtt.tls"},
    {"unknown calibration key",
     SITE BUS("") SENSOR(ADDR0 " calibration = { when = 1; };"), 3,
     "unknown key 'when' in calibration of sensor 'S1'"},
    {"string for int", SITE BUS("") SENSOR(ADDR0 " interval_ms = \"100\";"), 3,
     "'interval_ms' in sensor 'S1' must be an integer, not a string"},
    {"float for int", SITE BUS("port = 502.0;") SENSOR(ADDR0), 2,
     "'port' in bus 'a' must be an integer, not a float"},
    {"int for string", "site = 5;\n" BUS("") SENSOR(ADDR0), 1,
     "'site' must be a string, not an integer"},
    {"string for float", SITE BUS("") SENSOR(ADDR0 " scale = \"2\";"), 3,
     "'scale' in sensor 'S1' must be a number, not a string"},
    {"int for bool", SITE "mqtt = { retain = 1; };\n" BUS("") SENSOR(ADDR0), 2,
     "'retain' in mqtt must be true or false, not an integer"},
    {"group for list", SITE "buses = { name = \"a\"; };\n" SENSOR(ADDR0), 2,
     "'buses' must be a list ( ... ), not a group"},
    {"list entry not a group", SITE "buses = ( 1 );\n" SENSOR(ADDR0), 2,
     "bus 1 must be a group { ... }, not an integer"},
    {"missing site", BUS("") SENSOR(ADDR0), 0, "missing 'site'"},
    {"bad site chars", "site = \"a b\";\n" BUS("") SENSOR(ADDR0), 1,
     "site 'a b' may only hold letters, digits, '_' and '-'"},
    /* A site names topics and files: a bus or sensor name may hold '.',
     * a site may not. */
    {"site with a dot", "site = \"a.b\";\n" BUS("") SENSOR(ADDR0), 1,
     "site 'a.b' may only hold letters, digits, '_' and '-'"},
    {"bad bus name",
     SITE "buses = ({ name = \"a/b\"; type = \"tcp\"; host = \"h\"; });\n"
          "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a/b\";"
          " type = \"int16\"; address = 0; });\n",
     2, "bus name 'a/b' may only hold letters, digits, '_', '.' and '-'"},
    {"site too long",
     "site = \"0123456789012345678901234567890123456789012345678901234567890123"
     "4\";\n" BUS("") SENSOR(ADDR0),
     1, "'site' must be 1..64 bytes, not 65"},
    {"empty site", "site = \"\";\n" BUS("") SENSOR(ADDR0), 1,
     "'site' must not be empty"},
    {"missing buses", SITE SENSOR(ADDR0), 0, "missing 'buses'"},
    {"missing sensors", SITE BUS(""), 0, "missing 'sensors'"},
    {"empty buses", SITE "buses = ();\n" SENSOR(ADDR0), 2,
     "'buses' must not be empty"},
    {"empty sensors", SITE BUS("") "sensors = ();\n", 3,
     "'sensors' must not be empty"},
    {"duplicate sensor id",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"int16\"; },\n"
                  "  { id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 1; type = \"int16\"; });\n",
     4, "duplicate sensor 'S1' (first at line 3)"},
    {"duplicate bus name",
     SITE "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; },\n"
          "  { name = \"a\"; type = \"tcp\"; host = \"i\"; });\n" SENSOR(ADDR0),
     3, "duplicate bus 'a' (first at line 2)"},
    {"two rtu buses on one device",
     SITE "buses = ({ name = \"a\"; type = \"rtu\"; device = \"/dev/x\"; },\n"
          "  { name = \"b\"; type = \"rtu\"; device = \"/dev/x\"; });\n" SENSOR(
              ADDR0),
     3, "buses 'a' and 'b' both use device '/dev/x'"},
    {"unknown bus",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\";\n"
                  "  bus = \"plant-b\"; address = 0; type = \"int16\"; });\n",
     4, "unknown bus 'plant-b'"},
    {"unknown bus type",
     SITE "buses = ({ name = \"a\"; type = \"udp\"; });\n" SENSOR(ADDR0), 2,
     "unknown bus type 'udp' (use tcp, rtu or rtu-over-tcp)"},
    {"missing tcp host",
     SITE "buses = ({ name = \"a\"; type = \"tcp\"; });\n" SENSOR(ADDR0), 2,
     "missing 'host' in bus 'a'"},
    {"missing sensor address", SITE BUS("") SENSOR(""), 3,
     "missing 'address' in sensor 'S1'"},
    {"unknown kind",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flw\"; bus = \"a\";"
                  " address = 0; type = \"int16\"; });\n",
     3, "unknown kind 'flw' (use flow, pressure, turbidity, ph or generic)"},
    {"unknown type",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"float16\"; });\n",
     3,
     "unknown type 'float16' (use int16, uint16, int32, uint32, int64, "
     "uint64, float32, float64 or bool)"},
    {"unknown table", SITE BUS("") SENSOR(ADDR0 " table = \"coils\";"), 3,
     "unknown table 'coils' (use holding, input, coil or discrete)"},
    /* Issue 14: coils, discrete inputs, bits and 64-bit types. */
    {"a register type on a coil",
     SITE BUS("") SENSOR(ADDR0 " table = \"coil\";"), 3,
     "type 'int16' does not fit table 'coil': coils and discrete inputs are "
     "bool (the default)"},
    {"bool on a holding register",
     SITE BUS("") NOTYPE(ADDR0 " type = \"bool\";"), 3,
     "type 'bool' is for coils and discrete inputs, not table 'holding' (one "
     "bit of a register: type uint16 and 'bit')"},
    {"no type on a register", SITE BUS("") NOTYPE(ADDR0), 3,
     "missing 'type' in sensor 'S1'"},
    {"no type on an input register",
     SITE BUS("") NOTYPE(ADDR0 " table = \"input\";"), 3,
     "missing 'type' in sensor 'S1'"},
    {"scale on a coil",
     SITE BUS("") NOTYPE(ADDR0 " table = \"coil\"; scale = 2;"), 3,
     "'scale' in sensor 'S1' does not go with type bool (the value is 0 or 1)"},
    {"a neutral scale on a discrete input",
     SITE BUS("") NOTYPE(ADDR0 " table = \"discrete\"; type = \"bool\";"
                               " scale = 1.0;"),
     3,
     "'scale' in sensor 'S1' does not go with type bool (the value is 0 or 1)"},
    {"a neutral offset with bit",
     SITE BUS("") SENSOR(ADDR0 " bit = 3; offset = 0.0;"), 3,
     "'offset' in sensor 'S1' does not go with 'bit' (the value is 0 or 1)"},
    {"bit of a float32",
     SITE BUS("") NOTYPE(ADDR0 " type = \"float32\"; bit = 1;"), 3,
     "'bit' in sensor 'S1' needs type int16 or uint16, not float32"},
    {"bit of a coil", SITE BUS("") NOTYPE(ADDR0 " table = \"coil\"; bit = 0;"),
     3, "'bit' in sensor 'S1' needs type int16 or uint16, not bool"},
    {"bit 16", SITE BUS("") SENSOR(ADDR0 " bit = 16;"), 3,
     "'bit' in sensor 'S1' must be 0..15, not 16"},
    {"bit -1", SITE BUS("") SENSOR(ADDR0 " bit = -1;"), 3,
     "'bit' in sensor 'S1' must be 0..15, not -1"},
    {"byte order of a discrete input",
     SITE BUS("") NOTYPE(ADDR0 " table = \"discrete\"; byte_order = \"AB\";"),
     3,
     "'byte_order' in sensor 'S1' does not go with type bool (one bit has no "
     "byte order)"},
    {"a bit and a whole register of another type",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"generic\"; unit = \"b\";"
                  " bus = \"a\"; address = 20; type = \"uint16\"; bit = 3; },\n"
                  "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                  " address = 20; type = \"int16\"; });\n",
     4,
     "sensor 'S2' (holding int16 20..20) overlaps sensor 'S1' (holding "
     "uint16 20..20) on bus 'a' unit 1"},
    {"int64 past 65535",
     SITE BUS("") NOTYPE("address = 65533; type = \"int64\";"), 3,
     "sensor 'S1' at address 65533 runs past register 65535"},
    {"32-bit byte order for uint64",
     SITE BUS("") NOTYPE(ADDR0 " type = \"uint64\"; byte_order = \"cdab\";"), 3,
     "byte order 'cdab' does not fit uint64 (use ABCDEFGH, GHEFCDAB, "
     "BADCFEHG or HGFEDCBA)"},
    {"unknown byte order in lower case",
     SITE BUS("") NOTYPE(ADDR0 " type = \"float32\"; byte_order = \"abdc\";"),
     3, "unknown byte order 'abdc' (use ABCD, CDAB, BADC or DCBA for float32)"},
    /* libconfig's own errors, with their obvious cause. */
    {"integer and float in a range array",
     SITE BUS("") SENSOR(ADDR0 "\n range = [-1, 10.0];"), 4,
     "mismatched element type in array: integers and floats cannot be mixed "
     "in one array: write them all as floats (-1.0, not -1)"},
    {"float then integer in an array",
     SITE BUS("") SENSOR(ADDR0 " range = [0.5,\n 12];"), 4,
     "mismatched element type in array: integers and floats cannot be mixed "
     "in one array: write them all as floats (12.0, not 12)"},
    {"an integer and a string in an array stay libconfig's",
     SITE BUS("") SENSOR(ADDR0 " range = [1, \"2\"];"), 3,
     "mismatched element type in array"},
    {"no comma between two sensors",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"int16\"; }\n"
                  "  # the next one\n"
                  "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                  " address = 1; type = \"int16\"; });\n",
     5,
     "syntax error: missing ',' before this group: the group before it ends "
     "at line 3, and the entries of a list are separated by commas"},
    {"no comma between two buses on one line",
     SITE "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; }"
          " { name = \"b\"; type = \"tcp\"; host = \"h\"; });\n" SENSOR(ADDR0),
     2,
     "syntax error: missing ',' before this group: the group before it ends "
     "at line 2, and the entries of a list are separated by commas"},
    /* the explaining lexer stops at the NUL after a name at the very end
     * (found by tests/fuzz/fuzz_config; the sanitizer build sees it) */
    {"a name at the very end of the file", SITE BUS("") SENSOR(ADDR0) "xyz", 4,
     "syntax error"},
    {"two groups at the top stay libconfig's",
     SITE "g = { a = 1; }\n{ b = 2; }\n" BUS("") SENSOR(ADDR0), 3,
     "syntax error"},
    {"wrong-width byte order",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"float32\"; byte_order = \"BA\"; "
                  "});\n",
     3, "byte order 'BA' does not fit float32 (use ABCD, CDAB, BADC or DCBA)"},
    {"unknown byte order",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"float64\"; byte_order = \"ABDC\"; "
                  "});\n",
     3,
     "unknown byte order 'ABDC' (use ABCDEFGH, GHEFCDAB, BADCFEHG or "
     "HGFEDCBA for float64)"},
    {"address out of range", SITE BUS("") SENSOR("address = 70000;"), 3,
     "'address' in sensor 'S1' must be 0..65535, not 70000"},
    {"negative address", SITE BUS("") SENSOR("address = -1;"), 3,
     "'address' in sensor 'S1' must be 0..65535, not -1"},
    {"address + width past 65535",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 65533; type = \"float64\"; });\n",
     3, "sensor 'S1' at address 65533 runs past register 65535"},
    {"overlapping registers",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 10; type = \"float32\"; },\n"
                  "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                  " address = 11; type = \"int16\"; });\n",
     4,
     "sensor 'S2' (holding int16 11..11) overlaps sensor 'S1' (holding "
     "float32 10..11) on bus 'a' unit 1"},
    {"same address, other type",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 10; type = \"float32\"; },\n"
                  "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                  " address = 10; type = \"int32\"; });\n",
     4,
     "sensor 'S2' (holding int32 10..11) overlaps sensor 'S1' (holding "
     "float32 10..11) on bus 'a' unit 1"},
    {"overlap found from the later-listed sensor",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " address = 12; type = \"int16\"; },\n"
                  "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                  " address = 9; type = \"float64\"; });\n",
     4,
     "sensor 'S2' (holding float64 9..12) overlaps sensor 'S1' (holding "
     "int16 12..12) on bus 'a' unit 1"},
    {"interval_ms below 10", SITE BUS("") SENSOR(ADDR0 " interval_ms = 5;"), 3,
     "'interval_ms' in sensor 'S1' must be 10..86400000, not 5"},
    {"max_registers 0", SITE BUS("max_registers = 0;") SENSOR(ADDR0), 2,
     "'max_registers' in bus 'a' must be 1..125, not 0"},
    {"max_registers 126", SITE BUS("max_registers = 126;") SENSOR(ADDR0), 2,
     "'max_registers' in bus 'a' must be 1..125, not 126"},
    {"max_gap 125", SITE BUS("max_gap = 125;") SENSOR(ADDR0), 2,
     "'max_gap' in bus 'a' must be 0..124, not 125"},
    {"scale 0", SITE BUS("") SENSOR(ADDR0 " scale = 0.0;"), 3,
     "'scale' in sensor 'S1' must not be 0"},
    {"generic without unit",
     SITE BUS("") "sensors = ({ id = \"S1\"; kind = \"generic\";"
                  " bus = \"a\"; address = 0; type = \"int16\"; });\n",
     3, "missing 'unit' in sensor 'S1' (a generic sensor must name its unit)"},
    {"unit with a quote", SITE BUS("") SENSOR(ADDR0 " unit = \"m\\\"3\";"), 3,
     "unit in sensor 'S1' must be UTF-8 without control characters, '\"' or "
     "'\\'"},
    {"unit not UTF-8", SITE BUS("") SENSOR(ADDR0 " unit = \"\xb5S\";"), 3,
     "unit in sensor 'S1' must be UTF-8 without control characters, '\"' or "
     "'\\'"},
    {"unit too long",
     SITE BUS("")
         SENSOR(ADDR0 " unit = \"012345678901234567890123456789012\";"),
     3, "'unit' in sensor 'S1' must be 1..32 bytes, not 33"},
    {"range low >= high", SITE BUS("") SENSOR(ADDR0 " range = [5.0, 5.0];"), 3,
     "'range' in sensor 'S1' must have low < high, not [5, 5]"},
    {"range of 3", SITE BUS("") SENSOR(ADDR0 " range = [1, 2, 3];"), 3,
     "'range' in sensor 'S1' must be 2 numbers, not 3"},
    {"range of strings", SITE BUS("") SENSOR(ADDR0 " range = (\"a\", 1);"), 3,
     "'range' in sensor 'S1' must be 2 finite numbers"},
    {"range not a pair", SITE BUS("") SENSOR(ADDR0 " range = 5;"), 3,
     "'range' in sensor 'S1' must be [low, high], not an integer"},
    {"bad calibration date",
     SITE BUS("") SENSOR(ADDR0 " calibration = { date = \"2026-02-29\"; };"), 3,
     "calibration date '2026-02-29' is not a valid date (YYYY-MM-DD)"},
    {"february 30 in a leap year",
     SITE BUS("") SENSOR(ADDR0 " calibration = { date = \"2024-02-30\"; };"), 3,
     "calibration date '2024-02-30' is not a valid date (YYYY-MM-DD)"},
    {"2100 is not a leap year",
     SITE BUS("") SENSOR(ADDR0 " calibration = { date = \"2100-02-29\"; };"), 3,
     "calibration date '2100-02-29' is not a valid date (YYYY-MM-DD)"},
    {"month 13",
     SITE BUS("") SENSOR(ADDR0 " calibration = { date = \"2026-13-01\"; };"), 3,
     "calibration date '2026-13-01' is not a valid date (YYYY-MM-DD)"},
    {"calibration date not a date",
     SITE BUS("") SENSOR(ADDR0 " calibration = { due = \"1/2/2026\"; };"), 3,
     "calibration due '1/2/2026' is not a valid date (YYYY-MM-DD)"},
    {"due before date",
     SITE BUS("") SENSOR(ADDR0 " calibration = { date = \"2026-10-01\";"
                               " due = \"2026-09-30\"; };"),
     3, "calibration due '2026-09-30' is before its date '2026-10-01'"},
    {"certificate not printable",
     SITE BUS("") SENSOR(ADDR0 " calibration = { certificate = \"a\\tb\"; };"),
     3, "certificate 'a\tb' must be printable ASCII"},
    {"rtu key on tcp bus", SITE BUS("baud = 9600;") SENSOR(ADDR0), 2,
     "'baud' is for rtu buses, but bus 'a' is tcp"},
    {"tcp key on rtu bus", SITE RTU("port = 502;") SENSOR(ADDR0), 2,
     "'port' is for tcp and rtu-over-tcp buses, but bus 'a' is rtu"},
    {"rtu unit_id 0", SITE RTU("") SENSOR(ADDR0 " unit_id = 0;"), 3,
     "unit_id 0 in sensor 'S1' is broadcast on rtu bus 'a' (use 1..247)"},
    {"unit_id 248", SITE BUS("") SENSOR(ADDR0 " unit_id = 248;"), 3,
     "'unit_id' in sensor 'S1' must be 0..247, not 248"},
    {"bad parity", SITE RTU("parity = \"mark\";") SENSOR(ADDR0), 2,
     "unknown parity 'mark' (use none, even or odd)"},
    {"bad baud", SITE RTU("baud = 14400;") SENSOR(ADDR0), 2,
     "baud 14400 is not one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, "
     "115200 or 230400"},
    {"data_bits 9", SITE RTU("data_bits = 9;") SENSOR(ADDR0), 2,
     "'data_bits' in bus 'a' must be 7..8, not 9"},
    {"bad layout",
     SITE "mqtt = { layout = \"sensor\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "unknown layout 'sensor' in mqtt (use reading or device)"},
    {"bad log level", "log_level = \"verbose\";\n" SITE BUS("") SENSOR(ADDR0),
     1, "unknown log level 'verbose' (use error, warning, info or debug)"},
    {"commit interval 0",
     "commit_interval_ms = 0;\n" SITE BUS("") SENSOR(ADDR0), 1,
     "'commit_interval_ms' must be 10..60000, not 0"},
    {"buffer too small", "buffer_readings = 99;\n" SITE BUS("") SENSOR(ADDR0),
     1, "'buffer_readings' must be 100..100000000, not 99"},
    {"mqtt password_file without username",
     SITE "mqtt = { password_file = \"/p\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "'password_file' in mqtt needs 'username'"},
    {"mqtt qos 3", SITE "mqtt = { qos = 3; };\n" BUS("") SENSOR(ADDR0), 2,
     "'qos' in mqtt must be 0..2, not 3"},
    {"mqtt port 0", SITE "mqtt = { port = 0; };\n" BUS("") SENSOR(ADDR0), 2,
     "'port' in mqtt must be 1..65535, not 0"},
    {"topic_prefix with '#'",
     SITE "mqtt = { topic_prefix = \"a/#\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "topic_prefix 'a/#' must not hold '+' or '#'"},
    {"topic_prefix with '//'",
     SITE "mqtt = { topic_prefix = \"a//b\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "topic_prefix 'a//b' must not hold an empty level ('//')"},
    {"topic_prefix ending in '/'",
     SITE "mqtt = { topic_prefix = \"a/\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "topic_prefix 'a/' must not start or end with '/'"},
    {"topic_prefix with a control character",
     SITE "mqtt = { topic_prefix = \"a\\tb\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "topic_prefix 'a\tb' must be UTF-8 without control characters"},
    {"topic_prefix not UTF-8",
     SITE "mqtt = { topic_prefix = \"a\xc0\xaf"
          "b\"; };\n" BUS("") SENSOR(ADDR0),
     2,
     "topic_prefix 'a\xc0\xaf"
     "b' must be UTF-8 without control characters"},
    {"client_id not ASCII",
     SITE "mqtt = { client_id = \"d\xc3\xa9j\xc3\xa0\"; };\n" BUS("")
         SENSOR(ADDR0),
     2, "client_id 'd\xc3\xa9j\xc3\xa0' must be printable ASCII"},
    {"client_id not printable",
     SITE "mqtt = { client_id = \"a\\nb\"; };\n" BUS("") SENSOR(ADDR0), 2,
     "client_id 'a\nb' must be printable ASCII"},
    {"tls cert without key",
     SITE "mqtt = { tls = { cert_file = \"/c\"; }; };\n" BUS("") SENSOR(ADDR0),
     2, "'cert_file' in mqtt.tls needs 'key_file'"},
    {"tls key without cert",
     SITE "mqtt = { tls = { ca_file = \"/a\"; key_file = \"/k\"; }; };\n" BUS(
         "") SENSOR(ADDR0),
     2, "'key_file' in mqtt.tls needs 'cert_file'"},
    {"tls empty", SITE "mqtt = { tls = { }; };\n" BUS("") SENSOR(ADDR0), 2,
     "mqtt.tls needs 'ca_file' or 'cert_file'"},
    {"bad sensor id",
     SITE BUS("") "sensors = ({ id = \"S 1\"; kind = \"flow\";"
                  " bus = \"a\"; address = 0;"
                  " type = \"int16\"; });\n",
     3, "sensor id 'S 1' may only hold letters, digits, '_', '.' and '-'"},
    {"missing id",
     SITE BUS("") "sensors = ({ kind = \"flow\"; bus = \"a\";"
                  " address = 0; type = \"int16\"; });\n",
     3, "missing 'id' in sensor 1"},
    {"integer past 32 bits", SITE BUS("port = 4294967798;") SENSOR(ADDR0), 2,
     "integer '4294967798' is out of range"},
    {"negative integer past 32 bits",
     SITE BUS("") "# 99999999999 in a comment is fine\n"
                  "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                  " type = \"int16\"; address = -2147483649; });\n",
     4, "integer '-2147483649' is out of range"},
    {"hex integer past 31 bits", SITE BUS("port = 0x100000000;") SENSOR(ADDR0),
     2, "integer '0x100000000' is out of range"},
    {"int64 literal judged by its bounds",
     SITE BUS("port = 4294967798L;") SENSOR(ADDR0), 2,
     "'port' in bus 'a' must be 1..65535, not 4294967798"},
    {"infinite scale", SITE BUS("") SENSOR(ADDR0 " scale = 1e400;"), 3,
     "'scale' in sensor 'S1' must be finite"},
};

static void test_bad(void **state)
{
    const struct fixture *f = *state;
    size_t failed = 0;

    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *bc = &bad_cases[i];
        struct config_errors errs = {0};
        struct config *c = load_text(f, bc->text, &errs);
        char want[1024];

        if (bc->line > 0)
            snprintf(want, sizeof(want), "%s:%d: %s", f->path, bc->line,
                     bc->msg);
        else
            snprintf(want, sizeof(want), "%s: %s", f->path, bc->msg);
        if (c || errs.n != 1 || strcmp(errs.v[0], want) != 0) {
            print_message("case '%s':\n  want: %s\n", bc->name, want);
            print_errors(&errs);
            failed++;
        }
        config_free(c);
        config_errors_release(&errs);
    }
    assert_int_equal(failed, 0);
}

/* ---- integers in included files ---- */

/* A file an include case writes beside the config; text NULL makes a
 * directory of that name instead. */
struct inc_file {
    const char *name; /* relative to the config's directory */
    const char *text;
    size_t len; /* 0: strlen(text) */
};

/* The files "sub/" may hold; the directory is made for every case. */
#define INC_SUBDIR "sub"
#define INC_FILES_MAX 3

struct inc_case {
    const char *name;
    const char *text; /* the config itself */
    struct inc_file files[INC_FILES_MAX];
    const char *file; /* the file of the one error; NULL: the config */
    int line;         /* 0: the config loads */
    const char *msg;
};

#define INC(file) "@include \"" file "\"\n"
/* A sensor of four lines, to be completed with its address's line. */
#define INC_SENSOR                                                             \
    "# 4294967396 in a comment\n"                                              \
    "sensors = ({ id = \"S1\"; kind = \"generic\";\n"                          \
    "  unit = \"4294967396 /* not a comment */\"; bus = \"a\";\n"              \
    "  type = \"int16\"; // 4294967396\n"

static const struct inc_case inc_cases[] = {
    {"wrapped integer in an included file",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 4294967396; });\n", 0}},
     "inc.conf",
     5,
     "integer '4294967396' is out of range"},
    {"comments and strings with digits in an included file",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 100; });\n", 0}},
     NULL,
     0,
     NULL},
    /* Nested: every include is relative to the config's directory. */
    {"wrapped integer two includes deep",
     SITE INC("sub/a.conf") SENSOR(ADDR0),
     {{"sub/a.conf", "# buses\n" INC("sub/b.conf"), 0},
      {"sub/b.conf",
       "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\";\n"
       "  port = 502; timeout_ms = 500;\n"
       "  retries = 4294967297; });\n",
       0}},
     "sub/b.conf",
     3,
     "integer '4294967297' is out of range"},
    {"wrapped integer after a nested include",
     SITE BUS("") INC("sub/a.conf") "  address = 0; });\n",
     {{"sub/a.conf", INC("sub/b.conf") "  interval_ms = 4294967396;\n", 0},
      {"sub/b.conf", INC_SENSOR, 0}},
     "sub/a.conf",
     2,
     "integer '4294967396' is out of range"},
    {"the 32-bit bound: 2147483647 is an int",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 2147483647; });\n", 0}},
     "inc.conf",
     5,
     "'address' in sensor 'S1' must be 0..65535, not 2147483647"},
    {"the 32-bit bound: 2147483648 wraps",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 2147483648; });\n", 0}},
     "inc.conf",
     5,
     "integer '2147483648' is out of range"},
    {"the negative bound: -2147483648 is an int",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = -2147483648; });\n", 0}},
     "inc.conf",
     5,
     "'address' in sensor 'S1' must be 0..65535, not -2147483648"},
    {"the negative bound: -2147483649 wraps",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = -2147483649; });\n", 0}},
     "inc.conf",
     5,
     "integer '-2147483649' is out of range"},
    {"hex past 31 bits in an included file",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 0x100000064; });\n", 0}},
     "inc.conf",
     5,
     "integer '0x100000064' is out of range"},
    {"the 64-bit bound: 9223372036854775807L is an int64",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 9223372036854775807L; });\n", 0}},
     "inc.conf",
     5,
     "'address' in sensor 'S1' must be 0..65535, not 9223372036854775807"},
    {"the 64-bit bound: 9223372036854775808L saturates",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 9223372036854775808L; });\n", 0}},
     "inc.conf",
     5,
     "integer '9223372036854775808L' is out of range"},
    {"the 64-bit bound without L",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 18446744073709551716; });\n", 0}},
     "inc.conf",
     5,
     "integer '18446744073709551716' is out of range"},
    {"the negative 64-bit bound",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = -9223372036854775809L; });\n", 0}},
     "inc.conf",
     5,
     "integer '-9223372036854775809L' is out of range"},
    {"hex int64 past 63 bits wraps negative",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", INC_SENSOR "  address = 0xFFFFFFFFFFFFFF9CL; });\n", 0}},
     "inc.conf",
     5,
     "integer '0xFFFFFFFFFFFFFF9CL' is out of range"},
    /* libconfig's scanner carries an open string or comment out of an
     * included file into the config: so must the check. */
    {"a string opened in an included file goes on in the config",
     SITE BUS("") "@include \"inc.conf\"S1\"; kind = \"flow\"; bus = \"a\";"
                  " type = \"int16\"; address = 4294967396; });\n",
     {{"inc.conf", "sensors = ({ id = \"", 0}},
     NULL,
     3,
     "integer '4294967396' is out of range"},
    {"a comment opened in an included file goes on in the config",
     SITE BUS("") INC("inc.conf") "  4294967396 */\n" SENSOR(ADDR0),
     {{"inc.conf", "# the config closes this\n/*\n", 0}},
     NULL,
     0,
     NULL},
    {"@include inside a comment is not followed",
     SITE BUS("") "/*\n" INC("inc.conf") "*/\n" SENSOR(ADDR0),
     {{"inc.conf", "x = 4294967396;\n", 0}},
     NULL,
     0,
     NULL},
    {"a NUL in an included file",
     SITE BUS("") INC("inc.conf"),
     {{"inc.conf", "# \0 4294967396\n" SENSOR(ADDR0),
       sizeof("# \0 4294967396\n" SENSOR(ADDR0)) - 1}},
     "inc.conf",
     1,
     "file holds a NUL byte"},
    /* libconfig's scanner would exit the process on a directory. */
    {"an included directory",
     SITE BUS("") SENSOR(ADDR0) INC("sub"),
     {{NULL, NULL, 0}},
     NULL,
     4,
     "cannot include 'sub': not a regular file"},
    /* The scan stops where libconfig does, and libconfig says why; it
     * reads no file libconfig does not (twice per level: 2^10 files). */
    {"an include of itself",
     SITE BUS("") SENSOR(ADDR0) INC("sub/self.conf"),
     {{"sub/self.conf",
       INC("sub/self.conf") INC("sub/self.conf") "x = 4294967396;\n", 0}},
     "sub/self.conf",
     1,
     "include file nesting too deep"},
};

static void inc_case_files(const struct fixture *f, const struct inc_case *ic,
                           bool make)
{
    char path[256];

    for (size_t k = INC_FILES_MAX; k-- > 0;) {
        const struct inc_file *x = &ic->files[k];

        if (!x->name)
            continue;
        snprintf(path, sizeof(path), "%s/%s", f->dir, x->name);
        if (make && x->text)
            write_file(path, x->text, x->len ? x->len : strlen(x->text));
        else if (make)
            assert_int_equal(mkdir(path, 0700), 0);
        else if (x->text)
            unlink(path);
        else
            rmdir(path);
    }
}

/*
 * libconfig 1.5 wraps an out-of-range integer silently, in the config and
 * in every file it includes, however deep: each must be refused, naming
 * the included file as its @include does.
 */
static void test_include_integers(void **state)
{
    const struct fixture *f = *state;
    char sub[128];
    size_t failed = 0;

    snprintf(sub, sizeof(sub), "%s/" INC_SUBDIR, f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    for (size_t i = 0; i < sizeof(inc_cases) / sizeof(inc_cases[0]); i++) {
        const struct inc_case *ic = &inc_cases[i];
        struct config_errors errs = {0};
        struct config *c;
        char want[1024];

        inc_case_files(f, ic, true);
        c = load_text(f, ic->text, &errs);
        if (ic->file)
            snprintf(want, sizeof(want), "%s/%s:%d: %s", f->dir, ic->file,
                     ic->line, ic->msg);
        else if (ic->line)
            snprintf(want, sizeof(want), "%s:%d: %s", f->path, ic->line,
                     ic->msg);
        if (ic->line ? (c || errs.n != 1 || strcmp(errs.v[0], want) != 0)
                     : (!c || errs.n != 0)) {
            print_message("case '%s':\n  want: %s\n", ic->name,
                          ic->line ? want : "(loads)");
            print_errors(&errs);
            failed++;
        }
        config_free(c);
        config_errors_release(&errs);
        inc_case_files(f, ic, false);
    }
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(failed, 0);
}

/* ---- issue 14: coils, discrete inputs, bits, 64-bit types ---- */

static const char bits_text[] =
    "site = \"t\";\n"                                              /* 1 */
    "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; });\n" /* 2 */
    "sensors = (\n"                                                /* 3 */
    "  { id = \"RUN\"; kind = \"generic\"; unit = \"on\"; bus = \"a\";\n"
    "    table = \"coil\"; address = 5; },\n" /* 5 */
    "  { id = \"TRIP\"; kind = \"generic\"; unit = \"on\"; bus = \"a\";\n"
    "    table = \"discrete\"; address = 65535; type = \"bool\"; },\n" /* 7 */
    "  { id = \"RUN2\"; kind = \"generic\"; unit = \"on\"; bus = \"a\";\n"
    "    table = \"coil\"; address = 5; interval_ms = 100; },\n" /* 9 */
    "  { id = \"AL3\"; kind = \"generic\"; unit = \"bit\"; bus = \"a\";\n"
    "    address = 20; type = \"uint16\"; bit = 3;"
    " byte_order = \"ba\"; },\n" /* 11 */
    "  { id = \"AL15\"; kind = \"generic\"; unit = \"bit\"; bus = \"a\";\n"
    "    address = 20; type = \"uint16\"; bit = 15; },\n" /* 13 */
    "  { id = \"STATUS\"; kind = \"generic\"; unit = \"-\"; bus = \"a\";\n"
    "    address = 20; type = \"uint16\"; scale = 2; },\n" /* 15 */
    "  { id = \"FQ\"; kind = \"generic\"; unit = \"m3\"; bus = \"a\";\n"
    "    address = 200; type = \"uint64\"; byte_order = \"ghefcdab\";"
    " scale = 0.001; },\n" /* 17 */
    "  { id = \"CNT\"; kind = \"generic\"; unit = \"1\"; bus = \"a\";\n"
    "    table = \"input\"; address = 65532; type = \"int64\";"
    " byte_order = \"HgFeDcBa\"; }\n" /* 19 */
    ");\n";

/* Every new table, type and key, valid together: bit sensors and the whole
 * register share address 20, two coils the same bit; byte orders in any
 * letter case. */
static void test_bits(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f, bits_text, &errs);
    const struct sensor_conf *s;

    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->nsensors, 8);
    assert_int_equal(c->nwarnings, 0);
    s = &c->sensors[0];
    assert_int_equal(s->table, TABLE_COIL);
    assert_int_equal(s->type, REG_BOOL);
    assert_int_equal(s->address, 5);
    assert_false(s->has_bit);
    assert_true(s->scale == 1.0 && s->offset == 0.0);
    s = &c->sensors[1];
    assert_int_equal(s->table, TABLE_DISCRETE);
    assert_int_equal(s->type, REG_BOOL);
    assert_int_equal(s->address, 65535);
    s = &c->sensors[3];
    assert_int_equal(s->table, TABLE_HOLDING);
    assert_int_equal(s->type, REG_UINT16);
    assert_true(s->has_bit);
    assert_int_equal(s->bit, 3);
    assert_int_equal(s->order, BO_BA);
    s = &c->sensors[4];
    assert_true(s->has_bit);
    assert_int_equal(s->bit, 15);
    assert_int_equal(s->order, BO_AB);
    s = &c->sensors[5];
    assert_false(s->has_bit);
    assert_int_equal(s->bit, 0);
    assert_true(s->scale == 2.0);
    s = &c->sensors[6];
    assert_int_equal(s->type, REG_UINT64);
    assert_int_equal(s->order, BO_GHEFCDAB);
    assert_true(s->scale == 0.001);
    s = &c->sensors[7];
    assert_int_equal(s->table, TABLE_INPUT);
    assert_int_equal(s->type, REG_INT64);
    assert_int_equal(s->order, BO_HGFEDCBA);
    config_free(c);
}

/* One commissioning warning case: a valid config and what it warns of. */
struct warn_case {
    const char *name;
    const char *text;
    size_t n;
    struct {
        int line;
        const char *msg;
    } want[3];
};

#define TCP_OK BUS("")
#define AT(addr) SENSOR("address = " addr ";")

static const struct warn_case warn_cases[] = {
    {"none", SITE TCP_OK AT("20"), 0, {{0, NULL}}},
    {"40001 is holding register 1",
     SITE TCP_OK AT("40001"),
     1,
     {{3, "address 40001 in sensor 'S1' looks like register-number notation "
          "(one off, with the table's prefix: 4xxxx is holding register 1 "
          "counted from 1): if so, use address = 0"}}},
    {"49999, the last of the holding notation",
     SITE TCP_OK AT("49999"),
     1,
     {{3, "address 49999 in sensor 'S1' looks like register-number notation "
          "(one off, with the table's prefix: 4xxxx is holding register 9999 "
          "counted from 1): if so, use address = 9998"}}},
    {"30017 on a holding sensor suggests the input table",
     SITE TCP_OK AT("30017"),
     1,
     {{3, "address 30017 in sensor 'S1' looks like register-number notation "
          "(one off, with the table's prefix: 3xxxx is input register 17 "
          "counted from 1): if so, use address = 16 and table = \"input\""}}},
    {"39999 on an input sensor",
     SITE TCP_OK SENSOR("table = \"input\";\n address = 39999;"),
     1,
     {{4, "address 39999 in sensor 'S1' looks like register-number notation "
          "(one off, with the table's prefix: 3xxxx is input register 9999 "
          "counted from 1): if so, use address = 9998"}}},
    {"30000, 40000 and 50000 are plain addresses",
     SITE TCP_OK "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"
                 " type = \"int16\"; address = 30000; },\n"
                 " { id = \"S2\"; kind = \"flow\"; bus = \"a\";"
                 " type = \"int16\"; address = 40000; },\n"
                 " { id = \"S3\"; kind = \"flow\"; bus = \"a\";"
                 " type = \"int16\"; address = 50000; });\n",
     0,
     {{0, NULL}}},
    {"unit_id 0 on tcp",
     SITE TCP_OK SENSOR(ADDR0 "\n unit_id = 0;"),
     1,
     {{4,
       "unit_id 0 in sensor 'S1' on tcp bus 'a': a gateway passes 0 on as "
       "broadcast, which no device answers (use the device's own unit id)"}}},
    {"password_file and tls files that cannot be read",
     SITE "mqtt = { username = \"u\";\n"
          " password_file = \"/nonexistent/tbdaq/p\";\n"
          " tls = { ca_file = \"/etc/hostname\";\n"
          " cert_file = \"/nonexistent/tbdaq/c\";"
          " key_file = \"/nonexistent/tbdaq/k\"; }; };\n" TCP_OK AT("0"),
     3,
     {{3, "password_file '/nonexistent/tbdaq/p' cannot be read now: No such "
          "file or directory"},
      {5, "cert_file '/nonexistent/tbdaq/c' cannot be read now: No such file "
          "or directory"},
      {5, "key_file '/nonexistent/tbdaq/k' cannot be read now: No such file "
          "or directory"}}},
    {"a serial device that cannot be opened, and one that can",
     SITE
     "buses = ({ name = \"a\"; type = \"rtu\";\n"
     " device = \"/nonexistent/ttyUSB9\"; },\n"
     " { name = \"b\"; type = \"rtu\"; device = \"/dev/null\"; });\n" AT("0"),
     1,
     {{3, "device '/nonexistent/ttyUSB9' of bus 'a' cannot be opened now: No "
          "such file or directory"}}},
    /* the one cause, not its echo: an invalid config has errors only */
    {"warnings of a config with an error are dropped",
     SITE TCP_OK SENSOR("address = 40001; scale = 0;"),
     (size_t)-1,
     {{3, "'scale' in sensor 'S1' must not be 0"}}},
};

static void test_warnings(void **state)
{
    const struct fixture *f = *state;
    size_t failed = 0;

    for (size_t i = 0; i < sizeof(warn_cases) / sizeof(warn_cases[0]); i++) {
        const struct warn_case *wc = &warn_cases[i];
        struct config_errors errs = {0};
        struct config *c = load_text(f, wc->text, &errs);
        bool invalid = wc->n == (size_t)-1;
        char *const *got = invalid ? errs.v : c ? c->warnings : NULL;
        size_t ngot = invalid ? errs.n : c ? c->nwarnings : 0;
        size_t n = invalid ? 1 : wc->n;
        bool bad = invalid ? c != NULL : c == NULL || errs.n != 0;

        bad = bad || ngot != n;
        for (size_t j = 0; !bad && j < n; j++) {
            char want[1024];

            snprintf(want, sizeof(want), "%s:%d: %s", f->path, wc->want[j].line,
                     wc->want[j].msg);
            bad = strcmp(got[j], want) != 0;
        }
        if (bad) {
            print_message("case '%s': %zu warnings, want %zu\n", wc->name, ngot,
                          n);
            for (size_t j = 0; j < ngot; j++)
                print_message("  got: %s\n", got[j]);
            print_errors(&errs);
            failed++;
        }
        config_free(c);
        config_errors_release(&errs);
    }
    assert_int_equal(failed, 0);
}

/* A warning in an included file names that file. */
static void test_warning_include(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c;
    char inc[256], want[512];
    static const char sensors[] =
        "sensors = ({ id = \"S\"; kind = \"flow\"; bus = \"a\";\n"
        "  address = 40101; type = \"int16\"; });\n";

    snprintf(inc, sizeof(inc), "%s/sensors.inc", f->dir);
    write_file(inc, sensors, strlen(sensors));
    c = load_text(f, SITE TCP_OK "@include \"sensors.inc\"\n", &errs);
    print_errors(&errs);
    assert_non_null(c);
    assert_int_equal(c->nwarnings, 1);
    snprintf(want, sizeof(want),
             "%s/sensors.inc:2: address 40101 in sensor 'S' looks like "
             "register-number notation (one off, with the table's prefix: "
             "4xxxx is holding register 101 counted from 1): if so, use "
             "address = 100",
             f->dir);
    assert_string_equal(c->warnings[0], want);
    config_free(c);
    unlink(inc);
}

/* Several independent errors: each reported once, in line order. */
static void test_many_errors(void **state)
{
    const struct fixture *f = *state;
    static const char text[] =
        "site = \"t\";\n"                                             /* 1 */
        "retention_days = -1;\n"                                      /* 2 */
        "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\";\n"    /* 3 */
        "  port = 0; },\n"                                            /* 4 */
        "  { name = \"r\"; type = \"rtu\"; device = \"/dev/x\";\n"    /* 5 */
        "    parity = \"odd\"; host = \"x\"; });\n"                   /* 6 */
        "sensors = (\n"                                               /* 7 */
        "  { id = \"S1\"; kind = \"flow\"; bus = \"a\";\n"            /* 8 */
        "    address = 0; type = \"int32\"; adress = 1; },\n"         /* 9 */
        "  { id = \"S2\"; kind = \"flow\"; bus = \"a\";\n"            /* 10 */
        "    address = 1; type = \"int16\"; },\n"                     /* 11 */
        "  { id = \"S3\"; kind = \"ph\"; bus = \"nope\";\n"           /* 12 */
        "    address = 1; type = \"int16\"; },\n"                     /* 13 */
        "  { id = \"S1\"; kind = \"ph\"; bus = \"r\"; unit_id = 0;\n" /* 14 */
        "    address = 5; type = \"float32\"; byte_order = \"AB\";\n" /* 15 */
        "    scale = 0; });\n";                                       /* 16 */
    const char *const want[] = {
        "2: 'retention_days' must be 0..36500, not -1",
        "4: 'port' in bus 'a' must be 1..65535, not 0",
        "6: 'host' is for tcp and rtu-over-tcp buses, but bus 'r' is rtu",
        "9: unknown key 'adress' in sensor 'S1'",
        "10: sensor 'S2' (holding int16 1..1) overlaps sensor 'S1' (holding "
        "int32 0..1) on bus 'a' unit 1",
        "12: unknown bus 'nope'",
        "14: unit_id 0 in sensor 'S1' is broadcast on rtu bus 'r' (use 1..247)",
        "14: duplicate sensor 'S1' (first at line 8)",
        "15: byte order 'AB' does not fit float32 (use ABCD, CDAB, BADC or "
        "DCBA)",
        "16: 'scale' in sensor 'S1' must not be 0",
    };
    size_t n = sizeof(want) / sizeof(want[0]);
    struct config_errors errs = {0};
    struct config *c = load_text(f, text, &errs);

    if (errs.n != n)
        print_errors(&errs);
    assert_null(c);
    assert_int_equal(errs.n, n);
    for (size_t i = 0; i < n; i++) {
        char line[512];

        snprintf(line, sizeof(line), "%s:%s", f->path, want[i]);
        assert_string_equal(errs.v[i], line);
    }
    config_errors_release(&errs);
}

/* Errors append: a caller may collect the errors of several loads. */
static void test_errors_append(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};

    assert_null(load_text(f, "x = ;\n", &errs));
    assert_null(load_text(f, "x = ;\n", &errs));
    assert_int_equal(errs.n, 2);
    config_errors_release(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_defaults, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_no_mqtt, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test(test_examples),
        cmocka_unit_test(test_demo_contents),
        cmocka_unit_test_setup_teardown(test_not_found, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_directory, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_include_files, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_include, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_include_integers, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_many_errors, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bits, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_warnings, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_warning_include, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_errors_append, fixture_setup,
                                        fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
