// SPDX-License-Identifier: MIT
/*
 * The simulator's register map. A read walks its register range field by
 * field: each field (one value in one type and byte order) is encoded once
 * into a few words, and the words the range covers are copied out. Values
 * are encoded through their big-endian bytes A.. so that a byte order
 * string like "CDAB" reads directly as "wire byte i is value byte order[i]",
 * exactly the SPEC's definition.
 */
#include "tests/sim/regmap.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Each quantity owns a block of this many registers, starting at 0. */
#define REGMAP_BLOCK_SPAN 100
/* Status words: the live one in AB and BA, then a fixed one. */
#define REGMAP_STATUS_AB 400
#define REGMAP_STATUS_BA 401
#define REGMAP_STATUS_FIXED 402
/* A fixed status word: its bits 0, 1, 6, 7, 8, 10, 13, 15 are set. */
#define REGMAP_STATUS_PATTERN 0xa5c3u
/* 64-bit fields: totalisers and fixed values, four registers each. */
#define REGMAP_WIDE_FIRST 500
#define REGMAP_WIDE_LAST 575
/* Identity: ASCII, two characters to a register, high byte first. */
#define REGMAP_SERIAL_FIRST 800
#define REGMAP_FIRMWARE_FIRST 810
/* Registers of fixed test values and the unit's identity. */
#define REGMAP_FIXED_FIRST 900
#define REGMAP_FIXED_LAST 917
/* Bulk region: float32 ABCD values at REGMAP_BULK_FIRST + 2k. */
#define REGMAP_BULK_FIRST 1000
#define REGMAP_BULK_VALUES 1000
/* Period of the bulk region's wave, seconds. */
#define REGMAP_BULK_PERIOD 60
/* The longest field: float64 or a 64-bit integer, four registers. */
#define REGMAP_FIELD_WORDS_MAX 4
/* m3/h times seconds, in litres. */
#define REGMAP_M3H_S_PER_L 3.6

#define REGMAP_TWO_PI 6.283185307179586

enum regmap_type {
    REGMAP_ZERO,    /* a register of no field: reads 0 */
    REGMAP_INT16,   /* round(v * 100) */
    REGMAP_UINT16,  /* round(v * 100) */
    REGMAP_INT32,   /* round(v * 1000) */
    REGMAP_UINT32,  /* round(v * 1000) */
    REGMAP_FLOAT32, /* (float)v */
    REGMAP_FLOAT64, /* v */
    REGMAP_RAW16,   /* the field's bits as given, one register */
    REGMAP_RAW32,   /* the field's bits as given, two registers */
};

/* One field of a quantity block: where it sits and how it is encoded. */
struct regmap_block_field {
    unsigned offset;
    enum regmap_type type;
    const char *order;
};

static const struct regmap_block_field regmap_block[] = {
    {0, REGMAP_INT16, "AB"},          {1, REGMAP_INT16, "BA"},
    {2, REGMAP_UINT16, "AB"},         {3, REGMAP_UINT16, "BA"},
    {4, REGMAP_INT32, "ABCD"},        {6, REGMAP_INT32, "CDAB"},
    {8, REGMAP_INT32, "BADC"},        {10, REGMAP_INT32, "DCBA"},
    {12, REGMAP_UINT32, "ABCD"},      {14, REGMAP_UINT32, "CDAB"},
    {16, REGMAP_UINT32, "BADC"},      {18, REGMAP_UINT32, "DCBA"},
    {20, REGMAP_FLOAT32, "ABCD"},     {22, REGMAP_FLOAT32, "CDAB"},
    {24, REGMAP_FLOAT32, "BADC"},     {26, REGMAP_FLOAT32, "DCBA"},
    {28, REGMAP_FLOAT64, "ABCDEFGH"}, {32, REGMAP_FLOAT64, "GHEFCDAB"},
    {36, REGMAP_FLOAT64, "BADCFEHG"}, {40, REGMAP_FLOAT64, "HGFEDCBA"},
};
#define REGMAP_BLOCK_FIELDS (sizeof(regmap_block) / sizeof(regmap_block[0]))
/* First offset in a block past its last field. */
#define REGMAP_BLOCK_END 44

/* value = base + per_unit * unit + amplitude * sin(2 pi t / period) */
static const struct {
    double base;
    double per_unit;
    double amplitude;
    long period_s;
} regmap_wave[REGMAP_QUANTITIES] = {
    [REGMAP_FLOW] = {20.0, 1.0, 5.0, 60},
    [REGMAP_PRESSURE] = {4.0, 0.1, 0.5, 30},
    [REGMAP_TURBIDITY] = {1.0, 0.1, 0.5, 45},
    [REGMAP_PH] = {7.0, 0.01, 0.1, 90},
};

/* Fixed values, all ABCD; REGMAP_RAW* give exact bit patterns. */
static const struct {
    unsigned address;
    enum regmap_type type;
    double value;
    uint32_t raw;
} regmap_fixed[] = {
    {900, REGMAP_INT16, -12345, 0},
    {901, REGMAP_UINT16, 54321, 0},
    {902, REGMAP_INT32, -123456789, 0},
    {904, REGMAP_UINT32, 3000000000.0, 0},
    {906, REGMAP_FLOAT32, 1234.5, 0},
    {908, REGMAP_FLOAT64, -9876.54321, 0},
    {912, REGMAP_RAW32, 0, UINT32_C(0x7fc00000)}, /* quiet NaN */
    {914, REGMAP_RAW32, 0, UINT32_C(0x7f800000)}, /* +Inf */
};
#define REGMAP_FIXED_FIELDS (sizeof(regmap_fixed) / sizeof(regmap_fixed[0]))
#define REGMAP_UNIT_ID 916
#define REGMAP_SERVED 917

/*
 * The 64-bit fields: the totaliser (as uint64, then as int64: the same
 * bits, for it is never negative) in SPEC's four 64-bit byte orders, then
 * fixed values a double cannot hold exactly, and a pattern whose bytes
 * tell the orders apart. A NULL order is ABCDEFGH.
 */
static const struct {
    unsigned address;
    int totaliser; /* 1: the totaliser; 0: raw */
    uint64_t raw;
    const char *order;
} regmap_wide[] = {
    {500, 1, 0, NULL},
    {504, 1, 0, "GHEFCDAB"},
    {508, 1, 0, "BADCFEHG"},
    {512, 1, 0, "HGFEDCBA"},
    {516, 1, 0, NULL},
    {520, 1, 0, "GHEFCDAB"},
    {524, 1, 0, "BADCFEHG"},
    {528, 1, 0, "HGFEDCBA"},
    {540, 0, UINT64_C(0x0020000000000001), NULL}, /* uint64 2^53 + 1 */
    {544, 0, UINT64_C(0x7fffffffffffffff), NULL}, /* int64 2^63 - 1 */
    {548, 0, UINT64_C(0x8000000000000000), NULL}, /* int64 -2^63 */
    {552, 0, UINT64_C(0xffffffffffffffff), NULL}, /* uint64 2^64 - 1 */
    {556, 0, UINT64_C(0xffdfffffffffffff), NULL}, /* int64 -(2^53 + 1) */
    {560, 0, UINT64_C(0x0102030405060708), NULL},
    {564, 0, UINT64_C(0x0102030405060708), "GHEFCDAB"},
    {568, 0, UINT64_C(0x0102030405060708), "BADCFEHG"},
    {572, 0, UINT64_C(0x0102030405060708), "HGFEDCBA"},
};
#define REGMAP_WIDE_FIELDS (sizeof(regmap_wide) / sizeof(regmap_wide[0]))

/* What one read needs to know; quantities are computed on first use. */
struct regmap_ctx {
    const struct regmap_unit *u;
    const struct timespec *now;
    double quantity[REGMAP_QUANTITIES];
    unsigned have_quantity; /* bit q set: quantity[q] is valid */
};

/*
 * The phase t / period in [0, 1), from whole seconds modulo the period so
 * that no precision is lost to the size of the epoch time.
 */
static double regmap_phase(const struct timespec *now, long period_s)
{
    long sec = (long)(now->tv_sec % period_s);

    return ((double)sec + (double)now->tv_nsec * 1e-9) / (double)period_s;
}

double regmap_quantity(enum regmap_quantity q, unsigned unit,
                       const struct timespec *now)
{
    double phase = regmap_phase(now, regmap_wave[q].period_s);

    return regmap_wave[q].base + regmap_wave[q].per_unit * unit +
           regmap_wave[q].amplitude * sin(REGMAP_TWO_PI * phase);
}

/*
 * Litres through unit's flow meter since the epoch: the integral of
 * block 0's flow (m3/h) over t, so the totaliser agrees with the flow.
 * It only grows: the flow never falls below 15 m3/h.
 */
static uint64_t regmap_totaliser(unsigned unit, const struct timespec *now)
{
    double mean = regmap_wave[REGMAP_FLOW].base +
                  regmap_wave[REGMAP_FLOW].per_unit * unit;
    double swing = regmap_wave[REGMAP_FLOW].amplitude *
                   (double)regmap_wave[REGMAP_FLOW].period_s / REGMAP_TWO_PI;
    double phase = regmap_phase(now, regmap_wave[REGMAP_FLOW].period_s);
    double m3h_s = mean * (double)now->tv_sec +
                   mean * (double)now->tv_nsec * 1e-9 -
                   swing * cos(REGMAP_TWO_PI * phase);

    return (uint64_t)floor(m3h_s / REGMAP_M3H_S_PER_L);
}

static double regmap_ctx_quantity(struct regmap_ctx *c, enum regmap_quantity q)
{
    if (!(c->have_quantity & (1u << q))) {
        c->quantity[q] = regmap_quantity(q, c->u->id, c->now);
        c->have_quantity |= 1u << q;
    }
    return c->quantity[q];
}

/* Number of registers a field of this type spans. */
static unsigned regmap_type_words(enum regmap_type type)
{
    switch (type) {
    case REGMAP_ZERO:
    case REGMAP_INT16:
    case REGMAP_UINT16:
    case REGMAP_RAW16:
        return 1;
    case REGMAP_INT32:
    case REGMAP_UINT32:
    case REGMAP_FLOAT32:
    case REGMAP_RAW32:
        return 2;
    case REGMAP_FLOAT64:
        return 4;
    }
    return 1;
}

/*
 * The bits of v encoded as type, in the low bytes of the result. Integer
 * conversions wrap (two's complement), which is what a device does.
 */
static uint64_t regmap_bits(enum regmap_type type, double v, uint32_t raw)
{
    float f;
    uint32_t u32;
    uint64_t u64;

    switch (type) {
    case REGMAP_ZERO:
        return 0;
    case REGMAP_INT16:
    case REGMAP_UINT16:
        return (uint64_t)llround(v * 100.0) & 0xffffu;
    case REGMAP_INT32:
    case REGMAP_UINT32:
        return (uint64_t)llround(v * 1000.0) & UINT32_C(0xffffffff);
    case REGMAP_FLOAT32:
        f = (float)v;
        memcpy(&u32, &f, sizeof(u32));
        return u32;
    case REGMAP_FLOAT64:
        memcpy(&u64, &v, sizeof(u64));
        return u64;
    case REGMAP_RAW16:
    case REGMAP_RAW32:
        return raw;
    }
    return 0;
}

/* The fixed fields store exact values: no scaling by 100 or 1000. */
static uint64_t regmap_fixed_bits(enum regmap_type type, double v, uint32_t raw)
{
    switch (type) {
    case REGMAP_INT16:
    case REGMAP_UINT16:
        return (uint64_t)llround(v) & 0xffffu;
    case REGMAP_INT32:
    case REGMAP_UINT32:
        return (uint64_t)llround(v) & UINT32_C(0xffffffff);
    default:
        return regmap_bits(type, v, raw);
    }
}

/*
 * Lays out the value bits (nwords registers wide) as words on the wire:
 * wire byte i is the value's byte order[i] - 'A', A being the most
 * significant. A NULL order is big-endian (AB, ABCD, ABCDEFGH).
 */
static void regmap_encode(uint64_t bits, unsigned nwords, const char *order,
                          uint16_t *words)
{
    unsigned char be[2 * REGMAP_FIELD_WORDS_MAX];
    unsigned char wire[2 * REGMAP_FIELD_WORDS_MAX];
    unsigned nbytes = 2 * nwords;

    for (unsigned i = 0; i < nbytes; i++)
        be[i] = (unsigned char)(bits >> (8 * (nbytes - 1 - i)));
    for (unsigned i = 0; i < nbytes; i++)
        wire[i] = order ? be[order[i] - 'A'] : be[i];
    for (unsigned i = 0; i < nwords; i++)
        words[i] = (uint16_t)(wire[2 * i] << 8 | wire[2 * i + 1]);
}

/* A field of a quantity block (r is inside one's fields). */
static unsigned regmap_block_field(struct regmap_ctx *c, unsigned r,
                                   unsigned *first, uint16_t *words)
{
    enum regmap_quantity q = (enum regmap_quantity)(r / REGMAP_BLOCK_SPAN);
    unsigned offset = r % REGMAP_BLOCK_SPAN;
    size_t i = REGMAP_BLOCK_FIELDS - 1;
    unsigned n;

    while (regmap_block[i].offset > offset)
        i--;
    n = regmap_type_words(regmap_block[i].type);
    *first = r - offset + regmap_block[i].offset;
    regmap_encode(
        regmap_bits(regmap_block[i].type, regmap_ctx_quantity(c, q), 0), n,
        regmap_block[i].order, words);
    return n;
}

/* The live status word: a bit per signal, a nibble of seconds, a nibble
 * of unit id, and bit 15 always set (README: "Status words"). */
static uint16_t regmap_status(const struct regmap_ctx *c)
{
    unsigned w = 0;

    w |= (unsigned)regmap_signal(REGMAP_PUMP_RUNNING, c->now) << 0;
    w |= (unsigned)regmap_signal(REGMAP_PUMP_FAULT, c->now) << 1;
    w |= (unsigned)regmap_signal(REGMAP_LEVEL_HIGH, c->now) << 2;
    w |= (unsigned)regmap_signal(REGMAP_PH_ALARM, c->now) << 3;
    w |= (unsigned)(c->now->tv_sec % 16) << 4;
    w |= (c->u->id % 16) << 8;
    w |= 1u << 15;
    return (uint16_t)w;
}

/* Character i of an identity string, or pad past its end. */
static unsigned regmap_char(const char *s, size_t i, unsigned pad)
{
    return i < strlen(s) ? (unsigned char)s[i] : pad;
}

/* Register r (from 0) of an identity string s, high byte first. */
static uint16_t regmap_ascii(const char *s, unsigned r, unsigned pad)
{
    return (uint16_t)(regmap_char(s, 2 * r, pad) << 8 |
                      regmap_char(s, 2 * r + 1, pad));
}

/* A 64-bit field, or a register between them (r is in REGMAP_WIDE_FIRST
 * .. REGMAP_WIDE_LAST). */
static unsigned regmap_wide_field(struct regmap_ctx *c, unsigned r,
                                  unsigned *first, uint16_t *words)
{
    for (size_t i = REGMAP_WIDE_FIELDS; i-- > 0;) {
        if (regmap_wide[i].address > r)
            continue;
        if (r >= regmap_wide[i].address + REGMAP_FIELD_WORDS_MAX)
            break;
        *first = regmap_wide[i].address;
        regmap_encode(regmap_wide[i].totaliser
                          ? regmap_totaliser(c->u->id, c->now)
                          : regmap_wide[i].raw,
                      REGMAP_FIELD_WORDS_MAX, regmap_wide[i].order, words);
        return REGMAP_FIELD_WORDS_MAX;
    }
    *first = r;
    words[0] = 0;
    return 1;
}

/*
 * The registers that are fields of their own, one register wide: the
 * status words, the identity, the unit id and the request counter. Sets
 * *word and returns 1 if r is one of them, else returns 0.
 */
static int regmap_word(const struct regmap_ctx *c, unsigned r, uint16_t *word)
{
    uint16_t w;

    if (r == REGMAP_STATUS_AB || r == REGMAP_STATUS_BA) {
        w = regmap_status(c);
        *word = r == REGMAP_STATUS_AB ? w : (uint16_t)(w << 8 | w >> 8);
        return 1;
    }
    if (r == REGMAP_STATUS_FIXED) {
        *word = REGMAP_STATUS_PATTERN;
        return 1;
    }
    /* NULs pad the serial number, spaces the firmware: SPEC's `devices`
     * drops both, and a reader must be shown to. */
    if (r >= REGMAP_SERIAL_FIRST &&
        r < REGMAP_SERIAL_FIRST + REGMAP_SERIAL_LEN / 2) {
        *word = regmap_ascii(c->u->serial, r - REGMAP_SERIAL_FIRST, 0);
        return 1;
    }
    if (r >= REGMAP_FIRMWARE_FIRST &&
        r < REGMAP_FIRMWARE_FIRST + REGMAP_FIRMWARE_LEN / 2) {
        *word = regmap_ascii(c->u->firmware, r - REGMAP_FIRMWARE_FIRST, ' ');
        return 1;
    }
    if (r == REGMAP_UNIT_ID) {
        *word = (uint16_t)c->u->id;
        return 1;
    }
    if (r == REGMAP_SERVED) {
        *word = c->u->served;
        return 1;
    }
    return 0;
}

/* A fixed field (r is in REGMAP_FIXED_FIRST .. REGMAP_FIXED_LAST). */
static unsigned regmap_fixed_field(unsigned r, unsigned *first, uint16_t *words)
{
    unsigned n;

    for (size_t i = REGMAP_FIXED_FIELDS; i-- > 0;) {
        if (regmap_fixed[i].address > r)
            continue;
        n = regmap_type_words(regmap_fixed[i].type);
        *first = regmap_fixed[i].address;
        regmap_encode(regmap_fixed_bits(regmap_fixed[i].type,
                                        regmap_fixed[i].value,
                                        regmap_fixed[i].raw),
                      n, NULL, words);
        return n;
    }
    *first = r;
    words[0] = 0;
    return 1;
}

/*
 * Encodes the field that contains register r: sets *first to its first
 * register and returns its width in words (written to words).
 */
static unsigned regmap_field(struct regmap_ctx *c, unsigned r, unsigned *first,
                             uint16_t *words)
{
    if (r < REGMAP_QUANTITIES * REGMAP_BLOCK_SPAN &&
        r % REGMAP_BLOCK_SPAN < REGMAP_BLOCK_END)
        return regmap_block_field(c, r, first, words);
    if (regmap_word(c, r, words)) {
        *first = r;
        return 1;
    }
    if (r >= REGMAP_WIDE_FIRST && r <= REGMAP_WIDE_LAST)
        return regmap_wide_field(c, r, first, words);
    if (r >= REGMAP_FIXED_FIRST && r <= REGMAP_FIXED_LAST)
        return regmap_fixed_field(r, first, words);
    if (r >= REGMAP_BULK_FIRST &&
        r < REGMAP_BULK_FIRST + 2 * REGMAP_BULK_VALUES) {
        unsigned k = (r - REGMAP_BULK_FIRST) / 2;
        double phase = regmap_phase(c->now, REGMAP_BULK_PERIOD);
        double v = k + 0.5 + 0.25 * sin(REGMAP_TWO_PI * phase + k);

        *first = REGMAP_BULK_FIRST + 2 * k;
        regmap_encode(regmap_bits(REGMAP_FLOAT32, v, 0), 2, NULL, words);
        return 2;
    }
    *first = r;
    words[0] = 0;
    return 1;
}

void regmap_identity_default(unsigned unit, char *serial, char *firmware)
{
    snprintf(serial, REGMAP_SERIAL_LEN + 1, "TBSIM-%03u", unit);
    snprintf(firmware, REGMAP_FIRMWARE_LEN + 1, "1.4.2");
}

int regmap_identity_valid(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

void regmap_read(const struct regmap_unit *u, const struct timespec *now,
                 unsigned address, unsigned count, uint16_t *words)
{
    struct regmap_ctx c = {.u = u, .now = now};
    uint16_t field[REGMAP_FIELD_WORDS_MAX];
    unsigned first = 0, n = 0;

    for (unsigned r = address; r < address + count; r++) {
        if (n == 0 || r >= first + n)
            n = regmap_field(&c, r, &first, field);
        words[r - address] = field[r - first];
    }
}
