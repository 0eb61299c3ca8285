// SPDX-License-Identifier: MIT
/*
 * `tbdaq status`: what an operator asks first. Whether the daemon runs
 * and since when, its live counters, the open run, the clock, whether
 * MQTT is behind; then the newest reading of each sensor, each bus's
 * error counts and the instruments' identities (the newest `device` event
 * of each bus and unit), from the database. Works with the daemon stopped (then
 * from the database alone). What it shows of the database (the run, the
 * MQTT line, both tables) is read in one snapshot of it
 * (store_snapshot_begin()): a commit of the daemon's between two of them
 * does not make them disagree.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fmt.h"
#include "common/table.h"
#include "common/log.h"
#include "common/util.h"
#include "lib/device.h"
#include "lib/store.h"

/* Bus errors are also counted over this recent window. */
#define STATUS_RECENT_S 3600
/* Readings not yet acknowledged by the broker are a backlog worth showing
 * once the oldest of them was taken this long ago: younger ones are in
 * flight in any healthy setup. */
#define STATUS_BACKLOG_AGE_S 5

/* What the status shows of the daemon, from its answer or the database. */
struct status {
    int64_t now_us;
    bool running;
    int64_t backlog;  /* readings not acknowledged, -1: nothing published */
    int64_t last_seq; /* the newest reading's seq */
    char mqtt[32];    /* "connected", "disconnected", "off" or "" */
    char spb[32];     /* the Sparkplug edge node's, the same way */
    int64_t spb_backlog;
};

/* The value of "key value" line key in a status answer, or "". */
static const char *status_value(const char *reply, const char *key, char *buf,
                                size_t len)
{
    size_t k = strlen(key);

    for (const char *p = reply; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        if (strncmp(p, key, k) == 0 && p[k] == ' ') {
            snprintf(buf, len, "%.*s", (int)strcspn(p + k + 1, "\n"),
                     p + k + 1);
            return buf;
        }
    }
    buf[0] = '\0';
    return buf;
}

/* An age as people read it: "0.4 s", "12 min", "3.5 h", "12 d". */
static void status_age(int64_t us, char *buf, size_t len)
{
    double s = (double)us / US_PER_S;

    if (s < 60)
        snprintf(buf, len, "%.1f s", s < 0 ? 0.0 : s);
    else if (s < 3600)
        snprintf(buf, len, "%.0f min", s / 60);
    else if (s < 86400)
        snprintf(buf, len, "%.1f h", s / 3600);
    else
        snprintf(buf, len, "%.0f d", s / 86400);
}

/* The daemon's part: whether it runs, since when, its live counters, from
 * cli_ask()'s rc, reply and err. A daemon not running is a state, not a
 * failure. */
static void status_daemon(struct status *st, int rc, const char *reply,
                          const char *err)
{
    char v[CONTROL_REPLY_MAX], ts[TIME_ISO_LEN], age[32];
    long long n1, n2;
    int64_t since;

    if (rc != 0) {
        static const char prefix[] = "tbdaqd is not running: ";

        if (rc == 1 && strncmp(err, prefix, sizeof(prefix) - 1) == 0)
            err += sizeof(prefix) - 1;
        printf(rc == 1 ? "tbdaqd: not running (%s)\n"
                       : "tbdaqd: cannot ask it: %s\n",
               err);
        return;
    }
    st->running = true;
    since = strtoll(status_value(reply, "started_us", v, sizeof(v)), NULL, 10);
    time_format_iso(since, ts);
    status_age(st->now_us - since, age, sizeof(age));
    printf("tbdaqd: running since %s (%s; pid %s, %.*s)\n", ts, age,
           status_value(reply, "pid", v, sizeof(v)), (int)strcspn(reply, "\n"),
           reply);
    printf("  recorded:  %s readings",
           status_value(reply, "recorded", v, sizeof(v)));
    printf(" (last seq %s); ", status_value(reply, "last_seq", v, sizeof(v)));
    st->last_seq = strtoll(v, NULL, 10);
    printf("%s failed polls, ",
           status_value(reply, "failed_polls", v, sizeof(v)));
    printf("%s missed slots, ",
           status_value(reply, "missed_slots", v, sizeof(v)));
    printf("%s buses down\n", status_value(reply, "buses_down", v, sizeof(v)));
    printf("  database:  %s\n", status_value(reply, "database", v, sizeof(v)));
    status_value(reply, "mqtt", st->mqtt, sizeof(st->mqtt));
    st->backlog =
        strtoll(status_value(reply, "backlog", v, sizeof(v)), NULL, 10);
    status_value(reply, "sparkplug", st->spb, sizeof(st->spb));
    st->spb_backlog = strtoll(
        status_value(reply, "sparkplug_backlog", v, sizeof(v)), NULL, 10);
    status_value(reply, "clock", v, sizeof(v));
    if (sscanf(v, "synchronized %lld %lld", &n1, &n2) == 2)
        printf("  clock:     synchronized, estimated error %lld us "
               "(maximum %lld us)",
               n1, n2);
    else
        printf("  clock:     %s", v);
    status_value(reply, "clock_steps", v, sizeof(v));
    if (sscanf(v, "%lld %lld", &n1, &n2) == 2 && n1 > 0) {
        time_format_iso(n2, ts);
        printf("; %lld steps since start, the last at %s\n", n1, ts);
    } else {
        printf("; no step since start\n");
    }
}

static int status_run_fn(const struct store_run *r, void *arg)
{
    char ts[TIME_ISO_LEN];

    (void)arg;
    time_format_iso(r->started_us, ts);
    printf("  run:       '%s' open since %s", r->name, ts);
    if (r->operator_name)
        printf(" (operator %s)", r->operator_name);
    printf(", %lld readings\n", (long long)r->readings);
    return 0;
}

static int status_oldest_fn(const struct reading_row *r, void *arg)
{
    *(int64_t *)arg = r->ts_us;
    return 0;
}

/* The MQTT line: the daemon's connection, and the backlog only when it
 * means something (its oldest reading older than STATUS_BACKLOG_AGE_S). */
static int status_mqtt(struct store *s, struct status *st)
{
    int64_t acked = 0, oldest_us = 0;
    char ts[TIME_ISO_LEN], age[32];
    int absent;

    if (st->running && strcmp(st->mqtt, "off") == 0) {
        printf("  MQTT:      off (no mqtt section)\n");
        return 0;
    }
    if (!st->running) {
        if ((absent = store_get_state(s, STORE_STATE_MQTT_ACKED, &acked)) < 0 ||
            store_last_seq(s, &st->last_seq) < 0)
            return -1;
        if (absent) {
            printf("  MQTT:      nothing published from this database\n");
            return 0;
        }
        st->backlog = st->last_seq - acked;
    }
    printf("  MQTT:      %s%s", st->mqtt, st->mqtt[0] ? "; " : "");
    if (st->backlog > 0 &&
        store_readings_after(s, st->last_seq - st->backlog, 1, status_oldest_fn,
                             &oldest_us) < 0)
        return -1;
    if (st->backlog <= 0 || oldest_us == 0 ||
        st->now_us - oldest_us < STATUS_BACKLOG_AGE_S * US_PER_S) {
        printf("nothing waiting");
    } else {
        time_format_iso(oldest_us, ts);
        status_age(st->now_us - oldest_us, age, sizeof(age));
        printf("backlog %lld readings not acknowledged by the broker, the "
               "oldest taken %s (%s ago)",
               (long long)st->backlog, ts, age);
    }
    printf(" (acknowledged up to seq %lld of %lld)\n",
           (long long)(st->last_seq - (st->backlog > 0 ? st->backlog : 0)),
           (long long)st->last_seq);
    return 0;
}

/* The Sparkplug line, only where an edge node runs or ran: its state and
 * where its acknowledgement stands. */
static int status_sparkplug(struct store *s, const struct status *st)
{
    int64_t acked, last = st->last_seq;
    int absent;

    if (st->running && (!st->spb[0] || strcmp(st->spb, "off") == 0))
        return 0;
    if (st->running) {
        acked = last - st->spb_backlog;
    } else {
        if ((absent = store_get_state(s, STORE_STATE_SPARKPLUG_ACKED, &acked)) <
                0 ||
            store_last_seq(s, &last) < 0)
            return -1;
        if (absent)
            return 0;
    }
    printf("  Sparkplug: %s%sacknowledged up to seq %lld of %lld\n", st->spb,
           st->spb[0] ? "; " : "", (long long)acked, (long long)last);
    return 0;
}

/* A table being filled, and the time ages count to. */
struct status_table {
    struct table t;
    int64_t now_us;
};

static int status_sensor_fn(const struct store_sensor_status *ss, void *arg)
{
    const struct reading_row *r = &ss->row;
    struct status_table *st = arg;
    struct table *t = &st->t;
    char ts[TIME_ISO_LEN], age[32];

    table_cell(t, "%s", r->sensor);
    table_cell(t, "%s", r->kind);
    table_cell(t, "%s", ss->bus);
    if (!ss->has_reading) {
        for (int i = 0; i < 5; i++)
            table_cell(t, "-");
        table_cell(t, "%s",
                   ss->pruned ? "newest reading pruned by retention"
                              : "no readings yet");
        return 0;
    }
    if (r->has_value) {
        char v[FMT_DOUBLE_LEN];

        /* the value as stored: a totaliser's last digits move too */
        fmt_double(r->value, v);
        table_cell(t, "%s", v);
    } else
        table_cell(t, "null");
    table_cell(t, "%s", r->unit);
    table_cell(t, "%s", r->quality);
    time_format_iso(r->ts_us, ts);
    table_cell(t, "%s", ts);
    status_age(st->now_us - r->ts_us, age, sizeof(age));
    table_cell(t, "%s", age);
    table_cell(t, "%s", r->error ? r->error : "");
    return 0;
}

static int status_bus_fn(const struct store_bus_status *r, void *arg)
{
    struct table *t = &((struct status_table *)arg)->t;

    table_cell(t, "%s", r->bus);
    table_cell(t, "%lld", (long long)r->readings_total);
    table_cell(t, "%lld", (long long)r->errors_recent);
    table_cell(t, "%lld", (long long)r->errors_total);
    table_cell(t, "%lld", (long long)r->missed_recent);
    table_cell(t, "%lld", (long long)r->missed_total);
    return 0;
}

static int status_device_fn(int64_t ts_us, const char *kind, const char *detail,
                            void *arg)
{
    if (detail)
        device_log_event(arg, ts_us, kind, detail, true);
    return 0;
}

static int status_device_cmp(const void *a, const void *b)
{
    const struct device_entry *x = a, *y = b;
    int c = strcmp(x->id.bus, y->id.bus);

    return c ? c : (x->id.unit > y->id.unit) - (x->id.unit < y->id.unit);
}

/* The instruments: the newest identity recorded of each bus and unit,
 * and since when it is (its `device` event), by bus and unit. Nothing is
 * shown if none was ever recorded. Reads every event (a few per day
 * beside the readings). */
static int status_devices(struct store *s)
{
    static const char *const head[] = {
        "BUS", ">UNIT", "MODEL", "SERIAL", "FIRMWARE", "SINCE", NULL,
    };
    struct device_log devs = {0};
    struct table t;
    char ts[TIME_ISO_LEN];

    if (store_events(s, INT64_MIN, INT64_MAX, status_device_fn, &devs) < 0)
        return -1;
    if (devs.n == 0)
        return 0;
    qsort(devs.v, devs.n, sizeof(*devs.v), status_device_cmp);
    table_init(&t, head);
    for (size_t i = 0; i < devs.n; i++) {
        const struct device_ident *id = &devs.v[i].id;

        table_cell(&t, "%s", id->bus);
        table_cell(&t, "%d", id->unit);
        table_cell(&t, "%s", id->has_model ? id->model : "-");
        table_cell(&t, "%s", id->has_serial ? id->serial : "-");
        table_cell(&t, "%s", id->has_firmware ? id->firmware : "-");
        time_format_iso(devs.v[i].ts_us, ts);
        table_cell(&t, "%s", ts);
    }
    putchar('\n');
    table_print(&t, stdout);
    table_release(&t);
    device_log_release(&devs);
    return 0;
}

/* The sensor table, then the bus table (inside the caller's snapshot). */
static int status_tables(struct store *s, int64_t now_us)
{
    static const char *const sensor_head[] = {
        "SENSOR",  "KIND",  "BUS",  ">VALUE", "UNIT",
        "QUALITY", "TAKEN", ">AGE", "DETAIL", NULL,
    };
    static const char *const bus_head[] = {
        "BUS",         ">READINGS", ">ERRORS(1h)", ">ERRORS",
        ">MISSED(1h)", ">MISSED",   NULL,
    };
    struct status_table st = {.now_us = now_us};
    int64_t since = now_us - STATUS_RECENT_S * US_PER_S;
    int rc;

    table_init(&st.t, sensor_head);
    rc = store_status(s, since, status_sensor_fn, NULL, &st);
    if (rc == 0) {
        putchar('\n');
        table_print(&st.t, stdout);
    }
    table_release(&st.t);
    if (rc != 0)
        return rc;
    table_init(&st.t, bus_head);
    rc = store_status(s, since, NULL, status_bus_fn, &st);
    if (rc == 0) {
        putchar('\n');
        table_print(&st.t, stdout);
    }
    table_release(&st.t);
    return rc;
}

int status_main(struct cli *cli, int argc, char **argv)
{
    struct control_request req = {.cmd = CONTROL_STATUS};
    char reply[CONTROL_REPLY_MAX], err[CONTROL_REPLY_MAX + 256];
    struct status st = {.now_us = time_real_us(), .backlog = -1};
    struct store *s;
    int rc, asked;

    if ((rc = cli_operands(argc, argv, "status")) >= 0)
        return rc;
    if (optind < argc) {
        log_err("status takes no arguments (see tbdaq status --help)");
        return CLI_USAGE;
    }
    /* The daemon is asked first, but shown only once the database could
     * be opened: a database that cannot be read gets one error, no more. */
    asked = cli_ask(cli, &req, reply, sizeof(reply), err, sizeof(err));
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    if (store_snapshot_begin(s) < 0) {
        log_err("%s", store_errmsg(s));
        store_close(s);
        return CLI_FAIL;
    }
    status_daemon(&st, asked, reply, err);
    rc = store_run_open(s, status_run_fn, NULL);
    if (rc == 1)
        printf("  run:       none open\n");
    if (rc >= 0)
        rc = status_mqtt(s, &st);
    if (rc == 0)
        rc = status_sparkplug(s, &st);
    if (rc == 0)
        rc = status_tables(s, st.now_us);
    if (rc == 0)
        rc = status_devices(s);
    if (rc == 0)
        rc = store_snapshot_end(s);
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    store_close(s);
    return rc ? CLI_FAIL : CLI_OK;
}
