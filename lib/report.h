/* SPDX-License-Identifier: MIT */
/*
 * The verification report of a run (SPEC Report). TEMP: the interface
 * the report branch implements; this branch carries a stub
 * (lib/report_stub.c) until it lands.
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
/* Writes the report of opts->run, read from s (opened read-only),
 * to out. Returns 0; 1 if there is no such run (err says so); -1
 * on a database or write error (err says why). Constant memory
 * whatever the run's length. */
int report_write(struct store *s, const struct report_opts *o, FILE *out,
                 char *err, size_t errlen);

#endif
