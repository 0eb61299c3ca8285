// SPDX-License-Identifier: MIT
/*
 * SHA-256 over OpenSSL's EVP interface.
 */
#include "common/hash.h"

#include <openssl/evp.h>
#include <stdlib.h>

struct sha256 {
    EVP_MD_CTX *ctx;
};

struct sha256 *sha256_new(void)
{
    struct sha256 *h = malloc(sizeof(*h));

    if (!h || !(h->ctx = EVP_MD_CTX_new()) ||
        EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
        abort();
    return h;
}

void sha256_update(struct sha256 *h, const void *data, size_t len)
{
    if (EVP_DigestUpdate(h->ctx, data, len) != 1)
        abort();
}

void sha256_final_hex(struct sha256 *h, char out[SHA256_HEX_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1 || len != SHA256_LEN)
        abort();
    for (unsigned int i = 0; i < len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[2 * len] = '\0';
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void sha256_reset(struct sha256 *h)
{
    if (EVP_DigestInit_ex(h->ctx, NULL, NULL) != 1)
        abort();
}

void sha256_final_raw(struct sha256 *h, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1 || len != SHA256_LEN)
        abort();
}

void sha256_free(struct sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
    struct sha256 *h = sha256_new();

    sha256_update(h, data, len);
    sha256_final_hex(h, out);
}
