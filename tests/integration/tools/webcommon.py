# SPDX-License-Identifier: MIT
"""Shared pieces of the tbdaq-web test tools (web_check.py, prom_check.py,
slow_client.py): plain HTTP requests with http.client, what the database
says a sensor's current value is, and matching a value as a page shows it.
Written from SPEC ("tbdaq-web", "Metrics", "Database"), not from the code
under test."""
import base64
import http.client
import os
import sqlite3
import ssl
import time

# Seconds a request may take before the tools give up on it.
HTTP_TIMEOUT_S = 10
# A value shown is "current" when a reading of that sensor with that value
# was taken at most this long before the request began (s): the page reads
# the database, which lags the poll by a commit interval, and a busy
# machine delays both.
CURRENT_WINDOW_S = 15


class Problems:
    """Collects what is wrong; the tools print the first few and exit 1."""

    def __init__(self):
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def finish(self, summary):
        if self.items:
            for m in self.items[:8]:
                print(m)
            if len(self.items) > 8:
                print("... and %d more problems" % (len(self.items) - 8))
            return 1
        print(summary)
        return 0


def split_url(url):
    """'http://127.0.0.1:8080' -> ('127.0.0.1', 8080)."""
    rest = url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.partition(":")
    return host, int(port or 80)


def basic(user, password):
    tok = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + tok}


def get(url, path, headers=None, method="GET", body=None):
    """One request on a new connection (HTTPS for an https URL, checked
    against the CA file WEB_CA; with WEB_USER=user:password and no
    Authorization header given, basic authentication). Returns (status,
    headers as a dict with lower-case names, body bytes, seconds taken)."""
    host, port = split_url(url)
    t0 = time.monotonic()
    if url.startswith("https:"):
        # The case's own CA (WEB_CA); the certificate names 127.0.0.1.
        ctx = ssl.create_default_context(cafile=os.environ.get("WEB_CA"))
        con = http.client.HTTPSConnection(host, port, timeout=HTTP_TIMEOUT_S,
                                          context=ctx)
    else:
        con = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT_S)
    try:
        hd = dict(headers or {})
        if os.environ.get("WEB_USER") and "Authorization" not in hd:
            hd.update(basic(*os.environ["WEB_USER"].split(":", 1)))
        con.request(method, path, body=body, headers=hd)
        r = con.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return r.status, hdrs, data, time.monotonic() - t0
    finally:
        con.close()


def db_open(path):
    """The database read-only, as a reader beside the daemon."""
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)


def sensor_desc(con, tag):
    """(kind, unit) of tag's newest description, or None."""
    return con.execute(
        "SELECT kind, unit FROM sensors WHERE tag = ? ORDER BY id DESC"
        " LIMIT 1", (tag,)).fetchone()


def recent_values(con, tag, since_us, good_only=False):
    """Values of tag's readings taken since since_us (not NULL)."""
    q = ("SELECT r.value FROM readings r JOIN sensors s ON s.id = r.sensor_id"
         " WHERE s.tag = ? AND r.ts_us >= ? AND r.value IS NOT NULL")
    if good_only:
        q += " AND r.quality = 'good'"
    return [r[0] for r in con.execute(q, (tag, since_us))]


def now_us():
    return int(time.time() * 1e6)


def window_start():
    """The earliest time (us) a current value may have been taken:
    CURRENT_WINDOW_S ago, or WEB_SINCE_US from the environment if later
    (a case that restarted the daemon wants values from after that)."""
    return max(now_us() - CURRENT_WINDOW_S * 1000000,
               int(os.environ.get("WEB_SINCE_US", "0")))


def number_matches(text, values):
    """True if the number written as text (as a page shows it: maybe
    rounded, maybe with thousands separators) is one of values rounded to
    the digits shown."""
    t = text.replace(",", "").replace("\u2009", "").replace("\u202f", "")
    t = t.replace("\u2212", "-")
    try:
        x = float(t)
    except ValueError:
        return False
    if "e" in t.lower():
        return any(v == x or abs(v - x) <= 1e-9 * abs(v) for v in values)
    dec = len(t.split(".", 1)[1]) if "." in t else 0
    tol = 0.5 * 10 ** -dec + 1e-9 * max(1.0, abs(x))
    return any(abs(v - x) <= tol for v in values)


def json_number_matches(x, values):
    """A JSON number is the stored double, exactly (within 1e-9)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    return any(v == x or abs(v - x) <= 1e-9 * max(1.0, abs(v))
               for v in values)
