/* SPDX-License-Identifier: MIT */
/*
 * The figures of the verification report (lib/report.h) for one sensor
 * over one stretch of a run (the run, or a segment of it): counts per
 * quality, and over the good readings the mean and sample standard
 * deviation (Welford's update: no sum of squares, so a large common
 * offset costs no precision; the values are taken less the first, so
 * the running mean's rounding is that of the small differences), minimum,
 * maximum, first and last, and the drift: the least-squares slope of value
 * against time, in value units per hour, from centred co-moments updated the
 * same way.
 *
 * Memory is the struct alone, whatever the number of readings. Pure
 * functions on the caller's struct; no errors; thread-safe. The README
 * ("The verification report") defines each figure.
 */
#ifndef TBDAQ_REPORT_STATS_H
#define TBDAQ_REPORT_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/decode.h"

/* The qualities of SPEC "Readings", as enum quality numbers them. */
#define REPORT_QUALITIES (QUALITY_MISSED + 1)
/* Microseconds per hour: the drift's time unit. */
#define REPORT_US_PER_HOUR 3600000000.0

struct report_stats {
    int64_t n[REPORT_QUALITIES]; /* readings by quality */
    /* over the good readings (n[QUALITY_GOOD] of them) */
    double shift;              /* the first good value: the figures below are
                                  of value - shift, which keeps a large common
                                  offset (a totaliser's) out of the updates */
    double mean, m2;           /* Welford: mean (less shift) and sum of squared
                                  deviations */
    double tmean;              /* mean time, hours after the origin */
    double ctt, cty;           /* centred sums: of (t - tmean)^2 and of
                                  (t - tmean)(v - mean) */
    double min, max;           /* meaningless while there is no good reading */
    int64_t first_us, last_us; /* times of the first and last good one */
    double first, last;        /* and their values */
};

/* Empties st. */
void report_stats_init(struct report_stats *st);
/* Counts one reading of quality q. */
void report_stats_count(struct report_stats *st, enum quality q);
/* Adds the good reading value taken at ts_us, time counted from
 * origin_us (the run's start: any origin gives the same slope, a near one
 * keeps the sums small). Counts it too: do not also call
 * report_stats_count() for it. */
void report_stats_good(struct report_stats *st, int64_t ts_us,
                       int64_t origin_us, double value);

/* All the readings counted. */
int64_t report_stats_readings(const struct report_stats *st);
/* The sample standard deviation, sqrt(m2 / (n - 1)); NAN below two good
 * readings. */
double report_stats_sd(const struct report_stats *st);
/* The least-squares slope per hour, cty / ctt; NAN below two good
 * readings or if they were all taken at one time. */
double report_stats_drift(const struct report_stats *st);
/* The mean, NAN without a good reading. */
double report_stats_mean(const struct report_stats *st);

#endif
