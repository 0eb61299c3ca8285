/* SPDX-License-Identifier: MIT */
/*
 * Powers of ten as 64-bit integers, for exact decimal arithmetic (the
 * shortest-decimal formatter in fmt.c, value rounding in decode.c). A
 * header only, so that a module built alone (a fuzz target) needs no
 * other object for it. Constant tables: no state, thread-safe.
 */
#ifndef TBDAQ_POW10_H
#define TBDAQ_POW10_H

#include <stdint.h>

/* Powers of ten that are exact doubles (10^22 is the last). */
#define POW10_EXACT_MAX 22
static const double pow10_exact[POW10_EXACT_MAX + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 10^0 .. 10^19: every power of ten a uint64_t holds. */
#define POW10_U64_MAX 19
static const uint64_t pow10_u64[POW10_U64_MAX + 1] = {
    UINT64_C(1),
    UINT64_C(10),
    UINT64_C(100),
    UINT64_C(1000),
    UINT64_C(10000),
    UINT64_C(100000),
    UINT64_C(1000000),
    UINT64_C(10000000),
    UINT64_C(100000000),
    UINT64_C(1000000000),
    UINT64_C(10000000000),
    UINT64_C(100000000000),
    UINT64_C(1000000000000),
    UINT64_C(10000000000000),
    UINT64_C(100000000000000),
    UINT64_C(1000000000000000),
    UINT64_C(10000000000000000),
    UINT64_C(100000000000000000),
    UINT64_C(1000000000000000000),
    UINT64_C(10000000000000000000),
};

#endif
