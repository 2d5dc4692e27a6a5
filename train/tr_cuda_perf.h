/* Figures for MFU (model FLOPs utilisation): the model's training FLOPs per
 * token and the GPU's dense peak. */
#ifndef INGOT_TR_CUDA_PERF_H
#define INGOT_TR_CUDA_PERF_H

#include <stdbool.h>

#include "tr_params.h"

/* Training FLOPs per token, PaLM appendix B style (as llm.c counts):
 *   6 * (n_params - T*C)   every weight in a matmul: 2 FLOPs per
 *                          multiply-add forward, 4 backward (the position
 *                          table is a lookup, not a product; the tied wte
 *                          counts once, for the output head)
 * + 12 * L * T * C         attention scores and weighted sum (q k^T and
 *                          att v: 2 * 2 * T * C per layer forward, x3 with
 *                          backward), counted over the full T x T square as
 *                          PaLM does, although the causal half is skipped.
 * LayerNorm, GELU, softmax and the optimizer are not counted. */
double tr_flops_per_token(const struct tr_config *c);

/* Dense peak in TFLOP/s of the GPU called name (cudaDeviceProp.name) for
 * bf16 tensor-core products (bf16) or plain float32 FMA without TF32 (the
 * fp32 mode), from NVIDIA's data sheets: A100 312 / 19.5, H100 SXM 989 / 67,
 * H100 PCIe 756 / 51, H100 NVL 835 / 60, H200 and GH200 989 / 67. 0 when
 * the GPU is not in the table (pass --peak-tflops). */
double tr_peak_tflops(const char *name, bool bf16);

#endif
