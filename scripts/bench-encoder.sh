#!/usr/bin/env bash
# Ingot's SentencePiece encoder (common/spm_encode.h) against libsentencepiece,
# one thread, on the same text:
#
#   scripts/bench-encoder.sh [--build DIR] [--dir DIR] [--mb 4] [--vocab 32000] [--runs 3]
#
# 1. A corpus of --mb MB from the machine's documentation (scripts/make-corpus.py),
#    as DIR/docs.txt (one document per line) and DIR/train.txt (one sentence a line).
# 2. A --vocab unigram and BPE model trained on it with spm_train (once; cached in DIR).
# 3. Per model: spm_encode (the command line, ids to /dev/null), libsentencepiece's
#    Encode in a loop and Ingot's encoder with its cache on and off (tests/spm/spe_bench,
#    which also checks every id), the stage split, cache hits, and ingot-pretok end to
#    end from .jsonl at one thread with --encoder ingot and --encoder spm.
# Every timing is the best of --runs. Binaries from --build (default build/).
set -euo pipefail
. "$(dirname "$0")/script_help.sh"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build
DIR=${TMPDIR:-/tmp}/ingot-bench-encoder
MB=4
VOCAB=32000
RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
    --build) BUILD=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --vocab) VOCAB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) script_help; exit 0 ;;
    *) echo "bench-encoder: unknown argument $1" >&2; exit 2 ;;
    esac
done
BENCH=$BUILD/tests/spm/spe_bench
PRETOK=$BUILD/pretok/ingot-pretok
for b in "$BENCH" "$PRETOK"; do
    [ -x "$b" ] || { echo "bench-encoder: $b not built (ninja -C $BUILD)" >&2; exit 1; }
done
command -v spm_train >/dev/null || { echo "bench-encoder: spm_train not found" >&2; exit 1; }
mkdir -p "$DIR"
if [ ! -s "$DIR/docs.txt" ]; then
    python3 "$ROOT/scripts/make-corpus.py" "$DIR/corpus" --mb "$MB" --plain >&2
    python3 - "$DIR" <<'PY'
import glob, json, os, re, sys
d = sys.argv[1]
with open(os.path.join(d, "docs.txt"), "w") as docs, open(os.path.join(d, "train.txt"), "w") as tr:
    for p in sorted(glob.glob(os.path.join(d, "corpus", "*.jsonl"))):
        for line in open(p):
            t = json.loads(line)["text"].replace("\r", " ").replace("\n", " ")
            docs.write(t + "\n")
            for s in re.split(r"(?<=[.!?])\s+", t):
                if s:
                    tr.write(s[:4000] + "\n")
PY
fi
best() {   # best wall time of RUNS runs of "$@", in seconds
    python3 - "$RUNS" "$@" <<'PY'
import os, shutil, subprocess, sys, time
best = float("inf")
for _ in range(int(sys.argv[1])):
    if os.environ.get("BENCH_FRESH"):   # an output directory made anew each run
        shutil.rmtree(os.environ["BENCH_FRESH"], ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    best = min(best, time.perf_counter() - t0)
print(best)
PY
}
rate() { python3 -c "print('%7.2f' % ($1 / $2))"; }
MBYTES=$(python3 -c "print($(wc -c < "$DIR/docs.txt") / 1e6)")
for kind in unigram bpe; do
    model=$DIR/$kind-$VOCAB.model
    if [ ! -s "$model" ]; then
        echo "training a $VOCAB $kind model (once)" >&2
        spm_train --input="$DIR/train.txt" --model_prefix="${model%.model}" --model_type=$kind \
            --vocab_size="$VOCAB" --hard_vocab_limit=false --input_sentence_size=300000 \
            --shuffle_input_sentence=true --max_sentence_length=16384 --minloglevel=2 >&2
    fi
    echo "== $kind ($(wc -l < "${model%.model}.vocab") pieces), $MBYTES MB"
    t=$(best spm_encode --model="$model" --output_format=id --input="$DIR/docs.txt")
    echo "  spm_encode (command line)  $(rate "$MBYTES" "$t") MB/s"
    "$BENCH" "$model" "$DIR/docs.txt" "$RUNS" | tail -n +2
    for enc in spm ingot; do
        t=$(BENCH_FRESH="$DIR/out-$kind-$enc" best "$PRETOK" --model "$model" --out "$DIR/out-$kind-$enc" --threads 1 --quiet \
            --encoder $enc "$DIR"/corpus/*.jsonl)
        rm -rf "$DIR/out-$kind-$enc"
        echo "  ingot-pretok --encoder $enc --threads 1, from .jsonl: $(rate "$MBYTES" "$t") MB/s"
    done
done
