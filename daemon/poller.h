/* SPDX-License-Identifier: MIT */
/*
 * A poller is one thread that owns one bus: it serves that bus's requests
 * of the plan on their grids, turns each response (or failure) into one
 * reading per sensor, and pushes readings and events into the queue. A
 * slow or dead device therefore delays only its own bus.
 *
 * The poller reads the config and plan it was started with; both must stay
 * alive and unchanged until poller_stop() returns.
 */
#ifndef TBDAQ_POLLER_H
#define TBDAQ_POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/plan.h"
#include "daemon/queue.h"

/* First and longest wait between reconnection attempts to a bus. */
#define POLLER_BACKOFF_MIN_MS 100
#define POLLER_BACKOFF_MAX_MS 10000
/* Missed slots are summed and recorded as events at most this often. */
#define POLLER_MISSED_REPORT_MS 1000

struct poller;

/* Counters a poller keeps; read with poller_stats() from any thread. */
struct poller_stats {
    uint64_t polls;    /* requests attempted */
    uint64_t failures; /* requests that yielded comm_error readings */
    uint64_t readings;
    uint64_t missed; /* slots missed */
    int connected;
};

/*
 * Starts the poller of bus bus_index for those requests of p that are on
 * it (there must be at least one). Returns NULL with errno if the thread or
 * the bus cannot be created.
 */
struct poller *poller_start(const struct config *c, const struct plan *p,
                            size_t bus_index, struct queue *q);

/*
 * Asks the poller to stop after the request in progress; returns at once.
 * The poller may still be pushing into the queue, which the caller must
 * keep draining until poller_finished() is true.
 */
void poller_request_stop(struct poller *pl);
/* True once the poller's thread has pushed its last item. */
int poller_finished(struct poller *pl);
/* Stops the poller (if not yet asked), waits for its thread and frees it.
 * Everything it read is in the queue when this returns. The queue must not
 * be full, or must be closed, or this may wait forever. */
void poller_stop(struct poller *pl);

void poller_stats(struct poller *pl, struct poller_stats *out);
/*
 * If bus bus_index of c, and the requests of p on it, are exactly what the
 * poller serves (same bus settings, same requests, same sensors decoded
 * the same way), makes the poller use c and p from its next request on,
 * keeping its grids, and returns 1: a reload then leaves this bus polling
 * without a gap, and the old config and plan may be freed. Returns 0 (and
 * changes nothing) if anything differs, and -1 if the poller is inside a
 * request: drain the queue and call again. Never waits.
 */
int poller_rebind(struct poller *pl, const struct config *c,
                  const struct plan *p, size_t bus_index);

/* The name of the poller's bus. */
const char *poller_bus_name(const struct poller *pl);

#endif
