// SPDX-License-Identifier: MIT
/*
 * Traceable time (clock.h): the kernel's synchronisation state and steps
 * of the wall clock, turned into `clock` and `clock_step` events, and read
 * back from them for an export's manifest.
 */
#include "daemon/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"

void clock_watch_init(struct clock_watch *w)
{
    *w = (struct clock_watch){0};
}

static int64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void clock_sample_now(struct clock_sample *s, bool state)
{
    int64_t before = clock_read_ns(CLOCK_MONOTONIC);

    *s = (struct clock_sample){0};
    s->realtime_ns = clock_read_ns(CLOCK_REALTIME);
    s->monotonic_ns = before + (clock_read_ns(CLOCK_MONOTONIC) - before) / 2;
    if (state) {
        struct timex tx = {.modes = 0};
        int rc = adjtimex(&tx);

        s->has_state = true;
        if (rc < 0) {
            s->sync = CLOCK_SYNC_UNKNOWN;
            s->error = errno;
            s->est_error_us = s->max_error_us = -1;
            return;
        }
        /* TIME_ERROR is what the kernel answers while STA_UNSYNC is set
         * (and for a few PPS faults, which leave the time untrusted). */
        s->sync = rc == TIME_ERROR || (tx.status & STA_UNSYNC)
                      ? CLOCK_UNSYNCHRONIZED
                      : CLOCK_SYNCHRONIZED;
        s->est_error_us = tx.esterror;
        s->max_error_us = tx.maxerror;
    }
}

static int64_t clock_floor(int64_t us)
{
    return us < CLOCK_ERROR_FLOOR_US ? CLOCK_ERROR_FLOOR_US : us;
}

/* Whether a synchronized clock's estimated error has moved far enough
 * from the one reported to be worth an event. */
static bool clock_error_moved(int64_t reported_us, int64_t now_us)
{
    int64_t a = clock_floor(reported_us), b = clock_floor(now_us);

    return a > b * CLOCK_ERROR_FACTOR || b > a * CLOCK_ERROR_FACTOR;
}

static void clock_event(struct event *e, const struct clock_sample *s,
                        const char *kind)
{
    *e = (struct event){.ts_us = s->realtime_ns / 1000};
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
}

static void clock_state_event(struct event *e, const struct clock_sample *s)
{
    clock_event(e, s, "clock");
    switch (s->sync) {
    case CLOCK_SYNCHRONIZED:
        snprintf(e->detail, sizeof(e->detail),
                 "synchronized, estimated error %" PRId64
                 " us, maximum error %" PRId64 " us",
                 s->est_error_us, s->max_error_us);
        break;
    case CLOCK_UNSYNCHRONIZED:
        snprintf(e->detail, sizeof(e->detail),
                 "unsynchronized (maximum error %" PRId64 " us)",
                 s->max_error_us);
        break;
    case CLOCK_SYNC_UNKNOWN:
        snprintf(e->detail, sizeof(e->detail),
                 "unsynchronized (state unknown: adjtimex: %s)",
                 strerror(s->error));
        break;
    }
}

/* The step check: the offset against the one of the previous check. */
static size_t clock_check_step(struct clock_watch *w,
                               const struct clock_sample *s, struct event *out)
{
    int64_t offset = s->realtime_ns - s->monotonic_ns;
    int64_t step = offset - w->offset_ns;
    bool had = w->have_offset;
    char from[TIME_ISO_LEN], to[TIME_ISO_LEN];

    w->have_offset = true;
    w->offset_ns = offset;
    if (!had || (step < 0 ? -step : step) <= CLOCK_STEP_MIN_MS * NS_PER_MS)
        return 0;
    w->steps++;
    w->last_step_ns = step;
    w->last_step_us = s->realtime_ns / 1000;
    clock_event(out, s, "clock_step");
    time_format_iso((s->realtime_ns - step) / 1000, from);
    time_format_iso(s->realtime_ns / 1000, to);
    snprintf(out->detail, sizeof(out->detail),
             "wall clock stepped by %+.3f s (from %s to %s)",
             (double)step / NS_PER_S, from, to);
    return 1;
}

/* Whether the state in s is to be reported. */
static bool clock_state_due(const struct clock_watch *w,
                            const struct clock_sample *s)
{
    if (!w->reported || s->sync != w->sync)
        return true;
    if (s->sync == CLOCK_SYNC_UNKNOWN)
        return s->error != w->error;
    if (s->sync != CLOCK_SYNCHRONIZED ||
        !clock_error_moved(w->est_error_us, s->est_error_us))
        return false;
    return s->monotonic_ns - w->reported_ns >=
           CLOCK_ERROR_EVENT_MIN_MS * NS_PER_MS;
}

size_t clock_watch_check(struct clock_watch *w, const struct clock_sample *s,
                         struct event *out, size_t max)
{
    size_t n = 0;

    if (max > 0)
        n += clock_check_step(w, s, &out[n]);
    if (!s->has_state)
        return n;
    w->state = *s;
    if (n >= max || !clock_state_due(w, s))
        return n;
    clock_state_event(&out[n++], s);
    w->reported = true;
    w->sync = s->sync;
    w->est_error_us = s->est_error_us;
    w->max_error_us = s->max_error_us;
    w->error = s->error;
    w->reported_ns = s->monotonic_ns;
    return n;
}

size_t clock_watch_poll(struct clock_watch *w, struct event *out, size_t max)
{
    struct clock_sample s;
    bool state;
    size_t n;

    clock_sample_now(&s, false);
    state = !w->state.has_state || s.monotonic_ns >= w->state_at;
    if (state) {
        clock_sample_now(&s, true);
        w->state_at = s.monotonic_ns + CLOCK_STATE_INTERVAL_MS * NS_PER_MS;
    }
    n = clock_watch_check(w, &s, out, max);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].kind, "clock") == 0 &&
            strncmp(out[i].detail, "synchronized", 12) == 0)
            log_info("clock %s", out[i].detail);
        else if (strcmp(out[i].kind, "clock") == 0)
            log_warnx("clock %s: the time stamps of readings cannot be "
                      "traced to a time source",
                      out[i].detail);
        else
            log_warnx("%s", out[i].detail);
    }
    return n;
}

void clock_watch_status(const struct clock_watch *w, struct clock_status *st)
{
    bool read = w->state.has_state && w->state.sync != CLOCK_SYNC_UNKNOWN;

    *st = (struct clock_status){
        .sync = w->state.has_state ? w->state.sync : CLOCK_SYNC_UNKNOWN,
        .est_error_us = read ? w->state.est_error_us : -1,
        .max_error_us = read ? w->state.max_error_us : -1,
        .steps = w->steps,
        .last_step_ns = w->last_step_ns,
        .last_step_us = w->last_step_us,
    };
}
