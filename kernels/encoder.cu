/* Embedding forward (gather + add) and deterministic backward (sort by token,
 * then per-token ordered sums). */
#include <cub/device/device_radix_sort.cuh>

#include "cuda_check.h"
#include "encoder.h"
#include "kn_device.cuh"

enum { ENC_THREADS = 256, ENC_BWD_THREADS = 256, ENC_BWD_MAX_SEG_BLOCKS = 2048 };

template <typename T>
static __global__ void enc_fwd_kernel(T *out, const int32_t *tok, const T *wte, const T *wpe,
                                      int T_, int C, int V, size_t total)
{
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t n = i / C;
        int c = (int)(i - n * C);
        int t = (int)(n % T_);
        int id = tok[n];
        float e = (id >= 0 && id < V) ? kn_f(wte[(size_t)id * C + c]) : 0.0f;
        out[i] = kn_st<T>(e + kn_f(wpe[(size_t)t * C + c]));
    }
}

/* keys[i] = tok[i] when valid, V otherwise (sorts after every real id and is
 * skipped); vals[i] = i. */
static __global__ void enc_keys_kernel(int32_t *keys, int32_t *vals, const int32_t *tok, int N,
                                       int V)
{
    int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < N; i += stride) {
        int id = tok[i];
        keys[i] = (id >= 0 && id < V) ? id : V;
        vals[i] = i;
    }
}

/* One block per run of equal keys (grid-stride over sorted positions i;
 * i starts a run when keys[i-1] != keys[i]). Thread tid owns channels
 * tid, tid + blockDim, ... and adds the run's rows in position order, so each
 * dwte element is summed by one thread in a fixed order: deterministic, and
 * no barrier is needed. */
template <typename T>
static __global__ void __launch_bounds__(ENC_BWD_THREADS)
enc_bwd_wte_kernel(float *dwte, const T *dout, const int32_t *keys, const int32_t *pos, int N,
                   int C, int V)
{
    for (int i = blockIdx.x; i < N; i += gridDim.x) {
        const int key = keys[i];
        if (key >= V)
            break; /* sentinels sort last: nothing valid follows */
        if (i > 0 && keys[i - 1] == key)
            continue;
        int end = i + 1;
        while (end < N && keys[end] == key)
            end++;
        for (int c0 = 0; c0 < C; c0 += 4 * ENC_BWD_THREADS) {
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll 4
            for (int j = i; j < end; j++) {
                const T *row = dout + (size_t)pos[j] * C;
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    int c = c0 + k * ENC_BWD_THREADS + threadIdx.x;
                    if (c < C)
                        acc[k] += kn_f(row[c]);
                }
            }
            float *dst = dwte + (size_t)key * C;
#pragma unroll
            for (int k = 0; k < 4; k++) {
                int c = c0 + k * ENC_BWD_THREADS + threadIdx.x;
                if (c < C)
                    dst[c] += acc[k];
            }
        }
    }
}

/* dwpe[t, c] += dout[b, t, c] for b = 0..B-1 in order (the reference's order). */
template <typename T>
static __global__ void enc_bwd_wpe_kernel(float *dwpe, const T *dout, int B, int T_, int C)
{
    size_t total = (size_t)T_ * C;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        float acc = dwpe[i];
        for (int b = 0; b < B; b++)
            acc += kn_f(dout[(size_t)b * total + i]);
        dwpe[i] = acc;
    }
}

static int enc_key_bits(int V)
{
    int bits = 1;
    while (bits < 31 && (1LL << bits) <= V) /* V itself (the sentinel) must fit */
        bits++;
    return bits;
}

static size_t align256(size_t x)
{
    return (x + 255) & ~(size_t)255;
}

extern "C" int kn_encoder_fwd(void *out, const int32_t *tok, const void *wte, const void *wpe,
                              int B, int T, int C, int V, kn_dtype dt, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(B >= 0 && T > 0 && C > 0 && V > 0, "need B >= 0, T, C, V > 0 (B=%d T=%d C=%d V=%d)",
                 B, T, C, V);
    KN_ARG_CHECK(out && tok && wte && wpe, "NULL buffer (out=%p tok=%p wte=%p wpe=%p)", out,
                 (const void *)tok, wte, wpe);
    size_t total = (size_t)B * T * C;
    if (total == 0)
        return 0;
    KN_DISPATCH(dt, T_, {
        enc_fwd_kernel<T_><<<kn_grid_for(total, ENC_THREADS), ENC_THREADS, 0, s>>>(
            (T_ *)out, tok, (const T_ *)wte, (const T_ *)wpe, T, C, V, total);
    });
    KN_LAUNCH_CHECK();
    return 0;
}

/* Scratch layout: keys_in, vals_in, keys_out, vals_out (N int32 each, each
 * 256-byte aligned), then CUB's temporary storage. */
static cudaError_t enc_sort(void *temp, size_t &temp_bytes, const int32_t *kin, int32_t *kout,
                            const int32_t *vin, int32_t *vout, int N, int V, cudaStream_t s)
{
    return cub::DeviceRadixSort::SortPairs(temp, temp_bytes, kin, kout, vin, vout, N, 0,
                                           enc_key_bits(V), s);
}

extern "C" int kn_encoder_bwd_scratch_bytes(size_t *bytes, int B, int T, int V)
{
    KN_ARG_CHECK(bytes && B >= 0 && T > 0 && V > 0, "need bytes, B >= 0, T, V > 0 (B=%d T=%d V=%d)",
                 B, T, V);
    long long N = (long long)B * T;
    KN_ARG_CHECK(N < (1LL << 30), "B*T=%lld too large", N);
    size_t temp = 0;
    CUDA_CHECK(enc_sort(NULL, temp, NULL, NULL, NULL, NULL, (int)N, V, 0));
    *bytes = 4 * align256((size_t)N * sizeof(int32_t)) + align256(temp);
    return 0;
}

extern "C" int kn_encoder_bwd(float *dwte, float *dwpe, const void *dout, const int32_t *tok,
                              int B, int T, int C, int V, kn_dtype dt, void *scratch,
                              size_t scratch_bytes, cudaStream_t s)
{
    KN_ARG_CHECK(dt == KN_F32 || dt == KN_BF16, "unknown dtype %d", (int)dt);
    KN_ARG_CHECK(B >= 0 && T > 0 && C > 0 && V > 0, "need B >= 0, T, C, V > 0 (B=%d T=%d C=%d V=%d)",
                 B, T, C, V);
    KN_ARG_CHECK(dwte && dwpe && dout && tok, "NULL buffer (dwte=%p dwpe=%p dout=%p tok=%p)",
                 (void *)dwte, (void *)dwpe, dout, (const void *)tok);
    long long NN = (long long)B * T;
    KN_ARG_CHECK(NN < (1LL << 30), "B*T=%lld too large", NN);
    int N = (int)NN;
    if (N == 0)
        return 0;
    size_t need = 0;
    int err = kn_encoder_bwd_scratch_bytes(&need, B, T, V);
    if (err)
        return err;
    KN_ARG_CHECK(scratch && scratch_bytes >= need, "scratch %p of %zu bytes, need %zu", scratch,
                 scratch_bytes, need);
    size_t a = align256((size_t)N * sizeof(int32_t));
    char *p = (char *)scratch;
    int32_t *kin = (int32_t *)p, *vin = (int32_t *)(p + a);
    int32_t *kout = (int32_t *)(p + 2 * a), *vout = (int32_t *)(p + 3 * a);
    void *temp = p + 4 * a;
    size_t temp_bytes = scratch_bytes - 4 * a;

    enc_keys_kernel<<<kn_grid_for((size_t)N, ENC_THREADS, 1024), ENC_THREADS, 0, s>>>(kin, vin,
                                                                                      tok, N, V);
    KN_LAUNCH_CHECK();
    CUDA_CHECK(enc_sort(temp, temp_bytes, kin, kout, vin, vout, N, V, s));
    unsigned grid = (unsigned)(N < ENC_BWD_MAX_SEG_BLOCKS ? N : ENC_BWD_MAX_SEG_BLOCKS);
    KN_DISPATCH(dt, T_, {
        enc_bwd_wte_kernel<T_><<<grid, ENC_BWD_THREADS, 0, s>>>(dwte, (const T_ *)dout, kout,
                                                                vout, N, C, V);
        KN_LAUNCH_CHECK();
        size_t tc = (size_t)T * C;
        enc_bwd_wpe_kernel<T_><<<kn_grid_for(tc, ENC_THREADS), ENC_THREADS, 0, s>>>(
            dwpe, (const T_ *)dout, B, T, C);
        KN_LAUNCH_CHECK();
    });
    return 0;
}
