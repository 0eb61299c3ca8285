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

/*
 * A recorded reading as read back from the store, with the description of
 * its sensor: the one row the publisher sends (store_readings_after(),
 * publisher_send()), the export writes (store_export()) and the status
 * shows (store_status()). Strings are borrowed: valid during the callback
 * that delivers the row, or for the call it is passed to. A live reading
 * not recorded yet (publisher_send_live()) has seq 0. The last fields are
 * filled only by the reads that ask for them, and are NULL or 0 otherwise.
 */
struct reading_row {
    int64_t seq;        /* readings.seq; 0: not recorded yet */
    int64_t ts_us;      /* UTC microseconds the response arrived */
    const char *sensor; /* the sensor's tag */
    const char *kind;   /* kind_name() */
    const char *unit;
    bool has_value;      /* false: NULL in the database, null in JSON */
    double value;        /* meaningless unless has_value */
    const char *quality; /* quality_name() */
    const char *error;   /* why there is no value: NULL unless comm_error
                            or missed */
    const char *run;     /* the run open at ts_us (issue 4), or NULL:
                            store_readings_after() and publishing only */
    int64_t version;     /* of the sensor's description it was taken
                            under: store_export() only, else 0 */
    /* Where it was read, as its description says (store_readings_after()
     * only, else NULL and 0): the device layout and Sparkplug group by
     * (bus, unit_id); type is the register type's name (e.g. "float32"). */
    const char *bus;
    int unit_id;
    const char *type;
    int64_t sensor_db_id; /* sensors.id (0 when not from the database) */
};

/* Something that happened, for the events table (kind as in SPEC). */
#define EVENT_KIND_MAX 16
#define EVENT_DETAIL_MAX 256

struct event {
    int64_t ts_us;
    char kind[EVENT_KIND_MAX];
    char detail[EVENT_DETAIL_MAX];
};

#endif
