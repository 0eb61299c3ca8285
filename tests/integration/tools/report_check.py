#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks `tbdaq report --format json` against figures computed here, from
the database itself, with Python's own statistics module: written apart
from lib/report*.c, from SPEC "Report" and the README's definitions.

    report_check.py DB REPORT.json RUN [DUT=REF]...

A run's readings (README, "Runs"): seq in [first_seq, last_seq], taken at
or after its start unless past its start edge seq, and before its end
unless at most its stop edge seq. Segments are cut at the `run_mark`
events inside the run. Per sensor (tag) and segment: counts per quality;
over the good readings mean, sample sd, min, max, first and last (by
time, then seq) and drift (least-squares slope, value per hour); slots:
intervals of the sensor's grid in the stretch, rounded up; completeness good /
slots. Every figure to 1e-9 relative. Prints what it checked; exits 1
naming the first difference.
"""
import json
import math
import sqlite3
import statistics
import sys

QUALITIES = ("good", "out_of_range", "invalid", "comm_error", "missed")
REL = 1e-9
US_PER_HOUR = 3600e6


def fail(msg):
    print("report_check: " + msg, file=sys.stderr)
    sys.exit(1)


def iso(us):
    import datetime
    dt = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1000000)


def close(got, want, what, abs_tol=0.0):
    if want is None or (isinstance(want, float) and math.isnan(want)):
        if got is not None:
            fail(f"{what}: got {got!r}, want null")
        return
    if got is None:
        fail(f"{what}: got null, want {want!r}")
    if not math.isclose(got, want, rel_tol=REL, abs_tol=abs_tol):
        fail(f"{what}: got {got!r}, want {want!r}")


def equal(got, want, what):
    if got != want:
        fail(f"{what}: got {got!r}, want {want!r}")


def run_readings(db, name):
    run = db.execute(
        "SELECT started_us, ended_us, first_seq, last_seq, exact,"
        " start_edge_seq, stop_edge_seq, chain_head, operator, note,"
        " config_sha256 FROM runs WHERE name = ?", (name,)).fetchone()
    if run is None:
        fail(f"no run '{name}' in the database")
    started, ended, first, last, exact, sedge, eedge = run[:7]
    if ended is None or first is None or last is None or not exact:
        fail(f"run '{name}' is not a stopped, settled, exact run")
    rows = db.execute(
        "SELECT r.seq, s.tag, r.ts_us, r.value, r.quality, s.interval_ms,"
        " s.version FROM readings r JOIN sensors s ON s.id = r.sensor_id"
        " WHERE r.seq BETWEEN ? AND ? ORDER BY r.seq", (first, last)).fetchall()
    keep = [r for r in rows
            if (r[2] >= started or r[0] > sedge)
            and (r[2] < ended or r[0] <= eedge)]
    return run, keep


def figures(rows, frm, to, interval_ms):
    counts = {q: 0 for q in QUALITIES}
    good = []
    for seq, _tag, ts, value, quality, _iv, _v in rows:
        counts[quality] += 1
        if quality == "good" and value is not None:
            good.append((ts, seq, value))
    step = interval_ms * 1000
    # the grid points (whole multiples of the interval) in [frm, to), and
    # never fewer than the readings (one per slot, stamped a little after)
    grid = (to - 1) // step - (frm - 1) // step if to > frm else 0
    slots = max(grid, len(rows))
    f = {"readings": len(rows), **counts, "slots": slots,
         "completeness": counts["good"] / slots if slots else None}
    vals = [v for _, _, v in good]
    f["mean"] = statistics.fmean(vals) if vals else None
    f["sd"] = statistics.stdev(vals) if len(vals) >= 2 else None
    f["min"] = min(vals) if vals else None
    f["max"] = max(vals) if vals else None
    if good:
        first = min(good, key=lambda g: (g[0], g[1]))
        last = max(good, key=lambda g: (g[0], g[1]))
        f["first"], f["first_ts"] = first[2], iso(first[0])
        f["last"], f["last_ts"] = last[2], iso(last[0])
    else:
        f["first"] = f["first_ts"] = f["last"] = f["last_ts"] = None
    hours = [(ts - frm) / US_PER_HOUR for ts, _, _ in good]
    f["drift_per_hour"] = None
    f["span_h"] = (max(hours) - min(hours)) if len(hours) >= 2 else 0.0
    if len(good) >= 2 and len(set(hours)) >= 2:
        f["drift_per_hour"] = statistics.linear_regression(hours, vals).slope
    return f


def check_figures(got, want, what):
    for key in ("readings",) + QUALITIES + ("slots",):
        equal(got.get(key), want[key], f"{what} {key}")
    for key in ("first_ts", "last_ts"):
        equal(got.get(key), want[key], f"{what} {key}")
    for key in ("completeness", "mean", "sd", "min", "max", "first", "last"):
        close(got.get(key), want[key], f"{what} {key}")
    # a slope near zero: the tolerance of the values' spread over the span
    spread = (want["max"] - want["min"]) if want["max"] is not None else 0
    abs_tol = REL * spread / want["span_h"] if want["span_h"] else 0.0
    close(got.get("drift_per_hour"), want["drift_per_hour"],
          f"{what} drift_per_hour", abs_tol)


def main():
    if len(sys.argv) < 4:
        fail("usage: report_check.py DB REPORT.json RUN [DUT=REF]...")
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    with open(sys.argv[2], encoding="utf-8") as fh:
        rep = json.load(fh)
    name = sys.argv[3]
    pairs = [a.split("=", 1) for a in sys.argv[4:]]
    run, rows = run_readings(db, name)
    started, ended = run[0], run[1]

    equal(rep.get("format"), "tbdaq-report-1", "format")
    r = rep["run"]
    equal(r["name"], name, "run name")
    equal(r["started"], iso(started), "run started")
    equal(r["ended"], iso(ended), "run ended")
    equal(r["operator"], run[8], "run operator")
    equal(r["note"], run[9], "run note")
    equal(r["config_sha256"], run[10], "run config_sha256")
    equal(rep["chain"]["head"], run[7], "chain head")
    equal(rep["chain"]["verify"]["ok"], True, "verify ok")
    equal(rep["chain"]["verify"]["readings"], len(rows), "verify readings")

    marks = db.execute(
        "SELECT ts_us, detail FROM events WHERE kind = 'run_mark'"
        " AND ts_us > ? AND ts_us < ? ORDER BY ts_us, seq",
        (started, ended)).fetchall()
    cuts = [started] + [m[0] for m in marks] + [ended]
    segs = rep["segments"]
    equal(len(segs), len(marks) + 1, "segments")
    for i, s in enumerate(segs):
        equal(s["label"], "start" if i == 0 else marks[i - 1][1],
              f"segment {i} label")
        equal(s["from"], iso(cuts[i]), f"segment {i} from")
        equal(s["to"], iso(cuts[i + 1]), f"segment {i} to")

    tags = sorted({row[1] for row in rows})
    got_tags = [s["id"] for s in rep["sensors"]]
    equal(got_tags, tags, "sensors")
    means = {}
    for sensor in rep["sensors"]:
        tag = sensor["id"]
        mine = [row for row in rows if row[1] == tag]
        newest = max(mine, key=lambda row: row[6])
        interval = newest[5]
        equal(sensor["interval_ms"], interval, f"{tag} interval_ms")
        want = figures(mine, started, ended, interval)
        check_figures(sensor["stats"], want, f"{tag} run")
        means[(tag, None)] = want["mean"]
        for i in range(len(segs)):
            part = [row for row in mine if cuts[i] <= row[2] < cuts[i + 1]
                    or (i == len(segs) - 1 and row[2] >= cuts[-1])
                    or (i == 0 and row[2] < cuts[0])]
            want = figures(part, cuts[i], cuts[i + 1], interval)
            check_figures(sensor["segments"][i], want, f"{tag} segment {i}")
            means[(tag, i)] = want["mean"]
        print(f"{tag}: {sensor['stats']['readings']} readings, "
              f"{len(segs)} segments: figures agree")

    equal(len(rep["comparisons"]), len(pairs), "comparisons")
    for c, (dut, ref) in zip(rep["comparisons"], pairs):
        equal((c["dut"], c["ref"]), (dut, ref), "comparison pair")
        for i, part in [(None, c["run"])] + list(enumerate(c["segments"])):
            dm, rm = means[(dut, i)], means[(ref, i)]
            close(part["dut_mean"], dm, f"{dut}={ref} {i} dut_mean")
            close(part["ref_mean"], rm, f"{dut}={ref} {i} ref_mean")
            err = (dm - rm) / rm * 100 if dm is not None and rm else None
            close(part["relative_error_pct"], err, f"{dut}={ref} {i} error")
        print(f"{dut}={ref}: run error {c['run']['relative_error_pct']:.4f} %")

    events = db.execute("SELECT count(*) FROM events WHERE ts_us >= ?"
                        " AND ts_us <= ?", (started, ended)).fetchone()[0]
    equal(len(rep["events"]), events, "events")
    print(f"report of run '{name}': {len(rows)} readings, {len(tags)} sensors,"
          f" {len(segs)} segments, {events} events: agrees with the database")


main()
