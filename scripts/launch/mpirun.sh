#!/usr/bin/env bash
# ingot-train under Open MPI's mpirun.
#   CPU back end: gradients over MPI (built with -Dmpi), nothing else to set.
#   GPUs: gradients over NCCL; in a build with MPI its id (and the stop
#   vote) travel over MPI and nothing else is needed. A build without MPI,
#   or INGOT_DIST_RDZV=tcp, uses ingot's TCP rendezvous: every rank then
#   needs MASTER_ADDR (rank 0's host; defaults to this host, which is right
#   when rank 0 runs here) and the same MASTER_PORT, exported below.
#
#   scripts/launch/mpirun.sh NP [mpirun options --] [ingot-train args...]
#   e.g. scripts/launch/mpirun.sh 16 --hostfile hosts -- --data data/ --device cuda ...
#        scripts/launch/mpirun.sh 4 --device cpu --synthetic --steps 100
# env: INGOT_TRAIN (default build/train/ingot-train), MASTER_ADDR, MASTER_PORT,
#      INGOT_DIST_RDZV
set -euo pipefail
. "$(dirname "$0")/../script_help.sh"
script_count processes "$@"
here=$(cd "$(dirname "$0")/../.." && pwd)
np=$1
shift
mpi_opts=()
if printf '%s\n' "$@" | grep -qx -- --; then
    while [ "$1" != -- ]; do mpi_opts+=("$1"); shift; done
    shift
fi
bin=$(script_bin INGOT_TRAIN "$here/build/train/ingot-train") || exit 2
export MASTER_ADDR=${MASTER_ADDR:-$(hostname)}
script_env_count MASTER_PORT 1 65535
export MASTER_PORT=${MASTER_PORT:-29500}
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
root=()
[ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
# -x exports the variables to remote ranks too
rdzv=()
[ -n "${INGOT_DIST_RDZV:-}" ] && rdzv=(-x INGOT_DIST_RDZV)
exec mpirun "${root[@]}" -np "$np" -x MASTER_ADDR -x MASTER_PORT -x NCCL_NVLS_ENABLE "${rdzv[@]}" \
    "${mpi_opts[@]}" "$bin" "$@"
