// SPDX-License-Identifier: MIT
/*
 * The report as JSON (`tbdaq report --format json`): the same figures as
 * the HTML, numbers with the tree's exact-double writer (the fewest
 * digits that read back as the same double; null where a figure is
 * undefined), times in ISO 8601 UTC. The README ("The verification
 * report") describes the keys.
 */
#include "lib/report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "common/jsonw.h"
#include "common/util.h"
#include "version.h"

static void json_str(FILE *f, const char *s)
{
    char small[256];
    size_t n = s ? strlen(s) : 0;
    char *buf = JSONW_STRING_MAX(n) + 1 <= sizeof(small)
                    ? small
                    : xmalloc(JSONW_STRING_MAX(n) + 1);
    char *end = jsonw_string_or_null(buf, s);

    fwrite(buf, 1, (size_t)(end - buf), f);
    if (buf != small)
        free(buf);
}

static void json_num(FILE *f, double v)
{
    char buf[JSONW_DOUBLE_MAX];

    fwrite(buf, 1, (size_t)(jsonw_double(buf, v) - buf), f);
}

static void json_int(FILE *f, int64_t v)
{
    char buf[FMT_INT64_LEN];

    fwrite(buf, 1, fmt_int64(v, buf), f);
}

static void json_time(FILE *f, int64_t us)
{
    char buf[TIME_ISO_LEN];

    fputc('"', f);
    fwrite(buf, 1, fmt_time_iso(us, buf), f);
    fputc('"', f);
}

/* "key": with the comma before it unless first. */
static void json_key(FILE *f, const char *key, bool first)
{
    fprintf(f, first ? "\"%s\":" : ",\"%s\":", key);
}

static void json_stats(FILE *f, const struct report_sensor *sn,
                       const struct report_stats *st, int64_t from, int64_t to)
{
    static const char *const names[REPORT_QUALITIES] = {
        "good", "out_of_range", "invalid", "comm_error", "missed"};
    bool any = st->n[QUALITY_GOOD] > 0;

    json_key(f, "readings", true);
    json_int(f, report_stats_readings(st));
    for (int q = 0; q < REPORT_QUALITIES; q++) {
        json_key(f, names[q], false);
        json_int(f, st->n[q]);
    }
    json_key(f, "slots", false);
    json_int(f, report_slots(sn, st, from, to));
    json_key(f, "completeness", false);
    json_num(f, report_completeness(sn, st, from, to));
    json_key(f, "mean", false);
    json_num(f, report_stats_mean(st));
    json_key(f, "sd", false);
    json_num(f, report_stats_sd(st));
    json_key(f, "min", false);
    json_num(f, any ? st->min : NAN);
    json_key(f, "max", false);
    json_num(f, any ? st->max : NAN);
    json_key(f, "first", false);
    json_num(f, any ? st->first : NAN);
    json_key(f, "first_ts", false);
    if (any)
        json_time(f, st->first_us);
    else
        fputs("null", f);
    json_key(f, "last", false);
    json_num(f, any ? st->last : NAN);
    json_key(f, "last_ts", false);
    if (any)
        json_time(f, st->last_us);
    else
        fputs("null", f);
    json_key(f, "drift_per_hour", false);
    json_num(f, report_stats_drift(st));
}

static void json_identity(FILE *f, const struct device_entry *d)
{
    if (!d) {
        fputs("null", f);
        return;
    }
    fputs("{\"model\":", f);
    json_str(f, d->id.has_model ? d->id.model : NULL);
    fputs(",\"serial\":", f);
    json_str(f, d->id.has_serial ? d->id.serial : NULL);
    fputs(",\"firmware\":", f);
    json_str(f, d->id.has_firmware ? d->id.firmware : NULL);
    fputs(",\"since\":", f);
    json_time(f, d->ts_us);
    fputs("}", f);
}

static void json_sensor(FILE *f, const struct report *r,
                        const struct report_sensor *sn)
{
    const struct report_desc *d = sn->desc;
    const struct device_entry *at_start = report_device_at(r, sn, r->from_us);
    const struct device_entry *at_end = report_device_at(r, sn, r->to_us);
    int expired = report_cal_expired(r, sn);

    fputs("{\"id\":", f);
    json_str(f, sn->tag);
    fputs(",\"kind\":", f);
    json_str(f, d->kind);
    fputs(",\"unit\":", f);
    json_str(f, d->unit);
    fputs(",\"bus\":", f);
    json_str(f, d->bus);
    fputs(",\"unit_id\":", f);
    json_int(f, d->unit_id);
    fputs(",\"interval_ms\":", f);
    json_int(f, d->interval_ms);
    fputs(",\"version\":", f);
    json_int(f, d->version);
    fputs(",\"versions\":", f);
    json_int(f, sn->nversions);
    fputs(",\"range\":[", f);
    json_num(f, d->has_range_lo ? d->range_lo : NAN);
    fputs(",", f);
    json_num(f, d->has_range_hi ? d->range_hi : NAN);
    fputs("],\"device\":", f);
    json_identity(f, at_end);
    /* an instrument swapped during the run shows its first identity too */
    fputs(",\"device_at_start\":", f);
    json_identity(f, at_start);
    fputs(",\"calibration\":{\"date\":", f);
    json_str(f, d->cal_date);
    fputs(",\"due\":", f);
    json_str(f, d->cal_due);
    fputs(",\"certificate\":", f);
    json_str(f, d->cal_certificate);
    fputs(",\"expired\":", f);
    fputs(expired < 0 ? "null" : expired ? "true" : "false", f);
    fputs("},\n \"stats\":{", f);
    json_stats(f, sn, &sn->all, r->from_us, r->to_us);
    fputs("},\n \"segments\":[", f);
    for (size_t i = 0; i < report_segments(r); i++) {
        int64_t from, to;

        report_segment_span(r, i, &from, &to);
        fputs(i ? ",\n  {" : "\n  {", f);
        json_stats(f, sn, &sn->seg[i], from, to);
        fputs("}", f);
    }
    fputs("]}", f);
}

/* DUT against REF per segment, and over the whole run. */
static void json_compare_one(FILE *f, const struct report_stats *dut,
                             const struct report_stats *ref)
{
    double dm = report_stats_mean(dut), rm = report_stats_mean(ref);

    json_key(f, "dut_mean", true);
    json_num(f, dm);
    json_key(f, "ref_mean", false);
    json_num(f, rm);
    json_key(f, "relative_error_pct", false);
    json_num(f, report_relative_error(dm, rm));
}

static void json_compare(FILE *f, const struct report *r,
                         const struct report_compare *c)
{
    const struct report_sensor *dut = report_sensor_find(r, c->dut);
    const struct report_sensor *ref = report_sensor_find(r, c->ref);

    fputs("{\"dut\":", f);
    json_str(f, c->dut);
    fputs(",\"ref\":", f);
    json_str(f, c->ref);
    fputs(",\"run\":{", f);
    json_compare_one(f, &dut->all, &ref->all);
    fputs("},\"segments\":[", f);
    for (size_t i = 0; i < report_segments(r); i++) {
        fputs(i ? ",{" : "{", f);
        json_compare_one(f, &dut->seg[i], &ref->seg[i]);
        fputs("}", f);
    }
    fputs("]}", f);
}

struct json_events {
    FILE *f;
    int64_t n;
};

static int json_event_fn(int64_t ts_us, const char *kind, const char *detail,
                         void *arg)
{
    struct json_events *ev = arg;

    fputs(ev->n++ ? ",\n{\"ts\":" : "\n{\"ts\":", ev->f);
    json_time(ev->f, ts_us);
    fputs(",\"kind\":", ev->f);
    json_str(ev->f, kind);
    fputs(",\"detail\":", ev->f);
    json_str(ev->f, detail);
    fputs("}", ev->f);
    return ferror(ev->f) ? 1 : 0;
}

static void json_run(FILE *f, const struct report *r)
{
    fputs("\"run\":{\"name\":", f);
    json_str(f, r->name);
    fputs(",\"operator\":", f);
    json_str(f, r->operator_name);
    fputs(",\"note\":", f);
    json_str(f, r->note);
    fputs(",\"started\":", f);
    json_time(f, r->started_us);
    fputs(",\"ended\":", f);
    if (r->ended)
        json_time(f, r->ended_us);
    else
        fputs("null", f);
    fputs(",\"reported_to\":", f);
    json_time(f, r->to_us);
    fputs(",\"config_sha256\":", f);
    json_str(f, r->config_sha256);
    fputs("},\n\"chain\":{\"head\":", f);
    json_str(f, r->chain_head);
    fputs(",\"seq\":", f);
    if (r->chain_head)
        json_int(f, r->chain_seq);
    else
        fputs("null", f);
    fputs(",\"verify\":{\"ok\":", f);
    fputs(r->verify.ok ? "true" : "false", f);
    fputs(",\"batches\":", f);
    json_int(f, r->verify.batches);
    fputs(",\"readings\":", f);
    json_int(f, r->verify.readings);
    fputs(",\"failure\":", f);
    json_str(f, r->verify.ok ? NULL : r->verify.what);
    fputs("}},\n\"clock\":{\"synchronized\":", f);
    fputs(!r->clock.known         ? "null"
          : r->clock.synchronized ? "true"
                                  : "false",
          f);
    fputs(",\"max_error_us\":", f);
    if (r->clock.max_error_us >= 0)
        json_int(f, r->clock.max_error_us);
    else
        fputs("null", f);
    fputs(",\"steps\":", f);
    json_int(f, (int64_t)r->clock.steps);
    fputs("}", f);
}

int report_json(struct report *r)
{
    FILE *f = r->out;
    struct json_events ev = {f, 0};
    bool first = true;

    fputs("{\"format\":\"" REPORT_FORMAT_NAME
          "\",\"tool\":\"tbdaq " TBDAQ_VERSION "\",\"generated\":",
          f);
    json_time(f, r->generated_us);
    fputs(",\"site\":", f);
    json_str(f, r->site);
    fputs(",\n", f);
    json_run(f, r);
    fputs(",\n\"segments\":[", f);
    for (size_t i = 0; i < report_segments(r); i++) {
        int64_t from, to;

        report_segment_span(r, i, &from, &to);
        fputs(i ? ",\n{\"label\":" : "\n{\"label\":", f);
        json_str(f, report_segment_label(r, i));
        fputs(",\"from\":", f);
        json_time(f, from);
        fputs(",\"to\":", f);
        json_time(f, to);
        fputs("}", f);
    }
    fputs("],\n\"sensors\":[", f);
    for (size_t i = 0; i < r->nsensors; i++) {
        if (!r->sensors[i].desc)
            continue;
        fputs(first ? "\n" : ",\n", f);
        first = false;
        json_sensor(f, r, &r->sensors[i]);
    }
    fputs("],\n\"comparisons\":[", f);
    for (size_t i = 0; i < r->o->ncompare; i++) {
        fputs(i ? ",\n" : "\n", f);
        json_compare(f, r, &r->o->compare[i]);
    }
    fputs("],\n\"events\":[", f);
    if (report_events(r, json_event_fn, &ev) < 0)
        return -1;
    fputs("]}\n", f);
    return 0;
}
