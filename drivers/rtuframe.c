/* SPDX-License-Identifier: MIT */
/*
 * Modbus RTU frames for reads (functions 1 to 4): the request, and the
 * answer judged byte by byte as it arrives, so that a reader can stop at
 * the first byte that shows an answer is not the one it waits for.
 * The layouts are those of the Modbus application protocol (6.1 to 6.4)
 * and of Modbus over serial line (2.5.1: unit, PDU, CRC low byte first).
 */
#include <stddef.h>
#include <stdint.h>

#include "drivers/rtuframe.h"

/* An exception answer sets this bit of the function code. */
#define RTUFRAME_EXCEPTION_BIT 0x80
/* Unit, function and byte count before an answer's data; its CRC after. */
#define RTUFRAME_HEAD_LEN 3
#define RTUFRAME_CRC_LEN 2
/* Unit, function, exception code, CRC. */
#define RTUFRAME_EXCEPTION_LEN 5
/* The protocol's limits on one read (6.1 to 6.4). */
#define RTUFRAME_MAX_BITS 2000
#define RTUFRAME_MAX_REGISTERS 125
#define RTUFRAME_ADDR_END 65536

uint16_t rtuframe_crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001)
                            : (uint16_t)(crc >> 1);
    }
    return crc;
}

static bool rtuframe_is_bits(const struct rtuframe_read *r)
{
    return r->function == 1 || r->function == 2;
}

bool rtuframe_read_is_valid(const struct rtuframe_read *r)
{
    int max;

    if (r->unit < RTUFRAME_UNIT_MIN || r->unit > RTUFRAME_UNIT_MAX ||
        r->function < 1 || r->function > 4)
        return false;
    max = rtuframe_is_bits(r) ? RTUFRAME_MAX_BITS : RTUFRAME_MAX_REGISTERS;
    return r->count >= 1 && r->count <= max && r->address >= 0 &&
           r->address <= RTUFRAME_ADDR_END - r->count;
}

size_t rtuframe_data_len(const struct rtuframe_read *r)
{
    if (rtuframe_is_bits(r))
        return ((size_t)r->count + 7) / 8;
    return 2 * (size_t)r->count;
}

static void rtuframe_put_crc(uint8_t *frame, size_t n)
{
    uint16_t crc = rtuframe_crc16(frame, n);

    frame[n] = (uint8_t)(crc & 0xFF);
    frame[n + 1] = (uint8_t)(crc >> 8);
}

size_t rtuframe_request(const struct rtuframe_read *r,
                        uint8_t out[RTUFRAME_REQUEST_LEN])
{
    out[0] = (uint8_t)r->unit;
    out[1] = (uint8_t)r->function;
    out[2] = (uint8_t)(r->address >> 8);
    out[3] = (uint8_t)(r->address & 0xFF);
    out[4] = (uint8_t)(r->count >> 8);
    out[5] = (uint8_t)(r->count & 0xFF);
    rtuframe_put_crc(out, RTUFRAME_REQUEST_LEN - RTUFRAME_CRC_LEN);
    return RTUFRAME_REQUEST_LEN;
}

int rtuframe_answer_head(const struct rtuframe_read *r, const uint8_t *a,
                         size_t n, size_t *len)
{
    if (n < 2) {
        *len = 2;
        return 0;
    }
    if (a[0] != r->unit)
        return RTUFRAME_EBADUNIT;
    if (a[1] == (r->function | RTUFRAME_EXCEPTION_BIT)) {
        *len = RTUFRAME_EXCEPTION_LEN;
        return 0;
    }
    if (a[1] != r->function)
        return RTUFRAME_EBADFUNCTION;
    if (n < RTUFRAME_HEAD_LEN) {
        *len = RTUFRAME_HEAD_LEN;
        return 0;
    }
    if (a[2] != rtuframe_data_len(r))
        return RTUFRAME_EBADCOUNT;
    *len = RTUFRAME_HEAD_LEN + a[2] + RTUFRAME_CRC_LEN;
    return 0;
}

int rtuframe_answer_decode(const struct rtuframe_read *r, const uint8_t *a,
                           size_t len, uint16_t *dest)
{
    const uint8_t *data = a + RTUFRAME_HEAD_LEN;
    size_t want;
    int rc;

    /* Judged on the whole frame, the head gives its final length (or
     * one beyond a frame too short to hold its byte count). */
    if ((rc = rtuframe_answer_head(r, a, len, &want)) != 0)
        return rc;
    if (len < want)
        return RTUFRAME_ESHORT;
    if (len > want)
        return RTUFRAME_ELONG;
    if (rtuframe_crc16(a, len - RTUFRAME_CRC_LEN) !=
        (uint16_t)(a[len - 2] | a[len - 1] << 8))
        return RTUFRAME_EBADCRC;
    if (a[1] & RTUFRAME_EXCEPTION_BIT)
        return RTUFRAME_EXCEPTION + a[2];
    for (int i = 0; i < r->count; i++) {
        if (rtuframe_is_bits(r))
            dest[i] = (uint16_t)((data[i / 8] >> (i % 8)) & 1);
        else
            dest[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
    }
    return 0;
}

bool rtuframe_is_error(int errnum)
{
    return (errnum > RTUFRAME_EBASE && errnum <= RTUFRAME_ELONG) ||
           (errnum >= RTUFRAME_EXCEPTION && errnum <= RTUFRAME_ELAST);
}

const char *rtuframe_strerror(int errnum)
{
    switch (errnum) {
    case RTUFRAME_EBADCRC:
        return "Invalid CRC";
    case RTUFRAME_EBADUNIT:
        return "Answer from another unit";
    case RTUFRAME_EBADFUNCTION:
        return "Answer to another function";
    case RTUFRAME_EBADCOUNT:
        return "Answer with a byte count not asked for";
    case RTUFRAME_ESHORT:
        return "Answer cut short";
    case RTUFRAME_ELONG:
        return "Answer followed by more bytes";
    default:
        break;
    }
    if (errnum >= RTUFRAME_EXCEPTION && errnum <= RTUFRAME_ELAST)
        return "Exception answer";
    return NULL;
}
