/* SPDX-License-Identifier: MIT */
/*
 * Modbus RTU framing: the read requests (functions 1 to 4) and their
 * answers as bytes, with the CRC-16/MODBUS that closes every frame.
 * rtutcp.c sends them over TCP; nothing here touches a socket.
 *
 * An answer is judged as it arrives: rtuframe_answer_head() looks at the
 * bytes so far and says how long the whole answer must be, or why it
 * cannot be the answer at all (another unit, another function, a byte
 * count the request did not ask for); rtuframe_answer_decode() checks the
 * whole frame (CRC, exception) and unpacks its data. Errors are returned
 * as codes of this module (RTUFRAME_E*, rtuframe_strerror()); a Modbus
 * exception as RTUFRAME_EXCEPTION + its code. Pure functions: thread-safe,
 * no allocation.
 */
#ifndef TBDAQ_RTUFRAME_H
#define TBDAQ_RTUFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A read request: unit, function, address, count, CRC. */
#define RTUFRAME_REQUEST_LEN 8
/* The longest RTU frame (Modbus over serial line, 2.5.1). */
#define RTUFRAME_MAX_LEN 256
/* Unit ids that answer on a serial line: 0 is broadcast, 248..255 are
 * reserved. */
#define RTUFRAME_UNIT_MIN 1
#define RTUFRAME_UNIT_MAX 247

/*
 * Codes of this module: far above errno's values, libmodbus's
 * (MODBUS_ENOBASE is 112345678) and bus.c's own, so that they can travel
 * in errno beside them. An exception answer is RTUFRAME_EXCEPTION plus
 * the exception code the device sent (0..255).
 */
#define RTUFRAME_EBASE 1381236736
enum rtuframe_error {
    /* The CRC does not hold. */
    RTUFRAME_EBADCRC = RTUFRAME_EBASE + 1,
    RTUFRAME_EBADUNIT,     /* an answer from another unit */
    RTUFRAME_EBADFUNCTION, /* an answer to another function */
    RTUFRAME_EBADCOUNT,    /* a byte count the request did not ask for */
    RTUFRAME_ESHORT,       /* the answer stopped before its end */
    RTUFRAME_ELONG,        /* more bytes followed the answer's CRC */
    RTUFRAME_EXCEPTION = RTUFRAME_EBASE + 256,
    RTUFRAME_ELAST = RTUFRAME_EXCEPTION + 255,
};

/* What a request asked for: the answer must match it. */
struct rtuframe_read {
    int unit;     /* 1..247 */
    int function; /* 1, 2 (bits), 3, 4 (registers) */
    int address;  /* 0..65535 */
    int count;    /* 1..2000 bits or 1..125 registers */
};

/* CRC-16/MODBUS of n bytes (polynomial 0xA001 reflected, start 0xFFFF);
 * a frame carries it low byte first. */
uint16_t rtuframe_crc16(const uint8_t *p, size_t n);

/* Writes the request for r into out; returns its length,
 * RTUFRAME_REQUEST_LEN. r must be valid (rtuframe_read_is_valid()). */
size_t rtuframe_request(const struct rtuframe_read *r,
                        uint8_t out[RTUFRAME_REQUEST_LEN]);

/* True if r is a read this module can frame: a unit that answers,
 * function 1..4, and a count the protocol allows that ends at 65535 or
 * below. */
bool rtuframe_read_is_valid(const struct rtuframe_read *r);

/* Bytes of data the answer to r carries: 2 per register, 1 per 8 bits. */
size_t rtuframe_data_len(const struct rtuframe_read *r);

/*
 * Judges the first n bytes of an answer to r. Returns 0 and sets *len to
 * the answer's whole length as far as these bytes tell (2 until the
 * function is known, 3 until the byte count is; 5 for an exception), or
 * an RTUFRAME_E* code if they cannot begin the answer to r.
 */
int rtuframe_answer_head(const struct rtuframe_read *r, const uint8_t *a,
                         size_t n, size_t *len);

/*
 * Checks a whole answer of len bytes to r (its head as above, its length,
 * its CRC) and unpacks its data into dest: r->count words, each register
 * as sent (high byte first), each bit as a word 0 or 1. Returns 0, an
 * RTUFRAME_E* code, or RTUFRAME_EXCEPTION + code for an exception answer
 * (dest untouched).
 */
int rtuframe_answer_decode(const struct rtuframe_read *r, const uint8_t *a,
                           size_t len, uint16_t *dest);

/* True for a code of this module. */
bool rtuframe_is_error(int errnum);

/* Text for a code of this module ("Invalid CRC", "Answer from another
 * unit", ...): a static string; NULL for any other number. */
const char *rtuframe_strerror(int errnum);

#endif
