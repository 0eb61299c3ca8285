// SPDX-License-Identifier: MIT
/*
 * The recorder (recorder.h): the batch, its commits, and the outage
 * book-keeping of a database that cannot be written.
 */
#include "daemon/recorder.h"

#include <stdio.h>

#include "common/log.h"
#include "common/util.h"

void recorder_init(struct recorder *rc, struct store *s, const struct config *c,
                   recorder_live_fn *live, void *arg)
{
    *rc = (struct recorder){
        .store = s, .live = live, .live_arg = arg, .mono_ns = time_mono_ns};
    batch_init(&rc->batch, c->commit_interval_ms);
    rc->buffer_readings = c->buffer_readings;
}

void recorder_configure(struct recorder *rc, const struct config *c)
{
    batch_set_interval(&rc->batch, c->commit_interval_ms);
    rc->buffer_readings = c->buffer_readings;
}

void recorder_release(struct recorder *rc)
{
    batch_release(&rc->batch);
}

static void recorder_live(struct recorder *rc, const struct reading *r)
{
    if (rc->live)
        rc->live(rc->live_arg, r);
}

void recorder_take(struct recorder *rc, const struct queue_item *it)
{
    struct batch *b = &rc->batch;

    if (it->type == QUEUE_READING) {
        const struct reading *r = &it->u.reading;

        if (rc->down)
            recorder_live(rc, r);
        /* Only during an outage: otherwise the batch is bounded by the
         * commit cadence, whatever buffer_readings says. */
        if (rc->down && batch_readings(b) >= (size_t)rc->buffer_readings) {
            if (rc->lost++ == 0) {
                rc->lost_first_us = r->ts_us;
                log_err("%d readings wait for the database, as many as "
                        "buffer_readings allows: newer readings are "
                        "published live but not recorded",
                        rc->buffer_readings);
            }
            rc->lost_last_us = r->ts_us;
            return;
        }
        batch_add_reading(b, r, it->taken_ns);
    } else {
        if (rc->down && b->nevents >= RECORDER_EVENTS_MAX) {
            rc->lost_events++;
            return;
        }
        batch_add_event(b, &it->u.event, it->taken_ns);
    }
}

void recorder_event(struct recorder *rc, struct queue_item it)
{
    if (it.taken_ns == 0)
        it.taken_ns = rc->mono_ns();
    recorder_take(rc, &it);
}

static int recorder_retry_ms(const struct recorder *rc)
{
    return store_busy(rc->store) ? RECORDER_BUSY_RETRY_MS : RECORDER_RETRY_MS;
}

/* An outage begins: say so once, record it when possible, and hand what
 * waits to the live feed. */
static void recorder_down_now(struct recorder *rc, int64_t now)
{
    struct batch *b = &rc->batch;

    rc->down_us = time_real_us() - (now - rc->failing_since) / NS_PER_MS * 1000;
    snprintf(rc->error, sizeof(rc->error), "%s", store_errmsg(rc->store));
    log_err("cannot write the database: %s; up to %d readings wait in "
            "memory (published live meanwhile), committing is tried again "
            "every %d ms",
            rc->error, rc->buffer_readings, recorder_retry_ms(rc));
    /* Taken before the outage is under way, so that the event cap (which
     * only applies during one) never drops the outage's own record, however
     * many events waited when it began. */
    recorder_event(rc, queue_item_event("db_down", "%s", rc->error));
    rc->down = true;
    for (size_t i = b->head; i < b->nreadings; i++)
        recorder_live(rc, &b->readings[i]);
}

/* The first commit that works after an outage: say what was held and
 * what was lost, in the log and in the events. */
static void recorder_up(struct recorder *rc, size_t waiting)
{
    double secs = (double)(time_real_us() - rc->down_us) / 1e6;
    char lost[128] = "none lost";

    if (rc->lost > 0) {
        char from[TIME_ISO_LEN], to[TIME_ISO_LEN];

        time_format_iso(rc->lost_first_us, from);
        time_format_iso(rc->lost_last_us, to);
        snprintf(lost, sizeof(lost), "%llu lost (taken %s to %s)",
                 (unsigned long long)rc->lost, from, to);
    }
    log_info("the database is writable again after %.1f s and %llu failed "
             "attempts: %zu readings that waited are being recorded, %s",
             secs, (unsigned long long)rc->failures, waiting, lost);
    if (rc->lost_events > 0)
        log_err("%llu events were lost while the database could not be "
                "written",
                (unsigned long long)rc->lost_events);
    recorder_event(rc, queue_item_event("db_up",
                                        "after %.1f s: %zu readings recorded "
                                        "late, %s, %llu events lost",
                                        secs, waiting, lost,
                                        (unsigned long long)rc->lost_events));
    rc->down = false;
    rc->lost = 0;
    rc->lost_events = 0;
}

int recorder_commit(struct recorder *rc)
{
    struct batch *b = &rc->batch;
    size_t n, events, waiting = batch_readings(b);
    struct reading *r;
    int64_t start;
    bool failed;

    if (batch_pending(b) == 0)
        return 0;
    r = batch_next(b, &n);
    start = rc->mono_ns();
    failed = store_commit_batch(rc->store, r, n, b->events, b->nevents) < 0;
    rc->took_ns = rc->mono_ns() - start;
    if (failed) {
        int64_t now = rc->mono_ns();

        if (rc->failures++ == 0)
            rc->failing_since = now;
        if (!rc->down &&
            (!store_busy(rc->store) ||
             now - rc->failing_since >= RECORDER_BUSY_GRACE_MS * NS_PER_MS))
            recorder_down_now(rc, now);
        rc->retry_at = now + recorder_retry_ms(rc) * NS_PER_MS;
        return -1;
    }
    rc->committed += n;
    if (n > 0) {
        rc->last_seq = r[n - 1].seq;
        rc->last_ts_us = r[n - 1].ts_us;
    }
    events = b->nevents;
    batch_done(b, n);
    log_debug("committed %zu readings, %zu events; %zu readings wait", n,
              events, batch_readings(b));
    if (rc->failures > 0) {
        if (rc->down)
            recorder_up(rc, waiting);
        rc->failures = 0;
    }
    return 0;
}

int64_t recorder_commit_ns(const struct recorder *rc)
{
    return rc->took_ns;
}

int64_t recorder_due_at(const struct recorder *rc)
{
    if (batch_pending(&rc->batch) == 0)
        return INT64_MAX;
    return rc->failures ? rc->retry_at : batch_due_at(&rc->batch);
}

bool recorder_full(const struct recorder *rc)
{
    size_t hold = (size_t)rc->buffer_readings;

    return rc->failures == 0 &&
           batch_readings(&rc->batch) >= (hold > BATCH_MAX ? hold : BATCH_MAX);
}

size_t recorder_pending(const struct recorder *rc)
{
    return batch_pending(&rc->batch);
}

size_t recorder_waiting(const struct recorder *rc)
{
    return batch_readings(&rc->batch);
}

bool recorder_down(const struct recorder *rc)
{
    return rc->down;
}

const char *recorder_error(const struct recorder *rc)
{
    return rc->error;
}
