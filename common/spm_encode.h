/* Ingot's own SentencePiece encoder: the ids libsentencepiece 0.1.97 gives
 * (unigram and BPE, every normalization spm_train ships, byte fallback,
 * user-defined symbols, the whitespace options), without C++ or protobuf.
 * docs/pretok.md ("The encoder") says how it stays exact.
 *
 * The model is immutable after spe_load() and may be shared by threads;
 * each thread encodes with its own spe_scratch. Output does not depend on
 * the scratch's history (its cache is exact). */
#ifndef INGOT_SPM_ENCODE_H
#define INGOT_SPM_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spe_model spe_model;
typedef struct spe_scratch spe_scratch;

/* Load a .model file. Returns 0; -ENOTSUP for a valid model this encoder
 * does not handle (WORD/CHAR models, BPE with UNUSED pieces, reserved
 * pieces that shadow text: the message says which, and the caller should
 * use libsentencepiece); INGOT_E_TOKENIZER for a malformed model; -errno
 * or -ENOMEM. */
int spe_load(const char *path, spe_model **out);
/* The same from bytes in memory; name is used in messages, through
 * term_text() (spe_load's path too). */
int spe_load_mem(const void *buf, size_t len, const char *name, spe_model **out);
void spe_free(spe_model *m);   /* accepts NULL */
/* What libsentencepiece takes without complaint and then fails on, checked
 * before it sees the bytes (spm_shim.cc): a protobuf Ingot's reader
 * refuses, a piece past SPE_MAX_PIECE_BYTES (its trie builder recurses per
 * byte), a damaged precompiled charsmap, the normalizer's or the
 * denormalizer's (read unchecked while normalizing or decoding), more
 * charsmap keys or user-defined symbols prefixing one text than the
 * library's fixed result arrays hold (32, 64).
 * 0, INGOT_E_TOKENIZER naming the model (through term_text) and the
 * fault, or -ENOMEM. Whatever the model type: WORD and CHAR too. */
int spe_model_check(const void *buf, size_t len, const char *name);

uint32_t spe_vocab_size(const spe_model *m);
/* Seconds spe_load took (file read, parse, checks, tries, pair table) and,
 * of those, building the shared word table; for start-up reports. */
void spe_load_times(const spe_model *m, double *load_s, double *shared_s);
/* XXH3-64 of the model's bytes (the same as ingot_spm_model_hash). */
uint64_t spe_model_hash(const spe_model *m);
/* "unigram" or "bpe", and the cut rule chosen at load ("ws", "ws-run",
 * "suffix", "suffix-run" or "none"), for reports. */
const char *spe_model_kind(const spe_model *m);
const char *spe_cut_name(const spe_model *m);

/* Per-thread scratch (buffers and the word cache). cache_on false turns
 * the cache off (for tests: output must not change). NULL on -ENOMEM. */
int spe_scratch_new(bool cache_on, spe_scratch **out);
void spe_scratch_free(spe_scratch *s);   /* accepts NULL */
/* Free the per-document buffers larger than keep bytes (the word cache
 * stays): after a huge document, so that a thread does not hold what it
 * needed for the rest of its life. Accepts NULL. */
void spe_scratch_trim(spe_scratch *s, size_t keep);

/* Counters of one scratch since it was made. */
struct spe_stats {
    uint64_t docs, bytes_in, bytes_norm, words, cache_hits, cache_resets;
    /* unigram hits: the cached path taken (stage 2), or the Viterbi replayed
     * over the cached lattice (stage 1: the float score carried in is too
     * large to prove the path, or the word has a tie) */
    uint64_t path_hits, replays;
    /* hits served by the model's shared table of whole-word pieces
     * (counted in cache_hits too) */
    uint64_t shared_hits;
    /* with spe_scratch_verify: words whose stage-2 path was checked against
     * the Viterbi, and how many disagreed (a bug if ever nonzero; the
     * Viterbi's ids are used then) */
    uint64_t bound_checks, bound_fails;
    double sec_norm, sec_model;   /* only when timing was asked for */
};
void spe_scratch_stats(const spe_scratch *s, struct spe_stats *out);
/* Time normalization and the model separately (two clock reads per
 * document; off by default). */
void spe_scratch_time(spe_scratch *s, bool on);

/* Check every stage-2 cache hit against the Viterbi (tests; slower). */
void spe_scratch_verify(spe_scratch *s, bool on);

/* Encode text[0, len) into ids, as libsentencepiece's Encode(text, &ids).
 * *ids is a growable buffer owned by the caller (realloc'd, free() it),
 * *cap its capacity in elements; *n_ids is set. Returns 0 or -ENOMEM. */
int spe_encode(const spe_model *m, spe_scratch *s, const char *text, size_t len, uint32_t **ids,
               size_t *cap, size_t *n_ids);

#ifdef __cplusplus
}
#endif
#endif
