# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 4: test runs, the auditor's export and the
# audit chain, driven through `tbdaq` while (or after) `tbdaqd` records
# from the simulator. Sourced by run.sh after lib.sh; each case_NAME runs
# in its own subshell with $T set, like run.sh's own cases, and checks
# what the CLI prints and writes against the database read with sqlite3.

# The sensors of every audit case, on one bus of the simulator: a float32
# flow whose calibration fell due long ago, a scaled int16 pressure, a
# generic sensor whose unit needs CSV quoting (unit 2's id register), and
# one on a unit the simulator does not serve (exception 0x0B at once, so
# comm_error readings without delaying the others).
audit_setup() {
    start_sim --port 0 --units 2
    conf_tcp_bus plant
    conf_sensor 'id = "F1"; kind = "flow"; bus = "plant"; unit_id = 1; table = "holding"; address = 20; type = "float32"; interval_ms = 50; calibration = { date = "2024-01-01"; due = "2025-01-01"; certificate = "KTL-2024-1"; };'
    conf_sensor 'id = "P1"; kind = "pressure"; bus = "plant"; unit_id = 1; table = "input"; address = 100; type = "int16"; scale = 0.01; interval_ms = 50;'
    conf_sensor 'id = "GEN-2"; kind = "generic"; unit = "id, n"; bus = "plant"; unit_id = 2; table = "input"; address = 916; type = "uint16"; interval_ms = 100;'
    conf_sensor 'id = "DEAD-9"; kind = "flow"; bus = "plant"; unit_id = 9; table = "holding"; address = 0; type = "int16"; interval_ms = 100;'
    TAGS="F1 P1 GEN-2 DEAD-9"
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    start_daemon
    # Runs go through the daemon (SPEC Control): wait for its channel.
    wait_or_fail "\"\$BUILD/tbdaq\" -c '$T/t.conf' status 2>/dev/null |
        grep -q '^tbdaqd: running since '" 10 "the daemon's control channel does not answer"
}

# tbq ARGS...: `tbdaq -c $T/t.conf ARGS`; stdout in $T/o, stderr in $T/e,
# the exit status in RC.
tbq() {
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# expect RC_WANT PATTERN WHAT: the last tbq exited RC_WANT and, if PATTERN
# is not empty, its stderr is one line matching it (grep -E).
expect() {
    [ "$RC" = "$1" ] ||
        fail "$3: exit $RC, want $1 (stderr: $(head -2 "$T/e" | tr '\n' ' '))"
    if [ -n "$2" ]; then
        grep -qE -e "$2" "$T/e" ||
            fail "$3: stderr '$(head -2 "$T/e" | tr '\n' ' ')' does not match '$2'"
        [ "$(wc -l <"$T/e")" = 1 ] ||
            fail "$3: want one line on stderr, got: $(tr '\n' '|' <"$T/e")"
    fi
}

# run_readings_wait NAME N: runs NAME start; waits until every sensor has
# N readings after the start; stops it; waits until the daemon sealed it.
run_for_readings() {
    local name=$1 n=$2 started
    tbq run start "$name" --operator "김지수 (QA)" --note "pump B, 25 °C"
    expect 0 "" "run start $name"
    started=$(sql "SELECT started_us FROM runs WHERE name = '$name';")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM (SELECT 1 FROM readings
        WHERE ts_us >= $started GROUP BY sensor_id HAVING count(*) >= $n);\") = 4 ]" \
        15 "not every sensor got $n readings in run $name"
    tbq run stop
    expect 0 "" "run stop"
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = '$name'
        AND chain_head IS NOT NULL;\")\" ]" 10 "run $name was not sealed"
}

# window_of NAME: "started ended" of a run, in microseconds.
window_of() {
    sql "SELECT started_us, ended_us FROM runs WHERE name = '$1';" | tr '\t' ' '
}

# db_rows FROM TO [TAG...]: the database's readings with FROM <= ts < TO
# in export order, tab-separated: seq, ts (ISO, microseconds), tag, kind,
# value (17 digits, or empty), unit, quality, error (or empty).
db_rows() {
    local from=$1 to=$2 where="" list range
    shift 2
    if (($# > 0)); then
        list=$(printf "'%s'," "$@")
        where="AND s.tag IN (${list%,})"
    fi
    # With RUN (sealed): the run's readings are those of its seq range
    # taken in [FROM, TO), its times (SPEC Evidence): the range keeps out
    # what a wall-clock step would stamp inside it later.
    if [ -n "${RUN:-}" ]; then
        range=$(sql "SELECT first_seq || ' AND ' || last_seq FROM runs
            WHERE name = '$RUN' AND first_seq > 0 AND ended_us IS NOT NULL;")
        [ -n "$range" ] || fail "run $RUN has no seq range"
        where="$where AND r.seq BETWEEN $range"
    fi
    sql "SELECT r.seq,
        strftime('%Y-%m-%dT%H:%M:%S', r.ts_us / 1000000, 'unixepoch') ||
            printf('.%06dZ', r.ts_us % 1000000),
        s.tag, s.kind,
        CASE WHEN r.value IS NULL THEN '' ELSE printf('%!.17g', r.value) END,
        s.unit,
        r.quality, ifnull(r.error, ''), r.ts_us
        FROM readings r JOIN sensors s ON s.id = r.sensor_id
        WHERE r.ts_us >= $from AND r.ts_us < $to $where
        ORDER BY r.ts_us, s.tag, r.seq;"
}

# check_csv FILE FROM TO [TAG...]: FILE is the exact RFC 4180 export of
# the database's rows in the window: header, CRLF line ends, every field
# equal (values as the same double). Prints a summary; fails the case.
check_csv() {
    local file=$1 out
    shift
    [ -s "$file" ] || fail "no file $file"
    [ "$(head -1 "$file")" = $'seq,ts,sensor,kind,value,unit,quality,error\r' ] ||
        fail "$file: header '$(head -1 "$file" | od -c | head -2 | tr -s ' ')' is not seq,ts,sensor,kind,value,unit,quality,error CRLF"
    [ "$(grep -c $'\r$' "$file")" = "$(wc -l <"$file")" ] ||
        fail "$file: not every line ends in CRLF"
    [ "$(tail -c 2 "$file" | od -An -tx1 | tr -d ' ')" = 0d0a ] ||
        fail "$file: does not end with CRLF"
    db_rows "$@" >"$T/db.tsv" || fail "cannot read the database"
    out=$(awk -F'\t' '
        function csvsplit(s, f,   n, i, c, q, cur) {
            n = 0; cur = ""; q = 0
            for (i = 1; i <= length(s); i++) {
                c = substr(s, i, 1)
                if (q) {
                    if (c == "\"") {
                        if (substr(s, i + 1, 1) == "\"") { cur = cur c; i++ }
                        else q = 0
                    } else cur = cur c
                } else if (c == "\"") q = 1
                else if (c == ",") { f[++n] = cur; cur = "" }
                else cur = cur c
            }
            f[++n] = cur
            return n
        }
        function bad(m) { nbad++; if (nbad <= 5) print m }
        FILENAME == ARGV[1] { want[++nw] = $0; next }
        FNR == 1 { next }
        {
            sub(/\r$/, "")
            row = FNR - 1
            if (row > nw) { bad("row " row " is not in the database: " $0); next }
            n = csvsplit($0, f)
            split(want[row], w, "\t")
            if (n != 8) { bad("row " row ": " n " fields: " $0); next }
            for (i = 1; i <= 8; i++) {
                if (i == 5) {
                    if ((f[5] == "") != (w[5] == "") ||
                        (f[5] != "" && f[5] + 0 != w[5] + 0))
                        bad("row " row " (seq " w[1] "): value " f[5] ", the database has " w[5])
                } else if (f[i] != w[i])
                    bad("row " row " (seq " w[1] "): field " i " is \"" f[i] "\", want \"" w[i] "\"")
            }
            if ($0 ~ /"/ && f[6] !~ /,/) bad("row " row ": quoted without need: " $0)
        }
        END {
            rows = FNR - 1
            if (rows != nw) bad(rows " rows, the database has " nw)
            if (!nw) bad("the database has no rows in the window")
            if (nbad) exit 1
            print rows " rows equal the database"
        }' "$T/db.tsv" "$file") || fail "$file: $(echo "$out" | tr '\n' ';')"
    echo "$file: $out"
}

# check_json FILE FROM TO: FILE is {"manifest":{...},"readings":[...]}
# with one reading per line, each equal to the database's row.
check_json() {
    local file=$1 out
    shift
    [ "$(head -c 13 "$file")" = '{"manifest":{' ] ||
        fail "$file does not start with {\"manifest\":{"
    grep -q '^"readings":\[$' "$file" || fail "$file: no \"readings\":["
    [ "$(tail -1 "$file")" = ']}' ] || fail "$file does not end with ]}"
    if command -v python3 >/dev/null; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$file" ||
            fail "$file is not valid JSON"
    fi
    db_rows "$@" >"$T/db.tsv" || fail "cannot read the database"
    out=$(awk -F'\t' '
        function bad(m) { nbad++; if (nbad <= 5) print m }
        function jraw(s, key) {
            if (!match(s, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return "<absent>"
            return substr(s, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
        }
        function jstr(s, key,   v) {
            v = jraw(s, key)
            if (v == "null") return "null"
            return substr(v, 2, length(v) - 2)
        }
        FILENAME == ARGV[1] { want[++nw] = $0; next }
        /^\{"seq":/ {
            row++
            sub(/,$/, "")
            if (row > nw) { bad("reading " row " is not in the database: " $0); next }
            split(want[row], w, "\t")
            if (jraw($0, "seq") != w[1]) bad("reading " row ": seq " jraw($0, "seq") ", want " w[1])
            if (jstr($0, "ts") != w[2]) bad("reading " row ": ts " jstr($0, "ts") ", want " w[2])
            if (jraw($0, "ts_us") != w[9]) bad("reading " row ": ts_us " jraw($0, "ts_us") ", want " w[9])
            if (jstr($0, "sensor") != w[3]) bad("reading " row ": sensor " jstr($0, "sensor"))
            if (jstr($0, "kind") != w[4]) bad("reading " row ": kind " jstr($0, "kind"))
            v = jraw($0, "value")
            if ((v == "null") != (w[5] == "") || (v != "null" && v + 0 != w[5] + 0))
                bad("reading " row " (seq " w[1] "): value " v ", the database has " w[5])
            if (jstr($0, "unit") != w[6]) bad("reading " row ": unit " jstr($0, "unit"))
            if (jstr($0, "quality") != w[7]) bad("reading " row ": quality " jstr($0, "quality"))
            e = jstr($0, "error")
            if (e != (w[8] == "" ? "null" : w[8])) bad("reading " row ": error " e ", want " w[8])
        }
        END {
            if (row != nw) bad(row " readings, the database has " nw)
            if (!nw) bad("the database has no rows in the window")
            if (nbad) exit 1
            print row " readings equal the database"
        }' "$T/db.tsv" "$file") || fail "$file: $(echo "$out" | tr '\n' ';')"
    echo "$file: $out"
}

# no_leftovers: fails if any export file or temporary file is in $T.
no_leftovers() {
    local left
    left=$(find "$T" -maxdepth 2 \( -name 'out*' -o -name '*.tmp-*' \) | head -3)
    [ -z "$left" ] || fail "$1 left files behind: $left"
}

# iso_offset US OFFSET_S SUFFIX: the time US written in local time at
# OFFSET_S seconds from UTC, with its zone SUFFIX (+09:00, -05:30).
iso_offset() {
    local s=$(($1 / 1000000 + $2)) f=$(($1 % 1000000))
    printf '%s.%06d%s' "$(date -u -d "@$s" +%Y-%m-%dT%H:%M:%S)" "$f" "$3"
}

# ---------------------------------------------------------------------

# run start/stop/list from the CLI while the daemon commits every 50 ms:
# never "database is locked"; every refusal with its exit status and
# message; what the runs table and the events record.
case_audit_runs() {
    local i n head op note
    audit_setup
    wait_or_fail "min_readings 3" 15 "no readings before the runs"
    for i in 1 2 3 4 5 6 7 8; do
        tbq run start "R-$i" --operator "op $i"
        expect 0 "" "run start R-$i"
        grep -qE "^run 'R-$i' started at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{6}Z$" "$T/o" ||
            fail "run start R-$i printed '$(cat "$T/o")'"
        tbq run list
        expect 0 "" "run list"
        grep -qE "^R-$i .* open .*op $i" "$T/o" ||
            fail "run list does not show R-$i open: $(tr '\n' '|' <"$T/o")"
        tbq run stop "R-$i"
        expect 0 "" "run stop R-$i"
        grep -q "^run 'R-$i' stopped at " "$T/o" ||
            fail "run stop printed '$(cat "$T/o")'"
    done
    ! grep -qi 'locked' "$T/daemon.err" ||
        fail "the daemon logged: $(grep -i -m1 locked "$T/daemon.err")"

    op="김지수 (QA)"
    note='pump B, 25 °C; "quoted", back\slash'
    tbq run start R-9 --operator "$op" --note "$note"
    expect 0 "" "run start with UTF-8 operator and note"
    [ "$(sql "SELECT operator FROM runs WHERE name = 'R-9';")" = "$op" ] ||
        fail "operator stored as '$(sql "SELECT operator FROM runs WHERE name = 'R-9';")'"
    [ "$(sql "SELECT note FROM runs WHERE name = 'R-9';")" = "$note" ] ||
        fail "note stored as '$(sql "SELECT note FROM runs WHERE name = 'R-9';")'"
    [ "$(sql "SELECT config_sha256 FROM runs WHERE name = 'R-9';")" = \
        "$(sha256sum "$T/t.conf" | cut -d' ' -f1)" ] ||
        fail "the run does not record the config's SHA-256"

    tbq run start R-10
    expect 1 "^tbdaq: .*run 'R-9' is still open" "run start while R-9 is open"
    tbq run stop R-1
    expect 1 "^tbdaq: .*run 'R-1' is not open" "run stop of a closed run"
    tbq run stop
    expect 0 "" "run stop without a name"
    grep -q "^run 'R-9' stopped at " "$T/o" || fail "run stop printed '$(cat "$T/o")'"
    tbq run stop
    expect 1 "^tbdaq: .*no run is open" "run stop with none open"
    tbq run start R-1
    expect 1 "^tbdaq: .*run 'R-1' already exists" "duplicate run name"
    tbq run start 'a b'
    expect 2 "^tbdaq: .*run name 'a b' has characters outside \[A-Za-z0-9_.-\]" "unsafe name"
    tbq run start 'x/../y'
    expect 2 "outside" "unsafe name with a slash"
    tbq run start "$(printf 'R%.0s' {1..65})"
    expect 2 "longer than 64" "a 65-character name"
    tbq run start R-11 --operator "$(printf 'a\tb')"
    expect 2 "operator" "an operator with a tab"
    tbq run start R-11 --note "$(printf 'n%.0s' {1..1025})"
    expect 2 "note" "a 1025-byte note"
    tbq run start R-11 --operator "$(printf 'bad \xff')"
    expect 2 "operator" "an operator that is not UTF-8"
    tbq run start
    expect 2 "name" "run start without a name"
    tbq run frob
    expect 2 "frob" "an unknown run command"
    tbq -d "$T/none.db" run start R-12
    expect 1 "none.db" "run start on a missing database"
    [ ! -e "$T/none.db" ] || fail "run start created a database"
    n=$(sql "SELECT count(*) FROM runs;")
    [ "$n" = 9 ] || fail "$n runs recorded, want 9 (the refused ones must not be)"
    [ -z "$(sql "SELECT name FROM runs WHERE name = 'R-11' OR name = 'R-10';")" ] ||
        fail "a refused run was recorded"

    # Every stopped run is sealed; run list shows its head's prefix.
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM runs WHERE chain_head IS NOT NULL;\") = 9 ]" \
        10 "not every stopped run was sealed"
    tbq run list
    expect 0 "" "run list"
    [ "$(grep -c '^R-' "$T/o")" = 9 ] || fail "run list shows $(grep -c '^R-' "$T/o") runs, want 9"
    head=$(sql "SELECT substr(chain_head, 1, 16) FROM runs WHERE name = 'R-9';")
    grep -qE "^R-9 .*$head" "$T/o" || fail "run list does not show R-9's chain head $head"
    n=$(sql "SELECT count(*) FROM events WHERE kind IN ('run_start', 'run_stop');")
    [ "$n" = 18 ] || fail "$n run_start/run_stop events, want 18"
    stop_daemon
}

# CSV and JSON exports of a run, of a window given with zone offsets and
# of chosen sensors equal the database; the manifest's hash, rows, run,
# counts, calibration and events are right; nothing else is left behind.
case_audit_export() {
    local from to f t sha rows m line tag q i c sum exp
    audit_setup
    run_for_readings R1 12
    read -r from to <<<"$(window_of R1)"

    tbq export --run R1 -o "$T/out.csv"
    expect 0 "" "export --run R1 -o out.csv"
    [ ! -s "$T/o" ] || fail "export -o wrote to stdout: $(head -c 200 "$T/o")"
    RUN=R1 check_csv "$T/out.csv" "$from" "$to"
    m=$T/out.csv.manifest.json
    [ -s "$m" ] || fail "no manifest $m"
    sha=$(sha256sum "$T/out.csv" | cut -d' ' -f1)
    grep -q "\"sha256\":\"$sha\"" "$m" || fail "the manifest's sha256 is not $sha (sha256sum of out.csv): $(head -c 300 "$m")"
    rows=$(($(wc -l <"$T/out.csv") - 1))
    grep -q "\"rows\":$rows," "$m" || fail "the manifest's rows is not $rows"
    grep -q '^{"format":"tbdaq-export-1","file":"out.csv",' "$m" ||
        fail "the manifest does not start with format and file: $(head -c 100 "$m")"
    grep -q '"site":"itest"' "$m" || fail "the manifest has no site itest"
    line=$(grep '^"run":' "$m")
    [[ $line == *"\"name\":\"R1\""* ]] || fail "manifest run: $line"
    [[ $line == *"\"operator\":\"김지수 (QA)\""* ]] || fail "manifest operator: $line"
    [[ $line == *"\"note\":\"pump B, 25 °C\""* ]] || fail "manifest note: $line"
    [[ $line == *"\"chain_head\":\"$(sql "SELECT chain_head FROM runs WHERE name = 'R1';")\""* ]] ||
        fail "the manifest's chain head is not the run's: $line"
    [[ $line == *"\"config_sha256\":\"$(sha256sum "$T/t.conf" | cut -d' ' -f1)\""* ]] ||
        fail "the manifest's config_sha256 is not the config's: $line"
    [[ $line == *"\"started\":\"$(sql "SELECT strftime('%Y-%m-%dT%H:%M:%S', $from / 1000000, 'unixepoch') || printf('.%06dZ', $from % 1000000);")\""* ]] ||
        fail "manifest run start: $line"
    for tag in $TAGS; do
        line=$(grep "^{\"id\":\"$tag\"," "$m") || fail "sensor $tag is not in the manifest"
        for q in good out_of_range invalid comm_error; do
            c=$(sql "SELECT count(*) FROM readings r JOIN sensors s ON s.id = r.sensor_id
                WHERE s.tag = '$tag' AND r.quality = '$q' AND r.ts_us >= $from AND r.ts_us < $to;")
            [[ $line == *"\"$q\":$c,"* || $line == *"\"$q\":$c}"* ]] ||
                fail "manifest counts of $tag: want $q $c: $line"
        done
        i=$(sql "SELECT interval_ms FROM sensors WHERE tag = '$tag';")
        exp=$(((to - from) / (i * 1000)))
        [[ $line == *"\"expected\":$exp,"* ]] || fail "manifest expected of $tag: want $exp: $line"
    done
    grep '^{"id":"F1",' "$m" | grep -q '"calibration":{"date":"2024-01-01","due":"2025-01-01","certificate":"KTL-2024-1"},"calibration_expired":true' ||
        fail "F1's calibration (due 2025-01-01) is not flagged expired: $(grep '^{"id":"F1",' "$m")"
    grep '^{"id":"P1",' "$m" | grep -q '"calibration":{"date":null,"due":null,"certificate":null},"calibration_expired":null' ||
        fail "P1 has no calibration: $(grep '^{"id":"P1",' "$m")"
    grep '^{"id":"DEAD-9",' "$m" | grep -q '"completeness":0' ||
        fail "DEAD-9 has only comm_error readings: completeness must be 0"
    for c in '"kind":"config","detail":"'"$(sha256sum "$T/t.conf" | cut -d' ' -f1)"'"' \
        '"kind":"run_start"' '"kind":"run_stop","detail":"R1"'; do
        grep -qF "$c" "$m" || fail "the manifest's events lack $c"
    done
    if command -v python3 >/dev/null; then
        python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$m" ||
            fail "the manifest is not valid JSON"
    fi
    [ -z "$(find "$T" -name '*.tmp-*')" ] || fail "temporary files left: $(find "$T" -name '*.tmp-*')"

    # The same to stdout, and as JSON.
    tbq export --run R1
    expect 0 "" "export --run R1 to stdout"
    cmp -s "$T/o" "$T/out.csv" || fail "the CSV on stdout differs from the one written with -o"
    tbq export --run R1 --format json -o "$T/out.json"
    expect 0 "" "export --run R1 --format json"
    RUN=R1 check_json "$T/out.json" "$from" "$to"
    grep -q "^{\"manifest\":{\"format\":\"tbdaq-export-1\",\"rows\":$rows," "$T/out.json" ||
        fail "the JSON's manifest does not start with format and rows $rows"
    ! grep -q '"sha256":\|"file":' "$T/out.json" || fail "the JSON's manifest has file or sha256"
    [ ! -e "$T/out.json.manifest.json" ] || fail "a JSON export wrote a manifest file"

    # A window inside the run, its ends written at +09:00 and -05:30.
    f=$((from + 200000))
    t=$((to - 150000))
    tbq export --from "$(iso_offset $f 32400 +09:00)" --to "$(iso_offset $t -19800 -05:30)" \
        -o "$T/out-window.csv"
    expect 0 "" "export --from +09:00 --to -05:30"
    check_csv "$T/out-window.csv" "$f" "$t"
    ! grep -q '"run":' "$T/out-window.csv.manifest.json" ||
        fail "a window's manifest has a run"
    grep -q "\"window\":{\"from\":\"$(sql "SELECT strftime('%Y-%m-%dT%H:%M:%S', $f / 1000000, 'unixepoch') || printf('.%06dZ', $f % 1000000);")\"" \
        "$T/out-window.csv.manifest.json" || fail "the window's from is not $f in UTC"

    # Chosen sensors only, repeated --sensor.
    tbq export --run R1 --sensor GEN-2 --sensor P1 --sensor GEN-2 --format csv -o "$T/out-sel.csv"
    expect 0 "" "export --sensor GEN-2 --sensor P1"
    RUN=R1 check_csv "$T/out-sel.csv" "$from" "$to" GEN-2 P1
    [ "$(grep -c '^{"id":' "$T/out-sel.csv.manifest.json")" = 2 ] ||
        fail "the manifest of two sensors lists $(grep -c '^{"id":' "$T/out-sel.csv.manifest.json")"

    # An open run, exported while the daemon commits into it: each file
    # agrees with its own manifest (rows, and the counts add up to them).
    tbq run start R2
    expect 0 "" "run start R2"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r, runs u WHERE
        u.name = 'R2' AND r.ts_us >= u.started_us;\") -ge 20 ]" 10 "no readings in R2"
    for i in 1 2 3; do
        tbq export --run R2 --format json
        expect 0 "" "export of the open run R2 as JSON to stdout"
        cp "$T/o" "$T/open.json"
        tbq export --run R2 --format json -o "$T/open-f.json"
        expect 0 "" "export of the open run R2 as JSON to a file"
        tbq export --run R2 -o "$T/open.csv"
        expect 0 "" "export of the open run R2 as CSV"
        for f in "$T/open.json" "$T/open-f.json" "$T/open.csv.manifest.json"; do
            case $f in
            *.csv.manifest.json) rows=$(($(wc -l <"$T/open.csv") - 1)) ;;
            *) rows=$(grep -c '^{"seq":' "$f") ;;
            esac
            grep -q "\"rows\":$rows," "$f" ||
                fail "$f: the manifest's rows is not the $rows exported: $(grep -o '"rows":[0-9]*' "$f")"
            sum=$(grep -o '"counts":{[^}]*}' "$f" | grep -o '[0-9][0-9]*' |
                awk '{ s += $1 } END { print s + 0 }')
            [ "$sum" = "$rows" ] || fail "$f: the counts add up to $sum, not $rows"
            grep -q '"ended":null' "$f" || fail "$f: the open run has an end"
            grep -q '"chain_head":null' "$f" || fail "$f: the open run has a chain head"
        done
    done
    stop_daemon
}

# Bad input: a clear one-line error, exit 1 (2 for usage), and no file.
case_audit_export_errors() {
    local from to
    audit_setup
    run_for_readings R1 3
    stop_daemon
    read -r from to <<<"$(window_of R1)"
    touch "$T/afile"
    mkdir "$T/adir"

    tbq export --run NOPE -o "$T/out.csv"
    expect 1 "^tbdaq: .*unknown run 'NOPE'$" "unknown run"
    tbq export --run R1 --sensor NOPE -o "$T/out.csv"
    expect 1 "^tbdaq: .*unknown sensor 'NOPE'" "unknown sensor"
    tbq export --from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z -o "$T/out.csv"
    expect 1 "^tbdaq: .*no readings" "an empty window"
    tbq export --from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z --format json -o "$T/out.json"
    expect 1 "^tbdaq: .*no readings" "an empty window as JSON"
    tbq export --from 2030-01-01T00:00:00Z --to 2030-01-02T00:00:00Z
    expect 1 "no readings" "an empty window to stdout"
    [ ! -s "$T/o" ] || fail "an empty window wrote to stdout: $(head -c 100 "$T/o")"
    tbq export --from 2026-11-25T10:00:00Z --to 2026-11-25T18:00:00+09:00 -o "$T/out.csv"
    expect 1 "^tbdaq: .*--from 2026-11-25T10:00:00Z is not before --to 2026-11-25T18:00:00\+09:00" "--from after --to"
    tbq export --run R1 -o "$T/afile/out.csv"
    expect 1 "^tbdaq: .*afile/out.csv" "output under a regular file"
    tbq export --run R1 -o "$T/nodir/out.csv"
    expect 1 "^tbdaq: .*nodir/out.csv" "output in a missing directory"
    tbq export --run R1 -o "$T/adir"
    expect 1 "^tbdaq: .*adir" "output onto a directory"
    tbq export --run R1 --from 2026-11-25T10:00:00Z -o "$T/out.csv"
    expect 2 "exclude" "--run with --from"
    tbq export --from 2026-11-25T10:00:00Z -o "$T/out.csv"
    expect 2 "--to" "--from without --to"
    tbq export --from 2026-11-25T10:00:00 --to 2026-11-25T11:00:00Z -o "$T/out.csv"
    expect 2 "--from '2026-11-25T10:00:00' is not an ISO 8601 time" "a time without a zone"
    tbq export --run R1 --format xml -o "$T/out.csv"
    expect 2 "xml" "an unknown format"
    tbq export -o "$T/out.csv"
    expect 2 "--run" "neither --run nor --from/--to"
    tbq export --run R1 extra
    expect 2 "extra" "an extra argument"
    no_leftovers "the refused exports"
    [ -z "$(ls -A "$T/adir")" ] || fail "files left in $T/adir: $(ls -A "$T/adir")"

    # and one that works, over the same database, for contrast
    tbq export --run R1 -o "$T/out.csv"
    expect 0 "" "export --run R1"
    RUN=R1 check_csv "$T/out.csv" "$from" "$to"
}

# verify: passes on the untouched database and on a run (showing its
# sealed head), and fails naming the seq after an UPDATE, a DELETE and an
# INSERT made with the sqlite3 tool.
case_audit_verify() {
    local n b seq last head db
    audit_setup
    wait_or_fail "min_readings 3" 15 "no readings"
    run_for_readings R1 5
    wait_or_fail "min_readings 20" 15 "fewer than 20 readings per sensor"
    stop_daemon

    tbq verify
    expect 0 "" "verify of the untouched database"
    n=$(sql "SELECT count(*) FROM readings;")
    b=$(sql "SELECT count(*) FROM batches;")
    grep -qx "chain ok: $b batches, $n readings" "$T/o" ||
        fail "verify printed '$(cat "$T/o")', want 'chain ok: $b batches, $n readings'"
    ((b >= 5)) || fail "only $b batches"
    tbq verify --run R1
    expect 0 "" "verify --run R1"
    head=$(sql "SELECT chain_head FROM runs WHERE name = 'R1';")
    grep -q "$head" "$T/o" || fail "verify --run R1 does not show the run's chain head $head: $(cat "$T/o")"
    tbq verify --run NOPE
    expect 1 "unknown run 'NOPE'" "verify of an unknown run"

    # A reading inside the run, with a value.
    seq=$(sql "SELECT min(r.seq) FROM readings r, runs u WHERE u.name = 'R1'
        AND r.ts_us >= u.started_us + 100000 AND r.value IS NOT NULL;")
    last=$(sql "SELECT max(seq) FROM readings;")

    db=$T/changed.db
    sql ".backup '$db'"
    SQL_DB=$db sql "DROP TRIGGER readings_immutable;
        UPDATE readings SET value = value + 0.001 WHERE seq = $seq;" ||
        fail "sqlite3 could not change seq $seq"
    tbq -d "$db" verify
    expect 1 "^tbdaq: .*seq $seq was changed" "verify after an UPDATE of seq $seq"
    tbq -d "$db" verify --run R1
    expect 1 "seq $seq was changed" "verify --run R1 after an UPDATE of seq $seq"

    db=$T/deleted.db
    sql ".backup '$db'"
    SQL_DB=$db sql "DELETE FROM readings WHERE seq = $seq;" ||
        fail "sqlite3 could not delete seq $seq"
    tbq -d "$db" verify
    expect 1 "^tbdaq: .*seq $seq was deleted" "verify after a DELETE of seq $seq"

    db=$T/inserted.db
    sql ".backup '$db'"
    SQL_DB=$db sql "INSERT INTO readings (sensor_id, ts_us, value, quality)
        SELECT sensor_id, ts_us + 1, value, quality FROM readings WHERE seq = $seq;" ||
        fail "sqlite3 could not insert a reading"
    tbq -d "$db" verify
    expect 1 "^tbdaq: .*seq $((last + 1)) is in no batch" "verify after an INSERT (seq $((last + 1)))"

    # the original is untouched by all this
    tbq verify
    expect 0 "" "verify of the original database again"
}

# Runs seen from MQTT: the retained run topic follows `run start` and `run
# stop` from the CLI; readings taken inside the run, and only those, carry
# "run"; closing the run seals it, and the witness published retained on
# runs/<name> names the same chain head as the database, which verify
# --run accepts.
case_mqtt_runs() {
    local started ended head out
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 100
    conf_write "$T/t.conf" "$(conf_mqtt)"
    start_sub all "tbdaq/$SITE/#"
    start_daemon
    wait_or_fail "[ \$(sub_seqs all | wc -l) -ge 5 ]" 15 \
        "fewer than 5 readings received before the run"
    "$BUILD/tbdaq" -d "$T/t.db" run start R-7 --operator Kim >"$T/o" 2>&1 ||
        fail "run start failed: $(cat "$T/o")"
    wait_or_fail "grep -q '^0 tbdaq/$SITE/run {\"name\":\"R-7\",\"started\":\"[^\"]*\",\"operator\":\"Kim\"}\$' '$T/all.out'" 5 \
        "the run topic did not announce R-7"
    wait_or_fail "[ \$(grep -c '\"run\":\"R-7\"}\$' '$T/all.out') -ge 5 ]" 10 \
        "fewer than 5 readings carry \"run\":\"R-7\""
    "$BUILD/tbdaq" -d "$T/t.db" run stop >"$T/o" 2>&1 ||
        fail "run stop failed: $(cat "$T/o")"
    wait_or_fail "grep -q '^0 tbdaq/$SITE/runs/R-7 ' '$T/all.out'" 5 \
        "no sealed-run witness on tbdaq/$SITE/runs/R-7"
    wait_or_fail "[ \"\$(grep '^0 tbdaq/$SITE/run ' '$T/all.out' | tail -1)\" = '0 tbdaq/$SITE/run {\"state\":\"idle\"}' ]" 5 \
        "the run topic did not return to idle"
    wait_or_fail "[ \$(sub_seqs all | wc -l) -ge \$(( \$(grep -c '\"run\":\"R-7\"}\$' '$T/all.out') + 12 )) ]" 10 \
        "readings stopped arriving after the run"
    stop_daemon

    read -r started ended head <<<"$(sql "SELECT started_us, ended_us,
        chain_head FROM runs WHERE name = 'R-7';" | tr '\t' ' ')"
    [ ${#head} = 64 ] || fail "run R-7 was not sealed (chain_head '$head')"
    out=$(mqtt_get "tbdaq/$SITE/runs/R-7")
    [[ $out == "1 {\"name\":\"R-7\","*"\"operator\":\"Kim\",\"ended\":"*"\"chain_head\":\"$head\","* ]] ||
        fail "retained witness '$out' does not carry the database's chain head $head"
    # Inside [started, ended): "run":"R-7"; outside: no "run" at all.
    out=$(awk -v s="$started" -v e="$ended" '
        $3 ~ /^\{"seq":/ {
            match($3, /"ts_us":[0-9]+/); ts = substr($3, RSTART + 8, RLENGTH - 8) + 0
            inrun = ts >= s && ts < e; has = index($3, "\"run\":\"R-7\"}") > 0
            if (inrun != has) { print "seq payload " $3 " is " (inrun ? "inside" : "outside") " the run but " (has ? "has" : "lacks") " \"run\""; bad = 1; exit }
            n[inrun]++ }
        END { if (!bad && (n[0] < 5 || n[1] < 5)) { print "too few readings: " n[1] " inside, " n[0] " outside"; bad = 1 }
              exit bad }' "$T/all.out") || fail "$out"
    "$BUILD/tbdaq" -d "$T/t.db" verify --run R-7 >"$T/o" 2>&1 ||
        fail "verify --run R-7 failed: $(cat "$T/o")"
    grep -q "$head" "$T/o" || fail "verify --run does not name the chain head: $(cat "$T/o")"
}
