// SPDX-License-Identifier: MIT
/*
 * SPEC's MQTT topics and payloads, written into a bounded buffer. Each
 * payload is built piece by piece into a `struct out` that stops taking
 * bytes once it is full and remembers it, so a payload either fits whole
 * or is refused whole: a truncated JSON object never goes out.
 */
#include "daemon/payload.h"

#include <stdio.h>
#include <string.h>

#include "common/fmt.h"
#include "common/jsonw.h"

/* A bounded output buffer; once over, everything after is dropped. */
struct out {
    char *buf;
    size_t len, pos;
    bool over;
};

/* An empty output into buf (len 0 is over from the start). */
static struct out out_begin(char *buf, size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    return (struct out){buf, len, 0, len == 0};
}

/* The length written, or -1 with buf emptied if it did not fit. */
static int out_end(struct out *o)
{
    if (o->over) {
        if (o->len > 0)
            o->buf[0] = '\0';
        return -1;
    }
    return (int)o->pos;
}

/* Where n more bytes go, and the NUL after them, or NULL if they do not
 * fit. The writers below write in place when their longest form fits,
 * else through a buffer of their own: the same bytes either way, and
 * the same refusal of what does not fit. */
static char *out_room(struct out *o, size_t n)
{
    return o->over || n >= o->len - o->pos ? NULL : o->buf + o->pos;
}

/* Ends a piece written in place at out_room(), at end. */
static void out_wrote(struct out *o, const char *end)
{
    o->pos = (size_t)(end - o->buf);
    o->buf[o->pos] = '\0';
}

static void out_raw(struct out *o, const char *s, size_t n)
{
    char *p = out_room(o, n);

    if (!p) {
        o->over = true;
        return;
    }
    memcpy(p, s, n);
    out_wrote(o, p + n);
}

static void out_str(struct out *o, const char *s)
{
    out_raw(o, s, strlen(s));
}

/* A string literal's bytes. */
#define out_lit(o, lit) out_raw((o), (lit), sizeof(lit) - 1)

/* A JSON string: quotes, backslashes and every control character escaped,
 * because error texts come from libmodbus and may hold anything. */
static void out_json(struct out *o, const char *s)
{
    char tmp[JSONW_STRING_MAX(PAYLOAD_MAX)], *p;
    size_t n;

    if (!s) {
        out_lit(o, "null");
        return;
    }
    n = strlen(s);
    if (n > PAYLOAD_MAX) {
        o->over = true; /* could never fit a payload */
        return;
    }
    if ((p = out_room(o, JSONW_STRING_MAX(n))))
        out_wrote(o, jsonw_string(p, s, n));
    else
        out_raw(o, tmp, (size_t)(jsonw_string(tmp, s, n) - tmp));
}

static void out_int(struct out *o, int64_t v)
{
    char tmp[FMT_INT64_LEN], *p;

    if ((p = out_room(o, FMT_INT64_LEN)))
        out_wrote(o, p + fmt_int64(v, p));
    else
        out_raw(o, tmp, fmt_int64(v, tmp));
}

/* The shortest of %.15g, %.16g and %.17g that reads back to the same bits;
 * %.17g always does. JSON has no NaN or infinity: those are null. */
static void out_double(struct out *o, double v)
{
    char tmp[JSONW_DOUBLE_MAX], *p;

    if ((p = out_room(o, JSONW_DOUBLE_MAX)))
        out_wrote(o, jsonw_double(p, v));
    else
        out_raw(o, tmp, (size_t)(jsonw_double(tmp, v) - tmp));
}

/* "<ISO time>" as a JSON string: its characters (digits, '-', ':', 'T',
 * '.', 'Z') need no escaping. */
static void out_iso(struct out *o, int64_t us)
{
    char ts[TIME_ISO_LEN + 2];
    size_t n;

    ts[0] = '"';
    n = fmt_time_iso(us, ts + 1);
    ts[n + 1] = '"';
    out_raw(o, ts, n + 2);
}

/* ,"key":"<ISO time>" or null when us is 0 */
static void out_time(struct out *o, const char *key, int64_t us)
{
    out_str(o, key);
    if (us == 0)
        out_lit(o, "null");
    else
        out_iso(o, us);
}

/* ,"key":"text" or null */
static void out_json_or_null(struct out *o, const char *key, const char *s)
{
    out_str(o, key);
    out_json(o, s);
}

/* A reading's object; without "site" when site is NULL (an element of a
 * device message, whose site is said once). */
static void out_reading(struct out *o, const char *site,
                        const struct reading_row *r)
{
    out_lit(o, "{\"seq\":");
    if (r->seq > 0)
        out_int(o, r->seq);
    else
        out_lit(o, "null");
    if (site) {
        out_lit(o, ",\"site\":");
        out_json(o, site);
    }
    out_lit(o, ",\"sensor\":");
    out_json(o, r->sensor);
    out_lit(o, ",\"kind\":");
    out_json(o, r->kind);
    out_lit(o, ",\"ts\":");
    out_iso(o, r->ts_us);
    out_lit(o, ",\"ts_us\":");
    out_int(o, r->ts_us);
    out_lit(o, ",\"value\":");
    if (r->has_value)
        out_double(o, r->value);
    else
        out_lit(o, "null");
    out_lit(o, ",\"unit\":");
    out_json(o, r->unit);
    out_lit(o, ",\"quality\":");
    out_json(o, r->quality);
    if (r->error) {
        out_lit(o, ",\"error\":");
        out_json(o, r->error);
    }
    if (r->run) {
        out_lit(o, ",\"run\":");
        out_json(o, r->run);
    }
    if (r->seq <= 0)
        out_lit(o, ",\"recorded\":false");
    out_lit(o, "}");
}

int payload_reading(char *buf, size_t len, const char *site,
                    const struct reading_row *r)
{
    struct out o = out_begin(buf, len);

    out_reading(&o, site, r);
    return out_end(&o);
}

int payload_device_head(char *buf, size_t len, const char *site,
                        const char *bus, int unit_id)
{
    struct out o = out_begin(buf, len);

    out_lit(&o, "{\"site\":");
    out_json(&o, site);
    out_lit(&o, ",\"bus\":");
    out_json(&o, bus);
    out_lit(&o, ",\"unit_id\":");
    out_int(&o, unit_id);
    out_lit(&o, ",\"readings\":[");
    return out_end(&o);
}

int payload_device_reading(char *buf, size_t len, const struct reading_row *r)
{
    struct out o = out_begin(buf, len);

    out_reading(&o, NULL, r);
    return out_end(&o);
}

int payload_run(char *buf, size_t len, const struct pub_run *r)
{
    struct out o = out_begin(buf, len);

    if (!r->name) {
        out_str(&o, PAYLOAD_IDLE);
        return out_end(&o);
    }
    out_lit(&o, "{\"name\":");
    out_json(&o, r->name);
    out_time(&o, ",\"started\":", r->started_us);
    out_json_or_null(&o, ",\"operator\":", r->operator_name);
    if (r->sealed) {
        out_time(&o, ",\"ended\":", r->ended_us);
        out_json_or_null(&o, ",\"chain_head\":", r->chain_head);
        out_lit(&o, ",\"chain_seq\":");
        out_int(&o, r->chain_seq);
        out_lit(&o, ",\"readings\":");
        out_int(&o, r->readings);
    }
    out_lit(&o, "}");
    return out_end(&o);
}

int payload_witness(char *buf, size_t len, int64_t seq, const char *head,
                    int64_t ts_us)
{
    struct out o = out_begin(buf, len);

    out_lit(&o, "{\"seq\":");
    out_int(&o, seq);
    out_lit(&o, ",\"head\":");
    out_json(&o, head);
    out_time(&o, ",\"ts\":", ts_us);
    out_lit(&o, "}");
    return out_end(&o);
}

int payload_online(char *buf, size_t len, const char *version, int64_t since_us)
{
    struct out o = out_begin(buf, len);

    /* The version is ours, but escaped all the same. */
    out_lit(&o, "{\"state\":\"online\",\"version\":");
    out_json(&o, version);
    out_lit(&o, ",\"since\":");
    out_iso(&o, since_us);
    out_lit(&o, "}");
    return out_end(&o);
}

int payload_topic(char *buf, size_t len, const char *prefix, const char *site,
                  const char *kind, const char *sensor)
{
    int n = snprintf(buf, len, "%s/%s/%s/%s", prefix, site, kind, sensor);

    if (n < 0 || (size_t)n >= len) {
        if (len > 0)
            buf[0] = '\0';
        return -1;
    }
    return n;
}
