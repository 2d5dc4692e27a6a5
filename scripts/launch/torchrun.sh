#!/usr/bin/env bash
# ingot-train on the GPUs of one node (or of several: set NNODES, NODE_RANK,
# MASTER_ADDR on each) under torchrun. ingot-train is not Python: --no-python.
# Each rank reads RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT; torchrun's
# agent holds MASTER_PORT, so ingot's rendezvous listens on MASTER_PORT + 1.
#
#   scripts/launch/torchrun.sh NGPUS [ingot-train args...]
#   e.g. scripts/launch/torchrun.sh 8 --data data/ --model gpt2-124m --batch 32 \
#            --batch-tokens 512Ki --precision bf16 --ckpt-dir ckpt/ --resume
# env: INGOT_TRAIN (default build/train/ingot-train), NNODES (1), NODE_RANK (0),
#      MASTER_ADDR, MASTER_PORT (29500) for several nodes.
# Stopping: SIGINT/SIGTERM to torchrun reach the ranks (each saves and exits).
# SIGUSR1 (ingot-train's save-and-stop) kills torchrun itself and leaves the
# ranks training: send it to the ranks (pkill -USR1 -f ingot-train), or use
# scripts/launch/env-loop.sh, which forwards it.
set -euo pipefail
. "$(dirname "$0")/../script_help.sh"
script_count GPUs "$@"
here=$(cd "$(dirname "$0")/../.." && pwd)
n=$1
shift
bin=$(script_bin INGOT_TRAIN "$here/build/train/ingot-train") || exit 2
# NVLink SHARP (NVLS) must stay off on the lent GPU machines (docs/multi-gpu.md);
# a value you exported yourself wins.
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
# checked before torchrun sees them: NNODES=two (or 0, or empty) ran each node
# as a one-node job of its own, without a word
script_env_count NNODES 1 1048576
if [ "${NNODES:-1}" -gt 1 ]; then
    script_env_count NODE_RANK 0 $((NNODES - 1))
    script_env_count MASTER_PORT 1 65535
    exec torchrun --nnodes "$NNODES" --node_rank "${NODE_RANK:?set NODE_RANK}" \
        --master_addr "${MASTER_ADDR:?set MASTER_ADDR}" --master_port "${MASTER_PORT:-29500}" \
        --nproc_per_node "$n" --no-python "$bin" "$@"
fi
exec torchrun --standalone --nproc_per_node "$n" --no-python "$bin" "$@"
