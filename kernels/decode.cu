/* Attention over a key/value cache (decode.h). A block of DEC_WARPS warps
 * serves one (head, row) and a chunk of positions: warp w takes positions
 * t0 + w, t0 + w + DEC_WARPS, ...; for each, the lanes split the head's
 * channels for q . k (a warp sum), then update the warp's running max m, sum
 * l and weighted values acc (each lane holds channels lane, lane + 32, ...).
 * The block then merges the warps' (m, l, acc) by rescaling to the largest
 * m. Two positions per loop trip so that their loads are in flight together
 * (the online update is serial).
 *
 * Why split: one block per (head, row) is NH blocks for a decode step (12 for
 * GPT-2 small), and each warp walks len / DEC_WARPS positions one memory
 * latency after another, so a long context leaves most of the GPU idle.
 * Splitting the positions into S chunks gives NH * S blocks; each writes its
 * unnormalised (m, l, acc) and decode_merge_kernel combines them the same
 * way the warps are combined. */
#include <math.h>

#include "cuda_check.h"
#include "decode.h"
#include "kn_device.cuh"

enum {
    DEC_WARPS = 8,
    DEC_PER_LANE = KN_DECODE_MAX_HS / 32,
    DEC_TARGET_BLOCKS = 512,   /* split until about this many blocks */
    DEC_MAX_SPLIT = 64,
    DEC_MIN_CHUNK = 64,        /* positions per split at least: 8 per warp */
};

/* q . k of one position, every lane gets it. */
template <typename T>
static __device__ __forceinline__ float dec_score(const float *qv, const T *kr, int lane, int hs)
{
    float part = 0.0f;
#pragma unroll
    for (int j = 0; j < DEC_PER_LANE; j++) {
        int c = lane + 32 * j;
        if (c < hs)
            part += qv[j] * kn_f(kr[c]);
    }
    return kn_warp_sum(part);
}

/* Fold position score s with values vr into the running (m, l, acc). */
template <typename T>
static __device__ __forceinline__ void dec_update(float s, const T *vr, int lane, int hs,
                                                  float *m, float *l, float *acc)
{
    float mn = fmaxf(*m, s);
    float corr = expf(*m - mn), p = expf(s - mn);   /* m = -inf at first: corr = 0 */
    *l = *l * corr + p;
#pragma unroll
    for (int j = 0; j < DEC_PER_LANE; j++) {
        int c = lane + 32 * j;
        if (c < hs)
            acc[j] = acc[j] * corr + p * kn_f(vr[c]);
    }
    *m = mn;
}

/* grid (NH, n, S). S == 1: out = the row's attention. S > 1: block sp takes
 * positions [sp * chunk, (sp + 1) * chunk) of the row's [0, p0 + i] and
 * writes its unnormalised partial to pm, pl ([n, NH, S]) and pacc
 * ([n, NH, S, hs]); an empty range writes m = -inf, l = 0. */
template <typename T>
static __global__ void __launch_bounds__(DEC_WARPS * 32)
decode_kernel(T *out, const T *q, long long q_stride, const T *k, const T *v,
              long long kv_stride, int p0, int NH, int NKV, int hs, float scale, int chunk,
              float *pm, float *pl, float *pacc)
{
    __shared__ float sm_m[DEC_WARPS], sm_l[DEC_WARPS];
    __shared__ float sm_acc[DEC_WARPS][KN_DECODE_MAX_HS];
    const int h = blockIdx.x, i = blockIdx.y, sp = blockIdx.z, S = gridDim.z;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int len = p0 + i + 1;
    const int t0 = sp * chunk, t1 = min(len, t0 + chunk);
    const size_t g = (size_t)(h / (NH / NKV)) * hs;
    const T *qr = q + (size_t)i * q_stride + (size_t)h * hs;
    float qv[DEC_PER_LANE], acc[DEC_PER_LANE];
#pragma unroll
    for (int j = 0; j < DEC_PER_LANE; j++) {
        int c = lane + 32 * j;
        qv[j] = c < hs ? kn_f(qr[c]) : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    int t = t0 + warp;
    for (; t + DEC_WARPS < t1; t += 2 * DEC_WARPS) {
        const T *k0 = k + (size_t)t * kv_stride + g, *k1 = k0 + (size_t)DEC_WARPS * kv_stride;
        float s0 = dec_score(qv, k0, lane, hs) * scale;
        float s1 = dec_score(qv, k1, lane, hs) * scale;
        const T *v0 = v + (size_t)t * kv_stride + g;
        dec_update(s0, v0, lane, hs, &m, &l, acc);
        dec_update(s1, v0 + (size_t)DEC_WARPS * kv_stride, lane, hs, &m, &l, acc);
    }
    if (t < t1)
        dec_update(dec_score(qv, k + (size_t)t * kv_stride + g, lane, hs) * scale,
                   v + (size_t)t * kv_stride + g, lane, hs, &m, &l, acc);
    if (lane == 0) {
        sm_m[warp] = m;
        sm_l[warp] = l;
    }
#pragma unroll
    for (int j = 0; j < DEC_PER_LANE; j++) {
        int c = lane + 32 * j;
        if (c < hs)
            sm_acc[warp][c] = acc[j];
    }
    __syncthreads();
    /* a warp that had no position has l = 0 and m = -inf: weight 0 */
    float M = -INFINITY, L = 0.0f, f[DEC_WARPS];
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++)
        M = fmaxf(M, sm_m[w]);
#pragma unroll
    for (int w = 0; w < DEC_WARPS; w++) {
        f[w] = sm_l[w] > 0.0f ? expf(sm_m[w] - M) : 0.0f;
        L += sm_l[w] * f[w];
    }
    const size_t pair = (size_t)i * NH + h;
    if (S == 1) {   /* position 0 is in the range: L > 0 */
        const float inv = 1.0f / L;
        T *o = out + pair * hs;
        for (int c = threadIdx.x; c < hs; c += blockDim.x) {
            float a = 0.0f;
#pragma unroll
            for (int w = 0; w < DEC_WARPS; w++)
                a += sm_acc[w][c] * f[w];
            o[c] = kn_st<T>(a * inv);
        }
        return;
    }
    const size_t part = pair * S + sp;
    if (threadIdx.x == 0) {
        pm[part] = M;
        pl[part] = L;
    }
    for (int c = threadIdx.x; c < hs; c += blockDim.x) {
        float a = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++)
            a += sm_acc[w][c] * f[w];
        pacc[part * hs + c] = a;
    }
}

/* grid (NH, n): out = the S partials of (head, row) rescaled to their
 * largest m, summed, divided by the summed l (split 0 holds position 0). */
template <typename T>
static __global__ void decode_merge_kernel(T *out, const float *pm, const float *pl,
                                           const float *pacc, int NH, int hs, int S)
{
    const size_t pair = (size_t)blockIdx.y * NH + blockIdx.x, base = pair * S;
    float M = -INFINITY, L = 0.0f;
    for (int sp = 0; sp < S; sp++)
        M = fmaxf(M, pm[base + sp]);
    for (int sp = 0; sp < S; sp++)
        L += pl[base + sp] > 0.0f ? pl[base + sp] * expf(pm[base + sp] - M) : 0.0f;
    const float inv = 1.0f / L;
    for (int c = threadIdx.x; c < hs; c += blockDim.x) {
        float a = 0.0f;
        for (int sp = 0; sp < S; sp++)
            if (pl[base + sp] > 0.0f)
                a += pacc[(base + sp) * hs + c] * expf(pm[base + sp] - M);
        out[pair * hs + c] = kn_st<T>(a * inv);
    }
}

extern "C" size_t kn_decode_attention_scratch_bytes(int NH, int hs)
{
    /* splits are made only while NH * n < DEC_TARGET_BLOCKS, and then
     * S <= ceil(DEC_TARGET_BLOCKS / (NH * n)): NH * n * S < 2 * DEC_TARGET_BLOCKS */
    (void)NH;
    return (size_t)2 * DEC_TARGET_BLOCKS * ((size_t)(hs > 0 ? hs : 0) + 2) * sizeof(float);
}

/* [a, a + an) and [b, b + bn) bytes overlap. */
static int overlaps(const void *a, size_t an, const void *b, size_t bn)
{
    const char *x = (const char *)a, *y = (const char *)b;
    return x < y + bn && y < x + an;
}

extern "C" int kn_decode_attention(void *out, const void *q, long long q_stride, const void *k,
                                   const void *v, long long kv_stride, int n, int p0, int NH,
                                   int NKV, int hs, kn_dtype dt, void *scratch,
                                   size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(out && q && k && v, "NULL buffer (out=%p q=%p k=%p v=%p)", out, q, k, v);
    KN_ARG_CHECK(n >= 0 && n <= 65535 && p0 >= 0,
                 "need 0 <= n <= 65535 and p0 >= 0 (n=%d p0=%d)", n, p0);
    KN_ARG_CHECK(NH > 0 && NKV > 0 && NH % NKV == 0 && hs > 0 && hs <= KN_DECODE_MAX_HS,
                 "need NH %% NKV == 0 and 0 < hs <= %d (NH=%d NKV=%d hs=%d)", KN_DECODE_MAX_HS,
                 NH, NKV, hs);
    KN_ARG_CHECK(q_stride >= (long long)NH * hs && kv_stride >= (long long)NKV * hs,
                 "strides too small: q_stride %lld < NH*hs %d or kv_stride %lld < NKV*hs %d",
                 q_stride, NH * hs, kv_stride, NKV * hs);
    if (n == 0)
        return 0;
    size_t es = kn_dtype_size(dt), ob = (size_t)n * NH * hs * es;
    size_t qb = ((size_t)(n - 1) * q_stride + (size_t)NH * hs) * es;
    size_t kb = ((size_t)(p0 + n - 1) * kv_stride + (size_t)NKV * hs) * es;
    KN_ARG_CHECK(!overlaps(out, ob, q, qb) && !overlaps(out, ob, k, kb) &&
                 !overlaps(out, ob, v, kb), "out %p overlaps q, k or v (%p, %p, %p)", out, q, k,
                 v);
    /* how many chunks per (head, row): enough blocks, chunks not too short,
     * partials that fit the scratch */
    const int len_max = p0 + n, pairs = NH * n;
    int S = 1;
    if (scratch && pairs < DEC_TARGET_BLOCKS) {
        S = (DEC_TARGET_BLOCKS + pairs - 1) / pairs;
        S = min(S, min((int)DEC_MAX_SPLIT, (len_max + DEC_MIN_CHUNK - 1) / DEC_MIN_CHUNK));
        if ((size_t)pairs * S * ((size_t)hs + 2) * sizeof(float) > scratch_bytes)
            S = 1;
    }
    const int chunk = (len_max + S - 1) / S;
    float *pm = (float *)scratch, *pl = pm + (size_t)pairs * S, *pacc = pl + (size_t)pairs * S;
    dim3 grid((unsigned)NH, (unsigned)n, (unsigned)S);
    float scale = 1.0f / sqrtf((float)hs);
    KN_DISPATCH(dt, Tp, {
        decode_kernel<Tp><<<grid, DEC_WARPS * 32, 0, s>>>((Tp *)out, (const Tp *)q, q_stride,
                                                          (const Tp *)k, (const Tp *)v,
                                                          kv_stride, p0, NH, NKV, hs, scale,
                                                          chunk, pm, pl, pacc);
    });
    KN_LAUNCH_CHECK();
    if (S == 1)
        return 0;
    KN_DISPATCH(dt, Tp, {
        decode_merge_kernel<Tp><<<dim3((unsigned)NH, (unsigned)n), 128, 0, s>>>(
            (Tp *)out, pm, pl, pacc, NH, hs, S);
    });
    KN_LAUNCH_CHECK();
    return 0;
}
