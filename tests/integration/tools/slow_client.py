#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Stalled clients must not block others (issue 16, "a slow or stalled
client never blocks the others").

    slow_client.py URL [--stallers N] [--seconds S] [--limit-s L]

Keeps N connections stalled for S seconds (default 12 for 5 s), each from
its own loopback address (127.0.0.2, 127.0.0.3...; a per-address limit is
a fair defence and must not hide a server that blocks): some only
connected, some with half a request line, some with headers and no end,
some with a body announced and never sent, some that asked for a page and
never read the answer (a tiny receive buffer), and a few that trickle a
byte now and then. Every 200 ms a client from 127.0.0.1 asks for
/api/status and / on a new connection: each must be answered 200 within
L seconds (default 1). A stalled connection the server closes is opened
again, so N stay stalled; the time the server took to close one is
printed (its timeout), not judged.
Prints the slowest answer; exits 1 if one was late or not 200.
"""
import socket
import sys
import time

from webcommon import Problems, get, split_url

KINDS = [
    b"",
    b"GET /api/sta",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
    b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 4,
    b"GET /metrics HTTP/1.1\r\nHost: x\r\n",
]
# Seconds between two bytes of a trickling staller.
TRICKLE_S = 0.5


class Staller:
    def __init__(self, host, port, i):
        self.i, self.host, self.port = i, host, port
        self.kind = KINDS[i % len(KINDS)]
        self.trickle = i % 4 == 3
        self.refused = 0
        self.open()

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.bind(("127.0.0.%d" % (2 + self.i % 250), 0))
        s.settimeout(2)
        self.sock, self.since, self.last = s, time.monotonic(), time.monotonic()
        try:
            s.connect((self.host, self.port))
            if self.kind:
                s.sendall(self.kind)
        except OSError:
            # Refused or not accepted: a connection limit may do that to
            # a staller; what counts is that the others are served.
            self.refused += 1
        s.setblocking(False)

    def closed_by_server(self):
        """True if the server closed it (or reset it)."""
        try:
            d = self.sock.recv(1, socket.MSG_PEEK)
            return d == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def poke(self):
        if self.trickle and time.monotonic() - self.last > TRICKLE_S:
            try:
                self.sock.send(b"a")
            except OSError:
                pass
            self.last = time.monotonic()


def main():
    argv = sys.argv[1:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    url = argv[0]
    n = int(argv[argv.index("--stallers") + 1]) if "--stallers" in argv else 12
    secs = float(argv[argv.index("--seconds") + 1]) \
        if "--seconds" in argv else 5
    limit = float(argv[argv.index("--limit-s") + 1]) \
        if "--limit-s" in argv else 1.0
    host, port = split_url(url)
    pr = Problems()
    stallers = [Staller(host, port, i) for i in range(n)]
    closes, worst, asked = [], 0.0, 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        for s in stallers:
            if s.closed_by_server():
                closes.append(time.monotonic() - s.since)
                s.sock.close()
                s.open()
            s.poke()
        for path in ("/api/status", "/"):
            try:
                st, h, data, dt = get(url, path)
            except OSError as e:
                pr.add("%s with %d stalled connections: %s" % (path, n, e))
                continue
            asked += 1
            worst = max(worst, dt)
            if st != 200:
                pr.add("%s with %d stalled connections: status %d" %
                       (path, n, st))
            elif dt > limit:
                pr.add("%s with %d stalled connections: answered in %.2f s, "
                       "want under %.1f s" % (path, n, dt, limit))
        time.sleep(0.2)
    for s in stallers:
        s.sock.close()
    refused = sum(s.refused for s in stallers)
    if closes:
        t = "server closed %d stalled connections after %.1f..%.1f s" % (
            len(closes), min(closes), max(closes))
    else:
        t = "server closed no stalled connection within %.0f s" % secs
    if refused:
        t += "; %d stalled connections not accepted" % refused
    return pr.finish("%d requests beside %d stalled connections, slowest "
                     "%.0f ms; %s" % (asked, n, worst * 1000, t))


if __name__ == "__main__":
    sys.exit(main())
