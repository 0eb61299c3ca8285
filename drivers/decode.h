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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum reg_type {
    REG_INT16,
    REG_UINT16,
    REG_INT32,
    REG_UINT32,
    REG_FLOAT32,
    REG_FLOAT64,
    REG_INT64,
    REG_UINT64,
    REG_BOOL, /* a coil or discrete input: one bit, 0 or 1 */
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
    TABLE_HOLDING,  /* function 3 */
    TABLE_INPUT,    /* function 4 */
    TABLE_COIL,     /* function 1: bits */
    TABLE_DISCRETE, /* function 2: bits */
};

/* The most registers one value occupies (float64, int64, uint64). */
#define REG_MAX_WORDS 4

/* Parse a config name; return 0, or -1 if it names nothing known. */
int reg_type_parse(const char *name, enum reg_type *out);
int reg_table_parse(const char *name, enum reg_table *out);
/* Parses an order name and checks that it fits the type's width; returns
 * 0, -1 if unknown, -2 if known but for another width (e.g. "BA" with
 * float32). */
int byte_order_parse(const char *name, enum reg_type type,
                     enum byte_order *out);

/* Names are static strings; "unknown" for a value outside the enum. */
const char *reg_type_name(enum reg_type type);
const char *reg_table_name(enum reg_table table);
const char *byte_order_name(enum byte_order order);
/* The Modbus function code reading the table: 1, 2, 3 or 4. */
int reg_table_function(enum reg_table table);
/* True for the tables of bits (coils, discrete inputs): read one bit per
 * address, each given as a word 0 or 1 (drivers/bus.h), of type bool. */
bool reg_table_bits(enum reg_table table);
/* How many 16-bit registers a value of this type occupies: 1, 2 or 4
 * (a bool: one bit, given as one word). */
unsigned reg_type_words(enum reg_type type);
/* The default order for a type: AB, ABCD or ABCDEFGH. */
enum byte_order byte_order_default(enum reg_type type);

/* The value's bits, its most significant byte first, from the
 * registers at regs (as many as the order's width) in order: what
 * decode_raw() reads, for a caller that wants the exact integer of a
 * 64-bit type. 0 for an unknown order. */
uint64_t decode_bits(enum byte_order order, const uint16_t *regs);

/*
 * Decodes the reg_type_words(type) registers at regs into the raw number
 * (before scale and offset). The order must fit the type; the result is
 * exact for every integer type up to 2^53 in magnitude (an int64 or
 * uint64 beyond is the nearest double: the raw words keep the exact
 * value), NaN or infinite only for a float type whose bits say so; a
 * bool is 1 for any word but 0.
 */
double decode_raw(enum reg_type type, enum byte_order order,
                  const uint16_t *regs);

/* The most significant bit a `bit` sensor may name: one register. */
#define DECODE_BIT_MAX 15

/*
 * Bit `bit` (0..DECODE_BIT_MAX, 0 the least significant) of the int16 or
 * uint16 at regs[0], taken after its byte order: 0 or 1. NaN for another
 * type, an order that does not fit or a bit out of range (a caller's
 * bug, as in decode_raw()).
 */
double decode_bit(enum reg_type type, enum byte_order order,
                  const uint16_t *regs, int bit);

/*
 * Value rounding (SPEC, Configuration): what decode_value() stores.
 *
 * The decimals of a finite number are the digits after the point of its
 * shortest round-trip decimal, the fewest significant digits that strtod()
 * reads back as the same double: 0.01 -> 2, 0.1 -> 1, 1 -> 0, 2.5 -> 1,
 * 1e-7 -> 7, 1000 -> 0. A config's "0.3" is the double nearest 0.3, whose
 * shortest form is 0.3: 1 decimal (0.1 + 0.2 computed would have 17).
 * Scale and offset stand for those shortest decimals, Sd and Od.
 *
 * - Integer types: the exact decimal raw x Sd + Od, which has
 *   max(decimals(scale), decimals(offset)) decimals, so rounding it to
 *   them changes nothing: no binary noise can get in, and no halfway case
 *   arises. 326 x 0.01 is 3.26, not 3.2600000000000002.
 * - float32: the raw float is first its shortest decimal that strtof()
 *   reads back as the same float (at most 9 significant digits: 47.3, not
 *   47.29999923706055; 1e-45 for the least denormal; 3.4028235e38 for
 *   FLT_MAX; of two as short, the nearer, and of two as near, the even
 *   one, as printf rounds: 1539213.25 is 1539213.2). That decimal times Sd
 *   is rounded, half away from zero, to 9 significant digits if it has
 *   more (the float holds no more: 1.5 x 1.00000001 is 1.50000002, 2.5 x
 *   1.00000001 is 2.50000003), then Od is added exactly.
 * - float64: the same with the double's shortest decimal (at most 17
 *   significant digits) and a cap of 17: 0.1 x 3 is 0.3. With scale 1 and
 *   offset 0 a double is stored as it came.
 *
 * The stored double is the one nearest that exact decimal (as strtod()
 * would read it), so the shortest formatter (fmt_double) prints the
 * decimal itself. A zero result is +0. Only when the two terms are more
 * than 37 digits apart (a raw of 1e-45 with an offset of 5) is the
 * smaller term added in double arithmetic instead, within one unit in the
 * last place of the exact result. The raw words are not touched.
 *
 * Integer raws are exact below 2^53; a wider raw (an int64 or uint64 type)
 * must reach decode_value() as the double nearest it, and the rule applies
 * to that double.
 */

/*
 * The value stored for raw, a decode_raw() result of type: raw x scale +
 * offset by the rule above. A raw, scale or offset that is NaN or infinite
 * gives raw * scale + offset in plain arithmetic (NaN or infinite, which
 * quality_judge() calls invalid). Cheap enough for every reading (about
 * 40 to 120 ns; unit test test_round_speed prints it): no allocation,
 * no locale; printf()/strtod() only for a float32 needing more than 12
 * decimals (below about 1e-4) or above 1e18, a double of 16 or 17
 * significant digits, and a result of more than 2^53 units in its last
 * decimal.
 */
double decode_value(enum reg_type type, double raw, double scale,
                    double offset);

/*
 * A scale and offset with their shortest decimals worked out once (the
 * search costs 15 to 80 ns per reading otherwise): a sensor's config can
 * hold one, filled by decode_scaling_init() when the config is built.
 * Plain data: copy it freely; the fields are decode.c's.
 */
struct decode_scaling {
    double scale, offset;
    int scale_e, offset_e;
    int64_t scale_m, offset_m;
    bool finite;
};

void decode_scaling_init(struct decode_scaling *sc, double scale,
                         double offset);
/* decode_value(type, raw, scale, offset) for sc's scale and offset. */
double decode_value_scaled(enum reg_type type, double raw,
                           const struct decode_scaling *sc);

/* The decimals of x by the rule above; 0 for 0 and for NaN or infinity. */
int decode_decimals(double x);

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

/* "good", "out_of_range", ...: a static string; "unknown" for a value
 * outside the enum. */
const char *quality_name(enum quality q);

/*
 * The quality of a decoded, scaled value: INVALID if NaN or infinite,
 * OUT_OF_RANGE if outside [lo, hi] (either bound may be infinite), else
 * GOOD.
 */
enum quality quality_judge(double value, double lo, double hi);

#endif
