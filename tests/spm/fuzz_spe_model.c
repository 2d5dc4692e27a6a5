/* Fuzz target for the .model reader (spm_model.c) and the encoder's load
 * checks: any bytes must load or be refused with a message, never crash;
 * a model that loads must encode a fixed text without crashing. */
#include <stdint.h>
#include <stdlib.h>

#include "spm_encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spe_model *m;
    if (spe_load_mem(data, size, "fuzz", &m))
        return 0;
    static const char text[] = "  Hello\tw\xc3\xb6rld \xe2\x96\x81 \xff 42 <s> \xe6\x97\xa5\xe6\x9c\xac  ";
    spe_scratch *s;
    uint32_t *ids = NULL;
    size_t cap = 0, n;
    if (!spe_scratch_new(true, &s)) {
        spe_encode(m, s, text, sizeof(text) - 1, &ids, &cap, &n);
        spe_encode(m, s, text, sizeof(text) - 1, &ids, &cap, &n);
        spe_scratch_free(s);
    }
    free(ids);
    spe_free(m);
    return 0;
}
