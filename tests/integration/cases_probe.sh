# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of `tbdaq probe` (issue 14, the commissioning tool).
# Sourced by run.sh after lib.sh; each case_NAME runs in its own subshell
# with $T set. The probe's type x byte order tables are checked cell by
# cell by tools/probe_check.py, a decoder of its own (Python's struct
# module: no code shared with tbdaq), and the simulator's fixed registers
# (its --help: 900 int16 -12345, 902 int32 -123456789, 904 uint32
# 3000000000, 906 float32 1234.5, 908 float64 -9876.54321, all ABCD) must
# show in their own type's row and byte order's column.

PROBE_CHECK=$HERE/tools/probe_check.py

# probe ARGS...: `tbdaq probe ARGS`, stdout in $T/o, stderr in $T/e, the
# exit status in RC.
probe() {
    timeout 20 "$BUILD/tbdaq" probe "$@" >"$T/o" 2>"$T/e"
    RC=$?
}

# probe_ok WHAT: the probe exited 0 and the independent decoder agrees.
probe_ok() {
    [ "$RC" = 0 ] || fail "$1: exit $RC: $(cat "$T/e")"
    python3 "$PROBE_CHECK" <"$T/o" >"$T/check" ||
        fail "$1: $(cat "$T/check")"
}

# probe_cell TYPE ORDER WANT: the cell of row TYPE under column ORDER is
# WANT.
probe_cell() {
    local got
    got=$(awk -v type="$1" -v order="$2" '
        $1 ~ /^(16|32|64)-bit$/ { col = 0
            for (i = 2; i <= NF; i++) if ($i == order) col = i }
        $1 == type && col { print $col; exit }' "$T/o")
    [ "$got" = "$3" ] ||
        fail "probe: $1 $2 shows '$got', want '$3': $(cat "$T/o")"
}

# probe_usage WHY ARGS...: exit 2 with an error on stderr, nothing on
# stdout.
probe_usage() {
    local why=$1
    shift
    probe "$@"
    [ "$RC" = 2 ] || fail "probe $*: exit $RC, want 2 ($why)"
    [ -s "$T/e" ] && [ ! -s "$T/o" ] ||
        fail "probe $*: want a message on stderr only ($why)"
}

# probe_bit ADDRESS: the cell of the bit table ("address +0 ... +7", a
# row of up to 8 bits each) at ADDRESS, or nothing.
probe_bit() {
    awk -v a="$1" '
        $1 == "address" { t = 1; next }
        t && $1 ~ /^[0-9]+$/ { if (a >= $1 && a < $1 + NF - 1) { print $(a - $1 + 2); exit } }
        t && NF == 0 { exit }' "$T/o"
}

# probe_bits_map OPT TARGET UNIT: `probe OPT TARGET --unit UNIT --table
# coil|discrete` (OPT TARGET: --tcp HOST:PORT, --rtu DEVICE...) against the simulator's bit
# map (sim_bit_rule): coils and discrete inputs 0..31 (the title, every
# fixed bit, the live ones 0 or 1, the two tables told apart by their
# fixed bits), 20 coils from 8 (rows of 8, 8 and 4 cells), the default
# count (16), 2001 bits (usage) and bits past 2999 (the device's
# exception).
probe_bits_map() {
    local opt=$1 at=$2 u=$3 t a rule want got n
    for t in coil discrete; do
        probe "$opt" "$at" --unit "$u" --table "$t" 0 32
        [ "$RC" = 0 ] || fail "probe $t 0 32: exit $RC: $(cat "$T/e")"
        want="$at unit $u, $([ $t = coil ] && echo coils || echo discrete inputs) 0..31 (function $([ $t = coil ] && echo 1 || echo 2)):"
        [ "$(head -1 "$T/o")" = "$want" ] ||
            fail "probe $t 0 32: title '$(head -1 "$T/o")', want '$want'"
        for a in $(seq 0 31); do
            rule=$(sim_bit_rule "$t" "$a" "$u")
            got=$(probe_bit "$a")
            case $rule in
            fix*) want=${rule#fix } ;;
            *) want="0 or 1" ;;
            esac
            [ "$got" = "$want" ] || { [ "$want" = "0 or 1" ] && [[ $got =~ ^[01]$ ]]; } ||
                fail "probe of unit $u's $t $a shows '$got', want $want: $(cat "$T/o")"
        done
    done
    probe "$opt" "$at" --unit "$u" --table coil 8 20
    [ "$RC" = 0 ] || fail "probe coil 8 20: exit $RC: $(cat "$T/e")"
    n=$(awk '$1 == "address" { t = 1; next } t && NF { printf "%s:%d ", $1, NF - 1 }' "$T/o")
    [ "$n" = "8:8 16:8 24:4 " ] || fail "probe coil 8 20: rows (address:cells) '$n': $(cat "$T/o")"
    [ "$(probe_bit 27)" = "$(sim_bit_rule coil 27 "$u" | cut -d' ' -f2)" ] ||
        fail "probe coil 8 20: coil 27 shows '$(probe_bit 27)'"
    probe "$opt" "$at" --unit "$u" --table discrete 8
    { [ "$RC" = 0 ] && grep -q "discrete inputs 8..23 (function 2):" "$T/o"; } ||
        fail "probe discrete 8 (16 bits by default): exit $RC: $(head -1 "$T/o") $(cat "$T/e")"
    probe_usage "2001 bits" "$opt" "$at" --table coil 0 2001
    probe "$opt" "$at" --unit "$u" --table discrete 2999 2
    { [ "$RC" = 1 ] && grep -q 'the device answered: Illegal data address' "$T/e"; } ||
        fail "probe of bits past the map: exit $RC: $(cat "$T/e")"
}

case_probe_tcp() {
    start_sim --port 0 --units 2
    local at=127.0.0.1:$SIM_PORT

    probe --tcp "$at" 900 12
    probe_ok "probe 900 12"
    grep -q "^127.0.0.1:$SIM_PORT unit 1, holding registers 900..911 (function 3):" \
        "$T/o" || fail "no title line: $(head -2 "$T/o")"
    probe_cell int16 AB -12345
    cat "$T/check"
    probe --tcp "$at" 902
    probe_ok "probe 902"
    probe_cell int32 ABCD -123456789
    probe --tcp "$at" 904 2
    probe_ok "probe 904 2"
    probe_cell uint32 ABCD 3000000000
    ! grep -q '^64-bit' "$T/o" || fail "64-bit rows from 2 registers"
    probe --tcp "$at" --table holding 906
    probe_ok "probe 906"
    probe_cell float32 ABCD 1234.5
    probe --tcp "$at" --unit 2 --table input 908
    probe_ok "probe --unit 2 --table input 908"
    probe_cell float64 ABCDEFGH -9876.54321
    grep -q 'unit 2, input registers 908..911 (function 4)' "$T/o" ||
        fail "probe --unit 2 --table input: $(head -1 "$T/o")"
    # the flow block at 0 (int16 AB, about 2000 + 100 u)
    probe --tcp "$at" 0 1
    probe_ok "probe 0 1"

    # what the device refuses, and what is not there
    probe --tcp "$at" 2999 4
    [ "$RC" = 1 ] || fail "probe past the map: exit $RC, want 1"
    grep -q 'the device answered: Illegal data address' "$T/e" ||
        fail "probe past the map: $(cat "$T/e")"
    probe --tcp "$at" --unit 9 900
    [ "$RC" = 1 ] || fail "probe of unit 9 (of 2): exit $RC, want 1"
    stop_pid "$PID_sim"
    probe --tcp "$at" 900
    [ "$RC" = 1 ] && grep -q "cannot connect to 127.0.0.1:$SIM_PORT" "$T/e" ||
        fail "probe with nothing listening: exit $RC: $(cat "$T/e")"

    probe_usage "no transport" 900
    probe_usage "two transports" --tcp "$at" --rtu /dev/null 900
    probe_usage "no address" --tcp "$at"
    probe_usage "unknown table" --tcp "$at" --table coils 0
    probe_usage "too many registers" --tcp "$at" 0 126
    probe_usage "past 65535" --tcp "$at" 65534 4
    probe_usage "serial option on tcp" --tcp "$at" --baud 9600 0
    probe_usage "bad port" --tcp 127.0.0.1:0 0
    probe_usage "rtu over tcp without a port" --rtu-over-tcp 127.0.0.1 0
    probe_usage "unit 0 on a serial line" --rtu-over-tcp "$at" --unit 0 0
    probe_usage "unit 248 on a serial line" --rtu /dev/null --unit 248 0
}

case_probe_rtu() {
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 3
    probe --rtu "$T/daqtty" --baud 9600 --parity none --stop-bits 1 \
        --unit 3 900 12
    probe_ok "probe --rtu --unit 3 900 12"
    probe_cell int16 AB -12345
    grep -q "^$T/daqtty unit 3, holding registers 900..911" "$T/o" ||
        fail "no title line: $(head -1 "$T/o")"
    probe --rtu "$T/daqtty" --unit 3 916 1
    probe_ok "probe --rtu 916 (unit id register)"
    probe_cell uint16 AB 3
    probe_bits_map --rtu "$T/daqtty" 3
}

# The coil and discrete tables over Modbus TCP.
case_probe_bits() {
    start_sim --port 0 --units 2
    probe_bits_map --tcp "127.0.0.1:$SIM_PORT" 2
    probe_bits_map --tcp "127.0.0.1:$SIM_PORT" 1
}

# RTU frames over TCP (tbdaq-sim --rtu-over-tcp): registers (every cell
# by the independent decoder, the fixed values in their rows), the 64-bit
# pattern in its four orders, the bit tables; a unit the simulator does
# not serve times out (no answer, as on a line); nothing listening.
case_probe_rtu_over_tcp() {
    local at
    start_sim --rtu-over-tcp 0 --units 2
    at=127.0.0.1:$SIM_PORT
    probe --rtu-over-tcp "$at" --unit 2 900 12
    probe_ok "probe --rtu-over-tcp 900 12"
    grep -q "^$at unit 2, holding registers 900..911 (function 3):" "$T/o" ||
        fail "no title line: $(head -1 "$T/o")"
    probe_cell int16 AB -12345
    probe --rtu-over-tcp "$at" --unit 2 --table input 906 2
    probe_ok "probe --rtu-over-tcp --table input 906 2"
    probe_cell float32 ABCD 1234.5
    probe --rtu-over-tcp "$at" --unit 2 916 1
    probe_ok "probe --rtu-over-tcp 916"
    probe_cell uint16 AB 2
    # 0x0102030405060708 at 560 ABCDEFGH, 564 GHEFCDAB, 568 BADCFEHG,
    # 572 HGFEDCBA: each shows it in its own column
    probe --rtu-over-tcp "$at" 560 4
    probe_ok "probe --rtu-over-tcp 560"
    probe_cell uint64 ABCDEFGH 72623859790382856
    probe --rtu-over-tcp "$at" 564 4
    probe_ok "probe --rtu-over-tcp 564"
    probe_cell uint64 GHEFCDAB 72623859790382856
    probe --rtu-over-tcp "$at" 568 4
    probe_ok "probe --rtu-over-tcp 568"
    probe_cell int64 BADCFEHG 72623859790382856
    probe --rtu-over-tcp "$at" 572 4
    probe_ok "probe --rtu-over-tcp 572"
    probe_cell int64 HGFEDCBA 72623859790382856
    probe --rtu-over-tcp "$at" 552 4
    probe_ok "probe --rtu-over-tcp 552"
    probe_cell uint64 ABCDEFGH 18446744073709551615
    probe_cell int64 ABCDEFGH -1
    probe_bits_map --rtu-over-tcp "$at" 2

    probe --rtu-over-tcp "$at" --unit 3 900
    { [ "$RC" = 1 ] && grep -q 'timed out' "$T/e"; } ||
        fail "probe of unit 3 (of 2) over rtu over tcp: exit $RC: $(cat "$T/e")"
    probe_usage "serial option on rtu-over-tcp" --rtu-over-tcp "$at" --baud 9600 0
    probe_usage "two transports" --rtu-over-tcp "$at" --tcp "$at" 0
    stop_pid "$PID_sim"
    probe --rtu-over-tcp "$at" 900
    { [ "$RC" = 1 ] && grep -q "cannot connect to $at" "$T/e"; } ||
        fail "probe with nothing listening: exit $RC: $(cat "$T/e")"
}

# A slow serial line behind a device server: the answer to 125 registers
# (255 bytes) comes a byte every 5 ms, 1.3 s in all, longer than the 1 s
# timeout but never silent for long: it is read whole. Silent for longer
# than the timeout partway, it is cut short.
case_probe_rtu_over_tcp_slow() {
    local at
    start_sim --rtu-over-tcp 0 --units 1
    at=127.0.0.1:$SIM_PORT
    sim_ctl "drip 1 5"
    probe --rtu-over-tcp "$at" 900 125
    probe_ok "probe --rtu-over-tcp 900 125, a byte every 5 ms"
    probe_cell int16 AB -12345
    sim_ctl "drip 1 1200"
    probe --rtu-over-tcp "$at" 900 2
    [ "$RC" = 1 ] && grep -q 'Answer cut short\|cut short' "$T/e" ||
        fail "an answer silent for 1.2 s partway: exit $RC: $(cat "$T/e")"
}

EXTRA_CASES+=(probe_tcp probe_rtu probe_bits probe_rtu_over_tcp
    probe_rtu_over_tcp_slow)
