/* RoPE's float32 rotation of one channel, shared by rope.cu (the separate
 * pass) and gemm_sm90.cu (the same rotation in the QKV product's
 * epilogue), so that the fused and unfused paths give the same bits: the
 * one fused multiply-add is spelled out rather than left to the
 * compiler's contraction, which may pick either product to fuse. */
#ifndef INGOT_ROPE_MATH_CUH
#define INGOT_ROPE_MATH_CUH

/* Channel i < hs/2 of a head, x1, and its partner i + hs/2, x2, at angle
 * a (co = cos a, si = sin a; si negated for the transpose):
 *   out_i          = x1 co - x2 si = kn_rope_rot(x1, x2, co, -si)
 *   out_{i + hs/2} = x2 co + x1 si = kn_rope_rot(x2, x1, co, si) */
static __device__ __forceinline__ float kn_rope_rot(float own, float partner, float co,
                                                    float ssi)
{
    return fmaf(own, co, partner * ssi);
}

#endif
