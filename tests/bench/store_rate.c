// SPDX-License-Identifier: MIT
/*
 * store_rate: what the store costs alone, without a daemon around it
 * (once two unit tests, which could not fail on a figure). In a
 * temporary directory it commits BENCH_BATCHES batches of BENCH_BATCH
 * readings and times the commits, one status report over them, a verify
 * of the whole chain and an export of every row; then, on a second file
 * with PRUNE_BENCH_RUNS ended runs, retention's calls until nothing is
 * left to prune, their mean and worst time. First, what writing a value's
 * canonical text costs (every commit and verify does it once a reading):
 * fmt_g17() against the snprintf("%.17g") it replaces. Prints one line a
 * figure. Exits 1 if a store call fails or a count is wrong (a pruning
 * call that deletes more than its limit and a batch, too, or a value
 * fmt_g17 writes otherwise than snprintf); a figure never fails it,
 * however slow: that a call's work is bounded is the count's to show, not a
 * clock's on a busy machine.
 *
 *   store_rate [DIR]   (DIR: where the files go; default a new one in
 *                       $TMPDIR, removed at the end)
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fmt.h"
#include "common/util.h"
#include "lib/store.h"

/* Readings per batch and batches in the commit measurement. */
#define BENCH_BATCH 2000
#define BENCH_BATCHES 100
/* Batches and their size in the pruning measurement, and the readings
 * per call the daemon asks for. */
#define PRUNE_BENCH_BATCHES 1000
#define PRUNE_BENCH_BATCH 100
#define PRUNE_BENCH_MAX 2000
/* Runs recorded before the measured readings: each call checks the
 * batches against them. */
#define PRUNE_BENCH_RUNS 100
/* Values in the formatting measurement, and the range of the float32
 * readings they are made of. */
#define FORMAT_BENCH_VALUES 1000000
#define FORMAT_BENCH_RANGE 1000.0
/* Longest path built here. */
#define RATE_PATH_MAX 512
/* The sensors: three, on one bus. */
#define RATE_NSENSORS 3

static char rate_dir[RATE_PATH_MAX];

__attribute__((format(printf, 1, 2), __noreturn__)) static void
rate_fail(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "store_rate: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Fails with the store's message unless rc is 0. */
static void rate_check(struct store *s, int rc, const char *what)
{
    if (rc != 0)
        rate_fail("%s: %s", what, store_errmsg(s));
}

struct rate_config {
    struct config c;
    struct bus_conf bus;
    struct sensor_conf sensors[RATE_NSENSORS];
};

/* A read-write store at DIR/name with three sensors synced; their ids in
 * rc->sensors[i].db_id. */
static struct store *rate_open(const char *name, struct rate_config *rc)
{
    static char bus[] = "plant-a", unit[] = "m3/h";
    static char tags[RATE_NSENSORS][8] = {"FT-101", "PT-201", "AT-301"};
    char path[RATE_PATH_MAX + 32], err[STORE_ERR_MAX] = "";
    struct store *s;

    snprintf(path, sizeof(path), "%s/%s", rate_dir, name);
    s = store_open(path, STORE_READ_WRITE, err);
    if (!s)
        rate_fail("%s", err);
    memset(rc, 0, sizeof(*rc));
    rc->bus.name = bus;
    for (int i = 0; i < RATE_NSENSORS; i++) {
        struct sensor_conf *sc = &rc->sensors[i];

        sc->id = tags[i];
        sc->kind = KIND_FLOW;
        sc->unit_id = i + 1;
        sc->table = TABLE_INPUT;
        sc->address = 2 * i;
        sc->type = REG_FLOAT32;
        sc->order = BO_ABCD;
        sc->scale = 1.0;
        sc->unit = unit;
        sc->interval_ms = 1000;
        sc->range_lo = -INFINITY;
        sc->range_hi = INFINITY;
    }
    rc->c.buses = &rc->bus;
    rc->c.nbuses = 1;
    rc->c.sensors = rc->sensors;
    rc->c.nsensors = RATE_NSENSORS;
    rate_check(s, store_sync_sensors(s, &rc->c), "sync");
    return s;
}

/* Reading number i of a run: every 50th a comm_error. */
static struct reading rate_reading(const struct rate_config *rc, int i,
                                   int64_t ts, bool raw)
{
    struct reading r;

    memset(&r, 0, sizeof(r));
    r.sensor_id = rc->sensors[i % RATE_NSENSORS].db_id;
    r.ts_us = ts;
    r.quality = i % 50 ? QUALITY_GOOD : QUALITY_COMM_ERROR;
    r.value = 25.0;
    snprintf(r.error, sizeof(r.error), "timeout");
    if (raw && i % 50) {
        r.nraw = 2;
        r.raw[0] = 0x41c8;
        r.raw[1] = 0x0000;
    }
    return r;
}

static int rate_count_sensor(const struct store_sensor_status *ss, void *arg)
{
    (void)ss, (void)arg;
    return 0;
}

static int rate_count_bus(const struct store_bus_status *bs, void *arg)
{
    *(int64_t *)arg += bs->readings_total;
    return 0;
}

static int rate_export_nothing(const struct reading_row *row, void *arg)
{
    (void)row, (void)arg;
    return 0;
}

/*
 * A value's canonical text, per value: snprintf("%.17g") and fmt_g17()
 * over the same FORMAT_BENCH_VALUES readings, float32 values within
 * +-FORMAT_BENCH_RANGE as a sensor gives them, every other one scaled by
 * 0.01 as a configured scale does. Fails if the two texts ever differ.
 */
static void rate_format(void)
{
    double *v = xcalloc(FORMAT_BENCH_VALUES, sizeof(*v));
    char a[FMT_DOUBLE_LEN], b[FMT_DOUBLE_LEN];
    uint32_t x = 1;
    int64_t t0, t1, t2;

    for (int i = 0; i < FORMAT_BENCH_VALUES; i++) {
        float f;

        x = x * 1664525u + 1013904223u; /* a plain LCG: any spread will do */
        f = (float)((x >> 8) * (2 * FORMAT_BENCH_RANGE / (1 << 24)) -
                    FORMAT_BENCH_RANGE);
        v[i] = i % 2 ? f * 0.01 : f;
    }
    t0 = time_mono_ns();
    for (int i = 0; i < FORMAT_BENCH_VALUES; i++)
        snprintf(a, sizeof(a), "%.17g", v[i]);
    t1 = time_mono_ns();
    for (int i = 0; i < FORMAT_BENCH_VALUES; i++)
        fmt_g17(v[i], b);
    t2 = time_mono_ns();
    for (int i = 0; i < FORMAT_BENCH_VALUES; i++) {
        snprintf(a, sizeof(a), "%.17g", v[i]);
        fmt_g17(v[i], b);
        if (strcmp(a, b) != 0)
            rate_fail("fmt_g17 wrote %s for %a, snprintf %s", b, v[i], a);
    }
    printf("value text: %d float32 readings: snprintf(\"%%.17g\") %.1f ns,"
           " fmt_g17 %.1f ns a value\n",
           FORMAT_BENCH_VALUES, (double)(t1 - t0) / FORMAT_BENCH_VALUES,
           (double)(t2 - t1) / FORMAT_BENCH_VALUES);
    free(v);
}

/* Commit, status, verify and export over BENCH_BATCHES * BENCH_BATCH
 * readings. */
static void rate_commit(void)
{
    const int64_t total = (int64_t)BENCH_BATCHES * BENCH_BATCH;
    struct rate_config rc;
    struct store *s = rate_open("rate.db", &rc);
    struct reading *r = xcalloc(BENCH_BATCH, sizeof(*r));
    struct store_verify_result v;
    int64_t t0, t1, ts = 0, rows, readings = 0;

    t0 = time_mono_ns();
    for (int b = 0; b < BENCH_BATCHES; b++) {
        for (int i = 0; i < BENCH_BATCH; i++, ts++)
            r[i] = rate_reading(&rc, i, ts, true);
        rate_check(s, store_commit_batch(s, r, BENCH_BATCH, NULL, 0), "commit");
    }
    t1 = time_mono_ns();
    printf("commit: %d batches of %d readings: %.0f readings/s\n",
           BENCH_BATCHES, BENCH_BATCH,
           (double)total * NS_PER_S / (double)(t1 - t0));
    t0 = time_mono_ns();
    rate_check(s,
               store_status(s, ts - 1000, rate_count_sensor, rate_count_bus,
                            &readings),
               "status");
    t1 = time_mono_ns();
    if (readings != total)
        rate_fail("status counts %lld readings, not %lld", (long long)readings,
                  (long long)total);
    printf("status over %lld readings: %.2f ms\n", (long long)total,
           (double)(t1 - t0) / 1e6);
    t0 = time_mono_ns();
    rate_check(s, store_verify(s, 0, INT64_MAX, &v), "verify");
    t1 = time_mono_ns();
    if (!v.ok || v.readings != total)
        rate_fail("verify: %s (%lld readings)", v.ok ? "ok" : v.what,
                  (long long)v.readings);
    printf("verify: %.0f readings/s\n",
           (double)v.readings * NS_PER_S / (double)(t1 - t0));
    t0 = time_mono_ns();
    rows = store_export(s, 0, INT64_MAX, NULL, 0, rate_export_nothing, NULL);
    t1 = time_mono_ns();
    if (rows != total)
        rate_fail("export: %lld rows, not %lld (%s)", (long long)rows,
                  (long long)total, store_errmsg(s));
    printf("export: %.0f rows/s\n",
           (double)rows * NS_PER_S / (double)(t1 - t0));
    free(r);
    store_close(s);
}

/* Retention's calls over PRUNE_BENCH_BATCHES batches, with
 * PRUNE_BENCH_RUNS ended runs before them. */
static void rate_prune(void)
{
    const int64_t total = (int64_t)PRUNE_BENCH_BATCHES * PRUNE_BENCH_BATCH;
    struct rate_config rc;
    struct store *s = rate_open("prune_rate.db", &rc);
    struct reading *r = xcalloc(PRUNE_BENCH_BATCH, sizeof(*r));
    struct store_prune_result res;
    struct store_verify_result v;
    int64_t ts = 0, pruned = 0, t0, t1, worst = 0, sum = 0, calls = 0;

    for (int i = 0; i < PRUNE_BENCH_RUNS; i++) {
        char name[16];

        snprintf(name, sizeof(name), "B-%d", i);
        rate_check(s, store_run_start(s, name, NULL, NULL, -1000 * (i + 2), 0),
                   "run start");
        rate_check(s, store_run_stop(s, name, -1000 * (i + 1), 0), "run stop");
    }
    for (int b = 0; b < PRUNE_BENCH_BATCHES; b++) {
        for (int i = 0; i < PRUNE_BENCH_BATCH; i++, ts++)
            r[i] = rate_reading(&rc, i, ts, false);
        rate_check(s, store_commit_batch(s, r, PRUNE_BENCH_BATCH, NULL, 0),
                   "commit");
    }
    do {
        t0 = time_mono_ns();
        rate_check(s, store_prune(s, ts, INT64_MAX, PRUNE_BENCH_MAX, &res),
                   "prune");
        t1 = time_mono_ns();
        /* Whole batches: a call may pass its limit by one batch. */
        if (res.readings >= PRUNE_BENCH_MAX + PRUNE_BENCH_BATCH)
            rate_fail("a pruning call deleted %lld readings, past its "
                      "limit of %d and a batch",
                      (long long)res.readings, PRUNE_BENCH_MAX);
        pruned += res.readings;
        sum += t1 - t0;
        calls++;
        if (t1 - t0 > worst)
            worst = t1 - t0;
    } while (res.more);
    if (pruned != total)
        rate_fail("pruned %lld readings, not %lld", (long long)pruned,
                  (long long)total);
    printf("prune: %lld calls of up to %d readings (batches of %d,"
           " %d runs): mean %.2f ms, worst %.2f ms\n",
           (long long)calls, PRUNE_BENCH_MAX, PRUNE_BENCH_BATCH,
           PRUNE_BENCH_RUNS, (double)sum / (double)calls / 1e6,
           (double)worst / 1e6);
    rate_check(s, store_verify(s, 0, INT64_MAX, &v), "verify");
    if (!v.ok || v.pruned_batches != PRUNE_BENCH_BATCHES)
        rate_fail("verify after pruning: %s (%lld batches pruned)",
                  v.ok ? "ok" : v.what, (long long)v.pruned_batches);
    free(r);
    store_close(s);
}

/* Removes the files the measurements made, and dir if it was ours. */
static void rate_cleanup(bool own)
{
    static const char *const names[] = {"rate.db", "prune_rate.db"};
    static const char *const tails[] = {"", "-wal", "-shm", "-journal"};
    char path[RATE_PATH_MAX + 32];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        for (size_t j = 0; j < sizeof(tails) / sizeof(tails[0]); j++) {
            snprintf(path, sizeof(path), "%s/%s%s", rate_dir, names[i],
                     tails[j]);
            unlink(path);
        }
    if (own)
        rmdir(rate_dir);
}

int main(int argc, char **argv)
{
    const char *tmp = getenv("TMPDIR");
    bool own = argc < 2;

    if (argc > 2) {
        fprintf(stderr, "usage: store_rate [DIR]\n");
        return 2;
    }
    if (own) {
        snprintf(rate_dir, sizeof(rate_dir), "%s/tbdaq-store-rate.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(rate_dir))
            rate_fail("cannot make a directory in %s", tmp ? tmp : "/tmp");
    } else {
        snprintf(rate_dir, sizeof(rate_dir), "%s", argv[1]);
    }
    rate_format();
    rate_commit();
    rate_prune();
    rate_cleanup(own);
    return 0;
}
