# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 12: every program follows the GNU conventions
# (SPEC "Programs"), the daemon's log lines carry the local time off the
# journal, and `tbdaq status` says what an operator asks first. Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.

# The repository top: two levels above this file.
CLI_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# A stamp: local time to the millisecond and its offset from UTC.
CLI_STAMP='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}'

# cli_run WHAT CMD...: runs CMD (bounded) with stdout in $T/o, stderr in
# $T/e and the exit status in RC; WHAT names it in failures. Nothing is
# read from stdin, and no configuration of the machine is found: the
# programs get -c/-d of files that do not exist where it matters.
cli_run() {
    local what=$1
    shift
    RC=0
    timeout 10 "$@" </dev/null >"$T/o" 2>"$T/e" || RC=$?
    [ "$RC" != 124 ] || fail "$what: did not finish within 10 s"
}

# cli_conventions PROG [ARGS...]: --help/-h, --version/-V and unknown
# options of PROG; ARGS go before each option (they keep the program away
# from the machine's own configuration).
cli_conventions() {
    local prog=$1 exe=$BUILD/$1 opt release
    shift
    release=$(cat "$CLI_TOP/VERSION")
    for opt in --help -h; do
        cli_run "$prog $opt" "$exe" "$@" "$opt"
        [ "$RC" = 0 ] || fail "$prog $opt exited $RC (want 0): $(head -2 "$T/e")"
        [ ! -s "$T/e" ] || fail "$prog $opt wrote to stderr: $(head -2 "$T/e")"
        head -1 "$T/o" | grep -q "^usage: $prog " ||
            fail "$prog $opt: the first line is '$(head -1 "$T/o")', want 'usage: $prog ...'"
    done
    cp "$T/o" "$T/help.$prog"
    for opt in --version -V; do
        cli_run "$prog $opt" "$exe" "$@" "$opt"
        [ "$RC" = 0 ] || fail "$prog $opt exited $RC (want 0): $(head -2 "$T/e")"
        [ ! -s "$T/e" ] || fail "$prog $opt wrote to stderr: $(head -2 "$T/e")"
        # inside a git checkout the description follows: 0.2.0+d1eec27
        grep -qxE "$prog ${release//./\\.}(\+[0-9a-z.-]+)?" "$T/o" ||
            fail "$prog $opt printed '$(cat "$T/o")', want '$prog $release[+GIT]'"
    done
    echo "$prog --version: $(cat "$T/o")"
    for opt in --no-such-option -Q; do
        cli_run "$prog $opt" "$exe" "$@" "$opt"
        [ "$RC" = 2 ] || fail "$prog $opt exited $RC (want 2)"
        [ ! -s "$T/o" ] || fail "$prog $opt wrote to stdout: $(head -2 "$T/o")"
        # (the daemons stamp every line they log: CLI_STAMP)
        [ "$(wc -l <"$T/e")" = 1 ] && grep -qxE \
            "($CLI_STAMP )?$prog: error: unknown option '$opt' \(see $prog --help\)" "$T/e" ||
            fail "$prog $opt said '$(cat "$T/e")', want one line \"$prog: error: unknown option '$opt' (see $prog --help)\""
    done
    # Every long option the help names is one the program knows: it may
    # want a value or fail for want of a configuration, never call the
    # option unknown.
    # (tbdaq's commands have options of their own: case cli_command_help)
    for opt in $(sed '/^Commands/,$d' "$T/help.$prog" |
        grep -oE -- '(--[a-z][a-z-]+|^ +-[a-zA-Z]\b)' | sort -u); do
        cli_run "$prog $opt" "$exe" "$@" "$opt"
        ! grep -q "unknown option" "$T/e" ||
            fail "$prog --help names $opt, but: $(cat "$T/e")"
    done
}

# cli_expect_error PROG MESSAGE ARGS...: PROG ARGS exits 2 saying MESSAGE.
cli_expect_error() {
    local prog=$1 msg=$2
    shift 2
    cli_run "$prog $*" "$BUILD/$prog" "$@"
    [ "$RC" = 2 ] && grep -qF -- "$msg" "$T/e" ||
        fail "$prog $*: exit $RC, said '$(cat "$T/e")'; want exit 2 and '$msg'"
}

case_gnu_options() {
    # -c/-d of files that do not exist: nothing here starts a daemon or
    # reads the machine's /etc/tbdaq.
    cli_conventions tbdaqd -c "$T/none.conf"
    cli_conventions tbdaq -c "$T/none.conf" -d "$T/none.db"
    cli_conventions tbdaq-sim --port 0 --control "$T/no/such/dir/fifo"
    # A long option is named in full, even abbreviated; an abbreviation
    # that fits two is ambiguous.
    cli_expect_error tbdaqd "option '--check' takes no value" --che=1
    cli_expect_error tbdaqd "option '--config' needs a value" --conf
    cli_expect_error tbdaqd "option '--c' is ambiguous" --c
    cli_expect_error tbdaqd "unknown option '-x'" --config=a.conf -xt
    cli_expect_error tbdaq "option '--list' takes no value" -d "$T/none.db" config show --lis=1
    cli_expect_error tbdaq "option '--f' is ambiguous" -d "$T/none.db" export --f x
    cli_expect_error tbdaq "run: unknown option '--bogus'" -d "$T/none.db" run --bogus
    # The long form of each short option does what the short one does.
    cli_run "tbdaqd --config" "$BUILD/tbdaqd" --check --config "$T/none.conf"
    [ "$RC" = 1 ] && grep -qF "$T/none.conf: cannot read" "$T/e" ||
        fail "tbdaqd --check --config FILE: exit $RC, $(cat "$T/e")"
    SIM_PORT=1 conf_tcp_bus plant
    CONF_SENSORS+=('  { id = "F1"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 0; type = "int16"; interval_ms = 1000; }')
    conf_write "$T/t.conf"
    cli_run "tbdaqd --check" "$BUILD/tbdaqd" --check --config "$T/t.conf"
    [ "$RC" = 0 ] && grep -q "is valid" "$T/o" ||
        fail "tbdaqd --check --config on a valid config: exit $RC: $(cat "$T/e")"
    cli_run "tbdaq --config check" "$BUILD/tbdaq" --config "$T/t.conf" check
    [ "$RC" = 0 ] || fail "tbdaq --config FILE check: exit $RC: $(cat "$T/e")"
}

# Each command of tbdaq takes --help (its help on stdout, exit 0) and
# names itself when an option is unknown.
case_cli_command_help() {
    local cmd opt opts=
    for cmd in check status "run start" "run mark" "run stop" "run list" \
        run export verify config "config show"; do
        # shellcheck disable=SC2086 # the command's words
        cli_run "tbdaq $cmd --help" "$BUILD/tbdaq" -c "$T/none.conf" $cmd --help
        [ "$RC" = 0 ] || fail "tbdaq $cmd --help exited $RC: $(cat "$T/e")"
        [ ! -s "$T/e" ] || fail "tbdaq $cmd --help wrote to stderr: $(cat "$T/e")"
        grep -q "^  ${cmd%% *}" "$T/o" ||
            fail "tbdaq $cmd --help does not show the help of ${cmd%% *}: $(head -3 "$T/o")"
        # each option in the command's block of the help is its own (the
        # options of run and config are their subcommands')
        cp "$T/o" "$T/help"
        [ "$cmd" = run ] || [ "$cmd" = config ] || for opt in $(awk -v cmd="  $cmd" '
            /^  [^ ]/ { on = index($0, cmd) == 1 && substr($0, length(cmd) + 1, 1) ~ /^( |)$/ }
            on' "$T/help" | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
            # shellcheck disable=SC2086
            cli_run "tbdaq $cmd $opt" "$BUILD/tbdaq" -c "$T/none.conf" $cmd "$opt"
            ! grep -q "unknown option" "$T/e" ||
                fail "tbdaq $cmd --help names $opt, but: $(cat "$T/e")"
            opts="$opts $cmd:$opt"
        done
        [ "$cmd" = run ] || [ "$cmd" = config ] || {
            # shellcheck disable=SC2086
            cli_run "tbdaq $cmd --bogus" "$BUILD/tbdaq" -c "$T/none.conf" $cmd --bogus
            [ "$RC" = 2 ] || fail "tbdaq $cmd --bogus exited $RC (want 2)"
            grep -qF "unknown option '--bogus' (see tbdaq ${cmd%% *} --help)" "$T/e" ||
                fail "tbdaq $cmd --bogus said: $(cat "$T/e")"
        }
    done
    echo "options named by the commands' help:$opts"
    for opt in "run start:--operator" "run start:--note" "export:--run" \
        "export:--from" "export:--to" "export:--sensor" "export:--format" \
        "export:--output" "verify:--run" "verify:--witness" \
        "config show:--run" "config show:--at" "config show:--list" \
        "config show:--file"; do
        [[ " $opts " == *" $opt "* ]] || fail "the help of ${opt%%:*} does not name ${opt#*:}"
    done
    # The global options come in both forms, before the command only.
    cli_run "tbdaq --database" "$BUILD/tbdaq" --database "$T/none.db" verify
    [ "$RC" = 1 ] && grep -qF "$T/none.db" "$T/e" ||
        fail "tbdaq --database FILE verify: exit $RC: $(cat "$T/e")"
    cli_run "tbdaq no command" "$BUILD/tbdaq" -d "$T/none.db"
    [ "$RC" = 2 ] && grep -q "no command given" "$T/e" ||
        fail "tbdaq without a command: exit $RC: $(cat "$T/e")"
}

case_log_stamps() {
    local t0 t1 line stamp when ino
    t0=$(date +%s.%N)
    cli_run "tbdaqd in Tokyo" env -u JOURNAL_STREAM TZ=JST-9 \
        "$BUILD/tbdaqd" -c "$T/none.conf"
    t1=$(date +%s.%N)
    line=$(head -1 "$T/e")
    echo "off the journal: $line"
    [[ $line =~ ^($CLI_STAMP)\ tbdaqd:\ error:\  ]] ||
        fail "a line off the journal is '$line', want '<local time> tbdaqd: error: ...'"
    stamp=${BASH_REMATCH[1]}
    [[ $stamp == *+09:00 ]] || fail "the stamp $stamp is not Tokyo's time (+09:00)"
    # the stamp names the moment the line was written, to the millisecond
    when=$(date -d "$stamp" +%s.%N) || fail "date cannot read the stamp $stamp"
    awk -v a="$t0" -v w="$when" -v b="$t1" 'BEGIN { exit !(a - 0.001 <= w && w <= b) }' ||
        fail "the stamp $stamp ($when) is not between $t0 and $t1"

    # stderr is the journal: JOURNAL_STREAM names its device and inode
    : >"$T/journal"
    ino=$(stat -c '%d:%i' "$T/journal")
    RC=0
    JOURNAL_STREAM=$ino timeout 10 "$BUILD/tbdaqd" -c "$T/none.conf" \
        2>>"$T/journal" || RC=$?
    line=$(head -1 "$T/journal")
    echo "on the journal: $line"
    [[ $line =~ ^\<3\>[^0-9] ]] ||
        fail "a line to the journal is '$line', want '<3>' and no stamp"

    # a stream that is not the one JOURNAL_STREAM names is not the journal
    cli_run "tbdaqd, stderr redirected" env JOURNAL_STREAM="$ino" \
        "$BUILD/tbdaqd" -c "$T/none.conf"
    [[ $(head -1 "$T/e") =~ ^$CLI_STAMP\ tbdaqd:\ error: ]] ||
        fail "stderr redirected under JOURNAL_STREAM: '$(head -1 "$T/e")', want a stamp"

    # the command-line tool's messages are for the one who typed it
    cli_run "tbdaq" env -u JOURNAL_STREAM "$BUILD/tbdaq" -c "$T/none.conf" check
    grep -q '^tbdaq: error: ' "$T/e" ||
        fail "tbdaq's error is '$(head -1 "$T/e")', want 'tbdaq: error: ...' unstamped"
}

# cli_status_try: tbdaq status into $T/o; true if it exited 0 (for wait
# conditions: a daemon just started may not have its schema yet).
cli_status_try() {
    timeout 10 "$BUILD/tbdaq" -c "$T/t.conf" status </dev/null >"$T/o" 2>"$T/e"
}

# cli_status: tbdaq status into $T/o; it must exit 0.
cli_status() {
    cli_run "tbdaq status" "$BUILD/tbdaq" -c "$T/t.conf" status
    [ "$RC" = 0 ] || fail "tbdaq status exited $RC: $(cat "$T/e")"
}

# cli_columns_aligned FILE HEADER WORD...: in the table of FILE whose
# header line starts with HEADER, each WORD of the header starts (or, for
# a right-aligned column, ends) at the same column in every row.
cli_columns_aligned() {
    local file=$1 head=$2
    shift 2
    awk -v head="$head" -v words="$*" '
        function fail(m) { print m; bad = 1; exit 1 }
        index($0, head) == 1 { n = split(words, w, " "); on = 1; hdr = $0
            for (i = 1; i <= n; i++) {
                s[i] = index(hdr, w[i]); e[i] = s[i] + length(w[i]) - 1
                if (!s[i]) fail("no column " w[i])
            }
            next }
        on && $0 == "" { exit }
        on {
            rows++
            for (i = 1; i <= n; i++) {
                # the cell at this column: its first and last character
                a = s[i]; b = e[i]
                left = substr($0, a, 1) != " " && (a == 1 || substr($0, a - 1, 1) == " ")
                right = substr($0, b, 1) != " " && substr($0, b + 1, 1) ~ /^( |)$/
                if (!left && !right) fail("row " rows " (" $0 ") is not aligned at " w[i])
            }
        }
        END { if (!bad && !rows) { print "no rows under " head; exit 1 } }
    ' "$file"
}

case_status_view() {
    local b line
    # Without a configuration: say how to name one, and fail.
    if [ ! -e /etc/tbdaq/tbdaq.conf ]; then
        cli_run "tbdaq status" "$BUILD/tbdaq" status
        [ "$RC" = 1 ] || fail "status without a configuration exited $RC (want 1)"
        grep -q 'with -c FILE, or the database alone with -d FILE' "$T/e" ||
            fail "status without a configuration gives no hint at -c/-d: $(cat "$T/e")"
        [ "$(grep -c 'cannot read' "$T/e")" = 1 ] ||
            fail "status says more than once that it cannot read: $(cat "$T/e")"
    fi
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor F1 plant 1 holding flow 0 100
    sim_sensor A-MUCH-LONGER-SENSOR-ID plant 1 input pressure 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 50;" "$(conf_mqtt)"
    start_daemon
    wait_or_fail "cli_status_try && grep -q '^  MQTT: *connected' '$T/o'" 10 \
        "status does not show MQTT connected"
    # readings in flight to the broker are not a backlog
    for _ in 1 2 3 4 5; do
        cli_status
        grep -qE '^  MQTT: *connected; nothing waiting \(acknowledged up to seq [0-9]+ of [0-9]+\)$' "$T/o" ||
            fail "status with a broker acknowledging everything: $(grep MQTT "$T/o")"
    done
    grep -q "^tbdaqd: running since .*; pid $PID_daemon, tbdaqd " "$T/o" ||
        fail "status does not say since when tbdaqd runs: $(head -1 "$T/o")"
    grep -q "^  run: *none open" "$T/o" || fail "status shows no run line: $(cat "$T/o")"
    b=$(cli_columns_aligned "$T/o" SENSOR SENSOR KIND BUS VALUE UNIT QUALITY TAKEN AGE) ||
        fail "the sensor table: $b: $(cat "$T/o")"
    b=$(cli_columns_aligned "$T/o" "BUS " BUS READINGS "ERRORS(1h)" "MISSED(1h)") ||
        fail "the bus table: $b: $(cat "$T/o")"
    ! grep -q ' $' "$T/o" || fail "status has lines ending in spaces"
    # The broker goes: the backlog shows once its oldest reading is 5 s old,
    # not before.
    stop_broker
    wait_or_fail "cli_status_try && grep -q 'backlog [0-9]* readings not acknowledged' '$T/o'" 20 \
        "status never shows the backlog with the broker gone"
    line=$(grep '^  MQTT:' "$T/o")
    echo "$line"
    [[ $line =~ the\ oldest\ taken\ ([^ ]+)\ \(([0-9.]+)\ s\ ago\) ]] ||
        fail "the backlog line does not say when its oldest reading was taken: $line"
    awk -v a="${BASH_REMATCH[2]}" 'BEGIN { exit !(a >= 5) }' ||
        fail "a backlog whose oldest reading is ${BASH_REMATCH[2]} s old is shown"
    # With the daemon stopped: from the database.
    stop_daemon
    cli_status
    grep -q '^tbdaqd: not running' "$T/o" || fail "status after stop: $(head -1 "$T/o")"
    grep -q 'backlog [0-9]* readings not acknowledged' "$T/o" ||
        fail "status with the daemon stopped shows no backlog: $(grep MQTT "$T/o")"
}

EXTRA_CASES+=(gnu_options cli_command_help log_stamps status_view)
