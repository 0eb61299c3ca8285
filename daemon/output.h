/* SPDX-License-Identifier: MIT */
/*
 * Outputs: where committed readings go beyond the database. Each output
 * (the JSON MQTT publisher, the Sparkplug B edge node, ...) is an ops
 * table; the daemon keeps a list of them (outputs.h) and drives each the
 * same way, so that adding one needs no change to the main loop.
 *
 * An output reads what it publishes back from the database (the store is
 * the source of truth), keeps its own acknowledged seq (persisted by the
 * list under its acked_key, so retention waits for the slowest output),
 * and is driven by the main loop's poll(2): it must never block but in
 * stop(), for as long as it is told.
 *
 * Errors: broker trouble is the output's to log and retry; start()
 * returns NULL only when its settings cannot work at all (logged).
 * Threads: the main thread only.
 */
#ifndef TBDAQ_OUTPUT_H
#define TBDAQ_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/reading.h"
#include "lib/store.h"

/* What an output is given when started; borrowed, outliving the output
 * (config: until the next reload stops and starts it again). */
struct output_env {
    const struct config *config;
    struct store *store;
    const char *version;
    int64_t started_us; /* the daemon's start, UTC microseconds */
};

struct output_ops {
    const char *name;      /* "mqtt", "sparkplug": logs and status */
    const char *acked_key; /* its acknowledged seq in the state table */

    /* Whether configuration c asks for this output. */
    bool (*wanted)(const struct config *c);
    /* Whether going from a to b (both wanting it) needs a restart. */
    bool (*changed)(const struct config *a, const struct config *b);

    /* Starts connecting without blocking, acked being where
     * acknowledgement stands (every reading up to it was delivered).
     * Returns the output's state, or NULL (logged). */
    void *(*start)(const struct output_env *env, int64_t acked);

    /* The descriptor to poll for POLLIN (-1: none now), whether to poll
     * for POLLOUT, the longest wait before service(); then service()
     * with what poll(2) reported, after every poll. */
    int (*fd)(const void *o);
    bool (*wants_write)(const void *o);
    int (*timeout_ms)(const void *o);
    void (*service)(void *o, bool readable, bool writable);

    /* Hands the broker what is committed up to last_seq and not yet
     * handed over, as far as its window allows; stopping is true for the
     * last call before stop(). */
    void (*pump)(void *o, int64_t last_seq, bool stopping);
    /* Every reading up to this seq was delivered (acknowledged). */
    int64_t (*acked)(const void *o);
    /* Connected and accepted by the broker. */
    bool (*connected)(const void *o);

    /* Optional (NULL: not offered). A reading the database has not
     * taken yet (seq 0), best effort. */
    void (*live)(void *o, const struct reading_row *row);
    /* Optional. The run topics: SPEC's run object for the open run (or
     * idle), and a sealed run's witness. */
    void (*set_run)(void *o, const char *payload);
    void (*seal_run)(void *o, const char *name, const char *payload);
    /* Optional. A reload's new configuration that did not need a
     * restart (changed() false): the output may keep pointers into it. */
    void (*reconfigure)(void *o, const struct config *c);

    /* Says goodbye and frees o: blocks at most timeout_ms while its
     * offline message is acknowledged. What was not acknowledged is
     * offered again after the next start. */
    void (*stop)(void *o, int timeout_ms);
};

#endif
