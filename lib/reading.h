/* SPDX-License-Identifier: MIT */
/*
 * A reading: one sample of one sensor, as it travels from a poller thread
 * through the queue to the store. Plain data, copied by value; the helpers
 * below are pure (no errors, thread-safe), and reading_error() points
 * into the reading it is given.
 */
#ifndef TBDAQ_READING_H
#define TBDAQ_READING_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "drivers/decode.h"

/* Longest error text kept with a comm_error reading, NUL included. */
#define READING_ERROR_MAX 80

struct reading {
    int64_t seq;       /* readings.seq, set by store_commit_batch() */
    int64_t sensor_id; /* sensors.id in the database */
    int64_t ts_us;     /* UTC microseconds the response arrived */
    double value;      /* scaled; meaningless unless good/out_of_range */
    enum quality quality;
    uint8_t nraw; /* register words in raw; 0 on comm_error */
    uint16_t raw[REG_MAX_WORDS];
    char error[READING_ERROR_MAX]; /* "" unless comm_error or missed */
};

/* Whether the reading has a value to store and publish: good or
 * out_of_range, and finite. Otherwise its value is NULL (null in JSON),
 * in the database, the chain's canonical form and every payload alike. */
static inline bool reading_has_value(const struct reading *r)
{
    return (r->quality == QUALITY_GOOD || r->quality == QUALITY_OUT_OF_RANGE) &&
           isfinite(r->value);
}

/* The reading's error text (why there is no value) for comm_error and
 * missed, or NULL: stored, chained and published alike. */
static inline const char *reading_error(const struct reading *r)
{
    return r->quality == QUALITY_COMM_ERROR || r->quality == QUALITY_MISSED
               ? r->error
               : NULL;
}

/* Something that happened, for the events table (kind as in SPEC). */
#define EVENT_KIND_MAX 16
#define EVENT_DETAIL_MAX 256

struct event {
    int64_t ts_us;
    char kind[EVENT_KIND_MAX];
    char detail[EVENT_DETAIL_MAX];
};

#endif
