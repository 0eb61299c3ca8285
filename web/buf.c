// SPDX-License-Identifier: MIT
/*
 * The response buffer and its escapes (buf.h). Numbers go through
 * common/fmt.c, so a value reads the same on the page, in JSON, in the
 * metrics and in `tbdaq export`.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "common/jsonw.h"
#include "common/util.h"
#include "web/buf.h"

/* What buf_printf() expects a line to take at most, most of the time. */
#define BUF_PRINTF_GUESS 256

/* Room for n more bytes and a NUL. */
static void buf_room(struct buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap)
        xgrow(&b->p, &b->cap, b->len + n + 1, 1);
}

void buf_release(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *buf_steal(struct buf *b, size_t *len)
{
    char *p = b->p;

    *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void buf_add(struct buf *b, const char *s, size_t n)
{
    buf_room(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    /* Formatted once into the room there is; a second time only when it
     * did not fit. */
    buf_room(b, BUF_PRINTF_GUESS);
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        buf_room(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void buf_reserve(struct buf *b, size_t n)
{
    buf_room(b, n);
}

void buf_html(struct buf *b, const char *s)
{
    for (; *s; s++) {
        size_t run = strcspn(s, "&<>\"'");

        if (run) { /* the common case: nothing to escape */
            buf_add(b, s, run);
            s += run;
            if (!*s)
                break;
        }
        switch (*s) {
        case '&':
            buf_add(b, "&amp;", 5);
            break;
        case '<':
            buf_add(b, "&lt;", 4);
            break;
        case '>':
            buf_add(b, "&gt;", 4);
            break;
        case '"':
            buf_add(b, "&quot;", 6);
            break;
        case '\'':
            buf_add(b, "&#39;", 5);
            break;
        default:
            buf_add(b, s, 1);
        }
    }
}

void buf_json_str(struct buf *b, const char *s)
{
    size_t n;

    if (!s) {
        buf_add(b, "null", 4);
        return;
    }
    n = strlen(s);
    buf_room(b, JSONW_STRING_MAX(n));
    b->len = (size_t)(jsonw_string(b->p + b->len, s, n) - b->p);
    b->p[b->len] = '\0';
}

void buf_json_num(struct buf *b, double v)
{
    buf_room(b, JSONW_DOUBLE_MAX);
    b->len = (size_t)(jsonw_double(b->p + b->len, v) - b->p);
    b->p[b->len] = '\0';
}

void buf_prom_label(struct buf *b, const char *s)
{
    for (; *s; s++) {
        size_t run = strcspn(s, "\\\"\n");

        if (run) {
            buf_add(b, s, run);
            s += run;
            if (!*s)
                break;
        }
        if (*s == '\\')
            buf_add(b, "\\\\", 2);
        else if (*s == '"')
            buf_add(b, "\\\"", 2);
        else if (*s == '\n')
            buf_add(b, "\\n", 2);
        else
            buf_add(b, s, 1);
    }
}

void buf_prom_num(struct buf *b, double v)
{
    char tmp[FMT_DOUBLE_LEN];

    if (isnan(v))
        buf_puts(b, "NaN");
    else if (isinf(v))
        buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        buf_add(b, tmp, fmt_double(v, tmp));
}

void buf_time(struct buf *b, int64_t us)
{
    char ts[TIME_ISO_LEN];

    time_format_iso(us, ts);
    buf_puts(b, ts);
}
