# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 13, the read snapshot (store_snapshot_begin()):
# `tbdaq export` reads everything it writes (the manifest's counts, every
# pass over the rows) in one snapshot of the database, so an export of a
# window the daemon is committing into still agrees with its manifest.
# Sourced by run.sh after lib.sh; uses tbq (cases_audit.sh). Each case_NAME
# runs in its own subshell with $T set.

# Rounds of exports (CSV, JSON to a file, JSON to stdout) in a row that
# must each agree with their manifest. Without the snapshot, about one
# JSON export in fifteen sees a commit land between its counts and its
# rows (an internal error), so ten rounds catch it most of the time.
SNAPSHOT_EXPORTS=10

# snapshot_counted FILE: the sum of every "counts" object's numbers in
# FILE's manifest.
snapshot_counted() {
    grep -o '"counts":{[^}]*}' "$1" | grep -o ':[0-9]*' | tr -d ':' |
        awk '{ n += $1 } END { print n + 0 }'
}

# snapshot_rows FILE: the manifest's "rows" in FILE.
snapshot_rows() {
    grep -o '"rows":[0-9]*' "$1" | head -1 | cut -d: -f2
}

# snapshot_check_json FILE WHAT: FILE (an export's JSON) holds as many
# readings as its manifest's rows and counts; prints the number.
snapshot_check_json() {
    local n man counted
    n=$(grep -c '^{"seq":' "$1")
    man=$(snapshot_rows "$1")
    counted=$(snapshot_counted "$1")
    if [ "$n" != "$man" ] || [ "$n" != "$counted" ]; then
        fail "$2: $n readings, the manifest says rows $man, counts $counted"
    fi
    echo "$n"
}

# Two 10 ms sensors, committed every 20 ms (200 readings/s); the window
# runs from before the first reading to a minute ahead, so that the daemon
# commits into it while each export reads it. Every CSV has as many rows
# as its manifest's rows and counts; every JSON (to a file and to stdout)
# as many readings as its manifest's rows and counts.
case_export_snapshot() {
    local from to i seq0 seq1 rows man counted n
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor S1 plant 1 holding flow 20 10
    sim_sensor S2 plant 1 input pressure 0 10
    from=$(date -u -d "-5 seconds" +%Y-%m-%dT%H:%M:%SZ)
    to=$(date -u -d "+60 seconds" +%Y-%m-%dT%H:%M:%SZ)
    conf_write "$T/t.conf" "commit_interval_ms = 20;"
    start_daemon
    TAGS="S1 S2" wait_or_fail "min_readings 200" 20 \
        "fewer than 200 readings per sensor"
    seq0=$(sql "SELECT max(seq) FROM readings;")
    for ((i = 1; i <= SNAPSHOT_EXPORTS; i++)); do
        tbq export --from "$from" --to "$to" -o "$T/w.csv"
        [ "$RC" = 0 ] || fail "export $i (CSV): exit $RC: $(head -2 "$T/e")"
        rows=$(($(wc -l <"$T/w.csv") - 1))
        man=$(snapshot_rows "$T/w.csv.manifest.json")
        counted=$(snapshot_counted "$T/w.csv.manifest.json")
        if [ "$rows" != "$man" ] || [ "$rows" != "$counted" ]; then
            fail "export $i (CSV): $rows rows, the manifest says rows $man, counts $counted"
        fi

        tbq export --from "$from" --to "$to" --format json -o "$T/w.json"
        [ "$RC" = 0 ] || fail "export $i (JSON): exit $RC: $(head -2 "$T/e")"
        n=$(snapshot_check_json "$T/w.json" "export $i (JSON)") || exit 1

        tbq export --from "$from" --to "$to" --format json
        [ "$RC" = 0 ] || fail "export $i (JSON, stdout): exit $RC: $(head -2 "$T/e")"
        snapshot_check_json "$T/o" "export $i (JSON, stdout)" >/dev/null
        echo "export $i: CSV $rows rows, JSON $n readings, each as counted"
    done
    seq1=$(sql "SELECT max(seq) FROM readings;")
    # the exports ran while the daemon committed into their window
    ((seq1 > seq0)) || fail "no reading was committed during the exports"
    echo "$((seq1 - seq0)) readings committed during the exports"
}

EXTRA_CASES+=(export_snapshot)
