#!/usr/bin/env python3
"""scripts/torch_kernel_profile.py without PyTorch: kernel names as cuBLAS,
cuBLASLt (nvjet), FlashAttention, cuDNN, torch.compile (Triton) and fused
AdamW name them fall into the kind the step comparison needs, and the
summary gives milliseconds per step, largest kernel first.
usage: test_torch_kernel_profile.py SCRIPTS_DIR"""
import importlib.util
import os
import sys


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    path = os.path.join(sys.argv[1], "torch_kernel_profile.py")
    spec = importlib.util.spec_from_file_location("torch_kernel_profile", path)
    kp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kp)
    cases = [
        ("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_"
         "execute_segment_k_off_kernel__5x_cublas", "products"),
        ("nvjet_tst_256x128_64x4_1x2_h_bz_coopA_TNT", "products"),
        ("void cutlass::Kernel2<cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_"
         "align8>(cutlass_80_wmma_tensorop_bf16_s161616gemm_bf16_16x16_128x2_tn_align8::Params)",
         "products"),
        ("triton_tem_fused_mm_0", "products"),
        ("void pytorch_flash::flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_"
         "traits<64, 128, 128, 8, 2, 4, 2, false, false, cutlass::bfloat16_t>, true, true>"
         "(pytorch_flash::Flash_bwd_params)", "attention"),
        ("cudnn_generated_fort_native_sdpa_sm90_flash_bprop_wgmma_f16_knob_3_64x128x64_4x1x1",
         "attention"),
        ("triton_poi_fused__scaled_dot_product_flash_attention_view_0", "other"),
        ("triton_per_fused__to_copy_add_native_layer_norm_0", "other"),
        ("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::"
         "(anonymous namespace)::FusedAdamMathFunctor<float, 4>>", "optimizer"),
        ("void at::native::lpnorm_cleanup<float, (at::native::NormType)1, float, float>", "other"),
    ]
    for name, want in cases:
        got = kp.kind_of(name)
        if got != want:
            fail(f"{name[:60]}...: kind {got}, expected {want}")
    # two steps: per-step milliseconds and calls, largest kernel first
    kernels = [("nvjet_a", 3000.0), ("nvjet_a", 3000.0), ("flash_fwd", 1000.0),
               ("flash_fwd", 1200.0), ("triton_poi_fused_add_0", 400.0),
               ("multi_tensor_apply_kernel<FusedAdam>", 600.0)]
    by_kind, top = kp.summarise(kernels, 2)
    want = {"products": 3.0, "attention": 1.1, "other": 0.2, "optimizer": 0.3}
    for k, v in want.items():
        if abs(by_kind[k] - v) > 1e-9:
            fail(f"{k}: {by_kind[k]} ms per step, expected {v}")
    if [r[0] for r in top] != ["nvjet_a", "flash_fwd", "multi_tensor_apply_kernel<FusedAdam>",
                               "triton_poi_fused_add_0"]:
        fail(f"largest-first order wrong: {top}")
    if abs(top[0][1] - 3.0) > 1e-9 or abs(top[0][2] - 1.0) > 1e-9:
        fail(f"nvjet_a: {top[0][1]} ms and {top[0][2]} calls per step, expected 3.0 and 1.0")
    print(f"torch_kernel_profile: {len(cases)} names classified, summary ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
