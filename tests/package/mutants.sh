#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Shows that every assertion of check.sh can fail: each mutant is the good
# package with one thing broken (unpacked with dpkg-deb -R, changed,
# packed again), and check.sh on it must report that one check as FAIL and
# exit 1. make check-package-mutants runs it after make deb.
#
#   tests/package/mutants.sh DEB [SRCDIR]
#
# A line per mutant, "PASS name" when its check failed as it should, then
# "N passed, N failed". The maintainer-script mutants that delete the
# database do so inside check.sh's private mount namespace or scratch root
# only, never on the host.

set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DEB [SRCDIR]" >&2
    exit 2
fi
deb=$1
src=${2:-.}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/tbdaq-mutants.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT
passed=0
failed=0

# mutant CHECK SHELL-CODE: runs SHELL-CODE in the unpacked package (cwd;
# DEBIAN/ holds the control files), packs it, and expects FAIL CHECK.
mutant() {
    local name=$1 code=$2 m=$scratch/m out rc
    rm -rf "$m" "$scratch/m.deb"
    if [ "$name" = extract ]; then
        # A damaged file, not a package.
        head -c 1000 "$deb" >"$scratch/m.deb"
    elif ! dpkg-deb -R "$deb" "$m" || ! (cd "$m" && eval "$code") ||
        ! dpkg-deb --root-owner-group -b "$m" "$scratch/m.deb" >/dev/null 2>&1; then
        echo "FAIL $name: the mutant could not be made"
        failed=$((failed + 1))
        return
    fi
    out=$("$here/check.sh" "$scratch/m.deb" "$src" 2>&1)
    rc=$?
    if [ $rc = 1 ] && printf '%s\n' "$out" | grep -q "^FAIL $name:"; then
        echo "PASS $name ($(printf '%s\n' "$out" | grep "^FAIL $name:" | cut -c 1-100))"
        passed=$((passed + 1))
    else
        echo "FAIL $name: check.sh exit $rc, FAIL lines:" \
            "$(printf '%s\n' "$out" | grep '^FAIL' | tr '\n' ' ')"
        failed=$((failed + 1))
    fi
}

# A script standing in for a program: prints a wrong version.
fake() {
    printf '#!/bin/sh\necho "%s 9.9.9"\n' "$(basename "$1")" >"$1"
}
# sed on a control field
ctl() { sed -i "$1" DEBIAN/control; }

mutant extract "(see mutant)"
mutant field_package "ctl 's/^Package: tbdaq$/Package: tbdaq-other/'"
mutant field_version "ctl 's/^Version: .*/Version: 9.9.9/'"
mutant program_tbdaqd "rm usr/sbin/tbdaqd"
mutant program_tbdaq "chmod -x usr/bin/tbdaq"
mutant program_tbdaq-sim "rm usr/bin/tbdaq-sim"
mutant version_tbdaqd "fake usr/sbin/tbdaqd"
mutant version_tbdaq "fake usr/bin/tbdaq"
mutant version_tbdaq-sim "fake usr/bin/tbdaq-sim"
mutant only_expected_paths "mkdir -p var/lib/tbdaq && touch var/lib/tbdaq/tbdaq.db"
for f in "$src"/man/*.[158]; do
    [ -f "$f" ] || continue
    b=$(basename "$f")
    mutant "man_$b" "rm usr/share/man/man${b##*.}/$b.gz"
done
mutant doc_copyright "echo extra >>usr/share/doc/tbdaq/copyright"
mutant doc_changelog "rm usr/share/doc/tbdaq/changelog*"
mutant doc_readme "rm usr/share/doc/tbdaq/README.md*"
if [ -f "$src/docs/SPEC.md" ]; then
    mutant doc_spec "rm usr/share/doc/tbdaq/SPEC.md*"
fi
mutant unit_execstart \
    "sed -i 's|^ExecStart=/usr/sbin/|ExecStart=/usr/local/sbin/|' lib/systemd/system/tbdaqd.service"
mutant sysusers "sed -i 's/^u tbdaq /u tbdaq2 /' usr/lib/sysusers.d/tbdaq.conf"
mutant conffile ": >DEBIAN/conffiles"
mutant config_valid "echo 'poll_interval_ms = ;' >>etc/tbdaq/tbdaq.conf"
for lib in libmodbus5 libmosquitto1 libsqlite3-0 libconfig9 libjansson4 \
    libssl3; do
    mutant "depends_$lib" "ctl '/^Depends:/s/ $lib\([ ,]\|\$\)/ $lib-other\1/'"
done
mutant no_depends_libsystemd0 "ctl '/^Depends:/s/\$/, libsystemd0/'"
mutant syntax_postinst "echo 'if then' >>DEBIAN/postinst"
mutant syntax_prerm "echo 'fi fi' >>DEBIAN/prerm"
mutant syntax_postrm "echo 'case' >>DEBIAN/postrm"
# The start the package must not do, put before everything else.
mutant maint_install \
    "sed -i '2i deb-systemd-invoke start tbdaqd.service' DEBIAN/postinst"
mutant maint_upgrade "sed -i 's/ try-restart / start /' DEBIAN/postinst"
mutant maint_upgrade "sed -i 's/\[ \"\$1\" = remove \]/true/' DEBIAN/prerm"
mutant maint_install "sed -i 's/deb-systemd-helper --quiet was-enabled/true/' DEBIAN/postinst"
mutant maint_remove_stops "sed -i 's/deb-systemd-invoke stop/true/' DEBIAN/prerm"
mutant maint_purge_keeps_db \
    "sed -i '2i [ \"\$1\" != purge ] || rm -rf \"\${DPKG_ROOT:-}/var/lib/tbdaq\"' DEBIAN/postrm"
mutant root_install "sed -i 's/^\( *\)systemd-sysusers /\1true /' DEBIAN/postinst"
mutant root_purge_keeps_db \
    "sed -i '2i [ \"\$1\" != purge ] || rm -rf \"\${DPKG_ROOT:-}/var/lib/tbdaq\"' DEBIAN/postrm"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
