/* One allocation carved into many arrays, as every model back end holds its
 * activations: a sizing pass (base NULL) adds up the offsets, then the same
 * calls on the allocated block hand out the pointers.
 *
 * The sizes come from shapes that a checkpoint or the command line gives,
 * and the largest term (batch x heads x seq_len^2 per layer, for the
 * attention probabilities) overflows 64 bits for shapes that every field
 * check passes (a crafted checkpoint did: eval then allocated the wrapped,
 * small size and wrote far past it). So every product and sum here
 * saturates at TR_CARVE_TOO_BIG instead of wrapping, and a sizing pass that
 * returns it means "more than the address space", never a small block. */
#ifndef INGOT_TR_CARVE_H
#define INGOT_TR_CARVE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "ingot_err.h"

#define TR_CARVE_TOO_BIG SIZE_MAX

/* a * b, or TR_CARVE_TOO_BIG when it does not fit (or either already is). */
static inline size_t tr_szmul(size_t a, size_t b)
{
    size_t r;
    if (a == TR_CARVE_TOO_BIG || b == TR_CARVE_TOO_BIG || __builtin_mul_overflow(a, b, &r))
        return TR_CARVE_TOO_BIG;
    return r;
}

/* Carve n elements of sz bytes at *off, aligned to align (a power of two);
 * base NULL: sizing pass. Once *off is TR_CARVE_TOO_BIG it stays so. */
static inline void *tr_carve(char *base, size_t *off, size_t n, size_t sz, size_t align)
{
    const size_t bytes = tr_szmul(n, sz);
    size_t o;
    if (*off == TR_CARVE_TOO_BIG || bytes == TR_CARVE_TOO_BIG ||
        __builtin_add_overflow(*off, align - 1, &o) ||
        __builtin_add_overflow(o & ~(align - 1), bytes, off)) {
        *off = TR_CARVE_TOO_BIG;
        return NULL;
    }
    o &= ~(align - 1);
    return base ? base + o : NULL;
}

/* 0, or -ENOMEM with a message when a sizing pass came to TR_CARVE_TOO_BIG:
 * what (the model), B sequences of T tokens, L layers. Call it before
 * rounding the size up for the allocation (which would wrap to 0). */
static inline int tr_carve_check(size_t bytes, const char *what, int B, int T, int L)
{
    if (bytes != TR_CARVE_TOO_BIG)
        return 0;
    return ingot_fail(-ENOMEM, "%s: the activations of %d sequences of %d tokens over %d layers "
                      "need more than 2^64 bytes; lower --batch or --seq-len (or the checkpoint "
                      "is not one of a real model)", what, B, T, L);
}

#endif
