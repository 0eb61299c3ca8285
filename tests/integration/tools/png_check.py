#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks that a screenshot is not blank: decodes the PNG itself (zlib and
the PNG row filters, no image library) and counts distinct colours and
the share of pixels that are not white.

    png_check.py FILE [--min-colours N] [--min-ink FRACTION]

Defaults: at least 8 colours and 0.05 % non-white pixels (a page of text
and a few values has tens of colours from anti-aliasing and several per
cent ink; a blank or error page has one or two colours). Prints
"WxH, N colours, P % ink"; exits 1 when below either floor or the file
is not a PNG Chromium writes (8-bit grey, RGB or RGBA, not interlaced).
"""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def decode(path):
    """(width, height, channels, rows as bytes objects)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, hdr = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if zlib.crc32(kind + body) != struct.unpack(
                ">I", data[pos + 8 + n:pos + 12 + n])[0]:
            raise ValueError("bad CRC in chunk %r" % kind)
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + n
    if hdr is None:
        raise ValueError("no IHDR")
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in CHANNELS or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, "
                         "interlace %d" % (depth, ctype, interlace))
    bpp = CHANNELS[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        unfilter(ft, cur, prev, bpp)
        rows.append(bytes(cur))
        prev = cur
    return w, h, bpp, rows


def unfilter(ft, cur, prev, bpp):
    n = len(cur)
    if ft == 0:
        return
    if ft == 2:
        for i in range(n):
            cur[i] = (cur[i] + prev[i]) & 255
        return
    for i in range(n):
        a = cur[i - bpp] if i >= bpp else 0
        if ft == 1:
            cur[i] = (cur[i] + a) & 255
        elif ft == 3:
            cur[i] = (cur[i] + ((a + prev[i]) >> 1)) & 255
        elif ft == 4:
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (cur[i] + pr) & 255
        else:
            raise ValueError("bad filter type %d" % ft)


def main():
    argv = sys.argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[0]
    min_col = int(argv[argv.index("--min-colours") + 1]) \
        if "--min-colours" in argv else 8
    min_ink = float(argv[argv.index("--min-ink") + 1]) \
        if "--min-ink" in argv else 0.0005
    try:
        w, h, bpp, rows = decode(path)
    except (OSError, ValueError, zlib.error, struct.error) as e:
        print("%s: %s" % (path, e))
        return 1
    colours, ink = set(), 0
    white = b"\xff" * min(bpp, 3)
    for r in rows:
        for x in range(0, len(r), bpp):
            px = r[x:x + bpp]
            colours.add(px)
            if px[:3] != white and not (bpp == 4 and px[3] == 0):
                ink += 1
    share = ink / float(w * h)
    msg = "%s: %dx%d, %d colours, %.1f %% ink" % (path, w, h, len(colours),
                                                 100 * share)
    print(msg)
    if len(colours) < min_col or share < min_ink:
        print("%s looks blank (want at least %d colours and %.2f %% ink)" %
              (path, min_col, 100 * min_ink))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
