# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 15's timing: real-time pollers. Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.

# perf_policy TID: the scheduling policy of thread TID of the daemon
# (SCHED_OTHER, SCHED_FIFO, ...), from chrt(1).
perf_policy() {
    chrt -p "$1" 2>/dev/null | sed -n 's/.*scheduling policy: *//p'
}

# perf_count_policy PID POLICY: how many threads of PID run POLICY.
perf_count_policy() {
    local t n=0
    for t in /proc/"$1"/task/*; do
        [ "$(perf_policy "${t##*/}")" = "$2" ] && n=$((n + 1))
    done
    echo "$n"
}

# A daemon started real-time (as chrt -f 1 or systemd's
# CPUSchedulingPolicy=fifo would) keeps its pollers SCHED_FIFO and returns
# its main thread, which commits and publishes, to SCHED_OTHER; it says
# so once. A daemon started normally has no real-time thread. Three buses,
# so three pollers.
case_poller_realtime() {
    local fifo main
    start_sim --port 0 --units 3
    conf_tcp_bus b1
    conf_tcp_bus b2
    conf_tcp_bus b3
    sim_sensor F1 b1 1 input flow 20 200
    sim_sensor F2 b2 2 input flow 20 200
    sim_sensor F3 b3 3 input flow 20 200
    conf_write "$T/t.conf"

    # Started normally: nothing real-time.
    start_daemon
    wait_or_fail "[ \"\$(count_readings F3 good)\" -ge 2 ]" 10 \
        "no readings of F3"
    fifo=$(perf_count_policy "$PID_daemon" SCHED_FIFO)
    [ "$fifo" = 0 ] || fail "started normally, $fifo threads are SCHED_FIFO"
    grep -q 'pollers run real-time' "$T/daemon.err" &&
        fail "started normally, it says its pollers run real-time"
    stop_daemon

    if ! chrt -f 1 true 2>/dev/null; then
        echo "SKIPPED the real-time half: SCHED_FIFO not allowed here (needs CAP_SYS_NICE or RLIMIT_RTPRIO)"
        return 0
    fi
    # Started real-time: this shell forks it as SCHED_FIFO 1, then goes
    # back to normal itself.
    chrt -f -p 1 "$BASHPID" || fail "cannot make the case's shell SCHED_FIFO"
    SPAWN_APPEND=1 start_daemon
    chrt -o -p 0 "$BASHPID" || fail "cannot return the case's shell to SCHED_OTHER"
    wait_or_fail "grep -q 'pollers run real-time (SCHED_FIFO priority 1)' \
        '$T/daemon.err'" 10 "no word of real-time pollers"
    wait_or_fail "[ \"\$(count_readings F3 good)\" -ge 4 ]" 10 \
        "no readings of F3 after the restart"
    main=$(perf_policy "$PID_daemon")
    [ "$main" = SCHED_OTHER ] ||
        fail "the main thread runs $main (want SCHED_OTHER)"
    fifo=$(perf_count_policy "$PID_daemon" SCHED_FIFO)
    # The three pollers, and the signal thread started before them.
    ((fifo >= 3)) || fail "$fifo threads SCHED_FIFO (want the 3 pollers)"
    echo "main thread $main; $fifo threads SCHED_FIFO"
    stop_daemon
}

EXTRA_CASES+=(poller_realtime)
