#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Checks the tbdaq Debian package (make check-package runs it after make
# deb): what the .deb holds, what its maintainer scripts do, and an
# installation into a scratch root.
#
#   tests/package/check.sh DEB [SRCDIR]
#
# SRCDIR is the tree the package was built from (default .): its VERSION,
# man/, config/tbdaq.conf, systemd/tbdaq.sysusers and debian/copyright are
# what the package must carry. Each check prints "PASS name" or
# "FAIL name: reason"; the output ends with "N passed, N failed" (and
# ", N skipped" when a check needs what this machine lacks); exit 1 on any
# failure.
#
# The maintainer scripts run twice over, both without touching the host:
# - by hand, inside a private mount namespace (unshare -m, root) where
#   /run/systemd/system exists, as under systemd, and /var/lib is an empty
#   tmpfs, with deb-systemd-helper, deb-systemd-invoke, systemctl and
#   systemd-sysusers replaced by stubs that log their arguments: this shows
#   what would be started, stopped and enabled;
# - by dpkg itself, `dpkg --root=SCRATCH --force-script-chrootless`: the
#   scripts run with DPKG_ROOT=SCRATCH, so systemd-sysusers creates the user
#   in SCRATCH/etc/passwd, and no service is touched (DPKG_ROOT turns that
#   off); install, then purge over a database, which must stay.

set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DEB [SRCDIR]" >&2
    exit 2
fi
deb=$1
src=${2:-.}
version=$(cat "$src/VERSION") || exit 2
[ -f "$deb" ] || { echo "$0: no such package: $deb" >&2; exit 2; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-package.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT
x=$scratch/data      # dpkg-deb -x
c=$scratch/control   # dpkg-deb -e

passed=0
failed=0
skipped=0

# check NAME FUNCTION [ARGS]: FUNCTION returns 0 if the assertion holds,
# otherwise prints why on stdout and returns non-zero.
check() {
    local name=$1 why
    shift
    if why=$("$@" 2>&1); then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: $(printf '%s' "${why:-no reason given}" | \
            tr '\n' ' ' | cut -c 1-400)"
        failed=$((failed + 1))
    fi
}

skip() {
    echo "SKIP $1: $2"
    skipped=$((skipped + 1))
}

summary() {
    if [ "$skipped" -gt 0 ]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
    [ "$failed" -eq 0 ]
}

# --- the archive -----------------------------------------------------

extract() {
    dpkg-deb -x "$deb" "$x" && dpkg-deb -e "$deb" "$c"
}
check extract extract
if [ ! -d "$c" ]; then
    summary
    exit 1
fi

field_is() {
    local got
    got=$(dpkg-deb -f "$deb" "$1")
    [ "$got" = "$2" ] || { echo "$1 is '$got', not '$2'"; return 1; }
}
check field_package field_is Package tbdaq
check field_version field_is Version "$version"

# --- programs ----------------------------------------------------------

executable() {
    [ -f "$x/$1" ] && [ -x "$x/$1" ] || { echo "no executable /$1"; return 1; }
}
# The extracted program prints "NAME VERSION": the release alone, since the
# package is built from a copy that is not a git checkout.
prints_version() {
    local out
    out=$("$x/$1" --version) || { echo "/$1 --version failed: $out"; return 1; }
    [ "$out" = "$(basename "$1") $version" ] ||
        { echo "/$1 --version printed '$out'"; return 1; }
}
for p in usr/sbin/tbdaqd usr/bin/tbdaq usr/bin/tbdaq-sim usr/bin/tbdaq-web; do
    n=$(basename "$p")
    check "program_$n" executable "$p"
    check "version_$n" prints_version "$p"
done

# Nothing outside the places the package is meant to fill: no
# /usr/local, and no /var (systemd creates /var/lib/tbdaq at the first
# start; if dpkg owned it, remove and purge would touch the evidence).
only_expected_paths() {
    local bad
    bad=$(cd "$x" && find . ! -type d | sed 's|^\./|/|' | grep -v -E \
        '^/(usr/s?bin/[^/]+|etc/tbdaq/[^/]+|lib/systemd/system/[^/]+|usr/lib/sysusers\.d/[^/]+|usr/share/(doc|man)/.+)$')
    [ -z "$bad" ] || { echo "unexpected: $(echo $bad)"; return 1; }
}
check only_expected_paths only_expected_paths

# --- man pages: those the tree has in man/ -------------------------------

has_man_page() {
    local f=$1 base sec
    base=$(basename "$f")
    sec=${base##*.}
    [ -f "$x/usr/share/man/man$sec/$base.gz" ] ||
        { echo "no /usr/share/man/man$sec/$base.gz"; return 1; }
}
nman=0
for f in "$src"/man/*.[158]; do
    [ -f "$f" ] || continue
    nman=$((nman + 1))
    check "man_$(basename "$f")" has_man_page "$f"
done
[ "$nman" -gt 0 ] || echo "note: $src/man has no pages (*.1, *.5, *.8): none checked"

# --- documentation -------------------------------------------------------

has_doc() {
    local d=$x/usr/share/doc/tbdaq
    [ -f "$d/$1" ] || [ -f "$d/$1.gz" ] ||
        { echo "no /usr/share/doc/tbdaq/$1 (nor .gz)"; return 1; }
}
same_copyright() {
    cmp -s "$x/usr/share/doc/tbdaq/copyright" "$src/debian/copyright" ||
        { echo "/usr/share/doc/tbdaq/copyright is not debian/copyright"; return 1; }
}
check doc_copyright same_copyright
check doc_changelog has_doc changelog
check doc_readme has_doc README.md
if [ -f "$src/docs/SPEC.md" ]; then
    check doc_spec has_doc SPEC.md
fi

# --- systemd unit and user ------------------------------------------------

unit_execstart() {
    local u=$x/lib/systemd/system/tbdaqd.service line
    [ -f "$u" ] || { echo "no /lib/systemd/system/tbdaqd.service"; return 1; }
    line=$(grep '^ExecStart=' "$u")
    case $line in
    "ExecStart=/usr/sbin/tbdaqd "*/etc/tbdaq/tbdaq.conf*) ;;
    *) echo "ExecStart is '$line'"; return 1 ;;
    esac
    ! grep -n '@[A-Z_]*@' "$u" || { echo "placeholder left"; return 1; }
}
check unit_execstart unit_execstart

unit_web_execstart() {
    local u=$x/lib/systemd/system/tbdaq-web.service line
    [ -f "$u" ] || { echo "no /lib/systemd/system/tbdaq-web.service"; return 1; }
    line=$(grep '^ExecStart=' "$u")
    case $line in
    "ExecStart=/usr/bin/tbdaq-web "*/etc/tbdaq/tbdaq.conf*) ;;
    *) echo "ExecStart is '$line'"; return 1 ;;
    esac
    ! grep -n '@[A-Z_]*@' "$u" || { echo "placeholder left"; return 1; }
}
check unit_web_execstart unit_web_execstart

# tbdaq-web's unit is hardened: systemd's own score, exposure 2.0 or less
# (--threshold counts tenths), read-only but for the state directory, no
# capability.
unit_web_security() {
    local u=$x/lib/systemd/system/tbdaq-web.service out
    out=$(systemd-analyze security --offline=true --threshold=20 "$u" 2>&1) ||
        { echo "$out" | grep -E 'Overall|exposure' | tail -n 1; return 1; }
    grep -qx 'ProtectSystem=strict' "$u" && grep -qx 'CapabilityBoundingSet=' "$u" ||
        { echo "no ProtectSystem=strict or a capability left"; return 1; }
}
if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
    check unit_web_security unit_web_security
else
    skip unit_web_security "systemd-analyze has no --offline (systemd < 250)"
fi

sysusers() {
    local f=$x/usr/lib/sysusers.d/tbdaq.conf
    [ -f "$f" ] || { echo "no /usr/lib/sysusers.d/tbdaq.conf"; return 1; }
    grep -q '^u tbdaq .*/var/lib/tbdaq' "$f" ||
        { echo "no 'u tbdaq ... /var/lib/tbdaq' line"; return 1; }
    cmp -s "$f" "$src/systemd/tbdaq.sysusers" ||
        { echo "differs from systemd/tbdaq.sysusers"; return 1; }
}
check sysusers sysusers

# --- configuration ---------------------------------------------------------

conffile() {
    grep -qx /etc/tbdaq/tbdaq.conf "$c/conffiles" 2>/dev/null ||
        { echo "conffiles: $(cat "$c/conffiles" 2>&1)"; return 1; }
    cmp -s "$x/etc/tbdaq/tbdaq.conf" "$src/config/tbdaq.conf" ||
        { echo "/etc/tbdaq/tbdaq.conf is not config/tbdaq.conf"; return 1; }
}
check conffile conffile

# The example the operator starts from is valid as shipped.
config_valid() {
    local out
    out=$("$x/usr/sbin/tbdaqd" -t -c "$x/etc/tbdaq/tbdaq.conf" 2>&1 >/dev/null) ||
        { echo "tbdaqd -t: $out"; return 1; }
}
check config_valid config_valid

# --- dependencies from shlibs -------------------------------------------------

depends_on() {
    local dep
    dep=$(dpkg-deb -f "$deb" Depends)
    # Package names in the comma/bar separated list, versions stripped.
    printf '%s\n' "$dep" | tr ',|' '\n\n' | sed 's/(.*//; s/[[:space:]]//g' |
        grep -qx "$1" || { echo "Depends: $dep"; return 1; }
}
for lib in libmodbus5 libmosquitto1 libsqlite3-0 libconfig9 libjansson4 \
    libssl3 libmicrohttpd12 libcrypt1; do
    check "depends_$lib" depends_on "$lib"
done
# tbdaqd speaks sd_notify itself: libsystemd0 (and the six libraries it
# pulls in) is no dependency.
check no_depends_libsystemd0 eval '! depends_on libsystemd0 >/dev/null'

# --- maintainer scripts --------------------------------------------------------

script_syntax() {
    [ -f "$c/$1" ] || { echo "no $1"; return 1; }
    sh -n "$c/$1" 2>&1
}
for s in postinst prerm postrm; do
    check "syntax_$s" script_syntax "$s"
done
if [ -f "$c/preinst" ]; then
    check syntax_preinst script_syntax preinst
fi

# Stubs that log "NAME ARGS" to $scratch/calls. deb-systemd-helper
# was-enabled answers $STUB_WAS_ENABLED (0 enabled, 1 not).
stubs=$scratch/stubs
mkdir -p "$stubs"
for s in deb-systemd-helper deb-systemd-invoke systemctl systemd-sysusers; do
    cat >"$stubs/$s" <<'EOF'
#!/bin/sh
echo "${0##*/} $*" >>"$STUB_LOG"
if [ "${0##*/}" = deb-systemd-helper ]; then
    for a; do
        [ "$a" = was-enabled ] && exit "${STUB_WAS_ENABLED:-1}"
    done
fi
exit 0
EOF
    chmod 755 "$stubs/$s"
done

# run_script SCRIPT ARGS...: runs the package's script in a private mount
# namespace (as under systemd; /var/lib empty but for a database in
# /var/lib/tbdaq); stdout+stderr to $scratch/out, stub calls to
# $scratch/calls; afterwards $scratch/db says whether the database was
# still there, unchanged.
run_script() {
    local s=$1
    shift
    : >"$scratch/calls"
    : >"$scratch/out"
    rm -f "$scratch/db"
    [ -f "$c/$s" ] || return 0
    STUB_LOG=$scratch/calls PATH=$stubs:$PATH unshare -m sh -c '
        mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system &&
        mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/tbdaq &&
        echo evidence >/var/lib/tbdaq/tbdaq.db || exit 99
        script=$1; shift
        sh "$script" "$@"; rc=$?
        if [ "$(cat /var/lib/tbdaq/tbdaq.db 2>/dev/null)" = evidence ]; then
            echo kept >"$SCRATCH/db"; fi
        exit $rc' sh "$c/$s" "$@" >"$scratch/out" 2>&1
}
# The calls the stubs logged, on one line.
calls() { tr '\n' ';' <"$scratch/calls"; }

# A fresh install creates the user, and neither enables nor starts.
maint_install() {
    STUB_WAS_ENABLED=1 run_script postinst configure ||
        { echo "postinst configure failed: $(cat "$scratch/out")"; return 1; }
    grep -qx 'systemd-sysusers tbdaq.conf' "$scratch/calls" ||
        { echo "no systemd-sysusers tbdaq.conf; calls:" "$(calls)"; return 1; }
    ! grep -E '^deb-systemd-invoke|^deb-systemd-helper enable|^systemctl .*(start|enable)' \
        "$scratch/calls" || { echo "^ starts or enables on install"; return 1; }
}
# An upgrade restarts a running service once, after the new files are in.
maint_upgrade() {
    STUB_WAS_ENABLED=0 run_script preinst upgrade 0.1.0 ||
        { echo "preinst upgrade failed: $(cat "$scratch/out")"; return 1; }
    ! grep -q '^deb-systemd-invoke' "$scratch/calls" ||
        { echo "preinst upgrade:" "$(calls)"; return 1; }
    STUB_WAS_ENABLED=0 run_script prerm upgrade 0.2.0 ||
        { echo "prerm upgrade failed: $(cat "$scratch/out")"; return 1; }
    ! grep -q '^deb-systemd-invoke' "$scratch/calls" ||
        { echo "prerm upgrade:" "$(calls)"; return 1; }
    STUB_WAS_ENABLED=0 run_script postinst configure 0.1.0 ||
        { echo "postinst configure 0.1.0 failed: $(cat "$scratch/out")"; return 1; }
    # One call for the package's units (tbdaq-web's too), quoted or not.
    grep -qE "^deb-systemd-invoke try-restart( '?[a-z-]+\.service'?)* '?tbdaqd\.service'?( |\$)" \
        "$scratch/calls" ||
        { echo "postinst configure 0.1.0 does not try-restart; calls:" "$(calls)"; return 1; }
}
maint_remove_stops() {
    run_script prerm remove ||
        { echo "prerm remove failed: $(cat "$scratch/out")"; return 1; }
    grep -q '^deb-systemd-invoke stop .*tbdaqd.service' "$scratch/calls" ||
        { echo "prerm remove does not stop tbdaqd; calls:" "$(calls)"; return 1; }
}
maint_purge_keeps_db() {
    run_script postrm purge ||
        { echo "postrm purge failed: $(cat "$scratch/out")"; return 1; }
    [ -f "$scratch/db" ] || { echo "the database is gone after purge"; return 1; }
    grep -q '/var/lib/tbdaq' "$scratch/out" ||
        { echo "purge does not say where the data stays: $(cat "$scratch/out")"; return 1; }
}
export SCRATCH=$scratch
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    check maint_install maint_install
    check maint_upgrade maint_upgrade
    check maint_remove_stops maint_remove_stops
    check maint_purge_keeps_db maint_purge_keeps_db
else
    for n in maint_install maint_upgrade maint_remove_stops maint_purge_keeps_db; do
        skip "$n" "needs root and unshare -m"
    done
fi

# --- dpkg into a scratch root ------------------------------------------------

r=$scratch/root
dpkg_root() {
    dpkg --root="$r" --log="$scratch/dpkg.log" --force-script-chrootless \
        --force-depends "$@" >>"$scratch/dpkg.out" 2>&1
}
root_install() {
    mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates" "$r/etc" &&
        touch "$r/var/lib/dpkg/status" "$r/var/lib/dpkg/available" || return 1
    dpkg_root -i "$deb" || { echo "dpkg -i: $(tail -n 5 "$scratch/dpkg.out")"; return 1; }
    [ -x "$r/usr/sbin/tbdaqd" ] || { echo "no /usr/sbin/tbdaqd"; return 1; }
    grep -q '^tbdaq:x:[0-9]*:[0-9]*:.*:/var/lib/tbdaq:' "$r/etc/passwd" 2>/dev/null ||
        { echo "no user tbdaq in the root's /etc/passwd"; return 1; }
    ! ls "$r"/etc/systemd/system/*.wants/tbdaqd.service 2>/dev/null ||
        { echo "^ enabled at installation"; return 1; }
}
root_purge_keeps_db() {
    mkdir -p "$r/var/lib/tbdaq" && echo evidence >"$r/var/lib/tbdaq/tbdaq.db" ||
        return 1
    dpkg_root --purge tbdaq ||
        { echo "dpkg --purge: $(tail -n 5 "$scratch/dpkg.out")"; return 1; }
    [ "$(cat "$r/var/lib/tbdaq/tbdaq.db" 2>/dev/null)" = evidence ] ||
        { echo "purge removed the database"; return 1; }
    [ ! -e "$r/etc/tbdaq/tbdaq.conf" ] && [ ! -e "$r/usr/sbin/tbdaqd" ] ||
        { echo "purge left the package's files"; return 1; }
}
if [ "$(id -u)" = 0 ]; then
    check root_install root_install
    if [ -x "$r/usr/sbin/tbdaqd" ]; then
        check root_purge_keeps_db root_purge_keeps_db
    else
        skip root_purge_keeps_db "the installation failed"
    fi
else
    skip root_install "dpkg --root needs root"
    skip root_purge_keeps_db "dpkg --root needs root"
fi

summary
