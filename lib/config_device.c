// SPDX-License-Identifier: MIT
/*
 * The devices list (SPEC, Configuration `devices`): the instruments whose
 * identity the daemon reads and records. Each device is checked against
 * its table, then for what a table cannot say: a bus that exists and a
 * unit id it can address (as a sensor's), something to record (a model,
 * a serial or a firmware), a model that goes into the event's JSON
 * without an escape, identity registers on a register table, inside the
 * register space and within one request of the bus, and a `device` event
 * that always fits its detail (device_detail_max()). Across devices: one
 * per bus and unit. A device of a unit no sensor reads is warned about:
 * its identity is read when the unit answers a sensor's request, so it
 * would never be.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"
#include "lib/device.h"

/* "device on bus 'plant-a' unit 3" if the group names a usable bus (the
 * unit as written, 1 if absent), else "device 2" (i counts from 0). */
static void config_device_label(char *buf, size_t size,
                                const config_setting_t *self, size_t i)
{
    const config_setting_t *b = config_setting_get_member(self, "bus");
    const config_setting_t *u = config_setting_get_member(self, "unit_id");
    const char *bus = b && config_setting_type(b) == CONFIG_TYPE_STRING
                          ? config_setting_get_string(b)
                          : NULL;
    long long unit = 1;

    if (u && (config_setting_type(u) == CONFIG_TYPE_INT ||
              config_setting_type(u) == CONFIG_TYPE_INT64))
        unit = config_setting_get_int64(u);
    if (bus && text_is_name(bus, CONFIG_NAME_MAX))
        snprintf(buf, size, "device on bus '%s' unit %lld", bus, unit);
    else
        snprintf(buf, size, "device %zu", i + 1);
}

/* The bus and unit of a device; returns true if both are usable. */
static bool config_device_read_unit(struct loader *ld, const struct group *g,
                                    struct device_conf *d, const char *label)
{
    struct config *c = ld->c;
    enum bus_type type;

    d->unit_id = (int)group_int(g, DK_UNIT_ID);
    if (!group_has(g, DK_BUS))
        return false;
    d->bus = config_find_bus(c, group_str(g, DK_BUS));
    if (d->bus == SIZE_MAX) {
        /* as for a sensor: with no buses, or one without a name, the
         * cause was reported already */
        if (c->nbuses > 0 && !ld->bus_unnamed)
            loader_error(ld, g->set[DK_BUS], "unknown bus '%s'",
                         group_str(g, DK_BUS));
        return false;
    }
    if (!ld->bus_ok[d->bus] || !group_ok(g, DK_UNIT_ID))
        return false;
    type = c->buses[d->bus].params.type;
    if (type != BUS_TCP && d->unit_id == 0) {
        loader_error(ld, group_at(g, DK_UNIT_ID),
                     "unit_id 0 in %s is broadcast on %s bus '%s' (use "
                     "1..%d)",
                     label, type == BUS_RTU ? "rtu" : "rtu-over-tcp",
                     c->buses[d->bus].name, CONFIG_UNIT_ID_MAX);
        return false;
    }
    return true;
}

/*
 * The registers of an identity field (field: "serial" or "firmware")
 * into r; bus is the device's, or NULL if it is not known. Returns true
 * if they are usable (absent ones count 0).
 */
static bool config_ascii_read(struct loader *ld, const config_setting_t *self,
                              struct ascii_regs *r, const char *field,
                              const char *label, const struct bus_conf *bus)
{
    char in[GROUP_LABEL_MAX];
    const char *table;
    struct group g;
    bool ok;

    snprintf(in, sizeof(in), "%s of %s", field, label);
    group_read(ld, &g, self, GROUP_ASCII, in);
    r->address = (int)group_int(&g, AK_ADDRESS);
    r->count = (int)group_int(&g, AK_COUNT_REGS);
    ok = group_has(&g, AK_ADDRESS) && group_has(&g, AK_COUNT_REGS) &&
         group_ok(&g, AK_TABLE);
    table = group_str(&g, AK_TABLE);
    if (group_ok(&g, AK_TABLE) &&
        (reg_table_parse(table, &r->table) < 0 || reg_table_bits(r->table))) {
        loader_error(ld, group_at(&g, AK_TABLE),
                     "table '%s'%s must be holding or input: an identity is "
                     "read from ASCII registers",
                     table, g.in);
        ok = false;
    }
    if (ok && r->address + r->count - 1 > CONFIG_ADDRESS_MAX) {
        loader_error(ld, g.set[AK_ADDRESS],
                     "%s at address %d with %d registers runs past register "
                     "%d",
                     in, r->address, r->count, CONFIG_ADDRESS_MAX);
        ok = false;
    }
    if (ok && bus && r->count > bus->params.max_registers) {
        loader_error(ld, g.set[AK_COUNT_REGS],
                     "'count' %d%s is more than bus '%s' reads at once "
                     "(max_registers %d)",
                     r->count, g.in, bus->name, bus->params.max_registers);
        ok = false;
    }
    if (!ok)
        r->count = 0;
    return ok;
}

/* The model: text the event's JSON holds without an escape. */
static bool config_device_read_model(struct loader *ld, const struct group *g,
                                     struct device_conf *d, const char *label)
{
    if (!group_has(g, DK_MODEL))
        return group_ok(g, DK_MODEL);
    d->model = group_strdup(g, DK_MODEL);
    if (text_is_clean(d->model, SIZE_MAX) && !strpbrk(d->model, "\"\\"))
        return true;
    loader_error(ld, g->set[DK_MODEL],
                 "model in %s must be UTF-8 without control characters, "
                 "'\"' or '\\'",
                 label);
    return false;
}

/* The device event must fit: its detail holds the bus name, the unit,
 * the model and up to DEVICE_REG_TEXT bytes per register read. */
static void config_device_check_size(struct loader *ld, const struct group *g,
                                     const struct device_conf *d,
                                     const char *label)
{
    size_t need =
        device_detail_max(strlen(ld->c->buses[d->bus].name), d->unit_id,
                          d->model ? (int)strlen(d->model) : -1,
                          d->serial.count, d->firmware.count);

    if (need < EVENT_DETAIL_MAX)
        return;
    loader_error(ld, g->self,
                 "%s: its device event could take %zu bytes, more than %d "
                 "(each register read may take %d): shorten 'model' or read "
                 "fewer registers",
                 label, need, EVENT_DETAIL_MAX - 1, DEVICE_REG_TEXT);
}

/* Reads device i; returns true if its bus and unit are usable. */
static bool config_device_read(struct loader *ld, const config_setting_t *self,
                               size_t i)
{
    struct device_conf *d = &ld->c->devices[i];
    const struct bus_conf *bus = NULL;
    char label[GROUP_LABEL_MAX];
    struct group g;
    bool unit_ok, ok;

    d->line = loader_line(self);
    d->bus = SIZE_MAX;
    config_device_label(label, sizeof(label), self, i);
    group_read(ld, &g, self, GROUP_DEVICE, label);
    unit_ok = config_device_read_unit(ld, &g, d, label);
    if (unit_ok)
        bus = &ld->c->buses[d->bus];
    ok = config_device_read_model(ld, &g, d, label);
    if (group_has(&g, DK_SERIAL))
        ok &= config_ascii_read(ld, g.set[DK_SERIAL], &d->serial, "serial",
                                label, bus);
    if (group_has(&g, DK_FIRMWARE))
        ok &= config_ascii_read(ld, g.set[DK_FIRMWARE], &d->firmware,
                                "firmware", label, bus);
    ok = ok && !g.bad[DK_SERIAL] && !g.bad[DK_FIRMWARE];
    if (ok && !d->model && !group_has(&g, DK_SERIAL) &&
        !group_has(&g, DK_FIRMWARE)) {
        loader_error(ld, self,
                     "%s names nothing to record: give 'model', 'serial' or "
                     "'firmware'",
                     label);
        ok = false;
    }
    if (ok && unit_ok)
        config_device_check_size(ld, &g, d, label);
    return unit_ok;
}

/* Whether a sensor reads unit of bus b: the unit's answers to it are
 * when its identity is read. */
static bool config_unit_has_sensor(const struct config *c, size_t b, int unit)
{
    for (size_t i = 0; i < c->nsensors; i++)
        if (c->sensors[i].bus == b && c->sensors[i].unit_id == unit)
            return true;
    return false;
}

void config_devices_read(struct loader *ld, const config_setting_t *list)
{
    struct config *c = ld->c;
    size_t n = (size_t)config_setting_length(list);
    bool *usable;

    /* optional, so an empty list is no mistake: no device named */
    if (n == 0)
        return;
    c->devices = xcalloc(n, sizeof(*c->devices));
    c->ndevices = n;
    usable = xcalloc(n, sizeof(*usable));
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = entry_group(ld, list, "device", i);

        c->devices[i].bus = SIZE_MAX;
        if (e)
            usable[i] = config_device_read(ld, e, i);
    }
    for (size_t i = 0; i < n; i++) {
        const struct device_conf *d = &c->devices[i];
        const config_setting_t *e = config_setting_get_elem(list, (int)i);
        size_t j;

        if (!usable[i])
            continue;
        for (j = 0; j < i; j++)
            if (usable[j] && c->devices[j].bus == d->bus &&
                c->devices[j].unit_id == d->unit_id)
                break;
        if (j < i)
            loader_error(ld, e,
                         "duplicate device on bus '%s' unit %d (first at "
                         "line %d)",
                         c->buses[d->bus].name, d->unit_id, c->devices[j].line);
        else if (!config_unit_has_sensor(c, d->bus, d->unit_id))
            loader_warning(ld, e,
                           "device on bus '%s' unit %d: no sensor reads that "
                           "unit, so its identity is never read",
                           c->buses[d->bus].name, d->unit_id);
    }
    free(usable);
}
