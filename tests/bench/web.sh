#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of tbdaq-web (issue 16): /metrics and /api/status under 5 ms
# with 1,000 sensors, the live page's data (the page, and /api/status with
# the trends its script fetches) under 50 ms. The simulator serves 1,000
# float32 sensors on one unit, tbdaqd reads them every second for a while
# (no broker), and tbdaq-web serves them; each path is then fetched
# BENCH_WEB_N times (default 200) with curl, one after the other, and the
# median and 95th percentile of curl's total time (connection included),
# and the median of the server's own render time (its Server-Timing
# header), are printed beside the target, judged on the median total.
#
#   tests/bench/web.sh BUILD_DIR
#
# Prints the figures; fails only if something could not run or a path did
# not answer 200. Never fails on timing. KEEP=1 keeps the work directory.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ $# -gt 1 ]; then
    echo "usage: $0 BUILD_DIR" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd) || exit 2
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ME=web.sh
# shellcheck source=tests/bench/lib.sh
. "$TOP/tests/bench/lib.sh"
# After lib.sh, which empties W (its workloads' directory).
WORK=$(mktemp -d) || exit 1
W=$WORK
trap cleanup EXIT

SENSORS=1000
N=${BENCH_WEB_N:-200}
# How long tbdaqd records before the figures (s): every sensor has
# readings and the trend has a few buckets.
RECORD_S=${BENCH_WEB_RECORD_S:-30}

for p in tbdaqd tbdaq-web tbdaq-sim; do
    [ -x "$BUILD/$p" ] || die "no program $BUILD/$p (run make first)"
done
command -v curl >/dev/null || die "no curl (Debian: curl)"

# A free port for tbdaq-web on 127.0.0.1.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 40000))
        port_open "$p" || { echo "$p"; return 0; }
    done
    return 1
}

start_sim 1
WEB_PORT=$(free_port) || die "no free port"
awk -v n="$SENSORS" -v port="$SIM_PORT" -v db="$W/web.db" \
    -v base="$SIM_BULK_BASE" -v wport="$WEB_PORT" 'BEGIN {
    print "site = \"bench\";"
    print "database = \"" db "\";"
    print "web = { listen = \"127.0.0.1:" wport "\"; };"
    print "buses = ({ name = \"u01\"; type = \"tcp\"; host = \"127.0.0.1\"; port = " port "; timeout_ms = 1000; });"
    print "sensors = ("
    for (k = 0; k < n; k++)
        printf "  { id = \"B%04d\"; kind = \"generic\"; unit = \"x\"; bus = \"u01\"; unit_id = 1; table = \"input\"; address = %d; type = \"float32\"; interval_ms = 1000; }%s\n",
            k, base + 2 * k, k < n - 1 ? "," : ""
    print ");"
}' >"$W/web.conf"
"$BUILD/tbdaqd" -t -c "$W/web.conf" >/dev/null 2>"$W/check.err" ||
    die "the generated config is invalid: $(head -3 "$W/check.err")"
spawn tbdaqd "$BUILD/tbdaqd" -c "$W/web.conf"
wait_for "[ -s '$W/web.db' ] || ! pid_running $PID_tbdaqd" "$START_S" ||
    die "tbdaqd made no database"
say "tbdaqd records $SENSORS sensors at 1 s for ${RECORD_S} s ..."
watch_run "$RECORD_S"
spawn web "$BUILD/tbdaq-web" -c "$W/web.conf"
wait_for "port_open $WEB_PORT || ! pid_running $PID_web" "$START_S" ||
    die "tbdaq-web did not listen"
pid_running "$PID_web" || die "tbdaq-web exited at start: $(tail -3 "$W/web.err")"

# fetch PATH TARGET_MS: N requests; prints the median and p95.
fetch() {
    local path=$1 target=$2 codes
    for _ in $(seq "$N"); do
        curl -s -o "$W/body" \
            -w '%{http_code} %{time_total} %header{server-timing}\n' \
            "http://127.0.0.1:$WEB_PORT$path"
    done >"$W/times"
    codes=$(awk '$1 != 200' "$W/times" | head -1)
    [ -z "$codes" ] || { STATUS=1; err "$path answered $codes"; }
    # curl's total (connection, request, response), and the server's own
    # time to lock the model and render (its Server-Timing header).
    awk '{ sub(/.*dur=/, "", $3); print $3 + 0 }' "$W/times" | sort -n \
        >"$W/render"
    sort -n -k2 "$W/times" | awk -v rmed="$(awk '{ v[NR] = $1 }
        END { print v[int((NR + 1) / 2)] }' "$W/render")" -v path="$path" -v t="$target" \
        -v bytes="$(wc -c <"$W/body")" '
        { v[NR] = $2 * 1000 }
        END {
            med = v[int((NR + 1) / 2)]; p95 = v[int(NR * 0.95)]
            printf "  %-20s total median %6.2f ms p95 %6.2f ms; render median %5.2f ms  (target %d ms: %s)  %d bytes\n",
                path, med, p95, rmed, t,
                med < t ? "met" : "MISSED", bytes
        }'
}

say "tbdaq-web, $SENSORS sensors, $N requests each, load $(load_avg):"
fetch /metrics 5
fetch /api/status 5
fetch "/api/status?trend=1" 50
fetch / 50
say "  tbdaq-web resident: $(status_mib "$PID_web" VmRSS) MiB"
exit "$STATUS"
