/* --device dispatch. Adding a back end: one table line (under its build
 * flag) and its tr_backend_ops definition in a file of its own. */
#include <string.h>

#include "backend.h"
#include "ingot_config.h"
#include "ingot_err.h"
#include "term_text.h"

/* In order of preference for --device auto. */
static const struct tr_backend_ops *const backends[] = {
#if INGOT_HAVE_CUDA
    &tr_backend_cuda,
#endif
    &tr_backend_cpu,
};
enum { N_BACKENDS = sizeof(backends) / sizeof(backends[0]) };

/* Back ends Ingot knows of, whether or not this build has them. */
static const char *const known[] = { "cpu", "cuda" };

const char *tr_backend_list(void)
{
    static char buf[64];
    if (!buf[0])
        for (int i = 0; i < N_BACKENDS; i++) {
            if (i)
                strcat(buf, ", ");
            strcat(buf, backends[i]->name);
        }
    return buf;
}

int tr_backend_select(const char *name, const struct tr_backend_ops **out)
{
    char why[256];
    *out = NULL;
    if (!strcmp(name, "auto")) {
        for (int i = 0; i < N_BACKENDS; i++) {
            why[0] = 0;
            if (backends[i]->available(why, sizeof(why))) {
                *out = backends[i];
                return 0;
            }
        }
        return ingot_fail(INGOT_E_USAGE, "--device auto: no back end is available");
    }
    for (int i = 0; i < N_BACKENDS; i++)
        if (!strcmp(name, backends[i]->name)) {
            why[0] = 0;
            if (!backends[i]->available(why, sizeof(why)))
                return ingot_fail(INGOT_E_NOGPU, "--device %s: not available here: %s",
                                  TERM_SHOW(name), why[0] ? why : "unknown reason");
            *out = backends[i];
            return 0;
        }
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(name, known[i]))
            return ingot_fail(INGOT_E_USAGE, "--device %s: this build has no %s back end (it has: "
                              "%s); rebuild on a machine with nvcc and CUDA >= 12 "
                              "(meson setup -Dcuda=enabled)", TERM_SHOW(name), TERM_SHOW(name),
                              tr_backend_list());
    return ingot_fail(INGOT_E_USAGE, "--device %s: unknown device; use auto, cpu or cuda",
                      TERM_SHOW(name));
}
