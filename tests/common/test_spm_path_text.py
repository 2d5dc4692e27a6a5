#!/usr/bin/python3
"""A SentencePiece model whose path holds an escape sequence (ESC ] 0 ; ... BEL, which
retitles the terminal's window) and a right-to-left override (U+202E) is named in every
message through term_text(): '?' in their place. ingot_spm_load (libsentencepiece's
refusal, an empty file, a model cut short), Ingot's encoder's note, ingot-pretok's --bos,
resume and import-bin messages printed the path raw, and so did ingot-dump and
ingot-train (generate, export), which load a --model/--tokenizer through the same code.
A piece of the model named in the encoder's note (an ESC as a control piece) was raw
too, and so was one quoted by libsentencepiece's own refusal (a piece defined twice).

    test_spm_path_text.py INGOT_PRETOK INGOT_DUMP INGOT_TRAIN MODELS_DIR
(MODELS_DIR: tests/fuzz/corpus/spm_model, small models of each kind)"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_spm_proto import enc_varint, fields, with_piece  # noqa: E402
from pyt_util import Tally, run_shown  # noqa: E402

PRETOK, DUMP, TRAIN, MODELS = sys.argv[1:5]
HOSTILE = "m\x1b]0;pwned\x07\u202eledom.model"
SHOWN = "m?]0;pwned??ledom.model".encode()
tally = Tally()


def without_bos(model):
    """model with TrainerSpec.bos_piece (field 46) a string no piece has: libsentencepiece
    finds the BOS by that name, so the model has none."""
    out = b""
    for num, wt, whole, payload in fields(model):
        if num == 2:
            spec = b"".join(w for n, _, w, _ in fields(payload) if n != 46)
            spec += enc_varint(46 << 3 | 2) + enc_varint(len(b"<nobos>")) + b"<nobos>"
            whole = enc_varint(2 << 3 | 2) + enc_varint(len(spec)) + spec
        out += whole
    return out


def run(prog, args, want_rc, what, says):
    """Run prog; its exit status must be want_rc ('nonzero': any failure) and its
    stderr must say says (the message meant) naming the model as SHOWN, with none of
    the raw bytes."""
    return run_shown(tally, [prog] + args, want_rc, what, (says, SHOWN), timeout=60).stderr


with tempfile.TemporaryDirectory(prefix="ingot-spm-path-") as tmp:
    def path(*names):
        return os.path.join(tmp, *names)

    good = open(os.path.join(MODELS, "unigram.model"), "rb").read()
    top = fields(good)
    trainer_at = sum(len(w) for n, _, w, _ in top[:[n for n, _, _, _ in top].index(2)])
    corpus = path("c.jsonl")
    with open(corpus, "w") as f:
        for k in range(50):
            f.write(json.dumps({"text": "the quick brown fox %d jumps over the lazy dog" % k})
                    + "\n")
    hostile = path(HOSTILE)

    def model(b):
        with open(hostile, "wb") as f:
            f.write(b)

    # damaged models: libsentencepiece refuses it, empty, cut before the specs
    # (Ingot's own check), given to ingot-pretok
    damaged = [("not a model", open(os.path.join(MODELS, "not-proto.model"), "rb").read(),
                "not a SentencePiece model: "),
               ("empty", b"", "empty file"),
               ("cut before its trainer spec", good[:trainer_at], "incomplete SentencePiece")]
    for k, (what, b, says) in enumerate(damaged):
        model(b)
        run(PRETOK, ["--model", hostile, "--out", path("o%d" % k), "--quiet", corpus], 1,
            "ingot-pretok, a model %s" % what, SHOWN.decode() + ": " + says)
    # libsentencepiece's own refusal quotes a piece of the file: its words went raw
    # (a NORMAL piece twice: "... is already defined.")
    dup = b"p\x1b]0;pwned\x07\xe2\x80\xae"
    model(with_piece(with_piece(good, dup)[0], dup)[0])
    run(PRETOK, ["--model", hostile, "--out", path("o-dup"), "--quiet", corpus], 1,
        "ingot-pretok, a model with a piece twice", "p?]0;pwned?? is already defined")
    model(damaged[0][1])
    refused = SHOWN.decode() + ": not a SentencePiece model"
    tok = path("x.bin")
    with open(tok, "wb") as f:
        f.write(struct.pack("<6H", 1, 5, 6, 7, 8, 9))   # starts with the BOS (1)
    run(PRETOK, ["import-bin", "--format", "nanogpt", "--tokenizer", hostile, "--out",
                 path("ib0"), tok], 1, "ingot-pretok import-bin, a damaged --tokenizer",
        refused)

    # ingot-dump --model and ingot-train --tokenizer: the same loader
    plain = path("plain.model")
    with open(plain, "wb") as f:
        f.write(good)
    ds = path("ds")
    p = subprocess.run([PRETOK, "--model", plain, "--out", ds, "--quiet", corpus],
                       capture_output=True)
    tally.check(p.returncode == 0, "the dataset: %r" % p.stderr)
    run(DUMP, ["docs", ds, "--model", hostile], "nonzero", "ingot-dump docs DIR --model",
        refused)
    run(DUMP, ["docs", os.path.join(ds, "train-000000.tok"), "--model", hostile], "nonzero",
        "ingot-dump docs SHARD --model", refused)
    def checkpoint(name, vocab):
        """a one-step tiny synthetic checkpoint of vocabulary vocab"""
        p = subprocess.run([TRAIN, "--synthetic", "--vocab", str(vocab), "--model", "tiny",
                            "--layers", "1", "--dim", "32", "--heads", "2", "--seq-len", "16",
                            "--batch", "2", "--steps", "1", "--threads", "1", "--val-every",
                            "0", "--quiet", "--ckpt-dir", path(name)], capture_output=True)
        tally.check(p.returncode == 0, "the checkpoint %s: %r" % (name, p.stderr))
        return path(name)

    ck = checkpoint("ck", 128)
    run(TRAIN, ["generate", ck, "--tokenizer", hostile, "--prompt", "the", "--tokens", "2",
                "--threads", "1"], "nonzero", "ingot-train generate --tokenizer",
        refused)
    run(TRAIN, ["export", ck, "--format", "hf", "--tokenizer", hostile, "--out", path("hf")],
        "nonzero", "ingot-train export --tokenizer", refused)
    print("damaged models: ingot-pretok (3 kinds), import-bin, ingot-dump (dataset, shard), "
          "ingot-train (generate, export) name them with '?'")

    # a --model that is not there (dataset_load_tokenizer), and export's refusal of a
    # tokenizer with more pieces (95) than a checkpoint's vocabulary of 64
    os.unlink(hostile)
    run(DUMP, ["docs", ds, "--model", hostile], "nonzero", "ingot-dump docs, no such --model",
        SHOWN.decode() + ": tokenizer model not found")
    model(good)
    ck64 = checkpoint("ck64", 64)
    run(TRAIN, ["export", ck64, "--format", "hf", "--tokenizer", hostile, "--out", path("hf")],
        "nonzero", "ingot-train export, a larger --tokenizer", "more than the model's vocabulary")

    # models that load, under the same name: the encoder's note on a WORD model,
    # --bos on a model without one, import-bin's notes, a rerun with another model
    model(open(os.path.join(MODELS, "word.model"), "rb").read())
    run(PRETOK, ["--model", hostile, "--out", path("w"), "--quiet", corpus], 0,
        "ingot-pretok, the encoder's note on a WORD model", "ledom.model: a WORD model")
    # the piece's bytes come from the file too: an ESC in one was printed raw (a
    # CONTROL piece of one character: libsentencepiece takes it, Ingot's encoder does
    # not and names it in pretok's note)
    model(with_piece(good, b"\x1b", 3)[0])
    run(PRETOK, ["--model", hostile, "--out", path("cp"), "--quiet", corpus], 0,
        "ingot-pretok, the encoder's note on a control piece ESC",
        "ledom.model: reserved piece 95 (?) is a single character")
    model(without_bos(good))
    run(PRETOK, ["--model", hostile, "--bos", "--out", path("nb"), "--quiet", corpus], 2,
        "ingot-pretok --bos, a model without BOS", "has no BOS piece")
    model(good)
    run(PRETOK, ["import-bin", "--format", "nanogpt", "--tokenizer", hostile, "--out",
                 path("ib1"), tok], 0, "ingot-pretok import-bin, the note on the BOS",
        "the BOS of ")
    run(PRETOK, ["import-bin", "--format", "nanogpt", "--tokenizer", hostile, "--vocab", "7",
                 "--out", path("ib2"), tok], "nonzero", "ingot-pretok import-bin --vocab",
        "has 95 pieces")
    p = subprocess.run([PRETOK, "--model", hostile, "--out", path("re"), "--quiet", corpus],
                       capture_output=True)
    tally.check(p.returncode == 0, "the first run: %r" % p.stderr)
    model(open(os.path.join(MODELS, "bpe.model"), "rb").read())
    run(PRETOK, ["--model", hostile, "--out", path("re"), "--quiet", corpus], 1,
        "ingot-pretok, a rerun with another model", "other settings: the model: ")
    print("models that load: the encoder's notes, --bos, import-bin's notes and a rerun's "
          "message name them with '?', and a piece's ESC too")
    shutil.rmtree(tmp, ignore_errors=True)
tally.end()
