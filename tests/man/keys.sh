#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/man/keys.sh: every configuration key that lib/config_table.c
# accepts is documented in man/tbdaq.conf.5, and the page documents no
# other.
#
#   tests/man/keys.sh [CONFIG_TABLE_C [PAGE]]   (from the repository root)
#
# config_table.c describes each group by a table "static const struct key
# GROUP_keys[...]" whose rows name their keys, ROW_INT("port", ...). The
# page lists each group's keys as ".It Ic KEY" items of the list that
# follows a line ".\" keys: GROUP" (items of lists nested inside one are
# not keys). Both are reduced to "GROUP KEY" lines and compared; the
# differences are printed and the exit status is 1.

set -u
export LC_ALL=C
src=${1:-lib/config_table.c}
page=${2:-man/tbdaq.conf.5}

for f in "$src" "$page"; do
    if [ ! -r "$f" ]; then
        echo "keys.sh: cannot read '$f' (run from the repository root)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# The tables: from "static const struct key NAME_keys[" to its "};".
awk '
    match($0, /^static const struct key [a-z_]+_keys\[/) {
        group = $0
        sub(/^static const struct key /, "", group)
        sub(/_keys\[.*/, "", group)
        next
    }
    group != "" && /^};/ { group = ""; next }
    group != "" {
        # Every row starts with its designator, [XX_NAME] =; a row whose
        # key this cannot read is an error, not a key left out.
        if ($0 ~ /^[ \t]*\[[A-Z0-9_]+\] =/)
            rows[group]++
        line = $0
        while (match(line, /ROW[A-Z_]*\("[^"]+"/)) {
            key = substr(line, RSTART, RLENGTH)
            sub(/^ROW[A-Z_]*\("/, "", key)
            sub(/"$/, "", key)
            print group, key
            keys[group]++
            line = substr(line, RSTART + RLENGTH)
        }
    }
    END {
        bad = 0
        for (g in rows)
            if (keys[g] != rows[g]) {
                printf "keys.sh: %s_keys has %d rows, but %d key names " \
                    "could be read\n", g, rows[g], keys[g] >"/dev/stderr"
                bad = 1
            }
        exit bad
    }
' "$src" >"$tmp/code.raw" || exit 1
sort "$tmp/code.raw" >"$tmp/code"

# The page: ".It Ic KEY" at the first level of a marked list.
awk '
    /^\.\\" keys: / { group = $3; depth = 0; next }
    group == "" { next }
    /^\.Bl/ { depth++; next }
    /^\.El/ { if (--depth == 0) group = ""; next }
    depth == 1 && /^\.It Ic / { print group, $3 }
' "$page" | sort >"$tmp/page"

if [ ! -s "$tmp/code" ]; then
    echo "keys.sh: no key tables found in $src" >&2
    exit 1
fi
if [ ! -s "$tmp/page" ]; then
    echo "keys.sh: no marked key lists found in $page" >&2
    exit 1
fi
if cmp -s "$tmp/code" "$tmp/page"; then
    echo "keys.sh: $(wc -l <"$tmp/code") keys in $(cut -d' ' -f1 \
        "$tmp/code" | uniq | wc -l) groups: $page matches $src"
    exit 0
fi
# comm -23: only in the code; comm -13: only in the page.
comm -23 "$tmp/code" "$tmp/page" | while read -r g k; do
    echo "keys.sh: $src accepts '$k' in $g, but $page does not document it"
done
comm -13 "$tmp/code" "$tmp/page" | while read -r g k; do
    echo "keys.sh: $page documents '$k' in $g, but $src does not accept it"
done
exit 1
