// SPDX-License-Identifier: MIT
/*
 * The simulator's coils and discrete inputs, and the on/off signals they
 * share with the status word of regmap.c. Every signal is a function of
 * whole seconds of CLOCK_REALTIME, so that a test knows, from the time it
 * asked, what a bit must read, and can tell a bit that never changes from
 * one that does.
 *
 * The two tables' fixed bits differ (coil 2 is off, discrete input 2 on;
 * the unit id against its complement; two patterns), so that a client
 * that reads the table it did not ask for is caught.
 */
#include "tests/sim/regmap.h"

/* Fixed bits: the unit id (coils; its complement on discrete inputs) in
 * eight bits, then a 16-bit pattern, least significant bit first; no
 * byte of either pattern reads the same backwards, so bits packed in the
 * wrong order show. */
#define REGMAP_BITS_ID_FIRST 8
#define REGMAP_BITS_PATTERN_FIRST 16
#define REGMAP_COIL_PATTERN 0x1234u
#define REGMAP_DISCRETE_PATTERN 0xabcdu
/* Bulk region for load tests: bits that alternate, shifted every second. */
#define REGMAP_BITS_BULK_FIRST 1000

int regmap_signal(enum regmap_signal sig, const struct timespec *now)
{
    long long sec = (long long)now->tv_sec;

    switch (sig) {
    case REGMAP_PUMP_RUNNING:
        return sec / 5 % 2 == 0;
    case REGMAP_PUMP_FAULT:
        return sec % 60 < 10;
    case REGMAP_LEVEL_HIGH:
        return sec % 60 >= 30;
    case REGMAP_PH_ALARM:
        return sec % 90 < 45;
    case REGMAP_SECOND:
        return sec % 2 == 0;
    }
    return 0;
}

/* Coil a of unit u at now. */
static int regmap_coil(const struct regmap_unit *u, const struct timespec *now,
                       unsigned a)
{
    if (a >= REGMAP_BITS_BULK_FIRST)
        return (int)((now->tv_sec + (a - REGMAP_BITS_BULK_FIRST)) % 2);
    if (a >= REGMAP_BITS_PATTERN_FIRST && a < REGMAP_BITS_PATTERN_FIRST + 16)
        return REGMAP_COIL_PATTERN >> (a - REGMAP_BITS_PATTERN_FIRST) & 1;
    if (a >= REGMAP_BITS_ID_FIRST && a < REGMAP_BITS_ID_FIRST + 8)
        return u->id >> (a - REGMAP_BITS_ID_FIRST) & 1;
    switch (a) {
    case 0:
        return regmap_signal(REGMAP_PUMP_RUNNING, now);
    case 1:
        return 1; /* pump in automatic mode */
    case 3:
        return regmap_signal(REGMAP_SECOND, now);
    default:
        return 0;
    }
}

/* Discrete input a of unit u at now. */
static int regmap_discrete(const struct regmap_unit *u,
                           const struct timespec *now, unsigned a)
{
    if (a >= REGMAP_BITS_BULK_FIRST)
        return (int)((now->tv_sec + (a - REGMAP_BITS_BULK_FIRST) + 1) % 2);
    if (a >= REGMAP_BITS_PATTERN_FIRST && a < REGMAP_BITS_PATTERN_FIRST + 16)
        return REGMAP_DISCRETE_PATTERN >> (a - REGMAP_BITS_PATTERN_FIRST) & 1;
    if (a >= REGMAP_BITS_ID_FIRST && a < REGMAP_BITS_ID_FIRST + 8)
        return (~u->id) >> (a - REGMAP_BITS_ID_FIRST) & 1;
    switch (a) {
    case 0:
        return regmap_signal(REGMAP_PUMP_FAULT, now);
    case 1:
        return regmap_signal(REGMAP_LEVEL_HIGH, now);
    case 2:
        return 1; /* a fixed input that is on */
    default:
        return 0;
    }
}

void regmap_read_bits(const struct regmap_unit *u, enum regmap_bit_table table,
                      const struct timespec *now, unsigned address,
                      unsigned count, uint16_t *bits)
{
    for (unsigned i = 0; i < count; i++)
        bits[i] = (uint16_t)(table == REGMAP_COILS
                                 ? regmap_coil(u, now, address + i)
                                 : regmap_discrete(u, now, address + i));
}
