#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A minimal Modbus RTU-over-TCP server for tbdaq's tests.

Written apart from tbdaq's C, from the Modbus specifications alone, so that
the RTU-over-TCP bus is tested against an implementation tbdaq did not
write: RTU frames (unit, PDU, CRC-16 low byte first) on a TCP connection,
as a serial device server in transparent mode passes them on. Its CRC is
computed its own way (a table built by the non-reflected algorithm on
bit-reversed bytes), not as drivers/rtuframe.c does it. Python 3 standard
library only.

    rtutcp_server.py [--units N] [--control FIFO]

Listens on 127.0.0.1, port 0 (the kernel picks a free one), and prints
"port N" on stdout. Units 1..N (default 4) answer, others are silent as on
a serial line; any number of connections, one request at a time.

Map of unit U (functions 1 to 4; exception 2 beyond it, 3 for a count the
protocol does not allow, 1 for any other function):
    holding register A (0..199):  U * 0x1000 + A
    input register A (0..199):    0x8000 + U * 0x100 + A
    coil A (0..2999):             1 if (A + U) % 3 == 0
    discrete input A (0..2999):   1 if (7 * A + U) % 5 < 2

Commands on stdin (or on FIFO, opened read-write so that writers may come
and go), one a line, each answered "ok" on stdout once applied (or
"error: ..."). A fault applies to the next N answers (default 1):
    crc [N]            a wrong CRC
    unit [N]           the answer of another unit (U + 1)
    function [N]       the answer to another read function
    count [N]          a byte count one more than the request asks for
                       (with that many data bytes, and a good CRC)
    short [N]          only the first half of the answer
    long [N]           two more bytes after the CRC, in the same write
    exception CODE [N] exception CODE
    mute [N]           no answer
    late MS [N]        the answer MS ms late
    split MS [N]       unit and function, MS ms later the byte count,
                       MS ms later the rest
    slowunit MS [N]    the answer of another unit, in parts as split
    close [N]          close the connection instead of answering
    stray [N]          the answer, then 3 bytes of noise 30 ms later
    normal             no faults
    stats              prints "requests R accepts A" (requests with a good
                       CRC, connections accepted)
    quit               exits
"""

import os
import selectors
import socket
import sys
import time

REGISTERS = 200
BITS = 3000
MAX_REGISTERS = 125
MAX_BITS = 2000
STRAY_DELAY_S = 0.030


def _reverse(value, width):
    out = 0
    for _ in range(width):
        out = (out << 1) | (value & 1)
        value >>= 1
    return out


def _table():
    # CRC-16/MODBUS is the reflected form of polynomial 0x8005. Here it is
    # run unreflected, most significant bit first, on reversed input bytes,
    # and the register reversed at the end.
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
        table.append(crc)
    return table


TABLE = _table()


def crc16(data):
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ TABLE[(crc >> 8) ^ _reverse(byte, 8)]
    return _reverse(crc, 16)


def with_crc(frame):
    crc = crc16(frame)
    return bytes(frame) + bytes([crc & 0xFF, crc >> 8])


assert crc16(b"123456789") == 0x4B37  # the catalogue's check value


def value(unit, function, address):
    if function == 1:
        return 1 if (address + unit) % 3 == 0 else 0
    if function == 2:
        return 1 if (7 * address + unit) % 5 < 2 else 0
    if function == 3:
        return (unit * 0x1000 + address) & 0xFFFF
    return (0x8000 + unit * 0x100 + address) & 0xFFFF


def pdu_answer(unit, function, address, count):
    """The answer's PDU (function code onwards), or an exception's."""
    if function not in (1, 2, 3, 4):
        return bytes([function | 0x80, 1])
    bits = function in (1, 2)
    limit, size = (MAX_BITS, BITS) if bits else (MAX_REGISTERS, REGISTERS)
    if count < 1 or count > limit:
        return bytes([function | 0x80, 3])
    if address + count > size:
        return bytes([function | 0x80, 2])
    if bits:
        data = bytearray((count + 7) // 8)
        for i in range(count):
            if value(unit, function, address + i):
                data[i // 8] |= 1 << (i % 8)
    else:
        data = bytearray()
        for i in range(count):
            v = value(unit, function, address + i)
            data += bytes([v >> 8, v & 0xFF])
    return bytes([function, len(data)]) + bytes(data)


class Server:
    def __init__(self, units, control):
        self.units = units
        self.faults = []  # [name, remaining, argument]
        self.requests = 0
        self.accepts = 0
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        self.control = control
        self.sel.register(control, selectors.EVENT_READ, "control")
        self.buffers = {}
        self.pending = b""  # of commands: a line may come in pieces

    def say(self, text):
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def take_fault(self):
        if not self.faults:
            return None, None
        fault = self.faults[0]
        fault[1] -= 1
        if fault[1] <= 0:
            self.faults.pop(0)
        return fault[0], fault[2]

    def command(self, line):
        words = line.split()
        if not words:
            return
        name, args = words[0], words[1:]
        try:
            if name == "quit":
                self.say("ok")
                sys.exit(0)
            if name == "stats":
                self.say("requests %d accepts %d" % (self.requests, self.accepts))
                return
            if name == "normal":
                self.faults = []
            elif name in ("exception", "late", "split", "slowunit"):
                arg = int(args[0])
                times = int(args[1]) if len(args) > 1 else 1
                self.faults.append([name, times, arg])
            elif name in ("crc", "unit", "function", "count", "short", "long",
                          "mute", "close", "stray"):
                times = int(args[0]) if args else 1
                self.faults.append([name, times, None])
            else:
                self.say("error: unknown command '%s'" % name)
                return
        except (IndexError, ValueError):
            self.say("error: bad arguments to '%s'" % name)
            return
        self.say("ok")

    def drop(self, conn):
        self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()

    def answer(self, conn, request):
        unit, function = request[0], request[1]
        address = request[2] << 8 | request[3]
        count = request[4] << 8 | request[5]
        pdu = pdu_answer(unit, function, address, count)
        fault, arg = self.take_fault()
        if fault == "exception":
            pdu = bytes([function | 0x80, arg])
        elif fault in ("unit", "slowunit"):
            unit = unit % 247 + 1
        elif fault == "function":
            pdu = bytes([function % 4 + 1]) + pdu[1:]
        elif fault == "count" and not pdu[0] & 0x80:
            pdu = bytes([pdu[0], pdu[1] + 1]) + pdu[2:] + b"\0"
        frame = with_crc(bytes([unit]) + pdu)
        if fault == "crc":
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        elif fault == "short":
            frame = frame[: len(frame) // 2]
        elif fault == "long":
            frame += b"\x55\xAA"
        if fault == "mute":
            return
        if fault == "close":
            self.drop(conn)
            return
        if fault == "late":
            time.sleep(arg / 1000.0)
        try:
            if fault in ("split", "slowunit"):
                conn.sendall(frame[:2])
                time.sleep(arg / 1000.0)
                conn.sendall(frame[2:3])
                time.sleep(arg / 1000.0)
                conn.sendall(frame[3:])
            else:
                conn.sendall(frame)
            if fault == "stray":
                time.sleep(STRAY_DELAY_S)
                conn.sendall(b"\xFE\x00\x13")
        except OSError:
            self.drop(conn)

    def receive(self, conn):
        try:
            data = conn.recv(512)
        except OSError:
            data = b""
        if not data:
            self.drop(conn)
            return
        buf = self.buffers[conn] + data
        while len(buf) >= 8:
            request, buf = buf[:8], buf[8:]
            if crc16(request[:6]) != (request[6] | request[7] << 8):
                buf = b""  # noise: a device waits for the line to go quiet
                break
            self.requests += 1
            if 1 <= request[0] <= self.units:
                self.answer(conn, request)
                if conn not in self.buffers:
                    return
        self.buffers[conn] = buf

    def run(self):
        self.say("port %d" % self.listener.getsockname()[1])
        while True:
            for key, _ in self.sel.select():
                if key.data == "listen":
                    conn, _ = self.listener.accept()
                    self.accepts += 1
                    self.buffers[conn] = b""
                    self.sel.register(conn, selectors.EVENT_READ, "conn")
                elif key.data == "control":
                    data = os.read(self.control, 4096)
                    if not data:
                        sys.exit(0)
                    self.pending += data
                    while b"\n" in self.pending:
                        line, self.pending = self.pending.split(b"\n", 1)
                        self.command(line.decode("ascii", "replace"))
                else:
                    self.receive(key.fileobj)


def main():
    units, control = 4, sys.stdin.fileno()
    args = sys.argv[1:]
    while args:
        if args[0] == "--units" and len(args) > 1 and args[1].isdigit():
            units = int(args[1])
        elif args[0] == "--control" and len(args) > 1:
            control = os.open(args[1], os.O_RDWR)
        else:
            sys.stderr.write("usage: rtutcp_server.py [--units N] "
                             "[--control FIFO]\n")
            sys.exit(2)
        args = args[2:]
    Server(units, control).run()


if __name__ == "__main__":
    main()
