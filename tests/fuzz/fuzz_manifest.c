/* libFuzzer target: manifest.json through manifest_parse() (and, for small
 * inputs, manifest_read() on an in-memory file). Invariant: whatever parses
 * formats back to text that parses to the same manifest (counts, totals,
 * tokenizer, names), so a dataset's manifest survives a rewrite. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void same(const struct manifest *a, const struct manifest *b)
{
    FUZZ_ASSERT(a->n_shards == b->n_shards && a->n_inputs == b->n_inputs);
    FUZZ_ASSERT(a->n_skip_examples == b->n_skip_examples);
    FUZZ_ASSERT(a->token_width == b->token_width);
    FUZZ_ASSERT(!memcmp(a->total_tokens, b->total_tokens, sizeof(a->total_tokens)));
    FUZZ_ASSERT(!memcmp(a->total_docs, b->total_docs, sizeof(a->total_docs)));
    FUZZ_ASSERT(a->tokenizer.hash == b->tokenizer.hash);
    FUZZ_ASSERT(a->tokenizer.vocab_size == b->tokenizer.vocab_size);
    FUZZ_ASSERT(str_eq(a->tokenizer.file, b->tokenizer.file));
    FUZZ_ASSERT(str_eq(a->tokenizer.type, b->tokenizer.type));
    FUZZ_ASSERT(str_eq(a->command_line, b->command_line));
    for (size_t i = 0; i < a->n_shards; i++) {
        FUZZ_ASSERT(str_eq(a->shards[i].file, b->shards[i].file));
        FUZZ_ASSERT(a->shards[i].n_tokens == b->shards[i].n_tokens);
        FUZZ_ASSERT(a->shards[i].file_size == b->shards[i].file_size);
        FUZZ_ASSERT(a->shards[i].header_checksum == b->shards[i].header_checksum);
    }
    for (size_t i = 0; i < a->n_inputs; i++) {
        FUZZ_ASSERT(str_eq(a->inputs[i].name, b->inputs[i].name));
        FUZZ_ASSERT(a->inputs[i].n_skips == b->inputs[i].n_skips);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest *m = NULL;
    ingot_clear_err();
    int ret = manifest_parse("fuzz.json", (const char *)data, size, &m);
    FUZZ_ASSERT(ret <= 0 && (ret == 0) == (m != NULL));
    if (ret) {
        FUZZ_ASSERT(strstr(ingot_errmsg_for(ret), "fuzz.json") || ret == -ENOMEM);
    } else {
        char *text = NULL;
        size_t len = 0;
        FUZZ_ASSERT(manifest_format(m, &text, &len) == 0);
        struct manifest *again = NULL;
        FUZZ_ASSERT(manifest_parse("again.json", text, len, &again) == 0);
        same(m, again);
        manifest_free(again);
        free(text);
    }
    manifest_free(m);
    if (size <= 4096) {
        char path[64];
        int fd = fuzz_memfd(data, size, path);
        struct manifest *f = NULL;
        int fret = manifest_read(path, &f);
        FUZZ_ASSERT((fret == 0) == (ret == 0));
        manifest_free(f);
        close(fd);
    }
    return 0;
}
