// SPDX-License-Identifier: MIT
/*
 * Column tables for the terminal. Widths count terminal columns, not
 * bytes: operators' names and notes are UTF-8, Korean ones included.
 */
#include "common/table.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "common/util.h"

void table_init(struct table *t, const char *const *header)
{
    size_t n = 0;

    memset(t, 0, sizeof(*t));
    while (header[n])
        n++;
    if (n == 0 || n > TABLE_COLS_MAX)
        abort(); /* a programming error */
    t->ncols = n;
    for (size_t i = 0; i < n; i++) {
        const char *h = header[i];

        if (h[0] == '>') {
            t->right |= 1u << i;
            h++;
        }
        table_cell(t, "%s", h);
    }
}

void table_cell(struct table *t, const char *fmt, ...)
{
    va_list ap;
    char *cell;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0)
        len = 0;
    cell = xmalloc((size_t)len + 1);
    cell[0] = '\0';
    va_start(ap, fmt);
    if (len > 0)
        vsnprintf(cell, (size_t)len + 1, fmt, ap);
    va_end(ap);
    xgrow(&t->cells, &t->cap, t->ncells + 1, sizeof(*t->cells));
    t->cells[t->ncells++] = cell;
}

/* Terminal columns of UTF-8 text (LC_CTYPE must be a UTF-8 locale): a
 * Hangul or CJK character takes two; a byte that is no character, one. */
static size_t table_width(const char *s)
{
    mbstate_t st;
    size_t n = 0, len = strlen(s);

    memset(&st, 0, sizeof(st));
    while (len > 0) {
        wchar_t wc;
        size_t k = mbrtowc(&wc, s, len, &st);
        int w;

        if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
            memset(&st, 0, sizeof(st));
            k = 1;
            w = 1;
        } else {
            w = wcwidth(wc);
            if (w < 0)
                w = 1;
        }
        n += (size_t)w;
        s += k;
        len -= k;
    }
    return n;
}

void table_print(const struct table *t, FILE *out)
{
    size_t width[TABLE_COLS_MAX] = {0}, len = 0, cap = 0;
    bool shown[TABLE_COLS_MAX] = {false};
    char *line = NULL;

    /* A column no row fills is left out, header and all (a table without
     * rows shows its header whole). */
    for (size_t i = 0; i < t->ncells; i++) {
        size_t w = table_width(t->cells[i]), col = i % t->ncols;

        if (w > width[col])
            width[col] = w;
        shown[col] |=
            t->ncells == t->ncols || (i >= t->ncols && t->cells[i][0] != '\0');
    }
    for (size_t i = 0; i < t->ncells; i++) {
        size_t col = i % t->ncols, pad = width[col] - table_width(t->cells[i]);
        size_t need = len + 2 + pad + strlen(t->cells[i]) + 2;
        bool right = t->right & (1u << col);

        xgrow(&line, &cap, need, 1);
        if (shown[col]) {
            len += (size_t)sprintf(line + len, "%s%*s%s%*s", len ? "  " : "",
                                   right ? (int)pad : 0, "", t->cells[i],
                                   right ? 0 : (int)pad, "");
        }
        if (col == t->ncols - 1 || i == t->ncells - 1) {
            while (len > 0 && line[len - 1] == ' ')
                len--;
            fprintf(out, "%.*s\n", (int)len, line);
            len = 0;
        }
    }
    free(line);
}

void table_release(struct table *t)
{
    for (size_t i = 0; i < t->ncells; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
