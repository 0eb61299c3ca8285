/* SPDX-License-Identifier: MIT */
/*
 * Number and time formatting for output that is written a million times a
 * second (the export) and must still be exact: doubles in the fewest
 * digits that read back to the same bits, integers, and ISO 8601 time
 * stamps. The one implementation of each for the whole tree (payloads,
 * logs, the export, the audit chain's values). No locale, no
 * allocation, no errors; thread-safe.
 */
#ifndef TBDAQ_FMT_H
#define TBDAQ_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

/* Enough for "-2.2250738585072014e-308" and its NUL. */
#define FMT_DOUBLE_LEN 32
/* Enough for "-9223372036854775808" and its NUL. */
#define FMT_INT64_LEN 24

/*
 * Writes v as the shortest of printf's "%.15g", "%.16g" and "%.17g" that
 * strtod() reads back to the same bits (%.17g always does), byte for byte
 * what that loop would print ("0.1", "-0", "5e-324",
 * "1.7976931348623157e+308"), and NUL-terminates it. Non-finite values come out
 * as printf writes them
 * ("nan", "inf", "-inf"). Returns the length.
 */
size_t fmt_double(double v, char buf[FMT_DOUBLE_LEN]);

/*
 * Writes v byte for byte as snprintf(buf, FMT_DOUBLE_LEN, "%.17g", v)
 * does in the default rounding mode (exact halves to the even digit):
 * "0.10000000000000001", "1e+17", "-0", "nan". The canonical text of a
 * stored value (lib/store_canon.c), so it may never change. Values from
 * about 1.46e-11 to 1.12e43 in magnitude are formatted with exact integer
 * arithmetic, the rest by snprintf itself. Returns the length.
 */
size_t fmt_g17(double v, char buf[FMT_DOUBLE_LEN]);

/* Writes v in decimal and NUL-terminates it. Returns the length. */
size_t fmt_int64(int64_t v, char buf[FMT_INT64_LEN]);

/*
 * Writes UTC microseconds as ISO 8601 with microseconds and 'Z'
 * ("2026-11-25T01:02:03.456789Z") and NUL-terminates it: the tree's one
 * time formatter (time_format_iso() in common/util.h is this one). Any
 * int64 works: dates are proleptic Gregorian as gmtime_r() has them, a
 * year outside 0..9999 written as "%04d" would ("-001", "10000"). No
 * gmtime_r or snprintf for years 0..9999. Returns the length.
 */
size_t fmt_time_iso(int64_t us, char buf[TIME_ISO_LEN]);

#endif
