#!/usr/bin/env bash
# The one script to run on the GPU machine (H100/H200): with an existing
# build it runs, in one go,
#   1. the kernel check (every CUDA kernel against its C reference), twice:
#      as built, and on the portable path (the PTX, JIT-compiled),
#   2. the GPU trainer tests (tests/gpu: CPU parity of loss and every
#      gradient, 50 tracked steps, bit-exact fp32 resume, bf16 learning,
#      --profile's one sync per step, the pacing's waits per call),
#   3. compute-sanitizer memcheck on a short tiny run (fp32 and bf16; GPT-2 and llama),
#   4. the step benchmark (per-phase GPU times) and scripts/bench-train.sh
#      (GPT-2 shapes, bf16: synthetic, real shards when a dataset is given,
#      PyTorch compiled; MODELS, TORCH, BASE, VARIANTS are passed through),
#   5. scripts/torch-reference.py parity on GPU-trained tiny models (GPT-2, llama),
# and prints a short table last. Logs and the table go to $OUT/gpu-check
# (default /tmp/ingot-gpu-check). Exit status 1 when a step failed or ran out of
# time, and when no step that needs a GPU passed (no usable GPU here: each skipped).
#
#   scripts/gpu-check.sh BUILD_DIR [DATASET_DIR]
# env: OUT, STEPS (benchmark steps, default 30), SKIP="bench torch ..." (step
#      names to leave out), PYTHON (default python3), LD_LIBRARY_PATH for the
#      libraries the machine lacks (scripts/device-pack.sh).
set -uo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 2 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || script_usage_error "no BUILD_DIR (scripts/gpu-check.sh BUILD_DIR [DATASET_DIR])"
[ $# -le 2 ] || script_usage_error "'$3': one BUILD_DIR and one DATASET_DIR at most"
[ -d "$1" ] || script_usage_error "$1: not a directory (BUILD_DIR: a meson build directory)"
build=$(cd -- "$1" && pwd) || exit 2
[ -x "$build/train/ingot-train" ] ||
    script_usage_error "$1: no train/ingot-train in it (BUILD_DIR: a meson build directory, built with ninja -C $1)"
data=${2:-${DATA:-}}
out=${OUT:-/tmp/ingot-gpu-check}/gpu-check
py=${PYTHON:-python3}
steps=${STEPS:-30}
skip=" ${SKIP:-} "
train=$build/train/ingot-train
mkdir -p "$out"
rows=()

# step NAME LOG TIMEOUT_S CMD...: run, keep the log, record PASS/SKIP/FAIL.
step() {
    local name=$1 log=$out/$2 limit=$3
    shift 3
    if [[ $skip == *" $name "* ]]; then
        rows+=("$(printf '%-16s %-5s %7s  %s' "$name" SKIP - "left out (SKIP)")")
        return 0
    fi
    echo "== $name: $*"
    local t0=$EPOCHREALTIME rc st
    timeout "$limit" "$@" >"$log" 2>&1
    rc=$?
    case $rc in 0) st=PASS ;; 77) st=SKIP ;; 124) st=TIME ;; *) st="FAIL" ;; esac
    tail -n 4 "$log" | sed 's/^/   | /'
    rows+=("$(printf '%-16s %-5s %6.1fs  %s' "$name" "$st" \
        "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')" "$(basename "$log")")")
    return $rc
}
# detail TEXT: replace the note of the last row (when TEXT is not empty).
# A skipped step keeps its log's name (the detail, read from a log that says why it
# skipped, was empty or misleading).
detail() {
    [ -n "$1" ] && [[ ! ${rows[-1]} =~ ^[^\ ]+\ +SKIP\  ]] && rows[-1]="${rows[-1]%  *}  $1"
    return 0
}

gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "gpu-check: ${gpu:-no nvidia-smi}; build $build"

step kernel-check kernel-check.log 300 "$build/tests/kernels/kernel_check"
detail "$(grep -so 'kernel path: [a-z0-9_]*' "$out/kernel-check.log" | cut -d' ' -f3); $(grep -so 'summary: .*' "$out/kernel-check.log")"
# The portable path on this GPU: INGOT_PORTABLE=1 turns the Hopper kernels
# off and CUDA_FORCE_PTX_JIT=1 runs the embedded PTX (what a GPU newer than
# every -Dgpu_arch machine code gets) instead of the sm_90a machine code.
step kernel-check-ptx kernel-check-ptx.log 300 env INGOT_PORTABLE=1 CUDA_FORCE_PTX_JIT=1 \
    "$build/tests/kernels/kernel_check"
detail "$(grep -so 'kernel path: [a-z0-9_]*' "$out/kernel-check-ptx.log" | cut -d' ' -f3); $(grep -so 'summary: .*' "$out/kernel-check-ptx.log")"
step gpu-parity gpu-parity.log 300 "$build/tests/gpu/test_gpu_parity"
detail "$(grep -sE '^fp32 one batch' "$out/gpu-parity.log")"
step gpu-cli gpu-cli.log 400 "$build/tests/gpu/test_gpu_cli" "$train"
# the one-sync pacing (waits per call, results equal to INGOT_PACE=0), where built
if [ -x "$build/tests/gpu/test_gpu_pace" ]; then
    step gpu-pace gpu-pace.log 300 "$build/tests/gpu/test_gpu_pace"
    detail "$(grep -c ' == INGOT_PACE=0: yes' "$out/gpu-pace.log") of 4 cases equal to INGOT_PACE=0"
fi
step gpu-nogpu gpu-nogpu.log 60 "$build/tests/gpu/test_gpu_nogpu" "$train"

# compute-sanitizer memcheck: clean means "ERROR SUMMARY: 0 errors".
san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
for run in fp32 bf16 llama-fp32 llama-bf16; do
    prec=${run#llama-}
    model=(--model tiny)
    [[ $run == llama-* ]] && model=(--arch llama --model llama-tiny)
    if [ -z "$san" ]; then
        rows+=("$(printf '%-16s %-5s %7s  %s' "memcheck-$run" SKIP - "no compute-sanitizer")")
        continue
    fi
    step "memcheck-$run" "memcheck-$run.log" 300 "$san" --tool memcheck --error-exitcode 3 \
        "$train" --device cuda --precision "$prec" --synthetic --vocab 500 "${model[@]}" \
        --batch 4 --batch-tokens 512 --steps 3 --val-every 0 --print-every 1 --sample-every 3 \
        --sample-tokens 8
    detail "$(grep -so 'ERROR SUMMARY: [0-9]* error[s]*' "$out/memcheck-$run.log" | tail -1)"
done

step step-bench step-bench.log 300 "$build/tests/gpu/gpu_step_bench" --steps 20
detail "$(grep -so 'median tok/s.*' "$out/step-bench.log")"

if [[ $skip != *" bench "* ]]; then
    OUT=$out STEPS=$steps PYTHON=$py step bench bench-train.log 600 \
        "$here/scripts/bench-train.sh" "$build" ${data:+"$data"}
fi

# PyTorch parity on weights trained by the GPU: 5 fp32 steps on the GPU,
# then the CPU model's dump of the next batch checked by PyTorch; GPT-2 and
# llama (grouped heads).
# (SKIP="torch" leaves both out, as does SKIP naming each step.)
if [[ $skip == *" torch "* ]]; then
    rows+=("$(printf '%-16s %-5s %7s  %s' torch-parity SKIP - "left out (SKIP)")")
elif [ -f "$here/scripts/torch-reference.py" ] && "$py" -c 'import torch' 2>/dev/null; then
    for arch in gpt2 llama; do
        name=torch-parity; [ $arch = llama ] && name=torch-parity-llama
        tp=$out/$name
        rm -rf "$tp" && mkdir -p "$tp"
        tiny=(--device cuda --precision fp32 --synthetic --vocab 500 --model tiny --steps 5
              --val-every 0 --ckpt-dir "$tp/ck" --quiet)
        [ $arch = llama ] && tiny+=(--arch llama --model llama-tiny --kv-heads 2)
        if "$train" "${tiny[@]}" >"$tp/train.log" 2>&1 &&
           "$train" "${tiny[@]}" --resume --dump-batch "$tp/batch.bin" >>"$tp/train.log" 2>&1; then
            step $name $name.log 300 "$py" "$here/scripts/torch-reference.py" \
                --dump "$tp/batch.bin" --ckpt "$tp/ck/ckpt-00000005.bin" --device cuda --double
        else
            rows+=("$(printf '%-16s %-5s %7s  %s' $name FAIL - "ingot-train failed: $tp/train.log")")
        fi
    done
else
    rows+=("$(printf '%-16s %-5s %7s  %s' torch-parity SKIP - "no torch or no script")")
fi

{
    echo
    echo "gpu-check on ${gpu:-unknown GPU} ($(date -u +%Y-%m-%dT%H:%MZ))"
    printf '%-16s %-5s %7s  %s\n' check result time note
    printf '%s\n' "${rows[@]}"
    if [ -f "$out/bench-train/table.txt" ]; then
        echo
        cat "$out/bench-train/table.txt"
    fi
} | tee "$out/summary.txt"
grep -qE '^[a-z0-9-]+ +(FAIL|TIME)' "$out/summary.txt" && exit 1
# every step skipped but gpu-nogpu (which needs no GPU) checked nothing: not a pass
if ! grep -qE '^[a-z0-9-]+ +PASS' <(grep -v '^gpu-nogpu ' "$out/summary.txt"); then
    echo "gpu-check: no step that needs a GPU passed (no usable GPU here? the logs in $out say why each skipped)" >&2
    exit 1
fi
exit 0
