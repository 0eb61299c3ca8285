#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for tbdaq-web, written from SPEC in a few lines of Python,
to prove the web cases and their tools before (and apart from) the real
program: `TBDAQ_WEB=tests/integration/tools/fake_web.py run.sh build
web_live ...`. It is not a model of the real program's design.

    fake_web.py -c CONF [--listen ADDR:PORT]

Reads database, web.listen and web.users_file from CONF with regular
expressions; serves /, /runs, /runs/<name>, /metrics, /api/status from the
database opened read-only; says the daemon is up when `tbdaq status`
(from $BUILD) says it runs. FAKE_WEB_BREAK (comma-separated) breaks it on
purpose, to watch each case fail: hide (one sensor left out), frozen
(counters never move), up (tbdaq_up always 1), noauth (users_file
ignored), anyaddr (no refusal beyond loopback), write (writes the
database), block (one request at a time), blank (empty pages), no404
(unknown paths 200), noquery (queries never checked), external (loads a
script from another host), order (runs oldest first), norefresh (the
live page does not refresh itself).
"""
import html
import http.server
import json
import os
import re
import socketserver
import sqlite3
import subprocess
import sys
import time
import urllib.parse

BREAK = set(os.environ.get("FAKE_WEB_BREAK", "").split(","))


def conf_value(text, key):
    m = re.search(r"\b%s\s*=\s*\"([^\"]*)\"" % key, text)
    return m.group(1) if m else None


class State:
    conf = db = users = None

    @classmethod
    def con(cls):
        if "write" in BREAK:
            # One more connection, read-write, kept open.
            cls.keep = getattr(cls, "keep", None) or sqlite3.connect(
                cls.db, timeout=5, check_same_thread=False)
            cls.keep.execute("SELECT count(*) FROM sensors").fetchone()
            c = sqlite3.connect(cls.db, timeout=5)
            c.execute("PRAGMA user_version = %d" % c.execute(
                "PRAGMA user_version").fetchone()[0])
            c.execute("CREATE TABLE IF NOT EXISTS fake_web_was_here (x)")
            c.commit()
            return c
        return sqlite3.connect("file:%s?mode=ro" % cls.db, uri=True,
                               timeout=5)

    @classmethod
    def status_text(cls):
        cli = os.path.join(os.environ.get("BUILD", "build"), "tbdaq")
        r = subprocess.run([cli, "-d", cls.db, "status"], timeout=10,
                           capture_output=True, text=True, check=False)
        return r.stdout

    @classmethod
    def daemon_up(cls):
        return "up" in BREAK or "tbdaqd: running since" in cls.status_text()

    @classmethod
    def mqtt(cls):
        """(connected, backlog) as tbdaq status shows them."""
        t = cls.status_text()
        line = ([x for x in t.splitlines() if "MQTT:" in x] or [""])[0]
        m = re.search(r"backlog (\d+)", line)
        up = "tbdaqd: running since" in t and "mqtt" in open(cls.conf).read()
        return (1 if up and not m else 0), int(m.group(1)) if m else 0


def sensors(con):
    rows = con.execute(
        "SELECT s.tag, s.kind, s.unit, s.bus, r.value, r.quality, r.ts_us"
        " FROM sensors s JOIN readings r ON r.seq = (SELECT max(seq) FROM"
        " readings x JOIN sensors y ON y.id = x.sensor_id WHERE y.tag ="
        " s.tag) WHERE s.id = (SELECT max(id) FROM sensors z WHERE z.tag ="
        " s.tag) ORDER BY s.tag").fetchall()
    return rows[:-1] if "hide" in BREAK else rows


def counts(con):
    if "frozen" in BREAK:
        return [(t, "good", 1) for t, *_ in sensors(con)]
    return con.execute(
        "SELECT s.tag, r.quality, count(*) FROM readings r JOIN sensors s"
        " ON s.id = r.sensor_id GROUP BY s.tag, r.quality").fetchall()


def page_live(con):
    now = time.time()
    rows = "".join(
        "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%.1f s</td>"
        "</tr>" % (html.escape(t), "-" if v is None else "%.3f" % v,
                   html.escape(u), q, now - ts / 1e6)
        for t, k, u, b, v, q, ts in sensors(con))
    ext = '<script src="https://cdn.example.com/x.js"></script>' \
        if "external" in BREAK else ""
    return ("<!doctype html><html><head><meta charset=utf-8><title>tbdaq"
            "</title>%s<meta name=viewport"
            " content='width=device-width'>%s</head><body><h1>tbdaq live</h1>"
            "<p>buses: %s</p><p>run: %s</p><table style='font-size:20px;"
            "border:1px solid #888'><tr><th>sensor</th><th>value</th><th>unit"
            "</th><th>quality</th><th>age</th></tr>%s</table></body></html>"
            % (
                "" if "norefresh" in BREAK else
                "<meta http-equiv=refresh content=5>",
                ext, " ".join(b for (b,) in con.execute(
                    "SELECT DISTINCT bus FROM sensors")),
                html.escape(open_run(con) or "none"), rows))


def page_runs(con):
    order = "ASC" if "order" in BREAK else "DESC"
    runs = con.execute("SELECT name FROM runs ORDER BY started_us %s" %
                       order).fetchall()
    return ("<!doctype html><html><body><h1>Runs</h1><ul>%s</ul></body>"
            "</html>" % "".join(
                '<li><a href="/runs/%s">%s</a></li>' % (
                    urllib.parse.quote(n, safe=""), html.escape(n))
                for (n,) in runs))


def page_report(con, name):
    if not con.execute("SELECT 1 FROM runs WHERE name = ?",
                       (name,)).fetchone():
        return None
    cli = os.path.join(os.environ.get("BUILD", "build"), "tbdaq")
    r = subprocess.run([cli, "-c", State.conf, "report", "--run", name,
                        "--format", "html"], timeout=30, capture_output=True,
                       text=True, check=False)
    if r.returncode == 0:
        return r.stdout
    tags = "".join("<li>%s</li>" % html.escape(t)
                   for (t,) in con.execute("SELECT DISTINCT tag FROM sensors"))
    return ("<!doctype html><html><body><h1>Run %s</h1><ul>%s</ul></body>"
            "</html>" % (html.escape(name), tags))


def metrics(con):
    out = ["# TYPE tbdaq_up gauge",
           "tbdaq_up %d" % (1 if State.daemon_up() else 0),
           "# TYPE tbdaq_readings_total counter"]
    for t, q, n in counts(con):
        out.append('tbdaq_readings_total{sensor="%s",quality="%s"} %d' %
                   (t, q, n))
    out.append("# TYPE tbdaq_sensor_value gauge")
    now = time.time()
    age = []
    for t, k, u, b, v, q, ts in sensors(con):
        g = con.execute(
            "SELECT r.value FROM readings r JOIN sensors s ON s.id ="
            " r.sensor_id WHERE s.tag = ? AND r.quality = 'good' ORDER BY"
            " r.seq DESC LIMIT 1", (t,)).fetchone()
        if g:
            out.append('tbdaq_sensor_value{sensor="%s",kind="%s",unit="%s"}'
                       ' %r' % (t, k, u, g[0]))
        age.append('tbdaq_sensor_age_seconds{sensor="%s"} %.3f' %
                   (t, now - ts / 1e6))
    out += ["# TYPE tbdaq_sensor_age_seconds gauge"] + age
    out.append("# TYPE tbdaq_bus_up gauge")
    for b, q in con.execute(
            "SELECT s.bus, r.quality FROM readings r JOIN sensors s ON s.id ="
            " r.sensor_id WHERE r.seq IN (SELECT max(x.seq) FROM readings x"
            " JOIN sensors y ON y.id = x.sensor_id GROUP BY y.bus)"):
        out.append('tbdaq_bus_up{bus="%s"} %d' % (b, q != "comm_error"))
    size = os.path.getsize(State.db)
    mq, backlog = State.mqtt()
    out += ["tbdaq_mqtt_connected %d" % mq,
            "tbdaq_mqtt_backlog_readings %d" % backlog,
            "tbdaq_database_bytes %d" % size]
    return "\n".join(out) + "\n"


def status(con):
    return json.dumps({
        "daemon": {"running": State.daemon_up()},
        "buses": [{"name": b} for (b,) in
                  con.execute("SELECT DISTINCT bus FROM sensors")],
        "sensors": [{"id": t, "kind": k, "unit": u, "value": v,
                     "quality": q, "ts_us": ts}
                    for t, k, u, b, v, q, ts in sensors(con)],
        "mqtt": {"connected": False},
        "run": open_run(con)})


def open_run(con):
    return (con.execute("SELECT name FROM runs WHERE ended_us IS NULL")
            .fetchone() or [None])[0]


def authorized(hdr):
    if not State.users or "noauth" in BREAK:
        return True
    m = re.match(r"Basic ([A-Za-z0-9+/=]+)$", hdr or "")
    if not m:
        return False
    import base64
    try:
        user, _, pw = base64.b64decode(m.group(1)).decode().partition(":")
    except ValueError:
        return False
    for line in open(State.users, encoding="utf-8"):
        u, _, h = line.strip().partition(":")
        if u == user and h.startswith("$6$"):
            salt = h.split("$")[2]
            r = subprocess.run(["openssl", "passwd", "-6", "-salt", salt,
                                "-stdin"], input=pw, capture_output=True,
                               text=True, check=False)
            return r.stdout.strip() == h
    return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send(self, code, ctype, body, extra=None):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.send(405, "text/plain", "method not allowed\n",
                  {"Allow": "GET, HEAD", "Connection": "close"})
        self.close_connection = True

    def do_GET(self):
        if not authorized(self.headers.get("Authorization")):
            return self.send(401, "text/plain", "authentication required\n",
                             {"WWW-Authenticate": 'Basic realm="tbdaq"'})
        path, _, query = self.path.partition("?")
        if query and "noquery" not in BREAK and re.search(
                r"%(?![0-9A-Fa-f]{2})", query):
            return self.send(400, "text/plain", "malformed query\n")
        con = State.con()
        try:
            self.route(con, urllib.parse.unquote(path))
        finally:
            con.close()

    def route(self, con, path):
        blank = "blank" in BREAK
        if path == "/":
            self.send(200, "text/html; charset=utf-8",
                      "<html></html>" if blank else page_live(con))
        elif path == "/runs":
            self.send(200, "text/html; charset=utf-8", page_runs(con))
        elif path.startswith("/runs/"):
            doc = page_report(con, path[6:])
            if doc is None:
                self.send(404, "text/plain", "no such run\n")
            else:
                self.send(200, "text/html; charset=utf-8",
                          "<html></html>" if blank else doc)
        elif path == "/metrics":
            self.send(200, "text/plain; version=0.0.4", metrics(con))
        elif path == "/api/status":
            self.send(200, "application/json", status(con))
        elif "no404" in BREAK:
            self.send(200, "text/plain", "ok\n")
        else:
            self.send(404, "text/plain", "not found\n")

    def log_message(self, fmt, *args):
        sys.stderr.write("fake_web: " + fmt % args + "\n")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    argv = sys.argv[1:]
    if argv[:1] in (["-h"], ["--help"]):
        print("usage: tbdaq-web [-c FILE] [--listen ADDR:PORT]")
        return 0
    if argv[:1] in (["-V"], ["--version"]):
        print("tbdaq-web 0.0.0-fake")
        return 0
    if "-c" not in argv or any(a.startswith("-") and a not in (
            "-c", "--listen") for a in argv):
        print("usage: tbdaq-web [-c FILE] [--listen ADDR:PORT]",
              file=sys.stderr)
        return 2
    State.conf = argv[argv.index("-c") + 1]
    try:
        text = open(State.conf, encoding="utf-8").read()
    except OSError as e:
        print("tbdaq-web: %s: %s" % (State.conf, e.strerror), file=sys.stderr)
        return 1
    for n, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*web\s*=\s*\{(.*)\}", line)
        for k, v in re.findall(r"(\w+)\s*=\s*(\"[^\"]*\"|[^;]*);",
                              m.group(1) if m else ""):
            bad = k not in ("listen", "users_file", "tls", "cert_file",
                            "key_file") and \
                "unknown key '%s' in web" % k
            if k == "listen" and not re.match(r'"[^"]+:\d+"$', v):
                bad = "listen %s in web needs ADDR:PORT" % v
            if bad:
                print("tbdaq-web: %s:%d: %s" % (State.conf, n, bad),
                      file=sys.stderr)
                return 1
    State.db = conf_value(text, "database")
    State.users = conf_value(text, "users_file")
    if State.users and not os.access(State.users, os.R_OK):
        print("tbdaq-web: cannot read users file '%s'" % State.users,
              file=sys.stderr)
        return 1
    listen = conf_value(text, "listen") or "127.0.0.1:8080"
    if "--listen" in argv:
        listen = argv[argv.index("--listen") + 1]
    host, _, port = listen.rpartition(":")
    if not host.startswith("127.") and not State.users and \
            "anyaddr" not in BREAK:
        print("tbdaq-web: listening on %s needs web.users_file" % host,
              file=sys.stderr)
        return 1
    if not host.startswith("127.") and "tls" not in text:
        print("tbdaq-web: warning: no web.tls, passwords travel in clear",
              file=sys.stderr)
    cls = http.server.HTTPServer if "block" in BREAK else Server
    srv = cls((host, int(port)), Handler)
    cert = conf_value(text, "cert_file")
    if cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, conf_value(text, "key_file"))
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("tbdaq-web: listening on %s:%d" % srv.server_address[:2],
          file=sys.stderr, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    import ctypes
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    # The runner reaps leftovers by their program, which for a script is
    # python3, not this file: end with the case's shell instead
    # (PR_SET_PDEATHSIG).
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    sys.exit(main())
