// SPDX-License-Identifier: MIT
/*
 * The verification report (lib/report.h): reads the run, its events, the
 * sensors' descriptions and, in one pass in seq order, its readings into
 * per-sensor and per-segment accumulators and plot buckets
 * (lib/report_private.h), all inside one snapshot, then hands the model
 * to the JSON or HTML writer.
 */
#include "lib/report_private.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

int report_fail(struct report *r, const char *fmt, ...)
{
    va_list ap;

    if (r->errlen) {
        va_start(ap, fmt);
        vsnprintf(r->err, r->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static char *report_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---- the run, its events -------------------------------------------- */

static int report_run_fn(const struct store_run *run, void *arg)
{
    struct report *r = arg;

    r->found = true;
    r->name = xstrdup(run->name);
    r->operator_name = report_dup(run->operator_name);
    r->note = report_dup(run->note);
    r->config_sha256 = report_dup(run->config_sha256);
    r->chain_head = report_dup(run->chain_head);
    r->chain_seq = run->chain_seq;
    r->started_us = run->started_us;
    r->ended = run->ended;
    r->ended_us = run->ended_us;
    store_run_scope(run, &r->scope);
    return 0;
}

/* Every event up to the run's end, once: the identities recorded (the
 * device log), the clock in force at the start and the clock events of
 * the run (SPEC Traceable time: as the export's manifest sums them up),
 * and the marks, which cut the segments. */
static int report_event_fn(int64_t ts_us, const char *kind, const char *detail,
                           void *arg)
{
    struct report *r = arg;

    if (detail)
        device_log_event(&r->devs, ts_us, kind, detail, false);
    if (ts_us < r->from_us) {
        if (strcmp(kind, "clock") == 0) {
            free(r->clock_before);
            r->clock_before = xstrdup(detail ? detail : "");
        }
        return 0;
    }
    if (r->clock_before) {
        clock_summary_add(&r->clock, "clock", r->clock_before);
        free(r->clock_before);
        r->clock_before = NULL;
    }
    clock_summary_add(&r->clock, kind, detail ? detail : "");
    if (strcmp(kind, "run_mark") == 0 && ts_us > r->from_us &&
        ts_us < r->to_us) {
        xgrow(&r->marks, &r->cap_marks, r->nmarks + 1, sizeof(*r->marks));
        r->marks[r->nmarks].ts_us = ts_us;
        r->marks[r->nmarks++].text = xstrdup(detail ? detail : "");
    }
    return 0;
}

static int report_read_events(struct report *r)
{
    clock_summary_init(&r->clock);
    if (store_events(r->s, 0, r->to_us + 1, report_event_fn, r) < 0)
        return report_fail(r, "%s", store_errmsg(r->s));
    /* no event inside the run: the state at its start stands */
    if (r->clock_before) {
        clock_summary_add(&r->clock, "clock", r->clock_before);
        free(r->clock_before);
        r->clock_before = NULL;
    }
    return 0;
}

/* ---- the sensors ---------------------------------------------------- */

static int report_desc_fn(int64_t db_id, const struct store_sensor_info *si,
                          void *arg)
{
    struct report *r = arg;
    struct report_desc *d;

    xgrow(&r->descs, &r->cap_descs, r->ndescs + 1, sizeof(*r->descs));
    d = &r->descs[r->ndescs++];
    *d = (struct report_desc){
        .db_id = db_id,
        .version = si->version,
        .tag = xstrdup(si->tag),
        .kind = report_dup(si->kind),
        .unit = report_dup(si->unit),
        .bus = report_dup(si->bus),
        .cal_date = report_dup(si->cal_date),
        .cal_due = report_dup(si->cal_due),
        .cal_certificate = report_dup(si->cal_certificate),
        .unit_id = si->unit_id,
        .interval_ms = si->interval_ms,
        .has_range_lo = si->has_range_lo,
        .has_range_hi = si->has_range_hi,
        .range_lo = si->range_lo,
        .range_hi = si->range_hi,
    };
    return 0;
}

static int report_by_id_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct report_id *)a)->db_id;
    int64_t y = ((const struct report_id *)b)->db_id;

    return (x > y) - (x < y);
}

/* One sensor per tag (descs come by tag), each with its segments. */
static int report_read_sensors(struct report *r)
{
    size_t nseg;

    if (store_report_sensors(r->s, report_desc_fn, r) != 0)
        return report_fail(r, "%s", store_errmsg(r->s));
    nseg = report_segments(r);
    r->sensors = xcalloc(r->ndescs + 1, sizeof(*r->sensors));
    for (size_t i = 0; i < r->ndescs; i++) {
        struct report_sensor *sn;

        if (i == 0 || strcmp(r->descs[i].tag, r->descs[i - 1].tag) != 0) {
            sn = &r->sensors[r->nsensors++];
            sn->tag = r->descs[i].tag;
            report_stats_init(&sn->all);
            sn->seg = xcalloc(nseg, sizeof(*sn->seg));
            for (size_t k = 0; k < nseg; k++)
                report_stats_init(&sn->seg[k]);
        }
        r->descs[i].sensor = r->nsensors - 1;
    }
    /* the lookup by row id, for every reading */
    r->by_id = xcalloc(r->ndescs + 1, sizeof(*r->by_id));
    for (size_t i = 0; i < r->ndescs; i++)
        r->by_id[i] = (struct report_id){r->descs[i].db_id, i};
    qsort(r->by_id, r->ndescs, sizeof(*r->by_id), report_by_id_cmp);
    return 0;
}

/* ---- the readings --------------------------------------------------- */

/* The description a reading was taken under: the previous row's, else
 * by binary search of the ids. NULL for an id not in sensors. */
static struct report_desc *report_desc_of(struct report *r, int64_t id)
{
    size_t lo = 0, hi = r->ndescs;

    if (r->last_desc < r->ndescs && r->descs[r->last_desc].db_id == id)
        return &r->descs[r->last_desc];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t m = r->by_id[mid].db_id;

        if (m == id) {
            r->last_desc = r->by_id[mid].desc;
            return &r->descs[r->last_desc];
        }
        if (m < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The segment of a time: how many marks are at or before it. */
static size_t report_segment_of(const struct report *r, int64_t ts_us)
{
    size_t lo = 0, hi = r->nmarks;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->marks[mid].ts_us <= ts_us)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void report_bucket_add(struct report *r, struct report_sensor *sn,
                              const struct store_report_row *row)
{
    int64_t span = r->to_us - r->from_us;
    int64_t at = row->ts_us - r->from_us;
    struct report_bucket *b;
    size_t i = 0;

    if (span > 0 && at > 0)
        i = at >= span ? REPORT_BUCKETS - 1
                       : (size_t)((double)at / (double)span * REPORT_BUCKETS);
    if (i >= REPORT_BUCKETS)
        i = REPORT_BUCKETS - 1;
    b = &sn->plot[i];
    switch (row->quality) {
    case QUALITY_GOOD:
        if (b->good++ == 0 || row->value < b->min)
            b->min = row->value;
        if (b->good == 1 || row->value > b->max)
            b->max = row->value;
        b->mean += (row->value - b->mean) / (double)b->good;
        break;
    case QUALITY_COMM_ERROR:
        b->comm_error++;
        break;
    case QUALITY_MISSED:
        b->missed++;
        break;
    default:
        b->other++;
    }
}

static int report_row_fn(const struct store_report_row *row, void *arg)
{
    struct report *r = arg;
    struct report_desc *d = report_desc_of(r, row->sensor_db_id);
    struct report_sensor *sn;
    struct report_stats *seg;

    if (!d) {
        report_fail(r, "seq %lld names no sensor (id %lld)",
                    (long long)row->seq, (long long)row->sensor_db_id);
        return 1;
    }
    d->seen = true;
    sn = &r->sensors[d->sensor];
    seg = &sn->seg[report_segment_of(r, row->ts_us)];
    if (row->quality == QUALITY_GOOD && row->has_value) {
        report_stats_good(&sn->all, row->ts_us, r->from_us, row->value);
        report_stats_good(seg, row->ts_us, r->from_us, row->value);
    } else {
        report_stats_count(&sn->all, row->quality);
        report_stats_count(seg, row->quality);
    }
    report_bucket_add(r, sn, row);
    return 0;
}

/* Each sensor's description: its newest version with readings. */
static void report_pick_descs(struct report *r)
{
    for (size_t i = 0; i < r->ndescs; i++) {
        struct report_sensor *sn = &r->sensors[r->descs[i].sensor];

        if (!r->descs[i].seen)
            continue;
        sn->nversions++;
        sn->desc = &r->descs[i]; /* by version: the last seen is newest */
    }
}

static int report_read_readings(struct report *r)
{
    int rc;

    rc = store_report_readings(r->s, &r->scope, report_row_fn, r);
    if (rc < 0)
        return report_fail(r, "%s", store_errmsg(r->s));
    if (rc > 0) /* report_row_fn said why */
        return -1;
    report_pick_descs(r);
    return 0;
}

/* ---- what the writers share ----------------------------------------- */

size_t report_segments(const struct report *r)
{
    return r->nmarks + 1;
}

void report_segment_span(const struct report *r, size_t i, int64_t *from,
                         int64_t *to)
{
    *from = i == 0 ? r->from_us : r->marks[i - 1].ts_us;
    *to = i < r->nmarks ? r->marks[i].ts_us : r->to_us;
}

const char *report_segment_label(const struct report *r, size_t i)
{
    return i == 0 ? "start" : r->marks[i - 1].text;
}

/* floor(a / b) for b > 0, whatever a's sign. */
static int64_t report_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

int64_t report_slots(const struct report_sensor *sn,
                     const struct report_stats *st, int64_t from, int64_t to)
{
    int64_t step = sn->desc ? sn->desc->interval_ms * INT64_C(1000) : 0;
    int64_t grid, readings = report_stats_readings(st);

    if (step <= 0 || to <= from)
        return readings;
    /* The daemon's grid falls on whole multiples of the interval in UTC:
     * the grid points in [from, to). Each slot has one reading (a missed
     * one too), stamped when its answer came, a little after the point:
     * a point just before an edge may have its reading past it, so a
     * stretch holds at least as many slots as readings. */
    grid = report_floor_div(to - 1, step) - report_floor_div(from - 1, step);
    return grid > readings ? grid : readings;
}

double report_completeness(const struct report_sensor *sn,
                           const struct report_stats *st, int64_t from,
                           int64_t to)
{
    int64_t slots = report_slots(sn, st, from, to);

    return slots > 0 ? (double)st->n[QUALITY_GOOD] / (double)slots : NAN;
}

const struct report_sensor *report_sensor_find(const struct report *r,
                                               const char *tag)
{
    for (size_t i = 0; i < r->nsensors; i++)
        if (r->sensors[i].desc && strcmp(r->sensors[i].tag, tag) == 0)
            return &r->sensors[i];
    return NULL;
}

const struct device_entry *report_device_at(const struct report *r,
                                            const struct report_sensor *sn,
                                            int64_t at_us)
{
    if (!sn->desc || !sn->desc->bus)
        return NULL;
    return device_log_at(&r->devs, sn->desc->bus, sn->desc->unit_id, at_us);
}

int report_cal_expired(const struct report *r, const struct report_sensor *sn)
{
    int64_t due_us;

    if (!sn->desc || !sn->desc->cal_due)
        return -1;
    /* as the export's manifest: due before the end of the run */
    return time_parse_iso(sn->desc->cal_due, &due_us) == 0 && due_us < r->to_us
               ? 1
               : 0;
}

double report_relative_error(double dut_mean, double ref_mean)
{
    if (!isfinite(dut_mean) || !isfinite(ref_mean) || ref_mean == 0.0)
        return NAN;
    return (dut_mean - ref_mean) / ref_mean * 100.0;
}

int report_events(struct report *r,
                  int (*fn)(int64_t ts_us, const char *kind, const char *detail,
                            void *),
                  void *arg)
{
    int rc = store_events(r->s, r->from_us, r->to_us + 1, fn, arg);

    if (rc < 0)
        return report_fail(r, "%s", store_errmsg(r->s));
    return rc ? -1 : 0;
}

/* ---- the whole ------------------------------------------------------ */

/* Every --compare names two sensors with readings in the run. */
static int report_check_compare(struct report *r)
{
    for (size_t i = 0; i < r->o->ncompare; i++) {
        const char *tags[2] = {r->o->compare[i].dut, r->o->compare[i].ref};

        for (int k = 0; k < 2; k++)
            if (!tags[k] || !report_sensor_find(r, tags[k]))
                return report_fail(r, "--compare: no sensor '%s' in run '%s'",
                                   tags[k] ? tags[k] : "", r->name);
    }
    return 0;
}

static void report_release(struct report *r)
{
    free(r->name);
    free(r->operator_name);
    free(r->note);
    free(r->config_sha256);
    free(r->chain_head);
    free(r->site);
    free(r->clock_before);
    device_log_release(&r->devs);
    for (size_t i = 0; i < r->nmarks; i++)
        free(r->marks[i].text);
    free(r->marks);
    for (size_t i = 0; i < r->ndescs; i++) {
        struct report_desc *d = &r->descs[i];

        free(d->tag);
        free(d->kind);
        free(d->unit);
        free(d->bus);
        free(d->cal_date);
        free(d->cal_due);
        free(d->cal_certificate);
    }
    free(r->descs);
    free(r->by_id);
    for (size_t i = 0; i < r->nsensors; i++)
        free(r->sensors[i].seg);
    free(r->sensors);
}

/* Reads everything but the events the writers stream. */
static int report_read(struct report *r)
{
    const char *site;
    int rc = store_run_get(r->s, r->o->run, report_run_fn, r);

    if (rc < 0)
        return report_fail(r, "%s", store_errmsg(r->s));
    if (rc > 0 || !r->found) {
        report_fail(r, "unknown run '%s'", r->o->run);
        return 1;
    }
    r->from_us = r->started_us;
    r->to_us = r->ended ? r->ended_us : r->generated_us;
    if (r->to_us < r->from_us)
        r->to_us = r->from_us;
    if ((site = store_site(r->s)))
        r->site = xstrdup(site);
    if (report_read_events(r) < 0 || report_read_sensors(r) < 0 ||
        report_read_readings(r) < 0 || report_check_compare(r) < 0)
        return -1;
    memset(&r->verify, 0, sizeof(r->verify));
    rc = store_verify_run(r->s, r->name, &r->verify);
    if (rc != 0)
        return report_fail(r, "%s",
                           rc < 0 ? store_errmsg(r->s) : "the run went away");
    return 0;
}

int report_write(struct store *s, const struct report_opts *o, FILE *out,
                 char *err, size_t errlen)
{
    struct report r = {
        .s = s, .o = o, .out = out, .err = err, .errlen = errlen};
    int rc;

    if (errlen)
        err[0] = '\0';
    r.generated_us = time_real_us();
    if (!o || !o->run || (o->ncompare && !o->compare))
        return report_fail(&r, "no run given");
    if (store_snapshot_begin(s) < 0)
        return report_fail(&r, "%s", store_errmsg(s));
    rc = report_read(&r);
    if (rc == 0)
        rc = o->format == REPORT_JSON ? report_json(&r) : report_html(&r);
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = report_fail(&r, "cannot write the report: %s", strerror(errno));
    /* a snapshot that ended early: its reads are not known to agree */
    if (store_snapshot_end(s) < 0 && rc == 0)
        rc = report_fail(&r, "%s", store_errmsg(s));
    report_release(&r);
    return rc;
}
