/* SPDX-License-Identifier: MIT */
/*
 * Traceable time: the events that tell an auditor whether the wall clock
 * that stamped the readings could be trusted.
 *
 * - `clock`: the kernel's synchronisation state, read with adjtimex(2)
 *   (modes 0: reading needs no privilege), at start and when it changes:
 *   "synchronized, estimated error E us, maximum error M us", or
 *   "unsynchronized (maximum error M us)", or, where the state cannot be
 *   read, "unsynchronized (state unknown: adjtimex: REASON)". A clock not
 *   known to be synchronized is unsynchronized.
 * - `clock_step`: CLOCK_REALTIME moved against CLOCK_MONOTONIC by more
 *   than CLOCK_STEP_MIN_MS between two checks: "wall clock stepped by
 *   -3600.002 s (from ISO to ISO)", positive forward; "from" is what the
 *   wall clock would have read without the step.
 *
 * What counts as a change (so that a disciplined clock whose error
 * wanders does not make an event a second):
 * - the state (synchronized, unsynchronized, unknown) flips: at once;
 * - while synchronized, the estimated error differs from the one last
 *   reported by more than CLOCK_ERROR_FACTOR either way, both taken as at
 *   least CLOCK_ERROR_FLOOR_US; at most one such event per
 *   CLOCK_ERROR_EVENT_MIN_MS (a change still there after it is reported
 *   then). The maximum error is only reported, never compared: the kernel
 *   adds 500 us to it every second between the updates of the NTP daemon.
 *
 * A step is a change of the offset (realtime - monotonic) by more than
 * CLOCK_STEP_MIN_MS between two consecutive checks, which the main loop
 * makes at every turn (at most a few seconds apart). Slewing by NTP or
 * adjtime(3) changes the rate of both clocks alike and leaves the offset
 * as it is; a drift of the offset that stays under the threshold at every
 * check is by definition not a step, however far it adds up. The host's
 * suspension shows as a forward step (CLOCK_MONOTONIC stands still while
 * suspended): the wall clock did move that much against the daemon's.
 *
 * The decisions (clock_watch_check) take samples from the caller, so that
 * tests feed them; clock_watch_poll is the daemon's entry, which reads the
 * real clocks. Main thread only; nothing here is thread-safe. Nothing
 * fails or allocates: an adjtimex(2) that fails is the state "unknown",
 * with its errno; only clock_watch_poll() logs.
 */
#ifndef TBDAQ_CLOCK_H
#define TBDAQ_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/reading.h"

/* The smallest jump of the wall clock against the monotonic clock that is
 * a step (SPEC: more than 100 ms). */
#define CLOCK_STEP_MIN_MS 100
/* A change of the estimated error by more than this factor, either way,
 * is an event; values under the floor count as the floor, so that jitter
 * of a well-synchronised clock (tens of us) never is. */
#define CLOCK_ERROR_FACTOR 2
#define CLOCK_ERROR_FLOOR_US 1000
/* At most one event for a change of the error alone this often (a chrony
 * update comes every 64 to 1024 s). Flips are never held back. */
#define CLOCK_ERROR_EVENT_MIN_MS 60000
/* How often clock_watch_poll reads adjtimex (the wall clock against the
 * monotonic clock is read at every call: two vDSO calls, no syscall). */
#define CLOCK_STATE_INTERVAL_MS 1000
/* Events one check produces at most: a step and a state. */
#define CLOCK_EVENTS_MAX 2

enum clock_sync {
    CLOCK_SYNC_UNKNOWN, /* adjtimex failed (e.g. a seccomp filter) */
    CLOCK_UNSYNCHRONIZED,
    CLOCK_SYNCHRONIZED,
};

/* The clocks at one moment. */
struct clock_sample {
    int64_t realtime_ns;  /* CLOCK_REALTIME */
    int64_t monotonic_ns; /* CLOCK_MONOTONIC at the same moment */
    bool has_state;       /* whether the fields below were read */
    enum clock_sync sync;
    int64_t est_error_us; /* timex.esterror */
    int64_t max_error_us; /* timex.maxerror */
    int error;            /* errno of adjtimex when sync is unknown */
};

struct clock_watch {
    bool have_offset;
    int64_t offset_ns; /* realtime - monotonic at the last check */
    uint64_t steps;    /* since clock_watch_init */
    int64_t last_step_ns, last_step_us; /* its size; when seen (UTC us) */

    bool reported; /* a state has been reported: the fields below hold it */
    enum clock_sync sync;
    int64_t est_error_us, max_error_us;
    int error;
    int64_t reported_ns; /* when, CLOCK_MONOTONIC */

    struct clock_sample state; /* the newest sample with a state */
    int64_t state_at; /* next adjtimex of clock_watch_poll, CLOCK_MONOTONIC */
};

/* What `tbdaq status` shows: the newest state read, the steps so far. */
struct clock_status {
    enum clock_sync sync;
    int64_t est_error_us, max_error_us; /* -1 when not read */
    uint64_t steps;
    int64_t last_step_ns, last_step_us; /* 0, 0 with no step */
};

void clock_watch_init(struct clock_watch *w);

/*
 * Reads the clocks now; with state, also adjtimex(2) (read-only). The
 * monotonic time is the middle of two readings around the wall clock's,
 * so that a preemption between them does not look like a step.
 */
void clock_sample_now(struct clock_sample *s, bool state);

/*
 * Decides on sample s (see the top of this file): writes the events due to
 * out, a step first, and returns how many (at most max; with max below
 * CLOCK_EVENTS_MAX a state change is left for a later check). An event's
 * ts_us is the sample's wall-clock time. A sample without state is only
 * checked for a step; the first sample with one always makes an event.
 */
size_t clock_watch_check(struct clock_watch *w, const struct clock_sample *s,
                         struct event *out, size_t max);

/*
 * The daemon's call at every main-loop turn: samples the real clocks
 * (adjtimex at most every CLOCK_STATE_INTERVAL_MS), checks, and logs each
 * event it returns (a step and a clock not synchronized as warnings).
 */
size_t clock_watch_poll(struct clock_watch *w, struct event *out, size_t max);

void clock_watch_status(const struct clock_watch *w, struct clock_status *st);

#endif
