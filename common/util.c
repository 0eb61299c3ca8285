// SPDX-License-Identifier: MIT
/*
 * Allocation wrappers, clocks, and ISO 8601 time stamps: parsed here,
 * formatted by common/fmt.c (time_format_iso() is its fmt_time_iso()).
 */
#include "common/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fmt.h"

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        abort();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        abort();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        abort();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (!p)
        abort();
    return p;
}

void xgrow(void *v, size_t *cap, size_t need, size_t elem)
{
    void **vp = v;
    size_t n = *cap ? *cap : 8;

    if (need <= *cap)
        return;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem)
        abort();
    *vp = xrealloc(*vp, n * elem);
    *cap = n;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    s = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t time_real_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

int64_t time_real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Floor division, so dates before 1970 parse correctly too. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* One formatter for the whole tree: fmt.c's, which the export needs fast. */
void time_format_iso(int64_t us, char buf[TIME_ISO_LEN])
{
    fmt_time_iso(us, buf);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + (int64_t)doe - 719468;
}

/* Reads exactly n digits. Returns the value, or -1. */
static int digits(const char **s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return v;
}

static int days_in_month(int y, int m)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 ? 28 + leap : mdays[m - 1];
}

int time_parse_iso(const char *s, int64_t *us)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
    int64_t frac = 0;

    if ((y = digits(&s, 4)) < 0 || *s++ != '-' || (mo = digits(&s, 2)) < 0 ||
        *s++ != '-' || (d = digits(&s, 2)) < 0)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return -1;
    if (*s == '\0')
        goto done;
    if (*s != 'T' && *s != 't' && *s != ' ')
        return -1;
    s++;
    if ((h = digits(&s, 2)) < 0 || *s++ != ':' || (mi = digits(&s, 2)) < 0 ||
        *s++ != ':' || (sec = digits(&s, 2)) < 0)
        return -1;
    if (h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*s == '.' || *s == ',') {
        int64_t scale = 100000;

        s++;
        if (!isdigit((unsigned char)*s))
            return -1;
        for (; isdigit((unsigned char)*s); s++) {
            frac += (*s - '0') * scale;
            scale /= 10;
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1, oh, om;

        if ((oh = digits(&s, 2)) < 0 || oh > 23)
            return -1;
        if (*s == ':')
            s++;
        if ((om = digits(&s, 2)) < 0 || om > 59)
            return -1;
        off = sign * (oh * 60 + om) * 60;
    } else {
        return -1; /* a time without a zone is ambiguous */
    }
    if (*s != '\0')
        return -1;
done:
    *us = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 +
            mi * 60 + sec - off) *
           US_PER_S) +
          frac;
    return 0;
}

void hex_words(const uint16_t *w, size_t n, char *buf)
{
    static const char hex[] = "0123456789abcdef";
    char *p = buf;

    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ' ';
        for (int shift = 12; shift >= 0; shift -= 4)
            *p++ = hex[(w[i] >> shift) & 0xf];
    }
    *p = '\0';
}
