/* SPDX-License-Identifier: MIT */
/*
 * Register decoding. A byte order is kept as its name: the letter at wire
 * position i says which byte of the value (A = most significant) arrived
 * i-th. Decoding gathers the wire bytes, places each by its letter into a
 * big-endian integer and reinterprets that integer as the type, so every
 * order of every width goes through one code path.
 *
 * Value rounding works on exact decimals m x 10^e held in 128-bit
 * integers. Shortest decimals come from double arithmetic where that is
 * provably exact (a candidate of p digits is one correctly rounded
 * multiplication or division away from its double), from printf("%.*e")
 * and strtod() elsewhere. The result is one correctly rounded operation
 * when its digits fit a double's integers and its exponent 10^22, strtod()
 * of the digits otherwise.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/decode.h"
#include "common/pow10.h"

struct decode_name {
    const char *name;
    int value;
};

static const struct decode_name decode_types[] = {
    {"int16", REG_INT16},   {"uint16", REG_UINT16},   {"int32", REG_INT32},
    {"uint32", REG_UINT32}, {"float32", REG_FLOAT32}, {"float64", REG_FLOAT64},
    {"int64", REG_INT64},   {"uint64", REG_UINT64},   {"bool", REG_BOOL},
};

static const struct decode_name decode_tables[] = {
    {"holding", TABLE_HOLDING},
    {"input", TABLE_INPUT},
    {"coil", TABLE_COIL},
    {"discrete", TABLE_DISCRETE},
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
    [QUALITY_GOOD] = "good",       [QUALITY_OUT_OF_RANGE] = "out_of_range",
    [QUALITY_INVALID] = "invalid", [QUALITY_COMM_ERROR] = "comm_error",
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
    switch (table) {
    case TABLE_COIL:
        return 1;
    case TABLE_DISCRETE:
        return 2;
    case TABLE_INPUT:
        return 4;
    case TABLE_HOLDING:
        break;
    }
    return 3;
}

bool reg_table_bits(enum reg_table table)
{
    return table == TABLE_COIL || table == TABLE_DISCRETE;
}

unsigned reg_type_words(enum reg_type type)
{
    switch (type) {
    case REG_INT16:
    case REG_UINT16:
    case REG_BOOL:
        return 1;
    case REG_INT32:
    case REG_UINT32:
    case REG_FLOAT32:
        return 2;
    case REG_FLOAT64:
    case REG_INT64:
    case REG_UINT64:
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

uint64_t decode_bits(enum byte_order order, const uint16_t *regs)
{
    unsigned nbytes;
    uint64_t u = 0;

    if ((unsigned)order >= DECODE_NORDERS)
        return 0;
    nbytes = 2 * byte_order_words(order);
    const char *letters = decode_orders[order];
    for (unsigned i = 0; i < nbytes; i++) {
        uint16_t w = regs[i / 2];
        uint64_t byte =
            (i % 2 == 0) ? (uint64_t)(w >> 8) : (uint64_t)(w & 0xff);
        unsigned significance = (unsigned)(letters[i] - 'A');

        u |= byte << (8 * (nbytes - 1 - significance));
    }
    return u;
}

double decode_raw(enum reg_type type, enum byte_order order,
                  const uint16_t *regs)
{
    unsigned words = reg_type_words(type);
    uint64_t u;

    /* A mismatch is the caller's bug; NaN makes it an invalid reading
     * rather than a plausible wrong number. */
    if ((unsigned)order >= DECODE_NORDERS || byte_order_words(order) != words)
        return NAN;
    u = decode_bits(order, regs);

    switch (type) {
    case REG_INT16:
        return decode_signed(u, 16);
    case REG_UINT16:
    case REG_UINT32:
    case REG_UINT64:
        return (double)u;
    case REG_INT32:
        return decode_signed(u, 32);
    case REG_INT64:
        return decode_signed(u, 64);
    case REG_BOOL:
        return u != 0;
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

double decode_bit(enum reg_type type, enum byte_order order,
                  const uint16_t *regs, int bit)
{
    double word;

    if ((type != REG_INT16 && type != REG_UINT16) || bit < 0 ||
        bit > DECODE_BIT_MAX)
        return NAN;
    /* The register's 16 bits as a number, whatever its sign. */
    word = decode_raw(REG_UINT16, order, regs);
    if (isnan(word))
        return NAN;
    return ((unsigned)word >> bit) & 1u;
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

/* 128-bit integers: GCC and Clang have them; __extension__ keeps
 * -Wpedantic quiet about it. */
__extension__ typedef __int128 decode_i128;
__extension__ typedef unsigned __int128 decode_u128;

/* The exact decimal m x 10^e. */
struct decode_dec {
    decode_i128 m;
    int e;
};

/* Integers below 2^53 are exact doubles. */
#define DECODE_EXACT_INT 9007199254740992.0
/* Significant digits that always tell a float32, and a double, apart from
 * its neighbours (FLT_DECIMAL_DIG, DBL_DECIMAL_DIG): the most a shortest
 * decimal has, and the cap on a scaled float. */
#define DECODE_FLT_DIGITS 9
#define DECODE_DBL_DIGITS 17
/* Digit counts of a double tried one by one before bisecting: 0.01,
 * 0.125, -40.5 and 273.15 are found in one to five tries. */
#define DECODE_DBL_LINEAR 5
/* Digits a decimal term may have: a sum of two stays below 2 x 10^37, well
 * inside an __int128 (1.7 x 10^38). An integer raw below 2^64 times a
 * 17-digit scale has at most 37. */
#define DECODE_TERM_DIGITS 37
/* The largest integer raw taken as an integer: 2^64 (what a uint64 near
 * its maximum becomes as a double). */
#define DECODE_INT_RAW_MAX 18446744073709551616.0
/*
 * A float32 candidate N x 10^-d, correctly rounded to a double c, reads
 * back as float f exactly when (float)c == f, i.e. the second rounding
 * cannot land on a float midpoint the decimal is not on: that holds for
 * N < 2^53 and d <= 12 (|decimal - midpoint| >= 1 / (2^25 x 5^d) relative,
 * more than a double's half ulp while 5^d < 2^28), and for d < 0 while the
 * float is below 10^18.
 */
#define DECODE_FLT_FAST_DECIMALS 12
#define DECODE_FLT_FAST_MAX 1e18
/* Room for a 39-digit integer, its sign and "e-1234". */
#define DECODE_TEXT_LEN 64

/* 10^k for 0 <= k <= 38. */
static decode_u128 decode_p10(int k)
{
    if (k <= 19)
        return pow10_u64[k];
    return (decode_u128)pow10_u64[19] * pow10_u64[k - 19];
}

static decode_u128 decode_abs(decode_i128 m)
{
    return m < 0 ? (decode_u128)0 - (decode_u128)m : (decode_u128)m;
}

/* The number of decimal digits of u > 0. */
static int decode_ndigits(decode_u128 u)
{
    int n = 1;

    while (n < 39 && u >= decode_p10(n))
        n++;
    return n;
}

/* Drops the trailing zeros of n x 10^e. */
static void decode_trim(uint64_t *n, int *e)
{
    while (*n != 0 && *n % 10 == 0) {
        *n /= 10;
        (*e)++;
    }
}

static bool decode_reads_back(double c, double a, bool isfloat)
{
    return isfloat ? (float)c == (float)a : c == a;
}

/* The value of N x 10^-d as a double, one correctly rounded operation:
 * N < 2^53 and |d| <= 22. */
static double decode_scaled(double n, int d)
{
    return d >= 0 ? n / pow10_exact[d] : n * pow10_exact[-d];
}

/* One shortest-decimal search: a (> 0, finite) read back as a double, or
 * as a float32 if isfloat (a is then a float's value). */
struct decode_short {
    double a;
    bool isfloat;
    /* a's mantissa is a power of two (not the least normal): its rounding
     * interval is half as wide below as above, so the decimal nearest a
     * may miss it while the one on the other side hits it */
    bool asym;
    /* a is in the range of decode_try_fast(), and x = floor(log10(a)) or
     * one more: a slip only shifts which digit counts are tried, and every
     * count is still tried once */
    bool fast;
    int x;
};

static void decode_short_init(struct decode_short *sh, double a, bool isfloat)
{
    uint64_t bits;
    int e2, k;

    memcpy(&bits, &a, sizeof(bits));
    /* a is in [2^(e2-1), 2^e2) */
    e2 = (int)((bits >> 52) & 0x7ff) - 1022;
    sh->a = a;
    sh->isfloat = isfloat;
    if (isfloat) {
        float f = (float)a;
        uint32_t fb;

        memcpy(&fb, &f, sizeof(fb));
        sh->asym = (fb & 0x7fffff) == 0 && (fb >> 23 & 0xff) > 1;
    } else {
        sh->asym =
            (bits & UINT64_C(0xfffffffffffff)) == 0 && (bits >> 52 & 0x7ff) > 1;
    }
    sh->fast = a >= 1e-22 && a < 1e22;
    sh->x = 0;
    if (!sh->fast)
        return;
    sh->x = (int)floor((e2 - 1) * 0.30102999566398120);
    k = sh->x + 1;
    /* a product that rounds is still monotonic: never "below" in error */
    if (k >= 0 ? a >= pow10_exact[k] : a * pow10_exact[-k] >= 1)
        sh->x++;
}

/*
 * Tries the decimals of a with d places (d < 0: a multiple of 10^-d) by
 * double arithmetic. Returns 1 and sets *n if one reads back, 0 if none
 * does, -1 if double arithmetic cannot tell exactly.
 */
static int decode_try_fast(const struct decode_short *sh, int d, uint64_t *n)
{
    double a = sh->a, t, lo, half, c;
    bool up;

    if (d > (sh->isfloat ? DECODE_FLT_FAST_DECIMALS : POW10_EXACT_MAX) ||
        d < -POW10_EXACT_MAX || (sh->isfloat && a >= DECODE_FLT_FAST_MAX))
        return -1;
    t = d >= 0 ? a * pow10_exact[d] : a / pow10_exact[-d];
    if (t + 1 >= DECODE_EXACT_INT)
        return -1;
    lo = (double)(uint64_t)t;
    half = t - lo - 0.5;
    up = half > 0;
    if (fabs(half) <= t * 0x1p-52) {
        /* Too near a half to trust the rounded t: the exact a x 10^d is t
         * plus the rounding error, which fma() gives exactly (the error of
         * a product, the remainder of a quotient). An exact tie goes to
         * the even neighbour, as printf's does. */
        double err = d >= 0 ? fma(a, pow10_exact[d], -t)
                            : fma(-t, pow10_exact[-d], a) / pow10_exact[-d];

        half += err;
        up = half > 0 || (half == 0 && ((uint64_t)lo & 1));
    }
    /* If the nearest misses, so does the other, except in an asymmetric
     * interval: the powers of two whose shortest decimal lies on the far
     * side (floats 2^-96, 2^87, 2^90; doubles 2^-44, 2^-24, 2^89...,
     * found by trying every power of two) are all outside this path's
     * range, so only decode_try_text() looks there. */
    c = up ? lo + 1 : lo;
    if (!decode_reads_back(decode_scaled(c, d), a, sh->isfloat))
        return 0;
    *n = (uint64_t)c;
    return 1;
}

/* Whether the decimal text s reads back as a. */
static bool decode_text_reads_back(const char *s, double a, bool isfloat)
{
    return isfloat ? strtof(s, NULL) == (float)a : strtod(s, NULL) == a;
}

/* The p significant digits of a, correctly rounded by printf, in *n and
 * *e (n x 10^e), or if those miss and asym, the next p-digit decimal on
 * a's other side; returns whether they read back. */
static bool decode_try_text(const struct decode_short *sh, int p, uint64_t *n,
                            int *e)
{
    char buf[DECODE_TEXT_LEN], *q;
    uint64_t v = 0;

    snprintf(buf, sizeof(buf), "%.*e", p - 1, sh->a);
    for (q = buf; *q != 'e'; q++)
        if (*q != '.')
            v = v * 10 + (uint64_t)(*q - '0');
    *n = v;
    *e = atoi(q + 1) - (p - 1);
    if (decode_text_reads_back(buf, sh->a, sh->isfloat))
        return true;
    if (!sh->asym)
        return false;
    *n = strtod(buf, NULL) > sh->a ? v - 1 : v + 1;
    snprintf(buf, sizeof(buf), "%" PRIu64 "e%d", *n, *e);
    return decode_text_reads_back(buf, sh->a, sh->isfloat);
}

/* Whether a decimal of p significant digits (see decode_short.x) reads
 * back; if so, sets it in *n and *e. */
static bool decode_try(const struct decode_short *sh, int p, uint64_t *n,
                       int *e)
{
    if (sh->fast) {
        int d = p - 1 - sh->x, r = decode_try_fast(sh, d, n);

        if (r >= 0) {
            *e = -d;
            return r > 0;
        }
    }
    return decode_try_text(sh, p, n, e);
}

/*
 * The shortest decimal that reads back as a (> 0, finite) as a double, or
 * as a float32 if isfloat (a is then a float's value): the fewest
 * significant digits, the nearest of those (ties to even). Sets *n (no
 * trailing zeros) and *e, a = n x 10^e.
 *
 * If p digits read back, so do p + 1, and the most always do: a search.
 * A float's length is spread over 1..9, so that is bisected; a double
 * from a config (a scale, an offset) mostly has a few digits, so those
 * are tried in turn first, then the rest bisected.
 */
static void decode_shortest(double a, bool isfloat, uint64_t *n, int *e)
{
    struct decode_short sh;
    int maxp = isfloat ? DECODE_FLT_DIGITS : DECODE_DBL_DIGITS;
    int lo = 1, hi = maxp, found = 0;
    uint64_t tn;
    int te;

    decode_short_init(&sh, a, isfloat);
    if (!isfloat) {
        for (; lo <= DECODE_DBL_LINEAR; lo++) {
            if (decode_try(&sh, lo, n, e)) {
                decode_trim(n, e);
                return;
            }
        }
    }
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;

        if (decode_try(&sh, mid, &tn, &te)) {
            hi = mid;
            found = mid;
            *n = tn;
            *e = te;
        } else {
            lo = mid + 1;
        }
    }
    /* maxp digits always read back as printf counts them; a slip of x
     * could make the fast path try one fewer */
    if (found != hi && !decode_try(&sh, hi, n, e))
        decode_try_text(&sh, hi, n, e);
    decode_trim(n, e);
}

/* The shortest decimal of x (finite) as a double, or a float32. */
static struct decode_dec decode_dec_of(double x, bool isfloat)
{
    struct decode_dec d = {0, 0};
    uint64_t n;

    if (x == 0)
        return d;
    decode_shortest(fabs(x), isfloat, &n, &d.e);
    d.m = x < 0 ? -(decode_i128)n : (decode_i128)n;
    return d;
}

/* Rounds m x 10^e to at most digits significant digits, half away from
 * zero. */
static void decode_dec_cap(struct decode_dec *d, int digits)
{
    decode_u128 u = decode_abs(d->m), p, q, r;
    int k;

    if (u == 0)
        return;
    k = decode_ndigits(u) - digits;
    if (k <= 0)
        return;
    p = decode_p10(k);
    q = u / p;
    r = u % p;
    if (r >= p - r)
        q++;
    d->m = d->m < 0 ? -(decode_i128)q : (decode_i128)q;
    d->e += k;
}

/* a + b exactly, if both terms fit DECODE_TERM_DIGITS once aligned;
 * returns whether they did. */
static bool decode_dec_add(struct decode_dec a, struct decode_dec b,
                           struct decode_dec *sum)
{
    struct decode_dec t;
    int k;

    if (a.m == 0 || b.m == 0) {
        *sum = a.m == 0 ? b : a;
        return true;
    }
    if (a.e < b.e) {
        t = a;
        a = b;
        b = t;
    }
    /* a is the coarser; its digits move down to b's exponent */
    k = a.e - b.e;
    if (k > DECODE_TERM_DIGITS ||
        decode_abs(a.m) >= decode_p10(DECODE_TERM_DIGITS - k))
        return false;
    sum->m = a.m * (decode_i128)decode_p10(k) + b.m;
    sum->e = b.e;
    return true;
}

/* The double nearest m x 10^e. */
static double decode_dec_double(struct decode_dec d)
{
    char digits[DECODE_TEXT_LEN], buf[DECODE_TEXT_LEN];
    char *p = digits + sizeof(digits);
    decode_u128 u = decode_abs(d.m);
    double v;

    if (u == 0)
        return 0.0;
    if (u < (decode_u128)DECODE_EXACT_INT && d.e >= -POW10_EXACT_MAX &&
        d.e <= POW10_EXACT_MAX) {
        v = decode_scaled((double)(uint64_t)u, -d.e);
        return d.m < 0 ? -v : v;
    }
    if (d.e == 0) {
        /* one conversion, correctly rounded */
        v = (double)u;
        return d.m < 0 ? -v : v;
    }
    *--p = '\0';
    while (u != 0) {
        *--p = (char)('0' + (int)(u % 10));
        u /= 10;
    }
    snprintf(buf, sizeof(buf), "%s%se%d", d.m < 0 ? "-" : "", p, d.e);
    return strtod(buf, NULL);
}

int decode_decimals(double x)
{
    struct decode_dec d;

    if (!isfinite(x))
        return 0;
    d = decode_dec_of(x, false);
    return d.m != 0 && d.e < 0 ? -d.e : 0;
}

/* The shortest decimal of a scale or offset, in *m and *e; 1 and 0, by
 * far the most common, without a search. */
static void decode_factor(double x, int64_t *m, int *e)
{
    struct decode_dec d;

    if (x == 1 || x == 0) {
        *m = (int64_t)x;
        *e = 0;
        return;
    }
    d = decode_dec_of(x, false);
    *m = (int64_t)d.m;
    *e = d.e;
}

void decode_scaling_init(struct decode_scaling *sc, double scale, double offset)
{
    memset(sc, 0, sizeof(*sc));
    sc->scale = scale;
    sc->offset = offset;
    sc->finite = isfinite(scale) && isfinite(offset);
    if (!sc->finite)
        return;
    decode_factor(scale, &sc->scale_m, &sc->scale_e);
    decode_factor(offset, &sc->offset_m, &sc->offset_e);
}

double decode_value_scaled(enum reg_type type, double raw,
                           const struct decode_scaling *sc)
{
    struct decode_dec r, o, v;
    bool identity = sc->scale == 1 && sc->offset == 0;
    int cap = 0;

    if (!isfinite(raw) || !sc->finite)
        return raw * sc->scale + sc->offset;
    switch (type) {
    case REG_FLOAT32:
        r = decode_dec_of(raw, true);
        cap = DECODE_FLT_DIGITS;
        break;
    case REG_FLOAT64:
        if (identity)
            return raw + 0.0;
        r = decode_dec_of(raw, false);
        cap = DECODE_DBL_DIGITS;
        break;
    default:
        if (fabs(raw) > DECODE_INT_RAW_MAX ||
            (fabs(raw) < 0x1p63 && raw != (double)(int64_t)raw)) {
            /* not what decode_raw() gives for an integer type */
            r = decode_dec_of(raw, false);
            cap = DECODE_DBL_DIGITS;
            break;
        }
        if (identity)
            return raw + 0.0;
        r.m = (decode_i128)raw;
        r.e = 0;
        break;
    }
    /* both factors have at most 20 digits, and one at most 17 */
    r.m *= sc->scale_m;
    r.e += sc->scale_e;
    if (cap)
        decode_dec_cap(&r, cap);
    o.m = sc->offset_m;
    o.e = sc->offset_e;
    if (!decode_dec_add(r, o, &v))
        return decode_dec_double(r) + decode_dec_double(o);
    return decode_dec_double(v);
}

double decode_value(enum reg_type type, double raw, double scale, double offset)
{
    struct decode_scaling sc;

    decode_scaling_init(&sc, scale, offset);
    return decode_value_scaled(type, raw, &sc);
}
