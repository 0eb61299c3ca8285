// SPDX-License-Identifier: MIT
/*
 * The pool of read-only stores the runs pages use (web.h): a store
 * belongs to one thread at a time, and opening one checks the whole
 * schema, so connection threads borrow one and give it back. At most
 * WEB_POOL_MAX are open; a request past that waits for one (the
 * connection limit bounds how many wait).
 */
#include <stdio.h>

#include "web/web.h"

void pool_init(struct store_pool *p, const char *database)
{
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->database = database;
    p->nidle = p->nopen = 0;
}

void pool_release(struct store_pool *p)
{
    while (p->nidle > 0)
        store_close(p->idle[--p->nidle]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

struct store *pool_get(struct store_pool *p, char *err, size_t errlen)
{
    char e[STORE_ERR_MAX];
    struct store *s = NULL;

    pthread_mutex_lock(&p->mu);
    while (p->nidle == 0 && p->nopen == WEB_POOL_MAX)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->nidle > 0) {
        s = p->idle[--p->nidle];
        pthread_mutex_unlock(&p->mu);
        return s;
    }
    p->nopen++;
    pthread_mutex_unlock(&p->mu);
    if (!(s = store_open(p->database, STORE_READ_ONLY, e))) {
        snprintf(err, errlen, "%s", e);
        pthread_mutex_lock(&p->mu);
        p->nopen--;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return s;
}

void pool_put(struct store_pool *p, struct store *s, bool bad)
{
    pthread_mutex_lock(&p->mu);
    if (bad) {
        store_close(s);
        p->nopen--;
    } else {
        p->idle[p->nidle++] = s;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}
