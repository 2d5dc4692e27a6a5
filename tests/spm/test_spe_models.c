/* One encoder scratch serving several models in turn (spm_cache.c: "entries
 * are per model"): the word cache was keyed by the model's address only, so
 * a model freed and another loaded at the same address (malloc hands the
 * freed block back) found the first one's cached words: another model's
 * ids, or unigram values read as BPE pieces. The ids must equal a fresh
 * scratch's for every model, whatever their addresses, and after the
 * scratch's buffers were trimmed (spe_scratch_trim).
 * usage: test_spe_models A.model B.model */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_encode.h"

/* Words that repeat, so that the cache stores them (second sighting) and
 * then serves them; other words for each pair of loads, so that the second
 * model of a pair meets the words the first one stored. */
static const char *const texts[2] = {
    "the cat and the dog and the cat and the bird and the dog and the cat sat on the mat",
    "quick brown foxes jump over lazy dogs while quick brown foxes jump over lazy dogs",
};

static int encode(const spe_model *m, spe_scratch *s, const char *text, uint32_t **ids,
                  size_t *cap, size_t *n)
{
    int ret = 0;
    for (int r = 0; r < 3 && !ret; r++)   /* stored at the second pass, hit at the third */
        ret = spe_encode(m, s, text, strlen(text), ids, cap, n);
    if (ret)
        fprintf(stderr, "test_spe_models: %s\n", ingot_errmsg());
    return ret;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_spe_models A.model B.model\n");
        return 2;
    }
    spe_scratch *kept;
    uint32_t *ids = NULL, *ref = NULL;
    size_t cap = 0, ref_cap = 0, n = 0, n_ref = 0;
    if (spe_scratch_new(true, &kept)) {
        fprintf(stderr, "test_spe_models: %s\n", ingot_errmsg());
        return 1;
    }
    int fails = 0, reused = 0;
    const void *prev = NULL;
    /* A, B, A, B: each loaded after the other was freed (B's turns meet
     * the words A's stored). */
    for (int i = 0; i < 4; i++) {
        const char *path = argv[1 + i % 2];
        spe_model *m;
        spe_scratch *fresh;
        if (spe_load(path, &m) || spe_scratch_new(true, &fresh)) {
            fprintf(stderr, "test_spe_models: %s\n", ingot_errmsg());
            return 1;
        }
        reused += (const void *)m == prev;
        prev = m;
        if (encode(m, kept, texts[i / 2], &ids, &cap, &n) ||
            encode(m, fresh, texts[i / 2], &ref, &ref_cap, &n_ref))
            return 1;
        bool same = n == n_ref && memcmp(ids, ref, n * sizeof(*ids)) == 0;
        struct spe_stats st;
        spe_scratch_stats(kept, &st);
        printf("%s (model at %p): %zu ids, %s a fresh scratch's (kept scratch: %llu cache hits, "
               "%llu resets)\n", path, (void *)m, n, same ? "equal to" : "DIFFERENT from",
               (unsigned long long)st.cache_hits, (unsigned long long)st.cache_resets);
        fails += !same;
        /* spe_scratch_trim() with nothing kept frees every per-document
         * buffer (pretok does it after a huge document): the next
         * document grows them again and gets the same ids */
        spe_scratch_trim(kept, 0);
        if (encode(m, kept, texts[i / 2], &ids, &cap, &n))
            return 1;
        if (n != n_ref || memcmp(ids, ref, n * sizeof(*ids)) != 0) {
            printf("%s: ids after spe_scratch_trim DIFFERENT\n", path);
            fails++;
        }
        spe_scratch_free(fresh);
        spe_free(m);
    }
    printf("%d of 3 loads at the address of the model freed before\n", reused);
    free(ids);
    free(ref);
    spe_scratch_free(kept);
    spe_scratch_trim(NULL, 0);
    return fails ? 1 : 0;
}
