#!/usr/bin/python3
"""generate and export without --data or --tokenizer take the tokenizer of the
dataset the checkpoint was trained on, as its settings name it (a user had to
repeat --data for every generate); the same text as with --data. When that
dataset is gone, the message names it and still asks for --data or
--tokenizer. Needs numpy and spm_train (skips 77 otherwise)."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from pyt_util import Fixture, check  # noqa: E402


def main():
    fx = Fixture(sys.argv)
    d = fx.dataset()
    ck = fx.path("ck")
    fx.run([fx.train, "--data", d, "--model", "tiny", "--steps", "5", "--threads", "1",
            "--val-every", "0", "--ckpt-dir", ck], "train")
    gen = [fx.train, "generate", ck, "--prompt", "the", "--tokens", "8", "--top-k", "1",
           "--threads", "1"]
    with_data = fx.run(gen + ["--data", d], "generate --data")
    without = fx.run(gen, "generate without --data")
    check(without == with_data and without.strip(),
          "generate without --data: %r, with: %r" % (without, with_data))
    hf = fx.path("hf")
    fx.run([fx.train, "export", ck, "--format", "hf", "--out", hf], "export without --data")
    check(os.path.exists(os.path.join(hf, "tokenizer.model")), "export: no tokenizer.model")
    # the dataset gone: named, and the old advice stands
    shutil.move(d, d + ".moved")
    p = subprocess.run(gen, capture_output=True, text=True)
    check(p.returncode == 2 and "no tokenizer: pass --data DIR" in p.stderr and
          "the dataset it was trained on, %s, cannot be read" % os.path.realpath(d) in p.stderr,
          "generate with the dataset gone: exit %d: %s" % (p.returncode, p.stderr))
    print("generate and export find the checkpoint's own dataset's tokenizer; a moved "
          "dataset is named")
    fx.cleanup()


main()
