/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every program uses: allocation that aborts on exhaustion,
 * the two clocks, and ISO 8601 time stamps. Every function here is
 * thread-safe; none reports an error except time_parse_iso() (-1).
 *
 * Clocks: time_mono_ns() (CLOCK_MONOTONIC) is for scheduling only,
 * time_real_us() (CLOCK_REALTIME) for the time stamps of readings and
 * events only. Never subtract one from the other.
 */
#ifndef TBDAQ_UTIL_H
#define TBDAQ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocation: never return NULL; out of memory aborts the program. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* Grows *v (of *cap elements of size elem) to hold at least need. */
void xgrow(void *v, size_t *cap, size_t need, size_t elem);
/* printf into a new string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t time_mono_ns(void);
int64_t time_real_us(void);
/* CLOCK_REALTIME in ns: for measuring against other programs' stamps. */
int64_t time_real_ns(void);

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)
#define US_PER_S INT64_C(1000000)

/* Enough for "2026-11-25T01:02:03.456789Z" and its NUL. */
#define TIME_ISO_LEN 32
/* Formats UTC microseconds as ISO 8601 with microseconds and 'Z':
 * "2026-11-25T01:02:03.456789Z". It is fmt_time_iso() (common/fmt.h),
 * the one implementation, without the length; any int64 is fine.
 * Thread-safe. */
void time_format_iso(int64_t us, char buf[TIME_ISO_LEN]);
/*
 * Parses ISO 8601 "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)", or a bare
 * date "YYYY-MM-DD" (midnight UTC), into UTC microseconds. Also accepted,
 * as RFC 3339 allows: 't' or ' ' for 'T', 'z' for 'Z', ',' for '.', an
 * offset without its colon (+0900), second 60 (a leap second, read as the
 * next second's start); digits of the fraction beyond microseconds are
 * dropped. A time without a zone is refused (ambiguous). Returns 0, or -1.
 */
int time_parse_iso(const char *s, int64_t *us);

/* Lower-case hex of n 16-bit words, space separated: "41c8 0000". The
 * buffer needs 5 * n bytes. */
void hex_words(const uint16_t *w, size_t n, char *buf);

#endif
