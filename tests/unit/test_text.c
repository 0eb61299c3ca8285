// SPDX-License-Identifier: MIT
/*
 * The checks of common/text that `tbdaq run start` and the configuration
 * apply: a run's name (letters, digits and ._-, at most a limit), free
 * text (printable UTF-8, no control characters, at most a limit of bytes)
 * and printable ASCII (MQTT client ids, certificate numbers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/text.h"

static void test_names(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"R-001", true},
        {"run_2026.11.25", true},
        {"a", true},
        {"0123456789012345678901234567890123456789012345678901234567890123",
         true}, /* 64 */
        {"01234567890123456789012345678901234567890123456789012345678901234",
         false}, /* 65 */
        {"", false},
        {"a b", false},
        {"a/b", false},
        {"a+b", false},
        {"run#1", false},
        {"caf\xc3\xa9", false},
        {"a\nb", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (text_is_name(cases[i].in, 64) != cases[i].ok)
            fail_msg("'%s': want %s", cases[i].in,
                     cases[i].ok ? "accepted" : "refused");
}

static void test_clean_text(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"", true},
        {"J. Kim", true},
        {"김지수", true},
        {"pH probe \"B\", 25 °C; flow 3 m³/h", true},
        {"emoji \xf0\x9f\x92\xa7", true},
        {"tab\there", false},
        {"new\nline", false},
        {"del\x7f", false},
        {"c1 \xc2\x85", false},   /* U+0085 NEL */
        {"bad \xff", false},      /* never in UTF-8 */
        {"cut \xe2\x82", false},  /* truncated sequence */
        {"over \xc0\xaf", false}, /* overlong '/' */
        {"over \xe0\x80\xaf", false},
        {"surrogate \xed\xa0\x80", false},
        {"big \xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"lone \x80", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (text_is_clean(cases[i].in, 128) != cases[i].ok)
            fail_msg("case %zu: want %s", i,
                     cases[i].ok ? "accepted" : "refused");
    /* the limit counts bytes */
    assert_true(text_is_clean("abcd", 4));
    assert_false(text_is_clean("abcde", 4));
    assert_false(text_is_clean("\xc3\xa9\xc3\xa9\xc3\xa9", 5));
}

static void test_printable_ascii(void **state)
{
    static const struct {
        const char *in;
        bool ok;
    } cases[] = {
        {"", true},
        {"tbdaq-plant_a", true},
        {" !~", true}, /* 0x20 and 0x7e, the ends */
        {"a\x1f"
         "b",
         false}, /* below the space */
        {"del\x7f", false},
        {"caf\xc3\xa9", false}, /* UTF-8, not ASCII */
        {"tab\there", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (text_is_printable_ascii(cases[i].in) != cases[i].ok)
            fail_msg("case %zu: want %s", i,
                     cases[i].ok ? "accepted" : "refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_clean_text),
        cmocka_unit_test(test_printable_ascii),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
