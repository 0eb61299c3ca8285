/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the times users type (`tbdaq export --from/--to`,
 * calibration dates): time_parse_iso(), and the two formatters that must
 * agree, time_format_iso() and fmt_time_iso().
 *
 * The whole input is the text to parse; its first 8 bytes are also a
 * time in microseconds to format. The parse is checked against a
 * reference parser below (which accepts what time_parse_iso() is meant to
 * accept: 'T', 't' or ' ' between date and time, '.' or ',' before the
 * fraction, 'Z' or 'z', offsets "+hh:mm" or "+hhmm", second 60), and
 * every accepted time must format and parse back to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "common/util.h"

/* 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the years four digits
 * can write. */
#define FUZZ_TIME_MIN_S INT64_C(-62167219200)
#define FUZZ_TIME_END_S INT64_C(253402300800)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz_time_num(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 0000-01-01 by counting leap years before y, not by era. */
static int64_t fuzz_time_days(int64_t y, int m, int d)
{
    static const int before[] = {0,   31,  59,  90,  120, 151,
                                 181, 212, 243, 273, 304, 334};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return y * 365 + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400 +
           before[m - 1] + (m > 2 && leap) + d - 1;
}

static int fuzz_time_ref(const char *s, int64_t *us)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t n = strlen(s), i;
    int y, mo, d, h = 0, mi = 0, sec = 0, off = 0, leap;
    int64_t frac = 0, scale = 100000;

    if (n < 10 || s[4] != '-' || s[7] != '-')
        return -1;
    y = fuzz_time_num(s, 4);
    mo = fuzz_time_num(s + 5, 2);
    d = fuzz_time_num(s + 8, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1)
        return -1;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    if (n > 10) {
        if (n < 20 || !strchr("Tt ", s[10]) || s[13] != ':' || s[16] != ':')
            return -1;
        h = fuzz_time_num(s + 11, 2);
        mi = fuzz_time_num(s + 14, 2);
        sec = fuzz_time_num(s + 17, 2);
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
            return -1;
        i = 19;
        if (s[i] == '.' || s[i] == ',') {
            size_t start = ++i;

            for (; s[i] >= '0' && s[i] <= '9'; i++, scale /= 10)
                frac += (s[i] - '0') * scale;
            if (i == start)
                return -1;
        }
        if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
            off = 0;
        } else if ((s[i] == '+' || s[i] == '-') &&
                   (n - i == 6 || (n - i == 5))) {
            int oh = fuzz_time_num(s + i + 1, 2),
                om = n - i == 6
                         ? (s[i + 3] == ':' ? fuzz_time_num(s + i + 4, 2) : -1)
                         : fuzz_time_num(s + i + 3, 2);

            if (oh < 0 || oh > 23 || om < 0 || om > 59)
                return -1;
            off = (s[i] == '-' ? -1 : 1) * (oh * 60 + om) * 60;
        } else {
            return -1;
        }
    }
    *us = ((fuzz_time_days(y, mo, d) - fuzz_time_days(1970, 1, 1)) * 86400 +
           h * 3600 + mi * 60 + sec - off) *
              US_PER_S +
          frac;
    return 0;
}

static void fuzz_time_format(int64_t us)
{
    char a[TIME_ISO_LEN], b[TIME_ISO_LEN];
    int64_t back;

    if (us < FUZZ_TIME_MIN_S * US_PER_S || us >= FUZZ_TIME_END_S * US_PER_S)
        return; /* gmtime_r()'s and printf's business */
    time_format_iso(us, a);
    if (fmt_time_iso(us, b) != strlen(b) || strcmp(a, b) != 0)
        abort();
    if (time_parse_iso(a, &back) != 0 || back != us)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    int64_t us = 0, ref = 0, raw = 0;
    int rc, want;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    rc = time_parse_iso(s, &us);
    /* an embedded NUL ends the text: both parsers see the same prefix */
    want = fuzz_time_ref(s, &ref);
    if (rc != want || (rc == 0 && us != ref))
        abort();
    if (rc == 0)
        fuzz_time_format(us);
    free(s);

    memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
    fuzz_time_format(raw);
    return 0;
}
