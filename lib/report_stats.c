// SPDX-License-Identifier: MIT
/*
 * The report's figures, updated one reading at a time: see
 * report_stats.h. Welford (1962) for the mean and variance; the slope
 * from the co-moment of time and value updated the same way (each new
 * point's deviation from the old mean times its deviation from the new),
 * which is the least-squares slope of the centred points without ever
 * forming sums of squares of raw times or values.
 */
#include "lib/report_stats.h"

#include <math.h>
#include <string.h>

void report_stats_init(struct report_stats *st)
{
    memset(st, 0, sizeof(*st));
}

void report_stats_count(struct report_stats *st, enum quality q)
{
    if ((unsigned)q < REPORT_QUALITIES)
        st->n[q]++;
}

void report_stats_good(struct report_stats *st, int64_t ts_us,
                       int64_t origin_us, double value)
{
    double t = (double)(ts_us - origin_us) / REPORT_US_PER_HOUR;
    int64_t n = ++st->n[QUALITY_GOOD];
    double x, dv;

    if (n == 1)
        st->shift = value;
    x = value - st->shift; /* exact while value is near shift */
    dv = x - st->mean;
    double dt = t - st->tmean;

    st->mean += dv / (double)n;
    st->tmean += dt / (double)n;
    st->m2 += dv * (x - st->mean);
    st->ctt += dt * (t - st->tmean);
    st->cty += dt * (x - st->mean);
    if (n == 1 || value < st->min)
        st->min = value;
    if (n == 1 || value > st->max)
        st->max = value;
    /* by time, not by arrival: the store's seq order is nearly time
     * order, and a tie keeps the earlier seq first and the later last */
    if (n == 1 || ts_us < st->first_us) {
        st->first_us = ts_us;
        st->first = value;
    }
    if (n == 1 || ts_us >= st->last_us) {
        st->last_us = ts_us;
        st->last = value;
    }
}

int64_t report_stats_readings(const struct report_stats *st)
{
    int64_t n = 0;

    for (int q = 0; q < REPORT_QUALITIES; q++)
        n += st->n[q];
    return n;
}

double report_stats_sd(const struct report_stats *st)
{
    int64_t n = st->n[QUALITY_GOOD];

    /* rounding can leave m2 a hair below zero for equal values */
    return n < 2 ? NAN : sqrt(fmax(st->m2, 0.0) / (double)(n - 1));
}

double report_stats_drift(const struct report_stats *st)
{
    return st->n[QUALITY_GOOD] < 2 || !(st->ctt > 0.0) ? NAN
                                                       : st->cty / st->ctt;
}

double report_stats_mean(const struct report_stats *st)
{
    return st->n[QUALITY_GOOD] ? st->shift + st->mean : NAN;
}
