# SPDX-License-Identifier: MIT
# PID_x variables are set through printf -v, and the constants are used
# by the scripts that source this; conditions go to wait_for in
# single quotes on purpose (it evaluates them).
# shellcheck shell=bash disable=SC2016,SC2034,SC2046,SC2154
#
# What tests/bench/run.sh (make bench) and tests/bench/soak.sh (make soak)
# share: starting and stopping the simulator, a mosquitto broker, the
# subscriber (benchsub) and tbdaqd on 127.0.0.1, every one by PID; building
# the helper programs with the project's warning flags; the /proc figures
# (CPU ticks, RSS) and the database queries. Sourced, never run. The
# caller sets BUILD, TOP, ME (the name in messages) and WORK (its temp
# directory); W is the directory of the workload being run.

export LC_ALL=C

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
# The broker's per-subscriber QoS 1 window (mosquitto's default is 20).
BENCH_BROKER_INFLIGHT=${BENCH_BROKER_INFLIGHT:-100}
# The simulator's bulk region: 1000 float32 ABCD register pairs per unit,
# registers 1000 + 2k.
SIM_BULK_SENSORS=1000
SIM_BULK_BASE=1000
# The simulator's bulk coils, 2000 of them from here (its --help):
# (floor(t) + k) mod 2.
SIM_BULK_COIL_BASE=1000
TICKS=$(getconf CLK_TCK)
WARN_FLAGS="-std=c11 -Wall -Wextra -Werror -Wpedantic -Wshadow
    -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith
    -Wwrite-strings -Wvla -Wformat=2"

W=      # the current workload's directory
PIDS=() # everything running that we started, as "pid name"
STATUS=0

say() { printf '%s\n' "$*"; }
err() { printf '%s: %s\n' "$ME" "$*" >&2; }

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

# spawn NAME CMD...: CMD in the background, output appended to
# $W/NAME.out/.err (a restarted program keeps its history); sets PID_NAME.
spawn() {
    local name=$1
    shift
    "$@" >>"$W/$name.out" 2>>"$W/$name.err" &
    PIDS+=("$! $name")
    printf -v "PID_$name" '%s' "$!"
}

# forget_pid PID: no longer one of ours to watch (it was stopped).
forget_pid() {
    local i
    for i in "${!PIDS[@]}"; do
        [ "${PIDS[i]%% *}" = "$1" ] && unset 'PIDS[i]'
    done
    PIDS=("${PIDS[@]}")
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
    forget_pid "$pid"
}

# Stops everything this script started, newest first.
stop_all() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[i]%% *}"
    done
    PIDS=()
}

# The EXIT trap: everything stopped, the work directory removed unless
# something failed or KEEP is set.
cleanup() {
    stop_all
    if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then
        if [ "$STATUS" = 0 ] && [ -z "${KEEP:-}" ]; then
            rm -rf "$WORK"
        else
            err "work files kept in $WORK"
        fi
    fi
}

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

# status_mib PID FIELD: a Vm* field of /proc/PID/status in MiB.
status_mib() {
    awk -v f="$2:" '$1 == f { printf "%.1f", $2 / 1024 }' \
        "/proc/$1/status" 2>/dev/null
}

# ms N: N thousandths as a decimal with DIGITS (default 1) places.
ms() { awk -v u="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, u / 1000 }'; }

# per_s N WALL_MS: N per second of WALL_MS.
per_s() {
    awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.0f", ms ? n / (ms / 1000) : 0 }'
}

load_avg() { cut -d' ' -f1-3 /proc/loadavg; }

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------
# The programs

# build_helper NAME PKG...: tests/bench/NAME.c (with common/util.c, fmt.c
# and log.c, and tests/bench/arg.c) into $BUILD/bench/NAME; its path in the
# variable NAME (upper case).
build_helper() {
    local name=$1 out var step= cflags= libs=
    shift
    if [ $# -gt 0 ]; then
        cflags=$(pkg-config --cflags "$@") && libs=$(pkg-config --libs "$@") ||
            die "pkg-config does not know $*"
    fi
    # A subscriber's client turn (mqstep.c), for those that speak MQTT.
    [[ " $* " == *" libmosquitto "* ]] && step=tests/bench/mqstep.c
    mkdir -p "$BUILD/bench" || die "cannot make $BUILD/bench"
    out=$(cd "$BUILD/bench" && pwd)/$name
    # shellcheck disable=SC2086
    (cd "$TOP" && ${CC:-cc} $WARN_FLAGS -D_XOPEN_SOURCE=700 \
        -D_DEFAULT_SOURCE -I. ${CPPFLAGS:-} ${CFLAGS:--O2 -g} \
        $cflags "tests/bench/$name.c" $step tests/bench/arg.c common/util.c \
        common/fmt.c common/log.c ${LDFLAGS:-} $libs -lpthread \
        -o "$out") || die "cannot build $out"
    var=${name^^}
    printf -v "$var" '%s' "$out"
}

check_programs() {
    local p
    for p in tbdaqd tbdaq tbdaq-sim; do
        [ -x "$BUILD/$p" ] || die "no program $BUILD/$p (run make first)"
    done
    grep -qa mosquitto_publish "$BUILD/tbdaqd" ||
        die "$BUILD/tbdaqd does not publish over MQTT"
    [ -x "$MOSQUITTO" ] || die "no $MOSQUITTO (Debian: mosquitto)"
    command -v sqlite3 >/dev/null || die "no sqlite3 (Debian: sqlite3)"
}

# start_sim UNITS [ARGS...]: the simulator with its request log in
# $W/sim.log; sets SIM_PORT.
start_sim() {
    local line units=$1
    shift
    spawn sim "$BUILD/tbdaq-sim" --port 0 --units "$units" \
        --log "$W/sim.log" "$@"
    wait_for "grep -q 'listening on 127.0.0.1:' '$W/sim.out' ||
        ! pid_running $PID_sim" "$START_S" ||
        die "the simulator did not report its port"
    pid_running "$PID_sim" || die "the simulator exited at start"
    line=$(grep -m1 'listening on 127.0.0.1:' "$W/sim.out")
    SIM_PORT=${line##*:}
    SIM_PORT=${SIM_PORT%%[!0-9]*}
}

# write_broker_conf PORT: $W/broker.conf. With BROKER_PERSIST set the
# broker keeps its sessions and queued messages in $W/broker-db/ and
# saves them when stopped, so that a restart loses nothing it
# acknowledged.
write_broker_conf() {
    {
        say "listener $1 127.0.0.1"
        say "allow_anonymous true"
        say "user $(id -un)"
        if [ -n "${BROKER_PERSIST:-}" ]; then
            mkdir -p "$W/broker-db"
            say "persistence true"
            say "persistence_location $W/broker-db/"
            say "autosave_interval $BROKER_PERSIST"
        else
            say "persistence false"
        fi
        # Whatever the subscriber has not acknowledged is queued, never
        # dropped: mosquitto's default of 1000 queued messages is 50 ms at
        # 20,000/s.
        say "max_queued_messages 0"
        say "max_queued_bytes 0"
        say "max_inflight_messages $BENCH_BROKER_INFLIGHT"
        say "log_dest file $W/broker.log"
        say "log_type error"
        say "log_type warning"
        say "log_type notice"
        say "log_type information"
    } >"$W/broker.conf"
}

# start_broker [PORT]: mosquitto on PORT, or on a free random port; sets
# BROKER_PORT and PID_broker.
start_broker() {
    local end want=${1:-}
    end=$(($(now_us) + START_S * 1000000))
    while (($(now_us) < end)); do
        if [ -n "$want" ]; then
            BROKER_PORT=$want
        else
            BROKER_PORT=$((BROKER_PORT_LO + (RANDOM * 32768 + RANDOM) % BROKER_PORT_SPAN))
            port_open "$BROKER_PORT" && continue
        fi
        write_broker_conf "$BROKER_PORT"
        spawn broker "$MOSQUITTO" -c "$W/broker.conf"
        if wait_for "port_open $BROKER_PORT || ! pid_running $PID_broker" 5 &&
            pid_running "$PID_broker"; then
            return 0
        fi
        stop_pid "$PID_broker"
        [ -z "$want" ] || sleep "$POLL_S"
    done
    die "no broker accepted connections on ${want:-a random port} within $START_S s"
}

# start_sub [CLIENT_ID]: benchsub on tbdaq/bench/#, records in
# $W/sub.rec; with a client id, a persistent session that reconnects.
start_sub() {
    local n
    n=$(grep -c 'subscribed' "$W/benchsub.out" 2>/dev/null)
    spawn benchsub "$BENCHSUB" sub 127.0.0.1 "$BROKER_PORT" 'tbdaq/bench/#' \
        "$W/sub.rec" "$@"
    wait_for "[ \$(grep -c 'subscribed' '$W/benchsub.out') -gt ${n:-0} ] ||
        ! pid_running $PID_benchsub" "$START_S" ||
        die "the subscriber did not subscribe"
    pid_running "$PID_benchsub" || die "the subscriber exited at start"
}

# start_daemon: tbdaqd on $W/bench.conf (checked with -t first: the plan
# goes to $W/plan.txt), once it has connected to the broker.
start_daemon() {
    "$BUILD/tbdaqd" -t -c "$W/bench.conf" >"$W/plan.txt" 2>"$W/check.err" ||
        die "the generated config is invalid: $(head -3 "$W/check.err")"
    if [ -n "${BENCH_POLLER_RT:-}" ]; then
        # Started real-time: its pollers stay so, its main thread does
        # not (tbdaqd(8)).
        spawn tbdaqd chrt -f "$BENCH_POLLER_RT" "$BUILD/tbdaqd" \
            -c "$W/bench.conf"
    else
        spawn tbdaqd "$BUILD/tbdaqd" -c "$W/bench.conf"
    fi
    wait_for "grep -q 'mqtt: connected' '$W/tbdaqd.err' ||
        ! pid_running $PID_tbdaqd" "$START_S" ||
        die "tbdaqd did not connect to the broker"
    pid_running "$PID_tbdaqd" || die "tbdaqd exited at start"
}

# watch_run SECONDS: waits, checking every program still runs.
watch_run() {
    local end p
    end=$(($(now_us) + $1 * 1000000))
    while (($(now_us) < end)); do
        sleep 0.2
        for p in "${PIDS[@]}"; do
            pid_running "${p%% *}" || die "${p#* } died during the run"
        done
    done
}

# sub_max_seq: the highest seq the subscriber recorded so far (records
# are written in whole lines).
sub_max_seq() {
    awk '$1 > m { m = $1 } END { print m + 0 }' "$W/sub.rec" 2>/dev/null
}

# write_config UNITS PER INTERVAL_MS LAYOUT: $W/bench.conf, one TCP bus per
# simulator unit. LAYOUT bulk: the unit's first PER bulk registers as
# float32 ABCD sensors (kind generic). LAYOUT coils: the same with the
# last tenth of them coils instead, the simulator's bulk coils from 1000
# on (type bool, one request of PER / 10 bits per unit beside the
# registers' one): what a coil costs against a register. LAYOUT mixed: up
# to 4 sensors of different types in the simulator's flow block (int32 at
# 4, uint32 at 12, float32 at 20, float64 at 28), which coalesce into one
# request of 28 registers per unit, as a multi-channel transmitter's
# registers would. With BENCH_SPARKPLUG set, a sparkplug group too (qos
# 1, group "bench", edge node "bench") on the broker at SPB_PORT
# (default: BROKER_PORT, the JSON output's).
write_config() {
    awk -v units="$1" -v per="$2" -v iv="$3" -v layout="$4" \
        -v simport="$SIM_PORT" -v bport="$BROKER_PORT" -v db="$W/bench.db" \
        -v mlayout="${BENCH_MQTT_LAYOUT:-reading}" \
        -v spb="${BENCH_SPARKPLUG:-}" -v spbport="${SPB_PORT:-$BROKER_PORT}" \
        -v base="$SIM_BULK_BASE" -v cbase="$SIM_BULK_COIL_BASE" 'BEGIN {
        ncoil = layout == "coils" ? int(per / 10) : 0
        split("4 12 20 28", addr)
        split("int32 uint32 float32 float64", type)
        split("ABCD ABCD ABCD ABCDEFGH", order)
        split("0.001 0.001 1.0 1.0", scale)
        print "# generated by tests/bench"
        print "site = \"bench\";"
        print "database = \"" db "\";"
        print "log_level = \"info\";"
        print "commit_interval_ms = 100;"
        print "mqtt = { host = \"127.0.0.1\"; port = " bport "; qos = 1;"
        print "  client_id = \"tbdaq-bench\"; topic_prefix = \"tbdaq\";"
        print "  retain = false; keepalive_s = 30; layout = \"" mlayout "\"; };"
        if (spb != "")
            print "sparkplug = { host = \"127.0.0.1\"; port = " spbport "; qos = 1;\n" \
                "  client_id = \"tbdaq-bench-spb\"; group_id = \"bench\"; edge_node = \"bench\"; };"
        print "buses = ("
        for (u = 1; u <= units; u++)
            printf "  { name = \"u%02d\"; type = \"tcp\"; host = \"127.0.0.1\"; port = %d; timeout_ms = 1000; retries = 0; }%s\n",
                u, simport, u < units ? "," : ""
        print ");"
        print "sensors = ("
        for (u = 1; u <= units; u++)
            for (k = 0; k < per; k++) {
                sep = (u < units || k < per - 1) ? "," : ""
                if (layout == "mixed")
                    printf "  { id = \"U%02d-M%d\"; kind = \"generic\"; unit = \"x\"; bus = \"u%02d\"; unit_id = %d; table = \"input\"; address = %d; type = \"%s\"; byte_order = \"%s\"; scale = %s; interval_ms = %d; }%s\n",
                        u, k + 1, u, u, addr[k + 1], type[k + 1],
                        order[k + 1], scale[k + 1], iv, sep
                else if (k >= per - ncoil)
                    printf "  { id = \"U%02d-C%03d\"; kind = \"generic\"; unit = \"on\"; bus = \"u%02d\"; unit_id = %d; table = \"coil\"; address = %d; interval_ms = %d; }%s\n",
                        u, k, u, u, cbase + k - (per - ncoil), iv, sep
                else
                    printf "  { id = \"U%02d-B%03d\"; kind = \"generic\"; unit = \"x\"; bus = \"u%02d\"; unit_id = %d; table = \"input\"; address = %d; type = \"float32\"; byte_order = \"ABCD\"; interval_ms = %d; }%s\n",
                        u, k, u, u, base + 2 * k, iv, sep
            }
        print ");"
    }' >"$W/bench.conf"
}
