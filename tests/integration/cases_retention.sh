# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 5: retention. Sourced by run.sh after lib.sh;
# case_retention runs in its own subshell with $T set, like run.sh's own
# cases. tbdaqd and tbdaq first run ten days in the past under libfaketime
# (recording readings, and a run in the middle of them), then tbdaqd runs
# at the real time with retention_days = 1 and must prune every old batch
# that no run covers, in steps, while it keeps recording: the run's
# readings all stay, the chain still verifies, and sensor_last's counts
# stay true.

# How far in the past the first daemon runs (libfaketime's offset).
RETENTION_PAST=-10d
# Readings of the run wanted, and of each side of it: together more than
# one pruning step of the daemon (2000 readings), so that it takes two.
RETENTION_RUN_READINGS=200
RETENTION_SIDE_READINGS=1200
# Seconds pruning may take to catch up (generous: sanitizer builds).
RETENTION_WAIT_S=20

# retention_past CMD...: runs CMD (a shell function or program) with the
# clock RETENTION_PAST away; CLOCK_MONOTONIC stays true, so the daemon's
# schedule is unaffected. ASan would refuse a library loaded before it.
retention_past() {
    local rc
    export LD_PRELOAD=$RETENTION_LIB FAKETIME=$RETENTION_PAST \
        FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    "$@"
    rc=$?
    unset LD_PRELOAD FAKETIME FAKETIME_DONT_FAKE_MONOTONIC
    return $rc
}

# retention_cli ARGS...: `tbdaq -c $T/t.conf ARGS`; stdout in $T/o,
# stderr in $T/e, the exit status in RC.
retention_cli() {
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# retention_left CUT START END CHAIN_SEQ: old readings (ts < CUT) outside
# the run [START, END) that retention should have pruned: those of batches
# with no reading in the run and that do not hold the run's chain head.
retention_left() {
    sql "SELECT count(*) FROM readings r JOIN batches b
         ON r.seq BETWEEN b.first_seq AND b.last_seq
         WHERE r.ts_us < $1 AND NOT (r.ts_us >= $2 AND r.ts_us < $3)
         AND NOT EXISTS (SELECT 1 FROM readings x WHERE x.seq BETWEEN
             b.first_seq AND b.last_seq AND x.ts_us >= $2 AND x.ts_us < $3)
         AND NOT ($4 BETWEEN b.first_seq AND b.last_seq);"
}

case_retention() {
    local start end chain n_run n_old n_new cut t_restart left pruned bad
    RETENTION_LIB=$(faketime_lib) ||
        fail "libfaketime is not installed (Debian: faketime)"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    # 400 readings/s
    sim_sensor RF plant 1 holding flow 20 10
    sim_sensor RP plant 1 input pressure 0 10
    sim_sensor RT plant 1 holding turbidity 2 10
    sim_sensor RH plant 1 input ph 4 10
    conf_write "$T/t.conf" "commit_interval_ms = 100;"

    # 1) Ten days ago: readings, a run, readings.
    retention_past start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge \
        $RETENTION_SIDE_READINGS ]" 15 "no readings before the run"
    # The run's boundaries are the daemon's (SPEC Control): its clock, ten
    # days back; the CLI only asks.
    retention_past retention_cli run start R1
    [ "$RC" = 0 ] || fail "run start R1 (in the past): $(cat "$T/e")"
    start=$(sql "SELECT started_us FROM runs WHERE name = 'R1';")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us >= $start;\") -ge $RETENTION_RUN_READINGS ]" 15 \
        "no readings in run R1"
    retention_past retention_cli run stop R1
    [ "$RC" = 0 ] || fail "run stop R1 (in the past): $(cat "$T/e")"
    end=$(sql "SELECT ended_us FROM runs WHERE name = 'R1';")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us >= $end;\") -ge $RETENTION_SIDE_READINGS ]" 15 \
        "no readings after run R1"
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE
        name = 'R1' AND chain_head IS NOT NULL;\")\" ]" 10 \
        "run R1 was not sealed"
    stop_daemon
    DAEMON_STOPPED=

    cut=$(($(now_us) - 86400 * 1000000))
    chain=$(sql "SELECT chain_seq FROM runs WHERE name = 'R1';")
    n_run=$(sql "SELECT count(*) FROM readings
        WHERE ts_us >= $start AND ts_us < $end;")
    n_old=$(sql "SELECT count(*) FROM readings WHERE ts_us < $cut;")
    [ "$(sql "SELECT count(*) FROM readings WHERE ts_us >= $cut;")" = 0 ] ||
        fail "readings of the first daemon are not in the past: is libfaketime working?"
    left=$(retention_left "$cut" "$start" "$end" "$chain")
    echo "recorded in the past: $n_old readings, $n_run in R1, $left to prune"
    ((left > 2000)) || fail "only $left readings outside the run to prune"

    # 2) Now, keeping one day: the old batches outside R1 go, in steps.
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "retention_days = 1;"
    t_restart=$(now_us)
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "[ \$(retention_left $cut $start $end $chain) = 0 ]" \
        "$RETENTION_WAIT_S" "old readings outside run R1 were not pruned"
    n_new=$(sql "SELECT count(*) FROM readings WHERE ts_us >= $t_restart;")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us >= $t_restart;\") -ge $((n_new + 10)) ]" 10 \
        "no new readings while pruning"
    [ "$(sql "SELECT count(*) FROM readings
        WHERE ts_us >= $start AND ts_us < $end;")" = "$n_run" ] ||
        fail "run R1 lost readings: $n_run before, $(sql "SELECT count(*)
            FROM readings WHERE ts_us >= $start AND ts_us < $end;") after"
    pruned=$(sql "SELECT count(*) || ' batches, ' || ifnull(sum(readings), 0)
        || ' readings' FROM pruned;")
    echo "pruned: $pruned; kept in the past: $(sql "SELECT count(*)
        FROM readings WHERE ts_us < $cut;") readings"
    wait_or_fail "grep -q 'pruned' '$T/daemon.err'" 10 \
        "the daemon did not log its pruning"
    grep -m1 'pruned' "$T/daemon.err"

    retention_cli verify
    [ "$RC" = 0 ] || fail "verify after pruning: exit $RC: $(cat "$T/e")"
    grep -q 'pruned' "$T/o" ||
        fail "verify does not mention the pruned batches: $(cat "$T/o")"
    cat "$T/o"
    retention_cli verify --run R1
    [ "$RC" = 0 ] || fail "verify --run R1 after pruning: exit $RC: $(cat "$T/e")"
    [ "$(sql 'PRAGMA integrity_check;')" = ok ] ||
        fail "integrity_check: $(sql 'PRAGMA integrity_check;' | head -3)"
    # One statement: one snapshot while the daemon commits.
    bad=$(sql "SELECT count(*) FROM sensors s LEFT JOIN sensor_last l
        ON l.sensor_id = s.id WHERE ifnull(l.count, 0) !=
        (SELECT count(*) FROM readings r WHERE r.sensor_id = s.id);")
    [ "$bad" = 0 ] || fail "sensor_last's counts differ from the readings"
    retention_cli status
    [ "$RC" = 0 ] || fail "status after pruning: exit $RC: $(cat "$T/e")"
    stop_daemon
}

# Retention never deletes what the broker has not acknowledged: readings
# recorded ten days ago while the broker was down stay, however old, until
# the broker is back and has them; then they go.
case_retention_waits_for_mqtt() {
    local n_old cut
    RETENTION_LIB=$(faketime_lib) ||
        fail "libfaketime is not installed (Debian: faketime)"
    need_mqtt
    start_sim --port 0 --units 1
    start_broker
    stop_broker
    conf_tcp_bus plant
    sim_sensor RF plant 1 holding flow 20 10
    sim_sensor RP plant 1 input pressure 0 10
    conf_write "$T/t.conf" "$(conf_mqtt)"

    # Ten days ago, the broker down: nothing is acknowledged.
    retention_past start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge 500 ]" 15 \
        "no readings recorded in the past"
    stop_daemon
    DAEMON_STOPPED=
    cut=$(($(now_us) - 86400 * 1000000))
    n_old=$(sql "SELECT count(*) FROM readings WHERE ts_us < $cut;")
    [ "$(sql "SELECT value FROM state WHERE key = 'mqtt_acked_seq';")" = 0 ] ||
        fail "readings were acknowledged with the broker down"

    # Now, keeping one day, the broker still down: the first pruning step
    # runs at start and must leave every old reading.
    conf_write "$T/t.conf" "$(conf_mqtt)" "retention_days = 1;"
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us >= $cut;\") -ge 100 ]" 10 "no new readings"
    [ "$(sql "SELECT count(*) FROM readings WHERE ts_us < $cut;")" = "$n_old" ] ||
        fail "readings the broker never acknowledged were pruned"
    ! grep -q 'retention: pruned' "$T/daemon.err" ||
        fail "the daemon pruned with the broker down: $(grep 'retention' "$T/daemon.err")"

    # The broker back: the backlog is delivered, then pruned.
    restart_broker
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE ts_us < $cut;\") = 0 ]" 30 \
        "old readings were not pruned once the broker had them"
    grep -q 'retention: pruned' "$T/daemon.err" ||
        fail "the pruning was not logged"
    stop_daemon
    [ "$(sql "SELECT min(seq) > 0 FROM readings;")" = 1 ] || fail "no readings left"
}

EXTRA_CASES+=(retention retention_waits_for_mqtt)
