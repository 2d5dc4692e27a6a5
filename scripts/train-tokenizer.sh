#!/usr/bin/env bash
# Train a SentencePiece model on the same inputs ingot-pretok reads, for
# people who have no model yet.
#
#   scripts/train-tokenizer.sh --out PREFIX [--vocab 32000] [--type unigram|bpe]
#       [--sample-mb 200] [--corpus-mb N] [--text-key K] [--txt-doc file|paragraph|line]
#       [--normalization identity|nmt_nfkc|nfkc] [--no-byte-fallback]
#       [--remove-extra-whitespaces] [--no-whitespace-pieces] [--no-split-digits]
#       [--spm-arg --flag=value]... INPUT...
#
# INPUT is what ingot-pretok takes (.jsonl, .txt, each also .zst or .gz,
# directories). The documents are read and cleaned by pretok's own reader
# (`ingot-pretok text`), sampled evenly (one document in K, K estimated from
# the input size, or from --corpus-mb, the corpus's text size in MB, where
# the estimate is off) to about --sample-mb megabytes, and given to spm_train (or
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
# Environment: INGOT_PRETOK (default build/pretok/ingot-pretok), SPM_TRAIN
# (default spm_train on PATH), PYTHON (for the fallback trainer).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRETOK=${INGOT_PRETOK:-$ROOT/build/pretok/ingot-pretok}
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
CORPUS_MB=
SPM_ARGS=()
PT_ARGS=()
need() { [ $# -ge 2 ] || { echo "train-tokenizer: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
    --out) need "$@"; OUT=$2; shift 2 ;;
    --vocab) need "$@"; VOCAB=$2; shift 2 ;;
    --type) need "$@"; TYPE=$2; shift 2 ;;
    --sample-mb) need "$@"; SAMPLE_MB=$2; shift 2 ;;
    --corpus-mb) need "$@"; CORPUS_MB=$2; shift 2 ;;
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
    echo "train-tokenizer: $PRETOK not found; build first or set INGOT_PRETOK" >&2
    exit 1
fi
case "$TYPE" in unigram|bpe) ;; *) echo "train-tokenizer: --type unigram or bpe" >&2; exit 2 ;; esac
case "$NORM" in identity|nmt_nfkc|nfkc|nmt_nfkc_cf|nfkc_cf) ;;
    *) echo "train-tokenizer: --normalization identity, nmt_nfkc or nfkc" >&2; exit 2 ;; esac

# Estimate the text size from the files' sizes, erring high: compressed
# text is taken as 5x smaller (zstd and gzip give 3-5x on prose). An estimate
# that is too high gives a smaller sample spread over the whole corpus; one
# too low filled the sample from the corpus's first files and never read the
# rest (--max-bytes stops the reader). The cap is twice the wanted size, so
# only an estimate 2x too low cuts the sample, and then it is said.
est=0
while read -r size name; do
    case "$name" in *.zst|*.gz) size=$((size * 5)) ;; esac
    est=$((est + size))
done < <(find "$@" -type f \( -name '*.jsonl' -o -name '*.json' -o -name '*.txt' \
                            -o -name '*.zst' -o -name '*.gz' \) -printf '%s %p\n' 2>/dev/null)
case "$SAMPLE_MB$CORPUS_MB" in *[!0-9]*|'') echo "train-tokenizer: --sample-mb and --corpus-mb" \
    "take whole megabytes" >&2; exit 2 ;; esac
[ -n "$CORPUS_MB" ] && est=$((CORPUS_MB * 1000000))
sample=$((SAMPLE_MB * 1000000))
every=$(( est > sample ? est / sample : 1 ))
cap=$((2 * sample))

dir=$(dirname "$OUT")
mkdir -p "$dir"
tmp=$(mktemp "${OUT}.sample.XXXXXX")
trap 'rm -f "$tmp"' EXIT
echo "train-tokenizer: sampling one document in $every (about $SAMPLE_MB MB of at most" \
     "~$((est / 1000000)) MB of text)" >&2
"$PRETOK" text "${PT_ARGS[@]}" --every "$every" --max-bytes "$cap" "$@" > "$tmp"
if [ "$(stat -c %s "$tmp")" -ge "$cap" ]; then
    echo "train-tokenizer: warning: the sample reached $((cap / 1000000)) MB before the end of" \
         "the input, so the last files were not sampled (the size estimate was low);" \
         "the tokenizer is trained on the corpus's first part: pass --corpus-mb with the" \
         "corpus's text size for an even sample" >&2
fi

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
