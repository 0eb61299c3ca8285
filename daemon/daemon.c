// SPDX-License-Identifier: MIT
/*
 * The daemon's lifecycle: start, the pollers, stop (reload is reload.c).
 * See daemon.h; the loop that turns between them is main.c.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/notify.h"
#include "version.h"

/* The queue holds this many seconds of the plan's readings, within the
 * bounds below (an item is ~300 bytes and every slot gets touched: the
 * queue is most of the daemon's memory at low rates). A reload keeps the
 * queue: a much faster plan may then fill it, which makes pollers wait
 * and shows as missed slots, never as lost readings. */
#define DAEMON_QUEUE_SECONDS 2
#define DAEMON_QUEUE_MIN 2048
#define DAEMON_QUEUE_MAX 65536
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
/* How long a statement of the running daemon waits for another
 * connection's lock (SQLite's busy handler) before it fails: the main
 * thread must not stall with it. Start-up waits STORE_BUSY_TIMEOUT_MS. */
#define DAEMON_BUSY_TIMEOUT_MS 20
/* One turn of waiting on pollers (a reload, the stop). */
#define DAEMON_TURN_MS 10
/* One turn of waiting on the publisher at its stop. */
#define DAEMON_PUBLISH_TURN_MS 20
/* DAEMON_STOP_PUBLISH_MS and DAEMON_STOP_OFFLINE_MS, the publisher's
 * share of the budget, are in daemon.h: a reload spends them too. */

bool daemon_stopping(struct daemon *d)
{
    if (!atomic_load(d->want_stop))
        return false;
    if (d->stop_seen == 0) {
        int64_t at = atomic_load(d->stop_signalled);

        d->stop_seen = at ? at : time_mono_ns();
    }
    return true;
}

void daemon_fail(struct daemon *d)
{
    d->failed = true;
    atomic_store(d->want_stop, true);
}

/* When the stop's commits must be over (CLOCK_MONOTONIC): what is left
 * of its budget is for publishing and the offline status. INT64_MAX while
 * not stopping. */
static int64_t daemon_commits_until(const struct daemon *d)
{
    if (!d->stop_seen)
        return INT64_MAX;
    return d->stop_seen +
           (DAEMON_STOP_MS - DAEMON_STOP_PUBLISH_MS - DAEMON_STOP_OFFLINE_MS) *
               NS_PER_MS;
}

/* Whether a commit started now ends in time: always, unless stopping and
 * commits take longer than is left (a disk that syncs slowly). A commit
 * cannot be cut short once begun. */
static bool daemon_commit_fits(const struct daemon *d, int64_t now)
{
    return now + recorder_commit_ns(&d->rec) <= daemon_commits_until(d);
}

/* The recorder's live feed: readings the database has not taken. */
static void daemon_live(void *arg, const struct reading *r)
{
    struct daemon *d = arg;

    outputs_live(&d->outputs, r, runwatch_run_at(&d->runs, r->ts_us));
}

/* Takes up to max items from the queue into the recorder; with some,
 * only until the recorder is full (recorder_full()). */
static void daemon_take(struct daemon *d, size_t max, bool some)
{
    while (max > 0 && !(some && recorder_full(&d->rec))) {
        size_t n = queue_pop(d->queue, d->items,
                             max < DAEMON_POP_MAX ? max : DAEMON_POP_MAX, 1);

        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++) {
            const struct queue_item *it = &d->items[i];

            if (it->type == QUEUE_EVENT)
                device_log_event(&d->devices, it->u.event.ts_us,
                                 it->u.event.kind, it->u.event.detail, true);
            recorder_take(&d->rec, &d->items[i]);
        }
        max -= n;
    }
}

/* A turn's take: the rest waits in the queue, and the pollers on it, while
 * the recorder is full (daemon_poll_once() then does not sleep while the
 * recorder has room and the queue has items). */
static void daemon_take_some(struct daemon *d)
{
    daemon_take(d, SIZE_MAX, true);
}

/* Everything pushed before the call (not what pollers push meanwhile: one
 * catching up on missed slots pushes as fast as it is taken): what a run
 * line, the settling of runs and the stop need. */
static void daemon_take_all(struct daemon *d)
{
    daemon_take(d, queue_length(d->queue), false);
}

void daemon_poll_once(struct daemon *d, int64_t deadline)
{
    struct pollfd fds[1 + OUTPUTS_MAX + CHANNEL_FDS_MAX] = {
        {.fd = queue_fd(d->queue), .events = POLLIN}};
    int64_t wait_ns = deadline - time_mono_ns();
    int timeout_ms = 0, ct;
    size_t nout, nctl;

    if (wait_ns > 0)
        timeout_ms = (int)((wait_ns + NS_PER_MS - 1) / NS_PER_MS);
    nout = outputs_pollfds(&d->outputs, fds + 1, &timeout_ms);
    nctl = channel_pollfds(d->channel, fds + 1 + nout);
    if ((ct = channel_timeout_ms(d->channel)) < timeout_ms)
        timeout_ms = ct;
    /* Items a full recorder left, and room again: the queue's descriptor
     * was cleared when they were left, so it would not wake the poll. */
    if (!recorder_full(&d->rec) && queue_length(d->queue) > 0)
        timeout_ms = 0;
    if (poll(fds, 1 + nout + nctl, timeout_ms) < 0 && errno != EINTR)
        fatal("poll");
    outputs_service(&d->outputs, fds + 1, nout);
    queue_clear_fd(d->queue);
    daemon_take_some(d);
    channel_service(d->channel, fds + 1 + nout, nctl);
}

/*
 * One turn of waiting on pollers (a reload, the stop): take what they
 * send, commit and publish as usual, and keep the watchdog informed, so
 * that a slow bus holds up no other.
 */
void daemon_turn(void *arg)
{
    struct daemon *d = arg;
    int64_t now;

    daemon_poll_once(d, time_mono_ns() + DAEMON_TURN_MS * NS_PER_MS);
    now = time_mono_ns();
    if (now >= recorder_due_at(&d->rec) && daemon_commit_fits(d, now))
        recorder_commit(&d->rec);
    outputs_pump(&d->outputs, d->rec.last_seq, false, recorder_down(&d->rec));
    health_watchdog(&d->health, d->pollers, d->npollers, now);
}

/* While the publisher says goodbye (a stop, or new MQTT settings): poll
 * and service, but commit nothing: at a stop the last commits are over
 * (and their outcome logged), and the budget left is the publisher's. */
void daemon_publish_turn(void *arg)
{
    struct daemon *d = arg;

    daemon_poll_once(d, time_mono_ns() + DAEMON_PUBLISH_TURN_MS * NS_PER_MS);
}

/* ---- Pollers ----------------------------------------------------------- */

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

bool daemon_plan_uses_bus(const struct plan *p, size_t b)
{
    for (size_t i = 0; i < p->nrequests; i++)
        if (p->requests[i].bus == b)
            return true;
    return false;
}

/* Starts a poller for every bus with requests, or takes the one in
 * kept[bus] (kept may be NULL) that already serves it. since[bus] (since
 * may be NULL) is when a reload stopped the bus's previous poller. */
int daemon_pollers_from(struct daemon *d, struct poller **kept,
                        const int64_t *since)
{
    int rc = 0;

    d->pollers = xcalloc(d->config->nbuses, sizeof(*d->pollers));
    d->npollers = 0;
    for (size_t b = 0; b < d->config->nbuses; b++) {
        if (!daemon_plan_uses_bus(&d->plan, b)) {
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
        d->pollers[d->npollers] =
            poller_start(d->config, &d->plan, b, d->queue, since ? since[b] : 0,
                         &d->devices);
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

int daemon_start_pollers(struct daemon *d)
{
    int rc = daemon_pollers_from(d, NULL, NULL);

    if (rc == 0)
        log_info("started: %zu sensor%s in %zu request%s on %zu bus%s, "
                 "database %s",
                 d->config->nsensors, d->config->nsensors == 1 ? "" : "s",
                 d->plan.nrequests, d->plan.nrequests == 1 ? "" : "s",
                 d->npollers, d->npollers == 1 ? "" : "es",
                 d->config->database);
    return rc;
}

/*
 * Stops every poller in list while still taking from the queue, so none
 * waits on a full queue; afterwards everything they read is in the
 * recorder. Waits until deadline (CLOCK_MONOTONIC), or with deadline 0
 * for as long as it takes unless the daemon is asked to stop meanwhile:
 * then until the stop's budget for pollers is spent. A poller still
 * inside a request then is left behind (d->abandoned).
 */
void daemon_stop_list(struct daemon *d, struct poller **list, size_t n,
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
        daemon_turn(d);
    }
    for (size_t i = 0; i < n; i++) {
        if (poller_finished(list[i])) {
            poller_join(list[i]);
            poller_free(list[i]);
            continue;
        }
        /* Only at a stop: a device that takes longer than the budget to
         * answer or time out. Its thread ends with the process. */
        log_warnx("bus '%s' is still waiting on a device; not waiting for it",
                  poller_bus_name(list[i]));
        d->abandoned = true;
    }
    daemon_poll_once(d, 0);
    daemon_take_all(d);
}

/* ---- The control channel's hooks --------------------------------------- */

static void daemon_runs_changed(void *arg)
{
    struct daemon *d = arg;

    runwatch_changed(&d->runs);
}

/* The earliest of the pollers' frontiers (poller.h). */
static int64_t daemon_frontier(const struct daemon *d)
{
    int64_t f = INT64_MAX;

    for (size_t i = 0; i < d->npollers; i++) {
        int64_t t = poller_frontier(d->pollers[i]);

        if (t < f)
            f = t;
    }
    return f;
}

/* A run's line: everything taken so far is committed. */
static int daemon_flush(void *arg, int64_t *last_seq)
{
    struct daemon *d = arg;

    daemon_take_all(d);
    while (recorder_pending(&d->rec) > 0)
        if (recorder_commit(&d->rec) < 0)
            return -1;
    *last_seq = d->rec.last_seq;
    return 0;
}

static void daemon_counters(void *arg, struct channel_status *st)
{
    struct daemon *d = arg;
    struct health_counts c;

    health_count(d->pollers, d->npollers, &c);
    *st = (struct channel_status){
        .started_us = d->started_us,
        .recorded = d->rec.committed,
        .failed_polls = c.failures,
        .missed_slots = c.missed,
        .buses_down = c.down,
        .mqtt = outputs_state(&d->outputs, "mqtt"),
        .backlog = outputs_backlog(&d->outputs, "mqtt", d->rec.last_seq),
        .sparkplug = outputs_state(&d->outputs, "sparkplug"),
        .sparkplug_backlog =
            outputs_backlog(&d->outputs, "sparkplug", d->rec.last_seq),
        .db_down = recorder_down(&d->rec) ? recorder_error(&d->rec) : NULL,
        .last_seq = d->rec.last_seq,
    };
    clock_watch_status(&d->clock, &st->clock);
}

/* Opens the control channel: control_socket, or the database's own. */
static int daemon_channel_open(struct daemon *d)
{
    struct channel_hooks h = {.store = d->store,
                              .arg = d,
                              .runs_changed = daemon_runs_changed,
                              .flush = daemon_flush,
                              .status = daemon_counters};
    struct control_addr a;
    char err[CONTROL_SHOWN_MAX + PATH_MAX];

    if (control_address(d->config->control_socket, d->config->database, &a, err,
                        sizeof(err)) < 0) {
        log_err("%s", err);
        return -1;
    }
    return (d->channel = channel_open(&a, &h)) ? 0 : -1;
}

/* ---- Start and stop ---------------------------------------------------- */

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

static int daemon_device_fn(int64_t ts_us, const char *kind, const char *detail,
                            void *arg)
{
    device_log_event(arg, ts_us, kind, detail ? detail : "", true);
    return 0;
}

/* The newest identity recorded of each bus and unit, which the pollers
 * compare what they read with. Reads every event once: they are few
 * beside the readings, and it happens at start only. */
static int daemon_devices_load(struct daemon *d)
{
    return store_events(d->store, INT64_MIN, INT64_MAX, daemon_device_fn,
                        &d->devices);
}

/*
 * Draws the edges of the exact runs started or stopped (struct
 * store_run): once every poller has pushed what it took before the change
 * was noticed (its frontier, read first), the queue is taken and
 * committed, and the edges are the last seq given. Readings taken before
 * a stop but pushed late (held, or missed slots recorded after a slow
 * request) are then inside; readings near an edge are placed by their
 * times. Not while the database is down: the recorder retries on its own
 * schedule, and this follows.
 */
void daemon_settle_runs(struct daemon *d)
{
    int64_t last_seq;

    if (recorder_down(&d->rec) ||
        !runwatch_settle_due(&d->runs, daemon_frontier(d)))
        return;
    if (daemon_flush(d, &last_seq) < 0)
        return; /* the recorder logged it; tried again at the next turn */
    if (store_runs_settle(d->store, last_seq) < 0) {
        log_err("%s; tried again", store_errmsg(d->store));
        return;
    }
    runwatch_settled(&d->runs);
}

int daemon_start(struct daemon *d)
{
    char err[STORE_ERR_MAX];

    if (!(d->store = store_open(d->config->database, STORE_READ_WRITE, err))) {
        log_err("%s", err);
        return -1;
    }
    recorder_init(&d->rec, d->store, d->config, daemon_live, d);
    d->started_us = time_real_us();
    outputs_init(&d->outputs, d->store, TBDAQ_VERSION, d->started_us);
    /* Runs drawn before the first commit end at the newest seq there is. */
    if (store_last_seq(d->store, &d->rec.last_seq) < 0 ||
        store_sync_sensors(d->store, d->config) < 0 ||
        store_add_event(d->store, "start", "tbdaqd " TBDAQ_VERSION) < 0 ||
        store_add_event(d->store, "config", d->config->sha256) < 0 ||
        daemon_clock_start(d) < 0 || daemon_devices_load(d) < 0) {
        log_err("%s", store_errmsg(d->store));
        return -1;
    }
    outputs_index(&d->outputs, d->config);
    if (outputs_start(&d->outputs, d->config, d->rec.last_seq) < 0)
        return -1;
    if (store_set_site(d->store, d->config->site) < 0)
        log_err("%s", store_errmsg(d->store));
    if (daemon_channel_open(d) < 0)
        return -1;
    /* Every reading before this start is committed: the runs a daemon
     * before this one stopped end at the newest seq (anything it took
     * later is lost), they are sealed, and the run state published. */
    if (store_runs_settle(d->store, d->rec.last_seq) < 0) {
        log_err("%s", store_errmsg(d->store));
        return -1;
    }
    runwatch_follow(&d->runs, d->store, &d->outputs, d->rec.last_ts_us,
                    d->config->commit_interval_ms, true);
    store_set_busy_timeout(d->store, DAEMON_BUSY_TIMEOUT_MS);
    d->queue = queue_new(daemon_queue_capacity(&d->plan));
    d->items = xcalloc(DAEMON_POP_MAX, sizeof(*d->items));
    return 0;
}

/* The last commits: they go on while they work until only the time to
 * publish and to say offline is left, and give up after
 * DAEMON_STOP_COMMIT_MS of failing. */
static int daemon_last_commits(struct daemon *d)
{
    int64_t failing_until = time_mono_ns() + DAEMON_STOP_COMMIT_MS * NS_PER_MS;
    struct timespec pause = {0, 50 * 1000 * 1000};

    while (recorder_pending(&d->rec) > 0) {
        int64_t now = time_mono_ns();
        char why[64];

        if (daemon_commit_fits(d, now) &&
            !(recorder_down(&d->rec) && now >= failing_until)) {
            if (recorder_commit(&d->rec) < 0)
                nanosleep(&pause, NULL);
            continue;
        }
        if (now < daemon_commits_until(d))
            snprintf(why, sizeof(why), "a commit takes up to %lld ms here",
                     (long long)(recorder_commit_ns(&d->rec) / NS_PER_MS));
        else
            snprintf(why, sizeof(why), "too many waited");
        log_err("%zu readings taken are lost: they could not be committed in "
                "time (%s)",
                recorder_waiting(&d->rec),
                recorder_down(&d->rec) ? recorder_error(&d->rec) : why);
        return -1;
    }
    return 0;
}

int daemon_stop(struct daemon *d)
{
    int64_t stop_at, until, least;
    int rc;

    if (!d->stop_seen) /* not through daemon_stopping(): the budget starts */
        d->stop_seen = time_mono_ns();
    stop_at = d->stop_seen;
    /* A reload that waited for a stuck bus may have spent the pollers'
     * budget: the others still get a moment to finish the request in
     * progress, or what they read would be lost. */
    until = stop_at + DAEMON_STOP_POLLERS_MS * NS_PER_MS;
    least = time_mono_ns() + DAEMON_STOP_POLLERS_MIN_MS * NS_PER_MS;
    log_info("stopping");
    notify_stopping();
    /* A checkpoint in a commit would make it several times as long as
     * the one timed before (recorder_commit_ns()): the close does it. */
    store_no_checkpoints(d->store);
    daemon_stop_list(d, d->pollers, d->npollers, until > least ? until : least);
    free(d->pollers);
    d->pollers = NULL;
    d->npollers = 0;
    recorder_event(
        &d->rec,
        queue_item_event("stop", "%llu readings recorded since start",
                         (unsigned long long)(d->rec.committed +
                                              recorder_waiting(&d->rec))));
    rc = daemon_last_commits(d);
    /* Every poller has ended: a run stopped is drawn and sealed now, if
     * all it took is committed (otherwise at the next start). */
    if (rc == 0 && !d->abandoned) {
        if (store_runs_settle(d->store, d->rec.last_seq) < 0)
            log_err("%s", store_errmsg(d->store));
        else
            runwatch_settled(&d->runs);
        runwatch_follow(&d->runs, d->store, &d->outputs, d->rec.last_ts_us,
                        d->config->commit_interval_ms, true);
    }
    outputs_stop(&d->outputs, d->rec.last_seq, recorder_down(&d->rec),
                 DAEMON_STOP_PUBLISH_MS, DAEMON_STOP_OFFLINE_MS,
                 daemon_publish_turn, d);
    /* Closing the database copies the write-ahead log into it, with syncs
     * as slow as a commit's: when that would end past the budget, the log
     * is left to the next start (the readings in it are safe). */
    if (time_mono_ns() + recorder_commit_ns(&d->rec) >
        stop_at + DAEMON_STOP_MS * NS_PER_MS) {
        store_keep_wal(d->store);
        log_warnx("the disk is slow (a commit takes up to %lld ms): the "
                  "newest readings stay in %s-wal until the next start; "
                  "copy the database with it",
                  (long long)(recorder_commit_ns(&d->rec) / NS_PER_MS),
                  d->config->database);
    }
    log_info("stopped; %llu readings recorded",
             (unsigned long long)d->rec.committed);
    return rc;
}

void daemon_release(struct daemon *d)
{
    free(d->items);
    queue_free(d->queue);
    recorder_release(&d->rec);
    channel_close(d->channel);
    outputs_release(&d->outputs);
    runwatch_release(&d->runs);
    store_close(d->store);
    plan_release(&d->plan);
    config_free(d->config);
    device_log_release(&d->devices);
}
