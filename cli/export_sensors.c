// SPDX-License-Identifier: MIT
/*
 * The sensors of an export's manifest: each version of a sensor's
 * description the exported rows were taken under, as the database
 * describes it, with its counts per quality and the span of its rows.
 * The counts come from the database (JSON needs them before the rows) or
 * from the tally of the rows as they stream (CSV, and JSON's check that
 * the database's counts are those of its rows).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/export.h"
#include "common/log.h"

static int export_sensor_cmp(const void *a, const void *b)
{
    const struct export_sensor *x = a, *y = b;
    int c = strcmp(x->tag, y->tag);

    return c ? c : (x->version > y->version) - (x->version < y->version);
}

/* The version of the sensor tagged tag, added (in order) if it is not
 * there yet. */
static struct export_sensor *export_sensor_at(struct export_job *e,
                                              const char *tag, int64_t version)
{
    struct export_sensor key = {.tag = (char *)tag, .version = version}, *o;
    size_t lo = 0, hi = e->nsensors;

    /* rows of one time slot often come in tag order: try the sensor of
     * the previous row and the one after it first */
    for (size_t i = e->last_sensor; i < e->nsensors && i < e->last_sensor + 2;
         i++)
        if (e->sensors[i].version == version &&
            strcmp(e->sensors[i].tag, tag) == 0) {
            e->last_sensor = i;
            return &e->sensors[i];
        }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = export_sensor_cmp(&key, &e->sensors[mid]);

        if (c == 0) {
            e->last_sensor = mid;
            return &e->sensors[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    xgrow(&e->sensors, &e->cap_sensors, e->nsensors + 1, sizeof(*o));
    memmove(&e->sensors[lo + 1], &e->sensors[lo],
            (e->nsensors - lo) * sizeof(*o));
    e->nsensors++;
    o = &e->sensors[lo];
    memset(o, 0, sizeof(*o));
    o->tag = xstrdup(tag);
    o->version = version;
    o->bit = -1;
    o->tally_first = INT64_MAX;
    o->tally_last = INT64_MIN;
    e->last_sensor = lo;
    return o;
}

static int export_sensor_fn(const struct store_sensor_info *in, void *arg)
{
    struct export_job *e = arg;
    struct export_sensor *o = export_sensor_at(e, in->tag, in->version);

    if (o->described)
        return 0;
    o->described = true;
    o->newest = in->newest;
    o->kind = export_dup(in->kind);
    o->unit = export_dup(in->unit);
    o->bus = export_dup(in->bus);
    o->table = export_dup(in->table);
    o->type = export_dup(in->type);
    o->byte_order = export_dup(in->byte_order);
    o->cal_date = export_dup(in->cal_date);
    o->cal_due = export_dup(in->cal_due);
    o->cal_certificate = export_dup(in->cal_certificate);
    o->unit_id = in->unit_id;
    o->address = in->address;
    o->bit = in->bit;
    o->interval_ms = in->interval_ms;
    o->has_range_lo = in->has_range_lo;
    o->has_range_hi = in->has_range_hi;
    o->range_lo = in->range_lo;
    o->range_hi = in->range_hi;
    o->scale = in->scale;
    o->offset = in->offset;
    o->counts[QUALITY_GOOD] = in->good;
    o->counts[QUALITY_OUT_OF_RANGE] = in->out_of_range;
    o->counts[QUALITY_INVALID] = in->invalid;
    o->counts[QUALITY_COMM_ERROR] = in->comm_error;
    o->counts[QUALITY_MISSED] = in->missed;
    o->first_us = in->has_span ? in->first_ts_us : 0;
    o->last_us = in->has_span ? in->last_ts_us : 0;
    return 0;
}

/*
 * Reads the description of the given sensors (--sensor, or else every
 * sensor seen so far; without either, every sensor with readings in the
 * window) from the database, with their counts in the window (the run's
 * seq range) if counts, else in an empty window, which is cheap. Returns
 * 0, or -1 after logging the error ("unknown sensor 'X'").
 */
int export_describe(struct export_job *e, struct store *s, bool counts)
{
    const char **tags = NULL;
    size_t ntags = e->ntags;
    int rc;

    if (!e->ntags && e->nsensors) {
        tags = xcalloc(e->nsensors, sizeof(*tags));
        ntags = 0;
        for (size_t i = 0; i < e->nsensors; i++)
            if (!ntags || strcmp(tags[ntags - 1], e->sensors[i].tag) != 0)
                tags[ntags++] = e->sensors[i].tag;
    }
    /* export_sensor_fn may move the array, never the tags' strings */
    if (counts)
        rc = store_sensor_infos_scope(s, &e->scope, tags ? tags : e->tags,
                                      ntags, export_sensor_fn, e);
    else
        rc =
            store_sensor_infos(s, e->from_us, e->from_us, tags ? tags : e->tags,
                               ntags, export_sensor_fn, e);
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    free(tags);
    return rc ? -1 : 0;
}

static void export_sensor_free(struct export_sensor *o)
{
    char **strs[] = {
        &o->tag,     &o->kind,           &o->unit,       &o->bus,
        &o->table,   &o->type,           &o->byte_order, &o->cal_date,
        &o->cal_due, &o->cal_certificate};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
}

void export_sensors_release(struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++)
        export_sensor_free(&e->sensors[i]);
    free(e->sensors);
    e->sensors = NULL;
    e->nsensors = e->cap_sensors = 0;
}

int64_t export_sensor_rows(const struct export_sensor *o)
{
    int64_t n = 0;

    for (int q = 0; q < EXPORT_QUALITIES; q++)
        n += o->counts[q];
    return n;
}

/* Whether another version of o's tag (next to it) has rows. */
static bool export_tag_has_rows(const struct export_job *e, size_t i)
{
    for (size_t j = i;
         j-- > 0 && strcmp(e->sensors[j].tag, e->sensors[i].tag) == 0;)
        if (export_sensor_rows(&e->sensors[j]))
            return true;
    for (size_t j = i + 1;
         j < e->nsensors && strcmp(e->sensors[j].tag, e->sensors[i].tag) == 0;
         j++)
        if (export_sensor_rows(&e->sensors[j]))
            return true;
    return false;
}

/* The manifest lists the versions that have rows (a tag is described
 * with every version of it, those without rows in the window too); a
 * --sensor without any row in the window is listed once, with its newest
 * version. */
void export_drop_unseen(struct export_job *e)
{
    size_t kept = 0;
    bool *keep = xcalloc(e->nsensors ? e->nsensors : 1, sizeof(*keep));

    for (size_t i = 0; i < e->nsensors; i++)
        keep[i] =
            export_sensor_rows(&e->sensors[i]) > 0 ||
            (e->ntags && e->sensors[i].newest && !export_tag_has_rows(e, i));
    for (size_t i = 0; i < e->nsensors; i++) {
        if (keep[i])
            e->sensors[kept++] = e->sensors[i];
        else
            export_sensor_free(&e->sensors[i]);
    }
    e->nsensors = kept;
    free(keep);
}

/* The quality named q, or EXPORT_QUALITIES if there is none. */
static int export_quality(const char *q)
{
    /* the first letters differ: one comparison per row */
    enum quality i = q[0] == 'g'   ? QUALITY_GOOD
                     : q[0] == 'o' ? QUALITY_OUT_OF_RANGE
                     : q[0] == 'i' ? QUALITY_INVALID
                     : q[0] == 'm' ? QUALITY_MISSED
                                   : QUALITY_COMM_ERROR;

    return strcmp(q, quality_name(i)) == 0 ? (int)i : EXPORT_QUALITIES;
}

/* Counts a row for its sensor; logs and returns -1 if it fits nowhere. */
int export_tally(struct export_job *e, const struct reading_row *r)
{
    int q = export_quality(r->quality);
    struct export_sensor *o;

    if (q == EXPORT_QUALITIES) {
        log_err("reading %lld: unknown quality '%s'", (long long)r->seq,
                r->quality);
        return -1;
    }
    o = export_sensor_at(e, r->sensor, r->version);
    o->tally[q]++;
    if (r->ts_us < o->tally_first)
        o->tally_first = r->ts_us;
    if (r->ts_us > o->tally_last)
        o->tally_last = r->ts_us;
    return 0;
}

/* Makes the streamed rows' tally the manifest's counts. */
void export_take_tally(struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++) {
        struct export_sensor *o = &e->sensors[i];

        memcpy(o->counts, o->tally, sizeof(o->counts));
        memset(o->tally, 0, sizeof(o->tally));
        o->first_us = o->tally_first <= o->tally_last ? o->tally_first : 0;
        o->last_us = o->tally_first <= o->tally_last ? o->tally_last : 0;
        o->tally_first = INT64_MAX;
        o->tally_last = INT64_MIN;
    }
}

/* The rows the manifest's counts add up to. */
int64_t export_counted(const struct export_job *e)
{
    int64_t n = 0;

    for (size_t i = 0; i < e->nsensors; i++)
        n += export_sensor_rows(&e->sensors[i]);
    return n;
}

/* True if the rows streamed are exactly those the counts count. */
bool export_tally_matches(const struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++)
        if (memcmp(e->sensors[i].counts, e->sensors[i].tally,
                   sizeof(e->sensors[i].counts)) != 0)
            return false;
    return true;
}
