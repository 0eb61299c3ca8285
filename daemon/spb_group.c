// SPDX-License-Identifier: MIT
/*
 * DDATA per device and poll: see spb_group.h.
 */
#include "daemon/spb_group.h"

#include <stdlib.h>

#include "common/util.h"

void spb_groups_init(struct spb_groups *g, const size_t *dev_of,
                     size_t nsensors, size_t ndevs)
{
    size_t *size = xcalloc(ndevs ? ndevs : 1, sizeof(*size));

    g->ndevs = ndevs;
    g->nsensors = nsensors;
    g->dev_of = dev_of;
    g->dev = xcalloc(ndevs ? ndevs : 1, sizeof(*g->dev));
    g->in = xcalloc(nsensors ? nsensors : 1, sizeof(*g->in));
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
    free(g->in);
    g->dev = NULL;
    g->in = NULL;
    g->ndevs = g->nsensors = 0;
}

/* Hands device d's open group to fn; on success it is closed. */
static int spb_group_close(struct spb_groups *g, size_t d, spb_group_fn fn,
                           void *arg)
{
    struct spb_group *gr = &g->dev[d];

    if (fn(arg, d, gr->rows, gr->n) < 0)
        return -1;
    for (size_t i = 0; i < gr->n; i++)
        g->in[gr->rows[i].sensor] = false;
    gr->n = 0;
    return 0;
}

int spb_groups_add(struct spb_groups *g, const struct spb_row *row,
                   spb_group_fn fn, void *arg)
{
    size_t d = g->dev_of[row->sensor];
    struct spb_group *gr = &g->dev[d];

    /* The sensor again: its device's next poll begins. */
    if (g->in[row->sensor] && spb_group_close(g, d, fn, arg) < 0)
        return -1;
    gr->rows[gr->n++] = *row;
    g->in[row->sensor] = true;
    return 0;
}

int spb_groups_flush(struct spb_groups *g, spb_group_fn fn, void *arg)
{
    for (;;) {
        size_t oldest = SIZE_MAX;

        for (size_t d = 0; d < g->ndevs; d++)
            if (g->dev[d].n > 0 &&
                (oldest == SIZE_MAX ||
                 g->dev[d].rows[0].seq < g->dev[oldest].rows[0].seq))
                oldest = d;
        if (oldest == SIZE_MAX)
            return 0;
        if (spb_group_close(g, oldest, fn, arg) < 0)
            return -1;
    }
}

void spb_groups_reset(struct spb_groups *g)
{
    for (size_t d = 0; d < g->ndevs; d++) {
        for (size_t i = 0; i < g->dev[d].n; i++)
            g->in[g->dev[d].rows[i].sensor] = false;
        g->dev[d].n = 0;
    }
}

int64_t spb_groups_oldest(const struct spb_groups *g)
{
    int64_t lo = INT64_MAX;

    for (size_t d = 0; d < g->ndevs; d++)
        if (g->dev[d].n > 0 && g->dev[d].rows[0].seq < lo)
            lo = g->dev[d].rows[0].seq;
    return lo;
}
