#!/usr/bin/env bash
# Training throughput on the GPU machine: GPT-2 124M shape (12 layers, 12 heads,
# 768 wide, T=1024, vocab 50304), bf16, on --synthetic data and on real shards
# made by ingot-pretok, then the PyTorch reference (scripts/torch-reference.py
# --bench: bf16 autocast, torch.compile, SDPA) on the same shape in the same run.
# Prints a table: tok/s, MFU, CPU % of one core, syncs per step, GPU busy %.
#
#   scripts/bench-train.sh [BUILD_DIR] [DATASET_DIR]
# env: STEPS (default 30), BATCH (default 16), PYTHON (default python3)
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

common=(--device cuda --model gpt2-124m --vocab 50304 --batch "$batch" --precision bf16
        --profile "$steps" --quiet)

row() { # name metrics.jsonl
    "$py" - "$1" "$2" <<'PY'
import json, sys, statistics as st
name, path = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path) if l.strip()]
rows = [r for r in rows if "tok_per_s" in r][3:]  # skip warm-up steps
if not rows:
    print(f"{name:<22} no data"); sys.exit()
g = lambda k: st.median([r[k] for r in rows if r.get(k) is not None] or [float('nan')])
print(f"{name:<22} {g('tok_per_s'):>10.0f} {100*g('mfu'):>6.1f} {g('cpu_pct'):>6.1f} "
      f"{g('syncs'):>6.1f} {g('gpu_busy_pct'):>6.1f}")
PY
}

echo "== synthetic"
"$train" "${common[@]}" --synthetic --metrics "$out/synth.jsonl" | tee "$out/synth.log"
if [ -n "$data" ]; then
    echo "== real shards: $data"
    "$train" "${common[@]}" --data "$data" --metrics "$out/real.jsonl" | tee "$out/real.log"
fi
echo "== PyTorch reference"
"$py" "$here/scripts/torch-reference.py" --bench --batch "$batch" --steps "$steps" \
    | tee "$out/torch.log"

echo
printf '%-22s %10s %6s %6s %6s %6s\n' run tok/s MFU% CPU% syncs GPU%
row "ingot synthetic" "$out/synth.jsonl"
[ -n "$data" ] && row "ingot real shards" "$out/real.jsonl"
torch=$(grep -oE 'tok/s[ =:]+[0-9.]+' "$out/torch.log" | tail -1 | grep -oE '[0-9.]+$')
echo "pytorch compiled bf16  ${torch:-?}"
