// SPDX-License-Identifier: MIT
/*
 * DDATA per device and poll: see spb_group.h. Which group is open, and
 * which is oldest, is devpoll.c's; this file keeps each group's rows.
 */
#include "daemon/spb_group.h"

#include <stdlib.h>

#include "common/util.h"

void spb_groups_init(struct spb_groups *g, const size_t *dev_of,
                     size_t nsensors, size_t ndevs)
{
    size_t *size = xcalloc(ndevs ? ndevs : 1, sizeof(*size));

    g->ndevs = ndevs;
    g->dev_of = dev_of;
    g->dev = xcalloc(ndevs ? ndevs : 1, sizeof(*g->dev));
    devpolls_init(&g->polls);
    for (size_t i = 0; i < nsensors; i++)
        size[dev_of[i]]++;
    for (size_t d = 0; d < ndevs; d++)
        g->dev[d].rows = xcalloc(size[d] ? size[d] : 1, sizeof(struct spb_row));
    free(size);
}

void spb_groups_release(struct spb_groups *g)
{
    for (size_t d = 0; d < g->ndevs; d++)
        free(g->dev[d].rows);
    free(g->dev);
    devpolls_release(&g->polls);
    g->dev = NULL;
    g->ndevs = 0;
}

/* Hands device d's open group to fn; on success it is closed. */
static int spb_group_close(struct spb_groups *g, size_t d, spb_group_fn fn,
                           void *arg)
{
    struct spb_group *gr = &g->dev[d];

    if (fn(arg, d, gr->rows, gr->n) < 0)
        return -1;
    gr->n = 0;
    devpolls_close(&g->polls, d);
    return 0;
}

int spb_groups_add(struct spb_groups *g, const struct spb_row *row,
                   spb_group_fn fn, void *arg)
{
    size_t d = g->dev_of[row->sensor];
    struct spb_group *gr = &g->dev[d];

    if (devpolls_again(&g->polls, d, row->sensor) &&
        spb_group_close(g, d, fn, arg) < 0)
        return -1;
    gr->rows[gr->n++] = *row;
    devpolls_put(&g->polls, d, row->sensor, row->seq);
    return 0;
}

int spb_groups_flush(struct spb_groups *g, spb_group_fn fn, void *arg)
{
    size_t d;

    while ((d = devpolls_oldest(&g->polls)) != DEVPOLL_NONE)
        if (spb_group_close(g, d, fn, arg) < 0)
            return -1;
    return 0;
}

void spb_groups_reset(struct spb_groups *g)
{
    for (size_t d = 0; d < g->ndevs; d++)
        g->dev[d].n = 0;
    devpolls_reset(&g->polls);
}

int64_t spb_groups_oldest(const struct spb_groups *g)
{
    return devpolls_lowest(&g->polls, DEVPOLL_NONE);
}
