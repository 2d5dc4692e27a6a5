#!/usr/bin/python3
"""Exact ids: pretok's ids (through ingot-dump docs --ids) equal spm_encode's
on single-line documents and the Python API's encode() on multi-line ones,
for a unigram model (default normalization) and a BPE model with byte
fallback and identity normalization, both trained here."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

spm = T.import_sentencepiece()

t = T.Tools(sys.argv)
docs = T.documents(1, 700)
train_text = T.documents(2, 1500)
models = {
    "unigram": t.train(train_text, "uni", ["--model_type=unigram", "--vocab_size=400"]),
    "bpe": t.train(train_text, "bpe", ["--model_type=bpe", "--vocab_size=500",
                                       "--byte_fallback=true",
                                       "--normalization_rule_name=identity"]),
}

# Single-line documents over two inputs, one of them zstd-compressed.
T.write_jsonl(t.path("a.jsonl"), docs[:350])
T.zstd(t.path("a.jsonl"))
T.write_jsonl(t.path("b.jsonl"), docs[350:])
with open(t.path("docs.txt"), "w", encoding="utf-8") as f:
    f.write("\n".join(docs) + "\n")

ml_docs = T.documents(3, 250, multiline=True)
T.write_jsonl(t.path("ml.jsonl"), ml_docs)

for kind, model in models.items():
    sp = spm.SentencePieceProcessor(model_file=model)
    out = t.path("out-" + kind)
    t.run(["--model", model, "--out", out, "--threads", "2", "--shard-tokens", "6000",
           t.path("a.jsonl.zst"), t.path("b.jsonl")], what=kind)
    t.verify(out)
    got = t.dump_ids(out).splitlines()
    T.check(len(got) == len(docs), "%s: %d documents, expected %d" % (kind, len(got), len(docs)))
    if t.spm_encode:
        ref = subprocess.run([t.spm_encode, "--model=" + model, "--output_format=id",
                              "--input=" + t.path("docs.txt")], capture_output=True,
                             check=True).stdout.decode().splitlines()
        for i, (a, b) in enumerate(zip(got, ref)):
            T.check(a == b, "%s: document %d: pretok %s... != spm_encode %s..." %
                    (kind, i, a[:60], b[:60]))
        print("%s: %d single-line documents equal spm_encode" % (kind, len(ref)))
    else:
        print("%s: spm_encode not installed; single-line ids checked with Python only" % kind)
    py = [" ".join(map(str, ids)) for ids in sp.encode(docs)]
    T.check(got == py, "%s: single-line ids differ from the Python API" % kind)

    # BOS before each document by default (the model has one), no EOS.
    m, dd = T.dataset_docs(out)
    bos = sp.bos_id()
    T.check(all(toks[0] == bos for _, _, toks in dd), "%s: BOS missing" % kind)
    T.check(m["token_width"] == 2 and m["tokenizer"]["type"] == kind, "%s: manifest" % kind)

    # Multi-line documents (newlines, CRLF, blank lines inside the text).
    out2 = t.path("ml-" + kind)
    t.run(["--model", model, "--out", out2, "--threads", "2", "--no-bos", "--eos",
           t.path("ml.jsonl")], what=kind + " multi-line")
    _, dd = T.dataset_docs(out2)
    want = sp.encode(ml_docs)
    T.check(len(dd) == len(want), "%s: multi-line: %d documents, expected %d" %
            (kind, len(dd), len(want)))
    eos = sp.eos_id()
    for i, ((_, rec, toks), w) in enumerate(zip(dd, want)):
        T.check(rec == i + 1, "%s: multi-line doc %d has record %d" % (kind, i, rec))
        T.check(toks[-1] == eos and toks[:-1] == w,
                "%s: multi-line document %d differs from Python encode" % (kind, i))
    print("%s: %d multi-line documents equal Python encode" % (kind, len(want)))

t.cleanup()
print("ok")
