#!/usr/bin/python3
"""scripts/fp8-products-study.py --list (no GPU): the step's products are the ones
Ingot's MFU counts. 12 per layer and the classifier's 3; the forward's first, then
the backward's, each input gradient before its weight gradient; at llama-1b (8 x
2048) their FLOPs are ingot-train's 7.3138176 GFLOP per token (tr_llama_flops_per_token,
as bench-llama.sh's table prints it) less attention's 12 L T C, times the tokens.
    test_fp8_study.py SOURCE_ROOT"""
import re
import subprocess
import sys

fails = 0


def check(what, ok):
    global fails
    print(("ok   " if ok else "FAIL ") + what)
    fails += 0 if ok else 1


def listed(root, model):
    out = subprocess.run([sys.executable, root + "/scripts/fp8-products-study.py", "--list",
                          "--model", model], capture_output=True, text=True)
    check(f"{model}: --list exits 0 without a GPU (rc {out.returncode})", out.returncode == 0)
    return [l.split() for l in out.stdout.splitlines()
            if re.match(r"^\w+ +(fwd|dgrad|wgrad) ", l)]


def main():
    root = sys.argv[1]
    for model, layers in (("llama-1b", 22), ("llama-60m", 8)):
        rows = listed(root, model)
        check(f"{model}: 12 products per layer and the classifier's 3 ({len(rows)})",
              len(rows) == 12 * layers + 3)
        kinds = [r[1] for r in rows]
        nf = 4 * layers + 1
        check(f"{model}: the forward's products first", kinds[:nf] == ["fwd"] * nf)
        check(f"{model}: then input and weight gradients in turn",
              kinds[nf:] == ["dgrad", "wgrad"] * ((len(rows) - nf) // 2))
        if model == "llama-1b":
            flops = sum(2 * int(r[3]) * int(r[5]) * int(r[7]) for r in rows)
            want = (7313817600 - 12 * 22 * 2048 * 2048) * 8 * 2048
            check(f"llama-1b: the products' FLOPs are Ingot's ({flops} against {want})",
                  flops == want)
    print(("PASS" if fails == 0 else "FAIL") + f": {fails} failure(s)")
    return 0 if fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
