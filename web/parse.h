/* SPDX-License-Identifier: MIT */
/*
 * tbdaq-web's request targets: the raw "/path?query" a client sent,
 * split, percent-decoded and checked by our own small parsers (not
 * libmicrohttpd's, so that what is accepted is written down here and
 * fuzzed: tests/fuzz/fuzz_webparse.c), and the path routed.
 *
 * Rules: the target starts with '/', is at most WEB_TARGET_MAX bytes and
 * holds no '#'. The path is percent-decoded ("%41" is 'A'; a '%' not
 * followed by two hex digits, "%00" and an encoded '/' are refused) and
 * must then be UTF-8 without control characters. The query is '&'-separated
 * "key=value" pairs (a key alone has the value ""), each percent-decoded
 * with '+' as a space; a key is 1..WEB_KEY_MAX of [a-z0-9_], given once;
 * at most WEB_PARAMS_MAX pairs; an empty pair ("a=1&&b=2") is refused.
 * Whatever breaks a rule is a malformed request: 400.
 *
 * Pure functions of their arguments: no allocation, no state,
 * thread-safe. Errors: -1 (or WEB_ROUTE_BAD) with *why pointing to a
 * static text for the 400 page.
 */
#ifndef TBDAQ_WEB_PARSE_H
#define TBDAQ_WEB_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest request target accepted: paths here are short, and a run
 * name is at most 64 bytes. */
#define WEB_TARGET_MAX 2048
/* The most query parameters, and the longest key. */
#define WEB_PARAMS_MAX 8
#define WEB_KEY_MAX 16

struct web_param {
    const char *key; /* both point into the target's qbuf */
    const char *value;
};

/* A parsed target; the strings point into the struct itself. */
struct web_target {
    char path[WEB_TARGET_MAX + 1]; /* decoded */
    char qbuf[WEB_TARGET_MAX + 2]; /* decoded keys and values, NUL-split */
    struct web_param params[WEB_PARAMS_MAX];
    size_t nparams;
};

enum web_route {
    WEB_ROUTE_LIVE,    /* / */
    WEB_ROUTE_RUNS,    /* /runs */
    WEB_ROUTE_RUN,     /* /runs/<name> */
    WEB_ROUTE_METRICS, /* /metrics */
    WEB_ROUTE_STATUS,  /* /api/status */
    WEB_ROUTE_NONE,    /* no such path: 404 */
    WEB_ROUTE_BAD,     /* a run name that cannot be one: 400 */
};

/*
 * Decodes n bytes of s into out (room for outlen bytes, NUL included):
 * "%XX" to its byte, '+' to a space if plus_space. Returns the decoded
 * length, or -1 with *why set (a bad escape, "%00", an encoded '/' when
 * !plus_space, or no room).
 */
int web_pct_decode(const char *s, size_t n, bool plus_space, char *out,
                   size_t outlen, const char **why);

/* Parses a raw target into t. Returns 0, or -1 with *why set. */
int web_target_parse(const char *raw, struct web_target *t, const char **why);

/* Routes a decoded path; *name is set for WEB_ROUTE_RUN (points into
 * path), *why for WEB_ROUTE_BAD. */
enum web_route web_route(const char *path, const char **name, const char **why);

/* The value of query parameter key, or NULL if not given. */
const char *web_param(const struct web_target *t, const char *key);

/* Returns 0 if every parameter of t is one of keys (NULL-terminated),
 * else -1 with *why set. */
int web_params_only(const struct web_target *t, const char *const *keys,
                    const char **why);

/* A yes/no parameter: "1"/"true"/"yes" or "0"/"false"/"no" (absent:
 * def). Returns 0 with *out, or -1 with *why set. */
int web_param_bool(const struct web_target *t, const char *key, bool def,
                   bool *out, const char **why);

#endif
