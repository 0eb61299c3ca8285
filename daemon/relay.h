/* SPDX-License-Identifier: MIT */
/*
 * The relay: from the store to the broker. The database is the source of
 * what is published: the relay reads back what was committed and not yet
 * handed to the publisher, oldest first, as far as the publisher's window
 * allows; persists the seq the broker acknowledged (so that a restart
 * publishes again only what was not acknowledged); publishes the chain
 * witness when it is due; and, while the database cannot be written,
 * publishes readings live from memory (seq 0), so the feed goes on.
 *
 * Without an mqtt group (or while the publisher could not be started)
 * nothing is published: relay_index still indexes, relay_prunable still
 * reads the acknowledged seq, every other call does nothing. Main thread only.
 * The relay owns its publisher; the store is the daemon's and must outlive it.
 * Database errors are logged; relay_start also returns them, the other
 * calls try again when next called (another connection's lock on saving
 * the acknowledged seq is retried without a word).
 */
#ifndef TBDAQ_RELAY_H
#define TBDAQ_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/publish.h"
#include "daemon/witness.h"
#include "lib/config.h"
#include "lib/reading.h"
#include "lib/store.h"

/* Readings read back from the database per query for publishing. */
#define RELAY_PAGE 500
/* How often the acknowledged seq is persisted (a restart republishes at
 * most this much that was already delivered). */
#define RELAY_ACKED_SAVE_MS 1000

struct relay {
    struct publisher *pub; /* NULL: not publishing */
    struct store *store;
    int64_t cursor;        /* highest seq handed to the publisher */
    int64_t acked_saved;   /* the acknowledged seq last persisted */
    int64_t acked_save_at; /* next time to persist it, CLOCK_MONOTONIC */
    struct witness_timer witness;
    /* A read of the store that failed is logged once, and its recovery
     * once: the loop tries again every turn. */
    bool read_failing, head_failing;
    /* The configuration's sensors by sensors.id, for the live feed. */
    const struct sensor_conf **by_db_id;
    size_t nby_db_id;
};

/* A relay that publishes nothing yet, reading from s. */
void relay_init(struct relay *r, struct store *s);

/*
 * Starts publishing for configuration c (nothing without its mqtt group)
 * from where acknowledgement stands: a database published from for the
 * first time starts at its end (last_seq, the newest committed seq).
 * started_us is the daemon's start, for the online status. Returns 0, or
 * -1 with the error logged (the relay then stays off).
 */
int relay_start(struct relay *r, const struct config *c, int64_t last_seq,
                int64_t started_us);

/*
 * Publishes what can be in publish_ms (turn, called between tries, must
 * poll the publisher: the daemon's loop turn), persists where
 * acknowledgement stands, publishes the offline status (given offline_ms)
 * and disconnects. The relay is then off; relay_start may start it
 * again.
 */
void relay_stop(struct relay *r, int64_t last_seq, bool db_down, int publish_ms,
                int offline_ms, void (*turn)(void *), void *arg);

/* Frees what is left (a relay stopped, or never started): no network. */
void relay_release(struct relay *r);

/* Indexes c's sensors by database id (store_sync_sensors set them), for
 * relay_live; again after every reload. c must outlive the index. */
void relay_index(struct relay *r, const struct config *c);

/* Publishes reading rd, which the database has not taken, live; run is
 * the open run's name or NULL. */
void relay_live(struct relay *r, const struct reading *rd, const char *run);

/*
 * Hands the publisher what is committed up to last_seq and not yet handed
 * over; persists the acknowledged seq every RELAY_ACKED_SAVE_MS, or now
 * with save_now, unless the database cannot be written (db_down).
 */
void relay_pump(struct relay *r, int64_t last_seq, bool save_now, bool db_down);

/* The chain witness (SPEC "The chain witness"): the newest chain head,
 * published retained every witness_interval_s at the first commit after
 * it, and when stopping. */
void relay_witness(struct relay *r, int64_t last_seq, bool stopping);

/* A reload's witness_interval_s. */
void relay_set_witness_interval(struct relay *r, int interval_s);

/* Whether the publisher runs; its state for status lines ("off",
 * "connected", "disconnected"); the readings up to last_seq not yet
 * acknowledged (0 when off). */
bool relay_on(const struct relay *r);
const char *relay_state(const struct relay *r);
int64_t relay_backlog(const struct relay *r, int64_t last_seq);

/*
 * The highest seq retention may prune: what the broker acknowledged.
 * With c's mqtt group but no publisher running (a reload failed to start
 * it), what was acknowledged when it last ran; without the group,
 * INT64_MAX.
 */
int64_t relay_prunable(const struct relay *r, const struct config *c);

#endif
