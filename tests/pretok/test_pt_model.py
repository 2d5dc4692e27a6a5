#!/usr/bin/python3
"""Issue 9, defect 8: the SentencePiece model is checked before use. A
.model cut short (at a piece boundary, where protobuf alone would read a
smaller model; inside a piece; before its trainer or normalizer spec),
garbage, an empty file, a directory, a FIFO (must not block) and a file of
absurd size are refused naming the file, and leave no output. After a
conversion, a share of unknown tokens above 1% is warned about."""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pt_testlib as T
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_spm_proto import varint  # noqa: E402

t = T.Tools(sys.argv)
model = T.small_unigram(t)
inp, _ = T.small_corpus(t, "in", n_files=1, per_file=200)
data = open(model, "rb").read()


# Top-level fields of the ModelProto: (field number, start, end).
fields, i = [], 0
while i < len(data):
    start = i
    key, i = varint(data, i)
    assert key & 7 == 2, "unexpected wire type in the model"
    n, i = varint(data, i)
    i += n
    fields.append((key >> 3, start, i))
pieces = [f for f in fields if f[0] == 1]
trainer = [f for f in fields if f[0] == 2][0]
T.check(len(pieces) > 100 and trainer[1] == pieces[-1][2], "model layout: %d pieces" % len(pieces))

cuts = {
    "half the pieces (a piece boundary)": data[:pieces[len(pieces) // 2][1]],
    "all pieces, no specs (a piece boundary)": data[:trainer[1]],
    "inside a piece": data[:pieces[10][1] + 3],
    "inside the trainer spec": data[:trainer[1] + (trainer[2] - trainer[1]) // 2],
    "half the file": data[:len(data) // 2],
    "garbage": bytes(random.Random(5).randrange(256) for _ in range(3000)),
    "empty": b"",
}
for what, b in cuts.items():
    path = t.path("bad.model")
    with open(path, "wb") as f:
        f.write(b)
    out = t.path("out-" + what.split()[0])
    rc, _, err = T.run_bounded(t, ["--model", path, "--out", out, "--quiet", inp], 30)
    T.check(rc == 1, "model cut at %s (%d of %d bytes): exit %s, expected 1: %s" %
            (what, len(b), len(data), rc, err))
    T.check(path in err, "%s: the message does not name the model: %s" % (what, err))
    T.check(not os.path.exists(os.path.join(out, "manifest.json")), "%s: output written" % what)
print("truncated, garbage and empty models: refused (%d cases)" % len(cuts))

# Not a regular file, or absurdly large: refused before anything is read.
os.mkfifo(t.path("fifo.model"))
os.mkdir(t.path("dir.model"))
with open(t.path("huge.model"), "wb") as f:
    f.truncate(3 << 30)         # sparse: 3 GiB of nothing
for name in ("fifo.model", "dir.model", "huge.model"):
    rc, _, err = T.run_bounded(t, ["--model", t.path(name), "--out", t.path("o" + name),
                                   "--quiet", inp], 30)
    T.check(rc is not None, "%s: still running after 30 s (it blocks)" % name)
    T.check(rc == 1 and t.path(name) in err, "%s: exit %s: %s" % (name, rc, err))
print("FIFO, directory, 3 GiB file as the model: refused at once")

# The unknown-token share: text in a script the model never saw.
_, err = t.run(["--model", model, "--out", t.path("ok"), inp], what="normal corpus")
T.check("unknown" not in err, "a warning on a corpus the model covers: %s" % err)
os.mkdir(t.path("geo"))
T.write_jsonl(t.path("geo", "g.jsonl"),
              ["ქართული ენა და დამწერლობა %d" % k for k in range(200)] + T.documents(3, 100))
_, err = t.run(["--model", model, "--out", t.path("geo-out"), t.path("geo")],
               what="unknown script")
T.check("warning" in err and "unknown" in err and "%" in err,
        "no warning about the unknown-token share: %s" % err)
print("unknown-token share above 1%: warned")

t.cleanup()
print("ok")
