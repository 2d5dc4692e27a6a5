#!/bin/sh
# Builds kc_attn_check alone with nvcc (no meson: a short build on a GPU
# machine), then runs the attention checks and, with --bench, the
# micro-benchmark: TFLOP/s of the portable (mma.sync) and Hopper (wgmma)
# flash kernels, forward and backward, at GPT-2 and TinyLlama shapes.
#   scripts/bench-attention.sh [--bench | --bench-only | --build] [build-dir]
# (--bench-only skips the checks, for a profiler; --build only builds: the
# test suite runs it so that the file list below cannot fall behind the
# kernels' dependencies again; NVCC="nvcc -lineinfo" maps a profile to
# source lines)
# INGOT_FA_SM90_ALTS="0 4 5" runs the checks (and bench) once per Hopper
# configuration (INGOT_FA_SM90_ALT, kernels/flash_attention_sm90.cu), so
# the variants are compared in one machine session.
# Needs nvcc (CUDA 12.3+ for sm_90a) and a C compiler with OpenMP.
set -eu
. "$(dirname "$0")/script_help.sh"
case ${1:-} in
    -h|--help) script_help; exit 0 ;;
    ""|--bench|--bench-only|--build) ;;
    *) script_usage_error "unknown mode '$1' (--bench, --bench-only, --build)" ;;
esac
case ${2:-} in -*) script_usage_error "'$2' is not a build-dir (one named so: ./$2)" ;; esac
cd "$(dirname "$0")/.."
MODE=${1:-}
OUT=${2:-build-attn-bench}
mkdir -p "$OUT"
NVCC=${NVCC:-nvcc}
GEN="-gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90a,code=sm_90a"
INC="-Ikernels -Ikernels/cpu -Icommon -Itests"
cc -O2 -fopenmp -std=gnu11 $INC -c kernels/cpu/ref_gqa.c -o "$OUT/ref_gqa.o"
cc -O2 -std=gnu11 $INC -c kernels/cpu/ref_rope.c -o "$OUT/ref_rope.o"   # kn_flash_gqa_rope_bwd's check
cc -O2 -std=gnu11 $INC -c common/ingot_err.c -o "$OUT/ingot_err.o"
cc -O2 -std=gnu11 $INC -c common/term_text.c -o "$OUT/term_text.o"   # ingot_fail cuts with it
pids=
for f in kernels/flash_attention.cu kernels/flash_attention_sm90.cu kernels/kn_arch.cu kernels/bias_grad.cu \
         kernels/rope.cu kernels/kn_common.cu tests/kernels/kc_attn_check.cu; do
    $NVCC -O3 -std=c++17 $GEN $INC -Xptxas -warn-spills -c "$f" \
        -o "$OUT/$(basename "$f" .cu).o" &
    pids="$pids $!"
done
for p in $pids; do
    wait "$p" || { echo "bench-attention.sh: a compile failed (above)" >&2; exit 1; }
done
$NVCC $GEN -o "$OUT/kc_attn_check" "$OUT"/*.o -Xcompiler -fopenmp -lm
if [ "$MODE" = --build ]; then
    echo "bench-attention.sh: built $OUT/kc_attn_check"
    exit 0
fi
ARG=
case "$MODE" in --bench | --bench-only) ARG=$MODE ;; esac
if [ -z "${INGOT_FA_SM90_ALTS:-}" ]; then
    exec "$OUT/kc_attn_check" $ARG
fi
rc=0
for a in $INGOT_FA_SM90_ALTS; do
    echo "== INGOT_FA_SM90_ALT=$a"
    INGOT_FA_SM90_ALT=$a "$OUT/kc_attn_check" $ARG || rc=$?
done
exit $rc
