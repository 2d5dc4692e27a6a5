#!/usr/bin/env bash
# Train a SentencePiece model on the same inputs ingot-pretok reads, for
# people who have no model yet.
#
#   scripts/train-tokenizer.sh --out PREFIX [--vocab 32000] [--type unigram|bpe]
#       [--sample-mb 200] [--text-key K] [--txt-doc file|paragraph|line]
#       [--normalization identity|nmt_nfkc|nfkc] [--no-byte-fallback]
#       [--remove-extra-whitespaces] [--no-whitespace-pieces] [--no-split-digits]
#       [--spm-arg --flag=value]... INPUT...
#
# INPUT is what ingot-pretok takes (.jsonl, .txt, each also .zst or .gz,
# directories). The documents are read and cleaned by pretok's own reader
# (`ingot-pretok text --sample-bytes`), sampled evenly over the whole input
# (one document in K, K doubling as the sample grows, so no size estimate is
# needed) to about --sample-mb megabytes, and given to spm_train (or
# to Python's SentencePieceTrainer where spm_train is not installed).
# Writes PREFIX.model and PREFIX.vocab. Then:
#   ingot-pretok --model PREFIX.model --out DATA INPUT...
#
# The defaults lose nothing: decode(encode(text)) == text for any UTF-8
# text, newlines, tabs, runs of spaces and code indentation included.
# SentencePiece's own defaults do not: they rewrite text (NFKC), squeeze
# and strip spaces and map unseen characters to <unk>.
#   byte fallback        on: a character the vocabulary lacks (a newline, a
#                        rare script, an emoji) is encoded as its UTF-8 bytes
#                        (<0x0A>), never <unk>.  Off: --no-byte-fallback
#   normalization        identity: the text is encoded as it is (NFKC would
#                        turn "ﬁ" into "fi", full-width digits into ASCII).
#                        Other: --normalization nmt_nfkc (SentencePiece's
#                        default) or nfkc
#   extra whitespace     kept (--remove_extra_whitespaces=false): leading,
#                        trailing and repeated spaces survive.
#                        SentencePiece's way: --remove-extra-whitespaces
#   whitespace pieces    allowed (--allow_whitespace_only_pieces=true): runs
#                        of spaces, as in indented code, can be one piece.
#                        Off: --no-whitespace-pieces
#   digits               split (--split_digits=true): each digit its own
#                        piece, so numbers are read digit by digit.
#                        Off: --no-split-digits
# Any other spm_train flag: --spm-arg --flag=value (repeatable; given last,
# so it also overrides the flags above).
#
# Environment: INGOT_PRETOK (default: ingot-pretok on PATH, else the newest
# build*/pretok/ingot-pretok of this checkout), SPM_TRAIN
# (default spm_train on PATH), PYTHON (for the fallback trainer).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# an installed one, else the most recently built one of this checkout (any build dir)
PRETOK=${INGOT_PRETOK:-$(command -v ingot-pretok ||
                         ls -t "$ROOT"/build*/pretok/ingot-pretok 2>/dev/null | head -1 || true)}
PRETOK=${PRETOK:-$ROOT/build/pretok/ingot-pretok}
SPM_TRAIN=${SPM_TRAIN:-$(command -v spm_train || true)}
OUT=
VOCAB=32000
TYPE=unigram
SAMPLE_MB=200
NORM=identity
BYTE_FALLBACK=true
REMOVE_WS=false
WS_PIECES=true
SPLIT_DIGITS=true
SPM_ARGS=()
PT_ARGS=()
need() { [ $# -ge 2 ] || { echo "train-tokenizer: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
    --out) need "$@"; OUT=$2; shift 2 ;;
    --vocab) need "$@"; VOCAB=$2; shift 2 ;;
    --type) need "$@"; TYPE=$2; shift 2 ;;
    --sample-mb) need "$@"; SAMPLE_MB=$2; shift 2 ;;
    --normalization) need "$@"; NORM=$2; shift 2 ;;
    --byte-fallback) BYTE_FALLBACK=true; shift ;;     # the default; kept for old scripts
    --no-byte-fallback) BYTE_FALLBACK=false; shift ;;
    --remove-extra-whitespaces) REMOVE_WS=true; shift ;;
    --no-whitespace-pieces) WS_PIECES=false; shift ;;
    --no-split-digits) SPLIT_DIGITS=false; shift ;;
    --spm-arg) need "$@"; SPM_ARGS+=("$2"); shift 2 ;;
    --text-key|--txt-doc) need "$@"; PT_ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "train-tokenizer: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    *) break ;;
    esac
done
if [ -z "$OUT" ] || [ $# -eq 0 ]; then
    echo "usage: scripts/train-tokenizer.sh --out PREFIX [options] INPUT... (--help)" >&2
    exit 2
fi
if [ ! -x "$PRETOK" ]; then
    echo "train-tokenizer: $PRETOK not found (nor ingot-pretok on PATH or in $ROOT/build*/);" \
         "build first (scripts/setup.sh && ninja -C build) or set INGOT_PRETOK" >&2
    exit 1
fi
case "$TYPE" in unigram|bpe) ;; *) echo "train-tokenizer: --type unigram or bpe" >&2; exit 2 ;; esac
case "$NORM" in identity|nmt_nfkc|nfkc|nmt_nfkc_cf|nfkc_cf) ;;
    *) echo "train-tokenizer: --normalization identity, nmt_nfkc or nfkc" >&2; exit 2 ;; esac

case "$SAMPLE_MB" in *[!0-9]*|'') echo "train-tokenizer: --sample-mb takes whole megabytes" >&2
    exit 2 ;; esac
# pretok keeps between S and 2S bytes: S = 2/3 of the wanted size gives about it
sample=$((SAMPLE_MB * 666667))

dir=$(dirname "$OUT")
mkdir -p "$dir"
tmp=$(mktemp "${OUT}.sample.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "train-tokenizer: sampling about $SAMPLE_MB MB evenly over the input" >&2
"$PRETOK" text "${PT_ARGS[@]}" --sample-bytes "$sample" "$@" > "$tmp"

args=(--input="$tmp" --model_prefix="$OUT" --vocab_size="$VOCAB" --model_type="$TYPE"
      --input_sentence_size=5000000 --shuffle_input_sentence=true
      --max_sentence_length=16384 --num_threads="$(nproc)"
      --byte_fallback="$BYTE_FALLBACK" --normalization_rule_name="$NORM"
      --remove_extra_whitespaces="$REMOVE_WS" --allow_whitespace_only_pieces="$WS_PIECES"
      --split_digits="$SPLIT_DIGITS" --minloglevel=1 "${SPM_ARGS[@]}")
echo "train-tokenizer: byte_fallback=$BYTE_FALLBACK normalization=$NORM" \
     "remove_extra_whitespaces=$REMOVE_WS allow_whitespace_only_pieces=$WS_PIECES" \
     "split_digits=$SPLIT_DIGITS" >&2
if [ -n "$SPM_TRAIN" ]; then
    "$SPM_TRAIN" "${args[@]}"
else
    PY=${PYTHON:-python3}
    "$PY" -c 'import sys, sentencepiece as s; s.SentencePieceTrainer.train(" ".join(sys.argv[1:]))' \
        "${args[@]}"
fi
echo "train-tokenizer: wrote $OUT.model and $OUT.vocab" >&2
