/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of drivers/kind.c: names, default units and default ranges,
 * checked against SPEC's list rather than against the table itself.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "drivers/decode.h"
#include "drivers/kind.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    enum sensor_kind kind;
    const char *unit;
    double lo, hi;
} kinds[] = {
    {"flow", KIND_FLOW, "m3/h", 0, INFINITY},
    {"pressure", KIND_PRESSURE, "bar", -1, 1000},
    {"turbidity", KIND_TURBIDITY, "NTU", 0, 4000},
    {"ph", KIND_PH, "pH", 0, 14},
    {"generic", KIND_GENERIC, NULL, -INFINITY, INFINITY},
};

static void test_kind_names(void **state)
{
    static const char *const bad[] = {"Flow", "pH",    "PH",         "",
                                      "temp", "level", "turbidity ", "gen"};
    (void)state;

    for (size_t i = 0; i < N(kinds); i++) {
        enum sensor_kind got = (enum sensor_kind) - 1;

        assert_int_equal(kind_parse(kinds[i].name, &got), 0);
        assert_int_equal(got, kinds[i].kind);
        assert_string_equal(kind_name(kinds[i].kind), kinds[i].name);
    }
    for (size_t i = 0; i < N(bad); i++) {
        enum sensor_kind got;

        assert_int_equal(kind_parse(bad[i], &got), -1);
    }
    assert_int_equal(kind_parse(NULL, &(enum sensor_kind){0}), -1);
}

static void test_kind_defaults(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(kinds); i++) {
        double lo = NAN, hi = NAN;

        if (kinds[i].unit == NULL)
            assert_null(kind_default_unit(kinds[i].kind));
        else
            assert_string_equal(kind_default_unit(kinds[i].kind),
                                kinds[i].unit);
        kind_default_range(kinds[i].kind, &lo, &hi);
        assert_true(lo == kinds[i].lo);
        assert_true(hi == kinds[i].hi);
    }
}

/* The default ranges judged: what each kind accepts and rejects. */
static void test_kind_ranges_judge(void **state)
{
    static const struct {
        enum sensor_kind kind;
        double v;
        enum quality q;
    } c[] = {
        {KIND_FLOW, 0, QUALITY_GOOD},
        {KIND_FLOW, 1e9, QUALITY_GOOD},
        {KIND_FLOW, -0.001, QUALITY_OUT_OF_RANGE},
        {KIND_PRESSURE, -1, QUALITY_GOOD},
        {KIND_PRESSURE, -1.01, QUALITY_OUT_OF_RANGE},
        {KIND_PRESSURE, 1000.5, QUALITY_OUT_OF_RANGE},
        {KIND_TURBIDITY, 4000, QUALITY_GOOD},
        {KIND_TURBIDITY, 4000.1, QUALITY_OUT_OF_RANGE},
        {KIND_PH, 14, QUALITY_GOOD},
        {KIND_PH, 14.01, QUALITY_OUT_OF_RANGE},
        {KIND_PH, -0.01, QUALITY_OUT_OF_RANGE},
        {KIND_GENERIC, -1e300, QUALITY_GOOD},
        {KIND_GENERIC, 1e300, QUALITY_GOOD},
        {KIND_GENERIC, INFINITY, QUALITY_INVALID},
    };
    (void)state;

    for (size_t i = 0; i < N(c); i++) {
        double lo, hi;

        kind_default_range(c[i].kind, &lo, &hi);
        if (quality_judge(c[i].v, lo, hi) != c[i].q)
            fail_msg("case %zu: %s %g", i, kind_name(c[i].kind), c[i].v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_kind_defaults),
        cmocka_unit_test(test_kind_ranges_judge),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
