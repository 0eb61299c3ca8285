// SPDX-License-Identifier: MIT
/*
 * Builds the database of the report benchmark (tests/bench/report.sh)
 * through the store itself, so that its chain verifies as a daemon's
 * would: SENSORS flow sensors read every second for HOURS hours (20 and
 * 24 by default: 1,728,000 readings) in one exact run, sealed, with two
 * marks (three segments), unit 2 silent for ten minutes in the second
 * (comm_error and missed readings), values around 20 with a slow wave
 * and noise. Batches of BATCH readings, as the daemon commits them.
 *
 *   report_gen DB [SENSORS [HOURS]]
 *
 * Prints what it made; exits 1 with the store's message on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lib/store.h"

/* Readings per commit. */
#define GEN_BATCH 2000
/* The run starts here: 2026-11-25T00:00:00Z. */
#define GEN_BASE_US INT64_C(1795564800000000)
#define GEN_MAX_SENSORS 200

static void gen_check(struct store *s, int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "report_gen: %s: %s\n", what, store_errmsg(s));
        exit(1);
    }
}

/* The sensors: FT-1.. on units 1.., one bus, 1 s grid. */
static void gen_sensors(struct store *s, struct config *c, int n)
{
    static char bus[] = "plant", unit[] = "m3/h", due[] = "2027-10-01",
                date[] = "2026-10-01", cert[] = "KTL-BENCH";
    static struct bus_conf b;
    static struct sensor_conf sc[GEN_MAX_SENSORS];
    static char tags[GEN_MAX_SENSORS][16];

    memset(c, 0, sizeof(*c));
    b.name = bus;
    for (int i = 0; i < n; i++) {
        snprintf(tags[i], sizeof(tags[i]), "FT-%03d", i + 1);
        sc[i] = (struct sensor_conf){
            .id = tags[i],
            .kind = KIND_FLOW,
            .unit_id = i % 4 + 1,
            .table = TABLE_HOLDING,
            .address = 2 * i,
            .type = REG_FLOAT32,
            .order = BO_ABCD,
            .scale = 1.0,
            .unit = unit,
            .interval_ms = 1000,
            .range_lo = 0,
            .range_hi = INFINITY,
        };
        sc[i].cal.date = date;
        sc[i].cal.due = due;
        sc[i].cal.certificate = cert;
    }
    c->buses = &b;
    c->nbuses = 1;
    c->sensors = sc;
    c->nsensors = (size_t)n;
    gen_check(s, store_sync_sensors(s, c), "sync sensors");
}

int main(int argc, char **argv)
{
    char err[STORE_ERR_MAX] = "";
    struct config c;
    struct store *s;
    struct reading *batch = xcalloc(GEN_BATCH, sizeof(*batch));
    struct event ev[2];
    int n = argc > 2 ? atoi(argv[2]) : 20;
    int hours = argc > 3 ? atoi(argv[3]) : 24;
    int64_t slots, nb = 0, total = 0, last_seq = 0;
    int64_t mute_from, mute_to, marks[2];
    size_t nev = 0;

    if (argc < 2 || argc > 4 || n < 1 || n > GEN_MAX_SENSORS || hours < 1) {
        fprintf(stderr, "usage: report_gen DB [SENSORS [HOURS]]\n");
        return 2;
    }
    if (!(s = store_open(argv[1], STORE_READ_WRITE, err))) {
        fprintf(stderr, "report_gen: %s\n", err);
        return 1;
    }
    gen_sensors(s, &c, n);
    slots = (int64_t)hours * 3600;
    marks[0] = GEN_BASE_US + slots / 3 * US_PER_S + 500000;
    marks[1] = GEN_BASE_US + 2 * slots / 3 * US_PER_S + 500000;
    mute_from = slots / 2;
    mute_to = mute_from + 600;
    gen_check(s,
              store_run_start(s, "BENCH", "bench", "report benchmark",
                              GEN_BASE_US, 1),
              "run start");
    for (int64_t k = 0; k < slots; k++) {
        int64_t slot_us = GEN_BASE_US + k * US_PER_S;

        for (int i = 0; i < n; i++) {
            struct reading *r = &batch[nb++];
            bool muted =
                c.sensors[i].unit_id == 2 && k >= mute_from && k < mute_to;

            memset(r, 0, sizeof(*r));
            r->sensor_id = c.sensors[i].db_id;
            r->ts_us = slot_us + 1000 + 37 * i;
            if (muted && k % 3 == 0) {
                r->quality = QUALITY_COMM_ERROR;
                snprintf(r->error, sizeof(r->error), "Connection timed out");
            } else if (muted) {
                r->quality = QUALITY_MISSED;
                r->ts_us = slot_us;
                snprintf(r->error, sizeof(r->error), "bus busy");
            } else {
                double t = (double)k / 3600.0;

                r->quality = QUALITY_GOOD;
                r->value = 20.0 + i * 0.01 + 2.0 * sin(t / 4.0) +
                           (double)((k * 7919 + i * 104729) % 1000) * 1e-4;
                r->nraw = 2;
                r->raw[0] = 0x41a0;
            }
        }
        for (int m = 0; m < 2; m++)
            if (marks[m] >= slot_us && marks[m] < slot_us + US_PER_S) {
                ev[nev].ts_us = marks[m];
                snprintf(ev[nev].kind, sizeof(ev[nev].kind), "run_mark");
                snprintf(ev[nev].detail, sizeof(ev[nev].detail),
                         "flow point %d", m + 2);
                nev++;
            }
        if (nb + n > GEN_BATCH || k == slots - 1) {
            gen_check(s, store_commit_batch(s, batch, (size_t)nb, ev, nev),
                      "commit");
            last_seq = batch[nb - 1].seq;
            total += nb;
            nb = 0;
            nev = 0;
        }
    }
    gen_check(s, store_run_stop(s, "BENCH", GEN_BASE_US + slots * US_PER_S, 0),
              "run stop");
    gen_check(s, store_runs_settle(s, last_seq), "settle");
    gen_check(s, store_run_seal(s, NULL, NULL), "seal");
    printf("report_gen: run BENCH: %lld readings of %d sensors over %d h\n",
           (long long)total, n, hours);
    store_close(s);
    free(batch);
    return 0;
}
