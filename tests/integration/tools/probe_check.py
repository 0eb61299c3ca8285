#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks `tbdaq probe` output against a decoder of its own.

Reads the probe's output on stdin: the table of raw words (address, hex,
...) and the type x byte order tables. Decodes the raw words itself with
Python's struct module (no code shared with tbdaq) and checks every cell:
integers exactly, floats as the same float32/float64. Prints what differs
and exits 1, or prints "probe_check: N cells ok" and exits 0.
"""
import math
import re
import struct
import sys

# letters name the value's bytes from most significant (A); their order
# in the name is the order on the wire, the first register's high byte
# first (SPEC, Configuration: byte_order)
FORMATS = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I",
           "float32": ">f", "int64": ">q", "uint64": ">Q", "float64": ">d"}


def value(type_name, order, wire):
    """The value of type_name whose wire bytes (len(order)) are in order."""
    n = len(order)
    big = bytearray(n)
    for i, letter in enumerate(order):
        big[ord(letter) - ord("A")] = wire[i]
    return struct.unpack(FORMATS[type_name], bytes(big))[0]


def same(type_name, want, got_text):
    if type_name.startswith("float"):
        got = float(got_text)
        if math.isnan(want):
            return math.isnan(got)
        if type_name == "float32":
            # the cell is the float's shortest decimal: it must read back
            # as the same float32
            return struct.pack(">f", got) == struct.pack(">f", want)
        return got == want
    return int(got_text) == want


def main():
    lines = sys.stdin.read().splitlines()
    words = []
    i = 0
    while i < len(lines) and not lines[i].lstrip().startswith("address"):
        i += 1
    i += 1
    while i < len(lines) and lines[i].strip():
        words.append(int(lines[i].split()[1], 16))
        i += 1
    if not words:
        print("probe_check: no raw words in the output")
        return 1
    wire = b"".join(struct.pack(">H", w) for w in words)
    checked, bad = 0, []
    orders = None
    for line in lines[i:]:
        cells = line.split()
        if not cells:
            continue
        if re.fullmatch(r"(16|32|64)-bit", cells[0]):
            orders = cells[1:]
            continue
        if orders is None or cells[0] not in FORMATS:
            continue
        if len(cells) != 1 + len(orders):
            bad.append("row %r has %d cells for %d orders"
                       % (line, len(cells) - 1, len(orders)))
            continue
        for order, text in zip(orders, cells[1:]):
            want = value(cells[0], order, wire[:len(order)])
            checked += 1
            if not same(cells[0], want, text):
                bad.append("%s %s: probe says %s, struct says %r"
                           % (cells[0], order, text, want))
    if checked < 2 * 2 + 3 * 4 + 3 * 4 and len(words) >= 4:
        bad.append("only %d cells checked" % checked)
    for b in bad:
        print("probe_check: " + b)
    if bad:
        return 1
    print("probe_check: %d cells ok" % checked)
    return 0


if __name__ == "__main__":
    sys.exit(main())
