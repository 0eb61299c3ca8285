// SPDX-License-Identifier: MIT
/*
 * The device layout's messages: see devmsg.h. Which message is open, and
 * which is oldest, is devpoll.c's; this file builds each message's JSON
 * as its rows come and cuts a message that would be too long.
 */
#include "daemon/devmsg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/devpoll.h"
#include "daemon/payload.h"
#include "lib/config.h"

/* A device and its open message's JSON (open: see g->polls). */
struct devmsg {
    char bus[CONFIG_NAME_MAX + 1];
    int unit_id;
    char *buf; /* grows up to DEVMSG_MAX */
    size_t len, cap;
};

struct devmsgs {
    char *site;
    struct devmsg *dev; /* every device met, in order of first meeting */
    size_t ndev, capdev;
    size_t last; /* the device of the last row: the likeliest next */
    /* The devices by their index in dev, the sensors by sensors.id. */
    struct devpolls polls;
};

struct devmsgs *devmsgs_new(const char *site)
{
    struct devmsgs *g = xcalloc(1, sizeof(*g));

    g->site = xstrdup(site);
    devpolls_init(&g->polls);
    return g;
}

void devmsgs_free(struct devmsgs *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->ndev; i++)
        free(g->dev[i].buf);
    free(g->dev);
    devpolls_release(&g->polls);
    free(g->site);
    free(g);
}

void devmsgs_reset(struct devmsgs *g)
{
    devpolls_reset(&g->polls);
}

size_t devmsgs_open(const struct devmsgs *g)
{
    size_t k = 0;

    for (size_t i = 0; i < g->ndev; i++)
        k += devpolls_is_open(&g->polls, i);
    return k;
}

/* The index of row's device, met before or new. */
static size_t devmsgs_device(struct devmsgs *g, const struct reading_row *row)
{
    struct devmsg *d;

    if (g->last < g->ndev) {
        d = &g->dev[g->last];
        if (d->unit_id == row->unit_id && strcmp(d->bus, row->bus) == 0)
            return g->last;
    }
    for (size_t i = 0; i < g->ndev; i++) {
        d = &g->dev[i];
        if (d->unit_id == row->unit_id && strcmp(d->bus, row->bus) == 0) {
            g->last = i;
            return i;
        }
    }
    if (g->ndev == g->capdev) {
        g->capdev = g->capdev ? 2 * g->capdev : 16;
        g->dev = xrealloc(g->dev, g->capdev * sizeof(*g->dev));
    }
    d = &g->dev[g->ndev];
    *d = (struct devmsg){.unit_id = row->unit_id};
    snprintf(d->bus, sizeof(d->bus), "%s", row->bus);
    g->last = g->ndev++;
    return g->last;
}

/* Hands device i's message over; next is the first seq not added yet. */
static int devmsgs_send(struct devmsgs *g, size_t i, int64_t next,
                        devmsg_send_fn send, void *arg)
{
    struct devmsg *d = &g->dev[i];
    int64_t oldest = devpolls_lowest(&g->polls, i);
    int64_t mark = (oldest < next ? oldest : next) - 1;

    /* The tail fits: devmsgs_append() keeps room for it. */
    memcpy(d->buf + d->len, PAYLOAD_DEVICE_TAIL, sizeof(PAYLOAD_DEVICE_TAIL));
    if (send(arg, d->bus, d->unit_id, d->buf,
             d->len + strlen(PAYLOAD_DEVICE_TAIL), mark) < 0)
        return -1;
    devpolls_close(&g->polls, i);
    return 0;
}

/* Makes room in d's buffer for need more bytes and the tail. */
static void devmsgs_reserve(struct devmsg *d, size_t need)
{
    size_t want = d->len + need + sizeof(PAYLOAD_DEVICE_TAIL);

    if (want <= d->cap)
        return;
    while (d->cap < want)
        d->cap = d->cap ? 2 * d->cap : 4096;
    d->buf = xrealloc(d->buf, d->cap);
}

/* Puts row's object (elem, len bytes) into device i's message, opening
 * one; sensor is row's index in g->polls. */
static void devmsgs_append(struct devmsgs *g, size_t i,
                           const struct reading_row *row, size_t sensor,
                           const char *elem, size_t len)
{
    struct devmsg *d = &g->dev[i];

    if (!devpolls_is_open(&g->polls, i)) {
        char head[PAYLOAD_MAX];
        int hl = payload_device_head(head, sizeof(head), g->site, d->bus,
                                     d->unit_id);

        d->len = 0;
        devmsgs_reserve(d, (size_t)(hl > 0 ? hl : 0) + len);
        memcpy(d->buf, head, (size_t)(hl > 0 ? hl : 0));
        d->len = (size_t)(hl > 0 ? hl : 0);
    } else {
        devmsgs_reserve(d, len + 1);
        d->buf[d->len++] = ',';
    }
    memcpy(d->buf + d->len, elem, len);
    d->len += len;
    devpolls_put(&g->polls, i, sensor, row->seq);
}

int devmsgs_add(struct devmsgs *g, const struct reading_row *row,
                devmsg_send_fn send, void *arg)
{
    size_t i = devmsgs_device(g, row);
    char elem[PAYLOAD_MAX];
    int len = payload_device_reading(elem, sizeof(elem), row);
    size_t sensor =
        row->sensor_db_id > 0 ? (size_t)row->sensor_db_id : DEVPOLL_NONE;

    if (len < 0) /* cannot be: every string in a row is bounded */
        len = 0;
    if (devpolls_is_open(&g->polls, i) &&
        (devpolls_again(&g->polls, i, sensor) ||
         g->dev[i].len + (size_t)len + sizeof(PAYLOAD_DEVICE_TAIL) + 1 >
             DEVMSG_MAX) &&
        devmsgs_send(g, i, row->seq, send, arg) < 0)
        return -1;
    if (len > 0)
        devmsgs_append(g, i, row, sensor, elem, (size_t)len);
    return 0;
}

int devmsgs_flush(struct devmsgs *g, int64_t upto, devmsg_send_fn send,
                  void *arg)
{
    size_t i;

    while ((i = devpolls_oldest(&g->polls)) != DEVPOLL_NONE)
        if (devmsgs_send(g, i, upto + 1, send, arg) < 0)
            return -1;
    return 0;
}
