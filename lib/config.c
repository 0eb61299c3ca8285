// SPDX-License-Identifier: MIT
/*
 * The config loader: the only module that calls libconfig. The file's bytes
 * are read once, hashed, and parsed from memory, so the SHA-256 recorded in
 * the database is of exactly the text that was parsed.
 *
 * Every group (top level, mqtt, mqtt.tls, a bus, a sensor, a calibration)
 * is described by a table of keys: name, type, bounds, default, whether it
 * is required. group_read() checks a group against its table (unknown keys,
 * wrong types, out-of-range numbers, string lengths, missing keys); the code
 * after it checks only what a table cannot say: names, enumerations, and
 * the relations between settings. Every problem is collected with its line
 * and reported together, sorted by line, as "file:line: message".
 *
 * One cause, one error: a setting that was wrong is marked bad, and checks
 * that depend on it are skipped rather than repeating the complaint.
 */
#include "lib/config.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"

/* MQTT 3.1.1 servers must accept 23 bytes; mosquitto takes far more. */
#define CONFIG_CLIENT_ID_MAX 128
/* Long enough for any sane topic root, short enough to read in a log. */
#define CONFIG_TOPIC_PREFIX_MAX 256
/* MQTT user names are short identifiers. */
#define CONFIG_USERNAME_MAX 256
/* PATH_MAX on Linux, less its NUL. */
#define CONFIG_PATH_MAX 4095
/* A unit is a short symbol such as "m3/h" or "uS/cm". */
#define CONFIG_UNIT_MAX 32
/* Calibration certificate numbers. */
#define CONFIG_CERT_MAX 128
/* Modbus unit ids: 0 is broadcast on RTU, 248..255 reserved. */
#define CONFIG_UNIT_ID_MAX 247
/* The last register address Modbus can name. */
#define CONFIG_ADDRESS_MAX 65535
/* The most keys any one group's table has. */
#define GROUP_KEYS_MAX 16
/* A bus or sensor in messages: "sensor '<id of 64>'" and its NUL. */
#define ENTRY_LABEL_MAX 80
/* A group in messages: " in calibration of " and an entry's label. */
#define GROUP_LABEL_MAX (ENTRY_LABEL_MAX + 32)

/* Defaults that differ by bus type (SPEC's example values). */
#define BUS_TCP_TIMEOUT_MS 500
#define BUS_RTU_TIMEOUT_MS 300
#define BUS_TCP_DELAY_MS 0
/* About 3.5 characters at 9600 baud, rounded up: the RTU frame gap. */
#define BUS_RTU_DELAY_MS 5

enum key_type {
    KEY_INT,    /* libconfig int or int64; never a float */
    KEY_FLOAT,  /* any number, finite */
    KEY_BOOL,   /* true or false */
    KEY_STRING, /* with a length in bytes in [min, max] */
    KEY_GROUP,  /* { ... } */
    KEY_LIST,   /* ( ... ) */
    KEY_PAIR,   /* [lo, hi] or (lo, hi): two finite numbers */
};

/* Marks on a key. */
enum key_flag {
    KF_REQUIRED = 1 << 0,
    KF_TCP = 1 << 1, /* a bus key only tcp buses have */
    KF_RTU = 1 << 2, /* a bus key only rtu buses have */
};

/* One key a group may hold. */
struct key {
    const char *name;
    enum key_type type;
    long long min, max; /* KEY_INT: the value; KEY_STRING: bytes */
    long long idef;     /* default of KEY_INT and KEY_BOOL */
    double fdef;        /* default of KEY_FLOAT */
    const char *sdef;   /* default of KEY_STRING, or NULL */
    unsigned flags;     /* enum key_flag */
};

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

/* What group_read() found in one group, by index into its table. */
struct group {
    const struct key *keys;
    size_t nkeys;
    const config_setting_t *self;
    const config_setting_t *set[GROUP_KEYS_MAX]; /* valid and given */
    bool bad[GROUP_KEYS_MAX]; /* given but wrong: already reported */
    char in[GROUP_LABEL_MAX]; /* " in sensor 'FT-101'", or "" at the top */
};

/* One error, before sorting. */
struct load_error {
    int line;
    size_t seq;
    char *msg; /* the whole "file:line: message" */
};

struct loader {
    const char *path;
    char *dir; /* of path: where @include looks */
    struct load_error *v;
    size_t n, cap;
    struct config *c;
    bool *bus_ok;     /* per bus: its type is known, so checks can use it */
    bool *regs_ok;    /* per sensor: bus, unit, table, address, type known */
    bool bus_unnamed; /* a bus has no usable name (already reported) */
    bool too_deep;    /* the scan met an @include libconfig refuses */
};

/* ---- the tables ---- */

/* Short enumeration words: "holding", "float64", "warning". */
#define WORD_MAX 16

enum top_key {
    TK_SITE,
    TK_DATABASE,
    TK_LOG_LEVEL,
    TK_COMMIT_INTERVAL_MS,
    TK_RETENTION_DAYS,
    TK_BUFFER_READINGS,
    TK_WITNESS_INTERVAL_S,
    TK_CONTROL_SOCKET,
    TK_MQTT,
    TK_BUSES,
    TK_SENSORS,
    TK_COUNT
};

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
};

enum mqtt_key {
    MK_HOST,
    MK_PORT,
    MK_CLIENT_ID,
    MK_TOPIC_PREFIX,
    MK_QOS,
    MK_RETAIN,
    MK_KEEPALIVE_S,
    MK_USERNAME,
    MK_PASSWORD_FILE,
    MK_TLS,
    MK_COUNT
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
};

enum tls_key { LK_CA_FILE, LK_CERT_FILE, LK_KEY_FILE, LK_COUNT };

static const struct key tls_keys[LK_COUNT] = {
    [LK_CA_FILE] = ROW_STR("ca_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [LK_CERT_FILE] = ROW_STR("cert_file", 1, CONFIG_PATH_MAX, NULL, 0),
    [LK_KEY_FILE] = ROW_STR("key_file", 1, CONFIG_PATH_MAX, NULL, 0),
};

enum bus_key {
    BK_NAME,
    BK_TYPE,
    BK_TIMEOUT_MS,
    BK_RETRIES,
    BK_MAX_REGISTERS,
    BK_MAX_GAP,
    BK_DELAY_MS,
    BK_HOST,
    BK_PORT,
    BK_DEVICE,
    BK_BAUD,
    BK_PARITY,
    BK_DATA_BITS,
    BK_STOP_BITS,
    BK_COUNT
};

static const struct key bus_keys[BK_COUNT] = {
    [BK_NAME] = ROW_STR("name", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    [BK_TYPE] = ROW_STR("type", 1, WORD_MAX, NULL, KF_REQUIRED),
    /* timeout_ms and delay_ms default by type: BUS_TCP_* and BUS_RTU_*. */
    [BK_TIMEOUT_MS] = ROW_INT("timeout_ms", 10, 60000, 0, 0),
    [BK_RETRIES] = ROW_INT("retries", 0, 10, 1, 0),
    [BK_MAX_REGISTERS] =
        ROW_INT("max_registers", 1, BUS_MAX_REGISTERS, BUS_MAX_REGISTERS, 0),
    /* A gap is only worth spanning inside one full-length request. */
    [BK_MAX_GAP] = ROW_INT("max_gap", 0, BUS_MAX_REGISTERS - 1, 8, 0),
    [BK_DELAY_MS] = ROW_INT("delay_ms", 0, 10000, 0, 0),
    [BK_HOST] =
        ROW_STR("host", 1, BUS_ADDR_MAX - 1, NULL, KF_REQUIRED | KF_TCP),
    [BK_PORT] = ROW_INT("port", 1, 65535, 502, KF_TCP),
    [BK_DEVICE] =
        ROW_STR("device", 1, BUS_ADDR_MAX - 1, NULL, KF_REQUIRED | KF_RTU),
    /* Bounds only; config_bauds lists the rates accepted. */
    [BK_BAUD] = ROW_INT("baud", 1, 10000000, 9600, KF_RTU),
    [BK_PARITY] = ROW_STR("parity", 1, WORD_MAX, "none", KF_RTU),
    [BK_DATA_BITS] = ROW_INT("data_bits", 7, 8, 8, KF_RTU),
    [BK_STOP_BITS] = ROW_INT("stop_bits", 1, 2, 1, KF_RTU),
};

/* The rates every Linux serial driver and common Modbus device offers. */
static const int config_bauds[] = {1200,  2400,  4800,   9600,  19200,
                                   38400, 57600, 115200, 230400};

enum sensor_key {
    SK_ID,
    SK_KIND,
    SK_BUS,
    SK_UNIT_ID,
    SK_TABLE,
    SK_ADDRESS,
    SK_TYPE,
    SK_BYTE_ORDER,
    SK_SCALE,
    SK_OFFSET,
    SK_UNIT,
    SK_INTERVAL_MS,
    SK_RANGE,
    SK_CALIBRATION,
    SK_COUNT
};

static const struct key sensor_keys[SK_COUNT] = {
    [SK_ID] = ROW_STR("id", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    [SK_KIND] = ROW_STR("kind", 1, WORD_MAX, NULL, KF_REQUIRED),
    [SK_BUS] = ROW_STR("bus", 1, CONFIG_NAME_MAX, NULL, KF_REQUIRED),
    /* 0 only on tcp: config_sensor_read_registers() checks. */
    [SK_UNIT_ID] = ROW_INT("unit_id", 0, CONFIG_UNIT_ID_MAX, 1, 0),
    [SK_TABLE] = ROW_STR("table", 1, WORD_MAX, "holding", 0),
    [SK_ADDRESS] = ROW_INT("address", 0, CONFIG_ADDRESS_MAX, 0, KF_REQUIRED),
    [SK_TYPE] = ROW_STR("type", 1, WORD_MAX, NULL, KF_REQUIRED),
    /* Default: byte_order_default() of the type. */
    [SK_BYTE_ORDER] = ROW_STR("byte_order", 1, WORD_MAX, NULL, 0),
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

enum cal_key { CK_DATE, CK_DUE, CK_CERTIFICATE, CK_COUNT };

static const struct key cal_keys[CK_COUNT] = {
    [CK_DATE] = ROW_STR("date", 1, WORD_MAX, NULL, 0),
    [CK_DUE] = ROW_STR("due", 1, WORD_MAX, NULL, 0),
    [CK_CERTIFICATE] = ROW_STR("certificate", 1, CONFIG_CERT_MAX, NULL, 0),
};

_Static_assert(TK_COUNT <= GROUP_KEYS_MAX, "top_keys too long");
_Static_assert(MK_COUNT <= GROUP_KEYS_MAX, "mqtt_keys too long");
_Static_assert(BK_COUNT <= GROUP_KEYS_MAX, "bus_keys too long");
_Static_assert(SK_COUNT <= GROUP_KEYS_MAX, "sensor_keys too long");

/* ---- errors ---- */

/* The line of s, or 0 for none (the root, or no setting at all). */
static int loader_line(const config_setting_t *s)
{
    return s ? (int)config_setting_source_line(s) : 0;
}

/*
 * Records "file:line: msg" ("file: msg" when line is 0). file is NULL for
 * the config itself, or a file it included, named as in its @include and
 * so relative to the config's directory.
 */
static void loader_add(struct loader *ld, const char *file, int line,
                       const char *msg)
{
    const char *dir = "", *sep = "";
    struct load_error *e;
    char at[16] = "";
    int len;

    if (!file) {
        file = ld->path;
    } else if (file[0] != '/' && strcmp(ld->dir, ".") != 0) {
        dir = ld->dir;
        sep = "/";
    }
    if (line > 0)
        snprintf(at, sizeof(at), ":%d", line);
    xgrow(&ld->v, &ld->cap, ld->n + 1, sizeof(*ld->v));
    e = &ld->v[ld->n];
    e->line = line;
    e->seq = ld->n++;
    len = snprintf(NULL, 0, "%s%s%s%s: %s", dir, sep, file, at, msg);
    e->msg = xmalloc((size_t)len + 1);
    snprintf(e->msg, (size_t)len + 1, "%s%s%s%s: %s", dir, sep, file, at, msg);
}

/* Records an error at the line of s (an included file names itself). */
__attribute__((format(printf, 3, 4))) static void
loader_error(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    va_list ap;
    char *msg;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    msg = xmalloc((size_t)len + 1);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)len + 1, fmt, ap);
    va_end(ap);
    loader_add(ld, file, loader_line(s), msg);
    free(msg);
}

static int loader_error_cmp(const void *a, const void *b)
{
    const struct load_error *x = a, *y = b;

    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Hands the errors, in line order, to errs. */
static void loader_flush(struct loader *ld, struct config_errors *errs)
{
    qsort(ld->v, ld->n, sizeof(*ld->v), loader_error_cmp);
    xgrow(&errs->v, &errs->cap, errs->n + ld->n, sizeof(*errs->v));
    for (size_t i = 0; i < ld->n; i++)
        errs->v[errs->n++] = ld->v[i].msg;
    free(ld->v);
    ld->v = NULL;
    ld->n = ld->cap = 0;
}

/* ---- reading a group against its table ---- */

static const char *setting_type_text(const config_setting_t *s)
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
static double setting_number(const config_setting_t *s)
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
static void group_read(struct loader *ld, struct group *g,
                       const config_setting_t *self, const struct key *keys,
                       size_t nkeys, const char *label)
{
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
static bool group_has(const struct group *g, size_t k)
{
    return g->set[k] != NULL;
}

/* Given and valid, or absent and not required: usable for checks. */
static bool group_ok(const struct group *g, size_t k)
{
    return !g->bad[k] && (g->set[k] || !(g->keys[k].flags & KF_REQUIRED));
}

static long long group_int(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_int64(g->set[k]) : g->keys[k].idef;
}

static double group_float(const struct group *g, size_t k)
{
    return g->set[k] ? setting_number(g->set[k]) : g->keys[k].fdef;
}

static bool group_bool(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_bool(g->set[k]) : g->keys[k].idef;
}

static const char *group_str(const struct group *g, size_t k)
{
    return g->set[k] ? config_setting_get_string(g->set[k]) : g->keys[k].sdef;
}

/* The string setting, copied, or NULL if absent and without default. */
static char *group_strdup(const struct group *g, size_t k)
{
    const char *s = group_str(g, k);

    return s ? xstrdup(s) : NULL;
}

/* Where to point an error about key k: the setting, else the group. */
static const config_setting_t *group_at(const struct group *g, size_t k)
{
    return g->set[k] ? g->set[k] : g->self;
}

/* ---- value checks ---- */

/* [A-Za-z0-9_-]+, plus '.' if dot: the names that are safe in topics. */
static bool name_is_valid(const char *s, bool dot)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        char ch = *s;

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' ||
              (dot && ch == '.')))
            return false;
    }
    return true;
}

static bool text_is_printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/*
 * True if s is well-formed UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF) without control characters (C0, DEL, C1).
 */
static bool text_is_utf8_printable(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s) {
        unsigned long cp;
        int more;

        if (*s < 0x80) {
            cp = *s;
            more = 0;
        } else if ((*s & 0xe0) == 0xc0) {
            cp = *s & 0x1f;
            more = 1;
        } else if ((*s & 0xf0) == 0xe0) {
            cp = *s & 0x0f;
            more = 2;
        } else if ((*s & 0xf8) == 0xf0) {
            cp = *s & 0x07;
            more = 3;
        } else {
            return false;
        }
        s++;
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (*s & 0x3f);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
            (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return false;
    }
    return true;
}

/* "YYYY-MM-DD" naming a day of the proleptic Gregorian calendar. */
static bool date_is_valid(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (m < 1 || m > 12 || d < 1)
        return false;
    if (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return d <= 29;
    return d <= mdays[m - 1];
}

/* Why s is not a usable MQTT topic prefix, or NULL if it is. */
static const char *topic_prefix_problem(const char *s)
{
    size_t len = strlen(s);

    if (strpbrk(s, "+#"))
        return "must not hold '+' or '#'";
    if (!text_is_utf8_printable(s))
        return "must be UTF-8 without control characters";
    if (s[0] == '/' || s[len - 1] == '/')
        return "must not start or end with '/'";
    if (strstr(s, "//"))
        return "must not hold an empty level ('//')";
    return NULL;
}

/* Writes "a, b, c or d" of the names name(0..n-1) that keep(i) allows. */
static void names_join(char *buf, size_t size, const char *(*name)(int), int n,
                       bool (*keep)(int, int), int arg)
{
    int total = 0, done = 0;
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        total += !keep || keep(i, arg);
    for (int i = 0; i < n; i++) {
        if (keep && !keep(i, arg))
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                done == 0           ? ""
                                : done == total - 1 ? " or "
                                                    : ", ",
                                name(i));
        done++;
        if (len >= size)
            break;
    }
}

static const char *names_kind(int i)
{
    return kind_name((enum sensor_kind)i);
}

static const char *names_type(int i)
{
    return reg_type_name((enum reg_type)i);
}

static const char *names_order(int i)
{
    return byte_order_name((enum byte_order)i);
}

/* Whether order i fits type t. */
static bool names_order_fits(int i, int t)
{
    enum byte_order o;

    return byte_order_parse(byte_order_name((enum byte_order)i),
                            (enum reg_type)t, &o) == 0;
}

/* Long enough for every list of names a message offers. */
#define NAMES_MAX 128

/* ---- the top level and mqtt ---- */

static void config_top_read(struct loader *ld, const struct group *g)
{
    struct config *c = ld->c;
    const char *level;

    if (group_has(g, TK_SITE)) {
        const char *site = group_str(g, TK_SITE);

        if (name_is_valid(site, false))
            c->site = xstrdup(site);
        else
            loader_error(ld, g->set[TK_SITE],
                         "site '%s' may only hold letters, digits, '_' and "
                         "'-'",
                         site);
    }
    c->database = group_strdup(g, TK_DATABASE);
    level = group_str(g, TK_LOG_LEVEL);
    if (group_ok(g, TK_LOG_LEVEL) && log_level_parse(level, &c->log_level) < 0)
        loader_error(ld, group_at(g, TK_LOG_LEVEL),
                     "unknown log level '%s' (use error, warning, info or "
                     "debug)",
                     level);
    c->commit_interval_ms = (int)group_int(g, TK_COMMIT_INTERVAL_MS);
    c->retention_days = (int)group_int(g, TK_RETENTION_DAYS);
    c->buffer_readings = (int)group_int(g, TK_BUFFER_READINGS);
    c->witness_interval_s = (int)group_int(g, TK_WITNESS_INTERVAL_S);
    c->control_socket = group_strdup(g, TK_CONTROL_SOCKET);
    if (c->control_socket && c->control_socket[0] != '/')
        loader_error(ld, group_at(g, TK_CONTROL_SOCKET),
                     "control_socket '%s' must be an absolute path",
                     c->control_socket);
}

static void config_tls_read(struct loader *ld, const config_setting_t *self)
{
    struct mqtt_conf *m = &ld->c->mqtt;
    struct group g;

    group_read(ld, &g, self, tls_keys, LK_COUNT, "mqtt.tls");
    m->ca_file = group_strdup(&g, LK_CA_FILE);
    m->cert_file = group_strdup(&g, LK_CERT_FILE);
    m->key_file = group_strdup(&g, LK_KEY_FILE);
    /* A bad key was reported; judging the combination would repeat it. */
    if (g.bad[LK_CA_FILE] || g.bad[LK_CERT_FILE] || g.bad[LK_KEY_FILE])
        return;
    if (m->cert_file && !m->key_file)
        loader_error(ld, g.set[LK_CERT_FILE],
                     "'cert_file' in mqtt.tls needs 'key_file'");
    else if (m->key_file && !m->cert_file)
        loader_error(ld, g.set[LK_KEY_FILE],
                     "'key_file' in mqtt.tls needs 'cert_file'");
    else if (!m->ca_file && !m->cert_file)
        loader_error(ld, self, "mqtt.tls needs 'ca_file' or 'cert_file'");
}

static void config_mqtt_read(struct loader *ld, const config_setting_t *self)
{
    struct mqtt_conf *m = &ld->c->mqtt;
    const char *site = ld->c->site;
    struct group g;

    group_read(ld, &g, self, mqtt_keys, MK_COUNT, "mqtt");
    m->enabled = true;
    m->host = group_strdup(&g, MK_HOST);
    m->port = (int)group_int(&g, MK_PORT);
    if (group_has(&g, MK_CLIENT_ID)) {
        m->client_id = group_strdup(&g, MK_CLIENT_ID);
        if (!text_is_printable_ascii(m->client_id))
            loader_error(ld, g.set[MK_CLIENT_ID],
                         "client_id '%s' must be printable ASCII",
                         m->client_id);
    } else {
        size_t len = strlen("tbdaq-") + strlen(site ? site : "") + 1;

        m->client_id = xmalloc(len);
        snprintf(m->client_id, len, "tbdaq-%s", site ? site : "");
    }
    m->topic_prefix = group_strdup(&g, MK_TOPIC_PREFIX);
    if (group_has(&g, MK_TOPIC_PREFIX)) {
        const char *why = topic_prefix_problem(m->topic_prefix);

        if (why)
            loader_error(ld, g.set[MK_TOPIC_PREFIX], "topic_prefix '%s' %s",
                         m->topic_prefix, why);
    }
    m->qos = (int)group_int(&g, MK_QOS);
    m->retain = group_bool(&g, MK_RETAIN);
    m->keepalive_s = (int)group_int(&g, MK_KEEPALIVE_S);
    m->username = group_strdup(&g, MK_USERNAME);
    m->password_file = group_strdup(&g, MK_PASSWORD_FILE);
    if (m->password_file && !m->username && !g.bad[MK_USERNAME])
        loader_error(ld, g.set[MK_PASSWORD_FILE],
                     "'password_file' in mqtt needs 'username'");
    if (group_has(&g, MK_TLS))
        config_tls_read(ld, g.set[MK_TLS]);
}

/* ---- buses ---- */

/* "bus 'plant-a'" if the entry has a usable name, else "bus 2". */
static void entry_label(char *buf, size_t size, const config_setting_t *self,
                        const char *noun, const char *key, size_t i)
{
    const config_setting_t *s = config_setting_get_member(self, key);
    const char *name = s && config_setting_type(s) == CONFIG_TYPE_STRING
                           ? config_setting_get_string(s)
                           : NULL;

    if (name && name_is_valid(name, true) && strlen(name) <= CONFIG_NAME_MAX)
        snprintf(buf, size, "%s '%s'", noun, name);
    else
        snprintf(buf, size, "%s %zu", noun, i + 1);
}

static void config_bus_copy_addr(char dst[BUS_ADDR_MAX], const char *src)
{
    /* The table bounds the length below BUS_ADDR_MAX. */
    snprintf(dst, BUS_ADDR_MAX, "%s", src ? src : "");
}

static void config_bus_read_rtu(struct loader *ld, const struct group *g,
                                struct bus_params *p)
{
    const char *parity = group_str(g, BK_PARITY);
    size_t i;

    config_bus_copy_addr(p->device, group_str(g, BK_DEVICE));
    p->baud = (int)group_int(g, BK_BAUD);
    for (i = 0; i < sizeof(config_bauds) / sizeof(config_bauds[0]); i++)
        if (config_bauds[i] == p->baud)
            break;
    if (group_has(g, BK_BAUD) &&
        i == sizeof(config_bauds) / sizeof(config_bauds[0]))
        loader_error(ld, g->set[BK_BAUD],
                     "baud %d is not one of 1200, 2400, 4800, 9600, 19200, "
                     "38400, 57600, 115200 or 230400",
                     p->baud);
    if (strcmp(parity, "none") == 0)
        p->parity = 'N';
    else if (strcmp(parity, "even") == 0)
        p->parity = 'E';
    else if (strcmp(parity, "odd") == 0)
        p->parity = 'O';
    else if (group_has(g, BK_PARITY))
        loader_error(ld, g->set[BK_PARITY],
                     "unknown parity '%s' (use none, even or odd)", parity);
    p->data_bits = (int)group_int(g, BK_DATA_BITS);
    p->stop_bits = (int)group_int(g, BK_STOP_BITS);
}

static void config_bus_read(struct loader *ld, const config_setting_t *self,
                            size_t i)
{
    struct bus_conf *b = &ld->c->buses[i];
    struct bus_params *p = &b->params;
    char label[ENTRY_LABEL_MAX];
    const char *type;
    struct group g;

    b->line = loader_line(self);
    entry_label(label, sizeof(label), self, "bus", "name", i);
    group_read(ld, &g, self, bus_keys, BK_COUNT, label);
    if (group_has(&g, BK_NAME)) {
        const char *name = group_str(&g, BK_NAME);

        if (name_is_valid(name, true))
            b->name = xstrdup(name);
        else
            loader_error(ld, g.set[BK_NAME],
                         "bus name '%s' may only hold letters, digits, '_', "
                         "'.' and '-'",
                         name);
    }
    p->retries = (int)group_int(&g, BK_RETRIES);
    p->max_registers = (int)group_int(&g, BK_MAX_REGISTERS);
    b->max_gap = (int)group_int(&g, BK_MAX_GAP);
    if (!group_has(&g, BK_TYPE))
        return;
    type = group_str(&g, BK_TYPE);
    if (strcmp(type, "tcp") == 0) {
        p->type = BUS_TCP;
    } else if (strcmp(type, "rtu") == 0) {
        p->type = BUS_RTU;
    } else {
        loader_error(ld, g.set[BK_TYPE],
                     "unknown bus type '%s' (use tcp or rtu)", type);
        return;
    }
    ld->bus_ok[i] = true;
    /* Keys of the other transport, and the required ones of this one. */
    for (size_t k = 0; k < BK_COUNT; k++) {
        const config_setting_t *given =
            config_setting_get_member(self, bus_keys[k].name);
        unsigned mine = p->type == BUS_TCP ? KF_TCP : KF_RTU;
        unsigned other = p->type == BUS_TCP ? KF_RTU : KF_TCP;

        if ((bus_keys[k].flags & other) && given)
            loader_error(ld, given, "'%s' is for %s buses, but %s is %s",
                         bus_keys[k].name, p->type == BUS_TCP ? "rtu" : "tcp",
                         label, type);
        else if ((bus_keys[k].flags & mine) &&
                 (bus_keys[k].flags & KF_REQUIRED) && !g.set[k] && !g.bad[k])
            loader_error(ld, self, "missing '%s' in %s", bus_keys[k].name,
                         label);
    }
    if (p->type == BUS_TCP) {
        config_bus_copy_addr(p->host, group_str(&g, BK_HOST));
        p->port = (int)group_int(&g, BK_PORT);
    } else {
        config_bus_read_rtu(ld, &g, p);
    }
    p->timeout_ms = group_has(&g, BK_TIMEOUT_MS)
                        ? (int)group_int(&g, BK_TIMEOUT_MS)
                    : p->type == BUS_TCP ? BUS_TCP_TIMEOUT_MS
                                         : BUS_RTU_TIMEOUT_MS;
    p->delay_ms = group_has(&g, BK_DELAY_MS) ? (int)group_int(&g, BK_DELAY_MS)
                  : p->type == BUS_TCP       ? BUS_TCP_DELAY_MS
                                             : BUS_RTU_DELAY_MS;
}

static void config_buses_read(struct loader *ld, const config_setting_t *list)
{
    struct config *c = ld->c;
    size_t n = (size_t)config_setting_length(list);

    if (n == 0) {
        loader_error(ld, list, "'buses' must not be empty");
        return;
    }
    c->buses = xcalloc(n, sizeof(*c->buses));
    ld->bus_ok = xcalloc(n, sizeof(*ld->bus_ok));
    c->nbuses = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (int)i);

        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            loader_error(ld, e, "bus %zu must be a group { ... }, not %s",
                         i + 1, setting_type_text(e));
            continue;
        }
        config_bus_read(ld, e, i);
    }
    for (size_t i = 0; i < n; i++)
        if (!c->buses[i].name)
            ld->bus_unnamed = true;
    for (size_t i = 0; i < n; i++) {
        const struct bus_conf *b = &c->buses[i];

        for (size_t j = 0; j < i; j++) {
            const struct bus_conf *a = &c->buses[j];

            if (b->name && a->name && strcmp(a->name, b->name) == 0) {
                loader_error(ld, config_setting_get_elem(list, (int)i),
                             "duplicate bus '%s' (first at line %d)", b->name,
                             a->line);
                break;
            }
            if (ld->bus_ok[i] && ld->bus_ok[j] && a->params.type == BUS_RTU &&
                b->params.type == BUS_RTU && a->params.device[0] &&
                strcmp(a->params.device, b->params.device) == 0) {
                loader_error(ld, config_setting_get_elem(list, (int)i),
                             "buses '%s' and '%s' both use device '%s'",
                             a->name ? a->name : "?", b->name ? b->name : "?",
                             a->params.device);
                break;
            }
        }
    }
}

/* ---- sensors ---- */

static void config_calibration_read(struct loader *ld,
                                    const config_setting_t *self,
                                    struct calibration *cal, const char *label)
{
    char in[GROUP_LABEL_MAX];
    struct group g;

    snprintf(in, sizeof(in), "calibration of %s", label);
    group_read(ld, &g, self, cal_keys, CK_COUNT, in);
    cal->date = group_strdup(&g, CK_DATE);
    cal->due = group_strdup(&g, CK_DUE);
    cal->certificate = group_strdup(&g, CK_CERTIFICATE);
    if (cal->date && !date_is_valid(cal->date))
        loader_error(ld, g.set[CK_DATE],
                     "calibration date '%s' is not a valid date (YYYY-MM-DD)",
                     cal->date);
    else if (cal->due && !date_is_valid(cal->due))
        loader_error(ld, g.set[CK_DUE],
                     "calibration due '%s' is not a valid date (YYYY-MM-DD)",
                     cal->due);
    else if (cal->date && cal->due && strcmp(cal->due, cal->date) < 0)
        loader_error(ld, g.set[CK_DUE],
                     "calibration due '%s' is before its date '%s'", cal->due,
                     cal->date);
    if (cal->certificate && !text_is_printable_ascii(cal->certificate))
        loader_error(ld, g.set[CK_CERTIFICATE],
                     "certificate '%s' must be printable ASCII",
                     cal->certificate);
}

/* The kind, unit and range of a sensor. */
static void config_sensor_read_quantity(struct loader *ld,
                                        const struct group *g,
                                        struct sensor_conf *s,
                                        const char *label)
{
    bool kind_ok = false;

    if (group_has(g, SK_KIND)) {
        const char *kind = group_str(g, SK_KIND);

        if (kind_parse(kind, &s->kind) == 0) {
            kind_ok = true;
        } else {
            char names[NAMES_MAX];

            names_join(names, sizeof(names), names_kind, KIND_GENERIC + 1, NULL,
                       0);
            loader_error(ld, g->set[SK_KIND], "unknown kind '%s' (use %s)",
                         kind, names);
        }
    }
    if (group_has(g, SK_UNIT)) {
        s->unit = group_strdup(g, SK_UNIT);
        if (!text_is_utf8_printable(s->unit) || strpbrk(s->unit, "\"\\"))
            loader_error(ld, g->set[SK_UNIT],
                         "unit in %s must be UTF-8 without control "
                         "characters, '\"' or '\\'",
                         label);
    } else if (kind_ok && kind_default_unit(s->kind)) {
        s->unit = xstrdup(kind_default_unit(s->kind));
    } else {
        /* Never NULL, even in a config about to be rejected. */
        s->unit = xstrdup("");
        if (kind_ok && !g->bad[SK_UNIT])
            loader_error(ld, g->self,
                         "missing 'unit' in %s (a generic sensor must name "
                         "its unit)",
                         label);
    }
    if (kind_ok)
        kind_default_range(s->kind, &s->range_lo, &s->range_hi);
    if (group_has(g, SK_RANGE)) {
        const config_setting_t *r = g->set[SK_RANGE];
        double lo = setting_number(config_setting_get_elem(r, 0));
        double hi = setting_number(config_setting_get_elem(r, 1));

        if (lo < hi) {
            s->range_lo = lo;
            s->range_hi = hi;
        } else {
            loader_error(ld, r,
                         "'range' in %s must have low < high, not "
                         "[%g, %g]",
                         label, lo, hi);
        }
    }
}

/* The registers of a sensor; returns true if the overlap check may use
 * them. */
static bool config_sensor_read_registers(struct loader *ld,
                                         const struct group *g,
                                         struct sensor_conf *s,
                                         const char *label)
{
    struct config *c = ld->c;
    bool ok = group_ok(g, SK_UNIT_ID) && group_ok(g, SK_TABLE) &&
              group_has(g, SK_ADDRESS);
    bool type_ok = false;

    if (group_has(g, SK_BUS)) {
        const char *bus = group_str(g, SK_BUS);

        s->bus = config_find_bus(c, bus);
        if (s->bus == SIZE_MAX) {
            /* A bus rejected for another reason keeps its name, so this
             * only fires for a name no bus has. With no buses, or one
             * without a name, the cause was reported already. */
            if (c->nbuses > 0 && !ld->bus_unnamed)
                loader_error(ld, g->set[SK_BUS], "unknown bus '%s'", bus);
            ok = false;
        } else if (!ld->bus_ok[s->bus]) {
            ok = false;
        }
    } else {
        ok = false;
    }
    s->unit_id = (int)group_int(g, SK_UNIT_ID);
    if (ok && c->buses[s->bus].params.type == BUS_RTU && s->unit_id == 0) {
        loader_error(ld, group_at(g, SK_UNIT_ID),
                     "unit_id 0 in %s is broadcast on rtu bus '%s' (use "
                     "1..%d)",
                     label, c->buses[s->bus].name, CONFIG_UNIT_ID_MAX);
        ok = false;
    }
    if (group_ok(g, SK_TABLE) &&
        reg_table_parse(group_str(g, SK_TABLE), &s->table) < 0) {
        loader_error(ld, group_at(g, SK_TABLE),
                     "unknown table '%s' (use holding or input)",
                     group_str(g, SK_TABLE));
        ok = false;
    }
    s->address = (int)group_int(g, SK_ADDRESS);
    if (group_has(g, SK_TYPE)) {
        const char *type = group_str(g, SK_TYPE);

        if (reg_type_parse(type, &s->type) == 0) {
            type_ok = true;
        } else {
            char names[NAMES_MAX];

            names_join(names, sizeof(names), names_type, REG_FLOAT64 + 1, NULL,
                       0);
            loader_error(ld, g->set[SK_TYPE], "unknown type '%s' (use %s)",
                         type, names);
        }
    }
    if (!type_ok)
        return false;
    s->order = byte_order_default(s->type);
    if (group_has(g, SK_BYTE_ORDER)) {
        const char *order = group_str(g, SK_BYTE_ORDER);
        char names[NAMES_MAX];
        int r = byte_order_parse(order, s->type, &s->order);

        if (r == -2) {
            names_join(names, sizeof(names), names_order, BO_HGFEDCBA + 1,
                       names_order_fits, (int)s->type);
            loader_error(ld, g->set[SK_BYTE_ORDER],
                         "byte order '%s' does not fit %s (use %s)", order,
                         reg_type_name(s->type), names);
        } else if (r < 0) {
            names_join(names, sizeof(names), names_order, BO_HGFEDCBA + 1,
                       names_order_fits, (int)s->type);
            loader_error(ld, g->set[SK_BYTE_ORDER],
                         "unknown byte order '%s' (use %s for %s)", order,
                         names, reg_type_name(s->type));
        }
    }
    if (group_has(g, SK_ADDRESS) &&
        s->address + (int)reg_type_words(s->type) - 1 > CONFIG_ADDRESS_MAX) {
        loader_error(ld, g->set[SK_ADDRESS],
                     "%s at address %d runs past register %d", label,
                     s->address, CONFIG_ADDRESS_MAX);
        ok = false;
    }
    return ok;
}

static void config_sensor_read(struct loader *ld, const config_setting_t *self,
                               size_t i)
{
    struct sensor_conf *s = &ld->c->sensors[i];
    char label[ENTRY_LABEL_MAX];
    struct group g;

    s->line = loader_line(self);
    s->bus = SIZE_MAX;
    entry_label(label, sizeof(label), self, "sensor", "id", i);
    group_read(ld, &g, self, sensor_keys, SK_COUNT, label);
    if (group_has(&g, SK_ID)) {
        const char *id = group_str(&g, SK_ID);

        if (name_is_valid(id, true))
            s->id = xstrdup(id);
        else
            loader_error(ld, g.set[SK_ID],
                         "sensor id '%s' may only hold letters, digits, '_', "
                         "'.' and '-'",
                         id);
    }
    config_sensor_read_quantity(ld, &g, s, label);
    ld->regs_ok[i] = config_sensor_read_registers(ld, &g, s, label);
    s->scale = group_float(&g, SK_SCALE);
    if (group_has(&g, SK_SCALE) && s->scale == 0.0)
        loader_error(ld, g.set[SK_SCALE], "'scale' in %s must not be 0", label);
    s->offset = group_float(&g, SK_OFFSET);
    s->interval_ms = (int)group_int(&g, SK_INTERVAL_MS);
    if (group_has(&g, SK_CALIBRATION))
        config_calibration_read(ld, g.set[SK_CALIBRATION], &s->cal, label);
}

/* Orders sensors for the overlap sweep. */
struct overlap_key {
    size_t bus;
    int unit_id;
    enum reg_table table;
    int address;
    size_t sensor;
};

static int overlap_key_cmp(const void *a, const void *b)
{
    const struct overlap_key *x = a, *y = b;

    if (x->bus != y->bus)
        return x->bus < y->bus ? -1 : 1;
    if (x->unit_id != y->unit_id)
        return x->unit_id < y->unit_id ? -1 : 1;
    if (x->table != y->table)
        return x->table < y->table ? -1 : 1;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    return x->sensor < y->sensor ? -1 : x->sensor > y->sensor;
}

/*
 * Two sensors whose registers overlap on one bus, unit and table read the
 * same words as different things: one of them is wrong. The exception is
 * the same address and type, which is one value read twice (e.g. with two
 * scales or intervals). Sorted by address, each sensor need only be
 * compared with those that start before it ends.
 */
static void config_check_overlap(struct loader *ld,
                                 const config_setting_t *list)
{
    struct config *c = ld->c;
    struct overlap_key *k = xcalloc(c->nsensors, sizeof(*k));
    size_t n = 0;

    for (size_t i = 0; i < c->nsensors; i++) {
        const struct sensor_conf *s = &c->sensors[i];

        if (!ld->regs_ok[i])
            continue;
        k[n++] =
            (struct overlap_key){s->bus, s->unit_id, s->table, s->address, i};
    }
    qsort(k, n, sizeof(*k), overlap_key_cmp);
    for (size_t i = 0; i < n; i++) {
        const struct sensor_conf *a = &c->sensors[k[i].sensor];
        int a_end = a->address + (int)reg_type_words(a->type) - 1;

        for (size_t j = i + 1; j < n; j++) {
            const struct sensor_conf *b = &c->sensors[k[j].sensor];
            const struct sensor_conf *first = a, *later = b;

            if (k[j].bus != k[i].bus || k[j].unit_id != k[i].unit_id ||
                k[j].table != k[i].table || b->address > a_end)
                break;
            if (b->address == a->address && b->type == a->type)
                continue;
            if (k[j].sensor < k[i].sensor) {
                first = b;
                later = a;
            }
            loader_error(
                ld,
                config_setting_get_elem(
                    list, (int)(later == a ? k[i].sensor : k[j].sensor)),
                "sensor '%s' (%s %s %d..%d) overlaps sensor '%s' (%s %s "
                "%d..%d) on bus '%s' unit %d",
                later->id ? later->id : "?", reg_table_name(later->table),
                reg_type_name(later->type), later->address,
                later->address + (int)reg_type_words(later->type) - 1,
                first->id ? first->id : "?", reg_table_name(first->table),
                reg_type_name(first->type), first->address,
                first->address + (int)reg_type_words(first->type) - 1,
                c->buses[a->bus].name, a->unit_id);
        }
    }
    free(k);
}

static void config_sensors_read(struct loader *ld, const config_setting_t *list)
{
    struct config *c = ld->c;
    size_t n = (size_t)config_setting_length(list);

    if (n == 0) {
        loader_error(ld, list, "'sensors' must not be empty");
        return;
    }
    c->sensors = xcalloc(n, sizeof(*c->sensors));
    ld->regs_ok = xcalloc(n, sizeof(*ld->regs_ok));
    c->nsensors = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = config_setting_get_elem(list, (int)i);

        c->sensors[i].bus = SIZE_MAX;
        if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
            c->sensors[i].unit = xstrdup("");
            loader_error(ld, e, "sensor %zu must be a group { ... }, not %s",
                         i + 1, setting_type_text(e));
            continue;
        }
        config_sensor_read(ld, e, i);
    }
    for (size_t i = 0; i < n; i++) {
        const struct sensor_conf *b = &c->sensors[i];

        for (size_t j = 0; b->id && j < i; j++) {
            if (c->sensors[j].id && strcmp(c->sensors[j].id, b->id) == 0) {
                loader_error(ld, config_setting_get_elem(list, (int)i),
                             "duplicate sensor '%s' (first at line %d)", b->id,
                             c->sensors[j].line);
                break;
            }
        }
    }
    config_check_overlap(ld, list);
}

/* ---- loading ---- */

/* Reads the whole file; returns its bytes (NUL-terminated) or NULL. */
static char *config_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    int saved = 0;

    if (!f)
        return NULL;
    buf = xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);

        n += got;
        if (got == 0)
            break;
        if (cap - n - 1 == 0)
            xgrow(&buf, &cap, cap * 2, 1);
    }
    if (ferror(f)) {
        /* stdio keeps errno from the failed read(); fclose may clobber. */
        saved = errno ? errno : EIO;
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    errno = saved;
    return NULL;
}

/* libconfig 1.5's MAX_INCLUDE_DEPTH: it stops at an @include deeper than
 * this with an error, so the scan stops there too (going on would read
 * files libconfig never reads, exponentially many for a file that
 * includes itself twice). */
#define CONFIG_INCLUDE_DEPTH 10

/* Checks one number token of a file's text; see config_scan(). file is
 * NULL for the config itself, else the name its @include gives. */
static void config_check_number(struct loader *ld, const char *file,
                                const char *tok, size_t len, int line)
{
    char buf[64];
    bool hex = len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
    size_t digits = len;
    bool wide = false, bad;
    char *end;

    /* int64 ("L" or "LL"): libconfig saturates a decimal one and wraps a
     * hex one through unsigned, so only the 64-bit bound is checked here;
     * the tables judge the value. */
    while (digits > 1 && (tok[digits - 1] == 'L' || tok[digits - 1] == 'l') &&
           len - digits < 2) {
        digits--;
        wide = true;
    }
    /* A float: libconfig reads it as a double. */
    if (!hex && (memchr(tok, '.', len) || memchr(tok, 'e', len) ||
                 memchr(tok, 'E', len)))
        return;
    if (len >= sizeof(buf)) {
        loader_add(ld, file, line, "integer literal is too long");
        return;
    }
    memcpy(buf, tok, digits);
    buf[digits] = '\0';
    errno = 0;
    if (hex) {
        unsigned long long u = strtoull(buf, &end, 16);

        bad = errno == ERANGE || u > (wide ? INT64_MAX : INT32_MAX);
    } else {
        long long v = strtoll(buf, &end, 10);

        bad = errno == ERANGE || (!wide && (v < INT32_MIN || v > INT32_MAX));
    }
    if (*end)
        return; /* not a number libconfig takes: it will say so */
    if (bad) {
        char msg[128];

        snprintf(msg, sizeof(msg), "integer '%.*s' is out of range", (int)len,
                 tok);
        loader_add(ld, file, line, msg);
    }
}

/* The line of the first NUL in text[0..len), or 0 if it holds none. */
static int config_nul_line(const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    int line = 1;

    if (!nul)
        return 0;
    for (const char *p = text; p < nul; p++)
        line += *p == '\n';
    return line;
}

/*
 * Where the scan is between tokens. libconfig's scanner (flex) keeps its
 * state across an @include: a comment or string left open at the end of
 * an included file goes on in the file that included it. The scan must
 * see the same text as a comment or string, or it would miss a literal
 * libconfig reads.
 */
enum scan_state { SCAN_CODE, SCAN_COMMENT, SCAN_STRING };

static void config_scan(struct loader *ld, const char *file, const char *p,
                        int depth, enum scan_state *state);

/* Keeps a copy of a file's bytes in c->files, unless a file of that name
 * is kept already (libconfig reads it again at each @include: the first
 * reading is kept). */
static void config_keep_file(struct config *c, const char *name,
                             const char *text, size_t len)
{
    size_t cap = c->nfiles;
    struct config_file *f;

    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].name, name) == 0)
            return;
    xgrow(&c->files, &cap, c->nfiles + 1, sizeof(*c->files));
    f = &c->files[c->nfiles++];
    f->name = xstrdup(name);
    f->bytes = xmalloc(len + 1);
    memcpy(f->bytes, text, len);
    f->bytes[len] = '\0';
    f->len = len;
    sha256_hex(text, len, f->sha256);
}

/*
 * Follows "@include name" at line of file: the included file is scanned as
 * libconfig will read it, at the include dir joined with name as given
 * (libconfig 1.5 joins even an absolute name, and uses the config's
 * directory at every depth). A file that is missing or unreadable is left
 * to libconfig to report; one that is not a regular file is refused here,
 * since libconfig's scanner exits the process on a directory, and reading
 * a pipe here would take its text from libconfig.
 */
static void config_scan_include(struct loader *ld, const char *file, int line,
                                const char *name, int depth,
                                enum scan_state *state)
{
    size_t plen = strlen(ld->dir) + 1 + strlen(name) + 1;
    char *path = xmalloc(plen), *text = NULL, *msg = NULL;
    struct stat st;
    size_t len = 0;
    int nul;

    snprintf(path, plen, "%s/%s", ld->dir, name);
    if (stat(path, &st) < 0)
        goto done;
    if (!S_ISREG(st.st_mode)) {
        size_t mlen = strlen(name) + 64;

        msg = xmalloc(mlen);
        snprintf(msg, mlen, "cannot include '%s': not a regular file", name);
        loader_add(ld, file, line, msg);
        goto done;
    }
    if (!(text = config_slurp(path, &len)))
        goto done;
    /* libconfig reads an included file past a NUL; the scan cannot. */
    if ((nul = config_nul_line(text, len)) > 0) {
        loader_add(ld, name, nul, "file holds a NUL byte");
        goto done;
    }
    config_keep_file(ld->c, name, text, len);
    config_scan(ld, name, text, depth, state);
done:
    free(msg);
    free(text);
    free(path);
}

/*
 * libconfig 1.5 stores an integer literal in an int without checking its
 * range, so "port = 4294967798;" would silently read as 502. This finds
 * the integer literals of one file's text (file NULL for the config, else
 * as its @include names it) and of every file it includes, with a lexer
 * that knows just enough of the syntax (comments, strings, names,
 * @include) not to mistake anything else for one. depth counts the
 * includes that led here.
 */
static void config_scan(struct loader *ld, const char *file, const char *p,
                        int depth, enum scan_state *state)
{
    bool bol = true; /* only blanks since the line began */
    int line = 1;

    while (*p && !ld->too_deep) {
        if (*state == SCAN_COMMENT) {
            for (; *p && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            if (*p) {
                p += 2;
                *state = SCAN_CODE;
            }
            bol = false;
        } else if (*state == SCAN_STRING) {
            for (; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                line += *p == '\n';
            }
            if (*p) {
                p++;
                *state = SCAN_CODE;
            }
            bol = false;
        } else if (*p == '\n') {
            line++;
            p++;
            bol = true;
        } else if (*p == ' ' || *p == '\t') {
            p++;
        } else if (bol && strncmp(p, "@include", 8) == 0 &&
                   (p[8] == ' ' || p[8] == '\t')) {
            /* As libconfig: first on its line, the name up to the next
             * '"' without escapes. */
            const char *name;
            char *inc;
            int at = line;

            for (p += 8; *p == ' ' || *p == '\t'; p++)
                ;
            bol = false;
            if (*p != '"')
                continue; /* libconfig will say what is wrong */
            name = ++p;
            while (*p && *p != '"')
                line += *p++ == '\n';
            if (!*p)
                break;
            if (depth == CONFIG_INCLUDE_DEPTH) {
                ld->too_deep = true; /* libconfig says so */
                break;
            }
            inc = xmalloc((size_t)(p - name) + 1);
            memcpy(inc, name, (size_t)(p - name));
            inc[p - name] = '\0';
            config_scan_include(ld, file, at, inc, depth + 1, state);
            free(inc);
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            *state = SCAN_COMMENT;
        } else if (*p == '"') {
            p++;
            *state = SCAN_STRING;
        } else if (isalpha((unsigned char)*p) || *p == '*') {
            /* strchr() also finds the NUL: test for it first, or a name
             * at the very end of the file runs past it (found by
             * tests/fuzz/fuzz_config). */
            while (*p && (isalnum((unsigned char)*p) || strchr("-_*", *p)))
                p++;
            bol = false;
        } else if (isdigit((unsigned char)*p) ||
                   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
            const char *tok = p;

            for (p++;
                 isalnum((unsigned char)*p) || *p == '.' ||
                 ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E'));
                 p++)
                ;
            config_check_number(ld, file, tok, (size_t)(p - tok), line);
            bol = false;
        } else {
            p++;
            bol = false;
        }
    }
}

/* Scans the config's text and every file it includes; see config_scan().
 * Returns the number of errors found. */
static size_t config_check_integers(struct loader *ld, const char *text)
{
    enum scan_state state = SCAN_CODE;
    size_t before = ld->n;

    config_scan(ld, NULL, text, 0, &state);
    return ld->n - before;
}

/* The directory of path, for @include: "." if it has none. */
static char *config_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;

    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    dir = xmalloc((size_t)(slash - path) + 1);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    return dir;
}

/* Parses and validates text into ld->c; errors go to ld. */
static void config_parse(struct loader *ld, const char *text)
{
    config_t cf;
    const config_setting_t *root;
    struct group g;

    config_init(&cf);
    config_set_include_dir(&cf, ld->dir);
    if (config_read_string(&cf, text) != CONFIG_TRUE) {
        loader_add(ld, config_error_file(&cf), config_error_line(&cf),
                   config_error_text(&cf));
        goto fail;
    }
    root = config_root_setting(&cf);
    group_read(ld, &g, root, top_keys, TK_COUNT, "");
    config_top_read(ld, &g);
    if (group_has(&g, TK_MQTT))
        config_mqtt_read(ld, g.set[TK_MQTT]);
    if (group_has(&g, TK_BUSES))
        config_buses_read(ld, g.set[TK_BUSES]);
    if (group_has(&g, TK_SENSORS))
        config_sensors_read(ld, g.set[TK_SENSORS]);
fail:
    config_destroy(&cf);
}

struct config *config_load(const char *path, struct config_errors *errs)
{
    struct loader ld = {.path = path};
    struct config *c = xcalloc(1, sizeof(*c));
    size_t len = 0;
    char *text = config_slurp(path, &len);
    int nul;

    ld.c = c;
    ld.dir = config_dir(path);
    c->path = xstrdup(path);
    if (!text) {
        char msg[256];

        snprintf(msg, sizeof(msg), "cannot read: %s", strerror(errno));
        loader_add(&ld, NULL, 0, msg);
        goto fail;
    }
    sha256_hex(text, len, c->sha256);
    config_keep_file(c, path, text, len);
    /* libconfig would stop at a NUL: the hash would then cover text that
     * was never parsed. */
    if ((nul = config_nul_line(text, len)) > 0) {
        loader_add(&ld, NULL, nul, "file holds a NUL byte");
        goto fail;
    }
    if (config_check_integers(&ld, text) > 0)
        goto fail;
    config_parse(&ld, text);
    if (ld.n > 0)
        goto fail;
    free(text);
    free(ld.dir);
    free(ld.bus_ok);
    free(ld.regs_ok);
    return c;
fail:
    free(text);
    free(ld.dir);
    free(ld.bus_ok);
    free(ld.regs_ok);
    loader_flush(&ld, errs);
    config_free(c);
    return NULL;
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->site);
    free(c->database);
    free(c->control_socket);
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].name);
        free(c->files[i].bytes);
    }
    free(c->files);
    free(c->mqtt.host);
    free(c->mqtt.client_id);
    free(c->mqtt.topic_prefix);
    free(c->mqtt.username);
    free(c->mqtt.password_file);
    free(c->mqtt.ca_file);
    free(c->mqtt.cert_file);
    free(c->mqtt.key_file);
    for (size_t i = 0; i < c->nbuses; i++)
        free(c->buses[i].name);
    free(c->buses);
    for (size_t i = 0; i < c->nsensors; i++) {
        struct sensor_conf *s = &c->sensors[i];

        free(s->id);
        free(s->unit);
        free(s->cal.date);
        free(s->cal.due);
        free(s->cal.certificate);
    }
    free(c->sensors);
    free(c);
}

void config_errors_release(struct config_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        free(errs->v[i]);
    free(errs->v);
    errs->v = NULL;
    errs->n = errs->cap = 0;
}

size_t config_find_bus(const struct config *c, const char *name)
{
    for (size_t i = 0; i < c->nbuses; i++)
        if (c->buses[i].name && strcmp(c->buses[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

/* Both NULL, or equal strings. */
static bool config_str_equal(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool config_mqtt_equal(const struct config *a, const struct config *b)
{
    const struct mqtt_conf *x = &a->mqtt, *y = &b->mqtt;

    return strcmp(a->site, b->site) == 0 && x->enabled == y->enabled &&
           config_str_equal(x->host, y->host) && x->port == y->port &&
           config_str_equal(x->client_id, y->client_id) &&
           config_str_equal(x->topic_prefix, y->topic_prefix) &&
           x->qos == y->qos && x->retain == y->retain &&
           x->keepalive_s == y->keepalive_s &&
           config_str_equal(x->username, y->username) &&
           config_str_equal(x->password_file, y->password_file) &&
           config_str_equal(x->ca_file, y->ca_file) &&
           config_str_equal(x->cert_file, y->cert_file) &&
           config_str_equal(x->key_file, y->key_file);
}

struct config *config_load_logged(const char *path)
{
    struct config_errors errs = {0};
    struct config *c = config_load(path, &errs);

    for (size_t i = 0; i < errs.n; i++)
        log_err("%s", errs.v[i]);
    config_errors_release(&errs);
    return c;
}
