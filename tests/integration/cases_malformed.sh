# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 6: a unit that answers with malformed frames
# (tbdaq-sim's `malformed UNIT MODE`). Sourced by run.sh after lib.sh; each
# case_NAME runs in its own subshell with $T set, like run.sh's own cases.
# For every mode in turn the spoiled unit must get comm_error readings
# (value NULL, an error text) and never a wrong value passed as good; a
# healthy unit keeps its good readings on time; after `normal` the unit is
# good again; and the daemon keeps running and ends with exit 0 on SIGTERM.

# Seconds a mode may take to show, and to clear (generous: the valgrind
# run is 20-50x slower).
MALFORMED_WAIT_S=10
# comm_error readings wanted per mode, and good ones after `normal`.
MALFORMED_ERRORS=2
MALFORMED_GOOD=2

# malformed_cycle TAGS MODE...: for each MODE, `malformed 1 MODE` until the
# sensors TAGS (a space-separated list) have MALFORMED_ERRORS comm_error
# readings since, then `normal 1` until the first of TAGS has
# MALFORMED_GOOD good readings since; the daemon must run throughout. A
# MODE written NAME:tolerated is one libmodbus accepts (the data in the
# frame is intact), so only MALFORMED_ERRORS readings of any quality are
# waited for. Prints each mode's first error.
malformed_cycle() {
    local tags=$1 m mode t_on t_off err list q
    shift
    # shellcheck disable=SC2086 # a list, split on purpose
    list=$(printf "'%s'," $tags)
    list=${list%,}
    for m in "$@"; do
        mode=${m%%:*}
        q="AND r.quality = 'comm_error'"
        [ "$m" = "$mode" ] || q=
        t_on=$(now_us)
        sim_ctl "malformed 1 $mode"
        wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
            ON s.id = r.sensor_id WHERE s.tag IN ($list) AND r.ts_us > $t_on
            $q\") -ge $MALFORMED_ERRORS ]" \
            "$MALFORMED_WAIT_S" \
            "unit 1 answers malformed frames ($mode), but none of $tags got comm_error readings"
        pid_running "$PID_daemon" || fail "the daemon died on malformed frames ($mode)"
        t_off=$(now_us)
        sim_ctl "normal 1"
        wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
            ON s.id = r.sensor_id WHERE s.tag IN ($list) AND r.ts_us > $t_off
            AND r.quality = 'good'\") -ge $MALFORMED_GOOD ]" \
            "$MALFORMED_WAIT_S" \
            "$tags did not return to good readings after malformed $mode and 'normal 1'"
        pid_running "$PID_daemon" || fail "the daemon died after malformed frames ($mode)"
        err=$(sql "SELECT count(*) || ' comm_error, first: ' || ifnull((SELECT
            r.error FROM readings r JOIN sensors s ON s.id = r.sensor_id
            WHERE s.tag IN ($list) AND r.ts_us BETWEEN $t_on AND $t_off
            AND r.quality = 'comm_error' ORDER BY r.seq LIMIT 1), '-')
            FROM readings r JOIN sensors s ON s.id = r.sensor_id
            WHERE s.tag IN ($list) AND r.ts_us BETWEEN $t_on AND $t_off
            AND r.quality = 'comm_error';")
        echo "malformed $m: $err"
    done
}

# malformed_check_readings BAD_TAGS GOOD_TAGS: every comm_error reading has
# a NULL value and an error text; every good reading of BAD_TAGS (taken
# while a mode held or not) matches the simulator's formula, so no spoiled
# frame was decoded as data; every reading of GOOD_TAGS is good.
malformed_check_readings() {
    local bad=$1 good=$2 out n
    # shellcheck disable=SC2086
    out=$(dump_readings $bad $good | awk -F'\t' '$4 == "comm_error" {
        if ($3 != "NULL") { print $1 ": comm_error with value " $3; exit 1 }
        if ($5 == "") { print $1 ": comm_error without error text"; exit 1 } }') ||
        fail "$out"
    # check_formula wants readings of every sensor in $T/expect: only
    # those of the malformed unit's are given.
    mv "$T/expect" "$T/expect.all"
    # shellcheck disable=SC2086
    printf '%s\n' $bad | awk 'FNR == NR { t[$1]; next } $1 in t' - \
        "$T/expect.all" >"$T/expect"
    # shellcheck disable=SC2086
    out=$(dump_readings $bad | awk -F'\t' '$4 == "good"' |
        DT_S=0.05 check_formula)
    n=$?
    mv "$T/expect.all" "$T/expect"
    [ $n = 0 ] ||
        fail "a good reading of the malformed unit is off the formula: $out"
    # shellcheck disable=SC2086
    out=$(dump_readings $good | awk -F'\t' '$4 != "good" { n++
        if (!e) e = $1 " " $4 " " $5 }
        END { if (n) { print n " readings not good, e.g. " e; exit 1 } }') ||
        fail "the healthy unit was disturbed: $out"
}

# Modbus TCP: every malformed mode in turn on unit 1 (bus line-a), unit 2
# on its own connection (bus line-b) polled every 100 ms throughout.
case_malformed_tcp() {
    local out n tol
    start_sim --port 0 --units 2
    conf_tcp_bus line-a
    conf_tcp_bus line-b
    sim_sensor MA-i16 line-a 1 holding flow 0 100
    sim_sensor MA-f32 line-a 1 holding flow 20 100
    sim_sensor MB-f32 line-b 2 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    latency_start
    start_daemon
    wait_or_fail "min_readings 3 good" 15 "no good readings before the faults"
    # libmodbus 3.1.6 checks neither the unit id nor the MBAP length of a
    # TCP reply: those frames carry the right data and are taken.
    malformed_cycle "MA-i16 MA-f32" short bytecount unit:tolerated function \
        tid garbage length:tolerated extra
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
    tol=$(latency_tol "${ITEST_TIMING_TOL_US:-$TIMING_TOL_US}")

    malformed_check_readings "MA-i16 MA-f32" MB-f32
    # ITEST_TIMING_TOL_US: a slower run (valgrind) widens the tolerance.
    out=$(dump_readings MB-f32 | check_spacing 100000 "$tol") ||
        fail "unit 2 (bus line-b) readings disturbed by unit 1's malformed frames: $out"
    echo "unit 2 spacing: $out"
    n=$(sql "SELECT count(*) FROM events WHERE kind IN ('missed', 'bus_down',
             'bus_up') AND (detail LIKE '%line-b%' OR detail LIKE '%MB-%');")
    [ "$n" = 0 ] || fail "events name bus line-b, which never failed: $(sql \
        "SELECT kind || ' ' || detail FROM events WHERE detail LIKE '%line-b%'
         OR detail LIKE '%MB-%' LIMIT 2;")"
}

# Modbus RTU through a pty pair: every mode RTU has, on unit 1, with unit 2
# on the same line. A unit that times out holds the shared line, so unit
# 2's readings may come up to a timeout late, but every one is good and
# none of its slots is lost. The grid is 400 ms: a 150 ms timeout (and a
# malformed answer read to its end) plus unit 2's request fit a slot with
# room to spare on a busy machine (at 200 ms, a slot was seen missed under
# the load of parallel builds).
case_malformed_rtu() {
    local n first last slots missed out
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 2
    conf_rtu_bus rs485 150
    sim_sensor RA-i16 rs485 1 holding flow 0 400
    sim_sensor RA-f32 rs485 1 holding flow 20 400
    sim_sensor RB-f32 rs485 2 input pressure 20 400
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 3 good" 15 "no good readings before the faults"
    malformed_cycle "RA-i16 RA-f32" crc short unit garbage bytecount \
        function extra
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"

    malformed_check_readings "RA-i16 RA-f32" RB-f32
    read -r n first last <<<"$(sql "SELECT count(*), min(r.ts_us), max(r.ts_us)
        FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = 'RB-f32';" | tr '\t' ' ')"
    slots=$(((last - first + 200000) / 400000 + 1))
    missed=$(missed_slots RB-f32)
    echo "RB-f32: $n readings + $missed missed, $slots slots"
    ((n >= slots - 1)) ||
        fail "unit 2 got $n readings in $slots slots of 400 ms: the malformed unit on its line cost it readings"
    out=$(dump_readings RB-f32 | check_spacing 400000 200000) ||
        fail "unit 2's readings are not every 400 ms (+- a timeout): $out"
    echo "unit 2 spacing: $out"
    stop_pid "$PID_socat"
}
