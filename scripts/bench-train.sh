#!/usr/bin/env bash
# Training throughput on the GPU machine, GPT-2 shapes (T=1024, vocab 50304,
# bf16, --synthetic ids), one row per model and program, all in one run:
#   ingot      this build (BUILD_DIR)
#   base       another build of ingot-train (BASE=DIR), for before/after rows
#   pytorch    scripts/torch-reference.py --bench (bf16 autocast, torch.compile,
#              SDPA flash, fused AdamW) on the same shape and batch
# and, when DATASET_DIR is given, real shards vs synthetic ids of the same
# vocabulary on the first model. Medians over the profiled steps after 3
# warm-up steps: tok/s, MFU, CPU % of one core, syncs per step, GPU busy %,
# GPU time of forward, backward and optimizer per step (ms), memory (GiB:
# ingot's own allocations, PyTorch's peak). The table is printed last and
# written to $OUT/bench-train/table.txt.
#
#   scripts/bench-train.sh [BUILD_DIR] [DATASET_DIR]
# env: MODELS   "name:batch[:batch_tokens] ..." (default "gpt2-124m:64 gpt2-350m:32";
#               batch_tokens > batch x 1024 means gradient accumulation)
#      TORCH    models that also get a PyTorch row (default: gpt2-124m gpt2-350m;
#               "none" for none)
#      BASE     build dir of the "before" ingot-train (optional)
#      VARIANTS "NAME=ENV[,ENV...][@MODEL:BATCH] ..." extra ingot rows (of the
#               first model unless named), e.g. "sg0=INGOT_STEP_GRAPH=0" or
#               "old=INGOT_LN_VEC=0,INGOT_BGRAD_EPI=0@gpt2-350m:32" (optional)
#      STEPS (default 20), PYTHON (default python3), OUT
#      TORCH_STEPS (default 10), TORCH_WARMUP (default 2): PyTorch's timed and
#               untimed steps (the first untimed one compiles; one more is
#               enough for the compiled graphs to settle)
#      TORCH_CACHE  Inductor/Triton cache (default $OUT/bench-train/torch-cache):
#               the second model reuses what the first compiled; point it at
#               a directory that survives the call to skip compiling next time
# Each run's wall time is printed after the table (ingot: start-up with the
# GEMM autotune + the profiled steps; PyTorch: compile + warm-up vs timed),
# so a run that does not fit a device call shows where its time went.
set -uo pipefail
# --help: this header; an option it does not know (a BUILD_DIR is not one): refused,
# before anything is built or started
. "$(dirname "$0")/script_help.sh"
script_args 2 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
data=${2:-}
steps=${STEPS:-20}
py=${PYTHON:-python3}
models=${MODELS:-gpt2-124m:64 gpt2-350m:32}
torch_models=${TORCH:-gpt2-124m gpt2-350m}
base=${BASE:-}
out=${OUT:-/tmp}/bench-train
tsteps=${TORCH_STEPS:-10}
twarm=${TORCH_WARMUP:-2}
tcache=${TORCH_CACHE:-$out/torch-cache}
mkdir -p "$out" "$tcache"
rm -f "$out"/*.jsonl "$out"/*.log "$out"/*.wall

# wall TAG T0: seconds since T0 ($EPOCHREALTIME) into $out/TAG.wall
wall() { awk -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f\n", b - a }' >"$out/$1.wall"; }

# shape NAME -> "--layers L --heads H --dim C" (flags any ingot-train knows,
# so an older BASE build runs the same shapes)
shape() {
    case $1 in
    gpt2-124m) echo "--layers 12 --heads 12 --dim 768" ;;
    gpt2-350m) echo "--layers 24 --heads 16 --dim 1024" ;;
    gpt2-774m) echo "--layers 36 --heads 20 --dim 1280" ;;
    gpt2-1558m) echo "--layers 48 --heads 25 --dim 1600" ;;
    *) echo "unknown model $1" >&2; return 1 ;;
    esac
}

# ingot TAG BINARY MODEL BATCH [ENV...] [-- extra args]: one profiled run
ingot() {
    local tag=$1 bin=$2 model=$3 batch=${4%%:*} bt=
    [[ $4 == *:* ]] && bt="--batch-tokens ${4#*:}"
    shift 4
    local envs=() data=(--synthetic --vocab 50304)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    [ "${1:-}" = -- ] && shift && data=()
    local t0=$EPOCHREALTIME
    # shellcheck disable=SC2046
    env "${envs[@]}" timeout 300 "$bin" --device cuda --model gpt2-124m $(shape "$model") \
        --batch "$batch" $bt --precision bf16 --profile "$steps" --val-every 0 --print-every 1000 \
        --metrics "$out/$tag.jsonl" "${data[@]}" "$@" >"$out/$tag.log" 2>&1 ||
        { echo "$tag: ingot-train failed:"; tail -5 "$out/$tag.log"; }
    wall "$tag" "$t0"
}

# row TAG LABEL: medians of the profiled steps (after 3 warm-up)
row() {
    "$py" - "$out/$1.jsonl" "$out/$1.log" "$2" <<'PY'
import json, re, sys, statistics as st
path, log, name = sys.argv[1:4]
try:
    rows = [json.loads(l) for l in open(path) if l.strip()]
except OSError:
    rows = []
rows = [r for r in rows if "tok_per_s" in r][3:]
mem = "-"
try:
    m = re.search(r"parameters, ([0-9.]+[kMG]?) MiB", open(log).read())
    if m:
        v = m.group(1); mult = {"k": 1e3, "M": 1e6, "G": 1e9}.get(v[-1], 1)
        mem = f"{float(v.rstrip('kMG')) * mult / 1024:.1f}"
except OSError:
    pass
if not rows:
    print(f"{name:<30} no data"); sys.exit()
def g(k, scale=1.0, fmt="{:.1f}"):
    v = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and r[k] >= 0]
    return fmt.format(scale * st.median(v)) if v else "n/a"
print(f"{name:<30} {g('tok_per_s', fmt='{:.0f}'):>8} {g('mfu', 100):>5} {g('cpu_pct'):>5} "
      f"{g('syncs'):>5} {g('gpu_busy_pct'):>6} {g('fwd_ms', fmt='{:.2f}'):>7} "
      f"{g('bwd_ms', fmt='{:.2f}'):>7} {g('opt_ms', fmt='{:.2f}'):>6} {mem:>6}")
PY
}

tps() { # median tok/s of a metrics file
    "$py" -c 'import json,sys,statistics as s
r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v=[x["tok_per_s"] for x in r if "tok_per_s" in x][3:]
print(f"{s.median(v):.0f}" if v else "")' "$1" 2>/dev/null
}

torch_run() { # MODEL BATCH -> $out/torch-MODEL-bBATCH.log
    local t0=$EPOCHREALTIME
    TORCHINDUCTOR_CACHE_DIR=$tcache TRITON_CACHE_DIR=$tcache/triton \
        timeout 400 "$py" "$here/scripts/torch-reference.py" --bench --model "$1" --batch "$2" \
        --steps "$tsteps" --warmup "$twarm" --quiet >"$out/torch-$1-b$2.log" 2>&1 ||
        tail -3 "$out/torch-$1-b$2.log"
    wall "torch-$1-b$2" "$t0"
}

first=
# tag of a MODELS entry: the model and the batch (the same model may come at
# several batches), plus the step's tokens when accumulating
tag_of() {
    local m=${1%%:*} r=${1#*:}
    [[ $r == *:* ]] && echo "$m-b${r%%:*}-${r#*:}" || echo "$m-b$r"
}
for mb in $models; do
    model=${mb%%:*} batch=${mb#*:}
    first=${first:-$mb}
    echo "== $model batch $batch"
    ingot "ingot-$(tag_of "$mb")" "$build/train/ingot-train" "$model" "$batch"
    [ -n "$base" ] && ingot "base-$(tag_of "$mb")" "$base/train/ingot-train" "$model" "$batch"
    if [[ $batch != *:* && " $torch_models " == *" $model "* ]] && "$py" -c 'import torch' 2>/dev/null; then
        torch_run "$model" "$batch"
    fi
done
model1=${first%%:*} batch1=${first#*:}
for v in ${VARIANTS:-}; do
    echo "== variant $v"
    vm=$model1 vb=$batch1 ve=${v#*=}
    if [[ $ve == *@* ]]; then vm=${ve#*@} vb=${vm#*:} vm=${vm%%:*} ve=${ve%%@*}; fi
    # shellcheck disable=SC2086
    ingot "var-${v%%=*}" "$build/train/ingot-train" "$vm" "$vb" ${ve//,/ }
done
vocab=
if [ -n "$data" ]; then
    vocab=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokenizer"]["vocab_size"])' \
            "$data/manifest.json" 2>/dev/null)
    echo "== real shards: $data (vocab ${vocab:-?})"
    ingot real "$build/train/ingot-train" "$model1" "$batch1" -- --data "$data" --no-verify
    ingot synth-v "$build/train/ingot-train" "$model1" "$batch1" -- --synthetic --vocab "${vocab:-50304}"
fi

{
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    echo "bench-train: GPT-2, bf16, T=1024, synthetic ids, vocab 50304, ${gpu:-unknown GPU}"
    printf '%-30s %8s %5s %5s %5s %6s %7s %7s %6s %6s\n' "model batch run" tok/s MFU% CPU% \
        syncs busy% fwd_ms bwd_ms opt_ms GiB
    for mb in $models; do
        model=${mb%%:*} batch=${mb#*:} tag=$(tag_of "$mb")
        row "ingot-$tag" "$model b$batch ingot"
        [ -n "$base" ] && row "base-$tag" "$model b$batch before"
        tl=$out/torch-$model-b$batch.log
        if [[ $batch != *:* && -f $tl ]]; then
            t=$(grep -oE 'tok/s: [0-9.]+' "$tl" | tail -1 | grep -oE '[0-9.]+$')
            m=$(grep -oE 'peak memory [0-9.]+' "$tl" | grep -oE '[0-9.]+$')
            printf '%-30s %8s %5s %5s %5s %6s %7s %7s %6s %6s\n' "$model b$batch pytorch" \
                "${t:-n/a}" - - - - - - - "${m:--}"
            s=$(tps "$out/ingot-$tag.jsonl")
            [ -n "${t:-}" ] && [ -n "$s" ] &&
                echo "  $model ingot / pytorch compiled: $(awk -v a="$s" -v b="$t" 'BEGIN { printf "%.3f", a / b }')"
        fi
        if [ -n "$base" ]; then
            s=$(tps "$out/ingot-$tag.jsonl") b0=$(tps "$out/base-$tag.jsonl")
            [ -n "$s" ] && [ -n "$b0" ] &&
                echo "  $model after / before: $(awk -v a="$s" -v b="$b0" 'BEGIN { printf "%.3f", a / b }')"
        fi
    done
    for v in ${VARIANTS:-}; do
        ve=${v#*=}
        # label: model:batch and the variant's name (its settings are in VARIANTS)
        [[ $ve == *@* ]] && row "var-${v%%=*}" "${ve#*@} ${v%%=*}" || row "var-${v%%=*}" "$first ${v%%=*}"
    done
    if [ -n "$data" ]; then
        row real "$model1 real shards V=$vocab"
        row synth-v "$model1 synthetic V=$vocab"
        r=$(tps "$out/real.jsonl") s=$(tps "$out/synth-v.jsonl")
        [ -n "$r" ] && [ -n "$s" ] &&
            echo "  real / synthetic (same vocab): $(awk -v a="$r" -v b="$s" 'BEGIN { printf "%.3f", a / b }')"
    fi
    echo "MFU: 6 x (params - wpe) + 12 x L x T x C FLOPs per token (PaLM appendix B) over the"
    echo "GPU's dense bf16 peak (train/tr_cuda_perf.h; --peak-tflops overrides). CPU%: process"
    echo "CPU time / wall, % of one core; syncs: counted host waits per step (the bar: 1.0)."
    echo "GEMM autotune at start-up (per ingot run; off unless INGOT_GEMM_TUNE=1):"
    for f in "$out"/*.log; do
        case $(basename "$f") in torch-*|bench-train.log) continue ;; esac
        l=$(grep -E '^gemm tune: ([0-9]+ shapes|no shape)' "$f" | tail -1)
        [ -n "$l" ] && printf '  %-24s %s\n' "$(basename "$f" .log)" "${l#gemm tune: }"
    done
    echo "wall time per run (s):"
    for f in "$out"/*.wall; do
        tag=$(basename "$f" .wall) w=$(cat "$f") note=
        if [[ $tag == torch-* ]]; then
            # "N steps in X s": the timed part; the rest is compile + warm-up
            t=$(grep -oE '[0-9]+ steps in [0-9.]+ s' "$out/$tag.log" | grep -oE '[0-9.]+ s$' | tr -d ' s')
            [ -n "$t" ] && note=$(awk -v w="$w" -v t="$t" 'BEGIN { printf "compile + warm-up %.1f, timed %.1f", w - t, t }')
        fi
        printf '  %-24s %7s  %s\n' "$tag" "$w" "$note"
    done
} | tee "$out/table.txt"
