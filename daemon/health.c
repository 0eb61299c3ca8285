// SPDX-License-Identifier: MIT
/*
 * The daemon's health for the service manager: see health.h.
 */
#include "daemon/health.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/notify.h"

void health_init(struct health *h, int64_t now)
{
    *h = (struct health){.status_at = now, .watchdog_at = now};
    /* Half the manager's interval, so one late loop is not fatal. */
    h->watchdog_ns = (int64_t)notify_watchdog_usec() * 1000 / 2;
}

int64_t health_due_at(const struct health *h)
{
    return h->watchdog_ns ? h->watchdog_at : INT64_MAX;
}

/* Whether every poller makes progress; says so once per stall. */
static bool health_moving(struct health *h, struct poller *const *pollers,
                          size_t n, int64_t now)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = poller_bus_name(pollers[i]);

        if (poller_stalled_ns(pollers[i], now) <= 0)
            continue;
        if (strcmp(h->stuck_bus, name) != 0) {
            if (h->stuck_bus[0] == '\0')
                log_warnx("bus '%s' is stuck: one request has taken more "
                          "than the %.0f s its settings allow; withholding "
                          "the watchdog so the service manager restarts "
                          "tbdaqd",
                          name,
                          (double)poller_allowed_ns(pollers[i]) / NS_PER_S);
            snprintf(h->stuck_bus, sizeof(h->stuck_bus), "%s", name);
        }
        return false;
    }
    if (h->stuck_bus[0] != '\0') {
        log_info("bus '%s' is moving again; watchdog resumed", h->stuck_bus);
        h->stuck_bus[0] = '\0';
    }
    return true;
}

void health_watchdog(struct health *h, struct poller *const *pollers, size_t n,
                     int64_t now)
{
    if (!health_moving(h, pollers, n, now) || !h->watchdog_ns ||
        now < h->watchdog_at)
        return;
    notify_watchdog();
    h->watchdog_at = now + h->watchdog_ns;
}

void health_count(struct poller *const *pollers, size_t n,
                  struct health_counts *out)
{
    *out = (struct health_counts){0};
    for (size_t i = 0; i < n; i++) {
        struct poller_stats st;

        poller_stats(pollers[i], &st);
        out->failures += st.failures;
        out->missed += st.missed;
        out->down += !st.connected;
    }
}

void health_status(struct health *h, struct poller *const *pollers, size_t n,
                   uint64_t committed, const char *mqtt, int64_t backlog,
                   const char *db_error, int64_t now)
{
    double secs = (double)(now - h->status_at) / NS_PER_S;
    struct health_counts c;

    if (now <= h->status_at)
        return;
    health_count(pollers, n, &c);
    notify_status(
        "%.0f readings/s, %llu recorded, %llu failed polls, "
        "%llu missed slots, %llu buses down, MQTT %s, backlog "
        "%lld%s%s%s%s%s",
        (double)(committed - h->status_committed) / secs,
        (unsigned long long)committed, (unsigned long long)c.failures,
        (unsigned long long)c.missed, (unsigned long long)c.down, mqtt,
        (long long)backlog, db_error ? ", DATABASE NOT WRITABLE: " : "",
        db_error ? db_error : "", h->stuck_bus[0] ? ", STUCK: bus '" : "",
        h->stuck_bus, h->stuck_bus[0] ? "'" : "");
    h->status_committed = committed;
    h->status_at = now;
}
