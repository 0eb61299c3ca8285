// SPDX-License-Identifier: MIT
/*
 * The instruments' identities (SPEC, Configuration `devices`), read by
 * the poller of their bus. A device's identity is due when its bus has
 * (re)connected, at the poller's start, and when its unit answers again
 * after failing (a unit swapped behind a gateway or a device server
 * leaves the connection up); it is read right after the unit's next
 * answer to a sensor's request, so only a unit that answers is asked,
 * and never before a slot's own request: at most two requests (serial,
 * firmware) once per reconnect. A slot that comes due meanwhile is
 * missed as behind any slow request ("bus busy").
 *
 * An identity is compared with the last one known for its bus and unit
 * (at start, the newest `device` event in the database, given to
 * poller_start(); then what this poller records) and pushed as a
 * `device` event only if it is new or changed. A read that fails is
 * logged once and tried again at the next reconnect or recovery; if the
 * read itself broke the connection, the reconnect that follows does not
 * count, or a device that cannot answer it would take the bus down at
 * every slot. Runs on the poller's thread (poller_private.h).
 */
#include "daemon/poller_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

void poller_devices_init(struct poller *pl, const struct device_log *known)
{
    const struct config *c = pl->config;
    size_t b = (size_t)(pl->busconf - c->buses);

    for (size_t i = 0; known && i < known->n; i++)
        if (strcmp(known->v[i].id.bus, pl->busconf->name) == 0)
            device_log_put(&pl->known, known->v[i].ts_us, &known->v[i].id,
                           known->v[i].detail, true);
    for (size_t i = 0; i < c->ndevices; i++)
        if (c->devices[i].bus == b)
            pl->ndevices++;
    if (pl->ndevices == 0)
        return;
    pl->devices = xcalloc(pl->ndevices, sizeof(*pl->devices));
    pl->ndevices = 0;
    for (size_t i = 0; i < c->ndevices; i++)
        if (c->devices[i].bus == b)
            pl->devices[pl->ndevices++] =
                (struct poller_device){.conf = &c->devices[i], .due = true};
}

void poller_devices_connected(struct poller *pl)
{
    if (pl->device_broke_link) {
        pl->device_broke_link = false;
        return;
    }
    for (size_t i = 0; i < pl->ndevices; i++)
        pl->devices[i].due = true;
}

void poller_devices_recovered(struct poller *pl, int unit)
{
    for (size_t i = 0; i < pl->ndevices; i++)
        if (pl->devices[i].conf->unit_id == unit)
            pl->devices[i].due = true;
}

/* Reads one identity field into out (has: whether it is configured).
 * Returns 0, or -1 with errno. */
static int poller_device_field(struct poller *pl, int unit,
                               const struct ascii_regs *r, bool *has, char *out)
{
    uint16_t words[DEVICE_REGS_MAX];

    *has = r->count > 0;
    out[0] = '\0';
    if (!*has)
        return 0;
    if (bus_read(pl->bus, unit, r->table, r->address, r->count, words) < 0)
        return -1;
    device_ascii(words, (size_t)r->count, out);
    return 0;
}

/* Reads d's identity into id. Returns 0, or -1 with errno. */
static int poller_device_read(struct poller *pl, const struct device_conf *d,
                              struct device_ident *id)
{
    memset(id, 0, sizeof(*id));
    snprintf(id->bus, sizeof(id->bus), "%s", pl->busconf->name);
    id->unit = d->unit_id;
    id->has_model = d->model != NULL;
    if (d->model)
        snprintf(id->model, sizeof(id->model), "%s", d->model);
    if (poller_device_field(pl, d->unit_id, &d->serial, &id->has_serial,
                            id->serial) < 0 ||
        poller_device_field(pl, d->unit_id, &d->firmware, &id->has_firmware,
                            id->firmware) < 0)
        return -1;
    return 0;
}

/* Records id unless it is the one known for its unit. */
static void poller_device_record(struct poller *pl,
                                 const struct device_ident *id)
{
    const struct device_entry *was =
        device_log_at(&pl->known, id->bus, id->unit, INT64_MAX);
    char detail[EVENT_DETAIL_MAX];

    if (was && device_ident_equal(&was->id, id)) {
        log_debug("bus '%s' unit %d: identity unchanged", id->bus, id->unit);
        return;
    }
    /* the configuration bounds every part so that it fits */
    if (device_ident_format(id, detail) < 0) {
        log_warnx("bus '%s' unit %d: identity too long to record", id->bus,
                  id->unit);
        return;
    }
    log_info("bus '%s' unit %d: %s identity %s", id->bus, id->unit,
             was ? "changed" : "new", detail);
    poller_push_event(pl, queue_item_event("device", "%s", detail));
    device_log_put(&pl->known, time_real_us(), id, detail, true);
}

void poller_devices_answered(struct poller *pl, int unit)
{
    struct poller_device *d = NULL;
    struct device_ident id;

    for (size_t i = 0; i < pl->ndevices && !d; i++)
        if (pl->devices[i].due && pl->devices[i].conf->unit_id == unit)
            d = &pl->devices[i];
    if (!d)
        return;
    d->due = false;
    /* On the bus again: the stall watch covers it as a request. */
    atomic_store(&pl->due_by, time_mono_ns() + atomic_load(&pl->allowed_ns));
    if (poller_device_read(pl, d->conf, &id) < 0) {
        int err = errno ? errno : EIO;

        atomic_store(&pl->due_by, 0);
        if (!bus_is_connected(pl->bus))
            pl->device_broke_link = true;
        if (!d->failing)
            log_warnx("bus '%s' unit %d: cannot read its identity: %s "
                      "(tried again after a reconnect or a recovery; not "
                      "logged again until it works)",
                      pl->busconf->name, unit, bus_strerror(err));
        d->failing = true;
        return;
    }
    atomic_store(&pl->due_by, 0);
    if (d->failing)
        log_info("bus '%s' unit %d: identity read again", pl->busconf->name,
                 unit);
    d->failing = false;
    poller_device_record(pl, &id);
}

/* The same device, configured the same way (model and registers). */
static bool poller_device_conf_equal(const struct device_conf *a,
                                     const struct device_conf *b)
{
    const struct ascii_regs *r[] = {&a->serial, &b->serial, &a->firmware,
                                    &b->firmware};

    for (size_t i = 0; i < 4; i += 2)
        if (r[i]->count != r[i + 1]->count ||
            (r[i]->count && (r[i]->table != r[i + 1]->table ||
                             r[i]->address != r[i + 1]->address)))
            return false;
    return a->unit_id == b->unit_id && !a->model == !b->model &&
           (!a->model || strcmp(a->model, b->model) == 0);
}

void poller_devices_rebind(struct poller *pl, const struct config *c,
                           size_t bus_index)
{
    struct poller_device *old = pl->devices;
    size_t nold = pl->ndevices, n = 0;

    for (size_t i = 0; i < c->ndevices; i++)
        n += c->devices[i].bus == bus_index;
    pl->devices = n ? xcalloc(n, sizeof(*pl->devices)) : NULL;
    pl->ndevices = 0;
    for (size_t i = 0; i < c->ndevices; i++) {
        struct poller_device nd = {.conf = &c->devices[i], .due = true};

        if (c->devices[i].bus != bus_index)
            continue;
        /* a device as it was keeps its state; a new or changed one is
         * read at its unit's next answer */
        for (size_t j = 0; j < nold; j++)
            if (poller_device_conf_equal(old[j].conf, nd.conf)) {
                nd.due = old[j].due;
                nd.failing = old[j].failing;
            }
        pl->devices[pl->ndevices++] = nd;
    }
    free(old);
}

void poller_devices_free(struct poller *pl)
{
    free(pl->devices);
    pl->devices = NULL;
    pl->ndevices = 0;
    device_log_release(&pl->known);
}
