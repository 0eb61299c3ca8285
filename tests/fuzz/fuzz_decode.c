/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for drivers/decode.c: the register words a device
 * sends and the type and order names a config gives.
 *
 * Input layout (missing bytes read as zero): byte 0 picks the type, byte 1
 * the byte order among those that fit it, bytes 2..9 are the registers as
 * they arrive on the wire, bytes 10..33 three doubles (value, lo, hi) for
 * quality_judge(), and the rest is a name for the three parsers. Each
 * decoded value is checked against a reference decoder written from the
 * header's words alone, not from decode.c.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/decode.h"

/* Fixed part of the input: type, order, 8 wire bytes, 3 doubles. */
#define FUZZ_DECODE_HEAD (2 + 2 * REG_MAX_WORDS + 3 * sizeof(double))
#define FUZZ_DECODE_NTYPES (REG_BOOL + 1)
#define FUZZ_DECODE_NORDERS 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the header promises: the order's letter at wire position i names
 * the value byte (A = most significant) that arrived i-th. */
static uint64_t fuzz_decode_ref_bits(const char *order, const uint8_t *wire)
{
    size_t n = strlen(order);
    uint64_t v = 0;
    uint8_t bytes[2 * REG_MAX_WORDS] = {0};

    for (size_t i = 0; i < n; i++)
        bytes[order[i] - 'A'] = wire[i];
    for (size_t i = 0; i < n; i++)
        v = v << 8 | bytes[i];
    return v;
}

static double fuzz_decode_ref(enum reg_type type, const char *order,
                              const uint8_t *wire)
{
    uint64_t bits = fuzz_decode_ref_bits(order, wire);

    switch (type) {
    case REG_INT16:
        return (int16_t)(uint16_t)bits;
    case REG_UINT16:
        return (uint16_t)bits;
    case REG_INT32:
        return (int32_t)(uint32_t)bits;
    case REG_UINT32:
        return (uint32_t)bits;
    case REG_FLOAT32: {
        uint32_t b = (uint32_t)bits;
        float f;

        memcpy(&f, &b, sizeof(f));
        return f;
    }
    case REG_FLOAT64: {
        double d;

        memcpy(&d, &bits, sizeof(d));
        return d;
    }
    case REG_INT64:
        return (double)(int64_t)bits;
    case REG_UINT64:
        return (double)bits;
    case REG_BOOL:
        return bits != 0;
    }
    abort();
}

/* Same number, or both NaN (a float's NaN payload need not survive). */
static int fuzz_decode_same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static void fuzz_decode_names(const char *name)
{
    enum reg_type t;
    enum reg_table tb;
    enum byte_order o;

    if (reg_type_parse(name, &t) == 0 && strcmp(reg_type_name(t), name) != 0)
        abort();
    if (reg_table_parse(name, &tb) == 0 &&
        strcmp(reg_table_name(tb), name) != 0)
        abort();
    for (int i = 0; i < FUZZ_DECODE_NTYPES; i++) {
        int rc = byte_order_parse(name, (enum reg_type)i, &o);

        if (rc == 0 && (strcmp(byte_order_name(o), name) != 0 ||
                        strlen(name) != 2 * reg_type_words((enum reg_type)i)))
            abort();
        if (rc < -2 || rc > 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t head[FUZZ_DECODE_HEAD] = {0};
    uint16_t regs[REG_MAX_WORDS];
    enum reg_type type;
    enum byte_order order, fits[FUZZ_DECODE_NORDERS];
    size_t nfits = 0;
    double got, want, v, lo, hi;
    enum quality q;
    char *name;

    memcpy(head, data, size < sizeof(head) ? size : sizeof(head));
    type = (enum reg_type)(head[0] % FUZZ_DECODE_NTYPES);
    for (int i = 0; i < FUZZ_DECODE_NORDERS; i++) {
        enum byte_order o;

        if (byte_order_parse(byte_order_name((enum byte_order)i), type, &o) ==
            0)
            fits[nfits++] = o;
    }
    if (nfits == 0)
        abort();
    order = fits[head[1] % nfits];
    for (int i = 0; i < REG_MAX_WORDS; i++)
        regs[i] = (uint16_t)(head[2 + 2 * i] << 8 | head[3 + 2 * i]);

    got = decode_raw(type, order, regs);
    want = fuzz_decode_ref(type, byte_order_name(order), head + 2);
    if (!fuzz_decode_same(got, want))
        abort();
    /* Integers are exact and finite. */
    if (type != REG_FLOAT32 && type != REG_FLOAT64 &&
        (!isfinite(got) || got != floor(got)))
        abort();

    memcpy(&v, head + 10, sizeof(v));
    memcpy(&lo, head + 18, sizeof(lo));
    memcpy(&hi, head + 26, sizeof(hi));
    q = quality_judge(v, lo, hi);
    if (q != (!isfinite(v)         ? QUALITY_INVALID
              : (v < lo || v > hi) ? QUALITY_OUT_OF_RANGE
                                   : QUALITY_GOOD))
        abort();
    if (strcmp(quality_name(q), "unknown") == 0)
        abort();

    if (size > sizeof(head)) {
        name = malloc(size - sizeof(head) + 1);
        if (!name)
            return 0;
        memcpy(name, data + sizeof(head), size - sizeof(head));
        name[size - sizeof(head)] = '\0';
        fuzz_decode_names(name);
        free(name);
    }
    return 0;
}
