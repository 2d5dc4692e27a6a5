/* FLOP count and peak table for MFU. */
#include <string.h>

#include "tr_cuda_perf.h"
#include "tr_llama_params.h"

double tr_flops_per_token(const struct tr_config *c)
{
    if (c->arch == TR_ARCH_LLAMA) {
        struct tr_llama_config l;
        tr_config_to_llama(c, &l);
        return tr_llama_flops_per_token(&l);
    }
    double n = (double)tr_param_count(c) - (double)c->seq_len * c->n_embd;
    return 6.0 * n + 12.0 * c->n_layer * (double)c->seq_len * c->n_embd;
}

struct peak {
    const char *match, *also;   /* substrings of the device name (also may be NULL) */
    double bf16, fp32;
};

/* First match wins: the specific variants before the generic name. */
static const struct peak peaks[] = {
    { "H100", "PCIe", 756.0, 51.2 },
    { "H100", "NVL", 835.0, 60.0 },
    { "H200", NULL, 989.4, 66.9 },     /* GH200 included */
    { "H100", NULL, 989.4, 66.9 },     /* SXM */
    { "H800", NULL, 989.4, 66.9 },
    { "A100", NULL, 312.0, 19.5 },
    { "A800", NULL, 312.0, 19.5 },
};

double tr_peak_tflops(const char *name, bool bf16)
{
    for (size_t i = 0; i < sizeof(peaks) / sizeof(peaks[0]); i++)
        if (strstr(name, peaks[i].match) && (!peaks[i].also || strstr(name, peaks[i].also)))
            return bf16 ? peaks[i].bf16 : peaks[i].fp32;
    return 0.0;
}
