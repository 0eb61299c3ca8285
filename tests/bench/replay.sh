# SPDX-License-Identifier: MIT
# PID_x variables are set through printf -v (spawn); conditions go to
# wait_for in single quotes on purpose (it evaluates them).
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# The replay after a broker outage (make bench's `replay`, issue 15):
# W2 recorded with the broker down for BENCH_OUTAGE_S (600 s: 600,000
# readings), then the broker back on the same port; measured: how long
# after the broker came back the subscriber had every reading recorded
# meanwhile (target: 30 s), split into the reconnection and the replay,
# and that none was lost. Sourced by run.sh after lib.sh, never run.
#
# The broker keeps sessions (persistence, saved at SIGTERM) and the
# subscriber is persistent (fixed client id, clean session off, reconnects
# every 100 ms), as in the soak: a reading that never arrives is then
# tbdaqd's fault, not the broker's.

# Seconds the broker stays down (the issue's figure: 600).
BENCH_OUTAGE_S=${BENCH_OUTAGE_S:-600}
# Seconds after the broker is back within which the backlog must have
# arrived before the run stops waiting (then: not caught up).
BENCH_REPLAY_WAIT_S=${BENCH_REPLAY_WAIT_S:-180}
TARGET_REPLAY_S=30

# rec_first_arrival SEQ: the subscriber's arrival time (ns) of the first
# record of SEQ or later, empty if none.
rec_first_arrival() {
    awk -v s="$1" '$1 >= s { print $3; exit }' "$W/sub.rec"
}

# connected_ns: when tbdaqd last said it connected to the broker (its
# log's time stamp), in ns since the epoch; empty if it did not.
connected_ns() {
    local line
    line=$(grep 'mqtt: connected to broker' "$W/tbdaqd.err" | tail -n 1)
    [ -n "$line" ] && date -d "${line%% *}" +%s%N 2>/dev/null
}

# replay_port: a free port below the kernel's ephemeral range. While the
# broker is away, tbdaqd and the subscriber try to connect hundreds of
# times; on a port inside that range one of their attempts can be given
# the broker's port as its own and connect to itself (TCP simultaneous
# open: seen here after a minute), and the broker then cannot listen
# there again.
replay_port() {
    local lo p
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
    ((${lo:-0} > 11000)) || lo=32768
    for _ in $(seq 100); do
        p=$((10000 + RANDOM % (lo - 10000)))
        port_open "$p" || {
            echo "$p"
            return 0
        }
    done
    die "no free port below $lo"
}

run_replay() {
    local units=20 per=50 iv=1000 t_start t_down t_up hi line
    local up_ns caught_ns conn_ns backlog
    W=$WORK/replay
    mkdir -p "$W" || die "cannot make $W"
    say "== replay: W2 ($units units x $per float32 every $iv ms), the broker" \
        "down for ${BENCH_OUTAGE_S}s, then back: time until the subscriber" \
        "has every reading"
    BROKER_PERSIST=5
    start_sim "$units"
    start_broker "$(replay_port)"
    start_sub bench-replay
    write_config "$units" "$per" "$iv" bulk
    start_daemon
    watch_run "$BENCH_WARMUP"
    t_start=$(now_us)
    watch_run 2
    t_down=$(now_us)
    stop_pid "$PID_broker"
    say "   broker down at +$(ms $(((t_down - t_start) / 1000))) s for ${BENCH_OUTAGE_S} s"
    watch_run "$BENCH_OUTAGE_S"
    start_broker "$BROKER_PORT"
    t_up=$(now_us)
    up_ns=$((t_up * 1000))
    # Everything committed by now was recorded while the broker was away
    # (or just before): the backlog.
    hi=$(sql "SELECT max(seq) FROM readings;")
    [ -n "$hi" ] || die "nothing committed"
    backlog=$(sql "SELECT count(*) FROM readings WHERE ts_us >= $t_down;")
    # The last record's seq: cheap to look at while 600,000 arrive.
    wait_for "[ \"\$(tail -n 1 '$W/sub.rec' | cut -d' ' -f1)\" -ge $hi ]" \
        "$BENCH_REPLAY_WAIT_S"
    pid_running "$PID_tbdaqd" || die "tbdaqd died during the replay"
    watch_run 2
    stop_pid "$PID_benchsub"
    stop_pid "$PID_tbdaqd"
    R_daemon_rc=$STOP_RC
    stop_all

    sql "SELECT seq, ts_us FROM readings WHERE ts_us >= $t_start AND
         ts_us < $t_up ORDER BY seq;" >"$W/db.txt" ||
        die "cannot read the database"
    line=$("$BENCHSUB" stats "$W/db.txt" "$W/sub.rec" "$t_start" "$t_up") ||
        die "cannot compute the figures"
    kv_set S "$line"
    caught_ns=$(rec_first_arrival "$hi")
    conn_ns=$(connected_ns)
    R_replay_lost=$S_missing
    if [ -z "$caught_ns" ]; then
        R_replay_s="not within ${BENCH_REPLAY_WAIT_S}s"
        err "the replay did not catch up within ${BENCH_REPLAY_WAIT_S}s of the broker's return"
    else
        R_replay_s=$(awk -v a="$caught_ns" -v b="$up_ns" \
            'BEGIN { printf "%.1f", (a - b) / 1e9 }')
    fi
    say "   recorded      $S_db readings from the window's start to the broker's return, $backlog of them while it was down; $S_received received, $S_missing not received, $S_dups duplicates"
    if [ -n "$conn_ns" ] && [ -n "$caught_ns" ] && ((conn_ns > up_ns)); then
        say "   reconnection  tbdaqd connected $(awk -v a="$conn_ns" -v b="$up_ns" 'BEGIN { printf "%.1f", (a - b) / 1e9 }') s after the broker's return (its reconnection backoff)"
        say "   replay        then the backlog in $(awk -v a="$caught_ns" -v b="$conn_ns" 'BEGIN { printf "%.1f", (a - b) / 1e9 }') s = $(awk -v a="$caught_ns" -v b="$conn_ns" -v n="$backlog" 'BEGIN { printf "%.0f", (a > b ? n / ((a - b) / 1e9) : 0) }') readings/s, live readings going on"
    fi
    say "   caught up     $R_replay_s s after the broker's return (target $TARGET_REPLAY_S s); tbdaqd exit status $R_daemon_rc"
    if ((S_missing > 0)); then
        err "LOSS in replay: $S_missing readings recorded never reached the subscriber (e.g. seq $S_missing_examples)"
        STATUS=1
    fi
    BROKER_PERSIST=
    # shellcheck disable=SC2059
    ROWS+=("$(printf "$ROW_FMT" replay "${units}x${per}f32/$iv" 1000 - - - \
        - - "$S_missing" "$S_dups" - - - - - "$(cut -d' ' -f1 /proc/loadavg)" \
        "outage ${BENCH_OUTAGE_S}s: caught up in ${R_replay_s}s")")
}
