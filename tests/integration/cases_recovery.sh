# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 10: never stalled, never late. Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.
#
# - recover_after_outage: a TCP device gone for 8 s (the simulator stopped
#   by PID) comes back on the same port. Good readings resume at the first
#   or second slot after it listens again, because the poller tries to
#   connect at every slot (only the logging backs off); meanwhile every
#   slot is a comm_error reading.
# - missed_rows: a device frozen (SIGSTOP) behind a timeout three intervals
#   long: every slot that passes while a request runs is a `missed`
#   reading, on the wall-clock grid, so that every sensor has exactly one
#   reading per slot, in time order. Bus "solo" has one request (two
#   sensors read together); bus "pair" two, which take turns on the
#   frozen device, so each misses slots while the other one runs.
# Both fit the runner's default deadline (60 s): about 12 s and 8 s.

# Poll interval of these cases (ms) and how far a reading's time may be
# from where the grid puts it (ms): scheduling on a busy 2-core machine,
# or a sanitized build.
RECOVERY_INTERVAL_MS=200
RECOVERY_SLACK_MS=60
# How long the device stays away (s): long enough for the old reconnect
# back-off (100 ms doubling to 10 s) to be seconds late. Its attempts came
# 0.1, 0.3, 0.7, 1.5, 3.1, 6.3 and 12.7 s into the outage: a device back
# after 8 s waited 4.7 s for the next one, where the case allows two slots
# (0.4 s); 20 s, the length before, proved no more.
RECOVERY_OUTAGE_S=8

# recovery_first_good TAG AFTER_US: the time of TAG's first good reading
# taken after AFTER_US.
recovery_first_good() {
    sql "SELECT min(r.ts_us) FROM readings r JOIN sensors s
         ON s.id = r.sensor_id WHERE s.tag = '$1' AND r.quality = 'good'
         AND r.ts_us > $2;"
}

case_recover_after_outage() {
    local iv_us=$((RECOVERY_INTERVAL_MS * 1000)) slack_us
    local t_down t_spawn t_seen tag first late out n
    slack_us=$((RECOVERY_SLACK_MS * 1000))
    start_sim --port 0 --units 1
    conf_tcp_bus plant 200
    sim_sensor RA-i16 plant 1 holding flow 0 "$RECOVERY_INTERVAL_MS"
    sim_sensor RA-f32 plant 1 holding flow 20 "$RECOVERY_INTERVAL_MS"
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 5 good" 15 "no good readings at start"

    # The device goes away: nothing listens on its port any more.
    t_down=$(now_us)
    stop_pid "$PID_sim" || fail "the simulator ignored SIGTERM"
    wait_or_fail "grep -q \"bus 'plant' is down\" '$T/daemon.err'" 5 \
        "the daemon did not notice the device was gone"
    sleep "$RECOVERY_OUTAGE_S" # the outage lasts: a duration, not a wait
    # Back on the same port. It listens from some time between t_spawn
    # and t_seen (when its "listening on" line was seen).
    t_spawn=$(now_us)
    start_sim --port "$SIM_PORT" --units 1
    t_seen=$(now_us)
    for tag in RA-i16 RA-f32; do
        wait_or_fail "[ -n \"\$(recovery_first_good $tag $t_spawn)\" ]" 15 \
            "$tag: no good reading after the device came back"
    done
    wait_or_fail "[ \$(grep -c \"bus 'plant' is up again\" '$T/daemon.err') -ge 1 ]" \
        5 "no recovery logged"
    stop_daemon

    grep -c "bus 'plant' is down" "$T/daemon.err" | grep -qx 1 ||
        fail "the outage was logged more than once: $(grep -c "bus 'plant' is down" "$T/daemon.err") lines"
    for tag in RA-i16 RA-f32; do
        first=$(recovery_first_good "$tag" "$t_spawn")
        late=$(((first - t_seen) / 1000))
        echo "$tag: first good reading $late ms after the device's port was seen open again ($(((first - t_spawn) / 1000)) ms after it was started), after a $RECOVERY_OUTAGE_S s outage"
        # The slot under way when it listened, or the next one.
        ((first - t_seen <= 2 * iv_us + slack_us)) ||
            fail "$tag: first good reading $late ms after the device was back (interval $RECOVERY_INTERVAL_MS ms): not the first or second slot"
        # While it was away, one comm_error reading per slot, saying the
        # bus is not connected (from the second slot of the outage on:
        # the first may be the read that found the connection gone).
        out=$(sql "SELECT r.ts_us, r.quality, ifnull(r.value, 'NULL'),
                   ifnull(r.error, '') FROM readings r JOIN sensors s
                   ON s.id = r.sensor_id WHERE s.tag = '$tag'
                   AND r.ts_us > $t_down AND r.ts_us < $first ORDER BY r.seq;" |
            awk -F'\t' -v iv="$iv_us" -v sl="$slack_us" '
                NR > 1 && ($1 - prev < iv - sl || $1 - prev > iv + sl) {
                    printf "readings %d ms apart during the outage\n", ($1 - prev) / 1000; bad = 1; exit 1 }
                { prev = $1 }
                $2 != "comm_error" || $3 != "NULL" || $4 == "" {
                    print "a " $2 " reading (value " $3 ", error \"" $4 "\") during the outage"; bad = 1; exit 1 }
                NR > 1 && $4 !~ /^not connected: / {
                    print "error \"" $4 "\" during the outage, want not connected: ..."; bad = 1; exit 1 }
                END { if (!bad) print NR }') ||
            fail "$tag: $out"
        n=$out
        echo "$tag: $n comm_error readings, one per slot, while the device was away"
        ((n * RECOVERY_INTERVAL_MS >= (RECOVERY_OUTAGE_S - 1) * 1000)) ||
            fail "$tag: only $n readings over a $RECOVERY_OUTAGE_S s outage"
    done
}

case_missed_rows() {
    local iv=$RECOVERY_INTERVAL_MS iv_us slack_us tag out n missed ev solo
    iv_us=$((iv * 1000))
    slack_us=$((RECOVERY_SLACK_MS * 1000))
    start_sim --port 0 --units 1
    # A timeout of three intervals: each request that times out spans
    # three slots, two of which pass with no request.
    conf_tcp_bus solo $((3 * iv))
    conf_tcp_bus pair $((3 * iv))
    sim_sensor MR-i16 solo 1 holding flow 0 "$iv"
    sim_sensor MR-i16ba solo 1 holding flow 1 "$iv"
    sim_sensor MP-i16 pair 1 holding pressure 0 "$iv"
    sim_sensor MP-f32 pair 1 holding pressure 20 "$iv"
    conf_write "$T/t.conf" "commit_interval_ms = 100;"
    start_daemon
    wait_or_fail "min_readings 5 good" 15 "no good readings at start"
    kill -STOP "$PID_sim" || fail "cannot stop the simulator"
    wait_or_fail "min_readings 10 missed" 20 \
        "fewer than 10 missed readings per sensor while the device is frozen"
    kill -CONT "$PID_sim" || fail "cannot resume the simulator"
    n=$(sql "SELECT max(seq) FROM readings;")
    wait_or_fail "[ \$(sql \"SELECT count(*) FROM readings WHERE seq > $n
        AND quality = 'good'\") -ge 10 ]" 15 "no good readings after the device resumed"
    stop_daemon

    for tag in MR-i16 MR-i16ba MP-i16 MP-f32; do
        solo=0
        [[ $tag == MR-* ]] && solo=1
        # Every reading, in the order recorded: one per slot of the grid.
        # A missed reading is at its slot's own time, a whole multiple of
        # the interval; a good one just after its slot began; a timed-out
        # one a timeout (three slots) after. Slots [first, last] must be
        # covered once each: as many readings as slots, times increasing.
        out=$(sql "SELECT r.ts_us, r.quality, ifnull(r.value, 'NULL'),
                   ifnull(r.error, ''), ifnull(r.raw, '') FROM readings r
                   JOIN sensors s ON s.id = r.sensor_id
                   WHERE s.tag = '$tag' ORDER BY r.seq;" |
            awk -F'\t' -v iv="$iv_us" -v sl="$slack_us" -v solo="$solo" '
                function slot(t, q) {
                    if (q == "comm_error") t -= 3 * iv
                    return int(t / iv)
                }
                NR > 1 && $1 <= prev {
                    printf "reading at %.0f after one at %.0f: not in time order\n", $1, prev; exit 1 }
                $2 == "missed" {
                    if ($3 != "NULL" || $4 == "" || $5 != "") {
                        print "missed reading with value " $3 ", error \"" $4 "\", raw \"" $5 "\""; exit 1 }
                    if ($1 % iv != 0) {
                        printf "missed reading at %.0f: %.0f us off the %d ms grid\n", $1, $1 % iv, iv / 1000; exit 1 }
                    # inside the freeze the grid goes on: one interval
                    # apart (on bus pair a reading is a timeout after its
                    # slot, beside another slot missed meanwhile)
                    if (solo && pq != "good" && NR > 1 && ($1 - prev < iv - sl || $1 - prev > iv + sl)) {
                        printf "readings %d ms apart while frozen\n", ($1 - prev) / 1000; exit 1 }
                    m++
                }
                $2 == "comm_error" { c++ }
                NR == 1 { first = slot($1, $2) }
                { last = slot($1, $2); prev = $1; pq = $2; n++ }
                END { slots = last - first + 1
                      printf "%d readings (%d missed, %d comm_error) for %d slots\n", n, m, c, slots
                      if (n < slots - 1 || n > slots + 1) exit 1
                      if (m < 10 || m < 2 * c - 2) exit 1 }') ||
            fail "$tag: $out"
        echo "$tag: $out"
        missed=$(sql "SELECT count(*) FROM readings r JOIN sensors s
            ON s.id = r.sensor_id WHERE s.tag = '$tag' AND r.quality = 'missed';")
        ev=$(missed_slots "$tag")
        [ "$missed" = "$ev" ] ||
            fail "$tag: $missed missed readings, but the missed events count $ev slots"
    done
    out=$(sql "SELECT DISTINCT error FROM readings WHERE quality = 'missed';")
    echo "missed readings say: $out"
}

EXTRA_CASES+=(recover_after_outage missed_rows)
