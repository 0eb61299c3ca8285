/* SPDX-License-Identifier: MIT */
/*
 * What the parts of the report (lib/report*.c) share, and nothing else
 * includes: the model report.c reads from the store in one pass, which
 * the writers turn into JSON (report_json.c) or HTML (report_html.c,
 * with report_svg.c's plots). Memory: per description version, per
 * sensor and segment, and REPORT_BUCKETS per sensor; never per reading.
 *
 * Errors: a function returning int returns 0, or -1 with the reason in
 * the report's err (report_fail()). Threads: one report, one thread.
 */
#ifndef TBDAQ_REPORT_PRIVATE_H
#define TBDAQ_REPORT_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/clock_summary.h"
#include "lib/device.h"
#include "lib/report.h"
#include "lib/report_stats.h"
#include "lib/store.h"

/* The report's format name, in its JSON. */
#define REPORT_FORMAT_NAME "tbdaq-report-1"
/* Time buckets of a sensor's plot: a point per bucket (its good
 * readings' minimum, maximum and mean) and its comm_error and missed
 * counts, so that a plot costs the same for a minute or a month. */
#define REPORT_BUCKETS 240

/* A version of a sensor's description, as recorded. */
struct report_desc {
    int64_t db_id; /* sensors.id */
    size_t sensor; /* its tag's index in report.sensors */
    int64_t version;
    bool seen; /* it has readings in the run */
    char *tag, *kind, *unit, *bus, *cal_date, *cal_due, *cal_certificate;
    int unit_id, interval_ms;
    bool has_range_lo, has_range_hi;
    double range_lo, range_hi;
};

/* A description's row id and index, for the lookup of every reading. */
struct report_id {
    int64_t db_id;
    size_t desc;
};

struct report_bucket {
    int64_t good; /* good readings in the bucket */
    double min, max;
    double mean;                       /* running mean of those */
    int64_t comm_error, missed, other; /* other: out_of_range, invalid */
};

/* A sensor (a tag) with its figures over the run and per segment. */
struct report_sensor {
    const char *tag;                /* its descs' */
    const struct report_desc *desc; /* the newest version with readings in
                                       the run: unit, calibration, grid */
    int nversions;                  /* versions with readings in the run */
    struct report_stats all;
    struct report_stats *seg; /* one per segment */
    struct report_bucket plot[REPORT_BUCKETS];
};

/* A `run mark`: where a segment begins. */
struct report_mark {
    int64_t ts_us;
    char *text;
};

struct report {
    struct store *s;
    const struct report_opts *o;
    FILE *out;
    char *err;
    size_t errlen;
    /* the run */
    char *name, *operator_name, *note, *config_sha256, *chain_head;
    int64_t started_us, ended_us, chain_seq;
    bool ended, found;
    struct store_scope scope;
    int64_t from_us, to_us; /* what is reported: [started, ended), or up
                               to now for an open run */
    int64_t generated_us;
    char *site; /* or NULL */
    struct store_verify_result verify;
    struct clock_summary clock;
    char *clock_before; /* the clock event in force at the start */
    struct device_log devs;
    struct report_mark *marks; /* by time; segment i + 1 starts at i */
    size_t nmarks, cap_marks;
    struct report_desc *descs; /* by tag then version */
    size_t ndescs, cap_descs;
    struct report_id *by_id;       /* descs by db_id */
    size_t last_desc;              /* the previous row's, tried first */
    struct report_sensor *sensors; /* by tag; those without readings in
                                      the run are skipped by the writers */
    size_t nsensors;
};

/* report.c */
__attribute__((format(printf, 2, 3))) int report_fail(struct report *r,
                                                      const char *fmt, ...);
/* Segments: nmarks + 1; each's [from, to). */
size_t report_segments(const struct report *r);
void report_segment_span(const struct report *r, size_t i, int64_t *from,
                         int64_t *to);
/* A segment's name: "start" for the first, else its mark's text. */
const char *report_segment_label(const struct report *r, size_t i);
/* Slots of the sensor's grid in [from, to): its grid points there (whole
 * multiples of the interval), never fewer than st's readings. */
int64_t report_slots(const struct report_sensor *sn,
                     const struct report_stats *st, int64_t from, int64_t to);
/* good / slots, NAN without slots. */
double report_completeness(const struct report_sensor *sn,
                           const struct report_stats *st, int64_t from,
                           int64_t to);
/* The sensor named tag with readings in the run, or NULL. */
const struct report_sensor *report_sensor_find(const struct report *r,
                                               const char *tag);
/* The instrument's identity at at_us (its bus and unit's), or NULL. */
const struct device_entry *report_device_at(const struct report *r,
                                            const struct report_sensor *sn,
                                            int64_t at_us);
/* Calibration due before the run's end: 1, not: 0, no due date: -1. */
int report_cal_expired(const struct report *r, const struct report_sensor *sn);
/* The relative error of DUT to REF in percent, NAN if undefined. */
double report_relative_error(double dut_mean, double ref_mean);
/* Streams the run's events (from its start to its end, both included)
 * to fn. Returns 0 or -1. */
int report_events(struct report *r,
                  int (*fn)(int64_t ts_us, const char *kind, const char *detail,
                            void *),
                  void *arg);

/* report_json.c, report_html.c: the whole document to r->out. */
int report_json(struct report *r);
int report_html(struct report *r);

/* report_svg.c: the plot of sn over the run, one <svg> element. */
void report_svg(FILE *out, const struct report *r,
                const struct report_sensor *sn);

#endif
