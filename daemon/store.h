/* SPDX-License-Identifier: MIT */
/*
 * The SQLite store: the record of every reading and event. This module is
 * the only user of SQLite. Schema and guarantees are SPEC's "Database".
 *
 * The daemon's main thread owns one read-write store; the CLI opens its own
 * (read-only or read-write) while the daemon runs: WAL mode and a busy
 * timeout make that safe. A struct store is not thread-safe.
 *
 * Durability: every batch is one transaction with synchronous=FULL, so a
 * committed batch survives power loss, and a crash loses only the batch
 * that was being built.
 */
#ifndef TBDAQ_STORE_H
#define TBDAQ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/reading.h"

/* PRAGMA user_version of the schema this code writes. */
#define STORE_SCHEMA_VERSION 1
/* How long a writer waits for another's lock before failing. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Longest error message kept by the store. */
#define STORE_ERR_MAX 512

struct store;

enum store_mode {
    STORE_READ_WRITE, /* creates the file and the schema if absent */
    STORE_READ_ONLY,  /* fails if the file is absent */
};

/*
 * Opens (and in read-write mode creates or upgrades) the database at path.
 * Returns the store, or NULL with a message in err ("cannot open
 * '/x/y.db': unable to open database file"). Refuses a database whose
 * user_version is newer than STORE_SCHEMA_VERSION, and a file that is not
 * a tbdaq database (a refused file is left untouched).
 */
struct store *store_open(const char *path, enum store_mode mode,
                         char err[STORE_ERR_MAX]);
void store_close(struct store *s);

/* The last error of this store, as text; never NULL. */
const char *store_errmsg(const struct store *s);

/*
 * Makes the sensors table agree with the config: inserts a row for each
 * sensor tag not yet there, updates the descriptive columns of those that
 * are (readings keep their sensor_id), and sets each sensor's db_id.
 * Sensors no longer configured keep their rows (old readings need them).
 * Returns 0, or -1 (nothing changed).
 */
int store_sync_sensors(struct store *s, struct config *c);

/*
 * Writes readings and events in one transaction: all or nothing. On
 * success sets each reading's seq (strictly increasing, in array order)
 * and returns 0; on failure returns -1, nothing is written, and the caller
 * still holds everything to try again.
 */
int store_commit_batch(struct store *s, struct reading *r, size_t nr,
                       const struct event *ev, size_t nev);

/* Convenience: one event in its own transaction (start, stop, config). */
int store_add_event(struct store *s, const char *kind, const char *detail);

/* The newest reading of each sensor, for `tbdaq status`. */
struct store_sensor_status {
    const char *tag;
    const char *kind;
    const char *unit;
    const char *bus;
    bool has_reading;
    int64_t seq;
    int64_t ts_us;
    bool has_value;
    double value;
    const char *quality;
    const char *error; /* NULL unless comm_error */
};

/* Per bus: comm_error readings since since_us, and in all. */
struct store_bus_status {
    const char *bus;
    int64_t errors_recent;
    int64_t errors_total;
    int64_t readings_total;
};

/*
 * Calls fn for each sensor (ordered by tag) and then bus_fn for each bus
 * (ordered by name); either may be NULL to skip it. Buses are those named
 * in the sensors table, removed sensors' included. Everything comes from
 * one snapshot of the database. The strings are valid during the call
 * only. Returns 0, -1 on a database error, or the first non-zero return
 * of fn or bus_fn.
 *
 * Cost: the newest readings and both error counts use indexes (a lookup
 * per sensor; the error counts grow with the comm_error rows only), but
 * readings_total counts index entries: linear in the readings (tens of
 * millions per second).
 */
int store_status(struct store *s, int64_t since_us,
                 int (*fn)(const struct store_sensor_status *, void *),
                 int (*bus_fn)(const struct store_bus_status *, void *),
                 void *arg);

/* Keys of the state table: small integers the daemon keeps across
 * restarts. */
#define STORE_STATE_MQTT_ACKED "mqtt_acked_seq" /* highest seq acknowledged */

/* Reads a state value; an absent key reads as 0. Returns 0 or -1. */
int store_get_state(struct store *s, const char *key, int64_t *value);
/* Writes a state value in its own transaction. Returns 0 or -1. */
int store_set_state(struct store *s, const char *key, int64_t value);

/* A committed reading with its sensor's description, as read back. */
struct store_row {
    int64_t seq;
    const char *tag;
    const char *kind;
    const char *unit;
    int64_t ts_us;
    bool has_value;
    double value;
    const char *quality;
    const char *error; /* NULL unless comm_error */
};

/*
 * Calls fn for up to limit readings with seq > after_seq, in seq order;
 * the strings are valid during the call only. A non-zero return from fn
 * stops early. Returns how many rows fn saw, or -1.
 */
int store_readings_after(struct store *s, int64_t after_seq, size_t limit,
                         int (*fn)(const struct store_row *, void *),
                         void *arg);

/* The highest seq in readings, 0 if none. Returns 0 or -1. */
int store_last_seq(struct store *s, int64_t *seq);

#endif
