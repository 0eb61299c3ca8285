// SPDX-License-Identifier: MIT
/*
 * CSV quoting (common/csv), as the export writes its fields (RFC 4180):
 * quoted only when needed, quotes doubled, within CSV_FIELD_MAX.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/csv.h"
#include "common/util.h"

static void test_csv(void **state)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"", ""},
        {"FT-101", "FT-101"},
        {"m3/h", "m3/h"},
        {" spaced ", " spaced "},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"line\nbreak", "\"line\nbreak\""},
        {"cr\r", "\"cr\r\""},
        {"Connection timed out", "Connection timed out"},
        {"µS/cm", "µS/cm"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = strlen(cases[i].in);
        char *buf = xmalloc(CSV_FIELD_MAX(n) + 1), *end;

        end = csv_field(buf, cases[i].in, n);
        assert_true((size_t)(end - buf) <= CSV_FIELD_MAX(n));
        *end = '\0';
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(csv_needs_quotes(cases[i].in, n),
                         strcmp(cases[i].in, cases[i].want) != 0);
        free(buf);
    }
    /* the worst case fills the bound exactly */
    {
        char buf[CSV_FIELD_MAX(3)], *end = csv_field(buf, "\"\"\"", 3);

        assert_int_equal(end - buf, CSV_FIELD_MAX(3));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
