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

int64_t grid_backdate(struct grid *g, int64_t since_ns)
{
    int64_t n;

    if (since_ns >= g->t0_ns)
        return 0;
    n = (g->t0_ns - since_ns) / g->interval_ns;
    g->next = -n;
    return n;
}

int64_t grid_deadline(const struct grid *g)
{
    return grid_slot_mono(g, g->next);
}

int64_t grid_slot_mono(const struct grid *g, int64_t k)
{
    return g->t0_ns + k * g->interval_ns;
}

int64_t grid_slot_real_us(const struct grid *g, int64_t k,
                          int64_t real_minus_mono_ns)
{
    int64_t t = grid_slot_mono(g, k) + real_minus_mono_ns;
    int64_t rem = t % g->interval_ns;

    if (rem < 0)
        rem += g->interval_ns;
    t -= rem;
    if (2 * rem >= g->interval_ns)
        t += g->interval_ns;
    return t / 1000;
}

/* The slot whose span holds t: floor((t - t0) / interval), also for t
 * before t0. */
static int64_t grid_slot_at(const struct grid *g, int64_t t)
{
    int64_t d = t - g->t0_ns;
    int64_t k = d / g->interval_ns;

    if (d % g->interval_ns < 0)
        k--;
    return k;
}

int grid_take(struct grid *g, int64_t now_ns, int64_t *slot, int64_t *missed)
{
    if (now_ns < grid_deadline(g))
        return -1;
    *slot = grid_slot_at(g, now_ns);
    *missed = *slot - g->next;
    g->next = *slot + 1;
    return 0;
}

int64_t grid_skip(struct grid *g, int64_t before_ns, int64_t *first)
{
    /* the last slot starting before before_ns, plus one */
    int64_t end = grid_slot_at(g, before_ns - 1) + 1;
    int64_t n = end - g->next;

    *first = g->next;
    if (n <= 0)
        return 0;
    g->next = end;
    return n;
}
