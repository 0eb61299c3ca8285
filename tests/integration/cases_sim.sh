# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 14: the simulator itself serves every kind of
# sensor of SPEC revision 2 (coils, discrete inputs, status words, 64-bit
# counters, identity registers with a command to swap them) over Modbus
# TCP, RTU on a pty, and RTU frames over TCP (--rtu-over-tcp). Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.
#
# Two clients read it: raw bytes through socat (modbus_tcp in lib.sh,
# rtu_tcp below), checked against frames worked out by hand from the
# Modbus specification and the map in tbdaq-sim --help; and libmodbus, a
# client the project did not write (build/tests/mbclient), whose own CRC
# and bit unpacking judge the simulator's. libmodbus has no RTU over TCP:
# it speaks RTU on a pty that socat carries to and from the TCP port, as
# a virtual COM port driver of a serial device server would.
#
# Values that change with time are checked against the seconds of
# CLOCK_REALTIME read before and after the request; when a second
# boundary falls between the two, the request is made again.

# Tries of a time-dependent read before a boundary each time is a failure.
SIM_SECOND_TRIES=5
# Seconds for a value that changes with time to be seen changing.
SIM_CHANGE_S=5
# mbclient's response timeout (ms) where no answer is the expected one.
SIM_SILENT_MS=300

# need_mbclient: fails the case unless the libmodbus client is built.
need_mbclient() {
    [ -x "$BUILD/tests/mbclient" ] ||
        fail "no $BUILD/tests/mbclient (make $BUILD/tests/mbclient)"
}

# mbclient ARGS...: the libmodbus client, bounded in time.
mbclient() {
    timeout 20 "$BUILD/tests/mbclient" "$@"
}

# start_sim_rtutcp [ARGS...]: the simulator with --rtu-over-tcp 0 and a
# control FIFO at $T/ctl; checks its ready line and sets SIM_PORT.
start_sim_rtutcp() {
    local line re='^tbdaq-sim: listening on 127\.0\.0\.1:([0-9]+) \(rtu over tcp\)$'
    spawn sim "$BUILD/tbdaq-sim" --control "$T/ctl" --rtu-over-tcp 0 "$@"
    wait_or_fail "grep -q 'tbdaq-sim: listening on' '$T/sim.out' ||
        ! pid_running $PID_sim" 10 "the simulator did not report its port"
    pid_running "$PID_sim" || fail "the simulator exited at start"
    line=$(head -1 "$T/sim.out")
    [[ $line =~ $re ]] || fail "ready line: got '$line', want '... (rtu over tcp)'"
    SIM_PORT=${BASH_REMATCH[1]}
    wait_or_fail "[ -p '$T/ctl' ]" 5 "the simulator made no control FIFO"
}

# bridge NAME: a pty $T/NAME whose bytes socat carries over a connection
# of its own to the RTU-over-TCP port (socat ends when either side does).
bridge() {
    spawn "$1" socat "pty,raw,echo=0,link=$T/$1" "TCP:127.0.0.1:$SIM_PORT"
    wait_or_fail "[ -e '$T/$1' ]" 10 "socat made no pty $T/$1"
}

# rtu_tcp HEX...: the bytes HEX sent at once on a new connection to the
# RTU-over-TCP port; prints the bytes that came back, as hex.
rtu_tcp() {
    local esc
    esc=$(printf '\\x%s' "$@")
    # shellcheck disable=SC2059
    printf "$esc" | timeout 5 socat -t 1 - "TCP:127.0.0.1:$SIM_PORT" |
        od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# rtu_tcp_held HEX...: like rtu_tcp, but the connection stays open for a
# second after the bytes (socat's -t), so that a frame ended by a silence
# rather than its length is answered before it closes.
rtu_tcp_held() {
    local esc
    esc=$(printf '\\x%s' "$@")
    # shellcheck disable=SC2059
    printf "$esc" | timeout 5 socat -t 1 - "TCP:127.0.0.1:$SIM_PORT,shut-none" |
        od -An -v -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//'
}

# sim_second: the current second of CLOCK_REALTIME.
sim_second() {
    local t=$EPOCHREALTIME
    echo "${t%.*}"
}

# stable_read CMD EXPECT_FN: runs CMD (its output in $GOT) between two
# readings of the second; when they agree, sets $WANT to the output of
# EXPECT_FN SECOND and returns. Fails after SIM_SECOND_TRIES boundaries.
stable_read() {
    local cmd=$1 fn=$2 s0 s1 i
    for ((i = 0; i < SIM_SECOND_TRIES; i++)); do
        s0=$(sim_second)
        GOT=$(eval "$cmd")
        s1=$(sim_second)
        if [ "$s0" = "$s1" ]; then
            WANT=$("$fn" "$s0")
            return 0
        fi
    done
    fail "$cmd: a second boundary fell inside each of $SIM_SECOND_TRIES tries"
}

# The live bits of the map at second s (tbdaq-sim --help), as the bytes
# of a reply: coils 0..7, discrete inputs 0..7, the status word of unit
# $SU (400 AB, 401 BA).
coil_byte() {
    local s=$1
    printf '%02x' $((((s / 5) % 2 == 0) | 2 | ((s % 2 == 0) << 3)))
}
discrete_byte() {
    local s=$1
    printf '%02x' $(((s % 60 < 10) | ((s % 60 >= 30) << 1) | 4))
}
status_bytes() {
    local s=$1 w
    w=$((((s / 5) % 2 == 0) | ((s % 60 < 10) << 1) | ((s % 60 >= 30) << 2) |
        ((s % 90 < 45) << 3) | ((s % 16) << 4) | ((SU % 16) << 8) | 1 << 15))
    printf '%02x %02x %02x %02x' $((w >> 8)) $((w & 255)) $((w & 255)) $((w >> 8))
}

# Coils and discrete inputs over Modbus TCP: fixed bits byte for byte
# (packing order, the two tables told apart), live bits against the
# clock, a bit seen changing, the limits of a request (2000 bits; 2001
# and 0 get exception 3, beyond 2999 exception 2), the request log, and
# the same fixed bits through libmodbus.
case_sim_bits() {
    local r first n b
    need_mbclient
    start_sim --port 0 --units 2 --log "$T/sim.log"
    # Unit 2: coils 8..15 its id, 16..31 0x1234 least significant bit
    # first; discrete inputs 255 - 2 and 0xabcd.
    r=$(modbus_tcp 2 1 8 24)
    [ "$r" = "00 01 00 00 00 06 02 01 03 02 34 12" ] ||
        fail "unit 2 coils 8..31: got '$r'"
    r=$(modbus_tcp 2 2 8 24)
    [ "$r" = "00 01 00 00 00 06 02 02 03 fd cd ab" ] ||
        fail "unit 2 discrete inputs 8..31: got '$r'"
    # A count that is no multiple of 8: the last byte's high bits are 0.
    r=$(modbus_tcp 1 1 16 13)
    [ "$r" = "00 01 00 00 00 05 01 01 02 34 12" ] ||
        fail "unit 1 coils 16..28: got '$r'"

    stable_read "modbus_tcp 1 1 0 8" coil_byte
    [ "$GOT" = "00 01 00 00 00 04 01 01 01 $WANT" ] ||
        fail "unit 1 coils 0..7: got '$GOT', want byte $WANT"
    stable_read "modbus_tcp 2 2 0 8" discrete_byte
    [ "$GOT" = "00 01 00 00 00 04 02 02 01 $WANT" ] ||
        fail "unit 2 discrete inputs 0..7: got '$GOT', want byte $WANT"
    first=$(modbus_tcp 1 1 3 1)
    wait_or_fail '[ "$(modbus_tcp 1 1 3 1)" != "$first" ]' "$SIM_CHANGE_S" \
        "coil 3 (on while floor(t) is even) never changed from '$first'"

    # Bulk: alternating bits, so both bytes of 16 bits are 55 or aa alike.
    r=$(modbus_tcp 1 1 1000 16)
    [[ $r =~ ^"00 01 00 00 00 05 01 01 02 "(55 55|aa aa)$ ]] ||
        fail "unit 1 coils 1000..1015: got '$r'"

    r=$(modbus_tcp 1 1 0 2000)
    read -r -a b <<<"$r"
    [[ ${#b[@]} = 259 && "${b[*]:0:9}" = "00 01 00 00 00 fd 01 01 fa" ]] ||
        fail "2000 coils: want 259 bytes, MBAP length 253, byte count 250; got ${#b[@]}: '${b[*]:0:12} ...'"
    [ "${b[*]:10:3}" = "01 34 12" ] ||
        fail "2000 coils: bytes of coils 8..31 are '${b[*]:10:3}'"
    r=$(modbus_tcp 1 1 0 2001)
    [ "$r" = "00 01 00 00 00 03 01 81 03" ] ||
        fail "2001 coils: want exception 3, got '$r'"
    r=$(modbus_tcp 1 2 0 0)
    [ "$r" = "00 01 00 00 00 03 01 82 03" ] ||
        fail "0 discrete inputs: want exception 3, got '$r'"
    # the last coil there is: in the bulk region, which alternates every
    # second, so either value
    r=$(modbus_tcp 1 1 2999 1)
    [[ "$r" =~ ^"00 01 00 00 00 04 01 01 01 0"[01]$ ]] ||
        fail "coil 2999: got '$r'"
    r=$(modbus_tcp 1 1 2999 2)
    [ "$r" = "00 01 00 00 00 03 01 81 02" ] ||
        fail "coils 2999..3000: want exception 2, got '$r'"
    r=$(modbus_tcp 2 2 3000 1)
    [ "$r" = "00 01 00 00 00 03 02 82 02" ] ||
        fail "discrete input 3000: want exception 2, got '$r'"
    r=$(modbus_tcp 1 5 0 1)
    [ "$r" = "00 01 00 00 00 03 01 85 01" ] ||
        fail "function 5: want exception 1, got '$r'"

    n=$(awk '$2 == 2 && $3 == 1 && $4 == 8 && $5 == 24 { n++ }
        END { print n + 0 }' "$T/sim.log")
    [ "$n" = 1 ] || fail "sim log: $n lines '<ns> 2 1 8 24', want 1"

    r=$(mbclient --tcp "$SIM_PORT" 2:1:8:24 2:2:8:24 1:1:2999:2)
    [ "$r" = $'010000000010110001001000\n101111111011001111010101\nerror: Illegal data address' ] ||
        fail "libmodbus, unit 2 coils and discrete inputs 8..31, coils 2999..3000: got '$r'"
}

# The registers issue 14 adds, over Modbus TCP: status words against the
# clock, every 64-bit value byte for byte, the totaliser in its eight
# fields (one value) against the integral of the flow and growing, the
# identity registers, and the old map's neighbours unchanged.
case_sim_registers() {
    local r got t0 t1 v first words want
    need_mbclient
    start_sim --port 0 --units 2
    SU=1
    stable_read "modbus_tcp 1 3 400 3" status_bytes
    [ "$GOT" = "00 01 00 00 00 09 01 03 06 $WANT a5 c3" ] ||
        fail "unit 1 status words 400..402: got '$GOT', want '... $WANT a5 c3'"
    SU=2
    stable_read "modbus_tcp 2 4 400 2" status_bytes
    [ "$GOT" = "00 01 00 00 00 07 02 04 04 $WANT" ] ||
        fail "unit 2 input status words 400..401: got '$GOT', want '... $WANT'"

    want="0020 0000 0000 0001 7fff ffff ffff ffff 8000 0000 0000 0000"
    want="$want ffff ffff ffff ffff ffdf ffff ffff ffff"
    want="$want 0102 0304 0506 0708 0708 0506 0304 0102"
    want="$want 0201 0403 0605 0807 0807 0605 0403 0201"
    r=$(mbclient --tcp "$SIM_PORT" 1:3:540:36 2:4:540:36)
    [ "$r" = "$want"$'\n'"$want" ] ||
        fail "64-bit fixed values 540..575: got '$r', want '$want' twice"
    r=$(modbus_tcp 1 3 540 4)
    [ "$r" = "00 01 00 00 00 0b 01 03 08 00 20 00 00 00 00 00 01" ] ||
        fail "uint64 2^53 + 1 at 540: got '$r'"

    # The totaliser: eight fields, four byte orders, twice, one value.
    t0=$(now_us)
    words=$(mbclient --tcp "$SIM_PORT" 1:3:500:32) || fail "totaliser: $words"
    t1=$(now_us)
    got=$(awk -v t0="$t0" -v t1="$t1" '
        # A hex byte as a number (gawk, unlike mawk, reads no "0x").
        function hex(x,    d) {
            d = "0123456789abcdef"
            return (index(d, substr(x, 1, 1)) - 1) * 16 + index(d, substr(x, 2, 1)) - 1
        }
        {
            for (f = 0; f < 8; f++) {
                # Wire bytes of the field, then back to A..H by its order.
                s = ""
                for (i = 1; i <= 4; i++) s = s $(4 * f + i)
                for (i = 0; i < 8; i++) w[i] = substr(s, 2 * i + 1, 2)
                o = f % 4
                if (o == 0) split("0 1 2 3 4 5 6 7", m)
                if (o == 1) split("6 7 4 5 2 3 0 1", m)
                if (o == 2) split("1 0 3 2 5 4 7 6", m)
                if (o == 3) split("7 6 5 4 3 2 1 0", m)
                # m[i + 1] is the wire byte of value byte i (A = 0); each
                # order here is its own inverse.
                v = 0
                for (i = 0; i < 8; i++) v = v * 256 + hex(w[m[i + 1]])
                val[f] = v
            }
            for (f = 1; f < 8; f++)
                if (val[f] != val[0]) {
                    printf "field %d is %.0f, field 0 %.0f\n", f, val[f], val[0]
                    exit 1
                }
            pi = 3.14159265358979
            for (k = 0; k < 2; k++) {
                t = (k ? t1 : t0) / 1e6
                ph = (t % 60) / 60
                want[k] = (21 * t - 5 * 60 / (2 * pi) * cos(2 * pi * ph)) / 3.6
            }
            if (val[0] < want[0] - 1 || val[0] > want[1] + 1) {
                printf "%.0f litres, want %.0f..%.0f\n", val[0], want[0], want[1]
                exit 1
            }
            printf "%.0f\n", val[0]
        }' <<<"$words") || fail "totaliser 500..531 ($words): $got"
    first=$got
    wait_or_fail '[ "$(mbclient --tcp "$SIM_PORT" 1:3:500:4 | tr -d " ")" \
        != "$(printf "%016x" "$first")" ]' "$SIM_CHANGE_S" \
        "the totaliser stayed at $first litres"

    r=$(modbus_tcp 1 3 800 14)
    want="00 01 00 00 00 1f 01 03 1c 54 42 53 49 4d 2d 30 30 31 00"
    want="$want 00 00 00 00 00 00 00 00 00 00 31 2e 34 2e 32 20 20 20"
    [ "$r" = "$want" ] ||
        fail "unit 1 identity 800..813: got '$r', want 'TBSIM-001' NUL-padded, '1.4.2' space-padded"
    r=$(mbclient --tcp "$SIM_PORT" 2:4:800:8)
    [ "$r" = "5442 5349 4d2d 3030 3200 0000 0000 0000" ] ||
        fail "unit 2 serial (input table): got '$r'"

    # The old map around the new registers is as it was.
    r=$(mbclient --tcp "$SIM_PORT" 1:3:344:1 1:3:399:1 1:3:403:97 1:3:900:2 1:3:916:1)
    v=$(printf '0000 %.0s' {1..97})
    [ "$r" = $'0000\n0000\n'"${v% }"$'\ncfc7 d431\n0001' ] ||
        fail "registers 344, 399, 403..499, 900..901, 916: got '$r'"
}

# `identity UNIT SERIAL FIRMWARE` swaps one unit's identity and no other's;
# `normal` keeps it; a bad one is warned about and changes nothing.
case_sim_identity_swap() {
    local r want2
    need_mbclient
    start_sim --port 0 --units 2
    want2=$(mbclient --tcp "$SIM_PORT" 2:3:800:14)
    [ "$want2" = "5442 5349 4d2d 3030 3200 0000 0000 0000 0000 0000 312e 342e 3220 2020" ] ||
        fail "unit 2 identity at start: got '$want2'"
    sim_ctl "identity 1 XR-2031-0007 3.10"
    wait_or_fail '[ "$(mbclient --tcp "$SIM_PORT" 1:3:800:14)" = "5852 2d32 3033 312d 3030 3037 0000 0000 0000 0000 332e 3130 2020 2020" ]' 5 \
        "unit 1 does not read serial XR-2031-0007, firmware 3.10 after 'identity 1 XR-2031-0007 3.10'"
    grep -q 'info: control: identity 1 XR-2031-0007 3.10$' "$T/sim.err" ||
        fail "the identity command is not logged"
    r=$(mbclient --tcp "$SIM_PORT" 2:3:800:14)
    [ "$r" = "$want2" ] || fail "unit 2's identity changed with unit 1's: '$r'"
    # Sixteen characters fill the eight registers: no NUL left.
    sim_ctl "identity 2 ABCDEFGHIJKLMNOP 12345678"
    wait_or_fail '[ "$(modbus_tcp 2 3 800 14)" = "00 01 00 00 00 1f 02 03 1c 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50 00 00 00 00 31 32 33 34 35 36 37 38" ]' 5 \
        "unit 2 does not read the 16-character serial and 8-character firmware"
    sim_ctl "normal 1"
    sim_ctl "identity 1 SERIAL-NUMBER-TOO-LONG 1.0"
    sim_ctl "identity 3 X 1.0"
    sim_ctl "identity 1 ONLY-SERIAL"
    wait_or_fail "[ \$(grep -c 'warning: control: ' '$T/sim.err') -ge 3 ]" 5 \
        "three bad identity commands, not three warnings"
    grep -q "warning: control: bad identity 'SERIAL-NUMBER-TOO-LONG 1.0'" "$T/sim.err" ||
        fail "no warning naming the too-long serial: $(grep warning "$T/sim.err")"
    r=$(mbclient --tcp "$SIM_PORT" 1:3:800:14)
    [ "$r" = "5852 2d32 3033 312d 3030 3037 0000 0000 0000 0000 332e 3130 2020 2020" ] ||
        fail "unit 1's identity after 'normal 1' and bad commands: '$r'"
}

# Modbus RTU on a pty pair, read by libmodbus: bits, the 64-bit pattern
# in its four orders and the identity, through libmodbus's own CRC;
# exceptions; a unit not on the line and a spoiled CRC.
case_sim_rtu_bits() {
    local r want
    need_mbclient
    start_pty_pair
    start_sim --rtu "$T/simtty" --units 2
    want="010000000010110001001000"$'\n'"101111111011001111010101"
    want="$want"$'\n'"0102 0304 0506 0708 0708 0506 0304 0102 0201 0403 0605 0807 0807 0605 0403 0201"
    want="$want"$'\n'"5442 5349 4d2d 3030 3100 0000 0000 0000 0000 0000 312e 342e 3220 2020"
    want="$want"$'\n'"error: Illegal data address"
    r=$(mbclient --rtu "$T/daqtty" 2:1:8:24 2:2:8:24 1:3:560:16 1:4:800:14 1:2:2990:11)
    [ "$r" = "$want" ] || fail "RTU reads: got '$r', want '$want'"
    r=$(mbclient --rtu "$T/daqtty" 1:1:0:2000 | cut -c9-32)
    [ "$r" = "100000000010110001001000" ] ||
        fail "RTU, 2000 coils of unit 1: coils 8..31 are '$r'"
    r=$(mbclient --rtu "$T/daqtty" --timeout "$SIM_SILENT_MS" 3:1:0:8 2:1:8:8)
    [ "$r" = $'error: Connection timed out\n01000000' ] ||
        fail "RTU, unit 3 (not on the line), then unit 2: got '$r'"
    sim_ctl "malformed 1 crc"
    wait_or_fail '[ "$(mbclient --rtu "$T/daqtty" 1:1:8:8)" = "error: Invalid CRC" ]' 5 \
        "no 'Invalid CRC' from libmodbus after 'malformed 1 crc'"
    sim_ctl "normal 1"
    wait_or_fail '[ "$(mbclient --rtu "$T/daqtty" 1:1:8:8)" = 10000000 ]' 5 \
        "unit 1 does not answer coils 8..15 after 'normal 1'"
}

# --rtu-over-tcp: RTU frames with a CRC on TCP, byte for byte (the
# CRCs worked out by hand), several requests in one packet, noise and a bad
# CRC before a request, a unit not on the line; libmodbus through a socat
# bridge on two connections at once, every unit on each.
case_sim_rtu_over_tcp() {
    local r
    need_mbclient
    start_sim_rtutcp --units 2 --log "$T/sim.log"
    r=$(rtu_tcp 02 01 00 08 00 18 bd f1)
    [ "$r" = "02 01 03 02 34 12 0b 70" ] ||
        fail "unit 2 coils 8..31 over RTU over TCP: got '$r'"
    r=$(rtu_tcp 01 03 03 94 00 01 c5 a2 01 02 00 08 00 18 f9 c2)
    [ "$r" = "01 03 02 00 01 79 84 01 02 03 fe cd ab 0c 91" ] ||
        fail "two requests in one packet (unit 1 register 916, discrete 8..31): got '$r'"
    r=$(rtu_tcp ff 00 13 01 03 03 94 00 01 c5 a3 01 03 03 94 00 01 c5 a2)
    [ "$r" = "01 03 02 00 01 79 84" ] ||
        fail "noise and a bad CRC, then a request: want one answer, got '$r'"
    r=$(rtu_tcp 01 01 0b b7 00 02 0f c9)
    [ "$r" = "01 81 02 c1 91" ] ||
        fail "coils 2999..3000: want exception 2, got '$r'"
    # Function 17 (report server id) has no length rule here: it ends at
    # the line's silence, and gets exception 1.
    r=$(rtu_tcp_held 01 11 c0 2c)
    [ "$r" = "01 91 01 8c 50" ] ||
        fail "function 17, ended by a silence: want exception 1, got '$r'"
    r=$(rtu_tcp 03 03 03 94 00 01 c4 40)
    [ -z "$r" ] || fail "unit 3 (beyond --units 2) answered: '$r'"
    awk '$2 == 2 && $3 == 1 && $4 == 8 && $5 == 24 { n++ }
        END { exit n != 1 }' "$T/sim.log" ||
        fail "sim log: no line '<ns> 2 1 8 24'"

    bridge gwa
    bridge gwb
    mbclient --rtu "$T/gwa" 1:1:8:24 2:2:8:24 1:3:916:1 2:3:916:1 \
        >"$T/a.out" 2>&1 &
    local pid_a=$!
    r=$(mbclient --rtu "$T/gwb" 2:1:8:24 1:2:8:24 2:4:800:5)
    wait "$pid_a" || fail "libmodbus on the first connection: $(cat "$T/a.out")"
    [ "$(cat "$T/a.out")" = $'100000000010110001001000\n101111111011001111010101\n0001\n0002' ] ||
        fail "libmodbus on the first connection: got '$(cat "$T/a.out")'"
    [ "$r" = $'010000000010110001001000\n011111111011001111010101\n5442 5349 4d2d 3030 3200' ] ||
        fail "libmodbus on the second connection: got '$r'"
}

# Faults over --rtu-over-tcp, as libmodbus sees them through the bridge:
# exception, mute, the RTU malformed modes (and the Modbus TCP ones
# refused), delay, drip, drop; usage errors of the option.
case_sim_rtu_over_tcp_faults() {
    local r rc
    need_mbclient
    timeout 10 "$BUILD/tbdaq-sim" --rtu-over-tcp 0 --port 0 >/dev/null 2>"$T/err"
    rc=$?
    if [ $rc != 2 ] ||
        ! grep -q -- "--port and --rtu-over-tcp cannot be combined" "$T/err"; then
        fail "--rtu-over-tcp with --port: exit $rc, '$(cat "$T/err")'"
    fi
    timeout 10 "$BUILD/tbdaq-sim" --rtu-over-tcp 0 --malformed 1:tid >/dev/null 2>"$T/err"
    rc=$?
    [ $rc = 2 ] || fail "--rtu-over-tcp with --malformed 1:tid: exit $rc, want 2"

    start_sim_rtutcp --units 2 --exception 2:4
    bridge gw
    r=$(mbclient --rtu "$T/gw" 2:3:916:1 1:3:916:1)
    [ "$r" = $'error: Slave device or server failure\n0001' ] ||
        fail "--exception 2:4: got '$r'"
    sim_ctl "mute 1"
    wait_or_fail '[ "$(mbclient --rtu "$T/gw" --timeout "$SIM_SILENT_MS" 1:1:0:1)" = "error: Connection timed out" ]' 5 \
        "unit 1 still answers after 'mute 1'"
    sim_ctl "malformed 1 unit"
    wait_or_fail '[ "$(mbclient --rtu "$T/gw" 1:1:0:1)" = "error: Response not from requested slave" ]' 5 \
        "no 'Response not from requested slave' after 'malformed 1 unit'"
    sim_ctl "malformed 1 crc"
    wait_or_fail '[ "$(mbclient --rtu "$T/gw" 1:2:0:1)" = "error: Invalid CRC" ]' 5 \
        "no 'Invalid CRC' after 'malformed 1 crc'"
    sim_ctl "malformed 1 tid"
    sim_ctl "malformed 1 length"
    wait_or_fail "[ \$(grep -c \"is for tcp only\" '$T/sim.err') = 2 ]" 5 \
        "'malformed 1 tid' and 'malformed 1 length' not refused as TCP-only"
    # The refused modes left 'crc' in force.
    r=$(mbclient --rtu "$T/gw" 1:3:916:1)
    [ "$r" = "error: Invalid CRC" ] || fail "after refused modes: got '$r'"
    sim_ctl "normal 1"
    sim_ctl "normal 2"
    sim_ctl "delay 1 400"
    sim_ctl "drip 2 20"
    wait_or_fail "grep -q 'control: drip 2 20' '$T/sim.err'" 5 "drip not applied"
    r=$(mbclient --rtu "$T/gw" --timeout 200 1:3:916:1)
    [ "$r" = "error: Connection timed out" ] ||
        fail "'delay 1 400' against a 200 ms timeout: got '$r'"
    # Unit 1's late answer arrives on the first connection after the
    # client gave up; a new connection has no such leftovers.
    bridge gw2
    r=$(mbclient --rtu "$T/gw2" --timeout 2000 1:3:916:1 2:3:916:1)
    [ "$r" = $'0001\n0002' ] ||
        fail "delayed unit 1, then unit 2 dripping 7 bytes 20 ms apart: got '$r'"
    sim_ctl "normal 1"
    sim_ctl "drop 1000"
    wait_or_fail '! pid_running "$PID_gw" && ! pid_running "$PID_gw2"' 5 \
        "'drop 1000' did not close the bridges' connections"
    wait_or_fail '[ "$(rtu_tcp 01 03 03 94 00 01 c5 a2)" = "01 03 02 00 01 79 84" ]' 10 \
        "no answer over RTU over TCP after the drop"
}

EXTRA_CASES+=(sim_bits sim_registers sim_identity_swap sim_rtu_bits
    sim_rtu_over_tcp sim_rtu_over_tcp_faults)
