#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks tbdaq-web's /metrics with a Prometheus text parser the project
did not write (prometheus_client.parser, Debian python3-prometheus-client)
against SPEC "Metrics" and the database.

    prom_check.py URL DB --up 0|1 [--tags T,T..] [--buses B,B..]
                  [--mqtt 0|1] [--backlog-min N] [--down-buses B,B..]
                  [--failing T,T..] [--save FILE] [--prev FILE]

Always: 200, Content-Type text/plain, the text parses, no series twice,
every metric of SPEC present (tbdaq_up, tbdaq_readings_total,
tbdaq_sensor_value, tbdaq_sensor_age_seconds, tbdaq_bus_up,
tbdaq_mqtt_connected, tbdaq_mqtt_backlog_readings, tbdaq_database_bytes)
unless --up 0, tbdaq_readings_total declared a counter, tbdaq_up equal to
--up. With --up 1, per tag: tbdaq_readings_total{sensor,quality} with
quality "good" above 0; tbdaq_sensor_value{sensor,kind,unit} with the
sensor's kind and unit from the database and a value equal to one of its
recent good readings; tbdaq_sensor_age_seconds{sensor} between 0 and
CURRENT_WINDOW_S; tbdaq_bus_up{bus} 1 per bus; tbdaq_mqtt_connected equal
to --mqtt if given; tbdaq_mqtt_backlog_readings at least --backlog-min
(default 0); tbdaq_bus_up 0 for each of --down-buses and
tbdaq_readings_total{quality="comm_error"} above 0 for each of --failing;
tbdaq_database_bytes about the database's size.
--save writes the readings counters to FILE (JSON); --prev compares with
such a file: no counter went down, every tag's good counter went up.
"""
import json
import math
import os
import sys

from prometheus_client.parser import text_string_to_metric_families

from webcommon import (CURRENT_WINDOW_S, Problems, db_open, get,
                       json_number_matches, window_start, recent_values,
                       sensor_desc)

SPEC_METRICS = {
    "tbdaq_up": set(),
    "tbdaq_readings_total": {"sensor", "quality"},
    "tbdaq_sensor_value": {"sensor", "kind", "unit"},
    "tbdaq_sensor_age_seconds": {"sensor"},
    "tbdaq_bus_up": {"bus"},
    "tbdaq_mqtt_connected": set(),
    "tbdaq_mqtt_backlog_readings": set(),
    "tbdaq_database_bytes": set(),
}


def scrape(url, pr):
    st, h, data, dt = get(url, "/metrics")
    if st != 200:
        pr.add("/metrics: status %d, want 200" % st)
        return None, dt
    ctype = h.get("content-type", "")
    if not ctype.startswith("text/plain"):
        pr.add("/metrics: Content-Type '%s', want text/plain "
               "(format 0.0.4)" % ctype)
    elif "version=0.0.4" not in ctype:
        print("note: /metrics Content-Type '%s' names no version=0.0.4" %
              ctype)
    try:
        fams = list(text_string_to_metric_families(data.decode("utf-8")))
    except Exception as e:  # the parser raises ValueError and others
        pr.add("/metrics does not parse as Prometheus text: %s" % e)
        return None, dt
    return fams, dt


def index(fams, pr):
    """{sample name: [(labels, value)]}, {sample name: family type}."""
    samples, types, seen = {}, {}, set()
    for f in fams:
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            if key in seen:
                pr.add("/metrics: series %s%s appears twice" %
                       (s.name, dict(key[1])))
            seen.add(key)
            samples.setdefault(s.name, []).append((s.labels, s.value))
            types[s.name] = f.type
    return samples, types


def one(samples, name, **labels):
    for lab, v in samples.get(name, []):
        if all(lab.get(k) == w for k, w in labels.items()):
            return v
    return None


def check_live(samples, db, tags, buses, opts, pr):
    since = window_start()
    con = db_open(db)
    for tag in tags:
        desc = sensor_desc(con, tag)
        v = one(samples, "tbdaq_readings_total", sensor=tag, quality="good")
        if v is None or not v > 0:
            pr.add("tbdaq_readings_total{sensor=\"%s\",quality=\"good\"} "
                   "is %s, want above 0" % (tag, v))
        kind, unit = desc if desc else (None, None)
        v = one(samples, "tbdaq_sensor_value", sensor=tag)
        if v is None:
            pr.add("no tbdaq_sensor_value{sensor=\"%s\"}" % tag)
        else:
            lab = [la for la, _ in samples["tbdaq_sensor_value"]
                   if la.get("sensor") == tag][0]
            if lab.get("kind") != kind or lab.get("unit") != unit:
                pr.add("tbdaq_sensor_value of %s has kind=%r unit=%r, the "
                       "database %r %r" % (tag, lab.get("kind"),
                                           lab.get("unit"), kind, unit))
            good = recent_values(con, tag, since, good_only=True)
            if not json_number_matches(v, good):
                pr.add("tbdaq_sensor_value{sensor=\"%s\"} %r is none of its "
                       "good readings of the last %d s (%s)" %
                       (tag, v, CURRENT_WINDOW_S, sorted(set(good))[:6]))
        v = one(samples, "tbdaq_sensor_age_seconds", sensor=tag)
        if v is None or math.isnan(v) or not 0 <= v <= CURRENT_WINDOW_S:
            pr.add("tbdaq_sensor_age_seconds{sensor=\"%s\"} is %s, want "
                   "0..%d" % (tag, v, CURRENT_WINDOW_S))
    con.close()
    for b in buses:
        v = one(samples, "tbdaq_bus_up", bus=b)
        if v != 1:
            pr.add("tbdaq_bus_up{bus=\"%s\"} is %s, want 1" % (b, v))
    if "mqtt" in opts:
        v = one(samples, "tbdaq_mqtt_connected")
        if v != float(opts["mqtt"]):
            pr.add("tbdaq_mqtt_connected is %s, want %s" % (v, opts["mqtt"]))
    v = one(samples, "tbdaq_mqtt_backlog_readings")
    if v is None or v < float(opts.get("backlog-min", 0)):
        pr.add("tbdaq_mqtt_backlog_readings is %s, want %s or more" %
               (v, opts.get("backlog-min", 0)))
    for b in [x for x in opts.get("down-buses", "").split(",") if x]:
        v = one(samples, "tbdaq_bus_up", bus=b)
        if v != 0:
            pr.add("tbdaq_bus_up{bus=\"%s\"} is %s, want 0 (its device "
                   "does not answer)" % (b, v))
    for t in [x for x in opts.get("failing", "").split(",") if x]:
        v = one(samples, "tbdaq_readings_total", sensor=t,
                quality="comm_error")
        if v is None or not v > 0:
            pr.add("tbdaq_readings_total{sensor=\"%s\",quality=\"comm_error"
                   "\"} is %s, want above 0" % (t, v))
    size = sum(os.path.getsize(db + s) for s in ("", "-wal")
               if os.path.exists(db + s))
    v = one(samples, "tbdaq_database_bytes")
    if v is None or not 4096 <= v <= 2 * size + (1 << 20):
        pr.add("tbdaq_database_bytes is %s; the database and its WAL are %d "
               "bytes" % (v, size))


def check_prev(samples, prev_file, tags, pr):
    with open(prev_file, encoding="utf-8") as f:
        prev = json.load(f)
    now = {"%s|%s" % (la.get("sensor"), la.get("quality")): v
           for la, v in samples.get("tbdaq_readings_total", [])}
    for k, v in prev.items():
        if k not in now:
            pr.add("tbdaq_readings_total %s was %s, now gone" % (k, v))
        elif now[k] < v:
            pr.add("tbdaq_readings_total %s went down: %s -> %s" %
                   (k, v, now[k]))
    for t in tags:
        k = "%s|good" % t
        if k in prev and k in now and not now[k] > prev[k]:
            pr.add("tbdaq_readings_total{sensor=\"%s\",quality=\"good\"} did"
                   " not increase: %s -> %s" % (t, prev[k], now[k]))


def main():
    argv = sys.argv[1:]
    opts, pos, i = {}, [], 0
    while i < len(argv):
        if argv[i].startswith("--"):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            pos.append(argv[i])
            i += 1
    if len(pos) != 2 or "up" not in opts:
        print(__doc__, file=sys.stderr)
        return 2
    url, db = pos
    tags = [t for t in opts.get("tags", "").split(",") if t]
    buses = [b for b in opts.get("buses", "").split(",") if b]
    pr = Problems()
    fams, dt = scrape(url, pr)
    if fams is None:
        return pr.finish("")
    samples, types = index(fams, pr)
    up = float(opts["up"])
    for name, labels in SPEC_METRICS.items():
        if name != "tbdaq_up" and up == 0:
            continue
        if name not in samples:
            pr.add("/metrics has no %s" % name)
            continue
        for la, _ in samples[name]:
            if set(la) != labels:
                pr.add("%s has labels %s, SPEC says %s" %
                       (name, sorted(la), sorted(labels)))
                break
    if "tbdaq_readings_total" in types and \
            types["tbdaq_readings_total"] != "counter":
        pr.add("tbdaq_readings_total is of TYPE %s, want counter" %
               types["tbdaq_readings_total"])
    v = one(samples, "tbdaq_up")
    if v != up:
        pr.add("tbdaq_up is %s, want %s" % (v, opts["up"]))
    if up == 1:
        check_live(samples, db, tags, buses, opts, pr)
    if "prev" in opts:
        check_prev(samples, opts["prev"], tags, pr)
    if "save" in opts:
        with open(opts["save"], "w", encoding="utf-8") as f:
            json.dump({"%s|%s" % (la.get("sensor"), la.get("quality")): v
                       for la, v in samples.get("tbdaq_readings_total", [])},
                      f)
    n = sum(len(v) for v in samples.values())
    return pr.finish("/metrics: %d families, %d samples, tbdaq_up %g, "
                     "%.1f ms" % (len(fams), n, up, dt * 1000))


if __name__ == "__main__":
    sys.exit(main())
