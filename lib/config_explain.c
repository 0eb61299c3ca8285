// SPDX-License-Identifier: MIT
/*
 * libconfig's own parse errors, explained where the text makes the cause
 * obvious. libconfig says "mismatched element type in array" for
 * `range = [-1, 10.0]` (an array holds one type, and -1 is an integer) and
 * "syntax error" for two groups of a list without a comma between them;
 * both are common in hand-written configs and neither message says what
 * to change.
 *
 * The file's text (kept by config_scan.c) is read again with a lexer that
 * knows just enough of the syntax (comments, strings, numbers, names,
 * brackets), up to the first place that explains the error. The error is
 * explained only if that place is on the line libconfig names; otherwise
 * libconfig's message stands alone.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/config_private.h"

/* libconfig 1.5's messages, as config_error_text() gives them. */
#define EXPLAIN_MISMATCH "mismatched element type in array"
#define EXPLAIN_SYNTAX "syntax error"
/* Room for libconfig's message and the explanation. */
#define EXPLAIN_MSG_MAX 512
/* The longest literal quoted in a suggestion ("-1.0, not -1"). */
#define EXPLAIN_LITERAL_MAX 32
/* Brackets open at once: libconfig nests no deeper in any sane file. */
#define EXPLAIN_DEPTH_MAX 64

enum tok {
    TOK_END,
    TOK_OPEN,  /* { ( [ */
    TOK_CLOSE, /* } ) ] */
    TOK_INT,
    TOK_INT64, /* with an L suffix */
    TOK_FLOAT,
    TOK_BOOL,
    TOK_STRING,
    TOK_NAME,
    TOK_OTHER, /* , ; = : @ and anything else */
};

struct token {
    enum tok kind;
    const char *start;
    size_t len;
    int line;
};

struct lexer {
    const char *p;
    int line;
};

/* Skips blanks and comments (#, //, slash-star). */
static void lex_skip(struct lexer *lx)
{
    for (;;) {
        if (*lx->p == '\n') {
            lx->line++;
            lx->p++;
        } else if (isspace((unsigned char)*lx->p)) {
            lx->p++;
        } else if (*lx->p == '#' || (lx->p[0] == '/' && lx->p[1] == '/')) {
            while (*lx->p && *lx->p != '\n')
                lx->p++;
        } else if (lx->p[0] == '/' && lx->p[1] == '*') {
            for (lx->p += 2; *lx->p && !(lx->p[0] == '*' && lx->p[1] == '/');
                 lx->p++)
                lx->line += *lx->p == '\n';
            if (*lx->p)
                lx->p += 2;
        } else {
            return;
        }
    }
}

/* The kind of the number token t: hex, decimal, float, with an L. */
static enum tok lex_number_kind(const struct token *t)
{
    const char *s = t->start;
    size_t n = t->len;

    if (*s == '-' || *s == '+') {
        s++;
        n--;
    }
    if (n > 0 && (s[n - 1] == 'L' || s[n - 1] == 'l'))
        return TOK_INT64;
    if (n > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return TOK_INT;
    if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n))
        return TOK_FLOAT;
    return TOK_INT;
}

static void lex_next(struct lexer *lx, struct token *t)
{
    const char *p;

    lex_skip(lx);
    p = lx->p;
    t->start = p;
    t->line = lx->line;
    if (!*p) {
        t->kind = TOK_END;
    } else if (strchr("{([", *p)) {
        t->kind = TOK_OPEN;
        p++;
    } else if (strchr("})]", *p)) {
        t->kind = TOK_CLOSE;
        p++;
    } else if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            lx->line += *p == '\n';
        }
        p += *p == '"';
        t->kind = TOK_STRING;
    } else if (isdigit((unsigned char)*p) ||
               (strchr("+-.", *p) &&
                (isdigit((unsigned char)p[1]) || p[1] == '.'))) {
        for (p++; isalnum((unsigned char)*p) || *p == '.' ||
                  ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E'));
             p++)
            ;
        t->len = (size_t)(p - t->start);
        t->kind = lex_number_kind(t);
    } else if (isalpha((unsigned char)*p) || *p == '*') {
        /* strchr() finds the NUL too: test for it first */
        while (*p && (isalnum((unsigned char)*p) || strchr("-_*", *p)))
            p++;
        t->kind = ((size_t)(p - t->start) == 4 &&
                   strncasecmp(t->start, "true", 4) == 0) ||
                          ((size_t)(p - t->start) == 5 &&
                           strncasecmp(t->start, "false", 5) == 0)
                      ? TOK_BOOL
                      : TOK_NAME;
    } else {
        t->kind = TOK_OTHER;
        p++;
    }
    t->len = (size_t)(p - t->start);
    lx->p = p;
}

static bool tok_is_int(enum tok k)
{
    return k == TOK_INT || k == TOK_INT64;
}

/*
 * The first array element whose type differs from the array's first, as
 * libconfig meets it: true if it is on line and one of the two is an
 * integer, the other a float; *lit is then an integer of that array.
 */
static bool explain_mismatch_find(const char *text, int line, struct token *lit)
{
    struct lexer lx = {text, 1};
    struct token t, first = {0}, an_int = {0};
    bool in_array = false;

    for (lex_next(&lx, &t); t.kind != TOK_END; lex_next(&lx, &t)) {
        if (t.kind == TOK_OPEN && *t.start == '[') {
            in_array = true;
            first.kind = an_int.kind = TOK_END;
        } else if (t.kind == TOK_CLOSE) {
            in_array = false;
        } else if (in_array && t.kind >= TOK_INT && t.kind <= TOK_STRING) {
            if (tok_is_int(t.kind) && an_int.kind == TOK_END)
                an_int = t;
            if (first.kind == TOK_END) {
                first = t;
            } else if (t.kind != first.kind) {
                *lit = an_int;
                return t.line == line &&
                       ((tok_is_int(first.kind) && t.kind == TOK_FLOAT) ||
                        (first.kind == TOK_FLOAT && tok_is_int(t.kind)));
            }
        }
    }
    return false;
}

static void explain_mismatch(char *out, size_t size, const char *text, int line)
{
    struct token lit;
    char num[EXPLAIN_LITERAL_MAX];

    if (!explain_mismatch_find(text, line, &lit))
        return;
    if (lit.kind == TOK_INT && lit.len < sizeof(num) - 2 &&
        strspn(lit.start + (*lit.start == '-' || *lit.start == '+'),
               "0123456789") ==
            lit.len - (*lit.start == '-' || *lit.start == '+')) {
        snprintf(num, sizeof(num), "%.*s", (int)lit.len, lit.start);
        snprintf(out, size,
                 "%s: integers and floats cannot be mixed in one array: "
                 "write them all as floats (%s.0, not %s)",
                 EXPLAIN_MISMATCH, num, num);
    } else {
        snprintf(out, size,
                 "%s: integers and floats cannot be mixed in one array: "
                 "write them all as floats, with a decimal point",
                 EXPLAIN_MISMATCH);
    }
}

static const char *bracket_noun(char c)
{
    return c == '{' || c == '}'   ? "group"
           : c == '[' || c == ']' ? "array"
                                  : "list";
}

/*
 * The first value opened right after one closed, inside a list or an
 * array (or at the top of an included file, which may sit inside a
 * list): the comma between two entries is missing. True if it is on
 * line; *prev is then the closing bracket, *next the opening one.
 */
static bool explain_comma_find(const char *text, int line, bool included,
                               struct token *prev, struct token *next)
{
    struct lexer lx = {text, 1};
    char stack[EXPLAIN_DEPTH_MAX];
    size_t depth = 0;
    struct token t, last = {0};

    for (lex_next(&lx, &t); t.kind != TOK_END; last = t, lex_next(&lx, &t)) {
        if (t.kind == TOK_OPEN && last.kind == TOK_CLOSE &&
            (depth > 0 ? stack[depth - 1] != '{' : included)) {
            *prev = last;
            *next = t;
            return t.line == line;
        }
        if (t.kind == TOK_OPEN && depth < EXPLAIN_DEPTH_MAX)
            stack[depth++] = *t.start;
        else if (t.kind == TOK_CLOSE && depth > 0)
            depth--;
    }
    return false;
}

static void explain_comma(char *out, size_t size, const char *text, int line,
                          bool included)
{
    struct token prev, next;

    if (!explain_comma_find(text, line, included, &prev, &next))
        return;
    snprintf(out, size,
             "%s: missing ',' before this %s: the %s before it ends at line "
             "%d, and the entries of a list are separated by commas",
             EXPLAIN_SYNTAX, bracket_noun(*next.start),
             bracket_noun(*prev.start), prev.line);
}

/* The text of the config's file named as libconfig names it, or NULL. */
static const char *explain_text(const struct loader *ld, const char *file)
{
    const struct config *c = ld->c;

    if (!file)
        return c->nfiles > 0 ? c->files[0].bytes : NULL;
    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].name, file) == 0)
            return c->files[i].bytes;
    return NULL;
}

void config_explain(struct loader *ld, const char *file, int line,
                    const char *msg)
{
    const char *text = explain_text(ld, file);
    char out[EXPLAIN_MSG_MAX] = "";

    if (text && line > 0 && strcmp(msg, EXPLAIN_MISMATCH) == 0)
        explain_mismatch(out, sizeof(out), text, line);
    else if (text && line > 0 && strcmp(msg, EXPLAIN_SYNTAX) == 0)
        explain_comma(out, sizeof(out), text, line, file != NULL);
    loader_add(ld, file, line, *out ? out : msg);
}
