/* XXH3 wrappers. XXH_INLINE_ALL makes every xxhash function static in this
 * translation unit, so nothing links against libxxhash.so. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <stdlib.h>

#include "ingot_hash.h"

struct ingot_xxh3_stream {
    XXH3_state_t *st;
};

uint64_t ingot_xxh3(const void *buf, size_t len)
{
    return XXH3_64bits(buf, len);
}

ingot_xxh3_stream *ingot_xxh3_new(void)
{
    ingot_xxh3_stream *s = malloc(sizeof(*s));
    if (!s)
        return NULL;
    s->st = XXH3_createState();
    if (!s->st) {
        free(s);
        return NULL;
    }
    XXH3_64bits_reset(s->st);
    return s;
}

void ingot_xxh3_update(ingot_xxh3_stream *s, const void *buf, size_t len)
{
    if (len)
        XXH3_64bits_update(s->st, buf, len);
}

uint64_t ingot_xxh3_digest(const ingot_xxh3_stream *s)
{
    return XXH3_64bits_digest(s->st);
}

void ingot_xxh3_reset(ingot_xxh3_stream *s)
{
    XXH3_64bits_reset(s->st);
}

void ingot_xxh3_free(ingot_xxh3_stream *s)
{
    if (!s)
        return;
    XXH3_freeState(s->st);
    free(s);
}
