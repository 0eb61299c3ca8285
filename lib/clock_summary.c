// SPDX-License-Identifier: MIT
/*
 * The clock events of a window of the record, summed up: see
 * clock_summary.h.
 */
#include "lib/clock_summary.h"

#include <stdio.h>
#include <string.h>

void clock_summary_init(struct clock_summary *cs)
{
    *cs = (struct clock_summary){.max_error_us = -1};
}

int clock_summary_add(struct clock_summary *cs, const char *kind,
                      const char *detail)
{
    if (strcmp(kind, "clock_step") == 0) {
        double secs;

        cs->steps++;
        return sscanf(detail, "wall clock stepped by %lf s", &secs) == 1 ? 0
                                                                         : -1;
    }
    if (strcmp(kind, "clock") != 0)
        return 0;
    if (!cs->known) {
        cs->known = true;
        cs->synchronized = true;
    }
    if (strncmp(detail, "synchronized,", 13) == 0) {
        long long est;

        if (sscanf(detail, "synchronized, estimated error %lld us", &est) !=
            1) {
            cs->synchronized = false;
            cs->max_error_us = -1;
            return -1;
        }
        if (cs->synchronized && est > cs->max_error_us)
            cs->max_error_us = est;
        return 0;
    }
    cs->synchronized = false;
    cs->max_error_us = -1;
    return strncmp(detail, "unsynchronized", 14) == 0 ? 0 : -1;
}
