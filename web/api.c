// SPDX-License-Identifier: MIT
/*
 * /api/status: the live model as JSON (documented in the README,
 * "tbdaq-web"): the daemon, the buses, the sensors with their newest
 * reading (and their trend when asked: the live page's script does), the
 * MQTT state, the open run, the database.
 */
#include <math.h>
#include <string.h>

#include "drivers/decode.h"
#include "web/web.h"

static void key(struct buf *b, const char *k, bool first)
{
    if (!first)
        buf_puts(b, ",");
    buf_json_str(b, k);
    buf_puts(b, ":");
}

static void time_or_null(struct buf *b, bool has, int64_t us)
{
    if (!has) {
        buf_puts(b, "null");
        return;
    }
    buf_puts(b, "\"");
    buf_time(b, us);
    buf_puts(b, "\"");
}

static void render_daemon(const struct model_daemon *d, struct buf *b)
{
    buf_printf(b, "{\"running\":%s", d->up ? "true" : "false");
    if (d->up) {
        key(b, "version", false);
        buf_json_str(b, d->version);
        buf_printf(b, ",\"pid\":%ld,\"started\":", d->pid);
        time_or_null(b, true, d->started_us);
        buf_printf(b,
                   ",\"recorded\":%lld,\"failed_polls\":%lld,"
                   "\"missed_slots\":%lld,\"buses_down\":%lld",
                   d->recorded, d->failed_polls, d->missed_slots,
                   d->buses_down);
        key(b, "database", false);
        buf_json_str(b, d->database);
        key(b, "clock", false);
        buf_json_str(b, d->clock);
    }
    buf_puts(b, "}");
}

static void render_sensor(const struct model_sensor *s, int64_t now_us,
                          bool trend, struct buf *b)
{
    key(b, "id", true);
    buf_json_str(b, s->tag);
    key(b, "kind", false);
    buf_json_str(b, s->kind);
    key(b, "unit", false);
    buf_json_str(b, s->unit);
    key(b, "bus", false);
    buf_json_str(b, s->bus);
    key(b, "value", false);
    if (s->has_reading && s->has_value)
        buf_json_num(b, s->value);
    else
        buf_puts(b, "null");
    key(b, "quality", false);
    buf_json_str(b, s->has_reading ? quality_name((enum quality)s->quality)
                                   : NULL);
    key(b, "ts", false);
    time_or_null(b, s->has_reading, s->ts_us);
    key(b, "age_s", false);
    if (s->has_reading)
        buf_json_num(b, (double)(now_us - s->ts_us) / 1e6);
    else
        buf_puts(b, "null");
    key(b, "error", false);
    buf_json_str(b, s->has_reading && s->error[0] ? s->error : NULL);
    key(b, "good_value", false);
    if (s->has_good)
        buf_json_num(b, s->good);
    else
        buf_puts(b, "null");
    if (trend) {
        double t[WEB_TREND_BUCKETS];

        model_trend(s, now_us, t);
        key(b, "trend", false);
        for (int i = 0; i < WEB_TREND_BUCKETS; i++) {
            buf_puts(b, i ? "," : "[");
            buf_json_num(b, t[i]); /* NaN is null */
        }
        buf_puts(b, "]");
    }
}

void render_status(const struct model_view *v, int64_t now_us, bool trend,
                   struct buf *b)
{
    buf_puts(b, "{\"site\":");
    buf_json_str(b, v->site[0] ? v->site : NULL);
    buf_puts(b, ",\"now\":\"");
    buf_time(b, now_us);
    buf_puts(b, "\",\"daemon\":");
    render_daemon(&v->daemon, b);
    buf_puts(b, ",\"buses\":[");
    for (size_t i = 0; i < v->nbuses; i++) {
        buf_puts(b, i ? ",{" : "{");
        key(b, "name", true);
        buf_json_str(b, v->buses[i].name);
        buf_printf(b, ",\"up\":%s,\"last_reading\":",
                   model_bus_up(v, &v->buses[i]) ? "true" : "false");
        time_or_null(b, v->buses[i].has_reading, v->buses[i].last_ts_us);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"sensors\":[");
    for (size_t i = 0; i < v->nsensors; i++) {
        buf_puts(b, i ? ",{" : "{");
        render_sensor(&v->sensors[i], now_us, trend, b);
        buf_puts(b, "}");
    }
    buf_printf(b, "],\"mqtt\":{\"state\":");
    buf_json_str(b, v->daemon.up ? v->daemon.mqtt : "unknown");
    buf_printf(b,
               ",\"backlog\":%lld},\"run\":", v->backlog > 0 ? v->backlog : 0);
    if (v->run_open) {
        buf_puts(b, "{\"name\":");
        buf_json_str(b, v->run_name);
        buf_puts(b, ",\"operator\":");
        buf_json_str(b, v->run_operator[0] ? v->run_operator : NULL);
        buf_puts(b, ",\"started\":");
        time_or_null(b, true, v->run_started_us);
        buf_printf(b, ",\"readings\":%lld}", (long long)v->run_readings);
    } else {
        buf_puts(b, "null");
    }
    buf_printf(b, ",\"database\":{\"readable\":%s,\"error\":",
               v->db_ok ? "true" : "false");
    buf_json_str(b, v->db_ok ? NULL : v->db_error);
    buf_printf(b, ",\"bytes\":%lld,\"last_seq\":%lld}}\n",
               (long long)v->db_bytes, (long long)v->last_seq);
}
