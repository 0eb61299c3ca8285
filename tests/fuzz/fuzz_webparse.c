/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for tbdaq-web's request targets (web/parse.c): any
 * bytes as the raw "/path?query" a client sent, then the routes.
 *
 * Oracles: a reference percent-decoder written from parse.h's words
 * decodes the path and every query pair to what web_target_parse() kept;
 * an accepted target keeps parse.h's invariants (a path that starts with
 * '/', clean UTF-8; keys of [a-z0-9_], each once; at most WEB_PARAMS_MAX);
 * a refused one says why; a run route names a valid run name that is the
 * path's last segment.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "lib/control.h"
#include "web/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* parse.h's decoding, the slow way: NULL where it must be refused. */
static char *ref_decode(const char *s, size_t n, bool plus_space)
{
    char *out = malloc(n + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned v;
        char hex[3];

        if (s[i] == '%') {
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hex[0] = s[i + 1];
            hex[1] = s[i + 2];
            hex[2] = '\0';
            if (!strchr("0123456789abcdefABCDEF", hex[0]) || !hex[0] ||
                !strchr("0123456789abcdefABCDEF", hex[1]) || !hex[1]) {
                free(out);
                return NULL;
            }
            v = (unsigned)strtoul(hex, NULL, 16);
            if (v == 0 || (v == '/' && !plus_space)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)v;
            i += 2;
        } else {
            out[o++] = plus_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

static void check_route(const char *path)
{
    const char *name = NULL, *why = NULL;
    enum web_route r = web_route(path, &name, &why);

    if (r == WEB_ROUTE_BAD && !why)
        abort();
    if (r == WEB_ROUTE_RUN &&
        (!name || !text_is_name(name, CONTROL_NAME_MAX) ||
         strncmp(path, "/runs/", 6) != 0 || strcmp(path + 6, name) != 0))
        abort();
}

static void check_accepted(const char *raw, const struct web_target *t)
{
    const char *q = strchr(raw, '?');
    size_t plen = q ? (size_t)(q - raw) : strlen(raw);
    char *path = ref_decode(raw, plen, false);

    if (!path || strcmp(path, t->path) != 0 || t->path[0] != '/' ||
        !text_is_clean(t->path, SIZE_MAX) || t->nparams > WEB_PARAMS_MAX)
        abort();
    free(path);
    for (size_t i = 0; i < t->nparams; i++) {
        const char *k = t->params[i].key;

        if (!*k || strlen(k) > WEB_KEY_MAX ||
            strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(k) ||
            web_param(t, k) != t->params[i].value)
            abort();
    }
    /* Each pair, decoded the slow way, is the parameter in its place. */
    if (q && q[1]) {
        char *copy = strdup(q + 1), *save = NULL;
        size_t i = 0;

        for (char *p = strtok_r(copy, "&", &save); p;
             p = strtok_r(NULL, "&", &save), i++) {
            char *eq = strchr(p, '='), *k, *v;

            if (eq)
                *eq = '\0';
            k = ref_decode(p, strlen(p), true);
            v = eq ? ref_decode(eq + 1, strlen(eq + 1), true) : strdup("");
            if (i >= t->nparams || !k || !v ||
                strcmp(k, t->params[i].key) != 0 ||
                strcmp(v, t->params[i].value) != 0)
                abort();
            free(k);
            free(v);
        }
        if (i != t->nparams)
            abort();
        free(copy);
    }
    check_route(t->path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = malloc(size + 1);
    static struct web_target t;
    const char *why = NULL;

    memcpy(raw, data, size);
    raw[size] = '\0';
    if (web_target_parse(raw, &t, &why) == 0)
        check_accepted(raw, &t);
    else if (!why)
        abort();
    check_route(raw);
    free(raw);
    return 0;
}
