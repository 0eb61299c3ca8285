// SPDX-License-Identifier: MIT
/*
 * A bounded ring of queue items guarded by one mutex. Condition variables
 * run on CLOCK_MONOTONIC so deadlines are immune to wall-clock steps.
 */
#include "daemon/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/util.h"

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct queue_item *ring;
    size_t capacity;
    size_t head; /* next to pop */
    size_t len;
    bool closed;
    bool woken;
    int efd; /* readable while items may be waiting, for poll(2) */
};

/* Makes the eventfd readable; a counter that is already high is fine. */
static void queue_signal_fd(struct queue *q)
{
    uint64_t one = 1;

    if (write(q->efd, &one, sizeof(one)) < 0) {
        /* EAGAIN: the counter is saturated, so it is readable anyway */
    }
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
}

struct queue_item queue_item_event(const char *kind, const char *fmt, ...)
{
    struct queue_item it = {.type = QUEUE_EVENT};
    va_list ap;

    it.u.event.ts_us = time_real_us();
    snprintf(it.u.event.kind, sizeof(it.u.event.kind), "%s", kind);
    va_start(ap, fmt);
    vsnprintf(it.u.event.detail, sizeof(it.u.event.detail), fmt, ap);
    va_end(ap);
    return it;
}

struct queue *queue_new(size_t capacity)
{
    struct queue *q = xcalloc(1, sizeof(*q));

    pthread_mutex_init(&q->lock, NULL);
    cond_init_monotonic(&q->not_empty);
    cond_init_monotonic(&q->not_full);
    q->ring = xcalloc(capacity, sizeof(*q->ring));
    q->capacity = capacity;
    if ((q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
        abort(); /* only at start-up, and only without file descriptors */
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    close(q->efd);
    free(q->ring);
    free(q);
}

/* Waits on c until signalled or deadline (0: none). Returns false once the
 * deadline has passed. Called with the lock held. */
static bool queue_wait(struct queue *q, pthread_cond_t *c, int64_t deadline_ns)
{
    struct timespec ts;

    if (deadline_ns == 0) {
        pthread_cond_wait(c, &q->lock);
        return true;
    }
    if (time_mono_ns() >= deadline_ns)
        return false;
    ts.tv_sec = (time_t)(deadline_ns / NS_PER_S);
    ts.tv_nsec = (long)(deadline_ns % NS_PER_S);
    return pthread_cond_timedwait(c, &q->lock, &ts) != ETIMEDOUT;
}

size_t queue_push(struct queue *q, const struct queue_item *items, size_t n,
                  int64_t deadline_ns)
{
    size_t done = 0;
    int64_t now = time_mono_ns();

    pthread_mutex_lock(&q->lock);
    while (done < n && !q->closed) {
        if (q->len == q->capacity) {
            if (!queue_wait(q, &q->not_full, deadline_ns))
                break;
            continue;
        }
        while (done < n && q->len < q->capacity) {
            struct queue_item *it = &q->ring[(q->head + q->len) % q->capacity];

            *it = items[done++];
            if (it->taken_ns == 0)
                it->taken_ns = now;
            q->len++;
        }
        pthread_cond_signal(&q->not_empty);
        queue_signal_fd(q);
    }
    pthread_mutex_unlock(&q->lock);
    return done;
}

size_t queue_pop(struct queue *q, struct queue_item *out, size_t max,
                 int64_t deadline_ns)
{
    size_t n = 0;

    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->woken) {
        if (!queue_wait(q, &q->not_empty, deadline_ns))
            break;
    }
    q->woken = false;
    while (n < max && q->len > 0) {
        out[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->len--;
    }
    if (n > 0)
        pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    return n;
}

void queue_wake(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->woken = true;
    pthread_cond_signal(&q->not_empty);
    queue_signal_fd(q);
    pthread_mutex_unlock(&q->lock);
}

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

size_t queue_length(struct queue *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int queue_fd(struct queue *q)
{
    return q->efd;
}

void queue_clear_fd(struct queue *q)
{
    uint64_t n;

    if (read(q->efd, &n, sizeof(n)) < 0) {
        /* EAGAIN: nothing was signalled */
    }
}
