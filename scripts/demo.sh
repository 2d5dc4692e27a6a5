#!/usr/bin/env bash
# The whole Ingot path on a built-in default, from a fresh machine:
#   set up and build → a small corpus from this machine's own documentation
#   → a SentencePiece model trained on it → ingot-pretok → ingot-dump verify
#   → ingot-train for about a minute (GPU when there is one, else CPU), with
#   samples printed → a loss-curve picture.
# Steps whose output already exists are reused, so a second run is quick; a step
# done again (an interrupted one, or its output removed) redoes those after it.
#
#   scripts/demo.sh [OUT_DIR=out/demo]
# env: DEMO_STEPS (training steps, from 1), DEMO_DEVICE (auto|cpu|cuda)
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
script_args 1 "$@"
[ $# -le 1 ] || script_usage_error "one OUT_DIR at most (scripts/demo.sh [OUT_DIR])"
# the environment checked before anything is installed or built
[ -z "${DEMO_STEPS:-}" ] || script_env_count DEMO_STEPS 1 100000000
case ${DEMO_DEVICE:-auto} in
auto | cpu | cuda) ;;
*) script_usage_error "DEMO_DEVICE='$DEMO_DEVICE': auto, cpu or cuda" ;;
esac
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/out/demo}
build=$here/build
say() { printf '\n== demo: %s\n' "$*"; }

say "set up and build"
[ -x /usr/local/cuda/bin/nvcc ] && export PATH=/usr/local/cuda/bin:$PATH
"$here/scripts/setup.sh" build
# a first build takes minutes (the CUDA kernels most of it): say so, and show
# ninja's progress line rather than nothing
# (every 25th step; anything else ninja says, a compiler's error included, whole).
# grep -c reads ninja's whole list: with grep -q, ninja died of SIGPIPE on a long one
# and pipefail made "steps to build" read as "up to date", so a fresh or stale build
# was not built. ninja runs either way (nothing to do is quick).
todo=$(ninja -C "$build" -n 2>/dev/null | grep -c '^\[' || true)
[ "${todo:-0}" -eq 0 ] ||
    echo "demo: building, $todo steps (a first build takes a few minutes on a small machine)"
if ! NINJA_STATUS='[%f/%t %es] ' ninja -C "$build" 2>&1 |
        awk '/^\[[0-9]+\/[0-9]+ / { if (++n % 25 == 0) { print; fflush() } next }
             /^ninja: (Entering|Leaving) directory|^ninja: no work to do/ { next }
             { print; fflush() }'; then
    echo "demo: the build in $build failed (ninja's messages are above)" >&2
    exit 1
fi
pretok=$build/pretok/ingot-pretok dump=$build/common/dump/ingot-dump train=$build/train/ingot-train
for b in "$pretok" "$dump" "$train"; do
    [ -x "$b" ] || { echo "demo: $b: not there after the build ($build)" >&2; exit 1; }
done
mkdir -p "$out"

say "corpus (JSON Lines + zstd) from this machine's documentation"
# made beside its place and moved there whole: an interrupted run leaves no corpus for
# the next to take as made. What an earlier corpus gave (its tokenizer, its shards,
# which ingot-pretok would refuse to mix with new inputs) is made again.
if [ ! -d "$out/corpus" ]; then
    rm -rf "$out/corpus.partial" "$out/tok.model" "$out/tok.vocab" "$out/data"
    python3 "$here/scripts/make-corpus.py" "$out/corpus.partial" --mb 8
    mv "$out/corpus.partial" "$out/corpus"
fi
ls -l "$out/corpus"

say "SentencePiece model (unigram, 4096 pieces)"
if [ ! -f "$out/tok.model" ]; then
    rm -rf "$out/data"   # shards of another model: ingot-pretok refuses to add to them
    INGOT_PRETOK=$pretok "$here/scripts/train-tokenizer.sh" --vocab 4096 --type unigram --sample-mb 3 \
        --out "$out/tok" "$out/corpus"
fi

say "ingot-pretok: corpus -> token shards"
"$pretok" --model "$out/tok.model" --out "$out/data" --val-fraction 0.05 \
    --shard-tokens 1M "$out/corpus"
"$dump" verify "$out/data"
# not piped into head: under pipefail, ingot-dump stopped by the closed pipe would end the demo
stats=$("$dump" stats "$out/data")
head -n 25 <<<"$stats"

# on the CPU: OpenMP's threads sleep between steps instead of spinning
# (docs/training.md: shared machines)
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
device=${DEMO_DEVICE:-auto}
if [ "$device" = auto ] && ! "$train" --device cuda --synthetic --vocab 256 --model tiny \
        --steps 1 --val-every 0 --quiet >/dev/null 2>&1; then
    device=cpu
fi
if [ "$device" = cpu ]; then
    steps=${DEMO_STEPS:-300}
    model=(--model small --batch 8 --lr 2e-3)
else
    steps=${DEMO_STEPS:-1500}
    model=(--model medium --batch 16 --lr 1e-3)
fi
# ingot-train refuses a warmup longer than the run (DEMO_STEPS below 20)
model+=(--steps "$steps" --warmup $((steps < 20 ? steps : 20)))
say "ingot-train on $device (about a minute)"
rm -rf "$out/ckpt" "$out/metrics.jsonl"
"$train" --data "$out/data" --device "$device" "${model[@]}" \
    --val-every 50 --val-tokens 16384 --sample-every 100 --sample-tokens 48 \
    --ckpt-dir "$out/ckpt" --metrics "$out/metrics.jsonl" --print-every 20

say "loss curve"
py=python3
/usr/bin/python3 -c 'import matplotlib' 2>/dev/null && py=/usr/bin/python3
"$py" "$here/scripts/plot-metrics.py" "$out/metrics.jsonl" -o "$out/loss.png"
echo "demo: loss curve picture: $out/loss.png"
