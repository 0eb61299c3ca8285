// SPDX-License-Identifier: MIT
/*
 * The batch between the queue and the store (batch.h): a growing array of
 * readings consumed from the front, the events beside it, and the time it
 * is due.
 */
#include "daemon/batch.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void batch_init(struct batch *b, int interval_ms)
{
    *b = (struct batch){.due = INT64_MAX};
    batch_set_interval(b, interval_ms);
}

void batch_release(struct batch *b)
{
    int interval_ms = (int)(b->interval_ns / NS_PER_MS);

    free(b->readings);
    free(b->events);
    batch_init(b, interval_ms);
}

void batch_set_interval(struct batch *b, int interval_ms)
{
    b->interval_ns = (int64_t)interval_ms * NS_PER_MS;
}

size_t batch_readings(const struct batch *b)
{
    return b->nreadings - b->head;
}

size_t batch_pending(const struct batch *b)
{
    return batch_readings(b) + b->nevents;
}

/* Whatever waits is due no later than taken + interval. */
static void batch_due_by(struct batch *b, int64_t taken_ns)
{
    if (taken_ns + b->interval_ns < b->due)
        b->due = taken_ns + b->interval_ns;
}

void batch_add_reading(struct batch *b, const struct reading *r,
                       int64_t taken_ns)
{
    xgrow(&b->readings, &b->capreadings, b->nreadings + 1,
          sizeof(*b->readings));
    b->readings[b->nreadings++] = *r;
    batch_due_by(b, taken_ns);
}

void batch_add_event(struct batch *b, const struct event *e, int64_t taken_ns)
{
    xgrow(&b->events, &b->capevents, b->nevents + 1, sizeof(*b->events));
    b->events[b->nevents++] = *e;
    batch_due_by(b, taken_ns);
}

int64_t batch_due_at(const struct batch *b)
{
    if (batch_pending(b) == 0)
        return INT64_MAX;
    return batch_readings(b) >= BATCH_MAX ? 0 : b->due;
}

struct reading *batch_next(struct batch *b, size_t *nreadings)
{
    size_t n = batch_readings(b);

    *nreadings = n > BATCH_MAX ? BATCH_MAX : n;
    /* no array (only events wait, or its memory went back): no pointer
     * arithmetic on NULL */
    return b->readings ? b->readings + b->head : NULL;
}

void batch_done(struct batch *b, size_t n)
{
    b->nevents = 0;
    b->head += n;
    if (b->head == b->nreadings) {
        b->head = b->nreadings = 0;
        b->due = INT64_MAX;
        /* After a backlog, give its memory back. */
        if (b->capreadings > 2 * BATCH_MAX) {
            free(b->readings);
            b->readings = NULL;
            b->capreadings = 0;
        }
    } else if (b->head >= b->nreadings - b->head) {
        /* Less waits than was committed: cheap to move to the front. */
        memmove(b->readings, b->readings + b->head,
                batch_readings(b) * sizeof(*b->readings));
        b->nreadings -= b->head;
        b->head = 0;
    }
}
