// SPDX-License-Identifier: MIT
/*
 * Retention: deletes the readings of old batches, one batch at a time in
 * a write transaction per call, keeping each batch's row (the chain still
 * links) and recording the gap in pruned; batches a run covers, and
 * batches that no longer hash to their hash, are kept.
 */
#include "lib/store_private.h"

#include <string.h>

#include "common/util.h"

/*
 * Pruning walks the chain in id order from the cursor (the state
 * STORE_STATE_PRUNE: every batch up to it is decided), one batch at a
 * time, in one write transaction per call:
 *
 * - a batch whose newest reading is not older than the cut-off ends the
 *   step without moving the cursor: it may be pruned later, and the later
 *   batches are (but for clock steps) newer still;
 * - a batch a run covers is kept for good and passed over: runs are never
 *   deleted, and a run started later starts at its "now", after every
 *   reading old enough to be pruned, so it cannot come to cover a batch
 *   passed over before (the check and the pruning are under the write
 *   lock, which starting a run takes too). An open run covers everything
 *   from its start on, so its batches are kept as they come;
 * - a batch that does not hash to its stored hash (a reading changed or
 *   deleted) is passed over and kept: deleting it would erase the
 *   evidence that verify reports;
 * - any other batch loses its readings and gains a pruned row.
 */

/* Reads the first batch after id; *found false if none. */
static int store_prune_next(struct store *s, int64_t after,
                            struct store_batch *b, bool *found)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_NEXT];
    int rc;

    sqlite3_bind_int64(st, 1, after);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        b->id = sqlite3_column_int64(st, 0);
        b->first_seq = sqlite3_column_int64(st, 1);
        b->last_seq = sqlite3_column_int64(st, 2);
        b->n = sqlite3_column_int64(st, 3);
        store_hash_column(st, 4, b->prev_hash);
        store_hash_column(st, 5, b->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/* The earliest and latest time of batch b's readings, and how many it
 * still has (times 0 if none). */
static int store_prune_span(struct store *s, const struct store_batch *b,
                            int64_t *first_ts, int64_t *last_ts, int64_t *count)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_SPAN];
    int rc;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *first_ts = sqlite3_column_int64(st, 0);
        *last_ts = sqlite3_column_int64(st, 1);
        *count = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read batch %lld", (long long)b->id);
    return 0;
}

/* Whether batch b's readings still hash to its stored hash. */
static int store_prune_intact(struct store *s, const struct store_batch *b,
                              bool *intact)
{
    struct store_walk w = {s->stmt[STMT_PRUNE_READINGS], false, 0};
    struct store_verify_result scratch;
    bool bad = true;
    int ret;

    memset(&scratch, 0, sizeof(scratch));
    sqlite3_bind_int64(w.rd, 1, b->first_seq);
    sqlite3_bind_int64(w.rd, 2, b->last_seq);
    ret = store_walk_next(s, &w);
    if (ret == 0)
        ret = store_verify_batch(s, &w, b, &scratch, &bad);
    sqlite3_reset(w.rd);
    s->canon_len = 0;
    *intact = !bad;
    return ret;
}

/* Takes batch b's readings off sensor_last's counts. A sensor whose
 * newest reading goes keeps its last_seq: `tbdaq status` then finds no
 * such reading and shows none. */
static int store_prune_counts(struct store *s, const struct store_batch *b)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_COUNTS];
    sqlite3_stmt *up = s->stmt[STMT_PRUNE_LAST];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
        sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 1));
        if ((ret = store_step(s, STMT_PRUNE_LAST,
                              "cannot update sensor_last")) < 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot count batch %lld", (long long)b->id);
    sqlite3_reset(st);
    return ret;
}

/* Deletes batch b's readings and records it in pruned. */
static int store_prune_batch(struct store *s, const struct store_batch *b,
                             int64_t first_ts, int64_t last_ts, int64_t count)
{
    sqlite3_stmt *del = s->stmt[STMT_PRUNE_DELETE];
    sqlite3_stmt *ins = s->stmt[STMT_PRUNE_INSERT];

    if (store_prune_counts(s, b) < 0)
        return -1;
    sqlite3_bind_int64(del, 1, b->first_seq);
    sqlite3_bind_int64(del, 2, b->last_seq);
    if (store_step(s, STMT_PRUNE_DELETE, "cannot prune readings") < 0)
        return -1;
    sqlite3_bind_int64(ins, 1, b->id);
    sqlite3_bind_int64(ins, 2, first_ts);
    sqlite3_bind_int64(ins, 3, last_ts);
    sqlite3_bind_int64(ins, 4, count);
    sqlite3_bind_int64(ins, 5, time_real_us());
    return store_step(s, STMT_PRUNE_INSERT, "cannot record pruned batch");
}

int store_prune(struct store *s, int64_t before_us, int64_t max_seq,
                size_t max_readings, struct store_prune_result *res)
{
    struct store_spans runs = {NULL, 0, 0, NULL, 0, 0, NULL, 0, 0, false};
    struct store_batch b;
    int64_t cursor = 0, start, first_ts = 0, last_ts = 0, count = 0;
    uint64_t work = 0;
    bool found = false, intact, tags = false;

    memset(res, 0, sizeof(*res));
    memset(&b, 0, sizeof(b));
    if (s->mode != STORE_READ_WRITE)
        return store_errorf(s, "cannot prune '%s': not opened read-write",
                            s->path);
    if (max_readings == 0)
        max_readings = 1;
    if (store_step(s, STMT_BEGIN, "cannot prune") < 0 ||
        store_get_state(s, STORE_STATE_PRUNE, &cursor) < 0)
        goto fail;
    start = cursor;
    for (;;) {
        if (work >= max_readings) {
            res->more = true;
            break;
        }
        if (store_prune_next(s, cursor, &b, &found) < 0)
            goto fail;
        if (!found)
            break;
        if (store_prune_span(s, &b, &first_ts, &last_ts, &count) < 0)
            goto fail;
        /* A batch with no readings left and no pruned row is a deletion
         * for verify to report: passed over, like a damaged one. */
        if ((count > 0 && last_ts >= before_us) || b.last_seq > max_seq)
            break;
        work += (uint64_t)(b.n > 0 ? b.n : 1);
        cursor = b.id;
        if (count == 0 || count != b.n) {
            res->damaged++;
            continue;
        }
        /* Covered: the run's times (seqs, for a run with a seq range)
         * overlap the batch's, or the batch is
         * the one the run's chain head names. */
        if (!runs.loaded && store_spans_load(s, &runs) < 0)
            goto fail;
        if (store_spans_overlap(&runs, first_ts, last_ts) ||
            store_spans_seq_overlap(&runs, b.first_seq, b.last_seq) ||
            store_spans_chain_in(&runs, b.first_seq, b.last_seq))
            continue;
        /* Hash with the tags the file holds, as verify does. */
        if (!tags && store_tags_load(s) < 0)
            goto fail;
        tags = true;
        if (store_prune_intact(s, &b, &intact) < 0)
            goto fail;
        if (!intact) {
            res->damaged++;
            continue;
        }
        if (store_prune_batch(s, &b, first_ts, last_ts, count) < 0)
            goto fail;
        res->batches++;
        res->readings += count;
    }
    if (cursor != start && store_set_state(s, STORE_STATE_PRUNE, cursor) < 0)
        goto fail;
    if (store_step(s, STMT_COMMIT, "cannot prune") < 0)
        goto fail;
    store_spans_release(&runs);
    return 0;
fail:
    store_rollback(s);
    store_spans_release(&runs);
    memset(res, 0, sizeof(*res));
    return -1;
}
