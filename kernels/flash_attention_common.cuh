/* Device helpers shared by the portable (flash_attention.cu) and Hopper
 * (flash_attention_sm90.cu) flash attention kernels. */
#ifndef INGOT_FLASH_ATTENTION_COMMON_CUH
#define INGOT_FLASH_ATTENTION_COMMON_CUH

/* 2^x on the special-function unit. exp2f adds range handling the softmax
 * does not need (x <= 0 here; results below 2^-126 may flush to 0), and at
 * hs 64 the exponentials cost about as much SM time as the matrix
 * products. ex2(-inf) = 0, so masked scores need no branch. */
static __device__ __forceinline__ float kn_fa_ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* lse2 and Dsum (the backward's row terms) of rows row0 and row0 + 8 of
 * (batch, head) row bh; 0 for rows at or past T. */
static __device__ __forceinline__ void kn_fa_row_stats(float (&L)[2], float (&D)[2],
                                                       const float *lse, const float *Dsum,
                                                       size_t bh, int row0, int T)
{
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int row = row0 + 8 * r;
        L[r] = row < T ? lse[bh * T + row] : 0.0f;
        D[r] = row < T ? Dsum[bh * T + row] : 0.0f;
    }
}

#endif
