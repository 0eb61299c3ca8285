// SPDX-License-Identifier: MIT
/*
 * Traceable time: which samples of the clocks make `clock` and
 * `clock_step` events (the start, flips of the synchronisation, the
 * estimated error moving by more than the factor, steps beyond 100 ms but
 * not 99 ms, nor a slow slew), what they say, and how an export's manifest
 * reads them back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/clock.h"
#include "lib/clock_summary.h"

#define MS NS_PER_MS
/* Where the test's wall clock starts: 2026-11-25T00:00:00Z. */
#define BASE_REAL_NS (INT64_C(1795564800) * NS_PER_S)

enum { NONE, SYNC, UNSYNC, UNKNOWN };

/* One check: the monotonic clock advances by adv_ms, the wall clock by
 * the same plus jump_ns; with a state, adjtimex answers it. want lists
 * the events' details, '|'-separated ("" for none); a detail ending in
 * '*' matches as a prefix. */
struct step {
    int64_t adv_ms, jump_ns;
    int state;
    int64_t est, max;
    const char *want;
};

#define END                                                                    \
    {                                                                          \
        -1, 0, NONE, 0, 0, NULL                                                \
    }
#define S_OK(est, max) SYNC, est, max
#define S_UN(max) UNSYNC, -1, max

static const struct {
    const char *name;
    struct step steps[16];
} cases[] = {
    {"start synchronized",
     {{0, 0, S_OK(123, 4567),
       "synchronized, estimated error 123 us, maximum error 4567 us"},
      END}},
    {"start unsynchronized",
     {{0, 0, S_UN(16000000), "unsynchronized (maximum error 16000000 us)"},
      END}},
    {"start unknown",
     {{0, 0, UNKNOWN, 0, 0,
       "unsynchronized (state unknown: adjtimex: Operation not permitted)"},
      {1000, 0, UNKNOWN, 0, 0, ""},
      END}},
    {"a sample without state makes no start event",
     {{0, 0, NONE, 0, 0, ""}, {1000, 0, S_OK(10, 20), "synchronized*"}, END}},
    {"unchanged state: nothing",
     {{0, 0, S_OK(500, 9000), "synchronized*"},
      {1000, 0, S_OK(500, 9500), ""},
      /* the kernel's maximum error grows 500 us/s between updates */
      {1000, 0, S_OK(500, 40000), ""},
      /* past the rate limit: only the factor holds these back */
      {61000, 0, S_OK(700, 3000), ""},
      {61000, 0, S_OK(999, 3000), ""},
      {61000, 0, S_OK(251, 3000), ""},
      {1000, 0, NONE, 0, 0, ""},
      END}},
    {"sync to unsync and back: at once each time",
     {{0, 0, S_OK(500, 9000), "synchronized*"},
      {1000, 0, S_UN(16000000), "unsynchronized (maximum error 16000000 us)"},
      {1000, 0, S_UN(16000500), ""},
      {1000, 0, S_OK(800, 2000),
       "synchronized, estimated error 800 us, maximum error 2000 us"},
      END}},
    {"error growth beyond the factor, held back to the rate limit",
     {{0, 0, S_OK(1000, 9000), "synchronized*"},
      {1000, 0, S_OK(2001, 9000), ""},
      {1000, 0, S_OK(2001, 9000), ""},
      /* 59.999 s after the start event */
      {57999, 0, S_OK(2001, 9000), ""},
      {1, 0, S_OK(2001, 9000),
       "synchronized, estimated error 2001 us, maximum error 9000 us"},
      /* shrinking by more than 2x is a change too, and waits as well */
      {1000, 0, S_OK(1000, 9000), ""},
      {59000, 0, S_OK(1000, 9000), "synchronized, estimated error 1000 us*"},
      END}},
    {"2x is not beyond 2x",
     {{0, 0, S_OK(1000, 9000), "synchronized*"},
      {61000, 0, S_OK(2000, 9000), ""},
      {61000, 0, S_OK(1000, 9000), ""},
      {61000, 0, S_OK(500, 9000), ""},
      {61000, 0, S_OK(2000, 9000), ""},
      {61000, 0, S_OK(2001, 9000), "synchronized, estimated error 2001 us*"},
      END}},
    {"error changes under the floor: nothing",
     {{0, 0, S_OK(20, 9000), "synchronized*"},
      {70000, 0, S_OK(900, 9000), ""},
      {70000, 0, S_OK(1, 9000), ""},
      {70000, 0, S_OK(2001, 9000), "synchronized, estimated error 2001 us*"},
      END}},
    {"a flip is not held back by the rate limit",
     {{0, 0, S_OK(1000, 9000), "synchronized*"},
      {1000, 0, S_UN(16000000), "unsynchronized*"},
      {1000, 0, S_OK(1000, 9000), "synchronized*"},
      END}},
    {"step back by an hour",
     {{0, 0, S_OK(100, 900), "synchronized*"},
      {1000, -3600002 * MS, NONE, 0, 0,
       "wall clock stepped by -3600.002 s (from "
       "2026-11-25T00:00:01.000000Z to 2026-11-24T23:00:00.998000Z)"},
      {1000, 0, S_OK(100, 900), ""},
      END}},
    {"step forward, with a state change in the same check",
     {{0, 0, S_UN(16000000), "unsynchronized*"},
      {2000, 250 * MS, S_OK(100, 900),
       "wall clock stepped by +0.250 s (from 2026-11-25T00:00:02.000000Z to "
       "2026-11-25T00:00:02.250000Z)|synchronized, estimated error 100 us, "
       "maximum error 900 us"},
      END}},
    {"99 ms either way is not a step, 101 ms is",
     {{0, 0, NONE, 0, 0, ""},
      {1000, 99 * MS, NONE, 0, 0, ""},
      {1000, -99 * MS, NONE, 0, 0, ""},
      {1000, 100 * MS, NONE, 0, 0, ""},
      {1000, 101 * MS, NONE, 0, 0, "wall clock stepped by +0.101 s*"},
      {1000, -101 * MS, NONE, 0, 0, "wall clock stepped by -0.101 s*"},
      END}},
    /* A slew that moves the offset 50 ms per check adds up to 500 ms in
     * 10 checks, but no two consecutive checks differ by more than 100 ms:
     * by definition not a step (a real slew does not even move the
     * offset: it changes the rate of both clocks). */
    {"slew of 50 ms per check for 10 checks",
     {{0, 0, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      {1000, 50 * MS, NONE, 0, 0, ""},
      END}},
    {"the first check is never a step",
     {{0, 7200 * NS_PER_S, NONE, 0, 0, ""}, END}},
};

/* Whether got matches want (a trailing '*' matches a prefix). */
static int detail_matches(const char *want, size_t len, const char *got)
{
    if (len > 0 && want[len - 1] == '*')
        return strncmp(got, want, len - 1) == 0;
    return strlen(got) == len && strncmp(got, want, len) == 0;
}

/* Whether the events of one check are those wanted; says why not. */
static bool check_events(const char *name, size_t k, const struct step *st,
                         const struct event *ev, size_t n,
                         const struct clock_sample *s)
{
    const char *w = st->want;
    size_t i = 0;

    for (; *w; i++) {
        const char *bar = strchr(w, '|');
        size_t len = bar ? (size_t)(bar - w) : strlen(w);
        const char *kind = strncmp(w, "wall", 4) == 0 ? "clock_step" : "clock";

        if (i >= n) {
            print_error("%s, check %zu: no event for '%.*s'\n", name, k,
                        (int)len, w);
            return false;
        }
        if (!detail_matches(w, len, ev[i].detail) ||
            strcmp(ev[i].kind, kind) != 0 ||
            ev[i].ts_us != s->realtime_ns / 1000) {
            print_error("%s, check %zu: %s '%s' at %lld, want %s '%.*s'\n",
                        name, k, ev[i].kind, ev[i].detail,
                        (long long)ev[i].ts_us, kind, (int)len, w);
            return false;
        }
        w += bar ? len + 1 : len;
    }
    if (n != i) {
        print_error("%s, check %zu: %zu events, want %zu (first extra: "
                    "'%s')\n",
                    name, k, n, i, ev[i].detail);
        return false;
    }
    return true;
}

/* Every case runs, and every failing one is named, before the verdict. */
static void test_table(void **state)
{
    int failed = 0;
    (void)state;
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct clock_watch w;
        int64_t mono = 5 * NS_PER_S, real = BASE_REAL_NS;

        clock_watch_init(&w);
        for (size_t k = 0; cases[c].steps[k].want; k++) {
            const struct step *st = &cases[c].steps[k];
            struct clock_sample s = {0};
            struct event ev[CLOCK_EVENTS_MAX];
            size_t n;

            mono += st->adv_ms * MS;
            real += st->adv_ms * MS + st->jump_ns;
            s.monotonic_ns = mono;
            s.realtime_ns = real;
            s.has_state = st->state != NONE;
            s.sync = st->state == SYNC     ? CLOCK_SYNCHRONIZED
                     : st->state == UNSYNC ? CLOCK_UNSYNCHRONIZED
                                           : CLOCK_SYNC_UNKNOWN;
            s.est_error_us = st->est;
            s.max_error_us = st->max;
            s.error = st->state == UNKNOWN ? EPERM : 0;
            memset(ev, 0, sizeof(ev));
            n = clock_watch_check(&w, &s, ev, CLOCK_EVENTS_MAX);
            if (!check_events(cases[c].name, k, st, ev, n, &s)) {
                failed++;
                break;
            }
        }
    }
    assert_int_equal(failed, 0);
}

/* With room for one event, a step and a state change in one check: the
 * step now, the state at the next check. */
static void test_room_for_one(void **state)
{
    struct clock_watch w;
    struct clock_sample s = {.realtime_ns = BASE_REAL_NS,
                             .monotonic_ns = NS_PER_S,
                             .has_state = true,
                             .sync = CLOCK_UNSYNCHRONIZED,
                             .max_error_us = 16000000};
    struct event ev[1];
    (void)state;

    clock_watch_init(&w);
    assert_int_equal(clock_watch_check(&w, &s, ev, 1), 1);
    s.monotonic_ns += NS_PER_S;
    s.realtime_ns += NS_PER_S + 5 * NS_PER_S;
    s.sync = CLOCK_SYNCHRONIZED;
    assert_int_equal(clock_watch_check(&w, &s, ev, 1), 1);
    assert_string_equal(ev[0].kind, "clock_step");
    s.monotonic_ns += NS_PER_S;
    s.realtime_ns += NS_PER_S;
    assert_int_equal(clock_watch_check(&w, &s, ev, 1), 1);
    assert_string_equal(ev[0].kind, "clock");
    assert_true(strncmp(ev[0].detail, "synchronized", 12) == 0);
}

static void test_status(void **state)
{
    struct clock_watch w;
    struct clock_status st;
    struct clock_sample s = {.realtime_ns = BASE_REAL_NS,
                             .monotonic_ns = NS_PER_S};
    struct event ev[CLOCK_EVENTS_MAX];
    (void)state;

    clock_watch_init(&w);
    clock_watch_status(&w, &st);
    assert_int_equal(st.sync, CLOCK_SYNC_UNKNOWN);
    assert_int_equal(st.est_error_us, -1);
    assert_int_equal(st.steps, 0);

    s.has_state = true;
    s.sync = CLOCK_SYNCHRONIZED;
    s.est_error_us = 300;
    s.max_error_us = 7000;
    clock_watch_check(&w, &s, ev, CLOCK_EVENTS_MAX);
    /* the status follows the newest reading, even one not worth an event */
    s.monotonic_ns += NS_PER_S;
    s.realtime_ns += NS_PER_S - 3 * NS_PER_S;
    s.est_error_us = 350;
    s.max_error_us = 7500;
    assert_int_equal(clock_watch_check(&w, &s, ev, CLOCK_EVENTS_MAX), 1);
    s.monotonic_ns += NS_PER_S;
    s.realtime_ns += NS_PER_S + 200 * MS;
    assert_int_equal(clock_watch_check(&w, &s, ev, CLOCK_EVENTS_MAX), 1);
    clock_watch_status(&w, &st);
    assert_int_equal(st.sync, CLOCK_SYNCHRONIZED);
    assert_int_equal(st.est_error_us, 350);
    assert_int_equal(st.max_error_us, 7500);
    assert_int_equal(st.steps, 2);
    assert_int_equal(st.last_step_ns, 200 * MS);
    assert_int_equal(st.last_step_us, s.realtime_ns / 1000);
}

/* The manifest's clock from the events of a window. */
static void test_summary(void **state)
{
    static const struct {
        const char *events[6]; /* "kind detail" */
        int known, synchronized;
        int64_t max_error_us;
        uint64_t steps;
        int rc; /* of the last add */
    } sums[] = {
        {{NULL}, 0, 0, -1, 0, 0},
        {{"clock synchronized, estimated error 123 us, maximum error 4567 us",
          NULL},
         1,
         1,
         123,
         0,
         0},
        {{"clock synchronized, estimated error 123 us, maximum error 4567 us",
          "start tbdaqd 1.0", "config abc",
          "clock synchronized, estimated error 2500 us, maximum error 9000 us",
          "clock synchronized, estimated error 90 us, maximum error 900 us",
          NULL},
         1,
         1,
         2500,
         0,
         0},
        {{"clock synchronized, estimated error 123 us, maximum error 4567 us",
          "clock unsynchronized (maximum error 16000000 us)",
          "clock synchronized, estimated error 100 us, maximum error 900 us",
          NULL},
         1,
         0,
         -1,
         0,
         0},
        {{"clock unsynchronized (state unknown: adjtimex: Operation not "
          "permitted)",
          NULL},
         1,
         0,
         -1,
         0,
         0},
        {{"clock_step wall clock stepped by -3600.002 s (from "
          "2026-11-25T00:00:01.000000Z to 2026-11-24T23:00:00.998000Z)",
          "clock synchronized, estimated error 5 us, maximum error 50 us",
          "clock_step wall clock stepped by +0.250 s (from a to b)", NULL},
         1,
         1,
         5,
         2,
         0},
        {{"clock synchronized, estimated error 5 us, maximum error 50 us",
          "clock garbage", NULL},
         1,
         0,
         -1,
         0,
         -1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
        struct clock_summary cs;
        int rc = 0;

        clock_summary_init(&cs);
        for (size_t k = 0; sums[i].events[k]; k++) {
            char kind[EVENT_KIND_MAX];
            const char *sp = strchr(sums[i].events[k], ' ');

            snprintf(kind, sizeof(kind), "%.*s", (int)(sp - sums[i].events[k]),
                     sums[i].events[k]);
            rc = clock_summary_add(&cs, kind, sp + 1);
        }
        assert_int_equal(cs.known, sums[i].known);
        assert_int_equal(cs.synchronized, sums[i].synchronized);
        assert_int_equal(cs.max_error_us, sums[i].max_error_us);
        assert_int_equal(cs.steps, sums[i].steps);
        assert_int_equal(rc, sums[i].rc);
    }
}

/* The real clocks: a sample reads both, adjtimex answers (this needs no
 * privilege), and the events it makes read back as the state it read. */
static void test_sample_now(void **state)
{
    struct clock_sample a, b;
    struct clock_watch w;
    struct event ev[CLOCK_EVENTS_MAX];
    struct clock_summary cs;
    size_t n;
    (void)state;

    clock_sample_now(&a, false);
    assert_false(a.has_state);
    clock_sample_now(&b, true);
    assert_true(b.has_state);
    /* adjtimex asked here too: TIME_ERROR or STA_UNSYNC is unsynchronized
     * (the state does not change between two calls but in a rare flip) */
    {
        struct timex tx = {.modes = 0};
        int rc = adjtimex(&tx);

        if (rc < 0)
            assert_int_equal(b.sync, CLOCK_SYNC_UNKNOWN);
        else
            assert_int_equal(b.sync,
                             rc == TIME_ERROR || (tx.status & STA_UNSYNC)
                                 ? CLOCK_UNSYNCHRONIZED
                                 : CLOCK_SYNCHRONIZED);
    }
    assert_true(b.monotonic_ns >= a.monotonic_ns);
    assert_true(b.realtime_ns > BASE_REAL_NS - 365 * 86400 * NS_PER_S);
    if (b.sync != CLOCK_SYNC_UNKNOWN) {
        assert_true(b.max_error_us >= 0);
        assert_true(b.est_error_us >= 0);
    }
    clock_watch_init(&w);
    n = clock_watch_poll(&w, ev, CLOCK_EVENTS_MAX);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].kind, "clock");
    print_message("adjtimex here: %s\n", ev[0].detail);
    clock_summary_init(&cs);
    assert_int_equal(clock_summary_add(&cs, ev[0].kind, ev[0].detail), 0);
    assert_int_equal(cs.synchronized, b.sync == CLOCK_SYNCHRONIZED);
    /* within CLOCK_STATE_INTERVAL_MS, only the step check runs */
    assert_int_equal(clock_watch_poll(&w, ev, CLOCK_EVENTS_MAX), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),      cmocka_unit_test(test_room_for_one),
        cmocka_unit_test(test_status),     cmocka_unit_test(test_summary),
        cmocka_unit_test(test_sample_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
