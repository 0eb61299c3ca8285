// SPDX-License-Identifier: MIT
/*
 * Test runs and the export's reads against real files: runs started and
 * stopped (also from a second connection while a writer commits), the run
 * of each reading, runs by seq, export rows, sensor infos with their
 * counts, the events of a window and the site.
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

#define RUNS_MAX 8

struct runs_seen {
    struct store_run runs[RUNS_MAX];
    char text[RUNS_MAX][TEST_ROW_MAX]; /* the strings, copied */
    size_t n;
};

static int seen_run(const struct store_run *run, void *arg)
{
    struct runs_seen *seen = arg;
    size_t i = seen->n++;

    assert_true(i < RUNS_MAX);
    seen->runs[i] = *run;
    snprintf(seen->text[i], TEST_ROW_MAX, "%s|%s|%s|%s|%s", run->name,
             run->operator_name ? run->operator_name : "NULL",
             run->note ? run->note : "NULL",
             run->config_sha256 ? run->config_sha256 : "NULL",
             run->chain_head ? run->chain_head : "NULL");
    return 0;
}

static void commit_at(struct store *s, int64_t sensor, const int64_t *ts,
                      size_t n)
{
    struct reading r[16];

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        r[i] = mk_reading(sensor, ts[i], QUALITY_GOOD, 1.0, "", 0, NULL);
    assert_int_equal(store_commit_batch(s, r, n, NULL, 0), 0);
}

static void test_runs(void **state)
{
    static const int64_t before[] = {500, 999}, in1[] = {1000, 1500, 2999},
                         gap[] = {3000, 3500}, in2[] = {4000, 4500};
    char path[TEST_PATH_MAX], row[TEST_ROW_MAX], head[SHA256_HEX_LEN];
    struct fixture f;
    struct store *s = open_synced("runs.db", path, &f);
    struct runs_seen *seen = xcalloc(1, sizeof(*seen));
    int64_t ft = f.sensors[SENSOR_FT].db_id, last;
    struct store_verify_result v;

    (void)state;
    assert_int_equal(store_run_open(s, seen_run, seen), 1);
    assert_int_equal(store_run_stop(s, NULL, 10, 0), -1);
    assert_string_equal(store_errmsg(s), "no run is open");
    assert_int_equal(store_run_stop(s, "R-1", 10, 0), -1);
    assert_string_equal(store_errmsg(s), "run 'R-1' is not open");

    /* No config recorded yet: no config hash. */
    assert_int_equal(store_run_start(s, "R-0", NULL, NULL, 100, 0), 0);
    assert_int_equal(store_run_stop(s, "R-0", 50, 0), 0); /* clock went back */
    assert_int_equal(store_add_event(s, "config", "c0ffee"), 0);
    assert_int_equal(store_add_event(s, "config", "abc123"), 0);
    commit_at(s, ft, before, 2);
    assert_int_equal(store_run_start(s, "R-1", "alice", "first", 1000, 0), 0);
    assert_int_equal(store_run_start(s, "R-1", NULL, NULL, 1100, 0), -1);
    assert_string_equal(store_errmsg(s), "run 'R-1' already exists");
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 1100, 0), -1);
    assert_string_equal(store_errmsg(s),
                        "run 'R-1' is still open; stop it first");
    assert_int_equal(store_run_open(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->text[0], "R-1|alice|first|abc123|NULL");
    assert_false(seen->runs[0].ended);
    commit_at(s, ft, in1, 3);
    assert_int_equal(store_run_stop(s, "R-9", 3000, 0), -1);
    assert_string_equal(store_errmsg(s),
                        "run 'R-9' is not open (the open run is 'R-1')");
    assert_int_equal(store_run_stop(s, NULL, 3000, 0), 0);
    assert_int_equal(store_run_stop(s, NULL, 3001, 0), -1);
    assert_string_equal(store_errmsg(s), "no run is open");
    commit_at(s, ft, gap, 2);
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 4000, 0), 0);
    commit_at(s, ft, in2, 2);

    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_runs(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 3);
    assert_string_equal(seen->text[0], "R-0|NULL|NULL|NULL|NULL");
    assert_int_equal(seen->runs[0].ended_us, 100);
    assert_int_equal(seen->runs[0].readings, 0);
    assert_string_equal(seen->text[1], "R-1|alice|first|abc123|NULL");
    assert_true(seen->runs[1].ended);
    assert_int_equal(seen->runs[1].started_us, 1000);
    assert_int_equal(seen->runs[1].ended_us, 3000);
    assert_int_equal(seen->runs[1].readings, 3);
    assert_string_equal(seen->text[2], "R-2|NULL|NULL|abc123|NULL");
    assert_false(seen->runs[2].ended);
    assert_int_equal(seen->runs[2].readings, 2);

    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_run_get(s, "nope", seen_run, seen), 1);
    assert_int_equal(seen->n, 0);
    assert_int_equal(store_run_get(s, "R-1", seen_run, seen), 0);
    assert_int_equal(seen->n, 1);
    assert_int_equal(seen->runs[0].readings, 3);

    raw_row(path,
            "SELECT group_concat(ts_us || ' ' || kind || ' ' || detail, ', ')"
            " FROM events WHERE kind LIKE 'run_%' ORDER BY seq",
            row);
    assert_string_equal(row, "100 run_start R-0, 50 run_stop R-0,"
                             " 1000 run_start R-1 (operator: alice),"
                             " 3000 run_stop R-1, 4000 run_start R-2");

    /* Sealing: every ended run gets the chain head, once. */
    assert_int_equal(store_run_stop(s, "R-2", 5000, 0), 0);
    assert_int_equal(store_chain_head(s, head, &last), 0);
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_run_seal(s, seen_run, seen), 3);
    assert_int_equal(seen->n, 3);
    for (size_t i = 0; i < seen->n; i++) {
        assert_non_null(seen->runs[i].chain_head);
        assert_int_equal(seen->runs[i].chain_seq, last);
        assert_non_null(strstr(seen->text[i], head));
    }
    assert_int_equal(store_run_seal(s, seen_run, seen), 0);
    assert_int_equal(seen->n, 3);
    raw_row(path, "SELECT chain_head, chain_seq FROM runs WHERE name = 'R-1'",
            row);
    assert_non_null(strstr(row, head));

    /* Verifying a run: its readings, then its head. */
    assert_int_equal(store_verify_run(s, "nope", &v), 1);
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_true(v.ok);
    assert_int_equal(store_verify_run(s, "R-0", &v), 0);
    assert_true(v.ok);
    raw_exec(path, "UPDATE runs SET chain_head = '" SHA_ONES "'"
                   " WHERE name = 'R-1'");
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_false(v.ok);
    assert_string_equal(v.what,
                        "run 'R-1''s chain head does not match batch 4");
    raw_exec(path, "DELETE FROM readings WHERE seq = 4");
    assert_int_equal(store_verify_run(s, "R-2", &v), 0);
    assert_true(v.ok); /* seq 4 was R-1's */
    assert_int_equal(store_verify_run(s, "R-1", &v), 0);
    assert_string_equal(v.what, "seq 4 was deleted");
    free(seen);
    store_close(s);
}

static int count_run(const struct store_run *run, void *arg)
{
    assert_non_null(run->chain_head);
    (*(int *)arg)++;
    return 0;
}

struct cli_job {
    char path[TEST_PATH_MAX];
    int failed;
    char err[STORE_ERR_MAX];
};

/* The CLI's side: its own connection, starting and stopping runs. */
static void *cli_main(void *arg)
{
    struct cli_job *job = arg;
    struct store *s = store_open(job->path, STORE_UPDATE, job->err);
    char name[32];

    if (!s) {
        job->failed++;
        return NULL;
    }
    for (int i = 0; i < CONCURRENT_RUNS; i++) {
        snprintf(name, sizeof(name), "C-%d", i);
        if (store_run_start(s, name, "cli", NULL, time_real_us(), 0) < 0 ||
            store_run_stop(s, name, time_real_us(), 0) < 0) {
            snprintf(job->err, sizeof(job->err), "%s", store_errmsg(s));
            job->failed++;
            break;
        }
    }
    store_close(s);
    return NULL;
}

static void test_runs_two_connections(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct fixture f;
    struct store *w = open_synced("runs2.db", path, &f);
    struct store *cli = store_open(path, STORE_UPDATE, err);
    struct writer_job wj = {w, f.sensors[0].db_id, 0};
    struct cli_job *cj = xcalloc(1, sizeof(*cj));
    struct store_verify_result v;
    pthread_t wt, ct;
    int nruns = 0;
    int64_t v0, v1, v2;
    int64_t ts[1] = {1};

    (void)state;
    if (!cli)
        fail_msg("store_open: %s", err);
    /* The daemon notices the CLI's commits, not its own. */
    v0 = store_data_version(w);
    assert_int_equal(store_run_start(cli, "A", NULL, NULL, 10, 0), 0);
    v1 = store_data_version(w);
    assert_true(v1 != v0);
    commit_at(w, wj.sensor, ts, 1);
    v2 = store_data_version(w);
    assert_int_equal(v2, v1);
    assert_int_equal(store_run_stop(cli, "A", 20, 0), 0);
    store_close(cli);

    snprintf(cj->path, sizeof(cj->path), "%s", path);
    assert_int_equal(pthread_create(&wt, NULL, writer_main, &wj), 0);
    assert_int_equal(pthread_create(&ct, NULL, cli_main, cj), 0);
    assert_int_equal(pthread_join(ct, NULL), 0);
    assert_int_equal(pthread_join(wt, NULL), 0);
    if (cj->failed)
        fail_msg("cli: %s", cj->err);
    assert_int_equal(wj.failed, 0);
    assert_int_equal(store_run_seal(w, NULL, NULL), CONCURRENT_RUNS + 1);
    assert_int_equal(store_runs(w, count_run, &nruns), 0);
    assert_int_equal(nruns, CONCURRENT_RUNS + 1);
    assert_int_equal(store_verify(w, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, 1 + CONCURRENT_BATCHES * CONCURRENT_BATCH);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM runs"
                                   " WHERE chain_head IS NOT NULL"),
                     CONCURRENT_RUNS + 1);
    free(cj);
    store_close(w);
}

static void test_row_run(void **state)
{
    static const struct {
        int64_t ts;
        const char *run;
    } cases[] = {
        {999, "-"},  {1000, "R-1"}, {1999, "R-1"}, {2000, "-"},
        {2999, "-"}, {3000, "R-2"}, {9000, "R-2"},
    };
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("rowrun.db", path, &f);
    struct page pg;
    int64_t ts[N];

    (void)state;
    for (size_t i = 0; i < N; i++)
        ts[i] = cases[i].ts;
    assert_int_equal(store_run_start(s, "R-1", NULL, NULL, 1000, 0), 0);
    assert_int_equal(store_run_stop(s, "R-1", 2000, 0), 0);
    assert_int_equal(store_run_start(s, "R-2", NULL, NULL, 3000, 0), 0);
    commit_at(s, f.sensors[0].db_id, ts, N);
    memset(&pg, 0, sizeof(pg));
    assert_int_equal(store_readings_after(s, 0, N, page_row, &pg), N);
    for (size_t i = 0; i < N; i++)
        if (strcmp(pg.runs[i], cases[i].run) != 0)
            fail_msg("ts %lld: run '%s', want '%s'", (long long)cases[i].ts,
                     pg.runs[i], cases[i].run);
    store_close(s);
}

/* Rows of a page by the run they were given: "open", another, none. */
struct run_count {
    int rows, in_open, in_other;
};

static int count_run_row(const struct reading_row *row, void *arg)
{
    struct run_count *c = arg;

    c->rows++;
    if (row->run && strcmp(row->run, "open") == 0)
        c->in_open++;
    else if (row->run)
        c->in_other++;
    return 0;
}

/*
 * The run of each reading read back for publishing is looked for among
 * the runs that can hold the page, so the cost of a page does not grow
 * with the runs of a long-lived database (a few a day for years): with
 * 3,200 runs before it (by seq and by time) a page takes about as many
 * SQLite steps as with none. The member test of every run for every
 * reading took 3 s for a page of 10,000 readings with 1,000 runs.
 */
static void test_readings_after_many_runs(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("manyruns.db", path, &f);
    struct run_count none = {0}, many = {0};
    int64_t ts[16], steps, steps_none, steps_many;

    (void)state;
    for (int b = 0; b < 20; b++) {
        for (int i = 0; i < 16; i++)
            ts[i] = 1000000000 + (b * 16 + i) * 1000;
        commit_at(s, f.sensors[0].db_id, ts, 16);
    }
    steps = store_vm_steps(s);
    assert_int_equal(store_readings_after(s, 160, 160, count_run_row, &none),
                     160);
    steps_none = store_vm_steps(s) - steps;
    assert_int_equal(none.in_open + none.in_other, 0);

    /* 3,000 ended runs of one reading each among seqs 1..160, 200 by
     * time ended before the readings, and one open from seq 241 on */
    raw_exec(path,
             "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
             " WHERE i < 2999) INSERT INTO runs (name, started_us, ended_us,"
             " first_seq, last_seq) SELECT 'seq-' || i, i, i + 1,"
             " 1 + i % 160, 1 + i % 160 FROM n;"
             " WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n"
             " WHERE i < 199) INSERT INTO runs (name, started_us, ended_us)"
             " SELECT 'time-' || i, 3000 + i, 3001 + i FROM n;"
             " INSERT INTO runs (name, started_us, first_seq)"
             " VALUES ('open', 5000, 241)");
    steps = store_vm_steps(s);
    assert_int_equal(store_readings_after(s, 160, 160, count_run_row, &many),
                     160);
    steps_many = store_vm_steps(s) - steps;
    assert_int_equal(many.in_open, 80);
    assert_int_equal(many.in_other, 0);
    /* a scan of the runs once per page is allowed, not once per reading */
    if (steps_many > 2 * steps_none + 50 * 3200)
        fail_msg("a page took %lld steps with 3,200 runs, %lld with none",
                 (long long)steps_many, (long long)steps_none);
    store_close(s);
}

struct export_seen {
    char text[16][TEST_ROW_MAX];
    int n;
    int stop_after; /* 0: never */
};

static int seen_export(const struct reading_row *row, void *arg)
{
    struct export_seen *e = arg;

    assert_true(e->n < 16);
    if (row->has_value)
        snprintf(e->text[e->n], TEST_ROW_MAX, "%lld %lld %s %s %g %s %s",
                 (long long)row->seq, (long long)row->ts_us, row->sensor,
                 row->kind, row->value, row->unit, row->quality);
    else
        snprintf(e->text[e->n], TEST_ROW_MAX, "%lld %lld %s %s - %s %s %s",
                 (long long)row->seq, (long long)row->ts_us, row->sensor,
                 row->kind, row->unit, row->quality,
                 row->error ? row->error : "NULL");
    e->n++;
    return e->stop_after && e->n == e->stop_after;
}

/* What test_run_exact reads of a run. */
struct seq_run {
    int64_t first_seq, last_seq, readings, chain_seq;
    bool exact, sealed;
};

static int seq_run_take(const struct store_run *r, void *arg)
{
    struct seq_run *sr = arg;

    sr->first_seq = r->first_seq;
    sr->last_seq = r->last_seq;
    sr->exact = r->exact;
    sr->readings = r->readings;
    sr->chain_seq = r->chain_seq;
    sr->sealed = r->chain_head != NULL;
    return 0;
}

static int scope_take(const struct store_run *r, void *arg)
{
    store_run_scope(r, arg);
    return 0;
}

/* Sums a sensor version's counts, for the manifest's. */
static int seq_infos_count(const struct store_sensor_info *si, void *arg)
{
    *(int64_t *)arg +=
        si->good + si->out_of_range + si->invalid + si->comm_error + si->missed;
    return 0;
}

/* The readings of run name, as export, the manifest's counts, the run's
 * own count and verify --run see them: all four must agree on want. */
static void expect_run_rows(struct store *s, const char *name, int64_t want,
                            struct export_seen *e)
{
    struct seq_run sr;
    struct store_scope scope;
    struct store_verify_result v;
    int64_t count = 0;

    assert_int_equal(store_run_get(s, name, seq_run_take, &sr), 0);
    assert_int_equal(sr.readings, want);
    assert_int_equal(store_run_get(s, name, scope_take, &scope), 0);
    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export_scope(s, &scope, NULL, 0, seen_export, e),
                     want);
    assert_int_equal(
        store_sensor_infos_scope(s, &scope, NULL, 0, seq_infos_count, &count),
        0);
    assert_int_equal(count, want);
    assert_int_equal(store_verify_run(s, name, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, want);
}

/*
 * The run of each of the first n readings read back for publishing is
 * want[seq - 1] ("-": none), whatever page it is read in: a page's runs
 * are read once per page, so every page size from 1 to n is tried, each
 * page beginning where the last ended.
 */
static void expect_runs_by_page(struct store *s, const char *const *want, int n)
{
    struct page pg;

    assert_true(n <= 16);
    for (int size = 1; size <= n; size++) {
        int64_t after = 0;

        while (after < n) {
            memset(&pg, 0, sizeof(pg));
            assert_true(store_readings_after(s, after, (size_t)size, page_row,
                                             &pg) > 0);
            for (int i = 0; i < pg.n; i++)
                if (strcmp(pg.runs[i], want[pg.seqs[i] - 1]) != 0)
                    fail_msg("pages of %d, seq %lld: run '%s', want '%s'", size,
                             (long long)pg.seqs[i], pg.runs[i],
                             want[pg.seqs[i] - 1]);
            after = pg.seqs[pg.n - 1];
        }
    }
}

/*
 * An exact run (as the daemon starts one, SPEC Evidence) holds the
 * readings taken between its start and its stop: one taken before the
 * start but committed after it is not in it, one taken before the stop
 * but committed after it is; times are checked only at the edges, so a
 * clock step back during the run takes nothing out, and one after its
 * last seq is drawn puts nothing in. Export, the manifest's counts, the
 * run's count, verify --run, the MQTT "run" of a row and the seal agree;
 * a run without seqs (an older database's) keeps the time rule.
 */
static void test_run_exact(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("runexact.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id;
    struct export_seen *e = xcalloc(1, sizeof(*e));
    struct seq_run sr;
    /* seq 1, 2 before S; 3 taken before S's start (1000), committed
     * after it (the start edge, drawn at 3); 4 in S; 5 in S, stamped
     * before its start (the clock stepped back during S); 6 taken before
     * S's stop (2000), committed after it (the stop edge is 5); 7 after
     * the stop; 8 after S's last seq (7) is drawn, stamped inside its
     * times (a step back after it); 9 in T (by time); 10 after T's stop
     * but inside its times (the time rule takes it in). */
    static const int64_t ts[] = {100,  200,  900,  1000, 500,
                                 1500, 2100, 1200, 3500, 3600};

    (void)state;
    commit_at(s, ft, &ts[0], 1);
    commit_at(s, ft, &ts[1], 1);
    assert_int_equal(store_run_start(s, "S", NULL, NULL, 1000, 3), 0);
    commit_at(s, ft, &ts[2], 1);
    /* the start edge not drawn: every reading's time is checked */
    expect_run_rows(s, "S", 0, e);
    assert_int_equal(store_runs_settle(s, 3), 1);
    commit_at(s, ft, &ts[3], 1);
    commit_at(s, ft, &ts[4], 1);
    expect_run_rows(s, "S", 2, e);
    assert_int_equal(store_run_stop(s, "S", 2000, 5), 0);
    commit_at(s, ft, &ts[5], 1);
    commit_at(s, ft, &ts[6], 1);
    /* stopped, its last seq not drawn: not sealed, and open-ended */
    assert_int_equal(store_run_seal(s, NULL, NULL), 0);
    assert_int_equal(store_run_get(s, "S", seq_run_take, &sr), 0);
    assert_true(sr.exact);
    assert_int_equal(sr.first_seq, 3);
    assert_int_equal(sr.last_seq, INT64_MAX);
    assert_false(sr.sealed);
    expect_run_rows(s, "S", 3, e);

    assert_int_equal(store_runs_settle(s, 7), 1);
    assert_int_equal(store_runs_settle(s, 9), 0); /* drawn once */
    commit_at(s, ft, &ts[7], 1);
    assert_int_equal(store_run_seal(s, NULL, NULL), 1);
    assert_int_equal(store_run_get(s, "S", seq_run_take, &sr), 0);
    assert_int_equal(sr.last_seq, 7);
    /* sealed with the head of the batch holding seq 7, not the newer one */
    assert_true(sr.sealed);
    assert_int_equal(sr.chain_seq, 7);
    expect_run_rows(s, "S", 3, e);
    assert_string_equal(e->text[0], "5 500 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[1], "4 1000 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[2], "6 1500 FT-101 flow 1 m3/h good");

    /* An older run: no seqs, by time. */
    assert_int_equal(store_run_start(s, "T", NULL, NULL, 3000, 0), 0);
    commit_at(s, ft, &ts[8], 1);
    assert_int_equal(store_run_stop(s, "T", 4000, 0), 0);
    commit_at(s, ft, &ts[9], 1);
    assert_int_equal(store_run_get(s, "T", seq_run_take, &sr), 0);
    assert_int_equal(sr.first_seq, 0);
    assert_false(sr.exact);
    expect_run_rows(s, "T", 2, e);

    {
        static const char *const want[] = {"-", "-", "-", "S", "S",
                                           "S", "-", "-", "T", "T"};

        expect_runs_by_page(s, want, 10);
    }
    free(e);
    store_close(s);
}

/* An empty exact run: its last seq is first_seq - 1, and it holds none. */
static void test_run_exact_empty(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("runempty.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id;
    struct export_seen *e = xcalloc(1, sizeof(*e));
    struct seq_run sr;
    static const int64_t ts[] = {100, 500};

    (void)state;
    commit_at(s, ft, &ts[0], 1);
    assert_int_equal(store_run_start(s, "E", NULL, NULL, 1000, 2), 0);
    assert_int_equal(store_run_stop(s, "E", 2000, 0), 0);
    assert_int_equal(store_runs_settle(s, 1), 1);
    commit_at(s, ft, &ts[1], 1); /* a step back: seq 2, inside the times */
    assert_int_equal(store_run_get(s, "E", seq_run_take, &sr), 0);
    assert_int_equal(sr.last_seq, 1);
    expect_run_rows(s, "E", 0, e);
    free(e);
    store_close(s);
}

/*
 * A file of schema 4: its runs hold their seq ranges whatever the times
 * (a reading taken before the start but committed after it is in), read
 * as it is and after the upgrade alike; a run started after the upgrade
 * is exact.
 */
static void test_run_seqs_v4(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("runv4.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id;
    struct export_seen *e = xcalloc(1, sizeof(*e));
    struct seq_run sr;
    static const int64_t ts[] = {100, 900, 1000, 1500, 2500, 5000};

    (void)state;
    commit_at(s, ft, &ts[0], 1);
    assert_int_equal(store_run_start(s, "V", NULL, NULL, 1000, 2), 0);
    commit_at(s, ft, &ts[1], 3); /* seqs 2, 3, 4 */
    assert_int_equal(store_run_stop(s, "V", 2000, 0), 0);
    assert_int_equal(store_runs_settle(s, 4), 1);
    store_close(s);
    /* as schema 4 left it: no exact column, readings' CHECK an IN list */
    raw_readings_sql(path, "", TEST_READINGS_V5);
    raw_exec(path, "ALTER TABLE runs DROP COLUMN stop_edge_seq;"
                   " ALTER TABLE runs DROP COLUMN start_edge_seq;"
                   " ALTER TABLE runs DROP COLUMN exact;"
                   " ALTER TABLE sensors DROP COLUMN bit;"
                   " PRAGMA user_version = 4");

    s = open_ro(path);
    assert_int_equal(store_run_get(s, "V", seq_run_take, &sr), 0);
    assert_false(sr.exact);
    expect_run_rows(s, "V", 3, e);
    store_close(s);

    s = open_rw("runv4.db", path);
    assert_int_equal(raw_int(path, "PRAGMA user_version"),
                     STORE_SCHEMA_VERSION);
    assert_int_equal(store_run_get(s, "V", seq_run_take, &sr), 0);
    assert_false(sr.exact);
    expect_run_rows(s, "V", 3, e);
    assert_int_equal(store_run_start(s, "W", NULL, NULL, 4000, 5), 0);
    commit_at(s, ft, &ts[4], 2); /* 2500: before W's start */
    assert_int_equal(store_run_get(s, "W", seq_run_take, &sr), 0);
    assert_true(sr.exact);
    expect_run_rows(s, "W", 1, e);
    free(e);
    store_close(s);
}

static void test_export(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("export.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id,
            at = f.sensors[SENSOR_AT].db_id;
    struct reading r[6];
    struct export_seen *e = xcalloc(1, sizeof(*e));
    const char *only_pt[] = {"PT-201"}, *pt_at[] = {"AT-301", "PT-201"},
               *none[] = {"NO-1"};

    (void)state;
    /* Committed out of time order, and with equal times whose tags sort
     * the other way from their seqs. */
    r[0] = mk_reading(pt, 200, QUALITY_GOOD, 2.0, "", 0, NULL); /* seq 1 */
    r[1] = mk_reading(ft, 200, QUALITY_GOOD, 1.0, "", 0, NULL); /* 2 */
    r[2] = mk_reading(at, 100, QUALITY_GOOD, 7.0, "", 0, NULL); /* 3 */
    r[3] = mk_reading(ft, 200, QUALITY_OUT_OF_RANGE, 60, "", 0, NULL); /* 4 */
    r[4] = mk_reading(pt, 300, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[5] = mk_reading(ft, 99, QUALITY_GOOD, 1.0, "", 0, NULL); /* 6 */
    assert_int_equal(store_commit_batch(s, r, 6, NULL, 0), 0);

    assert_int_equal(store_export(s, 100, 300, NULL, 0, seen_export, e), 4);
    assert_string_equal(e->text[0], "3 100 AT-301 ph 7 pH good");
    assert_string_equal(e->text[1], "2 200 FT-101 flow 1 m3/h good");
    assert_string_equal(e->text[2], "4 200 FT-101 flow 60 m3/h out_of_range");
    assert_string_equal(e->text[3], "1 200 PT-201 pressure 2 bar good");

    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, 301, only_pt, 1, seen_export, e), 2);
    assert_string_equal(e->text[0], "1 200 PT-201 pressure 2 bar good");
    assert_string_equal(e->text[1],
                        "5 300 PT-201 pressure - bar comm_error timeout");
    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, INT64_MAX, pt_at, 2, seen_export, e),
                     3);
    assert_string_equal(e->text[0], "3 100 AT-301 ph 7 pH good");
    memset(e, 0, sizeof(*e));
    assert_int_equal(store_export(s, 0, INT64_MAX, none, 1, seen_export, e), 0);
    assert_int_equal(store_export(s, 300, 300, NULL, 0, seen_export, e), 0);
    assert_int_equal(store_export(s, 99, 100, NULL, 0, seen_export, e), 1);
    assert_string_equal(e->text[0], "6 99 FT-101 flow 1 m3/h good");

    /* fn stops it: -1, and the store goes on working. */
    memset(e, 0, sizeof(*e));
    e->stop_after = 2;
    assert_int_equal(store_export(s, 0, INT64_MAX, NULL, 0, seen_export, e),
                     -1);
    assert_int_equal(e->n, 2);
    assert_int_equal(store_commit_batch(s, r, 1, NULL, 0), 0);
    free(e);
    store_close(s);
}

static void test_sensor_infos(void **state)
{
    char path[TEST_PATH_MAX];
    struct fixture f;
    struct store *s = open_synced("infos.db", path, &f);
    int64_t ft = f.sensors[SENSOR_FT].db_id, pt = f.sensors[SENSOR_PT].db_id;
    struct reading r[8];
    struct infos_seen *seen = xcalloc(1, sizeof(*seen));
    const char *tags[] = {"PT-201", "AT-301"}, *bad[] = {"AT-301", "NO-1"};

    (void)state;
    r[0] = mk_reading(ft, 100, QUALITY_GOOD, 1, "", 0, NULL);
    r[1] = mk_reading(ft, 101, QUALITY_GOOD, 1, "", 0, NULL);
    r[2] = mk_reading(ft, 102, QUALITY_OUT_OF_RANGE, 99, "", 0, NULL);
    r[3] = mk_reading(ft, 103, QUALITY_INVALID, 0, "", 0, NULL);
    r[4] = mk_reading(ft, 104, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[5] = mk_reading(ft, 105, QUALITY_COMM_ERROR, 0, "timeout", 0, NULL);
    r[6] = mk_reading(ft, 200, QUALITY_GOOD, 1, "", 0, NULL); /* outside */
    r[7] = mk_reading(pt, 50, QUALITY_GOOD, 1, "", 0, NULL);  /* outside */
    assert_int_equal(store_commit_batch(s, r, 8, NULL, 0), 0);

    /* All sensors with readings in the window: FT-101 only. */
    assert_int_equal(store_sensor_infos(s, 100, 200, NULL, 0, seen_info, seen),
                     0);
    assert_int_equal(seen->n, 1);
    assert_string_equal(seen->text[0],
                        "FT-101 flow m3/h plant-a 1 input 0 float32 ABCD 1 0 "
                        "1000 2026-10-01 2027-10-01 KTL-2026-0412 2/1/1/2");
    /* Named sensors, by tag, with or without readings. */
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_sensor_infos(s, 0, 200, tags, 2, seen_info, seen),
                     0);
    assert_int_equal(seen->n, 2);
    assert_string_equal(seen->text[0],
                        "AT-301 ph pH rs485-1 3 holding 10 int16 AB 0.01 0 "
                        "1000 NULL NULL NULL 0/0/0/0");
    assert_string_equal(seen->text[1],
                        "PT-201 pressure bar plant-a 2 holding 100 int16 AB "
                        "0.01 0 500 NULL NULL NULL 1/0/0/0");
    memset(seen, 0, sizeof(*seen));
    assert_int_equal(store_sensor_infos(s, 0, 200, bad, 2, seen_info, seen), 1);
    assert_string_equal(store_errmsg(s), "unknown sensor 'NO-1'");
    assert_int_equal(seen->n, 0);
    free(seen);
    store_close(s);
}

struct events_seen {
    char text[TEST_ROW_MAX];
    int n;
};

static int seen_event(int64_t ts_us, const char *kind, const char *detail,
                      void *arg)
{
    struct events_seen *e = arg;
    size_t len = strlen(e->text);

    snprintf(e->text + len, sizeof(e->text) - len, "%s%lld %s %s",
             e->n++ ? ", " : "", (long long)ts_us, kind,
             detail ? detail : "NULL");
    return 0;
}

static void test_events_window(void **state)
{
    char path[TEST_PATH_MAX];
    struct store *s = open_rw("evwin.db", path);
    struct event ev[4] = {mk_event(300, "missed", "FT-101: 2 slots"),
                          mk_event(100, "start", ""),
                          mk_event(200, "config", "abc"),
                          mk_event(200, "bus_down", "plant-a: timeout")};
    struct events_seen e = {"", 0};

    (void)state;
    assert_int_equal(store_commit_batch(s, NULL, 0, ev, 4), 0);
    assert_int_equal(store_events(s, 100, 300, seen_event, &e), 0);
    assert_string_equal(e.text, "100 start NULL, 200 config abc,"
                                " 200 bus_down plant-a: timeout");
    memset(&e, 0, sizeof(e));
    assert_int_equal(store_events(s, 201, 301, seen_event, &e), 0);
    assert_string_equal(e.text, "300 missed FT-101: 2 slots");
    store_close(s);
}

static void test_site(void **state)
{
    char path[TEST_PATH_MAX];
    struct store *s = open_rw("site.db", path);

    (void)state;
    assert_null(store_site(s));
    assert_int_equal(store_set_site(s, "daegu-demo-1"), 0);
    assert_string_equal(store_site(s), "daegu-demo-1");
    assert_int_equal(store_set_site(s, "daegu-demo-2"), 0);
    store_close(s);
    s = open_ro(path);
    assert_string_equal(store_site(s), "daegu-demo-2");
    assert_int_equal(store_set_site(s, "x"), -1); /* read-only */
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_runs_two_connections),
        cmocka_unit_test(test_row_run),
        cmocka_unit_test(test_readings_after_many_runs),
        cmocka_unit_test(test_run_exact),
        cmocka_unit_test(test_run_exact_empty),
        cmocka_unit_test(test_run_seqs_v4),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_sensor_infos),
        cmocka_unit_test(test_events_window),
        cmocka_unit_test(test_site),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
