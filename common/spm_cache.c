/* The per-thread word cache (see spm_cache.h). */
#include <stdlib.h>
#include <string.h>

#include "spm_cache.h"

int spe_cache_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                   float *c)
{
    const char *t = s->norm + off;
    if (m->p.model_type == SPE_BPE)
        return spe_bpe_word(m, s, t, off, n);
    return spe_unigram_word(m, s, t, off, n, c);
}

void spe_cache_free(struct spe_scratch *s)
{
    free(s->cache);
    free(s->arena);
    s->cache = NULL;
    s->arena = NULL;
}
