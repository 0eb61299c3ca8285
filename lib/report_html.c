// SPDX-License-Identifier: MIT
/*
 * The report as one self-contained HTML document (SPEC Report): inline
 * CSS and SVG, no script, no font, image or style from anywhere else, so
 * that it reads the same offline, in a browser without scripts, and
 * printed (A4, each sensor's section kept on one page where it fits).
 * Figures are rounded for reading here (the JSON has them exact); every
 * text from the record is escaped.
 */
#include "lib/report_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "version.h"

/* Significant digits of the figures shown (the JSON has all). */
#define HTML_DIGITS 7

static const char html_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
    "'Helvetica Neue',Arial,sans-serif;color:#111;background:#fff;"
    "margin:1.5em auto;max-width:66em;padding:0 1em;line-height:1.35}"
    "h1{font-size:1.5em;margin:.2em 0}"
    "h2{font-size:1.2em;margin:1.2em 0 .4em;border-bottom:1px solid #999}"
    "h3{font-size:1em;margin:.8em 0 .3em}"
    "table{border-collapse:collapse;margin:.3em 0 .8em;font-size:.8em}"
    "th,td{border:1px solid #bbb;padding:.15em .4em;text-align:left;"
    "vertical-align:top}"
    "th{background:#eee}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "table.kv th{width:12em}"
    ".mono{font-family:ui-monospace,'DejaVu Sans Mono',monospace;"
    "font-size:.9em;overflow-wrap:anywhere}"
    ".ok{color:#060;font-weight:bold}.bad{color:#b00;font-weight:bold}"
    ".warn{color:#a50;font-weight:bold}"
    ".wide{overflow-x:auto}"
    "svg{width:100%;height:auto;max-width:48em;display:block}"
    "svg text{font-size:11px;fill:#333;font-family:sans-serif}"
    "svg .axis{stroke:#666;stroke-width:1}"
    "svg .band{stroke:#9bc;stroke-width:2}"
    "svg .mean{stroke:#036;stroke-width:1.2;fill:none}"
    "svg .comm_error{fill:#c00}svg .missed{fill:#e90}"
    "svg .other{fill:#96c}"
    "svg .mark{stroke:#555;stroke-dasharray:3 3}"
    "p.note{font-size:.85em;color:#444}"
    "@page{size:A4;margin:14mm 12mm}"
    "@media print{body{margin:0;max-width:none;font-size:9.5pt}"
    "section.sensor,section.compare,table.kv{break-inside:avoid}"
    "h2{break-after:avoid}"
    ".wide{overflow:visible}table{font-size:7.5pt}}";

/* Writes s with &, <, >, " and ' escaped; NULL as an em dash. */
static void html_text(FILE *f, const char *s)
{
    if (!s) {
        fputs("&#8212;", f);
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void html_time(FILE *f, int64_t us)
{
    char buf[TIME_ISO_LEN];

    time_format_iso(us, buf);
    fputs(buf, f);
}

/* A figure in a cell: rounded to HTML_DIGITS, an em dash if undefined. */
static void html_num_cell(FILE *f, double v)
{
    if (!isfinite(v))
        fputs("<td class=\"n\">&#8212;</td>", f);
    else
        fprintf(f, "<td class=\"n\">%.*g</td>", HTML_DIGITS, v);
}

static void html_int_cell(FILE *f, int64_t v)
{
    fprintf(f, "<td class=\"n\">%lld</td>", (long long)v);
}

static void html_pct_cell(FILE *f, double v, int decimals)
{
    if (!isfinite(v))
        fputs("<td class=\"n\">&#8212;</td>", f);
    else
        fprintf(f, "<td class=\"n\">%.*f&#160;%%</td>", decimals, v);
}

/* A row of a key-value table. */
static void html_kv(FILE *f, const char *key, const char *value, bool mono)
{
    fprintf(f, "<tr><th>%s</th><td%s>", key, mono ? " class=\"mono\"" : "");
    html_text(f, value);
    fputs("</td></tr>\n", f);
}

static void html_kv_time(FILE *f, const char *key, int64_t us)
{
    fprintf(f, "<tr><th>%s</th><td>", key);
    html_time(f, us);
    fputs("</td></tr>\n", f);
}

/* A duration as h:mm:ss.s. */
static void html_duration(FILE *f, int64_t us)
{
    int64_t ds = us / 100000;

    fprintf(f, "%lld:%02lld:%02lld.%lld", (long long)(ds / 36000),
            (long long)(ds / 600 % 60), (long long)(ds / 10 % 60),
            (long long)(ds % 10));
}

static void html_run(FILE *f, const struct report *r)
{
    fputs("<section class=\"run\"><h2>Run</h2>\n<table class=\"kv\">\n", f);
    html_kv(f, "Run", r->name, false);
    html_kv(f, "Site", r->site, false);
    html_kv(f, "Operator", r->operator_name, false);
    html_kv(f, "Note", r->note, false);
    html_kv_time(f, "Started", r->started_us);
    if (r->ended)
        html_kv_time(f, "Ended", r->ended_us);
    else {
        fputs("<tr><th>Ended</th><td><span class=\"warn\">still open"
              "</span>; reported up to ",
              f);
        html_time(f, r->to_us);
        fputs("</td></tr>\n", f);
    }
    fputs("<tr><th>Duration</th><td>", f);
    html_duration(f, r->to_us - r->from_us);
    fputs("</td></tr>\n", f);
    html_kv(f, "Configuration SHA-256", r->config_sha256, true);
    fputs("</table></section>\n", f);
}

static void html_evidence(FILE *f, const struct report *r)
{
    const struct store_verify_result *v = &r->verify;

    fputs("<section class=\"evidence\"><h2>Evidence</h2>\n"
          "<table class=\"kv\">\n",
          f);
    if (r->chain_head) {
        fputs("<tr><th>Chain head</th><td class=\"mono\">", f);
        html_text(f, r->chain_head);
        fprintf(f, " (covers seq %lld)</td></tr>\n", (long long)r->chain_seq);
    } else {
        fputs("<tr><th>Chain head</th><td><span class=\"warn\">none yet"
              "</span>: the run is not sealed</td></tr>\n",
              f);
    }
    fputs("<tr><th>Verification</th><td>", f);
    if (v->ok)
        fprintf(f,
                "<span class=\"ok\">verified</span>: %lld readings in "
                "%lld batches recomputed",
                (long long)v->readings, (long long)v->batches);
    else {
        fputs("<span class=\"bad\">FAILED</span>: ", f);
        html_text(f, v->what);
    }
    fputs("</td></tr>\n<tr><th>Clock</th><td>", f);
    if (!r->clock.known)
        fputs("<span class=\"warn\">unknown</span> (no clock event recorded)",
              f);
    else if (r->clock.synchronized)
        fprintf(f,
                "<span class=\"ok\">synchronized</span> throughout, "
                "largest estimated error %lld&#160;&#181;s",
                (long long)r->clock.max_error_us);
    else
        fputs("<span class=\"warn\">not synchronized</span> for all or "
              "part of the run",
              f);
    fprintf(f, "; %llu clock step%s</td></tr>\n",
            (unsigned long long)r->clock.steps, r->clock.steps == 1 ? "" : "s");
    fputs("</table></section>\n", f);
}

static void html_segments(FILE *f, const struct report *r)
{
    fputs("<section class=\"segments\"><h2>Segments</h2>\n<p class=\"note\">"
          "Cut by <code>tbdaq run mark</code>; each runs from its mark to "
          "the next.</p>\n<table><tr><th>#</th><th>Mark</th><th>From</th>"
          "<th>To</th><th>Duration</th></tr>\n",
          f);
    for (size_t i = 0; i < report_segments(r); i++) {
        int64_t from, to;

        report_segment_span(r, i, &from, &to);
        fprintf(f, "<tr><td class=\"n\">%zu</td><td>", i + 1);
        html_text(f, report_segment_label(r, i));
        fputs("</td><td>", f);
        html_time(f, from);
        fputs("</td><td>", f);
        html_time(f, to);
        fputs("</td><td class=\"n\">", f);
        html_duration(f, to - from);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

/* The overview: one line per sensor over the whole run. */
static void html_overview(FILE *f, const struct report *r)
{
    fputs("<section class=\"overview\"><h2>Sensors</h2>\n<div class=\"wide\">"
          "<table><tr><th>Sensor</th><th>Unit</th><th>Readings</th>"
          "<th>Good</th><th>comm_error</th><th>missed</th>"
          "<th>Completeness</th><th>Mean</th><th>SD</th>"
          "<th>Drift /h</th><th>Calibration</th></tr>\n",
          f);
    for (size_t i = 0; i < r->nsensors; i++) {
        const struct report_sensor *sn = &r->sensors[i];
        int expired;

        if (!sn->desc)
            continue;
        expired = report_cal_expired(r, sn);
        fputs("<tr><td>", f);
        html_text(f, sn->tag);
        fputs("</td><td>", f);
        html_text(f, sn->desc->unit);
        fputs("</td>", f);
        html_int_cell(f, report_stats_readings(&sn->all));
        html_int_cell(f, sn->all.n[QUALITY_GOOD]);
        html_int_cell(f, sn->all.n[QUALITY_COMM_ERROR]);
        html_int_cell(f, sn->all.n[QUALITY_MISSED]);
        html_pct_cell(
            f, 100 * report_completeness(sn, &sn->all, r->from_us, r->to_us),
            1);
        html_num_cell(f, report_stats_mean(&sn->all));
        html_num_cell(f, report_stats_sd(&sn->all));
        html_num_cell(f, report_stats_drift(&sn->all));
        fputs(expired < 0   ? "<td>none recorded</td></tr>\n"
              : expired > 0 ? "<td class=\"bad\">expired</td></tr>\n"
                            : "<td class=\"ok\">valid</td></tr>\n",
              f);
    }
    fputs("</table></div></section>\n", f);
}

static void html_compare(FILE *f, const struct report *r,
                         const struct report_compare *c)
{
    const struct report_sensor *dut = report_sensor_find(r, c->dut);
    const struct report_sensor *ref = report_sensor_find(r, c->ref);

    fputs("<section class=\"compare\"><h3>", f);
    html_text(f, c->dut);
    fputs(" (under test) against ", f);
    html_text(f, c->ref);
    fputs(" (reference)</h3>\n<table><tr><th>Segment</th><th>Mean ", f);
    html_text(f, c->dut);
    fputs("</th><th>Mean ", f);
    html_text(f, c->ref);
    fputs("</th><th>Relative error</th></tr>\n", f);
    for (size_t i = 0; i <= report_segments(r); i++) {
        bool whole = i == report_segments(r);
        const struct report_stats *d = whole ? &dut->all : &dut->seg[i];
        const struct report_stats *q = whole ? &ref->all : &ref->seg[i];
        double dm = report_stats_mean(d), rm = report_stats_mean(q);

        if (whole)
            fputs("<tr><th>whole run</th>", f);
        else {
            fprintf(f, "<tr><td>%zu. ", i + 1);
            html_text(f, report_segment_label(r, i));
            fputs("</td>", f);
        }
        html_num_cell(f, dm);
        html_num_cell(f, rm);
        html_pct_cell(f, report_relative_error(dm, rm), 3);
        fputs("</tr>\n", f);
    }
    fputs("</table></section>\n", f);
}

static void html_identity(FILE *f, const char *what,
                          const struct device_entry *d)
{
    fprintf(f, "<tr><th>%s</th><td>", what);
    if (!d) {
        fputs("not recorded</td></tr>\n", f);
        return;
    }
    fputs("model ", f);
    html_text(f, d->id.has_model ? d->id.model : NULL);
    fputs(", serial <span class=\"mono\">", f);
    html_text(f, d->id.has_serial ? d->id.serial : NULL);
    fputs("</span>, firmware <span class=\"mono\">", f);
    html_text(f, d->id.has_firmware ? d->id.firmware : NULL);
    fputs("</span> (recorded ", f);
    html_time(f, d->ts_us);
    fputs(")</td></tr>\n", f);
}

static void html_sensor_facts(FILE *f, const struct report *r,
                              const struct report_sensor *sn)
{
    const struct report_desc *d = sn->desc;
    const struct device_entry *start = report_device_at(r, sn, r->from_us);
    const struct device_entry *end = report_device_at(r, sn, r->to_us);
    int expired = report_cal_expired(r, sn);

    fputs("<table class=\"kv\">\n<tr><th>Kind, unit</th><td>", f);
    html_text(f, d->kind);
    fputs(", ", f);
    html_text(f, d->unit);
    fputs("</td></tr>\n<tr><th>Where</th><td>bus ", f);
    html_text(f, d->bus);
    fprintf(f, ", unit %d; every %d&#160;ms; description version %lld",
            d->unit_id, d->interval_ms, (long long)d->version);
    if (sn->nversions > 1)
        fprintf(f, " (<span class=\"warn\">%d versions in the run</span>)",
                sn->nversions);
    fputs("</td></tr>\n", f);
    if (start != end)
        html_identity(f, "Instrument at start", start);
    html_identity(f, start != end ? "Instrument at end" : "Instrument", end);
    fputs("<tr><th>Calibration</th><td>", f);
    if (expired < 0 && !d->cal_date && !d->cal_certificate)
        fputs("none recorded", f);
    else {
        fputs("certificate ", f);
        html_text(f, d->cal_certificate);
        fputs(", calibrated ", f);
        html_text(f, d->cal_date);
        fputs(", due ", f);
        html_text(f, d->cal_due);
        if (expired > 0)
            fputs(": <span class=\"bad\">due before the run's end</span>", f);
        else if (expired == 0)
            fputs(": <span class=\"ok\">valid for the run</span>", f);
    }
    fputs("</td></tr>\n</table>\n", f);
}

/* One line of the statistics table: a stretch's figures. */
static void html_stats_row(FILE *f, const struct report_sensor *sn,
                           const struct report_stats *st, int64_t from,
                           int64_t to)
{
    bool any = st->n[QUALITY_GOOD] > 0;

    html_int_cell(f, report_stats_readings(st));
    for (int q = 0; q < REPORT_QUALITIES; q++)
        html_int_cell(f, st->n[q]);
    html_pct_cell(f, 100 * report_completeness(sn, st, from, to), 1);
    html_num_cell(f, report_stats_mean(st));
    html_num_cell(f, report_stats_sd(st));
    html_num_cell(f, any ? st->min : NAN);
    html_num_cell(f, any ? st->max : NAN);
    html_num_cell(f, any ? st->first : NAN);
    html_num_cell(f, any ? st->last : NAN);
    html_num_cell(f, report_stats_drift(st));
    fputs("</tr>\n", f);
}

static void html_sensor(FILE *f, const struct report *r,
                        const struct report_sensor *sn)
{
    fputs("<section class=\"sensor\" id=\"sensor-", f);
    html_text(f, sn->tag);
    fputs("\"><h2>", f);
    html_text(f, sn->tag);
    fputs("</h2>\n", f);
    html_sensor_facts(f, r, sn);
    report_svg(f, r, sn);
    fputs("<div class=\"wide\"><table><tr><th>Stretch</th><th>Readings</th>"
          "<th>good</th><th>out_of_range</th><th>invalid</th>"
          "<th>comm_error</th><th>missed</th><th>Compl.</th><th>Mean</th>"
          "<th>SD</th><th>Min</th><th>Max</th><th>First</th><th>Last</th>"
          "<th>Drift /h</th></tr>\n<tr><th>whole run</th>",
          f);
    html_stats_row(f, sn, &sn->all, r->from_us, r->to_us);
    for (size_t i = 0; i < report_segments(r); i++) {
        int64_t from, to;

        report_segment_span(r, i, &from, &to);
        fprintf(f, "<tr><td>%zu. ", i + 1);
        html_text(f, report_segment_label(r, i));
        fputs("</td>", f);
        html_stats_row(f, sn, &sn->seg[i], from, to);
    }
    fputs("</table></div></section>\n", f);
}

static int html_event_fn(int64_t ts_us, const char *kind, const char *detail,
                         void *arg)
{
    FILE *f = arg;

    fputs("<tr><td>", f);
    html_time(f, ts_us);
    fputs("</td><td>", f);
    html_text(f, kind);
    fputs("</td><td class=\"mono\">", f);
    html_text(f, detail);
    fputs("</td></tr>\n", f);
    return ferror(f) ? 1 : 0;
}

int report_html(struct report *r)
{
    FILE *f = r->out;

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "\n<meta name=\"viewport\" content=\"width=device-width, "
          "initial-scale=1\">\n<title>Verification report: ",
          f);
    html_text(f, r->name);
    fprintf(f,
            "</title>\n<style>%s</style></head>\n<body>\n<h1>"
            "Verification report: run ",
            html_style);
    html_text(f, r->name);
    fputs("</h1>\n<p class=\"note\">Written ", f);
    html_time(f, r->generated_us);
    fputs(" by tbdaq " TBDAQ_VERSION ". Statistics are over good readings; "
          "the README of tbdaq (&#8220;The verification report&#8221;) "
          "defines each figure; <code>tbdaq report --format json</code> "
          "gives them unrounded.</p>\n",
          f);
    html_run(f, r);
    html_evidence(f, r);
    html_segments(f, r);
    html_overview(f, r);
    if (r->o->ncompare) {
        fputs("<section class=\"comparisons\"><h2>Comparisons</h2>\n"
              "<p class=\"note\">Relative error = (mean(DUT) &#8722; "
              "mean(REF)) &#247; mean(REF) &#215; 100&#160;%.</p>\n",
              f);
        for (size_t i = 0; i < r->o->ncompare; i++)
            html_compare(f, r, &r->o->compare[i]);
        fputs("</section>\n", f);
    }
    for (size_t i = 0; i < r->nsensors; i++)
        if (r->sensors[i].desc)
            html_sensor(f, r, &r->sensors[i]);
    fputs("<section class=\"events\"><h2>Events</h2>\n<div class=\"wide\">"
          "<table><tr><th>Time</th><th>Kind</th><th>Detail</th></tr>\n",
          f);
    if (report_events(r, html_event_fn, f) < 0)
        return -1;
    fputs("</table></div></section>\n</body></html>\n", f);
    return 0;
}
