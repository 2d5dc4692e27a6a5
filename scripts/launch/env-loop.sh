#!/usr/bin/env bash
# ingot-train on N GPUs of this host with nothing but environment variables
# (what any launcher does): RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
# MASTER_PORT per process. The first failing rank's status is returned and
# the others are stopped (SIGTERM) at once, as torchrun does: a rank that
# failed before the rendezvous would leave them waiting for --dist-timeout.
# A stop by signal N to one rank stops them all, each exiting 128 + N (as
# ingot-train --help says); stopping this script sends every rank SIGTERM
# (each saves and exits 143).
#
#   scripts/launch/env-loop.sh N [ingot-train args...]
# env: INGOT_TRAIN (default build/train/ingot-train), MASTER_PORT (29500)
set -uo pipefail
. "$(dirname "$0")/../script_help.sh"
script_count ranks "$@"
here=$(cd "$(dirname "$0")/../.." && pwd)
n=$1
shift
bin=${INGOT_TRAIN:-$here/build/train/ingot-train}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
pids=()
for ((r = 0; r < n; r++)); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 \
        MASTER_PORT=${MASTER_PORT:-29500} "$bin" "$@" &
    pids+=($!)
done
# end every rank when this script is stopped
trap 'kill -TERM "${pids[@]}" 2>/dev/null' INT TERM
rc=0
for ((left = n; left > 0; left--)); do
    wait -n
    s=$?
    if [ "$s" -ne 0 ] && [ "$rc" -eq 0 ]; then
        rc=$s
        echo "env-loop: a rank exited with status $s; stopping the others" >&2
        kill -TERM "${pids[@]}" 2>/dev/null
    fi
done
exit "$rc"
