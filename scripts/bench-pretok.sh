#!/usr/bin/env bash
# Benchmark ingot-pretok against SentencePiece's own tools on a real corpus.
#
#   scripts/bench-pretok.sh [--mb 40] [--repeat 4] [--runs 3] [--dir DIR] [--threads N]
#                           [--vocab 32000] [--models unigram,bpe] [--models-from DIR]
#                           [--with-encoder-spm] [--novel F]
#
# 1. Builds a corpus of --mb megabytes of text from documentation already on
#    the machine (licences, /usr/share/doc, man pages, Python docstrings and
#    comments; repeated in another order if that is not enough - it says so)
#    into DIR/corpus/*.jsonl.zst plus DIR/corpus/docs.txt (the same
#    documents, one per line). --novel F: instead, every document unique
#    (scripts/make-corpus.py --synth: random draws of the machine's
#    sentences, a fraction F of the words lengthened by a letter so that new
#    words keep coming as in real text); use it where the machine has little
#    text: Ingot's encoder caches words, and a corpus that repeats itself
#    would flatter it.
# 2. Trains a 32k unigram and a 32k BPE model on it unless DIR/models has them
#    (spm_train, else Python's SentencePieceTrainer); --models-from DIR copies
#    DIR/{unigram,bpe}-VOCAB.model there first (train once, bench elsewhere).
# 3. Times, per model: ingot-pretok from .jsonl.zst at 1 thread and at all
#    threads, spm_encode on docs.txt (skipped when it is not installed), the
#    same number of spm_encode processes at once (what the cores give the
#    encoder with nothing shared: the ceiling for the scaling), and
#    the Python API on the same documents in memory, num_threads=1 and all
#    (skipped, with a note, when no Python has the sentencepiece module);
#    --with-encoder-spm adds ingot-pretok --encoder spm (libsentencepiece)
#    at all threads.
#    The runs on all threads read the corpus --repeat times over (copies of
#    its files: ingot-pretok reads a file listed twice once; so that they
#    last long enough to be measured); every timing is the best of
#    --runs runs, and the command-line runs alternate (one of each per
#    round) so that a slow spell of a shared machine hits them alike.
# 4. Prints MB/s of text, Mtokens/s and ratios as a table (also written to
#    DIR/bench-pretok.md, and the rows to DIR/bench-pretok.json).
#
# Binaries: $INGOT_PRETOK (default build/pretok/ingot-pretok), $SPM_ENCODE and
# $SPM_TRAIN (default: spm_encode, spm_train on PATH). $INGOT_TOOL_LIBS: a
# folder put first in LD_LIBRARY_PATH for those three programs only (e.g. a
# SentencePiece built by scripts/build-sentencepiece.sh; then use its own
# spm_train/spm_encode: Debian's spm_train crashes on 0.2.x's library), not
# for Python, whose module may be linked with the system's libsentencepiece
# and crash on another one. Python: $PYTHON, else the first of python3,
# /usr/bin/python3 that has sentencepiece. The table names the libsentencepiece
# each program loads: the Debian version when it is the system's copy, else
# its path ($INGOT_SPM_LIBVER overrides).
set -euo pipefail
. "$(dirname "$0")/script_help.sh"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MB=40
REPEAT=4
RUNS=3
DIR=${TMPDIR:-/tmp}/ingot-bench-pretok
THREADS=$(nproc)
VOCAB=32000
MODELS=unigram,bpe
MODELS_FROM=
WITH_SPM=0
NOVEL=
while [ $# -gt 0 ]; do
    case "$1" in
    --mb) MB=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --dir) DIR=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --vocab) VOCAB=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --models-from) MODELS_FROM=$2; shift 2 ;;
    --with-encoder-spm) WITH_SPM=1; shift ;;
    --novel) NOVEL=$2; shift 2 ;;
    -h|--help) script_help; exit 0 ;;
    *) echo "bench-pretok: unknown argument $1" >&2; exit 2 ;;
    esac
done

PRETOK=${INGOT_PRETOK:-$ROOT/build/pretok/ingot-pretok}
if [ ! -x "$PRETOK" ]; then
    echo "bench-pretok: $PRETOK not found; build first (meson setup build && ninja -C build)" \
         "or set INGOT_PRETOK" >&2
    exit 1
fi
PY=${PYTHON:-}
if [ -z "$PY" ]; then
    for p in python3 /usr/bin/python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sentencepiece' 2>/dev/null; then
            PY=$p
            break
        fi
    done
fi
if [ -z "$PY" ]; then
    echo "bench-pretok: no Python with the sentencepiece module (set PYTHON): the Python" \
         "rows are skipped" >&2
    PY=$(command -v python3 || echo /usr/bin/python3)
fi
SPM_ENCODE=${SPM_ENCODE:-$(command -v spm_encode || true)}
SPM_TRAIN=${SPM_TRAIN:-$(command -v spm_train || true)}
mkdir -p "$DIR"

exec "$PY" - "$DIR" "$MB" "$THREADS" "$VOCAB" "$MODELS" "$PRETOK" "$SPM_ENCODE" "$SPM_TRAIN" \
    "$REPEAT" "$RUNS" "$MODELS_FROM" "$WITH_SPM" "$NOVEL" "$ROOT" <<'PYTHON'
import ast, glob, gzip, hashlib, io, json, os, re, shutil, subprocess, sys, sysconfig, time
try:
    import sentencepiece as spm
except ImportError:
    spm = None

DIR, MB, THREADS, VOCAB, MODELS, PRETOK, SPM_ENCODE, SPM_TRAIN, REPEAT, RUNS = sys.argv[1:11]
MODELS_FROM, WITH_SPM = sys.argv[11], sys.argv[12] == "1"
NOVEL, ROOT = sys.argv[13], sys.argv[14]
MB, THREADS, VOCAB = float(MB), int(THREADS), int(VOCAB)
REPEAT, RUNS = max(1, int(REPEAT)), max(1, int(RUNS))
TOOL_ENV = dict(os.environ)
if os.environ.get("INGOT_TOOL_LIBS"):
    TOOL_ENV["LD_LIBRARY_PATH"] = os.pathsep.join(
        [os.environ["INGOT_TOOL_LIBS"]] + [d for d in
                                           os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
                                           if d])
MODELS = MODELS.split(",")
corpus = os.path.join(DIR, "corpus")
notes = []          # this run's; the corpus's own go to DIR/corpus/notes.txt
if spm is None:
    notes.append("no Python with the sentencepiece module: the Python batch rows are skipped")


def log(*a):
    print("bench-pretok:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- corpus
def read(path, limit=1 << 20):
    try:
        op = gzip.open if path.endswith(".gz") else open
        with op(path, "rb") as f:
            return f.read(limit).decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


TROFF = re.compile(r"\\f[BIRP]|\\\(..|\\[&|^-]|\\s[-+]?\d")


def man_text(path):
    t = read(path)
    if not t:
        return None
    out = []
    for ln in t.split("\n"):
        if ln.startswith((".", "'")):
            if ln[:3] in (".PP", ".LP", ".SH", ".TP", ".IP", ".P", ".SS"):
                out.append("")
            continue
        out.append(TROFF.sub("", ln).replace("\\", ""))
    return "\n".join(out)


def py_texts():
    lib = sysconfig.get_paths()["stdlib"]
    for path in sorted(glob.glob(os.path.join(lib, "**", "*.py"), recursive=True)):
        src = read(path, 4 << 20)
        if not src:
            continue
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
                d = ast.get_docstring(node)
                if d:
                    yield d
        comments = [ln.strip()[1:].strip() for ln in src.split("\n")
                    if ln.strip().startswith("#") and len(ln.strip()) > 3]
        if comments:
            yield "\n".join(comments)


def sources():
    for p in sorted(glob.glob("/usr/share/common-licenses/*")):
        yield read(p)
    for pat in ("/usr/share/doc/*/copyright", "/usr/share/doc/*/changelog*.gz",
                "/usr/share/doc/*/README*", "/usr/share/doc/*/NEWS*",
                "/usr/share/doc/*/*.txt", "/usr/share/doc/*/*.md"):
        for p in sorted(glob.glob(pat)):
            yield read(p)
    for p in sorted(glob.glob("/usr/share/man/man[1-8]/*.gz")):
        yield man_text(p)
    yield from py_texts()


def documents(target):
    """Single-line documents of 1-4 KB made of unique paragraphs."""
    seen, docs, cur, size = set(), [], [], 0
    for text in sources():
        if not text:
            continue
        for para in re.split(r"\n\s*\n", text):
            para = " ".join(para.split())
            if len(para) < 40:
                continue
            h = hashlib.blake2b(para.encode(), digest_size=8).digest()
            if h in seen:
                continue
            seen.add(h)
            cur.append(para)
            if sum(map(len, cur)) > 1000 + 3000 * (len(docs) % 4) / 3:
                docs.append(" ".join(cur))
                size += len(docs[-1].encode()) + 1
                cur = []
                if size >= target:
                    return docs, size
    if cur:
        docs.append(" ".join(cur))
        size += len(docs[-1].encode()) + 1
    if not docs:
        sys.exit("bench-pretok: no text found on this machine")
    base = list(docs)
    k = 1
    while size < target:      # not enough text: reuse it, reordered
        for d in base[k % 7::7] + base[:k % 7]:
            docs.append(d)
            size += len(d.encode()) + 1
            if size >= target:
                break
        k += 1
    notes.append("the machine had only %.1f MB of unique text; the corpus repeats it "
                 "(%.1f MB)" % (sum(len(d.encode()) + 1 for d in base) / 1e6, size / 1e6))
    return docs, size


stamp = os.path.join(corpus, "done-%g" % MB + ("-novel%s" % NOVEL if NOVEL else ""))
if not os.path.exists(stamp) and NOVEL:
    # every document unique (make-corpus.py --synth), docs.txt from its files
    shutil.rmtree(corpus, ignore_errors=True)
    log("building a %g MB corpus of unique documents (--novel %s) in %s" % (MB, NOVEL, corpus))
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make-corpus.py"), corpus,
                    "--synth", "--mb", "%g" % MB, "--files", "8", "--novel", NOVEL],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(corpus, "docs.txt"), "w", encoding="utf-8") as out:
        for p in sorted(glob.glob(os.path.join(corpus, "part-*.jsonl"))):
            for line in open(p, encoding="utf-8"):
                out.write(json.loads(line)["text"].replace("\n", " ") + "\n")
    synth = json.load(open(os.path.join(corpus, "synth.json")))
    with open(os.path.join(corpus, "notes.txt"), "w") as f:
        f.write("corpus: make-corpus.py --synth, every document unique, %s of the words "
                "lengthened (from %.1f MB of the machine's text)\n"
                % (NOVEL, synth.get("source_mb", 0)))
    open(stamp, "w").close()
    notes += [n for n in open(os.path.join(corpus, "notes.txt")).read().split("\n") if n]
elif not os.path.exists(stamp):
    shutil.rmtree(corpus, ignore_errors=True)
    os.makedirs(corpus)
    log("building a %g MB corpus in %s" % (MB, corpus))
    run_notes, notes = notes, []   # notes.txt keeps only what describes the corpus
    docs, size = documents(MB * 1e6)
    with open(os.path.join(corpus, "docs.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(docs) + "\n")
    n_files = 8
    zstd = shutil.which("zstd")
    for i in range(n_files):
        p = os.path.join(corpus, "part-%02d.jsonl" % i)
        with open(p, "w", encoding="utf-8") as f:
            for j in range(i, len(docs), n_files):
                f.write(json.dumps({"text": docs[j], "id": j}) + "\n")
        if zstd:
            subprocess.run([zstd, "-q", "-f", "--rm", "-3", p], check=True)
    if not zstd:
        notes.append("no zstd program: the corpus is plain .jsonl")
    with open(os.path.join(corpus, "notes.txt"), "w") as f:
        f.write("\n".join(notes))
    notes = run_notes + notes
    open(stamp, "w").close()
else:
    notes += [n for n in open(os.path.join(corpus, "notes.txt")).read().split("\n") if n]
inputs = sorted(glob.glob(os.path.join(corpus, "part-*.jsonl*")))
# The corpus --repeat times over, for the runs on all threads: copies, as
# ingot-pretok reads a file it is given twice (by any name, links included)
# once. (Symbolic links here made every all-threads row 4x too fast from
# 2026-12-02, when pretok began to list its inputs by file identity.)
rep_dir = os.path.join(DIR, "corpus-x%d" % REPEAT)
shutil.rmtree(rep_dir, ignore_errors=True)
os.makedirs(rep_dir)
rep_inputs = []
for r in range(REPEAT):
    for p in inputs:
        q = os.path.join(rep_dir, "r%d-%s" % (r, os.path.basename(p)))
        shutil.copyfile(p, q)
        rep_inputs.append(q)
docs_txt = os.path.join(corpus, "docs.txt")
texts = open(docs_txt, encoding="utf-8").read().split("\n")[:-1]
text_bytes = sum(len(t.encode()) for t in texts)
log("corpus: %d documents, %.1f MB of text in %d files" % (len(texts), text_bytes / 1e6,
                                                          len(inputs)))

# ---------------------------------------------------------------- models
mdir = os.path.join(DIR, "models")
os.makedirs(mdir, exist_ok=True)


def train(kind):
    prefix = os.path.join(mdir, "%s-%d" % (kind, VOCAB))
    src = os.path.join(MODELS_FROM, "%s-%d.model" % (kind, VOCAB)) if MODELS_FROM else None
    if src and os.path.exists(src) and not os.path.exists(prefix + ".model"):
        shutil.copy(src, prefix + ".model")
        if os.path.exists(src[:-6] + ".vocab"):
            shutil.copy(src[:-6] + ".vocab", prefix + ".vocab")
        notes.append("%s model copied from %s" % (kind, src))
    if os.path.exists(prefix + ".model"):
        return prefix + ".model"
    if not SPM_TRAIN and spm is None:
        sys.exit("bench-pretok: no %s model in %s, and neither spm_train nor Python's "
                 "sentencepiece to train one (use --models-from)" % (kind, mdir))
    log("training a %d %s model (once; cached in %s)" % (VOCAB, kind, mdir))
    args = ["--input=" + docs_txt, "--model_prefix=" + prefix, "--vocab_size=%d" % VOCAB,
            "--model_type=" + kind, "--hard_vocab_limit=false", "--num_threads=%d" % THREADS,
            "--input_sentence_size=300000", "--shuffle_input_sentence=true",
            "--max_sentence_length=16384"]
    t0 = time.time()
    if SPM_TRAIN:
        subprocess.run([SPM_TRAIN] + args, check=True, stderr=subprocess.DEVNULL, env=TOOL_ENV)
    else:
        spm.SentencePieceTrainer.train(" ".join(args + ["--minloglevel=1"]))
    log("  trained in %.0f s" % (time.time() - t0))
    return prefix + ".model"


# The SentencePiece library a binary loads: the Debian package's version when
# it is the system's copy, else its path (a build from source, or one carried
# to the machine); $INGOT_SPM_LIBVER overrides.
def libver(binary):
    if os.environ.get("INGOT_SPM_LIBVER"):
        return os.environ["INGOT_SPM_LIBVER"]
    try:
        out = subprocess.run(["ldd", binary], capture_output=True,
                             env=TOOL_ENV).stdout.decode()
    except OSError:
        return "?"
    m = re.search(r"libsentencepiece\.so\S* => (\S+)", out)
    if not m:
        return "?"
    path = os.path.realpath(m.group(1))
    if not path.startswith(("/usr/lib/", "/lib/")):
        return path
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libsentencepiece0"],
                              capture_output=True).stdout.decode() or path
    except OSError:
        return path


LIBVER = libver(PRETOK)
SPM_LIBVER = libver(SPM_ENCODE) if SPM_ENCODE else "-"

# ---------------------------------------------------------------- timing
def timed(jobs):
    """jobs: [(cmd, copies)]. Runs every job once per round, RUNS rounds, so
    that a slow spell of a shared machine hits all of them alike; a job of
    n copies starts them together. Returns [(best wall time, stdout of the
    first copy in that run)] in the order of jobs."""
    best = [None] * len(jobs)
    for _ in range(RUNS):
        for i, (cmd, copies) in enumerate(jobs):
            t0 = time.perf_counter()
            procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE if k == 0 else subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, env=TOOL_ENV)
                     for k in range(copies)]
            outs = [p.communicate() for p in procs]
            dt = time.perf_counter() - t0
            for p, (_, err) in zip(procs, outs):
                if p.returncode:
                    sys.exit("bench-pretok: %s failed: %s" % (cmd[0], err.decode()[-2000:]))
            if best[i] is None or dt < best[i][0]:
                best[i] = (dt, outs[0][0])
    return best


rows = []
for kind in MODELS:
    model = train(kind)
    sp = spm.SentencePieceProcessor(model_file=model) if spm else None
    if sp:
        vocab = sp.get_piece_size()
    else:   # the .vocab file has a line per piece
        vp = model[:-6] + ".vocab"
        vocab = sum(1 for _ in open(vp, encoding="utf-8")) if os.path.exists(vp) else VOCAB
    if vocab != VOCAB:
        notes.append("%s model: vocab %d (the corpus is too small for %d)" % (kind, vocab, VOCAB))
    res = {}    # (tool, threads) -> (seconds, tokens, text bytes, stages, pipeline seconds)
    pretok_threads = sorted({1, THREADS})
    jobs = []
    for th in pretok_threads:
        out = os.path.join(DIR, "out-%s-%d" % (kind, th))
        # a fresh output directory for each run (a finished one is not redone)
        jobs.append((["sh", "-c", 'rm -rf "$0" && exec "$@"', out, PRETOK, "--model", model,
                      "--out", out, "--threads", str(th), "--no-bos", "--quiet", "--json"] +
                     (inputs if th == 1 else rep_inputs), 1))
    spm_cmd = [SPM_ENCODE, "--model=" + model, "--output_format=id", "--input=" + docs_txt,
               "--output=/dev/null"]
    # THREADS independent spm_encode processes at once, each on the whole text:
    # nothing is shared but the machine, so their speed-up is the most THREADS
    # cores give this encoder (clock, caches, memory).
    spm_copies = sorted({1, THREADS}) if SPM_ENCODE else []
    jobs += [(spm_cmd, n) for n in spm_copies]
    if WITH_SPM:    # ingot-pretok with libsentencepiece as its encoder
        out = os.path.join(DIR, "out-%s-spm" % kind)
        jobs.append((["sh", "-c", 'rm -rf "$0" && exec "$@"', out, PRETOK, "--model", model,
                      "--out", out, "--threads", str(THREADS), "--no-bos", "--quiet", "--json",
                      "--encoder", "spm"] + rep_inputs, 1))
    best = timed(jobs)
    if WITH_SPM:
        dt, stdout = best[-1]
        run = json.loads(stdout)["run"]
        res["pretok-spm", THREADS] = (dt, run["tokens"], REPEAT * text_bytes, run["stage_s"],
                                      run["wall_s"], "libsentencepiece")
        shutil.rmtree(os.path.join(DIR, "out-%s-spm" % kind), ignore_errors=True)
        best = best[:-1]
    for th, (dt, stdout) in zip(pretok_threads, best):
        n = 1 if th == 1 else REPEAT
        run = json.loads(stdout)["run"]
        how = ("io_uring" if run["io_uring"] else "pread") + \
            (", " + run["allocator"] if run.get("allocator") else "")
        res["pretok", th] = (dt, run["tokens"], n * text_bytes, run["stage_s"], run["wall_s"], how)
        shutil.rmtree(os.path.join(DIR, "out-%s-%d" % (kind, th)), ignore_errors=True)
    for n, (dt, _) in zip(spm_copies, best[len(pretok_threads):]):
        res["spm_encode", n] = (dt, n * res["pretok", 1][1], n * text_bytes, None, None, None)
    for th in (sorted({1, THREADS}) if sp else []):
        n = 1 if th == 1 else REPEAT
        batch = texts * n
        dt = None
        for _ in range(RUNS):
            t0 = time.perf_counter()
            ids = sp.encode(batch, num_threads=th)
            d = time.perf_counter() - t0
            dt = d if dt is None else min(dt, d)
            n_tok = sum(map(len, ids))
            del ids
        res["python", th] = (dt, n_tok, n * text_bytes, None, None, None)
        del batch
    def mbs(key):
        r = res[key]
        return r[2] / 1e6 / r[0]
    for key, (dt, tokens, nbytes, stages, pipe, how) in res.items():
        tool, th = key
        rows.append((kind, tool, th, mbs(key), tokens / 1e6 / dt,
                     nbytes / 1e6 / pipe if pipe else None,
                     mbs(key) / mbs(("spm_encode", 1)) if SPM_ENCODE else None,
                     mbs(key) / mbs(("python", THREADS)) if sp else None, stages, how))
    if not SPM_ENCODE:
        notes.append("spm_encode is not installed: its row is skipped")

# ---------------------------------------------------------------- table
host = os.uname().nodename
hdr = ("| model | tool | threads | MB/s | Mtok/s | MB/s without start-up | × spm_encode "
       "| × Python batch (%d thr) |" % THREADS)
ext = "." + os.path.basename(inputs[0]).split(".", 1)[1]
lines = ["Corpus: %d documents, %.1f MB of text, %d %s files; runs on %d threads read it %d "
         "times over; %d cores (%s). MB/s: megabytes of document text per second of the "
         "whole command (model loading included; the Python API is timed around encode() "
         "alone); best of %d runs." % (len(texts), text_bytes / 1e6, len(inputs), ext, THREADS,
                                      REPEAT, os.cpu_count(), host, RUNS), "",
         hdr, "|---|---|---:|---:|---:|---:|---:|---:|"]
names = {"pretok": "ingot-pretok (%s)" % ext, "spm_encode": "spm_encode (text)",
         "python": "Python encode(texts)",
         "pretok-spm": "ingot-pretok --encoder spm (%s)" % ext}
for kind, tool, th, mbs_, mts, pipe, vs_spm, vs_py, _, _ in rows:
    name = names[tool]
    if tool == "spm_encode" and th > 1:
        name = "%d × spm_encode (text), at once" % th
    lines.append("| %s | %s | %d | %.2f | %.3f | %s | %s | %s |" % (
        kind, name, th, mbs_, mts, "%.2f" % pipe if pipe else "",
        "%.2f" % vs_spm if vs_spm else "-", "%.2f" % vs_py if vs_py else "-"))
lines.append("")
lines.append("SentencePiece: ingot-pretok uses libsentencepiece %s (--encoder spm), spm_encode "
             "%s; the Python module is %s." % (LIBVER, SPM_LIBVER,
                                                spm.__version__ if spm else "missing"))
for kind, tool, th, _, _, _, _, _, st, how in rows:
    if st and tool == "pretok":
        lines.append("ingot-pretok %s, %d thread%s (%s): stage thread-seconds: read %.2f, "
                     "decompress %.2f, split %.2f, parse %.2f, tokenize %.2f, write %.2f" % (
                         kind, th, "" if th == 1 else "s", how,
                         st["read"], st["decompress"], st["split"], st["parse"],
                         st["tokenize"], st["write"]))
for kind in MODELS:
    one = [r for r in rows if r[0] == kind and r[1] == "pretok"]
    if len(one) == 2:
        lines.append("ingot-pretok %s: %d threads = %.1f× one thread (%.1f× without start-up)" %
                     (kind, THREADS, one[1][3] / one[0][3], one[1][5] / one[0][5]))
    procs = [r for r in rows if r[0] == kind and r[1] == "spm_encode"]
    if len(procs) == 2 and len(one) == 2:
        ideal = procs[1][3] / procs[0][3]
        lines.append("spm_encode %s: %d processes at once = %.1f× one (this machine's ceiling "
                     "for the encoder, nothing shared); ingot-pretok's scaling is %.2f of it" %
                     (kind, THREADS, ideal, (one[1][3] / one[0][3]) / ideal))
for n in dict.fromkeys(notes):
    lines.append("Note: " + n)
text = "\n".join(lines)
print(text)
open(os.path.join(DIR, "bench-pretok.md"), "w").write(text + "\n")
with open(os.path.join(DIR, "bench-pretok.json"), "w") as f:
    json.dump({"threads": THREADS, "cores": os.cpu_count(), "text_mb": text_bytes / 1e6,
               "repeat": REPEAT, "runs": RUNS, "python_module": spm.__version__ if spm else None,
               "libsentencepiece": LIBVER, "notes": list(dict.fromkeys(notes)),
               "rows": [{"model": r[0], "tool": r[1], "threads": r[2], "mb_s": r[3],
                         "mtok_s": r[4], "mb_s_pipeline": r[5], "x_spm_encode": r[6],
                         "x_python": r[7], "stage_s": r[8]} for r in rows]}, f, indent=1)
PYTHON
