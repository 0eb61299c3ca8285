// SPDX-License-Identifier: MIT
/*
 * The device layout's messages: see devmsg.h.
 */
#include "daemon/devmsg.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/payload.h"
#include "lib/config.h"

/* One device's open message. */
struct devmsg {
    char bus[CONFIG_NAME_MAX + 1];
    int unit_id;
    char *buf; /* grows up to DEVMSG_MAX */
    size_t len, cap;
    size_t n;          /* readings in it (0: no message open) */
    int64_t first_seq; /* of its first reading */
    uint64_t serial;   /* tells this message from the device's others */
};

struct devmsgs {
    char *site;
    struct devmsg *dev; /* every device met, in order of first meeting */
    size_t ndev, capdev;
    size_t last; /* the device of the last row: the likeliest next */
    uint64_t serial;
    /* The serial of the message each sensor (by sensors.id) was last put
     * in: the same as its device's open message means its next poll. */
    uint64_t *seen;
    size_t nseen;
};

struct devmsgs *devmsgs_new(const char *site)
{
    struct devmsgs *g = xcalloc(1, sizeof(*g));

    g->site = xstrdup(site);
    return g;
}

void devmsgs_free(struct devmsgs *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->ndev; i++)
        free(g->dev[i].buf);
    free(g->dev);
    free(g->seen);
    free(g->site);
    free(g);
}

void devmsgs_reset(struct devmsgs *g)
{
    for (size_t i = 0; i < g->ndev; i++)
        g->dev[i].n = 0;
}

size_t devmsgs_open(const struct devmsgs *g)
{
    size_t k = 0;

    for (size_t i = 0; i < g->ndev; i++)
        k += g->dev[i].n > 0;
    return k;
}

/* The device of row, met before or new. */
static struct devmsg *devmsgs_device(struct devmsgs *g,
                                     const struct reading_row *row)
{
    struct devmsg *d;

    if (g->last < g->ndev) {
        d = &g->dev[g->last];
        if (d->unit_id == row->unit_id && strcmp(d->bus, row->bus) == 0)
            return d;
    }
    for (size_t i = 0; i < g->ndev; i++) {
        d = &g->dev[i];
        if (d->unit_id == row->unit_id && strcmp(d->bus, row->bus) == 0) {
            g->last = i;
            return d;
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
    return d;
}

/* The lowest first seq of the open messages but except's; INT64_MAX if
 * none. */
static int64_t devmsgs_oldest(const struct devmsgs *g,
                              const struct devmsg *except)
{
    int64_t min = INT64_MAX;

    for (size_t i = 0; i < g->ndev; i++)
        if (&g->dev[i] != except && g->dev[i].n > 0 &&
            g->dev[i].first_seq < min)
            min = g->dev[i].first_seq;
    return min;
}

/* Hands d's message over; next is the first seq not added yet. */
static int devmsgs_send(struct devmsgs *g, struct devmsg *d, int64_t next,
                        devmsg_send_fn send, void *arg)
{
    int64_t oldest = devmsgs_oldest(g, d);
    int64_t mark = (oldest < next ? oldest : next) - 1;

    /* The tail fits: devmsgs_append() keeps room for it. */
    memcpy(d->buf + d->len, PAYLOAD_DEVICE_TAIL, sizeof(PAYLOAD_DEVICE_TAIL));
    if (send(arg, d->bus, d->unit_id, d->buf,
             d->len + strlen(PAYLOAD_DEVICE_TAIL), mark) < 0)
        return -1;
    d->n = 0;
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

/* Puts row's object (elem, len bytes) into d's message, opening one. */
static void devmsgs_append(struct devmsgs *g, struct devmsg *d,
                           const struct reading_row *row, const char *elem,
                           size_t len)
{
    if (d->n == 0) {
        char head[PAYLOAD_MAX];
        int hl = payload_device_head(head, sizeof(head), g->site, d->bus,
                                     d->unit_id);

        d->len = 0;
        devmsgs_reserve(d, (size_t)(hl > 0 ? hl : 0) + len);
        memcpy(d->buf, head, (size_t)(hl > 0 ? hl : 0));
        d->len = (size_t)(hl > 0 ? hl : 0);
        d->first_seq = row->seq;
        d->serial = ++g->serial;
    } else {
        devmsgs_reserve(d, len + 1);
        d->buf[d->len++] = ',';
    }
    memcpy(d->buf + d->len, elem, len);
    d->len += len;
    d->n++;
    if (row->sensor_db_id > 0) {
        size_t id = (size_t)row->sensor_db_id;

        if (id >= g->nseen) {
            size_t n = g->nseen ? g->nseen : 64;

            while (n <= id)
                n *= 2;
            g->seen = xrealloc(g->seen, n * sizeof(*g->seen));
            memset(g->seen + g->nseen, 0, (n - g->nseen) * sizeof(*g->seen));
            g->nseen = n;
        }
        g->seen[id] = d->serial;
    }
}

int devmsgs_add(struct devmsgs *g, const struct reading_row *row,
                devmsg_send_fn send, void *arg)
{
    struct devmsg *d = devmsgs_device(g, row);
    char elem[PAYLOAD_MAX];
    int len = payload_device_reading(elem, sizeof(elem), row);
    size_t id = row->sensor_db_id > 0 ? (size_t)row->sensor_db_id : 0;

    if (len < 0) /* cannot be: every string in a row is bounded */
        len = 0;
    if (d->n > 0 &&
        ((id > 0 && id < g->nseen && g->seen[id] == d->serial) ||
         d->len + (size_t)len + sizeof(PAYLOAD_DEVICE_TAIL) + 1 > DEVMSG_MAX) &&
        devmsgs_send(g, d, row->seq, send, arg) < 0)
        return -1;
    if (len > 0)
        devmsgs_append(g, d, row, elem, (size_t)len);
    return 0;
}

int devmsgs_flush(struct devmsgs *g, int64_t upto, devmsg_send_fn send,
                  void *arg)
{
    for (;;) {
        struct devmsg *oldest = NULL;

        for (size_t i = 0; i < g->ndev; i++)
            if (g->dev[i].n > 0 &&
                (!oldest || g->dev[i].first_seq < oldest->first_seq))
                oldest = &g->dev[i];
        if (!oldest)
            return 0;
        if (devmsgs_send(g, oldest, upto + 1, send, arg) < 0)
            return -1;
    }
}
