// SPDX-License-Identifier: MIT
/*
 * RFC 4180 field quoting.
 */
#include "common/csv.h"

#include <string.h>

bool csv_needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

char *csv_field(char *dst, const char *s, size_t n)
{
    if (!csv_needs_quotes(s, n)) {
        memcpy(dst, s, n);
        return dst + n;
    }
    *dst++ = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            *dst++ = '"';
        *dst++ = s[i];
    }
    *dst++ = '"';
    return dst;
}
