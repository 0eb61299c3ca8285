/* SPDX-License-Identifier: MIT */
/*
 * Following test runs. Runs are opened and closed through the control
 * channel (daemon/channel.c, which says so with runwatch_changed), or by
 * another writer of the database (seen in PRAGMA data_version). The run
 * watch keeps the open run's name for the live feed (and the run just
 * closed, for readings taken before its end that come later), publishes
 * the run state, says when an exact run's last seq may be drawn (once
 * every poller's frontier has passed the moment the change was noticed:
 * the daemon draws it, then calls runwatch_settled()), and seals a closed
 * run (its chain head recorded and published) once a reading taken after
 * that moment is committed, so that every reading taken before the run's
 * end is under the head.
 *
 * Main thread only. A zeroed struct is a watch that knows no run yet. The
 * watch owns its copy of the run's name (runwatch_release() frees it);
 * the store and the outputs are the caller's. Nothing is returned: a
 * failure to read or seal the runs is logged.
 */
#ifndef TBDAQ_RUNWATCH_H
#define TBDAQ_RUNWATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/outputs.h"
#include "daemon/payload.h"
#include "lib/store.h"

struct runwatch {
    char *name;         /* the open run, as last seen (NULL: none) */
    int64_t started_us; /* its start */
    char *closed;       /* the run closed last, until settled (or NULL) */
    int64_t closed_started_us, closed_ended_us;
    int64_t settle_after; /* CLOCK_MONOTONIC: draw the last seqs of exact
                             runs once the pollers are past it; 0: none */
    int64_t data_version;
    bool changed;          /* the control channel changed the runs */
    bool seal_pending;     /* a run may have ended: seal it when... */
    int64_t seal_after_us; /* ...a reading later than this is committed */
};

/* The control channel opened or closed a run. */
void runwatch_changed(struct runwatch *w);

/* Whether the edges of exact runs may be drawn now: a run started or
 * stopped, and frontier (the pollers' earliest, CLOCK_MONOTONIC) has
 * passed the moment it was noticed. */
bool runwatch_settle_due(const struct runwatch *w, int64_t frontier);
/* The daemon drew the edges (store_runs_settle()): seal at the next
 * runwatch_follow(). */
void runwatch_settled(struct runwatch *w);

/*
 * Re-reads the open run if the runs may have changed (or with force) and
 * publishes the run state through outs (may be NULL); seals ended runs
 * once last_ts_us (the newest committed reading's time) passes the moment
 * the change was seen plus commit_interval_ms, or at once with force (at
 * start: every reading before it is committed). Errors are logged; a
 * failed seal is tried again at the next call.
 */
void runwatch_follow(struct runwatch *w, struct store *s, struct outputs *outs,
                     int64_t last_ts_us, int commit_interval_ms, bool force);

/* The run a reading taken at ts_us belongs to, for the live feed (the
 * open one, or the one just closed until its last seq is drawn), or
 * NULL: the watch's copy, valid until the next runwatch_follow(),
 * runwatch_settled() or runwatch_release(). */
const char *runwatch_run_at(const struct runwatch *w, int64_t ts_us);

void runwatch_release(struct runwatch *w);

#endif
