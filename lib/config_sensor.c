// SPDX-License-Identifier: MIT
/*
 * The sensors list: each sensor checked against its table, then what a
 * table cannot say. Its quantity (kind, unit, range, with the kind's
 * defaults), its registers (a bus that exists, a unit id the bus can
 * address, a table, a type that fits the table, bool on the tables of
 * bits, a byte order that fits the type, in any letter case, a `bit` only
 * of a 16-bit register, an address range inside the register space), its
 * scale (never 0; none at all for a bit or a bool), and its calibration
 * (real dates, due not before done). Across sensors: ids are unique, and
 * no two sensors read overlapping registers as different things (bit
 * sensors of one register read it as the same thing).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/util.h"
#include "lib/config_private.h"

/* Long enough for every list of names a message offers. */
#define NAMES_MAX 128

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

/* Writes "a, b, c or d" of the names name(0..n-1) that keep(i) allows. */
static void names_join(char *buf, size_t size, const char *(*name)(int), int n,
                       bool (*keep)(int, int), int arg)
{
    size_t total = 0, done = 0, len = 0;

    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        total += !keep || keep(i, arg);
    for (int i = 0; i < n; i++) {
        if (keep && !keep(i, arg))
            continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s",
                                names_sep(done, total), name(i));
        done++;
        if (len >= size)
            break;
    }
}

static const char *names_kind(int i)
{
    return kind_name((enum sensor_kind)i);
}

/* The types in the order a message offers them: by width, then bool. */
static const enum reg_type types_shown[] = {
    REG_INT16,  REG_UINT16,  REG_INT32,   REG_UINT32, REG_INT64,
    REG_UINT64, REG_FLOAT32, REG_FLOAT64, REG_BOOL,
};
#define NTYPES (sizeof(types_shown) / sizeof(types_shown[0]))

static const char *names_type(int i)
{
    return reg_type_name(types_shown[i]);
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

/* ---- sensors ---- */

static void config_calibration_read(struct loader *ld,
                                    const config_setting_t *self,
                                    struct calibration *cal, const char *label)
{
    char in[GROUP_LABEL_MAX];
    struct group g;

    snprintf(in, sizeof(in), "calibration of %s", label);
    group_read(ld, &g, self, GROUP_CALIBRATION, in);
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
        if (!text_is_clean(s->unit, SIZE_MAX) || strpbrk(s->unit, "\"\\"))
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

/* The bus and unit of a sensor; returns true if both are usable. */
static bool config_sensor_read_unit(struct loader *ld, const struct group *g,
                                    struct sensor_conf *s, const char *label)
{
    struct config *c = ld->c;
    enum bus_type type;

    s->unit_id = (int)group_int(g, SK_UNIT_ID);
    if (!group_has(g, SK_BUS))
        return false;
    s->bus = config_find_bus(c, group_str(g, SK_BUS));
    if (s->bus == SIZE_MAX) {
        /* A bus rejected for another reason keeps its name, so this only
         * fires for a name no bus has. With no buses, or one without a
         * name, the cause was reported already. */
        if (c->nbuses > 0 && !ld->bus_unnamed)
            loader_error(ld, g->set[SK_BUS], "unknown bus '%s'",
                         group_str(g, SK_BUS));
        return false;
    }
    if (!ld->bus_ok[s->bus] || !group_ok(g, SK_UNIT_ID))
        return false;
    /* On a serial line, RTU over TCP included, 0 is broadcast: no device
     * answers it. On TCP it is only suspect (config_warn.c). */
    type = c->buses[s->bus].params.type;
    if (type != BUS_TCP && s->unit_id == 0) {
        loader_error(ld, group_at(g, SK_UNIT_ID),
                     "unit_id 0 in %s is broadcast on %s bus '%s' (use "
                     "1..%d)",
                     label, type == BUS_RTU ? "rtu" : "rtu-over-tcp",
                     c->buses[s->bus].name, CONFIG_UNIT_ID_MAX);
        return false;
    }
    return true;
}

/* The table of a sensor; returns true if it is known. */
static bool config_sensor_read_table(struct loader *ld, const struct group *g,
                                     struct sensor_conf *s)
{
    if (!group_ok(g, SK_TABLE))
        return false;
    if (reg_table_parse(group_str(g, SK_TABLE), &s->table) == 0)
        return true;
    loader_error(ld, group_at(g, SK_TABLE),
                 "unknown table '%s' (use holding, input, coil or discrete)",
                 group_str(g, SK_TABLE));
    return false;
}

/* The type of a sensor on its table (table_ok: the table is known);
 * returns true if the type is known and fits it. */
static bool config_sensor_read_type(struct loader *ld, const struct group *g,
                                    struct sensor_conf *s, bool table_ok,
                                    const char *label)
{
    bool bits = table_ok && reg_table_bits(s->table);
    const char *type = group_str(g, SK_TYPE);

    if (!group_has(g, SK_TYPE)) {
        if (bits) {
            s->type = REG_BOOL;
            return true;
        }
        if (table_ok && !g->bad[SK_TYPE])
            loader_error(ld, g->self, "missing 'type' in %s", label);
        return false;
    }
    if (reg_type_parse(type, &s->type) < 0) {
        char names[NAMES_MAX];

        names_join(names, sizeof(names), names_type, (int)NTYPES, NULL, 0);
        loader_error(ld, g->set[SK_TYPE], "unknown type '%s' (use %s)", type,
                     names);
        return false;
    }
    if (bits && s->type != REG_BOOL) {
        loader_error(ld, g->set[SK_TYPE],
                     "type '%s' does not fit table '%s': coils and discrete "
                     "inputs are bool (the default)",
                     type, reg_table_name(s->table));
        return false;
    }
    if (table_ok && !bits && s->type == REG_BOOL) {
        loader_error(ld, g->set[SK_TYPE],
                     "type 'bool' is for coils and discrete inputs, not "
                     "table '%s' (one bit of a register: type uint16 and "
                     "'bit')",
                     reg_table_name(s->table));
        return false;
    }
    return table_ok || s->type != REG_BOOL;
}

/* The byte order of a sensor of a known type, in any letter case. */
static void config_sensor_read_order(struct loader *ld, const struct group *g,
                                     struct sensor_conf *s)
{
    const char *order = group_str(g, SK_BYTE_ORDER);
    char upper[WORD_MAX + 1], names[NAMES_MAX];
    size_t i;
    int r;

    s->order = byte_order_default(s->type);
    if (!group_has(g, SK_BYTE_ORDER))
        return;
    if (s->type == REG_BOOL) {
        loader_error(ld, g->set[SK_BYTE_ORDER],
                     "'byte_order'%s does not go with type bool (one bit "
                     "has no byte order)",
                     g->in);
        return;
    }
    /* The table bounds the length by WORD_MAX. */
    for (i = 0; order[i] && i < WORD_MAX; i++)
        upper[i] = (char)toupper((unsigned char)order[i]);
    upper[i] = '\0';
    r = byte_order_parse(upper, s->type, &s->order);
    if (r == 0)
        return;
    names_join(names, sizeof(names), names_order, BO_HGFEDCBA + 1,
               names_order_fits, (int)s->type);
    if (r == -2)
        loader_error(ld, g->set[SK_BYTE_ORDER],
                     "byte order '%s' does not fit %s (use %s)", order,
                     reg_type_name(s->type), names);
    else
        loader_error(ld, g->set[SK_BYTE_ORDER],
                     "unknown byte order '%s' (use %s for %s)", order, names,
                     reg_type_name(s->type));
}

/* The bit of a sensor of a known type, if given. */
static void config_sensor_read_bit(struct loader *ld, const struct group *g,
                                   struct sensor_conf *s)
{
    if (!group_has(g, SK_BIT))
        return;
    if (s->type != REG_INT16 && s->type != REG_UINT16) {
        loader_error(ld, g->set[SK_BIT],
                     "'bit'%s needs type int16 or uint16, not %s", g->in,
                     reg_type_name(s->type));
        return;
    }
    s->has_bit = true;
    s->bit = (int)group_int(g, SK_BIT);
}

/*
 * The registers of a sensor. Returns true if the overlap check may use
 * them; *type_ok says whether its type (and so its bit) is known.
 */
static bool config_sensor_read_registers(struct loader *ld,
                                         const struct group *g,
                                         struct sensor_conf *s,
                                         const char *label, bool *type_ok)
{
    bool ok = config_sensor_read_unit(ld, g, s, label);
    bool table_ok = config_sensor_read_table(ld, g, s);

    ok = ok && table_ok && group_has(g, SK_ADDRESS);
    s->address = (int)group_int(g, SK_ADDRESS);
    *type_ok = config_sensor_read_type(ld, g, s, table_ok, label);
    if (!*type_ok)
        return false;
    config_sensor_read_order(ld, g, s);
    config_sensor_read_bit(ld, g, s);
    if (group_has(g, SK_ADDRESS) &&
        s->address + (int)reg_type_words(s->type) - 1 > CONFIG_ADDRESS_MAX) {
        loader_error(ld, g->set[SK_ADDRESS],
                     "%s at address %d runs past register %d", label,
                     s->address, CONFIG_ADDRESS_MAX);
        ok = false;
    }
    return ok;
}

/* Scale and offset: never 0 for a scale, and neither (not even a neutral
 * one) for a bit or a bool, whose value is 0 or 1. */
static void config_sensor_read_scaling(struct loader *ld, const struct group *g,
                                       struct sensor_conf *s, bool type_ok,
                                       const char *label)
{
    static const size_t keys[] = {SK_SCALE, SK_OFFSET};
    bool one_bit = type_ok && (s->has_bit || s->type == REG_BOOL);

    s->scale = group_float(g, SK_SCALE);
    s->offset = group_float(g, SK_OFFSET);
    for (size_t i = 0; one_bit && i < sizeof(keys) / sizeof(keys[0]); i++)
        if (group_has(g, keys[i]))
            loader_error(ld, g->set[keys[i]],
                         "'%s' in %s does not go with %s (the value is 0 or "
                         "1)",
                         g->keys[keys[i]].name, label,
                         s->has_bit ? "'bit'" : "type bool");
    if (one_bit) {
        s->scale = 1.0;
        s->offset = 0.0;
    } else if (group_has(g, SK_SCALE) && s->scale == 0.0) {
        loader_error(ld, g->set[SK_SCALE], "'scale' in %s must not be 0",
                     label);
    }
}

static void config_sensor_read(struct loader *ld, const config_setting_t *self,
                               size_t i)
{
    struct sensor_conf *s = &ld->c->sensors[i];
    char label[ENTRY_LABEL_MAX];
    struct group g;
    bool type_ok;

    s->line = loader_line(self);
    s->bus = SIZE_MAX;
    entry_label(label, sizeof(label), self, "sensor", "id", i);
    group_read(ld, &g, self, GROUP_SENSOR, label);
    s->id = entry_name(ld, &g, SK_ID, "sensor id");
    config_sensor_read_quantity(ld, &g, s, label);
    ld->regs_ok[i] = config_sensor_read_registers(ld, &g, s, label, &type_ok);
    config_sensor_read_scaling(ld, &g, s, type_ok, label);
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

void config_sensors_read(struct loader *ld, const config_setting_t *list)
{
    struct config *c = ld->c;
    size_t n = entries_count(ld, list, "sensors");

    if (n == 0)
        return;
    c->sensors = xcalloc(n, sizeof(*c->sensors));
    ld->regs_ok = xcalloc(n, sizeof(*ld->regs_ok));
    c->nsensors = n;
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *e = entry_group(ld, list, "sensor", i);

        c->sensors[i].bus = SIZE_MAX;
        if (e) {
            config_sensor_read(ld, e, i);
        } else {
            /* Never NULL, even in a config about to be rejected. */
            c->sensors[i].unit = xstrdup("");
        }
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
