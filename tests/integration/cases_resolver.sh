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
# another user it says so and passes without testing anything.

# The name the daemon is given for its broker: .invalid never exists, and
# glibc asks the resolver about it like any other name.
RESOLVER_NAME=broker.tbdaq-itest.invalid
# The resolver's timeouts, long enough that the lookup hangs throughout the
# case (glibc would otherwise give up after 5 s x 2 tries).
RESOLVER_OPTIONS="options timeout:30 attempts:5"
# The longest a reading may wait for its commit in these cases, beyond
# commit_interval_ms: a busy 2-core machine, sanitizers.
RESOLVER_COMMIT_MARGIN_MS=500

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

    # Every slot of every sensor has its reading, none missed.
    gap=$(sql "SELECT ifnull(max(d), 0) FROM (SELECT ts_us - lag(ts_us) OVER
                 (PARTITION BY sensor_id ORDER BY seq) AS d FROM readings);")
    ((gap <= 150000)) || fail "a gap of $gap us between two readings of a sensor"
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

EXTRA_CASES+=(mqtt_resolver_hangs mqtt_password_reread)
