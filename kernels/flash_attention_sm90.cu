/* Flash attention for Hopper: warpgroup MMA (wgmma, sm_90a) on tiles that
 * cp.async stages in shared memory in the 128-byte-swizzled layout wgmma's
 * descriptors read. Two warpgroups per block, each owning 64 rows (queries
 * in the forward and dq kernels, keys in the dk/dv kernel); all 256 threads
 * copy into a ring of stages (two or three), so the next tile's copy
 * overlaps this tile's math. Which kernel and configuration runs for a head
 * size: kn_fa_sm90_fwd / _bwd at the end (measurements: docs/kernels.md,
 * "Hopper attention").
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
#include <string.h>

#include "cuda_check.h"
#include "flash_attention_common.cuh"
#include "flash_attention_sm90.h"
#include "wgmma_sm90.cuh"
#include "kn_device.cuh"
#include "sm90_common.cuh"

/* The sm_80 pass compiles the kernels' bodies away (they use sm_90a
 * instructions), leaving the device helpers unreferenced there. */
#pragma nv_diag_suppress 177

enum { S9_THREADS = 256 };

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define S9_ON 1
#else
#define S9_ON 0
#endif

/* Which block of which row this CTA runs. The grid is (nrank, nrow): a
 * row is one (batch, head) pair, its blocks ranked in the order they must
 * start (rank 0 first: in the forward the longest query block, in the
 * fused backward the highest key block, as its fixed dq order needs). The
 * hardware starts blocks in linear order (x fastest); the rows go in groups
 * of G, and inside a group rank 0 of every row starts, then rank 1, ...
 * With G 1 a row's blocks start together, row after row; then the grid's
 * last blocks to start are the last row's lowest ranks, and in the forward
 * those are the longest (the whole causal row of keys) and run on while
 * the rest of the GPU has finished. G also bounds what a wave of blocks
 * reads from L2 (G rows' keys and values, or queries and gradients), so it
 * is chosen per call (kn_fa_sm90_fwd, _bwd). Every block still waits only
 * for blocks started before it (the backward's dq and dk/dv turns). */
static __device__ __forceinline__ void s9_block_order(int G, int &rank, int &row)
{
    const int nrank = (int)gridDim.x, nrow = (int)gridDim.y;
    const long long id = blockIdx.x + (long long)nrank * blockIdx.y;
    const int g0 = (int)(id / ((long long)G * nrank)) * G, gs = min(G, nrow - g0);
    const long long r = id - (long long)g0 * nrank; /* < gs nrank: 64 bits */
    rank = (int)(r / gs);
    row = g0 + (int)(r % gs);
}

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
    /* A fixed trip count (the loop from threadIdx.x was a generic loop with
     * a division per copy) and one row step per pass: each thread copies
     * chunk cc of rows r0, r0 + RS, ... (RS rows per pass of the block). */
    constexpr int CH = HS / 8, RS = S9_THREADS / CH, PASSES = (R * CH) / S9_THREADS;
    static_assert((R * CH) % S9_THREADS == 0, "whole passes of the block");
    const int r0 = threadIdx.x / CH, cc = threadIdx.x % CH;
    const size_t at = (size_t)(t0 + r0) * rowstride + cc * 8; /* element offset of pass 0 */
#pragma unroll
    for (int k = 0; k < PASSES; k++) {
        const int r = r0 + k * RS;
        const bool ok = t0 + r < T;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sb + sw_off<R>(r, cc)),
                     "l"(ok ? g + at + (size_t)k * RS * rowstride : g), "r"(ok ? 16 : 0)
                     : "memory");
    }
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

/* d[64 x N] = A (64 rows of tile a, R_A rows, K-major) . B^T (tile b, N
 * rows, K-major), contraction over HS. */
template <int HS, int RA, int N>
static __device__ __forceinline__ void s9_abt(float (&d)[N / 2], uint32_t a, int ra0, uint32_t b)
{
    const uint64_t da = desc_k(kstep_k<RA>(a, ra0, 0)), db = desc_k(b);
#pragma unroll
    for (int ks = 0; ks < HS / 16; ks++)
        wg<N, 0>::ss(d, desc_add(da, kstep_k<RA>(0, 0, ks)), desc_add(db, kstep_k<N>(0, 0, ks)),
                     ks == 0);
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

/* Element i (accumulator order) of the fragments frags() packed: p in
 * bf16. Lets the caller drop the float32 copy. */
template <int K>
static __device__ __forceinline__ float frag_val(const uint32_t (&a)[K / 16][4], int i)
{
    const int j = i >> 2, e = i & 3;
    const uint32_t w = a[j >> 1][((j & 1) << 1) | (e >> 1)];
    return __uint_as_float((e & 1) ? (w & 0xFFFF0000u) : (w << 16));
}

/* acc[64 x HS] += P (64 x K, fragments) . Z (tile z of K rows x HS,
 * MN-major). */
template <int HS, int K>
static __device__ __forceinline__ void s9_pz(float (&acc)[HS / 2], const uint32_t (&a)[K / 16][4],
                                             uint32_t z)
{
    const uint64_t dz = desc_mn(z, K * 128);
#pragma unroll
    for (int kk = 0; kk < K / 16; kk++)
        wg<HS, 1>::rs(acc, a[kk], desc_add(dz, (uint32_t)kk * 16 * 128), 0);
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

/* The overlapped kernels' K/V ring (three stages, copied two blocks
 * ahead). Start: blocks 0 and 1 in two copy groups (the caller's earlier
 * copies join the first). */
template <int HS, int BK>
static __device__ __forceinline__ void s9_ring_start(uint32_t sK, uint32_t sV, const kn_bf16 *gk,
                                                     const kn_bf16 *gv, size_t W, int last, int T)
{
    s9_load<HS, BK>(sK, gk, W, 0, T);
    s9_load<HS, BK>(sV, gv, W, 0, T);
    kn_cp_commit();
    if (last >= 1) {
        s9_load<HS, BK>(sK + BK * HS * 2, gk, W, BK, T);
        s9_load<HS, BK>(sV + BK * HS * 2, gv, W, BK, T);
    }
    kn_cp_commit();
}

/* Top of iteration j: block j + 1 lands; after the barrier every
 * warpgroup is done with stage j - 1 = (j + 2) % 3, which is refilled with
 * block j + 2. */
template <int HS, int BK>
static __device__ __forceinline__ void s9_ring_top(uint32_t sK, uint32_t sV, const kn_bf16 *gk,
                                                   const kn_bf16 *gv, size_t W, int j, int last,
                                                   int T)
{
    constexpr int TILE = BK * HS * 2;
    s9_wait_sync<0>();
    if (j + 2 <= last) {
        s9_load<HS, BK>(sK + ((j + 2) % 3) * TILE, gk, W, (j + 2) * BK, T);
        s9_load<HS, BK>(sV + ((j + 2) % 3) * TILE, gv, W, (j + 2) * BK, T);
        kn_cp_commit();
    }
}

/* Calls f(r, row) for this thread's rows of a 64-row accumulator fragment,
 * row0 + 8 r (r = 0, 1), those before T. */
template <typename F>
static __device__ __forceinline__ void s9_each_row(int row0, int T, F f)
{
#pragma unroll
    for (int r = 0; r < 2; r++)
        if (row0 + 8 * r < T)
            f(r, row0 + 8 * r);
}

/* Calls put(row, column, a0, a1) for each pair of adjacent values this
 * thread holds of rows row0 and row0 + 8 (those before T) of a 64 x HS
 * accumulator a (const: by value; else put may take them by reference). */
template <int HS, typename A, typename F>
static __device__ __forceinline__ void s9_rows(A &a, int row0, int T, int q, F put)
{
    s9_each_row(row0, T, [&](int r, int row) {
#pragma unroll
        for (int j = 0; j < HS / 8; j++)
            put(row, 8 * j + 2 * q, a[4 * j + 2 * r], a[4 * j + 2 * r + 1]);
    });
}

/* Writes those rows of a, times mul, to dst (row t at dst + t *
 * rowstride); acc: adds to what is there. */
template <int HS>
static __device__ __forceinline__ void s9_store_rows(kn_bf16 *dst, size_t rowstride,
                                                     const float (&a)[HS / 2], float mul,
                                                     int row0, int T, int q, int acc)
{
    s9_rows<HS>(a, row0, T, q, [&](int row, int col, float x0, float x1) {
        st2(dst + (size_t)row * rowstride + col, x0 * mul, x1 * mul, acc);
    });
}

/* x, y = the transpose of kn_rope_fwd's rotation (rope.cu, sign -1) of the
 * pair (x, y) = channels (c, c + hs/2), by cos co and sin si. */
static __device__ __forceinline__ void s9_rot_t(float &x, float &y, float co, float si)
{
    const float nx = x * co + y * si, ny = y * co - x * si;
    x = nx;
    y = ny;
}

/* rope^T in place on rows row0, row0 + 8 (those before T) of a 64 x HS
 * accumulator a (s9_rows' layout): column c < HS/2 with c + HS/2, which this
 * thread holds too (j and j + HS/16), by the angles of the row's position in
 * rope ([T, HS/2, 2] cos, sin: kn_rope_table). */
template <int HS>
static __device__ __forceinline__ void s9_rope_t_rows(float (&a)[HS / 2], const float *rope,
                                                      int row0, int T, int q)
{
    s9_each_row(row0, T, [&](int r, int row) {
#pragma unroll
        for (int j = 0; j < HS / 16; j++) {
            const float4 cs = __ldg(reinterpret_cast<const float4 *>(
                rope + ((size_t)row * (HS / 2) + 8 * j + 2 * q) * 2));
            s9_rot_t(a[4 * j + 2 * r], a[4 * (j + HS / 16) + 2 * r], cs.x, cs.y);
            s9_rot_t(a[4 * j + 2 * r + 1], a[4 * (j + HS / 16) + 2 * r + 1], cs.z, cs.w);
        }
    });
}

/* ---------------------------------------------------------------- forward */

/* The forward's epilogue: rows row0 and row0 + 8 of the output (o / l,
 * the row sums l summed over the quad first) and their lse2 = m + log2 l. */
template <int HS>
static __device__ __forceinline__ void s9_fwd_store(kn_bf16 *out, float *lse,
                                                    const float (&o)[HS / 2], const float (&m)[2],
                                                    float (&l)[2], int b, int h, int bh, int NH,
                                                    int T, int row0, int q)
{
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
}

/* Block: 128 queries (warpgroup w: rows 64 w ..), key blocks of BK in a
 * ring of NST stages (with 3 or more, the copy into a stage can start with
 * no barrier after the math: that stage was read two iterations ago).
 * MINB = 2 caps registers at 128 so that two blocks share a multiprocessor
 * (one block's softmax overlaps the other's matrix products). */
template <int HS, int BK, int NST, int MINB>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_fwd_kernel(kn_bf16 *out, float *lse, const kn_bf16 *qkv, int T, int NH, int NKV, float sl2,
              int G)
{
#if S9_ON
    constexpr int BQ = 128, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sK = sQ + BQ * HS * 2, sV = sK + NST * TILE;
    int rank, bh;
    s9_block_order(G, rank, bh);
    const int nqb = (T + BQ - 1) / BQ, qb = nqb - 1 - rank;
    const int b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gq = rows + (size_t)h * HS, *gk = rows + (size_t)(NH + kvh) * HS,
                  *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, q0 = qb * BQ;
    const int row0 = q0 + 64 * wgi + 16 * warp + g; /* rows row0, row0 + 8 */
    const int wrow = q0 + 64 * wgi; /* first row of this warpgroup */
    const int last = min(q0 + BQ - 1, T - 1) / BK; /* last key block with a visible key */

    s9_load<HS, BQ>(sQ, gq, W, q0, T);
    s9_load<HS, BK>(sK, gk, W, 0, T);
    s9_load<HS, BK>(sV, gv, W, 0, T);
    kn_cp_commit();

    float o[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

    for (int kb = 0; kb <= last; kb++) {
        const int cur = kb % NST, k0 = kb * BK;
        if (kb < last) {
            const int nxt = (kb + 1) % NST;
            s9_load<HS, BK>(sK + nxt * TILE, gk, W, k0 + BK, T);
            s9_load<HS, BK>(sV + nxt * TILE, gv, W, k0 + BK, T);
            kn_cp_commit();
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        if (k0 > wrow + 63) { /* every key above every row of this warpgroup */
            if (NST < 3)
                __syncthreads();
            continue;
        }
        float s[BK / 2];
        wg_fence();
        s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK + cur * TILE);
        wg_commit();
        wg_wait<0>();
        wg_pin(s);
        /* Blocks that reach past the warpgroup's first row mask keys above
         * each row; key k0 <= wrow is visible to every row, so the max stays
         * finite. */
        const bool diag = k0 + BK - 1 > wrow;
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
            float alpha = kn_fa_ex2(m[r] - mnew);
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
            float p = kn_fa_ex2(s[i] - m[(i >> 1) & 1]);
            s[i] = p;
            l[(i >> 1) & 1] += p;
        }
        uint32_t pa[BK / 16][4];
        frags<BK>(pa, s);
        wg_fence();
        s9_pz<HS, BK>(o, pa, sV + cur * TILE);
        wg_commit();
        wg_wait<0>();
        wg_pin(o);
        if (NST < 3)
            __syncthreads(); /* stage cur is refilled by the next iteration */
    }
    s9_fwd_store<HS>(out, lse, o, m, l, b, h, bh, NH, T, row0, q);
#endif
}

/* One softmax step of the forward on the scores s of key block k0 (raw
 * q.k, unscaled): masks keys above each row where mask, updates the running max m and
 * sum l, returns alpha (the factor the output must be rescaled by) and the
 * probabilities x (packed into A fragments by the caller once no product
 * is in flight: packing while one runs serialises the products). */
template <int BK, bool MASK = true>
static __device__ __forceinline__ void s9_softmax(const float (&s)[BK / 2], float (&x)[BK / 2],
                                                  float (&m)[2],
                                                  float (&l)[2], float (&alpha)[2], bool mask,
                                                  int k0, int row0, int q, float sl2,
                                                  float lazy = 0.0f)
{
    /* MASK false: the caller knows the block is clear of the diagonal (the
     * mask's compare and select per score cost 15% of the forward's
     * instructions where mask was only a runtime flag) */
    mask = MASK && mask;
    /* s is read only: it is the accumulator of a product still in the
     * pipeline, which non-wgmma writes would serialise. The max runs over
     * the raw scores (sl2 > 0) and the scale folds into one FMA per score. */
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int i = 0; i < BK / 2; i++) {
        x[i] = s[i];
        if (mask && k0 + 8 * (i >> 2) + 2 * q + (i & 1) > row0 + 8 * ((i >> 1) & 1))
            x[i] = -INFINITY;
        mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], x[i]);
    }
    float nm[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        /* lazy > 0: the running max stays where the block's exceeds it by
         * at most lazy (log2 units): probabilities up to 2^lazy, exact in
         * float32 and as relative to bf16's rounding as below 1, and alpha
         * exactly 1, so the caller can skip the rescale (FlashAttention-4's
         * trick). At m = -inf the difference is inf or NaN: never kept. */
        const float top = fmaxf(m[r], mx[r] * sl2);
        const float mnew = top - m[r] <= lazy ? m[r] : top;
        alpha[r] = kn_fa_ex2(m[r] - mnew); /* 0 at the first block (m = -inf) */
        m[r] = mnew;
        nm[r] = -mnew;
        l[r] *= alpha[r];
    }
#pragma unroll
    for (int i = 0; i < BK / 2; i++) {
        x[i] = kn_fa_ex2(fmaf(x[i], sl2, nm[(i >> 1) & 1]));
        l[(i >> 1) & 1] += x[i];
    }
}

/* The forward with FlashAttention-3's intra-warpgroup overlap: while the
 * tensor cores run p_j v_j, the warpgroup already has q k_{j+1}^T and works
 * on its softmax; the output is rescaled once p_j v_j has landed. Block:
 * 128 queries (warpgroup w: rows 64 w ..), key blocks of BK in a ring of
 * three stages, copied two blocks ahead. */
template <int HS, int BK, int MINB>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_fwd2_kernel(kn_bf16 *out, float *lse, const kn_bf16 *qkv, int T, int NH, int NKV, float sl2,
               float lazy, int G)
{
#if S9_ON
    constexpr int BQ = 128, NST = 3, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sK = sQ + BQ * HS * 2, sV = sK + NST * TILE;
    int rank, bh;
    s9_block_order(G, rank, bh);
    const int nqb = (T + BQ - 1) / BQ, qb = nqb - 1 - rank;
    const int b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gq = rows + (size_t)h * HS, *gk = rows + (size_t)(NH + kvh) * HS,
                  *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, q0 = qb * BQ;
    const int row0 = q0 + 64 * wgi + 16 * warp + g; /* rows row0, row0 + 8 */
    const int wrow = q0 + 64 * wgi;                  /* first row of this warpgroup */
    const int last = min(q0 + BQ - 1, T - 1) / BK;   /* last key block of the block */
    const int wlast = min(last, (wrow + 63) / BK);   /* ... of this warpgroup */

    s9_load<HS, BQ>(sQ, gq, W, q0, T);
    s9_ring_start<HS, BK>(sK, sV, gk, gv, W, last, T);
    s9_wait_sync<1>();

    float o[HS / 2], s[BK / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        o[i] = 0.0f;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, alpha[2];
    uint32_t pa[BK / 16][4];
    float p[BK / 2];
    wg_fence();
    s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK);
    wg_commit();
    wg_wait<0>();
    wg_pin(s);
    s9_softmax<BK>(s, p, m, l, alpha, BK - 1 > wrow, 0, row0, q, sl2);
    frags<BK>(pa, p);

    /* Iteration j: s9_ring_top, then the products. Both warpgroups pass
     * last + 1 barriers; warpgroup 0 may have one block fewer (wlast =
     * last - 1), so the loops have no branches around the matrix products
     * (a branch there serialises them). */
    auto top = [&](int j) { s9_ring_top<HS, BK>(sK, sV, gk, gv, W, j, last, T); };
    for (int j = 0; j < wlast; j++) {
        top(j);
        const int k1 = (j + 1) * BK;
        wg_fence();
        s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK + ((j + 1) % NST) * TILE);
        wg_commit();
        s9_pz<HS, BK>(o, pa, sV + (j % NST) * TILE);
        wg_commit();
        wg_wait<1>(); /* q k_{j+1}^T is in; p_j v_j may still run */
        wg_pin(s);
        if (k1 + BK - 1 > wrow) /* warpgroup-uniform */
            s9_softmax<BK, true>(s, p, m, l, alpha, true, k1, row0, q, sl2, lazy);
        else
            s9_softmax<BK, false>(s, p, m, l, alpha, false, k1, row0, q, sl2, lazy);
        wg_wait<0>();
        wg_pin(o);
        /* (warp-uniform: with the lazy max most blocks skip it) */
        if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f))
#pragma unroll
            for (int i = 0; i < HS / 2; i++)
                o[i] *= alpha[(i >> 1) & 1];
        frags<BK>(pa, p);
    }
    top(wlast);
    wg_fence();
    s9_pz<HS, BK>(o, pa, sV + (wlast % NST) * TILE);
    wg_commit();
    wg_wait<0>();
    wg_pin(o);
    for (int j = wlast + 1; j <= last; j++)
        top(j);
    s9_fwd_store<HS>(out, lse, o, m, l, b, h, bh, NH, T, row0, q);
#endif
}

/* --------------------------------------------------------------- backward */

/* dq for 128 queries (warpgroup w: rows 64 w ..), key blocks of 64:
 * s = q k^T, dp = do v^T, p = exp2(s sl2 - lse2), ds = p (dp - D),
 * dq += ds k; dq *= scale at the end. */
template <int HS, int NST, int MINB>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_dq_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
             const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BQ = 128, BK = 64, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sO = sQ + BQ * HS * 2, sK = sO + BQ * HS * 2,
                   sV = sK + NST * TILE;
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
    kn_cp_commit();
    float L[2], D[2];
    kn_fa_row_stats(L, D, lse, Dsum, (size_t)bh, row0, T);
    float dq[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dq[i] = 0.0f;
    const int wrow = q0 + 64 * wgi; /* first row of this warpgroup */

    for (int kb = 0; kb <= last; kb++) {
        const int cur = kb % NST, k0 = kb * BK;
        if (kb < last) {
            const int nxt = (kb + 1) % NST;
            s9_load<HS, BK>(sK + nxt * TILE, gk, W, k0 + BK, T);
            s9_load<HS, BK>(sV + nxt * TILE, gv, W, k0 + BK, T);
            kn_cp_commit();
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
                float p = (mask && key > row0 + 8 * r) ? 0.0f : kn_fa_ex2(fmaf(s[i], sl2, -L[r]));
                s[i] = p * (dp[i] - D[r]);
            }
            uint32_t pa[BK / 16][4];
            frags<BK>(pa, s);
            wg_fence();
            s9_pz<HS, BK>(dq, pa, sK + cur * TILE);
            wg_commit();
            wg_wait<0>();
            wg_pin(dq);
        }
        if (NST < 3)
            __syncthreads();
    }
    /* s9_store_rows, written out: through the helper ptxas spills 8
     * bytes at two blocks per SM. */
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

/* pt and dst of one query block of the dk/dv kernels, in place: st (raw
 * k.q) becomes pt = exp2(st sl2 - lse2[query]) and dpt becomes
 * dst = pt (dpt - D[query]). L, D: that block's lse2 and Dsum (shared
 * memory, two adjacent queries per load). MASK (the block reaches the
 * diagonal or T): queries before the key or at/after T get p = 0; the
 * blocks below the diagonal skip the index arithmetic. */
template <int BQ, bool MASK>
static __device__ __forceinline__ void s9_pds_ip(float (&st)[BQ / 2], float (&dpt)[BQ / 2],
                                                 int key0, int qs, int T, int q, float sl2,
                                                 const float *L, const float *D)
{
#pragma unroll
    for (int j = 0; j < BQ / 8; j++) {
        const int ql = 8 * j + 2 * q;
        const float2 l2 = *reinterpret_cast<const float2 *>(L + ql);
        const float2 d2 = *reinterpret_cast<const float2 *>(D + ql);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int i = 4 * j + e, qry = qs + ql + (e & 1), key = key0 + 8 * (e >> 1);
            const float p = MASK && (qry < key || qry >= T)
                                ? 0.0f
                                : kn_fa_ex2(fmaf(st[i], sl2, -((e & 1) ? l2.y : l2.x)));
            st[i] = p;
            dpt[i] = p * (dpt[i] - ((e & 1) ? d2.y : d2.x));
        }
    }
}

/* The dk/dv kernels' stage of one query block: q and do of query head hq,
 * rows qs.. (zero past T) into the tiles sQ, sO (one copy group), and
 * that block's lse2 and Dsum into sL, sD (0 past T). */
template <int HS, int BQ>
static __device__ __forceinline__ void s9_stage_q(uint32_t sQ, uint32_t sO, float *sL, float *sD,
                                                  const kn_bf16 *rows, const kn_bf16 *dout,
                                                  const float *lse, const float *Dsum, int b,
                                                  int hq, int qs, int T, int NH, size_t W)
{
    const int C = NH * HS;
    s9_load<HS, BQ>(sQ, rows + (size_t)hq * HS, W, qs, T);
    s9_load<HS, BQ>(sO, dout + (size_t)b * T * C + (size_t)hq * HS, C, qs, T);
    kn_cp_commit();
    const size_t bh = (size_t)b * NH + hq;
    static_assert(BQ <= S9_THREADS, "one row of lse and Dsum per thread");
    if (const int i = threadIdx.x; i < BQ) {
        const int row = qs + i;
        sL[i] = row < T ? lse[bh * T + row] : 0.0f;
        sD[i] = row < T ? Dsum[bh * T + row] : 0.0f;
    }
}

/* A fragments of k-step kk (16 keys x 16 queries of this warp) to / from
 * rows 16 warp.. of a 64-row K-major swizzled tile: stmatrix / ldmatrix
 * (not transposed) hand matrix m = register m of every lane, lane 8 m + i
 * giving the address of row i of matrix m (rows 8 (m & 1).., chunk
 * 2 kk + (m >> 1)). Loading with the same addresses gives back the same
 * fragments. */
static __device__ __forceinline__ uint32_t s9_frag_addr(uint32_t sb, int warp, int kk, int lane)
{
    const int m = lane >> 3, i = lane & 7;
    return sb + sw_off<64>(16 * warp + 8 * (m & 1) + i, 2 * kk + (m >> 1));
}

static __device__ __forceinline__ void s9_st_frag(uint32_t addr, const uint32_t (&a)[4])
{
#if S9_ON
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(addr),
                 "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3])
                 : "memory");
#endif
}

static __device__ __forceinline__ void s9_ld_frag(uint32_t (&a)[4], uint32_t addr)
{
#if S9_ON
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(a[0]), "=r"(a[1]), "=r"(a[2]), "=r"(a[3])
                 : "r"(addr)
                 : "memory");
#endif
}

/* Barrier of one warpgroup's 128 threads (ids 1, 2; 0 is __syncthreads).
 * Immediate ids: with a register id ptxas reserves all 16 barriers. */
static __device__ __forceinline__ void s9_wg_sync(int wgi)
{
    if (wgi)
        asm volatile("bar.sync 2, 128;\n" ::: "memory");
    else
        asm volatile("bar.sync 1, 128;\n" ::: "memory");
}

/* One query block of the dk/dv kernels up to dk's product: st = k q^T,
 * pt = exp2(st sl2 - lse2[query]) (0 where MASK-ed: query before the key or
 * at/after T), dv += pt do, dpt = v do^T, dst = pt (dpt - D[query]) packed
 * as bf16 A fragments into da. Ordered to keep few accumulators live (two
 * blocks per multiprocessor at BQ 64): st, then dpt while dv's product
 * runs. (With pt's fragments in registers across that product ptxas
 * serialises the products at 128 registers, C7512.) SP: pt goes through
 * sP (this warpgroup's 64 x BQ K-major tile) instead: stored after its
 * exp2, dv's product reads it from there (SS), and the fragments come back
 * (ldmatrix) after the wait, so they are not live across the products.
 * sK, sV: the block's 128 keys; sQ, sO: this query block's tiles; L, D:
 * its lse2 and Dsum in shared memory. */
template <int HS, int BQ, int MINB, bool SP>
static __device__ __forceinline__ void s9_dkv_block(float (&dv)[HS / 2], uint32_t (&da)[BQ / 16][4],
                                                    uint32_t sK, uint32_t sV, uint32_t sQ,
                                                    uint32_t sO, uint32_t sP, int wgi, int key0,
                                                    int qs, int T, int q, bool mask, float sl2,
                                                    const float *L, const float *D)
{
    static_assert(!SP || BQ == 64, "the P tile is 64 queries wide");
    constexpr int BK = 128;
    const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    float st[BQ / 2], dpt[BQ / 2];
    uint32_t pa[BQ / 16][4];
    wg_fence();
    s9_abt<HS, BK, BQ>(st, sK, 64 * wgi, sQ);
    wg_commit();
    wg_wait<0>();
    wg_pin(st);
#pragma unroll
    for (int i = 0; i < BQ / 2; i++) {
        const int key = key0 + 8 * ((i >> 1) & 1), ql = 8 * (i >> 2) + 2 * q + (i & 1);
        const int qry = qs + ql;
        st[i] = mask && (qry < key || qry >= T) ? 0.0f : kn_fa_ex2(fmaf(st[i], sl2, -L[ql]));
    }
    frags<BQ>(pa, st);
    if (SP) {
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++)
            s9_st_frag(s9_frag_addr(sP, warp, kk, lane), pa[kk]);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        s9_wg_sync(wgi); /* the product reads all four warps' rows */
    }
    wg_fence();
    s9_abt<HS, BK, BQ>(dpt, sV, 64 * wgi, sO);
    if (SP) {
        const uint64_t dp = desc_k(sP), dob = desc_mn(sO, BQ * 128);
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++)
            wg<HS, 1>::ss(dv, desc_add(dp, kstep_k<64>(0, 0, kk)),
                          desc_add(dob, (uint32_t)kk * 16 * 128), 0);
    } else {
        s9_pz<HS, BQ>(dv, pa, sO);
    }
    wg_commit();
    wg_wait<0>();
    wg_pin(dpt);
    wg_pin(dv);
    if (SP) {
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++)
            s9_ld_frag(pa[kk], s9_frag_addr(sP, warp, kk, lane));
    }
#pragma unroll
    for (int i = 0; i < BQ / 2; i++) {
        const int ql = 8 * (i >> 2) + 2 * q + (i & 1);
        /* At two blocks per SM, p comes back from its bf16 copy: the
         * float32 one would not fit in 128 registers. */
        const float p = MINB == 2 ? frag_val<BQ>(pa, i) : st[i];
        dpt[i] = p * (dpt[i] - D[ql]);
    }
    frags<BQ>(da, dpt);
}

/* dk, dv for 128 keys of kv head kvh (warpgroup w: keys 64 w ..), summed
 * over the query heads of its group in head order, query blocks of BQ:
 * st = k q^T, pt = exp2(st sl2 - lse2[query]), dv += pt do, dpt = v do^T,
 * dst = pt (dpt - D[query]), dk += dst q; dk *= scale at the end.
 * JOINT: st and dpt are issued together, then dv's and dk's products
 * together (two waits per block instead of three); at BQ 32 that fits
 * two blocks per SM without ptxas serialising the products (C7512). */
template <int HS, int BQ, int NST, int MINB, int JOINT>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_dkv_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
              const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BK = 128, TILE = BQ * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sK = smem_base1024(s9_smem), sV = sK + BK * HS * 2, sQ = sV + BK * HS * 2,
                   sO = sQ + NST * TILE;
    float *sL = reinterpret_cast<float *>(
        s9_smem + (sO + NST * TILE - (uint32_t)__cvta_generic_to_shared(s9_smem)));
    float *sD = sL + NST * BQ;
    const int kb = blockIdx.x; /* low key blocks see the most queries: first */
    const int b = blockIdx.y / NKV, kvh = blockIdx.y % NKV, rep = NH / NKV;
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gk = rows + (size_t)(NH + kvh) * HS, *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, k0 = kb * BK;
    const int wkey = k0 + 64 * wgi, key0 = wkey + 16 * warp + g; /* keys key0, key0 + 8 */
    const int qfirst = k0 / BQ, nqb = (T + BQ - 1) / BQ, nq = nqb - qfirst, nit = rep * nq;

    s9_load<HS, BK>(sK, gk, W, k0, T);
    s9_load<HS, BK>(sV, gv, W, k0, T);
    /* Stage iteration it: query head kvh * rep + it / nq, block qfirst + it % nq. */
    auto stage = [&](int buf, int it) {
        s9_stage_q<HS, BQ>(sQ + buf * TILE, sO + buf * TILE, sL + buf * BQ, sD + buf * BQ, rows,
                           dout, lse, Dsum, b, kvh * rep + it / nq, (qfirst + it % nq) * BQ, T,
                           NH, W);
    };
    stage(0, 0);
    float dk[HS / 2], dv[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dk[i] = dv[i] = 0.0f;

    for (int it = 0; it < nit; it++) {
        const int cur = it % NST, qs = (qfirst + it % nq) * BQ;
        if (it + 1 < nit) {
            stage((it + 1) % NST, it + 1);
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        if (qs + BQ - 1 >= wkey) { /* else every query is before every key */
            const float *L = sL + cur * BQ, *D = sD + cur * BQ;
            /* uniform over the warpgroup: some query before a key, or past T */
            const bool mask = qs < wkey + 63 || qs + BQ > T;
            float st[BQ / 2], dpt[BQ / 2];
            uint32_t pa[BQ / 16][4], da[BQ / 16][4];
            if (JOINT) {
                wg_fence();
                s9_abt<HS, BK, BQ>(st, sK, 64 * wgi, sQ + cur * TILE);
                s9_abt<HS, BK, BQ>(dpt, sV, 64 * wgi, sO + cur * TILE);
                wg_commit();
                wg_wait<0>();
                wg_pin(st);
                wg_pin(dpt);
                if (mask)
                    s9_pds_ip<BQ, true>(st, dpt, key0, qs, T, q, sl2, L, D);
                else
                    s9_pds_ip<BQ, false>(st, dpt, key0, qs, T, q, sl2, L, D);
                frags<BQ>(pa, st);
                frags<BQ>(da, dpt);
                wg_fence();
                s9_pz<HS, BQ>(dv, pa, sO + cur * TILE);
                s9_pz<HS, BQ>(dk, da, sQ + cur * TILE);
                wg_commit();
                wg_wait<0>();
                wg_pin(dv);
                wg_pin(dk);
            } else {
                s9_dkv_block<HS, BQ, MINB, false>(dv, da, sK, sV, sQ + cur * TILE,
                                                  sO + cur * TILE, 0, wgi, key0, qs, T, q, mask,
                                                  sl2, L, D);
                wg_fence();
                s9_pz<HS, BQ>(dk, da, sQ + cur * TILE);
                wg_commit();
                wg_wait<0>();
                wg_pin(dv);
                wg_pin(dk);
            }
        }
        if (NST < 3)
            __syncthreads();
    }
    kn_bf16 *dst = dqkv + (size_t)b * T * W;
    s9_store_rows<HS>(dst + (size_t)(NH + kvh) * HS, W, dk, scale, key0, T, q, accumulate);
    s9_store_rows<HS>(dst + (size_t)(NH + NKV + kvh) * HS, W, dv, 1.0f, key0, T, q, accumulate);
#endif
}

/* ds = p (dp - D) of one key block for the dq kernel, from the raw scores
 * s and dp (read only: accumulators of products still in the pipeline). */
template <int BK>
static __device__ __forceinline__ void s9_ds(const float (&s)[BK / 2], const float (&dp)[BK / 2],
                                             float (&ds)[BK / 2], bool mask, int k0, int row0,
                                             int q, float sl2, const float (&L)[2],
                                             const float (&D)[2])
{
#pragma unroll
    for (int i = 0; i < BK / 2; i++) {
        const int r = (i >> 1) & 1, key = k0 + 8 * (i >> 2) + 2 * q + (i & 1);
        const float p = (mask && key > row0 + 8 * r) ? 0.0f : kn_fa_ex2(fmaf(s[i], sl2, -L[r]));
        ds[i] = p * (dp[i] - D[r]);
    }
}

/* dq with the forward's intra-warpgroup overlap: while ds_j k_j runs, the
 * warpgroup has s and dp of block j + 1 and computes their ds. Same tiles
 * and ring as s9_dq_kernel (three stages, copies two blocks ahead). */
template <int HS, int MINB>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_dq2_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
              const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BQ = 128, BK = 64, NST = 3, TILE = BK * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sQ = smem_base1024(s9_smem), sO = sQ + BQ * HS * 2, sK = sO + BQ * HS * 2,
                   sV = sK + NST * TILE;
    const int nqb = (T + BQ - 1) / BQ, qb = nqb - 1 - blockIdx.x;
    const int bh = blockIdx.y, b = bh / NH, h = bh % NH, kvh = h / (NH / NKV);
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const int C = NH * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gq = rows + (size_t)h * HS, *gk = rows + (size_t)(NH + kvh) * HS,
                  *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const kn_bf16 *gdo = dout + (size_t)b * T * C + (size_t)h * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, q0 = qb * BQ;
    const int row0 = q0 + 64 * wgi + 16 * warp + g;
    const int wrow = q0 + 64 * wgi;
    const int last = min(q0 + BQ - 1, T - 1) / BK;
    const int wlast = min(last, (wrow + 63) / BK);

    s9_load<HS, BQ>(sQ, gq, W, q0, T);
    s9_load<HS, BQ>(sO, gdo, C, q0, T);
    s9_ring_start<HS, BK>(sK, sV, gk, gv, W, last, T);
    float L[2], D[2];
    kn_fa_row_stats(L, D, lse, Dsum, (size_t)bh, row0, T);
    s9_wait_sync<1>();
    float dq[HS / 2], s[BK / 2], dp[BK / 2], ds[BK / 2];
    uint32_t da[BK / 16][4];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dq[i] = 0.0f;
    wg_fence();
    s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK);
    s9_abt<HS, BQ, BK>(dp, sO, 64 * wgi, sV);
    wg_commit();
    wg_wait<0>();
    wg_pin(s);
    wg_pin(dp);
    s9_ds<BK>(s, dp, ds, BK - 1 > wrow, 0, row0, q, sl2, L, D);
    frags<BK>(da, ds);

    auto top = [&](int j) { s9_ring_top<HS, BK>(sK, sV, gk, gv, W, j, last, T); };
    for (int j = 0; j < wlast; j++) {
        top(j);
        const int k1 = (j + 1) * BK, n1 = (j + 1) % NST;
        wg_fence();
        s9_abt<HS, BQ, BK>(s, sQ, 64 * wgi, sK + n1 * TILE);
        s9_abt<HS, BQ, BK>(dp, sO, 64 * wgi, sV + n1 * TILE);
        wg_commit();
        s9_pz<HS, BK>(dq, da, sK + (j % NST) * TILE);
        wg_commit();
        wg_wait<1>();
        wg_pin(s);
        wg_pin(dp);
        s9_ds<BK>(s, dp, ds, k1 + BK - 1 > wrow, k1, row0, q, sl2, L, D);
        wg_wait<0>();
        wg_pin(dq);
        frags<BK>(da, ds);
    }
    top(wlast);
    wg_fence();
    s9_pz<HS, BK>(dq, da, sK + (wlast % NST) * TILE);
    wg_commit();
    wg_wait<0>();
    wg_pin(dq);
    for (int j = wlast + 1; j <= last; j++)
        top(j);
    s9_store_rows<HS>(dqkv + (size_t)b * T * W + (size_t)h * HS, W, dq, scale, row0, T, q,
                      accumulate);
#endif
}

/* pt and dst of one query block for the dk/dv kernel, from the raw st and
 * dpt (read only, as in s9_ds); L, D: that block's lse and Dsum. */
template <int BQ>
static __device__ __forceinline__ void s9_pds(const float (&st)[BQ / 2],
                                              const float (&dpt)[BQ / 2], float (&p)[BQ / 2],
                                              float (&ds)[BQ / 2], int key0, int qs, int T,
                                              int q, float sl2, const float *L, const float *D)
{
#pragma unroll
    for (int i = 0; i < BQ / 2; i++) {
        const int key = key0 + 8 * ((i >> 1) & 1), ql = 8 * (i >> 2) + 2 * q + (i & 1);
        const int qry = qs + ql;
        p[i] = (qry < key || qry >= T) ? 0.0f : kn_fa_ex2(fmaf(st[i], sl2, -L[ql]));
        ds[i] = p[i] * (dpt[i] - D[ql]);
    }
}

/* dk, dv with the intra-warpgroup overlap: while p_j^T do_j and ds_j^T q_j
 * run, the warpgroup has st, dpt of iteration j + 1 and computes their p,
 * ds. Same tiles as s9_dkv_kernel; a ring of three stages. Fully masked
 * iterations are computed (their p is 0) to keep the pipeline branch-free. */
template <int HS>
static __global__ void __launch_bounds__(S9_THREADS, 1)
s9_dkv2_kernel(kn_bf16 *dqkv, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
               const float *Dsum, int T, int NH, int NKV, float sl2, float scale, int accumulate)
{
#if S9_ON
    constexpr int BK = 128, BQ = 64, NST = 3, TILE = BQ * HS * 2;
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sK = smem_base1024(s9_smem), sV = sK + BK * HS * 2, sQ = sV + BK * HS * 2,
                   sO = sQ + NST * TILE;
    float *sL = reinterpret_cast<float *>(
        s9_smem + (sO + NST * TILE - (uint32_t)__cvta_generic_to_shared(s9_smem)));
    float *sD = sL + NST * BQ;
    const int kb = blockIdx.x;
    const int b = blockIdx.y / NKV, kvh = blockIdx.y % NKV, rep = NH / NKV;
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const int C = NH * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gk = rows + (size_t)(NH + kvh) * HS, *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, k0 = kb * BK;
    const int key0 = k0 + 64 * wgi + 16 * warp + g;
    const int qfirst = k0 / BQ, nqb = (T + BQ - 1) / BQ, nq = nqb - qfirst, nit = rep * nq;

    auto stage = [&](int it) {
        const int buf = it % NST;
        const int hq = kvh * rep + it / nq, qs = (qfirst + it % nq) * BQ;
        s9_load<HS, BQ>(sQ + buf * TILE, rows + (size_t)hq * HS, W, qs, T);
        s9_load<HS, BQ>(sO + buf * TILE, dout + (size_t)b * T * C + (size_t)hq * HS, C, qs, T);
        const size_t bh = (size_t)b * NH + hq;
        static_assert(BQ <= S9_THREADS, "one row of lse and Dsum per thread");
        if (const int i = threadIdx.x; i < BQ) {
            const int row = qs + i;
            sL[buf * BQ + i] = row < T ? lse[bh * T + row] : 0.0f;
            sD[buf * BQ + i] = row < T ? Dsum[bh * T + row] : 0.0f;
        }
    };
    auto qstart = [&](int it) { return (qfirst + it % nq) * BQ; };
    s9_load<HS, BK>(sK, gk, W, k0, T);
    s9_load<HS, BK>(sV, gv, W, k0, T);
    stage(0);
    kn_cp_commit();
    if (nit > 1)
        stage(1);
    kn_cp_commit();
    s9_wait_sync<1>();

    float dk[HS / 2], dv[HS / 2], st[BQ / 2], dpt[BQ / 2], p[BQ / 2], ds[BQ / 2];
    uint32_t pa[BQ / 16][4], da[BQ / 16][4];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dk[i] = dv[i] = 0.0f;
    wg_fence();
    s9_abt<HS, BK, BQ>(st, sK, 64 * wgi, sQ);
    s9_abt<HS, BK, BQ>(dpt, sV, 64 * wgi, sO);
    wg_commit();
    wg_wait<0>();
    wg_pin(st);
    wg_pin(dpt);
    s9_pds<BQ>(st, dpt, p, ds, key0, qstart(0), T, q, sl2, sL, sD);
    frags<BQ>(pa, p);
    frags<BQ>(da, ds);

    for (int j = 0; j < nit; j++) {
        /* Stage j + 1 lands; stage j - 1 = (j + 2) % 3 is refilled. */
        s9_wait_sync<0>();
        if (j + 2 < nit) {
            stage(j + 2);
            kn_cp_commit();
        }
        const int cur = j % NST, n1 = (j + 1) % NST;
        const bool more = j + 1 < nit; /* uniform over the block */
        wg_fence();
        if (more) {
            s9_abt<HS, BK, BQ>(st, sK, 64 * wgi, sQ + n1 * TILE);
            s9_abt<HS, BK, BQ>(dpt, sV, 64 * wgi, sO + n1 * TILE);
        }
        wg_commit();
        s9_pz<HS, BQ>(dv, pa, sO + cur * TILE);
        s9_pz<HS, BQ>(dk, da, sQ + cur * TILE);
        wg_commit();
        wg_wait<1>();
        wg_pin(st);
        wg_pin(dpt);
        if (more)
            s9_pds<BQ>(st, dpt, p, ds, key0, qstart(j + 1), T, q, sl2, sL + n1 * BQ,
                       sD + n1 * BQ);
        wg_wait<0>();
        wg_pin(dv);
        wg_pin(dk);
        frags<BQ>(pa, p);
        frags<BQ>(da, ds);
    }
    kn_bf16 *dst = dqkv + (size_t)b * T * W;
    s9_store_rows<HS>(dst + (size_t)(NH + kvh) * HS, W, dk, scale, key0, T, q, accumulate);
    s9_store_rows<HS>(dst + (size_t)(NH + NKV + kvh) * HS, W, dv, 1.0f, key0, T, q, accumulate);
#endif
}

/* ------------------------------------------------ backward, dq fused in */

/* Stores the four 8 x 8 bf16 blocks of A fragment a (rows r0.., columns
 * c0.. of a 16 x 16 piece of a 64 x BQ tile whose rows are keys and
 * columns queries) transposed into the K-major tile at sb (rows =
 * queries, 16-byte chunks along the keys, 64 rows): block m is rows
 * 8 (m & 1).., columns 8 (m >> 1).. of the piece; lane 8 m + i gives the
 * address of stored row i of block m (query c0 + 8 (m >> 1) + i, keys
 * r0 + 8 (m & 1) ..). */
static __device__ __forceinline__ void s9_st_trans(uint32_t sb, const uint32_t (&a)[4], int kchunk0,
                                                   int c0, int lane)
{
#if S9_ON
    const int m = lane >> 3, i = lane & 7;
    const uint32_t addr = sb + sw_off<64>(c0 + 8 * (m >> 1) + i, kchunk0 + (m & 1));
    asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(
                     addr),
                 "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3])
                 : "memory");
#endif
}

/* Arrives on mb once this thread's earlier cp.async copies have landed. */
static __device__ __forceinline__ void s9_mb_arrive_copies(uint32_t mb)
{
#if S9_ON
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(mb) : "memory");
#endif
}

/* 4 bytes at src into shared address dst, zeros where !ok. */
static __device__ __forceinline__ void s9_cp4(uint32_t dst, const float *src, bool ok)
{
#if S9_ON
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(dst), "l"(src),
                 "r"(ok ? 4 : 0)
                 : "memory");
#endif
}

static __device__ __forceinline__ int s9_poll_turn(const int *sem)
{
    int v = 0;
#if S9_ON
    asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\n" : "=r"(v) : "l"(sem) : "memory");
#endif
    return v;
}

/* Waits until *sem == turn; v: a value polled earlier (its load's latency
 * hidden behind the block's products). */
static __device__ __forceinline__ void s9_wait_turn(const int *sem, int turn, int v)
{
    while (v != turn)
        v = s9_poll_turn(sem);
}

static __device__ __forceinline__ void s9_pass_turn(int *sem)
{
#if S9_ON
    asm volatile("red.release.gpu.global.add.s32 [%0], 1;\n" ::"l"(sem) : "memory");
#endif
}

/* qkv's bias gradient, dk and dv part: the column sums of this CTA's dk
 * (times scale, as stored) and dv over its keys before T, into row
 * (b nkb + kb) of colsum [B nkb, W] at the kv head's k and v columns. Fixed
 * order: a thread's two rows, the 8 lanes of a column pair (shuffles), then
 * the 8 warps in turn. red: 8 x 2 HS floats of shared memory no thread
 * uses any more; the caller has passed a block barrier since. */
template <int HS>
static __device__ __forceinline__ void s9_kv_colsum(float *colsum, float *red,
                                                    const float (&dk)[HS / 2],
                                                    const float (&dv)[HS / 2], int key0, int T,
                                                    int q, float scale, int NH, int NKV, int kvh)
{
    const int w8 = threadIdx.x / 32, lane = threadIdx.x % 32;
    const bool r0 = key0 < T, r1 = key0 + 8 < T;
#pragma unroll
    for (int j = 0; j < HS / 8; j++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            float a = (r0 ? dk[4 * j + e] : 0.0f) + (r1 ? dk[4 * j + 2 + e] : 0.0f);
            float v = (r0 ? dv[4 * j + e] : 0.0f) + (r1 ? dv[4 * j + 2 + e] : 0.0f);
#pragma unroll
            for (int m = 4; m < 32; m <<= 1) {
                a += __shfl_xor_sync(0xffffffffu, a, m);
                v += __shfl_xor_sync(0xffffffffu, v, m);
            }
            if (lane < 4) {
                red[w8 * 2 * HS + 8 * j + 2 * q + e] = a * scale;
                red[w8 * 2 * HS + HS + 8 * j + 2 * q + e] = v;
            }
        }
    }
    __syncthreads();
    if (threadIdx.x < 2 * HS) {
        float sum = 0.0f;
        for (int w = 0; w < S9_THREADS / 32; w++)
            sum += red[w * 2 * HS + threadIdx.x];
        const int part = threadIdx.x / HS, d = threadIdx.x % HS; /* 0: k, 1: v */
        colsum[(size_t)(NH + part * NKV + kvh) * HS + d] = sum;
    }
}

/* The fused backward's float32 dq accumulator (hs 64): per (b NH + h,
 * 64-query block, half w) 2048 floats, the block's 64 rows x columns
 * 32 w .. 32 w + 31 (warpgroup w's dq product) in its accumulator's order:
 * the float2 of lane l of warp wp for row 16 wp + l / 4 + 8 r, columns
 * 8 j + 2 (l % 4) .. at float2 ((2 wp + r) 4 + j) 32 + l. So a warp's adds
 * for one (r, j) are 256 contiguous bytes (two cache lines; row by row they
 * were 32 bytes in each of 8 lines: the backward 1.26 -> 1.11 ms at
 * TinyLlama's shape. A float4 per lane, both rows in one red.v4, measured
 * slower, 1.17: docs/performance.md round 18), and columns 8 j ..
 * 8 j + 7 of a row are 8 contiguous floats (lanes 4 g .. 4 g + 3) for the
 * store pass. Rows past T (the last block's) are held but never read. */
static __device__ __forceinline__ size_t s9_dq_half(size_t bh, int nqb, int qb, int w)
{
    return ((bh * nqb + qb) * 2 + w) * 2048;
}

/* The float2 of lane l of warp wp, rows 8 r .., 8-column group j, in its
 * half: the writer's (s9_dkvq_kernel) and the readers' (s9_dq_at) one
 * definition of the order. */
static __device__ __forceinline__ int s9_dq_slot(int wp, int r, int j, int l)
{
    return ((wp * 2 + r) * 4 + j) * 32 + l;
}

/* Where columns 8 cg .. 8 cg + 7 of row t of head bh (b NH + h) begin. */
static __device__ __forceinline__ size_t s9_dq_at(size_t bh, int nqb, int t, int cg)
{
    const int i = t % 64, wp = i / 16, r = (i / 8) % 2, g = i % 8, j = cg % 4;
    return s9_dq_half(bh, nqb, t / 64, cg / 4) + (size_t)(2 * s9_dq_slot(wp, r, j, 4 * g));
}

/* Columns 8 cg .. 8 cg + 7 of row t of head bh from the dq accumulator. */
static __device__ __forceinline__ void s9_dq_load8(float (&x)[8], const float *dq_acc, size_t bh,
                                                   int nqb, int t, int cg)
{
    const float *src = dq_acc + s9_dq_at(bh, nqb, t, cg);
    const float4 a = *reinterpret_cast<const float4 *>(src);
    const float4 c = *reinterpret_cast<const float4 *>(src + 4);
    x[0] = a.x, x[1] = a.y, x[2] = a.z, x[3] = a.w;
    x[4] = c.x, x[5] = c.y, x[6] = c.z, x[7] = c.w;
}

/* The grouped heads' float32 dk/dv accumulator in the same spirit: per
 * (b NKV + kv head, 128-key block) 128 x 2 HS floats, the float2 that
 * lane l of warp w8 (0 .. 7, both warpgroups) holds of dk (part 0) or dv
 * (part 1) for key 16 w8 + l / 4 + 8 r of the block, columns 8 j +
 * 2 (l % 4) .., at float2 (((2 w8 + r) 2 + part) HS / 8 + j) 32 + l. i: the
 * key's row in the block; the offset in floats. */
template <int HS>
static __device__ __forceinline__ int s9_kv_at(int i, int col, int part)
{
    const int w8 = i / 16, r = (i / 8) % 2, g = i % 8, j = col / 8, q = (col % 8) / 2;
    return 2 * ((((w8 * 2 + r) * 2 + part) * (HS / 8) + j) * 32 + 4 * g + q);
}

/* dk, dv and dq in one pass over the key blocks (FlashAttention-3's
 * structure, kept deterministic): the dk/dv kernel above, and per query
 * block ds^T of the block's 128 keys goes to shared memory transposed
 * (stmatrix .trans), dq_part = ds . k is a 64 x HS product (warpgroup w:
 * columns HS/2 w ..) added to the float32 dq_acc (s9_dq_half's layout) of
 * that query block. Fixed order of the adds: a query block's key blocks add from
 * the highest down, each CTA waiting for the block's counter (dq_sem,
 * zeroed by the caller) to reach its turn; the first one stores. A row's
 * CTAs start from the highest key block down (s9_block_order's rank), so
 * the CTA a CTA waits for was launched before it: resident or done, never
 * behind it in the queue (and the highest key blocks start on the
 * diagonal, so in steady state nobody waits). Saves the dq kernel's second q k^T and do v^T per block.
 * Default instance (docs/kernels.md, measured on the H200): SP (pt through
 * shared memory, so ptxas does not serialise the products at 128
 * registers), MB (stages behind mbarriers, no block barrier at the top of
 * each query block) and NM (blocks clear of the causal mask skip it). */
template <int HS, int MINB, bool PART, bool SP, bool MB, bool NM = false>
static __global__ void __launch_bounds__(S9_THREADS, MINB)
s9_dkvq_kernel(kn_bf16 *dqkv, float *dq_acc, int *dq_sem, float *kv_acc, int *kv_sem,
               float *colsum, const kn_bf16 *qkv, const kn_bf16 *dout, const float *lse,
               const float *Dsum, const float *rope, int T, int NH, int NKV, float sl2,
               float scale, int accumulate, int G)
{
#if S9_ON
    /* SP: two stages are enough (a stage is last read by dk's product,
     * which every thread has waited for at the block barrier before dq's,
     * before any thread copies into it again); the third one's room holds
     * the P tiles. */
    constexpr int BK = 128, BQ = 64, NST = SP ? 2 : 3, TILE = BQ * HS * 2, HN = HS / 2;
    static_assert(HS == 64, "s9_dq_at's layout: two halves of 32 columns");
    extern __shared__ uint8_t s9_smem[];
    const uint32_t sK = smem_base1024(s9_smem), sV = sK + BK * HS * 2, sQ = sV + BK * HS * 2,
                   sO = sQ + NST * TILE, sDS = sO + NST * TILE, sP = sDS + BQ * BK * 2;
    float *sL = reinterpret_cast<float *>(
        s9_smem + (sP + (SP ? 2 * 64 * BQ * 2 : 0) - (uint32_t)__cvta_generic_to_shared(s9_smem)));
    float *sD = sL + NST * BQ;
    int rank, row;
    s9_block_order(G, rank, row);
    const int nkb = (T + BK - 1) / BK, kb = nkb - 1 - rank, rep = NH / NKV;
    /* The query heads h0 .. h0 + nh - 1 this CTA runs: PART, one (row =
     * b NH + h), its dk/dv added to the group's (at the end, in head order);
     * otherwise the kv head's whole group (row = b NKV + kv head). */
    const int b = PART ? row / NH : row / NKV;
    const int h0 = PART ? row % NH : (row % NKV) * rep, nh = PART ? 1 : rep;
    const int kvh = h0 / rep;
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    const kn_bf16 *rows = qkv + (size_t)b * T * W;
    const kn_bf16 *gk = rows + (size_t)(NH + kvh) * HS, *gv = rows + (size_t)(NH + NKV + kvh) * HS;
    const int wgi = sm90_wg_index(), warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32;
    const int g = lane / 4, q = lane % 4, k0 = kb * BK;
    const int wkey = k0 + 64 * wgi, key0 = wkey + 16 * warp + g; /* keys key0, key0 + 8 */
    const int qfirst = k0 / BQ, nqb = (T + BQ - 1) / BQ, nq = nqb - qfirst, nit = nh * nq;

    /* MB (with SP): no block barrier at the top of each query block. Each
     * stage fill (q, do, lse2, Dsum, all cp.async) is tracked by that
     * stage's mbarrier (every thread arrives once its copies have landed),
     * and the warpgroups wait on it alone; sDS, which the other
     * warpgroup's dq product of the previous block may still read, is
     * guarded by mb_ds (every thread arrives after its dq product). */
    static_assert(!MB || SP, "MB runs with two stages (SP)");
    __shared__ __align__(8) uint64_t s9_mbar[3]; /* stage 0, stage 1, sDS free */
    const uint32_t mb0 = (uint32_t)__cvta_generic_to_shared(s9_mbar), mb_ds = mb0 + 16;
    if (MB) {
        if (threadIdx.x == 0) {
            sm90_mb_init(mb0, S9_THREADS);
            sm90_mb_init(mb0 + 8, S9_THREADS);
            sm90_mb_init(mb_ds, S9_THREADS);
        }
        __syncthreads();
    }
    s9_load<HS, BK>(sK, gk, W, k0, T);
    s9_load<HS, BK>(sV, gv, W, k0, T);
    /* Iteration it's query head and block: h0 + it / nq and qfirst + it % nq,
     * without the division where the CTA runs one head (PART, and heads not
     * grouped: all the default paths) */
    auto head_of = [&](int it) { return nh == 1 ? h0 : h0 + it / nq; };
    auto block_of = [&](int it) { return nh == 1 ? qfirst + it : qfirst + it % nq; };
    auto stage = [&](int buf, int it) {
        const int hq = head_of(it), qs = block_of(it) * BQ;
        if (!MB) {
            s9_stage_q<HS, BQ>(sQ + buf * TILE, sO + buf * TILE, sL + buf * BQ, sD + buf * BQ,
                               rows, dout, lse, Dsum, b, hq, qs, T, NH, W);
            return;
        }
        const int C = NH * HS;
        s9_load<HS, BQ>(sQ + buf * TILE, rows + (size_t)hq * HS, W, qs, T);
        s9_load<HS, BQ>(sO + buf * TILE, dout + (size_t)b * T * C + (size_t)hq * HS, C, qs, T);
        const size_t bh = (size_t)b * NH + hq;
        static_assert(BQ <= S9_THREADS, "one row of lse and Dsum per thread");
        if (const int i = threadIdx.x; i < BQ) {
            const bool ok = qs + i < T;
            const size_t at = ok ? bh * T + qs + i : 0;
            s9_cp4((uint32_t)__cvta_generic_to_shared(sL + buf * BQ + i), lse + at, ok);
            s9_cp4((uint32_t)__cvta_generic_to_shared(sD + buf * BQ + i), Dsum + at, ok);
        }
        s9_mb_arrive_copies(mb0 + 8 * buf);
    };
    if (MB) { /* k and v once, behind a block barrier */
        kn_cp_commit();
        s9_wait_sync<0>();
    }
    stage(0, 0);
    float dk[HS / 2], dv[HS / 2];
#pragma unroll
    for (int i = 0; i < HS / 2; i++)
        dk[i] = dv[i] = 0.0f;

    int *done = NULL; /* the counter of the block whose adds the last iteration issued */
    for (int it = 0; it < nit; it++) {
        const int cur = it % NST, hq = head_of(it), qb = block_of(it), qs = qb * BQ;
        if (MB) {
            /* stage (it + 1) % 2 was last read by dk's product of block it - 1,
             * which every thread waited for before that block's barrier */
            if (it + 1 < nit)
                stage((it + 1) % NST, it + 1);
            sm90_mb_wait(mb0 + 8 * cur, (it / 2) & 1);
            asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        } else if (it + 1 < nit) {
            stage((it + 1) % NST, it + 1);
            s9_wait_sync<1>();
        } else {
            s9_wait_sync<0>();
        }
        /* After that barrier every thread's adds of the last block were
         * issued (and sDS is free again): pass that block's turn on. (MB:
         * after this block's barrier below.) */
        if (!MB && threadIdx.x == 0 && done)
            s9_pass_turn(done);
        const int kbmax = min((qs + BQ - 1) / BK, nkb - 1), turn = kbmax - kb;
        int *sem = dq_sem + ((size_t)b * NH + hq) * nqb + qb;
        const int polled = threadIdx.x == 0 && turn > 0 ? s9_poll_turn(sem) : 0;
        const float *L = sL + cur * BQ, *D = sD + cur * BQ;
        /* Both warpgroups run every block (ds is needed for dq even where
         * one warpgroup's keys are all after the queries: its ds is 0). */
        const bool mask = qs < wkey + 63 || qs + BQ > T;
        uint32_t da[BQ / 16][4];
        /* NM: the blocks without a mask take an instance with none (no
         * per-score compare and select). mask depends on the warpgroup's
         * keys only, so all its threads take the same call (each holds
         * warpgroup-wide wgmma and bar.sync 1 / 2). */
        if (NM && !mask)
            s9_dkv_block<HS, BQ, MINB, SP>(dv, da, sK, sV, sQ + cur * TILE, sO + cur * TILE,
                                           sP + (uint32_t)wgi * 64 * 128, wgi, key0, qs, T, q,
                                           false, sl2, L, D);
        else
            s9_dkv_block<HS, BQ, MINB, SP>(dv, da, sK, sV, sQ + cur * TILE, sO + cur * TILE,
                                           sP + (uint32_t)wgi * 64 * 128, wgi, key0, qs, T, q,
                                           mask, sl2, L, D);
        wg_fence();
        s9_pz<HS, BQ>(dk, da, sQ + cur * TILE);
        wg_commit();
        if (MB && it > 0) /* both warpgroups' dq products of block it - 1 done */
            sm90_mb_wait(mb_ds, (it - 1) & 1);
        /* ds^T -> sDS as ds (rows = queries), this warpgroup's 64 keys =
         * 16-byte chunks 8 wgi + 2 warp (+1) of each row. */
#pragma unroll
        for (int kk = 0; kk < BQ / 16; kk++)
            s9_st_trans(sDS, da[kk], 8 * wgi + 2 * warp, 16 * kk, lane);
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        if (threadIdx.x == 0)
            s9_wait_turn(sem, turn, polled);
        wg_wait<0>(); /* dk's product: fewer registers live across dq's */
        wg_pin(dk);
        __syncthreads();
        /* MB: every thread's adds of block it - 1 were issued before it came here */
        if (MB && threadIdx.x == 0 && done)
            s9_pass_turn(done);
        float dq[HN / 2];
        const uint64_t dds = desc_k(sDS), dkq = desc_mn(sK + (uint32_t)wgi * HN * 2, BK * 128);
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++)
            wg<HN, 1>::ss(dq, desc_add(dds, kstep_k<BQ>(0, 0, ks)),
                          desc_add(dkq, (uint32_t)ks * 16 * 128),
                          ks == 0);
        wg_commit();
        wg_wait<0>();
        wg_pin(dq);
        if (MB)
            sm90_mb_arrive(mb_ds);
        float *acc = dq_acc + s9_dq_half((size_t)b * NH + hq, nqb, qb, wgi);
#pragma unroll
        for (int r = 0; r < 2; r++) {
            if (qs + 16 * warp + g + 8 * r >= T)
                continue;
#pragma unroll
            for (int j = 0; j < HN / 8; j++) {
                float2 *p = reinterpret_cast<float2 *>(acc) + s9_dq_slot(warp, r, j, lane);
                const float2 v = make_float2(dq[4 * j + 2 * r], dq[4 * j + 2 * r + 1]);
                if (turn == 0)
                    *p = v;
                else
                    atomicAdd(p, v);
            }
        }
        done = sem;
    }
    __syncthreads();
    if (threadIdx.x == 0)
        s9_pass_turn(done);
    kn_bf16 *dst = dqkv + (size_t)b * T * W;
    if (PART) {
        /* The group's heads add their dk/dv in head order into kv_acc
         * (s9_kv_at's layout): head r waits for the key
         * block's counter (kv_sem, zeroed by the caller) to reach r; the
         * first stores, the last adds the others' sum (read from L2 after
         * its turn) to its own and writes bf16: the additions, order and
         * rounding of a separate sum pass. The CTA waited for (head r - 1,
         * row - 1, same key block) was launched before this one
         * (s9_block_order: row - 1 is earlier in this group or in an
         * earlier one). */
        const int turn = h0 - kvh * rep;
        int *sem = kv_sem + ((size_t)b * NKV + kvh) * nkb + kb;
        if (threadIdx.x == 0 && turn > 0)
            s9_wait_turn(sem, turn, s9_poll_turn(sem));
        __syncthreads();
        float *acc = kv_acc + (((size_t)b * NKV + kvh) * nkb + kb) * 128 * 2 * HS;
        if (turn == rep - 1) {
            /* the others' sum (from L2) added to this head's, then rope^T
             * on dk where asked, then stored as a CTA of an ungrouped pass */
            auto others = [&](int part) {
                return [=](int row, int col, float &x0, float &x1) {
                    const float2 o = __ldcg(reinterpret_cast<const float2 *>(
                        acc + s9_kv_at<HS>(row - k0, col, part)));
                    x0 += o.x;
                    x1 += o.y;
                };
            };
            s9_rows<HS>(dk, key0, T, q, others(0));
            s9_rows<HS>(dv, key0, T, q, others(1));
            if (rope)
                s9_rope_t_rows<HS>(dk, rope, key0, T, q);
            s9_store_rows<HS>(dst + (size_t)(NH + kvh) * HS, W, dk, scale, key0, T, q,
                              accumulate);
            s9_store_rows<HS>(dst + (size_t)(NH + NKV + kvh) * HS, W, dv, 1.0f, key0, T, q,
                              accumulate);
            return;
        }
        auto add = [&](int part) {
            return [=](int row, int col, float x0, float x1) {
                float2 *p = reinterpret_cast<float2 *>(acc + s9_kv_at<HS>(row - k0, col, part));
                if (turn == 0)
                    *p = make_float2(x0, x1);
                else
                    atomicAdd(p, make_float2(x0, x1));
            };
        };
        s9_rows<HS>(dk, key0, T, q, add(0));
        s9_rows<HS>(dv, key0, T, q, add(1));
        __syncthreads(); /* every thread's adds issued before the turn passes */
        if (threadIdx.x == 0)
            s9_pass_turn(sem);
        return;
    }
    if (rope)
        s9_rope_t_rows<HS>(dk, rope, key0, T, q);
    s9_store_rows<HS>(dst + (size_t)(NH + kvh) * HS, W, dk, scale, key0, T, q, accumulate);
    s9_store_rows<HS>(dst + (size_t)(NH + NKV + kvh) * HS, W, dv, 1.0f, key0, T, q, accumulate);
    if (colsum) /* the stages are free: every thread passed the barrier above */
        s9_kv_colsum<HS>(colsum + ((size_t)b * nkb + kb) * W,
                         reinterpret_cast<float *>(
                             s9_smem + (sQ - (uint32_t)__cvta_generic_to_shared(s9_smem))),
                         dk, dv, key0, T, q, scale, NH, NKV, kvh);
#endif
}

/* dq of dqkv (+)= dq_acc * scale in bf16: eight values per thread, eight
 * threads per row (s9_dq_at's layout). */
template <int HS>
static __global__ void s9_dq_store_kernel(kn_bf16 *dqkv, const float *dq_acc, int B, int T,
                                          int NH, int NKV, float scale, int accumulate)
{
    static_assert(HS == 64, "s9_dq_at's layout");
    const size_t n8 = (size_t)B * NH * T * HS / 8, stride = (size_t)gridDim.x * blockDim.x;
    const int nqb = (T + 63) / 64;
    /* a loop: kn_grid_for caps the grid (long sequences pass the cap) */
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n8; i += stride) {
        const size_t row = i / (HS / 8); /* (b NH + h) T + t */
        const int cg = (int)(i % (HS / 8)), t = (int)(row % T);
        const size_t bh = row / T;
        const int h = (int)(bh % NH), b = (int)(bh / NH);
        float x[8];
        s9_dq_load8(x, dq_acc, bh, nqb, t, cg);
        kn_bf16 *dst =
            dqkv + ((size_t)b * T + t) * (size_t)(NH + 2 * NKV) * HS + (size_t)h * HS + 8 * cg;
#pragma unroll
        for (int k = 0; k < 8; k += 2)
            st2(dst + k, x[k] * scale, x[k + 1] * scale, accumulate);
    }
}

/* s9_dq_store_kernel with rope^T: dq of dqkv = rope^T(dq_acc) * scale in
 * bf16, the rotation in float32 before the one rounding. A thread takes
 * columns 8 cg .. 8 cg + 7 of a row and their partners HS/2 on. */
template <int HS>
static __global__ void s9_dq_store_rope_kernel(kn_bf16 *dqkv, const float *dq_acc,
                                               const float *rope, int B, int T, int NH, int NKV,
                                               float scale, int accumulate)
{
    static_assert(HS == 64, "s9_dq_at's layout");
    constexpr int G = HS / 16; /* column groups of 8 in the first half */
    const size_t n = (size_t)B * NH * T * G, stride = (size_t)gridDim.x * blockDim.x;
    const int nqb = (T + 63) / 64;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const size_t row = i / G; /* (b NH + h) T + t */
        const int cg = (int)(i % G), t = (int)(row % T);
        const size_t bh = row / T;
        const int h = (int)(bh % NH), b = (int)(bh / NH);
        float x[8], y[8];
        s9_dq_load8(x, dq_acc, bh, nqb, t, cg);
        s9_dq_load8(y, dq_acc, bh, nqb, t, cg + G);
        const float4 *cs =
            reinterpret_cast<const float4 *>(rope + ((size_t)t * (HS / 2) + 8 * cg) * 2);
#pragma unroll
        for (int k = 0; k < 8; k += 2) {
            const float4 c = __ldg(cs + k / 2);
            s9_rot_t(x[k], y[k], c.x, c.y);
            s9_rot_t(x[k + 1], y[k + 1], c.z, c.w);
        }
        kn_bf16 *dst =
            dqkv + ((size_t)b * T + t) * (size_t)(NH + 2 * NKV) * HS + (size_t)h * HS + 8 * cg;
#pragma unroll
        for (int k = 0; k < 8; k += 2) {
            st2(dst + k, x[k] * scale, x[k + 1] * scale, accumulate);
            st2(dst + HS / 2 + k, y[k] * scale, y[k + 1] * scale, accumulate);
        }
    }
}

/* s9_dq_store_kernel's work for 128 rows of one head per CTA (grid: key
 * blocks x B NH), with qkv's bias gradient, dq part: the column sums of the
 * values stored (dq * scale, float32) into row (b nkb + kb) of colsum [B
 * nkb, W], columns h HS.. Thread: 8 columns of 4 rows 32 apart; then the
 * 32 row groups in turn (fixed order). */
template <int HS>
static __global__ void __launch_bounds__(256)
s9_dq_store_sum_kernel(kn_bf16 *dqkv, float *colsum, const float *dq_acc, int T, int NH,
                       int NKV, float scale, int accumulate)
{
    static_assert(HS == 64, "8 threads of 8 columns per row");
    __shared__ float red[32][HS + 1];
    const int kb = blockIdx.x, nkb = gridDim.x, bh = blockIdx.y, b = bh / NH, h = bh % NH;
    const int cg = threadIdx.x % 8, rg = threadIdx.x / 8;
    const size_t W = (size_t)(NH + 2 * NKV) * HS;
    float sum[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int t = kb * 128 + rg + 32 * i;
        if (t >= T)
            break;
        float x[8];
        s9_dq_load8(x, dq_acc, (size_t)bh, (T + 63) / 64, t, cg);
#pragma unroll
        for (int k = 0; k < 8; k++)
            x[k] *= scale;
        kn_bf16 *dst = dqkv + ((size_t)b * T + t) * W + (size_t)h * HS + 8 * cg;
#pragma unroll
        for (int k = 0; k < 8; k += 2) {
            st2(dst + k, x[k], x[k + 1], accumulate);
            sum[k] += x[k];
            sum[k + 1] += x[k + 1];
        }
    }
#pragma unroll
    for (int k = 0; k < 8; k++)
        red[rg][8 * cg + k] = sum[k];
    __syncthreads();
    if (threadIdx.x < HS) {
        float z = 0.0f;
        for (int r = 0; r < 32; r++)
            z += red[r][threadIdx.x];
        colsum[((size_t)b * nkb + kb) * W + (size_t)h * HS + threadIdx.x] = z;
    }
}

/* ---------------------------------------------------------------- host */

/* Kernel configurations, by head size, with the alternatives measured
 * against them kept for the benchmark (INGOT_FA_SM90_ALT; docs/kernels.md
 * "Hopper attention" has the numbers):
 *   0 (default) forward: fwd2, BK 64, two blocks per SM at hs 64, one at
 *     hs 128; backward hs 64: dq and dk/dv, three stages, two blocks per
 *     SM; hs 128: dq2 and dk/dv (three stages, one block).
 *   1 forward fwd (no overlap; BK 64 three stages two blocks at hs 64, BK
 *     128 two stages at hs 128); backward two stages, one block per SM.
 *   2 as 1 with three stages, one block per SM, at hs 64.
 *   3 as 0 with the overlapped backward (dq2, dk/dv 2) at hs 64.
 *   4-6 dk/dv with query blocks of 32 or issued jointly (see the switch).
 *   Backward hs 64 by default: dq fused into the dk/dv pass (s9_dkvq_kernel,
 *   two blocks per SM) when the caller gives the work buffer; 7: the same
 *   at one block per SM; 8: the separate dq and dk/dv kernels (the default
 *   before the fused pass). */
static size_t fwd_smem(int hs, int bk, int nst)
{
    return (size_t)(128 + 2 * nst * bk) * hs * 2 + 1024; /* +1024: base alignment */
}
static size_t dq_smem(int hs, int nst) { return (size_t)(2 * 128 + 2 * nst * 64) * hs * 2 + 1024; }
static size_t dkv_smem(int hs, int nst, int bq)
{
    return (size_t)(2 * 128 + 2 * nst * bq) * hs * 2 + 1024 + 2 * nst * bq * 4;
}

static size_t dkvq_smem(int hs, bool sp)
{
    return sp ? dkv_smem(hs, 2, 64) + 64 * 128 * 2 + 2 * 64 * 64 * 2
              : dkv_smem(hs, 3, 64) + 64 * 128 * 2;
}

static int s9_alt = 0;
/* The fused backward's stages behind mbarriers instead of a block barrier
 * per query block (INGOT_FA_SM90_MB=0: the block barrier). */
static int s9_mb = 1;
/* The fused backward's query blocks wholly clear of the causal mask (and of
 * T) run an instance without it (INGOT_FA_SM90_NOMASK=0: every block runs
 * the masked one). Only with MB: INGOT_FA_SM90_MB=0 turns it off too. */
static int s9_nomask = 1;
/* The forward's lazy running max (s9_softmax): kept while a block's max
 * exceeds it by at most this many log2 units, so most blocks skip the
 * output's rescale (INGOT_FA_SM90_LAZY=0: rescaled whenever it grows).
 * Measured on the H200 (kc_attn_check --bench, same call): 124M's shape
 * 0.458 -> 0.447-0.452 ms, TinyLlama's 0.549 -> 0.535-0.537, hs 128 0.997
 * -> 0.969. */
#define S9_LAZY_MAX 8.0f
static float s9_lazy = S9_LAZY_MAX;
/* s9_block_order's group sizes (rows per group): 0 picks them per call,
 * INGOT_FA_SM90_FWD_GROUP / _BWD_GROUP = N sets N (1: row after row, the
 * order before 2026-12-06); kn_fa_sm90_set_groups overrides both. */
static int s9_fwd_g = 0, s9_bwd_g = 0, s9_fwd_set = 0, s9_bwd_set = 0;

extern "C" void kn_fa_sm90_set_groups(int fwd, int bwd)
{
    s9_fwd_set = fwd > 0 ? fwd : 0;
    s9_bwd_set = bwd > 0 ? bwd : 0;
}

/* A group size: the test setter's, else the environment's, else def;
 * never more than the grid's rows. */
static int s9_group(int set, int env, long long def, int nrow)
{
    const long long g = set > 0 ? set : env > 0 ? env : def;
    return g < nrow ? (int)g : nrow;
}

/* Rows whose keys and values (forward) fit in ~16 MiB of L2 together,
 * whole groups of query heads: TinyLlama's grouped shape, 8 x 32 heads at
 * T 2048, is one group (K and V of 32 kv heads: 16 MiB); GPT-2 124M at T
 * 1024, 64 of its 768 rows. The forward's blocks then start longest
 * first across the group. */
static int s9_fwd_group(int T, int hs, int NH, int NKV, int nrow)
{
    const long long kv_row = (long long)T * hs * 2 * 2, budget = 16ll << 20;
    const long long fit = (budget / kv_row > 0 ? budget / kv_row : 1) * (NH / NKV);
    return s9_group(s9_fwd_set, s9_fwd_g, fit, nrow);
}

/* The fused backward keeps its row-by-row order (G 1) unless
 * INGOT_FA_SM90_BWD_GROUP says otherwise (measurements). */
static int s9_bwd_group(unsigned nrow)
{
    return s9_group(s9_bwd_set, s9_bwd_g, 1, (int)nrow);
}

template <typename K> static int s9_smem_limit(K kernel, size_t bytes)
{
    CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    (int)bytes));
    return 0;
}

/* Raises each kernel's dynamic shared-memory limit once per process. */
static int s9_setup(void)
{
    static int done = 0;
    if (done)
        return 0;
    const char *e = getenv("INGOT_FA_SM90_ALT");
    s9_alt = e && e[0] >= '1' && e[0] <= '9' ? e[0] - '0' : 0;
    s9_mb = !kn_env_off("INGOT_FA_SM90_MB");
    s9_nomask = !kn_env_off("INGOT_FA_SM90_NOMASK");
    s9_lazy = kn_env_off("INGOT_FA_SM90_LAZY") ? 0.0f : S9_LAZY_MAX;
    s9_fwd_g = kn_env_int("INGOT_FA_SM90_FWD_GROUP", 1, 1 << 30, 0);
    s9_bwd_g = kn_env_int("INGOT_FA_SM90_BWD_GROUP", 1, 1 << 30, 0);
    int err = 0;
    err |= s9_smem_limit(s9_fwd2_kernel<64, 64, 2>, fwd_smem(64, 64, 3));
    err |= s9_smem_limit(s9_fwd2_kernel<128, 64, 1>, fwd_smem(128, 64, 3));
    err |= s9_smem_limit(s9_fwd_kernel<64, 64, 3, 2>, fwd_smem(64, 64, 3));
    err |= s9_smem_limit(s9_fwd_kernel<64, 64, 3, 1>, fwd_smem(64, 64, 3));
    err |= s9_smem_limit(s9_fwd_kernel<128, 128, 2, 1>, fwd_smem(128, 128, 2));
    err |= s9_smem_limit(s9_dq_kernel<64, 3, 2>, dq_smem(64, 3));
    err |= s9_smem_limit(s9_dq_kernel<64, 3, 1>, dq_smem(64, 3));
    err |= s9_smem_limit(s9_dq_kernel<64, 2, 1>, dq_smem(64, 2));
    err |= s9_smem_limit(s9_dq_kernel<128, 3, 1>, dq_smem(128, 3));
    err |= s9_smem_limit(s9_dkv_kernel<64, 64, 3, 2, 0>, dkv_smem(64, 3, 64));
    err |= s9_smem_limit(s9_dkv_kernel<64, 64, 3, 1, 0>, dkv_smem(64, 3, 64));
    err |= s9_smem_limit(s9_dkv_kernel<64, 64, 2, 1, 0>, dkv_smem(64, 2, 64));
    err |= s9_smem_limit(s9_dkv_kernel<64, 32, 4, 2, 1>, dkv_smem(64, 4, 32));
    err |= s9_smem_limit(s9_dkv_kernel<64, 32, 4, 2, 0>, dkv_smem(64, 4, 32));
    err |= s9_smem_limit(s9_dkv_kernel<64, 64, 3, 2, 1>, dkv_smem(64, 3, 64));
    err |= s9_smem_limit(s9_dkv_kernel<128, 64, 3, 1, 0>, dkv_smem(128, 3, 64));
    err |= s9_smem_limit(s9_dq2_kernel<64, 1>, dq_smem(64, 3));
    err |= s9_smem_limit(s9_dq2_kernel<128, 1>, dq_smem(128, 3));
    err |= s9_smem_limit(s9_dkv2_kernel<64>, dkv_smem(64, 3, 64));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, false, true, true, true>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, true, true, true, true>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, false, true, true>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, true, true, true>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, false, true, false>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, true, true, false>, dkvq_smem(64, true));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, false, false, false>, dkvq_smem(64, false));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 1, false, false, false>, dkvq_smem(64, false));
    err |= s9_smem_limit(s9_dkvq_kernel<64, 2, true, false, false>, dkvq_smem(64, false));
    if (err)
        return INGOT_E_CUDA;
    done = 1;
    return 0;
}

extern "C" int kn_fa_sm90_fwd(void *out, float *lse, const void *qkv, int B, int T, int NH,
                              int NKV, int hs, cudaStream_t s)
{
    int err = s9_setup();
    if (err)
        return err;
    const float sl2 = (1.0f / sqrtf((float)hs)) * 1.4426950408889634f;
    const dim3 grid((unsigned)((T + 127) / 128), (unsigned)(B * NH));
    kn_bf16 *o = (kn_bf16 *)out;
    const kn_bf16 *x = (const kn_bf16 *)qkv;
    const int alt = s9_alt == 1 || s9_alt == 2 ? s9_alt : 0;
    const int G = s9_fwd_group(T, hs, NH, NKV, B * NH);
    if (hs == 64 && alt == 0)
        s9_fwd2_kernel<64, 64, 2><<<grid, S9_THREADS, fwd_smem(64, 64, 3), s>>>(
            o, lse, x, T, NH, NKV, sl2, s9_lazy, G);
    else if (hs == 64 && alt == 1)
        s9_fwd_kernel<64, 64, 3, 2><<<grid, S9_THREADS, fwd_smem(64, 64, 3), s>>>(
            o, lse, x, T, NH, NKV, sl2, G);
    else if (hs == 64)
        s9_fwd_kernel<64, 64, 3, 1><<<grid, S9_THREADS, fwd_smem(64, 64, 3), s>>>(
            o, lse, x, T, NH, NKV, sl2, G);
    else if (alt == 0)
        s9_fwd2_kernel<128, 64, 1><<<grid, S9_THREADS, fwd_smem(128, 64, 3), s>>>(
            o, lse, x, T, NH, NKV, sl2, s9_lazy, G);
    else
        s9_fwd_kernel<128, 128, 2, 1><<<grid, S9_THREADS, fwd_smem(128, 128, 2), s>>>(
            o, lse, x, T, NH, NKV, sl2, G);
    KN_LAUNCH_CHECK();
    return 0;
}

/* The fused pass runs at hs 64. Grouped heads (NKV < NH) run it with one
 * query head per CTA (the group's CTAs would be NH / NKV times fewer, each
 * looping over the group: measured slower, 2.41 against the separate
 * kernels' 2.17 ms at TinyLlama's 32 / 4 heads, T 2048), their dk/dv
 * added in head order into a float32 accumulator per kv head.
 * Layout: the dq accumulator (B NH x ceil(T / 64) blocks of 64 x hs in
 * s9_dq_half's order), the dk/dv accumulator where grouped (B NKV x
 * ceil(T / 128) blocks of 128 x 2 hs in s9_kv_at's order), then one
 * counter per 64-query block and, where grouped, one per (b, kv head,
 * 128-key block). */
static size_t s9_kv_acc_bytes(int B, int T, int NH, int NKV, int hs)
{
    /* s9_kv_at's layout: whole 128-key blocks */
    return NKV == NH ? 0 : (size_t)B * NKV * ((T + 127) / 128) * 128 * 2 * hs * sizeof(float);
}

/* s9_dq_at's layout: whole 64-query blocks */
static size_t s9_dq_acc_floats(int B, int T, int NH, int hs)
{
    return (size_t)B * NH * ((T + 63) / 64) * 64 * hs;
}

static size_t s9_sem_count(int B, int T, int NH, int NKV)
{
    const size_t dq = (size_t)B * NH * ((T + 63) / 64);
    return dq + (NKV == NH ? 0 : (size_t)B * NKV * ((T + 127) / 128));
}

extern "C" size_t kn_fa_sm90_bwd_work_bytes(int B, int T, int NH, int NKV, int hs)
{
    if (hs != 64 || B <= 0 || T <= 0 || NH <= 0 || NKV <= 0 || NH % NKV)
        return 0;
    return s9_dq_acc_floats(B, T, NH, hs) * sizeof(float) + s9_kv_acc_bytes(B, T, NH, NKV, hs) +
           s9_sem_count(B, T, NH, NKV) * sizeof(int);
}

extern "C" int kn_fa_sm90_bwd(void *dqkv, const void *dout, const void *qkv, const float *lse,
                              const float *Dsum, int B, int T, int NH, int NKV, int hs,
                              int accumulate, void *work, size_t work_bytes, float *colsum,
                              int *summed, const float *rope, int *roped, cudaStream_t s)
{
    if (summed)
        *summed = 0;
    if (roped)
        *roped = 0;
    int err = s9_setup();
    if (err)
        return err;
    const float scale = 1.0f / sqrtf((float)hs), sl2 = scale * 1.4426950408889634f;
    const size_t wneed = kn_fa_sm90_bwd_work_bytes(B, T, NH, NKV, hs);
    /* dq fused into the dk/dv pass where it applies (wneed > 0) and the work
     * buffer is given (alt 0: two blocks per SM; 7: one; 9: two, pt in
     * registers); alt 8 (or no work buffer) is the previous default, a dq
     * kernel and a dk/dv kernel */
    if (wneed && work && work_bytes >= wneed && (s9_alt == 0 || s9_alt == 7 || s9_alt == 9)) {
        float *acc = (float *)work, *kv_acc = acc + s9_dq_acc_floats(B, T, NH, hs);
        int *sem = (int *)((char *)kv_acc + s9_kv_acc_bytes(B, T, NH, NKV, hs));
        int *kv_sem = sem + (size_t)B * NH * ((T + 63) / 64);
        CUDA_CHECK(cudaMemsetAsync(sem, 0, s9_sem_count(B, T, NH, NKV) * sizeof(int), s));
        const unsigned nkb = (unsigned)((T + 127) / 128);
        kn_bf16 *d = (kn_bf16 *)dqkv;
        const kn_bf16 *x = (const kn_bf16 *)qkv, *dO = (const kn_bf16 *)dout;
        /* Grouped heads: one query head per block, two blocks per SM
         * whatever the alternative. alt 9: pt's fragments kept in registers
         * (the previous fused kernel; SP below) */
        const bool grouped = NKV != NH, sp = s9_alt != 9;
        const dim3 grid(nkb, (unsigned)(B * (grouped ? NH : NKV)));
        /* qkv's bias gradient summed by the epilogues: heads not grouped
         * (GPT-2; LLaMA has no biases) */
        float *cs = grouped || !summed || rope ? NULL : colsum;
#define S9_DKVQ(MINB, PART, SP, MB, NM)                                                          \
    s9_dkvq_kernel<64, MINB, PART, SP, MB, NM><<<grid, S9_THREADS, dkvq_smem(64, SP), s>>>(     \
        d, acc, sem, PART ? kv_acc : NULL, PART ? kv_sem : NULL, cs, x, dO, lse, Dsum, rope, T,  \
        NH, NKV, sl2, scale, accumulate, s9_bwd_group(grid.y))
        const bool mb = sp && s9_mb;
        if (grouped && mb && s9_nomask)
            S9_DKVQ(2, true, true, true, true);
        else if (grouped && mb)
            S9_DKVQ(2, true, true, true, false);
        else if (grouped && sp)
            S9_DKVQ(2, true, true, false, false);
        else if (grouped)
            S9_DKVQ(2, true, false, false, false);
        else if (s9_alt == 7)
            S9_DKVQ(1, false, false, false, false);
        else if (mb && s9_nomask)
            S9_DKVQ(2, false, true, true, true);
        else if (mb)
            S9_DKVQ(2, false, true, true, false);
        else if (sp)
            S9_DKVQ(2, false, true, false, false);
        else
            S9_DKVQ(2, false, false, false, false);
#undef S9_DKVQ
        KN_LAUNCH_CHECK();
        if (cs) {
            s9_dq_store_sum_kernel<64><<<dim3(nkb, (unsigned)(B * NH)), 256, 0, s>>>(
                (kn_bf16 *)dqkv, cs, acc, T, NH, NKV, scale, accumulate);
            KN_LAUNCH_CHECK();
            *summed = 1;
            return 0;
        }
        const size_t n8 = (size_t)B * NH * T * hs / 8;
        if (rope) {
            s9_dq_store_rope_kernel<64><<<kn_grid_for(n8 / 2, 256), 256, 0, s>>>(
                (kn_bf16 *)dqkv, acc, rope, B, T, NH, NKV, scale, accumulate);
            KN_LAUNCH_CHECK();
            *roped = 1;
            return 0;
        }
        s9_dq_store_kernel<64><<<kn_grid_for(n8, 256), 256, 0, s>>>(
            (kn_bf16 *)dqkv, acc, B, T, NH, NKV, scale, accumulate);
        KN_LAUNCH_CHECK();
        return 0;
    }
    const dim3 gq((unsigned)((T + 127) / 128), (unsigned)(B * NH));
    const dim3 gk((unsigned)((T + 127) / 128), (unsigned)(B * NKV));
    kn_bf16 *d = (kn_bf16 *)dqkv;
    const kn_bf16 *dO = (const kn_bf16 *)dout, *x = (const kn_bf16 *)qkv;
#define S9_DQ(...)                                                                          \
    __VA_ARGS__<<<gq, S9_THREADS, smq, s>>>(d, x, dO, lse, Dsum, T, NH, NKV, sl2, scale,      \
                                            accumulate)
#define S9_DKV(...)                                                                         \
    __VA_ARGS__<<<gk, S9_THREADS, smk, s>>>(d, x, dO, lse, Dsum, T, NH, NKV, sl2, scale,      \
                                            accumulate)
    if (hs == 64) {
        const int nst = s9_alt == 1 ? 2 : 3, bq = s9_alt == 4 || s9_alt == 5 ? 32 : 64;
        const size_t smq = dq_smem(64, nst), smk = dkv_smem(64, bq == 32 ? 4 : nst, bq);
        if (s9_alt == 0 || s9_alt >= 4)
            S9_DQ(s9_dq_kernel<64, 3, 2>);
        else if (s9_alt == 1)
            S9_DQ(s9_dq_kernel<64, 2, 1>);
        else if (s9_alt == 2)
            S9_DQ(s9_dq_kernel<64, 3, 1>);
        else
            S9_DQ(s9_dq2_kernel<64, 1>);
        KN_LAUNCH_CHECK();
        if (s9_alt == 0 || s9_alt >= 7)
            S9_DKV(s9_dkv_kernel<64, 64, 3, 2, 0>);
        else if (s9_alt == 1)
            S9_DKV(s9_dkv_kernel<64, 64, 2, 1, 0>);
        else if (s9_alt == 2)
            S9_DKV(s9_dkv_kernel<64, 64, 3, 1, 0>);
        else if (s9_alt == 4)
            S9_DKV(s9_dkv_kernel<64, 32, 4, 2, 1>);
        else if (s9_alt == 5)
            S9_DKV(s9_dkv_kernel<64, 32, 4, 2, 0>);
        else if (s9_alt == 6)
            S9_DKV(s9_dkv_kernel<64, 64, 3, 2, 1>);
        else
            S9_DKV(s9_dkv2_kernel<64>);
        KN_LAUNCH_CHECK();
        return 0;
    }
    const size_t smq = dq_smem(128, 3), smk = dkv_smem(128, 3, 64);
    if (s9_alt == 1 || s9_alt == 2)
        S9_DQ(s9_dq_kernel<128, 3, 1>);
    else
        S9_DQ(s9_dq2_kernel<128, 1>);
    KN_LAUNCH_CHECK();
    S9_DKV(s9_dkv_kernel<128, 64, 3, 1, 0>); /* the overlapped one spills at hs 128 */
    KN_LAUNCH_CHECK();
#undef S9_DQ
#undef S9_DKV
    return 0;
}
