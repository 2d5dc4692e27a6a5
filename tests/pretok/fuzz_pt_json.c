/* libFuzzer target for the record parsers: pt_json_extract on three paths
 * (a key, a dotted path, alternatives with array indices) and the UTF-8
 * repair, with invariants checked. Built as a fuzzer where the
 * compiler supports -fsanitize=fuzzer (clang); elsewhere pt_fuzz_main.c runs
 * it over the committed corpus as a regression test. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pt_json.h"
#include "pt_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = { "text", "meta.text", "x,messages.1.content,a.0.0" };
    struct pt_buf out = { 0 };
    for (int k = 0; k < 3; k++) {
        struct pt_json_path path;
        if (pt_json_path_init(&path, paths[k]))
            abort();
        struct pt_json_result res;
        if (pt_json_extract((const char *)data, size, &path, &out, &res))
            abort();
        /* decoding never grows the text: every escape is at least as long
         * as its UTF-8 */
        if (res.status == PT_JSON_OK && out.len > size)
            abort();
        if (res.status == PT_JSON_MALFORMED && (!res.err_what || res.err_offset > size))
            abort();
        pt_json_path_free(&path);
    }
    char *fixed = malloc(3 * size + 1);
    if (!fixed)
        abort();
    size_t n_bad, n = pt_utf8_repair((const char *)data, size, fixed, &n_bad);
    if (!pt_utf8_valid(fixed, n, NULL))
        abort();
    if ((n_bad == 0) != pt_utf8_valid((const char *)data, size, NULL))
        abort();
    if (n_bad == 0 && (n != size || memcmp(fixed, data, size)))
        abort();
    free(fixed);
    pt_buf_free(&out);
    return 0;
}
