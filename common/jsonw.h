/* SPDX-License-Identifier: MIT */
/*
 * Writing JSON values into a caller's buffer: strings escaped per RFC 8259
 * and numbers that read back exactly. The structure around them is the
 * caller's. Pure functions; thread-safe.
 */
#ifndef TBDAQ_JSONW_H
#define TBDAQ_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "common/fmt.h"

/* The most bytes jsonw_string() writes for n bytes of input ("\u001f" is
 * six bytes for one). */
#define JSONW_STRING_MAX(n) (6 * (n) + 2)
/* The most bytes jsonw_double() writes. */
#define JSONW_DOUBLE_MAX FMT_DOUBLE_LEN

/*
 * Writes the n bytes at s as a JSON string, quotes included: '"' and '\\'
 * and every control character below 0x20 escaped (\n, \r, \t, \b, \f or
 * \u00XX), every other byte as it is (the text is UTF-8 already). dst has
 * room for JSONW_STRING_MAX(n) bytes. Returns the end (no NUL).
 */
char *jsonw_string(char *dst, const char *s, size_t n);

/* As jsonw_string() for a NUL-terminated s, or `null` if s is NULL;
 * needs JSONW_STRING_MAX(strlen(s)) bytes, at least 4. */
char *jsonw_string_or_null(char *dst, const char *s);

/* Writes v as fmt_double() does, or `null` if it is not finite (JSON has
 * no NaN or infinity). dst has room for JSONW_DOUBLE_MAX bytes. Returns
 * the end (no NUL). */
char *jsonw_double(char *dst, double v);

#endif
