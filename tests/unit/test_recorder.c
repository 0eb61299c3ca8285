// SPDX-License-Identifier: MIT
/*
 * The recorder against a real SQLite file: commits and their deadline
 * (from each item's taken time, a reload's interval, the retry while
 * commits fail), another connection's lock (a short one only delays a
 * commit; a long one is an outage with db_down and db_up events and the
 * live feed), a backlog committed in chunks of BATCH_MAX readings, and
 * the caps on what waits during an outage (buffer_readings,
 * RECORDER_EVENTS_MAX).
 *
 * Most outages here are made by a second connection adding triggers that
 * refuse every insert: a failure that is not another connection's lock,
 * so it is an outage at once, as a full disk is, with no grace period to
 * wait out; dropping the triggers ends it. Time is driven by the taken_ns
 * the tests give, not by the clock.
 */
#include <assert.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/log.h"
#include "common/util.h"
#include "lib/config.h"
#include "daemon/recorder.h"
#include "lib/store.h"

#define MS NS_PER_MS
#define PATH_MAX_LEN 256
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A test's settings, its prestate (NULL: the defaults). */
struct params {
    int buffer_readings; /* 0: 100 */
    const void *tcase;   /* the row of a table the test runs */
};

struct world {
    char dir[PATH_MAX_LEN], db[PATH_MAX_LEN + 16], conf[PATH_MAX_LEN + 16];
    struct config *c;
    struct store *s;
    struct recorder rc;
    int64_t sensor; /* sensors.id of the one sensor */
    size_t live;    /* readings handed to the live feed */
    int64_t next_ts;
    const void *tcase; /* the params' */
};

static void on_live(void *arg, const struct reading *r)
{
    struct world *w = arg;

    (void)r;
    w->live++;
}

static int setup(void **state)
{
    const struct params *p = *state;
    struct world *w = calloc(1, sizeof(*w));
    char err[STORE_ERR_MAX];
    FILE *f;

    if (!w)
        return -1;
    snprintf(w->dir, sizeof(w->dir), "/tmp/test_recorder.XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->db, sizeof(w->db), "%s/t.db", w->dir);
    snprintf(w->conf, sizeof(w->conf), "%s/t.conf", w->dir);
    if (!(f = fopen(w->conf, "w")))
        return -1;
    fprintf(f,
            "site = \"rec\"; database = \"%s\"; commit_interval_ms = 100;\n"
            "buffer_readings = %d;\n"
            "buses = ({ name = \"b\"; type = \"tcp\"; host = \"127.0.0.1\"; "
            "});\n"
            "sensors = ({ id = \"FT\"; kind = \"flow\"; bus = \"b\"; "
            "address = 0; type = \"int16\"; });\n",
            w->db, p && p->buffer_readings ? p->buffer_readings : 100);
    fclose(f);
    w->c = config_load_logged(w->conf);
    if (!w->c)
        return -1;
    w->s = store_open(w->db, STORE_READ_WRITE, err);
    if (!w->s || store_sync_sensors(w->s, w->c) < 0)
        return -1;
    store_set_busy_timeout(w->s, 20);
    w->sensor = w->c->sensors[0].db_id;
    w->next_ts = 1000;
    w->tcase = p ? p->tcase : NULL;
    recorder_init(&w->rc, w->s, w->c, on_live, w);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char cmd[PATH_MAX_LEN + 16];

    recorder_release(&w->rc);
    store_close(w->s);
    config_free(w->c);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
    if (system(cmd) != 0)
        return -1;
    free(w);
    return 0;
}

/* A reading of the sensor, taken at taken_ns. */
static void take(struct world *w, int64_t taken_ns)
{
    struct queue_item it = {.type = QUEUE_READING, .taken_ns = taken_ns};

    it.u.reading.sensor_id = w->sensor;
    it.u.reading.ts_us = w->next_ts++;
    it.u.reading.quality = QUALITY_GOOD;
    it.u.reading.value = 1.5;
    it.u.reading.nraw = 1;
    recorder_take(&w->rc, &it);
}

/* A connection of the test's own, besides the recorder's store. */
static sqlite3 *open_other(struct world *w)
{
    sqlite3 *db;

    assert_int_equal(sqlite3_open(w->db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

/* One integer from a query on a connection of the test's own. */
static int64_t query(struct world *w, const char *sql)
{
    sqlite3 *db = open_other(w);
    sqlite3_stmt *st;
    int64_t v = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Another connection holding the write lock. */
static sqlite3 *lock_db(struct world *w)
{
    sqlite3 *db = open_other(w);

    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

static void unlock_db(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* An event of the test's own, "test" with detail i, taken now. */
static void take_event(struct world *w, int i)
{
    recorder_event(&w->rc, queue_item_event("test", "%d", i));
}

/* The ts_us of the i-th reading take() gave (from 0). */
static int64_t ts_of(size_t i)
{
    return 1000 + (int64_t)i;
}

/* One text from a query, copied into out ("" if no row). */
static void query_text(struct world *w, const char *sql, char *out, size_t len)
{
    sqlite3 *db = open_other(w);
    sqlite3_stmt *st;

    out[0] = '\0';
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void exec_db(struct world *w, const char *sql)
{
    sqlite3 *db = open_other(w);

    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* The database refuses every write, and not because of a lock (as a full
 * disk would): the next commit is an outage at once. */
static void refuse_writes(struct world *w)
{
    exec_db(w, "CREATE TRIGGER test_refuse_r BEFORE INSERT ON readings "
               "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
               "CREATE TRIGGER test_refuse_e BEFORE INSERT ON events "
               "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;");
}

static void accept_writes(struct world *w)
{
    exec_db(w, "DROP TRIGGER test_refuse_r; DROP TRIGGER test_refuse_e;");
}

/* Begins an outage: something must wait. What waits is kept, and handed
 * to the live feed. */
static void start_outage(struct world *w)
{
    size_t live = w->live, waiting = recorder_waiting(&w->rc);

    assert_true(recorder_pending(&w->rc) > 0);
    refuse_writes(w);
    assert_int_equal(recorder_commit(&w->rc), -1);
    assert_true(recorder_down(&w->rc));
    assert_non_null(strstr(recorder_error(&w->rc), "refused by the test"));
    assert_int_equal(recorder_waiting(&w->rc), waiting);
    assert_int_equal(w->live, live + waiting);
}

/* Ends it, and commits until nothing waits; returns how many commits
 * that took (each one transaction). */
static int end_outage(struct world *w)
{
    int commits = 0;

    accept_writes(w);
    while (recorder_pending(&w->rc) > 0) {
        assert_int_equal(recorder_commit(&w->rc), 0);
        assert_false(recorder_down(&w->rc));
        assert_true(++commits < 100);
    }
    return commits;
}

/* The db_up event's detail ends with tail, once; one db_down. */
static void assert_db_up(struct world *w, const char *tail)
{
    char detail[EVENT_DETAIL_MAX];
    size_t n, m = strlen(tail);

    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_down'"), 1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_up'"), 1);
    query_text(w, "SELECT detail FROM events WHERE kind = 'db_up'", detail,
               sizeof(detail));
    n = strlen(detail);
    if (n < m || strcmp(detail + n - m, tail) != 0)
        fail_msg("db_up says '%s', not '...%s'", detail, tail);
    assert_true(strncmp(detail, "after ", 6) == 0);
}

/* The chain over everything committed verifies, with this many batches
 * and readings. */
static void assert_verifies(struct world *w, int64_t batches, int64_t readings)
{
    struct store_verify_result v;

    assert_int_equal(store_verify(w->s, 0, INT64_MAX, &v), 0);
    if (!v.ok)
        fail_msg("verify: %s", v.what);
    assert_int_equal(v.batches, batches);
    assert_int_equal(v.readings, readings);
}

/* Committed: the deadline is the reading's time plus the interval, the
 * seq and time of the newest are kept, nothing waits after. */
static void test_commit(void **state)
{
    struct world *w = *state;

    assert_true(recorder_due_at(&w->rc) == INT64_MAX);
    take(w, 5000 * MS);
    take(w, 5050 * MS);
    assert_true(recorder_due_at(&w->rc) == 5100 * MS);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(w->rc.committed, 2);
    assert_int_equal(w->rc.last_seq, 2);
    assert_int_equal(w->rc.last_ts_us, 1001);
    assert_int_equal(recorder_pending(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 2);
    assert_false(recorder_down(&w->rc));
}

/* A lock shorter than the grace period: the commit fails, is tried
 * again within RECORDER_BUSY_RETRY_MS, and is no outage. */
static void test_short_lock(void **state)
{
    struct world *w = *state;
    sqlite3 *other = lock_db(w);
    int64_t t;

    take(w, time_mono_ns());
    t = time_mono_ns();
    assert_int_equal(recorder_commit(&w->rc), -1);
    /* the busy handler's 20 ms, not SQLite's usual 5 s */
    assert_true(time_mono_ns() - t < 500 * MS);
    assert_false(recorder_down(&w->rc));
    assert_true(recorder_due_at(&w->rc) <=
                time_mono_ns() + RECORDER_BUSY_RETRY_MS * MS);
    assert_int_equal(w->live, 0);
    unlock_db(other);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind LIKE 'db_%'"), 0);
}

/* The recorder's clock in test_long_lock: moved by the test. */
static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

/* A lock past the grace period is an outage: logged, db_down, what waits
 * goes to the live feed and so does every new reading; beyond
 * buffer_readings readings are counted lost; the first commit that works
 * records db_up with the counts. Before the grace period is over a failed
 * commit is only tried again RECORDER_BUSY_RETRY_MS later. The recorder's
 * clock is the test's: nothing waits but SQLite's 20 ms busy timeout. */
static void test_long_lock(void **state)
{
    struct world *w = *state;
    sqlite3 *other = lock_db(w);
    const int64_t start = 100000 * MS;

    w->rc.mono_ns = fake_clock;
    take(w, start);
    take(w, start);
    for (int64_t t = 0; t < RECORDER_BUSY_GRACE_MS;
         t += RECORDER_BUSY_GRACE_MS / 4) {
        fake_now = start + t * MS;
        assert_int_equal(recorder_commit(&w->rc), -1);
        assert_false(recorder_down(&w->rc));
        assert_true(recorder_due_at(&w->rc) ==
                    fake_now + RECORDER_BUSY_RETRY_MS * MS);
        assert_int_equal(w->live, 0);
    }
    fake_now = start + RECORDER_BUSY_GRACE_MS * MS;
    assert_int_equal(recorder_commit(&w->rc), -1);
    assert_true(recorder_down(&w->rc));
    assert_true(recorder_due_at(&w->rc) ==
                fake_now + RECORDER_BUSY_RETRY_MS * MS);
    assert_non_null(strstr(recorder_error(&w->rc), "locked"));
    assert_int_equal(w->live, 2);
    for (int i = 0; i < 150; i++)
        take(w, fake_now);
    assert_int_equal(w->live, 152);
    assert_int_equal(recorder_waiting(&w->rc), 100);
    assert_int_equal(w->rc.lost, 52);
    unlock_db(other);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_false(recorder_down(&w->rc));
    /* db_down was taken when the outage began; db_up now: both go with
     * the next commit */
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 100);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_down' AND "
                 "detail LIKE '%locked%'"),
        1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'db_up' AND "
                 "detail LIKE '%100 readings recorded late, 52 lost%'"),
        1);
}

/*
 * The deadline, step by step: commit_interval_ms from the earliest
 * taken_ns of what waits (not from when the recorder took it), events
 * like readings, a reload's interval for what comes next only (what
 * waits keeps its deadline), and a fresh deadline after a commit.
 */
enum step_kind { STEP_READING, STEP_EVENT, STEP_RELOAD, STEP_COMMIT };

struct due_step {
    enum step_kind kind;
    int64_t ms;     /* taken (reading, event), or the new interval */
    int64_t due_ms; /* recorder_due_at() after the step; -1: INT64_MAX */
};

static const struct due_step due_steps[] = {
    {STEP_READING, 5000, 5100},
    /* taken later: does not push the deadline out */
    {STEP_READING, 5090, 5100},
    /* taken earlier (another poller, handed over later) pulls it in */
    {STEP_READING, 4980, 5080},
    {STEP_EVENT, 4950, 5050},
    /* a reload: what waits keeps its deadline... */
    {STEP_RELOAD, 20, 5050},
    {STEP_READING, 6000, 5050},
    /* ...what comes next gets the new interval */
    {STEP_READING, 5010, 5030},
    {STEP_COMMIT, 0, -1},
    /* after a commit the next item starts a new deadline */
    {STEP_EVENT, 9000, 9020},
    {STEP_READING, 8000, 8020},
    {STEP_COMMIT, 0, -1},
};

static void test_due_steps(void **state)
{
    struct world *w = *state;
    struct config c = *w->c;

    assert_true(recorder_due_at(&w->rc) == INT64_MAX);
    for (size_t i = 0; i < COUNT(due_steps); i++) {
        const struct due_step *st = &due_steps[i];
        struct queue_item it;
        int64_t due;

        switch (st->kind) {
        case STEP_READING:
            take(w, st->ms * MS);
            break;
        case STEP_EVENT:
            it = queue_item_event("test", "%zu", i);
            it.taken_ns = st->ms * MS;
            recorder_event(&w->rc, it);
            break;
        case STEP_RELOAD:
            c.commit_interval_ms = (int)st->ms;
            recorder_configure(&w->rc, &c);
            break;
        case STEP_COMMIT:
            assert_int_equal(recorder_commit(&w->rc), 0);
            break;
        }
        due = recorder_due_at(&w->rc);
        if (due != (st->due_ms < 0 ? INT64_MAX : st->due_ms * MS))
            fail_msg("step %zu: due at %lld ns, not %lld ms", i, (long long)due,
                     (long long)st->due_ms);
    }
    assert_int_equal(query(w, "SELECT count(*) FROM readings"), 6);
    assert_int_equal(query(w, "SELECT count(*) FROM events"), 2);
}

/* An event of the daemon's own (taken_ns 0) is taken now; a reading
 * taken long ago is due at once, however late the recorder gets it. */
static void test_due_taken_now_and_long_ago(void **state)
{
    struct world *w = *state;
    int64_t t0, t1, due;

    t0 = time_mono_ns();
    recorder_event(&w->rc, queue_item_event("test", "now"));
    t1 = time_mono_ns();
    due = recorder_due_at(&w->rc);
    assert_true(due >= t0 + 100 * MS && due <= t1 + 100 * MS);
    take(w, t0 - 10000 * MS);
    assert_true(recorder_due_at(&w->rc) == t0 - 9900 * MS);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_true(recorder_due_at(&w->rc) == INT64_MAX);
}

/* While commits fail the deadline is the next attempt, not the items':
 * RECORDER_RETRY_MS after the failure (a refusal that is no lock); once
 * a commit works, items are due from their taken time again. */
static void test_due_while_failing(void **state)
{
    struct world *w = *state;
    int64_t t0, t1, due;

    take(w, 1000 * MS);
    t0 = time_mono_ns();
    start_outage(w);
    t1 = time_mono_ns();
    due = recorder_due_at(&w->rc);
    assert_true(due >= t0 + RECORDER_RETRY_MS * MS &&
                due <= t1 + RECORDER_RETRY_MS * MS);
    /* a newer item does not bring the attempt forward */
    take(w, 1000 * MS);
    assert_true(recorder_due_at(&w->rc) == due);
    assert_int_equal(end_outage(w), 2);
    assert_true(recorder_due_at(&w->rc) == INT64_MAX);
    take(w, 3000 * MS);
    assert_true(recorder_due_at(&w->rc) == 3100 * MS);
}

/*
 * A backlog after an outage is committed in chunks of at most BATCH_MAX
 * readings, one transaction (one batch of the chain) each, oldest first:
 * every reading once, seqs contiguous in the order taken, the events with
 * them, what is left due at once, and the chain verifies.
 */
struct chunk_case {
    const char *name;
    size_t readings; /* taken during the outage */
    int64_t batches; /* chain batches, one per transaction with readings */
    int commits;     /* transactions (db_up may need one of its own) */
};

static const struct chunk_case chunk_cases[] = {
    {"test_chunked_commit(BATCH_MAX - 1)", BATCH_MAX - 1, 1, 2},
    {"test_chunked_commit(BATCH_MAX + 1)", BATCH_MAX + 1, 2, 2},
    {"test_chunked_commit(2 * BATCH_MAX + 123)", 2 * BATCH_MAX + 123, 3, 3},
};

/* One of the test's events every this many readings of a backlog. */
#define CHUNK_EVENT_EVERY 7000

static void test_chunked_commit(void **state)
{
    struct world *w = *state;
    const struct chunk_case *cc = w->tcase;
    const int64_t taken = 1000 * MS, interval = 100 * MS;
    int64_t events =
        1 + (int64_t)(cc->readings + CHUNK_EVENT_EVERY - 1) / CHUNK_EVENT_EVERY;
    char tail[64];
    int commits = 0;

    take_event(w, 0);
    start_outage(w);
    for (size_t i = 0; i < cc->readings; i++) {
        take(w, taken);
        if (i % CHUNK_EVENT_EVERY == 0)
            take_event(w, (int)i + 1);
    }
    assert_int_equal(w->live, cc->readings);
    assert_int_equal(w->rc.lost, 0);
    assert_true(recorder_due_at(&w->rc) > taken + interval);
    accept_writes(w);
    while (recorder_pending(&w->rc) > 0) {
        size_t before = recorder_waiting(&w->rc);

        assert_int_equal(recorder_commit(&w->rc), 0);
        commits++;
        assert_true(before - recorder_waiting(&w->rc) <= BATCH_MAX);
        assert_int_equal(query(w, "SELECT count(*) FROM readings"),
                         (int64_t)(cc->readings - recorder_waiting(&w->rc)));
        /* the rest of a backlog is due at once: now while BATCH_MAX wait,
         * else when its readings were (long since) due */
        if (recorder_waiting(&w->rc) >= BATCH_MAX)
            assert_true(recorder_due_at(&w->rc) == 0);
        else if (recorder_waiting(&w->rc) > 0)
            assert_true(recorder_due_at(&w->rc) == taken + interval);
        assert_true(commits < 10);
    }
    assert_int_equal(commits, cc->commits);
    assert_int_equal(w->rc.committed, cc->readings);
    assert_int_equal(w->rc.last_seq, (int64_t)cc->readings);
    /* one batch per transaction, none over BATCH_MAX, each following the
     * one before */
    assert_int_equal(query(w, "SELECT count(*) FROM batches"), cc->batches);
    assert_int_equal(
        query(w, "SELECT max(n) FROM batches"),
        (int64_t)(cc->readings < BATCH_MAX ? cc->readings : BATCH_MAX));
    assert_int_equal(query(w, "SELECT sum(n) FROM batches"),
                     (int64_t)cc->readings);
    assert_int_equal(query(w, "SELECT min(first_seq) FROM batches"), 1);
    assert_int_equal(
        query(w, "SELECT count(*) FROM batches b JOIN batches a "
                 "ON a.id = b.id + 1 WHERE a.first_seq != b.last_seq + 1"),
        0);
    /* every reading once, seqs contiguous, in the order taken */
    assert_int_equal(query(w, "SELECT count(*) FROM readings"),
                     (int64_t)cc->readings);
    assert_int_equal(query(w, "SELECT min(seq) FROM readings"), 1);
    assert_int_equal(query(w, "SELECT max(seq) FROM readings"),
                     (int64_t)cc->readings);
    assert_int_equal(query(w, "SELECT count(*) FROM readings "
                              "WHERE ts_us != seq - 1 + 1000"),
                     0);
    /* the events: each of the test's once, db_down, db_up */
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'test'"), events);
    assert_int_equal(query(w, "SELECT count(DISTINCT detail) FROM events "
                              "WHERE kind = 'test'"),
                     events);
    snprintf(tail, sizeof(tail),
             ": %zu readings recorded late, none lost, 0 events lost",
             cc->readings);
    assert_db_up(w, tail);
    assert_verifies(w, cc->batches, (int64_t)cc->readings);
}

/*
 * The buffer cap: during an outage, readings beyond buffer_readings are
 * not kept but counted lost (with the times of the first and last), and
 * handed to the live feed all the same; those that waited when it began
 * are kept whatever the cap. After it, what was kept is committed, no
 * more, and db_up says how many were lost.
 */
struct cap_case {
    const char *name;
    int buffer;    /* buffer_readings */
    size_t before; /* readings waiting when the outage begins */
    size_t during; /* readings taken during it */
    size_t kept;
};

static const struct cap_case cap_cases[] = {
    {"test_buffer_cap(up to it: none lost)", 100, 0, 100, 100},
    {"test_buffer_cap(one over)", 100, 0, 101, 100},
    {"test_buffer_cap(half over)", 100, 0, 150, 100},
    {"test_buffer_cap(what waited counts)", 100, 60, 60, 100},
    {"test_buffer_cap(more waited than it)", 100, 130, 10, 130},
    {"test_buffer_cap(buffer_readings 250)", 250, 1, 1000, 250},
};

static void test_buffer_cap(void **state)
{
    struct world *w = *state;
    const struct cap_case *cc = w->tcase;
    size_t total = cc->before + cc->during, lost = total - cc->kept;
    char tail[160], from[TIME_ISO_LEN], to[TIME_ISO_LEN];

    for (size_t i = 0; i < cc->before; i++)
        take(w, 1000 * MS);
    take_event(w, 0); /* something waits even with no reading */
    start_outage(w);
    for (size_t i = 0; i < cc->during; i++)
        take(w, 1000 * MS);
    assert_int_equal(w->live, total);
    assert_int_equal(recorder_waiting(&w->rc), cc->kept);
    assert_int_equal(w->rc.lost, lost);
    if (lost > 0) {
        assert_int_equal(w->rc.lost_first_us, ts_of(cc->kept));
        assert_int_equal(w->rc.lost_last_us, ts_of(total - 1));
    }
    end_outage(w);
    assert_int_equal(w->rc.lost, 0);
    /* the first kept, all of them, and none after */
    assert_int_equal(query(w, "SELECT count(*) FROM readings"),
                     (int64_t)cc->kept);
    assert_int_equal(query(w, "SELECT min(ts_us) FROM readings"), ts_of(0));
    assert_int_equal(query(w, "SELECT max(ts_us) FROM readings"),
                     ts_of(cc->kept - 1));
    if (lost == 0) {
        snprintf(tail, sizeof(tail),
                 ": %zu readings recorded late, none lost, 0 events lost",
                 cc->kept);
    } else {
        time_format_iso(ts_of(cc->kept), from);
        time_format_iso(ts_of(total - 1), to);
        snprintf(tail, sizeof(tail),
                 ": %zu readings recorded late, %zu lost (taken %s to %s), 0 "
                 "events lost",
                 cc->kept, lost, from, to);
    }
    assert_db_up(w, tail);
    assert_verifies(w, 1, (int64_t)cc->kept);
}

/*
 * The event cap: during an outage at most RECORDER_EVENTS_MAX events
 * wait, db_down among them; newer ones are counted (lost_events) and
 * dropped, the oldest kept. db_up comes after the cap is emptied, so it
 * is never the one lost, and says how many were.
 */
struct event_cap_case {
    const char *name;
    size_t before; /* events waiting when the outage begins */
    size_t during; /* events taken during it */
    size_t kept;   /* of the test's own */
};

static const struct event_cap_case event_cap_cases[] = {
    /* db_down is the second: RECORDER_EVENTS_MAX - 2 more fit */
    {"test_event_cap(up to it: none lost)", 1, RECORDER_EVENTS_MAX - 2,
     RECORDER_EVENTS_MAX - 1},
    {"test_event_cap(one over)", 1, RECORDER_EVENTS_MAX - 1,
     RECORDER_EVENTS_MAX - 1},
    {"test_event_cap(50 over)", 1, RECORDER_EVENTS_MAX + 50,
     RECORDER_EVENTS_MAX - 1},
    {"test_event_cap(under it)", 100, 5000, 5100},
    /* the cap full when the outage begins: db_down is kept all the same */
    {"test_event_cap(full before)", RECORDER_EVENTS_MAX, 5,
     RECORDER_EVENTS_MAX},
};

static void test_event_cap(void **state)
{
    struct world *w = *state;
    const struct event_cap_case *cc = w->tcase;
    size_t total = cc->before + cc->during, lost = total - cc->kept;
    char tail[96];

    for (size_t i = 0; i < cc->before; i++)
        take_event(w, (int)i);
    start_outage(w);
    for (size_t i = cc->before; i < total; i++)
        take_event(w, (int)i);
    /* db_down is kept: it is the one after those that waited */
    assert_true(w->rc.batch.nevents > cc->before);
    assert_string_equal(w->rc.batch.events[cc->before].kind, "db_down");
    assert_int_equal(w->rc.batch.nevents, cc->kept + 1);
    assert_int_equal(w->rc.lost_events, lost);
    assert_int_equal(w->live, 0);
    end_outage(w);
    assert_int_equal(w->rc.lost_events, 0);
    /* the oldest kept, each once */
    assert_int_equal(
        query(w, "SELECT count(*) FROM events WHERE kind = 'test'"),
        (int64_t)cc->kept);
    assert_int_equal(query(w, "SELECT count(DISTINCT detail) FROM events "
                              "WHERE kind = 'test'"),
                     (int64_t)cc->kept);
    assert_int_equal(query(w, "SELECT max(CAST(detail AS INTEGER)) "
                              "FROM events WHERE kind = 'test'"),
                     (int64_t)cc->kept - 1);
    snprintf(tail, sizeof(tail),
             ": 0 readings recorded late, none lost, %zu events lost", lost);
    assert_db_up(w, tail);
}

/* Takes n readings at taken_ns, none of them making the recorder full. */
static void take_not_full(struct world *w, size_t n, int64_t taken_ns)
{
    for (size_t i = 0; i < n; i++) {
        take(w, taken_ns);
        assert_false(recorder_full(&w->rc));
    }
}

/*
 * While commits work, the recorder is full once buffer_readings (here
 * twice BATCH_MAX) wait (the daemon then leaves the rest in the queue); a
 * commit makes room. While commits fail (a lock within its grace, an
 * outage) it is never full; once they work again, it takes readings
 * beside what waited until buffer_readings wait.
 */
static void test_full(void **state)
{
    struct world *w = *state;
    sqlite3 *other;

    take_not_full(w, 2 * BATCH_MAX - 1, 1000 * MS);
    take(w, 1000 * MS);
    assert_true(recorder_full(&w->rc));
    assert_int_equal(recorder_due_at(&w->rc), 0); /* and is committed now */
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_false(recorder_full(&w->rc));
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(recorder_waiting(&w->rc), 0);

    /* another connection's lock, shorter than the grace: not an outage */
    other = lock_db(w);
    take_not_full(w, BATCH_MAX - 1, 2000 * MS);
    assert_int_equal(recorder_commit(&w->rc), -1);
    assert_false(recorder_down(&w->rc));
    take_not_full(w, 2 * BATCH_MAX + 1, 2000 * MS);
    unlock_db(other);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_int_equal(recorder_waiting(&w->rc), 2 * BATCH_MAX);
    assert_true(recorder_full(&w->rc));
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_false(recorder_full(&w->rc));
    assert_int_equal(recorder_commit(&w->rc), 0);

    /* an outage that filled the buffer */
    take(w, 4000 * MS);
    start_outage(w);
    take_not_full(w, 3 * BATCH_MAX, 4000 * MS);
    assert_int_equal(recorder_waiting(&w->rc), 2 * BATCH_MAX);
    accept_writes(w);
    assert_int_equal(recorder_commit(&w->rc), 0);
    assert_false(recorder_down(&w->rc));
    take_not_full(w, BATCH_MAX - 1, 5000 * MS);
    take(w, 5000 * MS);
    assert_true(recorder_full(&w->rc));
}

/* A clock that moves on by fake_step at every reading: a commit (read
 * before and after) takes fake_step. */
static int64_t fake_step;

static int64_t stepping_clock(void)
{
    return fake_now += fake_step;
}

/* How long a commit takes now: the last one's duration (0 before the
 * first), so that a disk fast again is trusted again at once. */
static void test_commit_ns(void **state)
{
    struct world *w = *state;
    const int64_t steps[] = {5 * MS, 4000 * MS, 2 * MS};

    w->rc.mono_ns = stepping_clock;
    assert_int_equal(recorder_commit_ns(&w->rc), 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        fake_step = steps[i];
        take(w, fake_now);
        assert_int_equal(recorder_commit(&w->rc), 0);
        assert_int_equal(recorder_commit_ns(&w->rc), steps[i]);
    }
}

/* A test of each row of a table, its name the row's. */
#define ROW_TEST(f, row, prm)                                                  \
    ((struct CMUnitTest){.name = (row)->name,                                  \
                         .test_func = (f),                                     \
                         .setup_func = setup,                                  \
                         .teardown_func = teardown,                            \
                         .initial_state = (prm)})

int main(void)
{
    static struct params full_params = {.buffer_readings = 2 * BATCH_MAX};
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_steps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_due_taken_now_and_long_ago, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_due_while_failing, setup,
                                        teardown),
        cmocka_unit_test_prestate_setup_teardown(test_full, setup, teardown,
                                                 &full_params),
        cmocka_unit_test_setup_teardown(test_commit_ns, setup, teardown),
    };
    static struct params chunk_params[COUNT(chunk_cases)],
        cap_params[COUNT(cap_cases)], event_params[COUNT(event_cap_cases)];
    struct CMUnitTest tests[COUNT(fixed) + COUNT(chunk_cases) +
                            COUNT(cap_cases) + COUNT(event_cap_cases)];
    size_t n = 0;

    for (size_t i = 0; i < COUNT(fixed); i++)
        tests[n++] = fixed[i];
    for (size_t i = 0; i < COUNT(chunk_cases); i++) {
        /* room for the whole backlog */
        chunk_params[i] = (struct params){.buffer_readings = 3 * BATCH_MAX,
                                          .tcase = &chunk_cases[i]};
        tests[n++] =
            ROW_TEST(test_chunked_commit, &chunk_cases[i], &chunk_params[i]);
    }
    for (size_t i = 0; i < COUNT(cap_cases); i++) {
        cap_params[i] = (struct params){.buffer_readings = cap_cases[i].buffer,
                                        .tcase = &cap_cases[i]};
        tests[n++] = ROW_TEST(test_buffer_cap, &cap_cases[i], &cap_params[i]);
    }
    for (size_t i = 0; i < COUNT(event_cap_cases); i++) {
        event_params[i] = (struct params){.tcase = &event_cap_cases[i]};
        tests[n++] =
            ROW_TEST(test_event_cap, &event_cap_cases[i], &event_params[i]);
    }

    log_init("test_recorder", LOG_LEVEL_WARNING, LOG_PLAIN);
    assert(n == COUNT(tests));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
