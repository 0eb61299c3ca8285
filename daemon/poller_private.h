/* SPDX-License-Identifier: MIT */
/*
 * What the poller's two files share, and nothing else includes: struct
 * poller and the functions one file calls in the other.
 *
 *   poller.c         the thread: its loop on the requests' grids, serving
 *                    a request (connect, read, readings), link state,
 *                    stall detection, start, stop, rebind
 *   poller_missed.c  the slots that passed with no request: their missed
 *                    readings (with why), in time order with a reading
 *                    held back, and the summed `missed` events
 *   poller_device.c  the identities of the bus's instruments (`devices`):
 *                    when they are due, reading them, `device` events
 *
 * Everything here runs on the poller's own thread unless it says
 * otherwise; the fields other threads read are atomics or under lock.
 */
#ifndef TBDAQ_POLLER_PRIVATE_H
#define TBDAQ_POLLER_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/poller.h"
#include "daemon/sched.h"
#include "drivers/bus.h"
#include "lib/device.h"

/* The highest Modbus unit id, for per-unit failure tracking. */
#define POLLER_MAX_UNIT 255

struct poller_request {
    const struct plan_request *req;
    struct grid grid;
    int64_t missed_pending; /* slots missed, not yet in a `missed` event */
    /* The span (CLOCK_MONOTONIC) of the poller's waits for room in the
     * queue since this request was last taken; qwait_to is 0 if it did
     * not wait. A slot missed within it is the daemon's doing. */
    int64_t qwait_from, qwait_to;
    /* The last reading, held back while a slot of this request that began
     * before its response (CLOCK_MONOTONIC held_at) may still be missed:
     * that slot's missed reading goes first. nheld is 0 or nsensors. */
    struct queue_item *held;
    size_t nheld;
    int64_t held_at;
    /* The device answers this request with an exception (logged once,
     * until it answers it properly). */
    bool refused;
};

/* An instrument of the bus (poller_device.c). */
struct poller_device {
    const struct device_conf *conf; /* in the poller's config */
    bool due;                       /* to be read at its unit's next answer */
    bool failing;                   /* the last read failed (logged once) */
};

struct poller {
    const struct config *config;
    const struct bus_conf *busconf;
    struct queue *queue;
    struct bus *bus;
    pthread_t thread;

    pthread_mutex_t lock; /* guards stopping, for the interruptible sleep */
    /* Held by the thread while it serves a request, and by
     * poller_rebind(): the config and plan pointers change only between
     * requests. */
    pthread_mutex_t use;
    pthread_cond_t wake;
    bool stopping;
    int64_t stop_asked; /* when stopping was set (CLOCK_MONOTONIC ns) */
    atomic_bool finished;
    bool joined; /* poller_join() returned: the thread is gone */

    struct poller_request *requests;
    size_t nrequests;
    /* The words of the last request: a register each, or a bit each (0 or
     * 1) on coils and discrete inputs (bus_read()). */
    uint16_t regs[BUS_MAX_BITS];
    /* One per sensor of the largest request. */
    struct queue_item *items;
    size_t nitems;
    /* POLLER_MISSED_CHUNK items for missed readings, pushed that many at a
     * time; allocated at the first miss (a healthy bus never pays). */
    struct queue_item *missed_items;

    /* Link state. */
    atomic_bool down;   /* a bus_down is recorded, no bus_up yet */
    int link_errno;     /* why it is down */
    int64_t down_since; /* CLOCK_MONOTONIC */
    /* When the last connection attempt that failed began (CLOCK_MONOTONIC),
     * or 0: requests whose slots began before it share its result. */
    int64_t connect_failed_at;
    int64_t missed_report_at;
    /* When the thread last began to wait for a slot (CLOCK_MONOTONIC). */
    int64_t idle_since;
    /* Consecutive failed polls per unit while the link is up. */
    uint32_t unit_failures[POLLER_MAX_UNIT + 1];

    /* The instruments of the bus, and the newest identity known of each
     * unit of it (recorded, or given at start). */
    struct poller_device *devices;
    size_t ndevices;
    struct device_log known;
    /* An identity read left the bus closed: the reconnect that follows
     * does not make identities due again. */
    bool device_broke_link;

    atomic_uint_fast64_t polls, failures, readings, missed;

    /* Stall detection (poller.h): by when the thread must be done with
     * what it is doing, CLOCK_MONOTONIC; 0 while it waits on the queue or
     * has ended. The allowance is fixed at start and at rebind. */
    atomic_int_fast64_t due_by;
    atomic_int_fast64_t allowed_ns;
    /* poller_frontier(), set by the thread before each wait for a slot */
    atomic_int_fast64_t frontier;
};

/* --- poller.c ----------------------------------------------------------- */

/* Pushes into the queue; returns false if the queue was closed before all
 * of them were in. Waiting for room is the main thread's doing, not the
 * bus's: that time is not held against the poller's deadline. */
bool poller_push(struct poller *pl, const struct queue_item *items, size_t n);
void poller_push_event(struct poller *pl, struct queue_item it);

/* --- poller_device.c ---------------------------------------------------- */

/* At start: the bus's devices, all due, and the identities known of its
 * units (known may be NULL). */
void poller_devices_init(struct poller *pl, const struct device_log *known);
/* The bus (re)connected: every device is due. */
void poller_devices_connected(struct poller *pl);
/* unit answered again after failing: its device is due. */
void poller_devices_recovered(struct poller *pl, int unit);
/* unit just answered a request: reads its device's identity if due and
 * records it if new or changed. Uses the bus. */
void poller_devices_answered(struct poller *pl, int unit);
/* poller_rebind() to c: the devices of bus_index in c; those configured
 * as before keep their state, the others are due. */
void poller_devices_rebind(struct poller *pl, const struct config *c,
                           size_t bus_index);
void poller_devices_free(struct poller *pl);

/* --- poller_missed.c ---------------------------------------------------- */

/* Remembers, for every request, that the poller waited for the queue from
 * t0 to t1: slots of theirs that pass meanwhile are missed for that. */
void poller_missed_note_wait(struct poller *pl, int64_t t0, int64_t t1);
/* Records the missed slots first .. first + n - 1 of pr and its held
 * reading, if any, in the order of their times. stopping: the poller is
 * ending (a slot not begun yet is missed because of the stop). */
void poller_missed_release(struct poller *pl, struct poller_request *pr,
                           int64_t first, int64_t n, bool stopping);
/* Records as missed the slots of pr that start before before_ns and were
 * neither taken nor recorded yet (and its held reading after those that
 * began before it). */
void poller_missed_skip(struct poller *pl, struct poller_request *pr,
                        int64_t before_ns, bool stopping);
/* Pushes the `missed` events of the slots counted since the last report,
 * one per request, at most every POLLER_MISSED_REPORT_MS unless force. */
void poller_missed_report(struct poller *pl, int64_t now, bool force);

#endif
