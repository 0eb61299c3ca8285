# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 11, "Chain witness": the daemon publishes its
# chain head, retained, on <prefix>/<site>/chain every witness_interval_s
# and at stop; `tbdaq verify --witness FILE` holds a database to the
# witnesses a subscriber kept (`mosquitto_sub -v` lines), and catches what
# verify alone cannot: a tail cut off, or cut off and recorded again.
# Sourced by run.sh after lib.sh; case_witness runs in its own subshell
# with $T set.

# wit_tbq DB ARGS...: `tbdaq -d DB ARGS`; stdout in $T/o, stderr in $T/e,
# the exit status in RC.
wit_tbq() {
    local db=$1
    shift
    timeout 30 "$BUILD/tbdaq" -d "$db" "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# wit_expect RC_WANT PATTERN WHAT: the last wit_tbq exited RC_WANT and, if
# PATTERN is not empty, its stderr has a line matching it (grep -E).
wit_expect() {
    [ "$RC" = "$1" ] ||
        fail "$3: exit $RC, want $1 (stderr: $(head -3 "$T/e" | tr '\n' ' '))"
    if [ -n "$2" ]; then
        grep -qE -e "$2" "$T/e" ||
            fail "$3: stderr '$(head -3 "$T/e" | tr '\n' ' ')' does not match '$2'"
    fi
}

# wit_chain_seqs FILE: "LINE SEQ" for every chain witness line of FILE.
wit_chain_seqs() {
    awk '$1 ~ /\/chain$/ && match($2, /^\{"seq":[0-9]+,/) {
        print NR, substr($2, 8, RLENGTH - 8) }' "$1"
}

# wit_copy NAME: a copy of the case's database in $T/NAME.db (sqlite3's
# backup: consistent while nothing writes).
wit_copy() {
    rm -f "$T/$1.db"
    sql ".backup '$T/$1.db'" || fail "cannot copy the database to $1.db"
}

# wit_cut DB SEQ: what a tamperer does to drop the tail after SEQ: the
# immutability trigger dropped, the readings and batches after SEQ
# deleted, the seq counter wound back, the trigger put back as it was.
wit_cut() {
    local trig
    trig=$(SQL_DB=$1 sql "SELECT sql FROM sqlite_master
        WHERE type = 'trigger' AND name = 'readings_immutable';")
    [ -n "$trig" ] || fail "no trigger readings_immutable in $1"
    SQL_DB=$1 sql "DROP TRIGGER readings_immutable;
        DELETE FROM readings WHERE seq > $2;
        DELETE FROM batches WHERE last_seq > $2;
        UPDATE sqlite_sequence SET seq = $2 WHERE name = 'readings';
        $trig;" || fail "sqlite3 could not cut $1 after seq $2"
}

case_witness() {
    local n last seq cut line first out
    need_mqtt
    start_broker
    start_sim --port 0 --units 1
    conf_tcp_bus plant
    sim_sensor F1 plant 1 holding flow 20 50
    sim_sensor P1 plant 1 input pressure 0 100
    conf_write "$T/t.conf" "$(conf_mqtt)" "witness_interval_s = 1;" \
        "commit_interval_ms = 50;"
    # The witnesses, as an auditor keeps them: mosquitto_sub -v.
    n=$(count_lines ": itest-wsub 1 tbdaq/$SITE/runs/+" "$T/broker.log")
    spawn wsub mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -i itest-wsub \
        -q 1 -v -t "tbdaq/$SITE/chain" -t "tbdaq/$SITE/runs/+"
    wait_or_fail "[ \$(count_lines ': itest-wsub 1 tbdaq/$SITE/runs/+' '$T/broker.log') -gt $n ]" \
        10 "the witness subscriber did not subscribe"
    start_daemon

    wait_or_fail "[ \$(wit_chain_seqs '$T/wsub.out' | wc -l) -ge 2 ]" 10 \
        "fewer than 2 chain witnesses in 3 s of witness_interval_s = 1"
    "$BUILD/tbdaq" -d "$T/t.db" run start W1 >"$T/o" 2>&1 ||
        fail "run start failed: $(cat "$T/o")"
    wait_or_fail "min_readings 30" 10 "fewer than 30 readings per sensor"
    "$BUILD/tbdaq" -d "$T/t.db" run stop >"$T/o" 2>&1 ||
        fail "run stop failed: $(cat "$T/o")"
    wait_or_fail "grep -q '^tbdaq/$SITE/runs/W1 {' '$T/wsub.out'" 10 \
        "no sealed run W1 on tbdaq/$SITE/runs/W1"
    n=$(wit_chain_seqs "$T/wsub.out" | wc -l)
    wait_or_fail "[ \$(wit_chain_seqs '$T/wsub.out' | wc -l) -ge $((n + 3)) ]" \
        10 "fewer than 3 chain witnesses after the run"
    stop_daemon

    # The witness at stop: the last seq, live and retained.
    last=$(sql "SELECT max(seq) FROM readings;")
    wait_or_fail "[ \"\$(wit_chain_seqs '$T/wsub.out' | tail -1 | cut -d' ' -f2)\" = $last ]" \
        5 "the last chain witness is not of the last seq $last: $(tail -1 "$T/wsub.out")"
    out=$(mqtt_get "tbdaq/$SITE/chain")
    [[ $out =~ ^1\ \{\"seq\":$last,\"head\":\"$(sql "SELECT hash FROM batches
        ORDER BY id DESC LIMIT 1;")\",\"ts\":\"[0-9-]+T[0-9:.]+Z\"\}$ ]] ||
        fail "retained chain witness after SIGTERM: '$out', want seq $last and the last batch's hash"
    stop_pid "$PID_wsub"
    cp "$T/wsub.out" "$T/w.txt"
    # Witnesses come at least a second apart, in seq order.
    wit_chain_seqs "$T/w.txt" | awk '$2 <= prev { exit 1 } { prev = $2 }' ||
        fail "chain witnesses out of seq order: $(cut -c1-60 "$T/w.txt" | tr '\n' '|')"
    n=$(wc -l <"$T/w.txt")
    echo "$n witness lines, the last at seq $last"

    wit_tbq "$T/t.db" verify --witness "$T/w.txt"
    wit_expect 0 "" "verify --witness of the recording database"
    grep -q "^witnesses ok: $n in '$T/w.txt', the newest at seq $last\$" "$T/o" ||
        fail "verify --witness printed '$(cat "$T/o")'"
    grep -q "^chain ok: " "$T/o" || fail "verify --witness did not verify the chain: $(cat "$T/o")"

    # Cut after the third-last chain witness: two witnesses lie beyond.
    read -r line cut <<<"$(wit_chain_seqs "$T/w.txt" | tail -3 | head -1)"
    read -r first seq <<<"$(wit_chain_seqs "$T/w.txt" | tail -2 | head -1)"
    wit_copy cut
    wit_cut "$T/cut.db" "$cut"
    wit_tbq "$T/cut.db" verify
    wit_expect 0 "" "plain verify of a database cut after seq $cut"
    wit_tbq "$T/cut.db" verify --witness "$T/w.txt"
    wit_expect 1 "^tbdaq: .*w\.txt:$first: seq $seq: the database ends at seq $cut, before this witness" \
        "verify --witness of the database cut after seq $cut"
    [ "$(grep -c 'w\.txt:[0-9]*: seq' "$T/e")" = 2 ] ||
        fail "want 2 witnesses named beyond the cut: $(tr '\n' '|' <"$T/e")"

    # Cut, and recorded again from there by a daemon (no MQTT): seqs
    # beyond the cut exist again, verify alone is satisfied, the chain is
    # not the witnessed one.
    wit_copy again
    wit_cut "$T/again.db" "$cut"
    CONF_DB=$T/again.db conf_write "$T/again.conf"
    spawn_daemon again "$T/again.conf" "$T/again.db"
    wait_or_fail "[ \$(SQL_DB='$T/again.db' sql 'SELECT max(seq) FROM readings;') -gt $((last + 20)) ]" \
        15 "the daemon on the cut copy did not record past seq $last"
    stop_daemon again
    wit_tbq "$T/again.db" verify
    wit_expect 0 "" "plain verify of a database cut and recorded again"
    wit_tbq "$T/again.db" verify --witness "$T/w.txt"
    wit_expect 1 "^tbdaq: .*w\.txt:$first: seq $seq: the database's chain differs from the witness" \
        "verify --witness of a database cut after seq $cut and recorded again"

    # One reading changed (trigger dropped): verify names its seq.
    seq=$(sql "SELECT min(seq) FROM readings WHERE value IS NOT NULL
               AND seq > $cut / 2;")
    wit_copy changed
    SQL_DB=$T/changed.db sql "DROP TRIGGER readings_immutable;
        UPDATE readings SET value = value + 1 WHERE seq = $seq;" ||
        fail "sqlite3 could not change seq $seq"
    wit_tbq "$T/changed.db" verify --witness "$T/w.txt"
    wit_expect 1 "seq $seq was changed" "verify --witness after an UPDATE of seq $seq"

    # Malformed witnesses: named by file and line, exit 1.
    { head -2 "$T/w.txt"; echo; echo "tbdaq/$SITE/chain {\"seq\":12,\"head\":\"abc\"}"; } >"$T/bad1.txt"
    wit_tbq "$T/t.db" verify --witness "$T/bad1.txt"
    wit_expect 1 "^tbdaq: .*bad1\.txt:4: \"head\" is not 64 lower-case hex digits" \
        "a witness with a short head"
    { echo "not json"; } >"$T/bad2.txt"
    wit_tbq "$T/t.db" verify --witness "$T/bad2.txt"
    wit_expect 1 "^tbdaq: .*bad2\.txt:1: " "a line that is no witness"
    { head -1 "$T/w.txt"; echo "tbdaq/other-site/chain $(head -1 "$T/w.txt" | cut -d' ' -f2-)"; } >"$T/bad3.txt"
    wit_tbq "$T/t.db" verify --witness "$T/bad3.txt"
    wit_expect 1 "^tbdaq: .*bad3\.txt:2: topic 'tbdaq/other-site/chain' is not of this database's site 'itest'" \
        "a witness of another site"
    : >"$T/empty.txt"
    wit_tbq "$T/t.db" verify --witness "$T/empty.txt"
    wit_expect 1 "holds no witness" "an empty witness file"
    wit_tbq "$T/t.db" verify --witness "$T/nonexistent.txt"
    wit_expect 1 "cannot read '.*nonexistent\.txt'" "a missing witness file"
    # Payloads alone, a run's seal among them, and blank lines: accepted.
    { echo; cut -d' ' -f2- "$T/w.txt"; echo "  "; } >"$T/bare.txt"
    wit_tbq "$T/t.db" verify --witness "$T/bare.txt"
    wit_expect 0 "" "verify --witness of payloads without topics"
}
EXTRA_CASES+=(witness)
