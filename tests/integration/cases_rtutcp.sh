# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# The rtu-over-tcp bus (issue 14) end to end: the daemon reads registers of
# several units over one connection to tests/rtutcp_server.py, an RTU over
# TCP server written apart from tbdaq (Python, its own CRC), and records
# its exact values; a wrong CRC, silence and a hang-up give comm_error
# readings that name them, and good readings come back after each.

# start_gw: starts the server with its commands on the FIFO $T/gwctl
# (opened read-write on both sides, so neither waits for the other) and
# sets GW_PORT.
start_gw() {
    command -v python3 >/dev/null || fail "no python3 (make deps installs it)"
    mkfifo "$T/gwctl" || fail "cannot make $T/gwctl"
    exec 7<>"$T/gwctl"
    spawn gw python3 "$HERE/../rtutcp_server.py" --units 4 --control "$T/gwctl"
    wait_or_fail "grep -q '^port ' '$T/gw.out' || ! pid_running $PID_gw" 10 \
        "the RTU over TCP server did not report its port"
    pid_running "$PID_gw" || fail "the RTU over TCP server exited at start"
    GW_PORT=$(sed -n 's/^port \([0-9][0-9]*\)$/\1/p' "$T/gw.out")
    [ -n "$GW_PORT" ] || fail "cannot parse the server's port"
    GW_OKS=0
}

# gw_cmd LINE: one command to the server; waits for its "ok".
gw_cmd() {
    printf '%s\n' "$1" >&7
    GW_OKS=$((GW_OKS + 1))
    wait_or_fail "[ \$(grep -c '^ok$' '$T/gw.out') -ge $GW_OKS ]" 5 \
        "the server did not take '$1'"
}

# Readings of TAG with an error containing TEXT, since seq FROM.
errors_since() {
    sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE s.tag = '$1' AND r.seq > $2 AND r.quality = 'comm_error'
         AND r.error LIKE '%$3%';"
}

good_since() {
    sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE s.tag = '$1' AND r.seq > $2 AND r.quality = 'good';"
}

last_seq() {
    sql "SELECT ifnull(max(seq), 0) FROM readings;"
}

case_rtutcp_values() {
    local n seq
    start_gw
    conf_raw_bus "name = \"gw\"; type = \"rtu-over-tcp\"; host = \"127.0.0.1\"; port = $GW_PORT; timeout_ms = 200; retries = 0;"
    # The server's map: holding A of unit U is U * 0x1000 + A, input A is
    # 0x8000 + U * 0x100 + A.
    conf_sensor 'id = "U1H5"; kind = "generic"; unit = "x"; bus = "gw"; unit_id = 1; table = "holding"; address = 5; type = "uint16"; interval_ms = 100;'
    conf_sensor 'id = "U2I3"; kind = "generic"; unit = "x"; bus = "gw"; unit_id = 2; table = "input"; address = 3; type = "uint16"; interval_ms = 100;'
    conf_sensor 'id = "U3H10"; kind = "generic"; unit = "x"; bus = "gw"; unit_id = 3; table = "holding"; address = 10; type = "int32"; byte_order = "ABCD"; interval_ms = 100;'
    printf '%s\n' U1H5 U2I3 U3H10 >"$T/expect"
    conf_write "$T/t.conf"
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/check.out" 2>&1 ||
        fail "tbdaqd -t: $(cat "$T/check.out")"
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"

    n=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
             WHERE r.quality = 'good' AND NOT (
               (s.tag = 'U1H5' AND r.value = 4101 AND r.raw = '1005') OR
               (s.tag = 'U2I3' AND r.value = 33283 AND r.raw = '8203') OR
               (s.tag = 'U3H10' AND r.value = 805974027 AND r.raw = '300a 300b'));")
    [ "$n" = 0 ] || fail "$n good readings differ from the server's map: $(dump_readings | head -3)"
    n=$(sql "SELECT count(*) FROM readings WHERE quality <> 'good';")
    [ "$n" = 0 ] || fail "$n readings are not good before any fault"

    seq=$(last_seq)
    gw_cmd "crc 3"
    wait_or_fail "[ \$((\$(errors_since U1H5 $seq 'Invalid CRC') + \$(errors_since U2I3 $seq 'Invalid CRC') + \$(errors_since U3H10 $seq 'Invalid CRC'))) -ge 3 ]" 10 \
        "no comm_error readings naming the wrong CRC"
    wait_or_fail "[ \$(good_since U1H5 $seq) -ge 3 ]" 10 "no good readings after the wrong CRCs"

    seq=$(last_seq)
    gw_cmd "mute 6"
    wait_or_fail "[ \$(errors_since U2I3 $seq 'timed out') -ge 1 ]" 10 \
        "no comm_error reading naming the timeout"
    wait_or_fail "[ \$(good_since U2I3 $seq) -ge 3 ]" 10 "no good readings after the silence"

    seq=$(last_seq)
    gw_cmd "close"
    wait_or_fail "[ \$(good_since U3H10 $seq) -ge 5 ] && [ \$(good_since U1H5 $seq) -ge 5 ]" 10 \
        "no good readings after the server hung up"
    n=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
             WHERE r.seq > $seq AND r.quality = 'good' AND s.tag = 'U3H10'
             AND r.raw <> '300a 300b';")
    [ "$n" = 0 ] || fail "$n readings after the hang-up have other words"
    stop_daemon
}
EXTRA_CASES+=(rtutcp_values)
