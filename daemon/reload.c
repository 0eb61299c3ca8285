// SPDX-License-Identifier: MIT
/*
 * Reload (SIGHUP): the configuration file read again, and applied only if
 * it is valid and its sensors could be recorded; otherwise the running
 * one stays, and the failure is logged and recorded (reload_failed). A
 * new configuration is built beside the old: buses whose settings and
 * requests are unchanged keep their pollers, and their grids, with no
 * gap; the others stop after their request in progress and start again
 * on the new plan; MQTT reconnects only if its settings changed. A stop
 * asked for meanwhile ends every wait. See daemon.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"

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
        daemon_turn(d);
    }
    return 0;
}

/*
 * Stops the pollers the new plan np of nc cannot keep and returns the
 * kept ones by bus of nc (the caller frees the array); since[bus]: when
 * a changed bus's old poller was asked to stop. d->pollers is emptied.
 */
static struct poller **daemon_rebind(struct daemon *d, struct config *nc,
                                     struct plan *np, int64_t *since,
                                     size_t *nkept)
{
    struct poller **kept = xcalloc(nc->nbuses, sizeof(*kept));
    struct poller **gone = xcalloc(d->npollers, sizeof(*gone));
    size_t ngone = 0;

    /* Buses whose settings and requests are unchanged keep their pollers
     * (and grids): no gap. The others stop; new ones start after. */
    for (size_t i = 0; i < d->npollers; i++) {
        size_t b = config_find_bus(nc, poller_bus_name(d->pollers[i]));
        int rc = 0;

        /* A stop asked for meanwhile ends the wait: the bus is then
         * stopped like a changed one, within the stop's budget. */
        if (b != SIZE_MAX && daemon_plan_uses_bus(np, b))
            while ((rc = poller_rebind(d->pollers[i], nc, np, b)) < 0 &&
                   !daemon_stopping(d))
                daemon_turn(d);
        if (rc == 1)
            kept[b] = d->pollers[i];
        else
            gone[ngone++] = d->pollers[i];
    }
    /* A bus that goes on under new settings restarts: its old poller
     * counts the slots it missed before the stop, the new one those from
     * the stop to its first. */
    for (size_t i = 0; i < ngone; i++) {
        size_t b = config_find_bus(nc, poller_bus_name(gone[i]));

        poller_request_stop(gone[i]);
        if (b != SIZE_MAX)
            since[b] = poller_stop_asked(gone[i]);
    }
    daemon_stop_list(d, gone, ngone, 0);
    *nkept = d->npollers - ngone;
    free(gone);
    free(d->pollers);
    d->pollers = NULL;
    d->npollers = 0;
    return kept;
}

/* The reload has failed: say so in the log and in the record. */
static void daemon_reload_failed(struct daemon *d, const char *why)
{
    log_err("configuration not applied: %s", why);
    recorder_event(&d->rec, queue_item_event("reload_failed", "%s: %s",
                                             d->config_path, why));
}

void daemon_reload(struct daemon *d)
{
    struct config *nc;
    struct plan np;
    struct poller **kept;
    int64_t *since;
    size_t nkept;

    notify_reloading();
    log_info("reloading %s", d->config_path);
    if (!(nc = config_load_logged(d->config_path))) {
        log_err("configuration rejected; the running one stays in force");
        recorder_event(&d->rec, queue_item_event("reload_failed",
                                                 "%s: invalid configuration",
                                                 d->config_path));
        goto done;
    }
    config_warnings_log(nc);
    if (strcmp(nc->database, d->config->database) != 0)
        log_warnx("a new 'database' takes effect only at restart");
    if (daemon_sync_sensors(d, nc) < 0) {
        daemon_reload_failed(d, store_errmsg(d->store));
        config_free(nc);
        goto done;
    }
    plan_build(nc, &np);
    since = xcalloc(nc->nbuses, sizeof(*since));
    kept = daemon_rebind(d, nc, &np, since, &nkept);
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
    /* The outputs whose settings changed say goodbye under the old
     * configuration, which they still point into. */
    outputs_stop_changed(&d->outputs, d->config, nc, d->rec.last_seq,
                         recorder_down(&d->rec), DAEMON_STOP_PUBLISH_MS,
                         DAEMON_STOP_OFFLINE_MS, daemon_publish_turn, d);
    config_free(d->config);
    d->config = nc;
    d->plan = np;
    recorder_configure(&d->rec, nc);
    outputs_index(&d->outputs, nc);
    outputs_reconfigure(&d->outputs, nc, d->rec.last_seq);
    log_set_level(d->verbose ? LOG_LEVEL_DEBUG : nc->log_level);
    recorder_event(&d->rec, queue_item_event("config", "%s", nc->sha256));
    if (daemon_pollers_from(d, kept, since) < 0)
        daemon_fail(d);
    free(kept);
    free(since);
    log_info("configuration reloaded: %zu sensors in %zu requests; %zu of "
             "%zu buses kept polling without a pause",
             nc->nsensors, d->plan.nrequests, nkept, d->npollers);
done:
    notify_ready();
}
