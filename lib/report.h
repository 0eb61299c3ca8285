/* SPDX-License-Identifier: MIT */
/*
 * The verification report of a run (SPEC "Report"): the run, its chain
 * head and the result of verifying it, the clock, per sensor its
 * identity, calibration, a plot and its statistics over the run and over
 * each segment (cut by `run mark`), the comparisons DUT=REF asked for,
 * and the run's events; as one self-contained HTML document or as JSON
 * with the same figures. `tbdaq report` and tbdaq-web's /runs/<name>
 * write it. The figures are defined in the README, "The verification
 * report".
 *
 * The parts: lib/report.c (this interface: the model read from the
 * store), lib/report_stats.c (the figures: Welford's mean and variance,
 * the drift), lib/report_json.c, lib/report_html.c, lib/report_svg.c (the
 * writers); lib/report_private.h is what they share.
 *
 * Threads: report_write() uses s alone for its call, and nothing global:
 * separate stores on separate threads may write reports at once.
 * Ownership: everything passed stays the caller's; nothing is kept after
 * the call. Errors: as the return value says, with the text in err
 * (never logged).
 */
#ifndef TBDAQ_REPORT_H
#define TBDAQ_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "lib/store.h"

enum report_format { REPORT_HTML, REPORT_JSON };
struct report_compare {
    const char *dut, *ref;
};
struct report_opts {
    const char *run; /* the run's name */
    enum report_format format;
    const struct report_compare *compare; /* may be NULL */
    size_t ncompare;
};

/* Writes the report of opts->run, read from s (opened read-only), to out.
 * Returns 0; 1 if there is no such run (err says so); -1 on a database
 * or write error (err says why). Constant memory whatever the run's
 * length.
 *
 * Also -1 for a comparison naming a sensor with no reading in the run
 * ("--compare: no sensor 'X' in run 'R'"), before anything is written.
 * Everything is read inside one snapshot of s (store_snapshot_begin()),
 * so s must not hold one open; what was written to out before a write
 * error is incomplete. */
int report_write(struct store *s, const struct report_opts *o, FILE *out,
                 char *err, size_t errlen);

#endif
