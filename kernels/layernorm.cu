/* LayerNorm forward and backward.
 *
 * Forward: one warp per row; the row is read three times (sum, squared
 * deviations, output), the second and third from L1/L2.
 * Backward: one warp per row; each warp accumulates dw/db for its rows in its
 * own shared-memory slice (lane-owned channels, so no atomics), the block
 * adds its warps' slices in warp order into a per-block partial, and a second
 * kernel adds the partials in block order into dw/db. Row-to-block assignment
 * depends only on N, so the result is the same on every GPU and every run. */
#include "cuda_check.h"
#include "kn_device.cuh"
#include "layernorm.h"

enum {
    LN_FWD_WARPS = 8,
    LN_BWD_WARPS = 8,
    LN_BWD_ROWS_PER_WARP = 4, /* target; sets the block count */
    LN_BWD_MAX_BLOCKS = 512,
    LN_MAX_C_FWD = 16384,
    LN_MAX_C_BWD = 3072, /* shared memory: 64 C bytes per block */
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

/* Dynamic shared memory: [LN_BWD_WARPS][2][C] floats (dw then db per warp).
 * partial: [gridDim.x][2][C]. */
template <typename T>
static __global__ void __launch_bounds__(LN_BWD_WARPS * 32)
ln_bwd_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
              const float *mean, const float *rstd, int N, int C, int accumulate)
{
    extern __shared__ float ln_sh[];
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    float *acc = ln_sh + (size_t)warp * 2 * C; /* this warp's dw[C], db[C] */
    for (int c = lane; c < C; c += 32) { /* same lane-to-channel map as below */
        acc[c] = 0.0f;
        acc[C + c] = 0.0f;
    }
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
            di[c] = kn_st<T>(accumulate ? kn_f(di[c]) + g : g);
            acc[c] += xh * dv;
            acc[C + c] += dv;
        }
    }
    __syncthreads();
    /* Block partial: warps' slices added in warp order. */
    float *pb = partial + (size_t)blockIdx.x * 2 * C;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) {
        float t = 0.0f;
        for (int k = 0; k < LN_BWD_WARPS; k++)
            t += ln_sh[(size_t)k * 2 * C + c];
        pb[c] = t;
    }
}

/* out[c] += sum_{b < nb} partial[b][c] for c < n2 (= 2C: dw then db), the
 * b-sum split into LN_RED_GROUPS interleaved groups that are then added in
 * group order: fixed order, no atomics. Block: LN_RED_COLS x LN_RED_GROUPS. */
static __global__ void ln_reduce_kernel(float *dw, float *db, const float *partial, int nb,
                                        int C)
{
    __shared__ float sh[LN_RED_GROUPS][LN_RED_COLS];
    const int col = threadIdx.x % LN_RED_COLS, grp = threadIdx.x / LN_RED_COLS;
    const int c = blockIdx.x * LN_RED_COLS + col;
    const int n2 = 2 * C;
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
        else
            db[c - C] += r;
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
        ln_fwd_kernel<T><<<grid, LN_FWD_WARPS * 32, 0, s>>>((T *)out, mean, rstd, (const T *)inp,
                                                             (const T *)w, (const T *)b, N, C);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

extern "C" size_t kn_layernorm_bwd_scratch_bytes(int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0;
    return (size_t)ln_bwd_blocks(N) * 2 * (size_t)C * sizeof(float);
}

extern "C" int kn_layernorm_bwd(void *dinp, float *dw, float *db, const void *dout,
                                const void *inp, const void *w, const float *mean,
                                const float *rstd, int N, int C, int accumulate, kn_dtype dt,
                                void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(N >= 0 && C > 0 && C <= LN_MAX_C_BWD, "need N >= 0, 0 < C <= %d (N=%d C=%d)",
                 LN_MAX_C_BWD, N, C);
    KN_ARG_CHECK(dinp && dw && db && dout && inp && w && mean && rstd,
                 "NULL buffer (dinp=%p dw=%p db=%p dout=%p inp=%p w=%p mean=%p rstd=%p)", dinp,
                 (void *)dw, (void *)db, dout, inp, w, (const void *)mean, (const void *)rstd);
    if (N == 0)
        return 0;
    size_t need = kn_layernorm_bwd_scratch_bytes(N, C);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    int nb = ln_bwd_blocks(N);
    size_t smem = (size_t)LN_BWD_WARPS * 2 * C * sizeof(float);
    float *partial = (float *)scratch;
    KN_DISPATCH(dt, T, {
        if (smem > 48 * 1024)
            CUDA_CHECK(cudaFuncSetAttribute(ln_bwd_kernel<T>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize,
                                            (int)smem));
        ln_bwd_kernel<T><<<nb, LN_BWD_WARPS * 32, smem, s>>>((T *)dinp, partial, (const T *)dout,
                                                             (const T *)inp, (const T *)w, mean,
                                                             rstd, N, C, accumulate);
    });
    KN_LAUNCH_CHECK();
    unsigned rgrid = (unsigned)((2 * C + LN_RED_COLS - 1) / LN_RED_COLS);
    ln_reduce_kernel<<<rgrid, LN_RED_COLS * LN_RED_GROUPS, 0, s>>>(dw, db, partial, nb, C);
    KN_LAUNCH_CHECK();
    return 0;
}
