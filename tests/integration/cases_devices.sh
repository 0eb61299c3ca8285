# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Instrument identity (issue 14, SPEC Configuration `devices`) end to end,
# against tbdaq-sim's identity registers (800..807 serial, 810..813
# firmware) over TCP, RTU on a pty pair and RTU over TCP: the first start
# records one `device` event per device with the simulator's identity; a
# restart records none (the identity read again is unchanged); a swapped
# identity (`identity` on the control FIFO) is recorded once the bus
# reconnects (TCP: `drop`) or the unit answers again after failing (RTU:
# `mute`, `normal`); a reload that changes a device's model records it
# without restarting the bus; the export's manifest names each sensor's
# device and lists the identities in force and the swap; `tbdaq status`
# shows them.

# The `device` events' details, oldest first.
device_details() {
    sql "SELECT detail FROM events WHERE kind = 'device' ORDER BY seq;"
}

device_count() {
    sql "SELECT count(*) FROM events WHERE kind = 'device';"
}

# want_details FILE: the device events are exactly FILE's lines.
want_details() {
    device_details >"$T/details" || fail "cannot read the device events"
    diff -u "$1" "$T/details" >"$T/details.diff" ||
        fail "device events differ from $1: $(cat "$T/details.diff")"
}

# wait_read BUS UNIT...: the daemon (started afresh) has read the identity
# of each unit and found it unchanged.
wait_read() {
    local bus=$1 u
    shift
    for u in "$@"; do
        wait_or_fail "grep -q \"bus '$bus' unit $u: identity unchanged\" '$T/daemon.err'" \
            15 "the daemon did not read unit $u's identity again"
    done
}

restart_daemon() {
    stop_daemon
    DAEMON_STOPPED=
    start_daemon
}

# iso US: microseconds since the epoch as ISO 8601 UTC.
iso() {
    printf '%s.%06dZ' "$(date -u -d "@$(($1 / 1000000))" +%Y-%m-%dT%H:%M:%S)" \
        $(($1 % 1000000))
}

# check_manifest FILE: the manifest's devices and events (python3 reads
# the JSON as any reader would): each sensor's device is the newest
# identity, and the device events are the first two and the swap.
check_manifest() {
    python3 - "$1" <<'EOF' >"$T/manifest.check" 2>&1 || fail "manifest $1: $(cat "$T/manifest.check")"
import json, sys

m = json.load(open(sys.argv[1]))
dev = {s["id"]: s["device"] for s in m["sensors"]}
want = {
    "D1": {"model": "Sim flow meter", "serial": "NEWSERIAL", "firmware": "2.0.0"},
    "D2": {"model": None, "serial": "TBSIM-002", "firmware": None},
}
for tag, d in want.items():
    if dev.get(tag) != d:
        sys.exit("sensor %s: device %r, want %r" % (tag, dev.get(tag), d))
ev = [json.loads(e["detail"]) for e in m["events"] if e["kind"] == "device"]
serials = [(e["unit"], e["serial"]) for e in ev]
want = [(1, "TBSIM-001"), (2, "TBSIM-002"), (1, "NEWSERIAL")]
if sorted(serials[:2]) != sorted(want[:2]) or serials[2:] != want[2:]:
    sys.exit("device events %r, want %r (the first two in any order)" % (serials, want))
print("devices and events as expected")
EOF
}

case_devices_tcp() {
    local t_mid t_end
    start_sim --port 0 --units 2
    conf_tcp_bus plant
    conf_sensor 'id = "D1"; kind = "flow"; bus = "plant"; unit_id = 1; address = 0; type = "int16"; scale = 0.01; interval_ms = 100;'
    conf_sensor 'id = "D2"; kind = "flow"; bus = "plant"; unit_id = 2; address = 0; type = "int16"; scale = 0.01; interval_ms = 100;'
    printf '%s\n' D1 D2 >"$T/expect"
    conf_write "$T/t.conf" 'devices = (
  { bus = "plant"; unit_id = 1; model = "Sim flow meter";
    serial = { address = 800; count = 8; };
    firmware = { table = "holding"; address = 810; count = 4; }; },
  { bus = "plant"; unit_id = 2; serial = { table = "input"; address = 800; count = 8; }; }
);'
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/check.out" 2>&1 ||
        fail "tbdaqd -t: $(cat "$T/check.out")"
    grep -q 'warning' "$T/check.out" && fail "tbdaqd -t warns: $(cat "$T/check.out")"

    # first start: one event per device, the simulator's identity
    start_daemon
    wait_or_fail "[ \$(device_count) -ge 2 ]" 15 "no device events at the first start"
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"
    cat >"$T/want" <<'EOF'
{"bus":"plant","unit":1,"model":"Sim flow meter","serial":"TBSIM-001","firmware":"1.4.2"}
{"bus":"plant","unit":2,"model":null,"serial":"TBSIM-002","firmware":null}
EOF
    want_details "$T/want"

    # a restart reads them again and records nothing
    restart_daemon
    wait_read plant 1 2
    want_details "$T/want"
    t_mid=$(now_us)

    # a swapped instrument: recorded once the bus has reconnected
    sim_ctl "identity 1 NEWSERIAL 2.0.0"
    sim_ctl "drop 1500"
    wait_or_fail "grep -q \"bus 'plant' is up again\" '$T/daemon.err'" 15 \
        "the bus did not come back after the drop"
    wait_or_fail "[ \$(device_count) -ge 3 ]" 15 "the swapped identity was not recorded"
    wait_read plant 2
    echo '{"bus":"plant","unit":1,"model":"Sim flow meter","serial":"NEWSERIAL","firmware":"2.0.0"}' >>"$T/want"
    want_details "$T/want"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'D1' AND r.quality = 'good' AND r.ts_us > $(now_us)\") -ge 3 ]" 10 \
        "no good readings after the swap"
    stop_daemon
    t_end=$(now_us)

    # the manifest: each sensor's device at the end of its span, the
    # identities in force when the window opens, then the swap
    timeout 20 "$BUILD/tbdaq" -c "$T/t.conf" export --from "$(iso $((t_mid - 60000000)))" \
        --to "$(iso "$t_end")" -o "$T/all.csv" >"$T/export.out" 2>&1 ||
        fail "tbdaq export: $(cat "$T/export.out")"
    check_manifest "$T/all.csv.manifest.json"
    timeout 20 "$BUILD/tbdaq" -c "$T/t.conf" export --from "$(iso "$t_mid")" \
        --to "$(iso "$t_end")" -o "$T/swap.csv" >"$T/export.out" 2>&1 ||
        fail "tbdaq export: $(cat "$T/export.out")"
    check_manifest "$T/swap.csv.manifest.json"
    python3 - "$T/swap.csv.manifest.json" <<'EOF' >"$T/manifest.check" 2>&1 ||
import json, sys
m = json.load(open(sys.argv[1]))
frm = m["window"]["from"]
before = [e for e in m["events"] if e["kind"] == "device" and e["ts"] < frm]
if len(before) != 2:
    sys.exit("%d device events in force before the window, want 2" % len(before))
EOF
        fail "manifest of the swap's window: $(cat "$T/manifest.check")"

    # tbdaq status: the newest identity of each unit
    timeout 10 "$BUILD/tbdaq" -c "$T/t.conf" status >"$T/status.out" 2>&1 ||
        fail "tbdaq status: $(cat "$T/status.out")"
    grep -Eq '^BUS +UNIT +MODEL +SERIAL +FIRMWARE +SINCE$' "$T/status.out" ||
        fail "tbdaq status shows no devices table: $(cat "$T/status.out")"
    grep -Eq '^plant +1 +Sim flow meter +NEWSERIAL +2\.0\.0 +20[0-9-]+T[0-9:.]+Z$' "$T/status.out" ||
        fail "tbdaq status does not show unit 1's new identity: $(cat "$T/status.out")"
    grep -Eq '^plant +2 +- +TBSIM-002 +- +20' "$T/status.out" ||
        fail "tbdaq status does not show unit 2's identity: $(cat "$T/status.out")"
}

case_devices_rtu() {
    local seq
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 2
    conf_rtu_bus rs485 300
    conf_sensor 'id = "R1"; kind = "flow"; bus = "rs485"; unit_id = 1; address = 0; type = "int16"; scale = 0.01; interval_ms = 200;'
    conf_sensor 'id = "R2"; kind = "flow"; bus = "rs485"; unit_id = 2; address = 0; type = "int16"; scale = 0.01; interval_ms = 200;'
    printf '%s\n' R1 R2 >"$T/expect"
    conf_write "$T/t.conf" 'devices = ({ bus = "rs485"; unit_id = 2; model = "RTU analyser";
    serial = { address = 800; count = 8; }; firmware = { address = 810; count = 4; }; });'

    start_daemon
    wait_or_fail "[ \$(device_count) -ge 1 ]" 15 "no device event at the first start"
    wait_or_fail "min_readings 5 good" 15 "fewer than 5 good readings per sensor"
    echo '{"bus":"rs485","unit":2,"model":"RTU analyser","serial":"TBSIM-002","firmware":"1.4.2"}' >"$T/want"
    want_details "$T/want"

    restart_daemon
    wait_read rs485 2
    want_details "$T/want"

    # swapped while the unit is silent: read when it answers again
    sim_ctl "mute 2"
    sim_ctl "identity 2 RTUSWAP 3.1.0"
    seq=$(sql "SELECT ifnull(max(seq), 0) FROM readings;")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'R2' AND r.seq > $seq AND r.quality = 'comm_error'\") -ge 2 ]" 10 \
        "unit 2 did not fail while muted"
    [ "$(device_count)" = 1 ] || fail "a device event while the unit was silent"
    sim_ctl "normal 2"
    wait_or_fail "[ \$(device_count) -ge 2 ]" 15 "the swapped identity was not recorded"
    echo '{"bus":"rs485","unit":2,"model":"RTU analyser","serial":"RTUSWAP","firmware":"3.1.0"}' >>"$T/want"
    want_details "$T/want"
    stop_daemon

    timeout 10 "$BUILD/tbdaq" -c "$T/t.conf" status >"$T/status.out" 2>&1 ||
        fail "tbdaq status: $(cat "$T/status.out")"
    grep -Eq '^rs485 +2 +RTU analyser +RTUSWAP +3\.1\.0 +20' "$T/status.out" ||
        fail "tbdaq status does not show the new identity: $(cat "$T/status.out")"
    stop_pid "$PID_socat"
}

case_devices_rtutcp() {
    start_sim_rtutcp --units 3
    conf_raw_bus "name = \"gw\"; type = \"rtu-over-tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 200; retries = 0;"
    conf_sensor 'id = "G3"; kind = "flow"; bus = "gw"; unit_id = 3; address = 0; type = "int16"; scale = 0.01; interval_ms = 100;'
    conf_write "$T/t.conf" 'devices = ({ bus = "gw"; unit_id = 3; serial = { address = 800; count = 8; }; });'

    start_daemon
    wait_or_fail "[ \$(device_count) -ge 1 ]" 15 "no device event at the first start"
    echo '{"bus":"gw","unit":3,"model":null,"serial":"TBSIM-003","firmware":null}' >"$T/want"
    want_details "$T/want"
    restart_daemon
    wait_read gw 3
    want_details "$T/want"
    sim_ctl "identity 3 GWSWAP 1.0"
    sim_ctl "drop 1500"
    wait_or_fail "[ \$(device_count) -ge 2 ]" 15 "the swapped identity was not recorded"
    echo '{"bus":"gw","unit":3,"model":null,"serial":"GWSWAP","firmware":null}' >>"$T/want"
    want_details "$T/want"

    # a reload that names the model keeps the bus polling and records the
    # identity with it at the unit's next answer
    sed -i 's/devices = ({ bus = "gw"; unit_id = 3;/& model = "GW meter";/' "$T/t.conf"
    grep -q 'model = "GW meter"' "$T/t.conf" || fail "cannot edit the config"
    kill -HUP "$PID_daemon"
    wait_or_fail "[ \$(device_count) -ge 3 ]" 15 "the new model was not recorded after a reload"
    grep -q "1 of 1 buses kept polling" "$T/daemon.err" ||
        fail "the reload restarted the bus"
    echo '{"bus":"gw","unit":3,"model":"GW meter","serial":"GWSWAP","firmware":null}' >>"$T/want"
    want_details "$T/want"
    stop_daemon
}
# A request the device refuses (an address it does not have: exception 2)
# beside one it serves, on the same unit: the unit answers, so its
# identity is read once, not again at every request it serves after the
# refused one, and the refusal is logged once.
case_devices_refused() {
    local reads
    start_sim --port 0 --units 1 --log "$T/sim.log"
    conf_tcp_bus plant
    conf_sensor 'id = "OK"; kind = "flow"; bus = "plant"; unit_id = 1; address = 0; type = "int16"; scale = 0.01; interval_ms = 100;'
    conf_sensor 'id = "NO"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 1; address = 2999; type = "int32"; interval_ms = 100;'
    conf_write "$T/t.conf" 'devices = (
  { bus = "plant"; unit_id = 1; serial = { address = 800; count = 8; }; }
);'
    start_daemon
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'OK' AND r.quality = 'good';\") -ge 20 ]" \
        15 "fewer than 20 good readings"
    [ "$(device_count)" = 1 ] || fail "$(device_count) device events, want 1"
    reads=$(awk '$4 == 800' "$T/sim.log" | wc -l)
    [ "$reads" = 1 ] ||
        fail "the identity was read $reads times in 2 s, want once (a refused request made the unit 'answer again')"
    [ "$(grep -c 'unit 1 refuses holding 2999..3000' "$T/daemon.err")" = 1 ] ||
        fail "the refusal is not logged exactly once: $(grep -c refuses "$T/daemon.err")"
    ! grep -q 'answers again' "$T/daemon.err" ||
        fail "the unit 'answers again': $(grep -m1 'answers again' "$T/daemon.err")"
    [ "$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'NO' AND r.quality = 'comm_error';")" -ge 10 ] ||
        fail "the refused sensor's readings are not comm_error"
    stop_daemon
}

EXTRA_CASES+=(devices_tcp devices_rtu devices_rtutcp devices_refused)
