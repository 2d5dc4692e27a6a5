#!/usr/bin/python3
"""Damaged .model files that libsentencepiece loads without complaint and
then misreads or crashes on, built from a trained model by editing its
protobuf (session 26's hostile-input sweep found each):
  - a piece whose type field repeats, a known value then one the enum
    lacks: proto2 keeps the known one, so Ingot's encoder must give
    libsentencepiece's ids (it used to read the piece as NORMAL);
  - the precompiled charsmap's double array damaged (every unit 0xff; the
    trie size one unit short, so the pool starts inside it; the trie size
    taking the whole blob, leaving no pool): refused by ingot-pretok with
    either encoder and by ingot-dump docs --model, exit 1 naming the
    charsmap, nothing left in --out (libsentencepiece read past its buffers:
    ASan reports, a segfault, or a dataset from stray bytes);
  - a piece of 20 000 bytes (libsentencepiece's trie builder recursed a
    level per byte: 200 KB overflowed its stack): refused, naming the piece.
    test_spe_hostile_models.py PRETOK DUMP SPM_TRAIN"""
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pretok"))
import pt_testlib as T  # noqa: E402


def varint(b, i):
    v, s = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def enc_varint(v):
    out = bytearray()
    while True:
        c = v & 0x7F
        v >>= 7
        out.append(c | (0x80 if v else 0))
        if not v:
            return bytes(out)


def decode(b):
    """[(field, wire type, value)]: value an int or bytes."""
    out, i = [], 0
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 2:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        else:
            T.fail("unexpected wire type %d in the trained model" % wt)
        out.append((num, wt, v))
    return out


def encode(fields):
    out = bytearray()
    for num, wt, v in fields:
        out += enc_varint(num << 3 | wt)
        if wt == 0:
            out += enc_varint(v)
        elif wt == 2:
            out += enc_varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def edit_piece(model, index, fn):
    """The model with piece number index's fields replaced by fn(fields)."""
    fields, k, out = decode(model), 0, []
    for f in fields:
        if f[0] == 1:
            if k == index:
                f = (1, 2, encode(fn(decode(f[2]))))
            k += 1
        out.append(f)
    return encode(out)


def edit_charsmap(model, fn):
    """The model with NormalizerSpec.precompiled_charsmap replaced by fn(it)."""
    out = []
    for f in decode(model):
        if f[0] == 3:
            spec = [(n, w, fn(v)) if n == 2 else (n, w, v) for n, w, v in decode(f[2])]
            f = (3, 2, encode(spec))
        out.append(f)
    return encode(out)


t = T.Tools(sys.argv)
model = T.small_unigram(t)
base = open(model, "rb").read()
text = t.path("in.txt")
with open(text, "w") as f:
    f.write("\n".join(T.documents(5, 40)) + "\n")


def write(name, data):
    p = t.path(name + ".model")
    with open(p, "wb") as f:
        f.write(data)
    return p


# 1. type CONTROL (3) then 99 on a piece the text uses: proto2 keeps CONTROL.
pieces = [decode(f[2]) for f in decode(base) if f[0] == 1]
words = {}
for w in open(text).read().split():
    words[w] = words.get(w, 0) + 1
strings = [next((v for n, _, v in p if n == 1), b"") for p in pieces]
word = max((i for i, s in enumerate(strings)
            if s.startswith("▁".encode()) and s[3:].decode("utf-8", "replace") in words),
           key=lambda i: words[strings[i][3:].decode("utf-8", "replace")])
ptype = write("ptype", edit_piece(base, word, lambda fs: [x for x in fs if x[0] != 3] +
                                  [(3, 0, 3), (3, 0, 99)]))
t.run(["--model", ptype, "--out", t.path("ptype-ingot"), "--quiet", text], what="ptype ingot")
t.run(["--model", ptype, "--out", t.path("ptype-spm"), "--encoder", "spm", "--quiet", text],
      what="ptype spm")
T.same_dataset(t.path("ptype-spm"), t.path("ptype-ingot"), "a repeated piece type")
print("piece %s's type given twice, CONTROL then 99: Ingot's ids = libsentencepiece's" %
      strings[word].decode())


def units_ff(cm):
    ts = struct.unpack("<I", cm[:4])[0]
    return cm[:4] + b"\xff" * ts + cm[4 + ts:]


damaged = {
    "units-ff": (edit_charsmap(base, units_ff), "charsmap"),
    "trie-short": (edit_charsmap(base, lambda cm: struct.pack("<I", len(cm) - 8) + cm[4:]),
                   "charsmap"),
    "no-pool": (edit_charsmap(base, lambda cm: struct.pack("<I", len(cm) - 4) + cm[4:]),
                "charsmap"),
    "long-piece": (edit_piece(base, len(pieces) - 1,
                              lambda fs: [(1, 2, b"x" * 20000)] + [x for x in fs if x[0] != 1]),
                   "20000 bytes long"),
}
for name, (data, says) in damaged.items():
    path = write(name, data)
    for enc in ([], ["--encoder", "spm"]):
        out = t.path("%s-%d" % (name, len(enc)))
        _, err = t.run(["--model", path, "--out", out, "--quiet", text] + enc, rc=1,
                       what="%s %s" % (name, enc))
        T.check(says in err and name + ".model" in err,
                "%s %s: the message does not name the model and %r: %s" % (name, enc, says, err))
        T.check(not os.path.exists(out) or not os.listdir(out),
                "%s %s: left %s behind" % (name, enc, os.listdir(out) if os.path.exists(out)
                                           else []))
    p = subprocess.run([t.dump, "docs", t.path("ptype-spm"), "--model", path],
                       capture_output=True)
    err = p.stderr.decode("utf-8", "replace")
    T.check(p.returncode == 1 and says in err,
            "ingot-dump docs --model %s: exit %d: %s" % (name, p.returncode, err))
    print("%s: refused (pretok, both encoders; dump --model): %s" % (name, err.strip()[:110]))
t.cleanup()
print("ok")
