// SPDX-License-Identifier: MIT
/*
 * Basic authentication (auth.h): the users file, the header's base64, and
 * the check with crypt_r() (libcrypt) in constant time. A struct
 * crypt_data is large (tens of KiB): each check allocates its own, so that
 * checks on connection threads share nothing.
 */
#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "web/auth.h"

/* A users file is a few lines: refuse anything far larger. */
#define AUTH_FILE_MAX (1024 * 1024)
/* What an unknown user is checked against, so that the check costs the
 * same: a valid $6$ hash of no password anyone has. */
static const char auth_dummy_hash[] =
    "$6$tbdaqdummysalt$TLGSzoh/LL7vDb1g.J1BKF3Kv.tSVzWMdPN4OWMaNyb9IzN2DibDj"
    "WaIR/UFXgevQ5e9zdAJ9aXvJ6FICkGdr1";

struct auth_user {
    char name[AUTH_USER_MAX + 1];
    char hash[AUTH_HASH_MAX + 1];
};

struct auth {
    struct auth_user *v;
    size_t n, cap;
};

/* Whether a and b (both n bytes) are equal, in time that depends on n
 * only. */
static bool auth_equal(const char *a, const char *b, size_t n)
{
    unsigned char d = 0;

    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Whether a hash has the form "$6$[rounds=N$]SALT$HASH" of crypt(3)'s
 * SHA-512: the only kind accepted (SPEC). */
static bool auth_hash_ok(const char *h)
{
    const char *p;

    if (strncmp(h, "$6$", 3) != 0)
        return false;
    p = strrchr(h + 3, '$');
    if (!p || p == h + 2 || strlen(p + 1) != 86)
        return false;
    for (p = h; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr("$./=", *p)))
            return false;
    return true;
}

/* Adds the line (len bytes, no newline) numbered lineno; 0 or -1. */
static int auth_line(struct auth *a, const char *path, int lineno,
                     const char *line, size_t len, char *err, size_t errlen)
{
    const char *colon = memchr(line, ':', len);
    size_t ulen = colon ? (size_t)(colon - line) : 0, hlen;
    struct auth_user *u;

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (len == 0 || line[0] == '#')
        return 0;
    if (!colon || ulen == 0 || ulen > AUTH_USER_MAX) {
        snprintf(err, errlen,
                 "%s:%d: expected 'user:hash' (a user name of "
                 "1..%d bytes)",
                 path, lineno, AUTH_USER_MAX);
        return -1;
    }
    hlen = len - ulen - 1;
    if (hlen > AUTH_HASH_MAX) {
        snprintf(err, errlen, "%s:%d: hash too long", path, lineno);
        return -1;
    }
    if (a->n == AUTH_USERS_MAX) {
        snprintf(err, errlen, "%s:%d: more than %d users", path, lineno,
                 AUTH_USERS_MAX);
        return -1;
    }
    xgrow(&a->v, &a->cap, a->n + 1, sizeof(*a->v));
    u = &a->v[a->n];
    memset(u, 0, sizeof(*u)); /* auth_check() compares whole arrays */
    memcpy(u->name, line, ulen);
    u->name[ulen] = '\0';
    memcpy(u->hash, colon + 1, hlen);
    u->hash[hlen] = '\0';
    if (!auth_hash_ok(u->hash)) {
        snprintf(err, errlen,
                 "%s:%d: user '%s' has no SHA-512 crypt hash ('$6$...', as "
                 "'openssl passwd -6' writes it)",
                 path, lineno, u->name);
        return -1;
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, u->name) == 0) {
            snprintf(err, errlen, "%s:%d: user '%s' given twice", path, lineno,
                     u->name);
            return -1;
        }
    a->n++;
    return 0;
}

struct auth *auth_parse(const char *path, const char *text, size_t len,
                        char *err, size_t errlen)
{
    struct auth *a = xcalloc(1, sizeof(*a));
    const char *p = text, *end = text + len;
    int lineno = 0;

    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "%s: holds a NUL byte", path);
        goto fail;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        if (auth_line(a, path, ++lineno, p, n, err, errlen) < 0)
            goto fail;
        p += n + 1;
    }
    if (a->n == 0) {
        snprintf(err, errlen, "%s: no user in it", path);
        goto fail;
    }
    return a;
fail:
    auth_free(a);
    return NULL;
}

struct auth *auth_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    struct auth *a;
    char *text;
    size_t len;

    if (!f) {
        snprintf(err, errlen, "cannot read users file '%s': %s", path,
                 strerror(errno));
        return NULL;
    }
    text = xmalloc(AUTH_FILE_MAX + 1);
    len = fread(text, 1, AUTH_FILE_MAX + 1, f);
    if (ferror(f) || len > AUTH_FILE_MAX) {
        snprintf(err, errlen, "cannot read users file '%s': %s", path,
                 ferror(f) ? strerror(errno) : "larger than 1 MiB");
        fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    a = auth_parse(path, text, len, err, errlen);
    free(text);
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    free(a->v);
    free(a);
}

size_t auth_count(const struct auth *a)
{
    return a->n;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes padded base64 s into out (room for outlen, NUL included).
 * Returns the length, or -1. */
static int b64_decode(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s), o = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        uint32_t w;

        for (int k = 0; k < 4; k++) {
            if (s[i + k] == '=' && i + 4 == n && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad || (v[k] = b64_value(s[i + k])) < 0) {
                return -1;
            }
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
            (uint32_t)v[3];
        if (o + 3 - (size_t)pad + 1 > outlen)
            return -1;
        out[o++] = (char)(w >> 16);
        if (pad < 2)
            out[o++] = (char)(w >> 8 & 0xff);
        if (pad < 1)
            out[o++] = (char)(w & 0xff);
    }
    out[o] = '\0';
    return (int)o;
}

int auth_basic_decode(const char *header, char *user, size_t userlen,
                      char *pass, size_t passlen)
{
    char raw[AUTH_HEADER_MAX];
    const char *colon;
    int n;

    if (strlen(header) > AUTH_HEADER_MAX || strncmp(header, "Basic ", 6) != 0)
        return -1;
    header += 6;
    while (*header == ' ')
        header++;
    if ((n = b64_decode(header, raw, sizeof(raw))) < 0 ||
        memchr(raw, '\0', (size_t)n) || !(colon = strchr(raw, ':')))
        return -1;
    if ((size_t)(colon - raw) + 1 > userlen || strlen(colon + 1) + 1 > passlen)
        return -1;
    memcpy(user, raw, (size_t)(colon - raw));
    user[colon - raw] = '\0';
    strcpy(pass, colon + 1);
    return 0;
}

bool auth_check(const struct auth *a, const char *header)
{
    char user[AUTH_USER_MAX + 1], pass[AUTH_HEADER_MAX];
    char name[AUTH_USER_MAX + 1] = {0};
    const char *hash = auth_dummy_hash, *out;
    struct crypt_data *cd;
    bool found = false, ok;

    if (!header ||
        auth_basic_decode(header, user, sizeof(user), pass, sizeof(pass)) < 0)
        return false;
    /* Every user is looked at, each name compared over the same length. */
    memcpy(name, user, strlen(user)); /* fits: both AUTH_USER_MAX + 1 */
    for (size_t i = 0; i < a->n; i++) {
        bool eq = auth_equal(a->v[i].name, name, sizeof(name));

        hash = eq ? a->v[i].hash : hash;
        found |= eq;
    }
    cd = xcalloc(1, sizeof(*cd));
    out = crypt_r(pass, hash, cd);
    ok = out && out[0] != '*' && strlen(out) == strlen(hash) &&
         auth_equal(out, hash, strlen(hash)) && found;
    explicit_bzero(pass, sizeof(pass));
    free(cd);
    return ok;
}
