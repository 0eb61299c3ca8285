# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 16, tbdaq-web (SPEC "tbdaq-web", "Metrics"),
# written from SPEC and the issue, not from the program's code. What it
# serves is judged by Python programs in tools/ with parsers the project
# did not write: http.client, json, html.parser, the Prometheus text
# parser of Debian python3-prometheus-client, a PNG decoder on zlib, and
# a real browser (headless Chromium, Debian chromium). Sourced by run.sh
# after lib.sh; each case runs in its own subshell with $T set.
#
# TBDAQ_WEB=PROGRAM runs the cases against another program than
# $BUILD/tbdaq-web (tools/fake_web.py proves the cases and tools; with
# FAKE_WEB_BREAK=... it is broken on purpose, to watch them fail).
# WEB_SCREENSHOTS=DIR keeps web_browser's live.png and report.png there.

WEB_TOOLS=$HERE/tools
# Debian's Python: its python3-prometheus-client is not seen by another
# python3 on PATH (pyenv, venv).
WEB_PY=/usr/bin/python3
[ -x "$WEB_PY" ] || WEB_PY=python3
# tbdaq-web gets a random port in LO .. LO + SPAN - 1; one in use makes
# it exit, and another is tried (as with the broker).
WEB_PORT_LO=20000
WEB_PORT_SPAN=40000
WEB_START_S=15
# The sensors of the web cases: four quantities moving with time on two
# units and two buses, and one fixed value (float32 1234.5).
WEB_TAGS="FT-101,PT-201,AT-301,TT-401,FX-906"
WEB_BUSES="plant,line2"
# Virtual milliseconds Chromium lets a page's scripts run before its
# screenshot or DOM dump: long enough for a first fetch of the live data,
# shorter than a page's own refresh (a reload inside the budget loses the
# screenshot).
WEB_VT_MS=${WEB_VT_MS:-2000}

web_bin() {
    echo "${TBDAQ_WEB:-$BUILD/tbdaq-web}"
}

web_check() { "$WEB_PY" "$WEB_TOOLS/web_check.py" "$@"; }
prom_check() { "$WEB_PY" "$WEB_TOOLS/prom_check.py" "$@"; }
png_check() { "$WEB_PY" "$WEB_TOOLS/png_check.py" "$@"; }

# need_web: fails the case unless tbdaq-web is built and the Python
# parsers are installed.
need_web() {
    [ -x "$(web_bin)" ] ||
        fail "no program $(web_bin): tbdaq-web is not built (issue 16)"
    "$WEB_PY" -c 'import prometheus_client.parser' 2>/dev/null ||
        fail "$WEB_PY cannot import prometheus_client (Debian: python3-prometheus-client)"
}

# web_sensors: the simulator, its two buses and WEB_TAGS every 200 ms.
web_sensors() {
    start_sim --port 0 --units 2
    conf_tcp_bus plant
    conf_tcp_bus line2
    sim_sensor FT-101 plant 1 holding flow 20 200
    sim_sensor PT-201 plant 1 input pressure 20 200
    sim_sensor AT-301 plant 2 holding ph 0 200
    sim_sensor TT-401 line2 1 holding turbidity 22 200
    conf_sensor 'id = "FX-906"; kind = "generic"; unit = "x"; bus = "line2"; unit_id = 2; table = "input"; address = 906; type = "float32"; interval_ms = 200;'
    echo "FX-906 generic 2 1 2" >>"$T/expect"
}

# start_web NAME CONF [ARGS...]: tbdaq-web on CONF listening on a free
# port of 127.0.0.1 (given with --listen, unless WEB_CONF_LISTEN is set:
# then the function web_conf_at PORT must write CONF with that port);
# waits until it accepts connections and sets WEB_PORT and WEB_URL.
start_web() {
    local name=$1 conf=$2 end pid tries=0
    shift 2
    end=$(($(now_us) + WEB_START_S * 1000000))
    # A port someone took makes it exit: a few tries, not more (a program
    # that dies at start says why in the failure).
    while (($(now_us) < end && tries++ < 4)); do
        WEB_PORT=$((WEB_PORT_LO + (RANDOM * 32768 + RANDOM) % WEB_PORT_SPAN))
        port_open "$WEB_PORT" && continue
        if [ -n "${WEB_CONF_LISTEN:-}" ]; then
            web_conf_at "$WEB_PORT"
            SPAWN_APPEND=1 spawn "$name" "$(web_bin)" -c "$conf" "$@"
        else
            SPAWN_APPEND=1 spawn "$name" "$(web_bin)" -c "$conf" \
                --listen "127.0.0.1:$WEB_PORT" "$@"
        fi
        pid=PID_$name
        pid=${!pid}
        wait_for "port_open $WEB_PORT || ! pid_running $pid" 10
        if pid_running "$pid" && port_open "$WEB_PORT"; then
            WEB_URL=http://127.0.0.1:$WEB_PORT
            return 0
        fi
        stop_pid "$pid"
    done
    fail "tbdaq-web did not accept connections ($tries tries, $WEB_START_S s at most): $(tail -3 "$T/$name.err" | tr '\n' ' ')"
}

# stop_web: SIGTERM to tbdaq-web; fails unless it exits 0 within 5 s.
stop_web() {
    stop_pid "$PID_web" 5 || fail "tbdaq-web did not exit within 5 s of SIGTERM"
    [ "$STOP_RC" = 0 ] || fail "tbdaq-web exited $STOP_RC after SIGTERM (want 0)"
}

# web_status_ok: /api/status answers 200 (tbdaq-web is serving).
web_status_ok() {
    [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$WEB_URL/api/status")" = 200 ]
}

# wq ARGS...: `tbdaq -c $T/t.conf ARGS`, failing the case unless it exits 0.
wq() {
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" "$@" >"$T/wq.out" 2>"$T/wq.err" ||
        fail "tbdaq $*: $(head -2 "$T/wq.err" | tr '\n' ' ')"
}

# web_run NAME [N]: a run of the daemon with a mark, stopped once it
# holds N readings (default 25) on each side of the mark.
web_run() {
    local n k=${2:-25}
    wq run start "$1" --operator "web test" --note "issue 16"
    n=$(sql 'SELECT count(*) FROM readings;')
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + k)) ]" 15 \
        "no readings in run $1"
    wq run mark "step 2"
    n=$(sql 'SELECT count(*) FROM readings;')
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + k)) ]" 15 \
        "no readings after the mark of run $1"
    wq run stop
}

# web_conf_error LINE WORD: tbdaq-web on a config holding LINE exits 1
# with "FILE:N: ...WORD..." on stderr, N the line of LINE.
web_conf_error() {
    local rc n
    conf_write "$T/bad.conf" "commit_interval_ms = 100;" "$1"
    n=$(grep -n -F -e "$1" "$T/bad.conf" | cut -d: -f1)
    timeout 10 "$(web_bin)" -c "$T/bad.conf" >/dev/null 2>"$T/e"
    rc=$?
    { [ $rc = 1 ] && grep -q "$T/bad.conf:$n: .*$2" "$T/e"; } ||
        fail "config '$1': exit $rc, want 1 and '$T/bad.conf:$n: ...$2...': $(head -2 "$T/e" | tr '\n' ' ')"
}

# web_newest_quality TAG: the quality of TAG's newest reading.
web_newest_quality() {
    sql "SELECT r.quality FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE s.tag = '$1' ORDER BY r.seq DESC LIMIT 1;"
}

# The program's own interface (SPEC "Programs"), the live page and
# /api/status against the database, bad requests.
case_web_live() {
    local out rc
    need_web
    out=$(timeout 10 "$(web_bin)" --help 2>/dev/null)
    rc=$?
    { [ $rc = 0 ] && [[ $out == *--listen* ]]; } ||
        fail "tbdaq-web --help: exit $rc, want 0 and a usage naming --listen"
    out=$(timeout 10 "$(web_bin)" -V 2>/dev/null)
    [[ $out == "tbdaq-web "[0-9]* ]] || fail "tbdaq-web -V printed '$out'"
    timeout 10 "$(web_bin)" --no-such-option >/dev/null 2>&1
    rc=$?
    [ $rc = 2 ] || fail "tbdaq-web --no-such-option exited $rc, want 2"
    timeout 10 "$(web_bin)" -c "$T/none.conf" >/dev/null 2>"$T/e"
    rc=$?
    { [ $rc = 1 ] && grep -q none.conf "$T/e"; } ||
        fail "tbdaq-web -c on a missing file: exit $rc, want 1 naming it: $(head -1 "$T/e")"

    web_sensors
    # Config errors: file:line and what, exit 1 (SPEC "Programs").
    web_conf_error 'web = { listen = "127.0.0.1"; };' listen
    web_conf_error 'web = { listen = "127.0.0.1:8080"; colour = "red"; };' colour
    conf_write "$T/t.conf" "commit_interval_ms = 100;" \
        "web = { users_file = \"$T/no-such-users\"; };"
    timeout 10 "$(web_bin)" -c "$T/t.conf" --listen 127.0.0.1:1 \
        >/dev/null 2>"$T/e"
    rc=$?
    { [ $rc = 1 ] && grep -q no-such-users "$T/e"; } ||
        fail "a users_file that cannot be read: exit $rc, want 1 naming it: $(head -1 "$T/e")"
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 5" 15 "not every sensor got 5 readings"
    wq run start LIVE-1 --operator "web test"
    start_web web "$T/t.conf"
    wait_or_fail web_status_ok 10 "/api/status never answered 200"
    web_check status "$WEB_URL" "$T/t.db" --tags "$WEB_TAGS" \
        --buses "$WEB_BUSES" --run LIVE-1 || fail "/api/status (above)"
    web_check live "$WEB_URL" "$T/t.db" --tags "$WEB_TAGS" \
        --buses "$WEB_BUSES" --run LIVE-1 || fail "the live page / (above)"
    web_check bad "$WEB_URL" || fail "bad requests (above)"
    # Beside the running daemon too, the database is open read-only.
    web_fds_readonly
    wq run stop
    stop_daemon
    stop_web
}

# /metrics with a Prometheus parser: every metric of SPEC with its labels,
# values against the database, counters that increase, tbdaq_up 0 once the
# daemon stops while tbdaq-web keeps serving.
case_web_metrics() {
    local n since
    need_web
    local dead=(--down-buses dead --failing DEAD-1)
    need_mqtt
    start_broker
    web_sensors
    # A bus whose device never answers (nothing listens on port 1).
    conf_raw_bus 'name = "dead"; type = "tcp"; host = "127.0.0.1"; port = 1; timeout_ms = 200; retries = 0;'
    conf_sensor 'id = "DEAD-1"; kind = "flow"; bus = "dead"; unit_id = 1; table = "holding"; address = 0; type = "int16"; interval_ms = 200;'
    conf_write "$T/t.conf" "commit_interval_ms = 100;" "$(conf_mqtt)"
    start_daemon
    wait_or_fail "min_readings 5 good" 15 "not every sensor got 5 good readings"
    TAGS=DEAD-1 wait_or_fail "min_readings 2 comm_error" 15 \
        "DEAD-1 got no comm_error readings"
    start_web web "$T/t.conf"
    # The first scrape once tbdaq-web sees the daemon and its broker.
    wait_for "prom_check '$WEB_URL' '$T/t.db' --up 1 --tags '$WEB_TAGS' \
        --buses '$WEB_BUSES' --mqtt 1 ${dead[*]} --save '$T/m1.json'" 10 ||
        fail "first scrape: $(prom_check "$WEB_URL" "$T/t.db" --up 1 \
            --tags "$WEB_TAGS" --buses "$WEB_BUSES" --mqtt 1 "${dead[@]}")"
    n=$(sql 'SELECT count(*) FROM readings;')
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + 30)) ]" 10 \
        "the daemon recorded no more readings"
    prom_check "$WEB_URL" "$T/t.db" --up 1 --tags "$WEB_TAGS" \
        --buses "$WEB_BUSES" --mqtt 1 "${dead[@]}" --prev "$T/m1.json" ||
        fail "second scrape (above)"
    # The broker goes away: not connected, and a backlog builds up.
    stop_broker
    wait_for "prom_check '$WEB_URL' '$T/t.db' --up 1 --tags '$WEB_TAGS' \
        --mqtt 0 --backlog-min 10" 15 ||
        fail "broker stopped: $(prom_check "$WEB_URL" "$T/t.db" --up 1 \
            --tags "$WEB_TAGS" --mqtt 0 --backlog-min 10)"
    # Unit 2 stops answering: the newest readings of AT-301 and FX-906 are
    # comm_error; tbdaq_sensor_value keeps their newest good value, and the
    # live page shows the quality.
    sim_ctl "mute 2"
    wait_or_fail "[ \"\$(web_newest_quality AT-301)\$(web_newest_quality FX-906)\" = comm_errorcomm_error ]" 10 \
        "AT-301 and FX-906 got no comm_error readings after 'mute 2'"
    wait_for "prom_check '$WEB_URL' '$T/t.db' --up 1 --tags '$WEB_TAGS' \
        --failing AT-301,FX-906" 10 ||
        fail "unit 2 muted: $(prom_check "$WEB_URL" "$T/t.db" --up 1 \
            --tags "$WEB_TAGS" --failing AT-301,FX-906)"
    web_check live "$WEB_URL" "$T/t.db" --tags FT-101,PT-201,TT-401 \
        --quality AT-301=comm_error,FX-906=comm_error ||
        fail "the live page with unit 2 muted (above)"
    sim_ctl "normal 2"
    stop_daemon
    wait_for "prom_check '$WEB_URL' '$T/t.db' --up 0" 10 ||
        fail "after the daemon stopped: $(prom_check "$WEB_URL" "$T/t.db" --up 0)"
    prom_check "$WEB_URL" "$T/t.db" --up 0
    web_status_ok || fail "/api/status is not 200 with the daemon stopped"
    [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$WEB_URL/")" = 200 ] ||
        fail "/ is not 200 with the daemon stopped"
    # The daemon back: tbdaq-web follows it, with values taken since (its
    # counters may start again from 0: Prometheus takes that as a reset).
    since=$(now_us)
    DAEMON_STOPPED=
    SPAWN_APPEND=1 start_daemon
    export WEB_SINCE_US=$since
    wait_for "prom_check '$WEB_URL' '$T/t.db' --up 1 --tags '$WEB_TAGS' \
        --buses '$WEB_BUSES'" 15 ||
        fail "after the daemon restarted: $(prom_check "$WEB_URL" "$T/t.db" \
            --up 1 --tags "$WEB_TAGS" --buses "$WEB_BUSES")"
    wait_for "web_check status '$WEB_URL' '$T/t.db' --tags '$WEB_TAGS'" 10 ||
        fail "after the daemon restarted: $(web_check status "$WEB_URL" \
            "$T/t.db" --tags "$WEB_TAGS")"
    unset WEB_SINCE_US
    stop_daemon
    stop_web
}

# web_conf_at PORT: $T/w.conf, the daemon's config with a web group
# listening on 127.0.0.1:PORT and asking for $T/web.users.
web_conf_at() {
    conf_write "$T/w.conf" "commit_interval_ms = 100;" \
        "web = { listen = \"127.0.0.1:$1\"; users_file = \"$T/web.users\"; };"
}

# Basic authentication with users_file (crypt $6$ hashes of openssl
# passwd -6); beyond loopback without it refused, with it a warning
# without TLS (in a network namespace of the case's own with an address
# on a veth interface).
case_web_auth() {
    local pw='horse:battery staple' rc ns
    need_web
    command -v openssl >/dev/null || fail "openssl is needed"
    command -v unshare >/dev/null || fail "unshare is needed (util-linux)"
    web_sensors
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    {
        echo "other:$(openssl passwd -6 'not the one')"
        echo "viewer:$(openssl passwd -6 "$pw")"
    } >"$T/web.users"
    start_daemon
    wait_or_fail "min_readings 3" 15 "not every sensor got 3 readings"
    WEB_CONF_LISTEN=1 start_web web "$T/w.conf"
    web_check auth "$WEB_URL" viewer "$pw" || fail "basic authentication (above)"
    stop_web

    # Beyond loopback, in a network namespace of our own.
    conf_write "$T/n.conf" "commit_interval_ms = 100;" \
        "web = { listen = \"10.99.0.1:8080\"; };"
    conf_write "$T/u.conf" "commit_interval_ms = 100;" \
        "web = { listen = \"10.99.0.1:8080\"; users_file = \"$T/web.users\"; };"
    cat >"$T/ns.sh" <<EOF
set -u
ip link set lo up && ip link add v0 type veth peer name v1 &&
ip addr add 10.99.0.1/24 dev v0 && ip link set v0 up && ip link set v1 up ||
    { echo "SETUP cannot make a veth pair in a network namespace"; exit 0; }
. "$HERE/lib.sh"
T=$T
# try NAME ARGS...: tbdaq-web ARGS; "NAME refused RC" if it exits, or
# "NAME listening" if it accepts connections on 10.99.0.1:8080 (then it is
# left running for the caller, its PID in NSPID).
try() {
    local name=\$1 rc
    shift
    "$(web_bin)" "\$@" >"\$T/ns-\$name.out" 2>"\$T/ns-\$name.err" &
    NSPID=\$!
    for _ in \$(seq 200); do
        pid_running \$NSPID || break
        (exec 3<>/dev/tcp/10.99.0.1/8080) 2>/dev/null && break
        sleep 0.05
    done
    if pid_running \$NSPID; then
        echo "\$name listening"
    else
        wait \$NSPID; rc=\$?
        echo "\$name refused \$rc"
    fi
}
try cmdline -c "$T/t.conf" --listen 10.99.0.1:8080
pid_running \$NSPID && stop_pid \$NSPID
try any -c "$T/t.conf" --listen 0.0.0.0:8080
pid_running \$NSPID && stop_pid \$NSPID
try config -c "$T/n.conf"
pid_running \$NSPID && stop_pid \$NSPID
try users -c "$T/u.conf"
if pid_running \$NSPID; then
    "$WEB_PY" "$WEB_TOOLS/web_check.py" auth http://10.99.0.1:8080 viewer '$pw' &&
        echo "users auth ok"
    stop_pid \$NSPID
fi
EOF
    # As root a network namespace alone; otherwise in a user namespace
    # too, mapped to root there (unshare -rn).
    if [ "$(id -u)" = 0 ]; then ns=-n; else ns=-rn; fi
    timeout 60 unshare "$ns" bash "$T/ns.sh" >"$T/ns.out" 2>&1
    cat "$T/ns.out"
    ! grep -q '^SETUP' "$T/ns.out" || fail "$(grep '^SETUP' "$T/ns.out")"
    for rc in cmdline any config; do
        grep -q "^$rc refused [1-9]" "$T/ns.out" ||
            fail "beyond loopback without users_file ($rc) not refused: $(grep "^$rc " "$T/ns.out")"
        [ -s "$T/ns-$rc.err" ] ||
            fail "beyond loopback without users_file ($rc): no error on stderr"
    done
    grep -q "^users listening" "$T/ns.out" ||
        fail "beyond loopback with users_file: not listening: $(grep '^users ' "$T/ns.out"; tail -2 "$T/ns-users.err")"
    grep -q "^users auth ok" "$T/ns.out" ||
        fail "beyond loopback with users_file: authentication failed (above)"
    grep -qi 'tls' "$T/ns-users.err" ||
        fail "beyond loopback without web.tls: no warning naming TLS: $(head -2 "$T/ns-users.err")"
    echo "refused: $(head -1 "$T/ns-cmdline.err")"
    echo "warned: $(grep -i -m1 tls "$T/ns-users.err")"
    stop_daemon
    # One config for both programs: the daemon takes the web group.
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/w.conf" >/dev/null 2>"$T/e" ||
        fail "tbdaqd -t rejects the config with a web group: $(head -2 "$T/e" | tr '\n' ' ')"
}

# HTTPS with web.tls (a certificate of the case's own CA for 127.0.0.1):
# the status, metrics and basic authentication over TLS; plain HTTP on
# the same port gets nothing served.
case_web_tls() {
    local pw='s3cret over tls' code
    need_web
    web_sensors
    make_certs
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    echo "viewer:$(openssl passwd -6 "$pw")" >"$T/web.users"
    conf_write "$T/w.conf" "commit_interval_ms = 100;" \
        "web = { users_file = \"$T/web.users\"; tls = { cert_file = \"$T/pki/server.crt\"; key_file = \"$T/pki/server.key\"; }; };"
    start_daemon
    wait_or_fail "min_readings 5" 15 "not every sensor got 5 readings"
    start_web web "$T/w.conf"
    WEB_URL=https://127.0.0.1:$WEB_PORT
    export WEB_CA=$T/pki/ca.crt
    code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' --cacert "$WEB_CA" \
        -u "viewer:$pw" "$WEB_URL/api/status")
    [ "$code" = 200 ] || fail "HTTPS /api/status with the CA: $code, want 200"
    code=$(curl -s -o "$T/plain" -w '%{http_code}' --max-time 10 \
        "http://127.0.0.1:$WEB_PORT/api/status")
    [ "$code" != 200 ] || fail "plain HTTP on the TLS port served /api/status"
    ! grep -qs '"sensors"' "$T/plain" || fail "plain HTTP got the status"
    web_check auth "$WEB_URL" viewer "$pw" || fail "authentication over TLS (above)"
    # The checks of the other cases, over TLS with the password.
    WEB_USER="viewer:$pw" web_check status "$WEB_URL" "$T/t.db" \
        --tags "$WEB_TAGS" --buses "$WEB_BUSES" || fail "/api/status over TLS (above)"
    WEB_USER="viewer:$pw" prom_check "$WEB_URL" "$T/t.db" --up 1 \
        --tags "$WEB_TAGS" --buses "$WEB_BUSES" || fail "/metrics over TLS (above)"
    ! grep -qi 'warn.*tls' "$T/web.err" ||
        fail "tbdaq-web warns about TLS with web.tls given: $(grep -i -m1 'warn.*tls' "$T/web.err")"
    stop_daemon
    stop_web
}

# web_fingerprint: sha256, size and mtime (ns) of the database and its
# -wal ("absent" if there is none).
web_fingerprint() {
    local f
    for f in "$T/t.db" "$T/t.db-wal"; do
        if [ -e "$f" ]; then
            echo "$(basename "$f") $(sha256sum <"$f" | cut -d' ' -f1) $(stat -c '%s %.9Y %a' "$f")"
        else
            echo "$(basename "$f") absent"
        fi
    done
}

# web_db_fds PID: "fd flags" of each descriptor of PID open on $T/t.db.
web_db_fds() {
    local fd
    for fd in /proc/"$1"/fd/*; do
        [ "$(readlink "$fd")" = "$T/t.db" ] || continue
        echo "${fd##*/} $(awk '$1 == "flags:" { print $2 }' "/proc/$1/fdinfo/${fd##*/}")"
    done
}

# web_ts_norm FILE: FILE with every ISO 8601 UTC time replaced by TS.
web_ts_norm() {
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TS/g' "$1"
}

# web_fds_readonly: every descriptor tbdaq-web holds on $T/t.db is open
# read-only (O_RDONLY in its flags).
web_fds_readonly() {
    local fds fd fl
    fds=$(web_db_fds "$PID_web")
    [ -n "$fds" ] || echo "tbdaq-web holds no descriptor on t.db now"
    while read -r fd fl; do
        [ -n "$fd" ] || continue
        (((8#$fl & 3) == 0)) ||
            fail "tbdaq-web holds t.db open for writing (fd $fd, flags $fl)"
    done <<<"$fds"
}

# The database untouched: tbdaq-web serves every path over and over with
# the daemon stopped; the database and its WAL keep their bytes and
# mtimes, and tbdaq-web holds the database open read-only.
case_web_readonly() {
    local before after i paths
    need_web
    web_sensors
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 3" 15 "not every sensor got 3 readings"
    web_run RO-1
    stop_daemon
    before=$(web_fingerprint)
    start_web web "$T/t.conf"
    paths="/ /runs /runs/RO-1 /metrics /api/status /nope /runs/nope"
    for i in $(seq 10); do
        for p in $paths; do
            curl -s -o /dev/null --max-time 10 "$WEB_URL$p" ||
                fail "GET $p: curl failed"
        done
    done
    [ "$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$WEB_URL/runs/RO-1")" = 200 ] ||
        fail "/runs/RO-1 is not 200"
    web_fds_readonly
    curl -s -o "$T/web-report.html" --max-time 30 "$WEB_URL/runs/RO-1" ||
        fail "GET /runs/RO-1: curl failed"
    stop_web
    after=$(web_fingerprint)
    echo "before: $before"
    echo "after:  $after"
    if [ "$before" != "$after" ]; then
        # A WAL database read with no -wal left makes SQLite create an
        # empty one: that changes nothing.
        if ! [ "$(head -1 <<<"$before")" = "$(head -1 <<<"$after")" ] ||
            ! grep -q '^t.db-wal absent$' <<<"$before" ||
            ! grep -qE '^t.db-wal [0-9a-f]{64} 0 ' <<<"$after"; then
            fail "tbdaq-web changed the database: before '$before', after '$after'"
        fi
    fi
    # SPEC: /runs/<name> is "the same document as tbdaq report --format
    # html"; the time each was written may differ.
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" report --run RO-1 --format html \
        -o "$T/cli-report.html" 2>"$T/e" ||
        fail "tbdaq report --run RO-1 --format html: $(head -2 "$T/e" | tr '\n' ' ')"
    web_ts_norm "$T/web-report.html" >"$T/web-report.norm"
    web_ts_norm "$T/cli-report.html" >"$T/cli-report.norm"
    cmp -s "$T/web-report.norm" "$T/cli-report.norm" ||
        fail "/runs/RO-1 is not the document tbdaq report writes: $(diff "$T/web-report.norm" "$T/cli-report.norm" | head -4 | tr '\n' ' ' | cut -c1-300)"
}

# Stalled clients (half a request, a body never sent, answers never read)
# never block another client's request.
case_web_slow_client() {
    need_web
    web_sensors
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 3" 15 "not every sensor got 3 readings"
    start_web web "$T/t.conf"
    wait_or_fail web_status_ok 10 "/api/status never answered 200"
    "$WEB_PY" "$WEB_TOOLS/slow_client.py" "$WEB_URL" --stallers 12 \
        --seconds 5 --limit-s 1 || fail "stalled clients (above)"
    web_status_ok || fail "/api/status is not 200 after the stalled clients"
    stop_daemon
    stop_web
}

# chrome NAME ARGS...: headless Chromium (its own profile in $T), output
# in $T/NAME.dom, messages in $T/NAME.chrome; bounded in time.
chrome() {
    local name=$1
    shift
    timeout -k 5 60 chromium --headless --no-sandbox --disable-gpu \
        --disable-dev-shm-usage --no-first-run --disable-extensions \
        --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$T/chrome" --hide-scrollbars \
        "$@" >"$T/$name.dom" 2>"$T/$name.chrome" ||
        fail "chromium ($name) failed: $(tail -3 "$T/$name.chrome" | tr '\n' ' ')"
}

# shoot NAME URL: a screenshot of URL after its scripts ran ($T/NAME.png),
# checked not blank, and the DOM after its scripts ran ($T/NAME.dom).
shoot() {
    chrome "$1-shot" --window-size=1280,1400 --virtual-time-budget="$WEB_VT_MS" \
        --screenshot="$T/$1.png" "$2"
    [ -s "$T/$1.png" ] || fail "chromium wrote no screenshot of $2"
    png_check "$T/$1.png" || fail "the screenshot of $2 is blank (above)"
    chrome "$1" --virtual-time-budget="$WEB_VT_MS" --dump-dom "$2"
    [ -s "$T/$1.dom" ] || fail "chromium dumped no DOM of $2"
}

# A real browser on the live page, the runs page and a report: not blank,
# and after its scripts ran the page holds every sensor and a current
# value; nothing is loaded from another host.
case_web_browser() {
    local tag
    need_web
    command -v chromium >/dev/null || fail "chromium is needed (Debian: chromium)"
    web_sensors
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 5" 15 "not every sensor got 5 readings"
    # Screenshots for the README: a longer run (6 s a segment) draws plots.
    web_run BR-1 "$([ -n "${WEB_SCREENSHOTS:-}" ] && echo 150 || echo 25)"
    web_run BR-2
    start_web web "$T/t.conf"
    wait_or_fail web_status_ok 10 "/api/status never answered 200"
    shoot live "$WEB_URL/"
    web_check live "$WEB_URL" "$T/t.db" --tags "$WEB_TAGS" \
        --buses "$WEB_BUSES" --file "$T/live.dom" || fail "the live page in Chromium (above)"
    # "usable on a phone": the page sets a viewport for narrow screens.
    grep -qiE '<meta[^>]*name="?viewport' "$T/live.dom" ||
        fail "the live page has no <meta name=\"viewport\">: not laid out for a phone"
    shoot runs "$WEB_URL/runs"
    { grep -q 'BR-1' "$T/runs.dom" && grep -q 'BR-2' "$T/runs.dom"; } ||
        fail "the runs page in Chromium does not name BR-1 and BR-2"
    shoot report "$WEB_URL/runs/BR-1"
    for tag in ${WEB_TAGS//,/ } BR-1; do
        grep -q -- "$tag" "$T/report.dom" ||
            fail "the report in Chromium does not name $tag"
    done
    web_check runs "$WEB_URL" "$T/t.db" --tags "$WEB_TAGS" ||
        fail "/runs and the reports (above)"
    # Every request Chromium made for the live page went to tbdaq-web, and
    # the page refreshes itself: a meta refresh, or in 30 s (virtual) it
    # asked again (a page reloading inside the budget stalls Chromium, so
    # a meta refresh is taken as it is).
    if grep -qiE '<meta[^>]*http-equiv="?refresh' "$T/live.dom"; then
        chrome netlog --virtual-time-budget="$WEB_VT_MS" \
            --log-net-log="$T/net.json" --dump-dom "$WEB_URL/"
        web_check netlog "$WEB_URL" "$T/net.json" ||
            fail "the live page's requests (above)"
    else
        chrome netlog --virtual-time-budget=30000 \
            --log-net-log="$T/net.json" --dump-dom "$WEB_URL/"
        web_check netlog "$WEB_URL" "$T/net.json" --min-requests 3 ||
            fail "the live page's requests (above)"
    fi
    if [ -n "${WEB_SCREENSHOTS:-}" ]; then
        { mkdir -p "$WEB_SCREENSHOTS" &&
            cp "$T/live.png" "$WEB_SCREENSHOTS/live.png" &&
            cp "$T/report.png" "$WEB_SCREENSHOTS/report.png"; } ||
            fail "cannot copy the screenshots to $WEB_SCREENSHOTS"
        echo "screenshots in $WEB_SCREENSHOTS"
    fi
    stop_daemon
    stop_web
}

EXTRA_CASES+=(web_live web_metrics web_auth web_tls web_readonly
    web_slow_client web_browser)
