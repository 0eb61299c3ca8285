/* SPDX-License-Identifier: MIT */
/*
 * A bench helper's positional integer arguments, each checked against its
 * range with one wording of the mistake. Linked into every helper
 * build_helper (tests/bench/lib.sh) builds.
 */
#ifndef TBDAQ_BENCH_ARG_H
#define TBDAQ_BENCH_ARG_H

/*
 * The integer in s within lo..hi, or -1 after "PROG: bad WHAT 'S'
 * (LO..HI)" on stderr (so lo must not be negative).
 */
long bench_arg(const char *prog, const char *s, long lo, long hi,
               const char *what);

#endif
