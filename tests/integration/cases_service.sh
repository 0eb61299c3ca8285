# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 5: tbdaqd under a service manager
# (Type=notify), with notifyrecv standing in for systemd. Sourced by run.sh
# after lib.sh; each case_NAME runs in its own subshell with $T set.
# service_notify follows READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and
# STOPPING=1 through a run, a reload and a stop; service_watchdog_wedged
# wedges one bus with a unit that drips its answer a byte at a time and
# checks that the pings stop (so systemd would restart the daemon) while
# the other bus goes on, and that they resume once the bus moves again.
#
# notifyrecv prints "<CLOCK_MONOTONIC ms> <datagram>" per datagram, so
# every interval below is measured on its clock, between its own lines.

# The watchdog interval the daemon is given (WATCHDOG_USEC); it pings at
# half of it.
SERVICE_WATCHDOG_USEC=1000000
# Pings wanted in any SERVICE_PING_WINDOW_MS while healthy (6 are sent).
SERVICE_PINGS=4
SERVICE_PING_WINDOW_MS=3000
# Silence that proves the pings stopped for a wedged bus (ms).
SERVICE_SILENCE_MS=3000
# Seconds the notifications may take to show (generous: valgrind).
SERVICE_WAIT_S=10
# The wedged bus: its timeout, the unit's drip (below the timeout, so
# libmodbus keeps reading) and how many float32 sensors its one request
# reads. 30 sensors = 60 registers = a 129-byte TCP reply: 32 s at 250 ms
# a byte, far beyond the poller's allowance (2 x (2 x 400 + 800) + 5000 =
# 8.2 s for this bus, daemon/poller.h).
WEDGE_TIMEOUT_MS=400
WEDGE_DRIP_MS=250
WEDGE_SENSORS=30
# How long the pings may take to stop once the unit drips: the allowance,
# the silence, a STATUS= line to measure it by (every 2 s), and slack.
WEDGE_STOP_S=25

# start_notify: runs notifyrecv on $T/notify.sock as "notify" and waits
# until it is bound. The daemons started after it report there.
start_notify() {
    [ -x "$BUILD/tests/notifyrecv" ] || fail "no program $BUILD/tests/notifyrecv"
    spawn notify "$BUILD/tests/notifyrecv" "$T/notify.sock"
    wait_or_fail "grep -qx ready '$T/notify.out' || ! pid_running $PID_notify" \
        5 "notifyrecv did not report ready"
    pid_running "$PID_notify" || fail "notifyrecv exited at start"
}

# start_service_daemon: start_daemon as systemd would run it with
# WatchdogSec=1s; a WATCHDOG_PID or NOTIFY_SOCKET of our own caller's
# environment must not leak in.
start_service_daemon() {
    unset WATCHDOG_PID
    NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=$SERVICE_WATCHDOG_USEC \
        start_daemon
}

# daemon_log: the daemon's stderr with $T (whose name holds the case's,
# "watchdog" included) written as '$T', so that only the messages match.
daemon_log() {
    sed "s|$T|\$T|g" "$T/daemon.err"
}

# notify_lines: how many datagrams notifyrecv has printed.
notify_lines() {
    echo $(($(wc -l <"$T/notify.out") - 1))
}

# notify_has AFTER REGEX: true if a datagram after the first AFTER ones
# matches the extended REGEX (applied to the datagram's text).
notify_has() {
    awk -v after="$1" -v re="$2" 'NR > 1 && NR - 1 > after {
        sub(/^[0-9]+ /, ""); if ($0 ~ re) { found = 1; exit } }
        END { exit !found }' "$T/notify.out"
}

# pings_in_window N WINDOW_MS: true if some WINDOW_MS-long stretch holds
# at least N WATCHDOG=1 datagrams.
pings_in_window() {
    awk -v n="$1" -v w="$2" '$2 == "WATCHDOG=1" { t[k++] = $1 }
        END { for (i = 0; i + n - 1 < k; i++)
                  if (t[i + n - 1] - t[i] <= w) exit 0
              exit 1 }' "$T/notify.out"
}

# pings_after AFTER: how many WATCHDOG=1 came after the first AFTER
# datagrams.
pings_after() {
    awk -v after="$1" 'NR > 1 && NR - 1 > after && $2 == "WATCHDOG=1" { k++ }
        END { print k + 0 }' "$T/notify.out"
}

# ping_silence AFTER: the longest stretch (ms) without WATCHDOG=1 that ends
# at a datagram after the first AFTER ones (STATUS= lines come every 2 s
# whatever the watchdog does, so they mark the time).
ping_silence() {
    awk -v after="$1" 'NR == 1 { next }
        { if (NR - 1 > after && last != "" && $1 - last > best)
              best = $1 - last }
        $2 == "WATCHDOG=1" { last = $1 }
        END { print best + 0 }' "$T/notify.out"
}

# READY=1 once the database is open and polling has begun, STATUS= with
# live counters, WATCHDOG=1 at half WATCHDOG_USEC, RELOADING=1 then READY=1
# around a SIGHUP, STOPPING=1 and exit 0 on SIGTERM.
case_service_notify() {
    local n status
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_notify
    start_service_daemon
    wait_or_fail "notify_has 0 '^READY=1\$'" "$SERVICE_WAIT_S" \
        "no READY=1 from the daemon"
    # The start event is committed before READY=1: the database was open.
    [ -f "$T/t.db" ] || fail "READY=1 came, but there is no database $T/t.db"
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'start';")" -ge 1 ] ||
        fail "READY=1 came before the database recorded the start"
    notify_has 0 '^(RELOADING|STOPPING)=1' &&
        fail "RELOADING=1 or STOPPING=1 before any signal"
    TAGS=FT-1 wait_or_fail "min_readings 3 good" 15 \
        "no good readings after READY=1"

    wait_or_fail "notify_has 0 '^STATUS=.*[0-9]+ readings/s'" \
        "$SERVICE_WAIT_S" "no STATUS= line with readings/s"
    status=$(grep -m1 ' STATUS=' "$T/notify.out" | cut -d' ' -f2-)
    echo "first status: $status"
    wait_or_fail "pings_in_window $SERVICE_PINGS $SERVICE_PING_WINDOW_MS" \
        "$SERVICE_WAIT_S" \
        "fewer than $SERVICE_PINGS WATCHDOG=1 in $SERVICE_PING_WINDOW_MS ms (WATCHDOG_USEC=$SERVICE_WATCHDOG_USEC)"
    echo "pings: $(grep -c ' WATCHDOG=1$' "$T/notify.out")"

    # Reload: RELOADING=1 (systemd >= 253 may want MONOTONIC_USEC= with
    # it, in the same datagram), then READY=1 after it.
    n=$(notify_lines)
    kill -HUP "$PID_daemon"
    wait_or_fail "notify_has $n '^RELOADING=1( |\$)'" "$SERVICE_WAIT_S" \
        "no RELOADING=1 after SIGHUP"
    n=$(awk -v after="$n" 'NR > 1 && NR - 1 > after &&
        / RELOADING=1( |$)/ { print NR - 1; exit }' "$T/notify.out")
    wait_or_fail "notify_has $n '^READY=1\$'" "$SERVICE_WAIT_S" \
        "no READY=1 after RELOADING=1"
    notify_has 0 '^STOPPING=1' && fail "STOPPING=1 before SIGTERM"
    pid_running "$PID_daemon" || fail "the daemon died on SIGHUP"

    n=$(notify_lines)
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
    wait_or_fail "notify_has $n '^STOPPING=1\$'" 5 "no STOPPING=1 on SIGTERM"
}

# Two buses on one simulator: "wedge" reads 30 float32 sensors of unit 1
# in one request, "steady" one sensor of unit 2. Unit 1 starts to drip
# its answers, so a request on "wedge" takes half a minute (libmodbus
# waits for each byte, each within the timeout). Once it has gone on for
# longer than its allowance, the daemon must withhold WATCHDOG=1 for good
# (the service manager would restart it), say so naming the bus, and keep
# recording "steady"; after `normal 1` the reply completes, and the pings
# and a log line about the recovery follow.
case_service_watchdog_wedged() {
    local i n t_normal before silence
    start_sim --port 0 --units 2
    conf_tcp_bus wedge "$WEDGE_TIMEOUT_MS"
    conf_tcp_bus steady 200
    for ((i = 0; i < WEDGE_SENSORS; i++)); do
        conf_sensor "id = \"W-$i\"; kind = \"flow\"; bus = \"wedge\"; unit_id = 1; table = \"holding\"; address = $((1000 + 2 * i)); type = \"float32\"; interval_ms = 500;"
    done
    sim_sensor S-f32 steady 2 holding flow 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_notify
    start_service_daemon
    TAGS="W-0 W-$((WEDGE_SENSORS - 1)) S-f32" wait_or_fail \
        "min_readings 2 good" 15 "no good readings before the drip"
    wait_or_fail "pings_in_window 2 $SERVICE_PING_WINDOW_MS" "$SERVICE_WAIT_S" \
        "no WATCHDOG=1 before the drip"

    n=$(notify_lines)
    sim_ctl "drip 1 $WEDGE_DRIP_MS"
    wait_or_fail "[ \$(ping_silence $n) -ge $SERVICE_SILENCE_MS ]" \
        "$WEDGE_STOP_S" \
        "WATCHDOG=1 went on although bus 'wedge' is stuck in one request"
    pid_running "$PID_daemon" || fail "the daemon died on a dripping unit"
    daemon_log | grep -i "watchdog" | grep -q "'wedge'" ||
        fail "no log line about the watchdog naming bus 'wedge'"
    daemon_log | grep -i "watchdog" | grep -q "'steady'" &&
        fail "the watchdog line names bus 'steady', which never stalled"
    echo "stall: $(daemon_log | grep -i watchdog | head -1)"

    # The other bus keeps recording while the pings are held back.
    n=$(notify_lines)
    before=$(count_readings S-f32 good)
    wait_or_fail "[ \$(count_readings S-f32 good) -ge $((before + 5)) ]" \
        "$SERVICE_WAIT_S" "bus 'steady' stopped recording while 'wedge' was stuck"
    notify_has "$n" '^WATCHDOG=1$' &&
        fail "WATCHDOG=1 resumed while bus 'wedge' was still stuck"
    silence=$(ping_silence 0)
    echo "pings withheld for $silence ms so far"

    # The rest of the reply at once: the request ends, the bus moves.
    n=$(notify_lines)
    t_normal=$(now_us)
    sim_ctl "normal 1"
    wait_or_fail "notify_has $n '^WATCHDOG=1\$'" "$SERVICE_WAIT_S" \
        "WATCHDOG=1 did not resume once bus 'wedge' moved again"
    wait_or_fail "daemon_log | grep -Eiq \"'wedge'.*(moving again|resumed|recovered)\"" \
        "$SERVICE_WAIT_S" "no log line saying bus 'wedge' recovered"
    echo "recovery: $(daemon_log |
        grep -Ei "'wedge'.*(moving again|resumed|recovered)" | head -1)"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'W-0' AND r.quality = 'good'
        AND r.ts_us > $t_normal\") -ge 2 ]" "$SERVICE_WAIT_S" \
        "bus 'wedge' got no good readings after 'normal 1'"
    wait_or_fail "[ \$(pings_after $n) -ge $SERVICE_PINGS ]" "$SERVICE_WAIT_S" \
        "WATCHDOG=1 did not resume its pace after bus 'wedge' moved again"
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms"
}

EXTRA_CASES+=(service_notify service_watchdog_wedged)
