/* SPDX-License-Identifier: MIT */
/*
 * SHA-256, the only use tbdaq makes of OpenSSL's libcrypto. Wrapped here so
 * nothing else includes an OpenSSL header.
 *
 * Errors: none are returned; OpenSSL failing (or memory running out)
 * aborts. Ownership: a context from sha256_new() is the caller's until
 * sha256_finish_hex() or sha256_free() frees it. Threads: a context is
 * used by one thread at a time; sha256_hex() keeps no state and is
 * thread-safe.
 */
#ifndef TBDAQ_HASH_H
#define TBDAQ_HASH_H

#include <stddef.h>

#define SHA256_LEN 32
#define SHA256_HEX_LEN 65 /* 64 hex digits and NUL */

struct sha256; /* an incremental hash; opaque */

/* Returns a new context. Aborts if OpenSSL cannot make one. */
struct sha256 *sha256_new(void);
void sha256_update(struct sha256 *h, const void *data, size_t len);
/* Finishes: writes the digest as lower-case hex and frees h. */
void sha256_finish_hex(struct sha256 *h, char out[SHA256_HEX_LEN]);

/* Starts h over for a new message: much cheaper than a new context, for
 * callers that hash many small messages. */
void sha256_reset(struct sha256 *h);
/* Writes the raw digest of what h took so far; h is kept (reset it
 * before reuse, free it with sha256_free()). */
void sha256_digest(struct sha256 *h, unsigned char out[SHA256_LEN]);
/* Frees a context that was not given to sha256_finish_hex(); NULL is
 * fine. */
void sha256_free(struct sha256 *h);

/* One-shot: the hex SHA-256 of len bytes. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

#endif
