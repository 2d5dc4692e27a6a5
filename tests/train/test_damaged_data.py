#!/usr/bin/python3
"""ingot-train on a dataset whose conversion exited 1 on a damaged input (a .jsonl.zst cut
short; the loss not accepted): it trains on what could be read but warns on stderr, also
under --quiet, naming the dataset and the file; after the same ingot-pretok command with
--allow-damaged-inputs (the loss accepted) it says nothing. Needs numpy, spm_train and zstd
(skips 77 otherwise)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts", "python"))
from pyt_util import SKIP, Fixture, check  # noqa: E402


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
    fx.cleanup()
    print("ok: a dataset with unaccepted damage trains with a warning (also --quiet); "
          "accepted, none")


main()
