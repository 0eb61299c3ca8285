#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/man/examples.sh: the configurations the manual pages show are
# valid, as `tbdaqd -t` judges them.
#
#   tests/man/examples.sh [BUILD [MANDIR]]  (from the repository root;
#                           BUILD holds tbdaqd, default build; MANDIR the
#                           pages, default man)
#
# A page marks an example with a line '.\" example: config' (a whole
# configuration) or '.\" example: fragment' (buses and sensors only: a
# site is added) right before its '.Bd -literal' display. Each is checked;
# the exit status is 1 if any is not valid, or if there is none.

set -u
build=${1:-build}
man=${2:-man}

if [ ! -x "$build/tbdaqd" ]; then
    echo "examples.sh: no program '$build/tbdaqd' (make BUILD=$build all)"
    exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

n=0 fail=0
for page in "$man"/*.[1-8]; do
    # One file per example: ex.N, with the page's line in ex.N.line.
    awk -v dir="$tmp" -v base="$n" '
        /^\.\\" example: (config|fragment)$/ { kind = $3; at = NR; next }
        kind != "" && /^\.Bd -literal/ {
            f = dir "/ex." (base + ++k)
            print at >(f ".line")
            if (kind == "fragment")
                print "site = \"example\";" >f
            close(f ".line")
            grab = 1
            next
        }
        grab && /^\.Ed/ { close(f); grab = 0; kind = ""; next }
        grab { gsub(/\\e/, "\\"); print >f }
        kind != "" && !grab && !/^\.Bd/ { kind = "" }
    ' "$page"
    for f in "$tmp"/ex.*; do
        [ -e "$f" ] || continue
        case $f in *.line | *.done) continue ;; esac
        [ -e "$f.done" ] && continue
        : >"$f.done"
        n=$((n + 1))
        line=$(cat "$f.line")
        if "$build/tbdaqd" -t -c "$f" >"$tmp/out" 2>&1; then
            echo "examples.sh: $page:$line: valid"
        else
            echo "examples.sh: $page:$line: not valid:"
            sed 's/^/    /' "$tmp/out"
            fail=1
        fi
    done
done
if [ "$n" -eq 0 ]; then
    echo "examples.sh: no marked example in $man"
    exit 1
fi
exit $fail
