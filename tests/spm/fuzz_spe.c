/* Differential fuzz target: Ingot's encoder against libsentencepiece.
 * $SPE_FUZZ_MODELS is a ':'-separated list of .model files; an input's
 * first byte picks the model, the rest is the text. Ids must be equal with
 * the cache on (one scratch per model kept across inputs, so cached words
 * meet new neighbours and carried scores; every stage-2 unigram path
 * checked against the Viterbi) and off; a difference aborts. Built with
 * clang -fsanitize=fuzzer where available, and for CI with
 * tests/fuzz/fuzz_replay_main.c replaying tests/spm/fuzz_corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_encode.h"
#include "spm_shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_MODELS = 16 };
static ingot_spm *oracle[MAX_MODELS];
static spe_model *enc[MAX_MODELS];
static spe_scratch *cached[MAX_MODELS], *plain;   /* a cache per model */
static int n_models = -1;
static uint32_t *a, *b, *c;
static size_t ca, cb, cc;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_spe: %s: %s\n", what, ingot_errmsg());
    abort();
}

static void load_models(void)
{
    const char *env = getenv("SPE_FUZZ_MODELS");
    if (!env || !*env) {
        fprintf(stderr, "fuzz_spe: set SPE_FUZZ_MODELS=a.model:b.model\n");
        exit(2);
    }
    char *list = strdup(env), *save = NULL;
    n_models = 0;
    for (char *p = strtok_r(list, ":", &save); p && n_models < MAX_MODELS;
         p = strtok_r(NULL, ":", &save)) {
        if (ingot_spm_load(p, &oracle[n_models]) || spe_load(p, &enc[n_models]) ||
            spe_scratch_new(true, &cached[n_models]))
            die(p);
        /* Every stage-2 unigram hit is also checked against the Viterbi. */
        spe_scratch_verify(cached[n_models], true);
        n_models++;
    }
    free(list);
    if (!n_models || spe_scratch_new(false, &plain))
        die("setup");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (n_models < 0)
        load_models();
    if (size == 0)
        return 0;
    int k = data[0] % n_models;
    const char *text = (const char *)data + 1;
    size_t len = size - 1, na, nb, nc;
    if (ingot_spm_encode(oracle[k], text, len, &a, &ca, &na) ||
        spe_encode(enc[k], cached[k], text, len, &b, &cb, &nb) ||
        spe_encode(enc[k], plain, text, len, &c, &cc, &nc))
        die("encode");
    if (na != nb || na != nc || memcmp(a, b, na * 4) || memcmp(a, c, na * 4)) {
        fprintf(stderr, "fuzz_spe: MISMATCH with model %d (%zu/%zu/%zu ids)\n", k, na, nb, nc);
        abort();
    }
    struct spe_stats st;
    spe_scratch_stats(cached[k], &st);
    if (st.bound_fails) {
        fprintf(stderr, "fuzz_spe: model %d: the stage-2 path disagreed with the Viterbi\n", k);
        abort();
    }
    return 0;
}
