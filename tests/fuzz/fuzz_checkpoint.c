/* libFuzzer target: a checkpoint file through tr_ckpt_read_state() and
 * tr_ckpt_read_tensors() (train/checkpoint.c reads from a path, so the input
 * goes to an in-memory file). Each input is tried as given and again with
 * the magic and both checksums made right, so that mutations reach the
 * model-configuration and offset checks behind them. Invariant: a state
 * that reads back describes tensors that fit the file, and reading them
 * succeeds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "fuzz_util.h"
#include "ingot_err.h"
#include "ingot_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void try_bytes(const uint8_t *b, size_t len)
{
    char path[64];
    int fd = fuzz_memfd(b, len, path);
    struct tr_ckpt_state st;
    ingot_clear_err();
    int ret = tr_ckpt_read_state(path, &st);
    FUZZ_ASSERT(ret <= 0);
    if (!ret) {
        size_t n = tr_param_count(&st.cfg);
        FUZZ_ASSERT(n <= len / (3 * sizeof(float)));
        float *p = malloc(n * sizeof(float) + 1), *m = malloc(n * sizeof(float) + 1),
              *v = malloc(n * sizeof(float) + 1);
        FUZZ_ASSERT(p && m && v);
        FUZZ_ASSERT(tr_ckpt_read_tensors(path, n, p, m, v) == 0);
        free(p);
        free(m);
        free(v);
    }
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_bytes(data, size);
    if (size < TR_CKPT_HEADER_SIZE)
        return 0;
    uint8_t *b = malloc(size);
    FUZZ_ASSERT(b);
    memcpy(b, data, size);
    struct tr_ckpt_header h;
    memcpy(&h, b, sizeof(h));
    memcpy(h.magic, TR_CKPT_MAGIC, 8);
    h.payload_checksum = ingot_xxh3(b + TR_CKPT_HEADER_SIZE, size - TR_CKPT_HEADER_SIZE);
    h.header_checksum = ingot_xxh3(&h, offsetof(struct tr_ckpt_header, header_checksum));
    memcpy(b, &h, sizeof(h));
    try_bytes(b, size);
    free(b);
    return 0;
}
