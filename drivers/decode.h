/* SPDX-License-Identifier: MIT */
/*
 * Register decoding: Modbus register words to a number, for every data type
 * and byte order of SPEC, then scale and offset, then a quality.
 *
 * Byte orders name the value's bytes from most significant (A) to least, in
 * the order they arrive on the wire, the first register's high byte first.
 * Pure functions, thread-safe, no allocation.
 */
#ifndef TBDAQ_DECODE_H
#define TBDAQ_DECODE_H

#include <stddef.h>
#include <stdint.h>

enum reg_type {
    REG_INT16,
    REG_UINT16,
    REG_INT32,
    REG_UINT32,
    REG_FLOAT32,
    REG_FLOAT64,
};

enum byte_order {
    BO_AB,
    BO_BA,
    BO_ABCD,
    BO_CDAB,
    BO_BADC,
    BO_DCBA,
    BO_ABCDEFGH,
    BO_GHEFCDAB,
    BO_BADCFEHG,
    BO_HGFEDCBA,
};

enum reg_table {
    TABLE_HOLDING, /* function 3 */
    TABLE_INPUT,   /* function 4 */
};

/* The most registers one value occupies (float64). */
#define REG_MAX_WORDS 4

/* Parse a config name; return 0, or -1 if it names nothing known. */
int reg_type_parse(const char *name, enum reg_type *out);
int reg_table_parse(const char *name, enum reg_table *out);
/* Parses an order name and checks that it fits the type's width; returns
 * 0, -1 if unknown, -2 if known but for another width (e.g. "BA" with
 * float32). */
int byte_order_parse(const char *name, enum reg_type type,
                     enum byte_order *out);

const char *reg_type_name(enum reg_type type);
const char *reg_table_name(enum reg_table table);
const char *byte_order_name(enum byte_order order);
/* The Modbus function code reading the table: 3 or 4. */
int reg_table_function(enum reg_table table);
/* How many 16-bit registers a value of this type occupies: 1, 2 or 4. */
unsigned reg_type_words(enum reg_type type);
/* The default order for a type: AB, ABCD or ABCDEFGH. */
enum byte_order byte_order_default(enum reg_type type);

/*
 * Decodes the reg_type_words(type) registers at regs into the raw number
 * (before scale and offset). The order must fit the type; the result is
 * exact for every integer type, and NaN or infinite only for a float type
 * whose bits say so.
 */
double decode_raw(enum reg_type type, enum byte_order order,
                  const uint16_t *regs);

enum quality {
    QUALITY_GOOD,
    QUALITY_OUT_OF_RANGE,
    QUALITY_INVALID,
    QUALITY_COMM_ERROR,
    /* The slot passed with no request (the bus was still busy, or the
     * daemon could not keep up): no value, an error saying why, and the
     * slot's time as the reading's time. */
    QUALITY_MISSED,
};

const char *quality_name(enum quality q);

/*
 * The quality of a decoded, scaled value: INVALID if NaN or infinite,
 * OUT_OF_RANGE if outside [lo, hi] (either bound may be infinite), else
 * GOOD.
 */
enum quality quality_judge(double value, double lo, double hi);

#endif
