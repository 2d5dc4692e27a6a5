/* splitmix64 + xoshiro256** (public-domain algorithms by Vigna et al.). */
#include <math.h>

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
