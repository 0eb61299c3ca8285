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
# PID_NAME. NAME must be a shell identifier.
spawn() {
    local name=$1 exe
    shift
    exe=$(readlink -f "$(command -v "$1")")
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
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
# sets SIM_PORT.
start_sim() {
    local line
    [ -x "$BUILD/tbdaq-sim" ] || fail "no program $BUILD/tbdaq-sim"
    spawn sim "$BUILD/tbdaq-sim" --control "$T/ctl" "$@"
    if [[ " $* " == *" --rtu "* ]]; then
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

# ---------------------------------------------------------------------
# The config and the daemon

CONF_BUSES=()
CONF_SENSORS=()

# conf_tcp_bus NAME [TIMEOUT_MS]: a TCP bus on the simulator, no retries,
# a short timeout (default 200 ms) so that faults show within a second.
conf_tcp_bus() {
    CONF_BUSES+=("  { name = \"$1\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = ${2:-200}; retries = 0; }")
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
    [ -x "$BUILD/tbdaqd" ] || fail "no program $BUILD/tbdaqd"
    spawn daemon "$BUILD/tbdaqd" -c "$T/t.conf" "$@"
    wait_or_fail "[ -f '$T/t.db' ] || ! pid_running $PID_daemon" 10 \
        "the daemon created no database"
    pid_running "$PID_daemon" || fail "the daemon exited at start"
}

# stop_daemon: SIGTERM; fails the case unless it exits 0 within 5 s.
stop_daemon() {
    local t0 t1
    DAEMON_STOPPED=1
    t0=$(now_us)
    stop_pid "$PID_daemon" 5 ||
        fail "the daemon did not exit within 5 s of SIGTERM"
    t1=$(now_us)
    [ "$STOP_RC" = 0 ] ||
        fail "the daemon exited $STOP_RC after SIGTERM (want 0)"
    DAEMON_STOP_MS=$(((t1 - t0) / 1000))
}

# sql QUERY: runs a query on the case's database, tab-separated output.
sql() {
    [ -f "$T/t.db" ] || return 1
    sqlite3 -batch -noheader -separator $'\t' \
        -cmd ".timeout $SQL_BUSY_MS" "$T/t.db" "$1"
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
             WHERE s.tag IN (${list%,}) GROUP BY s.id);") || return 1
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
