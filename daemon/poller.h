/* SPDX-License-Identifier: MIT */
/*
 * A poller is one thread that owns one bus: it serves that bus's requests
 * of the plan on their grids, turns each response (or failure) into one
 * reading per sensor, and pushes readings and events into the queue. A
 * slow or dead device therefore delays only its own bus.
 *
 * Every slot of a request's grid yields exactly one reading per sensor:
 * the slot's response or failure (comm_error; "not connected: ..." while
 * the bus is down, which is tried again at every slot), or, for a slot
 * that passed with no request, a QUALITY_MISSED reading with no value
 * (nraw 0), stamped with the slot's own wall-clock time and an error
 * saying why: the bus was busy with an earlier request, the poller waited
 * for room in the queue, the bus was restarted by a reload, or it stopped
 * before serving the slot. Per sensor, readings are pushed in the order of
 * their times, missed ones included.
 *
 * The poller reads the config and plan it was started with; both must stay
 * alive and unchanged until poller_join() returns (or poller_rebind()
 * gives it others).
 *
 * Errors: poller_start() returns NULL with errno; nothing else fails
 * (out of memory aborts). The thread logs a bus going down and coming
 * back and a unit's first failure and recovery once each, and missed
 * slots summed at most every POLLER_MISSED_REPORT_MS (and when it ends);
 * it reads the identities of the bus's `devices` and records each new or
 * changed one as a `device` event (poller_device.c).
 * Ownership: the caller owns the poller from poller_start() to
 * poller_free(); the thread owns the bus. Threads: every function here is
 * called from one thread (the main one); those that say "any thread" may
 * be called from others. The poller's thread touches nothing outside it
 * but the queue (thread-safe) and the config and plan (read only).
 */
#ifndef TBDAQ_POLLER_H
#define TBDAQ_POLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/device.h"
#include "lib/plan.h"
#include "daemon/queue.h"

/* Missed slots are summed and recorded as events at most this often. */
#define POLLER_MISSED_REPORT_MS 1000
/*
 * Missed readings are pushed this many at a time. A poller that could not
 * run for a long while still records every slot it missed (an hour at
 * 10 ms is 360,000 readings per sensor) but never holds more than this in
 * memory: the queue's back-pressure paces it, and the slots that pass
 * meanwhile are missed in turn and recorded after.
 */
#define POLLER_MISSED_CHUNK 256
/* A push that took this long waited for room in the queue: slots that
 * passed meanwhile are missed for that reason. */
#define POLLER_QUEUE_WAIT_MS 1
/* Why a slot passed with no request: the `error` of its missed reading
 * (stored and published; keep them short and stable). */
#define POLLER_WHY_BUS "bus busy: an earlier request was still running"
#define POLLER_WHY_QUEUE "daemon busy: the poller waited for room in the queue"
#define POLLER_WHY_RELOAD "bus restarted by a reload"
#define POLLER_WHY_STOP "bus stopped before the slot was served"

/*
 * Stall detection. A healthy request ends within a bound its bus settings
 * give, but libmodbus waits up to the byte timeout between the bytes of
 * one response, so a device that dribbles its answer can keep a request
 * going for (bytes x byte timeout). The allowance is the longest a healthy
 * request may take, doubled, plus a margin, so that a slow but working
 * device never trips it:
 *
 *   connect  = TCP: timeout_ms (libmodbus's connect timeout), plus
 *              POLLER_RESOLVE_MS if host is a name rather than an address;
 *              RTU: 0 (opening a tty does not wait)
 *   attempt  = TCP: 2 x timeout_ms (the answer's start within the
 *              response timeout, its rest within one byte timeout, which
 *              is the same on TCP);
 *              RTU: delay_ms + timeout_ms + the time the largest request
 *              and its response take on the line at its baud rate and
 *              character size
 *   request  = 2 x connect + (1 + retries) x attempt
 *              (bus_read() may reconnect once within its attempts)
 *   allowed  = POLLER_STALL_FACTOR x request + POLLER_STALL_MARGIN_MS
 *
 * A bus that is down is tried at every slot: that attempt is the first
 * connect of the request term (a failed one fails the request at once).
 * While the poller waits for a request's slot it is allowed until that
 * slot's deadline plus the allowance, so the requests' intervals need no
 * term of their own. While it waits for room in the queue, which only the
 * main thread can make, or records missed slots, it is never stalled.
 */
#define POLLER_STALL_FACTOR 2
#define POLLER_STALL_MARGIN_MS 5000
/* A host name's lookup (resolv.conf: 5 s per try, 2 tries) on connect. */
#define POLLER_RESOLVE_MS 10000

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
 * it (there must be at least one). since_mono is 0 for a bus polled for
 * the first time; for a bus restarted by a reload it is when its previous
 * poller was asked to stop (CLOCK_MONOTONIC ns): the slots from then to
 * the new grid's first are recorded as missed ("bus restarted by a
 * reload") before its first reading. known (NULL: none) holds the newest
 * identity recorded of each bus and unit: the poller copies those of its
 * bus, and records a device's identity (a `device` event) only if it
 * differs (poller_device.c). Returns NULL with errno if the thread or
 * the bus cannot be created.
 */
struct poller *poller_start(const struct config *c, const struct plan *p,
                            size_t bus_index, struct queue *q,
                            int64_t since_mono, const struct device_log *known);

/*
 * Asks the poller to stop after the request in progress; returns at once.
 * The poller may still be pushing into the queue, which the caller must
 * keep draining until poller_finished() is true.
 */
void poller_request_stop(struct poller *pl);
/* When poller_request_stop() was first called (CLOCK_MONOTONIC ns), or 0.
 * The poller records as missed its slots due before then that it did not
 * serve, and none due after. */
int64_t poller_stop_asked(struct poller *pl);
/* True once the poller's thread has pushed its last item. */
int poller_finished(struct poller *pl);
/*
 * How far the poller's record is complete: a CLOCK_MONOTONIC time such
 * that every reading (missed ones included) it takes at or after it, and
 * none before it, is still to be pushed; INT64_MAX once it has ended. A
 * run's end is drawn in seqs once every poller's frontier has passed it
 * (daemon.c: daemon_settle_runs()). Any thread; never waits.
 */
int64_t poller_frontier(struct poller *pl);
/* Asks the poller to stop (if not yet asked) and BLOCKS until its thread
 * has ended; a second call returns at once; pl must not be NULL. Everything it
 * read is in the queue when this returns. The queue must not be full, or must
 * be closed, or this may wait forever: poller_finished() says when it will not.
 */
void poller_join(struct poller *pl);
/* Frees a poller whose thread was joined (poller_join()); NULL is fine.
 * Freeing one that was not joined aborts: its thread would use the
 * memory. Never waits. */
void poller_free(struct poller *pl);

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

/*
 * The allowance above, in milliseconds, for bus parameters p and requests
 * of at most max_count registers. Pure; for tests and for the poller.
 */
int64_t poller_allowance_ms(const struct bus_params *p, int max_count);

/*
 * How long, in ns, the poller has gone without finishing a request beyond
 * the longest a healthy pass may take on its bus (the allowance above, on
 * top of the slot's deadline while it waits), or 0 while it is healthy.
 * Any thread; never waits.
 */
int64_t poller_stalled_ns(struct poller *pl, int64_t now_mono_ns);
/* The poller's allowance in ns: a stalled request has been going for
 * poller_stalled_ns() + this. Any thread. */
int64_t poller_allowed_ns(struct poller *pl);

/* The name of the poller's bus: it points into the poller's config, valid
 * until poller_rebind() gives it another or that config is freed. */
const char *poller_bus_name(const struct poller *pl);

#endif
