// SPDX-License-Identifier: MIT
/*
 * Verify: walks the audit chain over a range of seqs (or a run's), hashes
 * each batch again from the readings, descriptions and configurations it
 * covers, and checks the links, the gaps retention left (they must be
 * recorded in pruned) and that every reading lies under the description
 * version in force at its seq. The first failure is reported; store_blame.c
 * then names what changed.
 */
#include "lib/store_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/util.h"

/* Records the first failure in out; returns 0 (for the walk to stop). */
__attribute__((format(printf, 4, 5))) int
store_verify_fail(struct store_verify_result *out, int64_t batch, int64_t seq,
                  const char *fmt, ...)
{
    va_list ap;

    out->ok = false;
    out->bad_batch = batch;
    out->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(out->what, sizeof(out->what), fmt, ap);
    va_end(ap);
    return 0;
}

/* Copies a hash column into buf ("" if NULL or not a hash). */
void store_hash_column(sqlite3_stmt *st, int i, char buf[SHA256_HEX_LEN])
{
    const char *t = (const char *)sqlite3_column_text(st, i);

    snprintf(buf, SHA256_HEX_LEN, "%s", t ? t : "");
}

/* Feeds s->canon to h once it holds a chunk (or always, if all). */
static void store_verify_flush(struct store *s, struct sha256 *h, bool all)
{
    if (all || s->canon_len >= VERIFY_CHUNK) {
        sha256_update(h, s->canon, s->canon_len);
        s->canon_len = 0;
    }
}

int store_walk_next(struct store *s, struct store_walk *w)
{
    int rc = sqlite3_step(w->rd);

    w->rd_row = rc == SQLITE_ROW;
    if (w->rd_row)
        w->rd_seq = sqlite3_column_int64(w->rd, 0);
    else if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read readings");
    return 0;
}

static int store_verify_descs(struct store *s, const struct store_batch *b,
                              struct store_verify_result *out);

/*
 * Hashes batch b from its readings (the walk's cursor is on the first
 * reading at or after b's first seq) and leaves the cursor past b.
 * *bad is set if a seq is missing or the hash differs.
 */

int store_verify_batch(struct store *s, struct store_walk *w,
                       const struct store_batch *b,
                       struct store_verify_result *out, bool *bad)
{
    struct sha256 *h = sha256_new();
    char hash[SHA256_HEX_LEN];
    int64_t expect = b->first_seq;

    *bad = false;
    s->canon_len = 0;
    sha256_update(h, b->prev_hash, strlen(b->prev_hash));
    while (w->rd_row && w->rd_seq <= b->last_seq) {
        if (w->rd_seq != expect)
            *bad = true;
        expect = w->rd_seq + 1;
        if (out->ok && !store_vers_check(s, w->rd, out, b->id))
            *bad = true;
        if (store_canon_row(s, w->rd) < 0 || store_walk_next(s, w) < 0) {
            sha256_finish_hex(h, hash);
            return -1;
        }
        out->readings++;
        store_verify_flush(s, h, false);
    }
    store_verify_flush(s, h, true);
    if (store_verify_descs(s, b, out) < 0) {
        sha256_finish_hex(h, hash);
        return -1;
    }
    store_verify_flush(s, h, true);
    sha256_finish_hex(h, hash);
    if (expect != b->last_seq + 1 || strcmp(hash, b->hash) != 0)
        *bad = true;
    return 0;
}

/* The batch before id: its id, last seq and hash (0, 0 and 64 zeros if
 * none). */
static int store_batch_before(struct store *s, int64_t id,
                              struct store_batch *prev)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_BEFORE];
    int rc;

    memset(prev, 0, sizeof(*prev));
    memcpy(prev->hash, store_zero_hash, SHA256_HEX_LEN);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        prev->id = sqlite3_column_int64(st, 0);
        prev->last_seq = sqlite3_column_int64(st, 1);
        store_hash_column(st, 2, prev->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/* The first batch that reaches seq: *found false if none. */
static int store_batch_reaching(struct store *s, int64_t seq,
                                struct store_batch *b, bool *found)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_ENDING];
    int rc;

    memset(b, 0, sizeof(*b));
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        b->id = sqlite3_column_int64(st, 0);
        b->first_seq = sqlite3_column_int64(st, 1);
        b->last_seq = sqlite3_column_int64(st, 2);
        store_hash_column(st, 3, b->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/*
 * Checks a batch's place in the chain: it must follow the previous one's
 * hash and seqs. Returns true if it does (else out is filled in).
 */
static bool store_verify_link(const struct store_batch *prev,
                              const struct store_batch *b,
                              struct store_verify_result *out)
{
    if (strcmp(b->prev_hash, prev->hash) != 0) {
        if (prev->id == 0)
            store_verify_fail(out, b->id, 0,
                              "batch %lld does not start the chain",
                              (long long)b->id);
        else
            store_verify_fail(out, b->id, 0,
                              "batch %lld does not follow batch %lld",
                              (long long)b->id, (long long)prev->id);
        return false;
    }
    if (b->first_seq <= prev->last_seq || b->last_seq < b->first_seq ||
        b->n != b->last_seq - b->first_seq + 1) {
        store_verify_fail(out, b->id, 0, "batch %lld's seq range was altered",
                          (long long)b->id);
        return false;
    }
    return true;
}

/* The batches in id order from a given one on, with their pruned row
 * (columns 6..9, NULL if none). A version 1 file has no pruned table. */
static const char store_batches_sql[] =
    "SELECT b.id, b.first_seq, b.last_seq, b.prev_hash, b.hash, b.n,"
    " p.batch_id, p.first_ts_us, p.last_ts_us, p.readings FROM batches AS b"
    " LEFT JOIN pruned AS p ON p.batch_id = b.id WHERE b.id >= ?1"
    " ORDER BY b.id";
static const char store_batches_v1_sql[] =
    "SELECT id, first_seq, last_seq, prev_hash, hash, n, NULL, NULL, NULL,"
    " NULL FROM batches WHERE id >= ?1 ORDER BY id";

/* Whether the file has the pruned table (version 2), in the snapshot of
 * the caller's read transaction: a daemon may upgrade the file while a
 * reader has it open. */
static int store_has_pruned(struct store *s, bool *has)
{
    int64_t n = 0;

    if (store_query_int(s,
                        "SELECT count(*) FROM sqlite_master WHERE"
                        " type = 'table' AND name = 'pruned'",
                        &n) < 0)
        return store_fail(s, "cannot read the schema");
    *has = n > 0;
    return 0;
}

/*
 * Checks batch b that retention pruned (the walk's cursor is on the first
 * reading at or after its first seq): none of its readings may be left,
 * and no run may overlap the times its pruned row records, else someone
 * hid the deletion of a run's readings behind a forged pruned row. Its
 * hash cannot be recomputed; its links were checked by the caller.
 * Returns true if it passes (else out is filled in), -1 on error.
 */
static int store_verify_pruned(struct store *s, const struct store_walk *w,
                               const struct store_batch *b, int64_t first_ts,
                               int64_t last_ts, struct store_spans *runs,
                               struct store_verify_result *out)
{
    const char *run;

    if (w->rd_row && w->rd_seq <= b->last_seq) {
        store_verify_fail(out, b->id, w->rd_seq,
                          "seq %lld is in a pruned batch (inserted)",
                          (long long)w->rd_seq);
        return 0;
    }
    if (!runs->loaded && store_spans_load(s, runs) < 0)
        return -1;
    if ((run = store_spans_overlap(runs, first_ts, last_ts)) != NULL ||
        (run = store_spans_seq_overlap(runs, b->first_seq, b->last_seq)) !=
            NULL) {
        store_verify_fail(out, b->id, 0, "readings of run '%s' were pruned",
                          run);
        return 0;
    }
    return 1;
}

/* Fills in the versions of one tag (rows first..n-1 of ids/chains, in
 * the order they came in). */
static void store_vers_group(struct store *s, const int64_t *ids,
                             const int64_t *chains, const int64_t *versions,
                             size_t n)
{
    int64_t first = INT64_MAX;

    for (size_t i = 0; i < n && first == INT64_MAX; i++)
        if (chains[i] > 0)
            first = chains[i];
    for (size_t i = 0; i < n; i++) {
        struct store_vers *v;
        int64_t next = INT64_MAX;

        if (ids[i] < 0 || (size_t)ids[i] >= s->nvers)
            continue;
        if (chains[i] <= 0)
            next = first;
        else
            for (size_t j = i + 1; j < n && next == INT64_MAX; j++)
                if (chains[j] > chains[i])
                    next = chains[j];
        v = &s->vers[ids[i]];
        *v = (struct store_vers){true, versions[i], chains[i], next};
    }
}

/* Loads every description version into s->vers, inside the caller's read
 * transaction, and counts those older than schema 4. */
static int store_vers_load(struct store *s, struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_VERSIONS];
    int64_t *ids = NULL, *chains = NULL, *versions = NULL;
    size_t n = 0, cap1 = 0, cap2 = 0, cap3 = 0;
    char *tag = NULL;
    int rc;

    free(s->vers);
    s->nvers = TAG_CACHE_MAX < s->ntags + 1 ? TAG_CACHE_MAX : s->ntags + 1;
    s->vers = xcalloc(s->nvers, sizeof(*s->vers));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = store_column_text(st, 1);

        if (!t)
            t = "";
        if (tag && strcmp(tag, t) != 0) {
            store_vers_group(s, ids, chains, versions, n);
            n = 0;
        }
        if (!tag || strcmp(tag, t) != 0) {
            free(tag);
            tag = xstrdup(t);
        }
        xgrow(&ids, &cap1, n + 1, sizeof(*ids));
        xgrow(&chains, &cap2, n + 1, sizeof(*chains));
        xgrow(&versions, &cap3, n + 1, sizeof(*versions));
        ids[n] = sqlite3_column_int64(st, 0);
        versions[n] = sqlite3_column_int64(st, 2);
        chains[n] = sqlite3_column_type(st, 3) == SQLITE_NULL
                        ? -1
                        : sqlite3_column_int64(st, 3);
        if (chains[n] == 0)
            out->uncovered++;
        n++;
    }
    sqlite3_reset(st);
    if (tag)
        store_vers_group(s, ids, chains, versions, n);
    free(tag);
    free(ids);
    free(chains);
    free(versions);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensors");
    return 0;
}

/* The reading at rd's current row must be under the description version
 * in force at its seq: the one that came in last before it. Returns
 * false with out filled in if not. */
bool store_vers_check(struct store *s, sqlite3_stmt *rd,
                      struct store_verify_result *out, int64_t batch)
{
    int64_t seq = sqlite3_column_int64(rd, 0);
    int64_t id = sqlite3_column_int64(rd, 1);
    const struct store_vers *v;
    const char *tag = NULL;

    if (!s->vers || id < 0 || (size_t)id >= s->nvers || !s->vers[id].present)
        return true;
    v = &s->vers[id];
    if (v->chain == -1 || (v->chain > 0 && seq < v->chain) || seq >= v->next) {
        store_tag(s, id, &tag);
        store_verify_fail(out, batch, seq,
                          "seq %lld (sensor '%s') is recorded under its "
                          "version %lld, not the version in force then",
                          (long long)seq, tag ? tag : "?",
                          (long long)v->version);
        return false;
    }
    return true;
}

/* Appends the canonical lines of the descriptions batch b covers and
 * counts them. */
static int store_verify_descs(struct store *s, const struct store_batch *b,
                              struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_BATCH];
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = 0;

    /* The rows first: store_canon_desc() runs a statement of its own. */
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &cap, n + 1, sizeof(*ids));
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    for (size_t i = 0; ret == 0 && i < n; i++) {
        if (store_canon_desc(s, ids[i], NULL) < 0)
            ret = -1;
        out->descriptions++;
    }
    /* then the configurations it covers */
    st = s->stmt[STMT_CONFIG_BATCH];
    n = 0;
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &cap, n + 1, sizeof(*ids));
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read configurations");
    for (size_t i = 0; ret == 0 && i < n; i++) {
        if (store_canon_config(s, ids[i], NULL) < 0)
            ret = -1;
        out->configs++;
    }
    free(ids);
    return ret;
}

/*
 * store_verify() inside the caller's read transaction. The walk merges
 * two cursors in seq order, the batches and the readings, so that its
 * memory does not grow with the database; a batch that does not hash
 * right is walked a second time to name the culprit.
 */
static int store_verify_range(struct store *s, int64_t from_seq, int64_t to_seq,
                              struct store_verify_result *out)
{
    struct store_walk w = {NULL, false, 0};
    struct store_spans runs = {NULL, 0, 0, NULL, 0, 0, NULL, 0, 0, false};
    struct store_batch prev, b;
    sqlite3_stmt *bt = NULL;
    bool found = false, bad, has_pruned = false;
    int rc, ret = -1, passed;

    memset(out, 0, sizeof(*out));
    out->ok = true;
    if (store_tags_load(s) < 0 || store_vers_load(s, out) < 0 ||
        store_has_pruned(s, &has_pruned) < 0 ||
        store_batch_reaching(s, from_seq, &b, &found) < 0)
        goto done;
    if (store_batch_before(s, found ? b.id : INT64_MAX, &prev) < 0)
        goto done;
    if (sqlite3_prepare_v2(s->db, STORE_VERIFY_SQL, -1, &w.rd, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(
            s->db, has_pruned ? store_batches_sql : store_batches_v1_sql, -1,
            &bt, NULL) != SQLITE_OK) {
        store_fail(s, "cannot verify");
        goto done;
    }
    /* Whole batches are checked, so their readings before from_seq too. */
    sqlite3_bind_int64(
        w.rd, 1, found && b.first_seq < from_seq ? b.first_seq : from_seq);
    sqlite3_bind_int64(w.rd, 2, INT64_MAX);
    if (store_walk_next(s, &w) < 0)
        goto done;
    sqlite3_bind_int64(bt, 1, found ? b.id : INT64_MAX);
    while ((rc = sqlite3_step(bt)) == SQLITE_ROW) {
        b.id = sqlite3_column_int64(bt, 0);
        b.first_seq = sqlite3_column_int64(bt, 1);
        b.last_seq = sqlite3_column_int64(bt, 2);
        store_hash_column(bt, 3, b.prev_hash);
        store_hash_column(bt, 4, b.hash);
        b.n = sqlite3_column_int64(bt, 5);
        if (b.first_seq > to_seq)
            break;
        if (w.rd_row && w.rd_seq < b.first_seq) {
            ret = store_verify_fail(out, 0, w.rd_seq,
                                    "seq %lld is in no batch (inserted)",
                                    (long long)w.rd_seq);
            goto done;
        }
        if (!store_verify_link(&prev, &b, out)) {
            ret = 0;
            goto done;
        }
        if (sqlite3_column_type(bt, 6) != SQLITE_NULL) {
            passed =
                store_verify_pruned(s, &w, &b, sqlite3_column_int64(bt, 7),
                                    sqlite3_column_int64(bt, 8), &runs, out);
            if (passed <= 0) {
                ret = passed;
                goto done;
            }
            out->pruned_batches++;
            out->pruned_readings += sqlite3_column_int64(bt, 9);
            prev = b;
            continue;
        }
        if (store_verify_batch(s, &w, &b, out, &bad) < 0)
            goto done;
        if (bad) {
            /* A reading under the wrong version is named already. */
            ret = out->ok ? store_verify_blame(s, &b, out) : 0;
            goto done;
        }
        out->batches++;
        prev = b;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_fail(s, "cannot read batches");
        goto done;
    }
    if (w.rd_row && w.rd_seq <= to_seq)
        store_verify_fail(out, 0, w.rd_seq,
                          "seq %lld is in no batch (inserted)",
                          (long long)w.rd_seq);
    ret = 0;
done:
    sqlite3_finalize(bt);
    sqlite3_finalize(w.rd);
    store_spans_release(&runs);
    free(s->vers);
    s->vers = NULL;
    s->nvers = 0;
    s->canon_len = 0;
    return ret;
}

int store_verify(struct store *s, int64_t from_seq, int64_t to_seq,
                 struct store_verify_result *out)
{
    int ret;

    memset(out, 0, sizeof(*out));
    if (store_read_begin(s, "cannot verify") < 0)
        return -1;
    ret = store_follow_upgrade(s) < 0
              ? -1
              : store_verify_range(s, from_seq, to_seq, out);
    if (ret == 0)
        store_verify_where(s, out);
    store_rollback(s);
    return ret;
}

/* What verify needs of a run. */
struct store_run_span {
    char name[256];
    bool sealed;
    char chain_head[SHA256_HEX_LEN];
    int64_t chain_seq;
    struct store_scope scope; /* its readings */
};

static int store_run_span_take(const struct store_run *run, void *arg)
{
    struct store_run_span *sp = arg;

    snprintf(sp->name, sizeof(sp->name), "%s", run->name);
    sp->sealed = run->chain_head != NULL;
    snprintf(sp->chain_head, sizeof(sp->chain_head), "%s",
             run->chain_head ? run->chain_head : "");
    sp->chain_seq = run->chain_seq;
    store_run_scope(run, &sp->scope);
    return 0;
}

/* The first and last seq of the readings of scope; 0 and 0 if there are
 * none. */
static int store_scope_seqs(struct store *s, const struct store_scope *scope,
                            int64_t *first, int64_t *last)
{
    sqlite3_stmt *st =
        s->stmt[store_scope_by_seq(scope) ? STMT_RUN_SEQS_SEQ : STMT_RUN_SEQS];
    int rc;

    store_bind_scope(st, scope);
    rc = sqlite3_step(st);
    *first = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read the seqs of a window");
    return 0;
}

/* Checks, after a good verify of its range, that a sealed run's chain
 * head is the stored hash of the batch that ends at its chain seq. */
static int store_verify_head(struct store *s, const struct store_run_span *sp,
                             struct store_verify_result *out)
{
    struct store_batch b;
    bool found = false;

    if (sp->chain_seq == 0) {
        if (strcmp(sp->chain_head, store_zero_hash) != 0)
            store_verify_fail(out, 0, 0, "run '%s' has a chain head but no seq",
                              sp->name);
        return 0;
    }
    if (store_batch_reaching(s, sp->chain_seq, &b, &found) < 0)
        return -1;
    if (!found || b.last_seq != sp->chain_seq)
        store_verify_fail(out, 0, sp->chain_seq,
                          "run '%s''s chain head names seq %lld, which ends "
                          "no batch",
                          sp->name, (long long)sp->chain_seq);
    else if (strcmp(b.hash, sp->chain_head) != 0)
        store_verify_fail(out, b.id, 0,
                          "run '%s''s chain head does not match batch %lld",
                          sp->name, (long long)b.id);
    return 0;
}

int store_verify_run(struct store *s, const char *name,
                     struct store_verify_result *out)
{
    sqlite3_stmt *st;
    struct store_run_span sp;
    int64_t first, last;
    int found = 0, ret = -1;

    memset(out, 0, sizeof(*out));
    memset(&sp, 0, sizeof(sp));
    if (store_read_begin(s, "cannot verify") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0)
        goto done;
    st = s->stmt[STMT_RUN_BY_NAME];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (store_run_rows(s, st, store_run_span_take, &sp, &found) < 0)
        goto done;
    if (found == 0) {
        ret = 1;
        goto done;
    }
    if (store_scope_seqs(s, &sp.scope, &first, &last) < 0)
        goto done;
    /* A sealed run's chain head may lie past its last reading: verify up
     * to it, so that the head is checked against a recomputed batch. */
    if (sp.sealed && sp.chain_seq > last) {
        if (first == 0)
            first = sp.chain_seq;
        last = sp.chain_seq;
    }
    if (store_verify_range(s, first, last, out) < 0)
        goto done;
    if (out->ok && sp.sealed && store_verify_head(s, &sp, out) < 0)
        goto done;
    /* The run's readings, not those of the whole batches checked. */
    if (out->ok) {
        sqlite3_stmt *cnt =
            s->stmt[store_scope_by_seq(&sp.scope) ? STMT_RUN_COUNT_SEQ
                                                  : STMT_RUN_COUNT];
        int rc;

        store_bind_scope(cnt, &sp.scope);
        rc = sqlite3_step(cnt);
        if (rc == SQLITE_ROW)
            out->readings = sqlite3_column_int64(cnt, 0);
        sqlite3_reset(cnt);
        if (rc != SQLITE_ROW) {
            store_fail(s, "cannot count the readings of run '%s'", name);
            goto done;
        }
    }
    store_verify_where(s, out);
    ret = 0;
done:
    store_rollback(s);
    return ret;
}
