// SPDX-License-Identifier: MIT
/*
 * tbdaqd: the data-acquisition daemon. The main thread owns the store; one
 * poller thread per bus feeds it through the queue; a signal thread turns
 * SIGTERM, SIGINT and SIGHUP into flags and wakes the main loop. The loop
 * gathers readings into a batch and commits it at most commit_interval_ms
 * after its first reading was taken.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "drivers/kind.h"
#include "daemon/clock.h"
#include "daemon/config.h"
#include "daemon/control.h"
#include "daemon/notify.h"
#include "daemon/plan.h"
#include "daemon/poller.h"
#include "daemon/publish.h"
#include "daemon/queue.h"
#include "daemon/recorder.h"
#include "daemon/retention.h"
#include "daemon/store.h"
#include "version.h"

/* The queue holds this many seconds of the plan's readings, within the
 * bounds below (an item is ~300 bytes and every slot gets touched: the
 * queue is most of the daemon's memory at low rates). A reload keeps the
 * queue: a much faster plan may then fill it, which makes pollers wait
 * and shows as missed slots, never as lost readings. */
#define DAEMON_QUEUE_SECONDS 2
#define DAEMON_QUEUE_MIN 2048
#define DAEMON_QUEUE_MAX 65536
/* Items taken from the queue at once. */
#define DAEMON_POP_MAX 1024
/* How often STATUS= is refreshed when nothing else wakes the loop. */
#define DAEMON_STATUS_MS 2000
/*
 * The shutdown budget, inside SPEC's 5 s (DAEMON_STOP_MS, with a margin
 * for the exit): pollers finish the request in progress (one still waiting
 * on a slow device after this is left behind: its reading is not taken
 * yet, so nothing taken is lost); the last commits, which go on while they
 * work until only the time to publish and to say offline is left, and
 * give up after DAEMON_STOP_COMMIT_MS of failing; publishing the backlog;
 * the offline status.
 */
#define DAEMON_STOP_MS 4700
#define DAEMON_STOP_POLLERS_MS 2000
/* What the pollers get at least, however much of their budget a reload
 * spent waiting for a stuck bus. */
#define DAEMON_STOP_POLLERS_MIN_MS 500
#define DAEMON_STOP_COMMIT_MS 1000
#define DAEMON_STOP_PUBLISH_MS 700
#define DAEMON_STOP_OFFLINE_MS 500
/* How long a statement of the running daemon waits for another
 * connection's lock (SQLite's busy handler) before it fails: the main
 * thread must not stall with it. Start-up waits STORE_BUSY_TIMEOUT_MS. */
#define DAEMON_BUSY_TIMEOUT_MS 20
/* Readings read back from the database per query for publishing. */
#define DAEMON_PUBLISH_PAGE 500
/* How often the acknowledged seq is persisted (a restart republishes at
 * most this much that was already delivered). */
#define DAEMON_ACKED_SAVE_MS 1000

struct daemon {
    const char *config_path;
    struct config *config;
    struct plan plan;
    struct store *store;
    struct queue *queue;
    struct poller **pollers;
    size_t npollers;
    struct recorder rec; /* the batch, its commits, database outages */
    struct queue_item *items;
    /* Configured sensors by sensors.id, for the live feed. */
    const struct sensor_conf **by_db_id;
    size_t nby_db_id;
    /* The open run, as the daemon last saw it (NULL: none). */
    char *run_name;
    int64_t run_started_us;
    int64_t last_status;
    uint64_t status_committed;

    int64_t started_us;    /* for the online status's "since" */
    struct publisher *pub; /* NULL without an mqtt group */
    int64_t pub_cursor;    /* highest seq handed to the publisher */
    int64_t acked_saved;   /* the acknowledged seq last persisted */
    int64_t acked_save_at; /* next time to persist it, CLOCK_MONOTONIC */
    struct pub_witness_timer witness; /* when the chain witness is due */

    /* Runs are opened and closed by the control channel (runs_changed
     * below); another writer's change shows in PRAGMA data_version. */
    int64_t data_version;
    bool seal_pending;     /* a run may have ended: seal it when... */
    int64_t seal_after_us; /* ...a reading later than this is committed */

    struct retention retention;
    /* The wall clock's synchronisation and steps (clock.c). */
    struct clock_watch clock;
    /* The control channel (control.c); runs_changed: it opened or closed
     * a run, which daemon_runs() then follows. */
    struct control *control;
    bool runs_changed;

    /* The first bus found stuck inside a request ("" if none is): while
     * one is, WATCHDOG=1 is withheld so that the manager restarts us. */
    char stuck_bus[CONFIG_NAME_MAX + 1];

    bool verbose;        /* -v: debug logging whatever the config says */
    bool abandoned;      /* a poller was left inside a request at stop */
    bool failed;         /* stopping because of a failure: exit 1 */
    int64_t stop_seen;   /* when a stop was first noticed, CLOCK_MONOTONIC */
    int64_t watchdog_ns; /* WATCHDOG=1 this often; 0: no watchdog */
    int64_t watchdog_at; /* next WATCHDOG=1, CLOCK_MONOTONIC */
};

static atomic_bool want_stop;
/* When the stop signal arrived (CLOCK_MONOTONIC; 0 for a stop of the
 * daemon's own): SPEC's 5 s count from there. */
static atomic_int_fast64_t stop_signalled;
static atomic_bool want_reload;
static struct queue *signal_queue; /* set before the signal thread starts */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tbdaqd [-c FILE] [-t] [-v] [-V] [-h]\n"
            "\n"
            "The tbdaq data-acquisition daemon: polls Modbus sensors, records "
            "every\n"
            "reading in SQLite, publishes it over MQTT. Stays in the "
            "foreground and logs\n"
            "to stderr.\n"
            "\n"
            "  -c, --config FILE  configuration file (default %s)\n"
            "  -t, --check        check the configuration, print the poll "
            "plan, exit\n"
            "                     (0 valid, 1 not)\n"
            "  -v, --verbose      log at debug level\n"
            "  -V, --version      print the version and exit\n"
            "  -h, --help         print this help and exit\n"
            "\n"
            "Signals: SIGHUP reloads the configuration (an invalid one is "
            "rejected\n"
            "and the running one kept); SIGTERM or SIGINT stop after "
            "committing\n"
            "every reading taken.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n"
            "See tbdaqd(8) and tbdaq.conf(5).\n",
            CONFIG_DEFAULT_PATH);
}

static void *signal_main(void *arg)
{
    sigset_t *set = arg;

    for (;;) {
        int sig = 0;

        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            atomic_store(&want_reload, true);
        } else {
            atomic_store(&stop_signalled, time_mono_ns());
            atomic_store(&want_stop, true);
            queue_wake(signal_queue);
            return NULL;
        }
        queue_wake(signal_queue);
    }
}

/*
 * Whether the daemon is to stop (a signal, or a failure). The first time
 * it says so it notes when: every wait from then on (a reload's, the
 * stop's own) counts against SPEC's 5 s from that moment.
 */
static bool daemon_stopping(struct daemon *d)
{
    if (!atomic_load(&want_stop))
        return false;
    if (d->stop_seen == 0) {
        int64_t at = atomic_load(&stop_signalled);

        d->stop_seen = at ? at : time_mono_ns();
    }
    return true;
}

/* Stops the daemon because something failed: it exits 1, so that the
 * service manager's Restart=on-failure applies. */
static void daemon_fail(struct daemon *d)
{
    d->failed = true;
    atomic_store(&want_stop, true);
}

/* Publishes a reading the database has not taken, so that the live feed
 * goes on while recording is held up. */
static void daemon_publish_live(void *arg, const struct reading *r)
{
    struct daemon *d = arg;
    const struct sensor_conf *sc;
    struct pub_reading pr;

    if (!d->pub || r->sensor_id < 0 || (size_t)r->sensor_id >= d->nby_db_id ||
        !(sc = d->by_db_id[r->sensor_id]))
        return;
    pr = (struct pub_reading){
        .sensor = sc->id,
        .kind = kind_name(sc->kind),
        .unit = sc->unit,
        .ts_us = r->ts_us,
        .has_value = reading_has_value(r),
        .value = r->value,
        .quality = quality_name(r->quality),
        .error = reading_error(r),
        .run =
            d->run_name && r->ts_us >= d->run_started_us ? d->run_name : NULL,
    };
    publisher_send_live(d->pub, &pr);
}

/*
 * Waits until the queue has items or deadline (CLOCK_MONOTONIC) passes,
 * then takes everything the queue holds into the batch. The wait is a
 * poll(2), so that sockets can join it.
 */
static void daemon_drain(struct daemon *d, int64_t deadline)
{
    struct pollfd fds[2 + CONTROL_FDS_MAX] = {
        {.fd = queue_fd(d->queue), .events = POLLIN}, {.fd = -1}};
    size_t nctl = control_pollfds(d->control, fds + 2);
    int64_t wait_ns = deadline - time_mono_ns();
    int timeout_ms = 0, ct;
    size_t n;

    if (wait_ns > 0)
        timeout_ms = (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
    if (d->pub) {
        int pt = publisher_timeout_ms(d->pub);

        fds[1].fd = publisher_fd(d->pub);
        fds[1].events = POLLIN | (publisher_wants_write(d->pub) ? POLLOUT : 0);
        if (pt < timeout_ms)
            timeout_ms = pt;
    }
    if ((ct = control_timeout_ms(d->control)) < timeout_ms)
        timeout_ms = ct;
    if (poll(fds, 2 + nctl, timeout_ms) < 0 && errno != EINTR)
        fatal("poll");
    if (d->pub)
        publisher_service(d->pub, fds[1].revents & (POLLIN | POLLERR | POLLHUP),
                          fds[1].revents & POLLOUT);
    queue_clear_fd(d->queue);
    while ((n = queue_pop(d->queue, d->items, DAEMON_POP_MAX, 1)) > 0)
        for (size_t i = 0; i < n; i++)
            recorder_take(&d->rec, &d->items[i]);
    control_service(d->control, fds + 2, nctl);
}

static int publish_row(const struct store_row *row, void *arg)
{
    struct daemon *d = arg;
    struct pub_reading r = {
        .seq = row->seq,
        .sensor = row->tag,
        .kind = row->kind,
        .unit = row->unit,
        .ts_us = row->ts_us,
        .has_value = row->has_value,
        .value = row->value,
        .quality = row->quality,
        .error = row->error,
        .run = row->run,
    };

    if (publisher_send(d->pub, &r) < 0)
        return 1;
    d->pub_cursor = row->seq;
    return 0;
}

/*
 * Hands the publisher what is committed and not yet handed over, oldest
 * first, as far as its window allows; then persists the acknowledged seq
 * now and then. The database is the source: what the broker has not
 * acknowledged is published again after a restart.
 */
static void daemon_publish(struct daemon *d, bool save_now)
{
    size_t room;
    int64_t acked, now;

    if (!d->pub)
        return;
    if (publisher_take_rewind(d->pub))
        d->pub_cursor = publisher_acked(d->pub);
    while (d->pub_cursor < d->rec.last_seq && (room = publisher_room(d->pub))) {
        int64_t before = d->pub_cursor;
        int n = store_readings_after(
            d->store, d->pub_cursor,
            room < DAEMON_PUBLISH_PAGE ? room : DAEMON_PUBLISH_PAGE,
            publish_row, d);

        if (n <= 0) {
            if (n < 0)
                log_err("cannot read readings to publish: %s",
                        store_errmsg(d->store));
            break;
        }
        if (d->pub_cursor == before)
            break; /* the publisher refused; offer it again later */
    }
    acked = publisher_acked(d->pub);
    now = time_mono_ns();
    if (acked != d->acked_saved && !recorder_down(&d->rec) &&
        (save_now || now >= d->acked_save_at)) {
        if (store_set_state(d->store, STORE_STATE_MQTT_ACKED, acked) == 0)
            d->acked_saved = acked;
        else if (!store_busy(d->store)) /* a lock: next time */
            log_err("%s", store_errmsg(d->store));
        d->acked_save_at = now + DAEMON_ACKED_SAVE_MS * NS_PER_MS;
    }
}

/*
 * The chain witness (SPEC "The chain witness"): the newest chain head and
 * the last seq it covers, published retained when due: every
 * witness_interval_s at the first commit after it, and at stop.
 */
static void daemon_witness(struct daemon *d, bool stopping)
{
    char head[SHA256_HEX_LEN];
    int64_t seq, now = time_mono_ns();

    if (!d->pub ||
        !pub_witness_due(&d->witness, now, d->rec.last_seq, stopping))
        return;
    if (store_chain_head(d->store, head, &seq) < 0) {
        log_err("%s", store_errmsg(d->store));
        return;
    }
    if (seq > 0)
        publisher_witness(d->pub, seq, head, time_real_us());
    pub_witness_done(&d->witness, now, seq);
}

/* Creates the publisher and tells it where acknowledgement stands. The
 * first time a database is published from, it starts at its end. */
static int daemon_start_publisher(struct daemon *d)
{
    int64_t acked;
    int absent;

    if (!d->config->mqtt.enabled)
        return 0;
    if ((absent = store_get_state(d->store, STORE_STATE_MQTT_ACKED, &acked)) <
            0 ||
        store_last_seq(d->store, &d->rec.last_seq) < 0) {
        log_err("%s", store_errmsg(d->store));
        return -1;
    }
    if (absent) {
        if (d->rec.last_seq > 0)
            log_info("publishing from this database for the first time; "
                     "its %lld earlier readings are not published",
                     (long long)d->rec.last_seq);
        acked = d->rec.last_seq;
    }
    if (acked > d->rec.last_seq) {
        log_warnx("acknowledged seq %lld is beyond the last reading %lld; "
                  "publishing from the last reading",
                  (long long)acked, (long long)d->rec.last_seq);
        acked = d->rec.last_seq;
    }
    if (store_set_state(d->store, STORE_STATE_MQTT_ACKED, acked) < 0) {
        log_err("%s", store_errmsg(d->store));
        return -1;
    }
    if (!(d->pub = publisher_new(d->config, TBDAQ_VERSION, d->started_us)))
        return -1;
    publisher_set_acked(d->pub, acked);
    pub_witness_init(&d->witness, d->config->witness_interval_s,
                     time_mono_ns());
    d->pub_cursor = acked;
    d->acked_saved = acked;
    if (acked < d->rec.last_seq)
        log_info("%lld readings not yet acknowledged by the broker will be "
                 "published first",
                 (long long)(d->rec.last_seq - acked));
    return 0;
}

/* At shutdown: publish what can be in the time allowed, persist where
 * acknowledgement stands, publish offline and disconnect. */
static void daemon_stop_publisher(struct daemon *d)
{
    int64_t give_up = time_mono_ns() + DAEMON_STOP_PUBLISH_MS * NS_PER_MS;

    if (!d->pub)
        return;
    while (publisher_connected(d->pub) &&
           publisher_acked(d->pub) < d->rec.last_seq &&
           time_mono_ns() < give_up) {
        daemon_publish(d, false);
        daemon_drain(d, time_mono_ns() + 20 * NS_PER_MS);
    }
    daemon_publish(d, true);
    if (publisher_acked(d->pub) < d->rec.last_seq)
        log_info("%lld readings not acknowledged by the broker; they are "
                 "published after the next start",
                 (long long)(d->rec.last_seq - publisher_acked(d->pub)));
    publisher_free(d->pub, DAEMON_STOP_OFFLINE_MS);
    d->pub = NULL;
}

static void pub_run_of(struct pub_run *pr, const struct store_run *r)
{
    *pr = (struct pub_run){
        .name = r->name,
        .started_us = r->started_us,
        .operator_name = r->operator_name,
        .sealed = r->chain_head != NULL,
        .ended_us = r->ended_us,
        .chain_head = r->chain_head,
        .chain_seq = r->chain_seq,
        .readings = r->readings,
    };
}

static int run_opened(const struct store_run *r, void *arg)
{
    struct daemon *d = arg;
    char payload[PUBLISH_PAYLOAD_MAX];
    struct pub_run pr;

    pub_run_of(&pr, r);
    pr.sealed = false;
    free(d->run_name);
    d->run_name = xstrdup(r->name);
    d->run_started_us = r->started_us;
    log_info("run '%s' is open", r->name);
    if (d->pub && payload_run(payload, sizeof(payload), &pr) > 0)
        publisher_set_run(d->pub, payload);
    return 0;
}

static int run_sealed(const struct store_run *r, void *arg)
{
    struct daemon *d = arg;
    char payload[PUBLISH_PAYLOAD_MAX];
    struct pub_run pr;

    log_info("run '%s' sealed: %lld readings, chain head %s at seq %lld",
             r->name, (long long)r->readings, r->chain_head,
             (long long)r->chain_seq);
    pub_run_of(&pr, r);
    if (d->pub && payload_run(payload, sizeof(payload), &pr) > 0)
        publisher_seal_run(d->pub, r->name, payload);
    return 0;
}

/*
 * Follows runs opened and closed through the control channel (or by
 * another writer of the database). A closed run is sealed
 * (its chain head recorded and published) once a reading taken after the
 * moment the change was noticed is committed, so that every reading taken
 * before the run's end is under the head.
 */
static void daemon_runs(struct daemon *d, bool force)
{
    int64_t v = store_data_version(d->store);

    if (v != d->data_version || force || d->runs_changed) {
        char idle[64];
        struct pub_run none = {0};
        int rc;

        d->data_version = v;
        d->runs_changed = false;
        free(d->run_name);
        d->run_name = NULL;
        rc = store_run_open(d->store, run_opened, d);
        if (rc == 1 && d->pub && payload_run(idle, sizeof(idle), &none) > 0)
            publisher_set_run(d->pub, idle);
        if (rc < 0)
            log_err("%s", store_errmsg(d->store));
        d->seal_pending = true;
        d->seal_after_us =
            time_real_us() + d->config->commit_interval_ms * 1000;
    }
    if (d->seal_pending && (force || d->rec.last_ts_us > d->seal_after_us)) {
        if (store_run_seal(d->store, run_sealed, d) < 0)
            log_err("%s; sealing is tried again", store_errmsg(d->store));
        else
            d->seal_pending = false;
    }
}

/* Indexes the config's sensors by sensors.id (store_sync_sensors() set
 * them) for the live feed. */
static void daemon_index_sensors(struct daemon *d)
{
    size_t n = 1;

    for (size_t i = 0; i < d->config->nsensors; i++)
        if (d->config->sensors[i].db_id >= (int64_t)n)
            n = (size_t)d->config->sensors[i].db_id + 1;
    free(d->by_db_id);
    d->by_db_id = xcalloc(n, sizeof(*d->by_db_id));
    d->nby_db_id = n;
    for (size_t i = 0; i < d->config->nsensors; i++)
        if (d->config->sensors[i].db_id > 0)
            d->by_db_id[d->config->sensors[i].db_id] = &d->config->sensors[i];
}

/* The queue's capacity for plan p: see DAEMON_QUEUE_SECONDS. */
static size_t daemon_queue_capacity(const struct plan *p)
{
    double per_s = 0;
    size_t n;

    for (size_t i = 0; i < p->nrequests; i++)
        per_s += (double)p->requests[i].nsensors * 1000.0 /
                 p->requests[i].interval_ms;
    n = (size_t)(per_s * DAEMON_QUEUE_SECONDS);
    return n < DAEMON_QUEUE_MIN   ? DAEMON_QUEUE_MIN
           : n > DAEMON_QUEUE_MAX ? DAEMON_QUEUE_MAX
                                  : n;
}

static void daemon_watchdog(struct daemon *d, int64_t now);

/*
 * One turn of waiting on pollers (a reload, the stop): take what they
 * send, commit and publish as usual, and keep the watchdog informed, so
 * that a slow bus holds up no other.
 */
static void daemon_wait_turn(struct daemon *d)
{
    int64_t now;

    daemon_drain(d, time_mono_ns() + 10 * NS_PER_MS);
    now = time_mono_ns();
    if (now >= recorder_due_at(&d->rec))
        recorder_commit(&d->rec);
    daemon_publish(d, false);
    daemon_watchdog(d, now);
}

static bool plan_uses_bus(const struct plan *p, size_t b)
{
    for (size_t i = 0; i < p->nrequests; i++)
        if (p->requests[i].bus == b)
            return true;
    return false;
}

/* Starts a poller for every bus with requests, or takes the one in
 * kept[bus] (kept may be NULL) that already serves it. since[bus] (since
 * may be NULL) is when a reload stopped the bus's previous poller. */
static int daemon_start_pollers(struct daemon *d, struct poller **kept,
                                const int64_t *since)
{
    int rc = 0;

    d->pollers = xcalloc(d->config->nbuses, sizeof(*d->pollers));
    d->npollers = 0;
    for (size_t b = 0; b < d->config->nbuses; b++) {
        if (!plan_uses_bus(&d->plan, b)) {
            log_warnx("bus '%s' has no sensors; not polled",
                      d->config->buses[b].name);
            continue;
        }
        if (kept && kept[b]) {
            d->pollers[d->npollers++] = kept[b];
            continue;
        }
        if (daemon_stopping(d))
            continue; /* a stop came during a reload: nothing new starts */
        d->pollers[d->npollers] = poller_start(d->config, &d->plan, b, d->queue,
                                               since ? since[b] : 0);
        if (!d->pollers[d->npollers]) {
            /* Go on, so every kept poller is in d->pollers to be stopped. */
            log_warn("cannot start the poller of bus '%s'",
                     d->config->buses[b].name);
            rc = -1;
            continue;
        }
        d->npollers++;
    }
    return rc;
}

/*
 * Stops every poller while still draining the queue, so none waits on a
 * full queue; afterwards everything they read is in the batch. Waits
 * until deadline (CLOCK_MONOTONIC), or with deadline 0 for as long as it
 * takes unless the daemon is asked to stop meanwhile: then until the
 * stop's budget for pollers is spent. A poller still inside a request
 * then is left behind (d->abandoned).
 */
static void daemon_stop_list(struct daemon *d, struct poller **list, size_t n,
                             int64_t deadline)
{
    bool running = true;

    for (size_t i = 0; i < n; i++)
        poller_request_stop(list[i]);
    for (;;) {
        if (deadline == 0 && daemon_stopping(d))
            deadline = d->stop_seen + DAEMON_STOP_POLLERS_MS * NS_PER_MS;
        if (!running || (deadline != 0 && time_mono_ns() >= deadline))
            break;
        running = false;
        for (size_t i = 0; i < n; i++)
            running |= !poller_finished(list[i]);
        daemon_wait_turn(d);
    }
    for (size_t i = 0; i < n; i++) {
        if (poller_finished(list[i])) {
            poller_stop(list[i]);
            continue;
        }
        /* Only at a stop: a device that takes longer than the budget to
         * answer or time out. Its thread ends with the process. */
        log_warnx("bus '%s' is still waiting on a device; not waiting for it",
                  poller_bus_name(list[i]));
        d->abandoned = true;
    }
    daemon_drain(d, 0);
}

static void daemon_stop_pollers(struct daemon *d, int64_t deadline)
{
    daemon_stop_list(d, d->pollers, d->npollers, deadline);
    free(d->pollers);
    d->pollers = NULL;
    d->npollers = 0;
}

/* Records a reloaded config's sensors. Another connection's lock that
 * lasts less than RECORDER_BUSY_GRACE_MS only delays this (a CLI's
 * transaction must not make a reload fail); commits and publishing go
 * on meanwhile. */
static int daemon_sync_sensors(struct daemon *d, struct config *nc)
{
    int64_t give_up = time_mono_ns() + RECORDER_BUSY_GRACE_MS * NS_PER_MS;

    while (store_sync_sensors(d->store, nc) < 0) {
        if (!store_busy(d->store) || time_mono_ns() >= give_up ||
            daemon_stopping(d))
            return -1;
        daemon_wait_turn(d);
    }
    return 0;
}

/* Applies a new config if it is valid; otherwise keeps the running one. */
static void daemon_reload(struct daemon *d)
{
    struct config *nc;
    struct plan np;
    struct poller **kept, **gone;
    int64_t *since;
    size_t ngone = 0, nkept;

    notify_reloading();
    log_info("reloading %s", d->config_path);
    nc = config_load_logged(d->config_path);
    if (!nc) {
        log_err("configuration rejected; the running one stays in force");
        recorder_event(&d->rec,
                       queue_event("reload_failed", "%s: invalid configuration",
                                   d->config_path));
        goto done;
    }
    if (strcmp(nc->database, d->config->database) != 0)
        log_warnx("a new 'database' takes effect only at restart");
    if (daemon_sync_sensors(d, nc) < 0) {
        log_err("configuration not applied: %s", store_errmsg(d->store));
        recorder_event(&d->rec,
                       queue_event("reload_failed", "%s: %s", d->config_path,
                                   store_errmsg(d->store)));
        config_free(nc);
        goto done;
    }
    plan_build(nc, &np);
    /* Buses whose settings and requests are unchanged keep their pollers
     * (and grids): no gap. The others stop; new ones start below. */
    kept = xcalloc(nc->nbuses, sizeof(*kept));
    gone = xcalloc(d->npollers, sizeof(*gone));
    for (size_t i = 0; i < d->npollers; i++) {
        size_t b = config_find_bus(nc, poller_bus_name(d->pollers[i]));
        int rc = 0;

        /* A stop asked for meanwhile ends the wait: the bus is then
         * stopped like a changed one, within the stop's budget. */
        if (b != SIZE_MAX && plan_uses_bus(&np, b))
            while ((rc = poller_rebind(d->pollers[i], nc, &np, b)) < 0 &&
                   !daemon_stopping(d))
                daemon_wait_turn(d);
        if (rc == 1)
            kept[b] = d->pollers[i];
        else
            gone[ngone++] = d->pollers[i];
    }
    /* A bus that goes on under new settings restarts: its old poller
     * counts the slots it missed before the stop, the new one those from
     * the stop to its first. */
    since = xcalloc(nc->nbuses, sizeof(*since));
    for (size_t i = 0; i < ngone; i++) {
        size_t b = config_find_bus(nc, poller_bus_name(gone[i]));

        poller_request_stop(gone[i]);
        if (b != SIZE_MAX)
            since[b] = poller_stop_asked(gone[i]);
    }
    daemon_stop_list(d, gone, ngone, 0);
    nkept = d->npollers - ngone;
    free(gone);
    free(d->pollers);
    d->pollers = NULL;
    d->npollers = 0;
    /* A poller left inside a request by a stop still reads the old config
     * and plan: they stay, until the process ends, which is now. */
    if (d->abandoned)
        d->config = NULL;
    else
        plan_release(&d->plan);
    if (d->config) {
        nc->database = xrealloc(nc->database, strlen(d->config->database) + 1);
        strcpy(nc->database, d->config->database);
    }
    if (d->pub && d->config && !config_mqtt_equal(d->config, nc)) {
        log_info("MQTT settings changed; reconnecting");
        daemon_stop_publisher(d);
    }
    config_free(d->config);
    d->config = nc;
    d->plan = np;
    recorder_configure(&d->rec, nc);
    daemon_index_sensors(d);
    pub_witness_set_interval(&d->witness, nc->witness_interval_s,
                             time_mono_ns());
    if (!d->pub && daemon_start_publisher(d) < 0)
        log_err("MQTT publishing stays off until the next good reload");
    log_set_level(d->verbose ? LOG_LEVEL_DEBUG : nc->log_level);
    recorder_event(&d->rec, queue_event("config", "%s", nc->sha256));
    if (daemon_start_pollers(d, kept, since) < 0)
        daemon_fail(d);
    free(kept);
    free(since);
    log_info("configuration reloaded: %zu sensors in %zu requests; %zu of "
             "%zu buses kept polling without a pause",
             nc->nsensors, d->plan.nrequests, nkept, d->npollers);
done:
    notify_ready();
}

static void daemon_status(struct daemon *d, int64_t now)
{
    double secs = (double)(now - d->last_status) / NS_PER_S;
    uint64_t failures = 0, missed = 0, down = 0;

    if (now - d->last_status < DAEMON_STATUS_MS * NS_PER_MS)
        return;
    for (size_t i = 0; i < d->npollers; i++) {
        struct poller_stats st;

        poller_stats(d->pollers[i], &st);
        failures += st.failures;
        missed += st.missed;
        down += !st.connected;
    }
    notify_status(
        "%.0f readings/s, %llu recorded, %llu failed polls, "
        "%llu missed slots, %llu buses down, MQTT %s, backlog "
        "%lld%s%s%s%s%s",
        (double)(d->rec.committed - d->status_committed) / secs,
        (unsigned long long)d->rec.committed, (unsigned long long)failures,
        (unsigned long long)missed, (unsigned long long)down,
        !d->pub                       ? "off"
        : publisher_connected(d->pub) ? "connected"
                                      : "disconnected",
        d->pub ? (long long)(d->rec.last_seq - publisher_acked(d->pub)) : 0LL,
        recorder_down(&d->rec) ? ", DATABASE NOT WRITABLE: " : "",
        recorder_down(&d->rec) ? recorder_error(&d->rec) : "",
        d->stuck_bus[0] ? ", STUCK: bus '" : "", d->stuck_bus,
        d->stuck_bus[0] ? "'" : "");
    d->status_committed = d->rec.committed;
    d->last_status = now;
}

/*
 * Whether every poller makes progress. A poller stuck inside one request
 * longer than its bus settings allow (a device dribbling its answer, a
 * hung driver) is what a restart is for: say so, once per stall.
 */
static bool daemon_healthy(struct daemon *d, int64_t now)
{
    for (size_t i = 0; i < d->npollers; i++) {
        const char *name = poller_bus_name(d->pollers[i]);

        if (poller_stalled_ns(d->pollers[i], now) <= 0)
            continue;
        if (strcmp(d->stuck_bus, name) != 0) {
            if (d->stuck_bus[0] == '\0')
                log_warnx("bus '%s' is stuck: one request has taken more "
                          "than the %.0f s its settings allow; withholding "
                          "the watchdog so the service manager restarts "
                          "tbdaqd",
                          name,
                          (double)poller_allowed_ns(d->pollers[i]) / NS_PER_S);
            snprintf(d->stuck_bus, sizeof(d->stuck_bus), "%s", name);
        }
        return false;
    }
    if (d->stuck_bus[0] != '\0') {
        log_info("bus '%s' is moving again; watchdog resumed", d->stuck_bus);
        d->stuck_bus[0] = '\0';
    }
    return true;
}

/* Tells the service manager the main loop is alive, and the pollers. */
static void daemon_watchdog(struct daemon *d, int64_t now)
{
    if (!daemon_healthy(d, now) || !d->watchdog_ns || now < d->watchdog_at)
        return;
    notify_watchdog();
    d->watchdog_at = now + d->watchdog_ns;
}

/* Retention: a pruning step when one is due (retention.c). Nothing the
 * broker has not acknowledged yet is pruned; with MQTT configured but its
 * publisher not running (a reload failed to start it), what was
 * acknowledged when it last ran. */
static void daemon_prune(struct daemon *d, int64_t now)
{
    int64_t max_seq = INT64_MAX;

    if (d->config->retention_days <= 0 || recorder_down(&d->rec) ||
        now < d->retention.at)
        return;
    if (d->config->mqtt.enabled) {
        if (d->pub)
            max_seq = publisher_acked(d->pub);
        else if (store_get_state(d->store, STORE_STATE_MQTT_ACKED, &max_seq))
            max_seq = 0; /* absent, or unreadable: prune nothing */
    }
    retention_step(&d->retention, d->store, d->config->retention_days, max_seq,
                   now);
}

/* Traceable time: a step of the wall clock since the last turn, and the
 * kernel's synchronisation state when it changed, as events. */
static void daemon_clock(struct daemon *d)
{
    struct event ev[CLOCK_EVENTS_MAX];
    size_t n = clock_watch_poll(&d->clock, ev, CLOCK_EVENTS_MAX);

    for (size_t i = 0; i < n; i++)
        recorder_event(&d->rec, (struct queue_item){.type = QUEUE_EVENT,
                                                    .u.event = ev[i]});
}

/* The clock's state at start, recorded with the start and config events. */
static int daemon_clock_start(struct daemon *d)
{
    struct event ev[CLOCK_EVENTS_MAX];
    size_t n;

    clock_watch_init(&d->clock);
    n = clock_watch_poll(&d->clock, ev, CLOCK_EVENTS_MAX);
    for (size_t i = 0; i < n; i++)
        if (store_add_event(d->store, ev[i].kind, ev[i].detail) < 0)
            return -1;
    return 0;
}

static void daemon_control_runs(void *arg)
{
    struct daemon *d = arg;

    d->runs_changed = true;
}

/* A run's line: everything taken so far is committed (the queue was
 * drained into the batch just before control_service()). */
static int daemon_control_flush(void *arg, int64_t *last_seq)
{
    struct daemon *d = arg;

    while (recorder_pending(&d->rec) > 0)
        if (recorder_commit(&d->rec) < 0)
            return -1;
    *last_seq = d->rec.last_seq;
    return 0;
}

static void daemon_control_status(void *arg, struct control_status *st)
{
    struct daemon *d = arg;

    *st = (struct control_status){
        .started_us = d->started_us,
        .recorded = d->rec.committed,
        .mqtt = !d->pub                       ? "off"
                : publisher_connected(d->pub) ? "connected"
                                              : "disconnected",
        .backlog = d->pub ? d->rec.last_seq - publisher_acked(d->pub) : 0,
        .db_down = recorder_down(&d->rec) ? recorder_error(&d->rec) : NULL,
        .last_seq = d->rec.last_seq,
    };
    for (size_t i = 0; i < d->npollers; i++) {
        struct poller_stats ps;

        poller_stats(d->pollers[i], &ps);
        st->failed_polls += ps.failures;
        st->missed_slots += ps.missed;
        st->buses_down += !ps.connected;
    }
    clock_watch_status(&d->clock, &st->clock);
}

/* Opens the control channel: control_socket, or the database's own. */
static int daemon_control_open(struct daemon *d)
{
    struct control_hooks h = {.store = d->store,
                              .arg = d,
                              .runs_changed = daemon_control_runs,
                              .flush = daemon_control_flush,
                              .status = daemon_control_status};
    struct control_addr a;
    char err[CONTROL_SHOWN_MAX + PATH_MAX];

    if (control_address(d->config->control_socket, d->config->database, &a, err,
                        sizeof(err)) < 0) {
        log_err("%s", err);
        return -1;
    }
    return (d->control = control_open(&a, &h)) ? 0 : -1;
}

static int daemon_run(struct daemon *d)
{
    int64_t stop_at;
    int rc = 0;

    while (!daemon_stopping(d)) {
        int64_t now = time_mono_ns();
        int64_t deadline = now + DAEMON_STATUS_MS * NS_PER_MS;

        if (recorder_due_at(&d->rec) < deadline)
            deadline = recorder_due_at(&d->rec);
        if (d->watchdog_ns && d->watchdog_at < deadline)
            deadline = d->watchdog_at;
        if (retention_busy(&d->retention) && !recorder_down(&d->rec))
            deadline = now;
        daemon_drain(d, deadline);
        now = time_mono_ns();
        daemon_clock(d);
        if (now >= recorder_due_at(&d->rec))
            recorder_commit(&d->rec);
        daemon_watchdog(d, now);
        daemon_runs(d, false);
        daemon_witness(d, false);
        daemon_publish(d, false);
        daemon_prune(d, now);
        if (atomic_exchange(&want_reload, false) && !daemon_stopping(d))
            daemon_reload(d);
        daemon_status(d, now);
    }

    log_info("stopping");
    notify_stopping();
    stop_at = d->stop_seen ? d->stop_seen : time_mono_ns();
    {
        /* A reload that waited for a stuck bus may have spent the
         * pollers' budget: the others still get a moment to finish the
         * request in progress, or what they read would be lost. */
        int64_t until = stop_at + DAEMON_STOP_POLLERS_MS * NS_PER_MS;
        int64_t least = time_mono_ns() + DAEMON_STOP_POLLERS_MIN_MS * NS_PER_MS;

        daemon_stop_pollers(d, until > least ? until : least);
    }
    recorder_event(
        &d->rec, queue_event("stop", "%llu readings recorded since start",
                             (unsigned long long)(d->rec.committed +
                                                  recorder_waiting(&d->rec))));
    {
        int64_t failing_until =
            time_mono_ns() + DAEMON_STOP_COMMIT_MS * NS_PER_MS;
        int64_t working_until =
            stop_at +
            (DAEMON_STOP_MS - DAEMON_STOP_PUBLISH_MS - DAEMON_STOP_OFFLINE_MS) *
                NS_PER_MS;
        struct timespec pause = {0, 50 * 1000 * 1000};

        while (recorder_pending(&d->rec) > 0) {
            int64_t now = time_mono_ns();

            if (now >= working_until ||
                (recorder_down(&d->rec) && now >= failing_until)) {
                log_err("%zu readings taken are lost: they could not be "
                        "committed in time (%s)",
                        recorder_waiting(&d->rec),
                        recorder_down(&d->rec) ? recorder_error(&d->rec)
                                               : "too many waited");
                rc = -1;
                break;
            }
            if (recorder_commit(&d->rec) < 0)
                nanosleep(&pause, NULL);
        }
    }
    daemon_witness(d, true);
    daemon_stop_publisher(d);
    log_info("stopped; %llu readings recorded",
             (unsigned long long)d->rec.committed);
    return rc;
}

int main(int argc, char **argv)
{
    struct daemon d = {.config_path = CONFIG_DEFAULT_PATH};
    bool check_only = false, verbose = false;
    sigset_t sigs;
    pthread_t sig_thread;
    char err[STORE_ERR_MAX];
    int opt, rc = 1;

    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };

    /* Mistakes on the command line and -t's findings are for whoever
     * typed it: no time stamp (file:line: stays first, for editors). */
    log_init("tbdaqd", LOG_LEVEL_INFO, LOG_PLAIN);
    while ((opt = opt_next(argc, argv, ":c:tvVh", longopts, "tbdaqd --help")) !=
           -1) {
        switch (opt) {
        case 'c':
            d.config_path = optarg;
            break;
        case 't':
            check_only = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'V':
            printf("tbdaqd %s\n", TBDAQ_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        log_err("unexpected argument '%s' (see tbdaqd --help)", argv[optind]);
        return 2;
    }

    if (!check_only)
        log_init("tbdaqd", LOG_LEVEL_INFO, LOG_STAMP);
    if (!(d.config = config_load_logged(d.config_path)))
        return 1;
    plan_build(d.config, &d.plan);
    if (check_only) {
        plan_print(d.config, &d.plan, stdout);
        printf("configuration %s is valid\n", d.config_path);
        rc = 0;
        goto out_config;
    }
    d.verbose = verbose;
    log_set_level(verbose ? LOG_LEVEL_DEBUG : d.config->log_level);

    /* Signals go to the signal thread only: block them before any thread
     * starts, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit makes writes fail with EFBIG, reported like a
     * full disk, instead of killing the daemon. */
    signal(SIGXFSZ, SIG_IGN);

    if (!(d.store = store_open(d.config->database, STORE_READ_WRITE, err))) {
        log_err("%s", err);
        goto out_config;
    }
    recorder_init(&d.rec, d.store, d.config, daemon_publish_live, &d);
    /* Runs drawn before the first commit end at the newest seq there is. */
    if (store_last_seq(d.store, &d.rec.last_seq) < 0 ||
        store_sync_sensors(d.store, d.config) < 0 ||
        store_add_event(d.store, "start", "tbdaqd " TBDAQ_VERSION) < 0 ||
        store_add_event(d.store, "config", d.config->sha256) < 0 ||
        daemon_clock_start(&d) < 0) {
        log_err("%s", store_errmsg(d.store));
        goto out_store;
    }
    d.started_us = time_real_us();
    daemon_index_sensors(&d);
    if (daemon_start_publisher(&d) < 0)
        goto out_store;
    if (store_set_site(d.store, d.config->site) < 0)
        log_err("%s", store_errmsg(d.store));
    if (daemon_control_open(&d) < 0)
        goto out_store;
    /* Every reading before this start is committed: seal runs that
     * ended while no daemon was running, and publish the run state. */
    daemon_runs(&d, true);
    store_set_busy_timeout(d.store, DAEMON_BUSY_TIMEOUT_MS);
    d.queue = queue_new(daemon_queue_capacity(&d.plan));
    d.items = xcalloc(DAEMON_POP_MAX, sizeof(*d.items));
    signal_queue = d.queue;
    if ((errno = pthread_create(&sig_thread, NULL, signal_main, &sigs))) {
        log_warn("cannot start the signal thread");
        goto out_queue;
    }
    if (daemon_start_pollers(&d, NULL, NULL) < 0) {
        daemon_fail(&d);
    } else {
        log_info("started: %zu sensor%s in %zu request%s on %zu bus%s, "
                 "database %s",
                 d.config->nsensors, d.config->nsensors == 1 ? "" : "s",
                 d.plan.nrequests, d.plan.nrequests == 1 ? "" : "s", d.npollers,
                 d.npollers == 1 ? "" : "es", d.config->database);
        notify_ready();
        d.last_status = time_mono_ns();
        /* Half the manager's interval, so one late loop is not fatal. */
        d.watchdog_ns = (int64_t)notify_watchdog_usec() * 1000 / 2;
        d.watchdog_at = d.last_status;
        rc = 0;
    }
    if (daemon_run(&d) < 0 || d.failed)
        rc = 1;
    /* The signal thread ends after its first SIGTERM/SIGINT; if we stop for
     * another reason, send it one. */
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    rc = rc ? 1 : 0;
    if (d.abandoned) {
        /* A poller thread still uses the queue, config and plan: leave
         * them to the end of the process, which is now. Everything taken
         * is committed and the database is closed. */
        control_close(d.control);
        store_close(d.store);
        _exit(rc);
    }
out_queue:
    free(d.items);
    queue_free(d.queue);
    recorder_release(&d.rec);
out_store:
    control_close(d.control);
    if (d.pub)
        publisher_free(d.pub, 0);
    store_close(d.store);
    free(d.by_db_id);
    free(d.run_name);
out_config:
    plan_release(&d.plan);
    config_free(d.config);
    return rc;
}
