// SPDX-License-Identifier: MIT
/*
 * SHA-256 against the FIPS 180-4 example vectors, whole and fed in pieces,
 * and reuse after reset (the store hashes each reading with one context).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/hash.h"

static const struct {
    const char *in;
    const char *want;
} vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void test_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        char hex[SHA256_HEX_LEN];

        sha256_hex(vectors[i].in, strlen(vectors[i].in), hex);
        assert_string_equal(hex, vectors[i].want);
    }
}

/* One byte at a time, then the same context reset and reused. */
static void test_pieces_and_reset(void **state)
{
    const char *in = vectors[2].in;
    struct sha256 *h = sha256_new();
    unsigned char raw[SHA256_LEN], again[SHA256_LEN];
    char hex[SHA256_HEX_LEN];

    (void)state;
    for (size_t i = 0; in[i]; i++)
        sha256_update(h, in + i, 1);
    sha256_digest(h, raw);
    sha256_reset(h);
    sha256_update(h, in, strlen(in));
    sha256_digest(h, again);
    assert_memory_equal(raw, again, SHA256_LEN);
    sha256_reset(h);
    sha256_update(h, "abc", 3);
    sha256_finish_hex(h, hex); /* frees h */
    assert_string_equal(hex, vectors[1].want);
    assert_int_equal(raw[0], 0x24);
    assert_int_equal(raw[31], 0xc1);
}

/* A million 'a's: the long FIPS example, in uneven pieces. */
static void test_million(void **state)
{
    static char block[1000];
    struct sha256 *h = sha256_new();
    char hex[SHA256_HEX_LEN];
    size_t left = 1000000, n = 1;

    (void)state;
    memset(block, 'a', sizeof(block));
    while (left > 0) {
        size_t take = n < left ? n : left;

        sha256_update(h, block, take);
        left -= take;
        n = n % 997 + 1;
    }
    sha256_finish_hex(h, hex);
    assert_string_equal(
        hex,
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_pieces_and_reset),
        cmocka_unit_test(test_million),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
