/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for drivers/rtuframe.c: answers to a read as a device
 * server would pass them on, whatever their bytes.
 *
 * Input layout: bytes 0..5 the read (unit, function, address and count,
 * each folded into its valid range), the rest the bytes that arrive. The
 * answer is judged as rtutcp.c reads it, part by part, and then whole;
 * the two must agree, an accepted answer must have exactly the length and
 * CRC the specification asks, and its words must be its data bytes (each
 * bit a word 0 or 1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/rtuframe.h"

#define FUZZ_RTU_HEAD 6
#define FUZZ_RTU_MAX_WORDS 2000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The read of the input's first bytes, always valid. */
static struct rtuframe_read fuzz_rtu_read(const uint8_t *d)
{
    struct rtuframe_read r;
    int max;

    r.unit = 1 + d[0] % RTUFRAME_UNIT_MAX;
    r.function = 1 + d[1] % 4;
    max = r.function <= 2 ? 2000 : 125;
    r.count = 1 + (d[4] << 8 | d[5]) % max;
    r.address = (d[2] << 8 | d[3]) % (65536 - r.count + 1);
    return r;
}

/* Judged as rtutcp_read() does: ask for the length the head gives until
 * it stops growing or the bytes run out. Returns 0 with *len, or the
 * head's error; -1 if the bytes end before the head is done. */
static int fuzz_rtu_parts(const struct rtuframe_read *r, const uint8_t *a,
                          size_t n, size_t *len)
{
    size_t want = 0;

    for (;;) {
        size_t got = want < n ? want : n;
        int rc = rtuframe_answer_head(r, a, got, len);

        if (rc != 0)
            return rc;
        if (*len > RTUFRAME_MAX_LEN)
            abort();
        if (*len == want)
            return 0;
        if (*len > n)
            return -1;
        want = *len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint16_t words[FUZZ_RTU_MAX_WORDS];
    struct rtuframe_read r;
    const uint8_t *a = data + FUZZ_RTU_HEAD;
    size_t n, len = 0;
    int whole, parts;

    if (size < FUZZ_RTU_HEAD || size - FUZZ_RTU_HEAD > RTUFRAME_MAX_LEN)
        return 0;
    r = fuzz_rtu_read(data);
    if (!rtuframe_read_is_valid(&r))
        abort();
    n = size - FUZZ_RTU_HEAD;
    whole = rtuframe_answer_decode(&r, a, n, words);
    parts = fuzz_rtu_parts(&r, a, n, &len);
    /* A head the parts refuse is refused whole, for the same reason. */
    if (parts > 0 && whole != parts)
        abort();
    if (whole != 0)
        return 0;
    /* Accepted: the parts ended exactly at its end, its CRC holds, and
     * its words are its data. */
    if (parts != 0 || len != n || n != 3 + rtuframe_data_len(&r) + 2 ||
        a[0] != r.unit || a[1] != r.function ||
        rtuframe_crc16(a, n - 2) != (a[n - 2] | a[n - 1] << 8))
        abort();
    for (int i = 0; i < r.count; i++) {
        uint16_t want = r.function <= 2
                            ? (uint16_t)((a[3 + i / 8] >> (i % 8)) & 1)
                            : (uint16_t)(a[3 + 2 * i] << 8 | a[4 + 2 * i]);

        if (words[i] != want)
            abort();
    }
    return 0;
}
