# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 10 for the publisher: the broker's name and
# password are looked up at each connection attempt, and looking them up
# never holds up recording. Sourced by run.sh after lib.sh; each case_NAME
# runs in its own subshell with $T set.
#
# mqtt_resolver_hangs runs the daemon in a mount namespace of its own
# (unshare -m) where /etc/resolv.conf names a "resolver" on a loopback
# address that reads queries and never answers (socat), and
# /etc/nsswitch.conf resolves hosts through DNS only; nothing outside the
# namespace changes, and no packet leaves loopback. It needs root; as
# another user it says so and passes without testing anything. So does
# mqtt_cleartext_warning, which needs a broker address off loopback: it
# runs broker and daemons in a network namespace of its own (unshare -n),
# where that address exists and nothing leaves.

# The name the daemon is given for its broker: .invalid never exists, and
# glibc asks the resolver about it like any other name.
RESOLVER_NAME=broker.tbdaq-itest.invalid
# The resolver's timeouts, long enough that the lookup hangs throughout the
# case (glibc would otherwise give up after 5 s x 2 tries).
RESOLVER_OPTIONS="options timeout:30 attempts:5"
# The longest a reading may wait for its commit in these cases, beyond
# commit_interval_ms: a busy 2-core machine, sanitizers, and a disk busy
# with other work (one fsync of the WAL was seen to take 2.9 s while
# other test suites ran). A resolver that blocks the main thread holds
# every commit for its whole 10 s or more.
RESOLVER_COMMIT_MARGIN_MS=2500

# start_mute_resolver: a UDP socket on port 53 of a free loopback address
# that writes whatever it receives to $T/queries and never answers; sets
# RESOLVER_ADDR.
start_mute_resolver() {
    local i a hex
    for i in 1 2 3 4 5 6 7 8; do
        a=127.0.53.$((20 + RANDOM % 200))
        hex=$(printf '%02X%02X%02X%02X:0035' "${a##*.}" 53 0 127)
        grep -q " $hex " /proc/net/udp && continue
        spawn resolver socat -u "UDP4-RECV:53,bind=$a" \
            "OPEN:$T/queries,creat,append"
        if wait_for "grep -q ' $hex ' /proc/net/udp || ! pid_running $PID_resolver" 5 &&
            pid_running "$PID_resolver"; then
            RESOLVER_ADDR=$a
            return 0
        fi
        stop_pid "$PID_resolver"
    done
    fail "no loopback address took a UDP socket on port 53: $(tail -2 "$T/resolver.err" | tr '\n' ' ')"
}

# A broker name that the resolver never answers for: readings keep being
# committed at their cadence, with no slot missed, while the publisher's
# lookup hangs through a whole attempt and into the next; SIGTERM exits 0
# within 5 s though the lookup still hangs.
case_mqtt_resolver_hangs() {
    local gap missed lag n attempts
    need_mqtt
    if [ "$(id -u)" != 0 ]; then
        echo "SKIPPED: needs root (unshare -m, mount --bind, port 53)"
        return 0
    fi
    command -v unshare >/dev/null || fail "'unshare' is needed (util-linux)"
    start_mute_resolver
    printf 'nameserver %s\n%s\n' "$RESOLVER_ADDR" "$RESOLVER_OPTIONS" \
        >"$T/resolv.conf"
    printf 'hosts: dns\n' >"$T/nsswitch.conf"

    start_sim --port 0
    conf_tcp_bus b1
    sim_sensor FT-1 b1 1 holding flow 0 100
    sim_sensor PT-1 b1 1 holding pressure 0 100
    sim_sensor AT-1 b1 1 input ph 0 100
    BROKER_PORT=1883 # never reached: the name never resolves
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt "host = \"$RESOLVER_NAME\";")"
    [ -x "$BUILD/tbdaqd" ] || fail "no program $BUILD/tbdaqd"
    # unshare and sh exec: PID_daemon ends up being tbdaqd itself.
    spawn daemon unshare -m --propagation private sh -c \
        'mount --bind "$1" /etc/resolv.conf &&
         mount --bind "$2" /etc/nsswitch.conf && exec "$3" -c "$4"' \
        _ "$T/resolv.conf" "$T/nsswitch.conf" "$BUILD/tbdaqd" "$T/t.conf"
    wait_or_fail "[ -f '$T/t.db' ] || ! pid_running $PID_daemon" 10 \
        "the daemon created no database"
    pid_running "$PID_daemon" ||
        fail "the daemon exited at start: $(tail -3 "$T/daemon.err" | tr '\n' ' ')"
    wait_or_fail "grep -qa tbdaq-itest '$T/queries'" 10 \
        "no query for $RESOLVER_NAME reached the resolver at $RESOLVER_ADDR"
    wait_or_fail "min_readings 10" 5 \
        "readings are not recorded while the broker's name is looked up"
    # A whole attempt times out (10 s), and the next one waits on.
    wait_or_fail "grep -q 'no answer from the resolver' '$T/daemon.err'" 20 \
        "the connection attempt did not give up on the resolver"
    n=$(sql "SELECT count(*) FROM readings;")
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + 30)) ]" \
        5 "readings stopped after the first attempt gave up"
    ! grep -q 'cannot resolve' "$T/daemon.err" ||
        fail "the lookup ended: the case did not test a hanging resolver"
    stop_daemon
    echo "stopped in $DAEMON_STOP_MS ms with the lookup still hanging"

    # Every slot of every sensor has its reading, none missed: no two
    # readings of a sensor two slots apart (a poll late on a busy machine
    # stretches one gap, to 165 ms once in CI; a lost slot makes 200 ms).
    gap=$(sql "SELECT ifnull(max(d), 0) FROM (SELECT ts_us - lag(ts_us) OVER
                 (PARTITION BY sensor_id ORDER BY seq) AS d FROM readings);")
    ((gap < 190000)) || fail "a gap of $gap us between two readings of a sensor"
    missed=$(sql "SELECT (SELECT count(*) FROM readings
                          WHERE quality = 'missed') +
                         (SELECT count(*) FROM events WHERE kind = 'missed');")
    [ "$missed" = 0 ] || fail "$missed missed readings or events"
    # Each reading committed within commit_interval_ms (+ margin) of its time.
    lag=$(sql "SELECT max(b.ts_us - r.ts_us) FROM readings r JOIN batches b
                 ON r.seq BETWEEN b.first_seq AND b.last_seq;")
    ((lag <= (100 + RESOLVER_COMMIT_MARGIN_MS) * 1000)) ||
        fail "a reading waited $lag us for its commit (commit_interval_ms = 100)"
    attempts=$(grep -c 'no answer from the resolver' "$T/daemon.err")
    echo "$(sql 'SELECT count(*) FROM readings;') readings, longest gap $gap us, longest wait for a commit $lag us; $attempts complaint(s) about the resolver"
}

# password_file is read at each connection attempt: with the password
# changed at the broker and in the file, the reconnection after the
# broker's restart uses the new one and publishing goes on.
case_mqtt_password_reread() {
    local last
    need_mqtt
    start_sim --port 0
    conf_tcp_bus b1
    sim_sensor FT-1 b1 1 holding flow 0 200
    mosquitto_passwd -b -c "$T/passwd" tbdaq first-s3cret ||
        fail "mosquitto_passwd failed"
    mosquitto_passwd -b "$T/passwd" itest-sub sub-s3cret
    start_broker "allow_anonymous false" "password_file $T/passwd"
    printf 'first-s3cret\n' >"$T/mqtt.pass"
    start_sub sub 'tbdaq/itest/#' -u itest-sub -P sub-s3cret
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt 'username = "tbdaq";' "password_file = \"$T/mqtt.pass\";")"
    start_daemon
    wait_or_fail "[ \$(sub_seqs sub | wc -l) -ge 5 ]" 15 \
        "the subscriber got no readings with the first password"

    stop_broker
    mosquitto_passwd -b "$T/passwd" tbdaq second-s3cret ||
        fail "mosquitto_passwd failed"
    printf 'second-s3cret\n' >"$T/mqtt.pass"
    restart_broker
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_for "keep_sub sub >/dev/null; [ \$(sub_seqs sub | sort -n | tail -1) -gt $((last + 5)) ]" 30 ||
        fail "no reading after seq $last reached the subscriber with the new password within 30 s ($(grep -c 'not authorised' "$T/broker.log") refusals logged by the broker)"
    stop_daemon
    echo "publishing resumed after the password change; the broker refused $(grep -c 'tbdaq-itest.*not authorised' "$T/broker.log") attempt(s) meanwhile"
}

# --- the clear-text warning, in a network namespace of the case's own ---

# The broker's address off loopback: TEST-NET-2 (RFC 5737), on a link that
# exists only inside the namespace, where the broker also listens on
# 127.0.0.1. A fresh namespace has every port free.
CLEARTEXT_ADDR=198.51.100.1
CLEARTEXT_PORT=1883

# netns_record_exe NAME PROG: spawn recorded the wrapper (unshare,
# nsenter) as NAME's program, but the wrapper execs PROG under the same
# PID: record PROG, so that reap_leftovers recognises the process.
netns_record_exe() {
    local pid=PID_$1 exe
    exe=$(readlink -f "$(command -v "$2")") || fail "no program '$2'"
    sed -i "s|^${!pid} $1 .*\$|${!pid} $1 $exe|" "$T/pids"
}

# start_netns: a network namespace held by a sleep (PID_netns; stopped by
# PID at teardown like everything else, and the namespace goes with the
# last process in it), with lo up and CLEARTEXT_ADDR/24 on a dummy link,
# or on a veth pair with both ends inside where the kernel has no dummy
# links. Nothing is ever configured outside the namespace.
start_netns() {
    local me
    me=$(readlink /proc/self/ns/net)
    spawn netns unshare -n sleep infinity
    netns_record_exe netns sleep
    wait_or_fail "[ \"\$(readlink /proc/$PID_netns/ns/net)\" != '$me' ] ||
        ! pid_running $PID_netns" 5 "unshare -n made no network namespace"
    pid_running "$PID_netns" ||
        fail "unshare -n failed: $(tail -2 "$T/netns.err" | tr '\n' ' ')"
    in_netns ip link set lo up || fail "cannot bring lo up in the namespace"
    if in_netns ip link add tbdaq0 type dummy 2>/dev/null; then
        NETNS_LINK="a dummy link"
    else
        if ! in_netns ip link add tbdaq0 type veth peer name tbdaq1 ||
            ! in_netns ip link set tbdaq1 up; then
            fail "neither a dummy link nor a veth pair in the namespace"
        fi
        NETNS_LINK="a veth pair"
    fi
    if ! in_netns ip addr add "$CLEARTEXT_ADDR/24" dev tbdaq0 ||
        ! in_netns ip link set tbdaq0 up; then
        fail "cannot put $CLEARTEXT_ADDR on $NETNS_LINK in the namespace"
    fi
}

# in_netns CMD...: runs CMD in the case's namespace (and waits for it).
in_netns() {
    nsenter --net="/proc/$PID_netns/ns/net" "$@"
}

# netns_spawn NAME PROG ARGS...: spawn, inside the case's namespace.
netns_spawn() {
    local name=$1
    shift
    spawn "$name" nsenter --net="/proc/$PID_netns/ns/net" "$@"
    netns_record_exe "$name" "$1"
}

# True if something accepts TCP connections on ADDR:PORT in the namespace.
netns_port_open() {
    in_netns bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# netns_broker_up: mosquitto on $T/broker.conf in the namespace, until it
# accepts connections on both listeners.
netns_broker_up() {
    local n
    n=$(count_lines ' running' "$T/broker.log")
    SPAWN_APPEND=1 netns_spawn broker "$MOSQUITTO" -c "$T/broker.conf"
    wait_or_fail "[ \$(count_lines ' running' '$T/broker.log') -gt $n ] ||
        ! pid_running $PID_broker" 10 "the broker did not start"
    wait_or_fail "netns_port_open $CLEARTEXT_ADDR $CLEARTEXT_PORT &&
        netns_port_open 127.0.0.1 $CLEARTEXT_PORT || ! pid_running $PID_broker" \
        10 "the broker accepts no connections"
    pid_running "$PID_broker" ||
        fail "the broker exited: $(tail -3 "$T/broker.log" | tr '\n' ' ')"
}

# netns_daemon NAME CONF DB: tbdaqd in the namespace, until DB exists.
netns_daemon() {
    local pid=PID_$1
    netns_spawn "$1" "$BUILD/tbdaqd" -c "$2"
    wait_or_fail "[ -f '$3' ] || ! pid_running ${!pid}" 10 \
        "daemon '$1' created no database"
    pid_running "${!pid}" ||
        fail "daemon '$1' exited at start: $(tail -3 "$T/$1.err" | tr '\n' ' ')"
}

# A password sent without TLS to a broker off loopback is warned about
# once, at the first connection, and not again at reconnections; a broker
# reached on loopback (the name localhost) gets no warning. Both daemons,
# the broker and the simulator run in a network namespace of the case's
# own, so nothing leaves it.
case_mqtt_cleartext_warning() {
    local warn n_off n_lo want
    need_mqtt
    if [ "$(id -u)" != 0 ]; then
        echo "SKIPPED: needs root (unshare -n, ip)"
        return 0
    fi
    for want in unshare nsenter ip; do
        command -v "$want" >/dev/null ||
            fail "'$want' is needed (Debian: util-linux, iproute2)"
    done
    start_netns

    netns_spawn sim "$BUILD/tbdaq-sim" --control "$T/ctl" --port 0
    wait_or_fail "grep -q 'tbdaq-sim: listening on 127.0.0.1:' '$T/sim.out' ||
        ! pid_running $PID_sim" 10 "the simulator did not report its port"
    SIM_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' \
        "$T/sim.out" | head -1)
    [ -n "$SIM_PORT" ] || fail "cannot read the simulator's port"
    conf_tcp_bus b1
    sim_sensor FT-1 b1 1 holding flow 0 200

    mosquitto_passwd -b -c "$T/passwd" tbdaq s3cret ||
        fail "mosquitto_passwd failed"
    printf 's3cret\n' >"$T/mqtt.pass"
    {
        echo "listener $CLEARTEXT_PORT $CLEARTEXT_ADDR"
        echo "listener $CLEARTEXT_PORT 127.0.0.1"
        echo "allow_anonymous false"
        echo "password_file $T/passwd"
        echo "user $(id -un)"
        echo "log_dest file $T/broker.log"
        echo "log_type error"
        echo "log_type warning"
        echo "log_type notice"
        echo "log_type information"
    } >"$T/broker.conf"
    netns_broker_up

    BROKER_PORT=$CLEARTEXT_PORT
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "$(conf_mqtt "host = \"$CLEARTEXT_ADDR\";" 'username = "tbdaq";' \
            "password_file = \"$T/mqtt.pass\";")"
    CONF_DB=$T/lo.db conf_write "$T/lo.conf" "commit_interval_ms = 100;" \
        "$(MQTT_CLIENT_ID=tbdaq-itest-lo conf_mqtt 'host = "localhost";' \
            'username = "tbdaq";' "password_file = \"$T/mqtt.pass\";")"
    netns_daemon daemon "$T/t.conf" "$T/t.db"
    netns_daemon lo "$T/lo.conf" "$T/lo.db"
    wait_or_fail "grep -q 'connected to broker' '$T/daemon.err' &&
        grep -q 'connected to broker' '$T/lo.err'" 15 \
        "the daemons did not both log in to the broker"

    # Reconnections: a new connection each, the password sent again.
    stop_pid "$PID_broker" || fail "the broker ignored SIGTERM"
    netns_broker_up
    wait_or_fail "[ \$(count_lines 'connected to broker' '$T/daemon.err') -ge 2 ] &&
        [ \$(count_lines 'connected to broker' '$T/lo.err') -ge 2 ]" 20 \
        "the daemons did not both reconnect after the broker's restart"
    stop_daemon
    stop_daemon lo

    warn="mqtt: the password of 'tbdaq' goes to broker '$CLEARTEXT_ADDR:$CLEARTEXT_PORT' ($CLEARTEXT_ADDR) in clear text: configure mqtt.tls"
    n_off=$(count_lines "$warn" "$T/daemon.err")
    [ "$n_off" = 1 ] ||
        fail "the warning for $CLEARTEXT_ADDR was logged $n_off times over $(count_lines 'connected to broker' "$T/daemon.err") connections (want once): $(grep 'clear text' "$T/daemon.err" | head -3 | tr '\n' ' ')"
    n_lo=$(count_lines 'clear text' "$T/lo.err")
    [ "$n_lo" = 0 ] ||
        fail "a clear-text warning for a broker on loopback: $(grep 'clear text' "$T/lo.err" | head -1)"
    echo "one warning over $(count_lines 'connected to broker' "$T/daemon.err") connections to $CLEARTEXT_ADDR ($NETNS_LINK), none over $(count_lines 'connected to broker' "$T/lo.err") to localhost"
}

EXTRA_CASES+=(mqtt_resolver_hangs mqtt_password_reread mqtt_cleartext_warning)
