// SPDX-License-Identifier: MIT
/*
 * Missed slots. Every slot of every request ends as exactly one reading
 * per sensor; a slot that passed with no request becomes a `missed`
 * reading, stamped with the slot's own wall-clock time and an error
 * saying why (poller.h: POLLER_WHY_*), and is counted for a `missed`
 * event, summed per request and pushed at most once per
 * POLLER_MISSED_REPORT_MS.
 *
 * Per sensor, readings go into the queue in the order of their times: the
 * slots that passed while a request ran are recorded before its reading,
 * and a reading that came after its request's next slot began is held
 * back (struct poller_request: held) until that slot is served (then it
 * goes first) or missed (then the missed one does). The reason a slot
 * was missed is judged from the poller's waits for room in the queue
 * (the daemon's doing) noted by poller_push(), the stop, and a reload.
 */
#include "daemon/poller_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

void poller_missed_note_wait(struct poller *pl, int64_t t0, int64_t t1)
{
    for (size_t i = 0; i < pl->nrequests; i++) {
        struct poller_request *pr = &pl->requests[i];

        if (!pr->qwait_to)
            pr->qwait_from = t0;
        pr->qwait_to = t1;
    }
}

/* Why slot k of pr passed with no request, for its missed reading, given
 * the queue-wait span [qfrom, qto] (none if qto is 0). */
static const char *poller_missed_why(const struct poller *pl,
                                     const struct poller_request *pr, int64_t k,
                                     int64_t qfrom, int64_t qto, bool stopping)
{
    int64_t start = grid_slot_mono(&pr->grid, k);

    if (k < 0)
        return POLLER_WHY_RELOAD;
    if (qto && start < qto && start + pr->grid.interval_ns > qfrom)
        return POLLER_WHY_QUEUE;
    if (stopping && start >= pl->idle_since)
        return POLLER_WHY_STOP;
    return POLLER_WHY_BUS;
}

/*
 * Records slots first .. first + n - 1 of pr as missed: one reading per
 * sensor and slot, in slot order, pushed POLLER_MISSED_CHUNK items at a
 * time (however long the gap, nothing larger is allocated; the queue's
 * back-pressure paces the rest). Counts them for the `missed` event. The
 * reasons are judged by the queue waits seen before the first push.
 */
static void poller_missed_record(struct poller *pl, struct poller_request *pr,
                                 int64_t first, int64_t n, bool stopping)
{
    const struct plan_request *r = pr->req;
    int64_t qfrom = pr->qwait_from, qto = pr->qwait_to;
    int64_t real_minus_mono;
    size_t fill = 0;

    if (n <= 0)
        return;
    if (!pl->missed_items)
        pl->missed_items =
            xcalloc(POLLER_MISSED_CHUNK, sizeof(*pl->missed_items));
    /* The wall clock as it reads now: after a step, missed readings are
     * stamped in the same time as the readings around them. */
    real_minus_mono = time_real_us() * 1000 - time_mono_ns();
    pr->missed_pending += n;
    pl->missed += (uint64_t)n;
    for (int64_t k = first; k < first + n; k++) {
        const char *why = poller_missed_why(pl, pr, k, qfrom, qto, stopping);
        int64_t ts_us = grid_slot_real_us(&pr->grid, k, real_minus_mono);

        for (size_t i = 0; i < r->nsensors; i++) {
            struct queue_item *it = &pl->missed_items[fill++];
            struct reading *rd = &it->u.reading;

            it->type = QUEUE_READING;
            memset(rd, 0, sizeof(*rd));
            rd->sensor_id = pl->config->sensors[r->sensors[i]].db_id;
            rd->ts_us = ts_us;
            rd->quality = QUALITY_MISSED;
            snprintf(rd->error, sizeof(rd->error), "%s", why);
            if (fill == POLLER_MISSED_CHUNK) {
                if (!poller_push(pl, pl->missed_items, fill))
                    return; /* closed: nobody takes the rest */
                fill = 0;
            }
        }
    }
    if (fill)
        poller_push(pl, pl->missed_items, fill);
}

void poller_missed_release(struct poller *pl, struct poller_request *pr,
                           int64_t first, int64_t n, bool stopping)
{
    int64_t before = 0;

    if (pr->nheld == 0) {
        poller_missed_record(pl, pr, first, n, stopping);
        return;
    }
    while (before < n &&
           grid_slot_mono(&pr->grid, first + before) < pr->held_at)
        before++;
    poller_missed_record(pl, pr, first, before, stopping);
    poller_push(pl, pr->held, pr->nheld);
    pr->nheld = 0;
    poller_missed_record(pl, pr, first + before, n - before, stopping);
}

void poller_missed_skip(struct poller *pl, struct poller_request *pr,
                        int64_t before_ns, bool stopping)
{
    int64_t first, n = grid_skip(&pr->grid, before_ns, &first);

    poller_missed_release(pl, pr, first, n, stopping);
}

void poller_missed_report(struct poller *pl, int64_t now, bool force)
{
    if (!force && now < pl->missed_report_at)
        return;
    pl->missed_report_at = now + POLLER_MISSED_REPORT_MS * NS_PER_MS;
    for (size_t i = 0; i < pl->nrequests; i++) {
        struct poller_request *pr = &pl->requests[i];
        const struct plan_request *r = pr->req;
        /* Room for the names, leaving the rest of the detail for the
         * count and the bus, which must never be cut off. */
        char names[EVENT_DETAIL_MAX - 96];
        size_t len = 0, j;

        if (pr->missed_pending == 0)
            continue;
        names[0] = '\0';
        for (j = 0; j < r->nsensors; j++) {
            const char *id = pl->config->sensors[r->sensors[j]].id;

            /* keep room for " and 99999 more" */
            if (len + strlen(id) + 1 + 16 >= sizeof(names))
                break;
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s",
                                    j ? "," : "", id);
        }
        if (j < r->nsensors)
            snprintf(names + len, sizeof(names) - len, " and %zu more",
                     r->nsensors - j);
        log_warnx("bus '%s' unit %d: %lld slots of %d ms missed (%s)",
                  pl->busconf->name, r->unit_id, (long long)pr->missed_pending,
                  r->interval_ms, names);
        poller_push_event(
            pl, queue_item_event("missed",
                                 "%s: %lld slots missed on bus '%s' unit %d",
                                 names, (long long)pr->missed_pending,
                                 pl->busconf->name, r->unit_id));
        pr->missed_pending = 0;
    }
}
