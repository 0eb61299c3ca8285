# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2016,SC2034,SC2154
#
# Integration cases of issue 5 (install and the systemd unit). Sourced by
# run.sh after lib.sh; each case_NAME runs in its own subshell with $T set.
# They run `make install` from the repository top into a DESTDIR under $T,
# with BUILD pointing at the suite's build directory (already built, so
# nothing is compiled), and check the tree and the installed unit.

# The repository top: two levels above this file.
INSTALL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The highest `systemd-analyze security` exposure the unit may have.
INSTALL_MAX_EXPOSURE=2.0

# imake TARGET DESTDIR: make TARGET for PREFIX=/usr into DESTDIR, output in
# $T/make.out. The suite may itself run under make: its MAKEFLAGS (jobserver,
# command-line variables) must not leak into this one.
imake() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
        timeout 15 make --no-print-directory -C "$INSTALL_TOP" \
        BUILD="$BUILD" PREFIX=/usr DESTDIR="$2" "$1" >"$T/make.out" 2>&1 ||
        fail "make $1 DESTDIR=$2 failed: $(tail -5 "$T/make.out" | tr '\n' ' ')"
    # A second install/uninstall rule (the Makefile's and mk/install.mk's)
    # would make one of them silently win.
    ! grep -q 'overriding recipe' "$T/make.out" ||
        fail "make $1: two recipes for one target: $(grep 'overriding' "$T/make.out" | head -2 | tr '\n' ' ')"
}

# tree DIR: "mode path" of everything under DIR, sorted.
tree() {
    (cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%m %P\n' | sort -k2)
}

case_install_tree() {
    local d=$T/root want got unit
    mkdir "$d"
    imake install "$d"
    want="755 etc/tbdaq
644 etc/tbdaq/tbdaq.conf
755 usr/bin/tbdaq
755 usr/bin/tbdaq-sim
755 usr/bin/tbdaq-web
644 usr/lib/systemd/system/tbdaq-web.service
644 usr/lib/systemd/system/tbdaqd.service
644 usr/lib/sysusers.d/tbdaq.conf
755 usr/sbin/tbdaqd
644 usr/share/doc/tbdaq/README.md
644 usr/share/doc/tbdaq/SPEC.md
644 usr/share/man/man1/tbdaq-sim.1
644 usr/share/man/man1/tbdaq.1
644 usr/share/man/man5/tbdaq.conf.5
644 usr/share/man/man8/tbdaq-web.8
644 usr/share/man/man8/tbdaqd.8"
    got=$(
        cd "$d" && find etc/tbdaq -maxdepth 0 -printf '%m %p\n'
        tree "$d"
    )
    [ "$got" = "$want" ] ||
        fail "installed tree: got [$(echo "$got" | tr '\n' ',')], want [$(echo "$want" | tr '\n' ',')]"
    cmp -s "$d/usr/sbin/tbdaqd" "$BUILD/tbdaqd" || fail "usr/sbin/tbdaqd is not $BUILD/tbdaqd"
    cmp -s "$d/usr/bin/tbdaq" "$BUILD/tbdaq" || fail "usr/bin/tbdaq is not $BUILD/tbdaq"
    cmp -s "$d/etc/tbdaq/tbdaq.conf" "$INSTALL_TOP/config/tbdaq.conf" ||
        fail "etc/tbdaq/tbdaq.conf is not config/tbdaq.conf"
    # man finds the installed pages by name
    for p in tbdaqd.8 tbdaq.1 tbdaq-sim.1 tbdaq.conf.5; do
        MANPATH=$d/usr/share/man timeout 10 man -w "${p%.*}" 2>/dev/null |
            grep -qx "$d/usr/share/man/man${p##*.}/$p" ||
            fail "man -w ${p%.*} does not find the installed $p"
    done
    "$d/usr/sbin/tbdaqd" -t -c "$d/etc/tbdaq/tbdaq.conf" >"$T/check.out" 2>&1 ||
        fail "the installed example config does not pass tbdaqd -t: $(head -3 "$T/check.out")"

    unit=$d/usr/lib/systemd/system/tbdaqd.service
    [ "$(grep '^ExecStart=' "$unit")" = "ExecStart=/usr/sbin/tbdaqd -c /etc/tbdaq/tbdaq.conf" ] ||
        fail "unit: $(grep '^ExecStart=' "$unit"), want ExecStart=/usr/sbin/tbdaqd -c /etc/tbdaq/tbdaq.conf"
    ! grep -n '@[A-Z_]*@' "$unit" >"$T/left" || fail "unit: placeholder left: $(cat "$T/left")"
    grep -qx 'Type=notify' "$unit" || fail "unit: no Type=notify"
    grep -qx 'StateDirectory=tbdaq' "$unit" || fail "unit: no StateDirectory=tbdaq"
    # The state directory is where the example config puts the database.
    grep -q '^database = "/var/lib/tbdaq/' "$d/etc/tbdaq/tbdaq.conf" ||
        fail "the example's database is not in /var/lib/tbdaq (StateDirectory=tbdaq)"
    grep -q '^u tbdaq ' "$d/usr/lib/sysusers.d/tbdaq.conf" ||
        fail "sysusers.d/tbdaq.conf does not create user tbdaq"

    # An edited config survives a second install; the example goes beside it.
    echo 'site = "edited";' >>"$d/etc/tbdaq/tbdaq.conf"
    cp "$d/etc/tbdaq/tbdaq.conf" "$T/edited"
    imake install "$d"
    cmp -s "$d/etc/tbdaq/tbdaq.conf" "$T/edited" ||
        fail "a second install overwrote the edited tbdaq.conf"
    cmp -s "$d/etc/tbdaq/tbdaq.conf.example" "$INSTALL_TOP/config/tbdaq.conf" ||
        fail "a second install did not put the example in tbdaq.conf.example"
    grep -q 'tbdaq.conf.example' "$T/make.out" ||
        fail "a second install did not say where the example went: $(tail -3 "$T/make.out")"

    # Uninstall removes everything but the edited config.
    imake uninstall "$d"
    got=$(tree "$d")
    [ "$got" = "644 etc/tbdaq/tbdaq.conf" ] ||
        fail "after uninstall: got [$(echo "$got" | tr '\n' ',')], want only the edited etc/tbdaq/tbdaq.conf"
    cmp -s "$d/etc/tbdaq/tbdaq.conf" "$T/edited" || fail "uninstall changed the edited config"

    # An unedited config is removed, and so is its directory.
    rm -f "$d/etc/tbdaq/tbdaq.conf"
    imake install "$d"
    imake uninstall "$d"
    got=$(tree "$d")
    [ -z "$got" ] || fail "install then uninstall left: $(echo "$got" | tr '\n' ',')"
    [ ! -e "$d/etc/tbdaq" ] || fail "uninstall left the empty etc/tbdaq"
}

case_unit_verify() {
    local d=$T/root unit v out score
    command -v systemd-analyze >/dev/null ||
        fail "systemd-analyze is not installed (Debian package 'systemd'): the unit cannot be checked"
    systemd-analyze --help 2>&1 | grep -q -- '--offline' ||
        fail "this systemd-analyze ($(systemd-analyze --version | head -1)) has no --offline (systemd >= 250 needed)"
    mkdir "$d"
    imake install "$d"
    unit=$d/usr/lib/systemd/system/tbdaqd.service

    # verify needs ExecStart's binary: check a copy pointing into DESTDIR
    # (same file name, so that the unit name stays tbdaqd.service).
    mkdir "$T/v"
    sed "s|^ExecStart=/usr/sbin/|ExecStart=$d/usr/sbin/|" "$unit" >"$T/v/tbdaqd.service"
    grep -q "^ExecStart=$d/usr/sbin/tbdaqd " "$T/v/tbdaqd.service" ||
        fail "could not point the unit's ExecStart at $d/usr/sbin/tbdaqd"
    timeout 15 systemd-analyze verify "$T/v/tbdaqd.service" >"$T/verify.out" 2>&1 ||
        fail "systemd-analyze verify: $(head -5 "$T/verify.out" | tr '\n' ' ')"
    [ ! -s "$T/verify.out" ] ||
        fail "systemd-analyze verify warns: $(head -5 "$T/verify.out" | tr '\n' ' ')"
    # The check itself must be able to fail: a unit whose binary is missing.
    sed "s|^ExecStart=/usr/sbin/|ExecStart=$d/nowhere/|" "$unit" >"$T/v/tbdaqd.service"
    ! timeout 15 systemd-analyze verify "$T/v/tbdaqd.service" >/dev/null 2>&1 ||
        fail "systemd-analyze verify accepts a missing ExecStart binary: the check proves nothing"

    timeout 15 systemd-analyze security --offline=yes "$unit" >"$T/security.out" 2>&1 ||
        fail "systemd-analyze security --offline=yes failed: $(tail -3 "$T/security.out" | tr '\n' ' ')"
    score=$(sed -n 's/.*Overall exposure level for tbdaqd.service: \([0-9.]*\).*/\1/p' "$T/security.out")
    [ -n "$score" ] || fail "no 'Overall exposure level' in: $(tail -2 "$T/security.out")"
    echo "exposure $score"
    awk -v s="$score" -v m="$INSTALL_MAX_EXPOSURE" 'BEGIN { exit !(s < m) }' ||
        fail "exposure $score, want below $INSTALL_MAX_EXPOSURE: $(grep '✗' "$T/security.out" | tr -s ' ' | head -20 | tr '\n' ';')"
}
