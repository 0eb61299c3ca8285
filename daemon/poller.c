// SPDX-License-Identifier: MIT
/*
 * Poller threads. Each owns a bus and the requests on it; it sleeps until
 * the earliest request's grid deadline, serves it, and turns the result
 * into readings. Link state follows collectd's complain/release manner: the
 * first failure is logged and recorded, the recovery once, never a line per
 * poll. What backs off is the logging, not the attempts: a bus that is down
 * is tried again at every slot, so a device that comes back is read at its
 * next slot however long it was away.
 *
 * Every slot of every request ends as exactly one reading per sensor: the
 * response (or failure) of the slot served, or a `missed` reading stamped
 * with the slot's own time for a slot that passed with no request. Per
 * sensor, readings go into the queue in the order of their times: the
 * slots that passed while a request ran are recorded before its reading,
 * and a reading that came after its request's next slot began is held
 * back until that slot is served (then it goes first) or missed (then the
 * missed one does: poller_missed.c records missed slots). A request that
 * ran long and another due before it take turns on a frozen device, so
 * the latter is common, not a corner.
 *
 * For the watchdog, the thread publishes one deadline: the time by which
 * it must have finished what it is doing (waiting for a slot, or one
 * request on the bus). The main thread compares it with the clock and so
 * tells a wedged bus from a slow one without ever waiting on the poller.
 */
#include "daemon/poller_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/sched.h"
#include "drivers/rtutcp.h"
#include "lib/sample.h"

/* RTU framing, for the time a request and its answer take on the line:
 * a read request is 8 bytes; a response 5 (unit, function, byte count,
 * CRC) plus 2 per register; a character is a start bit, the data bits,
 * a parity bit unless parity is 'N', and the stop bits. */
#define POLLER_RTU_REQUEST_BYTES 8
#define POLLER_RTU_RESPONSE_BYTES 5
#define POLLER_RTU_START_BITS 1

bool poller_push(struct poller *pl, const struct queue_item *items, size_t n)
{
    int64_t due = atomic_load(&pl->due_by), t0 = time_mono_ns(), t1;
    size_t done;

    if (due)
        atomic_store(&pl->due_by, 0);
    done = queue_push(pl->queue, items, n, 0);
    t1 = time_mono_ns();
    if (due)
        atomic_store(&pl->due_by, due + (t1 - t0));
    if (t1 - t0 >= POLLER_QUEUE_WAIT_MS * NS_PER_MS)
        poller_missed_note_wait(pl, t0, t1);
    return done == n;
}

void poller_push_event(struct poller *pl, struct queue_item it)
{
    poller_push(pl, &it, 1);
}

/* Sleeps until deadline (CLOCK_MONOTONIC). Returns false if asked to
 * stop. */
static bool poller_sleep_until(struct poller *pl, int64_t deadline)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline / NS_PER_S),
                          .tv_nsec = (long)(deadline % NS_PER_S)};
    bool stop;

    pthread_mutex_lock(&pl->lock);
    while (!pl->stopping &&
           pthread_cond_timedwait(&pl->wake, &pl->lock, &ts) != ETIMEDOUT)
        ;
    stop = pl->stopping;
    pthread_mutex_unlock(&pl->lock);
    return !stop;
}

static void poller_link_down(struct poller *pl, int err, int64_t now)
{
    pl->link_errno = err;
    if (pl->down)
        return;
    pl->down = true;
    pl->down_since = now;
    /* a real outage: the next connect reads the identities again, even if
     * an identity read was what broke the link (poller_device.c) */
    pl->device_broke_link = false;
    log_warnx("bus '%s' is down: %s", pl->busconf->name, bus_strerror(err));
    poller_push_event(pl,
                      queue_item_event("bus_down", "bus '%s': %s",
                                       pl->busconf->name, bus_strerror(err)));
}

/* Called when the device answered (a response or an exception): the link
 * works. */
static void poller_link_up(struct poller *pl, int64_t now)
{
    if (!pl->down)
        return;
    pl->down = false;
    log_info("bus '%s' is up again after %.1f s", pl->busconf->name,
             (double)(now - pl->down_since) / NS_PER_S);
    poller_push_event(
        pl, queue_item_event("bus_up", "bus '%s': up after %.1f s (was: %s)",
                             pl->busconf->name,
                             (double)(now - pl->down_since) / NS_PER_S,
                             bus_strerror(pl->link_errno)));
}

/*
 * Connects for the slot that began at slot_mono, unless connected; returns
 * true if connected. Every slot tries (an attempt is bounded by the bus's
 * timeout), so a device is read again at the first slot after it accepts
 * connections; only the logging backs off (poller_link_down). Requests
 * whose slots began before the last failed attempt did share its result
 * rather than each waiting out a connect timeout of its own.
 */
static bool poller_connect(struct poller *pl, int64_t slot_mono)
{
    int64_t start;
    int err;

    if (bus_is_connected(pl->bus))
        return true;
    if (pl->connect_failed_at && slot_mono <= pl->connect_failed_at)
        return false;
    start = time_mono_ns();
    if (bus_connect(pl->bus) == 0) {
        pl->connect_failed_at = 0;
        poller_devices_connected(pl);
        return true;
    }
    err = errno ? errno : ENOTCONN;
    pl->connect_failed_at = start;
    poller_link_down(pl, err, time_mono_ns());
    return false;
}

static void poller_unit_result(struct poller *pl, int unit, int err)
{
    uint32_t *n = &pl->unit_failures[unit];

    if (err == 0) {
        if (*n > 0) {
            log_info("bus '%s' unit %d answers again after %u failed polls",
                     pl->busconf->name, unit, *n);
            poller_devices_recovered(pl, unit);
        }
        *n = 0;
        return;
    }
    if ((*n)++ == 0)
        log_warnx("bus '%s' unit %d: %s (further failures are counted, "
                  "not logged)",
                  pl->busconf->name, unit, bus_strerror(err));
}

/* Makes one reading per sensor of r from the registers just read, or, if
 * err, a comm_error reading each; "not connected" when no request could be
 * sent at all. A coil or discrete input is its word (0 or 1); a `bit`
 * sensor is one bit of its register; either keeps the one word read as
 * its raw words. An int64 or uint64 beyond 2^53 is stored as the nearest
 * double: its raw words keep it exactly. */
static void poller_fill(struct poller *pl, const struct plan_request *r,
                        int64_t ts_us, int err, bool sent)
{
    for (size_t i = 0; i < r->nsensors; i++) {
        const struct sensor_conf *s = &pl->config->sensors[r->sensors[i]];
        struct reading *rd = &pl->items[i].u.reading;

        pl->items[i].type = QUEUE_READING;
        memset(rd, 0, sizeof(*rd));
        rd->sensor_id = s->db_id;
        rd->ts_us = ts_us;
        if (err)
            sample_comm_error(rd, err, sent);
        else
            sample_decode(s, pl->regs + (s->address - r->address), rd);
    }
}

static void poller_serve(struct poller *pl, struct poller_request *pr,
                         int64_t slot)
{
    const struct plan_request *r = pr->req;
    bool sent = poller_connect(pl, grid_slot_mono(&pr->grid, slot));
    int err = sent ? 0 : (pl->link_errno ? pl->link_errno : ENOTCONN);
    int64_t ts_us, now, before, stop;

    pl->polls++;
    if (sent && bus_read(pl->bus, r->unit_id, r->table, r->address, r->count,
                         pl->regs) < 0)
        err = errno ? errno : EIO;
    /* The response (or the failure) is now: before anything that may log
     * or wait on the queue. */
    ts_us = time_real_us();
    now = time_mono_ns();
    /* Done with the bus: what is left only logs and pushes. */
    atomic_store(&pl->due_by, 0);
    if (sent && err && bus_error_is_exception(err)) {
        /* The unit answered, refusing this request (an address it does
         * not have, say): its link and the unit are fine, and another
         * request of it may well be served, so this neither counts as
         * the unit failing nor makes it "answer again" (nor its identity
         * due) at the next request that it serves. */
        poller_link_up(pl, time_mono_ns());
        poller_unit_result(pl, r->unit_id, 0);
        if (!pr->refused)
            log_warnx("bus '%s' unit %d refuses %s %d..%d: %s (logged once)",
                      pl->busconf->name, r->unit_id, reg_table_name(r->table),
                      r->address, r->address + r->count - 1, bus_strerror(err));
        pr->refused = true;
    } else if (sent && err) {
        if (!bus_is_connected(pl->bus))
            poller_link_down(pl, err, time_mono_ns());
        else
            poller_unit_result(pl, r->unit_id, err);
    } else if (sent) {
        poller_link_up(pl, time_mono_ns());
        poller_unit_result(pl, r->unit_id, 0);
        pr->refused = false;
    }
    /* The slots of this request whose spans passed while it ran (the one
     * under way now may still be served): missed, and recorded before this
     * reading, which is later than they are. Once a stop was asked for,
     * the slots from then on are not this poller's (a reload's new poller
     * records them), and every one before it will never be served. */
    before = now - pr->grid.interval_ns + 1;
    stop = poller_stop_asked(pl);
    if (stop && stop < before)
        before = stop;
    poller_missed_skip(pl, pr, before, false);
    poller_fill(pl, r, ts_us, err, sent);
    /* Taken now, whenever it is pushed: its commit is due
     * commit_interval_ms from here (queue.h). */
    for (size_t i = 0; i < r->nsensors; i++)
        pl->items[i].taken_ns = now;
    if (err)
        pl->failures++;
    pl->readings += r->nsensors;
    if (grid_deadline(&pr->grid) < now) {
        /* its next slot began before this reading: held (see above) */
        if (!pr->held) /* the first time: most requests never need it */
            pr->held = xcalloc(r->nsensors, sizeof(*pr->held));
        memcpy(pr->held, pl->items, r->nsensors * sizeof(*pr->held));
        pr->nheld = r->nsensors;
        pr->held_at = now;
    } else {
        poller_push(pl, pl->items, r->nsensors);
    }
    /* The unit answered: its identity, if due, after its reading. */
    if (sent && (!err || bus_error_is_exception(err)))
        poller_devices_answered(pl, r->unit_id);
}

/* True if host is an IPv4 or IPv6 address: connecting needs no lookup. */
static bool poller_host_numeric(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, addr) == 1 ||
           inet_pton(AF_INET6, host, addr) == 1;
}

int64_t poller_allowance_ms(const struct bus_params *p, int max_count)
{
    int64_t connect = 0, attempt, request;

    if (p->type == BUS_TCP) {
        connect = p->timeout_ms;
        if (!poller_host_numeric(p->host))
            connect += POLLER_RESOLVE_MS;
        attempt = 2 * (int64_t)p->timeout_ms;
    } else if (p->type == BUS_RTU_OVER_TCP) {
        /* connected like TCP; an answer within the timeout and its slack
         * for a slow line (drivers/rtutcp.h), sending and a drain after a
         * bad one within the timeout each */
        connect = p->timeout_ms;
        if (!poller_host_numeric(p->host))
            connect += POLLER_RESOLVE_MS;
        attempt = (int64_t)p->delay_ms + 3 * (int64_t)p->timeout_ms +
                  RTUTCP_ANSWER_SLACK_MS;
    } else {
        int64_t bits = POLLER_RTU_START_BITS + p->data_bits +
                       (p->parity != 'N') + p->stop_bits;
        int64_t bytes = POLLER_RTU_REQUEST_BYTES + POLLER_RTU_RESPONSE_BYTES +
                        2 * (int64_t)max_count;
        int64_t baud = p->baud > 0 ? p->baud : 1;

        attempt = (int64_t)p->delay_ms + p->timeout_ms +
                  (bytes * bits * 1000 + baud - 1) / baud;
    }
    request = 2 * connect + (1 + (int64_t)p->retries) * attempt;
    return POLLER_STALL_FACTOR * request + POLLER_STALL_MARGIN_MS;
}

/* Fixes the allowance for the bus and requests the poller now serves. */
static void poller_set_allowance(struct poller *pl)
{
    int max_count = 0;

    for (size_t i = 0; i < pl->nrequests; i++)
        if (pl->requests[i].req->count > max_count)
            max_count = pl->requests[i].req->count;
    atomic_store(&pl->allowed_ns,
                 poller_allowance_ms(&pl->busconf->params, max_count) *
                     NS_PER_MS);
}

/*
 * Publishes the frontier (poller.h) before a wait for the next slot: every
 * reading this poller has still to push is of a slot not yet served, or
 * held (taken at held_at). A served reading is stamped after its slot
 * began and a missed one with its slot's time, so the earliest such slot's
 * start bounds them all, whatever happens to them later (held, missed,
 * waiting for room in the queue). While the thread serves a slot, the
 * frontier stays at or before that slot's start.
 */
static void poller_set_frontier(struct poller *pl)
{
    int64_t f = INT64_MAX;

    for (size_t i = 0; i < pl->nrequests; i++) {
        const struct poller_request *pr = &pl->requests[i];
        int64_t t = grid_slot_mono(&pr->grid, pr->grid.next);

        if (t < f)
            f = t;
        if (pr->nheld && pr->held_at < f)
            f = pr->held_at;
    }
    atomic_store(&pl->frontier, f);
}

int64_t poller_frontier(struct poller *pl)
{
    return atomic_load(&pl->frontier);
}

/* How late the kernel may wake a poller for its slot: the default 50 us
 * of timer slack would be most of the timing deviation on a quiet bus. */
#define POLLER_TIMER_SLACK_NS 1000

static void *poller_main(void *arg)
{
    struct poller *pl = arg;

    prctl(PR_SET_TIMERSLACK, POLLER_TIMER_SLACK_NS, 0, 0, 0);

    for (;;) {
        struct poller_request *next = &pl->requests[0];
        int64_t now, slot, missed = 0;

        for (size_t i = 1; i < pl->nrequests; i++)
            if (grid_deadline(&pl->requests[i].grid) <
                grid_deadline(&next->grid))
                next = &pl->requests[i];
        atomic_store(&pl->due_by,
                     grid_deadline(&next->grid) + atomic_load(&pl->allowed_ns));
        poller_set_frontier(pl);
        pl->idle_since = time_mono_ns();
        if (!poller_sleep_until(pl, grid_deadline(&next->grid)))
            break;
        pthread_mutex_lock(&pl->use);
        now = time_mono_ns();
        if (poller_stop_asked(pl) != 0) {
            /* Asked to stop since the sleep: slots from the stop on are a
             * reload's new poller's (it records them), not this one's. */
            pthread_mutex_unlock(&pl->use);
            break;
        }
        if (grid_take(&next->grid, now, &slot, &missed) == 0) {
            int64_t qto = next->qwait_to;

            if (missed > 0 || next->nheld) {
                /* Recording them is not using the bus. */
                atomic_store(&pl->due_by, 0);
                poller_missed_release(pl, next, slot - missed, missed, false);
            }
            /* From here on only the waits since this take count. */
            if (next->qwait_to != qto)
                next->qwait_from = now;
            else
                next->qwait_to = 0;
            /* Another request's held reading waits for its slot under
             * way, which cannot be served before this request is done:
             * that slot is missed (the bus is busy), and the reading goes
             * now, so it is held no longer than one request. */
            for (size_t i = 0; i < pl->nrequests; i++)
                if (&pl->requests[i] != next && pl->requests[i].nheld)
                    poller_missed_skip(pl, &pl->requests[i], now, false);
            atomic_store(&pl->due_by,
                         time_mono_ns() + atomic_load(&pl->allowed_ns));
            poller_serve(pl, next, slot);
            poller_missed_report(pl, time_mono_ns(), false);
        }
        pthread_mutex_unlock(&pl->use);
    }
    atomic_store(&pl->due_by, 0);
    /* Slots that came due after the last one recorded and before the stop
     * was asked for went unserved: a reload's restart of this bus records
     * its slots from the stop on (poller_stop_asked()). */
    for (size_t i = 0; i < pl->nrequests; i++)
        poller_missed_skip(pl, &pl->requests[i], poller_stop_asked(pl), true);
    poller_missed_report(pl, time_mono_ns(), true);
    bus_close(pl->bus);
    atomic_store(&pl->frontier, INT64_MAX);
    atomic_store(&pl->finished, true);
    return NULL;
}

/* Frees the bus and the memory of pl, and pl. */
static void poller_free_memory(struct poller *pl)
{
    if (pl->bus)
        bus_free(pl->bus);
    free(pl->items);
    free(pl->missed_items);
    for (size_t i = 0; i < pl->nrequests; i++)
        free(pl->requests[i].held);
    free(pl->requests);
    poller_devices_free(pl);
    free(pl);
}

/*
 * Real-time pollers, when the operator starts the daemon real-time
 * (chrt -f 1 tbdaqd ..., or systemd's CPUSchedulingPolicy=fifo): on a
 * busy machine the grid point's wake-ups otherwise wait for a core behind
 * whatever runs (the broker, the database's commits, other programs), and
 * that wait is the p99 of the timing deviation (tests/bench/README.md:
 * W2 beside collectd). The policy the main thread was started with is
 * taken once, by the first poller_start(), for every poller from then on;
 * the main thread itself goes back to SCHED_OTHER, as the committing and
 * publishing are bulk work that must not hold a core from the broker.
 * A poller sleeps nearly all the time and reads with timeouts, so it
 * cannot starve the machine (and the kernel caps real-time threads at 95%
 * of a core). Threads started before (the signal thread) keep the policy.
 */
static int poller_policy = -1; /* not taken yet */
static struct sched_param poller_param;

static const char *poller_policy_name(int policy)
{
    return policy == SCHED_FIFO ? "SCHED_FIFO"
           : policy == SCHED_RR ? "SCHED_RR"
                                : "SCHED_OTHER";
}

static void poller_take_policy(void)
{
    static const struct sched_param normal = {.sched_priority = 0};
    int rc;

    if (poller_policy >= 0)
        return;
    if (pthread_getschedparam(pthread_self(), &poller_policy, &poller_param) !=
            0 ||
        (poller_policy != SCHED_FIFO && poller_policy != SCHED_RR)) {
        poller_policy = SCHED_OTHER;
        return;
    }
    /* A system call filter may forbid it (the shipped unit's @resources):
     * then the main thread stays real-time with the pollers. */
    if ((rc = pthread_setschedparam(pthread_self(), SCHED_OTHER, &normal)))
        log_warnx("cannot return the main thread to SCHED_OTHER: %s; it "
                  "runs %s as started",
                  strerror(rc), poller_policy_name(poller_policy));
}

/* Starts the poller's thread with the pollers' policy; if that is refused
 * (RestrictRealtime=, a system call filter), as the main thread runs. Says
 * once which it was. */
static int poller_create(struct poller *pl)
{
    static bool said;
    pthread_attr_t attr;
    int rc;

    poller_take_policy();
    if (poller_policy == SCHED_OTHER)
        return pthread_create(&pl->thread, NULL, poller_main, pl);
    pthread_attr_init(&attr);
    pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(&attr, poller_policy);
    pthread_attr_setschedparam(&attr, &poller_param);
    rc = pthread_create(&pl->thread, &attr, poller_main, pl);
    pthread_attr_destroy(&attr);
    if (rc == 0 && !said)
        log_info("pollers run real-time (%s priority %d), as the daemon "
                 "was started; the main thread does not",
                 poller_policy_name(poller_policy),
                 poller_param.sched_priority);
    if (rc == EPERM) {
        log_warnx("pollers cannot run real-time (%s): they run as the main "
                  "thread",
                  strerror(rc));
        poller_policy = SCHED_OTHER; /* not asked again */
        rc = pthread_create(&pl->thread, NULL, poller_main, pl);
    }
    said = true;
    return rc;
}

struct poller *poller_start(const struct config *c, const struct plan *p,
                            size_t bus_index, struct queue *q,
                            int64_t since_mono, const struct device_log *known)
{
    struct poller *pl = xcalloc(1, sizeof(*pl));
    pthread_condattr_t attr;
    int64_t now_mono = time_mono_ns();
    int64_t now_real = time_real_us() * 1000;
    int rc;

    pl->config = c;
    pl->busconf = &c->buses[bus_index];
    pl->queue = q;
    pl->requests = xcalloc(p->nrequests, sizeof(*pl->requests));
    for (size_t i = 0; i < p->nrequests; i++) {
        const struct plan_request *r = &p->requests[i];
        struct poller_request *pr;

        if (r->bus != bus_index)
            continue;
        pr = &pl->requests[pl->nrequests++];
        pr->req = r;
        grid_init(&pr->grid, r->interval_ms * NS_PER_MS, now_mono, now_real);
        /* Slots due between the previous poller's stop and this grid's
         * first slot were served by neither: they come first, as missed. */
        if (since_mono > 0)
            grid_backdate(&pr->grid, since_mono);
        if (r->nsensors > pl->nitems)
            pl->nitems = r->nsensors;
    }
    if (pl->nrequests == 0) {
        errno = EINVAL;
        goto fail;
    }
    pl->items = xcalloc(pl->nitems, sizeof(*pl->items));
    poller_devices_init(pl, known);
    poller_set_allowance(pl);
    poller_set_frontier(pl);
    pl->missed_report_at = now_mono;
    if (!(pl->bus = bus_new(&pl->busconf->params)))
        goto fail;
    pthread_mutex_init(&pl->lock, NULL);
    pthread_mutex_init(&pl->use, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&pl->wake, &attr);
    pthread_condattr_destroy(&attr);
    if ((rc = poller_create(pl)) != 0) {
        pthread_cond_destroy(&pl->wake);
        pthread_mutex_destroy(&pl->lock);
        pthread_mutex_destroy(&pl->use);
        errno = rc;
        goto fail;
    }
    return pl;
fail:
    rc = errno;
    poller_free_memory(pl);
    errno = rc;
    return NULL;
}

void poller_request_stop(struct poller *pl)
{
    pthread_mutex_lock(&pl->lock);
    if (!pl->stopping)
        pl->stop_asked = time_mono_ns();
    pl->stopping = true;
    pthread_cond_signal(&pl->wake);
    pthread_mutex_unlock(&pl->lock);
}

int64_t poller_stop_asked(struct poller *pl)
{
    int64_t t;

    pthread_mutex_lock(&pl->lock);
    t = pl->stop_asked;
    pthread_mutex_unlock(&pl->lock);
    return t;
}

int poller_finished(struct poller *pl)
{
    return atomic_load(&pl->finished);
}

void poller_join(struct poller *pl)
{
    if (pl->joined)
        return;
    poller_request_stop(pl);
    pthread_join(pl->thread, NULL);
    pl->joined = true;
}

void poller_free(struct poller *pl)
{
    if (!pl)
        return;
    /* Its thread would go on using what is freed here. */
    if (!pl->joined)
        abort();
    pthread_cond_destroy(&pl->wake);
    pthread_mutex_destroy(&pl->lock);
    pthread_mutex_destroy(&pl->use);
    poller_free_memory(pl);
}

void poller_stats(struct poller *pl, struct poller_stats *out)
{
    out->polls = pl->polls;
    out->failures = pl->failures;
    out->readings = pl->readings;
    out->missed = pl->missed;
    out->connected = !pl->down;
}

int64_t poller_stalled_ns(struct poller *pl, int64_t now_mono_ns)
{
    int64_t due = atomic_load(&pl->due_by);

    return due && now_mono_ns > due ? now_mono_ns - due : 0;
}

int64_t poller_allowed_ns(struct poller *pl)
{
    return atomic_load(&pl->allowed_ns);
}

const char *poller_bus_name(const struct poller *pl)
{
    return pl->busconf->name;
}

static bool poller_str_equal(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* The same bus, reached the same way. */
static bool poller_bus_equal(const struct bus_conf *a, const struct bus_conf *b)
{
    const struct bus_params *x = &a->params, *y = &b->params;

    return poller_str_equal(a->name, b->name) && a->max_gap == b->max_gap &&
           x->type == y->type && poller_str_equal(x->host, y->host) &&
           x->port == y->port && poller_str_equal(x->device, y->device) &&
           x->baud == y->baud && x->parity == y->parity &&
           x->data_bits == y->data_bits && x->stop_bits == y->stop_bits &&
           x->timeout_ms == y->timeout_ms && x->retries == y->retries &&
           x->delay_ms == y->delay_ms && x->max_registers == y->max_registers &&
           x->max_bits == y->max_bits;
}

/* A sensor read and turned into a reading the same way. */
static bool poller_sensor_equal(const struct sensor_conf *a,
                                const struct sensor_conf *b)
{
    return poller_str_equal(a->id, b->id) && a->db_id == b->db_id &&
           a->unit_id == b->unit_id && a->table == b->table &&
           a->address == b->address && a->type == b->type &&
           a->order == b->order && a->has_bit == b->has_bit &&
           a->bit == b->bit && a->scale == b->scale && a->offset == b->offset &&
           a->range_lo == b->range_lo && a->range_hi == b->range_hi &&
           a->interval_ms == b->interval_ms;
}

/* The requests of plan p on bus index b, in order, into out (at most max);
 * returns how many. */
static size_t poller_requests_of(const struct plan *p, size_t b,
                                 const struct plan_request **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < p->nrequests; i++) {
        if (p->requests[i].bus != b)
            continue;
        if (n < max)
            out[n] = &p->requests[i];
        n++;
    }
    return n;
}

int poller_rebind(struct poller *pl, const struct config *c,
                  const struct plan *p, size_t bus_index)
{
    const struct plan_request **reqs;
    bool same;
    int rc = 0;

    if (!poller_bus_equal(pl->busconf, &c->buses[bus_index]))
        return 0;
    reqs = xcalloc(pl->nrequests, sizeof(*reqs));
    same =
        poller_requests_of(p, bus_index, reqs, pl->nrequests) == pl->nrequests;
    for (size_t i = 0; same && i < pl->nrequests; i++) {
        const struct plan_request *a = pl->requests[i].req, *b = reqs[i];

        same = a->unit_id == b->unit_id && a->table == b->table &&
               a->interval_ms == b->interval_ms && a->address == b->address &&
               a->count == b->count && a->nsensors == b->nsensors;
        for (size_t j = 0; same && j < a->nsensors; j++)
            same = poller_sensor_equal(&pl->config->sensors[a->sensors[j]],
                                       &c->sensors[b->sensors[j]]);
    }
    /* Between two requests the thread reads none of these. It may be
     * inside one now, even waiting for room in the queue: so try, and let
     * the caller drain the queue and come back. */
    if (same && pthread_mutex_trylock(&pl->use) != 0) {
        rc = -1;
    } else if (same) {
        pl->config = c;
        pl->busconf = &c->buses[bus_index];
        for (size_t i = 0; i < pl->nrequests; i++)
            pl->requests[i].req = reqs[i];
        poller_devices_rebind(pl, c, bus_index);
        poller_set_allowance(pl);
        pthread_mutex_unlock(&pl->use);
        rc = 1;
    }
    free(reqs);
    return rc;
}
