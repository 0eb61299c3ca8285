# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 10: the database's safety. Sourced by run.sh
# after lib.sh; each case_NAME runs in its own subshell with $T set.
#
# - file_modes: the daemon's database files are not readable by others
#   (0640 or tighter) whatever the umask, and a database an older tbdaq
#   left 0644 is narrowed at the daemon's next start.
# - db_crafted: the CLI refuses, with one line naming the file and what is
#   wrong and exit 1, every file that is not what tbdaq writes (a view in
#   place of readings, a trigger of someone else's, a missing column, a
#   plain SQLite file, garbage), for verify, export and status alike; an
#   auditor's copy of the database file alone verifies and leaves nothing
#   beside it; and an export's manifest counts missed readings.

# Readings to wait for before looking at a daemon's database.
DBSAFETY_READINGS=10

# dbsafety_record: a simulator, one sensor at 100 ms, the daemon started
# under umask 022 until it has recorded DBSAFETY_READINGS readings.
dbsafety_record() {
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor FT-1 plant 1 holding flow 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    # The case's own subshell: the umask of a start by hand.
    umask 022
    start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $DBSAFETY_READINGS ]" \
        10 "fewer than $DBSAFETY_READINGS readings recorded"
}

# dbsafety_modes: fails unless t.db, t.db-wal and t.db-shm are 0640 or
# tighter (no group write, nothing for others).
dbsafety_modes() {
    local f m
    for f in "$T/t.db" "$T/t.db-wal" "$T/t.db-shm"; do
        [ -f "$f" ] || fail "no file $f"
        m=$(stat -c %a "$f")
        (((8#$m & 8#137) == 0)) || fail "$1: $f is mode $m, wider than 640"
    done
    echo "$1: $(stat -c '%n %a' "$T"/t.db* | tr '\n' ' ')"
}

case_file_modes() {
    dbsafety_record
    dbsafety_modes "created under umask 022"
    stop_daemon
    # As an older tbdaq left them.
    chmod 0644 "$T/t.db" "$T/t.db-wal" "$T/t.db-shm"
    DAEMON_STOPPED=
    n=$(sql 'SELECT count(*) FROM readings;')
    SPAWN_APPEND=1 start_daemon
    wait_or_fail "[ \$(sql 'SELECT count(*) FROM readings;') -ge $((n + 5)) ]" \
        10 "no readings recorded after the restart"
    dbsafety_modes "0644 files after a start"
    grep -q "readable by others (mode 0644)" "$T/daemon.err" ||
        fail "the daemon did not log that it narrowed the mode"
    stop_daemon
}

# dbsafety_refused DB PATTERN: verify, export and status on DB each exit
# 1 with one line on stderr that names DB and matches PATTERN, and print
# nothing on stdout.
dbsafety_refused() {
    local db=$1 pat=$2 cmd rc
    for cmd in verify status "export --from 2020-01-01T00:00:00Z --to 2100-01-01T00:00:00Z"; do
        # shellcheck disable=SC2086
        timeout 10 "$BUILD/tbdaq" -d "$db" $cmd >"$T/o" 2>"$T/e"
        rc=$?
        [ "$rc" = 1 ] || fail "tbdaq ${cmd%% *} on $(basename "$db"): exit $rc, want 1: $(cat "$T/e")"
        [ "$(wc -l <"$T/e")" = 1 ] ||
            fail "tbdaq ${cmd%% *} on $(basename "$db"): want one line on stderr: $(cat "$T/e")"
        grep -qF "$db" "$T/e" && grep -qE "$pat" "$T/e" ||
            fail "tbdaq ${cmd%% *} on $(basename "$db"): '$(cat "$T/e")' does not name the file and /$pat/"
        [ ! -s "$T/o" ] || fail "tbdaq ${cmd%% *} on $(basename "$db") read it: $(head -2 "$T/o")"
    done
    echo "refused $(basename "$db"): $(cat "$T/e")"
}

# dbsafety_copy NAME SQL: a copy of the daemon's database changed by SQL.
dbsafety_copy() {
    local db=$T/$1
    sql "VACUUM INTO '$db';" || fail "cannot copy the database"
    SQL_DB=$db sql "$2" || fail "sqlite3 could not make $1"
    echo "$db"
}

case_db_crafted() {
    local db dir before after want
    dbsafety_record
    stop_daemon
    timeout 10 "$BUILD/tbdaq" -d "$T/t.db" verify >"$T/o" 2>&1 ||
        fail "verify of the daemon's database: $(cat "$T/o")"

    db=$(dbsafety_copy view.db "ALTER TABLE readings RENAME TO r0;
        CREATE VIEW readings AS SELECT * FROM r0;")
    dbsafety_refused "$db" "not a tbdaq database: 'readings' is a view, not a table"
    db=$(dbsafety_copy trigger.db "CREATE TRIGGER spy AFTER INSERT ON events
        BEGIN SELECT 1; END;")
    dbsafety_refused "$db" "not a tbdaq database: unexpected trigger 'spy'"
    db=$(dbsafety_copy column.db "ALTER TABLE readings DROP COLUMN raw;")
    dbsafety_refused "$db" "not a tbdaq database: table 'readings' has no column 'raw'"
    db=$(dbsafety_copy index.db "DROP INDEX readings_ts;
        CREATE INDEX readings_ts ON readings(ts_us) WHERE seq % 2 = 0;")
    dbsafety_refused "$db" "not a tbdaq database: index 'readings_ts' is not defined"
    db=$T/plain.db
    sqlite3 "$db" "CREATE TABLE readings (seq, value);" ||
        fail "sqlite3 could not make plain.db"
    dbsafety_refused "$db" "not a tbdaq database"
    db=$T/garbage.db
    head -c 8192 /dev/urandom >"$db"
    dbsafety_refused "$db" "file is not a database"

    # An auditor's copy, the file alone, in a directory of its own:
    # verified, with nothing created beside it.
    dir=$T/audit
    mkdir "$dir"
    # The daemon has stopped: its file holds every commit, in WAL mode.
    cp "$T/t.db" "$dir/copy.db"
    chmod 0444 "$dir/copy.db"
    before=$(ls -A "$dir")
    timeout 10 "$BUILD/tbdaq" -d "$dir/copy.db" verify >"$T/o" 2>&1 ||
        fail "verify of a copy alone: $(cat "$T/o")"
    grep -q "^chain ok" "$T/o" || fail "verify of a copy alone printed: $(cat "$T/o")"
    timeout 10 "$BUILD/tbdaq" -d "$dir/copy.db" status >"$T/o" 2>&1 ||
        fail "status of a copy alone: $(cat "$T/o")"
    after=$(ls -A "$dir")
    [ "$before" = "$after" ] ||
        fail "reading a copy alone created files beside it: $(echo $after)"
    echo "copy alone: $(head -1 "$T/o"); directory still holds: $before"

    # A missed reading is counted in the manifest (the chain is not
    # checked by export).
    db=$(dbsafety_copy missed.db "INSERT INTO readings (sensor_id, ts_us,
        quality, error) SELECT sensor_id, max(ts_us) + 1, 'missed',
        'bus busy' FROM readings;")
    timeout 10 "$BUILD/tbdaq" -d "$db" export --from 2020-01-01T00:00:00Z \
        --to 2100-01-01T00:00:00Z -o "$T/x.csv" >"$T/o" 2>&1 ||
        fail "export with a missed reading: $(cat "$T/o")"
    # every missed reading of the copy: the crafted one, and any slot the
    # daemon really missed while recording on a busy machine
    want=$(SQL_DB=$db sql "SELECT count(*) FROM readings WHERE quality = 'missed';")
    [ "$want" -ge 1 ] || fail "the crafted missed reading is not in the copy"
    [ "$(jq '[.sensors[].counts.missed] | add' "$T/x.csv.manifest.json")" = "$want" ] ||
        fail "the manifest does not count the $want missed readings: $(grep -o '"counts":{[^}]*}' "$T/x.csv.manifest.json")"
    grep -q ',missed,bus busy' "$T/x.csv" ||
        fail "the export has no missed row with its error: $(tail -2 "$T/x.csv")"
    echo "manifest: $(grep -o '"counts":{[^}]*}' "$T/x.csv.manifest.json")"
}

EXTRA_CASES+=(file_modes db_crafted)
