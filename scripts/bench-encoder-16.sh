#!/usr/bin/env bash
# Issue 14's many-core bar: ingot-pretok at N threads (default 16, the GPU
# machine's cores) against SentencePiece's Python batch API,
# encode(texts, num_threads=N), on the same corpus, for a 32k unigram and a
# 32k BPE model; per thread against spm_encode too. Prints a table of ratios
# (the bar: >= 3x for both). A wrapper over scripts/bench-pretok.sh, which
# builds the corpus (DIR/corpus, machine documentation, .jsonl.zst) and the
# models, and times everything; its full table follows this one.
#
#   scripts/bench-encoder-16.sh [--threads 16] [--build DIR] [--dir DIR] [--mb 40]
#                               [--repeat 1] [--runs 3] [--models-from DIR]
#
# --build: where ingot-pretok is (default build/). --models-from DIR: take
# DIR/unigram-32000.model and DIR/bpe-32000.model instead of training them
# (training 32k models takes minutes; copy them along to the machine).
# Python: $PYTHON, else the first of python3, /usr/bin/python3,
# /usr/local/bin/python3 that imports sentencepiece. The GPU machine has no
# network: when no Python has the module, the script tries an offline
# install from $INGOT_WHEELS (a folder with a sentencepiece wheel) if set,
# else says so, skips the Python rows and compares with N spm_encode
# processes at once and ingot-pretok --encoder spm (libsentencepiece), which
# need no Python module.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
THREADS=16
BUILD=$ROOT/build
DIR=${TMPDIR:-/tmp}/ingot-bench-encoder-16
MB=40
# One pass by default: Ingot's encoder caches words per thread, so a corpus
# read several times over hits the cache far more than real text does (on
# 2 cores, --repeat 4 showed 18x the Python API where one pass shows 3.6x).
# Raise --mb for more work, not --repeat.
REPEAT=1
RUNS=3
MODELS_FROM=
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --mb) MB=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --models-from) MODELS_FROM=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) echo "bench-encoder-16: unknown argument $1" >&2; exit 2 ;;
    esac
done
PRETOK=$BUILD/pretok/ingot-pretok
[ -x "$PRETOK" ] || { echo "bench-encoder-16: $PRETOK not built (ninja -C $BUILD)" >&2; exit 1; }
if [ "$(nproc)" -lt "$THREADS" ]; then
    echo "bench-encoder-16: note: $(nproc) cores for $THREADS threads" >&2
fi

has_spm() { "$1" -c 'import sentencepiece' 2>/dev/null; }
PY=${PYTHON:-}
if [ -n "$PY" ] && ! has_spm "$PY"; then
    echo "bench-encoder-16: PYTHON=$PY has no sentencepiece module" >&2
    PY=
fi
if [ -z "$PY" ]; then
    for p in python3 /usr/bin/python3 /usr/local/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && has_spm "$p"; then PY=$p; break; fi
    done
fi
if [ -z "$PY" ] && [ -n "${INGOT_WHEELS:-}" ]; then
    p=$(command -v python3 || echo /usr/bin/python3)
    echo "bench-encoder-16: no Python sentencepiece; installing it offline from $INGOT_WHEELS" >&2
    if "$p" -m pip install --quiet --no-index --find-links "$INGOT_WHEELS" sentencepiece >&2 &&
        has_spm "$p"; then
        PY=$p
    fi
fi
if [ -z "$PY" ]; then
    echo "bench-encoder-16: no Python with the sentencepiece module, and no way to install" \
         "it offline: the Python batch API is not measured; the baselines are $THREADS" \
         "spm_encode processes at once and ingot-pretok --encoder spm" >&2
fi

mkdir -p "$DIR"
args=(--dir "$DIR" --mb "$MB" --threads "$THREADS" --repeat "$REPEAT" --runs "$RUNS"
      --models unigram,bpe --with-encoder-spm)
[ -n "$MODELS_FROM" ] && args+=(--models-from "$MODELS_FROM")
INGOT_PRETOK=$PRETOK PYTHON=$PY "$ROOT/scripts/bench-pretok.sh" "${args[@]}" > "$DIR/full.md"

python3 - "$DIR/bench-pretok.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
N = r["threads"]
rows = {(x["model"], x["tool"], x["threads"]): x for x in r["rows"]}
def mbs(m, tool, th):
    x = rows.get((m, tool, th))
    return x["mb_s"] if x else None
def ratio(a, b):
    return "%.2f" % (a / b) if a and b else "-"
def num(a):
    return "%.2f" % a if a else "-"
print("issue 14 bar (>= 3x): %.1f MB of text; %d threads on %d cores; Python sentencepiece %s; "
      "libsentencepiece %s" % (r["text_mb"], N, r["cores"], r["python_module"] or "missing",
                               r["libsentencepiece"]))
print()
print("| model | ingot-pretok %d thr MB/s | Python encode(texts, num_threads=%d) MB/s | x Python "
      "| %d x spm_encode at once MB/s | x those | ingot-pretok --encoder spm %d thr MB/s "
      "| x that | per thread: ingot-pretok / spm_encode |" % (N, N, N, N))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for m in ("unigram", "bpe"):
    ing = mbs(m, "pretok", N)
    py = mbs(m, "python", N)
    procs = mbs(m, "spm_encode", N)
    lib = mbs(m, "pretok-spm", N)
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        m, num(ing), num(py), ratio(ing, py), num(procs), ratio(ing, procs), num(lib),
        ratio(ing, lib), ratio(mbs(m, "pretok", 1), mbs(m, "spm_encode", 1))))
for n in r["notes"]:
    print("Note: " + n)
PY
echo
cat "$DIR/full.md"
