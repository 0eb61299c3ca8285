// SPDX-License-Identifier: MIT
/*
 * tbdaq-web's basic authentication (web/auth.c): the users file's lines,
 * the Authorization header's base64, and the check against crypt(3)
 * SHA-512 hashes made by `openssl passwd -6`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "web/auth.h"

/* openssl passwd -6 -salt saltsalt secret */
#define HASH_SECRET                                                            \
    "$6$saltsalt$"                                                             \
    "TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZ" \
    "N.Pq.H91p5hVO1"
/* openssl passwd -6 -salt pepper 'p:ss w' */
#define HASH_COLON                                                             \
    "$6$pepper$3EbuGjmeedZMRg3BZ5."                                            \
    "Ypniq3jVI74YaJRHbtXZIHcEW3e8r8KSXDqKb8uDatuSBdAqY2Sqew3GJjIxDjZJlZ."

static const char users[] = "# operators\n"
                            "\n"
                            "alice:" HASH_SECRET "\n"
                            "carol:" HASH_COLON "\r\n";

static void test_users_file(void **state)
{
    static const struct {
        const char *text;
        const char *err; /* NULL: accepted; else a part of the error */
    } cases[] = {
        {users, NULL},
        {"alice:" HASH_SECRET, NULL}, /* no final newline */
        {"", "no user"},
        {"# nobody\n", "no user"},
        {"alice\n", "u:1"},
        {":" HASH_SECRET "\n", "u:1"},
        {"alice:secret\n", "SHA-512"},
        {"alice:$1$abc$def\n", "SHA-512"},
        {"alice:$5$salt$abc\n", "SHA-512"},
        {"alice:" HASH_SECRET "\nalice:" HASH_SECRET "\n", "twice"},
        {"0123456789012345678901234567890123456789012345678901234567890123"
         "4:" HASH_SECRET "\n",
         "user name"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        struct auth *a = auth_parse("u", cases[i].text, strlen(cases[i].text),
                                    err, sizeof(err));

        if (!cases[i].err && !a)
            fail_msg("case %zu refused: %s", i, err);
        if (cases[i].err && (a || !strstr(err, cases[i].err)))
            fail_msg("case %zu: want an error with '%s', got '%s'", i,
                     cases[i].err, a ? "(accepted)" : err);
        auth_free(a);
    }
    /* a line naming its file and line */
    {
        char err[256];

        assert_null(
            auth_parse("/etc/tbdaq/web.users", "x\n", 2, err, sizeof(err)));
        assert_non_null(strstr(err, "/etc/tbdaq/web.users:1: "));
    }
}

static void test_basic_decode(void **state)
{
    static const struct {
        const char *header;
        const char *user, *pass; /* NULL: refused */
    } cases[] = {
        {"Basic Ym9iOnB3", "bob", "pw"},      /* bob:pw */
        {"Basic  Ym9iOnB3", "bob", "pw"},     /* spaces allowed */
        {"Basic Ym9iOg==", "bob", ""},        /* bob: */
        {"Basic OnB3", "", "pw"},             /* :pw */
        {"Basic Ym9iOnA6dw==", "bob", "p:w"}, /* bob:p:w */
        {"Basic Ym9iOnB", NULL, NULL},        /* not a multiple of 4 */
        {"Basic Ym9i", NULL, NULL},           /* bob: no colon */
        {"Basic Ym9i=npw", NULL, NULL},       /* padding inside */
        {"Basic Ym9iOnB3====", NULL, NULL},   /* too much padding */
        {"Basic Ym9iO*B3", NULL, NULL},       /* not base64 */
        {"Bearer Ym9iOnB3", NULL, NULL},      /* not basic */
        {"basic", NULL, NULL},
        {"Basic ", NULL, NULL},
        {"Basic Ym9iAA==", NULL, NULL}, /* bob NUL */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char user[AUTH_USER_MAX + 1], pass[AUTH_HEADER_MAX];
        int rc = auth_basic_decode(cases[i].header, user, sizeof(user), pass,
                                   sizeof(pass));

        if (!cases[i].user) {
            if (rc != -1)
                fail_msg("'%s': want refused", cases[i].header);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': refused", cases[i].header);
        assert_string_equal(user, cases[i].user);
        assert_string_equal(pass, cases[i].pass);
    }
}

static void test_check(void **state)
{
    char err[256];
    struct auth *a = auth_parse("u", users, strlen(users), err, sizeof(err));

    (void)state;
    assert_non_null(a);
    assert_int_equal(auth_count(a), 2);
    assert_true(auth_check(a, "Basic YWxpY2U6c2VjcmV0"));  /* alice:secret */
    assert_false(auth_check(a, "Basic YWxpY2U6c2VjcmV1")); /* alice:secreu */
    assert_false(auth_check(a, "Basic YWxpY2U6"));         /* alice: */
    assert_false(auth_check(a, "Basic Ym9iOnNlY3JldA==")); /* bob:secret */
    assert_false(auth_check(a, "Basic YWxpYzpzZWNyZXQ=")); /* alic:secret */
    assert_false(
        auth_check(a, "Basic YWxpY2VzOnNlY3JldA=="));      /* alices:secret */
    assert_true(auth_check(a, "Basic Y2Fyb2w6cDpzcyB3"));  /* carol:p:ss w */
    assert_false(auth_check(a, "Basic Y2Fyb2w6c2VjcmV0")); /* carol:secret */
    assert_false(auth_check(a, NULL));
    assert_false(auth_check(a, "Basic !!!!"));
    auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users_file),
        cmocka_unit_test(test_basic_decode),
        cmocka_unit_test(test_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
