/* Inference with a trained model: key/value-cached forward passes on the CPU
 * (tr_generate_kv.c: GPT-2, tr_generate_kv_llama.c: LLaMA) and on a GPU
 * (tr_generate_kv_cuda.c), and the `ingot-train generate` and `ingot-train
 * eval` subcommands (tr_generate.c, tr_generate_eval.c). */
#ifndef INGOT_TR_GENERATE_H
#define INGOT_TR_GENERATE_H

#include "backend.h"

/* An inference-only back end for tr_sample(): create() keeps a copy of the
 * weights and a key/value cache of seq_len positions per layer; logits()
 * runs the forward only over the tokens that extend the context it already
 * holds (one token per call while generating), and recomputes the whole
 * window when the context is not an extension of the cached one (a new
 * prompt, or the window sliding past seq_len: learned absolute positions
 * cannot be shifted, and RoPE'd keys are recomputed too, so that the logits
 * stay those of the full forward over the window). GPT-2 and --arch llama
 * (whose cache holds the NKV key/value heads only). Only available, create,
 * logits, mem_bytes and destroy are set; its logits equal the CPU back end's
 * to float rounding. */
extern const struct tr_backend_ops tr_backend_cpu_kv;

/* The same on a GPU (CUDA builds): weights, cache and activations in one
 * device allocation, fp32 or bf16 (--precision), one host wait per logits()
 * call (the download of the logits row). */
extern const struct tr_backend_ops tr_backend_cuda_kv;

/* Cached positions reused by the last logits() call of either back end above
 * (for tests): how many tokens of that context were not recomputed. */
int tr_kv_reused(const tr_backend *b);

/* `ingot-train generate CKPT --prompt TEXT ...` and `ingot-train eval CKPT
 * --data DIR ...`; argv[0] is the subcommand. 0, 1 after --help, or a
 * negative code with a message. */
int tr_generate_main(int argc, char **argv);
int tr_eval_main(int argc, char **argv);

#endif
