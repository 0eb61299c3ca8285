/* SPDX-License-Identifier: MIT */
/*
 * CSV fields as RFC 4180 has them, for the export: a field is written as
 * is unless it holds a comma, a double quote, CR or LF; then it is put in
 * double quotes with each quote doubled. Line ends (CRLF) are the
 * caller's. Pure functions; thread-safe.
 */
#ifndef TBDAQ_CSV_H
#define TBDAQ_CSV_H

#include <stdbool.h>
#include <stddef.h>

/* The most bytes csv_field() writes for n bytes of input. */
#define CSV_FIELD_MAX(n) (2 * (n) + 2)

/* True if the n bytes at s must be quoted. */
bool csv_needs_quotes(const char *s, size_t n);

/*
 * Writes the n bytes at s as one field at dst, which has room for
 * CSV_FIELD_MAX(n) bytes, and returns the end of what it wrote (no NUL).
 */
char *csv_field(char *dst, const char *s, size_t n);

#endif
