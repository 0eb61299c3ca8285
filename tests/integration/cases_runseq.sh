# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 11, "exact runs" (SPEC Evidence: a reading
# belongs to a run when it was taken between the daemon's handling of
# `run start` and of `run stop`). Sourced by run.sh after lib.sh, with
# the other cases_*.sh: it uses ctq/ctq_want (cases_control.sh) and
# faketime_lib (lib.sh), clock_set/clock_events (cases_clock.sh). Each
# case_NAME runs in its own subshell with $T set.

# Readings wanted in the run; the steps (forward, then back; seconds).
RUNSEQ_READINGS=20
RUNSEQ_STEP_S=3600

# runseq_verify_count NAME: the readings `tbdaq verify --run NAME` counts
# (it must pass).
runseq_verify_count() {
    ctq verify --run "$1"
    ctq_want 0 "" "verify --run $1"
    sed -n 's/^chain ok: [0-9]* batches, \([0-9]*\) readings.*$/\1/p' "$T/o"
}

# The daemon records under libfaketime; run R is started through it, the
# wall clock steps forward an hour while R is open, and R is stopped; then
# the clock steps back that hour, so that new readings are stamped inside
# R's [started, ended). R keeps exactly its readings: export --run R gives
# the same rows, verify --run R passes with the same count, and the step
# back is recorded as a clock_step event.
case_run_clock_step() {
    local lib first last started ended n rows1 rows2 c1 c2 inside seq
    lib=$(faketime_lib) ||
        fail "libfaketime is not installed (Debian: faketime)"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor CF plant 1 holding flow 20 50
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    clock_start_daemon "$lib"
    wait_or_fail "ctq status; grep -q '^tbdaqd: running since ' '$T/o'" 10 \
        "tbdaq status does not see the daemon running"
    wait_or_fail "[ \$(count_readings CF) -ge 5 ]" 10 "no readings before R"

    ctq run start R
    ctq_want 0 "" "run start R"
    first=$(sql "SELECT first_seq FROM runs WHERE name = 'R';")
    [ -n "$first" ] || fail "run R has no first seq"
    [ "$(sql "SELECT count(*) FROM readings WHERE seq < $first;")" -ge 5 ] ||
        fail "R's first seq $first: the readings before the start are not all below it"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE seq >= $first;\") -ge $RUNSEQ_READINGS ]" 15 "no readings in R"
    # Forward an hour while R is open: R's time span then reaches an hour
    # past the true time (a step recorded too).
    clock_set "+$RUNSEQ_STEP_S"
    wait_or_fail "[ -n \"\$(clock_events clock_step)\" ]" 10 \
        "no clock_step event after the wall clock went forward by an hour"
    seq=$(sql "SELECT max(seq) FROM readings;")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE seq > $seq;\") -ge 5 ]" 15 "no readings in R after the step forward"
    ctq run stop
    ctq_want 0 "" "run stop"
    # Its last seq is drawn once everything taken before the stop is
    # committed; it is sealed after that.
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = 'R'
        AND chain_head IS NOT NULL;\")\" ]" 10 "run R was not sealed"
    read -r last started ended <<<"$(sql "SELECT last_seq, started_us, ended_us
        FROM runs WHERE name = 'R';" | tr '\t' ' ')"
    [ -n "$last" ] || fail "R is sealed without a last seq"
    # R's readings: those of its range taken before its stop (the range
    # may end with readings taken after it).
    n=$(sql "SELECT count(*) FROM readings WHERE seq BETWEEN $first AND $last
        AND ts_us >= $started AND ts_us < $ended;")
    ((n >= RUNSEQ_READINGS)) ||
        fail "R's seqs: $first..$last hold $n readings, want at least $RUNSEQ_READINGS"
    [ "$(sql "SELECT count(*) FROM readings WHERE seq > $last
        AND ts_us < $ended;")" = 0 ] ||
        fail "a reading taken before R's stop lies after its last seq $last"
    [ "$(sql "SELECT chain_seq FROM runs WHERE name = 'R';")" = "$last" ] ||
        fail "R is sealed at seq $(sql "SELECT chain_seq FROM runs
            WHERE name = 'R';"), not at its last seq $last"

    ctq export --run R -o "$T/r1.csv"
    ctq_want 0 "" "export --run R after the stop"
    rows1=$(($(wc -l <"$T/r1.csv") - 1))
    [ "$rows1" = "$n" ] || fail "export of R has $rows1 rows, its range $n"
    c1=$(runseq_verify_count R)
    [ "$c1" = "$n" ] || fail "verify --run R counts '$c1' readings, want $n"

    # The step back: new readings are stamped inside R's time span.
    clock_set +0
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM events
        WHERE kind = 'clock_step';\") -ge 2 ]" 10 \
        "no clock_step event after the wall clock went back by an hour"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings WHERE seq > $last
        AND ts_us >= $started AND ts_us < $ended;\") -ge 5 ]" 20 \
        "no readings stamped inside R's time span after the step"
    inside=$(sql "SELECT count(*) FROM readings WHERE seq > $last
        AND ts_us >= $started AND ts_us < $ended;")
    echo "R: seqs $first..$last ($n readings); $inside later readings" \
        "stamped inside its time span"

    ctq export --run R -o "$T/r2.csv"
    ctq_want 0 "" "export --run R after the step"
    rows2=$(($(wc -l <"$T/r2.csv") - 1))
    [ "$rows2" = "$rows1" ] ||
        fail "export of R: $rows2 rows after the step, $rows1 before"
    cmp -s "$T/r1.csv" "$T/r2.csv" ||
        fail "export of R changed after the step: $(diff "$T/r1.csv" "$T/r2.csv" | head -3)"
    grep -qE "\"rows\":${n}[,}]" "$T/r2.csv.manifest.json" ||
        fail "the manifest does not count $n rows"
    # JSON: the manifest's per-sensor counts come before the rows, from
    # the run's range too.
    ctq export --run R --format json -o "$T/r2.json"
    ctq_want 0 "" "export --run R --format json after the step"
    [ "$(jq '[.manifest.sensors[].counts[]] | add' "$T/r2.json")" = "$n" ] ||
        fail "the JSON manifest counts $(jq -c '[.manifest.sensors[].counts]' "$T/r2.json"), want $n in all"
    [ "$(jq '.readings | length' "$T/r2.json")" = "$n" ] ||
        fail "the JSON export has $(jq '.readings | length' "$T/r2.json") readings, want $n"
    c2=$(runseq_verify_count R)
    [ "$c2" = "$c1" ] ||
        fail "verify --run R counts $c2 readings after the step, $c1 before"
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'clock_step'
        AND detail LIKE 'wall clock stepped by -3%';")" = 1 ] ||
        fail "no clock_step event of about -3600 s: $(clock_events clock_step)"
    stop_daemon
}

# A daemon without MQTT restarted on a database with readings: a run
# started before it committed anything begins after the readings already
# there (the daemon's last seq is the database's from its start; it was
# read only when publishing, and such a run began at seq 1, holding every
# earlier reading). The sensor reads every 10 s on the wall clock's
# multiples, so the run is nearly always started before the first
# reading of the second start; either way the run must hold none of the
# first start's readings.
case_run_start_first() {
    local before first
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor F1 plant 1 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    start_daemon
    wait_or_fail "[ \$(count_readings F1) -ge 5 ]" 10 "no readings at the first start"
    stop_daemon
    before=$(sql "SELECT max(seq) FROM readings;")
    CONF_SENSORS=()
    sim_sensor F1 plant 1 holding flow 20 10000
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    DAEMON_STOPPED=
    start_daemon
    wait_or_fail "ctq status; grep -q '^tbdaqd: running since ' '$T/o'" 10 \
        "tbdaq status does not see the daemon running"
    ctq run start R
    ctq_want 0 "" "run start R"
    first=$(sql "SELECT first_seq FROM runs WHERE name = 'R';")
    echo "readings before: up to seq $before; R's first seq: $first"
    ((first > before)) ||
        fail "run R begins at seq $first, inside the readings before it (up to $before)"
    ctq run stop
    ctq_want 0 "" "run stop"
    stop_daemon
}

EXTRA_CASES+=(run_clock_step run_start_first)
