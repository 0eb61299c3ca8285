// SPDX-License-Identifier: MIT
/*
 * The settings tables, and reading a group through its table.
 *
 * Every group (top level, mqtt, sparkplug, their tls groups, a bus, a
 * sensor, a calibration, a device, a device's identity registers) is
 * described by a table of keys: name, type, bounds, default, whether it is
 * required. group_read() checks a group against its table (unknown keys,
 * wrong types, out-of-range numbers, string lengths, missing keys); the
 * readers after it (config.c, config_mqtt.c, config_sparkplug.c,
 * config_bus.c, config_sensor.c, config_device.c) check only what a
 * table cannot say: names, enumerations, and the relations between
 * settings.
 *
 * tests/man/keys.sh reads the tables below to check that tbdaq.conf(5)
 * documents exactly these keys: each table stays "static const struct key
 * GROUP_keys[...]" with one designated ROW per key.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"
#include "lib/device.h"

/* Table rows: name, bounds, default, flags. */
#define ROW_INT(n, lo, hi, def, fl)                                            \
    {                                                                          \
        .name = (n), .type = KEY_INT, .min = (lo), .max = (hi), .idef = (def), \
        .flags = (fl)                                                          \
    }
#define ROW_STR(n, lo, hi, def, fl)                                            \
    {                                                                          \
        .name = (n), .type = KEY_STRING, .min = (lo), .max = (hi),             \
        .sdef = (def), .flags = (fl)                                           \
    }
#define ROW_FLOAT(n, def, fl)                                                  \
    {                                                                          \
        .name = (n), .type = KEY_FLOAT, .fdef = (def), .flags = (fl)           \
    }
#define ROW_BOOL(n, def, fl)                                                   \
    {                                                                          \
        .name = (n), .type = KEY_BOOL, .idef = (def), .flags = (fl)            \
    }
#define ROW(n, t, fl)                                                          \
    {                                                                          \
        .name = (n), .type = (t), .flags = (fl)                                \
    }

static const struct key top_keys[TK_COUNT] = {
    [TK_SITE] = ROW_STR("site", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    [TK_DATABASE] =
        ROW_STR("database", 1, CONFIG_PATH_MAX, CONFIG_DEFAULT_DATABASE, 0),
    [TK_LOG_LEVEL] = ROW_STR("log_level", 1, WORD_MAX, "info", 0),
    [TK_COMMIT_INTERVAL_MS] = ROW_INT("commit_interval_ms", 10, 60000, 100, 0),
    /* 100 years: "keep forever" is 0, not a huge number. */
    [TK_RETENTION_DAYS] = ROW_INT("retention_days", 0, 36500, 0, 0),
    /* 8 minutes of 1,000 readings/s, in 64-128 MiB. */
    [TK_BUFFER_READINGS] = ROW_INT("buffer_readings", 100, 100000000,
                                   CONFIG_DEFAULT_BUFFER_READINGS, 0),
    /* A day at most: a witness is worth something only while fresh. */
    [TK_WITNESS_INTERVAL_S] = ROW_INT("witness_interval_s", 0, 86400,
                                      CONFIG_DEFAULT_WITNESS_INTERVAL_S, 0),
    [TK_CONTROL_SOCKET] =
        ROW_STR("control_socket", 1, CONFIG_SOCKET_PATH_MAX, NULL, 0),
    [TK_MQTT] = ROW("mqtt", KEY_GROUP, 0),
    [TK_BUSES] = ROW("buses", KEY_LIST, KF_REQUIRED),
    [TK_SENSORS] = ROW("sensors", KEY_LIST, KF_REQUIRED),
    [TK_DEVICES] = ROW("devices", KEY_LIST, 0),
    [TK_SPARKPLUG] = ROW("sparkplug", KEY_GROUP, 0),
    [TK_WEB] = ROW("web", KEY_GROUP, 0),
};

static const struct key mqtt_keys[MK_COUNT] = {
    [MK_HOST] = ROW_STR("host", 1, BUS_ADDR_MAX - 1, "localhost", 0),
    [MK_PORT] = ROW_INT("port", 1, 65535, 1883, 0),
    /* Default "tbdaq-<site>", made in config_mqtt_read(). */
    [MK_CLIENT_ID] = ROW_STR("client_id", 1, CONFIG_CLIENT_ID_MAX, NULL, 0),
    [MK_TOPIC_PREFIX] =
        ROW_STR("topic_prefix", 1, CONFIG_TOPIC_PREFIX_MAX, "tbdaq", 0),
    [MK_QOS] = ROW_INT("qos", 0, 2, 1, 0),
    [MK_RETAIN] = ROW_BOOL("retain", false, 0),
    [MK_KEEPALIVE_S] = ROW_INT("keepalive_s", 5, 3600, 30, 0),
    [MK_USERNAME] = ROW_STR("username", 1, CONFIG_USERNAME_MAX, NULL, 0),
    [MK_PASSWORD_FILE] = ROW_STR("password_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [MK_TLS] = ROW("tls", KEY_GROUP, 0),
    [MK_LAYOUT] = ROW_STR("layout", 1, WORD_MAX, "reading", 0),
};

static const struct key tls_keys[LK_COUNT] = {
    [LK_CA_FILE] = ROW_STR("ca_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [LK_CERT_FILE] = ROW_STR("cert_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [LK_KEY_FILE] = ROW_STR("key_file", 1, CONFIG_PATH_MAX, NULL, 0),
};

static const struct key sparkplug_keys[PK_COUNT] = {
    [PK_HOST] = ROW_STR("host", 1, BUS_ADDR_MAX - 1, "localhost", 0),
    [PK_PORT] = ROW_INT("port", 1, 65535, 1883, 0),
    /* Default "tbdaq-<site>-spb", made in config_sparkplug_read(). */
    [PK_CLIENT_ID] = ROW_STR("client_id", 1, CONFIG_CLIENT_ID_MAX, NULL, 0),
    [PK_USERNAME] = ROW_STR("username", 1, CONFIG_USERNAME_MAX, NULL, 0),
    [PK_PASSWORD_FILE] = ROW_STR("password_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [PK_TLS] = ROW("tls", KEY_GROUP, 0),
    [PK_KEEPALIVE_S] = ROW_INT("keepalive_s", 5, 3600, 30, 0),
    [PK_GROUP_ID] = ROW_STR("group_id", 1, CONFIG_NAME_MAX, "tbdaq", 0),
    /* Default: the site, in config_sparkplug_read(). */
    [PK_EDGE_NODE] = ROW_STR("edge_node", 1, CONFIG_NAME_MAX, NULL, 0),
    /* The specification's births and data are QoS 0; 1 for delivery. */
    [PK_QOS] = ROW_INT("qos", 0, 1, 0, 0),
    [PK_PRIMARY_HOST] = ROW_STR("primary_host", 1, CONFIG_NAME_MAX, NULL, 0),
};

static const struct key bus_keys[BK_COUNT] = {
    [BK_NAME] = ROW_STR("name", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    [BK_TYPE] = ROW_STR("type", 1, WORD_MAX, NULL, KF_REQUIRED),
    /* timeout_ms and delay_ms default by type: BUS_TCP_* and BUS_RTU_*;
     * port is required on rtu-over-tcp (config_bus.c). */
    [BK_TIMEOUT_MS] = ROW_INT("timeout_ms", 10, 60000, 0, 0),
    [BK_RETRIES] = ROW_INT("retries", 0, 10, 1, 0),
    [BK_MAX_REGISTERS] =
        ROW_INT("max_registers", 1, BUS_MAX_REGISTERS, BUS_MAX_REGISTERS, 0),
    [BK_MAX_BITS] = ROW_INT("max_bits", 1, BUS_MAX_BITS, BUS_MAX_BITS, 0),
    /* A gap is only worth spanning inside one full-length request. */
    [BK_MAX_GAP] = ROW_INT("max_gap", 0, BUS_MAX_REGISTERS - 1, 8, 0),
    [BK_DELAY_MS] = ROW_INT("delay_ms", 0, 10000, 0, 0),
    [BK_HOST] =
        ROW_STR("host", 1, BUS_ADDR_MAX - 1, NULL, KF_REQUIRED | KF_TCP),
    [BK_PORT] = ROW_INT("port", 1, 65535, 502, KF_TCP),
    [BK_DEVICE] =
        ROW_STR("device", 1, BUS_ADDR_MAX - 1, NULL, KF_REQUIRED | KF_RTU),
    /* Bounds only; bus_rtu_baud_is_valid() says which rates work. */
    [BK_BAUD] = ROW_INT("baud", 1, 10000000, 9600, KF_RTU),
    [BK_PARITY] = ROW_STR("parity", 1, WORD_MAX, "none", KF_RTU),
    [BK_DATA_BITS] = ROW_INT("data_bits", 7, 8, 8, KF_RTU),
    [BK_STOP_BITS] = ROW_INT("stop_bits", 1, 2, 1, KF_RTU),
};

static const struct key sensor_keys[SK_COUNT] = {
    [SK_ID] = ROW_STR("id", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    [SK_KIND] = ROW_STR("kind", 1, WORD_MAX, NULL, KF_REQUIRED),
    [SK_BUS] = ROW_STR("bus", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    /* 0 only on tcp: config_sensor_read_registers() checks. */
    [SK_UNIT_ID] = ROW_INT("unit_id", 0, CONFIG_UNIT_ID_MAX, 1, 0),
    [SK_TABLE] = ROW_STR("table", 1, WORD_MAX, "holding", 0),
    [SK_ADDRESS] = ROW_INT("address", 0, CONFIG_ADDRESS_MAX, 0, KF_REQUIRED),
    /* Required on the register tables; bool, the only type there, is
     * the default on coils and discrete inputs: config_sensor.c checks. */
    [SK_TYPE] = ROW_STR("type", 1, WORD_MAX, NULL, 0),
    /* Default: byte_order_default() of the type. */
    [SK_BYTE_ORDER] = ROW_STR("byte_order", 1, WORD_MAX, NULL, 0),
    /* Absent: the whole value. Only with int16 and uint16. */
    [SK_BIT] = ROW_INT("bit", 0, DECODE_BIT_MAX, 0, 0),
    [SK_SCALE] = ROW_FLOAT("scale", 1.0, 0),
    [SK_OFFSET] = ROW_FLOAT("offset", 0.0, 0),
    /* Default: kind_default_unit(); generic sensors must give one. */
    [SK_UNIT] = ROW_STR("unit", 1, CONFIG_UNIT_MAX, NULL, 0),
    /* One day: anything slower is not data acquisition. */
    [SK_INTERVAL_MS] = ROW_INT("interval_ms", 10, 86400000, 1000, 0),
    /* Default: kind_default_range(). */
    [SK_RANGE] = ROW("range", KEY_PAIR, 0),
    [SK_CALIBRATION] = ROW("calibration", KEY_GROUP, 0),
};

static const struct key cal_keys[CK_COUNT] = {
    [CK_DATE] = ROW_STR("date", 1, WORD_MAX, NULL, 0),
    [CK_DUE] = ROW_STR("due", 1, WORD_MAX, NULL, 0),
    [CK_CERTIFICATE] = ROW_STR("certificate", 1, CONFIG_CERT_MAX, NULL, 0),
};

static const struct key device_keys[DK_COUNT] = {
    [DK_BUS] = ROW_STR("bus", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    /* 0 only on tcp: config_device.c checks, as for a sensor. */
    [DK_UNIT_ID] = ROW_INT("unit_id", 0, CONFIG_UNIT_ID_MAX, 1, 0),
    [DK_MODEL] = ROW_STR("model", 1, DEVICE_MODEL_MAX, NULL, 0),
    [DK_SERIAL] = ROW("serial", KEY_GROUP, 0),
    [DK_FIRMWARE] = ROW("firmware", KEY_GROUP, 0),
};

static const struct key ascii_keys[AK_COUNT] = {
    [AK_TABLE] = ROW_STR("table", 1, WORD_MAX, "holding", 0),
    [AK_ADDRESS] = ROW_INT("address", 0, CONFIG_ADDRESS_MAX, 0, KF_REQUIRED),
    /* The device event must hold them all: lib/device.h. */
    [AK_COUNT_REGS] = ROW_INT("count", 1, DEVICE_REGS_MAX, 0, KF_REQUIRED),
};

static const struct key web_keys[WK_COUNT] = {
    [WK_LISTEN] =
        ROW_STR("listen", 1, CONFIG_LISTEN_MAX, CONFIG_WEB_LISTEN_DEFAULT, 0),
    [WK_USERS_FILE] = ROW_STR("users_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [WK_TLS] = ROW("tls", KEY_GROUP, 0),
};

static const struct key web_tls_keys[WL_COUNT] = {
    [WL_CERT_FILE] =
        ROW_STR("cert_file", 1, CONFIG_PATH_MAX, NULL, KF_REQUIRED),
    [WL_KEY_FILE] = ROW_STR("key_file", 1, CONFIG_PATH_MAX, NULL, KF_REQUIRED),
};

_Static_assert(TK_COUNT <= GROUP_KEYS_MAX, "top_keys too long");
_Static_assert(MK_COUNT <= GROUP_KEYS_MAX, "mqtt_keys too long");
_Static_assert(PK_COUNT <= GROUP_KEYS_MAX, "sparkplug_keys too long");
_Static_assert(BK_COUNT <= GROUP_KEYS_MAX, "bus_keys too long");
_Static_assert(SK_COUNT <= GROUP_KEYS_MAX, "sensor_keys too long");

/* The table of each group. */
static const struct {
    const struct key *keys;
    size_t nkeys;
} group_tables[] = {
    [GROUP_TOP] = {top_keys, TK_COUNT},
    [GROUP_MQTT] = {mqtt_keys, MK_COUNT},
    [GROUP_TLS] = {tls_keys, LK_COUNT},
    [GROUP_BUS] = {bus_keys, BK_COUNT},
    [GROUP_SENSOR] = {sensor_keys, SK_COUNT},
    [GROUP_CALIBRATION] = {cal_keys, CK_COUNT},
    [GROUP_DEVICE] = {device_keys, DK_COUNT},
    [GROUP_ASCII] = {ascii_keys, AK_COUNT},
    [GROUP_SPARKPLUG] = {sparkplug_keys, PK_COUNT},
    [GROUP_WEB] = {web_keys, WK_COUNT},
    [GROUP_WEB_TLS] = {web_tls_keys, WL_COUNT},
};

/* ---- reading a group against its table ---- */

const char *setting_type_text(const config_setting_t *s)
{
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        return "an integer";
    case CONFIG_TYPE_FLOAT:
        return "a float";
    case CONFIG_TYPE_STRING:
        return "a string";
    case CONFIG_TYPE_BOOL:
        return "a boolean";
    case CONFIG_TYPE_GROUP:
        return "a group";
    case CONFIG_TYPE_ARRAY:
        return "an array";
    case CONFIG_TYPE_LIST:
        return "a list";
    default:
        return "nothing";
    }
}

static const char *key_type_text(enum key_type t)
{
    switch (t) {
    case KEY_INT:
        return "an integer";
    case KEY_FLOAT:
        return "a number";
    case KEY_BOOL:
        return "true or false";
    case KEY_STRING:
        return "a string";
    case KEY_GROUP:
        return "a group { ... }";
    case KEY_LIST:
        return "a list ( ... )";
    case KEY_PAIR:
        return "[low, high]";
    }
    return "?";
}

static bool setting_is_int(const config_setting_t *s)
{
    int t = config_setting_type(s);

    return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

/* A number setting as a double; libconfig's get_float() is 0 for ints. */
double setting_number(const config_setting_t *s)
{
    if (setting_is_int(s))
        return (double)config_setting_get_int64(s);
    return config_setting_get_float(s);
}

static bool key_type_matches(enum key_type t, const config_setting_t *s)
{
    int st = config_setting_type(s);

    switch (t) {
    case KEY_INT:
        return setting_is_int(s);
    case KEY_FLOAT:
        return config_setting_is_number(s);
    case KEY_BOOL:
        return st == CONFIG_TYPE_BOOL;
    case KEY_STRING:
        return st == CONFIG_TYPE_STRING;
    case KEY_GROUP:
        return st == CONFIG_TYPE_GROUP;
    case KEY_LIST:
        return st == CONFIG_TYPE_LIST;
    case KEY_PAIR:
        return st == CONFIG_TYPE_ARRAY || st == CONFIG_TYPE_LIST;
    }
    return false;
}

/* Checks one given setting against its key; returns 0 or -1 (reported). */
static int key_check(struct loader *ld, const struct group *g,
                     const struct key *k, const config_setting_t *s)
{
    if (!key_type_matches(k->type, s)) {
        loader_error(ld, s, "'%s'%s must be %s, not %s", k->name, g->in,
                     key_type_text(k->type), setting_type_text(s));
        return -1;
    }
    switch (k->type) {
    case KEY_INT: {
        long long v = config_setting_get_int64(s);

        if (v < k->min || v > k->max) {
            loader_error(ld, s, "'%s'%s must be %lld..%lld, not %lld", k->name,
                         g->in, k->min, k->max, v);
            return -1;
        }
        break;
    }
    case KEY_FLOAT:
        if (!isfinite(setting_number(s))) {
            loader_error(ld, s, "'%s'%s must be finite", k->name, g->in);
            return -1;
        }
        break;
    case KEY_STRING: {
        size_t len = strlen(config_setting_get_string(s));

        if (len == 0 && k->min > 0) {
            loader_error(ld, s, "'%s'%s must not be empty", k->name, g->in);
            return -1;
        }
        if ((long long)len < k->min || (long long)len > k->max) {
            loader_error(ld, s, "'%s'%s must be %lld..%lld bytes, not %zu",
                         k->name, g->in, k->min, k->max, len);
            return -1;
        }
        break;
    }
    case KEY_PAIR: {
        int n = config_setting_length(s);

        for (int i = 0; i < n; i++) {
            const config_setting_t *e = config_setting_get_elem(s, i);

            if (!config_setting_is_number(e) || !isfinite(setting_number(e))) {
                loader_error(ld, s, "'%s'%s must be 2 finite numbers", k->name,
                             g->in);
                return -1;
            }
        }
        if (n != 2) {
            loader_error(ld, s, "'%s'%s must be 2 numbers, not %d", k->name,
                         g->in, n);
            return -1;
        }
        break;
    }
    case KEY_BOOL:
    case KEY_GROUP:
    case KEY_LIST:
        break;
    }
    return 0;
}

/* Key names longer than this are not compared for a "did you mean". */
#define KEY_NAME_MAX 32
/* Edits (insert, delete, change) that still count as a misspelling. */
#define KEY_TYPO_EDITS 2

/* The Levenshtein distance of two short strings. */
static size_t key_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[KEY_NAME_MAX + 1];

    if (la > KEY_NAME_MAX || lb > KEY_NAME_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* The key of the table that name misspells and that is not given yet, or
 * nkeys if none is that close. */
static size_t key_guess(const struct group *g, const config_setting_t *self,
                        const char *name)
{
    size_t best = g->nkeys, best_d = KEY_TYPO_EDITS + 1;

    for (size_t k = 0; k < g->nkeys; k++) {
        size_t d;

        if (config_setting_get_member(self, g->keys[k].name))
            continue;
        d = key_distance(name, g->keys[k].name);
        /* Short names allow fewer edits: "id" one, "address" two. */
        if (d < best_d && d <= strlen(g->keys[k].name) / 2) {
            best = k;
            best_d = d;
        }
    }
    return best;
}

/*
 * Reads self against its table into g: reports unknown keys, wrong types,
 * bounds and missing required keys. label names the group in messages
 * ("sensor 'FT-101'"), or is "" for the top level.
 */
void group_read(struct loader *ld, struct group *g,
                const config_setting_t *self, enum config_group which,
                const char *label)
{
    const struct key *keys = group_tables[which].keys;
    size_t nkeys = group_tables[which].nkeys;
    int n = config_setting_length(self);

    memset(g, 0, sizeof(*g));
    g->keys = keys;
    g->nkeys = nkeys;
    g->self = self;
    if (*label)
        snprintf(g->in, sizeof(g->in), " in %s", label);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(self, i);
        const char *name = config_setting_name(s);
        size_t k;

        for (k = 0; k < nkeys; k++)
            if (strcmp(keys[k].name, name) == 0)
                break;
        if (k == nkeys) {
            size_t guess = key_guess(g, self, name);

            if (guess == nkeys) {
                loader_error(ld, s, "unknown key '%s'%s", name, g->in);
            } else {
                loader_error(ld, s, "unknown key '%s'%s (did you mean '%s'?)",
                             name, g->in, keys[guess].name);
                /* Not also "missing": the typo is the one cause. */
                g->bad[guess] = true;
            }
        } else if (key_check(ld, g, &keys[k], s) == 0)
            g->set[k] = s;
        else
            g->bad[k] = true;
    }
    /* A key of one bus type is required only once the type is known. */
    for (size_t k = 0; k < nkeys; k++)
        if ((keys[k].flags & (KF_REQUIRED | KF_TCP | KF_RTU)) == KF_REQUIRED &&
            !g->set[k] && !g->bad[k])
            loader_error(ld, self, "missing '%s'%s", keys[k].name, g->in);
}

/* Given and valid (a bad one was reported, a missing one defaulted). */
bool group_has(const struct group *g, size_t k)
{
    return g->set[k] != NULL;
}

/* Given and valid, or absent and not required: usable for checks. */
bool group_ok(const struct group *g, size_t k)
{
    return !g->bad[k] && (g->set[k] || !(g->keys[k].flags & KF_REQUIRED));
}

long long group_int(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_int64(g->set[k]) : g->keys[k].idef;
}

double group_float(const struct group *g, size_t k)
{
    return g->set[k] ? setting_number(g->set[k]) : g->keys[k].fdef;
}

bool group_bool(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_bool(g->set[k]) : g->keys[k].idef;
}

const char *group_str(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_string(g->set[k]) : g->keys[k].sdef;
}

/* The string setting, copied, or NULL if absent and without default. */
char *group_strdup(const struct group *g, size_t k)
{
    const char *s = group_str(g, k);

    return s ? xstrdup(s) : NULL;
}

/* Where to point an error about key k: the setting, else the group. */
const config_setting_t *group_at(const struct group *g, size_t k)
{
    return g->set[k] ? g->set[k] : g->self;
}

/* ---- lists of entries, and their labels in messages ---- */

size_t entries_count(struct loader *ld, const config_setting_t *list,
                     const char *key)
{
    size_t n = (size_t)config_setting_length(list);

    if (n == 0)
        loader_error(ld, list, "'%s' must not be empty", key);
    return n;
}

const config_setting_t *entry_group(struct loader *ld,
                                    const config_setting_t *list,
                                    const char *noun, size_t i)
{
    const config_setting_t *e = config_setting_get_elem(list, (int)i);

    if (config_setting_type(e) == CONFIG_TYPE_GROUP)
        return e;
    loader_error(ld, e, "%s %zu must be a group { ... }, not %s", noun, i + 1,
                 setting_type_text(e));
    return NULL;
}

char *entry_name(struct loader *ld, const struct group *g, size_t k,
                 const char *what)
{
    const char *name = group_str(g, k);

    if (!group_has(g, k))
        return NULL;
    if (text_is_name(name, CONFIG_NAME_MAX))
        return xstrdup(name);
    loader_error(ld, g->set[k],
                 "%s '%s' may only hold letters, digits, '_', '.' and '-'",
                 what, name);
    return NULL;
}

/* "bus 'plant-a'" if the entry has a usable name, else "bus 2". */
void entry_label(char *buf, size_t size, const config_setting_t *self,
                 const char *noun, const char *key, size_t i)
{
    const config_setting_t *s = config_setting_get_member(self, key);
    const char *name = s && config_setting_type(s) == CONFIG_TYPE_STRING
                           ? config_setting_get_string(s)
                           : NULL;

    if (name && text_is_name(name, CONFIG_NAME_MAX))
        snprintf(buf, size, "%s '%s'", noun, name);
    else
        snprintf(buf, size, "%s %zu", noun, i + 1);
}

const char *names_sep(size_t done, size_t total)
{
    return done == 0 ? "" : done == total - 1 ? " or " : ", ";
}
