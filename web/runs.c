// SPDX-License-Identifier: MIT
/*
 * /runs and /runs/<name>: the list of runs, newest first, each linking to
 * its report; a report is report_write()'s document (lib/report.h, as
 * `tbdaq report` writes it, without comparisons: SPEC), captured in
 * memory for the response.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "lib/report.h"
#include "web/web.h"

/* The runs, as store_runs() hands them (oldest first), to be turned. */
struct runs_list {
    struct run_line {
        char name[CONTROL_NAME_MAX + 1];
        char operator_name[CONTROL_OPERATOR_MAX + 1];
        char note[CONTROL_TEXT_MAX + 1];
        int64_t started_us, ended_us, readings;
        bool ended;
    } * v;
    size_t n, cap;
};

static int runs_fn(const struct store_run *r, void *arg)
{
    struct runs_list *l = arg;
    struct run_line *x;

    xgrow(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
    x = &l->v[l->n++];
    snprintf(x->name, sizeof(x->name), "%s", r->name);
    snprintf(x->operator_name, sizeof(x->operator_name), "%s",
             r->operator_name ? r->operator_name : "");
    snprintf(x->note, sizeof(x->note), "%s", r->note ? r->note : "");
    x->started_us = r->started_us;
    x->ended = r->ended;
    x->ended_us = r->ended_us;
    x->readings = r->readings;
    return 0;
}

static void render_run_line(struct buf *b, const struct run_line *x)
{
    buf_puts(b, "<tr><td><a href=\"/runs/");
    buf_html(b, x->name); /* a name needs no URL escape */
    buf_puts(b, "\">");
    buf_html(b, x->name);
    buf_puts(b, "</a></td><td>");
    buf_time(b, x->started_us);
    buf_puts(b, "</td><td>");
    if (x->ended)
        buf_time(b, x->ended_us);
    else
        buf_puts(b, "open");
    buf_printf(b, "</td><td class=\"n\">%lld</td><td>", (long long)x->readings);
    buf_html(b, x->operator_name);
    buf_puts(b, "</td><td>");
    buf_html(b, x->note);
    buf_puts(b, "</td></tr>\n");
}

int render_runs(struct store *s, struct buf *b, char *err, size_t errlen)
{
    struct runs_list l = {0};

    if (store_runs(s, runs_fn, &l) != 0) {
        snprintf(err, errlen, "%s", store_errmsg(s));
        free(l.v);
        return -1;
    }
    render_head(b, "tbdaq runs");
    buf_puts(b, "<h1>Test runs</h1><p class=\"meta\"><a href=\"/\">live</a>"
                "</p>\n");
    if (l.n == 0) {
        buf_puts(b, "<p>No run was recorded yet.</p>\n");
    } else {
        buf_puts(b, "<table><thead><tr><th>run</th><th>start</th>"
                    "<th>end</th><th>readings</th><th>operator</th>"
                    "<th>note</th></tr></thead><tbody>\n");
        for (size_t i = l.n; i-- > 0;)
            render_run_line(b, &l.v[i]);
        buf_puts(b, "</tbody></table>\n");
    }
    render_foot(b);
    free(l.v);
    return 0;
}

int render_run(struct store *s, const char *name, bool html, struct buf *b,
               char *err, size_t errlen)
{
    struct report_opts o = {
        .run = name,
        .format = html ? REPORT_HTML : REPORT_JSON,
    };
    char *mem = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&mem, &len);
    int rc;

    if (!f) {
        snprintf(err, errlen, "cannot make the report in memory");
        return -1;
    }
    rc = report_write(s, &o, f, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot make the report in memory");
        rc = -1;
    }
    if (rc == 0)
        buf_add(b, mem, len);
    free(mem);
    return rc;
}
