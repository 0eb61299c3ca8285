// SPDX-License-Identifier: MIT
/*
 * The ISO 8601 parser of common/util, which the export's --from and --to
 * and the manifest's calibration due dates go through: a zone is
 * required, offsets and fractions are honoured, impossible dates and
 * trailing junk are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/fmt.h"
#include "common/util.h"

static void test_time_parse(void **state)
{
    static const struct {
        const char *in;
        int ok;
        const char *utc; /* what it means, if ok */
    } cases[] = {
        {"2026-11-25T09:00:00Z", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T18:00:00+09:00", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T03:30:00-05:30", 1, "2026-11-25T09:00:00.000000Z"},
        {"2026-11-25T03:30:00.25-0530", 1, "2026-11-25T09:00:00.250000Z"},
        {"2026-01-01T05:00:00+09:00", 1, "2025-12-31T20:00:00.000000Z"},
        {"2026-11-25T09:00:00.123456789Z", 1, "2026-11-25T09:00:00.123456Z"},
        {"2026-11-25", 1, "2026-11-25T00:00:00.000000Z"},
        {"2024-02-29T00:00:00Z", 1, "2024-02-29T00:00:00.000000Z"},
        {"2026-11-25T09:00:00", 0, NULL},  /* no zone: ambiguous */
        {"2026-11-25T09:00Z", 0, NULL},    /* no seconds */
        {"2026-13-01T00:00:00Z", 0, NULL}, /* month */
        {"2026-02-29T00:00:00Z", 0, NULL}, /* not a leap year */
        {"2026-11-25T24:00:00Z", 0, NULL}, /* hour */
        {"2026-11-25T09:00:00+24:00", 0, NULL},
        {"2026-11-25T09:00:00Zjunk", 0, NULL},
        {"2026-11-25T09:00:00.Z", 0, NULL}, /* empty fraction */
        {"26-11-25", 0, NULL},
        {"yesterday", 0, NULL},
        {"", 0, NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t us = 0;
        int rc = time_parse_iso(cases[i].in, &us);

        if (!cases[i].ok) {
            if (rc != -1)
                fail_msg("'%s' was accepted", cases[i].in);
            continue;
        }
        char got[TIME_ISO_LEN];

        if (rc != 0)
            fail_msg("'%s' was refused", cases[i].in);
        fmt_time_iso(us, got);
        if (strcmp(got, cases[i].utc) != 0)
            fail_msg("'%s': got %s, want %s", cases[i].in, got, cases[i].utc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
