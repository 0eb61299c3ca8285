// SPDX-License-Identifier: MIT
/*
 * The MQTT session, with libmosquitto: creating and closing the
 * publisher, a window of readings in flight in send order, the contiguous
 * acknowledged watermark the main loop persists, the retained topics
 * published again at every connect, and libmosquitto's connect and publish
 * callbacks. The connection itself (attempts, the resolver hand-off,
 * credentials, complaints and backoff, TLS, the socket) is a struct
 * mqtt_conn (mqtt_conn.h) with a persistent session: one libmosquitto
 * client for the publisher's life, so what is in flight survives a
 * reconnection as described below.
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
 */
#include "daemon/publish.h"

#include <inttypes.h>
#include <limits.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/mqtt_conn.h"

/*
 * QoS 2 messages libmosquitto lets out at once; it queues the rest of the
 * window itself and releases them as PUBCOMPs arrive. mosquitto 2.0.11
 * allows a client max_inflight_messages (default 20) QoS 2 messages
 * awaiting PUBREL, and over that answers an MQTT 3.1.1 client with a plain
 * PUBREC and drops the message: the client cannot tell. Found by
 * tests/unit/test_publish.c (a burst of QoS 2 readings lost all but 20).
 */
#define PUBLISH_QOS2_INFLIGHT 16
/* Longest wait for one poll(2) while publisher_close() flushes. */
#define PUBLISH_FLUSH_POLL_MS 100
/* Longest topic: prefix, site, kind and sensor are bounded by the config. */
#define PUBLISH_TOPIC_MAX 512
/* CONNACK flags: the broker resumed a session it kept for this client. */
#define PUBLISH_SESSION_PRESENT 0x01

/* One reading in flight. mid is written by mosquitto_publish(). */
struct flight {
    int64_t seq;
    int mid;
    bool done;
};

struct publisher {
    struct mqtt_conn conn; /* conn.owner is the publisher */
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

    struct flight *ring; /* PUBLISH_WINDOW entries, oldest at head */
    size_t head, n;
    int64_t acked;
    bool rewind;

    int offline_mid; /* the offline status sent by publisher_close() */
    bool offline_done;
};

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

/* --- the retained topics and libmosquitto's callbacks ------------------ */

static int publish_retained(struct publisher *p, const char *topic,
                            const char *payload, int *mid)
{
    int rc = mosquitto_publish(p->conn.mosq, mid, topic, (int)strlen(payload),
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

/* libmosquitto's callbacks: their obj is p->conn. */
static void publish_on_connect(struct mosquitto *mosq, void *arg, int rc,
                               int flags)
{
    struct publisher *p = ((struct mqtt_conn *)arg)->owner;

    (void)mosq;
    mqtt_conn_connack(&p->conn, rc);
    if (rc != 0)
        return;
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
    (void)mosq;
    mqtt_conn_disconnected(arg, rc);
}

static void publish_on_publish(struct mosquitto *mosq, void *arg, int mid)
{
    struct publisher *p = ((struct mqtt_conn *)arg)->owner;

    (void)mosq;
    if (mid == p->offline_mid)
        p->offline_done = true;
    if (p->witness_pending && mid == p->witness_mid)
        p->witness_pending = false;
    publish_ack(p, mid);
}

/* The connection is over, or an attempt failed (mqtt_conn's on_down). */
static void publish_on_down(void *owner, bool was_connected)
{
    struct publisher *p = owner;

    (void)was_connected;
    /* Published again at the next connect. */
    p->witness_pending = false;
    if (p->qos == 0)
        publish_drop_window(p, "QoS 0 messages not written are lost");
}

/* mqtt_conn's on_client: the callbacks of the session's one client. */
static void publish_on_client(void *owner, struct mosquitto *mosq)
{
    (void)owner;
    mosquitto_connect_with_flags_callback_set(mosq, publish_on_connect);
    mosquitto_disconnect_callback_set(mosq, publish_on_disconnect);
    mosquitto_publish_callback_set(mosq, publish_on_publish);
}

/* What the client needs beyond mqtt_conn's settings: the send maximum and
 * the will. Set once: a persistent session keeps its client. */
static int publish_setup(struct publisher *p)
{
    int rc = mosquitto_int_option(p->conn.mosq, MOSQ_OPT_SEND_MAXIMUM,
                                  p->qos == 2 ? PUBLISH_QOS2_INFLIGHT
                                              : PUBLISH_INFLIGHT);

    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: cannot set the send maximum: %s",
                mosquitto_strerror(rc));
        return -1;
    }
    rc = mosquitto_will_set(p->conn.mosq, p->status_topic,
                            (int)strlen(PAYLOAD_OFFLINE), PAYLOAD_OFFLINE,
                            p->qos, true);
    if (rc != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: cannot set the will on '%s': %s", p->status_topic,
                mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* Frees p and what it holds; the connection, if any, is dropped without
 * a word (the broker then publishes the will). */
static void publish_free(struct publisher *p)
{
    mqtt_conn_release(&p->conn);
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

struct publisher *publisher_new(const struct config *c, const char *version,
                                int64_t started_us)
{
    const struct mqtt_conf *m = &c->mqtt;
    struct publisher *p = xcalloc(1, sizeof(*p));
    struct mqtt_conn_params cp = {
        .name = "mqtt",
        .client_id = m->client_id,
        .clean_session = false,
        .host = m->host,
        .port = m->port,
        .username = m->username,
        .password_file = m->password_file,
        .ca_file = m->ca_file,
        .cert_file = m->cert_file,
        .key_file = m->key_file,
        .keepalive_s = m->keepalive_s,
        .backoff_max_ms = PUBLISH_BACKOFF_MAX_MS,
    };

    p->qos = m->qos;
    p->retain = m->retain;
    p->prefix = xstrdup(m->topic_prefix);
    p->site = xstrdup(c->site);
    p->status_topic = xasprintf("%s/%s/status", p->prefix, p->site);
    p->run_topic = xasprintf("%s/%s/run", p->prefix, p->site);
    p->chain_topic = xasprintf("%s/%s/chain", p->prefix, p->site);
    p->run_payload = xstrdup(PAYLOAD_IDLE);
    p->ring = xcalloc(PUBLISH_WINDOW, sizeof(*p->ring));
    p->offline_mid = -1;
    p->witness_mid = -1;

    p->online = xmalloc(PAYLOAD_MAX);
    if (payload_online(p->online, PAYLOAD_MAX, version, started_us) < 0) {
        log_err("mqtt: version '%s' is too long", version);
        goto fail;
    }
    if (mqtt_conn_init(&p->conn, &cp, p, publish_on_client) < 0 ||
        publish_setup(p) < 0)
        goto fail;
    p->conn.on_down = publish_on_down;
    mqtt_conn_attempt(&p->conn);
    return p;

fail:
    publish_free(p);
    return NULL;
}

int publisher_fd(const struct publisher *p)
{
    return mqtt_conn_fd(&p->conn);
}

bool publisher_wants_write(const struct publisher *p)
{
    return mqtt_conn_wants_write(&p->conn);
}

int publisher_timeout_ms(const struct publisher *p)
{
    return mqtt_conn_timeout_ms(&p->conn);
}

void publisher_service(struct publisher *p, bool readable, bool writable)
{
    mqtt_conn_service(&p->conn, readable, writable);
}

bool publisher_connected(const struct publisher *p)
{
    return p->conn.connected;
}

size_t publisher_room(const struct publisher *p)
{
    return p->conn.connected ? PUBLISH_WINDOW - p->n : 0;
}

/* The topic and payload of r; returns the payload's length, or -1 if
 * either does not fit. */
static int publish_format(const struct publisher *p,
                          const struct reading_row *r,
                          char topic[PUBLISH_TOPIC_MAX],
                          char payload[PAYLOAD_MAX])
{
    int len = payload_reading(payload, PAYLOAD_MAX, p->site, r);

    if (len < 0 || payload_topic(topic, PUBLISH_TOPIC_MAX, p->prefix, p->site,
                                 r->kind, r->sensor) < 0)
        return -1;
    return len;
}

/* Counts seq as delivered without sending anything: what cannot be sent
 * at all (said by the caller) must not hold the watermark back. */
static void publish_skip(struct publisher *p, int64_t seq)
{
    struct flight *f = publish_slot(p, p->n);

    *f = (struct flight){seq, -1, true};
    p->n++;
    publish_ack(p, -2);
}

/* Sends one tracked message; once acknowledged, every reading up to seq
 * counts as delivered. The caller checked publisher_room(). */
static int publish_tracked(struct publisher *p, const char *topic,
                           const char *payload, int len, int64_t seq)
{
    /* The slot exists before the call: for QoS 0, on_publish runs inside
     * mosquitto_publish() once the packet is written, and must find it. */
    struct flight *f = publish_slot(p, p->n);
    int rc;

    *f = (struct flight){seq, -1, false};
    p->n++;
    rc = mosquitto_publish(p->conn.mosq, &f->mid, topic, len, payload, p->qos,
                           p->retain);
    if (rc != MOSQ_ERR_SUCCESS) {
        /* Still the newest: nothing after it was sent. */
        if (p->n > 0 && publish_slot(p, p->n - 1) == f && !f->done)
            p->n--;
        log_debug("mqtt: message up to seq %" PRId64 " not sent: %s", seq,
                  mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

int publisher_send(struct publisher *p, const struct reading_row *r)
{
    char topic[PUBLISH_TOPIC_MAX];
    char payload[PAYLOAD_MAX];
    int len;

    if (publisher_room(p) == 0)
        return -1;
    len = publish_format(p, r, topic, payload);
    if (len < 0) {
        log_warnx("mqtt: reading %" PRId64 " of '%s' does not fit, skipped",
                  r->seq, r->sensor);
        /* Skipping it is the only way past it; say so above. */
        publish_skip(p, r->seq);
        return 0;
    }
    return publish_tracked(p, topic, payload, len, r->seq);
}

/* <prefix>/<site>/device/<bus>/<unit_id>, or -1 if it does not fit. */
static int publish_device_topic(const struct publisher *p,
                                char topic[PUBLISH_TOPIC_MAX], const char *bus,
                                int unit_id)
{
    int n = snprintf(topic, PUBLISH_TOPIC_MAX, "%s/%s/device/%s/%d", p->prefix,
                     p->site, bus, unit_id);

    return n < 0 || n >= PUBLISH_TOPIC_MAX ? -1 : 0;
}

int publisher_send_device(struct publisher *p, const char *bus, int unit_id,
                          const char *payload, size_t len, int64_t watermark)
{
    char topic[PUBLISH_TOPIC_MAX];

    if (publisher_room(p) == 0)
        return -1;
    if (publish_device_topic(p, topic, bus, unit_id) < 0 || len > INT_MAX) {
        log_warnx("mqtt: the message of bus '%s' unit %d up to seq %" PRId64
                  " does not fit, skipped",
                  bus, unit_id, watermark);
        publish_skip(p, watermark);
        return 0;
    }
    return publish_tracked(p, topic, payload, (int)len, watermark);
}

/* Sends an untracked QoS 0 message of the live feed (publisher_send_live()
 * says when). */
static int publish_live(struct publisher *p, const char *topic,
                        const char *payload, int len)
{
    /*
     * Only while nothing tracked is in flight: a live message's mid comes
     * from the same 16-bit counter, and once round the counter it could
     * pass for a tracked reading's acknowledgement. And only while the
     * socket takes what is sent: libmosquitto would queue QoS 0 messages
     * it cannot write without bound.
     */
    if (!p->conn.connected || p->n > 0 || mosquitto_want_write(p->conn.mosq))
        return -1;
    /* QoS 0 and untracked: on_publish sees a mid no flight holds. */
    return mosquitto_publish(p->conn.mosq, NULL, topic, len, payload, 0,
                             p->retain) == MOSQ_ERR_SUCCESS
               ? 0
               : -1;
}

int publisher_send_live(struct publisher *p, const struct reading_row *r)
{
    char topic[PUBLISH_TOPIC_MAX];
    char payload[PAYLOAD_MAX];
    int len = publish_format(p, r, topic, payload);

    return len < 0 ? -1 : publish_live(p, topic, payload, len);
}

int publisher_send_device_live(struct publisher *p, const struct reading_row *r)
{
    char topic[PUBLISH_TOPIC_MAX];
    char payload[2 * PAYLOAD_MAX];
    int head, len;

    if (publish_device_topic(p, topic, r->bus, r->unit_id) < 0 ||
        (head = payload_device_head(payload, sizeof(payload), p->site, r->bus,
                                    r->unit_id)) < 0 ||
        (len = payload_device_reading(payload + head, PAYLOAD_MAX, r)) < 0)
        return -1;
    memcpy(payload + head + len, PAYLOAD_DEVICE_TAIL,
           sizeof(PAYLOAD_DEVICE_TAIL));
    return publish_live(p, topic, payload,
                        head + len + (int)strlen(PAYLOAD_DEVICE_TAIL));
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
    if (p->conn.connected)
        publish_retained(p, p->run_topic, p->run_payload, NULL);
}

void publisher_seal_run(struct publisher *p, const char *name,
                        const char *payload)
{
    char *topic = xasprintf("%s/%s/runs/%s", p->prefix, p->site, name);

    xgrow(&p->sealed_topics, &p->cap_topics, p->nsealed + 1, sizeof(char *));
    xgrow(&p->sealed_payloads, &p->cap_payloads, p->nsealed + 1,
          sizeof(char *));
    p->sealed_topics[p->nsealed] = topic;
    p->sealed_payloads[p->nsealed] = xstrdup(payload);
    p->nsealed++;
    if (p->conn.connected)
        publish_retained(p, topic, payload, NULL);
}

void publisher_witness(struct publisher *p, int64_t seq, const char *head,
                       int64_t ts_us)
{
    char payload[PAYLOAD_MAX];

    if (payload_witness(payload, sizeof(payload), seq, head, ts_us) < 0) {
        log_warnx("mqtt: the chain witness of seq %" PRId64
                  " does not fit, skipped",
                  seq);
        return;
    }
    free(p->chain_payload);
    p->chain_payload = xstrdup(payload);
    p->chain_seq = seq;
    if (p->conn.connected)
        publish_witness_now(p);
}

/* Services the socket until the offline status, the readings in flight
 * and the chain witness are acknowledged, or the deadline, whichever
 * first. */
static void publish_flush(struct publisher *p, int64_t deadline_ns)
{
    while (p->conn.connected &&
           (!p->offline_done || p->n > 0 || p->witness_pending)) {
        struct pollfd pfd;
        int ms = mqtt_conn_ms_until(deadline_ns);

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

void publisher_close(struct publisher *p, int timeout_ms)
{
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * NS_PER_MS;

    if (!p)
        return;
    if (p->conn.connected) {
        int rc = mosquitto_publish(
            p->conn.mosq, &p->offline_mid, p->status_topic,
            (int)strlen(PAYLOAD_OFFLINE), PAYLOAD_OFFLINE, p->qos, true);

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
    if (p->conn.socket_open && mosquitto_socket(p->conn.mosq) >= 0) {
        /* Sends DISCONNECT if it can: the broker then drops the will. */
        mosquitto_disconnect(p->conn.mosq);
        mosquitto_loop_write(p->conn.mosq, 1);
    }
    publish_free(p);
}
