// SPDX-License-Identifier: MIT
/*
 * The export's rows: one pass over the store's rows of the job's run or
 * window, each handed to a row writer that formats it straight into the
 * sink as CSV or JSON (SPEC "Export"), tallied. This is the
 * inner loop of an export, a million rows a second and more: formatting
 * avoids printf (common/fmt.h), and each row reserves room for its
 * longest form once and writes into it.
 */
#include <string.h>

#include "cli/export.h"
#include "common/csv.h"
#include "common/fmt.h"
#include "common/jsonw.h"
#include "common/log.h"

/* The CSV header (SPEC), with its line end. */
#define EXPORT_CSV_HEADER "seq,ts,sensor,kind,value,unit,quality,error\r\n"
/* Room for the fixed parts of one row: punctuation, keys, numbers. */
#define EXPORT_ROW_FIXED 160

/* The lengths of a row's strings, measured once per row written. */
struct export_row_len {
    size_t sensor, kind, unit, quality, error;
};

/* What the row writer does first: stop when asked to, tally and count
 * the row, and measure its strings into len. Returns -1 to stop, 0 to go
 * on. */
static int export_row_begin(struct export_job *e, const struct reading_row *r,
                            struct export_row_len *len)
{
    if (export_interrupted) {
        log_err("interrupted");
        e->stopped = true;
        return -1;
    }
    if (export_tally(e, r) < 0) {
        e->stopped = true;
        return -1;
    }
    e->rows++;
    len->sensor = strlen(r->sensor);
    len->kind = strlen(r->kind);
    len->unit = strlen(r->unit);
    len->quality = strlen(r->quality);
    len->error = r->error ? strlen(r->error) : 0;
    return 0;
}

/* A CSV line (SPEC), the header before the first. */
static void export_csv_row(struct export_job *e, const struct reading_row *r,
                           const struct export_row_len *n)
{
    char *p;

    /* The header waits for the first row: no rows, no output. */
    if (e->rows == 1)
        sink_puts(e->sink, EXPORT_CSV_HEADER);
    p = sink_reserve(e->sink,
                     EXPORT_ROW_FIXED + CSV_FIELD_MAX(n->sensor) +
                         CSV_FIELD_MAX(n->kind) + CSV_FIELD_MAX(n->unit) +
                         CSV_FIELD_MAX(n->quality) + CSV_FIELD_MAX(n->error));
    p += fmt_int64(r->seq, p);
    *p++ = ',';
    p += fmt_time_iso(r->ts_us, p);
    *p++ = ',';
    p = csv_field(p, r->sensor, n->sensor);
    *p++ = ',';
    p = csv_field(p, r->kind, n->kind);
    *p++ = ',';
    if (r->has_value)
        p += fmt_double(r->value, p);
    *p++ = ',';
    p = csv_field(p, r->unit, n->unit);
    *p++ = ',';
    p = csv_field(p, r->quality, n->quality);
    *p++ = ',';
    if (r->error)
        p = csv_field(p, r->error, n->error);
    *p++ = '\r';
    *p++ = '\n';
    sink_commit(e->sink, p);
}

/* Appends a literal to p. */
#define EXPORT_PUT(p, lit)                                                     \
    (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* A JSON object, after ",\n" but for the first. */
static void export_json_row(struct export_job *e, const struct reading_row *r,
                            const struct export_row_len *n)
{
    char *p;

    p = sink_reserve(
        e->sink, EXPORT_ROW_FIXED + JSONW_STRING_MAX(n->sensor) +
                     JSONW_STRING_MAX(n->kind) + JSONW_STRING_MAX(n->unit) +
                     JSONW_STRING_MAX(n->quality) + JSONW_STRING_MAX(n->error));
    if (e->rows > 1)
        p = EXPORT_PUT(p, ",\n");
    p = EXPORT_PUT(p, "{\"seq\":");
    p += fmt_int64(r->seq, p);
    p = EXPORT_PUT(p, ",\"ts\":\"");
    p += fmt_time_iso(r->ts_us, p);
    p = EXPORT_PUT(p, "\",\"ts_us\":");
    p += fmt_int64(r->ts_us, p);
    p = EXPORT_PUT(p, ",\"sensor\":");
    p = jsonw_string(p, r->sensor, n->sensor);
    p = EXPORT_PUT(p, ",\"kind\":");
    p = jsonw_string(p, r->kind, n->kind);
    p = EXPORT_PUT(p, ",\"value\":");
    if (r->has_value)
        p = jsonw_double(p, r->value);
    else
        p = EXPORT_PUT(p, "null");
    p = EXPORT_PUT(p, ",\"unit\":");
    p = jsonw_string(p, r->unit, n->unit);
    p = EXPORT_PUT(p, ",\"quality\":");
    p = jsonw_string(p, r->quality, n->quality);
    p = EXPORT_PUT(p, ",\"error\":");
    if (r->error)
        p = jsonw_string(p, r->error, n->error);
    else
        p = EXPORT_PUT(p, "null");
    *p++ = '}';
    sink_commit(e->sink, p);
}

int export_write_row(const struct reading_row *r, void *arg)
{
    struct export_job *e = arg;
    struct export_row_len n;

    if (export_row_begin(e, r, &n) < 0)
        return 1;
    if (e->json)
        export_json_row(e, r, &n);
    else
        export_csv_row(e, r, &n);
    /* A failed write stops the export (the sink discards meanwhile). */
    if (e->sink->err) {
        log_err("cannot write '%s': %s", e->sink->name, strerror(e->sink->err));
        e->stopped = true;
        return 1;
    }
    return 0;
}

/* Runs store_export with fn; logs what went wrong. Returns 0 or -1. */
int export_pass(struct export_job *e, struct store *s,
                int (*fn)(const struct reading_row *, void *))
{
    e->rows = 0;
    e->stopped = false;
    if (store_export_scope(s, &e->scope, e->tags, e->ntags, fn, e) < 0) {
        if (!e->stopped)
            log_err("%s", store_errmsg(s));
        return -1;
    }
    return 0;
}
