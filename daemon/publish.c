// SPDX-License-Identifier: MIT
/*
 * MQTT publishing with libmosquitto, driven by the main loop's poll(2):
 * this file is the only one that includes mosquitto.h. It keeps its own
 * connection state (libmosquitto's threaded loop and its reconnect logic are
 * not used), a window of readings in flight in send order, and the
 * contiguous acknowledged watermark the main loop persists.
 *
 * What libmosquitto 2.0.11 does with messages in flight when the connection
 * drops, read in its source (lib/connect.c, lib/messages_mosq.c,
 * lib/handle_connack.c) and verified by test_resend in
 * tests/unit/test_publish.c against a real mosquitto 2.0.11, through a proxy
 * that holds either direction and then cuts the connection:
 *
 * - QoS 1 and 2 messages stay in the client's out list across a reconnect.
 *   At CONNACK 0, whatever the broker says about the session, they are sent
 *   again (after whatever on_connect published): a PUBLISH with DUP set for
 *   QoS 1 and for QoS 2 without PUBREC, a PUBREL for QoS 2 that had its
 *   PUBREC. on_publish then fires at PUBACK or PUBCOMP as usual, with the
 *   same mids, so tracking survives the reconnect.
 * - Broker kept the session (it stayed up, or restarted with persistence):
 *   every message arrives, QoS 1 and 2. Verified.
 * - Broker lost the session (restarted without persistence, CONNACK says no
 *   session present): QoS 1 arrives, the re-sent PUBLISH is a new message to
 *   it; so does QoS 2 cut before PUBREC. QoS 2 cut after PUBREC is lost: the
 *   broker holds a QoS 2 message until PUBREL and lost it with the session,
 *   yet answers the re-sent PUBREL with PUBCOMP, and on_publish fires for a
 *   message no subscriber ever sees (test: 12 acknowledged, 0 delivered).
 *   CONNACK does not say which messages were past PUBREC, so for QoS 2
 *   without a session all tracking is dropped and the caller rewinds
 *   (publisher_take_rewind()). libmosquitto's stale re-sends still go out:
 *   harmless duplicates whose mids match nothing any more.
 * - QoS 0 messages not yet written when the connection drops are discarded
 *   with the socket and never reach on_publish: tracking is dropped at the
 *   disconnect and the caller rewinds.
 *
 * One more loss, in the broker: see PUBLISH_QOS2_INFLIGHT.
 *
 * libmosquitto resolves the broker's name with a blocking getaddrinfo()
 * inside mosquitto_connect_async(), on the thread that calls it: ours, the
 * one that commits readings. A resolver that does not answer held it for
 * the resolver's whole timeout at every attempt (issue 10). So the name is
 * looked up first, off this thread (resolve.c, one lookup at a time), and
 * libmosquitto is given a numeric address, which its getaddrinfo() parses
 * without asking anyone. A lookup stuck in the resolver is never waited
 * for: the attempt times out like a silent broker, the next attempt waits
 * for the same lookup rather than start another, and at free the lookup is
 * abandoned to its helper thread.
 *
 * TLS then cannot be left to libmosquitto: it checks the broker's
 * certificate against the host string given to connect (and sends it as
 * SNI), which is now an address. The publisher builds the TLS context
 * itself (MOSQ_OPT_SSL_CTX, without libmosquitto's defaults): OpenSSL
 * checks the certificate against the configured name or address
 * (X509_VERIFY_PARAM_set1_host or _set1_ip_asc), and the configured name
 * replaces the SNI libmosquitto set, at the start of each handshake.
 */
#include "daemon/publish.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/resolve.h"

/* Messages besides readings that may be in flight together: the online or
 * offline status, the run topic and the chain witness. libmosquitto's send
 * maximum leaves them room, so a full window of readings never makes it
 * queue. */
#define PUBLISH_EXTRA_INFLIGHT 5
/*
 * QoS 2 messages libmosquitto lets out at once; it queues the rest of the
 * window itself and releases them as PUBCOMPs arrive. mosquitto 2.0.11
 * allows a client max_inflight_messages (default 20) QoS 2 messages
 * awaiting PUBREL, and over that answers an MQTT 3.1.1 client with a plain
 * PUBREC and drops the message: the client cannot tell. Found by
 * tests/unit/test_publish.c (a burst of QoS 2 readings lost all but 20).
 */
#define PUBLISH_QOS2_INFLIGHT 16
/* Longest a connection may take to reach CONNACK before it is abandoned and
 * tried again: a broker that accepts TCP and never answers must not hold us
 * for a whole keepalive (up to an hour). */
#define PUBLISH_CONNECT_TIMEOUT_MS 10000
/* Longest the main loop may sleep while a socket is open: libmosquitto
 * counts keepalive in seconds and needs loop_misc() to send PINGREQ. */
#define PUBLISH_TICK_MS 1000
/* Longest wait for one poll(2) while publisher_free() flushes. */
#define PUBLISH_FLUSH_POLL_MS 100
/* Longest topic: prefix, site, kind and sensor are bounded by the config. */
#define PUBLISH_TOPIC_MAX 512
/* Longest reason text kept for the next complaint, and of libmosquitto's
 * last error message, which goes into it. */
#define PUBLISH_WHY_MAX 160
#define PUBLISH_LIB_ERR_MAX 128
/* CONNACK flags: the broker resumed a session it kept for this client. */
#define PUBLISH_SESSION_PRESENT 0x01
/* The password buffer's first size: a longer password makes getline()
 * move it, leaving a copy behind in freed memory. */
#define PUBLISH_PASSWORD_CAP 1024

static const char publish_offline[] = "{\"state\":\"offline\"}";
static const char publish_idle[] = "{\"state\":\"idle\"}";

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
     * connect; publisher_free() waits for it while witness_pending. */
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

    int offline_mid; /* the offline status sent by publisher_free() */
    bool offline_done;
};

/* libmosquitto's global state is initialised once for all publishers. */
static unsigned publish_lib_users;

/* --- payloads ---------------------------------------------------------- */

/* A bounded output buffer; once over, everything after is dropped. */
struct out {
    char *buf;
    size_t len, pos;
    bool over;
};

static void out_raw(struct out *o, const char *s, size_t n)
{
    if (o->over || n >= o->len - o->pos) {
        o->over = true;
        return;
    }
    memcpy(o->buf + o->pos, s, n);
    o->pos += n;
    o->buf[o->pos] = '\0';
}

static void out_str(struct out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

/* A JSON string: quotes, backslashes and every control character escaped,
 * because error texts come from libmodbus and may hold anything. */
static void out_json(struct out *o, const char *s)
{
    char tmp[JSONW_STRING_MAX(PUBLISH_PAYLOAD_MAX)];
    size_t n;

    if (!s) {
        out_str(o, "null");
        return;
    }
    n = strlen(s);
    if (n > PUBLISH_PAYLOAD_MAX) {
        o->over = true; /* could never fit a payload */
        return;
    }
    out_raw(o, tmp, (size_t)(jsonw_string(tmp, s, n) - tmp));
}

static void out_int(struct out *o, int64_t v)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%" PRId64, v);
    out_str(o, tmp);
}

/* The shortest of %.15g, %.16g and %.17g that reads back to the same bits;
 * %.17g always does. JSON has no NaN or infinity: those are null. */
static void out_double(struct out *o, double v)
{
    char tmp[JSONW_DOUBLE_MAX];

    out_raw(o, tmp, (size_t)(jsonw_double(tmp, v) - tmp));
}

int payload_reading(char *buf, size_t len, const char *site,
                    const struct pub_reading *r)
{
    struct out o = {buf, len, 0, len == 0};
    char ts[TIME_ISO_LEN];

    if (len > 0)
        buf[0] = '\0';
    time_format_iso(r->ts_us, ts);
    out_str(&o, "{\"seq\":");
    if (r->seq > 0)
        out_int(&o, r->seq);
    else
        out_str(&o, "null");
    out_str(&o, ",\"site\":");
    out_json(&o, site);
    out_str(&o, ",\"sensor\":");
    out_json(&o, r->sensor);
    out_str(&o, ",\"kind\":");
    out_json(&o, r->kind);
    out_str(&o, ",\"ts\":");
    out_json(&o, ts);
    out_str(&o, ",\"ts_us\":");
    out_int(&o, r->ts_us);
    out_str(&o, ",\"value\":");
    if (r->has_value)
        out_double(&o, r->value);
    else
        out_str(&o, "null");
    out_str(&o, ",\"unit\":");
    out_json(&o, r->unit);
    out_str(&o, ",\"quality\":");
    out_json(&o, r->quality);
    if (r->error) {
        out_str(&o, ",\"error\":");
        out_json(&o, r->error);
    }
    if (r->run) {
        out_str(&o, ",\"run\":");
        out_json(&o, r->run);
    }
    if (r->seq <= 0)
        out_str(&o, ",\"recorded\":false");
    out_str(&o, "}");
    if (o.over) {
        if (len > 0)
            buf[0] = '\0';
        return -1;
    }
    return (int)o.pos;
}

static int publish_topic(char *buf, size_t len, const char *prefix,
                         const char *site, const char *kind, const char *sensor)
{
    int n = snprintf(buf, len, "%s/%s/%s/%s", prefix, site, kind, sensor);

    if (n < 0 || (size_t)n >= len) {
        if (len > 0)
            buf[0] = '\0';
        return -1;
    }
    return n;
}

/* ,"key":"<ISO time>" or null when us is 0 */
static void out_time(struct out *o, const char *key, int64_t us)
{
    char ts[TIME_ISO_LEN];

    out_str(o, key);
    if (us == 0) {
        out_str(o, "null");
        return;
    }
    time_format_iso(us, ts);
    out_json(o, ts);
}

/* ,"key":"text" or null */
static void out_json_or_null(struct out *o, const char *key, const char *s)
{
    out_str(o, key);
    if (s)
        out_json(o, s);
    else
        out_str(o, "null");
}

static int out_end(struct out *o, char *buf, size_t len)
{
    if (o->over) {
        if (len > 0)
            buf[0] = '\0';
        return -1;
    }
    return (int)o->pos;
}

int payload_run(char *buf, size_t len, const struct pub_run *r)
{
    struct out o = {buf, len, 0, len == 0};

    if (len > 0)
        buf[0] = '\0';
    if (!r->name) {
        out_str(&o, "{\"state\":\"idle\"}");
        return out_end(&o, buf, len);
    }
    out_str(&o, "{\"name\":");
    out_json(&o, r->name);
    out_time(&o, ",\"started\":", r->started_us);
    out_json_or_null(&o, ",\"operator\":", r->operator_name);
    if (r->sealed) {
        out_time(&o, ",\"ended\":", r->ended_us);
        out_json_or_null(&o, ",\"chain_head\":", r->chain_head);
        out_str(&o, ",\"chain_seq\":");
        out_int(&o, r->chain_seq);
        out_str(&o, ",\"readings\":");
        out_int(&o, r->readings);
    }
    out_str(&o, "}");
    return out_end(&o, buf, len);
}

int payload_witness(char *buf, size_t len, int64_t seq, const char *head,
                    int64_t ts_us)
{
    struct out o = {buf, len, 0, len == 0};

    if (len > 0)
        buf[0] = '\0';
    out_str(&o, "{\"seq\":");
    out_int(&o, seq);
    out_str(&o, ",\"head\":");
    out_json(&o, head);
    out_time(&o, ",\"ts\":", ts_us);
    out_str(&o, "}");
    return out_end(&o, buf, len);
}

/* --- when a witness is due --------------------------------------------- */

void pub_witness_init(struct pub_witness_timer *t, int interval_s,
                      int64_t now_ns)
{
    t->interval_ns = interval_s > 0 ? (int64_t)interval_s * NS_PER_S : 0;
    t->next_ns = now_ns + t->interval_ns;
    t->seq = 0;
}

void pub_witness_set_interval(struct pub_witness_timer *t, int interval_s,
                              int64_t now_ns)
{
    int64_t seq = t->seq;

    if (t->interval_ns == (interval_s > 0 ? (int64_t)interval_s * NS_PER_S : 0))
        return;
    pub_witness_init(t, interval_s, now_ns);
    t->seq = seq;
}

bool pub_witness_due(const struct pub_witness_timer *t, int64_t now_ns,
                     int64_t last_seq, bool stopping)
{
    return t->interval_ns > 0 && last_seq > t->seq &&
           (stopping || now_ns >= t->next_ns);
}

void pub_witness_done(struct pub_witness_timer *t, int64_t now_ns, int64_t seq)
{
    t->seq = seq;
    /* A witness at stop, before its time, leaves the grid alone. */
    if (t->interval_ns == 0 || now_ns < t->next_ns)
        return;
    t->next_ns += t->interval_ns;
    if (t->next_ns <= now_ns)
        t->next_ns = now_ns + t->interval_ns;
}

int topic_reading(char *buf, size_t len, const struct config *c,
                  const char *kind, const char *sensor)
{
    return publish_topic(buf, len, c->mqtt.topic_prefix, c->site, kind, sensor);
}

static char *publish_sprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *publish_sprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* --- the window of readings in flight ---------------------------------- */

static struct flight *publish_slot(struct publisher *p, size_t i)
{
    return &p->ring[(p->head + i) % PUBLISH_WINDOW];
}

/* Acknowledged: the watermark moves over every finished entry at the
 * head. Unknown mids (status, run, re-sends after a rewind) are ignored. */
static void publish_ack(struct publisher *p, int mid)
{
    for (size_t i = 0; i < p->n; i++) {
        struct flight *f = publish_slot(p, i);

        if (f->mid == mid && !f->done) {
            f->done = true;
            break;
        }
    }
    while (p->n > 0 && p->ring[p->head].done) {
        p->acked = p->ring[p->head].seq;
        p->head = (p->head + 1) % PUBLISH_WINDOW;
        p->n--;
    }
}

/* Forgets everything in flight; the caller offers it again. */
static void publish_drop_window(struct publisher *p, const char *why)
{
    if (p->n == 0)
        return;
    log_info("mqtt: %zu readings after seq %" PRId64 " will be sent again (%s)",
             p->n, p->acked, why);
    p->head = 0;
    p->n = 0;
    p->rewind = true;
}

/* --- connection -------------------------------------------------------- */

/* Notes why the connection failed; the first note since the last attempt
 * wins (a refused CONNACK is also a closed connection). */
static void publish_note(struct publisher *p, const char *why)
{
    if (p->why[0] == '\0')
        snprintf(p->why, sizeof(p->why), "%s", why);
}

static void publish_notef(struct publisher *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void publish_notef(struct publisher *p, const char *fmt, ...)
{
    char why[PUBLISH_WHY_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    publish_note(p, why);
}

/* Notes a libmosquitto error: MOSQ_ERR_ERRNO means errno says, and for
 * TLS its log callback said what went wrong just before. */
static void publish_note_rc(struct publisher *p, int rc, int errnum)
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
static void publish_attempt(struct publisher *p)
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

static int publish_retained(struct publisher *p, const char *topic,
                            const char *payload, int *mid)
{
    int rc = mosquitto_publish(p->mosq, mid, topic, (int)strlen(payload),
                               payload, p->qos, true);

    if (rc != MOSQ_ERR_SUCCESS) {
        log_warnx("mqtt: cannot publish '%s': %s", topic,
                  mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* The newest chain witness, tracked until the broker has it. */
static void publish_witness_now(struct publisher *p)
{
    p->witness_pending = publish_retained(p, p->chain_topic, p->chain_payload,
                                          &p->witness_mid) == 0;
}
static void publish_on_connect(struct mosquitto *mosq, void *arg, int rc,
                               int flags)
{
    struct publisher *p = arg;

    if (rc != 0) {
        publish_note(p, mosquitto_connack_string(rc));
        return;
    }
    /* Connected: libmosquitto's log is only wanted to explain failed
     * attempts (TLS says why only there), and with a callback set it
     * formats a debug line into a fresh allocation for every packet. */
    mosquitto_log_callback_set(mosq, NULL);
    p->connected = true;
    p->backoff_ms = PUBLISH_BACKOFF_MIN_MS;
    if (p->streak_count > 0)
        log_info("mqtt: connected to broker %s:%d (after %u failed "
                 "attempt%s)",
                 p->host, p->port, p->streak_count,
                 p->streak_count == 1 ? "" : "s");
    else
        log_info("mqtt: connected to broker %s:%d", p->host, p->port);
    p->streak_why[0] = '\0';
    p->streak_count = 0;
    if (p->qos == 2 && !(flags & PUBLISH_SESSION_PRESENT))
        publish_drop_window(p, "the broker lost the session");
    publish_retained(p, p->status_topic, p->online, NULL);
    publish_retained(p, p->run_topic, p->run_payload, NULL);
    for (size_t i = 0; i < p->nsealed; i++)
        publish_retained(p, p->sealed_topics[i], p->sealed_payloads[i], NULL);
    if (p->chain_payload)
        publish_witness_now(p);
}

static void publish_on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
    struct publisher *p = arg;

    (void)mosq;
    if (rc != MOSQ_ERR_SUCCESS)
        publish_note_rc(p, rc, errno);
}

static void publish_on_publish(struct mosquitto *mosq, void *arg, int mid)
{
    struct publisher *p = arg;

    (void)mosq;
    if (mid == p->offline_mid)
        p->offline_done = true;
    if (p->witness_pending && mid == p->witness_mid)
        p->witness_pending = false;
    publish_ack(p, mid);
}

/* --- TLS --------------------------------------------------------------- */

/* The SSL_CTX ex_data slot holding the publisher, for the callbacks. */
static int publish_tls_slot = -1;

static struct publisher *publish_tls_owner(const SSL *ssl)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), publish_tls_slot);
}

/* OpenSSL's oldest queued error as text, and the queue emptied. */
static const char *publish_tls_error(void)
{
    static char buf[PUBLISH_LIB_ERR_MAX];
    unsigned long e = ERR_get_error();

    if (e == 0)
        snprintf(buf, sizeof(buf), "unknown error");
    else
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return buf;
}

/* Says why the broker's certificate was refused (libmosquitto only says
 * "certificate verify failed"). */
static int publish_tls_verify(int ok, X509_STORE_CTX *x)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct publisher *p = ssl ? publish_tls_owner(ssl) : NULL;

    if (!ok && p)
        publish_notef(
            p, "TLS: broker certificate refused: %s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
    return ok;
}

/* At the start of each handshake, before the ClientHello is written: the
 * configured name as SNI, in place of the address libmosquitto set. */
static void publish_tls_info(const SSL *ssl, int where, int ret)
{
    struct publisher *p;

    (void)ret;
    if (!(where & SSL_CB_HANDSHAKE_START))
        return;
    p = publish_tls_owner(ssl);
    /* OpenSSL hands the callback a const SSL it owns and may change. */
    if (p && !p->host_numeric)
        SSL_set_tlsext_host_name((SSL *)ssl, p->host);
}

/*
 * The TLS context, made here rather than by libmosquitto (see the top of
 * the file): at least TLS 1.2, the CA file or else the system's CAs, the
 * client certificate and key, and the broker's certificate checked for
 * the configured host. Files are read now: returns -1 after logging why
 * if one cannot be used.
 */
static int publish_tls_setup(struct publisher *p, const struct mqtt_conf *m)
{
    char ip[RESOLVE_ADDR_LEN];
    const char *what = NULL, *file = NULL;
    X509_VERIFY_PARAM *vp;
    SSL_CTX *ctx;
    int rc;

    if (publish_tls_slot < 0)
        publish_tls_slot = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx || publish_tls_slot < 0) {
        log_err("mqtt.tls: cannot make a TLS context: %s", publish_tls_error());
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (m->ca_file ? SSL_CTX_load_verify_locations(ctx, m->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
        what = "ca_file";
        file = m->ca_file ? m->ca_file : "(the system's)";
        goto fail;
    }
    if (m->cert_file &&
        SSL_CTX_use_certificate_chain_file(ctx, m->cert_file) != 1) {
        what = "cert_file";
        file = m->cert_file;
        goto fail;
    }
    if (m->key_file &&
        (SSL_CTX_use_PrivateKey_file(ctx, m->key_file, SSL_FILETYPE_PEM) != 1 ||
         SSL_CTX_check_private_key(ctx) != 1)) {
        what = "key_file";
        file = m->key_file;
        goto fail;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, publish_tls_verify);
    vp = SSL_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (p->host_numeric) {
        /* An address's scope (fe80::1%eth0) is not in certificates. */
        snprintf(ip, sizeof(ip), "%s", p->host);
        ip[strcspn(ip, "%")] = '\0';
        rc = X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
    } else {
        rc = X509_VERIFY_PARAM_set1_host(vp, p->host, 0);
    }
    if (rc != 1) {
        log_err("mqtt.tls: cannot check certificates for host '%s': %s",
                p->host, publish_tls_error());
        SSL_CTX_free(ctx);
        return -1;
    }
    SSL_CTX_set_ex_data(ctx, publish_tls_slot, p);
    SSL_CTX_set_info_callback(ctx, publish_tls_info);
    mosquitto_int_option(p->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    rc = mosquitto_void_option(p->mosq, MOSQ_OPT_SSL_CTX, ctx);
    /* libmosquitto holds a reference of its own until destroyed. */
    SSL_CTX_free(ctx);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("mqtt.tls: libmosquitto refuses the TLS context: %s",
                mosquitto_strerror(rc));
        return -1;
    }
    return 0;

fail:
    log_err("mqtt.tls: cannot use %s '%s': %s", what, file,
            publish_tls_error());
    SSL_CTX_free(ctx);
    return -1;
}

static int publish_setup(struct publisher *p, const struct mqtt_conf *m)
{
    int rc;

    mosquitto_int_option(p->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                         MQTT_PROTOCOL_V311);
    rc = mosquitto_int_option(p->mosq, MOSQ_OPT_SEND_MAXIMUM,
                              m->qos == 2
                                  ? PUBLISH_QOS2_INFLIGHT
                                  : PUBLISH_WINDOW + PUBLISH_EXTRA_INFLIGHT);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: cannot set the send maximum: %s",
                mosquitto_strerror(rc));
        return -1;
    }
    mosquitto_connect_with_flags_callback_set(p->mosq, publish_on_connect);
    mosquitto_disconnect_callback_set(p->mosq, publish_on_disconnect);
    mosquitto_publish_callback_set(p->mosq, publish_on_publish);

    /* The password is read at each attempt; the username is checked now. */
    if (m->username && (rc = mosquitto_username_pw_set(
                            p->mosq, m->username, NULL)) != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: cannot use username '%s': %s", m->username,
                mosquitto_strerror(rc));
        return -1;
    }
    if (p->tls && publish_tls_setup(p, m) < 0)
        return -1;

    rc = mosquitto_will_set(p->mosq, p->status_topic,
                            (int)strlen(publish_offline), publish_offline,
                            p->qos, true);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: cannot set the will on '%s': %s", p->status_topic,
                mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

struct publisher *publisher_new(const struct config *c, const char *version,
                                int64_t started_us)
{
    const struct mqtt_conf *m = &c->mqtt;
    struct publisher *p = xcalloc(1, sizeof(*p));
    struct resolve_result numeric;
    char since[TIME_ISO_LEN];
    struct out o;

    if (publish_lib_users++ == 0)
        mosquitto_lib_init();
    p->host = xstrdup(m->host);
    p->port = m->port;
    p->host_numeric = resolve_numeric(m->host, &numeric) == 0;
    if (m->username)
        p->username = xstrdup(m->username);
    if (m->password_file)
        p->password_file = xstrdup(m->password_file);
    p->tls = m->ca_file || m->cert_file;
    p->keepalive_s = m->keepalive_s;
    p->qos = m->qos;
    p->retain = m->retain;
    p->prefix = xstrdup(m->topic_prefix);
    p->site = xstrdup(c->site);
    p->status_topic = publish_sprintf("%s/%s/status", p->prefix, p->site);
    p->run_topic = publish_sprintf("%s/%s/run", p->prefix, p->site);
    p->chain_topic = publish_sprintf("%s/%s/chain", p->prefix, p->site);
    p->run_payload = xstrdup(publish_idle);
    p->ring = xcalloc(PUBLISH_WINDOW, sizeof(*p->ring));
    p->backoff_ms = PUBLISH_BACKOFF_MIN_MS;
    p->offline_mid = -1;
    p->witness_mid = -1;

    /* The version is ours, but escaped all the same. */
    time_format_iso(started_us, since);
    p->online = xmalloc(PUBLISH_PAYLOAD_MAX);
    o = (struct out){p->online, PUBLISH_PAYLOAD_MAX, 0, false};
    out_str(&o, "{\"state\":\"online\",\"version\":");
    out_json(&o, version);
    out_str(&o, ",\"since\":");
    out_json(&o, since);
    out_str(&o, "}");
    if (o.over) {
        log_err("mqtt: version '%s' is too long", version);
        goto fail;
    }

    p->mosq = mosquitto_new(m->client_id, false, p);
    if (!p->mosq) {
        log_err("mqtt: cannot create client '%s': %s", m->client_id,
                strerror(errno));
        goto fail;
    }
    if (publish_setup(p, m) < 0)
        goto fail;
    publish_attempt(p);
    return p;

fail:
    publisher_free(p, 0);
    return NULL;
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

static int publish_ms_until(int64_t when_ns)
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

bool publisher_connected(const struct publisher *p)
{
    return p->connected;
}

size_t publisher_room(const struct publisher *p)
{
    return p->connected ? PUBLISH_WINDOW - p->n : 0;
}

int publisher_send(struct publisher *p, const struct pub_reading *r)
{
    char topic[PUBLISH_TOPIC_MAX];
    char payload[PUBLISH_PAYLOAD_MAX];
    struct flight *f;
    int len, rc;

    if (publisher_room(p) == 0)
        return -1;
    len = payload_reading(payload, sizeof(payload), p->site, r);
    if (len < 0 || publish_topic(topic, sizeof(topic), p->prefix, p->site,
                                 r->kind, r->sensor) < 0) {
        log_warnx("mqtt: reading %" PRId64 " of '%s' does not fit, skipped",
                  r->seq, r->sensor);
        /* Skipping it is the only way past it; say so above. */
        f = publish_slot(p, p->n);
        *f = (struct flight){r->seq, -1, true};
        p->n++;
        publish_ack(p, -2);
        return 0;
    }
    /* The slot exists before the call: for QoS 0, on_publish runs inside
     * mosquitto_publish() once the packet is written, and must find it. */
    f = publish_slot(p, p->n);
    *f = (struct flight){r->seq, -1, false};
    p->n++;
    rc = mosquitto_publish(p->mosq, &f->mid, topic, len, payload, p->qos,
                           p->retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        /* Still the newest: nothing after it was sent. */
        if (p->n > 0 && publish_slot(p, p->n - 1) == f && !f->done)
            p->n--;
        log_debug("mqtt: reading %" PRId64 " not sent: %s", r->seq,
                  mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

int publisher_send_live(struct publisher *p, const struct pub_reading *r)
{
    char topic[PUBLISH_TOPIC_MAX];
    char payload[PUBLISH_PAYLOAD_MAX];
    int len;

    /*
     * Only while nothing tracked is in flight: a live message's mid comes
     * from the same 16-bit counter, and once round the counter it could
     * pass for a tracked reading's acknowledgement. And only while the
     * socket takes what is sent: libmosquitto would queue QoS 0 messages
     * it cannot write without bound.
     */
    if (!p->connected || p->n > 0 || mosquitto_want_write(p->mosq))
        return -1;
    len = payload_reading(payload, sizeof(payload), p->site, r);
    if (len < 0 || publish_topic(topic, sizeof(topic), p->prefix, p->site,
                                 r->kind, r->sensor) < 0)
        return -1;
    /* QoS 0 and untracked: on_publish sees a mid no flight holds. */
    return mosquitto_publish(p->mosq, NULL, topic, len, payload, 0,
                             p->retain) == MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

int64_t publisher_acked(const struct publisher *p)
{
    return p->acked;
}

void publisher_set_acked(struct publisher *p, int64_t seq)
{
    p->acked = seq;
}

bool publisher_take_rewind(struct publisher *p)
{
    bool r = p->rewind;

    p->rewind = false;
    return r;
}

void publisher_set_run(struct publisher *p, const char *payload)
{
    free(p->run_payload);
    p->run_payload = xstrdup(payload);
    if (p->connected)
        publish_retained(p, p->run_topic, p->run_payload, NULL);
}

void publisher_seal_run(struct publisher *p, const char *name,
                        const char *payload)
{
    size_t len = strlen(p->prefix) + strlen(p->site) + strlen(name) + 8;
    char *topic = xmalloc(len);

    snprintf(topic, len, "%s/%s/runs/%s", p->prefix, p->site, name);
    xgrow(&p->sealed_topics, &p->cap_topics, p->nsealed + 1, sizeof(char *));
    xgrow(&p->sealed_payloads, &p->cap_payloads, p->nsealed + 1,
          sizeof(char *));
    p->sealed_topics[p->nsealed] = topic;
    p->sealed_payloads[p->nsealed] = xstrdup(payload);
    p->nsealed++;
    if (p->connected)
        publish_retained(p, topic, payload, NULL);
}

void publisher_witness(struct publisher *p, int64_t seq, const char *head,
                       int64_t ts_us)
{
    char payload[PUBLISH_PAYLOAD_MAX];

    if (payload_witness(payload, sizeof(payload), seq, head, ts_us) < 0) {
        log_warnx("mqtt: the chain witness of seq %" PRId64
                  " does not fit, skipped",
                  seq);
        return;
    }
    free(p->chain_payload);
    p->chain_payload = xstrdup(payload);
    p->chain_seq = seq;
    if (p->connected)
        publish_witness_now(p);
}

/* Services the socket until the offline status, the readings in flight
 * and the chain witness are acknowledged, or the deadline, whichever
 * first. */
static void publish_flush(struct publisher *p, int64_t deadline_ns)
{
    while (p->connected &&
           (!p->offline_done || p->n > 0 || p->witness_pending)) {
        struct pollfd pfd;
        int ms = publish_ms_until(deadline_ns);

        if (ms <= 0)
            break;
        if (ms > PUBLISH_FLUSH_POLL_MS)
            ms = PUBLISH_FLUSH_POLL_MS;
        pfd.fd = publisher_fd(p);
        pfd.events = POLLIN | (publisher_wants_write(p) ? POLLOUT : 0);
        pfd.revents = 0;
        if (pfd.fd < 0 || poll(&pfd, 1, ms) < 0)
            break;
        publisher_service(p, pfd.revents & (POLLIN | POLLERR | POLLHUP),
                          pfd.revents & POLLOUT);
    }
}

void publisher_free(struct publisher *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->mosq) {
        int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * NS_PER_MS;

        if (p->connected) {
            int rc = mosquitto_publish(
                p->mosq, &p->offline_mid, p->status_topic,
                (int)strlen(publish_offline), publish_offline, p->qos, true);

            p->offline_done = rc != MOSQ_ERR_SUCCESS;
            publish_flush(p, deadline);
            if (!p->offline_done && timeout_ms > 0)
                log_warnx("mqtt: offline status not acknowledged within "
                          "%d ms",
                          timeout_ms);
            if (p->witness_pending && timeout_ms > 0)
                log_warnx("mqtt: chain witness of seq %" PRId64
                          " not acknowledged within %d ms",
                          p->chain_seq, timeout_ms);
        }
        if (p->socket_open && mosquitto_socket(p->mosq) >= 0) {
            /* Sends DISCONNECT if it can: the broker then drops the will. */
            mosquitto_disconnect(p->mosq);
            mosquitto_loop_write(p->mosq, 1);
        }
        mosquitto_destroy(p->mosq);
    }
    /* A lookup still running is not waited for: its helper frees it when
     * done, or the process ends first. */
    resolve_free(p->job);
    if (--publish_lib_users == 0)
        mosquitto_lib_cleanup();
    free(p->host);
    free(p->username);
    free(p->password_file);
    free(p->prefix);
    free(p->site);
    free(p->status_topic);
    free(p->run_topic);
    free(p->chain_topic);
    free(p->chain_payload);
    free(p->online);
    free(p->run_payload);
    for (size_t i = 0; i < p->nsealed; i++) {
        free(p->sealed_topics[i]);
        free(p->sealed_payloads[i]);
    }
    free(p->sealed_topics);
    free(p->sealed_payloads);
    free(p->ring);
    free(p);
}
