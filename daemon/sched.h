/* SPDX-License-Identifier: MIT */
/*
 * Grid scheduling arithmetic: a request is due at t0 + k * interval for
 * k = 0, 1, 2, ... (CLOCK_MONOTONIC nanoseconds). Lateness never shifts
 * the grid; a slot whose time has passed before it could be served is
 * missed, and counted, never queued up.
 *
 * Slot k spans [t0 + k*interval, t0 + (k+1)*interval): a poll that starts
 * anywhere in that span serves slot k.
 */
#ifndef TBDAQ_SCHED_H
#define TBDAQ_SCHED_H

#include <stdint.h>

struct grid {
    int64_t t0_ns;
    int64_t interval_ns;
    int64_t next; /* the next slot to serve */
};

/*
 * Aligns a grid so its slots fall on whole multiples of the interval in
 * wall-clock time (a 1 s sensor is read at :00.000, :01.000, ...), which
 * lines up readings of different buses and daemons. The two clocks are
 * read once here to choose the phase; nothing after compares them.
 * The first slot is the first one at or after now_mono_ns.
 */
void grid_init(struct grid *g, int64_t interval_ns, int64_t now_mono_ns,
               int64_t now_real_ns);

/* When the next slot is due. */
int64_t grid_deadline(const struct grid *g);

/*
 * Called when a poll is about to start at now. If the next slot is not yet
 * due returns -1. Otherwise returns the slot to serve now (the one whose
 * span holds now), stores in *missed how many slots before it went
 * unserved, and advances the grid past it.
 */
int64_t grid_take(struct grid *g, int64_t now_ns, int64_t *missed);

#endif
