/* SPDX-License-Identifier: MIT */
/*
 * Retention's pacing: one short pruning step at a time between commits
 * (store_prune() does the deleting and knows what may never go), at once
 * while there is more to do, every RETENTION_IDLE_MS once caught up, and
 * a log line for what was deleted at most once a minute. Main thread only;
 * the store is the caller's. Nothing is returned: a failed step is logged
 * once per streak and tried again after RETENTION_IDLE_MS, and batches
 * kept because they do not verify are logged as a warning.
 */
#ifndef TBDAQ_RETENTION_H
#define TBDAQ_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/store.h"

/* Readings deleted by one step: a transaction of a few ms. */
#define RETENTION_STEP 2000
/* How often to look for readings that have come of age once caught up
 * (and to try again after a failed step), and how often to report. */
#define RETENTION_IDLE_MS 10000
#define RETENTION_REPORT_MS 60000

struct retention {
    int64_t at; /* next step, CLOCK_MONOTONIC */
    bool more;  /* the last step left work: the next is due at once */
    bool failing;
    int64_t report_at;
    int64_t pruned, pruned_batches; /* since the last report */
};

/*
 * Takes one step if one is due at now (CLOCK_MONOTONIC): deletes readings
 * older than days (counted back from the wall clock; 0 or less: none)
 * that no run covers and whose seq is at most max_seq (what the broker
 * has acknowledged). A failure is logged once per streak and tried again
 * later.
 */
void retention_step(struct retention *rt, struct store *s, int days,
                    int64_t max_seq, int64_t now);

/* Whether a step is due at once (the last one left work). */
bool retention_busy(const struct retention *rt);

#endif
