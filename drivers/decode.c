/* SPDX-License-Identifier: MIT */
/*
 * Register decoding. A byte order is kept as its name: the letter at wire
 * position i says which byte of the value (A = most significant) arrived
 * i-th. Decoding gathers the wire bytes, places each by its letter into a
 * big-endian integer and reinterprets that integer as the type, so every
 * order of every width goes through one code path.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "drivers/decode.h"

struct decode_name {
    const char *name;
    int value;
};

static const struct decode_name decode_types[] = {
    {"int16", REG_INT16},   {"uint16", REG_UINT16},   {"int32", REG_INT32},
    {"uint32", REG_UINT32}, {"float32", REG_FLOAT32}, {"float64", REG_FLOAT64},
};

static const struct decode_name decode_tables[] = {
    {"holding", TABLE_HOLDING},
    {"input", TABLE_INPUT},
};

/* Indexed by enum byte_order; the name's length is twice the words. */
static const char *const decode_orders[] = {
    [BO_AB] = "AB",
    [BO_BA] = "BA",
    [BO_ABCD] = "ABCD",
    [BO_CDAB] = "CDAB",
    [BO_BADC] = "BADC",
    [BO_DCBA] = "DCBA",
    [BO_ABCDEFGH] = "ABCDEFGH",
    [BO_GHEFCDAB] = "GHEFCDAB",
    [BO_BADCFEHG] = "BADCFEHG",
    [BO_HGFEDCBA] = "HGFEDCBA",
};

#define DECODE_NORDERS (sizeof(decode_orders) / sizeof(decode_orders[0]))

static const char *const decode_qualities[] = {
    [QUALITY_GOOD] = "good",
    [QUALITY_OUT_OF_RANGE] = "out_of_range",
    [QUALITY_INVALID] = "invalid",
    [QUALITY_COMM_ERROR] = "comm_error",
    [QUALITY_MISSED] = "missed",
};

/* Returned for an enum value outside its range: a caller's bug, but text
 * is safer than NULL in a log line. */
static const char decode_unknown[] = "unknown";

static int decode_lookup(const struct decode_name *names, size_t n,
                         const char *name, int *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i].name, name) == 0) {
            *out = names[i].value;
            return 0;
        }
    }
    return -1;
}

static const char *decode_rlookup(const struct decode_name *names, size_t n,
                                  int value)
{
    for (size_t i = 0; i < n; i++)
        if (names[i].value == value)
            return names[i].name;
    return decode_unknown;
}

int reg_type_parse(const char *name, enum reg_type *out)
{
    int v;

    if (decode_lookup(decode_types,
                      sizeof(decode_types) / sizeof(decode_types[0]), name,
                      &v) < 0)
        return -1;
    *out = (enum reg_type)v;
    return 0;
}

int reg_table_parse(const char *name, enum reg_table *out)
{
    int v;

    if (decode_lookup(decode_tables,
                      sizeof(decode_tables) / sizeof(decode_tables[0]), name,
                      &v) < 0)
        return -1;
    *out = (enum reg_table)v;
    return 0;
}

const char *reg_type_name(enum reg_type type)
{
    return decode_rlookup(decode_types,
                          sizeof(decode_types) / sizeof(decode_types[0]),
                          (int)type);
}

const char *reg_table_name(enum reg_table table)
{
    return decode_rlookup(decode_tables,
                          sizeof(decode_tables) / sizeof(decode_tables[0]),
                          (int)table);
}

/* Words an order covers: half its name's length. */
static unsigned byte_order_words(enum byte_order order)
{
    return (unsigned)strlen(decode_orders[order]) / 2;
}

int byte_order_parse(const char *name, enum reg_type type, enum byte_order *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < DECODE_NORDERS; i++) {
        if (strcmp(decode_orders[i], name) != 0)
            continue;
        if (byte_order_words((enum byte_order)i) != reg_type_words(type))
            return -2;
        *out = (enum byte_order)i;
        return 0;
    }
    return -1;
}

const char *byte_order_name(enum byte_order order)
{
    if ((unsigned)order >= DECODE_NORDERS)
        return decode_unknown;
    return decode_orders[order];
}

int reg_table_function(enum reg_table table)
{
    return table == TABLE_INPUT ? 4 : 3;
}

unsigned reg_type_words(enum reg_type type)
{
    switch (type) {
    case REG_INT16:
    case REG_UINT16:
        return 1;
    case REG_INT32:
    case REG_UINT32:
    case REG_FLOAT32:
        return 2;
    case REG_FLOAT64:
        return 4;
    }
    return 1;
}

enum byte_order byte_order_default(enum reg_type type)
{
    switch (reg_type_words(type)) {
    case 1:
        return BO_AB;
    case 2:
        return BO_ABCD;
    default:
        return BO_ABCDEFGH;
    }
}

/* Two's complement by arithmetic, not by conversion of an out-of-range
 * unsigned value, whose result C leaves to the implementation. */
static double decode_signed(uint64_t u, unsigned bits)
{
    uint64_t sign = UINT64_C(1) << (bits - 1);

    if (u & sign)
        return -(double)((sign << 1) - u);
    return (double)u;
}

double decode_raw(enum reg_type type, enum byte_order order,
                  const uint16_t *regs)
{
    unsigned words = reg_type_words(type);
    unsigned nbytes = 2 * words;
    uint64_t u = 0;

    /* A mismatch is the caller's bug; NaN makes it an invalid reading
     * rather than a plausible wrong number. */
    if ((unsigned)order >= DECODE_NORDERS || byte_order_words(order) != words)
        return NAN;

    const char *letters = decode_orders[order];
    for (unsigned i = 0; i < nbytes; i++) {
        uint16_t w = regs[i / 2];
        uint64_t byte =
            (i % 2 == 0) ? (uint64_t)(w >> 8) : (uint64_t)(w & 0xff);
        unsigned significance = (unsigned)(letters[i] - 'A');

        u |= byte << (8 * (nbytes - 1 - significance));
    }

    switch (type) {
    case REG_INT16:
        return decode_signed(u, 16);
    case REG_UINT16:
    case REG_UINT32:
        return (double)u;
    case REG_INT32:
        return decode_signed(u, 32);
    case REG_FLOAT32: {
        uint32_t bits = (uint32_t)u;
        float f;

        memcpy(&f, &bits, sizeof(f));
        return (double)f;
    }
    case REG_FLOAT64: {
        double d;

        memcpy(&d, &u, sizeof(d));
        return d;
    }
    }
    return NAN;
}

const char *quality_name(enum quality q)
{
    if ((unsigned)q >= sizeof(decode_qualities) / sizeof(decode_qualities[0]))
        return decode_unknown;
    return decode_qualities[q];
}

enum quality quality_judge(double value, double lo, double hi)
{
    if (isnan(value) || isinf(value))
        return QUALITY_INVALID;
    if (value < lo || value > hi)
        return QUALITY_OUT_OF_RANGE;
    return QUALITY_GOOD;
}
