# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 10, "never stalled, never late": what holds
# the daemon up (another writer's lock on the database, a device frozen
# inside a request during a reload, a poller that cannot start) delays
# nothing else, loses nothing taken, and ends the way SPEC says. Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.

# How long another process holds the database's write lock in
# db_locked_10s (s), and how soon after it lets go every reading taken
# before must be committed (us).
STALL_LOCK_S=10
STALL_BACKLOG_US=1500000

# stall_sim NAME [ARGS...]: a simulator of its own, as NAME (its output in
# $T/NAME.out, its PID in PID_NAME), on an ephemeral port; sets PORT_NAME.
stall_sim() {
    local name=$1 pid line port
    shift
    [ -x "$BUILD/tbdaq-sim" ] || fail "no program $BUILD/tbdaq-sim"
    spawn "$name" "$BUILD/tbdaq-sim" --port 0 "$@"
    pid=PID_$name
    pid=${!pid}
    wait_or_fail "grep -q 'tbdaq-sim: listening on 127.0.0.1:' '$T/$name.out' ||
        ! pid_running $pid" 10 "simulator $name did not report its port"
    pid_running "$pid" || fail "simulator $name exited at start"
    line=$(grep -m1 'tbdaq-sim: listening on 127.0.0.1:' "$T/$name.out")
    port=${line##*:}
    port=${port%%[!0-9]*}
    [ -n "$port" ] || fail "cannot parse the port of $name from '$line'"
    printf -v "PORT_$name" '%s' "$port"
}

# stall_newest TAG: ts_us of TAG's newest committed reading (0 if none).
stall_newest() {
    sql "SELECT ifnull(max(r.ts_us), 0) FROM readings r
         JOIN sensors s ON s.id = r.sensor_id WHERE s.tag = '$1';"
}

# stall_all_after N TS_US: true if each of N sensors has a committed
# reading taken at or after TS_US. Readings are committed in the order
# they were taken, so every reading taken before TS_US is then committed.
stall_all_after() {
    [ "$(sql "SELECT count(DISTINCT sensor_id) FROM readings
              WHERE ts_us >= $2;")" = "$1" ]
}

# stall_no_gaps INTERVAL_MS TAG...: every slot of each TAG, from its first
# reading to its last, has its reading: consecutive readings one interval
# apart (+- half of one), no `missed` reading and no slot counted in a
# missed event.
stall_no_gaps() {
    local iv=$1 tag out n
    shift
    out=$(dump_readings "$@" | check_spacing $((iv * 1000)) $((iv * 500))) ||
        fail "readings of $* lost: $out"
    echo "$*: $out"
    for tag in "$@"; do
        n=$(missed_slots "$tag")
        [ "$n" = 0 ] || fail "$tag: $n slots counted missed"
        n=$(count_readings "$tag" missed)
        [ "$n" = 0 ] || fail "$tag: $n readings of quality missed"
    done
}

# stall_lock_for S: another process (sqlite3, as PID_locker) takes the
# database's write lock and holds it S seconds (the pause is the lock's
# duration); $T/locked, $T/mid and $T/release hold the times (us) it took
# the lock, was halfway and let go of it, each written whole (mv).
stall_lock_for() {
    cat >"$T/mark.sh" <<EOS
#!/bin/sh
date +%s%6N >"$T/\$1.tmp" && mv "$T/\$1.tmp" "$T/\$1"
EOS
    printf '%s\n' ".timeout 10000" "BEGIN IMMEDIATE;" \
        ".system sh $T/mark.sh locked" ".system sleep $(($1 / 2))" \
        ".system sh $T/mark.sh mid" ".system sleep $(($1 - $1 / 2))" \
        ".system sh $T/mark.sh release" "ROLLBACK;" >"$T/lock.sql"
    # stdin is /dev/null: sqlite3 runs the file, then ends.
    spawn locker "$(type -P sqlite3)" -batch -init "$T/lock.sql" "$T/t.db"
    wait_or_fail "[ -s '$T/locked' ] || ! pid_running $PID_locker" 15 \
        "sqlite3 did not take the write lock"
}

# Another process holds the database's write lock for 10 s while the
# daemon records (BEGIN IMMEDIATE in sqlite3, then a 10 s pause before
# ROLLBACK: the pause is the lock's duration). Nothing is lost: every slot
# of every sensor has its reading. The backlog lands at once: within 1.5 s
# of the release every reading taken before it is committed (0.2 s
# measured on 3b42b3a; the measure here also waits for the next slot of
# the 200 ms sensors and the commit interval, so it is an upper bound).
case_db_locked_10s() {
    local locked mid release lag n
    start_sim --port 0 --units 2
    # A second of timeout: a busy machine gives no comm_error.
    conf_tcp_bus a 1000
    conf_tcp_bus b 1000
    sim_sensor F1 a 1 holding flow 20 100
    sim_sensor P1 a 1 input pressure 20 200
    sim_sensor F2 b 2 holding flow 0 100
    sim_sensor T2 b 2 input turbidity 20 200
    conf_write "$T/t.conf"
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"

    stall_lock_for $STALL_LOCK_S
    locked=$(cat "$T/locked") || fail "sqlite3 did not take the write lock: $(cat "$T/locker.err")"
    ! "$(type -P sqlite3)" "$T/t.db" "BEGIN IMMEDIATE; ROLLBACK;" 2>/dev/null ||
        fail "the database's write lock is free while sqlite3 should hold it"
    wait_or_fail "[ -s '$T/mid' ]" $((STALL_LOCK_S + 5)) "the locker did not go on"
    mid=$(cat "$T/mid")
    # Halfway: the lock holds the daemon's commits up.
    n=$(sql "SELECT count(*) FROM readings WHERE ts_us > $locked;")
    [ "$n" = 0 ] ||
        fail "$n readings taken after the lock was taken were committed: the lock did not hold"
    wait_or_fail "[ -s '$T/release' ]" $((STALL_LOCK_S + 5)) \
        "the locker did not let go"
    release=$(cat "$T/release")
    wait_or_fail "stall_all_after 4 $release" 10 \
        "the readings taken during the lock were not committed after it"
    lag=$(($(now_us) - release))
    echo "lock held $(((release - locked) / 1000)) ms; everything taken before the release committed $((lag / 1000)) ms after it"
    ((lag <= STALL_BACKLOG_US)) ||
        fail "the backlog landed $((lag / 1000)) ms after the lock's release (want <= $((STALL_BACKLOG_US / 1000)) ms)"
    wait_or_fail "! pid_running $PID_locker" 10 "sqlite3 did not end"
    [ ! -s "$T/locker.err" ] || fail "sqlite3: $(tr '\n' ' ' <"$T/locker.err")"
    # Some slots past the release, then the whole record.
    wait_or_fail "stall_all_after 4 $((release + 1000000))" 10 \
        "readings stopped after the lock's release"
    stop_daemon
    (($(stall_newest F1) > mid)) || fail "no reading after the lock"
    stall_no_gaps 100 F1 F2
    stall_no_gaps 200 P1 T2
    n=$(sql "SELECT count(*) FROM readings WHERE quality <> 'good';")
    [ "$n" = 0 ] || fail "$n readings not good"
}

# stall_thaw: SIGCONT to a simulator this case froze (a stopped process
# would take SIGTERM only at SIGKILL time), then the usual teardown.
stall_thaw() {
    [ -z "${STALL_FROZEN:-}" ] || kill -CONT "$STALL_FROZEN" 2>/dev/null
    STALL_FROZEN=
}

# Two buses on two simulators. Bus A's device freezes (SIGSTOP) inside a
# request that may last 11 minutes (timeout 60 s, 10 retries); the config
# then changes bus A, and SIGHUP makes the reload wait for bus A's poller.
# SIGTERM during that wait: the daemon exits 0 within 5 s, and everything
# taken is committed: bus B's readings went on, without a gap, during the
# reload's wait and up to the stop (as many as its simulator answered),
# and the stop event is the last. Fails on 3b42b3a: the reload waited
# without a deadline and SIGTERM was not heard.
case_sigterm_during_reload() {
    local t_hup t_term n newest L R t fn addr tag
    trap 'stall_thaw; stop_all' EXIT
    stall_sim simA --units 1
    stall_sim simB --units 1 --log "$T/simB.log"
    conf_raw_bus "name = \"A\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $PORT_simA; timeout_ms = 60000; retries = 10;"
    conf_raw_bus "name = \"B\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $PORT_simB; timeout_ms = 1000; retries = 0;"
    sim_sensor A1 A 1 holding flow 20 100
    sim_sensor B1 B 1 holding flow 20 100
    sim_sensor B2 B 1 input pressure 20 100
    conf_write "$T/t.conf"
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"

    kill -STOP "$PID_simA" || fail "cannot stop simulator A"
    STALL_FROZEN=$PID_simA
    # Bus A is inside a request once its readings stop.
    wait_or_fail "(( \$(now_us) - \$(stall_newest A1) > 500000 ))" 10 \
        "bus A still reads from a frozen device"
    # Bus A changes: its poller must stop, and it is inside the request.
    CONF_BUSES[0]="  { name = \"A\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $PORT_simA; timeout_ms = 59000; retries = 10; }"
    conf_write "$T/t.conf"
    t_hup=$(now_us)
    kill -HUP "$PID_daemon"
    wait_or_fail "grep -q 'reloading' '$T/daemon.err'" 10 "no reload began"
    # Bus B goes on while the reload waits: a second of readings.
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'B1'
        AND r.ts_us > $t_hup;\") -ge 10 ]" 10 \
        "bus B's readings stopped during the reload"
    ! grep -q 'configuration reloaded' "$T/daemon.err" ||
        fail "the reload did not wait for bus A's poller: the case tests nothing"
    t_term=$(now_us)
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms, $(((t_term - t_hup) / 1000)) ms after SIGHUP"
    stall_thaw

    [ "$(sql "SELECT kind FROM events ORDER BY seq DESC LIMIT 1;")" = stop ] ||
        fail "the last event is not stop"
    # B: no gap from start to stop, up to the stop, and every request its
    # simulator answered is a committed reading (a poller stopped as SPEC
    # says finishes the request it is in, and what it read is committed;
    # case sigterm_commits holds the same).
    stall_no_gaps 100 B1 B2
    # B's device answers at once: its poller is stopped, not left behind
    # (a reading it takes after the last commit would be lost).
    ! grep -q "bus 'B' is still waiting on a device" "$T/daemon.err" ||
        fail "the stop left bus B's poller behind, though its device answers at once: what it reads after the last commit is lost"
    newest=$(stall_newest B1)
    ((newest >= t_term - 300000)) ||
        fail "B1's newest reading is $(((t_term - newest) / 1000)) ms before SIGTERM: readings up to the stop are missing"
    for t in B1:3:20 B2:4:120; do
        IFS=: read -r tag fn addr <<<"$t"
        L=$(awk -v f="$fn" -v a="$addr" '$2 == 1 && $3 == f && $4 == a' \
            "$T/simB.log" | wc -l)
        R=$(count_readings "$tag" good)
        echo "$tag: $R good readings, $L requests answered"
        ((R == L)) ||
            fail "$tag: $R good readings for $L requests answered: readings taken were not committed"
    done
    # A: what was read before the freeze is all there.
    stall_no_gaps 100 A1
}

# stall_cgroup_remove: removes the pids cgroup the case made, once the
# processes in it are gone.
stall_cgroup_remove() {
    [ -n "${STALL_CG:-}" ] && [ -d "$STALL_CG" ] || return 0
    rmdir "$STALL_CG" 2>/dev/null ||
        echo "could not remove $STALL_CG: $(tr '\n' ' ' <"$STALL_CG/cgroup.procs" 2>/dev/null)"
}

# stall_cap_threads PID: moves PID into a pids cgroup of its own that
# allows no more tasks (threads) than it has now, as systemd's TasksMax=
# would once reached: its next pthread_create() fails with EAGAIN.
# Sets STALL_CG.
stall_cap_threads() {
    local base n
    if [ -w /sys/fs/cgroup/pids/cgroup.procs ]; then
        base=/sys/fs/cgroup/pids # cgroup v1
    elif [ -w /sys/fs/cgroup/cgroup.procs ] &&
        grep -qw pids /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then
        base=/sys/fs/cgroup # cgroup v2
    else
        fail "no writable pids cgroup controller (needs root): cannot limit the daemon's threads"
    fi
    STALL_CG=$base/tbdaq-itest.$BASHPID.$RANDOM
    mkdir "$STALL_CG" || fail "cannot make the cgroup $STALL_CG"
    echo "$1" >"$STALL_CG/cgroup.procs" ||
        fail "cannot move the daemon into $STALL_CG"
    n=$(cat "$STALL_CG/pids.current")
    ((n >= 2)) || fail "the daemon has $n tasks in $STALL_CG"
    echo "$n" >"$STALL_CG/pids.max" || fail "cannot set $STALL_CG/pids.max"
    echo "the daemon runs $n threads; no more allowed"
}

# A reload adds a bus whose poller cannot start (its thread cannot be
# created: the daemon's task limit is reached, as under systemd's
# TasksMax=). The daemon stops because of it, and so exits 1, for
# Restart=on-failure; the readings of the bus that ran are committed and
# the stop event recorded. The limit is the only real way: a config that
# loads always gives buses libmodbus accepts (config.c checks more than
# bus_new() does). Fails on 3b42b3a: it exited 0.
case_exit_status_on_failure() {
    local t_hup rc newest
    trap 'stop_all; stall_cgroup_remove' EXIT
    start_sim --port 0 --units 2
    conf_tcp_bus a 1000
    sim_sensor A1 a 1 holding flow 20 100
    conf_write "$T/t.conf"
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings"
    stall_cap_threads "$PID_daemon"
    conf_tcp_bus b 1000
    sim_sensor B1 b 2 holding flow 20 100
    conf_write "$T/t.conf"
    t_hup=$(now_us)
    kill -HUP "$PID_daemon"
    DAEMON_STOPPED=1
    wait_or_fail "! pid_running $PID_daemon" 10 \
        "the daemon did not stop when a poller could not start"
    wait "$PID_daemon" 2>/dev/null
    rc=$?
    echo "exited $rc, $((($(now_us) - t_hup) / 1000)) ms after SIGHUP"
    grep -q "cannot start the poller of bus 'b'" "$T/daemon.err" ||
        fail "the daemon stopped, but did not say bus 'b' could not start: $(tail -3 "$T/daemon.err" | tr '\n' ' ')"
    [ "$rc" = 1 ] ||
        fail "the daemon exited $rc after a poller failed to start (want 1: Restart=on-failure)"
    [ "$(sql "SELECT kind FROM events ORDER BY seq DESC LIMIT 1;")" = stop ] ||
        fail "the last event is not stop"
    newest=$(stall_newest A1)
    ((newest >= t_hup - 300000)) ||
        fail "A1's newest reading is $(((t_hup - newest) / 1000)) ms before the reload: readings before the stop are missing"
    stall_no_gaps 100 A1
    stall_cgroup_remove
}

EXTRA_CASES+=(db_locked_10s sigterm_during_reload exit_status_on_failure)

# How much longer each fsync takes while the disk is made slow in
# disk_slower_than_intake (ms), and the most readings that may wait in
# the daemon's batch after a commit (DAEMON_POP_MAX: with buffer_readings
# below it, the recorder stops taking from the queue once BATCH_MAX wait,
# one pop past it at most).
STALL_SYNC_MS=2000
STALL_WAIT_MAX=1024

# stall_slow_disk_daemon: 240 sensors every 20 ms on three units of a
# simulator, and tbdaqd with the slowsync shim preloaded: every fsync is
# STALL_SYNC_MS longer while $T/slow exists (not yet). Returns once every
# sensor has 5 good readings.
stall_slow_disk_daemon() {
    local u q off
    start_sim --port 0 --units 3
    conf_tcp_bus a 1000
    for u in 1 2 3; do
        for q in flow pressure turbidity ph; do
            for off in $SIM_OFFSETS; do
                sim_sensor "S${u}_${q}_$off" a "$u" input "$q" "$off" 20
            done
        done
    done
    conf_write "$T/t.conf" "buffer_readings = 100;"
    export LD_PRELOAD=$BUILD/tests/slowsync.so SLOWSYNC_WHILE=$T/slow \
        SLOWSYNC_MS=$STALL_SYNC_MS \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    start_daemon
    unset LD_PRELOAD
    wait_or_fail "min_readings 5 good" 15 "fewer than 5 good readings per sensor"
}

# A disk slower than the readings coming in: 240 sensors every 20 ms
# (12,000 readings/s) while each fsync takes 2 s longer (the slowsync
# shim preloaded), so a commit of BATCH_MAX (20,000) readings takes over
# 2 s (more with a checkpoint's) and the database keeps up with fewer than
# 10,000 a second. It is not an outage (every commit works). With
# buffer_readings at its least, the daemon must not take more than it can
# commit: after every commit at most a pop's worth still waits in the
# batch, the pollers wait on the full queue and their missed slots are
# recorded (missed readings and events saying "daemon busy"); once the
# disk is fast again everything taken lands, the daemon stops within 5 s
# with exit 0 and nothing lost, and every slot has one reading. Before
# the recorder had a bound the main thread drained the queue into the
# batch at every turn, and it grew with each slow commit (22,160 readings
# waited after one here), and at 200,000 readings/s (bench W4, device
# layout) it reached 323 MiB and lost 2.4 million readings at the stop.
case_disk_slower_than_intake() {
    local c0 l0 l1 t_slow t_fast waits busy tag
    stall_slow_disk_daemon

    c0=$(grep -c 'committed [0-9]* readings' "$T/daemon.err")
    l0=$(wc -l <"$T/daemon.err")
    t_slow=$(now_us)
    touch "$T/slow"
    # Two slow commits (the queue fills during the first), and the
    # pollers held up by them.
    wait_or_fail "[ \$(grep -c 'committed [0-9]* readings' '$T/daemon.err') \
        -ge $((c0 + 2)) ]" 30 "fewer than two commits while the disk was slow"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings WHERE
        quality = 'missed' AND error LIKE 'daemon busy%'
        AND ts_us > $t_slow;\") -ge 1 ]" 20 \
        "no slot missed for a busy daemon: the disk did not slow the commits down"
    t_fast=$(now_us)
    l1=$(wc -l <"$T/daemon.err")
    rm "$T/slow"
    wait_or_fail "stall_all_after 240 $t_fast" 30 \
        "the readings taken while the disk was slow were not committed after it"
    stop_daemon
    ! grep -q 'are lost' "$T/daemon.err" ||
        fail "readings lost: $(grep 'are lost' "$T/daemon.err")"

    # Only the commits while the disk was slow: the catching up after it
    # may take more at once (the stop takes all the queue).
    waits=$(sed -n "$((l0 + 1)),${l1}p" "$T/daemon.err" |
        sed -n 's/.*committed [0-9]* readings, [0-9]* events; \([0-9]*\) readings wait.*/\1/p' |
        sort -n | tail -1)
    [ -n "$waits" ] || fail "no commit logged (log_level debug)"
    busy=$(sql "SELECT count(*) FROM readings WHERE quality = 'missed'
                AND error LIKE 'daemon busy%';")
    echo "disk slow for $(((t_fast - t_slow) / 1000)) ms: $busy slots missed for a busy daemon; at most $waits readings waited after a commit"
    ((waits <= STALL_WAIT_MAX)) ||
        fail "$waits readings still waited after a commit (want <= $STALL_WAIT_MAX): the batch grows beyond what the database takes"
    # (tags a missed event names: it lists the first few of a request)
    for tag in S1_flow_0 S2_pressure_1 S3_ph_2; do
        check_tag_slots "$tag" 20 2
    done
}

EXTRA_CASES+=(disk_slower_than_intake)

# The same slow disk at the stop: SIGTERM while every commit takes 2 s
# more. The daemon still exits within SPEC's 5 s: it starts no commit
# that cannot end in the stop's budget (judged by the last commit's
# duration; no checkpoint inside the stop's commits, which made one take
# 6 s), and leaves the write-ahead log for the next start rather than
# spend seconds copying it at the close. What it could not commit is
# said, with the count, in the log (exit 1, so that the service manager
# sees the failure), and what was committed verifies. Failed before:
# the stop took over 6 s (a commit begun at the stop, with a checkpoint)
# and the close's checkpoint as long again.
case_disk_slow_at_stop() {
    local rc
    stall_slow_disk_daemon
    touch "$T/slow"
    wait_or_fail "grep -q 'slots of 20 ms missed' '$T/daemon.err'" 30 \
        "no slot missed: the disk did not slow the commits down"
    DAEMON_STOPPED=1
    stop_pid "$PID_daemon" 5 ||
        fail "the daemon did not exit within 5 s of SIGTERM with a slow disk"
    rc=$STOP_RC
    rm -f "$T/slow"
    echo "exit $rc: $(grep -E 'are lost|stopped' "$T/daemon.err" | tr '\n' ' ')"
    if [ "$rc" != 0 ]; then
        [ "$rc" = 1 ] || fail "exit status $rc after SIGTERM (want 0, or 1 with the loss said)"
        grep -Eq '[0-9]+ readings taken are lost: they could not be committed in time' \
            "$T/daemon.err" || fail "exit 1 but no loss said in the log"
    fi
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" verify >"$T/v" 2>&1 ||
        fail "verify: $(cat "$T/v")"
    grep -q '^chain ok' "$T/v" || fail "verify: $(cat "$T/v")"
}

EXTRA_CASES+=(disk_slow_at_stop)

# While another process holds the write lock for 4 s, the main thread
# does not wait on it: SQLite's busy handler is given 20 ms, a commit is
# tried every 50 ms, and once the lock has lasted a second it is an
# outage like a full disk (logged, db_down and db_up events, the live
# feed). Live readings reach a subscriber within 0.5 s of being taken all
# through the lock; with the 5 s busy timeout of 3b42b3a the main thread
# stood in each commit for 5 s and they came up to 5 s late. Nothing is
# lost, and a lock shorter than a second (a CLI's transaction) is no
# outage at all, nor does it make a reload fail.
case_db_locked_live() {
    local locked release late n
    need_mqtt
    start_sim --port 0 --units 1
    start_broker
    conf_tcp_bus a 1000
    sim_sensor L1 a 1 holding flow 20 100
    sim_sensor L2 a 1 input pressure 20 100
    conf_write "$T/t.conf" "$(conf_mqtt)"
    SUB_FORMAT='%U %p' start_sub sub 'tbdaq/itest/#'
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"

    # A short lock: no outage.
    printf '%s\n' "BEGIN IMMEDIATE;" ".system sleep 0.3" "ROLLBACK;" |
        sqlite3 -batch "$T/t.db" || fail "sqlite3 could not hold a short lock"
    n=$(sql "SELECT count(*) FROM readings;")
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + 10)) ]" \
        10 "readings stopped after a short lock"
    ! grep -q 'cannot write the database' "$T/daemon.err" ||
        fail "a 0.3 s lock was taken for an outage"
    # A reload while another process holds the lock for 0.5 s: it waits
    # for the lock, it does not fail.
    printf '%s\n' "BEGIN IMMEDIATE;" ".system touch $T/short-locked" \
        ".system sleep 0.5" "ROLLBACK;" >"$T/short.sql"
    spawn shortlock "$(type -P sqlite3)" -batch -init "$T/short.sql" "$T/t.db"
    wait_or_fail "[ -e '$T/short-locked' ]" 10 "sqlite3 did not take the lock"
    kill -HUP "$PID_daemon"
    wait_or_fail "grep -q 'configuration reloaded' '$T/daemon.err' ||
        grep -q 'configuration not applied' '$T/daemon.err'" 10 \
        "the reload did not end"
    ! grep -q 'configuration not applied' "$T/daemon.err" ||
        fail "a reload failed because of a 0.5 s lock: $(grep 'not applied' "$T/daemon.err")"
    wait_or_fail "! pid_running $PID_shortlock" 10 "sqlite3 did not end"

    stall_lock_for 4
    locked=$(cat "$T/locked")
    wait_or_fail "[ -s '$T/release' ]" 15 "the locker did not let go"
    release=$(cat "$T/release")
    wait_or_fail "stall_all_after 2 $((release + 500000))" 10 \
        "readings stopped after the lock's release"
    stop_daemon
    grep -q 'cannot write the database: .*locked' "$T/daemon.err" ||
        fail "the lock was not logged as an outage"
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'db_up'
              AND detail LIKE '%none lost%';")" = 1 ] ||
        fail "no db_up event saying none lost"
    # Live readings taken from 1.2 s into the lock (past the grace
    # period) to its end: each arrived within 0.5 s of being taken.
    late=$(awk -v lo=$((locked + 1200000)) -v hi="$release" '
        /"recorded":false/ && match($0, /"ts_us":[0-9]+/) {
            t = substr($0, RSTART + 8, RLENGTH - 8) + 0
            if (t < lo || t >= hi) next
            n++; d = $1 * 1e6 - t; if (d > worst) worst = d }
        END { printf "%d %.0f\n", n, worst }' "$T/sub.out")
    echo "live messages during the lock, and the latest one's delay (us): $late"
    ((${late%% *} >= 40)) ||
        fail "only ${late%% *} live readings during the lock (want 2 per 100 ms)"
    ((${late##* } <= 500000)) ||
        fail "a live reading arrived $((${late##* } / 1000)) ms after it was taken: the main thread waited on the lock"
    stall_no_gaps 100 L1 L2
}
EXTRA_CASES+=(db_locked_live)
