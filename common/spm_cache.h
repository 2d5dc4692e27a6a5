/* The encoder's per-thread word cache (fast-encoder.md §6). A word is the
 * text between two exact cuts. BPE words cache their pieces; unigram words
 * cache their lattice (every piece and unknown edge) and replay the Viterbi
 * from the float score carried in, so a hit gives the very ids a miss
 * would (the carried score decides ties, E1 of the study). */
#ifndef INGOT_SPM_CACHE_H
#define INGOT_SPM_CACHE_H

#include "spm_enc.h"

/* Encode the word s->norm[off, off + n) into s->toks, through the cache
 * when it is on. Returns 0 or -ENOMEM. */
int spe_cache_word(const struct spe_model *m, struct spe_scratch *s, uint32_t off, uint32_t n,
                   float *c);
void spe_cache_free(struct spe_scratch *s);

#endif
