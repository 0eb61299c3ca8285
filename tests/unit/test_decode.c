/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of drivers/decode.c. The register words below were worked out
 * by hand from each value's big-endian bytes (A first) and the order's
 * letters, not produced by the code under test: e.g. int32 -123456789 is
 * 0xF8A432EB, so CDAB is {0x32EB, 0xF8A4} and BADC {0xA4F8, 0xEB32}.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/fmt.h"
#include "drivers/decode.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct vec {
    enum reg_type type;
    enum byte_order order;
    uint16_t regs[REG_MAX_WORDS];
    double want;
};

static const struct vec vecs[] = {
    /* int16 */
    {REG_INT16, BO_AB, {0xCFC7}, -12345},
    {REG_INT16, BO_BA, {0xC7CF}, -12345},
    {REG_INT16, BO_AB, {0x7FFF}, 32767},
    {REG_INT16, BO_BA, {0xFF7F}, 32767},
    {REG_INT16, BO_AB, {0x8000}, -32768},
    {REG_INT16, BO_BA, {0x0080}, -32768},
    {REG_INT16, BO_AB, {0xFFFF}, -1},
    {REG_INT16, BO_BA, {0xFFFF}, -1},
    {REG_INT16, BO_AB, {0x0000}, 0},
    {REG_INT16, BO_BA, {0x0000}, 0},
    {REG_INT16, BO_AB, {0x0001}, 1},
    {REG_INT16, BO_BA, {0x0100}, 1},
    {REG_INT16, BO_AB, {0x02BC}, 700},
    {REG_INT16, BO_BA, {0xBC02}, 700},
    {REG_INT16, BO_AB, {0xFF7F}, -129},
    {REG_INT16, BO_BA, {0x7FFF}, -129},
    /* uint16 */
    {REG_UINT16, BO_AB, {0xD431}, 54321},
    {REG_UINT16, BO_BA, {0x31D4}, 54321},
    {REG_UINT16, BO_AB, {0xFFFF}, 65535},
    {REG_UINT16, BO_BA, {0xFFFF}, 65535},
    {REG_UINT16, BO_AB, {0x8000}, 32768},
    {REG_UINT16, BO_BA, {0x0080}, 32768},
    {REG_UINT16, BO_AB, {0x0000}, 0},
    {REG_UINT16, BO_BA, {0x0000}, 0},
    {REG_UINT16, BO_AB, {0x0001}, 1},
    {REG_UINT16, BO_BA, {0x0100}, 1},
    /* int32 -123456789 = 0xF8A432EB */
    {REG_INT32, BO_ABCD, {0xF8A4, 0x32EB}, -123456789},
    {REG_INT32, BO_CDAB, {0x32EB, 0xF8A4}, -123456789},
    {REG_INT32, BO_BADC, {0xA4F8, 0xEB32}, -123456789},
    {REG_INT32, BO_DCBA, {0xEB32, 0xA4F8}, -123456789},
    /* INT32_MAX = 0x7FFFFFFF */
    {REG_INT32, BO_ABCD, {0x7FFF, 0xFFFF}, 2147483647},
    {REG_INT32, BO_CDAB, {0xFFFF, 0x7FFF}, 2147483647},
    {REG_INT32, BO_BADC, {0xFF7F, 0xFFFF}, 2147483647},
    {REG_INT32, BO_DCBA, {0xFFFF, 0xFF7F}, 2147483647},
    /* INT32_MIN = 0x80000000 */
    {REG_INT32, BO_ABCD, {0x8000, 0x0000}, -2147483648.0},
    {REG_INT32, BO_CDAB, {0x0000, 0x8000}, -2147483648.0},
    {REG_INT32, BO_BADC, {0x0080, 0x0000}, -2147483648.0},
    {REG_INT32, BO_DCBA, {0x0000, 0x0080}, -2147483648.0},
    /* -1 and -2 = 0xFFFFFFFE */
    {REG_INT32, BO_ABCD, {0xFFFF, 0xFFFF}, -1},
    {REG_INT32, BO_DCBA, {0xFFFF, 0xFFFF}, -1},
    {REG_INT32, BO_ABCD, {0xFFFF, 0xFFFE}, -2},
    {REG_INT32, BO_CDAB, {0xFFFE, 0xFFFF}, -2},
    {REG_INT32, BO_BADC, {0xFFFF, 0xFEFF}, -2},
    {REG_INT32, BO_DCBA, {0xFEFF, 0xFFFF}, -2},
    /* 16909060 = 0x01020304: every byte distinct */
    {REG_INT32, BO_ABCD, {0x0102, 0x0304}, 16909060},
    {REG_INT32, BO_CDAB, {0x0304, 0x0102}, 16909060},
    {REG_INT32, BO_BADC, {0x0201, 0x0403}, 16909060},
    {REG_INT32, BO_DCBA, {0x0403, 0x0201}, 16909060},
    {REG_INT32, BO_ABCD, {0x0000, 0x0001}, 1},
    {REG_INT32, BO_CDAB, {0x0001, 0x0000}, 1},
    {REG_INT32, BO_BADC, {0x0000, 0x0100}, 1},
    {REG_INT32, BO_DCBA, {0x0100, 0x0000}, 1},
    {REG_INT32, BO_ABCD, {0x0000, 0x0000}, 0},
    /* uint32 3000000000 = 0xB2D05E00 */
    {REG_UINT32, BO_ABCD, {0xB2D0, 0x5E00}, 3000000000.0},
    {REG_UINT32, BO_CDAB, {0x5E00, 0xB2D0}, 3000000000.0},
    {REG_UINT32, BO_BADC, {0xD0B2, 0x005E}, 3000000000.0},
    {REG_UINT32, BO_DCBA, {0x005E, 0xD0B2}, 3000000000.0},
    {REG_UINT32, BO_ABCD, {0xFFFF, 0xFFFF}, 4294967295.0},
    {REG_UINT32, BO_CDAB, {0xFFFF, 0xFFFF}, 4294967295.0},
    {REG_UINT32, BO_BADC, {0xFFFF, 0xFFFF}, 4294967295.0},
    {REG_UINT32, BO_DCBA, {0xFFFF, 0xFFFF}, 4294967295.0},
    {REG_UINT32, BO_ABCD, {0x8000, 0x0000}, 2147483648.0},
    {REG_UINT32, BO_CDAB, {0x0000, 0x8000}, 2147483648.0},
    {REG_UINT32, BO_BADC, {0x0080, 0x0000}, 2147483648.0},
    {REG_UINT32, BO_DCBA, {0x0000, 0x0080}, 2147483648.0},
    {REG_UINT32, BO_ABCD, {0x0102, 0x0304}, 16909060},
    {REG_UINT32, BO_CDAB, {0x0304, 0x0102}, 16909060},
    {REG_UINT32, BO_BADC, {0x0201, 0x0403}, 16909060},
    {REG_UINT32, BO_DCBA, {0x0403, 0x0201}, 16909060},
    {REG_UINT32, BO_ABCD, {0x0000, 0x0000}, 0},
    {REG_UINT32, BO_DCBA, {0x0100, 0x0000}, 1},
    /* float32 1234.5 = 0x449A5000 */
    {REG_FLOAT32, BO_ABCD, {0x449A, 0x5000}, 1234.5},
    {REG_FLOAT32, BO_CDAB, {0x5000, 0x449A}, 1234.5},
    {REG_FLOAT32, BO_BADC, {0x9A44, 0x0050}, 1234.5},
    {REG_FLOAT32, BO_DCBA, {0x0050, 0x9A44}, 1234.5},
    /* -2.5 = 0xC0200000 */
    {REG_FLOAT32, BO_ABCD, {0xC020, 0x0000}, -2.5},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0xC020}, -2.5},
    {REG_FLOAT32, BO_BADC, {0x20C0, 0x0000}, -2.5},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0x20C0}, -2.5},
    /* 25.0 = 0x41C80000 */
    {REG_FLOAT32, BO_ABCD, {0x41C8, 0x0000}, 25.0},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0x41C8}, 25.0},
    {REG_FLOAT32, BO_BADC, {0xC841, 0x0000}, 25.0},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0xC841}, 25.0},
    /* 0.1f = 0x3DCCCCCD, exactly 0x1.99999ap-4 */
    {REG_FLOAT32, BO_ABCD, {0x3DCC, 0xCCCD}, 0x1.99999ap-4},
    {REG_FLOAT32, BO_CDAB, {0xCCCD, 0x3DCC}, 0x1.99999ap-4},
    {REG_FLOAT32, BO_BADC, {0xCC3D, 0xCDCC}, 0x1.99999ap-4},
    {REG_FLOAT32, BO_DCBA, {0xCDCC, 0xCC3D}, 0x1.99999ap-4},
    /* FLT_MAX = 0x7F7FFFFF */
    {REG_FLOAT32, BO_ABCD, {0x7F7F, 0xFFFF}, 0x1.fffffep127},
    {REG_FLOAT32, BO_CDAB, {0xFFFF, 0x7F7F}, 0x1.fffffep127},
    {REG_FLOAT32, BO_BADC, {0x7F7F, 0xFFFF}, 0x1.fffffep127},
    {REG_FLOAT32, BO_DCBA, {0xFFFF, 0x7F7F}, 0x1.fffffep127},
    /* smallest denormal 0x00000001 = 2^-149 */
    {REG_FLOAT32, BO_ABCD, {0x0000, 0x0001}, 0x1p-149},
    {REG_FLOAT32, BO_CDAB, {0x0001, 0x0000}, 0x1p-149},
    {REG_FLOAT32, BO_BADC, {0x0000, 0x0100}, 0x1p-149},
    {REG_FLOAT32, BO_DCBA, {0x0100, 0x0000}, 0x1p-149},
    /* largest denormal 0x007FFFFF = 2^-126 - 2^-149 */
    {REG_FLOAT32, BO_ABCD, {0x007F, 0xFFFF}, 0x1.fffffcp-127},
    {REG_FLOAT32, BO_CDAB, {0xFFFF, 0x007F}, 0x1.fffffcp-127},
    {REG_FLOAT32, BO_BADC, {0x7F00, 0xFFFF}, 0x1.fffffcp-127},
    {REG_FLOAT32, BO_DCBA, {0xFFFF, 0x7F00}, 0x1.fffffcp-127},
    /* -0.0 = 0x80000000 */
    {REG_FLOAT32, BO_ABCD, {0x8000, 0x0000}, -0.0},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0x8000}, -0.0},
    {REG_FLOAT32, BO_BADC, {0x0080, 0x0000}, -0.0},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0x0080}, -0.0},
    /* NaN = 0x7FC00000 */
    {REG_FLOAT32, BO_ABCD, {0x7FC0, 0x0000}, NAN},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0x7FC0}, NAN},
    {REG_FLOAT32, BO_BADC, {0xC07F, 0x0000}, NAN},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0xC07F}, NAN},
    /* +inf = 0x7F800000, -inf = 0xFF800000 */
    {REG_FLOAT32, BO_ABCD, {0x7F80, 0x0000}, INFINITY},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0x7F80}, INFINITY},
    {REG_FLOAT32, BO_BADC, {0x807F, 0x0000}, INFINITY},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0x807F}, INFINITY},
    {REG_FLOAT32, BO_ABCD, {0xFF80, 0x0000}, -INFINITY},
    {REG_FLOAT32, BO_CDAB, {0x0000, 0xFF80}, -INFINITY},
    {REG_FLOAT32, BO_BADC, {0x80FF, 0x0000}, -INFINITY},
    {REG_FLOAT32, BO_DCBA, {0x0000, 0x80FF}, -INFINITY},
    /* float64 -9876.54321 = 0xC0C34A4587E7C06E */
    {REG_FLOAT64, BO_ABCDEFGH, {0xC0C3, 0x4A45, 0x87E7, 0xC06E}, -9876.54321},
    {REG_FLOAT64, BO_GHEFCDAB, {0xC06E, 0x87E7, 0x4A45, 0xC0C3}, -9876.54321},
    {REG_FLOAT64, BO_BADCFEHG, {0xC3C0, 0x454A, 0xE787, 0x6EC0}, -9876.54321},
    {REG_FLOAT64, BO_HGFEDCBA, {0x6EC0, 0xE787, 0x454A, 0xC3C0}, -9876.54321},
    /* 1.0 = 0x3FF0000000000000 */
    {REG_FLOAT64, BO_ABCDEFGH, {0x3FF0, 0, 0, 0}, 1.0},
    {REG_FLOAT64, BO_GHEFCDAB, {0, 0, 0, 0x3FF0}, 1.0},
    {REG_FLOAT64, BO_BADCFEHG, {0xF03F, 0, 0, 0}, 1.0},
    {REG_FLOAT64, BO_HGFEDCBA, {0, 0, 0, 0xF03F}, 1.0},
    /* 0.1 = 0x3FB999999999999A */
    {REG_FLOAT64, BO_ABCDEFGH, {0x3FB9, 0x9999, 0x9999, 0x999A}, 0.1},
    {REG_FLOAT64, BO_GHEFCDAB, {0x999A, 0x9999, 0x9999, 0x3FB9}, 0.1},
    {REG_FLOAT64, BO_BADCFEHG, {0xB93F, 0x9999, 0x9999, 0x9A99}, 0.1},
    {REG_FLOAT64, BO_HGFEDCBA, {0x9A99, 0x9999, 0x9999, 0xB93F}, 0.1},
    /* 0x0102030405060708: every byte distinct */
    {REG_FLOAT64,
     BO_ABCDEFGH,
     {0x0102, 0x0304, 0x0506, 0x0708},
     0x1.2030405060708p-1007},
    {REG_FLOAT64,
     BO_GHEFCDAB,
     {0x0708, 0x0506, 0x0304, 0x0102},
     0x1.2030405060708p-1007},
    {REG_FLOAT64,
     BO_BADCFEHG,
     {0x0201, 0x0403, 0x0605, 0x0807},
     0x1.2030405060708p-1007},
    {REG_FLOAT64,
     BO_HGFEDCBA,
     {0x0807, 0x0605, 0x0403, 0x0201},
     0x1.2030405060708p-1007},
    /* DBL_MAX = 0x7FEFFFFFFFFFFFFF */
    {REG_FLOAT64,
     BO_ABCDEFGH,
     {0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF},
     0x1.fffffffffffffp1023},
    {REG_FLOAT64,
     BO_GHEFCDAB,
     {0xFFFF, 0xFFFF, 0xFFFF, 0x7FEF},
     0x1.fffffffffffffp1023},
    {REG_FLOAT64,
     BO_BADCFEHG,
     {0xEF7F, 0xFFFF, 0xFFFF, 0xFFFF},
     0x1.fffffffffffffp1023},
    {REG_FLOAT64,
     BO_HGFEDCBA,
     {0xFFFF, 0xFFFF, 0xFFFF, 0xEF7F},
     0x1.fffffffffffffp1023},
    /* smallest denormal 0x0000000000000001 = 2^-1074 */
    {REG_FLOAT64, BO_ABCDEFGH, {0, 0, 0, 0x0001}, 0x1p-1074},
    {REG_FLOAT64, BO_GHEFCDAB, {0x0001, 0, 0, 0}, 0x1p-1074},
    {REG_FLOAT64, BO_BADCFEHG, {0, 0, 0, 0x0100}, 0x1p-1074},
    {REG_FLOAT64, BO_HGFEDCBA, {0x0100, 0, 0, 0}, 0x1p-1074},
    /* -0.0 = 0x8000000000000000 */
    {REG_FLOAT64, BO_ABCDEFGH, {0x8000, 0, 0, 0}, -0.0},
    {REG_FLOAT64, BO_GHEFCDAB, {0, 0, 0, 0x8000}, -0.0},
    {REG_FLOAT64, BO_BADCFEHG, {0x0080, 0, 0, 0}, -0.0},
    {REG_FLOAT64, BO_HGFEDCBA, {0, 0, 0, 0x0080}, -0.0},
    /* NaN = 0x7FF8000000000000 */
    {REG_FLOAT64, BO_ABCDEFGH, {0x7FF8, 0, 0, 0}, NAN},
    {REG_FLOAT64, BO_GHEFCDAB, {0, 0, 0, 0x7FF8}, NAN},
    {REG_FLOAT64, BO_BADCFEHG, {0xF87F, 0, 0, 0}, NAN},
    {REG_FLOAT64, BO_HGFEDCBA, {0, 0, 0, 0xF87F}, NAN},
    /* +inf = 0x7FF0000000000000, -inf = 0xFFF0000000000000 */
    {REG_FLOAT64, BO_ABCDEFGH, {0x7FF0, 0, 0, 0}, INFINITY},
    {REG_FLOAT64, BO_GHEFCDAB, {0, 0, 0, 0x7FF0}, INFINITY},
    {REG_FLOAT64, BO_BADCFEHG, {0xF07F, 0, 0, 0}, INFINITY},
    {REG_FLOAT64, BO_HGFEDCBA, {0, 0, 0, 0xF07F}, INFINITY},
    {REG_FLOAT64, BO_ABCDEFGH, {0xFFF0, 0, 0, 0}, -INFINITY},
    {REG_FLOAT64, BO_GHEFCDAB, {0, 0, 0, 0xFFF0}, -INFINITY},
    {REG_FLOAT64, BO_BADCFEHG, {0xF0FF, 0, 0, 0}, -INFINITY},
    {REG_FLOAT64, BO_HGFEDCBA, {0, 0, 0, 0xF0FF}, -INFINITY},
    /* int64 INT64_MIN = 0x8000000000000000 = -2^63, exact */
    {REG_INT64, BO_ABCDEFGH, {0x8000, 0, 0, 0}, -0x1p63},
    {REG_INT64, BO_GHEFCDAB, {0, 0, 0, 0x8000}, -0x1p63},
    {REG_INT64, BO_BADCFEHG, {0x0080, 0, 0, 0}, -0x1p63},
    {REG_INT64, BO_HGFEDCBA, {0, 0, 0, 0x0080}, -0x1p63},
    /* INT64_MAX = 0x7FFFFFFFFFFFFFFF: 2^63 - 1, whose nearest double is
     * 2^63 */
    {REG_INT64, BO_ABCDEFGH, {0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p63},
    {REG_INT64, BO_GHEFCDAB, {0xFFFF, 0xFFFF, 0xFFFF, 0x7FFF}, 0x1p63},
    {REG_INT64, BO_BADCFEHG, {0xFF7F, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p63},
    {REG_INT64, BO_HGFEDCBA, {0xFFFF, 0xFFFF, 0xFFFF, 0xFF7F}, 0x1p63},
    /* -2 = 0xFFFFFFFFFFFFFFFE */
    {REG_INT64, BO_ABCDEFGH, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE}, -2},
    {REG_INT64, BO_GHEFCDAB, {0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF}, -2},
    {REG_INT64, BO_BADCFEHG, {0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF}, -2},
    {REG_INT64, BO_HGFEDCBA, {0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF}, -2},
    /* -123456789012345 = 0xFFFF8FB779F22087: every byte but two distinct,
     * below 2^53 so exact */
    {REG_INT64,
     BO_ABCDEFGH,
     {0xFFFF, 0x8FB7, 0x79F2, 0x2087},
     -123456789012345.0},
    {REG_INT64,
     BO_GHEFCDAB,
     {0x2087, 0x79F2, 0x8FB7, 0xFFFF},
     -123456789012345.0},
    {REG_INT64,
     BO_BADCFEHG,
     {0xFFFF, 0xB78F, 0xF279, 0x8720},
     -123456789012345.0},
    {REG_INT64,
     BO_HGFEDCBA,
     {0x8720, 0xF279, 0xB78F, 0xFFFF},
     -123456789012345.0},
    /* uint64 UINT64_MAX = 2^64 - 1, whose nearest double is 2^64 */
    {REG_UINT64, BO_ABCDEFGH, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p64},
    {REG_UINT64, BO_GHEFCDAB, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p64},
    {REG_UINT64, BO_BADCFEHG, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p64},
    {REG_UINT64, BO_HGFEDCBA, {0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, 0x1p64},
    /* 2^63 = 0x8000000000000000: unsigned, not INT64_MIN */
    {REG_UINT64, BO_ABCDEFGH, {0x8000, 0, 0, 0}, 0x1p63},
    {REG_UINT64, BO_GHEFCDAB, {0, 0, 0, 0x8000}, 0x1p63},
    {REG_UINT64, BO_BADCFEHG, {0x0080, 0, 0, 0}, 0x1p63},
    {REG_UINT64, BO_HGFEDCBA, {0, 0, 0, 0x0080}, 0x1p63},
    /* 2^53 + 1 = 0x0020000000000001, the least integer a double cannot
     * hold: it ties between 2^53 and 2^53 + 2 and rounds to even, 2^53
     * (test_decode_wide_precision: the words keep the 1) */
    {REG_UINT64, BO_ABCDEFGH, {0x0020, 0, 0, 0x0001}, 0x1p53},
    {REG_UINT64, BO_GHEFCDAB, {0x0001, 0, 0, 0x0020}, 0x1p53},
    {REG_UINT64, BO_BADCFEHG, {0x2000, 0, 0, 0x0100}, 0x1p53},
    {REG_UINT64, BO_HGFEDCBA, {0x0100, 0, 0, 0x2000}, 0x1p53},
    /* 0x0102030405060708 = 72623859790382856: 54 significant bits, the
     * last a tie, to even: 0x0102030405060700 = 72623859790382848 */
    {REG_UINT64,
     BO_ABCDEFGH,
     {0x0102, 0x0304, 0x0506, 0x0708},
     72623859790382848.0},
    {REG_UINT64,
     BO_GHEFCDAB,
     {0x0708, 0x0506, 0x0304, 0x0102},
     72623859790382848.0},
    {REG_UINT64,
     BO_BADCFEHG,
     {0x0201, 0x0403, 0x0605, 0x0807},
     72623859790382848.0},
    {REG_UINT64,
     BO_HGFEDCBA,
     {0x0807, 0x0605, 0x0403, 0x0201},
     72623859790382848.0},
    /* 1 */
    {REG_UINT64, BO_ABCDEFGH, {0, 0, 0, 0x0001}, 1},
    {REG_UINT64, BO_GHEFCDAB, {0x0001, 0, 0, 0}, 1},
    {REG_UINT64, BO_BADCFEHG, {0, 0, 0, 0x0100}, 1},
    {REG_UINT64, BO_HGFEDCBA, {0x0100, 0, 0, 0}, 1},
    /* bool: a coil's or discrete input's word (bus.h: 0 or 1); any word
     * but 0 is 1, whatever the order */
    {REG_BOOL, BO_AB, {0x0000}, 0},
    {REG_BOOL, BO_AB, {0x0001}, 1},
    {REG_BOOL, BO_AB, {0xFF00}, 1},
    {REG_BOOL, BO_BA, {0x0000}, 0},
    {REG_BOOL, BO_BA, {0x0001}, 1},
    {REG_BOOL, BO_BA, {0x0100}, 1},
};

/* Exact: same bits, so -0.0 differs from 0.0; any NaN matches any NaN. */
static int same_double(double got, double want)
{
    uint64_t a, b;

    if (isnan(want))
        return isnan(got);
    memcpy(&a, &got, sizeof(a));
    memcpy(&b, &want, sizeof(b));
    return a == b;
}

static void test_decode_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(vecs); i++) {
        const struct vec *v = &vecs[i];
        double got = decode_raw(v->type, v->order, v->regs);

        if (!same_double(got, v->want))
            fail_msg("vector %zu: %s %s: got %a (%.17g), want %a (%.17g)", i,
                     reg_type_name(v->type), byte_order_name(v->order), got,
                     got, v->want, v->want);
    }
}

static const enum reg_type all_types[] = {
    REG_INT16,   REG_UINT16, REG_INT32,  REG_UINT32, REG_FLOAT32,
    REG_FLOAT64, REG_INT64,  REG_UINT64, REG_BOOL,
};

static const enum byte_order all_orders[] = {
    BO_AB,   BO_BA,       BO_ABCD,     BO_CDAB,     BO_BADC,
    BO_DCBA, BO_ABCDEFGH, BO_GHEFCDAB, BO_BADCFEHG, BO_HGFEDCBA,
};

static unsigned order_width(enum byte_order o)
{
    return o <= BO_BA ? 1 : o <= BO_DCBA ? 2 : 4;
}

/* The table above must cover every type with every order of its width,
 * with at least three values each, so no combination goes untested. */
static void test_decode_vectors_cover_all(void **state)
{
    (void)state;
    for (size_t t = 0; t < N(all_types); t++) {
        for (size_t o = 0; o < N(all_orders); o++) {
            int n = 0;

            if (order_width(all_orders[o]) != reg_type_words(all_types[t]))
                continue;
            for (size_t i = 0; i < N(vecs); i++)
                n += vecs[i].type == all_types[t] &&
                     vecs[i].order == all_orders[o];
            if (n < 3)
                fail_msg("%s %s has %d vectors", reg_type_name(all_types[t]),
                         byte_order_name(all_orders[o]), n);
        }
    }
}

/* An order of the wrong width is a caller's bug: it must not yield a
 * plausible number. */
static void test_decode_mismatched_order(void **state)
{
    static const uint16_t regs[REG_MAX_WORDS] = {0x0102, 0x0304, 0x0506,
                                                 0x0708};
    (void)state;
    assert_true(isnan(decode_raw(REG_INT16, BO_ABCD, regs)));
    assert_true(isnan(decode_raw(REG_FLOAT32, BO_AB, regs)));
    assert_true(isnan(decode_raw(REG_FLOAT64, BO_DCBA, regs)));
    assert_true(isnan(decode_raw(REG_UINT32, BO_HGFEDCBA, regs)));
}

/* A 64-bit count beyond 2^53 is stored as the nearest double; the raw
 * words a reading keeps hold it exactly (SPEC, Configuration). */
static void test_decode_wide_precision(void **state)
{
    static const uint16_t words[REG_MAX_WORDS] = {0x0020, 0x0000, 0x0000,
                                                  0x0001};
    uint64_t exact = 0;
    double raw;
    (void)state;

    raw = decode_raw(REG_UINT64, BO_ABCDEFGH, words);
    for (int i = 0; i < REG_MAX_WORDS; i++)
        exact = exact << 16 | words[i];
    assert_true(exact == UINT64_C(9007199254740993));
    /* the double cannot: the stored value is 2^53, one less */
    assert_true(raw == 9007199254740992.0);
    assert_true(decode_value(REG_UINT64, raw, 1.0, 0.0) == 9007199254740992.0);
    assert_true((uint64_t)raw != exact);
    /* below 2^53 every count is exact, and a totaliser's scale is too */
    assert_true(decode_value(REG_UINT64, 123456789012.0, 0.001, 0.0) ==
                123456789.012);
    assert_true(decode_value(REG_INT64, -9007199254740991.0, 1.0, 0.0) ==
                -9007199254740991.0);
}

/* One bit of a 16-bit register, after its byte order: the words below
 * hold the value 0x0008 (bit 3), 0x8000 (bit 15, an int16's sign) or
 * 0x0100 (bit 8), sent high byte first (AB) or low byte first (BA). */
static void test_decode_bits(void **state)
{
    static const struct {
        enum reg_type type;
        enum byte_order order;
        uint16_t word;
        int bit;
        double want;
    } b[] = {
        {REG_UINT16, BO_AB, 0x0008, 3, 1},
        {REG_UINT16, BO_AB, 0x0008, 2, 0},
        {REG_UINT16, BO_AB, 0x0008, 11, 0},
        {REG_UINT16, BO_BA, 0x0800, 3, 1},
        {REG_UINT16, BO_BA, 0x0800, 11, 0},
        {REG_UINT16, BO_BA, 0x0008, 3, 0},
        {REG_UINT16, BO_BA, 0x0008, 11, 1},
        {REG_INT16, BO_AB, 0x8000, 15, 1},
        {REG_INT16, BO_AB, 0x8000, 7, 0},
        {REG_INT16, BO_BA, 0x0080, 15, 1},
        {REG_INT16, BO_BA, 0x0080, 7, 0},
        {REG_UINT16, BO_AB, 0x0100, 8, 1},
        {REG_UINT16, BO_BA, 0x0001, 8, 1},
        {REG_UINT16, BO_BA, 0x0001, 0, 0},
        {REG_INT16, BO_AB, 0xFFFF, 0, 1},
        {REG_INT16, BO_BA, 0x0000, 15, 0},
        /* a caller's bug: no plausible 0 or 1 */
        {REG_UINT16, BO_AB, 0xFFFF, 16, NAN},
        {REG_UINT16, BO_AB, 0xFFFF, -1, NAN},
        {REG_UINT32, BO_ABCD, 0xFFFF, 0, NAN},
        {REG_FLOAT32, BO_ABCD, 0xFFFF, 0, NAN},
        {REG_BOOL, BO_AB, 0x0001, 0, NAN},
        {REG_UINT16, BO_ABCD, 0xFFFF, 0, NAN},
    };
    (void)state;

    for (size_t i = 0; i < N(b); i++) {
        uint16_t regs[REG_MAX_WORDS] = {b[i].word, 0xFFFF, 0xFFFF, 0xFFFF};
        double got = decode_bit(b[i].type, b[i].order, regs, b[i].bit);

        if (!same_double(got, b[i].want))
            fail_msg("bit case %zu: %s %s 0x%04X bit %d: got %g, want %g", i,
                     reg_type_name(b[i].type), byte_order_name(b[i].order),
                     b[i].word, b[i].bit, got, b[i].want);
    }
    /* every bit alone, in both orders: only that one reads 1 */
    for (int k = 0; k <= DECODE_BIT_MAX; k++) {
        uint16_t ab[1] = {(uint16_t)(1u << k)};
        uint16_t ba[1] = {(uint16_t)((ab[0] >> 8) | (ab[0] << 8))};

        for (int j = 0; j <= DECODE_BIT_MAX; j++) {
            assert_true(decode_bit(REG_UINT16, BO_AB, ab, j) == (j == k));
            assert_true(decode_bit(REG_INT16, BO_BA, ba, j) == (j == k));
        }
    }
}

static void test_type_names(void **state)
{
    static const struct {
        const char *name;
        enum reg_type type;
        unsigned words;
        enum byte_order def;
    } t[] = {
        {"int16", REG_INT16, 1, BO_AB},
        {"uint16", REG_UINT16, 1, BO_AB},
        {"int32", REG_INT32, 2, BO_ABCD},
        {"uint32", REG_UINT32, 2, BO_ABCD},
        {"float32", REG_FLOAT32, 2, BO_ABCD},
        {"float64", REG_FLOAT64, 4, BO_ABCDEFGH},
        {"int64", REG_INT64, 4, BO_ABCDEFGH},
        {"uint64", REG_UINT64, 4, BO_ABCDEFGH},
        {"bool", REG_BOOL, 1, BO_AB},
    };
    static const char *const bad[] = {"INT16",  "int", "Int64",  "float",
                                      "double", "",    "int16 ", " int16",
                                      "uint8",  "real"};
    (void)state;

    for (size_t i = 0; i < N(t); i++) {
        enum reg_type got = (enum reg_type) - 1;

        assert_int_equal(reg_type_parse(t[i].name, &got), 0);
        assert_int_equal(got, t[i].type);
        assert_string_equal(reg_type_name(t[i].type), t[i].name);
        assert_int_equal(reg_type_words(t[i].type), t[i].words);
        assert_int_equal(byte_order_default(t[i].type), t[i].def);
    }
    for (size_t i = 0; i < N(bad); i++) {
        enum reg_type got;

        assert_int_equal(reg_type_parse(bad[i], &got), -1);
    }
    assert_int_equal(reg_type_parse(NULL, &(enum reg_type){0}), -1);
}

static void test_table_names(void **state)
{
    static const char *const bad[] = {"Holding",   "Coil",    "coils",
                                      "discretes", "",        "holding ",
                                      "inputs",    "register"};
    enum reg_table got = (enum reg_table) - 1;

    (void)state;
    assert_int_equal(reg_table_parse("holding", &got), 0);
    assert_int_equal(got, TABLE_HOLDING);
    assert_int_equal(reg_table_parse("input", &got), 0);
    assert_int_equal(got, TABLE_INPUT);
    assert_string_equal(reg_table_name(TABLE_HOLDING), "holding");
    assert_string_equal(reg_table_name(TABLE_INPUT), "input");
    assert_int_equal(reg_table_parse("coil", &got), 0);
    assert_int_equal(got, TABLE_COIL);
    assert_int_equal(reg_table_parse("discrete", &got), 0);
    assert_int_equal(got, TABLE_DISCRETE);
    assert_int_equal(reg_table_function(TABLE_HOLDING), 3);
    assert_int_equal(reg_table_function(TABLE_INPUT), 4);
    assert_int_equal(reg_table_function(TABLE_COIL), 1);
    assert_int_equal(reg_table_function(TABLE_DISCRETE), 2);
    assert_false(reg_table_bits(TABLE_HOLDING));
    assert_true(reg_table_bits(TABLE_DISCRETE));
    for (size_t i = 0; i < N(bad); i++)
        assert_int_equal(reg_table_parse(bad[i], &got), -1);
}

static void test_order_names(void **state)
{
    static const struct {
        const char *name;
        enum byte_order order;
        unsigned words;
    } o[] = {
        {"AB", BO_AB, 1},
        {"BA", BO_BA, 1},
        {"ABCD", BO_ABCD, 2},
        {"CDAB", BO_CDAB, 2},
        {"BADC", BO_BADC, 2},
        {"DCBA", BO_DCBA, 2},
        {"ABCDEFGH", BO_ABCDEFGH, 4},
        {"GHEFCDAB", BO_GHEFCDAB, 4},
        {"BADCFEHG", BO_BADCFEHG, 4},
        {"HGFEDCBA", BO_HGFEDCBA, 4},
    };
    static const char *const unknown[] = {
        "ab",     "abcd",      "ABDC",     "DCAB",     "A",   "ABC",
        "",       "ABCD ",     "CDABEFGH", "HGFEDCAB", "B",   "BADCBADC",
        "ABCDEF", "ABCDEFGHI", "EFGHABCD", "BAAB",     "big", "little",
    };
    (void)state;

    for (size_t i = 0; i < N(o); i++) {
        assert_string_equal(byte_order_name(o[i].order), o[i].name);
        for (size_t t = 0; t < N(all_types); t++) {
            enum byte_order got = (enum byte_order) - 1;
            int rc = byte_order_parse(o[i].name, all_types[t], &got);

            if (reg_type_words(all_types[t]) == o[i].words) {
                assert_int_equal(rc, 0);
                assert_int_equal(got, o[i].order);
            } else {
                /* e.g. "BA" with float32, "ABCD" with float64 */
                assert_int_equal(rc, -2);
            }
        }
    }
    for (size_t i = 0; i < N(unknown); i++) {
        for (size_t t = 0; t < N(all_types); t++) {
            enum byte_order got;

            assert_int_equal(byte_order_parse(unknown[i], all_types[t], &got),
                             -1);
        }
    }
    assert_int_equal(byte_order_parse(NULL, REG_INT16, &(enum byte_order){0}),
                     -1);
}

/* What the poller does with a decoded value: raw * scale + offset (by
 * decode_value(), see the rounding tests below), then a quality against
 * the sensor's range. */
static void test_scale_offset(void **state)
{
    static const struct {
        enum reg_type type;
        enum byte_order order;
        uint16_t regs[REG_MAX_WORDS];
        double scale, offset, lo, hi;
        double want;
        enum quality q;
    } c[] = {
        /* pH 7.00 as int16 700 with scale 0.01 */
        {REG_INT16, BO_AB, {0x02BC}, 0.01, 0, 0, 14, 7.0, QUALITY_GOOD},
        /* the same value byte-swapped */
        {REG_INT16, BO_BA, {0xBC02}, 0.01, 0, 0, 14, 7.0, QUALITY_GOOD},
        /* -100 * 0.01 = -1.00 pH */
        {REG_INT16,
         BO_AB,
         {0xFF9C},
         0.01,
         0,
         0,
         14,
         -1.0,
         QUALITY_OUT_OF_RANGE},
        /* 1500 * 0.01 = 15.00 pH */
        {REG_UINT16,
         BO_AB,
         {0x05DC},
         0.01,
         0,
         0,
         14,
         15.0,
         QUALITY_OUT_OF_RANGE},
        /* offset brings a value exactly onto the low bound */
        {REG_INT16, BO_AB, {0x0190}, 0.5, -200, 0, 14, 0.0, QUALITY_GOOD},
        /* int16 minimum with an offset that cancels it */
        {REG_INT16, BO_AB, {0x8000}, 1, 32768, 0, 14, 0.0, QUALITY_GOOD},
        /* flow 12.345 m3/h as int32 12345 * 0.001, unbounded above */
        {REG_INT32,
         BO_ABCD,
         {0x0000, 0x3039},
         0.001,
         0,
         0,
         INFINITY,
         12.345,
         QUALITY_GOOD},
        /* turbidity exactly at its 4000 NTU top */
        {REG_UINT16, BO_AB, {0x0FA0}, 1, 0, 0, 4000, 4000.0, QUALITY_GOOD},
        /* uint32 maximum scaled down */
        {REG_UINT32,
         BO_CDAB,
         {0xFFFF, 0xFFFF},
         1e-9,
         0,
         0,
         14,
         4.294967295,
         QUALITY_GOOD},
        /* pressure: 100.0 * 0.01 = 1 bar; 1234.5 + 0.5 is out of range */
        {REG_FLOAT32,
         BO_ABCD,
         {0x42C8, 0x0000},
         0.01,
         0,
         -1,
         1000,
         1.0,
         QUALITY_GOOD},
        {REG_FLOAT32,
         BO_DCBA,
         {0x0050, 0x9A44},
         1,
         0.5,
         -1,
         1000,
         1235.0,
         QUALITY_OUT_OF_RANGE},
        /* negative scale inverts the sign */
        {REG_FLOAT64,
         BO_ABCDEFGH,
         {0xC0C3, 0x4A45, 0x87E7, 0xC06E},
         -1,
         0,
         -INFINITY,
         INFINITY,
         9876.54321,
         QUALITY_GOOD},
        /* NaN and infinities stay invalid whatever the scale and range */
        {REG_FLOAT32,
         BO_ABCD,
         {0x7FC0, 0x0000},
         2,
         1,
         -INFINITY,
         INFINITY,
         NAN,
         QUALITY_INVALID},
        {REG_FLOAT32,
         BO_ABCD,
         {0x7F80, 0x0000},
         0.5,
         0,
         -INFINITY,
         INFINITY,
         INFINITY,
         QUALITY_INVALID},
        {REG_FLOAT64,
         BO_HGFEDCBA,
         {0, 0, 0, 0xF0FF},
         1,
         0,
         -INFINITY,
         INFINITY,
         -INFINITY,
         QUALITY_INVALID},
    };
    (void)state;

    for (size_t i = 0; i < N(c); i++) {
        double v = decode_value(c[i].type,
                                decode_raw(c[i].type, c[i].order, c[i].regs),
                                c[i].scale, c[i].offset);

        if (isnan(c[i].want) || isinf(c[i].want)) {
            assert_true(same_double(v, c[i].want));
        } else if (fabs(v - c[i].want) > 1e-12 * fmax(1, fabs(c[i].want))) {
            fail_msg("case %zu: got %.17g, want %.17g", i, v, c[i].want);
        }
        if (quality_judge(v, c[i].lo, c[i].hi) != c[i].q)
            fail_msg("case %zu: quality %s, want %s", i,
                     quality_name(quality_judge(v, c[i].lo, c[i].hi)),
                     quality_name(c[i].q));
    }
}

/*
 * Value rounding (decode.h). Every expected value is a decimal literal,
 * which the compiler reads as the double nearest it: decode_value() must
 * give exactly that double, and fmt_double() must print exactly that
 * text. Integer types compute exactly, so no halfway case arises for them;
 * the float cap rounds half away from zero (2.5 x 1.00000001 below).
 */
struct round_case {
    enum reg_type type;
    double raw, scale, offset;
    double want;
    const char *text;
};

static const struct round_case round_cases[] = {
    /* the SPEC's example and its offset: raw * scale gives
     * 3.2600000000000002 and -37.240000000000002 */
    {REG_INT16, 326, 0.01, 0, 3.26, "3.26"},
    {REG_INT16, 326, 0.01, -40.5, -37.24, "-37.24"},
    {REG_INT16, 0, 0.01, -40.5, -40.5, "-40.5"},
    {REG_INT16, 0, 0.1, 0, 0, "0"},
    {REG_INT16, -1, 0.1, 0, -0.1, "-0.1"},
    {REG_INT16, -3, 0.1, 0, -0.3, "-0.3"},
    {REG_INT16, 3, 0.1, 0, 0.3, "0.3"},
    {REG_INT16, 7, 0.1, 0.2, 0.9, "0.9"},
    {REG_INT16, -32768, 0.001, 0, -32.768, "-32.768"},
    {REG_INT16, 32767, 0.001, -0.5, 32.267, "32.267"},
    {REG_UINT16, 65535, 0.001, 0, 65.535, "65.535"},
    {REG_UINT16, 12345, 0.1, 273.15, 1507.65, "1507.65"},
    {REG_UINT16, 1, 0.001, 0.0005, 0.0015, "0.0015"},
    {REG_UINT16, 700, 0.01, 0, 7, "7"},
    {REG_UINT16, 3, 2.5, 0, 7.5, "7.5"},
    {REG_UINT16, 9, 1000, 0.25, 9000.25, "9000.25"},
    {REG_INT32, 2147483647, 0.01, 0, 21474836.47, "21474836.47"},
    {REG_INT32, -2147483648.0, 0.1, 0, -214748364.8, "-214748364.8"},
    {REG_INT32, -2147483648.0, 0.001, -40.5, -2147524.148, "-2147524.148"},
    {REG_INT32, 123456789, 1.23456789, 0, 152415787.50190521,
     "152415787.5019052"},
    {REG_UINT32, 4294967295.0, 0.001, 0, 4294967.295, "4294967.295"},
    {REG_UINT32, 4294967295.0, 1e-7, 0, 429.4967295, "429.4967295"},
    {REG_UINT32, 7, 1e-30, 0, 7e-30, "7e-30"},
    /* int64 / uint64 raws beyond 2^53, as the nearest double: the exact
     * decimal goes through strtod() */
    {REG_INT32, -9223372036854775808.0, 0.01, 0, -92233720368547758.08,
     "-9.223372036854776e+16"},
    {REG_UINT32, 18446744073709551615.0, 0.001, 0, 18446744073709551.616,
     "1.844674407370955e+16"},
    /* float32: its shortest decimal, not its binary value */
    {REG_FLOAT32, (double)47.3f, 1, 0, 47.3, "47.3"},
    {REG_FLOAT32, (double)-47.3f, 1, 0, -47.3, "-47.3"},
    {REG_FLOAT32, (double)0.1f, 1, 0, 0.1, "0.1"},
    {REG_FLOAT32, (double)0.1f, 3, 0, 0.3, "0.3"},
    {REG_FLOAT32, (double)47.3f, 0.01, 273.15, 273.623, "273.623"},
    {REG_FLOAT32, (double)21.7f, 1, -0.4, 21.3, "21.3"},
    {REG_FLOAT32, 0x1p-149, 1, 0, 1e-45, "1e-45"},
    {REG_FLOAT32, (double)FLT_MIN, 1, 0, 1.1754944e-38, "1.1754944e-38"},
    {REG_FLOAT32, (double)FLT_MAX, 1, 0, 3.4028235e38, "3.4028235e+38"},
    {REG_FLOAT32, (double)-FLT_MAX, -1, 0, 3.4028235e38, "3.4028235e+38"},
    {REG_FLOAT32, -0.0, 1, 0, 0, "0"},
    {REG_FLOAT32, 16777216, 1, 0, 16777216, "16777216"},
    {REG_FLOAT32, 16777218, 0.5, 0, 8388609, "8388609"},
    {REG_FLOAT32, 1e10, 1, 0, 1e10, "10000000000"},
    /* a power of two: the nearest 7-digit decimal misses its narrower
     * interval below, the one above hits */
    {REG_FLOAT32, 0x1p-20, 1, 0, 9.536743e-7, "9.536743e-07"},
    {REG_FLOAT32, 0x1p87, 1, 0, 1.5474251e26, "1.5474251e+26"},
    /* two 8-digit decimals equally near: the even one, as printf */
    {REG_FLOAT32, 1539213.25, 1, 0, 1539213.2, "1539213.2"},
    {REG_FLOAT32, 1539213.75, 1, 0, 1539213.8, "1539213.8"},
    /* the cap: 9 significant digits of the scaled float, half away from
     * zero (ties to even would give 2.50000002) */
    {REG_FLOAT32, 2.5, 1.00000001, 0, 2.50000003, "2.50000003"},
    {REG_FLOAT32, -2.5, 1.00000001, 0, -2.50000003, "-2.50000003"},
    {REG_FLOAT32, (double)1.2345678f, 1.23456789, 0, 1.52415776, "1.52415776"},
    /* the offset is exact whatever the float's size */
    {REG_FLOAT32, (double)0.000123f, 1, 1000, 1000.000123, "1000.000123"},
    /* terms 45 digits apart: added as doubles */
    {REG_FLOAT32, 0x1p-149, 1, 5, 5, "5"},
    /* float64: the shortest decimal of the double */
    {REG_FLOAT64, 0.1, 3, 0, 0.3, "0.3"},
    {REG_FLOAT64, 9876.54321, -1, 0, -9876.54321, "-9876.54321"},
    {REG_FLOAT64, 47.29999923706055, 0.01, 0, 0.4729999923706055,
     "0.4729999923706055"},
    {REG_FLOAT64, 0.1, 1, 0.2, 0.3, "0.3"},
    {REG_FLOAT64, DBL_MAX, 0.5, 0, 8.988465674311579e307,
     "8.988465674311579e+307"},
    {REG_FLOAT64, 5e-324, 1, 0, 5e-324, "4.94065645841247e-324"},
    {REG_FLOAT64, 1e-300, 1, 5, 5, "5"},
    {REG_FLOAT64, -0.0, 1, 0, 0, "0"},
};

static void test_round_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(round_cases); i++) {
        const struct round_case *c = &round_cases[i];
        double v = decode_value(c->type, c->raw, c->scale, c->offset);
        char text[FMT_DOUBLE_LEN];

        fmt_double(v, text);
        if (!same_double(v, c->want) || strcmp(text, c->text) != 0)
            fail_msg("case %zu: %s %.17g x %.17g + %.17g: got %.17g (%s), "
                     "want %.17g (%s)",
                     i, reg_type_name(c->type), c->raw, c->scale, c->offset, v,
                     text, c->want, c->text);
    }
}

/* NaN and infinities pass through plain arithmetic: still invalid. */
static void test_round_not_finite(void **state)
{
    (void)state;
    assert_true(isnan(decode_value(REG_FLOAT32, NAN, 0.01, 1)));
    assert_true(
        same_double(decode_value(REG_FLOAT32, INFINITY, 0.5, 1), INFINITY));
    assert_true(
        same_double(decode_value(REG_FLOAT64, -INFINITY, 2, 0), -INFINITY));
    assert_true(
        same_double(decode_value(REG_FLOAT64, -INFINITY, -1, 0), INFINITY));
    assert_true(isnan(decode_value(REG_FLOAT64, INFINITY, 0, 0)));
    /* a finite float scaled beyond a double */
    assert_true(same_double(
        decode_value(REG_FLOAT32, (double)FLT_MAX, 1e300, 0), INFINITY));
    assert_int_equal(
        quality_judge(decode_value(REG_FLOAT32, NAN, 1, 0), -1e9, 1e9),
        QUALITY_INVALID);
}

static void test_round_decimals(void **state)
{
    static const struct {
        double x;
        int want;
    } c[] = {
        {0.01, 2},
        {0.1, 1},
        {1, 0},
        {2.5, 1},
        {1e-7, 7},
        {0.3, 1},
        {-40.5, 1},
        {273.15, 2},
        {1000, 0},
        {1e300, 0},
        {0.0625, 4},
        {0, 0},
        {-0.0, 0},
        {1e-300, 300},
        {5e-324, 324},
        {123.456, 3},
        {NAN, 0},
        {INFINITY, 0},
        {0.001, 3},
        {1.23456789, 8},
        {0.125, 3},
        {9.5, 1},
        {0.000999, 6},
        {99.99, 2},
        /* x 10^d rounds onto a half: only the exact error tells which
         * 16-digit neighbour is nearer */
        {0.03646581972850917, 17},
        {338.6007225608125, 13},
        {39528.83614528849, 11},
        /* powers of two whose shortest lies on the far, wider side */
        {0x1p-44, 29},
        {0x1p-24, 23},
        {0x1p803, 0},
    };
    volatile double a = 0.1, b = 0.2;
    (void)state;

    for (size_t i = 0; i < N(c); i++)
        if (decode_decimals(c[i].x) != c[i].want)
            fail_msg("decimals(%.17g) = %d, want %d", c[i].x,
                     decode_decimals(c[i].x), c[i].want);
    /* computed, not read from text: 0.30000000000000004 */
    assert_int_equal(decode_decimals(a + b), 17);
}

/* A small deterministic generator, so a failure can be replayed. */
static uint64_t round_rng(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The shortest float32 decimal the slow way: printf's p digits for p = 1,
 * 2, ... until strtof() reads them back. */
static double round_ref_float(float f)
{
    char buf[64];

    for (int p = 1; p < 9; p++) {
        snprintf(buf, sizeof(buf), "%.*e", p - 1, (double)f);
        if (strtof(buf, NULL) == f)
            return strtod(buf, NULL);
    }
    snprintf(buf, sizeof(buf), "%.8e", (double)f);
    return strtod(buf, NULL);
}

/* Random float32 bit patterns (every exponent alike): the value reads back
 * as the float and is printf's shortest. Powers of two are left out here:
 * their shortest may lie on the far side (see the table). */
static void test_round_float32_sweep(void **state)
{
    uint64_t seed = UINT64_C(0x9e3779b97f4a7c15);
    (void)state;

    for (int i = 0; i < 100000; i++) {
        uint32_t bits = (uint32_t)round_rng(&seed);
        float f;
        double v, want;

        memcpy(&f, &bits, sizeof(f));
        if (!isfinite(f) || (bits & 0x7fffff) == 0)
            continue;
        v = decode_value(REG_FLOAT32, (double)f, 1, 0);
        want = round_ref_float(f);
        if ((float)v != f || !same_double(v, want))
            fail_msg("float %a (%.9g): got %.17g, want %.17g", (double)f,
                     (double)f, v, want);
    }
}

/* Random int16 and int32 raws with common scales and offsets against the
 * text method: printf("%.*f") of raw * scale + offset to the decimals,
 * read back by strtod(), exact while |value| x 10^decimals < 10^15. */
static void test_round_integer_sweep(void **state)
{
    static const double scales[] = {0.1,  0.01,  0.001,     0.5,    2.5,
                                    1e-7, 0.3,   1.8,       0.0625, 3,
                                    1000, -0.01, 1.23456789};
    static const double offsets[] = {0, -40.5, 273.15, 0.001, -1e-5, 100, 0.3};
    uint64_t seed = 42;
    (void)state;

    for (int i = 0; i < 100000; i++) {
        uint64_t r = round_rng(&seed);
        double raw = (i & 1) ? (double)(int16_t)r : (double)(int32_t)r;
        double sc = scales[(r >> 32) % N(scales)];
        double off = offsets[(r >> 40) % N(offsets)];
        int d = decode_decimals(sc) > decode_decimals(off)
                    ? decode_decimals(sc)
                    : decode_decimals(off);
        double plain = raw * sc + off, v, want;
        char buf[400];

        if (fabs(plain) * pow(10, d) >= 1e15)
            continue;
        snprintf(buf, sizeof(buf), "%.*f", d, plain);
        want = strtod(buf, NULL) + 0.0;
        v = decode_value(REG_INT32, raw, sc, off);
        if (!same_double(v, want))
            fail_msg("%.17g x %.17g + %.17g: got %.17g, want %.17g (%s)", raw,
                     sc, off, v, want, buf);
    }
}

/* A precomputed scaling gives the same values. */
static void test_round_scaling(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(round_cases); i++) {
        const struct round_case *c = &round_cases[i];
        struct decode_scaling sc;

        decode_scaling_init(&sc, c->scale, c->offset);
        assert_true(
            same_double(decode_value_scaled(c->type, c->raw, &sc),
                        decode_value(c->type, c->raw, c->scale, c->offset)));
    }
}

static double round_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * The cost per reading, printed for the record (W4: 35,000 readings a
 * second on two cores). The bound only catches a gross regression (text
 * conversion on every reading would be about 1 us), loose enough for a
 * sanitizer build on a busy machine.
 */
struct round_speed {
    const char *name;
    enum reg_type type;
    double raw0, step, scale, offset;
    bool bounded;
};

/* The k-th raw of a speed case: 8000 distinct values of its type. */
static double round_speed_raw(const struct round_speed *c, int k)
{
    double raw = c->raw0 + c->step * (k % 8000);

    if (c->type == REG_FLOAT32)
        return (double)(float)raw;
    if (c->type != REG_FLOAT64)
        return floor(raw);
    return raw;
}

static void test_round_speed(void **state)
{
    static const struct round_speed c[] = {
        {"int16 x 0.01", REG_INT16, -30000, 7, 0.01, 0, true},
        {"int16 x 0.1 - 40.5", REG_INT16, -30000, 7, 0.1, -40.5, true},
        {"uint32 x 0.001", REG_UINT32, 0, 429496.7, 0.001, 0, true},
        {"float32 x 1", REG_FLOAT32, 0.5, 0.0173, 1, 0, true},
        {"float32 x 0.01 + 273.15", REG_FLOAT32, 0.5, 0.0173, 0.01, 273.15,
         true},
        {"float64 x 1", REG_FLOAT64, 0.5, 0.0173, 1, 0, true},
        {"float64 x 0.5 (17 digits)", REG_FLOAT64, 0.5, 0.0173, 0.5, 0, false},
    };
    enum { ROUND_SPEED_N = 20000, ROUND_SPEED_MAX_NS = 20000 };
    volatile double sink = 0;
    (void)state;

    for (size_t i = 0; i < N(c); i++) {
        struct decode_scaling sc;
        double t0, t1, ns, ns_scaled;

        decode_scaling_init(&sc, c[i].scale, c[i].offset);
        t0 = round_now_ns();
        for (int k = 0; k < ROUND_SPEED_N; k++)
            sink += decode_value(c[i].type, round_speed_raw(&c[i], k),
                                 c[i].scale, c[i].offset);
        t1 = round_now_ns();
        for (int k = 0; k < ROUND_SPEED_N; k++)
            sink +=
                decode_value_scaled(c[i].type, round_speed_raw(&c[i], k), &sc);
        ns = (t1 - t0) / ROUND_SPEED_N;
        ns_scaled = (round_now_ns() - t1) / ROUND_SPEED_N;
        print_message("decode_value %-26s %7.1f ns/value, %7.1f with a "
                      "decode_scaling\n",
                      c[i].name, ns, ns_scaled);
        if (c[i].bounded && ns > ROUND_SPEED_MAX_NS)
            fail_msg("%s: %.0f ns per value", c[i].name, ns);
    }
}

static void test_quality_judge(void **state)
{
    static const struct {
        double v, lo, hi;
        enum quality q;
    } c[] = {
        {7, 0, 14, QUALITY_GOOD},
        {0, 0, 14, QUALITY_GOOD},
        {14, 0, 14, QUALITY_GOOD},
        {-0.0, 0, 14, QUALITY_GOOD},
        {-0x1p-1074, 0, 14, QUALITY_OUT_OF_RANGE},
        {0x1.c000000000001p3, 0, 14, QUALITY_OUT_OF_RANGE},
        {-1, -1, 1000, QUALITY_GOOD},
        {1000, -1, 1000, QUALITY_GOOD},
        {-1.0000001, -1, 1000, QUALITY_OUT_OF_RANGE},
        {1000.0000001, -1, 1000, QUALITY_OUT_OF_RANGE},
        {DBL_MAX, 0, INFINITY, QUALITY_GOOD},
        {-1, 0, INFINITY, QUALITY_OUT_OF_RANGE},
        {-DBL_MAX, -INFINITY, INFINITY, QUALITY_GOOD},
        {DBL_MAX, -INFINITY, INFINITY, QUALITY_GOOD},
        {NAN, 0, 14, QUALITY_INVALID},
        {NAN, -INFINITY, INFINITY, QUALITY_INVALID},
        {INFINITY, -INFINITY, INFINITY, QUALITY_INVALID},
        {-INFINITY, -INFINITY, INFINITY, QUALITY_INVALID},
        {INFINITY, 0, INFINITY, QUALITY_INVALID},
        {-INFINITY, 0, 14, QUALITY_INVALID},
    };
    (void)state;

    for (size_t i = 0; i < N(c); i++)
        if (quality_judge(c[i].v, c[i].lo, c[i].hi) != c[i].q)
            fail_msg("case %zu: %g in [%g, %g]: %s, want %s", i, c[i].v,
                     c[i].lo, c[i].hi,
                     quality_name(quality_judge(c[i].v, c[i].lo, c[i].hi)),
                     quality_name(c[i].q));
}

static void test_quality_names(void **state)
{
    (void)state;
    assert_string_equal(quality_name(QUALITY_GOOD), "good");
    assert_string_equal(quality_name(QUALITY_OUT_OF_RANGE), "out_of_range");
    assert_string_equal(quality_name(QUALITY_INVALID), "invalid");
    assert_string_equal(quality_name(QUALITY_COMM_ERROR), "comm_error");
    assert_string_equal(quality_name(QUALITY_MISSED), "missed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_decode_vectors_cover_all),
        cmocka_unit_test(test_decode_mismatched_order),
        cmocka_unit_test(test_decode_wide_precision),
        cmocka_unit_test(test_decode_bits),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_table_names),
        cmocka_unit_test(test_order_names),
        cmocka_unit_test(test_scale_offset),
        cmocka_unit_test(test_round_table),
        cmocka_unit_test(test_round_not_finite),
        cmocka_unit_test(test_round_decimals),
        cmocka_unit_test(test_round_float32_sweep),
        cmocka_unit_test(test_round_integer_sweep),
        cmocka_unit_test(test_round_scaling),
        cmocka_unit_test(test_round_speed),
        cmocka_unit_test(test_quality_judge),
        cmocka_unit_test(test_quality_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
