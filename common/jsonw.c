// SPDX-License-Identifier: MIT
/*
 * JSON strings and numbers.
 */
#include "common/jsonw.h"

#include <math.h>
#include <string.h>

char *jsonw_string(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";

    *dst++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch >= 0x20 && ch != '"' && ch != '\\') {
            *dst++ = (char)ch;
            continue;
        }
        *dst++ = '\\';
        switch (ch) {
        case '"':
        case '\\':
            *dst++ = (char)ch;
            break;
        case '\n':
            *dst++ = 'n';
            break;
        case '\r':
            *dst++ = 'r';
            break;
        case '\t':
            *dst++ = 't';
            break;
        case '\b':
            *dst++ = 'b';
            break;
        case '\f':
            *dst++ = 'f';
            break;
        default:
            memcpy(dst, "u00", 3);
            dst[3] = hex[ch >> 4];
            dst[4] = hex[ch & 0xf];
            dst += 5;
        }
    }
    *dst++ = '"';
    return dst;
}

char *jsonw_string_or_null(char *dst, const char *s)
{
    if (!s) {
        memcpy(dst, "null", 4);
        return dst + 4;
    }
    return jsonw_string(dst, s, strlen(s));
}

char *jsonw_double(char *dst, double v)
{
    if (!isfinite(v)) {
        memcpy(dst, "null", 4);
        return dst + 4;
    }
    return dst + fmt_double(v, dst);
}
