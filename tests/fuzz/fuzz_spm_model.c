/* libFuzzer target: a SentencePiece .model through both readers Ingot has:
 * Ingot's own ModelProto parser on the bytes (spe_proto_parse()), and the
 * public loader with its model check (ingot_spm_load(), which reads a path,
 * so the input goes to an in-memory file); what loads is then used the way
 * pretok and ingot-dump use it: encode a fixed text, decode the ids, name
 * the pieces. Invariants: every piece lies inside the parsed bytes, every
 * id is below the vocabulary size, special ids are -1 or inside it, and
 * when both readers accept a model they agree on its vocabulary size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "ingot_err.h"
#include "spm_model.h"
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

/* The own parser; its piece count, or -1 when it refuses the bytes. */
static int64_t parse_proto(const uint8_t *data, size_t size)
{
    struct spe_proto p;
    memset(&p, 0, sizeof(p));
    int ret = spe_proto_parse(data, size, "fuzz.model", &p);
    FUZZ_ASSERT(ret <= 0);
    int64_t n = -1;
    if (!ret) {
        n = p.n_pieces;
        for (uint32_t i = 0; i < p.n_pieces; i++) {
            const struct spe_piece *q = &p.pieces[i];
            FUZZ_ASSERT(!q->len || ((const unsigned char *)q->s >= p.blob &&
                                    (const unsigned char *)q->s + q->len <= p.blob + p.blob_len));
        }
        FUZZ_ASSERT(!p.charsmap || p.charsmap + p.charsmap_len <= p.blob + p.blob_len);
    }
    spe_proto_free(&p);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t n_own = parse_proto(data, size);
    char path[64];
    int fd = fuzz_memfd(data, size, path);
    ingot_spm *spm = NULL;
    ingot_clear_err();
    int ret = ingot_spm_load(path, &spm);
    FUZZ_ASSERT(ret <= 0 && (ret == 0) == (spm != NULL));
    if (!ret) {
        use(spm);
        FUZZ_ASSERT(n_own < 0 || (uint64_t)n_own == ingot_spm_vocab_size(spm));
    }
    ingot_spm_free(spm);
    close(fd);
    return 0;
}
