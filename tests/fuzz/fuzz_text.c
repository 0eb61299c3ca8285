/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the text users hand the CLI (run names, operator
 * and notes) and what the export writes of it: text_is_name(),
 * text_is_clean() and the CSV field writer.
 *
 * Byte 0 of the input is the length limit (255 stands for SIZE_MAX), the
 * rest the text. Both checks are compared with reference versions written
 * from text.h's words, and every CSV field must parse back, by RFC 4180's
 * rules, to the bytes it was written from.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/csv.h"
#include "common/text.h"

/* The limit byte that means "no limit". */
#define FUZZ_TEXT_NO_MAX 255

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fuzz_text_ref_name(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n < 1 || n > max)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-") == n;
}

/* RFC 3629 decoding, one code point at a time. */
static bool fuzz_text_ref_clean(const char *text, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = strlen(text), i = 0;

    if (n > max)
        return false;
    while (i < n) {
        uint32_t cp, min;
        size_t len;

        if (s[i] < 0x80) {
            cp = s[i], len = 1, min = 0;
        } else if (s[i] >= 0xc0 && s[i] < 0xe0) {
            cp = s[i] & 0x1f, len = 2, min = 0x80;
        } else if (s[i] >= 0xe0 && s[i] < 0xf0) {
            cp = s[i] & 0x0f, len = 3, min = 0x800;
        } else if (s[i] >= 0xf0 && s[i] < 0xf8) {
            cp = s[i] & 0x07, len = 4, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return false;
        i += len;
    }
    return true;
}

/* Reads back one field written by csv_field(); it must be all of out. */
static void fuzz_text_csv(const char *s, size_t n)
{
    char *out = malloc(CSV_FIELD_MAX(n) + 1), *back = malloc(n + 1);
    bool quoted = csv_needs_quotes(s, n), want = false;
    size_t len, k = 0;

    if (!out || !back)
        abort();
    for (size_t i = 0; i < n; i++)
        want |= s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (quoted != want)
        abort();
    len = (size_t)(csv_field(out, s, n) - out);
    if (len > CSV_FIELD_MAX(n))
        abort();
    if (!quoted) {
        if (len != n || memcmp(out, s, n) != 0)
            abort();
    } else {
        if (len < 2 || out[0] != '"' || out[len - 1] != '"')
            abort();
        for (size_t i = 1; i < len - 1; i++) {
            if (out[i] == '"') {
                /* a quote inside is always doubled */
                if (i + 1 >= len - 1 || out[i + 1] != '"')
                    abort();
                i++;
            }
            back[k++] = out[i];
        }
        if (k != n || memcmp(back, s, n) != 0)
            abort();
    }
    free(out);
    free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max;
    char *s;

    if (size < 1)
        return 0;
    max = data[0] == FUZZ_TEXT_NO_MAX ? SIZE_MAX : data[0];
    s = malloc(size);
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    if (text_is_name(s, max) != fuzz_text_ref_name(s, max))
        abort();
    if (text_is_clean(s, max) != fuzz_text_ref_clean(s, max))
        abort();
    /* the field writer takes any bytes, NUL included */
    fuzz_text_csv((const char *)data + 1, size - 1);
    free(s);
    return 0;
}
