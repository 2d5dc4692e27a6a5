#!/usr/bin/env python3
"""Build a small, real-text corpus from documentation already on the machine.

Sources, in a fixed order so the corpus is the same on the same machine:
Debian copyright files and licences, gzip'd changelogs and READMEs under
/usr/share/doc, and docstrings of the Python standard library. Documents are
written as JSON Lines ({"text": ..., "source": ...}) into several files, each
zstd-compressed when the `zstd` program exists, until --mb megabytes of text.

    scripts/make-corpus.py OUT_DIR [--mb 8] [--files 4] [--plain]
    scripts/make-corpus.py OUT_DIR --synth --mb 300 [--files 16] [--novel 0.05] [--seed 1]
                           [--source-mb 40]

--synth: a corpus larger than the text on the machine, for benchmarks. The
machine's documentation (licences, /usr/share/doc, man pages, Python
docstrings and comments) is cut into sentences, duplicates dropped; each
document (1-4 KB) is a random draw of those sentences, and a fraction
--novel of its words gets one letter inserted, so that the corpus keeps
meeting new words as real text does (a word cache would otherwise see only
the source's vocabulary, however large the corpus). Every document is
unique; the word statistics (distinct words, the share of words met once)
are printed and written to OUT_DIR/synth.json. Plain .jsonl, written by one
process per file; needs nothing but Python 3.

OUT_DIR is created where missing. The part-NN.jsonl[.zst] files (and synth.json) of
an earlier corpus in it are replaced, so that a corpus made again with fewer --files,
or with --plain, is not mixed with the earlier one's; other files are left alone.
Refused (exit 2): --mb, --source-mb not more than 0 (or not finite), --files outside
1..10000, --novel outside 0..1, --synth's --mb beyond the free space of OUT_DIR, the
--synth options without --synth. Unreadable or damaged documentation files (a
truncated .gz) are passed over.
"""
import argparse, ast, glob, gzip, json, math, multiprocessing, os, random, re, shutil, signal
import subprocess, sys, sysconfig, time, zlib

FILES_MAX = 10000


def fail(msg, code=1):
    print("make-corpus: " + msg, file=sys.stderr)
    sys.exit(code)


def doc_files():
    for p in sorted(glob.glob("/usr/share/common-licenses/*")):
        yield p
    for p in sorted(glob.glob("/usr/share/doc/*/copyright")):
        yield p
    for pat in ("/usr/share/doc/*/changelog*.gz", "/usr/share/doc/*/README*",
                "/usr/share/doc/*/NEWS*"):
        for p in sorted(glob.glob(pat)):
            yield p


def read_text(path):
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                raw = f.read(256 << 10)
        else:
            with open(path, "rb") as f:
                raw = f.read(256 << 10)
    except (OSError, EOFError, zlib.error):   # a directory, a truncated or damaged .gz
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def python_docstrings():
    lib = sysconfig.get_paths()["stdlib"]
    for path in sorted(glob.glob(os.path.join(lib, "*.py")) + glob.glob(os.path.join(lib, "*/*.py"))):
        try:
            tree = ast.parse(open(path, encoding="utf-8").read())
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                d = ast.get_docstring(node)
                if d and len(d) > 200:
                    yield path, d


def documents():
    for p in doc_files():
        t = read_text(p)
        if t and len(t.strip()) > 100:
            yield p, t
    yield from python_docstrings()


# ---------------------------------------------------------------- --synth
def synth_sources():
    """Texts for --synth: the documentation files documents() reads, man
    pages, and the standard library's comments and docstrings (found by a
    regular expression: parsing it all is slow)."""
    for p in doc_files():
        t = read_text(p)
        if t:
            yield t
    troff = re.compile(r"\\f[BIRP]|\\\(..|\\[&|^-]|\\s[-+]?\d")
    for p in sorted(glob.glob("/usr/share/man/man[1-8]/*.gz")):
        t = read_text(p)
        if t:
            yield "\n".join("" if ln.startswith((".", "'")) else troff.sub("", ln).replace("\\", "")
                            for ln in t.split("\n"))
    lib = sysconfig.get_paths()["stdlib"]
    doc = re.compile(r'"""(.{40,}?)"""', re.S)
    for p in sorted(glob.glob(os.path.join(lib, "**", "*.py"), recursive=True)):
        t = read_text(p)
        if t:
            yield "\n".join(ln.strip()[1:].strip() for ln in t.split("\n")
                            if ln.strip().startswith("#") and len(ln.strip()) > 3)
            yield "\n\n".join(m.group(1) for m in doc.finditer(t))


def synth_sentences(limit):
    """Unique sentences of the machine's text (whitespace collapsed), up to
    limit bytes."""
    seen, out, size = set(), [], 0
    cut = re.compile(r"(?<=[.!?:;])\s+|\n\s*\n")
    for text in synth_sources():
        for para in cut.split(text):
            s = " ".join(para.split())
            if len(s) < 20 or s in seen:
                continue
            seen.add(s)
            out.append(s)
            size += len(s.encode("utf-8")) + 1
            if size >= limit:
                return out, size
    return out, size


SENTENCES = []   # set before the worker processes fork (not pickled to each)


def synth_file(job):
    """One output file: documents of sentences drawn with the file's own
    seed, --novel of the words lengthened by a letter."""
    path, nbytes, seed, novel = job
    sentences = SENTENCES
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    docs = words = changed = done = 0
    with open(path, "w", encoding="utf-8") as f:
        while done < nbytes:
            want = rng.randint(1000, 4000)
            parts, n = [], 0
            while n < want:
                s = sentences[rng.randrange(len(sentences))]
                parts.append(s)
                n += len(s) + 1
            text = " ".join(parts)
            w = text.count(" ") + 1
            k = sum(1 for _ in range(w) if rng.random() < novel) if w < 64 else \
                int(rng.gauss(w * novel, (w * novel * (1 - novel)) ** 0.5) + 0.5)
            if k > 0:
                cuts = sorted(rng.randrange(len(text)) for _ in range(k))
                pieces, prev = [], 0
                for c in cuts:
                    pieces.append(text[prev:c])
                    pieces.append(rng.choice(letters))
                    prev = c
                pieces.append(text[prev:])
                text = "".join(pieces)
            f.write(json.dumps({"text": text, "id": f"{seed}-{docs}"}, ensure_ascii=False) + "\n")
            docs += 1
            words += w
            changed += max(k, 0)
            done += len(text.encode("utf-8"))
    return docs, done, words, changed


def word_stats(path, limit):
    """Distinct words and words met once in the first `limit` bytes of text."""
    counts, total, seen = {}, 0, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)["text"]
            for w in t.split():
                counts[w] = counts.get(w, 0) + 1
            total += len(t.split())
            seen += len(t)
            if seen >= limit:
                break
    once = sum(1 for c in counts.values() if c == 1)
    return total, len(counts), once


def synth_main(a):
    t0 = time.time()
    global SENTENCES
    sentences, src = synth_sentences(a.source_mb * 1e6)
    SENTENCES = sentences
    if not sentences:
        sys.exit("make-corpus: found no text on this machine (/usr/share/doc, man pages, Python)")
    t1 = time.time()
    per = int(a.mb * 1e6 / a.files) + 1
    jobs = [(os.path.join(a.out_dir, f"part-{i:02d}.jsonl"), per, a.seed * 1000 + i, a.novel)
            for i in range(a.files)]
    remove_parts(a.out_dir)
    ctx = multiprocessing.get_context("fork")
    try:
        with ctx.Pool(min(a.files, os.cpu_count() or 1), initializer=signal.signal,
                      initargs=(signal.SIGINT, signal.SIG_IGN)) as pool:   # ^C: the parent's
            res = pool.map(synth_file, jobs)
    except OSError as e:   # raised in a worker: a full disk, say
        fail("%s: %s" % (e.filename or a.out_dir, e.strerror or e))
    docs = sum(r[0] for r in res)
    size = sum(r[1] for r in res)
    words = sum(r[2] for r in res)
    changed = sum(r[3] for r in res)
    n, distinct, once = word_stats(jobs[0][0], 5e6)
    st = {"mb": size / 1e6, "documents": docs, "files": a.files, "source_mb": src / 1e6,
          "source_sentences": len(sentences), "novel_fraction": a.novel, "words": words,
          "words_lengthened": changed, "sample_words": n, "sample_distinct_words": distinct,
          "sample_words_once": once, "seed": a.seed, "seconds": time.time() - t0,
          "collect_seconds": t1 - t0}
    try:
        with open(os.path.join(a.out_dir, "synth.json"), "w") as f:
            json.dump(st, f, indent=1)
    except OSError as e:
        fail("%s: %s" % (os.path.join(a.out_dir, "synth.json"), e.strerror))
    report(f"make-corpus: {docs} documents, {size / 1e6:.1f} MB of text in {a.files} files of "
          f"{a.out_dir} ({time.time() - t0:.1f} s, {t1 - t0:.1f} collecting): sentences of {src / 1e6:.1f} MB of unique "
          f"text ({len(sentences)} sentences) drawn at random, {100 * a.novel:g}% of words "
          f"lengthened by a letter; in the first {n} words {distinct} are distinct "
          f"({100 * distinct / max(n, 1):.1f}%), {once} occur once")


class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, as the script's other refusals
        fail("%s (--help lists the options)" % message, 2)


PART = re.compile(r"part-\d{2,}\.jsonl(\.zst)?$")


def remove_parts(out_dir):
    """Remove the part files and synth.json an earlier run wrote into out_dir (a
    corpus made again with fewer files, or --plain, is not to be mixed with the
    earlier one); how many there were."""
    old = [n for n in os.listdir(out_dir) if PART.match(n) or n == "synth.json"]
    for n in old:
        try:
            os.remove(os.path.join(out_dir, n))
        except OSError as e:
            fail("%s: %s (a file of an earlier corpus, to be replaced)"
                 % (os.path.join(out_dir, n), e.strerror))
    return len(old)


def report(line):
    """The closing line on standard output. The corpus is whole by then: a full or
    failing output is said in one line (it was a traceback), exit 1."""
    try:
        print(line, flush=True)
    except OSError as e:
        sys.stdout = None   # nothing more to flush at exit
        fail("standard output: %s (the corpus itself was written)" % (e.strerror or e))


def check_args(ap, a):
    """Refuse (exit 2) what would fail later with a traceback, or do nothing asked."""
    if a.files is not None and not 1 <= a.files <= FILES_MAX:   # -2 wrote no documents
        ap.error("--files %d: from 1 to %d" % (a.files, FILES_MAX))
    if not (a.mb > 0 and math.isfinite(a.mb)):
        ap.error("--mb %g: megabytes, more than 0" % a.mb)
    if not a.synth:
        given = [f for f, v in (("--novel", a.novel), ("--source-mb", a.source_mb),
                                ("--seed", a.seed)) if v is not None]
        if given:
            ap.error("%s: for --synth only (without it the corpus is the machine's text "
                     "as it is)" % ", ".join(given))
        return
    if a.novel is not None and not 0 <= a.novel <= 1:
        ap.error("--novel %g: a fraction of the words, from 0 to 1" % a.novel)
    if a.source_mb is not None and not (a.source_mb > 0 and math.isfinite(a.source_mb)):
        ap.error("--source-mb %g: megabytes, more than 0" % a.source_mb)
    there = os.path.abspath(a.out_dir or ".")   # OUT_DIR, or where it will be created
    while not os.path.isdir(there) and there != os.path.dirname(there):
        there = os.path.dirname(there)
    free = shutil.disk_usage(there).free
    if a.mb * 1e6 + (a.files or 16) * 8192 > free:
        ap.error("--mb %g: more than the %.0f MB free in %s" % (a.mb, free / 1e6, there))


def make_out_dir(ap, out_dir):
    if not out_dir:
        ap.error("OUT_DIR is empty: name the directory to write the corpus into")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        ap.error("%s: exists and is not a directory" % out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        fail("%s: cannot create the directory: %s" % (out_dir, e.strerror), 2)
    if not os.access(out_dir, os.W_OK | os.X_OK):
        fail("%s: not writable" % out_dir, 2)


def main():
    ap = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir", metavar="OUT_DIR",
                    help="directory for part-NN.jsonl[.zst] (created where missing)")
    ap.add_argument("--mb", type=float, default=8.0,
                    help="megabytes of text to collect, or with --synth to generate (default 8)")
    ap.add_argument("--files", type=int, default=None,
                    help="number of output files, 1 to %d (default 4; --synth: 16)" % FILES_MAX)
    ap.add_argument("--plain", action="store_true", help="write .jsonl, not .jsonl.zst")
    ap.add_argument("--synth", action="store_true", help="generate --mb of documents (see above)")
    ap.add_argument("--novel", type=float, default=None,
                    help="--synth: fraction of words lengthened by a letter, 0 to 1 (default 0.05: the per-thread cache then hits as often as on 40 MB of real documentation)")
    ap.add_argument("--source-mb", type=float, default=None,
                    help="--synth: at most this much of the machine's text (default 40)")
    ap.add_argument("--seed", type=int, default=None, help="--synth: random seed (default 1)")
    a = ap.parse_args()
    check_args(ap, a)
    make_out_dir(ap, a.out_dir)
    try:
        if a.synth:
            a.files = a.files or 16
            a.novel = 0.05 if a.novel is None else a.novel
            a.source_mb = 40.0 if a.source_mb is None else a.source_mb
            a.seed = 1 if a.seed is None else a.seed
            return synth_main(a)
        return plain_main(a)
    except KeyboardInterrupt:
        fail("interrupted; %s holds part of a corpus" % a.out_dir, 130)


def plain_main(a):
    a.files = a.files or 4
    budget = int(a.mb * 1e6)
    docs, total = [], 0
    for src, text in documents():
        docs.append({"text": text, "source": src})
        total += len(text.encode("utf-8"))
        if total >= budget:
            break
    if not docs:
        sys.exit("make-corpus: found no text on this machine (/usr/share/doc, Python stdlib)")
    per = (len(docs) + a.files - 1) // a.files
    zstd = None if a.plain else shutil.which("zstd")
    removed = remove_parts(a.out_dir)
    for i in range(a.files):
        part = docs[i * per:(i + 1) * per]
        if not part:
            break
        path = os.path.join(a.out_dir, f"part-{i:02d}.jsonl")
        try:
            with open(path, "w", encoding="utf-8") as f:
                for d in part:
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
        except OSError as e:
            fail("%s: %s" % (path, e.strerror))
        if zstd:
            p = subprocess.run([zstd, "-q", "-f", "--rm", "-3", path], stderr=subprocess.PIPE,
                               universal_newlines=True)
            if p.returncode:
                fail("%s failed on %s (exit %d: %s); --plain writes .jsonl without it"
                     % (zstd, path, p.returncode, " ".join(p.stderr.split()) or "no message"))
    report(f"make-corpus: {len(docs)} documents, {total / 1e6:.1f} MB of text in {a.out_dir}"
          + ("" if a.mb * 1e6 <= total else " (all the text this machine has)")
          + (f"; replaced the {removed} files of an earlier corpus there" if removed else ""))


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)   # `| head`: ends quietly
    sys.exit(main())
