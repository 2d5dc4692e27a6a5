#!/usr/bin/env bash
# Training throughput on the GPU machine: GPT-2 124M shape (12 layers, 12 heads,
# 768 wide, T=1024, vocab 50304), bf16, on --synthetic data and on real shards
# made by ingot-pretok, then the PyTorch reference (scripts/torch-reference.py
# --bench: bf16 autocast, torch.compile, SDPA) on the same shape in the same run.
# Prints a table (also written to $OUT/bench-train/table.txt): tok/s, MFU, CPU %
# of one core, syncs per step, GPU busy % (CUDA events), GPU utilisation and SM
# clock (NVML); medians over the steps after 3 warm-up steps. A real-shard run
# is compared with a synthetic run of the dataset's own vocabulary (the output
# layer's cost depends on it).
#
#   scripts/bench-train.sh [BUILD_DIR] [DATASET_DIR]
# env: STEPS (default 30), BATCH (default 16), PYTHON (default python3), OUT
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
data=${2:-}
steps=${STEPS:-30}
batch=${BATCH:-16}
py=${PYTHON:-python3}
train=$build/train/ingot-train
out=${OUT:-/tmp}/bench-train
mkdir -p "$out"

common=(--device cuda --model gpt2-124m --batch "$batch" --precision bf16 --profile "$steps"
        --val-every 0 --quiet)

# row NAME METRICS.jsonl: medians of the profiled steps (after 3 warm-up).
row() {
    "$py" - "$1" "$2" <<'PY'
import json, sys, statistics as st
name, path = sys.argv[1], sys.argv[2]
try:
    rows = [json.loads(l) for l in open(path) if l.strip()]
except OSError:
    rows = []
rows = [r for r in rows if "tok_per_s" in r][3:]
if not rows:
    print(f"{name:<24} no data"); sys.exit()
def g(k, scale=1.0):
    v = [r[k] for r in rows if isinstance(r.get(k), (int, float)) and r[k] >= 0]
    return scale * st.median(v) if v else float("nan")
print(f"{name:<24} {g('tok_per_s'):>9.0f} {g('mfu', 100):>6.1f} {g('cpu_pct'):>6.1f} "
      f"{g('syncs'):>6.1f} {g('gpu_busy_pct'):>6.1f} {g('gpu_util_pct'):>6.0f} "
      f"{g('sm_clock_mhz'):>6.0f}")
PY
}

tps() { # median tok/s of a metrics file
    "$py" -c 'import json,sys,statistics as s
r=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v=[x["tok_per_s"] for x in r if "tok_per_s" in x][3:]
print(f"{s.median(v):.0f}" if v else "")' "$1" 2>/dev/null
}

rm -f "$out"/*.jsonl
echo "== synthetic, vocab 50304"
"$train" "${common[@]}" --synthetic --vocab 50304 --metrics "$out/synth.jsonl" \
    >"$out/synth.log" 2>&1 || { echo "ingot-train failed:"; tail -5 "$out/synth.log"; }
tail -n 3 "$out/synth.log"
vocab=
if [ -n "$data" ]; then
    vocab=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokenizer"]["vocab_size"])' \
            "$data/manifest.json" 2>/dev/null)
    echo "== real shards: $data (vocab ${vocab:-?})"
    "$train" "${common[@]}" --data "$data" --no-verify --metrics "$out/real.jsonl" \
        >"$out/real.log" 2>&1 || { echo "ingot-train failed:"; tail -5 "$out/real.log"; }
    tail -n 3 "$out/real.log"
    if [ -n "$vocab" ] && [ "$vocab" != 50304 ]; then
        echo "== synthetic, vocab $vocab (the dataset's)"
        "$train" "${common[@]}" --synthetic --vocab "$vocab" --metrics "$out/synth-v.jsonl" \
            >"$out/synth-v.log" 2>&1 || tail -5 "$out/synth-v.log"
    fi
fi
echo "== PyTorch reference"
if "$py" -c 'import torch' 2>/dev/null; then
    "$py" "$here/scripts/torch-reference.py" --bench --batch "$batch" --steps "$steps" --quiet \
        >"$out/torch.log" 2>&1
    tail -n 2 "$out/torch.log"
else
    echo "no torch for $py" >"$out/torch.log"
fi

{
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    echo "bench-train: GPT-2 124M shape, bf16, batch $batch x 1024, ${gpu:-unknown GPU}"
    printf '%-24s %9s %6s %6s %6s %6s %6s %6s\n' run tok/s MFU% CPU% syncs busy% util% MHz
    row "ingot synthetic" "$out/synth.jsonl"
    if [ -n "$data" ]; then
        row "ingot real shards" "$out/real.jsonl"
        [ -f "$out/synth-v.jsonl" ] && row "ingot synthetic V=$vocab" "$out/synth-v.jsonl"
    fi
    torch=$(grep -oE 'tok/s: [0-9.]+' "$out/torch.log" | tail -1 | grep -oE '[0-9.]+$')
    printf '%-24s %9s\n' "pytorch compiled bf16" "${torch:-n/a}"
    s=$(tps "$out/synth.jsonl")
    if [ -n "$torch" ] && [ -n "$s" ]; then
        echo "ingot / pytorch: $(awk -v a="$s" -v b="$torch" 'BEGIN { printf "%.3f", a / b }')"
    fi
    if [ -n "$data" ]; then
        ref=$out/synth.jsonl
        [ -f "$out/synth-v.jsonl" ] && ref=$out/synth-v.jsonl
        r=$(tps "$out/real.jsonl") s=$(tps "$ref")
        [ -n "$r" ] && [ -n "$s" ] &&
            echo "real / synthetic (same vocab): $(awk -v a="$r" -v b="$s" 'BEGIN { printf "%.3f", a / b }')"
    fi
    echo "MFU: 6 x (params - wpe) + 12 x L x T x C FLOPs per token (PaLM appendix B) over the"
    echo "GPU's dense bf16 peak (train/tr_cuda_perf.h; --peak-tflops overrides)"
} | tee "$out/table.txt"
