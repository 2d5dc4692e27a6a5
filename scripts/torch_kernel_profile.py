"""GPU time per step of a PyTorch training step, by kind of kernel.

Used by torch-reference.py --bench and torch-llama-bench.py with
--kernel-profile N: N more steps run under torch.profiler (CUDA activity
only), and every kernel's device time is summed into one of four kinds, by
its name: matrix products (cuBLAS, cuBLASLt, CUTLASS, nvjet), attention
(flash, cuDNN, memory-efficient SDPA), optimizer (fused AdamW, the gradient
norm's foreach kernels) and everything else (torch.compile's Triton
kernels: LayerNorm, GELU, residual adds, the loss). The same split as
Ingot's gpu_op_bench prints, so the two steps can be compared kind by kind
(docs/performance.md, "where the step goes").
"""
import re

# first match wins: attention before products (FlashAttention's kernels
# name cutlass types in their template arguments)
KINDS = (
    ("attention", re.compile(r"flash|fmha|attention|attn|sdpa|cudnn", re.IGNORECASE)),
    ("products", re.compile(r"gemm|nvjet|xmma|cutlass|cublas|Kernel2|splitK|s16816|s1688",
                            re.IGNORECASE)),
    ("optimizer", re.compile(r"adam|multi_tensor|foreach|clip", re.IGNORECASE)),
)


def kind_of(name):
    """The kind of a kernel, from its (mangled or demangled) name.
    torch.compile's Triton kernels are named after the operations they fuse
    (triton_poi_fused__scaled_dot_product_flash_attention_0 is a layout copy
    before the attention), so a Triton name counts as "other", except its
    matmul templates (triton_tem_fused_mm_0, with max-autotune)."""
    if name.startswith("triton_tem"):
        return "products"
    if name.startswith("triton_"):
        return "other"
    for kind, rx in KINDS:
        if rx.search(name):
            return kind
    return "other"


def summarise(kernels, steps):
    """kernels: (name, device microseconds) pairs over `steps` steps.
    Returns (ms per step by kind, [(name, ms per step, calls per step)] largest
    first)."""
    by_kind = {k: 0.0 for k, _ in KINDS}
    by_kind["other"] = 0.0
    by_name = {}
    for name, us in kernels:
        by_kind[kind_of(name)] += us / 1e3 / steps
        ms, n = by_name.get(name, (0.0, 0))
        by_name[name] = (ms + us / 1e3 / steps, n + 1)
    top = sorted(((n, ms, c / steps) for n, (ms, c) in by_name.items()), key=lambda r: -r[1])
    return by_kind, top


def _kernel_events(prof, torch):
    """(name, device us) of every GPU kernel the profiler recorded."""
    cuda = torch.autograd.DeviceType.CUDA
    out = []
    for e in prof.events():
        if getattr(e, "device_type", None) != cuda:
            continue
        us = getattr(e, "device_time", None)
        if us is None:
            us = getattr(e, "cuda_time", 0.0)
        out.append((e.name, float(us)))
    return out


def kernel_profile(torch, step, steps, wall_ms_per_step, top=12):
    """Runs `steps` more calls of step() under the profiler and prints the
    GPU time per step by kind and the largest kernels. wall_ms_per_step: the
    timed run's step, printed beside the kernels' sum (launch gaps and the
    profiler's own cost make up the difference)."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
    kernels = _kernel_events(prof, torch)
    if not kernels:
        print("kernel profile: the profiler recorded no GPU kernels")
        return None
    by_kind, rows = summarise(kernels, steps)
    total = sum(by_kind.values())
    if total <= 0:
        print("kernel profile: the recorded kernels took no device time")
        return None
    print(f"kernel profile ({steps} steps): GPU kernels {total:.2f} ms per step, "
          f"timed step {wall_ms_per_step:.2f} ms")
    for kind in ("products", "attention", "other", "optimizer"):
        print(f"  {kind:<10} {by_kind[kind]:9.2f} ms  {100 * by_kind[kind] / total:5.1f}%")
    print(f"  largest kernels (ms per step, calls per step):")
    for name, ms, calls in rows[:top]:
        print(f"    {ms:8.2f} {calls:6.1f}  [{kind_of(name)}] {name[:110]}")
    return by_kind
