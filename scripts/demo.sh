#!/usr/bin/env bash
# The whole Ingot path on a built-in default, from a fresh machine:
#   set up and build → a small corpus from this machine's own documentation
#   → a SentencePiece model trained on it → ingot-pretok → ingot-dump verify
#   → ingot-train for about a minute (GPU when there is one, else CPU), with
#   samples printed → a loss-curve picture.
# Steps whose output already exists are reused, so a second run is quick.
#
#   scripts/demo.sh [OUT_DIR=out/demo]
# env: DEMO_STEPS (training steps), DEMO_DEVICE (auto|cpu|cuda)
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/out/demo}
build=$here/build
say() { printf '\n== demo: %s\n' "$*"; }

say "set up and build"
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
"$here/scripts/setup.sh" build
# a first build takes minutes (the CUDA kernels most of it): say so, and show
# ninja's progress line rather than nothing
# (every 25th step; anything else ninja says, a compiler's error included, whole)
if ninja -C "$build" -n 2>/dev/null | grep -q '^\['; then
    echo "demo: building (a first build takes a few minutes on a small machine)"
    NINJA_STATUS='[%f/%t %es] ' ninja -C "$build" 2>&1 |
        awk '/^\[[0-9]+\/[0-9]+ / { if (++n % 25 == 0) { print; fflush() } next }
             /^ninja: (Entering|Leaving) directory/ { next } { print; fflush() }'
fi
pretok=$build/pretok/ingot-pretok dump=$build/common/dump/ingot-dump train=$build/train/ingot-train
mkdir -p "$out"

say "corpus (JSON Lines + zstd) from this machine's documentation"
[ -d "$out/corpus" ] || python3 "$here/scripts/make-corpus.py" "$out/corpus" --mb 8
ls -l "$out/corpus"

say "SentencePiece model (unigram, 4096 pieces)"
if [ ! -f "$out/tok.model" ]; then
    INGOT_PRETOK=$pretok "$here/scripts/train-tokenizer.sh" --vocab 4096 --type unigram --sample-mb 3 \
        --out "$out/tok" "$out/corpus"
fi

say "ingot-pretok: corpus -> token shards"
"$pretok" --model "$out/tok.model" --out "$out/data" --val-fraction 0.05 \
    --shard-tokens 1M "$out/corpus"
"$dump" verify "$out/data"
"$dump" stats "$out/data" | head -n 25

# on the CPU: OpenMP's threads sleep between steps instead of spinning
# (docs/training.md: shared machines)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
device=${DEMO_DEVICE:-auto}
if [ "$device" = auto ] && ! "$train" --device cuda --synthetic --vocab 256 --model tiny \
        --steps 1 --val-every 0 --quiet >/dev/null 2>&1; then
    device=cpu
fi
if [ "$device" = cpu ]; then
    model=(--model small --batch 8 --steps "${DEMO_STEPS:-300}" --lr 2e-3)
else
    model=(--model medium --batch 16 --steps "${DEMO_STEPS:-1500}" --lr 1e-3)
fi
say "ingot-train on $device (about a minute)"
rm -rf "$out/ckpt" "$out/metrics.jsonl"
"$train" --data "$out/data" --device "$device" "${model[@]}" --warmup 20 \
    --val-every 50 --val-tokens 16384 --sample-every 100 --sample-tokens 48 \
    --ckpt-dir "$out/ckpt" --metrics "$out/metrics.jsonl" --print-every 20

say "loss curve"
py=python3
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null && py=/usr/bin/python3
"$py" "$here/scripts/plot-metrics.py" "$out/metrics.jsonl" -o "$out/loss.png"
echo "demo: loss curve picture: $out/loss.png"
