#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/man/options.sh: each program's options, as its --help lists them,
# are the options its manual page documents, no more and no fewer.
#
#   tests/man/options.sh [BUILD [MANDIR]]   (from the repository root;
#                           BUILD holds the programs, default build;
#                           MANDIR the pages, default man)
#
# From the help text: every "--name" and every "-x" that stands alone
# (after a blank, '[' or '(' and before a blank, ',', ']' or '|'). From the
# page: every ".Fl \-name" and ".Fl x" (mdoc's flag macro; a lone "\-",
# the end of options, is not an option). Each is reduced to a sorted list
# and the two are compared; differences are printed, and the exit status
# is 1.

set -u
export LC_ALL=C
build=${1:-build}
man=${2:-man}

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

fail=0

# Options named in a help text, one per line.
help_options() {
    grep -oE -- '(^|[][ (|])--?[A-Za-z][A-Za-z0-9-]*' |
        sed -E 's/^[][ (|]//' |
        grep -vE -- '^-[A-Za-z][A-Za-z0-9-]+$' |
        sort -u
}

# Options an mdoc page names with Fl, one per line.
page_options() {
    grep -E '(^|[ .])Fl ' "$1" |
        grep -oE 'Fl (\\-[A-Za-z][A-Za-z0-9-]*|[A-Za-z]\>)' |
        sed -E 's/^Fl //; s/^\\-/--/; s/^([A-Za-z])$/-\1/' |
        sort -u
}

check() {
    prog=$1 page=$2
    if [ ! -x "$build/$prog" ]; then
        echo "options.sh: no program '$build/$prog' (make BUILD=$build all)"
        fail=1
        return
    fi
    if ! "$build/$prog" --help >"$tmp/help" 2>"$tmp/err"; then
        echo "options.sh: '$prog --help' failed: $(cat "$tmp/err")"
        fail=1
        return
    fi
    help_options <"$tmp/help" >"$tmp/h"
    page_options "$page" >"$tmp/p"
    if [ ! -s "$tmp/h" ] || [ ! -s "$tmp/p" ]; then
        echo "options.sh: no options found for $prog (help or $page)"
        fail=1
        return
    fi
    for o in $(comm -23 "$tmp/h" "$tmp/p"); do
        echo "options.sh: '$prog --help' lists $o, but $page does not"
        fail=1
    done
    for o in $(comm -13 "$tmp/h" "$tmp/p"); do
        echo "options.sh: $page documents $o, but '$prog --help' does not"
        fail=1
    done
    if cmp -s "$tmp/h" "$tmp/p"; then
        echo "options.sh: $prog: $(tr '\n' ' ' <"$tmp/h")"
    fi
}

# Every program the build makes has its page, in section 8 for a daemon
# or service (tbdaqd, tbdaq-web), 1 for the others: a new program fails
# here until it is documented.
for exe in "$build"/tbdaq*; do
    [ -f "$exe" ] && [ -x "$exe" ] || continue
    prog=${exe##*/}
    case $prog in
    tbdaqd | tbdaq-web) page=$man/$prog.8 ;;
    *) page=$man/$prog.1 ;;
    esac
    if [ ! -f "$page" ]; then
        echo "options.sh: $prog has no manual page $page"
        fail=1
        continue
    fi
    check "$prog" "$page"
done
exit $fail
