# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Issue 14's sensor kinds end to end: the daemon reads coils, discrete
# inputs, `bit` sensors of status words and 64-bit integers from tbdaq-sim
# over Modbus TCP, RTU (a socat pty pair) and RTU over TCP, and what it
# records is checked against the simulator's documented map (`tbdaq-sim
# --help`): every value and every raw word, the bits that move with time
# judged by each reading's own timestamp, the requests the simulator
# logged (functions 1 and 2, one request for many bits, max_bits cutting
# one), the CSV export and `tbdaq verify`.
#
# The map, per unit u (t: the simulator's clock when it built the reply):
#   coils      0 on while floor(t / 5) is even; 1 on; 2 off; 3 on while
#              floor(t) is even; 8..15 u; 16..31 0x1234 (LSB first)
#   discrete   0 on while t mod 60 < 10; 1 on while t mod 60 >= 30; 2 on;
#              3 off; 8..15 255 - u; 16..31 0xabcd (LSB first)
#   holding    400 status word AB: bit 0 coil 0, bit 1 discrete 0, bit 2
#              discrete 1, bit 3 on while t mod 90 < 45, bits 4-7
#              floor(t) mod 16, bits 8-11 u mod 16, 12-14 off, 15 on;
#              401 the same word BA; 402 a5c3
#              500..528 the totaliser (litres through the flow since the
#              epoch) as uint64 then int64 in the four 64-bit orders;
#              540.. fixed 64-bit values, 560..572 0x0102030405060708 in
#              the four orders
#   bulk       coil 1000 + k is (floor(t) + k) mod 2, discrete the opposite

# How long before a reading's timestamp the simulator may have built its
# reply (us): a time rule is judged only where it did not change within
# it. The reply is built, sent and stamped within well under a
# millisecond on TCP; the lines of a pty pair are slower.
KINDS_EDGE_TCP_US=20000
KINDS_EDGE_RTU_US=100000
# The readings every sensor must have before the daemon is stopped: over
# 2 s of 100 ms slots, so that coil 3 and status bit 4 (one second each)
# are seen both ways.
KINDS_MIN_READINGS=25

# kinds_add TAG UNIT RULE ARGS... SETTINGS: one sensor and its rule in
# $T/kexp ("TAG UNIT RULE ARGS...", read by kinds_check).
kinds_add() {
    local tag=$1 u=$2 rule=$3 settings=${*: -1}
    local args=("${@:4:$#-4}")
    conf_sensor "id = \"$tag\"; kind = \"generic\"; $settings"
    echo "$tag $u $rule ${args[*]}" >>"$T/kexp"
}

# kinds_sensors BUS UNIT INTERVAL_MS: every new kind on one unit, tags
# prefixed U<unit>-:
#   C<a>, D<a>     coils and discrete inputs 0..3 and 8..31 (one request
#                  each, across the unused 4..7)
#   S<r><o><b>     bit b of status word r (400 AB, 401 BA, 402 AB and BA),
#                  every bit; W<r><o> the whole word beside them
#   T<a>           the totaliser's eight fields in m3 (scale 0.001), and
#                  L500 in litres
#   X<a>, Y<a>     the fixed 64-bit values; Y560.. the pattern as int64 on
#                  the input table
# The fixed 64-bit values' expectations go to $T/k64 ("TAG VALUE RAW",
# VALUE the double the exact value rounds to, as an SQL literal).
kinds_sensors() {
    local bus=$1 u=$2 iv=$3 p="U$2-" a b t o reg
    local on="bus = \"$bus\"; unit_id = $u; interval_ms = $iv;"
    for t in coil discrete; do
        for a in 0 1 2 3 $(seq 8 31); do
            # shellcheck disable=SC2046
            kinds_add "$p${t:0:1}$a" "$u" $(sim_bit_rule "$t" "$a" "$u") \
                "unit = \"on\"; table = \"$t\"; address = $a; $on"
        done
    done
    for reg in 400:AB 401:BA 402:AB 402:BA; do
        o=${reg#*:}
        reg=${reg%:*}
        for b in $(seq 0 15); do
            kinds_add "${p}S$reg$o$b" "$u" sbit "$reg" "$o" "$b" \
                "unit = \"bit\"; table = \"holding\"; address = $reg; type = \"uint16\"; byte_order = \"$o\"; bit = $b; $on"
        done
        kinds_add "${p}W$reg$o" "$u" sword "$reg" "$o" \
            "unit = \"x\"; table = \"holding\"; address = $reg; type = \"uint16\"; byte_order = \"$o\"; $on"
    done
    a=500
    for t in uint64 int64; do
        for o in ABCDEFGH GHEFCDAB BADCFEHG HGFEDCBA; do
            kinds_add "${p}T$a" "$u" tot "$o" 0.001 \
                "unit = \"m3\"; table = \"holding\"; address = $a; type = \"$t\"; byte_order = \"$o\"; scale = 0.001; $on"
            a=$((a + 4))
        done
    done
    kinds_add "${p}L500" "$u" tot ABCDEFGH 1 \
        "unit = \"L\"; table = \"input\"; address = 500; type = \"uint64\"; $on"
    while read -r a t o val raw; do
        kinds_add "${p}X$a" "$u" fixed64 \
            "unit = \"x\"; table = \"holding\"; address = $a; type = \"$t\"; byte_order = \"$o\"; $on"
        echo "${p}X$a $val $raw" >>"$T/k64"
    done <<'EOF'
540 uint64 ABCDEFGH 9007199254740992.0 0020 0000 0000 0001
544 int64 ABCDEFGH 9223372036854775808.0 7fff ffff ffff ffff
548 int64 ABCDEFGH -9223372036854775808.0 8000 0000 0000 0000
552 uint64 ABCDEFGH 18446744073709551616.0 ffff ffff ffff ffff
556 int64 ABCDEFGH -9007199254740992.0 ffdf ffff ffff ffff
560 uint64 ABCDEFGH 72623859790382848.0 0102 0304 0506 0708
564 uint64 GHEFCDAB 72623859790382848.0 0708 0506 0304 0102
568 uint64 BADCFEHG 72623859790382848.0 0201 0403 0605 0807
572 uint64 HGFEDCBA 72623859790382848.0 0807 0605 0403 0201
EOF
    for a in 560:ABCDEFGH 564:GHEFCDAB 568:BADCFEHG 572:HGFEDCBA; do
        o=${a#*:}
        a=${a%:*}
        kinds_add "${p}Y$a" "$u" fixed64 \
            "unit = \"x\"; table = \"input\"; address = $a; type = \"int64\"; byte_order = \"$o\"; $on"
        echo "${p}Y$a 72623859790382848.0 $(grep "^${p}X$a " "$T/k64" | cut -d' ' -f3-)" >>"$T/k64"
    done
}

# kinds_check EDGE_US: reads dump_readings lines of every sensor in
# $T/kexp and checks each against its rule. Every reading good (but slots
# missed while the bus was busy, at most one in ten: timing on a busy
# machine, not decoding); a bool's
# raw word 0000 or 0001 and its value that; a status word's raw word the
# register (AB or byte-swapped BA) with its fixed bits (402: a5c3; 400,
# 401: bit 15 on, 12-14 off, 8-11 the unit) and, where no time rule
# changed within EDGE_US before the timestamp, every bit; a bit sensor's
# value the bit of its raw word; a totaliser's value its raw words (read
# in its byte order) in m3 or litres, within a litre of the integral of
# the flow at the timestamp, never falling, the same in all its fields
# of one reply; time rules that must be seen both ways (coil 3, status
# bit 4) were. Prints a summary or the first problems; returns 1 on any.
kinds_check() {
    awk -F'\t' -v edge="$1" '
    function fmod(x, m) { return x - m * int(x / m) }
    function bit(w, b) { return int(w / 2 ^ b) % 2 }
    function hex(s,    i, v) {
        v = 0
        for (i = 1; i <= length(s); i++)
            v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
        return v
    }
    function boolrule(r, t) {
        if (r == "coil0") return int(t / 5) % 2 == 0
        if (r == "coil3") return int(t) % 2 == 0
        if (r == "disc0") return fmod(t, 60) < 10
        if (r == "disc1") return fmod(t, 60) >= 30
        if (r == "bulkc") return (int(t) + ra[tag]) % 2
        if (r == "bulkd") return 1 - (int(t) + ra[tag]) % 2
        return -1
    }
    # the status word at time t
    function word(reg, u, t,    w) {
        if (reg == 402) return 42435
        w = 32768 + (u % 16) * 256 + (int(t) % 16) * 16
        if (fmod(t, 90) < 45) w += 8
        if (fmod(t, 60) >= 30) w += 4
        if (fmod(t, 60) < 10) w += 2
        if (int(t / 5) % 2 == 0) w += 1
        return w
    }
    # litres through unit u flow meter since the epoch, at time t
    function litres(u, t,    pi) {
        pi = 3.14159265358979323846
        return int(((20 + u) * t - 5 * 60 / (2 * pi) * cos(2 * pi * fmod(t, 60) / 60)) / 3.6)
    }
    function bad(m) { nbad++; if (nbad <= 5) print tag " at " $2 ": " m }
    function swap(w) { return (w % 256) * 256 + int(w / 256) }
    # A status sensor: its raw word is the register as sent (400 the
    # word, 401 the word byte-swapped, 402 a5c3), checked against the
    # map; returns its value in the byte order O of the sensor.
    function statusword(reg, o, raw,    rw, w, t) {
        if (raw !~ /^[0-9a-f][0-9a-f][0-9a-f][0-9a-f]$/) { bad("raw \"" raw "\""); return -1 }
        rw = hex(raw)
        if (reg == 402) {
            if (rw != 42435) bad("raw " raw ", want a5c3")
        } else {
            w = reg == 401 ? swap(rw) : rw
            if (bit(w, 15) != 1 || int(w / 4096) % 8 != 0 || int(w / 256) % 16 != un[tag] % 16)
                bad(sprintf("status word %04x (raw %s): fixed bits wrong for unit %d", w, raw, un[tag]))
            t = $2 / 1e6
            if (word(reg, un[tag], t) == word(reg, un[tag], t - edge / 1e6)) {
                judged++
                if (w != word(reg, un[tag], t))
                    bad(sprintf("status word %04x, want %04x at its time", w, word(reg, un[tag], t)))
            }
        }
        return o == "BA" ? swap(rw) : rw
    }
    FILENAME == ARGV[1] {
        n0 = split($0, a, " "); t = a[1]; un[t] = a[2]; rule[t] = a[3]
        ra[t] = a[4]; rb[t] = a[5]; rc[t] = a[6]; next
    }
    !($1 in rule) { next }
    {
        tag = $1; r = rule[tag]; n[tag]++; t = $2 / 1e6
        # A slot missed because the line was still busy is timing (a
        # busy machine), not decoding: counted, at most one slot in ten.
        if ($4 == "missed" && $5 ~ /^bus busy/) { busy++; n[tag]--; next }
        if ($4 != "good") { bad("quality " $4 " " $5); next }
        if (r == "fix" || r ~ /^(coil|disc|bulk)/) {
            if ($6 != "0000" && $6 != "0001") bad("raw \"" $6 "\" of a bool")
            else if ($3 != hex($6)) bad("value " $3 " with raw " $6)
            if (r == "fix") { if ($3 != ra[tag]) bad("value " $3 ", want " ra[tag]); next }
            if (boolrule(r, t) == boolrule(r, t - edge / 1e6)) {
                judged++
                if ($3 != boolrule(r, t)) bad("value " $3 ", want " boolrule(r, t) " by rule " r)
            }
            seen[tag, $3 + 0] = 1
            next
        }
        if (r == "sbit" || r == "sword") {
            w = statusword(ra[tag], rb[tag], $6)
            if (w < 0) next
            want = r == "sbit" ? bit(w, rc[tag]) : w
            if ($3 != want) bad("value " $3 " with raw " $6 " (" rb[tag] "), want " want)
            seen[tag, $3 + 0] = 1
            # the bit sensors of one register share one reply
            k = un[tag] SUBSEP ra[tag] SUBSEP rb[tag] SUBSEP $2
            if ((k in raws) && raws[k] != $6) bad("raw " $6 " beside " raws[k] " in the same reply")
            raws[k] = $6
            next
        }
        if (r == "tot") {
            nw = split($6, ww, " ")
            if (nw != 4) { bad("raw \"" $6 "\" of a 64-bit value"); next }
            v = 0
            for (i = 1; i <= 8; i++) {
                byte[i] = int(hex(ww[int((i + 1) / 2)]) / (i % 2 ? 256 : 1)) % 256
            }
            for (i = 1; i <= 8; i++)
                v += byte[i] * 256 ^ (8 - index("ABCDEFGH", substr(ra[tag], i, 1)))
            if (rb[tag] == 1 && $3 != v) bad(sprintf("value %s, its raw words say %.0f", $3, v))
            if (rb[tag] != 1 && (($3 * 1000 - v) > 0.5 || (v - $3 * 1000) > 0.5))
                bad(sprintf("value %s m3, its raw words say %.0f L", $3, v))
            lo = litres(un[tag], t - edge / 1e6) - 1; hi = litres(un[tag], t) + 1
            if (v < lo || v > hi) bad(sprintf("%.0f L, want %.0f..%.0f", v, lo, hi))
            if ((tag in last) && v < last[tag]) bad(sprintf("%.0f L after %.0f L", v, last[tag]))
            if (!(tag in first)) first[tag] = v
            last[tag] = v; judged++
            k = un[tag] SUBSEP $2
            if ((k in tot) && tot[k] != v) bad(sprintf("%.0f L beside %.0f L in the same reply", v, tot[k]))
            tot[k] = v
            next
        }
    }
    END {
        for (t in rule) {
            if (!(t in n)) { print "no readings of " t; nbad++ }
            if ((rule[t] == "coil3" || (rule[t] == "sbit" && ra[t] != 402 && rc[t] == 4)) &&
                !((t, 0) in seen && (t, 1) in seen)) {
                print t " was not seen both on and off"; nbad++
            }
            if (rule[t] == "tot" && last[t] <= first[t]) {
                printf "%s did not grow: %.0f .. %.0f L\n", t, first[t], last[t]; nbad++
            }
        }
        c = 0; for (t in n) { c += n[t]; s++ }
        if (busy * 10 > c + busy) {
            printf "%d of %d slots missed with the bus busy\n", busy, c + busy; nbad++
        }
        if (nbad) exit 1
        printf "%d readings of %d sensors match the map; %d judged against the clock; %d slots missed with the bus busy\n", c, s, judged, busy
    }' "$T/kexp" -
}

# kinds_check_64: every good reading of the fixed 64-bit sensors
# ($T/k64) is the double nearest the exact value, with the exact bits in
# its raw words (a slot missed while the bus was busy has no value:
# kinds_check bounds those; one counted here failed 3 runs in 8 of CI).
kinds_check_64() {
    local tag val raw n
    while read -r tag val raw; do
        n=$(sql "SELECT count(*), count(*) FILTER (WHERE r.value = $val
                   AND r.raw = '$raw') FROM readings r JOIN sensors s
                 ON s.id = r.sensor_id WHERE s.tag = '$tag'
                 AND r.quality = 'good';")
        [ "${n%%$'\t'*}" -gt 0 ] || fail "no good readings of $tag"
        [ "${n%%$'\t'*}" = "${n##*$'\t'}" ] ||
            fail "$tag: $((${n%%$'\t'*} - ${n##*$'\t'})) of ${n%%$'\t'*} good readings are not $val with raw '$raw', e.g. $(sql "SELECT printf('%!.20g', r.value), r.raw FROM readings r JOIN sensors s ON s.id = r.sensor_id WHERE s.tag = '$tag' AND r.quality = 'good' AND (r.value <> $val OR r.raw IS NOT '$raw') LIMIT 1;")"
    done <"$T/k64"
}

# kinds_requests UNIT FUNCTION 'ADDRESS COUNT'... TAG: the simulator's log
# ($T/sim.log) holds requests of UNIT with FUNCTION of exactly these
# shapes, each about as many times as TAG has readings (one request per
# slot: the last answered may not have been recorded).
kinds_requests() {
    local u=$1 fc=$2 tag=${*: -1} shapes=("${@:3:$#-3}") got want s n r
    got=$(awk -v u="$u" -v fc="$fc" '$2 == u && $3 == fc { print $4, $5 }' \
        "$T/sim.log" | sort -u | tr '\n' ',')
    want=$(printf '%s\n' "${shapes[@]}" | sort -u | tr '\n' ',')
    [ "$got" = "$want" ] ||
        fail "unit $u function $fc: requests (address count) '${got%,}', want '${want%,}'"
    r=$(count_readings "$tag")
    for s in "${shapes[@]}"; do
        n=$(awk -v u="$u" -v fc="$fc" -v s="$s" \
            '$2 == u && $3 == fc && ($4 " " $5) == s' "$T/sim.log" | wc -l)
        ((n >= r && n <= r + 1)) ||
            fail "unit $u function $fc $s: $n requests for $r readings of $tag"
    done
    echo "unit $u function $fc: ${#shapes[@]} request(s) per slot (${want%,}), $r slots"
}

# kinds_run_and_check EDGE_US UNIT...: runs the daemon on $T/t.conf until
# every sensor has KINDS_MIN_READINGS readings, stops it, and checks what
# it recorded for each UNIT: values (kinds_check, kinds_check_64) and the
# requests the simulator logged: coils 0..31 and discrete inputs 0..31 in
# one request each per slot, the three status words in one.
kinds_run_and_check() {
    local edge=$1 u
    shift
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/check.out" 2>&1 ||
        fail "tbdaqd -t: $(head -5 "$T/check.out")"
    cut -d' ' -f1 "$T/kexp" >"$T/tags"
    start_daemon
    wait_or_fail "TAGS=\$(cat '$T/tags') min_readings $KINDS_MIN_READINGS" 40 \
        "fewer than $KINDS_MIN_READINGS readings per sensor"
    stop_daemon
    dump_readings >"$T/readings"
    kinds_check "$edge" <"$T/readings" >"$T/kcheck" ||
        fail "readings against the map: $(head -5 "$T/kcheck" | tr '\n' ';')"
    cat "$T/kcheck"
    kinds_check_64
    for u in "$@"; do
        kinds_requests "$u" 1 "0 32" "U$u-c3"
        kinds_requests "$u" 2 "0 32" "U$u-d3"
        grep -q "unit $u fc3 holding 400..402 (3 registers) every" "$T/check.out" ||
            fail "no one request for the status words of unit $u: $(grep "unit $u fc3" "$T/check.out")"
        [ "$(awk -v u="$u" '$2 == u && $3 == 3 && $4 <= 402 && $4 + $5 > 400 { print $4, $5 }' \
            "$T/sim.log" | sort -u)" = "400 3" ] ||
            fail "unit $u: the status words were read by other requests than one of 400..402"
    done
}

# Over Modbus TCP, unit 2, every 100 ms; then the CSV export of the
# readings and tbdaq verify.
case_kinds_tcp() {
    local from to n
    start_sim --port 0 --units 2 --log "$T/sim.log"
    conf_tcp_bus plant
    kinds_sensors plant 2 100
    conf_write "$T/t.conf"
    from=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
    kinds_run_and_check $((KINDS_EDGE_TCP_US * TIMING_TOL_US / 5000)) 2
    to=$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S.%6NZ)

    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" export --from "$from" --to "$to" \
        -o "$T/x.csv" >"$T/o" 2>"$T/e" || fail "export: $(cat "$T/e")"
    # The CSV's values read back as the stored doubles, row by row.
    n=$(sqlite3 -batch -noheader :memory: ".import --csv $T/x.csv x" \
        "ATTACH '$T/t.db' AS d;" \
        "SELECT count(*), count(r.seq), count(*) FILTER (WHERE
            CAST(x.value AS REAL) = r.value AND x.value <> ''
            AND x.quality = r.quality) FROM x LEFT JOIN d.readings r
            ON r.seq = CAST(x.seq AS INTEGER);" 2>&1)
    [ "$n" = "$(sql "SELECT count(*) FROM readings;")|$(sql "SELECT count(*) FROM readings;")|$(sql "SELECT count(*) FROM readings;")" ] ||
        fail "CSV rows, rows in the database, rows whose value reads back as the stored one: $n; readings: $(sql "SELECT count(*) FROM readings;")"
    echo "CSV: ${n//|/ rows, } rows read back as the stored values"
    # As written: a bool and a bit 0 or 1, 2^53 + 1 as 2^53 in full, the
    # totaliser in m3 with at most three decimals.
    awk -F, '
        $3 == "U2-c1" && $5 != "1" || $3 == "U2-c2" && $5 != "0" ||
        $3 == "U2-S402AB15" && $5 != "1" || $3 == "U2-S402AB2" && $5 != "0" ||
        $3 == "U2-X540" && $5 != "9007199254740992" ||
        $3 == "U2-T500" && $5 !~ /^[0-9]+(\.[0-9][0-9]?[0-9]?)?$/ { print; bad = 1 }
        END { exit bad }' "$T/x.csv" >"$T/csvbad" ||
        fail "CSV values: $(head -3 "$T/csvbad" | tr '\r\n' '  ')"
    grep -q '"table":"coil","address":3,"type":"bool"' "$T/x.csv.manifest.json" ||
        fail "the manifest does not describe coil 3 as a bool of the coil table"
    timeout 30 "$BUILD/tbdaq" -c "$T/t.conf" verify >"$T/v" 2>&1 ||
        fail "verify: $(cat "$T/v")"
    grep -q '^chain ok' "$T/v" || fail "verify: $(cat "$T/v")"
    cat "$T/v"
}

# Over RTU at 115200 baud on a pty pair: units 1 and 3 on one line, every
# 200 ms (each unit's five requests, 76 registers the longest, fit a slot).
case_kinds_rtu() {
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 3 --log "$T/sim.log"
    conf_raw_bus "name = \"line\"; type = \"rtu\"; device = \"$T/daqtty\"; baud = 115200; parity = \"none\"; data_bits = 8; stop_bits = 1; timeout_ms = 300; retries = 0; delay_ms = 2;"
    kinds_sensors line 1 200
    kinds_sensors line 3 200
    conf_write "$T/t.conf"
    KINDS_MIN_READINGS=12
    kinds_run_and_check $((KINDS_EDGE_RTU_US * TIMING_TOL_US / 5000)) 1 3
}

# Over RTU over TCP (tbdaq-sim --rtu-over-tcp): units 1 and 2 on one
# connection, every 200 ms.
case_kinds_rtu_over_tcp() {
    start_sim --rtu-over-tcp 0 --units 2 --log "$T/sim.log"
    conf_rtutcp_bus gw 300
    kinds_sensors gw 1 200
    kinds_sensors gw 2 200
    conf_write "$T/t.conf"
    KINDS_MIN_READINGS=12
    kinds_run_and_check $((KINDS_EDGE_TCP_US * TIMING_TOL_US / 5000)) 1 2
}

# Coils coalesced into one request, and max_bits cutting one: 40 coils
# and 40 discrete inputs of the bulk region on unit 1 (max_bits 2000: one
# request each of 40 bits) and on unit 2 through a bus of max_bits 16
# (requests of 16, 16 and 8 bits), every 100 ms; the values follow the
# simulator's rule by each reading's timestamp.
case_kinds_max_bits() {
    local u k bus t
    start_sim --port 0 --units 2 --log "$T/sim.log"
    conf_tcp_bus whole
    conf_raw_bus "name = \"cut\"; type = \"tcp\"; host = \"127.0.0.1\"; port = $SIM_PORT; timeout_ms = 200; retries = 0; max_bits = 16;"
    for u in 1 2; do
        bus=whole
        [ "$u" = 2 ] && bus="cut"
        for t in coil discrete; do
            for k in $(seq 0 39); do
                kinds_add "U$u-${t:0:1}$((1000 + k))" "$u" "bulk${t:0:1}" "$k" \
                    "unit = \"on\"; bus = \"$bus\"; unit_id = $u; table = \"$t\"; address = $((1000 + k)); interval_ms = 100;"
            done
        done
    done
    conf_write "$T/t.conf"
    timeout 10 "$BUILD/tbdaqd" -t -c "$T/t.conf" >"$T/check.out" 2>&1 ||
        fail "tbdaqd -t: $(head -5 "$T/check.out")"
    for t in 'whole unit 1 fc1 coil 1000..1039 (40 bits)' \
        'whole unit 1 fc2 discrete 1000..1039 (40 bits)' \
        'cut unit 2 fc1 coil 1000..1015 (16 bits)' \
        'cut unit 2 fc1 coil 1016..1031 (16 bits)' \
        'cut unit 2 fc1 coil 1032..1039 (8 bits)' \
        'cut unit 2 fc2 discrete 1032..1039 (8 bits)'; do
        grep -qF "  $t every 100 ms" "$T/check.out" ||
            fail "no request '$t' in the plan: $(grep -F ' fc' "$T/check.out")"
    done
    cut -d' ' -f1 "$T/kexp" >"$T/tags"
    start_daemon
    wait_or_fail "TAGS=\$(cat '$T/tags') min_readings 20" 30 \
        "fewer than 20 readings per sensor"
    stop_daemon
    dump_readings >"$T/readings"
    kinds_check $((KINDS_EDGE_TCP_US * TIMING_TOL_US / 5000)) <"$T/readings" >"$T/kcheck" ||
        fail "readings against the map: $(head -5 "$T/kcheck" | tr '\n' ';')"
    cat "$T/kcheck"
    kinds_requests 1 1 "1000 40" U1-c1000
    kinds_requests 1 2 "1000 40" U1-d1000
    kinds_requests 2 1 "1000 16" "1016 16" "1032 8" U2-c1000
    kinds_requests 2 2 "1000 16" "1016 16" "1032 8" U2-d1000
}

EXTRA_CASES+=(kinds_tcp kinds_rtu kinds_rtu_over_tcp kinds_max_bits)
