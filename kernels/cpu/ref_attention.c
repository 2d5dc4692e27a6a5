/* Causal multi-head self-attention on a packed qkv tensor [B, T, 3C]: the
 * grouped-query reference (ref_gqa.c) with as many kv heads as query heads,
 * whose loops compute the same sums in the same order as multi-head
 * attention always did here (one implementation, so GPT-2 and LLaMA
 * attention can never drift apart). */
#include "ref_llama.h"
#include "ref_ops.h"

void ref_attention_fwd(float *out, float *att, const float *qkv, int B, int T, int C, int NH)
{
    ref_gqa_fwd(out, att, qkv, B, T, NH, NH, C / NH);
}

void ref_attention_bwd(float *dqkv, float *scratch, const float *dout, const float *qkv,
                       const float *att, int B, int T, int C, int NH)
{
    ref_gqa_bwd(dqkv, scratch, dout, qkv, att, B, T, NH, NH, C / NH);
}
