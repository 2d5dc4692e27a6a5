/* LayerNorm forward and backward.
 *
 * Forward: one warp per row; the row is read three times (sum, squared
 * deviations, output), the second and third from L1/L2.
 * Backward: one warp per row; each warp accumulates dw/db for its rows in its
 * own shared-memory slice (lane-owned channels, so no atomics), the block
 * adds its warps' slices in warp order into a per-block partial, and a second
 * kernel adds the partials in block order into dw/db. Row-to-block assignment
 * depends only on N, so the result is the same on every GPU and every run. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "kn_device.cuh"
#include "layernorm.h"
#include "residual.h"

enum {
    LN_FWD_WARPS = 8,
    LN_BWD_WARPS = 8,
    LN_BWD_ROWS_PER_WARP = 4, /* target; sets the block count */
    LN_BWD_MAX_BLOCKS = 512,
    LN_MAX_C_FWD = 16384,
    LN_MAX_C_BWD = 3072, /* shared memory: 64 C bytes per block */
    LN_MAX_C_BWD_SUM = 2048, /* with the third slice (dsum): 96 C bytes */
    LN_RED_COLS = 32, /* final reduction: channels per block */
    LN_RED_GROUPS = 8, /* final reduction: partial groups per block */
};

template <typename T>
static __global__ void __launch_bounds__(LN_FWD_WARPS * 32)
ln_fwd_kernel(T *out, float *mean, float *rstd, const T *inp, const T *w, const T *b, int N,
              int C)
{
    int row = blockIdx.x * LN_FWD_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= N)
        return; /* whole warp leaves together: no shuffles are left hanging */
    const T *x = inp + (size_t)row * C;
    float sum = 0.0f;
    for (int c = lane; c < C; c += 32)
        sum += kn_f(x[c]);
    float m = kn_warp_sum(sum) / C;
    float var = 0.0f;
    for (int c = lane; c < C; c += 32) {
        float d = kn_f(x[c]) - m;
        var += d * d;
    }
    var = kn_warp_sum(var) / C;
    float s = 1.0f / sqrtf(var + 1e-5f);
    T *o = out + (size_t)row * C;
    for (int c = lane; c < C; c += 32)
        o[c] = kn_st<T>((kn_f(x[c]) - m) * s * kn_f(w[c]) + kn_f(b[c]));
    if (lane == 0) {
        if (mean)
            mean[row] = m;
        if (rstd)
            rstd[row] = s;
    }
}

/* The vectorised forward: one warp per row, the row held in registers as
 * 16-byte packs (lane l owns packs l, l+32, ...), so the input is read once
 * from memory. With b != NULL the row is first res = a + b, rounded to T and
 * stored, and the statistics are those of the rounded values (exactly what
 * LayerNorm of the stored res gives). Needs C % P == 0, C <= 32 * MAXP * P
 * and 16-byte aligned rows. */
template <typename T, int MAXP>
static __global__ void __launch_bounds__(LN_FWD_WARPS * 32)
ln_fwd_vec_kernel(T *res, T *out, float *mean, float *rstd, const T *a, const T *b, const T *w,
                  const T *bias, int N, int C)
{
    const int P = kn_pack<T>::n;
    int row = blockIdx.x * LN_FWD_WARPS + threadIdx.x / 32;
    int lane = threadIdx.x % 32;
    if (row >= N)
        return;
    const int np = C / P;
    const size_t base = (size_t)row * C;
    kn_pack<T> x[MAXP];
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = lane + 32 * k;
        if (j < np)
            x[k] = kn_ld_pack(a + base + (size_t)j * P);
    }
    if (b) {
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                kn_pack<T> y = kn_ld_pack(b + base + (size_t)j * P);
#pragma unroll
                for (int e = 0; e < P; e++)
                    x[k].v[e] = kn_st<T>(kn_f(x[k].v[e]) + kn_f(y.v[e]));
                kn_st_pack(res + base + (size_t)j * P, x[k]);
            }
        }
    }
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < MAXP; k++)
        if (lane + 32 * k < np)
#pragma unroll
            for (int e = 0; e < P; e++)
                sum += kn_f(x[k].v[e]);
    const float m = kn_warp_sum(sum) / C;
    float var = 0.0f;
#pragma unroll
    for (int k = 0; k < MAXP; k++)
        if (lane + 32 * k < np)
#pragma unroll
            for (int e = 0; e < P; e++) {
                float d = kn_f(x[k].v[e]) - m;
                var += d * d;
            }
    var = kn_warp_sum(var) / C;
    const float s = 1.0f / sqrtf(var + 1e-5f);
#pragma unroll
    for (int k = 0; k < MAXP; k++) {
        int j = lane + 32 * k;
        if (j < np) {
            kn_pack<T> wp = kn_ld_pack(w + (size_t)j * P), bp = kn_ld_pack(bias + (size_t)j * P), o;
#pragma unroll
            for (int e = 0; e < P; e++)
                o.v[e] = kn_st<T>((kn_f(x[k].v[e]) - m) * s * kn_f(wp.v[e]) + kn_f(bp.v[e]));
            kn_st_pack(out + base + (size_t)j * P, o);
        }
    }
    if (lane == 0) {
        if (mean)
            mean[row] = m;
        if (rstd)
            rstd[row] = s;
    }
}

/* Whether the vectorised kernels take this shape and these pointers: whole
 * packs per row, at most 16 packs per lane (LN_MAXP_DISPATCH), aligned rows. */
template <typename T>
static bool ln_vec_ok(int C, const void *p0, const void *p1, const void *p2, const void *p3,
                      const void *p4 = 0, const void *p5 = 0)
{
    const int P = kn_pack<T>::n;
    return C % P == 0 && C <= 16 * 32 * P && kn_aligned16(p0, p1, p2, p3) &&
           kn_aligned16(p4, p5);
}

/* INGOT_LN_VEC=0: the scalar kernels only (for before/after timings). */
static bool ln_vec_enabled(void)
{
    static int on = -1;
    return kn_env_on_once(&on, "INGOT_LN_VEC");
}

static int ln_bwd_blocks(int N)
{
    long long rows_per_block = (long long)LN_BWD_WARPS * LN_BWD_ROWS_PER_WARP;
    long long g = (N + rows_per_block - 1) / rows_per_block;
    if (g < 1)
        g = 1;
    if (g > LN_BWD_MAX_BLOCKS)
        g = LN_BWD_MAX_BLOCKS;
    return (int)g;
}

/* Dynamic shared memory: [LN_BWD_WARPS][H][C] floats (dw, db and with H 3
 * the column sums of the written dinp, per warp). partial: [gridDim.x][H][C]. */
template <typename T>
static __global__ void __launch_bounds__(LN_BWD_WARPS * 32)
ln_bwd_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
              const float *mean, const float *rstd, int N, int C, int accumulate, int H)
{
    extern __shared__ float ln_sh[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *acc = ln_sh + (size_t)warp * H * C; /* this warp's dw[C], db[C] (, dsum[C]) */
    for (int c = lane; c < C; c += 32) /* same lane-to-channel map as below */
        for (int h = 0; h < H; h++)
            acc[h * C + c] = 0.0f;
    /* Rows r = blockIdx.x * WARPS + warp + k * gridDim.x * WARPS. */
    const int rstride = gridDim.x * LN_BWD_WARPS;
    for (int row = blockIdx.x * LN_BWD_WARPS + warp; row < N; row += rstride) {
        const T *x = inp + (size_t)row * C;
        const T *d = dout + (size_t)row * C;
        const float m = mean[row], s = rstd[row];
        float sdn = 0.0f, sdnx = 0.0f;
        for (int c = lane; c < C; c += 32) {
            float xh = (kn_f(x[c]) - m) * s;
            float dn = kn_f(w[c]) * kn_f(d[c]);
            sdn += dn;
            sdnx += dn * xh;
        }
        sdn = kn_warp_sum(sdn) / C;
        sdnx = kn_warp_sum(sdnx) / C;
        T *di = dinp + (size_t)row * C;
        for (int c = lane; c < C; c += 32) {
            float dv = kn_f(d[c]);
            float xh = (kn_f(x[c]) - m) * s;
            float dn = kn_f(w[c]) * dv;
            float g = (dn - sdn - xh * sdnx) * s;
            const T o = kn_st<T>(accumulate ? kn_f(di[c]) + g : g);
            di[c] = o;
            acc[c] += xh * dv;
            acc[C + c] += dv;
            if (H == 3) /* the stored (rounded) value, as a bias kernel would read it */
                acc[2 * C + c] += kn_f(o);
        }
    }
    __syncthreads();
    /* Block partial: warps' slices added in warp order. */
    float *pb = partial + (size_t)blockIdx.x * H * C;
    for (int c = threadIdx.x; c < H * C; c += blockDim.x) {
        float t = 0.0f;
        for (int k = 0; k < LN_BWD_WARPS; k++)
            t += ln_sh[(size_t)k * H * C + c];
        pb[c] = t;
    }
}

/* Shared-memory floats per warp per gradient (dw or db) of the vectorised
 * backward: MAXP packs of P per lane. */
#define LN_VEC_SLOTS(T, MAXP) ((MAXP) * 32 * kn_pack<T>::n)

/* Offset (floats) in a warp's gradient slice of element e of lane's k-th
 * pack of P: [k][e / 4][lane][e % 4] (V4), else [k][e][lane]. */
static __host__ __device__ __forceinline__ int ln_slot(int k, int e, int lane, int P, bool v4)
{
    return v4 ? (k * P + (e & ~3)) * 32 + 4 * lane + (e & 3) : (k * P + e) * 32 + lane;
}

/* Whether the vectorised backward at maxp packs per lane takes the gradient
 * it adds into by cp.async (SA in ln_bwd_vec_kernel), and the shared
 * memory its per-warp buffers need (one 16-byte pack per lane and pack). */
static constexpr __host__ __device__ bool ln_bwd_sa(int maxp)
{
    return maxp == 4;
}

static constexpr size_t ln_bwd_sa_bytes(int maxp)
{
    return ln_bwd_sa(maxp) ? (size_t)LN_BWD_WARPS * maxp * 32 * 16 : 0;
}

/* A 16-byte pack from shared memory (kn_lds16: after the cp.async wait
 * that landed it). */
template <typename T> static __device__ __forceinline__ kn_pack<T> ln_lds_pack(uint32_t a)
{
    kn_pack<T> p;
    const uint4 u = kn_lds16(a);
    static_assert(sizeof(p) == sizeof(u), "a pack is 16 bytes");
    memcpy(&p, &u, sizeof u);
    return p;
}

/* One element of a row in ln_bwd_vec_kernel's second loop: the input
 * gradient (added to what o holds when accumulating), and the element's
 * terms of the weight and bias gradients (with H 3, of the written input
 * gradient's column sums too) added into *sw and *sb (and *ss): slots in
 * shared memory, or a float4's components read from there. */
template <typename T>
static __device__ __forceinline__ void ln_bwd_elem(T &o, float *sw, float *sb, float *ss, T dv_in,
                                                   T x_in, T w_in, float m, float s, float sdn,
                                                   float sdnx, int accumulate, int H)
{
    const float dv = kn_f(dv_in), xh = (kn_f(x_in) - m) * s;
    const float g = (kn_f(w_in) * dv - sdn - xh * sdnx) * s;
    o = kn_st<T>(accumulate ? kn_f(o) + g : g);
    *sw += xh * dv;
    *sb += dv;
    if (H == 3)
        *ss += kn_f(o);
}

/* The vectorised backward: ln_bwd_kernel's work split, with each row's x,
 * dout (and dinp when accumulating) held in registers as 16-byte packs and
 * the weights read from L1. A warp's dw/db slices in shared memory have
 * LN_VEC_SLOTS floats each, laid out [k][e][lane] (element e of the lane's
 * k-th pack) so that the lanes hit consecutive banks and the offsets are
 * constants. At most 128 registers (two
 * blocks per multiprocessor where shared memory allows). */
template <typename T, int MAXP>
static __global__ void __launch_bounds__(LN_BWD_WARPS * 32, 2)
ln_bwd_vec_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
                  const float *mean, const float *rstd, int N, int C, int accumulate, int H)
{
    extern __shared__ float ln_sh[];
    const int P = kn_pack<T>::n, S = LN_VEC_SLOTS(T, MAXP);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int np = C / P;
    /* Rows are loaded one ahead (x and dout, and up to 3 packs per lane
     * the gradient added to, held in registers while the row before is
     * computed): the kernel waited on those loads (Nsight Compute: 38% of
     * its stall samples, 2.2 TB/s, at C 768 in bf16). The gradient added to
     * is loaded in the second loop from 4 packs per lane, and beyond 4 (C
     * 1024 in bf16) the registers would not hold two rows: the row's loads
     * at its start. At 4 packs (GPT-2 350M's C 1024 in bf16: 1.9 TB/s, the
     * gradient's loads exposed once per row) that gradient comes by
     * cp.async into a per-warp shared buffer instead (SA), issued as soon
     * as the row before has read the buffer. */
    constexpr bool PF = MAXP <= 4, PFA = MAXP <= 3, SA = ln_bwd_sa(MAXP);
    /* this warp's dw slots, then its db slots (then, with H 3, its dsum
     * slots), each laid out as ln_slot says. V4: a lane's four consecutive
     * elements are one 16-byte access (a quarter of the shared-memory
     * instructions of one float each: the kernel issues from half the
     * scheduler slots, Nsight Compute at C 1024), the warp's 32 accesses
     * 512 consecutive bytes; from 6 packs per lane the float4s' registers
     * would spill, so one float per access there. Every other offset is a
     * compile-time constant. */
    constexpr bool V4 = MAXP <= 5;
    float *acc = ln_sh + (size_t)warp * H * S + ln_slot(0, 0, lane, P, V4);
    for (int i = 4 * lane; i < H * S; i += 128)
        *reinterpret_cast<float4 *>(ln_sh + (size_t)warp * H * S + i) = make_float4(0, 0, 0, 0);
    const int rstride = gridDim.x * LN_BWD_WARPS;
    /* x and dout stay in dt (16 bytes per pack) between the two loops;
     * the weights come from L1 (one [C] vector for the whole grid). */
    constexpr int NA = PF ? MAXP : 1;
    kn_pack<T> x[MAXP], d[MAXP], a[PFA ? MAXP : 1];
    auto load = [&](const T *src, int r, kn_pack<T>(&v)[MAXP]) {
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np)
                v[k] = kn_ld_pack(src + (size_t)r * C + (size_t)j * P);
        }
    };
    const int row0 = blockIdx.x * LN_BWD_WARPS + warp;
    /* SA: this warp's buffer after every warp's slots; lane's pack k at
     * 16 (32 k + lane): each lane reads back only what it copied */
    const uint32_t abuf = (uint32_t)__cvta_generic_to_shared(ln_sh + (size_t)LN_BWD_WARPS * H * S) +
                          (uint32_t)(warp * MAXP * 32 + lane) * 16;
    auto copy_a = [&](int r) {
#pragma unroll
        for (int k = 0; k < MAXP; k++)
            if (lane + 32 * k < np)
                kn_cp16(abuf + k * 512, dinp + (size_t)r * C + (size_t)(lane + 32 * k) * P);
        kn_cp_commit();
    };
    if (SA && accumulate && row0 < N)
        copy_a(row0);
    if constexpr (PF) {
        if (row0 < N) {
            load(inp, row0, x);
            load(dout, row0, d);
            if constexpr (PFA)
                if (accumulate)
                    load(dinp, row0, a);
        }
    }
    for (int row = row0; row < N; row += rstride) {
        const size_t base = (size_t)row * C;
        kn_pack<T> nx[NA], nd[NA], na[PFA ? MAXP : 1];
        if constexpr (PF) {
            if (row + rstride < N) {
                load(inp, row + rstride, nx);
                load(dout, row + rstride, nd);
                if constexpr (PFA)
                    if (accumulate)
                        load(dinp, row + rstride, na);
            }
        } else {
            load(inp, row, x);
            load(dout, row, d);
        }
        const float m = mean[row], s = rstd[row];
        float sdn = 0.0f, sdnx = 0.0f;
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                kn_pack<T> wv = kn_ld_pack(w + (size_t)j * P);
#pragma unroll
                for (int e = 0; e < P; e++) {
                    float xh = (kn_f(x[k].v[e]) - m) * s;
                    float dn = kn_f(wv.v[e]) * kn_f(d[k].v[e]);
                    sdn += dn;
                    sdnx += dn * xh;
                }
            }
        }
        sdn = kn_warp_sum(sdn) / C;
        sdnx = kn_warp_sum(sdnx) / C;
        if (SA && accumulate)
            kn_cp_wait();
#pragma unroll
        for (int k = 0; k < MAXP; k++) {
            int j = lane + 32 * k;
            if (j < np) {
                T *dp = dinp + base + (size_t)j * P;
                kn_pack<T> wv = kn_ld_pack(w + (size_t)j * P), o;
                if (accumulate) {
                    if constexpr (PFA)
                        o = a[k];
                    else if constexpr (SA)
                        o = ln_lds_pack<T>(abuf + k * 512);
                    else
                        o = kn_ld_pack(dp);
                }
#pragma unroll
                for (int e = 0; e < P && !V4; e++) { /* one float per slot */
                    float *slot = acc + ln_slot(k, e, 0, P, V4);
                    ln_bwd_elem(o.v[e], slot, slot + S, slot + 2 * S, d[k].v[e], x[k].v[e],
                                wv.v[e], m, s, sdn, sdnx, accumulate, H);
                }
#pragma unroll
                for (int e4 = 0; e4 < P && V4; e4 += 4) { /* four floats per slot access */
                    float4 *slot = reinterpret_cast<float4 *>(acc + ln_slot(k, e4, 0, P, V4));
                    float4 sw = slot[0], sb = slot[S / 4], ss;
                    if (H == 3)
                        ss = slot[S / 2];
                    float *fw = &sw.x, *fb = &sb.x, *fs = &ss.x;
#pragma unroll
                    for (int e = e4; e < e4 + 4; e++)
                        ln_bwd_elem(o.v[e], fw + (e - e4), fb + (e - e4), fs + (e - e4),
                                    d[k].v[e], x[k].v[e], wv.v[e], m, s, sdn, sdnx, accumulate,
                                    H);
                    slot[0] = sw;
                    slot[S / 4] = sb;
                    if (H == 3)
                        slot[S / 2] = ss;
                }
                kn_st_pack(dp, o);
            }
        }
        /* the buffer is read (each lane its own packs): the next row's
         * gradient into it */
        if (SA && accumulate && row + rstride < N)
            copy_a(row + rstride);
        if constexpr (PF) /* the next row's packs, loaded above */
#pragma unroll
            for (int k = 0; k < MAXP; k++) {
                x[k] = nx[k];
                d[k] = nd[k];
                if constexpr (PFA)
                    a[k] = na[k];
            }
    }
    __syncthreads();
    /* Block partial in channel order: warps' slices added in warp order. */
    float *pb = partial + (size_t)blockIdx.x * H * C;
    for (int c = threadIdx.x; c < H * C; c += blockDim.x) {
        int h = c / C, cc = c - h * C, j = cc / P;
        int idx = h * S + ln_slot(j / 32, cc % P, j % 32, P, V4);
        float t = 0.0f;
        for (int k = 0; k < LN_BWD_WARPS; k++)
            t += ln_sh[(size_t)k * H * S + idx];
        pb[c] = t;
    }
}

/* Runs STMT with the compile-time constant MP = packs per lane for np packs
 * per row (exact up to 8, then 16; np <= 512). */
#define LN_MAXP_DISPATCH(np, ...)                               \
    do {                                                        \
        switch (((np) + 31) / 32) {                             \
        case 1: { const int MP = 1; __VA_ARGS__; } break;       \
        case 2: { const int MP = 2; __VA_ARGS__; } break;       \
        case 3: { const int MP = 3; __VA_ARGS__; } break;       \
        case 4: { const int MP = 4; __VA_ARGS__; } break;       \
        case 5: { const int MP = 5; __VA_ARGS__; } break;       \
        case 6: { const int MP = 6; __VA_ARGS__; } break;       \
        case 7: { const int MP = 7; __VA_ARGS__; } break;       \
        case 8: { const int MP = 8; __VA_ARGS__; } break;       \
        default: { const int MP = 16; __VA_ARGS__; } break;     \
        }                                                       \
    } while (0)

/* out[c] += sum_{b < nb} partial[b][c] for c < n2 (= H C: dw, db, dsum),
 * the b-sum split into LN_RED_GROUPS interleaved groups that are then added
 * in group order: fixed order, no atomics. Block: LN_RED_COLS x
 * LN_RED_GROUPS. */
static __global__ void ln_reduce_kernel(float *dw, float *db, float *dsum, const float *partial,
                                        int nb, int C, int H)
{
    __shared__ float sh[LN_RED_GROUPS][LN_RED_COLS];
    const int col = threadIdx.x % LN_RED_COLS, grp = threadIdx.x / LN_RED_COLS;
    const int c = blockIdx.x * LN_RED_COLS + col;
    const int n2 = H * C;
    float t = 0.0f;
    if (c < n2)
        for (int b = grp; b < nb; b += LN_RED_GROUPS)
            t += partial[(size_t)b * n2 + c];
    sh[grp][col] = t;
    __syncthreads();
    if (grp == 0 && c < n2) {
        float r = 0.0f;
        for (int k = 0; k < LN_RED_GROUPS; k++)
            r += sh[k][col];
        if (c < C)
            dw[c] += r;
        else if (c < 2 * C)
            db[c - C] += r;
        else
            dsum[c - 2 * C] += r;
    }
}

extern "C" int kn_layernorm_fwd(void *out, float *mean, float *rstd, const void *inp,
                                const void *w, const void *b, int N, int C, kn_dtype dt,
                                cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= LN_MAX_C_FWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 LN_MAX_C_FWD, N, C);
    KN_ARG_CHECK(out && inp && w && b, "NULL buffer (out=%p inp=%p w=%p b=%p)", out, inp, w, b);
    if (N == 0)
        return 0;
    unsigned grid = (unsigned)((N + LN_FWD_WARPS - 1) / LN_FWD_WARPS);
    KN_DISPATCH(dt, T, {
        if (ln_vec_enabled() && ln_vec_ok<T>(C, out, inp, w, b)) {
            LN_MAXP_DISPATCH(C / kn_pack<T>::n, ln_fwd_vec_kernel<T, MP>
                <<<grid, LN_FWD_WARPS * 32, 0, s>>>(NULL, (T *)out, mean, rstd, (const T *)inp,
                                                    NULL, (const T *)w, (const T *)b, N, C));
        } else {
            ln_fwd_kernel<T><<<grid, LN_FWD_WARPS * 32, 0, s>>>((T *)out, mean, rstd,
                                                                 (const T *)inp, (const T *)w,
                                                                 (const T *)b, N, C);
        }
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_residual_layernorm_fwd(void *res, void *out, float *mean, float *rstd,
                                         const void *a, const void *b, const void *w,
                                         const void *bias, int N, int C, kn_dtype dt,
                                         cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= LN_MAX_C_FWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 LN_MAX_C_FWD, N, C);
    KN_ARG_CHECK(res && out && a && b && w && bias,
                 "NULL buffer (res=%p out=%p a=%p b=%p w=%p bias=%p)", res, out, a, b, w, bias);
    KN_ARG_CHECK(out != a && out != b && out != res, "out=%p may not alias a, b or res", out);
    if (N == 0)
        return 0;
    bool vec = false;
    KN_DISPATCH(dt, T, { vec = ln_vec_enabled() && ln_vec_ok<T>(C, res, out, a, b, w, bias); });
    if (!vec) { /* the two passes: same values, one more round trip */
        int err = kn_residual_fwd(res, a, b, (size_t)N * C, dt, s);
        return err ? err : kn_layernorm_fwd(out, mean, rstd, res, w, bias, N, C, dt, s);
    }
    unsigned grid = (unsigned)((N + LN_FWD_WARPS - 1) / LN_FWD_WARPS);
    KN_DISPATCH(dt, T, {
        LN_MAXP_DISPATCH(C / kn_pack<T>::n, ln_fwd_vec_kernel<T, MP>
            <<<grid, LN_FWD_WARPS * 32, 0, s>>>((T *)res, (T *)out, mean, rstd, (const T *)a,
                                                (const T *)b, (const T *)w, (const T *)bias, N,
                                                C));
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" size_t kn_layernorm_bwd_scratch_bytes(int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0;
    return (size_t)ln_bwd_blocks(N) * 3 * (size_t)C * sizeof(float); /* dw, db, dsum */
}

extern "C" int kn_layernorm_bwd_sum(void *dinp, float *dw, float *db, float *dsum,
                                    const void *dout, const void *inp, const void *w,
                                    const float *mean, const float *rstd, int N, int C,
                                    int accumulate, kn_dtype dt, void *scratch,
                                    size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    const int maxc = dsum ? LN_MAX_C_BWD_SUM : LN_MAX_C_BWD;
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= maxc, "need N >= 0, 0 < C <= %d (N=%d C=%d)", maxc, N,
                 C);
    KN_ARG_CHECK(dinp && dw && db && dout && inp && w && mean && rstd,
                 "NULL buffer (dinp=%p dw=%p db=%p dout=%p inp=%p w=%p mean=%p rstd=%p)", dinp,
                 (void *)dw, (void *)db, dout, inp, w, (const void *)mean, (const void *)rstd);
    if (N == 0)
        return 0;
    size_t need = kn_layernorm_bwd_scratch_bytes(N, C);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    const int nb = ln_bwd_blocks(N), H = dsum ? 3 : 2;
    size_t smem = (size_t)LN_BWD_WARPS * H * C * sizeof(float);
    float *partial = (float *)scratch;
    KN_DISPATCH(dt, T, {
        /* up to 8 packs per lane: the shared memory of 16 would not fit */
        if (ln_vec_enabled() && ln_vec_ok<T>(C, dinp, dout, inp, w) &&
            C <= 8 * 32 * kn_pack<T>::n) {
            LN_MAXP_DISPATCH(C / kn_pack<T>::n, {
                size_t vsm = (size_t)LN_BWD_WARPS * H * LN_VEC_SLOTS(T, MP) * sizeof(float) +
                             ln_bwd_sa_bytes(MP);
                if (vsm > 48 * 1024)
                    CUDA_CHECK(cudaFuncSetAttribute(ln_bwd_vec_kernel<T, MP>,
                                                    cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    (int)vsm));
                ln_bwd_vec_kernel<T, MP><<<nb, LN_BWD_WARPS * 32, vsm, s>>>(
                    (T *)dinp, partial, (const T *)dout, (const T *)inp, (const T *)w, mean, rstd,
                    N, C, accumulate, H);
            });
        } else {
            if (smem > 48 * 1024)
                CUDA_CHECK(cudaFuncSetAttribute(ln_bwd_kernel<T>,
                                                cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                (int)smem));
            ln_bwd_kernel<T><<<nb, LN_BWD_WARPS * 32, smem, s>>>((T *)dinp, partial,
                                                                 (const T *)dout, (const T *)inp,
                                                                 (const T *)w, mean, rstd, N, C,
                                                                 accumulate, H);
        }
    });
    KN_LAUNCH_CHECK();
    unsigned rgrid = (unsigned)((H * C + LN_RED_COLS - 1) / LN_RED_COLS);
    ln_reduce_kernel<<<rgrid, LN_RED_COLS * LN_RED_GROUPS, 0, s>>>(dw, db, dsum, partial, nb, C,
                                                                    H);
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" int kn_layernorm_bwd(void *dinp, float *dw, float *db, const void *dout,
                                const void *inp, const void *w, const float *mean,
                                const float *rstd, int N, int C, int accumulate, kn_dtype dt,
                                void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    return kn_layernorm_bwd_sum(dinp, dw, db, NULL, dout, inp, w, mean, rstd, N, C, accumulate,
                                dt, scratch, scratch_bytes, s);
}
