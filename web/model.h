/* SPDX-License-Identifier: MIT */
/*
 * What tbdaq-web shows live, in memory: every sensor's newest reading and
 * newest good value, its readings counted by quality, a 10-minute trend
 * in WEB_TREND_BUCKETS buckets; the buses; the daemon's live counters
 * (from its control channel's `status`: the daemon not running is a
 * normal state); the MQTT backlog; the open run; the database's size.
 *
 * One refresher thread (model_start()) builds it: from the database,
 * opened read-only, once in full at the start and then by the readings
 * past the last seq it saw (so a refresh costs what was recorded since,
 * not the size of the record), every WEB_REFRESH_MS. It works on its own
 * copy and publishes it under the model's lock; request threads read the
 * published copy between model_lock() and model_unlock(), never the
 * database, so that /metrics and /api/status cost what rendering costs.
 *
 * Counters: tbdaq_readings_total counts the readings the database held at
 * the start (those retention pruned before are not counted) and every one
 * recorded since: it only grows while tbdaq-web runs.
 *
 * Errors: a database that cannot be opened or read, or a daemon that does
 * not answer, is a state shown (db_error, daemon.up), logged once when it
 * starts and once when it ends. Out of memory aborts.
 */
#ifndef TBDAQ_WEB_MODEL_H
#define TBDAQ_WEB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/reading.h"
#include "lib/store.h"

/* How often the model follows the database and asks the daemon. */
#define WEB_REFRESH_MS 1000
/* The trend: 60 buckets of 10 s, the last 10 minutes (SPEC). */
#define WEB_TREND_BUCKETS 60
#define WEB_TREND_BUCKET_US (10 * 1000000LL)
/* The qualities of SPEC's Readings, counted per sensor. */
#define WEB_QUALITIES 5
/* Longest texts kept. */
#define WEB_KIND_MAX 16
#define WEB_ERROR_MAX 128

struct model_bucket {
    int64_t slot; /* ts_us / WEB_TREND_BUCKET_US of what it holds */
    double sum;   /* of good values */
    uint32_t n;
};

struct model_sensor {
    char tag[CONFIG_NAME_MAX + 1];
    char kind[WEB_KIND_MAX];
    char unit[CONFIG_NAME_MAX + 1];
    char bus[CONFIG_NAME_MAX + 1];
    bool has_reading; /* the newest: */
    int64_t seq, ts_us;
    bool has_value;
    double value;
    int quality; /* enum quality */
    char error[WEB_ERROR_MAX];
    bool has_good; /* the newest good value */
    double good;
    int64_t good_ts_us;
    int64_t counts[WEB_QUALITIES];
    struct model_bucket trend[WEB_TREND_BUCKETS];
};

struct model_bus {
    char name[CONFIG_NAME_MAX + 1];
    bool down; /* a bus_down event since the daemon's start, no bus_up */
    bool has_reading;
    int64_t last_ts_us; /* of its newest reading */
};

/* The daemon, from its control channel. */
struct model_daemon {
    bool up;
    char version[64];
    long pid;
    int64_t started_us;
    long long recorded, failed_polls, missed_slots, buses_down;
    char mqtt[16]; /* "connected", "disconnected", "off", or "" if down */
    long long backlog;
    char database[128]; /* "writable" or "down: why" */
    char clock[96];
};

/* The published state: read it under model_lock(). */
struct model_view {
    char site[CONFIG_NAME_MAX + 1]; /* as the daemon recorded it */
    bool db_ok;
    char db_error[STORE_ERR_MAX];
    int64_t last_seq;
    int64_t db_bytes; /* the database file and its -wal */
    struct model_sensor *sensors;
    size_t nsensors; /* by tag */
    struct model_bus *buses;
    size_t nbuses; /* by name */
    struct model_daemon daemon;
    long long backlog; /* readings the broker has not acknowledged */
    bool run_open;
    char run_name[CONTROL_NAME_MAX + 1];
    char run_operator[CONTROL_OPERATOR_MAX + 1];
    int64_t run_started_us;
    int64_t run_readings;
    int64_t refreshed_us; /* when this was built */
};

struct model;

/* Creates the model of database (control_socket may be NULL), loads it
 * once (a database that cannot be read is a state, not a failure), and
 * starts the refresher thread. Returns NULL only if the thread cannot
 * start (logged). */
struct model *model_start(const char *database, const char *control_socket);
/* Stops the refresher and frees everything; NULL is fine. */
void model_stop(struct model *m);

/* The published view; hold the lock only while rendering it. */
const struct model_view *model_lock(struct model *m);
void model_unlock(struct model *m);

/* The trend of sensor s at now_us: out[i] the mean of bucket i (0 the
 * oldest), NaN where it holds no good value. */
void model_trend(const struct model_sensor *s, int64_t now_us,
                 double out[WEB_TREND_BUCKETS]);
/* Whether a bus looks up: the daemon runs and no bus_down stands. */
bool model_bus_up(const struct model_view *v, const struct model_bus *b);

#endif
