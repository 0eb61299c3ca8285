# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 11, "runs through the daemon" (SPEC Control):
# `tbdaq run start|mark|stop` and `status` ask the running tbdaqd over its
# control channel; without a daemon the run commands fail; the channel
# serves only the daemon's user, root and its group; garbage, oversized
# and silent clients neither block nor crash the daemon. Sourced by run.sh
# after lib.sh; each case_NAME runs in its own subshell with $T set.

# A uid and gid nobody uses, for the client outside the daemon's group.
CONTROL_STRANGER=64123

# control_setup: one fast sensor on the simulator, the daemon on it, and
# the daemon's control channel answering.
control_setup() {
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor CF plant 1 holding flow 20 50
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    start_daemon
    wait_or_fail "ctq status; grep -q '^tbdaqd: running since ' '$T/o'" 10 \
        "tbdaq status does not see the daemon running"
}

# ctq ARGS...: `tbdaq -c $T/t.conf ARGS`; stdout in $T/o, stderr in $T/e,
# the exit status in RC.
ctq() {
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# ctq_want RC_WANT PATTERN WHAT: the last ctq exited RC_WANT and, if
# PATTERN is not empty, its stderr matches it (grep -E).
ctq_want() {
    [ "$RC" = "$1" ] ||
        fail "$3: exit $RC, want $1 (stderr: $(head -2 "$T/e" | tr '\n' ' '))"
    [ -z "$2" ] || grep -qE -e "$2" "$T/e" ||
        fail "$3: stderr '$(head -2 "$T/e" | tr '\n' ' ')' does not match '$2'"
}

# control_name: the abstract name of the daemon's channel, from its log.
control_name() {
    grep -o 'control channel @tbdaq-[0-9a-f]*' "$T/daemon.err" | head -1 |
        sed 's/^control channel @//'
}

# control_gap FROM_US TO_US: the longest time (us) between consecutive
# committed readings of CF in [FROM, TO].
control_gap() {
    sql "SELECT ifnull(max(d), 0) FROM (SELECT r.ts_us - lag(r.ts_us) OVER
         (ORDER BY r.ts_us) AS d FROM readings r JOIN sensors s
         ON s.id = r.sensor_id WHERE s.tag = 'CF' AND r.ts_us BETWEEN $1 AND $2);"
}

# Runs through the daemon: start (with operator and note), marks, stop;
# their events, and the run's export as before; status shows the open run.
case_control_runs() {
    local started ended n rows
    control_setup
    ctq run mark "too early"
    ctq_want 1 "no run is open" "run mark with no run open"
    ctq run start C1 --operator "김지수 (QA)" --note "pump B"
    ctq_want 0 "" "run start C1"
    grep -qE "^run 'C1' started at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z$" "$T/o" ||
        fail "run start printed '$(cat "$T/o")'"
    ctq status
    ctq_want 0 "" "status with C1 open"
    grep -q "^  run: *'C1' open since " "$T/o" ||
        fail "status does not show C1 open: $(tr '\n' '|' <"$T/o")"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r, runs u
        WHERE u.name = 'C1' AND r.ts_us >= u.started_us;\") -ge 10 ]" 10 \
        "no readings in C1"
    ctq run mark "valve V-3 opened, 20 %"
    ctq_want 0 "" "run mark"
    grep -q "^marked run 'C1' at " "$T/o" || fail "run mark printed '$(cat "$T/o")'"
    ctq run mark "$(printf 'bad\ttext')"
    ctq_want 2 "text" "run mark with a tab"
    ctq run mark
    ctq_want 2 "text" "run mark without a text"
    ctq run start C2
    ctq_want 1 "run 'C1' is still open" "run start while C1 is open"
    ctq run stop C9
    ctq_want 1 "run 'C9' is not open" "run stop of another run"
    ctq run stop
    ctq_want 0 "" "run stop"
    grep -q "^run 'C1' stopped at " "$T/o" || fail "run stop printed '$(cat "$T/o")'"
    ctq run stop
    ctq_want 1 "no run is open" "run stop with none open"
    ctq run mark "too late"
    ctq_want 1 "no run is open" "run mark after the stop"

    [ "$(sql "SELECT kind || '|' || detail FROM events WHERE kind LIKE 'run_%'
        ORDER BY seq;" | tr '\n' '#')" = \
        "run_start|C1 (operator: 김지수 (QA))#run_mark|valve V-3 opened, 20 %#run_stop|C1#" ] ||
        fail "run events: $(sql "SELECT kind || '|' || detail FROM events
            WHERE kind LIKE 'run_%' ORDER BY seq;" | tr '\n' '#')"
    [ "$(sql "SELECT operator || '|' || note FROM runs WHERE name = 'C1';")" = \
        "김지수 (QA)|pump B" ] || fail "C1's operator and note are not recorded"
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = 'C1'
        AND chain_head IS NOT NULL;\")\" ]" 10 "run C1 was not sealed"
    ! grep -qi 'locked' "$T/daemon.err" ||
        fail "the daemon logged: $(grep -i -m1 locked "$T/daemon.err")"
    grep -q "run 'C1' started at the request of uid 0" "$T/daemon.err" ||
        fail "the daemon did not log who started C1"

    read -r started ended <<<"$(sql "SELECT started_us, ended_us FROM runs
        WHERE name = 'C1';" | tr '\t' ' ')"
    # The run's readings: those of its seq range (the daemon's own
    # stream) taken between its start and its stop.
    n=$(sql "SELECT count(*) FROM readings r, runs u WHERE u.name = 'C1'
             AND r.seq BETWEEN u.first_seq AND u.last_seq
             AND r.ts_us >= u.started_us AND r.ts_us < u.ended_us;")
    ((started > 0 && ended > started)) || fail "C1's times: $started $ended"
    ctq export --run C1 -o "$T/c1.csv"
    ctq_want 0 "" "export --run C1"
    rows=$(($(wc -l <"$T/c1.csv") - 1))
    [ "$rows" = "$n" ] || fail "export of C1 has $rows rows, the database $n in the run"
    grep -q '"name":"C1"' "$T/c1.csv.manifest.json" || fail "the manifest does not name C1"
    ctq verify --run C1
    ctq_want 0 "" "verify --run C1"
    stop_daemon
}

# Without a daemon the run commands fail, say so, and write nothing;
# status still reads the database and says the daemon is not running.
case_control_no_daemon() {
    local runs events
    control_setup
    stop_daemon
    runs=$(sql "SELECT count(*) FROM runs;")
    events=$(sql "SELECT count(*) FROM events;")
    ctq run start N1
    ctq_want 1 "^tbdaq: error: tbdaqd is not running: no control channel at @tbdaq-[0-9a-f]{64}$" \
        "run start without a daemon"
    ctq run mark "nobody hears"
    ctq_want 1 "tbdaqd is not running" "run mark without a daemon"
    ctq run stop
    ctq_want 1 "tbdaqd is not running" "run stop without a daemon"
    timeout 30 "$BUILD/tbdaq" -d "$T/t.db" run start N2 >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 1 "tbdaqd is not running: no control channel at @tbdaq-" \
        "run start with -d alone and no daemon"
    timeout 30 "$BUILD/tbdaq" -d "$T/none.db" run stop >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 1 "tbdaqd is not running: .*none.db" "run stop on a missing database"
    [ ! -e "$T/none.db" ] || fail "run stop created a database"
    [ "$(sql "SELECT count(*) FROM runs;")" = "$runs" ] || fail "a run was recorded"
    [ "$(sql "SELECT count(*) FROM events;")" = "$events" ] || fail "an event was recorded"
    ctq status
    ctq_want 0 "" "status without a daemon"
    grep -q '^tbdaqd: not running (no control channel at @tbdaq-[0-9a-f]*)$' "$T/o" ||
        fail "status does not say the daemon is not running: $(head -1 "$T/o")"
    grep -q '^CF ' "$T/o" || fail "status without a daemon shows no sensor"
}

# The channel serves root, the daemon's user and its group only: a uid
# outside the group is refused (and the daemon logs it), the same uid with
# the daemon's group as a supplementary group is served. The daemon runs
# as root here; -d alone finds the channel.
case_control_access() {
    local s=$CONTROL_STRANGER
    command -v setpriv >/dev/null || fail "setpriv is not installed (Debian: util-linux)"
    control_setup
    chmod 0711 "$T" # the stranger must reach the database to name it
    setpriv --reuid="$s" --regid="$s" --clear-groups \
        timeout 30 "$BUILD/tbdaq" -d "$T/t.db" run start X1 >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 1 "permission denied" "run start by uid $s outside the group"
    wait_or_fail "grep -q 'permission denied to uid $s gid $s' '$T/daemon.err'" 5 \
        "the daemon did not log the refusal"
    [ -z "$(sql "SELECT name FROM runs;")" ] || fail "the refused run was recorded"

    setpriv --reuid="$s" --regid="$s" --groups="$(id -g)" \
        timeout 30 "$BUILD/tbdaq" -d "$T/t.db" run start X2 --operator op >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 0 "" "run start by uid $s in the daemon's group"
    setpriv --reuid="$s" --regid="$s" --groups="$(id -g)" \
        timeout 30 "$BUILD/tbdaq" -d "$T/t.db" run mark "by a member" >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 0 "" "run mark by uid $s in the daemon's group"
    setpriv --reuid="$s" --regid="$s" --groups="$(id -g)" \
        timeout 30 "$BUILD/tbdaq" -d "$T/t.db" run stop X2 >"$T/o" 2>"$T/e"
    RC=$?
    ctq_want 0 "" "run stop by uid $s in the daemon's group"
    [ "$(sql "SELECT name FROM runs;")" = X2 ] || fail "runs: $(sql "SELECT name FROM runs;")"
    [ "$(sql "SELECT detail FROM events WHERE kind = 'run_mark';")" = "by a member" ] ||
        fail "the member's mark was not recorded"
    stop_daemon
}

# Silent clients (more than the daemon serves at once, one of them after
# half a request), garbage, a 1 MiB
# line and a flood of connections: the daemon keeps committing readings
# without a gap, drops the silent ones, and `tbdaq status` answers
# meanwhile.
case_control_garbage() {
    local name t0 t1 i gap n pid
    command -v socat >/dev/null || fail "socat is not installed"
    control_setup
    name=$(control_name)
    [ -n "$name" ] || fail "the daemon did not log its control channel"
    wait_or_fail "min_readings 10" 10 "no readings"
    t0=$(now_us)
    # Half a request, then silence: a daemon reading it blocking would
    # hang there.
    spawn partial socat "ABSTRACT-CONNECT:$name" SYSTEM:"printf sta; exec sleep 20"
    for i in 1 2 3 4 5 6 7 8 9; do
        spawn "silent$i" socat "ABSTRACT-CONNECT:$name" SYSTEM:"exec sleep 20"
    done
    ctq status
    ctq_want 0 "" "status beside 10 silent clients"
    grep -q '^tbdaqd: running since ' "$T/o" ||
        fail "status did not get the daemon's answer: $(head -1 "$T/o") $(cat "$T/e")"
    for i in 1 2 3; do
        # The daemon answers and closes while these still send: socat
        # stops at the broken pipe, so the daemon's log tells.
        head -c 1048576 /dev/zero | tr '\0' 'x' |
            timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" >/dev/null 2>&1
        [ $? != 124 ] || fail "a client sending a 1 MiB line was not dropped"
        head -c 65536 /dev/urandom |
            timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" >/dev/null 2>&1
        [ $? != 124 ] || fail "a client sending random bytes was not dropped"
        printf 'run-start\tG1\toperator=\xff\n' |
            timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" >"$T/bad.out" 2>/dev/null
        grep -q '^error operator is not UTF-8' "$T/bad.out" ||
            fail "a request with bad UTF-8 got '$(cat "$T/bad.out")'"
        printf 'status\0with a NUL\n' |
            timeout 10 socat -t 5 - "ABSTRACT-CONNECT:$name" >"$T/nul.out" 2>/dev/null
        grep -q '^error ' "$T/nul.out" || fail "a request with a NUL got '$(cat "$T/nul.out")'"
        printf 'status' | timeout 10 socat -t 0.1 - "ABSTRACT-CONNECT:$name" >/dev/null 2>&1
    done
    for i in $(seq 1 50); do
        printf 'status\n' | timeout 10 socat -t 0 - "ABSTRACT-CONNECT:$name" >/dev/null 2>&1
    done
    ctq status
    ctq_want 0 "" "status after the garbage"
    grep -q '^tbdaqd: running since ' "$T/o" || fail "status after the garbage: $(head -1 "$T/o")"
    # Dropped at their deadline, the silent clients' socat ends (their
    # sleep would last 20 s).
    for i in partial 1 2 3 4 5 6 7 8 9; do
        pid=PID_silent$i
        [ "$i" = partial ] && pid=PID_partial
        wait_or_fail "! pid_running ${!pid}" 10 "silent client $i was not dropped"
    done
    grep -q 'control: .*\(dropped uid 0\|more than 8 clients\)' "$T/daemon.err" ||
        fail "the daemon did not log the clients it turned away or dropped"
    # Complaints about clients are rate-limited: a few lines, not one each.
    n=$(grep -c 'control: ' "$T/daemon.err")
    echo "$n lines of complaints about clients"
    ((n <= 10)) || fail "$n lines of complaints about clients: not rate-limited"
    [ -z "$(sql "SELECT name FROM runs;")" ] || fail "garbage opened a run"
    t1=$(now_us)
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings WHERE ts_us > $t1;\") -ge 5 ]" 10 \
        "no readings after the garbage"
    gap=$(control_gap "$t0" "$t1")
    echo "longest gap between readings meanwhile: $gap us"
    ((gap > 0 && gap < 200000)) || fail "readings stopped for $gap us during the garbage"
    [ "$(count_readings CF missed)" = 0 ] || fail "the garbage made the poller miss slots"
    stop_daemon
}

EXTRA_CASES+=(control_runs control_no_daemon control_access control_garbage)
