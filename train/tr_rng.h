/* Deterministic random numbers for the trainer: splitmix64 for seeding and
 * hashing, xoshiro256** for streams, Box-Muller for normals. Identical on
 * every machine and independent of thread counts; the state is plain data so
 * that checkpoints can store it. */
#ifndef INGOT_TR_RNG_H
#define INGOT_TR_RNG_H

#include <stddef.h>
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

/* Draws of tr_rng_next() that one tr_rng_normal() consumes (two uniforms). */
#define TR_RNG_DRAWS_PER_NORMAL 2

/* Advance r as if by n calls of tr_rng_next(), in O(256 log n) word
 * operations plus 256 steps (GF(2) polynomial x^n mod the transition's
 * characteristic polynomial); n = 0 leaves r as it is. */
void tr_rng_jump(struct tr_rng *r, uint64_t n);

/* The lower 256 coefficients (bit i of word i/64 = x^i) of the characteristic
 * polynomial of xoshiro256's state transition (the x^256 term is implicit);
 * exposed so that tests can re-derive and check it. */
extern const uint64_t tr_rng_charpoly[4];

/* One run of normals in draw order: p[i] = (float)(tr_rng_normal() * std). */
struct tr_rng_normal_run {
    float *p;
    size_t n;
    double std;
};

/* Fill the runs in order with exactly the values that serial
 * tr_rng_normal(r) calls give (bit for bit), split over threads, each
 * starting from r jumped to its first draw; r ends advanced past all the
 * draws. Threads: tr_rng_fill_threads(). A thread that cannot be started is
 * done by the caller, so this cannot fail. */
void tr_rng_fill_normal_runs(struct tr_rng *r, const struct tr_rng_normal_run *runs, int nruns);

/* Threads for tr_rng_fill_normal_runs(): INGOT_INIT_THREADS when it is a
 * number in 1..256 (otherwise a warning on stderr and the default), else the
 * online CPUs capped at 64. */
int tr_rng_fill_threads(void);

/* Stream ids for tr_rng_seed(). */
enum {
    TR_STREAM_INIT = 1,       /* parameter initialisation */
    TR_STREAM_SHUFFLE = 2,    /* per-epoch window permutation (mixed with epoch) */
    TR_STREAM_SYNTH = 3,      /* --synthetic tokens */
    TR_STREAM_SAMPLE = 4,     /* text sampling (mixed with the step) */
};

#endif
