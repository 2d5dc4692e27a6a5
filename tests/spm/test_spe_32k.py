#!/usr/bin/python3
"""The 32k-vocabulary end of the model matrix (suite 'spm-slow'): a 32,000-piece
unigram model and a 32,000-piece LLaMA-style BPE model (byte fallback,
whitespace-only pieces, split digits), trained with spm_train on a generated
12 MB corpus (with indented lines, so the BPE model has ▁▁ pieces and cuts at
runs of ▁), and Ingot's encoder checked against libsentencepiece on the
varied test corpus plus long documents (large carried unigram scores, where
the stage-2 cache must fall back to the Viterbi), every stage-2 path checked:
    test_spe_32k.py SPE_DIFF SPM_TRAIN FIXTURE_DIR
Training takes minutes, so the models are made once into FIXTURE_DIR (under
the build tree) and only when INGOT_SLOW_TESTS=1; without them the test
skips (77). Once they exist, the check itself takes seconds:
    INGOT_SLOW_TESTS=1 meson test -C build --suite spm-slow"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {
    "unigram-32k": ["--model_type=unigram"],
    "bpe-32k": ["--model_type=bpe", "--byte_fallback=true",
                "--allow_whitespace_only_pieces=true", "--split_digits=true",
                "--remove_extra_whitespaces=false"],
}


class Text:
    """Zipf-distributed pseudo-words from syllables: enough distinct
    substrings for the unigram trainer to reach 32,000 pieces."""
    ONS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "qu", "r", "s", "t",
           "v", "w", "x", "z", "br", "ch", "cl", "dr", "fl", "gr", "kr", "pl", "sh", "st", "th",
           "tr", "sp", "str"]
    NUC = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "oo", "ie", "y", "é", "ü", "ø"]
    COD = ["", "", "", "n", "r", "s", "t", "l", "m", "ng", "st", "rd", "nk", "x", "ck"]

    def __init__(self, seed):
        self.r = random.Random(seed)
        words = dict.fromkeys(self.word() for _ in range(150000))
        self.lex = list(words)
        acc, self.cum = 0.0, []
        for i in range(len(self.lex)):
            acc += 1.0 / (i + 10) ** 1.05
            self.cum.append(acc)

    def word(self):
        r = self.r
        return "".join(r.choice(self.ONS) + r.choice(self.NUC) + r.choice(self.COD)
                       for _ in range(r.choice([1, 1, 2, 2, 2, 3, 3, 4])))

    def sentence(self):
        r = self.r
        n = r.randint(5, 40)
        ws = r.choices(self.lex, cum_weights=self.cum, k=n)
        if r.random() < 0.3:
            ws.insert(r.randrange(n), str(r.randint(0, 99999)))
        if r.random() < 0.2:
            ws.insert(r.randrange(n), r.choice("([\"'") + r.choice(self.lex) +
                      r.choice([")", "]", "\"", "'", ",", "."]))
        s = " ".join(ws).capitalize() + r.choice(".......?!:;")
        if r.random() < 0.15:   # indented like code: runs of spaces make ▁▁ pieces
            s = " " * r.choice([2, 4, 4, 8, 8, 12]) + s.replace(" ", "  ", r.randint(0, 2))
        return s


FIXTURE_VERSION = "2"   # bump when the corpus or MODELS change: the models are remade


def make_models(fixture, spm_train):
    os.makedirs(fixture, exist_ok=True)
    train = os.path.join(fixture, "train.txt")
    if not os.path.exists(train):
        gen, total = Text(32000), 0
        with open(train + ".tmp", "w", encoding="utf-8") as f:
            while total < 12e6:
                s = gen.sentence()
                f.write(s + "\n")
                total += len(s.encode()) + 1
        os.replace(train + ".tmp", train)
    for name, opts in MODELS.items():
        prefix = os.path.join(fixture, name)
        if os.path.exists(prefix + ".model"):
            continue
        print(f"training {name} (once, into {fixture})", flush=True)
        tmp = prefix + "-tmp"
        subprocess.run([spm_train, f"--input={train}", f"--model_prefix={tmp}",
                        "--vocab_size=32000", "--input_sentence_size=300000",
                        "--shuffle_input_sentence=true", f"--num_threads={os.cpu_count()}",
                        "--minloglevel=2"] + opts, check=True)
        os.replace(tmp + ".vocab", prefix + ".vocab")
        os.replace(tmp + ".model", prefix + ".model")


def long_documents(path):
    """Documents of 2-60 KB (one per 0x1E separator): generated prose with
    paragraphs, plus the machine's licence texts when present."""
    gen = Text(7)
    docs = []
    for i in range(120):
        paras = []
        size = 0
        while size < 2000 + 500 * i:
            p = " ".join(gen.sentence() for _ in range(gen.r.randint(1, 8)))
            paras.append(p)
            size += len(p)
        docs.append("\n\n".join(paras).encode())
    lic = "/usr/share/common-licenses"
    if os.path.isdir(lic):
        for name in sorted(os.listdir(lic))[:12]:
            try:
                docs.append(open(os.path.join(lic, name), "rb").read())
            except OSError:
                pass
    with open(path, "wb") as f:
        f.write(b"\n\x1e\n".join(d.replace(b"\n\x1e\n", b"\n") for d in docs))


def main():
    if len(sys.argv) < 4 or not sys.argv[2]:
        print("spm_train not found: skipped")
        return 77
    spe_diff, spm_train, fixture = sys.argv[1:4]
    stamp = os.path.join(fixture, "version")
    current = os.path.exists(stamp) and open(stamp).read().strip() == FIXTURE_VERSION
    have = current and all(os.path.exists(os.path.join(fixture, n + ".model")) for n in MODELS)
    if not have:
        if os.environ.get("INGOT_SLOW_TESTS") != "1":
            print(f"the 32k models are not in {fixture}: skipped (INGOT_SLOW_TESTS=1 trains "
                  "them once, in minutes)")
            return 77
        for f in ["train.txt"] + [n + ext for n in MODELS for ext in (".model", ".vocab")]:
            if os.path.exists(os.path.join(fixture, f)):
                os.remove(os.path.join(fixture, f))
        make_models(fixture, spm_train)
        with open(stamp, "w") as f:
            f.write(FIXTURE_VERSION + "\n")
    varied, longdocs = os.path.join(fixture, "varied.txt"), os.path.join(fixture, "long.txt")
    subprocess.run([sys.executable, os.path.join(HERE, "spe_corpus.py"),
                    os.path.join(fixture, "varied-train.txt"), varied, "3"], check=True)
    long_documents(longdocs)
    bad = 0
    for name in MODELS:
        r = subprocess.run([spe_diff, os.path.join(fixture, name + ".model"), varied, longdocs],
                           capture_output=True)
        print(r.stdout.decode().strip())
        if r.returncode != 0:
            print(r.stderr.decode()[-3000:])
            bad += 1
    print(f"{len(MODELS)} models of 32,000 pieces, {bad} with a mismatch")
    return 1 if bad else 0


sys.exit(main())
