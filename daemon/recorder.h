/* SPDX-License-Identifier: MIT */
/*
 * The recorder: what stands between the queue and the store on the main
 * thread. It gathers readings and events into the batch, commits them
 * when they are due (commit_interval_ms from when each was taken), and
 * rides out a database that cannot be written: another connection's lock
 * (waited out in short steps, an outage only past RECORDER_BUSY_GRACE_MS),
 * a full disk or I/O errors (an outage at once). During an outage
 * readings wait in memory up to buffer_readings, newer ones are counted as
 * lost, every reading is handed to the live callback, and the outage's
 * start and end are recorded as the events db_down and db_up.
 *
 * Main thread only; the store is the caller's and must outlive it. An
 * outage is logged when it begins and when it ends (with what was lost),
 * not at each failed commit.
 */
#ifndef TBDAQ_RECORDER_H
#define TBDAQ_RECORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/batch.h"
#include "daemon/queue.h"
#include "lib/store.h"

/* While commits fail, one is tried this often; sooner while another
 * connection holds the lock, which passes by itself. */
#define RECORDER_RETRY_MS 1000
#define RECORDER_BUSY_RETRY_MS 50
/* A lock held longer than this is an outage (logged, db_down, the live
 * feed); a shorter one (a CLI's transaction) only delays the commit. */
#define RECORDER_BUSY_GRACE_MS 1000
/* Events held while the database cannot be written (readings:
 * buffer_readings). */
#define RECORDER_EVENTS_MAX 10000

/* Called with every reading taken while the database cannot be written
 * (and with those already waiting when that begins). */
typedef void recorder_live_fn(void *arg, const struct reading *r);

struct recorder {
    struct store *store;
    struct batch batch;
    int buffer_readings;
    recorder_live_fn *live;
    void *live_arg;
    /* CLOCK_MONOTONIC in ns: time_mono_ns, or a test's own clock (set
     * after recorder_init()) that drives the busy grace period and the
     * retries without waiting. */
    int64_t (*mono_ns)(void);

    uint64_t committed; /* readings, since init */
    int64_t last_seq;   /* of the newest committed reading (0: none yet) */
    int64_t last_ts_us; /* its time */

    uint64_t failures;     /* consecutive failed commits */
    int64_t failing_since; /* the first of them, CLOCK_MONOTONIC */
    int64_t retry_at;      /* next attempt, CLOCK_MONOTONIC */
    bool down;             /* an outage: logged and recorded */
    int64_t down_us;       /* when it began, UTC */
    char error[STORE_ERR_MAX];
    uint64_t lost, lost_events; /* not recorded: the buffer was full */
    int64_t took_ns;            /* the last commit's duration (0: none yet) */
    int64_t lost_first_us, lost_last_us;
};

/* An empty recorder committing to s, with c's commit_interval_ms and
 * buffer_readings; live (may be NULL) with arg as said above. */
void recorder_init(struct recorder *rc, struct store *s, const struct config *c,
                   recorder_live_fn *live, void *arg);
/* A reload's commit_interval_ms and buffer_readings. */
void recorder_configure(struct recorder *rc, const struct config *c);
/* Frees what waits (it is lost: commit first). */
void recorder_release(struct recorder *rc);

/* Takes an item from the queue (taken_ns set), or an event of the
 * caller's own (taken_ns 0: now). */
void recorder_take(struct recorder *rc, const struct queue_item *it);
void recorder_event(struct recorder *rc, struct queue_item it);

/* When the next commit is due (CLOCK_MONOTONIC): INT64_MAX while nothing
 * waits; while commits fail, the next attempt. */
int64_t recorder_due_at(const struct recorder *rc);
/*
 * Commits the oldest BATCH_MAX readings that wait, with every event.
 * Returns 0, or -1 if the store refused (what waits is kept, and the next
 * attempt is due at recorder_due_at()).
 */
int recorder_commit(struct recorder *rc);

/*
 * Whether the recorder should take no more readings for now: commits work
 * but buffer_readings (at least BATCH_MAX) already wait, the database
 * not keeping up (a slow disk, more readings than the machine can
 * record). The caller then leaves them in the queue, whose back-pressure
 * makes pollers wait and miss slots (recorded): a sustained overload
 * shows as missed slots, never as a batch that grows until memory runs
 * out, while a stall shorter than the buffer costs nothing. While commits
 * fail (another connection's lock within its grace period, an outage) the
 * recorder takes everything: a short lock only delays commits, and
 * during an outage readings go to the live feed and buffer_readings
 * bounds what is kept.
 */
bool recorder_full(const struct recorder *rc);

/* How long the last commit took (0 before the first): the disk's speed
 * now, by which the stop starts no commit that cannot end within its
 * budget. */
int64_t recorder_commit_ns(const struct recorder *rc);

/* Readings and events waiting; readings waiting. */
size_t recorder_pending(const struct recorder *rc);
size_t recorder_waiting(const struct recorder *rc);
/* Whether an outage is under way, and SQLite's reason for it. */
bool recorder_down(const struct recorder *rc);
const char *recorder_error(const struct recorder *rc);

#endif
