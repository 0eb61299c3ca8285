#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of `tbdaq export` (issue 4: constant memory for 10 million
# readings, at least 1 million rows/s to a file). tbdaqd runs for a moment
# to create the database's schema and sensors (its bus points at a closed
# port: it needs no simulator), then sqlite3 generates the readings with a
# recursive CTE: 10 sensors read every 100 ms, values that need 15 to 17
# digits, one reading in a hundred a comm_error. Then the whole database is
# exported as CSV (with its manifest) and as JSON, and a tenth of it as
# CSV, each timed, with its peak resident memory: the same peak for a
# tenth and for all of it is what constant memory means.
#
#   tests/bench/export.sh BUILD_DIR [ROWS]
#
# Prints the figures; fails only if something could not run or an export
# has the wrong number of rows. Not part of make check. BENCH_KEEP=1 keeps
# the temp dir (and its database) for profiling.
set -u
export LC_ALL=C

BUILD=${1:-}
ROWS=${2:-${BENCH_EXPORT_ROWS:-10000000}}
if [ -z "$BUILD" ] || [ $# -gt 2 ]; then
    echo "usage: $0 BUILD_DIR [ROWS]" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd) || exit 2
for p in "$BUILD/tbdaqd" "$BUILD/tbdaq"; do
    [ -x "$p" ] || { echo "$0: no program $p" >&2; exit 1; }
done
command -v sqlite3 >/dev/null || { echo "$0: sqlite3 is needed" >&2; exit 1; }

# Sensors of the generated database, and the time between one sensor's
# readings (us).
SENSORS=10
INTERVAL_US=100000
# The readings start here: 2026-11-25T00:00:00Z.
BASE_US=1795564800000000

T=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-bench-export.XXXXXX")
DAEMON=
cleanup() {
    [ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null
    if [ -n "${BENCH_KEEP:-}" ]; then
        echo "kept $T"
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
die() {
    echo "$0: $*" >&2
    exit 1
}

now_ns() { date +%s%N; }

# The schema and the sensors, from the daemon itself.
{
    echo 'site = "bench-export";'
    echo "database = \"$T/t.db\";"
    echo 'buses = ( { name = "plant"; type = "tcp"; host = "127.0.0.1"; port = 1; timeout_ms = 100; } );'
    echo 'sensors = ('
    for ((i = 1; i <= SENSORS; i++)); do
        sep=,
        ((i == SENSORS)) && sep=
        echo "  { id = \"FT-$i\"; kind = \"flow\"; bus = \"plant\"; unit_id = 1; table = \"holding\"; address = $((i * 2)); type = \"float32\"; interval_ms = 100; }$sep"
    done
    echo ');'
} >"$T/t.conf"
"$BUILD/tbdaqd" -c "$T/t.conf" >"$T/daemon.log" 2>&1 &
DAEMON=$!
for ((i = 0; i < 200; i++)); do
    n=$(sqlite3 -cmd ".timeout 2000" "$T/t.db" "SELECT count(*) FROM sensors;" 2>/dev/null)
    [ "${n:-0}" = "$SENSORS" ] && break
    kill -0 "$DAEMON" 2>/dev/null || die "tbdaqd exited: $(tail -3 "$T/daemon.log")"
    sleep 0.05
done
[ "${n:-0}" = "$SENSORS" ] || die "tbdaqd made no sensors table within 10 s"
kill -TERM "$DAEMON"
wait "$DAEMON"
DAEMON=

echo "generating $ROWS readings with sqlite3 ..."
t0=$(now_ns)
sqlite3 "$T/t.db" "
    DELETE FROM readings;
    BEGIN;
    INSERT INTO readings (sensor_id, ts_us, value, quality, error, raw)
    WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n
                            WHERE i < $ROWS - 1)
    SELECT s.id, $BASE_US + (i / $SENSORS) * $INTERVAL_US + (i % $SENSORS) * 37,
           CASE WHEN i % 100 = 99 THEN NULL
                ELSE 20.0 + ((i * 7919) % 100003) / 7.0 END,
           CASE WHEN i % 100 = 99 THEN 'comm_error' ELSE 'good' END,
           CASE WHEN i % 100 = 99 THEN 'Connection timed out' END,
           '41a0 0000'
    FROM n JOIN sensors s ON s.tag = 'FT-' || (i % $SENSORS + 1);
    COMMIT;" || die "sqlite3 could not generate the readings"
t1=$(now_ns)
n=$(sqlite3 "$T/t.db" "SELECT count(*) FROM readings;")
[ "$n" = "$ROWS" ] || die "generated $n readings, want $ROWS"
echo "generated in $(((t1 - t0) / 1000000)) ms; database $(($(stat -c %s "$T/t.db") / 1048576)) MiB"

# measure NAME ROWS_WANT OUTPUT ARGS...: runs tbdaq ARGS, prints rows/s
# and the peak resident memory (VmHWM), checks the row count.
measure() {
    local name=$1 want=$2 out=$3 pid hwm=0 h t0 t1 rc got ms
    shift 3
    t0=$(now_ns)
    "$BUILD/tbdaq" -d "$T/t.db" "$@" 2>"$T/err" &
    pid=$!
    # VmHWM is the process's own high-water mark: polled until it exits,
    # the last value read is the peak.
    while kill -0 "$pid" 2>/dev/null; do
        h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        [ -n "$h" ] && hwm=$h
        sleep 0.02
    done
    wait "$pid"
    rc=$?
    t1=$(now_ns)
    [ "$rc" = 0 ] || die "$name: tbdaq exited $rc: $(head -3 "$T/err")"
    case $out in
    *.csv) got=$(($(wc -l <"$out") - 1)) ;;
    *.json) got=$(grep -c '^{"seq":' "$out") ;;
    esac
    [ "$got" = "$want" ] || die "$name: $got rows, want $want"
    ms=$(((t1 - t0) / 1000000))
    printf '%-34s %9d rows %7d ms %10d rows/s  %5d MiB file  peak RSS %6d KiB\n' \
        "$name" "$got" "$ms" "$((got * 1000 / (ms > 0 ? ms : 1)))" \
        "$(($(stat -c %s "$out") / 1048576))" "$hwm"
    rm -f "$out"
}

last_us=$((BASE_US + (ROWS / SENSORS + 1) * INTERVAL_US))
# whole time slots: the division comes first on purpose
# shellcheck disable=SC2017
tenth_to=$((BASE_US + ROWS / SENSORS / 10 * INTERVAL_US))
iso() { date -u -d "@$(($1 / 1000000))" +%Y-%m-%dT%H:%M:%SZ; }

# Warm the page cache, so that the first figure is not the disk's.
cat "$T/t.db" >/dev/null
measure "csv, a tenth (--from/--to)" $((ROWS / 10)) "$T/tenth.csv" \
    export --from "$(iso $BASE_US)" --to "$(iso $tenth_to)" -o "$T/tenth.csv"
measure "csv, all (-o, with manifest)" "$ROWS" "$T/all.csv" \
    export --from "$(iso $BASE_US)" --to "$(iso $last_us)" -o "$T/all.csv"
measure "json, all (-o)" "$ROWS" "$T/all.json" \
    export --from "$(iso $BASE_US)" --to "$(iso $last_us)" --format json \
    -o "$T/all.json"
