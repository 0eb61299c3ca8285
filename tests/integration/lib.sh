# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Helpers of the integration suite, sourced by run.sh. A case runs in its
# own subshell with $T (its temp dir) set; everything it starts goes through
# spawn(), which records the PID in $T/pids so that the case's EXIT trap
# (and, should the case itself be killed, the runner) stops exactly those
# processes, by PID. Readiness is always a polled condition with a
# deadline (wait_for), never a fixed sleep.

# How often wait_for re-evaluates its condition (seconds).
POLL_S=0.05
# How long a process gets between SIGTERM and SIGKILL at teardown (s).
STOP_GRACE_S=5
# sqlite3 waits this long for the daemon's write lock (ms).
SQL_BUSY_MS=2000

# Microseconds since the epoch, without forking (bash >= 5).
now_us() {
    local t=$EPOCHREALTIME
    echo "${t/./}"
}

# Records why the case failed and ends it; the EXIT trap cleans up.
fail() {
    local msg="$*"
    if [ -n "${PID_daemon:-}" ] && [ -z "${DAEMON_STOPPED:-}" ] &&
        ! pid_running "$PID_daemon"; then
        msg="$msg (the daemon is no longer running)"
    fi
    printf '%s\n' "$msg" >"$T/reason"
    echo "FAIL: $msg" >&2
    exit 1
}

# True while pid is a live process (a zombie does not count: it has
# exited and only waits for us to collect its status).
pid_running() {
    local st
    [ -r "/proc/$1/stat" ] || return 1
    st=$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# wait_for CONDITION_CMD TIMEOUT_S: evaluates the condition every POLL_S
# until it succeeds (return 0) or TIMEOUT_S seconds pass (return 1).
wait_for() {
    local cond=$1 timeout=$2 end
    end=$(($(now_us) + ${timeout%.*} * 1000000))
    while :; do
        if eval "$cond" >/dev/null 2>&1; then
            return 0
        fi
        if (($(now_us) >= end)); then
            return 1
        fi
        sleep "$POLL_S"
    done
}

# Like wait_for, but fails the case with MESSAGE on timeout.
wait_or_fail() {
    wait_for "$1" "$2" || fail "$3 (not within $2 s)"
}

# spawn NAME CMD...: starts CMD in the background with stdout and stderr in
# $T/NAME.out and $T/NAME.err, records its PID in $T/pids, and sets
# PID_NAME. NAME must be a shell identifier. With SPAWN_APPEND set, the
# output is appended, so that a restarted program keeps its earlier log.
spawn() {
    local name=$1 exe
    shift
    exe=$(readlink -f "$(command -v "$1")")
    if [ -n "${SPAWN_APPEND:-}" ]; then
        "$@" >>"$T/$name.out" 2>>"$T/$name.err" &
    else
        "$@" >"$T/$name.out" 2>"$T/$name.err" &
    fi
    local pid=$!
    echo "$pid $name $exe" >>"$T/pids"
    printf -v "PID_$name" '%s' "$pid"
}

# stop_pid PID [GRACE_S]: SIGTERM, then SIGKILL if still running after
# GRACE_S seconds; collects the exit status into STOP_RC. Returns 0 if the
# process ended within the grace time, 1 if it had to be killed.
stop_pid() {
    local pid=$1 grace=${2:-$STOP_GRACE_S} rc=0
    STOP_RC=
    if pid_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        if ! wait_for "! pid_running $pid" "$grace"; then
            kill -KILL "$pid" 2>/dev/null
            rc=1
        fi
    fi
    wait "$pid" 2>/dev/null
    STOP_RC=$?
    return $rc
}

# The case's EXIT trap: stops what the case started, newest first.
stop_all() {
    local pid name exe
    [ -f "$T/pids" ] || return 0
    while read -r pid name exe; do
        stop_pid "$pid" >/dev/null 2>&1
    done < <(tac "$T/pids")
}

# Used by the runner after a case's subshell died without cleaning up:
# kills what the case recorded, checking the PID still runs the same
# program so that a reused PID is never touched.
reap_leftovers() {
    local dir=$1 pid name exe
    [ -f "$dir/pids" ] || return 0
    while read -r pid name exe; do
        if pid_running "$pid" &&
            [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" = "$exe" ]; then
            kill -TERM "$pid" 2>/dev/null
            wait_for "! pid_running $pid" "$STOP_GRACE_S" ||
                kill -KILL "$pid" 2>/dev/null
        fi
    done < <(tac "$dir/pids")
}

# ---------------------------------------------------------------------
# The simulator

# start_sim [ARGS...]: starts tbdaq-sim on an ephemeral TCP port (unless
# ARGS say --rtu) with a control FIFO at $T/ctl, waits until it listens and
# sets SIM_PORT. With --rtu-over-tcp 0 (instead of --port 0) SIM_PORT is
# the port of its RTU frames over TCP.
start_sim() {
    local line
    [ -x "$BUILD/tbdaq-sim" ] || fail "no program $BUILD/tbdaq-sim"
    spawn sim "$BUILD/tbdaq-sim" --control "$T/ctl" "$@"
    if [[ " $* " == *" --rtu-over-tcp "* ]]; then
        wait_or_fail "grep -q 'tbdaq-sim: listening on 127.0.0.1:.* (rtu over tcp)' \
            '$T/sim.out' || ! pid_running $PID_sim" 10 \
            "the simulator did not report its rtu over tcp port"
        pid_running "$PID_sim" || fail "the simulator exited at start"
        line=$(grep -m1 'tbdaq-sim: listening on 127.0.0.1:' "$T/sim.out")
        SIM_PORT=${line##*127.0.0.1:}
        SIM_PORT=${SIM_PORT%%[!0-9]*}
        [ -n "$SIM_PORT" ] || fail "cannot parse the port from '$line'"
    elif [[ " $* " == *" --rtu "* ]]; then
        wait_or_fail "grep -q 'tbdaq-sim: serving rtu on' '$T/sim.out' ||
            ! pid_running $PID_sim" 10 \
            "the simulator did not report serving rtu"
        pid_running "$PID_sim" || fail "the simulator exited at start"
    else
        [[ " $* " == *" --port "* ]] || fail "start_sim needs --port 0"
        wait_or_fail "grep -q 'tbdaq-sim: listening on 127.0.0.1:' \
            '$T/sim.out' || ! pid_running $PID_sim" 10 \
            "the simulator did not report its port"
        pid_running "$PID_sim" || fail "the simulator exited at start"
        line=$(grep -m1 'tbdaq-sim: listening on 127.0.0.1:' "$T/sim.out")
        SIM_PORT=${line##*:}
        SIM_PORT=${SIM_PORT%%[!0-9]*}
        [ -n "$SIM_PORT" ] || fail "cannot parse the port from '$line'"
    fi
    wait_or_fail "[ -p '$T/ctl' ]" 5 "the simulator made no control FIFO"
}

# sim_ctl LINE: one command to the simulator's control FIFO. Bounded: if
# the simulator is gone the open would block forever.
sim_ctl() {
    timeout 5 bash -c 'printf "%s\n" "$1" >"$2"' _ "$1" "$T/ctl" ||
        fail "cannot write '$1' to the simulator's control FIFO"
}

# modbus_tcp UNIT FUNCTION ADDRESS COUNT: one raw Modbus TCP request to the
# simulator, through socat; prints the response bytes as hex (or nothing).
modbus_tcp() {
    local req
    req=$(printf '\\x00\\x01\\x00\\x00\\x00\\x06\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
        "$1" "$2" $(($3 >> 8)) $(($3 & 255)) $(($4 >> 8)) $(($4 & 255)))
    # shellcheck disable=SC2059
    printf "$req" | timeout 5 socat -t 1 - "TCP:127.0.0.1:$SIM_PORT" |
        od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# sim_bit_rule TABLE ADDRESS UNIT: what the simulator's coil (TABLE coil)
# or discrete input (discrete) at ADDRESS 0..999 of UNIT reads, by its
# --help: "fix 0" or "fix 1", or the name of its time rule (coil0: on
# while floor(t / 5) is even, coil3: while floor(t) is even, disc0: while
# t mod 60 < 10, disc1: while t mod 60 >= 30).
sim_bit_rule() {
    local table=$1 a=$2 u=$3 pat
    if (((a >= 4 && a < 8) || a >= 32)); then
        echo "fix 0"
        return
    fi
    if [ "$table" = coil ]; then
        case $a in
        0) echo coil0; return ;; 1) echo "fix 1"; return ;;
        2) echo "fix 0"; return ;; 3) echo coil3; return ;;
        esac
        pat=$((0x1234))
        ((a < 16)) && pat=$u
    else
        case $a in
        0) echo disc0; return ;; 1) echo disc1; return ;;
        2) echo "fix 1"; return ;; 3) echo "fix 0"; return ;;
        esac
        pat=$((0xabcd))
        ((a < 16)) && pat=$((255 - u))
    fi
    echo "fix $(((pat >> (a < 16 ? a - 8 : a - 16)) & 1))"
}

# ---------------------------------------------------------------------
# The config and the daemon

CONF_BUSES=()
CONF_SENSORS=()

# conf_tcp_bus NAME [TIMEOUT_MS]: a TCP bus on the simulator, no retries,
# a short timeout (default 200 ms) so that faults show within a second.
conf_tcp_bus() {
    CONF_BUSES+=("  { name = \"$1\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = ${2:-200}; retries = 0; }")
}

# start_pty_pair: a socat pty pair, $T/simtty for the simulator and
# $T/daqtty for the daemon; waits until both exist.
start_pty_pair() {
    spawn socat socat -d -d "pty,raw,echo=0,link=$T/simtty" \
        "pty,raw,echo=0,link=$T/daqtty"
    wait_or_fail "[ -e '$T/simtty' ] && [ -e '$T/daqtty' ]" 10 \
        "socat made no pty pair"
}

# conf_rtu_bus NAME TIMEOUT_MS: an rtu bus on $T/daqtty, 19200 8N1, no
# retries, 5 ms between requests.
conf_rtu_bus() {
    conf_raw_bus "name = \"$1\"; type = \"rtu\"; device = \"$T/daqtty\"; baud = 19200; parity = \"none\"; data_bits = 8; stop_bits = 1; timeout_ms = $2; retries = 0; delay_ms = 5;"
}

# conf_rtutcp_bus NAME [TIMEOUT_MS]: an rtu-over-tcp bus on the
# simulator's --rtu-over-tcp port, no retries, a short timeout (default
# 200 ms), 5 ms between requests as on a line.
conf_rtutcp_bus() {
    conf_raw_bus "name = \"$1\"; type = \"rtu-over-tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = ${2:-200}; retries = 0; delay_ms = 5;"
}

conf_raw_bus() {
    CONF_BUSES+=("  { $1 }")
}

# conf_sensor 'SETTINGS': one sensor, on one line of the file.
conf_sensor() {
    CONF_SENSORS+=("  { $1 }")
}

# The simulator's block layout (see simmap): offset within a quantity's
# block -> type, byte order and the factor the value is stored with.
SIM_OFFSETS="0 1 2 3 4 6 8 10 12 14 16 18 20 22 24 26 28 32 36 40"
sim_layout() {
    case $1 in
    0) echo "int16 AB 100 1" ;;
    1) echo "int16 BA 100 1" ;;
    2) echo "uint16 AB 100 1" ;;
    3) echo "uint16 BA 100 1" ;;
    4) echo "int32 ABCD 1000 2" ;;
    6) echo "int32 CDAB 1000 2" ;;
    8) echo "int32 BADC 1000 2" ;;
    10) echo "int32 DCBA 1000 2" ;;
    12) echo "uint32 ABCD 1000 2" ;;
    14) echo "uint32 CDAB 1000 2" ;;
    16) echo "uint32 BADC 1000 2" ;;
    18) echo "uint32 DCBA 1000 2" ;;
    20) echo "float32 ABCD 1 2" ;;
    22) echo "float32 CDAB 1 2" ;;
    24) echo "float32 BADC 1 2" ;;
    26) echo "float32 DCBA 1 2" ;;
    28) echo "float64 ABCDEFGH 1 4" ;;
    32) echo "float64 GHEFCDAB 1 4" ;;
    36) echo "float64 BADCFEHG 1 4" ;;
    40) echo "float64 HGFEDCBA 1 4" ;;
    *) return 1 ;;
    esac
}

# sim_sensor TAG BUS UNIT TABLE QUANTITY OFFSET INTERVAL_MS: a sensor on
# one of the simulator's moving quantities, decoded to engineering units,
# and its expectation in $T/expect ("tag quantity unit factor words").
sim_sensor() {
    local tag=$1 bus=$2 unit=$3 table=$4 qty=$5 off=$6 ival=$7 base
    local type order factor words scale
    read -r type order factor words <<<"$(sim_layout "$off")" ||
        fail "no simulator register at offset $off"
    case $qty in
    flow) base=0 ;; pressure) base=100 ;; turbidity) base=200 ;; ph) base=300 ;;
    esac
    case $factor in
    100) scale=0.01 ;; 1000) scale=0.001 ;; *) scale=1.0 ;;
    esac
    conf_sensor "id = \"$tag\"; kind = \"$qty\"; bus = \"$bus\"; unit_id = $unit; table = \"$table\"; address = $((base + off)); type = \"$type\"; byte_order = \"$order\"; scale = $scale; interval_ms = $ival;"
    echo "$tag $qty $unit $factor $words" >>"$T/expect"
}

# conf_write FILE [TOP-LEVEL LINES...]: writes the config collected so far.
conf_write() {
    local file=$1 i n
    shift
    {
        echo "# tbdaq integration test config"
        echo "site = \"itest\";"
        echo "database = \"${CONF_DB:-$T/t.db}\";"
        echo "log_level = \"debug\";"
        for i in "$@"; do echo "$i"; done
        echo "buses = ("
        n=${#CONF_BUSES[@]}
        for ((i = 0; i < n; i++)); do
            if ((i + 1 < n)); then
                echo "${CONF_BUSES[i]},"
            else
                echo "${CONF_BUSES[i]}"
            fi
        done
        echo ");"
        echo "sensors = ("
        n=${#CONF_SENSORS[@]}
        for ((i = 0; i < n; i++)); do
            if ((i + 1 < n)); then
                echo "${CONF_SENSORS[i]},"
            else
                echo "${CONF_SENSORS[i]}"
            fi
        done
        echo ");"
    } >"$file"
}

# start_daemon [ARGS...]: runs tbdaqd on $T/t.conf; waits until the
# database exists.
start_daemon() {
    spawn_daemon daemon "$T/t.conf" "$T/t.db" "$@"
}

# spawn_daemon NAME CONF DB [ARGS...]: runs tbdaqd on CONF as NAME (its
# output in $T/NAME.out and .err, its PID in PID_NAME); waits until DB
# exists.
spawn_daemon() {
    local name=$1 conf=$2 db=$3 pid who="the daemon"
    shift 3
    [ "$name" = daemon ] || who="daemon '$name'"
    [ -x "$BUILD/tbdaqd" ] || fail "no program $BUILD/tbdaqd"
    spawn "$name" "$BUILD/tbdaqd" -c "$conf" "$@"
    pid=PID_$name
    pid=${!pid}
    wait_or_fail "[ -f '$db' ] || ! pid_running $pid" 10 \
        "$who created no database"
    pid_running "$pid" || fail "$who exited at start"
}

# stop_daemon [NAME]: SIGTERM to the daemon (or to the one spawn_daemon
# started as NAME); fails the case unless it exits 0 within 5 s.
stop_daemon() {
    local t0 t1 name=${1:-daemon} pid who="the daemon"
    pid=PID_$name
    pid=${!pid}
    if [ "$name" = daemon ]; then
        DAEMON_STOPPED=1
    else
        who="daemon '$name'"
    fi
    t0=$(now_us)
    stop_pid "$pid" 5 ||
        fail "$who did not exit within 5 s of SIGTERM"
    t1=$(now_us)
    [ "$STOP_RC" = 0 ] ||
        fail "$who exited $STOP_RC after SIGTERM (want 0)"
    DAEMON_STOP_MS=$(((t1 - t0) / 1000))
}

# sql QUERY: runs a query on the case's database (or on SQL_DB, if set),
# tab-separated output.
sql() {
    local db=${SQL_DB:-$T/t.db}
    [ -f "$db" ] || return 1
    sqlite3 -batch -noheader -separator $'\t' \
        -cmd ".timeout $SQL_BUSY_MS" "$db" "$1"
}

# Readings of one sensor tag [and quality].
count_readings() {
    local q=""
    [ -n "${2:-}" ] && q="AND r.quality = '$2'"
    sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE s.tag = '$1' $q;"
}

# min_readings N [QUALITY]: true if every tag in $T/expect (or in TAGS, if
# set) has at least N readings (of that quality). One query per call.
min_readings() {
    local n=$1 q="" tags list c
    read -r -a tags <<<"$(echo "${TAGS:-$(cut -d' ' -f1 "$T/expect")}" |
        tr '\n' ' ')"
    [ -n "${2:-}" ] && q="AND r.quality = '$2'"
    list=$(printf "'%s'," "${tags[@]}")
    c=$(sql "SELECT count(*), ifnull(min(c), 0) FROM (SELECT count(r.seq) AS c
             FROM sensors s LEFT JOIN readings r ON r.sensor_id = s.id $q
             WHERE s.tag IN (${list%,}) GROUP BY s.tag);") || return 1
    [ "${c%%$'\t'*}" = "${#tags[@]}" ] && ((${c##*$'\t'} >= n))
}

# Every reading of the given tags (all if none), in seq order, as
# "tag ts_us value quality error raw", tab-separated.
dump_readings() {
    local where="" list
    if (($# > 0)); then
        list=$(printf "'%s'," "$@")
        where="WHERE s.tag IN (${list%,})"
    fi
    sql "SELECT s.tag, r.ts_us, ifnull(r.value, 'NULL'), r.quality,
                ifnull(r.error, ''), ifnull(r.raw, '')
         FROM readings r JOIN sensors s ON s.id = r.sensor_id $where
         ORDER BY r.seq;"
}

# ---------------------------------------------------------------------
# Assertions over readings, in awk (mawk or gawk).

# check_formula FILE: every good reading of a sensor listed in $T/expect
# matches the simulator's formula at ts_us within the type's resolution
# plus the quantity's slope over DT_S seconds; raw has the right number of
# words. Prints the worst case per problem; returns 1 on any mismatch.
check_formula() {
    awk -F'\t' -v dt="${DT_S:-0.005}" '
    function pi() { return 3.14159265358979323846 }
    function f(q, u, t) {
        if (q == "flow") return 20 + u + 5 * sin(2 * pi() * t / 60)
        if (q == "pressure") return 4 + 0.1 * u + 0.5 * sin(2 * pi() * t / 30)
        if (q == "turbidity") return 1 + 0.1 * u + 0.5 * sin(2 * pi() * t / 45)
        return 7 + 0.01 * u + 0.1 * sin(2 * pi() * t / 90)
    }
    function slope(q) {
        if (q == "flow") return 5 * 2 * pi() / 60
        if (q == "pressure") return 0.5 * 2 * pi() / 30
        if (q == "turbidity") return 0.5 * 2 * pi() / 45
        return 0.1 * 2 * pi() / 90
    }
    function abs(x) { return x < 0 ? -x : x }
    FNR == NR { split($0, a, " "); q[a[1]] = a[2]; u[a[1]] = a[3];
                fac[a[1]] = a[4]; w[a[1]] = a[5]; next }
    !($1 in q) { next }
    {
        tag = $1; n[tag]++
        if ($4 != "good") {
            bad++; if (!badmsg) badmsg = tag " quality " $4 " " $5; next
        }
        v = f(q[tag], u[tag], $2 / 1e6)
        tol = slope(q[tag]) * dt + 1e-9
        if (fac[tag] > 1) tol += 0.5 / fac[tag]
        else tol += abs(v) * 1e-6
        err = abs($3 - v)
        if (err / tol > worst) { worst = err / tol
            worstmsg = sprintf("%s at %.0f: %s, want %.6f +- %.6f", tag, $2,
                               $3, v, tol) }
        nw = split($6, ww, " ")
        if (nw != w[tag] || $6 !~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]( [0-9a-f][0-9a-f][0-9a-f][0-9a-f])*$/) {
            rawbad++; if (!rawmsg) rawmsg = tag " raw \"" $6 "\"" }
    }
    END {
        rc = 0
        for (t in q) if (!(t in n)) { print "no readings of " t; rc = 1 }
        if (bad) { print bad " readings not good, e.g. " badmsg; rc = 1 }
        if (worst > 1) { print "value off the formula: " worstmsg; rc = 1 }
        if (rawbad) { print rawbad " bad raw columns, e.g. " rawmsg; rc = 1 }
        exit rc
    }' "$T/expect" -
}

# check_spacing INTERVAL_US TOL_US: reads "tag ts_us ..." lines; every
# consecutive pair of one tag must be INTERVAL_US +- TOL_US apart. Prints
# the worst pair; returns 1 if any is outside.
# latency_start: runs tests/latency (a wake-up every 10 ms) as "latency",
# for a case whose timing checks must hold on a busy machine: start it
# before the daemon, and take latency_tol after the daemon stopped.
latency_start() {
    [ -x "$BUILD/tests/latency" ] || fail "no program $BUILD/tests/latency"
    spawn latency "$BUILD/tests/latency" 10
    wait_or_fail "grep -q '^ready' '$T/latency.out'" 5 "the latency probe did not start"
}

# latency_tol BASE_US: stops the probe and prints the timing tolerance to
# use: BASE_US plus twice the worst wake-up lateness the probe saw over
# the same time (an interval spans two time stamps, each as late as a
# thread of this machine was then). On a quiet machine the probe sees
# well under a millisecond and BASE_US stands; under load the checks
# widen by what the load did, and say so (in the case's log).
latency_tol() {
    local worst
    stop_pid "$PID_latency" >/dev/null 2>&1
    worst=$(sed -n 's/^wakeups [0-9]* worst_us \([0-9]*\) .*/\1/p' "$T/latency.out")
    [ -n "$worst" ] || fail "the latency probe said nothing: $(cat "$T/latency.out")"
    echo "latency probe: $(tail -1 "$T/latency.out"); tolerance $(($1 + 2 * worst)) us" >&2
    echo $(($1 + 2 * worst))
}

check_spacing() {
    awk -F'\t' -v iv="$1" -v tol="$2" '
    function abs(x) { return x < 0 ? -x : x }
    {
        if ($1 in last) {
            d = $2 - last[$1]; e = abs(d - iv); n++
            if (e > worst || !seen) { worst = e; seen = 1
                msg = sprintf("%s: %.0f us between readings at %.0f and %.0f",
                              $1, d, last[$1], $2) }
            if (e > tol) nbad++
        }
        last[$1] = $2
    }
    END {
        if (nbad) { printf "%d of %d intervals off by more than %d us; worst %s\n",
                    nbad, n, tol, msg; exit 1 }
        if (!n) { print "no intervals"; exit 1 }
        printf "worst of %d intervals: %s\n", n, msg
    }'
}

# faketime_lib: libfaketime's MT variant, to preload directly (the
# faketime program forks and waits, so a signal to its PID would never
# reach tbdaqd). The plain library parses its timestamp file in static
# buffers that threads share: with tbdaqd's pollers and main thread
# reading the clock at once it was seen to return the true time for a
# moment, one run in ten. Fails if it is not installed (Debian: faketime).
faketime_lib() {
    local f
    for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
        [ -f "$f" ] && echo "$f" && return 0
    done
    return 1
}

# check_one_per_slot TAG N SLOTS TOL [LATE]: TAG has exactly one reading
# per slot of its grid (SPEC: a slot with no request is a `missed`
# reading): N readings of every quality for SLOTS slots between its first
# and last, within TOL either way (a timeout's reading is stamped up to a
# timeout after its slot, and the slots after a stop was asked for are
# not recorded), and the `missed` readings are the slots the missed
# events count, no fewer, and no more than LATE (default 0) over: a
# poller left inside a request at the stop may push its last missed
# readings without the event that counts them.
check_one_per_slot() {
    local tag=$1 n=$2 slots=$3 tol=$4 late=${5:-0} rows events
    rows=$(count_readings "$tag" missed)
    events=$(missed_slots "$tag")
    echo "$tag: $n readings ($rows missed) for $slots slots; missed events count $events"
    ((n >= slots - tol)) ||
        fail "$tag: $n readings for $slots slots: slots with no reading"
    ((n <= slots + tol)) ||
        fail "$tag: $n readings for $slots slots: more than one reading for a slot"
    ((rows >= events && rows <= events + late)) ||
        fail "$tag: $rows missed readings, but missed events count $events slots"
}

# check_tag_slots TAG INTERVAL_MS TOL: check_one_per_slot for TAG over the
# slots of its grid between its first and last reading.
check_tag_slots() {
    local tag=$1 iv=$(($2 * 1000)) n first last
    read -r n first last <<<"$(sql "SELECT count(*), min(r.ts_us),
        max(r.ts_us) FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE s.tag = '$tag';" | tr '\t' ' ')"
    check_one_per_slot "$tag" "$n" $(((last - first + iv / 2) / iv + 1)) "$3"
}

# missed_slots TAG: the slots a missed event counts for TAG, summed over
# every missed event naming it ("TAGS: N slots missed on bus ...").
missed_slots() {
    sql "SELECT detail FROM events WHERE kind = 'missed';" |
        awk -v tag="$1" '
        {
            split($0, parts, ":"); names = parts[1]; hit = 0
            k = split(names, nm, /[ ,]+/)
            for (i = 1; i <= k; i++) if (nm[i] == tag) hit = 1
            if (!hit) next
            if (match($0, /[0-9]+ slots? /)) {
                s += substr($0, RSTART, RLENGTH) + 0
            } else { print "unparsed missed event: " $0 > "/dev/stderr" }
        }
        END { print s + 0 }'
}

# check_sanitizers: fails if any process of the case reported a sanitizer
# error in its log.
sanitizer_report() {
    grep -l -E 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' \
        "$1"/*.err 2>/dev/null | head -1
}

# ---------------------------------------------------------------------
# MQTT: a mosquitto broker of the case's own, subscribers, and what they
# received. A subscriber's $T/NAME.out has one line per message:
# "RETAIN TOPIC PAYLOAD" (RETAIN is 1 only for a retained message
# delivered when subscribing).

MOSQUITTO=/usr/sbin/mosquitto
# Brokers listen on a random port in LO .. LO + SPAN - 1; one taken by
# someone else makes mosquitto exit, and another is tried.
BROKER_PORT_LO=20000
BROKER_PORT_SPAN=40000
# Seconds to find a free port and have the broker accept connections.
BROKER_START_S=10
# mosquitto_sub's output format (see above).
SUB_FORMAT='%r %t %p'

# need_mqtt: fails the case unless tbdaqd publishes over MQTT and the
# broker, its clients and openssl are installed.
need_mqtt() {
    local p
    [ -x "$BUILD/tbdaqd" ] || fail "no program $BUILD/tbdaqd"
    grep -qa mosquitto_publish "$BUILD/tbdaqd" ||
        fail "$BUILD/tbdaqd is built without MQTT publishing (it does not call libmosquitto's mosquitto_publish): issue 3's publisher is missing"
    [ -x "$MOSQUITTO" ] || fail "no $MOSQUITTO (Debian: mosquitto)"
    for p in mosquitto_sub mosquitto_passwd openssl; do
        command -v "$p" >/dev/null ||
            fail "'$p' is needed (Debian: mosquitto-clients, openssl)"
    done
}

# count_lines FIXED_STRING FILE: lines of FILE holding the string (0 if
# there is no such file).
count_lines() {
    local c
    c=$(grep -c -F -e "$1" "$2" 2>/dev/null)
    echo "${c:-0}"
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# broker_up: spawns mosquitto on $T/broker.conf (log appended to
# $T/broker.log) and waits until it runs and accepts connections on
# BROKER_PORT. Returns 1 if it exited (e.g. the port was taken).
broker_up() {
    local n
    n=$(count_lines ' running' "$T/broker.log")
    SPAWN_APPEND=1 spawn broker "$MOSQUITTO" -c "$T/broker.conf"
    wait_for "[ \$(count_lines ' running' '$T/broker.log') -gt $n ] ||
        ! pid_running $PID_broker" 5
    if pid_running "$PID_broker" && wait_for "port_open $BROKER_PORT" 5 &&
        pid_running "$PID_broker"; then
        return 0
    fi
    stop_pid "$PID_broker"
    return 1
}

# start_broker [CONF_LINES...]: starts mosquitto on a free port of
# 127.0.0.1 and sets BROKER_PORT. The lines follow the listener line, so
# listener settings (cafile, require_certificate...) apply to it; anonymous
# clients are allowed unless a line says allow_anonymous. For persistence,
# pass "persistence true" "persistence_location $T/".
start_broker() {
    local end line anon=1
    for line in "$@"; do
        [[ $line == allow_anonymous* ]] && anon=
    done
    end=$(($(now_us) + BROKER_START_S * 1000000))
    while (($(now_us) < end)); do
        BROKER_PORT=$((BROKER_PORT_LO + (RANDOM * 32768 + RANDOM) % BROKER_PORT_SPAN))
        port_open "$BROKER_PORT" && continue
        {
            echo "listener $BROKER_PORT 127.0.0.1"
            for line in "$@"; do echo "$line"; done
            [ -z "$anon" ] || echo "allow_anonymous true"
            # Run as whoever runs the tests (as root, mosquitto would
            # switch to its own user, which cannot write to $T).
            echo "user $(id -un)"
            echo "log_dest file $T/broker.log"
            echo "log_timestamp_format %H:%M:%S"
            for line in error warning notice information subscribe \
                unsubscribe; do
                echo "log_type $line"
            done
        } >"$T/broker.conf"
        broker_up && return 0
    done
    fail "no broker accepted connections within $BROKER_START_S s: $(tail -3 "$T/broker.log" 2>/dev/null | tr '\n' ' ')"
}

# stop_broker: SIGTERM to the broker (it saves its persistence file).
stop_broker() {
    stop_pid "$PID_broker" || fail "the broker ignored SIGTERM"
    [ "$STOP_RC" = 0 ] || fail "the broker exited $STOP_RC on SIGTERM"
    ! port_open "$BROKER_PORT" ||
        fail "port $BROKER_PORT still accepts connections after the broker stopped"
}

# restart_broker: the broker again, on the same port with the same config
# (and so the same persistence file).
restart_broker() {
    wait_for broker_up "$BROKER_START_S" ||
        fail "the broker did not start again on port $BROKER_PORT: $(tail -3 "$T/broker.log" | tr '\n' ' ')"
}

# conf_mqtt [SETTINGS...]: the mqtt group for conf_write, publishing to the
# case's broker as client MQTT_CLIENT_ID (default tbdaq-itest), QoS 1,
# keepalive 5 s, readings not retained; SETTINGS are added or override.
conf_mqtt() {
    local s="mqtt = {" d x over
    for d in "host = \"127.0.0.1\";" "port = $BROKER_PORT;" "qos = 1;" \
        "retain = false;" "keepalive_s = 5;" "topic_prefix = \"tbdaq\";" \
        "client_id = \"${MQTT_CLIENT_ID:-tbdaq-itest}\";"; do
        over=
        for x in "$@"; do
            [ "${x%% *}" = "${d%% *}" ] && over=1
        done
        [ -n "$over" ] || s="$s $d"
    done
    for x in "$@"; do s="$s $x"; done
    echo "$s };"
}

# start_sub NAME TOPIC [MOSQUITTO_SUB_OPTIONS...]: subscribes to TOPIC at
# QoS 1 as client id itest-NAME (with -c: a persistent session) and waits
# until the broker logged the subscription. Messages are appended to
# $T/NAME.out. mosquitto_sub reconnects by itself when the broker goes
# away; keep_sub starts it again should it have exited.
start_sub() {
    local name=$1 topic=$2 n pid
    shift 2
    printf '%q ' "$topic" "$@" >"$T/$name.args"
    n=$(count_lines ": itest-$name 1 $topic" "$T/broker.log")
    SPAWN_APPEND=1 spawn "$name" mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" \
        -i "itest-$name" -q 1 -F "$SUB_FORMAT" -t "$topic" "$@"
    pid=PID_$name
    pid=${!pid}
    wait_or_fail "[ \$(count_lines ': itest-$name 1 $topic' '$T/broker.log') -gt $n ] ||
        ! pid_running $pid" 10 "subscriber $name did not subscribe to $topic"
    pid_running "$pid" ||
        fail "subscriber $name exited: $(tail -2 "$T/$name.err" | tr '\n' ' ')"
}

# keep_sub NAME: starts subscriber NAME again, as before, if it exited.
keep_sub() {
    local pid=PID_$1 args
    pid_running "${!pid}" && return 0
    eval "args=($(cat "$T/$1.args"))"
    echo "subscriber $1 had exited; starting it again"
    start_sub "$1" "${args[@]}"
}

# mqtt_get TOPIC [MOSQUITTO_SUB_OPTIONS...]: the first message on TOPIC
# for a new subscriber, as "RETAIN PAYLOAD" (at most 5 s).
mqtt_get() {
    local topic=$1
    shift
    timeout 10 mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -C 1 -W 5 \
        -F '%r %p' -t "$topic" "$@" 2>/dev/null
}

# sub_got NAME LINE: true if subscriber NAME received exactly LINE
# ("RETAIN TOPIC PAYLOAD").
sub_got() {
    grep -qxF -e "$2" "$T/$1.out"
}

# sub_seqs NAME: the seq of every reading NAME received, in order of
# arrival, one per line (chain witnesses, which have a seq too, left out).
sub_seqs() {
    sed -n '/^[01] [^ ]*\/chain /d
        s/^[01] [^ ]* {"seq":\([0-9][0-9]*\),.*/\1/p' "$T/$1.out"
}

# sub_per_topic NAME: "COUNT TOPIC" for every reading topic NAME received.
sub_per_topic() {
    awk '$3 ~ /^\{"seq":/ { n[$2]++ } END { for (t in n) print n[t], t }' \
        "$T/$1.out"
}

# sub_topics_min NAME N TAG...: true if NAME received at least N readings
# on a topic ending in /TAG, for every TAG.
sub_topics_min() {
    local name=$1 n=$2
    shift 2
    sub_per_topic "$name" | awk -v n="$n" -v tags="$*" '
        { k = split($2, p, "/"); c[p[k]] += $1 }
        END { m = split(tags, t, " ")
              for (i = 1; i <= m; i++) if (c[t[i]] < n) exit 1 }'
}

# sub_received NAME LO HI: compares the seqs NAME received with the
# database's readings LO..HI; prints "R of D readings (seq LO..HI)
# received, M missing (e.g. ...), X duplicates, U not in the database",
# and returns 0 only if D > 0, none is missing and none is unknown.
sub_received() {
    local db
    db=$(sql "SELECT seq FROM readings WHERE seq BETWEEN $2 AND $3;") ||
        { echo "cannot read the database"; return 1; }
    awk -v lo="$2" -v hi="$3" '
        FILENAME == ARGV[1] { if ($1 >= lo && $1 <= hi) { if ($1 in got) dup++; got[$1] = 1 }
                    next }
        NF == 0 { next }
        { d++; indb[$1] = 1
          if ($1 in got) r++; else { m++; if (m <= 5) ex = ex " " $1 } }
        END { for (s in got) if (!(s in indb)) u++
              printf "%d of %d readings (seq %d..%d) received, %d missing%s, %d duplicates, %d not in the database\n",
                  r, d, lo, hi, m, m ? " (e.g." ex ")" : "", dup, u
              exit !(d > 0 && m == 0 && u == 0) }' <(sub_seqs "$1") <(echo "$db")
}

# make_certs: in $T/pki, a CA (ca.crt), a server certificate for
# 127.0.0.1 and localhost (server.crt, server.key), a client certificate
# (client.crt, client.key), and a client certificate from another CA
# (rogue.crt, rogue.key, issued by rogue-ca.crt). EC P-256 keys: quick.
make_certs() {
    local d=$T/pki ca name
    mkdir -p "$d" || fail "cannot make $d"
    ( # a subshell: the cd and any error stay here
        cd "$d" || exit 1
        key() { openssl genpkey -algorithm EC \
            -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
        for ca in ca rogue-ca; do
            key "$ca" && openssl req -x509 -new -key "$ca.key" -days 2 \
                -subj "/CN=tbdaq itest $ca" -out "$ca.crt" || exit 1
        done
        printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\n' >server.ext
        printf 'extendedKeyUsage = clientAuth\n' >client.ext
        for name in server:ca client:ca rogue:rogue-ca; do
            ca=${name#*:}
            name=${name%:*}
            key "$name" &&
                openssl req -new -key "$name.key" \
                    -subj "/CN=${name/server/127.0.0.1}" -out "$name.csr" &&
                openssl x509 -req -in "$name.csr" -CA "$ca.crt" \
                    -CAkey "$ca.key" -CAcreateserial -days 2 \
                    -extfile "$([ "$name" = server ] && echo server ||
                        echo client).ext" -out "$name.crt" || exit 1
        done
        chmod 644 ./*.key
    ) >"$T/openssl.log" 2>&1 ||
        fail "openssl could not make the certificates: $(tail -3 "$T/openssl.log" | tr '\n' ' ')"
}

# The site conf_write puts in every config.
SITE=itest

# mqtt_backlog [DB]: N of tbdaq status's "MQTT: ... backlog N readings ..."
# line (nothing if there is no backlog older than a few seconds).
mqtt_backlog() {
    timeout 10 "$BUILD/tbdaq" -d "${1:-$T/t.db}" status 2>/dev/null |
        sed -n 's/^  MQTT: .*backlog \([0-9][0-9]*\) readings not acknowledged.*/\1/p'
}

# expected_payloads: every reading of the database as "seq TAB payload TAB
# value", where payload is SPEC's JSON object with the value replaced by @
# (null stays null), and value is the stored double with 17 significant
# digits (or null); values are compared as numbers apart, since the
# daemon writes the shortest digits that round-trip.
expected_payloads() {
    sql "SELECT r.seq,
        '{\"seq\":' || r.seq || ',\"site\":\"$SITE\",\"sensor\":\"' || s.tag ||
        '\",\"kind\":\"' || s.kind || '\",\"ts\":\"' ||
        strftime('%Y-%m-%dT%H:%M:%S', r.ts_us / 1000000, 'unixepoch') ||
        printf('.%06dZ', r.ts_us % 1000000) || '\",\"ts_us\":' || r.ts_us ||
        ',\"value\":' || CASE WHEN r.value IS NULL THEN 'null' ELSE '@' END ||
        ',\"unit\":\"' || s.unit || '\",\"quality\":\"' || r.quality || '\"' ||
        CASE WHEN r.quality IN ('comm_error', 'missed') THEN ',\"error\":\"' ||
            replace(replace(ifnull(r.error, ''), '\\', '\\\\'), '\"', '\\\"') ||
            '\"' ELSE '' END || '}',
        ifnull(printf('%!.17g', r.value), 'null')
        FROM readings r JOIN sensors s ON s.id = r.sensor_id ORDER BY r.seq;"
}

# check_payloads NAME [TOKENS_FILE]: every reading subscriber NAME
# received must be its database row: topic <prefix>/<site>/<kind>/<tag>,
# not retained, payload equal to expected_payloads' string, the value a
# JSON number equal to the stored double (or null exactly when the
# database has NULL, which must be for invalid, comm_error and missed only). With
# TOKENS_FILE ("TAG VALUE_TEXT" lines), TAG's value must be written as
# exactly VALUE_TEXT. Prints a summary (readings per quality and kind), or
# the first problems; returns 1 on any.
check_payloads() {
    expected_payloads >"$T/expected" ||
        { echo "cannot read the database"; return 1; }
    awk -v pre="tbdaq/$SITE/" '
        function bad(m) { nbad++; if (nbad <= 5) print m }
        function jstr(s, key) {
            if (!match(s, "\"" key "\":\"[^\"]*\"")) return ""
            return substr(s, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
        }
        FILENAME == ARGV[1] { split($0, a, "\t"); want[a[1]] = a[2]
                              val[a[1]] = a[3]; next }
        FILENAME == ARGV[2] { tok[$1] = $2; next }
        {
            flag = $1; topic = $2
            p = substr($0, length(flag) + length(topic) + 3)
            if (topic ~ /\/(status|run|chain)$/ || topic ~ /\/runs\//) next
            if (!match(p, /^\{"seq":[0-9]+,/)) { bad("not a reading on " topic ": " p); next }
            seq = substr(p, 8, RLENGTH - 8); n++
            if (!(seq in want)) { bad("seq " seq " is not in the database: " p); next }
            if (flag != "0") bad("reading " seq " was retained (retain = false)")
            if (!match(p, /,"value":[^,]*,/)) { bad("no value in " p); next }
            v = substr(p, RSTART + 9, RLENGTH - 10)
            got = substr(p, 1, RSTART - 1) ",\"value\":" (v == "null" ? "null" : "@") \
                  "," substr(p, RSTART + RLENGTH)
            if (got != want[seq]) { bad("reading " seq ":\n  got  " got "\n  want " want[seq]); next }
            # The expected string fixes sensor, kind and quality.
            tag = jstr(want[seq], "sensor"); kind = jstr(want[seq], "kind")
            q = jstr(want[seq], "quality")
            if (topic != pre kind "/" tag) bad("reading " seq " on topic " topic ", want " pre kind "/" tag)
            if (v == "null") {
                if (q != "invalid" && q != "comm_error" && q != "missed") bad("reading " seq ": null value with quality " q)
            } else {
                if (v !~ /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) bad("reading " seq ": value " v " is not a JSON number")
                else if (v + 0 != val[seq] + 0) bad("reading " seq ": value " v ", the database has " val[seq])
                if (q == "invalid" || q == "comm_error" || q == "missed") bad("reading " seq ": value " v " with quality " q)
                if ((tag in tok) && v != tok[tag]) bad("reading " seq " of " tag ": value written " v ", want " tok[tag])
            }
            nq[q]++; nk[kind]++
        }
        END {
            if (!n) bad("no readings received")
            if (nbad) exit 1
            s = n " readings match the database:"
            for (x in nq) s = s " " x " " nq[x]
            s = s ";"
            for (x in nk) s = s " " x " " nk[x]
            print s
        }' "$T/expected" "${2:-/dev/null}" "$T/$1.out"
}
