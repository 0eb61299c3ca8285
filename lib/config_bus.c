// SPDX-License-Identifier: MIT
/*
 * The buses list: each bus checked against its table, then what a table
 * cannot say. A bus's type decides which keys it may have (host and port
 * for tcp and rtu-over-tcp, device, baud, parity and bits for rtu) and its
 * defaults; the rates a serial line accepts are the driver's
 * (bus_rtu_bauds()), so the configuration refuses exactly what bus_new()
 * would. Across buses: names are unique, and no two buses share a serial
 * line (a device, or a device server's host and port).
 */
#include <stdio.h>
#include <string.h>

#include "common/util.h"
#include "lib/config_private.h"

/* Long enough for "1200, 2400, ..." of every rate bus_rtu_bauds() has. */
#define BAUDS_TEXT_MAX 128
/* "device server '<host>' port 65535", or "device '<path>'". */
#define CONFIG_BUS_LINE_MAX (BUS_ADDR_MAX + 40)

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

/* The bus types, by name, with what sets them apart. */
static const struct {
    const char *name;
    enum bus_type type;
    unsigned keys; /* KF_TCP or KF_RTU: which transport's keys it has */
    int timeout_ms, delay_ms;
} config_bus_types[] = {
    {"tcp", BUS_TCP, KF_TCP, BUS_TCP_TIMEOUT_MS, BUS_TCP_DELAY_MS},
    {"rtu", BUS_RTU, KF_RTU, BUS_RTU_TIMEOUT_MS, BUS_RTU_DELAY_MS},
    /* A serial line behind a network: the network's timeout, the line's
     * quiet time. */
    {"rtu-over-tcp", BUS_RTU_OVER_TCP, KF_TCP, BUS_TCP_TIMEOUT_MS,
     BUS_RTU_DELAY_MS},
};

#define CONFIG_BUS_NTYPES                                                      \
    (sizeof(config_bus_types) / sizeof(config_bus_types[0]))

/* Index of the type named name in config_bus_types, or CONFIG_BUS_NTYPES. */
static size_t config_bus_type_find(const char *name)
{
    size_t i = 0;

    while (i < CONFIG_BUS_NTYPES && strcmp(config_bus_types[i].name, name) != 0)
        i++;
    return i;
}

/* Keys of the other transport, and the required ones of this one. */
static void config_bus_check_keys(struct loader *ld, const struct group *g,
                                  const config_setting_t *self,
                                  const char *label, size_t t)
{
    unsigned mine = config_bus_types[t].keys;
    unsigned other = mine == KF_TCP ? KF_RTU : KF_TCP;

    for (size_t k = 0; k < BK_COUNT; k++) {
        const config_setting_t *given =
            config_setting_get_member(self, g->keys[k].name);

        if ((g->keys[k].flags & other) && given)
            loader_error(ld, given, "'%s' is for %s buses, but %s is %s%s",
                         g->keys[k].name,
                         other == KF_TCP ? "tcp and rtu-over-tcp" : "rtu",
                         label, config_bus_types[t].name,
                         config_bus_types[t].type == BUS_RTU_OVER_TCP
                             ? " (the serial line is set up on the device "
                               "server)"
                             : "");
        else if ((g->keys[k].flags & mine) &&
                 (g->keys[k].flags & KF_REQUIRED) && !g->set[k] && !g->bad[k])
            loader_error(ld, self, "missing '%s' in %s", g->keys[k].name,
                         label);
    }
    /* Modbus TCP has its port; a device server's is its own choice. */
    if (config_bus_types[t].type == BUS_RTU_OVER_TCP && !g->set[BK_PORT] &&
        !g->bad[BK_PORT])
        loader_error(ld, self,
                     "missing 'port' in %s (the device server's port for the "
                     "serial line, often 4001; 502 is Modbus TCP's)",
                     label);
}

static void config_bus_read(struct loader *ld, const config_setting_t *self,
                            size_t i)
{
    struct bus_conf *b = &ld->c->buses[i];
    struct bus_params *p = &b->params;
    char label[ENTRY_LABEL_MAX];
    struct group g;
    size_t t;

    b->line = loader_line(self);
    entry_label(label, sizeof(label), self, "bus", "name", i);
    group_read(ld, &g, self, GROUP_BUS, label);
    b->name = entry_name(ld, &g, BK_NAME, "bus name");
    p->retries = (int)group_int(&g, BK_RETRIES);
    p->max_registers = (int)group_int(&g, BK_MAX_REGISTERS);
    p->max_bits = (int)group_int(&g, BK_MAX_BITS);
    b->max_gap = (int)group_int(&g, BK_MAX_GAP);
    if (!group_has(&g, BK_TYPE))
        return;
    if ((t = config_bus_type_find(group_str(&g, BK_TYPE))) ==
        CONFIG_BUS_NTYPES) {
        loader_error(ld, g.set[BK_TYPE],
                     "unknown bus type '%s' (use tcp, rtu or rtu-over-tcp)",
                     group_str(&g, BK_TYPE));
        return;
    }
    p->type = config_bus_types[t].type;
    ld->bus_ok[i] = true;
    config_bus_check_keys(ld, &g, self, label, t);
    if (config_bus_types[t].keys == KF_TCP) {
        config_bus_copy_addr(p->host, group_str(&g, BK_HOST));
        p->port = (int)group_int(&g, BK_PORT);
    } else {
        config_bus_read_rtu(ld, &g, p);
    }
    p->timeout_ms = group_has(&g, BK_TIMEOUT_MS)
                        ? (int)group_int(&g, BK_TIMEOUT_MS)
                        : config_bus_types[t].timeout_ms;
    p->delay_ms = group_has(&g, BK_DELAY_MS) ? (int)group_int(&g, BK_DELAY_MS)
                                             : config_bus_types[t].delay_ms;
}

/* The serial line a bus drives, as text to compare ("" for none): a
 * device, or a device server's host and port. Two buses on one line would
 * talk over each other. */
static void config_bus_line(const struct bus_conf *b, char *buf, size_t size)
{
    const struct bus_params *p = &b->params;

    buf[0] = '\0';
    if (p->type == BUS_RTU && p->device[0])
        snprintf(buf, size, "device '%s'", p->device);
    else if (p->type == BUS_RTU_OVER_TCP && p->host[0])
        snprintf(buf, size, "device server '%s' port %d", p->host, p->port);
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
            if (ld->bus_ok[i] && ld->bus_ok[j]) {
                char la[CONFIG_BUS_LINE_MAX], lb[CONFIG_BUS_LINE_MAX];

                config_bus_line(a, la, sizeof(la));
                config_bus_line(b, lb, sizeof(lb));
                if (la[0] && strcmp(la, lb) == 0) {
                    loader_error(ld, config_setting_get_elem(list, (int)i),
                                 "buses '%s' and '%s' both use %s",
                                 a->name ? a->name : "?",
                                 b->name ? b->name : "?", la);
                    break;
                }
            }
        }
    }
}
