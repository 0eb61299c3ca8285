// SPDX-License-Identifier: MIT
/*
 * Following test runs: see runwatch.h.
 */
#include "daemon/runwatch.h"

#include <stdlib.h>

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

/* The store's callbacks: w and the publisher. */
struct runwatch_ctx {
    struct runwatch *w;
    struct publisher *pub;
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
    if (ctx->pub && payload_run(payload, sizeof(payload), &pr) > 0)
        publisher_set_run(ctx->pub, payload);
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
    if (ctx->pub && payload_run(payload, sizeof(payload), &pr) > 0)
        publisher_seal_run(ctx->pub, r->name, payload);
    return 0;
}

void runwatch_changed(struct runwatch *w)
{
    w->changed = true;
}

void runwatch_follow(struct runwatch *w, struct store *s, struct publisher *pub,
                     int64_t last_ts_us, int commit_interval_ms, bool force)
{
    struct runwatch_ctx ctx = {w, pub};
    int64_t v = store_data_version(s);

    if (v != w->data_version || force || w->changed) {
        char idle[64];
        struct pub_run none = {0};
        int rc;

        w->data_version = v;
        w->changed = false;
        free(w->name);
        w->name = NULL;
        rc = store_run_open(s, runwatch_opened, &ctx);
        if (rc == 1 && pub && payload_run(idle, sizeof(idle), &none) > 0)
            publisher_set_run(pub, idle);
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
    return w->name && ts_us >= w->started_us ? w->name : NULL;
}

void runwatch_release(struct runwatch *w)
{
    free(w->name);
    w->name = NULL;
}
