// SPDX-License-Identifier: MIT
/*
 * Modbus TCP and RTU framing for the simulator. Both transports share the
 * PDU: function code, then for functions 1 to 4 a start address and a
 * count; replies are function, byte count, registers (or bits, eight to a
 * byte), or an exception (function | 0x80, code).
 */
#include "tests/sim/frame.h"

/* MBAP header: transaction id, protocol id, length, unit id. */
#define FRAME_MBAP_LEN 7
/* The MBAP length field counts the unit id and the PDU. */
#define FRAME_MBAP_LEN_MIN 2
#define FRAME_MBAP_LEN_MAX (1 + 253)
/* A read request's PDU: function, address (2), count (2). */
#define FRAME_READ_PDU_LEN 5
/* An RTU read request: unit, PDU, CRC (2). */
#define FRAME_RTU_READ_LEN (1 + FRAME_READ_PDU_LEN + 2)
/* Write-multiple requests carry their data length in byte 6 (RTU). */
#define FRAME_WRITE_COILS 0x0f
#define FRAME_WRITE_REGISTERS 0x10
#define FRAME_RTU_WRITE_HEAD 7
/* Set in the function code of an exception response. */
#define FRAME_EXCEPTION_BIT 0x80
/* Where the function code and the byte count sit in a reply. */
#define FRAME_TCP_FUNCTION 7
#define FRAME_RTU_FUNCTION 1
/* XORed into the function code: turns 3 into 4 and back (and 1 into 2),
 * so that the spoiled reply still parses as a read, of the wrong table. */
#define FRAME_FUNCTION_FLIP 0x07
#define FRAME_BITS_FUNCTION_FLIP 0x03
/* Bits in a byte of a bit read's reply. */
#define FRAME_BITS_PER_BYTE 8
/* XORed into the transaction id's high byte: never the id asked for. */
#define FRAME_TID_FLIP 0x80
/* The highest unit id a reply is redirected among. */
#define FRAME_UNIT_MAX 247
/* What FRAME_FAULT_LENGTH adds to the MBAP length field. */
#define FRAME_LENGTH_LIE 4

uint16_t frame_crc16(const unsigned char *p, size_t n)
{
    uint16_t crc = 0xffff;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xa001) : crc >> 1;
    }
    return crc;
}

static unsigned frame_be16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/* Decodes the PDU pdu[0 .. len - 1]; len is at least 1. */
static void frame_pdu(const unsigned char *pdu, size_t len,
                      struct frame_request *req)
{
    req->function = pdu[0];
    req->address = 0;
    req->count = 0;
    if (len >= FRAME_READ_PDU_LEN) {
        req->address = (uint16_t)frame_be16(pdu + 1);
        req->count = (uint16_t)frame_be16(pdu + 3);
    }
    req->well_formed = len == FRAME_READ_PDU_LEN;
}

enum frame_status frame_tcp_parse(const unsigned char *buf, size_t len,
                                  struct frame_request *req, size_t *used)
{
    unsigned length;

    if (len < FRAME_MBAP_LEN)
        return FRAME_NEED_MORE;
    length = frame_be16(buf + 4);
    if (length < FRAME_MBAP_LEN_MIN || length > FRAME_MBAP_LEN_MAX)
        return FRAME_BROKEN;
    if (len < FRAME_MBAP_LEN - 1 + (size_t)length)
        return FRAME_NEED_MORE;
    *used = FRAME_MBAP_LEN - 1 + (size_t)length;
    if (frame_be16(buf + 2) != 0)
        return FRAME_SKIP;
    req->tid = (uint16_t)frame_be16(buf);
    req->unit = buf[6];
    frame_pdu(buf + FRAME_MBAP_LEN, length - 1, req);
    return FRAME_OK;
}

static int frame_crc_ok(const unsigned char *p, size_t n)
{
    uint16_t crc = frame_crc16(p, n - 2);

    return p[n - 2] == (crc & 0xff) && p[n - 1] == crc >> 8;
}

static void frame_rtu_request(const unsigned char *p, size_t n,
                              struct frame_request *req)
{
    req->tid = 0;
    req->unit = p[0];
    frame_pdu(p + 1, n - 3, req);
}

enum frame_status frame_rtu_parse(const unsigned char *buf, size_t len,
                                  struct frame_request *req, size_t *used)
{
    size_t n;

    if (len >= FRAME_RTU_READ_LEN && frame_crc_ok(buf, FRAME_RTU_READ_LEN)) {
        frame_rtu_request(buf, FRAME_RTU_READ_LEN, req);
        *used = FRAME_RTU_READ_LEN;
        return FRAME_OK;
    }
    if (len >= FRAME_RTU_WRITE_HEAD &&
        (buf[1] == FRAME_WRITE_COILS || buf[1] == FRAME_WRITE_REGISTERS)) {
        n = FRAME_RTU_WRITE_HEAD + buf[6] + 2;
        if (len >= n && frame_crc_ok(buf, n)) {
            frame_rtu_request(buf, n, req);
            *used = n;
            return FRAME_OK;
        }
    }
    /* Noise before a request: resynchronise on the next valid read. */
    for (size_t off = 1; off + FRAME_RTU_READ_LEN <= len; off++) {
        if (frame_crc_ok(buf + off, FRAME_RTU_READ_LEN)) {
            frame_rtu_request(buf + off, FRAME_RTU_READ_LEN, req);
            *used = off + FRAME_RTU_READ_LEN;
            return FRAME_OK;
        }
    }
    return FRAME_NEED_MORE;
}

enum frame_status frame_rtu_parse_whole(const unsigned char *buf, size_t len,
                                        struct frame_request *req)
{
    /* The shortest frame: unit, function, CRC. */
    if (len < 4 || !frame_crc_ok(buf, len))
        return FRAME_SKIP;
    frame_rtu_request(buf, len, req);
    return FRAME_OK;
}

int frame_function_bits(uint8_t function)
{
    function &= (uint8_t)~FRAME_EXCEPTION_BIT;
    return function == FRAME_READ_COILS || function == FRAME_READ_DISCRETE;
}

/* Writes bits[0 .. count - 1] (0 or 1 each) packed, the first bit the
 * least significant of the first byte; returns the bytes written. */
static size_t frame_pack_bits(const uint16_t *bits, unsigned count,
                              unsigned char *out)
{
    size_t n = (count + FRAME_BITS_PER_BYTE - 1) / FRAME_BITS_PER_BYTE;

    for (size_t i = 0; i < n; i++)
        out[i] = 0;
    for (unsigned i = 0; i < count; i++)
        if (bits[i])
            out[i / FRAME_BITS_PER_BYTE] |=
                (unsigned char)(1u << (i % FRAME_BITS_PER_BYTE));
    return n;
}

/* Writes the reply PDU to out; returns its length. */
static size_t frame_reply_pdu(const struct frame_request *req,
                              uint8_t exception, const uint16_t *words,
                              unsigned char *out)
{
    size_t n = 0;

    if (exception) {
        out[n++] = (unsigned char)(req->function | FRAME_EXCEPTION_BIT);
        out[n++] = exception;
        return n;
    }
    out[n++] = req->function;
    if (frame_function_bits(req->function)) {
        size_t bytes = frame_pack_bits(words, req->count, out + n + 1);

        out[n++] = (unsigned char)bytes;
        return n + bytes;
    }
    out[n++] = (unsigned char)(2 * req->count);
    for (unsigned i = 0; i < req->count; i++) {
        out[n++] = (unsigned char)(words[i] >> 8);
        out[n++] = (unsigned char)(words[i] & 0xff);
    }
    return n;
}

size_t frame_tcp_reply(const struct frame_request *req, uint8_t exception,
                       const uint16_t *words, unsigned char *out)
{
    size_t pdu = frame_reply_pdu(req, exception, words, out + FRAME_MBAP_LEN);

    out[0] = (unsigned char)(req->tid >> 8);
    out[1] = (unsigned char)(req->tid & 0xff);
    out[2] = 0;
    out[3] = 0;
    out[4] = (unsigned char)((pdu + 1) >> 8);
    out[5] = (unsigned char)((pdu + 1) & 0xff);
    out[6] = req->unit;
    return FRAME_MBAP_LEN + pdu;
}

size_t frame_rtu_reply(const struct frame_request *req, uint8_t exception,
                       const uint16_t *words, unsigned char *out)
{
    size_t n = 1 + frame_reply_pdu(req, exception, words, out + 1);
    uint16_t crc;

    out[0] = req->unit;
    crc = frame_crc16(out, n);
    out[n++] = (unsigned char)(crc & 0xff);
    out[n++] = (unsigned char)(crc >> 8);
    return n;
}

/* xorshift32: cheap, and reproducible from its seed. */
static uint32_t frame_random(uint32_t *state)
{
    uint32_t x = *state ? *state : 1;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void frame_rtu_seal(unsigned char *out, size_t n)
{
    uint16_t crc = frame_crc16(out, n - 2);

    out[n - 2] = (unsigned char)(crc & 0xff);
    out[n - 1] = (unsigned char)(crc >> 8);
}

size_t frame_mangle(unsigned char *out, size_t n, int rtu,
                    enum frame_fault fault, uint32_t *rng)
{
    size_t fn = rtu ? FRAME_RTU_FUNCTION : FRAME_TCP_FUNCTION;
    size_t unit = rtu ? 0 : FRAME_MBAP_LEN - 1;
    unsigned length;

    switch (fault) {
    case FRAME_FAULT_NONE:
        break;
    case FRAME_FAULT_SHORT:
        return n / 2;
    case FRAME_FAULT_BYTECOUNT:
        if (n <= fn + 1 || (out[fn] & FRAME_EXCEPTION_BIT))
            break;
        out[fn + 1] = (unsigned char)(out[fn + 1] >= 2 ? out[fn + 1] - 2
                                                       : out[fn + 1] + 2);
        break;
    case FRAME_FAULT_UNIT:
        out[unit] = (unsigned char)(out[unit] % FRAME_UNIT_MAX + 1);
        break;
    case FRAME_FAULT_FUNCTION:
        out[fn] ^= frame_function_bits(out[fn]) ? FRAME_BITS_FUNCTION_FLIP
                                                : FRAME_FUNCTION_FLIP;
        break;
    case FRAME_FAULT_TID:
        if (!rtu)
            out[0] ^= FRAME_TID_FLIP;
        return n;
    case FRAME_FAULT_CRC:
        if (rtu)
            out[n - 1] = (unsigned char)~out[n - 1];
        return n;
    case FRAME_FAULT_GARBAGE:
        for (size_t i = 0; i < n; i++)
            out[i] = (unsigned char)(frame_random(rng) >> 24);
        return n;
    case FRAME_FAULT_LENGTH:
        if (!rtu) {
            length = frame_be16(out + 4) + FRAME_LENGTH_LIE;
            out[4] = (unsigned char)(length >> 8);
            out[5] = (unsigned char)(length & 0xff);
        }
        return n;
    case FRAME_FAULT_EXTRA:
        for (size_t i = 0; i < FRAME_EXTRA_LEN; i++)
            out[n++] = (unsigned char)(frame_random(rng) >> 24);
        return n;
    }
    /* The fields above are spoiled on purpose; the CRC must not give the
     * game away, so it is made to hold again. */
    if (rtu && fault != FRAME_FAULT_NONE)
        frame_rtu_seal(out, n);
    return n;
}
