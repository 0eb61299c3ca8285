// SPDX-License-Identifier: MIT
/*
 * Name and free-text checks: the one place that says what a name is and
 * what clean text is, for the configuration (lib/config*.c), the CLI, the
 * control channel and the export alike.
 */
#include "common/text.h"

#include <stdint.h>
#include <string.h>

bool text_is_name(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];

        if (n >= max ||
            !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return n > 0;
}

/* Decodes one UTF-8 sequence at s; returns its length and sets *cp, or
 * returns 0 if it is not a valid shortest-form sequence. */
static size_t text_utf8(const unsigned char *s, uint32_t *cp)
{
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

bool text_is_clean(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;

    if (strlen(s) > max)
        return false;
    while (*p) {
        uint32_t c;
        size_t len = text_utf8(p, &c);

        if (len == 0 || c < 0x20 || (c >= 0x7f && c <= 0x9f))
            return false;
        p += len;
    }
    return true;
}

bool text_is_printable_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}
