/* SPDX-License-Identifier: MIT */
/*
 * The one place poller threads and the main thread meet: a bounded FIFO of
 * readings and events, many producers, one consumer. Memory is fixed at
 * creation. Every function is thread-safe but queue_free(); nothing
 * fails or logs (a short count from queue_push() or queue_pop() is a
 * deadline, a close or a wake-up). Items are copied in and out.
 *
 * A full queue makes producers wait (back-pressure) rather than drop: a
 * poller that waits misses slots, and missed slots are recorded as events,
 * so nothing disappears silently.
 */
#ifndef TBDAQ_QUEUE_H
#define TBDAQ_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/reading.h"

enum queue_item_type {
    QUEUE_READING,
    QUEUE_EVENT,
};

struct queue_item {
    enum queue_item_type type;
    /* When the item was taken (CLOCK_MONOTONIC ns): its commit is due
     * commit_interval_ms later. queue_push() sets it to the moment of the
     * push for an item that has none (0), which for a poller is right
     * after the response, before any wait for room. */
    int64_t taken_ns;
    union {
        struct reading reading;
        struct event event;
    } u;
};

/* Makes (queues nothing) an event item: now, kind, and the formatted
 * detail (cut to EVENT_DETAIL_MAX), for queue_push() or the recorder. */
struct queue_item queue_item_event(const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct queue;

/* A queue of capacity items. Aborts if out of memory or if no eventfd can
 * be made. The caller owns it: queue_free() frees it (NULL is fine) once
 * no other thread can touch it (every producer joined). */
struct queue *queue_new(size_t capacity);
void queue_free(struct queue *q);

/*
 * Appends n items in order (stamping taken_ns where it is 0 with the
 * time of the call), waiting while the queue is full, until
 * deadline_ns (CLOCK_MONOTONIC; 0 waits as long as it takes) or
 * queue_close(). Returns how many were appended (< n on deadline or close).
 */
size_t queue_push(struct queue *q, const struct queue_item *items, size_t n,
                  int64_t deadline_ns);

/*
 * Takes up to max items, waiting until at least one is there or
 * deadline_ns (CLOCK_MONOTONIC) passes or queue_wake() is called. Returns
 * how many were taken, possibly 0.
 */
size_t queue_pop(struct queue *q, struct queue_item *out, size_t max,
                 int64_t deadline_ns);

/* Makes a waiting queue_pop() return now (e.g. from a signal's aftermath). */
void queue_wake(struct queue *q);
/* Producers waiting on a full queue give up; later pushes append nothing. */
void queue_close(struct queue *q);
size_t queue_length(struct queue *q);

/*
 * A file descriptor for poll(2) that is readable after a push or a wake-up,
 * so the consumer can wait on the queue and sockets at once. The consumer
 * calls queue_clear_fd() before taking items (so a push that follows is
 * not lost), then pops with a deadline in the past until nothing is left.
 * Owned by the queue.
 */
int queue_fd(struct queue *q);
void queue_clear_fd(struct queue *q);

#endif
