/* SPDX-License-Identifier: MIT */
/*
 * tbdaq-web (SPEC tbdaq-web): what its files share, and nothing else
 * includes. main.c reads the options and the configuration and owns a
 * struct web; server.c serves HTTP over libmicrohttpd (the only user of
 * it), one thread per connection under connection limits; the renderers
 * (metrics.c, api.c, page.c, runs.c) write one response each into a
 * struct buf from the live model (model.h) or, for the runs, from a
 * store of the pool (pool.c).
 *
 * Threads: the renderers run on connection threads and share nothing but
 * the model (under its lock) and the pool (under its own). Errors: see
 * each prototype; out of memory aborts.
 */
#ifndef TBDAQ_WEB_WEB_H
#define TBDAQ_WEB_WEB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/store.h"
#include "web/auth.h"
#include "web/buf.h"
#include "web/model.h"

/* Read-only stores kept open for the runs pages: one per request at a
 * time, at most this many open (more requests wait for one). */
#define WEB_POOL_MAX 4

struct store_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const char *database;
    struct store *idle[WEB_POOL_MAX];
    size_t nidle, nopen;
};

struct web {
    const char *database;
    struct listen_addr at;
    struct auth *auth; /* NULL: no authentication */
    char *tls_cert;    /* PEM bytes, or NULL: plain HTTP */
    char *tls_key;
    struct model *model;
    struct store_pool pool;
};

/* ---- pool.c ---- */

void pool_init(struct store_pool *p, const char *database);
void pool_release(struct store_pool *p);
/* A store opened read-only, or NULL with err set. Give it back with
 * pool_put() (bad: it failed, close it). */
struct store *pool_get(struct store_pool *p, char *err, size_t errlen);
void pool_put(struct store_pool *p, struct store *s, bool bad);

/* ---- metrics.c ---- */

/* The Prometheus text exposition 0.0.4 of v at now_us. */
void render_metrics(const struct model_view *v, int64_t now_us, struct buf *b);

/* ---- api.c ---- */

/* /api/status: JSON of v at now_us, with each sensor's trend if trend. */
void render_status(const struct model_view *v, int64_t now_us, bool trend,
                   struct buf *b);

/* ---- page.c ---- */

/* The live page: v's values rendered into the HTML, and a script that
 * fetches /api/status?trend=1 every 2 s and redraws. */
void render_live(const struct model_view *v, int64_t now_us, struct buf *b);
/* The frame of every page: head (title escaped) and the end. */
void render_head(struct buf *b, const char *title);
void render_foot(struct buf *b);

/* ---- runs.c ---- */

/* /runs: every run, newest first, each linking to its report. Returns
 * 0, or -1 with err set (a database error). */
int render_runs(struct store *s, struct buf *b, char *err, size_t errlen);
/* /runs/<name>: the run's report (html true: as tbdaq report writes it,
 * else JSON). Returns 0, 1 if there is no such run, -1 with err set. */
int render_run(struct store *s, const char *name, bool html, struct buf *b,
               char *err, size_t errlen);

/* ---- server.c ---- */

/* Starts serving; returns an opaque handle, or NULL (logged). */
void *server_start(struct web *w);
void server_stop(void *handle);

#endif
