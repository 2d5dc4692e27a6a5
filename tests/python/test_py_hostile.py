#!/usr/bin/python3
"""The Python reader on hostile datasets and settings, each the way ingot-dump verify or
ingot-train refuses it (a review of session 33 found every one of these accepted,
crashing or misreported):
- ids past the vocabulary (one flipped bit, checksums unread without verify) refused
  by get_batch and TrainWindows, naming the shard and the token, as ingot-train does;
- a shard truncated after the dataset was opened: a FormatError, not SIGBUS, from
  get_batch, document(), provenance() and verify() (each in a child process);
- verify=True: provenance naming an input the manifest does not list, inputs that do
  not add up to the shards, and the header fields C checks at open (flags, reserved
  bytes, index padding, vocab_size for the width, special ids, tokenizer_type), each
  resealed so only that check can catch it;
- a flipped version bit is "the header is corrupt", not "upgrade", a header_size is
  named as such;
- manifests: a key twice, 2032.0 or true for an integer, a string for
  damaged_inputs_accepted, a number for tokenizer.source (opened as a file
  descriptor), a missing inputs list, upper-case checksums (accepted, as C does),
  a manifest larger than any (refused before it is read), a symlink loop;
- an escape sequence in a damage note reaches the warning as '?';
- manifest totals of 8680.0 (a float, accepted as 8680);
- paths with an escape sequence in a checkpoint's and a manifest's messages: '?';
- TrainWindows with numpy integers (an OverflowError in the order's hashing) and past
  ingot-train's 16 Mi tokens per micro-step; seeds that are no integer (a late bare
  TypeError) or out of 0..2^63-1 (2^64 gave seed 0's order); negative steps and run
  positions (epoch -1's order); from_checkpoint with settings of the wrong type or
  value (ZeroDivisionError, KeyError, TypeError, ...), and of a checkpoint whose
  vocabulary or tokenizer is not the dataset's, or synthetic by its flags (windows
  were returned that ingot-train --resume refuses).
    test_py_hostile.py INGOT_PRETOK INGOT_DUMP INGOT_TRAIN SPM_TRAIN"""
import json
import os
import shutil
import struct
import sys
import warnings

from pyt_util import HOSTILE, HOSTILE_SHOWN, Fixture, bounded, check, fail, in_child, reseal

# common/shard_format.h: the header's fields (offsets) this test edits
from pyt_util import WIDTH_AT, TOKENS_SUM_AT  # noqa: E402
VOCAB_AT, BOS_AT, TOKTYPE_AT, FLAGS_AT = 24, 28, 48, 52
RESERVED_AT = 144


def refused(what, fn, *want, exc=None):
    """fn() must raise exc (default ingot.FormatError) with every text in want."""
    import ingot
    exc = exc or ingot.FormatError
    try:
        fn()
    except exc as e:
        check(all(w in str(e) for w in want), "%s: %s" % (what, e))
        return
    except Exception as e:   # noqa: BLE001 - the point is which exception
        fail("%s: %s: %s, expected %s naming %s" % (what, type(e).__name__, e, exc.__name__,
                                                     want))
    fail("%s: accepted" % what)


def copy(fx, d, tag):
    e = fx.path(tag)
    shutil.copytree(d, e)
    return e


def edit_manifest(e, fn, text=None):
    p = os.path.join(e, "manifest.json")
    if text is None:
        m = json.load(open(p))
        fn(m)
        text = json.dumps(m)
    open(p, "w").write(text)


def first_train(e):
    m = json.load(open(os.path.join(e, "manifest.json")))
    return os.path.join(e, next(s["file"] for s in m["shards"] if s["split"] == "train"))


def sync_manifest(e, path):
    """The manifest's copy of a resealed shard's checksums."""
    raw = open(path, "rb").read(4096)
    sums = struct.unpack_from("<QQQ", raw, TOKENS_SUM_AT)
    hdr = struct.unpack_from("<Q", raw, 4096 - 8)[0]

    def fn(m):
        for s in m["shards"]:
            if s["file"] == os.path.basename(path):
                s["checksums"] = {"tokens": "%016x" % sums[0], "index": "%016x" % sums[1],
                                  "provenance": "%016x" % sums[2], "header": "%016x" % hdr}
    edit_manifest(os.path.dirname(path), fn)


def check_ids_and_truncation(fx, d):
    import numpy as np
    import ingot
    e = copy(fx, d, "big-id")
    path = first_train(e)
    with open(path, "r+b") as f:   # token 1000 of the first train shard: 0x8000 + its id
        f.seek(4096 + 2 * 1000 + 1)
        b = f.read(1)
        f.seek(4096 + 2 * 1000 + 1)
        f.write(bytes([b[0] | 0x80]))
    ds = ingot.open_dataset(e)   # checksums are read only with verify
    refused("get_batch over an id past the vocabulary",
            lambda: [ds.get_batch("train", 8, 64, rng=r) for r in range(200)],
            os.path.basename(path), "token 1000 is id",
            "beyond the vocabulary of %d" % ds.vocab_size)
    refused("TrainWindows over an id past the vocabulary",
            lambda: [b for b in ingot.TrainWindows(ds, 16, 4, sequential=True, steps=20)],
            os.path.basename(path), "token 1000 is id")
    e = copy(fx, d, "truncated-later")
    ds = ingot.open_dataset(e)
    path = first_train(e)
    os.truncate(path, 4096)
    refused("get_batch after a shard was truncated (was SIGBUS)",
            lambda: bounded(20, "get_batch", lambda: [ds.get_batch("train", 8, 32, rng=r)
                                                      for r in range(50)]),
            os.path.basename(path), "truncated or rewritten while open")
    # the other reads of a mapped shard, each on a fresh copy truncated once open, in
    # a child (it died of SIGBUS): train document 0 lives in the first train shard
    for what, call in (("document", lambda ds: ds.document(0)),
                       ("provenance", lambda ds: ds.provenance(0)),
                       ("verify", lambda ds: ds.verify())):
        if what == "verify" and not ingot.can_verify():
            continue
        e = copy(fx, d, "truncated-" + what)

        def case():
            ds = ingot.open_dataset(e)
            os.truncate(first_train(e), 4096)
            refused("%s after a shard was truncated (was SIGBUS)" % what, lambda: call(ds),
                    os.path.basename(first_train(e)), "truncated or rewritten while open")
        in_child(what + " of a shard truncated while open", case)
    ds = ingot.open_dataset(d)
    x, _ = ds.get_batch("train", 4, 32, rng=1)
    check(int(x.max()) < ds.vocab_size and x.dtype == np.int64, "a clean dataset still reads")


def check_verify_as_c(fx, d):
    import ingot
    if not ingot.can_verify():
        print("note: xxhash not importable: the resealed cases skipped")
        return
    # provenance naming input 7 of the manifest's few, resealed
    e = copy(fx, d, "prov-input")
    path = first_train(e)
    prov_off = struct.unpack_from("<Q", open(path, "rb").read(4096), 88)[0]
    with open(path, "r+b") as f:
        f.seek(prov_off)
        f.write(struct.pack("<I", 7))
    reseal(path)
    sync_manifest(e, path)
    ingot.open_dataset(e)   # opens: the tokens are intact
    refused("verify: provenance names an input not listed",
            lambda: ingot.open_dataset(e, verify=True), "document 0 names input 7",
            "lists 1 inputs")
    # the inputs' counts against the shards'
    e = copy(fx, d, "inputs-totals")
    edit_manifest(e, lambda m: m["inputs"][0].__setitem__("documents",
                                                          m["inputs"][0]["documents"] + 3))
    refused("verify: inputs that do not add up", lambda: ingot.open_dataset(e, verify=True),
            "key inputs: the inputs add up to")
    # header fields C checks at open, each resealed so that only that check is left
    for tag, at, value, want in (("flags", FLAGS_AT, struct.pack("<I", 1), "flags: 0x1"),
                                 ("tokenizer-type", TOKTYPE_AT, struct.pack("<I", 9),
                                  "tokenizer_type: 9 unknown"),
                                 ("reserved", RESERVED_AT + 100, b"\x01",
                                  "reserved: byte at header offset 244"),
                                 ("vocab-width", VOCAB_AT, struct.pack("<I", 100000),
                                  "vocab_size: 100000 does not fit token_width 2"),
                                 ("bos", BOS_AT, struct.pack("<i", 100000), "bos_id: 100000")):
        e = copy(fx, d, "hdr-" + tag)
        path = first_train(e)
        with open(path, "r+b") as f:
            f.seek(at)
            f.write(value)
        reseal(path, sections=False)
        refused("header %s (resealed)" % tag, lambda: ingot.Shard(path), want)
    # a flipped bit in version: corruption, not an upgrade; header_size named
    e = copy(fx, d, "hdr-version")
    path = first_train(e)
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", 3))
    refused("a flipped version bit", lambda: ingot.Shard(path),
            "header_checksum: does not match, and version reads 3", "the header is corrupt",
            exc=ingot.ChecksumError)
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<II", 1, 8192))
    refused("header_size 8192", lambda: ingot.Shard(path), "header_size: 8192")
    # non-zero padding between the tokens and the index (under no checksum)
    e = copy(fx, d, "padding")
    for name in sorted(os.listdir(e)):
        if not name.endswith(".tok"):
            continue
        path = os.path.join(e, name)
        raw = open(path, "rb").read(4096)
        n_tok, width = (struct.unpack_from("<Q", raw, 56)[0],
                        struct.unpack_from("<I", raw, WIDTH_AT)[0])
        idx = struct.unpack_from("<Q", raw, 80)[0]
        if idx > 4096 + n_tok * width:
            with open(path, "r+b") as f:
                f.seek(4096 + n_tok * width)
                f.write(b"\x01")
            refused("non-zero index padding", lambda: ingot.Shard(path),
                    "padding byte at offset %d" % (4096 + n_tok * width))
            break
    else:
        print("note: no shard with padding before its index")


def check_manifests(fx, d):
    import ingot
    m = json.load(open(os.path.join(d, "manifest.json")))
    text = json.dumps(m)
    cases = (
        ("duplicate key", None, text.replace('"format": "ingot-dataset"',
                                             '"format": "ingot-dataset", "format": "ingot-dataset"', 1),
         ("key 'format' given twice",)),
        ("float count", lambda m: m["shards"][0].__setitem__("tokens", float(m["shards"][0]["tokens"])),
         None, ("wrong type (expected an integer)",)),
        ("bool version", lambda m: m.__setitem__("format_version", True), None,
         ("format_version: True",)),
        ("float vocab", lambda m: m["tokenizer"].__setitem__("vocab_size", 150.0), None,
         ("tokenizer.vocab_size: 150.0",)),
        # 8680.0 == 8680 in Python: the totals compared equal and it opened
        ("float totals", lambda m: m["totals"]["train"].__setitem__(
            "tokens", float(m["totals"]["train"]["tokens"])), None,
         ("key totals.train.tokens: ", ".0 is not an integer")),
        ("damaged_inputs_accepted string", lambda m: m.__setitem__("damaged_inputs_accepted",
                                                                     "false"), None,
         ("damaged_inputs_accepted: 'false'; wrong type",)),
        ("tokenizer.source a number", lambda m: m["tokenizer"].__setitem__("source", 1), None,
         ("tokenizer.source: 1; wrong type (expected a string)",)),
        ("no inputs", lambda m: m.pop("inputs"), None, ("key inputs: missing or not a list",)),
        ("damage a number", lambda m: m["inputs"][0].__setitem__("damage", 5), None,
         ("inputs[0].damage: 5",)),
    )
    for what, fn, raw, want in cases:
        e = copy(fx, d, "m-" + what.replace(" ", "-"))
        edit_manifest(e, fn, raw)
        refused("manifest: " + what, lambda: ingot.open_dataset(e), "manifest.json"
                if what not in ("float count",) else "", *want)
    # upper-case checksums: accepted, as common/manifest.c's get_hex does
    e = copy(fx, d, "m-upper")

    def upper(m):
        for s in m["shards"]:
            s["checksums"] = {k: v.upper() for k, v in s["checksums"].items()}
    edit_manifest(e, upper)
    ingot.open_dataset(e)
    # a manifest larger than any: refused from its size, before it is read
    e = copy(fx, d, "m-huge")
    with open(os.path.join(e, "manifest.json"), "r+b") as f:
        f.truncate((256 << 20) + 1)
    refused("a 256 MiB manifest", lambda: bounded(20, "open", lambda: ingot.open_dataset(e)),
            "more than the 268435456 a manifest may have")
    # a symlink loop where the manifest belongs: FormatError, not a raw OSError
    e = copy(fx, d, "m-loop")
    os.unlink(os.path.join(e, "manifest.json"))
    os.symlink("manifest.json", os.path.join(e, "manifest.json"))
    refused("a manifest symlink loop", lambda: ingot.open_dataset(e), "manifest.json")
    # an escape sequence in a damage note: '?' in the warning
    e = copy(fx, d, "m-damage")
    edit_manifest(e, lambda m: m["inputs"][0].__setitem__("damage", "x:3: \x1b]0;pwned\x07"))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ingot.open_dataset(e)
    shown = " ".join(str(x.message) for x in w)
    check("x:3: ?]0;pwned?" in shown and "\x1b" not in shown, "damage note shown: %r" % shown)
    # a path with an escape sequence in a manifest's message, as term_text shows it
    e = copy(fx, d, "m-" + HOSTILE)
    edit_manifest(e, lambda m: m.__setitem__("format", "other"))
    refused("a manifest's path shown", lambda: ingot.open_dataset(e), HOSTILE_SHOWN,
            "format: 'other'")
    try:
        ingot.open_dataset(e)
    except ingot.FormatError as x:
        check(HOSTILE not in str(x) and "\x1b" not in str(x), "raw path: %r" % str(x))


def check_checkpoint_paths(fx):
    """Checkpoint._fail shows the path as term_text does (it printed it raw)."""
    import ingot
    path = fx.path(HOSTILE + ".bin")
    with open(path, "wb") as f:
        f.write(b"INGOTCKP")
    refused("a short checkpoint with an escape sequence in its path",
            lambda: ingot.open_checkpoint(path), HOSTILE_SHOWN + ".bin: header:")
    try:
        ingot.open_checkpoint(path)
    except ingot.FormatError as e:
        check("\x1b" not in str(e) and "\u202e" not in str(e), "raw path: %r" % str(e))


class FakeCheckpoint:
    """What TrainWindows.from_checkpoint reads of a Checkpoint; its tokenizer and
    vocabulary are ds's unless given."""

    def __init__(self, settings, ds, position=None, flags=0, tokenizer_hash=None, vocab=None):
        self.path = "ckpt-000010.bin"
        self.settings = {"settings": settings, "data_position": position}
        self.header = {"flags": flags, "tokenizer_hash": ds.tokenizer_hash
                       if tokenizer_hash is None else tokenizer_hash}
        self.config = {"vocab": ds.vocab_size if vocab is None else vocab}

    def data_position(self, n):
        return 0


def check_windows(fx, d):
    import numpy as np
    import ingot
    ds = ingot.open_dataset(d)
    want = [b.copy() for b in ingot.TrainWindows(ds, 16, 2, steps=3, start_window=5)]
    got = [b.copy() for b in ingot.TrainWindows(ds, np.int32(16), np.int64(2), steps=3,
                                                start_window=np.int64(5))]
    check(all(np.array_equal(a, b) for a, b in zip(want, got)) and len(got) == 3,
          "TrainWindows with numpy integers gives the same windows")
    refused("TrainWindows past 16 Mi tokens a micro-step",
            lambda: ingot.TrainWindows(ds, 16, 2 ** 40), "more than the 16777216 tokens",
            exc=ValueError)
    good = {"data": [d], "seq-len": 16, "batch": 2, "batch-tokens": 32, "seed": 1337}
    for key, val, want in (("seq-len", 0, "seq-len is 0"), ("data", [], "data is []"),
                           ("data", 5, "data is 5"), ("data", [5], "data is [5]"),
                           ("batch-tokens", None, "batch-tokens is None"),
                           ("seq-len", None, "seq-len is None"), ("seed", "x", "seed is 'x'"),
                           ("batch", True, "batch is True")):
        st = dict(good)
        if val is None:
            st.pop(key)
        else:
            st[key] = val
        refused("from_checkpoint: settings %s = %r" % (key, val),
                lambda: ingot.TrainWindows.from_checkpoint(FakeCheckpoint(st, ds)),
                "ckpt-000010.bin: settings: " + want)
    wins = ingot.TrainWindows.from_checkpoint(FakeCheckpoint(good, ds))
    check(wins.seq_len == 16 and wins.batch == 2, "from_checkpoint with good settings")
    # what ingot-train --resume refuses (train_loop.c, check_resume); windows came back.
    # test_py_order checks a real checkpoint of another tokenizer against ingot-train.
    other = ds.tokenizer_hash ^ 1
    for what, fake, want, exc in (
            ("another tokenizer", FakeCheckpoint(good, ds, tokenizer_hash=other),
             ("the checkpoint's tokenizer (hash %016x) differs from the dataset's (%016x in %s"
              % (other, ds.tokenizer_hash, os.path.join(d, "manifest.json")),),
             ingot.MismatchError),
            ("another vocabulary", FakeCheckpoint(good, ds, vocab=ds.vocab_size + 1),
             ("the checkpoint's vocabulary is %d, the dataset %s's %d"
              % (ds.vocab_size + 1, d, ds.vocab_size),), ingot.MismatchError),
            ("synthetic by its flags", FakeCheckpoint(good, ds, flags=1),
             ("ckpt-000010.bin: trained on --synthetic data",), ValueError)):
        refused("from_checkpoint of a checkpoint of %s" % what,
                lambda: ingot.TrainWindows.from_checkpoint(fake), *want, exc=exc)
    check(issubclass(ingot.MismatchError, ValueError) and
          issubclass(ingot.MismatchError, ingot.IngotError), "MismatchError's bases")
    # seeds as ingot-train's --seed takes them, refused at construction (None, "1" and
    # 1.5 failed later with a bare TypeError; 2^64 gave seed 0's windows)
    for seed, exc, want in ((None, TypeError, "seed: None"), ("1", TypeError, "seed: '1'"),
                            (1.5, TypeError, "seed: 1.5"), (True, TypeError, "seed: True"),
                            (-1, ValueError, "seed: -1"),
                            (2 ** 64, ValueError, "seed: 18446744073709551616"),
                            (2 ** 63, ValueError, "from 0 to 9223372036854775807")):
        refused("TrainWindows(seed=%r)" % (seed,),
                lambda: ingot.TrainWindows(ds, 16, 2, seed=seed),
                want, exc=exc)
        refused("MixtureOrder(seed=%r)" % (seed,),
                lambda: ingot.MixtureOrder([5, 5], [1, 1], seed=seed), want, exc=exc)
    top = ingot.TrainWindows(ds, 16, 2, seed=np.int64(2 ** 63 - 1), steps=1)
    check(top.order.seed == 2 ** 63 - 1 and len(list(top)) == 1, "seed 2^63 - 1 refused")
    # negative steps and run positions (they read epoch -1's order)
    tw = ingot.TrainWindows(ds, 16, 2)
    for what, call in (("micro_batch(-1, 0)", lambda: tw.micro_batch(-1, 0)),
                       ("window_rows([-1])", lambda: tw.window_rows([-1])),
                       ("window_rows([3, -5])", lambda: tw.window_rows([3, -5])),
                       ("WindowOrder.window(-1)", lambda: tw.order.window(-1))):
        refused(what, call, "-", "an integer >= 0", exc=ValueError)
    refused("window_rows([1.5])", lambda: tw.window_rows([1.5]), "1.5", exc=TypeError)
    check(np.array_equal(tw.window_rows([0]), tw.micro_batch(0, 0)[:1]), "window 0")
    for pos, want in (({"sources": [{"epoch": 0, "index": 1}]}, "windows is None"),
                      ({"sources": ["x"]}, "epoch is None"),
                      ({"sources": [{"epoch": 0.5, "index": 1, "windows": 1}]}, "epoch is 0.5"),
                      ([1], "start_position: [1]")):
        refused("start_position %r" % (pos,),
                lambda: ingot.TrainWindows(ds, 16, 2, start_position=pos), want, exc=ValueError)


def main():
    fx = Fixture(sys.argv)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "scripts", "python"))
    d = fx.dataset()
    check_ids_and_truncation(fx, d)
    check_verify_as_c(fx, d)
    check_manifests(fx, d)
    check_checkpoint_paths(fx)
    check_windows(fx, d)
    fx.cleanup()
    print("ok: hostile datasets and settings refused as the C tools refuse them")


if __name__ == "__main__":
    main()
