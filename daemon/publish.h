/* SPDX-License-Identifier: MIT */
/*
 * MQTT publishing, the only user of libmosquitto. The publisher runs in the
 * main thread, driven by the main loop's poll(2): it never blocks, not even
 * on the broker's name: that is looked up on a detached helper thread per
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
 * Topics and payloads are SPEC's "MQTT". Not thread-safe.
 */
#ifndef TBDAQ_PUBLISH_H
#define TBDAQ_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"

/* Messages in flight (sent, not yet acknowledged) at most. */
#define PUBLISH_WINDOW 1000
/* Reconnection backoff: first and longest wait. */
#define PUBLISH_BACKOFF_MIN_MS 250
#define PUBLISH_BACKOFF_MAX_MS 30000
/* Longest payload of one reading. */
#define PUBLISH_PAYLOAD_MAX 1024

/* One reading, as published. Strings are borrowed for the call. */
struct pub_reading {
    int64_t seq;        /* 0: not recorded yet (publisher_send_live()) */
    const char *sensor; /* the tag */
    const char *kind;
    const char *unit;
    int64_t ts_us;
    bool has_value; /* false: "value":null */
    double value;
    const char *quality;
    const char *error; /* why there is no value: comm_error, missed */
    const char *run;   /* NULL unless a run is open */
};

/*
 * Writes SPEC's reading payload for site into buf (NUL-terminated):
 * {"seq":..,"site":..,"sensor":..,"kind":..,"ts":"<ISO 8601 UTC µs>",
 *  "ts_us":..,"value":..,"unit":..,"quality":..[,"error":..][,"run":..]}
 * "error" is written whenever r->error is not NULL (comm_error and missed
 * readings have one).
 * A reading without a seq (not recorded yet) has "seq":null and ends with
 * ,"recorded":false.
 * Numbers round-trip the double exactly (%.17g, shortest form preferred);
 * NaN or infinite values are written as null. Strings are JSON-escaped.
 * Returns the length, or -1 if it does not fit in len.
 */
int payload_reading(char *buf, size_t len, const char *site,
                    const struct pub_reading *r);

/* A test run, for the run topics. */
struct pub_run {
    const char *name; /* NULL: no run is open */
    int64_t started_us;
    const char *operator_name; /* or NULL */
    bool sealed;               /* then the fields below count */
    int64_t ended_us;
    const char *chain_head;
    int64_t chain_seq;
    int64_t readings;
};

/*
 * The payload of <prefix>/<site>/run: {"name":..,"started":..,"operator":..}
 * for an open run, {"state":"idle"} when name is NULL; and, for a sealed
 * run's <prefix>/<site>/runs/<name>, the same with "ended", "chain_head",
 * "chain_seq" and "readings" added. Same returns as payload_reading().
 */
int payload_run(char *buf, size_t len, const struct pub_run *r);

/*
 * The chain witness's payload, for <prefix>/<site>/chain (SPEC "The chain
 * witness"): {"seq":N,"head":"<64 hex>","ts":"<ISO 8601 UTC µs>"}, head
 * being the chain head covering every reading up to seq, ts when it was
 * witnessed. Same returns as payload_reading().
 */
int payload_witness(char *buf, size_t len, int64_t seq, const char *head,
                    int64_t ts_us);

/*
 * When a chain witness is due: every interval (at the first commit after
 * it) and at stop, each time only if readings were committed since the
 * last witness. Intervals follow a fixed grid from init (next += interval),
 * so witnesses do not drift; after a long pause the grid restarts from now.
 * Plain arithmetic on CLOCK_MONOTONIC nanoseconds: no I/O.
 */
struct pub_witness_timer {
    int64_t interval_ns; /* 0: no witness at all */
    int64_t next_ns;     /* not due before this, unless stopping */
    int64_t seq;         /* the last seq witnessed (0: none yet) */
};

/* interval_s as the config's witness_interval_s (0: none); the first
 * witness is due interval_s after now_ns. */
void pub_witness_init(struct pub_witness_timer *t, int interval_s,
                      int64_t now_ns);
/* A reload's witness_interval_s: unless unchanged, the next witness is due
 * interval_s after now_ns; the last seq witnessed is kept. */
void pub_witness_set_interval(struct pub_witness_timer *t, int interval_s,
                              int64_t now_ns);
/* Whether to publish a witness now, last_seq being the newest committed
 * seq: time has come (or stopping) and last_seq is past the last one. */
bool pub_witness_due(const struct pub_witness_timer *t, int64_t now_ns,
                     int64_t last_seq, bool stopping);
/* A witness of seq was published at now_ns: the next is due one interval
 * on. */
void pub_witness_done(struct pub_witness_timer *t, int64_t now_ns, int64_t seq);

/* Topic of a reading: <prefix>/<site>/<kind>/<sensor>. Same returns. */
int topic_reading(char *buf, size_t len, const struct config *c,
                  const char *kind, const char *sensor);

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
 * Publishes the retained offline status, waits at most timeout_ms for it
 * (and for messages in flight) to be acknowledged, disconnects and frees.
 * Only a connected publisher waits; a name still being resolved is left
 * to its helper thread, not waited for.
 */
void publisher_free(struct publisher *p, int timeout_ms);

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
int publisher_send(struct publisher *p, const struct pub_reading *r);

/*
 * Publishes one reading that the database could not take yet (seq 0), at
 * QoS 0 and outside the window: the live feed goes on while recording is
 * held up. The same reading is published again, with its seq, once it is
 * recorded. Returns 0, or -1 if not sent (it is dropped: the live feed is
 * best-effort, the recorded one is not): not connected, readings handed to
 * publisher_send() still in flight, or the socket not keeping up.
 */
int publisher_send_live(struct publisher *p, const struct pub_reading *r);

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
 * by the next). publisher_free() waits for it as for the offline status,
 * so the witness at stop goes out within the stop's budget. head is the
 * chain head covering every reading up to seq (store_chain_head()). Does
 * nothing if the payload cannot be made (logged).
 */
void publisher_witness(struct publisher *p, int64_t seq, const char *head,
                       int64_t ts_us);

#endif
