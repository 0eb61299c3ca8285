#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Conditions go to wait_for in single quotes on purpose (it evaluates
# them); PID_x variables are set by spawn through printf -v.
# shellcheck disable=SC2016,SC2034,SC2119,SC2154
#
# Integration tests: drive the built tbdaqd, tbdaq and tbdaq-sim as a user
# would, and check what ends up in the database against the simulator's
# register map (tests/integration/README.md lists what each case asserts).
#
#   tests/integration/run.sh BUILD_DIR [CASE...]
#
# Each case runs in its own subshell and temp dir, under its own deadline;
# prints "PASS name" or "FAIL name: reason" (keeping the temp dir and
# showing the logs), and the run ends with "N passed, N failed".
set -u
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# Cases kept in files of their own (cases_*.sh) define case_NAME functions;
# the newer ones also list their names in EXTRA_CASES.
EXTRA_CASES=()
for f in "$HERE"/cases_*.sh; do
    # shellcheck source=/dev/null
    . "$f"
done

# Seconds a case may take before it is stopped and failed.
DEFAULT_DEADLINE_S=60
# Seconds the whole run may take: a case gets at most what is left, and
# cases that find nothing left fail without running. Bounds a run in which
# everything hangs.
SUITE_BUDGET_S=600
# Log lines shown per file when a case fails.
LOG_TAIL_LINES=30

usage() {
    echo "usage: $0 BUILD_DIR [CASE...]" >&2
    echo "cases: ${CASES[*]}" >&2
    exit 2
}

# ---------------------------------------------------------------------
# Cases. Each is a function case_NAME run with $T set; it ends by
# returning (pass) or through fail().

# A raw Modbus conversation with the simulator: proves the harness (port
# parsing, control FIFO, log) and the register map the other cases rely on.
case_sim_protocol() {
    local r hex v want lines
    start_sim --port 0 --units 2 --log "$T/sim.log"
    r=$(modbus_tcp 1 3 900 2)
    [ "$r" = "00 01 00 00 00 07 01 03 04 cf c7 d4 31" ] ||
        fail "unit 1 holding 900..901: got '$r'"
    r=$(modbus_tcp 2 4 916 1)
    [ "$r" = "00 01 00 00 00 05 02 04 02 00 02" ] ||
        fail "unit 2 input 916 (unit id): got '$r'"
    r=$(modbus_tcp 1 4 906 2)
    [ "$r" = "00 01 00 00 00 07 01 04 04 44 9a 50 00" ] ||
        fail "unit 1 input 906 (float32 1234.5): got '$r'"
    r=$(modbus_tcp 1 3 2999 2)
    [ "$r" = "00 01 00 00 00 03 01 83 02" ] ||
        fail "read across 3000: want exception 2, got '$r'"
    r=$(modbus_tcp 1 3 0 126)
    [ "$r" = "00 01 00 00 00 03 01 83 03" ] ||
        fail "count 126: want exception 3, got '$r'"

    # Flow of unit 1 as int16 AB and BA, against the formula.
    r=$(modbus_tcp 1 3 0 2)
    read -r -a b <<<"$r"
    [ "${#b[@]}" = 13 ] || fail "unit 1 holding 0..1: got '$r'"
    [ "${b[11]}${b[12]}" = "${b[10]}${b[9]}" ] ||
        fail "register 1 is not register 0 byte-swapped: '$r'"
    hex=$((16#${b[9]}${b[10]}))
    v=$(awk -v h="$hex" -v t="$(now_us)" 'BEGIN {
        w = 20 + 1 + 5 * sin(2 * 3.14159265358979 * t / 1e6 / 60)
        d = h / 100 - w; if (d < 0) d = -d
        if (d > 0.02) { printf "%.2f, want %.2f", h / 100, w; exit 1 } }') ||
        fail "flow of unit 1: $v"

    sim_ctl "mute 1"
    wait_or_fail '[ -z "$(modbus_tcp 1 3 900 1)" ]' 5 \
        "unit 1 still answers after 'mute 1'"
    r=$(modbus_tcp 2 3 916 1)
    [ "$r" = "00 01 00 00 00 05 02 03 02 00 02" ] ||
        fail "unit 2 must answer while unit 1 is muted: got '$r'"
    sim_ctl "exception 1 4"
    want="00 01 00 00 00 03 01 83 04"
    wait_or_fail '[ "$(modbus_tcp 1 3 900 1)" = "$want" ]' 5 \
        "no exception 4 from unit 1 after 'exception 1 4'"
    sim_ctl "normal 1"
    want="00 01 00 00 00 05 01 03 02 cf c7"
    wait_or_fail '[ "$(modbus_tcp 1 3 900 1)" = "$want" ]' 5 \
        "unit 1 does not answer normally after 'normal 1'"
    sim_ctl "drop 1500"
    wait_or_fail '[ -z "$(modbus_tcp 2 3 900 1)" ]' 5 \
        "the simulator still answers after 'drop 1500'"
    wait_or_fail '[ -n "$(modbus_tcp 2 3 900 1)" ]' 10 \
        "the simulator did not come back after 'drop 1500'"

    lines=$(awk -v now="$(now_us)" 'NF != 5 || $1 / 1000 < now - 60e6 ||
            $1 / 1000 > now + 1e6 { print "bad line: " $0; exit 1 }
        $2 == 1 && $3 == 3 && $4 == 900 && $5 == 2 { n++ }
        END { if (!n) { print "no line \"<ns> 1 3 900 2\""; exit 1 } }' \
        "$T/sim.log") || fail "sim log: $lines"

    stop_pid "$PID_sim" || fail "the simulator ignored SIGTERM"
    [ "$STOP_RC" = 0 ] || fail "the simulator exited $STOP_RC on SIGTERM"
}

case_version_and_usage() {
    local out rc
    out=$(timeout 10 "$BUILD/tbdaqd" -V 2>&1)
    rc=$?
    [ $rc = 0 ] || fail "tbdaqd -V exited $rc"
    [ -n "$out" ] || fail "tbdaqd -V printed nothing"
    timeout 10 "$BUILD/tbdaqd" --no-such-option >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 2 ] || fail "tbdaqd --no-such-option exited $rc, want 2"
    [ -s "$T/err" ] || fail "tbdaqd --no-such-option said nothing on stderr"
    timeout 10 "$BUILD/tbdaqd" -c >/dev/null 2>&1
    rc=$?
    [ $rc = 2 ] || fail "tbdaqd -c (no file) exited $rc, want 2"
    timeout 10 "$BUILD/tbdaq" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 2 ] || fail "tbdaq without a command exited $rc, want 2"
    [ -s "$T/err" ] || fail "tbdaq without a command said nothing on stderr"
    timeout 10 "$BUILD/tbdaq" no-such-command >/dev/null 2>&1
    rc=$?
    [ $rc = 2 ] || fail "tbdaq no-such-command exited $rc, want 2"
    timeout 10 "$BUILD/tbdaq-sim" --no-such-option >/dev/null 2>&1
    rc=$?
    [ $rc = 2 ] || fail "tbdaq-sim --no-such-option exited $rc, want 2"
}

case_config_check() {
    local rc out line bad dup prog
    SIM_PORT=1502 # never contacted: -t and check only read the config
    conf_tcp_bus plant
    conf_sensor 'id = "FT-20"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 20; type = "float32"; interval_ms = 1000;'
    conf_sensor 'id = "FT-22"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 22; type = "float32"; byte_order = "CDAB"; interval_ms = 1000;'
    conf_sensor 'id = "FT-24"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 24; type = "float32"; byte_order = "BADC"; interval_ms = 1000;'
    conf_sensor 'id = "PT-120"; kind = "pressure"; bus = "plant"; unit_id = 1; table = "input"; address = 120; type = "float32"; interval_ms = 1000;'
    conf_write "$T/t.conf"

    for prog in "tbdaqd -t -c $T/t.conf" "tbdaq -c $T/t.conf check"; do
        # shellcheck disable=SC2086
        timeout 10 "$BUILD"/$prog >"$T/out" 2>"$T/err"
        rc=$?
        [ $rc = 0 ] || fail "$prog on a valid config exited $rc: $(head -3 "$T/err")"
        line=$(grep -E '(^|[^0-9])20\.\.25([^0-9]|$)' "$T/out" |
            grep FT-20 | grep FT-22 | grep FT-24)
        [ -n "$line" ] ||
            fail "$prog: no request 20..25 reading FT-20, FT-22, FT-24 in its plan"
        grep -q plant "$T/out" || fail "$prog: the bus 'plant' is not shown"
        grep -q PT-120 "$T/out" || fail "$prog: sensor PT-120 is not shown"
        [ ! -e "$T/t.db" ] || fail "$prog created the database"
    done

    conf_sensor 'id = "BAD-1"; kind = "flow"; bus = "nope"; unit_id = 1; table = "holding"; address = 30; type = "int16"; interval_ms = 1000;'
    conf_sensor 'id = "FT-20"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 50; type = "int16"; interval_ms = 1000;'
    conf_write "$T/bad.conf"
    bad=$(grep -n '"BAD-1"' "$T/bad.conf" | cut -d: -f1)
    dup=$(grep -n 'address = 50;' "$T/bad.conf" | cut -d: -f1)
    for prog in "tbdaqd -t -c $T/bad.conf" "tbdaq -c $T/bad.conf check" \
        "tbdaqd -c $T/bad.conf"; do
        # shellcheck disable=SC2086
        timeout 10 "$BUILD"/$prog >"$T/out" 2>"$T/err"
        rc=$?
        [ $rc = 1 ] || fail "$prog on an invalid config exited $rc, want 1"
        grep -q "$T/bad.conf:$bad: .*nope" "$T/err" ||
            fail "$prog: no '$T/bad.conf:$bad: ...nope...' on stderr: $(head -3 "$T/err")"
        grep -q "$T/bad.conf:$dup: .*FT-20" "$T/err" ||
            fail "$prog: the duplicate id on line $dup is not reported (every error must be): $(head -3 "$T/err")"
        [ ! -e "$T/t.db" ] || fail "$prog created the database of an invalid config"
    done
}

# Every type and byte order, both tables, two units; values against the
# formula, timing on the grid, raw words, the start/config/stop events.
case_tcp_values() {
    local off out sha ev tol
    start_sim --port 0 --units 2
    # One request per bus and slot, so that each reading's arrival time
    # shows the grid, not its place in a queue of requests on one bus.
    conf_tcp_bus u1h
    conf_tcp_bus u1i
    conf_tcp_bus u2i
    conf_tcp_bus u2t
    conf_tcp_bus u2p
    for off in $SIM_OFFSETS; do
        sim_sensor "F1H-$off" u1h 1 holding flow "$off" 100
        sim_sensor "P1I-$off" u1i 1 input pressure "$off" 100
    done
    for off in 0 3 8 18 22 40; do
        sim_sensor "F2I-$off" u2i 2 input flow "$off" 100
        sim_sensor "T2H-$off" u2t 2 holding turbidity "$off" 100
    done
    for off in 1 14 26 32; do
        sim_sensor "H2H-$off" u2p 2 holding ph "$off" 100
    done
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    latency_start
    start_daemon
    wait_or_fail "min_readings 20" 15 "not every sensor got 20 readings"
    stop_daemon
    tol=$(latency_tol "$TIMING_TOL_US")

    # the time a reading may be stamped after the simulator built its
    # reply widens by the load too
    out=$(dump_readings | DT_S=$(awk -v d="${DT_S:-0.005}" -v t="$tol" \
        -v b="$TIMING_TOL_US" 'BEGIN { print d + (t - b) / 1e6 }') \
        check_formula) || fail "$out"
    out=$(dump_readings | check_spacing 100000 "$tol") ||
        fail "readings not 100 ms apart: $out"
    echo "spacing: $out"
    # The grid is aligned to wall-clock multiples of the interval: a
    # reading arrives a little after its slot starts (later for the last
    # of the requests serialized on the bus).
    out=$(dump_readings | awk -F'\t' '{ print $2 % 100000, $1, $2 }' |
        sort -n | awk '{ off[NR] = $1; at[NR] = $2 " at " $3 }
        END { m = off[int((NR + 1) / 2)]
              printf "median %.1f ms, latest %.1f ms after the slot (%s)\n",
                  m / 1000, off[NR] / 1000, at[NR]
              exit m > 5000 || off[NR] > 20000 }') ||
        fail "readings not on the wall-clock 100 ms grid: $out"
    echo "alignment: $out"

    sha=$(sha256sum "$T/t.conf" | cut -d' ' -f1)
    ev=$(sql "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events
              WHERE kind IN ('start', 'config', 'stop') ORDER BY seq);")
    [ "$ev" = "start config stop" ] ||
        fail "events start, config, stop: got '$ev'"
    [ "$(sql "SELECT detail FROM events WHERE kind = 'config';")" = "$sha" ] ||
        fail "the config event does not hold the config's SHA-256 $sha"
    [ "$(sql "SELECT kind FROM events ORDER BY seq DESC LIMIT 1;")" = stop ] ||
        fail "the last event is not 'stop'"
}

# The fixed registers: exact decoding of every type, invalid floats,
# out-of-range, scale and offset.
case_fixed_values() {
    local tab t out
    start_sim --port 0 --units 2
    conf_tcp_bus plant
    : >"$T/fixed"
    fixed() { # tag table address type settings quality value raw
        conf_sensor "id = \"$1\"; kind = \"generic\"; unit = \"x\"; bus = \"plant\"; unit_id = 1; table = \"$2\"; address = $3; type = \"$4\"; interval_ms = 100; $5"
        echo "$1 $6 $7 $8" >>"$T/fixed"
    }
    for tab in holding input; do
        t=${tab:0:1}
        fixed "I16$t" $tab 900 int16 "" good -12345 cfc7
        fixed "U16$t" $tab 901 uint16 "" good 54321 d431
        fixed "I32$t" $tab 902 int32 "" good -123456789 f8a432eb
        fixed "U32$t" $tab 904 uint32 "" good 3000000000 b2d05e00
        fixed "F64$t" $tab 908 float64 "" good -9876.54321 c0c34a4587e7c06e
        fixed "NAN$t" $tab 912 float32 "" invalid NULL 7fc00000
        fixed "INF$t" $tab 914 float32 "" invalid NULL 7f800000
        fixed "UID$t" $tab 916 uint16 "" good 1 0001
    done
    fixed F32h holding 906 float32 "" good 1234.5 449a5000
    fixed F32Si input 906 float32 "scale = 0.5; offset = -10.0;" good 607.25 449a5000
    conf_sensor 'id = "PH-0"; kind = "ph"; bus = "plant"; unit_id = 1; table = "holding"; address = 0; type = "int16"; scale = 0.01; interval_ms = 100;'
    echo "PH-0 out_of_range 21 -" >>"$T/fixed"
    conf_sensor 'id = "UID2"; kind = "generic"; unit = "id"; bus = "plant"; unit_id = 2; table = "input"; address = 916; type = "uint16"; interval_ms = 100;'
    echo "UID2 good 2 0002" >>"$T/fixed"
    TAGS=$(cut -d' ' -f1 "$T/fixed")
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 3" 15 "not every sensor got 3 readings"
    stop_daemon

    out=$(dump_readings | awk -F'\t' '
        function abs(x) { return x < 0 ? -x : x }
        FNR == NR { split($0, a, " "); q[a[1]] = a[2]; v[a[1]] = a[3]
                    raw[a[1]] = a[4]; next }
        !($1 in q) { next }
        {
            n[$1]++; r = $6; gsub(/ /, "", r)
            if ($4 != q[$1]) { print $1 ": quality " $4 " (" $5 "), want " q[$1]; bad = 1; next }
            if (v[$1] == "NULL") {
                if ($3 != "NULL") { print $1 ": value " $3 ", want NULL"; bad = 1 }
            } else if ($1 == "PH-0") {
                if ($3 == "NULL" || $3 < 14 || $3 > 28) { print $1 ": value " $3 ", want ~21 kept"; bad = 1 }
            } else if (abs($3 - v[$1]) > 1e-9 * abs(v[$1])) {
                print $1 ": value " $3 ", want " v[$1]; bad = 1
            }
            if (raw[$1] != "-" && r != raw[$1]) { print $1 ": raw \"" $6 "\", want " raw[$1]; bad = 1 }
            if (raw[$1] != "-" && $6 !~ /^[0-9a-f]+( [0-9a-f]+)*$/) { print $1 ": raw \"" $6 "\" not lower-case words"; bad = 1 }
        }
        END {
            for (t in q) if (!(t in n)) { print "no readings of " t; bad = 1 }
            exit bad
        }' "$T/fixed" - | head -5) || true
    [ -z "$out" ] || fail "$(echo "$out" | tr '\n' ';')"
}

# One muted unit on its own bus delays nothing on the other bus.
case_unit_mute_isolated() {
    local t_mute t_normal out n tol
    start_sim --port 0 --units 2
    conf_tcp_bus line-a
    conf_tcp_bus line-b
    sim_sensor FA-i16 line-a 1 holding flow 0 100
    sim_sensor FA-f32 line-a 1 holding flow 20 100
    sim_sensor FB-i16 line-b 2 holding flow 0 100
    sim_sensor FB-f32 line-b 2 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    latency_start
    start_daemon
    wait_or_fail "min_readings 5 good" 15 "no good readings before the mute"
    t_mute=$(now_us)
    sim_ctl "mute 2"
    TAGS="FB-i16 FB-f32" wait_or_fail "min_readings 5 comm_error" 15 \
        "unit 2 muted, but its sensors got no comm_error readings"
    t_normal=$(now_us)
    sim_ctl "normal 2"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'FB-i16' AND r.quality = 'good'
        AND r.ts_us > $t_normal\") -ge 5 ]" 15 \
        "unit 2 did not return to good readings after 'normal 2'"
    stop_daemon
    tol=$(latency_tol "$TIMING_TOL_US")

    out=$(dump_readings FA-i16 FA-f32 | awk -F'\t' '$4 != "good" { n++ }
        END { print n + 0 }')
    [ "$out" = 0 ] || fail "$out readings of unit 1 (bus line-a) not good"
    out=$(dump_readings FA-i16 FA-f32 | check_spacing 100000 "$tol") ||
        fail "unit 1 readings disturbed by the muted unit: $out"
    echo "unit 1 spacing: $out"
    out=$(dump_readings FB-i16 FB-f32 | awk -F'\t' -v a="$t_mute" '
        $4 == "comm_error" { n++
            if ($3 != "NULL") { print "comm_error with value " $3; exit 1 }
            if ($5 == "") { print "comm_error without error text"; exit 1 }
            if ($2 < a) { print "comm_error before the mute at " $2; exit 1 }
            if (!e) e = $5 }
        END { if (!n) { print "no comm_error"; exit 1 } print e }') ||
        fail "unit 2: $out"
    echo "$out" | grep -qi 'time' ||
        fail "unit 2's comm_error text does not say it timed out: '$out'"
    n=$(sql "SELECT count(*) FROM events WHERE (kind IN ('missed', 'bus_down',
             'bus_up')) AND (detail LIKE '%line-a%' OR detail LIKE '%FA-%');")
    [ "$n" = 0 ] || fail "events name bus line-a, which never failed: $(sql \
        "SELECT kind || ' ' || detail FROM events WHERE detail LIKE '%line-a%'
         OR detail LIKE '%FA-%' LIMIT 2;")"
    n=$(sql "SELECT count(*) FROM events WHERE kind IN ('missed', 'bus_down')
             AND ts_us >= $t_mute;")
    [ "$n" -gt 0 ] ||
        fail "no missed or bus_down event while a 100 ms unit timed out after 200 ms"
}

case_exception() {
    local t_exc t_normal out
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FX-i16 plant 1 holding flow 0 100
    sim_sensor FX-f32 plant 1 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 3 good" 15 "no good readings"
    t_exc=$(now_us)
    sim_ctl "exception 1 2"
    wait_or_fail "min_readings 3 comm_error" 15 \
        "no comm_error readings while the unit answers exception 2"
    t_normal=$(now_us)
    sim_ctl "normal 1"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE quality = 'good' AND ts_us > $t_normal\") -ge 6 ]" 15 \
        "no good readings after 'normal 1'"
    stop_daemon
    out=$(dump_readings | awk -F'\t' -v a="$t_exc" '$4 == "comm_error" {
        if ($2 < a) { print "comm_error before the exception at " $2; exit 1 }
        if ($3 != "NULL") { print "comm_error with value " $3; exit 1 }
        if (tolower($5) !~ /illegal data address/) {
            print "error \"" $5 "\" does not say illegal data address"; exit 1 }
        n++ }
        END { if (!n) { print "no comm_error"; exit 1 } }') || fail "$out"
    # An exception is an answer: the link is fine.
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'bus_down';")" = 0 ] ||
        fail "a Modbus exception was recorded as bus_down: $(sql \
            "SELECT detail FROM events WHERE kind = 'bus_down' LIMIT 1;")"
}

# The simulator goes away for 1.5 s: comm_errors, bus_down, bus_up, good
# again, and every slot accounted for.
case_drop_reconnect() {
    local t_drop out tag n first last slots missed up_ts
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FD-i16 plant 1 holding flow 0 100
    sim_sensor FD-f32 plant 1 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 5 good" 15 "no good readings"
    t_drop=$(now_us)
    sim_ctl "drop 1500"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events WHERE kind = 'bus_up'
        AND seq > (SELECT min(seq) FROM events WHERE kind = 'bus_down')\") -ge 1 ]" \
        15 "no bus_down followed by bus_up"
    up_ts=$(sql "SELECT min(ts_us) FROM events WHERE kind = 'bus_up';")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings WHERE quality = 'good'
        AND ts_us > $up_ts\") -ge 10 ]" 15 "no good readings after bus_up"
    stop_daemon

    n=$(sql "SELECT count(*) FROM readings WHERE quality = 'comm_error'
             AND ts_us >= $t_drop AND ts_us <= $up_ts AND value IS NULL
             AND error <> '';")
    [ "$n" -gt 0 ] || fail "no comm_error readings (with error text) during the outage"
    out=$(sql "SELECT detail FROM events WHERE kind = 'bus_down' LIMIT 1;")
    echo "$out" | grep -q plant || fail "bus_down detail '$out' does not name the bus"
    for tag in FD-i16 FD-f32; do
        check_tag_slots "$tag" 100 2
    done
}

case_rtu() {
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 3
    conf_rtu_bus rs485 300
    sim_sensor R1-i16 rs485 1 holding flow 0 200
    sim_sensor R1-f32 rs485 1 holding flow 20 200
    sim_sensor R3-i32 rs485 3 input pressure 4 200
    sim_sensor R3-f64 rs485 3 input pressure 40 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 10" 15 "not every rtu sensor got 10 readings"
    stop_daemon
    out=$(dump_readings | DT_S=0.05 check_formula) || fail "$out"
    stop_pid "$PID_socat"
}

# Readings taken before SIGTERM are all committed, even with a long
# commit interval.
case_sigterm_commits() {
    local t tag fn addr L R last maxts stopts
    start_sim --port 0 --units 1 --log "$T/sim.log"
    conf_tcp_bus plant
    # Two requests: holding 0..5 (G1-*) and input 120..121 (G2).
    sim_sensor G1-i16 plant 1 holding flow 0 100
    sim_sensor G1-i32 plant 1 holding flow 4 100
    sim_sensor G2-f32 plant 1 input pressure 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 1000;"
    start_daemon
    wait_or_fail "[ \$(wc -l <'$T/sim.log') -ge 50 ]" 15 \
        "the simulator logged fewer than 50 requests"
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
    for t in G1-i16:3:0 G1-i32:3:0 G2-f32:4:120; do
        IFS=: read -r tag fn addr <<<"$t"
        L=$(awk -v f="$fn" -v a="$addr" '$2 == 1 && $3 == f && $4 == a' \
            "$T/sim.log" | wc -l)
        R=$(count_readings "$tag" good)
        echo "$tag: $R good readings, $L requests answered"
        ((L >= 10)) || fail "$tag: only $L requests of unit 1 fc$fn at $addr logged"
        ((R == L)) ||
            fail "$tag: $R good readings for $L requests answered: readings lost at shutdown"
    done
    last=$(sql "SELECT kind FROM events ORDER BY seq DESC LIMIT 1;")
    [ "$last" = stop ] || fail "the last event is '$last', not stop"
    maxts=$(sql "SELECT max(ts_us) FROM readings;")
    stopts=$(sql "SELECT ts_us FROM events WHERE kind = 'stop';")
    ((stopts >= maxts)) || fail "the stop event ($stopts) precedes a reading ($maxts)"
}

# A muted unit with a timeout three slots long: slots are missed and
# counted, and polls stay on the grid.
case_missed_slots() {
    local out n first last slots missed lim
    start_sim --port 0 --units 2 --mute 2
    conf_tcp_bus plant 300
    sim_sensor MUTED plant 2 holding flow 0 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    latency_start
    start_daemon
    wait_or_fail "min_readings 8 comm_error" 15 \
        "fewer than 8 comm_error readings of the muted unit"
    stop_daemon
    # a reading is stamped within 25 ms of its slot, plus what the load
    # delayed threads by (at most 90 ms: past that the grid is lost)
    lim=$(latency_tol 25000)
    ((lim <= 90000)) || lim=90000
    out=$(dump_readings MUTED | awk -F'\t' -v lim="$lim" '
        { if ($4 != "comm_error" && $4 != "missed") { print "reading " $4 " from a muted unit"; exit 1 }
          if ($3 != "NULL" || $5 == "") { print $4 " without NULL value and error text"; exit 1 }
          off = $2 % 100000
          if ($4 == "missed" && off != 0) {
              printf "missed reading at ts_us %.0f: not its slot time\n", $2; exit 1 }
          if (off > lim && off < 98000) {
              printf "ts_us %.0f is %.1f ms past its 100 ms slot (timeout 300 ms): off the grid\n", $2, off / 1000; exit 1 } }') ||
        fail "$out"
    read -r n first last <<<"$(sql "SELECT count(*), min(ts_us), max(ts_us)
        FROM readings;" | tr '\t' ' ')"
    slots=$(((last - first + 50000) / 100000 + 1))
    (($(missed_slots MUTED) > 0)) || fail "no missed event names MUTED"
    # The last reading may be a timeout's, 3 slots past its own slot.
    check_one_per_slot MUTED "$n" "$slots" 3
}

case_bad_db_path() {
    SIM_PORT=1502
    conf_tcp_bus plant
    sim_sensor FT plant 1 holding flow 0 1000
    CONF_DB="$T/no/such/dir/t.db" conf_write "$T/t.conf"
    spawn daemon "$BUILD/tbdaqd" -c "$T/t.conf"
    wait_or_fail "! pid_running $PID_daemon" 10 \
        "the daemon keeps running without its database"
    wait "$PID_daemon"
    rc=$?
    [ $rc = 1 ] || fail "the daemon exited $rc, want 1"
    grep -qF "$T/no/such/dir/t.db" "$T/daemon.err" ||
        fail "the error does not name the path: $(head -3 "$T/daemon.err")"
    [ ! -e "$T/no" ] || fail "the daemon created directories"
}

# ---------------------------------------------------------------------
# MQTT (issue 3). Each case starts its own mosquitto on a free port, its
# subscribers before the daemon (readings are not retained, and a new
# database is published from its first reading), and checks what they
# received against the database.

# Every kind and quality: topics, payloads field by field, numbers, the
# retained status and run topics.
case_mqtt_payloads() {
    local t0 out st ver since q
    need_mqtt
    start_broker
    start_sim --port 0 --units 3 --exception 2:2 --mute 3
    conf_tcp_bus plant
    conf_tcp_bus exc
    conf_tcp_bus mute 100
    sim_sensor FT-1 plant 1 holding flow 20 200
    sim_sensor PT-1 plant 1 input pressure 4 200
    sim_sensor TT-1 plant 1 holding turbidity 0 200
    sim_sensor AT-1 plant 1 input ph 28 200
    gen() { # tag address type unit settings, on unit 1's holding registers
        conf_sensor "id = \"$1\"; kind = \"generic\"; unit = \"$4\"; bus = \"plant\"; unit_id = 1; table = \"holding\"; address = $2; type = \"$3\"; interval_ms = 200; ${5:-}"
    }
    gen GEN-F32 906 float32 kPa
    gen GEN-I16 900 int16 count
    gen GEN-F64 908 float64 mV
    gen NAN-1 912 float32 x
    printf '%s\n' "GEN-F32 1234.5" "GEN-I16 -12345" "GEN-F64 -9876.54321" \
        >"$T/tokens"
    # pH from the flow register (about 21): out of range, value kept.
    conf_sensor 'id = "OOR-1"; kind = "ph"; bus = "plant"; unit_id = 1; table = "holding"; address = 0; type = "int16"; scale = 0.01; interval_ms = 200;'
    # comm_error: an exception (unit 2) and a timeout (unit 3, muted).
    conf_sensor 'id = "EXC-1"; kind = "flow"; bus = "exc"; unit_id = 2; table = "holding"; address = 0; type = "int16"; scale = 0.01; interval_ms = 200;'
    conf_sensor 'id = "MUTE-1"; kind = "pressure"; bus = "mute"; unit_id = 3; table = "input"; address = 100; type = "int16"; scale = 0.01; interval_ms = 200;'
    TAGS="FT-1 PT-1 TT-1 AT-1 GEN-F32 GEN-I16 GEN-F64 NAN-1 OOR-1 EXC-1 MUTE-1"
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/check.out" 2>&1 ||
        fail "tbdaqd -t rejects a config with an mqtt group: $(head -3 "$T/check.out")"

    start_sub all "tbdaq/$SITE/#"
    t0=$(now_us)
    start_daemon
    # shellcheck disable=SC2086
    wait_for "sub_topics_min all 3 $TAGS" 20 ||
        fail "not every sensor's topic got 3 readings within 20 s: $(sub_per_topic all | tr '\n' ' ')"

    st=$(mqtt_get "tbdaq/$SITE/status")
    echo "status: $st"
    ver=$(timeout 10 "$BUILD/tbdaqd" -V | awk '{ print $NF }')
    [[ $st =~ ^1\ \{\"state\":\"online\",\"version\":\"([^\"]+)\",\"since\":\"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z)\"\}$ ]] ||
        fail "retained status '$st', want 1 {\"state\":\"online\",\"version\":\"...\",\"since\":\"<ISO 8601 UTC us>\"}"
    [ "${BASH_REMATCH[1]}" = "$ver" ] ||
        fail "status version '${BASH_REMATCH[1]}', tbdaqd -V says '$ver'"
    since=$(date -u -d "${BASH_REMATCH[2]}" +%s%6N) ||
        fail "status since '${BASH_REMATCH[2]}' is not a time"
    ((since >= t0 - 1000000 && since <= $(now_us))) ||
        fail "status since ${BASH_REMATCH[2]} is not the daemon's start (about $(date -u -d "@$((t0 / 1000000))" +%FT%TZ))"
    st=$(mqtt_get "tbdaq/$SITE/run")
    [ "$st" = '1 {"state":"idle"}' ] ||
        fail "retained run topic '$st', want 1 {\"state\":\"idle\"}"
    stop_daemon

    out=$(check_payloads all "$T/tokens") || fail "payloads: $(echo "$out" | tr '\n' ' ')"
    echo "$out"
    for q in good out_of_range invalid comm_error; do
        [[ $out == *" $q "* ]] || fail "no $q reading was received: $out"
    done
    for q in flow pressure turbidity ph generic; do
        [[ $out == *" $q "* ]] || fail "no $q reading was received: $out"
    done
    # One connection, no outage: in seq order, each once.
    out=$(sub_seqs all | awk 'NR > 1 && $1 <= last { print "seq " $1 " after " last; exit 1 }
        { last = $1 }') || fail "readings out of seq order: $out"
}

# SIGTERM: exit 0 within 5 s, every reading published before the retained
# offline status.
case_mqtt_offline_on_sigterm() {
    local last n_off n_read out
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 100
    sim_sensor PT-1 plant 1 input pressure 20 100
    # Readings wait up to 1 s for their commit: at SIGTERM there are
    # uncommitted ones, which must be committed and published too.
    conf_write "$T/t.conf" "commit_interval_ms = 1000;" "$(conf_mqtt)"
    start_sub all "tbdaq/$SITE/#"
    start_daemon
    wait_or_fail "[ \$(sub_seqs all | wc -l) -ge 20 ]" 15 \
        "fewer than 20 readings received"
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_or_fail "sub_got all '0 tbdaq/$SITE/status {\"state\":\"offline\"}'" 5 \
        "the subscriber got no {\"state\":\"offline\"} status after SIGTERM"
    out=$(sub_received all 1 "$last") ||
        fail "not every reading was published before the daemon exited: $out"
    echo "$out"
    n_off=$(grep -n -m1 -xF "0 tbdaq/$SITE/status {\"state\":\"offline\"}" \
        "$T/all.out" | cut -d: -f1)
    n_read=$(grep -n '^0 [^ ]* {"seq":' "$T/all.out" | tail -1 | cut -d: -f1)
    ((n_read < n_off)) ||
        fail "a reading (line $n_read) arrived after the offline status (line $n_off)"
    out=$(mqtt_get "tbdaq/$SITE/status")
    [ "$out" = '1 {"state":"offline"}' ] ||
        fail "retained status after SIGTERM '$out', want 1 {\"state\":\"offline\"}"
    out=$(sql "SELECT value FROM state WHERE key = 'mqtt_acked_seq';")
    [ "$out" = "$last" ] ||
        fail "state mqtt_acked_seq is '$out' after a clean stop, want the last seq $last"
    timeout 10 "$BUILD/tbdaq" -d "$T/t.db" status >"$T/status.out" 2>&1 ||
        fail "tbdaq status failed: $(head -3 "$T/status.out")"
    grep -qxF "  MQTT:      nothing waiting (acknowledged up to seq $last of $last)" \
        "$T/status.out" ||
        fail "tbdaq status does not show an empty backlog up to seq $last: $(grep MQTT "$T/status.out")"
}

# retain = true and QoS 2: a new subscriber gets each sensor's last
# reading; acknowledgement (PUBCOMP) reaches the last seq at a clean stop.
case_mqtt_retain_qos2() {
    local tag last got want out
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 100
    sim_sensor PT-1 plant 1 input pressure 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt "retain = true;" "qos = 2;")"
    start_sub all "tbdaq/$SITE/#"
    start_daemon
    wait_or_fail "sub_topics_min all 5 FT-1 PT-1" 15 \
        "fewer than 5 readings of each sensor received"
    stop_daemon
    last=$(sql "SELECT max(seq) FROM readings;")
    out=$(sub_received all 1 "$last") || fail "QoS 2: $out"
    echo "$out"
    for tag in FT-1:flow PT-1:pressure; do
        got=$(mqtt_get "tbdaq/$SITE/${tag#*:}/${tag%:*}")
        want=$(sql "SELECT max(r.seq) FROM readings r JOIN sensors s
                    ON s.id = r.sensor_id WHERE s.tag = '${tag%:*}';")
        [[ $got == "1 {\"seq\":$want,"* ]] ||
            fail "retained message of ${tag%:*}: '$got', want its last reading, seq $want, retained"
    done
    out=$(sql "SELECT value FROM state WHERE key = 'mqtt_acked_seq';")
    [ "$out" = "$last" ] ||
        fail "QoS 2: state mqtt_acked_seq is '$out' after a clean stop, want $last"
}

# The will: at once when the daemon is killed (its socket closes), and
# within 1.5 keepalives when it hangs (SIGSTOP: the socket stays open).
case_mqtt_will_on_sigkill() {
    local t0 ms off="0 tbdaq/$SITE/status {\"state\":\"offline\"}"
    local keepalive_s=5
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt "keepalive_s = $keepalive_s;")"
    start_sub all "tbdaq/$SITE/status"
    start_daemon
    wait_or_fail "grep -q '^[01] tbdaq/$SITE/status {\"state\":\"online\"' '$T/all.out'" 15 \
        "no online status"
    kill -KILL "$PID_daemon"
    wait "$PID_daemon" 2>/dev/null
    DAEMON_STOPPED=1
    t0=$(now_us)
    wait_or_fail "sub_got all '$off'" $((keepalive_s * 3 / 2 + 3)) \
        "no offline will after SIGKILL"
    echo "will after SIGKILL in $((($(now_us) - t0) / 1000)) ms"
    [ "$(mqtt_get "tbdaq/$SITE/status")" = "1 {\"state\":\"offline\"}" ] ||
        fail "the retained status is not offline after the will"

    # Again on the same database, online again, then hung.
    : >"$T/all.out"
    DAEMON_STOPPED=
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "grep -q '^0 tbdaq/$SITE/status {\"state\":\"online\"' '$T/all.out'" 15 \
        "no online status from the restarted daemon"
    [[ $(mqtt_get "tbdaq/$SITE/status") == '1 {"state":"online",'* ]] ||
        fail "the retained status is not online after the restart"
    kill -STOP "$PID_daemon"
    t0=$(now_us)
    # The broker gives up on a client 1.5 keepalives after its last packet,
    # but mosquitto 2.0 notices only on its periodic check: 10.5 s was seen
    # for 5 s, so allow 2 keepalives and a margin.
    wait_or_fail "sub_got all '$off'" $((keepalive_s * 2 + 4)) \
        "no offline will after the daemon hung (keepalive_s = $keepalive_s)"
    ms=$((($(now_us) - t0) / 1000))
    echo "will after SIGSTOP in $ms ms (keepalive $keepalive_s s)"
    kill -KILL "$PID_daemon"
    wait "$PID_daemon" 2>/dev/null
    DAEMON_STOPPED=1
}

# The broker goes away for about 4 s and comes back with its persistence:
# the persistent subscriber ends up with every reading.
case_mqtt_outage() {
    local s_stop s_restart s_end t_stop out
    need_mqtt
    start_broker "persistence true" "persistence_location $T/"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 200
    sim_sensor PT-1 plant 1 input pressure 20 200
    sim_sensor TT-1 plant 1 holding turbidity 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    start_sub all "tbdaq/$SITE/#" -c
    start_daemon
    wait_or_fail "[ \$(sub_seqs all | wc -l) -ge 10 ]" 15 \
        "fewer than 10 readings received before the outage"
    s_stop=$(sql "SELECT max(seq) FROM readings;")
    t_stop=$(now_us)
    stop_broker
    # 3 sensors every 200 ms: 60 readings are about 4 s.
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_stop;') -ge 60 ]" 10 \
        "the daemon recorded fewer than 60 readings while the broker was down"
    pid_running "$PID_daemon" || fail "the daemon exited while the broker was down"
    s_restart=$(sql "SELECT max(seq) FROM readings;")
    restart_broker
    echo "broker down for $((($(now_us) - t_stop) / 1000)) ms; seq $s_stop..$s_restart recorded meanwhile"
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_restart;') -ge 15 ]" 10 \
        "fewer than 15 readings recorded after the broker came back"
    s_end=$(sql "SELECT max(seq) FROM readings;")
    # Reconnection backoff reaches 4 s and more by now; then the replay.
    wait_for "keep_sub all && sub_received all 1 $s_end" 30 ||
        fail "after the outage: $(sub_received all 1 "$s_end")"
    echo "$(sub_received all 1 "$s_end"), $((($(now_us) - t_stop) / 1000)) ms after the broker stopped"
    stop_daemon
}

# SIGKILL mid-stream, start again on the same database: intact, seqs
# increase, every committed reading reaches the subscriber.
case_mqtt_restart() {
    local s_kill acked last out n
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus u1h
    conf_tcp_bus u1i
    sim_sensor FT-1 u1h 1 holding flow 20 100
    sim_sensor FT-2 u1h 1 holding flow 0 100
    sim_sensor PT-1 u1i 1 input pressure 20 100
    sim_sensor PT-2 u1i 1 input pressure 4 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    start_sub all "tbdaq/$SITE/#" -c
    start_daemon
    # Killed after it saved an acknowledged seq (about once a second) and
    # while readings flow (40 a second).
    wait_or_fail "[ \"\$(sql \"SELECT value FROM state WHERE key = 'mqtt_acked_seq';\")\" -gt 0 ] &&
        [ \$(sub_seqs all | wc -l) -ge 60 ]" 15 \
        "no acknowledged seq saved, or fewer than 60 readings received"
    kill -KILL "$PID_daemon"
    wait "$PID_daemon" 2>/dev/null
    DAEMON_STOPPED=1
    s_kill=$(sql "SELECT max(seq) FROM readings;")
    acked=$(sql "SELECT value FROM state WHERE key = 'mqtt_acked_seq';")
    echo "killed: last seq $s_kill, acknowledged seq saved $acked, $(sub_seqs all | sort -un | wc -l) received"
    out=$(sql "PRAGMA integrity_check;")
    [ "$out" = ok ] || fail "integrity_check after SIGKILL: $out"

    DAEMON_STOPPED=
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_kill;') -ge 40 ]" 15 \
        "fewer than 40 readings after the restart"
    stop_daemon
    out=$(sql "PRAGMA integrity_check;")
    [ "$out" = ok ] || fail "integrity_check after the restart: $out"
    # seq is the primary key (no duplicates); it must also follow time:
    # each sensor's readings, in seq order, have increasing ts_us.
    n=$(sql "SELECT count(*) FROM (SELECT ts_us - lag(ts_us) OVER
             (PARTITION BY sensor_id ORDER BY seq) AS d FROM readings) WHERE d <= 0;")
    [ "$n" = 0 ] || fail "$n readings have a higher seq but no later time than the sensor's previous reading"
    n=$(sql "SELECT count(*) - count(DISTINCT seq) FROM readings;")
    [ "$n" = 0 ] || fail "$n duplicate seqs"
    n=$(sql "SELECT count(*) FROM events WHERE kind = 'start';")
    [ "$n" = 2 ] || fail "$n start events, want 2"
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_for "sub_received all 1 $last" 10 ||
        fail "after the restart: $(sub_received all 1 "$last")"
    sub_received all 1 "$last"
}

# Password auth: the right password publishes; a wrong one is logged, and
# that daemon keeps recording, its backlog growing, retrying.
case_mqtt_auth() {
    local c b1 line
    need_mqtt
    mosquitto_passwd -b -c "$T/passwd" itest 's3cret' >"$T/passwd.log" 2>&1 ||
        fail "mosquitto_passwd: $(cat "$T/passwd.log")"
    echo 's3cret' >"$T/pass.ok"
    echo 'wrong' >"$T/pass.bad"
    chmod 600 "$T/pass.ok" "$T/pass.bad"
    start_broker "allow_anonymous false" "password_file $T/passwd"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-A plant 1 holding flow 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(MQTT_CLIENT_ID=tbdaq-itest-a conf_mqtt 'username = "itest";' \
            "password_file = \"$T/pass.ok\";")"
    CONF_SENSORS=()
    sim_sensor FT-B plant 1 holding flow 0 200
    CONF_DB=$T/b.db conf_write "$T/b.conf" "commit_interval_ms = 100;" \
        "$(MQTT_CLIENT_ID=tbdaq-itest-b conf_mqtt 'username = "itest";' \
            "password_file = \"$T/pass.bad\";")"
    start_sub all "tbdaq/$SITE/#" -u itest -P s3cret
    start_daemon
    spawn_daemon bad "$T/b.conf" "$T/b.db"
    wait_or_fail "sub_topics_min all 5 FT-A" 15 \
        "fewer than 5 readings from the daemon with the right password"
    wait_or_fail "awk 'tolower(\$0) ~ /^([0-9t:.+-]+ )?tbdaqd: (error|warning): / &&
            index(\$0, \"127.0.0.1\") &&
            tolower(\$0) ~ /not authori[sz]ed|bad user ?name or password/ { f = 1 }
            END { exit !f }' '$T/bad.err'" 10 \
        "no error naming the broker (127.0.0.1) and saying 'not authorised' from the daemon with the wrong password"
    grep -i 'authori' "$T/bad.err" | head -1
    wait_or_fail "[ \$(count_lines 'disconnected, not authorised' '$T/broker.log') -ge 2 ]" 10 \
        "the daemon with the wrong password did not try again"
    # status shows a backlog once its oldest reading is 5 s old
    wait_for "[ -n \"\$(mqtt_backlog '$T/b.db')\" ]" 15
    # (the count after the backlog: nothing acknowledged, b1 <= c)
    b1=$(mqtt_backlog "$T/b.db")
    c=$(SQL_DB=$T/b.db sql "SELECT count(*) FROM readings;")
    wait_or_fail "[ \$(SQL_DB=$T/b.db sql 'SELECT count(*) FROM readings;') -ge $((c + 10)) ]" 10 \
        "refused by the broker, the daemon stopped recording"
    b2=$(mqtt_backlog "$T/b.db")
    echo "refused daemon: backlog '$b1', then '$b2'"
    [ "$(sub_per_topic all | grep -c 'FT-B$')" = 0 ] ||
        fail "readings of the daemon with the wrong password reached the subscriber"
    stop_daemon bad
    stop_daemon
    line=$(sql "SELECT max(seq) FROM readings;")
    wait_for "sub_received all 1 $line" 5 ||
        fail "password auth: $(sub_received all 1 "$line")"
    # Last, as it is the least of it: the operator sees the backlog grow.
    if ! [[ $b1 =~ ^[0-9]+$ && $b2 =~ ^[0-9]+$ ]] || ((b2 < b1 + 10)); then
        fail "tbdaq status, refused by the broker: backlog '$b1' then '$b2' (want a growing 'backlog N readings' on the MQTT line): $(timeout 10 "$BUILD/tbdaq" -d "$T/b.db" status 2>&1 | grep -i mqtt)"
    fi
}

# TLS with client certificates: the right one publishes; one from another
# CA is logged, and that daemon keeps recording, retrying.
case_mqtt_tls() {
    local P=$T/pki c last tls
    need_mqtt
    make_certs
    start_broker "cafile $P/ca.crt" "certfile $P/server.crt" \
        "keyfile $P/server.key" "require_certificate true"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-A plant 1 holding flow 20 200
    tls="tls = { ca_file = \"$P/ca.crt\"; cert_file = \"$P/client.crt\"; key_file = \"$P/client.key\"; };"
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(MQTT_CLIENT_ID=tbdaq-itest-a conf_mqtt "$tls")"
    CONF_SENSORS=()
    sim_sensor FT-B plant 1 holding flow 0 200
    tls="tls = { ca_file = \"$P/ca.crt\"; cert_file = \"$P/rogue.crt\"; key_file = \"$P/rogue.key\"; };"
    CONF_DB=$T/b.db conf_write "$T/b.conf" "commit_interval_ms = 100;" \
        "$(MQTT_CLIENT_ID=tbdaq-itest-b conf_mqtt "$tls")"
    start_sub all "tbdaq/$SITE/#" --cafile "$P/ca.crt" --cert "$P/client.crt" \
        --key "$P/client.key"
    start_daemon
    spawn_daemon bad "$T/b.conf" "$T/b.db"
    wait_or_fail "sub_topics_min all 5 FT-A" 15 \
        "fewer than 5 readings over TLS"
    wait_or_fail "awk 'tolower(\$0) ~ /^([0-9t:.+-]+ )?tbdaqd: (error|warning): / &&
            index(\$0, \"127.0.0.1\") { f = 1 } END { exit !f }' '$T/bad.err'" 10 \
        "no error naming the broker (127.0.0.1) from the daemon with a certificate of another CA"
    grep -E '^([0-9T:.+-]+ )?tbdaqd: (error|warning): .*127\.0\.0\.1' "$T/bad.err" | head -1
    wait_or_fail "[ \$(count_lines 'certificate verify failed' '$T/broker.log') -ge 2 ]" 10 \
        "the daemon with the other CA's certificate did not try again"
    c=$(SQL_DB=$T/b.db sql "SELECT count(*) FROM readings;")
    wait_or_fail "[ \$(SQL_DB=$T/b.db sql 'SELECT count(*) FROM readings;') -ge $((c + 10)) ]" 10 \
        "rejected by the broker, the daemon stopped recording"
    [ "$(sub_per_topic all | grep -c 'FT-B$')" = 0 ] ||
        fail "readings of the daemon with the other CA's certificate reached the subscriber"
    stop_daemon bad
    stop_daemon
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_for "sub_received all 1 $last" 5 ||
        fail "over TLS: $(sub_received all 1 "$last")"
    sub_received all 1 "$last"
}

# No broker when the daemon starts: it records; once the broker is there,
# everything recorded before is delivered too.
case_mqtt_broker_down_at_start() {
    local s_before s_end b st
    need_mqtt
    start_broker "persistence true" "persistence_location $T/"
    start_sub all "tbdaq/$SITE/#" -c
    stop_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 200
    sim_sensor PT-1 plant 1 input pressure 20 200
    sim_sensor TT-1 plant 1 holding turbidity 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge 20 ]" 10 \
        "fewer than 20 readings recorded without a broker"
    # status shows a backlog once its oldest reading is 5 s old
    wait_for "b=\$(mqtt_backlog) && [ \"\${b:-0}\" -ge 20 ]" 15
    b=$(mqtt_backlog)
    st=$(timeout 10 "$BUILD/tbdaq" -d "$T/t.db" status 2>&1 | grep -i mqtt)
    s_before=$(sql "SELECT max(seq) FROM readings;")
    restart_broker
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_before;') -ge 15 ]" 10 \
        "fewer than 15 readings recorded after the broker came"
    s_end=$(sql "SELECT max(seq) FROM readings;")
    wait_for "keep_sub all && sub_received all 1 $s_end" 30 ||
        fail "broker down at start: $(sub_received all 1 "$s_end")"
    sub_received all 1 "$s_end"
    stop_daemon
    # Last, as it is the least of it: while the broker was away, the
    # operator saw the backlog.
    if ! [[ $b =~ ^[0-9]+$ ]] || ((b < 20)); then
        fail "tbdaq status without a broker: backlog '$b', want >= 20: $st"
    fi
}

# As above, but the daemon is restarted before the broker ever came: what
# the first run recorded is still owed to the broker.
case_mqtt_restart_before_broker() {
    local s_first s_end
    need_mqtt
    start_broker "persistence true" "persistence_location $T/"
    start_sub all "tbdaq/$SITE/#" -c
    stop_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 200
    sim_sensor PT-1 plant 1 input pressure 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge 10 ]" 10 \
        "fewer than 10 readings recorded without a broker"
    stop_daemon
    s_first=$(sql "SELECT max(seq) FROM readings;")
    DAEMON_STOPPED=
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_first;') -ge 10 ]" 10 \
        "fewer than 10 readings recorded after the restart"
    restart_broker
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((s_first + 20)) ]" 10 \
        "no readings after the broker came"
    s_end=$(sql "SELECT max(seq) FROM readings;")
    wait_for "keep_sub all && sub_received all 1 $s_end" 30 ||
        fail "the first run's readings (seq 1..$s_first) must still be published: $(sub_received all 1 "$s_end")"
    sub_received all 1 "$s_end"
    stop_daemon
}

# A device that takes longer to time out than SPEC's 5 s stop allows
# (3 s x 3 attempts): SIGTERM still ends the daemon within 5 s, with exit 0,
# and every reading taken on the other bus is committed, the stop event last.
case_sigterm_slow_device() {
    local n last
    start_sim --port 0 --units 2 --mute 2
    conf_tcp_bus fast
    conf_raw_bus "name = \"slow\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 3000; retries = 2;"
    sim_sensor FAST fast 1 holding flow 20 100
    sim_sensor SLOW slow 2 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 1000;"
    start_daemon
    TAGS=FAST wait_or_fail "min_readings 10 good" 15 \
        "FAST got fewer than 10 good readings"
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
    n=$(count_readings FAST good)
    last=$(sql "SELECT kind FROM events ORDER BY seq DESC LIMIT 1;")
    [ "$last" = stop ] || fail "the last event is '$last', not stop"
    grep -q "bus 'slow' is still waiting on a device" "$T/daemon.err" ||
        fail "the daemon did not say it left the slow bus behind"
    ((n >= 10)) || fail "only $n FAST readings committed"
}

# SIGHUP, as SPEC says: a valid new config replaces the old one (a sensor on
# a new bus added, later removed), each load a `config` event with its
# SHA-256; an invalid one is rejected whole (`reload_failed`) and the old
# one keeps polling. The sensor present throughout keeps being read.
case_reload() {
    local n1 n2 sha gaps
    start_sim --port 0 --units 2
    conf_tcp_bus a
    sim_sensor KEEP a 1 holding flow 20 100
    conf_write "$T/t.conf"
    start_daemon
    TAGS=KEEP wait_or_fail "min_readings 5" 15 "KEEP got fewer than 5 readings"

    # Add a bus and a sensor.
    conf_tcp_bus b
    sim_sensor ADDED b 2 input pressure 20 100
    conf_write "$T/t.conf"
    sha=$(sha256sum "$T/t.conf" | cut -d' ' -f1)
    kill -HUP "$PID_daemon"
    TAGS=ADDED wait_or_fail "min_readings 5 good" 10 \
        "the added sensor got fewer than 5 good readings after SIGHUP"
    [ "$(sql "SELECT detail FROM events WHERE kind = 'config' ORDER BY seq DESC LIMIT 1;")" = "$sha" ] ||
        fail "no config event with the new file's SHA-256 $sha"

    # An invalid config: rejected whole, the running one goes on.
    cp "$T/t.conf" "$T/good.conf"
    sed -i 's/bus = "b"/bus = "nope"/' "$T/t.conf"
    kill -HUP "$PID_daemon"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events WHERE kind = 'reload_failed';\") -ge 1 ]" 10 \
        "no reload_failed event after an invalid config"
    grep -q "unknown bus 'nope'" "$T/daemon.err" ||
        fail "the invalid config's error was not logged"
    n1=$(count_readings ADDED good)
    TAGS=ADDED wait_or_fail "[ \$(count_readings ADDED good) -ge $((n1 + 5)) ]" 10 \
        "the old config stopped polling after a rejected reload"

    # Remove the added sensor (and its bus).
    CONF_BUSES=("${CONF_BUSES[0]}")
    CONF_SENSORS=("${CONF_SENSORS[0]}")
    conf_write "$T/t.conf"
    kill -HUP "$PID_daemon"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events WHERE kind = 'config';\") -ge 3 ]" 10 \
        "no third config event after removing a sensor"
    n1=$(count_readings ADDED)
    n2=$(count_readings KEEP)
    TAGS=KEEP wait_or_fail "[ \$(count_readings KEEP) -ge $((n2 + 5)) ]" 10 \
        "KEEP stopped after the sensor was removed"
    (($(count_readings ADDED) <= n1 + 1)) ||
        fail "the removed sensor is still being read"
    stop_daemon
    # The sensor kept throughout was read on every slot but a few around
    # each reload: pollers restart on the same wall-clock grid, so with
    # devices that answer at once no slot is lost (measured: max gap
    # 100.3 ms); allow one.
    gaps=$(sql "SELECT count(*) FROM (SELECT ts_us - lag(ts_us) OVER (ORDER BY seq)
        AS d FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'KEEP') WHERE d > 250000;")
    [ "$gaps" = 0 ] || fail "KEEP has $gaps gaps longer than 250 ms across the reloads"
}

# A reload that changes one bus while its device is inside a 3 s timeout:
# the unchanged bus keeps its poller and grid, so it loses no slot while the
# changed bus's request runs out.
case_reload_slow_bus() {
    local n gaps first last slots missed
    start_sim --port 0 --units 2 --mute 2
    conf_tcp_bus fast
    conf_raw_bus "name = \"slow\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 3000; retries = 0;"
    sim_sensor FAST fast 1 holding flow 20 100
    sim_sensor SLOW slow 2 holding flow 20 100
    conf_write "$T/t.conf"
    start_daemon
    TAGS=FAST wait_or_fail "min_readings 5 good" 15 "FAST got fewer than 5 readings"
    # Wait until the slow bus is inside a request (its first timeout
    # logged), then change only that bus's sensors.
    wait_or_fail "grep -q \"bus 'slow' unit 2\" '$T/daemon.err'" 10 \
        "the slow bus never timed out"
    sim_sensor SLOW2 slow 2 holding pressure 20 100
    conf_write "$T/t.conf"
    kill -HUP "$PID_daemon"
    wait_or_fail "grep -q 'configuration reloaded' '$T/daemon.err'" 10 \
        "the reload did not finish"
    grep -q "1 of 2 buses kept polling without a pause" "$T/daemon.err" ||
        fail "the unchanged bus was not kept: $(grep reloaded "$T/daemon.err")"
    n=$(count_readings FAST good)
    TAGS=FAST wait_or_fail "[ \$(count_readings FAST good) -ge $((n + 5)) ]" 10 \
        "FAST stopped after the reload"
    # Two more timeouts of SLOW: the restarted poller's first requests.
    n=$(count_readings SLOW)
    wait_or_fail "[ \$(count_readings SLOW) -ge $((n + 2)) ]" 15 \
        "the restarted slow bus yields no readings"
    stop_daemon
    # No slot of FAST lost: none missed, and no two readings two slots
    # apart (a poll late on a busy machine stretches a gap, to 158 ms once
    # in CI beside benchmarks; a slot without a reading makes 200 ms).
    gaps=$(sql "SELECT count(*), ifnull(max(d), 0) FROM (SELECT ts_us - lag(ts_us)
        OVER (ORDER BY seq) AS d FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'FAST') WHERE d >= 190000;")
    [ "${gaps%%$'\t'*}" = 0 ] ||
        fail "FAST has gaps of two slots (count, longest us: $gaps) across the reload"
    [ "$(missed_slots FAST)" = 0 ] ||
        fail "FAST missed $(missed_slots FAST) slots across the reload"
    # The restarted bus: every slot of SLOW from its first reading to its
    # last is a reading or counted missed, across the restart too (the old
    # poller counts up to the stop, the new one from there).
    read -r first last n <<<"$(sql "SELECT min(r.ts_us), max(r.ts_us), count(*)
        FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'SLOW';")"
    slots=$(((last - first + 50000) / 100000 + 1))
    # The restarted poller is inside a 3 s timeout at the stop, longer
    # than the stop gives pollers: it is left behind.
    check_one_per_slot SLOW "$n" "$slots" 2 1
}

CASES=(sim_protocol version_and_usage config_check tcp_values fixed_values
    unit_mute_isolated exception drop_reconnect rtu sigterm_commits
    missed_slots bad_db_path mqtt_payloads mqtt_offline_on_sigterm
    mqtt_retain_qos2 mqtt_will_on_sigkill mqtt_outage mqtt_restart mqtt_auth
    mqtt_tls mqtt_broker_down_at_start mqtt_restart_before_broker
    audit_runs audit_export audit_export_errors audit_verify mqtt_runs
    sigterm_slow_device reload reload_slow_bus install_tree unit_verify
    malformed_tcp malformed_rtu "${EXTRA_CASES[@]}")

deadline_of() {
    case $1 in
    version_and_usage | config_check | bad_db_path) echo 20 ;;
    *) echo "$DEFAULT_DEADLINE_S" ;;
    esac
}

# Cases that may run beside another one when ITEST_JOBS > 1 (make
# integration runs two at a time): their checks hold however busy the
# machine is (no spacing, grid, latency, gap, ping-interval, stop-time or
# catch-up-time bound; deadlines of wait_for only), everything they use is
# their own (temp dir, a port the kernel or start_broker picked, their own
# processes), they write nothing outside $T (install_tree and unit_verify
# run make install, which makes files in the build directory: two at once
# raced on them), and they talk to no serial line (RTU over a pty pair).
# Every other case runs alone, with nothing beside it: a new case too,
# until it is listed here.
PARALLEL_CASES=(version_and_usage config_check fixed_values exception
    sigterm_commits bad_db_path mqtt_payloads mqtt_offline_on_sigterm
    mqtt_retain_qos2 mqtt_will_on_sigkill mqtt_outage mqtt_restart mqtt_auth
    mqtt_tls mqtt_broker_down_at_start mqtt_restart_before_broker audit_runs
    audit_export audit_export_errors audit_verify mqtt_runs bridge
    gnu_options cli_command_help log_stamps status_view
    control_runs control_no_daemon control_access file_modes db_crafted
    devices_tcp devices_rtutcp devices_refused evidence_versions
    config_include_range mqtt_device_layout mqtt_device_outage
    mqtt_device_live probe_tcp probe_bits probe_rtu_over_tcp read_sensors
    report_json report_html mqtt_password_reread mqtt_cleartext_warning
    retention_waits_for_mqtt rounding_values rtutcp_values run_start_first
    sim_bits sim_registers sim_identity_swap sim_rtu_over_tcp export_snapshot
    spb_births spb_data spb_bdseq spb_rebirth spb_history spb_qos0 spb_ddeath
    spb_gate spb_independent web_live web_metrics web_auth web_tls
    web_readonly web_browser webserver_smoke webserver_unit witness)

# True if case $1 may run beside another.
parallel_ok() {
    local c
    for c in "${PARALLEL_CASES[@]}"; do
        [ "$c" = "$1" ] && return 0
    done
    return 1
}

# ---------------------------------------------------------------------
# The runner

CUR_PID=
CUR_T=
RUN_DIR=

# Stops a case's subshell: SIGTERM lets its EXIT trap stop what it started;
# if it is stuck in a command, its processes are stopped from here (which
# usually unblocks it), and it is killed if it still does not end.
stop_case() {
    local pid=$1 dir=$2
    kill -TERM "$pid" 2>/dev/null
    wait_for "! pid_running $pid" 2 && return
    reap_leftovers "$dir"
    wait_for "! pid_running $pid" "$STOP_GRACE_S" ||
        kill -KILL "$pid" 2>/dev/null
}

# Runs one case; prints its PASS/FAIL line; returns 0 if it passed.
run_case() {
    local name=$1 deadline left end rc reason f san t0 took
    deadline=$(deadline_of "$name")
    left=$(((SUITE_END - $(now_us)) / 1000000))
    if ((left < 5)); then
        echo "FAIL $name: not run, the suite's $SUITE_BUDGET_S s are used up"
        return 1
    fi
    ((deadline <= left)) || deadline=$left
    T=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-it.$name.XXXXXX")
    CUR_T=$T
    t0=$(now_us)
    (
        trap stop_all EXIT
        trap 'exit 143' TERM
        "case_$name"
    ) >"$T/case.log" 2>&1 &
    CUR_PID=$!
    end=$(($(now_us) + deadline * 1000000))
    while pid_running "$CUR_PID" && (($(now_us) < end)); do
        sleep "$POLL_S"
    done
    if pid_running "$CUR_PID"; then
        echo "timed out after $deadline s" >"$T/reason"
        stop_case "$CUR_PID" "$T"
    fi
    { wait "$CUR_PID"; } 2>/dev/null
    rc=$?
    CUR_PID=
    took=$((($(now_us) - t0) / 100000))
    took="$((took / 10)).$((took % 10)) s"
    reap_leftovers "$T"
    san=$(sanitizer_report "$T")
    if [ $rc = 0 ] && [ -z "$san" ]; then
        echo "PASS $name ($took)"
        if [ -n "${ITEST_KEEP:-}" ]; then
            echo "  kept $T"
        else
            rm -rf "$T"
        fi
        return 0
    fi
    reason=$(cat "$T/reason" 2>/dev/null)
    [ -n "$reason" ] || reason="exited $rc"
    [ -z "$san" ] || reason="$reason; sanitizer report in $san"
    echo "FAIL $name: $reason ($took)"
    echo "  kept $T"
    for f in "$T"/case.log "$T"/*.err "$T"/*.out "$T"/broker.log; do
        [ -s "$f" ] || continue
        echo "  --- $(basename "$f") (last $LOG_TAIL_LINES lines)"
        tail -n "$LOG_TAIL_LINES" "$f" | sed 's/^/  | /'
    done
    return 1
}

# Stops the case this shell runs (SIGINT or SIGTERM to the runner, or
# SIGTERM to a job) and leaves.
stop_current() {
    if [ -n "$CUR_PID" ]; then
        stop_case "$CUR_PID" "$CUR_T"
        { wait "$CUR_PID"; } 2>/dev/null
    fi
    if [ -n "$CUR_T" ]; then
        reap_leftovers "$CUR_T"
        echo "interrupted; last case's files in $CUR_T"
    else
        echo "interrupted"
    fi
    exit 130
}

# Cases beside each other (ITEST_JOBS > 1) run in jobs: subshells of the
# runner, each running one case through run_case with its output held in
# $RUN_DIR until the case ended, then printed whole, so that the lines of
# a case stay together. Their PIDs and cases:
JOB_PIDS=()
JOB_NAMES=()

start_job() {
    (
        trap stop_current TERM
        run_case "$1"
    ) >"$RUN_DIR/$1.out" 2>&1 &
    JOB_PIDS+=("$!")
    JOB_NAMES+=("$1")
}

# reap_jobs MAX: waits until at most MAX jobs run; prints the output of
# each job that ended and counts its case in main's passed or failed.
reap_jobs() {
    local max=$1 i rc pids names
    while :; do
        pids=()
        names=()
        for i in "${!JOB_PIDS[@]}"; do
            if pid_running "${JOB_PIDS[i]}"; then
                pids+=("${JOB_PIDS[i]}")
                names+=("${JOB_NAMES[i]}")
                continue
            fi
            wait "${JOB_PIDS[i]}"
            rc=$?
            cat "$RUN_DIR/${JOB_NAMES[i]}.out"
            if [ $rc = 0 ]; then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
            fi
        done
        JOB_PIDS=("${pids[@]}")
        JOB_NAMES=("${names[@]}")
        ((${#JOB_PIDS[@]} <= max)) && return
        sleep "$POLL_S"
    done
}

on_interrupt() {
    local i
    for i in "${!JOB_PIDS[@]}"; do
        kill -TERM "${JOB_PIDS[i]}" 2>/dev/null
    done
    for i in "${!JOB_PIDS[@]}"; do
        { wait "${JOB_PIDS[i]}"; } 2>/dev/null
        cat "$RUN_DIR/${JOB_NAMES[i]}.out" 2>/dev/null
    done
    [ -z "$RUN_DIR" ] || rm -rf "$RUN_DIR"
    stop_current
}

main() {
    local sel=() c found passed=0 failed=0 p jobs t0
    (($# >= 1)) || usage
    BUILD=$(cd "$1" 2>/dev/null && pwd) || {
        echo "$0: no build directory '$1'" >&2
        exit 2
    }
    shift
    export BUILD
    # Sanitizers make every request several times slower, and requests to
    # the one-threaded simulator queue behind each other: their arrival
    # times spread wider, so timing tolerances are doubled.
    # The same holds for how long after the simulator built a reply the
    # daemon stamps its reading: check_formula's DT_S (5 ms) doubles too
    # (a sanitized run was seen 5.2 ms late).
    TIMING_TOL_US=5000
    if grep -q __asan_init "$BUILD/tbdaqd" 2>/dev/null; then
        TIMING_TOL_US=10000
        export DT_S=${DT_S:-0.01}
    fi
    export TIMING_TOL_US
    for p in sqlite3 socat awk timeout sha256sum od; do
        command -v "$p" >/dev/null || {
            echo "$0: '$p' is needed (Debian: make deps)" >&2
            exit 1
        }
    done
    if (($# == 0)); then
        sel=("${CASES[@]}")
    else
        for c in "$@"; do
            found=
            for p in "${CASES[@]}"; do [ "$p" = "$c" ] && found=1; done
            [ -n "$found" ] || {
                echo "$0: no case '$c'" >&2
                usage
            }
            sel+=("$c")
        done
    fi
    jobs=${ITEST_JOBS:-1}
    [[ $jobs =~ ^[1-9][0-9]*$ ]] || {
        echo "$0: ITEST_JOBS must be a number of cases (1, 2, ...)" >&2
        exit 2
    }
    trap on_interrupt INT TERM
    t0=$(now_us)
    SUITE_END=$((t0 + SUITE_BUDGET_S * 1000000))
    if ((jobs == 1)); then
        for c in "${sel[@]}"; do
            if run_case "$c"; then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
            fi
        done
    else
        # The cases that must run alone first, one by one, then the
        # others up to $jobs at a time.
        RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-it-run.XXXXXX") || exit 1
        for c in "${sel[@]}"; do
            parallel_ok "$c" && continue
            if run_case "$c"; then
                passed=$((passed + 1))
            else
                failed=$((failed + 1))
            fi
        done
        for c in "${sel[@]}"; do
            parallel_ok "$c" || continue
            reap_jobs $((jobs - 1))
            start_job "$c"
        done
        reap_jobs 0
        rm -rf "$RUN_DIR"
    fi
    if ((${#sel[@]} > 1)); then
        p="one case at a time"
        ((jobs == 1)) || p="up to $jobs cases at a time"
        echo "suite: $((($(now_us) - t0) / 1000000)) s, $p"
    fi
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"
