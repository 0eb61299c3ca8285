#!/usr/bin/env bash
# make demo: start the simulator, a mosquitto broker and the daemon on
# 127.0.0.1, and show the database's status with the newest MQTT messages
# every few seconds, until Ctrl-C (or DEMO_SECONDS pass). On a terminal the
# screen is redrawn in place; otherwise each view follows the last.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p demo
rm -f demo/tbdaq.db demo/tbdaq.db-wal demo/tbdaq.db-shm demo/feed.log
# Seconds between two views of the status.
every=${DEMO_EVERY:-$([ -t 1 ] && echo 2 || echo 10)}

# Started in this order, each in a session of its own (setsid), so that
# Ctrl-C reaches this script alone and not the broker at the same time as
# the daemon; stopped in reverse: the daemon first, which commits and
# publishes what it took and says offline while the broker is still
# there. Each gets 10 s (the daemon needs at most 5) before SIGKILL.
pids=()
cleanup() {
    local i pid
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        pid=${pids[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        timeout 10 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

# Waits up to 5 s for a line in a file; says what failed otherwise.
wait_line() {
    for _ in $(seq 100); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "demo: $3; its log:" >&2
    cat "$4" >&2
    exit 1
}

printf 'listener 18830 127.0.0.1\nallow_anonymous true\n' >demo/mosquitto.conf
setsid mosquitto -v -c demo/mosquitto.conf >demo/mosquitto.log 2>&1 &
pids+=($!)
wait_line demo/mosquitto.log 'Opening ipv4 listen socket on port 18830' \
    "the broker did not start (port 18830 busy?)" demo/mosquitto.log

setsid "$build/tbdaq-sim" --port 5020 --units 2 >demo/sim.out 2>demo/sim.log &
pids+=($!)
wait_line demo/sim.out 'listening on' \
    "the simulator did not start (port 5020 busy?)" demo/sim.log

setsid mosquitto_sub -h 127.0.0.1 -p 18830 -v -t 'tbdaq/#' >demo/feed.log &
pids+=($!)
setsid "$build/tbdaqd" -c config/demo.conf 2>demo/tbdaqd.log &
daemon=$!
pids+=("$daemon")

show() {
    echo "--- tbdaq -c config/demo.conf status ($(date +%T))"
    "$build/tbdaq" -c config/demo.conf status || true
    echo
    echo "--- the newest MQTT messages (all in demo/feed.log)"
    tail -n 4 demo/feed.log | cut -c1-100
}

echo "demo: simulator, broker and daemon running; logs in demo/;" \
    "Ctrl-C stops" >&2
end=$(($(date +%s) + ${DEMO_SECONDS:-1000000000}))
next=$(($(date +%s) + 3))
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 0.5
    kill -0 "$daemon" 2>/dev/null || {
        echo "demo: tbdaqd stopped:" >&2
        cat demo/tbdaqd.log >&2
        exit 1
    }
    [ "$(date +%s)" -ge "$next" ] || continue
    next=$(($(date +%s) + every))
    if [ -t 1 ]; then
        view=$(show)
        printf '\033[H\033[2J%s\n' "$view"
    else
        show
        echo
    fi
done
show
