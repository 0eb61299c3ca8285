#!/usr/bin/env bash
# make demo: start the simulator, a mosquitto broker and the daemon on
# 127.0.0.1, and show the live MQTT feed and the database's status, until
# Ctrl-C (or DEMO_SECONDS pass).
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p demo
rm -f demo/tbdaq.db demo/tbdaq.db-wal demo/tbdaq.db-shm
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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
mosquitto -v -c demo/mosquitto.conf >demo/mosquitto.log 2>&1 &
pids+=($!)
wait_line demo/mosquitto.log 'Opening ipv4 listen socket on port 18830' \
    "the broker did not start (port 18830 busy?)" demo/mosquitto.log

"$build/tbdaq-sim" --port 5020 --units 2 >demo/sim.out 2>demo/sim.log &
pids+=($!)
wait_line demo/sim.out 'listening on' \
    "the simulator did not start (port 5020 busy?)" demo/sim.log

mosquitto_sub -h 127.0.0.1 -p 18830 -v -t 'tbdaq/#' &
pids+=($!)
"$build/tbdaqd" -c config/demo.conf 2>demo/tbdaqd.log &
daemon=$!
pids+=("$daemon")
echo "demo: simulator, broker and daemon running; logs in demo/;" \
    "the live feed follows; Ctrl-C stops" >&2
end=$(($(date +%s) + ${DEMO_SECONDS:-1000000000}))
n=0
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 1
    kill -0 "$daemon" 2>/dev/null || {
        echo "demo: tbdaqd stopped:" >&2
        cat demo/tbdaqd.log >&2
        exit 1
    }
    # Every 10 s, what the database holds.
    if [ $((++n % 10)) = 3 ]; then
        echo "--- tbdaq status ---"
        "$build/tbdaq" -d demo/tbdaq.db status || true
        echo "---"
    fi
done
echo "--- tbdaq status ---"
"$build/tbdaq" -d demo/tbdaq.db status
