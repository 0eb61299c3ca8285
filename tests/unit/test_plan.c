// SPDX-License-Identifier: MIT
/*
 * Request coalescing, table-driven: each case is a set of sensors and the
 * requests the plan must contain, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/plan.h"

#define MAX_SENSORS 130

struct s {
    size_t bus;
    int unit;
    enum reg_table table;
    int interval;
    int address;
    enum reg_type type;
};

struct r {
    size_t bus;
    int unit;
    int address;
    int count;
    const char *sensors; /* sensor indexes, comma separated */
};

struct plan_case {
    const char *name;
    int max_registers, max_gap;
    struct s sensors[12];
    struct r want[8];
};

/* A case of issue 14's: a plan_case on a bus with max_bits, with bits. */
struct bits_case {
    struct plan_case base;
    int max_bits; /* 0: not set, so BUS_MAX_BITS */
    int bits[12]; /* 1 + the `bit` of sensor i; 0: none */
};

#define H TABLE_HOLDING
#define I TABLE_INPUT
#define C TABLE_COIL
#define D TABLE_DISCRETE
#define B REG_BOOL

static const struct plan_case cases[] = {
    {"adjacent float32 share one request",
     125,
     8,
     {{0, 1, I, 1000, 20, REG_FLOAT32},
      {0, 1, I, 1000, 22, REG_FLOAT32},
      {0, 1, I, 1000, 24, REG_FLOAT32}},
     {{0, 1, 20, 6, "0,1,2"}}},
    {"out of order input is sorted by address",
     125,
     8,
     {{0, 1, H, 1000, 24, REG_FLOAT32},
      {0, 1, H, 1000, 20, REG_FLOAT32},
      {0, 1, H, 1000, 22, REG_INT16}},
     {{0, 1, 20, 6, "1,2,0"}}},
    {"gap of max_gap joins",
     125,
     9,
     {{0, 1, H, 1000, 0, REG_INT16}, {0, 1, H, 1000, 10, REG_INT16}},
     {{0, 1, 0, 11, "0,1"}}},
    {"gap beyond max_gap splits",
     125,
     8,
     {{0, 1, H, 1000, 0, REG_INT16}, {0, 1, H, 1000, 10, REG_INT16}},
     {{0, 1, 0, 1, "0"}, {0, 1, 10, 1, "1"}}},
    {"max_gap 0 joins only contiguous registers",
     125,
     0,
     {{0, 1, H, 1000, 0, REG_INT16},
      {0, 1, H, 1000, 1, REG_UINT16},
      {0, 1, H, 1000, 3, REG_INT16}},
     {{0, 1, 0, 2, "0,1"}, {0, 1, 3, 1, "2"}}},
    {"max_registers caps a request",
     4,
     8,
     {{0, 1, H, 1000, 0, REG_FLOAT64}, {0, 1, H, 1000, 4, REG_FLOAT64}},
     {{0, 1, 0, 4, "0"}, {0, 1, 4, 4, "1"}}},
    {"a value never straddles two requests",
     5,
     8,
     {{0, 1, H, 1000, 0, REG_INT16},
      {0, 1, H, 1000, 1, REG_INT16},
      {0, 1, H, 1000, 2, REG_INT16},
      {0, 1, H, 1000, 3, REG_FLOAT32},
      {0, 1, H, 1000, 5, REG_INT16}},
     {{0, 1, 0, 5, "0,1,2,3"}, {0, 1, 5, 1, "4"}}},
    {"different intervals never share",
     125,
     8,
     {{0, 1, H, 100, 0, REG_INT16}, {0, 1, H, 1000, 1, REG_INT16}},
     {{0, 1, 0, 1, "0"}, {0, 1, 1, 1, "1"}}},
    {"different units never share",
     125,
     8,
     {{0, 2, H, 1000, 0, REG_INT16}, {0, 1, H, 1000, 1, REG_INT16}},
     {{0, 1, 1, 1, "1"}, {0, 2, 0, 1, "0"}}},
    {"different tables never share",
     125,
     8,
     {{0, 1, I, 1000, 0, REG_INT16}, {0, 1, H, 1000, 1, REG_INT16}},
     {{0, 1, 1, 1, "1"}, {0, 1, 0, 1, "0"}}},
    {"different buses never share",
     125,
     8,
     {{1, 1, H, 1000, 0, REG_INT16}, {0, 1, H, 1000, 1, REG_INT16}},
     {{0, 1, 1, 1, "1"}, {1, 1, 0, 1, "0"}}},
    {"same register read twice is one read",
     125,
     8,
     {{0, 1, H, 1000, 7, REG_UINT32}, {0, 1, H, 1000, 7, REG_UINT32}},
     {{0, 1, 7, 2, "0,1"}}},
    {"top of the address space",
     125,
     8,
     {{0, 1, H, 1000, 65532, REG_FLOAT64}},
     {{0, 1, 65532, 4, "0"}}},
};

static const struct bits_case bits_cases[] = {
    {.base = {"int64 and uint64 take four registers",
              125,
              0,
              {{0, 1, H, 1000, 200, REG_UINT64},
               {0, 1, H, 1000, 204, REG_INT64},
               {0, 1, H, 1000, 209, REG_INT16}},
              {{0, 1, 200, 8, "0,1"}, {0, 1, 209, 1, "2"}}}},
    {.base = {"coils across a gap of 16 x max_gap bits share a request",
              125,
              2,
              {{0, 1, C, 1000, 0, B},
               {0, 1, C, 1000, 1, B},
               {0, 1, C, 1000, 34, B}},
              {{0, 1, 0, 35, "0,1,2"}}}},
    {.base = {"a gap of more bits splits",
              125,
              2,
              {{0, 1, C, 1000, 0, B},
               {0, 1, C, 1000, 34, B},
               {0, 1, C, 1000, 67, B}},
              {{0, 1, 0, 1, "0"}, {0, 1, 34, 34, "1,2"}}}},
    {.base = {"max_gap 0 joins only contiguous bits",
              125,
              0,
              {{0, 1, D, 1000, 7, B},
               {0, 1, D, 1000, 8, B},
               {0, 1, D, 1000, 10, B}},
              {{0, 1, 7, 2, "0,1"}, {0, 1, 10, 1, "2"}}}},
    {.base = {"max_bits cuts a request",
              125,
              8,
              {{0, 1, C, 1000, 0, B},
               {0, 1, C, 1000, 5, B},
               {0, 1, C, 1000, 9, B},
               {0, 1, C, 1000, 10, B},
               {0, 1, C, 1000, 19, B}},
              {{0, 1, 0, 10, "0,1,2"}, {0, 1, 10, 10, "3,4"}}},
     .max_bits = 10},
    {.base = {"a request of bits may be longer than max_registers",
              4,
              8,
              {{0, 1, D, 1000, 0, B}, {0, 1, D, 1000, 99, B}},
              {{0, 1, 0, 100, "0,1"}}}},
    {.base = {"the same coil read twice is one read",
              125,
              8,
              {{0, 1, C, 1000, 3, B}, {0, 1, C, 1000, 3, B}},
              {{0, 1, 3, 1, "0,1"}}}},
    {.base = {"bits and registers on one unit are kept apart",
              125,
              8,
              {{0, 1, C, 1000, 0, B},
               {0, 1, H, 1000, 0, REG_UINT16},
               {0, 1, D, 1000, 1, B},
               {0, 1, I, 1000, 1, REG_INT16},
               {0, 1, C, 1000, 2, B}},
              {{0, 1, 0, 1, "1"},
               {0, 1, 1, 1, "3"},
               {0, 1, 0, 3, "0,4"},
               {0, 1, 1, 1, "2"}}}},
    {.base = {"bit sensors share their register's read",
              125,
              0,
              {{0, 1, H, 1000, 20, REG_UINT16},
               {0, 1, H, 1000, 20, REG_UINT16},
               {0, 1, H, 1000, 20, REG_UINT16},
               {0, 1, H, 1000, 21, REG_INT16},
               {0, 1, H, 1000, 20, REG_UINT16}},
              {{0, 1, 20, 2, "0,1,2,4,3"}}},
     .bits = {1 + 3, 1 + 15, 0, 1 + 0, 1 + 3}},
};

static size_t case_nsensors(const struct plan_case *pc)
{
    size_t n = 0;

    while (n < 12 && pc->sensors[n].type + pc->sensors[n].interval != 0)
        n++;
    return n;
}

static void run_case(const struct plan_case *pc, int max_bits, const int *bits)
{
    struct bus_conf buses[2] = {{.name = (char *)"a"}, {.name = (char *)"b"}};
    struct sensor_conf sensors[12];
    struct config c = {.buses = buses, .nbuses = 2, .sensors = sensors};
    struct plan p;
    size_t nwant = 0;

    for (int b = 0; b < 2; b++) {
        buses[b].params.max_registers = pc->max_registers;
        buses[b].params.max_bits = max_bits;
        buses[b].max_gap = pc->max_gap;
    }
    c.nsensors = case_nsensors(pc);
    memset(sensors, 0, sizeof(sensors));
    for (size_t i = 0; i < c.nsensors; i++) {
        sensors[i].bus = pc->sensors[i].bus;
        sensors[i].unit_id = pc->sensors[i].unit;
        sensors[i].table = pc->sensors[i].table;
        sensors[i].interval_ms = pc->sensors[i].interval;
        sensors[i].address = pc->sensors[i].address;
        sensors[i].type = pc->sensors[i].type;
        sensors[i].has_bit = bits && bits[i] > 0;
        sensors[i].bit = sensors[i].has_bit ? bits[i] - 1 : 0;
    }
    while (nwant < 8 && pc->want[nwant].count)
        nwant++;

    plan_build(&c, &p);
    print_message("case: %s\n", pc->name);
    assert_int_equal(p.nrequests, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const struct plan_request *r = &p.requests[i];
        char got[64] = "";

        for (size_t j = 0; j < r->nsensors; j++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%zu",
                     j ? "," : "", r->sensors[j]);
        assert_int_equal(r->bus, pc->want[i].bus);
        assert_int_equal(r->unit_id, pc->want[i].unit);
        assert_int_equal(r->address, pc->want[i].address);
        assert_int_equal(r->count, pc->want[i].count);
        assert_string_equal(got, pc->want[i].sensors);
        assert_true(r->count <= (!reg_table_bits(r->table) ? pc->max_registers
                                 : max_bits                ? max_bits
                                                           : BUS_MAX_BITS));
    }
    plan_release(&p);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i], 0, NULL);
}

static void test_bits_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bits_cases) / sizeof(bits_cases[0]); i++)
        run_case(&bits_cases[i].base, bits_cases[i].max_bits,
                 bits_cases[i].bits);
}

/* 125 contiguous registers in one request; the 126th starts another. */
static void test_full_request(void **state)
{
    static struct sensor_conf sensors[MAX_SENSORS];
    struct bus_conf bus = {.name = (char *)"a", .max_gap = 8};
    struct config c = {.buses = &bus, .nbuses = 1, .sensors = sensors};
    struct plan p;
    (void)state;

    bus.params.max_registers = 125;
    c.nsensors = 126;
    for (size_t i = 0; i < c.nsensors; i++)
        sensors[i] = (struct sensor_conf){.address = (int)i,
                                          .type = REG_UINT16,
                                          .interval_ms = 1000,
                                          .unit_id = 1};
    plan_build(&c, &p);
    assert_int_equal(p.nrequests, 2);
    assert_int_equal(p.requests[0].count, 125);
    assert_int_equal(p.requests[0].nsensors, 125);
    assert_int_equal(p.requests[1].address, 125);
    assert_int_equal(p.requests[1].nsensors, 1);
    plan_release(&p);
}

/* A bus whose max_bits is not set (0) takes BUS_MAX_BITS: 2000 coils in
 * one request, the 2001st in another. */
static void test_full_bits(void **state)
{
    static struct sensor_conf sensors[BUS_MAX_BITS + 1];
    struct bus_conf bus = {.name = (char *)"a", .max_gap = 8};
    struct config c = {.buses = &bus, .nbuses = 1, .sensors = sensors};
    struct plan p;
    (void)state;

    bus.params.max_registers = 125;
    c.nsensors = BUS_MAX_BITS + 1;
    for (size_t i = 0; i < c.nsensors; i++)
        sensors[i] = (struct sensor_conf){.address = (int)i,
                                          .table = TABLE_COIL,
                                          .type = REG_BOOL,
                                          .interval_ms = 1000,
                                          .unit_id = 1};
    plan_build(&c, &p);
    assert_int_equal(p.nrequests, 2);
    assert_int_equal(p.requests[0].count, BUS_MAX_BITS);
    assert_int_equal(p.requests[0].nsensors, BUS_MAX_BITS);
    assert_int_equal(p.requests[1].address, BUS_MAX_BITS);
    assert_int_equal(p.requests[1].nsensors, 1);
    plan_release(&p);

    bus.params.max_bits = 1500;
    plan_build(&c, &p);
    assert_int_equal(p.nrequests, 2);
    assert_int_equal(p.requests[0].count, 1500);
    assert_int_equal(p.requests[1].address, 1500);
    assert_int_equal(p.requests[1].count, 501);
    plan_release(&p);
}

/* What `tbdaqd -t` and `tbdaq check` print of the new tables, types and
 * bits: each sensor readably, each request's bits counted as bits. */
static void test_print(void **state)
{
    struct bus_conf bus = {.name = (char *)"gw", .max_gap = 8};
    struct sensor_conf sensors[] = {
        {.id = (char *)"RUN",
         .unit = (char *)"on",
         .kind = KIND_GENERIC,
         .unit_id = 7,
         .table = TABLE_COIL,
         .type = REG_BOOL,
         .scale = 1,
         .interval_ms = 1000,
         .range_lo = -INFINITY,
         .range_hi = INFINITY},
        {.id = (char *)"AL3",
         .unit = (char *)"bit",
         .kind = KIND_GENERIC,
         .unit_id = 7,
         .address = 20,
         .type = REG_UINT16,
         .order = BO_BA,
         .has_bit = true,
         .bit = 3,
         .scale = 1,
         .interval_ms = 1000,
         .range_lo = -INFINITY,
         .range_hi = INFINITY},
        {.id = (char *)"FQ",
         .unit = (char *)"m3",
         .kind = KIND_GENERIC,
         .unit_id = 7,
         .address = 200,
         .type = REG_UINT64,
         .order = BO_GHEFCDAB,
         .scale = 0.001,
         .interval_ms = 1000,
         .range_lo = -INFINITY,
         .range_hi = INFINITY},
    };
    struct config c = {.site = (char *)"s",
                       .database = (char *)"d",
                       .buses = &bus,
                       .nbuses = 1,
                       .sensors = sensors,
                       .nsensors = 3};
    static const char *const want[] = {
        "  gw               tcp 127.0.0.1:502  timeout 500 ms, retries 1, "
        "delay 0 ms, max 125 registers, max 2000 bits, max gap 8\n",
        "  RUN              generic   gw unit 7 coil 0 bool on every 1000 "
        "ms range [-inf, inf]\n",
        "  AL3              generic   gw unit 7 holding 20 uint16 BA bit 3 "
        "bit every 1000 ms range [-inf, inf]\n",
        "  FQ               generic   gw unit 7 holding 200 uint64 GHEFCDAB "
        "x0.001 +0 m3 every 1000 ms range [-inf, inf]\n",
        "  gw unit 7 fc1 coil 0..0 (1 bits) every 1000 ms: RUN\n",
        "  gw unit 7 fc3 holding 20..20 (1 registers) every 1000 ms: AL3\n",
    };
    char buf[4096];
    struct plan p;
    FILE *out;
    (void)state;

    bus.params.type = BUS_TCP;
    snprintf(bus.params.host, sizeof(bus.params.host), "127.0.0.1");
    bus.params.port = 502;
    bus.params.timeout_ms = 500;
    bus.params.retries = 1;
    bus.params.max_registers = 125;
    plan_build(&c, &p);
    out = fmemopen(buf, sizeof(buf), "w");
    assert_non_null(out);
    plan_print(&c, &p, out);
    assert_int_equal(fclose(out), 0);
    plan_release(&p);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(buf, want[i]))
            fail_msg("no line\n%sin\n%s", want[i], buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),        cmocka_unit_test(test_bits_cases),
        cmocka_unit_test(test_full_request), cmocka_unit_test(test_full_bits),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
