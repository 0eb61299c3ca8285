// SPDX-License-Identifier: MIT
/*
 * The chain witness's timer (daemon/witness.c): when a witness is due, as
 * a table of steps in time, and what a reload's new interval does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdbool.h>

#include "common/util.h"
#include "daemon/witness.h"

/* When the chain witness is due: a table of (time, newest seq, stopping)
 * steps, each saying whether one is due and, if so, publishing it. */
static void test_witness_due(void **state)
{
    static const struct {
        int64_t now_s; /* seconds after init */
        int64_t last_seq;
        bool stopping;
        bool due;
    } steps[] = {
        {0, 10, false, false},  /* not before one interval */
        {59, 10, false, false}, /* still not */
        {60, 0, false, false},  /* nothing recorded yet */
        {60, 10, false, true},  /* the first commit after the interval */
        {61, 20, false, false}, /* next at 120 */
        {119, 30, false, false}, {120, 30, false, true},
        {150, 30, true, false},  /* stop, nothing new since: none */
        {150, 31, true, true},   /* stop with new readings: at once */
        {181, 40, false, true},  /* the grid: 180, not 150 + 60 */
        {200, 50, false, false}, /* next at 240 */
        {500, 50, false, true},  /* long quiet: due at once... */
        {501, 60, false, false}, /* ...and the grid restarts from 500 */
        {559, 60, false, false}, {560, 60, false, true},
    };
    struct witness_timer t, off;
    int64_t t0 = INT64_C(1000) * NS_PER_S;

    (void)state;
    witness_timer_init(&t, 60, t0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        int64_t now = t0 + steps[i].now_s * NS_PER_S;
        bool due =
            witness_timer_due(&t, now, steps[i].last_seq, steps[i].stopping);

        if (due != steps[i].due)
            fail_msg("step %zu (at %" PRId64 " s, seq %" PRId64 "%s): due %d",
                     i, steps[i].now_s, steps[i].last_seq,
                     steps[i].stopping ? ", stopping" : "", due);
        if (due)
            witness_timer_done(&t, now, steps[i].last_seq);
    }

    /* witness_interval_s = 0: never, not even at stop. */
    witness_timer_init(&off, 0, t0);
    assert_false(witness_timer_due(&off, t0 + 3600 * NS_PER_S, 100, false));
    assert_false(witness_timer_due(&off, t0 + 3600 * NS_PER_S, 100, true));

    /* A reload: an unchanged interval keeps the schedule; a new one counts
     * from the reload, and the last seq witnessed is kept. */
    witness_timer_init(&t, 60, t0);
    witness_timer_done(&t, t0 + 60 * NS_PER_S, 5);
    witness_timer_set_interval(&t, 60, t0 + 90 * NS_PER_S);
    assert_true(witness_timer_due(&t, t0 + 120 * NS_PER_S, 6, false));
    witness_timer_set_interval(&t, 10, t0 + 90 * NS_PER_S);
    assert_false(witness_timer_due(&t, t0 + 99 * NS_PER_S, 6, false));
    assert_true(witness_timer_due(&t, t0 + 100 * NS_PER_S, 6, false));
    assert_false(witness_timer_due(&t, t0 + 100 * NS_PER_S, 5, false));
    witness_timer_set_interval(&t, 0, t0 + 100 * NS_PER_S);
    assert_false(witness_timer_due(&t, t0 + 1000 * NS_PER_S, 6, true));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_witness_due),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
