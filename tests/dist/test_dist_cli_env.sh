#!/usr/bin/env bash
# ingot-train and the launcher's environment, end to end (a review of session 33):
# a malformed variable ends the run before its --ckpt-dir is made or its data read
# (every rank made and prepared the directory, and opened and verified the dataset,
# before the communicator said so); --dist none is one process whatever the
# environment says, as documented (a malformed or leftover RANK still ended it);
# another launcher's variables saying another rank are named at start.
#   test_dist_cli_env.sh INGOT_TRAIN
set -uo pipefail
bin=$1
. "$(dirname "$0")/../test_check.sh"
run() { # run NAME ENV... -- ARGS...: one CPU step of a tiny model; status, $tmp/NAME.out
    local name=$1
    shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    env -i PATH="$PATH" "${envs[@]}" OMP_NUM_THREADS=1 timeout 60 "$bin" --device cpu \
        --synthetic --model tiny --vocab 256 --steps 1 --val-every 0 --threads 1 "$@" \
        > "$tmp/$name.out" 2>&1
}

run bad RANK=0 WORLD_SIZE=abc -- --ckpt-dir "$tmp/ck"
rc=$?
check "malformed WORLD_SIZE: exit 2 (rc $rc)" test "$rc" = 2
check "malformed WORLD_SIZE: named" grep -Fq "WORLD_SIZE='abc' is not an integer" "$tmp/bad.out"
check "malformed WORLD_SIZE: no --ckpt-dir made" test ! -e "$tmp/ck"
check "malformed WORLD_SIZE: no step ran" bash -c "! grep -q '^step' '$tmp/bad.out'"

run none RANK=5 WORLD_SIZE=abc -- --dist none
rc=$?
check "--dist none over a malformed environment: trains (rc $rc)" test "$rc" = 0
check "--dist none: its step ran" grep -q "^step *1/1" "$tmp/none.out"
run none2 RANK=1 WORLD_SIZE=2 -- --dist none --ckpt-dir "$tmp/ck2"
rc=$?
check "--dist none under RANK=1 WORLD_SIZE=2: one process, rank 0's work (rc $rc)" \
    test "$rc" = 0
check "--dist none: it saved its checkpoint as the only rank" \
    bash -c "ls '$tmp/ck2' | grep -q '^ckpt-'"

run noted RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=2 \
    -- --dist-timeout 1
check "the other launcher's variables named at start" grep -Fq \
    "note: also set, not used: SLURM_PROCID=0 SLURM_STEP_NUM_TASKS=2 (slurm)" "$tmp/noted.out"

check_done
