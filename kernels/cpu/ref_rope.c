/* Rotary position embeddings, Hugging Face "rotate_half" pairing.
 *
 * Why this pairing: Meta's original LLaMA code rotates adjacent channels
 * (2i, 2i+1) as complex numbers; Hugging Face's LlamaForCausalLM rotates
 * channel i with i + hs/2 (x * cos + rotate_half(x) * sin, rotate_half(x) =
 * [-x2, x1]) and its conversion script permutes the rows of Meta's q and k
 * weights to fit. Export targets LlamaForCausalLM, and every model trained
 * with that pairing (TinyLlama, SmolLM, Qwen, Mistral as published on the Hub)
 * loads unchanged, so Ingot uses the same pairing: q and k weights go out as
 * they are. The two pairings give the same attention scores up to that fixed
 * permutation of the head's channels. */
#include <assert.h>
#include <math.h>

#include "ref_llama.h"
#include "ref_par.h"
#include "ref_rope_expand.h"

void ref_rope_table(float *cs, int T, int hs, double theta)
{
    assert(hs > 0 && hs % 2 == 0);
    int half = hs / 2;
    for (int i = 0; i < half; i++) {
        /* inv_freq_i = theta^(-2i/hs), as HF's 1 / base^(arange(0, hs, 2) / hs) */
        double inv_freq = pow(theta, -2.0 * i / hs);
        for (int t = 0; t < T; t++) {
            double a = t * inv_freq;
            cs[((size_t)t * half + i) * 2] = (float)cos(a);
            cs[((size_t)t * half + i) * 2 + 1] = (float)sin(a);
        }
    }
}

/* Rotate the pairs (i, i + hs/2) of one head by +angle (sign 1) or -angle
 * (sign -1). Both inputs are read before either output is written, so
 * out == inp is safe. */
static inline void rotate_head(float *o, const float *x, const float *cs, int half, float sign)
{
    for (int i = 0; i < half; i++) {
        float c = cs[2 * i], s = sign * cs[2 * i + 1];
        float x1 = x[i], x2 = x[i + half];
        o[i] = x1 * c - x2 * s;
        o[i + half] = x2 * c + x1 * s;
    }
}

static void rope_apply(float *out, const float *inp, const float *cs, int B, int T, int nh,
                       int hs, int stride, float sign)
{
    assert(hs > 0 && hs % 2 == 0 && (size_t)nh * hs <= (size_t)stride);
    int half = hs / 2;
#pragma omp parallel for collapse(2) schedule(static) REF_PAR((size_t)B * T * nh * hs * 2)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t row = ((size_t)b * T + t) * stride;
            const float *c = cs + (size_t)t * half * 2;
            for (int h = 0; h < nh; h++)
                rotate_head(out + row + (size_t)h * hs, inp + row + (size_t)h * hs, c, half, sign);
        }
}

void ref_rope_fwd(float *out, const float *inp, const float *cs, int B, int T, int nh, int hs,
                  int stride)
{
    rope_apply(out, inp, cs, B, T, nh, hs, stride, 1.0f);
}

/* The transpose of a rotation is the rotation by the opposite angle. */
void ref_rope_bwd(float *dinp, const float *dout, const float *cs, int B, int T, int nh, int hs,
                  int stride)
{
    rope_apply(dinp, dout, cs, B, T, nh, hs, stride, -1.0f);
}

/* Expansion = rope on q and k in place on a copy, then repeat_kv: written as
 * the composition so that it reads as the definition. */
void ref_rope_expand_fwd(float *out, const float *qkv, const float *cs, int B, int T, int NH,
                         int NKV, int hs)
{
    assert(NKV > 0 && NH % NKV == 0);
    const int W = (NH + 2 * NKV) * hs, C = NH * hs, rep = NH / NKV, half = hs / 2;
#pragma omp parallel for collapse(2) schedule(static) REF_PAR((size_t)B * T * 3 * C)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t row = (size_t)b * T + t;
            const float *x = qkv + row * W, *c = cs + (size_t)t * half * 2;
            float *o = out + row * 3 * C;
            for (int h = 0; h < NH; h++) {
                const int g = h / rep;
                rotate_head(o + (size_t)h * hs, x + (size_t)h * hs, c, half, 1.0f);
                rotate_head(o + C + (size_t)h * hs, x + (size_t)(NH + g) * hs, c, half, 1.0f);
                for (int d = 0; d < hs; d++)
                    o[2 * C + h * hs + d] = x[(NH + NKV + g) * hs + d];
            }
        }
}

void ref_rope_expand_bwd(float *dqkv, const float *d3, const float *cs, int B, int T, int NH,
                         int NKV, int hs)
{
    assert(NKV > 0 && NH % NKV == 0);
    const int W = (NH + 2 * NKV) * hs, C = NH * hs, rep = NH / NKV, half = hs / 2;
#pragma omp parallel for collapse(2) schedule(static) REF_PAR((size_t)B * T * 3 * C)
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            size_t row = (size_t)b * T + t;
            const float *d = d3 + row * 3 * C, *c = cs + (size_t)t * half * 2;
            float *o = dqkv + row * W;
            for (int h = 0; h < NH; h++)
                rotate_head(o + (size_t)h * hs, d + (size_t)h * hs, c, half, -1.0f);
            for (int g = 0; g < NKV; g++) {
                float *dk = o + (size_t)(NH + g) * hs, *dv = o + (size_t)(NH + NKV + g) * hs;
                for (int e = 0; e < hs; e++) {
                    float sk = 0.0f, sv = 0.0f;
                    for (int r = 0; r < rep; r++) {
                        sk += d[C + (g * rep + r) * hs + e];
                        sv += d[2 * C + (g * rep + r) * hs + e];
                    }
                    dk[e] = sk;
                    dv[e] = sv;
                }
                rotate_head(dk, dk, c, half, -1.0f);
            }
        }
}
