#!/usr/bin/env bash
# ingot-train on N GPUs of this host with nothing but environment variables
# (what any launcher does): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
# MASTER_PORT per process. The first failing rank's status is returned and
# the others are stopped (SIGTERM) at once, as torchrun does: a rank that
# failed before the rendezvous would leave them waiting for --dist-timeout.
# A stop by signal N to one rank stops them all, each exiting 128 + N (as
# ingot-train --help says). Stopping this script (SIGINT, SIGTERM, SIGHUP,
# SIGUSR1: Slurm's --signal=USR1@T) forwards that signal to every rank (each
# saves and exits 128 + N), waits for all of them, names each rank's status,
# and exits 128 + N itself. Each run gets its own INGOT_DIST_JOB_ID, so that
# a second run given the same MASTER_PORT is named as another job.
#
#   scripts/launch/env-loop.sh N [ingot-train args...]
# env: INGOT_TRAIN (default build/train/ingot-train), MASTER_PORT (29500)
set -uo pipefail
. "$(dirname "$0")/../script_help.sh"
script_count ranks "$@"
here=$(cd "$(dirname "$0")/../.." && pwd)
n=$1
shift
bin=$(script_bin INGOT_TRAIN "$here/build/train/ingot-train") || exit 2
script_env_count MASTER_PORT 1 65535
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
export INGOT_DIST_JOB_ID=${INGOT_DIST_JOB_ID:-env-loop-$(hostname)-$$-$(date +%s%N)}
pids=()
ranks=()   # pids[i] is rank ranks[i]
sig=0      # the signal this script was stopped by (its number), 0: none
# A non-interactive bash starts its background jobs with SIGINT and SIGQUIT
# ignored, and ingot-train takes SIGINT back only once its start-up is done
# (after loading the CUDA libraries): a SIGINT forwarded before then was
# lost and the ranks trained on. env --default-signal (coreutils 8.31)
# starts them with the default action.
dflt=()
env --default-signal=INT true 2>/dev/null && dflt=(env --default-signal=INT,QUIT)
# Forwarded to every rank started so far. A signal interrupts `wait`, which
# then returns 128 + N without reaping anyone: the statuses below come from
# `wait PID` of a rank known to be gone, never from the interrupted wait.
stop() {
    [ "$sig" -ne 0 ] || sig=$1
    local fwd=$2
    # without env --default-signal the ranks may still ignore SIGINT
    [ "$fwd" = INT ] && [ "${#dflt[@]}" -eq 0 ] && fwd=TERM
    echo "env-loop: SIG$2: sending SIG$fwd to the ranks and waiting for them" >&2
    [ "${#pids[@]}" -eq 0 ] || kill -"$fwd" "${pids[@]}" 2>/dev/null
}
trap 'stop 2 INT' INT
trap 'stop 15 TERM' TERM
trap 'stop 1 HUP' HUP
# ingot-train's "save and stop" (docs/training.md): this script died of it,
# leaving the ranks training with no one to stop them
trap 'stop 10 USR1' USR1
for ((r = 0; r < n && sig == 0; r++)); do
    # a rank already gone (failed at start-up): start no more, the loop below
    # names it and stops the others
    if [ "$r" -gt 0 ] && [ "$(jobs -pr | wc -l)" -lt "${#pids[@]}" ]; then
        echo "env-loop: a rank ended before all $n were started; starting no more" >&2
        break
    fi
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 \
        MASTER_PORT=${MASTER_PORT:-29500} "${dflt[@]+"${dflt[@]}"}" "$bin" "$@" &
    pids+=($!)
    ranks+=("$r")
done
rc=0
statuses=()
left=("${!pids[@]}")   # indices of the ranks not reaped yet
while [ "${#left[@]}" -gt 0 ]; do
    # returns when a rank ends or a signal comes; its status is not used
    # (127: no child left to wait for, so every one left is gone)
    wait -n 2>/dev/null
    w=$?
    still=()
    for i in "${left[@]}"; do
        if [ "$w" -ne 127 ] && kill -0 "${pids[i]}" 2>/dev/null; then
            still+=("$i")
            continue
        fi
        # gone: bash holds its status, and this wait returns it at once
        wait "${pids[i]}"
        s=$?
        statuses[i]=$s
        if [ "$s" -ne 0 ] && [ "$rc" -eq 0 ]; then
            rc=$s
            if [ "$sig" -eq 0 ]; then
                echo "env-loop: rank ${ranks[i]} exited with status $s; stopping the others" >&2
                kill -TERM "${pids[@]}" 2>/dev/null
            fi
        fi
    done
    left=("${still[@]+"${still[@]}"}")
done
if [ "$sig" -ne 0 ]; then
    for i in "${!pids[@]}"; do
        echo "env-loop: rank ${ranks[i]} exited with status ${statuses[i]}" >&2
    done
    exit $((128 + sig))
fi
exit "$rc"
