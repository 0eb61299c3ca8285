/* SPDX-License-Identifier: MIT */
/*
 * Modbus framing for the simulator, written by hand rather than with
 * libmodbus so that one RTU line can serve every unit id and so that the
 * simulator controls every byte it sends. TCP frames carry the MBAP header
 * (transaction id, protocol 0, length, unit); RTU frames are unit, PDU,
 * CRC-16 (low byte first).
 *
 * Pure functions over caller-owned buffers; no state.
 */
#ifndef TBDAQ_SIM_FRAME_H
#define TBDAQ_SIM_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Modbus exception codes the simulator chooses by itself. */
#define FRAME_EXC_ILLEGAL_FUNCTION 0x01
#define FRAME_EXC_ILLEGAL_ADDRESS 0x02
#define FRAME_EXC_ILLEGAL_VALUE 0x03
#define FRAME_EXC_GATEWAY_TARGET 0x0b /* target device failed to respond */

/* The functions served: read coils, discrete inputs, holding registers,
 * input registers. */
#define FRAME_READ_COILS 0x01
#define FRAME_READ_DISCRETE 0x02
#define FRAME_READ_HOLDING 0x03
#define FRAME_READ_INPUT 0x04

/* Longest frame either way: MBAP (7) + the longest PDU (253). */
#define FRAME_MAX 260
/* Junk frame_mangle() appends in FRAME_FAULT_EXTRA mode. */
#define FRAME_EXTRA_LEN 4
/* Longest frame frame_mangle() can leave: a reply and its junk. */
#define FRAME_MANGLED_MAX (FRAME_MAX + FRAME_EXTRA_LEN)

/* One request as received. */
struct frame_request {
    uint16_t tid; /* TCP transaction id; 0 on RTU */
    uint8_t unit;
    uint8_t function;
    uint16_t address; /* 0 if the PDU is too short to hold one */
    uint16_t count;   /* 0 if the PDU is too short to hold one */
    int well_formed;  /* PDU is exactly function, address, count */
};

/* Ways to spoil a reply, for testing how a client copes (see README). */
enum frame_fault {
    FRAME_FAULT_NONE,
    FRAME_FAULT_SHORT,     /* cut to half its length */
    FRAME_FAULT_BYTECOUNT, /* byte count 2 off the data (data replies) */
    FRAME_FAULT_UNIT,      /* another unit id */
    FRAME_FAULT_FUNCTION,  /* another function code (3 <-> 4, 1 <-> 2) */
    FRAME_FAULT_TID,       /* TCP: another transaction id */
    FRAME_FAULT_CRC,       /* RTU: a CRC that does not hold */
    FRAME_FAULT_GARBAGE,   /* random bytes, as many as the reply */
    FRAME_FAULT_LENGTH,    /* TCP: MBAP length 4 more than sent */
    FRAME_FAULT_EXTRA,     /* the reply, then FRAME_EXTRA_LEN junk bytes */
};

enum frame_status {
    FRAME_NEED_MORE, /* no complete frame yet */
    FRAME_OK,        /* a request: see the out parameters */
    FRAME_SKIP,      /* a complete frame to drop (*used bytes) */
    FRAME_BROKEN,    /* the stream cannot be resynchronised */
};

/* Modbus CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF). */
uint16_t frame_crc16(const unsigned char *p, size_t n);

/*
 * Parses the MBAP frame at the start of buf. FRAME_OK: *req is the request
 * and *used its length. FRAME_SKIP: a frame of another protocol id, *used
 * bytes long. FRAME_BROKEN: the length field is impossible.
 */
enum frame_status frame_tcp_parse(const unsigned char *buf, size_t len,
                                  struct frame_request *req, size_t *used);

/*
 * Finds the first RTU request in buf (read requests, functions 1 to 4, are
 * 8 bytes; function 15/16 carry a byte count). FRAME_OK: *req is the
 * request and *used the bytes it and any noise before it take up.
 * FRAME_NEED_MORE: nothing with a valid CRC yet.
 */
enum frame_status frame_rtu_parse(const unsigned char *buf, size_t len,
                                  struct frame_request *req, size_t *used);

/*
 * Takes all of buf as one RTU frame, as a line's silent interval marks the
 * end of a frame: FRAME_OK if its CRC holds, else FRAME_SKIP.
 */
enum frame_status frame_rtu_parse_whole(const unsigned char *buf, size_t len,
                                        struct frame_request *req);

/* Whether function reads bits (coils, discrete inputs), not registers. */
int frame_function_bits(uint8_t function);

/*
 * Builds the reply to req in out (FRAME_MAX bytes): exception response
 * `exception` if it is not 0, otherwise the req->count registers in words
 * or, for a bit read, the req->count bits in words (one word per bit, 0
 * or 1), packed eight to a byte, the first bit the least significant.
 * Returns the reply's length.
 */
size_t frame_tcp_reply(const struct frame_request *req, uint8_t exception,
                       const uint16_t *words, unsigned char *out);
size_t frame_rtu_reply(const struct frame_request *req, uint8_t exception,
                       const uint16_t *words, unsigned char *out);

/*
 * Spoils the reply out[0 .. n - 1] (a buffer of FRAME_MANGLED_MAX bytes)
 * as fault says; rtu tells the framing. A fault the transport has no field
 * for (TID or LENGTH on RTU, CRC on TCP) leaves the reply as it is. *rng is
 * the state of the random bytes for GARBAGE (any nonzero seed). Returns the
 * new length.
 */
size_t frame_mangle(unsigned char *out, size_t n, int rtu,
                    enum frame_fault fault, uint32_t *rng);

#endif
