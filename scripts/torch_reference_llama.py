"""The LLaMA side of scripts/torch-reference.py: Ingot's --arch llama model
(train/tr_cpu_llama.c, layout train/tr_llama_params.h) as NumPy and PyTorch
code, written from the model's definition in docs/llama.md, not from Hugging
Face's classes (so the parity needs torch only): RMSNorm (x * rsqrt(mean(x^2)
+ eps) * g), RoPE with rotate_half pairing (dims i and i + hs/2), grouped-query
attention (query head h reads kv head h / (NH / NKV)), SwiGLU (silu(gate) *
up, wgateup's rows gate then up), no biases, lm_head or the tied wte.

cfg: the dict read_dump / read_checkpoint return, with the llama keys NKV, F,
theta, eps, tie."""
import math

import numpy as np


def param_shapes(cfg):
    """(name, shape) in storage order; lm_head has no elements when tied."""
    L, NH, NKV, C, F, Vp = (cfg[k] for k in ("L", "NH", "NKV", "C", "F", "Vp"))
    hs = C // NH
    shapes = [("wte", (Vp, C)), ("attn_norm", (L, C)), ("wqkv", (L, (NH + 2 * NKV) * hs, C)),
              ("wo", (L, C, NH * hs)), ("ffn_norm", (L, C)), ("wgateup", (L, 2 * F, C)),
              ("wdown", (L, C, F)), ("norm", (C,))]
    if not cfg["tie"]:
        shapes.append(("lm_head", (Vp, C)))
    return shapes


def rope_cos_sin(xp, T, hs, theta):
    """[T, hs] cos and sin in float64 (xp: numpy or torch): angle t theta^(-2i/hs)
    for dims i and i + hs/2."""
    inv = 1.0 / (theta ** (np.arange(0, hs, 2, dtype=np.float64) / hs))
    ang = np.outer(np.arange(T, dtype=np.float64), inv)
    ang = np.concatenate((ang, ang), axis=-1)
    cos, sin = np.cos(ang), np.sin(ang)
    return (cos, sin) if xp is np else (xp.from_numpy(cos), xp.from_numpy(sin))


def np_forward(p, cfg, idx):
    """Logits [B, T, Vp] in float64."""
    L, NH, NKV, C, F = (cfg[k] for k in ("L", "NH", "NKV", "C", "F"))
    eps, hs, rep = float(cfg["eps"]), C // NH, NH // NKV
    B, T = idx.shape
    p = {k: v.astype(np.float64) for k, v in p.items()}
    cos, sin = rope_cos_sin(np, T, hs, cfg["theta"])

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rope(x):   # [B, H, T, hs]
        h = hs // 2
        return x * cos + np.concatenate((-x[..., h:], x[..., :h]), axis=-1) * sin

    def heads(x, n):
        return x.reshape(B, T, n, hs).transpose(0, 2, 1, 3)

    x = p["wte"][idx]
    mask = np.triu(np.ones((T, T), dtype=bool), 1)
    for l in range(L):
        qkv = rms(x, p["attn_norm"][l]) @ p["wqkv"][l].T
        q = rope(heads(qkv[..., :NH * hs], NH))
        k = rope(heads(qkv[..., NH * hs:(NH + NKV) * hs], NKV)).repeat(rep, axis=1)
        v = heads(qkv[..., (NH + NKV) * hs:], NKV).repeat(rep, axis=1)
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hs)
        s = np.where(mask, -np.inf, s)
        s = np.exp(s - s.max(-1, keepdims=True))
        y = (s / s.sum(-1, keepdims=True)) @ v
        x = x + y.transpose(0, 2, 1, 3).reshape(B, T, NH * hs) @ p["wo"][l].T
        gu = rms(x, p["ffn_norm"][l]) @ p["wgateup"][l].T
        g, u = gu[..., :F], gu[..., F:]
        x = x + (g / (1.0 + np.exp(-g)) * u) @ p["wdown"][l].T
    head = p["wte"] if cfg["tie"] else p["lm_head"]
    return rms(x, p["norm"]) @ head.T


def mean_loss(torch, logits, targets, V):
    """Mean cross-entropy over the V real logits of [B, T, Vp] (the padded [V, Vp) take no
    part, as in Ingot), in float32 at least: both models' loss (torch-reference.py's
    GPT-2 too)."""
    lg = logits[..., :V].reshape(-1, V)
    if lg.dtype in (torch.float16, torch.bfloat16):
        lg = lg.float()
    return torch.nn.functional.cross_entropy(lg, targets.reshape(-1))


def build_torch_model(torch, cfg, sdpa):
    """An nn.Module whose forward(idx, targets) gives (logits [B, T, Vp], mean
    loss over the V real logits); its parameters carry Ingot's tensor names
    (tensors())."""
    nn, Fn = torch.nn, torch.nn.functional
    L, NH, NKV, C, F, V, Vp = (cfg[k] for k in ("L", "NH", "NKV", "C", "F", "V", "Vp"))
    eps, hs, rep = float(cfg["eps"]), C // NH, NH // NKV
    cos64, sin64 = rope_cos_sin(torch, cfg["T"], hs, cfg["theta"])

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(C))

        def forward(self, x):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.weight

    def rope(x, cos, sin):
        h = hs // 2
        return x * cos + torch.cat((-x[..., h:], x[..., :h]), dim=-1) * sin

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm = RMSNorm()
            self.wqkv = nn.Linear(C, (NH + 2 * NKV) * hs, bias=False)
            self.wo = nn.Linear(NH * hs, C, bias=False)
            self.ffn_norm = RMSNorm()
            self.wgateup = nn.Linear(C, 2 * F, bias=False)
            self.wdown = nn.Linear(F, C, bias=False)

        def forward(self, x, cos, sin):
            B_, T_, _ = x.shape
            q, k, v = self.wqkv(self.attn_norm(x)).split([NH * hs, NKV * hs, NKV * hs], dim=-1)
            q = rope(q.view(B_, T_, NH, hs).transpose(1, 2), cos, sin)
            k = rope(k.view(B_, T_, NKV, hs).transpose(1, 2), cos, sin)
            v = v.view(B_, T_, NKV, hs).transpose(1, 2)
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            if sdpa:
                y = Fn.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
                mask = torch.ones(T_, T_, dtype=torch.bool, device=x.device).triu(1)
                y = att.masked_fill(mask, float("-inf")).softmax(-1) @ v
            x = x + self.wo(y.transpose(1, 2).reshape(B_, T_, NH * hs))
            g, u = self.wgateup(self.ffn_norm(x)).split(F, dim=-1)
            return x + self.wdown(Fn.silu(g) * u)

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(Vp, C)
            self.h = nn.ModuleList(Block() for _ in range(L))
            self.norm = RMSNorm()
            self.lm_head = None if cfg["tie"] else nn.Linear(C, Vp, bias=False)

        def forward(self, idx, targets=None):
            T_ = idx.shape[1]
            x = self.wte(idx)
            cos = cos64[:T_].to(x.device, x.dtype)
            sin = sin64[:T_].to(x.device, x.dtype)
            for b in self.h:
                x = b(x, cos, sin)
            head = self.wte.weight if self.lm_head is None else self.lm_head.weight
            logits = Fn.linear(self.norm(x), head)
            loss = None if targets is None else mean_loss(torch, logits, targets, V)
            return logits, loss

    return Llama()


def tensors(model):
    """Ingot tensor name -> list of (torch parameter, layer or None)."""
    m = {"wte": [(model.wte.weight, None)], "norm": [(model.norm.weight, None)]}
    if model.lm_head is not None:
        m["lm_head"] = [(model.lm_head.weight, None)]
    for name, attr in (("attn_norm", "attn_norm.weight"), ("wqkv", "wqkv.weight"),
                       ("wo", "wo.weight"), ("ffn_norm", "ffn_norm.weight"),
                       ("wgateup", "wgateup.weight"), ("wdown", "wdown.weight")):
        m[name] = [(b.get_parameter(attr), l) for l, b in enumerate(model.h)]
    return m
