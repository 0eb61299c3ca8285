# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration case of issue 10: files a config @includes are checked like
# the config itself. Sourced by run.sh after lib.sh; each case_NAME runs in
# its own subshell with $T set.
#
# libconfig 1.5 (Debian 12) stores an integer literal in an int without
# checking its range: "address = 4294967396;" reads as register 100. The
# loader looks for such literals in the text before libconfig parses it,
# and must do so in every file read, however deep the include.

# include_expect_error WHAT MESSAGE: runs `tbdaqd -t -c main.conf` and
# `tbdaq -c main.conf check` in $T (so that messages name the files as the
# @include lines do); each must exit 1 and say MESSAGE on stderr.
include_expect_error() {
    local what=$1 msg=$2 rc
    (cd "$T" && exec "$BUILD/tbdaqd" -t -c main.conf) \
        >"$T/t.out" 2>"$T/t.err"
    rc=$?
    [ "$rc" = 1 ] ||
        fail "$what: tbdaqd -t exited $rc (want 1): $(tr '\n' ' ' <"$T/t.err")"
    grep -qF -e "$msg" "$T/t.err" ||
        fail "$what: tbdaqd -t did not say '$msg': $(tr '\n' ' ' <"$T/t.err")"
    (cd "$T" && exec "$BUILD/tbdaq" -c main.conf check) \
        >"$T/check.out" 2>"$T/check.err"
    rc=$?
    [ "$rc" = 1 ] ||
        fail "$what: tbdaq check exited $rc (want 1): $(tr '\n' ' ' <"$T/check.err")"
    grep -qF -e "$msg" "$T/check.err" ||
        fail "$what: tbdaq check did not say '$msg': $(tr '\n' ' ' <"$T/check.err")"
    echo "$what: both exit 1 with: $(grep -F -e "$msg" "$T/t.err")"
}

# include_expect_valid WHAT: both accept the config (exit 0).
include_expect_valid() {
    (cd "$T" && exec "$BUILD/tbdaqd" -t -c main.conf) \
        >"$T/t.out" 2>"$T/t.err" ||
        fail "$1: tbdaqd -t rejects it: $(tr '\n' ' ' <"$T/t.err")"
    (cd "$T" && exec "$BUILD/tbdaq" -c main.conf check) \
        >"$T/check.out" 2>"$T/check.err" ||
        fail "$1: tbdaq check rejects it: $(tr '\n' ' ' <"$T/check.err")"
}

# An out-of-range integer in an included file, then in a file included by
# an included file (nested includes are relative to the config's
# directory, as libconfig resolves them): `tbdaqd -t`, `tbdaq check` and
# the daemon itself refuse it, naming the included file and the line. The
# same files with the integer in range are valid, so the integer is the
# only cause. Digits in comments and strings are not integers.
case_config_include_range() {
    local rc
    [ -x "$BUILD/tbdaq" ] || fail "no program $BUILD/tbdaq"
    mkdir -p "$T/conf.d"
    cat >"$T/main.conf" <<EOF
site = "itest";
database = "$T/t.db";
# 4294967396 in a comment is no integer
buses = ({ name = "a"; type = "tcp"; host = "127.0.0.1"; port = 1502; });
@include "inc.conf"
EOF
    cat >"$T/inc.conf" <<'EOF'
sensors = ({ id = "S1"; kind = "generic"; bus = "a"; type = "int16";
  unit = "4294967396 /* a string */";
  address = 100; });
EOF
    include_expect_valid "register 100 in inc.conf"
    sed -i 's/address = 100;/address = 4294967396;/' "$T/inc.conf"
    include_expect_error "4294967396 in inc.conf" \
        "inc.conf:3: integer '4294967396' is out of range"
    # The daemon itself starts nothing.
    (cd "$T" && exec "$BUILD/tbdaqd" -c main.conf) >"$T/d.out" 2>"$T/d.err"
    rc=$?
    [ "$rc" = 1 ] || fail "tbdaqd exited $rc on the config (want 1)"
    grep -qF "inc.conf:3: integer '4294967396' is out of range" "$T/d.err" ||
        fail "tbdaqd did not name inc.conf:3: $(tr '\n' ' ' <"$T/d.err")"
    [ ! -e "$T/t.db" ] || fail "a database was created for a rejected config"

    # Nested: main.conf includes conf.d/sensors.conf, which includes
    # conf.d/bus.conf (named from the config's directory).
    cat >"$T/main.conf" <<EOF
site = "itest";
database = "$T/t.db";
@include "conf.d/sensors.conf"
EOF
    cat >"$T/conf.d/sensors.conf" <<'EOF'
@include "conf.d/bus.conf"
sensors = ({ id = "S1"; kind = "flow"; bus = "a"; type = "int16";
  address = 0; });
EOF
    cat >"$T/conf.d/bus.conf" <<'EOF'
buses = ({ name = "a"; type = "tcp"; host = "127.0.0.1";
  # timeout_ms = 4294967796 would read as 500
  port = 1502;
  timeout_ms = 500; });
EOF
    include_expect_valid "timeout_ms 500 two includes deep"
    sed -i 's/  timeout_ms = 500;/  timeout_ms = 4294967796;/' \
        "$T/conf.d/bus.conf"
    include_expect_error "4294967796 two includes deep" \
        "conf.d/bus.conf:4: integer '4294967796' is out of range"
}

EXTRA_CASES+=(config_include_range)
