"""Helpers for the ingot-pretok command-line tests (run with /usr/bin/python3).

Each test script is called by meson as:
    test_x.py PRETOK DUMP SPM_TRAIN SPM_ENCODE
(SPM_ENCODE may be empty). Tests exit 77 (skip) when spm_train is missing.
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77


class Tools:
    def __init__(self, argv):
        if len(argv) < 4:
            sys.exit("usage: %s PRETOK DUMP SPM_TRAIN [SPM_ENCODE]" % argv[0])
        # Absolute, so that a test may chdir.
        self.pretok, self.dump = os.path.abspath(argv[1]), os.path.abspath(argv[2])
        self.spm_train = argv[3]
        self.spm_encode = argv[4] if len(argv) > 4 and argv[4] else None
        if not self.spm_train or not os.path.exists(self.spm_train):
            print("spm_train not found: skipped")
            sys.exit(SKIP)
        self.tmp = tempfile.mkdtemp(prefix="pt_test_")

    def path(self, *names):
        return os.path.join(self.tmp, *names)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, args, rc=0, env=None, what=""):
        """Run ingot-pretok; check the exit status; return (stdout, stderr)."""
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("INGOT_PRETOK_TEST_"):
                del e[k]
        e.update(env or {})
        p = subprocess.run([self.pretok] + args, capture_output=True, env=e)
        out, err = p.stdout.decode(), p.stderr.decode("utf-8", "replace")
        ok = p.returncode == rc if rc is not None else True
        if rc == "nonzero":
            ok = p.returncode not in (0, -9)
        if not ok:
            fail("%s: ingot-pretok %s: exit %d, expected %s\nstderr:\n%s" %
                 (what, " ".join(args), p.returncode, rc, err))
        return out, err

    def dump_ids(self, dataset, split="all"):
        p = subprocess.run([self.dump, "docs", dataset, "--ids", "--split", split],
                           capture_output=True)
        if p.returncode:
            fail("ingot-dump docs %s: %s" % (dataset, p.stderr.decode()))
        return p.stdout.decode()

    def verify(self, dataset):
        p = subprocess.run([self.dump, "verify", dataset], capture_output=True)
        if p.returncode:
            fail("ingot-dump verify %s: %s" % (dataset, p.stderr.decode() + p.stdout.decode()))

    def train(self, text_lines, name, extra):
        """Train a SentencePiece model on the given lines; returns its path."""
        inp = self.path(name + ".train.txt")
        with open(inp, "w", encoding="utf-8") as f:
            f.write("\n".join(text_lines) + "\n")
        prefix = self.path(name)
        args = [self.spm_train, "--input=" + inp, "--model_prefix=" + prefix,
                "--hard_vocab_limit=false", "--num_threads=2",
                "--minloglevel=2"] + extra
        p = subprocess.run(args, capture_output=True)
        if p.returncode:
            fail("spm_train failed: %s" % p.stderr.decode()[-2000:])
        return prefix + ".model"


def import_sentencepiece():
    """The sentencepiece module, or exit with SKIP when it is missing."""
    try:
        import sentencepiece
    except ImportError:
        print("python3-sentencepiece missing: skipped")
        sys.exit(SKIP)
    return sentencepiece


def small_unigram(t):
    """The small unigram model the bad-input and provenance tests share."""
    return t.train(documents(2, 1200), "uni", ["--model_type=unigram", "--vocab_size=400"])


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


WORDS = ("the of and to in is that for it as with was on be by this are from or at an "
         "which have not but had all were when there can more one their will if about "
         "shard token model train corpus record line file document stream thread write "
         "read merge part value number system data time people year way day thing man "
         "world life hand child eye woman place work week case point government company "
         "résumé naïve café Zürich façade jalapeño crème brûlée").split()
EXOTIC = ["日本語のテキスト", "中文文本", "Ελληνικά", "русский текст", "emoji 🎉🚀",
          "मानक हिन्दी", "한국어", "עברית", "math ∑∫√∞", "tab\tinside"]


def sentence(rng, n_min=5, n_max=30):
    words = [rng.choice(WORDS) for _ in range(rng.randint(n_min, n_max))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words) + 1), rng.choice(EXOTIC))
    if rng.random() < 0.2:
        words.append(str(rng.randint(0, 99999)))
    s = " ".join(words)
    return s[0].upper() + s[1:] + rng.choice([".", "!", "?", ";", ""])


def documents(seed, n, multiline=False):
    """n documents of pseudo-English; multi-line ones when asked."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        parts = [sentence(rng) for _ in range(rng.randint(1, 4))]
        if multiline:
            sep = rng.choice(["\n", "\n\n", " \n", "\r\n", "\n  "])
            docs.append(sep.join(parts))
        else:
            docs.append(" ".join(parts))
    return docs


def write_jsonl(path, docs, key="text", extra=None):
    with open(path, "w", encoding="utf-8") as f:
        for i, d in enumerate(docs):
            o = {"id": i, key: d}
            if extra:
                o.update(extra)
            f.write(json.dumps(o, ensure_ascii=(i % 2 == 0)) + "\n")


def zstd(path, level=3, keep=False):
    """Compress path to path.zst with the zstd program; returns the new path."""
    z = shutil.which("zstd")
    if not z:
        fail("the zstd program is needed by this test")
    subprocess.run([z, "-q", "-f", "-%d" % level, path, "-o", path + ".zst"], check=True)
    if not keep:
        os.unlink(path)
    return path + ".zst"


HEADER = struct.Struct("<8sIIIIIiiiiIIIQQQQQQQQQQQ")


class Shard:
    """An independent reader of the shard format (docs/shard-format.md)."""

    def __init__(self, path):
        data = open(path, "rb").read()
        f = HEADER.unpack_from(data, 0)
        (self.magic, self.version, self.header_size, _, self.width, self.vocab,
         self.bos, self.eos, self.pad, self.unk, self.split, self.toktype, _,
         self.n_tokens, self.n_docs, tok_off, idx_off, prov_off, self.file_size,
         _, _, _, _, self.seq) = f
        check(self.magic == b"INGOTSHD", "%s: bad magic" % path)
        fmt = "<%d%s" % (self.n_tokens, "H" if self.width == 2 else "I")
        self.tokens = struct.unpack_from(fmt, data, tok_off)
        self.index = struct.unpack_from("<%dQ" % (self.n_docs + 1), data, idx_off)
        self.prov = [struct.unpack_from("<IIQ", data, prov_off + 16 * i)
                     for i in range(self.n_docs)]

    def docs(self):
        for i in range(self.n_docs):
            a, b = self.index[i], self.index[i + 1]
            fi, _, rec = self.prov[i]
            yield fi, rec, list(self.tokens[a:b])


def dataset_docs(d, split=None):
    """[(input name, record, tokens)] of a dataset directory in manifest order."""
    m = json.load(open(os.path.join(d, "manifest.json")))
    names = [x["name"] for x in m["inputs"]]
    out = []
    for s in m["shards"]:
        if split is not None and s["split"] != split:   # "train" / "val"
            continue
        for fi, rec, toks in Shard(os.path.join(d, s["file"])).docs():
            out.append((names[fi], rec, toks))
    return m, out


def strip_special(toks, bos, eos):
    if toks and bos >= 0 and toks[0] == bos:
        toks = toks[1:]
    if toks and eos >= 0 and toks[-1] == eos:
        toks = toks[:-1]
    return toks


def shard_files(d):
    return sorted(f for f in os.listdir(d) if f.endswith(".tok"))


def same_dataset(a, b, what):
    """Byte-identical shards and manifests (the command line aside)."""
    fa, fb = shard_files(a), shard_files(b)
    check(fa == fb, "%s: shard lists differ: %s vs %s" % (what, fa, fb))
    check(len(fa) > 0, "%s: no shards" % what)
    for f in fa:
        if open(os.path.join(a, f), "rb").read() != open(os.path.join(b, f), "rb").read():
            fail("%s: %s differs" % (what, f))
    ma = json.load(open(os.path.join(a, "manifest.json")))
    mb = json.load(open(os.path.join(b, "manifest.json")))
    ma.pop("command_line", None)
    mb.pop("command_line", None)
    check(ma == mb, "%s: manifests differ" % what)


def has_hooks(pretok):
    """True when this ingot-pretok was built with -Dtest_hooks=true (its
    --version says so); the tests that crash or slow it down need them."""
    p = subprocess.run([pretok, "--version"], capture_output=True)
    return p.returncode == 0 and b"test hooks: compiled in" in p.stdout


def need_hooks(pretok):
    """Exit with SKIP unless the binary has the test hooks."""
    if not has_hooks(pretok):
        print("ingot-pretok built without -Dtest_hooks=true: skipped")
        sys.exit(SKIP)


def small_corpus(t, name="in", n_files=2, per_file=60, seed=30):
    """A directory of n_files JSON Lines files; returns (dir, [documents])."""
    d = t.path(name)
    os.makedirs(d, exist_ok=True)
    docs = documents(seed, n_files * per_file)
    for k in range(n_files):
        write_jsonl(os.path.join(d, "f%d.jsonl" % k), docs[k * per_file:(k + 1) * per_file])
    return d, docs


def run_bounded(t, args, timeout, env=None):
    """Run ingot-pretok for at most timeout seconds: (rc, stdout, stderr);
    rc is None when it had to be killed (a hang)."""
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.Popen([t.pretok] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=e)
    try:
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(), err.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out.decode(), err.decode("utf-8", "replace")


def mixed_corpus(t):
    """The determinism and resume tests' corpus: zstd JSONL (two frames),
    plain JSONL, text paragraphs, and a directory holding another JSONL
    (2400 documents). Returns (model, inputs, common options)."""
    model = t.train(documents(2, 1200), "uni", ["--model_type=unigram", "--vocab_size=400"])
    docs = documents(10, 2400)
    write_jsonl(t.path("a.jsonl"), docs[:600])
    write_jsonl(t.path("a2.jsonl"), docs[600:900])
    zstd(t.path("a.jsonl"))
    zstd(t.path("a2.jsonl"))
    with open(t.path("a.jsonl.zst"), "ab") as f:       # a second zstd frame
        f.write(open(t.path("a2.jsonl.zst"), "rb").read())
    os.unlink(t.path("a2.jsonl.zst"))
    write_jsonl(t.path("b.jsonl"), docs[900:1700])
    with open(t.path("c.txt"), "w") as f:
        f.write("\n\n".join(docs[1700:2000]) + "\n")
    os.mkdir(t.path("d"))
    write_jsonl(t.path("d", "e.jsonl"), docs[2000:])
    inputs = [t.path("a.jsonl.zst"), t.path("b.jsonl"), t.path("c.txt"), t.path("d")]
    common = ["--model", model, "--shard-tokens", "9000", "--val-fraction", "0.05",
              "--txt-doc", "paragraph", "--quiet"]
    return model, inputs, common
