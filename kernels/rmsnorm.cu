/* RMSNorm forward (plain and fused with the residual add) and backward.
 *
 * Forward: one warp per row. Where the row is a whole number of 16-byte
 * packs (at most 16 per lane) and the buffers are aligned, the row is held in
 * registers (rms_fwd_vec_kernel, layernorm.cu's scheme): res and x read once
 * in 16-byte loads, res_out and out written once. Otherwise the scalar
 * kernel reads the row twice (sum of squares, then the output), the second
 * time from L1/L2.
 * Backward: one warp per row, as layernorm.cu (vectorised where the forward
 * is, up to 8 packs per lane): each warp accumulates dw for
 * its rows in its own shared-memory slice (lane-owned channels, no atomics),
 * the block adds its warps' slices in warp order into a per-block partial,
 * and a second kernel adds the partials in block order into dw. Row-to-block
 * assignment depends only on N, so the result is the same on every run.
 * Wide rows (6 or more packs per lane: the warp kernel spills there) take a
 * block per row instead (rms_bwd_row_kernel): a pack per thread, the row's
 * sum across the block, dw in each thread's registers. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kn_device.cuh"
#include "rmsnorm.h"

enum {
    RMS_FWD_WARPS = 8,
    RMS_BWD_ROWS_PER_WARP = 4, /* target; sets the block count */
    RMS_BWD_MAX_BLOCKS = 512,
    RMS_MAX_C_FWD = 16384,
    RMS_MAX_C_BWD = 8192,
    RMS_BWD_SMEM_WIDE = 3072, /* above this C, 4 warps per block (shared memory) */
    RMS_RED_COLS = 32,        /* final reduction: channels per block */
    RMS_RED_GROUPS = 32,      /* final reduction: partial groups per block, a warp each
                               * (more loads in flight over the row kernel's ~1k partials:
                               * llama-1b's 45 calls 4.98 -> 4.85 ms against 8, H100) */
    RMS_ROW_MIN_PACKS = 192,  /* wide rows (bf16 C >= 1536): a block per row */
    RMS_ROW_MAX_PACKS = 1024,
    RMS_ROW_ROWS = 16,        /* target rows per block of the row kernel */
    RMS_ROW_MAX_BLOCKS = 1024,
};

/* With RES: res_out = res + x first (rounded to T), and the row statistics
 * are taken from the rounded values. */
template <typename T, bool RES>
static __global__ void __launch_bounds__(RMS_FWD_WARPS * 32)
rms_fwd_kernel(T *res_out, T *out, float *rstd, const T *res, const T *x, const T *w,
               float eps, int N, int C)
{
    int row = blockIdx.x * RMS_FWD_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= N)
        return; /* whole warp leaves together */
    size_t o = (size_t)row * C;
    const T *in = x + o;
    float ss = 0.0f;
    if (RES) {
        for (int c = lane; c < C; c += 32) {
            T v = kn_st<T>(kn_f(res[o + c]) + kn_f(x[o + c]));
            res_out[o + c] = v;
            float f = kn_f(v);
            ss += f * f;
        }
        __syncwarp();
        in = res_out + o; /* each lane re-reads only what it wrote */
    } else {
        for (int c = lane; c < C; c += 32) {
            float f = kn_f(in[c]);
            ss += f * f;
        }
    }
    float s = 1.0f / sqrtf(kn_warp_sum(ss) / C + eps);
    T *op = out + o;
    for (int c = lane; c < C; c += 32)
        op[c] = kn_st<T>(kn_f(in[c]) * s * kn_f(w[c]));
    if (lane == 0 && rstd)
        rstd[row] = s;
}

/* The vectorised forward: lane l holds packs l, l+32, ... of its warp's row.
 * With RES the row is res + x rounded to T (and stored), and the statistics
 * are those of the rounded values, as in the scalar kernel. Needs C % P == 0,
 * C <= 32 * MAXP * P, 16-byte aligned rows. */
template <typename T, bool RES, int MAXP>
static __global__ void __launch_bounds__(RMS_FWD_WARPS * 32)
rms_fwd_vec_kernel(T *res_out, T *out, float *rstd, const T *res, const T *x, const T *w,
                   float eps, int N, int C)
{
    const int P = kn_pack<T>::n;
    int row = blockIdx.x * RMS_FWD_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const int np = C / P;
    const size_t base = (size_t)row * C;
    kn_pack<T> v[MAXP];
    float ss = 0.0f;
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = lane + 32 * k;
        if (j < np) {
            v[k] = kn_ld_pack(x + base + (size_t)j * P);
            if (RES) {
                kn_pack<T> r = kn_ld_pack(res + base + (size_t)j * P);
#pragma unroll
                for (int e = 0; e < P; e++)
                    v[k].v[e] = kn_st<T>(kn_f(r.v[e]) + kn_f(v[k].v[e]));
                kn_st_pack(res_out + base + (size_t)j * P, v[k]);
            }
#pragma unroll
            for (int e = 0; e < P; e++) {
                float f = kn_f(v[k].v[e]);
                ss += f * f;
            }
        }
    }
    const float s = 1.0f / sqrtf(kn_warp_sum(ss) / C + eps);
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = lane + 32 * k;
        if (j < np) {
            kn_pack<T> wp = kn_ld_pack(w + (size_t)j * P), o;
#pragma unroll
            for (int e = 0; e < P; e++)
                o.v[e] = kn_st<T>(kn_f(v[k].v[e]) * s * kn_f(wp.v[e]));
            kn_st_pack(out + base + (size_t)j * P, o);
        }
    }
    if (lane == 0 && rstd)
        rstd[row] = s;
}

/* Whole packs per row, at most 16 per lane, aligned buffers; INGOT_RMS_VEC=0
 * turns the vectorised forward off (before/after timings; same math). */
template <typename T>
static bool rms_vec_ok(int C, const void *a, const void *b, const void *c, const void *d = 0,
                       const void *e = 0)
{
    static int on = -1;
    const int P = kn_pack<T>::n;
    return kn_env_on_once(&on, "INGOT_RMS_VEC") && C % P == 0 && C <= 16 * 32 * P &&
           kn_aligned16(a, b, c, d) && kn_aligned16(e);
}

/* Runs STMT with MP = packs per lane for np packs per row (1, 2, 4, 8, 16). */
#define RMS_MAXP_DISPATCH(np, ...)                                  \
    do {                                                            \
        int ppl_ = ((np) + 31) / 32;                                \
        if (ppl_ <= 1) { const int MP = 1; __VA_ARGS__; }           \
        else if (ppl_ <= 2) { const int MP = 2; __VA_ARGS__; }      \
        else if (ppl_ <= 4) { const int MP = 4; __VA_ARGS__; }      \
        else if (ppl_ <= 8) { const int MP = 8; __VA_ARGS__; }      \
        else { const int MP = 16; __VA_ARGS__; }                    \
    } while (0)

static int rms_bwd_warps(int C)
{
    return C <= RMS_BWD_SMEM_WIDE ? 8 : 4;
}

static int rms_bwd_blocks(int N, int warps)
{
    long long rows_per_block = (long long)warps * RMS_BWD_ROWS_PER_WARP;
    long long g = (N + rows_per_block - 1) / rows_per_block;
    if (g < 1)
        g = 1;
    if (g > RMS_BWD_MAX_BLOCKS)
        g = RMS_BWD_MAX_BLOCKS;
    return (int)g;
}

/* Dynamic shared memory: [warps][C] floats. partial: [gridDim.x][C]. */
template <typename T>
static __global__ void __launch_bounds__(256)
rms_bwd_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
               const float *rstd, int N, int C, int accumulate)
{
    extern __shared__ float rms_sh[];
    const int warps = blockDim.x / 32;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *acc = rms_sh + (size_t)warp * C;
    for (int c = lane; c < C; c += 32) /* same lane-to-channel map as below */
        acc[c] = 0.0f;
    const int rstride = gridDim.x * warps;
    for (int row = blockIdx.x * warps + warp; row < N; row += rstride) {
        const T *x = inp + (size_t)row * C;
        const T *d = dout + (size_t)row * C;
        const float s = rstd[row];
        float sum = 0.0f;
        for (int c = lane; c < C; c += 32)
            sum += kn_f(w[c]) * kn_f(d[c]) * kn_f(x[c]);
        /* dx = s (w d - x k), k = sum(w d x) s^2 / C (see ref_rmsnorm.c) */
        const float k = kn_warp_sum(sum) * s * s / C;
        T *di = dinp + (size_t)row * C;
        for (int c = lane; c < C; c += 32) {
            float dv = kn_f(d[c]), xv = kn_f(x[c]);
            float g = (kn_f(w[c]) * dv - xv * k) * s;
            di[c] = kn_st<T>(accumulate ? kn_f(di[c]) + g : g);
            acc[c] += xv * s * dv;
        }
    }
    __syncthreads();
    float *pb = partial + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float t = 0.0f;
        for (int k = 0; k < warps; k++)
            t += rms_sh[(size_t)k * C + c];
        pb[c] = t;
    }
}

/* Shared-memory floats per warp of the vectorised backward: MAXP packs of P
 * per lane. */
#define RMS_VEC_SLOTS(T, MAXP) ((MAXP) * 32 * kn_pack<T>::n)

/* The vectorised backward (layernorm.cu's ln_bwd_vec_kernel with one
 * gradient): rms_bwd_kernel's row split, each row's x and dout (and dinp
 * when accumulating) in registers as 16-byte packs, the weights from L1. A
 * warp's dw slots are laid out [k][e][lane] (element e of the lane's k-th
 * pack): consecutive banks across lanes, constant offsets. Needs C % P == 0,
 * C <= 32 * MAXP * P, aligned rows, 8 warps per block. */
template <typename T, int MAXP>
static __global__ void __launch_bounds__(256, 2)
rms_bwd_vec_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
                   const float *rstd, int N, int C, int accumulate)
{
    extern __shared__ float rms_sh[];
    const int P = kn_pack<T>::n, S = RMS_VEC_SLOTS(T, MAXP);
    const int warps = blockDim.x / 32;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int np = C / P;
    float *acc = rms_sh + (size_t)warp * S + lane;
#pragma unroll
    for (int k = 0; k < MAXP; k++)
        if (lane + 32 * k < np)
#pragma unroll
            for (int e = 0; e < P; e++)
                acc[(k * P + e) * 32] = 0.0f;
    const int rstride = gridDim.x * warps;
    for (int row = blockIdx.x * warps + warp; row < N; row += rstride) {
        const size_t base = (size_t)row * C;
        kn_pack<T> x[MAXP], d[MAXP];
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                x[k] = kn_ld_pack(inp + base + (size_t)j * P);
                d[k] = kn_ld_pack(dout + base + (size_t)j * P);
            }
        }
        const float s = rstd[row];
        float sum = 0.0f;
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                kn_pack<T> wv = kn_ld_pack(w + (size_t)j * P);
#pragma unroll
                for (int e = 0; e < P; e++)
                    sum += kn_f(wv.v[e]) * kn_f(d[k].v[e]) * kn_f(x[k].v[e]);
            }
        }
        /* dx = s (w d - x kk), kk = sum(w d x) s^2 / C (see ref_rmsnorm.c) */
        const float kk = kn_warp_sum(sum) * s * s / C;
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                T *dp = dinp + base + (size_t)j * P;
                kn_pack<T> wv = kn_ld_pack(w + (size_t)j * P), o;
                if (accumulate)
                    o = kn_ld_pack(dp);
#pragma unroll
                for (int e = 0; e < P; e++) {
                    float dv = kn_f(d[k].v[e]), xv = kn_f(x[k].v[e]);
                    float g = (kn_f(wv.v[e]) * dv - xv * kk) * s;
                    o.v[e] = kn_st<T>(accumulate ? kn_f(o.v[e]) + g : g);
                    acc[(k * P + e) * 32] += xv * s * dv;
                }
                kn_st_pack(dp, o);
            }
        }
    }
    __syncthreads();
    /* Block partial in channel order: warps' slots added in warp order. */
    float *pb = partial + (size_t)blockIdx.x * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        int j = c / P;
        int idx = ((j / 32) * P + c % P) * 32 + j % 32;
        float t = 0.0f;
        for (int k = 0; k < warps; k++)
            t += rms_sh[(size_t)k * S + idx];
        pb[c] = t;
    }
}

/* Rows of the row kernel per block: RMS_ROW_ROWS, at most RMS_ROW_MAX_BLOCKS
 * blocks. Depends only on N (deterministic). */
static int rms_row_blocks(int N)
{
    const long long g = ((long long)N + RMS_ROW_ROWS - 1) / RMS_ROW_ROWS;
    const long long cap = RMS_ROW_MAX_BLOCKS;
    return (int)(g < 1 ? 1 : g > cap ? cap : g);
}

/* The backward with a block per row: blockDim.x == C / P (a multiple of
 * 32), thread t owns pack t of every row, so its dw stays in registers and
 * the block writes its partial straight out. The row sum: each warp's sum
 * to red[row parity][warp], one barrier, every thread adds the warps in
 * order (two slots: a slot is rewritten only after the next row's barrier,
 * by which time every thread has read it). */
template <typename T>
static __global__ void __launch_bounds__(1024)
rms_bwd_row_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
                   const float *rstd, int N, int C, int accumulate)
{
    __shared__ float red[2][32];
    constexpr int P = kn_pack<T>::n;
    const int t = threadIdx.x, warp = t / 32, lane = t % 32, nw = blockDim.x / 32;
    const kn_pack<T> wv = kn_ld_pack(w + (size_t)t * P);
    float dw[P];
#pragma unroll
    for (int e = 0; e < P; e++)
        dw[e] = 0.0f;
    int par = 0;
    for (int row = blockIdx.x; row < N; row += gridDim.x, par ^= 1) {
        const size_t at = (size_t)row * C + (size_t)t * P;
        const kn_pack<T> x = kn_ld_pack(inp + at), d = kn_ld_pack(dout + at);
        kn_pack<T> o;
        if (accumulate)
            o = kn_ld_pack(dinp + at);
        const float s = rstd[row];
        float sum = 0.0f;
#pragma unroll
        for (int e = 0; e < P; e++)
            sum += kn_f(wv.v[e]) * kn_f(d.v[e]) * kn_f(x.v[e]);
        sum = kn_warp_sum(sum);
        if (lane == 0)
            red[par][warp] = sum;
        __syncthreads();
        float tot = 0.0f;
        for (int k = 0; k < nw; k++)
            tot += red[par][k];
        /* dx = s (w d - x kk), kk = sum(w d x) s^2 / C (see ref_rmsnorm.c) */
        const float kk = tot * s * s / C;
#pragma unroll
        for (int e = 0; e < P; e++) {
            const float dv = kn_f(d.v[e]), xv = kn_f(x.v[e]);
            const float g = (kn_f(wv.v[e]) * dv - xv * kk) * s;
            o.v[e] = kn_st<T>(accumulate ? kn_f(o.v[e]) + g : g);
            dw[e] += xv * s * dv;
        }
        kn_st_pack(dinp + at, o);
    }
    float *pb = partial + (size_t)blockIdx.x * C + (size_t)t * P;
#pragma unroll
    for (int e = 0; e < P; e++)
        pb[e] = dw[e];
}

/* dw[c] (+)= sum_{b < nb} partial[b][c] (added when add != 0), the b-sum
 * split into RMS_RED_GROUPS interleaved groups added in group order: fixed
 * order, no atomics. */
static __global__ void rms_reduce_kernel(float *dw, const float *partial, int nb, int C, int add)
{
    __shared__ float sh[RMS_RED_GROUPS][RMS_RED_COLS];
    const int col = threadIdx.x % RMS_RED_COLS, grp = threadIdx.x / RMS_RED_COLS;
    const int c = blockIdx.x * RMS_RED_COLS + col;
    float t = 0.0f;
    if (c < C)
#pragma unroll 8
        for (int b = grp; b < nb; b += RMS_RED_GROUPS)
            t += partial[(size_t)b * C + c];
    sh[grp][col] = t;
    __syncthreads();
    if (grp == 0 && c < C) {
        float r = 0.0f;
        for (int k = 0; k < RMS_RED_GROUPS; k++)
            r += sh[k][col];
        dw[c] = add ? dw[c] + r : r;
    }
}

extern "C" int kn_rmsnorm_fwd(void *out, float *rstd, const void *inp, const void *w, float eps,
                              int N, int C, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= RMS_MAX_C_FWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 RMS_MAX_C_FWD, N, C);
    KN_ARG_CHECK(out && inp && w, "NULL buffer (out=%p inp=%p w=%p)", out, inp, w);
    KN_ARG_CHECK(eps > 0.0f, "eps %g must be positive", (double)eps);
    if (N == 0)
        return 0;
    unsigned grid = (unsigned)((N + RMS_FWD_WARPS - 1) / RMS_FWD_WARPS);
    KN_DISPATCH(dt, T, {
        if (rms_vec_ok<T>(C, out, inp, w))
            RMS_MAXP_DISPATCH(C / kn_pack<T>::n, rms_fwd_vec_kernel<T, false, MP>
                <<<grid, RMS_FWD_WARPS * 32, 0, s>>>(NULL, (T *)out, rstd, NULL,
                                                     (const T *)inp, (const T *)w, eps, N, C));
        else
            rms_fwd_kernel<T, false><<<grid, RMS_FWD_WARPS * 32, 0, s>>>(
                NULL, (T *)out, rstd, NULL, (const T *)inp, (const T *)w, eps, N, C);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_residual_rmsnorm_fwd(void *res_out, void *out, float *rstd, const void *res,
                                       const void *x, const void *w, float eps, int N, int C,
                                       kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= RMS_MAX_C_FWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 RMS_MAX_C_FWD, N, C);
    KN_ARG_CHECK(res_out && out && res && x && w,
                 "NULL buffer (res_out=%p out=%p res=%p x=%p w=%p)", res_out, out, res, x, w);
    KN_ARG_CHECK(out != res_out && out != res && out != x, "out %p aliases an input", out);
    KN_ARG_CHECK(eps > 0.0f, "eps %g must be positive", (double)eps);
    if (N == 0)
        return 0;
    unsigned grid = (unsigned)((N + RMS_FWD_WARPS - 1) / RMS_FWD_WARPS);
    KN_DISPATCH(dt, T, {
        if (rms_vec_ok<T>(C, res_out, out, res, x, w))
            RMS_MAXP_DISPATCH(C / kn_pack<T>::n, rms_fwd_vec_kernel<T, true, MP>
                <<<grid, RMS_FWD_WARPS * 32, 0, s>>>((T *)res_out, (T *)out, rstd,
                                                     (const T *)res, (const T *)x,
                                                     (const T *)w, eps, N, C));
        else
            rms_fwd_kernel<T, true><<<grid, RMS_FWD_WARPS * 32, 0, s>>>(
                (T *)res_out, (T *)out, rstd, (const T *)res, (const T *)x, (const T *)w, eps,
                N, C);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" size_t kn_rmsnorm_bwd_scratch_bytes(int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0;
    const int nb = rms_bwd_blocks(N, rms_bwd_warps(C)), nr = rms_row_blocks(N);
    return (size_t)(nb > nr ? nb : nr) * (size_t)C * sizeof(float);
}

/* INGOT_RMS_BWD=warp keeps wide rows on the warp kernel (for comparing). */
static bool rms_row_on(void)
{
    static int on = -1;
    if (on < 0) {
        const char *e = getenv("INGOT_RMS_BWD");
        on = !(e && strcmp(e, "warp") == 0);
    }
    return on;
}

extern "C" int kn_rmsnorm_bwd(void *dinp, float *dw, const void *dout, const void *inp,
                              const void *w, const float *rstd, int N, int C, int accumulate,
                              int dw_accumulate, kn_dtype dt, void *scratch, size_t scratch_bytes,
                              cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= RMS_MAX_C_BWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 RMS_MAX_C_BWD, N, C);
    KN_ARG_CHECK(dinp && dw && dout && inp && w && rstd,
                 "NULL buffer (dinp=%p dw=%p dout=%p inp=%p w=%p rstd=%p)", dinp, (void *)dw,
                 dout, inp, w, (const void *)rstd);
    KN_ARG_CHECK(dinp != dout && dinp != inp, "dinp %p aliases dout or inp", dinp);
    if (N == 0) { /* no rows: a written dw is zero */
        if (!dw_accumulate)
            CUDA_CHECK(cudaMemsetAsync(dw, 0, (size_t)C * sizeof(float), s));
        return 0;
    }
    size_t need = kn_rmsnorm_bwd_scratch_bytes(N, C);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    int warps = rms_bwd_warps(C);
    int nb = rms_bwd_blocks(N, warps);
    size_t smem = (size_t)warps * C * sizeof(float);
    float *partial = (float *)scratch;
    KN_DISPATCH(dt, T, {
        const int np = C / kn_pack<T>::n;
        const bool vec = rms_vec_ok<T>(C, dinp, dout, inp, w);
        if (vec && np >= RMS_ROW_MIN_PACKS && np <= RMS_ROW_MAX_PACKS && np % 32 == 0 &&
            rms_row_on()) {
            nb = rms_row_blocks(N);
            rms_bwd_row_kernel<T><<<nb, np, 0, s>>>((T *)dinp, partial, (const T *)dout,
                                                   (const T *)inp, (const T *)w, rstd, N, C,
                                                   accumulate);
        } else if (vec && np <= 8 * 32 && warps == 8) {
            RMS_MAXP_DISPATCH(np, {
                size_t vsm = (size_t)warps * RMS_VEC_SLOTS(T, MP) * sizeof(float);
                if (vsm > 48 * 1024)
                    CUDA_CHECK(cudaFuncSetAttribute(rms_bwd_vec_kernel<T, MP>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    (int)vsm));
                rms_bwd_vec_kernel<T, MP><<<nb, warps * 32, vsm, s>>>(
                    (T *)dinp, partial, (const T *)dout, (const T *)inp, (const T *)w, rstd, N, C,
                    accumulate);
            });
        } else {
            if (smem > 48 * 1024)
                CUDA_CHECK(cudaFuncSetAttribute(rms_bwd_kernel<T>,
                                                cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                (int)smem));
            rms_bwd_kernel<T><<<nb, warps * 32, smem, s>>>((T *)dinp, partial, (const T *)dout,
                                                           (const T *)inp, (const T *)w, rstd, N,
                                                           C, accumulate);
        }
    });
    KN_LAUNCH_CHECK();
    unsigned rgrid = (unsigned)((C + RMS_RED_COLS - 1) / RMS_RED_COLS);
    rms_reduce_kernel<<<rgrid, RMS_RED_COLS * RMS_RED_GROUPS, 0, s>>>(dw, partial, nb, C,
                                                                     dw_accumulate);
    KN_LAUNCH_CHECK();
    return 0;
}
