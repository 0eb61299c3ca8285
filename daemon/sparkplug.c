// SPDX-License-Identifier: MIT
/*
 * The Sparkplug B edge node's session (SPEC "Sparkplug B"; the readings
 * are spb_flow.c's): its own clean-session connection (mqtt_conn.h) whose
 * every attempt takes the next bdSeq (mod 256, persisted before the
 * attempt, so a kill -9 cannot reuse one) and sets the NDEATH will (QoS
 * 1) holding it; on a connection, NCMD (and the primary host's STATE)
 * subscribed, then NBIRTH and a DBIRTH per device, once the primary host
 * (if any) is online. NCMD Node Control/Rebirth publishes the births
 * again with the same bdSeq; a primary host's offline STATE, not older
 * than its online one, publishes NDEATH and disconnects (the next
 * connection waits for it to be online again).
 *
 * The acknowledged seq: every reading up to it was in a DDATA the broker
 * acknowledged (QoS 1), or that was written more than keepalive_s ago on
 * a connection that stayed up (QoS 0: what a lost connection may have
 * lost is published again, as historical, after the reconnect).
 */
#include "daemon/sparkplug.h"

#include <errno.h>
#include <jansson.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/sparkplug_private.h"

/* Sparkplug's sequence numbers and bdSeq wrap at 256. */
#define SPB_SEQ_MOD 256
/* The first DDATA window's size; it doubles up to SPB_FLIGHT_MAX. */
#define SPB_FLIGHT_FIRST 256

int spb_next_seq(struct sparkplug *s)
{
    int seq = (int)s->seq;

    s->seq = (s->seq + 1) % SPB_SEQ_MOD;
    return seq;
}

bool spb_room(const struct sparkplug *s)
{
    return s->conn.connected && s->n < SPB_FLIGHT_MAX;
}

bool spb_history_room(const struct sparkplug *s)
{
    return spb_room(s) && s->undone < SPB_HISTORY_WINDOW;
}

static void spb_track(struct sparkplug *s, int mid, int64_t min_seq)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : SPB_FLIGHT_FIRST;
        struct spb_flight *ring = xcalloc(cap, sizeof(*ring));

        for (size_t i = 0; i < s->n; i++)
            ring[i] = s->ring[(s->head + i) & (s->cap - 1)];
        free(s->ring);
        s->ring = ring;
        s->cap = cap;
        s->head = 0;
    }
    s->ring[(s->head + s->n++) & (s->cap - 1)] = (struct spb_flight){
        .min_seq = min_seq,
        .mid = mid,
        .done = mid == s->early_mid,
        .done_ns = s->early_ns,
    };
    if (mid != s->early_mid)
        s->undone++;
}

int spb_send(struct sparkplug *s, const char *topic, bool track,
             int64_t min_seq)
{
    int mid = 0, rc;

    s->early_mid = -1;
    /* Births and deaths at QoS 0, as the specification requires of
     * NBIRTH, DBIRTH and DDEATH; DDATA (tracked) at the configured qos. */
    rc = mosquitto_publish(s->conn.mosq, &mid, topic, (int)s->buf.len,
                           s->buf.data, track ? s->qos : 0, false);

    if (rc != MOSQ_ERR_SUCCESS) {
        log_debug("sparkplug: cannot publish on '%s': %s", topic,
                  mosquitto_strerror(rc));
        return -1;
    }
    if (track)
        spb_track(s, mid, min_seq);
    return 0;
}

/* --- the acknowledged seq ----------------------------------------------- */

static bool spb_matured(const struct sparkplug *s, const struct spb_flight *f,
                        int64_t now)
{
    return f->done &&
           (s->qos > 0 || now - f->done_ns >= s->keepalive_s * NS_PER_S);
}

static void spb_update_acked(struct sparkplug *s)
{
    int64_t now = time_mono_ns(), lo;

    while (s->n > 0 && spb_matured(s, &s->ring[s->head], now)) {
        s->head = (s->head + 1) & (s->cap - 1);
        s->n--;
    }
    if (!s->born)
        return;
    lo = spb_flow_owed(s);
    for (size_t i = 0; i < s->n; i++) {
        const struct spb_flight *f = &s->ring[(s->head + i) & (s->cap - 1)];

        if (!spb_matured(s, f, now) && f->min_seq < lo)
            lo = f->min_seq;
    }
    if (lo - 1 > s->acked)
        s->acked = lo - 1;
}

/* --- libmosquitto's callbacks ------------------------------------------- */

static void spb_on_publish(struct mosquitto *mosq, void *arg, int mid)
{
    struct sparkplug *s = ((struct mqtt_conn *)arg)->owner;

    (void)mosq;
    if (mid == s->ndeath_mid)
        s->ndeath_done = true;
    for (size_t i = 0; i < s->n; i++) {
        struct spb_flight *f = &s->ring[(s->head + i) & (s->cap - 1)];

        if (f->mid == mid && !f->done) {
            f->done = true;
            f->done_ns = time_mono_ns();
            s->undone--;
            return;
        }
    }
    /* A QoS 0 message is written inside mosquitto_publish(), before its
     * mid is known to spb_send(). */
    s->early_mid = mid;
    s->early_ns = time_mono_ns();
}

static void spb_on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    struct mqtt_conn *c = arg;
    struct sparkplug *s = c->owner;

    mqtt_conn_connack(c, rc);
    if (rc != 0)
        return;
    s->born = false;
    s->rebirth = false;
    s->drop = false;
    s->online = s->t_state == NULL;
    s->online_ts = -1;
    mosquitto_subscribe(mosq, NULL, s->t_ncmd, 1);
    if (s->t_state)
        mosquitto_subscribe(mosq, NULL, s->t_state, 1);
}

static void spb_on_disconnect(struct mosquitto *mosq, void *arg, int rc)
{
    (void)mosq;
    mqtt_conn_disconnected(arg, rc);
}

/* The primary host's STATE: {"online":bool,"timestamp":ms}. */
static void spb_on_state(struct sparkplug *s, const void *data, size_t len)
{
    json_t *j = json_loadb(data, len, 0, NULL);
    json_t *on = j ? json_object_get(j, "online") : NULL;
    json_t *ts = j ? json_object_get(j, "timestamp") : NULL;
    int64_t t = json_is_integer(ts) ? (int64_t)json_integer_value(ts) : 0;

    if (!json_is_boolean(on)) {
        log_warnx("sparkplug: STATE of '%s' is not {\"online\":..}",
                  s->config->sparkplug.primary_host);
    } else if (json_is_true(on)) {
        if (!s->online)
            log_info("sparkplug: primary host '%s' online",
                     s->config->sparkplug.primary_host);
        s->online = true;
        s->online_ts = t;
    } else if (t >= s->online_ts) {
        if (s->online || s->born)
            log_info("sparkplug: primary host '%s' offline",
                     s->config->sparkplug.primary_host);
        s->online = false;
        /* Born for a host that is gone: NDEATH and disconnect. */
        s->drop = s->born;
    }
    json_decref(j);
}

static void spb_on_message(struct mosquitto *mosq, void *arg,
                           const struct mosquitto_message *msg)
{
    struct sparkplug *s = ((struct mqtt_conn *)arg)->owner;

    (void)mosq;
    if (s->t_state && strcmp(msg->topic, s->t_state) == 0) {
        spb_on_state(s, msg->payload, (size_t)msg->payloadlen);
    } else if (strcmp(msg->topic, s->t_ncmd) == 0) {
        int r = spb_decode_rebirth(msg->payload, (size_t)msg->payloadlen);

        if (r < 0)
            log_warnx("sparkplug: NCMD is no Sparkplug B payload");
        else if (r > 0 && s->born) {
            log_info("sparkplug: rebirth asked for (NCMD)");
            s->rebirth = true;
        }
    }
}

/* --- the connection ----------------------------------------------------- */

/* The NDEATH payload: bdSeq alone, no seq. */
static void spb_encode_ndeath(struct sparkplug *s)
{
    struct spb_metric m = {
        .name = "bdSeq", .type = SPB_UINT64, .value = s->bdseq};

    spb_encode(&s->buf, time_real_us() / 1000, -1, &m, 1);
}

/* Before each attempt: the next bdSeq (after a session that used one),
 * persisted first, in the will. */
static int spb_on_attempt(void *owner)
{
    struct sparkplug *s = owner;
    int rc;

    if (s->bdseq_used) {
        s->bdseq = (s->bdseq + 1) % SPB_SEQ_MOD;
        if (store_set_state(s->store, SPARKPLUG_STATE_BDSEQ, s->bdseq) < 0)
            log_warnx("sparkplug: cannot keep bdSeq %d: %s", s->bdseq,
                      store_errmsg(s->store));
        s->bdseq_used = false;
    }
    spb_encode_ndeath(s);
    rc = mosquitto_will_set(s->conn.mosq, s->t_ndeath, (int)s->buf.len,
                            s->buf.data, 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        mqtt_conn_notef(&s->conn, "cannot set the NDEATH will: %s",
                        mosquitto_strerror(rc));
        return -1;
    }
    return 0;
}

/* The connection is gone: what was in flight and not acknowledged is owed
 * again from the acknowledged seq at the next births. */
static void spb_on_down(void *owner, bool was_connected)
{
    struct sparkplug *s = owner;

    if (was_connected)
        s->bdseq_used = true;
    /* A QoS 0 DDATA written just before the loss was noticed may be lost:
     * only what matured at the last pump counts. */
    if (s->qos > 0)
        spb_update_acked(s);
    s->head = s->n = s->undone = 0;
    s->born = false;
    s->drop = false;
}

static void spb_births(struct sparkplug *s)
{
    bool fresh = !s->born;
    struct spb_metric m[3] = {
        {.name = "bdSeq", .type = SPB_UINT64, .value = s->bdseq},
        {.name = SPB_REBIRTH, .type = SPB_BOOLEAN, .value = 0},
        {.name = "Node Info/Version", .type = SPB_STRING, .text = s->version},
    };

    s->seq = 0;
    spb_encode(&s->buf, time_real_us() / 1000, spb_next_seq(s), m, 3);
    if (spb_send(s, s->t_nbirth, false, 0) < 0)
        return;
    spb_flow_births(s, fresh);
    s->born = true;
    s->rebirth = false;
    log_info("sparkplug: births published (bdSeq %d, %zu device%s)", s->bdseq,
             s->ndevs, s->ndevs == 1 ? "" : "s");
}

/* The primary host went offline: NDEATH, then DISCONNECT. */
static void spb_leave(struct sparkplug *s)
{
    spb_encode_ndeath(s);
    mosquitto_publish(s->conn.mosq, NULL, s->t_ndeath, (int)s->buf.len,
                      s->buf.data, 1, false);
    spb_update_acked(s);
    mqtt_conn_drop(&s->conn, "the primary host is offline");
}

static void spb_on_client(void *owner, struct mosquitto *mosq)
{
    (void)owner;
    mosquitto_connect_callback_set(mosq, spb_on_connect);
    mosquitto_disconnect_callback_set(mosq, spb_on_disconnect);
    mosquitto_publish_callback_set(mosq, spb_on_publish);
    mosquitto_message_callback_set(mosq, spb_on_message);
}

/* --- the output's ops --------------------------------------------------- */

static bool spb_wanted(const struct config *c)
{
    return c->sparkplug.enabled;
}

static bool spb_changed(const struct config *a, const struct config *b)
{
    return !config_sparkplug_equal(a, b) || !spb_flow_same(a, b);
}

static void spb_free(struct sparkplug *s)
{
    mqtt_conn_release(&s->conn);
    spb_flow_release(s);
    spb_buf_release(&s->buf);
    free(s->ring);
    free(s->version);
    free(s->t_nbirth);
    free(s->t_ndeath);
    free(s->t_ncmd);
    free(s->t_state);
    free(s);
}

static void *spb_start(const struct output_env *env, int64_t acked)
{
    const struct sparkplug_conf *p = &env->config->sparkplug;
    struct sparkplug *s = xcalloc(1, sizeof(*s));
    struct mqtt_conn_params cp = {
        .name = "sparkplug",
        .client_id = p->client_id,
        .clean_session = true,
        .host = p->host,
        .port = p->port,
        .username = p->username,
        .password_file = p->password_file,
        .ca_file = p->ca_file,
        .cert_file = p->cert_file,
        .key_file = p->key_file,
        .keepalive_s = p->keepalive_s,
    };
    int64_t bdseq;

    s->store = env->store;
    s->config = env->config;
    s->version = xstrdup(env->version);
    s->qos = p->qos;
    s->keepalive_s = p->keepalive_s;
    s->acked = acked;
    s->last_seq = acked;
    s->live_cursor = acked;
    s->ndeath_mid = -1;
    s->early_mid = -1;
    s->t_nbirth = xasprintf("spBv1.0/%s/NBIRTH/%s", p->group_id, p->edge_node);
    s->t_ndeath = xasprintf("spBv1.0/%s/NDEATH/%s", p->group_id, p->edge_node);
    s->t_ncmd = xasprintf("spBv1.0/%s/NCMD/%s", p->group_id, p->edge_node);
    if (p->primary_host)
        s->t_state = xasprintf("spBv1.0/STATE/%s", p->primary_host);
    /* The attempt takes the next one: the first connection's is 0. */
    if (store_get_state(s->store, SPARKPLUG_STATE_BDSEQ, &bdseq) == 0)
        s->bdseq = (int)(bdseq % SPB_SEQ_MOD);
    else
        s->bdseq = SPB_SEQ_MOD - 1;
    s->bdseq_used = true; /* a process before this one may have used it */
    spb_flow_init(s, env->config);
    if (mqtt_conn_init(&s->conn, &cp, s, spb_on_client) < 0) {
        spb_free(s);
        return NULL;
    }
    s->conn.on_attempt = spb_on_attempt;
    s->conn.on_down = spb_on_down;
    mqtt_conn_attempt(&s->conn);
    return s;
}

static int spb_fd(const void *o)
{
    return mqtt_conn_fd(&((const struct sparkplug *)o)->conn);
}

static bool spb_wants_write(const void *o)
{
    return mqtt_conn_wants_write(&((const struct sparkplug *)o)->conn);
}

static int spb_timeout_ms(const void *o)
{
    return mqtt_conn_timeout_ms(&((const struct sparkplug *)o)->conn);
}

static void spb_service(void *o, bool readable, bool writable)
{
    struct sparkplug *s = o;

    mqtt_conn_service(&s->conn, readable, writable);
    if (s->drop && s->conn.connected)
        spb_leave(s);
}

static void spb_pump(void *o, int64_t last_seq, bool stopping)
{
    struct sparkplug *s = o;

    (void)stopping;
    if (last_seq > s->last_seq)
        s->last_seq = last_seq;
    if (s->conn.connected && s->online && !s->drop) {
        if (!s->born || s->rebirth)
            spb_births(s);
        if (s->born)
            spb_flow_pump(s);
    }
    spb_update_acked(s);
}

static int64_t spb_acked(const void *o)
{
    return ((const struct sparkplug *)o)->acked;
}

static bool spb_connected(const void *o)
{
    return ((const struct sparkplug *)o)->conn.connected;
}

/* Says NDEATH itself (the broker drops the will at DISCONNECT) and waits
 * at most timeout_ms for it and the DDATA in flight. */
static void spb_stop(void *o, int timeout_ms)
{
    struct sparkplug *s = o;
    int64_t deadline = time_mono_ns() + (int64_t)timeout_ms * NS_PER_MS;

    if (s->conn.connected) {
        spb_encode_ndeath(s);
        if (mosquitto_publish(s->conn.mosq, &s->ndeath_mid, s->t_ndeath,
                              (int)s->buf.len, s->buf.data, 1,
                              false) != MOSQ_ERR_SUCCESS)
            s->ndeath_done = true;
    }
    while (s->conn.connected && !s->ndeath_done) {
        struct pollfd pfd = {.fd = mqtt_conn_fd(&s->conn), .events = POLLIN};
        int ms = mqtt_conn_ms_until(deadline);

        if (ms == 0 || pfd.fd < 0)
            break;
        if (mqtt_conn_wants_write(&s->conn))
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
            break;
        mqtt_conn_service(&s->conn, pfd.revents & (POLLIN | POLLERR | POLLHUP),
                          pfd.revents & POLLOUT);
    }
    mqtt_conn_drop(&s->conn, "stopping");
    spb_free(s);
}

const struct output_ops sparkplug_output_ops = {
    .name = "sparkplug",
    .acked_key = STORE_STATE_SPARKPLUG_ACKED,
    .wanted = spb_wanted,
    .changed = spb_changed,
    .start = spb_start,
    .fd = spb_fd,
    .wants_write = spb_wants_write,
    .timeout_ms = spb_timeout_ms,
    .service = spb_service,
    .pump = spb_pump,
    .acked = spb_acked,
    .connected = spb_connected,
    .stop = spb_stop,
};
