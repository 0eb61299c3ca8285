/* SPDX-License-Identifier: MIT */
/*
 * What the files of the config loader share, and nothing else includes:
 * the keys of each group's settings table, the loader that collects the
 * errors of one load, and the prototypes of each file, grouped by file.
 *
 * One load is one struct loader on the caller's stack, used by one thread:
 * nothing here is shared between loads, and nothing is thread-safe beyond
 * that. Errors are never returned: each function records what it finds
 * with loader_error() and goes on, so one load reports every problem.
 * Strings the readers copy into ld->c belong to that config (config_free()
 * releases them); everything else a group hands out points into libconfig's
 * tree and lives only until config_parse() destroys it.
 */
#ifndef TBDAQ_CONFIG_PRIVATE_H
#define TBDAQ_CONFIG_PRIVATE_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

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
/* Short enumeration words: "holding", "float64", "warning". */
#define WORD_MAX 16

/* Defaults that differ by bus type (SPEC's example values). */
#define BUS_TCP_TIMEOUT_MS 500
#define BUS_RTU_TIMEOUT_MS 300
#define BUS_TCP_DELAY_MS 0
/* About 3.5 characters at 9600 baud, rounded up: the RTU frame gap. */
#define BUS_RTU_DELAY_MS 5

/* ---- the settings tables (config_table.c) ---- */

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
    KF_TCP = 1 << 1, /* a bus key of a TCP connection: tcp, rtu-over-tcp */
    KF_RTU = 1 << 2, /* a bus key of a serial port: rtu only */
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

/* The groups a config holds, each described by one table. */
enum config_group {
    GROUP_TOP,
    GROUP_MQTT,
    GROUP_TLS,
    GROUP_BUS,
    GROUP_SENSOR,
    GROUP_CALIBRATION,
    GROUP_DEVICE,
    GROUP_ASCII,
    GROUP_SPARKPLUG,
    GROUP_WEB,
    GROUP_WEB_TLS,
};

/* The keys of each table, by index: group_read() fills g->set[] in this
 * order. */
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
    TK_DEVICES,
    TK_SPARKPLUG,
    TK_WEB,
    TK_COUNT
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
    MK_LAYOUT,
    MK_COUNT
};

enum tls_key { LK_CA_FILE, LK_CERT_FILE, LK_KEY_FILE, LK_COUNT };

enum sparkplug_key {
    PK_HOST,
    PK_PORT,
    PK_CLIENT_ID,
    PK_USERNAME,
    PK_PASSWORD_FILE,
    PK_TLS,
    PK_KEEPALIVE_S,
    PK_GROUP_ID,
    PK_EDGE_NODE,
    PK_QOS,
    PK_PRIMARY_HOST,
    PK_COUNT
};

enum bus_key {
    BK_NAME,
    BK_TYPE,
    BK_TIMEOUT_MS,
    BK_RETRIES,
    BK_MAX_REGISTERS,
    BK_MAX_BITS,
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

enum sensor_key {
    SK_ID,
    SK_KIND,
    SK_BUS,
    SK_UNIT_ID,
    SK_TABLE,
    SK_ADDRESS,
    SK_TYPE,
    SK_BYTE_ORDER,
    SK_BIT,
    SK_SCALE,
    SK_OFFSET,
    SK_UNIT,
    SK_INTERVAL_MS,
    SK_RANGE,
    SK_CALIBRATION,
    SK_COUNT
};

enum cal_key { CK_DATE, CK_DUE, CK_CERTIFICATE, CK_COUNT };

enum device_key {
    DK_BUS,
    DK_UNIT_ID,
    DK_MODEL,
    DK_SERIAL,
    DK_FIRMWARE,
    DK_COUNT
};

enum web_key { WK_LISTEN, WK_USERS_FILE, WK_TLS, WK_COUNT };

enum web_tls_key { WL_CERT_FILE, WL_KEY_FILE, WL_COUNT };

/* The registers of an identity field: a device's serial or firmware. */
enum ascii_key { AK_TABLE, AK_ADDRESS, AK_COUNT_REGS, AK_COUNT };

/* What group_read() found in one group, by index into its table. */
struct group {
    const struct key *keys;
    size_t nkeys;
    const config_setting_t *self;
    const config_setting_t *set[GROUP_KEYS_MAX]; /* valid and given */
    bool bad[GROUP_KEYS_MAX]; /* given but wrong: already reported */
    char in[GROUP_LABEL_MAX]; /* " in sensor 'FT-101'", or "" at the top */
};

/* One error or warning, before sorting. */
struct load_error {
    int line;
    size_t seq;
    char *msg; /* the whole "file:line: message" */
};

/* The errors, or the warnings, of one load: v[0..n), in the order found. */
struct load_list {
    struct load_error *v;
    size_t n, cap;
};

/* One load: the config being built and what was found so far. */
struct loader {
    const char *path;
    char *dir; /* of path: where @include looks */
    struct load_list errors;
    struct load_list warnings; /* kept only if there is no error */
    struct config *c;
    bool *bus_ok;     /* per bus: its type is known, so checks can use it */
    bool *regs_ok;    /* per sensor: bus, unit, table, address, type known */
    bool bus_unnamed; /* a bus has no usable name (already reported) */
    bool too_deep;    /* the scan met an @include libconfig refuses */
};

/*
 * Reads self against the table of which into g: reports unknown keys,
 * wrong types, bounds and missing required keys. label names the group in
 * messages ("sensor 'FT-101'"), or is "" for the top level.
 */
void group_read(struct loader *ld, struct group *g,
                const config_setting_t *self, enum config_group which,
                const char *label);
/* Given and valid (a bad one was reported, a missing one defaulted). */
bool group_has(const struct group *g, size_t k);
/* Given and valid, or absent and not required: usable for checks. */
bool group_ok(const struct group *g, size_t k);
/* The value of key k, or its default when it is not given. */
long long group_int(const struct group *g, size_t k);
double group_float(const struct group *g, size_t k);
bool group_bool(const struct group *g, size_t k);
/* Points into libconfig's tree or the table: do not free. */
const char *group_str(const struct group *g, size_t k);
/* The string setting, copied (the caller owns it), or NULL if absent and
 * without default. */
char *group_strdup(const struct group *g, size_t k);
/* Where to point an error about key k: the setting, else the group. */
const config_setting_t *group_at(const struct group *g, size_t k);

/* "an integer", "a string", ...: what s is, for messages. */
const char *setting_type_text(const config_setting_t *s);
/* A number setting as a double; libconfig's get_float() is 0 for ints. */
double setting_number(const config_setting_t *s);
/* The number of entries of list (buses, sensors); 0 when it is empty,
 * which is reported (key names the list in the message). */
size_t entries_count(struct loader *ld, const config_setting_t *list,
                     const char *key);
/* Entry i of list if it is a group, else NULL (reported as "<noun> i+1
 * must be a group"). */
const config_setting_t *entry_group(struct loader *ld,
                                    const config_setting_t *list,
                                    const char *noun, size_t i);
/* The name of an entry (key k of g: a bus's name, a sensor's id), copied
 * (the caller owns it), or NULL when absent or not a name, which is
 * reported: "<what> 'a b' may only hold ...". */
char *entry_name(struct loader *ld, const struct group *g, size_t k,
                 const char *what);
/* Writes "bus 'plant-a'" if the entry has a usable name (its key), else
 * "bus 2" (i counts from 0). */
void entry_label(char *buf, size_t size, const config_setting_t *self,
                 const char *noun, const char *key, size_t i);
/* The separator before item done (from 0) of total in "a, b, c or d". */
const char *names_sep(size_t done, size_t total);

/* ---- errors (config.c) ---- */

/* The line of s, or 0 for none (the root, or no setting at all). */
int loader_line(const config_setting_t *s);
/*
 * Records "file:line: msg" ("file: msg" when line is 0). file is NULL for
 * the config itself, or a file it included, named as in its @include and
 * so relative to the config's directory.
 */
void loader_add(struct loader *ld, const char *file, int line, const char *msg);
/* Records an error at the line of s (an included file names itself). */
__attribute__((format(printf, 3, 4))) void
loader_error(struct loader *ld, const config_setting_t *s, const char *fmt,
             ...);
/* Records a warning at the line of s: the config stays valid. */
__attribute__((format(printf, 3, 4))) void
loader_warning(struct loader *ld, const config_setting_t *s, const char *fmt,
               ...);

/* ---- libconfig's own errors, explained (config_explain.c) ---- */

/*
 * Records libconfig's parse error msg at line of file (NULL: the config
 * itself; else as its @include names it), adding the likely cause where
 * the text around it makes one obvious: integers and floats mixed in an
 * array, a comma missing between two groups of a list.
 */
void config_explain(struct loader *ld, const char *file, int line,
                    const char *msg);

/* ---- commissioning warnings (config_warn.c) ---- */

/* Records the warnings of a config that loaded without error; root is
 * libconfig's tree of it, for the lines. */
void config_warn(struct loader *ld, const config_setting_t *root);

/* ---- the files and the include pre-scan (config_scan.c) ---- */

/* Reads the whole file; returns its bytes (NUL-terminated, the caller
 * frees them) or NULL with errno set. */
char *config_slurp(const char *path, size_t *len);
/* The line of the first NUL in text[0..len), or 0 if it holds none. */
int config_nul_line(const char *text, size_t len);
/* Keeps a copy of a file's bytes in c->files, unless a file of that name
 * is kept already (libconfig reads it again at each @include: the first
 * reading is kept). */
void config_keep_file(struct config *c, const char *name, const char *text,
                      size_t len);
/* Scans the config's text and every file it includes for integer literals
 * libconfig would take without a range check. Returns the number of
 * errors found. */
size_t config_check_integers(struct loader *ld, const char *text);

/* ---- mqtt and tls (config_mqtt.c) ---- */

/* Reads the mqtt group (and its tls group) into ld->c->mqtt. */
void config_mqtt_read(struct loader *ld, const config_setting_t *self);
/* Reads a tls group (label: "mqtt.tls", "sparkplug.tls") into the three
 * file names, checking that they go together. */
void config_tls_read(struct loader *ld, const config_setting_t *self,
                     const char *label, char **ca_file, char **cert_file,
                     char **key_file);
/* Both NULL, or equal strings. */
bool config_str_equal(const char *a, const char *b);

/* ---- sparkplug (config_sparkplug.c) ---- */

/* Reads the sparkplug group (and its tls group) into ld->c->sparkplug;
 * needs the site read. */
void config_sparkplug_read(struct loader *ld, const config_setting_t *self);

/* ---- the web group (config_web.c) ---- */

/* Reads the web group (and its tls group) into ld->c->web. */
void config_web_read(struct loader *ld, const config_setting_t *self);
/* Fills ld->c->web's defaults when the group is absent. */
void config_web_default(struct config *c);

/* ---- buses (config_bus.c) ---- */

/* Reads the buses list into ld->c->buses and ld->bus_ok. */
void config_buses_read(struct loader *ld, const config_setting_t *list);

/* ---- sensors (config_sensor.c) ---- */

/* Reads the sensors list into ld->c->sensors; needs the buses read. */
void config_sensors_read(struct loader *ld, const config_setting_t *list);

/* ---- devices (config_device.c) ---- */

/* Reads the devices list into ld->c->devices; needs the buses and the
 * sensors read. */
void config_devices_read(struct loader *ld, const config_setting_t *list);

#endif
