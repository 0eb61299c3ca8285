# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of `tbdaq read SENSOR...` (issue 14): configured
# sensors read once, without the daemon, shown as the daemon records
# them. The simulator's fixed registers (its --help: 900 int16 -12345,
# 904 uint32 3000000000, 906 float32 1234.5, 908 float64 -9876.54321, all
# ABCD) with a scale give known values; a muted unit gives comm_error and
# exit 1; the same sensors recorded by the daemon give the same values
# and raw words. Sourced by run.sh after lib.sh; case_NAME runs in its
# own subshell with $T set.

# read_cli ARGS...: `tbdaq -c $T/t.conf read ARGS`; stdout in $T/o,
# stderr in $T/e, the exit status in RC.
read_cli() {
    timeout 20 "$BUILD/tbdaq" -c "$T/t.conf" read "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# read_want TAG VALUE QUALITY RAW: the row of TAG shows them.
read_want() {
    local row
    row=$(awk -v tag="$1" '$1 == tag' "$T/o")
    [ -n "$row" ] || fail "read: no row for $1: $(cat "$T/o")"
    read -r -a f <<<"$row"
    [ "${f[1]}" = "$2" ] || fail "read $1: value '${f[1]}', want '$2' ($row)"
    [[ "$row" == *" $3 "* ]] || fail "read $1: quality not $3 ($row)"
    [[ "$row" == *" $4"* ]] || fail "read $1: raw not '$4' ($row)"
}

case_read_sensors() {
    start_sim --port 0 --units 2
    conf_tcp_bus plant
    conf_sensor 'id = "FIX-I16"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 1; table = "holding"; address = 900; type = "int16"; scale = 0.01; interval_ms = 1000;'
    conf_sensor 'id = "FIX-U32"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 1; table = "holding"; address = 904; type = "uint32"; scale = 0.001; interval_ms = 1000;'
    conf_sensor 'id = "FIX-F32"; kind = "flow"; bus = "plant"; unit_id = 2; table = "input"; address = 906; type = "float32"; interval_ms = 1000;'
    conf_sensor 'id = "FIX-F64"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 2; table = "holding"; address = 908; type = "float64"; interval_ms = 1000; range = [-100.0, 100.0];'
    conf_write "$T/t.conf"

    read_cli FIX-I16 FIX-U32 FIX-F32 FIX-F64
    [ "$RC" = 0 ] || fail "read: exit $RC: $(cat "$T/e")"
    cat "$T/o"
    head -1 "$T/o" | grep -q '^SENSOR  *VALUE  *UNIT  *QUALITY  *RAW' ||
        fail "read: no header: $(head -1 "$T/o")"
    read_want FIX-I16 -123.45 good cfc7
    read_want FIX-U32 3000000 good "b2d0 5e00"
    # flow's range is >= 0 by default: good
    read_want FIX-F32 1234.5 good "449a 5000"
    # outside the configured range
    read_want FIX-F64 -9876.54321 out_of_range "c0c3 4a45 87e7 c06e"

    # unknown sensors: named, nothing read, exit 1; none: usage
    read_cli FIX-I16 NOPE
    [ "$RC" = 1 ] && grep -q "unknown sensor 'NOPE'" "$T/e" ||
        fail "read of an unknown sensor: exit $RC: $(cat "$T/e")"
    read_cli
    [ "$RC" = 2 ] || fail "read without sensors: exit $RC, want 2"

    # a unit that does not answer: comm_error, exit 1, the others read
    sim_ctl "mute 2"
    read_cli FIX-F32 FIX-I16
    [ "$RC" = 1 ] || fail "read of a muted unit: exit $RC, want 1"
    [[ "$(awk '$1 == "FIX-F32"' "$T/o")" == *comm_error* ]] ||
        fail "read of a muted unit: $(cat "$T/o")"
    read_want FIX-I16 -123.45 good cfc7
    sim_ctl "normal 2"

    # the daemon records the same values and raw words
    start_daemon
    wait_or_fail "[ \$(sql \"SELECT count(DISTINCT sensor_id) FROM readings
        WHERE quality != 'missed';\") -ge 4 ]" 15 "the daemon recorded nothing"
    read_cli FIX-I16 FIX-U32 FIX-F32 FIX-F64
    [ "$RC" = 0 ] || fail "read beside the daemon: exit $RC: $(cat "$T/e")"
    for tag in FIX-I16 FIX-U32 FIX-F32 FIX-F64; do
        local db mine
        db=$(sql "SELECT r.value || ' ' || r.quality || ' ' || r.raw
            FROM readings r JOIN sensors s ON s.id = r.sensor_id
            WHERE s.tag = '$tag' AND r.quality != 'missed'
            ORDER BY r.seq DESC LIMIT 1;")
        mine=$(awk -v tag="$tag" '$1 == tag { v = $2; q = $4; $1 = $2 = $3 = $4 = "";
            sub(/^ +/, ""); print v " " q " " $0 }' "$T/o")
        # the values as numbers (sqlite3 prints a whole REAL as 3000000.0)
        awk -v a="$mine" -v b="$db" 'BEGIN { split(a, x, " "); split(b, y, " ")
            va = x[1]; vb = y[1]; sub(/^[^ ]+ /, "", a); sub(/^[^ ]+ /, "", b)
            exit !(va + 0 == vb + 0 && a == b) }' ||
            fail "read $tag shows '$mine', the daemon recorded '$db'"
    done
    stop_daemon
}

EXTRA_CASES+=(read_sensors)
