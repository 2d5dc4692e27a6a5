#!/usr/bin/python3
"""Damaged .model files that libsentencepiece loads without complaint and
then misreads or crashes on, built from trained models by editing their
protobuf (session 26's hostile-input sweep and a later audit found each):
  - a piece whose type field repeats, a known value then one the enum
    lacks: proto2 keeps the known one, so Ingot's encoder must give
    libsentencepiece's ids (it used to read the piece as NORMAL);
  - the precompiled charsmap's double array damaged (every unit 0xff; the
    trie size one unit short, so the pool starts inside it; the trie size
    taking the whole blob, leaving no pool), or holding 33 keys Q, QQ, ...
    on one path, or a key that loops back on itself (libsentencepiece keeps
    32 matches on its stack): refused by ingot-pretok with either encoder
    and by ingot-dump docs --model, exit 1 naming the charsmap, nothing left
    in --out (libsentencepiece read past its buffers: ASan reports, a
    segfault, or a dataset from stray bytes); 32 keys are taken, same ids;
  - the same damage in the denormalizer's charsmap (ModelProto field 5,
    which libsentencepiece runs when decoding: ingot-dump docs crashed);
  - 65 user-defined symbols that are prefixes of one another, made by hand
    or by spm_train (--user_defined_symbols='=,==,...'): PrefixMatcher keeps
    64 matches on its stack; refused, naming the symbol; 64 are taken;
  - a piece of 20 000 bytes (libsentencepiece's trie builder recursed a
    level per byte: 200 KB overflowed its stack): refused, naming the piece;
  - a charsmap replacement or a user-defined symbol that is not UTF-8:
    libsentencepiece's characters run on past it, Ingot's encoder gave
    other ids; it now hands such a model to the library, with the note;
  - well-formed protobuf groups (an unknown field to libprotobuf, which
    skips them): the same dataset as without them; a group left open or
    closed by another field's end tag: refused;
  - a model whose eos_piece is its bos_piece, with --bos and --eos: refused
    (one id would both open and close documents).
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
    v &= (1 << 64) - 1
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
    # what the chains below match: Q, QQ, ... ; ʘ, ʘʘ, ... ; =, ==, ...
    f.write("the Q of QQ x\n%s and %s\n%s\n" % ("Q" * 120, "\u0298" * 120, "=" * 120))


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


def trie_short(cm):
    return struct.pack("<I", len(cm) - 8) + cm[4:]


def chain_charsmap(k, pool=b"X\x00", loop=False):
    """A darts-clone array of the keys Q, QQ, ... (k of them), each replaced
    by the pool's first string; loop: one key Q whose node leads back to the
    root's, so that Q, QQ, QQQ, ... all match."""
    leaf, q = 0x80000000, ord("Q")
    u = [leaf] * (256 * (k + 2))

    def block(d):
        return 256 * (d + 1)
    u[0] = block(0) << 10
    for d in range(k):
        idx = block(d) ^ q
        nxt = block(0) if loop else block(d + 1)
        u[idx] = ((idx ^ nxt) << 10) | (1 << 8) | q
        u[nxt] = leaf   # the leaf's value: offset 0 in the pool
    blob = b"".join(struct.pack("<I", x) for x in u)
    return struct.pack("<I", len(blob)) + blob + pool


def with_denormalizer(model, cm):
    spec = encode([(1, 2, b"identity"), (2, 2, cm), (3, 0, 0), (4, 0, 0), (5, 0, 0)])
    return model + encode([(5, 2, spec)])


def with_pieces(model, strings, ptype=4):
    """The model with pieces of the given strings (user-defined by default)
    after its last one."""
    fields = decode(model)
    last = max(i for i, f in enumerate(fields) if f[0] == 1)
    extra = [(1, 2, encode([(1, 2, s), (2, 5, struct.pack("<f", 0.0)), (3, 0, ptype)]))
             for s in strings]
    return encode(fields[:last + 1] + extra + fields[last + 1:])


def edit_trainer(model, fn):
    return encode([(2, 2, encode(fn(decode(v)))) if n == 2 else (n, w, v)
                   for n, w, v in decode(model)])


def ud_chain(k):
    return ["\u0298".encode() * i for i in range(1, k + 1)]


bpe_base = open(t.train(T.documents(2, 1200), "bpe", ["--model_type=bpe", "--vocab_size=400"]),
                "rb").read()
ud70 = open(t.train(T.documents(2, 1200), "ud70",
                    ["--model_type=unigram", "--vocab_size=400",
                     "--user_defined_symbols=" + ",".join("=" * i for i in range(1, 71))]),
            "rb").read()
cm = [v for n, _, v in decode([v for n, _, v in decode(base) if n == 3][0]) if n == 2][0]

# A group: field 77 holding a varint, as libprotobuf skips it.
group = enc_varint(77 << 3 | 3) + enc_varint(1 << 3) + b"\x05" + enc_varint(77 << 3 | 4)
first_piece = [f for f in decode(base) if f[0] == 1][0]

damaged = {
    "units-ff": (edit_charsmap(base, units_ff), "charsmap"),
    "trie-short": (edit_charsmap(base, trie_short), "charsmap"),
    "no-pool": (edit_charsmap(base, lambda cm: struct.pack("<I", len(cm) - 4) + cm[4:]),
                "charsmap"),
    "long-piece": (edit_piece(base, len(pieces) - 1,
                              lambda fs: [(1, 2, b"x" * 20000)] + [x for x in fs if x[0] != 1]),
                   "20000 bytes long"),
    "cm-chain33": (edit_charsmap(base, lambda _: chain_charsmap(33)), "more than 32 of its keys"),
    "cm-chain33-bpe": (edit_charsmap(bpe_base, lambda _: chain_charsmap(33)),
                       "more than 32 of its keys"),
    "cm-loop": (edit_charsmap(base, lambda _: chain_charsmap(1, loop=True)),
                "more than 32 of its keys"),
    "denorm-units-ff": (with_denormalizer(base, units_ff(cm)), "denormalizer's precompiled"),
    "denorm-trie-short": (with_denormalizer(base, trie_short(cm)), "denormalizer's precompiled"),
    "denorm-chain33": (with_denormalizer(base, chain_charsmap(33)), "denormalizer's precompiled"),
    "ud-chain65": (with_pieces(base, ud_chain(65)), "begins with 65 user-defined symbols"),
    "ud-chain200-bpe": (with_pieces(bpe_base, ud_chain(200)),
                       "begins with 65 user-defined symbols"),
    "ud70-trained": (ud70, "(" + "=" * 48 + "...) begins with 65 user-defined symbols"),
    "group-open": (base + enc_varint(77 << 3 | 3) + b"\x08\x05", "a group without its end tag"),
    "group-mismatch": (base + enc_varint(77 << 3 | 3) + enc_varint(78 << 3 | 4),
                       "closed by another field's end tag"),
    "group-end-only": (base + enc_varint(77 << 3 | 4), "end tag outside a group"),
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

# Taken, with libsentencepiece's ids: the bounds themselves, and groups.
# "fallback": Ingot's encoder hands the model to libsentencepiece, and says so.
taken = {
    "cm-chain32": (edit_charsmap(base, lambda _: chain_charsmap(32)), False),
    "cm-chain32-bpe": (edit_charsmap(bpe_base, lambda _: chain_charsmap(32)), False),
    "ud-chain64": (with_pieces(base, ud_chain(64)), False),
    "ud-chain64-bpe": (with_pieces(bpe_base, ud_chain(64)), False),
    "group-top": (encode(decode(base)[:5]) + group + encode(decode(base)[5:]), False),
    "group-in-piece": (encode([(1, 2, first_piece[2] + group)] + decode(base)[1:]), False),
    "cm-rep-e2": (edit_charsmap(base, lambda _: chain_charsmap(1, pool=b"\xe2\x00")), True),
    "cm-rep-ff-bpe": (edit_charsmap(bpe_base, lambda _: chain_charsmap(1, pool=b"\xff\x00")),
                      True),
    "ud-e2": (with_pieces(base, [b"\xe2", b"\xe2\x96"]), True),
    "ud-ff-bpe": (with_pieces(bpe_base, [b"\xff\xfe"]), True),
}
for name, (data, fallback) in taken.items():
    path = write(name, data)
    _, err = t.run(["--model", path, "--out", t.path(name + "-ingot"), "--quiet", text],
                   what=name + " ingot")
    _, err_spm = t.run(["--model", path, "--out", t.path(name + "-spm"), "--quiet", text,
                        "--encoder", "spm"], what=name + " spm")
    T.same_dataset(t.path(name + "-spm"), t.path(name + "-ingot"), name)
    note = "not UTF-8, which this encoder does not handle; encoding with libsentencepiece"
    T.check((note in err) == fallback, "%s: the fallback note %s: %s" %
            (name, "missing" if fallback else "unexpected", err))
    p = subprocess.run([t.dump, "docs", t.path(name + "-ingot"), "--model", path],
                       capture_output=True)
    T.check(p.returncode == 0, "ingot-dump docs --model %s: exit %d: %s" %
            (name, p.returncode, p.stderr.decode("utf-8", "replace")))
    print("%s: taken, Ingot's ids = libsentencepiece's%s" %
          (name, " (through the fallback)" if fallback else ""))
t.run(["--model", model, "--out", t.path("base"), "--quiet", text], what="base")
for name in ("group-top", "group-in-piece"):   # the ids (the model's hash differs)
    T.check(t.dump_ids(t.path(name + "-ingot")) == t.dump_ids(t.path("base")),
            "%s: other ids than the model without the group" % name)

# eos_piece = bos_piece: one id for both.
same = write("bos-eos-same", edit_trainer(base, lambda fs: [f for f in fs if f[0] != 47] +
                                          [(47, 2, b"<s>")]))
for opts in (["--bos", "--eos"], ["--eos"]):
    _, err = t.run(["--model", same, "--out", t.path("same"), "--quiet", text] + opts, rc=2,
                   what="bos = eos %s" % opts)
    T.check("the same id" in err and "bos-eos-same.model" in err and "--no-eos" in err,
            "bos = eos %s: %s" % (opts, err))
    T.check(not os.path.exists(t.path("same")), "bos = eos %s: left --out behind" % opts)
t.run(["--model", same, "--out", t.path("same"), "--quiet", text], what="bos = eos, BOS only")
print("eos_piece = bos_piece: --bos --eos and --eos refused: %s" % err.strip()[:110])
t.cleanup()
print("ok")
