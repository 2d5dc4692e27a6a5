#!/usr/bin/env python3
"""ingot-train --dump-batch and scripts/torch-reference.py, end to end, for both
architectures: a tiny model trained a few steps on the CPU, the next batch
dumped with what the CPU model computes on it, and PyTorch (float64) rebuilding
the model from the dump (and the checkpoint) and agreeing on the logits, the loss
and every gradient to 1e-5 of each tensor's largest value. Then the checker is
shown to fail: a dump with one gradient element changed, one truncated, a
checkpoint of another model, a GPT-2 dump read as llama.

    test_torch_reference.py INGOT_TRAIN SCRIPTS_DIR

Exits 77 (skipped) when numpy is missing; the PyTorch cases need torch and are
counted as skipped without it (the NumPy forward still runs)."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: test_torch_reference.py INGOT_TRAIN SCRIPTS_DIR")
    train, scripts = sys.argv[1:3]
    try:
        import numpy as np
    except ImportError:
        print("numpy missing: skipped")
        return SKIP
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    ref = os.path.join(scripts, "torch-reference.py")
    tmp = tempfile.mkdtemp(prefix="ingot_tref_")
    failures = 0

    def check(cond, what):
        nonlocal failures
        print(("ok   " if cond else "FAIL ") + what)
        failures += not cond

    def run(args):
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return p.returncode, p.stdout

    def dump_of(tag, flags):
        """A 3-step run, then the dump of the batch after it: (dump, checkpoint)."""
        ck, dump = os.path.join(tmp, tag), os.path.join(tmp, tag + ".bin")
        common = [train, "--synthetic", "--vocab", "300", "--seq-len", "32", "--batch", "4",
                  "--threads", "2", "--val-every", "0", "--steps", "3", "--ckpt-dir", ck,
                  "--quiet"] + flags
        rc, out = run(common)
        rc2, out2 = run(common + ["--resume", "--dump-batch", dump]) if rc == 0 else (rc, "")
        if rc or rc2:
            print(out + out2)
        check(rc == 0 and rc2 == 0, f"{tag}: trained and dumped")
        return dump, os.path.join(ck, "ckpt-00000003.bin")

    def parity(dump, ckpt, more=(), expect=0, tag=""):
        args = [sys.executable, ref, "--dump", dump] + (["--ckpt", ckpt] if ckpt else [])
        rc, out = run(args + ["--atol", "0", "--rtol", "1e-5"] + list(more))
        if rc != expect:
            print(out)
        check(rc == expect, f"{tag}: torch-reference.py {' '.join(more)} exit {rc} "
              f"(expected {expect})")
        return out

    models = {
        "llama": ["--arch", "llama", "--model", "llama-tiny", "--layers", "2", "--dim", "64",
                  "--heads", "4", "--kv-heads", "2", "--ffn-dim", "96"],
        "llama-mha-tied": ["--arch", "llama", "--model", "llama-tiny", "--layers", "1",
                           "--dim", "48", "--heads", "3", "--kv-heads", "3", "--tie-embeddings",
                           "--rope-theta", "500", "--norm-eps", "1e-6"],
        "gpt2": ["--model", "tiny", "--layers", "2", "--dim", "64", "--heads", "4"],
    }
    dumps = {tag: dump_of(tag, flags) for tag, flags in models.items()}
    try:
        for tag, (dump, ckpt) in dumps.items():
            with open(dump, "rb") as f:
                head = f.read(256)
            version = struct.unpack_from("<I", head, 8)[0]
            check(version == (1 if tag == "gpt2" else 2), f"{tag}: dump version {version}")
            if tag == "llama-mha-tied":
                arch, nkv, ffn, tie, theta, eps = struct.unpack_from("<IiiIdf", head, 72)
                check((arch, nkv, tie, theta) == (1, 3, 1, 500.0) and abs(eps - 1e-6) < 1e-12
                      and ffn == 256, f"{tag}: header fields {arch, nkv, ffn, tie, theta, eps}")
            out = parity(dump, ckpt, ["--numpy"], tag=tag)
            check('"parity": "ok"' in out and "weights identical" in out,
                  f"{tag}: NumPy forward agrees")
            if have_torch:
                out = parity(dump, ckpt, ["--double"], tag=tag)
                check('"parity": "ok"' in out and out.count(" ok\n") >= 4,
                      f"{tag}: PyTorch float64 agrees on logits and every gradient")

        dump, ckpt = dumps["llama"]
        raw = bytearray(open(dump, "rb").read())
        B, T, Vp = 4, 32, 384
        n_params = struct.unpack_from("<Q", raw, 48)[0]
        grads_at = 256 + 4 * (B * (T + 1) + n_params + B * T * Vp)
        # wqkv's gradient, element 100 (after wte [Vp, C] and attn_norm [L, C])
        at = grads_at + 4 * (Vp * 64 + 2 * 64 + 100)
        g = np.frombuffer(raw, "<f4", n_params, grads_at)
        x = struct.unpack_from("<f", raw, at)[0]
        struct.pack_into("<f", raw, at, x + 1e-3 * float(np.abs(g).max()))
        bad = os.path.join(tmp, "bad.bin")
        open(bad, "wb").write(raw)
        if have_torch:
            out = parity(bad, None, ["--double"], expect=1, tag="one gradient element changed")
            check(any(l.split()[:1] == ["wqkv"] and l.endswith("FAIL")
                      for l in out.splitlines()), "the changed tensor (wqkv) is the one named")
        cut = os.path.join(tmp, "cut.bin")
        open(cut, "wb").write(bytes(raw[:len(raw) - 4]))
        out = parity(cut, None, ["--numpy"], expect=1, tag="truncated dump")
        check("truncated" in out, "truncated dump: says so")
        out = parity(dump, dumps["gpt2"][1], ["--numpy"], expect=1, tag="GPT-2 checkpoint")
        check("differs from the dump" in out, "a checkpoint of another model: refused")
        # a GPT-2 dump claiming version 2, llama: its size no longer adds up
        raw = bytearray(open(dumps["gpt2"][0], "rb").read())
        struct.pack_into("<I", raw, 8, 2)
        struct.pack_into("<IiiIdf", raw, 72, 1, 2, 96, 0, 10000.0, 1e-5)
        open(bad, "wb").write(raw)
        out = parity(bad, None, ["--numpy"], expect=1, tag="GPT-2 dump read as llama")
        check("n_params" in out, "GPT-2 dump read as llama: the parameter count disagrees")
        # a --ckpt-dir names its newest checkpoint, as ingot-train's tools take it
        out = parity(dump, os.path.dirname(ckpt), ["--numpy"], tag="--ckpt DIR")
        check("ckpt-00000003.bin (step 3): weights identical" in out, "--ckpt DIR: its newest")
        # damage gets one line naming the file, not a traceback
        raw = bytearray(open(dump, "rb").read())
        struct.pack_into("<i", raw, 256, 100000)   # the first token id
        open(bad, "wb").write(raw)
        cut_ck = os.path.join(tmp, "cut.ckpt")
        open(cut_ck, "wb").write(open(ckpt, "rb").read()[:5000])
        for what, args, needle in (
                ("a token id past the vocabulary", [bad, None], "outside the vocabulary"),
                ("a truncated checkpoint", [dump, cut_ck], "truncated"),
                ("a missing dump", [os.path.join(tmp, "none.bin"), None], "No such file")):
            out = parity(*args, ["--numpy"], expect=1, tag=what)
            check(needle in out and "Traceback" not in out, f"{what}: one line, no traceback")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not have_torch:
        print("torch missing: the PyTorch cases were skipped")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
