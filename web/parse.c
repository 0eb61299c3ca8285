// SPDX-License-Identifier: MIT
/*
 * Request targets: split, percent-decoded, checked and routed (the rules
 * are in parse.h). Written to be fuzzed: every index is bounded by the
 * lengths it was given, and nothing is allocated.
 */
#include <string.h>

#include "common/text.h"
#include "lib/control.h"
#include "web/parse.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int web_pct_decode(const char *s, size_t n, bool plus_space, char *out,
                   size_t outlen, const char **why)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '%') {
            int hi = i + 2 < n ? hex_value(s[i + 1]) : -1;

            if (hi < 0 || hex_value(s[i + 2]) < 0) {
                *why = "a '%' not followed by two hex digits";
                return -1;
            }
            c = hi * 16 + hex_value(s[i + 2]);
            i += 2;
            if (c == 0) {
                *why = "an encoded NUL (%00)";
                return -1;
            }
            if (c == '/' && !plus_space) {
                *why = "an encoded '/' (%2F) in the path";
                return -1;
            }
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == 0) {
            *why = "a NUL byte";
            return -1;
        }
        if (o + 1 >= outlen) {
            *why = "too long";
            return -1;
        }
        out[o++] = (char)c;
    }
    if (o >= outlen) {
        *why = "too long";
        return -1;
    }
    out[o] = '\0';
    return (int)o;
}

static bool key_is_valid(const char *k)
{
    size_t n = strlen(k);

    if (n == 0 || n > WEB_KEY_MAX)
        return false;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
              *k == '_'))
            return false;
    return true;
}

/* Parses one "key[=value]" of n bytes at p into t's next parameter,
 * decoding into qbuf at *used. Returns 0 or -1 (*why set). */
static int query_pair(struct web_target *t, const char *p, size_t n,
                      size_t *used, const char **why)
{
    const char *eq = memchr(p, '=', n);
    size_t klen = eq ? (size_t)(eq - p) : n;
    char *key = t->qbuf + *used, *value;
    int len;

    if (n == 0) {
        *why = "an empty query parameter";
        return -1;
    }
    if (t->nparams == WEB_PARAMS_MAX) {
        *why = "too many query parameters";
        return -1;
    }
    len = web_pct_decode(p, klen, true, key, sizeof(t->qbuf) - *used, why);
    if (len < 0)
        return -1;
    *used += (size_t)len + 1;
    value = t->qbuf + *used;
    len = eq ? web_pct_decode(eq + 1, n - klen - 1, true, value,
                              sizeof(t->qbuf) - *used, why)
             : web_pct_decode("", 0, true, value, sizeof(t->qbuf) - *used, why);
    if (len < 0)
        return -1;
    *used += (size_t)len + 1;
    if (!key_is_valid(key)) {
        *why = "a query key outside [a-z0-9_] or too long";
        return -1;
    }
    if (!text_is_clean(value, WEB_TARGET_MAX)) {
        *why = "a query value that is not clean UTF-8";
        return -1;
    }
    if (web_param(t, key)) {
        *why = "a query parameter given twice";
        return -1;
    }
    t->params[t->nparams].key = key;
    t->params[t->nparams].value = value;
    t->nparams++;
    return 0;
}

static int query_parse(struct web_target *t, const char *q, const char **why)
{
    size_t used = 0, n = strlen(q);

    if (n == 0)
        return 0;
    for (const char *p = q; p <= q + n;) {
        const char *amp = memchr(p, '&', (size_t)(q + n - p));
        size_t len = amp ? (size_t)(amp - p) : (size_t)(q + n - p);

        if (query_pair(t, p, len, &used, why) < 0)
            return -1;
        if (!amp)
            break;
        p = amp + 1;
    }
    return 0;
}

int web_target_parse(const char *raw, struct web_target *t, const char **why)
{
    size_t n = strlen(raw), plen;
    const char *q;

    t->nparams = 0;
    t->path[0] = '\0';
    if (n == 0 || raw[0] != '/') {
        *why = "the target must start with '/'";
        return -1;
    }
    if (n > WEB_TARGET_MAX) {
        *why = "the target is too long";
        return -1;
    }
    if (memchr(raw, '#', n)) {
        *why = "a '#' in the target";
        return -1;
    }
    q = memchr(raw, '?', n);
    plen = q ? (size_t)(q - raw) : n;
    if (web_pct_decode(raw, plen, false, t->path, sizeof(t->path), why) < 0)
        return -1;
    if (!text_is_clean(t->path, WEB_TARGET_MAX)) {
        *why = "a path that is not clean UTF-8";
        return -1;
    }
    return q ? query_parse(t, q + 1, why) : 0;
}

enum web_route web_route(const char *path, const char **name, const char **why)
{
    static const char runs[] = "/runs/";

    *name = NULL;
    if (strcmp(path, "/") == 0)
        return WEB_ROUTE_LIVE;
    if (strcmp(path, "/runs") == 0)
        return WEB_ROUTE_RUNS;
    if (strcmp(path, "/metrics") == 0)
        return WEB_ROUTE_METRICS;
    if (strcmp(path, "/api/status") == 0)
        return WEB_ROUTE_STATUS;
    if (strncmp(path, runs, sizeof(runs) - 1) != 0)
        return WEB_ROUTE_NONE;
    path += sizeof(runs) - 1;
    if (*path == '\0' || strchr(path, '/'))
        return WEB_ROUTE_NONE;
    if (!text_is_name(path, CONTROL_NAME_MAX)) {
        *why = "a run name outside [A-Za-z0-9_.-] or too long";
        return WEB_ROUTE_BAD;
    }
    *name = path;
    return WEB_ROUTE_RUN;
}

const char *web_param(const struct web_target *t, const char *key)
{
    for (size_t i = 0; i < t->nparams; i++)
        if (strcmp(t->params[i].key, key) == 0)
            return t->params[i].value;
    return NULL;
}

int web_params_only(const struct web_target *t, const char *const *keys,
                    const char **why)
{
    for (size_t i = 0; i < t->nparams; i++) {
        const char *const *k = keys;

        while (*k && strcmp(*k, t->params[i].key) != 0)
            k++;
        if (!*k) {
            *why = "a query parameter this path does not take";
            return -1;
        }
    }
    return 0;
}

int web_param_bool(const struct web_target *t, const char *key, bool def,
                   bool *out, const char **why)
{
    const char *v = web_param(t, key);

    if (!v) {
        *out = def;
        return 0;
    }
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) {
        *out = true;
        return 0;
    }
    if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) {
        *out = false;
        return 0;
    }
    *why = "a yes/no query parameter that is neither (use 1 or 0)";
    return -1;
}
