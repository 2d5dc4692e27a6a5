#!/usr/bin/env bash
# scripts/launch/env-loop.sh: when one rank fails, the others are stopped at
# once and the first failure's status is returned (a rank that failed before
# the rendezvous left the others waiting for --dist-timeout, 600 s by
# default). The ranks here are a stand-in for ingot-train: rank 0 fails,
# rank 1 would wait 60 s. Then the launcher itself stopped by a signal.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
[ "$RANK" = 0 ] && exit 3
exec sleep 60
SH
chmod +x "$tmp/rank"
t0=$(date +%s)
INGOT_TRAIN=$tmp/rank timeout 30 "$here/scripts/launch/env-loop.sh" 2 > "$tmp/out" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
if [ "$rc" -ne 3 ] || [ "$dt" -gt 10 ] || ! grep -q "stopping the others" "$tmp/out"; then
    echo "FAIL: env-loop with a failing rank 0: exit $rc after $dt s"; cat "$tmp/out"; exit 1
fi
# all succeed: 0
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
exit 0
SH
INGOT_TRAIN=$tmp/rank timeout 30 "$here/scripts/launch/env-loop.sh" 3 || { echo "FAIL: all ok"; exit 1; }
# every rank of a run has the run's INGOT_DIST_JOB_ID, and two runs have two:
# plain RANK/WORLD_SIZE name no job, and two runs given one port were told
# "two processes are rank 0" instead of "another job"
cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
echo "$INGOT_DIST_JOB_ID" > "$OUT/job.$RUN.$RANK"
SH
for run in a b; do
    (unset INGOT_DIST_JOB_ID; RUN=$run OUT=$tmp INGOT_TRAIN=$tmp/rank timeout 30 \
        "$here/scripts/launch/env-loop.sh" 2) || { echo "FAIL: job id run $run"; exit 1; }
done
ja=$(cat "$tmp/job.a.0"); jb=$(cat "$tmp/job.b.0")
if [ -z "$ja" ] || [ "$ja" != "$(cat "$tmp/job.a.1")" ] || [ "$ja" = "$jb" ]; then
    echo "FAIL: INGOT_DIST_JOB_ID: run a '$ja' / '$(cat "$tmp/job.a.1")', run b '$jb'"; exit 1
fi
echo "ok: a failing rank stops the others within $dt s (status 3 returned)"

# The launcher itself stopped (Ctrl-C, scancel): its `wait -n` returned 130
# when interrupted, which was counted as a rank's status, so it reported a
# status no rank had, sent SIGTERM for SIGINT, and exited before the last
# rank had saved. Now the signal itself goes to every rank, each rank's own
# status is named, and the launcher exits 128 + N after the last one ended.
# The ranks: rank r waits for a signal, writes it down, takes 0.5*(r+1) s
# (a checkpoint being saved) and exits with its own status: rank 0 128 + N,
# rank 1 0, rank 2 3.
cat > "$tmp/rank" <<'PY'
#!/usr/bin/env python3
import os, signal, sys, time
got = []
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
    signal.signal(s, lambda n, f: got.append(n))
r = int(os.environ["RANK"])
open(os.path.join(os.environ["OUT"], "up.%d" % r), "w").close()
while not got:
    time.sleep(0.02)
time.sleep(0.5 * (r + 1))
with open(os.path.join(os.environ["OUT"], "rank.%d" % r), "w") as f:
    f.write("%d\n" % got[0])
sys.exit([128 + got[0], 0, 3][r])
PY
# SIGUSR1 (ingot-train's save-and-stop, Slurm's --signal=USR1@T) killed the
# launcher and left the ranks training
for s in INT:2 TERM:15 HUP:1 USR1:10; do
    name=${s%:*}
    num=${s#*:}
    rm -f "$tmp"/up.* "$tmp"/rank.*
    # started as a terminal's foreground job is: SIGINT not ignored (a
    # shell's background job ignores it, and bash cannot trap it then)
    OUT=$tmp INGOT_TRAIN=$tmp/rank python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$here/scripts/launch/env-loop.sh" 3 > "$tmp/out" 2>&1 &
    lp=$!
    for ((i = 0; i < 100; i++)); do
        [ -e "$tmp/up.0" ] && [ -e "$tmp/up.1" ] && [ -e "$tmp/up.2" ] && break
        sleep 0.1
    done
    kill -"$name" "$lp"
    ( sleep 20; kill -KILL "$lp" 2>/dev/null ) &
    guard=$!
    wait "$lp"
    rc=$?
    kill "$guard" 2>/dev/null
    wait "$guard" 2>/dev/null
    fail() {
        echo "FAIL: env-loop stopped by SIG$name: $1 (exit $rc)"
        cat "$tmp/out"
        exit 1
    }
    [ "$rc" -eq $((128 + num)) ] || fail "exit $rc, want $((128 + num))"
    for r in 0 1 2; do
        # every rank had ended (the last one after 1.5 s) when the launcher did
        [ -e "$tmp/rank.$r" ] || fail "rank $r had not ended when the launcher exited"
        [ "$(cat "$tmp/rank.$r")" = "$num" ] || fail "rank $r got signal $(cat "$tmp/rank.$r")"
    done
    for want in "rank 0 exited with status $((128 + num))" "rank 1 exited with status 0" \
                "rank 2 exited with status 3"; do
        grep -qx "env-loop: $want" "$tmp/out" || fail "no line 'env-loop: $want'"
    done
    ! grep -q "stopping the others" "$tmp/out" || fail "a rank's stop taken for a failure"
done
echo "ok: SIGINT, SIGTERM, SIGHUP and SIGUSR1 to the launcher go to every rank, whose own statuses are" \
     "named, and it exits 128+N after the last rank"

# The ranks start with SIGINT at its default action: a non-interactive bash
# starts background jobs with SIGINT ignored, and ingot-train takes it back
# only after its start-up (the CUDA libraries loaded), so a Ctrl-C in that
# window was lost and the ranks trained on. A rank here writes down its
# ignored-signal mask (SigIgn in /proc) before anything else.
if env --default-signal=INT true 2>/dev/null; then
    cat > "$tmp/rank" <<'SH'
#!/usr/bin/env bash
grep SigIgn /proc/self/status > "$OUT/ign.$RANK"
exit 0
SH
    rm -f "$tmp"/ign.*
    OUT=$tmp INGOT_TRAIN=$tmp/rank timeout 30 "$here/scripts/launch/env-loop.sh" 2 ||
        { echo "FAIL: the mask-reading ranks"; exit 1; }
    for r in 0 1; do
        m=$(awk '{print $2}' "$tmp/ign.$r")
        # bit 1: SIGINT (2), bit 2: SIGQUIT (3)
        if (( (16#$m >> 1) & 3 )); then
            echo "FAIL: rank $r started with SIGINT or SIGQUIT ignored (SigIgn $m)"; exit 1
        fi
    done
    echo "ok: the ranks start with SIGINT and SIGQUIT at their default action"
else
    echo "note: env has no --default-signal here (coreutils < 8.31): SIGINT goes to the ranks as SIGTERM"
fi
