/* SPDX-License-Identifier: MIT */
/*
 * Grid scheduling arithmetic: a request is due at t0 + k * interval for
 * k = 0, 1, 2, ... (CLOCK_MONOTONIC nanoseconds). Lateness never shifts
 * the grid; a slot whose time has passed before it could be served is
 * missed, and counted, never queued up.
 *
 * Slot k spans [t0 + k*interval, t0 + (k+1)*interval): a poll that starts
 * anywhere in that span serves slot k. Every slot is either taken
 * (grid_take) or skipped (grid_take's missed count, grid_skip), exactly
 * once, in order: the caller turns each skipped slot into a `missed`
 * reading stamped with the slot's own wall-clock time (grid_slot_real_us).
 * Slots before k = 0 exist only after grid_backdate().
 *
 * Plain arithmetic on the caller's struct: no I/O, no allocation, no
 * errors (interval_ns must be positive). A grid belongs to one thread
 * at a time (its poller's); separate grids are independent.
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
 * read once here to choose the phase: a later step of the wall clock does
 * not move the grid (see grid_slot_real_us() for its slots' times).
 * The first slot is the first one at or after now_mono_ns.
 */
void grid_init(struct grid *g, int64_t interval_ns, int64_t now_mono_ns,
               int64_t now_real_ns);

/*
 * Makes the grid start at the first of its slots at or after since_ns
 * (CLOCK_MONOTONIC) rather than at slot 0, if that is earlier: those
 * slots get negative indexes and are reported missed by the next
 * grid_take() or grid_skip(). Returns how many there are (0 if since_ns
 * is at or after t0). For a bus restarted by a reload: its slots from the
 * old poller's stop on.
 */
int64_t grid_backdate(struct grid *g, int64_t since_ns);

/* When the next slot is due. */
int64_t grid_deadline(const struct grid *g);

/* When slot k starts (CLOCK_MONOTONIC ns). */
int64_t grid_slot_mono(const struct grid *g, int64_t k);
/*
 * Slot k's time as the wall clock reads it now, in UTC microseconds: its
 * start plus real_minus_mono_ns (CLOCK_REALTIME - CLOCK_MONOTONIC, read
 * by the caller now), rounded to the nearest whole multiple of the
 * interval. The two clocks run at one rate (NTP slews both), so without
 * a step that is the slot's grid point exactly; after a step of the wall
 * clock it is the grid point the slot stands for in the new time, like
 * the time stamps of the readings taken around it.
 */
int64_t grid_slot_real_us(const struct grid *g, int64_t k,
                          int64_t real_minus_mono_ns);

/*
 * Called when a poll is about to start at now. If the next slot is not yet
 * due returns -1. Otherwise stores in *slot the slot to serve now (the one
 * whose span holds now; negative for a backdated grid's slot), in *missed
 * how many slots before it went unserved (*slot - *missed .. *slot - 1),
 * advances the grid past it and returns 0.
 */
int grid_take(struct grid *g, int64_t now_ns, int64_t *slot, int64_t *missed);

/*
 * Skips, as missed, every slot from the next one on that starts before
 * before_ns: returns how many (0 if none) and stores the first one's index
 * in *first. With before_ns = now - interval + 1 that is every slot whose
 * whole span has passed by now (the one under way can still be taken);
 * with before_ns = a stop's time, every slot due before the stop.
 */
int64_t grid_skip(struct grid *g, int64_t before_ns, int64_t *first);

#endif
