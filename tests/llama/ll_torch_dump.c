/* Writes the inputs of each LLaMA reference op with the outputs and
 * gradients the C reference computes from them, for
 * scripts/torch-llama-reference.py to recompute in PyTorch float64.
 *
 *   ll_torch_dump OUT.bin
 *
 * Format: ll_dumpfile.h. Scalars (eps, theta, head counts) are float64
 * records. The backward of every op is run
 * from zeroed gradients with the upstream gradient stored as "*.dout". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ll_dumpfile.h"
#include "ll_testlib.h"
#include "ref_llama.h"
#include "ref_ops.h"

static void dump_rmsnorm(struct ll_dump *d)
{
    int N = 6, C = 48;
    size_t n = (size_t)N * C;
    double eps = 1e-5;
    float *x = ll_rnd(n, 2), *res = ll_rnd(n, 1), *w = ll_rnd(C, 1), *dout = ll_rnd(n, 1);
    float *out = ll_zeros(n), *rstd = ll_zeros(N), *dx = ll_zeros(n), *dw = ll_zeros(C);
    float *sum = ll_zeros(n), *out2 = ll_zeros(n);
    ref_rmsnorm_fwd(out, rstd, x, w, (float)eps, N, C);
    ref_rmsnorm_bwd(dx, dw, dout, x, w, rstd, N, C);
    ref_residual_rmsnorm_fwd(sum, out2, rstd, res, x, w, (float)eps, N, C);
    ll_dump_f64(d, "rmsnorm", "eps", &eps, 1);
    ll_dump_f32(d, "rmsnorm", "x", x, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "w", w, C, 0, 0);
    ll_dump_f32(d, "rmsnorm", "dout", dout, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "out", out, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "dx", dx, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "dw", dw, C, 0, 0);
    ll_dump_f32(d, "rmsnorm", "res", res, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "res_out", sum, N, C, 0);
    ll_dump_f32(d, "rmsnorm", "res_normed", out2, N, C, 0);
    free(x); free(res); free(w); free(dout); free(out); free(rstd); free(dx); free(dw);
    free(sum); free(out2);
}

/* RoPE on the q and k heads of a packed GQA qkv; v must come back untouched. */
static void dump_rope(struct ll_dump *d, const char *tag, int B, int T, int NH, int NKV, int hs,
                      double theta)
{
    int W = (NH + 2 * NKV) * hs;
    size_t n = (size_t)B * T * W;
    float *cs = ll_zeros((size_t)T * hs), *x = ll_rnd(n, 1), *dout = ll_rnd(n, 1);
    float *out = ll_copy(x, n), *dx = ll_copy(dout, n);
    /* both in place, as the trainer runs them on qkv and dqkv: v passes through */
    ref_rope_table(cs, T, hs, theta);
    ref_rope_fwd(out, out, cs, B, T, NH + NKV, hs, W);
    ref_rope_bwd(dx, dx, cs, B, T, NH + NKV, hs, W);
    double cfg[4] = { NH, NKV, hs, theta };
    ll_dump_f64(d, tag, "cfg", cfg, 4);
    ll_dump_f32(d, tag, "x", x, B, T, W);
    ll_dump_f32(d, tag, "dout", dout, B, T, W);
    ll_dump_f32(d, tag, "out", out, B, T, W);
    ll_dump_f32(d, tag, "dx", dx, B, T, W);
    ll_dump_f32(d, tag, "table", cs, T, hs / 2, 2);
    free(cs); free(x); free(dout); free(out); free(dx);
}

/* The LLaMA MLP: down(silu(x Wg^T) * (x Wu^T)) with [Wg; Wu] as one [2F, C]
 * weight, through ref_matmul and ref_swiglu. */
static void dump_mlp(struct ll_dump *d)
{
    int N = 6, C = 32, F = 88;
    float *x = ll_rnd((size_t)N * C, 1), *wgu = ll_rnd((size_t)2 * F * C, 0.3f);
    float *wd = ll_rnd((size_t)C * F, 0.2f), *dout = ll_rnd((size_t)N * C, 1);
    float *gu = ll_zeros((size_t)N * 2 * F), *h = ll_zeros((size_t)N * F);
    float *out = ll_zeros((size_t)N * C), *dh = ll_zeros((size_t)N * F);
    float *dgu = ll_zeros((size_t)N * 2 * F), *dx = ll_zeros((size_t)N * C);
    float *dwgu = ll_zeros((size_t)2 * F * C), *dwd = ll_zeros((size_t)C * F);
    ref_matmul_fwd(gu, x, wgu, NULL, N, C, 2 * F);
    ref_swiglu_fwd(h, gu, N, F);
    ref_matmul_fwd(out, h, wd, NULL, N, F, C);
    ref_matmul_bwd(dh, dwd, NULL, dout, h, wd, N, F, C);
    ref_swiglu_bwd(dgu, dh, gu, N, F);
    ref_matmul_bwd(dx, dwgu, NULL, dgu, x, wgu, N, C, 2 * F);
    ll_dump_f32(d, "mlp", "x", x, N, C, 0);
    ll_dump_f32(d, "mlp", "wgu", wgu, 2 * F, C, 0);
    ll_dump_f32(d, "mlp", "wd", wd, C, F, 0);
    ll_dump_f32(d, "mlp", "dout", dout, N, C, 0);
    ll_dump_f32(d, "mlp", "gu", gu, N, 2 * F, 0);
    ll_dump_f32(d, "mlp", "h", h, N, F, 0);
    ll_dump_f32(d, "mlp", "out", out, N, C, 0);
    ll_dump_f32(d, "mlp", "dgu", dgu, N, 2 * F, 0);
    ll_dump_f32(d, "mlp", "dx", dx, N, C, 0);
    ll_dump_f32(d, "mlp", "dwgu", dwgu, 2 * F, C, 0);
    ll_dump_f32(d, "mlp", "dwd", dwd, C, F, 0);
    free(x); free(wgu); free(wd); free(dout); free(gu); free(h); free(out); free(dh);
    free(dgu); free(dx); free(dwgu); free(dwd);
}

static void dump_gqa(struct ll_dump *d, const char *tag, int B, int T, int NH, int NKV, int hs)
{
    int W = (NH + 2 * NKV) * hs, C = NH * hs;
    size_t nq = (size_t)B * T * W, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    float *qkv = ll_rnd(nq, 1), *dout = ll_rnd(no, 1), *out = ll_zeros(no);
    float *att = ll_zeros(na), *scratch = ll_zeros(na), *dqkv = ll_zeros(nq);
    ref_gqa_fwd(out, att, qkv, B, T, NH, NKV, hs);
    ref_gqa_bwd(dqkv, scratch, dout, qkv, att, B, T, NH, NKV, hs);
    double cfg[3] = { NH, NKV, hs };
    ll_dump_f64(d, tag, "cfg", cfg, 3);
    ll_dump_f32(d, tag, "qkv", qkv, B, T, W);
    ll_dump_f32(d, tag, "dout", dout, B, T, C);
    ll_dump_f32(d, tag, "out", out, B, T, C);
    ll_dump_f32(d, tag, "dqkv", dqkv, B, T, W);
    free(qkv); free(dout); free(out); free(att); free(scratch); free(dqkv);
}

/* A LLaMA attention block as the trainer composes it: qkv = x Wqkv^T (Wqkv =
 * [Wq; Wk; Wv], Hugging Face's q_proj, k_proj, v_proj stacked), RoPE in place
 * on q and k, grouped-query attention, out = y Wo^T; backward in reverse with
 * RoPE's backward in place on dqkv. */
static void dump_attn(struct ll_dump *d)
{
    int B = 2, T = 17, C = 48, NH = 4, NKV = 2, hs = 12, N = B * T;
    int W = (NH + 2 * NKV) * hs, Y = NH * hs;
    double theta = 10000.0;
    size_t na = (size_t)B * NH * T * T;
    float *x = ll_rnd((size_t)N * C, 1), *wqkv = ll_rnd((size_t)W * C, 0.3f);
    float *wo = ll_rnd((size_t)C * Y, 0.3f), *dout = ll_rnd((size_t)N * C, 1);
    float *cs = ll_zeros((size_t)T * hs), *qkv = ll_zeros((size_t)N * W);
    float *y = ll_zeros((size_t)N * Y), *att = ll_zeros(na), *scratch = ll_zeros(na);
    float *out = ll_zeros((size_t)N * C), *dy = ll_zeros((size_t)N * Y);
    float *dqkv = ll_zeros((size_t)N * W), *dx = ll_zeros((size_t)N * C);
    float *dwqkv = ll_zeros((size_t)W * C), *dwo = ll_zeros((size_t)C * Y);
    ref_rope_table(cs, T, hs, theta);
    ref_matmul_fwd(qkv, x, wqkv, NULL, N, C, W);
    ref_rope_fwd(qkv, qkv, cs, B, T, NH + NKV, hs, W);
    ref_gqa_fwd(y, att, qkv, B, T, NH, NKV, hs);
    ref_matmul_fwd(out, y, wo, NULL, N, Y, C);
    ref_matmul_bwd(dy, dwo, NULL, dout, y, wo, N, Y, C);
    ref_gqa_bwd(dqkv, scratch, dy, qkv, att, B, T, NH, NKV, hs);
    ref_rope_bwd(dqkv, dqkv, cs, B, T, NH + NKV, hs, W);
    ref_matmul_bwd(dx, dwqkv, NULL, dqkv, x, wqkv, N, C, W);
    double cfg[4] = { NH, NKV, hs, theta };
    ll_dump_f64(d, "attn", "cfg", cfg, 4);
    ll_dump_f32(d, "attn", "x", x, B, T, C);
    ll_dump_f32(d, "attn", "wqkv", wqkv, W, C, 0);
    ll_dump_f32(d, "attn", "wo", wo, C, Y, 0);
    ll_dump_f32(d, "attn", "dout", dout, B, T, C);
    ll_dump_f32(d, "attn", "out", out, B, T, C);
    ll_dump_f32(d, "attn", "dx", dx, B, T, C);
    ll_dump_f32(d, "attn", "dwqkv", dwqkv, W, C, 0);
    ll_dump_f32(d, "attn", "dwo", dwo, C, Y, 0);
    free(x); free(wqkv); free(wo); free(dout); free(cs); free(qkv); free(y); free(att);
    free(scratch); free(out); free(dy); free(dqkv); free(dx); free(dwqkv); free(dwo);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.bin\n", argv[0]);
        return 2;
    }
    struct ll_dump d;
    if (ll_dump_open(&d, argv[1]))
        return 1;
    ll_seed(7);
    dump_rmsnorm(&d);
    dump_rope(&d, "rope", 2, 37, 4, 2, 16, 10000.0);
    dump_rope(&d, "rope_long", 1, 300, 2, 1, 64, 500000.0);
    dump_mlp(&d);
    dump_gqa(&d, "gqa", 2, 19, 6, 2, 16);
    dump_gqa(&d, "mqa", 2, 13, 4, 1, 8);
    dump_attn(&d);
    return ll_dump_close(&d);
}
