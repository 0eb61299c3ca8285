# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 15, `mqtt.layout = "device"` (SPEC "MQTT"):
# one message per device (bus, unit) and poll on
# <prefix>/<site>/device/<bus>/<unit_id>, with the same delivery promise as
# one message per reading. What the subscriber received is read by
# tools/device_check.py with Python's JSON parser and compared with the
# database. Sourced by run.sh after lib.sh; each case runs in its own
# subshell with $T set.

DEVICE_CHECK=$HERE/tools/device_check.py

# device_layout_conf: three devices (two units on bus plant, one on bus
# line2), two sensors on plant unit 1 in two requests (holding, input),
# every 200 ms, published with the device layout.
device_layout_conf() {
    conf_tcp_bus plant
    conf_tcp_bus line2
    sim_sensor FT-1 plant 1 holding flow 20 200
    sim_sensor PT-1 plant 1 input pressure 20 200
    sim_sensor FT-2 plant 2 holding flow 20 200
    sim_sensor TT-3 line2 1 holding turbidity 20 200
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt 'layout = "device";')"
}

# device_check FIRST LAST [OPTIONS]: tools/device_check.py on sub all.
device_check() {
    python3 "$DEVICE_CHECK" "$T/all.out" "$T/t.db" "$SITE" tbdaq "$@"
}

# Payloads, topics, one poll per message, seq order, union = database.
case_mqtt_device_layout() {
    local last per
    need_mqtt
    start_broker
    start_sim --port 0 --units 2
    device_layout_conf
    start_sub all "tbdaq/$SITE/#"
    start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge 80 ]" 20 \
        "fewer than 80 readings recorded"
    stop_daemon
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_for "device_check 1 $last --ordered --interval-ms 200 >/dev/null" 10 ||
        fail "$(device_check 1 "$last" --ordered --interval-ms 200)"
    device_check 1 "$last" --ordered --interval-ms 200
    # Nothing on the per-reading topics.
    if grep -E "^[01] tbdaq/$SITE/(flow|pressure|turbidity)/" "$T/all.out" >/dev/null; then
        fail "readings were published one per message too"
    fi
    # Plant unit 1's two sensors are read in the same slot: its messages
    # hold both, but for a poll a commit cut in two.
    per=$(awk -v t="tbdaq/$SITE/device/plant/1" '$2 == t {
            n++; k += gsub(/"seq":/, "") } END { printf "%.2f", n ? k / n : 0 }' "$T/all.out")
    echo "plant/1: $per readings per message"
    awk -v p="$per" 'BEGIN { exit !(p > 1.5) }' ||
        fail "plant unit 1's messages hold $per readings on average, not one poll's two"
}

# A broker outage: the readings recorded meanwhile are published after it
# comes back, from the database; a persistent subscriber gets them all.
case_mqtt_device_outage() {
    local s_stop s_restart s_end
    need_mqtt
    start_broker "persistence true" "persistence_location $T/"
    start_sim --port 0 --units 2
    device_layout_conf
    start_sub all "tbdaq/$SITE/#" -c
    start_daemon
    wait_or_fail "[ \$(grep -c '/device/' '$T/all.out') -ge 10 ]" 15 \
        "fewer than 10 device messages received before the outage"
    s_stop=$(sql "SELECT max(seq) FROM readings;")
    stop_broker
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_stop;') -ge 60 ]" 15 \
        "the daemon recorded fewer than 60 readings while the broker was down"
    s_restart=$(sql "SELECT max(seq) FROM readings;")
    restart_broker
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings WHERE seq > $s_restart;') -ge 20 ]" 10 \
        "fewer than 20 readings recorded after the broker came back"
    s_end=$(sql "SELECT max(seq) FROM readings;")
    wait_for "keep_sub all && device_check 1 $s_end >/dev/null" 30 ||
        fail "after the outage: $(device_check 1 "$s_end")"
    device_check 1 "$s_end"
    echo "broker down from seq $s_stop to $s_restart"
    stop_daemon
}

# While the database cannot be written (another process holds its write
# lock for 4 s), the live feed goes on in the device layout too: readings
# not recorded yet, each alone in its device's message ("seq":null,
# "recorded":false), never on the per-reading topics; afterwards every
# reading recorded reaches the subscriber.
case_mqtt_device_live() {
    local live last
    need_mqtt
    start_sim --port 0 --units 2
    start_broker
    device_layout_conf
    start_sub all "tbdaq/$SITE/#"
    start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge 20 ]" 15 \
        "fewer than 20 readings recorded"
    stall_lock_for 4
    wait_or_fail "[ -s '$T/release' ]" 15 "the locker did not let go"
    wait_or_fail "grep -q 'db_up\\|none lost\\|database can be written' '$T/daemon.err'" 10 \
        "the daemon did not say the database is back"
    stop_daemon
    live=$(grep -c "^[01] tbdaq/$SITE/device/[^ ]* {.*\"readings\":\[{\"seq\":null,[^]]*\"recorded\":false}\]}\$" "$T/all.out")
    echo "$live live device messages during the lock"
    [ "$live" -ge 10 ] || fail "only $live live device messages while the database was locked"
    if grep -E "^[01] tbdaq/$SITE/(flow|pressure|turbidity)/" "$T/all.out" >/dev/null; then
        fail "live readings went to the per-reading topics"
    fi
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_for "device_check 1 $last >/dev/null" 10 || fail "$(device_check 1 "$last")"
}

EXTRA_CASES+=(mqtt_device_layout mqtt_device_outage mqtt_device_live)
