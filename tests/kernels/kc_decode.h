/* kn_decode_attention (kernels/decode.h) against ref_decode_attention
 * (kernels/cpu/ref_decode.h): a kernel-check unit that kernel_check.c and
 * test_decode_kernel.c both run. */
#ifndef INGOT_KC_DECODE_H
#define INGOT_KC_DECODE_H

#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Checks decode shapes (one row at p0 = 0 .. 1023, MHA, GQA, MQA, head sizes
 * 8 .. 256 and not a multiple of 32) and prefill shapes (several rows, p0 > 0),
 * each with the positions in one block per (head, row) and split over
 * several (scratch given), on random inputs from seed, in float32 (prec_mask bit 0) and bf16 (bit 1),
 * |gpu - ref| <= abs + rel |ref| per element (fp32: 1e-5 + 1e-4, bf16:
 * 1e-2 + 1e-2 on bf16-rounded inputs). Outputs are poisoned first, so a
 * missed element fails. bench != 0: also times a LLaMA-8B-like decode step
 * (32 heads over 8, hs 128) at contexts 1k, 4k and 16k, median of reps calls, and
 * prints µs and the GB/s of the cache read, split and not. Prints one line per case.
 * Returns the number of failed checks (a CUDA error counts as one). */
int kc_decode_run(uint64_t seed, int prec_mask, int bench, int reps, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
