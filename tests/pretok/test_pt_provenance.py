#!/usr/bin/python3
"""Provenance: every document's (file index, record) leads back through the
manifest's input table to the source line it was made from (JSONL, zstd
JSONL, text paragraphs), with blank and bad lines in between so that record
numbers are line numbers, not document counts; and one token is traced by
hand through ingot-dump (tokens -> document -> file:line)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T

spm = T.import_sentencepiece()

t = T.Tools(sys.argv)
model = T.small_unigram(t)
sp = spm.SentencePieceProcessor(model_file=model)
docs = T.documents(30, 400)

# x.jsonl: every 7th line malformed, every 11th blank.
lines = []
for i, d in enumerate(docs[:150]):
    if i % 7 == 3:
        lines.append('{"text": broken')
    if i % 11 == 5:
        lines.append("")
    lines.append(json.dumps({"text": d, "n": i}))
with open(t.path("x.jsonl"), "w") as f:
    f.write("\n".join(lines) + "\n")
T.write_jsonl(t.path("y.jsonl"), docs[150:300], key="body", extra={"meta": {"body": "no"}})
T.zstd(t.path("y.jsonl"), keep=True)
with open(t.path("z.txt"), "w") as f:
    f.write("\n\n\n".join(p.replace(". ", ".\n") for p in docs[300:]) + "\n")

out = t.path("out")
# y.jsonl.zst keeps its text in "body" (a "meta.body" decoy next to it): a
# dataset of its own, since --text-key applies to every input.
# Its bad records (about 8%) are on purpose: --max-skip-fraction accepts them.
t.run(["--model", model, "--out", out, "--threads", "2", "--shard-tokens", "3000",
       "--txt-doc", "paragraph", "--text-key", "text", "--max-skip-fraction", "0.1",
       t.path("x.jsonl"), t.path("z.txt")])
t.run(["--model", model, "--out", t.path("outy"), "--threads", "2", "--text-key", "body",
       t.path("y.jsonl.zst")])


def source_lines(name):
    if name.endswith(".zst"):
        data = subprocess.run(["zstd", "-dc", name], capture_output=True, check=True).stdout
    else:
        data = open(name, "rb").read()
    return data.decode().split("\n")


def source_text(name, rec, key):
    src = source_lines(name)
    if name.endswith(".txt"):      # a paragraph starting at line rec
        para = []
        for ln in src[rec - 1:]:
            if not ln.strip():
                break
            para.append(ln)
        return "\n".join(para)
    return json.loads(src[rec - 1])[key]


n = 0
for ds, key in ((out, "text"), (t.path("outy"), "body")):
    m, dd = T.dataset_docs(ds)
    for name, rec, toks in dd:
        want = sp.encode(source_text(name, rec, key))
        T.check(T.strip_special(toks, sp.bos_id(), -1) == want,
                "%s:%d does not encode to the document's tokens" % (name, rec))
        n += 1
T.check(n == 400, "%d documents traced, expected 400" % n)
recs = [rec for name, rec, _ in T.dataset_docs(out)[1] if name.endswith("x.jsonl")]
T.check(recs[-1] == len(lines), "record numbers are not line numbers: last %d" % recs[-1])
print("%d documents traced back to file:line" % n)

# One token by hand, through the dump tool only.
pos = 5000
tok = subprocess.run([t.dump, "tokens", out, "--range", "%d:%d" % (pos, pos + 1)],
                     capture_output=True, check=True).stdout.decode().splitlines()
row = [r for r in tok if r and not r.startswith("#")][0].split()
tid, doc = int(row[1]), int(row[-2])
hdr = subprocess.run([t.dump, "docs", out, "--first", str(doc), "--count", "1"],
                     capture_output=True, check=True).stdout.decode().splitlines()[0]
mm = re.search(r"(\S+) record (\d+)", hdr)
T.check(mm, "cannot parse: %s" % hdr)
name, rec = mm.group(1), int(mm.group(2))
ids = sp.encode(source_text(name, rec, "text"))
T.check(tid in ids or tid == sp.bos_id(), "token %d at %d is not in %s:%d" % (tid, pos, name, rec))
print("token %d at position %d comes from %s:%d" % (tid, pos, os.path.basename(name), rec))

t.cleanup()
print("ok")
