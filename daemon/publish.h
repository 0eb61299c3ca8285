/* SPDX-License-Identifier: MIT */
/*
 * MQTT publishing of the JSON layout. The publisher runs in the
 * main thread, driven by the main loop's poll(2): it never blocks (but for
 * publisher_close(), for as long as it is told), not even on the broker's
 * name: that is looked up on a detached helper thread per
 * connection attempt (resolve.h; at most one running per publisher), which
 * nothing ever waits for. It knows nothing of the database; the main loop
 * feeds it readings that are already committed, in seq order, as long as
 * publisher_room() allows, and persists publisher_acked().
 *
 * Delivery is at-least-once in seq order: a reading counts as acknowledged
 * when the broker confirmed it (PUBACK for QoS 1, PUBCOMP for QoS 2) or,
 * for QoS 0, when it was written to the socket. QoS 1 and 2 messages in
 * flight when the connection drops are sent again by libmosquitto after
 * reconnecting (the session is persistent, clean session off) and stay
 * tracked. Where that cannot be trusted (QoS 0 messages not yet written;
 * QoS 2 when the broker lost the session) the publisher forgets them and
 * publisher_take_rewind() tells the main loop to offer again everything
 * after publisher_acked(). After a restart it starts again from the
 * persisted acknowledged seq.
 *
 * Topics and payloads are SPEC's "MQTT" (payload.h writes them).
 *
 * Errors: broker trouble is never returned: it is logged once per streak
 * and retried; publisher_send() and publisher_send_live() say -1 when a
 * reading was not taken. Ownership: the publisher copies what it keeps
 * (settings, payloads, topics); arguments are borrowed for the call.
 * Threads: the main thread only; nothing here is thread-safe.
 */
#ifndef TBDAQ_PUBLISH_H
#define TBDAQ_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/payload.h"
#include "lib/config.h"

/*
 * Readings handed over and not yet acknowledged, at most: what the main
 * loop may give in one go (its page of rows read back from the database).
 * Of these, libmosquitto lets only PUBLISH_INFLIGHT out on the wire at
 * once and queues the rest itself (publish.c says why). Defined here
 * unless the build says otherwise (make bench's window search).
 */
#ifndef PUBLISH_WINDOW
#define PUBLISH_WINDOW 1000
#endif
/* Messages besides readings that may be in flight together: the online or
 * offline status, the run topic and the chain witness. */
#define PUBLISH_EXTRA_INFLIGHT 5
/*
 * QoS 1 messages libmosquitto lets out at once (its send maximum): the
 * whole window and the other messages, so that none waits in its queue.
 * libmosquitto 2.0.11 then walks its list of messages in flight at every
 * mosquitto_publish() and every PUBACK (message__release_to_inflight,
 * 12-18% of tbdaqd's CPU at W2 and at 20,000/s: perf). Below the window
 * (it queues the rest and sends one per PUBACK) the walk shrinks to this
 * many, but every message beyond it waits for a round trip through the
 * broker, and the ceiling fell: at 30,000/s on the 2-core VM no build with
 * 128, 256 or 512 kept up where this one did (tests/bench/README.md,
 * "Messages in flight"). Another value only for such measurements
 * (make BUILD=DIR CPPFLAGS=-DPUBLISH_INFLIGHT=N).
 */
#ifndef PUBLISH_INFLIGHT
#define PUBLISH_INFLIGHT (PUBLISH_WINDOW + PUBLISH_EXTRA_INFLIGHT)
#endif
/* Reconnection backoff: the longest wait (the first is mqtt_conn.h's
 * MQTT_CONN_BACKOFF_MIN_MS). It is what a broker back after a long outage
 * may wait for tbdaqd (a connection attempt a few seconds costs nothing);
 * with 30 s, the replay of a 10-minute outage at W2 took the 18 s of the
 * replay plus up to 30 s. */
#define PUBLISH_BACKOFF_MAX_MS 5000

struct publisher;

/*
 * Creates the client for c->mqtt (which must be enabled): client id,
 * persistent session, keepalive, username, TLS (its files are read now),
 * and the will (retained {"state":"offline"} on <prefix>/<site>/status).
 * Starts connecting without blocking. version and started_us go into the
 * online status. Returns NULL after logging why if the settings cannot work
 * at all (e.g. a TLS file that cannot be used); broker trouble is never a
 * reason: it is logged once per streak and retried with backoff.
 *
 * At each connection attempt the host is resolved again (off this thread)
 * and password_file is read again: a changed password is used from the
 * next reconnection on. An attempt whose password_file cannot be read is
 * not made (it counts as a failed attempt, with the reason). The password
 * is wiped from memory once libmosquitto's CONNECT packet holds it. With
 * a password, no TLS and a broker address off loopback, a warning is
 * logged once.
 *
 * With TLS the broker's certificate must be valid for the configured host
 * (its name, or the address if that is what is configured), whichever
 * address it was reached at; the name is also sent as SNI.
 */
struct publisher *publisher_new(const struct config *c, const char *version,
                                int64_t started_us);

/*
 * Says goodbye and frees p (NULL is fine): publishes the retained offline
 * status, BLOCKS for at most timeout_ms while it (and the readings in
 * flight, and the chain witness) are acknowledged, sends DISCONNECT (so
 * the broker drops the will) and frees everything. Only a connected
 * publisher waits; with timeout_ms 0 the offline status is queued and
 * written only if the socket takes it at once. A name still being
 * resolved is left to its helper thread, not waited for. What was not
 * acknowledged by then is lost to this process: the caller persists
 * publisher_acked() first and offers the rest again after the next start.
 */
void publisher_close(struct publisher *p, int timeout_ms);

/* The descriptor to poll for POLLIN: the broker's socket, or while the
 * broker's name is being resolved, one that becomes readable when it is;
 * -1 while there is neither. And whether to poll for POLLOUT too. */
int publisher_fd(const struct publisher *p);
bool publisher_wants_write(const struct publisher *p);

/* The longest the main loop may wait before calling publisher_service()
 * (keepalive, reconnection backoff). */
int publisher_timeout_ms(const struct publisher *p);

/* Reads, writes and housekeeping as poll(2) reported; reconnects when the
 * backoff allows. Call after every poll, with what was reported. */
void publisher_service(struct publisher *p, bool readable, bool writable);

/* Connected and accepted by the broker (CONNACK 0). */
bool publisher_connected(const struct publisher *p);

/* How many readings may be handed over now: 0 unless connected, else the
 * room left in the in-flight window. */
size_t publisher_room(const struct publisher *p);

/*
 * Publishes one reading (seqs must increase from call to call). Returns 0,
 * or -1 if it was not accepted (then nothing is in flight for it and the
 * caller offers it again later).
 */
int publisher_send(struct publisher *p, const struct reading_row *r);

/*
 * The device layout: publishes payload (len bytes, SPEC's device message,
 * payload.h) on <prefix>/<site>/device/<bus>/<unit_id>; once the broker
 * acknowledges it, every reading up to watermark counts as delivered
 * (devmsg.h; watermarks never decrease from call to call).
 * Returns as publisher_send().
 */
int publisher_send_device(struct publisher *p, const char *bus, int unit_id,
                          const char *payload, size_t len, int64_t watermark);

/*
 * Publishes one reading that the database could not take yet (seq 0), at
 * QoS 0 and outside the window: the live feed goes on while recording is
 * held up. The same reading is published again, with its seq, once it is
 * recorded. Returns 0, or -1 if not sent (it is dropped: the live feed is
 * best-effort, the recorded one is not): not connected, readings handed to
 * publisher_send() still in flight, or the socket not keeping up.
 */
int publisher_send_live(struct publisher *p, const struct reading_row *r);
/* The same for the device layout: r (its bus and unit_id set) alone in
 * its device's message. */
int publisher_send_device_live(struct publisher *p,
                               const struct reading_row *r);

/*
 * The highest seq such that every reading handed to publisher_send() with
 * a seq up to it has been acknowledged; `since` before anything was
 * acknowledged (the value given to publisher_set_acked()).
 */
int64_t publisher_acked(const struct publisher *p);
/* Tells the publisher where acknowledgement stands at start-up. */
void publisher_set_acked(struct publisher *p, int64_t seq);

/*
 * True once after the publisher had to drop messages in flight (e.g. a
 * reconnection whose session the broker no longer had): the caller must
 * then offer again everything after publisher_acked(). Duplicates that
 * follow are allowed (at-least-once); gaps are not.
 */
bool publisher_take_rewind(struct publisher *p);

/* Publishes the retained run topic: payload is SPEC's run object. Kept and
 * published again after each reconnect. */
void publisher_set_run(struct publisher *p, const char *payload);

/*
 * Publishes a sealed run's witness, retained, on
 * <prefix>/<site>/runs/<name>: now if connected, and again after every
 * reconnection while the process lives.
 */
void publisher_seal_run(struct publisher *p, const char *name,
                        const char *payload);

/*
 * Publishes the chain witness, retained, on <prefix>/<site>/chain with the
 * configured QoS: now if connected, and again after every reconnection
 * (only the newest is kept: a witness the broker never got is superseded
 * by the next). publisher_close() waits for it as for the offline status,
 * so the witness at stop goes out within the stop's budget. head is the
 * chain head covering every reading up to seq (store_chain_head()). Does
 * nothing if the payload cannot be made (logged).
 */
void publisher_witness(struct publisher *p, int64_t seq, const char *head,
                       int64_t ts_us);

#endif
