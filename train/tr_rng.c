/* splitmix64 + xoshiro256** (public-domain algorithms by Vigna et al.),
 * jump-ahead by any count, and the parallel normal fill built on it. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tr_rng.h"

uint64_t tr_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void tr_rng_seed(struct tr_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = tr_mix64(seed) ^ tr_mix64(stream * 0x632be59bd9b4e019ull + 1);
    for (int i = 0; i < 4; i++) {
        x = tr_mix64(x);
        r->s[i] = x;
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))   /* all-zero state is a fixed point */
        r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t tr_rng_next(struct tr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t tr_rng_below(struct tr_rng *r, uint64_t n)
{
    /* Lemire's nearly-divisionless method. */
    unsigned __int128 m = (unsigned __int128)tr_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t thresh = -n % n;
        while (lo < thresh) {
            m = (unsigned __int128)tr_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double tr_rng_uniform(struct tr_rng *r)
{
    return (double)(tr_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double tr_rng_normal(struct tr_rng *r)
{
    double u1 = tr_rng_uniform(r), u2 = tr_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Jump-ahead. xoshiro256's state update is linear over GF(2): s' = T s for a
 * 256x256 bit matrix T (the output scrambler is not part of the state). With
 * P(x) the characteristic polynomial of T, Cayley-Hamilton gives P(T) = 0, so
 * T^n = R(T) where R(x) = x^n mod P(x) = sum c_i x^i, i < 256, and
 * T^n s = XOR of (T^i s) over the set c_i: 256 steps of the generator. This
 * is xoshiro's published jump() with R computed for any n instead of the
 * fixed 2^128.
 *
 * tr_rng_charpoly was derived by Berlekamp-Massey over GF(2) on 1024
 * successive values of state bit s[0] & 1 (seed 12345, stream 1): the linear
 * complexity is 256 and P is primitive, so the minimal polynomial of that
 * sequence is P itself. tests/train/test_rng_jump.c re-derives it the same
 * way and checks that x^(2^128) mod P equals xoshiro256's published JUMP
 * constant. */
const uint64_t tr_rng_charpoly[4] = {
    0x9d116f2bb0f0f001ull, 0x0280002bcefd1a5eull, 0x04b4edcf26259f85ull, 0x0003c03c3f3ecb19ull,
};

/* Spread the 32 bits of x to the even bit positions (squaring over GF(2)). */
static uint64_t spread32(uint64_t x)
{
    x &= 0xffffffffull;
    x = (x | (x << 16)) & 0x0000ffff0000ffffull;
    x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
    x = (x | (x << 4)) & 0x0f0f0f0f0f0f0f0full;
    x = (x | (x << 2)) & 0x3333333333333333ull;
    x = (x | (x << 1)) & 0x5555555555555555ull;
    return x;
}

/* a = a^2 mod P, a of degree < 256. */
static void poly_sqr_mod(uint64_t a[4])
{
    uint64_t w[8];
    for (int i = 0; i < 4; i++) {
        w[2 * i] = spread32(a[i]);
        w[2 * i + 1] = spread32(a[i] >> 32);
    }
    /* Reduce x^k, k = 511..256, by x^k = x^(k-256) * (P - x^256). */
    for (int k = 511; k >= 256; k--) {
        if (!(w[k / 64] >> (k % 64) & 1))
            continue;
        w[k / 64] ^= 1ull << (k % 64);
        unsigned sh = (unsigned)k - 256, q = sh / 64, b = sh % 64;
        for (unsigned j = 0; j < 4; j++) {
            w[j + q] ^= tr_rng_charpoly[j] << b;
            if (b && j + q + 1 < 8)
                w[j + q + 1] ^= tr_rng_charpoly[j] >> (64 - b);
        }
    }
    for (int i = 0; i < 4; i++)
        a[i] = w[i];
}

/* a = a * x mod P. */
static void poly_mulx_mod(uint64_t a[4])
{
    uint64_t top = a[3] >> 63;
    a[3] = a[3] << 1 | a[2] >> 63;
    a[2] = a[2] << 1 | a[1] >> 63;
    a[1] = a[1] << 1 | a[0] >> 63;
    a[0] <<= 1;
    if (top)
        for (int i = 0; i < 4; i++)
            a[i] ^= tr_rng_charpoly[i];
}

void tr_rng_jump(struct tr_rng *r, uint64_t n)
{
    if (n < 256) {   /* cheaper stepped than through the polynomial */
        while (n--)
            tr_rng_next(r);
        return;
    }
    uint64_t c[4] = { 1, 0, 0, 0 };   /* x^0; then left-to-right binary powering */
    for (int bit = 63 - __builtin_clzll(n); bit >= 0; bit--) {
        poly_sqr_mod(c);
        if (n >> bit & 1)
            poly_mulx_mod(c);
    }
    uint64_t t[4] = { 0, 0, 0, 0 };
    for (int i = 0; i < 256; i++) {
        if (c[i / 64] >> (i % 64) & 1)
            for (int j = 0; j < 4; j++)
                t[j] ^= r->s[j];
        tr_rng_next(r);
    }
    for (int j = 0; j < 4; j++)
        r->s[j] = t[j];
}

/* Below this many normals per thread a thread costs more than it saves. */
enum { FILL_MIN_PER_THREAD = 1 << 15, FILL_MAX_THREADS = 256, FILL_DEFAULT_CAP = 64 };

/* INGOT_INIT_THREADS, or 0 when it is unset or not a number in range. */
static int threads_from_env(void)
{
    const char *e = getenv("INGOT_INIT_THREADS");
    if (!e || !*e)
        return 0;
    char *end;
    errno = 0;
    long v = strtol(e, &end, 10);
    if (!errno && !*end && v >= 1 && v <= FILL_MAX_THREADS)
        return (int)v;
    fprintf(stderr, "ingot: warning: INGOT_INIT_THREADS='%s' is not a number in 1..%d; "
            "using the online CPU count\n", e, FILL_MAX_THREADS);
    return 0;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > FILL_DEFAULT_CAP ? FILL_DEFAULT_CAP : (int)n;
}

int tr_rng_fill_threads(void)
{
    int n = threads_from_env();
    return n ? n : default_threads();
}

struct fill_chunk {
    struct tr_rng r;                     /* the stream at this chunk's first draw */
    const struct tr_rng_normal_run *runs;
    int nruns;
    size_t begin, end;                   /* normals [begin, end) of all runs together */
};

static void fill_chunk_run(const struct fill_chunk *ch)
{
    struct tr_rng r = ch->r;
    size_t base = 0;   /* index of the current run's first normal */
    for (int k = 0; k < ch->nruns && base < ch->end; base += ch->runs[k].n, k++) {
        const struct tr_rng_normal_run *run = &ch->runs[k];
        size_t lo = ch->begin > base ? ch->begin - base : 0;
        size_t hi = ch->end - base < run->n ? ch->end - base : run->n;
        for (size_t i = lo; i < hi; i++)
            run->p[i] = (float)(tr_rng_normal(&r) * run->std);
    }
}

static void *fill_chunk_main(void *arg)
{
    fill_chunk_run(arg);
    return NULL;
}

void tr_rng_fill_normal_runs(struct tr_rng *r, const struct tr_rng_normal_run *runs, int nruns)
{
    size_t total = 0;
    for (int k = 0; k < nruns; k++)
        total += runs[k].n;
    /* An explicit INGOT_INIT_THREADS is honoured even for small fills (the
     * tests split a few million values 7 ways); the default leaves at least
     * FILL_MIN_PER_THREAD normals to each thread. */
    size_t nt = (size_t)threads_from_env();
    if (!nt) {
        nt = (size_t)default_threads();
        if (nt > total / FILL_MIN_PER_THREAD)
            nt = total / FILL_MIN_PER_THREAD;
    }
    if (nt > total)
        nt = total;
    if (nt < 1)
        nt = 1;
    struct fill_chunk chunks[FILL_MAX_THREADS];
    pthread_t tid[FILL_MAX_THREADS];
    bool started[FILL_MAX_THREADS];
    for (size_t t = 0; t < nt; t++) {
        struct fill_chunk *ch = &chunks[t];
        ch->runs = runs;
        ch->nruns = nruns;
        ch->begin = total / nt * t + (t < total % nt ? t : total % nt);
        ch->end = ch->begin + total / nt + (t < total % nt);
        ch->r = *r;
        tr_rng_jump(&ch->r, (uint64_t)ch->begin * TR_RNG_DRAWS_PER_NORMAL);
        started[t] = t > 0 && nt > 1 && !pthread_create(&tid[t], NULL, fill_chunk_main, ch);
    }
    /* Chunk 0, and any chunk whose thread could not start, on this thread. */
    for (size_t t = 0; t < nt; t++)
        if (!started[t])
            fill_chunk_run(&chunks[t]);
    for (size_t t = 1; t < nt; t++)
        if (started[t])
            pthread_join(tid[t], NULL);
    tr_rng_jump(r, (uint64_t)total * TR_RNG_DRAWS_PER_NORMAL);
}
