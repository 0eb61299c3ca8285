#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Benchmark of `tbdaq report` (issue 16: the report of a 24-hour run of 20
# sensors at 1 s, 1.7 million readings, under 5 s in constant memory).
# build/bench/report_gen writes the run through the store (a chain that
# verifies, three segments, a unit silent for ten minutes); then the
# report is written as JSON and as HTML, each timed with its peak
# resident memory, and once more for a run a tenth as long: the same peak
# for both is what constant memory means.
#
#   tests/bench/report.sh BUILD_DIR [SENSORS [HOURS]]
#
# Prints the figures beside the targets; fails only if something could
# not run. Not part of make check. BENCH_KEEP=1 keeps the temp dir.
set -u
export LC_ALL=C

BUILD=${1:-}
SENSORS=${2:-20}
HOURS=${3:-24}
if [ -z "$BUILD" ] || [ $# -gt 3 ]; then
    echo "usage: $0 BUILD_DIR [SENSORS [HOURS]]" >&2
    exit 2
fi
BUILD=$(cd "$BUILD" && pwd) || exit 2
for p in "$BUILD/tbdaq" "$BUILD/bench/report_gen"; do
    [ -x "$p" ] || { echo "$0: no program $p (make $p)" >&2; exit 1; }
done

# Targets (issue 16): seconds for the whole report.
TARGET_S=5

T=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-bench-report.XXXXXX")
cleanup() {
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

# measure NAME DB OUT ARGS...: runs tbdaq -d DB ARGS, prints its time
# and peak resident memory (VmHWM polled until it exits).
measure() {
    local name=$1 db=$2 out=$3 pid hwm=0 h t0 t1 rc ms
    shift 3
    t0=$(now_ns)
    "$BUILD/tbdaq" -d "$db" "$@" -o "$out" 2>"$T/err" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        h=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        [ -n "$h" ] && hwm=$h
        sleep 0.02
    done
    wait "$pid"
    rc=$?
    t1=$(now_ns)
    [ "$rc" = 0 ] || die "$name: tbdaq exited $rc: $(head -3 "$T/err")"
    ms=$(((t1 - t0) / 1000000))
    printf '%-36s %8d ms (target %d ms)  peak RSS %6d KiB  %6d KiB out\n' \
        "$name" "$ms" $((TARGET_S * 1000)) "$hwm" \
        $(($(stat -c %s "$out") / 1024))
}

gen() {
    local t0 t1
    t0=$(now_ns)
    "$BUILD/bench/report_gen" "$1" "$SENSORS" "$2" || die "report_gen failed"
    t1=$(now_ns)
    echo "  built in $(((t1 - t0) / 1000000)) ms; database $(($(stat -c %s "$1") / 1048576)) MiB"
}

echo "report: building a run of $SENSORS sensors at 1 s over $HOURS h ..."
gen "$T/full.db" "$HOURS"
short=$((HOURS / 10 > 0 ? HOURS / 10 : 1))
echo "report: and one over $short h ..."
gen "$T/short.db" "$short"
# warm the page cache: the first figure is then not the disk's
cat "$T/full.db" "$T/short.db" >/dev/null
measure "report json, ${HOURS} h" "$T/full.db" "$T/full.json" \
    report --run BENCH --compare FT-001=FT-002 --format json
measure "report html, ${HOURS} h" "$T/full.db" "$T/full.html" \
    report --run BENCH --compare FT-001=FT-002
measure "report html, ${short} h" "$T/short.db" "$T/short.html" \
    report --run BENCH --compare FT-001=FT-002
readings=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(s["stats"]["readings"] for s in r["sensors"]), r["chain"]["verify"]["ok"])' "$T/full.json" 2>/dev/null)
echo "report: the ${HOURS} h report covers $readings (readings, chain verified)"
