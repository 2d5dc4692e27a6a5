#!/usr/bin/env python3
"""PyTorch reference for Ingot's LLaMA CPU ops (kernels/cpu/ref_llama.h).

Reads what tests/llama/ll_torch_dump wrote (inputs, the C outputs and the C
gradients for RMSNorm, fused residual + RMSNorm, RoPE, the SwiGLU MLP,
grouped-query attention and a whole attention block), recomputes every output
and gradient in PyTorch float64 with autograd, and prints the max abs and
relative errors. A tensor passes when max|c - ref| <= atol + rtol * max|ref|.

When transformers is importable, the same inputs also go through Hugging
Face's own LlamaRMSNorm, LlamaRotaryEmbedding, apply_rotary_pos_emb, LlamaMLP
and LlamaAttention (SDPA, float64), which pins the conventions an export to
LlamaForCausalLM relies on: RoPE's rotate_half pairing, the [gate; up] weight
layout, q/k/v head order and repeat_kv grouping.

With --model-driver (tests/llama/ll_model_dump), whole models run by
train/tr_cpu_llama.c are rebuilt as Hugging Face LlamaForCausalLM in float64,
every tensor loaded by its HF name, and the logits, the loss and the gradient
of every parameter compared; HF's two float32 islands (RMSNorm's statistics,
the rotary table) are replaced by float64 versions of the same formulas so
that the comparison is against float64 throughout. Then 50 AdamW steps are
replayed in float32 (torch.optim.AdamW) from the same weights and batches and
the losses compared step by step. This part needs transformers.

    python3 scripts/torch-llama-reference.py --driver build/tests/llama/ll_torch_dump
    python3 scripts/torch-llama-reference.py --dump FILE.bin
    python3 scripts/torch-llama-reference.py --model-driver build/tests/llama/ll_model_dump

Exit status: 0 all within tolerance, 1 a difference over it (or a bad dump),
77 PyTorch not importable (the meson test then counts as skipped).
"""
import argparse
import math
import os
import struct
import subprocess
import sys
import tempfile

SKIP = 77


def read_dump(path):
    """name -> torch.float64 tensor (float32 records widened exactly)."""
    import torch
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"INGOTLLR":
        raise SystemExit(f"{path}: not an ll_torch_dump file (magic)")
    version, count = struct.unpack_from("<II", data, 8)
    if version not in (1, 2):
        raise SystemExit(f"{path}: version {version}, this script reads 1 and 2")
    nlen = 32 if version == 1 else 64   # bytes of a record name
    off, recs = 16, {}
    for i in range(count):
        if off + nlen + 24 > len(data):
            raise SystemExit(f"{path}: record {i} of {count} truncated")
        name = data[off:off + nlen].split(b"\0", 1)[0].decode()
        dtype, ndim, *dims = struct.unpack_from("<6I", data, off + nlen)
        off += nlen + 24
        if dtype not in (1, 2) or not 1 <= ndim <= 4:
            raise SystemExit(f"{path}: record {name}: dtype {dtype} ndim {ndim}")
        shape = dims[:ndim]
        n = math.prod(shape)
        es = 4 if dtype == 1 else 8
        if off + n * es > len(data):
            raise SystemExit(f"{path}: record {name} truncated")
        t = torch.frombuffer(bytearray(data[off:off + n * es]),
                             dtype=torch.float32 if dtype == 1 else torch.float64)
        recs[name] = t.reshape(shape).to(torch.float64)
        off += n * es
    if off != len(data):
        raise SystemExit(f"{path}: {len(data) - off} trailing bytes")
    return recs


class Report:
    def __init__(self, atol, rtol):
        self.atol, self.rtol, self.failed, self.rows = atol, rtol, 0, []

    def cmp(self, what, got, ref, atol=None, rtol=None, f64=None):
        """Tolerances other than the default mark a float32 reference (HF's
        own float32 paths), left out of the float64 summary unless f64."""
        if f64 is None:
            f64 = atol is None and rtol is None
        atol = self.atol if atol is None else atol
        rtol = self.rtol if rtol is None else rtol
        if got.shape != ref.shape:
            print(f"{what}: shape {tuple(got.shape)} vs reference {tuple(ref.shape)}  FAIL")
            self.failed += 1
            return
        ref = ref.detach().to(got.dtype)
        err = (got - ref).abs().max().item()
        scale = ref.abs().max().item()
        rel = err / scale if scale > 0 else err
        ok = err <= atol + rtol * scale
        self.failed += not ok
        print(f"{what:42s} max|err| {err:9.3e}  rel {rel:9.3e}  max|ref| {scale:8.3g}"
              f"{'' if ok else '  FAIL'}")
        if f64:
            self.rows.append((what, err, rel))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_cos_sin(T, hs, theta):
    """[T, hs] cos and sin in float64, HF layout: emb = cat(freqs, freqs)."""
    inv = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float64) / hs))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def split_heads(qkv, NH, NKV, hs):
    """[B, T, (NH + 2 NKV) hs] -> q [B, NH, T, hs], k, v [B, NKV, T, hs]."""
    B, T, _ = qkv.shape
    q, k, v = qkv.split([NH * hs, NKV * hs, NKV * hs], dim=-1)
    return (q.reshape(B, T, NH, hs).transpose(1, 2), k.reshape(B, T, NKV, hs).transpose(1, 2),
            v.reshape(B, T, NKV, hs).transpose(1, 2))


def merge_heads(x):
    B, H, T, hs = x.shape
    return x.transpose(1, 2).reshape(B, T, H * hs)


def rope_packed(qkv, NH, NKV, hs, cos, sin):
    """RoPE on the q and k heads of a packed qkv; v passes through."""
    q, k, v = split_heads(qkv, NH, NKV, hs)
    q = q * cos + rotate_half(q) * sin
    k = k * cos + rotate_half(k) * sin
    return torch.cat((merge_heads(q), merge_heads(k), merge_heads(v)), dim=-1)


def gqa(qkv, NH, NKV, hs):
    """Causal attention, explicit: kv heads repeated per group (repeat_kv)."""
    q, k, v = split_heads(qkv, NH, NKV, hs)
    k = k.repeat_interleave(NH // NKV, dim=1)
    v = v.repeat_interleave(NH // NKV, dim=1)
    T = q.shape[2]
    s = q @ k.transpose(-1, -2) / math.sqrt(hs)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    s = s.masked_fill(~mask, float("-inf"))
    return merge_heads(torch.softmax(s, dim=-1) @ v)


def grads(out, dout, *inputs):
    return torch.autograd.grad(out, inputs, dout)


def leaf(t):
    return t.clone().requires_grad_(True)


def cfg_ints(r, name):
    return [int(v) for v in r[name][:3].tolist()]


def check_rmsnorm(r, rep):
    eps = r["rmsnorm.eps"].item()
    x, w = leaf(r["rmsnorm.x"]), leaf(r["rmsnorm.w"])
    out = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w
    dx, dw = grads(out, r["rmsnorm.dout"], x, w)
    rep.cmp("rmsnorm out", r["rmsnorm.out"], out)
    rep.cmp("rmsnorm dx", r["rmsnorm.dx"], dx)
    rep.cmp("rmsnorm dw", r["rmsnorm.dw"], dw)
    s = r["rmsnorm.res"] + r["rmsnorm.x"]
    rep.cmp("residual_rmsnorm res_out", r["rmsnorm.res_out"], s)
    ref = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps) * r["rmsnorm.w"]
    rep.cmp("residual_rmsnorm out", r["rmsnorm.res_normed"], ref)


def check_rope(r, rep, tag):
    NH, NKV, hs = cfg_ints(r, tag + ".cfg")
    theta = r[tag + ".cfg"][3].item()
    T = r[tag + ".x"].shape[1]
    cos, sin = rope_cos_sin(T, hs, theta)
    table = torch.stack((cos[:, :hs // 2], sin[:, :hs // 2]), dim=-1)
    rep.cmp(f"{tag} table (T {T}, theta {theta:g})", r[tag + ".table"], table)
    x = leaf(r[tag + ".x"])
    out = rope_packed(x, NH, NKV, hs, cos, sin)
    (dx,) = grads(out, r[tag + ".dout"], x)
    rep.cmp(f"{tag} out", r[tag + ".out"], out)
    rep.cmp(f"{tag} dx", r[tag + ".dx"], dx)


def mlp_ref(x, wgu, wd):
    F = wgu.shape[0] // 2
    gu = x @ wgu.T
    gu.retain_grad()
    h = torch.nn.functional.silu(gu[:, :F]) * gu[:, F:]
    return gu, h, h @ wd.T


def check_mlp(r, rep):
    x, wgu, wd = leaf(r["mlp.x"]), leaf(r["mlp.wgu"]), leaf(r["mlp.wd"])
    gu, h, out = mlp_ref(x, wgu, wd)
    out.backward(r["mlp.dout"])
    rep.cmp("mlp gate|up", r["mlp.gu"], gu)
    rep.cmp("mlp swiglu", r["mlp.h"], h)
    rep.cmp("mlp out", r["mlp.out"], out)
    rep.cmp("mlp d gate|up", r["mlp.dgu"], gu.grad)
    rep.cmp("mlp dx", r["mlp.dx"], x.grad)
    rep.cmp("mlp dW [gate; up]", r["mlp.dwgu"], wgu.grad)
    rep.cmp("mlp dW down", r["mlp.dwd"], wd.grad)


def check_gqa(r, rep, tag):
    NH, NKV, hs = cfg_ints(r, tag + ".cfg")
    qkv = leaf(r[tag + ".qkv"])
    out = gqa(qkv, NH, NKV, hs)
    (d,) = grads(out, r[tag + ".dout"], qkv)
    rep.cmp(f"{tag} {NH}/{NKV} out", r[tag + ".out"], out)
    rep.cmp(f"{tag} {NH}/{NKV} dqkv", r[tag + ".dqkv"], d)
    # the same through SDPA's own grouped-query path (no repeat_kv here)
    q, k, v = split_heads(qkv, NH, NKV, hs)
    try:
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                             enable_gqa=True)
    except TypeError:   # torch < 2.5: no enable_gqa
        return
    rep.cmp(f"{tag} {NH}/{NKV} out (SDPA enable_gqa)", r[tag + ".out"], merge_heads(y))


def attn_ref(x, wqkv, wo, NH, NKV, hs, cos, sin):
    qkv = rope_packed(x @ wqkv.T, NH, NKV, hs, cos, sin)
    return gqa(qkv, NH, NKV, hs) @ wo.T


def check_attn(r, rep):
    NH, NKV, hs = cfg_ints(r, "attn.cfg")
    theta = r["attn.cfg"][3].item()
    T = r["attn.x"].shape[1]
    cos, sin = rope_cos_sin(T, hs, theta)
    x, wqkv, wo = leaf(r["attn.x"]), leaf(r["attn.wqkv"]), leaf(r["attn.wo"])
    out = attn_ref(x, wqkv, wo, NH, NKV, hs, cos, sin)
    dx, dwqkv, dwo = grads(out, r["attn.dout"], x, wqkv, wo)
    rep.cmp("attn block out", r["attn.out"], out)
    rep.cmp("attn block dx", r["attn.dx"], dx)
    rep.cmp("attn block dWqkv", r["attn.dwqkv"], dwqkv)
    rep.cmp("attn block dWo", r["attn.dwo"], dwo)


def hf_config(ml, **kw):
    """A LlamaConfig across transformers versions (rope_theta became
    rope_parameters in 5.x)."""
    theta = kw.pop("theta", 10000.0)
    cfg = ml.LlamaConfig(attention_bias=False, mlp_bias=False, hidden_act="silu",
                         max_position_embeddings=4096, **kw)
    if isinstance(getattr(cfg, "rope_parameters", None), dict):
        cfg.rope_parameters = {"rope_type": "default", "rope_theta": theta}
    cfg.rope_theta = theta
    cfg._attn_implementation = "sdpa"
    return cfg


def check_hf(r, rep):
    """The same inputs through Hugging Face's Llama modules."""
    from transformers.models.llama import modeling_llama as ml
    f32 = dict(atol=1e-5, rtol=1e-5)   # HF computes these two in float32

    C = r["rmsnorm.x"].shape[1]
    norm = ml.LlamaRMSNorm(C, eps=r["rmsnorm.eps"].item())
    with torch.no_grad():
        norm.weight.copy_(r["rmsnorm.w"].float())
    rep.cmp("HF LlamaRMSNorm (fp32)", r["rmsnorm.out"],
            norm(r["rmsnorm.x"].float()).double(), **f32)

    for tag in ("rope", "rope_long"):
        NH, NKV, hs = cfg_ints(r, tag + ".cfg")
        theta = r[tag + ".cfg"][3].item()
        x = r[tag + ".x"]
        B, T, _ = x.shape
        emb = ml.LlamaRotaryEmbedding(hf_config(ml, hidden_size=NH * hs, num_attention_heads=NH,
                                                num_key_value_heads=NKV, head_dim=hs,
                                                theta=theta))
        pos = torch.arange(T).unsqueeze(0)
        cos32, sin32 = emb(x.float(), pos)
        table = torch.stack((cos32[0, :, :hs // 2], sin32[0, :, :hs // 2]), dim=-1).double()
        # HF's angles are float32 products t * inv_freq: ~T * 6e-8 rad off
        rep.cmp(f"HF LlamaRotaryEmbedding {tag} (fp32)", r[tag + ".table"], table,
                atol=T * 1.2e-7, rtol=0)
        cos, sin = rope_cos_sin(T, hs, theta)
        q, k, v = split_heads(x, NH, NKV, hs)
        q, k = ml.apply_rotary_pos_emb(q, k, cos.unsqueeze(0), sin.unsqueeze(0))
        out = torch.cat((merge_heads(q), merge_heads(k), merge_heads(v)), dim=-1)
        rep.cmp(f"HF apply_rotary_pos_emb {tag}", r[tag + ".out"], out)

    x = r["mlp.x"]
    F, C = r["mlp.wgu"].shape[0] // 2, x.shape[1]
    mlp = ml.LlamaMLP(hf_config(ml, hidden_size=C, intermediate_size=F,
                                num_attention_heads=1)).double()
    with torch.no_grad():
        mlp.gate_proj.weight.copy_(r["mlp.wgu"][:F])
        mlp.up_proj.weight.copy_(r["mlp.wgu"][F:])
        mlp.down_proj.weight.copy_(r["mlp.wd"])
    x = leaf(x)
    out = mlp(x)
    out.backward(r["mlp.dout"])
    rep.cmp("HF LlamaMLP out", r["mlp.out"], out)
    rep.cmp("HF LlamaMLP dx", r["mlp.dx"], x.grad)
    rep.cmp("HF LlamaMLP dW [gate; up]", r["mlp.dwgu"],
            torch.cat((mlp.gate_proj.weight.grad, mlp.up_proj.weight.grad)))
    rep.cmp("HF LlamaMLP dW down", r["mlp.dwd"], mlp.down_proj.weight.grad)

    NH, NKV, hs = cfg_ints(r, "attn.cfg")
    theta = r["attn.cfg"][3].item()
    x = r["attn.x"]
    B, T, C = x.shape
    att = ml.LlamaAttention(hf_config(ml, hidden_size=C, num_attention_heads=NH,
                                      num_key_value_heads=NKV, head_dim=hs, theta=theta),
                            layer_idx=0).double()
    wq, wk, wv = r["attn.wqkv"].split([NH * hs, NKV * hs, NKV * hs])
    with torch.no_grad():
        att.q_proj.weight.copy_(wq)
        att.k_proj.weight.copy_(wk)
        att.v_proj.weight.copy_(wv)
        att.o_proj.weight.copy_(r["attn.wo"])
    cos, sin = rope_cos_sin(T, hs, theta)
    x = leaf(x)
    out = att(x, position_embeddings=(cos.expand(B, T, hs), sin.expand(B, T, hs)),
              attention_mask=None)[0]
    out.backward(r["attn.dout"])
    rep.cmp("HF LlamaAttention out", r["attn.out"], out)
    rep.cmp("HF LlamaAttention dx", r["attn.dx"], x.grad)
    rep.cmp("HF LlamaAttention dW q|k|v", r["attn.dwqkv"],
            torch.cat((att.q_proj.weight.grad, att.k_proj.weight.grad, att.v_proj.weight.grad)))
    rep.cmp("HF LlamaAttention dWo", r["attn.dwo"], att.o_proj.weight.grad)


def hf_model(ml, cfg, dtype):
    """LlamaForCausalLM of the dumped shape in dtype. For float64, RMSNorm
    and the rotary table are made float64 (HF computes both in float32
    whatever the model's dtype)."""
    import types
    L, NH, NKV, C, F, T, V, Vp, theta, eps, tie, B = cfg
    hc = hf_config(ml, hidden_size=C, intermediate_size=F, num_hidden_layers=L,
                   num_attention_heads=NH, num_key_value_heads=NKV, head_dim=C // NH,
                   vocab_size=V, rms_norm_eps=eps, tie_word_embeddings=bool(tie), theta=theta)
    model = ml.LlamaForCausalLM(hc).to(dtype)
    if dtype == torch.float64:
        def rms64(self, x):
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True)
                                                  + self.variance_epsilon))
        for mod in model.modules():
            if isinstance(mod, ml.LlamaRMSNorm):
                mod.forward = types.MethodType(rms64, mod)
        cos, sin = rope_cos_sin(T, C // NH, theta)
        model.model.rotary_emb.forward = lambda x, position_ids: (
            cos[position_ids].to(x.dtype), sin[position_ids].to(x.dtype))
    return model


def model_cfg(r, tag):
    v = r[tag + ".cfg"].tolist()
    return [int(x) for x in v[:8]] + [v[8], v[9], int(v[10]), int(v[11])]


def load_by_name(model, r, prefix):
    """Copy every dumped tensor PREFIX<HF name> into the parameter of that
    name; every parameter must be covered and every record used."""
    params = dict(model.named_parameters())
    names = [k[len(prefix):] for k in r if k.startswith(prefix)]
    missing = sorted(set(params) - set(names))
    extra = sorted(set(names) - set(params))
    if missing or extra:
        raise SystemExit(f"HF name mismatch: not in the dump {missing}, unknown {extra}")
    with torch.no_grad():
        for n in names:
            params[n].copy_(r[prefix + n].to(params[n].dtype))
    return params


def check_model(r, rep, ml, tag, rtol):
    cfg = model_cfg(r, tag)
    L, NH, NKV, C, F, T, V, Vp, theta, eps, tie, B = cfg
    model = hf_model(ml, cfg, torch.float64)
    params = load_by_name(model, r, tag + ".param.")
    inp, tgt = r[tag + ".inp"].long(), r[tag + ".tgt"].long()
    logits = model(input_ids=inp).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
    loss.backward()
    what = f"{tag} L{L} C{C} {NH}/{NKV} F{F}{' tied' if tie else ''}"
    # relative to each tensor's largest element only: the gradients of the
    # q and k projections are ~1e-4, where an absolute floor would hide a bug
    tol = dict(atol=0.0, rtol=rtol, f64=True)
    rep.cmp(f"{what} logits", r[tag + ".logits"], logits, **tol)
    rep.cmp(f"{what} loss", r[tag + ".loss"], loss.reshape(1), **tol)
    for n, p in params.items():
        short = n.replace("model.", "").replace(".weight", "")
        rep.cmp(f"{tag} d {short}", r[tag + ".grad." + n], p.grad, **tol)
    return model


def check_train(r, rep, ml, tag, tol):
    """The dumped float32 AdamW run, replayed with torch.optim.AdamW."""
    cfg = model_cfg(r, tag)
    V = cfg[6]
    steps, lr, b1, b2, eps, wd, K = r["train.cfg"].tolist()
    model = hf_model(ml, cfg, torch.float32)
    params = load_by_name(model, r, tag + ".param.")
    decay = [p for n, p in params.items() if "norm" not in n]
    no_decay = [p for n, p in params.items() if "norm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(b1, b2), eps=eps, foreach=False, fused=False)
    batches = r["train.batches"].long()
    ref = []
    for s in range(int(steps)):
        chunk = batches[s % int(K)]
        logits = model(input_ids=chunk[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), chunk[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref.append(loss.item())
    got = r["train.losses"]
    ref = torch.tensor(ref, dtype=torch.float64)
    d = (got - ref).abs()
    print(f"{tag} {int(steps)} AdamW steps fp32: loss {ref[0]:.5f} -> {ref[-1]:.5f} (PyTorch), "
          f"{got[0]:.5f} -> {got[-1]:.5f} (Ingot)")
    print(f"  max |loss diff| {d.max():.3e} (step {int(d.argmax())}), at step 10 {d[10]:.3e}, "
          f"last {d[-1]:.3e}; pass: <= {tol:g}")
    if not d.max() <= tol:
        print("  FAIL")
        rep.failed += 1


def main_model(args):
    try:
        from transformers.models.llama import modeling_llama as ml
        import transformers
    except ImportError:
        print("skip: transformers is not importable (pip install transformers)")
        return SKIP
    with tempfile.TemporaryDirectory(prefix="ingot-llama-model-") as tmp:
        path = args.model_dump
        if args.model_driver:
            path = os.path.join(tmp, "model.bin")
            res = subprocess.run([args.model_driver, path], capture_output=True, text=True)
            print(res.stdout, end="")
            if res.returncode != 0:
                print(f"{args.model_driver} failed ({res.returncode}):\n{res.stderr}")
                return 1
        r = read_dump(path)
    rep = Report(args.atol, args.rtol)
    print(f"PyTorch {torch.__version__}, transformers {transformers.__version__}: "
          f"LlamaForCausalLM float64; pass: max|err| <= {args.model_rtol:g} * max|ref|")
    for tag in ("gqa", "mqa"):
        check_model(r, rep, ml, tag, args.model_rtol)
    check_train(r, rep, ml, "gqa", args.train_tol)
    worst = max(rep.rows, key=lambda row: row[2])
    print(f"{rep.failed} over tolerance; against float64, worst max|err| / max|ref| "
          f"{worst[2]:.3e} ({worst[0]})")
    return 1 if rep.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--driver", help="run this ll_torch_dump and check what it writes")
    src.add_argument("--dump", help="check an existing ll_torch_dump file")
    src.add_argument("--model-driver", help="run this ll_model_dump and check its models")
    src.add_argument("--model-dump", help="check an existing ll_model_dump file")
    ap.add_argument("--model-rtol", type=float, default=5e-6,
                    help="whole-model tolerance relative to each tensor's max |ref|")
    ap.add_argument("--train-tol", type=float, default=1e-4,
                    help="largest loss difference over the float32 AdamW run")
    ap.add_argument("--atol", type=float, default=1e-6)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers checks")
    args = ap.parse_args()
    global torch
    try:
        import torch
    except ImportError:
        print("skip: PyTorch is not importable (pip install torch)")
        return SKIP
    torch.set_num_threads(1)   # tiny tensors; keep off the other core
    if args.model_driver or args.model_dump:
        return main_model(args)

    with tempfile.TemporaryDirectory(prefix="ingot-llama-") as tmp:
        path = args.dump
        if args.driver:
            path = os.path.join(tmp, "llama.bin")
            res = subprocess.run([args.driver, path], capture_output=True, text=True)
            if res.returncode != 0:
                print(f"{args.driver} failed ({res.returncode}):\n{res.stdout}{res.stderr}")
                return 1
        r = read_dump(path)

    rep = Report(args.atol, args.rtol)
    print(f"PyTorch {torch.__version__}, float64; pass: max|err| <= "
          f"{args.atol:g} + {args.rtol:g} * max|ref|")
    check_rmsnorm(r, rep)
    check_rope(r, rep, "rope")
    check_rope(r, rep, "rope_long")
    check_mlp(r, rep)
    check_gqa(r, rep, "gqa")
    check_gqa(r, rep, "mqa")
    check_attn(r, rep)
    if args.no_hf:
        pass
    else:
        try:
            import transformers
        except ImportError:
            print("transformers not importable: Hugging Face module checks skipped")
        else:
            print(f"transformers {transformers.__version__}:")
            check_hf(r, rep)
    worst = max(rep.rows, key=lambda row: row[2])
    print(f"{rep.failed} over tolerance; against float64, worst max|err| / max|ref| "
          f"{worst[2]:.3e} ({worst[0]})")
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
