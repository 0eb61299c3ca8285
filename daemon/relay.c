// SPDX-License-Identifier: MIT
/*
 * The relay from the store to the broker: see relay.h.
 */
#include "daemon/relay.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/util.h"
#include "drivers/kind.h"
#include "version.h"

void relay_init(struct relay *r, struct store *s)
{
    *r = (struct relay){.store = s};
}

int relay_start(struct relay *r, const struct config *c, int64_t last_seq,
                int64_t started_us)
{
    int64_t acked;
    int absent;

    if (!c->mqtt.enabled)
        return 0;
    if ((absent = store_get_state(r->store, STORE_STATE_MQTT_ACKED, &acked)) <
        0) {
        log_err("%s", store_errmsg(r->store));
        return -1;
    }
    if (absent) {
        if (last_seq > 0)
            log_info("publishing from this database for the first time; "
                     "its %lld earlier readings are not published",
                     (long long)last_seq);
        acked = last_seq;
    }
    if (acked > last_seq) {
        log_warnx("acknowledged seq %lld is beyond the last reading %lld; "
                  "publishing from the last reading",
                  (long long)acked, (long long)last_seq);
        acked = last_seq;
    }
    if (store_set_state(r->store, STORE_STATE_MQTT_ACKED, acked) < 0) {
        log_err("%s", store_errmsg(r->store));
        return -1;
    }
    if (!(r->pub = publisher_new(c, TBDAQ_VERSION, started_us)))
        return -1;
    publisher_set_acked(r->pub, acked);
    witness_timer_init(&r->witness, c->witness_interval_s, time_mono_ns());
    r->cursor = acked;
    r->acked_saved = acked;
    if (acked < last_seq)
        log_info("%lld readings not yet acknowledged by the broker will be "
                 "published first",
                 (long long)(last_seq - acked));
    return 0;
}

void relay_stop(struct relay *r, int64_t last_seq, bool db_down, int publish_ms,
                int offline_ms, void (*turn)(void *), void *arg)
{
    int64_t give_up = time_mono_ns() + publish_ms * NS_PER_MS;

    if (!r->pub)
        return;
    while (publisher_connected(r->pub) && publisher_acked(r->pub) < last_seq &&
           time_mono_ns() < give_up) {
        relay_pump(r, last_seq, false, db_down);
        turn(arg);
    }
    relay_pump(r, last_seq, true, db_down);
    if (publisher_acked(r->pub) < last_seq)
        log_info("%lld readings not acknowledged by the broker; they are "
                 "published after the next start",
                 (long long)(last_seq - publisher_acked(r->pub)));
    publisher_close(r->pub, offline_ms);
    r->pub = NULL;
}

void relay_release(struct relay *r)
{
    if (r->pub)
        publisher_close(r->pub, 0);
    r->pub = NULL;
    free(r->by_db_id);
    r->by_db_id = NULL;
    r->nby_db_id = 0;
}

void relay_index(struct relay *r, const struct config *c)
{
    size_t n = 1;

    for (size_t i = 0; i < c->nsensors; i++)
        if (c->sensors[i].db_id >= (int64_t)n)
            n = (size_t)c->sensors[i].db_id + 1;
    free(r->by_db_id);
    r->by_db_id = xcalloc(n, sizeof(*r->by_db_id));
    r->nby_db_id = n;
    for (size_t i = 0; i < c->nsensors; i++)
        if (c->sensors[i].db_id > 0)
            r->by_db_id[c->sensors[i].db_id] = &c->sensors[i];
}

void relay_live(struct relay *r, const struct reading *rd, const char *run)
{
    const struct sensor_conf *sc;
    struct reading_row row;

    if (!r->pub || rd->sensor_id < 0 || (size_t)rd->sensor_id >= r->nby_db_id ||
        !(sc = r->by_db_id[rd->sensor_id]))
        return;
    row = (struct reading_row){
        .ts_us = rd->ts_us, /* seq 0: not recorded yet */
        .sensor = sc->id,
        .kind = kind_name(sc->kind),
        .unit = sc->unit,
        .has_value = reading_has_value(rd),
        .value = rd->value,
        .quality = quality_name(rd->quality),
        .error = reading_error(rd),
        .run = run,
    };
    publisher_send_live(r->pub, &row);
}

static int relay_row(const struct reading_row *row, void *arg)
{
    struct relay *r = arg;

    if (publisher_send(r->pub, row) < 0)
        return 1;
    r->cursor = row->seq;
    return 0;
}

void relay_pump(struct relay *r, int64_t last_seq, bool save_now, bool db_down)
{
    size_t room;
    int64_t acked, now;

    if (!r->pub)
        return;
    if (publisher_take_rewind(r->pub))
        r->cursor = publisher_acked(r->pub);
    while (r->cursor < last_seq && (room = publisher_room(r->pub))) {
        int64_t before = r->cursor;
        int n = store_readings_after(r->store, r->cursor,
                                     room < RELAY_PAGE ? room : RELAY_PAGE,
                                     relay_row, r);

        if (n < 0 && !r->read_failing)
            log_err("cannot read readings to publish: %s (tried again "
                    "at every turn)",
                    store_errmsg(r->store));
        if (n >= 0 && r->read_failing)
            log_info("reading readings to publish again");
        r->read_failing = n < 0;
        if (n <= 0)
            break;
        if (r->cursor == before)
            break; /* the publisher refused; offer it again later */
    }
    acked = publisher_acked(r->pub);
    now = time_mono_ns();
    if (acked != r->acked_saved && !db_down &&
        (save_now || now >= r->acked_save_at)) {
        if (store_set_state(r->store, STORE_STATE_MQTT_ACKED, acked) == 0)
            r->acked_saved = acked;
        else if (!store_busy(r->store)) /* a lock: next time */
            log_err("%s", store_errmsg(r->store));
        r->acked_save_at = now + RELAY_ACKED_SAVE_MS * NS_PER_MS;
    }
}

void relay_witness(struct relay *r, int64_t last_seq, bool stopping)
{
    char head[SHA256_HEX_LEN];
    int64_t seq, now = time_mono_ns();

    if (!r->pub || !witness_timer_due(&r->witness, now, last_seq, stopping))
        return;
    if (store_chain_head(r->store, head, &seq) < 0) {
        if (!r->head_failing)
            log_err("chain witness: %s (tried again at every turn)",
                    store_errmsg(r->store));
        r->head_failing = true;
        return;
    }
    if (r->head_failing)
        log_info("chain witness: the chain head can be read again");
    r->head_failing = false;
    if (seq > 0)
        publisher_witness(r->pub, seq, head, time_real_us());
    witness_timer_done(&r->witness, now, seq);
}

void relay_set_witness_interval(struct relay *r, int interval_s)
{
    witness_timer_set_interval(&r->witness, interval_s, time_mono_ns());
}

bool relay_on(const struct relay *r)
{
    return r->pub != NULL;
}

const char *relay_state(const struct relay *r)
{
    return !r->pub                       ? "off"
           : publisher_connected(r->pub) ? "connected"
                                         : "disconnected";
}

int64_t relay_backlog(const struct relay *r, int64_t last_seq)
{
    return r->pub ? last_seq - publisher_acked(r->pub) : 0;
}

int64_t relay_prunable(const struct relay *r, const struct config *c)
{
    int64_t max_seq = INT64_MAX;

    if (!c->mqtt.enabled)
        return max_seq;
    if (r->pub)
        return publisher_acked(r->pub);
    if (store_get_state(r->store, STORE_STATE_MQTT_ACKED, &max_seq))
        max_seq = 0; /* absent, or unreadable: prune nothing */
    return max_seq;
}
