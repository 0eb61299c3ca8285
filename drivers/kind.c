/* SPDX-License-Identifier: MIT */
/*
 * Sensor kinds as one table: name, default unit and plausible range. A
 * reading outside the range is kept but marked out_of_range, so the ranges
 * are what the instrument can physically report, not process limits.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "drivers/kind.h"

struct kind_info {
    const char *name;
    const char *unit; /* NULL: the config must name one */
    double lo, hi;
};

/* Indexed by enum sensor_kind. */
static const struct kind_info kind_table[] = {
    /* Flow meters report volume flow; reverse flow is a fault here. */
    [KIND_FLOW] = {"flow", "m3/h", 0.0, INFINITY},
    /* Gauge pressure: -1 bar is full vacuum; 1000 bar bounds any
     * transmitter a water test-bed uses. */
    [KIND_PRESSURE] = {"pressure", "bar", -1.0, 1000.0},
    /* The upper end of the ISO 7027 nephelometric scale. */
    [KIND_TURBIDITY] = {"turbidity", "NTU", 0.0, 4000.0},
    [KIND_PH] = {"ph", "pH", 0.0, 14.0},
    [KIND_GENERIC] = {"generic", NULL, -INFINITY, INFINITY},
};

#define KIND_COUNT (sizeof(kind_table) / sizeof(kind_table[0]))

int kind_parse(const char *name, enum sensor_kind *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (strcmp(kind_table[i].name, name) == 0) {
            *out = (enum sensor_kind)i;
            return 0;
        }
    }
    return -1;
}

const char *kind_name(enum sensor_kind kind)
{
    if ((unsigned)kind >= KIND_COUNT)
        return "unknown";
    return kind_table[kind].name;
}

const char *kind_default_unit(enum sensor_kind kind)
{
    if ((unsigned)kind >= KIND_COUNT)
        return NULL;
    return kind_table[kind].unit;
}

void kind_default_range(enum sensor_kind kind, double *lo, double *hi)
{
    if ((unsigned)kind >= KIND_COUNT)
        kind = KIND_GENERIC;
    *lo = kind_table[kind].lo;
    *hi = kind_table[kind].hi;
}
