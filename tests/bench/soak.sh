#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PID_x and S_x variables are set through printf -v; conditions go to
# wait_for in single quotes on purpose (it evaluates them).
# shellcheck disable=SC2016,SC2119,SC2154
#
# make soak (issue 6; not in CI): the W2 plant workload of make bench (20
# units x 50 float32 sensors every second, 1,000 readings/s) for
# SOAK_SECONDS, while the broker is restarted every SOAK_BROKER_PERIOD_S
# and one simulator unit flaps (muted for SOAK_FLAP_DOWN_S every
# SOAK_FLAP_PERIOD_S, through the simulator's control FIFO). It samples
# tbdaqd's resident memory every SOAK_RSS_PERIOD_S and at the end reports:
# RSS after the warm-up against the end and the maximum (it should stay
# flat), readings committed, received by a subscriber, lost (committed and
# never received), duplicates, the database's integrity_check and
# `tbdaq verify`.
#
# The broker keeps its sessions on disk (persistence, saved when it is
# stopped with SIGTERM), and the subscriber (benchsub) has a persistent
# session (fixed client id, clean session off, QoS 1) that reconnects: a
# restart then loses nothing the broker acknowledged, so a reading that
# never arrives is tbdaqd's fault, not the broker's.
#
#   tests/bench/soak.sh BUILD_DIR
#   SOAK_SECONDS=120 SOAK_BROKER_PERIOD_S=40 tests/bench/soak.sh build
#
# Exits 1 if something could not run, or a reading was lost, or the
# integrity check or the verification failed; never on timing or memory.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ME=soak
# shellcheck source=tests/bench/lib.sh
. "$TOP/tests/bench/lib.sh"

# How long tbdaqd runs under load (s).
SOAK_SECONDS=${SOAK_SECONDS:-1800}
# The broker is stopped (SIGTERM) this often, and started again on the
# same port SOAK_BROKER_DOWN_S later (s): long enough for tbdaqd to notice,
# back off and then publish its backlog.
SOAK_BROKER_PERIOD_S=${SOAK_BROKER_PERIOD_S:-300}
SOAK_BROKER_DOWN_S=${SOAK_BROKER_DOWN_S:-5}
# Simulator unit that flaps: muted for DOWN seconds every PERIOD seconds.
SOAK_FLAP_UNIT=${SOAK_FLAP_UNIT:-2}
SOAK_FLAP_PERIOD_S=${SOAK_FLAP_PERIOD_S:-60}
SOAK_FLAP_DOWN_S=${SOAK_FLAP_DOWN_S:-10}
# tbdaqd's RSS is sampled this often (s).
SOAK_RSS_PERIOD_S=${SOAK_RSS_PERIOD_S:-10}
# RSS is judged from this point on (s): by then the queue, the caches and
# the allocator have grown to their working size (tbdaqd's queue ring
# takes about 35 s at 1,000 readings/s to be touched all over). Default
# 120, or half of a shorter run.
SOAK_WARMUP_S=${SOAK_WARMUP_S:-$((SOAK_SECONDS / 2 < 120 ? SOAK_SECONDS / 2 : 120))}
# The subscriber gets this long after the end to receive the rest (s).
SOAK_DRAIN_S=${SOAK_DRAIN_S:-60}
# Keep the work directory even on success.
KEEP=${SOAK_KEEP:-}

# The W2 layout (run.sh).
SOAK_UNITS=20
SOAK_PER_UNIT=50
SOAK_INTERVAL_MS=1000
# The broker saves its persistence file this often (s) besides at exit.
SOAK_BROKER_AUTOSAVE_S=5
# The subscriber's persistent session.
SOAK_SUB_ID=tbdaq-soak-sub
# The main loop's tick (s).
SOAK_TICK_S=1
# RSS growth after the warm-up that still counts as flat (KiB): allocator
# noise, not a leak; 1800 s of a leak of one reading a second is 500 KiB.
SOAK_RSS_FLAT_KIB=256

trap cleanup EXIT
trap 'err "interrupted"; STATUS=1; exit 1' INT TERM

((SOAK_SECONDS >= 10)) || die "SOAK_SECONDS must be at least 10"

# control CMD: one command to the simulator's FIFO.
control() {
    printf '%s\n' "$1" >"$W/sim.ctl" || die "cannot write to $W/sim.ctl"
}

# tick_programs: every program we started still runs.
tick_programs() {
    local p
    for p in "${PIDS[@]}"; do
        pid_running "${p%% *}" || die "${p#* } died during the soak"
    done
}

stop_broker() {
    stop_pid "$PID_broker"
    [ "$STOP_RC" = 0 ] || err "the broker exited $STOP_RC on SIGTERM"
    BROKER_UP_AT=$((ELAPSED + SOAK_BROKER_DOWN_S))
}

# The broker again, on the same port, with the same persistence file.
restart_broker() {
    start_broker "$BROKER_PORT"
    BROKER_UP_AT=
    RESTARTS=$((RESTARTS + 1))
}

# ---------------------------------------------------------------------

check_programs
build_helper benchsub libmosquitto
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-soak.XXXXXX") ||
    die "cannot make a work directory"
W=$WORK/soak
mkdir -p "$W" || die "cannot make $W"
say "soak: work directory $WORK; load average before: $(load_avg)"
say "soak: W2 ($SOAK_UNITS units x $SOAK_PER_UNIT float32 every" \
    "$SOAK_INTERVAL_MS ms) for $SOAK_SECONDS s; broker restart every" \
    "$SOAK_BROKER_PERIOD_S s; unit $SOAK_FLAP_UNIT muted $SOAK_FLAP_DOWN_S s" \
    "every $SOAK_FLAP_PERIOD_S s; RSS every $SOAK_RSS_PERIOD_S s, judged" \
    "after $SOAK_WARMUP_S s"

start_sim "$SOAK_UNITS" --control "$W/sim.ctl"
BROKER_PERSIST=$SOAK_BROKER_AUTOSAVE_S
start_broker
start_sub "$SOAK_SUB_ID"
write_config "$SOAK_UNITS" "$SOAK_PER_UNIT" "$SOAK_INTERVAL_MS" bulk
start_daemon

T0=$(now_us)
RESTARTS=0 FLAPS=0 MUTED='' BROKER_UP_AT=''
NEXT_BROKER=$SOAK_BROKER_PERIOD_S NEXT_FLAP=$SOAK_FLAP_PERIOD_S UNMUTE_AT=
NEXT_RSS=0
: >"$W/rss.txt"
while :; do
    ELAPSED=$((($(now_us) - T0) / 1000000))
    ((ELAPSED < SOAK_SECONDS)) || break
    tick_programs
    if ((ELAPSED >= NEXT_RSS)); then
        say "$ELAPSED $(awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 }
            END { print r, h }' "/proc/$PID_tbdaqd/status")" >>"$W/rss.txt"
        NEXT_RSS=$((NEXT_RSS + SOAK_RSS_PERIOD_S))
    fi
    if [ -n "$BROKER_UP_AT" ] && ((ELAPSED >= BROKER_UP_AT)); then
        restart_broker
    fi
    if [ -z "$BROKER_UP_AT" ] && ((ELAPSED >= NEXT_BROKER)); then
        say "  ${ELAPSED}s: broker stopped for $SOAK_BROKER_DOWN_S s"
        stop_broker
        NEXT_BROKER=$((NEXT_BROKER + SOAK_BROKER_PERIOD_S))
    fi
    if [ -n "$MUTED" ] && ((ELAPSED >= UNMUTE_AT)); then
        control "normal $SOAK_FLAP_UNIT"
        MUTED=
    fi
    if [ -z "$MUTED" ] && ((ELAPSED >= NEXT_FLAP)); then
        say "  ${ELAPSED}s: unit $SOAK_FLAP_UNIT muted for $SOAK_FLAP_DOWN_S s"
        control "mute $SOAK_FLAP_UNIT"
        MUTED=yes FLAPS=$((FLAPS + 1))
        UNMUTE_AT=$((ELAPSED + SOAK_FLAP_DOWN_S))
        NEXT_FLAP=$((NEXT_FLAP + SOAK_FLAP_PERIOD_S))
    fi
    sleep "$SOAK_TICK_S"
done
T1=$(now_us)
[ -z "$MUTED" ] || control "normal $SOAK_FLAP_UNIT"
[ -z "$BROKER_UP_AT" ] || restart_broker
CPU_S=$(awk -v t="$(cpu_ticks "$PID_tbdaqd")" -v hz="$TICKS" \
    'BEGIN { printf "%.2f", t / hz }')
say "$(((T1 - T0) / 1000000)) $(awk '$1 == "VmRSS:" { r = $2 } $1 == "VmHWM:" { h = $2 }
    END { print r, h }' "/proc/$PID_tbdaqd/status")" >>"$W/rss.txt"

# Every reading taken before the end is committed once a later one is.
wait_for "[ \"\$(sql 'SELECT max(ts_us) >= $((T1 + 500000)) FROM readings;')\" = 1 ]" 15 ||
    die "tbdaqd committed nothing after the end"
sql "SELECT seq, ts_us FROM readings WHERE ts_us < $T1 ORDER BY seq;" \
    >"$W/db.txt" || die "cannot read the database"
HI=$(tail -n 1 "$W/db.txt" | cut -d' ' -f1)
[ -n "$HI" ] || die "no readings committed"

# The subscriber gets SOAK_DRAIN_S to receive everything up to HI; after a
# broker restart readings arrive again (duplicates), so the highest seq
# received is not enough: the stats must show nothing missing.
DRAIN_END=$(($(now_us) + SOAK_DRAIN_S * 1000000))
wait_for "[ \"\$(sub_max_seq)\" -ge $HI ]" "$SOAK_DRAIN_S"
while :; do
    LINE=$("$BENCHSUB" stats "$W/db.txt" "$W/sub.rec" "$T0" "$T1") ||
        die "cannot compute the figures"
    [[ "$LINE" != *" missing=0 "* ]] || break
    (($(now_us) < DRAIN_END)) || break
    sleep 1
done
for kv in $LINE; do
    printf -v "S_${kv%%=*}" '%s' "${kv#*=}"
done
TIMING=$("$BENCHSUB" timing "$W/sim.log" "$SOAK_INTERVAL_MS" "$T0" "$T1") ||
    die "cannot compute the timing deviation"
for kv in $TIMING; do
    printf -v "T_${kv%%=*}" '%s' "${kv#*=}"
done

stop_pid "$PID_benchsub"
SUB_RC=$STOP_RC
stop_pid "$PID_tbdaqd"
DAEMON_RC=$STOP_RC
stop_all

read -r GOOD ERRORS OTHER <<<"$(sql "SELECT count(*) FILTER (WHERE quality = 'good'),
    count(*) FILTER (WHERE quality = 'comm_error'),
    count(*) FILTER (WHERE quality NOT IN ('good', 'comm_error'))
    FROM readings WHERE seq <= $HI;")"
EVENTS=$(sql "SELECT group_concat(kind || ' ' || n, ', ') FROM
    (SELECT kind, count(*) AS n FROM events GROUP BY kind ORDER BY kind);")
INTEGRITY=$(sql "PRAGMA integrity_check;" 2>&1 | tr '\n' ' ')
INTEGRITY=${INTEGRITY% }
VERIFY=$("$BUILD/tbdaq" -c "$W/bench.conf" verify 2>&1)
VERIFY_RC=$?

# RSS: the first sample at or after the warm-up, the last, the largest.
read -r RSS_WARM RSS_END RSS_MAX RSS_HWM <<<"$(awk -v w="$SOAK_WARMUP_S" '
    $1 >= w && warm == "" { warm = $2 }
    { last = $2; hwm = $3; if ($2 > max) max = $2 }
    END { print warm == "" ? last : warm, last, max, hwm }' "$W/rss.txt")"
RSS_GROWTH=$((RSS_END - RSS_WARM))
RSS_FLAT=yes
((RSS_GROWTH <= SOAK_RSS_FLAT_KIB)) || RSS_FLAT=no
WALL_MS=$(((T1 - T0) / 1000))

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
say ""
say "soak summary ($(ms "$WALL_MS") s under load, load average at end: $(load_avg))"
say "  broker restarts   $RESTARTS (down $SOAK_BROKER_DOWN_S s each); unit $SOAK_FLAP_UNIT muted $FLAPS times"
say "  tbdaqd RSS        $(mib "$RSS_WARM") MiB at ${SOAK_WARMUP_S}s, $(mib "$RSS_END") MiB at the end (growth $RSS_GROWTH KiB: flat $RSS_FLAT), max $(mib "$RSS_MAX") MiB, VmHWM $(mib "$RSS_HWM") MiB"
say "  RSS over time     $(awk '{ t[NR] = $1; r[NR] = $2 } END {
    step = NR > 12 ? int((NR + 11) / 12) : 1
    for (i = 1; i <= NR; i += step) printf "%ss:%.1f ", t[i], r[i] / 1024
    if ((NR - 1) % step) printf "%ss:%.1f", t[NR], r[NR] / 1024 }' "$W/rss.txt")(s:MiB)"
say "  tbdaqd CPU        $CPU_S s in all = $(awk -v c="$CPU_S" -v ms="$WALL_MS" 'BEGIN { printf "%.2f", 100 * c / (ms / 1000) }')% of one core; exit status $DAEMON_RC after SIGTERM"
say "  committed         $S_db readings (seq ${S_lo}..${S_hi}) = $(per_s "$S_db" "$WALL_MS")/s; $GOOD good, $ERRORS comm_error, $OTHER other"
EXAMPLES=
[ "$S_missing_examples" = - ] || EXAMPLES=" (e.g. seq $S_missing_examples)"
say "  received          $S_received; lost $S_missing$EXAMPLES; duplicates $S_dups; ts mismatches $S_mismatched; subscriber exit $SUB_RC"
say "  latency           poll -> subscriber p50 $(ms "$S_lat_p50_us") ms, p99 $(ms "$S_lat_p99_us") ms, max $(ms "$S_lat_max_us") ms (restarts included)"
say "  timing            |deviation| p50 $(ms $((T_dev_p50_ns / 1000)) 3) ms, p99 $(ms $((T_dev_p99_ns / 1000)) 3) ms, max $(ms $((T_dev_max_ns / 1000)) 3) ms over $T_requests requests"
say "  events            ${EVENTS:-none}"
say "  integrity_check   $INTEGRITY"
say "  tbdaq verify      exit $VERIFY_RC: $(printf '%s' "$VERIFY" | tail -n 3 | tr '\n' ' ')"

if ((S_missing > 0)); then
    err "LOSS: $S_missing committed readings never reached the subscriber"
    STATUS=1
fi
if [ "$INTEGRITY" != ok ]; then
    err "the database's integrity_check says: $INTEGRITY"
    STATUS=1
fi
if [ "$VERIFY_RC" != 0 ]; then
    err "tbdaq verify exited $VERIFY_RC"
    STATUS=1
fi
if [ "$STATUS" = 0 ]; then
    say "SOAK: ok"
else
    say "SOAK: FAILED"
fi
exit "$STATUS"
