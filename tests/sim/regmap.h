/* SPDX-License-Identifier: MIT */
/*
 * The map every simulated unit serves. Registers (regmap.c), the same on
 * the holding and the input table: four quantities that move with time,
 * each in every data type and byte order tbdaq decodes, a block of fixed
 * values with known bit patterns, status words whose bits change with
 * time, 64-bit totalisers and fixed 64-bit values, the unit's identity
 * (serial number, firmware) and a bulk region for load tests. Coils and
 * discrete inputs (regmap_bits.c): signals that change with time, fixed
 * bits and a bulk region. tests/sim/README.md is the contract; these two
 * files are its only implementation.
 *
 * Pure functions of (unit, request counter, identity, time): no state,
 * thread-safe.
 */
#ifndef TBDAQ_SIM_REGMAP_H
#define TBDAQ_SIM_REGMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Registers 0 .. REGMAP_SIZE - 1 exist; a read touching more is refused. */
#define REGMAP_SIZE 3000
/* Most registers one read may ask for (the Modbus limit for function 3/4). */
#define REGMAP_MAX_COUNT 125
/* Coils and discrete inputs 0 .. REGMAP_BITS_SIZE - 1 exist. */
#define REGMAP_BITS_SIZE 3000
/* Most bits one read may ask for (the Modbus limit for function 1/2). */
#define REGMAP_MAX_BITS 2000
/* Characters of the identity: eight registers of serial number, four of
 * firmware version, two characters to a register. */
#define REGMAP_SERIAL_LEN 16
#define REGMAP_FIRMWARE_LEN 8

enum regmap_quantity {
    REGMAP_FLOW,      /* m3/h, block at 0 */
    REGMAP_PRESSURE,  /* bar, block at 100 */
    REGMAP_TURBIDITY, /* NTU, block at 200 */
    REGMAP_PH,        /* pH, block at 300 */
    REGMAP_QUANTITIES
};

/* The on/off signals that change with time; each shows on a coil or a
 * discrete input and as a bit of the status word. */
enum regmap_signal {
    REGMAP_PUMP_RUNNING, /* on while floor(t / 5) is even */
    REGMAP_PUMP_FAULT,   /* on while t mod 60 < 10 */
    REGMAP_LEVEL_HIGH,   /* on while t mod 60 >= 30 */
    REGMAP_PH_ALARM,     /* on while t mod 90 < 45: pH above its mean */
    REGMAP_SECOND,       /* on while floor(t) is even */
};

enum regmap_bit_table {
    REGMAP_COILS,    /* function 1 */
    REGMAP_DISCRETE, /* function 2 */
};

/* The unit a read is for, as the caller keeps it. */
struct regmap_unit {
    unsigned id;
    uint16_t served;      /* its request counter (register 917) */
    const char *serial;   /* at most REGMAP_SERIAL_LEN characters */
    const char *firmware; /* at most REGMAP_FIRMWARE_LEN characters */
};

/* The value of quantity q at unit at real time now. */
double regmap_quantity(enum regmap_quantity q, unsigned unit,
                       const struct timespec *now);

/* Signal sig at real time now: 0 or 1. */
int regmap_signal(enum regmap_signal sig, const struct timespec *now);

/* The identity a unit has until it is told otherwise: serial number
 * "TBSIM-" and the id in three digits, firmware "1.4.2". The buffers hold
 * REGMAP_SERIAL_LEN + 1 and REGMAP_FIRMWARE_LEN + 1 bytes. */
void regmap_identity_default(unsigned unit, char *serial, char *firmware);

/* Whether s can be an identity string of at most max characters: 1 to max
 * printable ASCII characters, none a space. */
int regmap_identity_valid(const char *s, size_t max);

/*
 * Fills words[0 .. count - 1] with registers address .. address + count - 1
 * of unit u at real time now. The caller ensures address + count <=
 * REGMAP_SIZE. Only the fields the range touches are computed.
 */
void regmap_read(const struct regmap_unit *u, const struct timespec *now,
                 unsigned address, unsigned count, uint16_t *words);

/*
 * Fills bits[0 .. count - 1] with coils (or discrete inputs) address ..
 * address + count - 1 of unit u at real time now, one word per bit, 0 or
 * 1. The caller ensures address + count <= REGMAP_BITS_SIZE.
 */
void regmap_read_bits(const struct regmap_unit *u, enum regmap_bit_table table,
                      const struct timespec *now, unsigned address,
                      unsigned count, uint16_t *bits);

#endif
