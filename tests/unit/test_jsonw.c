// SPDX-License-Identifier: MIT
/*
 * JSON strings and numbers (common/jsonw), as the export and the manifest
 * write them: escapes, the JSONW_STRING_MAX bound, null for NULL and for
 * non-finite numbers.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jsonw.h"
#include "common/util.h"

static void test_json_double(void **state)
{
    char buf[JSONW_DOUBLE_MAX + 1], *end;
    (void)state;

    end = jsonw_double(buf, NAN);
    *end = '\0';
    assert_string_equal(buf, "null");
    end = jsonw_double(buf, -INFINITY);
    *end = '\0';
    assert_string_equal(buf, "null");
    end = jsonw_double(buf, 0.1);
    *end = '\0';
    assert_string_equal(buf, "0.1");
}

static void test_json_string(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", "\"\""},
        {"FT-101", "\"FT-101\""},
        {"a\"b", "\"a\\\"b\""},
        {"back\\slash", "\"back\\\\slash\""},
        {"tab\there", "\"tab\\there\""},
        {"nl\ncr\r", "\"nl\\ncr\\r\""},
        {"\b\f", "\"\\b\\f\""},
        {"\x01\x1f", "\"\\u0001\\u001f\""},
        {"µS/cm °C", "\"µS/cm °C\""},
        {"/", "\"/\""},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        char *buf = xmalloc(JSONW_STRING_MAX(n) + 1), *end;

        end = jsonw_string(buf, cases[i].in, n);
        assert_true((size_t)(end - buf) <= JSONW_STRING_MAX(n));
        *end = '\0';
        assert_string_equal(buf, cases[i].want);
        free(buf);
    }
    {
        char buf[JSONW_STRING_MAX(2)], *end = jsonw_string(buf, "\x01\x02", 2);

        assert_int_equal(end - buf, JSONW_STRING_MAX(2));
        end = jsonw_string_or_null(buf, NULL);
        *end = '\0';
        assert_string_equal(buf, "null");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_double),
        cmocka_unit_test(test_json_string),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
