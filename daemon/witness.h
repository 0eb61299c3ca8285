/* SPDX-License-Identifier: MIT */
/*
 * When the chain witness is due (SPEC "The chain witness"): every
 * witness_interval_s, at the first commit after it, and at stop, each
 * time only if readings were committed since the last witness. Intervals
 * follow a fixed grid from init (next += interval), so witnesses do not
 * drift; after a long pause the grid restarts from now.
 *
 * Plain arithmetic on CLOCK_MONOTONIC nanoseconds: no I/O, no errors, no
 * allocation. The caller owns the struct; not thread-safe (one owner, the
 * main thread). What the witness says and where it goes are payload.h's
 * and publish.h's (publisher_witness()).
 */
#ifndef TBDAQ_WITNESS_H
#define TBDAQ_WITNESS_H

#include <stdbool.h>
#include <stdint.h>

struct witness_timer {
    int64_t interval_ns; /* 0: no witness at all */
    int64_t next_ns;     /* not due before this, unless stopping */
    int64_t seq;         /* the last seq witnessed (0: none yet) */
};

/* interval_s as the config's witness_interval_s (0: none); the first
 * witness is due interval_s after now_ns. */
void witness_timer_init(struct witness_timer *t, int interval_s,
                        int64_t now_ns);
/* A reload's witness_interval_s: unless unchanged, the next witness is due
 * interval_s after now_ns; the last seq witnessed is kept. */
void witness_timer_set_interval(struct witness_timer *t, int interval_s,
                                int64_t now_ns);
/* Whether to publish a witness now, last_seq being the newest committed
 * seq: time has come (or stopping) and last_seq is past the last one. */
bool witness_timer_due(const struct witness_timer *t, int64_t now_ns,
                       int64_t last_seq, bool stopping);
/* A witness of seq was published at now_ns: the next is due one interval
 * on. */
void witness_timer_done(struct witness_timer *t, int64_t now_ns, int64_t seq);

#endif
