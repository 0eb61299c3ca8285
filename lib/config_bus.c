// SPDX-License-Identifier: MIT
/*
 * The buses list: each bus checked against its table, then what a table
 * cannot say. A bus's type decides which keys it may have (host and port
 * for tcp, device, baud, parity and bits for rtu) and its defaults; the
 * rates a serial line accepts are the driver's (bus_rtu_bauds()), so the
 * configuration refuses exactly what bus_new() would. Across buses: names
 * are unique and no two serial buses share a device.
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lib/config_private.h"

/* Long enough for "1200, 2400, ..." of every rate bus_rtu_bauds() has. */
#define BAUDS_TEXT_MAX 128

/* Writes the rates an RTU bus accepts: "1200, 2400, ... or 230400". */
static void config_bauds_text(char *buf, size_t size)
{
    size_t n, len = 0;
    const int *rates = bus_rtu_bauds(&n);

    buf[0] = '\0';
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%d", names_sep(i, n),
                                rates[i]);
}

static void config_bus_copy_addr(char dst[BUS_ADDR_MAX], const char *src)
{
    /* The table bounds the length below BUS_ADDR_MAX. */
    snprintf(dst, BUS_ADDR_MAX, "%s", src ? src : "");
}

static void config_bus_read_rtu(struct loader *ld, const struct group *g,
                                struct bus_params *p)
{
    const char *parity = group_str(g, BK_PARITY);

    config_bus_copy_addr(p->device, group_str(g, BK_DEVICE));
    p->baud = (int)group_int(g, BK_BAUD);
    if (group_has(g, BK_BAUD) && !bus_rtu_baud_is_valid(p->baud)) {
        char rates[BAUDS_TEXT_MAX];

        config_bauds_text(rates, sizeof(rates));
        loader_error(ld, g->set[BK_BAUD], "baud %d is not one of %s", p->baud,
                     rates);
    }
    if (strcmp(parity, "none") == 0)
        p->parity = 'N';
    else if (strcmp(parity, "even") == 0)
        p->parity = 'E';
    else if (strcmp(parity, "odd") == 0)
        p->parity = 'O';
    else if (group_has(g, BK_PARITY))
        loader_error(ld, g->set[BK_PARITY],
                     "unknown parity '%s' (use none, even or odd)", parity);
    p->data_bits = (int)group_int(g, BK_DATA_BITS);
    p->stop_bits = (int)group_int(g, BK_STOP_BITS);
}

static void config_bus_read(struct loader *ld, const config_setting_t *self,
                            size_t i)
{
    struct bus_conf *b = &ld->c->buses[i];
    struct bus_params *p = &b->params;
    char label[ENTRY_LABEL_MAX];
    const char *type;
    struct group g;

    b->line = loader_line(self);
    entry_label(label, sizeof(label), self, "bus", "name", i);
    group_read(ld, &g, self, GROUP_BUS, label);
    b->name = entry_name(ld, &g, BK_NAME, "bus name");
    p->retries = (int)group_int(&g, BK_RETRIES);
    p->max_registers = (int)group_int(&g, BK_MAX_REGISTERS);
    b->max_gap = (int)group_int(&g, BK_MAX_GAP);
    if (!group_has(&g, BK_TYPE))
        return;
    type = group_str(&g, BK_TYPE);
    if (strcmp(type, "tcp") == 0) {
        p->type = BUS_TCP;
    } else if (strcmp(type, "rtu") == 0) {
        p->type = BUS_RTU;
    } else {
        loader_error(ld, g.set[BK_TYPE],
                     "unknown bus type '%s' (use tcp or rtu)", type);
        return;
    }
    ld->bus_ok[i] = true;
    /* Keys of the other transport, and the required ones of this one. */
    for (size_t k = 0; k < BK_COUNT; k++) {
        const config_setting_t *given =
            config_setting_get_member(self, g.keys[k].name);
        unsigned mine = p->type == BUS_TCP ? KF_TCP : KF_RTU;
        unsigned other = p->type == BUS_TCP ? KF_RTU : KF_TCP;

        if ((g.keys[k].flags & other) && given)
            loader_error(ld, given, "'%s' is for %s buses, but %s is %s",
                         g.keys[k].name, p->type == BUS_TCP ? "rtu" : "tcp",
                         label, type);
        else if ((g.keys[k].flags & mine) && (g.keys[k].flags & KF_REQUIRED) &&
                 !g.set[k] && !g.bad[k])
            loader_error(ld, self, "missing '%s' in %s", g.keys[k].name, label);
    }
    if (p->type == BUS_TCP) {
        config_bus_copy_addr(p->host, group_str(&g, BK_HOST));
        p->port = (int)group_int(&g, BK_PORT);
    } else {
        config_bus_read_rtu(ld, &g, p);
    }
    p->timeout_ms = group_has(&g, BK_TIMEOUT_MS)
                        ? (int)group_int(&g, BK_TIMEOUT_MS)
                    : p->type == BUS_TCP ? BUS_TCP_TIMEOUT_MS
                                         : BUS_RTU_TIMEOUT_MS;
    p->delay_ms = group_has(&g, BK_DELAY_MS) ? (int)group_int(&g, BK_DELAY_MS)
                  : p->type == BUS_TCP       ? BUS_TCP_DELAY_MS
                                             : BUS_RTU_DELAY_MS;
}

void config_buses_read(struct loader *ld, const config_setting_t *list)
{
    struct config *c = ld->c;
    size_t n = entries_count(ld, list, "buses");

    if (n == 0)
        return;
    c->buses = xcalloc(n, sizeof(*c->buses));
    ld->bus_ok = xcalloc(n, sizeof(*ld->bus_ok));
    c->nbuses = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = entry_group(ld, list, "bus", i);

        if (e)
            config_bus_read(ld, e, i);
    }
    for (size_t i = 0; i < n; i++)
        if (!c->buses[i].name)
            ld->bus_unnamed = true;
    for (size_t i = 0; i < n; i++) {
        const struct bus_conf *b = &c->buses[i];

        for (size_t j = 0; j < i; j++) {
            const struct bus_conf *a = &c->buses[j];

            if (b->name && a->name && strcmp(a->name, b->name) == 0) {
                loader_error(ld, config_setting_get_elem(list, (int)i),
                             "duplicate bus '%s' (first at line %d)", b->name,
                             a->line);
                break;
            }
            if (ld->bus_ok[i] && ld->bus_ok[j] && a->params.type == BUS_RTU &&
                b->params.type == BUS_RTU && a->params.device[0] &&
                strcmp(a->params.device, b->params.device) == 0) {
                loader_error(ld, config_setting_get_elem(list, (int)i),
                             "buses '%s' and '%s' both use device '%s'",
                             a->name ? a->name : "?", b->name ? b->name : "?",
                             a->params.device);
                break;
            }
        }
    }
}
