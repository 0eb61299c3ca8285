#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# PID_x and S_x variables are set through printf -v; conditions go to
# wait_for in single quotes on purpose (it evaluates them).
# shellcheck disable=SC2016,SC2046,SC2154,SC2317
#
# make bench: end-to-end throughput and latency of tbdaqd (issue 3). Each
# workload starts its own tbdaq-sim, mosquitto broker, subscriber
# (benchsub, built here) and tbdaqd on 127.0.0.1, polls N units x M
# float32 sensors of the simulator's bulk region, lets it warm up, then
# measures a steady window: readings committed (from the database),
# readings received by the subscriber, loss, poll-to-subscriber latency
# (arrival at the subscriber minus the reading's ts_us), CPU and memory.
# The first workload is the target rate; then the rate is stepped up until
# one fails to keep up, to find the ceiling.
#
#   tests/bench/run.sh BUILD_DIR
#
# Figures never fail the run. It exits 1 only if something could not run
# (a program missing or dead, no readings) or readings were lost: a
# reading committed in the window that the subscriber never received.
# Tunables: the BENCH_* variables below (README.md).
set -u
export LC_ALL=C

BUILD=${1:-}
if [ -z "$BUILD" ] || [ $# -ne 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
TOP=$(cd "$(dirname "$0")/../.." && pwd)

# Readings per second of the main workload (issue 3: at least 20,000).
BENCH_RATE=${BENCH_RATE:-20000}
# Seconds of the measured window of the main workload, and of each step.
BENCH_SECONDS=${BENCH_SECONDS:-20}
BENCH_STEP_SECONDS=${BENCH_STEP_SECONDS:-10}
# Seconds of polling before the window opens (connections, first commits,
# the publisher's window filling).
BENCH_WARMUP=${BENCH_WARMUP:-5}
# The ceiling search: rates tried after the main workload, in order, until
# the first that does not keep up. Empty: no search.
BENCH_STEPS=${BENCH_STEPS-30000 35000 40000 50000 60000 80000 100000}
# Simulator units (one TCP bus each) at least, and the sensors' interval.
# A unit has 1000 bulk registers pairs; more units are used when a rate
# needs more than 1000 sensors per unit.
BENCH_UNITS=${BENCH_UNITS:-10}
BENCH_INTERVAL_MS=${BENCH_INTERVAL_MS:-100}
# Seconds the subscriber gets, after the window, to receive its last
# reading before the rest counts as not received.
BENCH_DRAIN_S=${BENCH_DRAIN_S:-15}
# The broker's per-subscriber QoS 1 window (mosquitto's default is 20).
BENCH_BROKER_INFLIGHT=${BENCH_BROKER_INFLIGHT:-100}
# Keep the work directory (logs, database, records) even on success.
BENCH_KEEP=${BENCH_KEEP:-}

# A step keeps up if it commits at least this share of its target (%),
# misses no slot, loses nothing and has a p99 latency under this (ms).
KEEPUP_RATE_PCT=95
KEEPUP_P99_MS=1000
# The simulator has 1000 float32 registers pairs per unit (1000 + 2k).
SIM_BULK_SENSORS=1000
SIM_BULK_BASE=1000
# sqlite3 waits this long for the daemon's write lock (ms).
SQL_BUSY_MS=5000
# How long a program gets between SIGTERM and SIGKILL at teardown (s).
STOP_GRACE_S=6
# How long programs get to become ready (s).
START_S=15
POLL_S=0.05
MOSQUITTO=/usr/sbin/mosquitto
# Brokers listen on a random port in LO .. LO + SPAN - 1.
BROKER_PORT_LO=20000
BROKER_PORT_SPAN=40000
TICKS=$(getconf CLK_TCK)

W=                # the current workload's directory
PIDS=()           # everything started, as "pid name"
STATUS=0          # exit status: 1 once something could not run or lost

say() { printf '%s\n' "$*"; }
err() { printf 'bench: %s\n' "$*" >&2; }

now_us() {
    local t=$EPOCHREALTIME
    echo "${t/./}"
}

pid_running() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_for CONDITION TIMEOUT_S: polls the condition until true (0) or
# the timeout (1).
wait_for() {
    local cond=$1 end
    end=$(($(now_us) + $2 * 1000000))
    until eval "$cond" >/dev/null 2>&1; do
        (($(now_us) < end)) || return 1
        sleep "$POLL_S"
    done
}

# spawn NAME CMD...: CMD in the background, output in $W/NAME.out/.err;
# sets PID_NAME.
spawn() {
    local name=$1
    shift
    "$@" >"$W/$name.out" 2>"$W/$name.err" &
    PIDS+=("$! $name")
    printf -v "PID_$name" '%s' "$!"
}

# stop_pid PID: SIGTERM, SIGKILL after STOP_GRACE_S; its status in STOP_RC.
stop_pid() {
    local pid=$1
    STOP_RC=
    if pid_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        wait_for "! pid_running $pid" "$STOP_GRACE_S" ||
            kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    STOP_RC=$?
}

# Stops everything this script started, newest first.
stop_all() {
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]%% *}
        stop_pid "$pid"
    done
    PIDS=()
}

cleanup() {
    stop_all
    if [ -n "${BENCH_DIR:-}" ] && [ -d "$BENCH_DIR" ]; then
        if [ "$STATUS" = 0 ] && [ -z "$BENCH_KEEP" ]; then
            rm -rf "$BENCH_DIR"
        else
            err "work files kept in $BENCH_DIR"
        fi
    fi
}
trap cleanup EXIT
trap 'err "interrupted"; STATUS=1; exit 1' INT TERM

# Something could not run: say so loudly, with the logs, and give up.
die() {
    local f
    err "ERROR: $*"
    for f in "$W"/tbdaqd.err "$W"/broker.log "$W"/benchsub.err \
        "$W"/sim.err; do
        [ -s "$f" ] || continue
        err "--- last lines of $f"
        tail -n 15 "$f" >&2
    done
    STATUS=1
    exit 1
}

sql() {
    sqlite3 -batch -noheader -separator ' ' -cmd ".timeout $SQL_BUSY_MS" \
        "$W/bench.db" "$1"
}

# cpu_ticks PID [TID]: utime + stime so far, in clock ticks, of every
# thread of PID or only of thread TID.
cpu_ticks() {
    local f=/proc/$1/stat
    [ -z "${2:-}" ] || f=/proc/$1/task/$2/stat
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$f" 2>/dev/null ||
        echo 0
}

# busy_ticks: "busy total" ticks of the whole machine so far.
busy_ticks() {
    awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i
                   print t - $5 - $6, t }' /proc/stat
}

# peak_rss_mb PID: VmHWM in MiB.
peak_rss_mb() {
    awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" \
        2>/dev/null
}

# ms N: N thousandths as a decimal (microseconds as milliseconds).
ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------
# The programs

build_benchsub() {
    local warn cflags
    warn="-std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow
        -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
        -Wwrite-strings -Wvla -Wformat=2"
    cflags=${CFLAGS:--O2 -g}
    mkdir -p "$BUILD/bench" || die "cannot make $BUILD/bench"
    BENCHSUB=$(cd "$BUILD/bench" && pwd)/benchsub
    # shellcheck disable=SC2086
    (cd "$TOP" && ${CC:-cc} $warn -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -I. \
        ${CPPFLAGS:-} $cflags $(pkg-config --cflags libmosquitto) \
        tests/bench/benchsub.c common/util.c common/log.c ${LDFLAGS:-} \
        $(pkg-config --libs libmosquitto) -o "$BENCHSUB") ||
        die "cannot build $BENCHSUB"
}

check_programs() {
    local p
    for p in tbdaqd tbdaq-sim; do
        [ -x "$BUILD/$p" ] || die "no program $BUILD/$p (run make first)"
    done
    grep -qa mosquitto_publish "$BUILD/tbdaqd" ||
        die "$BUILD/tbdaqd does not publish over MQTT"
    [ -x "$MOSQUITTO" ] || die "no $MOSQUITTO (Debian: mosquitto)"
    command -v sqlite3 >/dev/null || die "no sqlite3 (Debian: sqlite3)"
}

start_sim() {
    local line
    spawn sim "$BUILD/tbdaq-sim" --port 0 --units "$1" --log "$W/sim.log"
    wait_for "grep -q 'listening on 127.0.0.1:' '$W/sim.out' ||
        ! pid_running $PID_sim" "$START_S" ||
        die "the simulator did not report its port"
    pid_running "$PID_sim" || die "the simulator exited at start"
    line=$(grep -m1 'listening on 127.0.0.1:' "$W/sim.out")
    SIM_PORT=${line##*:}
    SIM_PORT=${SIM_PORT%%[!0-9]*}
}

start_broker() {
    local end
    end=$(($(now_us) + START_S * 1000000))
    while (($(now_us) < end)); do
        BROKER_PORT=$((BROKER_PORT_LO + (RANDOM * 32768 + RANDOM) % BROKER_PORT_SPAN))
        port_open "$BROKER_PORT" && continue
        cat >"$W/broker.conf" <<EOF
listener $BROKER_PORT 127.0.0.1
allow_anonymous true
user $(id -un)
persistence false
# Whatever the subscriber has not acknowledged is queued, never dropped:
# mosquitto's default of 1000 queued messages is 50 ms at 20,000/s.
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages $BENCH_BROKER_INFLIGHT
log_dest file $W/broker.log
log_type error
log_type warning
log_type notice
log_type information
EOF
        spawn broker "$MOSQUITTO" -c "$W/broker.conf"
        if wait_for "port_open $BROKER_PORT || ! pid_running $PID_broker" 5 &&
            pid_running "$PID_broker"; then
            return 0
        fi
        stop_pid "$PID_broker"
    done
    die "no broker accepted connections within $START_S s"
}

start_sub() {
    spawn benchsub "$BENCHSUB" sub 127.0.0.1 "$BROKER_PORT" 'tbdaq/bench/#' \
        "$W/sub.rec"
    wait_for "grep -q 'subscribed' '$W/benchsub.out' ||
        ! pid_running $PID_benchsub" "$START_S" ||
        die "the subscriber did not subscribe"
    pid_running "$PID_benchsub" || die "the subscriber exited at start"
}

# write_config UNITS SENSORS_PER_UNIT: one TCP bus per unit, the unit's
# first SENSORS_PER_UNIT bulk registers as float32 ABCD sensors.
write_config() {
    awk -v units="$1" -v per="$2" -v iv="$BENCH_INTERVAL_MS" \
        -v simport="$SIM_PORT" -v bport="$BROKER_PORT" -v db="$W/bench.db" \
        -v base="$SIM_BULK_BASE" 'BEGIN {
        print "# generated by tests/bench/run.sh"
        print "site = \"bench\";"
        print "database = \"" db "\";"
        print "log_level = \"info\";"
        print "commit_interval_ms = 100;"
        print "mqtt = { host = \"127.0.0.1\"; port = " bport "; qos = 1;"
        print "  client_id = \"tbdaq-bench\"; topic_prefix = \"tbdaq\";"
        print "  retain = false; keepalive_s = 30; };"
        print "buses = ("
        for (u = 1; u <= units; u++)
            printf "  { name = \"u%02d\"; type = \"tcp\"; host = \"127.0.0.1\"; port = %d; timeout_ms = 1000; retries = 0; }%s\n",
                u, simport, u < units ? "," : ""
        print ");"
        print "sensors = ("
        for (u = 1; u <= units; u++)
            for (k = 0; k < per; k++)
                printf "  { id = \"U%02d-B%03d\"; kind = \"generic\"; unit = \"x\"; bus = \"u%02d\"; unit_id = %d; table = \"input\"; address = %d; type = \"float32\"; byte_order = \"ABCD\"; interval_ms = %d; }%s\n",
                    u, k, u, u, base + 2 * k, iv,
                    (u < units || k < per - 1) ? "," : ""
        print ");"
    }' >"$W/bench.conf"
}

start_daemon() {
    "$BUILD/tbdaqd" -t -c "$W/bench.conf" >"$W/plan.txt" 2>"$W/check.err" ||
        die "the generated config is invalid: $(head -3 "$W/check.err")"
    spawn tbdaqd "$BUILD/tbdaqd" -c "$W/bench.conf"
    wait_for "grep -q 'mqtt: connected' '$W/tbdaqd.err' ||
        ! pid_running $PID_tbdaqd" "$START_S" ||
        die "tbdaqd did not connect to the broker"
    pid_running "$PID_tbdaqd" || die "tbdaqd exited at start"
}

# watch_run SECONDS: waits, checking every program still runs.
watch_run() {
    local end p name
    end=$(($(now_us) + $1 * 1000000))
    while (($(now_us) < end)); do
        sleep 0.2
        for p in "${PIDS[@]}"; do
            name=${p#* }
            pid_running "${p%% *}" || die "$name died during the run"
        done
    done
}

# The subscriber's highest seq so far (its records are written in whole
# lines).
sub_last_seq() {
    local l
    l=$(tail -n 1 "$W/sub.rec" 2>/dev/null)
    echo "${l%% *}"
}

# missed_slots FROM_US TO_US: slots missed by events in the interval.
missed_slots() {
    sql "SELECT detail FROM events WHERE kind = 'missed'
         AND ts_us BETWEEN $1 AND $2;" |
        awk 'match($0, /[0-9]+ slots? missed/) { s += substr($0, RSTART, RLENGTH) + 0 }
             END { print s + 0 }'
}

# ---------------------------------------------------------------------
# One workload

# run_workload NAME RATE SECONDS: sets the R_* figures.
run_workload() {
    local name=$1 rate=$2 secs=$3 units per t0 t1 c0 c1 b0 b1 p pn line kv
    local -A cpu0 cpu1
    W=$BENCH_DIR/$name
    mkdir -p "$W" || die "cannot make $W"
    # Sensors per interval, spread over enough units of 1000 at most.
    per=$((rate * BENCH_INTERVAL_MS / 1000))
    units=$BENCH_UNITS
    ((units * SIM_BULK_SENSORS >= per)) ||
        units=$(((per + SIM_BULK_SENSORS - 1) / SIM_BULK_SENSORS))
    per=$((per / units))
    R_units=$units R_per=$per
    R_target=$((units * per * 1000 / BENCH_INTERVAL_MS))
    say "== $name: $units units x $per float32 sensors every" \
        "$BENCH_INTERVAL_MS ms = $R_target readings/s;" \
        "${BENCH_WARMUP}s warm-up, ${secs}s measured"

    start_sim "$units"
    start_broker
    start_sub
    write_config "$units" "$per"
    start_daemon
    R_requests=$(sed -n 's/^requests (\([0-9]*\) for.*/\1/p' "$W/plan.txt")

    watch_run "$BENCH_WARMUP"
    t0=$(now_us)
    for p in "${PIDS[@]}"; do
        pn=${p#* }
        cpu0[$pn]=$(cpu_ticks "${p%% *}")
    done
    cpu0[main]=$(cpu_ticks "$PID_tbdaqd" "$PID_tbdaqd")
    read -r b0 c0 <<<"$(busy_ticks)"
    watch_run "$secs"
    t1=$(now_us)
    for p in "${PIDS[@]}"; do
        pn=${p#* }
        cpu1[$pn]=$(cpu_ticks "${p%% *}")
    done
    cpu1[main]=$(cpu_ticks "$PID_tbdaqd" "$PID_tbdaqd")
    read -r b1 c1 <<<"$(busy_ticks)"
    R_rss=$(peak_rss_mb "$PID_tbdaqd")
    R_wall=$(((t1 - t0) / 1000))
    R_cpu_daemon=$(awk -v t=$((cpu1[tbdaqd] - cpu0[tbdaqd])) -v hz="$TICKS" \
        'BEGIN { printf "%.2f", t / hz }')
    R_cpu_pct=""
    for pn in tbdaqd main broker sim benchsub; do
        R_cpu_pct+=$(awk -v n="$pn" -v t=$((cpu1[$pn] - cpu0[$pn])) \
            -v hz="$TICKS" -v ms="$R_wall" \
            'BEGIN { printf "%s %.0f%%  ", n, 100 * t / hz / (ms / 1000) }')
    done
    R_machine=$(awk -v b=$((b1 - b0)) -v c=$((c1 - c0)) \
        'BEGIN { printf "%.0f", c ? 100 * b / c : 0 }')

    # Everything polled in the window is committed once a reading from
    # after it is (one queue, one committer, in order).
    wait_for "[ \"\$(sql 'SELECT max(ts_us) >= $((t1 + 500000)) FROM readings;')\" = 1 ]" 10 ||
        die "tbdaqd committed nothing after the window within 10 s"
    sql "SELECT seq, ts_us FROM readings WHERE ts_us >= $t0 AND ts_us < $t1
         ORDER BY seq;" >"$W/db.txt" || die "cannot read the database"
    read -r R_good R_bad <<<"$(sql "SELECT count(*) FILTER (WHERE quality = 'good'),
        count(*) FILTER (WHERE quality <> 'good') FROM readings
        WHERE ts_us >= $t0 AND ts_us < $t1;")"
    R_missed=$(missed_slots "$t0" "$((t1 + 1000000))")
    R_sim_rps=$(awk -v a="${t0}000" -v b="${t1}000" -v ms="$R_wall" \
        '$1 >= a && $1 < b { n++ } END { printf "%.0f", n / (ms / 1000) }' \
        "$W/sim.log")

    # The subscriber gets BENCH_DRAIN_S to receive the window's last
    # reading; what it lacks then is reported as not received.
    local hi
    hi=$(tail -n 1 "$W/db.txt" | cut -d' ' -f1)
    [ -n "$hi" ] || die "no readings committed in the window"
    local td
    td=$(now_us)
    R_drained=yes
    wait_for "[ \"\$(sub_last_seq)\" -ge $hi ]" "$BENCH_DRAIN_S" ||
        R_drained=no
    R_drain_ms=$((($(now_us) - td) / 1000))
    pid_running "$PID_tbdaqd" || die "tbdaqd died after the window"

    stop_pid "$PID_benchsub"
    [ "$STOP_RC" = 0 ] || die "the subscriber exited $STOP_RC"
    stop_pid "$PID_tbdaqd"
    R_daemon_rc=$STOP_RC
    stop_all

    line=$("$BENCHSUB" stats "$W/db.txt" "$W/sub.rec" "$t0" "$t1") ||
        die "cannot compute the figures"
    for kv in $line; do
        printf -v "S_${kv%%=*}" '%s' "${kv#*=}"
    done
    R_db=$S_db
    R_rate=$(awk -v n="$S_db" -v ms="$R_wall" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    R_msgs=$(awk -v n="$S_arrived" -v ms="$R_wall" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    R_missing=$S_missing R_dups=$S_dups R_mismatched=$S_mismatched
    R_examples=$S_missing_examples
    R_p50=$(ms "$S_lat_p50_us") R_p99=$(ms "$S_lat_p99_us")
    R_p999=$(ms "$S_lat_p999_us") R_max=$(ms "$S_lat_max_us")
    R_min=$(ms "$S_lat_min_us")

    say "   committed     $R_db readings in $(ms "$R_wall") s = $R_rate readings/s (target $R_target; $R_good good, $R_bad not good)"
    say "   delivered     $S_arrived readings (of any seq) arrived at the subscriber in the window = $R_msgs messages/s"
    say "   received      $S_received of the window's $R_db readings; not received $R_missing; duplicates $R_dups; ts mismatches $R_mismatched (drain after window: $R_drain_ms ms)"
    say "   latency       poll -> subscriber: p50 $R_p50 ms, p99 $R_p99 ms, p99.9 $R_p999 ms, max $R_max ms (min $R_min ms)"
    say "   tbdaqd        CPU $R_cpu_daemon s in the window ($(ms "$R_wall") s); peak RSS $R_rss MiB; exit status $R_daemon_rc after SIGTERM"
    say "   CPU (1 core = 100%; main = tbdaqd's main thread): $R_cpu_pct; machine busy $R_machine% of $(nproc) cores"
    say "   simulator     $R_sim_rps requests/s ($R_requests requests per interval); missed slots $R_missed"
    # Delivery is in seq order: a gap before the last reading received is
    # loss; a tail not received when the drain time ran out is lag.
    R_lost=0
    if ((R_missing > 0)) && [ "$R_drained" = yes ]; then
        R_lost=$R_missing
        err "LOSS in $name: $R_missing of $R_db readings committed in the window never reached the subscriber, though later ones did (e.g. seq $R_examples)"
    elif ((R_missing > 0)); then
        err "LAG in $name: $R_missing of $R_db readings committed in the window had not reached the subscriber ${BENCH_DRAIN_S}s after it (e.g. seq $R_examples)"
    fi
    [ "$R_daemon_rc" = 0 ] || err "tbdaqd exited $R_daemon_rc on SIGTERM (want 0)"
}

# keeps_up: true if the last workload kept up; sets R_verdict.
keeps_up() {
    local why=""
    awk -v r="$R_rate" -v t="$R_target" -v p="$KEEPUP_RATE_PCT" \
        'BEGIN { exit !(r >= t * p / 100) }' ||
        why+="committed $R_rate/s < $KEEPUP_RATE_PCT% of $R_target; "
    awk -v r="$R_msgs" -v t="$R_target" -v p="$KEEPUP_RATE_PCT" \
        'BEGIN { exit !(r >= t * p / 100) }' ||
        why+="delivered $R_msgs/s < $KEEPUP_RATE_PCT% of $R_target; "
    ((R_missed == 0)) || why+="$R_missed missed slots; "
    ((R_bad == 0)) || why+="$R_bad readings not good; "
    ((R_missing == 0)) || why+="$R_missing not received; "
    awk -v p="$R_p99" -v m="$KEEPUP_P99_MS" 'BEGIN { exit !(p <= m) }' ||
        why+="p99 $R_p99 ms > $KEEPUP_P99_MS ms; "
    if [ -z "$why" ]; then
        R_verdict=yes
        return 0
    fi
    R_verdict="no: ${why%; }"
    return 1
}

ROWS=()
add_row() {
    ROWS+=("$(printf '%8s %6s %9s %9s %7s %5s %8s %8s %8s %6s %6s %7s  %s' \
        "$R_target" "$R_units"x"$R_per" "$R_rate" "$R_msgs" "$R_missing" \
        "$R_dups" "$R_p50" "$R_p99" "$R_max" "$R_missed" \
        "$(awk -v c="$R_cpu_daemon" -v ms="$R_wall" 'BEGIN { printf "%.0f%%", 100 * c / (ms / 1000) }')" \
        "$R_rss" "$R_verdict")")
}

print_table() {
    say ""
    say "tbdaqd end to end: sim -> poll -> SQLite commit -> MQTT QoS 1 -> broker -> subscriber"
    say "on $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)); commit_interval_ms 100; latencies in ms"
    printf '%8s %6s %9s %9s %7s %5s %8s %8s %8s %6s %6s %7s  %s\n' \
        target layout commit/s recv/s lost dups p50 p99 max missed cpu rss_MiB keeps-up
    printf '%s\n' "${ROWS[@]}"
}

# ---------------------------------------------------------------------

check_programs
build_benchsub
BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-bench.XXXXXX") ||
    die "cannot make a work directory"
say "bench: work directory $BENCH_DIR; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

run_workload main "$BENCH_RATE" "$BENCH_SECONDS"
keeps_up
add_row
# The main workload must deliver everything it committed, lag or not.
if ((R_missing > 0)); then
    STATUS=1
fi
MAIN_OK=$R_verdict MAIN_RATE=$R_rate MAIN_MISSING=$R_missing
MAIN_P50=$R_p50 MAIN_P99=$R_p99

CEILING=""
if [ "$MAIN_OK" = yes ]; then
    CEILING=$R_target
    for rate in $BENCH_STEPS; do
        ((rate > BENCH_RATE)) || continue
        run_workload "step-$rate" "$rate" "$BENCH_STEP_SECONDS"
        ((R_lost == 0)) || STATUS=1
        if keeps_up; then
            CEILING=$R_target
            add_row
        else
            add_row
            break
        fi
    done
fi

print_table
say ""
if [ "$MAIN_OK" = yes ]; then
    say "RESULT: $MAIN_RATE readings/s sustained end to end with zero loss (target $BENCH_RATE); poll-to-subscriber latency p50 $MAIN_P50 ms, p99 $MAIN_P99 ms"
    [ -z "$BENCH_STEPS" ] ||
        say "CEILING: the highest rate tried that kept up: $CEILING readings/s"
else
    say "RESULT: the target of $BENCH_RATE readings/s was NOT met ($MAIN_OK)"
fi
if ((MAIN_MISSING > 0)); then
    say "LOSS: $MAIN_MISSING readings committed in the window never reached the subscriber"
fi
exit "$STATUS"
