# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 11: traceable time. Sourced by run.sh after
# lib.sh; case_clock_step_event runs in its own subshell with $T set.
# tbdaqd runs under libfaketime with its wall clock read from a file that
# the case rewrites while it records (CLOCK_MONOTONIC stays true): a step
# back by an hour must be recorded as one `clock_step` event of about
# -3600 s, and readings go on. The `clock` event of the start must say
# what adjtimex(2) says on this machine, read independently here (perl's
# syscall, modes 0).

# The step the case makes (seconds; libfaketime's relative offset).
CLOCK_STEP_S=-3600
# Readings wanted before and after the step.
CLOCK_READINGS=20

# clock_set OFFSET: the wall clock the daemon sees, OFFSET from the true
# one; renamed into place, so libfaketime never reads a half-written file.
clock_set() {
    printf '%s\n' "$1" >"$T/faketime.new" && mv "$T/faketime.new" "$T/faketime"
}

# The kernel's synchronisation state as adjtimex(2) gives it to anyone
# (modes 0): "synchronized" or "unsynchronized", as clock.c decides it:
# TIME_ERROR (5) or STA_UNSYNC (0x40) in the status.
clock_kernel_state() {
    perl -e 'require "syscall.ph";
        my $b = "\0" x 256;
        my $r = syscall(&SYS_adjtimex, $b);
        die "adjtimex: $!\n" if $r < 0;
        my ($modes, $off, $freq, $max, $est, $st) =
            unpack("I x4 q q q q i", $b);
        print(($r == 5 || ($st & 0x40)) ? "unsynchronized" : "synchronized",
            " maxerror=$max esterror=$est\n");'
}

# The daemon's clock events of a kind, oldest first: "seq ts_us detail".
clock_events() {
    sql "SELECT seq, ts_us, detail FROM events WHERE kind = '$1' ORDER BY seq;"
}

# clock_start_daemon LIB: starts tbdaqd with libfaketime (LIB) preloaded,
# its clock the real one plus what $T/faketime says (clock_set), the
# monotonic clock untouched.
clock_start_daemon() {
    clock_set +0
    # ASan would refuse a library loaded before it.
    export LD_PRELOAD=$1 FAKETIME_TIMESTAMP_FILE=$T/faketime \
        FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
    start_daemon
    unset LD_PRELOAD FAKETIME_TIMESTAMP_FILE FAKETIME_NO_CACHE \
        FAKETIME_DONT_FAKE_MONOTONIC
}

case_clock_step_event() {
    local lib kernel state first seq_before ts_before steps step n_after
    lib=$(faketime_lib) ||
        fail "libfaketime is not installed (Debian: faketime)"
    kernel=$(clock_kernel_state 2>&1) ||
        fail "cannot read adjtimex with perl: $kernel"
    state=${kernel%% *}
    echo "adjtimex on this machine: $kernel"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor CF plant 1 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 100;"

    clock_start_daemon "$lib"

    # The start: a clock event right after start and config, saying what
    # adjtimex says, and no step.
    wait_or_fail "[ \$(count_readings CF) -ge $CLOCK_READINGS ]" 15 \
        "no readings before the step"
    first=$(sql "SELECT group_concat(kind || ': ' || detail, char(10))
        FROM (SELECT kind, detail FROM events ORDER BY seq LIMIT 3);")
    echo "first events:"
    echo "$first"
    [ "$(sql "SELECT group_concat(kind, ' ') FROM (SELECT kind FROM events
        ORDER BY seq LIMIT 3);")" = "start config clock" ] ||
        fail "the events do not begin with start, config, clock: $first"
    first=$(clock_events clock | head -1 | cut -f3)
    case $state in
    synchronized)
        [[ $first =~ ^synchronized,\ estimated\ error\ [0-9]+\ us,\ maximum\ error\ [0-9]+\ us$ ]] ||
            fail "adjtimex says synchronized ($kernel), the start event: '$first'"
        ;;
    *)
        [[ $first =~ ^unsynchronized\ \(maximum\ error\ [0-9]+\ us\)$ ]] ||
            fail "adjtimex says unsynchronized ($kernel), the start event: '$first'"
        ;;
    esac
    [ -z "$(clock_events clock_step)" ] ||
        fail "a clock_step before any step: $(clock_events clock_step)"

    # The step back, while it records.
    seq_before=$(sql "SELECT max(seq) FROM readings;")
    ts_before=$(sql "SELECT max(ts_us) FROM readings;")
    clock_set "$CLOCK_STEP_S"
    wait_or_fail "[ -n \"\$(clock_events clock_step)\" ]" 10 \
        "no clock_step event after the wall clock went back by an hour"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings
        WHERE seq > $seq_before;\") -ge $CLOCK_READINGS ]" 15 \
        "no readings after the step"
    steps=$(clock_events clock_step)
    echo "clock_step: $steps"
    [ "$(echo "$steps" | wc -l)" = 1 ] || fail "more than one step: $steps"
    step=$(echo "$steps" | cut -f3 |
        sed -n 's/^wall clock stepped by \([-+][0-9]*\.[0-9]\{3\}\) s (from .* to .*)$/\1/p')
    [ -n "$step" ] || fail "clock_step detail unreadable: $steps"
    awk -v s="$step" -v w="$CLOCK_STEP_S" \
        'BEGIN { exit !(s > w - 1 && s < w + 1) }' ||
        fail "clock_step says $step s, want about $CLOCK_STEP_S s"
    # The readings after the step carry the stepped clock, so the step
    # really reached the daemon; and the step's event too.
    n_after=$(sql "SELECT count(*) FROM readings WHERE seq > $seq_before
        AND ts_us < $ts_before + ($CLOCK_STEP_S + 60) * 1000000;")
    ((n_after >= CLOCK_READINGS - 2)) ||
        fail "only $n_after readings after the step carry the stepped clock"
    (($(echo "$steps" | cut -f2) < ts_before + (CLOCK_STEP_S + 60) * 1000000)) ||
        fail "the clock_step event is not stamped with the stepped clock"
    grep -q 'wall clock stepped by' "$T/daemon.err" ||
        fail "the daemon did not log the step"
    stop_daemon
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'clock_step';")" = 1 ] ||
        fail "clock_step events at stop: $(clock_events clock_step)"
}

EXTRA_CASES+=(clock_step_event)
