#!/usr/bin/env python3
"""What FP8 matrix products would give a LLaMA training step, measured at the power cap.

A study for issue 15's decision (docs/performance.md, round 27): Ingot's bf16 step
runs at the GPU's power cap, and every lever left is worth well under the 3-5% the
1.2x bar needs; FP8 products are the one that could be larger, but they change the
numerics against the bf16 reference, so whether to build them is the issue owner's
call. This script gives that call a number. It runs every matrix product of one
training step of the model (the forward, the input gradients and the weight
gradients of each layer's qkv, wo, gate|up and down products and of the classifier,
in the step's order) back to back for --seconds, once in bf16 (torch.mm) and once
in FP8 (torch._scaled_mm: e4m3 x e4m3 in the forward with fast accumulation;
e5m2 gradients x e4m3 in the backward with full accumulation, as Transformer
Engine's recipe does), and prints the products' time per step and their TFLOP/s.

What it does not measure: the casts to FP8 and their scaling statistics (Transformer
Engine fuses them into the kernels that produce each operand), FP8 weights' master
copies, and any effect on convergence. Outputs are bf16 on both sides (Ingot's
weight gradients are float32). So the FP8 figure bounds the products' part of a
step from below; it is not a trainer's throughput.

    python3 scripts/fp8-products-study.py                 # llama-1b, 8 x 2048, CUDA
    python3 scripts/fp8-products-study.py --list          # the products and their FLOPs (no GPU)
"""
import argparse
import sys
import time

# name: layers, heads, kv heads, dim, ffn, vocab, sequence length
# (train/tr_llama_params.c's presets, with its default 32k vocabulary)
MODELS = {"llama-1b": (22, 32, 4, 2048, 5632, 32000, 2048),
          "llama-350m": (24, 16, 16, 1024, 2736, 32000, 1024),
          "llama-60m": (8, 8, 8, 512, 1376, 32000, 1024)}


def products(model, tokens):
    """The step's products in order: (name, kind, M, N, K), out = M x N, over K.
    kind: fwd, dgrad (input gradient) or wgrad (weight gradient)."""
    L, NH, NKV, C, F, V, _ = MODELS[model]
    W = C + 2 * NKV * (C // NH)  # q | k | v
    layer = (("qkv", C, W), ("wo", C, C), ("gateup", C, 2 * F), ("down", F, C))
    out = []
    for _ in range(L):
        out += [(n, "fwd", tokens, o, i) for n, i, o in layer]
    out.append(("lm_head", "fwd", tokens, V, C))
    out += [("lm_head", "dgrad", tokens, C, V), ("lm_head", "wgrad", V, C, tokens)]
    for _ in range(L):
        for n, i, o in reversed(layer):
            out += [(n, "dgrad", tokens, i, o), (n, "wgrad", o, i, tokens)]
    return out


def matmul_weights(model):
    L, NH, NKV, C, F, V, _ = MODELS[model]
    W = C + 2 * NKV * (C // NH)
    return L * (C * W + C * C + 3 * C * F) + V * C


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="llama-1b", choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    ap.add_argument("--seq-len", type=int, default=0,
                    help="tokens per sequence (default: the model's, 2048 for llama-1b)")
    ap.add_argument("--seconds", type=float, default=8.0,
                    help="how long each precision runs its steps' products (default 8; the "
                         "first quarter, at least one step, is not timed: the board settles "
                         "at its power cap)")
    ap.add_argument("--list", action="store_true",
                    help="print the products and their FLOPs, and exit (no GPU needed)")
    a = ap.parse_args()
    a.seq_len = a.seq_len or MODELS[a.model][6]
    if a.batch < 1 or a.seq_len < 16 or a.seq_len % 16 or a.seconds <= 0:
        ap.error("need --batch >= 1, --seq-len a multiple of 16, --seconds > 0")
    tokens = a.batch * a.seq_len
    prods = products(a.model, tokens)
    flops = sum(2.0 * m * n * k for _, _, m, n, k in prods)
    if a.list:
        for name, kind, m, n, k in prods:
            print(f"{name:<8} {kind:<6} M {m:6d} N {n:6d} K {k:6d}  {2e-9 * m * n * k:9.1f} GFLOP")
        print(f"{len(prods)} products, {flops / 1e12:.3f} TFLOP per step "
              f"(6 x {matmul_weights(a.model)} matmul weights x {tokens} tokens: "
              f"{6.0 * matmul_weights(a.model) * tokens / 1e12:.3f})")
        return 0
    try:
        import torch
    except ImportError:
        print("fp8-products-study: PyTorch is not installed", file=sys.stderr)
        return 77
    if not torch.cuda.is_available():
        print("fp8-products-study: no CUDA device", file=sys.stderr)
        return 77
    if torch.cuda.get_device_capability() < (8, 9):
        print("fp8-products-study: FP8 products need an sm_89 or newer GPU", file=sys.stderr)
        return 77
    dev = torch.device("cuda")
    e4, e5 = torch.float8_e4m3fn, torch.float8_e5m2
    one = torch.ones((), device=dev, dtype=torch.float32)
    gen = torch.Generator(device=dev).manual_seed(5)

    # one operand pair per distinct shape: every layer reuses them (the same bytes
    # moved per product as a real step; L2 holds no more than it would there)
    def rnd(rows, cols, dt):
        return (torch.randn(rows, cols, device=dev, generator=gen) * 0.5).to(dt)

    bf, f8 = {}, {}
    for name, kind, m, n, k in prods:
        key = (m, n, k, kind)
        if key in bf:
            continue
        # torch.mm(A [M, K], B [K, N]); _scaled_mm wants B column-major: B = Bt.t()
        bf[key] = (rnd(m, k, torch.bfloat16), rnd(n, k, torch.bfloat16).t())
        ta = e4 if kind == "fwd" else e5  # the backward's gradient operand in e5m2
        tb = e4
        if kind == "wgrad":  # dW = dY^T X: dY's transpose is the e5m2 operand
            ta, tb = e5, e4
        f8[key] = (rnd(m, k, ta), rnd(n, k, tb).t())

    def run_bf16():
        for _, kind, m, n, k in prods:
            x, y = bf[(m, n, k, kind)]
            torch.mm(x, y)

    def run_fp8():
        for _, kind, m, n, k in prods:
            x, y = f8[(m, n, k, kind)]
            torch._scaled_mm(x, y, scale_a=one, scale_b=one, out_dtype=torch.bfloat16,
                             use_fast_accum=kind == "fwd")

    name = torch.cuda.get_device_name(dev)
    print(f"fp8-products-study: {a.model}, {a.batch} x {a.seq_len} tokens, {len(prods)} products, "
          f"{flops / 1e12:.3f} TFLOP per step, on {name}; torch {torch.__version__}")
    results = {}
    for label, fn in (("bf16", run_bf16), ("fp8", run_fp8)):
        fn()  # first call: cuBLASLt's plans
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        n_warm = 0
        while time.perf_counter() - t0 < a.seconds / 4 or n_warm < 1:
            fn()
            torch.cuda.synchronize()
            n_warm += 1
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        per = (time.perf_counter() - t0) / n_warm
        n = max(1, int(a.seconds * 0.75 / per))
        start.record()
        for _ in range(n):
            fn()
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end) / n
        results[label] = ms
        print(f"{label:<5} {ms:8.2f} ms of products per step  {flops / ms / 1e9:6.0f} TFLOP/s  "
              f"({n} steps timed after {n_warm})")
    print(f"fp8 / bf16 time: {results['fp8'] / results['bf16']:.3f} "
          f"(the products alone, back to back at the cap; no casts, no scaling)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
