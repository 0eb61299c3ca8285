// SPDX-License-Identifier: MIT
/*
 * Fixed-grid scheduling: deadlines are t0 + k * interval, computed, never
 * accumulated, so a late poll neither drifts the grid nor makes the next
 * poll late; slots that passed unserved are reported as missed.
 */
#include "daemon/sched.h"

void grid_init(struct grid *g, int64_t interval_ns, int64_t now_mono_ns,
               int64_t now_real_ns)
{
    int64_t rem = now_real_ns % interval_ns;

    if (rem < 0)
        rem += interval_ns;
    g->t0_ns = now_mono_ns + (rem ? interval_ns - rem : 0);
    g->interval_ns = interval_ns;
    g->next = 0;
}

int64_t grid_deadline(const struct grid *g)
{
    return g->t0_ns + g->next * g->interval_ns;
}

int64_t grid_take(struct grid *g, int64_t now_ns, int64_t *missed)
{
    int64_t slot;

    if (now_ns < grid_deadline(g))
        return -1;
    slot = (now_ns - g->t0_ns) / g->interval_ns;
    *missed = slot - g->next;
    g->next = slot + 1;
    return slot;
}
