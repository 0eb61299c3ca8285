/* SPDX-License-Identifier: MIT */
/*
 * Tables for the terminal: rows of text cells printed in columns as wide
 * as their widest cell (header included), two spaces apart, numbers
 * flush right; a column no row fills is left out. Widths are terminal
 * columns of UTF-8 text: the program must have set LC_CTYPE to a UTF-8
 * locale (tbdaq sets C.UTF-8). For `tbdaq status` and `tbdaq run list`.
 *
 * Errors: none are returned. Out of memory aborts, and so does a header
 * of no names or more than TABLE_COLS_MAX (a programming error);
 * table_print() leaves out's errors to the caller (ferror()). Ownership:
 * the table owns its cells (copies) until table_release(). Threads: a
 * table is used by one thread at a time; nothing else is shared but the
 * locale.
 */
#ifndef TBDAQ_TABLE_H
#define TBDAQ_TABLE_H

#include <stdio.h>

/* Columns at most; a table has as many as its header names. */
#define TABLE_COLS_MAX 12

struct table {
    size_t ncols;
    unsigned right; /* bit i: column i is flush right */
    char **cells;   /* row-major, header first; owned */
    size_t ncells, cap;
};

/* Starts a table with the header cells given, NULL-terminated; a name
 * starting with '>' (left out when shown) makes its column flush right. */
void table_init(struct table *t, const char *const *header);
/* Appends a cell, formatted with printf's rules, to the last row: after
 * ncols cells the next call starts a new row. */
void table_cell(struct table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the table; the last column is not padded. */
void table_print(const struct table *t, FILE *out);
/* Frees the cells. */
void table_release(struct table *t);

#endif
