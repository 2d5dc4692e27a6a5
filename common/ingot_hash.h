/* XXH3-64 (seed 0), the checksum of every Ingot file and the tokenizer
 * identity. xxhash is compiled inline into common/ (no shared library). */
#ifndef INGOT_HASH_H
#define INGOT_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One-shot hash of buf[0, len). */
uint64_t ingot_xxh3(const void *buf, size_t len);

/* Streaming hash: same result as ingot_xxh3() over the concatenation of all
 * updates. ingot_xxh3_new() returns NULL when out of memory; free accepts
 * NULL. */
typedef struct ingot_xxh3_stream ingot_xxh3_stream;
ingot_xxh3_stream *ingot_xxh3_new(void);
void ingot_xxh3_update(ingot_xxh3_stream *s, const void *buf, size_t len);
uint64_t ingot_xxh3_digest(const ingot_xxh3_stream *s);
void ingot_xxh3_reset(ingot_xxh3_stream *s);
void ingot_xxh3_free(ingot_xxh3_stream *s);

#ifdef __cplusplus
}
#endif
#endif
