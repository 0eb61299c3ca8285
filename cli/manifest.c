// SPDX-License-Identifier: MIT
/*
 * The export's manifest (SPEC "Export"), what an auditor needs beside the
 * rows: the export's format, file and SHA-256, the run or window, every
 * version of a sensor's description with its calibration and counts, the
 * clock's state over the window (SPEC "Traceable time") and the events,
 * starting with the configuration in force. One JSON object: the CSV's
 * manifest file, or the head of a JSON export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/export.h"
#include "common/log.h"
#include "lib/clock_summary.h"
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

static void manifest_sensor(const struct export_job *e,
                            const struct export_sensor *o, struct sink *k)
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
    /* the instrument's identity: not read from devices yet */
    sink_puts(k, "],\"device\":null");
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
    int rc;

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
        manifest_sensor(e, &e->sensors[i], k);
    }
    sink_puts(k, "],\n\"clock\":");
    if (manifest_clock(e, s, k) < 0) {
        log_err("%s", store_errmsg(s));
        return -1;
    }
    sink_puts(k, ",\"exported\":");
    sink_jtime(k, time_real_us());
    sink_puts(k, ",\"tool\":\"tbdaq " TBDAQ_VERSION "\"");
    sink_puts(k, ",\n\"events\":[");
    /* The config in force when the window opens, then the window's own
     * events, the one at its end included (a run's run_stop). */
    rc = store_events(s, 0, e->from_us, manifest_config_fn, &cfg);
    if (rc == 0 && cfg.detail)
        manifest_event_fn(cfg.ts_us, "config", cfg.detail, &ev);
    free(cfg.detail);
    if (rc == 0)
        rc = store_events(s, e->from_us, e->to_us + 1, manifest_event_fn, &ev);
    if (rc < 0)
        log_err("%s", store_errmsg(s));
    else if (rc > 0)
        log_err("interrupted");
    sink_puts(k, "]}");
    return rc ? -1 : 0;
}
