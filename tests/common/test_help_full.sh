#!/bin/sh
# --help and --version of every program and subcommand to a full disk
# (/dev/full) exit 1 naming standard output; to /dev/null they exit 0. (They
# exited 0 with the text lost.)
# usage: test_help_full.sh INGOT_PRETOK INGOT_TRAIN INGOT_DUMP
set -u
pretok=$1 train=$2 dump=$3
fails=0
for cmd in "$pretok --help" "$pretok --version" "$pretok import-bin --help" \
           "$train --help" "$train --version" \
           "$train generate --help" "$train export --help" "$train eval --help" \
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
done
# --help's --dist list is this build's, as the refusal of an unknown one
# says it (it listed mpi and nccl in every build)
helped=$($train --help | sed -n '/or one this build has:/{n;s/^ *//;p;}')
refused=$($train --synthetic --dist bogus 2>&1 | sed -n 's/.*this build has //p')
if [ -z "$helped" ] || [ "$helped" != "$refused" ]; then
    echo "FAIL: --help lists --dist '$helped', the build has '$refused'"
    fails=$((fails + 1))
fi
[ $fails -eq 0 ] && echo "ok: help and version to a full disk exit 1, to /dev/null 0; --dist list"
exit $((fails != 0))
