/* SPDX-License-Identifier: MIT */
/*
 * The register map every simulated unit serves, on both the holding and the
 * input table: four quantities that move with time, each in every data type
 * and byte order tbdaq decodes, a block of fixed values with known bit
 * patterns, and a bulk region for load tests. tests/sim/README.md is the
 * contract; this module is its only implementation.
 *
 * Pure functions of (unit, request counter, time): no state, thread-safe.
 */
#ifndef TBDAQ_SIM_REGMAP_H
#define TBDAQ_SIM_REGMAP_H

#include <stdint.h>
#include <time.h>

/* Registers 0 .. REGMAP_SIZE - 1 exist; a read touching more is refused. */
#define REGMAP_SIZE 3000
/* Most registers one read may ask for (the Modbus limit for function 3/4). */
#define REGMAP_MAX_COUNT 125

enum regmap_quantity {
    REGMAP_FLOW,      /* m3/h, block at 0 */
    REGMAP_PRESSURE,  /* bar, block at 100 */
    REGMAP_TURBIDITY, /* NTU, block at 200 */
    REGMAP_PH,        /* pH, block at 300 */
    REGMAP_QUANTITIES
};

/* The value of quantity q at unit at real time now. */
double regmap_quantity(enum regmap_quantity q, unsigned unit,
                       const struct timespec *now);

/*
 * Fills words[0 .. count - 1] with registers address .. address + count - 1
 * of unit at real time now; served is the unit's request counter (register
 * 917). The caller ensures address + count <= REGMAP_SIZE. Only the fields
 * the range touches are computed.
 */
void regmap_read(unsigned unit, uint16_t served, const struct timespec *now,
                 unsigned address, unsigned count, uint16_t *words);

#endif
