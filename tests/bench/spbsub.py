#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""make bench's Sparkplug B figures (and a Python host), apart from tbdaq.

Decodes with sparkplug_test_pb2, compiled by replay_spb.sh from the
integration tests' own schema (tests/integration/tools/
sparkplug_test.proto, from the specification) with Debian's protoc
--python_out into --pb DIR; MQTT is Debian's python3-paho-mqtt. Run it
with /usr/bin/python3 (Debian's modules). Commands:

  sub    subscribe to spBv1.0/# at QoS 1 with a persistent session
         (--client-id, clean session off; it reconnects every 100 ms
         while the broker is away) and append one line per DDATA metric
         to --out: "seq ts_ms rx_us hist sent_ms" (the metric's seq
         property, its timestamp, the arrival of its message as
         CLOCK_REALTIME us when paho handed it over, is_historical 0/1,
         the payload's timestamp: when tbdaqd encoded the DDATA). Every 0.5 s it prints
         "progress msgs=N metrics=M low=L births=B deaths=D bad=X" on
         stdout: L is the highest seq such that every seq from --first up
         to it arrived (the replay is complete when L reaches the last
         seq recorded). Decoding inline costs about 3 us a metric with
         python3-protobuf's C++ backend, and a 10-minute backlog arrives
         at over 150,000 metrics/s: this host then takes a whole core and
         live DDATA wait for it, so replay_spb.sh uses spbhost.c unless
         BENCH_SPB_HOST=python.
  stats  the figures of one run, as key=value words on one line, from
         --rec (sub's lines), --db (the database's "seq ts_us" lines that
         must all arrive) and --from-us/--to-us (the readings taken in
         this span whose DDATA was live are the catch-up's; --to-us
         defaults to hist_done_us, below: lateness
         = rx_us / 1000 - ts_ms, in ms): db, received (distinct seqs of
         --db received), missing (and missing_examples), dups (metrics
         of --db seqs received more than once), hist, live (metrics),
         late_n, late_p50_ms, late_p99_ms, late_max_ms (the live
         readings taken in the span), late_all_max_ms (every live
         reading), hist_done_us (the arrival of the last --db seq to
         arrive); the span's lateness split at the DDATA's encoding:
         node_p99_ms, node_max_ms (encoded - taken: the commit and the
         node's pump) and after_p99_ms, after_max_ms (arrival - encoded:
         libmosquitto's queue, the broker, this host).
"""

import argparse
import os
import sys
import threading
import time

pb = None  # sparkplug_test_pb2


def load_schema(d):
    global pb
    sys.path.insert(0, d)
    import sparkplug_test_pb2  # noqa: E402 (generated at run time)
    pb = sparkplug_test_pb2


def metric_seq(m):
    """The seq property of a metric, or -1."""
    ps = m.properties
    for i, k in enumerate(ps.keys):
        if k == "seq":
            return ps.values[i].long_value
    return -1


class Progress:
    """Counts, and the contiguous low-water mark of seqs seen."""

    def __init__(self, first):
        self.lock = threading.Lock()
        self.msgs = self.metrics = self.births = self.deaths = self.bad = 0
        self.low = first - 1
        self.above = set()

    def seen(self, seq):
        if seq <= self.low:
            return
        self.above.add(seq)
        while self.low + 1 in self.above:
            self.low += 1
            self.above.discard(self.low)

    def line(self):
        with self.lock:
            return ("progress msgs=%d metrics=%d low=%d births=%d deaths=%d "
                    "bad=%d" % (self.msgs, self.metrics, self.low,
                                self.births, self.deaths, self.bad))


def cmd_sub(args):
    import paho.mqtt.client as mqtt

    out = open(args.out, "a", buffering=1 << 16)
    prog = Progress(args.first)
    c = mqtt.Client(client_id=args.client_id, clean_session=False,
                    protocol=mqtt.MQTTv311)
    c.reconnect_delay_set(min_delay=0.1, max_delay=0.1)

    def on_connect(cl, _u, _f, rc):
        print("connected rc=%d" % rc, flush=True)
        if rc == 0:
            cl.subscribe("spBv1.0/#", qos=1)

    def on_subscribe(_c, _u, _mid, _q):
        print("subscribed", flush=True)

    def on_message(_c, _u, msg):
        rx = time.time_ns() // 1000
        typ = msg.topic.split("/")[2] if msg.topic.count("/") >= 3 else ""
        with prog.lock:
            prog.msgs += 1
            if typ in ("NBIRTH", "DBIRTH"):
                prog.births += 1
                return
            if typ in ("NDEATH", "DDEATH"):
                prog.deaths += 1
                return
            if typ != "DDATA":
                return
            p = pb.SpbPayload()
            try:
                p.ParseFromString(msg.payload)
            except Exception:  # noqa: BLE001 (counted, never fatal)
                prog.bad += 1
                return
            lines = []
            sent = p.timestamp if p.HasField("timestamp") else 0
            for m in p.metrics:
                s = metric_seq(m)
                if s < 0 or not m.HasField("timestamp"):
                    prog.bad += 1
                    continue
                prog.metrics += 1
                prog.seen(s)
                lines.append("%d %d %d %d %d\n" % (
                    s, m.timestamp, rx, 1 if m.is_historical else 0, sent))
            out.write("".join(lines))

    def report():
        while True:
            time.sleep(0.5)
            out.flush()
            print(prog.line(), flush=True)

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    threading.Thread(target=report, daemon=True).start()
    while True:
        try:
            c.connect(args.host, args.port, keepalive=5)
            break
        except OSError as e:
            print("connect: %s" % e, flush=True)
            time.sleep(0.1)
    c.loop_forever(retry_first_connection=True)


def pct(xs, p):
    """The p-th percentile (nearest rank) of sorted xs."""
    if not xs:
        return 0
    k = max(0, min(len(xs) - 1, int(-(-p * len(xs) // 100)) - 1))
    return xs[k]


def cmd_stats(args):
    want = {}
    with open(args.db) as f:
        for line in f:
            s, ts = line.split()
            want[int(s)] = int(ts)
    recs = []
    with open(args.rec) as f:
        for line in f:
            w = line.split()
            if len(w) == 5:
                recs.append((int(w[0]), int(w[1]), int(w[2]), w[3] == "1",
                             int(w[4])))
    got = {}
    done_us = 0
    for s, _ts, rx, _h, _sent in recs:
        if s in want:
            got[s] = got.get(s, 0) + 1
            done_us = max(done_us, rx)
    to_us = args.to_us or done_us
    hist = live = late_all_max = 0
    late, node, after = [], [], []
    for _s, ts_ms, rx, h, sent in recs:
        if h:
            hist += 1
            continue
        live += 1
        ms = rx / 1000.0 - ts_ms
        late_all_max = max(late_all_max, ms)
        if args.from_us <= ts_ms * 1000 < to_us:
            late.append(ms)
            node.append(sent - ts_ms)
            after.append(rx / 1000.0 - sent)
    missing = sorted(s for s in want if s not in got)
    late.sort()
    node.sort()
    after.sort()
    print("db=%d received=%d missing=%d missing_examples=%s dups=%d hist=%d "
          "live=%d late_n=%d late_p50_ms=%.1f late_p99_ms=%.1f "
          "late_max_ms=%.1f late_all_max_ms=%.1f hist_done_us=%d "
          "node_p99_ms=%d node_max_ms=%d after_p99_ms=%.1f after_max_ms=%.1f"
          % (len(want), len(got), len(missing),
             ",".join(str(s) for s in missing[:5]) or "-",
             sum(n - 1 for n in got.values()), hist, live, len(late),
             pct(late, 50), pct(late, 99), late[-1] if late else 0,
             late_all_max, done_us, pct(node, 99), node[-1] if node else 0,
             pct(after, 99), after[-1] if after else 0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("sub")
    s.add_argument("--pb", required=True)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--client-id", default="bench-spb")
    s.add_argument("--first", type=int, default=1)
    s = sp.add_parser("stats")
    s.add_argument("--rec", required=True)
    s.add_argument("--db", required=True)
    s.add_argument("--from-us", type=int, required=True)
    s.add_argument("--to-us", type=int, default=0)
    args = ap.parse_args()
    if args.cmd == "sub":
        load_schema(args.pb)
        cmd_sub(args)
    else:
        cmd_stats(args)


if __name__ == "__main__":
    sys.exit(main())
