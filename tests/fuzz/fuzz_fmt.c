/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the number and string writers of the export and
 * the MQTT payloads and the audit chain: fmt_double(), fmt_g17(),
 * fmt_int64(), jsonw_double() and jsonw_string().
 *
 * The first 8 input bytes are a double (and an int64), the rest a string.
 * fmt_double() must print byte for byte what the printf loop its header
 * describes prints, and read back to the same bits; fmt_g17() what
 * snprintf's "%.17g" prints; jsonw_string() must write a JSON string
 * that a strict reader (RFC 8259) decodes to the input bytes.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonw.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The loop fmt.h describes: the shortest of %.15g..%.17g that reads back. */
static void fuzz_fmt_ref(double v, char buf[FMT_DOUBLE_LEN])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, FMT_DOUBLE_LEN, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v)
            break;
    }
}

static void fuzz_fmt_double(double v)
{
    char got[FMT_DOUBLE_LEN], want[FMT_DOUBLE_LEN], json[JSONW_DOUBLE_MAX + 1];
    size_t len = fmt_double(v, got), jlen;
    double back;

    fuzz_fmt_ref(v, want);
    if (len != strlen(got) || strcmp(got, want) != 0)
        abort();
    if (isfinite(v)) {
        back = strtod(got, NULL);
        if (memcmp(&back, &v, sizeof(v)) != 0)
            abort();
    }
    jlen = (size_t)(jsonw_double(json, v) - json);
    if (jlen > JSONW_DOUBLE_MAX)
        abort();
    json[jlen] = '\0';
    if (strcmp(json, isfinite(v) ? got : "null") != 0)
        abort();
}

static void fuzz_fmt_g17(double v)
{
    char got[FMT_DOUBLE_LEN], want[FMT_DOUBLE_LEN];
    size_t len = fmt_g17(v, got);

    snprintf(want, sizeof(want), "%.17g", v);
    if (len != strlen(got) || strcmp(got, want) != 0)
        abort();
}

static void fuzz_fmt_int64(int64_t v)
{
    char got[FMT_INT64_LEN], want[FMT_INT64_LEN];
    size_t len = fmt_int64(v, got);

    snprintf(want, sizeof(want), "%" PRId64, v);
    if (len != strlen(got) || strcmp(got, want) != 0)
        abort();
}

static int fuzz_fmt_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes the JSON string at j (len bytes, quotes included) into out;
 * aborts on anything RFC 8259 refuses. jsonw_string() passes bytes >= 0x80
 * through, so \u escapes are only expected (and only decoded) below 0x80.
 */
static size_t fuzz_fmt_unjson(const char *j, size_t len, char *out)
{
    size_t k = 0;

    if (len < 2 || j[0] != '"' || j[len - 1] != '"')
        abort();
    for (size_t i = 1; i < len - 1; i++) {
        unsigned char c = (unsigned char)j[i];

        if (c < 0x20 || c == '"')
            abort(); /* must have been escaped */
        if (c != '\\') {
            out[k++] = (char)c;
            continue;
        }
        if (++i >= len - 1)
            abort();
        switch (j[i]) {
        case '"':
        case '\\':
        case '/':
            out[k++] = j[i];
            break;
        case 'b':
            out[k++] = '\b';
            break;
        case 'f':
            out[k++] = '\f';
            break;
        case 'n':
            out[k++] = '\n';
            break;
        case 'r':
            out[k++] = '\r';
            break;
        case 't':
            out[k++] = '\t';
            break;
        case 'u': {
            int cp = 0;

            if (i + 4 >= len - 1)
                abort();
            for (int h = 1; h <= 4; h++) {
                int d = fuzz_fmt_hex(j[i + h]);

                if (d < 0)
                    abort();
                cp = cp << 4 | d;
            }
            if (cp >= 0x80)
                abort();
            out[k++] = (char)cp;
            i += 4;
            break;
        }
        default:
            abort();
        }
    }
    return k;
}

static void fuzz_fmt_string(const char *s, size_t n)
{
    char *j = malloc(JSONW_STRING_MAX(n)), *back = malloc(n + 1),
         *z = malloc(n + 1);
    size_t len, blen;

    if (!j || !back || !z)
        abort();
    len = (size_t)(jsonw_string(j, s, n) - j);
    if (len > JSONW_STRING_MAX(n))
        abort();
    blen = fuzz_fmt_unjson(j, len, back);
    if (blen != n || memcmp(back, s, n) != 0)
        abort();
    /* the NUL-terminated form writes the same as far as the first NUL */
    memcpy(z, s, n);
    z[n] = '\0';
    free(j);
    j = malloc(JSONW_STRING_MAX(strlen(z)) < 4 ? 4
                                               : JSONW_STRING_MAX(strlen(z)));
    if (!j)
        abort();
    len = (size_t)(jsonw_string_or_null(j, z) - j);
    blen = fuzz_fmt_unjson(j, len, back);
    if (blen != strlen(z) || memcmp(back, z, blen) != 0)
        abort();
    free(j);
    free(back);
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t head[8] = {0};
    double d;
    int64_t i;

    memcpy(head, data, size < sizeof(head) ? size : sizeof(head));
    memcpy(&d, head, sizeof(d));
    memcpy(&i, head, sizeof(i));
    fuzz_fmt_double(d);
    fuzz_fmt_g17(d);
    fuzz_fmt_int64(i);
    if (size > sizeof(head))
        fuzz_fmt_string((const char *)data + sizeof(head), size - sizeof(head));
    return 0;
}
