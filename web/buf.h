/* SPDX-License-Identifier: MIT */
/*
 * A growing output buffer for one response, and the escapes each format
 * needs: HTML text and attributes, JSON strings and numbers, Prometheus
 * label values. Out of memory aborts (xrealloc). Ownership: the buffer
 * owns its bytes until buf_steal() hands them over (free() them) or
 * buf_release() frees them. One buffer belongs to one thread.
 */
#ifndef TBDAQ_WEB_BUF_H
#define TBDAQ_WEB_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    char *p;
    size_t len, cap;
};

void buf_release(struct buf *b);
/* Returns the bytes (NUL-terminated, possibly NULL if empty): the
 * caller's to free; b is left empty. */
char *buf_steal(struct buf *b, size_t *len);
void buf_add(struct buf *b, const char *s, size_t n);
/* Room for n more bytes at once (a response of known size). */
void buf_reserve(struct buf *b, size_t n);
void buf_puts(struct buf *b, const char *s);
__attribute__((format(printf, 2, 3))) void buf_printf(struct buf *b,
                                                      const char *fmt, ...);
/* s with & < > " ' escaped (text and attribute values alike). */
void buf_html(struct buf *b, const char *s);
/* s as a JSON string with quotes, or null if s is NULL. */
void buf_json_str(struct buf *b, const char *s);
/* v as the shortest JSON number that reads back, null if not finite. */
void buf_json_num(struct buf *b, double v);
/* s as a Prometheus label value, without quotes: \\ \" \n escaped. */
void buf_prom_label(struct buf *b, const char *s);
/* v as a Prometheus sample value (NaN, +Inf, -Inf spelt as it wants). */
void buf_prom_num(struct buf *b, double v);
/* An ISO 8601 UTC time. */
void buf_time(struct buf *b, int64_t us);

#endif
