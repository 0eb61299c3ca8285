/* SPDX-License-Identifier: MIT */
/*
 * The daemon's outputs (output.h), driven as one: started and stopped
 * with the configuration, polled by the main loop, pumped after every
 * commit; each one's acknowledged seq persisted in the state table under
 * its own key, and retention held back to the slowest of them.
 *
 * A database published from for the first time by an output starts at
 * its end (its earlier readings are not published by that output).
 * Database errors are logged; outputs_start also says whether one failed
 * to start (it then stays off until the next start or reload); another
 * connection's lock on saving an acknowledged seq is retried quietly.
 * Main thread only. The list owns its outputs; the store is the
 * daemon's and must outlive it.
 */
#ifndef TBDAQ_OUTPUTS_H
#define TBDAQ_OUTPUTS_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/output.h"
#include "lib/config.h"
#include "lib/reading.h"
#include "lib/store.h"

/* How often the acknowledged seqs are persisted (a restart republishes at
 * most this much that was already delivered, and up to a batch more):
 * staged, to ride in the next batch's transaction, and written in one of
 * their own only when no batch has taken them for twice as long. */
#define OUTPUTS_ACKED_SAVE_MS 1000
/* Outputs at most (one per ops table in output_kinds). */
#define OUTPUTS_MAX 4

struct output_slot {
    const struct output_ops *ops;
    void *o;             /* NULL: not running */
    int64_t acked_saved; /* the acknowledged seq last persisted or staged */
    int64_t acked_save_at;
    int64_t staged_at; /* when what is staged was first (0: nothing) */
};

struct outputs {
    struct output_slot slot[OUTPUTS_MAX];
    size_t n; /* every known kind, running or not */
    struct store *store;
    const char *version;
    int64_t started_us;
    /* The configuration's sensors by sensors.id, for the live feed. */
    const struct config *indexed;
    const struct sensor_conf **by_db_id;
    size_t nby_db_id;
};

/* A list of every kind of output, none running, reading from s. */
void outputs_init(struct outputs *l, struct store *s, const char *version,
                  int64_t started_us);

/* Starts every output configuration c wants that is not running, from
 * where its acknowledgement stands. Returns 0, or -1 if one could not be
 * started (logged; the others run). */
int outputs_start(struct outputs *l, const struct config *c, int64_t last_seq);

/*
 * A reload from old to nc, in two steps. First, while old still lives:
 * stops (as outputs_stop) the outputs nc does not want or wants otherwise
 * (none when old is NULL: outputs started under a configuration that is
 * kept alive go on). Then, nc in force: tells the outputs still running
 * of nc and starts what nc wants that is not running (one that cannot
 * start stays off until the next good reload, logged).
 */
void outputs_stop_changed(struct outputs *l, const struct config *old,
                          const struct config *nc, int64_t last_seq,
                          bool db_down, int publish_ms, int offline_ms,
                          void (*turn)(void *), void *arg);
void outputs_reconfigure(struct outputs *l, const struct config *nc,
                         int64_t last_seq);

/*
 * Publishes what can be in publish_ms (turn, called between tries, must
 * poll the outputs: the daemon's loop turn), persists where each one's
 * acknowledgement stands (unless db_down), and stops every output (each
 * given offline_ms to say goodbye). Each may be started again.
 */
void outputs_stop(struct outputs *l, int64_t last_seq, bool db_down,
                  int publish_ms, int offline_ms, void (*turn)(void *),
                  void *arg);

/* Frees what is left (outputs stopped, or never started): no network. */
void outputs_release(struct outputs *l);

/* Fills fds (room for OUTPUTS_MAX) for poll(2); returns how many. And
 * lowers *timeout_ms to what the outputs allow. */
size_t outputs_pollfds(const struct outputs *l, struct pollfd *fds,
                       int *timeout_ms);
/* After poll(2): fds and n as outputs_pollfds() filled them. */
void outputs_service(struct outputs *l, const struct pollfd *fds, size_t n);

/*
 * Hands each output what is committed up to last_seq; stages the
 * acknowledged seqs for the next batch every OUTPUTS_ACKED_SAVE_MS (or
 * writes them now with save_now), unless the database cannot be written
 * (db_down).
 */
void outputs_pump(struct outputs *l, int64_t last_seq, bool save_now,
                  bool db_down);

/* Indexes c's sensors by database id (store_sync_sensors set them), for
 * outputs_live; again after every reload. c must outlive the index. */
void outputs_index(struct outputs *l, const struct config *c);
/* A reading the database has not taken, to every output that offers a
 * live feed; run is the open run's name or NULL. */
void outputs_live(struct outputs *l, const struct reading *rd, const char *run);
/* The run topics, to every output that has them. */
void outputs_set_run(struct outputs *l, const char *payload);
void outputs_seal_run(struct outputs *l, const char *name, const char *payload);

/* Whether the output named name runs; its state for status lines ("off",
 * "connected", "disconnected"); the readings up to last_seq it has not
 * delivered (0 when off). */
bool outputs_on(const struct outputs *l, const char *name);
const char *outputs_state(const struct outputs *l, const char *name);
int64_t outputs_backlog(const struct outputs *l, const char *name,
                        int64_t last_seq);

/*
 * The highest seq retention may prune: the lowest seq acknowledged by
 * the outputs c wants (for one that is not running, what it had
 * acknowledged when it last ran; never having run, nothing); INT64_MAX
 * when c wants none.
 */
int64_t outputs_prunable(const struct outputs *l, const struct config *c);

#endif
