# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of "exact runs" at a run's edges (SPEC Evidence: a
# reading belongs to a run when it was taken between the daemon's handling
# of `run start` and of `run stop`). A reading's ts_us is when it was
# taken, so a run holds exactly the rows with started_us <= ts_us <
# ended_us (no clock step here). A slow device makes its poller push rows
# well after they were taken: while a 700 ms request runs, the 100 ms
# slots that pass become `missed` rows stamped with each slot's own time,
# pushed when the request ends. A run started and stopped in the middle of
# such requests must still hold exactly those rows: none taken before the
# start that was pushed after it, every one taken before the stop that was
# pushed after it. The export, `verify --run`, the manifest and `run list`
# are checked against a plain sqlite3 query of the file, and the slow
# sensor must have one row per 100 ms slot of the run. Sourced by run.sh
# after lib.sh, with the other cases_*.sh (ctq, ctq_want: cases_control.sh);
# each case_NAME runs in its own subshell with $T set.

# The slow unit answers this late; its bus waits this long for an answer.
EDGES_DELAY_MS=700
EDGES_TIMEOUT_MS=2000
# Readings of the fast sensor taken in the run before it is stopped
# (100 ms each: about 1.5 s).
EDGES_FAST_READINGS=15
# Where in the slow sensor's request (ms after it was sent, which is when
# its previous reading was taken) the run is started and stopped: both
# inside the request, after some of its slots passed, so that rows taken
# before the start and before the stop are still held by the poller. The
# start is later in its request than the stop, so that a membership by
# seq gains more rows at the start than it loses at the stop, and the
# counts (verify, manifest, run list) differ from the true one too.
EDGES_START_PHASE_MS="450 600"
EDGES_STOP_PHASE_MS="250 400"

# edges_phase FROM_MS TO_MS: true if now is FROM..TO ms after the slow
# sensor's newest committed good reading (the time its next request was
# sent: a reading held past its next slot is pushed, and that slot's
# request sent, at once).
edges_phase() {
    local last age
    last=$(sql "SELECT max(r.ts_us) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'SLOW' AND r.quality = 'good';") ||
        return 1
    [ -n "$last" ] || return 1
    age=$(($(now_us) - last))
    ((age >= $1 * 1000 && age <= $2 * 1000))
}

# edges_problem TEXT: records a failed assertion (all are checked, then
# the case fails naming each).
edges_problem() {
    echo "PROBLEM: $*"
    EDGES_PROBLEMS+=("$*")
}

# edges_describe SEQ...: each reading as "seq N TAG QUALITY ts S-x ms",
# its time relative to the run's start S or end E.
edges_describe() {
    local list
    (($# > 0)) || return 0
    list=$(printf '%s,' "$@")
    sql "SELECT printf('seq %d %s %s ts %s', r.seq, s.tag, r.quality,
            CASE WHEN r.ts_us < $EDGES_S
                 THEN printf('S-%.1fms', ($EDGES_S - r.ts_us) / 1000.0)
                 WHEN r.ts_us >= $EDGES_E
                 THEN printf('E+%.1fms', (r.ts_us - $EDGES_E) / 1000.0)
                 ELSE printf('E-%.1fms', ($EDGES_E - r.ts_us) / 1000.0) END)
         FROM readings r JOIN sensors s ON s.id = r.sensor_id
         WHERE r.seq IN (${list%,}) ORDER BY r.seq;" | paste -sd, - |
        sed 's/,/, /g'
}

# edges_slots SEQS_FILE: of the SLOW rows among the seqs in SEQS_FILE (their
# times from $T/all.tsv), prints how many there are, then each 100 ms slot
# of the wall clock's grid wholly inside [S, E) that has not exactly one,
# as "Xms-before-E:ROWS". Slots are counted from the first whole one (mawk's
# int() stops at 2^31).
edges_slots() {
    local base=$(((EDGES_S + 99999) / 100000 * 100000))
    awk -F'\t' -v b="$base" -v e="$EDGES_E" '
        FNR == NR { got[$1] = 1; next }
        !($1 in got) || $2 != "SLOW" { next }
        { n++; if ($3 >= b) c[int(($3 - b) / 100000)]++ }
        END {
            printf "%d", n
            for (k = 0; b + (k + 1) * 100000 <= e; k++)
                if (c[k] != 1)
                    printf " %.1fms-before-E:%d", (e - b - k * 100000) / 1000, c[k]
            printf "\n"
        }' "$1" "$T/all.tsv"
}

# A run started and stopped while the slow sensor's request is under way
# (see above); the fast sensor on a bus of its own keeps pushing
# meanwhile. Every assertion is independent of tbdaq's membership code:
# the truth is `ts_us >= started_us AND ts_us < ended_us` in sqlite3.
case_run_edges() {
    local t0 t_start t_stop first last n rows cnt listed missing extra
    local early late outside slow_n slots slot_bad
    EDGES_PROBLEMS=()
    start_sim --port 0 --units 2
    sim_ctl "delay 1 $EDGES_DELAY_MS"
    conf_tcp_bus slow "$EDGES_TIMEOUT_MS"
    conf_tcp_bus fast
    sim_sensor SLOW slow 1 holding flow 20 100
    sim_sensor FAST fast 2 holding pressure 20 100
    conf_write "$T/t.conf" "commit_interval_ms = 50;"
    start_daemon
    wait_or_fail "ctq status; grep -q '^tbdaqd: running since ' '$T/o'" 10 \
        "tbdaq status does not see the daemon running"
    # The delay works: slow requests leave missed slots between readings.
    TAGS=SLOW wait_or_fail "min_readings 2 good" 15 \
        "SLOW got fewer than 2 good readings"
    wait_or_fail "[ \$(count_readings SLOW missed) -ge 6 ]" 10 \
        "SLOW has no missed slots: the simulator's delay did not take"

    wait_or_fail "edges_phase $EDGES_START_PHASE_MS" 10 \
        "never $EDGES_START_PHASE_MS ms into a SLOW request"
    t0=$(now_us)
    ctq run start E1
    ctq_want 0 "" "run start E1"
    EDGES_S=$(sql "SELECT started_us FROM runs WHERE name = 'E1';")
    [ -n "$EDGES_S" ] || fail "run E1 has no start"
    t_start=$(((EDGES_S - t0) / 1000))
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'FAST'
        AND r.ts_us >= $EDGES_S;\") -ge $EDGES_FAST_READINGS ]" 15 \
        "fewer than $EDGES_FAST_READINGS FAST readings in E1"
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'SLOW' AND r.quality = 'good'
        AND r.ts_us >= $EDGES_S;\") -ge 1 ]" 15 "no good SLOW reading in E1"
    wait_or_fail "edges_phase $EDGES_STOP_PHASE_MS" 10 \
        "never $EDGES_STOP_PHASE_MS ms into a SLOW request"
    t0=$(now_us)
    ctq run stop E1
    ctq_want 0 "" "run stop E1"
    EDGES_E=$(sql "SELECT ended_us FROM runs WHERE name = 'E1';")
    [ -n "$EDGES_E" ] || fail "run E1 has no end after run stop"
    t_stop=$(((EDGES_E - t0) / 1000))
    wait_or_fail "[ -n \"\$(sql \"SELECT chain_head FROM runs WHERE name = 'E1'
        AND chain_head IS NOT NULL;\")\" ]" 15 "run E1 was not sealed"
    # Every straggler taken before the stop is committed by now.
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings r JOIN sensors s
        ON s.id = r.sensor_id WHERE s.tag = 'SLOW'
        AND r.ts_us >= $EDGES_E + 1000000;\") -ge 1 ]" 15 \
        "no SLOW row taken 1 s after E1's end"
    [ "$(sql "SELECT count(*) FROM events WHERE kind = 'clock_step';")" = 0 ] ||
        fail "the wall clock stepped during the case; exact runs by time hold only without a step"

    read -r first last <<<"$(sql "SELECT ifnull(first_seq, '-'),
        ifnull(last_seq, '-') FROM runs WHERE name = 'E1';" | tr '\t' ' ')"
    early=$(sql "SELECT count(*) FROM readings WHERE ts_us < $EDGES_S
        AND seq >= ${first/-/0};")
    late=$(sql "SELECT count(*) FROM readings WHERE ts_us < $EDGES_E
        AND seq > ${last/-/0};")
    echo "E1: started $EDGES_S (${t_start} ms after asking), ended $EDGES_E" \
        "(${t_stop} ms after asking), $(((EDGES_E - EDGES_S) / 1000)) ms;" \
        "seqs $first..$last; rows taken before the start from seq $first on:" \
        "$early; rows taken before the end after seq $last: $late"

    sql "SELECT seq FROM readings WHERE ts_us >= $EDGES_S
        AND ts_us < $EDGES_E ORDER BY seq;" >"$T/want.seqs"
    n=$(wc -l <"$T/want.seqs")
    ((n > 0)) || fail "no reading in E1's [started, ended) at all"
    sql "SELECT r.seq, s.tag, r.ts_us, r.quality FROM readings r
        JOIN sensors s ON s.id = r.sensor_id ORDER BY r.seq;" >"$T/all.tsv"

    # 1. The export holds exactly the rows taken in [started, ended).
    ctq export --run E1 --format csv -o "$T/e1.csv"
    ctq_want 0 "" "export --run E1"
    [ "$(head -1 "$T/e1.csv" | tr -d '\r' | cut -d, -f1)" = seq ] ||
        fail "the CSV export's first column is not seq: $(head -1 "$T/e1.csv")"
    tail -n +2 "$T/e1.csv" | tr -d '\r' | cut -d, -f1 | sort -n >"$T/got.seqs"
    rows=$(wc -l <"$T/got.seqs")
    if ! cmp -s "$T/got.seqs" "$T/want.seqs"; then
        mapfile -t missing < <(comm -13 <(sort "$T/got.seqs") \
            <(sort "$T/want.seqs") | sort -n)
        mapfile -t extra < <(comm -23 <(sort "$T/got.seqs") \
            <(sort "$T/want.seqs") | sort -n)
        edges_problem "export --run E1 has $rows rows, the database $n" \
            "taken in [started, ended) (S=$EDGES_S, E=$EDGES_E):" \
            "${#missing[@]} missing [$(edges_describe "${missing[@]}")]," \
            "${#extra[@]} extra [$(edges_describe "${extra[@]}")]"
    fi

    # 2. No exported row was taken outside [started, ended).
    outside=$(awk -F'\t' -v s="$EDGES_S" -v e="$EDGES_E" '
        FNR == NR { got[$1] = 1; next }
        ($1 in got) && ($3 < s || $3 >= e) { printf "%s ", $1 }
    ' "$T/got.seqs" "$T/all.tsv")
    if [ -n "$outside" ]; then
        read -r -a outside <<<"$outside"
        edges_problem "export --run E1 holds ${#outside[@]} rows taken" \
            "outside [started, ended): $(edges_describe "${outside[@]}")"
    fi

    # 3. verify --run passes and counts the same readings.
    ctq verify --run E1
    if [ "$RC" != 0 ]; then
        edges_problem "verify --run E1 exit $RC: $(head -2 "$T/e" "$T/o" | tr '\n' ' ')"
    else
        cnt=$(sed -n 's/^chain ok: [0-9]* batches, \([0-9]*\) readings.*$/\1/p' "$T/o")
        [ "$cnt" = "$n" ] ||
            edges_problem "verify --run E1 counts '$cnt' readings, the database" \
                "$n in [started, ended)"
    fi

    # 4. The manifest's rows.
    cnt=$(grep -o '"rows": *[0-9]*' "$T/e1.csv.manifest.json" | grep -o '[0-9]*$')
    [ "$cnt" = "$n" ] ||
        edges_problem "the manifest of export --run E1 says rows '$cnt', the" \
            "database has $n in [started, ended)"

    # 5. The slow sensor has one row (reading or missed) per 100 ms slot of
    # the run: as many as slots (+- 1 for the slots the edges cut), and
    # each slot wholly inside the run exactly one. The same count of the
    # database's own rows in [started, ended) goes to the log: a slot
    # without its row there would be the poller's fault, not the run's.
    slots=$(((EDGES_E - EDGES_S + 50000) / 100000))
    read -r slow_n slot_bad <<<"$(edges_slots "$T/got.seqs")"
    echo "SLOW in [started, ended): $slots slots; rows and slots without" \
        "exactly one: export: $slow_n ${slot_bad:-none};" \
        "database: $(edges_slots "$T/want.seqs")"
    ((slow_n >= slots - 1 && slow_n <= slots + 1)) ||
        edges_problem "SLOW has $slow_n rows in export --run E1, want" \
            "$slots +- 1 (one per 100 ms slot of $(((EDGES_E - EDGES_S) / 1000)) ms)"
    [ -z "$slot_bad" ] ||
        edges_problem "SLOW's 100 ms slots inside E1 without exactly one" \
            "exported row (its start before the end: rows): $slot_bad"

    # 6. run list counts the same readings.
    ctq run list
    ctq_want 0 "" "run list"
    listed=$(awk '$1 == "E1" { print $5 }' "$T/o")
    [ "$listed" = "$n" ] ||
        edges_problem "run list shows '$listed' readings for E1, the" \
            "database has $n in [started, ended): $(grep '^E1 ' "$T/o")"

    stop_daemon
    if ((${#EDGES_PROBLEMS[@]} > 0)); then
        local msg
        msg=$(printf '%s; ' "${EDGES_PROBLEMS[@]}")
        fail "E1 is not exactly its rows in [started, ended): ${msg%; }"
    fi
}

EXTRA_CASES+=(run_edges)
