/* Causal attention, materialised: permute qkv into per-head q, k, v
 * [B*NH, T, hs]; preatt = q k^T (batched GEMM) written into att; causal
 * softmax in place; y = att v (batched GEMM); un-permute y into out.
 * Backward: datt = dy v^T, dv = att^T dy, dpre = softmax backward (in place
 * over datt, scale folded in), dq = dpre k, dk = dpre^T q; then scatter into
 * dqkv.
 *
 * Batched GEMMs (batch B*NH, row-major per-head matrices read column-major,
 * see matmul.cu): a row-major [T, hs] matrix is the column-major (hs x T)
 * matrix with ld hs; a row-major [T, T] one is (T x T) with ld T.
 *   preatt[t][t2] = q_t . k_t2:   C = (T x T, ld T) = k^T-op(A) q:
 *       A = k (hs x T, ld hs), trans_a = T; B = q (hs x T, ld hs), trans_b = N;
 *       m = T, n = T, k = hs.  C[t2 + t*T] = sum_d k[t2][d] q[t][d].
 *   y[t][d] = sum_t2 att[t][t2] v[t2][d]:  C = (hs x T, ld hs):
 *       A = v (hs x T), trans_a = N; B = att (T x T, ld T) as stored
 *       (B[t2, t] = att[t][t2]), trans_b = N; m = hs, n = T, k = T.
 *   datt[t][t2] = dy_t . v_t2:  as preatt with q -> dy, k -> v.
 *   dv[t2][d] = sum_t att[t][t2] dy[t][d]:  A = dy, trans_a = N;
 *       op(B)[t, t2] = att[t][t2] = B[t2, t] -> trans_b = T; m = hs, n = T, k = T.
 *   dq[t][d] = sum_t2 dpre[t][t2] k[t2][d]:  A = k, trans_a = N; B = dpre,
 *       trans_b = N (as y with att -> dpre).
 *   dk[t2][d] = sum_t dpre[t][t2] q[t][d]:  A = q, trans_a = N; B = dpre,
 *       trans_b = T (as dv). */
#include <math.h>

#include "attention.h"
#include "cuda_check.h"
#include "kn_device.cuh"

enum { ATT_THREADS = 256, SM_WARPS = 8, ATT_MAX_HS = 256 };

/* Flat index i of a [B, NH, T, hs] tensor names (b, h, t, d); returns the
 * offset of that element in a [B, T, ..., hs] tensor whose (b, t) rows are
 * row_stride elements long with head h at h * hs: row_stride = NH * hs for
 * [B, T, NH, hs], 3 * NH * hs for the q part of qkv [B, T, 3, NH, hs]. */
static __device__ __forceinline__ size_t bnth_to_bt_off(size_t i, int T_, int NH, int hs,
                                                        size_t row_stride)
{
    int d = (int)(i % hs);
    size_t r = i / hs;
    int t = (int)(r % T_);
    r /= T_;
    int h = (int)(r % NH);
    int b = (int)(r / NH);
    return ((size_t)b * T_ + t) * row_stride + (size_t)h * hs + d;
}

/* q, k, v [B, NH, T, hs] (k at +BTC, v at +2BTC) from qkv [B, T, 3, NH, hs]. */
template <typename T>
static __global__ void permute_qkv_kernel(T *q, const T *qkv, int B, int T_, int NH, int hs)
{
    const size_t C = (size_t)NH * hs;
    const size_t total = (size_t)B * T_ * C;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t src = bnth_to_bt_off(i, T_, NH, hs, 3 * C);
        q[i] = qkv[src];
        q[total + i] = qkv[src + C];
        q[2 * total + i] = qkv[src + 2 * C];
    }
}

/* out [B, T, NH, hs] from y [B, NH, T, hs]. */
template <typename T>
static __global__ void unpermute_kernel(T *out, const T *y, int B, int T_, int NH, int hs)
{
    const size_t total = (size_t)B * T_ * NH * hs;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        out[bnth_to_bt_off(i, T_, NH, hs, (size_t)NH * hs)] = y[i];
}

/* dy [B, NH, T, hs] from dout [B, T, NH, hs]. */
template <typename T>
static __global__ void permute_dout_kernel(T *dy, const T *dout, int B, int T_, int NH, int hs)
{
    const size_t total = (size_t)B * T_ * NH * hs;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        dy[i] = dout[bnth_to_bt_off(i, T_, NH, hs, (size_t)NH * hs)];
}

/* dqkv [B, T, 3, NH, hs] (+)= dq, dk, dv [B, NH, T, hs] (contiguous). */
template <typename T>
static __global__ void unpermute_dqkv_kernel(T *dqkv, const T *dq, int B, int T_, int NH, int hs,
                                             int accumulate)
{
    const size_t C = (size_t)NH * hs;
    const size_t total = (size_t)B * T_ * C;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t dst = bnth_to_bt_off(i, T_, NH, hs, 3 * C);
        for (int part = 0; part < 3; part++) {
            float g = kn_f(dq[(size_t)part * total + i]);
            T *o = dqkv + dst + (size_t)part * C;
            *o = kn_st<T>(accumulate ? kn_f(*o) + g : g);
        }
    }
}

/* Online softmax statistics: running max m and sum of exp(x - m). */
static __device__ __forceinline__ void online_add(float &mx, float &sum, float x)
{
    if (x > mx) {
        sum = sum * expf(mx - x) + 1.0f; /* mx = -inf first: 0 * 0 + 1 */
        mx = x;
    } else {
        sum += expf(x - mx);
    }
}

/* One warp per row (b, h, t) of att [B*NH*T, T]: in place,
 * att[t2] = softmax over t2 <= t of preatt * scale; 0 for t2 > t.
 * VEC: 16-byte packs (needs T % pack == 0 and an aligned att); a lane reads
 * and writes the same packs in both passes, so in place is safe. */
template <typename T, bool VEC>
static __global__ void __launch_bounds__(SM_WARPS * 32)
softmax_fwd_kernel(T *att, int rows, int T_, float scale)
{
    const int row = blockIdx.x * SM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows)
        return;
    const int t = row % T_;
    T *a = att + (size_t)row * T_;
    float mx = -INFINITY, sum = 0.0f;
    const int P = kn_pack<T>::n;
    if (VEC) {
        for (int j = lane; j * P <= t; j += 32) {
            kn_pack<T> x = kn_ld_pack(a + (size_t)j * P);
#pragma unroll
            for (int k = 0; k < P; k++)
                if (j * P + k <= t)
                    online_add(mx, sum, kn_f(x.v[k]) * scale);
        }
    } else {
        for (int t2 = lane; t2 <= t; t2 += 32)
            online_add(mx, sum, kn_f(a[t2]) * scale);
    }
    float gmx = kn_warp_max(mx);
    sum = mx == -INFINITY ? 0.0f : sum * expf(mx - gmx);
    sum = kn_warp_sum(sum);
    const float inv = 1.0f / sum;
    if (VEC) {
        for (int j = lane; j * P < T_; j += 32) {
            kn_pack<T> x = {}, y;
            if (j * P <= t)
                x = kn_ld_pack(a + (size_t)j * P);
#pragma unroll
            for (int k = 0; k < P; k++) {
                int t2 = j * P + k;
                y.v[k] = kn_st<T>(t2 <= t ? expf(kn_f(x.v[k]) * scale - gmx) * inv : 0.0f);
            }
            kn_st_pack(a + (size_t)j * P, y);
        }
    } else {
        for (int t2 = lane; t2 < T_; t2 += 32) {
            float p = 0.0f;
            if (t2 <= t)
                p = expf(kn_f(a[t2]) * scale - gmx) * inv;
            a[t2] = kn_st<T>(p);
        }
    }
}

/* One warp per row: in place over datt,
 * dpre[t2] = scale * att[t2] * (datt[t2] - sum_{j<=t} att[j] datt[j]) for
 * t2 <= t, 0 above the diagonal. VEC as in softmax_fwd_kernel. */
template <typename T, bool VEC>
static __global__ void __launch_bounds__(SM_WARPS * 32)
softmax_bwd_kernel(T *datt, const T *att, int rows, int T_, float scale)
{
    const int row = blockIdx.x * SM_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows)
        return;
    const int t = row % T_;
    T *d = datt + (size_t)row * T_;
    const T *a = att + (size_t)row * T_;
    const int P = kn_pack<T>::n;
    float dot = 0.0f;
    if (VEC) {
        for (int j = lane; j * P <= t; j += 32) {
            kn_pack<T> x = kn_ld_pack(a + (size_t)j * P), y = kn_ld_pack(d + (size_t)j * P);
#pragma unroll
            for (int k = 0; k < P; k++)
                if (j * P + k <= t)
                    dot += kn_f(x.v[k]) * kn_f(y.v[k]);
        }
    } else {
        for (int t2 = lane; t2 <= t; t2 += 32)
            dot += kn_f(a[t2]) * kn_f(d[t2]);
    }
    dot = kn_warp_sum(dot);
    if (VEC) {
        for (int j = lane; j * P < T_; j += 32) {
            kn_pack<T> x = {}, y = {}, r;
            if (j * P <= t) {
                x = kn_ld_pack(a + (size_t)j * P);
                y = kn_ld_pack(d + (size_t)j * P);
            }
#pragma unroll
            for (int k = 0; k < P; k++) {
                int t2 = j * P + k;
                r.v[k] = kn_st<T>(t2 <= t ? scale * kn_f(x.v[k]) * (kn_f(y.v[k]) - dot) : 0.0f);
            }
            kn_st_pack(d + (size_t)j * P, r);
        }
    } else {
        for (int t2 = lane; t2 < T_; t2 += 32) {
            float g = 0.0f;
            if (t2 <= t)
                g = scale * kn_f(a[t2]) * (kn_f(d[t2]) - dot);
            d[t2] = kn_st<T>(g);
        }
    }
}

static size_t al256(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

static int att_check(int B, int T, int C, int NH, kn_dtype dt)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(B > 0 && T > 0 && C > 0 && NH > 0 && C % NH == 0,
                 "need B, T, C, NH > 0 and C %% NH == 0 (B=%d T=%d C=%d NH=%d)", B, T, C, NH);
    KN_ARG_CHECK(C / NH <= ATT_MAX_HS, "head size %d above %d", C / NH, (int)ATT_MAX_HS);
    KN_ARG_CHECK((long long)B * NH * T < (1LL << 31), "B*NH*T=%lld too large",
                 (long long)B * NH * T);
    return 0;
}

extern "C" size_t kn_attention_fwd_scratch_bytes(int B, int T, int C, int NH, kn_dtype dt)
{
    (void)NH;
    if (B <= 0 || T <= 0 || C <= 0)
        return 0;
    return 4 * al256((size_t)B * T * C * kn_dtype_size(dt));
}

extern "C" size_t kn_attention_bwd_scratch_bytes(int B, int T, int C, int NH, kn_dtype dt)
{
    if (B <= 0 || T <= 0 || C <= 0 || NH <= 0)
        return 0;
    size_t es = kn_dtype_size(dt);
    return 7 * al256((size_t)B * T * C * es) + al256((size_t)B * NH * T * T * es);
}

/* A strided-batched GEMM over the B*NH heads (see the table at the top). */
static int head_gemm(kn_blas *h, int ta, int tb, int m, int n, int k, const void *A, long long lda,
                     long long sa, const void *Bm, long long ldb, long long sb, void *Cm,
                     long long ldc, long long sc, int batch, kn_dtype dt, float beta,
                     cudaStream_t s)
{
    kn_gemm g;
    g.trans_a = ta;
    g.trans_b = tb;
    g.m = m;
    g.n = n;
    g.k = k;
    g.A = A;
    g.lda = lda;
    g.stride_a = sa;
    g.B = Bm;
    g.ldb = ldb;
    g.stride_b = sb;
    g.C = Cm;
    g.ldc = ldc;
    g.stride_c = sc;
    g.batch = batch;
    g.ab_dt = g.c_dt = dt;
    g.alpha = 1.0f;
    g.beta = beta;
    return kn_gemm_run(h, &g, s);
}

extern "C" int kn_attention_fwd(kn_blas *h, void *out, void *att, const void *qkv, int B, int T,
                                int C, int NH, kn_dtype dt, void *scratch, size_t scratch_bytes,
                                cudaStream_t s)
{
    int err = att_check(B, T, C, NH, dt);
    if (err)
        return err;
    KN_ARG_CHECK(h && out && att && qkv, "NULL argument (h=%p out=%p att=%p qkv=%p)", (void *)h,
                 out, att, qkv);
    size_t need = kn_attention_fwd_scratch_bytes(B, T, C, NH, dt);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    const int hs = C / NH, BH = B * NH, rows = BH * T;
    const size_t btc = (size_t)B * T * C, es = kn_dtype_size(dt);
    const float scale = 1.0f / sqrtf((float)hs);
    char *p = (char *)scratch;
    const size_t slot = al256(btc * es);
    void *qkvp = p; /* q, k, v contiguous: q at 0, k at btc, v at 2*btc elements */
    void *y = p + 3 * slot;
    KN_DISPATCH(dt, X, {
        const X *qh = (const X *)qkvp, *kh = qh + btc, *vh = qh + 2 * btc;
        permute_qkv_kernel<X><<<kn_grid_for(btc, ATT_THREADS), ATT_THREADS, 0, s>>>(
            (X *)qkvp, (const X *)qkv, B, T, NH, hs);
        KN_LAUNCH_CHECK();
        if ((err = head_gemm(h, 1, 0, T, T, hs, kh, hs, (long long)T * hs, qh, hs,
                             (long long)T * hs, att, T, (long long)T * T, BH, dt, 0.0f, s)))
            return err;
        unsigned sg = (unsigned)((rows + SM_WARPS - 1) / SM_WARPS);
        if (T % kn_pack<X>::n == 0 && kn_aligned16(att))
            softmax_fwd_kernel<X, true><<<sg, SM_WARPS * 32, 0, s>>>((X *)att, rows, T, scale);
        else
            softmax_fwd_kernel<X, false><<<sg, SM_WARPS * 32, 0, s>>>((X *)att, rows, T, scale);
        KN_LAUNCH_CHECK();
        if ((err = head_gemm(h, 0, 0, hs, T, T, vh, hs, (long long)T * hs, att, T,
                             (long long)T * T, y, hs, (long long)T * hs, BH, dt, 0.0f, s)))
            return err;
        unpermute_kernel<X><<<kn_grid_for(btc, ATT_THREADS), ATT_THREADS, 0, s>>>(
            (X *)out, (const X *)y, B, T, NH, hs);
        KN_LAUNCH_CHECK();
    });
    return 0;
}

extern "C" int kn_attention_bwd(kn_blas *h, void *dqkv, const void *dout, const void *qkv,
                                const void *att, int B, int T, int C, int NH, int accumulate,
                                kn_dtype dt, void *scratch, size_t scratch_bytes, cudaStream_t s)
{
    int err = att_check(B, T, C, NH, dt);
    if (err)
        return err;
    KN_ARG_CHECK(h && dqkv && dout && qkv && att,
                 "NULL argument (h=%p dqkv=%p dout=%p qkv=%p att=%p)", (void *)h, dqkv, dout,
                 qkv, att);
    size_t need = kn_attention_bwd_scratch_bytes(B, T, C, NH, dt);
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    const int hs = C / NH, BH = B * NH, rows = BH * T;
    const size_t btc = (size_t)B * T * C, es = kn_dtype_size(dt);
    const float scale = 1.0f / sqrtf((float)hs);
    const long long sh = (long long)T * hs, st = (long long)T * T;
    char *p = (char *)scratch;
    const size_t slot = al256(btc * es);
    void *qkvp = p;             /* q, k, v: 3 slots, contiguous */
    void *dy = p + 3 * slot;    /* 1 slot */
    void *dqkvp = p + 4 * slot; /* dq, dk, dv: 3 slots, contiguous */
    void *datt = p + 7 * slot;  /* B*NH*T*T */
    KN_DISPATCH(dt, X, {
        const X *qh = (const X *)qkvp, *kh = qh + btc, *vh = qh + 2 * btc;
        X *dq = (X *)dqkvp, *dk = dq + btc, *dv = dq + 2 * btc;
        permute_qkv_kernel<X><<<kn_grid_for(btc, ATT_THREADS), ATT_THREADS, 0, s>>>(
            (X *)qkvp, (const X *)qkv, B, T, NH, hs);
        KN_LAUNCH_CHECK();
        permute_dout_kernel<X><<<kn_grid_for(btc, ATT_THREADS), ATT_THREADS, 0, s>>>(
            (X *)dy, (const X *)dout, B, T, NH, hs);
        KN_LAUNCH_CHECK();
        /* datt = dy v^T */
        if ((err = head_gemm(h, 1, 0, T, T, hs, vh, hs, sh, dy, hs, sh, datt, T, st, BH, dt, 0.0f,
                             s)))
            return err;
        /* dv = att^T dy */
        if ((err = head_gemm(h, 0, 1, hs, T, T, dy, hs, sh, att, T, st, dv, hs, sh, BH, dt, 0.0f,
                             s)))
            return err;
        unsigned sg = (unsigned)((rows + SM_WARPS - 1) / SM_WARPS);
        if (T % kn_pack<X>::n == 0 && kn_aligned16(att, datt))
            softmax_bwd_kernel<X, true><<<sg, SM_WARPS * 32, 0, s>>>((X *)datt, (const X *)att,
                                                                      rows, T, scale);
        else
            softmax_bwd_kernel<X, false><<<sg, SM_WARPS * 32, 0, s>>>((X *)datt, (const X *)att,
                                                                       rows, T, scale);
        KN_LAUNCH_CHECK();
        /* dq = dpre k; dk = dpre^T q */
        if ((err = head_gemm(h, 0, 0, hs, T, T, kh, hs, sh, datt, T, st, dq, hs, sh, BH, dt, 0.0f,
                             s)))
            return err;
        if ((err = head_gemm(h, 0, 1, hs, T, T, qh, hs, sh, datt, T, st, dk, hs, sh, BH, dt, 0.0f,
                             s)))
            return err;
        unpermute_dqkv_kernel<X><<<kn_grid_for(btc, ATT_THREADS), ATT_THREADS, 0, s>>>(
            (X *)dqkv, (const X *)dqkvp, B, T, NH, hs, accumulate);
        KN_LAUNCH_CHECK();
    });
    return 0;
}
