/* SPDX-License-Identifier: MIT */
/*
 * The Sparkplug B edge node's DDATA per device and poll (SPEC "Sparkplug
 * B"), by the rule it shares with the JSON device layout (devpoll.h) over
 * the node's own rows: rows come in seq order with the devices' polls
 * interleaved (buses are polled side by side, and a poller hands over each
 * request's readings as it gets them, so one poll of several requests is
 * spread among the other buses' rows); each device has at most one group
 * open, which ends when one of its sensors already in it comes again (its
 * next poll) or at a flush (every committed row read). A group holds at
 * most one row per sensor, so never more rows than its device has
 * sensors: no other size cap is needed.
 *
 * What is still open is not handed over: spb_groups_oldest() tells the
 * lowest seq held, which the node's acknowledged seq must stay below.
 *
 * Pure: no MQTT, no database. Errors: allocation failure aborts
 * (xmalloc); a group the callback refuses stays open, and so does the row
 * that closed it (offer it again). Ownership: rows are copied (their
 * quality is a static string). Threads: one at a time.
 */
#ifndef TBDAQ_SPB_GROUP_H
#define TBDAQ_SPB_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/devpoll.h"

/* A reading read back, reduced to what a metric needs. */
struct spb_row {
    int64_t seq;
    int64_t ts_us;
    size_t sensor; /* index into the node's sensors */
    bool has_value;
    double value;
    const char *quality; /* a static quality name */
};

/* One device's open group: its rows so far. */
struct spb_group {
    struct spb_row *rows; /* room for every sensor of the device */
    size_t n;             /* 0: none open */
};

struct spb_groups {
    struct spb_group *dev; /* per device */
    size_t ndevs;
    const size_t *dev_of;  /* the device of each sensor (borrowed) */
    struct devpolls polls; /* which group is open, the oldest first */
};

/* Hands a closed group over: rows (n >= 1, all of device dev, seqs
 * increasing). Returns 0, or -1 to refuse it (it stays open). */
typedef int (*spb_group_fn)(void *arg, size_t dev, const struct spb_row *rows,
                            size_t n);

/* Groups for nsensors sensors, sensor i of device dev_of[i] < ndevs
 * (dev_of borrowed while g lives). */
void spb_groups_init(struct spb_groups *g, const size_t *dev_of,
                     size_t nsensors, size_t ndevs);
void spb_groups_release(struct spb_groups *g);

/* Adds row (seqs increasing from call to call); when its sensor is in its
 * device's open group already, that group is handed to fn first. Returns
 * 0 (row taken) or -1 (fn refused: row not taken). */
int spb_groups_add(struct spb_groups *g, const struct spb_row *row,
                   spb_group_fn fn, void *arg);

/* Hands every open group to fn, the oldest (lowest first seq) first.
 * Returns 0, or -1 if fn refused one (it and the later ones stay open). */
int spb_groups_flush(struct spb_groups *g, spb_group_fn fn, void *arg);

/* Forgets every open group (their rows will be read again). */
void spb_groups_reset(struct spb_groups *g);

/* The lowest seq in an open group, or INT64_MAX if none is open. */
int64_t spb_groups_oldest(const struct spb_groups *g);

#endif
