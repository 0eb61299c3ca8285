// SPDX-License-Identifier: MIT
/*
 * Commissioning warnings: the mistakes that parse (SPEC, Configuration).
 * A config that loaded without error may still name register 40017 of a
 * manual where address 16 was meant, unit 0 on TCP, or a file or serial
 * device the daemon will fail to open. Each is warned about at the line
 * of its setting and never fails the load: the operator may know better
 * (a device that does map a value at address 40017, a file that appears
 * at boot, a check run as another user than the daemon's).
 *
 * Runs on a config without errors only, so every index and name below is
 * valid; the lines come from libconfig's tree.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/config_private.h"

/* The register-number notation of many manuals: a table's digit, then the
 * register counted from 1 (40001 is holding register address 0). SPEC
 * names the two ranges of the register tables; those of coils (00001..)
 * and discrete inputs (10001..) are ordinary addresses too often to
 * warn about. */
#define NOTATION_INPUT_FIRST 30001
#define NOTATION_HOLDING_FIRST 40001
#define NOTATION_SPAN 9999

/* The table the notation names for address, or -1 if it names none. */
static int notation_table(int address, int *first)
{
    if (address >= NOTATION_INPUT_FIRST &&
        address < NOTATION_INPUT_FIRST + NOTATION_SPAN) {
        *first = NOTATION_INPUT_FIRST;
        return TABLE_INPUT;
    }
    if (address >= NOTATION_HOLDING_FIRST &&
        address < NOTATION_HOLDING_FIRST + NOTATION_SPAN) {
        *first = NOTATION_HOLDING_FIRST;
        return TABLE_HOLDING;
    }
    return -1;
}

static void config_warn_address(struct loader *ld,
                                const config_setting_t *entry,
                                const struct sensor_conf *s)
{
    int first, table = notation_table(s->address, &first);
    char also[64] = "";

    if (table < 0)
        return;
    if (s->table != (enum reg_table)table)
        snprintf(also, sizeof(also), " and table = \"%s\"",
                 reg_table_name((enum reg_table)table));
    loader_warning(ld, config_setting_get_member(entry, "address"),
                   "address %d in sensor '%s' looks like register-number "
                   "notation (one off, with the table's prefix: %dxxxx is "
                   "%s register %d counted from 1): if so, use address = "
                   "%d%s",
                   s->address, s->id, first / 10000,
                   reg_table_name((enum reg_table)table),
                   s->address - first + 1, s->address - first, also);
}

static void config_warn_sensors(struct loader *ld, const config_setting_t *list)
{
    const struct config *c = ld->c;

    for (size_t i = 0; i < c->nsensors; i++) {
        const struct sensor_conf *s = &c->sensors[i];
        const config_setting_t *e = config_setting_get_elem(list, (int)i);
        const struct bus_conf *b = &c->buses[s->bus];

        config_warn_address(ld, e, s);
        if (s->unit_id == 0 && b->params.type == BUS_TCP)
            loader_warning(
                ld, config_setting_get_member(e, "unit_id"),
                "unit_id 0 in sensor '%s' on tcp bus '%s': a gateway "
                "passes 0 on as broadcast, which no device answers (use "
                "the device's own unit id)",
                s->id, b->name);
    }
}

/* Warns if the file that setting s names cannot be read now. */
static void config_warn_file(struct loader *ld, const config_setting_t *s,
                             const char *what)
{
    const char *path;

    if (!s || config_setting_type(s) != CONFIG_TYPE_STRING)
        return;
    path = config_setting_get_string(s);
    if (access(path, R_OK) < 0)
        loader_warning(ld, s, "%s '%s' cannot be read now: %s", what, path,
                       strerror(errno));
}

static void config_warn_mqtt(struct loader *ld, const config_setting_t *mqtt)
{
    static const char *const tls_keys[] = {"ca_file", "cert_file", "key_file"};
    const config_setting_t *tls = config_setting_get_member(mqtt, "tls");

    config_warn_file(ld, config_setting_get_member(mqtt, "password_file"),
                     "password_file");
    for (size_t i = 0; tls && i < sizeof(tls_keys) / sizeof(tls_keys[0]); i++)
        config_warn_file(ld, config_setting_get_member(tls, tls_keys[i]),
                         tls_keys[i]);
}

/* A serial line is opened for reading and writing. */
static void config_warn_devices(struct loader *ld, const config_setting_t *list)
{
    const struct config *c = ld->c;

    for (size_t i = 0; i < c->nbuses; i++) {
        const struct bus_conf *b = &c->buses[i];
        const config_setting_t *e = config_setting_get_elem(list, (int)i);

        if (b->params.type != BUS_RTU ||
            access(b->params.device, R_OK | W_OK) == 0)
            continue;
        loader_warning(ld, config_setting_get_member(e, "device"),
                       "device '%s' of bus '%s' cannot be opened now: %s",
                       b->params.device, b->name, strerror(errno));
    }
}

void config_warn(struct loader *ld, const config_setting_t *root)
{
    const config_setting_t *mqtt = config_setting_get_member(root, "mqtt");
    const config_setting_t *spb = config_setting_get_member(root, "sparkplug");

    if (mqtt)
        config_warn_mqtt(ld, mqtt);
    /* The same keys for the same broker files. */
    if (spb)
        config_warn_mqtt(ld, spb);
    config_warn_devices(ld, config_setting_get_member(root, "buses"));
    config_warn_sensors(ld, config_setting_get_member(root, "sensors"));
}
