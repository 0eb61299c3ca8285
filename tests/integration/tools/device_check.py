#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks what a subscriber received with mqtt.layout = "device" against
the daemon's database, with Python's own JSON parser (not tbdaq's writer).

    device_check.py OUT DB SITE PREFIX FIRST LAST [--ordered] [--interval-ms N]

OUT holds mosquitto_sub lines "RETAIN TOPIC PAYLOAD" (SUB_FORMAT '%r %t %p');
lines on other topics than PREFIX/SITE/device/... are ignored. Checks:
- every device message's topic is PREFIX/SITE/device/<bus>/<unit_id> and
  its payload {"site","bus","unit_id","readings"} says the same;
- each element is a reading object without "site": seq, sensor, kind, ts,
  ts_us, value, unit, quality (error, run when present), each equal to the
  database row of that seq, whose sensor is on that bus and unit;
- seqs increase inside a message; with --ordered, across messages too
  (first arrivals, a replay after an outage may repeat);
- a reading without seq (the live feed while the database cannot be
  written) is alone in its message and says "recorded": false;
- with --interval-ms, a message's readings were taken within one poll
  (their ts_us span less than the interval);
- the union of the seqs received is every seq of the database in
  FIRST..LAST (duplicates allowed, at-least-once).
Prints a summary; exits 1 with the first problems on failure.
"""
import json
import sqlite3
import sys


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ordered = "--ordered" in sys.argv
    interval = None
    if "--interval-ms" in sys.argv:
        interval = int(sys.argv[sys.argv.index("--interval-ms") + 1])
        args.remove(str(interval))
    out, db, site, prefix, first, last = args
    first, last = int(first), int(last)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    rows = {}
    for r in con.execute(
            "SELECT r.seq, s.tag, s.kind, s.unit, s.bus, s.unit_id, r.ts_us,"
            " r.value, r.quality, r.error FROM readings r"
            " JOIN sensors s ON s.id = r.sensor_id WHERE r.seq BETWEEN ? AND ?",
            (first, last)):
        rows[r[0]] = r
    problems = []
    got = set()
    messages = 0
    elements = 0
    live = 0
    prev_last = 0
    base = "%s/%s/device/" % (prefix, site)
    with open(out, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) < 3 or not parts[1].startswith(base):
                continue
            topic, payload = parts[1], parts[2]
            messages += 1
            rest = topic[len(base):].split("/")
            try:
                msg = json.loads(payload)
            except ValueError as e:
                problems.append("not JSON on %s: %s" % (topic, e))
                continue
            if sorted(msg) != ["bus", "readings", "site", "unit_id"]:
                problems.append("keys %s on %s" % (sorted(msg), topic))
                continue
            if len(rest) != 2 or msg["site"] != site or msg["bus"] != rest[0] \
                    or str(msg["unit_id"]) != rest[1]:
                problems.append("topic %s holds site %r bus %r unit %r" % (
                    topic, msg["site"], msg["bus"], msg["unit_id"]))
            seqs = []
            for e in msg["readings"]:
                elements += 1
                if "site" in e:
                    problems.append("an element has a site: %s" % e)
                seq = e.get("seq")
                if seq is None:
                    # The live feed while the database cannot be written:
                    # one reading alone, not recorded yet.
                    if e.get("recorded") is not False or len(msg["readings"]) != 1:
                        problems.append("a reading without seq: %s" % e)
                    live += 1
                    continue
                seqs.append(seq)
                if seq < first or seq > last:
                    continue
                got.add(seq)
                r = rows.get(seq)
                if r is None:
                    problems.append("seq %s is not in the database" % seq)
                    continue
                want = {"seq": r[0], "sensor": r[1], "kind": r[2],
                        "unit": r[3], "ts_us": r[6], "value": r[7],
                        "quality": r[8]}
                for k, v in want.items():
                    if e.get(k) != v:
                        problems.append("seq %d: %s is %r, the database says %r"
                                        % (seq, k, e.get(k), v))
                if (r[9] is not None) != ("error" in e):
                    problems.append("seq %d: error %r against %r" % (seq, e.get("error"), r[9]))
                if r[4] != msg["bus"] or r[5] != msg["unit_id"]:
                    problems.append("seq %d (bus %s unit %d) in the message of %s"
                                    % (seq, r[4], r[5], topic))
                ts = e.get("ts", "")
                if not (ts.endswith("Z") and len(ts) == 27):
                    problems.append("seq %d: ts %r" % (seq, ts))
            if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
                problems.append("seqs not increasing in a message: %s" % seqs)
            if ordered and seqs:
                if seqs[0] <= prev_last and seqs[-1] > prev_last:
                    problems.append("message %s..%s after %s" % (seqs[0], seqs[-1], prev_last))
                prev_last = max(prev_last, seqs[-1])
            if interval is not None and seqs:
                ts = [e["ts_us"] for e in msg["readings"]]
                if max(ts) - min(ts) >= interval * 1000:
                    problems.append("a message spans %d us: %s" % (max(ts) - min(ts), seqs))
    missing = sorted(set(rows) - got)
    if missing:
        problems.append("%d of %d readings missing, e.g. %s"
                        % (len(missing), len(rows), missing[:5]))
    print("%d device messages, %d readings in them (%d live, not recorded yet),"
          " %d of %d database readings (seq %d..%d) received"
          % (messages, elements, live, len(got & set(rows)), len(rows), first, last))
    if not rows:
        problems.append("no readings in the database between %d and %d" % (first, last))
    for p in problems[:10]:
        print("problem: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
