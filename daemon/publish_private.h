/* SPDX-License-Identifier: MIT */
/*
 * What the publisher's three files share, and nothing else includes:
 * struct publisher, and the functions one file calls in another.
 *
 *   publish.c       the session: create and close, the window of readings
 *                   in flight and the acknowledged seq, the retained
 *                   topics, libmosquitto's connect and publish callbacks
 *   publish_conn.c  the connection: attempts, the resolver hand-off,
 *                   credentials, failure complaints and backoff, and
 *                   driving the socket from the main loop's poll(2)
 *   publish_tls.c   the TLS context (our SSL_CTX, the name check, SNI)
 *
 * Like the public API, everything here runs on the main thread only.
 */
#ifndef TBDAQ_PUBLISH_PRIVATE_H
#define TBDAQ_PUBLISH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/publish.h"

struct mosquitto;
struct resolve;

/* Longest a connection may take to reach CONNACK before it is abandoned and
 * tried again: a broker that accepts TCP and never answers must not hold us
 * for a whole keepalive (up to an hour). */
#define PUBLISH_CONNECT_TIMEOUT_MS 10000
/* Longest reason text kept for the next complaint, and of libmosquitto's
 * last error message, which goes into it. */
#define PUBLISH_WHY_MAX 160
#define PUBLISH_LIB_ERR_MAX 128

/* One reading in flight. mid is written by mosquitto_publish(). */
struct flight {
    int64_t seq;
    int mid;
    bool done;
};

struct publisher {
    struct mosquitto *mosq;
    char *host; /* as configured: a name or a numeric address */
    bool host_numeric;
    int port;
    char *username;      /* or NULL */
    char *password_file; /* or NULL; read at each attempt */
    bool tls;
    bool cleartext_warned;
    /* The lookup the current attempt waits for (resolving), or one that
     * outlived its attempt and that the next attempt waits for. */
    struct resolve *job;
    bool resolving;
    size_t addr_next; /* the address to try first */
    int keepalive_s;
    int qos;
    bool retain;
    char *prefix;
    char *site;
    char *status_topic;
    char *run_topic;
    char *online;      /* the online status payload */
    char *run_payload; /* the last given to publisher_set_run() */
    /* Retained witnesses of sealed runs: published now if connected and
     * again on every connect, so a broker that lost them gets them back. */
    char **sealed_topics, **sealed_payloads;
    size_t nsealed, cap_topics, cap_payloads;
    /* The newest chain witness (NULL: none yet), published again on every
     * connect; publisher_close() waits for it while witness_pending. */
    char *chain_topic;
    char *chain_payload;
    int64_t chain_seq;
    int witness_mid;
    bool witness_pending;

    bool connected;     /* CONNACK 0 and no disconnect since */
    bool socket_open;   /* an attempt or a connection holds a socket */
    int64_t attempt_ns; /* when the current attempt started */
    int64_t next_ns;    /* no attempt before this (CLOCK_MONOTONIC) */
    int backoff_ms;

    /* Why the current attempt or connection failed ("" while unknown). */
    char why[PUBLISH_WHY_MAX];
    char lib_err[PUBLISH_LIB_ERR_MAX]; /* libmosquitto's last error */
    /* The failure streak: its first failure was logged, the others are
     * counted; a different reason starts a new streak. */
    char streak_why[PUBLISH_WHY_MAX];
    unsigned streak_count;

    struct flight *ring; /* PUBLISH_WINDOW entries, oldest at head */
    size_t head, n;
    int64_t acked;
    bool rewind;

    int offline_mid; /* the offline status sent by publisher_close() */
    bool offline_done;
};

/* --- publish.c ---------------------------------------------------------- */

/* Forgets everything in flight; the caller offers it again. */
void publish_drop_window(struct publisher *p, const char *why);

/* --- publish_conn.c ----------------------------------------------------- */

/* Notes why the connection failed; the first note since the last attempt
 * wins (a refused CONNACK is also a closed connection). */
void publish_note(struct publisher *p, const char *why);
void publish_notef(struct publisher *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Notes a libmosquitto error: MOSQ_ERR_ERRNO means errnum says, and for
 * TLS its log callback said what went wrong just before. */
void publish_note_rc(struct publisher *p, int rc, int errnum);
/* Starts a connection attempt without waiting for it. */
void publish_attempt(struct publisher *p);
/* Milliseconds until when_ns (CLOCK_MONOTONIC), rounded up; 0 if past. */
int publish_ms_until(int64_t when_ns);

/* --- publish_tls.c ------------------------------------------------------ */

/*
 * Gives p's client our TLS context for m's files, checking the broker's
 * certificate for p's host. Files are read now: returns -1 after logging
 * why if one cannot be used, else 0.
 */
int publish_tls_setup(struct publisher *p, const struct mqtt_conf *m);

#endif
