// SPDX-License-Identifier: MIT
/*
 * The daemon's outputs, driven as one: see outputs.h.
 */
#include "daemon/outputs.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/output_kinds.h"
#include "drivers/kind.h"

/* Every kind of output, in the order they are started and pumped. */
static const struct output_ops *const output_kinds[] = {
    &mqtt_output_ops,
    &sparkplug_output_ops,
};

void outputs_init(struct outputs *l, struct store *s, const char *version,
                  int64_t started_us)
{
    *l = (struct outputs){
        .store = s, .version = version, .started_us = started_us};
    for (size_t i = 0; i < sizeof(output_kinds) / sizeof(output_kinds[0]); i++)
        l->slot[l->n++].ops = output_kinds[i];
}

/* Where slot's acknowledgement stands, from the state table: a database
 * it publishes from for the first time starts at its end. -1 on a
 * database error (logged). */
static int64_t outputs_acked_from_store(struct outputs *l,
                                        const struct output_slot *sl,
                                        int64_t last_seq)
{
    const char *name = sl->ops->name;
    int64_t acked;
    int absent = store_get_state(l->store, sl->ops->acked_key, &acked);

    if (absent < 0) {
        log_err("%s: %s", name, store_errmsg(l->store));
        return -1;
    }
    if (absent) {
        if (last_seq > 0)
            log_info("%s: publishing from this database for the first "
                     "time; its %lld earlier readings are not published",
                     name, (long long)last_seq);
        acked = last_seq;
    }
    if (acked > last_seq) {
        log_warnx("%s: acknowledged seq %lld is beyond the last reading "
                  "%lld; publishing from the last reading",
                  name, (long long)acked, (long long)last_seq);
        acked = last_seq;
    }
    if (store_set_state(l->store, sl->ops->acked_key, acked) < 0) {
        log_err("%s: %s", name, store_errmsg(l->store));
        return -1;
    }
    return acked;
}

static int outputs_start_slot(struct outputs *l, struct output_slot *sl,
                              const struct config *c, int64_t last_seq)
{
    struct output_env env = {c, l->store, l->version, l->started_us};
    int64_t acked = outputs_acked_from_store(l, sl, last_seq);

    if (acked < 0 || !(sl->o = sl->ops->start(&env, acked)))
        return -1;
    sl->acked_saved = acked;
    sl->acked_save_at = 0;
    sl->staged_at = 0;
    if (acked < last_seq)
        log_info("%s: %lld readings not yet acknowledged by the broker will "
                 "be published first",
                 sl->ops->name, (long long)(last_seq - acked));
    return 0;
}

int outputs_start(struct outputs *l, const struct config *c, int64_t last_seq)
{
    int rc = 0;

    for (size_t i = 0; i < l->n; i++) {
        struct output_slot *sl = &l->slot[i];

        if (!sl->o && sl->ops->wanted(c) &&
            outputs_start_slot(l, sl, c, last_seq) < 0)
            rc = -1;
    }
    return rc;
}

/* Writes slot's acknowledged seq now, in its own transaction. */
static void outputs_write_acked(struct outputs *l, struct output_slot *sl,
                                int64_t acked)
{
    if (store_set_state(l->store, sl->ops->acked_key, acked) == 0) {
        sl->acked_saved = acked;
        sl->staged_at = 0;
    } else if (!store_busy(l->store)) { /* a lock: next time */
        log_err("%s", store_errmsg(l->store));
    }
}

/*
 * Persists slot's acknowledged seq if it moved and it is time: staged for
 * the next batch's commit (a sync of the disk fewer: at W2 the commits
 * are about one a second, as these saves), written at once when save_now
 * or when what was staged waited twice the period (no batch came).
 */
static void outputs_save_acked(struct outputs *l, struct output_slot *sl,
                               bool save_now, bool db_down, int64_t now)
{
    int64_t acked = sl->ops->acked(sl->o);

    if (db_down)
        return;
    if (!store_state_staged(l->store, sl->ops->acked_key))
        sl->staged_at = 0; /* a batch wrote it */
    if (!save_now && now < sl->acked_save_at)
        return;
    if (save_now ||
        (sl->staged_at &&
         now - sl->staged_at >= 2 * OUTPUTS_ACKED_SAVE_MS * NS_PER_MS)) {
        if (acked == sl->acked_saved && !sl->staged_at)
            return;
        outputs_write_acked(l, sl, acked);
    } else if (acked != sl->acked_saved) {
        if (store_stage_state(l->store, sl->ops->acked_key, acked) < 0) {
            log_err("%s", store_errmsg(l->store));
            return;
        }
        sl->acked_saved = acked;
        if (!sl->staged_at)
            sl->staged_at = now;
    } else {
        return;
    }
    sl->acked_save_at = now + OUTPUTS_ACKED_SAVE_MS * NS_PER_MS;
}

void outputs_pump(struct outputs *l, int64_t last_seq, bool save_now,
                  bool db_down)
{
    int64_t now = time_mono_ns();

    for (size_t i = 0; i < l->n; i++) {
        struct output_slot *sl = &l->slot[i];

        if (!sl->o)
            continue;
        sl->ops->pump(sl->o, last_seq, false);
        outputs_save_acked(l, sl, save_now, db_down, now);
    }
}

/* Whether one of the running outputs marked in which has a connected
 * broker still to acknowledge readings up to last_seq. */
static bool outputs_owing(const struct outputs *l, int64_t last_seq,
                          const bool which[OUTPUTS_MAX])
{
    for (size_t i = 0; i < l->n; i++) {
        const struct output_slot *sl = &l->slot[i];

        if (which[i] && sl->o && sl->ops->connected(sl->o) &&
            sl->ops->acked(sl->o) < last_seq)
            return true;
    }
    return false;
}

/* Publishes what it can of slot (its last pump, then waits for its
 * broker with the others'), persists and stops it. */
static void outputs_stop_slot(struct outputs *l, struct output_slot *sl,
                              int64_t last_seq, bool db_down, int offline_ms)
{
    int64_t acked;

    outputs_save_acked(l, sl, true, db_down, time_mono_ns());
    acked = sl->ops->acked(sl->o);
    if (acked < last_seq)
        log_info("%s: %lld readings not acknowledged by the broker; they "
                 "are published after the next start",
                 sl->ops->name, (long long)(last_seq - acked));
    sl->ops->stop(sl->o, offline_ms);
    sl->o = NULL;
}

/* Stops the running outputs for which stop_it says so. */
static void outputs_stop_some(struct outputs *l, int64_t last_seq, bool db_down,
                              int publish_ms, int offline_ms,
                              void (*turn)(void *), void *arg,
                              const bool stop_it[OUTPUTS_MAX])
{
    int64_t give_up = time_mono_ns() + publish_ms * NS_PER_MS;

    for (size_t i = 0; i < l->n; i++)
        if (stop_it[i] && l->slot[i].o)
            l->slot[i].ops->pump(l->slot[i].o, last_seq, true);
    while (outputs_owing(l, last_seq, stop_it) && time_mono_ns() < give_up) {
        outputs_pump(l, last_seq, false, db_down);
        turn(arg);
    }
    for (size_t i = 0; i < l->n; i++)
        if (stop_it[i] && l->slot[i].o)
            outputs_stop_slot(l, &l->slot[i], last_seq, db_down, offline_ms);
}

void outputs_stop(struct outputs *l, int64_t last_seq, bool db_down,
                  int publish_ms, int offline_ms, void (*turn)(void *),
                  void *arg)
{
    bool all[OUTPUTS_MAX];

    for (size_t i = 0; i < OUTPUTS_MAX; i++)
        all[i] = true;
    outputs_stop_some(l, last_seq, db_down, publish_ms, offline_ms, turn, arg,
                      all);
}

void outputs_stop_changed(struct outputs *l, const struct config *old,
                          const struct config *nc, int64_t last_seq,
                          bool db_down, int publish_ms, int offline_ms,
                          void (*turn)(void *), void *arg)
{
    bool stop_it[OUTPUTS_MAX] = {false};
    bool any = false;

    for (size_t i = 0; old && i < l->n; i++) {
        const struct output_slot *sl = &l->slot[i];

        if (!sl->o || (sl->ops->wanted(nc) && !sl->ops->changed(old, nc)))
            continue;
        log_info("%s settings changed; reconnecting", sl->ops->name);
        stop_it[i] = any = true;
    }
    if (any)
        outputs_stop_some(l, last_seq, db_down, publish_ms, offline_ms, turn,
                          arg, stop_it);
}

void outputs_reconfigure(struct outputs *l, const struct config *nc,
                         int64_t last_seq)
{
    for (size_t i = 0; i < l->n; i++) {
        struct output_slot *sl = &l->slot[i];

        if (sl->o && sl->ops->reconfigure)
            sl->ops->reconfigure(sl->o, nc);
        else if (!sl->o && sl->ops->wanted(nc) &&
                 outputs_start_slot(l, sl, nc, last_seq) < 0)
            log_err("%s: publishing stays off until the next good reload",
                    sl->ops->name);
    }
}

void outputs_release(struct outputs *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->slot[i].o) {
            l->slot[i].ops->stop(l->slot[i].o, 0);
            l->slot[i].o = NULL;
        }
    free(l->by_db_id);
    l->by_db_id = NULL;
    l->nby_db_id = 0;
}

size_t outputs_pollfds(const struct outputs *l, struct pollfd *fds,
                       int *timeout_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < l->n; i++) {
        const struct output_slot *sl = &l->slot[i];
        int t;

        if (!sl->o)
            continue;
        fds[n] = (struct pollfd){
            .fd = sl->ops->fd(sl->o),
            .events = POLLIN | (sl->ops->wants_write(sl->o) ? POLLOUT : 0)};
        n++;
        if ((t = sl->ops->timeout_ms(sl->o)) < *timeout_ms)
            *timeout_ms = t;
    }
    return n;
}

void outputs_service(struct outputs *l, const struct pollfd *fds, size_t n)
{
    size_t k = 0;

    /* The running outputs, in the order outputs_pollfds() met them. */
    for (size_t i = 0; i < l->n && k < n; i++) {
        struct output_slot *sl = &l->slot[i];

        if (!sl->o)
            continue;
        sl->ops->service(sl->o, fds[k].revents & (POLLIN | POLLERR | POLLHUP),
                         fds[k].revents & POLLOUT);
        k++;
    }
}

void outputs_index(struct outputs *l, const struct config *c)
{
    size_t n = 1;

    for (size_t i = 0; i < c->nsensors; i++)
        if (c->sensors[i].db_id >= (int64_t)n)
            n = (size_t)c->sensors[i].db_id + 1;
    free(l->by_db_id);
    l->indexed = c;
    l->by_db_id = xcalloc(n, sizeof(*l->by_db_id));
    l->nby_db_id = n;
    for (size_t i = 0; i < c->nsensors; i++)
        if (c->sensors[i].db_id > 0)
            l->by_db_id[c->sensors[i].db_id] = &c->sensors[i];
}

void outputs_live(struct outputs *l, const struct reading *rd, const char *run)
{
    const struct sensor_conf *sc;
    struct reading_row row;

    if (rd->sensor_id < 0 || (size_t)rd->sensor_id >= l->nby_db_id ||
        !(sc = l->by_db_id[rd->sensor_id]))
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
        .bus = l->indexed->buses[sc->bus].name,
        .unit_id = sc->unit_id,
        .type = reg_type_name(sc->type),
        .sensor_db_id = rd->sensor_id,
    };
    for (size_t i = 0; i < l->n; i++)
        if (l->slot[i].o && l->slot[i].ops->live)
            l->slot[i].ops->live(l->slot[i].o, &row);
}

void outputs_set_run(struct outputs *l, const char *payload)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->slot[i].o && l->slot[i].ops->set_run)
            l->slot[i].ops->set_run(l->slot[i].o, payload);
}

void outputs_seal_run(struct outputs *l, const char *name, const char *payload)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->slot[i].o && l->slot[i].ops->seal_run)
            l->slot[i].ops->seal_run(l->slot[i].o, name, payload);
}

static const struct output_slot *outputs_find(const struct outputs *l,
                                              const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->slot[i].ops->name, name) == 0)
            return &l->slot[i];
    return NULL;
}

bool outputs_on(const struct outputs *l, const char *name)
{
    const struct output_slot *sl = outputs_find(l, name);

    return sl && sl->o;
}

const char *outputs_state(const struct outputs *l, const char *name)
{
    const struct output_slot *sl = outputs_find(l, name);

    return !sl || !sl->o               ? "off"
           : sl->ops->connected(sl->o) ? "connected"
                                       : "disconnected";
}

int64_t outputs_backlog(const struct outputs *l, const char *name,
                        int64_t last_seq)
{
    const struct output_slot *sl = outputs_find(l, name);

    return sl && sl->o ? last_seq - sl->ops->acked(sl->o) : 0;
}

int64_t outputs_prunable(const struct outputs *l, const struct config *c)
{
    int64_t floor = INT64_MAX;

    for (size_t i = 0; i < l->n; i++) {
        const struct output_slot *sl = &l->slot[i];
        int64_t acked;

        if (!sl->ops->wanted(c))
            continue;
        if (sl->o)
            acked = sl->ops->acked(sl->o);
        else if (store_get_state(l->store, sl->ops->acked_key, &acked))
            acked = 0; /* absent, or unreadable: prune nothing */
        if (acked < floor)
            floor = acked;
    }
    return floor;
}
