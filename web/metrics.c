// SPDX-License-Identifier: MIT
/*
 * /metrics: SPEC's Metrics in Prometheus text exposition format 0.0.4,
 * from the live model. Label values are escaped as the format says
 * (backslash, double quote, newline); every family has its HELP and TYPE
 * once, before its samples.
 */
#include <string.h>

#include "drivers/decode.h"
#include "web/web.h"

/* What the samples of one sensor take, about. */
#define METRICS_SENSOR_BYTES 512

static void family(struct buf *b, const char *name, const char *type,
                   const char *help)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sensor_label(struct buf *b, const char *name,
                         const struct model_sensor *s)
{
    buf_printf(b, "%s{sensor=\"", name);
    buf_prom_label(b, s->tag);
    buf_puts(b, "\"");
}

static void render_sensors(const struct model_view *v, int64_t now_us,
                           struct buf *b)
{
    struct buf label = {0};

    /* About 400 bytes a sensor: one allocation for the lot. */
    buf_reserve(b, v->nsensors * METRICS_SENSOR_BYTES);
    family(b, "tbdaq_readings_total", "counter",
           "Readings recorded, by sensor and quality.");
    for (size_t i = 0; i < v->nsensors; i++) {
        label.len = 0;
        sensor_label(&label, "tbdaq_readings_total", &v->sensors[i]);
        for (int q = 0; q < WEB_QUALITIES; q++) {
            buf_add(b, label.p, label.len);
            buf_printf(b, ",quality=\"%s\"} %lld\n",
                       quality_name((enum quality)q),
                       (long long)v->sensors[i].counts[q]);
        }
    }
    buf_release(&label);
    family(b, "tbdaq_sensor_value", "gauge",
           "The newest good value of each sensor, in its unit.");
    for (size_t i = 0; i < v->nsensors; i++) {
        const struct model_sensor *s = &v->sensors[i];

        if (!s->has_good)
            continue;
        sensor_label(b, "tbdaq_sensor_value", s);
        buf_puts(b, ",kind=\"");
        buf_prom_label(b, s->kind);
        buf_puts(b, "\",unit=\"");
        buf_prom_label(b, s->unit);
        buf_puts(b, "\"} ");
        buf_prom_num(b, s->good);
        buf_puts(b, "\n");
    }
    family(b, "tbdaq_sensor_age_seconds", "gauge",
           "Seconds since the newest reading of each sensor, of any "
           "quality.");
    for (size_t i = 0; i < v->nsensors; i++) {
        const struct model_sensor *s = &v->sensors[i];

        if (!s->has_reading)
            continue;
        sensor_label(b, "tbdaq_sensor_age_seconds", s);
        buf_puts(b, "} ");
        buf_prom_num(b, (double)(now_us - s->ts_us) / 1e6);
        buf_puts(b, "\n");
    }
}

void render_metrics(const struct model_view *v, int64_t now_us, struct buf *b)
{
    family(b, "tbdaq_up", "gauge",
           "1 while tbdaqd runs (answers on its control channel).");
    buf_printf(b, "tbdaq_up %d\n", v->daemon.up);
    render_sensors(v, now_us, b);
    family(b, "tbdaq_bus_up", "gauge",
           "1 while tbdaqd runs and the bus has no bus_down event standing.");
    for (size_t i = 0; i < v->nbuses; i++) {
        buf_puts(b, "tbdaq_bus_up{bus=\"");
        buf_prom_label(b, v->buses[i].name);
        buf_printf(b, "\"} %d\n", model_bus_up(v, &v->buses[i]));
    }
    family(b, "tbdaq_mqtt_connected", "gauge",
           "1 while tbdaqd is connected to its MQTT broker.");
    buf_printf(b, "tbdaq_mqtt_connected %d\n",
               v->daemon.up && strcmp(v->daemon.mqtt, "connected") == 0);
    family(b, "tbdaq_mqtt_backlog_readings", "gauge",
           "Readings recorded but not acknowledged by the MQTT broker.");
    buf_printf(b, "tbdaq_mqtt_backlog_readings %lld\n",
               v->backlog > 0 ? v->backlog : 0);
    family(b, "tbdaq_database_bytes", "gauge",
           "Size of the database file and its write-ahead log.");
    buf_printf(b, "tbdaq_database_bytes %lld\n", (long long)v->db_bytes);
    family(b, "tbdaq_database_readable", "gauge",
           "1 while tbdaq-web can read the database.");
    buf_printf(b, "tbdaq_database_readable %d\n", v->db_ok);
    family(b, "tbdaq_last_seq", "gauge", "The newest reading's seq.");
    buf_printf(b, "tbdaq_last_seq %lld\n", (long long)v->last_seq);
    family(b, "tbdaq_run_open", "gauge", "1 while a test run is open.");
    buf_printf(b, "tbdaq_run_open %d\n", v->run_open);
}
