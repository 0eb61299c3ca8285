/* SPDX-License-Identifier: MIT */
/*
 * Which poll of each device is open: the grouping rule that the JSON
 * device layout (devmsg.h) and the Sparkplug node's DDATA (spb_group.h)
 * share. Rows come in seq order with the devices' polls interleaved
 * (buses are polled side by side); each device has at most one poll open,
 * which ends when a sensor already in it comes again (the device's next
 * poll) or when its user closes it (a full message, a flush). The open
 * polls are kept in the order they were opened, which is the order of
 * their first seqs, so the oldest is at hand for flushes and for the seq
 * that still-open polls hold back.
 *
 * It only decides: devices and sensors are small indexes that the caller
 * maps its rows to, and the caller keeps the rows or the payload of each
 * open poll, handing them over when told and then closing the poll.
 *
 * Errors: none; allocation failure aborts (xmalloc). Ownership: the
 * struct is the caller's (devpolls_init, devpolls_release); it holds no
 * rows. Threads: one at a time.
 */
#ifndef TBDAQ_DEVPOLL_H
#define TBDAQ_DEVPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No device (devpolls_oldest(): none open), or no sensor (a reading of
 * none known: it never ends a poll). */
#define DEVPOLL_NONE SIZE_MAX

/* One device's state; its fields are devpoll.c's. */
struct devpoll {
    uint64_t serial;   /* of its open poll; 0: none open */
    int64_t first_seq; /* of its open poll */
    size_t prev, next; /* open neighbours, older and newer, or NONE */
};

/* Read and written through the functions below only. */
struct devpolls {
    struct devpoll *dev;
    size_t ndevs;
    /* The serial of the poll each sensor was last put in: its device's
     * open one means that sensor is in it already. */
    uint64_t *seen;
    size_t nsensors;
    uint64_t serial;       /* the last poll opened */
    size_t oldest, newest; /* the open list's ends, or NONE */
};

/* Nothing open, room for nothing yet (devices and sensors are made room
 * for as they are put). */
void devpolls_init(struct devpolls *p);
void devpolls_release(struct devpolls *p);

/* Whether sensor (or NONE) is in dev's open poll already: then its
 * reading begins dev's next poll, and the open one is to be closed
 * first. */
bool devpolls_again(const struct devpolls *p, size_t dev, size_t sensor);

/* Puts sensor's (or NONE's) reading of seq in dev's open poll, opening
 * one that begins at seq if none is. Seqs increase from call to call
 * (until a reset). */
void devpolls_put(struct devpolls *p, size_t dev, size_t sensor, int64_t seq);

/* Whether dev has a poll open. */
bool devpolls_is_open(const struct devpolls *p, size_t dev);

/* Ends dev's open poll (handed over); nothing if none is open. */
void devpolls_close(struct devpolls *p, size_t dev);

/* The device whose open poll began first, or DEVPOLL_NONE if none is
 * open. Constant time: a flush closes this one until none is left. */
size_t devpolls_oldest(const struct devpolls *p);

/* The lowest first seq of the open polls but except's (DEVPOLL_NONE:
 * of them all), or INT64_MAX if there is none. Constant time. */
int64_t devpolls_lowest(const struct devpolls *p, size_t except);

/* Ends every open poll (the caller reads again from an earlier seq). */
void devpolls_reset(struct devpolls *p);

#endif
