// SPDX-License-Identifier: MIT
/*
 * The chain witness's timer: a grid of due times on the monotonic clock,
 * and the last seq witnessed, so that a witness goes out only when there
 * is something new to witness.
 */
#include "daemon/witness.h"

#include "common/util.h"

static int64_t witness_interval_ns(int interval_s)
{
    return interval_s > 0 ? (int64_t)interval_s * NS_PER_S : 0;
}

void witness_timer_init(struct witness_timer *t, int interval_s, int64_t now_ns)
{
    t->interval_ns = witness_interval_ns(interval_s);
    t->next_ns = now_ns + t->interval_ns;
    t->seq = 0;
}

void witness_timer_set_interval(struct witness_timer *t, int interval_s,
                                int64_t now_ns)
{
    int64_t seq = t->seq;

    if (t->interval_ns == witness_interval_ns(interval_s))
        return;
    witness_timer_init(t, interval_s, now_ns);
    t->seq = seq;
}

bool witness_timer_due(const struct witness_timer *t, int64_t now_ns,
                       int64_t last_seq, bool stopping)
{
    return t->interval_ns > 0 && last_seq > t->seq &&
           (stopping || now_ns >= t->next_ns);
}

void witness_timer_done(struct witness_timer *t, int64_t now_ns, int64_t seq)
{
    t->seq = seq;
    /* A witness at stop, before its time, leaves the grid alone. */
    if (t->interval_ns == 0 || now_ns < t->next_ns)
        return;
    t->next_ns += t->interval_ns;
    if (t->next_ns <= now_ns)
        t->next_ns = now_ns + t->interval_ns;
}
