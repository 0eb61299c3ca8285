// SPDX-License-Identifier: MIT
/*
 * The export's output: bytes gathered in large buffers, SHA-256 hashed and
 * written by a writer thread while the next buffer fills, so that
 * formatting, hashing and write(2) overlap and memory stays constant
 * however much is exported. Also the JSON pieces the manifest is made of
 * (cli/export.h says who owns what and which thread touches which field).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/export.h"
#include "common/fmt.h"
#include "common/jsonw.h"
#include "common/log.h"

/* Bytes gathered before each write(2) and SHA-256 update: large enough
 * that the per-call costs vanish, small enough to be no burden. */
#define EXPORT_BUF_SIZE (1u << 20)

/* Here, the lowest of the export's parts, so that each can be tested
 * without the command (cli/export.h says who sets and reads it). */
volatile sig_atomic_t export_interrupted;

/* Hashes and writes n bytes; returns 0 or an errno. */
static int sink_write(int fd, struct sha256 *hash, const char *p, size_t n)
{
    if (hash)
        sha256_update(hash, p, n);
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR && !export_interrupted)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *sink_writer(void *arg)
{
    struct sink *k = arg;

    pthread_mutex_lock(&k->mu);
    for (;;) {
        char *p;
        size_t n;
        int err = 0;

        while (!k->busy && !k->quit)
            pthread_cond_wait(&k->cv, &k->mu);
        if (!k->busy)
            break;
        p = k->pending;
        n = k->pending_len;
        pthread_mutex_unlock(&k->mu);
        if (!k->werr) /* after a failure, only discard */
            err = sink_write(k->fd, k->hash, p, n);
        pthread_mutex_lock(&k->mu);
        if (err && !k->werr)
            k->werr = err;
        k->spare = p;
        k->busy = false;
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

void sink_init(struct sink *k, int fd, const char *name, bool hash)
{
    memset(k, 0, sizeof(*k));
    k->fd = fd;
    k->name = name;
    k->cap = EXPORT_BUF_SIZE;
    k->buf = xmalloc(k->cap);
    k->spare = xmalloc(k->cap);
    k->hash = hash ? sha256_new() : NULL;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    /* without a thread, everything still works, one step at a time */
    k->threaded = pthread_create(&k->thread, NULL, sink_writer, k) == 0;
}

/* Waits until the writer is idle; takes over its error. Call with mu. */
static void sink_wait_idle(struct sink *k)
{
    while (k->busy)
        pthread_cond_wait(&k->cv, &k->mu);
    k->err = k->werr;
}

/*
 * Hands the buffer to the writer (waiting for it to finish the previous
 * one) and carries on with the other. Returns 0, or -1 once a write has
 * failed (k->err says why); after that the sink only discards.
 */
static int sink_flush(struct sink *k)
{
    if (!k->threaded) {
        if (!k->werr)
            k->werr = sink_write(k->fd, k->hash, k->buf, k->len);
        k->err = k->werr;
        k->len = 0;
        return k->err ? -1 : 0;
    }
    pthread_mutex_lock(&k->mu);
    sink_wait_idle(k);
    k->pending = k->buf;
    k->pending_len = k->len;
    k->buf = k->spare;
    k->spare = NULL;
    k->busy = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    k->len = 0;
    return k->err ? -1 : 0;
}

/* Writes out everything and waits for it. Returns 0 or -1 (k->err). */
int sink_drain(struct sink *k)
{
    sink_flush(k);
    if (k->threaded) {
        pthread_mutex_lock(&k->mu);
        sink_wait_idle(k);
        pthread_mutex_unlock(&k->mu);
    }
    return k->err ? -1 : 0;
}

/* sink_drain(), logging a failure. */
int sink_finish(struct sink *k)
{
    if (sink_drain(k) == 0)
        return 0;
    log_err("cannot write '%s': %s", k->name, strerror(k->err));
    return -1;
}

/* Stops the writer and frees everything; unwritten data is dropped. */
void sink_release(struct sink *k)
{
    char discard[SHA256_HEX_LEN];

    if (!k->buf)
        return;
    if (k->threaded) {
        pthread_mutex_lock(&k->mu);
        sink_wait_idle(k);
        k->quit = true;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k->buf);
    free(k->spare);
    k->buf = k->spare = NULL;
    if (k->hash)
        sha256_finish_hex(k->hash, discard);
    k->hash = NULL;
}

void sink_make_room(struct sink *k, size_t n)
{
    if (n <= k->cap) {
        sink_flush(k);
    } else {
        /* larger than a buffer (a huge string): both buffers grow,
         * the idle one once the writer is done with it */
        sink_drain(k);
        xgrow(&k->buf, &k->cap, n, 1);
        k->spare = xrealloc(k->spare, k->cap);
    }
}

void sink_put(struct sink *k, const char *s, size_t n)
{
    char *p = sink_reserve(k, n);

    memcpy(p, s, n);
    sink_commit(k, p + n);
}

void sink_puts(struct sink *k, const char *s)
{
    sink_put(k, s, strlen(s));
}

/* A JSON string, or null. */
void sink_jstr(struct sink *k, const char *s)
{
    char *p = sink_reserve(k, s ? JSONW_STRING_MAX(strlen(s)) : 4);

    sink_commit(k, jsonw_string_or_null(p, s));
}

void sink_jint(struct sink *k, int64_t v)
{
    char *p = sink_reserve(k, FMT_INT64_LEN);

    sink_commit(k, p + fmt_int64(v, p));
}

void sink_jdouble(struct sink *k, double v)
{
    char *p = sink_reserve(k, JSONW_DOUBLE_MAX);

    sink_commit(k, jsonw_double(p, v));
}

/* A time as a JSON string in ISO 8601 UTC. */
void sink_jtime(struct sink *k, int64_t us)
{
    char *p = sink_reserve(k, TIME_ISO_LEN + 2);

    *p++ = '"';
    p += fmt_time_iso(us, p);
    *p++ = '"';
    sink_commit(k, p);
}
