/* SPDX-License-Identifier: MIT */
/*
 * The configuration: loaded from a libconfig file, validated completely,
 * and immutable once loaded. This module (lib/config*.c) is the only user
 * of libconfig.
 *
 * config_load() checks everything SPEC lists and reports each problem as
 * "file:line: message"; it collects every error before failing, so one run
 * of `tbdaqd -t` lists them all. A config that loaded is valid: nothing
 * after this needs to check it again. What is valid but most likely a
 * commissioning mistake (an address in register-number notation, a file
 * that cannot be read now) is kept in its warnings, which the load never
 * logs: the programs that check a config or start with it do.
 *
 * Errors: config_load() logs nothing (config_load_logged() logs the
 * errors, not the warnings); out of memory aborts. Ownership: a struct
 * config owns every string and array it points to; config_free()
 * releases them all. Callers never free a member.
 * Thread-safety: loads share no state, so any thread may load. The thread
 * that loaded a config may still fill in what the load cannot know
 * (sensors[].db_id, by store_sync_sensors()) before it hands the config to
 * other threads; from then on it is read-only and any number of threads
 * may read it at once. Free it only once no thread reads it.
 */
#ifndef TBDAQ_CONFIG_H
#define TBDAQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "common/log.h"
#include "drivers/bus.h"
#include "drivers/decode.h"
#include "drivers/kind.h"

#define CONFIG_DEFAULT_PATH "/etc/tbdaq/tbdaq.conf"
#define CONFIG_DEFAULT_DATABASE "/var/lib/tbdaq/tbdaq.db"
/* Longest site, bus name and sensor id: they appear in topics and file
 * names. */
#define CONFIG_NAME_MAX 64
/* Readings held in memory while the database cannot be written (disk
 * full, I/O errors): 128 bytes each, twice that while the array grows. */
#define CONFIG_DEFAULT_BUFFER_READINGS 500000
/* The chain witness's default interval, in seconds. */
#define CONFIG_DEFAULT_WITNESS_INTERVAL_S 60
/* The longest control_socket: what a Unix socket's sun_path holds. */
#define CONFIG_SOCKET_PATH_MAX 107

struct calibration {
    char *date;        /* "YYYY-MM-DD", or NULL when not given */
    char *due;         /* "YYYY-MM-DD", or NULL */
    char *certificate; /* or NULL */
};

struct sensor_conf {
    char *id; /* the tag, e.g. "FT-101": [A-Za-z0-9_.-]+ */
    enum sensor_kind kind;
    size_t bus;  /* index into config.buses */
    int unit_id; /* 0..247 (0 only meaningful on TCP) */
    enum reg_table table;
    int address;        /* 0..65535, and address + words - 1 <= 65535 */
    enum reg_type type; /* REG_BOOL exactly on the tables of bits */
    enum byte_order order;
    /* `bit` given (int16 and uint16 only): the value is bit `bit` (0..15,
     * 0 the least significant) of the register after its byte order. */
    bool has_bit;
    int bit;         /* 0 unless has_bit */
    double scale;    /* 1 for a bit or a bool: they take none */
    double offset;   /* 0 for a bit or a bool */
    char *unit;      /* never NULL: given, or the kind's default */
    int interval_ms; /* >= 10 */
    double range_lo; /* given, or the kind's default; may be -inf */
    double range_hi; /* may be +inf */
    struct calibration cal;
    int line;      /* where the sensor's group starts in the file */
    int64_t db_id; /* sensors.id once store_sync_sensors() ran; else 0 */
};

struct bus_conf {
    char *name;
    struct bus_params params;
    int max_gap; /* unused registers one request may span to join two */
    int line;
};

/* Registers an instrument reports its identity in (devices): ASCII, two
 * characters to a register. */
struct ascii_regs {
    int count;            /* 1..DEVICE_REGS_MAX; 0: not configured */
    enum reg_table table; /* holding or input */
    int address;          /* address + count - 1 <= 65535 */
};

/* An instrument named in `devices`: one per bus and unit. */
struct device_conf {
    size_t bus;  /* index into config.buses */
    int unit_id; /* as a sensor's: 1..247, or 0..247 on tcp */
    char *model; /* free text, or NULL */
    struct ascii_regs serial, firmware;
    int line; /* where the device's group starts */
};

/* The shape of reading messages (SPEC mqtt.layout). */
enum mqtt_layout {
    MQTT_LAYOUT_READING, /* one message per reading */
    MQTT_LAYOUT_DEVICE,  /* one message per device (bus, unit) and poll */
};

struct mqtt_conf {
    bool enabled; /* false when the mqtt group is absent */
    enum mqtt_layout layout;
    char *host;
    int port;
    char *client_id;
    char *topic_prefix;
    int qos;
    bool retain;
    int keepalive_s;
    char *username;      /* or NULL */
    char *password_file; /* or NULL */
    char *ca_file;       /* tls, each NULL when not given */
    char *cert_file;
    char *key_file;
};

/* The Sparkplug B edge node (SPEC "Sparkplug B"): a second publisher. */
struct sparkplug_conf {
    bool enabled; /* false when the sparkplug group is absent */
    char *host;
    int port;
    char *client_id;     /* default "tbdaq-<site>-spb" */
    char *username;      /* or NULL */
    char *password_file; /* or NULL */
    char *ca_file;       /* tls, each NULL when not given */
    char *cert_file;
    char *key_file;
    int keepalive_s;
    char *group_id;     /* default "tbdaq" */
    char *edge_node;    /* default the site */
    int qos;            /* 0 or 1 */
    char *primary_host; /* or NULL: births need no host's STATE */
};

/* The default of web.listen: loopback only, so that nothing is served
 * beyond the host unless the operator asks for it (SPEC tbdaq-web). */
#define CONFIG_WEB_LISTEN_DEFAULT "127.0.0.1:8080"
/* The longest web.listen: "[" an IPv6 address "]:" a port. */
#define CONFIG_LISTEN_MAX 64

/* A listening address, "ADDR:PORT" parsed (config_listen_parse()). */
struct listen_addr {
    int family;            /* AF_INET or AF_INET6 */
    char addr[48];         /* numeric, without brackets: "127.0.0.1", "::1" */
    int port;              /* 1..65535 */
    bool loopback;         /* 127.0.0.0/8 or ::1 */
    unsigned char raw[16]; /* the address's bytes (4 for AF_INET) */
};

/* The web group (tbdaq-web; the daemon ignores it). */
struct web_conf {
    bool given;            /* false when the group is absent */
    char *listen;          /* never NULL: given or the default */
    struct listen_addr at; /* listen, parsed */
    char *users_file;      /* or NULL */
    char *tls_cert_file;   /* tls, both or neither */
    char *tls_key_file;
    int line; /* where the group starts, 0 if absent */
};

/*
 * Parses "ADDR:PORT" (ADDR a numeric IPv4 address, or an IPv6 one in
 * brackets: "[::1]:8080"). Returns 0, or -1 with err set to why not
 * ("needs ADDR:PORT", "port '0' must be 1..65535", ...). Pure; thread-safe.
 */
int config_listen_parse(const char *s, struct listen_addr *out, char *err,
                        size_t errlen);

/* A file of the configuration, its bytes exactly as read. */
struct config_file {
    char *name;  /* the main file: its path as given; an included one: as
                    its @include names it */
    char *bytes; /* len bytes (and a NUL after them) */
    size_t len;
    char sha256[SHA256_HEX_LEN]; /* of the bytes */
};

struct config {
    char *path;
    char sha256[SHA256_HEX_LEN]; /* of the file's bytes as parsed */
    /* The main file, then every file it @includes (at any depth, each
     * name once, in the order first met), as the load read them: what
     * the daemon stores with each configuration it applies. */
    struct config_file *files;
    size_t nfiles;
    char *site;
    char *database;
    enum log_level log_level;
    int commit_interval_ms;
    int retention_days;
    /* Readings held in memory while the database cannot be written. */
    int buffer_readings;
    /* The chain witness on MQTT this often (0: none). */
    int witness_interval_s;
    /* The control channel's path, or NULL: derived from the database's. */
    char *control_socket;
    struct mqtt_conf mqtt;
    struct sparkplug_conf sparkplug;
    struct web_conf web;
    struct bus_conf *buses;
    size_t nbuses;
    struct sensor_conf *sensors;
    size_t nsensors;
    /* The instruments (`devices`, optional): each unit of a bus at most
     * once, and their every `device` event fits EVENT_DETAIL_MAX. */
    struct device_conf *devices;
    size_t ndevices;
    /* Commissioning warnings (SPEC: mistakes that parse), each one line
     * "file:line: message", in line order: the config is valid, and
     * `tbdaqd -t`, `tbdaq check` and the daemon's start show them
     * (config_warnings_log()). */
    char **warnings;
    size_t nwarnings;
};

/* The errors of one load, each one line "file:line: message". */
struct config_errors {
    char **v;
    size_t n;
    size_t cap;
};

/*
 * Reads, parses and validates path. Returns the config (free it with
 * config_free()), or NULL when there was any error; then every error is in
 * errs (which the caller initialises to all zeros and releases with
 * config_errors_release()). Errors that have no line (the file cannot be
 * read) are "file: message".
 */
struct config *config_load(const char *path, struct config_errors *errs);
/* Frees c and everything it holds; c may be NULL. */
void config_free(struct config *c);
/* config_load(), logging each error with log_err(); NULL on any error. */
struct config *config_load_logged(const char *path);
/* Frees the messages in errs and leaves it empty, ready for reuse. */
void config_errors_release(struct config_errors *errs);
/* Logs each of c's warnings with log_warnx(); returns how many. */
size_t config_warnings_log(const struct config *c);

/* True if a and b publish the same way: same site and mqtt settings. */
bool config_mqtt_equal(const struct config *a, const struct config *b);

/* True if a and b publish Sparkplug B the same way: same site (the
 * default edge node) and sparkplug settings. */
bool config_sparkplug_equal(const struct config *a, const struct config *b);

/* The bus of a sensor, by index; returns SIZE_MAX if none is so named. */
size_t config_find_bus(const struct config *c, const char *name);

#endif
