// SPDX-License-Identifier: MIT
/*
 * One MQTT client's connection (mqtt_conn.h): attempts, the resolver
 * hand-off, credentials, complaints about failures (once per streak) and
 * the backoff between attempts, and the socket driven by the main loop's
 * poll(2) (libmosquitto's threaded loop and its reconnect logic are not
 * used).
 *
 * libmosquitto resolves the broker's name with a blocking getaddrinfo()
 * inside mosquitto_connect_async(), on the thread that calls it: ours, the
 * one that commits readings (issue 10). So the name is looked up first,
 * off this thread (resolve.c, one lookup at a time), and libmosquitto is
 * given a numeric address. A lookup stuck in the resolver is never waited
 * for: the attempt times out like a silent broker, the next attempt waits
 * for the same lookup rather than start another, and at release the
 * lookup is abandoned to its helper thread. TLS then needs our own
 * context (mqtt_conn_tls.c).
 */
#include "daemon/mqtt_conn.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/resolve.h"

/* libmosquitto's global state: initialised by the first client made. */
static unsigned mqtt_conn_lib_users;

static int mqtt_conn_client(struct mqtt_conn *c);

/* Longest the main loop may sleep while a socket is open: libmosquitto
 * counts keepalive in seconds and needs loop_misc() to send PINGREQ. */
#define MQTT_CONN_TICK_MS 1000
/* The password buffer's first size: a longer password makes getline()
 * move it, leaving a copy behind in freed memory. */
#define MQTT_CONN_PASSWORD_CAP 1024

void mqtt_conn_note(struct mqtt_conn *c, const char *why)
{
    if (c->why[0] == '\0')
        snprintf(c->why, sizeof(c->why), "%s", why);
}

void mqtt_conn_notef(struct mqtt_conn *c, const char *fmt, ...)
{
    char why[MQTT_CONN_WHY_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    mqtt_conn_note(c, why);
}

void mqtt_conn_note_rc(struct mqtt_conn *c, int rc, int errnum)
{
    if (rc == MOSQ_ERR_ERRNO)
        mqtt_conn_note(c, strerror(errnum));
    else if (rc == MOSQ_ERR_TLS && c->lib_err[0] != '\0')
        mqtt_conn_notef(c, "TLS: %s", c->lib_err);
    else
        mqtt_conn_note(c, mosquitto_strerror(rc));
}

/*
 * The attempt or connection is over: complain once per streak of the same
 * failure (counting the rest), and wait before the next attempt, twice as
 * long as the last time. A failed attempt starts the next one at the next
 * address of the broker's name.
 */
static void mqtt_conn_down(struct mqtt_conn *c, bool was_connected)
{
    if (c->why[0] == '\0')
        mqtt_conn_note(c, mosquitto_strerror(MOSQ_ERR_CONN_LOST));
    if (was_connected && c->dropping) {
        log_info("%s: disconnected from broker '%s:%d': %s", c->name, c->host,
                 c->port, c->why);
        c->streak_why[0] = '\0';
        c->streak_count = 0;
    } else if (was_connected) {
        log_warnx("%s: lost connection to broker '%s:%d': %s", c->name, c->host,
                  c->port, c->why);
        /* Complain about the first failure to reconnect, whatever. */
        c->streak_why[0] = '\0';
        c->streak_count = 0;
    } else if (strcmp(c->why, c->streak_why) != 0) {
        log_err("%s: cannot connect to broker '%s:%d': %s (retrying)", c->name,
                c->host, c->port, c->why);
        memcpy(c->streak_why, c->why, sizeof(c->why));
        c->streak_count = 1;
    } else {
        c->streak_count++;
        log_debug("%s: broker '%s:%d': %s (%u times)", c->name, c->host,
                  c->port, c->why, c->streak_count);
    }
    if (!was_connected)
        c->addr_next++;
    c->why[0] = '\0';
    c->lib_err[0] = '\0';
    c->connected = false;
    c->socket_open = false;
    c->resolving = false;
    c->next_ns = time_mono_ns() + c->backoff_ms * NS_PER_MS;
    c->backoff_ms *= 2;
    if (c->backoff_ms > c->backoff_max_ms)
        c->backoff_ms = c->backoff_max_ms;
    if (c->on_down)
        c->on_down(c->owner, was_connected);
}

/* libmosquitto's own packet traces (MOSQ_LOG_DEBUG) name every PUBLISH and
 * PUBACK: too many even for -v. Its other messages are debug for us; its
 * errors (why a TLS handshake failed) go into the complaint. */
static void mqtt_conn_on_log(struct mosquitto *mosq, void *arg, int level,
                             const char *str)
{
    struct mqtt_conn *c = arg;

    (void)mosq;
    if (level == MOSQ_LOG_DEBUG)
        return;
    log_debug("%s: %s", c->name, str);
    if (level == MOSQ_LOG_ERR)
        snprintf(c->lib_err, sizeof(c->lib_err), "%s", str);
}

/*
 * The first line of password_file, without its line end, or NULL after
 * noting why. The stream is unbuffered so that stdio keeps no copy; the
 * caller wipes and frees the result.
 */
static char *mqtt_conn_read_password(struct mqtt_conn *c)
{
    FILE *f = fopen(c->password_file, "re");
    size_t cap = MQTT_CONN_PASSWORD_CAP;
    char *line;
    ssize_t n;

    if (!f) {
        mqtt_conn_notef(c, "cannot read password_file '%s': %s",
                        c->password_file, strerror(errno));
        return NULL;
    }
    setvbuf(f, NULL, _IONBF, 0);
    line = xmalloc(cap);
    errno = 0;
    n = getline(&line, &cap, f);
    if (n < 0) {
        if (ferror(f))
            mqtt_conn_notef(c, "cannot read password_file '%s': %s",
                            c->password_file, strerror(errno));
        else
            mqtt_conn_notef(c, "password_file '%s' is empty", c->password_file);
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
static int mqtt_conn_credentials(struct mqtt_conn *c)
{
    char *password = NULL;
    int rc;

    if (!c->username)
        return 0;
    if (c->password_file && !(password = mqtt_conn_read_password(c)))
        return -1;
    rc = mosquitto_username_pw_set(c->mosq, c->username, password);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        mqtt_conn_notef(c, "cannot use username '%s': %s", c->username,
                        mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* Once per connection: a password is about to leave this host unencrypted. */
static void mqtt_conn_check_cleartext(struct mqtt_conn *c, const char *addr)
{
    if (c->cleartext_warned || !c->password_file || c->tls ||
        resolve_is_loopback(addr))
        return;
    c->cleartext_warned = true;
    log_warnx("%s: the password of '%s' goes to broker '%s:%d' (%s) in "
              "clear text: configure %s.tls",
              c->name, c->username, c->host, c->port, addr, c->name);
}

/*
 * Connects to the first address of r that takes a socket, starting at
 * addr_next, as libmosquitto would have done with the name (a refused
 * connection on loopback is known at once). The password is read now and
 * dropped from libmosquitto as soon as its CONNECT packet holds it.
 */
static void mqtt_conn_connect(struct mqtt_conn *c,
                              const struct resolve_result *r)
{
    if (r->rc != 0) {
        mqtt_conn_notef(c, "cannot resolve '%s': %s", c->host,
                        resolve_strerror(r));
        mqtt_conn_down(c, false);
        return;
    }
    if (r->n == 0) {
        mqtt_conn_notef(c, "'%s' has no IPv4 or IPv6 address", c->host);
        mqtt_conn_down(c, false);
        return;
    }
    if (mqtt_conn_credentials(c) < 0) {
        mqtt_conn_down(c, false);
        return;
    }
    /* libmosquitto sends the QoS 1 messages a lost connection left in
     * flight again after the next CONNACK, even with a clean session:
     * they would precede what the owner publishes first (a Sparkplug
     * NBIRTH). A fresh client has none. */
    if (c->params.clean_session && c->used) {
        mosquitto_destroy(c->mosq);
        c->mosq = NULL;
        if (mqtt_conn_client(c) < 0) {
            mqtt_conn_note(c, "cannot make a new client");
            mqtt_conn_down(c, false);
            return;
        }
    }
    c->used = true;
    if (c->on_attempt && c->on_attempt(c->owner) < 0) {
        mqtt_conn_down(c, false);
        return;
    }
    /* Until connected (mqtt_conn_connack()). */
    mosquitto_log_callback_set(c->mosq, mqtt_conn_on_log);
    for (size_t i = 0; i < r->n && !c->socket_open; i++) {
        size_t k = (c->addr_next + i) % r->n;
        int rc;

        errno = 0;
        rc = mosquitto_connect_async(c->mosq, r->addrs[k], c->port,
                                     c->keepalive_s);
        if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) >= 0) {
            c->socket_open = true;
            c->addr_next = k;
            if (strcmp(r->addrs[k], c->host) != 0)
                log_debug("%s: connecting to '%s' at %s", c->name, c->host,
                          r->addrs[k]);
            mqtt_conn_check_cleartext(c, r->addrs[k]);
        } else {
            mqtt_conn_note_rc(c, rc, errno);
        }
    }
    if (c->username)
        mosquitto_username_pw_set(c->mosq, c->username, NULL);
    if (!c->socket_open)
        mqtt_conn_down(c, false);
}

/*
 * Starts an attempt without waiting for it: a numeric host connects now; a
 * name is resolved on a helper thread first (mqtt_conn_resolved()), unless a
 * helper from an earlier attempt is still at it: then this attempt waits
 * for that one. A connect closes the previous socket, if any, itself.
 */
void mqtt_conn_attempt(struct mqtt_conn *c)
{
    char why[MQTT_CONN_WHY_MAX];

    c->why[0] = '\0';
    c->lib_err[0] = '\0';
    c->attempt_ns = time_mono_ns();
    if (c->job && resolve_done(c->job)) {
        /* Answered after its attempt gave up: look up again, fresh. */
        resolve_free(c->job);
        c->job = NULL;
    }
    if (!c->job && c->host_numeric) {
        struct resolve_result r;

        resolve_numeric(c->host, &r);
        mqtt_conn_connect(c, &r);
        return;
    }
    if (!c->job && !(c->job = resolve_start(c->host, why, sizeof(why)))) {
        mqtt_conn_note(c, why);
        mqtt_conn_down(c, false);
        return;
    }
    c->resolving = true;
}

/* The attempt waits for the name: connect once it is resolved; give up
 * after as long as a CONNACK may take (the helper goes on). */
static void mqtt_conn_resolved(struct mqtt_conn *c)
{
    const struct resolve_result *r = resolve_done(c->job);

    if (r) {
        c->resolving = false;
        mqtt_conn_connect(c, r);
        resolve_free(c->job);
        c->job = NULL;
        return;
    }
    if (time_mono_ns() - c->attempt_ns >= MQTT_CONN_TIMEOUT_MS * NS_PER_MS) {
        mqtt_conn_notef(c, "no answer from the resolver for '%s' within %d s",
                        c->host, MQTT_CONN_TIMEOUT_MS / 1000);
        mqtt_conn_down(c, false);
    }
}

int mqtt_conn_fd(const struct mqtt_conn *c)
{
    if (c->socket_open)
        return mosquitto_socket(c->mosq);
    return c->resolving ? resolve_fd(c->job) : -1;
}

bool mqtt_conn_wants_write(const struct mqtt_conn *c)
{
    return c->socket_open && mosquitto_want_write(c->mosq);
}

int mqtt_conn_ms_until(int64_t when_ns)
{
    int64_t left = when_ns - time_mono_ns();

    if (left <= 0)
        return 0;
    return (int)((left + NS_PER_MS - 1) / NS_PER_MS);
}

int mqtt_conn_timeout_ms(const struct mqtt_conn *c)
{
    int ms;

    if (c->resolving)
        return mqtt_conn_ms_until(c->attempt_ns +
                                  MQTT_CONN_TIMEOUT_MS * NS_PER_MS);
    if (!c->socket_open)
        return mqtt_conn_ms_until(c->next_ns);
    ms = MQTT_CONN_TICK_MS;
    if (!c->connected) {
        int left = mqtt_conn_ms_until(c->attempt_ns +
                                      MQTT_CONN_TIMEOUT_MS * NS_PER_MS);
        if (left < ms)
            ms = left;
    }
    return ms;
}

void mqtt_conn_service(struct mqtt_conn *c, bool readable, bool writable)
{
    bool was_connected = c->connected;
    int rc = MOSQ_ERR_SUCCESS;

    if (c->resolving) {
        mqtt_conn_resolved(c);
        return;
    }
    if (!c->socket_open) {
        if (time_mono_ns() >= c->next_ns)
            mqtt_conn_attempt(c);
        return;
    }
    if (readable)
        rc = mosquitto_loop_read(c->mosq, 1);
    /* Callbacks ran: a refused CONNACK has closed the socket by now. */
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) >= 0 &&
        (writable || mosquitto_want_write(c->mosq)))
        rc = mosquitto_loop_write(c->mosq, 1);
    if (rc == MOSQ_ERR_SUCCESS && mosquitto_socket(c->mosq) >= 0)
        rc = mosquitto_loop_misc(c->mosq);
    if (mosquitto_socket(c->mosq) < 0) {
        if (rc != MOSQ_ERR_SUCCESS)
            mqtt_conn_note_rc(c, rc, errno);
        mqtt_conn_down(c, was_connected || c->connected);
        return;
    }
    if (!c->connected &&
        time_mono_ns() - c->attempt_ns >= MQTT_CONN_TIMEOUT_MS * NS_PER_MS) {
        mqtt_conn_note(c, "no answer to CONNECT");
        mqtt_conn_down(c, false);
        /* The next attempt closes this socket; poll no more for it. */
    }
}

/* Makes c's libmosquitto client (obj: c) with its options, username and
 * TLS context, and lets the owner set its callbacks. Returns 0 or -1
 * (logged). */
static int mqtt_conn_client(struct mqtt_conn *c)
{
    const struct mqtt_conn_params *p = &c->params;
    int rc;

    c->mosq = mosquitto_new(p->client_id, p->clean_session, c);
    if (!c->mosq) {
        log_err("%s: cannot create client '%s': %s", c->name, p->client_id,
                strerror(errno));
        return -1;
    }
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         MQTT_PROTOCOL_V311);
    /* The password is read at each attempt; the username is checked now. */
    if (p->username && (rc = mosquitto_username_pw_set(
                            c->mosq, p->username, NULL)) != MOSQ_ERR_SUCCESS) {
        log_err("%s: cannot use username '%s': %s", c->name, p->username,
                mosquitto_strerror(rc));
        return -1;
    }
    if (c->tls && mqtt_conn_tls_setup(c, p) < 0)
        return -1;
    if (c->on_client)
        c->on_client(c->owner, c->mosq);
    return 0;
}

static char *mqtt_conn_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int mqtt_conn_init(struct mqtt_conn *c, const struct mqtt_conn_params *p,
                   void *owner,
                   void (*on_client)(void *owner, struct mosquitto *mosq))
{
    struct resolve_result numeric;

    memset(c, 0, sizeof(*c));
    if (mqtt_conn_lib_users++ == 0)
        mosquitto_lib_init();
    c->name = p->name;
    c->owner = owner;
    c->on_client = on_client;
    c->params = *p;
    c->params.client_id = mqtt_conn_dup(p->client_id);
    c->params.ca_file = mqtt_conn_dup(p->ca_file);
    c->params.cert_file = mqtt_conn_dup(p->cert_file);
    c->params.key_file = mqtt_conn_dup(p->key_file);
    c->host = xstrdup(p->host);
    c->params.host = c->host;
    c->port = p->port;
    c->host_numeric = resolve_numeric(p->host, &numeric) == 0;
    if (p->username)
        c->username = xstrdup(p->username);
    c->params.username = c->username;
    if (p->password_file)
        c->password_file = xstrdup(p->password_file);
    c->params.password_file = c->password_file;
    c->tls = p->ca_file || p->cert_file;
    c->keepalive_s = p->keepalive_s;
    c->backoff_ms = MQTT_CONN_BACKOFF_MIN_MS;
    c->backoff_max_ms =
        p->backoff_max_ms > 0 ? p->backoff_max_ms : MQTT_CONN_BACKOFF_MAX_MS;
    return mqtt_conn_client(c);
}

void mqtt_conn_release(struct mqtt_conn *c)
{
    if (!c->host)
        return;
    if (c->mosq)
        mosquitto_destroy(c->mosq);
    /* A lookup still running is not waited for: its helper frees it. */
    resolve_free(c->job);
    if (--mqtt_conn_lib_users == 0)
        mosquitto_lib_cleanup();
    free(c->host);
    free(c->username);
    free(c->password_file);
    free((char *)c->params.client_id);
    free((char *)c->params.ca_file);
    free((char *)c->params.cert_file);
    free((char *)c->params.key_file);
    memset(c, 0, sizeof(*c));
}

void mqtt_conn_connack(struct mqtt_conn *c, int rc)
{
    if (rc != 0) {
        mqtt_conn_note(c, mosquitto_connack_string(rc));
        return;
    }
    /* Connected: libmosquitto's log is only wanted to explain failed
     * attempts, and with a callback set it formats a line per packet. */
    mosquitto_log_callback_set(c->mosq, NULL);
    c->connected = true;
    c->backoff_ms = MQTT_CONN_BACKOFF_MIN_MS;
    if (c->streak_count > 0)
        log_info("%s: connected to broker %s:%d (after %u failed attempt%s)",
                 c->name, c->host, c->port, c->streak_count,
                 c->streak_count == 1 ? "" : "s");
    else
        log_info("%s: connected to broker %s:%d", c->name, c->host, c->port);
    c->streak_why[0] = '\0';
    c->streak_count = 0;
}

void mqtt_conn_disconnected(struct mqtt_conn *c, int rc)
{
    if (rc != MOSQ_ERR_SUCCESS)
        mqtt_conn_note_rc(c, rc, errno);
}

void mqtt_conn_drop(struct mqtt_conn *c, const char *why)
{
    bool was = c->connected;

    if (!c->socket_open)
        return;
    if (mosquitto_socket(c->mosq) >= 0) {
        mosquitto_disconnect(c->mosq);
        mosquitto_loop_write(c->mosq, 1);
    }
    mqtt_conn_note(c, why);
    c->dropping = true;
    mqtt_conn_down(c, was);
    c->dropping = false;
}
