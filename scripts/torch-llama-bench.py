#!/usr/bin/env python3
"""Training throughput of a PyTorch LLaMA, the comparison for ingot-train --arch llama.

The model is written here (no transformers needed) with the recipe of Hugging
Face's LlamaForCausalLM and of Ingot's llama (docs/llama.md): RMSNorm (float32
statistics), rotary embeddings with the rotate_half pairing, grouped-query
attention through scaled_dot_product_attention (on CUDA restricted to its
fused kernels: flash, cuDNN, memory-efficient, never the math path; kv heads
via enable_gqa where those take it, else repeated), SwiGLU with gate|up as one Linear,
no biases, untied embeddings. Training step: bf16 autocast over float32
parameters, mean cross-entropy, backward (--accum N: N micro-batches, each
loss divided by N, their gradients summed, as TinyLlama's own pretrain script
does with 8 per GPU), gradient clipping at 1.0, fused AdamW (lr 4e-4, betas 0.9 /
0.95, weight decay 0.1), torch.compile of the whole model (--compile full, the
default: at TinyLlama's shape 5.1% faster than per layer, docs/performance.md
round 26) or of each decoder layer (--compile regional: one compiled graph
reused by all layers, so compile time does not grow with depth), in
torch.compile's default mode unless --compile-mode names another
(reduce-overhead: the step's kernels replayed as CUDA graphs; max-autotune:
Inductor times its own matrix-product templates against cuBLAS's, minutes of
compilation at this size).

Prints tok/s, MFU and peak memory, then one JSON line. MFU counts FLOPs per
trained token as Ingot does (tr_llama_flops_per_token, PaLM appendix B):
    6 x (matmul weights: L (C W + C^2 + 3 C F) + V C) + 12 L T C
with W = (NH + 2 NKV) C / NH (the fused q|k|v width), over the GPU's dense
bf16 peak (--peak-tflops; default from the device name: H100/H200 989.4,
A100 312).

    python3 scripts/torch-llama-bench.py                 # TinyLlama-1.1B, T 2048, CUDA
    python3 scripts/torch-llama-bench.py --tiny --device cpu --steps 2   # smoke test
"""
import argparse
import json
import math
import sys
import time

PRESETS = {  # name: layers, heads, kv heads, dim, ffn, seq len (train/tr_llama_params.c)
    "llama-tiny": (2, 4, 2, 64, 256, 64),
    "llama-60m": (8, 8, 8, 512, 1376, 1024),
    "llama-350m": (24, 16, 16, 1024, 2736, 1024),
    "llama-1b": (22, 32, 4, 2048, 5632, 2048),
}

PEAK_BF16 = (("H200", 989.4), ("H100", 989.4), ("H800", 989.4), ("A100", 312.0))


def flops_per_token(L, NH, NKV, C, F, V, T):
    W = (NH + 2 * NKV) * (C // NH)
    matmul = L * (C * W + C * C + 3 * C * F) + V * C
    return 6 * matmul + 12 * L * T * C


SDPA_BACKENDS = {"fused": ("FLASH_ATTENTION", "CUDNN_ATTENTION", "EFFICIENT_ATTENTION"),
                 "flash": ("FLASH_ATTENTION",), "cudnn": ("CUDNN_ATTENTION",),
                 "efficient": ("EFFICIENT_ATTENTION",)}

# torch.compile's modes; reduce-overhead and max-autotune replay CUDA graphs
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def fused_sdpa(torch, which="fused"):
    """On CUDA, a context that lets SDPA use only its fused kernels (all of
    flash, cuDNN, memory-efficient, PyTorch picking; or the one named), so
    that a shape they refuse fails instead of running the slow math path; a
    no-op context elsewhere or on old PyTorch."""
    import contextlib
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return contextlib.nullcontext
    backends = [getattr(SDPBackend, n) for n in SDPA_BACKENDS[which] if hasattr(SDPBackend, n)]
    if not backends:
        raise SystemExit("torch-llama-bench: this PyTorch has no SDPA backend %s" % which)
    return lambda: sdpa_kernel(backends)


def gqa_native(torch, dev, hs, use, which="fused"):
    """Whether SDPA takes enable_gqa here (PyTorch >= 2.5), on this device and,
    on CUDA, with the fused kernels only: a probe call at the bench's head size."""
    F = torch.nn.functional
    if use == "repeat":
        return False
    try:
        dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
        q = torch.zeros(1, 4, 16, hs, device=dev, dtype=dt)
        kv = torch.zeros(1, 2, 16, hs, device=dev, dtype=dt)
        with (fused_sdpa(torch, which)() if dev.type == "cuda"
              else __import__("contextlib").nullcontext()):
            F.scaled_dot_product_attention(q, kv, kv, is_causal=True, enable_gqa=True)
        return True
    except (TypeError, RuntimeError):
        if use == "native":
            raise
        return False


def build(torch, a, native_gqa):
    nn, F = torch.nn, torch.nn.functional
    hs = a.dim // a.heads
    gqa_kw = {"enable_gqa": True} if native_gqa else {}

    class RMSNorm(nn.Module):
        def __init__(self, C, eps):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(C))
            self.eps = eps

        def forward(self, x):
            h = x.float()
            h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
            return self.weight * h.to(x.dtype)

    def rope(x, cos, sin):  # x [B, H, T, hs]; rotate_half pairing
        x1, x2 = x[..., : hs // 2], x[..., hs // 2:]
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            C, NKV = a.dim, a.kv_heads
            self.attn_norm = RMSNorm(C, a.eps)
            self.wqkv = nn.Linear(C, (a.heads + 2 * NKV) * hs, bias=False)
            self.wo = nn.Linear(C, C, bias=False)
            self.ffn_norm = RMSNorm(C, a.eps)
            self.w_gateup = nn.Linear(C, 2 * a.ffn, bias=False)
            self.w_down = nn.Linear(a.ffn, C, bias=False)

        def forward(self, x, cos, sin):
            B, T, C = x.shape
            NH, NKV = a.heads, a.kv_heads
            qkv = self.wqkv(self.attn_norm(x))
            q, k, v = qkv.split([NH * hs, NKV * hs, NKV * hs], dim=-1)
            q = rope(q.view(B, T, NH, hs).transpose(1, 2), cos, sin)
            k = rope(k.view(B, T, NKV, hs).transpose(1, 2), cos, sin)
            v = v.view(B, T, NKV, hs).transpose(1, 2)
            if not gqa_kw and NKV != NH:
                k = k.repeat_interleave(NH // NKV, dim=1)
                v = v.repeat_interleave(NH // NKV, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa_kw)
            x = x + self.wo(y.transpose(1, 2).reshape(B, T, C))
            g, u = self.w_gateup(self.ffn_norm(x)).chunk(2, dim=-1)
            return x + self.w_down(F.silu(g) * u)

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(a.vocab, a.dim)
            self.layers = nn.ModuleList(Layer() for _ in range(a.layers))
            self.norm = RMSNorm(a.dim, a.eps)
            self.lm_head = nn.Linear(a.dim, a.vocab, bias=False)
            inv = 1.0 / (a.rope_theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
            ang = torch.outer(torch.arange(a.seq_len, dtype=torch.float64), inv)
            ang = torch.cat((ang, ang), dim=-1)
            self.register_buffer("cos", ang.cos().float(), persistent=False)
            self.register_buffer("sin", ang.sin().float(), persistent=False)
            for n, p in self.named_parameters():  # Ingot's init (tr_llama_params_init)
                if p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * a.layers) if n.endswith(("wo.weight",
                                                                          "w_down.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)

        def forward(self, idx, targets):
            T = idx.shape[1]
            cos, sin = self.cos[:T], self.sin[:T]
            x = self.wte(idx)
            for layer in self.layers:
                x = layer(x, cos, sin)
            logits = self.lm_head(self.norm(x))
            return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))

    return Llama(), ("enable_gqa" if gqa_kw else "repeat_kv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="llama-1b", choices=sorted(PRESETS),
                    help="shape preset (default llama-1b: TinyLlama-1.1B)")
    ap.add_argument("--tiny", action="store_true", help="same as --model llama-tiny")
    ap.add_argument("--vocab", type=int, default=32000, help="vocabulary (default 32000)")
    ap.add_argument("--seq-len", type=int, default=0, help="sequence length (default: preset's)")
    ap.add_argument("--batch", type=int, default=8, help="sequences per step (default 8)")
    ap.add_argument("--accum", type=int, default=1, metavar="N",
                    help="micro-batches of --batch per optimizer step (gradient "
                         "accumulation; default 1)")
    ap.add_argument("--steps", type=int, default=10, help="timed optimizer steps (default 10)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    ap.add_argument("--compile", default="full", choices=["regional", "full", "none"],
                    help="torch.compile each layer, the whole model (default), or eager")
    ap.add_argument("--compile-mode", default="default", choices=COMPILE_MODES,
                    help="torch.compile's mode (default: its default; reduce-overhead adds "
                         "CUDA graphs, max-autotune times Inductor's product templates too)")
    ap.add_argument("--recompute", action="store_true",
                    help="activation checkpointing per layer (when the batch does not fit)")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (smoke test)")
    ap.add_argument("--gqa", default="auto", choices=["auto", "native", "repeat"],
                    help="kv heads: SDPA's enable_gqa where it runs fused (auto), always "
                         "(native), or repeated to the query heads first (repeat)")
    ap.add_argument("--sdpa", default="fused", choices=sorted(SDPA_BACKENDS),
                    help="SDPA kernels on CUDA: any fused one, PyTorch picking (default; "
                         "cuDNN's on Hopper), or only flash (FlashAttention-2), cuDNN's or "
                         "the memory-efficient one")
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="dense bf16 peak for MFU (default: from the device name)")
    ap.add_argument("--kernel-profile", type=int, default=0, metavar="N",
                    help="N more steps under torch.profiler: GPU time per step by kind "
                         "(products, attention, other, optimizer) and the largest kernels")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-5)
    a = ap.parse_args()
    if a.compile == "none" and a.compile_mode != "default":
        ap.error("--compile-mode %s: an eager model (--compile none) has no compile mode"
                 % a.compile_mode)
    if not 1 <= a.accum <= 1024:
        ap.error("--accum %d: expected 1 to 1024 micro-batches per step" % a.accum)
    if a.tiny:
        a.model = "llama-tiny"
    a.layers, a.heads, a.kv_heads, a.dim, a.ffn, T0 = PRESETS[a.model]
    a.seq_len = a.seq_len or T0

    # Inductor's on-disk caches do not key on the SDPA backend: a graph
    # compiled under one --sdpa would be reused under another
    import os
    import tempfile
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or os.path.join(
        tempfile.gettempdir(), "torchinductor_llama_bench")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache, "sdpa-" + a.sdpa)
    try:
        import torch
    except ImportError:
        print("torch-llama-bench: PyTorch is not installed (pip install torch)", file=sys.stderr)
        return 77
    cuda = a.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print("torch-llama-bench: no CUDA device (use --device cpu for a smoke test)",
              file=sys.stderr)
        return 77
    dev = torch.device(a.device)
    torch.manual_seed(1234)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    native = gqa_native(torch, dev, a.dim // a.heads, a.gqa, a.sdpa)
    with dev:  # parameters created and initialised on the device (seconds, not a minute)
        model, gqa = build(torch, a, native)
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=4e-4, betas=(0.9, 0.95), eps=1e-8,
                            **({"fused": True} if cuda else {"foreach": True}))

    if a.recompute:
        import torch.utils.checkpoint as cp
        for layer in model.layers:
            f = layer.forward
            layer.forward = (lambda f: lambda x, c, s: cp.checkpoint(f, x, c, s,
                                                                     use_reentrant=False))(f)
    mode = None if a.compile_mode == "default" else a.compile_mode
    if a.compile == "regional":
        for layer in model.layers:
            layer.compile(mode=mode)
        step_model = model
    elif a.compile == "full":
        step_model = torch.compile(model, mode=mode)
    else:
        step_model = model

    B, T = a.batch, a.seq_len
    gen = torch.Generator(device="cpu").manual_seed(7)
    data = torch.randint(0, a.vocab, (B, T + 1), generator=gen).to(dev)
    idx, tgt = data[:, :T].contiguous(), data[:, 1:].contiguous()
    amp = torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    sdpa_ctx = fused_sdpa(torch, a.sdpa) if cuda else __import__("contextlib").nullcontext

    # CUDA-graph modes: each step's replays may overwrite the last step's outputs
    graphs = a.compile != "none" and mode in ("reduce-overhead", "max-autotune")

    def step():
        if graphs:
            torch.compiler.cudagraph_mark_step_begin()
        for _ in range(a.accum):  # the same micro-batch each time: timing only
            with amp, sdpa_ctx():
                loss = step_model(idx, tgt)
            (loss / a.accum if a.accum > 1 else loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    def sync():
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    for _ in range(a.warmup):
        loss = step()
    sync()
    warm_s = time.perf_counter() - t0
    # the timed steps' peak; with CUDA graphs the replays allocate nothing (their
    # memory pool was taken while capturing), so the peak counts the warm-up too
    if cuda and not graphs:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    sync()
    dt = time.perf_counter() - t0
    tps = B * T * a.accum * a.steps / dt
    fpt = flops_per_token(a.layers, a.heads, a.kv_heads, a.dim, a.ffn, a.vocab, T)
    peak = a.peak_tflops
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    if peak <= 0:
        peak = next((v for k, v in PEAK_BF16 if k in name), 0.0)
    mfu = tps * fpt / (peak * 1e12) if peak > 0 else -1.0
    mem = torch.cuda.max_memory_allocated(dev) / 2**30 if cuda else -1.0
    print(f"torch-llama-bench: {a.model} L{a.layers} H{a.heads}/{a.kv_heads} C{a.dim} "
          f"F{a.ffn} T{T} V{a.vocab}, {n_params / 1e6:.1f}M parameters, batch {B}"
          f"{f' x {a.accum} micro-batches' if a.accum > 1 else ''}, on {name}; "
          f"torch {torch.__version__}, compile={a.compile}"
          f"{'' if mode is None else ' (' + mode + ')'}, bf16 autocast, SDPA {a.sdpa} ({gqa}), "
          f"{'fused' if cuda else 'foreach'} AdamW{', recompute' if a.recompute else ''}")
    print(f"warm-up {a.warmup} steps {warm_s:.1f} s (compilation included); "
          f"{a.steps} steps {dt:.2f} s, loss {loss.item():.4f}")
    print(f"FLOPs per token {fpt / 1e9:.3f} G; peak {peak:.1f} TFLOP/s")
    print(f"peak memory {mem:.1f} GiB")
    print(f"MFU: {100 * mfu:.1f}%" if mfu >= 0 else "MFU: n/a (unknown peak)")
    print(f"tok/s: {tps:.0f}")
    print(json.dumps({"bench": "torch-llama", "model": a.model, "batch": B, "accum": a.accum, "seq_len": T,
                      "tok_per_s": tps, "mfu": mfu, "peak_mem_gib": mem,
                      "flops_per_token": fpt, "ms_per_step": dt / a.steps * 1e3,
                      "compile": a.compile,
                      "compile_mode": a.compile_mode, "recompute": a.recompute, "sdpa": a.sdpa,
                      "warmup_s": warm_s, "loss": loss.item()}))
    if a.kernel_profile > 0 and cuda:
        from torch_kernel_profile import kernel_profile
        kernel_profile(torch, step, a.kernel_profile, dt / a.steps * 1e3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
