// SPDX-License-Identifier: MIT
/*
 * Test runs: listing them with their reading counts, starting and
 * stopping one, drawing an exact run's last seq once everything taken
 * before its end is committed (which readings a run holds: struct
 * store_run), and sealing ended runs with the chain head that covers
 * their last reading.
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* The run at st's row (STORE_RUN_COLUMNS' columns); its strings are the
 * statement's. */
static struct store_run store_run_columns(sqlite3_stmt *st)
{
    return (struct store_run){
        .id = sqlite3_column_int64(st, 0),
        .name = store_column_text(st, 1),
        .started_us = sqlite3_column_int64(st, 2),
        .ended = sqlite3_column_type(st, 3) != SQLITE_NULL,
        .ended_us = sqlite3_column_int64(st, 3),
        .operator_name = store_column_text(st, 4),
        .note = store_column_text(st, 5),
        .config_sha256 = store_column_text(st, 6),
        .chain_head = store_column_text(st, 7),
        .chain_seq = sqlite3_column_int64(st, 8),
        .first_seq = sqlite3_column_int64(st, 9),
        .last_seq = sqlite3_column_type(st, 10) == SQLITE_NULL
                        ? INT64_MAX
                        : sqlite3_column_int64(st, 10),
        .exact = sqlite3_column_type(st, 11) != SQLITE_NULL,
        .start_edge_seq = sqlite3_column_type(st, 12) == SQLITE_NULL
                              ? -1
                              : sqlite3_column_int64(st, 12),
        .stop_edge_seq = sqlite3_column_int64(st, 13),
    };
}

/*
 * Calls fn for each row of st (a STORE_RUN_COLUMNS query, bound), with
 * its reading count. Runs inside the caller's read transaction. Returns
 * 0, -1, or fn's non-zero return; *found counts the rows.
 */
int store_run_rows(struct store *s, sqlite3_stmt *st,
                   int (*fn)(const struct store_run *, void *), void *arg,
                   int *found)
{
    sqlite3_stmt *cnt;
    int rc, ret = 0;

    *found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_run run = store_run_columns(st);
        struct store_scope scope;

        (*found)++;
        store_run_scope(&run, &scope);
        cnt = s->stmt[store_scope_by_seq(&scope) ? STMT_RUN_COUNT_SEQ
                                                 : STMT_RUN_COUNT];
        store_bind_scope(cnt, &scope);
        rc = sqlite3_step(cnt);
        run.readings = sqlite3_column_int64(cnt, 0);
        sqlite3_reset(cnt);
        if (rc != SQLITE_ROW) {
            ret = store_fail(s, "cannot count the readings of run '%s'",
                             run.name);
            break;
        }
        if (fn && (ret = fn(&run, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read runs");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

/* store_run_rows() in a read transaction of its own; 1 if no row. */
static int store_run_query(struct store *s, sqlite3_stmt *st,
                           int (*fn)(const struct store_run *, void *),
                           void *arg)
{
    int found = 0, ret;

    if (store_read_begin(s, "cannot read runs") < 0) {
        sqlite3_clear_bindings(st);
        return -1;
    }
    ret = store_run_rows(s, st, fn, arg, &found);
    store_rollback(s);
    return ret == 0 && found == 0 ? 1 : ret;
}

int store_runs(struct store *s, int (*fn)(const struct store_run *, void *),
               void *arg)
{
    int ret = store_run_query(s, s->stmt[STMT_RUNS], fn, arg);

    return ret == 1 ? 0 : ret;
}

int store_run_get(struct store *s, const char *name,
                  int (*fn)(const struct store_run *, void *), void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_BY_NAME];

    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return store_run_query(s, st, fn, arg);
}

int store_run_open(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg)
{
    return store_run_query(s, s->stmt[STMT_RUN_OPEN], fn, arg);
}

/* Copies a run's id and name, for the checks of start and stop. */
struct store_run_ref {
    int64_t id;
    int64_t started_us;
    char *name;
};

static int store_run_ref_take(const struct store_run *run, void *arg)
{
    struct store_run_ref *ref = arg;

    ref->id = run->id;
    ref->started_us = run->started_us;
    ref->name = xstrdup(run->name);
    return 0;
}

/* Reads one run into ref inside the open transaction; 1 if none. */
static int store_run_ref_get(struct store *s, sqlite3_stmt *st,
                             struct store_run_ref *ref)
{
    int found = 0;
    int ret = store_run_rows(s, st, store_run_ref_take, ref, &found);

    return ret == 0 && found == 0 ? 1 : ret;
}

/* A single-text-column query inside the open transaction: a copy of the
 * text (NULL if no row or NULL), or -1. */
static int store_query_text(struct store *s, enum store_stmt id, char **out,
                            const char *what)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);

    *out = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = xstrdup(store_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "%s", what);
    return 0;
}

void store_run_scope(const struct store_run *r, struct store_scope *sp)
{
    bool by_seq = r->first_seq > 0, by_time = !by_seq || r->exact;

    sp->first_seq = by_seq ? r->first_seq : 1;
    sp->last_seq = by_seq && r->ended ? r->last_seq : INT64_MAX;
    sp->from_us = by_time ? r->started_us : INT64_MIN;
    sp->to_us = by_time && r->ended ? r->ended_us : INT64_MAX;
    /* an exact run checks times at its edges only */
    sp->from_seq =
        r->exact && r->start_edge_seq >= 0 ? r->start_edge_seq : INT64_MAX;
    sp->to_seq = r->exact && r->ended ? r->stop_edge_seq : -1;
}

bool store_scope_holds(const struct store_scope *sp, int64_t seq, int64_t ts_us)
{
    /* STORE_IN_SCOPE, in C */
    return seq >= sp->first_seq && seq <= sp->last_seq &&
           (ts_us >= sp->from_us || seq > sp->from_seq) &&
           (ts_us < sp->to_us || seq <= sp->to_seq);
}

int store_page_runs(struct store *s, int64_t after_seq, size_t limit)
{
    sqlite3_stmt *st = s->stmt[STMT_PAGE_RUNS];
    int rc;

    s->npage_runs = 0;
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_run run = store_run_columns(st);
        struct store_page_run *p;

        if (s->npage_runs == s->page_runs_cap) {
            size_t old = s->page_runs_cap;

            xgrow(&s->page_runs, &s->page_runs_cap, old + 1,
                  sizeof(*s->page_runs));
            memset(s->page_runs + old, 0,
                   (s->page_runs_cap - old) * sizeof(*s->page_runs));
        }
        p = &s->page_runs[s->npage_runs++];
        free(p->name);
        p->name = xstrdup(run.name ? run.name : "");
        store_run_scope(&run, &p->scope);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        s->npage_runs = 0;
        return store_fail(s, "cannot read the runs of readings after seq %lld",
                          (long long)after_seq);
    }
    return 0;
}

const char *store_page_run(const struct store *s, int64_t seq, int64_t ts_us)
{
    for (size_t i = 0; i < s->npage_runs; i++)
        if (store_scope_holds(&s->page_runs[i].scope, seq, ts_us))
            return s->page_runs[i].name;
    return NULL;
}

void store_window_scope(int64_t from_us, int64_t to_us, struct store_scope *sp)
{
    *sp = (struct store_scope){1, INT64_MAX, from_us, to_us, INT64_MAX, -1};
}

bool store_scope_by_seq(const struct store_scope *sp)
{
    return sp->first_seq > 1 || sp->last_seq < INT64_MAX;
}

void store_bind_scope(sqlite3_stmt *st, const struct store_scope *sp)
{
    if (store_scope_by_seq(sp)) {
        sqlite3_bind_int64(st, 1, sp->first_seq);
        sqlite3_bind_int64(st, 2, sp->last_seq);
        sqlite3_bind_int64(st, 3, sp->from_us);
        sqlite3_bind_int64(st, 4, sp->to_us);
        sqlite3_bind_int64(st, 5, sp->from_seq);
        sqlite3_bind_int64(st, 6, sp->to_seq);
    } else {
        sqlite3_bind_int64(st, 1, sp->from_us);
        sqlite3_bind_int64(st, 2, sp->to_us);
    }
}

int store_run_start(struct store *s, const char *name,
                    const char *operator_name, const char *note, int64_t now_us,
                    int64_t first_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_INSERT];
    struct store_run_ref open = {0, 0, NULL}, same = {0, 0, NULL};
    char *config = NULL, detail[EVENT_DETAIL_MAX];
    int rc = 0;

    if (store_step(s, STMT_BEGIN, "cannot start run") < 0)
        goto fail;
    sqlite3_bind_text(s->stmt[STMT_RUN_BY_NAME], 1, name, -1, SQLITE_STATIC);
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_BY_NAME], &same)) < 0)
        goto fail;
    if (rc == 0) {
        store_errorf(s, "run '%s' already exists", name);
        goto fail;
    }
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_OPEN], &open)) < 0)
        goto fail;
    if (rc == 0) {
        store_errorf(s, "run '%s' is still open; stop it first", open.name);
        goto fail;
    }
    if (store_query_text(s, STMT_CONFIG_SHA, &config,
                         "cannot read the config hash") < 0)
        goto fail;
    rc = 0;
    rc |= store_bind_text(st, 1, name);
    rc |= sqlite3_bind_int64(st, 2, now_us);
    rc |= store_bind_text(st, 3, operator_name);
    rc |= store_bind_text(st, 4, note);
    rc |= store_bind_text(st, 5, config);
    rc |= first_seq > 0 ? sqlite3_bind_int64(st, 6, first_seq)
                        : sqlite3_bind_null(st, 6);
    if (rc != SQLITE_OK ||
        store_step(s, STMT_RUN_INSERT, "cannot start run") < 0)
        goto fail;
    if (operator_name)
        snprintf(detail, sizeof(detail), "%s (operator: %s)", name,
                 operator_name);
    else
        snprintf(detail, sizeof(detail), "%s", name);
    if (store_insert_event(s, now_us, "run_start", -1, detail, -1) < 0 ||
        store_step(s, STMT_COMMIT, "cannot start run") < 0)
        goto fail;
    sqlite3_clear_bindings(st);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(config);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(st);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(config);
    free(open.name);
    free(same.name);
    return -1;
}

int store_run_stop(struct store *s, const char *name, int64_t now_us,
                   int64_t last_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_END];
    struct store_run_ref open = {0, 0, NULL};
    int rc;

    if (store_step(s, STMT_BEGIN, "cannot stop run") < 0)
        goto fail;
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_OPEN], &open)) < 0)
        goto fail;
    if (rc == 1) {
        if (name)
            store_errorf(s, "run '%s' is not open", name);
        else
            store_errorf(s, "no run is open");
        goto fail;
    }
    if (name && strcmp(name, open.name) != 0) {
        store_errorf(s, "run '%s' is not open (the open run is '%s')", name,
                     open.name);
        goto fail;
    }
    /* A clock stepped back must not give a run a negative length. */
    sqlite3_bind_int64(st, 1, open.id);
    sqlite3_bind_int64(st, 2,
                       now_us > open.started_us ? now_us : open.started_us);
    sqlite3_bind_int64(st, 3, last_seq > 0 ? last_seq : 0);
    if (store_step(s, STMT_RUN_END, "cannot stop run") < 0 ||
        store_insert_event(s, now_us, "run_stop", -1, open.name, -1) < 0 ||
        store_step(s, STMT_COMMIT, "cannot stop run") < 0)
        goto fail;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(open.name);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(open.name);
    return -1;
}

int store_runs_settle(struct store *s, int64_t last_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_RUNS_SETTLE];

    if (s->version < 5)
        return 0;
    sqlite3_bind_int64(st, 1, last_seq);
    if (store_step(s, STMT_RUNS_SETTLE, "cannot draw the edges of a run") < 0)
        return -1;
    return sqlite3_changes(s->db);
}

/* An ended, unsealed run: its id and last seq (0: by time). */
struct store_unsealed {
    int64_t id;
    int64_t last_seq;
};

/* The ended, unsealed runs, inside the caller's transaction (or none).
 * Returns how many, or -1; *ids is the caller's to free. */
static int store_runs_unsealed(struct store *s, struct store_unsealed **ids)
{
    sqlite3_stmt *st = s->stmt[STMT_RUNS_UNSEALED];
    size_t cap = 0;
    int rc, n = 0;

    *ids = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(ids, &cap, (size_t)n + 1, sizeof(**ids));
        (*ids)[n].id = sqlite3_column_int64(st, 0);
        (*ids)[n++].last_seq = sqlite3_column_type(st, 1) == SQLITE_NULL
                                   ? 0
                                   : sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        return store_fail(s, "cannot read runs");
    }
    return n;
}

/*
 * The head a run with a seq range is sealed with, inside the caller's
 * transaction: that of the batch holding its last seq (the daemon
 * committed it before recording the stop); the current head (in head,
 * *seq) if no batch reaches that seq yet or the run has no seq range.
 */
static int store_seal_head(struct store *s, int64_t run_last,
                           char head[SHA256_HEX_LEN], int64_t *seq)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_ENDING];
    int rc;

    if (store_chain_last(s, head, seq) < 0)
        return -1;
    if (run_last <= 0)
        return 0;
    sqlite3_bind_int64(st, 1, run_last);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = store_column_text(st, 3);

        *seq = sqlite3_column_int64(st, 2);
        snprintf(head, SHA256_HEX_LEN, "%s", h ? h : "");
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read the chain");
    return 0;
}

int store_run_seal(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_SEAL];
    char head[SHA256_HEX_LEN];
    struct store_unsealed *ids = NULL;
    int64_t last_seq;
    int n;

    /* The daemon calls this often: a read without the write lock first,
     * since there is almost never anything to seal. */
    if ((n = store_runs_unsealed(s, &ids)) <= 0)
        return n;
    free(ids);
    if (store_step(s, STMT_BEGIN, "cannot seal runs") < 0)
        goto fail;
    if ((n = store_runs_unsealed(s, &ids)) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        if (store_seal_head(s, ids[i].last_seq, head, &last_seq) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, ids[i].id);
        sqlite3_bind_text(st, 2, head, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, last_seq);
        if (store_step(s, STMT_RUN_SEAL, "cannot seal run") < 0)
            goto fail;
    }
    if (store_step(s, STMT_COMMIT, "cannot seal runs") < 0)
        goto fail;
    sqlite3_clear_bindings(st);
    for (int i = 0; fn && i < n; i++) {
        int ret;

        sqlite3_bind_int64(s->stmt[STMT_RUN_BY_ID], 1, ids[i].id);
        ret = store_run_query(s, s->stmt[STMT_RUN_BY_ID], fn, arg);
        if (ret != 0 && ret != 1) {
            free(ids);
            return -1;
        }
    }
    free(ids);
    return n;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(st);
    free(ids);
    return -1;
}
