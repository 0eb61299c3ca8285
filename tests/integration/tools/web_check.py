#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks what tbdaq-web serves against SPEC "tbdaq-web" and the database,
with Python's own HTTP client, JSON and HTML parsers (not tbdaq's code).

    web_check.py status URL DB --tags T,T.. [--buses B,B..] [--run NAME]
    web_check.py live   URL DB --tags T,T.. [--buses B,B..] [--run NAME]
                        [--quality T=Q,..] [--file DOM.html]
    web_check.py runs   URL DB --tags T,T..
    web_check.py bad    URL
    web_check.py auth   URL USER PASSWORD
    web_check.py netlog URL NETLOG.json [--min-requests N]

status: /api/status is 200 JSON with top-level keys for the daemon, the
  buses, the sensors, MQTT and the open run; every tag appears with a
  current value (a number equal to a reading of that tag taken at most
  CURRENT_WINDOW_S before the request); every bus is named; with --run,
  the open run NAME is under the run key.
live: / (or a DOM dump of it, --file) is 200 HTML whose text holds every
  tag followed, before the next tag, by a current value of it (as shown:
  rounded to the digits it shows), names every bus (and the open run),
  shows each --quality tag with that quality (before the next tag), and
  loads nothing from another host.
runs: /runs lists every run of the database, newest first, each with a
  link to its report; each link is 200 HTML naming the run and every tag.
bad: unknown paths 404, malformed queries 400, oversized request lines,
  headers and bodies refused (never 200), and the server still answers.
auth: every path is 401 with "WWW-Authenticate: Basic" without
  credentials, with a wrong password, an unknown user or a garbled
  header, and 200 with USER:PASSWORD.
netlog: in a Chromium --log-net-log file, every request made for a page
  of URL (its network isolation key is URL's site) went to URL's host and
  port, and there were N or more (default 1); the browser's own requests
  (updates, accounts) are not counted.
Prints a summary; exits 1 with the first problems.
"""
import html.parser
import json
import re
import socket
import sys
import time
import urllib.parse

from webcommon import (CURRENT_WINDOW_S, Problems, basic, db_open, get,
                       json_number_matches, window_start, number_matches,
                       recent_values, split_url)

PATHS = ["/", "/runs", "/metrics", "/api/status"]
NUMBER = re.compile(r"[-\u2212]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-\u2212]?\d+"
                    r"(?:\.\d+)?(?:[eE][-+]?\d+)?")


class Page(html.parser.HTMLParser):
    """The text of a page (without scripts and styles), its links and the
    URLs it would load."""

    LOADS = {"script": "src", "img": "src", "iframe": "src", "embed": "src",
             "source": "src", "video": "src", "audio": "src",
             "object": "data", "link": "href", "image": "href",
             "use": "href"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []
        self.links = []
        self.loads = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        key = self.LOADS.get(tag)
        for k in (key, "xlink:href"):
            if k and a.get(k) and not (tag == "link" and
                                       a.get("rel") in ("canonical",)):
                self.loads.append(a[k])
        for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", a.get("style", "")):
            self.loads.append(u)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if self.skip:
            for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", data):
                self.loads.append(u)
            for u in re.findall(r"(?:fetch|import)\(\s*['\"]([^'\"]+)", data):
                self.loads.append(u)
            return
        self.text.append(data)


def parse_page(body):
    p = Page()
    p.feed(body)
    p.close()
    return p, re.sub(r"\s+", " ", " ".join(p.text))


def external(url, loads):
    """URLs of loads that point at another host than url's."""
    host, port = split_url(url)
    out = []
    for u in loads:
        u = u.strip()
        if u.startswith(("data:", "#", "javascript:")):
            continue
        p = urllib.parse.urlsplit(u)
        if p.scheme and p.scheme not in ("http", "https"):
            out.append(u)
        elif p.netloc and p.netloc not in (host, "%s:%d" % (host, port)):
            out.append(u)
    return out


def segments(text, tag, tags):
    """The text after each occurrence of tag, up to the next of tags."""
    pat = re.compile("|".join(re.escape(t) for t in
                              sorted(set(tags), key=len, reverse=True)))
    hits = [(m.start(), m.end(), m.group(0)) for m in pat.finditer(text)]
    return [text[h[1]:(hits[i + 1][0] if i + 1 < len(hits) else len(text))]
            for i, h in enumerate(hits) if h[2] == tag]


def check_text(text, tags, values, what, pr):
    """Each tag in text, followed (before the next tag) by a current
    value of it."""
    pat = re.compile("|".join(re.escape(t) for t in
                              sorted(tags, key=len, reverse=True)))
    hits = [(m.start(), m.end(), m.group(0)) for m in pat.finditer(text)]
    for tag in tags:
        where = [i for i, h in enumerate(hits) if h[2] == tag]
        if not where:
            pr.add("%s: sensor %s is not shown" % (what, tag))
            continue
        ok = False
        for i in where:
            end = hits[i + 1][0] if i + 1 < len(hits) else len(text)
            seg = text[hits[i][1]:end]
            # A tag's own digits (FT-101) are not its value.
            for m in NUMBER.finditer(seg):
                if number_matches(m.group(0), values[tag]):
                    ok = True
                    break
            if ok:
                break
        if not ok:
            i = where[0]
            end = hits[i + 1][0] if i + 1 < len(hits) else len(text)
            pr.add("%s: after %s no current value of it (the database has "
                   "%s in the last %d s): '%s'" % (
                       what, tag, sorted(set(values[tag]))[:6],
                       CURRENT_WINDOW_S, text[hits[i][1]:end][:160]))


def current(db, tags, since):
    con = db_open(db)
    vals = {t: recent_values(con, t, since) for t in tags}
    con.close()
    return vals


def cmd_live(url, db, tags, buses, run, quality, dom_file, pr):
    since = window_start()
    if dom_file:
        with open(dom_file, encoding="utf-8", errors="replace") as f:
            body = f.read()
        what = "DOM of /"
    else:
        st, h, data, dt = get(url, "/")
        what = "/"
        if st != 200:
            pr.add("/: status %d, want 200" % st)
            return "", 0
        if not h.get("content-type", "").startswith("text/html"):
            pr.add("/: Content-Type '%s', want text/html" %
                   h.get("content-type"))
        body = data.decode("utf-8", "replace")
    page, text = parse_page(body)
    check_text(text, tags, current(db, tags, since), what, pr)
    for tq in quality:
        tag, _, q = tq.partition("=")
        segs = segments(text, tag, tags + [tag])
        if not any(q in seg for seg in segs):
            pr.add("%s: %s is not shown with quality %s: '%s'" % (
                what, tag, q, (segs or [""])[0][:160]))
    for b in buses:
        if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(b), text):
            pr.add("%s: bus %s is not shown" % (what, b))
    if run and run not in text:
        pr.add("%s: the open run %s is not shown" % (what, run))
    ext = external(url, page.loads)
    if ext:
        pr.add("%s loads from another host: %s" % (what, ext[:3]))
    return "%s: %d sensors with current values, %d bytes" % (
        what, len(tags), len(body)), len(body)


def find_tag(obj, tag, path="$"):
    """Every JSON object (and its path) that names tag: a string value
    equal to it, or a key equal to it."""
    out = []
    if isinstance(obj, dict):
        if any(v == tag for v in obj.values()):
            out.append((path, obj))
        for k, v in obj.items():
            if k == tag:
                out.append((path + "." + k, v))
            out.extend(find_tag(v, tag, path + "." + k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(find_tag(v, tag, "%s[%d]" % (path, i)))
    return out


def numbers_in(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from numbers_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from numbers_in(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def cmd_status(url, db, tags, buses, run, pr):
    since = window_start()
    st, h, data, dt = get(url, "/api/status")
    if st != 200:
        pr.add("/api/status: status %d, want 200" % st)
        return ""
    if not h.get("content-type", "").startswith("application/json"):
        pr.add("/api/status: Content-Type '%s', want application/json" %
               h.get("content-type"))
    try:
        doc = json.loads(data)
    except ValueError as e:
        pr.add("/api/status is not JSON (%s): %r" % (e, data[:200]))
        return ""
    if not isinstance(doc, dict):
        pr.add("/api/status is not a JSON object")
        return ""
    keys = [k.lower() for k in doc]
    for want in ("daemon", "buses", "sensors", "mqtt"):
        if want not in keys:
            pr.add("/api/status: no top-level key '%s' (SPEC: daemon, buses,"
                   " sensors, MQTT, open run); keys %s" % (want, list(doc)))
    if not any("run" in k for k in keys):
        pr.add("/api/status: no top-level key for the open run; keys %s" %
               list(doc))
    vals = current(db, tags, since)
    for tag in tags:
        found = find_tag(doc.get("sensors", doc), tag)
        if not found:
            pr.add("/api/status: sensor %s is not in it" % tag)
            continue
        if not any(json_number_matches(x, vals[tag])
                   for _, o in found for x in numbers_in(o)):
            pr.add("/api/status: %s has no current value (%s; the database"
                   " has %s)" % (tag, json.dumps(found[0][1])[:200],
                                 sorted(set(vals[tag]))[:6]))
    if run:
        rk = [k for k in doc if "run" in k.lower()]
        if rk and run not in json.dumps(doc[rk[0]]):
            pr.add("/api/status: the open run %s is not under '%s': %s" %
                   (run, rk[0], json.dumps(doc[rk[0]])[:200]))
    btext = json.dumps(doc.get("buses", doc))
    for b in buses:
        if '"%s"' % b not in btext:
            pr.add("/api/status: bus %s is not named under 'buses'" % b)
    return "/api/status: %d sensors with current values, %d buses, %.1f ms" % (
        len(tags), len(buses), dt * 1000)


def cmd_runs(url, db, tags, pr):
    con = db_open(db)
    runs = [r[0] for r in con.execute(
        "SELECT name FROM runs ORDER BY started_us DESC")]
    con.close()
    st, h, data, dt = get(url, "/runs")
    if st != 200:
        pr.add("/runs: status %d, want 200" % st)
        return ""
    page, text = parse_page(data.decode("utf-8", "replace"))
    pos = [text.find(r) for r in runs]
    for r, p in zip(runs, pos):
        if p < 0:
            pr.add("/runs: run '%s' is not listed" % r)
    if all(p >= 0 for p in pos) and pos != sorted(pos):
        pr.add("/runs: runs not newest first: %s in the database, %s on the "
               "page" % (runs, [r for _, r in sorted(zip(pos, runs))]))
    for r in runs:
        want = "/runs/" + urllib.parse.quote(r, safe="")
        links = [urllib.parse.urljoin("/runs", u) for u in page.links]
        links = [u for u in links if urllib.parse.urlsplit(u).path in
                 (want, "/runs/" + urllib.parse.quote(r))]
        if not links:
            pr.add("/runs: no link to %s (links: %s)" % (want, page.links[:8]))
            continue
        st, h, data, dt = get(url, urllib.parse.urlsplit(links[0]).path)
        if st != 200:
            pr.add("%s: status %d, want 200" % (want, st))
            continue
        if not h.get("content-type", "").startswith("text/html"):
            pr.add("%s: Content-Type '%s', want text/html" %
                   (want, h.get("content-type")))
        rp, rtext = parse_page(data.decode("utf-8", "replace"))
        for t in [r] + tags:
            if t not in rtext:
                pr.add("%s: '%s' is not in the report's text" % (want, t))
        ext = external(url, rp.loads)
        if ext:
            pr.add("%s loads from another host: %s" % (want, ext[:3]))
    return "/runs: %d runs newest first, each report served" % len(runs)


def raw(url, req, send_all=True, read_s=5.0):
    """Sends bytes req on a new connection; returns the status the server
    answers with (0 if it closed without one, -1 if it said nothing in
    read_s)."""
    host, port = split_url(url)
    s = socket.create_connection((host, port), timeout=read_s)
    try:
        try:
            if send_all:
                s.sendall(req)
            else:
                s.send(req)
        except OSError:
            pass  # refused before we finished: read what it said
        buf = b""
        try:
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            return -1
        except OSError:
            pass
        m = re.match(rb"HTTP/1\.[01] (\d{3})", buf)
        return int(m.group(1)) if m else 0
    finally:
        s.close()


def cmd_bad(url, pr):
    got = []

    def want(path, codes, what):
        st, h, data, dt = get(url, path)
        got.append("%s %d" % (path[:40], st))
        if st not in codes:
            pr.add("%s (%s): status %d, want %s" % (path[:60], what, st,
                                                   codes))

    want("/no/such/path", (404,), "unknown path")
    want("/nope", (404,), "unknown path")
    want("/runs/no-such-run", (404,), "unknown run")
    want("/runs/..%2f..%2fetc%2fpasswd", (400, 404), "traversal")
    want("/api/status/extra", (404,), "unknown path")
    want("/api/status?x=%zz", (400,), "malformed query")
    want("/metrics?%G1=2", (400,), "malformed query")
    want("/?a=%", (400,), "malformed query")
    want("/runs?a=b%2", (400,), "malformed query")
    host = split_url(url)[0]
    big = b"/" + b"a" * 65536
    for what, req in [
            ("request line of 64 KiB",
             b"GET " + big + b" HTTP/1.1\r\nHost: " + host.encode() +
             b"\r\n\r\n"),
            ("a 64 KiB header",
             b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 65536 +
             b"\r\n\r\n"),
            ("2000 headers",
             b"GET / HTTP/1.1\r\nHost: x\r\n" +
             b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n"),
            ("a 1 GiB body announced",
             b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: "
             b"1073741824\r\n\r\n" + b"z" * 65536)]:
        st = raw(url, req, send_all=False)
        got.append("%s: %d" % (what, st))
        if st == 200 or (200 <= st < 300):
            pr.add("%s: answered %d, want refused (4xx or closed)" %
                   (what, st))
        elif st == -1:
            pr.add("%s: no answer and not closed within 5 s" % what)
    # Still serving after all that.
    st, h, data, dt = get(url, "/api/status")
    if st != 200 or dt > 1.0:
        pr.add("after the bad requests: /api/status %d in %.2f s" % (st, dt))
    st, h, data, dt = get(url, "/", method="POST", body=b"x=1")
    got.append("POST / %d" % st)
    return "bad requests refused: " + "; ".join(got)


def cmd_auth(url, user, password, pr):
    creds = {
        "none": {},
        "wrong password": basic(user, password + "x"),
        "unknown user": basic(user + "x", password),
        "empty password": basic(user, ""),
        "garbled": {"Authorization": "Basic ###not-base64###"},
        "not basic": {"Authorization": "Bearer " + password},
    }
    n = 0
    for path in PATHS:
        for what, hd in creds.items():
            st, h, data, dt = get(url, path, hd)
            n += 1
            if st != 401:
                pr.add("%s with %s credentials: status %d, want 401" %
                       (path, what, st))
            elif not h.get("www-authenticate", "").lower().startswith(
                    "basic"):
                pr.add("%s with %s credentials: 401 without "
                       "'WWW-Authenticate: Basic ...' (got '%s')" %
                       (path, what, h.get("www-authenticate")))
            if path == "/api/status" and st == 401 and b'"sensors"' in data:
                pr.add("%s: the 401 answer holds the status" % path)
        st, h, data, dt = get(url, path, basic(user, password))
        n += 1
        if st != 200:
            pr.add("%s with the right credentials: status %d, want 200" %
                   (path, st))
    return "auth: %d requests, 401 without the right credentials, 200 with" % n


def cmd_netlog(url, path, least, pr):
    with open(path, encoding="utf-8") as f:
        log = json.load(f)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    host, port = split_url(url)
    site = "http://" + host
    mine = foreign = 0
    for e in log["events"]:
        p = e.get("params") or {}
        if names.get(e.get("type")) != "URL_REQUEST_START_JOB" or \
                "url" not in p:
            continue
        if not p.get("network_isolation_key", "").startswith(site):
            continue
        mine += 1
        u = urllib.parse.urlsplit(p["url"])
        if u.scheme not in ("http", "https") or \
                u.netloc != "%s:%d" % (host, port):
            foreign += 1
            pr.add("the page requested %s" % p["url"][:120])
    if mine < max(1, least):
        pr.add("%s: %d requests of the page in the net log, want %d or more"
               " (a page that refreshes itself asks again)" % (path, mine,
                                                               least))
    return "net log: %d requests of the page, all to %s:%d" % (mine, host,
                                                               port)


def main():
    argv = sys.argv[1:]
    opts = {}
    pos = []
    i = 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    tags = [t for t in opts.get("tags", "").split(",") if t]
    buses = [b for b in opts.get("buses", "").split(",") if b]
    pr = Problems()
    t0 = time.monotonic()
    cmd = pos[0] if pos else ""
    if cmd == "status":
        s = cmd_status(pos[1], pos[2], tags, buses, opts.get("run"), pr)
    elif cmd == "live":
        s, _ = cmd_live(pos[1], pos[2], tags, buses, opts.get("run"),
                        [q for q in opts.get("quality", "").split(",") if q],
                        opts.get("file"), pr)
    elif cmd == "runs":
        s = cmd_runs(pos[1], pos[2], tags, pr)
    elif cmd == "bad":
        s = cmd_bad(pos[1], pr)
    elif cmd == "auth":
        s = cmd_auth(pos[1], pos[2], pos[3], pr)
    elif cmd == "netlog":
        s = cmd_netlog(pos[1], pos[2], int(opts.get("min-requests", 1)), pr)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return pr.finish("%s (%.1f s)" % (s, time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
