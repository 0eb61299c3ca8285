// SPDX-License-Identifier: MIT
/*
 * The export's manifest (SPEC "Export"), what an auditor needs beside the
 * rows: the export's format, file and SHA-256, the run or window, every
 * version of a sensor's description with its calibration and counts, the
 * clock's state over the window (SPEC "Traceable time") and the events,
 * starting with the configuration in force. Each sensor names the
 * instrument (`device`) its bus and unit had at the end of its span, and
 * the events begin with the identities in force when the window opens,
 * so that an instrument swapped inside the window shows as two
 * identities and the `device` event between them. One JSON object: the
 * CSV's manifest file, or the head of a JSON export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/export.h"
#include "common/log.h"
#include "lib/clock_summary.h"
#include "lib/device.h"
#include "version.h"

/* The manifest's format name (SPEC). */
#define EXPORT_FORMAT "tbdaq-export-1"

/* Where store_events' callback writes, and how many it wrote. */
struct manifest_events {
    struct sink *sink;
    int64_t n;
};

/* The newest `config` event before the window: the config in force. */
struct manifest_config {
    int64_t ts_us;
    char *detail; /* NULL until one is found */
};

static int manifest_config_fn(int64_t ts_us, const char *kind,
                              const char *detail, void *arg)
{
    struct manifest_config *c = arg;

    if (strcmp(kind, "config") == 0 && detail) {
        free(c->detail);
        c->detail = xstrdup(detail);
        c->ts_us = ts_us;
    }
    return 0;
}

static int manifest_event_fn(int64_t ts_us, const char *kind,
                             const char *detail, void *arg)
{
    struct manifest_events *ev = arg;
    struct sink *k = ev->sink;

    sink_puts(k, ev->n++ ? ",\n{\"ts\":" : "\n{\"ts\":");
    sink_jtime(k, ts_us);
    sink_puts(k, ",\"kind\":");
    sink_jstr(k, kind);
    sink_puts(k, ",\"detail\":");
    sink_jstr(k, detail);
    sink_puts(k, "}");
    return export_interrupted ? 1 : 0;
}

/* The identity of o's bus and unit in force at the end of its span in
 * the window (at the window's end if it has no rows there), or null. */
static void manifest_device(const struct export_job *e,
                            const struct export_sensor *o,
                            const struct device_log *devs, struct sink *k)
{
    int64_t at = export_sensor_rows(o) ? o->last_us : e->to_us;
    const struct device_entry *d =
        o->bus ? device_log_at(devs, o->bus, o->unit_id, at) : NULL;

    if (!d) {
        sink_puts(k, "null");
        return;
    }
    sink_puts(k, "{\"model\":");
    sink_jstr(k, d->id.has_model ? d->id.model : NULL);
    sink_puts(k, ",\"serial\":");
    sink_jstr(k, d->id.has_serial ? d->id.serial : NULL);
    sink_puts(k, ",\"firmware\":");
    sink_jstr(k, d->id.has_firmware ? d->id.firmware : NULL);
    sink_puts(k, "}");
}

static void manifest_sensor(const struct export_job *e,
                            const struct export_sensor *o,
                            const struct device_log *devs, struct sink *k)
{
    int64_t due_us, expected = 0;
    char num[32];

    sink_puts(k, "{\"id\":");
    sink_jstr(k, o->tag);
    sink_puts(k, ",\"version\":");
    sink_jint(k, o->version);
    sink_puts(k, ",\"kind\":");
    sink_jstr(k, o->kind);
    sink_puts(k, ",\"unit\":");
    sink_jstr(k, o->unit);
    sink_puts(k, ",\"bus\":");
    sink_jstr(k, o->bus);
    sink_puts(k, ",\"unit_id\":");
    sink_jint(k, o->unit_id);
    sink_puts(k, ",\"table\":");
    sink_jstr(k, o->table);
    sink_puts(k, ",\"address\":");
    sink_jint(k, o->address);
    sink_puts(k, ",\"type\":");
    sink_jstr(k, o->type);
    /* a bit of a coil or discrete input has no byte order */
    sink_puts(k, ",\"byte_order\":");
    sink_jstr(k,
              o->type && strcmp(o->type, "bool") == 0 ? NULL : o->byte_order);
    if (o->bit >= 0) { /* a bit sensor: which bit of the register */
        sink_puts(k, ",\"bit\":");
        sink_jint(k, o->bit);
    }
    sink_puts(k, ",\"scale\":");
    sink_jdouble(k, o->scale);
    sink_puts(k, ",\"offset\":");
    sink_jdouble(k, o->offset);
    sink_puts(k, ",\"interval_ms\":");
    sink_jint(k, o->interval_ms);
    sink_puts(k, ",\"calibration\":{\"date\":");
    sink_jstr(k, o->cal_date);
    sink_puts(k, ",\"due\":");
    sink_jstr(k, o->cal_due);
    sink_puts(k, ",\"certificate\":");
    sink_jstr(k, o->cal_certificate);
    /* expired: due before the end of the run (or window); null without
     * a due date (no calibration) */
    sink_puts(k, !o->cal_due ? "},\"calibration_expired\":null"
                 : time_parse_iso(o->cal_due, &due_us) == 0 && due_us < e->to_us
                     ? "},\"calibration_expired\":true"
                     : "},\"calibration_expired\":false");
    /* the range: null for an unbounded side */
    sink_puts(k, ",\"range\":[");
    if (o->has_range_lo)
        sink_jdouble(k, o->range_lo);
    else
        sink_puts(k, "null");
    sink_puts(k, ",");
    if (o->has_range_hi)
        sink_jdouble(k, o->range_hi);
    else
        sink_puts(k, "null");
    /* the instrument's identity, as its `device` events recorded it */
    sink_puts(k, "],\"device\":");
    manifest_device(e, o, devs, k);
    /* the span this version was in force within the window: its first
     * and last reading there */
    sink_puts(k, ",\"valid_from\":");
    if (export_sensor_rows(o))
        sink_jtime(k, o->first_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"valid_to\":");
    if (export_sensor_rows(o))
        sink_jtime(k, o->last_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"counts\":{");
    for (int q = 0; q < EXPORT_QUALITIES; q++) {
        sink_puts(k, q ? ",\"" : "\"");
        sink_puts(k, quality_name((enum quality)q));
        sink_puts(k, "\":");
        sink_jint(k, o->counts[q]);
    }
    /* slots on the sensor's grid within the window */
    if (o->interval_ms > 0)
        expected = (e->to_us - e->from_us) / (o->interval_ms * INT64_C(1000));
    sink_puts(k, "},\"expected\":");
    sink_jint(k, expected);
    sink_puts(k, ",\"completeness\":");
    if (expected > 0)
        snprintf(num, sizeof(num), "%.3f",
                 (double)o->counts[QUALITY_GOOD] / (double)expected);
    else
        snprintf(num, sizeof(num), "0");
    sink_puts(k, num);
    sink_puts(k, "}");
}

/* The newest `clock` event before the window: its detail (or NULL). */
static int manifest_clock_before_fn(int64_t ts_us, const char *kind,
                                    const char *detail, void *arg)
{
    char **last = arg;

    (void)ts_us;
    if (strcmp(kind, "clock") == 0) {
        free(*last);
        *last = xstrdup(detail ? detail : "");
    }
    return 0;
}

static int manifest_clock_fn(int64_t ts_us, const char *kind,
                             const char *detail, void *arg)
{
    (void)ts_us;
    clock_summary_add(arg, kind, detail);
    return 0;
}

/*
 * The manifest's "clock" (SPEC Export, Traceable time) from the events:
 * the state in force when the window opens (the newest `clock` event
 * before it), then every `clock` and `clock_step` event inside it, by
 * time. Returns 0, or -1 on a database error.
 */
static int manifest_clock(const struct export_job *e, struct store *s,
                          struct sink *k)
{
    struct clock_summary cs;
    char *before = NULL;
    int rc;

    clock_summary_init(&cs);
    rc = store_events(s, 0, e->from_us, manifest_clock_before_fn, &before);
    if (rc == 0 && before)
        clock_summary_add(&cs, "clock", before);
    free(before);
    if (rc == 0)
        rc = store_events(s, e->from_us, e->to_us + 1, manifest_clock_fn, &cs);
    if (rc != 0)
        return -1;
    sink_puts(k, "{\"synchronized\":");
    sink_puts(k, !cs.known ? "null" : cs.synchronized ? "true" : "false");
    sink_puts(k, ",\"max_error_us\":");
    if (cs.max_error_us >= 0)
        sink_jint(k, cs.max_error_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"steps\":");
    sink_jint(k, (int64_t)cs.steps);
    sink_puts(k, "}");
    return 0;
}

static int manifest_device_fn(int64_t ts_us, const char *kind,
                              const char *detail, void *arg)
{
    if (detail)
        device_log_event(arg, ts_us, kind, detail, false);
    return 0;
}

/* An event in force when the window opens: listed before its own. */
struct manifest_before {
    int64_t ts_us;
    const char *kind, *detail;
};

static int manifest_before_cmp(const void *a, const void *b)
{
    const struct manifest_before *x = a, *y = b;

    return (x->ts_us > y->ts_us) - (x->ts_us < y->ts_us);
}

/* Writes what was in force when the window opened, in time order: the
 * configuration (cfg, if one was recorded) and the identity of each bus
 * and unit of the manifest's sensors. */
static void manifest_in_force(const struct export_job *e,
                              const struct manifest_config *cfg,
                              const struct device_log *devs,
                              struct manifest_events *ev)
{
    struct manifest_before *v = xcalloc(e->nsensors + 1, sizeof(*v));
    const struct device_entry **seen = xcalloc(e->nsensors + 1, sizeof(*seen));
    size_t n = 0, nseen = 0;

    if (cfg->detail)
        v[n++] = (struct manifest_before){cfg->ts_us, "config", cfg->detail};
    for (size_t i = 0; i < e->nsensors; i++) {
        const struct export_sensor *o = &e->sensors[i];
        const struct device_entry *d =
            o->bus ? device_log_at(devs, o->bus, o->unit_id, e->from_us - 1)
                   : NULL;
        size_t j;

        for (j = 0; d && j < nseen && seen[j] != d; j++)
            ;
        if (!d || j < nseen)
            continue;
        seen[nseen++] = d;
        v[n++] = (struct manifest_before){d->ts_us, "device", d->detail};
    }
    qsort(v, n, sizeof(*v), manifest_before_cmp);
    for (size_t i = 0; i < n; i++)
        manifest_event_fn(v[i].ts_us, v[i].kind, v[i].detail, ev);
    free(seen);
    free(v);
}

/*
 * Writes the manifest (SPEC "Export") to k; file and sha256 only if file
 * is not NULL (the CSV's manifest file; JSON embeds it without them).
 * Returns 0, or -1 after logging a database error or "interrupted".
 */
int manifest_write(struct export_job *e, struct store *s, struct sink *k,
                   const char *file, const char *sha256)
{
    struct manifest_events ev = {k, 0};
    struct manifest_config cfg = {0, NULL};
    struct device_log devs = {0};
    int rc;

    /* the identities recorded up to the window's end (events are few
     * beside readings: they are read whole, as for the clock) */
    if (store_events(s, 0, e->to_us + 1, manifest_device_fn, &devs) < 0) {
        log_err("%s", store_errmsg(s));
        return -1;
    }

    sink_puts(k, "{\"format\":\"" EXPORT_FORMAT "\"");
    if (file) {
        sink_puts(k, ",\"file\":");
        sink_jstr(k, file);
        sink_puts(k, ",\"sha256\":");
        sink_jstr(k, sha256);
    }
    sink_puts(k, ",\"rows\":");
    sink_jint(k, e->rows);
    sink_puts(k, ",\"site\":");
    sink_jstr(k, e->site);
    if (e->has_run) {
        sink_puts(k, ",\n\"run\":{\"name\":");
        sink_jstr(k, e->run.name);
        sink_puts(k, ",\"started\":");
        sink_jtime(k, e->run.started_us);
        sink_puts(k, ",\"ended\":");
        if (e->run.ended)
            sink_jtime(k, e->run.ended_us);
        else
            sink_puts(k, "null");
        sink_puts(k, ",\"operator\":");
        sink_jstr(k, e->run.operator_name);
        sink_puts(k, ",\"note\":");
        sink_jstr(k, e->run.note);
        sink_puts(k, ",\"config_sha256\":");
        sink_jstr(k, e->run.config_sha256);
        sink_puts(k, ",\"chain_head\":");
        sink_jstr(k, e->run.chain_head);
        sink_puts(k, "}");
    }
    sink_puts(k, ",\n\"window\":{\"from\":");
    sink_jtime(k, e->from_us);
    sink_puts(k, ",\"to\":");
    sink_jtime(k, e->to_us);
    sink_puts(k, "},\n\"sensors\":[");
    for (size_t i = 0; i < e->nsensors; i++) {
        sink_puts(k, i ? ",\n" : "\n");
        manifest_sensor(e, &e->sensors[i], &devs, k);
    }
    sink_puts(k, "],\n\"clock\":");
    if (manifest_clock(e, s, k) < 0) {
        log_err("%s", store_errmsg(s));
        device_log_release(&devs);
        return -1;
    }
    sink_puts(k, ",\"exported\":");
    sink_jtime(k, time_real_us());
    sink_puts(k, ",\"tool\":\"tbdaq " TBDAQ_VERSION "\"");
    sink_puts(k, ",\n\"events\":[");
    /* The config and the identities in force when the window opens,
     * then the window's own events, the one at its end included (a run's
     * run_stop). */
    rc = store_events(s, 0, e->from_us, manifest_config_fn, &cfg);
    if (rc == 0)
        manifest_in_force(e, &cfg, &devs, &ev);
    free(cfg.detail);
    device_log_release(&devs);
    if (rc == 0)
        rc = store_events(s, e->from_us, e->to_us + 1, manifest_event_fn, &ev);
    if (rc < 0)
        log_err("%s", store_errmsg(s));
    else if (rc > 0)
        log_err("interrupted");
    sink_puts(k, "]}");
    return rc ? -1 : 0;
}
