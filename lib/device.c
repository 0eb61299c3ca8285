// SPDX-License-Identifier: MIT
/*
 * Instruments' identities: ASCII registers to text, and the `device`
 * event's detail written and read back (see lib/device.h). The detail is
 * JSON whose strings need no escape, so writing it is a printf and
 * reading it back a small strict parser of that one shape.
 */
#include "lib/device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Whether byte b goes into the text as it is. */
static bool device_byte_plain(unsigned char b)
{
    return b >= 0x20 && b < 0x7f && b != '%' && b != '"' && b != '\\';
}

size_t device_ascii(const uint16_t *words, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    unsigned char bytes[2 * DEVICE_REGS_MAX];
    size_t nb = 0, len = 0;

    if (n > DEVICE_REGS_MAX)
        n = DEVICE_REGS_MAX;
    for (size_t i = 0; i < n; i++) {
        unsigned char hi = (unsigned char)(words[i] >> 8);
        unsigned char lo = (unsigned char)(words[i] & 0xff);

        /* NULs pad a field, at its end or (on some devices) between
         * words: none of them is a character of the text */
        if (hi)
            bytes[nb++] = hi;
        if (lo)
            bytes[nb++] = lo;
    }
    while (nb > 0 && bytes[nb - 1] == ' ')
        nb--;
    for (size_t i = 0; i < nb; i++) {
        if (device_byte_plain(bytes[i])) {
            out[len++] = (char)bytes[i];
            continue;
        }
        out[len++] = '%';
        out[len++] = hex[bytes[i] >> 4];
        out[len++] = hex[bytes[i] & 0xf];
    }
    out[len] = '\0';
    return len;
}

/* True if s can be written between quotes without an escape. */
static bool device_text_plain(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            return false;
    return true;
}

/* Appends `"s"`, or `null` if !has, at out[*len]; false if it would not
 * fit or needs an escape. */
static bool device_put(char *out, size_t *len, bool has, const char *s)
{
    int n;

    if (has && !device_text_plain(s))
        return false;
    n = has ? snprintf(out + *len, EVENT_DETAIL_MAX - *len, "\"%s\"", s)
            : snprintf(out + *len, EVENT_DETAIL_MAX - *len, "null");
    if (n < 0 || (size_t)n >= EVENT_DETAIL_MAX - *len)
        return false;
    *len += (size_t)n;
    return true;
}

/* Appends the literal s at out[*len]; false if it would not fit. */
static bool device_lit(char *out, size_t *len, const char *s)
{
    size_t n = strlen(s);

    if (n >= EVENT_DETAIL_MAX - *len)
        return false;
    memcpy(out + *len, s, n + 1);
    *len += n;
    return true;
}

int device_ident_format(const struct device_ident *id,
                        char out[EVENT_DETAIL_MAX])
{
    char unit[32];
    size_t len = 0;
    bool ok;

    snprintf(unit, sizeof(unit), ",\"unit\":%d,\"model\":", id->unit);
    ok = device_lit(out, &len, "{\"bus\":") &&
         device_put(out, &len, true, id->bus) && device_lit(out, &len, unit) &&
         device_put(out, &len, id->has_model, id->model) &&
         device_lit(out, &len, ",\"serial\":") &&
         device_put(out, &len, id->has_serial, id->serial) &&
         device_lit(out, &len, ",\"firmware\":") &&
         device_put(out, &len, id->has_firmware, id->firmware) &&
         device_lit(out, &len, "}");
    if (!ok) {
        out[0] = '\0';
        return -1;
    }
    return (int)len;
}

/* ---- reading a detail back ---- */

/* A position in the detail being read. */
struct device_scan {
    const char *p;
};

static bool device_scan_char(struct device_scan *sc, char c)
{
    if (*sc->p != c)
        return false;
    sc->p++;
    return true;
}

/* A string without escapes into buf (size bytes), or null (*has false). */
static bool device_scan_string(struct device_scan *sc, char *buf, size_t size,
                               bool *has)
{
    const char *end;

    if (strncmp(sc->p, "null", DEVICE_DETAIL_NULL) == 0) {
        sc->p += DEVICE_DETAIL_NULL;
        *has = false;
        buf[0] = '\0';
        return true;
    }
    if (!device_scan_char(sc, '"'))
        return false;
    for (end = sc->p; *end && *end != '"'; end++)
        if ((unsigned char)*end < 0x20 || *end == '\\')
            return false;
    if (*end != '"' || (size_t)(end - sc->p) >= size)
        return false;
    memcpy(buf, sc->p, (size_t)(end - sc->p));
    buf[end - sc->p] = '\0';
    sc->p = end + 1;
    *has = true;
    return true;
}

/* A value device_ident_format() never writes under this key: skipped. */
static bool device_scan_skip(struct device_scan *sc)
{
    char buf[EVENT_DETAIL_MAX];
    bool has;
    char *end;

    if (*sc->p == '"' || *sc->p == 'n')
        return device_scan_string(sc, buf, sizeof(buf), &has);
    strtol(sc->p, &end, 10);
    if (end == sc->p)
        return false;
    sc->p = end;
    return true;
}

/* One member "key":value into id; *seen gets bit 0 for bus, 1 for unit. */
static bool device_scan_member(struct device_scan *sc, struct device_ident *id,
                               unsigned *seen)
{
    char key[16];
    bool has, ok;

    if (!device_scan_string(sc, key, sizeof(key), &has) || !has ||
        !device_scan_char(sc, ':'))
        return false;
    if (strcmp(key, "bus") == 0) {
        ok = device_scan_string(sc, id->bus, sizeof(id->bus), &has) && has;
        *seen |= 1;
    } else if (strcmp(key, "unit") == 0) {
        char *end;
        long v = strtol(sc->p, &end, 10);

        ok = end != sc->p && v >= 0 && v <= 255;
        id->unit = (int)v;
        sc->p = end;
        *seen |= 2;
    } else if (strcmp(key, "model") == 0) {
        ok = device_scan_string(sc, id->model, sizeof(id->model),
                                &id->has_model);
    } else if (strcmp(key, "serial") == 0) {
        ok = device_scan_string(sc, id->serial, sizeof(id->serial),
                                &id->has_serial);
    } else if (strcmp(key, "firmware") == 0) {
        ok = device_scan_string(sc, id->firmware, sizeof(id->firmware),
                                &id->has_firmware);
    } else {
        ok = device_scan_skip(sc);
    }
    return ok;
}

int device_ident_parse(const char *detail, struct device_ident *id)
{
    struct device_scan sc = {detail};
    unsigned seen = 0;

    memset(id, 0, sizeof(*id));
    if (!detail || !device_scan_char(&sc, '{'))
        return -1;
    do {
        if (!device_scan_member(&sc, id, &seen))
            return -1;
    } while (device_scan_char(&sc, ','));
    if (!device_scan_char(&sc, '}') || *sc.p != '\0' || seen != 3)
        return -1;
    return 0;
}

bool device_ident_equal(const struct device_ident *a,
                        const struct device_ident *b)
{
    return strcmp(a->bus, b->bus) == 0 && a->unit == b->unit &&
           a->has_model == b->has_model && a->has_serial == b->has_serial &&
           a->has_firmware == b->has_firmware &&
           strcmp(a->model, b->model) == 0 &&
           strcmp(a->serial, b->serial) == 0 &&
           strcmp(a->firmware, b->firmware) == 0;
}

/* ---- the log ---- */

void device_log_put(struct device_log *l, int64_t ts_us,
                    const struct device_ident *id, const char *detail,
                    bool newest_only)
{
    struct device_entry *e = NULL;

    for (size_t i = 0; newest_only && i < l->n; i++)
        if (l->v[i].id.unit == id->unit && strcmp(l->v[i].id.bus, id->bus) == 0)
            e = &l->v[i];
    if (!e) {
        xgrow(&l->v, &l->cap, l->n + 1, sizeof(*l->v));
        e = &l->v[l->n++];
    }
    e->ts_us = ts_us;
    e->id = *id;
    snprintf(e->detail, sizeof(e->detail), "%s", detail);
}

int device_log_event(struct device_log *l, int64_t ts_us, const char *kind,
                     const char *detail, bool newest_only)
{
    struct device_ident id;

    if (strcmp(kind, "device") != 0 || device_ident_parse(detail, &id) < 0)
        return 0;
    device_log_put(l, ts_us, &id, detail, newest_only);
    return 1;
}

const struct device_entry *device_log_at(const struct device_log *l,
                                         const char *bus, int unit,
                                         int64_t at_us)
{
    const struct device_entry *found = NULL;

    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].ts_us <= at_us && l->v[i].id.unit == unit &&
            strcmp(l->v[i].id.bus, bus) == 0)
            found = &l->v[i];
    return found;
}

void device_log_release(struct device_log *l)
{
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}
