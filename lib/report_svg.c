// SPDX-License-Identifier: MIT
/*
 * A sensor's plot over the run, inline SVG for the HTML report: per time
 * bucket (REPORT_BUCKETS across the run) a bar from the minimum to the
 * maximum of its good readings and a line through their means, and
 * under the axis a red tick where a bucket holds comm_error readings,
 * orange where it holds missed ones, purple for out_of_range or invalid
 * (each with a tooltip of the counts); dashed lines at the marks. Its
 * size does not depend on the run's length.
 */
#include "lib/report_private.h"

#include <math.h>

#include "common/util.h"

/* The drawing, in SVG user units. */
#define SVG_W 720
#define SVG_H 230
#define SVG_LEFT 70
#define SVG_RIGHT 12
#define SVG_TOP 12
#define SVG_PLOT_H 150 /* the values */
#define SVG_TICK_H 7   /* a row of gap ticks */

static double svg_x(int64_t ts, const struct report *r)
{
    double span = (double)(r->to_us - r->from_us);
    double at = span > 0 ? (double)(ts - r->from_us) / span : 0;

    return SVG_LEFT + fmin(fmax(at, 0), 1) * (SVG_W - SVG_LEFT - SVG_RIGHT);
}

static double svg_bucket_x(size_t i)
{
    return SVG_LEFT +
           ((double)i + 0.5) * (SVG_W - SVG_LEFT - SVG_RIGHT) / REPORT_BUCKETS;
}

static double svg_y(double v, double lo, double hi)
{
    return SVG_TOP + SVG_PLOT_H - (v - lo) / (hi - lo) * SVG_PLOT_H;
}

/* The time of day of us, UTC, for the axis. */
static void svg_clock(FILE *f, int64_t us)
{
    char buf[TIME_ISO_LEN];

    time_format_iso(us, buf);
    /* "2026-11-25T01:02:03.456789Z": the date and the time to seconds */
    fprintf(f, "%.10s %.8s UTC", buf, buf + 11);
}

/* Ticks under the plot for the buckets holding readings of one kind. */
static void svg_ticks(FILE *f, const struct report_sensor *sn, int row,
                      const char *cls, const char *what)
{
    double w = (double)(SVG_W - SVG_LEFT - SVG_RIGHT) / REPORT_BUCKETS;
    double y = SVG_TOP + SVG_PLOT_H + 6 + row * (SVG_TICK_H + 3);

    for (size_t i = 0; i < REPORT_BUCKETS; i++) {
        const struct report_bucket *b = &sn->plot[i];
        int64_t n = row == 0 ? b->comm_error : row == 1 ? b->missed : b->other;

        if (!n)
            continue;
        fprintf(f,
                "<rect class=\"gap %s\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" "
                "height=\"%d\"><title>%lld %s</title></rect>\n",
                cls, SVG_LEFT + (double)i * w, y, w < 1.5 ? 1.5 : w, SVG_TICK_H,
                (long long)n, what);
    }
}

void report_svg(FILE *f, const struct report *r, const struct report_sensor *sn)
{
    double lo = INFINITY, hi = -INFINITY;
    bool pen = false;

    for (size_t i = 0; i < REPORT_BUCKETS; i++) {
        if (!sn->plot[i].good)
            continue;
        lo = fmin(lo, sn->plot[i].min);
        hi = fmax(hi, sn->plot[i].max);
    }
    if (!(lo <= hi)) /* no good reading: an empty frame */
        lo = 0, hi = 1;
    if (hi - lo < 1e-12 * fmax(fabs(hi), 1)) /* flat: a band around it */
        lo -= 0.5 * fmax(fabs(lo), 1e-9), hi += 0.5 * fmax(fabs(hi), 1e-9);
    fprintf(f,
            "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"values of ",
            SVG_W, SVG_H);
    fputs(sn->tag, f);
    fputs(" over the run\">\n", f);
    /* frame and axis labels */
    fprintf(f,
            "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
            "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            SVG_LEFT, SVG_TOP, SVG_LEFT, SVG_TOP + SVG_PLOT_H, SVG_LEFT,
            SVG_TOP + SVG_PLOT_H, SVG_W - SVG_RIGHT, SVG_TOP + SVG_PLOT_H);
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.6g</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.6g</text>\n",
            SVG_LEFT - 4, SVG_TOP + 8, hi, SVG_LEFT - 4, SVG_TOP + SVG_PLOT_H,
            lo);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", SVG_LEFT - 4,
            SVG_TOP + SVG_PLOT_H / 2);
    if (sn->desc && sn->desc->unit) {
        for (const char *p = sn->desc->unit; *p; p++)
            if (*p == '<' || *p == '&' || *p == '>')
                fprintf(f, "&#%d;", *p);
            else
                fputc(*p, f);
    }
    fputs("</text>\n", f);
    /* marks */
    for (size_t i = 0; i < r->nmarks; i++) {
        double x = svg_x(r->marks[i].ts_us, r);

        fprintf(f,
                "<line class=\"mark\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                "y2=\"%d\"/><text x=\"%.1f\" y=\"%d\">%zu</text>\n",
                x, SVG_TOP, x, SVG_TOP + SVG_PLOT_H, x + 2, SVG_TOP + 9, i + 2);
    }
    /* min-max bars and the line of means */
    for (size_t i = 0; i < REPORT_BUCKETS; i++) {
        const struct report_bucket *b = &sn->plot[i];

        if (b->good)
            fprintf(f,
                    "<line class=\"band\" x1=\"%.1f\" y1=\"%.1f\" "
                    "x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    svg_bucket_x(i), svg_y(b->max, lo, hi) - 0.5,
                    svg_bucket_x(i), svg_y(b->min, lo, hi) + 0.5);
    }
    fputs("<path class=\"mean\" d=\"", f);
    for (size_t i = 0; i < REPORT_BUCKETS; i++) {
        const struct report_bucket *b = &sn->plot[i];

        /* a bucket without readings (a run shorter than the buckets)
         * is bridged; one with readings but no good one breaks the line */
        if (!b->good) {
            if (b->comm_error || b->missed || b->other)
                pen = false;
            continue;
        }
        fprintf(f, "%c%.1f %.1f ", pen ? 'L' : 'M', svg_bucket_x(i),
                svg_y(b->mean, lo, hi));
        pen = true;
    }
    fputs("\"/>\n", f);
    /* what had no value, under the axis */
    svg_ticks(f, sn, 0, "comm_error", "comm_error");
    svg_ticks(f, sn, 1, "missed", "missed");
    svg_ticks(f, sn, 2, "other", "out_of_range or invalid");
    fprintf(f,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">comm_error</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">missed</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">other</text>\n",
            SVG_LEFT - 4, SVG_TOP + SVG_PLOT_H + 6 + SVG_TICK_H, SVG_LEFT - 4,
            SVG_TOP + SVG_PLOT_H + 6 + 2 * SVG_TICK_H + 3, SVG_LEFT - 4,
            SVG_TOP + SVG_PLOT_H + 6 + 3 * SVG_TICK_H + 6);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", SVG_LEFT, SVG_H - 4);
    svg_clock(f, r->from_us);
    fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">",
            SVG_W - SVG_RIGHT, SVG_H - 4);
    svg_clock(f, r->to_us);
    fputs("</text>\n</svg>\n", f);
}
