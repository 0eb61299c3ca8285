#!/usr/bin/env bash
# make demo: start the simulator and the daemon on 127.0.0.1 and show the
# readings arriving in the database, until Ctrl-C (or DEMO_SECONDS pass).
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

"$build/tbdaq-sim" --port 5020 --units 2 >demo/sim.out 2>demo/sim.log &
pids+=($!)
for _ in $(seq 100); do
    grep -q 'listening on' demo/sim.out 2>/dev/null && break
    sleep 0.05
done
grep -q 'listening on' demo/sim.out || {
    echo "demo: the simulator did not start (port 5020 busy?):" >&2
    cat demo/sim.log >&2
    exit 1
}
"$build/tbdaqd" -c config/demo.conf 2>demo/tbdaqd.log &
pids+=($!)
echo "demo: simulator and daemon running; logs in demo/; Ctrl-C stops"
end=$(( $(date +%s) + ${DEMO_SECONDS:-1000000000} ))
while [ "$(date +%s)" -lt "$end" ]; do
    sleep 1
    kill -0 "${pids[1]}" 2>/dev/null || {
        echo "demo: tbdaqd stopped:" >&2; cat demo/tbdaqd.log >&2; exit 1; }
    [ -t 1 ] && printf '\033[H\033[2J'
    date -u +"%Y-%m-%dT%H:%M:%SZ"
    "$build/tbdaq" -d demo/tbdaq.db status || true
    echo
done
