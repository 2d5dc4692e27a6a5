/* Ingot's encoder after a failed allocation: a scratch whose lattice could
 * not grow must stay usable (the next document encodes, into buffers of
 * the size it needs). The unigram lattice keeps its edges and their scores
 * in two arrays; the edges grew first and their capacity was recorded even
 * when the scores' realloc then failed, so the next long word wrote scores
 * past their allocation (a heap overflow after an out-of-memory error).
 * realloc is interposed here: it fails once, on the scores' array.
 * usage: test_spe_oom UNIGRAM.model */
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingot_err.h"
#include "spm_enc.h"
#include "spm_encode.h"

/* A sanitizer brings its own allocator, which this realloc would bypass. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SPE_OOM_SKIP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define SPE_OOM_SKIP 1
#endif
#endif

#ifndef SPE_OOM_SKIP
extern void *__libc_realloc(void *p, size_t n);
void *realloc(void *p, size_t n);

static const void *fail_ptr;   /* the next realloc of this pointer fails */

void *realloc(void *p, size_t n)
{
    if (p && p == fail_ptr) {
        fail_ptr = NULL;
        return NULL;
    }
    return __libc_realloc(p, n);
}

/* A word of n letters (no spaces: one word, one lattice). */
static char *word(size_t n)
{
    char *t = malloc(n + 1);
    if (!t)
        abort();
    for (size_t i = 0; i < n; i++)
        t[i] = (char)('a' + (i * 7) % 26);
    t[n] = '\0';
    return t;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_spe_oom UNIGRAM.model\n");
        return 2;
    }
    spe_model *m;
    spe_scratch *s, *fresh;
    uint32_t *ids = NULL, *ref = NULL;
    size_t cap = 0, ref_cap = 0, n_ids, n_ref;
    if (spe_load(argv[1], &m) || spe_scratch_new(false, &s) || spe_scratch_new(false, &fresh)) {
        fprintf(stderr, "test_spe_oom: %s\n", ingot_errmsg());
        return 1;
    }
    /* A word whose lattice has 64 < edges < 128: grown once past the
     * first 64 and no more. */
    char *mid = NULL;
    size_t mid_edges = 0;
    for (size_t n = 40; n < 128 && !mid; n++) {
        char *t = word(n);
        if (spe_encode(m, fresh, t, n, &ids, &cap, &n_ids)) {
            fprintf(stderr, "test_spe_oom: %s\n", ingot_errmsg());
            return 1;
        }
        if (fresh->n_edges > 80 && fresh->n_edges < 120) {
            mid = t;
            mid_edges = fresh->n_edges;
        } else {
            free(t);
        }
    }
    if (!mid) {
        fprintf(stderr, "test_spe_oom: no word of 80-120 lattice edges with this model\n");
        return 1;
    }
    /* The first document fails where the scores' array grows past 64. */
    char *big = word(300);
    if (spe_encode(m, s, "ab", 2, &ids, &cap, &n_ids) || !s->escore) {
        fprintf(stderr, "test_spe_oom: %s\n", ingot_errmsg());
        return 1;
    }
    fail_ptr = s->escore;
    int ret = spe_encode(m, s, big, strlen(big), &ids, &cap, &n_ids);
    ingot_clear_err();
    bool ok = ret != 0 && fail_ptr == NULL;
    printf("a document whose lattice cannot grow fails: %s (%d)\n", ok ? "yes" : "NO", ret);
    /* The next one encodes as on a fresh scratch, its scores in bounds. */
    if (spe_encode(m, s, mid, strlen(mid), &ids, &cap, &n_ids) ||
        spe_encode(m, fresh, mid, strlen(mid), &ref, &ref_cap, &n_ref)) {
        fprintf(stderr, "test_spe_oom: %s\n", ingot_errmsg());
        return 1;
    }
    size_t have = malloc_usable_size(s->escore) / sizeof(double);
    bool in_bounds = s->n_edges == mid_edges && have >= s->n_edges;
    bool same = n_ids == n_ref && memcmp(ids, ref, n_ids * sizeof(*ids)) == 0;
    printf("then a word of %zu lattice edges: scores array of %zu (%s), ids %s\n", s->n_edges,
           have, in_bounds ? "in bounds" : "OVERFLOWED", same ? "as a fresh scratch's" :
           "DIFFER");
    free(mid);
    free(big);
    free(ids);
    free(ref);
    spe_scratch_free(s);
    spe_scratch_free(fresh);
    spe_free(m);
    return ok && in_bounds && same ? 0 : 1;
}
#else
int main(void)
{
    printf("skip: built with a sanitizer\n");
    return 77;
}
#endif
