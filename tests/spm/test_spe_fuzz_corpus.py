#!/usr/bin/python3
"""Replays the differential fuzz corpus (tests/spm/fuzz_corpus) through
fuzz_spe with the fuzzing models, trained here:
    test_spe_fuzz_corpus.py REPLAY_EXE SPM_TRAIN CORPUS_DIR [TYPE]
    test_spe_fuzz_corpus.py --models DIR SPM_TRAIN TYPE   (train, print the list)
The second form makes the models to fuzz with (docs/pretok.md says how):
    SPE_FUZZ_MODELS=$(test_spe_fuzz_corpus.py --models /tmp/fz spm_train unigram) \\
        nice -n 15 fuzz_spe -max_len=4096 CORPUS_DIR
Skips (77) without spm_train."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VARIANTS = [
    ["--vocab_size=900", "--byte_fallback=true",
     "--user_defined_symbols=<sep>,ing,\u00e9,\U0001f916,x=y,42"],
    ["--vocab_size=400", "--normalization_rule_name=identity",
     "--allow_whitespace_only_pieces=true", "--remove_extra_whitespaces=false",
     "--user_defined_symbols=\u2581\u2581,\u2581the"],
    ["--vocab_size=400", "--normalization_rule_name=nfkc_cf",
     "--treat_whitespace_as_suffix=true", "--split_by_whitespace=false"],
    ["--vocab_size=300", "--normalization_rule_name=nmt_nfkc_cf", "--add_dummy_prefix=false",
     "--user_defined_symbols=foo\u2581bar,the\u2581"],
]


def train_models(work, spm_train, kind):
    train, text = os.path.join(work, "train.txt"), os.path.join(work, "text.txt")
    if not os.path.exists(train):
        subprocess.run([sys.executable, os.path.join(HERE, "spe_corpus.py"), train, text],
                       check=True)
    models = []
    for i, extra in enumerate(VARIANTS):
        prefix = os.path.join(work, "%s-%c" % (kind, "abcd"[i]))
        subprocess.run([spm_train, "--input=" + train, "--model_prefix=" + prefix,
                        "--model_type=" + kind, "--hard_vocab_limit=false", "--minloglevel=2",
                        "--num_threads=1"] + extra, check=True, capture_output=True)
        models.append(prefix + ".model")
    return models


def main():
    if sys.argv[1] == "--models":
        os.makedirs(sys.argv[2], exist_ok=True)
        print(":".join(train_models(sys.argv[2], sys.argv[3], sys.argv[4])))
        return 0
    replay, spm_train, corpus = sys.argv[1:4]
    if not spm_train:
        print("spm_train not found: skipped")
        return 77
    with tempfile.TemporaryDirectory() as work:
        for kind in ["unigram", "bpe"]:
            models = train_models(work, spm_train, kind)
            env = dict(os.environ, SPE_FUZZ_MODELS=":".join(models))
            r = subprocess.run([replay, os.path.join(corpus, kind)], env=env,
                               capture_output=True)
            print(kind + ": " + r.stdout.decode().strip())
            if r.returncode:
                print(r.stderr.decode()[-3000:])
                return 1
    return 0


sys.exit(main())
