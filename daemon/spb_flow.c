// SPDX-License-Identifier: MIT
/*
 * The edge node's readings (SPEC "Sparkplug B"): each (bus, unit) of the
 * configuration is a device "<bus>-<unit_id>" whose sensors are its
 * metrics; readings are read back from the database in seq order and
 * grouped by device and poll (spb_group.h: the polls of several buses
 * interleave in seq order), one DDATA per group. A live group is handed
 * over when its device's next poll begins or every committed row has been
 * read; until then its rows hold the acknowledged seq back.
 *
 * A device's poll fails when none of its readings is a value or an
 * invalid one (every reading comm_error or missed: the device did not
 * answer). A failed poll of a live device publishes DDEATH instead of
 * DDATA; its readings, and every one after, are owed to the host until
 * the device's next poll that does not fail, which publishes DBIRTH, the
 * poll as DDATA, and then the readings owed as historical DDATA. The same
 * debt is how store and forward works: at each new connection every
 * reading after the acknowledged seq and up to the births is owed to
 * every device, and paid as historical DDATA a page at a time, after the
 * live readings of each pump and only while few DDATA are unacknowledged
 * (SPB_HISTORY_WINDOW), so that history never holds live data back.
 */
#include "daemon/sparkplug_private.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

static const char *const spb_qualities[] = {
    "good", "out_of_range", "invalid", "comm_error", "missed",
};

/* The static name of a quality read back (the database holds only these). */
static const char *spb_quality(const char *q)
{
    for (size_t i = 0; i < sizeof(spb_qualities) / sizeof(*spb_qualities); i++)
        if (strcmp(q, spb_qualities[i]) == 0)
            return spb_qualities[i];
    return "invalid";
}

/* Whether a reading shows that its device did not answer. */
static bool spb_row_failed(const struct spb_row *r)
{
    return strcmp(r->quality, "comm_error") == 0 ||
           strcmp(r->quality, "missed") == 0;
}

/* --- devices and metrics ------------------------------------------------ */

static int spb_tag_cmp(const void *a, const void *b, const struct sparkplug *s)
{
    return strcmp(s->sensors[*(const size_t *)a].conf->id,
                  s->sensors[*(const size_t *)b].conf->id);
}

/* Sorted by tag without qsort_r (not in C11): an insertion sort, once per
 * start, of at most a few thousand sensors. */
static void spb_sort_tags(struct sparkplug *s)
{
    for (size_t i = 1; i < s->nsensors; i++) {
        size_t v = s->by_tag[i], j = i;

        while (j > 0 && spb_tag_cmp(&s->by_tag[j - 1], &v, s) > 0) {
            s->by_tag[j] = s->by_tag[j - 1];
            j--;
        }
        s->by_tag[j] = v;
    }
}

/* The sensor of tag, or SIZE_MAX (a sensor no longer configured). */
static size_t spb_find_tag(const struct sparkplug *s, const char *tag)
{
    size_t lo = 0, hi = s->nsensors;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(s->sensors[s->by_tag[mid]].conf->id, tag);

        if (cmp == 0)
            return s->by_tag[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

/* The device of sensor sc, made if it is the first of its (bus, unit):
 * then sc becomes its first sensor before the next lookup. */
static size_t spb_device_of(struct sparkplug *s, const struct config *c,
                            const struct sensor_conf *sc)
{
    const struct sparkplug_conf *p = &c->sparkplug;
    struct spb_device *d;

    for (size_t i = 0; i < s->ndevs; i++) {
        const struct sensor_conf *first =
            s->sensors[s->devs[i].sensors[0]].conf;

        if (first->bus == sc->bus && first->unit_id == sc->unit_id)
            return i;
    }
    s->devs = xrealloc(s->devs, (s->ndevs + 1) * sizeof(*s->devs));
    d = &s->devs[s->ndevs];
    memset(d, 0, sizeof(*d));
    d->id = xasprintf("%s-%d", c->buses[sc->bus].name, sc->unit_id);
    d->t_dbirth =
        xasprintf("spBv1.0/%s/DBIRTH/%s/%s", p->group_id, p->edge_node, d->id);
    d->t_ddeath =
        xasprintf("spBv1.0/%s/DDEATH/%s/%s", p->group_id, p->edge_node, d->id);
    d->t_ddata =
        xasprintf("spBv1.0/%s/DDATA/%s/%s", p->group_id, p->edge_node, d->id);
    d->sensors = xcalloc(c->nsensors, sizeof(*d->sensors));
    return s->ndevs++;
}

void spb_flow_init(struct sparkplug *s, const struct config *c)
{
    s->nsensors = c->nsensors;
    s->sensors = xcalloc(c->nsensors ? c->nsensors : 1, sizeof(*s->sensors));
    s->by_tag = xcalloc(c->nsensors ? c->nsensors : 1, sizeof(*s->by_tag));
    for (size_t i = 0; i < c->nsensors; i++) {
        struct spb_sensor *m = &s->sensors[i];
        struct spb_device *d;

        m->conf = &c->sensors[i];
        m->alias = i + 1;
        m->type = spb_type_of(reg_type_name(m->conf->type));
        m->dev = spb_device_of(s, c, m->conf);
        d = &s->devs[m->dev];
        d->sensors[d->nsensors++] = i;
        s->by_tag[i] = i;
    }
    spb_sort_tags(s);
    s->dev_of = xcalloc(c->nsensors ? c->nsensors : 1, sizeof(*s->dev_of));
    for (size_t i = 0; i < c->nsensors; i++)
        s->dev_of[i] = s->sensors[i].dev;
    spb_groups_init(&s->live, s->dev_of, s->nsensors, s->ndevs);
}

void spb_flow_release(struct sparkplug *s)
{
    for (size_t i = 0; i < s->ndevs; i++) {
        free(s->devs[i].id);
        free(s->devs[i].t_dbirth);
        free(s->devs[i].t_ddeath);
        free(s->devs[i].t_ddata);
        free(s->devs[i].sensors);
        free(s->devs[i].ranges);
    }
    spb_groups_release(&s->live);
    free(s->dev_of);
    s->dev_of = NULL;
    free(s->devs);
    free(s->sensors);
    free(s->by_tag);
    free(s->rows);
    s->devs = NULL;
    s->ndevs = 0;
}

bool spb_flow_same(const struct config *a, const struct config *b)
{
    if (a->nsensors != b->nsensors)
        return false;
    for (size_t i = 0; i < a->nsensors; i++) {
        const struct sensor_conf *x = &a->sensors[i], *y = &b->sensors[i];

        if (strcmp(x->id, y->id) != 0 || x->unit_id != y->unit_id ||
            strcmp(a->buses[x->bus].name, b->buses[y->bus].name) != 0 ||
            x->type != y->type || x->kind != y->kind ||
            strcmp(x->unit, y->unit) != 0)
            return false;
    }
    return true;
}

/* --- the debt of historical readings ------------------------------------ */

static void spb_owe(struct spb_device *d, int64_t from, int64_t to)
{
    if (from >= to)
        return;
    if (d->nranges == d->capranges) {
        d->capranges = d->capranges ? 2 * d->capranges : 4;
        d->ranges = xrealloc(d->ranges, d->capranges * sizeof(*d->ranges));
    }
    d->ranges[d->nranges++] = (struct spb_range){from, to};
}

/* Everything before seq in d's debt is paid (or being paid). */
static void spb_paid_before(struct spb_device *d, int64_t seq)
{
    size_t k = 0;

    for (size_t i = 0; i < d->nranges; i++) {
        struct spb_range r = d->ranges[i];

        if (r.from < seq)
            r.from = seq;
        if (r.from < r.to)
            d->ranges[k++] = r;
    }
    d->nranges = k;
}

static bool spb_owed(const struct spb_device *d, int64_t seq)
{
    for (size_t i = 0; i < d->nranges; i++)
        if (d->ranges[i].from <= seq && seq < d->ranges[i].to)
            return true;
    return false;
}

int64_t spb_flow_owed(const struct sparkplug *s)
{
    int64_t lo = s->live_cursor + 1, open = spb_groups_oldest(&s->live);

    if (open < lo)
        lo = open;

    for (size_t i = 0; i < s->ndevs; i++)
        if (s->devs[i].nranges > 0 && s->devs[i].ranges[0].from < lo)
            lo = s->devs[i].ranges[0].from;
    return lo;
}

/* --- messages ----------------------------------------------------------- */

/* The DBIRTH's newest values, from the database. */
struct spb_newest {
    struct sparkplug *s;
    struct spb_metric *m; /* per sensor */
};

static int spb_newest_row(const struct store_sensor_status *st, void *arg)
{
    struct spb_newest *nw = arg;
    size_t i = spb_find_tag(nw->s, st->row.sensor);

    if (i == SIZE_MAX || !st->has_reading)
        return 0;
    nw->m[i].has_ts = true;
    nw->m[i].ts_ms = st->row.ts_us / 1000;
    nw->m[i].is_null = !st->row.has_value;
    nw->m[i].value = st->row.value;
    return 0;
}

static void spb_dbirth(struct sparkplug *s, struct spb_device *d,
                       struct spb_metric *all)
{
    struct spb_metric *m = xcalloc(d->nsensors, sizeof(*m));

    for (size_t k = 0; k < d->nsensors; k++) {
        const struct spb_sensor *ss = &s->sensors[d->sensors[k]];

        m[k] = all[d->sensors[k]];
        m[k].name = ss->conf->id;
        m[k].has_alias = true;
        m[k].alias = ss->alias;
        m[k].type = ss->type;
        m[k].props[0] = (struct spb_prop){
            .key = "engUnit", .type = SPB_STRING, .text = ss->conf->unit};
        m[k].props[1] = (struct spb_prop){.key = "kind",
                                          .type = SPB_STRING,
                                          .text = kind_name(ss->conf->kind)};
        m[k].nprops = 2;
    }
    spb_encode(&s->buf, time_real_us() / 1000, spb_next_seq(s), m, d->nsensors);
    spb_send(s, d->t_dbirth, false, 0);
    d->alive = true;
    free(m);
}

/* Newest values of every sensor: is_null where there is none. */
static struct spb_metric *spb_newest(struct sparkplug *s)
{
    struct spb_metric *m = xcalloc(s->nsensors ? s->nsensors : 1, sizeof(*m));
    struct spb_newest nw = {s, m};

    for (size_t i = 0; i < s->nsensors; i++)
        m[i].is_null = true;
    if (store_status(s->store, 0, spb_newest_row, NULL, &nw) < 0)
        log_warnx("sparkplug: cannot read the newest readings: %s",
                  store_errmsg(s->store));
    return m;
}

void spb_flow_births(struct sparkplug *s, bool fresh)
{
    struct spb_metric *newest = spb_newest(s);

    if (fresh) {
        /* Open groups hold rows after acked: owed as history now. */
        spb_groups_reset(&s->live);
        s->live_cursor = s->last_seq;
    }
    for (size_t i = 0; i < s->ndevs; i++) {
        struct spb_device *d = &s->devs[i];

        if (fresh) {
            /* What the host may not have: owed by every device. */
            d->nranges = 0;
            spb_owe(d, s->acked + 1, s->last_seq + 1);
        } else if (!d->alive) {
            /* A rebirth: a dead device is born at its next answer. */
            continue;
        }
        spb_dbirth(s, d, newest);
    }
    free(newest);
}

/* One DDATA of rows (all of one device), live or historical: 0, or -1
 * if it could not be handed to libmosquitto. */
static int spb_ddata(struct sparkplug *s, const struct spb_device *d,
                     const struct spb_row *rows, size_t n, bool historical)
{
    struct spb_metric *m = xcalloc(n, sizeof(*m));

    for (size_t i = 0; i < n; i++) {
        const struct spb_row *r = &rows[i];
        const struct spb_sensor *ss = &s->sensors[r->sensor];
        bool ok = strcmp(r->quality, "good") == 0 ||
                  strcmp(r->quality, "out_of_range") == 0;

        m[i].has_alias = true;
        m[i].alias = ss->alias;
        m[i].has_ts = true;
        m[i].ts_ms = r->ts_us / 1000;
        m[i].type = ss->type;
        m[i].is_null = !r->has_value;
        m[i].value = r->value;
        m[i].historical = historical;
        m[i].props[0] =
            (struct spb_prop){.key = "Quality",
                              .type = SPB_INT32,
                              .num = ok ? SPB_QUALITY_GOOD : SPB_QUALITY_BAD};
        m[i].props[1] = (struct spb_prop){
            .key = "tbdaq_quality", .type = SPB_STRING, .text = r->quality};
        m[i].props[2] =
            (struct spb_prop){.key = "seq", .type = SPB_UINT64, .num = r->seq};
        m[i].nprops = 3;
    }
    spb_encode(&s->buf, time_real_us() / 1000, spb_next_seq(s), m, n);
    free(m);
    return spb_send(s, d->t_ddata, true, rows[0].seq);
}

/* A live poll of device dev (n rows, an spb_group_fn): DDATA, or DDEATH /
 * DBIRTH as it failed; -1 if its DDATA could not be handed over. */
static int spb_live_poll(void *arg, size_t dev, const struct spb_row *rows,
                         size_t n)
{
    struct sparkplug *s = arg;
    struct spb_device *d = &s->devs[dev];
    bool failed = true;

    for (size_t i = 0; i < n && failed; i++)
        failed = spb_row_failed(&rows[i]);
    if (d->alive && failed) {
        spb_encode(&s->buf, time_real_us() / 1000, spb_next_seq(s), NULL, 0);
        spb_send(s, d->t_ddeath, false, 0);
        d->alive = false;
        /* Owed from this poll on, until the device answers again. */
        spb_owe(d, rows[0].seq, INT64_MAX);
        log_info("sparkplug: device '%s' dead (DDEATH)", d->id);
        return 0;
    }
    if (failed)
        return 0;
    if (!d->alive) {
        struct spb_metric *newest = spb_newest(s);

        if (d->nranges > 0)
            d->ranges[d->nranges - 1].to = rows[0].seq;
        spb_dbirth(s, d, newest);
        free(newest);
        log_info("sparkplug: device '%s' back (DBIRTH)", d->id);
    }
    return spb_ddata(s, d, rows, n, false);
}

/* --- reading back ------------------------------------------------------- */

static int spb_take_row(const struct reading_row *r, void *arg)
{
    struct sparkplug *s = arg;
    size_t i;

    if (r->seq >= s->page_limit)
        return 1;
    s->page_last = r->seq;
    if ((i = spb_find_tag(s, r->sensor)) == SIZE_MAX)
        return 0;
    if (s->nrows == s->caprows) {
        s->caprows = s->caprows ? 2 * s->caprows : SPB_PAGE;
        s->rows = xrealloc(s->rows, s->caprows * sizeof(*s->rows));
    }
    s->rows[s->nrows++] = (struct spb_row){
        .seq = r->seq,
        .ts_us = r->ts_us,
        .sensor = i,
        .has_value = r->has_value,
        .value = r->value,
        .quality = spb_quality(r->quality),
    };
    return 0;
}

/* Reads the rows after after_seq and before limit, a page; returns the
 * last seq read (after_seq if none), or -1 on a database error. */
static int64_t spb_read(struct sparkplug *s, int64_t after_seq, int64_t limit)
{
    s->nrows = 0;
    s->page_last = after_seq;
    s->page_limit = limit;
    if (store_readings_after(s->store, after_seq, SPB_PAGE, spb_take_row, s) <
        0) {
        if (!s->read_failing)
            log_warnx("sparkplug: cannot read readings: %s",
                      store_errmsg(s->store));
        s->read_failing = true;
        return -1;
    }
    if (s->read_failing)
        log_info("sparkplug: reading readings again");
    s->read_failing = false;
    return s->page_last;
}

/* Live rows up to last_seq into their devices' groups, a group handed
 * over as its device's next poll begins; once every committed row is
 * read, the open groups too. A group refused (the connection going)
 * stays open, and the rows after it are read again. */
static void spb_flow_live(struct sparkplug *s)
{
    while (s->live_cursor < s->last_seq && spb_room(s)) {
        int64_t last = spb_read(s, s->live_cursor, s->last_seq + 1);

        if (last <= s->live_cursor)
            return;
        for (size_t i = 0; i < s->nrows; i++) {
            if (spb_groups_add(&s->live, &s->rows[i], spb_live_poll, s) < 0) {
                s->live_cursor = s->rows[i].seq - 1;
                return;
            }
        }
        s->live_cursor = last;
    }
    if (s->live_cursor >= s->last_seq && spb_room(s))
        spb_groups_flush(&s->live, spb_live_poll, s);
}

/* The lowest seq a live device is owed from, or INT64_MAX. */
static int64_t spb_history_next(const struct sparkplug *s)
{
    int64_t lo = INT64_MAX;

    for (size_t i = 0; i < s->ndevs; i++)
        if (s->devs[i].alive && s->devs[i].nranges > 0 &&
            s->devs[i].ranges[0].from < lo)
            lo = s->devs[i].ranges[0].from;
    return lo;
}

/* A page of history: each run of consecutive rows of one live device
 * that it owes, one historical DDATA, so that history goes in seq order
 * (SPEC); returns the lowest seq not handed over (INT64_MAX: all were). */
static int64_t spb_history_page(struct sparkplug *s)
{
    size_t i = 0;

    while (i < s->nrows) {
        size_t dev = s->dev_of[s->rows[i].sensor], j = i;
        struct spb_device *d = &s->devs[dev];

        while (j < s->nrows && s->dev_of[s->rows[j].sensor] == dev &&
               d->alive && spb_owed(d, s->rows[j].seq))
            j++;
        if (j > i && spb_ddata(s, d, &s->rows[i], j - i, true) < 0)
            return s->rows[i].seq;
        i = j > i ? j : i + 1;
    }
    return INT64_MAX;
}

static void spb_flow_history(struct sparkplug *s)
{
    size_t done = 0;
    int64_t from;

    while (done < SPB_HISTORY_PER_PUMP && spb_history_room(s) &&
           (from = spb_history_next(s)) != INT64_MAX) {
        int64_t last = spb_read(s, from - 1, s->live_cursor + 1), held;

        if (last < 0)
            return;
        held = spb_history_page(s);
        done += s->nrows;
        /* Nothing more to read below the live cursor: paid. */
        if (last < from)
            last = s->live_cursor;
        /* What was not handed over stays owed (read again later). */
        if (held <= last)
            last = held - 1;
        for (size_t k = 0; k < s->ndevs; k++)
            if (s->devs[k].alive)
                spb_paid_before(&s->devs[k], last + 1);
        /* A debt beyond the live cursor cannot be paid yet. */
        if (spb_history_next(s) == from)
            break;
    }
}

void spb_flow_pump(struct sparkplug *s)
{
    spb_flow_live(s);
    spb_flow_history(s);
}
