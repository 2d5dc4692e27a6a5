#!/usr/bin/python3
"""Trains a matrix of SentencePiece models with spm_train and checks that
Ingot's encoder gives libsentencepiece's ids for every one (spe_diff):
    test_spe_matrix.py SPE_DIFF SPM_TRAIN [--full] [--only A,B] [--scale N] [--keep DIR]
By default a covering subset (every value of every option at least once,
for both model types) runs in seconds; --full trains the whole product
{unigram,bpe} x 5 normalizations x byte_fallback x 7 whitespace options x
4 user-symbol sets x 2 vocab sizes; --only A,B keeps the models whose name
(e.g. unigram-nfkc-bf1-suffix-none-600) contains every one of A, B.
Skips (77) without spm_train."""
import itertools
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = ["unigram", "bpe"]
NORMS = ["nmt_nfkc", "nfkc", "nmt_nfkc_cf", "nfkc_cf", "identity"]
WS = {
    "default": [],
    "suffix": ["--treat_whitespace_as_suffix=true"],
    "ws_only": ["--allow_whitespace_only_pieces=true", "--split_by_whitespace=true"],
    "no_split_ws": ["--split_by_whitespace=false"],
    "no_dummy": ["--add_dummy_prefix=false"],
    "keep_ws": ["--remove_extra_whitespaces=false"],
    "digits": ["--split_digits=true", "--allow_whitespace_only_pieces=true",
               "--treat_whitespace_as_suffix=true"],
}
UDS = {
    "none": [],
    "ud": ["--user_defined_symbols=<sep>,[MASK],ing,\u00e9,\U0001f916,x=y,42"],
    "ud_ws": ["--user_defined_symbols=\u2581\u2581,\u2581the,\u2581\u2581\u2581x"],
    "ud_cross": ["--user_defined_symbols=foo\u2581bar,the\u2581,\u2581"],
}
VOCABS = [300, 1500]


def configs(full):
    if full:
        yield from itertools.product(TYPES, NORMS, [False, True], WS, UDS, VOCABS)
        return
    ws = list(WS)
    uds = list(UDS)
    for t in TYPES:
        for i, w in enumerate(ws):
            yield (t, NORMS[i % len(NORMS)], i % 2 == 1, w, uds[[1, 2, 0, 0, 1, 2, 3][i]],
                   VOCABS[1] if i == 0 else VOCABS[0])


def main():
    if len(sys.argv) < 3 or not sys.argv[2]:
        print("spm_train not found: skipped")
        return 77
    spe_diff, spm_train = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    full = "--full" in args
    scale = int(args[args.index("--scale") + 1]) if "--scale" in args else 1
    keep = args[args.index("--keep") + 1] if "--keep" in args else None
    only = args[args.index("--only") + 1].split(",") if "--only" in args else []
    tmp = tempfile.TemporaryDirectory()
    work = keep or tmp.name
    os.makedirs(work, exist_ok=True)
    train, text = os.path.join(work, "train.txt"), os.path.join(work, "text.txt")
    subprocess.run([sys.executable, os.path.join(HERE, "spe_corpus.py"), train, text,
                    str(scale)], check=True)
    n = bad = texts = 0
    for t, norm, bf, ws, ud, vocab in configs(full):
        vocab += 300 if bf else 0   # the 256 byte pieces
        name = f"{t}-{norm}-bf{int(bf)}-{ws}-{ud}-{vocab}"
        if not all(o in name for o in only):
            continue
        prefix = os.path.join(work, name)
        cmd = [spm_train, f"--input={train}", f"--model_prefix={prefix}",
               f"--model_type={t}", f"--vocab_size={vocab}", "--hard_vocab_limit=false",
               f"--normalization_rule_name={norm}", f"--byte_fallback={str(bf).lower()}",
               "--minloglevel=2", "--num_threads=1"] + WS[ws] + UDS[ud]
        r = subprocess.run(cmd, capture_output=True)
        if r.returncode != 0:
            print(f"{name}: spm_train failed:\n{r.stderr.decode()[-2000:]}")
            return 1
        r = subprocess.run([spe_diff, prefix + ".model", text], capture_output=True)
        out = r.stdout.decode().strip()
        print(f"{name}: {out.split(': ', 1)[-1]}" if out else name)
        if r.returncode != 0:
            print(r.stderr.decode()[-3000:])
            bad += 1
        n += 1
        try:
            texts += int(out.split(" texts")[0].rsplit(" ", 1)[-1])
        except ValueError:
            pass
    print(f"{n} models, {texts} texts each compared with cache on and off, "
          f"{bad} models with a mismatch")
    return 1 if bad else 0


sys.exit(main())
