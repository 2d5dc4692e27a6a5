#!/usr/bin/python3
"""ingot-pretok with Ingot's encoder (the default) against --encoder spm
(libsentencepiece): byte-identical shards and manifests for a unigram and a
BPE model at 1 and 3 threads; a model Ingot's encoder refuses (a CHAR
model) falls back to libsentencepiece with a note, and gives the same
shards as --encoder spm.
    test_spe_pretok.py PRETOK DUMP SPM_TRAIN"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pretok"))
import pt_testlib as T  # noqa: E402

t = T.Tools(sys.argv)
uni, inputs, common = T.mixed_corpus(t)
lines = T.documents(2, 1200)
bpe = t.train(lines, "bpe", ["--model_type=bpe", "--vocab_size=800", "--byte_fallback=true"])
char = t.train(lines, "char", ["--model_type=char"])


def convert(name, model, extra):
    args = [a if a != uni else model for a in common]
    _, err = t.run(args + ["--out", t.path(name)] + extra + inputs, what=name)
    return err


for model, kind in [(uni, "unigram"), (bpe, "bpe")]:
    convert(kind + "-spm", model, ["--encoder", "spm", "--threads", "2"])
    t.verify(t.path(kind + "-spm"))
    for threads in ("1", "3"):
        name = "%s-ingot-%s" % (kind, threads)
        err = convert(name, model, ["--encoder", "ingot", "--threads", threads])
        T.check("note:" not in err, "%s: unexpected note: %s" % (name, err))
        T.same_dataset(t.path(kind + "-spm"), t.path(name), name)
    print("%s: Ingot's encoder at 1 and 3 threads = libsentencepiece" % kind)

err = convert("char-ingot", char, ["--threads", "2"])
T.check("note:" in err and "libsentencepiece" in err and "CHAR" in err,
        "the CHAR model did not fall back with a note: %r" % err)
convert("char-spm", char, ["--encoder", "spm", "--threads", "2"])
T.same_dataset(t.path("char-spm"), t.path("char-ingot"), "char fallback")
_, err = t.run(common + ["--encoder", "fast", "--out", t.path("x")] + inputs, rc=2, what="bad")
T.check("--encoder fast" in err, "bad --encoder value: %r" % err)
print("CHAR model: falls back to libsentencepiece with a note; --encoder checked")
t.cleanup()
