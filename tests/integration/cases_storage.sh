# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 5: the database cannot be written. Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.
#
# Two real ways to make SQLite's writes fail, one per case:
# - disk_full: the database lives on a 16 MiB tmpfs (in a mount namespace
#   of its own, held open by a `sleep` so that the files outlive the
#   daemon), and a filler file takes the space that is left (ENOSPC);
# - disk_fsize: the daemon runs with a file-size limit (RLIMIT_FSIZE, the
#   writes fail with EFBIG), raised again from outside with prlimit(1).
# Both go through two outages with 10 sensors at 100 ms (100 readings/s)
# and buffer_readings = 500 (5 s of readings):
# 1. a short one: every reading taken is recorded after recovery, with no
#    gap over 150 ms in any sensor, and seqs stay contiguous;
# 2. one longer than the buffer: the readings beyond it are counted in the
#    log and in the db_up event, and the rest are recorded.
# Throughout, the live feed goes on ("recorded":false messages while the
# database cannot be written), the recorded feed delivers every seq the
# database holds, the daemon stays up, and at the end PRAGMA
# integrity_check and tbdaq verify pass and SIGTERM exits 0.

# Readings the daemon may hold in memory in these cases, and the tmpfs.
STORAGE_BUFFER=500
STORAGE_TMPFS_SIZE=16m
# The file-size limit that breaks the fsize case: past the WAL header, so
# every write of a commit fails (Linux refuses writes at offsets past the
# limit, even inside an existing file).
STORAGE_FSIZE_LIMIT=65536

# How the current case breaks and mends its storage: "tmpfs" or "fsize".
STORAGE_MODE=
# The database's directory, as seen from here.
STORAGE_DIR=
# The command prefix that enters the tmpfs's mount namespace (or none).
STORAGE_NS=()

# storage_setup MODE: the database directory and the daemon's command.
storage_setup() {
    STORAGE_MODE=$1
    case $1 in
    tmpfs)
        mkdir -p "$T/disk"
        spawn holder unshare -m --propagation private sh -c \
            "mount -t tmpfs -o size=$STORAGE_TMPFS_SIZE tbdaq-itest '$T/disk' && touch '$T/disk/.mounted' && exec sleep 3600"
        STORAGE_DIR=/proc/$PID_holder/root$T/disk
        wait_or_fail "[ -e '$STORAGE_DIR/.mounted' ] || ! pid_running $PID_holder" \
            10 "no tmpfs mounted"
        pid_running "$PID_holder" ||
            fail "cannot mount a tmpfs in a mount namespace: $(cat "$T/holder.err")"
        CONF_DB=$T/disk/t.db
        # SQLite resolves symbolic links in a database's path, and
        # /proc/PID/root is one (to "/", seen from here): the database must
        # be opened from inside the namespace. lib.sh's sql() checks that
        # the file exists first: the placeholder below the mount answers.
        touch "$T/disk/t.db"
        STORAGE_NS=(nsenter -t "$PID_holder" -m)
        ;;
    fsize)
        mkdir -p "$T/disk"
        STORAGE_DIR=$T/disk
        CONF_DB=$T/disk/t.db
        STORAGE_NS=()
        ;;
    esac
    SQL_DB=$CONF_DB
}

# sqlite3 (as lib.sh's sql() calls it) and tbdaq, inside the case's mount
# namespace if it has one.
sqlite3() {
    "${STORAGE_NS[@]}" /usr/bin/sqlite3 "$@"
}

storage_tbdaq() {
    "${STORAGE_NS[@]}" "$BUILD/tbdaq" "$@"
}

# storage_daemon: starts tbdaqd on $T/t.conf the way the mode needs.
storage_daemon() {
    case $STORAGE_MODE in
    tmpfs)
        spawn daemon nsenter -t "$PID_holder" -m "$BUILD/tbdaqd" -c "$T/t.conf"
        ;;
    fsize)
        spawn daemon "$BUILD/tbdaqd" -c "$T/t.conf"
        ;;
    esac
    wait_or_fail "[ -f '$STORAGE_DIR/t.db-wal' ] || ! pid_running $PID_daemon" 10 \
        "the daemon created no database"
    pid_running "$PID_daemon" || fail "the daemon exited at start"
}

# storage_break: makes the next commits fail.
storage_break() {
    case $STORAGE_MODE in
    tmpfs)
        # Fills what is left; dd ends with "No space left on device".
        dd if=/dev/zero of="$STORAGE_DIR/filler" bs=64k 2>/dev/null
        ;;
    fsize)
        prlimit --pid "$PID_daemon" --fsize="$STORAGE_FSIZE_LIMIT:unlimited" ||
            fail "prlimit cannot lower the daemon's file-size limit"
        ;;
    esac
}

# storage_mend: gives the space back.
storage_mend() {
    case $STORAGE_MODE in
    tmpfs) rm -f "$STORAGE_DIR/filler" ;;
    fsize)
        prlimit --pid "$PID_daemon" --fsize=unlimited:unlimited ||
            fail "prlimit cannot raise the daemon's file-size limit"
        ;;
    esac
}

# live_between FROM_US TO_US: "recorded":false messages the subscriber got
# for readings taken in [FROM_US, TO_US).
live_between() {
    awk -v lo="$1" -v hi="$2" '
        /"recorded":false/ && match($0, /"ts_us":[0-9]+/) {
            t = substr($0, RSTART + 8, RLENGTH - 8) + 0
            if (t >= lo && t < hi) n++ }
        END { print n + 0 }' "$T/sub.out"
}

storage_case() {
    local t_fail t_up lost detail seqs spacing gap lo hi n v
    storage_setup "$1"
    need_mqtt
    start_sim --port 0 --units 1
    start_broker
    conf_tcp_bus b1
    for n in 0 2 4 6 8 10 12 14 16 18; do
        sim_sensor "S$n" b1 1 holding flow "$n" 100
    done
    conf_write "$T/t.conf" "buffer_readings = $STORAGE_BUFFER;" \
        "$(conf_mqtt)"
    start_sub sub 'tbdaq/itest/flow/#'
    storage_daemon
    wait_or_fail "min_readings 20" 10 "no readings recorded at start"
    wait_or_fail "[ \$(count_lines '\"seq\":' '$T/sub.out') -ge 100 ]" 10 \
        "nothing published at start"

    # 1. A short outage, well inside the buffer.
    storage_break
    wait_or_fail "grep -q 'cannot write the database' '$T/daemon.err'" 10 \
        "no commit failed after the storage was broken"
    t_fail=$(now_us)
    wait_or_fail "[ \$(live_between $t_fail 9999999999999999) -ge 10 ]" 5 \
        "no live readings published while the database cannot be written"
    storage_mend
    wait_or_fail "grep -q 'writable again' '$T/daemon.err'" 10 \
        "the daemon did not record again after the storage was mended"
    t_up=$(now_us)
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events WHERE kind = 'db_up';\") = 1 ]" \
        5 "no db_up event recorded"
    detail=$(sql "SELECT detail FROM events WHERE kind = 'db_up';")
    [[ $detail == *"none lost"* ]] ||
        fail "db_up after a short outage: '$detail' (want none lost)"
    sql "SELECT count(*) FROM events WHERE kind = 'db_down'
         AND detail <> '';" | grep -qx 1 || fail "no db_down event with the error"
    # Every reading taken during the outage is recorded: no gap.
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us > $t_up + 500000;\") -ge 50 ]" 10 \
        "readings do not come in after recovery"
    spacing=$(sql "SELECT s.tag, r.ts_us FROM readings r
                   JOIN sensors s ON s.id = r.sensor_id
                   WHERE r.ts_us < $t_up ORDER BY r.seq;" |
        check_spacing 100000 50000) ||
        fail "readings lost in a short outage: $spacing"
    echo "short outage: $spacing"

    # 2. An outage longer than the buffer.
    storage_break
    wait_or_fail "[ \$(grep -c 'cannot write the database' '$T/daemon.err') -ge 2 ]" \
        10 "no commit failed after the storage was broken again"
    t_fail=$(now_us)
    wait_or_fail "grep -q 'published live but not recorded' '$T/daemon.err'" \
        15 "the buffer never filled"
    sleep 1 # an outage that goes on: a duration, not a wait for a state
    storage_mend
    wait_or_fail "[ \$(grep -c 'writable again' '$T/daemon.err') -ge 2 ]" 10 \
        "the daemon did not record again after the second outage"
    t_up=$(now_us)
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events WHERE kind = 'db_up';\") = 2 ]" \
        5 "no second db_up event recorded"
    detail=$(sql "SELECT detail FROM events WHERE kind = 'db_up'
                  ORDER BY seq DESC LIMIT 1;")
    lost=$(sed -n 's/.*, \([0-9][0-9]*\) lost (taken.*/\1/p' <<<"$detail")
    [ -n "$lost" ] && ((lost > 0)) ||
        fail "db_up after a long outage does not count lost readings: '$detail'"
    grep -q "$lost lost" "$T/daemon.err" ||
        fail "the log does not say $lost readings were lost"
    # The recorded readings have one gap, and the live feed covered it.
    gap=$(sql "SELECT max(d) FROM (SELECT ts_us - lag(ts_us) OVER
                 (PARTITION BY sensor_id ORDER BY seq) AS d FROM readings
                 WHERE ts_us > $t_fail - 2000000);")
    ((gap > 500000)) || fail "no gap in the recorded readings ($gap us) though $lost were lost"
    v=$(live_between "$t_fail" "$t_up")
    ((v >= lost)) ||
        fail "live feed during the long outage: $v messages, fewer than the $lost not recorded"
    echo "long outage: $lost readings not recorded (longest gap $gap us), $v live messages meanwhile"

    # Seqs stay contiguous, and every one reaches the recorded feed.
    seqs=$(sql "SELECT min(seq), max(seq), count(*) FROM readings;")
    read -r lo hi n <<<"$seqs"
    [ $((hi - lo + 1)) = "$n" ] || fail "seqs are not contiguous: $seqs"
    wait_or_fail "sub_received sub $lo $hi" 20 \
        "recorded feed: $(sub_received sub "$lo" "$hi")"
    stop_daemon
    [ "$(sql 'PRAGMA integrity_check;')" = ok ] || fail "integrity_check failed"
    storage_tbdaq -d "$SQL_DB" verify >"$T/verify.out" 2>&1 ||
        fail "tbdaq verify: $(cat "$T/verify.out")"
}

case_disk_full() {
    storage_case tmpfs
}

case_disk_fsize() {
    storage_case fsize
}

# SIGTERM while the database cannot be written (a file-size limit), with
# MQTT: the daemon says what it could not commit, exits 1 within 5 s,
# still says offline to the broker, and does not try to write the
# acknowledged seq into the database it knows is down.
case_stop_during_outage() {
    local t0 t1 st
    storage_setup fsize
    need_mqtt
    start_sim --port 0 --units 1
    start_broker
    conf_tcp_bus b1
    sim_sensor S0 b1 1 holding flow 0 100
    conf_write "$T/t.conf" "buffer_readings = $STORAGE_BUFFER;" "$(conf_mqtt)"
    storage_daemon
    wait_or_fail "min_readings 5" 10 "no readings recorded at start"
    storage_break
    wait_or_fail "grep -q 'cannot write the database' '$T/daemon.err'" 10 \
        "no outage logged after the file-size limit"
    t0=$(now_us)
    DAEMON_STOPPED=1
    stop_pid "$PID_daemon" 5 || fail "the daemon did not exit within 5 s of SIGTERM"
    t1=$(now_us)
    echo "exit $STOP_RC after $(((t1 - t0) / 1000)) ms"
    [ "$STOP_RC" = 1 ] || fail "a stop that lost readings exited $STOP_RC (want 1)"
    grep -q 'readings taken are lost' "$T/daemon.err" ||
        fail "the stop did not say which readings are lost: $(tail -3 "$T/daemon.err")"
    ! grep -q 'cannot write state' "$T/daemon.err" ||
        fail "the stop wrote the acknowledged seq into a database it knew was down: $(grep 'cannot write state' "$T/daemon.err")"
    st=$(mqtt_get "tbdaq/$SITE/status")
    [ "$st" = '1 {"state":"offline"}' ] ||
        fail "the retained status after the stop is '$st', want offline"
}

EXTRA_CASES+=(disk_full disk_fsize stop_during_outage)
