#!/usr/bin/env python3
"""PyTorch reference for ingot-train.

Parity: rebuild Ingot's model (GPT-2, or --arch llama: the dump says which;
scripts/torch_reference_llama.py) in PyTorch from a batch dump (and optionally
the checkpoint it came from), run the same batch, and compare logits, loss and
every parameter gradient with what Ingot's CPU model computed.

    ingot-train --data D --model tiny --steps 20 --ckpt-dir ck
    ingot-train --data D --model tiny --steps 20 --ckpt-dir ck --resume --dump-batch b.bin
    python3 scripts/torch-reference.py --ckpt ck/ckpt-00000020.bin --dump b.bin [--double]

  --double runs PyTorch in float64, so the differences are Ingot's float32
  error alone. --numpy does the forward (logits, loss) in NumPy instead, for
  machines without PyTorch (no gradients then). Exit status 1 when a
  difference exceeds the tolerance (--atol/--rtol, applied to each tensor as
  max|a - b| <= atol + rtol * max|b|).

Benchmark: GPT-2 124M shape (12 layers, 12 heads, 768 wide, T 1024, vocab
50257 padded to 50304) trained on random ids with bf16 autocast,
torch.compile, scaled_dot_product_attention (flash) and fused AdamW; prints
tokens per second.

    python3 scripts/torch-reference.py --bench [--batch 16] [--steps 30]

  --kernel-profile N then runs N more steps under torch.profiler and prints
  the GPU time per step by kind (products, attention, other, optimizer) and
  the largest kernels (scripts/torch_kernel_profile.py).

Formats: docs/checkpoint-format.md.
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np

import torch_reference_llama as llama

def param_shapes(cfg):
    if cfg["arch"] == "llama":
        return llama.param_shapes(cfg)
    L, C, T, Vp = cfg["L"], cfg["C"], cfg["T"], cfg["Vp"]
    return [("wte", (Vp, C)), ("wpe", (T, C)), ("ln1w", (L, C)), ("ln1b", (L, C)),
            ("qkvw", (L, 3 * C, C)), ("qkvb", (L, 3 * C)), ("attprojw", (L, C, C)),
            ("attprojb", (L, C)), ("ln2w", (L, C)), ("ln2b", (L, C)),
            ("fcw", (L, 4 * C, C)), ("fcb", (L, 4 * C)), ("fcprojw", (L, C, 4 * C)),
            ("fcprojb", (L, C)), ("lnfw", (C,)), ("lnfb", (C,))]


def split_params(flat, cfg):
    out, off = {}, 0
    for name, shape in param_shapes(cfg):
        n = int(np.prod(shape))
        out[name] = flat[off:off + n].reshape(shape)
        off += n
    if off != flat.size:
        raise SystemExit(f"parameter count {flat.size} does not match the shapes ({off})")
    return out


def arch_cfg(path, L, NH, C, T, V, Vp, head, at):
    """The model's config; at: where the header's architecture fields begin (arch
    u32, n_kv_head i32, ffn_dim i32, tie_embeddings u32, rope_theta f64, norm_eps
    f32, as both the checkpoint and the dump store them), None for GPT-2's
    versions without them."""
    cfg = dict(arch="gpt2", L=L, NH=NH, C=C, T=T, V=V, Vp=Vp)
    if min(L, NH, C, T) < 1 or C % NH or V < 2 or Vp < V:
        raise SystemExit(f"{path}: not a model shape ({L} layers, {NH} heads, width {C}, "
                         f"context {T}, vocabulary {V} padded to {Vp}); the file is damaged")
    if at is None:
        return cfg
    arch, nkv, ffn, tie, theta, eps = struct.unpack_from("<IiiIdf", head, at)
    if arch == 0:
        return cfg
    if arch != 1:
        raise SystemExit(f"{path}: unknown architecture {arch} (0 gpt2, 1 llama)")
    if nkv <= 0 or NH % nkv or ffn <= 0 or (C // NH) % 2 or tie not in (0, 1) or \
            not theta > 0 or not eps > 0:
        raise SystemExit(f"{path}: bad llama fields (kv heads {nkv}, ffn {ffn}, tie {tie}, "
                         f"theta {theta}, eps {eps})")
    cfg.update(arch="llama", NKV=nkv, F=ffn, tie=bool(tie), theta=theta, eps=eps)
    return cfg


def latest_checkpoint(path):
    """A --ckpt-dir names its newest ckpt-*.bin, as ingot-train's tools take it."""
    if not os.path.isdir(path):
        return path
    names = sorted(n for n in os.listdir(path) if n.startswith("ckpt-") and n.endswith(".bin"))
    if not names:
        raise SystemExit(f"{path}: a directory without checkpoints (ckpt-*.bin)")
    return os.path.join(path, names[-1])


def read_checkpoint(path):
    path = latest_checkpoint(path)
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:8] != b"INGOTCKP" or len(head) < 4096:
        raise SystemExit(f"{path}: not an Ingot checkpoint (or shorter than its header)")
    version, header_size, endian = struct.unpack_from("<III", head, 8)
    if endian != 0x01020304 or header_size != 4096 or version not in (1, 2, 3):
        raise SystemExit(f"{path}: unsupported checkpoint (version {version})")
    L, NH, C, T, V, Vp = struct.unpack_from("<6i", head, 24)
    n_params, step = struct.unpack_from("<QQ", head, 48)
    # version 3: the architecture and llama's fields at 248 (docs/checkpoint-format.md)
    cfg = arch_cfg(path, L, NH, C, T, V, Vp, head, 248 if version == 3 else None)
    if sum(math.prod(shape) for _, shape in param_shapes(cfg)) != n_params:
        raise SystemExit(f"{path}: n_params {n_params} does not match the model's shape")
    if os.path.getsize(path) < 4096 + 12 * n_params:
        raise SystemExit(f"{path}: {os.path.getsize(path)} bytes, shorter than the header's "
                         f"{n_params} parameters and their moments (truncated)")
    flat = np.fromfile(path, dtype="<f4", count=n_params, offset=4096)
    return path, cfg, step, flat


def read_dump(path):
    with open(path, "rb") as f:
        head = f.read(256)
        if head[:8] != b"INGOTBAT" or len(head) < 256:
            raise SystemExit(f"{path}: not an Ingot batch dump (or shorter than its header)")
        version, header_size = struct.unpack_from("<II", head, 8)
        if version not in (1, 2) or header_size != 256:
            raise SystemExit(f"{path}: unsupported dump version {version}")
        L, NH, C, T, V, Vp, B = struct.unpack_from("<7i", head, 16)
        n_params, step = struct.unpack_from("<QQ", head, 48)
        (loss,) = struct.unpack_from("<d", head, 64)
        # version 2: the architecture's fields at 72 (train/parity_dump.h)
        cfg = arch_cfg(path, L, NH, C, T, V, Vp, head, 72 if version == 2 else None)
        if sum(math.prod(shape) for _, shape in param_shapes(cfg)) != n_params:
            raise SystemExit(f"{path}: n_params {n_params} does not match the model's shape")
        size = 256 + 4 * (B * (T + 1) + 2 * n_params + B * T * Vp)
        f.seek(0, 2)
        if B <= 0 or f.tell() != size:
            raise SystemExit(f"{path}: {f.tell()} bytes where the header makes {size} "
                             "(truncated or not one dump)")
        f.seek(256)
        ids = np.fromfile(f, dtype="<i4", count=B * (T + 1)).reshape(B, T + 1)
        params = np.fromfile(f, dtype="<f4", count=n_params)
        logits = np.fromfile(f, dtype="<f4", count=B * T * Vp).reshape(B, T, Vp)
        grads = np.fromfile(f, dtype="<f4", count=n_params)
    if ids.min() < 0 or ids.max() >= V:
        raise SystemExit(f"{path}: token ids from {ids.min()} to {ids.max()}, outside the "
                         f"vocabulary of {V}; the file is damaged")
    return dict(cfg=cfg, B=B, step=step, loss=loss, ids=ids, params=params,
                logits=logits, grads=grads)


# ---------------------------------------------------------------- NumPy forward

def np_forward(p, cfg, idx):
    """Logits [B, T, Vp] in float64, mirroring train/tr_cpu_model.c."""
    if cfg["arch"] == "llama":
        return llama.np_forward(p, cfg, idx)
    L, NH, C = cfg["L"], cfg["NH"], cfg["C"]
    B, T = idx.shape
    hs = C // NH
    p = {k: v.astype(np.float64) for k, v in p.items()}

    def ln(x, w, b):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + 1e-5) * w + b

    def gelu(x):
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

    x = p["wte"][idx] + p["wpe"][:T]
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    for l in range(L):
        h = ln(x, p["ln1w"][l], p["ln1b"][l])
        qkv = h @ p["qkvw"][l].T + p["qkvb"][l]
        q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, NH, hs).transpose(0, 2, 1, 3)
                   for i in range(3))
        att = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
        att = np.where(mask, -np.inf, att)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        y = (att @ v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + y @ p["attprojw"][l].T + p["attprojb"][l]
        h = ln(x, p["ln2w"][l], p["ln2b"][l])
        h = gelu(h @ p["fcw"][l].T + p["fcb"][l])
        x = x + h @ p["fcprojw"][l].T + p["fcprojb"][l]
    x = ln(x, p["lnfw"], p["lnfb"])
    return x @ p["wte"].T


def np_loss(logits, targets, V):
    z = logits[..., :V]
    z = z - z.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return -np.take_along_axis(logp, targets[..., None], -1).mean()


# ---------------------------------------------------------------- PyTorch model

def build_torch_model(torch, cfg, sdpa):
    if cfg["arch"] == "llama":
        return llama.build_torch_model(torch, cfg, sdpa)
    nn = torch.nn
    F = torch.nn.functional
    L, NH, C, T, V, Vp = (cfg[k] for k in ("L", "NH", "C", "T", "V", "Vp"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(C, eps=1e-5)
            self.c_attn = nn.Linear(C, 3 * C)
            self.attn_proj = nn.Linear(C, C)
            self.ln_2 = nn.LayerNorm(C, eps=1e-5)
            self.c_fc = nn.Linear(C, 4 * C)
            self.mlp_proj = nn.Linear(4 * C, C)

        def forward(self, x):
            B_, T_, _ = x.shape
            q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(B_, T_, NH, C // NH).transpose(1, 2) for t in (q, k, v))
            if sdpa:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) / math.sqrt(C // NH)
                mask = torch.ones(T_, T_, dtype=torch.bool, device=x.device).triu(1)
                att = att.masked_fill(mask, float("-inf")).softmax(-1)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B_, T_, C)
            x = x + self.attn_proj(y)
            x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
            return x

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(Vp, C)
            self.wpe = nn.Embedding(T, C)
            self.h = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(C, eps=1e-5)

        def forward(self, idx, targets=None):
            T_ = idx.shape[1]
            pos = torch.arange(T_, device=idx.device)
            x = self.wte(idx) + self.wpe(pos)
            for b in self.h:
                x = b(x)
            logits = F.linear(self.ln_f(x), self.wte.weight)   # tied head, [B, T, Vp]
            loss = None if targets is None else llama.mean_loss(torch, logits, targets, V)
            return logits, loss

    return GPT()


def torch_tensors(model, cfg):
    """Ingot tensor name -> list of (torch parameter, layer or None)."""
    if cfg["arch"] == "llama":
        return llama.tensors(model)
    m = {"wte": [(model.wte.weight, None)], "wpe": [(model.wpe.weight, None)],
         "lnfw": [(model.ln_f.weight, None)], "lnfb": [(model.ln_f.bias, None)]}
    per_layer = {"ln1w": "ln_1.weight", "ln1b": "ln_1.bias", "qkvw": "c_attn.weight",
                 "qkvb": "c_attn.bias", "attprojw": "attn_proj.weight",
                 "attprojb": "attn_proj.bias", "ln2w": "ln_2.weight", "ln2b": "ln_2.bias",
                 "fcw": "c_fc.weight", "fcb": "c_fc.bias", "fcprojw": "mlp_proj.weight",
                 "fcprojb": "mlp_proj.bias"}
    for name, attr in per_layer.items():
        m[name] = [(b.get_parameter(attr), l) for l, b in enumerate(model.h)]
    return m


def load_into(torch, model, params, cfg):
    with torch.no_grad():
        for name, plist in torch_tensors(model, cfg).items():
            for p, l in plist:
                src = params[name] if l is None else params[name][l]
                p.copy_(torch.from_numpy(np.ascontiguousarray(src)).to(p.dtype))


def grads_of(model, cfg):
    out = {}
    for name, plist in torch_tensors(model, cfg).items():
        gs = [p.grad.detach().double().cpu().numpy() for p, _ in plist]
        out[name] = gs[0] if plist[0][1] is None else np.stack(gs)
    return out


# ---------------------------------------------------------------- comparison

def diff_row(name, ours, ref, atol, rtol):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    d = np.abs(ours - ref)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    mad = float(d.max()) if d.size else 0.0
    rel = mad / scale if scale > 0 else (0.0 if mad == 0 else math.inf)
    ok = mad <= atol + rtol * scale
    print(f"  {name:<10} {ref.size:>11}  max|ref| {scale:10.3e}  max abs diff {mad:10.3e}  "
          f"rel {rel:9.2e}  {'ok' if ok else 'FAIL'}")
    return ok, mad, rel


def parity(args):
    dump = read_dump(args.dump)
    cfg, B = dump["cfg"], dump["B"]
    shape = ""
    if cfg["arch"] == "llama":
        shape = (f" KV{cfg['NKV']} F{cfg['F']} theta {cfg['theta']:g} eps {cfg['eps']:.3g}"
                 + (" tied" if cfg["tie"] else ""))
    print(f"dump {args.dump}: {cfg['arch']} L{cfg['L']} H{cfg['NH']} C{cfg['C']} T{cfg['T']} "
          f"V{cfg['V']} (Vp {cfg['Vp']}){shape}, batch {B}, after step {dump['step']}")
    flat = dump["params"]
    if args.ckpt:
        cpath, ccfg, cstep, cflat = read_checkpoint(args.ckpt)
        if ccfg != cfg:
            raise SystemExit(f"{cpath}: model {ccfg} differs from the dump's {cfg}")
        same = cflat.size == flat.size and np.array_equal(cflat, flat)
        print(f"checkpoint {cpath} (step {cstep}): weights "
              f"{'identical to' if same else 'DIFFER from'} the dump's")
        if not same:
            print("  comparing with the checkpoint's weights; expect large differences")
            flat = cflat
    params = split_params(flat, cfg)
    idx, targets = dump["ids"][:, :-1], dump["ids"][:, 1:]
    ok_all = True
    results = {}

    if args.numpy:
        logits = np_forward(params, cfg, idx)
        loss = float(np_loss(logits, targets, cfg["V"]))
        print("NumPy float64 forward vs Ingot CPU:")
        ok, mad, rel = diff_row("logits", dump["logits"], logits, args.atol, args.rtol)
        ok_all &= ok
        results["logits"] = (mad, rel)
        dl = abs(loss - dump["loss"])
        print(f"  loss       ingot {dump['loss']:.8f}  numpy {loss:.8f}  diff {dl:.3e}")
        ok_all &= dl <= args.atol + args.rtol * abs(loss)
    else:
        import torch
        dtype = torch.float64 if args.double else torch.float32
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise SystemExit("--device cuda: PyTorch sees no CUDA GPU here; use --device cpu")
        dev = torch.device(args.device)
        model = build_torch_model(torch, cfg, sdpa=False).to(dev, dtype)
        load_into(torch, model, params, cfg)
        ti = torch.from_numpy(idx.astype(np.int64)).to(dev)
        tt = torch.from_numpy(targets.astype(np.int64)).to(dev)
        logits, loss = model(ti, tt)
        loss.backward()
        print(f"PyTorch {torch.__version__} ({'float64' if args.double else 'float32'}, "
              f"{args.device}) vs Ingot CPU:")
        ok, mad, rel = diff_row("logits", dump["logits"], logits.detach().double().cpu().numpy(),
                                args.atol, args.rtol)
        ok_all &= ok
        results["logits"] = (mad, rel)
        loss_v = float(loss.detach())
        dl = abs(loss_v - dump["loss"])
        print(f"  loss       ingot {dump['loss']:.8f}  torch {loss_v:.8f}  diff {dl:.3e}")
        ok_all &= dl <= args.atol + args.rtol * abs(loss_v)
        results["loss"] = (dl, dl / abs(loss_v))
        ours = split_params(dump["grads"], cfg)
        ref = grads_of(model, cfg)
        print("gradients:")
        worst = (0.0, 0.0)
        for name, _ in param_shapes(cfg):
            ok, mad, rel = diff_row(name, ours[name], ref[name], args.atol, args.rtol)
            ok_all &= ok
            worst = (max(worst[0], mad), max(worst[1], rel))
        results["grads"] = worst
        for name in ("wte", "lm_head"):
            pad = ours[name][cfg["V"]:] if name in ours else np.zeros(0)
            if pad.size and np.abs(pad).max() != 0:
                print(f"  padded {name} rows have non-zero gradient in Ingot: FAIL")
                ok_all = False
    print(json.dumps({"parity": "ok" if ok_all else "fail",
                      **{k: {"max_abs": v[0], "max_rel": v[1]} for k, v in results.items()}}))
    return 0 if ok_all else 1


# ---------------------------------------------------------------- benchmark

# --bench --model: the GPT-2 shapes of ingot-train's presets (layers, heads, width).
BENCH_SHAPES = {"gpt2-124m": (12, 12, 768), "gpt2-350m": (24, 16, 1024),
                "gpt2-774m": (36, 20, 1280), "gpt2-1558m": (48, 25, 1600)}


def bench(args):
    import torch
    if not torch.cuda.is_available():
        raise SystemExit("--bench needs a CUDA GPU")
    torch.manual_seed(1337)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    L, NH, C = BENCH_SHAPES[args.model]
    cfg = dict(L=L, NH=NH, C=C, T=args.seq_len, V=50257, Vp=50304)
    dev = torch.device("cuda")
    model = build_torch_model(torch, cfg, sdpa=True).to(dev)
    with torch.no_grad():   # GPT-2 init (does not affect speed; keeps the loss sane)
        for n, p in model.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * cfg["L"]) if n.endswith("proj.weight") else 0.02
                p.normal_(0.0, std)
            elif n.endswith("bias"):
                p.zero_()
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), eps=1e-8, fused=True)
    n_params = sum(p.numel() for p in model.parameters())
    cmodel = model if args.no_compile else torch.compile(model)
    B, T = args.batch, cfg["T"]
    x = torch.randint(0, cfg["V"], (B, T + 1), device=dev)
    inp, tgt = x[:, :-1].contiguous(), x[:, 1:].contiguous()

    def step():
        for _ in range(args.grad_accum):
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, loss = cmodel(inp, tgt)
            (loss / args.grad_accum).backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss, norm

    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}: GPT-2 L{L} H{NH} C{C} "
          f"T{T} Vp{cfg['Vp']}, {n_params / 1e6:.1f}M params, batch {B} x "
          f"{args.grad_accum} micro-steps, bf16 autocast, "
          f"{'eager' if args.no_compile else 'torch.compile'}, SDPA, fused AdamW")
    for _ in range(args.warmup):   # compilation and autotuning
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss, norm = step()
        if not args.quiet and (i % 10 == 0 or i == args.steps - 1):
            print(f"step {i + 1:4d} loss {loss.item():.4f} norm {norm.item():.3f}")
    torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    tokens = B * T * args.grad_accum * args.steps
    tps = tokens / dt
    # 6N flops per token for the weights plus attention (llm.c / PaLM estimate)
    flops_per_token = 6 * n_params + 6 * cfg["L"] * cfg["C"] * T
    print(f"{args.steps} steps in {dt:.2f} s, {dt / args.steps * 1e3:.1f} ms/step, "
          f"peak memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    print(f"tok/s: {tps:.0f}")
    print(json.dumps({"bench": "torch", "tok_per_s": tps, "ms_per_step": dt / args.steps * 1e3,
                      "tflops": tps * flops_per_token / 1e12, "batch": B, "seq_len": T,
                      "grad_accum": args.grad_accum, "compiled": not args.no_compile}))
    if args.kernel_profile > 0:
        from torch_kernel_profile import kernel_profile
        kernel_profile(torch, step, args.kernel_profile, dt / args.steps * 1e3)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", help="batch dump from ingot-train --dump-batch (parity mode)")
    ap.add_argument("--ckpt", help="Ingot checkpoint the dump was made from (optional check)")
    ap.add_argument("--double", action="store_true", help="PyTorch in float64")
    ap.add_argument("--numpy", action="store_true", help="NumPy forward only, no PyTorch")
    ap.add_argument("--device", default="cpu", help="PyTorch device for parity (cpu, cuda)")
    ap.add_argument("--atol", type=float, default=1e-5, help="absolute tolerance")
    ap.add_argument("--rtol", type=float, default=1e-3,
                    help="tolerance relative to the tensor's largest value")
    ap.add_argument("--bench", action="store_true", help="throughput benchmark (GPU)")
    ap.add_argument("--model", default="gpt2-124m", choices=sorted(BENCH_SHAPES),
                    help="bench: GPT-2 shape (default gpt2-124m)")
    ap.add_argument("--batch", type=int, default=16, help="bench: sequences per micro-step")
    ap.add_argument("--seq-len", type=int, default=1024, help="bench: sequence length")
    ap.add_argument("--grad-accum", type=int, default=1, help="bench: micro-steps per step")
    ap.add_argument("--steps", type=int, default=30, help="bench: timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="bench: untimed steps first")
    ap.add_argument("--no-compile", action="store_true", help="bench: eager mode")
    ap.add_argument("--kernel-profile", type=int, default=0, metavar="N",
                    help="bench: N more steps under torch.profiler, GPU time by kind")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    if args.bench:
        return bench(args)
    if not args.dump:
        ap.error("give --dump FILE (parity) or --bench")
    return parity(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except OSError as e:   # a missing or unreadable --dump / --ckpt: the message, no traceback
        sys.exit(f"torch-reference.py: {e.filename or ''}: {e.strerror or e}")
