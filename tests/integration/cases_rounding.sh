# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Value rounding (issue 11, SPEC revision 2): a scaled value is stored
# rounded to the decimals of scale and offset, a float32 as the shortest
# decimal that reads back as the same float32, and the raw words keep the
# exact bits. Checked in the database and in the CSV export, which prints
# the fewest digits that read back as the stored double.

# The simulator's int32 at 902 is -123456789: times 0.01, in plain double
# arithmetic, -1234567.8900000001.
case_rounding_values() {
    local from to n bad
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    conf_sensor 'id = "I32C"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 1; table = "holding"; address = 902; type = "int32"; scale = 0.01; interval_ms = 100;'
    conf_sensor 'id = "I32M"; kind = "generic"; unit = "x"; bus = "plant"; unit_id = 1; table = "input"; address = 902; type = "int32"; scale = 0.001; offset = -0.5; interval_ms = 100;'
    # float32 flow (moves with time), ABCD.
    sim_sensor F32 plant 1 holding flow 20 100
    conf_write "$T/t.conf"
    from=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    start_daemon
    wait_or_fail "min_readings 10 good" 15 "fewer than 10 good readings per sensor"
    stop_daemon
    to=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S.%6NZ)

    n=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
             WHERE s.tag = 'I32C' AND r.value <> -1234567.89;")
    [ "$n" = 0 ] || fail "$n I32C values are not the double nearest -1234567.89: $(sql "SELECT printf('%!.17g', value) FROM readings LIMIT 1;")"
    n=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
             WHERE s.tag = 'I32M' AND r.value <> -123457.289;")
    [ "$n" = 0 ] || fail "$n I32M values are not -123457.289"
    n=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
             WHERE s.tag = 'I32C' AND r.raw <> 'f8a4 32eb';")
    [ "$n" = 0 ] || fail "$n I32C readings lost their raw words"

    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" export --from "$from" --to "$to" \
        -o "$T/x.csv" >"$T/o" 2>"$T/e" || fail "export: $(cat "$T/e")"
    grep -q ',I32C,generic,-1234567.89,x,good,' "$T/x.csv" ||
        fail "the CSV does not show -1234567.89: $(grep -m1 I32C "$T/x.csv")"
    # Every float32 value is at most 9 significant digits (the shortest
    # decimal of a float32); plain widening to double shows about 17.
    bad=$(awk -F, '$3 == "F32" && $7 == "good" {
            v = $5; sub(/^-/, "", v); sub(/[eE].*/, "", v); sub(/\./, "", v)
            sub(/^0+/, "", v)
            if (length(v) > 9) { print $5; exit } }' "$T/x.csv")
    [ -z "$bad" ] || fail "float32 value $bad has more digits than a float32 holds"
    n=$(awk -F, '$3 == "F32" && $7 == "good"' "$T/x.csv" | wc -l)
    ((n >= 10)) || fail "only $n F32 rows in the export"
}
EXTRA_CASES+=(rounding_values)
