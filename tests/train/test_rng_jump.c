/* tr_rng_jump (train/tr_rng.c): jumping n draws ahead must land on exactly
 * the state that n calls of tr_rng_next() reach, for small, boundary (255,
 * 256), large and random n and several seeds; jumps must compose for counts
 * too large to step. The embedded characteristic polynomial is re-derived
 * here with Berlekamp-Massey and checked against xoshiro256's published
 * JUMP constant (x^(2^128) mod P, computed with plain schoolbook GF(2)
 * arithmetic independent of tr_rng.c's). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tr_rng.h"
#include "../test_check.h"

static int same(const struct tr_rng *a, const struct tr_rng *b)
{
    return !memcmp(a->s, b->s, sizeof a->s);
}

/* The connection polynomial of 1024 successive values of state bit s[0] & 1,
 * turned into the characteristic polynomial's lower 256 coefficients. */
static void derive_charpoly(uint64_t seed, uint64_t p[4])
{
    enum { N = 1024 };
    static unsigned char a[N], C[N + 1], B[N + 1], T[N + 1];
    struct tr_rng r;
    tr_rng_seed(&r, seed, 5);
    for (int k = 0; k < N; k++) {
        a[k] = r.s[0] & 1;
        tr_rng_next(&r);
    }
    memset(C, 0, sizeof C);
    memset(B, 0, sizeof B);
    C[0] = B[0] = 1;
    int L = 0, m = 1;
    for (int n = 0; n < N; n++) {
        int d = a[n];
        for (int i = 1; i <= L; i++)
            d ^= C[i] & a[n - i];
        if (!d) {
            m++;
            continue;
        }
        memcpy(T, C, sizeof C);
        for (int i = 0; i + m <= N; i++)
            C[i + m] ^= B[i];
        if (2 * L <= n) {
            L = n + 1 - L;
            memcpy(B, T, sizeof T);
            m = 1;
        } else {
            m++;
        }
    }
    CHECK(L == 256);
    memset(p, 0, 4 * sizeof p[0]);
    for (int i = 1; i <= L; i++)
        if (C[i])
            p[(L - i) / 64] |= 1ull << ((L - i) % 64);
}

/* a = a * a mod P, bit by bit (coefficient arrays of 0/1). */
static void slow_sqr_mod(unsigned char a[256], const uint64_t p[4])
{
    unsigned char w[512] = { 0 };
    for (int i = 0; i < 256; i++)
        if (a[i])
            for (int j = 0; j < 256; j++)
                w[i + j] ^= a[j];
    for (int k = 511; k >= 256; k--)
        if (w[k]) {
            w[k] = 0;
            for (int i = 0; i < 256; i++)
                w[k - 256 + i] ^= (unsigned char)(p[i / 64] >> (i % 64) & 1);
        }
    memcpy(a, w, 256);
}

int main(void)
{
    /* The polynomial: re-derived from two seeds, and x^(2^128) mod P is the
     * coefficient vector of xoshiro256's jump() (bit b of JUMP[i] = x^(64i+b)). */
    uint64_t p[4];
    for (uint64_t seed = 1; seed <= 2; seed++) {
        derive_charpoly(seed * 977, p);
        CHECK(!memcmp(p, tr_rng_charpoly, sizeof p));
    }
    static const uint64_t JUMP[4] = { 0x180ec6d33cfd0aba, 0xd5a61266f0c9392c,
                                      0xa9582618e03fc9aa, 0x39abdc4529b1661c };
    unsigned char x[256] = { 0 };
    x[1] = 1;
    for (int i = 0; i < 128; i++)
        slow_sqr_mod(x, tr_rng_charpoly);
    for (int i = 0; i < 256; i++)
        CHECK(x[i] == (JUMP[i / 64] >> (i % 64) & 1));
    printf("charpoly: re-derived, x^(2^128) mod P = xoshiro256 JUMP\n");

    /* jump(n) == n steps. */
    uint64_t ns[] = { 0, 1, 2, 3, 63, 64, 255, 256, 257, 511, 512, 1000, 4097, 65536,
                      (1u << 20) + 7, 0, 0, 0, 0, 0, 0 };
    int nn = (int)(sizeof ns / sizeof ns[0]);
    struct tr_rng pick;
    tr_rng_seed(&pick, 2024, 9);
    for (int i = nn - 6; i < nn; i++)   /* random counts up to 2^21 */
        ns[i] = tr_rng_below(&pick, 1u << 21);
    int checked = 0;
    for (uint64_t seed = 0; seed < 4; seed++) {
        for (int i = 0; i < nn; i++) {
            struct tr_rng a, b;
            tr_rng_seed(&a, seed * 31 + 1, seed);
            b = a;
            for (uint64_t k = 0; k < ns[i]; k++)
                tr_rng_next(&a);
            tr_rng_jump(&b, ns[i]);
            if (!same(&a, &b)) {
                fprintf(stderr, "seed %llu: jump(%llu) differs from stepping\n",
                        (unsigned long long)seed, (unsigned long long)ns[i]);
                return 1;
            }
            CHECK(tr_rng_next(&a) == tr_rng_next(&b));
            checked++;
        }
    }
    printf("jump(n) == n steps: %d cases\n", checked);

    /* Composition for counts beyond stepping, including the top of the range:
     * jump(a) then jump(b) == jump(b) then jump(a) == jump(a + b). */
    uint64_t big[][2] = { { 1ull << 63, (1ull << 63) - 1 }, { 123456789012345ull, 987654321ull },
                          { 300, ~0ull - 300 }, { 1ull << 40, 1ull << 40 } };
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        struct tr_rng a, b, c;
        tr_rng_seed(&a, 7 + i, 1);
        b = c = a;
        tr_rng_jump(&a, big[i][0]);
        tr_rng_jump(&a, big[i][1]);
        tr_rng_jump(&b, big[i][1]);
        tr_rng_jump(&b, big[i][0]);
        tr_rng_jump(&c, big[i][0] + big[i][1]);
        CHECK(same(&a, &b) && same(&a, &c));
    }
    /* A jump is not the identity. */
    struct tr_rng a, b;
    tr_rng_seed(&a, 1, 1);
    b = a;
    tr_rng_jump(&b, 1ull << 50);
    CHECK(!same(&a, &b));
    printf("jumps compose up to 2^64 - 1\n");
    return 0;
}
