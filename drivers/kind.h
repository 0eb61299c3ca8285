/* SPDX-License-Identifier: MIT */
/*
 * The sensor kinds of a water test-bed and what each implies when the
 * config says nothing: its engineering unit and its plausible range.
 * One constant table: no state, thread-safe; names and units are static
 * strings. A value outside the enum is a caller's bug, answered safely:
 * kind_name() says "unknown", kind_default_unit() NULL, and
 * kind_default_range() gives generic's range.
 */
#ifndef TBDAQ_KIND_H
#define TBDAQ_KIND_H

enum sensor_kind {
    KIND_FLOW,
    KIND_PRESSURE,
    KIND_TURBIDITY,
    KIND_PH,
    KIND_GENERIC,
};

/* Returns 0, or -1 if the name is not a kind. */
int kind_parse(const char *name, enum sensor_kind *out);
const char *kind_name(enum sensor_kind kind);
/* "m3/h", "bar", "NTU", "pH"; NULL for generic, which must name its unit. */
const char *kind_default_unit(enum sensor_kind kind);
/* Flow >= 0, pressure -1..1000 bar, turbidity 0..4000 NTU, pH 0..14;
 * generic is unbounded (-inf..inf). */
void kind_default_range(enum sensor_kind kind, double *lo, double *hi);

#endif
