# SPDX-License-Identifier: MIT
# PID_x variables are set through printf -v (spawn); conditions go to
# wait_for in single quotes on purpose (it evaluates them).
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# The Sparkplug half of issue 15's replay target (make bench's
# `replay_spb`): "with Sparkplug, live readings never more than 2 s late"
# while the backlog of a 10-minute broker outage is published. W2 with
# both outputs, the JSON `mqtt` group (persistent session, as in
# replay.sh) and a `sparkplug` group at qos 1, on ONE broker: a site has
# one broker, one outage takes both down, and both replay into it at
# once, so the Sparkplug node's live DDATA compete for the broker with
# its own history and with the JSON output's 600,000 readings (the
# worst case). The broker is down for BENCH_OUTAGE_S, then back on the
# same port. Measured after its return:
#   - every live DDATA metric's lateness (arrival at the host minus the
#     reading's timestamp, ms) of the readings taken from the broker's
#     return until both outputs had caught up (the Sparkplug history
#     and the JSON replay): max and p99 (target max 2 s), split at the
#     DDATA's encoding;
#   - the time until every reading of the outage arrived at the host
#     (each metric's seq property; the union of seqs received must equal
#     the database's: a reading missing is LOSS, exit 1);
#   - the JSON output's catch-up as replay.sh measures it;
#   - the CPU of tbdaqd, the broker and both subscribers over the
#     catch-up (the host must not be the bottleneck).
# The host is tests/bench/spbhost.c (protobuf-c code generated from the
# integration tests' own schema: independent of tbdaq's encoder; see
# there why not Python); tests/bench/spbsub.py computes the figures.
# Sourced by run.sh after lib.sh and replay.sh, never run.

TARGET_SPB_LATE_MS=2000
SPB_PY=/usr/bin/python3

# logged_ns PATTERN: when tbdaqd last logged a line matching PATTERN (its
# log's time stamp), in ns since the epoch; empty if never.
logged_ns() {
    local line
    line=$(grep -- "$1" "$W/tbdaqd.err" | tail -n 1)
    [ -n "$line" ] && date -d "${line%% *}" +%s%N 2>/dev/null
}

# spb_low: the host's contiguous low-water mark of seqs received.
spb_low() {
    grep '^progress' "$W/spbsub.out" 2>/dev/null | tail -n 1 |
        sed -n 's/.* low=\([0-9]*\).*/\1/p'
}

# secs_between NS_A NS_B: (A - B) in seconds, one decimal.
secs_between() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (a - b) / 1e9 }'
}

# spb_host_build: the integration tests' schema compiled by protoc-c into
# $BUILD/bench/spbpb/, and tests/bench/spbhost.c with it into
# $BUILD/bench/spbhost (the project's warning flags; the generated code
# as the project's own, mk/sparkplug.mk).
spb_host_build() {
    local tools=$TOP/tests/integration/tools gen=$BUILD/bench/spbpb
    command -v protoc-c >/dev/null ||
        die "no protoc-c (Debian: protobuf-c-compiler)"
    mkdir -p "$gen" || die "cannot make $gen"
    protoc-c --proto_path="$tools" --c_out="$gen" \
        "$tools/sparkplug_test.proto" || die "protoc-c failed"
    # shellcheck disable=SC2086,SC2046
    (cd "$TOP" && ${CC:-cc} $WARN_FLAGS -D_XOPEN_SOURCE=700 \
        -D_DEFAULT_SOURCE -I. -I"$gen" ${CFLAGS:--O2 -g} \
        $(pkg-config --cflags libmosquitto libprotobuf-c) \
        tests/bench/spbhost.c tests/bench/mqstep.c \
        "$gen/sparkplug_test.pb-c.c" common/util.c \
        common/fmt.c common/log.c \
        $(pkg-config --libs libmosquitto libprotobuf-c) -lpthread \
        -o "$BUILD/bench/spbhost") || die "cannot build spbhost"
    SPBHOST=$BUILD/bench/spbhost
}

# spb_host_start: the host subscribed: spbhost (C), or with
# BENCH_SPB_HOST=python spbsub.py (python3-protobuf, the schema compiled
# by protoc into $W/pb; it was the bottleneck: tests/bench/README.md).
spb_host_start() {
    local tools=$TOP/tests/integration/tools
    if [ "${BENCH_SPB_HOST:-c}" = python ]; then
        command -v protoc >/dev/null || die "no protoc (Debian: protobuf-compiler)"
        "$SPB_PY" -c 'import google.protobuf, paho.mqtt' 2>/dev/null ||
            die "$SPB_PY lacks python3-protobuf or python3-paho-mqtt"
        mkdir -p "$W/pb"
        protoc --proto_path="$tools" --python_out="$W/pb" \
            "$tools/sparkplug_test.proto" 2>"$W/protoc.err" ||
            die "protoc: $(head -3 "$W/protoc.err")"
        spawn spbsub "$SPB_PY" "$TOP/tests/bench/spbsub.py" sub --pb "$W/pb" \
            --port "$BROKER_PORT" --out "$W/spb.rec" --client-id bench-spb
    else
        spb_host_build
        spawn spbsub "$SPBHOST" 127.0.0.1 "$BROKER_PORT" "$W/spb.rec" \
            bench-spb 1
    fi
    wait_for "grep -q '^subscribed' '$W/spbsub.out' ||
        ! pid_running $PID_spbsub" "$START_S" ||
        die "the Sparkplug host did not subscribe"
    pid_running "$PID_spbsub" || die "the Sparkplug host exited at start"
}

# cpu_snap ARRAY: tbdaqd's, the broker's and both subscribers' ticks.
cpu_snap() {
    local -n a=$1
    a=("$(cpu_ticks "$PID_tbdaqd")" "$(cpu_ticks "$PID_broker")"
        "$(cpu_ticks "$PID_spbsub")" "$(cpu_ticks "$PID_benchsub")")
}

run_replay_spb() {
    local units=20 per=50 iv=1000 t_start t_down t_up t_end hi line
    local up_ns spb_conn_ns json_conn_ns json_done_ns backlog wall_ms
    local -a c0 c1 cs
    local spb_ms
    W=$WORK/replay_spb
    mkdir -p "$W" || die "cannot make $W"
    say "== replay_spb: W2 ($units units x $per float32 every $iv ms) with" \
        "the JSON output and a Sparkplug B node (qos 1) on one broker, down" \
        "for ${BENCH_OUTAGE_S}s, then back: live DDATA lateness meanwhile," \
        "and the time until every reading arrived"
    BROKER_PERSIST=5
    start_sim "$units"
    start_broker "$(replay_port)"
    start_sub bench-replay
    spb_host_start
    BENCH_SPARKPLUG=1 write_config "$units" "$per" "$iv" bulk
    start_daemon
    wait_for "grep -q 'sparkplug: births published' '$W/tbdaqd.err'" \
        "$START_S" || die "the Sparkplug node did not publish its births"
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
    cpu_snap c0
    hi=$(sql "SELECT max(seq) FROM readings;")
    [ -n "$hi" ] || die "nothing committed"
    backlog=$(sql "SELECT count(*) FROM readings WHERE ts_us >= $t_down;")
    # Both outputs caught up: the host's low-water mark and the JSON
    # subscriber's last record at the last seq committed at the return
    # (the CPU figures are taken at each).
    wait_for "[ \"\$(spb_low)\" -ge $hi ]" "$BENCH_REPLAY_WAIT_S"
    cpu_snap cs
    spb_ms=$((($(now_us) - t_up) / 1000))
    wait_for "[ \"\$(tail -n 1 '$W/sub.rec' | cut -d' ' -f1)\" -ge $hi ]" \
        $((BENCH_REPLAY_WAIT_S - spb_ms / 1000))
    t_end=$(now_us)
    cpu_snap c1
    wall_ms=$(((t_end - t_up) / 1000))
    pid_running "$PID_tbdaqd" || die "tbdaqd died during the replay"
    # Live readings after the catch-up too, then everything stopped.
    watch_run 3
    stop_pid "$PID_spbsub"
    stop_pid "$PID_benchsub"
    stop_pid "$PID_tbdaqd"
    R_daemon_rc=$STOP_RC
    stop_all

    sql "SELECT seq, ts_us FROM readings WHERE ts_us >= $t_start AND
         ts_us < $t_up ORDER BY seq;" >"$W/db.txt" ||
        die "cannot read the database"
    line=$("$BENCHSUB" stats "$W/db.txt" "$W/sub.rec" "$t_start" "$t_up") ||
        die "cannot compute the JSON figures"
    kv_set S "$line"
    line=$("$SPB_PY" "$TOP/tests/bench/spbsub.py" stats --rec "$W/spb.rec" \
        --db "$W/db.txt" --from-us "$t_up" --to-us "$t_end") ||
        die "cannot compute the Sparkplug figures"
    kv_set P "$line"
    json_done_ns=$(rec_first_arrival "$hi")
    json_conn_ns=$(logged_ns 'mqtt: connected to broker')
    spb_conn_ns=$(logged_ns 'sparkplug: connected to broker')

    R_spb_lost=$P_missing
    R_spb_late_max=$P_late_max_ms R_spb_late_p99=$P_late_p99_ms
    if ((P_missing > 0)); then
        R_spb_done="not all"
    else
        R_spb_done=$(secs_between $((P_hist_done_us * 1000)) "$up_ns")
    fi
    R_spb_json_s="not within ${BENCH_REPLAY_WAIT_S}s"
    [ -z "$json_done_ns" ] || R_spb_json_s=$(secs_between "$json_done_ns" "$up_ns")
    say "   recorded      $S_db readings from the window's start to the broker's return, $backlog of them while it was down"
    [ -z "$spb_conn_ns" ] || ((spb_conn_ns < up_ns)) ||
        say "   reconnection  Sparkplug node $(secs_between "$spb_conn_ns" "$up_ns") s after the broker's return, JSON output $(secs_between "${json_conn_ns:-$up_ns}" "$up_ns") s"
    say "   sparkplug     $P_received of $P_db readings received ($P_hist historical metrics, $P_live live), $P_missing not received (e.g. seq $P_missing_examples), $P_dups duplicates; every one there $R_spb_done s after the broker's return"
    say "   live lateness arrival - reading's timestamp, the $P_late_n live readings taken from the return until both outputs had caught up: p50 $P_late_p50_ms ms, p99 $P_late_p99_ms ms, max $P_late_max_ms ms (target max $TARGET_SPB_LATE_MS ms); of every live reading of the run: max $P_late_all_max_ms ms"
    say "   split         at the DDATA's encoding (its payload timestamp): taken -> encoded (commit, the node's pump) p99 $P_node_p99_ms ms, max $P_node_max_ms ms; encoded -> arrival (libmosquitto's queue, the broker, the host) p99 $P_after_p99_ms ms, max $P_after_max_ms ms"
    say "   json          $S_received received, $S_missing not received, $S_dups duplicates; caught up $R_spb_json_s s after the broker's return"
    say "   CPU           % of one core, until the host had every reading ($(ms "$spb_ms") s): tbdaqd $(ticks_pct $((cs[0] - c0[0])) "$spb_ms"), broker $(ticks_pct $((cs[1] - c0[1])) "$spb_ms"), Sparkplug host $(ticks_pct $((cs[2] - c0[2])) "$spb_ms"), JSON subscriber $(ticks_pct $((cs[3] - c0[3])) "$spb_ms")"
    say "   CPU           % of one core, until both had every reading ($(ms "$wall_ms") s): tbdaqd $(ticks_pct $((c1[0] - c0[0])) "$wall_ms"), broker $(ticks_pct $((c1[1] - c0[1])) "$wall_ms"), Sparkplug host $(ticks_pct $((c1[2] - c0[2])) "$wall_ms"), JSON subscriber $(ticks_pct $((c1[3] - c0[3])) "$wall_ms"); tbdaqd exit status $R_daemon_rc"
    if ((P_missing > 0)); then
        err "LOSS in replay_spb: $P_missing readings recorded never reached the Sparkplug host (e.g. seq $P_missing_examples)"
        STATUS=1
    fi
    if ((S_missing > 0)); then
        err "LOSS in replay_spb: $S_missing readings recorded never reached the JSON subscriber (e.g. seq $S_missing_examples)"
        STATUS=1
    fi
    BROKER_PERSIST=
    # shellcheck disable=SC2059
    ROWS+=("$(printf "$ROW_FMT" replay_spb "${units}x${per}f32/$iv" 1000 - - - \
        - - "$((P_missing + S_missing))" "$P_dups" - "$P_late_p99_ms" - - - \
        "$(cut -d' ' -f1 /proc/loadavg)" \
        "outage ${BENCH_OUTAGE_S}s: Sparkplug live max ${P_late_max_ms} ms, all in ${R_spb_done}s; JSON in ${R_spb_json_s}s")")
}
