// SPDX-License-Identifier: MIT
/*
 * Request coalescing, table-driven: each case is a set of sensors and the
 * requests the plan must contain, in order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

#define H TABLE_HOLDING
#define I TABLE_INPUT

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

static size_t case_nsensors(const struct plan_case *pc)
{
    size_t n = 0;

    while (n < 12 && pc->sensors[n].type + pc->sensors[n].interval != 0)
        n++;
    return n;
}

static void run_case(const struct plan_case *pc)
{
    struct bus_conf buses[2] = {{.name = (char *)"a"}, {.name = (char *)"b"}};
    struct sensor_conf sensors[12];
    struct config c = {.buses = buses, .nbuses = 2, .sensors = sensors};
    struct plan p;
    size_t nwant = 0;

    for (int b = 0; b < 2; b++) {
        buses[b].params.max_registers = pc->max_registers;
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
        assert_true(r->count <= pc->max_registers);
    }
    plan_release(&p);
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_full_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
