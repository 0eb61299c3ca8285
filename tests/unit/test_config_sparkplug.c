// SPDX-License-Identifier: MIT
/*
 * Unit tests of the sparkplug group (lib/config_sparkplug.c, issue 15):
 * every key given, the defaults (client id and edge node from the site),
 * a table of broken groups each giving exactly one "file:line: message"
 * (Sparkplug ids holding '+', '#' or '/', qos 2, a key file without its
 * certificate, ...), and config_sparkplug_equal().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "tests/unit/test_config.h"

/* Lines 1..3; the sparkplug group starts on line 4. */
#define HEAD                                                                   \
    "site = \"bed-7\";\n"                                                      \
    "buses = ({ name = \"a\"; type = \"tcp\"; host = \"h\"; });\n"             \
    "sensors = ({ id = \"S1\"; kind = \"flow\"; bus = \"a\";"                  \
    " type = \"float32\"; address = 0; });\n"
#define SPB(s) HEAD "sparkplug = { " s " };\n"

static void test_good(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(
        f,
        SPB("host = \"scada.example\"; port = 8883; client_id = \"n1\";\n"
            "  username = \"u\"; password_file = \"/p\";\n"
            "  tls = { ca_file = \"/ca\"; cert_file = \"/c\"; key_file = "
            "\"/k\"; };\n"
            "  keepalive_s = 10; group_id = \"Plant 1\"; edge_node = "
            "\"bed.7\";\n"
            "  qos = 1; primary_host = \"ignition-1\";"),
        &errs);
    const struct sparkplug_conf *p;

    print_errors(&errs);
    assert_non_null(c);
    p = &c->sparkplug;
    assert_true(p->enabled);
    assert_string_equal(p->host, "scada.example");
    assert_int_equal(p->port, 8883);
    assert_string_equal(p->client_id, "n1");
    assert_string_equal(p->username, "u");
    assert_string_equal(p->password_file, "/p");
    assert_string_equal(p->ca_file, "/ca");
    assert_string_equal(p->cert_file, "/c");
    assert_string_equal(p->key_file, "/k");
    assert_int_equal(p->keepalive_s, 10);
    assert_string_equal(p->group_id, "Plant 1");
    assert_string_equal(p->edge_node, "bed.7");
    assert_int_equal(p->qos, 1);
    assert_string_equal(p->primary_host, "ignition-1");
    /* The JSON publisher is not asked for. */
    assert_false(c->mqtt.enabled);
    config_free(c);
}

static void test_defaults(void **state)
{
    const struct fixture *f = *state;
    struct config_errors errs = {0};
    struct config *c = load_text(f, SPB(""), &errs);
    struct config *none;
    const struct sparkplug_conf *p;

    print_errors(&errs);
    assert_non_null(c);
    p = &c->sparkplug;
    assert_true(p->enabled);
    assert_string_equal(p->host, "localhost");
    assert_int_equal(p->port, 1883);
    assert_string_equal(p->client_id, "tbdaq-bed-7-spb");
    assert_null(p->username);
    assert_null(p->password_file);
    assert_null(p->ca_file);
    assert_int_equal(p->keepalive_s, 30);
    assert_string_equal(p->group_id, "tbdaq");
    assert_string_equal(p->edge_node, "bed-7");
    assert_int_equal(p->qos, 0);
    assert_null(p->primary_host);

    none = load_text(f, HEAD, &errs);
    print_errors(&errs);
    assert_non_null(none);
    assert_false(none->sparkplug.enabled);
    assert_false(config_sparkplug_equal(c, none));
    config_free(none);
    config_free(c);
}

static const struct one_error_case bad_cases[] = {
    {"group_id plus", SPB("group_id = \"a+b\";"), 4,
     "group_id 'a+b' in sparkplug must not hold '+', '#' or '/'"},
    {"edge_node hash", SPB("\n edge_node = \"n#\";"), 5,
     "edge_node 'n#' in sparkplug must not hold '+', '#' or '/'"},
    {"edge_node slash", SPB("edge_node = \"a/b\";"), 4,
     "edge_node 'a/b' in sparkplug must not hold '+', '#' or '/'"},
    {"primary_host slash", SPB("primary_host = \"h/1\";"), 4,
     "primary_host 'h/1' in sparkplug must not hold '+', '#' or '/'"},
    {"group_id control", SPB("group_id = \"a\\tb\";"), 4,
     "group_id 'a\tb' in sparkplug must be UTF-8 without control "
     "characters"},
    {"qos 2", SPB("qos = 2;"), 4, "'qos' in sparkplug must be 0..1, not 2"},
    {"keepalive", SPB("keepalive_s = 1;"), 4,
     "'keepalive_s' in sparkplug must be 5..3600, not 1"},
    {"empty group_id", SPB("group_id = \"\";"), 4,
     "'group_id' in sparkplug must not be empty"},
    {"unknown key", SPB("topic_prefix = \"x\";"), 4,
     "unknown key 'topic_prefix' in sparkplug"},
    {"typo", SPB("edge_nod = \"x\";"), 4,
     "unknown key 'edge_nod' in sparkplug (did you mean 'edge_node'?)"},
    {"password without user", SPB("password_file = \"/p\";"), 4,
     "'password_file' in sparkplug needs 'username'"},
    {"key without cert", SPB("tls = { key_file = \"/k\"; };"), 4,
     "'key_file' in sparkplug.tls needs 'cert_file'"},
    {"empty tls", SPB("tls = { };"), 4,
     "sparkplug.tls needs 'ca_file' or 'cert_file'"},
    {"client_id", SPB("client_id = \"n\\t1\";"), 4,
     "client_id 'n\t1' in sparkplug must be printable ASCII"},
    {"not a group", HEAD "sparkplug = 1;\n", 4,
     "'sparkplug' must be a group { ... }, not an integer"},
};

static void test_bad(void **state)
{
    expect_one_error(*state, bad_cases,
                     sizeof(bad_cases) / sizeof(bad_cases[0]));
}

/* Every setting counts for a reconnection; the sensors do not. */
static void test_equal(void **state)
{
    const struct fixture *f = *state;
    static const char *const variants[] = {
        SPB("host = \"x\";"),         SPB("port = 1884;"),
        SPB("client_id = \"c\";"),    SPB("username = \"u\";"),
        SPB("keepalive_s = 31;"),     SPB("group_id = \"g\";"),
        SPB("edge_node = \"e\";"),    SPB("qos = 1;"),
        SPB("primary_host = \"h\";"),
    };
    struct config_errors errs = {0};
    struct config *a = load_text(f, SPB(""), &errs);
    struct config *same =
        load_text(f,
                  "site = \"bed-7\";\n"
                  "buses = ({ name = \"b\"; type = \"tcp\"; host = \"h\"; });\n"
                  "sensors = ({ id = \"S9\"; kind = \"ph\"; bus = \"b\";"
                  " type = \"int16\"; address = 4; });\nsparkplug = { };\n",
                  &errs);

    print_errors(&errs);
    assert_non_null(a);
    assert_non_null(same);
    assert_true(config_sparkplug_equal(a, same));
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct config *b = load_text(f, variants[i], &errs);

        print_errors(&errs);
        assert_non_null(b);
        if (config_sparkplug_equal(a, b))
            fail_msg("variant %zu counts as equal", i);
        config_free(b);
    }
    config_free(same);
    config_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_defaults, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_bad, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_equal, fixture_setup,
                                        fixture_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
