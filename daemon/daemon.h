/* SPDX-License-Identifier: MIT */
/*
 * The daemon's state and its lifecycle, for daemon/main.c (the loop that
 * turns between them), daemon/daemon.c and daemon/reload.c only: start
 * (open the store, record the start, the outputs, the control channel, the
 * pollers) and stop (pollers, the last commits, the outputs) in daemon.c,
 * reload (a new configuration beside the old, swapped in only if valid)
 * in reload.c, each within SPEC's budgets.
 *
 * Every module the daemon is made of has its own header and its own
 * state (the recorder, the outputs, the run watch, retention, the clock
 * watch, health, the channel): struct daemon holds one of each and the
 * few things they share (the configuration and plan, the store, the
 * queue, the pollers). Main thread only, but the pollers' threads read
 * config and plan until they are stopped.
 *
 * Ownership: struct daemon owns its config, plan, store, queue, items,
 * pollers and channel: daemon_stop() frees the pollers, daemon_release()
 * the rest. config_path, want_stop and stop_signalled are main.c's (the
 * last two set by its signal thread). Errors are logged where they
 * happen; a poll(2) that fails in daemon_poll_once() is fatal (logged, exit 1).
 */
#ifndef TBDAQ_DAEMON_H
#define TBDAQ_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/channel.h"
#include "daemon/clock.h"
#include "daemon/health.h"
#include "daemon/poller.h"
#include "daemon/queue.h"
#include "daemon/recorder.h"
#include "daemon/outputs.h"
#include "daemon/retention.h"
#include "daemon/runwatch.h"
#include "lib/config.h"
#include "lib/device.h"
#include "lib/plan.h"
#include "lib/store.h"

/* Items taken from the queue at once. */
#define DAEMON_POP_MAX 1024

struct daemon {
    const char *config_path;
    bool verbose; /* -v: debug logging whatever the config says */
    struct config *config;
    struct plan plan;
    struct store *store;
    struct queue *queue;
    struct queue_item *items; /* DAEMON_POP_MAX, for queue_pop */
    struct poller **pollers;
    size_t npollers;
    int64_t started_us; /* UTC, for the online status's "since" */

    struct recorder rec;    /* the batch, its commits, outages */
    struct outputs outputs; /* the store to the brokers */
    struct runwatch runs;   /* the open run, sealing */
    struct retention retention;
    struct clock_watch clock; /* the wall clock's synchronisation, steps */
    struct health health;     /* watchdog and STATUS= */
    struct channel *channel;  /* the control channel */
    /* The newest identity of each bus and unit: from the database at
     * start, then from the `device` events the pollers push; what a
     * poller started (or restarted by a reload) compares with. */
    struct device_log devices;

    /* Stopping: asked by a signal (main.c sets it) or after a failure. */
    atomic_bool *want_stop;
    atomic_int_fast64_t *stop_signalled; /* when the signal came, or 0 */
    int64_t stop_seen; /* when a stop was first noticed, CLOCK_MONOTONIC */
    bool failed;       /* stopping because of a failure: exit 1 */
    bool abandoned;    /* a poller was left inside a request at stop */
};

/*
 * Opens the store of d->config (loaded, with its plan built), records
 * the start, starts the outputs and the control channel and seals what
 * ended while no daemon ran. Returns 0, or -1 with the error logged
 * (then daemon_release cleans up). The pollers start later
 * (daemon_start_pollers), once the signal thread runs.
 */
int daemon_start(struct daemon *d);

/* Starts a poller for every bus with requests; d->queue must exist.
 * Returns 0, or -1 if one could not be started (logged). */
int daemon_start_pollers(struct daemon *d);

/* Applies the configuration file again if it is valid; otherwise keeps
 * the running one (see SPEC Signals), logs why and records a
 * `reload_failed` event. A poller that cannot be started fails the
 * daemon (daemon_fail()). */
void daemon_reload(struct daemon *d);

/*
 * The stop: pollers (within the stop's budget counted from the signal),
 * the last commits, the chain witness, the outputs. Returns 0, or -1 if
 * readings taken could not be committed in time (logged).
 */
int daemon_stop(struct daemon *d);

/* Frees what is left. Not after daemon_stop left a poller behind
 * (d->abandoned): its thread still reads the config and plan. */
void daemon_release(struct daemon *d);

/*
 * Waits until the queue has items, the publisher or the channel has
 * something to do, or deadline (CLOCK_MONOTONIC) passes; then services
 * the publisher, takes what the queue holds into the recorder (until it is
 * full: recorder_full()) and services the control channel.
 */
void daemon_poll_once(struct daemon *d, int64_t deadline);

/*
 * Draws the edges of the exact runs started or stopped, once every poller
 * has pushed what it took before the change (struct store_run, poller.h:
 * poller_frontier()): takes the queue, commits, and records them. Does
 * nothing until then, or while the database is down; a database error is
 * logged and it is tried again at the next call. Main loop only.
 */
void daemon_settle_runs(struct daemon *d);

/* Whether the daemon is to stop; the first time it says so it notes
 * when, for the budgets of everything after. */
bool daemon_stopping(struct daemon *d);

/* Stops the daemon because something failed: it exits 1, so that the
 * service manager's Restart=on-failure applies. */
void daemon_fail(struct daemon *d);

/* ---- Between daemon.c and reload.c (the lifecycle's two files) ---- */

/* The publisher's share of the stop budget (DAEMON_STOP_MS in daemon.c):
 * publishing what can be, then the offline status. A reload that
 * reconnects MQTT spends the same. */
#define DAEMON_STOP_PUBLISH_MS 700
#define DAEMON_STOP_OFFLINE_MS 500

/* One turn of waiting on pollers: poll, commit when due, publish, keep
 * the watchdog informed (arg: the daemon). */
void daemon_turn(void *arg);
/* One turn of waiting on the publisher as it says goodbye: poll and
 * service only, no commit (arg: the daemon). */
void daemon_publish_turn(void *arg);
/* Whether plan p has requests on bus b. */
bool daemon_plan_uses_bus(const struct plan *p, size_t b);
/* Fills d->pollers: for every bus of d->plan with requests, kept[bus]
 * (kept may be NULL) or a new poller, since[bus] (may be NULL) when its
 * previous one was asked to stop. Returns 0, or -1 if one could not be
 * started (logged; the others are in d->pollers all the same). */
int daemon_pollers_from(struct daemon *d, struct poller **kept,
                        const int64_t *since);
/* Stops the n pollers in list (frees them), taking from the queue
 * meanwhile, until deadline (CLOCK_MONOTONIC; 0: as long as it takes,
 * unless a stop is asked, then the stop's budget); one still inside a
 * request then is left behind (d->abandoned). */
void daemon_stop_list(struct daemon *d, struct poller **list, size_t n,
                      int64_t deadline);

#endif
