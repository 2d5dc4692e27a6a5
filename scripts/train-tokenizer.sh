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
# Checked before the sampling starts (it reads the whole input), each refusal one
# line with exit status 2:
#   --vocab              a whole number from 4 (260 with byte fallback: its 256
#                        byte pieces, <unk>, <s>, </s> and one character) to
#                        16777216 (the most ingot-pretok loads); for unigram at
#                        most its seed pieces (--seed_sentencepiece_size,
#                        1000000), unless --spm-arg --hard_vocab_limit=false
#   --sample-mb          a whole number from 1 to 1000000, with room for the
#                        sample (up to 4/3 of it) beside PREFIX
#   --out                a file prefix, not a directory: --out tok/sp writes
#                        tok/sp.model (tok/ created where missing)
#   --spm-arg            --flag=value, a flag spm_train knows
# The text's own limits are known only once the sample is read: a vocabulary too
# small for its characters stops spm_train as it starts, one larger than the text
# yields at the end of the training; the script then says what to change. The
# default --vocab 32000 needs a corpus of some size: a small one yields fewer
# pieces (an 8 MB corpus about 15000), so give it a smaller --vocab.
#
# Environment: INGOT_PRETOK (default: ingot-pretok on PATH, else the newest
# build*/pretok/ingot-pretok of this checkout), SPM_TRAIN
# (default spm_train on PATH), PYTHON (for the fallback trainer).
set -euo pipefail
. "$(dirname "$0")/script_help.sh"

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
    -h|--help) script_help; exit 0 ;;
    --) shift; break ;;
    -*) echo "train-tokenizer: unknown option $1 (--help lists them)" >&2; exit 2 ;;
    *) break ;;
    esac
done
refuse() { echo "train-tokenizer: $*" >&2; exit 2; }
if [ -z "$OUT" ] || [ $# -eq 0 ]; then
    echo "usage: scripts/train-tokenizer.sh --out PREFIX [options] INPUT... (--help)" >&2
    exit 2
fi
# a prefix such as -x read as an option by dirname, mktemp and df: ./-x
case "$OUT" in -*) OUT=./$OUT ;; esac
# The last --spm-arg --NAME=VALUE (a bare --NAME: true), else $2: spm_train takes the
# last of a flag given twice, and the --spm-arg flags come last.
spm_flag() {
    local v=$2 a
    for a in ${SPM_ARGS[@]+"${SPM_ARGS[@]}"}; do
        case "$a" in --"$1"=*) v=${a#*=} ;; --"$1") v=true ;; esac
    done
    printf '%s' "$v"
}
# a whole number's value without leading zeros (bash reads 08 as octal), or "" for
# anything else; "huge" past 18 digits (beyond every limit here, and bash's integers)
whole() {
    case "$1" in ''|*[!0-9]*) return 0 ;; esac
    local v=${1#"${1%%[!0]*}"}
    [ ${#v} -le 18 ] || { printf huge; return 0; }
    printf '%s' "${v:-0}"
}
for a in ${SPM_ARGS[@]+"${SPM_ARGS[@]}"}; do
    case "$a" in --[a-z]*) ;; *) refuse "--spm-arg $a: give one spm_train flag as --flag=value" ;; esac
done

case "$TYPE" in unigram|bpe) ;; *) refuse "--type $TYPE: unigram or bpe" ;; esac
case "$NORM" in identity|nmt_nfkc|nfkc|nmt_nfkc_cf|nfkc_cf) ;;
    *) refuse "--normalization $NORM: identity, nmt_nfkc, nfkc, nmt_nfkc_cf or nfkc_cf" ;; esac

# --vocab, and an --spm-arg --vocab_size that overrides it
bf=$(spm_flag byte_fallback "$BYTE_FALLBACK")
type=$(spm_flag model_type "$TYPE")
seeds=$(whole "$(spm_flag seed_sentencepiece_size 1000000)")
case "$(spm_flag hard_vocab_limit true)" in false|0) soft=1 ;; *) soft= ;; esac
case "$bf" in true|1) min=260 why="with byte fallback: 256 byte pieces, <unk>, <s>, </s> and a character" ;;
              *) min=4 why="<unk>, <s>, </s> and a character" ;; esac
check_vocab() {   # LABEL (the option as given) VALUE
    local v
    v=$(whole "$2")
    case "$v" in
    '') refuse "$1: the number of pieces, a whole number such as 32000" ;;
    huge) refuse "$1: more than the 16777216 pieces ingot-pretok loads" ;;
    esac
    [ "$v" -ge "$min" ] || refuse "$1: at least $min pieces ($why);" \
        "real text needs more: each of its characters has a piece"
    [ "$v" -le 16777216 ] || refuse "$1: more than the 16777216 pieces ingot-pretok loads"
    if [ "$type" = unigram ] && [ -z "$soft" ] && [ -n "$seeds" ] && [ "$seeds" != huge ] &&
       [ "$v" -gt "$seeds" ]; then
        refuse "$1: a unigram model is pruned from at most $seeds seed pieces" \
            "(--spm-arg --seed_sentencepiece_size=N), and more would fail after the whole" \
            "training; --type bpe, or --spm-arg --hard_vocab_limit=false to take what the text yields"
    fi
}
vocab_arg=$(spm_flag vocab_size "")
if [ -n "$vocab_arg" ]; then
    case "$(whole "$VOCAB")" in ''|huge) refuse "--vocab $VOCAB: a whole number such as 32000" ;; esac
    check_vocab "--spm-arg --vocab_size=$vocab_arg" "$vocab_arg"
    vocab_name="--spm-arg --vocab_size=$vocab_arg"
else
    check_vocab "--vocab $VOCAB" "$VOCAB"
    vocab_name="--vocab $VOCAB"
fi
VOCAB=$(whole "$VOCAB")

mb=$(whole "$SAMPLE_MB")
case "$mb" in
''|0) refuse "--sample-mb $SAMPLE_MB: whole megabytes, at least 1" ;;
huge) refuse "--sample-mb $SAMPLE_MB: at most 1000000 (1 TB)" ;;
esac
[ "$mb" -le 1000000 ] || refuse "--sample-mb $SAMPLE_MB: at most 1000000 (1 TB)"

case "$OUT" in */|*/.|*/..|.|..) refuse "--out $OUT: a file prefix, not a directory: --out DIR/NAME writes DIR/NAME.model" ;; esac
[ ! -d "$OUT" ] || refuse "--out $OUT: a directory; give a file prefix: --out $OUT/sp writes $OUT/sp.model"
dir=$(dirname "$OUT")
up=$dir
while [ ! -e "$up" ] && [ "$up" != "$(dirname "$up")" ]; do up=$(dirname "$up"); done
[ -d "$up" ] || refuse "--out $OUT: $up is not a directory"

if [ ! -x "$PRETOK" ]; then
    echo "train-tokenizer: $PRETOK not found (nor ingot-pretok on PATH or in $ROOT/build*/);" \
         "build first (scripts/setup.sh && ninja -C build) or set INGOT_PRETOK" >&2
    exit 1
fi
PY=${PYTHON:-python3}
if [ -n "$SPM_TRAIN" ]; then
    [ -x "$SPM_TRAIN" ] || { echo "train-tokenizer: SPM_TRAIN=$SPM_TRAIN: not an executable" >&2; exit 1; }
    known=$("$SPM_TRAIN" --help 2>&1 || true)
    for a in ${SPM_ARGS[@]+"${SPM_ARGS[@]}"}; do
        name=${a%%=*}
        case "$known" in *"   $name ("*) ;;
            *) refuse "--spm-arg $a: $SPM_TRAIN has no flag $name ($SPM_TRAIN --help lists them)" ;; esac
    done
elif ! "$PY" -c 'import sentencepiece' 2>/dev/null; then
    echo "train-tokenizer: needs spm_train (apt install sentencepiece, or set SPM_TRAIN) or" \
         "Python's sentencepiece module for $PY (pip install sentencepiece, or set PYTHON)" >&2
    exit 1
fi

mkdir -p "$dir" 2>/dev/null || refuse "--out $OUT: cannot create the directory $dir"
# pretok keeps between S and 2S bytes: S = 2/3 of the wanted size gives about it
sample=$((mb * 666667))
free_kb=$(df -Pk "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$free_kb" ] && [ "$free_kb" -lt $((sample * 2 / 1024)) ]; then
    refuse "--sample-mb $mb: the sample may take $((sample * 2 / 1000000)) MB beside $OUT," \
        "$((free_kb / 1000)) MB are free there; a smaller --sample-mb, or --out elsewhere"
fi

# The sample, the trainer's log and the model as it is written go into one directory
# beside PREFIX, removed however the script ends (^C, kill, hang-up). The model and
# vocabulary are moved into place once both are whole: an earlier PREFIX.model stays
# as it was until then, never half-written or beside a new .vocab, and a trainer that
# outlives a killed script (kill PID, as timeout does) writes nothing after it failed.
work=
cleanup() { [ -z "$work" ] || rm -rf "$work"; }
trap cleanup EXIT
for sig in INT TERM HUP; do trap "cleanup; trap - $sig EXIT; kill -$sig \$\$" "$sig"; done
work=$(mktemp -d "${OUT}.tmp.XXXXXX")
tmp=$work/sample.txt
log=$work/train.log
echo "train-tokenizer: sampling about $mb MB evenly over the input" >&2
# '--': an INPUT such as -notes.jsonl is a file, not an option of ingot-pretok text
"$PRETOK" text ${PT_ARGS[@]+"${PT_ARGS[@]}"} --sample-bytes "$sample" -- "$@" > "$tmp"

args=(--input="$tmp" --model_prefix="$work/sp" --vocab_size="$VOCAB" --model_type="$TYPE"
      --input_sentence_size=5000000 --shuffle_input_sentence=true
      --max_sentence_length=16384 --num_threads="$(nproc)"
      --byte_fallback="$BYTE_FALLBACK" --normalization_rule_name="$NORM"
      --remove_extra_whitespaces="$REMOVE_WS" --allow_whitespace_only_pieces="$WS_PIECES"
      --split_digits="$SPLIT_DIGITS" --minloglevel=1 ${SPM_ARGS[@]+"${SPM_ARGS[@]}"})
echo "train-tokenizer: byte_fallback=$BYTE_FALLBACK normalization=$NORM" \
     "remove_extra_whitespaces=$REMOVE_WS allow_whitespace_only_pieces=$WS_PIECES" \
     "split_digits=$SPLIT_DIGITS" >&2
# the trainer's messages go to stderr as they come, and to $log for the summary below
rc=0
if [ -n "$SPM_TRAIN" ]; then
    { "$SPM_TRAIN" "${args[@]}" 2>&1 1>&3 3>&-; } 3>&1 | tee "$log" >&2 || rc=$?
else
    # the flags as keywords: joined into one string, a path with a space in it was cut
    { "$PY" -c 'import sys, sentencepiece as s
kw = dict((a[2:].split("=", 1) + ["true"])[:2] for a in sys.argv[1:])
try:
    s.SentencePieceTrainer.train(**kw)
except Exception as e:   # its message, not a traceback
    sys.exit(str(e) or type(e).__name__)' "${args[@]}" 2>&1 1>&3 3>&-; } 3>&1 | tee "$log" >&2 || rc=$?
fi
if [ "$rc" -ne 0 ]; then
    # SentencePiece's CHECK messages, in words that name this script's options
    small=$(grep -o 'smaller than required_chars\. [0-9]* vs [0-9]*' "$log" | head -1 || true)
    high=$(grep -o 'Please set it to a value <= [0-9]*' "$log" | head -1 || true)
    if [ -n "$small" ]; then
        refuse "$vocab_name is too small for this text: it needs ${small##* } pieces (one per" \
            "character of the 99.95% of the text that spm_train's --character_coverage keeps, plus" \
            "<unk>, <s>, </s>$([ "$min" = 260 ] && echo " and the 256 byte pieces")); raise --vocab," \
            "or lower --spm-arg --character_coverage=0.9995"
    elif [ -n "$high" ]; then
        refuse "$vocab_name: this sample yields only ${high##* } pieces; --vocab ${high##* } or" \
            "less, more text (--sample-mb, more INPUT), or --spm-arg --hard_vocab_limit=false" \
            "to take what it yields"
    fi
    echo "train-tokenizer: the trainer failed (exit $rc; its message is above)" >&2
    exit 1
fi
if [ ! -s "$work/sp.model" ] || [ ! -s "$work/sp.vocab" ]; then
    echo "train-tokenizer: the trainer ended without writing a model and a vocabulary" >&2
    exit 1
fi
mv -f "$work/sp.vocab" "$OUT.vocab"
mv -f "$work/sp.model" "$OUT.model"
echo "train-tokenizer: wrote $OUT.model and $OUT.vocab" >&2
