/* Fused softmax cross-entropy. The two-read kernel, one block per row:
 *   pass 1: per-thread online (max, sum of exp, argmax), then a block
 *           reduction; loss and correct from the row statistics;
 *   pass 2: each thread recomputes exp for its columns and writes the
 *           gradient, so in-place (dlogits == logits) is safe: a column is
 *           read and then written by the same thread.
 * Then the row-in-registers kernel, and the dispatch among those and the
 * row-in-shared-memory kernels of xent_smem.cuh (kn_xent_set_mode). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kn_device.cuh"
#include "xent.h"
#include "xent_smem.cuh"

enum { XENT_THREADS = 512 };

struct xstat {
    float m;  /* running max */
    float s;  /* sum of exp(x - m) */
    int idx;  /* lowest index holding m */
};

/* float32 keeps expf for parity with the reference; bf16 takes the fast
 * hardware exp, whose error is far below bf16 rounding. */
template <typename T> static __device__ __forceinline__ float xexp(float x) { return expf(x); }
template <> __device__ __forceinline__ float xexp<kn_bf16>(float x) { return __expf(x); }

template <typename T>
static __device__ __forceinline__ void xstat_add(xstat &a, float x, int i)
{
    /* Columns come in increasing order per thread: a strict > keeps the
     * lowest index among equal maxima. */
    if (x > a.m) {
        a.s = a.s * xexp<T>(a.m - x) + 1.0f;
        a.m = x;
        a.idx = i;
    } else {
        a.s += xexp<T>(x - a.m);
    }
}

static __device__ __forceinline__ xstat xstat_merge(xstat a, xstat b)
{
    xstat r;
    r.m = fmaxf(a.m, b.m);
    if (r.m == -INFINITY) {
        r.s = 0.0f;
    } else {
        r.s = (a.m == -INFINITY ? 0.0f : a.s * expf(a.m - r.m)) +
              (b.m == -INFINITY ? 0.0f : b.s * expf(b.m - r.m));
    }
    if (a.m > b.m)
        r.idx = a.idx;
    else if (b.m > a.m)
        r.idx = b.idx;
    else
        r.idx = min(a.idx, b.idx);
    return r;
}

static __device__ __forceinline__ xstat xstat_warp(xstat a)
{
    for (int o = 16; o > 0; o >>= 1) {
        xstat b;
        b.m = __shfl_xor_sync(0xffffffffu, a.m, o);
        b.s = __shfl_xor_sync(0xffffffffu, a.s, o);
        b.idx = __shfl_xor_sync(0xffffffffu, a.idx, o);
        a = xstat_merge(a, b);
    }
    return a;
}

/* VEC: rows are read in 16-byte packs over [0, Vp) (needs Vp % P == 0 and
 * aligned buffers); columns >= V are masked, never used. */
template <typename T, bool VEC>
static __global__ void __launch_bounds__(XENT_THREADS)
xent_kernel(float *losses, T *dlogits, int *correct, const T *logits, const int32_t *targets,
            int V, int Vp, float dloss)
{
    __shared__ xstat sh[XENT_THREADS / 32];
    __shared__ xstat row;
    const int n = blockIdx.x;
    const T *x = logits + (size_t)n * Vp;
    xstat a = {-INFINITY, 0.0f, 0x7fffffff};
    if (VEC) {
        const int P = kn_pack<T>::n;
        int vend = (V + P - 1) / P; /* packs that hold a column < V */
        for (int j = threadIdx.x; j < vend; j += blockDim.x) {
            kn_pack<T> p = kn_ld_pack(x + (size_t)j * P);
#pragma unroll
            for (int k = 0; k < P; k++) {
                int v = j * P + k;
                if (v < V)
                    xstat_add<T>(a, kn_f(p.v[k]), v);
            }
        }
    } else {
        for (int v = threadIdx.x; v < V; v += blockDim.x)
            xstat_add<T>(a, kn_f(x[v]), v);
    }
    a = xstat_warp(a);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0)
        sh[warp] = a;
    __syncthreads();
    if (warp == 0) {
        const int nw = XENT_THREADS / 32;
        xstat b = lane < nw ? sh[lane] : xstat{-INFINITY, 0.0f, 0x7fffffff};
        b = xstat_warp(b);
        if (lane == 0)
            row = b;
    }
    __syncthreads();
    const float mx = row.m, inv = 1.0f / row.s;
    const int tgt = targets[n];
    const bool tvalid = tgt >= 0 && tgt < V;
    if (threadIdx.x == 0) {
        float lse = logf(row.s) + mx;
        losses[n] = tvalid ? lse - kn_f(x[tgt]) : __int_as_float(0x7fc00000);
        if (correct)
            correct[n] = tvalid && row.idx == tgt;
    }
    if (!dlogits)
        return;
    /* Every thread has read its own row elements above; the loss' read of
     * x[tgt] by thread 0 must come before anyone overwrites it in place. */
    __syncthreads();
    T *d = dlogits + (size_t)n * Vp;
    if (VEC) {
        const int P = kn_pack<T>::n;
        for (int j = threadIdx.x; j < Vp / P; j += blockDim.x) {
            kn_pack<T> p = {}, r;
            if (j * P < V)
                p = kn_ld_pack(x + (size_t)j * P);
#pragma unroll
            for (int k = 0; k < P; k++) {
                int v = j * P + k;
                float g = 0.0f;
                if (v < V) {
                    float pr = xexp<T>(kn_f(p.v[k]) - mx) * inv;
                    g = (pr - (v == tgt ? 1.0f : 0.0f)) * dloss;
                }
                r.v[k] = kn_st<T>(g);
            }
            kn_st_pack(d + (size_t)j * P, r);
        }
    } else {
        for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
            float g = 0.0f;
            if (v < V) {
                float pr = xexp<T>(kn_f(x[v]) - mx) * inv;
                g = (pr - (v == tgt ? 1.0f : 0.0f)) * dloss;
            }
            d[v] = kn_st<T>(g);
        }
    }
}

/* bf16 rows held in registers: one 1024-thread block per row, thread t owns
 * packs t, t + 1024, ... (at most XR_MAXP of them), so the logits are read
 * from memory once and the gradient written once (the two-read kernel above
 * reads each row twice). Two passes over the registers: max (and the lowest
 * index holding it), then the sum of exp(x - max). Needs Vp % 8 == 0,
 * Vp <= 1024 * 8 * XR_MAXP and aligned rows. */
enum { XR_THREADS = 1024, XR_MAXP = 8 };

template <int MAXP>
static __global__ void __launch_bounds__(XR_THREADS)
xent_reg_kernel(float *losses, kn_bf16 *dlogits, int *correct, const kn_bf16 *logits,
                const int32_t *targets, int V, int Vp, float dloss)
{
    constexpr int P = kn_pack<kn_bf16>::n;
    __shared__ float shm[XR_THREADS / 32];
    __shared__ int shi[XR_THREADS / 32];
    __shared__ float shs[XR_THREADS / 32];
    const int n = blockIdx.x, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const kn_bf16 *x = logits + (size_t)n * Vp;
    const int nvp = (V + P - 1) / P; /* packs that hold a column < V */
    const int tgt = targets[n];
    const bool tvalid = tgt >= 0 && tgt < V;
    /* read before the barrier that precedes any in-place write */
    const float xt = (tid == 0 && tvalid) ? kn_f(x[tgt]) : 0.0f;
    kn_pack<kn_bf16> r[MAXP];
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = tid + k * XR_THREADS;
        if (j < nvp)
            r[k] = kn_ld_pack(x + (size_t)j * P);
    }
    float m = -INFINITY;
    int idx = 0x7fffffff;
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = tid + k * XR_THREADS;
        if (j < nvp)
#pragma unroll
            for (int e = 0; e < P; e++) {
                float f = kn_f(r[k].v[e]);
                if (j * P + e < V && f > m) { /* columns increase: lowest index kept */
                    m = f;
                    idx = j * P + e;
                }
            }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o);
        int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
        if (m2 > m || (m2 == m && i2 < idx)) {
            m = m2;
            idx = i2;
        }
    }
    if (lane == 0) {
        shm[warp] = m;
        shi[warp] = idx;
    }
    __syncthreads();
    m = shm[0];
    idx = shi[0];
    for (int w = 1; w < XR_THREADS / 32; w++)
        if (shm[w] > m || (shm[w] == m && shi[w] < idx)) {
            m = shm[w];
            idx = shi[w];
        }
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = tid + k * XR_THREADS;
        if (j < nvp)
#pragma unroll
            for (int e = 0; e < P; e++)
                if (j * P + e < V)
                    sum += __expf(kn_f(r[k].v[e]) - m);
    }
    sum = kn_warp_sum(sum);
    if (lane == 0)
        shs[warp] = sum;
    __syncthreads();
    sum = 0.0f;
    for (int w = 0; w < XR_THREADS / 32; w++) /* same order in every thread */
        sum += shs[w];
    if (tid == 0) {
        losses[n] = tvalid ? logf(sum) + m - xt : __int_as_float(0x7fc00000);
        if (correct)
            correct[n] = tvalid && idx == tgt;
    }
    if (!dlogits)
        return;
    const float inv = 1.0f / sum;
    kn_bf16 *d = dlogits + (size_t)n * Vp;
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = tid + k * XR_THREADS;
        if (j < Vp / P) {
            kn_pack<kn_bf16> o;
#pragma unroll
            for (int e = 0; e < P; e++) {
                int v = j * P + e;
                float g = 0.0f;
                if (j < nvp && v < V)
                    g = (__expf(kn_f(r[k].v[e]) - m) * inv - (v == tgt ? 1.0f : 0.0f)) * dloss;
                o.v[e] = kn_st<kn_bf16>(g);
            }
            kn_st_pack(d + (size_t)j * P, o);
        }
    }
}

/* The kernel kn_softmax_xent may use: kn_xent_set_mode(), else INGOT_XENT,
 * else INGOT_XENT_REG=1 (reg), else the shared-memory kernel (smem; the
 * two-read kernel where the row does not fit two blocks per SM). Measured
 * on the H200 at GPT-2 124M batch 64 (N 65536, Vp 50304, xent_bench):
 * smem 3.21 ms, smem1 3.19, two 5.68, reg 7.53 (one 1024-thread block per
 * SM: its loads, reductions and stores do not overlap). smem1 is no faster
 * and rounds the gradient once more, so smem is the default
 * (docs/performance.md). -1: not yet read. */
static int xent_mode = -1;

static const char *const xent_names[] = {"two", "reg", "smem", "smem1"};
enum { XENT_NMODES = sizeof xent_names / sizeof xent_names[0] };

extern "C" const char *kn_xent_mode_name(kn_xent_mode m)
{
    return (unsigned)m < XENT_NMODES ? xent_names[m] : "?";
}

extern "C" int kn_xent_mode_parse(const char *s, kn_xent_mode *out)
{
    for (int i = 0; i < XENT_NMODES; i++)
        if (s && !strcmp(s, xent_names[i])) {
            *out = (kn_xent_mode)i;
            return 0;
        }
    return ingot_fail(-EINVAL, "classifier kernel '%s' unknown: use two, reg, smem or smem1",
                      s ? s : "(null)");
}

extern "C" int kn_xent_set_mode(kn_xent_mode m)
{
    KN_ARG_CHECK((unsigned)m < XENT_NMODES, "mode %d is not a kn_xent_mode", (int)m);
    xent_mode = m;
    return 0;
}

extern "C" void kn_xent_set_reg(int on)
{
    xent_mode = on ? KN_XENT_REG : KN_XENT_TWO;
}

static int xent_mode_get(kn_xent_mode *out)
{
    if (xent_mode < 0) {
        const char *e = getenv("INGOT_XENT"), *r = getenv("INGOT_XENT_REG");
        kn_xent_mode m = r && !strcmp(r, "1") ? KN_XENT_REG : KN_XENT_SMEM;
        if (e && *e && kn_xent_mode_parse(e, &m))
            return ingot_fail(-EINVAL, "environment variable INGOT_XENT=%s: set it to two, "
                              "reg, smem or smem1, or unset it", e);
        xent_mode = m;
    }
    *out = (kn_xent_mode)xent_mode;
    return 0;
}

extern "C" int kn_xent_kernel_for(kn_xent_mode *used, int V, int Vp, kn_dtype dt,
                                  const void *logits, const void *dlogits)
{
    kn_xent_mode m = KN_XENT_TWO;
    int r = xent_mode_get(&m);
    if (r)
        return r;
    *used = KN_XENT_TWO;
    if (dt != KN_BF16 || Vp % 8 || V <= 0 || V > Vp || !kn_aligned16(logits, dlogits))
        return 0;
    if (m == KN_XENT_REG && Vp <= XR_THREADS * 8 * XR_MAXP) {
        *used = m;
    } else if (m == KN_XENT_SMEM || m == KN_XENT_SMEM1) {
        r = xs_fits_two((V + 7) / 8, m == KN_XENT_SMEM1);
        if (r < 0)
            return r;
        if (r)
            *used = m;
    }
    return 0;
}

extern "C" int kn_softmax_xent(float *losses, void *dlogits, int *correct, const void *logits,
                               const int32_t *targets, int N, int V, int Vp, float dloss,
                               kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && V > 0 && V <= Vp, "need N >= 0 and 0 < V <= Vp (N=%d V=%d Vp=%d)",
                 N, V, Vp);
    KN_ARG_CHECK(losses && logits && targets, "NULL buffer (losses=%p logits=%p targets=%p)",
                 (void *)losses, logits, (const void *)targets);
    if (N == 0)
        return 0;
    kn_xent_mode k;
    int r = kn_xent_kernel_for(&k, V, Vp, dt, logits, dlogits);
    if (r)
        return r;
    if (k == KN_XENT_SMEM || k == KN_XENT_SMEM1)
        return xs_launch(losses, (kn_bf16 *)dlogits, correct, (const kn_bf16 *)logits, targets,
                         N, V, Vp, dloss, k == KN_XENT_SMEM1, s);
    if (k == KN_XENT_REG) {
        const int packs = (Vp / 8 + XR_THREADS - 1) / XR_THREADS; /* per thread */
        if (packs <= 2)
            xent_reg_kernel<2><<<N, XR_THREADS, 0, s>>>(losses, (kn_bf16 *)dlogits, correct,
                                                       (const kn_bf16 *)logits, targets, V, Vp,
                                                       dloss);
        else if (packs <= 4)
            xent_reg_kernel<4><<<N, XR_THREADS, 0, s>>>(losses, (kn_bf16 *)dlogits, correct,
                                                       (const kn_bf16 *)logits, targets, V, Vp,
                                                       dloss);
        else if (packs <= 7) /* GPT-2's 50304: 6.1 packs per thread */
            xent_reg_kernel<7><<<N, XR_THREADS, 0, s>>>(losses, (kn_bf16 *)dlogits, correct,
                                                       (const kn_bf16 *)logits, targets, V, Vp,
                                                       dloss);
        else
            xent_reg_kernel<XR_MAXP><<<N, XR_THREADS, 0, s>>>(
                losses, (kn_bf16 *)dlogits, correct, (const kn_bf16 *)logits, targets, V, Vp,
                dloss);
        KN_LAUNCH_CHECK();
        return 0;
    }
    KN_DISPATCH(dt, T, {
        const int P = kn_pack<T>::n;
        bool vec = Vp % P == 0 && kn_aligned16(logits, dlogits);
        if (vec)
            xent_kernel<T, true><<<N, XENT_THREADS, 0, s>>>(losses, (T *)dlogits, correct,
                                                             (const T *)logits, targets, V, Vp,
                                                             dloss);
        else
            xent_kernel<T, false><<<N, XENT_THREADS, 0, s>>>(losses, (T *)dlogits, correct,
                                                              (const T *)logits, targets, V, Vp,
                                                              dloss);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

static __global__ void xent_sum_kernel(float *loss_sum, int *correct_sum, const float *losses,
                                       const int *correct, int N, int accumulate)
{
    __shared__ double shl[32];
    __shared__ long long shc[32];
    double l = 0.0;
    long long c = 0;
    for (int i = threadIdx.x; i < N; i += blockDim.x) {
        if (loss_sum)
            l += losses[i];
        if (correct_sum)
            c += correct[i];
    }
    l = kn_warp_sum_d(l);
    for (int o = 16; o > 0; o >>= 1)
        c += __shfl_xor_sync(0xffffffffu, c, o);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    if (lane == 0) {
        shl[warp] = l;
        shc[warp] = c;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double tl = 0.0;
        long long tc = 0;
        for (int w = 0; w < (int)(blockDim.x / 32); w++) {
            tl += shl[w];
            tc += shc[w];
        }
        if (loss_sum)
            *loss_sum = (float)(accumulate ? *loss_sum + tl : tl);
        if (correct_sum)
            *correct_sum = (int)(accumulate ? *correct_sum + tc : tc);
    }
}

extern "C" int kn_xent_sum(float *loss_sum, int *correct_sum, const float *losses,
                           const int *correct, int N, int accumulate, cudaStream_t s)
{
    KN_ARG_CHECK(N >= 0, "N=%d must be >= 0", N);
    KN_ARG_CHECK(!loss_sum || losses, "loss_sum without losses (N=%d)", N);
    KN_ARG_CHECK(!correct_sum || correct, "correct_sum without correct (N=%d)", N);
    xent_sum_kernel<<<1, 1024, 0, s>>>(loss_sum, correct_sum, losses, correct, N, accumulate);
    KN_LAUNCH_CHECK();
    return 0;
}
