/* Flash attention for Hopper: warpgroup MMA (wgmma, sm_90a) on tiles that
 * cp.async stages in shared memory in the 128-byte-swizzled layout wgmma's
 * descriptors read. Two warpgroups per block, each owning 64 rows (queries
 * in the forward and dq kernels, keys in the dk/dv kernel); all 256 threads
 * copy, double-buffered, so the next tile's copy overlaps this tile's math.
 *
 * Tile layout (hs / 64 panels of 64 columns = 128 bytes per row): the
 * 16-byte chunk c (0..7) of row r of a panel sits at r * 128 + ((c ^ (r % 8))
 * * 16) from the panel's 1024-byte-aligned base; a panel of R rows takes
 * R * 128 bytes. That is the canonical SW128 layout in both of wgmma's
 * readings:
 *   K-major (contraction along the row, e.g. K in q k^T): 8-row groups
 *   1024 bytes apart (SBO); k-step ks (16 columns) starts 32 * (ks % 4)
 *   bytes into the row of panel ks / 4.
 *   MN-major (imm-trans-b = 1, contraction over rows, e.g. V in p v): one
 *   swizzle atom is 8 rows x 64 columns; atoms along the contraction 1024
 *   bytes apart (SBO), along the columns one panel apart (LBO); k-step ks
 *   starts at row 16 ks.
 * Accumulators (m64nN): warp w of the warpgroup, lane = 4 g + q holds rows
 * 16 w + g and 16 w + g + 8, columns 8 j + 2 q (+1) in d[4 j .. 4 j + 3]
 * (the mma.sync C layout repeated along N), so two adjacent 8-column chunks
 * of probabilities are the A fragment of the next product, taken from
 * registers (FlashAttention-2's reuse, wgmma's RS form).
 *
 * Scores in base 2 as in flash_attention.cu: x = q.k * scale * log2(e),
 * lse2 = max + log2(sum exp2(x - max)). */
#include <math.h>
#include <stdlib.h>

#include "cuda_check.h"
#include "flash_attention_sm90.h"
#include "flash_attention_sm90_wgmma.cuh"
#include "kn_device.cuh"

/* The sm_80 pass compiles the kernels' bodies away (they use sm_90a
 * instructions), leaving the device helpers unreferenced there. */
#pragma nv_diag_suppress 177

enum { S9_THREADS = 256 };

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define S9_ON 1
#else
#define S9_ON 0
#endif

/* Byte offset of 16-byte chunk cc (0 .. HS/8 - 1) of row r in a swizzled
 * tile of R rows. */
template <int R>
static __device__ __forceinline__ uint32_t sw_off(int r, int cc)
{
    return (uint32_t)((cc >> 3) * R * 128 + r * 128 + (((cc & 7) ^ (r & 7)) << 4));
}

/* R rows x HS of one head, rows t0.. of a tensor whose row t starts at
 * g + t * rowstride, into the swizzled tile at shared address sb; rows >= T
 * are zero-filled (cp.async with source size 0). */
template <int HS, int R>
static __device__ __forceinline__ void s9_load(uint32_t sb, const kn_bf16 *g, size_t rowstride,
                                               int t0, int T)
{
    constexpr int CH = HS / 8;
#pragma unroll
    for (int i = threadIdx.x; i < R * CH; i += S9_THREADS) {
        int r = i / CH, cc = i % CH;
        bool ok = t0 + r < T;
        const kn_bf16 *src = ok ? g + (size_t)(t0 + r) * rowstride + cc * 8 : g;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sb + sw_off<R>(r, cc)),
                     "l"(src), "r"(ok ? 16 : 0)
                     : "memory");
    }
}

static __device__ __forceinline__ void s9_commit(void)
{
    asm volatile("cp.async.commit_group;\n" ::: "memory");
}

/* Waits for all but N copy groups, then makes the copies visible to the
 * tensor cores (the async proxy) and to the other threads. */
template <int N> static __device__ __forceinline__ void s9_wait_sync(void)
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#if S9_ON
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
    __syncthreads();
}

/* 1 swaps the MN-major descriptor's two offsets (a hedge for the first run
 * on hardware; the kernel check says which reading is right). */
static __device__ int s9_mnswap_dev;

/* K-major descriptor, SW128: start address, LBO unused (1), SBO 1024. */
static __device__ __forceinline__ uint64_t desc_k(uint32_t addr)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) |
           ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

/* MN-major descriptor, SW128: LBO = panel stride (atoms along N), SBO 1024
 * (8-row groups along the contraction). */
static __device__ __forceinline__ uint64_t desc_mn(uint32_t addr, uint32_t panel, int swap)
{
    uint32_t lbo = swap ? 1024 : panel, sbo = swap ? panel : 1024;
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFF) << 16) |
           ((uint64_t)((sbo >> 4) & 0x3FFF) << 32) | ((uint64_t)1 << 62);
}

/* Address of k-step ks of a K-major operand: rows r0.. of a tile of R rows. */
template <int R>
static __device__ __forceinline__ uint32_t kstep_k(uint32_t base, int r0, int ks)
{
    return base + (uint32_t)((ks >> 2) * R * 128 + r0 * 128 + (ks & 3) * 32);
}

/* d[64 x N] = A (64 rows of tile a, R_A rows, K-major) . B^T (tile b, N
 * rows, K-major), contraction over HS. */
template <int HS, int RA, int N>
static __device__ __forceinline__ void s9_abt(float (&d)[N / 2], uint32_t a, int ra0, uint32_t b)
{
#pragma unroll
    for (int ks = 0; ks < HS / 16; ks++)
        wg<N, 0>::ss(d, desc_k(kstep_k<RA>(a, ra0, ks)), desc_k(kstep_k<N>(b, 0, ks)), ks == 0);
}

/* A fragment of k-step kk (columns 16 kk .. 16 kk + 15) from accumulators. */
template <int R>
static __device__ __forceinline__ void frag_a(uint32_t (&a)[4], const float (&p)[R], int kk)
{
    auto pk = [](float lo, float hi) {
        __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        return *reinterpret_cast<uint32_t *>(&v);
    };
    const int j = 2 * kk;
    a[0] = pk(p[4 * j], p[4 * j + 1]);
    a[1] = pk(p[4 * j + 2], p[4 * j + 3]);
    a[2] = pk(p[4 * j + 4], p[4 * j + 5]);
    a[3] = pk(p[4 * j + 6], p[4 * j + 7]);
}

/* P (64 x K) as bf16 A fragments, one per k-step; packed before the
 * wgmma fence so that no register write lands between fence and issue. */
template <int K>
static __device__ __forceinline__ void frags(uint32_t (&a)[K / 16][4], const float (&p)[K / 2])
{
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++)
        frag_a<K / 2>(a[kk], p, kk);
}

/* acc[64 x HS] += P (64 x K, fragments) . Z (tile z of K rows x HS,
 * MN-major). */
template <int HS, int K>
static __device__ __forceinline__ void s9_pz(float (&acc)[HS / 2], const uint32_t (&a)[K / 16][4],
                                             uint32_t z, int swap)
{
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++)
        wg<HS, 1>::rs(acc, a[kk], desc_mn(z + (uint32_t)kk * 16 * 128, K * 128, swap), 0);
}

static __device__ __forceinline__ uint32_t smem_base1024(uint8_t *raw)
{
    return ((uint32_t)__cvta_generic_to_shared(raw) + 1023u) & ~1023u;
}

/* Writes two bf16 (x0, x1) * scale to p, adding what is there if acc. */
static __device__ __forceinline__ void st2(kn_bf16 *p, float x0, float x1, int acc)
{
    __nv_bfloat162 *d = reinterpret_cast<__nv_bfloat162 *>(p);
    if (acc) {
        __nv_bfloat162 o = *d;
        x0 += __low2float(o);
        x1 += __high2float(o);
    }
    *d = __floats2bfloat162_rn(x0, x1);
}

/* ---------------------------------------------------------------- forward */

/* Block: 128 queries (warpgroup w: rows 64 w ..), key blocks of 128.
 * MINB = 2 caps registers at 128 so that two blocks share a multiprocessor
 * (one block's softmax overlaps the other's matrix products). */
template <int HS, int MINB>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_fwd_kernel(kn_bf16 *out, float *lse, const kn_bf16 *qkv, int T, int NH, int NKV, float sl2)
{
#if S9_ON
    constexpr int BQ = 128, BK = 128, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sK = sQ + BQ * HS * 2, sV = sK + 2 * TILE;
    const int swap = s9_mnswap_dev;
    const int nqb = (T + BQ - 1) / BQ, qb = nqb - 1 - blockIdx.x;
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gq = rows + (size_t)h * HS, *gk = rows + (size_t)(NH + kvh) * HS,
                  *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, q0 = qb * BQ;
    const int row0 = q0 + 64 * wgi + 16 * warp + g; /* rows row0, row0 + 8 */

    s9_load<HS, BQ>(sQ, gq, W, q0, T);
    s9_load<HS, BK>(sK, gk, W, 0, T);
    s9_load<HS, BK>(sV, gv, W, 0, T);
    s9_commit();

    float o[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    for (int kb = 0; kb <= qb; kb++) {
        const int cur = kb & 1, k0 = kb * BK;
        if (kb < qb) {
            s9_load<HS, BK>(sK + (cur ^ 1) * TILE, gk, W, k0 + BK, T);
            s9_load<HS, BK>(sV + (cur ^ 1) * TILE, gv, W, k0 + BK, T);
            s9_commit();
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        float s[BK / 2];
        wg_fence();
        s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK + cur * TILE);
        wg_commit();
        wg_wait<0>();
        wg_pin(s);
        /* The diagonal block masks keys above each row (a key block never
         * starts past a row of this block: BQ == BK). */
        const bool diag = kb == qb;
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int j = 0; j < BK / 8; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[4 * j + e] * sl2;
                if (diag && k0 + 8 * j + 2 * q + (e & 1) > row0 + 8 * (e >> 1))
                    x = -INFINITY;
                s[4 * j + e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            float mnew = fmaxf(m[r], mx[r]); /* finite: key k0 <= row is unmasked */
            float alpha = exp2f(m[r] - mnew);
            m[r] = mnew;
            l[r] *= alpha;
#pragma unroll
            for (int j = 0; j < HS / 8; j++) {
                o[4 * j + 2 * r] *= alpha;
                o[4 * j + 2 * r + 1] *= alpha;
            }
        }
#pragma unroll
        for (int i = 0; i < BK / 2; i++) {
            float p = exp2f(s[i] - m[(i >> 1) & 1]);
            s[i] = p;
            l[(i >> 1) & 1] += p;
        }
        uint32_t pa[BK / 16][4];
        frags<BK>(pa, s);
        wg_fence();
        s9_pz<HS, BK>(o, pa, sV + cur * TILE, swap);
        wg_commit();
        wg_wait<0>();
        wg_pin(o);
        __syncthreads(); /* stage cur is refilled by the next iteration */
    }
    const int C = NH * HS;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
        l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
        const int row = row0 + 8 * r;
        if (row >= T)
            continue;
        const float inv = 1.0f / l[r];
        kn_bf16 *dst = out + ((size_t)b * T + row) * C + (size_t)h * HS;
#pragma unroll
        for (int j = 0; j < HS / 8; j++)
            st2(dst + 8 * j + 2 * q, o[4 * j + 2 * r] * inv, o[4 * j + 2 * r + 1] * inv, 0);
        if (q == 0)
            lse[(size_t)bh * T + row] = m[r] + log2f(l[r]);
    }
#endif
}

/* --------------------------------------------------------------- backward */

/* dq for 128 queries (warpgroup w: rows 64 w ..), key blocks of 64:
 * s = q k^T, dp = do v^T, p = exp2(s sl2 - lse2), ds = p (dp - D),
 * dq += ds k; dq *= scale at the end. */
template <int HS>
static __global__ void __launch_bounds__(S9_THREADS, 1)
s9_dq_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
             const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BQ = 128, BK = 64, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sO = sQ + BQ * HS * 2, sK = sO + BQ * HS * 2,
                   sV = sK + 2 * TILE;
    const int swap = s9_mnswap_dev;
    const int nqb = (T + BQ - 1) / BQ, qb = nqb - 1 - blockIdx.x;
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const int C = NH * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gq = rows + (size_t)h * HS, *gk = rows + (size_t)(NH + kvh) * HS,
                  *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const kn_bf16 *gdo = dout + (size_t)b * T * C + (size_t)h * HS;
    const int wgi = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, q0 = qb * BQ;
    const int row0 = q0 + 64 * wgi + 16 * warp + g;
    const int last = min(q0 + BQ - 1, T - 1) / BK; /* last key block with a visible key */

    s9_load<HS, BQ>(sQ, gq, W, q0, T);
    s9_load<HS, BQ>(sO, gdo, C, q0, T);
    s9_load<HS, BK>(sK, gk, W, 0, T);
    s9_load<HS, BK>(sV, gv, W, 0, T);
    s9_commit();
    float L[2], D[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        int row = row0 + 8 * r;
        L[r] = row < T ? lse[(size_t)bh * T + row] : 0.0f;
        D[r] = row < T ? Dsum[(size_t)bh * T + row] : 0.0f;
    }
    float dq[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dq[i] = 0.0f;
    const int wrow = q0 + 64 * wgi; /* first row of this warpgroup */

    for (int kb = 0; kb <= last; kb++) {
        const int cur = kb & 1, k0 = kb * BK;
        if (kb < last) {
            s9_load<HS, BK>(sK + (cur ^ 1) * TILE, gk, W, k0 + BK, T);
            s9_load<HS, BK>(sV + (cur ^ 1) * TILE, gv, W, k0 + BK, T);
            s9_commit();
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        if (k0 <= wrow + 63) { /* else every key is above every row: ds = 0 */
            float s[BK / 2], dp[BK / 2];
            wg_fence();
            s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK + cur * TILE);
            s9_abt<HS, BQ, BK>(dp, sO, 64 * wgi, sV + cur * TILE);
            wg_commit();
            wg_wait<0>();
            wg_pin(s);
            wg_pin(dp);
            const bool mask = k0 + BK - 1 > wrow;
#pragma unroll
            for (int i = 0; i < BK / 2; i++) {
                const int r = (i >> 1) & 1, key = k0 + 8 * (i >> 2) + 2 * q + (i & 1);
                float p = (mask && key > row0 + 8 * r) ? 0.0f : exp2f(s[i] * sl2 - L[r]);
                s[i] = p * (dp[i] - D[r]);
            }
            uint32_t pa[BK / 16][4];
            frags<BK>(pa, s);
            wg_fence();
            s9_pz<HS, BK>(dq, pa, sK + cur * TILE, swap);
            wg_commit();
            wg_wait<0>();
            wg_pin(dq);
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int row = row0 + 8 * r;
        if (row >= T)
            continue;
        kn_bf16 *dst = dqkv + ((size_t)b * T + row) * W + (size_t)h * HS;
#pragma unroll
        for (int j = 0; j < HS / 8; j++)
            st2(dst + 8 * j + 2 * q, dq[4 * j + 2 * r] * scale, dq[4 * j + 2 * r + 1] * scale,
                accumulate);
    }
#endif
}

/* dk, dv for 128 keys of kv head kvh (warpgroup w: keys 64 w ..), summed
 * over the query heads of its group in head order, query blocks of 64:
 * st = k q^T, pt = exp2(st sl2 - lse2[query]), dv += pt do, dpt = v do^T,
 * dst = pt (dpt - D[query]), dk += dst q; dk *= scale at the end. */
template <int HS>
static __global__ void __launch_bounds__(S9_THREADS, 1)
s9_dkv_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
              const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BK = 128, BQ = 64, TILE = BQ * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sK = smem_base1024(s9_smem), sV = sK + BK * HS * 2, sQ = sV + BK * HS * 2,
                   sO = sQ + 2 * TILE;
    float *sL = reinterpret_cast<float *>(s9_smem + (sO + 2 * TILE - (uint32_t)__cvta_generic_to_shared(s9_smem)));
    float *sD = sL + 2 * BQ;
    const int swap = s9_mnswap_dev;
    const int kb = blockIdx.x; /* low key blocks see the most queries: first */
    const int b = blockIdx.y / NKV, kvh = blockIdx.y % NKV, rep = NH / NKV;
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const int C = NH * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gk = rows + (size_t)(NH + kvh) * HS, *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = threadIdx.x / 128, warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, k0 = kb * BK;
    const int wkey = k0 + 64 * wgi, key0 = wkey + 16 * warp + g; /* keys key0, key0 + 8 */
    const int qfirst = k0 / BQ, nqb = (T + BQ - 1) / BQ, nq = nqb - qfirst, nit = rep * nq;

    s9_load<HS, BK>(sK, gk, W, k0, T);
    s9_load<HS, BK>(sV, gv, W, k0, T);
    /* Stage iteration it: query head kvh * rep + it / nq, block qfirst + it % nq. */
    auto stage = [&](int buf, int it) {
        const int hq = kvh * rep + it / nq, qs = (qfirst + it % nq) * BQ;
        s9_load<HS, BQ>(sQ + buf * TILE, rows + (size_t)hq * HS, W, qs, T);
        s9_load<HS, BQ>(sO + buf * TILE, dout + (size_t)b * T * C + (size_t)hq * HS, C, qs, T);
        s9_commit();
        const size_t bh = (size_t)b * NH + hq;
        for (int i = threadIdx.x; i < BQ; i += S9_THREADS) {
            const int row = qs + i;
            sL[buf * BQ + i] = row < T ? lse[bh * T + row] : 0.0f;
            sD[buf * BQ + i] = row < T ? Dsum[bh * T + row] : 0.0f;
        }
    };
    stage(0, 0);
    float dk[HS / 2], dv[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dk[i] = dv[i] = 0.0f;

    for (int it = 0; it < nit; it++) {
        const int cur = it & 1, qs = (qfirst + it % nq) * BQ;
        if (it + 1 < nit) {
            stage(cur ^ 1, it + 1);
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        if (qs + BQ - 1 >= wkey) { /* else every query is before every key */
            const float *L = sL + cur * BQ, *D = sD + cur * BQ;
            float st[BQ / 2], dpt[BQ / 2];
            wg_fence();
            s9_abt<HS, BK, BQ>(st, sK, 64 * wgi, sQ + cur * TILE);
            s9_abt<HS, BK, BQ>(dpt, sV, 64 * wgi, sO + cur * TILE);
            wg_commit();
            wg_wait<0>();
            wg_pin(st);
            wg_pin(dpt);
#pragma unroll
            for (int i = 0; i < BQ / 2; i++) {
                const int key = key0 + 8 * ((i >> 1) & 1), ql = 8 * (i >> 2) + 2 * q + (i & 1);
                const int qry = qs + ql;
                float p = (qry < key || qry >= T) ? 0.0f : exp2f(st[i] * sl2 - L[ql]);
                st[i] = p;
                dpt[i] = p * (dpt[i] - D[ql]);
            }
            uint32_t pa[BQ / 16][4], da[BQ / 16][4];
            frags<BQ>(pa, st);
            frags<BQ>(da, dpt);
            wg_fence();
            s9_pz<HS, BQ>(dv, pa, sO + cur * TILE, swap);
            s9_pz<HS, BQ>(dk, da, sQ + cur * TILE, swap);
            wg_commit();
            wg_wait<0>();
            wg_pin(dv);
            wg_pin(dk);
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int key = key0 + 8 * r;
        if (key >= T)
            continue;
        kn_bf16 *dst = dqkv + ((size_t)b * T + key) * W;
        kn_bf16 *pk = dst + (size_t)(NH + kvh) * HS, *pv = dst + (size_t)(NH + NKV + kvh) * HS;
#pragma unroll
        for (int j = 0; j < HS / 8; j++) {
            st2(pk + 8 * j + 2 * q, dk[4 * j + 2 * r] * scale, dk[4 * j + 2 * r + 1] * scale,
                accumulate);
            st2(pv + 8 * j + 2 * q, dv[4 * j + 2 * r], dv[4 * j + 2 * r + 1], accumulate);
        }
    }
#endif
}

/* ---------------------------------------------------------------- host */

/* Dynamic shared memory of each kernel (+1024 to align the base). */
static size_t fwd_smem(int hs) { return (size_t)(128 + 4 * 128) * hs * 2 + 1024; }
static size_t dq_smem(int hs) { return (size_t)(2 * 128 + 4 * 64) * hs * 2 + 1024; }
static size_t dkv_smem(int hs) { return (size_t)(2 * 128 + 4 * 64) * hs * 2 + 1024 + 4 * 64 * 4; }

static int s9_minb = 1; /* forward variant (INGOT_FA_SM90_MINB, for the benchmark) */

/* Raises each kernel's dynamic shared-memory limit once per process, and
 * sets the descriptor variant from INGOT_FA_SM90_MNSWAP (0 by default). */
template <int HS> static int s9_setup(void)
{
    static int done = 0;
    if (done)
        return 0;
    CUDA_CHECK(cudaFuncSetAttribute(s9_fwd_kernel<HS, 1>,
                                    cudaFuncAttributeMaxDynamicSharedMemorySize, (int)fwd_smem(HS)));
    if (HS == 64) /* the two-block variant exists for hs 64 only */
        CUDA_CHECK(cudaFuncSetAttribute(s9_fwd_kernel<64, 2>,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        (int)fwd_smem(64)));
    CUDA_CHECK(cudaFuncSetAttribute(s9_dq_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)dq_smem(HS)));
    CUDA_CHECK(cudaFuncSetAttribute(s9_dkv_kernel<HS>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)dkv_smem(HS)));
    const char *e = getenv("INGOT_FA_SM90_MNSWAP");
    int swap = e && e[0] == '1';
    e = getenv("INGOT_FA_SM90_MINB");
    s9_minb = e && e[0] == '2' ? 2 : 1;
    CUDA_CHECK(cudaMemcpyToSymbol(s9_mnswap_dev, &swap, sizeof(int)));
    done = 1;
    return 0;
}

extern "C" int kn_fa_sm90_fwd(void *out, float *lse, const void *qkv, int B, int T, int NH,
                              int NKV, int hs, cudaStream_t s)
{
    const float sl2 = (1.0f / sqrtf((float)hs)) * 1.4426950408889634f;
    dim3 grid((unsigned)((T + 127) / 128), (unsigned)(B * NH));
    int err = hs == 64 ? s9_setup<64>() : s9_setup<128>();
    if (err)
        return err;
    if (hs == 64 && s9_minb == 2)
        s9_fwd_kernel<64, 2><<<grid, S9_THREADS, fwd_smem(64), s>>>(
            (kn_bf16 *)out, lse, (const kn_bf16 *)qkv, T, NH, NKV, sl2);
    else if (hs == 64)
        s9_fwd_kernel<64, 1><<<grid, S9_THREADS, fwd_smem(64), s>>>(
            (kn_bf16 *)out, lse, (const kn_bf16 *)qkv, T, NH, NKV, sl2);
    else
        s9_fwd_kernel<128, 1><<<grid, S9_THREADS, fwd_smem(128), s>>>(
            (kn_bf16 *)out, lse, (const kn_bf16 *)qkv, T, NH, NKV, sl2);
    KN_LAUNCH_CHECK();
    return 0;
}

template <int HS>
static int s9_bwd(kn_bf16 *dqkv, const kn_bf16 *dout, const kn_bf16 *qkv, const float *lse,
                  const float *Dsum, int B, int T, int NH, int NKV, int accumulate,
                  cudaStream_t s)
{
    const float scale = 1.0f / sqrtf((float)HS), sl2 = scale * 1.4426950408889634f;
    int err = s9_setup<HS>();
    if (err)
        return err;
    dim3 gq((unsigned)((T + 127) / 128), (unsigned)(B * NH));
    s9_dq_kernel<HS><<<gq, S9_THREADS, dq_smem(HS), s>>>(dqkv, qkv, dout, lse, Dsum, T, NH, NKV,
                                                         sl2, scale, accumulate);
    KN_LAUNCH_CHECK();
    dim3 gk((unsigned)((T + 127) / 128), (unsigned)(B * NKV));
    s9_dkv_kernel<HS><<<gk, S9_THREADS, dkv_smem(HS), s>>>(dqkv, qkv, dout, lse, Dsum, T, NH,
                                                           NKV, sl2, scale, accumulate);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_fa_sm90_bwd(void *dqkv, const void *dout, const void *qkv, const float *lse,
                              const float *Dsum, int B, int T, int NH, int NKV, int hs,
                              int accumulate, cudaStream_t s)
{
    if (hs == 64)
        return s9_bwd<64>((kn_bf16 *)dqkv, (const kn_bf16 *)dout, (const kn_bf16 *)qkv, lse,
                          Dsum, B, T, NH, NKV, accumulate, s);
    return s9_bwd<128>((kn_bf16 *)dqkv, (const kn_bf16 *)dout, (const kn_bf16 *)qkv, lse, Dsum,
                       B, T, NH, NKV, accumulate, s);
}
