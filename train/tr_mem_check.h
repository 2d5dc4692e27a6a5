/* Host memory a CPU model is about to fill, against what the machine has
 * left (mem_avail.h): refused with the sizes before anything is touched,
 * where the kernel would otherwise kill the run part-way (exit 137, no
 * message), minutes into its first step. */
#ifndef INGOT_TR_MEM_CHECK_H
#define INGOT_TR_MEM_CHECK_H

#include <stdint.h>

/* 0 when need bytes fit in what the machine has left, else -ENOMEM naming
 * what (e.g. "activations of --batch 4 x 1024 tokens"), both sizes and the
 * bound, with advice (what to lower). In a test build
 * (-Dtest_hooks=true) INGOT_TRAIN_TEST_MEM_AVAILABLE (bytes) stands for
 * the machine's. */
int tr_mem_check(uint64_t need, const char *what, const char *advice);
/* tr_mem_check() of a CPU model's activations (model: its name in
 * messages), B sequences of T tokens. */
int tr_mem_check_acts(uint64_t bytes, const char *model, int B, int T);

#endif
