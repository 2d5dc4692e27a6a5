#!/usr/bin/env python3
"""Build a small, real-text corpus from documentation already on the machine.

Sources, in a fixed order so the corpus is the same on the same machine:
Debian copyright files and licences, gzip'd changelogs and READMEs under
/usr/share/doc, and docstrings of the Python standard library. Documents are
written as JSON Lines ({"text": ..., "source": ...}) into several files, each
zstd-compressed when the `zstd` program exists, until --mb megabytes of text.

    scripts/make-corpus.py OUT_DIR [--mb 8] [--files 4] [--plain]
"""
import argparse, ast, glob, gzip, json, os, shutil, subprocess, sys, sysconfig


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
    except OSError:
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
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--mb", type=float, default=8.0, help="megabytes of text to collect (default 8)")
    ap.add_argument("--files", type=int, default=4, help="number of output files (default 4)")
    ap.add_argument("--plain", action="store_true", help="write .jsonl, not .jsonl.zst")
    a = ap.parse_args()
    os.makedirs(a.out_dir, exist_ok=True)
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
    for i in range(a.files):
        part = docs[i * per:(i + 1) * per]
        if not part:
            break
        path = os.path.join(a.out_dir, f"part-{i:02d}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for d in part:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
        if zstd:
            subprocess.run([zstd, "-q", "-f", "--rm", "-3", path], check=True)
    print(f"make-corpus: {len(docs)} documents, {total / 1e6:.1f} MB of text in {a.out_dir}"
          + ("" if a.mb * 1e6 <= total else " (all the text this machine has)"))


if __name__ == "__main__":
    main()
