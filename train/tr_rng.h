/* Deterministic random numbers for the trainer: splitmix64 for seeding and
 * hashing, xoshiro256** for streams, Box-Muller for normals. Identical on
 * every machine and independent of thread counts; the state is plain data so
 * that checkpoints can store it. */
#ifndef INGOT_TR_RNG_H
#define INGOT_TR_RNG_H

#include <stdint.h>

struct tr_rng {
    uint64_t s[4];
};

/* One splitmix64 step of x: a good 64-bit mixer for deriving seeds. */
uint64_t tr_mix64(uint64_t x);
/* Seed a stream from (seed, stream) so that unrelated uses of one --seed get
 * independent sequences. */
void tr_rng_seed(struct tr_rng *r, uint64_t seed, uint64_t stream);
uint64_t tr_rng_next(struct tr_rng *r);
/* Uniform in [0, n), unbiased (multiply-shift with rejection); n > 0. */
uint64_t tr_rng_below(struct tr_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double tr_rng_uniform(struct tr_rng *r);
/* Standard normal (Box-Muller; one value per call, no cached spare so that
 * the state is fully described by s[]). */
double tr_rng_normal(struct tr_rng *r);

/* Stream ids for tr_rng_seed(). */
enum {
    TR_STREAM_INIT = 1,       /* parameter initialisation */
    TR_STREAM_SHUFFLE = 2,    /* per-epoch window permutation (mixed with epoch) */
    TR_STREAM_SYNTH = 3,      /* --synthetic tokens */
    TR_STREAM_SAMPLE = 4,     /* text sampling (mixed with the step) */
};

#endif
