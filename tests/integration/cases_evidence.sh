# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 11, "Evidence": a sensor's description is
# kept per version (SPEC Evidence, "Self-describing"), so that a config
# change relabels no reading taken before it, and the descriptions are
# under the chain. Sourced by run.sh after lib.sh (and the other case
# files: tbq, expect, window_of and check_csv are cases_audit.sh's); each
# case_NAME runs in its own subshell with $T set.

# evid_conf UNIT SCALE CAL: the config of these cases, P1's unit, scale
# and calibration as given (CAL: a calibration setting, or empty).
evid_conf() {
    CONF_BUSES=()
    CONF_SENSORS=()
    conf_tcp_bus plant
    conf_sensor 'id = "F1"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 20; type = "float32"; interval_ms = 50;'
    conf_sensor "id = \"P1\"; kind = \"pressure\"; unit = \"$1\"; bus = \"plant\"; unit_id = 1; table = \"input\"; address = 100; type = \"int16\"; scale = $2; interval_ms = 50; $3"
    printf '# included by t.conf\nretention_days = 0;\n' >"$T/extra.conf"
    conf_write "$T/t.conf" "commit_interval_ms = 50;" '@include "extra.conf"'
    TAGS="F1 P1"
}

# evid_run NAME: records a run of NAME with at least 5 readings of each
# sensor, and waits until it is sealed.
evid_run() {
    local started
    tbq run start "$1"
    expect 0 "" "run start $1"
    started=$(sql "SELECT started_us FROM runs WHERE name = '$1';")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM (SELECT 1 FROM readings
        WHERE ts_us >= $started GROUP BY sensor_id HAVING count(*) >= 5);\") -ge 2 ]" \
        15 "run $1 got no 5 readings of each sensor"
    tbq run stop "$1"
    expect 0 "" "run stop $1"
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = '$1'
        AND chain_head IS NOT NULL;\")\" ]" 10 "run $1 was not sealed"
}

# A reload changes P1's unit, scale and calibration between two runs: R1
# exports as it did before the change (rows and manifest), a window over
# both lists P1 once per version with its span and each row with its
# version's unit, and a description changed behind the daemon's back
# (triggers dropped, as a determined tamperer would) fails verify, naming
# the sensor and version.
case_evidence_versions() {
    local from to r2to m n u1 u2 seq unit want ts raw val when
    start_sim --port 0 --units 1
    evid_conf bar 0.01 ""
    start_daemon
    wait_or_fail "min_readings 3" 15 "no readings"
    evid_run R1
    tbq export --run R1 -o "$T/r1_before.csv"
    expect 0 "" "export R1 before the change"

    cp "$T/t.conf" "$T/r1.conf"
    # unit, scale and calibration change: P1's version 2
    evid_conf kPa 1.0 'calibration = { date = "2026-01-01"; due = "2027-01-01"; certificate = "C-7"; };'
    kill -HUP "$PID_daemon"
    wait_or_fail "[ \"\$(sql \"SELECT count(*) FROM sensors WHERE tag = 'P1'
        AND version = 2 AND unit = 'kPa' AND chain_seq > 0;\")\" = 1 ]" 10 \
        "no reading under P1's second version"
    [ "$(sql "SELECT count(*) FROM sensors WHERE tag = 'F1';")" = 1 ] ||
        fail "F1, unchanged, got a new version"
    evid_run R2

    # R1 exports as before: the same rows, the same manifest
    tbq export --run R1 -o "$T/r1_after.csv"
    expect 0 "" "export R1 after the change"
    cmp -s "$T/r1_before.csv" "$T/r1_after.csv" ||
        fail "R1's export changed: $(diff "$T/r1_before.csv" "$T/r1_after.csv" | head -3)"
    sed 's/"exported":"[^"]*",\?//; s/r1_before/X/; s/r1_after/X/' \
        "$T/r1_before.csv.manifest.json" >"$T/m1"
    sed 's/"exported":"[^"]*",\?//; s/r1_before/X/; s/r1_after/X/' \
        "$T/r1_after.csv.manifest.json" >"$T/m2"
    cmp -s "$T/m1" "$T/m2" ||
        fail "R1's manifest changed: $(diff "$T/m1" "$T/m2" | head -4)"
    grep -q '"id":"P1","version":1,"kind":"pressure","unit":"bar"' "$T/m1" ||
        fail "R1's manifest does not describe P1 as version 1 in bar: $(head -c 600 "$T/m1")"
    ! grep -q '"version":2' "$T/m1" || fail "R1's manifest lists a version 2"

    # a window over both runs: P1 twice, each row with its version's unit
    read -r from _ <<<"$(window_of R1)"
    read -r _ r2to <<<"$(window_of R2)"
    tbq export --from "$(date -u -d "@$((from / 1000000))" +%Y-%m-%dT%H:%M:%SZ)" \
        --to "$(date -u -d "@$((r2to / 1000000 + 1))" +%Y-%m-%dT%H:%M:%SZ)" \
        -o "$T/both.csv"
    expect 0 "" "export of a window over both runs"
    m=$T/both.csv.manifest.json
    grep -qE '"id":"P1","version":1,"kind":"pressure","unit":"bar".*"valid_from":"[0-9T:.-]+Z","valid_to":"[0-9T:.-]+Z"' "$m" ||
        fail "the window's manifest lacks P1 version 1 with its span: $(head -c 900 "$m")"
    grep -qE '"id":"P1","version":2,"kind":"pressure","unit":"kPa".*"certificate":"C-7".*"valid_from":"[0-9T:.-]+Z","valid_to":"[0-9T:.-]+Z"' "$m" ||
        fail "the window's manifest lacks P1 version 2 with its span: $(head -c 900 "$m")"
    # the manifest keys of SPEC revision 2
    grep '"id":"F1"' "$m" | grep -q '"calibration_expired":null,"range":\[0,null\],"device":null,' ||
        fail "F1 (no calibration; flow: range [0, +inf)) lacks calibration_expired null, range or device: $(grep '"id":"F1"' "$m")"
    grep '"id":"P1","version":2' "$m" | grep -q '"calibration_expired":false,"range":\[' ||
        fail "P1 version 2 (due 2027-01-01) is not calibration_expired false: $(grep '"id":"P1","version":2' "$m")"
    grep -qE '^"clock":\{"synchronized":(true|false|null),"max_error_us":([0-9]+|null),"steps":[0-9]+\},"exported":"[0-9T:.-]+Z","tool":"tbdaq [^"]+",$' "$m" ||
        fail "the manifest lacks clock, exported or tool: $(grep -m1 '^"clock"' "$m")"
    grep -q '"counts":{"good":[0-9]*,"out_of_range":[0-9]*,"invalid":[0-9]*,"comm_error":[0-9]*,"missed":[0-9]*}' "$m" ||
        fail "the manifest's counts lack missed"
    n=$(grep -o '"id":"P1"' "$m" | wc -l)
    [ "$n" = 2 ] || fail "P1 listed $n times in the window's manifest, want 2"
    # version 1's span ends before version 2's begins
    u1=$(grep -o '"id":"P1","version":1[^{]*{[^}]*}[^{]*"valid_to":"[^"]*"' "$m" | grep -o '"valid_to":"[^"]*"')
    u2=$(grep -o '"id":"P1","version":2[^{]*{[^}]*}[^{]*"valid_from":"[^"]*"' "$m" | grep -o '"valid_from":"[^"]*"')
    [[ ${u1#*:} < ${u2#*:} ]] || fail "P1's spans overlap: version 1 $u1, version 2 $u2"
    # every P1 row of the CSV has the unit of the version it was taken under
    sql "SELECT r.seq, s.unit FROM readings AS r JOIN sensors AS s
         ON s.id = r.sensor_id WHERE s.tag = 'P1'
         AND r.ts_us >= $((from / 1000000 * 1000000))
         AND r.ts_us < $(((r2to / 1000000 + 1) * 1000000)) ORDER BY r.seq;" |
        tr '\t' ' ' >"$T/want_units"
    awk -F, '$3 == "P1" { print $1, $6 }' "$T/both.csv" | sort -n >"$T/got_units"
    grep -q ' bar$' "$T/got_units" && grep -q ' kPa$' "$T/got_units" ||
        fail "the window's rows of P1 are not in both units"
    while read -r seq unit; do
        want=$(grep -m1 "^$seq " "$T/want_units") ||
            fail "row seq $seq of P1 is not in the database's window"
        [ "$want" = "$seq $unit" ] ||
            fail "row seq $seq of P1 has unit $unit, the database '$want'"
    done <"$T/got_units"

    # the configurations, byte for byte
    tbq config show --run R1
    expect 0 "" "config show --run R1"
    [ "$(sha256sum <"$T/o" | cut -d' ' -f1)" = \
        "$(sql "SELECT config_sha256 FROM runs WHERE name = 'R1';")" ] ||
        fail "config show --run R1 does not hash to R1's config_sha256"
    cmp -s "$T/o" "$T/r1.conf" || fail "config show --run R1 is not R1's config"
    tbq config show
    expect 0 "" "config show"
    cmp -s "$T/o" "$T/t.conf" || fail "config show is not the newest config"
    tbq config show --list
    expect 0 "" "config show --list"
    [ "$(cat "$T/o")" = "$(sha256sum "$T/t.conf" | cut -d' ' -f1)  $T/t.conf
$(sha256sum "$T/extra.conf" | cut -d' ' -f1)  extra.conf" ] ||
        fail "config show --list printed: $(cat "$T/o")"
    tbq config show --run R2 --file extra.conf
    expect 0 "" "config show --file extra.conf"
    cmp -s "$T/o" "$T/extra.conf" || fail "config show --file extra.conf differs"
    tbq config show --file nosuch.conf
    expect 1 "no file 'nosuch.conf'" "config show --file of a file not included"
    tbq config show --at 2001-01-01T00:00:00Z
    expect 1 "no configuration was recorded at or before" "config show --at before any"

    tbq verify
    expect 0 "" "verify"
    grep -qE '^descriptions ok: 3 sensor description versions$' "$T/o" ||
        fail "verify does not count the descriptions: $(cat "$T/o")"
    stop_daemon

    # a description altered behind the daemon's back
    cp "$T/t.db" "$T/forged.db"
    sqlite3 "$T/forged.db" "DROP TRIGGER readings_immutable;
        UPDATE sensors SET unit = 'psi' WHERE tag = 'P1' AND version = 1;" ||
        fail "cannot alter the copy"
    tbq -d "$T/forged.db" verify
    expect 1 "^tbdaq: (error: )?verification failed: batch [0-9]+: sensor 'P1' version 1's description was changed \(sensor 'P1', taken [0-9T:.-]+Z\); the database has no trigger 'readings_immutable'$" \
        "verify of an altered description"
    # an included file altered
    cp "$T/t.db" "$T/forged2.db"
    sqlite3 "$T/forged2.db" "UPDATE config_files SET bytes = CAST('retention_days = 9;' AS BLOB)
        WHERE name = 'extra.conf' AND config_id = 1;" || fail "cannot alter the copy"
    tbq -d "$T/forged2.db" verify
    expect 1 "^tbdaq: (error: )?verification failed: batch [0-9]+: configuration 1 \(applied [0-9T:.-]+Z\) was changed$" \
        "verify of an altered configuration file"

    # a changed reading: its sensor, time and what its raw words decode to
    # (P1's version 2: int16, scale 1, so the value stored)
    read -r seq ts raw val <<<"$(sql "SELECT r.seq, r.ts_us, r.raw,
        CAST(r.value AS INTEGER) FROM readings AS r JOIN sensors AS s
        ON s.id = r.sensor_id WHERE s.tag = 'P1' AND s.version = 2
        AND r.quality = 'good' ORDER BY r.seq DESC LIMIT 1;" | tr '\t' ' ')"
    [ -n "$raw" ] || fail "no good reading of P1's version 2"
    when=$(date -u -d "@$((ts / 1000000))" +%Y-%m-%dT%H:%M:%S).$(printf %06d $((ts % 1000000)))Z
    cp "$T/t.db" "$T/forged3.db"
    sqlite3 "$T/forged3.db" "DROP TRIGGER readings_immutable;
        UPDATE readings SET value = value + 1 WHERE seq = $seq;" ||
        fail "cannot alter the copy"
    tbq -d "$T/forged3.db" verify
    expect 1 "^tbdaq: (error: )?verification failed: batch [0-9]+: seq $seq was changed \(sensor 'P1', taken $when; its raw words $raw decode to $val\); the database has no trigger 'readings_immutable'$" \
        "verify of a changed reading"
    # a dropped trigger alone: the chain holds, verify says so
    cp "$T/t.db" "$T/notrigger.db"
    sqlite3 "$T/notrigger.db" "DROP TRIGGER readings_immutable;" ||
        fail "cannot alter the copy"
    tbq -d "$T/notrigger.db" verify
    expect 0 "no trigger 'readings_immutable'" "verify without the trigger"
    # verify --run counts the run's readings, not its batches'
    read -r from to <<<"$(window_of R1)"
    n=$(sql "SELECT count(*) FROM readings WHERE ts_us >= $from AND ts_us < $to;")
    tbq verify --run R1
    expect 0 "" "verify --run R1"
    grep -qE "^chain ok: [0-9]+ batches, $n readings" "$T/o" ||
        fail "verify --run R1 does not count R1's $n readings: $(head -1 "$T/o")"
}

EXTRA_CASES+=(evidence_versions)
