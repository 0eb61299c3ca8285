/* SPDX-License-Identifier: MIT */
/*
 * The daemon's end of the control channel (lib/control.h has the
 * protocol): listens, takes requests from allowed peers, carries out `run
 * start|mark|stop` on the daemon's store, and answers `status` from the
 * daemon's live counters. Non-blocking and bounded: at most
 * CHANNEL_CLIENTS_MAX clients, each with CHANNEL_CLIENT_MS to send a
 * request line of at most CONTROL_REQUEST_MAX bytes and take its reply,
 * or it is dropped. Main thread only; the channel owns its sockets.
 *
 * Errors: channel_open() returns NULL with the error logged; nothing
 * else fails: a client in error is dropped, a refused one is told why in
 * its reply, complaints about clients are logged at most once a second
 * (with a count of those held back), and every run started or stopped is
 * logged. The hooks' store is lent: it must outlive the channel.
 */
#ifndef TBDAQ_CHANNEL_H
#define TBDAQ_CHANNEL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/clock.h"
#include "lib/control.h"
#include "lib/store.h"

/* Clients served at once; more are told "busy" and closed. */
#define CHANNEL_CLIENTS_MAX 8
/* What a client gets to send its request and take the reply. */
#define CHANNEL_CLIENT_MS 2000
/* pollfds the daemon's channel uses at most: the listener and clients. */
#define CHANNEL_FDS_MAX (1 + CHANNEL_CLIENTS_MAX)

/* The daemon's live counters, for `status`. The strings are the
 * daemon's, read while the status hook's caller writes the reply. */
struct channel_status {
    int64_t started_us;
    uint64_t recorded, failed_polls, missed_slots, buses_down;
    const char *mqtt;          /* "off", "connected", "disconnected" */
    int64_t backlog;           /* readings not acknowledged by the broker */
    const char *sparkplug;     /* the edge node's state, as mqtt */
    int64_t sparkplug_backlog; /* readings its broker has not */
    const char *db_down;       /* the reason recording is held up, or NULL */
    int64_t last_seq;
    struct clock_status clock;
};

/* What the daemon lends the channel. */
struct channel_hooks {
    struct store *store; /* the daemon's; for the runs */
    void *arg;
    /* Called after the runs changed (start, stop): the daemon re-reads
     * the open run and seals a stopped one once its readings are in. */
    void (*runs_changed)(void *arg);
    /* Called before a run is started or stopped (may be NULL: the run is
     * then held by time): commits every reading taken so far and sets
     * *last_seq to the last seq given, so that the run's seq range draws
     * its line there. Returns 0, or -1 if the database cannot be written
     * (the run command then fails). */
    int (*flush)(void *arg, int64_t *last_seq);
    /* Fills the live counters. runs_changed and status must be set. */
    void (*status)(void *arg, struct channel_status *st);
};

struct channel;

/*
 * Listens on a (a socket file left by a daemon that is gone is replaced;
 * one that answers is not). Returns the channel, or NULL with the error
 * logged. hooks is copied.
 */
struct channel *channel_open(const struct control_addr *a,
                             const struct channel_hooks *hooks);
/* Closes every connection and the listener (and unlinks a socket file);
 * NULL is fine. */
void channel_close(struct channel *c);

/* Fills fds (room for CHANNEL_FDS_MAX) with what to poll; returns how
 * many. c may be NULL (then 0). */
size_t channel_pollfds(const struct channel *c, struct pollfd *fds);
/* The longest the poll may wait for the channel's sake (ms), or INT_MAX. */
int channel_timeout_ms(const struct channel *c);
/*
 * After the poll: accepts, reads, answers (calling the hooks), writes and
 * drops late clients. fds and n as channel_pollfds() filled them, with
 * revents. c may be NULL.
 */
void channel_service(struct channel *c, const struct pollfd *fds, size_t n);

#endif
