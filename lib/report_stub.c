// SPDX-License-Identifier: MIT
/*
 * TEMP report stub: report_write() as lib/report.h declares it, writing
 * only the run's name, times and reading count, so that tbdaq-web's
 * /runs/<name> can be built and tested before the report branch lands.
 * Drop this file when it does.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lib/report.h"

struct stub {
    FILE *out;
    enum report_format format;
};

static int stub_fn(const struct store_run *r, void *arg)
{
    struct stub *st = arg;
    char a[TIME_ISO_LEN], b[TIME_ISO_LEN] = "";

    time_format_iso(r->started_us, a);
    if (r->ended)
        time_format_iso(r->ended_us, b);
    if (st->format == REPORT_JSON)
        fprintf(st->out,
                "{\"run\":{\"name\":\"%s\",\"start\":\"%s\",\"end\":%s%s%s,"
                "\"readings\":%lld}}\n",
                r->name, a, r->ended ? "\"" : "", r->ended ? b : "null",
                r->ended ? "\"" : "", (long long)r->readings);
    else
        fprintf(st->out,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                "charset=\"utf-8\"><title>Report of run %s</title></head>"
                "<body><h1>Report of run %s</h1><p>start %s, end %s, "
                "%lld readings</p></body></html>\n",
                r->name, r->name, a, r->ended ? b : "open",
                (long long)r->readings);
    return 0;
}

int report_write(struct store *s, const struct report_opts *o, FILE *out,
                 char *err, size_t errlen)
{
    struct stub st = {out, o->format};
    int rc = store_run_get(s, o->run, stub_fn, &st);

    if (rc == 1)
        snprintf(err, errlen, "no run '%s'", o->run);
    else if (rc < 0)
        snprintf(err, errlen, "%s", store_errmsg(s));
    if (rc == 0 && ferror(out)) {
        snprintf(err, errlen, "cannot write the report");
        return -1;
    }
    return rc;
}
