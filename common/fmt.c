// SPDX-License-Identifier: MIT
/*
 * Exact, fast number and time formatting: the export writes a million
 * rows a second with these, and everything else (payloads, logs, the CLI)
 * uses the same ones, so that a value or a time reads the same wherever
 * it is written.
 *
 * fmt_double() must print what the "%.15g, %.16g, %.17g, first that reads
 * back" loop prints, at a fraction of its cost (three snprintf and three
 * strtod calls per value would cap an export well below a million rows a
 * second). Integers below 10^15 are their own digits. Values in
 * [1e-4, 1e15), which is nearly every measurement, get their 15, 16 or 17
 * correctly rounded digits from exact 128-bit integer arithmetic. Others
 * take one snprintf("%.16e") for 17 correctly rounded digits and derive the
 * 15- and 16-digit candidates from them. Each candidate is checked with one
 * exact multiplication or division where that is exact, strtod() where
 * not.
 *
 * fmt_g17() is printf's "%.17g", the audit chain's text of a value: every
 * reading committed or verified goes through it, and snprintf's long
 * arithmetic was 8% of the daemon's main thread. Its 17 digits come
 * from one 64 x 64-bit product (or a 128-bit quotient, above 10^17) and a
 * shift, rounded as printf rounds; values it cannot do that for exactly
 * go to snprintf.
 */
#include "common/fmt.h"
#include "common/pow10.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers below 2^53 are exact doubles. */
#define FMT_EXACT_INT_LIMIT 9007199254740992.0
/* The fewest digits tried (%.15g: any 15-digit decimal survives a trip
 * through a double, DBL_DIG) and the most (%.17g always round-trips). */
#define FMT_DIGITS_MIN 15
#define FMT_DIGITS_MAX 17
/* The range of the exact path: what %.15g prints without an exponent,
 * and small enough for 128-bit products (see fmt_exact). */
#define FMT_FIXED_LO 1e-4
#define FMT_FIXED_HI 1e15
/* Years up to this are written as four digits without printf; others
 * (a time stamp before year 0 or after 9999) as "%04d" writes them. */
#define FMT_YEAR_DIGITS_MAX 9999

/* "00" .. "99": two digits per division. */
static const char fmt_digit_pairs[] = "00010203040506070809"
                                      "10111213141516171819"
                                      "20212223242526272829"
                                      "30313233343536373839"
                                      "40414243444546474849"
                                      "50515253545556575859"
                                      "60616263646566676869"
                                      "70717273747576777879"
                                      "80818283848586878889"
                                      "90919293949596979899";

size_t fmt_int64(int64_t v, char buf[FMT_INT64_LEN])
{
    char tmp[FMT_INT64_LEN];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    size_t n;

    while (u >= 100) {
        p -= 2;
        memcpy(p, fmt_digit_pairs + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, fmt_digit_pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(buf, p, n);
    buf[n] = '\0';
    return n;
}

static bool fmt_same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/*
 * Writes the n digits d (d[0] != 0, no trailing zeros), meaning
 * d[0].d[1]... x 10^x, the way %.{prec}g does after rounding: plain if
 * -4 <= x < prec, else with an exponent of at least two digits.
 */
static char *fmt_g(char *p, const char *d, int n, int x, int prec)
{
    if (x < -4 || x >= prec) {
        int e = x < 0 ? -x : x;

        *p++ = d[0];
        if (n > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)n - 1);
            p += n - 1;
        }
        *p++ = 'e';
        *p++ = x < 0 ? '-' : '+';
        if (e >= 100)
            *p++ = (char)('0' + e / 100);
        *p++ = (char)('0' + e / 10 % 10);
        *p++ = (char)('0' + e % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x; i++)
            *p++ = i < n ? d[i] : '0';
        if (n > x + 1) {
            *p++ = '.';
            memcpy(p, d + x + 1, (size_t)(n - x - 1));
            p += n - x - 1;
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)n);
        p += n;
    }
    return p;
}

/* True if the decimal d[0..n-1] x 10^x reads back as a (positive). */
static bool fmt_reads_back(const char *d, int n, int x, double a)
{
    char tmp[FMT_DOUBLE_LEN];
    double m = 0;
    int scale = x - (n - 1);

    for (int i = 0; i < n; i++)
        m = m * 10 + (d[i] - '0');
    /* An exact integer times or over an exact power of ten is one
     * correctly rounded operation: the same double strtod() finds. */
    if (m < FMT_EXACT_INT_LIMIT && scale >= -POW10_EXACT_MAX &&
        scale <= POW10_EXACT_MAX)
        return fmt_same_bits(
            scale >= 0 ? m * pow10_exact[scale] : m / pow10_exact[-scale], a);
    snprintf(tmp, sizeof(tmp), "%c.%.*se%d", d[0], n - 1, d + 1, x);
    return fmt_same_bits(strtod(tmp, NULL), a);
}

/* Parses "d.ddde+XX" as printed by %.{n-1}e into n digits and x. */
static void fmt_parse_e(const char *s, char *d, int n, int *x)
{
    d[0] = s[0];
    memcpy(d + 1, s + 2, (size_t)n - 1);
    *x = atoi(s + n + 2);
}

/* Rounds the 17 digits d17 (x) to prec digits in d (and *x). The 17 are
 * rounded already, so a dropped tail of exactly 5 or 50 could be a double
 * rounding: then printf decides, from the exact value. */
static void fmt_round(const char *d17, double a, int prec, char *d, int *x)
{
    const char *tail = d17 + prec;
    bool half = tail[0] == '5' && (prec == 16 || tail[1] == '0');

    if (half) {
        char tmp[FMT_DOUBLE_LEN];

        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, a);
        fmt_parse_e(tmp, d, prec, x);
        return;
    }
    memcpy(d, d17, (size_t)prec);
    if (tail[0] >= '5') {
        int i = prec - 1;

        while (i >= 0 && d[i] == '9')
            d[i--] = '0';
        if (i >= 0) {
            d[i]++;
        } else {
            d[0] = '1';
            (*x)++;
        }
    }
}

/* 128-bit integers: GCC and Clang have them; __extension__ keeps
 * -Wpedantic quiet about it. */
__extension__ typedef unsigned __int128 fmt_u128;

/*
 * The exact path, for a in [1e-4, 1e15) (not an integer): a = m / 2^l
 * with 2^52 <= m < 2^53 and 0 < l <= 66, so a x 10^s (s <= 20) is the
 * quotient and remainder of m x 10^s (below 2^120) by 2^l. That gives the
 * first prec significant digits q, correctly rounded (ties to even, as
 * printf does), and how far q lies from a, which says exactly whether
 * strtod() would read q back as a: it does if q lies within half the gap
 * to a's neighbours (a tie goes to the even mantissa). *x is the decimal
 * exponent of a (an estimate on entry, corrected here). Sets *q and
 * returns whether it reads back.
 */
static bool fmt_exact(uint64_t m, int l, int prec, int *x, uint64_t *q)
{
    uint64_t lo = pow10_u64[prec - 1], hi = pow10_u64[prec];
    fmt_u128 prod, p10, r, half, dist;
    int s;

    for (;;) {
        s = prec - 1 - *x;
        p10 = (fmt_u128)pow10_u64[s < 19 ? s : 19] *
              (s > 19 ? pow10_u64[s - 19] : 1);
        prod = (fmt_u128)m * p10;
        *q = (uint64_t)(prod >> l);
        if (*q < lo)
            (*x)--;
        else if (*q >= hi)
            (*x)++;
        else
            break;
    }
    r = prod & (((fmt_u128)1 << l) - 1);
    half = (fmt_u128)1 << (l - 1);
    if (r > half || (r == half && (*q & 1))) {
        /* q is above a by 2^l - r, in units of 10^-s / 2^l; half the
         * gap to the next double up is 10^s / 2 of those */
        dist = 2 * (((fmt_u128)1 << l) - r);
        (*q)++;
        if (*q == hi) {
            *q = lo;
            (*x)++;
        }
        return dist < p10 || (dist == p10 && !(m & 1));
    }
    /* q is below a by r; the gap down is half as wide at a power of two */
    dist = (m == (UINT64_C(1) << 52) ? 4 : 2) * r;
    return dist < p10 || (dist == p10 && !(m & 1));
}

size_t fmt_double(double v, char buf[FMT_DOUBLE_LEN])
{
    char d17[FMT_DIGITS_MAX + 1], d[FMT_INT64_LEN], tmp[FMT_DOUBLE_LEN];
    char *p = buf, *end;
    double a = fabs(v);
    int x17, n;

    if (!isfinite(v))
        return (size_t)snprintf(buf, FMT_DOUBLE_LEN, "%.17g", v);
    if (signbit(v))
        *p++ = '-';
    if (a < FMT_FIXED_HI && a == (double)(int64_t)a) {
        /* An integer (or zero) below 10^15: its digits are %.15g's. */
        return (size_t)(p - buf) + fmt_int64((int64_t)a, p);
    }
    if (a >= FMT_FIXED_LO && a < FMT_FIXED_HI) {
        uint64_t m, q = 0;
        int e, l, x = 0, prec;

        m = (uint64_t)ldexp(frexp(a, &e), 53);
        l = 53 - e;
        /* an estimate of the decimal exponent; fmt_exact corrects it */
        while (x < 14 && a >= pow10_exact[x + 1])
            x++;
        while (x <= 0 && x > -4 && a * pow10_exact[-x] < 1)
            x--;
        for (prec = FMT_DIGITS_MIN; prec < FMT_DIGITS_MAX; prec++)
            if (fmt_exact(m, l, prec, &x, &q))
                break;
        if (prec == FMT_DIGITS_MAX)
            fmt_exact(m, l, prec, &x, &q);
        fmt_int64((int64_t)q, d);
        for (n = prec; n > 1 && d[n - 1] == '0'; n--)
            ;
        end = fmt_g(p, d, n, x, prec);
        *end = '\0';
        return (size_t)(end - buf);
    }
    snprintf(tmp, sizeof(tmp), "%.*e", FMT_DIGITS_MAX - 1, a);
    fmt_parse_e(tmp, d17, FMT_DIGITS_MAX, &x17);
    for (int prec = FMT_DIGITS_MIN; prec < FMT_DIGITS_MAX; prec++) {
        int x = x17;

        fmt_round(d17, a, prec, d, &x);
        for (n = prec; n > 1 && d[n - 1] == '0'; n--)
            ;
        if (fmt_reads_back(d, n, x, a)) {
            end = fmt_g(p, d, n, x, prec);
            *end = '\0';
            return (size_t)(end - buf);
        }
    }
    for (n = FMT_DIGITS_MAX; n > 1 && d17[n - 1] == '0'; n--)
        ;
    end = fmt_g(p, d17, n, x17, FMT_DIGITS_MAX);
    *end = '\0';
    return (size_t)(end - buf);
}

/* 5^0 .. 5^27: every power of five a uint64_t holds. */
#define FMT_POW5_MAX 27
static const uint64_t fmt_pow5[FMT_POW5_MAX + 1] = {
    UINT64_C(1),
    UINT64_C(5),
    UINT64_C(25),
    UINT64_C(125),
    UINT64_C(625),
    UINT64_C(3125),
    UINT64_C(15625),
    UINT64_C(78125),
    UINT64_C(390625),
    UINT64_C(1953125),
    UINT64_C(9765625),
    UINT64_C(48828125),
    UINT64_C(244140625),
    UINT64_C(1220703125),
    UINT64_C(6103515625),
    UINT64_C(30517578125),
    UINT64_C(152587890625),
    UINT64_C(762939453125),
    UINT64_C(3814697265625),
    UINT64_C(19073486328125),
    UINT64_C(95367431640625),
    UINT64_C(476837158203125),
    UINT64_C(2384185791015625),
    UINT64_C(11920928955078125),
    UINT64_C(59604644775390625),
    UINT64_C(298023223876953125),
    UINT64_C(1490116119384765625),
    UINT64_C(7450580596923828125),
};

/* The binary exponents fmt_g17 formats itself: |v| in [2^-36, 2^143),
 * about [1.46e-11, 1.12e43). For these, floor(log10 |v|) and the estimate
 * below it both lie in -11 .. 43, so 10^(16-k) is 5^s x 2^s with s within
 * the table of fives either way; fmt_scale17 says why the rest fits. */
#define FMT_G17_EXP_MIN (-36)
#define FMT_G17_EXP_MAX 142
/* 2^52: the hidden bit of a normal double's mantissa. */
#define FMT_MANT_BIT (UINT64_C(1) << 52)

/*
 * floor(x log10 2): 78913 / 2^18 is close enough to log10 2 that the
 * floor is exact for every |x| below 1024 (compared with a 60-digit
 * log10 2; the tests format 2^x, the least value of each binade, and the
 * greatest, for every x, which would show an estimate one off). C's
 * division rounds towards zero, so a negative product is moved down first.
 */
static int fmt_floor_log10_pow2(int x)
{
    const int den = 1 << 18;
    int n = x * 78913;

    return (n >= 0 ? n : n - (den - 1)) / den;
}

/*
 * floor(m x 2^e x 10^(16-k)), and in *half where the part it drops lies
 * against one half: -1 below, 0 exactly at it, 1 above. All integer
 * arithmetic, so exact. With s = 16 - k, 10^s = 5^s x 2^s, and the whole
 * is m x 5^s shifted by t = e + s (s >= 0), or m shifted left by t over
 * the odd 5^-s (s < 0). For every exponent fmt_g17 passes and both values
 * of k it tries (worked out exponent by exponent; the tests run each one,
 * also under UBSan): m x 5^s < 2^116; a right shift is at most 62, a
 * left one at most 4 (the result is then below 10^18); for s < 0 (|v| >=
 * 10^16, an integer) t is 1 .. 64, so m << t < 2^117. A quotient over
 * 5^-s never ties, as 5^-s is odd.
 */
static uint64_t fmt_scale17(uint64_t m, int e, int k, int *half)
{
    int s = FMT_DIGITS_MAX - 1 - k, t = e + s;
    fmt_u128 n, r, h;

    if (s < 0) {
        uint64_t d = fmt_pow5[-s];

        n = (fmt_u128)m << t;
        r = n % d;
        *half = 2 * r > d ? 1 : -1;
        return (uint64_t)(n / d);
    }
    n = (fmt_u128)m * fmt_pow5[s];
    if (t >= 0) {
        *half = -1;
        return (uint64_t)(n << t);
    }
    r = n & (((fmt_u128)1 << -t) - 1);
    h = (fmt_u128)1 << (-t - 1);
    *half = (r > h) - (r < h);
    return (uint64_t)(n >> -t);
}

/* Writes v < 10^8 as exactly 8 digits, two at a time. */
static void fmt_put8(char *p, uint32_t v)
{
    uint32_t a = v / 10000, b = v % 10000;

    memcpy(p, fmt_digit_pairs + 2 * (a / 100), 2);
    memcpy(p + 2, fmt_digit_pairs + 2 * (a % 100), 2);
    memcpy(p + 4, fmt_digit_pairs + 2 * (b / 100), 2);
    memcpy(p + 6, fmt_digit_pairs + 2 * (b % 100), 2);
}

/* Writes the 17 digits of q (10^16 <= q < 10^17) in 32-bit pieces,
 * cheaper than 64-bit divisions. Returns how many remain without the
 * trailing zeros. */
static int fmt_put17(char *p, uint64_t q)
{
    uint32_t top = (uint32_t)(q / 100000000), low = (uint32_t)(q % 100000000);
    int n = FMT_DIGITS_MAX;

    p[0] = (char)('0' + top / 100000000);
    fmt_put8(p + 1, top % 100000000);
    fmt_put8(p + 9, low);
    while (p[n - 1] == '0')
        n--;
    return n;
}

size_t fmt_g17(double v, char buf[FMT_DOUBLE_LEN])
{
    const uint64_t lo = pow10_u64[FMT_DIGITS_MAX - 1],
                   hi = pow10_u64[FMT_DIGITS_MAX];
    char d[FMT_DIGITS_MAX], *p = buf;
    uint64_t bits, m, q;
    int x, k, half, n;

    memcpy(&bits, &v, sizeof(bits));
    /* zero, subnormals, inf and nan fall outside too */
    x = (int)(bits >> 52 & 0x7ff) - 1023;
    if (x < FMT_G17_EXP_MIN || x > FMT_G17_EXP_MAX)
        return (size_t)snprintf(buf, FMT_DOUBLE_LEN, "%.17g", v);
    m = (bits & (FMT_MANT_BIT - 1)) | FMT_MANT_BIT;
    /* |v| is in [2^x, 2^(x+1)), so its decimal exponent is this or one
     * more: 18 digits instead of 17 say it is one more. */
    k = fmt_floor_log10_pow2(x);
    q = fmt_scale17(m, x - 52, k, &half);
    if (q >= hi)
        q = fmt_scale17(m, x - 52, ++k, &half);
    /* to nearest, an exact half to the even digit, as printf does in the
     * default rounding mode */
    if (half > 0 || (half == 0 && (q & 1)))
        q++;
    /* 17 nines and a half or more round up to 10^17: 10^16 and one more
     * in the exponent. No double in range is that close below a power of
     * ten, but it costs one compare to be sure. */
    if (q == hi) {
        q = lo;
        k++;
    }
    if (bits >> 63)
        *p++ = '-';
    n = fmt_put17(d, q);
    p = fmt_g(p, d, n, k, FMT_DIGITS_MAX);
    *p = '\0';
    return (size_t)(p - buf);
}

/* Year, month, day of a day count since 1970-01-01, before it too
 * (H. Hinnant's civil_from_days, proleptic Gregorian as gmtime_r()). */
static void fmt_civil(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Writes v as exactly n digits, zero-padded. */
static char *fmt_digits(char *p, int64_t v, int n)
{
    if (n == 2) {
        memcpy(p, fmt_digit_pairs + 2 * v, 2);
        return p + 2;
    }
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

size_t fmt_time_iso(int64_t us, char buf[TIME_ISO_LEN])
{
    /* Floor division by hand: us - secs * US_PER_S would overflow near
     * INT64_MIN. */
    int64_t frac = us % US_PER_S, secs = us / US_PER_S, days, sod, y;
    int mo, d;
    char *p = buf;

    if (frac < 0) {
        frac += US_PER_S;
        secs--;
    }
    days = secs / 86400;
    sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    fmt_civil(days, &y, &mo, &d);
    if (y >= 0 && y <= FMT_YEAR_DIGITS_MAX)
        p = fmt_digits(p, y, 4);
    else /* as "%04d" writes a year: "-001", "10000" */
        p += snprintf(p, TIME_ISO_LEN, "%04" PRId64, y);
    *p++ = '-';
    p = fmt_digits(p, mo, 2);
    *p++ = '-';
    p = fmt_digits(p, d, 2);
    *p++ = 'T';
    p = fmt_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = fmt_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = fmt_digits(p, sod % 60, 2);
    *p++ = '.';
    p = fmt_digits(p, frac, 6);
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - buf);
}
