/* SPDX-License-Identifier: MIT */
/*
 * The batch: readings and events taken from the queue and not yet
 * committed, and when they must be. SPEC bounds what a crash may lose by
 * commit_interval_ms counted from when each reading was taken, so the
 * batch is due at the earliest (taken + interval) of what waits, not at
 * a time counted from when the main thread got round to draining the
 * queue.
 *
 * Plain data owned by the main thread; no locking, no I/O, nothing
 * logged, no errors (out of memory aborts): the caller commits what
 * batch_next() gives and reports the outcome.
 */
#ifndef TBDAQ_BATCH_H
#define TBDAQ_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "lib/reading.h"

/* Readings committed in one transaction at most. A batch this large is
 * due at once, whatever its interval: a backlog (after a database
 * outage) is committed in steps of this size, so that polling and
 * publishing go on between them. */
#define BATCH_MAX 20000

struct batch {
    /* Readings waiting, oldest first, from readings[head] on. */
    struct reading *readings;
    size_t head, nreadings, capreadings;
    struct event *events;
    size_t nevents, capevents;
    int64_t interval_ns; /* commit_interval_ms */
    int64_t due;         /* CLOCK_MONOTONIC; INT64_MAX while empty */
};

/* An empty batch whose items are due interval_ms after they were taken. */
void batch_init(struct batch *b, int interval_ms);
/* Frees what the batch holds; it is empty and usable afterwards. */
void batch_release(struct batch *b);
/* A reload's new commit_interval_ms: applies to items added from now on. */
void batch_set_interval(struct batch *b, int interval_ms);

/* Readings and events waiting. */
size_t batch_pending(const struct batch *b);
/* Readings waiting. */
size_t batch_readings(const struct batch *b);

/* Copies r (or e) in; taken_ns is when it was taken (CLOCK_MONOTONIC).
 * Aborts if out of memory. */
void batch_add_reading(struct batch *b, const struct reading *r,
                       int64_t taken_ns);
void batch_add_event(struct batch *b, const struct event *e, int64_t taken_ns);

/*
 * When the batch must be committed (CLOCK_MONOTONIC): INT64_MAX while
 * nothing waits, 0 (now) once BATCH_MAX readings wait, otherwise the
 * earliest taken + interval of what waits.
 */
int64_t batch_due_at(const struct batch *b);

/*
 * What to commit next: the oldest readings, at most BATCH_MAX, in
 * *nreadings (they stay the batch's: the pointer is good until the next
 * batch_add_reading(), batch_done() or batch_release()), and every event
 * (in b->events, b->nevents).
 */
struct reading *batch_next(struct batch *b, size_t *nreadings);
/*
 * The n readings batch_next() gave and every event are committed: drops
 * them. What is left (the rest of a backlog) stays due at once. The
 * memory of a large backlog is given back once it is all committed.
 */
void batch_done(struct batch *b, size_t n);

#endif
