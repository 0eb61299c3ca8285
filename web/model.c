// SPDX-License-Identifier: MIT
/*
 * The live model (model.h): its refresher thread, the full load at the
 * start and the incremental follow after it, the daemon's answer, and
 * the publication of each refresh. The refresher alone touches `work`
 * and the store; request threads read `pub` under the lock.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "lib/store.h"
#include "web/model.h"

/* Readings read per page while following, and pages per refresh: a
 * backlog (tbdaq-web started long after the daemon) is caught up over
 * several refreshes instead of one long one. */
#define MODEL_PAGE 2000
#define MODEL_PAGES_MAX 50

struct model {
    char *database, *control_socket;
    struct store *store;
    bool loaded;            /* the full load was done on this store */
    int64_t events_from_us; /* events are followed from here */
    struct model_view work; /* the refresher's */
    struct model_view pub;  /* published: under lock */
    size_t sensors_cap, buses_cap, pub_sensors_cap, pub_buses_cap;
    pthread_rwlock_t lock; /* readers render pub at once */
    pthread_t thread;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    bool db_complained, daemon_was_up;
};

static int quality_index(const char *q)
{
    for (int i = 0; i < WEB_QUALITIES; i++)
        if (strcmp(q, quality_name((enum quality)i)) == 0)
            return i;
    return QUALITY_INVALID;
}

static void copy_text(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

static int sensor_cmp(const void *a, const void *b)
{
    return strcmp(((const struct model_sensor *)a)->tag,
                  ((const struct model_sensor *)b)->tag);
}

/* bsearch() of a tag among sensors. */
static int tag_cmp(const void *tag, const void *s)
{
    return strcmp(tag, ((const struct model_sensor *)s)->tag);
}

static int bus_cmp(const void *a, const void *b)
{
    return strcmp(((const struct model_bus *)a)->name,
                  ((const struct model_bus *)b)->name);
}

/* The bus named name, added if new; NULL for a NULL or empty name. */
static struct model_bus *model_bus(struct model *m, const char *name)
{
    struct model_view *v = &m->work;
    struct model_bus key, *b;

    if (!name || !*name)
        return NULL;
    copy_text(key.name, sizeof(key.name), name);
    b = v->nbuses ? bsearch(&key, v->buses, v->nbuses, sizeof(*b), bus_cmp)
                  : NULL;
    if (b)
        return b;
    xgrow(&v->buses, &m->buses_cap, v->nbuses + 1, sizeof(*v->buses));
    memset(&v->buses[v->nbuses], 0, sizeof(*v->buses));
    copy_text(v->buses[v->nbuses].name, sizeof(key.name), name);
    v->nbuses++;
    qsort(v->buses, v->nbuses, sizeof(*b), bus_cmp);
    return bsearch(&key, v->buses, v->nbuses, sizeof(*b), bus_cmp);
}

/* The sensor tagged tag, added (with kind and unit) if new. */
static struct model_sensor *model_sensor(struct model *m, const char *tag,
                                         const char *kind, const char *unit)
{
    struct model_view *v = &m->work;
    struct model_sensor *s;

    if (v->nsensors == 0 || strcmp(v->sensors[v->nsensors - 1].tag, tag) < 0)
        s = NULL; /* past the last: the common case of a new tag */
    else
        s = bsearch(tag, v->sensors, v->nsensors, sizeof(*s), tag_cmp);
    if (!s) {
        xgrow(&v->sensors, &m->sensors_cap, v->nsensors + 1,
              sizeof(*v->sensors));
        s = &v->sensors[v->nsensors++];
        memset(s, 0, sizeof(*s));
        copy_text(s->tag, sizeof(s->tag), tag);
        qsort(v->sensors, v->nsensors, sizeof(*s), sensor_cmp);
        s = bsearch(tag, v->sensors, v->nsensors, sizeof(*s), tag_cmp);
    }
    if (kind)
        copy_text(s->kind, sizeof(s->kind), kind);
    if (unit)
        copy_text(s->unit, sizeof(s->unit), unit);
    return s;
}

static void trend_add(struct model_sensor *s, int64_t ts_us, double v)
{
    int64_t slot = ts_us / WEB_TREND_BUCKET_US;
    struct model_bucket *b = &s->trend[slot % WEB_TREND_BUCKETS];

    if (slot < b->slot)
        return; /* older than what the bucket holds now */
    if (slot > b->slot)
        *b = (struct model_bucket){.slot = slot};
    b->sum += v;
    b->n++;
}

/* The newest good value (by time), and the trend if trend. */
static void model_good(struct model_sensor *s, const struct reading_row *r,
                       bool trend)
{
    if (!s->has_good || r->ts_us >= s->good_ts_us) {
        s->has_good = true;
        s->good = r->value;
        s->good_ts_us = r->ts_us;
    }
    if (trend)
        trend_add(s, r->ts_us, r->value);
}

/* Takes a reading into its sensor: the newest (by seq), the newest good
 * value, its bus's newest time, and if follow (not the load's newest
 * readings, which the load's trend pass meets again) its count and the
 * trend. */
static void model_apply(struct model *m, const struct reading_row *r,
                        bool follow)
{
    struct model_sensor *s = model_sensor(m, r->sensor, r->kind, r->unit);
    int q = quality_index(r->quality);
    struct model_bus *b;

    if (r->bus)
        copy_text(s->bus, sizeof(s->bus), r->bus);
    if (follow)
        s->counts[q]++;
    if (r->seq > s->seq || !s->has_reading) {
        s->has_reading = true;
        s->seq = r->seq;
        s->ts_us = r->ts_us;
        s->has_value = r->has_value;
        s->value = r->value;
        s->quality = q;
        copy_text(s->error, sizeof(s->error), r->error);
    }
    if (q == QUALITY_GOOD && r->has_value)
        model_good(s, r, follow);
    if ((b = model_bus(m, s->bus)) && r->ts_us > b->last_ts_us) {
        b->has_reading = true;
        b->last_ts_us = r->ts_us;
    }
    if (r->seq > m->work.last_seq)
        m->work.last_seq = r->seq;
}

static int follow_fn(const struct reading_row *r, void *arg)
{
    model_apply(arg, r, true);
    return 0;
}

/* The load's last 10 minutes: only the trend and the newest good value
 * (the newest reading and the counts come from store_status() and
 * store_sensor_infos()). */
static int trend_fn(const struct reading_row *r, void *arg)
{
    if (r->has_value && strcmp(r->quality, "good") == 0)
        model_good(model_sensor(arg, r->sensor, NULL, NULL), r, true);
    return 0;
}

static int status_fn(const struct store_sensor_status *ss, void *arg)
{
    struct model *m = arg;
    struct model_sensor *s =
        model_sensor(m, ss->row.sensor, ss->row.kind, ss->row.unit);

    copy_text(s->bus, sizeof(s->bus), ss->bus);
    model_bus(m, ss->bus);
    if (ss->has_reading) {
        struct reading_row r = ss->row;

        r.bus = ss->bus;
        model_apply(m, &r, false);
    }
    return 0;
}

static int infos_fn(const struct store_sensor_info *i, void *arg)
{
    struct model_sensor *s = model_sensor(arg, i->tag, NULL, NULL);

    s->counts[QUALITY_GOOD] += i->good;
    s->counts[QUALITY_OUT_OF_RANGE] += i->out_of_range;
    s->counts[QUALITY_INVALID] += i->invalid;
    s->counts[QUALITY_COMM_ERROR] += i->comm_error;
    s->counts[QUALITY_MISSED] += i->missed;
    return 0;
}

/* Bus states from events: a bus_down stands until its bus_up or the
 * daemon's next start. */
static int events_fn(int64_t ts_us, const char *kind, const char *detail,
                     void *arg)
{
    struct model *m = arg;
    char name[CONFIG_NAME_MAX + 1];
    bool down = strcmp(kind, "bus_down") == 0;
    struct model_bus *b;

    m->events_from_us = ts_us;
    if (strcmp(kind, "start") == 0) {
        for (size_t i = 0; i < m->work.nbuses; i++)
            m->work.buses[i].down = false;
        return 0;
    }
    if ((!down && strcmp(kind, "bus_up") != 0) || !detail ||
        sscanf(detail, "bus '%64[^']'", name) != 1)
        return 0;
    if ((b = model_bus(m, name)))
        b->down = down;
    return 0;
}

static int run_fn(const struct store_run *r, void *arg)
{
    struct model_view *v = arg;

    v->run_open = true;
    copy_text(v->run_name, sizeof(v->run_name), r->name);
    copy_text(v->run_operator, sizeof(v->run_operator), r->operator_name);
    v->run_started_us = r->started_us;
    v->run_readings = r->readings;
    return 0;
}

/* Everything the database holds, once: newest readings, counts, the
 * last 10 minutes for the trend, every event. */
static int model_load(struct model *m, int64_t now_us)
{
    struct store *s = m->store;
    int64_t last = 0;

    if (store_last_seq(s, &last) < 0 ||
        store_status(s, 0, status_fn, NULL, m) != 0 ||
        store_sensor_infos(s, INT64_MIN, INT64_MAX, NULL, 0, infos_fn, m) !=
            0 ||
        store_export(s, now_us - WEB_TREND_BUCKETS * WEB_TREND_BUCKET_US,
                     INT64_MAX, NULL, 0, trend_fn, m) < 0)
        return -1;
    m->work.last_seq = last;
    m->events_from_us = INT64_MIN;
    m->loaded = true;
    return 0;
}

/* One refresh of the database's part, inside one snapshot. */
static int model_read_db(struct model *m, int64_t now_us)
{
    struct model_view *v = &m->work;
    const char *site;
    int64_t acked = 0;
    int n = MODEL_PAGE, absent;

    if (store_snapshot_begin(m->store) < 0)
        return -1;
    if (!m->loaded && model_load(m, now_us) < 0)
        goto fail;
    for (int page = 0; n == MODEL_PAGE && page < MODEL_PAGES_MAX; page++)
        if ((n = store_readings_after(m->store, v->last_seq, MODEL_PAGE,
                                      follow_fn, m)) < 0)
            goto fail;
    if (store_events(m->store, m->events_from_us, INT64_MAX, events_fn, m) < 0)
        goto fail;
    v->run_open = false;
    if (store_run_open(m->store, run_fn, v) < 0)
        goto fail;
    if ((absent = store_get_state(m->store, STORE_STATE_MQTT_ACKED, &acked)) <
        0)
        goto fail;
    v->backlog = absent ? 0 : v->last_seq - acked;
    if ((site = store_site(m->store)))
        copy_text(v->site, sizeof(v->site), site);
    return store_snapshot_end(m->store);
fail:
    store_snapshot_end(m->store);
    return -1;
}

/* The value of "key value" line key in a status reply, or "". */
static void reply_value(const char *reply, const char *key, char *buf,
                        size_t len)
{
    size_t k = strlen(key);

    for (const char *p = reply; *p; p += strcspn(p, "\n"), p += *p == '\n')
        if (strncmp(p, key, k) == 0 && p[k] == ' ') {
            snprintf(buf, len, "%.*s", (int)strcspn(p + k + 1, "\n"),
                     p + k + 1);
            return;
        }
    buf[0] = '\0';
}

static long long reply_ll(const char *reply, const char *key)
{
    char v[64];

    reply_value(reply, key, v, sizeof(v));
    return strtoll(v, NULL, 10);
}

/* Asks the daemon for its status; d->up false if it does not answer. */
static void model_ask(struct model *m, struct model_daemon *d)
{
    char reply[CONTROL_REPLY_MAX], err[CONTROL_REPLY_MAX];
    struct control_addr a;
    struct stat st;

    memset(d, 0, sizeof(*d));
    if (stat(m->database, &st) < 0 ||
        control_address(m->control_socket, m->database, &a, err, sizeof(err)) <
            0 ||
        control_ask(&a, "status\n", st.st_uid, reply, sizeof(reply), err,
                    sizeof(err)) != 0 ||
        strncmp(reply, "ok tbdaqd ", 10) != 0)
        return;
    d->up = true;
    snprintf(d->version, sizeof(d->version), "%.*s",
             (int)strcspn(reply + 10, "\n"), reply + 10);
    d->pid = (long)reply_ll(reply, "pid");
    d->started_us = reply_ll(reply, "started_us");
    d->recorded = reply_ll(reply, "recorded");
    d->failed_polls = reply_ll(reply, "failed_polls");
    d->missed_slots = reply_ll(reply, "missed_slots");
    d->buses_down = reply_ll(reply, "buses_down");
    d->backlog = reply_ll(reply, "backlog");
    reply_value(reply, "mqtt", d->mqtt, sizeof(d->mqtt));
    reply_value(reply, "database", d->database, sizeof(d->database));
    reply_value(reply, "clock", d->clock, sizeof(d->clock));
}

static int64_t file_bytes(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Copies work into pub, under the lock. */
static void model_publish(struct model *m)
{
    struct model_view *w = &m->work, *p = &m->pub;
    struct model_sensor *ps;
    struct model_bus *pb;

    pthread_rwlock_wrlock(&m->lock);
    ps = p->sensors;
    pb = p->buses;
    xgrow(&ps, &m->pub_sensors_cap, w->nsensors + 1, sizeof(*ps));
    xgrow(&pb, &m->pub_buses_cap, w->nbuses + 1, sizeof(*pb));
    *p = *w;
    p->sensors = ps;
    p->buses = pb;
    if (w->nsensors)
        memcpy(ps, w->sensors, w->nsensors * sizeof(*ps));
    if (w->nbuses)
        memcpy(pb, w->buses, w->nbuses * sizeof(*pb));
    pthread_rwlock_unlock(&m->lock);
}

static void model_refresh(struct model *m)
{
    struct model_view *v = &m->work;
    int64_t now_us = time_real_us();
    char err[STORE_ERR_MAX];
    char wal[4096 + 8];

    model_ask(m, &v->daemon);
    if (v->daemon.up != m->daemon_was_up)
        log_info("tbdaqd is %s", v->daemon.up ? "running" : "not running");
    m->daemon_was_up = v->daemon.up;
    if (!m->store &&
        !(m->store = store_open(m->database, STORE_READ_ONLY, err))) {
        snprintf(v->db_error, sizeof(v->db_error), "%s", err);
    } else if (model_read_db(m, now_us) < 0) {
        snprintf(v->db_error, sizeof(v->db_error), "%s",
                 store_errmsg(m->store));
        /* A fresh connection next time, and a full load on it. */
        store_close(m->store);
        m->store = NULL;
        m->loaded = false;
    } else {
        v->db_error[0] = '\0';
    }
    v->db_ok = v->db_error[0] == '\0';
    if (!v->db_ok && !m->db_complained)
        log_warnx("cannot read the database: %s", v->db_error);
    else if (v->db_ok && m->db_complained)
        log_info("the database can be read again");
    m->db_complained = !v->db_ok;
    if (v->daemon.up)
        v->backlog = strcmp(v->daemon.mqtt, "off") == 0 ? 0 : v->daemon.backlog;
    snprintf(wal, sizeof(wal), "%s-wal", m->database);
    v->db_bytes = file_bytes(m->database) + file_bytes(wal);
    v->refreshed_us = now_us;
    model_publish(m);
}

static void *model_thread(void *arg)
{
    struct model *m = arg;
    struct timespec next;

    pthread_mutex_lock(&m->stop_mu);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->stop_mu);
        model_refresh(m);
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_nsec += (long)WEB_REFRESH_MS * 1000000L;
        next.tv_sec += next.tv_nsec / 1000000000L;
        next.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&m->stop_mu);
        while (!m->stopping && pthread_cond_timedwait(&m->stop_cv, &m->stop_mu,
                                                      &next) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&m->stop_mu);
    return NULL;
}

struct model *model_start(const char *database, const char *control_socket)
{
    struct model *m = xcalloc(1, sizeof(*m));
    pthread_condattr_t ca;
    int rc;

    m->database = xstrdup(database);
    m->control_socket = control_socket ? xstrdup(control_socket) : NULL;
    m->daemon_was_up = false;
    pthread_rwlock_init(&m->lock, NULL);
    pthread_mutex_init(&m->stop_mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->stop_cv, &ca);
    pthread_condattr_destroy(&ca);
    model_refresh(m); /* the first requests find it loaded */
    if ((rc = pthread_create(&m->thread, NULL, model_thread, m)) != 0) {
        log_err("cannot start the refresher thread: %s", strerror(rc));
        m->thread = pthread_self();
        model_stop(m);
        return NULL;
    }
    return m;
}

void model_stop(struct model *m)
{
    if (!m)
        return;
    if (!pthread_equal(m->thread, pthread_self())) {
        pthread_mutex_lock(&m->stop_mu);
        m->stopping = true;
        pthread_cond_signal(&m->stop_cv);
        pthread_mutex_unlock(&m->stop_mu);
        pthread_join(m->thread, NULL);
    }
    store_close(m->store);
    free(m->work.sensors);
    free(m->work.buses);
    free(m->pub.sensors);
    free(m->pub.buses);
    pthread_rwlock_destroy(&m->lock);
    pthread_mutex_destroy(&m->stop_mu);
    pthread_cond_destroy(&m->stop_cv);
    free(m->database);
    free(m->control_socket);
    free(m);
}

const struct model_view *model_lock(struct model *m)
{
    pthread_rwlock_rdlock(&m->lock);
    return &m->pub;
}

void model_unlock(struct model *m)
{
    pthread_rwlock_unlock(&m->lock);
}

void model_trend(const struct model_sensor *s, int64_t now_us,
                 double out[WEB_TREND_BUCKETS])
{
    int64_t last = now_us / WEB_TREND_BUCKET_US;

    for (int i = 0; i < WEB_TREND_BUCKETS; i++) {
        int64_t slot = last - (WEB_TREND_BUCKETS - 1) + i;
        const struct model_bucket *b = &s->trend[slot % WEB_TREND_BUCKETS];

        out[i] = b->slot == slot && b->n > 0 ? b->sum / b->n : NAN;
    }
}

bool model_bus_up(const struct model_view *v, const struct model_bus *b)
{
    return v->daemon.up && !b->down;
}
