# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 15, SPEC "Sparkplug B": tbdaqd's second,
# independent publisher judged by a host the suite wrote apart from it.
# tools/spb_sub.py decodes with the suite's own schema
# (tools/sparkplug_test.proto, written from the Eclipse Sparkplug 3.0
# specification, compiled at test time by Debian's protoc --python_out into
# $T/pb) and appends one JSON line per message of spBv1.0/# to $T/spb.jsonl;
# tools/spb_check.py checks those lines against SPEC and the daemon's
# database (see its --help). Sourced by run.sh after lib.sh; each case runs
# in its own subshell with $T set.
#
# The broker keeps the subscriber's persistent session across its own
# restarts (persistence in $T) and queues QoS 0 messages for it
# (queue_qos0_messages: births and qos 0 data are QoS 0), with no limit on
# messages in flight or queued, so that the subscriber misses nothing the
# broker accepted and sees it in the order the broker received it.

SPB_PY=${SPB_PYTHON:-/usr/bin/python3}
SPB_TOOLS=$HERE/tools
SPB_GROUP=itgrp
SPB_NODE=itnode
# The daemon's Sparkplug client id by SPEC's default: tbdaq-<site>-spb.
SPB_CLIENT=tbdaq-itest-spb

# need_spb: fails the case unless tbdaqd has a Sparkplug publisher and the
# test's own decoder works (protoc, python3-protobuf, python3-paho-mqtt);
# compiles the schema into $T/pb and runs the decoder's selftest.
need_spb() {
    need_mqtt
    grep -qa 'spBv1\.0' "$BUILD/tbdaqd" ||
        fail "$BUILD/tbdaqd has no Sparkplug B publisher (no 'spBv1.0' in it)"
    command -v protoc >/dev/null || fail "no protoc (Debian: protobuf-compiler)"
    "$SPB_PY" -c 'import google.protobuf, paho.mqtt.client' 2>"$T/pyerr" ||
        fail "$SPB_PY lacks python3-protobuf or python3-paho-mqtt: $(tail -1 "$T/pyerr")"
    mkdir -p "$T/pb"
    protoc --proto_path="$SPB_TOOLS" --python_out="$T/pb" \
        "$SPB_TOOLS/sparkplug_test.proto" 2>"$T/protoc.err" ||
        fail "protoc: $(head -3 "$T/protoc.err")"
    "$SPB_PY" "$SPB_TOOLS/spb_sub.py" --pb "$T/pb" selftest >"$T/selftest" 2>&1 ||
        fail "the test's Sparkplug decoder fails its selftest: $(tr '\n' ' ' <"$T/selftest")"
    : >"$T/spb.jsonl"
}

# spb_broker: the case's broker, as above.
spb_broker() {
    start_broker "persistence true" "persistence_location $T/" \
        "queue_qos0_messages true" "max_queued_messages 0" \
        "max_inflight_messages 0"
}

# spb_sub_start: the test's host, subscribed to spBv1.0/# before the case
# goes on.
spb_sub_start() {
    SPAWN_APPEND=1 spawn spbsub "$SPB_PY" "$SPB_TOOLS/spb_sub.py" --pb "$T/pb" \
        --port "$BROKER_PORT" sub --out "$T/spb.jsonl"
    wait_or_fail "grep -q '^subscribed' '$T/spbsub.out' || ! pid_running $PID_spbsub" 10 \
        "the test's Sparkplug subscriber did not subscribe"
    pid_running "$PID_spbsub" ||
        fail "the test's Sparkplug subscriber exited: $(tail -2 "$T/spbsub.err" | tr '\n' ' ')"
}

# spb_conf QOS [SETTINGS...]: the sparkplug group for conf_write.
spb_conf() {
    local qos=$1
    shift
    echo "sparkplug = { host = \"127.0.0.1\"; port = $BROKER_PORT; group_id = \"$SPB_GROUP\"; edge_node = \"$SPB_NODE\"; qos = $qos; keepalive_s = 5; $* };"
}

# spb_sensors IVAL_MS: two devices on two buses (one muted unit delays
# nothing on the other): line-a-1 with a sensor of each Sparkplug datatype
# SPEC names (float32 and float64 -> Double, a scaled int16, a coil ->
# Boolean, int64 -> Int64, uint64 -> UInt64), line-b-2 with two (FB-PH out
# of its range 0..5 on purpose: out_of_range has Quality 192 too).
spb_sensors() {
    local iv=$1
    conf_tcp_bus line-a
    conf_tcp_bus line-b
    conf_sensor "id = \"FA-F32\"; kind = \"flow\"; bus = \"line-a\"; unit_id = 1; table = \"input\"; address = 20; type = \"float32\"; interval_ms = $iv;"
    conf_sensor "id = \"FA-F64\"; kind = \"pressure\"; bus = \"line-a\"; unit_id = 1; table = \"holding\"; address = 128; type = \"float64\"; interval_ms = $iv;"
    conf_sensor "id = \"FA-I16\"; kind = \"flow\"; bus = \"line-a\"; unit_id = 1; table = \"holding\"; address = 0; type = \"int16\"; scale = 0.01; interval_ms = $iv;"
    conf_sensor "id = \"FA-RUN\"; kind = \"generic\"; unit = \"on\"; bus = \"line-a\"; unit_id = 1; table = \"coil\"; address = 0; interval_ms = $iv;"
    conf_sensor "id = \"FA-I64\"; kind = \"generic\"; unit = \"l\"; bus = \"line-a\"; unit_id = 1; table = \"holding\"; address = 516; type = \"int64\"; interval_ms = $iv;"
    conf_sensor "id = \"FA-U64\"; kind = \"generic\"; unit = \"l\"; bus = \"line-a\"; unit_id = 1; table = \"holding\"; address = 500; type = \"uint64\"; interval_ms = $iv;"
    conf_sensor "id = \"FB-F32\"; kind = \"flow\"; bus = \"line-b\"; unit_id = 2; table = \"holding\"; address = 20; type = \"float32\"; interval_ms = $iv;"
    conf_sensor "id = \"FB-PH\"; kind = \"ph\"; bus = \"line-b\"; unit_id = 2; table = \"holding\"; address = 300; type = \"int16\"; scale = 0.01; range = [0.0, 5.0]; interval_ms = $iv;"
}

# spb_setup QOS IVAL_MS [SPARKPLUG SETTINGS...]: simulator, broker,
# subscriber, config; the daemon is left to the case.
spb_setup() {
    local qos=$1 iv=$2
    shift 2
    need_spb
    start_sim --port 0 --units 2
    spb_broker
    spb_sub_start
    spb_sensors "$iv"
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(spb_conf "$qos" "$@")"
    SPB_VERSION=$("$BUILD/tbdaqd" --version | sed -n 's/^tbdaqd //p')
}

# spb_count TYPE [DEVICE]: messages of TYPE (of DEVICE) received so far.
spb_count() {
    local pat="\"type\": \"$1\""
    if [ -n "${2:-}" ]; then
        grep -F "\"device\": \"$2\"" "$T/spb.jsonl" | grep -c -F "$pat"
    else
        grep -c -F "$pat" "$T/spb.jsonl"
    fi
}

# spb_check COMMAND [OPTIONS...]: tools/spb_check.py on what was received;
# its report goes to the case log and to $T/check.out.
spb_check() {
    "$SPB_PY" "$SPB_TOOLS/spb_check.py" --msgs "$T/spb.jsonl" --db "$T/t.db" \
        --group "$SPB_GROUP" --node "$SPB_NODE" --version "$SPB_VERSION" "$@" \
        >"$T/check.out" 2>&1
    local rc=$?
    sed 's/^/  /' "$T/check.out"
    return $rc
}

# spb_covered TIMEOUT_S [DATA OPTIONS...]: waits until every reading in
# the database now (seq <= its max) has been received in a DDATA, checking
# once a second; fails with the checker's report.
spb_covered() {
    local t=$1 upto end
    shift
    upto=$(sql "SELECT ifnull(max(seq), 0) FROM readings;")
    end=$(($(now_us) + t * 1000000))
    while :; do
        if "$SPB_PY" "$SPB_TOOLS/spb_check.py" --msgs "$T/spb.jsonl" --db "$T/t.db" \
            --group "$SPB_GROUP" --node "$SPB_NODE" --version "$SPB_VERSION" \
            data --cover-upto "$upto" "$@" >"$T/check.out" 2>&1; then
            sed 's/^/  /' "$T/check.out"
            return 0
        fi
        (($(now_us) < end)) || break
        sleep 1
    done
    fail "not every reading up to seq $upto received within $t s: $(tr '\n' ';' <"$T/check.out")"
}

# spb_wait_db_us US: waits until the database holds readings taken after US
# (microseconds since the epoch).
spb_wait_db_us() {
    wait_or_fail "[ \$(sql 'SELECT ifnull(max(ts_us), 0) FROM readings;') -ge $1 ]" 20 \
        "the daemon recorded no readings after $1"
}

# Births: NBIRTH (seq 0, bdSeq UInt64, Node Control/Rebirth false, Node
# Info/Version the daemon's), a DBIRTH per device with every sensor (names,
# unique aliases, datatypes by type, engUnit and kind), then DDATA as SPEC
# says; the default client id with a clean session; DDATA at QoS 1.
case_spb_births() {
    spb_setup 1 100
    start_daemon
    wait_or_fail '[ $(spb_count DBIRTH) -ge 2 ] && [ $(spb_count DDATA) -ge 10 ]' 20 \
        "no NBIRTH, two DBIRTHs and 10 DDATA"
    grep -q "New client connected from 127.0.0.1:[0-9]* as $SPB_CLIENT (p[0-9], c1," "$T/broker.log" ||
        fail "no client $SPB_CLIENT with a clean session (c1) in the broker's log: $(grep 'New client' "$T/broker.log" | tr '\n' ' ')"
    spb_check births --epochs 1 || fail "births: $(tr '\n' ';' <"$T/check.out")"
    spb_covered 20
    # qos 1: every DDATA was published at QoS 1 (the subscriber's QoS 1
    # subscription delivers it at the QoS it was published with).
    local q0
    q0=$(grep -F '"type": "DDATA"' "$T/spb.jsonl" | grep -c -F '"qos": 0')
    [ "$q0" = 0 ] || fail "$q0 DDATA published at QoS 0 with sparkplug.qos = 1"
    q0=$(grep -E '"type": "[ND]BIRTH"' "$T/spb.jsonl" | grep -c -v -F '"qos": 0')
    [ "$q0" = 0 ] || fail "$q0 births not at QoS 0 (the specification's rule)"
    # tbdaq status names the edge node, running and stopped.
    wait_or_fail "cli_status_try && grep -q '^  Sparkplug: connected; acknowledged up to seq [1-9]' '$T/o'" 10 \
        "tbdaq status has no Sparkplug line: $(cat "$T/o")"
    stop_daemon
    cli_status
    grep -q '^  Sparkplug: acknowledged up to seq [1-9][0-9]* of [1-9]' "$T/o" ||
        fail "tbdaq status of a stopped daemon has no Sparkplug line: $(cat "$T/o")"
}
EXTRA_CASES+=(spb_births)

# Data: DDATA by alias with ms timestamps, Quality, tbdaq_quality and seq;
# every reading of the database received with its seq and value; message
# seq 0..255 wrapping without a gap over more than 256 messages.
case_spb_data() {
    spb_setup 1 50
    start_daemon
    wait_or_fail '[ $(spb_count DDATA) -ge 300 ]' 40 "fewer than 300 DDATA"
    spb_covered 15 --min-wraps 1
    stop_daemon
}
EXTRA_CASES+=(spb_data)

# DDATA per device and poll: three buses polled side by side, each device
# read with four requests per poll (an input register, a coil, and two
# holding blocks too far apart for one request), so the devices' readings
# interleave in seq order; every live DDATA must hold exactly one reading
# of each sensor of its device (a DDATA per run of consecutive rows of one
# device, the old rule, cut most polls into several). The interval is
# four commit intervals: a commit holds whole polls.
case_spb_polls() {
    local u
    need_spb
    start_sim --port 0 --units 3
    spb_broker
    spb_sub_start
    for u in 1 2 3; do
        conf_tcp_bus "line-$u"
        conf_sensor "id = \"P$u-F32\"; kind = \"flow\"; bus = \"line-$u\"; unit_id = $u; table = \"input\"; address = 20; type = \"float32\"; interval_ms = 1000;"
        conf_sensor "id = \"P$u-RUN\"; kind = \"generic\"; unit = \"on\"; bus = \"line-$u\"; unit_id = $u; table = \"coil\"; address = 0; interval_ms = 1000;"
        conf_sensor "id = \"P$u-I16\"; kind = \"flow\"; bus = \"line-$u\"; unit_id = $u; table = \"holding\"; address = 0; type = \"int16\"; scale = 0.01; interval_ms = 1000;"
        conf_sensor "id = \"P$u-F64\"; kind = \"pressure\"; bus = \"line-$u\"; unit_id = $u; table = \"holding\"; address = 128; type = \"float64\"; interval_ms = 1000;"
    done
    conf_write "$T/t.conf" "commit_interval_ms = 250;" "$(spb_conf 1)"
    SPB_VERSION=$("$BUILD/tbdaqd" --version | sed -n 's/^tbdaqd //p')
    "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/plan" 2>&1 || fail "config: $(head -3 "$T/plan")"
    grep -q '^requests (12 for' "$T/plan" ||
        fail "the plan is not four requests per device: $(grep '^requests' "$T/plan")"
    start_daemon
    wait_or_fail '[ $(spb_count DDATA) -ge 18 ]' 20 "fewer than 18 DDATA"
    spb_covered 15 --one-poll
    stop_daemon
}
EXTRA_CASES+=(spb_polls)

# bdSeq: the will (NDEATH) after kill -9 carries the bdSeq of the NBIRTH
# before it, the next NBIRTH one more (mod 256); a clean stop publishes
# NDEATH (the specification's intentional disconnect) and the next start
# goes on counting.
case_spb_bdseq() {
    local got b want
    spb_setup 1 100
    start_daemon
    wait_or_fail '[ $(spb_count NBIRTH) -ge 1 ] && [ $(spb_count DDATA) -ge 3 ]' 20 \
        "no NBIRTH and DDATA"
    kill -KILL "$PID_daemon"
    wait "$PID_daemon" 2>/dev/null
    wait_or_fail '[ $(spb_count NDEATH) -ge 1 ]' 20 "no NDEATH (the will) after kill -9"
    SPAWN_APPEND=1 start_daemon
    wait_or_fail '[ $(spb_count NBIRTH) -ge 2 ] && [ $(spb_count DDATA) -ge 6 ]' 20 \
        "no NBIRTH after the restart"
    stop_daemon
    wait_or_fail '[ $(spb_count NDEATH) -ge 2 ]' 10 "no NDEATH at a clean stop"
    SPAWN_APPEND=1 start_daemon
    wait_or_fail '[ $(spb_count NBIRTH) -ge 3 ]' 20 "no NBIRTH after the clean restart"
    stop_daemon
    wait_or_fail '[ $(spb_count NDEATH) -ge 3 ]' 10 "no NDEATH at the second clean stop"
    spb_check bdseq || fail "bdseq: $(tr '\n' ';' <"$T/check.out")"
    # A node may end without an MQTT DISCONNECT after its NDEATH, and the
    # broker then sends the will too: one NDEATH twice is one.
    got=$(grep -E '^(NBIRTH|NDEATH) ' "$T/check.out" | uniq | tr '\n' ' ')
    b=$(sed -n 's/^NBIRTH \([0-9]*\)$/\1/p' "$T/check.out" | head -1)
    [ -n "$b" ] || fail "the first message is not an NBIRTH with a bdSeq: $got"
    want="NBIRTH $b NDEATH $b NBIRTH $(((b + 1) % 256)) NDEATH $(((b + 1) % 256)) NBIRTH $(((b + 2) % 256)) NDEATH $(((b + 2) % 256)) "
    [ "$got" = "$want" ] || fail "bdSeq: got '$got', want '$want'"
    echo "bdSeq: $got"
}
EXTRA_CASES+=(spb_bdseq)

# Rebirth: NCMD Node Control/Rebirth = true (encoded with the suite's
# schema) makes NBIRTH (seq 0, the same bdSeq, no NDEATH) and every DBIRTH
# again; nothing recorded is lost across it.
case_spb_rebirth() {
    local got b
    spb_setup 1 100
    start_daemon
    wait_or_fail '[ $(spb_count DBIRTH) -ge 2 ] && [ $(spb_count DDATA) -ge 10 ]' 20 \
        "no births and DDATA"
    "$SPB_PY" "$SPB_TOOLS/spb_sub.py" --pb "$T/pb" --port "$BROKER_PORT" rebirth \
        --group "$SPB_GROUP" --node "$SPB_NODE" || fail "cannot publish the NCMD"
    wait_or_fail '[ $(spb_count NBIRTH) -ge 2 ] && [ $(spb_count DBIRTH) -ge 4 ]' 20 \
        "no NBIRTH and DBIRTHs after the rebirth request"
    local n
    n=$(spb_count DDATA)
    wait_or_fail "[ \$(spb_count DDATA) -ge $((n + 10)) ]" 20 "no DDATA after the rebirth"
    spb_check births --epochs 2 || fail "births: $(tr '\n' ';' <"$T/check.out")"
    spb_check bdseq || fail "bdseq: $(tr '\n' ';' <"$T/check.out")"
    got=$(grep -E '^(NBIRTH|NDEATH) ' "$T/check.out" | tr '\n' ' ')
    b=$(sed -n 's/^NBIRTH \([0-9]*\)$/\1/p' "$T/check.out" | head -1)
    [ "$got" = "NBIRTH $b NBIRTH $b " ] ||
        fail "after a rebirth request want the same bdSeq and no NDEATH: got '$got'"
    spb_covered 20
    stop_daemon
}
EXTRA_CASES+=(spb_rebirth)

# spb_outage QOS: the broker stopped for 4 s of readings and started again
# on its port; the node connects again (bdSeq + 1), and the readings
# recorded meanwhile arrive after the births as is_historical, in seq
# order; the first live reading is not held back behind them; the union
# of the seqs received is the database.
spb_outage() {
    local qos=$1 t_stop n got b
    shift
    spb_setup "$qos" 100
    start_daemon
    wait_or_fail '[ $(spb_count DDATA) -ge 20 ]' 20 "no DDATA before the outage"
    t_stop=$(now_us)
    stop_broker
    spb_wait_db_us $((t_stop + 4000000))
    restart_broker
    wait_or_fail '[ $(spb_count NBIRTH) -ge 2 ]' 20 "no NBIRTH after the broker came back"
    keep_spbsub
    # live readings of the new session too, before judging it
    spb_wait_db_us $(($(now_us) + 2000000))
    spb_covered 30 "$@"
    spb_check history --epoch 1 ||
        fail "historical replay: $(tr '\n' ';' <"$T/check.out")"
    spb_check bdseq || fail "bdseq: $(tr '\n' ';' <"$T/check.out")"
    got=$(grep '^NBIRTH ' "$T/check.out" | tr '\n' ' ')
    b=$(sed -n 's/^NBIRTH \([0-9]*\)$/\1/p' "$T/check.out" | head -1)
    [ "$got" = "NBIRTH $b NBIRTH $(((b + 1) % 256)) " ] ||
        fail "bdSeq across the reconnect: got '$got'"
    stop_daemon
}

# keep_spbsub: the subscriber reconnects by itself; should it have exited,
# fail (its persistent session would hide nothing, but its output would
# stop).
keep_spbsub() {
    pid_running "$PID_spbsub" ||
        fail "the test's Sparkplug subscriber exited: $(tail -2 "$T/spbsub.err" | tr '\n' ' ')"
}

case_spb_history() {
    spb_outage 1
}
EXTRA_CASES+=(spb_history)

# qos 0: nothing lost across a broker restart: what the broker may not have
# got is published again after the reconnect, as historical (the same seq
# property tells a repeat from a new reading).
case_spb_qos0() {
    spb_outage 0 --repeats-historical
}
EXTRA_CASES+=(spb_qos0)

# DDEATH/DBIRTH: a muted unit gets DDEATH (the other device none, and it
# keeps publishing); unmuted, DBIRTH, then the readings taken meanwhile
# (comm_error, null) as historical DDATA in seq order.
case_spb_ddeath() {
    local t_mute n
    spb_setup 1 100
    start_daemon
    wait_or_fail '[ $(spb_count DBIRTH) -ge 2 ] && [ $(spb_count DDATA) -ge 10 ]' 20 \
        "no births and DDATA"
    t_mute=$(now_us)
    sim_ctl "mute 2"
    wait_or_fail '[ $(spb_count DDEATH line-b-2) -ge 1 ]' 20 "no DDEATH of line-b-2 (muted)"
    n=$(spb_count DDATA line-a-1)
    TAGS="FB-F32 FB-PH" wait_or_fail "min_readings 10 comm_error" 20 \
        "unit 2 muted, but no comm_error readings"
    wait_or_fail "[ \$(spb_count DDATA line-a-1) -ge $((n + 5)) ]" 20 \
        "line-a-1 stopped publishing while unit 2 was muted"
    sim_ctl "normal 2"
    wait_or_fail '[ $(spb_count DBIRTH line-b-2) -ge 2 ]' 20 "no DBIRTH of line-b-2 after unmute"
    n=$(spb_count DDATA line-b-2)
    wait_or_fail "[ \$(spb_count DDATA line-b-2) -ge $((n + 5)) ]" 20 \
        "no DDATA of line-b-2 after its DBIRTH"
    spb_covered 20
    spb_check ddeath --dead line-b-2 --alive line-a-1 ||
        fail "DDEATH/DBIRTH: $(tr '\n' ';' <"$T/check.out")"
    stop_daemon
}
EXTRA_CASES+=(spb_ddeath)

# The primary host gate: no NBIRTH before spBv1.0/STATE/scada says online;
# a stale offline STATE (older timestamp) changes nothing; a current one
# makes NDEATH and a disconnect; online again: births, then the readings
# recorded meanwhile as historical DDATA, and the union is the database.
case_spb_gate() {
    local t1 t2 n nd
    spb_setup 1 100 'primary_host = "scada";'
    start_daemon
    wait_or_fail "grep -q '$SPB_CLIENT [012] spBv1.0/STATE/scada' '$T/broker.log'" 20 \
        "the daemon did not subscribe to spBv1.0/STATE/scada"
    spb_wait_db_us $(($(now_us) + 1500000))
    n=$(grep -c -F "\"node\": \"$SPB_NODE\"" "$T/spb.jsonl")
    [ "$n" = 0 ] || fail "$n messages from the node before the primary host was online"
    t1=$(($(now_us) / 1000))
    spb_state true "$t1"
    wait_or_fail '[ $(spb_count NBIRTH) -ge 1 ] && [ $(spb_count DDATA) -ge 10 ]' 20 \
        "no births and DDATA after the primary host came online"
    spb_state false $((t1 - 1000))
    n=$(spb_count DDATA)
    wait_or_fail "[ \$(spb_count DDATA) -ge $((n + 20)) ]" 20 \
        "DDATA stopped after a stale offline STATE"
    [ "$(spb_count NDEATH)" = 0 ] || fail "NDEATH after a stale offline STATE (timestamp older than the online one)"
    nd=$(spb_gone)
    spb_state false "$t1"
    wait_or_fail '[ $(spb_count NDEATH) -ge 1 ]' 20 "no NDEATH after the offline STATE"
    wait_or_fail "[ \$(spb_gone) -gt $nd ]" 10 \
        "the daemon did not disconnect after the offline STATE"
    spb_wait_db_us $(($(now_us) + 3000000))
    t2=$(($(now_us) / 1000))
    spb_state true "$t2"
    wait_or_fail '[ $(spb_count NBIRTH) -ge 2 ]' 20 "no NBIRTH after the primary host came back"
    spb_wait_db_us $(($(now_us) + 2000000))
    spb_covered 30
    spb_check gate --host scada || fail "primary host gate: $(tr '\n' ';' <"$T/check.out")"
    # Recorded before the host was first online, and while it was offline:
    # historical after the births (SPEC: "or while the primary host was
    # offline").
    spb_check history --epoch 0 ||
        fail "readings before the host was first online: $(tr '\n' ';' <"$T/check.out")"
    spb_check history --epoch 1 ||
        fail "readings while the host was offline: $(tr '\n' ';' <"$T/check.out")"
    spb_check births --epochs 2 || fail "births: $(tr '\n' ';' <"$T/check.out")"
    stop_daemon
}
EXTRA_CASES+=(spb_gate)

# Independence: the JSON publisher's broker is down (nothing listens on its
# port) while the Sparkplug edge node publishes as in spb_births, every
# reading received (SPEC: "a second, independent publisher").
case_spb_independent() {
    local port
    spb_setup 1 100
    port=$((BROKER_PORT + 1))
    while port_open "$port"; do port=$((port + 1)); done
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(spb_conf 1)" \
        "mqtt = { host = \"127.0.0.1\"; port = $port; qos = 1; keepalive_s = 5; };"
    start_daemon
    wait_or_fail '[ $(spb_count DBIRTH) -ge 2 ] && [ $(spb_count DDATA) -ge 20 ]' 20 \
        "no births and DDATA while the JSON publisher's broker is down"
    spb_covered 20
    grep -q "127.0.0.1:$port" "$T/daemon.err" ||
        fail "the daemon never tried the JSON publisher's broker 127.0.0.1:$port"
    stop_daemon
}
EXTRA_CASES+=(spb_independent)

# spb_gone: how often the broker saw the daemon's Sparkplug client leave
# (a DISCONNECT, or the connection closed).
spb_gone() {
    grep -c -E "Client $SPB_CLIENT (disconnected|closed its connection)" "$T/broker.log"
}

# spb_state ONLINE TIMESTAMP_MS: the primary host "scada"'s STATE, retained.
spb_state() {
    "$SPB_PY" "$SPB_TOOLS/spb_sub.py" --pb "$T/pb" --port "$BROKER_PORT" state \
        --host-id scada --online "$1" --timestamp "$2" ||
        fail "cannot publish STATE online=$1"
}
