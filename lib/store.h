/* SPDX-License-Identifier: MIT */
/*
 * The SQLite store: the record of every reading and event. This module is
 * the only user of SQLite. Schema and guarantees are SPEC's "Database".
 * It is built of parts, lib/store_*.c, which share lib/store_private.h
 * (nothing else includes that).
 *
 * The daemon's main thread owns one read-write store; the CLI opens its own
 * (read-only or read-write) while the daemon runs: WAL mode and a busy
 * timeout make that safe. A struct store is not thread-safe: one thread
 * at a time uses it (separate stores on separate threads are fine; each
 * is its own SQLite connection, opened without SQLite's mutexes).
 *
 * Errors: a function that returns int returns -1 on failure, with the
 * reason, prefixed with what was being done, in store_errmsg() (and
 * store_busy() saying whether another connection's lock was the cause);
 * a failed write leaves the database as it was. Strings and structs handed
 * to a callback belong to the store and are valid during the call only;
 * what the caller passes in stays the caller's. Nothing is logged but by
 * store_open() (a file mode narrowed, a schema upgraded, a trigger put
 * back). Out of memory aborts (inside SQLite, it fails the call).
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

#include "lib/config.h"
#include "lib/reading.h"

/* PRAGMA user_version of the schema this code writes. Versions 1 (no
 * `pruned` table), 2 (no quality 'missed') and 3 (one `sensors` row per
 * tag, descriptions not under the chain), 4, and 5 (readings' CHECK an IN
 * list) are still read, and upgraded by a read-write open. */
#define STORE_SCHEMA_VERSION 6
/* How long a writer waits for another's lock before failing. */
#define STORE_BUSY_TIMEOUT_MS 5000
/* Longest error message kept by the store. */
#define STORE_ERR_MAX 512

struct store;

enum store_mode {
    STORE_READ_WRITE,    /* creates the file and the schema if absent */
    STORE_READ_ONLY,     /* fails if the file is absent */
    STORE_UPDATE,        /* read-write, but fails if the file is absent (the
                            CLI's run commands: never create a database) and
                            never creates the schema in an empty file */
    STORE_READ_SNAPSHOT, /* read-only, for one short command (the CLI's):
                            a file without -wal, which no daemon has opened
                            (an auditor's copy of the file alone), is
                            opened immutable, creating no -wal or -shm
                            beside it; a daemon that starts on it meanwhile
                            is not seen, and must not be */
};

/*
 * Opens (and in read-write mode creates or upgrades, in one transaction)
 * the database at path, defensively in every mode: SQLite's advice for
 * files of uncertain provenance (see store_harden() in store_open.c), and the
 * file must hold exactly the tables, columns, indexes and trigger that
 * tbdaq makes, else it is refused before anything is read ("'x.db' is not
 * a tbdaq database: table 'readings' has no column 'raw'"). Only the
 * immutability trigger may be missing (verify then finds what changed);
 * a read-write open puts it back. In read-write mode the files are made
 * 0640 (less the umask), and wider modes of existing ones are narrowed
 * to it, with a warning logged.
 * Returns the store, or NULL with a message in err ("cannot open
 * '/x/y.db': unable to open database file"; in read-only and update mode
 * a missing file is "cannot open '/x/y.db': no such database"). Refuses a
 * database whose user_version is newer than STORE_SCHEMA_VERSION, and a
 * file that is not a tbdaq database (a refused file is left untouched).
 */
struct store *store_open(const char *path, enum store_mode mode,
                         char err[STORE_ERR_MAX]);
/* Closes the database and frees s (the caller's from store_open()); NULL
 * is fine. */
void store_close(struct store *s);

/* The last error of this store, as text; never NULL. */
const char *store_errmsg(const struct store *s);
/* Whether the last failure was another connection holding the database
 * locked (SQLITE_BUSY or SQLITE_LOCKED past the busy timeout): it passes
 * by itself, unlike a full disk. */
bool store_busy(const struct store *s);
/* How long a statement waits for another connection's lock before it
 * fails (STORE_BUSY_TIMEOUT_MS after store_open()). */
void store_set_busy_timeout(struct store *s, int ms);

/*
 * A read snapshot: several reads that see the database as it was at one
 * instant, whatever another connection (the daemon) commits meanwhile.
 * store_snapshot_begin() opens a read transaction and reads once, which
 * fixes what this connection sees; every store read called until
 * store_snapshot_end() runs inside it. The reads that take a transaction
 * of their own to be consistent (store_status(), store_export*(),
 * store_sensor_infos*(), store_runs(), store_run_get(), store_run_open(),
 * store_verify*(), store_config_at(), store_config_files()) join it
 * instead; the others are single statements, inside it anyway. For a
 * command that reads one thing several times: `tbdaq export` (its passes
 * and its manifest), `tbdaq status` (its lines and tables).
 *
 * Only reads: inside a snapshot the connection is query-only, and a write
 * function (store_commit_batch(), store_run_start(), store_set_state(),
 * ...) fails with -1 and changes nothing; the snapshot stays open.
 *
 * Cost: in WAL mode it does not block the writer, nor the writer it; but
 * a checkpoint cannot copy into the database the pages committed after
 * the snapshot began, so the -wal file grows for as long as one is held.
 * Hold it for one command (an export of millions of rows is seconds),
 * never for the life of a process.
 *
 * store_snapshot_begin() returns 0, or -1 with store_errmsg() ("cannot
 * begin a snapshot: one is already open", or SQLite's error); nothing is
 * then open. store_snapshot_end() ends it and returns 0, or -1 if a
 * database error had rolled its transaction back before (then the reads
 * since are not known to be of one snapshot: the caller must not trust
 * them; a read function inside it fails then too, "...: the snapshot
 * ended early"); without a snapshot open it does nothing and returns 0.
 * store_close() ends an open snapshot too.
 */
int store_snapshot_begin(struct store *s);
int store_snapshot_end(struct store *s);

/*
 * Makes the sensors table agree with the config. A sensor's description
 * (kind, unit, bus, unit_id, table, address, type, byte order, scale,
 * offset, interval, range, calibration) is kept in one row per version:
 * a sensor whose newest version (of schema 4: see README, "Description
 * versions") describes it as the config does keeps that row; any other
 * gets a new row, version one more than its newest (1 for a new tag).
 * Rows are never changed: readings taken under an older version keep
 * it. Sets each sensor's db_id to its row. Returns 0, or -1 (nothing
 * changed).
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

/* Convenience: one event in its own transaction (start, stop, config).
 * Returns 0 or -1. */
int store_add_event(struct store *s, const char *kind, const char *detail);

/* The newest reading of each sensor (tag), across its description
 * versions, for `tbdaq status`; kind, unit and bus are those of the
 * version that reading was taken under (or of the newest version, if the
 * tag has no reading). */
struct store_sensor_status {
    /* The newest reading (run and version unset): only row.sensor,
     * row.kind and row.unit count unless has_reading. */
    struct reading_row row;
    const char *bus;
    bool has_reading;
    bool pruned; /* no reading kept: retention pruned the newest */
};

/* Per bus: comm_error and missed readings since since_us, and in all. */
struct store_bus_status {
    const char *bus;
    int64_t errors_recent;
    int64_t errors_total;
    int64_t readings_total;
    int64_t missed_recent;
    int64_t missed_total;
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
/* The same for the Sparkplug B edge node (its own broker). */
#define STORE_STATE_SPARKPLUG_ACKED "sparkplug_acked_seq"
#define STORE_STATE_PRUNE                                                      \
    "prune_batch" /* highest batch id retention has                            \
                     decided: pruned or kept */

/* No more automatic checkpoints after commits (each is several syncs of
 * the disk): a stop's commits are then as short as they can be, and the
 * close copies the write-ahead log into the file, or store_keep_wal(). */
void store_no_checkpoints(struct store *s);
/* Leaves the write-ahead log as it is when s is closed (no checkpoint,
 * no syncs): the next connection to open the file reads it. For a stop
 * that has no time left; copies of the file then need its -wal. */
void store_keep_wal(struct store *s);

/* Reads a state value. Returns 0, 1 if the key is absent (*value is then
 * 0), or -1. */
int store_get_state(struct store *s, const char *key, int64_t *value);
/* Writes a state value in its own transaction (and drops what was staged
 * for key, which is older). Returns 0 or -1. */
int store_set_state(struct store *s, const char *key, int64_t value);
/*
 * Stages a state value to be written inside the next batch's transaction
 * (store_commit_batch()) instead of one of its own: a sync of the disk
 * fewer. A later stage of the same key replaces it; a failed batch keeps
 * it staged. key must outlive the store (one of the STORE_STATE_ names);
 * at most STORE_STAGED_MAX keys at once (more: written at once instead).
 */
#define STORE_STAGED_MAX 4
int store_stage_state(struct store *s, const char *key, int64_t value);
/* Whether key has a staged value not written yet. */
bool store_state_staged(const struct store *s, const char *key);

/*
 * Calls fn for up to limit readings with seq > after_seq, in seq order,
 * each with its run (version 0); the strings are valid during the call
 * only. A non-zero return from fn stops early. Returns how many rows fn
 * saw, or -1.
 */
int store_readings_after(struct store *s, int64_t after_seq, size_t limit,
                         int (*fn)(const struct reading_row *, void *),
                         void *arg);

/* The highest seq in readings, 0 if none. Returns 0 or -1. */
int store_last_seq(struct store *s, int64_t *seq);

/* ---- Runs (issue 4) ------------------------------------------------- */

/* The callbacks of the run functions must not call the store: the run
 * is read inside a read transaction. */

/* A run as stored; strings valid during the callback only. */
struct store_run {
    int64_t id;
    const char *name;
    int64_t started_us;
    bool ended;
    int64_t ended_us;          /* meaningful if ended */
    const char *operator_name; /* or NULL */
    const char *note;          /* or NULL */
    const char *config_sha256; /* of the config in force at start, or NULL
                                  if no daemon had recorded one */
    const char *chain_head;    /* set when the run is sealed, else NULL */
    int64_t chain_seq;         /* last seq the chain head covers, or 0 */
    /* Membership (store_run_scope()): a run the daemon started records
     * the seqs it drew its lines at. An exact run (schema 5 on) holds
     * the readings of [first_seq, last_seq] taken in [started, ended),
     * the times checked only at its edges: a reading of seq up to
     * start_edge_seq may have been taken before the start (those after
     * it were all taken after: the daemon draws it once every poller has
     * handed over what it took before the start), one past stop_edge_seq
     * after the stop (those up to it were handed over before the stop);
     * last_seq is drawn once everything taken before the stop is
     * committed. So a wall-clock step during the run takes nothing out,
     * and one after it puts nothing in. An edge not drawn yet checks
     * every reading's time; no last_seq yet: no upper bound. A run of
     * schema 4 (exact false) holds its seq range whatever the times;
     * first_seq 0: a run of an older database, holding started <= ts <
     * ended. */
    int64_t first_seq;
    int64_t last_seq; /* if ended and first_seq > 0; INT64_MAX: not yet */
    bool exact;
    int64_t start_edge_seq; /* exact: -1 while not drawn */
    int64_t stop_edge_seq;  /* exact and ended */
    int64_t readings;       /* its readings (so far, if open) */
};

/*
 * Which readings a run holds, or an export's window: those whose seq is
 * in [first_seq, last_seq] and whose time is at or after from_us unless
 * their seq is past from_seq, and before to_us unless their seq is at
 * most to_seq (a run's edges; a window checks every time: INT64_MAX and
 * -1). An unbounded side is 1 or INT64_MAX (seqs), INT64_MIN or
 * INT64_MAX (times).
 */
struct store_scope {
    int64_t first_seq, last_seq;
    int64_t from_us, to_us;
    int64_t from_seq, to_seq;
};

/* The readings run r holds (see struct store_run). */
void store_run_scope(const struct store_run *r, struct store_scope *sp);
/* The readings taken in [from_us, to_us). */
void store_window_scope(int64_t from_us, int64_t to_us, struct store_scope *sp);

/*
 * Opens a run named name (the caller checked its characters) at now_us,
 * recording operator, note (either may be NULL), the config SHA-256 of the
 * newest `config` event and a `run_start` event (detail "NAME" or "NAME
 * (operator: WHO)"), in one transaction. first_seq > 0: the run holds the
 * readings from that seq on (the daemon passes the next seq it will give,
 * having committed everything taken before); 0: by time, as older
 * databases' runs.
 * Returns 0, or -1 with a message: "run 'X' already exists", "run 'Y' is
 * still open; stop it first".
 */
int store_run_start(struct store *s, const char *name,
                    const char *operator_name, const char *note, int64_t now_us,
                    int64_t first_seq);

/*
 * Closes the open run at now_us (if name is not NULL it must be the open
 * run's name; a now_us before its start ends it at its start) and records
 * a `run_stop` event (detail: the name). last_seq, for a run of schema 4
 * only (not exact, with a first seq): the last seq it holds (the daemon
 * passes the last it gave, having committed everything taken before); an
 * exact run's is drawn later (store_runs_settle()). Does not seal it
 * (see store_run_seal). Returns 0, or -1: "no
 * run is open", "run 'X' is not open (the open run is 'Y')", "run 'X' is
 * not open".
 */
int store_run_stop(struct store *s, const char *name, int64_t now_us,
                   int64_t last_seq);

/*
 * Draws the edges still open of every exact run: its start edge, and if
 * it ended its last seq, as last_seq, which the daemon passes once every
 * reading taken before those starts and stops is committed (it follows
 * its pollers for that; at its start, what a daemon before it left is all
 * in the file). Returns how many runs changed (0 on a file older than
 * schema 5), or -1.
 */
int store_runs_settle(struct store *s, int64_t last_seq);

/* Calls fn for each run by start time; returns 0, -1 or fn's non-zero. */
int store_runs(struct store *s, int (*fn)(const struct store_run *, void *),
               void *arg);
/* Calls fn for the run named name. Returns 0, -1 (a database error), or
 * 1 if there is no such run (no message needed). */
int store_run_get(struct store *s, const char *name,
                  int (*fn)(const struct store_run *, void *), void *arg);
/* Calls fn for the open run if there is one; returns 0, -1, or 1 if none. */
int store_run_open(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg);

/*
 * Seals every ended, unsealed run: records the current chain head and the
 * last seq it covers with the run (64 zeros and 0 if no batch exists yet);
 * for a run with a seq range, the head of the batch that holds its last
 * seq (the current head if none does yet); an exact run only once its
 * last seq is drawn (store_runs_settle()). The daemon calls it after a
 * commit that holds readings taken after the run's end. Calls fn (may be NULL)
 * for each run sealed, after the commit. Returns how many were sealed, or -1.
 * Cheap when there is nothing to seal (one read of the runs table, no write
 * lock).
 */
int store_run_seal(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg);

/* The steps SQLite's virtual machine has taken in this store's prepared
 * statements since it was opened: a count of work that depends on
 * neither the machine nor its load, for tests of how a cost grows. */
int64_t store_vm_steps(struct store *s);

/* PRAGMA data_version: changes when another connection committed. Cheap;
 * the daemon calls it every loop to notice run changes from the CLI.
 * Returns -1 (message set) on a database error. */
int64_t store_data_version(struct store *s);

/* ---- Audit chain (issue 4) ---------------------------------------------- */

/*
 * Every store_commit_batch() that writes readings also writes, in the same
 * transaction, one row of the chain: hash = SHA-256 of the previous batch's
 * hash (64 hex digits; 64 zeros for the first batch) followed by the
 * canonical form of each of its readings in seq order. The canonical form
 * is documented in the README ("Audit chain").
 */

/* The newest chain hash and the last seq it covers ("" and 0 before any). */
int store_chain_head(struct store *s, char head[SHA256_HEX_LEN],
                     int64_t *last_seq);

struct store_verify_result {
    bool ok;
    int64_t batches;         /* batches recomputed from their readings */
    int64_t readings;        /* readings checked */
    int64_t pruned_batches;  /* batches pruned by retention: only their
                                links are checked */
    int64_t pruned_readings; /* readings those batches held */
    int64_t bad_batch;       /* the first batch that fails (its id), or 0 */
    int64_t bad_seq;         /* the first seq that fails, or 0 if unknown */
    int64_t descriptions;    /* sensor description versions checked */
    int64_t configs;         /* configurations (with their files) checked */
    /* Where the first failure is, when bad_seq names a reading that is
     * still there: its sensor (tag), its time and, for "seq N was
     * changed", the value its raw words decode to under its sensor's
     * description version (type, byte order, scale, offset). */
    char tag[128]; /* "" if unknown */
    bool has_ts;
    int64_t ts_us;
    bool has_decoded; /* raw words that fit the type */
    double decoded;
    char raw[5 * 4 + 1]; /* the words as stored, "" if none */
    bool no_trigger;     /* the file lacks the immutability trigger */
    int64_t uncovered;   /* description versions older than schema 4:
                            not under the chain, not checked */
    char what[256];      /* e.g. "seq 1234 was changed", "seq 1234 was
                            deleted", "seq 99 is in no batch (inserted)" */
};

/*
 * Recomputes the chain over every batch that overlaps [from_seq, to_seq]
 * (0, INT64_MAX: all), in id order, checks that the first of them follows
 * the stored hash of the batch before it (or starts the chain) and each
 * the one before, and that every reading in that range belongs to a
 * batch. A batch pruned by retention (a `pruned` row) cannot be
 * recomputed: it must hold no reading any more, must not overlap a run,
 * and is checked by its links only. Stops at the first failure, in seq
 * order; `what` is one of "seq N was deleted", "seq N was changed", "seq N
 * is in no batch (inserted)", "seq N is in a pruned batch (inserted)",
 * "readings of run 'X' were pruned", "batch N's hash was altered", "batch
 * N does not follow batch M", "batch N does not start the chain", "batch
 * N's seq range was altered". One read transaction; memory grows with the
 * runs only. Returns 0 with the result filled in (ok or not), or -1 on a
 * database error.
 */
int store_verify(struct store *s, int64_t from_seq, int64_t to_seq,
                 struct store_verify_result *out);

/*
 * store_verify() over the run named name: from the first to the last seq
 * of its readings (its seq range, or started <= ts < ended for a run
 * without one; out->readings counts them), extended to its chain_seq if
 * sealed, and then, for a sealed run, checks that its chain_head is the
 * hash of the batch whose last seq is chain_seq ("run 'X''s chain head
 * does not match batch N"). Returns 0 with the result, -1 on a database
 * error, or 1 if there is no such run (no message needed).
 */
int store_verify_run(struct store *s, const char *name,
                     struct store_verify_result *out);

/* ---- Retention (issue 5) ---------------------------------------------- */

struct store_prune_result {
    int64_t batches;  /* batches whose readings were deleted by this call */
    int64_t readings; /* readings deleted by this call */
    int64_t damaged;  /* batches passed over because they do not verify
                         (kept as evidence; `tbdaq verify` names them) */
    bool more;        /* stopped at max_readings: call again soon */
};

/*
 * One pruning step in one short transaction: deletes the readings of whole
 * batches that are older than before_us (their newest reading is) and that
 * no run covers, oldest first, stopping once about max_readings are
 * deleted (whole batches: it may exceed it by one batch). A run covers a
 * batch when its seq range (to +infinity while open) meets the batch's,
 * or for a run without one, when [started, ended) (ended: +infinity
 * while open) overlaps the batch's readings' times; or when the batch
 * holds the run's chain_seq. A
 * batch whose readings do not hash to its stored hash is never pruned.
 * Each pruned batch keeps its `batches` row and gets a `pruned` row;
 * sensor_last's counts follow. Progress is kept in the state
 * STORE_STATE_PRUNE, so each batch is looked at until decided, once.
 * Batches passed over (covered or damaged) count towards max_readings as
 * well, so that one call's work stays bounded. Returns 0, or -1
 * (store_errmsg). STORE_READ_WRITE only.
 *
 * Nor does it prune past max_seq: the daemon passes the highest seq the
 * MQTT broker acknowledged, so that a reading is never deleted before it
 * was delivered (INT64_MAX: no such bound).
 */
int store_prune(struct store *s, int64_t before_us, int64_t max_seq,
                size_t max_readings, struct store_prune_result *res);

/* ---- Export (issue 4) ------------------------------------------------- */

/*
 * Streams the readings with from_us <= ts_us < to_us, of the given sensor
 * tags (all if nsensors == 0), ordered by ts_us then sensor tag then seq,
 * to fn (each row with its version; run NULL), without holding more
 * than one row in memory. One read transaction (or the caller's
 * snapshot): a consistent state of the file while the daemon writes.
 * Returns the number of rows delivered, or -1 on a database error
 * (message set) or if fn returned non-zero (then fn reports its own
 * error). Unknown tags simply match nothing: check them with
 * store_sensor_infos() first.
 */
int64_t store_export(struct store *s, int64_t from_us, int64_t to_us,
                     const char *const *sensors, size_t nsensors,
                     int (*fn)(const struct reading_row *, void *), void *arg);
/* store_export() over the readings of scope (a run's, store_run_scope()),
 * in the same order. */
int64_t store_export_scope(struct store *s, const struct store_scope *scope,
                           const char *const *sensors, size_t nsensors,
                           int (*fn)(const struct reading_row *, void *),
                           void *arg);

/* A version of a sensor's description, with its counts in a window, for
 * the export manifest. */
struct store_sensor_info {
    const char *tag;
    int64_t version; /* 1, 2, ... per tag */
    bool newest;     /* the tag's newest version */
    int bit;         /* a bit sensor's bit, or -1 (the whole value) */
    const char *kind;
    const char *unit;
    const char *bus;
    int unit_id;
    const char *table;
    int address;
    const char *type;
    const char *byte_order;
    double scale;
    double offset;
    int interval_ms;
    bool has_range_lo, has_range_hi; /* else unbounded */
    double range_lo, range_hi;
    bool has_span;       /* a reading of this version is in the window */
    int64_t first_ts_us; /* its first and last reading in the window */
    int64_t last_ts_us;
    const char *cal_date; /* each NULL if absent */
    const char *cal_due;
    const char *cal_certificate;
    int64_t good, out_of_range, invalid, comm_error, missed; /* in the
                                                                window */
};

/* Calls fn for each description version with readings in the window, or
 * for every version of the given tags if nsensors > 0, ordered by tag
 * then version. Returns 0, -1, or fn's non-zero return;
 * 1 with a message if a given tag is unknown ("unknown sensor 'X'"). */
int store_sensor_infos(struct store *s, int64_t from_us, int64_t to_us,
                       const char *const *sensors, size_t nsensors,
                       int (*fn)(const struct store_sensor_info *, void *),
                       void *arg);
/* store_sensor_infos() with the counts of the readings of scope (a
 * run's) instead of a window's. */
int store_sensor_infos_scope(struct store *s, const struct store_scope *scope,
                             const char *const *sensors, size_t nsensors,
                             int (*fn)(const struct store_sensor_info *,
                                       void *),
                             void *arg);

/* Calls fn for each event with from_us <= ts_us < to_us in order (of
 * time, then seq); detail may be NULL. Returns 0, -1 or fn's non-zero. */
int store_events(struct store *s, int64_t from_us, int64_t to_us,
                 int (*fn)(int64_t ts_us, const char *kind, const char *detail,
                           void *),
                 void *arg);

/* ---- Configurations (issue 11) --------------------------------------- */

/* A file of a stored configuration; strings and bytes valid during the
 * callback only. */
struct store_config_file {
    int64_t config_id;
    int64_t ts_us;    /* when the daemon applied the configuration */
    int idx;          /* 0: the main file; then the files it includes */
    const char *name; /* the main file's path as given to the daemon; an
                         included file's name as its @include gives it */
    const void *bytes;
    size_t len;
    char sha256[SHA256_HEX_LEN]; /* of the bytes, as stored now */
};

/*
 * The configuration in force at at_us (INT64_MAX: the newest), i.e. the
 * newest one the daemon applied (at start or reload, stored by
 * store_sync_sensors() with every file it includes) at or before it.
 * Returns 0 with *id, 1 if there is none (or the file's schema is older
 * than 4, which stored none), or -1.
 */
int store_config_at(struct store *s, int64_t at_us, int64_t *id);

/* Calls fn for each file of configuration id, main file first. Returns 0,
 * -1 or fn's non-zero return. */
int store_config_files(struct store *s, int64_t id,
                       int (*fn)(const struct store_config_file *, void *),
                       void *arg);

/* The site recorded by the daemon (state table is integers, so kept in
 * a `meta` table: key 'site'), or NULL if none or on a database error
 * (message set; the two look alike); owned by the store, valid until the
 * next call or store_close(). */
const char *store_site(struct store *s);
/* Records the site (the daemon does at start). Returns 0 or -1. */
int store_set_site(struct store *s, const char *site);

/* ---- Chain witness (issue 11) ------------------------------------------ */

/*
 * The chain at seq (>= 1), for `verify --witness`: the stored hash of the
 * first batch whose readings reach seq (last_seq >= seq), and that batch's
 * last seq. The chain has a head at seq when *batch_last_seq == seq; a
 * greater one means seq falls inside a batch, where no head was ever
 * published. The stored hash is what verify recomputes: run store_verify()
 * too. Returns 0, 1 if no batch reaches seq (the chain ends before it:
 * head "" and *batch_last_seq 0), or -1 on a database error.
 */
int store_chain_at(struct store *s, int64_t seq, char head[SHA256_HEX_LEN],
                   int64_t *batch_last_seq);

/* ---- Verification report (issue 16) ---------------------------------- */

/* A reading as the report's figures need it (lib/report.h). */
struct store_report_row {
    int64_t seq;
    int64_t sensor_db_id; /* sensors.id: its description version */
    int64_t ts_us;
    bool has_value;
    double value; /* meaningless unless has_value */
    enum quality quality;
};

/*
 * Calls fn for each reading of scope (a run's: store_run_scope()), in no
 * particular order (a run's seq range comes in seq order), holding one
 * row in memory. One read transaction (or the caller's snapshot).
 * Returns 0, -1 on a database error or a quality that is none of SPEC's
 * ("seq N has an unknown quality 'X'"), or fn's first non-zero return.
 */
int store_report_readings(struct store *s, const struct store_scope *scope,
                          int (*fn)(const struct store_report_row *, void *),
                          void *arg);
/* Calls fn for every version of every sensor's description with its row
 * id (sensors.id), ordered by tag then version; the counts and span of
 * the info are not set. Returns 0, -1 or fn's first non-zero return. */
int store_report_sensors(struct store *s,
                         int (*fn)(int64_t db_id,
                                   const struct store_sensor_info *, void *),
                         void *arg);

#endif
