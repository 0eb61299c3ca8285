// SPDX-License-Identifier: MIT
/*
 * The runs as verify and prune check batches against them: read once per
 * call into sorted arrays (runs by time with a running maximum end, runs
 * by seq, sealed runs' chain seqs), so that the runs a batch meets are
 * found by a binary search rather than a query per batch.
 */
#include "lib/store_private.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void store_spans_release(struct store_spans *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->v[i].name);
    for (size_t i = 0; i < sp->nseq; i++)
        free(sp->seqv[i].name);
    free(sp->v);
    free(sp->seqv);
    free(sp->chain);
    memset(sp, 0, sizeof(*sp));
}

static int store_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Reads every run into sp, inside the caller's read transaction. */
int store_spans_load(struct store *s, struct store_spans *sp)
{
    sqlite3_stmt *st = NULL;
    int rc;

    sp->loaded = true;
    if (sqlite3_prepare_v2(s->db,
                           s->version >= 4
                               ? "SELECT name, started_us, ended_us, chain_seq,"
                                 " first_seq, last_seq FROM runs"
                                 " ORDER BY started_us, id"
                               : "SELECT name, started_us, ended_us, chain_seq,"
                                 " NULL, NULL FROM runs"
                                 " ORDER BY started_us, id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot read runs");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_span *r;
        const char *name = store_column_text(st, 0);

        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            xgrow(&sp->chain, &sp->chain_cap, sp->nchain + 1,
                  sizeof(*sp->chain));
            sp->chain[sp->nchain++] = sqlite3_column_int64(st, 3);
        }
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            struct store_seqspan *q;

            xgrow(&sp->seqv, &sp->seq_cap, sp->nseq + 1, sizeof(*sp->seqv));
            q = &sp->seqv[sp->nseq++];
            q->name = xstrdup(name ? name : "");
            q->first = sqlite3_column_int64(st, 4);
            q->last = sqlite3_column_type(st, 2) == SQLITE_NULL ||
                              sqlite3_column_type(st, 5) == SQLITE_NULL
                          ? INT64_MAX
                          : sqlite3_column_int64(st, 5);
            continue;
        }
        xgrow(&sp->v, &sp->cap, sp->n + 1, sizeof(*sp->v));
        r = &sp->v[sp->n];
        r->name = xstrdup(name ? name : "");
        r->start = sqlite3_column_int64(st, 1);
        r->end = sqlite3_column_type(st, 2) == SQLITE_NULL
                     ? INT64_MAX
                     : sqlite3_column_int64(st, 2);
        r->max_end = sp->n && sp->v[sp->n - 1].max_end > r->end
                         ? sp->v[sp->n - 1].max_end
                         : r->end;
        sp->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read runs");
    if (sp->nchain > 1)
        qsort(sp->chain, sp->nchain, sizeof(*sp->chain), store_i64_cmp);
    return 0;
}

/* Whether a sealed run's chain seq lies in [first_seq, last_seq]. */
bool store_spans_chain_in(const struct store_spans *sp, int64_t first_seq,
                          int64_t last_seq)
{
    size_t lo = 0, hi = sp->nchain;

    /* lo: the first chain seq at or after first_seq */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sp->chain[mid] < first_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sp->nchain && sp->chain[lo] <= last_seq;
}

/* The name of a run by seq whose range meets [first_seq, last_seq], or
 * NULL if none does. */
const char *store_spans_seq_overlap(const struct store_spans *sp,
                                    int64_t first_seq, int64_t last_seq)
{
    for (size_t i = 0; i < sp->nseq; i++)
        if (sp->seqv[i].first <= last_seq && first_seq <= sp->seqv[i].last)
            return sp->seqv[i].name;
    return NULL;
}

/* The name of a run by time whose [start, end) overlaps [first_ts,
 * last_ts], or NULL if none does. */
const char *store_spans_overlap(const struct store_spans *sp, int64_t first_ts,
                                int64_t last_ts)
{
    size_t lo = 0, hi = sp->n;

    /* lo: how many runs start at or before last_ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sp->v[mid].start <= last_ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || sp->v[lo - 1].max_end <= first_ts)
        return NULL;
    while (lo-- > 0)
        if (sp->v[lo].end > first_ts)
            return sp->v[lo].name;
    return NULL;
}
