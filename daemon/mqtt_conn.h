/* SPDX-License-Identifier: MIT */
/*
 * One MQTT client's connection, driven by the main loop's poll(2) and
 * never blocking: the broker's name looked up off this thread
 * (resolve.h), a numeric address handed to libmosquitto, TLS with our own
 * context (mqtt_conn_tls.c), the password read at each attempt, failures
 * complained about once per streak, backoff between attempts. Used by the
 * JSON publisher (publish.c: "mqtt", a persistent session) and the
 * Sparkplug B edge node (sparkplug.c: "sparkplug", a clean session).
 *
 * The owner creates the client through mqtt_conn_init(), sets its own
 * libmosquitto callbacks in on_client (their obj is the struct mqtt_conn:
 * its owner field leads back), and tells the connection of a CONNACK with
 * mqtt_conn_up(). Before each attempt, on_attempt lets the owner set what
 * changes per attempt (a will); when an attempt or a connection is over,
 * on_down tells it.
 *
 * Errors: broker trouble is logged (prefixed with name) and retried;
 * mqtt_conn_init() returns -1 (logged) when the settings cannot work.
 * Threads: the main thread only. Ownership: the connection copies what it
 * keeps; mqtt_conn_release() frees it (the struct itself is the owner's).
 */
#ifndef TBDAQ_MQTT_CONN_H
#define TBDAQ_MQTT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest an attempt may take to reach CONNACK. */
#define MQTT_CONN_TIMEOUT_MS 10000
#define MQTT_CONN_WHY_MAX 160
#define MQTT_CONN_LIB_ERR_MAX 128
/* Reconnection backoff: first wait, and the longest unless the owner
 * says otherwise (mqtt_conn_params.backoff_max_ms). */
#define MQTT_CONN_BACKOFF_MIN_MS 250
#define MQTT_CONN_BACKOFF_MAX_MS 30000

struct mosquitto;
struct resolve;

/* What a connection is made for; strings borrowed for mqtt_conn_init(). */
struct mqtt_conn_params {
    const char *name; /* "mqtt", "sparkplug": starts log lines; kept */
    const char *client_id;
    /* false: one client for the connection's life, whose session (and
     * QoS 1 and 2 messages in flight) survive reconnections; true: a new
     * client for each attempt after the first (see mqtt_conn.c). */
    bool clean_session;
    const char *host;
    int port;
    const char *username;      /* or NULL */
    const char *password_file; /* or NULL */
    const char *ca_file;       /* tls: any of the three given */
    const char *cert_file;
    const char *key_file;
    int keepalive_s;
    int backoff_max_ms; /* longest wait between attempts; 0: the default */
};

struct mqtt_conn {
    struct mosquitto *mosq;
    const char *name;
    void *owner;
    /* Called before each attempt's CONNECT; -1 skips the attempt. */
    int (*on_attempt)(void *owner);
    /* Called for each new libmosquitto client: set its callbacks. */
    void (*on_client)(void *owner, struct mosquitto *mosq);
    struct mqtt_conn_params params; /* its strings owned, but name */
    bool used;                      /* the client made an attempt */
    /* An attempt or a connection is over (was_connected: it was up). */
    void (*on_down)(void *owner, bool was_connected);

    char *host;
    bool host_numeric;
    int port;
    char *username;
    char *password_file;
    bool tls;
    bool cleartext_warned;
    struct resolve *job;
    bool resolving;
    size_t addr_next;
    int keepalive_s;

    bool connected;   /* CONNACK 0 and no disconnect since */
    bool socket_open; /* an attempt or a connection holds a socket */
    bool dropping;    /* mqtt_conn_drop() is ending it on purpose */
    int64_t attempt_ns;
    int64_t next_ns; /* no attempt before this (CLOCK_MONOTONIC) */
    int backoff_ms;
    int backoff_max_ms;
    char why[MQTT_CONN_WHY_MAX];
    char lib_err[MQTT_CONN_LIB_ERR_MAX];
    char streak_why[MQTT_CONN_WHY_MAX];
    unsigned streak_count;
};

/*
 * Creates c's client (obj: c) for p, checks the username, sets up TLS
 * (its files are read now) and protocol 3.1.1, and calls on_client (if
 * not NULL) for the owner's callbacks. With a clean session, each attempt
 * after the first makes a new client the same way (see mqtt_conn.c).
 * Does not connect yet: mqtt_conn_attempt() does. Returns 0, or -1 after
 * logging why (then mqtt_conn_release() still frees what was made).
 */
int mqtt_conn_init(struct mqtt_conn *c, const struct mqtt_conn_params *p,
                   void *owner,
                   void (*on_client)(void *owner, struct mosquitto *mosq));
/* Frees the client and what c holds; the socket is dropped without a word
 * (the broker publishes the will). */
void mqtt_conn_release(struct mqtt_conn *c);

/* Starts a connection attempt without waiting for it. */
void mqtt_conn_attempt(struct mqtt_conn *c);
/* The owner's CONNACK callback: rc 0 marks c up (logged), another notes
 * the refusal. */
void mqtt_conn_connack(struct mqtt_conn *c, int rc);
/* The owner's disconnect callback, with its rc. */
void mqtt_conn_disconnected(struct mqtt_conn *c, int rc);
/* Ends the connection on purpose: DISCONNECT (the broker drops the will),
 * then as a lost connection: on_down, backoff, and the next attempt. */
void mqtt_conn_drop(struct mqtt_conn *c, const char *why);

/* For poll(2): the descriptor (-1: none now), POLLOUT wanted, the longest
 * wait; then service with what poll reported, after every poll. */
int mqtt_conn_fd(const struct mqtt_conn *c);
bool mqtt_conn_wants_write(const struct mqtt_conn *c);
int mqtt_conn_timeout_ms(const struct mqtt_conn *c);
void mqtt_conn_service(struct mqtt_conn *c, bool readable, bool writable);

/* Notes why the attempt failed; the first note since the attempt wins.
 * _rc: a libmosquitto error (MOSQ_ERR_ERRNO: errnum says). */
void mqtt_conn_note(struct mqtt_conn *c, const char *why);
void mqtt_conn_notef(struct mqtt_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mqtt_conn_note_rc(struct mqtt_conn *c, int rc, int errnum);

/* Milliseconds until when_ns (CLOCK_MONOTONIC), rounded up; 0 if past. */
int mqtt_conn_ms_until(int64_t when_ns);

/* --- mqtt_conn_tls.c ---------------------------------------------------- */

/* Gives c's client our TLS context for the files of p (mqtt_conn_tls.c
 * says why our own): returns -1 after logging why if one cannot be used. */
int mqtt_conn_tls_setup(struct mqtt_conn *c, const struct mqtt_conn_params *p);

#endif
