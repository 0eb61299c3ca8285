/* SPDX-License-Identifier: MIT */
/*
 * HTTP basic authentication against web.users_file: one "user:hash" line
 * per user, the hash a crypt(3) SHA-512 one ("$6$", as `openssl passwd
 * -6` writes it); empty lines and lines starting with '#' are skipped.
 *
 * auth_check() costs one crypt_r() whatever the user name (an unknown
 * user is checked against a dummy hash) and compares names and hashes in
 * constant time, so that neither time nor the answer tells which users
 * exist. Loaded users are read-only: any number of threads may call
 * auth_check() at once. Errors: auth_load() returns NULL with err set
 * ("FILE:LINE: ..."); out of memory aborts.
 */
#ifndef TBDAQ_WEB_AUTH_H
#define TBDAQ_WEB_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* The longest user name and hash accepted, and the most users: a users
 * file is written by hand. */
#define AUTH_USER_MAX 64
#define AUTH_HASH_MAX 256
#define AUTH_USERS_MAX 1000
/* The longest Authorization header value looked at. */
#define AUTH_HEADER_MAX 1024

struct auth;

/* Reads and checks path. Returns the users (free with auth_free()), or
 * NULL with err set. A file without any user is an error. */
struct auth *auth_load(const char *path, char *err, size_t errlen);
/* Parses users from text (len bytes), naming path in errors: the part of
 * auth_load() the unit tests drive. */
struct auth *auth_parse(const char *path, const char *text, size_t len,
                        char *err, size_t errlen);
void auth_free(struct auth *a);
/* How many users a holds. */
size_t auth_count(const struct auth *a);

/*
 * Decodes an Authorization header value "Basic BASE64" into user and
 * password (NUL-terminated, user without ':'). Returns 0, or -1 if it is
 * not well-formed basic credentials. Pure; for the fuzzer too.
 */
int auth_basic_decode(const char *header, char *user, size_t userlen,
                      char *pass, size_t passlen);

/* Whether header (the Authorization value, or NULL) names a user of a
 * with the right password. */
bool auth_check(const struct auth *a, const char *header);

#endif
