/* Helpers for the LLaMA reference-op tests: a seeded generator of random
 * float tensors, a double dot product, and the finite-difference gradient
 * check. */
#ifndef INGOT_LL_TESTLIB_H
#define INGOT_LL_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

/* Restart the xorshift generator (every test starts from a fixed state). */
void ll_seed(uint64_t s);
/* n floats uniform in [-scale, scale); exits 1 when out of memory. */
float *ll_rnd(size_t n, float scale);
/* n zeros; exits 1 when out of memory. */
float *ll_zeros(size_t n);
/* A malloc'd copy of n floats. */
float *ll_copy(const float *p, size_t n);
double ll_dotd(const float *a, const float *b, size_t n);
/* max |a - b| over n floats. */
double ll_maxdiff(const float *a, const float *b, size_t n);

/* The objective L(x) of a finite-difference check: runs a forward on the
 * current inputs and returns sum(out * r) in double. */
typedef double (*ll_objective)(void *ctx);

/* Compare an analytic gradient an[0, n) of L with central differences of L
 * at x: (L(x + h e_i) - L(x - h e_i)) / 2h in double, h = 1e-3. An element
 * fails when |fd - an| > atol + rtol * |an|; the first failure is printed.
 * Prints the worst error / tolerance; returns the number of failures (0/1). */
int ll_fd_check(const char *what, float *x, const float *an, size_t n, ll_objective f,
                void *ctx, double atol, double rtol);

#endif
