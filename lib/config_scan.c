// SPDX-License-Identifier: MIT
/*
 * The files of a configuration, and the pre-scan of their integer
 * literals. The main file and every file it @includes are read here, kept
 * byte for byte in config.files (what the daemon stores with each
 * configuration it applies) and scanned before libconfig parses them:
 * libconfig 1.5 does not range-check an integer literal, so the scan
 * finds the ones it would silently truncate, following each @include as
 * libconfig will.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/util.h"
#include "lib/config_private.h"

/* Reads the whole file; returns its bytes (NUL-terminated) or NULL. */
char *config_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 4096, n = 0;
    char *buf = NULL;
    int saved = 0;

    if (!f)
        return NULL;
    buf = xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);

        n += got;
        if (got == 0)
            break;
        if (cap - n - 1 == 0)
            xgrow(&buf, &cap, cap * 2, 1);
    }
    if (ferror(f)) {
        /* stdio keeps errno from the failed read(); fclose may clobber. */
        saved = errno ? errno : EIO;
        goto fail;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    fclose(f);
    errno = saved;
    return NULL;
}

/* libconfig 1.5's MAX_INCLUDE_DEPTH: it stops at an @include deeper than
 * this with an error, so the scan stops there too (going on would read
 * files libconfig never reads, exponentially many for a file that
 * includes itself twice). */
#define CONFIG_INCLUDE_DEPTH 10

/* Checks one number token of a file's text; see config_scan(). file is
 * NULL for the config itself, else the name its @include gives. */
static void config_check_number(struct loader *ld, const char *file,
                                const char *tok, size_t len, int line)
{
    char buf[64];
    bool hex = len > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X');
    size_t digits = len;
    bool wide = false, bad;
    char *end;

    /* int64 ("L" or "LL"): libconfig saturates a decimal one and wraps a
     * hex one through unsigned, so only the 64-bit bound is checked here;
     * the tables judge the value. */
    while (digits > 1 && (tok[digits - 1] == 'L' || tok[digits - 1] == 'l') &&
           len - digits < 2) {
        digits--;
        wide = true;
    }
    /* A float: libconfig reads it as a double. */
    if (!hex && (memchr(tok, '.', len) || memchr(tok, 'e', len) ||
                 memchr(tok, 'E', len)))
        return;
    if (len >= sizeof(buf)) {
        loader_add(ld, file, line, "integer literal is too long");
        return;
    }
    memcpy(buf, tok, digits);
    buf[digits] = '\0';
    errno = 0;
    if (hex) {
        unsigned long long u = strtoull(buf, &end, 16);

        bad = errno == ERANGE || u > (wide ? INT64_MAX : INT32_MAX);
    } else {
        long long v = strtoll(buf, &end, 10);

        bad = errno == ERANGE || (!wide && (v < INT32_MIN || v > INT32_MAX));
    }
    if (*end)
        return; /* not a number libconfig takes: it will say so */
    if (bad) {
        char msg[128];

        snprintf(msg, sizeof(msg), "integer '%.*s' is out of range", (int)len,
                 tok);
        loader_add(ld, file, line, msg);
    }
}

/* The line of the first NUL in text[0..len), or 0 if it holds none. */
int config_nul_line(const char *text, size_t len)
{
    const char *nul = memchr(text, '\0', len);
    int line = 1;

    if (!nul)
        return 0;
    for (const char *p = text; p < nul; p++)
        line += *p == '\n';
    return line;
}

/*
 * Where the scan is between tokens. libconfig's scanner (flex) keeps its
 * state across an @include: a comment or string left open at the end of
 * an included file goes on in the file that included it. The scan must
 * see the same text as a comment or string, or it would miss a literal
 * libconfig reads.
 */
enum scan_state { SCAN_CODE, SCAN_COMMENT, SCAN_STRING };

static void config_scan(struct loader *ld, const char *file, const char *p,
                        int depth, enum scan_state *state);

/* Keeps a copy of a file's bytes in c->files, unless a file of that name
 * is kept already (libconfig reads it again at each @include: the first
 * reading is kept). */
void config_keep_file(struct config *c, const char *name, const char *text,
                      size_t len)
{
    size_t cap = c->nfiles;
    struct config_file *f;

    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].name, name) == 0)
            return;
    xgrow(&c->files, &cap, c->nfiles + 1, sizeof(*c->files));
    f = &c->files[c->nfiles++];
    f->name = xstrdup(name);
    f->bytes = xmalloc(len + 1);
    memcpy(f->bytes, text, len);
    f->bytes[len] = '\0';
    f->len = len;
    sha256_hex(text, len, f->sha256);
}

/*
 * Follows "@include name" at line of file: the included file is scanned as
 * libconfig will read it, at the include dir joined with name as given
 * (libconfig 1.5 joins even an absolute name, and uses the config's
 * directory at every depth). A file that is missing or unreadable is left
 * to libconfig to report; one that is not a regular file is refused here,
 * since libconfig's scanner exits the process on a directory, and reading
 * a pipe here would take its text from libconfig.
 */
static void config_scan_include(struct loader *ld, const char *file, int line,
                                const char *name, int depth,
                                enum scan_state *state)
{
    size_t plen = strlen(ld->dir) + 1 + strlen(name) + 1;
    char *path = xmalloc(plen), *text = NULL, *msg = NULL;
    struct stat st;
    size_t len = 0;
    int nul;

    snprintf(path, plen, "%s/%s", ld->dir, name);
    if (stat(path, &st) < 0)
        goto done;
    if (!S_ISREG(st.st_mode)) {
        size_t mlen = strlen(name) + 64;

        msg = xmalloc(mlen);
        snprintf(msg, mlen, "cannot include '%s': not a regular file", name);
        loader_add(ld, file, line, msg);
        goto done;
    }
    if (!(text = config_slurp(path, &len)))
        goto done;
    /* libconfig reads an included file past a NUL; the scan cannot. */
    if ((nul = config_nul_line(text, len)) > 0) {
        loader_add(ld, name, nul, "file holds a NUL byte");
        goto done;
    }
    config_keep_file(ld->c, name, text, len);
    config_scan(ld, name, text, depth, state);
done:
    free(msg);
    free(text);
    free(path);
}

/*
 * libconfig 1.5 stores an integer literal in an int without checking its
 * range, so "port = 4294967798;" would silently read as 502. This finds
 * the integer literals of one file's text (file NULL for the config, else
 * as its @include names it) and of every file it includes, with a lexer
 * that knows just enough of the syntax (comments, strings, names,
 * @include) not to mistake anything else for one. depth counts the
 * includes that led here.
 */
static void config_scan(struct loader *ld, const char *file, const char *p,
                        int depth, enum scan_state *state)
{
    bool bol = true; /* only blanks since the line began */
    int line = 1;

    while (*p && !ld->too_deep) {
        if (*state == SCAN_COMMENT) {
            for (; *p && !(p[0] == '*' && p[1] == '/'); p++)
                line += *p == '\n';
            if (*p) {
                p += 2;
                *state = SCAN_CODE;
            }
            bol = false;
        } else if (*state == SCAN_STRING) {
            for (; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                line += *p == '\n';
            }
            if (*p) {
                p++;
                *state = SCAN_CODE;
            }
            bol = false;
        } else if (*p == '\n') {
            line++;
            p++;
            bol = true;
        } else if (*p == ' ' || *p == '\t') {
            p++;
        } else if (bol && strncmp(p, "@include", 8) == 0 &&
                   (p[8] == ' ' || p[8] == '\t')) {
            /* As libconfig: first on its line, the name up to the next
             * '"' without escapes. */
            const char *name;
            char *inc;
            int at = line;

            for (p += 8; *p == ' ' || *p == '\t'; p++)
                ;
            bol = false;
            if (*p != '"')
                continue; /* libconfig will say what is wrong */
            name = ++p;
            while (*p && *p != '"')
                line += *p++ == '\n';
            if (!*p)
                break;
            if (depth == CONFIG_INCLUDE_DEPTH) {
                ld->too_deep = true; /* libconfig says so */
                break;
            }
            inc = xmalloc((size_t)(p - name) + 1);
            memcpy(inc, name, (size_t)(p - name));
            inc[p - name] = '\0';
            config_scan_include(ld, file, at, inc, depth + 1, state);
            free(inc);
            p++;
        } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
            while (*p && *p != '\n')
                p++;
        } else if (p[0] == '/' && p[1] == '*') {
            p += 2;
            *state = SCAN_COMMENT;
        } else if (*p == '"') {
            p++;
            *state = SCAN_STRING;
        } else if (isalpha((unsigned char)*p) || *p == '*') {
            /* strchr() also finds the NUL: test for it first, or a name
             * at the very end of the file runs past it (found by
             * tests/fuzz/fuzz_config). */
            while (*p && (isalnum((unsigned char)*p) || strchr("-_*", *p)))
                p++;
            bol = false;
        } else if (isdigit((unsigned char)*p) ||
                   ((*p == '-' || *p == '+') && isdigit((unsigned char)p[1]))) {
            const char *tok = p;

            for (p++;
                 isalnum((unsigned char)*p) || *p == '.' ||
                 ((*p == '-' || *p == '+') && (p[-1] == 'e' || p[-1] == 'E'));
                 p++)
                ;
            config_check_number(ld, file, tok, (size_t)(p - tok), line);
            bol = false;
        } else {
            p++;
            bol = false;
        }
    }
}

/* Scans the config's text and every file it includes; see config_scan().
 * Returns the number of errors found. */
size_t config_check_integers(struct loader *ld, const char *text)
{
    enum scan_state state = SCAN_CODE;
    size_t before = ld->errors.n;

    config_scan(ld, NULL, text, 0, &state);
    return ld->errors.n - before;
}
