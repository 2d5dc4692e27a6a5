/* The row-in-shared-memory classifier kernel (bf16), internal to xent.cu
 * (which includes this file once; it is not part of the launcher API).
 *
 * One 512-thread block per row, two blocks per SM: the block copies its row
 * of logits into shared memory with cp.async (the only read of the row from
 * global memory), takes the max, the lowest index holding it and the sum of
 * exp from there, and writes the gradient (the only write). The two-read
 * kernel reads the row twice; the registers kernel reads it once but fits
 * one block per SM, so its loads, reductions and stores cannot overlap;
 * here one block's loads overlap the other block's arithmetic and stores.
 *
 * Thread t owns the 16-byte packs t, t + XS_THREADS, ... of the row in every
 * pass (copy, max, sum, gradient): no thread reads shared memory that
 * another thread wrote, so barriers are needed only for the two block
 * reductions. In place (dlogits == logits) is safe: every thread's copies
 * of the row have landed before it reaches the first barrier, and nothing
 * is written to the row before the second.
 *
 * EXP1 = true: the sum pass writes exp(x - max) back over the row (bf16) and
 * the gradient pass scales it instead of taking exp again, halving the
 * MUFU work; the gradient gets one more bf16 rounding (within 2 ulp of
 * bf16, not 1), except at the target column, where p - 1 cancels and the
 * value is recomputed in float from the logit. EXP1 = false recomputes exp
 * in the gradient pass, the same arithmetic as the registers kernel. */
#ifndef INGOT_XENT_SMEM_CUH
#define INGOT_XENT_SMEM_CUH

#include <limits.h>

#include "cuda_check.h"
#include "kn_device.cuh"

enum { XS_THREADS = 512, XS_WARPS = XS_THREADS / 32 };


/* exp(x - m) as 2^(x log2 e - m log2 e), given ml2 = m log2 e: one FFMA and
 * one MUFU.EX2 (the ftz approximation __expf uses; below 2^-126 gives 0). */
static __device__ __forceinline__ float xs_exp(float x, float ml2)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(fmaf(x, 1.4426950408889634f, -ml2)));
    return y;
}

/* The 8 bf16 of a pack as 4 pairs. */
union xs_pack {
    int4 raw;
    __nv_bfloat162 h[4];
    kn_bf16 e[8];
};

/* Rows of V columns (Vp per row in memory, Vp % 8 == 0, 16-byte aligned
 * rows), dynamic shared memory of ceil(V / 8) * 16 bytes. Same outputs as
 * xent_kernel. */
template <bool EXP1>
static __global__ void __launch_bounds__(XS_THREADS, 2)
xent_smem_kernel(float *losses, kn_bf16 *dlogits, int *correct, const kn_bf16 *logits,
                 const int32_t *targets, int V, int Vp, float dloss)
{
    extern __shared__ int4 xs_row[]; /* packs [0, nvp) of the row */
    __shared__ float shm[XS_WARPS], shs[XS_WARPS];
    __shared__ int shi[XS_WARPS];
    const int n = blockIdx.x, tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
    const int nvp = (V + 7) / 8; /* packs that hold a column < V: the only ones read */
    const kn_bf16 *x = logits + (size_t)n * Vp;
    for (int j = tid; j < nvp; j += XS_THREADS)
        kn_cp16((uint32_t)__cvta_generic_to_shared(&xs_row[j]), x + (size_t)j * 8); /* row used once */
    const int t0 = targets[n];
    const int tgt = t0 >= 0 && t0 < V ? t0 : -1; /* -1: loss NaN, no one-hot term */
    const int jt = tgt >= 0 ? tgt / 8 : -1;     /* the pack holding the target */
    const bool owner = jt >= 0 && jt % XS_THREADS == tid;
    kn_cp_wait();

    /* Columns V.. of the last pack are padding (never used): -inf there, in
     * shared memory only, so that whole packs can be scanned: the max
     * ignores them and their exp is 0. */
    if (V % 8 && tid == (nvp - 1) % XS_THREADS) {
        kn_bf16 *last = (kn_bf16 *)&xs_row[nvp - 1];
        for (int e = V % 8; e < 8; e++)
            last[e] = __float2bfloat16_rn(-INFINITY);
    }

    /* Pass 1: the max, and the first pack of this thread that reaches its
     * max (a strict >: earlier packs hold lower columns). bf16 max is exact. */
    float m = -INFINITY;
    int jm = -1;
    for (int j = tid; j < nvp; j += XS_THREADS) {
        xs_pack p;
        p.raw = xs_row[j];
        __nv_bfloat162 a = __hmax2(__hmax2(p.h[0], p.h[1]), __hmax2(p.h[2], p.h[3]));
        float pm = fmaxf(__low2float(a), __high2float(a));
        if (pm > m || jm < 0) {
            m = pm;
            jm = j;
        }
    }
    float wm = kn_warp_max(m);
    if (lane == 0)
        shm[warp] = wm;
    __syncthreads();
    float M = shm[0];
    for (int w = 1; w < XS_WARPS; w++)
        M = fmaxf(M, shm[w]);
    /* This thread's lowest column holding M: the first one in pack jm. The
     * block minimum of these is the lowest index among equal maxima. */
    int idx = INT_MAX;
    if (jm >= 0 && m == M) {
        xs_pack p;
        p.raw = xs_row[jm];
        for (int e = 7; e >= 0; e--)
            if (__bfloat162float(p.e[e]) == M)
                idx = jm * 8 + e;
    }
    /* The owner of the target's pack reads the target's logit before its own
     * sum pass may overwrite it (EXP1); it alone writes loss and correct. */
    float xt = 0.0f;
    if (owner)
        xt = __bfloat162float(((const kn_bf16 *)xs_row)[tgt]);

    /* Pass 2: sum of exp(x - M) (a fixed tree per pack, packs in order). */
    const float ml2 = M * 1.4426950408889634f;
    float s = 0.0f;
    for (int j = tid; j < nvp; j += XS_THREADS) {
        xs_pack p, q;
        p.raw = xs_row[j];
        float e[8];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 f = __bfloat1622float2(p.h[k]);
            e[2 * k] = xs_exp(f.x, ml2);
            e[2 * k + 1] = xs_exp(f.y, ml2);
            if (EXP1)
                q.h[k] = __floats2bfloat162_rn(e[2 * k], e[2 * k + 1]);
        }
        s += ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
        if (EXP1)
            xs_row[j] = q.raw;
    }
    s = kn_warp_sum(s);
    for (int o = 16; o > 0; o >>= 1)
        idx = min(idx, __shfl_xor_sync(0xffffffffu, idx, o));
    if (lane == 0) {
        shs[warp] = s;
        shi[warp] = idx;
    }
    __syncthreads();
    float sum = 0.0f;
    idx = INT_MAX;
    for (int w = 0; w < XS_WARPS; w++) { /* same order in every thread */
        sum += shs[w];
        idx = min(idx, shi[w]);
    }
    if (owner) {
        losses[n] = logf(sum) + M - xt;
        if (correct)
            correct[n] = idx == tgt;
    } else if (tgt < 0 && tid == 0) {
        losses[n] = __int_as_float(0x7fc00000);
        if (correct)
            correct[n] = 0;
    }
    if (!dlogits)
        return;

    /* Pass 3: the gradient, (p - onehot) * dloss, zeros from column V on. */
    const float inv = 1.0f / sum, c = inv * dloss;
    kn_bf16 *d = dlogits + (size_t)n * Vp;
    for (int j = tid; j < Vp / 8; j += XS_THREADS) {
        xs_pack q;
        q.raw = make_int4(0, 0, 0, 0);
        if (j < nvp) {
            xs_pack p;
            p.raw = xs_row[j];
            float g[8];
#pragma unroll
            for (int k = 0; k < 4; k++) {
                float2 f = __bfloat1622float2(p.h[k]);
                g[2 * k] = (EXP1 ? f.x : xs_exp(f.x, ml2)) * c;
                g[2 * k + 1] = (EXP1 ? f.y : xs_exp(f.y, ml2)) * c;
            }
            if (j == jt) /* p - 1 in float from the logit itself */
#pragma unroll
                for (int e = 0; e < 8; e++)
                    if (j * 8 + e == tgt)
                        g[e] = (xs_exp(xt, ml2) * inv - 1.0f) * dloss;
            if (j == nvp - 1 && V % 8) /* padding: 0 even when M is not finite */
#pragma unroll
                for (int e = 0; e < 8; e++)
                    if (j * 8 + e >= V)
                        g[e] = 0.0f;
#pragma unroll
            for (int k = 0; k < 4; k++)
                q.h[k] = __floats2bfloat162_rn(g[2 * k], g[2 * k + 1]);
        }
        *(int4 *)(d + (size_t)j * 8) = q.raw;
    }
}

/* Per device and variant: whether the attributes are set, and the last row
 * size (in packs) asked about with its answer. Devices beyond XS_MAX_DEV
 * take the other kernels. */
enum { XS_MAX_DEV = 64 };
struct xs_fit {
    int ready, max_dyn, last_nvp, last_ok;
};
static xs_fit xs_fits[XS_MAX_DEV][2];

/* 1 if xent_smem_kernel<exp1> runs two blocks per SM for rows of nvp packs
 * on the current device, 0 if not (the caller takes another kernel),
 * INGOT_E_CUDA if a CUDA call fails. Opts the kernel into the device's
 * largest dynamic shared memory and carveout the first time per device. */
static int xs_fits_two(int nvp, bool exp1)
{
    int dev = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    if (dev < 0 || dev >= XS_MAX_DEV)
        return 0;
    xs_fit *f = &xs_fits[dev][exp1];
    const void *k = exp1 ? (const void *)xent_smem_kernel<true>
                         : (const void *)xent_smem_kernel<false>;
    if (!f->ready) {
        int optin = 0;
        cudaFuncAttributes fa;
        CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
        CUDA_CHECK(cudaFuncGetAttributes(&fa, k));
        f->max_dyn = optin - (int)fa.sharedSizeBytes;
        if (f->max_dyn > 0)
            CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            f->max_dyn));
        CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout,
                                        (int)cudaSharedmemCarveoutMaxShared));
        f->last_nvp = 0;
        f->ready = 1;
    }
    if (nvp != f->last_nvp) {
        int nb = 0;
        size_t bytes = (size_t)nvp * 16;
        if (bytes <= (size_t)f->max_dyn)
            CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&nb, k, XS_THREADS, bytes));
        f->last_ok = nb >= 2;
        f->last_nvp = nvp;
    }
    return f->last_ok;
}

/* Launches the kernel for N rows (the caller checked the shape, dtype,
 * alignment and xs_fits_two). */
static int xs_launch(float *losses, kn_bf16 *dlogits, int *correct, const kn_bf16 *logits,
                     const int32_t *targets, int N, int V, int Vp, float dloss, bool exp1,
                     cudaStream_t s)
{
    size_t bytes = (size_t)((V + 7) / 8) * 16;
    if (exp1)
        xent_smem_kernel<true><<<N, XS_THREADS, bytes, s>>>(losses, dlogits, correct, logits,
                                                             targets, V, Vp, dloss);
    else
        xent_smem_kernel<false><<<N, XS_THREADS, bytes, s>>>(losses, dlogits, correct, logits,
                                                              targets, V, Vp, dloss);
    KN_LAUNCH_CHECK();
    return 0;
}

#endif
