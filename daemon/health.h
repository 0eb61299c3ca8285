/* SPDX-License-Identifier: MIT */
/*
 * The daemon's health, told to the service manager: WATCHDOG=1 every half
 * of WatchdogSec while the main loop turns and every poller makes
 * progress (a bus stuck inside one request longer than its settings allow
 * is what a restart is for: the watchdog is then withheld), and the
 * STATUS= line with the live counters every HEALTH_STATUS_MS.
 *
 * Main thread only; the pollers are the caller's, and so are the strings
 * passed in (read during the call). Nothing fails: a notification that
 * does not arrive is the service manager's to act on (notify.h).
 */
#ifndef TBDAQ_HEALTH_H
#define TBDAQ_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/poller.h"
#include "lib/config.h"

/* How often STATUS= is refreshed. */
#define HEALTH_STATUS_MS 2000

/* The pollers' counters summed up. */
struct health_counts {
    uint64_t failures; /* failed polls */
    uint64_t missed;   /* missed slots */
    uint64_t down;     /* buses not connected */
};

struct health {
    int64_t watchdog_ns;       /* WATCHDOG=1 this often; 0: no watchdog */
    int64_t watchdog_at;       /* next WATCHDOG=1, CLOCK_MONOTONIC */
    int64_t status_at;         /* last STATUS=, CLOCK_MONOTONIC */
    uint64_t status_committed; /* readings committed then */
    /* The first bus found stuck inside a request ("" if none is). */
    char stuck_bus[CONFIG_NAME_MAX + 1];
};

/* Starts counting at now (CLOCK_MONOTONIC), with the manager's watchdog
 * interval (none outside systemd). */
void health_init(struct health *h, int64_t now);

/* The next time health_watchdog has something to do (INT64_MAX: never). */
int64_t health_due_at(const struct health *h);

/* Sends WATCHDOG=1 when due and every poller moves; logs a stuck bus and
 * its recovery once each. */
void health_watchdog(struct health *h, struct poller *const *pollers, size_t n,
                     int64_t now);

/* Sums the pollers' counters. */
void health_count(struct poller *const *pollers, size_t n,
                  struct health_counts *out);

/*
 * Sends STATUS= (the caller calls it every HEALTH_STATUS_MS): readings/s
 * since the last call, committed (in all), the pollers' counters, mqtt ("off",
 * "connected", "disconnected") and backlog, and db_error (the reason the
 * database cannot be written, or NULL).
 */
void health_status(struct health *h, struct poller *const *pollers, size_t n,
                   uint64_t committed, const char *mqtt, int64_t backlog,
                   const char *db_error, int64_t now);

#endif
