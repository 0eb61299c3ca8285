/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of common/table.c: each case a table and the exact text it
 * must print.
 */
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/table.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *what;
    const char *head[5];
    const char *cells[12];
    const char *want;
} cases[] = {
    {"widths from the widest cell, header included",
     {"NAME", "KIND", NULL},
     {"F1", "flow", "A-LONGER-ID", "ph", NULL},
     "NAME         KIND\n"
     "F1           flow\n"
     "A-LONGER-ID  ph\n"},
    {"numbers flush right",
     {"BUS", ">READINGS", ">ERRORS", NULL},
     {"plant", "5", "123456", "b", "10", "0", NULL},
     "BUS    READINGS  ERRORS\n"
     "plant         5  123456\n"
     "b            10       0\n"},
    {"characters, not bytes: UTF-8 names line up",
     {"OPERATOR", "NOTE", NULL},
     {"Zo\xc3\xab M\xc3\xbcller", "x", "Bob", "y", NULL},
     "OPERATOR    NOTE\n"
     "Zo\xc3\xab M\xc3\xbcller  x\n"
     "Bob         y\n"},
    {"a column no row fills is left out, and no line ends in spaces",
     {"A", "DETAIL", "B", NULL},
     {"1", "", "x", "22", "", "", NULL},
     "A   B\n"
     "1   x\n"
     "22\n"},
    {"a last column with some cells empty",
     {"A", "DETAIL", NULL},
     {"1", "", "22", "comm_error: timeout", NULL},
     "A   DETAIL\n"
     "1\n"
     "22  comm_error: timeout\n"},
    {"Hangul takes two columns a character",
     {"OPERATOR", ">N", NULL},
     {"\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98", "12", "Bob", "3", NULL},
     "OPERATOR   N\n"
     "\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98    12\n"
     "Bob        3\n"},
    {"the header alone", {"NAME", ">N", NULL}, {NULL}, "NAME  N\n"},
};

static void test_table_print(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(cases); i++) {
        struct table t;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        table_init(&t, cases[i].head);
        for (size_t j = 0; cases[i].cells[j]; j++)
            table_cell(&t, "%s", cases[i].cells[j]);
        table_print(&t, f);
        table_release(&t);
        assert_int_equal(fclose(f), 0);
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("%s: got\n%s\nwant\n%s", cases[i].what, buf,
                     cases[i].want);
        free(buf);
    }
}

static void test_table_format(void **state)
{
    static const char *const head[] = {">VALUE", "UNIT", NULL};
    struct table t;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    table_init(&t, head);
    table_cell(&t, "%.6g", 25.97264);
    table_cell(&t, "%s", "m3/h");
    table_cell(&t, "%lld", (long long)-3);
    table_cell(&t, "%s", "bar");
    table_print(&t, f);
    table_release(&t);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(buf, "  VALUE  UNIT\n"
                             "25.9726  m3/h\n"
                             "     -3  bar\n");
    free(buf);
}

int main(void)
{
    /* as tbdaq does: the widths are of UTF-8 text */
    if (!setlocale(LC_CTYPE, "C.UTF-8"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_print),
        cmocka_unit_test(test_table_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
