#!/bin/sh
# --help and --version of every program and subcommand to a full disk
# (/dev/full) exit 1 naming standard output; to /dev/null they exit 0. (They
# exited 0 with the text lost.) Every line of them fits 80 columns.
# usage: test_help_full.sh INGOT_PRETOK INGOT_TRAIN INGOT_DUMP
set -u
pretok=$1 train=$2 dump=$3
fails=0
# The lines of stdin wider than 80 columns or holding a tab, each as
# "WIDTH: LINE". Characters are counted, not bytes ('→' is one column):
# UTF-8 continuation bytes are dropped before counting, under LC_ALL=C, so
# the count is the same with any awk (mawk counts bytes in every locale).
wide() {
    LC_ALL=C awk '{ s = $0; gsub(/[\200-\277]/, "", s)
                    if (length(s) > 80 || index(s, "\t")) printf "%d: %s\n", length(s), $0 }'
}
for cmd in "$pretok --help" "$pretok --version" "$pretok import-bin --help" \
           "$train --help" "$train --version" \
           "$train generate --help" "$train export --help" "$train eval --help" \
           "$train generate --version" "$train export --version" "$train eval --version" \
           "$dump --help" "$dump --version"; do
    err=$($cmd 2>&1 >/dev/full)
    rc=$?
    if [ $rc -ne 1 ] || ! printf '%s' "$err" | grep -q "standard output: cannot write"; then
        echo "FAIL: $cmd > /dev/full: exit $rc: $err"
        fails=$((fails + 1))
    fi
    if ! $cmd >/dev/null 2>&1; then
        echo "FAIL: $cmd > /dev/null: exit $?"
        fails=$((fails + 1))
    fi
    # every line fits an 80-column terminal (about 100 did not: ingot-train's
    # preset table reached 111)
    over=$($cmd 2>&1 | wide)
    if [ -n "$over" ]; then
        printf 'FAIL: %s: lines over 80 columns:\n%s\n' "$cmd" "$over"
        fails=$((fails + 1))
    fi
done
# --help's --dist list is this build's, as the refusal of an unknown one
# says it (it listed mpi and nccl in every build)
helped=$($train --help | sed -n '/or one this build has:/{n;s/^ *//;p;}')
refused=$($train --synthetic --dist bogus 2>&1 | sed -n 's/.*this build has //p')
if [ -z "$helped" ] || [ "$helped" != "$refused" ]; then
    echo "FAIL: --help lists --dist '$helped', the build has '$refused'"
    fails=$((fails + 1))
fi
# One command-line experience in every program and subcommand: -h as
# --help; a mistyped option named with the nearest one, a switch given a
# value, a value left out, each exit 2 on stderr, prefixed with the program
# and subcommand and pointing to that subcommand's --help. (ingot-pretok,
# ingot-dump and ingot-train's subcommands said only "unknown option", the
# subcommands "unknown or incomplete option"; ingot-train refused -h.)
# name|args|typo|nearest|a valued option
while IFS='|' read -r name args typo near valued; do
    bin=$pretok
    case $name in ingot-train*) bin=$train ;; ingot-dump*) bin=$dump ;; esac
    out=$($bin $args -h 2>&1)
    rc=$?
    case $rc:$out in
        "0:usage: "*) ;;
        *) echo "FAIL: $name -h: exit $rc: $(echo "$out" | head -1)"; fails=$((fails + 1)) ;;
    esac
    over=$(printf '%s\n' "$out" | wide)
    if [ -n "$over" ]; then
        printf 'FAIL: %s -h: lines over 80 columns:\n%s\n' "$name" "$over"
        fails=$((fails + 1))
    fi
    # the exit statuses stated (ingot-train, its subcommands and import-bin
    # stated none)
    if ! printf '%s\n' "$out" | grep -q '^exit status: 0 .*1 .*2 usage'; then
        echo "FAIL: $name --help states no exit status"
        fails=$((fails + 1))
    fi
    for case in "$typo|unknown option '$typo'; did you mean $near? (see $name --help)" \
                "--help=1|--help takes no value (got '--help=1'; see $name --help)" \
                "$valued|$valued needs a value (see $name --help)"; do
        arg=${case%%|*} want="$name: ${case#*|}"
        err=$($bin $args "$arg" 2>&1 >/dev/null)
        rc=$?
        if [ $rc -ne 2 ] || [ "$err" != "$want" ]; then
            echo "FAIL: $name $arg: exit $rc: '$err', expected 2: '$want'"
            fails=$((fails + 1))
        fi
    done
done <<EOF
ingot-pretok||--quite|--quiet|--out
ingot-pretok text|text|--text-ky|--text-key|--every
ingot-pretok merge|merge|--quite|--quiet|--out
ingot-pretok import-bin|import-bin|--formt|--format|--vocab
ingot-train||--quite|--quiet|--steps
ingot-train export|export|--formt|--format|--out
ingot-train generate|generate|--promt|--prompt|--tokens
ingot-train eval|eval|--jsn|--json|--tokens
ingot-dump info|info|--jsn|--json|--list
ingot-dump docs|docs|--cont|--count|--first
EOF
# an abbreviation of two options is named so, not "unknown"
err=$($train --synthetic --val 5 2>&1)
case $err in
    *"option '--val' is ambiguous: --val-every, --val-tokens"*) ;;
    *) echo "FAIL: --val: $err"; fails=$((fails + 1)) ;;
esac
[ $fails -eq 0 ] && echo "ok: help and version to a full disk exit 1, to /dev/null 0, no line over 80 columns; --dist list; -h and option errors alike everywhere"
exit $((fails != 0))
