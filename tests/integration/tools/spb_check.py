#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Checks what spb_sub.py received against SPEC "Sparkplug B" and the database.

  spb_check.py --msgs FILE --db DB --group G --node N COMMAND [OPTIONS]

FILE holds spb_sub.py's JSON lines (arrival order). The node's messages are
cut into epochs, each starting at an NBIRTH (a connect or a rebirth). Every
command first runs the structural checks over every epoch and fails on any
problem (printing at most 20):
  - message seq: NBIRTH 0, then +1 mod 256 across DBIRTH, DDATA, DDEATH
    (and NDATA) in arrival order; NDEATH has no seq and one metric, bdSeq
  - NBIRTH: bdSeq (UInt64), Node Control/Rebirth (Boolean false), Node
    Info/Version (String; --version V: equal to V)
  - DBIRTH per device <bus>-<unit_id>: every sensor of the device in the
    database (newest description) by name, unique aliases in the edge
    node, datatype by type (float32/float64 Double, bool Boolean, int64
    Int64, uint64 UInt64 when unscaled; else one of those four), properties
    engUnit and kind (String) as in the database, is_null or a value
    (and timestamp) of a reading of the sensor in the database
  - DDATA: only for a device born in the epoch and not dead; metrics by
    alias only; timestamp = ts_us in ms; properties Quality (Int32: 192 for
    good and out_of_range, else 0), tbdaq_quality (String), seq (UInt64);
    the alias names the reading's sensor; value (or is_null) as stored;
    every copy of one reading seq the same
Commands add:
  data [--cover-upto S] [--min-wraps N] [--repeats-historical] [--one-poll]
        every reading with seq <= S (and above --cover-from) received;
        --one-poll: every live DDATA (no metric is_historical) holds one
        poll of its device, one reading of each of its sensors (SPEC: DDATA
        per device and poll), and there is at least one
  bdseq  print "TYPE bdSeq" for every NBIRTH and NDEATH, in order
  births [--epochs N]  at least N epochs, each with a DBIRTH per device
  history --epoch K [--margin-ms M] [--late-ms L]
        readings recorded over M ms before epoch K's NBIRTH and not received
        before it arrive in epoch K as is_historical, after their device's
        DBIRTH, in seq order; the first live DDATA of the epoch arrives
        within L ms of its reading's ts
  ddeath --dead D --alive A
        D got a DDEATH then a DBIRTH, A no DDEATH; nothing for D in
        between; D's readings not published before the DDEATH arrive after
        the DBIRTH as historical, in seq order
  gate --host H
        no node message before an online STATE of H; a current offline
        STATE is followed by the node's NDEATH within 5 s and then nothing
        from the node until the next online STATE; a stale one (timestamp
        older than the online one) by no NDEATH
"""

import argparse
import json
import sqlite3
import sys

DT_NAME = {3: "Int32", 4: "Int64", 8: "UInt64", 10: "Double", 11: "Boolean",
           12: "String"}
GOOD = ("good", "out_of_range")
MAX_ERR = 20


class Problems:
    def __init__(self):
        self.list = []

    def __call__(self, msg):
        self.list.append(msg)

    def report(self):
        for p in self.list[:MAX_ERR]:
            print("spb_check: " + p)
        if len(self.list) > MAX_ERR:
            print("spb_check: ... %d problems in all" % len(self.list))
        return not self.list


def load(args):
    msgs = []
    seen = set()
    dups = 0
    with open(args.msgs) as f:
        for i, line in enumerate(f):
            line = line.strip()
            if line:
                j = json.loads(line)
                j["i"] = i + 1
                # The broker sends a QoS 1 message again when the
                # subscriber's acknowledgement was lost (its restart): the
                # same topic and payload twice is one publication. A
                # publication of the node again has another seq or
                # timestamp.
                k = json.dumps({x: y for x, y in j.items()
                                if x not in ("rx_us", "i", "qos", "retain")},
                               sort_keys=True)
                if k in seen and j["type"] != "STATE":
                    dups += 1
                    continue
                seen.add(k)
                msgs.append(j)
    if dups:
        print("%d messages received twice (MQTT redelivery), counted once" % dups)
    db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True, timeout=5)
    sensors = {}
    for tag, kind, unit, bus, uid, typ, scale, off, ver in db.execute(
            "SELECT tag, kind, unit, bus, unit_id, type, scale, \"offset\","
            " version FROM sensors ORDER BY tag, version"):
        sensors[tag] = dict(kind=kind, unit=unit, device="%s-%d" % (bus, uid),
                            type=typ, scaled=(scale != 1.0 or off != 0.0))
    readings = {}
    for seq, tag, ts, val, q in db.execute(
            "SELECT r.seq, s.tag, r.ts_us, r.value, r.quality FROM readings r"
            " JOIN sensors s ON s.id = r.sensor_id"):
        readings[seq] = (tag, ts, val, q)
    devices = {}
    for tag, s in sensors.items():
        devices.setdefault(s["device"], set()).add(tag)
    return msgs, sensors, readings, devices


def want_dtype(s):
    t = s["type"]
    if t in ("float32", "float64"):
        return {"Double"}
    if t == "bool":
        return {"Boolean"}
    if t in ("int64", "uint64") and not s["scaled"]:
        return {"Int64" if t == "int64" else "UInt64"}
    return {"Double", "Boolean", "Int64", "UInt64"}


def num(v):
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    return float(v) if isinstance(v, (int, float)) else v


def where(m):
    return "message %d (%s %s seq %s)" % (m["i"], m["type"],
                                          m.get("device") or "", m.get("seq"))


def prop(met, key):
    return (met.get("properties") or {}).get(key)


class Epoch:
    def __init__(self, nbirth):
        self.nbirth = nbirth
        self.bdseq = None
        self.births = {}   # device -> {alias: tag}
        self.dead = set()
        self.msgs = [nbirth]
        self.ndeath = None


def structure(args, msgs, sensors, readings, devices, bad):
    node = [m for m in msgs if m["group"] == args.group and m["node"] == args.node
            and m["type"] not in ("STATE", "NCMD", "DCMD")]
    epochs = []
    cur = None
    prev_seq = None
    got = {}   # reading seq -> [(epoch index, message, metric)]
    wraps = 0
    names = {}
    for m in node:
        t = m["type"]
        if "error" in m:
            bad("%s: %s" % (where(m), m["error"]))
            continue
        if t == "NDEATH":
            ms = m["metrics"]
            if m["seq"] is not None:
                bad("%s: NDEATH with a seq" % where(m))
            if len(ms) != 1 or ms[0].get("name") != "bdSeq" or ms[0]["dtname"] != "UInt64":
                bad("%s: NDEATH must hold one metric, bdSeq UInt64: %s" % (where(m), ms))
            if cur is not None and cur.ndeath is None:
                cur.ndeath = m
            continue
        if t == "NBIRTH":
            cur = Epoch(m)
            epochs.append(cur)
            if m["seq"] != 0:
                bad("%s: NBIRTH seq %s, want 0" % (where(m), m["seq"]))
            prev_seq = m["seq"]
            byname = {x.get("name"): x for x in m["metrics"]}
            b = byname.get("bdSeq")
            if b is None or b["dtname"] != "UInt64" or not isinstance(b["value"], int):
                bad("%s: no bdSeq UInt64 metric: %s" % (where(m), b))
            else:
                cur.bdseq = b["value"]
                if not 0 <= b["value"] <= 255:
                    bad("%s: bdSeq %s not in 0..255" % (where(m), b["value"]))
            r = byname.get("Node Control/Rebirth")
            if r is None or r["dtname"] != "Boolean" or r["value"] is not False:
                bad("%s: Node Control/Rebirth must be Boolean false: %s" % (where(m), r))
            v = byname.get("Node Info/Version")
            if v is None or v["dtname"] != "String" or (
                    args.version and v["value"] != args.version):
                bad("%s: Node Info/Version %s, want String %r" % (
                    where(m), v and (v["dtname"], v["value"]), args.version))
            if m["timestamp"] is None:
                bad("%s: no timestamp" % where(m))
            names = {}
            for x in m["metrics"]:
                if x.get("alias") is not None:
                    names[x["alias"]] = "node " + str(x.get("name"))
            continue
        if cur is None:
            bad("%s: before any NBIRTH" % where(m))
            continue
        cur.msgs.append(m)
        if m["seq"] is None or prev_seq is None or m["seq"] != (prev_seq + 1) % 256:
            bad("%s: seq %s after %s" % (where(m), m["seq"], prev_seq))
        elif m["seq"] == 0:
            wraps += 1
        prev_seq = m["seq"]
        if m["timestamp"] is None and t != "DDEATH":
            bad("%s: no timestamp" % where(m))
        dev = m["device"]
        if t == "DBIRTH":
            check_dbirth(m, dev, sensors, readings, devices, names, cur, bad)
        elif t == "DDEATH":
            cur.dead.add(dev)
        elif t == "DDATA":
            check_ddata(m, dev, sensors, readings, cur, len(epochs) - 1, got, bad)
        elif t != "NDATA":
            bad("%s: unexpected message type from the node" % where(m))
    return node, epochs, got, wraps


BY_TAG = {}


def recorded(readings, tag, value, ms):
    """True if the database holds a reading of tag with value (taken at ms,
    if given): a birth's value is its sensor's newest reading."""
    if not BY_TAG:
        for seq, (t, ts, val, q) in readings.items():
            BY_TAG.setdefault(t, []).append((ts, val))
    for ts, val in BY_TAG.get(tag, ()):
        if val == value and (ms is None or ts // 1000 == ms or (ts + 500) // 1000 == ms):
            return True
    return False


def check_dbirth(m, dev, sensors, readings, devices, names, cur, bad):
    cur.dead.discard(dev)
    if dev not in devices:
        bad("%s: no such device in the database (devices %s)" % (where(m), sorted(devices)))
        return
    amap = {}
    seen = set()
    for x in m["metrics"]:
        n = x.get("name")
        s = sensors.get(n)
        if s is None or s["device"] != dev:
            bad("%s: metric %r is not a sensor of %s" % (where(m), n, dev))
            continue
        seen.add(n)
        a = x.get("alias")
        if a is None:
            bad("%s: %s has no alias" % (where(m), n))
        elif a in names and names[a] != "%s %s" % (dev, n):
            bad("%s: alias %s of %s is also %s" % (where(m), a, n, names[a]))
        else:
            names[a] = "%s %s" % (dev, n)
            amap[a] = n
        if x["dtname"] not in want_dtype(s):
            bad("%s: %s (%s) datatype %s, want %s" % (
                where(m), n, s["type"], x["dtname"], sorted(want_dtype(s))))
        p = x.get("properties") or {}
        for k, want in (("engUnit", s["unit"]), ("kind", s["kind"])):
            pv = p.get(k)
            if pv is None or pv["type"] != 12 or pv["value"] != want:
                bad("%s: %s property %s %s, want String %r" % (where(m), n, k, pv, want))
        if x["is_null"]:
            if x["value"] is not None:
                bad("%s: %s is_null with a value" % (where(m), n))
        elif x["value"] is None:
            bad("%s: %s has neither a value nor is_null" % (where(m), n))
        elif not recorded(readings, n, num(x["value"]), x.get("timestamp")):
            bad("%s: %s value %r (timestamp %s) is no reading of it in the database" % (
                where(m), n, x["value"], x.get("timestamp")))
    missing = devices[dev] - seen
    if missing:
        bad("%s: sensors of %s missing: %s" % (where(m), dev, sorted(missing)))
    cur.births[dev] = amap


def check_ddata(m, dev, sensors, readings, cur, ei, got, bad):
    if dev not in cur.births:
        bad("%s: DDATA before a DBIRTH of %s in this epoch" % (where(m), dev))
        return
    if dev in cur.dead:
        bad("%s: DDATA of %s after its DDEATH" % (where(m), dev))
    amap = cur.births[dev]
    for x in m["metrics"]:
        w = "%s alias %s" % (where(m), x.get("alias"))
        if x.get("name") is not None:
            bad("%s: DDATA metric with a name (%r): aliases only" % (w, x["name"]))
        tag = amap.get(x.get("alias"))
        if tag is None:
            bad("%s: alias not in the DBIRTH of %s" % (w, dev))
            continue
        pq, ptq, ps = prop(x, "Quality"), prop(x, "tbdaq_quality"), prop(x, "seq")
        if ps is None or ps["type"] != 8 or not isinstance(ps["value"], int):
            bad("%s: no seq property (UInt64): %s" % (w, x.get("properties")))
            continue
        seq = ps["value"]
        r = readings.get(seq)
        got.setdefault(seq, []).append((ei, m, x))
        if r is None:
            bad("%s: seq %d is not in the database" % (w, seq))
            continue
        rtag, ts, val, q = r
        if rtag != tag:
            bad("%s: seq %d is a reading of %s, the alias names %s" % (w, seq, rtag, tag))
        ms = x.get("timestamp")
        if ms is None or not (ts // 1000 == ms or (ts + 500) // 1000 == ms):
            bad("%s: seq %d timestamp %s, the reading's ts_us %d" % (w, seq, ms, ts))
        wq = 192 if q in GOOD else 0
        if pq is None or pq["type"] != 3 or pq["value"] != wq:
            bad("%s: seq %d (%s) Quality %s, want Int32 %d" % (w, seq, q, pq, wq))
        if ptq is None or ptq["type"] != 12 or ptq["value"] != q:
            bad("%s: seq %d tbdaq_quality %s, want String %r" % (w, seq, ptq, q))
        if val is None:
            if not x["is_null"] or x["value"] is not None:
                bad("%s: seq %d is NULL in the database, got value %r is_null %r" % (
                    w, seq, x["value"], x["is_null"]))
        else:
            v = x["value"]
            if x["is_null"] or num(v) != val:
                bad("%s: seq %d value %r (is_null %r), the database %r" % (
                    w, seq, v, x["is_null"], val))


def first_copies(got):
    """seq -> (epoch, message, metric) of its first arrival."""
    return {s: c[0] for s, c in got.items()}


def cmd_data(args, ctx, bad):
    node, epochs, got, wraps, readings = ctx
    print("%d messages from the node, %d epochs, %d seq wraps, %d readings received" % (
        len(node), len(epochs), wraps, len(got)))
    if wraps < args.min_wraps:
        bad("%d seq wraps (255 -> 0), want at least %d" % (wraps, args.min_wraps))
    if args.cover_upto is not None:
        want = [s for s in readings if args.cover_from < s <= args.cover_upto]
        miss = sorted(s for s in want if s not in got)
        print("%d of %d readings (seq %d..%d) received, %d repeated" % (
            len(want) - len(miss), len(want), args.cover_from + 1, args.cover_upto,
            sum(1 for s in want if len(got.get(s, ())) > 1)))
        if not want:
            bad("no readings in seq %d..%d" % (args.cover_from + 1, args.cover_upto))
        if miss:
            bad("%d readings never received, e.g. seq %s" % (len(miss), miss[:10]))
    nonhist = 0
    for s, copies in got.items():
        for ei, m, x in copies[1:]:
            if not x["is_historical"]:
                nonhist += 1
                if args.repeats_historical:
                    bad("%s: seq %d again, not as is_historical" % (where(m), s))
    if nonhist:
        print("%d repeats of a reading not marked is_historical" % nonhist)
    if args.one_poll:
        one_poll(epochs, args.devices, bad)


def one_poll(epochs, devices, bad):
    """Every live DDATA holds each sensor of its device once."""
    n = 0
    for cur in epochs:
        for m in cur.msgs:
            if m["type"] != "DDATA" or any(x["is_historical"] for x in m["metrics"]):
                continue
            amap = cur.births.get(m["device"], {})
            tags = sorted(str(amap.get(x.get("alias"))) for x in m["metrics"])
            want = sorted(devices.get(m["device"], ()))
            n += 1
            if tags != want:
                bad("%s: live DDATA holds %s, one poll of %s is %s" % (
                    where(m), tags, m["device"], want))
    print("%d live DDATA, each should be one poll of its device" % n)
    if n == 0:
        bad("no live DDATA")


def cmd_bdseq(args, ctx, bad):
    node = ctx[0]
    for m in node:
        if m["type"] in ("NBIRTH", "NDEATH") and "error" not in m:
            b = [x["value"] for x in m["metrics"] if x.get("name") == "bdSeq"]
            print("%s %s" % (m["type"], b[0] if b else "none"))


def cmd_births(args, ctx, bad, devices):
    epochs = ctx[1]
    if len(epochs) < args.epochs:
        bad("%d epochs (NBIRTHs), want at least %d" % (len(epochs), args.epochs))
    for k, e in enumerate(epochs):
        if e is epochs[-1] and args.ignore_last:
            continue
        miss = set(devices) - set(e.births)
        if miss:
            bad("epoch %d (NBIRTH message %d): no DBIRTH of %s" % (
                k, e.nbirth["i"], sorted(miss)))
    print("%d epochs; bdSeq %s" % (len(epochs), [e.bdseq for e in epochs]))


def cmd_history(args, ctx, bad, readings):
    node, epochs, got, wraps, _ = ctx
    if args.epoch >= len(epochs) or -args.epoch > len(epochs):
        bad("no epoch %d (%d epochs)" % (args.epoch, len(epochs)))
        return
    k = args.epoch % len(epochs)
    e = epochs[k]
    t0 = e.nbirth["rx_us"]
    before = {s for s, c in got.items() if any(ei < k for ei, _, _ in c)}
    want = sorted(s for s, r in readings.items()
                  if r[1] < t0 - args.margin_ms * 1000 and s not in before
                  and s > args.after_seq)
    inep = {}
    order = []
    first_live = None
    worst_live = 0
    for m in e.msgs:
        if m["type"] != "DDATA":
            continue
        for x in m["metrics"]:
            ps = prop(x, "seq")
            if ps is None:
                continue
            s = ps["value"]
            if x["is_historical"]:
                if s not in inep:
                    order.append(s)
                inep.setdefault(s, x)
            elif s in readings:
                late = m["rx_us"] - readings[s][1]
                worst_live = max(worst_live, late)
                if first_live is None:
                    first_live = (s, late, m)
    miss = [s for s in want if s not in inep]
    print("epoch %d: %d readings recorded before its NBIRTH - %d ms and not received "
          "before; %d historical readings received, %d of those missing" % (
              k, len(want), args.margin_ms, len(inep), len(miss)))
    if not want:
        bad("epoch %d: no readings were recorded while disconnected" % k)
    if miss:
        bad("epoch %d: %d readings recorded meanwhile not received as is_historical, "
            "e.g. seq %s" % (k, len(miss), miss[:10]))
    ooo = [(a, b) for a, b in zip(order, order[1:]) if b < a]
    if ooo:
        bad("epoch %d: historical readings not in seq order: %d inversions, e.g. %s" % (
            k, len(ooo), ooo[:5]))
    if first_live is None:
        bad("epoch %d: no live DDATA" % k)
    else:
        print("epoch %d: first live reading seq %d arrived %d ms after its ts; "
              "worst live %d ms" % (k, first_live[0], first_live[1] // 1000,
                                    worst_live // 1000))
        if first_live[1] > args.late_ms * 1000:
            bad("epoch %d: the first live reading (seq %d, %s) arrived %d ms after "
                "its ts: held back" % (k, first_live[0], where(first_live[2]),
                                       first_live[1] // 1000))


def cmd_ddeath(args, ctx, bad, readings, sensors):
    node = ctx[0]
    dd = [i for i, m in enumerate(node) if m["type"] == "DDEATH"]
    if any(node[i]["device"] == args.alive for i in dd):
        bad("a DDEATH of %s, which never stopped answering" % args.alive)
    dead = [i for i in dd if node[i]["device"] == args.dead]
    if not dead:
        bad("no DDEATH of %s" % args.dead)
        return
    i = dead[0]
    nb = [j for j in range(i + 1, len(node))
          if node[j]["type"] in ("DBIRTH", "NBIRTH") and node[j].get("device") in (None, args.dead)]
    if not nb or node[nb[0]]["type"] != "DBIRTH":
        bad("no DBIRTH of %s after its DDEATH (message %d)" % (args.dead, node[i]["i"]))
        return
    j = nb[0]
    for m in node[i + 1:j]:
        if m.get("device") == args.dead:
            bad("%s: of %s between its DDEATH and DBIRTH" % (where(m), args.dead))
    last_before = 0
    for m in node[:i]:
        if m["type"] == "DDATA" and m["device"] == args.dead:
            for x in m["metrics"]:
                ps = prop(x, "seq")
                if ps:
                    last_before = max(last_before, ps["value"])
    order = []
    hist = set()
    first_live = None
    for m in node[j + 1:]:
        if m["type"] == "NBIRTH":
            break
        if m["type"] != "DDATA" or m["device"] != args.dead:
            continue
        for x in m["metrics"]:
            ps = prop(x, "seq")
            if not ps:
                continue
            if x["is_historical"]:
                order.append(ps["value"])
                hist.add(ps["value"])
            elif first_live is None:
                first_live = ps["value"]
    if first_live is None:
        bad("no live DDATA of %s after its DBIRTH" % args.dead)
        return
    want = sorted(s for s, r in readings.items() if sensors[r[0]]["device"] == args.dead
                  and last_before < s < first_live)
    miss = [s for s in want if s not in hist]
    q = {}
    for s in want:
        q[readings[s][3]] = q.get(readings[s][3], 0) + 1
    print("%s: DDEATH at message %d, DBIRTH at %d; %d readings between seq %d and "
          "%d (%s), %d received as historical after the DBIRTH" % (
              args.dead, node[i]["i"], node[j]["i"], len(want), last_before,
              first_live, q, len(hist)))
    if not want:
        bad("no readings of %s between its last DDATA and its first live one" % args.dead)
    if miss:
        bad("%d readings of %s taken while dead not received as historical after its "
            "DBIRTH, e.g. seq %s" % (len(miss), args.dead, miss[:10]))
    ooo = [(a, b) for a, b in zip(order, order[1:]) if b <= a]
    if ooo:
        bad("historical readings of %s not in seq order, e.g. %s" % (args.dead, ooo[:5]))


def cmd_gate(args, msgs, bad):
    online_ts = None
    online = False
    pending = None   # (offline STATE message) waiting for the NDEATH
    stale = None
    n_node = 0
    for m in msgs:
        if m["type"] == "STATE" and m["node"] == args.host:
            s = m.get("state") or {}
            if s.get("online") is True:
                if pending is not None:
                    bad("no NDEATH between the offline STATE (message %d) and the online "
                        "one (message %d)" % (pending["i"], m["i"]))
                online, online_ts = True, s.get("timestamp")
                pending = stale = None
            elif s.get("online") is False:
                if online_ts is not None and s.get("timestamp", 0) < online_ts:
                    stale = m
                elif online:
                    pending, stale = m, None
                    online = False
            continue
        if m["group"] != args.group or m["node"] != args.node:
            continue
        n_node += 1
        if m["type"] == "NDEATH":
            if pending is not None:
                d = m["rx_us"] - pending["rx_us"]
                print("NDEATH %d ms after the offline STATE" % (d // 1000))
                if d > 5000000:
                    bad("message %d: NDEATH %d ms after the offline STATE" % (m["i"], d // 1000))
                pending = None
            elif online:
                bad("message %d: NDEATH while the primary host is online%s" % (
                    m["i"], " (after a stale offline STATE, message %d)" % stale["i"]
                    if stale else ""))
            continue
        if pending is not None:
            # sent before the node saw the offline STATE, or too late
            if m["rx_us"] - pending["rx_us"] > 5000000:
                bad("%s: more than 5 s after an offline STATE, without NDEATH" % where(m))
        elif not online:
            bad("%s: while the primary host is not online" % where(m))
    if pending is not None:
        bad("no NDEATH after the offline STATE (message %d)" % pending["i"])
    print("%d node messages" % n_node)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--msgs", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--version")
    sp = ap.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("data")
    s.add_argument("--cover-upto", type=int)
    s.add_argument("--cover-from", type=int, default=0)
    s.add_argument("--min-wraps", type=int, default=0)
    s.add_argument("--repeats-historical", action="store_true")
    s.add_argument("--one-poll", action="store_true")
    sp.add_parser("bdseq")
    s = sp.add_parser("births")
    s.add_argument("--epochs", type=int, default=1)
    s.add_argument("--ignore-last", action="store_true")
    s = sp.add_parser("history")
    s.add_argument("--epoch", type=int, required=True)
    s.add_argument("--margin-ms", type=int, default=1000)
    s.add_argument("--late-ms", type=int, default=2000)
    s.add_argument("--after-seq", type=int, default=0)
    s = sp.add_parser("ddeath")
    s.add_argument("--dead", required=True)
    s.add_argument("--alive", required=True)
    s = sp.add_parser("gate")
    s.add_argument("--host", required=True)
    args = ap.parse_args()
    bad = Problems()
    msgs, sensors, readings, devices = load(args)
    node, epochs, got, wraps = structure(args, msgs, sensors, readings, devices, bad)
    ctx = (node, epochs, got, wraps, readings)
    if args.cmd == "data":
        args.devices = devices
        cmd_data(args, ctx, bad)
    elif args.cmd == "bdseq":
        cmd_bdseq(args, ctx, bad)
    elif args.cmd == "births":
        cmd_births(args, ctx, bad, devices)
    elif args.cmd == "history":
        cmd_history(args, ctx, bad, readings)
    elif args.cmd == "ddeath":
        cmd_ddeath(args, ctx, bad, readings, sensors)
    elif args.cmd == "gate":
        cmd_gate(args, msgs, bad)
    sys.exit(0 if bad.report() else 1)


if __name__ == "__main__":
    main()
