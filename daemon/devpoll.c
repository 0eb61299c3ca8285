// SPDX-License-Identifier: MIT
/*
 * Which poll of each device is open: see devpoll.h.
 */
#include "daemon/devpoll.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void devpolls_init(struct devpolls *p)
{
    *p = (struct devpolls){.oldest = DEVPOLL_NONE, .newest = DEVPOLL_NONE};
}

void devpolls_release(struct devpolls *p)
{
    free(p->dev);
    free(p->seen);
    devpolls_init(p);
}

/* Makes room for index i in an array of *n elements of size each, new
 * ones zero, doubling from first. */
static void *devpolls_grow(void *a, size_t *n, size_t size, size_t i,
                           size_t first)
{
    size_t m = *n ? *n : first;

    if (i < *n)
        return a;
    while (m <= i)
        m *= 2;
    a = xrealloc(a, m * size);
    memset((char *)a + *n * size, 0, (m - *n) * size);
    *n = m;
    return a;
}

bool devpolls_again(const struct devpolls *p, size_t dev, size_t sensor)
{
    return dev < p->ndevs && sensor < p->nsensors && p->dev[dev].serial != 0 &&
           p->seen[sensor] == p->dev[dev].serial;
}

void devpolls_put(struct devpolls *p, size_t dev, size_t sensor, int64_t seq)
{
    struct devpoll *d;

    p->dev = devpolls_grow(p->dev, &p->ndevs, sizeof(*p->dev), dev, 16);
    d = &p->dev[dev];
    if (d->serial == 0) {
        /* Seqs increase: the newest poll begins after every open one. */
        d->serial = ++p->serial;
        d->first_seq = seq;
        d->prev = p->newest;
        d->next = DEVPOLL_NONE;
        if (p->newest != DEVPOLL_NONE)
            p->dev[p->newest].next = dev;
        else
            p->oldest = dev;
        p->newest = dev;
    }
    if (sensor != DEVPOLL_NONE) {
        p->seen =
            devpolls_grow(p->seen, &p->nsensors, sizeof(*p->seen), sensor, 64);
        p->seen[sensor] = d->serial;
    }
}

bool devpolls_is_open(const struct devpolls *p, size_t dev)
{
    return dev < p->ndevs && p->dev[dev].serial != 0;
}

void devpolls_close(struct devpolls *p, size_t dev)
{
    struct devpoll *d;

    if (!devpolls_is_open(p, dev))
        return;
    d = &p->dev[dev];
    if (d->prev != DEVPOLL_NONE)
        p->dev[d->prev].next = d->next;
    else
        p->oldest = d->next;
    if (d->next != DEVPOLL_NONE)
        p->dev[d->next].prev = d->prev;
    else
        p->newest = d->prev;
    /* Its sensors' serials now match no open poll: no need to clear. */
    d->serial = 0;
}

size_t devpolls_oldest(const struct devpolls *p)
{
    return p->oldest;
}

int64_t devpolls_lowest(const struct devpolls *p, size_t except)
{
    size_t i = p->oldest;

    if (i != DEVPOLL_NONE && i == except)
        i = p->dev[i].next;
    return i == DEVPOLL_NONE ? INT64_MAX : p->dev[i].first_seq;
}

void devpolls_reset(struct devpolls *p)
{
    for (size_t i = p->oldest; i != DEVPOLL_NONE; i = p->dev[i].next)
        p->dev[i].serial = 0;
    p->oldest = p->newest = DEVPOLL_NONE;
}
