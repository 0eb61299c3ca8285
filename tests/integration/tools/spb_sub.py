#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A Sparkplug B 3.0 host of the test suite's own, written apart from tbdaq.

Decodes with sparkplug_test_pb2, compiled by the case from
tests/integration/tools/sparkplug_test.proto (our schema, from the
specification) with Debian's protoc --python_out into --pb DIR. MQTT is
Debian's python3-paho-mqtt. Commands:

  sub      subscribe to spBv1.0/# (QoS 1, persistent session, client id
           --client-id) and append one JSON line per message to --out:
           rx_us (arrival, CLOCK_REALTIME us), topic, qos, retain, type,
           group, node, device, and for Sparkplug B payloads timestamp,
           seq and metrics (name, alias, timestamp, datatype, dtname,
           value, vfield, is_null, is_historical, is_transient,
           properties {key: {type, value, is_null}}); STATE payloads as
           "state" (their JSON). Undecodable payloads: "error" and "hex".
           Prints "subscribed" on stdout at every SUBACK; reconnects by
           itself when the broker goes away.
  rebirth  publish an NCMD 'Node Control/Rebirth' = true (Boolean) to
           spBv1.0/GROUP/NCMD/NODE, QoS 0, not retained (spec 3.0)
  state    publish {"online":B,"timestamp":T} retained at QoS 1 on
           spBv1.0/STATE/HOST (spec 3.0, the host's birth and death)
  decode   decode one payload (hex on stdin) and print its JSON line
  selftest encode payloads with the schema, check them against bytes
           worked out by hand from the specification's field numbers, and
           decode them back through the same code as sub
"""

import argparse
import json
import os
import struct
import sys
import threading
import time

# DataType numbers of the specification ("DataType" enum).
DATATYPES = {
    0: "Unknown", 1: "Int8", 2: "Int16", 3: "Int32", 4: "Int64",
    5: "UInt8", 6: "UInt16", 7: "UInt32", 8: "UInt64", 9: "Float",
    10: "Double", 11: "Boolean", 12: "String", 13: "DateTime", 14: "Text",
    15: "UUID", 16: "DataSet", 17: "Bytes", 18: "File", 19: "Template",
    20: "PropertySet", 21: "PropertySetList",
}
DT = {v: k for k, v in DATATYPES.items()}
# Signed types carried in an unsigned field as two's complement, by width.
SIGNED_BITS = {1: 8, 2: 16, 3: 32, 4: 64}

pb = None  # sparkplug_test_pb2, imported by load_schema()


def load_schema(d):
    global pb
    sys.path.insert(0, d)
    import sparkplug_test_pb2  # noqa: E402 (generated at test time)
    pb = sparkplug_test_pb2


def signed(v, dtype):
    bits = SIGNED_BITS.get(dtype)
    if bits is None or not isinstance(v, int):
        return v
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def plain(v):
    if isinstance(v, bytes):
        return v.hex()
    return v


def value_of(msg, dtype):
    """(field name, value) of a Metric's or PropertyValue's value oneof."""
    f = msg.WhichOneof("value")
    if f is None:
        return None, None
    v = getattr(msg, f)
    if f in ("propertyset_value", "propertysets_value"):
        return f, str(v)
    return f, plain(signed(v, dtype))


def props_of(ps):
    out = {}
    if len(ps.keys) != len(ps.values):
        out["__error__"] = "%d keys, %d values" % (len(ps.keys), len(ps.values))
    for k, pv in zip(ps.keys, ps.values):
        t = pv.type if pv.HasField("type") else None
        f, v = value_of(pv, t)
        out[k] = {"type": t, "value": v, "vfield": f,
                  "is_null": pv.is_null if pv.HasField("is_null") else None}
    return out


def metric_json(m):
    dt = m.datatype if m.HasField("datatype") else None
    f, v = value_of(m, dt)
    j = {}
    for k in ("name", "alias", "timestamp"):
        if m.HasField(k):
            j[k] = getattr(m, k)
    j["datatype"] = dt
    j["dtname"] = DATATYPES.get(dt) if dt is not None else None
    j["value"] = v
    j["vfield"] = f
    for k in ("is_null", "is_historical", "is_transient"):
        j[k] = getattr(m, k) if m.HasField(k) else None
    j["properties"] = props_of(m.properties) if m.HasField("properties") else None
    return j


def topic_parts(topic):
    """type, group, node, device of a Sparkplug topic (None where absent)."""
    p = topic.split("/")
    if len(p) >= 3 and p[0] == "spBv1.0" and p[1] == "STATE":
        return "STATE", None, "/".join(p[2:]), None
    if len(p) in (4, 5) and p[0] == "spBv1.0":
        return p[2], p[1], p[3], p[4] if len(p) == 5 else None
    return None, None, None, None


def decode(topic, payload, qos=None, retain=None, rx_us=None):
    typ, group, node, dev = topic_parts(topic)
    j = {"rx_us": rx_us, "topic": topic, "qos": qos, "retain": retain,
         "type": typ, "group": group, "node": node, "device": dev}
    if typ == "STATE":
        try:
            j["state"] = json.loads(payload.decode("utf-8"))
        except ValueError as e:
            j["error"] = "STATE payload is not JSON: %s" % e
            j["hex"] = payload.hex()
        return j
    p = pb.SpbPayload()
    try:
        p.ParseFromString(payload)
    except Exception as e:  # noqa: BLE001 (any parse error is reported)
        j["error"] = "not a Sparkplug B payload: %s" % e
        j["hex"] = payload.hex()
        return j
    j["timestamp"] = p.timestamp if p.HasField("timestamp") else None
    j["seq"] = p.seq if p.HasField("seq") else None
    j["metrics"] = [metric_json(m) for m in p.metrics]
    if p.HasField("uuid"):
        j["uuid"] = p.uuid
    if p.HasField("body"):
        j["body"] = p.body.hex()
    return j


def now_ms():
    return time.time_ns() // 1000000


# ---------------------------------------------------------------------
# MQTT

def client(args, client_id, clean):
    import paho.mqtt.client as mqtt
    c = mqtt.Client(client_id=client_id, clean_session=clean,
                    protocol=mqtt.MQTTv311)
    c.reconnect_delay_set(min_delay=1, max_delay=1)
    return c


def cmd_sub(args):
    out = open(args.out, "a", buffering=1)
    lock = threading.Lock()
    c = client(args, args.client_id, False)

    def on_connect(cl, _u, _f, rc):
        print("connected rc=%d" % rc, flush=True)
        if rc == 0:
            cl.subscribe(args.topic, qos=1)

    def on_subscribe(_c, _u, _mid, _q):
        print("subscribed", flush=True)

    def on_message(_c, _u, msg):
        rx = time.time_ns() // 1000
        j = decode(msg.topic, msg.payload, msg.qos, int(msg.retain), rx)
        with lock:
            out.write(json.dumps(j, sort_keys=True) + "\n")

    c.on_connect = on_connect
    c.on_subscribe = on_subscribe
    c.on_message = on_message
    while True:
        try:
            c.connect(args.host, args.port, keepalive=5)
            break
        except OSError as e:
            print("connect: %s" % e, flush=True)
            time.sleep(0.2)
    c.loop_forever(retry_first_connection=True)


def publish_once(args, topic, payload, qos, retain):
    c = client(args, "itest-spbpub-%d" % os.getpid(), True)
    c.connect(args.host, args.port, keepalive=5)
    c.loop_start()
    info = c.publish(topic, payload, qos=qos, retain=retain)
    info.wait_for_publish(timeout=5)
    ok = info.is_published()
    c.disconnect()
    c.loop_stop()
    if not ok:
        sys.exit("spb_sub: %s not published within 5 s" % topic)


def rebirth_payload():
    p = pb.SpbPayload()
    p.timestamp = now_ms()
    m = p.metrics.add()
    m.name = "Node Control/Rebirth"
    m.timestamp = p.timestamp
    m.datatype = DT["Boolean"]
    m.boolean_value = True
    return p.SerializeToString()


def cmd_rebirth(args):
    publish_once(args, "spBv1.0/%s/NCMD/%s" % (args.group, args.node),
                 rebirth_payload(), 0, False)


def cmd_state(args):
    body = json.dumps({"online": args.online == "true",
                       "timestamp": args.timestamp}, separators=(",", ":"))
    publish_once(args, "spBv1.0/STATE/%s" % args.host_id, body.encode(), 1,
                 True)


def cmd_decode(_args):
    j = decode("spBv1.0/g/DDATA/n/d",
               bytes.fromhex(sys.stdin.read().strip()))
    print(json.dumps(j, sort_keys=True))


# ---------------------------------------------------------------------
# Self-test: the schema against the specification's field numbers.

def varint(n):
    b = bytearray()
    while True:
        x = n & 0x7F
        n >>= 7
        if n:
            b.append(x | 0x80)
        else:
            b.append(x)
            return bytes(b)


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, body):
    return key(field, 2) + varint(len(body)) + body


def cmd_selftest(_args):
    fails = []

    def check(what, got, want):
        if got != want:
            fails.append("%s: got %r, want %r" % (what, got, want))

    # A DDATA of one Double metric by alias, with the properties tbdaq
    # sends, built by hand from the specification's numbers: Payload
    # timestamp 1, metrics 2, seq 3; Metric alias 2, timestamp 3,
    # is_historical 5, properties 9, double_value 13; PropertySet keys 1,
    # values 2; PropertyValue type 1, int_value 3, long_value 4,
    # string_value 8.
    ts = 1795568523456
    pv_q = key(1, 0) + varint(3) + key(3, 0) + varint(192)
    pv_tq = key(1, 0) + varint(12) + ld(8, b"good")
    pv_seq = key(1, 0) + varint(8) + key(4, 0) + varint(1234)
    props = (ld(1, b"Quality") + ld(1, b"tbdaq_quality") + ld(1, b"seq") +
             ld(2, pv_q) + ld(2, pv_tq) + ld(2, pv_seq))
    met = (key(2, 0) + varint(7) + key(3, 0) + varint(ts) + key(5, 0) +
           varint(1) + ld(9, props) + key(13, 1) + struct.pack("<d", 12.3456))
    hand = key(1, 0) + varint(ts) + ld(2, met) + key(3, 0) + varint(255)

    p = pb.SpbPayload()
    p.timestamp = ts
    p.seq = 255
    m = p.metrics.add()
    m.alias = 7
    m.timestamp = ts
    m.is_historical = True
    for k in ("Quality", "tbdaq_quality", "seq"):
        m.properties.keys.append(k)
    v = m.properties.values.add()
    v.type, v.int_value = DT["Int32"], 192
    v = m.properties.values.add()
    v.type, v.string_value = DT["String"], "good"
    v = m.properties.values.add()
    v.type, v.long_value = DT["UInt64"], 1234
    m.double_value = 12.3456
    check("DDATA encoded by the schema", p.SerializeToString().hex(), hand.hex())

    j = decode("spBv1.0/grp/DDATA/node/plant-1", hand, 1, 0, 0)
    check("type", (j["type"], j["group"], j["node"], j["device"]),
          ("DDATA", "grp", "node", "plant-1"))
    check("seq", j["seq"], 255)
    check("timestamp", j["timestamp"], ts)
    mj = j["metrics"][0]
    check("metric", (mj.get("name"), mj["alias"], mj["timestamp"], mj["value"],
                     mj["vfield"], mj["is_historical"], mj["is_null"]),
          (None, 7, ts, 12.3456, "double_value", True, None))
    check("properties", mj["properties"],
          {"Quality": {"type": 3, "value": 192, "vfield": "int_value", "is_null": None},
           "tbdaq_quality": {"type": 12, "value": "good", "vfield": "string_value",
                             "is_null": None},
           "seq": {"type": 8, "value": 1234, "vfield": "long_value", "is_null": None}})

    # A birth metric: name 1, datatype 4, Int64 -5 as long_value (two's
    # complement), and a null one (is_null 7, no value).
    m1 = ld(1, b"TOT") + key(2, 0) + varint(3) + key(4, 0) + varint(4) + \
        key(11, 0) + varint((1 << 64) - 5)
    m2 = ld(1, b"X") + key(2, 0) + varint(4) + key(4, 0) + varint(10) + \
        key(7, 0) + varint(1)
    m3 = ld(1, b"bdSeq") + key(4, 0) + varint(8) + key(11, 0) + varint(3)
    m4 = ld(1, b"Node Control/Rebirth") + key(4, 0) + varint(11) + \
        key(14, 0) + varint(0)
    hand = key(1, 0) + varint(ts) + ld(2, m1) + ld(2, m2) + ld(2, m3) + \
        ld(2, m4) + key(3, 0) + varint(0)
    j = decode("spBv1.0/grp/NBIRTH/node", hand, 0, 0, 0)
    check("NBIRTH type", (j["type"], j["device"]), ("NBIRTH", None))
    got = [(x["name"], x.get("alias"), x["dtname"], x["value"], x["is_null"])
           for x in j["metrics"]]
    check("NBIRTH metrics", got,
          [("TOT", 3, "Int64", -5, None), ("X", 4, "Double", None, True),
           ("bdSeq", None, "UInt64", 3, None),
           ("Node Control/Rebirth", None, "Boolean", False, None)])
    check("NBIRTH seq 0 present", j["seq"], 0)

    # Our rebirth request decodes as the specification's.
    j = decode("spBv1.0/grp/NCMD/node", rebirth_payload())
    mj = j["metrics"][0]
    check("NCMD", (mj["name"], mj["dtname"], mj["value"], mj["vfield"]),
          ("Node Control/Rebirth", "Boolean", True, "boolean_value"))
    # A payload with no seq (NDEATH) says so, and garbage is reported.
    j = decode("spBv1.0/grp/NDEATH/node", ld(2, m3))
    check("NDEATH seq", j["seq"], None)
    j = decode("spBv1.0/grp/DDATA/node/d", b"\xff\xff\xff")
    check("garbage reported", "error" in j, True)
    j = decode("spBv1.0/STATE/scada", b'{"online":true,"timestamp":5}')
    check("STATE", (j["type"], j["node"], j["state"]),
          ("STATE", "scada", {"online": True, "timestamp": 5}))
    for f in fails:
        print("selftest: " + f)
    print("selftest: %s" % ("FAIL" if fails else "ok"))
    sys.exit(1 if fails else 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pb", default=os.environ.get("SPB_PB_DIR", "."),
                    help="directory holding sparkplug_test_pb2.py")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    sp = ap.add_subparsers(dest="cmd", required=True)
    s = sp.add_parser("sub")
    s.add_argument("--out", required=True)
    s.add_argument("--topic", default="spBv1.0/#")
    s.add_argument("--client-id", default="itest-spb")
    s = sp.add_parser("rebirth")
    s.add_argument("--group", required=True)
    s.add_argument("--node", required=True)
    s = sp.add_parser("state")
    s.add_argument("--host-id", required=True)
    s.add_argument("--online", choices=("true", "false"), required=True)
    s.add_argument("--timestamp", type=int, required=True)
    sp.add_parser("decode")
    sp.add_parser("selftest")
    args = ap.parse_args()
    load_schema(args.pb)
    {"sub": cmd_sub, "rebirth": cmd_rebirth, "state": cmd_state,
     "decode": cmd_decode, "selftest": cmd_selftest}[args.cmd](args)


if __name__ == "__main__":
    main()
