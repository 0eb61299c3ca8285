// SPDX-License-Identifier: MIT
/*
 * tbdaq-web's own parsers (web/parse.c): request targets split and
 * percent-decoded, their queries, and the routes; and the web group's
 * listen address (config_listen_parse()). Table-driven: each target with
 * whether it is accepted, and what it decodes or routes to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/config.h"
#include "web/parse.h"

static void test_targets(void **state)
{
    static const struct {
        const char *raw;
        const char *path; /* NULL: refused */
        size_t nparams;
    } cases[] = {
        {"/", "/", 0},
        {"/metrics", "/metrics", 0},
        {"/metrics?", "/metrics", 0},
        {"/api/status?trend=1", "/api/status", 1},
        {"/api/status?trend", "/api/status", 1},
        {"/runs/R%2D1", "/runs/R-1", 0},
        {"/a%20b", "/a b", 0},
        {"/caf%C3%A9", "/caf\xc3\xa9", 0},
        {"/a?x=1&y=2&z=%41+b", "/a", 3},
        {"", NULL, 0},
        {"metrics", NULL, 0},
        {"http://host/", NULL, 0},
        {"/a#frag", NULL, 0},
        {"/%", NULL, 0},
        {"/%4", NULL, 0},
        {"/%zz", NULL, 0},
        {"/%00", NULL, 0},
        {"/a%2Fb", NULL, 0},
        {"/%0a", NULL, 0},
        {"/%C3%28", NULL, 0}, /* not UTF-8 */
        {"/?a=1&&b=2", NULL, 0},
        {"/?a=1&", NULL, 0},
        {"/?=1", NULL, 0},
        {"/?A=1", NULL, 0},
        {"/?a=1&a=2", NULL, 0},
        {"/?a=%ZZ", NULL, 0},
        {"/?a=%0d", NULL, 0},
        {"/?a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1", "/", 8},
        {"/?a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1", NULL, 0},
        {"/?abcdefghijklmnopq=1", NULL, 0}, /* a key of 17 */
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct web_target t;
        const char *why = NULL;
        int rc = web_target_parse(cases[i].raw, &t, &why);

        if (!cases[i].path) {
            if (rc != -1 || !why)
                fail_msg("'%s': want refused", cases[i].raw);
            continue;
        }
        if (rc != 0)
            fail_msg("'%s': refused (%s)", cases[i].raw, why);
        assert_string_equal(t.path, cases[i].path);
        assert_int_equal(t.nparams, cases[i].nparams);
    }
}

static void test_target_too_long(void **state)
{
    char raw[WEB_TARGET_MAX + 2];
    struct web_target t;
    const char *why;

    (void)state;
    memset(raw, 'a', sizeof(raw) - 1);
    raw[0] = '/';
    raw[WEB_TARGET_MAX] = '\0';
    assert_int_equal(web_target_parse(raw, &t, &why), 0);
    raw[WEB_TARGET_MAX] = 'a';
    raw[WEB_TARGET_MAX + 1] = '\0';
    assert_int_equal(web_target_parse(raw, &t, &why), -1);
}

static void test_query_values(void **state)
{
    struct web_target t;
    const char *why;
    bool b;

    (void)state;
    assert_int_equal(web_target_parse("/x?format=js%6Fn&q=a+b&e", &t, &why), 0);
    assert_string_equal(web_param(&t, "format"), "json");
    assert_string_equal(web_param(&t, "q"), "a b");
    assert_string_equal(web_param(&t, "e"), "");
    assert_null(web_param(&t, "none"));
    {
        static const char *const ok[] = {"format", "q", "e", NULL};
        static const char *const few[] = {"format", NULL};

        assert_int_equal(web_params_only(&t, ok, &why), 0);
        assert_int_equal(web_params_only(&t, few, &why), -1);
    }
    assert_int_equal(web_target_parse("/x?trend=1", &t, &why), 0);
    assert_int_equal(web_param_bool(&t, "trend", false, &b, &why), 0);
    assert_true(b);
    assert_int_equal(web_param_bool(&t, "other", true, &b, &why), 0);
    assert_true(b);
    assert_int_equal(web_target_parse("/x?trend=2", &t, &why), 0);
    assert_int_equal(web_param_bool(&t, "trend", false, &b, &why), -1);
}

static void test_routes(void **state)
{
    static const struct {
        const char *path;
        enum web_route route;
        const char *name;
    } cases[] = {
        {"/", WEB_ROUTE_LIVE, NULL},
        {"/runs", WEB_ROUTE_RUNS, NULL},
        {"/runs/R-1", WEB_ROUTE_RUN, "R-1"},
        {"/runs/run_2026.11.25", WEB_ROUTE_RUN, "run_2026.11.25"},
        {"/metrics", WEB_ROUTE_METRICS, NULL},
        {"/api/status", WEB_ROUTE_STATUS, NULL},
        {"/runs/", WEB_ROUTE_NONE, NULL},
        {"/runs/a/b", WEB_ROUTE_NONE, NULL},
        {"/runs/a b", WEB_ROUTE_BAD, NULL},
        {"/runs/..", WEB_ROUTE_RUN, ".."}, /* a name; no such run: 404 */
        {"/runs/0123456789012345678901234567890123456789012345678901234567890"
         "1234",
         WEB_ROUTE_BAD, NULL},
        {"/metrics/", WEB_ROUTE_NONE, NULL},
        {"/index.html", WEB_ROUTE_NONE, NULL},
        {"//", WEB_ROUTE_NONE, NULL},
        {"/api", WEB_ROUTE_NONE, NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name, *why = NULL;
        enum web_route r = web_route(cases[i].path, &name, &why);

        if (r != cases[i].route)
            fail_msg("'%s': route %d, want %d", cases[i].path, r,
                     cases[i].route);
        if (cases[i].name)
            assert_string_equal(name, cases[i].name);
        if (r == WEB_ROUTE_BAD)
            assert_non_null(why);
    }
}

static void test_listen(void **state)
{
    static const struct {
        const char *in;
        bool ok;
        int family, port;
        bool loopback;
    } cases[] = {
        {"127.0.0.1:8080", true, AF_INET, 8080, true},
        {"127.1.2.3:1", true, AF_INET, 1, true},
        {"0.0.0.0:80", true, AF_INET, 80, false},
        {"192.0.2.7:65535", true, AF_INET, 65535, false},
        {"[::1]:8080", true, AF_INET6, 8080, true},
        {"[::]:8080", true, AF_INET6, 8080, false},
        {"[fe80::1]:443", true, AF_INET6, 443, false},
        {"127.0.0.1:0", false, 0, 0, false},
        {"127.0.0.1:65536", false, 0, 0, false},
        {"127.0.0.1:", false, 0, 0, false},
        {"127.0.0.1", false, 0, 0, false},
        {":8080", false, 0, 0, false},
        {"localhost:8080", false, 0, 0, false},
        {"::1:8080", false, 0, 0, false},
        {"[::1:8080", false, 0, 0, false},
        {"[127.0.0.1]:80", false, 0, 0, false},
        {"127.0.0.1:+80", false, 0, 0, false},
        {"127.0.0.1:080x", false, 0, 0, false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct listen_addr a;
        char err[128] = "";
        int rc = config_listen_parse(cases[i].in, &a, err, sizeof(err));

        if ((rc == 0) != cases[i].ok)
            fail_msg("'%s': %s", cases[i].in, rc == 0 ? "accepted" : err);
        if (rc != 0)
            continue;
        assert_int_equal(a.family, cases[i].family);
        assert_int_equal(a.port, cases[i].port);
        assert_int_equal(a.loopback, cases[i].loopback);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_target_too_long),
        cmocka_unit_test(test_query_values),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_listen),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
