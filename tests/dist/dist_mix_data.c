/* Two small datasets for a data-parallel mixture run (test_dist_train.py):
 * DIR/web and DIR/code, each a Markov "language" of its own over 256 ids
 * (one tokenizer), with train and val splits.
 * usage: dist_mix_data DIR */
#include "../train/tt_util.h"

enum { VOCAB = 256, N_TRAIN = 6000, N_VAL = 800 };

static void write_one(const char *dir, uint64_t seed)
{
    uint32_t *ids = malloc((N_TRAIN + N_VAL) * sizeof(uint32_t));
    CHECK(ids);
    tt_markov_tokens(ids, N_TRAIN + N_VAL, VOCAB, seed);
    struct tt_dataset d = { .dir = dir, .vocab = VOCAB, .tokenizer_hash = 5, .bos_id = -1,
                            .train = ids, .n_train = N_TRAIN, .val = ids + N_TRAIN,
                            .n_val = N_VAL, .doc_len = 100, .shard_docs = 20 };
    CHECK_OK(tt_write_dataset(&d));
    free(ids);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    char *web = tt_fmt("%s/web", argv[1]), *code = tt_fmt("%s/code", argv[1]);
    write_one(web, 1);
    write_one(code, 2);
    free(web);
    free(code);
    return 0;
}
