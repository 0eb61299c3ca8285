# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Smoke checks of tbdaq-web by its own author (the integration tests from
# SPEC are cases_web.sh, written blind to the code). Sourced by run.sh
# after lib.sh; each case_NAME runs in its own subshell with $T set.

# web_start CONF [ARGS...]: tbdaq-web on a free loopback port (another
# tried if the one picked is taken meanwhile); sets WEB_PORT and PID_web.
web_start() {
    local conf=$1 try
    shift
    [ -x "$BUILD/tbdaq-web" ] || fail "no program $BUILD/tbdaq-web"
    for try in 1 2 3 4 5; do
        WEB_PORT=$((20000 + RANDOM % 40000))
        port_open "$WEB_PORT" && continue
        spawn web "$BUILD/tbdaq-web" -c "$conf" \
            --listen "127.0.0.1:$WEB_PORT" "$@"
        wait_or_fail "grep -q 'listening on' '$T/web.err' ||
            ! pid_running $PID_web" 20 "tbdaq-web did not start"
        pid_running "$PID_web" && return 0
        grep -q 'cannot listen' "$T/web.err" ||
            fail "tbdaq-web exited at start: $(tail -3 "$T/web.err")"
    done
    fail "no free port for tbdaq-web in 5 tries"
}

# web_get PATH: the status code, the body in $T/body.
web_get() {
    curl -s -m 10 -o "$T/body" -w '%{http_code}' \
        "http://127.0.0.1:$WEB_PORT$1"
}

# A sample of /metrics: the value of the line starting with $1.
web_metric() {
    web_get /metrics >/dev/null
    awk -v k="$1" 'index($0, k " ") == 1 { print $NF }' "$T/body"
}

# tbdaq-web beside a running daemon: /metrics counts readings as they
# are recorded, the paths answer what SPEC says (404, 400, 405), the
# daemon stopped is tbdaq_up 0 while the page keeps serving, and an
# address beyond loopback without users_file is refused (exit 1).
case_webserver_smoke() {
    local n1 n2 code
    command -v curl >/dev/null || fail "no curl"
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    conf_sensor 'id = "F1"; kind = "flow"; bus = "plant"; unit_id = 1; table = "input"; address = 20; type = "float32"; interval_ms = 200;'
    conf_write "$T/t.conf"
    start_daemon
    web_start "$T/t.conf"
    wait_or_fail '[ "$(web_metric tbdaq_up)" = 1 ]' 20 "tbdaq_up never 1"
    n1=$(web_metric 'tbdaq_readings_total{sensor="F1",quality="good"}')
    wait_or_fail '[ "$(web_metric '"'"'tbdaq_readings_total{sensor="F1",quality="good"}'"'"')" -gt "${n1:-0}" ]' 20 \
        "tbdaq_readings_total did not grow from $n1"
    n2=$(web_metric 'tbdaq_readings_total{sensor="F1",quality="good"}')
    echo "readings_total good: $n1 then $n2"
    for p in "/ 200" "/runs 200" "/api/status 200" "/nope 404" \
        "/runs/nope 404" "/runs/a%20b 400" "/%zz 400" \
        "/api/status?trend=2 400" "/metrics?x=1 400"; do
        code=$(web_get "${p% *}")
        [ "$code" = "${p#* }" ] || fail "${p% *}: $code, want ${p#* }"
    done
    code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST \
        "http://127.0.0.1:$WEB_PORT/")
    [ "$code" = 405 ] || fail "POST /: $code, want 405"
    grep -q '"id":"F1"' <(web_get /api/status >/dev/null; cat "$T/body") ||
        fail "/api/status does not hold F1"
    stop_daemon
    wait_or_fail '[ "$(web_metric tbdaq_up)" = 0 ]' 20 \
        "tbdaq_up still not 0 after the daemon stopped"
    [ "$(web_get /)" = 200 ] || fail "/ stopped answering with the daemon"
    stop_pid "$PID_web"
    [ "$STOP_RC" = 0 ] || fail "tbdaq-web exited $STOP_RC on SIGTERM"
    "$BUILD/tbdaq-web" -c "$T/t.conf" --listen 0.0.0.0:1 \
        >"$T/wide.out" 2>"$T/wide.err"
    code=$?
    [ "$code" = 1 ] && grep -q users_file "$T/wide.err" ||
        fail "beyond loopback without users_file: exit $code, $(cat "$T/wide.err")"
}

EXTRA_CASES+=(webserver_smoke)

# tbdaq-web's unit as make install writes it: systemd-analyze verify
# accepts it (pointed at the installed program) and rates its exposure
# 2.0 or less.
case_webserver_unit() {
    local d=$T/root unit score
    systemd-analyze --help 2>&1 | grep -q -- '--offline' ||
        fail "this systemd-analyze has no --offline (systemd >= 250 needed)"
    mkdir "$d" "$T/v"
    imake install "$d" # cases_install.sh's
    unit=$d/usr/lib/systemd/system/tbdaq-web.service
    sed "s|^ExecStart=/usr/bin/|ExecStart=$d/usr/bin/|" "$unit" \
        >"$T/v/tbdaq-web.service"
    timeout 15 systemd-analyze verify "$T/v/tbdaq-web.service" \
        >"$T/verify.out" 2>&1 ||
        fail "systemd-analyze verify: $(head -5 "$T/verify.out" | tr '\n' ' ')"
    timeout 15 systemd-analyze security --offline=yes "$unit" \
        >"$T/security.out" 2>&1 || fail "systemd-analyze security failed"
    score=$(sed -n 's/.*exposure level for tbdaq-web.service: \([0-9.]*\).*/\1/p' \
        "$T/security.out")
    echo "exposure $score"
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
        fail "exposure '$score', want 2.0 or less"
}

EXTRA_CASES+=(webserver_unit)
