/* SPDX-License-Identifier: MIT */
/*
 * The device layout's messages (SPEC "MQTT", mqtt.layout "device"): the
 * readings of one device (bus, unit) and poll in one message. Rows come
 * in seq order, the devices' polls interleaved (buses are polled side by
 * side); each device has at most one message open, which ends when a
 * sensor already in it comes again (its next poll), when it is full, or
 * at a flush (nothing more committed yet). That rule, but for the full
 * message, is devpoll.h's, shared with the Sparkplug node's DDATA.
 *
 * Each message is handed over with a watermark: the highest seq such that
 * every reading up to it is in that message or one handed over before.
 * Watermarks never decrease, so a publisher that counts a message's
 * acknowledgement as acknowledging up to its watermark keeps SPEC's
 * promise (everything up to the acknowledged seq was delivered) although
 * messages go out in the order their polls end, not in seq order.
 *
 * Pure: no MQTT, no database. Errors: allocation failure aborts (xmalloc);
 * a send the publisher refuses leaves the message open, to be handed
 * over again. Ownership: the grouper copies what it keeps (rows'
 * strings are borrowed for the call). Threads: one at a time.
 */
#ifndef TBDAQ_DEVMSG_H
#define TBDAQ_DEVMSG_H

#include <stddef.h>
#include <stdint.h>

#include "lib/reading.h"

/* Longest message: a poll with more is sent in several. A reading's
 * object is at most PAYLOAD_MAX (payload.h). */
#define DEVMSG_MAX (128 * 1024)

/* Hands a message over: 0, or -1 if it was refused (then it stays open). */
typedef int (*devmsg_send_fn)(void *arg, const char *bus, int unit_id,
                              const char *payload, size_t len,
                              int64_t watermark);

struct devmsgs;

/* A grouper for site's messages. */
struct devmsgs *devmsgs_new(const char *site);
void devmsgs_free(struct devmsgs *g);

/* Forgets every open message (the caller reads again from an earlier
 * seq: a rewind). */
void devmsgs_reset(struct devmsgs *g);

/*
 * Adds row (seqs increasing from call to call, bus and unit_id set).
 * When row begins its device's next poll, the message before it is handed
 * to send first. Returns 0 (row taken), or -1 if send refused (row not
 * taken: offer it again later).
 */
int devmsgs_add(struct devmsgs *g, const struct reading_row *row,
                devmsg_send_fn send, void *arg);

/*
 * Hands over every open message, oldest first, upto being the last seq
 * added. Returns 0, or -1 if send refused one (it and the later ones stay
 * open).
 */
int devmsgs_flush(struct devmsgs *g, int64_t upto, devmsg_send_fn send,
                  void *arg);

/* Open messages (for tests). */
size_t devmsgs_open(const struct devmsgs *g);

#endif
