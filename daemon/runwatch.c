// SPDX-License-Identifier: MIT
/*
 * Following test runs: see runwatch.h.
 */
#include "daemon/runwatch.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"

/* What the run state payloads of a run say. */
static void runwatch_pub_run(struct pub_run *pr, const struct store_run *r)
{
    *pr = (struct pub_run){
        .name = r->name,
        .started_us = r->started_us,
        .operator_name = r->operator_name,
        .sealed = r->chain_head != NULL,
        .ended_us = r->ended_us,
        .chain_head = r->chain_head,
        .chain_seq = r->chain_seq,
        .readings = r->readings,
    };
}

/* The store's callbacks: w and the outputs. */
struct runwatch_ctx {
    struct runwatch *w;
    struct outputs *outs;
};

static int runwatch_opened(const struct store_run *r, void *arg)
{
    struct runwatch_ctx *ctx = arg;
    char payload[PAYLOAD_MAX];
    struct pub_run pr;

    runwatch_pub_run(&pr, r);
    pr.sealed = false;
    free(ctx->w->name);
    ctx->w->name = xstrdup(r->name);
    ctx->w->started_us = r->started_us;
    log_info("run '%s' is open", r->name);
    if (ctx->outs && payload_run(payload, sizeof(payload), &pr) > 0)
        outputs_set_run(ctx->outs, payload);
    return 0;
}

static int runwatch_sealed(const struct store_run *r, void *arg)
{
    struct runwatch_ctx *ctx = arg;
    char payload[PAYLOAD_MAX];
    struct pub_run pr;

    log_info("run '%s' sealed: %lld readings, chain head %s at seq %lld",
             r->name, (long long)r->readings, r->chain_head,
             (long long)r->chain_seq);
    runwatch_pub_run(&pr, r);
    if (ctx->outs && payload_run(payload, sizeof(payload), &pr) > 0)
        outputs_seal_run(ctx->outs, r->name, payload);
    return 0;
}

/* The run closed since the last look, kept for runwatch_run_at(). */
static int runwatch_closed(const struct store_run *r, void *arg)
{
    struct runwatch *w = arg;

    if (!r->ended)
        return 0;
    free(w->closed);
    w->closed = xstrdup(r->name);
    w->closed_started_us = r->started_us;
    w->closed_ended_us = r->ended_us;
    return 0;
}

/* A run may have started or stopped now: its edges are drawn once the
 * pollers are past this moment. Noted at once, before the next follow, so
 * that a settle in between cannot draw an edge too early. */
static void runwatch_edge(struct runwatch *w)
{
    w->settle_after = time_mono_ns();
}

void runwatch_changed(struct runwatch *w)
{
    w->changed = true;
    runwatch_edge(w);
}

bool runwatch_settle_due(const struct runwatch *w, int64_t frontier)
{
    return w->settle_after != 0 && frontier >= w->settle_after;
}

void runwatch_settled(struct runwatch *w)
{
    w->settle_after = 0;
    free(w->closed);
    w->closed = NULL;
    w->seal_pending = true;
    w->seal_after_us = INT64_MIN;
}

void runwatch_follow(struct runwatch *w, struct store *s, struct outputs *outs,
                     int64_t last_ts_us, int commit_interval_ms, bool force)
{
    struct runwatch_ctx ctx = {w, outs};
    int64_t v = store_data_version(s);

    if (v != w->data_version || force || w->changed) {
        char idle[64];
        struct pub_run none = {0};
        int rc;

        char *was = w->name;

        if (v != w->data_version)
            runwatch_edge(w); /* another writer */
        w->data_version = v;
        w->changed = false;
        w->name = NULL;
        rc = store_run_open(s, runwatch_opened, &ctx);
        if (rc >= 0 && was && (!w->name || strcmp(was, w->name) != 0) &&
            store_run_get(s, was, runwatch_closed, w) < 0)
            log_err("%s", store_errmsg(s));
        free(was);
        if (rc == 1 && outs && payload_run(idle, sizeof(idle), &none) > 0)
            outputs_set_run(outs, idle);
        if (rc < 0)
            log_err("%s", store_errmsg(s));
        w->seal_pending = true;
        w->seal_after_us = time_real_us() + commit_interval_ms * 1000;
    }
    if (w->seal_pending && (force || last_ts_us > w->seal_after_us)) {
        if (store_run_seal(s, runwatch_sealed, &ctx) < 0)
            log_err("%s; sealing is tried again", store_errmsg(s));
        else
            w->seal_pending = false;
    }
}

const char *runwatch_run_at(const struct runwatch *w, int64_t ts_us)
{
    if (w->name && ts_us >= w->started_us)
        return w->name;
    if (w->closed && ts_us >= w->closed_started_us &&
        ts_us < w->closed_ended_us)
        return w->closed;
    return NULL;
}

void runwatch_release(struct runwatch *w)
{
    free(w->name);
    w->name = NULL;
    free(w->closed);
    w->closed = NULL;
}
