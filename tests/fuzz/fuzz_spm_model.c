/* libFuzzer target: a SentencePiece .model through the public loader
 * (ingot_spm_load(), which reads a path, so the input goes to an in-memory
 * file); what loads is then used the way pretok and ingot-dump use it:
 * encode a fixed text, decode the ids, name the pieces. Invariants: every
 * id is below the vocabulary size, special ids are -1 or inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "spm_shim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use(const ingot_spm *spm)
{
    static const char text[] = "Hello world, ünïcödé 12345 \t\n<unk> ▁x";
    const uint32_t vocab = ingot_spm_vocab_size(spm);
    FUZZ_ASSERT(vocab > 0);
    const int32_t sp[4] = { ingot_spm_bos_id(spm), ingot_spm_eos_id(spm), ingot_spm_pad_id(spm),
                            ingot_spm_unk_id(spm) };
    for (int i = 0; i < 4; i++)
        FUZZ_ASSERT(sp[i] >= -1 && (sp[i] < 0 || (uint32_t)sp[i] < vocab));
    uint32_t *ids = NULL;
    size_t cap = 0, n = 0;
    if (ingot_spm_encode(spm, text, sizeof(text) - 1, &ids, &cap, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(ids[i] < vocab);
        char *out = NULL;
        size_t len = 0;
        if (ingot_spm_decode(spm, ids, n, &out, &len) == 0)
            free(out);
    }
    free(ids);
    for (uint32_t id = 0; id < vocab && id < 64; id++)
        (void)ingot_spm_id_to_piece(spm, id);
    FUZZ_ASSERT(ingot_spm_id_to_piece(spm, vocab) == NULL);
    (void)ingot_spm_model_type(spm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    ingot_spm *spm = NULL;
    ingot_clear_err();
    int ret = ingot_spm_load(path, &spm);
    FUZZ_ASSERT(ret <= 0 && (ret == 0) == (spm != NULL));
    if (!ret)
        use(spm);
    ingot_spm_free(spm);
    close(fd);
    return 0;
}
