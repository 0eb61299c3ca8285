// SPDX-License-Identifier: MIT
/*
 * The publisher's connection to the broker: attempts, the resolver
 * hand-off, credentials, complaints about failures (once per streak) and
 * the backoff between attempts, and the socket driven by the main loop's
 * poll(2) (libmosquitto's threaded loop and its reconnect logic are not
 * used).
 *
 * libmosquitto resolves the broker's name with a blocking getaddrinfo()
 * inside mosquitto_connect_async(), on the thread that calls it: ours, the
 * one that commits readings. A resolver that does not answer held it for
 * the resolver's whole timeout at every attempt (issue 10). So the name is
 * looked up first, off this thread (resolve.c, one lookup at a time), and
 * libmosquitto is given a numeric address, which its getaddrinfo() parses
 * without asking anyone. A lookup stuck in the resolver is never waited
 * for: the attempt times out like a silent broker, the next attempt waits
 * for the same lookup rather than start another, and at close the lookup
 * is abandoned to its helper thread. TLS then needs our own context
 * (publish_tls.c).
 */
#include "daemon/publish_private.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/resolve.h"

/* Longest the main loop may sleep while a socket is open: libmosquitto
 * counts keepalive in seconds and needs loop_misc() to send PINGREQ. */
#define PUBLISH_TICK_MS 1000
/* The password buffer's first size: a longer password makes getline()
 * move it, leaving a copy behind in freed memory. */
#define PUBLISH_PASSWORD_CAP 1024

void publish_note(struct publisher *p, const char *why)
{
    if (p->why[0] == '\0')
        snprintf(p->why, sizeof(p->why), "%s", why);
}

void publish_notef(struct publisher *p, const char *fmt, ...)
{
    char why[PUBLISH_WHY_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    publish_note(p, why);
}

void publish_note_rc(struct publisher *p, int rc, int errnum)
{
    if (rc == MOSQ_ERR_ERRNO)
        publish_note(p, strerror(errnum));
    else if (rc == MOSQ_ERR_TLS && p->lib_err[0] != '\0')
        publish_notef(p, "TLS: %s", p->lib_err);
    else
        publish_note(p, mosquitto_strerror(rc));
}

/*
 * The attempt or connection is over: complain once per streak of the same
 * failure (counting the rest), and wait before the next attempt, twice as
 * long as the last time. A failed attempt starts the next one at the next
 * address of the broker's name.
 */
static void publish_down(struct publisher *p, bool was_connected)
{
    if (p->why[0] == '\0')
        publish_note(p, mosquitto_strerror(MOSQ_ERR_CONN_LOST));
    if (was_connected) {
        log_warnx("mqtt: lost connection to broker '%s:%d': %s", p->host,
                  p->port, p->why);
        /* Complain about the first failure to reconnect, whatever. */
        p->streak_why[0] = '\0';
        p->streak_count = 0;
    } else if (strcmp(p->why, p->streak_why) != 0) {
        log_err("mqtt: cannot connect to broker '%s:%d': %s (retrying)",
                p->host, p->port, p->why);
        memcpy(p->streak_why, p->why, sizeof(p->why));
        p->streak_count = 1;
    } else {
        p->streak_count++;
        log_debug("mqtt: broker '%s:%d': %s (%u times)", p->host, p->port,
                  p->why, p->streak_count);
    }
    if (!was_connected)
        p->addr_next++;
    p->why[0] = '\0';
    p->lib_err[0] = '\0';
    p->connected = false;
    p->socket_open = false;
    p->resolving = false;
    /* Published again at the next connect. */
    p->witness_pending = false;
    if (p->qos == 0)
        publish_drop_window(p, "QoS 0 messages not written are lost");
    p->next_ns = time_mono_ns() + p->backoff_ms * NS_PER_MS;
    p->backoff_ms *= 2;
    if (p->backoff_ms > PUBLISH_BACKOFF_MAX_MS)
        p->backoff_ms = PUBLISH_BACKOFF_MAX_MS;
}

/* libmosquitto's own packet traces (MOSQ_LOG_DEBUG) name every PUBLISH and
 * PUBACK: too many even for -v. Its other messages are debug for us; its
 * errors (why a TLS handshake failed) go into the complaint. */
static void publish_on_log(struct mosquitto *mosq, void *arg, int level,
                           const char *str)
{
    struct publisher *p = arg;

    (void)mosq;
    if (level == MOSQ_LOG_DEBUG)
        return;
    log_debug("mqtt: %s", str);
    if (level == MOSQ_LOG_ERR)
        snprintf(p->lib_err, sizeof(p->lib_err), "%s", str);
}

/*
 * The first line of password_file, without its line end, or NULL after
 * noting why. The stream is unbuffered so that stdio keeps no copy; the
 * caller wipes and frees the result.
 */
static char *publish_read_password(struct publisher *p)
{
    FILE *f = fopen(p->password_file, "re");
    size_t cap = PUBLISH_PASSWORD_CAP;
    char *line;
    ssize_t n;

    if (!f) {
        publish_notef(p, "cannot read password_file '%s': %s", p->password_file,
                      strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IONBF, 0);
    line = xmalloc(cap);
    errno = 0;
    n = getline(&line, &cap, f);
    if (n < 0) {
        if (ferror(f))
            publish_notef(p, "cannot read password_file '%s': %s",
                          p->password_file, strerror(errno));
        else
            publish_notef(p, "password_file '%s' is empty", p->password_file);
        explicit_bzero(line, cap);
        free(line);
        fclose(f);
        return NULL;
    }
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Hands libmosquitto the username and the password read now. Returns 0,
 * or -1 after noting why (the attempt is not made). */
static int publish_credentials(struct publisher *p)
{
    char *password = NULL;
    int rc;

    if (!p->username)
        return 0;
    if (p->password_file && !(password = publish_read_password(p)))
        return -1;
    rc = mosquitto_username_pw_set(p->mosq, p->username, password);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        publish_notef(p, "cannot use username '%s': %s", p->username,
                      mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* Once per publisher: a password is about to leave this host unencrypted. */
static void publish_check_cleartext(struct publisher *p, const char *addr)
{
    if (p->cleartext_warned || !p->password_file || p->tls ||
        resolve_is_loopback(addr))
        return;
    p->cleartext_warned = true;
    log_warnx("mqtt: the password of '%s' goes to broker '%s:%d' (%s) in "
              "clear text: configure mqtt.tls",
              p->username, p->host, p->port, addr);
}

/*
 * Connects to the first address of r that takes a socket, starting at
 * addr_next, as libmosquitto would have done with the name (a refused
 * connection on loopback is known at once). The password is read now and
 * dropped from libmosquitto as soon as its CONNECT packet holds it.
 */
static void publish_connect(struct publisher *p, const struct resolve_result *r)
{
    if (r->rc != 0) {
        publish_notef(p, "cannot resolve '%s': %s", p->host,
                      resolve_strerror(r));
        publish_down(p, false);
        return;
    }
    if (r->n == 0) {
        publish_notef(p, "'%s' has no IPv4 or IPv6 address", p->host);
        publish_down(p, false);
        return;
    }
    if (publish_credentials(p) < 0) {
        publish_down(p, false);
        return;
    }
    /* Until connected (see publish_on_connect). */
    mosquitto_log_callback_set(p->mosq, publish_on_log);
    for (size_t i = 0; i < r->n && !p->socket_open; i++) {
        size_t k = (p->addr_next + i) % r->n;
        int rc;

        errno = 0;
        rc = mosquitto_connect_async(p->mosq, r->addrs[k], p->port,
                                     p->keepalive_s);
        if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(p->mosq) >= 0) {
            p->socket_open = true;
            p->addr_next = k;
            if (strcmp(r->addrs[k], p->host) != 0)
                log_debug("mqtt: connecting to '%s' at %s", p->host,
                          r->addrs[k]);
            publish_check_cleartext(p, r->addrs[k]);
        } else {
            publish_note_rc(p, rc, errno);
        }
    }
    if (p->username)
        mosquitto_username_pw_set(p->mosq, p->username, NULL);
    if (!p->socket_open)
        publish_down(p, false);
}

/*
 * Starts an attempt without waiting for it: a numeric host connects now; a
 * name is resolved on a helper thread first (publish_resolved()), unless a
 * helper from an earlier attempt is still at it: then this attempt waits
 * for that one. A connect closes the previous socket, if any, itself.
 */
void publish_attempt(struct publisher *p)
{
    char why[PUBLISH_WHY_MAX];

    p->why[0] = '\0';
    p->lib_err[0] = '\0';
    p->attempt_ns = time_mono_ns();
    if (p->job && resolve_done(p->job)) {
        /* Answered after its attempt gave up: look up again, fresh. */
        resolve_free(p->job);
        p->job = NULL;
    }
    if (!p->job && p->host_numeric) {
        struct resolve_result r;

        resolve_numeric(p->host, &r);
        publish_connect(p, &r);
        return;
    }
    if (!p->job && !(p->job = resolve_start(p->host, why, sizeof(why)))) {
        publish_note(p, why);
        publish_down(p, false);
        return;
    }
    p->resolving = true;
}

/* The attempt waits for the name: connect once it is resolved; give up
 * after as long as a CONNACK may take (the helper goes on). */
static void publish_resolved(struct publisher *p)
{
    const struct resolve_result *r = resolve_done(p->job);

    if (r) {
        p->resolving = false;
        publish_connect(p, r);
        resolve_free(p->job);
        p->job = NULL;
        return;
    }
    if (time_mono_ns() - p->attempt_ns >=
        PUBLISH_CONNECT_TIMEOUT_MS * NS_PER_MS) {
        publish_notef(p, "no answer from the resolver for '%s' within %d s",
                      p->host, PUBLISH_CONNECT_TIMEOUT_MS / 1000);
        publish_down(p, false);
    }
}

int publisher_fd(const struct publisher *p)
{
    if (p->socket_open)
        return mosquitto_socket(p->mosq);
    return p->resolving ? resolve_fd(p->job) : -1;
}

bool publisher_wants_write(const struct publisher *p)
{
    return p->socket_open && mosquitto_want_write(p->mosq);
}

int publish_ms_until(int64_t when_ns)
{
    int64_t left = when_ns - time_mono_ns();

    if (left <= 0)
        return 0;
    return (int)((left + NS_PER_MS - 1) / NS_PER_MS);
}

int publisher_timeout_ms(const struct publisher *p)
{
    int ms;

    if (p->resolving)
        return publish_ms_until(p->attempt_ns +
                                PUBLISH_CONNECT_TIMEOUT_MS * NS_PER_MS);
    if (!p->socket_open)
        return publish_ms_until(p->next_ns);
    ms = PUBLISH_TICK_MS;
    if (!p->connected) {
        int left = publish_ms_until(p->attempt_ns +
                                    PUBLISH_CONNECT_TIMEOUT_MS * NS_PER_MS);
        if (left < ms)
            ms = left;
    }
    return ms;
}

void publisher_service(struct publisher *p, bool readable, bool writable)
{
    bool was_connected = p->connected;
    int rc = MOSQ_ERR_SUCCESS;

    if (p->resolving) {
        publish_resolved(p);
        return;
    }
    if (!p->socket_open) {
        if (time_mono_ns() >= p->next_ns)
            publish_attempt(p);
        return;
    }
    if (readable)
        rc = mosquitto_loop_read(p->mosq, 1);
    /* Callbacks ran: a refused CONNACK has closed the socket by now. */
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(p->mosq) >= 0 &&
        (writable || mosquitto_want_write(p->mosq)))
        rc = mosquitto_loop_write(p->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(p->mosq) >= 0)
        rc = mosquitto_loop_misc(p->mosq);
    if (mosquitto_socket(p->mosq) < 0) {
        if (rc != MOSQ_ERR_SUCCESS)
            publish_note_rc(p, rc, errno);
        publish_down(p, was_connected || p->connected);
        return;
    }
    if (!p->connected && time_mono_ns() - p->attempt_ns >=
                             PUBLISH_CONNECT_TIMEOUT_MS * NS_PER_MS) {
        publish_note(p, "no answer to CONNECT");
        publish_down(p, false);
        /* The next attempt closes this socket; poll no more for it. */
    }
}
