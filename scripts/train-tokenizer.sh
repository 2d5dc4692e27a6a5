#!/usr/bin/env bash
# Train a SentencePiece model on the same inputs ingot-pretok reads, for
# people who have no model yet.
#
#   scripts/train-tokenizer.sh --out PREFIX [--vocab 32000] [--type unigram|bpe]
#       [--sample-mb 200] [--byte-fallback] [--text-key K] [--txt-doc file|paragraph|line]
#       INPUT...
#
# INPUT is what ingot-pretok takes (.jsonl, .jsonl.zst, .txt, directories).
# The documents are read and cleaned by pretok's own reader
# (`ingot-pretok text`), sampled evenly (one document in K, K estimated from
# the input size) to about --sample-mb megabytes, and given to spm_train (or
# to Python's SentencePieceTrainer where spm_train is not installed).
# Writes PREFIX.model and PREFIX.vocab. Then:
#   ingot-pretok --model PREFIX.model --out DATA INPUT...
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRETOK=${INGOT_PRETOK:-$ROOT/build/pretok/ingot-pretok}
OUT=
VOCAB=32000
TYPE=unigram
SAMPLE_MB=200
EXTRA=()
PT_ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --out) OUT=$2; shift 2 ;;
    --vocab) VOCAB=$2; shift 2 ;;
    --type) TYPE=$2; shift 2 ;;
    --sample-mb) SAMPLE_MB=$2; shift 2 ;;
    --byte-fallback) EXTRA+=(--byte_fallback=true); shift ;;
    --text-key|--txt-doc) PT_ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "train-tokenizer: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ -z "$OUT" ] || [ $# -eq 0 ]; then
    echo "usage: scripts/train-tokenizer.sh --out PREFIX [options] INPUT... (--help)" >&2
    exit 2
fi
if [ ! -x "$PRETOK" ]; then
    echo "train-tokenizer: $PRETOK not found; build first or set INGOT_PRETOK" >&2
    exit 1
fi
case "$TYPE" in unigram|bpe) ;; *) echo "train-tokenizer: --type unigram or bpe" >&2; exit 2 ;; esac

# Estimate the text size: zstd-compressed JSONL is roughly 4x smaller.
est=0
while read -r size name; do
    case "$name" in *.zst) size=$((size * 4)) ;; esac
    est=$((est + size))
done < <(find "$@" -type f \( -name '*.jsonl' -o -name '*.json' -o -name '*.txt' \
                            -o -name '*.zst' \) -printf '%s %p\n' 2>/dev/null)
sample=$((SAMPLE_MB * 1000000))
every=$(( est > sample ? est / sample : 1 ))

dir=$(dirname "$OUT")
mkdir -p "$dir"
tmp=$(mktemp "${OUT}.sample.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "train-tokenizer: sampling one document in $every (about $SAMPLE_MB MB of ~$((est / 1000000)) MB)" >&2
"$PRETOK" text "${PT_ARGS[@]}" --every "$every" --max-bytes "$sample" "$@" > "$tmp"

args=(--input="$tmp" --model_prefix="$OUT" --vocab_size="$VOCAB" --model_type="$TYPE"
      --input_sentence_size=5000000 --shuffle_input_sentence=true
      --max_sentence_length=16384 --num_threads="$(nproc)" "${EXTRA[@]}")
if command -v spm_train >/dev/null; then
    spm_train "${args[@]}"
else
    PY=${PYTHON:-python3}
    "$PY" -c 'import sys, sentencepiece as s; s.SentencePieceTrainer.train(" ".join(sys.argv[1:]))' \
        "${args[@]}"
fi
echo "train-tokenizer: wrote $OUT.model and $OUT.vocab" >&2
