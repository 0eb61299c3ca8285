// SPDX-License-Identifier: MIT
/*
 * SHA-256 over OpenSSL's low-level SHA256_* functions. OpenSSL 3 calls
 * them deprecated in favour of EVP, but EVP's first use loads the provider
 * machinery, which costs a long-running daemon about 2 MiB of resident
 * memory; the low-level functions run the same (hardware-accelerated) code
 * without it. The deprecation notice is silenced here, and only here.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "common/hash.h"

#include <openssl/sha.h>
#include <stdlib.h>

_Static_assert(SHA256_LEN == SHA256_DIGEST_LENGTH, "SHA-256 is 32 bytes");

struct sha256 {
    SHA256_CTX ctx;
};

struct sha256 *sha256_new(void)
{
    struct sha256 *h = malloc(sizeof(*h));

    if (!h || SHA256_Init(&h->ctx) != 1)
        abort();
    return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
    if (SHA256_Update(&h->ctx, data, len) != 1)
        abort();
}

void sha256_finish_hex(struct sha256 *h, char out[SHA256_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA256_LEN];

    sha256_digest(h, md);
    for (unsigned int i = 0; i < SHA256_LEN; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * SHA256_LEN] = '\0';
    free(h);
}

void sha256_reset(struct sha256 *h)
{
    if (SHA256_Init(&h->ctx) != 1)
        abort();
}

void sha256_digest(struct sha256 *h, unsigned char out[SHA256_LEN])
{
    if (SHA256_Final(out, &h->ctx) != 1)
        abort();
}

void sha256_free(struct sha256 *h)
{
    free(h);
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
    struct sha256 *h = sha256_new();

    sha256_update(h, data, len);
    sha256_finish_hex(h, out);
}
