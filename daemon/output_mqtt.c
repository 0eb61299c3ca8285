// SPDX-License-Identifier: MIT
/*
 * The JSON MQTT output (SPEC "MQTT"): committed readings read back from
 * the store, oldest first, handed to the publisher (publish.h) as far as
 * its window allows, one message per reading or, with the device layout,
 * per device and poll; the chain witness when it is due; the live feed
 * while the database cannot be written; the run topics. See output.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/devmsg.h"
#include "daemon/output.h"
#include "daemon/output_kinds.h"
#include "daemon/payload.h"
#include "daemon/publish.h"
#include "daemon/witness.h"

/* Readings read back from the database per query for publishing. */
#define MQTT_OUT_PAGE 500
struct mqtt_out {
    struct publisher *pub;
    struct store *store;
    char *site;
    enum mqtt_layout layout;
    struct devmsgs *dev; /* the device layout's messages, or NULL */
    bool dev_held;       /* the publisher refused, or its window is full */
    int64_t cursor;      /* highest seq handed to the publisher */
    struct witness_timer witness;
    /* A read of the store that failed is logged once, and its recovery
     * once: the loop tries again every turn. */
    bool read_failing, head_failing;
};

static bool mqtt_wanted(const struct config *c)
{
    return c->mqtt.enabled;
}

static bool mqtt_changed(const struct config *a, const struct config *b)
{
    return !config_mqtt_equal(a, b);
}

static void *mqtt_start(const struct output_env *env, int64_t acked)
{
    struct mqtt_out *m;
    struct publisher *pub =
        publisher_new(env->config, env->version, env->started_us);

    if (!pub)
        return NULL;
    m = xcalloc(1, sizeof(*m));
    m->pub = pub;
    m->store = env->store;
    m->site = xstrdup(env->config->site);
    m->layout = env->config->mqtt.layout;
    if (m->layout == MQTT_LAYOUT_DEVICE)
        m->dev = devmsgs_new(m->site);
    m->cursor = acked;
    publisher_set_acked(pub, acked);
    witness_timer_init(&m->witness, env->config->witness_interval_s,
                       time_mono_ns());
    return m;
}

static int mqtt_fd(const void *o)
{
    return publisher_fd(((const struct mqtt_out *)o)->pub);
}

static bool mqtt_wants_write(const void *o)
{
    return publisher_wants_write(((const struct mqtt_out *)o)->pub);
}

static int mqtt_timeout_ms(const void *o)
{
    return publisher_timeout_ms(((const struct mqtt_out *)o)->pub);
}

static void mqtt_service(void *o, bool readable, bool writable)
{
    publisher_service(((struct mqtt_out *)o)->pub, readable, writable);
}

static int mqtt_row(const struct reading_row *row, void *arg)
{
    struct mqtt_out *m = arg;

    if (publisher_send(m->pub, row) < 0)
        return 1;
    m->cursor = row->seq;
    return 0;
}

/* The chain witness (SPEC "The chain witness"): the newest chain head,
 * published retained every witness_interval_s at the first commit after
 * it, and when stopping. */
static void mqtt_witness(struct mqtt_out *m, int64_t last_seq, bool stopping)
{
    char head[SHA256_HEX_LEN];
    int64_t seq, now = time_mono_ns();

    if (!witness_timer_due(&m->witness, now, last_seq, stopping))
        return;
    if (store_chain_head(m->store, head, &seq) < 0) {
        if (!m->head_failing)
            log_err("chain witness: %s (tried again at every turn)",
                    store_errmsg(m->store));
        m->head_failing = true;
        return;
    }
    if (m->head_failing)
        log_info("chain witness: the chain head can be read again");
    m->head_failing = false;
    if (seq > 0)
        publisher_witness(m->pub, seq, head, time_real_us());
    witness_timer_done(&m->witness, now, seq);
}

/* Logs a failed read of the store once, and its recovery once. */
static void mqtt_read_outcome(struct mqtt_out *m, int n)
{
    if (n < 0 && !m->read_failing)
        log_err("cannot read readings to publish: %s (tried again "
                "at every turn)",
                store_errmsg(m->store));
    if (n >= 0 && m->read_failing)
        log_info("reading readings to publish again");
    m->read_failing = n < 0;
}

/* One message per reading. */
static void mqtt_pump_readings(struct mqtt_out *m, int64_t last_seq)
{
    size_t room;

    while (m->cursor < last_seq && (room = publisher_room(m->pub))) {
        int64_t before = m->cursor;
        int n = store_readings_after(
            m->store, m->cursor, room < MQTT_OUT_PAGE ? room : MQTT_OUT_PAGE,
            mqtt_row, m);

        mqtt_read_outcome(m, n);
        if (n <= 0)
            break;
        if (m->cursor == before)
            break; /* the publisher refused; offer it again later */
    }
}

static int mqtt_device_send(void *arg, const char *bus, int unit_id,
                            const char *payload, size_t len, int64_t watermark)
{
    struct mqtt_out *m = arg;

    return publisher_send_device(m->pub, bus, unit_id, payload, len, watermark);
}

static int mqtt_device_row(const struct reading_row *row, void *arg)
{
    struct mqtt_out *m = arg;

    if (publisher_room(m->pub) == 0 ||
        devmsgs_add(m->dev, row, mqtt_device_send, m) < 0) {
        m->dev_held = true;
        return 1;
    }
    m->cursor = row->seq;
    return 0;
}

/*
 * One message per device and poll (devmsg.h): m->cursor is the last row
 * added to a message, handed over or still open; once every committed
 * row is added, the open messages go too.
 */
static void mqtt_pump_devices(struct mqtt_out *m, int64_t last_seq)
{
    while (m->cursor < last_seq && publisher_room(m->pub)) {
        int n;

        m->dev_held = false;
        n = store_readings_after(m->store, m->cursor, MQTT_OUT_PAGE,
                                 mqtt_device_row, m);
        mqtt_read_outcome(m, n);
        if (n <= 0 || m->dev_held)
            return;
    }
    if (m->cursor >= last_seq && publisher_room(m->pub))
        devmsgs_flush(m->dev, m->cursor, mqtt_device_send, m);
}

static void mqtt_pump(void *o, int64_t last_seq, bool stopping)
{
    struct mqtt_out *m = o;

    if (publisher_take_rewind(m->pub)) {
        m->cursor = publisher_acked(m->pub);
        if (m->dev)
            devmsgs_reset(m->dev);
    }
    if (m->layout == MQTT_LAYOUT_DEVICE)
        mqtt_pump_devices(m, last_seq);
    else
        mqtt_pump_readings(m, last_seq);
    mqtt_witness(m, last_seq, stopping);
}

static int64_t mqtt_acked(const void *o)
{
    return publisher_acked(((const struct mqtt_out *)o)->pub);
}

static bool mqtt_connected(const void *o)
{
    return publisher_connected(((const struct mqtt_out *)o)->pub);
}

static void mqtt_live(void *o, const struct reading_row *row)
{
    struct mqtt_out *m = o;

    if (m->layout == MQTT_LAYOUT_DEVICE)
        publisher_send_device_live(m->pub, row);
    else
        publisher_send_live(m->pub, row);
}

static void mqtt_set_run(void *o, const char *payload)
{
    publisher_set_run(((struct mqtt_out *)o)->pub, payload);
}

static void mqtt_seal_run(void *o, const char *name, const char *payload)
{
    publisher_seal_run(((struct mqtt_out *)o)->pub, name, payload);
}

static void mqtt_reconfigure(void *o, const struct config *c)
{
    struct mqtt_out *m = o;

    witness_timer_set_interval(&m->witness, c->witness_interval_s,
                               time_mono_ns());
}

static void mqtt_stop(void *o, int timeout_ms)
{
    struct mqtt_out *m = o;

    publisher_close(m->pub, timeout_ms);
    devmsgs_free(m->dev);
    free(m->site);
    free(m);
}

const struct output_ops mqtt_output_ops = {
    .name = "mqtt",
    .acked_key = STORE_STATE_MQTT_ACKED,
    .wanted = mqtt_wanted,
    .changed = mqtt_changed,
    .start = mqtt_start,
    .fd = mqtt_fd,
    .wants_write = mqtt_wants_write,
    .timeout_ms = mqtt_timeout_ms,
    .service = mqtt_service,
    .pump = mqtt_pump,
    .acked = mqtt_acked,
    .connected = mqtt_connected,
    .live = mqtt_live,
    .set_run = mqtt_set_run,
    .seal_run = mqtt_seal_run,
    .reconfigure = mqtt_reconfigure,
    .stop = mqtt_stop,
};
