// SPDX-License-Identifier: MIT
/* A bench helper's positional integer arguments (arg.h). */
#include "tests/bench/arg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

long bench_arg(const char *prog, const char *s, long lo, long hi,
               const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: bad %s '%s' (%ld..%ld)\n", prog, what, s, lo, hi);
        return -1;
    }
    return v;
}
