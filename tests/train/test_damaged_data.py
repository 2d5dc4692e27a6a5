#!/usr/bin/python3
"""ingot-train on a dataset whose conversion exited 1 on a damaged input (a .jsonl.zst cut
short; the loss not accepted): it trains on what could be read but warns on stderr, also
under --quiet, naming the dataset and the file; after the same ingot-pretok command with
--allow-damaged-inputs (the loss accepted) it says nothing; with records skipped too, the
warning's command accepts it. On the same dataset, a --tokenizer that is missing or another
model's is refused at start. Needs numpy, spm_train and zstd (skips 77 otherwise)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "python"))
from pyt_util import SKIP, Fixture, check  # noqa: E402


def vocab_edited(fx, ds, train):
    """A manifest and shards resealed with a vocabulary of 200 more than the tokenizer's
    pieces (a manifest edited, or another tool): training says so once the tokenizer is
    loaded, and a sample it cannot decode says why (it printed raw ids without a word)."""
    try:
        import xxhash
    except ImportError:
        print("xxhash not importable: the edited vocabulary not checked")
        return
    import json
    import struct
    dv = fx.path("dsv")
    shutil.copytree(ds, dv)
    m = json.load(open(os.path.join(dv, "manifest.json")))
    pieces = m["tokenizer"]["vocab_size"]
    m["tokenizer"]["vocab_size"] = pieces + 200
    for sh in m["shards"]:
        path = os.path.join(dv, sh["file"])
        b = bytearray(open(path, "rb").read())
        struct.pack_into("<I", b, 24, pieces + 200)   # vocab_size (docs/shard-format.md)
        struct.pack_into("<Q", b, 4088, xxhash.xxh3_64_intdigest(bytes(b[:4088])))
        open(path, "wb").write(b)
        sh["checksums"]["header"] = "%016x" % struct.unpack_from("<Q", b, 4088)[0]
    json.dump(m, open(os.path.join(dv, "manifest.json"), "w"), indent=2)
    run = [a if a != ds else dv for a in train]
    p = subprocess.run(run + ["--sample-every", "1", "--sample-tokens", "64", "--temperature",
                              "3"], capture_output=True, text=True)
    want = ("note: the tokenizer has %d pieces, but the dataset's vocabulary is %d"
            % (pieces, pieces + 200))
    check(p.returncode == 0 and want in p.stdout, "train on an edited vocabulary: exit %d: %s%s"
          % (p.returncode, p.stdout, p.stderr))
    if "cannot decode id" not in p.stdout:   # a sample of ids all below the pieces: decoded
        print("note: the sample decoded (no id past the pieces drawn)")
    else:
        check("note: the sample cannot be decoded (" in p.stdout, "no reason: %s" % p.stdout)


def main():
    if not shutil.which("zstd"):
        print("zstd not found: skipped")
        sys.exit(SKIP)
    fx = Fixture(sys.argv)
    fx.dataset()   # corpus.jsonl and tok.model
    with open(fx.path("corpus.jsonl"), "rb") as f:
        raw = f.read()
    packed = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True,
                            check=True).stdout
    bad = fx.path("bad.jsonl.zst")
    with open(bad, "wb") as f:
        f.write(packed[:len(packed) // 2])
    ds = fx.path("dsd")
    conv = [fx.pretok, "--model", fx.path("tok.model"), "--out", ds, "--shard-tokens", "2000",
            "--val-fraction", "0.1", "--threads", "1", "--quiet", fx.path("corpus.jsonl"), bad]
    p = subprocess.run(conv, capture_output=True, text=True)
    check(p.returncode == 1 and "bad.jsonl.zst" in p.stderr, "pretok on a damaged input: "
          "exit %d: %s" % (p.returncode, p.stderr))
    train = [fx.train, "--data", ds, "--model", "tiny", "--steps", "1", "--threads", "1",
             "--val-every", "0"]
    for extra in ([], ["--quiet"]):
        p = subprocess.run(train + extra, capture_output=True, text=True)
        check(p.returncode == 0 and "warning: %s: 1 input file of this dataset was damaged" % ds
              in p.stderr and "bad.jsonl.zst" in p.stderr and "--allow-damaged-inputs" in
              p.stderr, "train %s: exit %d: %s" % (extra, p.returncode, p.stderr))
    # the Python reader says the same (a warning) and lists the damage
    import warnings
    import ingot
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = ingot.open_dataset(ds)
    check(not d.damaged_accepted and len(d.damaged_inputs) == 1 and
          "bad.jsonl.zst" in d.damaged_inputs[0]["damage"] and
          any("damaged" in str(x.message) for x in w), "python: %r, warnings %s"
          % (d.damaged_inputs, [str(x.message) for x in w]))
    fx.run(conv + ["--allow-damaged-inputs"], "pretok, the loss accepted")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = ingot.open_dataset(ds)
    check(d.damaged_accepted and len(d.damaged_inputs) == 1 and not w,
          "python, accepted: %r %s" % (d.damaged_inputs, [str(x.message) for x in w]))
    p = subprocess.run(train, capture_output=True, text=True)
    check(p.returncode == 0 and "damaged" not in p.stderr, "train after the acceptance: exit "
          "%d: %s" % (p.returncode, p.stderr))
    # damage and records skipped above pretok's default share: the warning's command
    # accepts it (it named --allow-damaged-inputs alone, which exited 1 again)
    import re
    lines = raw.splitlines(keepends=True)
    skipped = fx.path("skipped.jsonl")
    with open(skipped, "wb") as f:
        for i, ln in enumerate(lines):
            f.write(ln if i % 20 else b"{not json\n")
    ds2 = fx.path("dsd2")
    conv2 = [a if a != ds else ds2 for a in conv]
    conv2[conv2.index(fx.path("corpus.jsonl"))] = skipped
    p = subprocess.run(conv2, capture_output=True, text=True)
    check(p.returncode == 1, "pretok with skips and damage: exit %d" % p.returncode)
    p = subprocess.run([a if a != ds else ds2 for a in train], capture_output=True, text=True)
    m = re.search(r"--allow-damaged-inputs --max-skip-fraction ([0-9.e-]+)", p.stderr)
    check(p.returncode == 0 and m, "train on skips and damage: %s" % p.stderr)
    fx.run(conv2 + ["--allow-damaged-inputs", "--max-skip-fraction", m.group(1)],
           "pretok with the warning's options")
    # a --tokenizer that is missing or not the dataset's: refused at start, exit 1 (it was
    # a note at the first sample, or nothing without --sample-every); the dataset's copy
    # given by name is fine
    other = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
                         "spm_model", "unigram.model")   # another model
    for tok, want in ((fx.path("none.model"), "not found"), (other, "differs")):
        p = subprocess.run(train + ["--tokenizer", tok], capture_output=True, text=True)
        check(p.returncode == 1 and "--tokenizer: " in p.stderr and want in p.stderr,
              "train --tokenizer %s: exit %d: %s" % (tok, p.returncode, p.stderr))
    p = subprocess.run(train + ["--tokenizer", os.path.join(ds, "tokenizer.model")],
                       capture_output=True, text=True)
    check(p.returncode == 0, "train --tokenizer (the dataset's): %s" % p.stderr)
    vocab_edited(fx, ds, train)
    fx.cleanup()
    print("ok: a dataset with unaccepted damage trains with a warning (also --quiet) whose "
          "command accepts it; accepted, none; a wrong --tokenizer refused at start")


main()
